"""Rule biomarkers_null: the ranking's evidence chain on the data and on joint permutations of the outcomes."""
import time

import anndata as ad

from trialomics import runlog, tables
from trialomics.calibration import calibrate, chain_block, outcome_table
from trialomics.survival import baseline_matrix

log = runlog.start(snakemake)
params = snakemake.params
labels = tables.read_tsv(snakemake.input.labels)
outcomes = outcome_table(labels, params.endpoints)
blocks = [chain_block(block, baseline_matrix(ad.read_h5ad(path), block), outcomes.index,
                      max_missing=params.max_missing, min_altered=params.min_altered,
                      min_altered_fraction=params.min_altered_fraction, top_variance=params.top_variance)
          for block, path in zip(params.blocks, snakemake.input.blocks)]
for block in blocks:
    log.info("%s: %d features in the chain, %d patients with labels", block.name, block.features.size,
             block.rows.size)
start = time.monotonic()
table, null_rates = calibrate(blocks, outcomes, params.endpoints, params.primary_endpoint,
                              n_permutations=params.permutations, seed=params.seed, strong_p=params.strong_p,
                              supported_q=params.supported_q)
log.info("%d joint permutations of %d patients' outcomes (seed %d) in %.1f s", params.permutations,
         len(outcomes), params.seed, time.monotonic() - start)
for endpoint in params.endpoints:
    rows = table[table["endpoint"] == endpoint]
    if len(rows):
        best = rows.loc[rows["calibrated_p"].idxmin()]
        log.info("%s: smallest calibrated p %.3g (%s %s, z %.2f)", endpoint, best["calibrated_p"],
                 best["modality"], best["feature"], best["z"])
for row in null_rates.itertuples():
    log.info("null rate of %s: %.3f (%d of %d permutations)", row.tier, row.null_rate, row.runs_reaching,
             row.n_permutations)
tables.write_tsv(table, snakemake.output.calibration)
tables.write_tsv(null_rates, snakemake.output.null_rates)

"""Rule biomarkers_null: the ranking's evidence chain on the data and on joint permutations of the outcomes."""
import time

import anndata as ad

from trialomics import runlog, tables
from trialomics.batch import patient_batches
from trialomics.calibration import calibrate, chain_adjustments, chain_block, outcome_table
from trialomics.readers import read_patients
from trialomics.survival import baseline_matrix, patient_annotations

log = runlog.start(snakemake)
params = snakemake.params
labels = tables.read_tsv(snakemake.input.labels)
outcomes = outcome_table(labels, params.endpoints)
adatas = {block: ad.read_h5ad(path) for block, path in zip(params.blocks, snakemake.input.blocks)}
blocks = [chain_block(block, baseline_matrix(adata, block), outcomes.index,
                      max_missing=params.max_missing, min_altered=params.min_altered,
                      min_altered_fraction=params.min_altered_fraction, top_variance=params.top_variance)
          for block, adata in adatas.items()]
for block in blocks:
    log.info("%s: %d features in the chain, %d patients with labels", block.name, block.features.size,
             block.rows.size)
# The adjustment variables of the Cox screens and the models (survival.covariates, models.covariates, the
# batch per models.batch_covariate) stay with the outcome; the features are residualised on them.
batch_table = tables.read_tsv(snakemake.input.batch[0]) if snakemake.input.batch else None
adjustments, batch_notes = chain_adjustments(
    patient_annotations(labels, read_patients(snakemake.input.patients)), outcomes.index, params.endpoints,
    list(adatas), survival_covariates=params.survival_covariates, model_covariates=params.model_covariates,
    batches={block: patient_batches(adata) for block, adata in adatas.items()} if batch_table is not None else None,
    batch_table=batch_table, batch_mode=params.batch_covariate)
for note in batch_notes:
    log.info(note)
for endpoint in params.endpoints:
    adjusted = [f"{block} for {';'.join(adjustments[block, endpoint].names)}" for block in adatas
                if (block, endpoint) in adjustments]
    log.info("%s: %s", endpoint, "adjusted: " + ", ".join(adjusted) if adjusted else "no adjustment variables")
start = time.monotonic()
table, null_rates = calibrate(blocks, outcomes, params.endpoints, params.primary_endpoint,
                              n_permutations=params.permutations, seed=params.seed, strong_p=params.strong_p,
                              supported_q=params.supported_q, adjustments=adjustments)
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
runlog.done(log)

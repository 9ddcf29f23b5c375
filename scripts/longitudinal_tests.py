"""Rule longitudinal_tests: the change of one block compared between the groups of each response contrast."""
import anndata as ad

from trialomics import longitudinal, runlog, tables
from trialomics.differential import contrasts_from_config
from trialomics.readers import read_patients

log = runlog.start(snakemake)
params = snakemake.params
block = ad.read_h5ad(snakemake.input.adata)
contrasts = contrasts_from_config(params.contrasts)
results = longitudinal.change_tests(block, tables.read_tsv(snakemake.input.labels),
                                    read_patients(snakemake.input.patients), contrasts,
                                    min_per_level=params.min_patients_per_level)
for contrast, path in zip(contrasts, snakemake.output.tables):
    table = results[contrast.id]
    log.info("%s, %s: %d features tested, %d with padj < 0.05; top %s (p %.3g)", snakemake.wildcards.block,
             contrast.describe(), int(table["padj"].notna().sum()), int((table["padj"] < 0.05).sum()),
             table["feature"].iloc[0], table["pvalue"].iloc[0])
    tables.write_tsv(table, path)
runlog.done(log)

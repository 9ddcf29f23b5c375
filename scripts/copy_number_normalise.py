"""Rule copy_number_normalise: gene-level values -> continuous matrix and -2..2 calls."""
from trialomics import cohort, copy_number, ingest, readers, runlog, tables

log = runlog.start(snakemake)
settings = dict(snakemake.params.settings)
samples = cohort.sample_metadata_frame(snakemake.params.samples)
values = ingest.collect_matrix_samples(snakemake.params.sources, readers.read_feature_matrix)
adata = copy_number.normalise_copy_number(
    values, samples, scale=settings.pop("values"), **settings
)
log.info("%d samples x %d genes", adata.n_obs, adata.n_vars)
tables.write_tsv(copy_number.calls_table(adata), snakemake.output.calls)
tables.write_h5ad(adata, snakemake.output.adata)
runlog.done(log)

"""Rule mutations_matrix: non-silent alteration matrix and tumour mutational burden."""
from trialomics import cohort, ingest, mutations, runlog, tables

log = runlog.start(snakemake)
samples = cohort.sample_metadata_frame(snakemake.params.samples)
mafs = {sample: tables.read_tsv(ingest.sample_file(snakemake.input.mafs, sample)) for sample in samples.index}
classes = list(snakemake.params.variant_classes)
floors = {"min_vaf": snakemake.params.min_vaf, "min_depth": snakemake.params.min_depth}
tmb = mutations.tumour_mutational_burden(mafs, samples, snakemake.params.capture_size_mb, classes, **floors)
adata = mutations.alteration_matrix(mafs, samples, snakemake.params.capture_size_mb, classes, **floors)
log.info("%d samples, %d altered genes; median TMB %.2f/Mb", adata.n_obs, adata.n_vars, tmb["tmb_per_mb"].median())
tables.write_tsv(tmb, snakemake.output.tmb)
tables.write_tsv(mutations.alteration_long_table(mafs, samples, classes, **floors), snakemake.output.alterations)
tables.write_h5ad(adata, snakemake.output.adata)
runlog.done(log)

"""Rule rna_normalise: cohort count matrix, low-count filter, DESeq2 size factors and VST."""
from trialomics import cohort, ingest, rna, runlog, tables

log = runlog.start(snakemake)
samples = cohort.sample_metadata_frame(snakemake.params.samples)
counts = rna.build_count_matrix(
    {sample: ingest.read_sample_counts(ingest.sample_file(snakemake.input.counts, sample), sample)
     for sample in samples.index}
)
adata = rna.normalise_rna(
    counts, samples, min_count=snakemake.params.min_count, min_samples=snakemake.params.min_samples,
    n_cpus=snakemake.threads,
)
log.info("%d of %d genes kept after the low-count filter", adata.n_vars, counts.shape[0])
tables.write_tsv(counts.reset_index(), snakemake.output.counts)
tables.write_tsv(
    rna.low_count_filter_table(counts, snakemake.params.min_count, snakemake.params.min_samples),
    snakemake.output.filtering,
)
tables.write_tsv(rna.size_factor_table(adata), snakemake.output.size_factors)
tables.write_h5ad(adata, snakemake.output.adata)
runlog.done(log)

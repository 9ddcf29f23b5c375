"""Rule rna_ingest_sample: one sample's counts, in any accepted format, as gene<TAB>count."""
from trialomics import ingest, readers, runlog, tables

log = runlog.start(snakemake)
counts = readers.read_rna_counts(
    snakemake.input[0],
    column=snakemake.params.column or None,
    star_count_column=int(snakemake.params.star_count_column),
)
log.info("%s: %d genes, %d reads", snakemake.wildcards.sample, len(counts), int(counts.sum()))
tables.write_tsv(ingest.counts_frame(counts), snakemake.output[0])

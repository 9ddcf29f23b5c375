"""Rule rna_ingest_sample: one sample's counts, in any accepted format, as gene<TAB>count."""
from trialomics import ingest, readers, runlog, tables
from trialomics.upstream_rna import map_gene_ids, read_gene_map

log = runlog.start(snakemake)
counts = readers.read_rna_counts(
    snakemake.input.counts,
    column=snakemake.params.column or None,
    star_count_column=int(snakemake.params.star_count_column),
)
if snakemake.input.gene_map:
    # Gene IDs (e.g. Ensembl) named in the user's map become symbols; unmapped IDs are kept as they are.
    genes = len(counts)
    counts = map_gene_ids(counts, read_gene_map(snakemake.input.gene_map))
    log.info("gene map %s: %d IDs -> %d genes", snakemake.input.gene_map, genes, len(counts))
log.info("%s: %d genes, %d reads", snakemake.wildcards.sample, len(counts), int(counts.sum()))
tables.write_tsv(ingest.counts_frame(counts), snakemake.output[0])

"""Rule rna_ingest: every RNA sample's counts, in any accepted format, as gene<TAB>count (a file per sample)."""
from trialomics import counts_readers, ingest, runlog, tables
from trialomics.upstream_rna import map_gene_ids, read_gene_map

log = runlog.start(snakemake)
outputs = {sample: ingest.sample_file(snakemake.output.samples, sample) for sample in snakemake.params.sources}
gene_map = read_gene_map(snakemake.input.gene_map) if snakemake.input.gene_map else None


def open_counts(path, columns):
    return counts_readers.rna_counts_reader(path, [column or None for column in columns],
                                     star_count_column=int(snakemake.params.star_count_column))


def ingest_sample(sample, counts_of, column):
    counts = counts_of(column or None)
    if gene_map is not None:
        # Gene IDs (e.g. Ensembl) named in the user's map become symbols; unmapped IDs are kept as they are.
        genes = len(counts)
        counts = map_gene_ids(counts, gene_map)
        log.info("%s: gene map %s: %d IDs -> %d genes", sample, snakemake.input.gene_map, genes, len(counts))
    log.info("%s: %d genes, %d reads", sample, len(counts), int(counts.sum()))
    tables.write_tsv(ingest.counts_frame(counts), outputs[sample])


ingest.ingest_each_file(snakemake.params.sources, open_counts, ingest_sample)
runlog.done(log)

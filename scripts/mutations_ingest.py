"""Rule mutations_ingest: every exome sample's rows of its MAF, as a tidy table (a file per sample)."""
from trialomics import ingest, privacy, readers, runlog, tables

log = runlog.start(snakemake)
outputs = {sample: ingest.sample_file(snakemake.output.samples, sample) for sample in snakemake.params.sources}
key = privacy.key_if_pseudonymising(snakemake.config)


def ingest_sample(sample, rows_of, barcode):
    maf = rows_of(barcode or None)
    if key is not None:
        maf = privacy.pseudonymise_barcodes(maf, key)
    if maf.empty:
        # The file is not named: with pseudonyms on, input file names often hold the original sample ID.
        log.warning("%s has no mutations in its MAF: TMB 0", sample)
    log.info("%s: %d variants", sample, len(maf))
    tables.write_tsv(maf, outputs[sample])


ingest.ingest_each_file(snakemake.params.sources, lambda path, barcodes: readers.maf_reader(path),
                       ingest_sample)
runlog.done(log)

"""Rule mutations_ingest_sample: one sample's rows of its MAF, as a tidy table."""
from trialomics import readers, runlog, tables

log = runlog.start(snakemake)
maf = readers.read_maf(snakemake.input[0], barcode=snakemake.params.barcode or None)
if maf.empty:
    log.warning("%s has no mutations in %s: TMB 0", snakemake.wildcards.sample, snakemake.input[0])
log.info("%s: %d variants", snakemake.wildcards.sample, len(maf))
tables.write_tsv(maf, snakemake.output[0])

"""Rule mutations_ingest_sample: one sample's rows of its MAF, as a tidy table."""
from trialomics import privacy, readers, runlog, tables

log = runlog.start(snakemake)
maf = readers.read_maf(snakemake.input[0], barcode=snakemake.params.barcode or None)
key = privacy.key_if_pseudonymising(snakemake.config)
if key is not None:
    maf = privacy.pseudonymise_barcodes(maf, key)
if maf.empty:
    # The file is not named: with pseudonyms on, input file names often hold the original sample ID.
    log.warning("%s has no mutations in its MAF: TMB 0", snakemake.wildcards.sample)
log.info("%s: %d variants", snakemake.wildcards.sample, len(maf))
tables.write_tsv(maf, snakemake.output[0])

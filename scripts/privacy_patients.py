"""Rule privacy_patients: patients.tsv with keyed pseudonyms for patient IDs (privacy.pseudonymise).

Every other rule reads this copy, so every output inherits the pseudonyms. It stays outside
``results/``: it still holds the table's dates and other columns.
"""
from trialomics import privacy, readers, runlog, tables

log = runlog.start(snakemake)
patients = readers.read_string_table(snakemake.input.patients)
key = privacy.load_or_create_key(snakemake.input.key)
tables.write_tsv(privacy.pseudonymise_patients(patients, key), snakemake.output.patients)
log.info("%d patients pseudonymised", len(patients))
runlog.done(log)

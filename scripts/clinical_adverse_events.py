"""Rule clinical_adverse_events: treatment-emergent adverse events by term."""
from trialomics import clinical, privacy, readers, runlog, tables

log = runlog.start(snakemake)
patients = readers.read_patients(snakemake.input.patients)
if snakemake.input.adverse_events:
    adverse_events = readers.read_adverse_events(snakemake.input.adverse_events)
    key = privacy.key_if_pseudonymising(snakemake.config)
    if key is not None:
        adverse_events = privacy.pseudonymise_patients(adverse_events, key)
else:
    log.info("no adverse_events.tsv configured: the safety table has a header only")
    adverse_events = None
summary = clinical.summarise_adverse_events(adverse_events, patients)
tables.write_tsv(summary, snakemake.output.adverse_events)
runlog.done(log)

"""Rule clinical_efficacy: response rates and Kaplan-Meier summaries of the trial."""
from trialomics import clinical, runlog, tables

log = runlog.start(snakemake)
labels = tables.read_tsv(snakemake.input.labels)
efficacy = clinical.summarise_efficacy(labels)
tables.write_tsv(efficacy, snakemake.output.efficacy)
runlog.done(log)

"""Rule clinical_labels: endpoint labels, per-assessment responses and supplied/derived disagreements."""
from trialomics import clinical, privacy, readers, runlog, tables

log = runlog.start(snakemake)
patients = readers.read_patients(snakemake.input.patients)
recist = readers.read_recist(snakemake.input.recist) if snakemake.input.recist else None
if recist is None:
    log.info("no recist.tsv: labels come from the outcomes supplied in patients.tsv")
key = privacy.key_if_pseudonymising(snakemake.config)
if key is not None and recist is not None:
    recist = privacy.pseudonymise_patients(recist, key)
params = snakemake.params
result = clinical.derive_labels(patients, recist, confirmation_weeks=params.confirmation_weeks,
                                sd_min_weeks=params.sd_min_weeks, benefit_months=params.benefit_months)
timepoints = result.timepoints.copy()
if privacy.PrivacySettings.from_config(snakemake.config).calendar_dates:
    timepoints["date"] = timepoints["date"].dt.strftime("%Y-%m-%d")
else:
    timepoints = privacy.without_calendar_dates(timepoints)
for row in result.disagreements.itertuples(index=False):
    log.warning("patient %s: supplied %s = %s, derived %s (the derived value is used)",
                row.patient_id, row.field, row.supplied, row.derived)
log.info("best overall response: %s", result.labels["bor"].value_counts(dropna=False).to_dict())
tables.write_tsv(result.labels, snakemake.output.labels)
tables.write_tsv(timepoints, snakemake.output.timepoints)
tables.write_tsv(result.disagreements, snakemake.output.disagreements)
runlog.done(log)

"""Rule cohort_assemble: the patient-aligned and the per-sample MuData of all modalities, and the coverage table."""
import anndata as ad

from trialomics import cohort, readers, runlog, tables

log = runlog.start(snakemake)
modalities = [m for m in snakemake.params.modalities if m in snakemake.input.keys()]
adatas = {m: ad.read_h5ad(snakemake.input[m]) for m in modalities}
labels = tables.read_tsv(snakemake.input.labels)
patients = readers.read_patients(snakemake.input.patients)
coverage = cohort.coverage_table(patients["patient_id"], adatas, snakemake.params.modalities, labels=labels)
for modality in snakemake.params.modalities:
    missing = coverage.loc[coverage[modality] == "no", "patient_id"].tolist()
    if missing:
        log.info("%s: no data for %s (kept, shown in coverage.tsv)", modality, ", ".join(missing))
covariates = list(snakemake.params.covariates)
log.info("patients.tsv columns carried in the cohort: %s", ", ".join(covariates) or "none")
samples = cohort.build_cohort(adatas, labels, patients, covariates=covariates)
by_patient = cohort.build_patient_cohort(adatas, labels, patients, covariates=covariates)
log.info("patient-aligned cohort: %d patients with baseline omics (%s); without any: %s", by_patient.n_obs,
         ", ".join(f"{m} {a.n_obs}" for m, a in by_patient.mod.items()),
         ", ".join(by_patient.uns["patients_without_omics"]) or "none")
tables.write_tsv(coverage, snakemake.output.coverage)
tables.write_h5mu(samples, snakemake.output.samples)
tables.write_h5mu(by_patient, snakemake.output.mudata)
runlog.done(log)

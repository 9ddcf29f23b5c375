"""Rule cohort_assemble: one MuData of all modalities with labels, and the coverage table."""
import anndata as ad

from trialomics import cohort, privacy, readers, runlog, tables

log = runlog.start(snakemake)
modalities = [m for m in snakemake.params.modalities if m in snakemake.input.keys()]
adatas = {m: ad.read_h5ad(snakemake.input[m]) for m in modalities}
labels = tables.read_tsv(snakemake.input.labels)
patients = readers.read_patients(snakemake.input.patients)
coverage = cohort.coverage_table(patients["patient_id"], adatas, snakemake.params.modalities)
for modality in snakemake.params.modalities:
    missing = coverage.loc[coverage[modality] == "no", "patient_id"].tolist()
    if missing:
        log.info("%s: no data for %s (kept, shown in coverage.tsv)", modality, ", ".join(missing))
covariates = privacy.configured_covariates(snakemake.config)
log.info("patients.tsv columns carried in the cohort: %s", ", ".join(covariates) or "none")
mudata = cohort.build_cohort(adatas, labels, patients, covariates=covariates)
tables.write_tsv(coverage, snakemake.output.coverage)
tables.write_h5mu(mudata, snakemake.output.mudata)

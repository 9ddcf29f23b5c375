"""Rule cohort_assemble: one MuData of all modalities with labels, and the coverage table."""
import anndata as ad

from trialomics import cohort, readers, runlog, tables

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
mudata = cohort.build_cohort(adatas, labels, patients)
tables.write_tsv(coverage, snakemake.output.coverage)
final, tmp = tables.atomic_path(snakemake.output.mudata)
try:
    mudata.write(str(tmp))
    tmp.replace(final)
finally:
    tmp.unlink(missing_ok=True)

"""Rule batch_association: each modality's batch tested against every endpoint (results/qc/batch_association.tsv)."""
import anndata as ad

from trialomics import runlog, tables

log = runlog.start(snakemake)

from trialomics.batch import batch_association, patient_batches  # noqa: E402
from trialomics.readers import read_patients  # noqa: E402
from trialomics.survival import patient_annotations  # noqa: E402

params = snakemake.params
obs = patient_annotations(tables.read_tsv(snakemake.input.labels), read_patients(snakemake.input.patients))
batches = {modality: patient_batches(ad.read_h5ad(path))
           for modality, path in zip(params.modalities, snakemake.input.adatas)}
table = batch_association(batches, obs, params.endpoints, threshold=params.threshold, seed=params.seed)
for row in table.itertuples():
    log.info("%s / %s: %s batches, %s p=%s padj=%s %s", row.modality, row.endpoint, row.n_batches,
             row.test or "no test", row.pvalue, row.padj, row.note)
associated = table[table["associated"] == "yes"]
if len(associated):
    log.warning("batch associated with the outcome (padj < %g): %s", params.threshold,
                ", ".join(f"{m} / {e}" for m, e in zip(associated["modality"], associated["endpoint"])))
tables.write_tsv(table, snakemake.output.table)
runlog.done(log)

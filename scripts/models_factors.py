"""Rule models_factors: exploratory multi-omics factors (MFA) screened against every endpoint."""
import anndata as ad

from trialomics import runlog, tables
from trialomics.models import multiblock_factors, screen_factors
from trialomics.readers import read_patients
from trialomics.survival import baseline_matrix, patient_annotations

log = runlog.start(snakemake)
params = snakemake.params
obs = patient_annotations(tables.read_tsv(snakemake.input.labels), read_patients(snakemake.input.patients))
blocks = {modality: baseline_matrix(ad.read_h5ad(path), modality)
          for modality, path in zip(params.modalities, snakemake.input.adatas)}
scores, loadings = multiblock_factors(blocks, n_factors=params.n_factors, top_variance=params.top_variance)
screen = screen_factors(scores, obs, list(params.endpoints))
log.info("%d factors from %d patients with %s; smallest screen p %.3g (exploratory)", scores.shape[1],
         scores.shape[0], ", ".join(blocks), screen["pvalue"].min() if len(screen) else float("nan"))
tables.write_tsv(scores.rename_axis("patient_id").reset_index(), snakemake.output.scores)
tables.write_tsv(loadings, snakemake.output.loadings)
tables.write_tsv(screen, snakemake.output.screen)

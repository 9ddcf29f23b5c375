"""Rule models_factors: exploratory MOFA+ factors of the baseline omics, screened against every endpoint."""
import anndata as ad

from trialomics import runlog, tables
from trialomics.factors import TOTAL, mofa_factors, screen_factors
from trialomics.readers import read_patients
from trialomics.survival import baseline_matrix, patient_annotations

log = runlog.start(snakemake)
params = snakemake.params
obs = patient_annotations(tables.read_tsv(snakemake.input.labels), read_patients(snakemake.input.patients))
blocks = {modality: baseline_matrix(ad.read_h5ad(path), modality)
          for modality, path in zip(params.modalities, snakemake.input.adatas)}
model = mofa_factors(blocks, n_factors=params.n_factors, top_variance=params.top_variance, seed=params.seed)
screen = screen_factors(model.scores, obs, list(params.endpoints))
totals = model.variance_explained[model.variance_explained["factor"] == TOTAL]
log.info("MOFA+ (seed %d): %d factors from %d patients; variance explained per view: %s", params.seed,
         model.scores.shape[1], model.scores.shape[0],
         ", ".join(f"{r.modality} {r.variance_explained:.2f} ({r.likelihood}, {r.n_patients} patients)"
                   for r in totals.itertuples()))
log.info("smallest factor screen p %.3g (exploratory)", screen["pvalue"].min() if len(screen) else float("nan"))
tables.write_tsv(model.scores.reset_index(), snakemake.output.scores)
tables.write_tsv(model.loadings, snakemake.output.loadings)
tables.write_tsv(model.variance_explained, snakemake.output.variance_explained)
tables.write_tsv(screen, snakemake.output.screen)
runlog.done(log)

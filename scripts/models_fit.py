"""Rule models_fit: nested-CV penalised model, permutation test and stability selection of one block."""
import anndata as ad

from trialomics import runlog, tables
from trialomics.models import fit_endpoint_model
from trialomics.proteins import make_imputer
from trialomics.readers import read_patients
from trialomics.survival import baseline_matrix, covariate_matrix, patient_annotations

log = runlog.start(snakemake)
params = snakemake.params
endpoint, model_name = snakemake.wildcards.endpoint, snakemake.wildcards.model
obs = patient_annotations(tables.read_tsv(snakemake.input.labels), read_patients(snakemake.input.patients))
blocks = {modality: baseline_matrix(ad.read_h5ad(path), modality)
          for modality, path in zip(params.modalities, snakemake.input.adatas)}
covariates = covariate_matrix(obs, list(params.covariates)) if params.covariates else None
imputer = (make_imputer(params.imputation["method"], params.seed, **params.imputation["params"])
           if "proteins" in blocks else None)
result = fit_endpoint_model(
    blocks, obs, endpoint, model_name, covariates=covariates, imputer=imputer, l1_ratio=params.l1_ratio,
    n_alphas=params.n_alphas, alpha_min_ratio=params.alpha_min_ratio, inner_folds=params.inner_folds,
    outer_cv=params.outer_cv, outer_folds=params.outer_folds, repeats=params.repeats,
    n_permutations=params.permutations,
    stability_subsamples=params.stability_subsamples, stability_q=params.stability_q,
    stability_threshold=params.stability_threshold, max_missing=params.max_missing,
    min_altered=params.min_altered, min_altered_fraction=params.min_altered_fraction,
    top_variance=params.top_variance, select_k=params.select_k,
    min_events=params.min_events, min_per_class=params.min_per_class, seed=params.seed,
    n_jobs=snakemake.threads)
for row in result["performance"].itertuples():
    log.info("%s / %s %s: %.3f [%.3f, %.3f], permutation p %.3g (n=%d) %s", endpoint, model_name, row.metric,
             row.estimate, row.ci_low, row.ci_high, row.permutation_p, row.n_patients, row.note)
summary = result["stability_summary"].iloc[0]
log.info("stability: %s features at frequency >= %s; E[false selections] <= %s",
         summary.get("n_selected"), summary.get("threshold"), summary.get("expected_false_selections_bound"))
for name in ("performance", "oof", "permutations", "stability", "stability_summary", "coefficients"):
    tables.write_tsv(result[name], getattr(snakemake.output, name))

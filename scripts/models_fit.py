"""Rule models_fit: nested-CV penalised model, permutation test and stability selection of one block."""
from trialomics import numba_lapack, runlog, tables
from trialomics.batch import batch_covariate_plan, batch_covariates, patient_batches
from trialomics.h5ad_reader import read_samples
from trialomics.imputation import make_fold_imputer
from trialomics.models import fit_endpoint_model
from trialomics.readers import read_patients
from trialomics.survival import baseline_matrix, covariate_matrix, patient_annotations

log = runlog.start(snakemake)
# The job's threads fit permutations side by side (n_jobs: worker processes, which inherit this limit).
# BLAS stays on one thread in every process: threads x threads BLAS threads would oversubscribe the job's
# cores (spinning between the solver's calls), and large threaded products vary in their last bits.
runlog.limit_threads(1)
numba_lapack.preload()   # before the first compiled call: its BLAS and LAPACK without importing scipy.linalg
params = snakemake.params
endpoint, model_name = snakemake.wildcards.endpoint, snakemake.wildcards.model
obs = patient_annotations(tables.read_tsv(snakemake.input.labels), read_patients(snakemake.input.patients))
adatas = {modality: read_samples(path) for modality, path in zip(params.modalities, snakemake.input.adatas)}
blocks = {modality: baseline_matrix(adata, modality) for modality, adata in adatas.items()}
covariates = covariate_matrix(obs, list(params.covariates)) if params.covariates else None
# models.batch_covariate: the batch of the blocks whose batch goes with this endpoint joins the
# unpenalised covariates (so the permutation test moves the omics rows, the batch staying with the outcome).
batch_table = tables.read_tsv(snakemake.input.batch[0]) if snakemake.input.batch else None
batched, batch_note = batch_covariate_plan(batch_table, list(blocks), endpoint, params.batch_covariate)
if batched:
    design = batch_covariates({block: patient_batches(adatas[block]) for block in batched})
    covariates = design if covariates is None else covariates.join(design, how="outer")
    log.info("%s / %s: %s", endpoint, model_name, batch_note)
imputer = (make_fold_imputer(params.imputation["method"], params.seed, **params.imputation["params"])
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
result["performance"]["batch_covariate"] = batch_note
for name in ("performance", "oof", "permutations", "stability", "stability_summary", "coefficients"):
    tables.write_tsv(result[name], getattr(snakemake.output, name))
runlog.done(log)

"""Penalised multivariable models with honest validation: nested CV, permutation tests, stability selection.

With about 20 patients, anything that learns from the data must be refitted inside every training
fold, or the estimated performance is fantasy. Here:

- Every learned step is refitted on the training rows of every fold
  (:mod:`trialomics.model_preprocess`): label-free prefilters (missingness, prevalence of
  alterations, top variance per modality), imputation of protein values, standardisation, and an
  optional supervised univariate selection. A nested fit (:mod:`trialomics.model_engine`) repeats
  them in every inner fold and once more on its whole training set, so the outer loop of
  :func:`evaluate_model` never lets a test patient influence filtering, scaling, imputation,
  selection or the penalty. The engine works on numpy arrays and calls the compiled solvers directly
  (:mod:`trialomics.model_paths`); metrics live in :mod:`trialomics.model_metrics`.
- Survival endpoints use the elastic-net Cox model, binary endpoints L1-penalised logistic regression,
  both solved to the KKT conditions by compiled coordinate descent (:mod:`trialomics.cox_path`,
  :mod:`trialomics.logistic_path`; the objectives of glmnet/Coxnet and liblinear). Clinical
  covariates can be left unpenalised. The penalty is tuned in an inner stratified K-fold on the outer training set over
  a grid estimated on that training set: for Cox by the cross-validated partial log-likelihood of
  Verweij & van Houwelingen (1993, the criterion of glmnet), for logistic regression by the pooled
  held-out binomial log-likelihood. Each inner fold fits the whole penalty path once (warm starts),
  which gives the same choice as a grid search over the pipeline at a fraction of the cost.
- Performance (:func:`evaluate_model`) is measured on out-of-fold predictions pooled within each
  repeat of the outer loop (repeated stratified K-fold, or leave-one-out): Harrell's and Uno's C for
  survival, ROC AUC for binary endpoints. The estimate is the mean over repeats. The permutation
  p-value refits the entire nested procedure on permutations: p = (1 + #{permuted >= observed}) /
  (1 + #permutations). Without covariates the outcomes are permuted ((time, event) pairs together);
  with covariates the omics rows are, the covariates staying with the outcome, and the covariate-only
  model's metric in the same folds and the increment over it are reported. The 95 % interval is the
  permutation pivot (the null's deviations from chance, moved to the estimate), whose coverage of 0.5
  on null data is that of the permutation test; the null's 2.5/50/97.5 % quantiles are reported.
- Minimum information: survival models need ``min_events`` events, binary models ``min_per_class``
  patients in the smaller class; below that the model is skipped with a note.
- Stability selection (:func:`stability_selection`): complementary pairs of half samples (Shah &
  Samworth 2013, stratified by event or class); on each the preprocessing is refitted and the penalty
  path computed; the first ``q`` features to enter the path are selected ("first q", as in the R
  package stabs). The selection frequency of each feature is reported with the threshold and two
  bounds on the expected number of falsely selected features: q^2 / ((2 * threshold - 1) * p) (valid
  for complementary pairs without further assumptions), and Shah & Samworth's sharper bound under
  unimodality, where ``q`` is the mean number selected per subsample and ``p`` the number of features
  that reached the penalised model.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .model_engine import (PathSpec, covariate_only_predictions, fit_nested, nested_out_of_fold,
                           permutations_scores, plan_outer_cv, selection_counts)
from .model_metrics import repeat_averaged_scores
from .model_preprocess import Outcome, PreprocessSpec, RowPreprocessing
from .seeds import derive_seed
from .survival import (CONTINUOUS, COVARIATE, SURVIVAL_ENDPOINTS, endpoint_labels,
                       feature_kinds)

SURVIVAL = "survival"
CLASSIFICATION = "binary"
SURVIVAL_METRICS = ("c_index", "c_index_uno")
CLASSIFICATION_METRICS = ("auc",)
PRIMARY_METRIC = {SURVIVAL: "c_index", CLASSIFICATION: "auc"}
CHANCE = 0.5  # AUC and C-index of a score unrelated to the outcome
JOINT_SEPARATOR = ":"
COVARIATE_GROUP = "covariate"


# ----------------------------------------------------------------------------------------- targets

def task_of(endpoint: str) -> str:
    """``survival`` for pfs/os, ``binary`` for responder/clinical_benefit."""
    return SURVIVAL if endpoint in SURVIVAL_ENDPOINTS else CLASSIFICATION


def make_target(outcome: pd.DataFrame, task: str) -> Outcome:
    """The outcome of :func:`trialomics.survival.endpoint_labels` as arrays: (time, event) or a 0/1 label."""
    if task == SURVIVAL:
        return Outcome.of_survival(outcome["time"].to_numpy(float), outcome["event"].to_numpy(bool))
    return Outcome.of_label(outcome["label"].to_numpy(int))


def make_preprocess(columns: pd.Index, kinds: pd.Series | None = None, groups: pd.Series | None = None,
                    imputer=None, impute_columns=None, **settings) -> PreprocessSpec:
    """The preprocessing of a model matrix with these columns (see :class:`PreprocessSpec`).

    ``kinds``/``groups`` map column names to kinds and modalities (missing names: continuous, group
    ""); ``impute_columns`` names the columns the imputer fills (``None``: all).
    """
    kind_values = (np.full(len(columns), CONTINUOUS, dtype=object) if kinds is None
                   else kinds.reindex(columns).fillna(CONTINUOUS).to_numpy(dtype=object))
    group_values = None if groups is None else groups.reindex(columns).fillna("").to_numpy()
    imputed = None if impute_columns is None else columns.isin(list(impute_columns))
    return PreprocessSpec.for_columns(len(columns), kinds=kind_values, groups=group_values, imputed=imputed,
                                      imputer=imputer, **settings)


def make_model(task: str, l1_ratio: float = 0.5, n_alphas: int = 10, alpha_min_ratio: float = 0.05,
               inner_folds: int = 3, seed: int = 0) -> PathSpec:
    """Elastic-net Cox path for survival, L1-logistic path for binary endpoints (``l1_ratio``: Cox only)."""
    return PathSpec(task == SURVIVAL, l1_ratio=l1_ratio, n_alphas=n_alphas, alpha_min_ratio=alpha_min_ratio,
                    inner_folds=inner_folds, seed=seed)


# ------------------------------------------------------------------------------- evaluation

@dataclass
class Evaluation:
    """Result of :func:`evaluate_model`."""

    performance: pd.DataFrame
    oof: pd.DataFrame
    permutations: pd.DataFrame


def evaluate_model(X: pd.DataFrame, outcome: Outcome, preprocess: PreprocessSpec, model: PathSpec,
                   scheme: str = "kfold", n_splits: int = 5, n_repeats: int = 3, n_permutations: int = 100,
                   seed: int = 0, n_jobs: int = 1) -> Evaluation:
    """Nested cross-validated performance, permutation p-value, null quantiles and interval of the model.

    Returns an :class:`Evaluation` with ``performance`` (one row per metric: estimate, ci_low, ci_high,
    permutation_p, outer_cv, n_splits, repeats, n_permutations, then covariate_only_estimate, increment,
    increment_permutation_p, null_q025, null_median, null_q975, interval, permutation_scheme),
    ``oof`` (patient_id, repeat, prediction) and ``permutations`` (permutation, then one column per
    metric). Seeds: outer splits use ``derive_seed(seed, "outer")``, permutation i
    ``derive_seed(seed, "permutation", i)``; results do not depend on ``n_jobs``.

    With unpenalised covariates (``covariate`` kind) the permutations move the omics rows only
    (:func:`model_engine.permuted_scores`), and the covariate-only model is fitted in the same outer
    folds; ``increment`` is the model's metric minus the covariate-only one, and its permutation p
    compares it with the permuted increments (the covariate-only model does not change under these
    permutations). The interval is the permutation pivot: the error of the whole nested procedure
    (refitting included) is taken to be distributed as the permuted metrics minus chance (0.5), so the
    interval is (estimate - (q97.5 - 0.5), estimate - (q2.5 - 0.5)) of the null, widened to contain the
    estimate and clipped to [0, 1]. It carries the refitting variability (and the known pessimism of
    cross-validated AUC/C on null data) that a bootstrap of fixed out-of-fold predictions misses; on
    null data it covers 0.5 whenever the two-sided permutation test at 5 % does not reject.
    """
    values = X.to_numpy(dtype=np.float64)
    preprocess = preprocess.screened_on(values)
    split_seed = derive_seed(seed, "outer")
    plan_args = {"scheme": scheme, "n_splits": n_splits, "n_repeats": n_repeats}
    plan = plan_outer_cv(outcome.strata, survival=outcome.survival, **plan_args)
    data = RowPreprocessing(preprocess, values)
    predictions, _ = nested_out_of_fold(data, outcome, model, plan, split_seed)
    observed = repeat_averaged_scores(outcome, predictions)
    covariates = preprocess.unpenalised
    reference = ({metric: np.nan for metric in observed} if not covariates.any() else repeat_averaged_scores(
        outcome, covariate_only_predictions(values, outcome, covariates, plan, split_seed)))
    # One contiguous batch of permutations per process, so that a process reuses its folds' preprocessing.
    seeds = [derive_seed(seed, "permutation", i) for i in range(n_permutations)]
    if n_jobs == 1:
        null = permutations_scores(data, outcome, model, plan_args, split_seed, seeds)
    else:
        # joblib (~0.1 CPU-s to import) only when the job has several processes to share the work.
        from joblib import Parallel, delayed, effective_n_jobs

        n_batches = max(1, min(effective_n_jobs(n_jobs), n_permutations))
        batches = [seeds[b * n_permutations // n_batches:(b + 1) * n_permutations // n_batches]
                   for b in range(n_batches)]
        null = [scores for batch in Parallel(n_jobs=n_jobs)(
            delayed(permutations_scores)(data, outcome, model, plan_args, split_seed, batch)
            for batch in batches) for scores in batch]
    null_table = pd.DataFrame(null, columns=list(observed))
    null_table.insert(0, "permutation", np.arange(n_permutations))
    rows = []
    for metric, estimate in observed.items():
        draws = null_table[metric].to_numpy(dtype=np.float64)
        draws = draws[np.isfinite(draws)]
        quantiles = np.quantile(draws, [0.025, 0.5, 0.975]) if draws.size else np.full(3, np.nan)
        increment = estimate - reference[metric]
        rows.append({"metric": metric, "estimate": estimate,
                     "ci_low": float(np.clip(min(estimate, estimate - (quantiles[2] - CHANCE)), 0.0, 1.0)),
                     "ci_high": float(np.clip(max(estimate, estimate - (quantiles[0] - CHANCE)), 0.0, 1.0)),
                     "permutation_p": permutation_p(estimate, draws), "outer_cv": plan.label(),
                     "n_splits": plan.n_splits, "repeats": plan.n_repeats, "n_permutations": int(draws.size),
                     "covariate_only_estimate": reference[metric], "increment": increment,
                     "increment_permutation_p": permutation_p(increment, draws - reference[metric]),
                     "null_q025": quantiles[0], "null_median": quantiles[1], "null_q975": quantiles[2],
                     "interval": "permutation_pivot" if draws.size else "",
                     "permutation_scheme": "omics_rows" if covariates.any() else "outcome"})
    oof = pd.DataFrame({
        "patient_id": np.repeat(X.index.to_numpy(), plan.n_repeats),
        "repeat": np.tile(np.arange(plan.n_repeats), len(X)),
        "prediction": predictions.reshape(-1),
    })
    return Evaluation(pd.DataFrame(rows), oof, null_table)


def permutation_p(statistic: float, null: np.ndarray) -> float:
    """(1 + #{null >= statistic}) / (1 + #null), ties within 1e-12 counting as exceedances; NaN if undefined."""
    if not null.size or not np.isfinite(statistic):
        return np.nan
    return (1 + int((null >= statistic - 1e-12).sum())) / (1 + null.size)


# -------------------------------------------------------------------------- stability selection

def meinshausen_buhlmann_bound(q: float, p: int, threshold: float) -> float:
    """Upper bound on the expected number of false selections, q^2 / ((2 threshold - 1) p).

    Meinshausen & Bühlmann (2010), Theorem 1; valid for threshold in (0.5, 1]. NaN when p = 0.
    """
    if not 0.5 < threshold <= 1.0:
        raise ValueError(f"the stability threshold must lie in (0.5, 1], got {threshold}")
    if p <= 0:
        return np.nan
    return float(q ** 2 / ((2.0 * threshold - 1.0) * p))


def complementary_pairs_bound(q: float, p: float, threshold: float, n_pairs: int) -> float:
    """Shah & Samworth (2013) bound on E[false selections] of complementary-pairs stability selection.

    Under their unimodality assumption (eq. 8): with theta = q / p <= 1/sqrt(3), E[V] <= C(tau, B) * theta * q,
    C = 1 / (2 (2 tau - 1 - 1/(2B))) for tau in (min(1/2 + theta^2, 1/2 + 1/(2B) + 3 theta^2 / 4), 3/4],
    C = 4 (1 - tau + 1/(2B)) / (1 + 1/B) for tau in (3/4, 1]. Applied here only where tau exceeds both
    ends of that minimum (so that the first C is positive). NaN where it does not apply (threshold too
    low for this theta and B, theta > 1/sqrt(3), or p = 0).
    """
    if p <= 0 or n_pairs < 1:
        return np.nan
    theta, tau, b = q / p, threshold, n_pairs
    lowest = max(0.5 + theta ** 2, 0.5 + 1 / (2 * b) + 0.75 * theta ** 2)
    if theta > 1 / math.sqrt(3) or tau <= lowest:
        return np.nan
    if tau <= 0.75:
        factor = 1.0 / (2.0 * (2.0 * tau - 1.0 - 1.0 / (2 * b)))
    else:
        factor = 4.0 * (1.0 - tau + 1.0 / (2 * b)) / (1.0 + 1.0 / b)
    return float(factor * theta * q)


def stability_selection(X: pd.DataFrame, outcome: Outcome, preprocess: PreprocessSpec, model: PathSpec,
                        n_subsamples: int = 100, q: int = 8, threshold: float = 0.6, n_alphas: int = 50,
                        alpha_min_ratio: float = 0.01, seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """Selection frequency of every column of ``X`` over complementary pairs of half samples ("first q").

    ``n_subsamples`` half samples are drawn as ``n_subsamples // 2`` complementary pairs (Shah &
    Samworth 2013; at least one pair). Returns (table with feature, selection_frequency (over all
    subsamples), times_selected, times_in_model (subsamples in which the feature passed the prefilters
    and could be selected), mean_coefficient_sign, selected (yes/no at ``threshold``), one row per
    feature that reached the model at least once, in the order of decreasing frequency then feature
    name; summary dict with n_subsamples, subsample_size, q_target, q_mean, p_mean, threshold,
    n_selected, expected_false_selections_bound (the worst-case bound q^2 / ((2 threshold - 1) p), valid
    for complementary pairs without assumptions), n_pairs and
    expected_false_selections_bound_unimodal (:func:`complementary_pairs_bound`)). Unpenalised
    covariates are never counted.
    """
    values = X.to_numpy(dtype=np.float64)
    n_pairs = max(1, n_subsamples // 2)
    found = selection_counts(values, outcome, preprocess.screened_on(values),
                             model.with_grid(n_alphas, alpha_min_ratio), n_pairs, q, seed)
    n_drawn = 2 * n_pairs
    # Features that never passed the in-fold prefilters could not be selected: no row.
    keep = (found.times_in_model > 0) & ~preprocess.unpenalised
    counts, considered, sign_sum = found.times_selected[keep], found.times_in_model[keep], found.sign_sum[keep]
    table = pd.DataFrame({
        "feature": X.columns[keep].astype(str),
        "selection_frequency": counts / n_drawn,
        "times_selected": counts,
        "times_in_model": considered,
        "mean_coefficient_sign": np.where(counts > 0, sign_sum / np.where(counts > 0, counts, 1), np.nan),
    })
    table["selected"] = np.where(table["selection_frequency"] >= threshold, "yes", "no")
    table = table.sort_values(["selection_frequency", "feature"], ascending=[False, True],
                              kind="stable").reset_index(drop=True)
    q_mean = float(np.mean(found.selected_sizes)) if found.selected_sizes else 0.0
    p_mean = float(np.mean(found.model_sizes)) if found.model_sizes else 0.0
    summary = {"n_subsamples": n_drawn,
               "subsample_size": float(np.mean(found.subsample_sizes)) if found.subsample_sizes else 0.0,
               "q_target": q, "q_mean": q_mean, "p_mean": p_mean, "threshold": threshold,
               "n_selected": int((table["selected"] == "yes").sum()),
               "expected_false_selections_bound": meinshausen_buhlmann_bound(q_mean, p_mean, threshold),
               "n_pairs": n_pairs,
               "expected_false_selections_bound_unimodal": complementary_pairs_bound(q_mean, p_mean, threshold,
                                                                                     n_pairs)}
    return table, summary


# ---------------------------------------------------------------------------- data assembly

def assemble_block(blocks: dict[str, pd.DataFrame], kinds: dict[str, pd.Series], outcome: pd.DataFrame,
                   covariates: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Join modalities (by patient_id) with the outcome and covariates into one model matrix.

    One modality keeps its feature names; several (the joint model) get ``modality:feature`` names.
    Only patients with every modality of the block, the outcome and every covariate are kept (no
    imputation of a missing modality). Covariates are named ``covariate:name``. Returns (X in the
    order of ``outcome``'s patients, kind per column, group per column).
    """
    prefix = len(blocks) > 1
    parts, kind_parts, group_parts = [], [], []
    for modality, values in blocks.items():
        renamed = values.add_prefix(f"{modality}{JOINT_SEPARATOR}") if prefix else values
        parts.append(renamed)
        kind = kinds[modality].reindex(values.columns).fillna(CONTINUOUS)
        kind.index = renamed.columns
        kind_parts.append(kind)
        group_parts.append(pd.Series(modality, index=renamed.columns))
    if covariates is not None and covariates.shape[1]:
        design = covariates.add_prefix(f"{COVARIATE_GROUP}{JOINT_SEPARATOR}")
        parts.append(design.dropna())
        kind_parts.append(pd.Series(COVARIATE, index=design.columns))
        group_parts.append(pd.Series(COVARIATE_GROUP, index=design.columns))
    patients = outcome.index
    for part in parts:
        patients = patients.intersection(part.index, sort=False)
    X = pd.concat([part.loc[patients] for part in parts], axis=1)
    return X, pd.concat(kind_parts), pd.concat(group_parts)


def split_feature_name(name: str, blocks: list[str]) -> tuple[str, str]:
    """(modality, feature) of a model column: ``rna:CXCL9`` in a joint model, ``CXCL9`` in the rna model."""
    if len(blocks) > 1 and JOINT_SEPARATOR in name:
        modality, feature = name.split(JOINT_SEPARATOR, 1)
        return modality, feature
    return blocks[0], name


def fit_endpoint_model(blocks: dict[str, pd.DataFrame], obs: pd.DataFrame, endpoint: str, model_name: str,
                       covariates: pd.DataFrame | None = None, imputer=None, l1_ratio: float = 0.5,
                       n_alphas: int = 10, alpha_min_ratio: float = 0.05, inner_folds: int = 3,
                       outer_cv: str = "kfold", outer_folds: int = 5, repeats: int = 3,
                       n_permutations: int = 100, stability_subsamples: int = 100,
                       stability_q: int = 8, stability_threshold: float = 0.6, max_missing: float = 0.5,
                       min_altered: int = 2, min_altered_fraction: float = 0.1, top_variance: int | None = 500,
                       select_k: int | None = None, min_events: int = 10, min_per_class: int = 5, seed: int = 0,
                       n_jobs: int = 1) -> dict[str, pd.DataFrame]:
    """Everything the models stage reports for one endpoint and one block of modalities.

    ``blocks`` maps modality -> patients x features (``survival.modality_matrix``); ``obs`` holds the
    labels per patient. ``imputer`` (a transformer) is applied inside the folds to the proteins
    columns. Returns tables ``performance``, ``oof``, ``permutations``, ``stability``,
    ``stability_summary`` and ``coefficients`` (final model on all patients at its CV-chosen penalty).
    A block that cannot be evaluated gives one performance row per metric with NaN estimates and a note
    ("not evaluated: ..."), and empty tables otherwise: no features, fewer than ``min_events`` events
    (survival), fewer than ``min_per_class`` patients in the smaller class (binary), or an outcome that
    supports no outer split. Such models are skipped, not fitted: with a handful of events the penalty,
    the out-of-fold metric and the permutation p are noise. The ``n_bootstrap`` column of performance.tsv
    is kept for the output contract and is 0: the interval is the permutation pivot, not a bootstrap.
    """
    task = task_of(endpoint)
    labels = endpoint_labels(obs, endpoint)
    kinds = {modality: feature_kinds(values) for modality, values in blocks.items()}
    X, column_kinds, column_groups = assemble_block(blocks, kinds, labels, covariates)
    outcome = make_target(labels.loc[X.index], task)
    names = list(blocks)
    protein_columns = (None if names == ["proteins"] else
                       tuple(column_groups.index[column_groups == "proteins"]))
    preprocess = make_preprocess(X.columns, kinds=column_kinds, groups=column_groups, imputer=imputer,
                                 impute_columns=protein_columns, max_missing=max_missing,
                                 min_altered=min_altered, min_altered_fraction=min_altered_fraction,
                                 top_variance=top_variance, select_k=select_k)
    model = make_model(task, l1_ratio=l1_ratio, n_alphas=n_alphas, alpha_min_ratio=alpha_min_ratio,
                       inner_folds=inner_folds, seed=derive_seed(seed, "inner"))
    strata = outcome.strata
    context = {"model": model_name, "endpoint": endpoint, "n_patients": len(X),
               "n_events": int(strata.sum()) if task == SURVIVAL else np.nan,
               "n_positive": int(strata.sum()) if task == CLASSIFICATION else np.nan,
               "n_features": int((column_kinds != COVARIATE).sum()), "seed": seed}
    metrics = SURVIVAL_METRICS if task == SURVIVAL else CLASSIFICATION_METRICS
    empty = {"oof": pd.DataFrame(columns=["patient_id", "repeat", "prediction"]),
             "permutations": pd.DataFrame(columns=["permutation", *metrics]),
             "stability": _stability_columns(pd.DataFrame(columns=["feature", "selection_frequency",
                                                                    "times_selected", "times_in_model",
                                                                    "mean_coefficient_sign", "selected"]),
                                             names, model_name),
             "stability_summary": pd.DataFrame([{"model": model_name, "threshold": stability_threshold}]),
             "coefficients": pd.DataFrame(columns=["model", "modality", "feature", "coefficient", "alpha"])}
    try:
        if task == SURVIVAL and strata.sum() < min_events:
            raise ValueError(f"{int(strata.sum())} events; survival models need at least {min_events} "
                             f"(models.min_events)")
        smaller = int(np.bincount(strata, minlength=2).min())
        if task == CLASSIFICATION and smaller < min_per_class:
            raise ValueError(f"the smaller outcome group has {smaller} patients; binary models need at least "
                             f"{min_per_class} per class (models.min_per_class)")
        plan_outer_cv(strata, scheme=outer_cv, n_splits=outer_folds, n_repeats=repeats, survival=task == SURVIVAL)
        if context["n_features"] == 0:
            raise ValueError("no features")
    except ValueError as problem:
        rows = [{**context, "metric": metric, "estimate": np.nan, "ci_low": np.nan, "ci_high": np.nan,
                 "permutation_p": np.nan, "outer_cv": outer_cv, "n_splits": np.nan, "repeats": np.nan,
                 "n_permutations": 0, "n_bootstrap": 0, "note": f"not evaluated: {problem}"}
                for metric in metrics]
        return {"performance": _performance_columns(pd.DataFrame(rows)), **empty}

    evaluation = evaluate_model(X, outcome, preprocess, model, scheme=outer_cv, n_splits=outer_folds,
                                n_repeats=repeats, n_permutations=n_permutations, seed=seed, n_jobs=n_jobs)
    performance = evaluation.performance.assign(**context, n_bootstrap=0, note="")
    values = X.to_numpy(dtype=np.float64)
    final = fit_nested(values, outcome, preprocess.screened_on(values), model)
    coefficients = pd.Series(final.coef, index=X.columns[final.preprocess.columns])
    coefficients = coefficients[(coefficients != 0) & ~final.preprocess.unpenalised]
    split = [split_feature_name(name, names) for name in coefficients.index]
    coefficient_table = pd.DataFrame({
        "model": model_name, "modality": [m for m, _ in split], "feature": [f for _, f in split],
        "coefficient": coefficients.to_numpy(), "alpha": final.alpha})
    coefficient_table = coefficient_table.reindex(
        coefficient_table["coefficient"].abs().sort_values(ascending=False, kind="stable").index
    ).reset_index(drop=True)
    stability, summary = stability_selection(
        X, outcome, preprocess, model, n_subsamples=stability_subsamples, q=stability_q,
        threshold=stability_threshold, seed=derive_seed(seed, "stability"))
    appended = {key: summary.pop(key) for key in STABILITY_SUMMARY_APPENDED}
    summary_table = pd.DataFrame([{"model": model_name, "endpoint": endpoint, **summary,
                                   "n_patients": len(X), "seed": seed, **appended}])
    return {"performance": _performance_columns(performance), "oof": evaluation.oof,
            "permutations": evaluation.permutations, "stability": _stability_columns(stability, names, model_name),
            "stability_summary": summary_table, "coefficients": coefficient_table}


PERFORMANCE_COLUMNS = ["model", "metric", "estimate", "ci_low", "ci_high", "permutation_p", "endpoint",
                       "n_patients", "n_events", "n_positive", "n_features", "outer_cv", "n_splits", "repeats",
                       "n_permutations", "n_bootstrap", "seed", "note",
                       # Appended by the calibration work (issue 11); see evaluate_model.
                       "covariate_only_estimate", "increment", "increment_permutation_p", "null_q025",
                       "null_median", "null_q975", "interval", "permutation_scheme"]


# Stability summary keys added by the complementary-pairs work, written after the original columns.
STABILITY_SUMMARY_APPENDED = ("n_pairs", "expected_false_selections_bound_unimodal")


def _performance_columns(table: pd.DataFrame) -> pd.DataFrame:
    return table.reindex(columns=PERFORMANCE_COLUMNS)


def _stability_columns(table: pd.DataFrame, blocks: list[str], model_name: str) -> pd.DataFrame:
    split = [split_feature_name(name, blocks) for name in table["feature"]]
    out = table.copy()
    out["feature"] = [f for _, f in split]
    out.insert(0, "modality", [m for m, _ in split])
    out.insert(0, "model", model_name)
    return out[["model", "modality", "feature", "selection_frequency", "times_selected", "times_in_model",
                "mean_coefficient_sign", "selected"]]

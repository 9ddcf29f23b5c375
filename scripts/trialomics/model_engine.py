"""The nested cross-validation of the penalised models, on arrays.

One nested fit (:func:`fit_nested`) learns everything from its training rows only: the preprocessing
(:mod:`trialomics.model_preprocess`), the penalty grid, the inner-fold scores of every penalty (each
inner fold refits the preprocessing and the whole path, :mod:`trialomics.model_paths`) and the final
path. The penalty is chosen by the cross-validated partial log-likelihood of Verweij & van
Houwelingen (1993, glmnet's criterion) for Cox and by the pooled held-out binomial log-likelihood for
logistic regression; ties go to the larger (sparser) penalty. Every fold is a set of rows of one
matrix, fitted through :class:`~trialomics.model_preprocess.RowPreprocessing`, which learns the
label-free prefilter and imputer of a row set once however often the set recurs.

The outer loop (:func:`out_of_fold_predictions`) is repeated stratified K-fold (or leave-one-out)
with the folds of scikit-learn's splitters (reproduced by :mod:`trialomics.cv_splits`) and the seeds
documented in :mod:`trialomics.models`, so folds and permutations (without covariates) are the same as
those of the earlier estimator-based version.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from .cv_splits import kfold_splits, leave_one_out_splits, repeated_kfold_splits, stratified_kfold_splits
from .model_metrics import binomial_log_likelihood, cox_log_partial_likelihood, repeat_averaged_scores
from .model_paths import (cox_elastic_net_path, cox_penalty_grid, logistic_l1_path, logistic_penalty_grid,
                          unpenalised_fit)
from .model_preprocess import Outcome, PreprocessSpec, RowPreprocessing, transform
from .seeds import derive_seed


@dataclass(frozen=True)
class PathSpec:
    """The penalised model: elastic-net Cox (``survival``) or L1 logistic regression, and its tuning."""

    survival: bool
    l1_ratio: float = 0.5
    n_alphas: int = 10
    alpha_min_ratio: float = 0.05
    inner_folds: int = 3
    seed: int = 0

    def with_grid(self, n_alphas: int, alpha_min_ratio: float) -> "PathSpec":
        return PathSpec(self.survival, self.l1_ratio, n_alphas, alpha_min_ratio, self.inner_folds, self.seed)


@dataclass(frozen=True)
class Path:
    """Coefficients (features x alphas) over a penalty grid; logistic intercepts (zeros for Cox)."""

    alphas: np.ndarray
    coef: np.ndarray
    intercepts: np.ndarray

    def linear_predictor(self, values: np.ndarray) -> np.ndarray:
        """The features' linear predictor (no intercept), patients x alphas."""
        return values @ self.coef

    def decision(self, values: np.ndarray) -> np.ndarray:
        """Log relative hazard (Cox) or log-odds (logistic), patients x alphas."""
        return self.linear_predictor(values) + self.intercepts[None, :]


def fit_path(model: PathSpec, values: np.ndarray, outcome: Outcome, unpenalised: np.ndarray,
             alphas=None, stop_entered: int = 0, first_is_alpha_max: bool = False) -> Path:
    """The penalised path on preprocessed ``values``; ``alphas=None`` estimates the grid on them.

    ``stop_entered`` > 0: only up to the first penalty at which that many penalised columns have entered
    (the later penalties' coefficients are NaN): all that "first q" selection reads.
    ``first_is_alpha_max``: ``alphas`` is (the start of) :func:`penalty_grid` of these same data, whose
    first solution has every penalised coefficient exactly 0 (as with ``alphas=None``).
    """
    if model.survival:
        alphas, coef = cox_elastic_net_path(values, outcome.time, outcome.event, unpenalised, model.l1_ratio,
                                            model.n_alphas, model.alpha_min_ratio, alphas, stop_entered=stop_entered,
                                            first_is_alpha_max=first_is_alpha_max)
        return Path(alphas, coef, np.zeros(len(alphas)))
    return Path(*logistic_l1_path(values, outcome.label, unpenalised, model.n_alphas, model.alpha_min_ratio,
                                  alphas, stop_entered=stop_entered, first_is_alpha_max=first_is_alpha_max))


def penalty_grid(model: PathSpec, values: np.ndarray, outcome: Outcome, unpenalised: np.ndarray) -> np.ndarray:
    """The grid :func:`fit_path` estimates on preprocessed ``values`` when given none."""
    if model.survival:
        return cox_penalty_grid(values, outcome.time, outcome.event, unpenalised, model.l1_ratio, model.n_alphas,
                                model.alpha_min_ratio)
    return logistic_penalty_grid(values, outcome.label, unpenalised, model.n_alphas, model.alpha_min_ratio)


def inner_splits(strata: np.ndarray, n_splits: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) of the inner folds: stratified K-fold with K lowered to the minority count; plain
    K-fold if a stratum has < 2 (scikit-learn's ``[Stratified]KFold(shuffle=True)`` folds,
    :mod:`trialomics.cv_splits`)."""
    counts = np.bincount(strata, minlength=2)
    minority = int(counts.min())
    if minority >= 2:
        return stratified_kfold_splits(strata, min(n_splits, minority), seed)
    return kfold_splits(len(strata), min(n_splits, len(strata)), seed)


@dataclass(frozen=True)
class NestedFit:
    """A nested fit: its preprocessing, path on all its rows, inner-CV scores and chosen penalty.

    The path is computed up to the chosen penalty only (NaN after): it is warm-started along the grid, so
    those penalties' coefficients are the whole path's, and nothing reads the others.
    """

    preprocess: object
    path: Path
    cv_scores: np.ndarray
    alpha_index: int

    @property
    def alpha(self) -> float:
        return float(self.path.alphas[self.alpha_index])

    @property
    def coef(self) -> np.ndarray:
        """Coefficients at the chosen penalty (standardised scale) of the columns ``preprocess.columns``."""
        return np.nan_to_num(self.path.coef[:, self.alpha_index])

    def predict(self, X: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Risk score of ``X[rows]`` (``None``: all): the linear predictor at the chosen penalty (no intercept).

        The logistic intercept is constant within a fold and reflects the training fold's base rate,
        which is anti-correlated with the test fold's; pooled out-of-fold scores that kept it would
        rank a whole fold above another and bias the AUC below 0.5 on null data.
        """
        values = transform(self.preprocess, X, rows)
        return np.nan_to_num(self.path.linear_predictor(values)[:, self.alpha_index])


def fit_nested(X: np.ndarray, outcome: Outcome, preprocess: PreprocessSpec, model: PathSpec) -> NestedFit:
    """Preprocessing + penalised path with the penalty tuned by the inner cross-validation on (X, outcome)."""
    return _fit_nested(RowPreprocessing(preprocess, X), np.arange(len(X)), outcome, model)


def _fit_nested(data: RowPreprocessing, rows: np.ndarray, outcome: Outcome, model: PathSpec) -> NestedFit:
    """:func:`fit_nested` on the rows ``rows`` of ``data.X`` (``outcome`` is theirs, in that order)."""
    fitted, values = data.fit(rows, outcome)
    alphas = penalty_grid(model, values, outcome, fitted.unpenalised)
    scores = np.zeros(len(alphas))
    strata = outcome.strata
    for train, test in inner_splits(strata, model.inner_folds, model.seed):
        inner_outcome = outcome.take(train)
        inner_fitted, inner_values = data.fit(rows[train], inner_outcome)
        inner = fit_path(model, inner_values, inner_outcome, inner_fitted.unpenalised, alphas)
        if outcome.survival:
            # Verweij & van Houwelingen: l(beta_-k; all) - l_-k(beta_-k; training part of the fold). The
            # whole training set goes through the inner preprocessing at once, as one block.
            eta = inner.decision(transform(inner_fitted, data.X, rows))
            scores += (cox_log_partial_likelihood(outcome.time, outcome.event, eta)
                       - cox_log_partial_likelihood(outcome.time[train], outcome.event[train], eta[train]))
        else:
            eta = inner.decision(transform(inner_fitted, data.X, rows[test]))
            scores += binomial_log_likelihood(outcome.label[test], eta)
    scores = np.where(np.isfinite(scores), scores, -np.inf)
    alpha_index = int(np.argmax(scores))
    path = _padded(fit_path(model, values, outcome, fitted.unpenalised, alphas[:alpha_index + 1],
                            first_is_alpha_max=True), alphas)
    if np.isnan(path.coef[:, alpha_index]).any():
        # The full-data path failed at this penalty: use the smallest penalty that converged.
        finite = np.flatnonzero(~np.isnan(path.coef).any(axis=0))
        alpha_index = int(finite[-1]) if finite.size else 0
    return NestedFit(fitted, path, scores, alpha_index)


def _padded(path: Path, alphas: np.ndarray) -> Path:
    """``path``, computed over the first penalties of ``alphas``, with NaN for the others (as the shape
    of the whole path's products, so that the computed penalties' ones come out the same to the bit)."""
    computed = len(path.alphas)
    if computed == len(alphas):
        return path
    coef = np.full((path.coef.shape[0], len(alphas)), np.nan)
    coef[:, :computed] = path.coef
    intercepts = np.full(len(alphas), np.nan)
    intercepts[:computed] = path.intercepts
    return Path(alphas, coef, intercepts)


# ------------------------------------------------------------------------------- outer loop

@dataclass(frozen=True)
class OuterCV:
    """The outer resampling scheme actually used (after lowering K to the minority count)."""

    scheme: str
    n_splits: int
    n_repeats: int

    def label(self) -> str:
        if self.scheme == "loo":
            return "leave_one_out"
        if self.scheme == "kfold_unstratified":
            return f"repeated_{self.n_splits}fold"
        return f"repeated_stratified_{self.n_splits}fold"


def plan_outer_cv(strata: np.ndarray, scheme: str = "kfold", n_splits: int = 5, n_repeats: int = 3,
                  survival: bool = False) -> OuterCV:
    """Outer scheme for these labels: K-fold with K lowered to what the outcome allows, or leave-one-out.

    Binary outcomes: K = min(n_splits, size of the smaller class), which must be at least 2 so that
    every test fold holds both classes' patients. Survival outcomes (``strata`` = event indicators):
    K = min(n_splits, number of events), at least 2 events; folds are stratified on the event when
    there are at least K censored patients, else plain shuffled K-fold (e.g. no censoring). Raises
    ValueError when the outcome cannot support any split.
    """
    strata = np.asarray(strata, dtype=int)
    counts = np.bincount(strata, minlength=2)
    if scheme not in ("kfold", "loo"):
        raise ValueError(f"outer CV scheme must be 'kfold' or 'loo', got {scheme!r}")
    if survival:
        if counts[1] < 2:
            raise ValueError(f"{int(counts[1])} event(s); need at least 2")
        if scheme == "loo":
            return OuterCV("loo", len(strata), 1)
        k = int(min(n_splits, counts[1]))
        return OuterCV("kfold" if counts.min() >= k else "kfold_unstratified", k, n_repeats)
    if counts.min() < (1 if scheme == "loo" else 2):
        raise ValueError(f"the smaller outcome group has {int(counts.min())} patient(s); need at least 2")
    if scheme == "loo":
        return OuterCV("loo", len(strata), 1)
    return OuterCV("kfold", int(min(n_splits, counts.min())), n_repeats)


def outer_splits(strata: np.ndarray, plan: OuterCV, seed: int) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """(repeat, train indices, test indices) of every outer fold."""
    if plan.scheme == "loo":
        return [(0, train, test) for train, test in leave_one_out_splits(len(strata))]
    stratified = None if plan.scheme == "kfold_unstratified" else strata
    splits = repeated_kfold_splits(len(strata), plan.n_splits, plan.n_repeats, seed, stratified)
    return [(i // plan.n_splits, train, test) for i, (train, test) in enumerate(splits)]


def out_of_fold_predictions(X: np.ndarray, outcome: Outcome, preprocess: PreprocessSpec, model: PathSpec,
                            plan: OuterCV, seed: int) -> tuple[np.ndarray, list]:
    """Out-of-fold linear predictors (patients x repeats) and the penalty chosen in each outer fold."""
    return nested_out_of_fold(RowPreprocessing(preprocess, X), outcome, model, plan, seed)


def nested_out_of_fold(data: RowPreprocessing, outcome: Outcome, model: PathSpec, plan: OuterCV,
                       seed: int) -> tuple[np.ndarray, list]:
    """:func:`out_of_fold_predictions` of ``data.X``, sharing ``data``'s memory of fitted preprocessing."""
    predictions = np.full((len(data.X), plan.n_repeats), np.nan)
    alphas = []
    for repeat, train, test in outer_splits(outcome.strata, plan, seed):
        fitted = _fit_nested(data, train, outcome.take(train), model)
        predictions[test, repeat] = fitted.predict(data.X, test)
        alphas.append(fitted.alpha)
    return predictions, alphas


def permutation_order(n: int, permutation_seed: int) -> np.ndarray:
    """The patient order of one permutation: outcome row ``order[i]`` goes to patient ``i``."""
    return np.random.default_rng(permutation_seed).permutation(n)


def permuted_scores(X: np.ndarray, outcome: Outcome, preprocess: PreprocessSpec, model: PathSpec,
                    plan_args: dict, split_seed: int, permutation_seed: int) -> dict:
    """Metrics of the whole nested procedure refitted on one permutation.

    Without covariates the outcomes are permuted (survival: (time, event) pairs together) and the folds
    follow the permuted strata. With unpenalised covariates the omics columns' rows are permuted and
    the covariates stay with the outcome, so the null is "the omics add nothing to the covariates"
    rather than "covariates and omics are both useless"; the folds are then those of the observed data.
    """
    return permutations_scores(RowPreprocessing(preprocess, X), outcome, model, plan_args, split_seed,
                               [permutation_seed])[0]


def permutations_scores(data: RowPreprocessing, outcome: Outcome, model: PathSpec, plan_args: dict,
                        split_seed: int, permutation_seeds) -> list[dict]:
    """:func:`permuted_scores` of each seed, sharing the label-free preprocessing of ``data``'s rows.

    Without covariates every permutation refits the same matrix, and a training fold whose rows recur
    (in another permutation, or as an inner fold) reuses its prefilters, imputation and scaling.
    """
    scores = []
    covariates = data.spec.unpenalised
    for permutation_seed in permutation_seeds:
        order = permutation_order(len(outcome), permutation_seed)
        if covariates.any():
            permuted_X = data.X.copy()
            permuted_X[:, ~covariates] = data.X[order][:, ~covariates]
            permuted_data, permuted = RowPreprocessing(data.spec, permuted_X), outcome
        else:
            permuted_data, permuted = data, outcome.take(order)
        plan = plan_outer_cv(permuted.strata, survival=outcome.survival, **plan_args)
        predictions, _ = nested_out_of_fold(permuted_data, permuted, model, plan, split_seed)
        scores.append(repeat_averaged_scores(permuted, predictions))
    return scores


def covariate_only_predictions(X: np.ndarray, outcome: Outcome, covariates: np.ndarray, plan: OuterCV,
                               seed: int) -> np.ndarray:
    """Out-of-fold linear predictors (patients x repeats) of the unpenalised covariate-only model.

    Fitted in the same outer folds as the penalised model (same ``plan`` and ``seed``): Cox or logistic
    regression on the covariates standardised on each training fold (:func:`model_paths.unpenalised_fit`).
    """
    predictions = np.full((len(X), plan.n_repeats), np.nan)
    values = X[:, covariates]
    for repeat, train, test in outer_splits(outcome.strata, plan, seed):
        mean = values[train].mean(axis=0)
        scale = values[train].std(axis=0)
        scale = np.where(scale > 1e-12, scale, 1.0)
        coef = unpenalised_fit((values[train] - mean) / scale, outcome.take(train))
        predictions[test, repeat] = ((values[test] - mean) / scale) @ coef
    return predictions


# -------------------------------------------------------------------------- stability selection

def first_to_enter(coef_path: np.ndarray, q: int, exclude: np.ndarray | None = None) -> np.ndarray:
    """Indices of the first ``q`` columns to become non-zero along a path (decreasing penalty).

    Features entering at the same penalty are ordered by |coefficient| there (largest first), then
    by position; ``exclude`` (a boolean mask, e.g. unpenalised covariates) never counts.
    """
    path = np.nan_to_num(np.asarray(coef_path, dtype=np.float64))
    nonzero = path != 0
    entered = nonzero.any(axis=1)
    if exclude is not None:
        entered &= ~np.asarray(exclude, dtype=bool)
    candidates = np.flatnonzero(entered)
    if candidates.size == 0:
        return candidates
    first = nonzero[candidates].argmax(axis=1)
    size = np.abs(path[candidates, first])
    order = np.lexsort((np.arange(candidates.size), -size, first))
    return candidates[order[:q]]


def complementary_halves(strata: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint random subsamples of floor(n / 2) patients each, balanced on the strata.

    The patients are shuffled, ordered by stratum, and dealt alternately to the two halves (so each
    half holds half of every stratum, within one); with n odd the first half's last patient is left out.
    """
    order = rng.permutation(len(strata))
    order = order[np.argsort(strata[order], kind="stable")]
    half = len(strata) // 2
    return np.sort(order[0::2][:half]), np.sort(order[1::2][:half])


@dataclass(frozen=True)
class SelectionCounts:
    """Per original column: subsamples selecting it, subsamples it reached the model, sum of entry signs."""

    times_selected: np.ndarray
    times_in_model: np.ndarray
    sign_sum: np.ndarray
    selected_sizes: list
    model_sizes: list
    subsample_sizes: list


def selection_counts(X: np.ndarray, outcome: Outcome, preprocess: PreprocessSpec, model: PathSpec,
                     n_pairs: int, q: int, seed: int) -> SelectionCounts:
    """"First q" selection on ``n_pairs`` complementary pairs of half samples (Shah & Samworth 2013).

    Pair b is :func:`complementary_halves` with ``numpy.random.default_rng(derive_seed(seed, "pair", b))``.
    """
    n_columns = X.shape[1]
    counts = np.zeros(n_columns, dtype=np.int64)
    considered = np.zeros(n_columns, dtype=np.int64)
    sign_sum = np.zeros(n_columns)
    selected_sizes, model_sizes, subsample_sizes = [], [], []
    strata = outcome.strata
    halves = (rows for b in range(n_pairs)
              for rows in complementary_halves(strata, np.random.default_rng(derive_seed(seed, "pair", b))))
    data = RowPreprocessing(preprocess, X)
    for rows in halves:
        sub_outcome = outcome.take(rows)
        fitted, values = data.fit(rows, sub_outcome)
        # The first q to enter are known once q have entered: the rest of the path is not computed.
        path = fit_path(model, values, sub_outcome, fitted.unpenalised, stop_entered=q)
        columns = fitted.columns
        considered[columns] += 1
        chosen = first_to_enter(path.coef, q, fitted.unpenalised)
        selected_sizes.append(len(chosen))
        model_sizes.append(int((~fitted.unpenalised).sum()))
        subsample_sizes.append(len(rows))
        for index in chosen:
            entry = path.coef[index]
            entry = entry[np.nan_to_num(entry) != 0]
            counts[columns[index]] += 1
            sign_sum[columns[index]] += float(np.sign(entry[0]))
    return SelectionCounts(counts, considered, sign_sum, selected_sizes, model_sizes, subsample_sizes)

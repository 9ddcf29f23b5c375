"""Penalised multivariable models with honest validation: nested CV, permutation tests, stability selection.

With about 20 patients, anything that learns from the data must be refitted inside every training
fold, or the estimated performance is fantasy. Here:

- Every learned step is a scikit-learn transformer in one preprocessing ``Pipeline``
  (:func:`make_preprocess`): label-free prefilters (missingness, prevalence of alterations, top
  variance per modality), imputation of protein values, standardisation, and an optional supervised
  univariate selection. :class:`NestedPenalisedModel` refits that pipeline in every inner fold and
  once more on its whole training set, so the outer loop of :func:`evaluate_model` never lets a test
  patient influence filtering, scaling, imputation, selection or the penalty.
- Survival endpoints use the elastic-net Cox model (scikit-survival's coordinate-descent Coxnet);
  binary endpoints use L1-penalised logistic regression (liblinear). Clinical covariates can be
  left unpenalised. The penalty is tuned in an inner stratified K-fold on the outer training set over
  a grid estimated on that training set: for Cox by the cross-validated partial log-likelihood of
  Verweij & van Houwelingen (1993, the criterion of glmnet), for logistic regression by the pooled
  held-out binomial log-likelihood. Each inner fold fits the whole penalty path once (warm starts),
  which gives the same choice as a grid search over the pipeline at a fraction of the cost.
- Performance (:func:`evaluate_model`) is measured on out-of-fold predictions pooled within each
  repeat of the outer loop (repeated stratified K-fold, or leave-one-out): Harrell's and Uno's C for
  survival, ROC AUC for binary endpoints. The estimate is the mean over repeats; the 95 % interval is
  the percentile bootstrap over patients of that mean (the same resampled patients in every repeat).
  The permutation p-value refits the entire nested procedure on permuted labels (survival: the
  (time, event) pairs move together): p = (1 + #{permuted >= observed}) / (1 + #permutations).
- Stability selection (:func:`stability_selection`, Meinshausen & Bühlmann 2010): on random half
  samples (stratified by event or class) the preprocessing is refitted and the penalty path computed;
  the first ``q`` features to enter the path are selected ("first q", as in the R package stabs).
  The selection frequency of each feature is reported with the threshold and the bound on the expected
  number of falsely selected features, E[V] <= q^2 / ((2 * threshold - 1) * p), where ``q`` is the
  mean number selected per subsample and ``p`` the number of features that reached the penalised model.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from scipy.stats import mannwhitneyu
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, LeaveOneOut, RepeatedKFold, RepeatedStratifiedKFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sksurv.linear_model import CoxnetSurvivalAnalysis
from sksurv.metrics import concordance_index_ipcw
from sksurv.util import Surv

from .multitest import benjamini_hochberg
from .seeds import derive_seed
from .survival import (CONTINUOUS, COVARIATE, SURVIVAL_ENDPOINTS, endpoint_labels,
                       feature_kinds, prefilter_mask, univariate_cox)

SURVIVAL = "survival"
CLASSIFICATION = "binary"
SURVIVAL_METRICS = ("c_index", "c_index_uno")
CLASSIFICATION_METRICS = ("auc",)
PRIMARY_METRIC = {SURVIVAL: "c_index", CLASSIFICATION: "auc"}
JOINT_SEPARATOR = ":"
COVARIATE_GROUP = "covariate"


# ----------------------------------------------------------------------------------------- targets

def task_of(endpoint: str) -> str:
    """``survival`` for pfs/os, ``binary`` for responder/clinical_benefit."""
    return SURVIVAL if endpoint in SURVIVAL_ENDPOINTS else CLASSIFICATION


def make_target(outcome: pd.DataFrame, task: str) -> np.ndarray:
    """scikit-survival structured array (event, time) for survival, else an int array of 0/1 labels."""
    if task == SURVIVAL:
        return Surv.from_arrays(event=outcome["event"].to_numpy(bool), time=outcome["time"].to_numpy(float))
    return outcome["label"].to_numpy(int)


def _is_survival(y) -> bool:
    return getattr(y, "dtype", None) is not None and y.dtype.names is not None


def strata_of(y) -> np.ndarray:
    """What the CV splits are stratified on: the event indicator, or the class label."""
    if _is_survival(y):
        return y[y.dtype.names[0]].astype(int)
    return np.asarray(y, dtype=int)


# ------------------------------------------------------------------------------ pipeline steps

class FeaturePrefilter(TransformerMixin, BaseEstimator):
    """Label-free prefilters of :func:`trialomics.survival.prefilter_mask`, learned on the training rows.

    Parameters
    ----------
    kinds : pandas Series, column name -> ``binary`` / ``continuous`` / ``covariate`` (missing names
        count as continuous). A schema property of the data (which columns are 0/1 alterations),
        not something learned from outcomes.
    groups : pandas Series, column name -> group (modality) within which ``top_variance`` applies;
        ``None`` puts all columns in one group.
    max_missing, min_altered, min_altered_fraction, top_variance : see ``prefilter_mask``.
    """

    def __init__(self, kinds=None, groups=None, max_missing=0.5, min_altered=2, min_altered_fraction=0.1,
                 top_variance=500):
        self.kinds = kinds
        self.groups = groups
        self.max_missing = max_missing
        self.min_altered = min_altered
        self.min_altered_fraction = min_altered_fraction
        self.top_variance = top_variance

    def fit(self, X: pd.DataFrame, y=None):
        kinds = (pd.Series(CONTINUOUS, index=X.columns) if self.kinds is None
                 else self.kinds.reindex(X.columns).fillna(CONTINUOUS))
        groups = None if self.groups is None else self.groups.reindex(X.columns).fillna("").to_numpy()
        mask = prefilter_mask(X.to_numpy(dtype=np.float64), kinds.to_numpy(), groups,
                              max_missing=self.max_missing, min_altered=self.min_altered,
                              min_altered_fraction=self.min_altered_fraction, top_variance=self.top_variance)
        self.columns_ = X.columns[mask]
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        return X.loc[:, self.columns_]

    def get_feature_names_out(self, input_features=None):
        return np.asarray(self.columns_, dtype=object)


class BlockImputer(TransformerMixin, BaseEstimator):
    """Apply an imputer to some columns only (the protein block), refitted on the training rows.

    ``imputer`` is any scikit-learn transformer taking samples x features arrays (e.g.
    ``trialomics.proteins.make_imputer``); ``None`` imputes nothing. ``columns`` names the columns it
    imputes (``None``: all). Missing values left in other columns are an error, never silently filled.
    """

    def __init__(self, imputer=None, columns=None):
        self.imputer = imputer
        self.columns = columns

    def _targets(self, X: pd.DataFrame) -> list:
        if self.columns is None:
            return list(X.columns)
        wanted = set(self.columns)
        return [c for c in X.columns if c in wanted]

    def fit(self, X: pd.DataFrame, y=None):
        self.targets_ = self._targets(X) if self.imputer is not None else []
        self.imputer_ = (clone(self.imputer).fit(X.loc[:, self.targets_].to_numpy(dtype=np.float64))
                         if self.targets_ else None)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        values = X.to_numpy(dtype=np.float64, copy=True)
        if self.imputer_ is not None:
            positions = X.columns.get_indexer(self.targets_)
            values[:, positions] = np.asarray(self.imputer_.transform(values[:, positions]), dtype=np.float64)
        missing = np.isnan(values).any(axis=0)
        if missing.any():
            left = X.columns[missing].tolist()
            raise ValueError(f"missing values in columns without an imputer: {', '.join(map(str, left[:5]))}")
        return pd.DataFrame(values, index=X.index, columns=X.columns)

    def get_feature_names_out(self, input_features=None):
        return np.asarray(input_features, dtype=object)


class Standardiser(TransformerMixin, BaseEstimator):
    """Centre and scale every column to unit variance over the training rows (DataFrame in and out).

    Same arithmetic as scikit-learn's ``StandardScaler`` (population SD; a constant column is only
    centred), without its per-call validation of every DataFrame column, which dominated the cost of
    the nested permutation test.
    """

    def fit(self, X: pd.DataFrame, y=None):
        values = X.to_numpy(dtype=np.float64)
        self.mean_ = values.mean(axis=0)
        scale = values.std(axis=0)
        self.scale_ = np.where(scale > 1e-12, scale, 1.0)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        values = (X.to_numpy(dtype=np.float64) - self.mean_) / self.scale_
        return pd.DataFrame(values, index=X.index, columns=X.columns)

    def get_feature_names_out(self, input_features=None):
        return np.asarray(input_features, dtype=object)


def cox_score(X: np.ndarray, time, event) -> tuple[np.ndarray, np.ndarray]:
    """Univariate Cox score U and information I of every column at beta = 0 (Breslow risk sets).

    U_j = sum over events of (x_ij - risk-set mean of x_j); I_j = sum over events of the risk-set
    variance of x_j.
    """
    X = np.asarray(X, dtype=np.float64)
    time = np.asarray(time, dtype=np.float64)
    event = np.asarray(event, dtype=bool)
    if not event.any():
        return np.zeros(X.shape[1]), np.zeros(X.shape[1])
    at_risk = (time[None, :] >= time[event][:, None]).astype(np.float64)    # events x patients
    n_risk = at_risk.sum(axis=1, keepdims=True)
    mean = at_risk @ X / n_risk
    variance = at_risk @ (X ** 2) / n_risk - mean ** 2
    return (X[event] - mean).sum(axis=0), np.clip(variance, 0.0, None).sum(axis=0)


def cox_score_z(X: np.ndarray, time, event) -> np.ndarray:
    """Univariate Cox score-test z statistic U / sqrt(I) of every column; 0 where I is 0."""
    score, information = cox_score(X, time, event)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = score / np.sqrt(information)
    return np.where(information > 1e-12, z, 0.0)


def welch_t(X: np.ndarray, label) -> np.ndarray:
    """Welch t statistic (class 1 minus class 0) of every column; 0 where both variances are 0."""
    X = np.asarray(X, dtype=np.float64)
    label = np.asarray(label, dtype=int)
    a, b = X[label == 1], X[label == 0]
    if len(a) < 2 or len(b) < 2:
        return np.zeros(X.shape[1])
    se2 = a.var(axis=0, ddof=1) / len(a) + b.var(axis=0, ddof=1) / len(b)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = (a.mean(axis=0) - b.mean(axis=0)) / np.sqrt(se2)
    return np.where(se2 > 1e-12, t, 0.0)


class UnivariateSelector(TransformerMixin, BaseEstimator):
    """Keep the ``k`` columns with the largest univariate association with the outcome.

    Association: |Cox score z| for survival targets, |Welch t| for binary labels. Columns named in
    ``keep`` (clinical covariates) are always kept. ``k=None`` keeps everything. Supervised: it must
    sit inside the cross-validated pipeline, never before it.
    """

    def __init__(self, k=None, keep=()):
        self.k = k
        self.keep = keep

    def fit(self, X: pd.DataFrame, y):
        kept = set(self.keep)
        candidates = [c for c in X.columns if c not in kept]
        if self.k is None or len(candidates) <= self.k:
            self.columns_ = X.columns
            return self
        values = X[candidates].to_numpy(dtype=np.float64)
        if _is_survival(y):
            event_field, time_field = y.dtype.names
            score = np.abs(cox_score_z(values, y[time_field], y[event_field]))
        else:
            score = np.abs(welch_t(values, y))
        chosen = {candidates[i] for i in np.argsort(-score, kind="stable")[: self.k]}
        self.columns_ = pd.Index([c for c in X.columns if c in chosen or c in kept])
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        return X.loc[:, self.columns_]

    def get_feature_names_out(self, input_features=None):
        return np.asarray(self.columns_, dtype=object)


def make_preprocess(kinds: pd.Series | None = None, groups: pd.Series | None = None, imputer=None,
                    impute_columns=None, max_missing: float = 0.5, min_altered: int = 2,
                    min_altered_fraction: float = 0.1, top_variance: int | None = 500,
                    select_k: int | None = None, keep=()) -> Pipeline:
    """The preprocessing pipeline refitted in every training fold: filter, impute, scale, select."""
    return Pipeline([
        ("prefilter", FeaturePrefilter(kinds=kinds, groups=groups, max_missing=max_missing,
                                       min_altered=min_altered, min_altered_fraction=min_altered_fraction,
                                       top_variance=top_variance)),
        ("impute", BlockImputer(imputer=imputer, columns=impute_columns)),
        ("scale", Standardiser()),
        ("select", UnivariateSelector(k=select_k, keep=tuple(keep))),
    ])


# ---------------------------------------------------------------------------- penalised models

def _decreasing_grid(alpha_max: float, n_alphas: int, alpha_min_ratio: float) -> np.ndarray:
    return alpha_max * np.logspace(0.0, math.log10(alpha_min_ratio), n_alphas)


class CoxnetPath(BaseEstimator):
    """Elastic-net Cox regression over a path of penalties (scikit-survival Coxnet).

    ``unpenalised`` names columns with penalty factor 0 (clinical covariates). ``fit_path`` estimates
    the grid on the data it is given unless ``alphas`` is passed (inner folds reuse the outer grid). A
    path that fails numerically at small penalties (complete separation at n ~ 20) is refitted on the
    larger penalties only; the failed alphas get NaN coefficients and can never be chosen.
    """

    def __init__(self, l1_ratio=0.5, n_alphas=10, alpha_min_ratio=0.05, unpenalised=()):
        self.l1_ratio = l1_ratio
        self.n_alphas = n_alphas
        self.alpha_min_ratio = alpha_min_ratio
        self.unpenalised = unpenalised

    def _coxnet(self, columns, alphas):
        unpenalised = set(self.unpenalised)
        factor = np.array([0.0 if c in unpenalised else 1.0 for c in columns])
        return CoxnetSurvivalAnalysis(alphas=alphas, n_alphas=self.n_alphas, l1_ratio=self.l1_ratio,
                                      alpha_min_ratio=self.alpha_min_ratio, penalty_factor=factor,
                                      fit_baseline_model=False)

    def fit_path(self, X: pd.DataFrame, y, alphas=None):
        self.feature_names_ = pd.Index(X.columns)
        values = X.to_numpy(dtype=np.float64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.filterwarnings("ignore", message="all coefficients are zero")
            if alphas is None:
                try:
                    model = self._coxnet(X.columns, None).fit(values, y)
                    self.alphas_ = model.alphas_
                    self.coef_path_ = model.coef_
                    return self
                except (ArithmeticError, ValueError):
                    # Same grid as Coxnet: from the penalty that zeroes every coefficient (largest
                    # score of the mean partial log-likelihood at 0, over l1_ratio) down.
                    event_field, time_field = y.dtype.names
                    score, _ = cox_score(values, y[time_field], y[event_field])
                    alpha_max = float(np.abs(score).max()) / (len(values) * self.l1_ratio) or 1.0
                    alphas = _decreasing_grid(alpha_max, self.n_alphas, self.alpha_min_ratio)
            alphas = np.asarray(alphas, dtype=np.float64)
            self.alphas_ = alphas
            self.coef_path_ = np.full((values.shape[1], len(alphas)), np.nan)
            usable = len(alphas)
            while usable > 0:
                try:
                    model = self._coxnet(X.columns, alphas[:usable]).fit(values, y)
                    self.coef_path_[:, :usable] = model.coef_
                    break
                except (ArithmeticError, ValueError):
                    usable -= max(1, usable // 3)
        return self

    def decision_path(self, X: pd.DataFrame) -> np.ndarray:
        """Linear predictors (log relative hazard), patients x alphas."""
        return X.to_numpy(dtype=np.float64) @ self.coef_path_

    linear_predictor_path = decision_path


class LogisticL1Path(BaseEstimator):
    """L1-penalised logistic regression over a path of penalties (liblinear).

    Penalty ``alpha`` is on the glmnet scale: the objective is mean log-loss + alpha * ||w||_1, i.e.
    scikit-learn's ``C = 1 / (n * alpha)``. liblinear also penalises the intercept; it is fitted on a
    constant column of ``intercept_scaling`` so that this penalty is negligible. ``unpenalised``
    columns are multiplied by ``1 / unpenalised_weight`` before fitting, which divides their L1 penalty
    by that factor (the coefficients are reported on the original scale). liblinear shuffles its
    coordinates with ``random_state``, fixed here so that the fit is deterministic. Why liblinear and not
    saga's elastic net: at 16 patients x 500 features a 10-penalty path took ~15 ms with liblinear
    and ~1 s with saga, and the nested permutation test fits tens of thousands of paths.
    """

    def __init__(self, n_alphas=10, alpha_min_ratio=0.05, unpenalised=(), intercept_scaling=100.0,
                 unpenalised_weight=0.01):
        self.n_alphas = n_alphas
        self.alpha_min_ratio = alpha_min_ratio
        self.unpenalised = unpenalised
        self.intercept_scaling = intercept_scaling
        self.unpenalised_weight = unpenalised_weight

    def fit_path(self, X: pd.DataFrame, y, alphas=None):
        self.feature_names_ = pd.Index(X.columns)
        y = np.asarray(y, dtype=int)
        values = X.to_numpy(dtype=np.float64)
        n = len(y)
        unpenalised = set(self.unpenalised)
        scale = np.array([1.0 / self.unpenalised_weight if c in unpenalised else 1.0 for c in X.columns])
        if alphas is None:
            penalised = scale == 1.0
            gradient = np.abs(values[:, penalised].T @ (y - y.mean())) / n if penalised.any() else np.zeros(1)
            alpha_max = float(gradient.max()) if gradient.size and gradient.max() > 0 else 1.0
            alphas = _decreasing_grid(alpha_max, self.n_alphas, self.alpha_min_ratio)
        alphas = np.asarray(alphas, dtype=np.float64)
        self.alphas_ = alphas
        self.coef_path_ = np.zeros((values.shape[1], len(alphas)))
        positives = int(y.sum())
        # A single-class training set carries no information on the features: intercept-only fit.
        self.intercept_path_ = np.full(len(alphas), math.log((positives + 0.5) / (n - positives + 0.5)))
        if 0 < positives < n and values.shape[1]:
            scaled = values * scale
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                for i, alpha in enumerate(alphas):
                    fit = LogisticRegression(C=1.0 / (n * alpha), l1_ratio=1.0, solver="liblinear",
                                             intercept_scaling=self.intercept_scaling, max_iter=1000,
                                             tol=1e-4, random_state=0).fit(scaled, y)
                    self.coef_path_[:, i] = fit.coef_[0] * scale
                    self.intercept_path_[i] = fit.intercept_[0]
        return self

    def decision_path(self, X: pd.DataFrame) -> np.ndarray:
        """Log-odds of class 1, patients x alphas."""
        return self.linear_predictor_path(X) + self.intercept_path_[None, :]

    def linear_predictor_path(self, X: pd.DataFrame) -> np.ndarray:
        """Features' contribution to the log-odds (no intercept), patients x alphas."""
        return X.to_numpy(dtype=np.float64) @ self.coef_path_


def make_model(task: str, l1_ratio: float = 0.5, n_alphas: int = 10, alpha_min_ratio: float = 0.05,
               unpenalised=()) -> BaseEstimator:
    """Coxnet path for survival, L1-logistic path for binary endpoints (``l1_ratio`` is Cox only)."""
    if task == SURVIVAL:
        return CoxnetPath(l1_ratio=l1_ratio, n_alphas=n_alphas, alpha_min_ratio=alpha_min_ratio,
                          unpenalised=tuple(unpenalised))
    return LogisticL1Path(n_alphas=n_alphas, alpha_min_ratio=alpha_min_ratio, unpenalised=tuple(unpenalised))


def cox_log_partial_likelihood(time, event, eta: np.ndarray) -> np.ndarray:
    """Breslow log partial likelihood of each column of linear predictors ``eta`` (patients x k)."""
    time = np.asarray(time, dtype=np.float64)
    event = np.asarray(event, dtype=bool)
    eta = np.asarray(eta, dtype=np.float64).reshape(len(time), -1)
    if not event.any():
        return np.zeros(eta.shape[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a failed (all-NaN) column scores NaN
        shift = np.nan_to_num(np.nanmax(eta, axis=0, keepdims=True))
    at_risk = (time[None, :] >= time[event][:, None]).astype(np.float64)
    log_risk = np.log(at_risk @ np.exp(eta - shift)) + shift
    return (eta[event] - log_risk).sum(axis=0)


def binomial_log_likelihood(label, logit: np.ndarray) -> np.ndarray:
    """Sum of log p(label) for each column of log-odds ``logit`` (patients x k)."""
    label = np.asarray(label, dtype=np.float64)[:, None]
    logit = np.asarray(logit, dtype=np.float64).reshape(len(label), -1)
    return -(np.logaddexp(0.0, logit) - label * logit).sum(axis=0)


def inner_splitter(strata: np.ndarray, n_splits: int, seed: int):
    """Stratified K-fold with K lowered to the minority count; plain K-fold if a stratum has < 2."""
    counts = np.bincount(strata, minlength=2)
    minority = int(counts.min())
    if minority >= 2:
        return StratifiedKFold(n_splits=min(n_splits, minority), shuffle=True, random_state=seed)
    return KFold(n_splits=min(n_splits, len(strata)), shuffle=True, random_state=seed)


class NestedPenalisedModel(BaseEstimator):
    """Preprocessing pipeline + penalised model, with the penalty tuned by an inner cross-validation.

    ``fit(X, y)`` learns everything from (X, y) only: the penalty grid, the inner-fold scores (each
    inner fold refits the whole preprocessing pipeline and the path), and the final refit at the best
    penalty. Ties between penalties go to the larger (sparser) one. ``predict`` returns the linear
    predictor of the features: log relative hazard (survival) or log-odds without intercept (binary).
    """

    def __init__(self, preprocess=None, model=None, inner_folds=3, seed=0):
        self.preprocess = preprocess
        self.model = model
        self.inner_folds = inner_folds
        self.seed = seed

    def fit(self, X: pd.DataFrame, y):
        survival = _is_survival(y)
        self.preprocess_ = clone(self.preprocess).fit(X, y)
        self.model_ = clone(self.model).fit_path(self.preprocess_.transform(X), y)
        alphas = self.model_.alphas_
        scores = np.zeros(len(alphas))
        strata = strata_of(y)
        for train, test in inner_splitter(strata, self.inner_folds, self.seed).split(X, strata):
            inner_pre = clone(self.preprocess).fit(X.iloc[train], y[train])
            inner = clone(self.model).fit_path(inner_pre.transform(X.iloc[train]), y[train], alphas)
            if survival:
                # Verweij & van Houwelingen: l(beta_-k; all) - l_-k(beta_-k; training part of the fold).
                event_field, time_field = y.dtype.names
                eta = inner.decision_path(inner_pre.transform(X))
                scores += (cox_log_partial_likelihood(y[time_field], y[event_field], eta)
                           - cox_log_partial_likelihood(y[time_field][train], y[event_field][train],
                                                        eta[train]))
            else:
                eta = inner.decision_path(inner_pre.transform(X.iloc[test]))
                scores += binomial_log_likelihood(y[test], eta)
        scores = np.where(np.isfinite(scores), scores, -np.inf)
        self.cv_scores_ = scores
        self.alpha_index_ = int(np.argmax(scores))
        final_column = self.model_.coef_path_[:, self.alpha_index_]
        if np.isnan(final_column).any():
            # The full-data path failed at this penalty: use the smallest penalty that converged.
            finite = np.flatnonzero(~np.isnan(self.model_.coef_path_).any(axis=0))
            self.alpha_index_ = int(finite[-1]) if finite.size else 0
        self.alpha_ = float(alphas[self.alpha_index_])
        return self

    @property
    def coef_(self) -> pd.Series:
        """Coefficients at the chosen penalty, on the standardised scale, by feature name."""
        column = np.nan_to_num(self.model_.coef_path_[:, self.alpha_index_])
        return pd.Series(column, index=self.model_.feature_names_, name="coefficient")

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Risk score: the features' linear predictor at the chosen penalty (no intercept).

        The logistic intercept is constant within a fold and reflects the training fold's base rate,
        which is anti-correlated with the test fold's; pooled out-of-fold scores that kept it would
        rank a whole fold above another and bias the AUC below 0.5 on null data.
        """
        eta = self.model_.linear_predictor_path(self.preprocess_.transform(X))[:, self.alpha_index_]
        return np.nan_to_num(eta)


# ------------------------------------------------------------------------------------- metrics

def harrell_c(time, event, risk) -> float:
    """Harrell's concordance index; higher ``risk`` should mean earlier events; risk ties count 1/2.

    A pair is comparable when the earlier time is an event (and also when an event and a censoring
    share a time, the event counting as earlier), as in ``sksurv.metrics.concordance_index_censored``.
    NaN when no pair is comparable.
    """
    time = np.asarray(time, dtype=np.float64)
    event = np.asarray(event, dtype=bool)
    risk = np.asarray(risk, dtype=np.float64)
    earlier = (time[:, None] < time[None, :]) | ((time[:, None] == time[None, :]) & ~event[None, :])
    comparable = earlier & event[:, None]
    np.fill_diagonal(comparable, False)
    total = comparable.sum()
    if total == 0:
        return np.nan
    difference = risk[:, None] - risk[None, :]
    concordant = (comparable & (difference > 0)).sum() + 0.5 * (comparable & (difference == 0)).sum()
    return float(concordant / total)


def uno_c(time, event, risk, tau: float | None = None) -> float:
    """Uno's IPCW concordance (scikit-survival), censoring distribution from the same patients.

    NaN where it is not defined (no events, or the censoring survival reaches zero before an event).
    """
    event = np.asarray(event, dtype=bool)
    if not event.any():
        return np.nan
    target = Surv.from_arrays(event=event, time=np.asarray(time, dtype=np.float64))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(concordance_index_ipcw(target, target, np.asarray(risk, dtype=np.float64), tau=tau)[0])
    except (ValueError, ZeroDivisionError):
        return np.nan


def roc_auc(label, score) -> float:
    """Area under the ROC curve (Mann–Whitney; score ties count 1/2); NaN with a single class."""
    label = np.asarray(label, dtype=int)
    score = np.asarray(score, dtype=np.float64)
    positive, negative = score[label == 1], score[label == 0]
    if len(positive) == 0 or len(negative) == 0:
        return np.nan
    difference = positive[:, None] - negative[None, :]
    return float(((difference > 0).sum() + 0.5 * (difference == 0).sum()) / difference.size)


def score_predictions(y, prediction, task: str) -> dict:
    """Every metric of ``task`` for one vector of out-of-fold predictions."""
    if task == SURVIVAL:
        event_field, time_field = y.dtype.names
        return {"c_index": harrell_c(y[time_field], y[event_field], prediction),
                "c_index_uno": uno_c(y[time_field], y[event_field], prediction)}
    return {"auc": roc_auc(y, prediction)}


def repeat_averaged_scores(y, predictions: np.ndarray, task: str) -> dict:
    """Metrics averaged over repeats; ``predictions`` is patients x repeats (out-of-fold)."""
    per_repeat = [score_predictions(y, predictions[:, r], task) for r in range(predictions.shape[1])]
    metrics = per_repeat[0].keys()
    out = {}
    for metric in metrics:
        values = np.array([row[metric] for row in per_repeat], dtype=np.float64)
        out[metric] = float(np.nanmean(values)) if np.isfinite(values).any() else np.nan
    return out


def bootstrap_interval(y, predictions: np.ndarray, task: str, n_bootstrap: int = 200, seed: int = 0,
                       level: float = 0.95) -> dict:
    """Percentile bootstrap interval over patients of the repeat-averaged metrics.

    The same resampled patients are used for every repeat; resamples where a metric is undefined
    (no events, one class) are left out of that metric's interval.
    """
    rng = np.random.default_rng(seed)
    n = predictions.shape[0]
    draws: dict[str, list] = {metric: [] for metric in repeat_averaged_scores(y, predictions, task)}
    for _ in range(n_bootstrap):
        rows = rng.integers(0, n, n)
        for metric, value in repeat_averaged_scores(y[rows], predictions[rows], task).items():
            draws[metric].append(value)
    tail = (1.0 - level) / 2.0
    out = {}
    for metric, values in draws.items():
        values = np.array(values, dtype=np.float64)
        values = values[np.isfinite(values)]
        out[metric] = ((float(np.quantile(values, tail)), float(np.quantile(values, 1 - tail)))
                       if values.size else (np.nan, np.nan))
    return out


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
        return [(0, train, test) for train, test in LeaveOneOut().split(strata)]
    if plan.scheme == "kfold_unstratified":
        splitter = RepeatedKFold(n_splits=plan.n_splits, n_repeats=plan.n_repeats, random_state=seed)
        return [(i // plan.n_splits, train, test) for i, (train, test) in enumerate(splitter.split(strata))]
    splitter = RepeatedStratifiedKFold(n_splits=plan.n_splits, n_repeats=plan.n_repeats, random_state=seed)
    return [(i // plan.n_splits, train, test) for i, (train, test) in enumerate(splitter.split(strata, strata))]


def out_of_fold_predictions(X: pd.DataFrame, y, estimator, plan: OuterCV, seed: int) -> tuple[np.ndarray, list]:
    """Out-of-fold linear predictors (patients x repeats) and the penalty chosen in each outer fold."""
    predictions = np.full((len(X), plan.n_repeats), np.nan)
    alphas = []
    for repeat, train, test in outer_splits(strata_of(y), plan, seed):
        fitted = clone(estimator).fit(X.iloc[train], y[train])
        predictions[test, repeat] = fitted.predict(X.iloc[test])
        alphas.append(fitted.alpha_)
    return predictions, alphas


def _permuted_scores(X, y, estimator, plan_args: dict, task: str, split_seed: int, permutation_seed: int) -> dict:
    order = np.random.default_rng(permutation_seed).permutation(len(y))
    permuted = y[order]
    plan = plan_outer_cv(strata_of(permuted), survival=_is_survival(y), **plan_args)
    predictions, _ = out_of_fold_predictions(X, permuted, estimator, plan, split_seed)
    return repeat_averaged_scores(permuted, predictions, task)


@dataclass
class Evaluation:
    """Result of :func:`evaluate_model`."""

    performance: pd.DataFrame
    oof: pd.DataFrame
    permutations: pd.DataFrame


def evaluate_model(X: pd.DataFrame, y, estimator, task: str, scheme: str = "kfold", n_splits: int = 5,
                   n_repeats: int = 3, n_permutations: int = 100, n_bootstrap: int = 200, seed: int = 0,
                   n_jobs: int = 1) -> Evaluation:
    """Nested cross-validated performance, bootstrap interval and permutation p-value of ``estimator``.

    Returns an :class:`Evaluation` with ``performance`` (metric, estimate, ci_low, ci_high,
    permutation_p, outer_cv, n_splits, repeats, n_permutations, n_bootstrap), ``oof`` (patient_id,
    repeat, prediction) and ``permutations`` (permutation, then one column per metric). Seeds: outer
    splits use ``derive_seed(seed, "outer")``, bootstrap ``derive_seed(seed, "bootstrap")``, permutation i
    ``derive_seed(seed, "permutation", i)``; results do not depend on ``n_jobs``.
    """
    split_seed = derive_seed(seed, "outer")
    plan_args = {"scheme": scheme, "n_splits": n_splits, "n_repeats": n_repeats}
    plan = plan_outer_cv(strata_of(y), survival=_is_survival(y), **plan_args)
    predictions, _ = out_of_fold_predictions(X, y, estimator, plan, split_seed)
    observed = repeat_averaged_scores(y, predictions, task)
    interval = bootstrap_interval(y, predictions, task, n_bootstrap, derive_seed(seed, "bootstrap"))
    null = Parallel(n_jobs=n_jobs)(
        delayed(_permuted_scores)(X, y, estimator, plan_args, task, split_seed,
                                  derive_seed(seed, "permutation", i))
        for i in range(n_permutations))
    null_table = pd.DataFrame(null, columns=list(observed))
    null_table.insert(0, "permutation", np.arange(n_permutations))
    rows = []
    for metric, estimate in observed.items():
        values = null_table[metric].to_numpy(dtype=np.float64)
        values = values[np.isfinite(values)]
        p = ((1 + int((values >= estimate - 1e-12).sum())) / (1 + values.size)
             if values.size and np.isfinite(estimate) else np.nan)
        rows.append({"metric": metric, "estimate": estimate, "ci_low": interval[metric][0],
                     "ci_high": interval[metric][1], "permutation_p": p, "outer_cv": plan.label(),
                     "n_splits": plan.n_splits, "repeats": plan.n_repeats,
                     "n_permutations": int(values.size), "n_bootstrap": n_bootstrap})
    oof = pd.DataFrame({
        "patient_id": np.repeat(X.index.to_numpy(), plan.n_repeats),
        "repeat": np.tile(np.arange(plan.n_repeats), len(X)),
        "prediction": predictions.reshape(-1),
    })
    return Evaluation(pd.DataFrame(rows), oof, null_table)


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


def half_sample(strata: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Random subsample without replacement holding ``fraction`` of each stratum (at least one)."""
    chosen = []
    for level in np.unique(strata):
        members = np.flatnonzero(strata == level)
        size = max(1, int(round(fraction * members.size)))
        chosen.append(rng.choice(members, size=size, replace=False))
    return np.sort(np.concatenate(chosen))


def stability_selection(X: pd.DataFrame, y, preprocess, model, n_subsamples: int = 100, q: int = 8,
                        threshold: float = 0.6, fraction: float = 0.5, n_alphas: int = 50,
                        alpha_min_ratio: float = 0.01, seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """Selection frequency of every column of ``X`` over random half samples ("first q" selection).

    Returns (table with feature, selection_frequency (over all subsamples), times_selected,
    times_in_model (subsamples in which the feature passed the prefilters and could be selected),
    mean_coefficient_sign, selected (yes/no at ``threshold``), one row per feature that reached the
    model at least once, in the order of decreasing frequency then feature name; summary dict
    with n_subsamples, subsample_size, q_target, q_mean, p_mean, threshold, n_selected and
    expected_false_selections_bound). Subsample b uses ``derive_seed(seed, "subsample", b)``.
    Columns in the model's ``unpenalised`` list are never counted.
    """
    strata = strata_of(y)
    counts = pd.Series(0, index=X.columns, dtype=np.int64)
    considered = pd.Series(0, index=X.columns, dtype=np.int64)
    sign_sum = pd.Series(0.0, index=X.columns)
    selected_sizes, model_sizes, subsample_sizes = [], [], []
    unpenalised = set(getattr(model, "unpenalised", ()))
    path_model = clone(model).set_params(n_alphas=n_alphas, alpha_min_ratio=alpha_min_ratio)
    for b in range(n_subsamples):
        rows = half_sample(strata, fraction, np.random.default_rng(derive_seed(seed, "subsample", b)))
        pre = clone(preprocess).fit(X.iloc[rows], y[rows])
        design = pre.transform(X.iloc[rows])
        fitted = clone(path_model).fit_path(design, y[rows])
        names = fitted.feature_names_
        considered[names] += 1
        exclude = np.array([name in unpenalised for name in names], dtype=bool)
        chosen = first_to_enter(fitted.coef_path_, q, exclude)
        selected_sizes.append(len(chosen))
        model_sizes.append(int((~exclude).sum()))
        subsample_sizes.append(len(rows))
        for index in chosen:
            column = fitted.coef_path_[index]
            column = column[np.nan_to_num(column) != 0]
            counts[names[index]] += 1
            sign_sum[names[index]] += float(np.sign(column[0]))
    # Features that never passed the in-fold prefilters could not be selected: no row.
    keep = (considered > 0) & ~counts.index.isin(list(unpenalised))
    counts, considered, sign_sum = counts[keep], considered[keep], sign_sum[keep]
    frequency = counts / n_subsamples
    table = pd.DataFrame({
        "feature": counts.index.astype(str),
        "selection_frequency": frequency.to_numpy(),
        "times_selected": counts.to_numpy(),
        "times_in_model": considered.to_numpy(),
        "mean_coefficient_sign": np.where(counts > 0, sign_sum / counts.where(counts > 0, 1), np.nan),
    })
    table["selected"] = np.where(table["selection_frequency"] >= threshold, "yes", "no")
    table = table.sort_values(["selection_frequency", "feature"], ascending=[False, True],
                              kind="stable").reset_index(drop=True)
    q_mean = float(np.mean(selected_sizes)) if selected_sizes else 0.0
    p_mean = float(np.mean(model_sizes)) if model_sizes else 0.0
    summary = {"n_subsamples": n_subsamples,
               "subsample_size": float(np.mean(subsample_sizes)) if subsample_sizes else 0.0,
               "q_target": q, "q_mean": q_mean, "p_mean": p_mean, "threshold": threshold,
               "n_selected": int((table["selected"] == "yes").sum()),
               "expected_false_selections_bound": meinshausen_buhlmann_bound(q_mean, p_mean, threshold)}
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
                       n_permutations: int = 100, n_bootstrap: int = 200, stability_subsamples: int = 100,
                       stability_q: int = 8, stability_threshold: float = 0.6, max_missing: float = 0.5,
                       min_altered: int = 2, min_altered_fraction: float = 0.1, top_variance: int | None = 500,
                       select_k: int | None = None, seed: int = 0, n_jobs: int = 1) -> dict[str, pd.DataFrame]:
    """Everything the models stage reports for one endpoint and one block of modalities.

    ``blocks`` maps modality -> patients x features (``survival.modality_matrix``); ``obs`` holds the
    labels per patient. ``imputer`` (a transformer) is applied inside the folds to the proteins
    columns. Returns tables ``performance``, ``oof``, ``permutations``, ``stability``,
    ``stability_summary`` and ``coefficients`` (final model on all patients at its CV-chosen penalty).
    A block that cannot be evaluated (too few patients in an outcome group, no features) gives one
    performance row per metric with NaN estimates and a note, and empty tables otherwise.
    """
    task = task_of(endpoint)
    outcome = endpoint_labels(obs, endpoint)
    kinds = {modality: feature_kinds(values) for modality, values in blocks.items()}
    X, column_kinds, column_groups = assemble_block(blocks, kinds, outcome, covariates)
    y = make_target(outcome.loc[X.index], task)
    names = list(blocks)
    unpenalised = tuple(column_kinds.index[column_kinds == COVARIATE])
    protein_columns = (None if names == ["proteins"] else
                       tuple(column_groups.index[column_groups == "proteins"]))
    preprocess = make_preprocess(kinds=column_kinds, groups=column_groups, imputer=imputer,
                                 impute_columns=protein_columns, max_missing=max_missing,
                                 min_altered=min_altered, min_altered_fraction=min_altered_fraction,
                                 top_variance=top_variance, select_k=select_k, keep=unpenalised)
    model = make_model(task, l1_ratio=l1_ratio, n_alphas=n_alphas, alpha_min_ratio=alpha_min_ratio,
                       unpenalised=unpenalised)
    estimator = NestedPenalisedModel(preprocess, model, inner_folds=inner_folds,
                                     seed=derive_seed(seed, "inner"))
    strata = strata_of(y)
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
        plan_outer_cv(strata, scheme=outer_cv, n_splits=outer_folds, n_repeats=repeats, survival=task == SURVIVAL)
        if context["n_features"] == 0:
            raise ValueError("no features")
    except ValueError as problem:
        rows = [{**context, "metric": metric, "estimate": np.nan, "ci_low": np.nan, "ci_high": np.nan,
                 "permutation_p": np.nan, "outer_cv": outer_cv, "n_splits": np.nan, "repeats": np.nan,
                 "n_permutations": 0, "n_bootstrap": 0, "note": f"not evaluated: {problem}"}
                for metric in metrics]
        return {"performance": _performance_columns(pd.DataFrame(rows)), **empty}

    evaluation = evaluate_model(X, y, estimator, task, scheme=outer_cv, n_splits=outer_folds, n_repeats=repeats,
                                n_permutations=n_permutations, n_bootstrap=n_bootstrap, seed=seed,
                                n_jobs=n_jobs)
    performance = evaluation.performance.assign(**context, note="")
    final = clone(estimator).fit(X, y)
    coefficients = final.coef_
    coefficients = coefficients[(coefficients != 0) & ~coefficients.index.isin(unpenalised)]
    split = [split_feature_name(name, names) for name in coefficients.index]
    coefficient_table = pd.DataFrame({
        "model": model_name, "modality": [m for m, _ in split], "feature": [f for _, f in split],
        "coefficient": coefficients.to_numpy(), "alpha": final.alpha_})
    coefficient_table = coefficient_table.reindex(
        coefficient_table["coefficient"].abs().sort_values(ascending=False, kind="stable").index
    ).reset_index(drop=True)
    stability, summary = stability_selection(
        X, y, preprocess, model, n_subsamples=stability_subsamples, q=stability_q,
        threshold=stability_threshold, seed=derive_seed(seed, "stability"))
    summary_table = pd.DataFrame([{"model": model_name, "endpoint": endpoint, **summary,
                                   "n_patients": len(X), "seed": seed}])
    return {"performance": _performance_columns(performance), "oof": evaluation.oof,
            "permutations": evaluation.permutations, "stability": _stability_columns(stability, names, model_name),
            "stability_summary": summary_table, "coefficients": coefficient_table}


PERFORMANCE_COLUMNS = ["model", "metric", "estimate", "ci_low", "ci_high", "permutation_p", "endpoint",
                       "n_patients", "n_events", "n_positive", "n_features", "outer_cv", "n_splits", "repeats",
                       "n_permutations", "n_bootstrap", "seed", "note"]


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


# ------------------------------------------------------------- exploratory multi-omics factors

def multiblock_factors(blocks: dict[str, pd.DataFrame], n_factors: int = 5,
                       top_variance: int | None = 500) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Unsupervised multi-omics factors by multiple factor analysis (MFA; Escofier & Pagès).

    A documented alternative to MOFA+ (mofapy2 is not in the environment): in each modality the
    ``top_variance`` most variable features are z-scored (a missing value set to the feature mean, i.e.
    0), the block is divided by its first singular value so that no modality dominates by its size,
    and the concatenated blocks of the patients with every modality are decomposed by SVD. Label-free
    and fitted on all patients: its factors are exploratory and are only screened against outcomes.
    Returns (factor scores: patients x ``factor_1..k``; loadings: modality, feature, factor, loading).
    """
    patients = None
    for values in blocks.values():
        patients = values.index if patients is None else patients.intersection(values.index, sort=False)
    scaled_blocks, names = [], []
    for modality, values in blocks.items():
        values = values.loc[patients]
        kinds = feature_kinds(values)
        keep = prefilter_mask(values.to_numpy(dtype=np.float64), kinds.to_numpy(), top_variance=top_variance,
                              min_altered=2, min_altered_fraction=0.1, max_missing=0.5)
        block = values.loc[:, keep]
        centred = (block - block.mean()) / block.std(ddof=1).replace(0, 1.0)
        centred = centred.fillna(0.0).to_numpy(dtype=np.float64)
        if centred.shape[1] == 0:
            continue
        first = np.linalg.svd(centred, compute_uv=False)[0]
        scaled_blocks.append(centred / (first if first > 0 else 1.0))
        names.extend((modality, feature) for feature in block.columns)
    if not scaled_blocks or len(patients) < 3:
        return pd.DataFrame(index=patients), pd.DataFrame(columns=["modality", "feature", "factor", "loading"])
    joined = np.hstack(scaled_blocks)
    u, singular, vt = np.linalg.svd(joined, full_matrices=False)
    k = min(n_factors, len(singular) - 1 if len(singular) > 1 else 1)
    # Sign convention: the largest loading of each factor is positive (SVD signs are arbitrary).
    signs = np.sign(vt[np.arange(k), np.abs(vt[:k]).argmax(axis=1)])
    signs[signs == 0] = 1.0
    scores = pd.DataFrame(u[:, :k] * singular[:k] * signs, index=patients,
                          columns=[f"factor_{i + 1}" for i in range(k)])
    loadings = pd.DataFrame([
        {"modality": m, "feature": f, "factor": f"factor_{i + 1}", "loading": float(vt[i, j] * signs[i])}
        for i in range(k) for j, (m, f) in enumerate(names)])
    return scores, loadings


def screen_factors(scores: pd.DataFrame, obs: pd.DataFrame, endpoints: list[str]) -> pd.DataFrame:
    """Association of every factor with every endpoint, labelled exploratory.

    Survival endpoints: univariate Cox per SD of the factor (``survival.univariate_cox``); binary
    endpoints: Mann–Whitney U test (two-sided), effect = AUC of the factor for the 'yes' class. BH
    within each endpoint. Columns: endpoint, factor, effect, effect_type, pvalue, padj, n, analysis.
    """
    rows = []
    for endpoint in endpoints:
        outcome = endpoint_labels(obs, endpoint)
        patients = scores.index.intersection(outcome.index, sort=False)
        if task_of(endpoint) == SURVIVAL:
            kinds = pd.Series(CONTINUOUS, index=scores.columns)
            table = univariate_cox(scores.loc[patients], kinds, outcome.loc[patients])
            part = pd.DataFrame({"factor": table["feature"], "effect": table["hr"], "effect_type": "hr_per_sd",
                                 "pvalue": table["pvalue"], "n": table["n"]})
        else:
            label = outcome.loc[patients, "label"]
            part_rows = []
            for factor in scores.columns:
                x = scores.loc[patients, factor]
                yes, no = x[label == 1], x[label == 0]
                if len(yes) and len(no):
                    test = mannwhitneyu(yes, no, alternative="two-sided")
                    part_rows.append({"factor": factor, "effect": float(test.statistic) / (len(yes) * len(no)),
                                      "effect_type": "auc", "pvalue": float(test.pvalue), "n": len(x)})
                else:
                    part_rows.append({"factor": factor, "effect": np.nan, "effect_type": "auc",
                                      "pvalue": np.nan, "n": len(x)})
            part = pd.DataFrame(part_rows, columns=["factor", "effect", "effect_type", "pvalue", "n"])
        part["padj"] = benjamini_hochberg(part["pvalue"])
        part.insert(0, "endpoint", endpoint)
        rows.append(part)
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["endpoint", "factor", "effect", "effect_type", "pvalue", "n", "padj"])
    table["analysis"] = "exploratory"
    return table[["endpoint", "factor", "effect", "effect_type", "pvalue", "padj", "n", "analysis"]]

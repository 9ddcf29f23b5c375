"""The preprocessing refitted in every training fold of the models, as plain functions on arrays.

Steps, in order (:func:`fit_preprocess` learns them on training rows, :func:`transform` applies them):
label-free prefilters (missingness, prevalence of alterations, top variance per modality; see
:func:`trialomics.survival.prefilter_mask`), imputation of the protein columns by a fold-refitted
imputer, standardisation (population SD; a constant column is only centred, as scikit-learn's
``StandardScaler``), and an optional supervised univariate selection of ``select_k`` columns
(|Cox score z| for survival, |Welch t| for binary outcomes; unpenalised covariates always kept).

Everything is numpy: the nested cross-validation fits this thousands of times per model, and the
cost of DataFrames and estimator cloning used to dominate the arithmetic.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from .survival import CONTINUOUS, COVARIATE, prefilter_mask


@dataclass(frozen=True)
class Outcome:
    """The outcome of the patients (rows) of a model matrix: (time, event) or a 0/1 label."""

    survival: bool
    time: np.ndarray | None = None
    event: np.ndarray | None = None
    label: np.ndarray | None = None

    @classmethod
    def of_survival(cls, time, event) -> "Outcome":
        return cls(True, time=np.asarray(time, dtype=np.float64), event=np.asarray(event, dtype=bool))

    @classmethod
    def of_label(cls, label) -> "Outcome":
        return cls(False, label=np.asarray(label, dtype=int))

    def __len__(self) -> int:
        return len(self.time) if self.survival else len(self.label)

    @property
    def strata(self) -> np.ndarray:
        """What the CV splits are stratified on: the event indicator, or the class label."""
        return self.event.astype(int) if self.survival else self.label

    def take(self, rows) -> "Outcome":
        if self.survival:
            return Outcome(True, time=self.time[rows], event=self.event[rows])
        return Outcome(False, label=self.label[rows])


@dataclass(frozen=True)
class PreprocessSpec:
    """What the preprocessing knows about the columns, and its settings.

    ``kinds``: ``binary`` / ``continuous`` / ``covariate`` per column; ``groups``: the modality per
    column (``top_variance`` applies within each); ``imputed``: the columns ``imputer`` fills (a
    scikit-learn style transformer, refitted per fold on a copy; ``None`` imputes nothing).
    """

    kinds: np.ndarray
    groups: np.ndarray
    imputed: np.ndarray
    imputer: object = None
    max_missing: float = 0.5
    min_altered: int = 2
    min_altered_fraction: float = 0.1
    top_variance: int | None = 500
    select_k: int | None = None
    screen: "VarianceScreen | None" = None

    @classmethod
    def for_columns(cls, n_columns: int, kinds=None, groups=None, imputed=None, **settings) -> "PreprocessSpec":
        """Defaults: every column continuous, one group, every column imputed when an imputer is given.

        Kinds are kept as a fixed-width string array and groups as integer codes: the prefilter compares
        and groups them in every fold, which is several times faster than on Python objects.
        """
        kinds = np.full(n_columns, CONTINUOUS) if kinds is None else np.asarray(kinds, dtype=str)
        groups = (np.zeros(n_columns, dtype=int) if groups is None
                  else np.unique(np.asarray(groups, dtype=str), return_inverse=True)[1])
        imputed = np.ones(n_columns, dtype=bool) if imputed is None else np.asarray(imputed, dtype=bool)
        return cls(kinds=kinds, groups=groups, imputed=imputed, **settings)

    @property
    def unpenalised(self) -> np.ndarray:
        return self.kinds == COVARIATE

    def screened_on(self, X: np.ndarray) -> "PreprocessSpec":
        """This spec with a :class:`VarianceScreen` of ``X``: valid for fits on any subset of X's rows only."""
        return replace(self, screen=VarianceScreen.of(X, self.kinds, self.groups))


@dataclass(frozen=True)
class VarianceScreen:
    """Which columns can be among the ``top_variance`` most variable of a subset of a matrix's rows.

    For a column without missing values, its sum of squared deviations over a subset of rows is at most
    the sum over all rows (SS), so its variance over n_S rows is at most SS / (n_S - 1). The top-variance
    prefilter of a subset is therefore computed on the columns of largest SS only, and is exact when the
    bound of every column left out lies below the smallest variance kept; otherwise on a larger set, and
    finally on all columns. Columns with missing values, and alterations, are always examined.
    ``ranked``: per group, its complete continuous columns by decreasing SS, and those SS.
    """

    always: np.ndarray
    ranked: tuple

    @classmethod
    def of(cls, X: np.ndarray, kinds: np.ndarray, groups: np.ndarray) -> "VarianceScreen":
        complete = (kinds == CONTINUOUS) & ~np.isnan(X).any(axis=0)
        ss = ((X - X.mean(axis=0)) ** 2).sum(axis=0)
        ranked = []
        for group in pd.unique(groups[complete]):
            members = np.flatnonzero(complete & (groups == group))
            order = members[np.argsort(-ss[members], kind="stable")]
            ranked.append((order, ss[order]))
        return cls(always=np.flatnonzero(~complete), ranked=tuple(ranked))

    def prefilter(self, X: np.ndarray, spec: "PreprocessSpec") -> np.ndarray:
        """Indices of the columns of ``X`` (rows of the screened matrix) that pass ``prefilter_mask``.

        Per group: the k-th largest variance v_k among its 4k columns of largest SS is a lower bound of
        the k-th largest variance of any superset, so columns with SS / (n - 1) below v_k can never
        be among the top k; only the others are examined.
        """
        k = spec.top_variance
        examined = [self.always]
        for order, ss in self.ranked:
            first = order[: 4 * k]
            variance = np.var(X[:, first], axis=0, ddof=1)
            if len(order) <= 4 * k or int((variance > 0).sum()) < k:
                examined.append(order if int((variance > 0).sum()) < k else first)
                continue
            v_k = float(np.partition(variance, len(variance) - k)[len(variance) - k])
            threshold = v_k * (1.0 - 1e-9) * (len(X) - 1)
            needed = int(np.searchsorted(-ss, -threshold, side="right"))
            examined.append(order[: max(len(first), needed)])
        examined = np.sort(np.concatenate(examined))
        return examined[_prefilter(X[:, examined], spec, examined)]


@dataclass(frozen=True)
class FittedPreprocess:
    """The state learned on training rows.

    ``prefiltered``: indices (into the original columns) that passed the prefilters, which the imputer
    fills together (a random imputer's draws depend on the block it is given); ``selected``: positions
    within ``prefiltered`` kept by the univariate selection; ``mean``/``scale`` of the selected columns.
    """

    prefiltered: np.ndarray
    imputer: object
    impute_positions: np.ndarray
    selected: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    unpenalised: np.ndarray

    @property
    def columns(self) -> np.ndarray:
        """Indices (into the original columns) of the model's columns."""
        return self.prefiltered[self.selected]


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


def _prefilter(values: np.ndarray, spec: PreprocessSpec, columns) -> np.ndarray:
    return prefilter_mask(values, spec.kinds[columns], spec.groups[columns], max_missing=spec.max_missing,
                          min_altered=spec.min_altered, min_altered_fraction=spec.min_altered_fraction,
                          top_variance=spec.top_variance)


def _imputed(X: np.ndarray, prefiltered: np.ndarray, imputer, positions: np.ndarray) -> np.ndarray:
    """The prefiltered columns of ``X`` with ``positions`` filled; any value still missing is an error."""
    values = X[:, prefiltered]
    if imputer is not None:
        values[:, positions] = np.asarray(imputer.transform(values[:, positions]), dtype=np.float64)
    missing = np.isnan(values).any(axis=0)
    if missing.any():
        left = prefiltered[np.flatnonzero(missing)][:5].tolist()
        raise ValueError(f"missing values in columns without an imputer (column indices {left})")
    return values


def fit_preprocess(spec: PreprocessSpec, X: np.ndarray, outcome: Outcome) -> tuple[FittedPreprocess, np.ndarray]:
    """Learn the preprocessing on the rows of ``X`` (training rows only); return it and ``X`` transformed."""
    prefiltered = (spec.screen.prefilter(X, spec) if spec.screen is not None and spec.top_variance is not None
                   else np.flatnonzero(_prefilter(X, spec, slice(None))))
    positions = (np.flatnonzero(spec.imputed[prefiltered]) if spec.imputer is not None
                 else np.empty(0, dtype=int))
    imputer = copy.deepcopy(spec.imputer).fit(X[:, prefiltered[positions]]) if positions.size else None
    values = _imputed(X, prefiltered, imputer, positions)
    mean = values.mean(axis=0)
    scale = values.std(axis=0)
    scale = np.where(scale > 1e-12, scale, 1.0)
    values = (values - mean) / scale
    unpenalised = spec.kinds[prefiltered] == COVARIATE
    selected = _select(values, outcome, unpenalised, spec.select_k)
    fitted = FittedPreprocess(prefiltered=prefiltered, imputer=imputer, impute_positions=positions,
                              selected=selected, mean=mean[selected], scale=scale[selected],
                              unpenalised=unpenalised[selected])
    return fitted, values[:, selected]


def transform(fitted: FittedPreprocess, X: np.ndarray) -> np.ndarray:
    """Apply the learned preprocessing to rows of ``X`` (patients x original columns)."""
    values = _imputed(X, fitted.prefiltered, fitted.imputer, fitted.impute_positions)[:, fitted.selected]
    return (values - fitted.mean) / fitted.scale


def _select(values: np.ndarray, outcome: Outcome, unpenalised: np.ndarray, k: int | None) -> np.ndarray:
    """Positions kept by the univariate selection, in column order."""
    candidates = np.flatnonzero(~unpenalised)
    if k is None or candidates.size <= k:
        return np.arange(len(unpenalised))
    if outcome.survival:
        score = np.abs(cox_score_z(values[:, candidates], outcome.time, outcome.event))
    else:
        score = np.abs(welch_t(values[:, candidates], outcome.label))
    chosen = np.zeros(len(unpenalised), dtype=bool)
    chosen[candidates[np.argsort(-score, kind="stable")[:k]]] = True
    return np.flatnonzero(chosen | unpenalised)

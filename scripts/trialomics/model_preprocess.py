"""The preprocessing refitted in every training fold of the models, as plain functions on arrays.

Steps, in order (:func:`fit_preprocess` learns them on training rows, :func:`transform` applies them):
label-free prefilters (missingness, prevalence of alterations, top variance per modality; see
:func:`trialomics.survival.prefilter_mask`), imputation of the protein columns by a fold-refitted
imputer, standardisation (population SD; a constant column is only centred, as scikit-learn's
``StandardScaler``), and an optional supervised univariate selection of ``select_k`` columns
(|Cox score z| for survival, |Welch t| for binary outcomes; unpenalised covariates always kept).

Everything is numpy: the nested cross-validation fits this thousands of times per model, and the
cost of DataFrames and estimator cloning used to dominate the arithmetic. The hot steps (prefilter
statistics, gather, down-shifted normal fill, standardisation) are numba kernels
(:mod:`trialomics.fold_kernels`) that repeat numpy's floating-point operations in numpy's order (its
pairwise sums included), so the models' outputs are the same to the last bit as with the numpy
expressions they replace (tests/test_model_preprocess.py).
"""
from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
import pandas as pd

from . import fold_kernels
from .imputation import DownshiftedNormalFill, standard_normal_draws
from .survival import BINARY, CONTINUOUS, COVARIATE

# The kinds as the compiled prefilter reads them (PreprocessSpec.kind_codes).
_KIND_CODES = {CONTINUOUS: 0, BINARY: 1, COVARIATE: 2}


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

    @cached_property
    def n_groups(self) -> int:
        return int(self.groups.max(initial=-1)) + 1

    @cached_property
    def kind_codes(self) -> np.ndarray:
        """The kinds as small integers (0 continuous, 1 binary, 2 covariate), for the compiled prefilter."""
        return np.array([_KIND_CODES[kind] for kind in self.kinds.tolist()], dtype=np.int8)

    def screened_on(self, X: np.ndarray) -> "PreprocessSpec":
        """This spec with a :class:`VarianceScreen` of ``X``: valid for fits on any subset of X's rows only.

        Unchanged when no modality has more than 4 ``top_variance`` complete columns and every
        alteration could pass the prevalence filter (nothing to skip).
        """
        if self.top_variance is None:
            return self
        screen = VarianceScreen.of(X, self.kinds, self.groups, self.min_altered)
        if (np.diff(screen.order_starts).max(initial=0) <= 4 * self.top_variance
                and len(screen.always) == int((self.kinds != CONTINUOUS).sum())):
            return self
        return replace(self, screen=screen)


@dataclass(frozen=True)
class VarianceScreen:
    """Which columns can be among the ``top_variance`` most variable of a subset of a matrix's rows.

    A column's sum of squared deviations over the observed values of a subset of rows is at most the sum
    over all its observed values (SS), so its variance over n_S observed values is at most
    SS / (n_S - 1); a column with missing values needs at least (1 - max_missing) n observed values to
    pass the missingness filter, which bounds n_S from below. The k-th largest variance of any set of a
    group's eligible columns (continuous, observed, non-constant) in a subset is a lower bound v_k of
    the k-th largest over the whole group, so a column whose variance (or, unseen, its bound) lies
    below v_k can never be among the top k: :meth:`prefilter` hands
    :func:`~trialomics.survival.prefilter_mask` only the other columns, which gives the same answer as
    all of them (variance ties keep column order: every column tied with v_k is handed over).
    ``order``: the complete continuous columns, group after group (group g's are
    ``order[order_starts[g]:order_starts[g + 1]]``), each group's by decreasing SS, with those SS
    negated (increasing, as searchsorted needs them); ``incomplete`` and the rest: the same for the
    continuous columns with missing values; ``always``: the covariates and the alterations altered and
    unaltered in at least ``min_altered`` patients of the whole matrix (the prevalence filter of any
    subset needs that many of each, so the others never pass).
    """

    always: np.ndarray
    order: np.ndarray
    negated_ss: np.ndarray
    order_starts: np.ndarray
    incomplete: np.ndarray
    incomplete_negated_ss: np.ndarray
    incomplete_starts: np.ndarray

    @classmethod
    def of(cls, X: np.ndarray, kinds: np.ndarray, groups: np.ndarray, min_altered: int = 0) -> "VarianceScreen":
        continuous = kinds == CONTINUOUS
        altered = (X == 1.0).sum(axis=0)
        unaltered = (~np.isnan(X)).sum(axis=0) - altered
        possible = (kinds != BINARY) | ((altered >= min_altered) & (unaltered >= min_altered))
        complete = continuous & ~np.isnan(X).any(axis=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)   # a column never observed: SS infinite below
            ss = np.nansum((X - np.nanmean(X, axis=0)) ** 2, axis=0)
        ss[np.isnan(X).all(axis=0)] = np.inf

        def by_ss(columns):
            """Each group's ``columns`` by decreasing SS, groups concatenated; their SS negated; the starts."""
            per_group = [members[np.argsort(-ss[members], kind="stable")]
                         for members in (np.flatnonzero(columns & (groups == group))
                                         for group in pd.unique(groups[continuous]))]
            ordered = np.concatenate([np.empty(0, dtype=np.intp), *per_group]).astype(np.intp)
            starts = np.cumsum([0] + [len(members) for members in per_group], dtype=np.int64)
            return ordered, -ss[ordered], starts

        order, negated_ss, order_starts = by_ss(complete)
        incomplete, incomplete_negated_ss, incomplete_starts = by_ss(continuous & ~complete)
        return cls(always=np.flatnonzero(~continuous & possible).astype(np.intp), order=order,
                   negated_ss=negated_ss, order_starts=order_starts, incomplete=incomplete,
                   incomplete_negated_ss=incomplete_negated_ss, incomplete_starts=incomplete_starts)

    @cached_property
    def read_columns(self) -> np.ndarray:
        """The columns the screen reads: ``always``, ``order`` and ``incomplete`` one after the other."""
        return np.concatenate([self.always, self.order, self.incomplete]).astype(np.intp)

    @cached_property
    def read_positions(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The positions in :attr:`read_columns` of ``always``, ``order`` and ``incomplete``."""
        positions = np.arange(len(self.read_columns))
        always, complete = len(self.always), len(self.always) + len(self.order)
        return positions[:always], positions[always:complete], positions[complete:]

    def read_block(self, X: np.ndarray) -> np.ndarray:
        """``X[:, read_columns]``, column-major: the screen's reads of a fold then stream through adjacent
        columns instead of jumping across X (on the joint matrix a third less time, cache misses)."""
        return np.asfortranarray(X[:, self.read_columns])

    def prefilter(self, X: np.ndarray, spec: "PreprocessSpec", rows: np.ndarray | None = None,
                  read: np.ndarray | None = None) -> np.ndarray:
        """Indices of the columns of ``X[rows]`` (rows of the screened matrix) that pass ``prefilter_mask``.

        ``rows=None``: ``X`` holds the rows already. ``read``: :meth:`read_block` of ``X``, if kept.

        Per group: v_k is the k-th largest variance among its 4k complete columns of largest SS, or,
        when more columns have an SS bound above that, among all of those; the complete columns and
        the columns with missing values (among those whose bound reaches v_k) whose variance reaches v_k
        (less 1e-9 relative, for rounding) are examined. A group of at most 4k complete columns, or
        without k non-constant ones among its first 4k, is examined whole.
        """
        rows = np.arange(len(X)) if rows is None else np.asarray(rows, dtype=np.intp)
        fewest_observed = max(2, math.floor(len(rows) * (1.0 - spec.max_missing)) - 1)
        read = self.read_block(X) if read is None else read
        always, complete, incomplete = self.read_positions
        examined, statistics = fold_kernels.screened(
            read, rows, always, complete, self.negated_ss, self.order_starts, incomplete,
            self.incomplete_negated_ss, self.incomplete_starts, int(spec.top_variance), fewest_observed,
            self.read_columns, X.shape[1])
        return examined[_passing(spec, len(rows), examined, statistics)]


def _block(X: np.ndarray, rows: np.ndarray | None, columns) -> np.ndarray:
    """``X[rows][:, columns]`` (``rows=None``: every row) without copying the rows' other columns.

    In the same memory order as that expression (column-major), so that sums over it add in the same
    order and give the same last bits.
    """
    return X[:, columns] if rows is None else np.asfortranarray(X[np.ix_(rows, columns)])


_NO_DRAWS = np.empty((0, 0))
_NO_DRAWS.flags.writeable = False   # typed as the read-only draws of imputation.standard_normal_draws


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


def _prefilter(X: np.ndarray, rows: np.ndarray | None, spec: PreprocessSpec, columns: np.ndarray) -> np.ndarray:
    """Which of ``columns`` pass ``prefilter_mask`` on ``X[rows]`` (``rows=None``: every row), from the
    compiled per-column statistics (no copy of the block) and the compiled rules of
    :func:`~trialomics.survival.prefilter_mask_of_statistics` (the same answer, tested)."""
    rows = np.arange(len(X)) if rows is None else np.asarray(rows, dtype=np.intp)
    columns = np.asarray(columns, dtype=np.intp)
    return _passing(spec, len(rows), columns, fold_kernels.column_statistics(X, rows, columns))


def _passing(spec: PreprocessSpec, n_rows: int, columns: np.ndarray, statistics) -> np.ndarray:
    """Which of ``columns``, with these :func:`~trialomics.fold_kernels.column_statistics` on ``n_rows``
    rows (observed counts, variances, altered counts), pass the prefilter rules."""
    observed, variance, altered = statistics
    return fold_kernels.prefilter_of_statistics(n_rows, observed, variance, altered, spec.kind_codes[columns],
                                                spec.groups[columns], spec.n_groups, float(spec.max_missing),
                                                float(spec.min_altered), float(spec.min_altered_fraction),
                                                -1 if spec.top_variance is None else int(spec.top_variance))


def _imputed(X: np.ndarray, prefiltered: np.ndarray, imputer, positions: np.ndarray,
             rows: np.ndarray | None = None) -> np.ndarray:
    """The prefiltered columns of ``X[rows]`` (column-major) with ``positions`` filled; any value still
    missing is an error.

    No imputer or the models' :class:`~trialomics.imputation.DownshiftedNormalFill`: gathered and filled
    by :func:`~trialomics.fold_kernels.filled_block`, bit for bit as below; when it finds the block
    invalid, the numpy path below runs and names the problem.
    """
    if imputer is None or type(imputer) is DownshiftedNormalFill:
        rows = np.arange(len(X)) if rows is None else np.asarray(rows, dtype=np.intp)
        imputed = np.zeros(len(prefiltered), dtype=np.bool_)
        draws = _NO_DRAWS
        if imputer is not None:
            imputed[positions] = True
            draws = standard_normal_draws(imputer.random_state, (len(rows), len(positions)))
        values, valid = fold_kernels.filled_block(X, rows, np.asarray(prefiltered, dtype=np.intp), imputed, draws,
                                                  0.0 if imputer is None else float(imputer.downshift),
                                                  0.0 if imputer is None else float(imputer.width))
        if valid:
            return values
    values = _block(X, rows, prefiltered)
    if imputer is not None:
        values[:, positions] = np.asarray(imputer.transform(values[:, positions]), dtype=np.float64)
    missing = np.isnan(values).any(axis=0)
    if missing.any():
        left = prefiltered[np.flatnonzero(missing)][:5].tolist()
        raise ValueError(f"missing values in columns without an imputer (column indices {left})")
    return values


def fit_preprocess(spec: PreprocessSpec, X: np.ndarray, outcome: Outcome) -> tuple[FittedPreprocess, np.ndarray]:
    """Learn the preprocessing on the rows of ``X`` (training rows only); return it and ``X`` transformed."""
    return _with_selection(*_fit_label_free(spec, X), outcome, spec.select_k)


def _fit_label_free(spec: PreprocessSpec, X: np.ndarray, rows: np.ndarray | None = None,
                    learned: tuple | None = None,
                    read: np.ndarray | None = None) -> tuple[FittedPreprocess, np.ndarray]:
    """The steps that do not look at the outcome (prefilters, imputation, standardisation) learned on
    ``X[rows]`` (``rows=None``: all of ``X``), every column kept.

    ``learned``: the (prefiltered columns, fitted imputer) of an earlier fit on the same rows, reused;
    ``read``: the screen's :meth:`~VarianceScreen.read_block` of ``X``, if kept.
    """
    if learned is None:
        prefiltered = (spec.screen.prefilter(X, spec, rows, read)
                       if spec.screen is not None and spec.top_variance is not None
                       else np.flatnonzero(_prefilter(X, rows, spec, np.arange(X.shape[1]))))
    else:
        prefiltered, imputer = learned
    positions = (np.flatnonzero(spec.imputed[prefiltered]) if spec.imputer is not None
                 else np.empty(0, dtype=int))
    if learned is None:
        imputer = (None if not positions.size
                   else spec.imputer.fitted_to_width(positions.size) if type(spec.imputer) is DownshiftedNormalFill
                   else copy.deepcopy(spec.imputer).fit(_block(X, rows, prefiltered[positions])))
    standardised = _imputed(X, prefiltered, imputer, positions, rows)   # a new array: standardised in place
    mean, scale = fold_kernels.standardise(standardised)
    fitted = FittedPreprocess(prefiltered=prefiltered, imputer=imputer, impute_positions=positions,
                              selected=np.arange(len(prefiltered)), mean=mean, scale=scale,
                              unpenalised=spec.kind_codes[prefiltered] == _KIND_CODES[COVARIATE])
    return fitted, standardised


def _with_selection(fitted: FittedPreprocess, values: np.ndarray, outcome: Outcome,
                    k: int | None) -> tuple[FittedPreprocess, np.ndarray]:
    """The label-free state and values narrowed to the univariate selection's columns."""
    if k is None:
        return fitted, values
    selected = _select(values, outcome, fitted.unpenalised, k)
    if len(selected) == len(fitted.selected):
        return fitted, values
    return replace(fitted, selected=selected, mean=fitted.mean[selected], scale=fitted.scale[selected],
                   unpenalised=fitted.unpenalised[selected]), values[:, selected]


class RowPreprocessing:
    """The preprocessing of row subsets of one matrix, its costly label-free steps remembered by the rows.

    Folds with the same training rows (in order) recur across permutations, inner folds and stability
    subsamples; the prefilters and the imputer's fit on those rows do not depend on the outcome, so
    they are learned once. Only the prefiltered columns and the fitted imputer are kept (thousands of
    folds); imputation and standardisation are redone, with the same arithmetic as the first fit. The
    supervised selection (``select_k``) is always redone on the outcome given.
    """

    def __init__(self, spec: PreprocessSpec, X: np.ndarray):
        self.spec = spec
        self.X = X
        self._learned: dict[bytes, tuple] = {}
        self._read: np.ndarray | None = None

    @property
    def read(self) -> np.ndarray | None:
        """The variance screen's columns of X side by side (made at the first fit; none without a screen)."""
        if self._read is None and self.spec.screen is not None and self.spec.top_variance is not None:
            self._read = self.spec.screen.read_block(self.X)
        return self._read

    def fit(self, rows: np.ndarray, outcome: Outcome) -> tuple[FittedPreprocess, np.ndarray]:
        """:func:`fit_preprocess` on ``X[rows]``."""
        rows = np.asarray(rows, dtype=np.intp)
        key = rows.tobytes()
        learned = self._learned.get(key)
        if learned is not None:
            learned = (learned[0].astype(np.intp), learned[1])
        fitted, values = _fit_label_free(self.spec, self.X, rows, learned, self.read if learned is None else None)
        if learned is None:
            self._learned[key] = (fitted.prefiltered.astype(np.int32), fitted.imputer)
        return _with_selection(fitted, values, outcome, self.spec.select_k)


def transform(fitted: FittedPreprocess, X: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """Apply the learned preprocessing to ``X[rows]`` (patients x original columns; ``rows=None``: all)."""
    values = _imputed(X, fitted.prefiltered, fitted.imputer, fitted.impute_positions, rows)
    return fold_kernels.scaled(values, np.asarray(fitted.selected, dtype=np.intp), fitted.mean, fitted.scale)


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

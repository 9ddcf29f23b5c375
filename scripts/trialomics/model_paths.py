"""Penalised regression paths on arrays: elastic-net Cox and L1 logistic regression.

The penalty ``alpha`` is on the glmnet scale for both; input is validated once per path.

- Cox: :func:`trialomics.cox_path.elastic_net_cox_path`, compiled coordinate descent solved to the
  Karush-Kuhn-Tucker conditions (``COX_TOL``) with warm starts along the grid. It replaced calls of
  scikit-survival's Coxnet solver, whose stopping rule leaves coefficients up to ~1e-2 from the
  optimum at small penalties; on converged runs of Coxnet and of R glmnet it agrees to 1e-6
  (``tests/test_cox_path.py``, ``bench/models_vs_glmnet.py``). A penalty where it does not converge
  (none seen; the ridge part keeps the optimum finite) gets NaN coefficients, as do the smaller ones
  after it, and can never be chosen; the job's log says so.
- Logistic: :func:`trialomics.logistic_path.l1_logistic_path`, compiled proximal Newton with
  coordinate descent, solved to the KKT conditions, warm-started along the grid. Objective: mean
  log-loss + alpha * (||beta||_1 + 0.01 |intercept|), with unpenalised columns at L1 weight 0.01: the
  objective of the liblinear calls it replaced (``C = 1 / (n * alpha)``, a constant column of
  ``intercept_scaling`` 100 for the intercept, unpenalised columns multiplied by 100), whose tolerance
  (1e-4) left coefficients short of the optimum; it agrees with liblinear run to 1e-10 within 1e-6
  (``tests/test_logistic_path.py``). A path that does not converge gets NaN coefficients and can never
  be chosen; the job's log says so (seen at 400 training rows before the line search's rounding bound
  grew with n, none since).
"""
from __future__ import annotations

import logging
import math

import numpy as np

from .cox_path import elastic_net_cox_path, largest_penalty
from .logistic_path import l1_logistic_path
from .model_preprocess import Outcome

COX_TOL = 1e-10            # KKT tolerance of the Cox path (trialomics.cox_path)
LOGGER = logging.getLogger(__name__)


def decreasing_grid(alpha_max: float, n_alphas: int, alpha_min_ratio: float) -> np.ndarray:
    return alpha_max * np.logspace(0.0, math.log10(alpha_min_ratio), n_alphas)


def cox_elastic_net_path(X: np.ndarray, time, event, unpenalised: np.ndarray, l1_ratio: float = 0.5,
                         n_alphas: int = 10, alpha_min_ratio: float = 0.05, alphas=None,
                         tol: float = COX_TOL, stop_entered: int = 0,
                         first_is_alpha_max: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(alphas, coefficients features x alphas) of the elastic-net Cox path; see the module docstring.

    ``unpenalised`` marks columns with penalty factor 0; the factors are rescaled to sum to the number
    of columns, as Coxnet and glmnet do (so the penalty scale is theirs). ``alphas=None`` makes the grid
    on these data: from the smallest penalty that zeroes every penalised coefficient down to
    ``alpha_min_ratio`` of it. Columns are centred first (the partial likelihood ignores a shift).
    ``stop_entered`` > 0: the path stops once that many penalised columns have entered it (NaN after).
    The first penalty of a grid made on these data (``alphas=None``, or ``first_is_alpha_max`` for one
    :func:`cox_penalty_grid` made on them) is solved as glmnet does: the unpenalised columns' fit, every
    penalised coefficient exactly 0.
    """
    X, time, event, penalty = _cox_inputs(X, time, event, unpenalised)
    means = X.mean(axis=0)
    if alphas is None:
        alphas = _cox_grid(X, means, time, event, penalty, l1_ratio, n_alphas, alpha_min_ratio, tol)
        first_is_alpha_max = True
    alphas = np.asarray(alphas, dtype=np.float64)
    if not penalty.any():
        # No penalised column passed this fold's filters: the unpenalised fit (or nothing) at every penalty.
        coef = unpenalised_fit(X, Outcome.of_survival(time, event)) if X.shape[1] else np.zeros(0)
        return alphas, np.repeat(coef[:, None], len(alphas), axis=1)
    coef, usable = elastic_net_cox_path(X, time, event, alphas, penalty, l1_ratio, tol, stop_entered=stop_entered,
                                        shift=means, first_is_alpha_max=first_is_alpha_max)
    # A path cut short with stop_entered columns entered was stopped; cut short before, it failed.
    stopped = stop_entered > 0 and int((coef[penalty > 0, :usable] != 0).any(axis=1).sum()) >= stop_entered
    if usable < len(alphas) and not stopped:
        LOGGER.warning("elastic-net Cox path on %d patients x %d features not converged from penalty %d of %d "
                       "on: those penalties get NaN coefficients and cannot be chosen", *X.shape, usable + 1,
                       len(alphas))
    return alphas, coef


def _cox_inputs(X, time, event, unpenalised) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The arrays as the Cox path reads them, and the penalty factors: 0 for ``unpenalised`` columns, the
    others rescaled to sum to the number of columns, as Coxnet and glmnet do (all 0 when none is penalised)."""
    factor = np.where(np.asarray(unpenalised, dtype=bool), 0.0, 1.0)
    X = np.asarray(X, dtype=np.float64)
    penalty = factor * X.shape[1] / factor.sum() if factor.any() else factor
    return X, np.asarray(time, dtype=np.float64), np.asarray(event, dtype=bool), penalty


def cox_penalty_grid(X: np.ndarray, time, event, unpenalised: np.ndarray, l1_ratio: float = 0.5,
                     n_alphas: int = 10, alpha_min_ratio: float = 0.05, tol: float = COX_TOL) -> np.ndarray:
    """The grid :func:`cox_elastic_net_path` makes on these data when given none."""
    X, time, event, penalty = _cox_inputs(X, time, event, unpenalised)
    return _cox_grid(X, X.mean(axis=0), time, event, penalty, l1_ratio, n_alphas, alpha_min_ratio, tol)


def _cox_grid(X, means, time, event, penalty, l1_ratio, n_alphas, alpha_min_ratio, tol) -> np.ndarray:
    """:func:`cox_penalty_grid` on :func:`_cox_inputs`' arrays (``means``: X's column means, which centre it)."""
    if not penalty.any():
        return decreasing_grid(1.0, n_alphas, alpha_min_ratio)
    return decreasing_grid(largest_penalty(X, time, event, penalty, l1_ratio, tol, shift=means), n_alphas,
                           alpha_min_ratio)


def logistic_penalty_grid(X: np.ndarray, label, unpenalised: np.ndarray, n_alphas: int = 10,
                          alpha_min_ratio: float = 0.05, unpenalised_weight: float = 0.01,
                          intercept_weight: float = 0.01) -> np.ndarray:
    """The grid :func:`logistic_l1_path` makes on these data when given none (with the same weights)."""
    return decreasing_grid(logistic_alpha_max(np.asarray(X, dtype=np.float64), np.asarray(label, dtype=int),
                                              np.asarray(unpenalised, dtype=bool), unpenalised_weight,
                                              intercept_weight), n_alphas, alpha_min_ratio)


# Fixed-point iterations of logistic_alpha_max with unpenalised columns: each shrinks the error about
# 1 / unpenalised_weight-fold where the covariates do not separate the classes. Where they do, the iterates
# fall a few-fold at a time until the gradients are rounding (~1e-13): a "fixed point" that small a
# fraction of the intercept-only model's is that separation, not a penalty on the features' scale.
ALPHA_MAX_ITERATIONS = 50
ALPHA_MAX_RTOL = 1e-13
SEPARATED_BELOW = 1e-6


def logistic_alpha_max(X: np.ndarray, label: np.ndarray, unpenalised: np.ndarray, unpenalised_weight: float = 0.01,
                       intercept_weight: float = 0.01) -> float:
    """The smallest penalty at which every penalised coefficient is 0, on centred columns.

    That is the largest |gradient| / n of a penalised column at the fit of the intercept and the
    unpenalised columns alone, at that same penalty. Without unpenalised columns, a centred column's
    gradient does not depend on the intercept: X'(y - mean y) / n. With them, their small L1 weight
    (``unpenalised_weight`` x alpha, as :func:`logistic_l1_path` fits them) ties their fit to the
    penalty, so the penalty is the fixed point alpha = g(alpha), reached by iteration from the
    intercept-only model's. Where the unpenalised columns separate the classes there is none on the
    features' scale (their fit runs off as the penalty falls): the intercept-only model's is kept.
    """
    penalised = ~np.asarray(unpenalised, dtype=bool)
    if not penalised.any():
        return 1.0
    n = len(label)
    start = float(np.abs(X[:, penalised].T @ (label - label.mean())).max(initial=0.0) / n)
    if start <= 0:
        return 1.0
    positives = int(label.sum())
    if penalised.all() or not 0 < positives < n:
        return start
    covariates = X[:, ~penalised]
    weights = np.full(covariates.shape[1], unpenalised_weight)
    alpha = start
    for _ in range(ALPHA_MAX_ITERATIONS):
        try:
            coef, intercept = l1_logistic_path(covariates, label, np.array([alpha]), weights, intercept_weight)
        except ArithmeticError:
            return start
        eta = covariates @ coef[:, 0] + intercept[0]
        fitted = np.exp(-np.logaddexp(0.0, -eta))
        updated = float(np.abs(X[:, penalised].T @ (label - fitted)).max() / n)
        if updated <= SEPARATED_BELOW * start:
            return start
        if abs(updated - alpha) <= ALPHA_MAX_RTOL * alpha:
            return updated
        alpha = updated
    return start


def logistic_l1_path(X: np.ndarray, label, unpenalised: np.ndarray, n_alphas: int = 10,
                     alpha_min_ratio: float = 0.05, alphas=None, unpenalised_weight: float = 0.01,
                     intercept_weight: float = 0.01, stop_entered: int = 0,
                     first_is_alpha_max: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(alphas, coefficients features x alphas, intercepts) of the L1 logistic path.

    A single-class training set carries no information on the features: intercept-only fit.
    ``stop_entered`` > 0: the path stops once that many penalised columns have entered it (NaN after).
    The first penalty of a grid made on these data (``alphas=None``, or ``first_is_alpha_max`` for one
    :func:`logistic_penalty_grid` made on them) is solved as glmnet does: the intercept's and unpenalised
    columns' fit, every penalised coefficient exactly 0.
    """
    X = np.asarray(X, dtype=np.float64)
    label = np.asarray(label, dtype=int)
    n = len(label)
    unpenalised = np.asarray(unpenalised, dtype=bool)
    if alphas is None:
        alphas = logistic_penalty_grid(X, label, unpenalised, n_alphas, alpha_min_ratio, unpenalised_weight,
                                       intercept_weight)
        first_is_alpha_max = True
    alphas = np.asarray(alphas, dtype=np.float64)
    coef_path = np.zeros((X.shape[1], len(alphas)))
    positives = int(label.sum())
    intercepts = np.full(len(alphas), math.log((positives + 0.5) / (n - positives + 0.5)))
    if 0 < positives < n and X.shape[1]:
        try:
            coef_path, intercepts = l1_logistic_path(X, label, alphas, np.where(unpenalised, unpenalised_weight, 1.0),
                                                     intercept_weight, stop_entered=stop_entered,
                                                     counted=~unpenalised, first_is_alpha_max=first_is_alpha_max)
        except ArithmeticError as problem:
            LOGGER.warning("L1 logistic path on %d patients x %d features: %s; the path gets NaN coefficients "
                           "and this fit's penalties cannot be chosen", *X.shape, problem)
            coef_path = np.full((X.shape[1], len(alphas)), np.nan)
    return alphas, coef_path, intercepts


def unpenalised_fit(X: np.ndarray, outcome, ridge: float = 1e-4, max_iter: int = 50) -> np.ndarray:
    """Coefficients of an unpenalised Cox (Breslow) or logistic regression on a few columns, by Newton.

    For the covariate-only reference model. A tiny ridge (``ridge`` times the number of patients on the
    Hessian's diagonal) keeps the fit finite under separation, which a few clinical covariates in 20
    patients can show; elsewhere its effect is negligible. Logistic intercepts are fitted and dropped
    (the out-of-fold scores are linear predictors without intercept, as for the penalised model).
    """
    X = np.asarray(X, dtype=np.float64)
    n, k = X.shape
    design = X if outcome.survival else np.column_stack([np.ones(n), X])
    beta = np.zeros(design.shape[1])
    penalty = np.full(design.shape[1], ridge * n)
    if not outcome.survival:
        penalty[0] = 0.0

    def objective(b):
        eta = design @ b
        if outcome.survival:
            at_risk = outcome.time[None, :] >= outcome.time[outcome.event][:, None]
            log_risk = np.log((at_risk * np.exp(eta - eta.max())[None, :]).sum(axis=1)) + eta.max()
            value = (eta[outcome.event] - log_risk).sum()
        else:
            value = (outcome.label * eta - np.logaddexp(0.0, eta)).sum()
        return value - 0.5 * (penalty * b ** 2).sum()

    for _ in range(max_iter):
        eta = design @ beta
        if outcome.survival:
            at_risk = (outcome.time[None, :] >= outcome.time[outcome.event][:, None]).astype(np.float64)
            weights = at_risk * np.exp(eta - eta.max())[None, :]
            weights /= weights.sum(axis=1, keepdims=True)                  # events x patients
            mean = weights @ design                                        # events x k
            gradient = (design[outcome.event] - mean).sum(axis=0)
            hessian = -(np.einsum("ep,pj,pl->jl", weights, design, design) - mean.T @ mean)
        else:
            probability = 1.0 / (1.0 + np.exp(-eta))
            gradient = design.T @ (outcome.label - probability)
            hessian = -(design.T * (probability * (1 - probability))) @ design
        gradient -= penalty * beta
        hessian -= np.diag(penalty)
        step = np.linalg.solve(hessian, -gradient)
        current = objective(beta)
        size = 1.0
        while objective(beta + size * step) < current - 1e-12 and size > 1e-6:
            size /= 2
        beta = beta + size * step
        if np.abs(size * step).max() < 1e-10:
            break
    return beta if outcome.survival else beta[1:]

"""The covariate-only null models of the calibration chain (:mod:`trialomics.calibration`): their
outcome scores, whose sum against a feature is that feature's score statistic at zero effect.

- Cox (:func:`cox_null_scores`): martingale residuals of the Cox model of the adjustment variables
  alone, Breslow ties (with Breslow's partial likelihood the scores are exactly orthogonal to every
  adjustment column even with tied event times, and equal the log-rank scores without covariates).
- Logistic (:func:`logistic_null_scores`): label minus the fitted probability of the logistic model of
  an intercept and the adjustment variables.
"""
from __future__ import annotations

import numpy as np

from .cox import MAX_HALVINGS, RiskSets, risk_sets
from .logrank import logrank_scores

# Newton iterations of the covariate-only null models (a few suffice; separation stops earlier).
NULL_MODEL_ITERATIONS = 50


def cox_null_scores(time, event, design: np.ndarray) -> np.ndarray:
    """Martingale residuals of the Cox model of the adjustment variables alone (Breslow ties).

    m_j = event_j - exp(eta_j) * H0(t_j): eta = design @ gamma with gamma the maximum of Breslow's
    partial likelihood (:func:`breslow_null_fit`), H0 Breslow's cumulative baseline hazard at gamma.
    Then sum_j m_j x_j is the Cox score of a new feature x at beta_x = 0, and sum_j m_j z_j = 0 for
    every adjustment column z (gamma's score equation). Without adjustment variables this is the
    log-rank score (:func:`trialomics.logrank.logrank_scores`: event minus Nelson–Aalen).
    """
    time = np.asarray(time, dtype=np.float64)
    event = np.asarray(event, dtype=bool)
    if design.shape[1] == 0:
        return logrank_scores(time, event)
    risk = risk_sets(time, event)
    centred = design - design.mean(axis=0)
    eta = centred @ breslow_null_fit(centred, event, risk)
    # Shifted by the largest linear predictor: a diverging coefficient (an adjustment level without
    # events) sends exp(eta) of its patients to 0 instead of overflowing.
    relative_risk = np.exp(eta - eta.max())
    increments = risk.dies.sum(axis=1) / (risk.at_risk @ relative_risk)
    return event.astype(np.float64) - relative_risk * (risk.at_risk * increments[:, None]).sum(axis=0)


def breslow_null_fit(design: np.ndarray, event: np.ndarray, risk: RiskSets) -> np.ndarray:
    """Maximum of Breslow's log partial likelihood of ``design`` (patients x columns): Newton's method
    with step halving, stopped when the likelihood no longer improves (separation: a coefficient
    walking off while the likelihood flattens) or the step is below 1e-10."""
    beta = np.zeros(design.shape[1])
    loglik, score, information = _breslow_derivatives(design, event, risk, beta)
    for _ in range(NULL_MODEL_ITERATIONS):
        step = np.linalg.lstsq(information, score, rcond=None)[0]
        for _ in range(MAX_HALVINGS):
            candidate = _breslow_derivatives(design, event, risk, beta + step)
            if candidate[0] >= loglik - 1e-12 * abs(loglik):
                break
            step = step / 2.0
        improvement = candidate[0] - loglik
        beta = beta + step
        loglik, score, information = candidate
        if improvement <= 1e-12 * max(1.0, abs(loglik)) or np.abs(step).max() <= 1e-10:
            break
    return beta


def _breslow_derivatives(design, event, risk: RiskSets, beta) -> tuple[float, np.ndarray, np.ndarray]:
    eta = design @ beta
    shift = eta.max()
    weights = np.exp(eta - shift)
    at_risk = risk.at_risk.astype(np.float64)
    deaths = risk.dies.sum(axis=1)
    s0 = at_risk @ weights                                                    # per event time
    mean = (at_risk @ (weights[:, None] * design)) / s0[:, None]              # event times x columns
    n_columns = design.shape[1]
    outer = (design[:, :, None] * design[:, None, :]).reshape(-1, n_columns * n_columns)
    second = (at_risk @ (weights[:, None] * outer)).reshape(-1, n_columns, n_columns) / s0[:, None, None]
    loglik = float(event @ eta - deaths @ (np.log(s0) + shift))
    score = event @ design - deaths @ mean
    information = np.einsum("k,kab->ab", deaths, second - mean[:, :, None] * mean[:, None, :])
    return loglik, score, information


def logistic_null_scores(label, design: np.ndarray) -> np.ndarray:
    """``label - p_hat`` of the logistic model of an intercept and the adjustment variables (maximum
    likelihood, Newton's method with step halving). Without adjustment variables the label itself is
    returned: :func:`score_z` centres it, which gives label - mean(label)."""
    label = np.asarray(label, dtype=np.float64)
    if design.shape[1] == 0:
        return label
    if label.min() == label.max():          # one class only: nothing to explain, no evidence
        return np.zeros_like(label)
    X = np.column_stack([np.ones(label.size), design])
    beta = np.zeros(X.shape[1])
    beta[0] = np.log(label.mean() / (1.0 - label.mean()))
    loglik = _logistic_loglik(X, label, beta)
    for _ in range(NULL_MODEL_ITERATIONS):
        p = _expit(X @ beta)
        information = X.T @ (X * (p * (1.0 - p))[:, None])
        step = np.linalg.lstsq(information, X.T @ (label - p), rcond=None)[0]
        for _ in range(MAX_HALVINGS):
            candidate = _logistic_loglik(X, label, beta + step)
            if candidate >= loglik - 1e-12 * abs(loglik):
                break
            step = step / 2.0
        improvement = candidate - loglik
        beta, loglik = beta + step, candidate
        # Separation (an adjustment level with one class only) flattens the likelihood while a
        # coefficient walks off: p_hat of those patients tends to their label and their score to 0.
        if improvement <= 1e-12 * max(1.0, abs(loglik)) or np.abs(step).max() <= 1e-10:
            break
    return label - _expit(X @ beta)


def _expit(eta: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * eta))


def _logistic_loglik(X: np.ndarray, label: np.ndarray, beta: np.ndarray) -> float:
    eta = X @ beta
    return float(label @ eta - np.logaddexp(0.0, eta).sum())

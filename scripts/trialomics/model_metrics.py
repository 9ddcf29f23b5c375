"""Performance metrics of out-of-fold predictions and the likelihoods that tune the penalty.

Harrell's and Uno's C for survival, ROC AUC (Mann–Whitney) for binary outcomes; metrics are averaged
over the repeats of the outer cross-validation. The likelihoods score held-out predictions in the
inner loop: Breslow log partial likelihood (Cox) and binomial log-likelihood (logistic).
"""
from __future__ import annotations

import warnings

import numpy as np
from sksurv.metrics import concordance_index_ipcw
from sksurv.util import Surv

from .model_preprocess import Outcome


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


def score_predictions(outcome: Outcome, prediction) -> dict:
    """Every metric of the outcome's task for one vector of out-of-fold predictions."""
    if outcome.survival:
        return {"c_index": harrell_c(outcome.time, outcome.event, prediction),
                "c_index_uno": uno_c(outcome.time, outcome.event, prediction)}
    return {"auc": roc_auc(outcome.label, prediction)}


def repeat_averaged_scores(outcome: Outcome, predictions: np.ndarray) -> dict:
    """Metrics averaged over repeats; ``predictions`` is patients x repeats (out-of-fold)."""
    per_repeat = [score_predictions(outcome, predictions[:, r]) for r in range(predictions.shape[1])]
    metrics = per_repeat[0].keys()
    out = {}
    for metric in metrics:
        values = np.array([row[metric] for row in per_repeat], dtype=np.float64)
        out[metric] = float(np.nanmean(values)) if np.isfinite(values).any() else np.nan
    return out

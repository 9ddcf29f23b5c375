"""Performance metrics of out-of-fold predictions and the likelihoods that tune the penalty.

Harrell's and Uno's C for survival, ROC AUC (Mann–Whitney) for binary outcomes; metrics are averaged
over the repeats of the outer cross-validation. The likelihoods score held-out predictions in the
inner loop: Breslow log partial likelihood (Cox) and binomial log-likelihood (logistic).

Uno's C reproduces ``sksurv.metrics.concordance_index_ipcw`` bit for bit (the permutation p-values
compare these numbers with a 1e-12 tolerance) without importing scikit-survival, whose import pulls in
scikit-learn and scipy.stats: most of a second at the start of every survival job.
"""
from __future__ import annotations

import numpy as np

from .model_preprocess import Outcome

# Risk scores this close count as tied in Harrell's and Uno's C (scikit-survival's default ``tied_tol``).
# A model whose penalty kept every coefficient at 0 up to rounding predicts risks of order 1e-16: they are
# ties (C = 1/2), not an order decided by the last bits of the arithmetic.
TIED_RISK_TOLERANCE = 1e-8


def cox_log_partial_likelihood(time, event, eta: np.ndarray) -> np.ndarray:
    """Breslow log partial likelihood of each column of linear predictors ``eta`` (patients x k)."""
    time = np.asarray(time, dtype=np.float64)
    event = np.asarray(event, dtype=bool)
    eta = np.asarray(eta, dtype=np.float64).reshape(len(time), -1)
    if not event.any():
        return np.zeros(eta.shape[1])
    # The largest finite-or-infinite value per column, NaN ignored (what np.nanmax computes, without its
    # all-NaN warning); a failed (all-NaN) column gets shift 0 and scores NaN.
    shift = np.fmax.reduce(eta, axis=0, keepdims=True)
    if not np.isfinite(shift).all():
        shift = np.nan_to_num(shift)
    at_risk = (time[None, :] >= time[event][:, None]).astype(np.float64)
    # The risk-set sums stay one matrix product: another summation order would change the last bits.
    log_risk = np.log(at_risk @ np.exp(eta - shift)) + shift
    return (eta[event] - log_risk).sum(axis=0)


def binomial_log_likelihood(label, logit: np.ndarray) -> np.ndarray:
    """Sum of log p(label) for each column of log-odds ``logit`` (patients x k).

    A column of a path that failed (NaN log-odds) scores NaN, quietly: the failure is logged where it
    happens (``model_paths``), and numpy's "invalid value" warning would only repeat it less clearly.
    """
    label = np.asarray(label, dtype=np.float64)[:, None]
    logit = np.asarray(logit, dtype=np.float64).reshape(len(label), -1)
    with np.errstate(invalid="ignore"):
        return -(np.logaddexp(0.0, logit) - label * logit).sum(axis=0)


def harrell_c(time, event, risk) -> float:
    """Harrell's concordance index; higher ``risk`` should mean earlier events; risk ties count 1/2.

    A pair is comparable when the earlier time is an event (and also when an event and a censoring
    share a time, the event counting as earlier), and its risks are tied when they differ by at most
    ``TIED_RISK_TOLERANCE``, as in ``sksurv.metrics.concordance_index_censored`` with its default
    ``tied_tol``. NaN when no pair is comparable.
    """
    time = np.asarray(time, dtype=np.float64)
    event = np.asarray(event, dtype=bool)
    risk = np.asarray(risk, dtype=np.float64)
    # No patient is comparable with itself: it would need to be both an event and censored.
    earlier = (time[:, None] < time[None, :]) | ((time[:, None] == time[None, :]) & ~event[None, :])
    comparable = earlier & event[:, None]
    total = np.count_nonzero(comparable)
    if total == 0:
        return np.nan
    difference = risk[:, None] - risk[None, :]
    concordant = (np.count_nonzero(comparable & (difference > TIED_RISK_TOLERANCE))
                  + 0.5 * np.count_nonzero(comparable & (np.abs(difference) <= TIED_RISK_TOLERANCE)))
    return float(concordant / total)


def uno_c(time, event, risk, tau: float | None = None) -> float:
    """Uno's IPCW concordance, censoring distribution from the same patients, truncated at ``tau``.

    Equal bit for bit to ``sksurv.metrics.concordance_index_ipcw(y, y, risk, tau=tau)[0]`` with
    ``y = Surv.from_arrays(event, time)``: the same weights and the same float operations in the same
    order. NaN where scikit-survival refuses: no event (before ``tau``), the censoring survival zero at an
    event time, no comparable pair, a negative or non-finite time, a non-finite risk.
    """
    time = np.asarray(time, dtype=np.float64)
    event = np.asarray(event, dtype=bool)
    risk = np.asarray(risk, dtype=np.float64)
    if not len(time) == len(event) == len(risk):
        raise ValueError(f"uno_c: time, event and risk differ in length ({len(time)}, {len(event)}, {len(risk)})")
    included = np.ones(len(time), dtype=bool) if tau is None else time < tau
    weighted_events = event & included
    if (not weighted_events.any() or not np.isfinite(time).all() or (time < 0).any()
            or not np.isfinite(risk).all()):
        return np.nan
    censoring_survival = _censoring_survival(time, event)[weighted_events]
    if (censoring_survival == 0.0).any():
        return np.nan
    inverse_weight = np.zeros(len(time))
    inverse_weight[weighted_events] = 1.0 / censoring_survival
    return _weighted_concordance(time, event, risk, np.square(inverse_weight))


def _censoring_survival(time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """Kaplan–Meier survival of the censoring at each patient's own time (censorings are the events).

    At a time shared by events and censorings the events leave the risk set first, as in
    ``sksurv.nonparametric.kaplan_meier_estimator(reverse=True)``; 1 everywhere without censoring.
    """
    if event.all():
        return np.ones(len(time))
    unique_times, at_time, n_at_time = np.unique(time, return_inverse=True, return_counts=True)
    events = np.bincount(at_time[event], minlength=len(unique_times))
    censored = n_at_time - events
    at_risk = len(time) - np.concatenate(([0], np.cumsum(n_at_time)[:-1])) - events
    hazard = np.divide(censored, at_risk, out=np.zeros(len(unique_times)), where=censored != 0)
    return np.cumprod(1.0 - hazard)[at_time]


def _weighted_concordance(time: np.ndarray, event: np.ndarray, risk: np.ndarray, weight: np.ndarray) -> float:
    """Concordance with each comparable pair weighted by its event's ``weight`` (scikit-survival's sums).

    scikit-survival walks the patients in ``np.argsort(time)`` order (quicksort: not stable), groups
    equal times, and for each event (except a single patient at the last time) adds its weighted
    concordant and tied counts to one running sum: the same order here, so the same rounding.
    """
    order = np.argsort(time)
    time, event, risk, weight = time[order], event[order], risk[order], weight[order]
    n = len(time)
    group_start = np.searchsorted(time, time, side="left")
    group_end = np.searchsorted(time, time, side="right")
    rows = np.flatnonzero(event & (group_start < n - 1))
    if rows.size == 0:
        return np.nan
    # Comparable with event i: every later time, and the censorings at i's time.
    position = np.arange(n)
    comparable = ((position[None, :] >= group_end[rows, None])
                  | ((position[None, :] >= group_start[rows, None]) & ~event[None, :]))
    tied = np.abs(risk[None, :] - risk[rows, None]) <= TIED_RISK_TOLERANCE
    n_tied = np.count_nonzero(comparable & tied, axis=1)
    n_concordant = np.count_nonzero(comparable & ~tied & (risk[None, :] < risk[rows, None]), axis=1)
    event_weight = weight[rows]
    # Running sums: np.cumsum adds left to right like scikit-survival's loop (np.sum adds pairwise).
    numerator = np.cumsum(event_weight * n_concordant + 0.5 * event_weight * n_tied)[-1]
    denominator = np.cumsum(event_weight * np.count_nonzero(comparable, axis=1))[-1]
    return float(numerator / denominator) if denominator != 0 else np.nan


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

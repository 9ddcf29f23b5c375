"""Kaplan–Meier survival curves and medians with numpy, equal to lifelines' to the bit.

Importing lifelines costs a job about a second of CPU (it loads every fitter and scipy.stats); the survival
screens and their Kaplan–Meier grids need only the product-limit curve and its median. lifelines computes
the curve as exp(cumulative sum of log(n - d) - log(n)) over the sorted distinct times (0 first), and the
median as the first time at which the curve is at or below 0.5 (infinite when it never is); the same
operations in the same order give the same floating-point values (``tests/test_kaplan_meier.py`` checks
them against lifelines on random data with ties and censoring).
"""
from __future__ import annotations

import numpy as np


def kaplan_meier_curve(time, event) -> tuple[np.ndarray, np.ndarray]:
    """(times, survival): the product-limit estimate just after each time (lifelines' ``survival_function_``).

    ``times`` are 0 and the distinct observed times (events and censorings), sorted; S(0) = 1 unless
    events happen at time 0.
    """
    time = np.asarray(time, dtype=np.float64)
    event = np.asarray(event, dtype=bool)
    if time.shape != event.shape or time.ndim != 1:
        raise ValueError(f"time and event must be 1-D of one length, got {time.shape} and {event.shape}")
    times, inverse = np.unique(time, return_inverse=True)
    removed = np.bincount(inverse, minlength=len(times)).astype(np.float64)
    deaths = np.bincount(inverse, weights=event.astype(np.float64), minlength=len(times))
    at_risk = len(time) - np.concatenate([[0.0], np.cumsum(removed)[:-1]])
    if times.size == 0 or times[0] > 0:
        times = np.concatenate([[0.0], times])
        at_risk, deaths = np.concatenate([[float(len(time))], at_risk]), np.concatenate([[0.0], deaths])
    with np.errstate(divide="ignore", invalid="ignore"):
        steps = np.log(at_risk - deaths) - np.log(at_risk)
    return times, np.exp(np.cumsum(steps))


def survival_at(times: np.ndarray, survival: np.ndarray, at) -> np.ndarray:
    """The curve's value at each of ``at`` (right-continuous: the last step at or before; 1 before 0)."""
    position = np.searchsorted(times, np.asarray(at, dtype=np.float64), side="right") - 1
    return np.where(position >= 0, survival[np.maximum(position, 0)], 1.0)


def median_survival(time, event) -> float:
    """Kaplan–Meier median: the first time the curve is at or below 0.5; ``inf`` when never reached."""
    times, survival = kaplan_meier_curve(time, event)
    if survival.size == 0 or survival[-1] > 0.5:
        return float("inf")
    return float(times[np.searchsorted(-survival, -0.5, side="left")])

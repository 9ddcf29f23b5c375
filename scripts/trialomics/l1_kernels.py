"""The L1 kernels shared by the compiled path solvers (:mod:`trialomics.cox_path`,
:mod:`trialomics.logistic_path`)."""
from __future__ import annotations

from numba import njit


@njit(cache=True, error_model="numpy")
def soft_threshold(z, threshold):
    """sign(z) max(|z| - threshold, 0): the coordinate-wise minimiser of an L1-penalised quadratic."""
    if z > threshold:
        return z - threshold
    if z < -threshold:
        return z + threshold
    return 0.0


@njit(cache=True, error_model="numpy")
def l1_kkt_violation(gradient, value, weight):
    """Distance of -gradient (the smooth part's) from weight * the subdifferential of |value|."""
    if value > 0.0:
        return abs(gradient + weight)
    if value < 0.0:
        return abs(gradient - weight)
    return max(abs(gradient) - weight, 0.0)


@njit(cache=True, error_model="numpy")
def mark_entered(beta, counted, entered):
    """Marks in ``entered`` the ``counted`` columns non-zero in ``beta`` for the first time; returns how many
    (a path that stops once q features have entered counts them this way)."""
    new = 0
    for j in range(beta.shape[0]):
        if beta[j] != 0.0 and counted[j] and not entered[j]:
            entered[j] = True
            new += 1
    return new

"""The L1 kernels shared by the compiled path solvers (:mod:`trialomics.cox_path`,
:mod:`trialomics.logistic_path`)."""
from __future__ import annotations

from numba import njit

# Up to this many rows a dot product of the path solvers is summed in row order, one addition after
# another: so are the demo's fits (at most 20 patients), whose coefficients have kept their bits since
# the fifth session. Above it, that chain of dependent additions is what a coordinate-descent sweep waits
# on (:func:`interleaved_dot`).
ROW_ORDER_MAX_ROWS = 20


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


@njit(cache=True, error_model="numpy")
def interleaved_dot(x, y, n):
    """sum over k < n of x[k] y[k], by eight interleaved partial sums added pairwise at the end.

    Eight independent chains of additions instead of one, which the compiler turns into vector
    instructions: a Cox path of 400 rows 1.1-1.3x faster (``bench/cox_path_speed.py``); the sum is
    rounded differently from the row-order one, hence used above ``ROW_ORDER_MAX_ROWS`` rows only.
    """
    s0, s1, s2, s3, s4, s5, s6, s7 = 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    k = 0
    while k + 8 <= n:
        s0 += x[k] * y[k]
        s1 += x[k + 1] * y[k + 1]
        s2 += x[k + 2] * y[k + 2]
        s3 += x[k + 3] * y[k + 3]
        s4 += x[k + 4] * y[k + 4]
        s5 += x[k + 5] * y[k + 5]
        s6 += x[k + 6] * y[k + 6]
        s7 += x[k + 7] * y[k + 7]
        k += 8
    total = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
    while k < n:
        total += x[k] * y[k]
        k += 1
    return total

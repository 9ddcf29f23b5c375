"""The KKT checks' screen for the elastic-net Cox path (:mod:`trialomics.cox_path`): which columns'
gradients a check must compute, and the full pass over every column's gradient.

The KKT checks compute the gradients of the working columns and, outside them, only where a bound
cannot rule out that |gradient| / n exceeds the column's L1 weight: |x_j . r| <= |x_j . r_ref| +
||x_j|| ||r - r_ref|| (Cauchy-Schwarz) around a reference residual r_ref whose gradients X' r_ref are
known. A column ruled out has a violation of exactly 0 (and does not enter the working set), so the
checks decide as a pass over every column does, with the same bits (``column_products`` sums each
column over the rows in order, as :func:`column_gradients` does). A check that would compute more
than 1 / SCREEN_REFRESH of the columns computes them all and moves the reference there.

The kernels are numba ``njit`` functions without reference counting (``cox_face_newton.kernel``).
"""
from __future__ import annotations

import numpy as np

from .cox_face_newton import kernel


@kernel
def column_gradients(X, residual, gradient):
    """``gradient[j]`` = X[:, j] . residual for every column (the rows are patients).

    Row by row, so that the compiler vectorises across columns while each column's sum runs over the
    rows in order, as a column's own dot product would (same bits); four rows a pass, so that the sums
    are loaded and stored once for four terms.
    """
    n, p = X.shape
    gradient[:] = 0.0
    k = 0
    while k + 4 <= n:
        r0, r1, r2, r3 = residual[k], residual[k + 1], residual[k + 2], residual[k + 3]
        x0, x1, x2, x3 = X[k], X[k + 1], X[k + 2], X[k + 3]
        for j in range(p):
            gradient[j] = (((gradient[j] + x0[j] * r0) + x1[j] * r1) + x2[j] * r2) + x3[j] * r3
        k += 4
    for row in range(k, n):
        r = residual[row]
        for j in range(p):
            gradient[j] += X[row, j] * r


# A check that would compute more than 1 / SCREEN_REFRESH of the columns computes them all instead.
SCREEN_REFRESH = 8


@kernel
def inverse_column_norms(Xt, inverse_norms):
    """``inverse_norms[j]`` = 1 / ||X[:, j]||, made 1e-9 x itself smaller to stay below it whatever the
    rounding (so that a bound multiplied by it stays a bound)."""
    p, n = Xt.shape
    for j in range(p):
        total = 0.0
        for k in range(n):
            total += Xt[j, k] * Xt[j, k]
        inverse_norms[j] = 1.0 / (np.sqrt(total) * (1.0 + 1e-9))


@kernel
def set_slack(gradient, inverse_norms, working, alpha, l1_ratio, factor, n, slack):
    """``slack[j]``: how far (in norm) the residual may move from the reference, whose gradients are
    ``gradient``, before |x_j . r| / n can exceed the column's L1 weight; -1 where there is no margin
    (or it is NaN), infinite for the columns in ``working`` (checked anyway; set again as columns join).

    The weight is taken 1e-9 x itself smaller, far more than the rounding of this bound and of the
    division by n in the check it replaces.
    """
    for j in range(gradient.shape[0]):
        limit = n * (alpha * l1_ratio * factor[j]) * (1.0 - 1e-9)
        margin = (limit - abs(gradient[j])) * inverse_norms[j]
        slack[j] = np.inf if working[j] else (margin if margin >= 0.0 else -1.0)


@kernel
def screen_radius(residual, reference):
    """A bound on ||residual - reference|| plus the rounding of both gradients' sums.

    A computed x . r is within 2 n eps ||x|| ||r|| of the exact one (the L1 norms below exceed the L2
    norms); 1e-9 x the distance covers its own rounding. NaN or infinite if residual is not finite.
    """
    n = residual.shape[0]
    distance = 0.0
    size = 0.0
    for k in range(n):
        difference = residual[k] - reference[k]
        distance += difference * difference
        size += abs(residual[k]) + abs(reference[k])
    return np.sqrt(distance) * (1.0 + 1e-9) + 2.0 * n * 2.220446049250313e-16 * size


@kernel
def screen(X, residual, working, alpha, l1_ratio, factor, inverse_norms, reference, gradient, slack, candidates):
    """``candidates`` = the columns outside ``working`` whose gradient the KKT check at ``residual`` needs
    (no slack beyond :func:`screen_radius`), ascending; returns how many.

    When there are too many, the reference moves to ``residual`` first (every gradient computed).
    """
    p, n = X.shape[1], X.shape[0]
    radius = screen_radius(residual, reference)
    if not radius < np.inf:            # a residual that is not finite: no bound, every column is checked
        count = 0
        for j in range(p):
            if not working[j]:
                candidates[count] = j
                count += 1
        return count
    count = _listed_below(slack, radius, candidates)
    if count * SCREEN_REFRESH > p:
        column_gradients(X, residual, gradient)
        for k in range(n):
            reference[k] = residual[k]
        set_slack(gradient, inverse_norms, working, alpha, l1_ratio, factor, n, slack)
        count = _listed_below(slack, screen_radius(residual, reference), candidates)
    return count


@kernel
def _listed_below(slack, radius, candidates):
    """``candidates`` = the columns whose slack is at most ``radius``, ascending; returns how many.

    Without branches (every index is written, the count moves on where it is listed): the few
    candidates among many columns would each cost a mispredicted branch.
    """
    count = 0
    for j in range(slack.shape[0]):
        candidates[count] = j
        count += slack[j] <= radius
    return count

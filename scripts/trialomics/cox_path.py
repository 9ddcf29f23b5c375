"""The elastic-net Cox path, solved to convergence by compiled coordinate descent (numba).

Objective at each penalty alpha (Coxnet's and glmnet's, Breslow ties):

    -(1/n) sum_i d_i [eta_i - log sum_{k: t_k >= t_i} exp(eta_k)]
        + alpha * sum_j w_j (l1_ratio |beta_j| + (1 - l1_ratio) / 2 beta_j^2),   eta = X beta.

Algorithm (Simon, Friedman, Hastie & Tibshirani 2011, "Regularization paths for Cox's proportional
hazards model via coordinate descent", with two changes): at the current fit the partial likelihood is
replaced by its quadratic approximation, here with the full Hessian in eta (applied in O(n) by prefix
sums) rather than its diagonal; that penalised least-squares problem is solved by cyclic coordinate
descent with soft-thresholding, accelerated by Newton steps on the face of the non-zero coefficients
(one n x n solve by Woodbury's identity, :mod:`trialomics.cox_face_newton`), over a working set that
starts from the previous penalty's non-zero columns and grows by the model's Karush-Kuhn-Tucker check on
every column. The checks compute a column's gradient only where a Cauchy-Schwarz bound around the last
full pass cannot show that it passes (:mod:`trialomics.cox_kkt_screen`): they decide as full passes
would. A backtracking line search on the exact objective makes each outer step a descent (a proximal
Newton method). The path is warm-started from the previous penalty. A penalty is done when the KKT
conditions hold on every column to ``tol`` (on the scale of the mean partial log-likelihood's gradient).

scikit-survival's Coxnet solves the same objective but stops on the size of its updates (default
tol 1e-7), which at the small penalties of a p >> n problem leaves coefficients up to ~1e-2 from the
optimum; run with a tight tolerance it agrees with this solver to 1e-6 (``tests/test_cox_path.py``).
Every loop is sequential and the arithmetic is in a fixed order, so results are bit-reproducible.
A full pass over the columns' gradients runs row by row across the columns so that the compiler
vectorises it; passes over a few columns (Hessian products, the KKT checks' candidates) take four
columns at a time along their contiguous rows; each column's sum is still taken in row order. A path
allocates its arrays once (``Workspace``), each penalty starts from the state the previous one ended
with, and the kernels run without numba's reference counting (``kernel``). ``bench/cox_path_speed.py``
times the solver on the demo's folds and checks its bits.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit
from numba.np.linalg import F_INT_nptype

from .cox_face_newton import NEWTON_MAX_PATIENTS, column_products, face_newton, kernel, padded_rows
from .cox_kkt_screen import column_gradients, inverse_column_norms, screen, set_slack
from .l1_kernels import ROW_ORDER_MAX_ROWS, interleaved_dot, l1_kkt_violation, mark_entered, soft_threshold

MAX_OUTER = 500            # proximal Newton steps per penalty
MAX_SWEEPS = 100000        # coordinate-descent sweeps per quadratic subproblem
DEFAULT_TOL = 1e-10
# Passes over the non-zero columns that have not settled them before a Newton step, above NEWTON_MAX_PATIENTS
# rows (on the 500-patient demo cohort's paths, 8 to 24 passes gave the same time, 4 and 2 more).
PASSES_BEFORE_NEWTON = 12
ROUNDING_SLACK = 1e3       # KKT violations up to this x tol may be rounding (the gradient's sums of n terms)
# A penalty no score reaches: solved there, the path fits the unpenalised columns alone (every penalised
# coefficient exactly 0), as glmnet solves the first penalty of a grid it made (its "big").
NULL_MODEL_PENALTY = 1e12


@njit(cache=True, error_model="numpy")
def _risk_ends(time):
    """Per row of descending-time data: index of the last row with the same time (end of its risk set)."""
    n = time.shape[0]
    ends = np.empty(n, dtype=np.int64)
    i = n - 1
    while i >= 0:
        j = i
        while j > 0 and time[j - 1] == time[i]:
            j -= 1
        for k in range(j, i + 1):
            ends[k] = i
        i = j - 1
    return ends


@kernel
def _loss_and_curvature(eta, event, ends, residual, curve, sums):
    """n x the mean negative partial log-likelihood at ``eta``, minus its gradient, and its Hessian's terms.

    With e = exp(eta - max eta), S_i the sum of e over patient i's risk set (rows 0..ends[i] in
    descending time), A_k and B_k the sums of 1/S_i and 1/S_i^2 over the events whose risk set holds row
    k: ``residual[k]`` = d_k - e_k A_k (n x minus the gradient in eta) and ``curve`` = (e, A, B), from
    which the Hessian in eta, H[k, m] = [k == m] e_k A_k - e_k e_m B_max(k,m), is applied in O(n).
    ``sums`` (3 x n) is scratch.
    """
    n = eta.shape[0]
    if n == 0:
        raise ValueError("no patients: the partial likelihood needs at least one row")
    top = eta[0]            # eta.max() (its NaN, if any), which would need reference counting
    if not np.isnan(top):
        for k in range(1, n):
            if np.isnan(eta[k]):
                top = eta[k]
                break
            if eta[k] > top:
                top = eta[k]
    expo = curve[0]
    for k in range(n):
        expo[k] = np.exp(eta[k] - top)
    cum, inv, inv2 = sums[0], sums[1], sums[2]
    total = 0.0
    for k in range(n):
        total += expo[k]
        cum[k] = total
    loss = 0.0
    inv[:] = 0.0         # sums of 1 / S_i and 1 / S_i^2 over the events whose risk set ends at row k
    inv2[:] = 0.0
    for i in range(n):
        if event[i]:
            s = cum[ends[i]]
            loss -= eta[i] - top - np.log(s)
            inv[ends[i]] += 1.0 / s
            inv2[ends[i]] += 1.0 / (s * s)
    a = 0.0
    b = 0.0
    for k in range(n - 1, -1, -1):
        a += inv[k]
        b += inv2[k]
        curve[1, k] = a
        curve[2, k] = b
        residual[k] = event[k] - expo[k] * a
    return loss


@kernel
def _loss_at(Xt, beta, columns, n_columns, event, ends, residual, curve, eta, sums):
    """:func:`_loss_and_curvature` at eta = X beta, ``beta`` 0 outside ``columns[:n_columns]`` (ascending).

    ``eta`` is scratch.
    """
    n = Xt.shape[1]
    eta[:] = 0.0
    for c in range(n_columns):
        j = columns[c]
        if beta[j] != 0.0:
            for k in range(n):
                eta[k] += Xt[j, k] * beta[j]
    return _loss_and_curvature(eta, event, ends, residual, curve, sums)


@kernel
def _column_hessian(Xt, j, expo, a_sums, b_sums, factor, weight, HXt):
    """``HXt[j]`` = H X[:, j] (see :func:`_hessian_products`); returns X[:, j]' H X[:, j]."""
    n = Xt.shape[1]
    total = 0.0
    for k in range(n - 1, -1, -1):
        HXt[j, k] = factor[k] * total          # sum over m > k of B_m e_m x_m
        total += weight[k] * Xt[j, k]
    total = 0.0
    for k in range(n):
        total += expo[k] * Xt[j, k]
        HXt[j, k] += expo[k] * (a_sums[k] * Xt[j, k] - b_sums[k] * total)
    total = 0.0
    for k in range(n):
        total += Xt[j, k] * HXt[j, k]
    return total


@kernel
def _hessian_products(curve, Xt, columns, n_columns, HXt, curvature, row_terms):
    """``HXt[j]`` = H X[:, j] for the Hessian in eta held by ``curve`` and ``curvature[j]`` = X[:, j]' H X[:, j] / n.

    For j in ``columns[:n_columns]``, by a suffix and a prefix sum over the rows (O(n) per column). Four
    columns at a time, over their contiguous rows of ``Xt`` and ``HXt``: four independent chains of sums
    where one column would wait for each addition; each column's arithmetic is in the order of a column
    on its own. ``row_terms`` (2 x n) is scratch.
    """
    n = Xt.shape[1]
    expo, a_sums, b_sums = curve[0], curve[1], curve[2]
    factor, weight = row_terms[0], row_terms[1]
    for k in range(n):
        factor[k] = -expo[k]
        weight[k] = b_sums[k] * expo[k]
    c = 0
    while c + 4 <= n_columns:
        j0, j1, j2, j3 = columns[c], columns[c + 1], columns[c + 2], columns[c + 3]
        sum0, sum1, sum2, sum3 = 0.0, 0.0, 0.0, 0.0
        for k in range(n - 1, -1, -1):
            f, w = factor[k], weight[k]
            HXt[j0, k] = f * sum0
            HXt[j1, k] = f * sum1
            HXt[j2, k] = f * sum2
            HXt[j3, k] = f * sum3
            sum0 += w * Xt[j0, k]
            sum1 += w * Xt[j1, k]
            sum2 += w * Xt[j2, k]
            sum3 += w * Xt[j3, k]
        sum0, sum1, sum2, sum3 = 0.0, 0.0, 0.0, 0.0
        for k in range(n):
            e, a, b = expo[k], a_sums[k], b_sums[k]
            x0, x1, x2, x3 = Xt[j0, k], Xt[j1, k], Xt[j2, k], Xt[j3, k]
            sum0 += e * x0
            sum1 += e * x1
            sum2 += e * x2
            sum3 += e * x3
            HXt[j0, k] += e * (a * x0 - b * sum0)
            HXt[j1, k] += e * (a * x1 - b * sum1)
            HXt[j2, k] += e * (a * x2 - b * sum2)
            HXt[j3, k] += e * (a * x3 - b * sum3)
        sum0, sum1, sum2, sum3 = 0.0, 0.0, 0.0, 0.0
        for k in range(n):
            sum0 += Xt[j0, k] * HXt[j0, k]
            sum1 += Xt[j1, k] * HXt[j1, k]
            sum2 += Xt[j2, k] * HXt[j2, k]
            sum3 += Xt[j3, k] * HXt[j3, k]
        curvature[j0], curvature[j1], curvature[j2], curvature[j3] = sum0 / n, sum1 / n, sum2 / n, sum3 / n
        c += 4
    for rest in range(c, n_columns):
        j = columns[rest]
        curvature[j] = _column_hessian(Xt, j, expo, a_sums, b_sums, factor, weight, HXt) / n


@kernel
def _penalty(beta, columns, n_columns, alpha, l1_ratio, factor):
    """The penalty of ``beta``, 0 outside ``columns[:n_columns]`` (ascending; the zeros would add +0)."""
    value = 0.0
    for c in range(n_columns):
        j = columns[c]
        value += factor[j] * (l1_ratio * abs(beta[j]) + 0.5 * (1.0 - l1_ratio) * beta[j] * beta[j])
    return alpha * value


@kernel
def _sweep(Xt, HXt, residual, beta, active, n_active, alpha, l1_ratio, factor, curvature, n):
    """One coordinate-descent pass over ``active[:n_active]``; returns the largest curvature * change^2."""
    largest = 0.0
    for j_index in range(n_active):
        j = active[j_index]
        denominator = curvature[j] + alpha * (1.0 - l1_ratio) * factor[j]
        if denominator <= 0.0:
            continue
        if n <= ROW_ORDER_MAX_ROWS:
            # The sum starts at its first term, not at 0 + it: one addition less on the sweep's chain of
            # dependent operations. That changes nothing but the sign of a zero sum, which the
            # soft-thresholding of g / n + curvature * old returns as 0 either way (same bits).
            g = Xt[j, 0] * residual[0]
            for k in range(1, n):
                g += Xt[j, k] * residual[k]
        else:
            g = interleaved_dot(Xt[j], residual, n)
        old = beta[j]
        new = soft_threshold(g / n + curvature[j] * old, alpha * l1_ratio * factor[j]) / denominator
        delta = new - old
        if delta != 0.0:
            beta[j] = new
            for k in range(n):
                residual[k] -= HXt[j, k] * delta
            change = curvature[j] * delta * delta
            largest = max(largest, change)
    return largest


@kernel
def _listed(working, members):
    """``members`` = the indices of ``working``'s True entries, ascending; returns how many.

    Without branches, as ``cox_kkt_screen._listed_below`` (every index written, the count moving on
    where it is listed).
    """
    count = 0
    for j in range(working.shape[0]):
        members[count] = j
        count += working[j]
    return count


@kernel
def _solve_quadratic(Xt, X, curve, residual, beta, working, members, n_members, alpha, l1_ratio, factor, tol,
                     work):
    """Coordinate descent on the penalised second-order model, over a working set grown by its KKT check.

    The model's gradient is kept through ``residual`` (n x minus the gradient in eta, updated by the
    Hessian times each move), so a coordinate update costs O(n) once the column's Hessian product is
    known (O(n) too, :func:`_hessian_products`; computed only for columns that enter the working set).
    Passes over the working set, each followed by a Newton step on the face it found
    (:func:`trialomics.cox_face_newton.face_newton`; where that does not apply, glmnet's passes over the
    non-zero columns until they settle; above ``NEWTON_MAX_PATIENTS`` rows, those passes first, and the
    Newton step only when ``PASSES_BEFORE_NEWTON`` of them have not settled it), until a pass over the
    working set changes nothing; then the other columns' model gradients are checked (those the screen cannot rule out,
    :func:`trialomics.cox_kkt_screen.screen`) and violators join ``working`` (boolean, with its list
    ``members[:n_members]``; both updated in place). Returns the number of working columns, or -1 when
    it did not converge.
    """
    p, n = Xt.shape
    HXt, curvature, pending, nonzero = work.HXt, work.curvature, work.pending, work.nonzero
    row_terms = work.row_terms
    inverse_norms, reference, gradient, slack = work.inverse_norms, work.reference, work.gradient, work.slack
    candidates, checked = work.candidates, work.checked
    small = n <= NEWTON_MAX_PATIENTS           # a Newton step after every unsettled pass (cox_face_newton)
    budget = MAX_SWEEPS if small else PASSES_BEFORE_NEWTON
    curvature[:] = -1.0        # < 0: product not computed yet at this curve
    for _ in range(MAX_SWEEPS):
        n_pending = 0
        for j_index in range(n_members):
            j = members[j_index]
            if curvature[j] < 0.0:
                pending[n_pending] = j
                n_pending += 1
        _hessian_products(curve, Xt, pending, n_pending, HXt, curvature, row_terms)
        settled = False
        for _ in range(MAX_SWEEPS):
            if _sweep(Xt, HXt, residual, beta, members, n_members, alpha, l1_ratio, factor, curvature, n) < tol * tol:
                settled = True
                break
            if small and face_newton(Xt, HXt, residual, beta, members, n_members, alpha, l1_ratio, factor, work):
                continue
            n_nonzero = 0
            for j_index in range(n_members):
                if beta[members[j_index]] != 0.0:
                    nonzero[n_nonzero] = members[j_index]
                    n_nonzero += 1
            for passes in range(1, MAX_SWEEPS + 1):
                change = _sweep(Xt, HXt, residual, beta, nonzero, n_nonzero, alpha, l1_ratio, factor, curvature, n)
                if change < tol * tol:
                    break
                if passes >= budget and face_newton(Xt, HXt, residual, beta, members, n_members, alpha, l1_ratio,
                                                    factor, work):
                    break
        if not settled:
            return -1
        n_candidates = screen(X, residual, working, alpha, l1_ratio, factor, inverse_norms, reference, gradient,
                               slack, candidates)
        column_products(Xt, candidates, n_candidates, residual, checked)
        added = False
        for c in range(n_candidates):
            j = candidates[c]
            if abs(checked[c] / n) > alpha * l1_ratio * factor[j]:
                working[j] = True
                slack[j] = np.inf
                added = True
        if not added:
            return n_members
        n_members = _listed(working, members)
    return -1


@kernel
def _kkt_violation(gradient, beta_j, alpha, l1_ratio, factor_j):
    """How far a column is from stationarity (``gradient`` is minus the loss gradient)."""
    # The ridge part joins the smooth gradient; the lasso part is the L1 weight.
    ridge = alpha * (1.0 - l1_ratio) * factor_j * beta_j
    return l1_kkt_violation(ridge - gradient, beta_j, alpha * l1_ratio * factor_j)


@kernel
def _kkt_violations(Xt, residual, beta, columns, n_columns, alpha, l1_ratio, factor, violations):
    """``violations[c]`` = :func:`_kkt_violation` of column ``columns[c]`` at ``residual`` (n x minus the
    loss gradient in eta), c < ``n_columns``; returns the largest, 0 if larger (a NaN is skipped by max)."""
    n = Xt.shape[1]
    column_products(Xt, columns, n_columns, residual, violations)
    largest = 0.0
    for c in range(n_columns):
        j = columns[c]
        violations[c] = _kkt_violation(violations[c] / n, beta[j], alpha, l1_ratio, factor[j])
        largest = max(largest, violations[c])
    return largest


@kernel
def _largest_violation(Xt, X, residual, beta, working, members, n_members, alpha, l1_ratio, factor, work):
    """The largest KKT violation over every column at ``residual``, and the number of screen candidates
    (:func:`trialomics.cox_kkt_screen.screen`, in ``work.candidates``) whose violations are in
    ``work.violations``.

    Computed for the working columns and the candidates only: every other column's is exactly 0. The
    maximum is exact in any order.
    """
    inverse_norms, reference, gradient, slack = work.inverse_norms, work.reference, work.gradient, work.slack
    candidates, violations = work.candidates, work.violations
    largest = _kkt_violations(Xt, residual, beta, members, n_members, alpha, l1_ratio, factor, violations)
    n_candidates = screen(X, residual, working, alpha, l1_ratio, factor, inverse_norms, reference, gradient,
                           slack, candidates)
    candidates_largest = _kkt_violations(Xt, residual, beta, candidates, n_candidates, alpha, l1_ratio, factor,
                                         violations)
    return max(largest, candidates_largest), n_candidates


@kernel
def _fit_penalty(Xt, X, event, ends, beta, loss, alpha, l1_ratio, factor, tol, work):
    """Minimise the objective at ``alpha`` from ``beta`` (updated in place); (converged, loss at beta).

    ``loss`` and ``work.residual``, ``work.curve`` and ``work.gradient`` hold the state at ``beta``
    (:func:`_loss_at`, :func:`trialomics.cox_kkt_screen.column_gradients`) and are updated with it: the
    next penalty starts from the point where this one ended, whose state it need not compute again.
    """
    p, n = Xt.shape
    residual, curve, gradient = work.residual, work.curve, work.gradient
    model_residual, trial_residual, trial_curve = work.model_residual, work.trial_residual, work.trial_curve
    eta, sums, violations, trial, step_beta = work.eta, work.sums, work.violations, work.trial, work.step_beta
    inverse_norms, slack, candidates = work.inverse_norms, work.slack, work.candidates
    # The working set starts from the previous penalty's non-zero and unpenalised columns (glmnet's
    # ever-active set); the model's KKT check adds the rest as needed. Outside it the coefficients are
    # 0, in ``trial`` and ``step_beta`` too, so those need no update and add nothing to the objective.
    working, members = work.working, work.members
    for j in range(p):
        working[j] = beta[j] != 0.0 or factor[j] == 0.0
    n_members = _listed(working, members)
    objective = loss / n + _penalty(beta, members, n_members, alpha, l1_ratio, factor)
    set_slack(gradient, inverse_norms, working, alpha, l1_ratio, factor, n, slack)
    largest, _ = _largest_violation(Xt, X, residual, beta, working, members, n_members, alpha, l1_ratio, factor,
                                    work)
    # 0.01 x is monotone in floating point: the largest of 0.01 x each violation is 0.01 x the largest.
    inner_tol = max(tol, 0.01 * largest)
    previous = largest
    for _ in range(MAX_OUTER):
        for j in range(p):           # (element by element: a slice copy would need reference counting)
            trial[j] = beta[j]
        for k in range(n):
            model_residual[k] = residual[k]
        n_members = _solve_quadratic(Xt, X, curve, model_residual, trial, working, members, n_members, alpha,
                                     l1_ratio, factor, inner_tol, work)
        if n_members < 0:
            return False, loss
        # Backtracking line search on the exact objective along the proximal Newton direction.
        step = 1.0
        accepted = False
        while step > 1e-10:
            for j_index in range(n_members):
                j = members[j_index]
                step_beta[j] = beta[j] + step * (trial[j] - beta[j])
            step_loss = _loss_at(Xt, step_beta, members, n_members, event, ends, trial_residual, trial_curve, eta,
                                 sums)
            value = step_loss / n + _penalty(step_beta, members, n_members, alpha, l1_ratio, factor)
            if np.isfinite(value) and value <= objective + 1e-15 * abs(objective):
                for j_index in range(n_members):
                    beta[members[j_index]] = step_beta[members[j_index]]
                for k in range(n):
                    residual[k] = trial_residual[k]
                    curve[0, k], curve[1, k], curve[2, k] = trial_curve[0, k], trial_curve[1, k], trial_curve[2, k]
                objective = value
                loss = step_loss
                accepted = True
                break
            step *= 0.5
        # KKT on every column at the new point; violators join the working set.
        largest, n_candidates = _largest_violation(Xt, X, residual, beta, working, members, n_members, alpha,
                                                   l1_ratio, factor, work)
        added = False
        for c in range(n_candidates):
            if violations[c] > tol:
                working[candidates[c]] = True
                slack[candidates[c]] = np.inf
                added = True
        if added:
            n_members = _listed(working, members)
        if largest <= tol:
            return True, loss
        if not added and largest <= ROUNDING_SLACK * tol and largest > 0.5 * previous:
            # Newton steps converge quadratically until rounding stops them: at hundreds of patients and
            # near-separating penalties the gradient's sums leave ~1e-10, and further steps only stir it.
            return True, loss
        previous = largest
        inner_tol = max(tol, 0.01 * largest)
        if not accepted and not added:
            # No descent along the model's direction and nothing to add: optimal up to rounding.
            return largest <= ROUNDING_SLACK * tol, loss
    return False, loss


# The arrays a path's solves reuse (allocated once per path): the state at the current coefficients
# (residual, curve, gradient), the line search's trial state and the subproblems' scratch.
Workspace = namedtuple("Workspace", [
    "residual", "curve", "gradient", "trial", "step_beta", "trial_residual", "trial_curve", "eta", "sums",
    "working", "model_residual", "inverse_norms", "reference", "slack", "candidates", "checked", "HXt", "curvature",
    "members", "pending", "nonzero", "row_terms", "face", "inverse_d", "rhs_face", "delta", "system", "rhs", "lu",
    "pivots", "violations", "padded_Xt", "face_Xt", "face_HXt", "scalars"])


@njit(cache=True, error_model="numpy")
def _workspace(Xt):
    p, n = Xt.shape
    padded_Xt = padded_rows(Xt)
    # The BLAS face step's buffers (cox_face_newton.blas_face_step), used above NEWTON_MAX_PATIENTS rows only.
    blas_rows = p if n > NEWTON_MAX_PATIENTS else 0
    return Workspace(
        np.empty(n), np.empty((3, n)), np.empty(p), np.empty(p), np.empty(p), np.empty(n), np.empty((3, n)),
        np.empty(n), np.empty((3, n)), np.zeros(p, dtype=np.bool_), np.empty(n), np.empty(p), np.empty(n),
        np.empty(p), np.empty(p, dtype=np.int64), np.empty(p), np.empty((p, n)),
        np.empty(p), np.empty(p, dtype=np.int64), np.empty(p, dtype=np.int64), np.empty(p, dtype=np.int64),
        np.empty((2, n)), np.empty(p, dtype=np.int64), np.empty(p), np.empty(p),
        np.empty(p), np.empty((n, padded_Xt.shape[1])), np.empty(n), np.empty((n, n)),
        np.empty(n, dtype=F_INT_nptype), np.empty(p), padded_Xt, np.empty((blas_rows, n)),
        np.empty((blas_rows, n)), np.empty(2))


@njit(cache=True, error_model="numpy")
def _path(Xt, X, event, ends, alphas, l1_ratio, factor, tol, coef, converged, stop_entered, first_is_alpha_max):
    """The path over ``alphas`` from 0; ``X`` (patients x columns) and ``Xt`` (its transpose) both C-ordered.

    With ``stop_entered`` > 0 it stops after the first penalty at which that many penalised columns have
    been non-zero somewhere on the path (the penalties before it are computed as without the stop).
    ``first_is_alpha_max``: ``alphas[0]`` is these data's :func:`largest_penalty`, where the solution is
    the unpenalised columns' fit; solved as such (at ``NULL_MODEL_PENALTY``), since at alpha_max the top
    score equals its threshold only up to rounding and could enter with a ~1e-16 coefficient.
    """
    p, n = Xt.shape
    work = _workspace(Xt)
    beta = np.zeros(p)
    counted, entered, n_entered = factor > 0.0, np.zeros(p, dtype=np.bool_), 0
    loss = _loss_at(Xt, beta, work.members, 0, event, ends, work.residual, work.curve, work.eta, work.sums)
    inverse_column_norms(Xt, work.inverse_norms)
    column_gradients(X, work.residual, work.gradient)
    work.reference[:] = work.residual
    for a in range(alphas.shape[0]):
        alpha = NULL_MODEL_PENALTY if a == 0 and first_is_alpha_max else alphas[a]
        ok, loss = _fit_penalty(Xt, X, event, ends, beta, loss, alpha, l1_ratio, factor, tol, work)
        converged[a] = ok
        if not ok:
            return
        coef[:, a] = beta
        n_entered += mark_entered(beta, counted, entered)
        if 0 < stop_entered <= n_entered:
            return


@njit(cache=True, error_model="numpy")
def _ordered_design(X, shift, time, event):
    """(Xt, its transpose, event, risk-set ends) as :func:`_path` reads them: the design ``X - shift`` (each
    column less its shift, as numpy's broadcast subtraction: same bits) with its rows in descending time
    (a stable sort, as numpy's mergesort), both orientations C-ordered."""
    n, p = X.shape
    order = np.argsort(-time, kind="mergesort")
    ordered = np.empty((n, p))
    Xt = np.empty((p, n))
    ordered_event = np.empty(n)
    ordered_time = np.empty(n)
    for i in range(n):
        row = order[i]
        for j in range(p):
            value = X[row, j] - shift[j]
            ordered[i, j] = value
            Xt[j, i] = value
        ordered_event[i] = np.float64(event[row])
        ordered_time[i] = time[row]
    return Xt, ordered, ordered_event, _risk_ends(ordered_time)


def _design_inputs(X, time, event, shift) -> tuple:
    """The arguments of :func:`_ordered_design` (``shift=None``: none)."""
    X = np.asarray(X, dtype=np.float64)
    shift = np.zeros(X.shape[1]) if shift is None else np.ascontiguousarray(shift, dtype=np.float64)
    return X, shift, np.ascontiguousarray(time, dtype=np.float64), np.ascontiguousarray(event)


def largest_penalty(X: np.ndarray, time: np.ndarray, event: np.ndarray, factor: np.ndarray, l1_ratio: float,
                    tol: float = DEFAULT_TOL, shift: np.ndarray | None = None) -> float:
    """The smallest alpha at which every penalised coefficient is 0 (glmnet's and Coxnet's first penalty).

    max_j |score_j| / (n l1_ratio w_j) over the penalised columns of the design ``X - shift``, the score
    taken at the fit of the unpenalised columns alone (at 0 when there are none, or when that fit does
    not converge).
    """
    Xt, ordered, ordered_event, ends = _ordered_design(*_design_inputs(X, time, event, shift))
    factor = np.ascontiguousarray(factor, dtype=np.float64)
    penalised = factor > 0
    if not penalised.any():
        return 1.0
    beta = np.zeros(X.shape[1])
    if not penalised.all():
        fitted = np.zeros((X.shape[1], 1))
        converged = np.zeros(1, dtype=np.bool_)
        _path(Xt, ordered, ordered_event, ends, np.array([NULL_MODEL_PENALTY]), float(l1_ratio), factor, float(tol),
              fitted, converged, 0, False)
        if converged[0]:
            beta = fitted[:, 0]
    residual = np.empty(len(time))
    _loss_and_curvature(Xt.T @ beta, ordered_event, ends, residual, np.empty((3, len(time))), np.empty((3, len(time))))
    score = np.abs(Xt @ residual) / len(time)
    return float((score[penalised] / factor[penalised]).max() / l1_ratio) or 1.0


@njit(cache=True, error_model="numpy")
def _shifted_path(X, shift, time, event, alphas, l1_ratio, factor, tol, coef, converged, stop_entered,
                  first_is_alpha_max):
    """:func:`_path` on the design ``X - shift`` (:func:`_ordered_design`), in one compiled call."""
    Xt, ordered, ordered_event, ends = _ordered_design(X, shift, time, event)
    _path(Xt, ordered, ordered_event, ends, alphas, l1_ratio, factor, tol, coef, converged, stop_entered,
          first_is_alpha_max)


def elastic_net_cox_path(X: np.ndarray, time: np.ndarray, event: np.ndarray, alphas: np.ndarray, factor: np.ndarray,
                         l1_ratio: float, tol: float = DEFAULT_TOL, stop_entered: int = 0,
                         shift: np.ndarray | None = None, first_is_alpha_max: bool = False) -> tuple[np.ndarray, int]:
    """Coefficients (features x alphas) of the path over the decreasing ``alphas``; and how many converged.

    The design is ``X - shift`` (``shift`` per column, e.g. the column means: the caller centres it;
    ``None``: ``X`` as given), formed in the compiled call with the rest of the solver's inputs.
    ``factor``: per-column penalty weights (0 = unpenalised). Columns of penalties from the first that
    failed to converge on are NaN, as are those after the first penalty at which ``stop_entered`` (> 0)
    penalised columns have entered the path. ``first_is_alpha_max``: ``alphas[0]`` is :func:`largest_penalty`
    of this design, whose solution (every penalised coefficient 0) is then solved as such (see :func:`_path`).
    """
    X, shift, time, event = _design_inputs(X, time, event, shift)
    alphas = np.ascontiguousarray(alphas, dtype=np.float64)
    coef = np.full((X.shape[1], len(alphas)), np.nan)
    converged = np.zeros(len(alphas), dtype=np.bool_)
    _shifted_path(X, shift, time, event, alphas, float(l1_ratio), np.ascontiguousarray(factor, dtype=np.float64),
                  float(tol), coef, converged, int(stop_entered), bool(first_is_alpha_max))
    usable = int(np.argmin(converged)) if not converged.all() else len(alphas)
    return coef, usable

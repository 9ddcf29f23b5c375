"""The elastic-net Cox path, solved to convergence by compiled coordinate descent (numba).

Objective at each penalty alpha (Coxnet's and glmnet's, Breslow ties):

    -(1/n) sum_i d_i [eta_i - log sum_{k: t_k >= t_i} exp(eta_k)]
        + alpha * sum_j w_j (l1_ratio |beta_j| + (1 - l1_ratio) / 2 beta_j^2),   eta = X beta.

Algorithm (Simon, Friedman, Hastie & Tibshirani 2011, "Regularization paths for Cox's proportional
hazards model via coordinate descent", with two changes): at the current fit the partial likelihood is
replaced by its quadratic approximation, here with the full Hessian in eta (applied in O(n) by prefix
sums) rather than its diagonal; that penalised least-squares problem is solved by cyclic coordinate
descent with soft-thresholding, accelerated by Newton steps on the face of the non-zero coefficients
(one n x n solve by Woodbury's identity), over a working set that starts from the previous penalty's
non-zero columns and grows by the model's Karush-Kuhn-Tucker check on every column. A backtracking line
search on the exact objective makes each outer step a descent (a proximal Newton method). The path is
warm-started from the previous penalty. A penalty is done when the KKT conditions hold on every column
to ``tol`` (on the scale of the mean partial log-likelihood's gradient).

scikit-survival's Coxnet solves the same objective but stops on the size of its updates (default
tol 1e-7), which at the small penalties of a p >> n problem leaves coefficients up to ~1e-2 from the
optimum; run with a tight tolerance it agrees with this solver to 1e-6 (``tests/test_cox_path.py``).
Every loop is sequential and the arithmetic is in a fixed order, so results are bit-reproducible.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .l1_kernels import l1_kkt_violation, soft_threshold

MAX_OUTER = 500            # proximal Newton steps per penalty
MAX_SWEEPS = 100000        # coordinate-descent sweeps per quadratic subproblem
DEFAULT_TOL = 1e-10


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


@njit(cache=True, error_model="numpy")
def _loss_and_curvature(eta, event, ends, residual, curve):
    """n x the mean negative partial log-likelihood at ``eta``, minus its gradient, and its Hessian's terms.

    With e = exp(eta - max eta), S_i the sum of e over patient i's risk set (rows 0..ends[i] in
    descending time), A_k and B_k the sums of 1/S_i and 1/S_i^2 over the events whose risk set holds row
    k: ``residual[k]`` = d_k - e_k A_k (n x minus the gradient in eta) and ``curve`` = (e, A, B), from
    which the Hessian in eta, H[k, m] = [k == m] e_k A_k - e_k e_m B_max(k,m), is applied in O(n).
    """
    n = eta.shape[0]
    top = eta.max()
    expo = curve[0]
    for k in range(n):
        expo[k] = np.exp(eta[k] - top)
    cum = np.empty(n)
    total = 0.0
    for k in range(n):
        total += expo[k]
        cum[k] = total
    loss = 0.0
    inv = np.zeros(n)        # sums of 1 / S_i and 1 / S_i^2 over the events whose risk set ends at row k
    inv2 = np.zeros(n)
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


@njit(cache=True, error_model="numpy")
def _hessian_product(curve, x, out):
    """``out`` = H x for the Hessian in eta held by ``curve`` (prefix and suffix sums, O(n))."""
    n = x.shape[0]
    expo = curve[0]
    suffix = 0.0
    for k in range(n - 1, -1, -1):
        out[k] = -expo[k] * suffix          # sum over m > k of B_m e_m x_m
        suffix += curve[2, k] * expo[k] * x[k]
    prefix = 0.0
    for k in range(n):
        prefix += expo[k] * x[k]
        out[k] += expo[k] * (curve[1, k] * x[k] - curve[2, k] * prefix)


@njit(cache=True, error_model="numpy")
def _penalty(beta, alpha, l1_ratio, factor):
    value = 0.0
    for j in range(beta.shape[0]):
        value += factor[j] * (l1_ratio * abs(beta[j]) + 0.5 * (1.0 - l1_ratio) * beta[j] * beta[j])
    return alpha * value


@njit(cache=True, error_model="numpy")
def _sweep(Xt, HXt, residual, beta, active, n_active, alpha, l1_ratio, factor, curvature, n):
    """One coordinate-descent pass over ``active[:n_active]``; returns the largest curvature * change^2."""
    largest = 0.0
    for j_index in range(n_active):
        j = active[j_index]
        denominator = curvature[j] + alpha * (1.0 - l1_ratio) * factor[j]
        if denominator <= 0.0:
            continue
        g = 0.0
        for k in range(n):
            g += Xt[j, k] * residual[k]
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


@njit(cache=True, error_model="numpy")
def _face_newton(Xt, HXt, residual, beta, members, n_members, alpha, l1_ratio, factor, n):
    """Newton step on the model restricted to the current face (non-zero columns, their signs fixed).

    The face's Hessian is D + V'HV / n (V the non-zero columns, D the ridge part of the penalty, positive
    when every such column is penalised and l1_ratio < 1); by Woodbury its solve needs one n x n system,
    O(n^2 |face|), however many columns are non-zero. The step stops where a coefficient would cross
    zero (that coefficient is set to 0), so the model decreases. Returns False where it does not apply.
    """
    face = np.empty(n_members, dtype=np.int64)
    size = 0
    for a in range(n_members):
        j = members[a]
        if beta[j] != 0.0:
            if factor[j] == 0.0:
                return False
            face[size] = j
            size += 1
    if size == 0 or l1_ratio >= 1.0:
        return False
    ridge = alpha * (1.0 - l1_ratio)
    inverse_d = np.empty(size)
    rhs_face = np.empty(size)
    for a in range(size):
        j = face[a]
        d = ridge * factor[j]
        inverse_d[a] = 1.0 / d
        g = 0.0
        for k in range(n):
            g += Xt[j, k] * residual[k]
        sign = 1.0 if beta[j] > 0.0 else -1.0
        rhs_face[a] = g / n - alpha * l1_ratio * factor[j] * sign - d * beta[j]
    system = np.zeros((n, n))
    rhs = np.zeros(n)
    for a in range(size):
        j = face[a]
        for k in range(n):
            w = HXt[j, k] * inverse_d[a]
            rhs[k] += w * rhs_face[a]
            for m in range(n):
                system[k, m] += w * Xt[j, m]
    for k in range(n):
        system[k, k] += n
    y = np.linalg.solve(system, rhs)
    delta = np.empty(size)
    step = 1.0
    blocking = -1
    for a in range(size):
        j = face[a]
        v = 0.0
        for k in range(n):
            v += Xt[j, k] * y[k]
        delta[a] = inverse_d[a] * (rhs_face[a] - v)
        if (beta[j] + delta[a]) * beta[j] < 0.0:
            t = -beta[j] / delta[a]
            if t < step:
                step = t
                blocking = a
    for a in range(size):
        j = face[a]
        move = -beta[j] if a == blocking else step * delta[a]
        beta[j] += move
        for k in range(n):
            residual[k] -= HXt[j, k] * move
    return True


@njit(cache=True, error_model="numpy")
def _solve_quadratic(Xt, curve, residual, beta, working, alpha, l1_ratio, factor, tol):
    """Coordinate descent on the penalised second-order model, over a working set grown by its KKT check.

    The model's gradient is kept through ``residual`` (n x minus the gradient in eta, updated by the
    Hessian times each move), so a coordinate update costs O(n) once the column's Hessian product is
    known (O(n) too, :func:`_hessian_product`; computed only for columns that enter the working set).
    Passes over the working set, each followed by a Newton step on the face it found
    (:func:`_face_newton`; where that does not apply, glmnet's passes over the non-zero columns until
    they settle), until a pass over the working set changes nothing; then every other column's model
    gradient is checked and violators join ``working`` (boolean, updated in place). Returns False when
    it did not converge.
    """
    p, n = Xt.shape
    HXt = np.empty((p, n))
    curvature = np.full(p, -1.0)        # < 0: product not computed yet
    members = np.empty(p, dtype=np.int64)
    nonzero = np.empty(p, dtype=np.int64)
    for _ in range(MAX_SWEEPS):
        n_members = 0
        for j in range(p):
            if working[j]:
                members[n_members] = j
                n_members += 1
                if curvature[j] < 0.0:
                    _hessian_product(curve, Xt[j], HXt[j])
                    v = 0.0
                    for k in range(n):
                        v += Xt[j, k] * HXt[j, k]
                    curvature[j] = v / n
        settled = False
        for _ in range(MAX_SWEEPS):
            if _sweep(Xt, HXt, residual, beta, members, n_members, alpha, l1_ratio, factor, curvature, n) < tol * tol:
                settled = True
                break
            if _face_newton(Xt, HXt, residual, beta, members, n_members, alpha, l1_ratio, factor, n):
                continue
            n_nonzero = 0
            for j_index in range(n_members):
                if beta[members[j_index]] != 0.0:
                    nonzero[n_nonzero] = members[j_index]
                    n_nonzero += 1
            for _ in range(MAX_SWEEPS):
                if _sweep(Xt, HXt, residual, beta, nonzero, n_nonzero, alpha, l1_ratio, factor, curvature, n) < tol * tol:
                    break
        if not settled:
            return False
        added = False
        for j in range(p):
            if not working[j]:
                g = 0.0
                for k in range(n):
                    g += Xt[j, k] * residual[k]
                if abs(g / n) > alpha * l1_ratio * factor[j]:
                    working[j] = True
                    added = True
        if not added:
            return True
    return False


@njit(cache=True, error_model="numpy")
def _kkt_violation(gradient, beta_j, alpha, l1_ratio, factor_j):
    """How far a column is from stationarity (``gradient`` is minus the loss gradient)."""
    # The ridge part joins the smooth gradient; the lasso part is the L1 weight.
    ridge = alpha * (1.0 - l1_ratio) * factor_j * beta_j
    return l1_kkt_violation(ridge - gradient, beta_j, alpha * l1_ratio * factor_j)


@njit(cache=True, error_model="numpy")
def _objective(Xt, beta, event, ends, alpha, l1_ratio, factor, residual, curve):
    p, n = Xt.shape
    eta = np.zeros(n)
    for j in range(p):
        if beta[j] != 0.0:
            for k in range(n):
                eta[k] += Xt[j, k] * beta[j]
    return _loss_and_curvature(eta, event, ends, residual, curve) / n + _penalty(beta, alpha, l1_ratio, factor)


@njit(cache=True, error_model="numpy")
def _fit_penalty(Xt, event, ends, beta, alpha, previous_alpha, l1_ratio, factor, tol):
    """Minimise the objective at ``alpha`` from ``beta`` (updated in place). Returns False on failure."""
    p, n = Xt.shape
    residual = np.empty(n)
    curve = np.empty((3, n))
    objective = _objective(Xt, beta, event, ends, alpha, l1_ratio, factor, residual, curve)
    # The working set starts from the previous penalty's non-zero and unpenalised columns (glmnet's
    # ever-active set); the model's KKT check adds the rest as needed.
    working = np.zeros(p, dtype=np.bool_)
    for j in range(p):
        if beta[j] != 0.0 or factor[j] == 0.0:
            working[j] = True
    trial = np.empty(p)
    inner_tol = tol
    for j in range(p):
        g = 0.0
        for k in range(n):
            g += Xt[j, k] * residual[k]
        inner_tol = max(inner_tol, 0.01 * _kkt_violation(g / n, beta[j], alpha, l1_ratio, factor[j]))
    trial_residual = np.empty(n)
    trial_curve = np.empty((3, n))
    for _ in range(MAX_OUTER):
        trial[:] = beta
        if not _solve_quadratic(Xt, curve, residual.copy(), trial, working, alpha, l1_ratio, factor, inner_tol):
            return False
        # Backtracking line search on the exact objective along the proximal Newton direction.
        step = 1.0
        accepted = False
        while step > 1e-10:
            step_beta = beta + step * (trial - beta)
            value = _objective(Xt, step_beta, event, ends, alpha, l1_ratio, factor, trial_residual, trial_curve)
            if np.isfinite(value) and value <= objective + 1e-15 * abs(objective):
                beta[:] = step_beta
                residual[:] = trial_residual
                curve[:, :] = trial_curve
                objective = value
                accepted = True
                break
            step *= 0.5
        # KKT on every column at the new point; violators join the working set.
        largest = 0.0
        added = False
        for j in range(p):
            g = 0.0
            for k in range(n):
                g += Xt[j, k] * residual[k]
            violation = _kkt_violation(g / n, beta[j], alpha, l1_ratio, factor[j])
            if violation > tol and not working[j]:
                working[j] = True
                added = True
            largest = max(largest, violation)
        if largest <= tol:
            return True
        inner_tol = max(tol, 0.01 * largest)
        if not accepted and not added:
            # No descent along the model's direction and nothing to add: optimal up to rounding.
            return largest <= 1e3 * tol
    return False


@njit(cache=True, error_model="numpy")
def _path(Xt, event, ends, alphas, l1_ratio, factor, tol, coef, converged):
    beta = np.zeros(Xt.shape[0])
    previous = alphas[0]
    for a in range(alphas.shape[0]):
        ok = _fit_penalty(Xt, event, ends, beta, alphas[a], previous, l1_ratio, factor, tol)
        converged[a] = ok
        if not ok:
            return
        coef[:, a] = beta
        previous = alphas[a]


def largest_penalty(X: np.ndarray, time: np.ndarray, event: np.ndarray, factor: np.ndarray, l1_ratio: float,
                    tol: float = DEFAULT_TOL) -> float:
    """The smallest alpha at which every penalised coefficient is 0 (glmnet's and Coxnet's first penalty).

    max_j |score_j| / (n l1_ratio w_j) over the penalised columns, the score taken at the fit of the
    unpenalised columns alone (at 0 when there are none, or when that fit does not converge).
    """
    order = np.argsort(-time, kind="mergesort")
    Xt = np.ascontiguousarray(X[order].T)
    ordered_event = np.asarray(event, dtype=np.float64)[order]
    ends = _risk_ends(time[order])
    factor = np.ascontiguousarray(factor, dtype=np.float64)
    penalised = factor > 0
    if not penalised.any():
        return 1.0
    beta = np.zeros(X.shape[1])
    if not penalised.all():
        fitted = np.zeros((X.shape[1], 1))
        converged = np.zeros(1, dtype=np.bool_)
        _path(Xt, ordered_event, ends, np.array([1e12]), float(l1_ratio), factor, float(tol), fitted, converged)
        if converged[0]:
            beta = fitted[:, 0]
    residual = np.empty(len(time))
    _loss_and_curvature(Xt.T @ beta, ordered_event, ends, residual, np.empty((3, len(time))))
    score = np.abs(Xt @ residual) / len(time)
    return float((score[penalised] / factor[penalised]).max() / l1_ratio) or 1.0


def elastic_net_cox_path(X: np.ndarray, time: np.ndarray, event: np.ndarray, alphas: np.ndarray, factor: np.ndarray,
                         l1_ratio: float, tol: float = DEFAULT_TOL) -> tuple[np.ndarray, int]:
    """Coefficients (features x alphas) of the path over the decreasing ``alphas``; and how many converged.

    ``X`` is used as given (the caller centres it). ``factor``: per-column penalty weights (0 =
    unpenalised). Columns of penalties from the first that failed to converge on are NaN.
    """
    X = np.asarray(X, dtype=np.float64)
    time = np.asarray(time, dtype=np.float64)
    order = np.argsort(-time, kind="mergesort")
    alphas = np.ascontiguousarray(alphas, dtype=np.float64)
    coef = np.full((X.shape[1], len(alphas)), np.nan)
    converged = np.zeros(len(alphas), dtype=np.bool_)
    _path(np.ascontiguousarray(X[order].T), np.asarray(event, dtype=np.float64)[order], _risk_ends(time[order]),
          alphas, float(l1_ratio), np.ascontiguousarray(factor, dtype=np.float64), float(tol), coef, converged)
    usable = int(np.argmin(converged)) if not converged.all() else len(alphas)
    return coef, usable

"""L1-penalised logistic regression path, converged to the optimum, in numba.

At each penalty ``alpha`` of a decreasing grid it minimises

    mean_i log(1 + exp(-(2 y_i - 1) (b + x_i . beta)))
        + alpha * (sum_j penalty_factor_j |beta_j| + intercept_penalty |b|),

which is liblinear's L1 logistic regression (solver type 6) as ``model_paths.logistic_l1_path`` calls
it: ``C = 1 / (n alpha)``, a column multiplied by ``s`` has its L1 weight divided by ``s``, and the
intercept is the weight of a constant column ``intercept_scaling``, i.e. an L1 weight of
``1 / intercept_scaling`` (``tests/test_logistic_path.py`` checks the equivalence).

Algorithm (glmnet's scheme for the binomial family, with an exact stopping rule):

- warm start from the previous penalty's solution, on a working set of columns (the intercept, the
  columns with penalty factor 0, and every column that has joined);
- on the working set, proximal Newton: the log-likelihood is replaced by its quadratic approximation
  at the current fit and that L1-penalised weighted least-squares problem is solved by cyclic
  coordinate descent with soft-thresholding (the intercept is one more coordinate, with its own small
  penalty), accelerated by a Newton step on the current non-zero coefficients (exact once the
  support is found); the step is halved until the penalised objective decreases (Armijo), so
  separable data converge too (the L1 penalty keeps the optimum finite);
- when the KKT conditions hold on the working set within ``tol * alpha``, check them on every
  column; the worst violators (up to ``MAX_ADDED``) join the working set and the fit resumes, until
  none is left. The sequential strong rule was tried instead and admitted 100-200 of 500 columns at
  16 patients and a 10-penalty grid, where about 10 end up non-zero.

The stopping rule is on the full gradient: at the returned solution every coordinate's KKT
violation (distance of minus the gradient from ``alpha * factor_j`` times the subdifferential of
``|beta_j|``) is at most ``tol * alpha`` (or, for penalties so small that this is below the gradient's
rounding, ``1e-14 * max |x|``). All loops are sequential: the same inputs give
bit-identical outputs.
"""
from __future__ import annotations

import numba
import numpy as np

from .l1_kernels import l1_kkt_violation, mark_entered, soft_threshold

DEFAULT_TOL = 1e-10
# Proximal Newton iterations, and coordinate-descent sweeps per inner problem. Where the face Hessian is too
# ill-conditioned for the subspace Newton step (near-separated patients), sweeps alone converge slowly: a
# 10-patient fold of the demo's RNA changes needs 14,055 at one penalty (tests/data/slow_logistic_fold.npz).
DEFAULT_MAX_ITER = 100_000
# Curvature floor of one patient's log-likelihood term: keeps the quadratic model strictly convex
# when a fitted probability underflows to 0 or 1 (separable data); the line search keeps steps safe.
MIN_CURVATURE = 1e-12
ARMIJO_FRACTION = 1e-4
MIN_STEP = 1e-12
# Smallest absolute KKT tolerance, per unit of the largest |x|.
ROUNDING_FLOOR = 1e-14
# Objective changes below this fraction of the objective, per patient, are rounding: a step that makes one
# is accepted. The mean log-loss sums n terms, so its rounding grows with n (about n x 4.5 machine epsilons
# at worst): at 400 patients a Newton step on the intercept alone predicted a decrease of 1.9e-15, which a
# bound of 1e-15 x the objective did not treat as rounding, and the line search halved the step for ever.
ROUNDING_SLACK = 1e-15
# A Cholesky pivot below this fraction of its diagonal entry means a numerically singular face Hessian.
SINGULAR_PIVOT = 1e-12
# A subspace Newton step costing at most this many coordinate sweeps is always taken.
NEWTON_FREE_SWEEPS = 4.0
# Columns that join the working set after one KKT check, the most violating first.
MAX_ADDED = 10
# Above this many patients the face Hessian is one BLAS product (dgemm), about this much faster than the
# loops of dot products that build it in a small trial (whose bits they keep).
BLAS_MIN_PATIENTS = 97
BLAS_SPEEDUP = 8.0

CONVERGED = 0
NEWTON_LIMIT = 1
COORDINATE_LIMIT = 2
NOT_FINITE = 3

# No division is by zero (guarded where it could be): numpy's error model drops the per-division
# checks that Python's needs for ZeroDivisionError.
_jit = numba.njit(cache=True, error_model="numpy")


@_jit
def _dot(u, v):
    total = 0.0
    for i in range(u.shape[0]):
        total += u[i] * v[i]
    return total


@_jit
def _mean_loss(eta, label):
    total = 0.0
    for i in range(eta.shape[0]):
        margin = eta[i] if label[i] > 0.5 else -eta[i]
        total += max(-margin, 0.0) + np.log1p(np.exp(-abs(margin)))
    return total / eta.shape[0]


@_jit
def _logistic_terms(eta, label, residual, curvature):
    """The mean loss; fills per patient d loss / d eta (probability minus label) and d2 loss / d eta2,
    both divided by n, from one exponential each."""
    n = eta.shape[0]
    total = 0.0
    for i in range(n):
        margin = eta[i] if label[i] > 0.5 else -eta[i]
        decay = np.exp(-abs(margin))
        total += max(-margin, 0.0) + np.log1p(decay)
        minority = decay / (1.0 + decay)   # probability of the class the margin's sign disfavours
        wrong = minority if margin >= 0.0 else 1.0 / (1.0 + decay)   # probability of the other class
        residual[i] = (-wrong if label[i] > 0.5 else wrong) / n
        curvature[i] = max(minority / (1.0 + decay), MIN_CURVATURE) / n
    return total / n


@_jit
def _move(column, change, curvature, delta_eta, model_residual):
    """Moves one coefficient by ``change``: the linear predictor's change and the model's residual follow."""
    for i in range(delta_eta.shape[0]):
        shift = change * column[i]
        delta_eta[i] += shift
        model_residual[i] += curvature[i] * shift


@_jit
def _coordinate_sweep(Z, working, n_working, diagonal, curvature, weight, candidate, delta_eta, model_residual):
    """One cyclic pass of coordinate descent on the quadratic model; returns the largest |step| x curvature.

    ``model_residual`` is the quadratic model's gradient with respect to the linear predictor
    (residual + curvature x delta_eta), so a coordinate's model gradient is one dot product.
    """
    largest = 0.0
    for k in range(n_working):
        if diagonal[k] <= 0.0:
            continue  # an all-zero column: its coefficient stays 0
        j = working[k]
        model_gradient = _dot(Z[j], model_residual)
        updated = soft_threshold(candidate[k] - model_gradient / diagonal[k], weight[j] / diagonal[k])
        change = updated - candidate[k]
        if change != 0.0:
            candidate[k] = updated
            _move(Z[j], change, curvature, delta_eta, model_residual)
            largest = max(largest, diagonal[k] * abs(change))
    return largest


@_jit
def _subspace_newton(Z, working, n_working, curvature, weight, candidate, delta_eta, model_residual,
                     face, weighted, hessian, step):
    """Minimise the quadratic model over the current non-zero coordinates with their signs fixed.

    On that face the model is a quadratic plus a linear term, minimised by one linear solve; the step
    is cut where a coefficient would change sign (that coefficient becomes exactly 0), so the model
    decreases. Coordinate descent alone converges slowly on the nearly collinear columns of a
    p >> n fit; this step makes the inner solution exact once the support is found. Skipped when the
    face's Hessian is numerically singular (more non-zero coefficients than patients). ``face``,
    ``weighted``, ``hessian`` and ``step`` are scratch space for up to n coefficients.
    """
    n = delta_eta.shape[0]
    size = 0
    for k in range(n_working):
        if candidate[k] != 0.0:
            if size == n:
                return
            face[size] = k
            size += 1
    for a in range(size):
        ja = working[face[a]]
        for i in range(n):
            weighted[a, i] = curvature[i] * Z[ja, i]
        sign = 1.0 if candidate[face[a]] > 0.0 else -1.0
        step[a] = -(_dot(Z[ja], model_residual) + weight[ja] * sign)
        if n < BLAS_MIN_PATIENTS:
            for b in range(a + 1):
                hessian[a, b] = _dot(weighted[a], Z[working[face[b]]])
    if n >= BLAS_MIN_PATIENTS and size > 0:
        gathered = np.empty((size, n))
        for a in range(size):
            gathered[a] = Z[working[face[a]]]
        product = np.dot(weighted[:size], gathered.T)
        for a in range(size):
            for b in range(a + 1):
                hessian[a, b] = product[a, b]
    # Cholesky factorisation in place (lower triangle), then two triangular solves.
    for a in range(size):
        pivot = hessian[a, a]
        for c in range(a):
            pivot -= hessian[a, c] * hessian[a, c]
        if not pivot > SINGULAR_PIVOT * hessian[a, a]:
            return
        hessian[a, a] = np.sqrt(pivot)
        for b in range(a + 1, size):
            total = hessian[b, a]
            for c in range(a):
                total -= hessian[b, c] * hessian[a, c]
            hessian[b, a] = total / hessian[a, a]
    for a in range(size):
        total = step[a]
        for c in range(a):
            total -= hessian[a, c] * step[c]
        step[a] = total / hessian[a, a]
    for a in range(size - 1, -1, -1):
        total = step[a]
        for c in range(a + 1, size):
            total -= hessian[c, a] * step[c]
        step[a] = total / hessian[a, a]
    fraction = 1.0
    crossing = -1
    for a in range(size):
        value = candidate[face[a]]
        if value * (value + step[a]) < 0.0 and -value / step[a] < fraction:
            fraction = -value / step[a]
            crossing = a
    for a in range(size):
        k = face[a]
        updated = 0.0 if a == crossing else candidate[k] + fraction * step[a]
        change = updated - candidate[k]
        candidate[k] = updated
        _move(Z[working[k]], change, curvature, delta_eta, model_residual)


@_jit
def _newton_pays(candidate, n_working, n, largest, previous, inner_tol):
    """Whether a subspace Newton step costs less than the sweeps coordinate descent still needs.

    A sweep costs about 2 n multiply-adds per working column; the Newton step about s^2 n / 2 for the
    face Hessian plus s^3 / 6 for its factorisation (s non-zero coefficients). When coordinate descent
    converges fast (many patients, well-conditioned columns) and the face is large, sweeping on is
    cheaper; at 11-20 patients and p >> n it converges slowly and the step is cheap.
    """
    size = 0
    for k in range(n_working):
        if candidate[k] != 0.0:
            size += 1
    if size == 0 or size > n:
        return False
    newton_cost = size * size * ((0.5 * n if n < BLAS_MIN_PATIENTS else 0.5 * n / BLAS_SPEEDUP) + size / 6.0)
    sweep_cost = 2.0 * n * n_working
    if newton_cost <= NEWTON_FREE_SWEEPS * sweep_cost or largest >= previous:
        return True
    sweeps_needed = np.log(inner_tol / largest) / np.log(largest / previous)
    return newton_cost < sweeps_needed * sweep_cost


@_jit
def _penalty(weight, coefficients, working, n_working):
    total = 0.0
    for k in range(n_working):
        total += weight[working[k]] * abs(coefficients[k])
    return total


@_jit
def _solve_working_set(Z, label, weight, beta, working, n_working, tol_abs, max_iter, eta, scratch, face,
                       weighted, hessian):
    """Proximal Newton on the working set's coefficients until their KKT violation is at most ``tol_abs``.

    ``beta`` and ``eta`` (its linear predictor) are updated in place; ``scratch`` (9 x max(n, columns)),
    ``face``, ``weighted`` and ``hessian`` are scratch space. Returns a status code.
    """
    n = eta.shape[0]
    residual, curvature, delta_eta, model_residual, trial_eta = (scratch[0, :n], scratch[1, :n], scratch[2, :n],
                                                                 scratch[3, :n], scratch[4, :n])
    diagonal, current, candidate, trial = scratch[5], scratch[6], scratch[7], scratch[8]
    for _ in range(max_iter):
        loss = _logistic_terms(eta, label, residual, curvature)
        violation = 0.0
        for k in range(n_working):
            j = working[k]
            violation = max(violation, l1_kkt_violation(_dot(Z[j], residual), beta[j], weight[j]))
            total = 0.0
            for i in range(n):
                total += curvature[i] * Z[j, i] * Z[j, i]
            diagonal[k] = total
            current[k] = beta[j]
            candidate[k] = beta[j]
        if violation <= tol_abs:
            return CONVERGED
        delta_eta[:] = 0.0
        model_residual[:] = residual
        # The quadratic model is solved more accurately as the fit approaches the optimum.
        inner_tol = max(0.1 * tol_abs, 0.01 * violation)
        converged = False
        previous = np.inf
        for _ in range(max_iter):
            largest = _coordinate_sweep(Z, working, n_working, diagonal, curvature, weight, candidate, delta_eta,
                                        model_residual)
            if largest <= inner_tol:
                converged = True
                break
            if _newton_pays(candidate, n_working, n, largest, previous, inner_tol):
                _subspace_newton(Z, working, n_working, curvature, weight, candidate, delta_eta, model_residual,
                                 face, weighted, hessian, trial)
            previous = largest
        if not converged:
            return COORDINATE_LIMIT
        # Armijo line search on the penalised objective along the proximal Newton direction (the
        # model's decrease bounds ``predicted`` below 0).
        old_penalty = _penalty(weight, current, working, n_working)
        old_objective = loss + old_penalty
        predicted = _dot(residual, delta_eta) + _penalty(weight, candidate, working, n_working) - old_penalty
        # A predicted decrease below the objective's rounding cannot be checked: the full step is taken.
        slack = ROUNDING_SLACK * n * abs(old_objective)
        step = 1.0
        if -predicted > slack:
            while step >= MIN_STEP:
                for k in range(n_working):
                    trial[k] = current[k] + step * (candidate[k] - current[k])
                for i in range(n):
                    trial_eta[i] = eta[i] + step * delta_eta[i]
                if (_mean_loss(trial_eta, label) + _penalty(weight, trial, working, n_working)
                        <= old_objective + ARMIJO_FRACTION * step * predicted + slack):
                    break
                step *= 0.5
        for k in range(n_working):
            beta[working[k]] = candidate[k] if step == 1.0 else current[k] + step * (candidate[k] - current[k])
        # Recomputed rather than updated, so that rounding does not accumulate along the path.
        eta[:] = 0.0
        for k in range(n_working):
            j = working[k]
            if beta[j] != 0.0:
                for i in range(n):
                    eta[i] += Z[j, i] * beta[j]
    return NEWTON_LIMIT


@_jit
def _path(rows, label, alphas, factor, tol, tol_floor, max_iter, coef, counted, stop_entered, first_is_alpha_max):
    """The whole path on the design ``rows`` (patients x columns, the last one the intercept's 1).

    ``first_is_alpha_max``: ``alphas[0]`` is these data's largest useful penalty
    (``model_paths.logistic_alpha_max``), where the ``counted`` columns are 0; they are held at 0 there (an
    infinite weight), as glmnet solves the first penalty of a grid it made: at that penalty their largest
    gradient equals its weight up to rounding, and one could enter with a coefficient of ~1e-12.

    With ``stop_entered`` > 0 it stops after the first penalty at which that many ``counted`` columns have
    been non-zero somewhere on the path, and returns (CONVERGED, the number of penalties computed).

    The full gradient is accumulated patient by patient over ``rows``, a loop over contiguous columns
    that vectorises without reordering any sum; coordinate descent reads its transpose ``Z``
    (a column's values contiguous). Fills ``coef`` (columns x alphas); returns (status, index of the
    penalty it concerns).
    """
    n, m = rows.shape
    Z = np.empty((m, n))
    for i in range(n):
        for j in range(m):
            Z[j, i] = rows[i, j]
    beta = np.zeros(m)
    positives = label.sum()
    if 0.0 < positives < n:
        beta[m - 1] = np.log(positives / (n - positives))
    eta = np.full(n, beta[m - 1])
    scratch = np.empty((9, max(n, m)))
    face = np.empty(n, dtype=np.int64)
    weighted = np.empty((n, n))
    hessian = np.empty((n, n))
    residual, curvature = np.empty(n), np.empty(n)
    weight = np.empty(m)
    full_gradient = np.empty(m)
    violators = np.empty(m, dtype=np.int64)
    violation = np.empty(m)
    in_working = np.zeros(m, dtype=np.bool_)
    working = np.empty(m, dtype=np.int64)
    working[0] = m - 1
    in_working[m - 1] = True
    n_working = 1
    for j in range(m - 1):
        if factor[j] == 0.0:
            in_working[j] = True
            working[n_working] = j
            n_working += 1
    entered = np.zeros(m, dtype=np.bool_)
    n_entered = 0
    for a in range(alphas.shape[0]):
        alpha = alphas[a]
        tol_abs = max(tol * alpha, tol_floor)
        for j in range(m):
            weight[j] = np.inf if a == 0 and first_is_alpha_max and counted[j] else alpha * factor[j]
        while True:
            status = _solve_working_set(Z, label, weight, beta, working, n_working, tol_abs, max_iter, eta, scratch,
                                        face, weighted, hessian)
            if status != CONVERGED:
                return status, a
            _logistic_terms(eta, label, residual, curvature)
            full_gradient[:] = 0.0
            for i in range(n):
                for j in range(m):
                    full_gradient[j] += rows[i, j] * residual[i]
            n_violators = 0
            for j in range(m):
                if not in_working[j]:
                    excess = l1_kkt_violation(full_gradient[j], 0.0, weight[j])
                    if excess > tol_abs:
                        violators[n_violators] = j
                        violation[n_violators] = excess
                        n_violators += 1
            if n_violators == 0:
                break
            # Only the worst violators join: most columns that violate at the previous solution are
            # zero at this one, and every column in the working set costs in each coordinate sweep.
            for _ in range(min(n_violators, MAX_ADDED)):
                worst = 0
                for v in range(1, n_violators):
                    if violation[v] > violation[worst]:
                        worst = v
                violation[worst] = -1.0
                j = violators[worst]
                in_working[j] = True
                working[n_working] = j
                n_working += 1
        coef[:, a] = beta
        n_entered += mark_entered(beta, counted, entered)
        if 0 < stop_entered <= n_entered:
            return CONVERGED, a + 1
    return CONVERGED, alphas.shape[0]


@_jit
def _design_path(X, label, alphas, factor, tol, max_iter, coef, counted, stop_entered, first_is_alpha_max):
    """:func:`_path` on ``X`` with the intercept's column of ones appended, at the KKT tolerance floor of
    its largest |x|; (NOT_FINITE, 0) when ``X`` holds a non-finite value. One compiled call forms what
    the path reads (about a third of a demo path's time when numpy formed it)."""
    n, p = X.shape
    rows = np.empty((n, p + 1))
    largest = 0.0
    for i in range(n):
        for j in range(p):
            value = X[i, j]
            if not np.isfinite(value):
                return NOT_FINITE, 0
            rows[i, j] = value
            largest = max(largest, abs(value))
        rows[i, p] = 1.0
    # A gradient entry is a mean of n terms up to max|x| / n, so rounding leaves it uncertain by a few
    # 1e-16 x max|x|: a KKT tolerance below that (alpha under ~1e-4 at tol 1e-10) may never be met.
    tol_floor = ROUNDING_FLOOR * max(1.0, largest)
    return _path(rows, label, alphas, factor, tol, tol_floor, max_iter, coef, counted, stop_entered,
                 first_is_alpha_max)


def l1_logistic_path(X, label, alphas, penalty_factor, intercept_penalty: float, tol: float = DEFAULT_TOL,
                     max_iter: int = DEFAULT_MAX_ITER, stop_entered: int = 0,
                     counted: np.ndarray | None = None,
                     first_is_alpha_max: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(coefficients features x alphas, intercepts) of the L1 logistic path; see the module docstring.

    ``X`` patients x features, ``label`` 0/1, ``alphas`` a decreasing grid of positive penalties,
    ``penalty_factor`` per feature (>= 0), ``intercept_penalty`` the intercept's L1 weight (>= 0).
    ``tol`` bounds every coordinate's KKT violation relative to the penalty; ``max_iter`` caps both
    the proximal Newton iterations and the coordinate-descent sweeps of each inner problem.
    Raises ``ArithmeticError`` when a penalty is not converged within ``max_iter``. ``stop_entered`` > 0
    stops the path after the first penalty at which that many features flagged by ``counted`` (boolean,
    default: every feature) have entered it; the later penalties' coefficients and intercepts are NaN. With every
    weight positive the optimum is finite, even on separable data; when penalty-free terms separate
    the classes it is at infinity, and the fit stops where the gradient falls below the tolerance.
    ``first_is_alpha_max``: ``alphas[0]`` is ``model_paths.logistic_alpha_max`` of these data, where every
    ``counted`` coefficient is 0; solved as such (see :func:`_path`).
    """
    X = np.asarray(X, dtype=np.float64)
    label = np.asarray(label)
    alphas = np.asarray(alphas, dtype=np.float64)
    penalty_factor = np.asarray(penalty_factor, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be patients x features; got an array of shape {X.shape}")
    n, p = X.shape
    if label.shape != (n,) or not ((label == 0) | (label == 1)).all():
        raise ValueError(f"label must hold {n} values, each 0 or 1 (one per row of X); got shape {label.shape}")
    if penalty_factor.shape != (p,) or not (penalty_factor >= 0).all():
        raise ValueError(f"penalty_factor must hold {p} non-negative values (one per column of X); "
                         f"got shape {penalty_factor.shape}")
    if alphas.ndim != 1 or not (np.isfinite(alphas) & (alphas > 0)).all() or (alphas[1:] > alphas[:-1]).any():
        raise ValueError("alphas must be a decreasing grid of positive penalties")
    if not intercept_penalty >= 0 or not tol > 0 or max_iter < 1:
        raise ValueError("intercept_penalty must be >= 0, tol > 0 and max_iter >= 1")
    coef = np.zeros((p + 1, len(alphas)))
    not_finite = "X holds non-finite values; impute or drop them before fitting"
    if n == 0 or len(alphas) == 0:
        if not np.isfinite(X).all():
            raise ValueError(not_finite)
        return coef[:p], coef[p]
    counted = np.ones(p, dtype=bool) if counted is None else np.asarray(counted, dtype=bool)
    status, where = _design_path(X, label.astype(np.float64), alphas, np.append(penalty_factor, intercept_penalty),
                                 float(tol), int(max_iter), coef, np.append(counted, False), int(stop_entered),
                                 bool(first_is_alpha_max))
    if status == NOT_FINITE:
        raise ValueError(not_finite)
    if status != CONVERGED:
        limit = "proximal Newton iterations" if status == NEWTON_LIMIT else "coordinate-descent sweeps"
        raise ArithmeticError(f"L1 logistic path not converged within {max_iter} {limit} at penalty "
                              f"{alphas[where]:.6g} (index {where}); raise max_iter")
    coef[:, where:] = np.nan
    return coef[:p], coef[p]

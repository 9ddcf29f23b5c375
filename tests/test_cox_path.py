"""The compiled elastic-net Cox path: it reaches the optimum (KKT conditions), agrees with converged runs
of scikit-survival's Coxnet to 1e-6, makes glmnet's grid, handles tied times as Breslow and is
bit-reproducible."""
from __future__ import annotations

import numpy as np
import pytest
from sksurv.linear_model._coxnet import call_fit_coxnet

from trialomics.cox_path import elastic_net_cox_path, largest_penalty
from trialomics.model_paths import cox_elastic_net_path, decreasing_grid


def standardised(rng, n: int, p: int) -> np.ndarray:
    X = rng.normal(size=(n, p)) * rng.uniform(0.5, 2.0, p)
    return (X - X.mean(axis=0)) / X.std(axis=0)


def cohort(seed: int, n: int, p: int, ties: bool):
    rng = np.random.default_rng(seed)
    X = standardised(rng, n, p)
    time = rng.exponential(10, n) * np.exp(-0.7 * X[:, 0])
    time = np.ceil(time) if ties else time          # monthly visits: many tied times
    event = rng.random(n) < 0.7
    event[:2] = True
    return X, time, event


def breslow_gradient(X, time, event, beta) -> np.ndarray:
    """Gradient of the mean Breslow partial log-likelihood, written out risk set by risk set."""
    eta = X @ beta
    weight = np.exp(eta - eta.max())
    gradient = np.zeros(X.shape[1])
    for i in np.flatnonzero(event):
        at_risk = time >= time[i]
        gradient += X[i] - weight[at_risk] @ X[at_risk] / weight[at_risk].sum()
    return gradient / len(time)


def kkt_violation(X, time, event, beta, alpha, l1_ratio, factor) -> float:
    g = breslow_gradient(X, time, event, beta)
    ridge, lasso = alpha * (1 - l1_ratio) * factor * beta, alpha * l1_ratio * factor
    violation = np.where(beta > 0, np.abs(g - ridge - lasso),
                         np.where(beta < 0, np.abs(g - ridge + lasso), np.maximum(np.abs(g) - lasso, 0.0)))
    return float(violation.max())


def converged_coxnet(X, time, event, factor, alphas, l1_ratio):
    """scikit-survival's compiled Coxnet on the same grid, run to a tolerance far below its default."""
    order = np.argsort(-time, kind="mergesort")
    centred = X - X.mean(axis=0)
    coef, *_ = call_fit_coxnet(np.asfortranarray(centred[order]), time[order].astype(np.float64),
                               event[order].astype(np.uint8), factor, np.array(alphas, dtype=np.float64), False,
                               0.05, l1_ratio, 10_000_000, 1e-20, False)
    return coef


FITS = [(seed, n, p, ties, unpenalised)
        for seed, (n, p) in enumerate([(12, 40), (16, 200), (16, 500), (11, 300), (20, 60), (14, 5)])
        for ties in (False, True) for unpenalised in (False, True)]


@pytest.mark.parametrize("seed,n,p,ties,with_unpenalised", FITS)
def test_path_meets_the_kkt_conditions_and_equals_converged_coxnet(seed, n, p, ties, with_unpenalised):
    X, time, event = cohort(seed, n, p, ties)
    unpenalised = np.zeros(p, dtype=bool)
    unpenalised[0] = with_unpenalised
    alphas, coef = cox_elastic_net_path(X, time, event, unpenalised, l1_ratio=0.5, n_alphas=10,
                                        alpha_min_ratio=0.05)
    assert np.isfinite(coef).all()
    factor = np.where(unpenalised, 0.0, 1.0)
    factor = factor * p / factor.sum()
    centred = X - X.mean(axis=0)
    for k, alpha in enumerate(alphas):
        assert kkt_violation(centred, time, event, coef[:, k], alpha, 0.5, factor) <= 1e-9
    reference = converged_coxnet(X, time, event, factor, alphas, 0.5)
    # Coxnet is compared where it converged itself (its own KKT check); at the smallest penalties of a
    # p >> n problem even 10^7 iterations may leave it short.
    done = [k for k, alpha in enumerate(alphas)
            if kkt_violation(centred, time, event, reference[:, k], alpha, 0.5, factor) <= 1e-9]
    assert len(done) >= 5
    assert np.abs(coef[:, done] - reference[:, done]).max() <= 1e-6


def test_grid_starts_at_the_smallest_penalty_that_zeroes_every_penalised_coefficient():
    for with_unpenalised in (False, True):
        X, time, event = cohort(7, 16, 80, ties=True)
        strong = np.log(time) + np.random.default_rng(1).normal(0, 0.5, 16)     # a strong unpenalised covariate
        X[:, 0] = (strong - strong.mean()) / strong.std()
        unpenalised = np.zeros(80, dtype=bool)
        unpenalised[0] = with_unpenalised
        alphas, coef = cox_elastic_net_path(X, time, event, unpenalised, n_alphas=5, alpha_min_ratio=0.05)
        assert alphas == pytest.approx(decreasing_grid(alphas[0], 5, 0.05), rel=1e-15)
        # At the first penalty the largest score sits on the threshold: every penalised coefficient is 0.
        assert not coef[~unpenalised, 0].any() and np.abs(coef[~unpenalised, 1]).max() > 1e-3
        _, below = cox_elastic_net_path(X, time, event, unpenalised, alphas=[alphas[0] * (1 - 1e-6)])
        _, above = cox_elastic_net_path(X, time, event, unpenalised, alphas=[alphas[0] * (1 + 1e-6)])
        assert np.abs(below[~unpenalised, 0]).max() > 1e-12 and not above[~unpenalised, 0].any()
        if with_unpenalised:
            assert coef[0, 0] != 0     # the covariate is fitted from the first penalty on


def test_tied_times_share_their_risk_set_whatever_the_row_order():
    X, time, event = cohort(3, 16, 30, ties=True)
    assert len(np.unique(time)) < len(time)
    alphas = decreasing_grid(largest_penalty(X - X.mean(0), time, event, np.ones(30), 0.5), 6, 0.05)
    coef, usable = elastic_net_cox_path(X - X.mean(0), time, event, alphas, np.ones(30), 0.5)
    shuffled = np.random.default_rng(0).permutation(16)
    again, _ = elastic_net_cox_path((X - X.mean(0))[shuffled], time[shuffled], event[shuffled], alphas,
                                    np.ones(30), 0.5)
    assert usable == 6 and np.abs(coef - again).max() <= 1e-9


def test_path_is_bit_reproducible():
    X, time, event = cohort(11, 16, 500, ties=True)
    first = cox_elastic_net_path(X, time, event, np.zeros(500, dtype=bool))
    second = cox_elastic_net_path(X, time, event, np.zeros(500, dtype=bool))
    assert np.array_equal(first[0], second[0]) and np.array_equal(first[1], second[1])


@pytest.mark.parametrize("l1_ratio", [1.0, 0.1])
def test_lasso_and_mostly_ridge_paths_meet_the_kkt_conditions(l1_ratio):
    # l1_ratio 1 has no ridge part: the face Newton step does not apply and coordinate descent does it all.
    for seed in range(3):
        X, time, event = cohort(20 + seed, 16, 300, ties=True)
        alphas, coef = cox_elastic_net_path(X, time, event, np.zeros(300, dtype=bool), l1_ratio=l1_ratio)
        assert np.isfinite(coef).all()
        centred = X - X.mean(axis=0)
        for k, alpha in enumerate(alphas):
            assert kkt_violation(centred, time, event, coef[:, k], alpha, l1_ratio, np.ones(300)) <= 1e-9


def test_paths_of_large_cohorts_meet_the_kkt_conditions():
    # Above NEWTON_MAX_PATIENTS training rows coordinate descent leads and BLAS Newton steps help: same optimum.
    from trialomics.cox_face_newton import NEWTON_MAX_PATIENTS

    n = NEWTON_MAX_PATIENTS + 24
    X, time, event = cohort(31, n, 200, ties=True)
    alphas, coef = cox_elastic_net_path(X, time, event, np.zeros(200, dtype=bool))
    assert np.isfinite(coef).all() and (coef[:, -1] != 0).sum() > 20
    centred = X - X.mean(axis=0)
    for k, alpha in enumerate(alphas):
        assert kkt_violation(centred, time, event, coef[:, k], alpha, 0.5, np.ones(200)) <= 1e-9


@pytest.mark.parametrize("size", [3, 30, 43, 150])
def test_blas_face_step_solves_the_face_system_whichever_system_it_builds(size):
    # Above NEWTON_MAX_PATIENTS rows the face step is solved through BLAS: the f x f system when the face
    # has fewer columns than there are patients (3, 30, 43 of 44: its lower blocks by dgemm, Cholesky),
    # Woodbury's n x n one otherwise (150).
    from trialomics.cox_face_newton import NEWTON_MAX_PATIENTS, blas_face_step
    from trialomics.cox_path import _hessian_products, _loss_and_curvature, _risk_ends, _workspace

    n = NEWTON_MAX_PATIENTS + 24
    X, time, event = cohort(12, n, 200, ties=True)
    order = np.argsort(-time, kind="mergesort")
    X, time, event = X[order], time[order], event[order].astype(float)
    Xt = np.ascontiguousarray(X.T)
    rng = np.random.default_rng(4)
    curve = np.empty((3, n))
    _loss_and_curvature(X @ rng.normal(0, 0.1, 200), event, _risk_ends(time), np.empty(n), curve, np.empty((3, n)))
    face = np.sort(rng.choice(200, size, replace=False)).astype(np.int64)
    work = _workspace(Xt)
    _hessian_products(curve, Xt, face, size, work.HXt, np.empty(200), np.empty((2, n)))
    inverse_d = 1.0 / rng.uniform(0.01, 0.1, size)
    rhs_face = rng.normal(size=size)
    delta = np.empty(size)
    blas_face_step(Xt, work.HXt, face, size, inverse_d, rhs_face, delta, work)
    V, HV = X[:, face], work.HXt[face].T
    expected = np.linalg.solve(np.diag(1.0 / inverse_d) + V.T @ HV / n, rhs_face)
    np.testing.assert_allclose(delta, expected, rtol=1e-8, atol=1e-10)


def test_cholesky_solve_reads_the_lower_triangle_and_reports_matrices_not_positive_definite():
    from trialomics.cox_face_newton import _cholesky_solve

    rng = np.random.default_rng(8)
    n, size = 9, 6
    B = rng.normal(size=(size, size))
    A = B @ B.T + np.eye(size)
    lu = np.full((n, n), np.nan)             # column-major, leading dimension n: element (a, b) in lu[b, a]
    for b in range(size):
        lu[b, b:size] = A[b:, b]             # the lower triangle only; the rest must not be read
    rhs = rng.normal(size=n)
    expected = np.linalg.solve(A, rhs[:size])
    assert _cholesky_solve(size, lu, rhs)
    np.testing.assert_allclose(rhs[:size], expected, rtol=1e-12)
    indefinite = np.zeros((n, n))
    indefinite[0, 0], indefinite[0, 1], indefinite[1, 1] = 1.0, 2.0, 1.0     # [[1, 2], [2, 1]]
    assert not _cholesky_solve(2, indefinite, np.ones(n))


def test_blas_face_step_on_values_that_are_not_finite_raises_as_the_lu_solve_does():
    # Cholesky fails on a NaN; the step then builds the whole system and LU's checks raise.
    from trialomics.cox_face_newton import NEWTON_MAX_PATIENTS, blas_face_step
    from trialomics.cox_path import _workspace

    n = NEWTON_MAX_PATIENTS + 4
    rng = np.random.default_rng(2)
    Xt = rng.normal(size=(10, n))
    work = _workspace(Xt)
    work.HXt[:] = Xt
    work.HXt[3, 5] = np.nan
    face = np.arange(6, dtype=np.int64)
    with pytest.raises(np.linalg.LinAlgError, match="infs or NaNs"):
        blas_face_step(Xt, work.HXt, face, 6, np.ones(6), np.ones(6), np.empty(6), work)


def test_face_system_solve_equals_numbas_linalg_solve_bit_for_bit():
    # The face Newton step calls LAPACK's dgesv on reused buffers instead of np.linalg.solve; both must
    # give the same bits (the path's coefficients depend on them), and fail the same way.
    from numba import njit
    from numba.np.linalg import F_INT_nptype

    from trialomics.cox_face_newton import solve_in_place

    reference = njit(lambda system, rhs: np.linalg.solve(system, rhs))
    rng = np.random.default_rng(5)
    for n in (1, 7, 10, 16):
        system = rng.normal(size=(n, n)) + n * np.eye(n)
        rhs = rng.normal(size=n)
        expected = reference(system, rhs)
        solution = rhs.copy()
        solve_in_place(system, solution, np.empty((n, n)), np.empty(n, dtype=F_INT_nptype))
        assert np.array_equal(solution, expected)
    with pytest.raises(np.linalg.LinAlgError, match="singular"):
        solve_in_place(np.ones((3, 3)), np.ones(3), np.empty((3, 3)), np.empty(3, dtype=F_INT_nptype))
    with pytest.raises(np.linalg.LinAlgError, match="infs or NaNs"):
        solve_in_place(np.array([[1.0, np.nan], [0.0, 1.0]]), np.ones(2), np.empty((2, 2)),
                        np.empty(2, dtype=F_INT_nptype))


def test_kkt_screen_rules_out_only_columns_that_cannot_cross_their_weight():
    # The screen's promise: a column outside the working set that it rules out has |x_j . r| / n at most
    # its L1 weight at the new residual, computed as the full pass computes it; the others are listed.
    from trialomics.cox_kkt_screen import column_gradients, inverse_column_norms, screen, set_slack

    rng = np.random.default_rng(3)
    n, p, alpha, l1_ratio = 12, 400, 0.3, 0.5
    X = standardised(rng, n, p)
    X[:, 5] = 0.0                                      # a constant column: never crosses
    Xt = np.ascontiguousarray(X.T)
    factor = rng.uniform(0.5, 2.0, p)
    reference_residual = rng.normal(size=n)
    working = np.zeros(p, dtype=bool)
    working[:10] = True
    inverse_norms, gradient, slack = np.empty(p), np.empty(p), np.empty(p)
    inverse_column_norms(Xt, inverse_norms)
    column_gradients(X, reference_residual, gradient)
    weight = alpha * l1_ratio * factor
    # Choose the penalty so that some columns sit just below their weight at the reference.
    scale = np.quantile(np.abs(gradient / n) / weight, 0.9)
    weight, alpha = weight * scale, alpha * scale
    set_slack(gradient, inverse_norms, working, alpha, l1_ratio, factor, n, slack)
    assert np.isinf(slack[:10]).all() and np.isinf(slack[5])
    listed_somewhere = 0
    for size in (0.0, 1e-6, 1e-3, 1e-2, 0.05):
        reference = reference_residual.copy()
        residual = reference + size * rng.normal(size=n)
        candidates = np.empty(p, dtype=np.int64)
        count = screen(X, residual, working, alpha, l1_ratio, factor, inverse_norms, reference, gradient.copy(),
                        slack.copy(), candidates)
        listed = np.zeros(p, dtype=bool)
        listed[candidates[:count]] = True
        assert not (listed & working).any() and np.all(np.diff(candidates[:count]) > 0)
        exact = np.empty(p)
        column_gradients(X, residual, exact)
        crosses = np.abs(exact / n) > weight
        assert not (crosses & ~working & ~listed).any()
        assert count * 8 <= p       # more would have moved the reference and listed fewer
        listed_somewhere += count
    assert listed_somewhere > 0


def test_kkt_screen_lists_every_column_when_the_residual_is_not_finite():
    from trialomics.cox_kkt_screen import screen

    p, n = 20, 6
    X = np.random.default_rng(0).normal(size=(n, p))
    working = np.zeros(p, dtype=bool)
    working[3] = True
    candidates = np.empty(p, dtype=np.int64)
    residual = np.full(n, np.inf)
    count = screen(X, residual, working, 0.1, 0.5, np.ones(p), np.ones(p), np.zeros(n), np.zeros(p),
                    np.full(p, 1e300), candidates)
    assert list(candidates[:count]) == [j for j in range(p) if j != 3]


def test_column_products_and_hessian_products_take_each_columns_sums_in_row_order():
    # The KKT checks and the Hessian products work four columns at a time; each column's value must be
    # the bits of the full pass (gradients) and of the column on its own, and H X must be the Hessian's.
    from trialomics.cox_face_newton import column_products
    from trialomics.cox_kkt_screen import column_gradients
    from trialomics.cox_path import _hessian_products, _loss_and_curvature, _risk_ends

    rng = np.random.default_rng(8)
    X, time, event = cohort(8, 13, 40, ties=True)
    order = np.argsort(-time, kind="mergesort")
    X, time, event = X[order], time[order], event[order].astype(float)
    Xt = np.ascontiguousarray(X.T)
    residual, curve = np.empty(13), np.empty((3, 13))
    _loss_and_curvature(X @ rng.normal(0, 0.3, 40), event, _risk_ends(time), residual, curve, np.empty((3, 13)))
    full = np.empty(40)
    column_gradients(X, residual, full)
    for size in (1, 4, 7, 40):
        columns = np.sort(rng.choice(40, size, replace=False))
        products = np.empty(40)
        column_products(Xt, columns, size, residual, products)
        assert np.array_equal(products[:size], full[columns])
    # Dense Hessian in eta: H[k, m] = [k == m] e_k A_k - e_k e_m B_max(k, m) (rows in descending time).
    e, A, B = curve
    hessian = np.diag(e * A) - np.outer(e, e) * B[np.maximum.outer(np.arange(13), np.arange(13))]
    columns = np.array([0, 2, 3, 9, 17, 30, 39])           # one block of four and three on their own
    HXt, curvature = np.zeros((40, 13)), np.zeros(40)
    _hessian_products(curve, Xt, columns, 7, HXt, curvature, np.empty((2, 13)))
    np.testing.assert_allclose(HXt[columns], (hessian @ X[:, columns]).T, rtol=0, atol=1e-12)
    np.testing.assert_allclose(curvature[columns], np.einsum("kj,kj->j", X[:, columns], hessian @ X[:, columns]) / 13,
                               rtol=0, atol=1e-12)
    alone = np.zeros((40, 13)), np.zeros(40)
    for j in columns:
        _hessian_products(curve, Xt, np.array([j]), 1, alone[0], alone[1], np.empty((2, 13)))
    assert np.array_equal(alone[0], HXt) and np.array_equal(alone[1], curvature)


@pytest.mark.parametrize("layout", ["C", "F"])
def test_the_shifted_design_is_formed_in_the_compiled_call_bit_for_bit(layout):
    # model_paths centres the design by passing its column means as ``shift``: the same coefficients, to
    # the bit, as the path on the centred matrix numpy forms, in either memory layout; tied times keep
    # their order (a stable sort).
    rng = np.random.default_rng(12)
    X = np.asarray(rng.normal(size=(15, 40)) * 3.0 + 1.0, order=layout)
    time = np.round(rng.exponential(10, 15))
    event = rng.random(15) < 0.7
    factor = np.ones(40)
    alphas = decreasing_grid(largest_penalty(X - X.mean(axis=0), time, event, factor, 0.5), 8, 0.05)
    mean = X.mean(axis=0)
    shifted, usable = elastic_net_cox_path(X, time, event, alphas, factor, 0.5, shift=mean)
    centred, _ = elastic_net_cox_path(X - mean, time, event, alphas, factor, 0.5)
    assert usable == 8 and np.array_equal(shifted, centred) and (shifted[:, -1] != 0).any()
    # ... and as the solver on rows numpy's mergesort put in descending time.
    from trialomics.cox_path import _path, _risk_ends

    order = np.argsort(-time, kind="mergesort")
    ordered = np.ascontiguousarray((X - mean)[order])
    expected, converged = np.full((40, 8), np.nan), np.zeros(8, dtype=bool)
    _path(np.ascontiguousarray(ordered.T), ordered, event[order].astype(float), _risk_ends(time[order]), alphas,
          0.5, factor, 1e-10, expected, converged, 0, False)
    assert converged.all() and np.array_equal(shifted, expected)


@pytest.mark.parametrize("seed", range(40))
def test_first_penalty_of_the_grid_leaves_every_penalised_coefficient_exactly_zero(seed):
    # glmnet's first solution on a grid it made is the null model (the unpenalised columns' fit). The
    # largest score equals alpha_max's threshold only up to rounding: a column let in by it showed in
    # the demo's final models as a "selected" feature with a -8e-17 coefficient.
    rng = np.random.default_rng(seed)
    n, p = int(rng.integers(8, 60)), int(rng.integers(3, 300))
    X, time, event = cohort(seed, n, p, ties=bool(seed % 2))
    unpenalised = np.zeros(p, dtype=bool)
    unpenalised[0] = seed % 3 == 0
    alphas, coef = cox_elastic_net_path(X * rng.uniform(0.1, 10.0, p), time, event, unpenalised,
                                        l1_ratio=float(rng.uniform(0.1, 1.0)), n_alphas=4)
    assert not coef[~unpenalised, 0].any()
    assert np.abs(coef[~unpenalised, 1:]).max() > 0

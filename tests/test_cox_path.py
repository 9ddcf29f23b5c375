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
        # At the first penalty the largest score sits exactly on the threshold (zero up to rounding).
        assert np.abs(coef[~unpenalised, 0]).max() <= 1e-12 and np.abs(coef[~unpenalised, 1]).max() > 1e-3
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

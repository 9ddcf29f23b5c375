"""Vectorised Cox fits: agreement with lifelines, separation, Firth's penalised fit, exact log-rank."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from scipy.optimize import brentq, minimize, minimize_scalar
from scipy.stats import chi2

from trialomics import cox, logrank, survival

TIGHT = {"precision": 1e-12}  # lifelines' default stops at ~1e-7; the comparison needs its optimum


def efron_loglik(beta, X, time, event):
    """Efron log partial likelihood written out risk set by risk set (independent of trialomics.cox)."""
    eta = X @ beta
    total = 0.0
    for t in np.unique(time[event]):
        dying = (time == t) & event
        at_risk = time >= t
        d = dying.sum()
        risk_sum, dying_sum = np.exp(eta[at_risk]).sum(), np.exp(eta[dying]).sum()
        total += eta[dying].sum() - sum(np.log(risk_sum - (level / d) * dying_sum) for level in range(d))
    return total


def efron_information(beta, X, time, event):
    """Observed information written out: the weighted covariance of X in every Efron risk set."""
    weight = np.exp(X @ beta)
    information = np.zeros((X.shape[1], X.shape[1]))
    for t in np.unique(time[event]):
        dying = (time == t) & event
        at_risk = time >= t
        d = dying.sum()
        for level in range(d):
            w = weight * (at_risk - (level / d) * dying)
            mean = w @ X / w.sum()
            information += (w[:, None] * (X - mean)).T @ (X - mean) / w.sum()
    return information


def penalised_loglik(beta, X, time, event):
    return efron_loglik(beta, X, time, event) + 0.5 * np.linalg.slogdet(efron_information(beta, X, time, event))[1]


def outcome_with_ties(seed=0, n=20):
    rng = np.random.default_rng(seed)
    time = np.round(rng.exponential(10, n), 0) + 1.0   # rounded: several tied event times
    event = rng.random(n) < 0.75
    return time, event


def test_vectorised_fit_matches_lifelines_with_ties_missing_values_and_covariates():
    time, event = outcome_with_ties()
    n = time.size
    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, n)) + 0.8 * (time < np.median(time))[None, :]
    x[3, [0, 5]] = np.nan                              # a feature with missing values
    age = rng.normal(60, 8, n)
    weights = (~np.isnan(x)).astype(float)
    for covariate in (None, age):
        extra = [] if covariate is None else [np.broadcast_to(covariate, x.shape)]
        X = np.stack([np.nan_to_num(x), *extra], axis=2)
        fit = cox.fit_cox(X, weights, cox.risk_sets(time, event))
        assert fit.converged.all() and not fit.infinite.any()
        se = np.sqrt(np.linalg.inv(fit.information)[:, 0, 0])
        for j in (0, 3, 7, 19):
            keep = ~np.isnan(x[j])
            frame = pd.DataFrame({"time": time, "event": event.astype(int), "x": x[j]})
            if covariate is not None:
                frame["age"] = covariate
            reference = CoxPHFitter().fit(frame[keep], "time", "event", fit_options=TIGHT)
            assert fit.beta[j, 0] == pytest.approx(reference.params_["x"], abs=1e-6)
            assert se[j] == pytest.approx(reference.standard_errors_["x"], abs=1e-6)
            assert fit.loglik[j] == pytest.approx(reference.log_likelihood_, abs=1e-8)


def test_power_sum_and_centred_moments_agree_with_the_written_out_likelihood():
    time, event = outcome_with_ties(seed=4)
    rng = np.random.default_rng(2)
    X = rng.normal(size=(5, time.size, 2))
    beta = rng.normal(size=(5, 2)) * 0.5
    weights = np.ones((5, time.size))
    risk = cox.risk_sets(time, event)
    fast = cox.efron_derivatives(X, weights, risk, beta)
    central = cox.efron_derivatives(X, weights, risk, beta, third=True)
    for j in range(5):
        assert fast.loglik[j] == pytest.approx(efron_loglik(beta[j], X[j], time, event), abs=1e-10)
        np.testing.assert_allclose(fast.information[j], efron_information(beta[j], X[j], time, event), atol=1e-10)
        gradient = [(efron_loglik(beta[j] + e, X[j], time, event) - efron_loglik(beta[j] - e, X[j], time, event)) / 2e-6
                    for e in np.eye(2) * 1e-6]
        np.testing.assert_allclose(fast.score[j], gradient, atol=1e-6)
    np.testing.assert_allclose(fast.loglik, central.loglik, atol=1e-10)
    np.testing.assert_allclose(fast.score, central.score, atol=1e-10)
    np.testing.assert_allclose(fast.information, central.information, atol=1e-10)
    # The third central moments are the derivative of the information.
    h = 1e-6
    for r in range(2):
        step = np.zeros_like(beta)
        step[:, r] = h
        moved = cox.efron_derivatives(X, weights, risk, beta + step)
        np.testing.assert_allclose((moved.information - fast.information) / h, central.d_information[..., r],
                                   atol=1e-4)


def monotone(x, time, event):
    """Monotone likelihood of one covariate: at every event the dying patient's value is the largest
    (or at every event the smallest) in its risk set, with at least one strict inequality."""
    up = down = True
    strict_up = strict_down = False
    for i in np.flatnonzero(event):
        at_risk = time >= time[i]
        up &= x[i] >= x[at_risk].max()
        down &= x[i] <= x[at_risk].min()
        strict_up |= x[i] > x[at_risk].min()
        strict_down |= x[i] < x[at_risk].max()
    return (up and strict_up) or (down and strict_down)


def test_separation_is_flagged_exactly_when_the_likelihood_is_monotone():
    rng = np.random.default_rng(7)
    n = 14
    time = rng.permutation(np.arange(1, n + 1)).astype(float)
    event = rng.random(n) < 0.7
    # Sparse alterations: all 2- and 3-carrier sets, many of them separated.
    features = [np.isin(np.arange(n), c).astype(float) for k in (2, 3) for c in itertools.combinations(range(n), k)]
    X = np.array(features)[:, :, None]
    fit = cox.fit_cox(X, np.ones(X.shape[:2]), cox.risk_sets(time, event))
    expected = np.array([monotone(f, time, event) for f in features])
    assert expected.sum() > 10 and (~expected).sum() > 100
    np.testing.assert_array_equal(fit.infinite[:, 0], expected)
    assert np.all(np.abs(fit.beta[~expected, 0]) < 10)


def test_firth_matches_an_independent_maximisation_of_the_penalised_likelihood():
    # Separated toy set: the two carriers have the two earliest events.
    time = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], dtype=float)
    event = np.array([1, 1, 1, 0, 1, 1, 0, 1, 1, 0], dtype=bool)
    x = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 0], dtype=float)
    X = x[None, :, None]
    result = cox.firth_cox(X, np.ones((1, 10)), cox.risk_sets(time, event))

    def penalised(b):
        return penalised_loglik(np.array([b]), x[:, None], time, event)

    best = minimize_scalar(lambda b: -penalised(b), bounds=(-10, 15), method="bounded",
                           options={"xatol": 1e-10})
    assert np.isfinite(result.coef[0]) and result.coef[0] == pytest.approx(best.x, abs=1e-5)
    statistic = 2 * (penalised(best.x) - penalised(0.0))
    assert result.pvalue[0] == pytest.approx(chi2.sf(statistic, 1), rel=1e-4)
    # Profile limits: where the penalised likelihood has fallen by chi2(0.95, 1) / 2.
    def drop(b):
        return 2 * (penalised(best.x) - penalised(b)) - chi2.ppf(0.95, 1)

    assert result.ci_low[0] == pytest.approx(brentq(drop, -5, best.x), abs=1e-4)
    assert result.ci_high[0] == pytest.approx(brentq(drop, best.x, 30), abs=1e-4)


def test_firth_with_a_covariate_profiles_out_the_covariate():
    time, event = outcome_with_ties(seed=3, n=16)
    rng = np.random.default_rng(3)
    x = np.zeros(16)
    x[np.argsort(time)[:3]] = 1.0                         # three carriers, earliest times
    age = rng.normal(0, 1, 16)
    design = np.column_stack([x, age])
    result = cox.firth_cox(design[None], np.ones((1, 16)), cox.risk_sets(time, event))
    full = minimize(lambda b: -penalised_loglik(b, design, time, event), np.zeros(2), method="Nelder-Mead",
                    options={"xatol": 1e-9, "fatol": 1e-12, "maxiter": 4000})
    null = minimize_scalar(lambda g: -penalised_loglik(np.array([0.0, g]), design, time, event),
                           bounds=(-10, 10), method="bounded", options={"xatol": 1e-10})
    assert result.coef[0] == pytest.approx(full.x[0], abs=1e-4)
    assert result.pvalue[0] == pytest.approx(chi2.sf(2 * (null.fun - full.fun), 1), rel=1e-3)


def test_three_earliest_event_carriers_are_not_a_discovery():
    # The example: 20 patients, 3 carriers with the 3 earliest events. ML Cox gave HR 2e8,
    # LR p 1.8e-4 and the asymptotic log-rank 2.8e-7.
    n = 20
    time = np.arange(1, n + 1, dtype=float)
    event = np.arange(n) < 16
    patients = [f"P{i:02d}" for i in range(n)]
    values = pd.DataFrame({"carrier": (np.arange(n) < 3).astype(float)}, index=patients)
    outcome = pd.DataFrame({"time": time, "event": event}, index=patients)
    row = survival.univariate_cox(values, survival.feature_kinds(values), outcome).iloc[0]
    assert row["separation"] == "yes" and row["method"] == "firth"
    assert row["pvalue_method"] == "exact_logrank"
    # The most extreme of C(20, 3) = 1140 carrier sets, doubled for two sides.
    assert row["pvalue"] == pytest.approx(2 / 1140) and row["pvalue"] >= 1e-3
    assert 1.0 < row["ci_low"] < row["hr"] < row["ci_high"] < np.inf and row["hr"] < 1e3


def test_exact_logrank_scores_enumeration_and_sampling():
    time, event = outcome_with_ties(seed=5, n=12)
    group = np.zeros(12, dtype=bool)
    group[[0, 4, 9]] = True
    # Sum of scores = observed - expected of the group, as in the log-rank test.
    expected = 0.0
    for t in np.unique(time[event]):
        at_risk, dying = time >= t, (time == t) & event
        expected += dying.sum() * (at_risk & group).sum() / at_risk.sum()
    scores = logrank.logrank_scores(time, event)
    assert scores[group].sum() == pytest.approx((group & event).sum() - expected)
    assert scores.sum() == pytest.approx(0.0, abs=1e-12)
    null = np.array([scores[list(c)].sum() for c in itertools.combinations(range(12), 3)])
    observed = scores[group].sum()
    by_hand = min(1.0, 2 * min(np.mean(null >= observed - 1e-9), np.mean(null <= observed + 1e-9)))
    p, method = logrank.exact_logrank(time, event, group)
    assert method == "exact_logrank" and p == pytest.approx(by_hand)
    # Carriers and non-carriers give the same test.
    assert logrank.exact_logrank(time, event, ~group)[0] == pytest.approx(p)
    sampled, method = logrank.exact_logrank(time, event, group, seed=1, enumeration_limit=10)
    assert method == "permutation_logrank" and sampled == pytest.approx(p, abs=0.01)
    assert logrank.exact_logrank(time, event, group, seed=1, enumeration_limit=10)[0] == sampled


@pytest.mark.parametrize("n, k", [(10, 3), (7, 3)], ids=["redrawn indices", "smallest uniforms"])
def test_sampled_carrier_sets_are_uniform_over_the_subsets(n, k):
    subsets = logrank._random_subsets(n, k, 60_000, np.random.default_rng(3))
    assert subsets.shape == (60_000, k) and subsets.min() >= 0 and subsets.max() < n
    ordered = np.sort(subsets, axis=1)
    assert (ordered[:, 1:] != ordered[:, :-1]).all()   # k distinct patients in every draw
    _, counts = np.unique(ordered, axis=0, return_counts=True)
    expected = 60_000 / math.comb(n, k)
    assert len(counts) == math.comb(n, k)
    # Pearson's chi-square against the uniform: below its 0.999 quantile (df 119: 173; df 34: 65).
    assert ((counts - expected) ** 2 / expected).sum() < {120: 173, 35: 65}[math.comb(n, k)]


@pytest.mark.parametrize("seed", range(6))
def test_running_risk_set_moments_equal_the_per_risk_set_passes(seed):
    # Ties (times rounded), left-out patients, covariates, and coefficients up to separation's (30 on a
    # carrier of the earliest events, information ~1e-11): the linear-time Firth derivatives equal the
    # risk-set-by-risk-set ones to rounding.
    rng = np.random.default_rng(seed)
    n, p = 60 + 20 * seed, 1 + seed % 3
    time = np.round(rng.exponential(10.0, n), seed % 2) + 1.0
    event = rng.random(n) < 0.7
    risk = cox.risk_sets(time, event)
    X = rng.normal(size=(5, n, p))
    X[:, :, 0] = rng.random((5, n)) < 0.1
    X[4, :, 0] = np.isin(np.arange(n), np.argsort(time)[:3])
    weights = (rng.random((5, n)) < 0.9).astype(float)
    beta = rng.normal(scale=2.0, size=(5, p))
    beta[4, 0] = 30.0
    for third in (False, True):
        dense = cox._efron_central_chunk(X, weights, risk, beta, third)
        running = cox._efron_running_chunk(X, weights, risk, beta, third)
        for name in ("loglik", "score", "information") + (("d_information",) if third else ()):
            expected, got = getattr(dense, name), getattr(running, name)
            scale = np.abs(expected).reshape(5, -1).max(axis=1)
            # The score sums terms of order 1 to a near-zero total at separation: rounding of order 1e-16
            # absolute there; the information's moments stay accurate relative to themselves (~1e-11).
            if name in ("loglik", "score"):
                scale = np.maximum(scale, 1.0)
            assert np.all(np.abs(got - expected).reshape(5, -1).max(axis=1) <= 1e-12 * scale), name
    assert n > cox.RUNNING_SUMS_MIN_PATIENTS   # the sizes efron_derivatives gives the running version


def test_running_risk_set_and_death_sums_equal_the_matrix_products(monkeypatch):
    rng = np.random.default_rng(4)
    n = 3 * cox.RUNNING_SUMS_MIN_PATIENTS
    time = np.round(rng.exponential(10.0, n)) + 1.0     # many ties
    event = rng.random(n) < 0.6
    risk = cox.risk_sets(time, event)
    values = rng.normal(size=(n, 6))
    np.testing.assert_allclose(cox._risk_set_sums(risk, values), risk.at_risk @ values, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(cox._death_sums(risk, values), risk.dies.astype(float) @ values)
    no_events = cox.risk_sets(time, np.zeros(n, dtype=bool))
    assert cox._risk_set_sums(no_events, values).shape == cox._death_sums(no_events, values).shape == (0, 6)
    # and the ML screen's derivatives with them equal the small-cohort products' (a patient left out, ties)
    X = rng.normal(size=(4, n, 2))
    weights = (rng.random((4, n)) < 0.9).astype(float)
    beta = rng.normal(size=(4, 2))
    running = cox._efron_power_sum_chunk(X, weights, risk, beta)
    monkeypatch.setattr(cox, "RUNNING_SUMS_MIN_PATIENTS", n)
    products = cox._efron_power_sum_chunk(X, weights, risk, beta)
    for name in ("loglik", "score", "information"):
        np.testing.assert_allclose(getattr(running, name), getattr(products, name), rtol=1e-11, atol=1e-11)


def test_min_events_leaves_features_unfitted_with_a_note():
    time, event = outcome_with_ties(seed=6)
    patients = [f"P{i:02d}" for i in range(time.size)]
    rng = np.random.default_rng(6)
    values = pd.DataFrame({"g": rng.normal(size=time.size)}, index=patients)
    outcome = pd.DataFrame({"time": time, "event": event}, index=patients)
    n_events = int(event.sum())
    table = survival.univariate_cox(values, survival.feature_kinds(values), outcome, min_events=n_events + 1)
    assert np.isnan(table.loc[0, "pvalue"]) and table.loc[0, "method"] == ""
    assert table.loc[0, "note"] == f"not fitted: {n_events} events, fewer than min_events = {n_events + 1}"
    fitted = survival.univariate_cox(values, survival.feature_kinds(values), outcome, min_events=n_events)
    assert fitted.loc[0, "method"] == "cox" and np.isfinite(fitted.loc[0, "pvalue"])


def test_sparse_alterations_with_covariates_get_the_penalised_likelihood_ratio_test():
    time, event = outcome_with_ties(seed=8)
    patients = [f"P{i:02d}" for i in range(time.size)]
    rng = np.random.default_rng(8)
    values = pd.DataFrame({"sparse": (np.arange(time.size) < 3).astype(float), "g": rng.normal(size=time.size)},
                          index=patients)
    outcome = pd.DataFrame({"time": time, "event": event}, index=patients)
    covariates = pd.DataFrame({"age": rng.normal(60, 8, time.size)}, index=patients)
    table = survival.univariate_cox(values, survival.feature_kinds(values), outcome, covariates).set_index("feature")
    assert table.loc["sparse", "method"] == "firth"
    assert table.loc["sparse", "pvalue_method"] == "penalised_likelihood_ratio"
    assert table.loc["g", "method"] == "cox" and table.loc["g", "pvalue_method"] == "wald"
    assert table.loc["sparse", "ci_low"] < table.loc["sparse", "hr"] < table.loc["sparse", "ci_high"]


def test_exact_logrank_never_rejects_more_often_than_its_level():
    # Every 3-carrier set of 16 patients as one feature: the exact share of null carrier sets with
    # p <= alpha is at most alpha (the asymptotic tests' was above it, the issue's 2.1% at 0.01).
    time, event = outcome_with_ties(seed=9, n=16)
    patients = [f"P{i:02d}" for i in range(16)]
    subsets = list(itertools.combinations(range(16), 3))
    values = pd.DataFrame({f"s{j}": np.isin(np.arange(16), s).astype(float) for j, s in enumerate(subsets)},
                          index=patients)
    outcome = pd.DataFrame({"time": time, "event": event}, index=patients)
    table = survival.univariate_cox(values, survival.feature_kinds(values), outcome, min_events=1)
    assert (table["pvalue_method"] == "exact_logrank").all()
    for alpha in (0.01, 0.05, 0.1):
        assert (table["pvalue"] <= alpha).mean() <= alpha
    assert (table["pvalue"] <= 0.1).mean() > 0.02    # and it is not empty: it can reject

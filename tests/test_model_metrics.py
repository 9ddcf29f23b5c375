"""The model metrics equal scikit-survival's bit for bit, and the Cox likelihood keeps its arithmetic."""
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sksurv.metrics import concordance_index_censored, concordance_index_ipcw
from sksurv.util import Surv

from trialomics import model_metrics
from trialomics.model_preprocess import Outcome

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


@st.composite
def survival_data(draw, min_size=2, max_size=60):
    """Times, events and risks with ties in time and in risk, censorings at the last time, all-censored."""
    n = draw(st.integers(min_size, max_size))
    n_distinct_times = draw(st.integers(1, n))
    time = np.array(draw(st.lists(st.integers(0, n_distinct_times), min_size=n, max_size=n)), dtype=np.float64)
    time = time * draw(st.sampled_from([1.0, 0.1, 30.4375]))
    event = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    case = draw(st.sampled_from(["any", "all_censored", "last_censored", "no_censoring"]))
    if case == "all_censored":
        event[:] = False
    elif case == "last_censored":
        event[time == time.max()] = False
    elif case == "no_censoring":
        event[:] = True
    risk_values = draw(st.sampled_from(["continuous", "few", "near_ties"]))
    if risk_values == "continuous":
        risk = np.array(draw(st.lists(st.floats(-5, 5), min_size=n, max_size=n)))
    elif risk_values == "few":
        risk = np.array(draw(st.lists(st.sampled_from([-1.0, 0.0, 0.3, 2.0]), min_size=n, max_size=n)))
    else:  # differences around scikit-survival's 1e-8 tie tolerance
        risk = np.array(draw(st.lists(st.sampled_from([0.0, 5e-9, 1e-8, 2e-8, 1.0]), min_size=n, max_size=n)))
    return time, event, risk


def same(ours: float, reference: float) -> bool:
    return (np.isnan(ours) and np.isnan(reference)) or ours == reference


def sksurv_uno_c(time, event, risk, tau=None) -> float:
    target = Surv.from_arrays(event=event, time=time)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return concordance_index_ipcw(target, target, risk, tau=tau)[0]
    except (ValueError, ZeroDivisionError):
        return np.nan


@given(data=survival_data(), tau_quantile=st.one_of(st.none(), st.floats(0.0, 1.0)))
@settings(max_examples=600, deadline=None)
def test_uno_c_equals_scikit_survival_bit_for_bit(data, tau_quantile):
    time, event, risk = data
    tau = None if tau_quantile is None else float(np.quantile(time, tau_quantile))
    assert same(model_metrics.uno_c(time, event, risk, tau=tau), sksurv_uno_c(time, event, risk, tau))


@given(data=survival_data())
@settings(max_examples=600, deadline=None)
def test_harrell_c_equals_scikit_survival_with_its_risk_tie_tolerance(data):
    time, event, risk = data
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # 0/0: the only comparable pairs tie in time
            reference = concordance_index_censored(event, time, risk)[0]       # tied_tol=1e-8
    except ValueError:  # all censored, or no comparable pair
        reference = np.nan
    assert same(model_metrics.harrell_c(time, event, risk), reference)


def test_a_null_models_rounding_noise_is_a_tie_in_both_concordances():
    # A model fitted at its largest penalty predicts zero up to rounding: its C is 1/2, whatever the bits.
    rng = np.random.default_rng(5)
    time, event = rng.exponential(1.0, 40), rng.random(40) < 0.7
    for noise in (rng.normal(0.0, 1e-16, 40), np.zeros(40), rng.normal(0.0, 1e-16, 40)):
        assert model_metrics.harrell_c(time, event, noise) == 0.5
        assert model_metrics.uno_c(time, event, noise) == 0.5


def test_uno_c_by_hand_and_where_it_is_not_defined():
    # No censoring: every weight is 1 and Uno's C is Harrell's C (risk ties count 1/2).
    time, event, risk = np.array([1.0, 2.0, 3.0, 4.0]), np.ones(4, dtype=bool), np.array([4.0, 2.0, 3.0, 3.0])
    assert model_metrics.uno_c(time, event, risk) == model_metrics.harrell_c(time, event, risk) == 3.5 / 6
    # Censoring survival 1 at time 1 and 1 - 1/3 at 3: the event at 3 weighs (3/2)^2 against the
    # censoring at 4, the event at 1 weighs 1 against the three later patients.
    time, event, risk = np.array([1.0, 2.0, 3.0, 4.0]), np.array([True, False, True, False]), np.array([0, 1, 2, 1.0])
    assert model_metrics.harrell_c(time, event, risk) == 1 / 4
    assert model_metrics.uno_c(time, event, risk) == pytest.approx(3 / 7, rel=1e-15)
    assert np.isnan(model_metrics.uno_c(time, np.zeros(4, dtype=bool), np.arange(4.0)))
    # Everyone still followed at 2 is censored there: the censoring survival is 0 at the event at 2.
    assert np.isnan(model_metrics.uno_c([1.0, 2.0, 2.0], [False, True, False], [1.0, 2.0, 3.0]))
    assert np.isnan(model_metrics.uno_c([1.0, 2.0], [True, False], [1.0, np.nan]))
    assert np.isnan(model_metrics.uno_c([1.0, 2.0], [True, True], [1.0, 2.0], tau=1.0))  # no event before tau
    with pytest.raises(ValueError, match="length"):
        model_metrics.uno_c([1.0, 2.0], [True, True], [1.0])


def reference_cox_log_partial_likelihood(time, event, eta):
    """The Breslow log partial likelihood written as the metric always computed it."""
    time, event = np.asarray(time, dtype=np.float64), np.asarray(event, dtype=bool)
    if not event.any():
        return np.zeros(eta.shape[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        shift = np.nan_to_num(np.nanmax(eta, axis=0, keepdims=True))
    at_risk = (time[None, :] >= time[event][:, None]).astype(np.float64)
    return (eta[event] - (np.log(at_risk @ np.exp(eta - shift)) + shift)).sum(axis=0)


@given(data=survival_data(max_size=40), k=st.integers(1, 12), seed=st.integers(0, 2**32 - 1),
       failed_columns=st.sampled_from([0, 1, 2]))
@settings(max_examples=300, deadline=None)
def test_cox_log_partial_likelihood_keeps_its_arithmetic(data, k, seed, failed_columns):
    time, event, _ = data
    eta = np.random.default_rng(seed).normal(scale=3.0, size=(len(time), k))
    if failed_columns:
        eta[:, : min(failed_columns, k)] = np.nan  # a path that failed at these penalties
    ours = model_metrics.cox_log_partial_likelihood(time, event, eta)
    reference = reference_cox_log_partial_likelihood(time, event, eta)
    assert np.array_equal(ours, reference, equal_nan=True)


def test_cox_log_partial_likelihood_by_hand():
    eta = np.array([[0.0, np.nan], [1.0, np.nan], [2.0, np.nan]])
    expected = (0 - np.log(1 + np.e + np.e ** 2)) + (1 - np.log(np.e + np.e ** 2)) + (2 - 2)
    scores = model_metrics.cox_log_partial_likelihood([1, 2, 3], [1, 1, 1], eta)
    assert scores[0] == pytest.approx(expected) and np.isnan(scores[1])
    np.testing.assert_array_equal(model_metrics.cox_log_partial_likelihood([1, 2], [0, 0], eta[:2]), [0.0, 0.0])


def test_repeat_averaged_scores_average_the_finite_repeats():
    outcome = Outcome.of_survival([1.0, 2.0, 3.0, 4.0], [True, True, True, True])
    predictions = np.array([[4.0, 1.0], [3.0, 2.0], [2.0, 3.0], [1.0, 4.0]])
    assert model_metrics.repeat_averaged_scores(outcome, predictions) == {"c_index": 0.5, "c_index_uno": 0.5}


def test_the_models_stage_imports_neither_scikit_learn_nor_scikit_survival():
    modules = ("sklearn", "sksurv", "scipy.stats")
    code = ("import sys; import anndata; from trialomics.models import fit_endpoint_model; "
            "from trialomics.imputation import make_fold_imputer; "
            f"print([m for m in {modules!r} if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={**os.environ, "PYTHONPATH": str(SCRIPTS)})
    assert result.stdout.strip() == "[]"


def test_a_failed_paths_nan_log_odds_score_nan_without_a_warning():
    # The failure is logged by model_paths; the inner folds' scoring turns NaN into -inf (never chosen).
    from trialomics.model_metrics import binomial_log_likelihood

    label = np.array([0, 1, 1, 0])
    logit = np.column_stack([np.array([-1.0, 2.0, 0.5, 0.0]), np.full(4, np.nan)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores = binomial_log_likelihood(label, logit)
    expected = -np.log1p(np.exp(-np.array([1.0, 2.0, 0.5, 0.0]))).sum()
    assert scores[0] == pytest.approx(expected, rel=1e-15) and np.isnan(scores[1])

"""Kaplan–Meier curves and medians equal lifelines' bit for bit (random data, ties, censoring, edges)."""
from __future__ import annotations

import numpy as np
import pytest
from lifelines import KaplanMeierFitter

from trialomics.kaplan_meier import kaplan_meier_curve, median_survival, survival_at


def lifelines_fit(time, event):
    return KaplanMeierFitter().fit(np.asarray(time, dtype=float), np.asarray(event, dtype=bool))


@pytest.mark.parametrize("seed", range(40))
def test_curve_and_median_equal_lifelines(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 40))
    # Rounded times give ties between events, between censorings and across the two.
    time = np.round(rng.exponential(12, n), int(rng.integers(0, 2)))
    event = rng.random(n) < rng.uniform(0.2, 1.0)
    fitter = lifelines_fit(time, event)
    times, survival = kaplan_meier_curve(time, event)
    expected = fitter.survival_function_.iloc[:, 0]
    assert np.array_equal(times, expected.index.to_numpy(float))
    assert np.array_equal(survival, expected.to_numpy())
    assert median_survival(time, event) == fitter.median_survival_time_
    censored = time[~event]
    assert np.array_equal(survival_at(times, survival, censored),
                          fitter.survival_function_at_times(censored).to_numpy())


def test_median_exactly_at_one_half_and_never_reached():
    # Four patients, two deaths at 1 and 2: S = 0.75, 0.5 -> the median is 2 (the first time S <= 0.5).
    assert median_survival([1, 2, 3, 4], [1, 1, 0, 0]) == lifelines_fit([1, 2, 3, 4], [1, 1, 0, 0]).median_survival_time_ == 2
    assert median_survival([1, 2, 3, 4], [1, 0, 0, 0]) == float("inf")
    assert median_survival([0, 0, 3], [1, 1, 1]) == lifelines_fit([0, 0, 3], [1, 1, 1]).median_survival_time_


def test_every_patient_dies_and_zero_times():
    for time, event in (([5, 5, 5], [1, 1, 1]), ([0, 2, 2, 7], [1, 0, 1, 1]), ([3.5], [0])):
        times, survival = kaplan_meier_curve(time, event)
        expected = lifelines_fit(time, event).survival_function_.iloc[:, 0]
        assert np.array_equal(times, expected.index.to_numpy(float))
        assert np.array_equal(survival, expected.to_numpy())


def test_mismatched_inputs_are_refused():
    with pytest.raises(ValueError, match="one length"):
        kaplan_meier_curve([1, 2], [1])

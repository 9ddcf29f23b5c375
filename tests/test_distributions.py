"""The scipy.special formulas give scipy.stats' values bit for bit, edges included."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from trialomics import distributions

X = np.concatenate([np.linspace(-40, 40, 2001), [-np.inf, np.inf, np.nan, 0.0, -0.0, 1e-300, 5e-324, 38.5, 1e4]])
P = np.concatenate([np.linspace(0, 1, 1001), [1e-300, 5e-324, 1 - 1e-16, np.nan, -0.1, 1.1]])


def same(ours, theirs):
    """Equal values, NaN where NaN, and the same sign of zero (a -0.0 is printed as such in a table)."""
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    return np.array_equal(ours, theirs, equal_nan=True) and np.array_equal(np.signbit(ours), np.signbit(theirs))


def test_normal_tail_and_its_inverse():
    assert same(distributions.normal_sf(X), stats.norm.sf(X))
    assert same(distributions.normal_isf(P), stats.norm.isf(P))
    assert distributions.normal_sf(1.959963984540054) == stats.norm.sf(1.959963984540054)
    assert isinstance(distributions.normal_isf(0.025), float)


@pytest.mark.parametrize("df", [1, 2, 3.5, 10, 120])
def test_chi_squared_tail_and_quantile(df):
    grid = np.concatenate([X, np.abs(X[:-3]) * 10])
    assert same(distributions.chi2_sf(grid, df), stats.chi2.sf(grid, df))
    assert same(distributions.chi2_ppf(P, df), stats.chi2.ppf(P, df))
    assert distributions.chi2_ppf(0.95, 1) == stats.chi2.ppf(0.95, 1)
    assert isinstance(distributions.chi2_sf(3.84, 1), float)


@pytest.mark.parametrize("df", [1, 2.5, 7, 30, 1e6])
def test_t_tail(df):
    assert same(distributions.t_sf(X, df), stats.t.sf(X, df))
    assert same(2 * distributions.t_sf(np.abs(X), np.full_like(X, df)), 2 * stats.t.sf(np.abs(X), df=df))

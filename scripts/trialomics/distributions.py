"""Tail probabilities and quantiles of the normal, chi-squared and t distributions, from ``scipy.special``.

Importing ``scipy.stats`` costs a job about 0.6 CPU-s (it builds every distribution object); most jobs need
only these few functions. Each is the formula ``scipy.stats`` itself evaluates (its ``_sf`` / ``_ppf`` /
``_isf`` methods call the same special functions), so the values are the same to the bit;
``tests/test_distributions.py`` checks that against ``scipy.stats``, edges included.
"""
from __future__ import annotations

import numpy as np

# scipy.special is imported in each function, on first use: the survival and Cox modules import this one,
# and every models job imports those for their data helpers without needing a tail probability (~0.1 CPU-s).


def normal_sf(x):
    """P(Z > x) for a standard normal Z (``scipy.stats.norm.sf``)."""
    from scipy.special import ndtr

    return ndtr(np.negative(x))


def normal_isf(q):
    """The x with P(Z > x) = q (``scipy.stats.norm.isf``); q outside [0, 1] gives NaN."""
    from scipy.special import ndtri

    q = np.asarray(q, dtype=float)
    with np.errstate(invalid="ignore"):
        # + 0.0 as scipy.stats adds its location: the median is +0.0, not -0.0
        return np.where((q >= 0) & (q <= 1), -ndtri(q) + 0.0, np.nan)[()]


def chi2_sf(x, df):
    """P(X > x) for X chi-squared with ``df`` degrees of freedom (``scipy.stats.chi2.sf``); 1 below 0."""
    from scipy.special import chdtrc

    x = np.asarray(x, dtype=float)
    return np.where(x >= 0, chdtrc(df, np.maximum(x, 0.0)), np.where(np.isnan(x), np.nan, 1.0))[()]


def chi2_ppf(p, df):
    """The x with P(X <= x) = p, X chi-squared with ``df`` degrees of freedom (``scipy.stats.chi2.ppf``)."""
    from scipy.special import gammaincinv

    p = np.asarray(p, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where((p >= 0) & (p <= 1), 2 * gammaincinv(df / 2, p) + 0.0, np.nan)[()]


def t_sf(x, df):
    """P(T > x) for T Student-t with ``df`` degrees of freedom (``scipy.stats.t.sf``)."""
    from scipy.special import stdtr

    return stdtr(df, np.negative(x))

"""limma's empirical Bayes moderation of residual variances (Smyth 2004), without importing inmoose.

inmoose, whose ``squeezeVar`` the moderated t-test used, loads its whole package (edgeR and DESeq2
ports, statsmodels) on import: about 1.9 CPU-s at the start of every limma job, for three small
formulas. They are written here from Smyth (2004, Stat Appl Genet Mol Biol 3:3) and limma's
documentation of ``fitFDist`` / ``squeezeVar`` / ``trigammaInverse``, with the arithmetic in the
order the formulas are stated, so the results equal inmoose's bit for bit
(``tests/test_empirical_bayes.py`` checks that on random data and on the edge cases).

The sample variances ``s2_g`` on ``d_g`` degrees of freedom are modelled as scaled F: ``s2_g / s0^2 ~
F(d_g, d0)``. On ``e_g = log s2_g - digamma(d_g / 2) + log(d_g / 2)``, the mean estimates ``log s0^2 -
digamma(d0 / 2) + log(d0 / 2)`` and the variance minus ``mean trigamma(d_g / 2)`` estimates
``trigamma(d0 / 2)``; when that is not positive, ``d0`` is infinite and ``s0^2`` the mean variance.
The posterior variances are ``(d_g s2_g + d0 s0^2) / (d_g + d0)``.
"""
from __future__ import annotations

import logging

import numpy as np
from scipy.special import digamma, polygamma

log = logging.getLogger(__name__)


def trigamma_inverse(x: float) -> float:
    """The y > 0 with trigamma(y) = x (limma's Newton iteration on 1/trigamma, from y = 0.5 + 1/x)."""
    if np.isnan(x) or x < 0:
        return np.nan
    if x > 1e7:
        return 1 / np.sqrt(x)
    if x < 1e-6:
        return 1 / x
    y = 0.5 + 1 / x
    for _ in range(51):
        tri = polygamma(1, y)
        step = tri * (1 - tri / x) / polygamma(2, y)
        y += step
        if -step / y < 1e-8:
            break
    else:
        log.warning("the inverse trigamma iteration did not converge in 51 steps")
    return float(y)


def fit_f_prior(variances: np.ndarray, df: np.ndarray) -> tuple[float, float]:
    """(s0^2, d0): the scaled-F prior of ``variances`` on ``df`` degrees of freedom (limma's fitFDist).

    Variances that are not finite, below -1e-15 or on no degrees of freedom are left out. Exact zeros
    are raised to 1e-5 times the median (1e-5 when more than half are zero), as limma does.
    """
    variances, df = np.asarray(variances, dtype=float), np.broadcast_to(np.asarray(df, dtype=float), np.shape(variances))
    ok = np.isfinite(df) & (df > 1e-15) & np.isfinite(variances) & (variances > -1e-15)
    n = int(ok.sum())
    if n == 0:
        return np.nan, np.nan
    x, d = variances[ok], df[ok]
    if n == 1:
        return float(x[0]), 0.0
    x = np.maximum(x, 0)
    median = np.median(x)
    if median == 0:
        log.warning("more than half of the residual variances are exactly zero: the moderation is unreliable")
        median = 1
    elif (x == 0).any():
        log.warning("zero residual variances were offset away from zero")
    x = np.maximum(x, 1e-5 * median)
    e = np.log(x) - digamma(d / 2) + np.log(d / 2)
    e_mean = e.mean()
    e_var = np.sum((e - e_mean) ** 2 / (n - 1)) - polygamma(1, d / 2).mean()
    if e_var > 0:
        prior_df = 2 * trigamma_inverse(e_var)
        return float(np.exp(e_mean + digamma(prior_df / 2) - np.log(prior_df / 2))), float(prior_df)
    return float(x.mean()), np.inf


def squeeze_variances(variances: np.ndarray, df: np.ndarray) -> tuple[np.ndarray, float, float]:
    """(posterior variances, prior variance s0^2, prior df d0): limma's ``squeezeVar`` (not robust)."""
    variances = np.asarray(variances, dtype=float)
    df = np.broadcast_to(np.asarray(df, dtype=float), variances.shape)
    if variances.size == 0:
        raise ValueError("no variance to moderate")
    if variances.size == 1:
        return variances.copy(), float(variances[0]), 0.0
    variances = np.where(df == 0, 0.0, variances)
    prior_variance, prior_df = fit_f_prior(variances, df)
    if np.isnan(prior_df):
        raise ValueError("the prior degrees of freedom could not be estimated")
    if np.isinf(prior_df):
        return np.full(variances.shape, prior_variance), prior_variance, prior_df
    return (df * variances + prior_df * prior_variance) / (df + prior_df), prior_variance, prior_df

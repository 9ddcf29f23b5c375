"""limma's variance moderation equals inmoose's squeezeVar bit for bit; the prior has its known behaviour."""
from __future__ import annotations

import numpy as np
import pytest
from inmoose.limma.squeezeVar import squeezeVar
from inmoose.limma.fitFDist import trigammaInverse
from scipy.special import polygamma

from trialomics.empirical_bayes import fit_f_prior, squeeze_variances, trigamma_inverse


def reference(variances, df):
    result = squeezeVar(np.array(variances, dtype=float), np.array(df, dtype=float))
    return np.asarray(result["var_post"]), float(np.asarray(result["var_prior"])), float(np.asarray(result["df_prior"]))


@pytest.mark.parametrize("seed", range(25))
def test_squeezed_variances_equal_inmoose(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 3000))
    df = rng.choice([1.0, 2.0, 5.0, 13.0], n) if seed % 3 else np.full(n, float(rng.integers(1, 30)))
    prior_df, prior_variance = rng.uniform(0.5, 40), rng.uniform(0.01, 3)
    # variances drawn from the model: s2 = s0^2 * chi2_d / d / (chi2_d0 / d0)
    variances = prior_variance * rng.chisquare(df) / df / (rng.chisquare(prior_df, n) / prior_df)
    if seed % 5 == 0:
        variances[:3] = 0.0  # exact zeros are offset
    ours = squeeze_variances(variances, df)
    theirs = reference(variances, df)
    assert np.array_equal(ours[0], theirs[0])
    assert ours[1] == theirs[1] and ours[2] == theirs[2]


def test_no_extra_spread_gives_an_infinite_prior_df_and_the_mean_variance():
    variances, df = np.full(50, 2.0), np.full(50, 4.0)
    posterior, prior_variance, prior_df = squeeze_variances(variances, df)
    assert prior_df == np.inf and prior_variance == 2.0 and np.array_equal(posterior, variances)
    assert reference(variances, df)[2] == np.inf


def test_prior_recovers_the_simulated_hyperparameters():
    rng = np.random.default_rng(1)
    n, d, d0, s0 = 20000, 4.0, 10.0, 0.5
    variances = s0 * rng.chisquare(d, n) / d / (rng.chisquare(d0, n) / d0)
    prior_variance, prior_df = fit_f_prior(variances, np.full(n, d))
    assert prior_variance == pytest.approx(s0, rel=0.03) and prior_df == pytest.approx(d0, rel=0.1)


@pytest.mark.parametrize("x", [1e-8, 1e-3, 0.5, 1.0, 7.3, 1e3, 1e8])
def test_trigamma_inverse(x):
    assert trigamma_inverse(x) == float(trigammaInverse(np.array([x]))[0])
    if 1e-6 <= x <= 1e7:
        assert polygamma(1, trigamma_inverse(x)) == pytest.approx(x, rel=1e-7)
    assert np.isnan(trigamma_inverse(-1.0))


def test_one_variance_and_none():
    assert squeeze_variances(np.array([0.3]), np.array([2.0]))[1:] == (0.3, 0.0)
    with pytest.raises(ValueError, match="no variance"):
        squeeze_variances(np.array([]), np.array([]))

"""The log-rank test of a two-group split, exactly: every carrier set enumerated, or sampled.

For alterations carried by a handful of patients the asymptotic log-rank and Wald tests are
anti-conservative; conditional on the outcomes and the carriers' number, the null distribution of
the carriers' observed - expected events is that of the sum of as many log-rank scores drawn without
replacement, which is enumerated when the carrier sets are few and sampled otherwise. Used by the
univariate screen (:func:`trialomics.survival.univariate_cox`) and, for its scores, by the null
models of the calibration (:mod:`trialomics.null_models`).
"""
from __future__ import annotations

import functools
import itertools
import math

import numpy as np

from .cox import CHUNK_ELEMENTS, risk_sets

# Carrier sets enumerated exactly up to this many; beyond, the permutation distribution is sampled.
EXACT_ENUMERATION_LIMIT = 2_000_000
PERMUTATION_DRAWS = 100_000


def logrank_scores(time, event) -> np.ndarray:
    """Log-rank scores ``event_i - H(time_i)``, H the pooled Nelson–Aalen cumulative hazard.

    The log-rank ``observed - expected`` of a group (ties as in the hypergeometric test) is the sum
    of its members' scores, so permuting group labels permutes which scores are summed.
    """
    time = np.asarray(time, dtype=np.float64)
    event = np.asarray(event, dtype=bool)
    risk = risk_sets(time, event)
    hazard = risk.dies.sum(axis=1) / risk.at_risk.sum(axis=1)                    # per event time
    cumulative = (risk.at_risk * hazard[:, None]).sum(axis=0)                    # sum over event times <= time_i
    return event.astype(np.float64) - cumulative


def exact_logrank(time, event, group, seed: int = 0,
                  enumeration_limit: int = EXACT_ENUMERATION_LIMIT) -> tuple[float, str]:
    """Two-sided exact (conditional, permutation) log-rank p-value of a two-group split.

    Conditional on the outcomes and the group sizes, every assignment of the smaller group to the
    patients is equally likely under the null hypothesis; the statistic is that group's
    observed - expected events. The p-value doubles the smaller one-sided tail (capped at 1), so
    that the skewed distribution of a handful of carriers does not count extremes of the other
    tail. All assignments are enumerated when there are at most ``enumeration_limit``;
    otherwise ``PERMUTATION_DRAWS`` are sampled (seeded by ``seed``) and each tail is
    ``(1 + count) / (1 + draws)``. Returns (p, ``exact_logrank`` or ``permutation_logrank``).
    """
    scores = logrank_scores(time, event)
    group = np.asarray(group, dtype=bool)
    if group.sum() * 2 > group.size:
        group = ~group  # the same test, with fewer members to enumerate (the scores sum to zero)
    k, n = int(group.sum()), group.size
    observed = float(scores[group].sum())
    tolerance = 1e-9 * max(1.0, float(np.abs(scores).sum()))
    if k == 0:
        return 1.0, "exact_logrank"
    if math.comb(n, k) <= enumeration_limit:
        null = scores[_all_subsets(n, k)].sum(axis=1)
        upper = np.mean(null >= observed - tolerance)
        lower = np.mean(null <= observed + tolerance)
        method = "exact_logrank"
    else:
        null = scores[_random_subsets(n, k, PERMUTATION_DRAWS, np.random.default_rng(seed))].sum(axis=1)
        upper = (1 + np.sum(null >= observed - tolerance)) / (1 + null.size)
        lower = (1 + np.sum(null <= observed + tolerance)) / (1 + null.size)
        method = "permutation_logrank"
    return float(min(1.0, 2.0 * min(upper, lower))), method


@functools.lru_cache(maxsize=8)
def _all_subsets(n: int, k: int) -> np.ndarray:
    """Every k-subset of range(n), one per row (cached: a screen asks for the same few sizes)."""
    subsets = np.fromiter(itertools.chain.from_iterable(itertools.combinations(range(n), k)), dtype=np.int64)
    subsets = subsets.reshape(-1, k)
    subsets.flags.writeable = False
    return subsets


def _random_subsets(n: int, k: int, draws: int, rng: np.random.Generator) -> np.ndarray:
    """``draws`` uniformly random k-subsets of range(n), one per row (draws x k).

    For few carriers (k^2 <= n) each row is k independent indices, redrawn while two coincide: a
    k-tuple of distinct indices drawn uniformly is a uniform k-subset, and repeats are rare (probability
    below k^2 / 2n), so a draw costs k random numbers instead of n. Otherwise the k smallest of n uniforms.
    """
    if k * k <= n:
        subsets = rng.integers(0, n, size=(draws, k))
        redraw = np.arange(draws)
        while redraw.size:
            ordered = np.sort(subsets[redraw], axis=1)
            redraw = redraw[(ordered[:, 1:] == ordered[:, :-1]).any(axis=1)]
            subsets[redraw] = rng.integers(0, n, size=(redraw.size, k))
        return subsets
    return np.concatenate([np.argpartition(rng.random((block, n)), k - 1, axis=1)[:, :k]
                           for block in _blocks(draws, max(1, CHUNK_ELEMENTS // n))])


def _blocks(total: int, size: int) -> list[int]:
    return [min(size, total - start) for start in range(0, total, size)]

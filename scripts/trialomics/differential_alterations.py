"""Mutations and copy number: per-gene Fisher exact tests, and the tumour mutational burden comparison.

:func:`exact_tests` compares the fraction of patients with an alteration (a non-silent mutation, or a
copy-number gain or loss, :func:`copy_number_alterations`) between the contrast's target and reference
groups with Fisher's exact test (:func:`fisher_exact_test`); :func:`tmb_comparison` compares tumour
mutational burden with the Wilcoxon rank-sum test. The contrast checks, design frame and table layout
are those of :mod:`trialomics.differential`.
"""
from __future__ import annotations

import functools
import logging

import numpy as np
import pandas as pd

from .contrasts import Contrast
from .differential import EFFECT_TYPES, GROUP_COLUMN, _ordered, design_frame, family_label, require_valid_contrast
from .distributions import normal_isf
from .multitest import benjamini_hochberg

LOGGER = logging.getLogger(__name__)


@functools.lru_cache(maxsize=None)
def fisher_exact_test(altered_target: int, n_target: int, altered_reference: int,
                      n_reference: int, level: float = 0.95) -> dict:
    """Fisher's exact test on the 2x2 table (altered / not) x (target / reference).

    Returns the two-sided p-value, the conditional maximum-likelihood odds ratio with its exact
    confidence interval (as R's ``fisher.test``), and ``log_odds_ratio``, the log of the sample odds
    ratio with 0.5 added to every cell (Haldane–Anscombe), which stays finite with empty cells.
    """
    # scipy.stats imported where used: the other differential jobs need only distributions' tails (job start).
    from scipy import stats
    from scipy.stats.contingency import odds_ratio as contingency_odds_ratio

    table = np.array([[altered_target, n_target - altered_target],
                      [altered_reference, n_reference - altered_reference]])
    if (table < 0).any():
        raise ValueError("altered counts cannot exceed group sizes")
    pvalue = float(stats.fisher_exact(table, alternative="two-sided").pvalue)
    conditional = contingency_odds_ratio(table, kind="conditional")
    interval = conditional.confidence_interval(confidence_level=level)
    a, b, c, d = (table + 0.5).ravel()
    return {"odds_ratio": float(conditional.statistic), "ci_low": float(interval.low),
            "ci_high": float(interval.high), "log_odds_ratio": float(np.log(a * d / (b * c))),
            "pvalue": pvalue}


def exact_tests(altered: pd.DataFrame, obs: pd.DataFrame, contrast: Contrast, modality: str,
                min_altered: int = 2, min_per_level: int = 3) -> pd.DataFrame:
    """Fisher's exact test per feature of altered (1) vs not (0) between target and reference.

    ``altered`` is samples x features of 0/1 (NaN: not assessed, left out of that feature's test).
    Only samples of the two compared levels are used; covariates cannot enter an exact test and
    are ignored with a log message. Features altered in fewer than ``min_altered`` of those
    patients are not tested and not listed. ``stat`` is the two-sided p-value as a signed normal
    score (sign of the log odds ratio), which puts exact tests on the scale of a z-statistic.
    """
    require_valid_contrast(contrast, obs, min_per_level)
    if contrast.covariates or contrast.batch:
        LOGGER.info("contrast %s: covariates and batch are not used by the exact tests of %s",
                    contrast.id, modality)
    frame = design_frame(obs, contrast)
    groups = frame[GROUP_COLUMN].astype(str)
    compared = groups.index[groups.isin([contrast.reference, contrast.target]).to_numpy()]
    data = altered.loc[compared].astype(float)
    is_target = (groups.loc[compared] == contrast.target).to_numpy()
    rows = []
    for feature in data.columns:
        column = data[feature].to_numpy()
        known = ~np.isnan(column)
        hits = column > 0
        if (hits & known).sum() < min_altered:
            continue
        n_target = int((known & is_target).sum())
        n_reference = int((known & ~is_target).sum())
        altered_target = int((hits & known & is_target).sum())
        altered_reference = int((hits & known & ~is_target).sum())
        # Memoised: arm-level copy-number events give many genes the same 2x2 table.
        test = fisher_exact_test(altered_target, n_target, altered_reference, n_reference)
        rows.append({"feature": str(feature), "effect": test["log_odds_ratio"],
                     "odds_ratio": test["odds_ratio"], "ci_low": test["ci_low"],
                     "ci_high": test["ci_high"], "pvalue": test["pvalue"],
                     "altered_reference": altered_reference, "altered_target": altered_target,
                     "n_reference": n_reference, "n_target": n_target})
    columns = ["feature", "effect", "odds_ratio", "ci_low", "ci_high", "stat", "pvalue", "padj",
               "altered_reference", "altered_target", "n_reference", "n_target", "effect_type",
               "family"]
    table = pd.DataFrame(rows, columns=[c for c in columns if c not in
                                        ("stat", "padj", "effect_type", "family")])
    pvalues = table["pvalue"].to_numpy(dtype=float)
    table["stat"] = np.sign(table["effect"].to_numpy(dtype=float)) * normal_isf(pvalues / 2)
    table["padj"] = benjamini_hochberg(pvalues)
    table["effect_type"] = EFFECT_TYPES[modality]
    table["family"] = family_label(modality, contrast.id,
                                   f"features altered in at least {min_altered} patients")
    return _ordered(table[columns])


def copy_number_alterations(calls: pd.DataFrame, min_level: int = 1) -> pd.DataFrame:
    """Samples x ``GENE:gain`` / ``GENE:loss`` indicators from integer calls -2..2.

    ``GENE:gain`` is 1 when the call is at least ``min_level`` (1: gain or amplification; 2:
    amplification only), ``GENE:loss`` when it is at most ``-min_level``; missing calls stay NaN.
    """
    if min_level not in (1, 2):
        raise ValueError(f"copy number min_level must be 1 or 2, not {min_level}")
    values = calls.astype(float)
    known = values.notna()
    gain = (values >= min_level).astype(float).where(known)
    loss = (values <= -min_level).astype(float).where(known)
    gain.columns = [f"{gene}:gain" for gene in calls.columns]
    loss.columns = [f"{gene}:loss" for gene in calls.columns]
    combined = pd.concat([gain, loss], axis=1)
    return combined[sorted(combined.columns)]


def tmb_comparison(obs: pd.DataFrame, contrast: Contrast, tmb_column: str = "tmb_per_mb",
                   min_per_level: int = 3) -> pd.DataFrame:
    """Tumour mutational burden, target vs reference: Wilcoxon rank-sum (Mann–Whitney U) test.

    Returns one row: contrast, variable, reference, target, n and median TMB of each group, the U
    statistic of the target group, the two-sided p-value and the method (exact without ties,
    normal approximation with ties, as scipy's ``method="auto"``).
    """
    from scipy import stats  # imported where used (see fisher_exact_test)

    require_valid_contrast(contrast, obs, min_per_level)
    frame = design_frame(obs, contrast)
    groups = frame[GROUP_COLUMN].astype(str)
    tmb = pd.to_numeric(obs.loc[frame.index, tmb_column], errors="coerce")
    target = tmb[(groups == contrast.target).to_numpy()].dropna().to_numpy()
    reference = tmb[(groups == contrast.reference).to_numpy()].dropna().to_numpy()
    test = stats.mannwhitneyu(target, reference, alternative="two-sided", method="auto")
    ties = len(np.unique(np.concatenate([target, reference]))) < len(target) + len(reference)
    exact = not ties and len(target) <= 8 and len(reference) <= 8
    return pd.DataFrame([{
        "contrast": contrast.id, "variable": contrast.variable, "reference": contrast.reference,
        "target": contrast.target, "n_reference": len(reference), "n_target": len(target),
        "median_reference": float(np.median(reference)), "median_target": float(np.median(target)),
        "u_statistic": float(test.statistic), "pvalue": float(test.pvalue),
        "method": "Mann-Whitney U, " + ("exact" if exact else "normal approximation"),
    }])

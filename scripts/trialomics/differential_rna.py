"""RNA differential expression: DESeq2's negative-binomial GLM and Wald test (pydeseq2).

:func:`fit_deseq2` fits one design (shared by the contrasts with the same
:func:`~trialomics.contrasts.design_key`); :func:`deseq2_results` tests one contrast on that fit, with
DESeq2's Cook's-distance handling and independent filtering and optional apeGLM shrinkage. The contrast
checks, design frame and table layout are those of :mod:`trialomics.differential`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .contrasts import Contrast
from .differential import (EFFECT_TYPES, GROUP_COLUMN, _ordered, design_frame, family_label,
                           require_valid_contrast)
from .errors import AnalysisProblem


def deseq2_formula(frame: pd.DataFrame) -> str:
    """``~ covariate_1 + ... + batch_block + group``: the variable of interest last, as in DESeq2."""
    terms = [c for c in frame.columns if c != GROUP_COLUMN] + [GROUP_COLUMN]
    return "~" + " + ".join(terms)


def fit_deseq2(counts: pd.DataFrame, obs: pd.DataFrame, contrast: Contrast, n_cpus: int = 1,
               refit_cooks: bool = True, min_replicates: int = 7, min_per_level: int = 3):
    """Fit DESeq2 (pydeseq2) for the design of ``contrast``.

    ``counts`` is samples x genes raw integer counts (``layers["raw"]``), ``obs`` the samples'
    labels and covariates. Samples with a missing term are left out. Cook's distances are handled
    as DESeq2 does: counts with a large Cook's distance are replaced by the trimmed mean and the gene
    refitted when the sample's group has at least ``min_replicates`` (7) replicates; otherwise the
    gene's p-value is set to missing when the outlier lies in a group of 3 or more samples.

    Returns the fitted ``pydeseq2.dds.DeseqDataSet``.
    """
    from .deseq_inference import VectorisedDeseqDataSet, VectorisedInference

    require_valid_contrast(contrast, obs, min_per_level)
    frame = design_frame(obs, contrast)
    data = counts.loc[frame.index]
    dds = VectorisedDeseqDataSet(counts=data.round().astype(np.int64), metadata=frame,
                                 design=deseq2_formula(frame), refit_cooks=refit_cooks,
                                 min_replicates=min_replicates, quiet=True,
                                 inference=VectorisedInference(n_cpus=n_cpus))
    dds.deseq2()
    dds.cooks_outlier()   # flagged now, stored with the fit: the results rule reads them without pydeseq2
    dds.uns["trialomics_contrast_design"] = {"variable": contrast.variable,
                                             "reference": contrast.reference,
                                             "covariates": list(contrast.covariates),
                                             "batch": contrast.batch,
                                             "formula": deseq2_formula(frame)}
    return dds


def deseq2_results(fit, contrast: Contrast, shrink: bool = True, alpha: float = 0.05) -> pd.DataFrame:
    """Wald test of ``contrast`` on a fitted design (any contrast sharing it): a
    :class:`~trialomics.deseq_results.DeseqFit` (as stored) or a fitted ``pydeseq2.dds.DeseqDataSet``.

    P-values of Cook's outliers are missing and ``padj`` uses DESeq2's independent filtering on the
    mean normalised count (genes filtered out have a p-value but no ``padj``), both as DESeq2's
    ``results()``. With ``shrink``, ``effect_shrunk`` holds the apeGLM-shrunk log2 fold change;
    ``effect`` and ``se`` always hold the unshrunk (MLE) values. The same numbers as pydeseq2's
    ``DeseqStats`` (:mod:`trialomics.deseq_results`, which does not import pydeseq2).
    """
    from .deseq_results import DeseqFit, shrunk_lfc, wald_tests

    if not isinstance(fit, DeseqFit):
        fit = DeseqFit.from_dds(fit)
    design = fit.design_info
    if (design["variable"], design["reference"]) != (contrast.variable, contrast.reference):
        raise ValueError(f"contrast '{contrast.id}' does not share the fitted design "
                         f"({design['variable']} with reference {design['reference']})")
    groups = fit.obs[GROUP_COLUMN].astype(str)
    if contrast.target not in set(groups):
        raise AnalysisProblem(f"contrast '{contrast.id}': level '{contrast.target}' is absent from the fit",
                              f"remove contrast '{contrast.id}' or choose a target level that has samples")
    # The reference level is the fit's baseline, so target vs reference is the target coefficient alone.
    coefficient = f"{GROUP_COLUMN}[T.{contrast.target}]"
    vector = np.array([1.0 if column == coefficient else 0.0 for column in fit.design.columns])
    tests = wald_tests(fit, vector, alpha)
    table = pd.DataFrame({"feature": fit.genes.astype(str), "effect": tests.lfc / np.log(2)})
    if shrink:
        table["effect_shrunk"] = shrunk_lfc(fit, coefficient, tests.se) / np.log(2)
    table["se"] = tests.se / np.log(2)
    table["stat"] = tests.stat
    table["pvalue"] = tests.pvalue
    table["padj"] = tests.padj
    table["base_mean"] = fit.base_mean
    normed = pd.DataFrame(fit.normed_counts, index=fit.obs.index, columns=fit.genes)
    table["mean_reference"] = normed.loc[groups == contrast.reference].mean().to_numpy()
    table["mean_target"] = normed.loc[groups == contrast.target].mean().to_numpy()
    table["n_reference"] = int((groups == contrast.reference).sum())
    table["n_target"] = int((groups == contrast.target).sum())
    table["cooks_outlier"] = fit.cooks_outlier
    table["effect_type"] = EFFECT_TYPES["rna"]
    table["family"] = family_label("rna", contrast.id,
                                   "after DESeq2 independent filtering on the mean normalised count")
    return _ordered(table)

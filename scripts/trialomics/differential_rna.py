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
    dds.uns["trialomics_contrast_design"] = {"variable": contrast.variable,
                                             "reference": contrast.reference,
                                             "covariates": list(contrast.covariates),
                                             "batch": contrast.batch,
                                             "formula": deseq2_formula(frame)}
    return dds


def deseq2_results(dds, contrast: Contrast, shrink: bool = True, alpha: float = 0.05,
                   n_cpus: int = 1) -> pd.DataFrame:
    """Wald test of ``contrast`` on a fitted DeseqDataSet (any contrast sharing its design).

    P-values of Cook's outliers are missing and ``padj`` uses DESeq2's independent filtering on the
    mean normalised count (genes filtered out have a p-value but no ``padj``), both as DESeq2's
    ``results()``. With ``shrink``, ``effect_shrunk`` holds the apeGLM-shrunk log2 fold change;
    ``effect`` and ``se`` always hold the unshrunk (MLE) values.
    """
    from pydeseq2.ds import DeseqStats

    from .deseq_inference import VectorisedInference

    design = dds.uns["trialomics_contrast_design"]
    if (design["variable"], design["reference"]) != (contrast.variable, contrast.reference):
        raise ValueError(f"contrast '{contrast.id}' does not share the fitted design "
                         f"({design['variable']} with reference {design['reference']})")
    if contrast.target not in set(dds.obs[GROUP_COLUMN].astype(str)):
        raise AnalysisProblem(f"contrast '{contrast.id}': level '{contrast.target}' is absent from the fit",
                              f"remove contrast '{contrast.id}' or choose a target level that has samples")
    # The reference level is the fit's baseline, so target vs reference is the target coefficient
    # alone. An explicit vector also works on a fit loaded in another process, where formulaic's
    # per-instance materializer behind named contrasts no longer exists.
    coefficient = f"{GROUP_COLUMN}[T.{contrast.target}]"
    columns = list(dds.obsm["design_matrix"].columns)
    vector = np.array([1.0 if column == coefficient else 0.0 for column in columns])
    ds = DeseqStats(dds, contrast=vector, alpha=alpha, cooks_filter=True, independent_filter=True,
                    quiet=True, inference=VectorisedInference(n_cpus=n_cpus))
    ds.summary()
    result = ds.results_df.copy()
    groups = dds.obs[GROUP_COLUMN].astype(str)
    table = pd.DataFrame({
        "feature": result.index.astype(str),
        "effect": result["log2FoldChange"].to_numpy(dtype=float),
    })
    if shrink:
        ds.lfc_shrink(coeff=coefficient)
        table["effect_shrunk"] = (ds.LFC[coefficient] / np.log(2)).to_numpy(dtype=float)
    table["se"] = result["lfcSE"].to_numpy(dtype=float)
    table["stat"] = result["stat"].to_numpy(dtype=float)
    table["pvalue"] = result["pvalue"].to_numpy(dtype=float)
    table["padj"] = result["padj"].to_numpy(dtype=float)
    table["base_mean"] = result["baseMean"].to_numpy(dtype=float)
    normed = pd.DataFrame(dds.layers["normed_counts"], index=dds.obs_names, columns=dds.var_names)
    table["mean_reference"] = normed.loc[groups == contrast.reference].mean().to_numpy()
    table["mean_target"] = normed.loc[groups == contrast.target].mean().to_numpy()
    table["n_reference"] = int((groups == contrast.reference).sum())
    table["n_target"] = int((groups == contrast.target).sum())
    table["cooks_outlier"] = np.asarray(dds.cooks_outlier(), dtype=bool)
    table["effect_type"] = EFFECT_TYPES["rna"]
    table["family"] = family_label("rna", contrast.id,
                                   "after DESeq2 independent filtering on the mean normalised count")
    return _ordered(table)

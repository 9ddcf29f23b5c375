"""DESeq2's ``results()`` and apeGLM ``lfcShrink`` for one contrast of a stored fit, without pydeseq2.

The ``differential_rna`` rule tests a contrast on the fit its design's ``differential_rna_fit`` job
stored (:mod:`trialomics.deseq_store`). pydeseq2's ``DeseqStats`` would do it, but importing pydeseq2
costs the job about 1 CPU-s (scipy.stats, scipy.optimize, scikit-learn, matplotlib), a third of it.
This module computes what ``DeseqStats(cooks_filter=True, independent_filter=True)`` with
``summary()`` and ``lfc_shrink()`` computes (pydeseq2 0.5.4, pinned in ``envs/rna.yaml``), with the
same arithmetic, so the tables are the same to the bit (tested against ``DeseqStats``):

- the Wald test of the contrast vector (:func:`~trialomics.deseq_glm.wald_test`), with the ridge
  1e-6 and the genes that became all zero after outlier replacement set to SE 0, statistic 0, p 1;
- p-values of the genes with a Cook's outlier set to missing (flagged at fit time,
  :func:`~trialomics.differential_rna.fit_deseq2`, and stored with the fit);
- independent filtering (Bourgon et al. 2010, as DESeq2): Benjamini-Hochberg on the genes whose mean
  normalised count reaches each of 50 quantiles, the number of rejections smoothed by lowess, and the
  first quantile whose rejections come within one residual SD of the smooth's maximum kept;
- apeGLM shrinkage of one coefficient (Zhu et al. 2019): a Cauchy prior whose scale is estimated from
  the MLEs and their SEs (the root of the method-of-moments equation, by Brent's method), and the MAP
  of every gene (:func:`~trialomics.deseq_glm.apeglm_map`).
"""
from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .deseq_glm import RIDGE, apeglm_map, wald_test

#: Quantiles of the mean normalised count tried as filter thresholds (DESeq2's ``filter`` grid).
FILTER_QUANTILES = 50
#: Span of the lowess through the rejections (DESeq2 and pydeseq2: 1/5).
LOWESS_SPAN = 1 / 5
#: apeGLM's prior scale on the unshrunk coefficients (the intercept, covariates).
NO_SHRINK_SCALE = 15.0
PRIOR_VARIANCE_BOUNDS = (1e-6, 400.0)


@dataclass(frozen=True)
class DeseqFit:
    """What the tests of a contrast read from a fitted design: a pydeseq2 ``DeseqDataSet`` or its stored .h5ad."""

    counts: np.ndarray           # samples x genes, raw counts
    size_factors: np.ndarray
    design: pd.DataFrame         # samples x coefficients (the fit's design matrix)
    lfc: pd.DataFrame            # genes x coefficients, natural log
    dispersions: np.ndarray
    base_mean: np.ndarray        # mean normalised count
    normed_counts: np.ndarray
    cooks_outlier: np.ndarray    # per gene: a Cook's outlier that sets its p-value missing
    non_zero: np.ndarray         # positions of the genes with a count
    all_zero_after_refit: np.ndarray   # per gene: all zero once outliers were replaced
    obs: pd.DataFrame
    design_info: dict

    @property
    def genes(self) -> pd.Index:
        return self.lfc.index

    @classmethod
    def from_anndata(cls, adata, state: dict) -> "DeseqFit":
        """From a fitted DeseqDataSet (an AnnData) or the stored one, with its own attributes ``state``."""
        var = adata.var
        if "_pvalue_cooks_outlier" not in var:
            raise ValueError("the DESeq2 fit has no Cook's outlier flags (var '_pvalue_cooks_outlier'): it was "
                             "written by an older version; delete it so that differential_rna_fit runs again")
        genes = pd.Index(adata.var_names)
        refitted = bool(state.get("refit_cooks")) and "replaced" in var and var["replaced"].sum() > 0
        all_zero = (genes.isin(pd.Index(np.asarray(state.get("new_all_zeroes_genes", []), dtype=str)))
                    if refitted else np.zeros(len(genes), dtype=bool))
        return cls(counts=np.asarray(adata.X), size_factors=adata.obs["size_factors"].to_numpy(dtype=float),
                   design=adata.obsm["design_matrix"], lfc=adata.varm["LFC"],
                   dispersions=var["dispersions"].to_numpy(dtype=float),
                   base_mean=var["_normed_means"].to_numpy(dtype=float),
                   normed_counts=np.asarray(adata.layers["normed_counts"]),
                   cooks_outlier=var["_pvalue_cooks_outlier"].to_numpy(dtype=bool),
                   non_zero=np.asarray(state["non_zero_idx"], dtype=np.intp), all_zero_after_refit=all_zero,
                   obs=adata.obs, design_info=dict(adata.uns["trialomics_contrast_design"]))

    @classmethod
    def from_dds(cls, dds) -> "DeseqFit":
        """From a fitted pydeseq2 ``DeseqDataSet`` in memory (its Cook's outliers flagged if not yet)."""
        dds.cooks_outlier()
        return cls.from_anndata(dds, {"refit_cooks": dds.refit_cooks, "non_zero_idx": dds.non_zero_idx,
                                      "new_all_zeroes_genes": getattr(dds, "new_all_zeroes_genes", [])})

    @classmethod
    def read(cls, path: str | os.PathLike) -> "DeseqFit":
        """The fit :func:`~trialomics.deseq_store.write_deseq_fit` stored."""
        import anndata as ad

        from .deseq_store import stored_state

        adata = ad.read_h5ad(path)
        return cls.from_anndata(adata, stored_state(adata))


@dataclass(frozen=True)
class ContrastTests:
    """The Wald tests of a contrast (natural-log effects and SEs), as ``DeseqStats.summary()`` leaves them."""

    lfc: np.ndarray
    se: np.ndarray
    stat: np.ndarray
    pvalue: np.ndarray
    padj: np.ndarray


def wald_tests(fit: DeseqFit, contrast: np.ndarray, alpha: float = 0.05) -> ContrastTests:
    """Wald tests of the ``contrast`` vector, Cook's filtering and independently filtered BH ``padj``."""
    design = fit.design.to_numpy(dtype=float)
    lfc = fit.lfc.to_numpy(dtype=float)
    mu = np.exp(design @ lfc.T) * fit.size_factors[:, None]
    ridge = np.diag(np.repeat(RIDGE, design.shape[1]))
    pvalue, stat, se = wald_test(design, fit.dispersions, lfc, mu, ridge, contrast, 0.0, None)
    se[fit.all_zero_after_refit] = 0.0
    stat[fit.all_zero_after_refit] = 0.0
    pvalue[fit.all_zero_after_refit] = 1.0
    pvalue[fit.cooks_outlier] = np.nan
    return ContrastTests(lfc @ contrast, se, stat, pvalue, independent_filtering(fit.base_mean, pvalue, alpha))


def independent_filtering(base_mean: np.ndarray, pvalue: np.ndarray, alpha: float) -> np.ndarray:
    """BH-adjusted p-values after DESeq2's independent filtering on the mean normalised count.

    Genes below the chosen threshold (and genes without a p-value) get no ``padj``.
    """
    lower = float(np.mean(base_mean == 0))
    theta = np.linspace(lower, 0.95 if lower < 0.95 else 1.0, FILTER_QUANTILES)
    cutoffs = np.quantile(base_mean, theta)
    adjusted = np.full((len(pvalue), len(theta)), np.nan)
    tested = ~np.isnan(pvalue)
    for i, cutoff in enumerate(cutoffs):
        use = (base_mean >= cutoff) & tested
        if use.any():
            adjusted[use, i] = benjamini_hochberg_scipy(pvalue[use])
    rejections = (adjusted < alpha).sum(axis=0).astype(int)
    smooth = lowess(theta, rejections, LOWESS_SPAN)
    chosen = 0
    if rejections.max() > 10:
        residual = rejections[rejections > 0] - smooth[rejections > 0]
        threshold = smooth.max() - np.sqrt(np.mean(residual ** 2))
        above = np.flatnonzero(rejections > threshold)
        chosen = int(above[0]) if above.size else 0
    return adjusted[:, chosen]


def benjamini_hochberg_scipy(pvalues: np.ndarray) -> np.ndarray:
    """BH-adjusted p-values with the arithmetic of ``scipy.stats.false_discovery_control`` (p x (m / i)),
    which pydeseq2's filtering calls, so that ``padj`` keeps its last bits."""
    p = np.asarray(pvalues, dtype=float)
    if not ((p >= 0) & (p <= 1)).all():
        raise ValueError("p-values must lie between 0 and 1")
    if p.size <= 1:
        return p.copy()
    order = np.argsort(p)
    m = p.size
    scaled = p[order] * (m / np.arange(1, m + 1, dtype=float))
    scaled = np.minimum.accumulate(scaled[::-1])[::-1]
    adjusted = np.empty(m)
    adjusted[order] = scaled
    return np.clip(adjusted, 0.0, 1.0)


def lowess(x: np.ndarray, y: np.ndarray, span: float, robustness_iterations: int = 3) -> np.ndarray:
    """Cleveland's robust locally weighted linear regression of ``y`` on ``x`` (tricube weights over the
    nearest ``span`` of the points, bisquare robustness weights from the residuals' median), as the
    smoother of DESeq2's (and pydeseq2's) independent filtering computes it: each local fit a 2 x 2
    least-squares solve."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n = len(x)
    neighbours = int(math.ceil(span * n))
    bandwidth = np.maximum(np.array([np.sort(np.abs(x - x[i]))[neighbours] for i in range(n)]), 1e-12)
    distance = np.clip(np.abs(np.nan_to_num((x[:, None] - x[None, :]) / bandwidth)), 0.0, 1.0)
    tricube = (1 - distance ** 3) ** 3
    fitted = np.zeros(n)
    robustness = np.ones(n)
    for _ in range(robustness_iterations):
        for i in range(n):
            w = robustness * tricube[:, i]
            normal_matrix = np.array([[np.sum(w), np.sum(w * x)], [np.sum(w * x), np.sum(w * x * x)]])
            coefficients = np.linalg.lstsq(normal_matrix, np.array([np.sum(w * y), np.sum(w * y * x)]),
                                           rcond=None)[0]
            fitted[i] = coefficients[0] + coefficients[1] * x[i]
        residuals = y - fitted
        scale = np.median(np.abs(residuals))
        if scale == 0:
            robustness = (np.abs(residuals) > 0).astype(float)
        else:
            robustness = np.clip(residuals / (6.0 * scale), -1, 1)
        robustness = (1 - robustness ** 2) ** 2
    return fitted


def apeglm_prior_variance(lfc: np.ndarray, se: np.ndarray) -> float:
    """The apeGLM prior variance A of one coefficient: the root in [1e-6, 400] of
    sum_g w_g (b_g^2 - s_g^2) / sum_g w_g = A with w_g = 1 / (2 (A + s_g^2)^2), or 1e-6 when even
    that is above it (genes without an estimate left out; a missing SE counts as no term)."""
    keep = ~np.isnan(lfc)
    squares, variances = lfc[keep] ** 2, se[keep] ** 2

    def excess(a: float) -> float:
        weights = 1 / (2 * (a + variances) ** 2)
        return float(np.nansum((squares - variances) * weights) / np.nansum(weights) - a)

    low, high = PRIOR_VARIANCE_BOUNDS
    if excess(low) < 0:
        return low
    return brent_root(excess, low, high)


def brent_root(f, a: float, b: float, xtol: float = 2e-12, rtol: float = 4 * np.finfo(float).eps,
               max_iterations: int = 100) -> float:
    """A root of ``f`` in the bracket [a, b] by Brent's method (inverse quadratic interpolation, secant
    steps, bisection as the safeguard), with the stopping rule and steps of SciPy's ``brentq``, which
    pydeseq2 calls (through ``root_scalar``) for the apeGLM prior: the same root to the bit."""
    previous, current = a, b
    f_previous, f_current = f(previous), f(current)
    if f_previous == 0:
        return previous
    if f_current == 0:
        return current
    if math.copysign(1.0, f_previous) == math.copysign(1.0, f_current):
        raise ValueError("f(a) and f(b) must have different signs")
    block = f_block = step_before = step = 0.0
    for _ in range(max_iterations):
        if f_previous != 0 and f_current != 0 and math.copysign(1.0, f_previous) != math.copysign(1.0, f_current):
            block, f_block = previous, f_previous
            step_before = step = current - previous
        if abs(f_block) < abs(f_current):
            previous, current, block = current, block, current
            f_previous, f_current, f_block = f_current, f_block, f_current
        tolerance = (xtol + rtol * abs(current)) / 2
        bisection = (block - current) / 2
        if f_current == 0 or abs(bisection) < tolerance:
            return current
        if abs(step_before) > tolerance and abs(f_current) < abs(f_previous):
            if previous == block:   # secant
                trial = -f_current * (current - previous) / (f_current - f_previous)
            else:                   # inverse quadratic interpolation
                slope_previous = (f_previous - f_current) / (previous - current)
                slope_block = (f_block - f_current) / (block - current)
                trial = (-f_current * (f_block * slope_block - f_previous * slope_previous)
                         / (slope_block * slope_previous * (f_block - f_previous)))
            if 2 * abs(trial) < min(abs(step_before), 3 * abs(bisection) - tolerance):
                step_before, step = step, trial
            else:
                step_before = step = bisection
        else:
            step_before = step = bisection
        previous, f_previous = current, f_current
        current += step if abs(step) > tolerance else (tolerance if bisection > 0 else -tolerance)
        f_current = f(current)
    raise ArithmeticError(f"Brent's method did not converge in {max_iterations} iterations")


def shrunk_lfc(fit: DeseqFit, coefficient: str, se: np.ndarray) -> np.ndarray:
    """The apeGLM-shrunk coefficient ``coefficient`` (natural log) of every gene; ``se``: its Wald SEs.

    Genes without a count keep their unshrunk value, as do genes whose MAP is not finite (warned).
    """
    index = fit.lfc.columns.get_loc(coefficient)
    unshrunk = fit.lfc.iloc[:, index].to_numpy(dtype=float)
    prior_scale = min(math.sqrt(apeglm_prior_variance(unshrunk, se)), 1.0)
    size = 1.0 / fit.dispersions
    beta, inverse_hessians, _ = apeglm_map(fit.design.to_numpy(dtype=float), fit.counts[:, fit.non_zero],
                                           size[fit.non_zero], np.log(fit.size_factors), NO_SHRINK_SCALE,
                                           prior_scale, "L-BFGS-B", index)
    values = np.asarray(beta)[:, index]
    standard_errors = np.sqrt(np.abs(inverse_hessians[:, index, index]))
    failed = ~np.isfinite(values) | ~np.isfinite(standard_errors)
    if failed.any():
        warnings.warn(f"{failed.sum()} gene(s) had NaN/infinite values during LFC shrinkage, their LFCs and "
                      "SEs were not updated.", UserWarning, stacklevel=2)
    shrunk = unshrunk.copy()
    shrunk[fit.non_zero[~failed]] = values[~failed]
    return shrunk

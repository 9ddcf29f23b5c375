"""Protein differential abundance: limma's moderated t-test (Smyth 2004).

Each protein is fitted on the samples where it was measured, as limma's ``lmFit``
(:func:`linear_model_fits`); residual variances are shrunk towards a common prior
(:mod:`trialomics.empirical_bayes`) and each coefficient tested with the moderated t
(:func:`moderated_t_test`). :func:`limma_results` makes one contrast's table, a paired contrast
fitted on within-patient differences (:func:`paired_differences`); :func:`protein_contrast` decides
whether the batch joins the design. The contrast checks, design matrix and table layout are those of
:mod:`trialomics.differential`.
"""
from __future__ import annotations

import dataclasses

import anndata as ad
import numpy as np
import pandas as pd

from .contrasts import Contrast
from .differential import (EFFECT_TYPES, GROUP_COLUMN, PAIR_COLUMN, _ordered, as_levels, check_contrast,
                           contrast_samples, design_frame, design_matrix, family_label, feature_matrix,
                           require_valid_contrast)
from .distributions import t_sf
from .empirical_bayes import squeeze_variances
from .errors import AnalysisProblem
from .multitest import benjamini_hochberg


def protein_log2_values(adata: ad.AnnData) -> pd.DataFrame:
    """The log2 protein matrix to test: samples x proteins, ``layers["log2"]`` (filtered,
    median-normalised, never batch-corrected or imputed; NaN where missing), the one matrix that
    the Cox screens, the models and the ranking read too. Each protein is fitted on the samples
    where it was measured; batch enters the design (:func:`protein_contrast`)."""
    return feature_matrix(adata, "log2" if "log2" in adata.layers else None)


def protein_contrast(contrast: Contrast, obs: pd.DataFrame, batch_in_design: bool,
                     min_per_level: int = 3) -> tuple[Contrast, str]:
    """The contrast as the proteins are tested, and a note saying how batch is handled.

    With ``batch_in_design`` (``proteins.batch_correction: combat``) and no batch term of its own,
    the sample sheet's batch joins the design when the contrast's samples come from more than one
    batch (limma's way of removing a batch effect), unless batch and the contrast's levels are
    confounded, which the note then says.
    """
    if contrast.batch:
        return contrast, f"batch in the design ({contrast.batch}, as configured)"
    if not batch_in_design or "batch" not in obs.columns:
        return contrast, "no batch term (proteins.batch_correction: none)"
    batches = set(as_levels(obs.loc[contrast_samples(obs, contrast), "batch"])) - {""}
    if len(batches) < 2:
        return contrast, "no batch term (the contrast's samples come from one batch)"
    with_batch = dataclasses.replace(contrast, batch="batch")
    if check_contrast(with_batch, obs, min_per_level):
        return contrast, ("no batch term: the batch is confounded with the contrast's levels, so its "
                          "effect cannot be separated (see results/qc/batch_association.tsv)")
    return with_batch, f"batch in the design ({len(batches)} batches)"


def _estimable_columns(design: np.ndarray, tolerance: float = 1e-7) -> list[int]:
    """Columns kept, in order, while each adds to the rank (R's ``lm.fit`` pivots aliased columns out)."""
    kept: list[int] = []
    for column in range(design.shape[1]):
        trial = design[:, kept + [column]]
        if np.linalg.matrix_rank(trial, tol=tolerance * max(1.0, np.abs(trial).max())) == len(kept) + 1:
            kept.append(column)
    return kept


def linear_model_fits(values: np.ndarray, design: np.ndarray, column: int) -> dict[str, np.ndarray]:
    """Per-feature least squares as limma's ``lmFit`` (``lm.series``): each feature on its observed
    samples, coefficients aliased there (a batch level with no observed sample) dropped, as R's
    ``lm.fit`` does.

    ``values`` is samples x features (NaN missing), ``design`` samples x coefficients. Returns, per
    feature, ``beta`` and ``unscaled`` (the unscaled standard error) of coefficient ``column`` (NaN
    when it is not estimable), ``sigma`` and ``df_residual``. Features sharing a pattern of observed
    samples are fitted together.
    """
    n_features = values.shape[1]
    out = {"beta": np.full(n_features, np.nan), "unscaled": np.full(n_features, np.nan),
           "sigma": np.full(n_features, np.nan), "df_residual": np.zeros(n_features)}
    observed = np.isfinite(values)
    patterns, group = np.unique(observed.T, axis=0, return_inverse=True)
    for index, rows in enumerate(patterns):
        features = np.flatnonzero(group.ravel() == index)
        x = design[rows]
        kept = _estimable_columns(x)
        if column not in kept:
            continue
        x = x[:, kept]
        q, r = np.linalg.qr(x)
        y = values[np.ix_(rows, features)]
        beta = np.linalg.solve(r, q.T @ y)
        df_residual = x.shape[0] - x.shape[1]
        position = kept.index(column)
        r_inverse = np.linalg.inv(r)
        out["beta"][features] = beta[position]
        out["unscaled"][features] = np.sqrt((r_inverse[position] ** 2).sum())
        out["df_residual"][features] = df_residual
        if df_residual > 0:
            residuals = y - x @ beta
            out["sigma"][features] = np.sqrt((residuals ** 2).sum(axis=0) / df_residual)
    return out


def moderated_t_test(values: pd.DataFrame, design: pd.DataFrame, coefficient: str) -> pd.DataFrame:
    """limma's moderated t-test of one coefficient, for every feature.

    ``values`` is samples x features (log2; NaN allowed: each feature is fitted on its observed
    samples, as limma's ``lmFit``, :func:`linear_model_fits`), ``design`` the samples x coefficients
    design matrix. Residual variances are shrunk towards a common prior (limma's ``squeezeVar``, in
    :mod:`trialomics.empirical_bayes`): ``s2_post = (d0 s0^2 + d s^2) / (d0 + d)``,
    ``t = beta / (sqrt(s2_post) * v)`` with ``v`` the unscaled standard error, on ``d0 + d`` degrees
    of freedom (Smyth 2004).

    Returns a DataFrame indexed by feature: effect, se, stat, pvalue, df_total, s2_prior,
    df_prior. Features without residual degrees of freedom or with a non-estimable coefficient
    get missing statistics.
    """
    fit = linear_model_fits(values.to_numpy(dtype=float), design.to_numpy(dtype=float),
                            list(design.columns).index(coefficient))
    beta, unscaled, sigma, df_residual = fit["beta"], fit["unscaled"], fit["sigma"], fit["df_residual"]
    usable = (df_residual > 0) & np.isfinite(sigma) & np.isfinite(beta) & np.isfinite(unscaled)
    if not usable.any():
        raise AnalysisProblem("no feature has residual degrees of freedom for the moderated t-test",
                              "drop covariates of this contrast or add samples: the design uses up every sample")
    s2_post = np.full(sigma.shape, np.nan)
    s2_post[usable], s2_prior, df_prior = squeeze_variances(sigma[usable] ** 2, df_residual[usable])
    df_total = np.minimum(df_residual + df_prior, df_residual[usable].sum())
    se = unscaled * np.sqrt(s2_post)
    t = np.where(usable, beta / se, np.nan)
    p = np.where(usable, 2.0 * t_sf(np.abs(t), df_total), np.nan)
    return pd.DataFrame({"effect": np.where(usable, beta, np.nan), "se": np.where(usable, se, np.nan),
                         "stat": t, "pvalue": p, "df_total": np.where(usable, df_total, np.nan),
                         "s2_prior": s2_prior, "df_prior": df_prior},
                        index=values.columns.astype(str))


def paired_differences(values: pd.DataFrame, frame: pd.DataFrame,
                       design: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A paired design's fit as within-block differences: values and design of target minus reference.

    With one sample per block at each level, the fixed-block linear model and the model of the
    differences have the same coefficient, standard error and residual degrees of freedom (the block
    terms cancel; the group coefficient becomes the intercept of the differences). Fitting the
    differences lets a protein missing in both samples of a patient simply leave that patient out,
    where the block design would become singular. Raises AnalysisProblem naming a block without
    exactly one sample at each level.
    """
    groups = frame[GROUP_COLUMN].astype(str)
    reference, target = list(frame[GROUP_COLUMN].cat.categories[:2])
    blocks = frame[PAIR_COLUMN].astype(str)
    pairs = []
    for block in sorted(set(blocks)):
        ref = frame.index[((blocks == block) & (groups == reference)).to_numpy()]
        tgt = frame.index[((blocks == block) & (groups == target)).to_numpy()]
        if len(ref) != 1 or len(tgt) != 1:
            raise AnalysisProblem(f"patient '{block}' has {len(ref)} '{reference}' and {len(tgt)} '{target}' "
                                  "sample(s); a paired contrast needs exactly one of each",
                                  "give each patient at most one sample per timepoint in samples.tsv")
        pairs.append((block, ref[0], tgt[0]))
    index = pd.Index([b for b, _, _ in pairs], name=PAIR_COLUMN)
    kept = [c for c in design.columns if not c.startswith(f"{PAIR_COLUMN}[")]
    delta = (design.loc[[t for _, _, t in pairs], kept].to_numpy()
             - design.loc[[r for _, r, _ in pairs], kept].to_numpy())
    delta_design = pd.DataFrame(delta, index=index, columns=kept)
    delta_design = delta_design.loc[:, (delta_design != 0).any(axis=0)]
    delta_values = pd.DataFrame(values.loc[[t for _, _, t in pairs]].to_numpy()
                                - values.loc[[r for _, r, _ in pairs]].to_numpy(),
                                index=index, columns=values.columns)
    return delta_values, delta_design


def limma_results(values: pd.DataFrame, obs: pd.DataFrame, contrast: Contrast,
                  min_per_level: int = 3, min_observed_per_level: int = 2) -> pd.DataFrame:
    """Moderated t-test of ``contrast`` on log2 protein abundances (samples x proteins).

    Covariates and batch enter the design; a paired design (``pair_by``) is fitted on the within-patient
    differences (:func:`paired_differences`, equivalent to the fixed patient effect). A protein observed
    in fewer than
    ``min_observed_per_level`` samples of the reference or the target group is not tested (its
    row has missing statistics and it is not counted in the BH family).
    """
    require_valid_contrast(contrast, obs, min_per_level)
    frame = design_frame(obs, contrast)
    design = design_matrix(frame)
    data = values.loc[frame.index]
    groups = frame[GROUP_COLUMN].astype(str)
    is_reference = (groups == contrast.reference).to_numpy()
    is_target = (groups == contrast.target).to_numpy()
    observed = data.notna().to_numpy()
    testable = ((observed[is_reference].sum(axis=0) >= min_observed_per_level)
                & (observed[is_target].sum(axis=0) >= min_observed_per_level))
    coefficient = f"{GROUP_COLUMN}[T.{contrast.target}]"
    result = pd.DataFrame(np.nan, index=data.columns.astype(str),
                          columns=["effect", "se", "stat", "pvalue", "df_total"])
    fit_values, fit_design = (paired_differences(data, frame, design) if contrast.pair_by
                              else (data, design))
    if testable.any():
        tested = moderated_t_test(fit_values.loc[:, testable], fit_design, coefficient)
        result.loc[tested.index, tested.columns.drop(["s2_prior", "df_prior"])] = tested
        df_prior, s2_prior = tested["df_prior"].iloc[0], tested["s2_prior"].iloc[0]
    else:
        df_prior = s2_prior = np.nan
    table = pd.DataFrame({"feature": result.index})
    for column in ("effect", "se", "stat", "pvalue"):
        table[column] = result[column].to_numpy(dtype=float)
    table["padj"] = benjamini_hochberg(table["pvalue"])
    table["mean_reference"] = data.loc[is_reference].mean(skipna=True).to_numpy(dtype=float)
    table["mean_target"] = data.loc[is_target].mean(skipna=True).to_numpy(dtype=float)
    table["n_reference"] = observed[is_reference].sum(axis=0)
    table["n_target"] = observed[is_target].sum(axis=0)
    table["df_total"] = result["df_total"].to_numpy(dtype=float)
    table["df_prior"] = df_prior
    table["s2_prior"] = s2_prior
    table["effect_type"] = EFFECT_TYPES["proteins"]
    table["family"] = family_label("proteins", contrast.id)
    return _ordered(table)

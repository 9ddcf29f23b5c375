"""Differential analysis by response: one table per modality and contrast.

A contrast (``id, variable, reference, target, covariates, batch, pair_by, samples``) compares the
``target`` level of ``variable`` with its ``reference`` level, adjusting for ``covariates`` (columns of
patients.tsv) and, when ``batch`` is set, for the modality's batch. A paired contrast (``pair_by:
patient``, typically on ``timepoint``: on-treatment vs baseline) adds the patient as a blocking factor
and keeps complete pairs; ``samples`` restricts the samples by the levels of a column. Every contrast is checked before fitting
(:func:`check_contrast`). Each modality uses the field's standard test:

- rna: DESeq2 negative-binomial GLM and Wald test (pydeseq2), optional apeGLM shrinkage;
- proteins: limma's moderated t (empirical-Bayes variance shrinkage, Smyth 2004);
- mutations, copy_number: per-gene Fisher exact test of altered vs not, target vs reference.

Benjamini–Hochberg is applied within one modality and one contrast; the ``family`` column of every
table says so.
"""
from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Iterable, Mapping

import anndata as ad
import numpy as np
import pandas as pd

from .distributions import normal_isf, t_sf
from .empirical_bayes import squeeze_variances
from .contrasts import Contrast, design_key, group_contrasts_by_design  # noqa: F401 (re-exported)
from .errors import AnalysisProblem
from .multitest import benjamini_hochberg
from .readers import read_patients
from .tables import read_tsv

LOGGER = logging.getLogger(__name__)

# What the ``effect`` column holds in each modality's table.
EFFECT_TYPES = {
    "rna": "log2 fold change, target vs reference (DESeq2 MLE; apeGLM-shrunk in effect_shrunk)",
    "proteins": "difference of mean log2 abundance, target minus reference (limma coefficient)",
    "mutations": "log odds ratio of being altered, target vs reference (0.5 added to every cell)",
    "copy_number": "log odds ratio of the gain or loss, target vs reference (0.5 added to every cell)",
}
# Internal column names used in design formulas, so that any covariate name works in a formula.
GROUP_COLUMN = "group"
BATCH_COLUMN = "batch_block"
PAIR_COLUMN = "pair_block"
#: ``pair_by`` value -> the obs column whose levels are the blocks of a paired design.
PAIR_COLUMNS = {"patient": "patient_id"}


def family_label(modality: str, contrast_id: str, note: str = "") -> str:
    """The multiple-testing family of one table, written in its ``family`` column."""
    text = f"Benjamini-Hochberg within {modality} x {contrast_id}"
    return f"{text} ({note})" if note else text


# --------------------------------------------------------------------------------------------
# Contrast checking and design


def _missing(values: pd.Series) -> pd.Series:
    text = values.astype(str).str.strip()
    return values.isna() | text.isin(["", "nan", "NaN", "NA", "None"])


def as_levels(values: pd.Series) -> pd.Series:
    """Labels as strings (``""`` when missing); integral numbers lose their ``.0`` (1.0 -> "1")."""
    def text(value) -> str:
        if isinstance(value, (float, np.floating)) and np.isfinite(value) and float(value).is_integer():
            return str(int(value))
        return str(value).strip()

    out = pd.Series([text(v) for v in values], index=values.index, dtype=object)
    out[_missing(values)] = ""
    return out


def _is_numeric(values: pd.Series) -> bool:
    present = values[~_missing(values)]
    return len(present) > 0 and pd.to_numeric(present, errors="coerce").notna().all()


def contrast_samples(obs: pd.DataFrame, contrast: Contrast) -> pd.Index:
    """Samples usable for the contrast: in its ``samples`` subset, with the variable and every
    adjustment term known, and, in a paired design, of a block (patient) with samples at both the
    reference and the target level (a block seen at one level only adds nothing to the paired
    comparison)."""
    columns = [contrast.variable, *contrast.covariates] + ([contrast.batch] if contrast.batch else [])
    keep = pd.Series(True, index=obs.index)
    for column in columns:
        if column in obs.columns:
            keep &= ~_missing(obs[column])
    for column, levels in contrast.samples:
        if column in obs.columns:
            keep &= as_levels(obs[column]).isin(levels)
    pair_column = PAIR_COLUMNS.get(contrast.pair_by)
    if pair_column in obs.columns and contrast.variable in obs.columns:
        levels = as_levels(obs[contrast.variable])
        blocks = obs[pair_column].astype(str)
        at = {level: set(blocks[keep & (levels == level)]) for level in (contrast.reference, contrast.target)}
        keep &= blocks.isin(at[contrast.reference] & at[contrast.target])
    return obs.index[keep.to_numpy()]


def design_frame(obs: pd.DataFrame, contrast: Contrast) -> pd.DataFrame:
    """Model data for the contrast's samples, with internal column names.

    ``group`` is categorical with the reference level first (so that the fitted coefficient is
    target vs reference); numeric covariates are floats, other covariates categorical (levels
    sorted), the batch (``batch_block``) and a paired design's blocks (``pair_block``)
    categorical. Columns are named ``group``,
    ``covariate_1``... so that any covariate name is safe in a design formula.
    """
    samples = contrast_samples(obs, contrast)
    sub = obs.loc[samples]
    frame = pd.DataFrame(index=samples)
    levels = as_levels(sub[contrast.variable])
    others = sorted(set(levels) - {contrast.reference, contrast.target})
    categories = [contrast.reference, contrast.target, *others]
    frame[GROUP_COLUMN] = pd.Categorical(levels, categories=[c for c in categories
                                                              if c in set(levels)] or categories)
    for index, covariate in enumerate(contrast.covariates, start=1):
        values = sub[covariate]
        if _is_numeric(values):
            frame[f"covariate_{index}"] = pd.to_numeric(values).astype(float)
        else:
            text = as_levels(values)
            frame[f"covariate_{index}"] = pd.Categorical(text, categories=sorted(set(text)))
    if contrast.batch:
        text = as_levels(sub[contrast.batch])
        frame[BATCH_COLUMN] = pd.Categorical(text, categories=sorted(set(text)))
    if contrast.pair_by:
        # A fixed effect per block: each patient is their own control (DESeq2's ``~ patient + condition``;
        # for limma the fixed-block alternative to duplicateCorrelation, exact with complete pairs).
        text = as_levels(sub[PAIR_COLUMNS[contrast.pair_by]])
        frame[PAIR_COLUMN] = pd.Categorical(text, categories=sorted(set(text)))
    return frame


def design_matrix(frame: pd.DataFrame) -> pd.DataFrame:
    """Treatment-coded design matrix (intercept, then one column per non-reference level)."""
    parts = [pd.Series(1.0, index=frame.index, name="Intercept")]
    for column in frame.columns:
        values = frame[column]
        if isinstance(values.dtype, pd.CategoricalDtype):
            for level in values.cat.categories[1:]:
                parts.append(pd.Series((values == level).astype(float), name=f"{column}[T.{level}]"))
        else:
            parts.append(values.astype(float).rename(column))
    return pd.concat(parts, axis=1)


def _confounded_terms(matrix: pd.DataFrame) -> list[str]:
    """Columns that are linear combinations of the other columns (rank unchanged without them)."""
    full_rank = np.linalg.matrix_rank(matrix.to_numpy())
    return [column for column in matrix.columns
            if np.linalg.matrix_rank(matrix.drop(columns=column).to_numpy()) == full_rank]


def check_contrast(contrast: Contrast, obs: pd.DataFrame, min_per_level: int = 3) -> list[str]:
    """Problems that prevent fitting ``contrast`` on samples ``obs`` (empty list: fit it).

    Checks that the variable, covariates and batch column exist, that reference and target differ
    and each has at least ``min_per_level`` patients with data, and that the design has full rank
    with residual degrees of freedom. Every message names the contrast.
    """
    name = f"contrast '{contrast.id}'"
    problems = []
    if contrast.reference == contrast.target:
        problems.append(f"{name}: reference and target are the same level '{contrast.target}'")
    if contrast.variable not in obs.columns:
        problems.append(f"{name}: variable '{contrast.variable}' is neither a derived label nor a "
                        "column of patients.tsv")
    for covariate in contrast.covariates:
        if covariate not in obs.columns:
            problems.append(f"{name}: covariate '{covariate}' is not a column of patients.tsv")
        elif covariate == contrast.variable:
            problems.append(f"{name}: covariate '{covariate}' is the contrast variable itself")
    if contrast.batch and contrast.batch not in obs.columns:
        problems.append(f"{name}: batch column '{contrast.batch}' does not exist")
    if contrast.pair_by and PAIR_COLUMNS.get(contrast.pair_by) not in obs.columns:
        problems.append(f"{name}: pair_by '{contrast.pair_by}' is not one of "
                        f"{', '.join(PAIR_COLUMNS)} (or its column is missing)")
    for column, _ in contrast.samples:
        if column not in obs.columns:
            problems.append(f"{name}: samples subset column '{column}' is neither a column of the "
                            "sample sheet nor of patients.tsv")
    if problems:
        return problems

    frame = design_frame(obs, contrast)
    if "patient_id" in obs.columns:
        patients = obs.loc[frame.index, "patient_id"].astype(str)
    else:
        patients = pd.Series(frame.index, index=frame.index)
    for level in (contrast.reference, contrast.target):
        n = patients[(frame[GROUP_COLUMN] == level).to_numpy()].nunique()
        if n < min_per_level:
            problems.append(f"{name}: level '{level}' of '{contrast.variable}' has {n} patient(s) "
                            f"with data; at least {min_per_level} are needed")
    if problems:
        return problems

    matrix = design_matrix(frame)
    rank = np.linalg.matrix_rank(matrix.to_numpy())
    if rank < matrix.shape[1]:
        names = {GROUP_COLUMN: contrast.variable, BATCH_COLUMN: f"batch ({contrast.batch})",
                 PAIR_COLUMN: f"{contrast.pair_by} (pair_by)"}
        names.update({f"covariate_{i}": c for i, c in enumerate(contrast.covariates, start=1)})

        def readable(column: str) -> str:
            base, _, level = column.partition("[T.")
            return names.get(base, base) + (f" = {level.rstrip(']')}" if level else "")

        confounded = ", ".join(readable(c) for c in _confounded_terms(matrix) if c != "Intercept")
        hint = (" (a paired design already absorbs everything constant within a patient, such as "
                "patients.tsv covariates and response labels)" if contrast.pair_by else "")
        problems.append(f"{name}: the design is not full rank (rank {rank} < {matrix.shape[1]} "
                        f"columns); these terms are confounded: {confounded}. Remove a covariate "
                        f"or the batch term{hint}")
    elif matrix.shape[0] <= matrix.shape[1]:
        problems.append(f"{name}: {matrix.shape[0]} samples for {matrix.shape[1]} model "
                        "coefficients leave no residual degrees of freedom")
    return problems


def require_valid_contrast(contrast: Contrast, obs: pd.DataFrame, min_per_level: int = 3) -> None:
    """Raise AnalysisProblem listing every problem of :func:`check_contrast`, if any."""
    problems = check_contrast(contrast, obs, min_per_level)
    if problems:
        raise AnalysisProblem("cannot fit " + "; ".join(problems),
                              f"remove contrast '{contrast.id}' or its covariates from the config, or lower "
                              "differential.min_patients_per_level")


def _group_sizes(obs: pd.DataFrame, frame: pd.DataFrame, contrast: Contrast) -> tuple[int, int]:
    groups = frame[GROUP_COLUMN]
    return int((groups == contrast.reference).sum()), int((groups == contrast.target).sum())


def log_excluded(obs: pd.DataFrame, contrast: Contrast, logger: logging.Logger = LOGGER) -> None:
    """Log how many samples the contrast leaves out because a term is missing."""
    kept = contrast_samples(obs, contrast) if contrast.variable in obs.columns else obs.index
    dropped = len(obs) - len(kept)
    if dropped:
        logger.info("contrast %s: %d of %d sample(s) excluded (variable, covariate or batch "
                    "missing)", contrast.id, dropped, len(obs))


def _ordered(table: pd.DataFrame) -> pd.DataFrame:
    """Rows by p-value (missing last), then feature: a stable order for byte-identical outputs."""
    order = np.lexsort((table["feature"].astype(str).to_numpy(),
                        np.nan_to_num(table["pvalue"].to_numpy(dtype=float), nan=2.0)))
    return table.iloc[order].reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# RNA: DESeq2


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


# --------------------------------------------------------------------------------------------
# Proteins: limma moderated t


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


# --------------------------------------------------------------------------------------------
# Mutations and copy number: exact tests


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


def baseline_patient_samples(adata: ad.AnnData, labels: pd.DataFrame, patients: pd.DataFrame) -> ad.AnnData:
    """Baseline samples, one per patient, with labels and covariates in obs."""
    from .cohort import label_samples, one_sample_per_patient

    return one_sample_per_patient(label_samples(adata, labels, patients))


def read_baseline_patient_samples(adata_path, labels_path, patients_path) -> ad.AnnData:
    """:func:`baseline_patient_samples` of a normalised modality (``.h5ad``), ``clinical/labels.tsv`` and
    the patients table, read from their paths (the preamble every differential and enrichment rule shares)."""
    return baseline_patient_samples(ad.read_h5ad(adata_path), read_tsv(labels_path), read_patients(patients_path))


def read_contrast_samples(adata_path, labels_path, patients_path, contrast: Contrast) -> ad.AnnData:
    """The samples a contrast is fitted on, with labels and covariates in obs.

    A contrast on or selecting by ``timepoint`` (:attr:`Contrast.uses_timepoints`) gets every sample
    of the modality (its ``samples`` subset and, when paired, complete pairs are kept by
    :func:`contrast_samples`); any other contrast the baseline samples, one per patient
    (:func:`read_baseline_patient_samples`).
    """
    if not contrast.uses_timepoints:
        return read_baseline_patient_samples(adata_path, labels_path, patients_path)
    from .cohort import label_samples

    return label_samples(ad.read_h5ad(adata_path), read_tsv(labels_path), read_patients(patients_path))


def feature_matrix(adata: ad.AnnData, layer: str | None = None) -> pd.DataFrame:
    """Samples x features DataFrame of ``X`` or of a layer."""
    values = adata.X if layer is None else adata.layers[layer]
    values = values.toarray() if hasattr(values, "toarray") else np.asarray(values)
    return pd.DataFrame(values, index=adata.obs_names.astype(str), columns=adata.var_names.astype(str))


def top_features(table: pd.DataFrame, n: int) -> list[str]:
    """The ``n`` features with the smallest p-values (ties broken by feature name)."""
    tested = table[table["pvalue"].notna()]
    return list(_ordered(tested)["feature"].head(n))


def contrasts_from_config(entries: Iterable[Mapping]) -> list[Contrast]:
    """Every ``contrasts:`` entry of config.yaml as a :class:`Contrast`."""
    return [Contrast.from_config(entry) for entry in entries]

"""Differential analysis by response: one table per modality and contrast.

A contrast (``id, variable, reference, target, covariates, batch, pair_by, samples``) compares the
``target`` level of ``variable`` with its ``reference`` level, adjusting for ``covariates`` (columns of
patients.tsv) and, when ``batch`` is set, for the modality's batch. A paired contrast (``pair_by:
patient``, typically on ``timepoint``: on-treatment vs baseline) adds the patient as a blocking factor
and keeps complete pairs; ``samples`` restricts the samples by the levels of a column. Every contrast
is checked before fitting (:func:`check_contrast`). Each modality uses the field's standard test, in a
module of its own:

- rna: DESeq2 negative-binomial GLM and Wald test (pydeseq2), optional apeGLM shrinkage
  (:mod:`trialomics.differential_rna`);
- proteins: limma's moderated t (empirical-Bayes variance shrinkage, Smyth 2004)
  (:mod:`trialomics.differential_proteins`);
- mutations, copy_number: per-gene Fisher exact test of altered vs not, target vs reference, and the
  tumour mutational burden comparison (:mod:`trialomics.differential_alterations`).

This module holds what every modality shares: the contrast's samples, design frame and design matrix
and their checks, the ``effect_type`` and ``family`` columns and the row order of every table, and the
reading of a modality's samples and features.

Benjamini–Hochberg is applied within one modality and one contrast; the ``family`` column of every
table says so.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

import anndata as ad
import numpy as np
import pandas as pd

from .contrasts import Contrast, design_key, group_contrasts_by_design  # noqa: F401 (re-exported)
from .errors import AnalysisProblem
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
# Reading a modality's samples; features and contrasts


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

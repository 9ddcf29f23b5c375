"""Gene-level copy number: discrete calls from log2 copy ratios, and the per-modality AnnData.

Calls follow GISTIC's thresholded convention: -2 deep (homozygous) deletion, -1 loss, 0 neutral,
1 gain, 2 amplification. Missing values stay missing: calls are pandas nullable ``Int64`` in tables
and ``NaN`` in the float AnnData layers (h5ad layers have no integer NA).
"""
from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd

from .cohort import sample_obs

SCALES = ("log2_ratio", "calls")
CALL_LEVELS = (-2, -1, 0, 1, 2)
# var column per call level, so the counts always partition the samples (with n_missing).
CALL_COUNT_COLUMNS = {2: "n_amplified", 1: "n_gain", 0: "n_neutral", -1: "n_loss",
                      -2: "n_deep_deleted"}


def _check_scale(scale: str) -> None:
    if scale not in SCALES:
        raise ValueError(f"copy number scale must be one of {', '.join(SCALES)}, got {scale!r}")


def _check_thresholds(deep_deletion_threshold: float, loss_threshold: float, gain_threshold: float,
                      amplification_threshold: float) -> None:
    ordered = (deep_deletion_threshold, loss_threshold, gain_threshold, amplification_threshold)
    if not all(a < b for a, b in zip(ordered, ordered[1:])):
        raise ValueError(
            "copy number thresholds must satisfy deep_deletion < loss < gain < amplification, got "
            f"{deep_deletion_threshold}, {loss_threshold}, {gain_threshold}, {amplification_threshold}"
        )


def _as_float(values: pd.DataFrame) -> pd.DataFrame:
    try:
        return values.astype(float)
    except (TypeError, ValueError) as error:
        raise ValueError(f"copy number values must be numeric: {error}") from None


def call_copy_number(values: pd.DataFrame, scale: str, gain_threshold: float = 0.3,
                     amplification_threshold: float = 1.0, loss_threshold: float = -0.3,
                     deep_deletion_threshold: float = -1.0) -> pd.DataFrame:
    """Discrete calls -2..2 (nullable ``Int64``) for a genes x samples table.

    For ``scale="log2_ratio"`` the thresholds are inclusive towards the extremes:
    value >= amplification -> 2; gain <= value < amplification -> 1; loss < value < gain -> 0;
    deep_deletion < value <= loss -> -1; value <= deep_deletion -> -2. For ``scale="calls"`` the
    values must already be integers in -2..2 (ValueError naming an offending gene and sample
    otherwise) and are returned as they are. NaN stays missing in both cases.
    """
    _check_scale(scale)
    numeric = _as_float(values)
    array = numeric.to_numpy()
    missing = np.isnan(array)
    if scale == "calls":
        invalid = ~missing & ~np.isin(array, CALL_LEVELS)
        if invalid.any():
            row, column = (int(i[0]) for i in np.nonzero(invalid))
            raise ValueError(
                f"copy number calls must be integers -2..2; found {array[row, column]!r} for gene "
                f"{numeric.index[row]!r} in sample {numeric.columns[column]!r} "
                f"({int(invalid.sum())} invalid value(s)); set copy_number.values: log2_ratio if the "
                "table holds log2 copy ratios"
            )
        calls = array
    else:
        _check_thresholds(deep_deletion_threshold, loss_threshold, gain_threshold,
                          amplification_threshold)
        calls = np.select(
            [array >= amplification_threshold, array >= gain_threshold,
             array <= deep_deletion_threshold, array <= loss_threshold],
            [2.0, 1.0, -2.0, -1.0],
            default=0.0,
        )
        calls[missing] = np.nan
    return pd.DataFrame(calls, index=numeric.index, columns=numeric.columns).astype("Int64")


def normalise_copy_number(values: pd.DataFrame, sample_meta: pd.DataFrame, scale: str,
                          gain_threshold: float = 0.3, amplification_threshold: float = 1.0,
                          loss_threshold: float = -0.3,
                          deep_deletion_threshold: float = -1.0) -> ad.AnnData:
    """Copy number AnnData: obs = samples (sorted), var = genes (sorted).

    ``X`` holds the continuous values (log2 ratios, or the calls as float for ``scale="calls"``),
    ``layers["raw"]`` the values as read, ``layers["calls"]`` the calls -2..2 as float (NaN
    missing). var counts the samples at each level (n_amplified, n_gain, n_neutral, n_loss,
    n_deep_deleted) and n_missing; uns["params"] records the scale and, for log2 ratios, the
    thresholds of :func:`call_copy_number`.
    """
    if values.index.has_duplicates:
        duplicated = sorted(values.index[values.index.duplicated()].astype(str).unique())
        raise ValueError(f"copy number table lists gene {duplicated[0]!r} more than once "
                         f"({len(duplicated)} duplicated gene(s)); keep one row per gene")
    if values.columns.has_duplicates:
        raise ValueError("copy number table has duplicated sample columns")
    numeric = _as_float(values)
    numeric.index = numeric.index.astype(str)
    numeric.columns = numeric.columns.astype(str)
    numeric = numeric.sort_index(axis=0).sort_index(axis=1)
    calls = call_copy_number(numeric, scale, gain_threshold=gain_threshold,
                             amplification_threshold=amplification_threshold,
                             loss_threshold=loss_threshold,
                             deep_deletion_threshold=deep_deletion_threshold)
    calls_float = calls.astype("float64").to_numpy().T
    obs = sample_obs(numeric.columns, sample_meta)
    var = pd.DataFrame(index=pd.Index(numeric.index, name="gene"))
    for level, column in sorted(CALL_COUNT_COLUMNS.items(), reverse=True):
        var[column] = (calls_float == level).sum(axis=0).astype(np.int64)
    var["n_missing"] = np.isnan(calls_float).sum(axis=0).astype(np.int64)

    params: dict = {"scale": scale}
    if scale == "log2_ratio":
        params["thresholds"] = {
            "amplification": float(amplification_threshold),
            "gain": float(gain_threshold),
            "loss": float(loss_threshold),
            "deep_deletion": float(deep_deletion_threshold),
        }
    raw = numeric.to_numpy(dtype=np.float64).T
    return ad.AnnData(X=raw.copy(), obs=obs, var=var, layers={"raw": raw, "calls": calls_float},
                      uns={"params": params})


def calls_table(adata: ad.AnnData) -> pd.DataFrame:
    """Genes x samples calls for ``copy_number/calls.tsv``: a ``gene`` column, then one per sample.

    Missing calls are ``<NA>`` (written as empty cells by ``tables.write_tsv``).
    """
    calls = pd.DataFrame(adata.layers["calls"].T, index=adata.var_names.astype(str),
                         columns=adata.obs_names.astype(str)).astype("Int64")
    return calls.rename_axis("gene").rename_axis(None, axis=1).reset_index()

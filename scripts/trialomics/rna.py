"""RNA-seq read counts: one count matrix, low-count filtering, size factors and the VST.

The normalised AnnData follows DESeq2's conventions: median-of-ratios size factors, and a blind
variance-stabilising transformation (``vst(blind=TRUE)`` in R; an intercept-only fit here) computed
with pydeseq2. ``layers["raw"]`` keeps the integer counts of the genes that pass the filter, so that
differential testing can refit its own model on them.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping

import anndata as ad
import numpy as np
import pandas as pd

from .cohort import sample_obs

logger = logging.getLogger(__name__)

def build_count_matrix(counts: Mapping[str, pd.Series]) -> pd.DataFrame:
    """Assemble per-sample counts into one genes x samples int64 matrix.

    Genes and samples are sorted by name. Every sample must hold the same genes: a gene present in
    some samples and absent from others means the samples were quantified against different
    annotations, and their counts are not comparable, so this raises ValueError naming the samples
    and an example gene rather than filling zeros.
    """
    if not counts:
        raise ValueError("no RNA samples were given")
    problems = []
    for sample_id, series in counts.items():
        if series.index.has_duplicates:
            duplicated = sorted(series.index[series.index.duplicated()].astype(str).unique())
            problems.append(f"sample {sample_id} lists gene {duplicated[0]!r} more than once "
                            f"({len(duplicated)} duplicated gene(s))")
        values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
        if np.isnan(values).any():
            problems.append(f"sample {sample_id} has missing or non-numeric counts "
                            f"(e.g. gene {series.index[np.isnan(values)][0]!r})")
        elif ((values < 0) | (values != np.round(values))).any():
            bad = series.index[(values < 0) | (values != np.round(values))][0]
            problems.append(f"sample {sample_id} has counts that are not non-negative integers "
                            f"(e.g. gene {bad!r})")
    if problems:
        raise ValueError("RNA counts are not usable: " + "; ".join(problems))

    all_genes = sorted(set().union(*(set(s.index.astype(str)) for s in counts.values())))
    lacking = {}
    for sample_id, series in counts.items():
        missing = set(all_genes) - set(series.index.astype(str))
        if missing:
            lacking[str(sample_id)] = sorted(missing)
    if lacking:
        details = "; ".join(f"{sample} lacks {len(genes)} gene(s), e.g. {genes[0]!r}"
                            for sample, genes in sorted(lacking.items()))
        raise ValueError(
            "RNA samples do not share one gene annotation: " + details + ". Counts from different "
            "annotations are not comparable; quantify every sample against the same annotation (GTF)"
        )

    samples = sorted(str(s) for s in counts)
    by_name = {str(k): v for k, v in counts.items()}
    matrix = pd.DataFrame(
        {s: by_name[s].set_axis(by_name[s].index.astype(str)).reindex(all_genes) for s in samples}
    ).astype(np.int64)
    matrix.index.name = "gene"
    matrix.columns.name = "sample_id"
    return matrix


def _effective_min_samples(n_samples: int, min_samples: int) -> int:
    # A cohort smaller than min_samples asks for the gene in every sample instead of in none.
    return min(int(min_samples), int(n_samples))


def _check_filter_parameters(min_count: int, min_samples: int) -> None:
    if min_count < 0:
        raise ValueError(f"min_count must be >= 0, got {min_count}")
    if min_samples < 1:
        raise ValueError(f"min_samples must be >= 1, got {min_samples}")


def low_count_filter_table(counts: pd.DataFrame, min_count: int, min_samples: int) -> pd.DataFrame:
    """Per gene: total_count, n_samples_at_min_count (samples with >= min_count reads) and kept.

    ``kept`` is ``"yes"`` when the gene reaches ``min_count`` reads in at least ``min_samples``
    samples (or in every sample, when the cohort has fewer than ``min_samples``). One row per
    gene of ``counts`` (genes x samples), in its order: the table behind ``rna/filtering.tsv``.
    """
    _check_filter_parameters(min_count, min_samples)
    needed = _effective_min_samples(counts.shape[1], min_samples)
    n_at_min = (counts >= min_count).sum(axis=1).astype(np.int64)
    return pd.DataFrame({
        "gene": counts.index.astype(str),
        "total_count": counts.sum(axis=1).astype(np.int64).to_numpy(),
        "n_samples_at_min_count": n_at_min.to_numpy(),
        "kept": np.where(n_at_min.to_numpy() >= needed, "yes", "no"),
    })


def filter_low_counts(counts: pd.DataFrame, min_count: int, min_samples: int) -> pd.DataFrame:
    """Keep genes with at least ``min_count`` reads in at least ``min_samples`` samples.

    The count-per-sample rule used by edgeR's ``filterByExpr`` and nf-core's abundance filter,
    applied to raw counts so it does not depend on normalisation. ``min_samples`` is capped at the
    number of samples. Both bounds are inclusive.
    """
    table = low_count_filter_table(counts, min_count, min_samples)
    return counts.loc[(table["kept"] == "yes").to_numpy()]


def low_count_filter_summary(counts: pd.DataFrame, min_count: int, min_samples: int) -> dict:
    """Return the filter's parameters and outcome as a flat dict (h5ad- and TSV-friendly).

    Keys: min_count, min_samples, min_samples_effective, n_samples, genes_before, genes_kept,
    genes_removed.
    """
    table = low_count_filter_table(counts, min_count, min_samples)
    kept = int((table["kept"] == "yes").sum())
    return {
        "min_count": int(min_count),
        "min_samples": int(min_samples),
        "min_samples_effective": _effective_min_samples(counts.shape[1], min_samples),
        "n_samples": int(counts.shape[1]),
        "genes_before": int(len(table)),
        "genes_kept": kept,
        "genes_removed": int(len(table) - kept),
    }


def median_of_ratios_size_factors(counts: pd.DataFrame) -> pd.Series:
    """DESeq2's median-of-ratios size factors of a genes x samples count matrix.

    Each gene's reference is the geometric mean of its counts over samples, computed only for genes
    with no zero count; a sample's size factor is the median over those genes of count / reference.
    Raises ValueError when every gene has a zero somewhere (DESeq2 then needs ``poscounts``).
    """
    values = counts.to_numpy(dtype=float)
    usable = (values > 0).all(axis=1)
    if not usable.any():
        raise ValueError(
            "every gene has a zero count in at least one sample, so the median-of-ratios size "
            "factors are undefined; check for empty or failed libraries"
        )
    log_counts = np.log(values[usable])
    log_reference = log_counts.mean(axis=1, keepdims=True)
    factors = np.exp(np.median(log_counts - log_reference, axis=0))
    return pd.Series(factors, index=pd.Index(counts.columns.astype(str), name="sample_id"),
                     name="size_factor")


def normalise_rna(counts: pd.DataFrame, sample_meta: pd.DataFrame, min_count: int = 10,
                  min_samples: int = 3, n_cpus: int = 1) -> ad.AnnData:
    """Filter low counts, fit size factors and apply DESeq2's blind VST (pydeseq2).

    Parameters
    ----------
    counts
        Raw integer counts, genes x samples (from :func:`build_count_matrix`).
    sample_meta
        Indexed by sample_id with patient_id, batch and timepoint.
    min_count, min_samples
        Low-count filter (:func:`filter_low_counts`).
    n_cpus
        Processes pydeseq2 may use for the per-gene dispersion fits.

    Returns
    -------
    AnnData
        obs = samples (sorted) with patient_id, batch, timepoint, library_size (reads over all genes
        before filtering) and size_factor; var = kept genes (sorted) with mean_count and base_mean
        (mean normalised count, DESeq2's baseMean); ``layers["raw"]`` the kept integer counts;
        ``layers["normalised_counts"]`` counts / size factor; ``X`` the VST (log2 scale);
        ``uns["params"]`` the parameters, ``uns["filtering"]`` the filter's outcome.
    """
    from pydeseq2 import __version__ as pydeseq2_version
    from .deseq_inference import VectorisedDeseqDataSet, VectorisedInference

    counts = counts.sort_index(axis=0).sort_index(axis=1)
    obs = sample_obs(counts.columns, sample_meta)
    if counts.shape[1] < 2:
        raise ValueError(f"the VST needs at least 2 RNA samples, got {counts.shape[1]}")
    filtering = low_count_filter_summary(counts, min_count, min_samples)
    kept = filter_low_counts(counts, min_count, min_samples)
    if kept.empty:
        raise ValueError(
            f"no gene has >= {min_count} reads in >= {filtering['min_samples_effective']} samples; "
            "lower rna.min_count / rna.min_samples or check the count files"
        )
    logger.info("low-count filter kept %d of %d genes (>= %d reads in >= %d samples)",
                filtering["genes_kept"], filtering["genes_before"], min_count,
                filtering["min_samples_effective"])
    # Checked here so the error names the problem; pydeseq2 would silently switch estimators.
    median_of_ratios_size_factors(kept)

    samples_by_genes = kept.T.astype(np.int64)
    dds = VectorisedDeseqDataSet(counts=samples_by_genes,
                                 metadata=pd.DataFrame(index=samples_by_genes.index), design="~1",
                                 size_factors_fit_type="ratio", fit_type="parametric", quiet=True,
                                 inference=VectorisedInference(n_cpus=n_cpus))
    dds.fit_size_factors()
    # use_design=False fits dispersions with an intercept only: DESeq2's vst(blind = TRUE).
    dds.vst(use_design=False)
    size_factors = np.asarray(dds.obs["size_factors"], dtype=float)
    normalised = samples_by_genes.to_numpy(dtype=float) / size_factors[:, None]
    params = {
        "min_count": int(min_count),
        "min_samples": int(min_samples),
        "size_factor_method": "median_of_ratios",
        "transformation": "vst",
        "vst_blind": True,
        "vst_fit_type": str(dds.vst_fit_type),
        "pydeseq2_version": str(pydeseq2_version),
    }
    if dds.vst_fit_type == "parametric":
        a0, a1 = (float(c) for c in dds.uns["vst_trend_coeffs"])
        params["vst_dispersion_trend"] = {"asymptotic_dispersion": a0, "extra_poisson": a1}
    else:
        logger.warning("parametric dispersion trend did not converge; the VST used the mean "
                       "dispersion (DESeq2 fitType='mean')")
    logger.info("VST fitted with the %s dispersion trend", dds.vst_fit_type)

    obs["library_size"] = counts.sum(axis=0).astype(np.int64).to_numpy()
    obs["size_factor"] = size_factors
    var = pd.DataFrame(
        {"mean_count": kept.mean(axis=1).to_numpy(), "base_mean": normalised.mean(axis=0)},
        index=pd.Index(kept.index.astype(str), name="gene"),
    )
    return ad.AnnData(
        X=np.asarray(dds.layers["vst_counts"], dtype=np.float64),
        obs=obs,
        var=var,
        layers={"raw": samples_by_genes.to_numpy(dtype=np.int64), "normalised_counts": normalised},
        uns={"params": params, "filtering": filtering},
    )


def size_factor_table(adata: ad.AnnData) -> pd.DataFrame:
    """One row per sample: sample_id, patient_id, library_size, size_factor (``rna/size_factors.tsv``)."""
    return pd.DataFrame({
        "sample_id": adata.obs_names.astype(str),
        "patient_id": adata.obs["patient_id"].astype(str).to_numpy(),
        "library_size": adata.obs["library_size"].to_numpy(),
        "size_factor": adata.obs["size_factor"].to_numpy(dtype=float),
    })

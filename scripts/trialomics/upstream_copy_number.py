"""Gene-level copy number as GISTIC2 and CNVkit write it.

GISTIC2's ``all_thresholded.by_genes.txt`` (calls -2..2) and ``all_data_by_genes.txt`` (continuous
values centred on 0) open with three annotation columns, ``Gene Symbol``, ``Locus ID`` and
``Cytoband``, then one column per sample. CNVkit writes one file per sample: bins (``.cnr``),
segments (``.cns``, ``.call.cns``) or a ``genemetrics`` table, each with a ``gene`` column that may
hold a comma-joined list of genes, ``-`` for bins in no gene and ``Antitarget`` (``Background`` in old
versions) for off-target bins.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from trialomics.errors import InputProblem
from trialomics.upstream import (
    CNVKIT_BINS,
    CNVKIT_GENEMETRICS,
    CNVKIT_SEGMENTS,
    GISTIC_DATA,
    GISTIC_THRESHOLDED,
    parse_numbers,
    read_delimited,
    require_columns,
    select_sample,
    wrong_modality,
)

GISTIC_ANNOTATION = ("Gene Symbol", "Locus ID", "Cytoband")
#: CNVkit ``gene`` labels that name no gene.
CNVKIT_NOT_GENES = frozenset({"", "-", "Antitarget", "Background"})
# CNVkit names its outputs <sample>.cnr, <sample>.cns, <sample>.call.cns; genemetrics writes where
# it is told, commonly <sample>.genemetrics.tsv.
_CNVKIT_SUFFIXES = (".call.cns", ".cns", ".cnr", ".genemetrics.tsv", ".genemetrics.txt",
                    ".genemetrics", ".tsv", ".txt")
_CALLS = (-2.0, -1.0, 0.0, 1.0, 2.0)


def read_copy_number(path: str | os.PathLike, file_format: str, column: str | None = None) -> pd.DataFrame:
    """Genes x samples from a GISTIC2 or CNVkit file (float; NaN when missing).

    GISTIC2 files give every sample column; a CNVkit file gives one column named after the file
    (``P01.call.cns`` -> ``P01``). With ``column``, only that sample.
    """
    path = Path(path)
    if file_format in (GISTIC_THRESHOLDED, GISTIC_DATA):
        matrix = read_gistic(path, file_format)
    elif file_format in (CNVKIT_BINS, CNVKIT_SEGMENTS, CNVKIT_GENEMETRICS):
        matrix = read_cnvkit(path).to_frame(cnvkit_sample_name(path))
    else:
        raise wrong_modality(path, file_format, "copy_number")
    return select_sample(path, matrix, column)


def read_gistic(path: Path, file_format: str) -> pd.DataFrame:
    """GISTIC2 gene-level values, indexed by ``Gene Symbol``; the annotation columns are dropped.

    In a thresholded file every value must be a call, -2, -1, 0, 1 or 2.
    """
    cells = read_delimited(path)
    samples = [name for name in cells.columns if name not in GISTIC_ANNOTATION]
    if not samples:
        raise InputProblem(path, "the header names no sample column after Gene Symbol, Locus ID and "
                                 "Cytoband", row=1, fix="give the GISTIC2 table as GISTIC2 wrote it")
    genes = cells["Gene Symbol"]
    _check_unique(path, genes, "Gene Symbol")
    values = parse_numbers(path, cells[samples])
    if file_format == GISTIC_THRESHOLDED:
        bad = values.notna() & ~values.isin(_CALLS)
        if bad.to_numpy().any():
            rows, columns = np.nonzero(bad.to_numpy())
            line, sample = values.index[rows[0]], values.columns[columns[0]]
            raise InputProblem(path, f"'{cells.at[line, sample]}' is not a GISTIC2 call (-2, -1, 0, 1 or 2)",
                               row=int(line), column=str(sample),
                               fix="give all_thresholded.by_genes.txt as GISTIC2 wrote it")
    values.index = pd.Index(genes.to_numpy(), name="feature", dtype=object)
    values.columns = pd.Index(samples, dtype=object)
    return values


def _check_unique(path: Path, genes: pd.Series, column: str) -> None:
    empty = genes == ""
    if empty.any():
        raise InputProblem(path, "the gene is empty", row=int(empty.idxmax()), column=column,
                           fix="give every row a gene")
    duplicated = genes.duplicated()
    if duplicated.any():
        line = duplicated.idxmax()
        first = genes.index[genes == genes[line]][0]
        raise InputProblem(path, f"gene '{genes[line]}' appears more than once (lines {first} and {line})",
                           row=int(line), column=column, fix="keep one row per gene")


def cnvkit_sample_name(path: Path) -> str:
    """The sample a CNVkit file belongs to, from its name: ``P01.call.cns`` -> ``P01``."""
    name = path.name
    for suffix in _CNVKIT_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def read_cnvkit(path: Path) -> pd.Series:
    """Per-gene log2 copy ratio from a CNVkit ``.cnr``, ``.cns``/``.call.cns`` or genemetrics file.

    Each row counts for every gene of its (comma-joined) ``gene`` list; rows naming no gene
    (``-``, ``Antitarget``, ``Background``) are dropped. A gene's value is the mean of its rows'
    ``log2`` weighted by CNVkit's ``weight`` column (bin reliability; all rows equal when the file
    has no ``weight`` or a gene's weights are all 0) — for bins this is the weighted mean that
    CNVkit's own segment means use, for segments it weights each segment a gene overlaps.

    Returns floats indexed by gene (index name ``feature``) in the order genes first appear.
    """
    cells = read_delimited(path)
    require_columns(path, cells, ("gene", "log2"), "CNVkit")
    numbers = parse_numbers(path, cells[[c for c in ("log2", "weight") if c in cells.columns]])
    missing = numbers["log2"].isna()
    if missing.any():
        raise InputProblem(path, "the log2 ratio is empty", row=int(missing.idxmax()), column="log2",
                           fix="give the file as CNVkit wrote it")
    weights = numbers["weight"] if "weight" in numbers.columns else pd.Series(1.0, index=numbers.index)
    if (weights < 0).any() or weights.isna().any():
        line = ((weights < 0) | weights.isna()).idxmax()
        raise InputProblem(path, "the weight is empty or negative", row=int(line), column="weight",
                           fix="give the file as CNVkit wrote it")
    rows = pd.DataFrame({"gene": cells["gene"].str.split(","), "log2": numbers["log2"], "weight": weights})
    rows = rows.explode("gene")
    rows["gene"] = rows["gene"].str.strip()
    rows = rows[~rows["gene"].isin(CNVKIT_NOT_GENES)]
    if rows.empty:
        raise InputProblem(path, "no row names a gene (every gene is '-' or Antitarget)", column="gene",
                           fix="give a CNVkit file of targeted bins or segments with gene names")
    rows["weighted"] = rows["log2"] * rows["weight"]
    by_gene = rows.groupby("gene", sort=False)
    sums = by_gene[["weighted", "weight"]].sum()
    plain = by_gene["log2"].mean()
    values = (sums["weighted"] / sums["weight"]).where(sums["weight"] > 0, plain)
    values.index = pd.Index(values.index.astype(str), name="feature", dtype=object)
    return values.astype(float).rename(None)

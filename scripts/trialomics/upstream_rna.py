"""nf-core/rnaseq merged gene tables, and Ensembl gene IDs mapped to symbols.

nf-core/rnaseq writes ``salmon.merged.gene_counts.tsv`` (``gene_id``, ``gene_name``, one column per
sample) and ``rsem.merged.gene_counts.tsv`` (``gene_id``, ``transcript_id(s)``, samples). Their counts
are *estimated* (fractional) counts; DESeq2's tximport route (``DESeqDataSetFromTximport``) rounds
them to the nearest integer with R's ``round()``, which rounds halves to even, and so do we
(:func:`numpy.rint`). TPM tables are not counts and are refused for the RNA counts modality.
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from trialomics.errors import InputProblem
from trialomics.text_tables import SampleColumnProblem
from trialomics.upstream import (
    NFCORE_GENE_COUNTS,
    NFCORE_TPM,
    NFCORE_TRANSCRIPTS,
    parse_numbers,
    read_delimited,
    read_delimited_numbers,
    select_sample,
    wrong_modality,
)

# Column sums of a TPM table are one million; a counts table whose every sample sums to this (within
# the tolerance) and holds fractions is a renamed TPM table.
_TPM_TOTAL = 1e6
_TPM_TOLERANCE = 0.005
# An Ensembl gene ID, with its optional version (ENSG00000141510.17) and GENCODE's _PAR_Y suffix.
_ENSEMBL_VERSION = re.compile(r"^(ENS[A-Z]*G\d{11})\.\d+(_PAR_Y)?$")


def nfcore_counts_reader(path: str | os.PathLike, file_format: str,
                         columns: Iterable[str | None] | None = None) -> Callable[[str | None], pd.Series]:
    """Read an nf-core/rnaseq merged gene counts table once; returns ``counts(column)``, one sample's
    counts per gene symbol:

    * Genes are named by the file's own ``gene_name``; a gene without a name (or an RSEM table,
      which has none) keeps its ``gene_id`` as written.
    * Genes sharing a symbol (e.g. a PAR gene on X and Y, or one symbol for two Ensembl IDs) are
      summed: their reads come from one named gene, and the sum is what a symbol-level tximport
      (``tx2gene`` on symbols) would have given.
    * The summed estimated counts are then rounded as DESeq2's tximport route does (halves to even).

    ``counts`` returns int64 counts indexed by gene (index name ``gene``), in the order genes first
    appear, named ``column`` (or None). The symbols of the samples in ``columns`` (all when None) are
    summed at once; another sample's when it is asked for.

    The table holds the whole cohort, so the ingestion and the validation read it once for all of its
    samples (once per sample made them quadratic in the samples: 19 CPU-s per read of a 500-sample x
    60,000-gene table). Problems of the whole table (its kind, an unreadable estimated count in any
    column, a TPM table, an empty gene_id) are raised here; a sample's (its column, a negative or empty
    count) when ``counts`` is asked for it.
    """
    path = Path(path)
    if file_format == NFCORE_TPM:
        raise InputProblem(path, "this is an nf-core/rnaseq TPM table (transcripts per million), not "
                                 "counts", row=1,
                           fix="point the sample at salmon.merged.gene_counts.tsv (or "
                               "rsem.merged.gene_counts.tsv) of the same run")
    if file_format == NFCORE_TRANSCRIPTS:
        raise InputProblem(path, "this is an nf-core/rnaseq transcript-level table", row=1,
                           fix="point the sample at the gene-level salmon.merged.gene_counts.tsv")
    if file_format != NFCORE_GENE_COUNTS:
        raise wrong_modality(path, file_format, "rna")
    cells = read_delimited_numbers(path, text_columns=2)
    if cells is not None:
        estimated = cells.iloc[:, 2:]
    else:   # something to report by line and column, if anything: read as strings
        cells = read_delimited(path)
        samples = cells.iloc[:, 2:]
        if samples.shape[1] == 0:
            raise InputProblem(path, "the header names no sample column", row=1,
                               fix="give the merged table as nf-core/rnaseq wrote it")
        estimated = parse_numbers(path, samples, "an estimated count")
        del samples
    _refuse_renamed_tpm(path, estimated)
    gene_ids = cells["gene_id"]
    empty = gene_ids == ""
    if empty.any():
        raise InputProblem(path, "the gene_id is empty", row=int(empty.idxmax()), column="gene_id",
                           fix="give every row a gene_id")
    names = cells["gene_name"] if "gene_name" in cells.columns else pd.Series("", index=cells.index)
    genes = names.where(names != "", gene_ids).to_numpy(dtype=object, copy=True)
    # Read as strings, the table's cells are most of its memory: gone before the sums (a column of them
    # kept every cell alive).
    del cells, gene_ids, names, empty
    # A sample's empty or negative estimated count, found now for every sample, reported when it is asked for.
    problem = estimated.isna() | (estimated < 0)
    first_problem = {label: (int(problem[label].idxmax()), float(estimated.at[problem[label].idxmax(), label]))
                     for label in estimated.columns[problem.any().to_numpy()]}
    del problem
    wanted = set(estimated.columns) if columns is None else set(columns)
    rounded_sums: dict[str, np.ndarray] = {}
    symbols: list[pd.Index] = []   # the summed genes, the same for every sample

    def sum_symbols(labels: list[str]) -> None:
        # Samples' symbols summed 100 at a time (each column's sums as a one-column grouping gives them).
        for start in range(0, len(labels), 100):
            sums = estimated[labels[start:start + 100]].groupby(genes, sort=False).sum()
            rounded_sums.update({label: np.rint(sums[label].to_numpy()).astype(np.int64) for label in sums.columns})
            if not symbols:
                symbols.append(pd.Index(sums.index.astype(str), name="gene", dtype=object))

    named = [label for label in estimated.columns if label in wanted]
    if named:
        sum_symbols(named)

    def counts(column: str | None) -> pd.Series:
        if not column and estimated.shape[1] > 1:
            raise SampleColumnProblem(path, f"the file holds {estimated.shape[1]} sample columns and no column "
                                            "was named", row=1,
                                      fix="set `column` in the sample sheet to this sample's column")
        label = select_sample(path, estimated, column).columns[0]
        if label in first_problem:
            line, value = first_problem[label]
            what = "empty" if np.isnan(value) else f"negative ({value:g})"
            raise InputProblem(path, f"the estimated count is {what}", row=line, column=label,
                               fix="give the merged table as nf-core/rnaseq wrote it")
        if label not in rounded_sums:
            sum_symbols([label])
        return pd.Series(rounded_sums[label], index=symbols[0], name=column or None)

    return counts


def _refuse_renamed_tpm(path: Path, values: pd.DataFrame) -> None:
    """A table whose every column sums to a million and holds fractions is TPM, whatever its name."""
    totals = values.sum(axis=0)
    if not len(totals) or not (np.abs(totals / _TPM_TOTAL - 1) < _TPM_TOLERANCE).all():
        return
    # column by column: a cohort's table is large
    fractional = any((np.nan_to_num(values[label].to_numpy()) % 1 != 0).any() for label in values.columns)
    if fractional:
        raise InputProblem(path, "every sample column sums to one million: this is a TPM table, not counts",
                           row=1, fix="point the sample at salmon.merged.gene_counts.tsv of the same run")


def strip_ensembl_version(gene_id: str) -> str:
    """``ENSG00000141510.17`` -> ``ENSG00000141510``; other identifiers unchanged."""
    match = _ENSEMBL_VERSION.match(gene_id)
    return match.group(1) + (match.group(2) or "") if match else gene_id


def read_gene_map(path: str | os.PathLike) -> dict[str, str]:
    """Read a gene ID -> symbol table: a header, the ID in the first column, the symbol in the second.

    Ensembl versions are dropped from the IDs (a map made for one GENCODE release serves another).
    Rows with an empty symbol are ignored; an ID mapped to two different symbols is a problem.
    """
    path = Path(path)
    cells = read_delimited(path)
    if cells.shape[1] < 2:
        raise InputProblem(path, "the gene map needs two columns: gene ID, then symbol", row=1,
                           fix="write a header, then one `gene_id<TAB>symbol` row per gene")
    id_column, symbol_column = cells.columns[:2]
    mapping: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for line, gene_id, symbol in zip(cells.index, cells[id_column], cells[symbol_column]):
        if not gene_id or not symbol:
            continue
        key = strip_ensembl_version(gene_id)
        if key in mapping and mapping[key] != symbol:
            raise InputProblem(path, f"gene '{key}' is mapped to '{mapping[key]}' (line {first_line[key]}) "
                                     f"and to '{symbol}'", row=int(line), column=str(symbol_column),
                               fix="keep one symbol per gene ID")
        mapping[key] = symbol
        first_line.setdefault(key, int(line))
    return mapping


def map_gene_ids(counts: pd.Series, mapping: Mapping[str, str]) -> pd.Series:
    """Counts per gene ID -> counts per symbol; unmapped IDs are kept as they are.

    IDs are looked up without their Ensembl version. Several IDs of one symbol are summed (the rule
    of :func:`nfcore_counts_reader`). The order is that in which each symbol first appears.
    """
    symbols = [mapping.get(strip_ensembl_version(str(gene)), str(gene)) for gene in counts.index]
    summed = counts.groupby(np.asarray(symbols, dtype=object), sort=False).sum()
    summed.index = pd.Index(summed.index.astype(str), name="gene", dtype=object)
    return summed.astype(counts.dtype).rename(counts.name)

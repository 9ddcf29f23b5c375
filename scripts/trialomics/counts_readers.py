"""RNA-seq count files: htseq-count, STAR ``ReadsPerGene.out.tab``, featureCounts, count matrices and
nf-core/rnaseq merged tables (through :mod:`trialomics.upstream_rna`), read once for all of a file's samples.

Readers follow :mod:`trialomics.text_tables`' rules: identifiers stay strings, and a file that cannot be used
raises :class:`~trialomics.errors.InputProblem` naming the file, line and column.
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from trialomics import upstream, upstream_rna
from trialomics.errors import InputProblem
from trialomics.text_tables import (
    check_header,
    check_identifiers,
    checked_upstream,
    first_bad_cell,
    first_fields,
    leading_comment_lines,
    more_like_it,
    read_cells,
    read_number_columns,
    select_sample_column,
)

#: Largest count read exactly: counts pass through float64, which holds integers up to 2^53 exactly
#: (and int64 ends at 2^63); no sequencing run comes near either.
MAX_EXACT_COUNT = 2 ** 53

_FEATURECOUNTS_ANNOTATION = ["Geneid", "Chr", "Start", "End", "Strand", "Length"]
# STAR ReadsPerGene.out.tab opens with four summary rows (N_unmapped, N_multimapping, N_noFeature,
# N_ambiguous) before the genes.
_STAR_SUMMARY_ROWS = 4
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def _not_counts(numbers: np.ndarray) -> np.ndarray:
    """Where floats are not raw read counts: missing or not finite, negative, fractional, beyond MAX_EXACT_COUNT."""
    finite = np.isfinite(numbers)
    bad = ~finite | (numbers < 0) | (numbers != np.floor(numbers))
    bad |= finite & (numbers > MAX_EXACT_COUNT)
    return bad


def _parse_counts(path: Path, values: pd.Series, column_label: str) -> pd.Series:
    """Raw read counts from text; whole numbers written as ``12.0`` are accepted."""
    numbers = pd.to_numeric(values.where(values != "", None), errors="coerce").astype(float)
    bad = pd.Series(_not_counts(numbers.to_numpy()), index=values.index)
    if bad.any():
        line, _, count = first_bad_cell(bad)
        value = values[line]
        if value == "":
            problem = "the count is empty"
        elif not np.isfinite(numbers[line]):
            problem = f"count '{value}' is not a number"
        elif numbers[line] < 0:
            problem = f"count '{value}' is negative"
        elif numbers[line] > MAX_EXACT_COUNT:
            problem = f"count '{value}' is larger than any read count (at most 2^53)"
        else:
            problem = f"count '{value}' is not an integer"
        raise InputProblem(path, problem + more_like_it(count), row=line, column=column_label,
                           fix="give raw integer read counts (htseq-count, featureCounts or STAR), "
                               "not normalised or estimated values")
    return numbers.astype(np.int64)


def _counts_of_numbers(numbers: pd.DataFrame, labels: list[str]) -> dict[str, np.ndarray] | None:
    """What :func:`_parse_counts` gives of each column of ``labels`` of a :func:`read_number_columns` table;
    None unless every cell is a raw read count (the string reading then says which is not)."""
    counts = {}
    for label in labels:
        floats = numbers[label].to_numpy(dtype=np.float64)   # through float64, as _parse_counts reads text
        if _not_counts(floats).any():
            return None
        counts[label] = floats.astype(np.int64)
    return counts


def read_rna_counts(path: str | os.PathLike, column: str | None = None,
                    star_count_column: int = 2) -> pd.Series:
    """Read one sample's raw RNA-seq read counts per gene.

    The format is detected from the file:

    * htseq-count: two columns ``gene<TAB>count``, no header; ``__`` summary rows are dropped;
    * STAR ``ReadsPerGene.out.tab``: four columns, no header; the four ``N_`` summary rows are
      dropped and ``star_count_column`` (2 unstranded, 3 forward, 4 reverse) holds the counts;
    * featureCounts: ``#`` comment line(s), then ``Geneid Chr Start End Strand Length <count>...``;
    * a matrix: a header whose first column is the gene and whose other columns are samples.

    Parameters
    ----------
    path
        The counts file.
    column
        The sample column, for featureCounts and matrix files holding several samples. Headerless
        formats (htseq-count, STAR) hold one sample and have no named columns, so it is not used.
    star_count_column
        Which STAR column holds the counts: 2, 3 or 4.

    Returns
    -------
    Series of int64 counts indexed by gene (index name ``gene``), named ``column`` (or None).
    """
    return rna_counts_reader(path, [column], star_count_column)(column)


#: Sample columns of a counts matrix read per pass over the file: one pass for a whole cohort would hold
#: every cell as a Python string at once (1.1 GB for 500 samples x 60,000 genes).
COUNT_COLUMNS_PER_READ = 100


def rna_counts_reader(path: str | os.PathLike, columns: Iterable[str | None] = (None,),
                      star_count_column: int = 2) -> Callable[[str | None], pd.Series]:
    """Read a counts file once for the samples of ``columns``; returns ``counts(column)``, which gives one
    sample's counts as :func:`read_rna_counts` does.

    A featureCounts table, a matrix or an nf-core/rnaseq table often holds the whole cohort: the
    ingestion and the validation read it once for all of its samples (reading it once per sample made
    them quadratic in the samples). Problems of the whole file (its format, its gene identifiers) are
    raised here; a sample's (its column, its counts) when ``counts`` is asked for it. A column not in
    ``columns`` is read when asked for.
    """
    if star_count_column not in (2, 3, 4):
        raise ValueError(f"star_count_column must be 2, 3 or 4, not {star_count_column!r}")
    path = Path(path)
    upstream_format = upstream.detect_format(path)
    if upstream_format is not None:
        return _checked_once(path, upstream_rna.nfcore_counts_reader(path, upstream_format, columns))
    skip = leading_comment_lines(path)
    first = first_fields(path, skip)
    if first is None:
        raise InputProblem(path, "the file is empty", fix="give a counts file")
    headerless = len(first) >= 2 and all(_NUMBER.fullmatch(value) for value in first[1:])
    if headerless and len(first) in (2, 4):
        return _one_sample(_headerless_counts(path, skip, len(first), star_count_column))
    if not headerless and len(first) >= 2:
        return _CountMatrix(path, skip, [column for column in columns if column])
    raise InputProblem(
        path, f"unrecognised counts format: the first line has {len(first)} column(s)",
        row=skip + 1,
        fix="give htseq-count (gene, count), STAR ReadsPerGene.out.tab, featureCounts output, "
            "or a matrix with a header (gene, then one column per sample)")


def _checked_once(path: Path, counts_of: Callable[[str | None], pd.Series]) -> Callable[[str | None], pd.Series]:
    """An upstream reader whose gene names (the same for every sample) pass :func:`checked_upstream` once."""
    checked = False

    def counts(column: str | None) -> pd.Series:
        nonlocal checked
        result = counts_of(column)
        if not checked:
            checked_upstream(path, result)
            checked = True
        return result

    return counts


def _one_sample(counts_of_file: pd.Series) -> Callable[[str | None], pd.Series]:
    """htseq-count and STAR files hold one sample and have no named columns: ``column`` only names it."""
    def counts(column: str | None) -> pd.Series:
        counts = counts_of_file.copy()
        counts.name = column or None
        return counts

    return counts


def _headerless_counts(path: Path, skip: int, width: int, star_count_column: int) -> pd.Series:
    """An htseq-count (2 columns) or STAR ReadsPerGene (4 columns) file's counts."""
    cells = read_cells(path, skip=skip, header=False)
    if width == 4:
        summary = cells.iloc[:_STAR_SUMMARY_ROWS]
        cells = cells.iloc[len(summary[summary[1].str.startswith("N_")]):]
        genes, values, label = cells[1], cells[star_count_column], str(star_count_column)
    else:
        cells = cells[~cells[1].str.startswith("__")]
        genes, values, label = cells[1], cells[2], "2"
    check_identifiers(path, genes, "1", "gene")
    counts = _parse_counts(path, values, label)
    counts.index = pd.Index(genes.to_numpy(), name="gene", dtype=object)
    counts.name = None
    return counts


class _CountMatrix:
    """A featureCounts table or a matrix (gene, then one column per sample), read for the named samples
    in passes of :data:`COUNT_COLUMNS_PER_READ` columns (as numbers when a pass's counts are clean, else as
    strings); calling it gives one sample's counts."""

    def __init__(self, path: Path, skip: int, columns: list[str]) -> None:
        self.path, self.skip = path, skip
        self.header = check_header(path, skip)
        self.header_line = skip + 1
        if self.header[:len(_FEATURECOUNTS_ANNOTATION)] == _FEATURECOUNTS_ANNOTATION:
            self.sample_columns = self.header[len(_FEATURECOUNTS_ANNOTATION):]
        else:
            self.sample_columns = self.header[1:]
        if not self.sample_columns:
            raise InputProblem(path, "the header names no sample column", row=self.header_line,
                               fix="add a count column after the gene annotation")
        self.gene_lines: pd.Index | None = None   # the lines of the first pass's rows
        self.gene_index: pd.Index | None = None
        self.counts: dict[str, pd.Series] = {}
        self.problems: dict[str, InputProblem] = {}
        known = set(self.sample_columns)
        wanted = sorted({self.header.index(column) for column in columns if column in known})
        if not columns and len(self.sample_columns) == 1:
            wanted = [self.header.index(self.sample_columns[0])]
        for start in range(0, len(wanted), COUNT_COLUMNS_PER_READ):
            self._read(wanted[start:start + COUNT_COLUMNS_PER_READ])

    def _read(self, positions: list[int]) -> None:
        labels = [self.header[position] for position in positions]
        # Numbers first: a clean file is read without every cell as a string (and without the padding scan of
        # the whole file); the strings find the same genes, and report a bad count by line.
        numbers = read_number_columns(self.path, self.skip, [0, *positions])
        clean = None if numbers is None else _counts_of_numbers(numbers, labels)
        if clean is not None:
            self._take_genes(numbers[self.header[0]])
            for label, counts in clean.items():
                self.counts[label] = pd.Series(counts, index=self.gene_index, name=label)
            return
        del numbers   # not held while the strings are read
        cells = read_cells(self.path, skip=self.skip, header=True, usecols=[0, *positions])
        self._take_genes(cells[self.header[0]])
        for label in labels:
            try:
                counts = _parse_counts(self.path, cells[label], label)
            except InputProblem as problem:
                self.problems[label] = problem
                continue
            counts.index = self.gene_index
            self.counts[label] = counts

    def _take_genes(self, genes: pd.Series) -> None:
        """A pass's gene column (indexed by line): checked, and kept from the first pass."""
        # Rows with a gene are read by every pass; a pass can only add rows whose gene is empty (a problem).
        if self.gene_lines is None or not genes.index.equals(self.gene_lines):
            check_identifiers(self.path, genes, str(genes.name), "gene")
        if self.gene_lines is None:
            self.gene_lines = genes.index
            self.gene_index = pd.Index(genes.to_numpy(), name="gene", dtype=object)

    def __call__(self, column: str | None) -> pd.Series:
        label = select_sample_column(self.path, self.sample_columns, column, self.header_line)
        if label not in self.counts and label not in self.problems:
            self._read([self.header.index(label)])
        if label in self.problems:
            raise self.problems[label]
        counts = self.counts[label].copy()
        counts.name = column or None
        return counts

"""Files as upstream tools write them: which tool wrote a file, and the reading they share.

The readers of :mod:`trialomics.readers` call :func:`detect_format` first; a file recognised here is
read by the reader of its tool (:mod:`trialomics.upstream_rna`, :mod:`trialomics.upstream_copy_number`,
:mod:`trialomics.upstream_proteins`, and :func:`read_maf_gz` below), so that the tool's own output
needs no editing. Detection looks only at the first line (after ``#`` comments) and, where the header
cannot tell, at the file name (``all_thresholded.by_genes.txt``, ``*gene_tpm*``). Every problem is an
:class:`~trialomics.errors.InputProblem` naming the file, line (the header is line 1) and column.
"""
from __future__ import annotations

import csv
import gzip
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from trialomics.errors import InputProblem
from trialomics.text_tables import SampleColumnProblem

# Format names (what `detect_format` returns), each with the modality it belongs to.
NFCORE_GENE_COUNTS = "nf-core/rnaseq merged gene counts"
NFCORE_TPM = "nf-core/rnaseq TPM table"
NFCORE_TRANSCRIPTS = "nf-core/rnaseq transcript-level table"
GISTIC_THRESHOLDED = "GISTIC2 all_thresholded.by_genes"
GISTIC_DATA = "GISTIC2 all_data_by_genes"
CNVKIT_BINS = "CNVkit bin-level ratios (.cnr)"
CNVKIT_SEGMENTS = "CNVkit segments (.cns / .call.cns)"
CNVKIT_GENEMETRICS = "CNVkit genemetrics table"
OLINK_NPX = "Olink NPX export"
OLINK_PARQUET = "Olink NPX parquet export"
MAXQUANT_PROTEIN_GROUPS = "MaxQuant proteinGroups.txt"
DIANN_PG_MATRIX = "DIA-NN pg_matrix"
MAF_GZ = "gzipped MAF"

MODALITY = {
    NFCORE_GENE_COUNTS: "rna", NFCORE_TPM: "rna", NFCORE_TRANSCRIPTS: "rna",
    GISTIC_THRESHOLDED: "copy_number", GISTIC_DATA: "copy_number", CNVKIT_BINS: "copy_number",
    CNVKIT_SEGMENTS: "copy_number", CNVKIT_GENEMETRICS: "copy_number",
    OLINK_NPX: "proteins", OLINK_PARQUET: "proteins", MAXQUANT_PROTEIN_GROUPS: "proteins",
    DIANN_PG_MATRIX: "proteins",
    MAF_GZ: "mutations",
}

#: The value scale each format's numbers are on, for the checks against ``proteins.scale`` and
#: ``copy_number.values`` (formats absent here fit either setting).
REQUIRED_SETTING = {
    GISTIC_THRESHOLDED: ("copy_number", "values", "calls"),
    GISTIC_DATA: ("copy_number", "values", "log2_ratio"),
    CNVKIT_BINS: ("copy_number", "values", "log2_ratio"),
    CNVKIT_SEGMENTS: ("copy_number", "values", "log2_ratio"),
    CNVKIT_GENEMETRICS: ("copy_number", "values", "log2_ratio"),
    OLINK_NPX: ("proteins", "scale", "log2"),
    OLINK_PARQUET: ("proteins", "scale", "log2"),
    MAXQUANT_PROTEIN_GROUPS: ("proteins", "scale", "raw"),
    DIANN_PG_MATRIX: ("proteins", "scale", "raw"),
}

_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_MAGIC = b"PAR1"
_MISSING = frozenset({"", "NA", "NaN", "nan", "N/A"})
# A decimal comma, as written by Olink software in some locales (only accepted in `;` files).
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+([eE][+-]?\d+)?$")


# --------------------------------------------------------------------------------------------
# Detection
# --------------------------------------------------------------------------------------------

def _magic(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(4)


def is_gzip(path: str | os.PathLike) -> bool:
    """Whether the file is gzip-compressed (by its first bytes, whatever its name)."""
    return _magic(Path(path))[:2] == _GZIP_MAGIC


def _open_text(path: Path):
    if is_gzip(path):
        return gzip.open(path, "rt", encoding="utf-8-sig", errors="replace", newline="")
    return open(path, encoding="utf-8-sig", errors="replace", newline="")


def _header_line(path: Path) -> tuple[int, str | None]:
    """(number of leading ``#`` lines, the first other line without its line end)."""
    comments = 0
    try:
        with _open_text(path) as handle:
            for line in handle:
                if line.startswith("#"):
                    comments += 1
                    continue
                return comments, line.rstrip("\r\n")
    except (OSError, EOFError):
        return comments, None
    return comments, None


def separator_of(header: str) -> str:
    """Tab, unless the header has no tab and has semicolons (Olink's CSV) or commas."""
    if "\t" in header:
        return "\t"
    if ";" in header:
        return ";"
    return "," if "," in header else "\t"


def file_separator(path: str | os.PathLike) -> str:
    """The separator of a delimited file, judged from its header (see :func:`separator_of`)."""
    return separator_of(_header_line(Path(path))[1] or "")


def detect_format(path: str | os.PathLike) -> str | None:
    """The upstream tool's format of ``path``, or None for the workflow's own simple formats.

    Returns one of the format names of :data:`MODALITY`.
    """
    path = Path(path)
    if _magic(path) == _PARQUET_MAGIC:
        return OLINK_PARQUET
    _, header = _header_line(path)
    if header is None:
        return None
    fields = [field.strip().strip('"') for field in header.split(separator_of(header))]
    names = set(fields)
    lower_name = path.name.lower()
    if fields[:1] == ["gene_id"] and len(fields) > 1 and fields[1] in ("gene_name", "transcript_id(s)"):
        return NFCORE_TPM if "tpm" in lower_name else NFCORE_GENE_COUNTS
    if fields[:2] in (["tx", "gene_id"], ["transcript_id", "gene_id"]):
        return NFCORE_TPM if "tpm" in lower_name else NFCORE_TRANSCRIPTS
    if fields[:3] == ["Gene Symbol", "Locus ID", "Cytoband"]:
        return GISTIC_THRESHOLDED if "thresholded" in lower_name else GISTIC_DATA
    if fields[:4] == ["chromosome", "start", "end", "gene"] and "log2" in names:
        return CNVKIT_SEGMENTS if "probes" in names else CNVKIT_BINS
    if fields[:4] == ["gene", "chromosome", "start", "end"] and "log2" in names:
        return CNVKIT_GENEMETRICS
    if {"SampleID", "OlinkID", "UniProt", "Assay", "NPX"} <= names:
        return OLINK_NPX
    if {"Protein IDs", "Majority protein IDs"} <= names:
        return MAXQUANT_PROTEIN_GROUPS
    if fields[:1] == ["Protein.Group"] and "Genes" in names:
        return DIANN_PG_MATRIX
    if is_gzip(path) and {"Hugo_Symbol", "Tumor_Sample_Barcode"} <= names:
        return MAF_GZ
    return None


def wrong_modality(path: Path, file_format: str, modality: str) -> InputProblem:
    """The problem of a recognised file given for another modality than its own."""
    return InputProblem(
        path, f"this is a {file_format} file ({MODALITY[file_format]} data), but the sample's modality "
              f"is {modality}", row=1,
        fix=f"set the sample's modality to {MODALITY[file_format]}, or point it at a {modality} file")


def setting_conflict(path: str | os.PathLike, config: dict) -> InputProblem | None:
    """The problem when a recognised file's values do not fit the configured value scale.

    Olink NPX is already log2 (``proteins.scale: log2``); MaxQuant and DIA-NN intensities are raw
    (``proteins.scale: raw``); GISTIC2 thresholded values are calls (``copy_number.values: calls``);
    CNVkit and GISTIC2 ``all_data_by_genes`` values are log2 ratios (``copy_number.values: log2_ratio``).
    """
    file_format = detect_format(path)
    if file_format not in REQUIRED_SETTING:
        return None
    section, key, wanted = REQUIRED_SETTING[file_format]
    settings = config.get(section) if isinstance(config.get(section), dict) else {}
    configured = settings.get(key)
    if configured is None or configured == wanted:
        return None
    return InputProblem(
        path, f"this {file_format} file holds {wanted.replace('_', ' ')} values, but {section}.{key} "
              f"is '{configured}'", row=1,
        fix=f"set {section}.{key}: {wanted} in the config (every {section} file of a cohort must be "
            "on the same scale)")


# --------------------------------------------------------------------------------------------
# Reading delimited text (plain or gzipped), every cell a string, indexed by line number
# --------------------------------------------------------------------------------------------

def read_delimited(path: str | os.PathLike) -> pd.DataFrame:
    """Read a delimited table with a header (tab, or ``;`` / ``,`` when the header has no tab).

    ``#`` lines at the top are skipped. Cells are stripped strings (surrounding double quotes
    removed); the index is the 1-based line number in the file (the header is line 1, or the first
    line after the comments); blank lines are dropped. Gzipped files are read as they are.
    """
    path = Path(path)
    skip, sep, names = _layout(path)
    try:
        table = pd.read_csv(path, dtype=str, skiprows=skip, header=0, **_csv_options(path, sep))
    except pd.errors.ParserError:
        raise InputProblem(path, "a row has more cells than the header", row=_first_long_row(path, sep, skip),
                           fix="give the file as the tool wrote it, with one cell per column") from None
    except (UnicodeDecodeError, EOFError, OSError, gzip.BadGzipFile) as error:
        raise InputProblem(path, f"cannot be read ({error})",
                           fix="give the file as the tool wrote it (UTF-8 text, gzipped or not)") from None
    if not isinstance(table.index, pd.RangeIndex):
        raise InputProblem(path, "a row has more cells than the header", row=_first_long_row(path, sep, skip),
                           fix="give the file as the tool wrote it, with one cell per column")
    table.columns = names
    table = table.fillna("").apply(lambda cells: cells.str.strip().str.strip('"'))
    table.index = pd.RangeIndex(skip + 2, skip + 2 + len(table), name="line")
    return table[(table != "").any(axis=1)]


def read_delimited_numbers(path: str | os.PathLike, text_columns: int) -> pd.DataFrame | None:
    """A table whose columns after the first ``text_columns`` are numbers, read by pandas' number parser.

    Returns what :func:`read_delimited` then :func:`parse_numbers` of those columns give (the text
    columns as strings, the others as floats, indexed by line) when that is certain: every number cell
    is a finite number, no text cell is missing or padded, no line is blank. Otherwise None: the caller
    reads the table as strings, which reports a bad cell by line and column. A cohort's table read as
    strings holds every cell as a Python object (3.3 GB for an nf-core/rnaseq table of 500 samples x
    60,000 genes, against a quarter of that as floats).
    """
    path = Path(path)
    try:
        skip, sep, names = _layout(path)
    except InputProblem:
        return None
    if len(names) <= text_columns:
        return None
    try:
        with warnings.catch_warnings():
            # A long column of numbers then text (pandas reads it in chunks) is not numbers: None says so, not a
            # DtypeWarning in the job's log.
            warnings.simplefilter("ignore", pd.errors.DtypeWarning)
            table = pd.read_csv(path, skiprows=skip + 1, header=None, names=names,
                                dtype={name: str for name in names[:text_columns]}, **_csv_options(path, sep))
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError, EOFError, OSError, gzip.BadGzipFile):
        return None
    if not isinstance(table.index, pd.RangeIndex):   # a row with more cells than the header
        return None
    for name in names[text_columns:]:   # column by column: no copy of the whole table
        dtype = table[name].dtype
        if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
            return None
        if dtype != np.float64:
            table[name] = table[name].astype(np.float64)
        if not np.isfinite(table[name].to_numpy()).all():
            return None
    for name in names[:text_columns]:
        text = table[name]
        if text.isna().any() or (text != text.str.strip().str.strip('"')).any():
            return None
    table.index = pd.RangeIndex(skip + 2, skip + 2 + len(table), name="line")
    return table


def _layout(path: Path) -> tuple[int, str, list[str]]:
    """(comment lines before the header, separator, column names) of a delimited table with a header."""
    skip, header = _header_line(path)
    if header is None:
        raise InputProblem(path, "the file is empty", fix="give the file as the tool wrote it")
    sep = separator_of(header)
    names = [name.strip().strip('"') for name in header.split(sep)]
    _check_names(path, names, skip + 1)
    return skip, sep, names


def _csv_options(path: Path, sep: str) -> dict:
    """pandas.read_csv's options for a delimited table: cells as written, blank lines kept (and counted)."""
    return dict(sep=sep, keep_default_na=False, na_filter=False, skip_blank_lines=False, encoding="utf-8-sig",
                compression="gzip" if is_gzip(path) else None,
                quoting=csv.QUOTE_MINIMAL if sep != "\t" else csv.QUOTE_NONE)


def _check_names(path: Path, names: list[str], header_line: int) -> None:
    seen: set[str] = set()
    for position, name in enumerate(names, start=1):
        if name == "":
            raise InputProblem(path, f"column {position} of the header has no name", row=header_line,
                               fix="give the file as the tool wrote it")
        if name in seen:
            raise InputProblem(path, "this column name appears twice in the header", row=header_line,
                               column=name, fix="give every column a distinct name")
        seen.add(name)


def _first_long_row(path: Path, sep: str, skip: int) -> int | None:
    with _open_text(path) as handle:
        width = None
        for number, line in enumerate(handle, start=1):
            if number <= skip:
                continue
            cells = line.rstrip("\r\n").count(sep) + 1
            if width is None:
                width = cells
            elif cells > width:
                return number
    return None


def require_columns(path: Path, table: pd.DataFrame, required, what: str, header_line: int = 1) -> None:
    """Every column of ``required`` must be in the header of a ``what`` file."""
    missing = [name for name in required if name not in table.columns]
    if missing:
        raise InputProblem(path, f"this {what} file lacks the column(s) "
                                 f"{', '.join(repr(name) for name in missing)}", row=header_line,
                           column=missing[0],
                           fix=f"give the {what} file as the tool wrote it; required: {', '.join(required)}")


def parse_numbers(path: Path, cells: pd.DataFrame, what: str = "a number",
                  decimal_comma: bool = False) -> pd.DataFrame:
    """Floats from text cells; empty, ``NA`` and ``NaN`` are NaN, anything else must be finite."""
    if decimal_comma:
        cells = cells.apply(lambda column: column.where(~column.str.match(_DECIMAL_COMMA),
                                                        column.str.replace(",", ".", regex=False)))
    missing = cells.isin(_MISSING)
    numbers = cells.mask(missing).apply(pd.to_numeric, errors="coerce").astype(float)
    bad = ~missing & ~np.isfinite(numbers)
    if bad.to_numpy().any():
        rows, columns = np.nonzero(bad.to_numpy())
        line, column = bad.index[rows[0]], bad.columns[columns[0]]
        more = "" if len(rows) == 1 else f" (and {len(rows) - 1} more cell(s) like it)"
        raise InputProblem(path, f"'{cells.at[line, column]}' is not {what}{more}", row=int(line),
                           column=str(column), fix="give the file as the tool wrote it")
    return numbers


def first_of_list(cells: pd.Series, separator: str = ";") -> pd.Series:
    """The first entry of each ``;``-joined list (MaxQuant and DIA-NN protein and gene lists)."""
    return cells.str.split(separator, n=1).str[0].str.strip()


def select_sample(path: Path, matrix: pd.DataFrame, column: str | None, header_line: int = 1) -> pd.DataFrame:
    """The whole matrix, or with ``column`` only that sample (a problem naming the samples if absent)."""
    if not column:
        return matrix
    if column not in matrix.columns:
        shown = ", ".join(map(str, matrix.columns[:8])) + (", ..." if matrix.shape[1] > 8 else "")
        raise SampleColumnProblem(path, f"there is no sample '{column}'; the file's samples are {shown}",
                                  row=header_line, column=column,
                                  fix="correct `column` in the sample sheet to one of these names")
    return matrix[[column]]


# --------------------------------------------------------------------------------------------
# Mutations: gzipped MAFs (GDC distributes them as .maf.gz)
# --------------------------------------------------------------------------------------------

#: Columns every MAF must have for the mutation stage (as for plain MAFs, readers.MAF_REQUIRED_COLUMNS).
MAF_REQUIRED = ("Hugo_Symbol", "Tumor_Sample_Barcode", "Variant_Classification")


def read_upstream_maf(path: str | os.PathLike, file_format: str, barcode: str | None = None) -> pd.DataFrame:
    """Read a gzipped MAF (GDC ``*.maf.gz``, or a gzipped vcf2maf output), every column as strings.

    ``#`` lines at the top (``#version gdc-1.0.0``, ``#filedate`` ...) are skipped; with ``barcode``
    only that ``Tumor_Sample_Barcode``'s rows are returned. Same result as ``readers.read_maf`` on
    the uncompressed file.
    """
    path = Path(path)
    if file_format != MAF_GZ:
        raise wrong_modality(path, file_format, "mutations")
    table = read_delimited(path)
    comments, _ = _header_line(path)
    require_columns(path, table, MAF_REQUIRED, "MAF", header_line=comments + 1)
    if barcode:
        table = table[table["Tumor_Sample_Barcode"] == barcode]
    return table.reset_index(drop=True)

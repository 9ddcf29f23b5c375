"""The input file formats the workflow accepts, read into pandas: clinical tables, MAFs, numeric matrices.

With :mod:`trialomics.counts_readers` (RNA count files) and the ``upstream`` modules (upstream tools'
files) these are the only modules that know file formats (see ``config/README.md``). Every reader returns
plain pandas objects with identifiers as strings (``007`` stays ``007``) and raises
:class:`~trialomics.errors.InputProblem` naming the file, line (the header is line 1) and column
when a file cannot be used, never a pandas traceback.
"""
from __future__ import annotations

import csv
import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from trialomics.errors import InputProblem
from trialomics.identifiers import FEATURE_ID_GRAMMAR, excel_mangled, feature_problem, usable_feature_names

#: Cells that mean "no value" in numeric matrices and optional numeric clinical columns.
MISSING_TOKENS = frozenset({"", "NA", "NaN"})


#: Upper bounds of clinical numbers: longer than a century of follow-up, or a tumour burden of
#: more than ten metres, is a typing error.
MAX_MONTHS = 1200.0
MAX_TARGET_SUM_MM = 10000.0

#: Columns a MAF must have for the mutation stage.
MAF_REQUIRED_COLUMNS = ("Hugo_Symbol", "Tumor_Sample_Barcode", "Variant_Classification")

#: Columns that mark an Olink-style long-format protein table.
PROTEIN_LONG_COLUMNS = ("SampleID", "Assay", "NPX")

# featureCounts writes these six annotation columns before the count column(s).
_DATE_FORMAT = "%Y-%m-%d"


class SampleColumnProblem(InputProblem):
    """The ``column`` naming a sample in a multi-sample file is missing or does not exist.

    A subclass so that validation can point at the sample sheet's ``column`` cell as well.
    """


# --------------------------------------------------------------------------------------------
# Generic tab-separated reading
# --------------------------------------------------------------------------------------------

def _leading_comment_lines(path: Path) -> int:
    """Number of lines at the top of ``path`` that start with ``#``."""
    count = 0
    with open(path, encoding="utf-8-sig", errors="replace") as handle:
        for line in handle:
            if not line.startswith("#"):
                break
            count += 1
    return count


def _first_fields(path: Path, skip: int) -> list[str] | None:
    """The tab-separated fields of the line after the first ``skip`` lines, or None at the end.

    Quotes are read as pandas reads them in :func:`_read_cells` (``"a b"`` is the field ``a b``), so
    that the header seen here and the columns read there agree.
    """
    with open(path, encoding="utf-8-sig", errors="replace") as handle:
        for number, line in enumerate(handle):
            if number == skip:
                fields = next(csv.reader([line.rstrip("\r\n")], delimiter="\t"), [""])
                return [field.strip() for field in fields] or [""]
    return None


def _read_cells(path: Path, skip: int = 0, header: bool = True,
                usecols: list[int] | None = None) -> pd.DataFrame:
    """Read a tab-separated file as stripped strings, indexed by 1-based line number.

    Blank lines are dropped but still counted, so the index is the line a person sees in an
    editor. Without a header the columns are numbered from 1, like the columns of the file.
    ``usecols`` (0-based column positions) reads only those columns, which is much faster for
    one sample of a wide matrix.
    """
    try:
        table = pd.read_csv(
            path, sep="\t", dtype=str, keep_default_na=False, na_filter=False,
            skiprows=skip, header=0 if header else None, skip_blank_lines=False,
            encoding="utf-8-sig", quoting=csv.QUOTE_MINIMAL, usecols=usecols,
        )
    except pd.errors.EmptyDataError:
        raise InputProblem(path, "the file is empty",
                           fix="give a tab-separated file with a header row") from None
    except pd.errors.ParserError as error:
        long_row = _first_long_row(path, skip)
        if long_row is not None:
            raise InputProblem(path, "a row has more cells than the header", row=long_row,
                               fix="make every row have as many tab-separated cells as the header") from None
        raise InputProblem(path, f"cannot be read as a tab-separated table ({str(error).strip()})",
                           fix="make every row have as many tab-separated cells as the header") from None
    except UnicodeDecodeError:
        raise InputProblem(path, "is not a UTF-8 text file",
                           fix="save it as UTF-8 tab-separated text") from None
    if not isinstance(table.index, pd.RangeIndex):
        # pandas takes the first column as an index when data rows have one more cell than the header
        raise InputProblem(path, "a row has more cells than the header", row=_first_long_row(path, skip),
                           fix="make every row have as many tab-separated cells as the header")
    table = table.fillna("")
    if header:
        table.columns = [str(name).strip() for name in table.columns]
    else:
        table.columns = list(range(1, table.shape[1] + 1))
    if _has_padding(path):
        table = table.apply(lambda cells: cells.str.strip())
    first_data_line = skip + (2 if header else 1)
    table.index = pd.RangeIndex(first_data_line, first_data_line + len(table), name="line")
    return table[(table != "").any(axis=1)]


# A space at the start or end of a cell, or a carriage return (Windows line ends).
_PADDING = re.compile(rb"(^|\t) | (\t|$)|\r", re.MULTILINE)


def _has_padding(path: Path) -> bool:
    """Whether any cell may need stripping; most files need none, and stripping is the slow part."""
    return _PADDING.search(path.read_bytes()) is not None


def _first_long_row(path: Path, skip: int) -> int | None:
    """Line number of the first row with more tab-separated cells than the header."""
    with open(path, encoding="utf-8-sig", errors="replace") as handle:
        width = None
        for number, line in enumerate(handle, start=1):
            if number <= skip:
                continue
            cells = line.rstrip("\r\n").count("\t") + 1
            if width is None:
                width = cells
            elif cells > width:
                return number
    return None


def _check_header(path: Path, skip: int) -> list[str]:
    """The header fields of a table; duplicated or empty column names are an InputProblem."""
    fields = _first_fields(path, skip)
    if fields is None:
        raise InputProblem(path, "the file is empty", fix="give a tab-separated file with a header row")
    seen: set[str] = set()
    for position, name in enumerate(fields, start=1):
        if name == "":
            raise InputProblem(path, f"column {position} of the header has no name", row=skip + 1,
                               fix="give every column a name")
        if name in seen:
            raise InputProblem(path, "this column name appears twice in the header", row=skip + 1,
                               column=name, fix="give every column a distinct name")
        seen.add(name)
    return fields


def read_string_table(path: str | os.PathLike, skip_comment_lines: bool = False) -> pd.DataFrame:
    """Read a tab-separated table with a header, every cell a stripped string.

    Parameters
    ----------
    path
        The file.
    skip_comment_lines
        Skip the ``#`` lines at the top (MAF headers).

    Returns
    -------
    DataFrame indexed by the 1-based line number of each row in the file (the header is line 1,
    or the first line after the comments); empty cells are ``""``; blank lines are dropped.
    """
    path = Path(path)
    skip = _leading_comment_lines(path) if skip_comment_lines else 0
    _check_header(path, skip)
    return _read_cells(path, skip=skip, header=True)


def _require_columns(path: Path, table: pd.DataFrame, required, header_line: int = 1,
                     what: str = "") -> None:
    missing = [name for name in required if name not in table.columns]
    if missing:
        names = ", ".join(f"'{name}'" for name in missing)
        raise InputProblem(path, f"required {what}column(s) {names} missing from the header",
                           row=header_line, column=missing[0],
                           fix=f"add the column(s); required are: {', '.join(required)}")


def _preview(names, limit: int = 8) -> str:
    names = [str(name) for name in names]
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown}, ... ({len(names)} in all)"


def _select_sample_column(path: Path, sample_columns: list[str], column: str | None,
                          header_line: int) -> str:
    """The sample column named by ``column``; with none named, the file's only sample column."""
    if not column:
        if len(sample_columns) == 1:
            return sample_columns[0]
        raise SampleColumnProblem(
            path, f"the file holds {len(sample_columns)} sample columns ({_preview(sample_columns)}) "
                  "and no column was named", row=header_line,
            fix="set `column` in the sample sheet to this sample's column")
    if column not in sample_columns:
        raise SampleColumnProblem(
            path, f"there is no sample column '{column}'; the sample columns are "
                  f"{_preview(sample_columns)}", row=header_line, column=column,
            fix="correct `column` in the sample sheet to one of these names")
    return column


def _first_bad(mask: pd.DataFrame | pd.Series) -> tuple[object, object, int]:
    """(line, column, how many) of the first True cell of ``mask`` in reading order."""
    if isinstance(mask, pd.Series):
        mask = mask.to_frame()
    rows, cols = np.nonzero(mask.to_numpy())
    return mask.index[rows[0]], mask.columns[cols[0]], len(rows)


def _more(count: int) -> str:
    return "" if count <= 1 else f" (and {count - 1} more cell(s) like it)"


def _check_identifiers(path: Path, identifiers: pd.Series, column_label: str, what: str) -> None:
    """Identifiers must be non-empty, unique, follow the feature grammar and not be spreadsheet dates.

    ``identifiers`` is indexed by line.
    """
    empty = identifiers == ""
    if empty.any():
        line = empty.idxmax()
        raise InputProblem(path, f"the {what} identifier is empty", row=line, column=column_label,
                           fix=f"give every row a {what} identifier")
    _check_feature_names(path, identifiers, column_label, what)
    duplicated = identifiers.duplicated()
    if duplicated.any():
        line = duplicated.idxmax()
        name = identifiers[line]
        first = identifiers.index[identifiers == name][0]
        raise InputProblem(path, f"{what} '{name}' appears more than once (lines {first} and {line})",
                           row=line, column=column_label,
                           fix=f"keep one row per {what} (sum or remove duplicates upstream)")


def _check_feature_names(path: Path, names: pd.Series, column_label: str, what: str) -> None:
    """Report the first name that breaks the feature grammar or is a spreadsheet-mangled date."""
    if usable_feature_names(names):
        return
    for line, name in names.items():
        if name == "":
            continue
        fix = excel_mangled(name)
        if fix:
            raise InputProblem(path, f"{what} '{name}' looks like a date made by a spreadsheet from a "
                                     "gene symbol", row=line, column=column_label, fix=fix)
        problem = feature_problem(name)
        if problem:
            raise InputProblem(path, f"{what} identifier {name!r} {problem}", row=line,
                               column=column_label, fix=f"use {FEATURE_ID_GRAMMAR}")


def _checked_upstream(path: Path, values):
    """An upstream tool's features (the index of what its reader returns) pass the same name checks as
    ours: the feature grammar and no spreadsheet-mangled symbols. Their lines are not known after the
    reader's aggregation, so a problem names the file and the value."""
    names = pd.Series([str(name) for name in values.index], index=[None] * len(values.index), dtype=object)
    _check_feature_names(path, names, "gene", "gene")
    return values


# --------------------------------------------------------------------------------------------
# Mutations
# --------------------------------------------------------------------------------------------

def read_maf(path: str | os.PathLike, barcode: str | None = None) -> pd.DataFrame:
    """Read a MAF (mutation annotation format) file, every column as strings.

    ``#`` lines at the top (e.g. ``#version 2.4``) are skipped. With ``barcode``, only the rows
    whose ``Tumor_Sample_Barcode`` equals it are returned; zero rows is valid (no mutations).
    """
    path = Path(path)
    from trialomics import upstream  # imported here: it builds on this module
    upstream_format = upstream.detect_format(path)
    if upstream_format is not None:
        return upstream.read_upstream_maf(path, upstream_format, barcode)
    table = read_string_table(path, skip_comment_lines=True)
    header_line = _leading_comment_lines(path) + 1
    _require_columns(path, table, MAF_REQUIRED_COLUMNS, header_line, what="MAF ")
    _check_feature_names(path, table["Hugo_Symbol"], "Hugo_Symbol", "gene")
    if barcode:
        table = table[table["Tumor_Sample_Barcode"] == barcode]
    return table.reset_index(drop=True)


def maf_reader(path: str | os.PathLike) -> Callable[[str | None], pd.DataFrame]:
    """Read a MAF once; returns ``rows(barcode)``, which gives :func:`read_maf` of that barcode.

    A GDC or cohort MAF holds every sample: the ingestion reads it once for all of them.
    """
    table = read_maf(path)
    positions = table.groupby("Tumor_Sample_Barcode", sort=False).indices
    nothing = np.zeros(0, dtype=np.intp)

    def rows(barcode: str | None) -> pd.DataFrame:
        if not barcode:
            return table.copy()
        return table.iloc[positions.get(barcode, nothing)].reset_index(drop=True)

    return rows


# --------------------------------------------------------------------------------------------
# Numeric matrices (copy number, proteins)
# --------------------------------------------------------------------------------------------

def _parse_numbers(path: Path, cells: pd.DataFrame) -> pd.DataFrame:
    """Floats from text cells; empty, ``NA`` and ``NaN`` become NaN, anything else must be finite."""
    missing = cells.isin(MISSING_TOKENS)
    numbers = cells.mask(missing).apply(pd.to_numeric, errors="coerce").astype(float)
    bad = ~missing & ~np.isfinite(numbers)
    if bad.to_numpy().any():
        line, column, count = _first_bad(bad)
        raise InputProblem(path, f"'{cells.at[line, column]}' is not a number" + _more(count),
                           row=line, column=str(column),
                           fix="write numbers with a decimal point, and leave missing values empty or NA")
    return numbers


def read_feature_matrix(path: str | os.PathLike, column: str | None = None) -> pd.DataFrame:
    """Read a features x samples matrix of numbers (copy number, proteins).

    The first column holds the feature identifier (gene symbol, protein), the other columns one
    sample each. Empty, ``NA`` and ``NaN`` cells are missing (NaN).

    Returns
    -------
    DataFrame of floats indexed by feature (strings, index name ``feature``), one column per
    sample; with ``column``, only that sample's column.
    """
    path = Path(path)
    from trialomics import upstream, upstream_copy_number  # imported here: they build on this module
    upstream_format = upstream.detect_format(path)
    if upstream_format is not None:
        return _checked_upstream(path, upstream_copy_number.read_copy_number(path, upstream_format, column))
    header = _check_header(path, 0)
    if len(header) < 2:
        raise InputProblem(path, "the header names no sample column", row=1,
                           fix="give the feature identifier first, then one column per sample")
    sample_columns = header[1:]
    if column:
        sample_columns = [_select_sample_column(path, sample_columns, column, 1)]
    cells = _read_cells(path, usecols=[0, *(header.index(name) for name in sample_columns)])
    features = cells[header[0]]
    _check_identifiers(path, features, header[0], "feature")
    numbers = _parse_numbers(path, cells[sample_columns])
    numbers.index = pd.Index(features.to_numpy(), name="feature", dtype=object)
    return numbers


def read_proteins(path: str | os.PathLike, column: str | None = None,
                  olink: dict | None = None) -> pd.DataFrame:
    """Read protein abundances, as a matrix or in Olink-style long format.

    ``olink`` holds the rules for Olink NPX exports (``qc``, ``lod``, ``plate``; see
    :func:`trialomics.upstream_proteins.read_olink`); other formats ignore it.

    A table with ``SampleID``, ``Assay`` and ``NPX`` columns is long format and is pivoted to
    assays x samples (``column`` selects a ``SampleID``); anything else is read with
    :func:`read_feature_matrix`. Values are returned as read: zeros stay zeros (the proteins stage
    decides that a raw intensity of 0 is missing).
    """
    path = Path(path)
    from trialomics import upstream, upstream_proteins  # imported here: they build on this module
    upstream_format = upstream.detect_format(path)
    if upstream_format is not None:
        return _checked_upstream(path, upstream_proteins.read_proteins(path, upstream_format, column,
                                                                      **(olink or {})))
    header = _check_header(path, 0)
    if not all(name in header for name in PROTEIN_LONG_COLUMNS):
        return read_feature_matrix(path, column)

    cells = read_string_table(path)[list(PROTEIN_LONG_COLUMNS)]
    for name in ("SampleID", "Assay"):
        empty = cells[name] == ""
        if empty.any():
            raise InputProblem(path, f"the {name} is empty", row=empty.idxmax(), column=name,
                               fix=f"give every row a {name}")
    _check_feature_names(path, cells["Assay"], "Assay", "assay")
    if column:
        if not (cells["SampleID"] == column).any():
            raise SampleColumnProblem(
                path, f"there is no SampleID '{column}'; the SampleIDs are "
                      f"{_preview(cells['SampleID'].unique())}", row=1, column="SampleID",
                fix="correct `column` in the sample sheet to one of these SampleIDs")
        cells = cells[cells["SampleID"] == column]
    pair = cells["SampleID"] + "\t" + cells["Assay"]
    duplicated = pair.duplicated()
    if duplicated.any():
        line = duplicated.idxmax()
        first = pair.index[pair == pair[line]][0]
        raise InputProblem(
            path, f"assay '{cells.at[line, 'Assay']}' is given twice for SampleID "
                  f"'{cells.at[line, 'SampleID']}' (lines {first} and {line})",
            row=line, column="Assay", fix="keep one NPX value per sample and assay")
    npx = _parse_numbers(path, cells[["NPX"]])["NPX"]
    long = pd.DataFrame({"feature": cells["Assay"], "sample": cells["SampleID"], "value": npx})
    matrix = long.pivot(index="feature", columns="sample", values="value")
    # pivot sorts; keep the order in which assays and samples first appear in the file
    matrix = matrix.reindex(index=long["feature"].unique(), columns=long["sample"].unique())
    matrix.index = pd.Index(matrix.index.astype(str), name="feature", dtype=object)
    matrix.columns = pd.Index(matrix.columns.astype(str), name=None, dtype=object)
    return matrix.astype(float)


# --------------------------------------------------------------------------------------------
# Clinical tables
# --------------------------------------------------------------------------------------------

def _dates(path: Path, cells: pd.Series, column: str, required: bool) -> pd.Series:
    parsed = pd.to_datetime(cells.where(cells != "", None), format=_DATE_FORMAT, errors="coerce")
    bad = parsed.isna() & ((cells != "") | required)
    if bad.any():
        line, _, count = _first_bad(bad)
        value = cells[line]
        problem = "the date is empty" if value == "" else f"'{value}' is not a date"
        raise InputProblem(path, problem + _more(count), row=line, column=column,
                           fix="write dates as YYYY-MM-DD")
    return parsed.astype("datetime64[ns]")


def _floats(path: Path, cells: pd.Series, column: str, allowed: set[float] | None = None,
            minimum: float | None = None, maximum: float | None = None) -> pd.Series:
    missing = cells.isin(MISSING_TOKENS)
    numbers = pd.to_numeric(cells.mask(missing), errors="coerce").astype(float)
    bad = ~missing & ~np.isfinite(numbers)
    if allowed is not None:
        bad |= ~missing & ~numbers.isin(allowed)
    if minimum is not None:
        bad |= ~missing & (numbers < minimum)
    if maximum is not None:
        bad |= ~missing & (numbers > maximum)
    if bad.any():
        line, _, count = _first_bad(bad)
        too_large = maximum is not None and numbers[line] > maximum
        expected = (f"one of {', '.join(f'{v:g}' for v in sorted(allowed))}" if allowed is not None
                    else f"a plausible value (at most {maximum:g})" if too_large
                    else f"a number >= {minimum:g}" if minimum is not None else "a number")
        raise InputProblem(path, f"'{cells[line]}' is not {expected}" + _more(count), row=line,
                           column=column, fix="correct the value, or leave it empty when unknown")
    return numbers


def _read_clinical(path: str | os.PathLike, required: tuple[str, ...]) -> tuple[Path, pd.DataFrame]:
    path = Path(path)
    table = read_string_table(path)
    _require_columns(path, table, required)
    return path, table


def read_patients(path: str | os.PathLike) -> pd.DataFrame:
    """Read patients.tsv: one row per patient.

    Returns
    -------
    DataFrame with ``patient_id`` (str); ``treatment_start``, ``last_contact``, ``death_date``
    as datetime64[ns] (``death_date`` NaT when empty or absent); when present, ``bor`` (str),
    ``pfs_months``, ``os_months`` (float) and ``pfs_event``, ``os_event`` (float 0/1), NaN when
    empty; every other column as strings (``""`` when empty).
    """
    path, table = _read_clinical(path, ("patient_id", "treatment_start", "last_contact"))
    patients = table.copy()
    for column in ("treatment_start", "last_contact"):
        patients[column] = _dates(path, table[column], column, required=True)
    if "death_date" in table.columns:
        patients["death_date"] = _dates(path, table["death_date"], "death_date", required=False)
    else:
        patients["death_date"] = pd.Series(pd.NaT, index=table.index, dtype="datetime64[ns]")
    for column in ("pfs_months", "os_months"):
        if column in table.columns:
            patients[column] = _floats(path, table[column], column, minimum=0.0, maximum=MAX_MONTHS)
    for column in ("pfs_event", "os_event"):
        if column in table.columns:
            patients[column] = _floats(path, table[column], column, allowed={0.0, 1.0})
    return patients.reset_index(drop=True)


def read_recist(path: str | os.PathLike) -> pd.DataFrame:
    """Read recist.tsv: one row per patient and tumour assessment.

    Returns
    -------
    DataFrame with ``patient_id`` (str), ``date`` (datetime64[ns]), ``target_sum_mm`` (float, NaN
    when not measured), ``non_target`` (upper case) and ``new_lesion`` (lower case ``yes``/``no``),
    then any other column as strings.
    """
    path, table = _read_clinical(
        path, ("patient_id", "date", "target_sum_mm", "non_target", "new_lesion"))
    recist = table.copy()
    recist["date"] = _dates(path, table["date"], "date", required=True)
    recist["target_sum_mm"] = _floats(path, table["target_sum_mm"], "target_sum_mm", minimum=0.0,
                                      maximum=MAX_TARGET_SUM_MM)
    recist["non_target"] = table["non_target"].str.upper()
    recist["new_lesion"] = table["new_lesion"].str.lower()
    return recist.reset_index(drop=True)


def read_adverse_events(path: str | os.PathLike) -> pd.DataFrame:
    """Read adverse_events.tsv: one row per adverse event.

    Returns
    -------
    DataFrame with ``patient_id`` and ``term`` (str), ``grade`` (int, CTCAE 1-5), ``onset_date``
    (datetime64[ns]) and ``related`` (lower case ``yes``/``no``), then any other column as strings.
    """
    path, table = _read_clinical(path, ("patient_id", "term", "grade", "onset_date", "related"))
    events = table.copy()
    grades = _floats(path, table["grade"], "grade", allowed={1.0, 2.0, 3.0, 4.0, 5.0})
    if grades.isna().any():
        line = grades.isna().idxmax()
        raise InputProblem(path, "the grade is empty", row=line, column="grade",
                           fix="give the CTCAE grade, 1 to 5")
    events["grade"] = grades.astype(np.int64)
    events["onset_date"] = _dates(path, table["onset_date"], "onset_date", required=True)
    events["related"] = table["related"].str.lower()
    return events.reset_index(drop=True)

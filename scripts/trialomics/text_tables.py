"""Reading the workflow's own tab-separated tables: the rules every reader of them shares.

:mod:`trialomics.readers` (clinical tables, MAFs, numeric matrices) and :mod:`trialomics.counts_readers`
(RNA count files) read their formats with these helpers, so that a file is read the same way whatever
it holds: cells are stripped strings (identifiers stay strings: ``007`` stays ``007``), rows are indexed
by the line a person sees in an editor (the header is line 1), quotes are read as pandas reads them,
and a file that cannot be used raises :class:`~trialomics.errors.InputProblem` naming the file, line
and column, never a pandas traceback. Upstream tools' files have their own reading in
:mod:`trialomics.upstream`.
"""
from __future__ import annotations

import csv
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from trialomics.errors import InputProblem
from trialomics.identifiers import FEATURE_ID_GRAMMAR, excel_mangled, feature_problem, usable_feature_names


class SampleColumnProblem(InputProblem):
    """The ``column`` naming a sample in a multi-sample file is missing or does not exist.

    A subclass so that validation can point at the sample sheet's ``column`` cell as well.
    """


# --------------------------------------------------------------------------------------------
# Lines, header and cells
# --------------------------------------------------------------------------------------------

def leading_comment_lines(path: Path) -> int:
    """Number of lines at the top of ``path`` that start with ``#``."""
    count = 0
    with open(path, encoding="utf-8-sig", errors="replace") as handle:
        for line in handle:
            if not line.startswith("#"):
                break
            count += 1
    return count


def first_fields(path: Path, skip: int) -> list[str] | None:
    """The tab-separated fields of the line after the first ``skip`` lines, or None at the end.

    Quotes are read as pandas reads them in :func:`read_cells` (``"a b"`` is the field ``a b``), so
    that the header seen here and the columns read there agree.
    """
    with open(path, encoding="utf-8-sig", errors="replace") as handle:
        for number, line in enumerate(handle):
            if number == skip:
                fields = next(csv.reader([line.rstrip("\r\n")], delimiter="\t"), [""])
                return [field.strip() for field in fields] or [""]
    return None


#: pandas.read_csv's options for our tables: cells as written (no "NA" made missing), blank lines kept so that
#: rows can be numbered by line, quotes read as a spreadsheet writes them.
_CSV_OPTIONS = dict(sep="\t", keep_default_na=False, na_filter=False, skip_blank_lines=False, encoding="utf-8-sig",
                    quoting=csv.QUOTE_MINIMAL)


def read_cells(path: Path, skip: int = 0, header: bool = True,
               usecols: list[int] | None = None) -> pd.DataFrame:
    """Read a tab-separated file as stripped strings, indexed by 1-based line number.

    Blank lines are dropped but still counted, so the index is the line a person sees in an
    editor. Without a header the columns are numbered from 1, like the columns of the file.
    ``usecols`` (0-based column positions) reads only those columns, which is much faster for
    one sample of a wide matrix.
    """
    try:
        table = pd.read_csv(path, dtype=str, skiprows=skip, header=0 if header else None, usecols=usecols,
                            **_CSV_OPTIONS)
    except pd.errors.EmptyDataError:
        raise InputProblem(path, "the file is empty",
                           fix="give a tab-separated file with a header row") from None
    except pd.errors.ParserError as error:
        long_row = first_long_row(path, skip)
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
        raise InputProblem(path, "a row has more cells than the header", row=first_long_row(path, skip),
                           fix="make every row have as many tab-separated cells as the header")
    table = table.fillna("")
    if header:
        table.columns = [str(name).strip() for name in table.columns]
    else:
        table.columns = list(range(1, table.shape[1] + 1))
    if has_padding(path):
        table = table.apply(lambda cells: cells.str.strip())
    first_data_line = skip + (2 if header else 1)
    table.index = pd.RangeIndex(first_data_line, first_data_line + len(table), name="line")
    return table[(table != "").any(axis=1)]


def read_number_columns(path: Path, skip: int, usecols: list[int]) -> pd.DataFrame | None:
    """What :func:`read_cells` reads of a table with a header, but with the columns of ``usecols`` after the
    first read by pandas' number parser; None unless that is certain to be the same table.

    Certain means: pandas reads the file without error into rows numbered by line, as :func:`read_cells` does
    (the same options, and the same ``usecols``: pandas' reading of a row longer than the header depends on
    them); every cell after the first column is a number, so no row is blank or dropped; and no cell of the
    first column is padded, so :func:`read_cells`' stripping (decided for the whole file) would leave it as
    it is. Number cells need no stripping: pandas' number parser, like the string reading's, ignores the
    spaces around a number.

    When it is not certain, the caller reads the table as strings, which reports a problem by line and
    column. A cohort's matrix read as strings holds every cell as a Python object; read as numbers, 8 bytes
    a cell. Upstream tools' tables have their own twin, :func:`trialomics.upstream.read_delimited_numbers`:
    their quotes, separators and compression are read otherwise.
    """
    try:
        with warnings.catch_warnings():
            # A long column of numbers then text (pandas reads it in chunks) is not numbers: None says so, not a
            # warning in the job's log.
            warnings.simplefilter("ignore", pd.errors.DtypeWarning)
            # dtype's integer key is a position in the file: the first column's cells stay strings ("007", "1e5")
            table = pd.read_csv(path, dtype={usecols[0]: str}, skiprows=skip, header=0, usecols=usecols,
                                **_CSV_OPTIONS)
    except ValueError:   # pandas' EmptyDataError and ParserError, and UnicodeDecodeError, are ValueErrors
        return None
    if not isinstance(table.index, pd.RangeIndex):
        return None
    table.columns = [str(name).strip() for name in table.columns]
    text = table.iloc[:, 0]
    if (text != text.str.strip()).any():   # a missing cell (NaN) is not equal to itself either
        return None
    for dtype in table.dtypes.iloc[1:]:
        if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
            return None
    table.index = pd.RangeIndex(skip + 2, skip + 2 + len(table), name="line")
    return table


# A space at the start or end of a cell, or a carriage return (Windows line ends).
_PADDING = re.compile(rb"(^|\t) | (\t|$)|\r", re.MULTILINE)


def has_padding(path: Path) -> bool:
    """Whether any cell may need stripping; most files need none, and stripping is the slow part."""
    return _PADDING.search(path.read_bytes()) is not None


def first_long_row(path: Path, skip: int) -> int | None:
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


def check_header(path: Path, skip: int) -> list[str]:
    """The header fields of a table; duplicated or empty column names are an InputProblem."""
    fields = first_fields(path, skip)
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


# --------------------------------------------------------------------------------------------
# Sample columns
# --------------------------------------------------------------------------------------------

def preview(names, limit: int = 8) -> str:
    """The first ``limit`` names, comma-separated, and how many there are in all when more."""
    names = [str(name) for name in names]
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown}, ... ({len(names)} in all)"


def select_sample_column(path: Path, sample_columns: list[str], column: str | None,
                         header_line: int) -> str:
    """The sample column named by ``column``; with none named, the file's only sample column."""
    if not column:
        if len(sample_columns) == 1:
            return sample_columns[0]
        raise SampleColumnProblem(
            path, f"the file holds {len(sample_columns)} sample columns ({preview(sample_columns)}) "
                  "and no column was named", row=header_line,
            fix="set `column` in the sample sheet to this sample's column")
    if column not in sample_columns:
        raise SampleColumnProblem(
            path, f"there is no sample column '{column}'; the sample columns are "
                  f"{preview(sample_columns)}", row=header_line, column=column,
            fix="correct `column` in the sample sheet to one of these names")
    return column


# --------------------------------------------------------------------------------------------
# Bad cells and identifiers
# --------------------------------------------------------------------------------------------

def first_bad_cell(mask: pd.DataFrame | pd.Series) -> tuple[object, object, int]:
    """(line, column, how many) of the first True cell of ``mask`` in reading order."""
    if isinstance(mask, pd.Series):
        mask = mask.to_frame()
    rows, cols = np.nonzero(mask.to_numpy())
    return mask.index[rows[0]], mask.columns[cols[0]], len(rows)


def more_like_it(count: int) -> str:
    """The end of a problem's message that says how many other cells have it too (none: nothing)."""
    return "" if count <= 1 else f" (and {count - 1} more cell(s) like it)"


def check_identifiers(path: Path, identifiers: pd.Series, column_label: str, what: str) -> None:
    """Identifiers must be non-empty, unique, follow the feature grammar and not be spreadsheet dates.

    ``identifiers`` is indexed by line.
    """
    empty = identifiers == ""
    if empty.any():
        line = empty.idxmax()
        raise InputProblem(path, f"the {what} identifier is empty", row=line, column=column_label,
                           fix=f"give every row a {what} identifier")
    check_feature_names(path, identifiers, column_label, what)
    duplicated = identifiers.duplicated()
    if duplicated.any():
        line = duplicated.idxmax()
        name = identifiers[line]
        first = identifiers.index[identifiers == name][0]
        raise InputProblem(path, f"{what} '{name}' appears more than once (lines {first} and {line})",
                           row=line, column=column_label,
                           fix=f"keep one row per {what} (sum or remove duplicates upstream)")


def check_feature_names(path: Path, names: pd.Series, column_label: str, what: str) -> None:
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


def checked_upstream(path: Path, values):
    """An upstream tool's features (the index of what its reader returns) pass the same name checks as
    ours: the feature grammar and no spreadsheet-mangled symbols. Their lines are not known after the
    reader's aggregation, so a problem names the file and the value."""
    names = pd.Series([str(name) for name in values.index], index=[None] * len(values.index), dtype=object)
    check_feature_names(path, names, "gene", "gene")
    return values

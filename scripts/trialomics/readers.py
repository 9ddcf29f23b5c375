"""The input file formats the workflow accepts, read into pandas: clinical tables, MAFs, numeric matrices.

With :mod:`trialomics.counts_readers` (RNA count files) and the ``upstream`` modules (upstream tools'
files) these are the only modules that know file formats (see ``config/README.md``). Tables are read with
the rules of :mod:`trialomics.text_tables`: every reader returns plain pandas objects with identifiers as
strings (``007`` stays ``007``) and raises :class:`~trialomics.errors.InputProblem` naming the file, line
(the header is line 1) and column when a file cannot be used, never a pandas traceback.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from trialomics.errors import InputProblem
from trialomics.text_tables import (
    SampleColumnProblem,
    check_feature_names,
    check_header,
    check_identifiers,
    checked_upstream,
    first_bad_cell,
    leading_comment_lines,
    more_like_it,
    preview,
    read_cells,
    select_sample_column,
)

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

# Dates in the clinical tables are ISO dates.
_DATE_FORMAT = "%Y-%m-%d"


# --------------------------------------------------------------------------------------------
# Tables of strings
# --------------------------------------------------------------------------------------------

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
    skip = leading_comment_lines(path) if skip_comment_lines else 0
    check_header(path, skip)
    return read_cells(path, skip=skip, header=True)


def _require_columns(path: Path, table: pd.DataFrame, required, header_line: int = 1,
                     what: str = "") -> None:
    missing = [name for name in required if name not in table.columns]
    if missing:
        names = ", ".join(f"'{name}'" for name in missing)
        raise InputProblem(path, f"required {what}column(s) {names} missing from the header",
                           row=header_line, column=missing[0],
                           fix=f"add the column(s); required are: {', '.join(required)}")


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
    header_line = leading_comment_lines(path) + 1
    _require_columns(path, table, MAF_REQUIRED_COLUMNS, header_line, what="MAF ")
    check_feature_names(path, table["Hugo_Symbol"], "Hugo_Symbol", "gene")
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
        line, column, count = first_bad_cell(bad)
        raise InputProblem(path, f"'{cells.at[line, column]}' is not a number" + more_like_it(count),
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
        return checked_upstream(path, upstream_copy_number.read_copy_number(path, upstream_format, column))
    header = check_header(path, 0)
    if len(header) < 2:
        raise InputProblem(path, "the header names no sample column", row=1,
                           fix="give the feature identifier first, then one column per sample")
    sample_columns = header[1:]
    if column:
        sample_columns = [select_sample_column(path, sample_columns, column, 1)]
    cells = read_cells(path, usecols=[0, *(header.index(name) for name in sample_columns)])
    features = cells[header[0]]
    check_identifiers(path, features, header[0], "feature")
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
        return checked_upstream(path, upstream_proteins.read_proteins(path, upstream_format, column,
                                                                      **(olink or {})))
    header = check_header(path, 0)
    if not all(name in header for name in PROTEIN_LONG_COLUMNS):
        return read_feature_matrix(path, column)

    cells = read_string_table(path)[list(PROTEIN_LONG_COLUMNS)]
    for name in ("SampleID", "Assay"):
        empty = cells[name] == ""
        if empty.any():
            raise InputProblem(path, f"the {name} is empty", row=empty.idxmax(), column=name,
                               fix=f"give every row a {name}")
    check_feature_names(path, cells["Assay"], "Assay", "assay")
    if column:
        if not (cells["SampleID"] == column).any():
            raise SampleColumnProblem(
                path, f"there is no SampleID '{column}'; the SampleIDs are "
                      f"{preview(cells['SampleID'].unique())}", row=1, column="SampleID",
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
        line, _, count = first_bad_cell(bad)
        value = cells[line]
        problem = "the date is empty" if value == "" else f"'{value}' is not a date"
        raise InputProblem(path, problem + more_like_it(count), row=line, column=column,
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
        line, _, count = first_bad_cell(bad)
        too_large = maximum is not None and numbers[line] > maximum
        expected = (f"one of {', '.join(f'{v:g}' for v in sorted(allowed))}" if allowed is not None
                    else f"a plausible value (at most {maximum:g})" if too_large
                    else f"a number >= {minimum:g}" if minimum is not None else "a number")
        raise InputProblem(path, f"'{cells[line]}' is not {expected}" + more_like_it(count), row=line,
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

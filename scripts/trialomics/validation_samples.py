"""Checks of the sample sheet and of each sample's data file.

Each data file is read once (several samples may share a matrix or a MAF) with the reader of its
modality; its problems are reported under the file name the user wrote. Beyond what the readers
check, each sample's values must lie in the modality's plausible range, a copy-number file of calls
must hold calls, and every MAF row must go to the sample it belongs to.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd

from trialomics.counts_readers import rna_counts_reader
from trialomics.errors import InputProblem
from trialomics.readers import (
    read_feature_matrix,
    read_maf,
    read_proteins,
)
from trialomics.text_tables import SampleColumnProblem
from trialomics.upstream import setting_conflict
from trialomics.validation_report import (
    Report,
    Table,
    config_section,
    file_problem,
    in_table_path,
    report_duplicates,
    report_unknown_patients,
)
from trialomics.validation_values import (
    MafUse,
    implausible_value,
    is_long_protein_table,
    maf_barcode_problems,
    plausible_range,
)

_NO_VALUES_FIX = ("remove the sample from the sample sheet, or point it at the file or column that holds "
                  "its data")

#: Integer copy-number calls (GISTIC style).
COPY_NUMBER_CALLS = (-2, -1, 0, 1, 2)


class _DataFiles:
    """Reads each data file once, remembering the result or the problem until :meth:`forget`.

    ``rna_columns`` names, per counts file, the columns of every sample the sheet points at it: a
    cohort-wide counts table is read once for all of them (:func:`counts_readers.rna_counts_reader`).
    """

    def __init__(self, rna_columns: dict[Path, list[str | None]] | None = None) -> None:
        self._results: dict[tuple, object] = {}
        self._rna_columns = rna_columns or {}

    def read(self, reader, *arguments):
        key = (reader.__name__, *arguments)
        if key not in self._results:
            try:
                self._results[key] = reader(*arguments)
            except InputProblem as problem:
                self._results[key] = problem
        result = self._results[key]
        if isinstance(result, InputProblem):
            raise result
        return result

    def rna_counts(self, path: Path, column: str | None, star_count_column: int) -> pd.Series:
        columns = tuple(self._rna_columns.get(path, [column]))
        return self.read(rna_counts_reader, path, columns, star_count_column)(column)

    def forget(self, path: Path) -> None:
        """Drop what was read of ``path`` (every reader's first argument is its file)."""
        for key in [key for key in self._results if key[1] == path]:
            del self._results[key]


def _check_sample_data(report: Report, sheet: Table, line: int, display: str, path: Path,
                       config: dict, files: _DataFiles) -> None:
    """Check that the data file holds this sample, in a form its modality can use."""
    row = sheet.cells.loc[line]
    sample, modality, column = row["sample_id"], row["modality"], row.get("column", "")
    bounds = plausible_range(modality, config)
    try:
        if modality == "rna":
            star_count_column = config_section(config, "rna").get("star_count_column")
            if star_count_column in (2, 3, 4):  # otherwise the config problem is reported
                counts = files.rna_counts(path, column or None, star_count_column)
                _report_implausible(report, display, path, counts.to_frame(column or sample), bounds,
                                    "matrix" if column else "headerless")
                if not (counts > 0).any():
                    report.add(sheet.display, f"sample '{sample}' has no reads in {display}"
                                              + (f" (column '{column}')" if column else ""),
                               row=line, column="path", fix=_NO_VALUES_FIX)
        elif modality == "mutations":
            # one read per MAF; the sample's rows are those with its Tumor_Sample_Barcode
            barcodes = files.read(read_maf, path)["Tumor_Sample_Barcode"]
            if not column and barcodes.nunique() > 1:
                raise SampleColumnProblem(
                    path, f"the MAF holds {barcodes.nunique()} tumour barcodes and no column was named",
                    fix="set `column` in the sample sheet to this sample's Tumor_Sample_Barcode")
            if (barcodes == column).sum() == 0 if column else barcodes.empty:
                where = f"barcode '{column}' has no rows in {display}" if column else f"{display} has no rows"
                report.warn(f"sample {sample} has no mutations in {display} ({where}): treated as no "
                            "mutations (TMB 0)")
        elif modality in ("copy_number", "proteins"):
            reader = read_feature_matrix if modality == "copy_number" else read_proteins
            matrix = files.read(reader, path)
            conflict = setting_conflict(path, config)  # e.g. Olink NPX with proteins.scale: raw
            if conflict is not None:
                raise conflict
            if column and column not in matrix.columns:
                raise SampleColumnProblem(
                    path, f"there is no sample '{column}'; the file's samples are "
                          f"{', '.join(map(str, matrix.columns[:8]))}"
                          f"{', ...' if matrix.shape[1] > 8 else ''}",
                    fix="correct `column` in the sample sheet to one of these names")
            if not column and matrix.shape[1] > 1:
                raise SampleColumnProblem(
                    path, f"the file holds {matrix.shape[1]} samples and no column was named",
                    fix="set `column` in the sample sheet to this sample's column")
            if modality == "copy_number" and config_section(config, "copy_number").get("values") == "calls":
                _report_non_calls(report, display, matrix)
            values = matrix[[column]] if column else matrix
            layout = "long" if modality == "proteins" and is_long_protein_table(path) else "matrix"
            _report_implausible(report, display, path, values, bounds, layout)
            # a raw intensity of 0 means "not detected" (the proteins stage treats it as missing)
            raw = modality == "proteins" and config_section(config, "proteins").get("scale", "raw") == "raw"
            usable = values.notna() & ~((values == 0) if raw else False)
            if len(values) and not usable.to_numpy().any():
                report.add(sheet.display, f"sample '{sample}' has no usable value in {display}"
                                          + (f" (column '{column}' is all empty, NA" + (" or 0" if raw else "")
                                             + ")" if column else ""),
                           row=line, column="path", fix=_NO_VALUES_FIX)
    except SampleColumnProblem as problem:
        report.add(sheet.display, f"{display}: {problem.message}", row=line, column="column",
                   fix=problem.fix)
    except InputProblem as problem:
        report.add_relocated(problem, display)


def _report_implausible(report: Report, display: str, path: Path, values: pd.DataFrame,
                        bounds, layout: str) -> None:
    """Report the first value outside the modality's plausible range (config ``plausible_ranges``)."""
    problem = implausible_value(path, values, bounds, layout) if bounds is not None else None
    if problem is not None:
        report.add_relocated(problem, display)


def _report_non_calls(report: Report, display: str, matrix: pd.DataFrame) -> None:
    """With ``copy_number.values: calls``, every value must be an integer call (once per file)."""
    bad = matrix.notna() & ~matrix.isin(COPY_NUMBER_CALLS)
    rows, columns = bad.to_numpy().nonzero()
    if len(rows):
        feature, sample = matrix.index[rows[0]], matrix.columns[columns[0]]
        more = f" (and {len(rows) - 1} more cell(s) like it)" if len(rows) > 1 else ""
        report.add(display, f"feature '{feature}' has {matrix.iat[rows[0], columns[0]]:g}, which is not "
                            f"a copy-number call (-2, -1, 0, 1 or 2){more}", column=str(sample),
                   fix="give integer calls, or set copy_number.values: log2_ratio for log2 ratios")


def _check_maf_barcodes(report: Report, sheet: Table, maf_uses: dict[Path, tuple[str, list[MafUse]]],
                        files: _DataFiles) -> None:
    """Every MAF row goes to the sample it belongs to, or is reported as unused."""
    owners: dict[str, tuple[str, int]] = {}
    for uses in (entry[1] for entry in maf_uses.values()):
        for use in uses:
            owners.setdefault(use.sample, (use.sample, use.line))
            if use.barcode:
                owners[use.barcode] = (use.sample, use.line)
    for path, (display, uses) in maf_uses.items():
        try:
            barcodes = files.read(read_maf, path)["Tumor_Sample_Barcode"]
        except InputProblem:
            continue  # already reported with the sample
        problems, warnings = maf_barcode_problems(display, barcodes, uses, owners)
        for line, message, fix in problems:
            report.add(sheet.display, message, row=line, column="column", fix=fix)
        for warning in warnings:
            report.warn(warning)


def check_samples(report: Report, sheet: Table, patients: pd.DataFrame | None,
                   config: dict) -> pd.DataFrame:
    """Check the sample sheet and each sample's data; return it with paths resolved and defaults."""
    cells = sheet.cells
    for column, default in (("column", ""), ("batch", ""), ("timepoint", "")):
        if column not in cells.columns:
            cells[column] = default
    cells["timepoint"] = cells["timepoint"].replace("", "baseline")
    report_duplicates(report, sheet, ["sample_id"], lambda key: f"sample_id '{key[0]}'",
                       "give every sample a distinct sample_id")
    report_unknown_patients(report, sheet, patients)
    report_duplicates(report, sheet, ["patient_id", "modality", "timepoint"],
                       lambda key: f"a {key[1]} sample of patient '{key[0]}' at timepoint '{key[2]}'",
                       "keep one sample per patient, modality and timepoint, or give distinct timepoints")
    # (display, resolved path) of every row's file, resolved once
    located = {line: in_table_path(sheet, text) if text else ("", Path()) for line, text in cells["path"].items()}
    rna_columns: dict[Path, list[str | None]] = {}
    modality = cells["modality"] if "modality" in cells.columns else pd.Series("", index=cells.index)
    for line in cells.index[(modality == "rna") & (cells["path"] != "")]:
        rna_columns.setdefault(located[line][1], []).append(cells.at[line, "column"] or None)
    files = _DataFiles(rna_columns)
    # A file's reading is kept while later rows point at it (a cohort-wide table), then dropped: held for
    # the whole sheet, 500 patients' files took the Snakemake process to 2.5 GB. MAFs are kept for the
    # barcode check after the loop.
    rows_left = Counter(located[line][1] for line, text in cells["path"].items() if text and sheet.usable(line, "path"))
    absolute = []
    maf_uses: dict[Path, tuple[str, list[MafUse]]] = {}
    for line, text in cells["path"].items():
        display, path = located[line]
        absolute.append(str(path) if text else "")
        if not sheet.usable(line, "path"):
            continue
        problem = file_problem(path)
        if problem:
            report.add(sheet.display, f"the file '{display}' {problem}", row=line, column="path",
                       fix="correct the path (relative to the folder of the sample sheet) or add the file")
        elif sheet.usable(line, "modality"):
            _check_sample_data(report, sheet, line, display, path, config, files)
            if cells.at[line, "modality"] == "mutations":
                maf_uses.setdefault(path, (display, []))[1].append(
                    MafUse(line, cells.at[line, "sample_id"], cells.at[line, "column"]))
        rows_left[path] -= 1
        if not rows_left[path] and path not in maf_uses:
            files.forget(path)
    _check_maf_barcodes(report, sheet, maf_uses, files)
    samples = cells.copy()
    samples["path"] = absolute
    leading = ["sample_id", "patient_id", "modality", "path", "column", "batch", "timepoint"]
    samples = samples[leading + [c for c in samples.columns if c not in leading]]
    return samples.reset_index(drop=True)

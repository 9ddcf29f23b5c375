"""Every check on the inputs, run before any job, reporting every problem at once.

:func:`validate_inputs` checks the config and each table against its JSON schema (row by row), then
the links between files: patients named by samples, assessments and adverse events exist; each
sample's data file exists and holds the sample; dates are consistent; contrasts name columns and
levels that exist. Each problem is one line naming the file (as the user wrote it), the line
(header = line 1) and the column, what is wrong and what to do; all of them are raised together as
:class:`~trialomics.errors.InputValidationError`.
"""
from __future__ import annotations

import copy
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd
import yaml
from jsonschema import Draft202012Validator, validators

from trialomics.errors import InputProblem, InputValidationError
from trialomics.identifiers import SAFE_ID_GRAMMAR, id_problem
from trialomics.upstream import setting_conflict
from trialomics.readers import (
    SampleColumnProblem,
    read_feature_matrix,
    read_maf,
    read_proteins,
    read_rna_counts,
    read_string_table,
)
from trialomics.validation_config import (
    ENDPOINTS,
    config_file_problems,
    derivable_labels,
    did_you_mean,
    underivable_requests,
)
from trialomics.validation_values import (
    MafUse,
    implausible_value,
    is_long_protein_table,
    maf_barcode_problems,
    plausible_range,
)

#: Response labels derived by the clinical stage; their levels are checked by the differential
#: stage once the labels exist, not here.
DERIVED_LABELS = ("responder", "clinical_benefit", "disease_control", "bor")

#: A contrast level needs at least this many patients to compare anything.
MIN_PATIENTS_PER_LEVEL = 2

#: Integer copy-number calls (GISTIC style).
COPY_NUMBER_CALLS = (-2, -1, 0, 1, 2)

SCHEMA_FILES = {
    "config": "config.schema.yaml",
    "samples": "samples.schema.yaml",
    "patients": "patients.schema.yaml",
    "recist": "recist.schema.yaml",
    "adverse_events": "adverse_events.schema.yaml",
}

# Columns read case-insensitively: normalised before the schema check, as the readers do.
_CASE_RULES: dict[str, dict[str, Callable[[str], str]]] = {
    "recist": {"non_target": str.upper, "new_lesion": str.lower},
    "adverse_events": {"related": str.lower},
}
_DATE_COLUMNS = {
    "patients": ("treatment_start", "last_contact", "death_date"),
    "recist": ("date",),
    "adverse_events": ("onset_date",),
}
# Identifiers that become parts of file names and wildcards (trialomics.identifiers).
_IDENTIFIER_COLUMNS = ("sample_id", "patient_id", "timepoint")
_BOUNDS = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}


@dataclass
class ValidatedInputs:
    """The outcome of a successful validation.

    ``samples`` is the sample sheet with ``path`` made absolute and ``column``, ``batch`` and
    ``timepoint`` filled (empty batch -> ``""``, empty timepoint -> ``"baseline"``); ``warnings``
    are things worth telling the user that do not stop the run; ``derivable`` the outcome labels
    the clinical tables can give (see :func:`trialomics.validation_config.derivable_labels`).
    """

    samples: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    derivable: frozenset[str] = frozenset()

    def derivable_endpoints(self) -> set[str]:
        """The endpoints (pfs, os, responder, clinical_benefit) the clinical tables can give."""
        return set(ENDPOINTS) & self.derivable

    def can_derive(self, variable: str) -> bool:
        """Whether a contrast on ``variable`` gets its levels: a patients.tsv column or a derivable label."""
        return variable not in DERIVED_LABELS or variable in self.derivable


@dataclass
class _Table:
    """One input table as strings, indexed by line number, with the cells already reported."""

    name: str
    display: str
    path: Path
    cells: pd.DataFrame
    reported: set[tuple[int, str]] = field(default_factory=set)

    def usable(self, line: int, column: str) -> bool:
        """True when the cell exists and no problem was reported for it yet."""
        return column in self.cells.columns and (line, column) not in self.reported


class _Report:
    """Collects problems (each once, in the order found) and warnings."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.warnings: list[str] = []

    def add(self, file: str, message: str, row: int | None = None, column: str | None = None,
            fix: str | None = None) -> None:
        self._append(InputProblem(file, message, row=row, column=column, fix=fix).line())

    def add_config(self, key: str, message: str, fix: str | None = None) -> None:
        self._append(f"config key '{key}': {message}" + (f" — {fix}" if fix else ""))

    def add_relocated(self, problem: InputProblem, display: str) -> None:
        """Report a reader's problem under the file name the user wrote."""
        self.add(display, problem.message, problem.row, problem.column, problem.fix)

    def warn(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)

    def _append(self, line: str) -> None:
        if line not in self.problems:
            self.problems.append(line)


# --------------------------------------------------------------------------------------------
# Schemas
# --------------------------------------------------------------------------------------------

def load_schema(schema_dir: Path, name: str) -> dict:
    """The JSON schema ``name`` (a key of :data:`SCHEMA_FILES`) from ``schema_dir``."""
    with open(Path(schema_dir) / SCHEMA_FILES[name], encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _validator_filling_defaults(schema: dict) -> Draft202012Validator:
    """A validator that sets each missing property's ``default`` before checking the properties.

    This is the behaviour of ``snakemake.utils.validate(set_default=True)``, but it yields every
    error instead of stopping at the first. Defaults are copied so that two configs never share
    one default object.
    """
    check_properties = Draft202012Validator.VALIDATORS["properties"]

    def fill_then_check(validator, properties, instance, subschema):
        if isinstance(instance, dict):
            for name, property_schema in properties.items():
                if "default" in property_schema and name not in instance:
                    instance[name] = copy.deepcopy(property_schema["default"])
        yield from check_properties(validator, properties, instance, subschema)

    extended = validators.extend(Draft202012Validator, {"properties": fill_then_check})
    return extended(schema)


def _section(config: dict, name: str) -> dict:
    """A config section, or {} when it is absent or not a mapping (a problem already reported)."""
    section = config.get(name)
    return section if isinstance(section, dict) else {}


def _key(path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _show(value) -> str:
    if isinstance(value, str):
        return f"'{value}'"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _expected(schema: dict) -> str | None:
    description = schema.get("description") if isinstance(schema, dict) else None
    return f"expected {' '.join(description.split())}" if description else None


def _report_config_errors(report: _Report, config: dict, schema: dict) -> None:
    """Check ``config`` (filling its defaults) and report every schema error by key path."""
    for error in _validator_filling_defaults(schema).iter_errors(config):
        path = list(error.absolute_path)
        value = error.instance
        kind = error.validator
        if kind == "required":
            for name in error.validator_value:
                if isinstance(value, dict) and name not in value:
                    description = error.schema.get("properties", {}).get(name, {}).get("description")
                    report.add_config(_key(path + [name]), "required key is missing",
                                      f"add it: {description}" if description else "add it")
            continue
        if kind == "additionalProperties":
            known = sorted(error.schema.get("properties", {}))
            for name in value:
                if name not in known:
                    report.add_config(_key(path + [name]), "unknown key", did_you_mean(str(name), known))
            continue
        if kind == "type" and isinstance(value, bool) and "string" in error.validator_value:
            # YAML 1.1 reads unquoted yes/no/on/off as booleans
            report.add_config(_key(path), f"{_show(value)} was read as a true/false value, not as text",
                              'write it in quotes, e.g. "no"')
            continue
        if kind == "type":
            wanted = error.validator_value
            wanted = " or ".join(wanted) if isinstance(wanted, list) else wanted
            message = f"{_show(value)} is not of type {wanted}"
        elif kind == "enum":
            message = f"{_show(value)} is not one of {', '.join(_show(v) for v in error.validator_value)}"
        elif kind in _BOUNDS:
            message = f"{_show(value)} is out of range: it must be {_BOUNDS[kind]} {error.validator_value}"
        elif kind == "pattern":
            message = f"{_show(value)} does not have the expected form"
        elif kind == "minLength":
            message = "is empty"
        elif kind == "minItems":
            message = "is an empty list"
        elif kind == "uniqueItems":
            message = "lists an item more than once"
        else:
            message = error.message
        report.add_config(_key(path) or "(top level)", message, _expected(error.schema))


def _report_config_consistency(report: _Report, config: dict) -> None:
    """Relations between config values that a schema cannot express."""
    cn = config.get("copy_number")
    if isinstance(cn, dict):
        numbers = {k: v for k, v in cn.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        if {"gain_threshold", "amplification_threshold"} <= set(numbers) and \
                numbers["amplification_threshold"] < numbers["gain_threshold"]:
            report.add_config("copy_number.amplification_threshold",
                              f"{numbers['amplification_threshold']} is below gain_threshold "
                              f"{numbers['gain_threshold']}",
                              "an amplification is a larger gain: make it >= gain_threshold")
        if {"loss_threshold", "deep_deletion_threshold"} <= set(numbers) and \
                numbers["deep_deletion_threshold"] > numbers["loss_threshold"]:
            report.add_config("copy_number.deep_deletion_threshold",
                              f"{numbers['deep_deletion_threshold']} is above loss_threshold "
                              f"{numbers['loss_threshold']}",
                              "a deep deletion is a larger loss: make it <= loss_threshold")


# --------------------------------------------------------------------------------------------
# Files and tables
# --------------------------------------------------------------------------------------------

def _file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be read as a file, or None."""
    if not path.exists():
        return "does not exist"
    if not path.is_file():
        return "is not a file"
    if not os.access(path, os.R_OK):
        return "is not readable"
    return None


def _config_table_path(report: _Report, config: dict, keys: tuple[str, ...],
                       workdir: Path) -> tuple[str, Path] | None:
    """(path as written, absolute path) of a table named in the config, when it can be read."""
    value = config
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    if not isinstance(value, str) or not value:
        return None  # absent, or already reported by the schema check
    path = Path(value) if Path(value).is_absolute() else workdir / value
    problem = _file_problem(path)
    if problem:
        report.add_config(".".join(keys), f"the file '{value}' {problem}",
                          f"correct the path (relative paths start from the working directory {workdir})")
        return None
    return value, path


def _load_table(report: _Report, name: str, display: str, path: Path, schema: dict) -> _Table | None:
    """Read a table, check its header and every row against its schema."""
    try:
        cells = read_string_table(path)
    except InputProblem as problem:
        report.add_relocated(problem, display)
        return None
    missing = [column for column in schema.get("required", []) if column not in cells.columns]
    for column in missing:
        description = " ".join(schema["properties"][column]["description"].split())
        report.add(display, "required column is missing from the header", row=1, column=column,
                   fix=f"add it: {description}")
    if missing:
        return None
    for column, normalise in _CASE_RULES.get(name, {}).items():
        cells[column] = cells[column].map(normalise)
    table = _Table(name, display, path, cells)
    validator = Draft202012Validator(schema)
    for line, record in zip(cells.index, cells.to_dict("records")):
        for error in validator.iter_errors(record):
            if error.validator == "required" or not error.path:
                continue  # missing columns were reported once, at the header
            column = str(error.path[0])
            value = record[column]
            if value == "":
                message = "the value is empty"
            elif error.validator == "pattern" and column in _IDENTIFIER_COLUMNS:
                message = f"identifier {value!r} {id_problem(value) or 'is not allowed'}"
                report.add(display, message, row=line, column=column, fix=f"use {SAFE_ID_GRAMMAR}")
                table.reported.add((line, column))
                continue
            elif error.validator == "enum":
                message = f"'{value}' is not one of {', '.join(v for v in error.validator_value if v)}"
            else:
                message = f"'{value}' is not a valid value"
            report.add(display, message, row=line, column=column, fix=_expected(error.schema))
            table.reported.add((line, column))
    return table


def _parse_dates(report: _Report, table: _Table) -> pd.DataFrame:
    """Dates of the table's date columns (NaT when empty or already reported); report non-dates."""
    dates = pd.DataFrame(index=table.cells.index)
    for column in _DATE_COLUMNS[table.name]:
        values = []
        for line, text in table.cells.get(column, pd.Series("", index=table.cells.index)).items():
            date = pd.NaT
            if text and table.usable(line, column):
                try:
                    date = pd.Timestamp(datetime.strptime(text, "%Y-%m-%d"))
                except ValueError:
                    report.add(table.display, f"'{text}' is not a calendar date", row=line, column=column,
                               fix="write an existing date as YYYY-MM-DD")
                    table.reported.add((line, column))
            values.append(date)
        dates[column] = pd.to_datetime(pd.Series(values, index=table.cells.index, dtype=object))
    return dates


def _report_duplicates(report: _Report, table: _Table, columns: list[str],
                       what: Callable[[tuple], str], fix: str) -> None:
    """Report each row whose values in ``columns`` repeat an earlier row's."""
    keys = table.cells[columns].apply(tuple, axis=1)
    first_line: dict[tuple, int] = {}
    for line, key in keys.items():
        if key in first_line:
            report.add(table.display, f"{what(key)} already appears on line {first_line[key]}",
                       row=line, column=columns[-1], fix=fix)
        else:
            first_line[key] = line


def _in_table_path(table: _Table, text: str) -> tuple[str, Path]:
    """(display, absolute) of a path written in a table: relative to the table's directory."""
    if Path(text).is_absolute():
        return text, Path(text)
    display = os.path.normpath(os.path.join(os.path.dirname(table.display), text))
    return display, (table.path.parent / text).resolve()


# --------------------------------------------------------------------------------------------
# Patients, RECIST, adverse events
# --------------------------------------------------------------------------------------------

def _check_patients(report: _Report, table: _Table) -> pd.DataFrame:
    """Unique IDs and consistent dates; returns the dates of each patient, indexed by patient_id."""
    _report_duplicates(report, table, ["patient_id"], lambda key: f"patient '{key[0]}'",
                       "keep one row per patient")
    dates = _parse_dates(report, table)
    for line in table.cells.index:
        start, last, death = (dates.at[line, c] for c in ("treatment_start", "last_contact", "death_date"))
        if pd.notna(death) and pd.notna(start) and death < start:
            report.add(table.display, f"death_date {death:%Y-%m-%d} is before treatment_start "
                                      f"{start:%Y-%m-%d}",
                       row=line, column="death_date", fix="correct one of the two dates")
        if pd.notna(last) and pd.notna(start) and last < start:
            report.add(table.display, f"last_contact {last:%Y-%m-%d} is before treatment_start "
                                      f"{start:%Y-%m-%d}",
                       row=line, column="last_contact", fix="correct one of the two dates")
        if pd.notna(last) and pd.notna(death) and last > death:
            report.add(table.display,
                       f"last_contact {last:%Y-%m-%d} is after death_date {death:%Y-%m-%d}: a patient "
                       "cannot be known alive after death",
                       row=line, column="last_contact",
                       fix="set last_contact to the death date, or correct the dates")
    dates.insert(0, "patient_id", table.cells["patient_id"])
    return dates.drop_duplicates("patient_id").set_index("patient_id")


def _report_unknown_patients(report: _Report, table: _Table, patients: pd.DataFrame | None) -> pd.Series:
    """Report rows naming a patient missing from patients.tsv; True for rows with a known patient."""
    known = pd.Series(False, index=table.cells.index)
    if patients is None:
        return known
    for line, patient in table.cells["patient_id"].items():
        if not table.usable(line, "patient_id"):
            continue
        if patient in patients.index:
            known[line] = True
        else:
            report.add(table.display, f"patient '{patient}' is not in patients.tsv", row=line,
                       column="patient_id", fix="add the patient to patients.tsv or correct the ID")
    return known


def _check_recist(report: _Report, table: _Table, patients: pd.DataFrame | None,
                  window_days: int | None) -> None:
    known = _report_unknown_patients(report, table, patients)
    dates = _parse_dates(report, table)
    _report_duplicates(report, table, ["patient_id", "date"],
                       lambda key: f"an assessment of patient '{key[0]}' on {key[1]}",
                       "keep one row per patient and assessment date")
    if patients is None or window_days is None:
        return
    for line in table.cells.index[known]:
        date = dates.at[line, "date"]
        start = patients.at[table.cells.at[line, "patient_id"], "treatment_start"]
        if pd.isna(date) or pd.isna(start):
            continue
        days_before = (start - date).days
        if days_before > window_days:
            report.add(table.display,
                       f"the assessment on {date:%Y-%m-%d} is {days_before} days before treatment start "
                       f"({start:%Y-%m-%d}); a baseline must lie within {window_days} days",
                       row=line, column="date",
                       fix="correct the date, remove the row, or raise clinical.baseline_window_days")


def _check_adverse_events(report: _Report, table: _Table, patients: pd.DataFrame | None) -> None:
    known = _report_unknown_patients(report, table, patients)
    dates = _parse_dates(report, table)
    if patients is None:
        return
    for line in table.cells.index[known]:
        onset = dates.at[line, "onset_date"]
        patient = patients.loc[table.cells.at[line, "patient_id"]]
        if pd.isna(onset):
            continue
        for column, meaning in (("death_date", "death"), ("last_contact", "last contact")):
            if pd.notna(patient[column]) and onset > patient[column]:
                report.add(table.display,
                           f"onset {onset:%Y-%m-%d} is after the patient's {meaning} "
                           f"({patient[column]:%Y-%m-%d}, {column} in patients.tsv)",
                           row=line, column="onset_date", fix="correct the onset date or patients.tsv")
                break
        if pd.notna(patient["treatment_start"]) and onset < patient["treatment_start"]:
            report.warn(f"{table.display}, line {line}: the {table.cells.at[line, 'term']} of patient "
                        f"'{table.cells.at[line, 'patient_id']}' began on {onset:%Y-%m-%d}, before "
                        f"treatment start ({patient['treatment_start']:%Y-%m-%d}): it is not "
                        "treatment-emergent")


# --------------------------------------------------------------------------------------------
# Samples and their data files
# --------------------------------------------------------------------------------------------

class _DataFiles:
    """Reads each data file once, remembering the result or the problem."""

    def __init__(self) -> None:
        self._results: dict[tuple, object] = {}

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


def _check_sample_data(report: _Report, sheet: _Table, line: int, display: str, path: Path,
                       config: dict, files: _DataFiles) -> None:
    """Check that the data file holds this sample, in a form its modality can use."""
    row = sheet.cells.loc[line]
    sample, modality, column = row["sample_id"], row["modality"], row.get("column", "")
    bounds = plausible_range(modality, config)
    try:
        if modality == "rna":
            star_count_column = _section(config, "rna").get("star_count_column")
            if star_count_column in (2, 3, 4):  # otherwise the config problem is reported
                counts = files.read(read_rna_counts, path, column or None, star_count_column)
                _report_implausible(report, display, path, counts.to_frame(column or sample), bounds,
                                    "matrix" if column else "headerless")
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
            if modality == "copy_number" and _section(config, "copy_number").get("values") == "calls":
                _report_non_calls(report, display, matrix)
            layout = "long" if modality == "proteins" and is_long_protein_table(path) else "matrix"
            _report_implausible(report, display, path, matrix[[column]] if column else matrix, bounds,
                                layout)
    except SampleColumnProblem as problem:
        report.add(sheet.display, f"{display}: {problem.message}", row=line, column="column",
                   fix=problem.fix)
    except InputProblem as problem:
        report.add_relocated(problem, display)


def _report_implausible(report: _Report, display: str, path: Path, values: pd.DataFrame,
                        bounds, layout: str) -> None:
    """Report the first value outside the modality's plausible range (config ``plausible_ranges``)."""
    problem = implausible_value(path, values, bounds, layout) if bounds is not None else None
    if problem is not None:
        report.add_relocated(problem, display)


def _report_non_calls(report: _Report, display: str, matrix: pd.DataFrame) -> None:
    """With ``copy_number.values: calls``, every value must be an integer call (once per file)."""
    bad = matrix.notna() & ~matrix.isin(COPY_NUMBER_CALLS)
    rows, columns = bad.to_numpy().nonzero()
    if len(rows):
        feature, sample = matrix.index[rows[0]], matrix.columns[columns[0]]
        more = f" (and {len(rows) - 1} more cell(s) like it)" if len(rows) > 1 else ""
        report.add(display, f"feature '{feature}' has {matrix.iat[rows[0], columns[0]]:g}, which is not "
                            f"a copy-number call (-2, -1, 0, 1 or 2){more}", column=str(sample),
                   fix="give integer calls, or set copy_number.values: log2_ratio for log2 ratios")


def _check_maf_barcodes(report: _Report, sheet: _Table, maf_uses: dict[Path, tuple[str, list[MafUse]]],
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


def _check_samples(report: _Report, sheet: _Table, patients: pd.DataFrame | None,
                   config: dict) -> pd.DataFrame:
    """Check the sample sheet and each sample's data; return it with paths resolved and defaults."""
    cells = sheet.cells
    for column, default in (("column", ""), ("batch", ""), ("timepoint", "")):
        if column not in cells.columns:
            cells[column] = default
    cells["timepoint"] = cells["timepoint"].replace("", "baseline")
    _report_duplicates(report, sheet, ["sample_id"], lambda key: f"sample_id '{key[0]}'",
                       "give every sample a distinct sample_id")
    _report_unknown_patients(report, sheet, patients)
    _report_duplicates(report, sheet, ["patient_id", "modality", "timepoint"],
                       lambda key: f"a {key[1]} sample of patient '{key[0]}' at timepoint '{key[2]}'",
                       "keep one sample per patient, modality and timepoint, or give distinct timepoints")
    files = _DataFiles()
    absolute = []
    maf_uses: dict[Path, tuple[str, list[MafUse]]] = {}
    for line, text in cells["path"].items():
        display, path = _in_table_path(sheet, text) if text else ("", Path())
        absolute.append(str(path) if text else "")
        if not sheet.usable(line, "path"):
            continue
        problem = _file_problem(path)
        if problem:
            report.add(sheet.display, f"the file '{display}' {problem}", row=line, column="path",
                       fix="correct the path (relative to the folder of the sample sheet) or add the file")
        elif sheet.usable(line, "modality"):
            _check_sample_data(report, sheet, line, display, path, config, files)
            if cells.at[line, "modality"] == "mutations":
                maf_uses.setdefault(path, (display, []))[1].append(
                    MafUse(line, cells.at[line, "sample_id"], cells.at[line, "column"]))
    _check_maf_barcodes(report, sheet, maf_uses, files)
    samples = cells.copy()
    samples["path"] = absolute
    leading = ["sample_id", "patient_id", "modality", "path", "column", "batch", "timepoint"]
    samples = samples[leading + [c for c in samples.columns if c not in leading]]
    return samples.reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Contrasts
# --------------------------------------------------------------------------------------------

def _check_contrasts(report: _Report, contrasts, patients: _Table | None,
                     sample_columns: list[str]) -> None:
    if not isinstance(contrasts, list):
        return
    seen: set[str] = set()
    columns = list(patients.cells.columns) if patients is not None else None
    for position, contrast in enumerate(contrasts):
        if not isinstance(contrast, dict):
            continue
        key = f"contrasts[{position}]"
        identifier = contrast.get("id")
        if isinstance(identifier, str):
            if identifier in seen:
                report.add_config(f"{key}.id", f"'{identifier}' is used by an earlier contrast",
                                  "give every contrast a distinct id")
            seen.add(identifier)
        reference, target = contrast.get("reference"), contrast.get("target")
        if isinstance(reference, str) and reference == target:
            report.add_config(f"{key}.target", f"target and reference are both '{target}'",
                              "compare two different levels")
        if columns is None:
            continue
        variable = contrast.get("variable")
        if isinstance(variable, str) and variable not in DERIVED_LABELS:
            if variable not in columns:
                report.add_config(f"{key}.variable",
                                  f"'{variable}' is neither a derived label ({', '.join(DERIVED_LABELS)}) "
                                  f"nor a column of {patients.display}",
                                  "use a derived label or add the column to patients.tsv")
            else:
                counts = patients.cells[variable].value_counts()
                for role, level in (("reference", reference), ("target", target)):
                    if isinstance(level, str) and counts.get(level, 0) < MIN_PATIENTS_PER_LEVEL:
                        report.add_config(
                            f"{key}.{role}",
                            f"level '{level}' of '{variable}' has {counts.get(level, 0)} patient(s) in "
                            f"{patients.display}; a contrast needs at least {MIN_PATIENTS_PER_LEVEL} per level",
                            f"choose levels with enough patients (levels found: "
                            f"{', '.join(f'{k} ({v})' for k, v in counts.items())})")
        covariates = contrast.get("covariates")
        for name in covariates if isinstance(covariates, list) else []:
            if isinstance(name, str) and name not in columns:
                report.add_config(f"{key}.covariates", f"'{name}' is not a column of {patients.display}",
                                  "add the column to patients.tsv or remove the covariate")
        batch = contrast.get("batch")
        if isinstance(batch, str) and batch not in columns and batch not in sample_columns:
            report.add_config(f"{key}.batch", f"'{batch}' is neither a column of the sample sheet nor of "
                                              f"{patients.display}",
                              "name an existing column, or use true for the sample sheet's batch, or null")


# --------------------------------------------------------------------------------------------
# Empty tables and outcomes that cannot be derived
# --------------------------------------------------------------------------------------------

def _report_empty_table(report: _Report, table: _Table) -> None:
    """A table with a header and no rows: a problem, except for adverse events (a warning)."""
    what = f"{table.display} has a header but no rows"
    if table.name == "adverse_events":
        report.warn(f"{what}: the safety tables will list no adverse events")
    elif table.name == "recist":
        report.add(table.display, "has a header but no rows, so no patient would get a response or PFS",
                   fix="add the assessments, or set clinical.recist: null to take the outcomes from "
                       "patients.tsv")
    else:
        report.add(table.display, "has a header but no rows", fix="add the rows")


def _report_underivable(report: _Report, config: dict, derivable: frozenset[str]) -> None:
    """Endpoints and contrasts on labels that cannot be derived: problems, or warnings if allowed."""
    allowed = _section(config, "clinical").get("allow_missing_outcomes") is True
    for key, label, source in underivable_requests(config, derivable):
        if allowed:
            report.warn(f"config key '{key}': the label '{label}' cannot be derived without {source}: "
                        "it is skipped (clinical.allow_missing_outcomes is true)")
        else:
            report.add_config(key, f"the label '{label}' cannot be derived: there is no {source}",
                              f"supply them, remove '{label}' from {key.split('[')[0]}, or set "
                              "clinical.allow_missing_outcomes: true to skip it with a warning")


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------

def validate_inputs(config: dict, schema_dir: Path, workdir: Path, config_files=()) -> ValidatedInputs:
    """Check the config and every input, and report every problem at once.

    Parameters
    ----------
    config
        The workflow config; on success its missing keys are filled with the schema defaults, in
        place.
    schema_dir
        The folder holding the JSON schemas (``workflow/schemas``).
    workdir
        The working directory, from which the config's paths start.
    config_files
        The config files the config was loaded from (``workflow.configfiles``), checked as written:
        a file enabling YTE templating is refused unless ``allow_templated_config`` is true.

    Returns
    -------
    ValidatedInputs with the sample sheet (absolute paths, defaults filled) and the warnings.

    Raises
    ------
    InputValidationError
        Listing every problem, one line each, naming file, line and column and what to do.
    """
    from snakemake.utils import validate as snakemake_validate

    schema_dir, workdir = Path(schema_dir), Path(workdir).resolve()
    schemas = {name: load_schema(schema_dir, name) for name in SCHEMA_FILES}
    report = _Report()

    # Defaults are filled in a copy first so that the later checks see a complete config even
    # when the config has problems; the caller's config is filled only once it is valid.
    filled = copy.deepcopy(config)
    _report_config_errors(report, filled, schemas["config"])
    _report_config_consistency(report, filled)
    for problem in config_file_problems(config_files, filled.get("allow_templated_config") is True):
        report.problems.append(problem)

    tables: dict[str, _Table | None] = {}
    for name, keys in (("patients", ("clinical", "patients")), ("samples", ("samples",)),
                       ("recist", ("clinical", "recist")),
                       ("adverse_events", ("clinical", "adverse_events"))):
        located = _config_table_path(report, filled, keys, workdir)
        tables[name] = _load_table(report, name, *located, schemas[name]) if located else None
        if tables[name] is not None and tables[name].cells.empty:
            _report_empty_table(report, tables[name])

    patients = _check_patients(report, tables["patients"]) if tables["patients"] else None
    window = _section(filled, "clinical").get("baseline_window_days")
    if tables["recist"] is not None:
        _check_recist(report, tables["recist"], patients,
                      window if isinstance(window, int) and not isinstance(window, bool) else None)
    if tables["adverse_events"] is not None:
        _check_adverse_events(report, tables["adverse_events"], patients)
    samples = None
    if tables["samples"] is not None:
        samples = _check_samples(report, tables["samples"], patients, filled)
        if patients is not None:
            for patient in patients.index.difference(samples["patient_id"], sort=False):
                report.warn(f"patient '{patient}' has no samples in {tables['samples'].display}: "
                            "it counts in the clinical results only")
    # Derived-label levels (responder yes/no, bor CR..NE) exist only once the clinical stage has
    # run; the differential stage checks them and their group sizes.
    _check_contrasts(report, filled.get("contrasts"), tables["patients"],
                     list(samples.columns) if samples is not None else [])

    derivable = derivable_labels(tables["patients"].cells if tables["patients"] is not None else None,
                                 len(tables["recist"].cells) if tables["recist"] is not None else None)
    _report_underivable(report, filled, derivable)

    if report.problems:
        raise InputValidationError(report.problems)

    # Everything passed our own collection: the final word is snakemake's validator, which also
    # fills the defaults into the caller's config.
    snakemake_validate(config, str(schema_dir / SCHEMA_FILES["config"]), set_default=True)
    for name, table in tables.items():
        if table is not None:
            snakemake_validate(table.cells.copy(), str(schema_dir / SCHEMA_FILES[name]),
                               set_default=False)
    return ValidatedInputs(samples=samples, warnings=report.warnings, derivable=derivable)

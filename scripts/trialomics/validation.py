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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd
import yaml
from jsonschema import Draft202012Validator, validators

from trialomics.errors import InputProblem, InputValidationError
from trialomics.identifiers import SAFE_ID_GRAMMAR, id_problem
from trialomics.readers import MAX_MONTHS, MAX_TARGET_SUM_MM, read_string_table
from trialomics.validation_config import (
    ENDPOINTS,
    config_file_problems,
    derivable_labels,
    did_you_mean,
    underivable_requests,
)
from trialomics.validation_report import (
    Report,
    Table,
    config_section,
    file_problem,
    report_duplicates,
    report_unknown_patients,
)
from trialomics.validation_samples import check_samples

#: Response labels derived by the clinical stage; their levels are checked by the differential
#: stage once the labels exist, not here.
DERIVED_LABELS = ("responder", "clinical_benefit", "disease_control", "bor")
#: The sample sheet column a longitudinal contrast compares.
TIMEPOINT_COLUMN = "timepoint"

#: A contrast level needs at least this many patients to compare anything.
MIN_PATIENTS_PER_LEVEL = 2

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


def _report_config_errors(report: Report, config: dict, schema: dict) -> None:
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


def _report_config_consistency(report: Report, config: dict) -> None:
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

def _config_table_path(report: Report, config: dict, keys: tuple[str, ...],
                       workdir: Path) -> tuple[str, Path] | None:
    """(path as written, absolute path) of a table named in the config, when it can be read."""
    value = config
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    if not isinstance(value, str) or not value:
        return None  # absent, or already reported by the schema check
    path = Path(value) if Path(value).is_absolute() else workdir / value
    problem = file_problem(path)
    if problem:
        report.add_config(".".join(keys), f"the file '{value}' {problem}",
                          f"correct the path (relative paths start from the working directory {workdir})")
        return None
    return value, path


def _load_table(report: Report, name: str, display: str, path: Path, schema: dict) -> Table | None:
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
    table = Table(name, display, path, cells)
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


def _parse_dates(report: Report, table: Table) -> pd.DataFrame:
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


# --------------------------------------------------------------------------------------------
# Patients, RECIST, adverse events
# --------------------------------------------------------------------------------------------

def _report_implausible_numbers(report: Report, table: Table, maxima: dict[str, float]) -> None:
    """Numbers the schema accepts in form but no patient can have (the readers' bounds)."""
    for column, maximum in maxima.items():
        for line, text in table.cells.get(column, pd.Series(dtype=str)).items():
            if text and table.usable(line, column) and pd.to_numeric(text, errors="coerce") > maximum:
                report.add(table.display, f"'{text}' is not a plausible value (at most {maximum:g})",
                           row=line, column=column, fix="correct the value, or leave it empty when unknown")
                table.reported.add((line, column))


def _check_patients(report: Report, table: Table) -> pd.DataFrame:
    """Unique IDs and consistent dates; returns the dates of each patient, indexed by patient_id."""
    report_duplicates(report, table, ["patient_id"], lambda key: f"patient '{key[0]}'",
                       "keep one row per patient")
    _report_implausible_numbers(report, table, {"pfs_months": MAX_MONTHS, "os_months": MAX_MONTHS})
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


def _check_recist(report: Report, table: Table, patients: pd.DataFrame | None,
                  window_days: int | None) -> None:
    known = report_unknown_patients(report, table, patients)
    _report_implausible_numbers(report, table, {"target_sum_mm": MAX_TARGET_SUM_MM})
    dates = _parse_dates(report, table)
    report_duplicates(report, table, ["patient_id", "date"],
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


def _check_adverse_events(report: Report, table: Table, patients: pd.DataFrame | None) -> None:
    known = report_unknown_patients(report, table, patients)
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
# Contrasts
# --------------------------------------------------------------------------------------------

def _check_contrasts(report: Report, contrasts, patients: Table | None,
                     samples: pd.DataFrame | None) -> None:
    if not isinstance(contrasts, list):
        return
    sample_columns = list(samples.columns) if samples is not None else []
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
        _check_longitudinal_contrast(report, key, contrast, columns, samples)
        if variable == TIMEPOINT_COLUMN:
            pass  # a sample sheet column: its levels are counted per patient above
        elif isinstance(variable, str) and variable not in DERIVED_LABELS:
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


def _check_longitudinal_contrast(report: Report, key: str, contrast: dict, columns: list[str],
                                 samples: pd.DataFrame | None) -> None:
    """A contrast on timepoint, with a sample subset or paired by patient: its columns, levels, and a
    design that can be full rank (a paired design absorbs every patient-level term)."""
    variable, pair_by, subset = contrast.get("variable"), contrast.get("pair_by"), contrast.get("samples")
    sample_columns = list(samples.columns) if samples is not None else []
    known = set(columns) | set(sample_columns) | set(DERIVED_LABELS)
    for column in subset if isinstance(subset, dict) else {}:
        if column not in known:
            report.add_config(f"{key}.samples", f"'{column}' is neither a column of the sample sheet nor of "
                                                "patients.tsv nor a derived label",
                              "name an existing column, e.g. timepoint")
    if variable == TIMEPOINT_COLUMN and samples is not None:
        found = samples.groupby("timepoint")["patient_id"].nunique()
        for role in ("reference", "target"):
            level = contrast.get(role)
            if isinstance(level, str) and found.get(level, 0) < MIN_PATIENTS_PER_LEVEL:
                report.add_config(f"{key}.{role}", f"timepoint '{level}' has samples of {found.get(level, 0)} "
                                                   f"patient(s); a contrast needs at least "
                                                   f"{MIN_PATIENTS_PER_LEVEL} per level",
                                  "choose timepoints of the sample sheet (found: "
                                  + ", ".join(f"{t} ({c})" for t, c in found.items()) + ")")
    if not pair_by:
        return
    if isinstance(variable, str) and variable != TIMEPOINT_COLUMN and variable not in sample_columns:
        report.add_config(f"{key}.pair_by", f"'{variable}' is the same for every sample of a patient, so a "
                                            "design paired by patient cannot estimate it (not full rank)",
                          "pair by patient only a contrast on timepoint (or on another samples.tsv column)")
    covariates = contrast.get("covariates")
    for name in covariates if isinstance(covariates, list) else []:
        if name in columns:
            report.add_config(f"{key}.covariates", f"'{name}' is a patients.tsv column, constant within a "
                                                   "patient: the paired design already absorbs it (not full "
                                                   "rank)",
                              "remove the covariate from the paired contrast")


# --------------------------------------------------------------------------------------------
# Empty tables and outcomes that cannot be derived
# --------------------------------------------------------------------------------------------

def _report_empty_table(report: Report, table: Table) -> None:
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


def _report_underivable(report: Report, config: dict, derivable: frozenset[str]) -> None:
    """Endpoints and contrasts on labels that cannot be derived: problems, or warnings if allowed."""
    allowed = config_section(config, "clinical").get("allow_missing_outcomes") is True
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
    report = Report()

    # Defaults are filled in a copy first so that the later checks see a complete config even
    # when the config has problems; the caller's config is filled only once it is valid.
    filled = copy.deepcopy(config)
    _report_config_errors(report, filled, schemas["config"])
    _report_config_consistency(report, filled)
    if config_section(config, "models").get("bootstrap") is not None:
        report.warn("config key 'models.bootstrap' is ignored: a model's 95% interval now comes from its "
                    "permutations (models.permutations) — remove the key")
    for problem in config_file_problems(config_files, filled.get("allow_templated_config") is True):
        report.problems.append(problem)

    tables: dict[str, Table | None] = {}
    for name, keys in (("patients", ("clinical", "patients")), ("samples", ("samples",)),
                       ("recist", ("clinical", "recist")),
                       ("adverse_events", ("clinical", "adverse_events"))):
        located = _config_table_path(report, filled, keys, workdir)
        tables[name] = _load_table(report, name, *located, schemas[name]) if located else None
        if tables[name] is not None and tables[name].cells.empty:
            _report_empty_table(report, tables[name])

    patients = _check_patients(report, tables["patients"]) if tables["patients"] else None
    window = config_section(filled, "clinical").get("baseline_window_days")
    if tables["recist"] is not None:
        _check_recist(report, tables["recist"], patients,
                      window if isinstance(window, int) and not isinstance(window, bool) else None)
    if tables["adverse_events"] is not None:
        _check_adverse_events(report, tables["adverse_events"], patients)
    samples = None
    if tables["samples"] is not None:
        samples = check_samples(report, tables["samples"], patients, filled)
        if patients is not None:
            for patient in patients.index.difference(samples["patient_id"], sort=False):
                report.warn(f"patient '{patient}' has no samples in {tables['samples'].display}: "
                            "it counts in the clinical results only")
    # Derived-label levels (responder yes/no, bor CR..NE) exist only once the clinical stage has
    # run; the differential stage checks them and their group sizes.
    _check_contrasts(report, filled.get("contrasts"), tables["patients"], samples)

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

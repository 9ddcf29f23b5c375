"""What every validation check shares: the tables as read, and the report collecting problems.

A :class:`Table` is an input table as strings, indexed by the line a person sees in an editor, with
the cells already reported (so that one bad cell is reported once, not again by every later check);
a :class:`Report` collects every problem, each once, in the order found, and the warnings.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from trialomics.errors import InputProblem


@dataclass
class Table:
    """One input table as strings, indexed by line number, with the cells already reported."""

    name: str
    display: str
    path: Path
    cells: pd.DataFrame
    reported: set[tuple[int, str]] = field(default_factory=set)

    def usable(self, line: int, column: str) -> bool:
        """True when the cell exists and no problem was reported for it yet."""
        return column in self.cells.columns and (line, column) not in self.reported


class Report:
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


def config_section(config: dict, name: str) -> dict:
    """A config section, or {} when it is absent or not a mapping (a problem already reported)."""
    section = config.get(name)
    return section if isinstance(section, dict) else {}


def file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be read as a file, or None."""
    if not path.exists():
        return "does not exist"
    if not path.is_file():
        return "is not a file"
    if not os.access(path, os.R_OK):
        return "is not readable"
    return None


def in_table_path(table: Table, text: str) -> tuple[str, Path]:
    """(display, absolute) of a path written in a table: relative to the table's directory."""
    if Path(text).is_absolute():
        return text, Path(text)
    display = os.path.normpath(os.path.join(os.path.dirname(table.display), text))
    return display, (table.path.parent / text).resolve()


def report_duplicates(report: Report, table: Table, columns: list[str],
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


def report_unknown_patients(report: Report, table: Table, patients: pd.DataFrame | None) -> pd.Series:
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

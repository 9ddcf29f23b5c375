"""Exceptions for bad input. Messages name the file, row and column, and say what to do."""
from __future__ import annotations


class InputProblem(ValueError):
    """One problem with one input file, located as precisely as possible.

    ``row`` is the 1-based line number in the file (the header is line 1) when known.
    """

    def __init__(self, file: str, message: str, row: int | None = None, column: str | None = None,
                 fix: str | None = None):
        self.file = str(file)
        self.row = row
        self.column = column
        self.message = message
        self.fix = fix
        super().__init__(self.line())

    def line(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", line {self.row}"
        if self.column is not None:
            where += f", column '{self.column}'"
        text = f"{where}: {self.message}"
        if self.fix:
            text += f" — {self.fix}"
        return text


class InputValidationError(ValueError):
    """Every problem found in the inputs, reported at once (one line each)."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in the inputs:\n{lines}")

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


class AnalysisProblem(ValueError):
    """A problem of the data that only a job meets: an all-missing sample, a contrast level absent
    after filtering, an empty selection, a model that cannot converge. ``fix`` says what to change."""

    def __init__(self, message: str, fix: str | None = None):
        self.message = message
        self.fix = fix
        super().__init__(message + (f" — {fix}" if fix else ""))


# Exceptions whose message is written for the user; any other exception is a fault of the code.
_USER_FACING = (InputProblem, InputValidationError, AnalysisProblem)


def is_user_facing(error: BaseException) -> bool:
    """Whether ``error`` describes a problem of the data in words for the user (no traceback needed)."""
    return isinstance(error, _USER_FACING)


def failure_line(rule: str, wildcards: dict, error: BaseException, log: str | None = None) -> str:
    """The one line a failed job tells the user: rule, wildcards (modality, contrast...), what, fix.

    The traceback goes to the job's log only; this line never holds one.
    """
    where = ", ".join(f"{name} {value}" for name, value in wildcards.items())
    if isinstance(error, InputValidationError):
        message = "; ".join(error.problems)
    elif isinstance(error, (InputProblem, AnalysisProblem)):
        message = str(error)
    else:
        message = str(error) or type(error).__name__
    text = f"rule {rule}" + (f" ({where})" if where else "") + f" failed: {message}"
    if not is_user_facing(error):
        details = f"the details are in {log}" if log else "run the rule again with --verbose for details"
        text += (f" — {details}; if the data cannot support this step, remove the contrast, endpoint or "
                 "modality named above from the config, or run with --keep-going to finish the other "
                 "stages")
    return " ".join(text.split())

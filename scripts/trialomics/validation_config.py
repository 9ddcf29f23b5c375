"""Checks of the config files themselves and of what the config asks for.

* :func:`did_you_mean` turns an unknown key into a suggestion (a typo must not silently run the
  defaults).
* :func:`config_file_problems` reads the config files as written: a YAML error names the file, line
  and column, and a file that enables YTE templating (``__use_yte__: true``, which runs Python code
  when Snakemake loads it) is refused unless ``allow_templated_config`` is given elsewhere.
* :func:`derivable_labels` says which outcome labels the clinical tables can give, so that an
  endpoint or contrast on a label that cannot be derived stops the run up front (or, with
  ``clinical.allow_missing_outcomes``, is skipped with a warning), never an empty label.
"""
from __future__ import annotations

import difflib
from pathlib import Path

import pandas as pd
import yaml

#: Labels that need a best overall response: from recist.tsv, or the supplied ``bor`` column.
RESPONSE_LABELS = ("bor", "responder", "disease_control")
#: Endpoints screened and modelled (``endpoints`` in the config).
ENDPOINTS = ("pfs", "os", "responder", "clinical_benefit")
#: Derived labels a contrast can compare.
CONTRAST_LABELS = (*RESPONSE_LABELS, "clinical_benefit")
#: Every label the clinical stage can derive.
ALL_LABELS = frozenset({*RESPONSE_LABELS, "clinical_benefit", "pfs", "os"})

_YTE_SWITCH = "__use_yte__"
_TEMPLATE_OPTION = "allow_templated_config"


def did_you_mean(name: str, known: list[str]) -> str:
    """A fix for the unknown key ``name``: the closest known key, else the list of known keys."""
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'? (check the spelling; the keys known here are {', '.join(known)})"
    return f"check the spelling; the keys known here are {', '.join(known)}"


def config_file_problems(paths, templated_allowed: bool) -> list[str]:
    """Problems of the config files as written, one line each (file, line, column, fix).

    Parameters
    ----------
    paths
        The config files Snakemake loaded (``workflow.configfiles``).
    templated_allowed
        ``allow_templated_config`` of the merged config. A templated file that sets it itself does
        not count: the option must come from the command line or another file.
    """
    problems = []
    for path in map(Path, paths):
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            problems.append(f"{path}: the config file does not exist — correct the --configfile path")
            continue
        except UnicodeDecodeError:
            problems.append(f"{path}: the config file is not UTF-8 text — save it as UTF-8")
            continue
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as error:
            problems.append(yaml_error_line(path, error))
            continue
        if not isinstance(document, dict):
            problems.append(f"{path}: the config file is not a mapping of keys to values — write "
                            "`key: value` lines at the top level (see config/config.yaml)")
            continue
        if document.get(_YTE_SWITCH) and (document.get(_TEMPLATE_OPTION) or not templated_allowed):
            problems.append(
                f"{path}: the config enables YTE templating ({_YTE_SWITCH}: true), which runs Python "
                "code when Snakemake loads it — remove the templating, or, if you wrote and trust this "
                f"file, pass --config {_TEMPLATE_OPTION}=true on the command line")
    return problems


def yaml_error_line(path: Path, error: yaml.YAMLError) -> str:
    """One line naming the file, line and column of a YAML syntax error."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    where = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
    what = getattr(error, "problem", None) or str(error).splitlines()[0]
    return (f"{where}: the config file is not valid YAML ({what}) — check the indentation (spaces, "
            "not tabs), the colons after keys and the closing brackets and quotes")


def load_config_file(path) -> dict:
    """Read one YAML config file without evaluating anything.

    Raises
    ------
    InputValidationError
        Naming the file, line and column of a syntax error, or a templated file.
    """
    from trialomics.errors import InputValidationError

    problems = config_file_problems([path], templated_allowed=False)
    if problems:
        raise InputValidationError(problems)
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def _has_values(cells: pd.DataFrame, column: str) -> bool:
    return column in cells.columns and (cells[column] != "").any()


def derivable_labels(patients: pd.DataFrame | None, recist_rows: int | None) -> frozenset[str]:
    """The outcome labels the clinical stage can derive.

    Parameters
    ----------
    patients
        The cells of patients.tsv (strings), or None when it could not be read.
    recist_rows
        The number of assessments in recist.tsv, or None when there is no recist.tsv.
    """
    if recist_rows:
        return ALL_LABELS
    labels = {"os"}  # from treatment_start, last_contact and death_date, always present
    if patients is None:
        return frozenset(ALL_LABELS)  # unreadable: its problems are reported, nothing more to say
    if _has_values(patients, "bor"):
        labels.update(RESPONSE_LABELS)
    if _has_values(patients, "pfs_months") and _has_values(patients, "pfs_event"):
        # a "no" for clinical benefit needs a known PFS; a "yes" needs CR/PR or a long PFS
        labels.update({"pfs", "clinical_benefit"})
    return frozenset(labels)


def missing_source(label: str) -> str:
    """What the user must supply so that ``label`` can be derived."""
    if label in RESPONSE_LABELS:
        return "clinical.recist (visit-level assessments) or a filled `bor` column in patients.tsv"
    return ("clinical.recist (visit-level assessments) or filled `pfs_months` and `pfs_event` columns "
            "in patients.tsv")


def underivable_requests(config: dict, derivable: frozenset[str]) -> list[tuple[str, str, str]]:
    """(config key, label, what to supply) of each endpoint or contrast whose label cannot be derived."""
    requests = []
    endpoints = config.get("endpoints")
    for position, endpoint in enumerate(endpoints if isinstance(endpoints, list) else []):
        if endpoint in ALL_LABELS and endpoint not in derivable:
            requests.append((f"endpoints[{position}]", endpoint, missing_source(endpoint)))
    contrasts = config.get("contrasts")
    for position, contrast in enumerate(contrasts if isinstance(contrasts, list) else []):
        variable = contrast.get("variable") if isinstance(contrast, dict) else None
        if variable in CONTRAST_LABELS and variable not in derivable:
            requests.append((f"contrasts[{position}].variable", variable, missing_source(variable)))
    return requests

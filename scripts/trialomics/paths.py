"""Where configured files are: resolved at DAG-building time, so only the standard library is imported."""
from __future__ import annotations

import os
from pathlib import Path


def resolve_gene_set_path(path: str | os.PathLike, workdir: str | os.PathLike,
                          project_dir: str | os.PathLike) -> Path:
    """Where a configured GMT is: absolute as given; relative to the working directory when it
    exists there; otherwise relative to the project (the repository holding ``resources/``)."""
    candidate = Path(path)
    if candidate.is_absolute():
        return candidate
    in_workdir = Path(workdir) / candidate
    return in_workdir if in_workdir.exists() else Path(project_dir) / candidate

"""Reading and writing the workflow's tab-separated tables, and atomic writes of every output.

Identifiers stay strings (``007`` never becomes ``7``), floats are written with pandas' shortest
round-trip representation, and every file is written atomically: to a hidden temporary file beside
the output (so inside the job's own output folder), moved into place with ``os.replace`` when
complete, and removed when writing fails. A job killed outright (SIGKILL) cannot clean up; its
temporary file has a fixed name, so the rerun of the job removes it (see
:func:`remove_stale_temporaries`, called by ``runlog.start``).
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

# Marks the hidden temporary file of an output; the output's own suffix follows it so that writers
# choosing their format by suffix (matplotlib, mudata) still see it.
TEMPORARY_MARK = ".part"


def read_tsv(path: str | os.PathLike, comment: str | None = None) -> pd.DataFrame:
    """Read a tab-separated table with every column as a string; empty cells become ``""``."""
    return pd.read_csv(
        path, sep="\t", dtype=str, keep_default_na=False, na_filter=False, comment=comment
    )


def temporary_path(path: str | os.PathLike) -> Path:
    """The hidden temporary file an atomic write of ``path`` uses: ``.<name>.part<suffix>`` beside it."""
    final = Path(path)
    return final.with_name(f".{final.name}{TEMPORARY_MARK}{final.suffix}")


def is_temporary(path: str | os.PathLike) -> bool:
    """Whether ``path`` is the temporary file of an atomic write (a leftover if it outlives its job)."""
    name = Path(path).name
    return name.startswith(".") and TEMPORARY_MARK in name


@contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield the temporary path to write ``path`` through; it replaces ``path`` only when the block succeeds.

    The output's folder is created. Whatever ends the block early (an exception, SIGTERM turned into
    ``SystemExit`` by ``runlog.start``, Ctrl-C) removes the temporary file, so a failed job leaves
    nothing but what Snakemake itself cleans.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(final)
    tmp.unlink(missing_ok=True)
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_path(path: str | os.PathLike) -> tuple[Path, Path]:
    """Return ``(final, temporary)`` for writers that replace and clean up themselves; prefer :func:`atomic_output`."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    return final, temporary_path(final)


def remove_stale_temporaries(outputs: Iterable[str | os.PathLike]) -> list[Path]:
    """Remove the temporary files a killed earlier run of the same job left beside ``outputs``.

    Returns the paths removed. Directory outputs need nothing: their temporary files live inside
    them, and Snakemake removes the directory of a failed or incomplete job.
    """
    removed = []
    for output in outputs:
        tmp = temporary_path(output)
        if tmp.is_file():
            tmp.unlink()
            removed.append(tmp)
    return removed


def write_tsv(df: pd.DataFrame, path: str | os.PathLike, index: bool = False) -> None:
    """Write ``df`` as TSV atomically; missing values are written as empty cells."""
    with atomic_output(path) as tmp:
        df.to_csv(tmp, sep="\t", index=index, na_rep="", lineterminator="\n")


def write_text(text: str, path: str | os.PathLike) -> None:
    """Write ``text`` as UTF-8 atomically (HTML pages, small text outputs)."""
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_h5ad(adata, path: str | os.PathLike) -> None:
    """Write an AnnData atomically (h5ad)."""
    with atomic_output(path) as tmp:
        adata.write_h5ad(tmp)


def write_h5mu(mudata, path: str | os.PathLike) -> None:
    """Write a MuData atomically (h5mu)."""
    with atomic_output(path) as tmp:
        mudata.write(str(tmp))

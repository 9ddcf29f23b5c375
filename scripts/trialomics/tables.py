"""Reading and writing the workflow's tab-separated tables.

Identifiers stay strings (``007`` never becomes ``7``), floats are written with pandas' shortest
round-trip representation, and files are written atomically so that a failed job never leaves a
half-written table behind.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd


def read_tsv(path: str | os.PathLike, comment: str | None = None) -> pd.DataFrame:
    """Read a tab-separated table with every column as a string; empty cells become ``""``."""
    return pd.read_csv(
        path, sep="\t", dtype=str, keep_default_na=False, na_filter=False, comment=comment
    )


def atomic_path(path: str | os.PathLike) -> tuple[Path, Path]:
    """Return ``(final, temporary)`` paths in the same directory, creating the directory."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=f".part{final.suffix}", dir=final.parent)
    os.close(fd)
    # mkstemp creates files readable by the owner only; give them the usual umask-based mode.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    return final, Path(tmp)


def write_tsv(df: pd.DataFrame, path: str | os.PathLike, index: bool = False) -> None:
    """Write ``df`` as TSV atomically; missing values are written as empty cells."""
    final, tmp = atomic_path(path)
    try:
        df.to_csv(tmp, sep="\t", index=index, na_rep="", lineterminator="\n")
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def write_h5ad(adata, path: str | os.PathLike) -> None:
    """Write an AnnData atomically (h5ad)."""
    final, tmp = atomic_path(path)
    try:
        adata.write_h5ad(tmp)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)

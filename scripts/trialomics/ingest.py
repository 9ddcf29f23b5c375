"""Assembling per-sample inputs into cohort tables, and the workflow's per-sample intermediate files.

The readers know the users' formats; this module only combines what they return, runs the ingestion
rules' per-sample loop, and reads back the tidy per-sample tables those rules write
(``results/{modality}/samples/{sample}.tsv``).
"""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

import pandas as pd

from .errors import InputValidationError, is_user_facing
from .tables import read_tsv

FileReader = TypeVar("FileReader")


def ingest_each_file(sources: Mapping[str, Mapping[str, str]],
                     open_file: Callable[[str, list[str]], FileReader],
                     ingest_sample: Callable[[str, FileReader, str], None]) -> None:
    """Ingest every sample of ``sources``, reading each distinct file once for all of its samples.

    ``sources`` maps sample_id -> {"path", "column"}. ``open_file(path, columns)`` reads a file for the
    columns (sample columns, or barcodes) of its samples and returns what ``ingest_sample(sample_id,
    reader, column)`` then takes each sample from. A cohort-wide file (a merged counts matrix, an
    nf-core/rnaseq table, a GDC MAF) is so read once, not once per sample, which made ingestion
    quadratic in the samples; memory is that of one file's samples. Files are taken in the order of
    their first sample, and samples in sample order. A problem of the data in one sample (or in its
    whole file) does not hide the others': every such problem is raised at the end, at once, in sample
    order, each line naming its sample. Any other exception (a fault of the code) stops at once.
    """
    samples_of_file: dict[str, list[str]] = {}
    for sample_id in sorted(sources):
        samples_of_file.setdefault(sources[sample_id]["path"], []).append(sample_id)
    problems: dict[str, list[str]] = {}
    for path, samples in samples_of_file.items():
        try:
            reader = open_file(path, [sources[sample_id]["column"] for sample_id in samples])
        except ValueError as error:
            for sample_id in samples:
                problems[sample_id] = _problem_lines(error)
            continue
        for sample_id in samples:
            try:
                ingest_sample(sample_id, reader, sources[sample_id]["column"])
            except ValueError as error:
                problems[sample_id] = _problem_lines(error)
    if problems:
        raise InputValidationError([f"sample {sample_id}: {line}" for sample_id in sorted(problems)
                                    for line in problems[sample_id]])


def _problem_lines(error: ValueError) -> list[str]:
    """The lines of a problem of the data; any other error (a fault of the code) is raised again."""
    if not is_user_facing(error):
        raise error
    return error.problems if isinstance(error, InputValidationError) else [str(error)]


def collect_matrix_samples(sources: Mapping[str, Mapping[str, str]],
                           read_matrix: Callable[[str], pd.DataFrame]) -> pd.DataFrame:
    """Features x samples from matrix files; each distinct file is read once.

    ``sources`` maps sample_id -> {"path", "column"}; an empty column means the file holds this
    sample only (its single value column is used). Features missing from one file are NaN for its
    samples (outer join), so no feature is silently dropped.
    """
    cache: dict[str, pd.DataFrame] = {}
    columns = []
    for sample_id in sorted(sources):
        path, column = sources[sample_id]["path"], sources[sample_id]["column"]
        if path not in cache:
            cache[path] = read_matrix(path)
        matrix = cache[path]
        if column:
            values = matrix[column]
        elif matrix.shape[1] == 1:
            values = matrix.iloc[:, 0]
        else:
            raise ValueError(
                f"{path} holds {matrix.shape[1]} samples but sample {sample_id} names no column: "
                "set its `column` in samples.tsv")
        columns.append(values.rename(sample_id))
    combined = pd.concat(columns, axis=1, join="outer", sort=True)
    combined.index.name = matrix.index.name if columns else None
    return combined


def sample_file(folder: str | os.PathLike, sample_id: str) -> Path:
    """A sample's tidy table in its modality's folder of them (the ingestion rules' ``directory()``
    output: Snakemake records its metadata once for the folder, where a file per sample cost it a record
    of the whole job per file, quadratic in the samples: 4 minutes at 500 patients)."""
    return Path(folder) / f"{sample_id}.tsv"


def counts_frame(counts: pd.Series) -> pd.DataFrame:
    """A sample's counts as the tidy ``gene, count`` table written by ``rna_ingest``."""
    return pd.DataFrame({"gene": counts.index.astype(str), "count": counts.to_numpy()})


def read_sample_counts(path: str, sample_id: str) -> pd.Series:
    """Read back a ``gene, count`` table as int64 counts named by the sample."""
    table = read_tsv(path)
    return pd.Series(table["count"].astype("int64").to_numpy(), index=pd.Index(table["gene"], name="gene"),
                     name=sample_id)

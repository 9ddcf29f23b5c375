"""Assembling per-sample inputs into cohort tables, and the workflow's per-sample intermediate files.

The readers know the users' formats; this module only combines what they return, runs the ingestion
rules' per-sample loop, and reads back the tidy per-sample tables those rules write
(``results/{modality}/samples/{sample}.tsv``).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

import pandas as pd

from .errors import InputValidationError, is_user_facing
from .tables import read_tsv


def ingest_each_sample(sources: Mapping[str, Mapping[str, str]],
                       ingest_sample: Callable[[str, str, str], None]) -> None:
    """Call ``ingest_sample(sample_id, path, column)`` for every sample of ``sources``, in sample order.

    ``sources`` maps sample_id -> {"path", "column"}. One job ingests a modality's samples (a process per
    sample cost more to start than the reading itself); each sample is read and written before the next,
    so memory stays that of one sample. A problem of the data in one sample does not hide the others':
    every such problem is raised at the end, at once, each line naming its sample. Any other exception
    (a fault of the code) stops at once.
    """
    problems = []
    for sample_id in sorted(sources):
        try:
            ingest_sample(sample_id, sources[sample_id]["path"], sources[sample_id]["column"])
        except ValueError as error:
            if not is_user_facing(error):
                raise
            lines = error.problems if isinstance(error, InputValidationError) else [str(error)]
            problems += [f"sample {sample_id}: {line}" for line in lines]
    if problems:
        raise InputValidationError(problems)


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


def counts_frame(counts: pd.Series) -> pd.DataFrame:
    """A sample's counts as the tidy ``gene, count`` table written by ``rna_ingest``."""
    return pd.DataFrame({"gene": counts.index.astype(str), "count": counts.to_numpy()})


def read_sample_counts(path: str, sample_id: str) -> pd.Series:
    """Read back a ``gene, count`` table as int64 counts named by the sample."""
    table = read_tsv(path)
    return pd.Series(table["count"].astype("int64").to_numpy(), index=pd.Index(table["gene"], name="gene"),
                     name=sample_id)

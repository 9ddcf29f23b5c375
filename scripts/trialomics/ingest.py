"""Assembling per-sample inputs into cohort tables, and the workflow's per-sample intermediate files.

The readers know the users' formats; this module only combines what they return and reads back the
tidy per-sample tables that the ingestion rules write (``results/{modality}/samples/{sample}.tsv``).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

import pandas as pd

from .tables import read_tsv


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
    """A sample's counts as the tidy ``gene, count`` table written by ``rna_ingest_sample``."""
    return pd.DataFrame({"gene": counts.index.astype(str), "count": counts.to_numpy()})


def read_sample_counts(path: str, sample_id: str) -> pd.Series:
    """Read back a ``gene, count`` table as int64 counts named by the sample."""
    table = read_tsv(path)
    return pd.Series(table["count"].astype("int64").to_numpy(), index=pd.Index(table["gene"], name="gene"),
                     name=sample_id)

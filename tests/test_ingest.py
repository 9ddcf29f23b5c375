"""The ingestion rules' loop: each file read once for its samples, every problem of the data at once."""
from __future__ import annotations

import pandas as pd
import pytest

from trialomics import counts_readers, ingest, readers
from trialomics.errors import InputProblem, InputValidationError

SOURCES = {"S2": {"path": "b.tsv", "column": ""}, "S1": {"path": "a.tsv", "column": "x"},
           "S3": {"path": "c.tsv", "column": ""}}


def opened(path, columns):
    return path


def test_every_sample_is_ingested_once_in_sample_order():
    seen = []
    ingest.ingest_each_file(SOURCES, opened, lambda sample, path, column: seen.append((sample, path, column)))
    assert seen == [("S1", "a.tsv", "x"), ("S2", "b.tsv", ""), ("S3", "c.tsv", "")]


def test_a_shared_file_is_opened_once_with_the_columns_of_its_samples():
    sources = {"S4": {"path": "cohort.tsv", "column": "s4"}, "S1": {"path": "cohort.tsv", "column": "s1"},
               "S2": {"path": "own.tsv", "column": ""}, "S3": {"path": "cohort.tsv", "column": "s3"}}
    opens, seen = [], []

    def open_file(path, columns):
        opens.append((path, columns))
        return path

    ingest.ingest_each_file(sources, open_file, lambda sample, path, column: seen.append((sample, path, column)))
    # files in the order of their first sample, each file's samples in sample order
    assert opens == [("cohort.tsv", ["s1", "s3", "s4"]), ("own.tsv", [""])]
    assert seen == [("S1", "cohort.tsv", "s1"), ("S3", "cohort.tsv", "s3"), ("S4", "cohort.tsv", "s4"),
                    ("S2", "own.tsv", "")]


def test_a_problem_of_a_whole_file_is_reported_for_each_of_its_samples_in_sample_order():
    sources = {"S3": {"path": "cohort.tsv", "column": "s3"}, "S1": {"path": "cohort.tsv", "column": "s1"},
               "S2": {"path": "own.tsv", "column": ""}}
    seen = []

    def open_file(path, columns):
        if path == "cohort.tsv":
            raise InputProblem(path, "the file is empty", fix="give a counts file")
        return path

    def ingest_sample(sample, path, column):
        seen.append(sample)
        raise InputProblem(path, "no count column", row=1, column="count", fix="give htseq-count output")

    with pytest.raises(InputValidationError) as raised:
        ingest.ingest_each_file(sources, open_file, ingest_sample)
    assert seen == ["S2"]
    assert raised.value.problems == [
        "sample S1: cohort.tsv: the file is empty — give a counts file",
        "sample S2: own.tsv, line 1, column 'count': no count column — give htseq-count output",
        "sample S3: cohort.tsv: the file is empty — give a counts file"]


def test_problems_of_the_data_in_several_samples_are_reported_together_after_the_others_ran():
    seen = []

    def ingest_sample(sample, path, column):
        if sample != "S2":
            raise InputProblem(path, "no count column", row=1, column="count", fix="give htseq-count output")
        seen.append(sample)

    with pytest.raises(InputValidationError) as raised:
        ingest.ingest_each_file(SOURCES, opened, ingest_sample)
    assert seen == ["S2"]
    assert raised.value.problems == [
        "sample S1: a.tsv, line 1, column 'count': no count column — give htseq-count output",
        "sample S3: c.tsv, line 1, column 'count': no count column — give htseq-count output"]


def test_a_fault_of_the_code_stops_at_once():
    seen = []

    def ingest_sample(sample, path, column):
        seen.append(sample)
        raise ValueError("a bug, not the data")

    with pytest.raises(ValueError, match="a bug"):
        ingest.ingest_each_file(SOURCES, opened, ingest_sample)
    assert seen == ["S1"]


def test_real_count_files_round_trip_through_the_tidy_tables(tmp_path):
    # htseq-count output of two samples, one with a malformed count: the good one is written, the bad one named.
    (tmp_path / "good.txt").write_text("GENE1\t5\nGENE2\t0\n__no_feature\t3\n")
    (tmp_path / "bad.txt").write_text("GENE1\t5\nGENE2\tfive\n")
    sources = {"A": {"path": str(tmp_path / "good.txt"), "column": ""},
               "B": {"path": str(tmp_path / "bad.txt"), "column": ""}}

    def ingest_sample(sample, counts_of, column):
        counts = counts_of(column or None)
        ingest.counts_frame(counts).to_csv(tmp_path / f"{sample}.tsv", sep="\t", index=False)

    with pytest.raises(InputValidationError) as raised:
        ingest.ingest_each_file(sources, counts_readers.rna_counts_reader, ingest_sample)
    assert len(raised.value.problems) == 1 and raised.value.problems[0].startswith(f"sample B: {tmp_path / 'bad.txt'}")
    counts = ingest.read_sample_counts(str(tmp_path / "A.tsv"), "A")
    assert counts.to_dict() == {"GENE1": 5, "GENE2": 0}
    assert isinstance(counts, pd.Series) and counts.name == "A"

"""A counts matrix or featureCounts table of clean counts is read as numbers, with what the string reading gives."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trialomics import counts_readers, text_tables
from trialomics.errors import InputProblem

FEATURECOUNTS_ANNOTATION = "Geneid\tChr\tStart\tEnd\tStrand\tLength"


def read_every_column(path: Path, named: list[str], asked: list[str], strings_only: bool) -> object:
    """What the reader gives: the file's problem, or for each asked column its counts or its problem's message."""
    with pytest.MonkeyPatch.context() as patch:
        if strings_only:
            patch.setattr(counts_readers, "read_number_columns", lambda *arguments: None)
        try:
            counts_of = counts_readers.rna_counts_reader(path, named)
        except InputProblem as problem:
            return str(problem)
        results = {}
        for column in asked:
            try:
                results[column] = counts_of(column)
            except InputProblem as problem:
                results[column] = str(problem)
        return results


def assert_same_reading(fast: object, strings: object) -> None:
    if isinstance(strings, str) or isinstance(fast, str):
        assert fast == strings
        return
    assert fast.keys() == strings.keys()
    for column, expected in strings.items():
        got = fast[column]
        if isinstance(expected, str) or isinstance(got, str):
            assert got == expected
            continue
        pd.testing.assert_series_equal(got, expected, check_exact=True)
        assert [type(gene) for gene in got.index] == [type(gene) for gene in expected.index]


def test_a_clean_matrix_is_read_as_numbers_not_strings(tmp_path, monkeypatch):
    path = tmp_path / "counts.tsv"
    path.write_text("gene\tA\tB\n1e5\t3\t12.0\n0001\t0\t1e3\nTP53\t9007199254740992\t\"7\"\n")
    numbers = text_tables.read_number_columns(path, 0, [0, 1, 2])
    assert numbers is not None and list(numbers.index) == [2, 3, 4]
    assert list(numbers["gene"]) == ["1e5", "0001", "TP53"]   # identifiers stay as written
    monkeypatch.setattr(counts_readers, "read_cells", None)   # the strings are not read
    counts_of = counts_readers.rna_counts_reader(path, ["A", "B"])
    expected_a = pd.Series([3, 0, 2 ** 53], index=pd.Index(["1e5", "0001", "TP53"], name="gene", dtype=object),
                           name="A", dtype=np.int64)
    pd.testing.assert_series_equal(counts_of("A"), expected_a, check_exact=True)
    assert counts_of("B").to_list() == [12, 1000, 7] and counts_of("B").dtype == np.int64


def test_a_clean_featurecounts_table_is_read_as_numbers(tmp_path, monkeypatch):
    path = tmp_path / "featurecounts.tsv"
    path.write_text("# Program:featureCounts v2.0.3\n" + FEATURECOUNTS_ANNOTATION + "\tS1.bam\tS2.bam\n"
                    "ENSG01\tchr1\t1\t100\t+\t100\t5\t6\nENSG02\tchr2\t1\t100\t-\t100\t0\t8\n")
    assert text_tables.read_number_columns(path, 1, [0, 6, 7]) is not None
    monkeypatch.setattr(counts_readers, "read_cells", None)
    counts_of = counts_readers.rna_counts_reader(path, ["S2.bam"])
    assert counts_of("S2.bam").to_dict() == {"ENSG01": 6, "ENSG02": 8}
    assert counts_of("S1.bam").to_dict() == {"ENSG01": 5, "ENSG02": 0}   # read when asked for


@pytest.mark.parametrize("cell, problem", [
    ("", "line 3, column 'B': the count is empty"),
    ("NA", "line 3, column 'B': count 'NA' is not a number"),
    ("-2", "line 3, column 'B': count '-2' is negative"),
    ("2.5", "line 3, column 'B': count '2.5' is not an integer"),
    ("inf", "line 3, column 'B': count 'inf' is not a number"),
    ("1e17", "line 3, column 'B': count '1e17' is larger than any read count"),
])
def test_a_bad_count_is_left_to_the_string_reading_which_reports_it(tmp_path, cell, problem):
    path = tmp_path / "counts.tsv"
    path.write_text(f"gene\tA\tB\nG1\t1\t2\nG2\t3\t{cell}\n")
    numbers = text_tables.read_number_columns(path, 0, [0, 1, 2])
    assert numbers is None or counts_readers._counts_of_numbers(numbers, ["A", "B"]) is None
    counts_of = counts_readers.rna_counts_reader(path, ["A", "B"])
    assert counts_of("A").to_list() == [1, 3]
    with pytest.raises(InputProblem, match=problem):
        counts_of("B")


def test_a_long_count_column_of_numbers_then_text_is_left_to_the_string_reading_without_a_warning(tmp_path):
    # 300,000 rows: pandas reads the column in chunks, and finds the text in a later one
    path = tmp_path / "counts.tsv"
    path.write_text("gene\tA\n" + "".join(f"G{i}\t{i % 7}\n" for i in range(300_000)) + "G300000\tNA\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert text_tables.read_number_columns(path, 0, [0, 1]) is None
        with pytest.raises(InputProblem, match="line 300002, column 'A': count 'NA' is not a number"):
            counts_readers.read_rna_counts(path, "A")


def test_a_padded_or_missing_identifier_is_left_to_the_string_reading(tmp_path):
    path = tmp_path / "counts.tsv"
    path.write_text("gene\tA\n G1\t1\nG2\t3\n")
    assert text_tables.read_number_columns(path, 0, [0, 1]) is None
    assert counts_readers.read_rna_counts(path, "A").index.to_list() == ["G1", "G2"]   # stripped, as always
    path.write_text("gene\tA\nG1\t1\n\t3\n")
    assert text_tables.read_number_columns(path, 0, [0, 1]) is not None
    with pytest.raises(InputProblem, match="line 3, column 'gene': the gene identifier is empty"):
        counts_readers.read_rna_counts(path, "A")


# Count cells: clean ones the number reading takes, and every kind it must leave to the string reading or read
# as the strings would (quoted, padded, exponents, whole floats, beyond 2^53, not finite, text).
CLEAN_COUNTS = ["0", "7", "12", "150000", "007", "+5", "-0", "12.0", "5.", "1e3", '"9"', "9007199254740992"]
DIRTY_COUNTS = ["", "NA", "NaN", "nan", "inf", "-inf", "x", "-3", "2.5", "1E-2", " 5", "5 ", "\v5", "\u00a05",
                "9007199254740993", "99999999999999999999", "1e400", "2.9999999999999999", "1_000", "0x1F",
                "True", "1,5"]
DIRTY_GENES = ["", " TP53", "TP53 ", '"TP53"', "a b", "NA", "TP53", "1-Mar", "MARCH1"]


@settings(max_examples=300, deadline=None, database=None)
@given(data=st.data(), rows=st.integers(1, 6), samples=st.integers(1, 4), featurecounts=st.booleans(),
       per_read=st.integers(1, 3), trouble=st.floats(0, 0.3), ending=st.sampled_from(["\n", "", "\n\n", "\r\n"]))
def test_counts_read_as_numbers_equal_the_string_reading_or_are_left_to_it(tmp_path_factory, data, rows, samples,
                                                                            featurecounts, per_read, trouble, ending):
    def draw_cell(clean, dirty):
        return data.draw(st.sampled_from(dirty if data.draw(st.floats(0, 1)) < trouble else clean))

    names = [f"S{j}" for j in range(samples)]
    lines = ["# Program:featureCounts v2.0.3", f"{FEATURECOUNTS_ANNOTATION}\t" + "\t".join(names)] if featurecounts \
        else ["gene\t" + "\t".join(names)]
    header_lines = len(lines)
    for row in range(rows):
        # identifiers that look like numbers ("1e5", "0001", "2") stay as written: each row's differ as strings only
        gene = draw_cell([f"TP53-{row}", f"ENSG{row:011d}", f"{row}e5", f"{row:04d}", f"{row + 1}"], DIRTY_GENES)
        annotation = ["chr1", "1", "100", "+", "100"] if featurecounts else []
        lines.append("\t".join([gene, *annotation, *(draw_cell(CLEAN_COUNTS, DIRTY_COUNTS) for _ in names)]))
    clean = trouble == 0
    if data.draw(st.booleans()):   # a blank, long or short row, or not
        clean = False
        line = data.draw(st.integers(header_lines, len(lines) - 1))
        lines[line] = data.draw(st.sampled_from(["", lines[line] + "\t7", lines[line].rsplit("\t", 1)[0]]))
    clean = clean and ending != "\n\n"
    path = tmp_path_factory.mktemp("counts") / "counts.tsv"
    path.write_bytes(("\r\n" if ending == "\r\n" else "\n").join(lines).encode() + ending.encode())
    named = data.draw(st.lists(st.sampled_from(names), unique=True))
    asked = [*names, "S9"]   # the named samples, the others read when asked for, and one that is not there

    read_as_strings = []
    read_cells = text_tables.read_cells
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(counts_readers, "COUNT_COLUMNS_PER_READ", per_read)
        patch.setattr(counts_readers, "read_cells", lambda *arguments, **options:
                      read_as_strings.append(options) or read_cells(*arguments, **options))
        fast = read_every_column(path, named, asked, strings_only=False)
        if clean:   # clean counts under clean identifiers: every pass was read as numbers, and gave every sample
            assert read_as_strings == []
            assert all(not isinstance(fast[column], str) for column in names)
        strings = read_every_column(path, named, asked, strings_only=True)
    assert_same_reading(fast, strings)

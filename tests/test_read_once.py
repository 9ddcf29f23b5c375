"""A cohort-wide input file is read once for all of its samples, with what one read per sample gives."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trialomics import counts_readers, readers, upstream, upstream_rna
from trialomics.errors import InputProblem, InputValidationError
from trialomics.text_tables import SampleColumnProblem
from trialomics.validation import validate_inputs

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "workflow" / "schemas"


def write_matrix(path, counts: pd.DataFrame, featurecounts: bool = False) -> None:
    lines = []
    if featurecounts:
        lines.append("# Program:featureCounts v2.0.3")
        header = ["Geneid", "Chr", "Start", "End", "Strand", "Length", *counts.columns]
        rows = [[gene, "chr1", "1", "100", "+", "100", *map(str, row)] for gene, row in zip(counts.index, counts.to_numpy())]
    else:
        header = ["gene", *counts.columns]
        rows = [[gene, *map(str, row)] for gene, row in zip(counts.index, counts.to_numpy())]
    lines += ["\t".join(header)] + ["\t".join(row) for row in rows]
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def cohort_counts() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(rng.poisson(30, size=(40, 7)), index=[f"GENE{i}" for i in range(40)],
                        columns=[f"S{i}" for i in range(7)])


@pytest.mark.parametrize("featurecounts", [False, True])
def test_a_counts_matrix_read_once_gives_each_sample_what_its_own_read_gives(tmp_path, monkeypatch, cohort_counts,
                                                                           featurecounts):
    path = tmp_path / "counts.tsv"
    write_matrix(path, cohort_counts, featurecounts)
    monkeypatch.setattr(counts_readers, "COUNT_COLUMNS_PER_READ", 3)   # several passes over the file
    reads = []
    read_numbers = counts_readers.read_number_columns
    monkeypatch.setattr(counts_readers, "read_number_columns",
                        lambda path, skip, usecols: reads.append(usecols) or read_numbers(path, skip, usecols))
    counts_of = counts_readers.rna_counts_reader(path, ["S5", "S0", "S3", "S6", "S1"])
    assert len(reads) == 2   # 5 named columns in passes of 3, not one read per sample
    for column in ("S0", "S1", "S3", "S5", "S6"):
        pd.testing.assert_series_equal(counts_of(column), counts_readers.read_rna_counts(path, column=column))
        assert counts_of(column).name == column and counts_of(column).dtype == np.int64
    # a column not named up front is read when asked for
    pd.testing.assert_series_equal(counts_of("S2"), counts_readers.read_rna_counts(path, column="S2"))
    assert counts_of("S2").to_dict() == cohort_counts["S2"].to_dict()
    with pytest.raises(SampleColumnProblem, match="there is no sample column 'S9'"):
        counts_of("S9")
    with pytest.raises(SampleColumnProblem, match="no column was named"):
        counts_of(None)


def test_a_bad_count_is_the_problem_of_its_sample_only(tmp_path, cohort_counts):
    text = cohort_counts.astype(str)
    text.loc["GENE3", "S2"] = "2.5"
    path = tmp_path / "counts.tsv"
    write_matrix(path, text)
    counts_of = counts_readers.rna_counts_reader(path, list(text.columns))
    with pytest.raises(InputProblem) as raised:
        counts_of("S2")
    with pytest.raises(InputProblem) as alone:
        counts_readers.read_rna_counts(path, column="S2")
    assert str(raised.value) == str(alone.value) and "line 5" in str(raised.value) and "'2.5'" in str(raised.value)
    assert counts_of("S1").to_dict() == cohort_counts["S1"].to_dict()


def test_an_empty_gene_identifier_is_a_problem_of_the_whole_file(tmp_path, cohort_counts):
    path = tmp_path / "counts.tsv"
    write_matrix(path, cohort_counts)
    lines = path.read_text().splitlines()
    lines.append("\t" + "\t".join(["0"] * 6 + ["4"]))   # a count of S6 without a gene
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputProblem, match="gene identifier is empty") as raised:
        counts_readers.rna_counts_reader(path, ["S0", "S6"])
    assert "line 42" in str(raised.value)


def test_an_nfcore_table_read_once_gives_each_sample_its_summed_rounded_counts(tmp_path):
    rng = np.random.default_rng(3)
    estimated = rng.gamma(2.0, 40.0, size=(30, 4)).round(3)
    names = [f"G{i % 24}" for i in range(30)]            # six symbols carried by two gene IDs
    names[5] = ""                                       # a gene without a name keeps its ID
    header = "gene_id\tgene_name\t" + "\t".join(f"S{j}" for j in range(4))
    rows = [f"ENSG{i:011d}\t{names[i]}\t" + "\t".join(f"{v:.3f}" for v in estimated[i]) for i in range(30)]
    path = tmp_path / "salmon.merged.gene_counts.tsv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    counts_of = counts_readers.rna_counts_reader(path, ["S0", "S2"])   # S1 and S3 summed when asked for
    genes = np.array([name or f"ENSG{i:011d}" for i, name in enumerate(names)], dtype=object)
    for j in range(4):
        # one sample's sums on their own, as the reader of one sample did
        expected = pd.Series(estimated[:, j]).groupby(genes, sort=False).sum()
        got = counts_of(f"S{j}")
        assert list(got.index) == list(expected.index) and got.name == f"S{j}"
        np.testing.assert_array_equal(got.to_numpy(), np.rint(expected.to_numpy()).astype(np.int64))
        pd.testing.assert_series_equal(got, counts_readers.read_rna_counts(path, column=f"S{j}"))
    with pytest.raises(SampleColumnProblem, match="no column was named"):
        counts_of(None)
    with pytest.raises(SampleColumnProblem, match="there is no sample 'S7'"):
        counts_of("S7")


def test_a_negative_estimated_count_is_the_problem_of_its_sample_only(tmp_path):
    path = tmp_path / "salmon.merged.gene_counts.tsv"
    path.write_text("gene_id\tgene_name\tA\tB\nENSG00000000001\tG1\t1.5\t-2\nENSG00000000002\tG2\t3\t4\n")
    counts_of = upstream_rna.nfcore_counts_reader(path, upstream_rna.NFCORE_GENE_COUNTS)
    assert counts_of("A").to_dict() == {"G1": 2, "G2": 3}
    with pytest.raises(InputProblem, match="negative") as raised:
        counts_of("B")
    assert "line 2" in str(raised.value) and "'B'" in str(raised.value)


def test_a_maf_read_once_gives_each_barcode_its_rows(tmp_path):
    path = tmp_path / "cohort.maf"
    rows = [("TP53", "T1", "Missense_Mutation"), ("KRAS", "T2", "Missense_Mutation"),
            ("TP53", "T2", "Nonsense_Mutation"), ("ARID1A", "T1", "Frame_Shift_Del")]
    path.write_text("#version 2.4\nHugo_Symbol\tTumor_Sample_Barcode\tVariant_Classification\n"
                    + "".join("\t".join(row) + "\n" for row in rows))
    rows_of = readers.maf_reader(path)
    for barcode in ("T1", "T2", "T3", None):
        pd.testing.assert_frame_equal(rows_of(barcode), readers.read_maf(path, barcode=barcode))
    assert list(rows_of("T2")["Hugo_Symbol"]) == ["KRAS", "TP53"] and rows_of("T3").empty


def test_validation_reads_a_shared_counts_table_once_and_checks_every_sample(tmp_path, monkeypatch, cohort_counts):
    counts = cohort_counts.copy()
    counts["S4"] = 0                                     # a sample without reads is still found
    write_matrix(tmp_path / "counts.tsv", counts)
    (tmp_path / "patients.tsv").write_text("patient_id\n" + "".join(f"P{i}\n" for i in range(7)))
    (tmp_path / "samples.tsv").write_text("sample_id\tpatient_id\tmodality\tpath\tcolumn\n" + "".join(
        f"R{i}\tP{i}\trna\tcounts.tsv\tS{i}\n" for i in range(7)))
    opened = []
    reader = counts_readers.rna_counts_reader
    monkeypatch.setattr("trialomics.validation_samples.rna_counts_reader",
                        lambda *arguments: opened.append(arguments[1]) or reader(*arguments))
    config = {"samples": str(tmp_path / "samples.tsv"), "clinical": {"patients": str(tmp_path / "patients.tsv")}}
    with pytest.raises(InputValidationError) as raised:
        validate_inputs(config, SCHEMA_DIR, tmp_path)
    assert opened == [tuple(f"S{i}" for i in range(7))]
    assert any("sample 'R4' has no reads" in problem for problem in raised.value.problems)



def test_validation_holds_a_files_reading_only_while_later_rows_point_at_it(tmp_path, monkeypatch, cohort_counts):
    # Held for the whole sheet, 500 patients' count files took the Snakemake process to 2.5 GB (343 MB now).
    from trialomics import validation_samples

    write_matrix(tmp_path / "counts.tsv", cohort_counts[["S0", "S6"]])       # shared by the first and last rows
    for i in range(1, 6):
        (tmp_path / f"R{i}.counts").write_text("".join(f"{gene}\t{count}\n"
                                                      for gene, count in cohort_counts[f"S{i}"].items()))
    (tmp_path / "patients.tsv").write_text("patient_id\n" + "".join(f"P{i}\n" for i in range(7)))
    rows = ["R0\tP0\trna\tcounts.tsv\tS0"] + [f"R{i}\tP{i}\trna\tR{i}.counts\t" for i in range(1, 6)]
    (tmp_path / "samples.tsv").write_text("sample_id\tpatient_id\tmodality\tpath\tcolumn\n"
                                          + "\n".join(rows + ["R6\tP6\trna\tcounts.tsv\tS6"]) + "\n")
    held, opened = [], []
    read = validation_samples._DataFiles.read

    def counting(files, reader, *arguments):
        opened.append(Path(arguments[0]).name)
        held.append(sorted(Path(key[1]).name for key in files._results))
        return read(files, reader, *arguments)

    monkeypatch.setattr(validation_samples._DataFiles, "read", counting)
    config = {"samples": str(tmp_path / "samples.tsv"), "clinical": {"patients": str(tmp_path / "patients.tsv")}}
    with pytest.raises(InputValidationError, match="treatment_start"):   # the samples are checked all the same
        validate_inputs(config, SCHEMA_DIR, tmp_path)
    assert opened == ["counts.tsv", *(f"R{i}.counts" for i in range(1, 6)), "counts.tsv"]
    # Before each reading: the shared table (still wanted by the last row), never an earlier sample's file.
    assert held == [[], *[["counts.tsv"]] * 6]

# Cells of a merged table: numbers pandas and the string reading parse alike, and every kind of cell the
# fast path must leave to the string reading (missing, text, quoted, padded, not finite).
NUMBER_CELLS = ["12", "12.5", "0.000", "1e3", "1E-2", "-0", "-4.25", "123456789.123", "99999999999999999999"]
TROUBLE_CELLS = ["", "NA", "NaN", "nan", "inf", "x", '"5"', " 5", "5 ", "True", "1,5", "0x1F"]
TEXT_CELLS = ["ENSG1", "TP53", "", " TP53", '"TP53"', "a b", "NA"]


@settings(max_examples=150, deadline=None, database=None)
@given(data=st.data(), rows=st.integers(1, 6), samples=st.integers(1, 3),
       trouble=st.floats(0, 0.3), ending=st.sampled_from(["\n", "", "\n\n", "\r\n"]))
def test_numbers_read_fast_equal_the_string_reading_or_are_left_to_it(tmp_path_factory, data, rows, samples,
                                                                      trouble, ending):
    lines = ["gene_id\tgene_name\t" + "\t".join(f"S{j}" for j in range(samples))]
    for _ in range(rows):
        text = [data.draw(st.sampled_from(TEXT_CELLS)) for _ in range(2)]
        numbers = [data.draw(st.sampled_from(TROUBLE_CELLS if data.draw(st.floats(0, 1)) < trouble
                                             else NUMBER_CELLS)) for _ in range(samples)]
        lines.append("\t".join(text + numbers))
    if data.draw(st.booleans()) and rows > 1:
        lines[data.draw(st.integers(1, rows))] += data.draw(st.sampled_from(["\t7", ""]))   # a long row, or not
    path = tmp_path_factory.mktemp("table") / "t.tsv"
    path.write_bytes(("\r\n" if ending == "\r\n" else "\n").join(lines).encode() + ending.encode())
    fast = upstream.read_delimited_numbers(path, text_columns=2)
    try:
        cells = upstream.read_delimited(path)
        slow = pd.concat([cells.iloc[:, :2], upstream.parse_numbers(path, cells.iloc[:, 2:])], axis=1)
    except InputProblem:
        assert fast is None   # whatever the string reading reports, the fast path did not accept
        return
    if fast is not None:
        pd.testing.assert_frame_equal(fast, slow, check_dtype=True)
        assert np.isfinite(slow.iloc[:, 2:].to_numpy()).all()


def test_numbers_read_fast_keep_an_nfcore_table_small(tmp_path):
    # 2,000 genes x 50 samples: the reader's table is floats, not 100,000 Python strings
    rng = np.random.default_rng(5)
    header = "gene_id\tgene_name\t" + "\t".join(f"S{j}" for j in range(50))
    rows = [f"ENSG{i:011d}\tG{i}\t" + "\t".join(f"{v:.3f}" for v in rng.gamma(2.0, 40.0, 50)) for i in range(2000)]
    path = tmp_path / "salmon.merged.gene_counts.tsv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    table = upstream.read_delimited_numbers(path, text_columns=2)
    assert table is not None and (table.dtypes.iloc[2:] == np.float64).all()
    assert list(table.index[:2]) == [2, 3]
    counts_of = counts_readers.rna_counts_reader(path, [f"S{j}" for j in range(50)])
    assert counts_of("S7").sum() > 0


def test_an_nfcore_column_of_numbers_then_text_is_left_to_the_string_reading_without_a_warning(tmp_path):
    # 300,000 rows: pandas reads the column in chunks and finds the text in a later one (a DtypeWarning,
    # which would land in the ingestion job's log)
    import warnings

    path = tmp_path / "salmon.merged.gene_counts.tsv"
    path.write_text("gene_id\tgene_name\tS1\n" + "".join(f"ENSG{i:011d}\tG{i}\t{i % 7}.5\n" for i in range(300_000))
                    + "ENSG99999999999\tG300000\tunknown\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert upstream.read_delimited_numbers(path, text_columns=2) is None

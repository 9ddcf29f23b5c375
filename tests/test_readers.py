"""Tests for trialomics.readers: every accepted format, with known answers, and every error case."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from trialomics.counts_readers import read_rna_counts
from trialomics.errors import InputProblem
from trialomics.readers import (
    read_adverse_events,
    read_feature_matrix,
    read_maf,
    read_patients,
    read_proteins,
    read_recist,
    read_string_table,
)
from trialomics.text_tables import SampleColumnProblem


@pytest.fixture
def write(tmp_path):
    """Write ``text`` to a file in tmp_path and return its path."""
    def write_file(name: str, text: str, newline: str = "\n"):
        path = tmp_path / name
        path.write_bytes(text.replace("\n", newline).encode("utf-8"))
        return path
    return write_file


def raises_at(path, line, column, fragment):
    """Context manager: an InputProblem naming ``path``, ``line``, ``column`` and ``fragment``."""
    location = str(path) + (f", line {line}" if line is not None else "")
    location += f", column '{column}'" if column is not None else ""
    return pytest.raises(InputProblem, match=f"^{re.escape(location)}: .*{re.escape(fragment)}")


# ----- RNA counts -----

STAR = """\
N_unmapped\t100\t100\t100
N_multimapping\t50\t50\t50
N_noFeature\t10\t300\t20
N_ambiguous\t5\t1\t2
ENSG01\t30\t2\t28
ENSG02\t0\t0\t0
ENSG03\t7\t6\t1
"""


def test_htseq_summary_rows_are_dropped(write):
    path = write("s.htseq", "G1\t10\nG2\t0\n007\t25\n__no_feature\t5\n__ambiguous\t1\n__alignment_not_unique\t9\n")
    counts = read_rna_counts(path)
    assert counts.to_dict() == {"G1": 10, "G2": 0, "007": 25}
    assert counts.dtype == np.int64
    assert counts.index.name == "gene"


@pytest.mark.parametrize("column, expected", [(2, [30, 0, 7]), (3, [2, 0, 6]), (4, [28, 0, 1])])
def test_star_count_column_chooses_strandedness(write, column, expected):
    counts = read_rna_counts(write("ReadsPerGene.out.tab", STAR), star_count_column=column)
    assert counts.index.tolist() == ["ENSG01", "ENSG02", "ENSG03"]
    assert counts.tolist() == expected


def test_star_count_column_must_be_2_3_or_4(write):
    with pytest.raises(ValueError, match="star_count_column"):
        read_rna_counts(write("ReadsPerGene.out.tab", STAR), star_count_column=1)


def test_featurecounts_with_comment_line(write):
    text = ("# Program:featureCounts v2.0.3; Command:\"featureCounts\" -a genes.gtf\n"
            "Geneid\tChr\tStart\tEnd\tStrand\tLength\t/data/P01.bam\n"
            "TP53\tchr17\t7661779\t7687538\t-\t2579\t412\n"
            "KRAS\tchr12\t25205246\t25250929\t-\t5889\t96\n")
    counts = read_rna_counts(write("P01.featureCounts.txt", text))
    assert counts.to_dict() == {"TP53": 412, "KRAS": 96}


def test_featurecounts_with_several_samples_uses_column(write):
    text = ("# Program:featureCounts\n"
            "Geneid\tChr\tStart\tEnd\tStrand\tLength\ta.bam\tb.bam\n"
            "TP53\tchr17\t1\t9\t-\t9\t1\t2\n")
    path = write("fc.txt", text)
    assert read_rna_counts(path, "b.bam").tolist() == [2]
    with raises_at(path, 2, "c.bam", "there is no sample column 'c.bam'; the sample columns are a.bam, b.bam"):
        read_rna_counts(path, "c.bam")


def test_matrix_column_is_selected(write):
    path = write("matrix.tsv", "gene_id\tS1\tS2\tS3\nG1\t1\t2\t3\nG2\t4\t5\t6\n")
    counts = read_rna_counts(path, "S2")
    assert counts.to_dict() == {"G1": 2, "G2": 5}
    assert counts.name == "S2"


def test_matrix_with_one_sample_needs_no_column_and_whole_floats_are_counts(write):
    counts = read_rna_counts(write("one.tsv", "gene\tcount\nG1\t12.0\nG2\t3\n"))
    assert counts.to_dict() == {"G1": 12, "G2": 3}


def test_matrix_with_several_samples_needs_a_column(write):
    path = write("matrix.tsv", "gene\tS1\tS2\nG1\t1\t2\n")
    with pytest.raises(SampleColumnProblem, match="holds 2 sample columns"):
        read_rna_counts(path)


def test_missing_matrix_column(write):
    path = write("matrix.tsv", "gene\tS1\tS2\nG1\t1\t2\n")
    with raises_at(path, 1, "S9", "there is no sample column 'S9'"):
        read_rna_counts(path, "S9")


@pytest.mark.parametrize("value, fragment", [
    ("-4", "count '-4' is negative"),
    ("2.5", "count '2.5' is not an integer"),
    ("many", "count 'many' is not a number"),
    ("", "the count is empty"),
])
def test_bad_count_names_line_and_column(write, value, fragment):
    path = write("matrix.tsv", f"gene\tS1\tS2\nG1\t1\t2\nG2\t3\t{value}\nG3\t5\t6\n")
    with raises_at(path, 3, "S2", fragment):
        read_rna_counts(path, "S2")


def test_bad_htseq_count_line_counts_blank_lines(write):
    path = write("s.htseq", "G1\t10\n\nG2\t-1\n")
    with raises_at(path, 3, "2", "count '-1' is negative"):
        read_rna_counts(path)


def test_several_bad_counts_are_counted(write):
    path = write("s.htseq", "G1\t1.5\nG2\t2.5\nG3\t3.5\n")
    with raises_at(path, 1, "2", "count '1.5' is not an integer (and 2 more cell(s) like it)"):
        read_rna_counts(path)


def test_duplicated_gene(write):
    path = write("matrix.tsv", "gene\tS1\nG1\t1\nG2\t2\nG1\t3\n")
    with raises_at(path, 4, "gene", "gene 'G1' appears more than once (lines 2 and 4)"):
        read_rna_counts(path, "S1")


def test_unrecognised_counts_format(write):
    path = write("list.txt", "G1\nG2\n")
    with raises_at(path, 1, None, "unrecognised counts format"):
        read_rna_counts(path)


def test_empty_counts_file(write):
    with pytest.raises(InputProblem, match="the file is empty"):
        read_rna_counts(write("empty.tsv", ""))


def test_windows_line_endings(write):
    counts = read_rna_counts(write("crlf.tsv", "gene\tS1\nG1\t4\nG2\t5\n", newline="\r\n"), "S1")
    assert counts.to_dict() == {"G1": 4, "G2": 5}


# ----- MAF -----

MAF = """\
#version 2.4
#annotation.spec gdc-1.0.1-public
Hugo_Symbol\tEntrez_Gene_Id\tTumor_Sample_Barcode\tVariant_Classification\tStart_Position\tt_alt_count
TP53\t7157\tBC01\tMissense_Mutation\t007\t12
KRAS\t3845\tBC02\tMissense_Mutation\t25245350\t
ARID1A\t8289\tBC02\tFrame_Shift_Del\t26696402\t30
"""


def test_maf_skips_hash_lines_and_keeps_strings(write):
    maf = read_maf(write("cohort.maf", MAF))
    assert maf.shape == (3, 6)
    assert maf["Start_Position"].tolist() == ["007", "25245350", "26696402"]
    assert maf["t_alt_count"].tolist() == ["12", "", "30"]
    assert all(maf.dtypes == object)
    assert maf.index.tolist() == [0, 1, 2]


def test_maf_barcode_selects_rows_and_absent_barcode_is_empty(write):
    path = write("cohort.maf", MAF)
    assert read_maf(path, "BC02")["Hugo_Symbol"].tolist() == ["KRAS", "ARID1A"]
    none = read_maf(path, "BC03")
    assert none.empty and "Variant_Classification" in none.columns


def test_maf_missing_required_column(write):
    path = write("cohort.maf", MAF.replace("Variant_Classification", "Variant_Type"))
    with raises_at(path, 3, "Variant_Classification", "required MAF column(s) 'Variant_Classification'"):
        read_maf(path)


# ----- feature matrices -----

def test_feature_matrix_missing_values_and_string_ids(write):
    path = write("cn.tsv", "gene\tA\tB\tC\n007\t0.5\t\tNA\nERBB2\tNaN\t-1.25\t2e-1\n")
    matrix = read_feature_matrix(path)
    assert matrix.index.tolist() == ["007", "ERBB2"]
    assert matrix.index.name == "feature"
    assert list(matrix.columns) == ["A", "B", "C"]
    expected = np.array([[0.5, np.nan, np.nan], [np.nan, -1.25, 0.2]])
    np.testing.assert_array_equal(matrix.to_numpy(), expected)
    assert (matrix.dtypes == float).all()


def test_feature_matrix_column(write):
    path = write("cn.tsv", "gene\tA\tB\nG1\t1\t2\nG2\t3\t4\n")
    single = read_feature_matrix(path, "B")
    assert isinstance(single, pd.DataFrame)
    assert single.to_dict() == {"B": {"G1": 2.0, "G2": 4.0}}
    with raises_at(path, 1, "Z", "there is no sample column 'Z'"):
        read_feature_matrix(path, "Z")


def test_feature_matrix_non_numeric_cell(write):
    path = write("prot.tsv", "protein\tA\tB\nP1\t1\t2\nP2\t3\t4,5\n")
    with raises_at(path, 3, "B", "'4,5' is not a number"):
        read_feature_matrix(path)


def test_feature_matrix_duplicated_feature(write):
    path = write("prot.tsv", "protein\tA\nP1\t1\nP2\t2\nP1\t3\n")
    with raises_at(path, 4, "protein", "feature 'P1' appears more than once (lines 2 and 4)"):
        read_feature_matrix(path)


def test_feature_matrix_duplicated_column_name(write):
    path = write("prot.tsv", "protein\tA\tA\nP1\t1\t2\n")
    with raises_at(path, 1, "A", "appears twice in the header"):
        read_feature_matrix(path)


# ----- proteins -----

OLINK = """\
SampleID\tIndex\tOlinkID\tAssay\tPanel\tNPX
S1\t1\tOID1\tIL6\tInflammation\t2.5
S2\t2\tOID1\tIL6\tInflammation\t3.25
S1\t1\tOID2\tCXCL9\tInflammation\tNA
S2\t2\tOID2\tCXCL9\tInflammation\t5
S3\t3\tOID1\tIL6\tInflammation\t0
"""


def test_long_format_proteins_are_pivoted(write):
    matrix = read_proteins(write("npx.tsv", OLINK))
    assert matrix.index.tolist() == ["IL6", "CXCL9"]
    assert list(matrix.columns) == ["S1", "S2", "S3"]
    expected = np.array([[2.5, 3.25, 0.0], [np.nan, 5.0, np.nan]])
    np.testing.assert_array_equal(matrix.to_numpy(), expected)


def test_long_format_proteins_column_selects_sample(write):
    path = write("npx.tsv", OLINK)
    assert read_proteins(path, "S2").to_dict() == {"S2": {"IL6": 3.25, "CXCL9": 5.0}}
    with raises_at(path, 1, "SampleID", "there is no SampleID 'S9'"):
        read_proteins(path, "S9")


def test_long_format_duplicated_assay(write):
    path = write("npx.tsv", OLINK + "S1\t1\tOID3\tIL6\tOncology\t4\n")
    with raises_at(path, 7, "Assay", "assay 'IL6' is given twice for SampleID 'S1' (lines 2 and 7)"):
        read_proteins(path)


def test_matrix_proteins_keep_zeros(write):
    matrix = read_proteins(write("prot.tsv", "protein\tA\tB\nP1\t0\t1200\nP2\t\t3.5\n"))
    assert matrix.loc["P1", "A"] == 0.0
    assert np.isnan(matrix.loc["P2", "A"])


# ----- clinical tables -----

PATIENTS = """\
patient_id\ttreatment_start\tlast_contact\tdeath_date\tage\tbor\tpfs_months\tpfs_event
007\t2020-01-10\t2021-01-05\t2021-01-05\t61\tPR\t8.5\t1
P02\t2020-02-01\t2021-06-01\t\t\t\t\t
"""


def test_patients_types(write):
    patients = read_patients(write("patients.tsv", PATIENTS))
    assert patients["patient_id"].tolist() == ["007", "P02"]
    for column in ("treatment_start", "last_contact", "death_date"):
        assert patients[column].dtype == "datetime64[ns]"
    assert patients.loc[0, "death_date"] == pd.Timestamp("2021-01-05")
    assert pd.isna(patients.loc[1, "death_date"])
    assert patients["age"].tolist() == ["61", ""]
    assert patients["bor"].tolist() == ["PR", ""]
    assert patients.loc[0, "pfs_months"] == 8.5 and np.isnan(patients.loc[1, "pfs_months"])
    assert patients.loc[0, "pfs_event"] == 1.0 and np.isnan(patients.loc[1, "pfs_event"])
    assert "os_months" not in patients.columns


def test_patients_without_death_date_column(write):
    patients = read_patients(write("patients.tsv", "patient_id\ttreatment_start\tlast_contact\n"
                                                   "P1\t2020-01-01\t2020-06-01\n"))
    assert patients["death_date"].isna().all()
    assert patients["death_date"].dtype == "datetime64[ns]"


def test_patients_bad_date(write):
    path = write("patients.tsv", PATIENTS.replace("2020-02-01", "1 Feb 2020"))
    with raises_at(path, 3, "treatment_start", "'1 Feb 2020' is not a date"):
        read_patients(path)


def test_patients_bad_event(write):
    path = write("patients.tsv", PATIENTS.replace("8.5\t1", "8.5\t2"))
    with raises_at(path, 2, "pfs_event", "'2' is not one of 0, 1"):
        read_patients(path)


def test_patients_missing_required_column(write):
    path = write("patients.tsv", "patient_id\ttreatment_start\nP1\t2020-01-01\n")
    with raises_at(path, 1, "last_contact", "required column(s) 'last_contact' missing"):
        read_patients(path)


def test_recist_types_and_case(write):
    text = ("patient_id\tdate\ttarget_sum_mm\tnon_target\tnew_lesion\n"
            "P1\t2020-01-02\t50.5\tnon_cr_non_pd\tNo\n"
            "P1\t2020-03-01\t\tPD\tYES\n")
    recist = read_recist(write("recist.tsv", text))
    assert recist["date"].dtype == "datetime64[ns]"
    assert recist.loc[0, "target_sum_mm"] == 50.5 and np.isnan(recist.loc[1, "target_sum_mm"])
    assert recist["non_target"].tolist() == ["NON_CR_NON_PD", "PD"]
    assert recist["new_lesion"].tolist() == ["no", "yes"]


def test_recist_negative_sum(write):
    path = write("recist.tsv", "patient_id\tdate\ttarget_sum_mm\tnon_target\tnew_lesion\n"
                               "P1\t2020-01-02\t-5\tPD\tno\n")
    with raises_at(path, 2, "target_sum_mm", "'-5' is not a number >= 0"):
        read_recist(path)


def test_adverse_events_types(write):
    text = ("patient_id\tterm\tgrade\tonset_date\trelated\tnote\n"
            "P1\tHypertension\t3\t2020-02-01\tYes\tx\n"
            "P2\tFatigue\t1\t2020-03-01\tno\t\n")
    events = read_adverse_events(write("ae.tsv", text))
    assert events["grade"].tolist() == [3, 1] and events["grade"].dtype == np.int64
    assert events["onset_date"].tolist() == [pd.Timestamp("2020-02-01"), pd.Timestamp("2020-03-01")]
    assert events["related"].tolist() == ["yes", "no"]
    assert events["note"].tolist() == ["x", ""]


def test_adverse_events_bad_grade(write):
    path = write("ae.tsv", "patient_id\tterm\tgrade\tonset_date\trelated\n"
                           "P1\tRash\tG3\t2020-02-01\tno\n")
    with raises_at(path, 2, "grade", "'G3' is not one of 1, 2, 3, 4, 5"):
        read_adverse_events(path)


# ----- generic table -----

def test_string_table_is_indexed_by_line_and_handles_bom(write):
    table = read_string_table(write("t.tsv", "\ufeffa\tb\n 1 \t007\n\n3\t\n"))
    assert list(table.columns) == ["a", "b"]
    assert table.index.tolist() == [2, 4]
    assert table.loc[2].tolist() == ["1", "007"]
    assert table.loc[4].tolist() == ["3", ""]


def test_ragged_table(write):
    path = write("t.tsv", "a\tb\n1\t2\n1\t2\t3\n")
    with raises_at(path, 3, None, "a row has more cells than the header"):
        read_string_table(path)
    path = write("u.tsv", "a\tb\n1\t2\n1\t2\n1\t2\t3\t4\n")
    with raises_at(path, 4, None, "a row has more cells than the header"):
        read_string_table(path)

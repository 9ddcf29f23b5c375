import numpy as np
import pandas as pd
import pytest

from trialomics import mutations
from trialomics.tables import write_h5ad

MAF_COLUMNS = ["Hugo_Symbol", "Tumor_Sample_Barcode", "Variant_Classification", "Chromosome",
               "Start_Position", "End_Position", "Reference_Allele", "Tumor_Seq_Allele2",
               "HGVSp_Short"]


def maf(sample_id, rows, columns=MAF_COLUMNS):
    """MAF rows given without the barcode; every column a string, as readers return them."""
    records = [dict(zip([c for c in columns if c != "Tumor_Sample_Barcode"], r)) for r in rows]
    table = pd.DataFrame(records, columns=[c for c in columns if c != "Tumor_Sample_Barcode"])
    table.insert(1, "Tumor_Sample_Barcode", sample_id)
    return table.astype(str)


def sample_meta(sample_ids):
    return pd.DataFrame({"patient_id": [f"P{s[-1]}" for s in sample_ids], "batch": "",
                         "timepoint": "baseline"}, index=pd.Index(sample_ids, name="sample_id"))


@pytest.fixture
def cohort():
    tp53 = ("TP53", "Missense_Mutation", "17", "7675088", "7675088", "C", "T", "p.R175H")
    return {
        "M2": maf("M2", [
            tp53,
            tp53,  # same variant listed twice: counted once
            ("TP53", "Nonsense_Mutation", "17", "7674220", "7674220", "C", "A", "p.R248*"),
            ("KRAS", "Missense_Mutation", "12", "25245350", "25245350", "C", "T", "p.G12D"),
            ("TTN", "Silent", "2", "178527000", "178527000", "G", "A", "p.L100L"),
            ("Unknown", "Splice_Site", "5", "1000", "1000", "A", "G", ""),
        ]),
        "M1": maf("M1", [
            ("IDH1", "Missense_Mutation", "2", "208248388", "208248388", "C", "T", "p.R132H"),
            ("BAP1", "Frame_Shift_Del", "3", "52402000", "52402001", "AG", "-", "p.E31fs"),
            ("BAP1", "3'UTR", "3", "52400000", "52400000", "T", "C", ""),
        ]),
        "M3": maf("M3", []),  # sequenced, nothing found
    }


def test_tmb_known_answers(cohort):
    table = mutations.tumour_mutational_burden(cohort, sample_meta(["M1", "M2", "M3"]),
                                               capture_size_mb=30.0)
    assert list(table.columns[:4]) == ["patient_id", "sample_id", "nonsynonymous_count",
                                       "tmb_per_mb"]
    assert list(table["sample_id"]) == ["M1", "M2", "M3"]
    assert list(table["patient_id"]) == ["P1", "P2", "P3"]
    # M1: missense + frameshift (3'UTR not counted). M2: TP53 x2 (one duplicate dropped), KRAS,
    # splice site without a gene symbol (still a variant); the silent TTN is not counted.
    assert list(table["nonsynonymous_count"]) == [2, 4, 0]
    assert list(table["tmb_per_mb"]) == [2 / 30.0, 4 / 30.0, 0.0]
    assert list(table["total_variants"]) == [3, 5, 0]
    assert list(table["duplicate_rows"]) == [0, 1, 0]


def test_custom_variant_classes(cohort):
    table = mutations.tumour_mutational_burden(cohort, sample_meta(["M1", "M2", "M3"]), 10.0,
                                               variant_classes=["Silent", "3'UTR"])
    assert list(table["nonsynonymous_count"]) == [1, 1, 0]
    assert list(table["tmb_per_mb"]) == [0.1, 0.1, 0.0]


def test_rows_without_positions_are_not_deduplicated():
    rows = [("TP53", "Missense_Mutation"), ("TP53", "Missense_Mutation")]
    mafs = {"M1": maf("M1", rows, columns=["Hugo_Symbol", "Tumor_Sample_Barcode",
                                           "Variant_Classification"])}
    table = mutations.tumour_mutational_burden(mafs, sample_meta(["M1"]), 1.0)
    assert table["nonsynonymous_count"].tolist() == [2]


def test_rejects_bad_parameters(cohort):
    with pytest.raises(ValueError, match="capture_size_mb"):
        mutations.tumour_mutational_burden(cohort, sample_meta(["M1", "M2", "M3"]), 0.0)
    with pytest.raises(ValueError, match="variant_classes"):
        mutations.tumour_mutational_burden(cohort, sample_meta(["M1", "M2", "M3"]), 30.0, [])
    with pytest.raises(ValueError, match="M3"):
        mutations.tumour_mutational_burden(cohort, sample_meta(["M1", "M2"]), 30.0)
    with pytest.raises(ValueError, match="Variant_Classification"):
        mutations.tumour_mutational_burden({"M1": pd.DataFrame({"Hugo_Symbol": ["A"]})},
                                           sample_meta(["M1"]), 30.0)


def test_alteration_matrix(cohort, tmp_path):
    adata = mutations.alteration_matrix(cohort, sample_meta(["M1", "M2", "M3"]),
                                        capture_size_mb=30.0)
    assert list(adata.obs_names) == ["M1", "M2", "M3"]
    assert list(adata.var_names) == ["BAP1", "IDH1", "KRAS", "TP53"]
    expected_raw = np.array([[1, 1, 0, 0],
                             [0, 0, 1, 2],
                             [0, 0, 0, 0]])
    np.testing.assert_array_equal(adata.layers["raw"], expected_raw)
    np.testing.assert_array_equal(adata.X, (expected_raw > 0).astype(float))
    assert adata.X.dtype == np.float64
    assert list(adata.var["n_altered_samples"]) == [1, 1, 1, 1]
    np.testing.assert_allclose(adata.var["altered_fraction"], [1 / 3] * 4)
    assert list(adata.obs["nonsynonymous_count"]) == [2, 4, 0]
    np.testing.assert_allclose(adata.obs["tmb_per_mb"], [2 / 30, 4 / 30, 0.0])
    assert adata.uns["params"]["variant_classes"] == list(mutations.NONSYNONYMOUS_CLASSES)
    assert adata.uns["params"]["capture_size_mb"] == 30.0
    write_h5ad(adata, tmp_path / "normalised.h5ad")


def test_alteration_matrix_without_any_alteration():
    mafs = {"M1": maf("M1", []), "M2": maf("M2", [("TTN", "Silent", "2", "5", "5", "G", "A", "")])}
    adata = mutations.alteration_matrix(mafs, sample_meta(["M1", "M2"]), 30.0)
    assert adata.shape == (2, 0)
    assert list(adata.obs["tmb_per_mb"]) == [0.0, 0.0]


def test_empty_maf_without_columns_means_no_mutations():
    table = mutations.tumour_mutational_burden({"M1": pd.DataFrame()}, sample_meta(["M1"]), 30.0)
    assert table[["nonsynonymous_count", "tmb_per_mb", "total_variants"]].values.tolist() == [
        [0, 0.0, 0]]


def test_alteration_long_table(cohort):
    table = mutations.alteration_long_table(cohort, sample_meta(["M1", "M2", "M3"]))
    assert list(table.columns) == ["patient_id", "sample_id", "gene", "n_variants",
                                   "variant_classifications", "protein_changes"]
    assert table[["sample_id", "gene", "n_variants"]].values.tolist() == [
        ["M1", "BAP1", 1], ["M1", "IDH1", 1], ["M2", "KRAS", 1], ["M2", "TP53", 2]]
    tp53 = table.set_index("gene").loc["TP53"]
    assert tp53["variant_classifications"] == "Missense_Mutation;Nonsense_Mutation"
    assert tp53["protein_changes"] == "p.R175H;p.R248*"

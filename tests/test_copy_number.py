import numpy as np
import pandas as pd
import pytest

from trialomics import copy_number
from trialomics.tables import write_h5ad


def sample_meta(sample_ids):
    return pd.DataFrame({"patient_id": [f"P{s[-1]}" for s in sample_ids], "batch": "B1",
                         "timepoint": "baseline"}, index=pd.Index(sample_ids, name="sample_id"))


def test_log2_ratio_calls_at_every_threshold():
    values = [-3.0, -1.0, -0.99, -0.3, -0.29, 0.0, 0.29, 0.3, 0.99, 1.0, 4.0, np.nan]
    expected = [-2, -2, -1, -1, 0, 0, 0, 1, 1, 2, 2, pd.NA]
    table = pd.DataFrame({"S1": values}, index=[f"g{i}" for i in range(len(values))])
    calls = copy_number.call_copy_number(table, "log2_ratio")
    assert str(calls["S1"].dtype) == "Int64"
    assert calls["S1"].tolist() == expected


def test_custom_thresholds():
    table = pd.DataFrame({"S1": [-1.2, -1.1, -0.25, 0.2, 0.7]}, index=list("abcde"))
    calls = copy_number.call_copy_number(table, "log2_ratio", gain_threshold=0.2,
                                         amplification_threshold=0.7, loss_threshold=-0.25,
                                         deep_deletion_threshold=-1.1)
    assert calls["S1"].tolist() == [-2, -2, -1, 1, 2]
    with pytest.raises(ValueError, match="deep_deletion < loss < gain < amplification"):
        copy_number.call_copy_number(table, "log2_ratio", gain_threshold=-0.5)


def test_calls_input_is_validated_and_kept():
    table = pd.DataFrame({"S1": [-2.0, 0.0, np.nan], "S2": [2.0, 1.0, -1.0]}, index=list("abc"))
    calls = copy_number.call_copy_number(table, "calls")
    assert calls["S1"].tolist() == [-2, 0, pd.NA]
    assert calls["S2"].tolist() == [2, 1, -1]
    with pytest.raises(ValueError, match=r"gene 'b' in sample 'S2'"):
        copy_number.call_copy_number(pd.DataFrame({"S1": [0.0, 1.0], "S2": [0.0, 0.4]},
                                                  index=["a", "b"]), "calls")
    with pytest.raises(ValueError, match="-2..2"):
        copy_number.call_copy_number(pd.DataFrame({"S1": [3.0]}, index=["a"]), "calls")
    with pytest.raises(ValueError, match="scale"):
        copy_number.call_copy_number(table, "segments")


def test_normalised_anndata_orientation_and_counts(tmp_path):
    values = pd.DataFrame({"S2": [1.5, -0.5, np.nan], "S1": [0.4, -1.5, 0.0],
                           "S3": [0.1, -0.4, 2.0]}, index=["MYC", "CDKN2A", "ERBB2"])
    adata = copy_number.normalise_copy_number(values, sample_meta(["S1", "S2", "S3"]),
                                              "log2_ratio")
    assert adata.shape == (3, 3)
    assert list(adata.obs_names) == ["S1", "S2", "S3"]
    assert list(adata.var_names) == ["CDKN2A", "ERBB2", "MYC"]
    assert list(adata.obs["patient_id"]) == ["P1", "P2", "P3"]
    np.testing.assert_array_equal(adata.X, [[-1.5, 0.0, 0.4], [-0.5, np.nan, 1.5],
                                            [-0.4, 2.0, 0.1]])
    np.testing.assert_array_equal(adata.layers["raw"], adata.X)
    np.testing.assert_array_equal(adata.layers["calls"], [[-2, 0, 1], [-1, np.nan, 2],
                                                          [-1, 2, 0]])
    var = adata.var
    assert list(var.columns) == ["n_amplified", "n_gain", "n_neutral", "n_loss", "n_deep_deleted",
                                 "n_missing"]
    assert var.loc["CDKN2A"].tolist() == [0, 0, 0, 2, 1, 0]
    assert var.loc["ERBB2"].tolist() == [1, 0, 1, 0, 0, 1]
    assert var.loc["MYC"].tolist() == [1, 1, 1, 0, 0, 0]
    assert adata.uns["params"] == {"scale": "log2_ratio", "thresholds": {
        "amplification": 1.0, "gain": 0.3, "loss": -0.3, "deep_deletion": -1.0}}
    write_h5ad(adata, tmp_path / "normalised.h5ad")

    table = copy_number.calls_table(adata)
    assert list(table.columns) == ["gene", "S1", "S2", "S3"]
    assert table["gene"].tolist() == ["CDKN2A", "ERBB2", "MYC"]
    assert table["S2"].tolist() == [-1, pd.NA, 2]


def test_normalise_calls_input():
    values = pd.DataFrame({"S1": [2, -2], "S2": [0, 1]}, index=["MYC", "PTEN"])
    adata = copy_number.normalise_copy_number(values, sample_meta(["S1", "S2"]), "calls")
    np.testing.assert_array_equal(adata.X, [[2.0, -2.0], [0.0, 1.0]])
    np.testing.assert_array_equal(adata.layers["calls"], adata.X)
    assert adata.X.dtype == np.float64
    assert adata.uns["params"] == {"scale": "calls"}


def test_normalise_rejects_duplicates_and_unknown_samples():
    with pytest.raises(ValueError, match="MYC"):
        copy_number.normalise_copy_number(pd.DataFrame({"S1": [0.1, 0.2]}, index=["MYC", "MYC"]),
                                          sample_meta(["S1"]), "log2_ratio")
    with pytest.raises(ValueError, match="S9"):
        copy_number.normalise_copy_number(pd.DataFrame({"S9": [0.1]}, index=["MYC"]),
                                          sample_meta(["S1"]), "log2_ratio")

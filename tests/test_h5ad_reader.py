"""read_samples gives what anndata.read_h5ad gives, for the files the workflow writes and for others."""
from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from trialomics.h5ad_reader import SampleMatrix, read_samples
from trialomics.survival import baseline_matrix


def written(tmp_path, X, **layers):
    rng = np.random.default_rng(0)
    n = X.shape[0]
    obs = pd.DataFrame({"patient_id": pd.Categorical([f"P{i // 2}" for i in range(n)]),
                        "batch": pd.Categorical(["b1", "b2"] * (n // 2), categories=["b2", "b1"], ordered=True),
                        "timepoint": np.array(["baseline", "C2D1"] * (n // 2), dtype=object),
                        "tmb_per_mb": rng.uniform(0, 20, n), "n_missing": np.arange(n)},
                       index=pd.Index([f"S{i}" for i in range(n)], name="sample_id"))
    var = pd.DataFrame({"mean": rng.normal(size=X.shape[1])},
                       index=pd.Index([f"G{j}" for j in range(X.shape[1])], name="gene"))
    path = tmp_path / "m.h5ad"
    ad.AnnData(X=X, obs=obs, var=var, layers=layers).write_h5ad(path)
    return path


def assert_same(ours: SampleMatrix, theirs: ad.AnnData):
    np.testing.assert_array_equal(ours.X, theirs.X.toarray() if sparse.issparse(theirs.X) else theirs.X)
    pd.testing.assert_frame_equal(ours.obs, theirs.obs)
    pd.testing.assert_index_equal(ours.var_names, theirs.var_names)
    assert set(ours.layers) == set(theirs.layers)
    for name in ours.layers:
        np.testing.assert_array_equal(ours.layers[name], theirs.layers[name])


def test_a_workflow_file_reads_as_anndata_reads_it(tmp_path):
    X = np.random.default_rng(1).normal(size=(8, 5))
    X[0, 1] = np.nan
    path = written(tmp_path, X, log2=X * 2, raw=np.arange(40).reshape(8, 5))
    ours, theirs = read_samples(path), ad.read_h5ad(path)
    assert_same(ours, theirs)
    for modality in ("rna", "proteins", "mutations"):
        pd.testing.assert_frame_equal(baseline_matrix(ours, modality), baseline_matrix(theirs, modality))
    mask = (ours.obs["timepoint"] == "C2D1").to_numpy()
    assert_same(ours[mask], theirs[mask].copy())


def test_a_file_with_other_encodings_is_read_through_anndata(tmp_path):
    X = sparse.random(6, 4, density=0.5, format="csr", random_state=2)
    path = written(tmp_path, X)
    assert_same(read_samples(path), ad.read_h5ad(path))


def test_only_boolean_sample_masks_select():
    matrix = SampleMatrix(np.zeros((2, 1)), pd.DataFrame(index=["a", "b"]), pd.Index(["g"]))
    assert matrix[np.array([True, False])].obs.index.tolist() == ["a"]
    with pytest.raises(IndexError, match="boolean mask"):
        matrix[[0]]

import numpy as np
import pandas as pd
import pytest

from trialomics import rna
from trialomics.tables import write_h5ad


def sample_meta(sample_ids, batch=""):
    return pd.DataFrame(
        {"patient_id": [f"P{s}" for s in sample_ids], "batch": batch, "timepoint": "baseline"},
        index=pd.Index(sample_ids, name="sample_id"),
    )


def simulate_counts(n_samples=8, n_genes=300, seed=7, dispersion=0.05):
    """Negative binomial counts with known size factors; genes x samples."""
    rng = np.random.default_rng(seed)
    means = np.exp(rng.uniform(np.log(5), np.log(5000), n_genes))
    size_factors = np.exp(rng.normal(0.0, 0.4, n_samples))
    mu = means[:, None] * size_factors[None, :]
    size = 1.0 / dispersion
    counts = rng.negative_binomial(size, size / (size + mu))
    return pd.DataFrame(counts.astype(np.int64),
                        index=pd.Index([f"G{j:03d}" for j in range(n_genes)], name="gene"),
                        columns=[f"S{i}" for i in range(n_samples)])


@pytest.fixture(scope="module")
def simulated():
    counts = simulate_counts()
    adata = rna.normalise_rna(counts, sample_meta(list(counts.columns)), min_count=10,
                              min_samples=3)
    return counts, adata


def test_size_factors_match_hand_computation():
    # True factors 0.5, 1, 2, 1 (geometric mean 1). g1 and g2 scale exactly; g3 is an outlier the
    # median ignores; g4 has a zero, so it has no geometric mean and is left out.
    counts = pd.DataFrame(
        {"A": [5, 10, 100, 0], "B": [10, 20, 1, 5], "C": [20, 40, 1, 5], "D": [10, 20, 1, 5]},
        index=["g1", "g2", "g3", "g4"],
    )
    # By hand: geometric means g1 = (5*10*20*10)^(1/4) = 10, g2 = 20, g3 = 100^(1/4) = 3.1623.
    # Ratios of sample A: 0.5, 0.5, 31.6 -> median 0.5; B: 1, 1, 0.316 -> 1; C: 2, 2, 0.316 -> 2.
    factors = rna.median_of_ratios_size_factors(counts)
    assert list(factors.index) == ["A", "B", "C", "D"]
    np.testing.assert_allclose(factors.to_numpy(), [0.5, 1.0, 2.0, 1.0], rtol=1e-12)


def test_size_factors_need_a_gene_without_zeros():
    counts = pd.DataFrame({"A": [0, 3], "B": [4, 0]}, index=["g1", "g2"])
    with pytest.raises(ValueError, match="zero count"):
        rna.median_of_ratios_size_factors(counts)


def test_pydeseq2_size_factors_agree_with_independent_estimator(simulated):
    counts, adata = simulated
    kept = counts.loc[adata.var_names, adata.obs_names]
    expected = rna.median_of_ratios_size_factors(kept)
    np.testing.assert_allclose(adata.obs["size_factor"].to_numpy(), expected.to_numpy(),
                               rtol=1e-6)
    np.testing.assert_allclose(adata.layers["normalised_counts"],
                               kept.T.to_numpy() / expected.to_numpy()[:, None], rtol=1e-6)


def test_filter_keeps_exactly_the_genes_reaching_min_count_in_enough_samples():
    counts = pd.DataFrame(
        [[10, 10, 0, 0],     # exactly min_count in exactly min_samples: kept (both inclusive)
         [9, 9, 100, 0],     # one sample reaches 10: removed
         [10, 9, 9, 9],      # one sample: removed
         [50, 50, 50, 50],   # kept
         [9, 9, 9, 9]],      # high total but never 10: removed
        index=pd.Index(["a", "b", "c", "d", "e"], name="gene"), columns=["S1", "S2", "S3", "S4"],
    )
    kept = rna.filter_low_counts(counts, min_count=10, min_samples=2)
    assert list(kept.index) == ["a", "d"]
    table = rna.low_count_filter_table(counts, min_count=10, min_samples=2)
    assert list(table["n_samples_at_min_count"]) == [2, 1, 1, 4, 0]
    assert list(table["kept"]) == ["yes", "no", "no", "yes", "no"]
    summary = rna.low_count_filter_summary(counts, min_count=10, min_samples=2)
    assert summary == {"min_count": 10, "min_samples": 2, "min_samples_effective": 2,
                       "n_samples": 4, "genes_before": 5, "genes_kept": 2, "genes_removed": 3}


def test_filter_with_fewer_samples_than_min_samples_requires_every_sample():
    counts = pd.DataFrame([[10, 10], [10, 0]], index=["a", "b"], columns=["S1", "S2"])
    assert list(rna.filter_low_counts(counts, min_count=10, min_samples=3).index) == ["a"]


def test_build_count_matrix_sorts_and_keeps_integers():
    counts = {
        "S2": pd.Series([3, 1], index=pd.Index(["TP53", "A1BG"], name="gene"), name="S2"),
        "S1": pd.Series([5, 7], index=pd.Index(["A1BG", "TP53"], name="gene"), name="S1"),
    }
    matrix = rna.build_count_matrix(counts)
    assert list(matrix.columns) == ["S1", "S2"]
    assert list(matrix.index) == ["A1BG", "TP53"]
    assert (matrix.dtypes == np.int64).all()
    assert matrix.loc["TP53", "S2"] == 3 and matrix.loc["TP53", "S1"] == 7


def test_build_count_matrix_rejects_mismatched_genes():
    counts = {
        "S1": pd.Series([1, 2, 3], index=["A1BG", "TP53", "KRAS"]),
        "S2": pd.Series([1, 2], index=["A1BG", "TP53"]),
        "S3": pd.Series([1, 2, 3], index=["A1BG", "TP53", "KRAS"]),
    }
    with pytest.raises(ValueError, match=r"S2 lacks 1 gene\(s\), e.g. 'KRAS'") as error:
        rna.build_count_matrix(counts)
    assert "S1" not in str(error.value) and "annotation" in str(error.value)


def test_build_count_matrix_rejects_non_counts():
    with pytest.raises(ValueError, match="non-negative integers"):
        rna.build_count_matrix({"S1": pd.Series([1.5, 2.0], index=["A", "B"])})
    with pytest.raises(ValueError, match="more than once"):
        rna.build_count_matrix({"S1": pd.Series([1, 2], index=["A", "A"])})


def test_normalised_anndata_layout(simulated):
    counts, adata = simulated
    assert list(adata.obs_names) == sorted(counts.columns)
    assert list(adata.var_names) == sorted(adata.var_names)
    assert list(adata.obs.columns) == ["patient_id", "batch", "timepoint", "library_size",
                                       "size_factor"]
    assert adata.X.dtype == np.float64 and isinstance(adata.X, np.ndarray)
    assert adata.layers["raw"].dtype == np.int64
    np.testing.assert_array_equal(adata.layers["raw"],
                                  counts.loc[adata.var_names, adata.obs_names].T.to_numpy())
    expected_kept = rna.filter_low_counts(counts, 10, 3).index
    assert list(adata.var_names) == list(expected_kept)
    np.testing.assert_array_equal(adata.obs["library_size"], counts.sum(axis=0).to_numpy())
    assert adata.uns["params"]["min_count"] == 10
    assert adata.uns["params"]["vst_blind"] is True
    assert adata.uns["filtering"]["genes_kept"] == adata.n_vars
    np.testing.assert_allclose(adata.var["base_mean"],
                               adata.layers["normalised_counts"].mean(axis=0))


def test_vst_is_monotone_in_normalised_counts_per_gene(simulated):
    _, adata = simulated
    normalised = adata.layers["normalised_counts"]
    for j in range(adata.n_vars):
        order = np.argsort(normalised[:, j], kind="stable")
        assert np.all(np.diff(adata.X[order, j]) >= -1e-12)


def test_vst_approaches_log2_for_high_counts_and_stabilises_variance(simulated):
    _, adata = simulated
    normalised = adata.layers["normalised_counts"]
    high = adata.var["base_mean"].to_numpy() > 500
    # DESeq2's parametric VST tends to log2(normalised count) for large counts.
    np.testing.assert_allclose(adata.X[:, high], np.log2(normalised[:, high]), atol=0.1)
    # Simulated dispersion 0.05: the VST's standard deviation should sit near
    # sqrt(0.05) / ln 2 = 0.32 at every expression level, not grow with the mean as counts do.
    base_mean = adata.var["base_mean"].to_numpy()
    vst_sd = adata.X.std(axis=0, ddof=1)
    middle = (base_mean > 100) & (base_mean <= 500)
    top = base_mean > 2000
    assert middle.sum() > 20 and top.sum() > 20
    ratio = np.median(vst_sd[top]) / np.median(vst_sd[middle])
    assert 0.6 < ratio < 1.5
    count_sd = normalised.std(axis=0, ddof=1)
    assert np.median(count_sd[top]) / np.median(count_sd[middle]) > 5


def test_vst_is_deterministic_and_writes_to_h5ad(simulated, tmp_path):
    counts, adata = simulated
    again = rna.normalise_rna(counts, sample_meta(list(counts.columns)), min_count=10,
                              min_samples=3)
    np.testing.assert_array_equal(adata.X, again.X)
    np.testing.assert_array_equal(adata.obs["size_factor"], again.obs["size_factor"])
    write_h5ad(adata, tmp_path / "normalised.h5ad")
    assert (tmp_path / "normalised.h5ad").exists()


def test_normalise_rna_needs_metadata_for_every_sample():
    counts = simulate_counts(n_samples=4, n_genes=50)
    with pytest.raises(ValueError, match="S3"):
        rna.normalise_rna(counts, sample_meta(["S0", "S1", "S2"]))


def test_size_factor_table(simulated):
    _, adata = simulated
    table = rna.size_factor_table(adata)
    assert list(table.columns) == ["sample_id", "patient_id", "library_size", "size_factor"]
    assert list(table["sample_id"]) == list(adata.obs_names)
    assert list(table["patient_id"]) == [f"P{s}" for s in adata.obs_names]

"""Tests for trialomics.qc: PCA, sample correlation, outlier flags and their plots."""
import anndata as ad
import matplotlib.figure
import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.decomposition import PCA

from trialomics import qc, style


def make_adata(values, obs=None):
    values = np.asarray(values, dtype=float)
    samples = [f"S{i:02d}" for i in range(values.shape[0])]
    features = [f"G{j:03d}" for j in range(values.shape[1])]
    if obs is None:
        obs = pd.DataFrame({"patient_id": [f"P{i:02d}" for i in range(values.shape[0])]}, index=samples)
    return ad.AnnData(values, obs=obs, var=pd.DataFrame(index=features))


def two_group_matrix(n_per_group=8, n_features=300, seed=0):
    """Feature-specific abundance + noise; the second group is up by 1.5 in the first 60 features."""
    rng = np.random.default_rng(seed)
    values = rng.normal(20, 3, size=(1, n_features)) + rng.normal(0, 0.5, size=(2 * n_per_group, n_features))
    values[n_per_group:, :60] += 1.5
    return values


# --- PCA -----------------------------------------------------------------------------------------

def test_pca_separates_planted_groups_on_pc1():
    adata = make_adata(two_group_matrix())
    scores = qc.pca_scores(adata)
    assert list(scores.columns) == ["PC1", "PC2"]
    assert scores.index.name == "sample_id" and list(scores.index) == list(adata.obs_names)
    first, second = scores["PC1"].iloc[:8], scores["PC1"].iloc[8:]
    assert first.max() < second.min() or second.max() < first.min()


def test_pca_matches_sklearn_up_to_sign_and_reports_variance_ratio():
    values = two_group_matrix()
    scores = qc.pca_scores(make_adata(values), n_components=3)
    reference = PCA(n_components=3, svd_solver="full").fit(values)
    np.testing.assert_allclose(np.abs(scores.to_numpy()), np.abs(reference.transform(values)), atol=1e-8)
    np.testing.assert_allclose(list(scores.attrs["explained_variance_ratio"].values()),
                               reference.explained_variance_ratio_, rtol=1e-10)
    table = qc.explained_variance_table(scores)
    assert table["component"].tolist() == ["PC1", "PC2", "PC3"]


def test_pca_sign_convention_makes_largest_loading_positive_and_is_stable():
    for seed in range(10):
        values = np.random.default_rng(seed).normal(size=(12, 40))
        scores = qc.pca_scores(make_adata(values))
        centred = values - values.mean(axis=0)
        for component in ("PC1", "PC2"):
            # Loadings recovered independently from the scores: X^T s is proportional to the loading.
            loading = centred.T @ scores[component].to_numpy()
            assert loading[np.argmax(np.abs(loading))] > 0
    # Reordering samples or features gives the same scores.
    values = two_group_matrix()
    scores = qc.pca_scores(make_adata(values))
    order = np.random.default_rng(1).permutation(values.shape[0])
    reordered = qc.principal_components(
        pd.DataFrame(values[order][:, ::-1], index=scores.index[order]), n_components=2)
    pd.testing.assert_frame_equal(reordered.loc[scores.index], scores, check_names=False,
                                  check_exact=False, atol=1e-8)


def test_pca_drops_features_with_nan_or_no_variation():
    values = two_group_matrix()
    extended = np.column_stack([values, np.full(values.shape[0], 4.0), values[:, 0] * 10])
    extended[3, -1] = np.nan
    base = qc.pca_scores(make_adata(values))
    with_extra = qc.principal_components(pd.DataFrame(extended, index=base.index))
    np.testing.assert_allclose(with_extra.to_numpy(), base.to_numpy(), atol=1e-10)


def test_pca_works_on_binary_matrix_and_caps_components():
    binary = (np.random.default_rng(3).random((10, 4)) < 0.4).astype(float)
    binary[:, 0] = 0.0  # never altered: dropped
    scores = qc.pca_scores(make_adata(binary), n_components=5)
    assert scores.shape[0] == 10 and scores.shape[1] <= 3
    with pytest.raises(ValueError, match="at least 2 samples"):
        qc.pca_scores(make_adata(np.zeros((4, 3))))


# --- correlation ---------------------------------------------------------------------------------

def test_sample_correlation_is_symmetric_with_unit_diagonal_and_matches_numpy():
    values = two_group_matrix()
    corr = qc.sample_correlation(make_adata(values))
    np.testing.assert_allclose(corr.to_numpy(), corr.to_numpy().T)
    np.testing.assert_allclose(np.diag(corr), 1.0)
    np.testing.assert_allclose(corr.to_numpy(), np.corrcoef(values), atol=1e-12)


def test_spearman_correlation_matches_scipy():
    values = two_group_matrix(n_per_group=3, n_features=50)
    corr = qc.sample_correlation(make_adata(values), method="spearman")
    np.testing.assert_allclose(corr.to_numpy(), spearmanr(values.T).statistic, atol=1e-12)
    with pytest.raises(ValueError, match="method"):
        qc.sample_correlation(make_adata(values), method="kendall")


def test_constant_sample_has_undefined_correlation_but_unit_diagonal():
    binary = np.array([[1, 0, 1, 0], [0, 0, 0, 0], [1, 1, 0, 0], [0, 1, 1, 1]], dtype=float)
    corr = qc.sample_correlation(make_adata(binary))
    assert corr.loc["S01", "S01"] == 1.0
    assert np.isnan(corr.loc["S01", "S00"]) and np.isnan(corr.loc["S00", "S01"])


# --- outliers ------------------------------------------------------------------------------------

def test_robust_z_uses_median_and_scaled_mad():
    z = qc.robust_z(pd.Series([1.0, 2.0, 3.0, 4.0, 100.0, np.nan]))
    assert z.iloc[4] == pytest.approx(97 / 1.4826)
    assert z.iloc[2] == 0.0 and np.isnan(z.iloc[5])
    # MAD 0: mean absolute deviation takes over; all equal: z is 0.
    assert qc.robust_z(pd.Series([1.0, 1.0, 1.0, 5.0])).iloc[3] == pytest.approx(4 / (1.2533 * 1.0))
    assert qc.robust_z(pd.Series([2.0, 2.0, 2.0])).tolist() == [0.0, 0.0, 0.0]


def test_planted_outlier_is_the_only_flagged_sample():
    values = two_group_matrix(n_per_group=10)
    values[4] = np.random.default_rng(9).permutation(values[4])
    table = qc.flag_outliers(make_adata(values))
    assert list(table.columns) == ["sample_id", "patient_id", "median_correlation",
                                   "decorrelation_robust_z", "distance_to_median", "distance_robust_z",
                                   "outlier", "reason"]
    assert table.loc[table["outlier"] == "yes", "sample_id"].tolist() == ["S04"]
    flagged = table.set_index("sample_id").loc["S04"]
    assert flagged["patient_id"] == "P04" and "low correlation" in flagged["reason"]
    assert (table.loc[table["outlier"] == "no", "reason"] == "").all()


@pytest.mark.parametrize("seed", range(5))
def test_clean_two_group_data_has_no_outlier(seed):
    table = qc.flag_outliers(make_adata(two_group_matrix(n_per_group=10, seed=seed)))
    assert (table["outlier"] == "no").all()


def test_too_few_samples_flags_nothing():
    table = qc.flag_outliers(make_adata(two_group_matrix(n_per_group=1)))
    assert (table["outlier"] == "no").all() and table["decorrelation_robust_z"].isna().all()


# --- plots ---------------------------------------------------------------------------------------

def labelled_obs(n=16):
    samples = [f"S{i:02d}" for i in range(n)]
    return pd.DataFrame({"patient_id": samples,
                         "bor": (["CR", "PR", "SD", "PD", "", "SD", "PD", "NE"] * 4)[:n],
                         "responder": (["yes", "yes", "no", "no", "", "no", "no", "no"] * 4)[:n],
                         "batch": (["A", "B"] * n)[:n]}, index=samples)


def test_label_colours_follow_the_style_dictionaries():
    obs = labelled_obs()
    assert qc.label_colours("bor", obs["bor"])["CR"] == style.RESPONSE_COLOURS["CR"]
    assert qc.label_colours("responder", obs["responder"]) == {
        "yes": style.GROUP_COLOURS["yes"], "no": style.GROUP_COLOURS["no"], "NA": style.GROUP_COLOURS["NA"]}
    batch = qc.label_colours("batch", obs["batch"])
    assert batch["A"] == style.category_colours(["A", "B"])["A"]
    assert qc.annotation_labels(obs, "bor", obs.index).iloc[4] == "NA"


@pytest.mark.parametrize("colour_by", ["bor", "responder", "batch", "absent_column"])
def test_plot_pca_returns_figure_with_and_without_response_columns(colour_by):
    adata = make_adata(two_group_matrix(), obs=labelled_obs())
    scores = qc.pca_scores(adata)
    assert isinstance(qc.plot_pca(scores, adata.obs, colour_by), matplotlib.figure.Figure)
    bare = adata.obs[["patient_id"]]
    assert isinstance(qc.plot_pca(scores, bare, colour_by), matplotlib.figure.Figure)


def test_correlation_heatmap_orders_by_clustering_and_draws_annotations():
    adata = make_adata(two_group_matrix(), obs=labelled_obs())
    corr = qc.sample_correlation(adata)
    order = qc.cluster_order(corr)
    assert sorted(order) == sorted(corr.index)
    # The two planted groups form the two top-level clusters, so each is contiguous in the order.
    positions = sorted(order.index(s) for s in corr.index[:8])
    assert positions == list(range(positions[0], positions[0] + 8))
    with_strips = qc.plot_correlation_heatmap(corr, adata.obs[["bor", "responder"]])
    assert isinstance(with_strips, matplotlib.figure.Figure)
    assert isinstance(qc.plot_correlation_heatmap(corr), matplotlib.figure.Figure)

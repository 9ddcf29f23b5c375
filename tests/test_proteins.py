"""Tests for trialomics.proteins: log2, missingness filter, imputers, median normalisation, ComBat."""
import anndata as ad
import matplotlib.figure
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from trialomics import imputation, proteins, tables


def frame(values, features=None, samples=None):
    values = np.asarray(values, dtype=float)
    features = features or [f"P{i:03d}" for i in range(values.shape[0])]
    samples = samples or [f"S{j:02d}" for j in range(values.shape[1])]
    return pd.DataFrame(values, index=features, columns=samples)


def simulated_log2(n_features=200, n_samples=20, seed=0, missing_rate=0.0):
    """Protein-specific abundance plus sample noise; low values go missing more often (MNAR)."""
    rng = np.random.default_rng(seed)
    values = rng.normal(22, 3, size=(n_features, 1)) + rng.normal(0, 0.5, size=(n_features, n_samples))
    if missing_rate:
        p_missing = missing_rate * 2 / (1 + np.exp(values - 20))
        values[rng.random(values.shape) < p_missing] = np.nan
    return frame(values)


# --- to_log2 -------------------------------------------------------------------------------------

def test_raw_intensities_become_log2_with_zero_and_negative_missing():
    raw = frame([[1.0, 2.0, 1024.0], [0.0, -5.0, np.nan], [np.inf, 8.0, 0.5]])
    result = proteins.to_log2(raw, "raw")
    expected = frame([[0.0, 1.0, 10.0], [np.nan, np.nan, np.nan], [np.nan, 3.0, -1.0]])
    pd.testing.assert_frame_equal(result, expected)


def test_log2_scale_is_unchanged_including_zero_and_negative():
    npx = frame([[0.0, -1.5], [3.25, np.nan]])
    pd.testing.assert_frame_equal(proteins.to_log2(npx, "log2"), npx)


def test_unknown_scale_is_an_error():
    with pytest.raises(ValueError, match="scale"):
        proteins.to_log2(frame([[1.0]]), "ln")


# --- missingness ---------------------------------------------------------------------------------

def test_filter_keeps_protein_exactly_at_the_maximum_missing_fraction():
    values = np.ones((3, 10))
    values[0, :5] = np.nan   # 0.5 missing: kept at max 0.5
    values[1, :6] = np.nan   # 0.6 missing: dropped
    log2 = frame(values)
    kept = proteins.filter_missingness(log2, 0.5)
    assert list(kept.index) == ["P000", "P002"]
    table = proteins.protein_missingness(log2, 0.5)
    assert table["n_missing"].tolist() == [5, 6, 0]
    assert table["missing_fraction"].tolist() == [0.5, 0.6, 0.0]
    assert table["kept"].tolist() == ["yes", "no", "yes"]


def test_filter_boundary_survives_floating_point_products():
    values = np.ones((1, 100))
    values[0, :29] = np.nan  # 29/100 = 0.29, while 0.29 * 100 = 28.999999999999996
    assert len(proteins.filter_missingness(frame(values), 0.29)) == 1


def test_missingness_mean_uses_observed_values_only():
    table = proteins.protein_missingness(frame([[1.0, 3.0, np.nan]]), 1.0)
    assert table["mean_log2"].iloc[0] == pytest.approx(2.0)


# --- DownshiftedNormalImputer --------------------------------------------------------------------

def samples_by_features(seed=1, missing_rate=0.3):
    return simulated_log2(n_features=300, n_samples=20, seed=seed, missing_rate=missing_rate).T


def test_imputer_fills_every_nan_and_keeps_observed_values():
    X = samples_by_features()
    missing = X.isna().to_numpy()
    assert missing.any()
    filled = proteins.DownshiftedNormalImputer(random_state=3).fit_transform(X)
    assert not np.isnan(filled).any()
    np.testing.assert_array_equal(filled[~missing], X.to_numpy()[~missing])


def test_imputed_values_lie_below_each_samples_observed_mean_with_perseus_parameters():
    X = samples_by_features(missing_rate=0.6)
    filled = proteins.DownshiftedNormalImputer(downshift=1.8, width=0.3, random_state=0).fit_transform(X)
    for row in range(X.shape[0]):
        observed = X.iloc[row].dropna().to_numpy()
        drawn = filled[row][X.iloc[row].isna().to_numpy()]
        mean, sd = observed.mean(), observed.std(ddof=1)
        assert (drawn < mean).all()
        # Independent check of the distribution: centre mean - 1.8 SD, spread 0.3 SD.
        se = 0.3 * sd / np.sqrt(len(drawn))
        assert abs(drawn.mean() - (mean - 1.8 * sd)) < 5 * se
        assert 0.5 * 0.3 * sd < drawn.std(ddof=1) < 1.5 * 0.3 * sd


def test_imputer_same_seed_same_output_and_other_seed_differs():
    X = samples_by_features()
    first = proteins.DownshiftedNormalImputer(random_state=7).fit_transform(X)
    again = proteins.DownshiftedNormalImputer(random_state=7).fit_transform(X)
    other = proteins.DownshiftedNormalImputer(random_state=8).fit_transform(X)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_imputer_in_pipeline_fit_on_train_rows_transform_other_rows():
    X = samples_by_features()
    y = np.array([0, 1] * 10)
    train, test = X.iloc[:15], X.iloc[15:]
    imputer = clone(proteins.DownshiftedNormalImputer(downshift=2.0, random_state=5))
    assert imputer.get_params()["downshift"] == 2.0
    filled_test = imputer.fit(train).transform(test)
    assert filled_test.shape == (5, X.shape[1])
    # A test row depends only on itself: other training rows or a label change nothing.
    refit = proteins.DownshiftedNormalImputer(downshift=2.0, random_state=5).fit(X.iloc[3:9], y[3:9])
    np.testing.assert_array_equal(refit.transform(test), filled_test)
    np.testing.assert_array_equal(imputer.transform(test.iloc[:2]), filled_test[:2])
    model = Pipeline([("impute", proteins.DownshiftedNormalImputer(random_state=0)),
                      ("classify", LogisticRegression(max_iter=500))])
    predictions = clone(model).fit(train, y[:15]).predict(test)
    assert predictions.shape == (5,)


def test_imputer_rejects_other_features_and_nearly_empty_samples():
    X = samples_by_features()
    imputer = proteins.DownshiftedNormalImputer().fit(X)
    with pytest.raises(ValueError):
        imputer.transform(X.iloc[:, :10])
    sparse = X.copy()
    sparse.iloc[2, 1:] = np.nan
    with pytest.raises(ValueError, match=r"rows \[2\]"):
        proteins.DownshiftedNormalImputer().fit_transform(sparse)


def test_imputer_keeps_feature_names_for_pandas_output():
    X = samples_by_features()
    imputer = proteins.DownshiftedNormalImputer().set_output(transform="pandas")
    filled = imputer.fit_transform(X)
    assert list(filled.columns) == list(X.columns)


# --- MinimumValueImputer and make_imputer --------------------------------------------------------

def test_half_minimum_uses_training_minimum_minus_one_on_log2_scale():
    train = pd.DataFrame({"A": [4.0, 6.0, np.nan], "B": [10.0, np.nan, 12.0], "C": [np.nan] * 3})
    test = pd.DataFrame({"A": [np.nan, 1.0], "B": [np.nan, np.nan], "C": [np.nan, 5.0]})
    imputer = proteins.MinimumValueImputer(fraction_of_minimum=0.5).fit(train)
    # A: min 4 -> 3; B: min 10 -> 9; C never observed: smallest training value 4 -> 3.
    np.testing.assert_array_equal(imputer.transform(test), [[3.0, 9.0, 3.0], [1.0, 9.0, 5.0]])


def test_make_imputer_chooses_method_and_passes_seed():
    downshifted = proteins.make_imputer("downshifted_normal", 11, downshift=2.0, width=0.2)
    assert isinstance(downshifted, proteins.DownshiftedNormalImputer)
    assert (downshifted.random_state, downshifted.downshift, downshifted.width) == (11, 2.0, 0.2)
    half = proteins.make_imputer("half_minimum", 11)
    assert isinstance(half, proteins.MinimumValueImputer) and half.fraction_of_minimum == 0.5
    with pytest.raises(ValueError, match="imputation"):
        proteins.make_imputer("knn", 11)
    with pytest.raises(TypeError):
        proteins.make_imputer("half_minimum", 11, downshift=1.8)


# --- median normalisation ------------------------------------------------------------------------

def test_median_normalisation_equalises_sample_medians_at_median_of_medians():
    log2 = frame([[1.0, 5.0, 2.0], [2.0, 6.0, np.nan], [3.0, 9.0, 4.0]])
    # Medians 2, 6, 3 -> median of medians 3; offsets +1, -3, 0.
    expected = frame([[2.0, 2.0, 2.0], [3.0, 3.0, np.nan], [4.0, 6.0, 4.0]])
    normalised = proteins.median_normalise(log2)
    pd.testing.assert_frame_equal(normalised, expected)
    assert normalised.median().tolist() == [3.0, 3.0, 3.0]


# --- ComBat --------------------------------------------------------------------------------------

def batch_design(n_samples=20):
    samples = [f"S{j:02d}" for j in range(n_samples)]
    batches = pd.Series(["A"] * (n_samples // 2) + ["B"] * (n_samples // 2), index=samples)
    groups = pd.Series(["x", "y"] * (n_samples // 2), index=samples)
    return batches, groups


def planted_data(batches, groups, shift=3.0, effect=2.0, n_features=200, n_group_features=40, seed=0):
    log2 = simulated_log2(n_features=n_features, n_samples=len(batches), seed=seed)
    log2.loc[:, (batches == "B").to_numpy()] += shift
    group_rows = log2.index[:n_group_features]
    log2.loc[group_rows, (groups == "y").to_numpy()] += effect
    return log2, group_rows


def mean_difference(log2, columns_a, columns_b, rows=None):
    subset = log2 if rows is None else log2.loc[rows]
    return float((subset.loc[:, columns_b].mean(axis=1) - subset.loc[:, columns_a].mean(axis=1)).mean())


def test_combat_removes_batch_shift_and_keeps_balanced_group_difference():
    batches, groups = batch_design()
    log2, group_rows = planted_data(batches, groups)
    in_a, in_b = (batches == "A").to_numpy(), (batches == "B").to_numpy()
    is_x, is_y = (groups == "x").to_numpy(), (groups == "y").to_numpy()
    assert mean_difference(log2, in_a, in_b) == pytest.approx(3.0, abs=0.2)
    corrected = proteins.correct_batch(log2, batches)
    assert abs(mean_difference(corrected, in_a, in_b)) < 0.3
    assert mean_difference(corrected, is_x, is_y, group_rows) == pytest.approx(2.0, abs=0.3)
    pd.testing.assert_frame_equal(corrected, proteins.correct_batch(log2, batches))


def test_combat_covariate_protects_an_unbalanced_group_difference():
    samples = [f"S{j:02d}" for j in range(20)]
    batches = pd.Series(["A"] * 10 + ["B"] * 10, index=samples)
    groups = pd.Series(["x"] * 8 + ["y"] * 2 + ["x"] * 2 + ["y"] * 8, index=samples)
    log2, group_rows = planted_data(batches, groups)
    is_x, is_y = (groups == "x").to_numpy(), (groups == "y").to_numpy()
    without = proteins.correct_batch(log2, batches)
    protected = proteins.correct_batch(log2, batches, covariates=groups.to_frame("group"))
    # Without protection ComBat takes much of the group effect for batch effect.
    assert mean_difference(without, is_x, is_y, group_rows) < 1.5
    assert mean_difference(protected, is_x, is_y, group_rows) == pytest.approx(2.0, abs=0.3)


def test_single_batch_or_no_batch_is_passed_through():
    log2 = simulated_log2(n_features=20, n_samples=6)
    for labels in (["A"] * 6, [""] * 6):
        batches = pd.Series(labels, index=log2.columns)
        pd.testing.assert_frame_equal(proteins.correct_batch(log2, batches), log2)


def test_batch_with_one_sample_is_an_error_naming_it():
    log2 = simulated_log2(n_features=20, n_samples=6)
    batches = pd.Series(["A", "A", "A", "B", "B", "plate9"], index=log2.columns)
    with pytest.raises(ValueError, match="'plate9'"):
        proteins.correct_batch(log2, batches)


def test_feature_constant_within_a_batch_is_left_unadjusted():
    batches, groups = batch_design()
    log2, _ = planted_data(batches, groups)
    log2.iloc[0, (batches == "A").to_numpy()] = 15.0
    corrected = proteins.correct_batch(log2, batches)
    assert np.isfinite(corrected.to_numpy()).all()
    pd.testing.assert_series_equal(corrected.iloc[0], log2.iloc[0])
    assert not np.allclose(corrected.iloc[1], log2.iloc[1])


def test_combat_refuses_missing_values():
    log2 = simulated_log2(n_features=20, n_samples=6, missing_rate=0.5)
    with pytest.raises(ValueError, match="complete"):
        proteins.correct_batch(log2, pd.Series(["A"] * 3 + ["B"] * 3, index=log2.columns))


# --- normalise_proteins --------------------------------------------------------------------------

def raw_matrix_and_meta(seed=2):
    batches, _ = batch_design(12)
    log2 = simulated_log2(n_features=60, n_samples=12, seed=seed, missing_rate=0.3)
    log2.loc[:, (batches == "B").to_numpy()] += 1.0
    raw = np.power(2.0, log2).fillna(0.0)
    raw.iloc[0, :8] = 0.0  # missing in 8 of 12 samples: filtered out at 0.5
    meta = pd.DataFrame({"patient_id": [f"p{j}" for j in range(12)], "batch": batches.to_numpy(),
                         "timepoint": "baseline"}, index=raw.columns)
    # Columns and rows out of order: the AnnData must come out sorted.
    return raw.iloc[::-1, ::-1], meta


def test_normalise_proteins_builds_documented_anndata():
    raw, meta = raw_matrix_and_meta()
    adata = proteins.normalise_proteins(raw, meta, seed=42)
    assert list(adata.obs_names) == sorted(raw.columns)
    expected_kept = sorted(raw.index[(raw == 0).mean(axis=1) <= 0.5])
    assert "P000" not in expected_kept
    assert list(adata.var_names) == expected_kept
    assert adata.X.dtype == np.float64 and not np.isnan(adata.X).any()
    raw_kept = raw.loc[adata.var_names, adata.obs_names].T.to_numpy()
    np.testing.assert_array_equal(adata.layers["raw"], raw_kept)
    log2 = adata.layers["log2"]
    np.testing.assert_array_equal(np.isnan(log2), raw_kept == 0)
    np.testing.assert_allclose(np.nanmedian(log2, axis=1), np.nanmedian(log2, axis=1)[0])
    np.testing.assert_array_equal(np.isnan(adata.layers["log2_batch_corrected"]), np.isnan(log2))
    np.testing.assert_array_equal(adata.layers["imputed"][~np.isnan(log2)], log2[~np.isnan(log2)])
    assert adata.obs["n_missing"].tolist() == (raw_kept == 0).sum(axis=1).tolist()
    np.testing.assert_allclose(adata.var["missing_fraction"], (raw_kept == 0).mean(axis=0))
    params = adata.uns["params"]
    assert params["seed"] == 42 and params["batch_correction_applied"] is True
    assert params["n_features_read"] == 60 and params["n_features_kept"] == len(expected_kept)
    # The batch shift of 1 is gone from X.
    in_b = (adata.obs["batch"] == "B").to_numpy()
    assert abs(adata.X[in_b].mean() - adata.X[~in_b].mean()) < 0.2


def test_normalise_proteins_is_deterministic_and_writes_h5ad(tmp_path):
    raw, meta = raw_matrix_and_meta()
    first = proteins.normalise_proteins(raw, meta, seed=1)
    np.testing.assert_array_equal(first.X, proteins.normalise_proteins(raw, meta, seed=1).X)
    assert not np.array_equal(first.X, proteins.normalise_proteins(raw, meta, seed=2).X)
    tables.write_h5ad(first, tmp_path / "normalised.h5ad")
    back = ad.read_h5ad(tmp_path / "normalised.h5ad")
    np.testing.assert_array_equal(back.X, first.X)
    assert back.uns["params"]["imputation"] == "downshifted_normal"


def test_normalise_proteins_without_batch_correction_keeps_imputed_values():
    raw, meta = raw_matrix_and_meta()
    adata = proteins.normalise_proteins(raw, meta, batch_correction="none", imputation="half_minimum")
    np.testing.assert_array_equal(adata.X, adata.layers["imputed"])
    assert adata.uns["params"]["batch_correction_applied"] is False


def test_normalise_proteins_reports_bad_inputs():
    raw, meta = raw_matrix_and_meta()
    with pytest.raises(ValueError, match="without metadata"):
        proteins.normalise_proteins(raw, meta.iloc[1:])
    duplicated = pd.concat([raw.iloc[:2], raw.iloc[:1]])
    with pytest.raises(ValueError, match="unique"):
        proteins.normalise_proteins(duplicated, meta)
    with pytest.raises(ValueError, match="normalisation"):
        proteins.normalise_proteins(raw, meta, normalisation="quantile")


# --- plots ---------------------------------------------------------------------------------------

def test_plots_return_figures():
    raw, meta = raw_matrix_and_meta()
    log2 = proteins.to_log2(raw, "raw")
    assert isinstance(proteins.plot_missingness(log2, 0.5), matplotlib.figure.Figure)
    adata = proteins.normalise_proteins(raw, meta)
    before = pd.DataFrame(adata.layers["imputed"].T, index=adata.var_names, columns=adata.obs_names)
    after = pd.DataFrame(adata.X.T, index=adata.var_names, columns=adata.obs_names)
    figure = proteins.plot_pca_by_batch(before, after, adata.obs["batch"])
    assert isinstance(figure, matplotlib.figure.Figure) and len(figure.axes) == 2


def test_imputer_fast_path_on_arrays_equals_the_validated_path():
    X = samples_by_features()
    as_frame = proteins.DownshiftedNormalImputer(random_state=4).fit(X)
    as_array = proteins.DownshiftedNormalImputer(random_state=4).fit(X.to_numpy())
    # the same C-ordered values through scikit-learn's validation (a list) and through the fast path
    rows = np.ascontiguousarray(X.to_numpy())
    validated = proteins.DownshiftedNormalImputer(random_state=4).fit(rows.tolist())
    np.testing.assert_array_equal(as_array.transform(rows), validated.transform(rows.tolist()))
    X = pd.DataFrame(np.ascontiguousarray(X.to_numpy()), index=X.index, columns=X.columns)
    as_frame = proteins.DownshiftedNormalImputer(random_state=4).fit(X)
    assert not hasattr(as_array, "feature_names_in_") and as_array.n_features_in_ == X.shape[1]
    np.testing.assert_array_equal(as_array.transform(X.to_numpy()), as_frame.transform(X))
    values = X.to_numpy()
    np.testing.assert_array_equal(as_array.transform(values[:3]), as_frame.transform(X.iloc[:3]))
    assert np.isnan(values).any()  # the input is not modified
    with pytest.raises(ValueError, match="expecting 300 features"):
        as_array.transform(values[:, :10])
    with pytest.raises(ValueError, match="infinity"):
        as_array.transform(np.where(np.isnan(values), np.inf, values))
    with pytest.raises(ValueError, match="infinity"):
        proteins.DownshiftedNormalImputer().fit(np.full((2, 2), np.inf))
    # fitted on a frame, an array without names is checked the scikit-learn way (with its warning)
    with pytest.warns(UserWarning, match="feature names"):
        as_frame.transform(values)


def test_row_mean_and_sd_are_numpys_nan_reductions_bit_for_bit():
    rng = np.random.default_rng(0)
    for _ in range(50):
        n, p = int(rng.integers(2, 30)), int(rng.integers(3, 800))
        values = rng.normal(20, 3, size=(n, p))
        values[rng.random(values.shape) < rng.uniform(0, 0.6)] = np.nan
        values[:, :2] = rng.normal(size=(n, 2))          # every row keeps two observed values
        values = np.asfortranarray(values) if rng.random() < 0.5 else values
        missing = np.isnan(values)
        means, sds = imputation._row_mean_and_sd(values, missing, (~missing).sum(axis=1))
        assert np.array_equal(means, np.nanmean(values, axis=1))
        assert np.array_equal(sds, np.nanstd(values, axis=1, ddof=1))


def test_standard_normal_draws_are_the_generators_own_for_every_shape_and_seed():
    imputation._DRAW_STREAMS.clear()
    shapes = [(3, 7), (16, 1500), (2, 2), (20, 2000), (15, 1499), (1, 1), (0, 5)]
    for seed in (0, 7, np.int64(123)):
        for shape in shapes:       # the stream grows between shapes; earlier prefixes stay the same
            expected = np.random.default_rng(seed).standard_normal(shape)
            drawn = imputation.standard_normal_draws(seed, shape)
            assert drawn.shape == expected.shape and np.array_equal(drawn, expected)
            assert not drawn.flags.writeable
    generator = np.random.default_rng(5)
    assert np.array_equal(imputation.standard_normal_draws(generator, (2, 3)),
                          np.random.default_rng(5).standard_normal((2, 3)))


@pytest.mark.parametrize("method", ["downshifted_normal", "half_minimum"])
def test_fold_imputers_equal_the_scikit_learn_imputers(method):
    """The models' imputers (no scikit-learn) give the normalisation imputers' values bit for bit."""
    rng = np.random.default_rng(3)
    values = rng.normal(20, 2, size=(14, 40))
    values[rng.random(values.shape) < 0.25] = np.nan
    values[:, :2] = rng.normal(20, 2, size=(14, 2))
    for layout in (np.ascontiguousarray, np.asfortranarray):
        train, test = layout(values[:10]), layout(values[10:])
        ours = imputation.make_fold_imputer(method, 8).fit(train)
        theirs = proteins.make_imputer(method, 8).fit(train)
        for block in (train, test):
            np.testing.assert_array_equal(ours.transform(block), theirs.transform(block))
            assert np.isnan(block).any()      # the input is not modified
    with pytest.raises(ValueError, match="expecting 40 features"):
        imputation.make_fold_imputer(method, 8).fit(values).transform(values[:, :5])
    with pytest.raises(ValueError, match="must be one of"):
        imputation.make_fold_imputer("knn", 8)

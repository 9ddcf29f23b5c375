"""The compiled fold preprocessing (gather, down-shifted normal fill, standardisation) against the numpy
arithmetic it replaces, bit for bit: the models' outputs must not change by a last bit."""
from __future__ import annotations

import numpy as np
import pytest

from trialomics import fold_kernels, imputation, model_preprocess
from trialomics.model_preprocess import Outcome, PreprocessSpec
from trialomics.proteins import DownshiftedNormalImputer

# Row counts around numpy's pairwise-sum blocks (8 partial sums, 128 values per block).
ROW_COUNTS = [1, 2, 3, 7, 8, 9, 15, 16, 17, 63, 127, 128, 129, 135, 136, 137, 200]


def with_gaps(rng, n_rows: int, n_columns: int, order: str) -> np.ndarray:
    """Values of mixed magnitudes (so that the order of additions shows in the last bits), a third missing,
    and at least two observed values in every row."""
    X = rng.normal(size=(n_rows, n_columns)) * 10.0 ** rng.uniform(-3, 4, size=(n_rows, n_columns)) + 5.0
    X[rng.random(X.shape) < 0.33] = np.nan
    X[:, :2] = rng.normal(size=(n_rows, 2))
    return np.asarray(X, order=order)


def numpy_imputed(X, rows, columns, positions, downshift, width, seed) -> np.ndarray:
    """What the preprocessing computed before the compiled fill: the column-major block, its imputed
    columns filled by the imputer's numpy arithmetic."""
    values = np.asfortranarray(X[np.ix_(rows, columns)])
    if positions.size:
        values[:, positions] = imputation.DownshiftedNormalFill(downshift, width, seed).fit(
            values[:, positions]).transform(values[:, positions])
    return values


@pytest.mark.parametrize("order", ["C", "F"])
def test_filled_block_is_the_numpy_fill_bit_for_bit(order):
    rng = np.random.default_rng(7)
    for n_rows in ROW_COUNTS:
        X = with_gaps(rng, n_rows + 3, 90, order)
        X[:, 60:] = rng.normal(size=(n_rows + 3, 30))          # complete columns, not imputed
        rows = np.sort(rng.choice(n_rows + 3, n_rows, replace=False))
        columns = np.sort(rng.choice(90, 70, replace=False))
        positions = np.flatnonzero(columns < 60)
        imputed = np.zeros(len(columns), dtype=bool)
        imputed[positions] = True
        draws = imputation.standard_normal_draws(3, (n_rows, len(positions)))
        filled, valid = fold_kernels.filled_block(X, rows, columns, imputed, draws, 1.8, 0.3)
        expected = numpy_imputed(X, rows, columns, positions, 1.8, 0.3, 3)
        assert valid and filled.flags.f_contiguous
        assert np.array_equal(filled, expected), n_rows


@pytest.mark.parametrize("order", ["C", "F"])
def test_standardise_is_numpys_mean_and_std_bit_for_bit(order):
    rng = np.random.default_rng(8)
    for n_rows in ROW_COUNTS:
        values = np.asarray(rng.normal(size=(n_rows, 40)) * 10.0 ** rng.uniform(-3, 4, size=(n_rows, 40)) + 7.0,
                            order=order)
        values[:, 0] = 3.0                                      # constant: only centred
        block = np.asfortranarray(values)
        standardised = block.copy(order="F")
        mean, scale = fold_kernels.standardise(standardised)
        expected_scale = np.where(block.std(axis=0) > 1e-12, block.std(axis=0), 1.0)
        assert np.array_equal(mean, block.mean(axis=0)), n_rows
        assert np.array_equal(scale, expected_scale), n_rows
        assert np.array_equal(standardised, (block - block.mean(axis=0)) / expected_scale), n_rows
        assert standardised.flags.f_contiguous and scale[0] == 1.0


def test_pairwise_sum_is_numpys_sum_of_a_contiguous_array():
    rng = np.random.default_rng(9)
    for n in [*range(300), 1023, 1024, 1031, 5000]:
        values = rng.normal(size=n) * 10.0 ** rng.uniform(-5, 5, size=n)
        assert fold_kernels.pairwise_sum(values, 0, n) + 0.0 == np.sum(values), n


def test_scaled_selects_then_standardises():
    rng = np.random.default_rng(10)
    values = np.asfortranarray(rng.normal(size=(6, 5)))
    selected = np.array([0, 3, 4])
    mean, scale = rng.normal(size=3), rng.uniform(0.5, 2.0, size=3)
    scaled = fold_kernels.scaled(values, selected, mean, scale)
    assert np.array_equal(scaled, (values[:, selected] - mean) / scale) and scaled.flags.f_contiguous


@pytest.mark.parametrize("n_rows", [9, 40, 150])
def test_compiled_fold_preprocessing_equals_the_numpy_path_of_the_scikit_learn_imputer(n_rows):
    """DownshiftedNormalFill (compiled path) and DownshiftedNormalImputer (numpy path) give the same
    bits in every fit, refit and transform, on blocks mixing imputed and complete columns."""
    rng = np.random.default_rng(n_rows)
    X = with_gaps(rng, n_rows, 120, "F")
    X[:, 80:] = rng.normal(size=(n_rows, 40))
    imputed = np.arange(120) < 80
    groups = np.where(imputed, "proteins", "rna")
    settings = {"groups": groups, "imputed": imputed, "top_variance": 30, "select_k": 12}
    compiled = model_preprocess.RowPreprocessing(PreprocessSpec.for_columns(
        120, imputer=imputation.DownshiftedNormalFill(random_state=4), **settings), X)
    reference = model_preprocess.RowPreprocessing(PreprocessSpec.for_columns(
        120, imputer=DownshiftedNormalImputer(random_state=4), **settings), X)
    for _ in range(3):
        rows = np.sort(rng.choice(n_rows, n_rows - 3, replace=False))
        outcome = Outcome.of_label(np.arange(len(rows)) % 2)
        for _ in range(2):                                      # a fit, then a refit reusing its prefilter
            fitted, values = compiled.fit(rows, outcome)
            expected_fitted, expected = reference.fit(rows, outcome)
            assert np.array_equal(values, expected) and values.flags.f_contiguous
            assert np.array_equal(fitted.columns, expected_fitted.columns)
            assert np.array_equal(fitted.mean, expected_fitted.mean)
            assert np.array_equal(fitted.scale, expected_fitted.scale)
        others = np.setdiff1d(np.arange(n_rows), rows)
        for test_rows in (others, others[:1], None):
            transformed = model_preprocess.transform(fitted, X, test_rows)
            assert np.array_equal(transformed, model_preprocess.transform(expected_fitted, X, test_rows))
            assert transformed.flags.f_contiguous


def test_invalid_blocks_are_named_by_the_numpy_path():
    outcome = Outcome.of_label([0, 1, 0, 1])
    X = np.asfortranarray(np.arange(12, dtype=float).reshape(4, 3) * [1.0, 2.0, 3.0])
    fill = imputation.DownshiftedNormalFill(random_state=1)
    with_inf = X.copy()
    with_inf[1, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):            # a covariate: no variance filter drops it
        model_preprocess.fit_preprocess(PreprocessSpec.for_columns(
            3, kinds=["covariate", "continuous", "continuous"], imputer=fill, top_variance=None), with_inf, outcome)
    sparse_row = X.copy()
    sparse_row[2, :2] = np.nan
    with pytest.raises(ValueError, match=r"rows \[2\] have fewer"):
        model_preprocess.fit_preprocess(PreprocessSpec.for_columns(3, imputer=fill, top_variance=None), sparse_row,
                                        outcome)
    one_gap = X.copy()
    one_gap[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"without an imputer \(column indices \[1\]\)"):
        model_preprocess.fit_preprocess(PreprocessSpec.for_columns(3, imputer=fill, top_variance=None,
                                                                   imputed=[True, False, True]), one_gap, outcome)


def test_top_variance_keeps_the_first_columns_of_a_stable_sort_by_decreasing_variance():
    rng = np.random.default_rng(11)
    for size, top_variance in [(50, 10), (400, 37), (2600, 500), (30, 29), (20, 0)]:
        variance = rng.choice(rng.uniform(0.1, 2.0, size // 5), size)     # many ties
        variance[rng.random(size) < 0.1] = 0.0                            # constants never kept
        keep = fold_kernels.prefilter_of_statistics(
            10, np.full(size, 10.0), variance, np.zeros(size), np.zeros(size, dtype=np.int8),
            np.zeros(size, dtype=np.int64), 1, 0.5, 2.0, 0.1, top_variance)
        eligible = np.flatnonzero(variance > 0)
        expected = np.sort(eligible[np.argsort(-variance[eligible], kind="stable")[:top_variance]])
        assert np.array_equal(np.flatnonzero(keep), expected), size


def test_column_statistics_skip_missing_values_with_sequential_sums():
    rng = np.random.default_rng(12)
    X = np.asfortranarray(rng.normal(size=(30, 40)) * 10.0 ** rng.uniform(-3, 4, size=(30, 40)))
    X[rng.random(X.shape) < 0.3] = np.nan
    X[rng.random(X.shape) < 0.1] = 1.0
    X[:, 0] = np.nan
    X[1:, 1] = np.nan                                                     # one value: no variance
    X[:, 2] = -0.0
    rows = np.sort(rng.choice(30, 21, replace=False))
    columns = rng.permutation(40)
    observed, variance, altered = fold_kernels.column_statistics(X, rows, columns)
    for c, column in enumerate(columns):
        values = [value for value in X[rows, column] if not np.isnan(value)]
        total = 0.0
        for value in values:
            total += value
        squares = 0.0
        for value in values:
            squares += (value - total / len(values)) * (value - total / len(values))
        assert observed[c] == len(values) and altered[c] == values.count(1.0)
        assert (np.isnan(variance[c]) if len(values) < 2
                else variance[c] == squares / (len(values) - 1.0) and not np.signbit(variance[c]))


@pytest.mark.parametrize("n_rows", [1, 2, 7, 16, 33])
def test_complete_column_statistics_four_at_a_time_are_column_statistics_bit_for_bit(n_rows):
    # The variance screen's kernel for columns without gaps: the same sums in the same order, so the
    # same bits, for any number of columns (a remainder below four) and rows.
    rng = np.random.default_rng(n_rows)
    X = np.asfortranarray(rng.normal(size=(40, 23)) * 10.0 ** rng.uniform(-3, 4, size=(40, 23)))
    X[rng.random(X.shape) < 0.1] = 1.0
    X[:, 5] = -0.0
    X[:, 6] = 3.25                                                        # constant: variance 0
    rows = np.sort(rng.choice(40, n_rows, replace=False))
    for columns in (rng.permutation(23), np.arange(4), np.arange(3), np.arange(0)):
        fast = fold_kernels.complete_column_statistics(X, rows, columns)
        reference = fold_kernels.column_statistics(X, rows, columns)
        for got, expected in zip(fast, reference):
            assert got.tobytes() == expected.tobytes()

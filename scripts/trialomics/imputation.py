"""The arithmetic of the protein imputers, and the imputers the models refit in every fold.

:mod:`trialomics.proteins` wraps these functions in scikit-learn transformers
(``DownshiftedNormalImputer``, ``MinimumValueImputer``) for the normalisation step and for pipelines.
The models refit an imputer in each of thousands of folds per job on plain float64 arrays; they use the
plain classes here (:func:`make_fold_imputer`), which give the same values from the same functions
without importing scikit-learn (about 0.7 CPU-s at the start of every models job).
"""
from __future__ import annotations

import numpy as np

IMPUTATION_METHODS = ("downshifted_normal", "half_minimum")


def plain_matrix(X) -> bool:
    """A 2-D float64 numpy array with rows and columns: what the models' folds pass."""
    return type(X) is np.ndarray and X.dtype == np.float64 and X.ndim == 2 and X.shape[0] > 0 and X.shape[1] > 0


def reject_infinite(X: np.ndarray) -> None:
    if np.isinf(X).any():
        raise ValueError("Input contains infinity or a value too large for dtype('float64').")


def _row_mean_and_sd(values: np.ndarray, missing: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.nanmean(values, axis=1)`` and ``np.nanstd(values, axis=1, ddof=1)``, with the same operations
    in the same order (so the same bits) but one zero-filled copy instead of numpy's several: the models
    call the imputer thousands of times per job. Every row has at least two observed values here."""
    filled = np.where(missing, 0.0, values)
    means = np.sum(filled, axis=1) / counts
    deviations = np.subtract(filled, means[:, None])
    deviations[missing] = 0.0
    variance = np.sum(np.multiply(deviations, deviations), axis=1) / (counts - 1)
    return means, np.sqrt(variance)


_DRAW_STREAMS: dict[int, np.ndarray] = {}
_MAX_STREAMS = 8


def standard_normal_draws(seed, shape: tuple[int, int]) -> np.ndarray:
    """``numpy.random.default_rng(seed).standard_normal(shape)``, read-only, from one stream per seed.

    The generator fills an array in row-major order one draw after another, so the draws of any shape
    are the first n x p values of a single stream (tested): the models impute thousands of folds with
    one seed, and drawing the stream once per job instead of once per fold is most of the imputer's
    cost. A seed that is not an int (a Generator, None) is drawn directly.
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        return np.random.default_rng(seed).standard_normal(shape)
    size = int(shape[0]) * int(shape[1])
    stream = _DRAW_STREAMS.get(int(seed))
    if stream is None or stream.size < size:
        if stream is None and len(_DRAW_STREAMS) >= _MAX_STREAMS:
            _DRAW_STREAMS.pop(next(iter(_DRAW_STREAMS)))
        stream = np.random.default_rng(seed).standard_normal(max(size, 2 * (0 if stream is None else stream.size)))
        stream.flags.writeable = False
        _DRAW_STREAMS[int(seed)] = stream
    return stream[:size].reshape(shape)


def fill_downshifted_normal(values: np.ndarray, downshift: float, width: float, seed) -> np.ndarray:
    """Fill the NaNs of ``values`` (samples x features, modified and returned) Perseus-style.

    Row i's missing values are ``m_i - downshift * s_i + width * s_i * z``, with ``m_i`` and ``s_i`` the
    mean and SD (ddof 1) of the row's observed values and ``z`` the draw of that cell among
    ``default_rng(seed).standard_normal(values.shape)``. Every row needs two observed values.
    """
    missing = np.isnan(values)
    observed_counts = (~missing).sum(axis=1)
    too_few = np.flatnonzero(observed_counts < 2)
    if too_few.size:
        raise ValueError(
            f"downshifted-normal imputation needs at least 2 observed values per sample; rows "
            f"{too_few.tolist()} have fewer (remove these samples or lower the missingness filter)")
    means, sds = _row_mean_and_sd(values, missing, observed_counts)
    draws = standard_normal_draws(seed, values.shape)
    rows, columns = np.nonzero(missing)   # row-major, the order of boolean-mask assignment
    values[rows, columns] = (means - downshift * sds)[rows] + (width * sds)[rows] * draws[rows, columns]
    return values


def minimum_fill_values(values: np.ndarray, fraction_of_minimum: float) -> np.ndarray:
    """Per column: its minimum observed value + log2(fraction_of_minimum); a column never observed gets
    the smallest observed value of all columns, shifted the same way."""
    if np.isnan(values).all():
        raise ValueError("minimum-value imputation needs at least one observed training value")
    minima = np.where(np.isnan(values), np.inf, values).min(axis=0)
    minima[np.isinf(minima)] = np.nanmin(values)
    return minima + np.log2(fraction_of_minimum)


def fill_by_column(values: np.ndarray, fill_values: np.ndarray) -> np.ndarray:
    """``values`` (modified and returned) with each NaN replaced by its column's fill value."""
    rows, columns = np.nonzero(np.isnan(values))
    values[rows, columns] = fill_values[columns]
    return values


def _checked_copy(X, n_features: int, name: str) -> np.ndarray:
    values = np.array(X, dtype=np.float64, order="K")   # the layout the scikit-learn imputers keep
    if values.ndim != 2 or values.shape[1] != n_features:
        raise ValueError(f"X has {values.shape[-1]} features, but {name} is expecting {n_features} features as input.")
    reject_infinite(values)
    return values


class DownshiftedNormalFill:
    """The models' down-shifted normal imputer: :func:`fill_downshifted_normal` with fixed parameters.

    ``fit`` records the number of features (the parameters come from each sample at transform time, so
    nothing is learned from training rows); ``transform`` returns a filled copy.
    """

    def __init__(self, downshift: float = 1.8, width: float = 0.3, random_state: int = 0):
        self.downshift = downshift
        self.width = width
        self.random_state = random_state

    def fit(self, X, y=None) -> "DownshiftedNormalFill":
        values = np.asarray(X, dtype=np.float64)
        reject_infinite(values)
        self.n_features_in_ = values.shape[1]
        return self

    def fitted_to_width(self, n_features: int) -> "DownshiftedNormalFill":
        """A copy fitted to ``n_features`` columns without their values: ``fit`` learns nothing else, and
        the models' compiled fill checks the values for infinities itself (thousands of folds per job)."""
        fitted = DownshiftedNormalFill(self.downshift, self.width, self.random_state)
        fitted.n_features_in_ = int(n_features)
        return fitted

    def transform(self, X) -> np.ndarray:
        values = _checked_copy(X, self.n_features_in_, "DownshiftedNormalFill")
        return fill_downshifted_normal(values, self.downshift, self.width, self.random_state)


class MinimumValueFill:
    """The models' half-minimum imputer: each feature's training minimum + log2(fraction_of_minimum)."""

    def __init__(self, fraction_of_minimum: float = 0.5):
        if not 0.0 < fraction_of_minimum <= 1.0:
            raise ValueError(f"fraction_of_minimum must lie in (0, 1], got {fraction_of_minimum}")
        self.fraction_of_minimum = fraction_of_minimum

    def fit(self, X, y=None) -> "MinimumValueFill":
        values = np.asarray(X, dtype=np.float64)
        reject_infinite(values)
        self.fill_values_ = minimum_fill_values(values, self.fraction_of_minimum)
        return self

    def transform(self, X) -> np.ndarray:
        return fill_by_column(_checked_copy(X, len(self.fill_values_), "MinimumValueFill"), self.fill_values_)


def make_fold_imputer(method: str, seed: int, **params):
    """The models' imputer for config ``proteins.imputation`` (as :func:`trialomics.proteins.make_imputer`)."""
    if method == "downshifted_normal":
        return DownshiftedNormalFill(random_state=int(seed), **params)
    if method == "half_minimum":
        return MinimumValueFill(fraction_of_minimum=0.5, **params)
    raise ValueError(f"proteins imputation must be one of {', '.join(IMPUTATION_METHODS)}, got {method!r}")

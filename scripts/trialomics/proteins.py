"""Proteomics normalisation: log2, missingness filter, median normalisation, imputation, ComBat.

Matrices here are features x samples DataFrames (as :func:`trialomics.readers.read_proteins` returns
them), except for the scikit-learn imputers, which follow scikit-learn's samples x features convention so
that the model stage can put them inside a ``Pipeline`` and refit them in every training fold.

The order of :func:`normalise_proteins` is fixed and recorded in ``uns["params"]["steps"]``:
log2 -> missingness filter -> median normalisation -> imputation -> batch correction.
Normalisation comes before imputation so that imputed values are drawn on the scale the samples share,
and batch correction comes last because ComBat needs a complete matrix.
"""
from __future__ import annotations

import warnings

import anndata as ad
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from . import qc, style
from .imputation import (IMPUTATION_METHODS, fill_by_column, fill_downshifted_normal, minimum_fill_values,
                         plain_matrix, reject_infinite)

SCALES = ("raw", "log2")
NORMALISATIONS = ("median", "none")
BATCH_CORRECTIONS = ("combat", "none")
STEPS = "log2 > missingness filter > median normalisation > imputation > batch correction"


def to_log2(values: pd.DataFrame, scale: str) -> pd.DataFrame:
    """Values on the log2 scale.

    ``scale="raw"``: intensities; 0, negative and non-finite values are missing (a mass spectrometer
    reports 0 for "not detected") and become NaN, the rest become ``log2(value)``.
    ``scale="log2"``: already log2 (e.g. Olink NPX, where 0 and negative values are valid); returned
    unchanged as float64.
    """
    if scale not in SCALES:
        raise ValueError(f"proteins scale must be one of {', '.join(SCALES)}, got {scale!r}")
    numeric = values.astype(np.float64)
    if scale == "log2":
        return numeric.copy()
    detected = numeric.where(np.isfinite(numeric) & (numeric > 0))
    return np.log2(detected)


def protein_missingness(log2: pd.DataFrame, max_missing_fraction: float) -> pd.DataFrame:
    """One row per protein: ``feature, n_samples, n_missing, missing_fraction, mean_log2, kept``.

    ``mean_log2`` is the mean of the observed values (NaN when none is observed); ``kept`` is
    ``yes`` when ``missing_fraction <= max_missing_fraction`` (see :func:`filter_missingness`).
    """
    if not 0.0 <= max_missing_fraction <= 1.0:
        raise ValueError(f"max_missing_fraction must lie in [0, 1], got {max_missing_fraction}")
    n_samples = log2.shape[1]
    n_missing = log2.isna().sum(axis=1)
    fraction = n_missing / n_samples if n_samples else n_missing.astype(float)
    # The tolerance keeps a protein exactly at the threshold (e.g. 0.29 * 100 is 28.999999999999996).
    kept = fraction <= max_missing_fraction + 1e-12
    return pd.DataFrame({
        "feature": log2.index.astype(str),
        "n_samples": n_samples,
        "n_missing": n_missing.to_numpy(),
        "missing_fraction": fraction.to_numpy(dtype=np.float64),
        "mean_log2": log2.mean(axis=1, skipna=True).to_numpy(),
        "kept": np.where(kept, "yes", "no"),
    })


def filter_missingness(log2: pd.DataFrame, max_missing_fraction: float) -> pd.DataFrame:
    """Keep proteins missing in at most ``max_missing_fraction`` of the samples (boundary kept).

    This is nf-core/differentialabundance's ``min_proportion_not_na`` seen from the other side:
    ``max_missing_fraction = 1 - min_proportion_not_na``. :func:`protein_missingness` gives the
    per-protein table behind the decision.
    """
    table = protein_missingness(log2, max_missing_fraction)
    return log2.loc[(table["kept"] == "yes").to_numpy()]


def median_normalise(log2: pd.DataFrame) -> pd.DataFrame:
    """Subtract each sample's median and add back the median of the sample medians.

    All sample medians become equal (to the median of medians), so the data stay on their familiar
    log2 scale. Medians are of observed values; with missing-not-at-random data a sample with many
    missing low-abundance proteins has a slightly higher observed median, which this step removes
    along with loading differences.
    """
    medians = log2.median(axis=0, skipna=True)
    return log2 - medians + medians.median()


class DownshiftedNormalImputer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Perseus-style imputation of log2 intensities: missing values drawn from a down-shifted normal.

    For each sample (row), with ``m`` and ``s`` the mean and SD of that sample's observed values, every
    missing value is drawn from ``Normal(m - downshift * s, width * s)``: values that went undetected
    because they were low are replaced by plausible low values.

    Why the parameters come from each sample itself, at transform time: this is Perseus' default
    ("separately for each column", a column being a sample there), and it uses no information from any
    other sample, so a test sample in a cross-validation fold is imputed exactly as it would be alone;
    nothing can leak from test to training rows or back. ``fit`` therefore learns only the number (and
    names) of features, so a matrix with other features is rejected; refitting it inside each model fold
    is cheap and correct.

    Random numbers: each ``transform`` call starts a fresh ``numpy.random.default_rng(random_state)``
    and draws a standard normal for every cell in row-major order, so the same input and seed always
    give the same output, and a row's draws depend on its position and the number of features only.

    Parameters
    ----------
    downshift : float
        Shift of the imputation mean below the sample's observed mean, in sample SDs (Perseus: 1.8).
    width : float
        SD of the imputation distribution, as a fraction of the sample's observed SD (Perseus: 0.3).
    random_state : int
        Seed of the draws.
    """

    def __init__(self, downshift: float = 1.8, width: float = 0.3, random_state: int = 0):
        self.downshift = downshift
        self.width = width
        self.random_state = random_state

    def fit(self, X, y=None):
        """Record the number (and names) of features; ``y`` is ignored."""
        if plain_matrix(X):
            # Float64 arrays (the models' folds) skip scikit-learn's input validation, which would cost
            # more than the imputation itself; the checks are the same.
            reject_infinite(X)
            self.n_features_in_ = X.shape[1]
            self.__dict__.pop("feature_names_in_", None)
            return self
        validate_data(self, X, reset=True, ensure_all_finite="allow-nan", dtype=np.float64)
        return self

    def transform(self, X):
        """Return a float64 array with every NaN replaced; observed values are unchanged."""
        check_is_fitted(self, "n_features_in_")
        if plain_matrix(X) and not hasattr(self, "feature_names_in_"):
            if X.shape[1] != self.n_features_in_:
                raise ValueError(f"X has {X.shape[1]} features, but DownshiftedNormalImputer is expecting "
                                 f"{self.n_features_in_} features as input.")
            reject_infinite(X)
            values = X.copy(order="K")  # the memory layout validate_data keeps (row sums depend on it)
        else:
            values = validate_data(self, X, reset=False, ensure_all_finite="allow-nan",
                                   dtype=np.float64, copy=True)
        return fill_downshifted_normal(values, self.downshift, self.width, self.random_state)


class MinimumValueImputer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Deterministic imputation of log2 values at a fraction of each feature's training minimum.

    ``fit`` learns, per feature (column), the minimum observed value in the training rows; ``transform``
    fills missing values with ``minimum + log2(fraction_of_minimum)``. On the log2 scale the classic
    half-minimum (``fraction_of_minimum=0.5``) is the minimum minus 1. A feature never observed in the
    training rows gets the smallest observed training value of all features, shifted the same way.

    Parameters
    ----------
    fraction_of_minimum : float
        Imputed intensity as a fraction of the training minimum intensity, in (0, 1].
    """

    def __init__(self, fraction_of_minimum: float = 0.5):
        self.fraction_of_minimum = fraction_of_minimum

    def fit(self, X, y=None):
        """Learn each feature's minimum over the training rows; ``y`` is ignored."""
        if not 0.0 < self.fraction_of_minimum <= 1.0:
            raise ValueError(f"fraction_of_minimum must lie in (0, 1], got {self.fraction_of_minimum}")
        values = validate_data(self, X, reset=True, ensure_all_finite="allow-nan", dtype=np.float64)
        self.fill_values_ = minimum_fill_values(values, self.fraction_of_minimum)
        return self

    def transform(self, X):
        """Return a float64 array with each NaN replaced by its feature's fill value."""
        check_is_fitted(self, "fill_values_")
        values = validate_data(self, X, reset=False, ensure_all_finite="allow-nan",
                               dtype=np.float64, copy=True)
        return fill_by_column(values, self.fill_values_)


def make_imputer(method: str, seed: int, **params):
    """A fresh scikit-learn imputer for config ``proteins.imputation``.

    ``downshifted_normal`` -> :class:`DownshiftedNormalImputer` (``downshift``, ``width``; seeded with
    ``seed``); ``half_minimum`` -> :class:`MinimumValueImputer` with ``fraction_of_minimum=0.5``
    (deterministic; ``seed`` unused). Parameters that the method does not take raise ``TypeError``.
    The models use :func:`trialomics.imputation.make_fold_imputer`, the same arithmetic without
    scikit-learn.
    """
    if method == "downshifted_normal":
        return DownshiftedNormalImputer(random_state=int(seed), **params)
    if method == "half_minimum":
        return MinimumValueImputer(fraction_of_minimum=0.5, **params)
    raise ValueError(f"proteins imputation must be one of {', '.join(IMPUTATION_METHODS)}, got {method!r}")


def impute(log2: pd.DataFrame, imputer) -> pd.DataFrame:
    """Fit ``imputer`` on all samples of a features x samples matrix and return it imputed."""
    filled = imputer.fit_transform(log2.T)
    return pd.DataFrame(np.asarray(filled, dtype=np.float64).T, index=log2.index, columns=log2.columns)


def correct_batch(log2_imputed: pd.DataFrame, batches: pd.Series,
                  covariates: pd.DataFrame | None = None) -> pd.DataFrame:
    """ComBat (parametric empirical Bayes, Johnson et al. 2007) on a complete features x samples matrix.

    Uses ``inmoose.pycombat.pycombat_norm`` (deterministic: no random numbers in the parametric fit).
    ``batches`` is indexed by sample; the empty label is a batch like any other (samples without a
    batch label are assumed to share one run). One batch in total: returned unchanged.

    Rules around the library:

    - a batch with a single sample is an error naming it: ComBat cannot estimate that batch's variance,
      and a mean-only adjustment from one sample would subtract the sample's own biology;
    - features that are constant within some batch (e.g. imputed at one minimum value throughout it)
      have no estimable scale there; they are left unadjusted, as R's ``sva::ComBat`` does;
    - ``covariates`` (indexed by sample, categorical columns) are protected: their differences are kept.
      Outcome labels are deliberately not protected by default: protecting the label that is later
      tested makes group differences look larger and more significant than they are (Nygaard et al.
      2016); with batches balanced over outcomes no protection is needed.
    """
    if log2_imputed.isna().to_numpy().any():
        raise ValueError("ComBat needs a complete matrix: impute missing values first")
    samples = log2_imputed.columns
    missing_batch = [s for s in samples if s not in batches.index]
    if missing_batch:
        raise ValueError(f"no batch given for samples: {', '.join(map(str, missing_batch))}")
    labels = batches.reindex(samples).fillna("").astype(str)
    sizes = labels.value_counts()
    if len(sizes) < 2:
        return log2_imputed.copy()
    singletons = sorted(sizes.index[sizes < 2])
    if singletons:
        raise ValueError(
            "ComBat cannot estimate the variance of a batch with a single sample: batch(es) "
            + ", ".join(repr(b) for b in singletons)
            + " — merge them with a similar batch in the sample sheet, or set "
              "proteins.batch_correction: none")

    values = log2_imputed.to_numpy(dtype=np.float64)
    adjustable = np.ones(len(values), dtype=bool)
    for level in sizes.index:
        within = values[:, (labels == level).to_numpy()]
        adjustable &= within.max(axis=1) > within.min(axis=1)
    covar_mod = None
    if covariates is not None and covariates.shape[1] > 0:
        aligned = covariates.reindex(samples)
        if aligned.isna().to_numpy().any():
            raise ValueError("ComBat covariates must be given for every sample (no missing values)")
        # patsy builds the design from column names: give it plain, always-valid names.
        covar_mod = pd.DataFrame({f"covariate_{i}": aligned[c].astype(str).to_numpy()
                                  for i, c in enumerate(aligned.columns)})
    corrected = values.copy()
    if adjustable.any():
        # Imported here, not with the module: model jobs only need the imputers (job start time, ~2 CPU-s).
        from inmoose.pycombat import pycombat_norm

        subset = pd.DataFrame(values[adjustable], columns=[str(s) for s in samples])
        with warnings.catch_warnings():
            # inmoose computes with numpy.matrix, which numpy marks as pending deprecation.
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            adjusted = pycombat_norm(subset, list(labels.to_numpy()), covar_mod=covar_mod)
        corrected[adjustable] = np.asarray(adjusted, dtype=np.float64)
    return pd.DataFrame(corrected, index=log2_imputed.index, columns=samples)


def normalise_proteins(values: pd.DataFrame, sample_meta: pd.DataFrame, scale: str = "raw",
                       max_missing_fraction: float = 0.5, imputation: str = "downshifted_normal",
                       downshift: float = 1.8, width: float = 0.3, normalisation: str = "median",
                       batch_correction: str = "combat", seed: int = 0,
                       covariates: pd.DataFrame | None = None) -> ad.AnnData:
    """The proteomics AnnData: log2 -> filter -> median normalisation -> imputation -> batch correction.

    Parameters
    ----------
    values : features x samples matrix as read (NaN missing; for ``scale="raw"`` 0 is missing too).
    sample_meta : indexed by sample_id with ``patient_id``, ``batch`` ("" when none), ``timepoint``;
        must cover every column of ``values`` (other rows are ignored).
    covariates : optional categorical columns indexed by sample_id to protect in ComBat.

    Returns
    -------
    AnnData with obs and var sorted by name and

    - ``layers["raw"]``: values as read, kept proteins only;
    - ``layers["log2"]``: log2, filtered, median-normalised, NaN where missing: what models refit the
      imputer on inside their folds;
    - ``layers["imputed"]``: the same after imputation, before batch correction;
    - ``layers["log2_batch_corrected"]``: X with the missing cells set back to NaN (for models that refit
      imputation on batch-corrected observed values);
    - ``X``: imputed, normalised, batch-corrected (dense float64);
    - ``var``: ``missing_fraction``, ``n_missing``, ``mean_log2`` (mean of observed normalised values);
    - ``obs``: the metadata plus ``n_missing`` and ``median_log2`` (median of observed log2 values
      before normalisation) and ``normalisation_offset`` (what normalisation added);
    - ``uns["params"]``: every parameter, including the seed and whether ComBat ran.
    """
    for name, value, choices in (("normalisation", normalisation, NORMALISATIONS),
                                 ("batch_correction", batch_correction, BATCH_CORRECTIONS),
                                 ("imputation", imputation, IMPUTATION_METHODS)):
        if value not in choices:
            raise ValueError(f"proteins {name} must be one of {', '.join(choices)}, got {value!r}")
    if values.index.has_duplicates:
        duplicated = sorted(set(values.index[values.index.duplicated()].astype(str)))
        raise ValueError(f"protein identifiers must be unique; repeated: {', '.join(duplicated[:10])}")
    unknown = [s for s in values.columns if s not in sample_meta.index]
    if unknown:
        raise ValueError(f"samples without metadata: {', '.join(map(str, unknown))}")

    values = values.sort_index(axis=0).sort_index(axis=1)
    log2_all = to_log2(values, scale)
    kept = filter_missingness(log2_all, max_missing_fraction)
    if kept.empty:
        raise ValueError(
            f"no protein is observed in at least {1 - max_missing_fraction:.0%} of samples; "
            "raise proteins.max_missing_fraction")
    medians_before = kept.median(axis=0, skipna=True)
    log2 = median_normalise(kept) if normalisation == "median" else kept.copy()
    imputer_params = {"downshift": downshift, "width": width} if imputation == "downshifted_normal" else {}
    imputed = impute(log2, make_imputer(imputation, seed, **imputer_params))
    meta = sample_meta.loc[values.columns].copy()
    batches = (meta["batch"] if "batch" in meta.columns else pd.Series("", index=meta.index))
    batches = batches.fillna("").astype(str)
    n_batches = batches.nunique()
    if batch_correction == "combat" and n_batches > 1:
        corrected = correct_batch(imputed, batches, covariates)
    else:
        corrected = imputed.copy()

    obs = meta.copy()
    for column in ("patient_id", "batch", "timepoint"):
        if column not in obs.columns:
            obs[column] = ""
        obs[column] = obs[column].fillna("").astype(str)
    obs.index = obs.index.astype(str)
    obs.index.name = "sample_id"
    obs["n_missing"] = log2.isna().sum(axis=0).to_numpy()
    obs["median_log2"] = medians_before.to_numpy()
    obs["normalisation_offset"] = (log2.median(axis=0) - medians_before).to_numpy()
    var = pd.DataFrame(index=log2.index.astype(str))
    var.index.name = "feature"
    var["n_missing"] = log2.isna().sum(axis=1).to_numpy()
    var["missing_fraction"] = var["n_missing"] / log2.shape[1]
    var["mean_log2"] = log2.mean(axis=1, skipna=True).to_numpy()

    adata = ad.AnnData(X=corrected.T.to_numpy(dtype=np.float64), obs=obs, var=var)
    adata.layers["raw"] = values.loc[kept.index].T.to_numpy(dtype=np.float64)
    adata.layers["log2"] = log2.T.to_numpy(dtype=np.float64)
    adata.layers["imputed"] = imputed.T.to_numpy(dtype=np.float64)
    adata.layers["log2_batch_corrected"] = corrected.where(log2.notna()).T.to_numpy(dtype=np.float64)
    adata.uns["params"] = {
        "steps": STEPS,
        "scale": scale,
        "max_missing_fraction": float(max_missing_fraction),
        "imputation": imputation,
        "downshift": float(downshift),
        "width": float(width),
        "normalisation": normalisation,
        "batch_correction": batch_correction,
        "batch_correction_applied": bool(batch_correction == "combat" and n_batches > 1),
        "n_batches": int(n_batches),
        "combat_covariates": ",".join(map(str, covariates.columns)) if covariates is not None else "",
        "seed": int(seed),
        "n_features_read": int(values.shape[0]),
        "n_features_kept": int(kept.shape[0]),
    }
    return adata


def plot_missingness(log2_unfiltered: pd.DataFrame, max_missing_fraction: float | None = None):
    """Left: missing fraction against mean observed log2 abundance per protein (a falling trend means
    missing-not-at-random: low-abundance proteins go undetected); right: missing values per sample."""
    fraction = log2_unfiltered.isna().mean(axis=1)
    abundance = log2_unfiltered.mean(axis=1, skipna=True)
    seen = abundance.notna()
    fig, (left, right) = style.new_figure(11.0, 4.0, ncols=2)
    left.scatter(abundance[seen], fraction[seen], s=10, alpha=0.6, edgecolor="none",
                 color=style.MODALITY_COLOURS["proteins"])
    if max_missing_fraction is not None:
        left.axhline(max_missing_fraction, linestyle="--", linewidth=1, color=style.GROUP_COLOURS["NA"],
                     label=f"filter: missing fraction <= {max_missing_fraction:g}")
        left.legend(frameon=False)
    left.set_xlabel("mean log2 abundance (observed values)")
    left.set_ylabel("fraction of samples missing")
    never = int((~seen).sum())
    left.set_title(f"{int(seen.sum())} proteins" + (f" ({never} never observed, not shown)" if never else ""))
    per_sample = log2_unfiltered.isna().sum(axis=0)
    positions = np.arange(len(per_sample))
    right.bar(positions, per_sample.to_numpy(), color=style.MODALITY_COLOURS["proteins"])
    right.set_xticks(positions, [str(s) for s in per_sample.index], rotation=90, fontsize=7)
    right.set_ylabel("missing proteins")
    right.set_title("missing values per sample")
    return fig


def plot_pca_by_batch(before: pd.DataFrame, after: pd.DataFrame, batches: pd.Series):
    """PCA of features x samples matrices before and after batch correction, coloured by batch."""
    labels = batches.fillna("").astype(str)
    colours = style.category_colours(labels.unique())
    fig, axes = style.new_figure(11.0, 4.5, ncols=2)
    for ax, matrix, title in ((axes[0], before, "before batch correction"),
                              (axes[1], after, "after batch correction")):
        scores = qc.principal_components(matrix.T, n_components=2)
        ratios = scores.attrs["explained_variance_ratio"]
        y = scores["PC2"] if "PC2" in scores.columns else pd.Series(0.0, index=scores.index)
        sample_batch = labels.reindex(scores.index).fillna("")
        for level in sorted(colours):
            members = scores.index[sample_batch == level]
            if len(members):
                ax.scatter(scores.loc[members, "PC1"], y[members], s=36, edgecolor="none",
                           color=colours[level], label=level if level else "(none)")
        ax.set_xlabel(f"PC1 ({100 * ratios['PC1']:.1f}%)")
        ax.set_ylabel(f"PC2 ({100 * ratios['PC2']:.1f}%)" if "PC2" in ratios else "PC2 (not available)")
        ax.set_title(title)
    axes[1].legend(title="batch", frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return fig

"""Quality control of one modality's normalised AnnData: PCA, sample correlation, outlier flags.

Every function works on any dense matrix (continuous proteins and RNA, continuous or integer copy
number, binary mutations). Two rules make that possible and are applied the same way everywhere:

- features with a missing value (NaN) in any sample are dropped, because PCA and correlation need a
  complete matrix and imputing here would hide the modality's own missingness handling;
- features that are constant across samples are dropped (for mutations: genes altered in no sample or
  in every sample), because they carry no information about how samples differ and, for correlation,
  shared constant entries would make every pair of samples look alike.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import style

# Scale factor making the median absolute deviation a consistent estimator of the normal SD.
MAD_TO_SD = 1.4826
# sqrt(pi / 2): makes the mean absolute deviation a consistent estimator of the normal SD.
MEAN_AD_TO_SD = 1.2533
MISSING_LABEL = "NA"


#: The sample annotations drawn as colour strips above the correlation heatmap, when present.
HEATMAP_ANNOTATIONS = ("batch", "bor", "responder", "clinical_benefit")

def dense_matrix(adata, layer: str | None = None) -> pd.DataFrame:
    """Samples x features float64 DataFrame of ``adata.X`` (or ``adata.layers[layer]``)."""
    values = adata.X if layer is None else adata.layers[layer]
    if hasattr(values, "toarray"):
        values = values.toarray()
    return pd.DataFrame(np.asarray(values, dtype=np.float64), index=adata.obs_names.astype(str),
                        columns=adata.var_names.astype(str))


def drop_uninformative_features(samples_by_features: pd.DataFrame) -> pd.DataFrame:
    """Drop features (columns) that have any NaN or the same value in every sample."""
    complete = samples_by_features.loc[:, samples_by_features.notna().all(axis=0)]
    varying = complete.max(axis=0) > complete.min(axis=0)
    return complete.loc[:, varying]


def principal_components(samples_by_features: pd.DataFrame, n_components: int = 2,
                         scale: bool = False) -> pd.DataFrame:
    """PCA scores of a samples x features matrix, by singular value decomposition.

    NaN and constant features are dropped, features are centred (and divided by their SD when
    ``scale``). Signs are fixed so that the feature with the largest absolute loading on each component
    has a positive loading (ties: the first such feature in column order), which makes the scores
    identical across runs and platforms' SVD sign choices.

    Returns a DataFrame indexed by sample with columns ``PC1..PCk``, where ``k`` is ``n_components``
    capped at the number of samples and informative features; ``attrs["explained_variance_ratio"]``
    maps each column to its share of the total variance of the (centred, optionally scaled) matrix.
    """
    if n_components < 1:
        raise ValueError(f"n_components must be at least 1, got {n_components}")
    matrix = drop_uninformative_features(samples_by_features)
    n_samples, n_features = matrix.shape
    if n_samples < 2 or n_features < 1:
        raise ValueError(
            f"PCA needs at least 2 samples and 1 feature without NaN that varies across samples; "
            f"got {n_samples} samples and {n_features} such features")
    centred = matrix.to_numpy() - matrix.to_numpy().mean(axis=0)
    if scale:
        centred = centred / centred.std(axis=0, ddof=1)
    left, singular, right = np.linalg.svd(centred, full_matrices=False)
    k = min(n_components, n_samples, n_features)
    for component in range(k):
        anchor = int(np.argmax(np.abs(right[component])))
        if right[component, anchor] < 0:
            left[:, component] *= -1
            right[component] *= -1
    names = [f"PC{i + 1}" for i in range(k)]
    scores = pd.DataFrame(left[:, :k] * singular[:k], index=matrix.index, columns=names)
    scores.index.name = "sample_id"
    total = float(np.sum(singular ** 2))
    ratios = singular[:k] ** 2 / total if total > 0 else np.zeros(k)
    scores.attrs["explained_variance_ratio"] = {name: float(r) for name, r in zip(names, ratios)}
    return scores


def pca_scores(adata, n_components: int = 2, scale: bool = False,
               layer: str | None = None) -> pd.DataFrame:
    """PCA scores of ``adata.X`` (or ``layer``); see :func:`principal_components` for the rules."""
    return principal_components(dense_matrix(adata, layer), n_components=n_components, scale=scale)


def explained_variance_table(scores: pd.DataFrame) -> pd.DataFrame:
    """``component, explained_variance_ratio`` rows from the attrs of :func:`pca_scores` output."""
    ratios = scores.attrs.get("explained_variance_ratio", {})
    return pd.DataFrame({"component": list(ratios), "explained_variance_ratio": list(ratios.values())})


def sample_correlation(adata, method: str = "pearson", layer: str | None = None) -> pd.DataFrame:
    """Samples x samples correlation across informative features (Pearson or Spearman).

    Spearman is Pearson on each sample's feature ranks (ties get average ranks). A sample whose values
    are identical across all informative features (e.g. a tumour with no mutation in a binary matrix)
    has undefined correlations: they are NaN, and its diagonal is still 1.
    """
    if method not in ("pearson", "spearman"):
        raise ValueError(f"method must be 'pearson' or 'spearman', got {method!r}")
    matrix = drop_uninformative_features(dense_matrix(adata, layer))
    values = matrix.to_numpy()
    if method == "spearman":
        # scipy.stats is imported here, not with the module: most importers never rank (job start time).
        from scipy.stats import rankdata

        values = np.apply_along_axis(rankdata, 1, values) if values.size else values
    centred = values - values.mean(axis=1, keepdims=True)
    norms = np.sqrt(np.sum(centred ** 2, axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = (centred @ centred.T) / np.outer(norms, norms)
    corr = np.clip(corr, -1.0, 1.0)
    np.fill_diagonal(corr, 1.0)
    result = pd.DataFrame(corr, index=matrix.index, columns=matrix.index)
    result.index.name = "sample_id"
    return result


def robust_z(values: pd.Series) -> pd.Series:
    """``(x - median) / (1.4826 * MAD)``, ignoring NaN.

    When the MAD is 0 (more than half the values tie), the mean absolute deviation from the median
    (times 1.2533) is used instead; when that is 0 too, every value equals the median and z is 0.
    """
    observed = values.dropna()
    centre = observed.median()
    spread = MAD_TO_SD * (observed - centre).abs().median()
    if not spread > 0:
        spread = MEAN_AD_TO_SD * (observed - centre).abs().mean()
    if not spread > 0:
        return values.where(values.isna(), 0.0)
    return (values - centre) / spread


def flag_outliers(adata, z_threshold: float = 3.0, method: str = "pearson",
                  layer: str | None = None) -> pd.DataFrame:
    """Flag samples that do not resemble the others: poorly correlated AND far from the median profile.

    Over the informative features (see the module notes), for each sample:

    - ``median_correlation``: median correlation with the other samples; ``decorrelation_robust_z`` is
      the robust z-score (:func:`robust_z`) of ``log(1 - median_correlation)`` across samples, high
      when a sample correlates less than the others;
    - ``distance_to_median``: Euclidean distance from the feature-wise median profile of all samples;
      ``distance_robust_z`` is the robust z-score of its logarithm.

    A sample is an outlier when both z-scores exceed ``z_threshold``. Requiring both keeps false alarms
    rare at trial sizes: on simulated clean data (12-20 samples, 500 features, two biological groups)
    either z-score alone exceeded 3 for some sample in 10-20% of data sets, both together in about 3%,
    while a sample with doubled noise was flagged in over 97%. The logarithms make the right-skewed
    ``1 - r`` and distances roughly symmetric, as the median/MAD scale assumes.
    With fewer than 3 samples nothing is flagged and the z-scores are NaN.

    Returns one row per sample: ``sample_id, patient_id, median_correlation, decorrelation_robust_z,
    distance_to_median, distance_robust_z, outlier (yes/no), reason`` (empty when not flagged).
    """
    corr = sample_correlation(adata, method=method, layer=layer)
    others = corr.to_numpy(copy=True)
    np.fill_diagonal(others, np.nan)
    median_corr = pd.Series(
        [np.nan if np.all(np.isnan(row)) else float(np.nanmedian(row)) for row in others],
        index=corr.index)
    matrix = drop_uninformative_features(dense_matrix(adata, layer)).reindex(corr.index)
    offsets = matrix - matrix.median(axis=0)
    distance = np.sqrt((offsets ** 2).sum(axis=1))
    # The floor keeps identical samples (r = 1, distance 0) finite on the log scale.
    log_decorrelation = np.log(np.maximum(1.0 - median_corr, 1e-12))
    log_distance = np.log(np.maximum(distance, 1e-12))
    if len(corr) >= 3:
        decorrelation_z, distance_z = robust_z(log_decorrelation), robust_z(log_distance)
    else:
        decorrelation_z = distance_z = pd.Series(np.nan, index=corr.index)

    flagged, reasons = [], []
    for sample in corr.index:
        outlier = bool(decorrelation_z[sample] > z_threshold and distance_z[sample] > z_threshold)
        flagged.append("yes" if outlier else "no")
        if outlier:
            reasons.append(f"low correlation with other samples (robust z {decorrelation_z[sample]:.2f}) "
                           f"and far from the median profile (robust z {distance_z[sample]:.2f}), "
                           f"both > {z_threshold:g}")
        elif np.isnan(median_corr[sample]):
            reasons.append("correlation undefined: sample constant across informative features")
        else:
            reasons.append("")
    patient = (adata.obs["patient_id"].astype(str).reindex(corr.index)
               if "patient_id" in adata.obs.columns else pd.Series("", index=corr.index))
    return pd.DataFrame({
        "sample_id": corr.index.to_numpy(),
        "patient_id": patient.to_numpy(),
        "median_correlation": median_corr.to_numpy(),
        "decorrelation_robust_z": decorrelation_z.to_numpy(),
        "distance_to_median": distance.to_numpy(),
        "distance_robust_z": distance_z.to_numpy(),
        "outlier": flagged,
        "reason": reasons,
    })


def is_missing_label(value) -> bool:
    """True for NaN/None and the empty or ``NA`` string labels used for a missing annotation."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return True
    return str(value).strip() in ("", MISSING_LABEL, "nan", "NaN")


def label_colours(column: str, values) -> dict:
    """Colour of each label of ``column``: response colours for ``bor``, group colours for yes/no
    labels, the category palette otherwise; missing labels map to ``"NA"`` in grey."""
    present = sorted({str(v) for v in values if not is_missing_label(v)})
    if column == "bor":
        colours = {lvl: style.RESPONSE_COLOURS[lvl] for lvl in style.RESPONSE_ORDER if lvl in present}
        others = [lvl for lvl in present if lvl not in style.RESPONSE_COLOURS]
        colours.update(style.category_colours(others))
    elif present and set(present) <= {"yes", "no"}:
        colours = {lvl: style.GROUP_COLOURS[lvl] for lvl in ("yes", "no") if lvl in present}
    else:
        colours = style.category_colours(present)
    colours[MISSING_LABEL] = style.GROUP_COLOURS["NA"]
    return colours


def annotation_labels(obs: pd.DataFrame, column: str, samples) -> pd.Series:
    """The labels of ``column`` for ``samples`` as strings, with every missing label written ``NA``."""
    if column not in obs.columns:
        return pd.Series(MISSING_LABEL, index=list(samples))
    raw = obs[column].reindex(list(samples))
    return pd.Series([MISSING_LABEL if is_missing_label(v) else str(v) for v in raw], index=raw.index)


def plot_pca(scores: pd.DataFrame, obs: pd.DataFrame, colour_by: str, title: str | None = None):
    """Scatter of PC1 against PC2, points coloured by ``obs[colour_by]`` and labelled by sample.

    A missing label (or a missing column) is drawn in grey as ``NA``. With a single component the
    samples are drawn along PC1 at PC2 = 0.
    """
    labels = annotation_labels(obs, colour_by, scores.index)
    colours = label_colours(colour_by, labels)
    ratios = scores.attrs.get("explained_variance_ratio", {})
    x = scores["PC1"]
    y = scores["PC2"] if "PC2" in scores.columns else pd.Series(0.0, index=scores.index)
    fig, ax = style.new_figure(6.0, 4.5)
    for level, colour in colours.items():
        members = labels.index[labels == level]
        if len(members):
            ax.scatter(x[members], y[members], color=colour, label=level, s=36, edgecolor="none")
    for sample in scores.index:
        ax.annotate(str(sample), (x[sample], y[sample]), fontsize=7, xytext=(3, 3),
                    textcoords="offset points")
    ax.set_xlabel(f"PC1 ({100 * ratios.get('PC1', float('nan')):.1f}% of variance)")
    ax.set_ylabel(f"PC2 ({100 * ratios['PC2']:.1f}% of variance)" if "PC2" in ratios
                  else "PC2 (not available)")
    ax.legend(title=colour_by if colour_by in obs.columns else f"{colour_by} (not available)",
              frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    if title:
        ax.set_title(title)
    return fig


def cluster_order(corr: pd.DataFrame) -> list:
    """Sample order from average-linkage hierarchical clustering on ``1 - correlation``.

    Undefined correlations count as 0 (distance 1). With fewer than 3 samples the order is unchanged.
    """
    if len(corr) < 3:
        return list(corr.index)
    from scipy.cluster import hierarchy
    from scipy.spatial.distance import squareform

    distance = 1.0 - corr.fillna(0.0).to_numpy()
    distance = (distance + distance.T) / 2
    np.fill_diagonal(distance, 0.0)
    tree = hierarchy.linkage(squareform(np.clip(distance, 0.0, None), checks=False), method="average")
    return [corr.index[i] for i in hierarchy.leaves_list(tree)]


def plot_correlation_heatmap(corr: pd.DataFrame, annotations: pd.DataFrame | None = None,
                             title: str | None = None):
    """Heatmap of a sample correlation matrix, samples ordered by hierarchical clustering.

    Each column of ``annotations`` (indexed by sample, e.g. ``bor`` or ``responder``) is drawn as a
    colour strip above the heatmap, with its own legend; missing labels are grey.
    """
    from matplotlib.patches import Patch, Rectangle

    order = cluster_order(corr)
    ordered = corr.loc[order, order]
    columns = [] if annotations is None else list(annotations.columns)
    n = len(order)
    size = min(12.0, max(5.0, 0.3 * n + 3.0))
    strip_share = 0.05 * len(columns)
    fig, axes = style.new_figure(size + 2.5, size, nrows=len(columns) + 1, ncols=1, squeeze=False,
                                 gridspec_kw={"height_ratios": [strip_share / max(len(columns), 1)]
                                              * len(columns) + [1.0]}, sharex=True)
    axes = axes[:, 0]
    legends = []
    for ax, column in zip(axes[:-1], columns):
        labels = annotation_labels(annotations, column, order)
        colours = label_colours(column, labels)
        for position, sample in enumerate(order):
            ax.add_patch(Rectangle((position - 0.5, 0.0), 1.0, 1.0, facecolor=colours[labels[sample]],
                                   edgecolor="none"))
        ax.set_xlim(-0.5, n - 0.5)
        ax.set_ylim(0, 1)
        ax.set_yticks([0.5], [column])
        ax.tick_params(axis="x", bottom=False)
        for spine in ax.spines.values():
            spine.set_visible(False)
        legends.append((column, colours, labels))
    heat_ax = axes[-1]
    image = heat_ax.imshow(ordered.to_numpy(), aspect="auto", interpolation="nearest",
                           cmap="viridis", extent=(-0.5, n - 0.5, n - 0.5, -0.5))
    heat_ax.set_xticks(range(n), [str(s) for s in order], rotation=90, fontsize=7)
    heat_ax.set_yticks(range(n), [str(s) for s in order], fontsize=7)
    colourbar = fig.colorbar(image, ax=list(axes), fraction=0.04, pad=0.02)
    colourbar.set_label("correlation")
    for index, (column, colours, labels) in enumerate(legends):
        handles = [Patch(facecolor=colour, edgecolor="none", label=level)
                   for level, colour in colours.items()
                   if (labels == level).any()]
        fig.legend(handles=handles, title=column, frameon=False, loc="upper left",
                   bbox_to_anchor=(1.0, 1.0 - 0.22 * index))
    if title:
        axes[0].set_title(title)
    return fig


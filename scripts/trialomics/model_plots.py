"""Figures of the survival, models and biomarkers stages: KM splits, performance, stability, cards.

Each function returns a Matplotlib figure in the house style (:mod:`trialomics.style`); saving is the
adapter's job through ``style.save_figure``. When there is nothing to draw, the figure says so.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from . import style
from .kaplan_meier import kaplan_meier_curve, survival_at

SPLIT_LABELS = {"altered": ("altered", "not altered"), "median": ("above median", "at/below median")}
SPLIT_COLOURS = style.category_colours(["high", "low"])
ENDPOINT_TITLES = {"pfs": "Progression-free survival", "os": "Overall survival", "responder": "Response",
                   "clinical_benefit": "Clinical benefit"}


def message_figure(message: str, title: str = ""):
    """A figure that only says ``message``."""
    fig, ax = style.new_figure(6.0, 3.0)
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, wrap=True)
    if title:
        ax.set_title(title)
    return fig


def _step(ax, time: pd.Series, event: pd.Series, colour: str, label: str) -> None:
    # The curve of trialomics.kaplan_meier (lifelines' to the bit, without importing lifelines: about
    # a second of every survival_univariate and biomarkers_cards job).
    times, survival = kaplan_meier_curve(time.to_numpy(float), event.to_numpy(bool))
    ax.step(times, survival, where="post", color=colour, label=label)
    censored = time[~event.astype(bool)].to_numpy(float)
    if censored.size:
        ax.plot(censored, survival_at(times, survival, censored), "|", color=colour, markersize=7)


def km_split_panel(ax, x: pd.Series, kind: str, outcome: pd.DataFrame, title: str = "",
                   logrank_p: float | None = None) -> None:
    """Kaplan–Meier curves of the pre-specified split of ``x`` (altered vs not, or median)."""
    # Imported here, not with the module: trialomics.survival loads anndata and the Cox code, which the
    # models_collect jobs (performance and stability plots only) never use.
    from .survival import prespecified_split

    x = x.dropna()
    x = x[x.index.isin(outcome.index)]
    if len(x) < 2:
        ax.axis("off")
        ax.text(0.5, 0.5, "too few patients", ha="center", va="center", transform=ax.transAxes)
        return
    high, cut, _ = prespecified_split(x, kind)
    labels = SPLIT_LABELS[cut]
    for members, name, label in ((high, "high", labels[0]), (~high, "low", labels[1])):
        patients = members[members].index
        if len(patients):
            _step(ax, outcome.loc[patients, "time"], outcome.loc[patients, "event"], SPLIT_COLOURS[name],
                  f"{label} (n={len(patients)})")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("Months")
    ax.set_ylabel("Survival probability")
    suffix = f"\nlog-rank p = {logrank_p:.3g}" if logrank_p is not None and np.isfinite(logrank_p) else ""
    ax.set_title(f"{title}{suffix}", fontsize=9)
    ax.legend(frameon=False, fontsize=7, loc="lower left")


def km_grid(values: pd.DataFrame, kinds: pd.Series, outcome: pd.DataFrame, km_table: pd.DataFrame,
            title: str, columns: int = 3):
    """One Kaplan–Meier panel per row of ``km_table`` (its features, in order)."""
    from .survival import BINARY

    if km_table.empty:
        return message_figure("no feature could be tested", title)
    n = len(km_table)
    rows = int(np.ceil(n / columns))
    fig, axes = style.new_figure(4.0 * min(n, columns), 3.4 * rows, nrows=rows, ncols=min(n, columns),
                                 squeeze=False, layout="constrained")
    for ax, (_, row) in zip(axes.ravel(), km_table.iterrows()):
        km_split_panel(ax, values[row["feature"]], kinds.get(row["feature"], BINARY), outcome,
                       title=str(row["feature"]), logrank_p=float(row["logrank_p"]))
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    fig.suptitle(f"{title} (pre-specified splits)")
    return fig


def performance_plot(performance: pd.DataFrame, endpoint: str):
    """Out-of-fold estimate and 95 % interval of every model and metric, with permutation p-values."""
    data = performance.copy()
    for column in ("estimate", "ci_low", "ci_high", "permutation_p"):
        data[column] = pd.to_numeric(data[column], errors="coerce")
    data = data.dropna(subset=["estimate"])
    title = f"{ENDPOINT_TITLES.get(endpoint, endpoint)}: out-of-fold performance"
    if data.empty:
        return message_figure("no model could be evaluated (see performance.tsv notes)", title)
    metrics = list(dict.fromkeys(data["metric"]))
    models = list(dict.fromkeys(data["model"]))
    fig, ax = style.new_figure(6.5, 0.5 * len(models) * len(metrics) + 1.5)
    offsets = np.linspace(-0.15, 0.15, len(metrics)) if len(metrics) > 1 else [0.0]
    markers = ("o", "s", "^")
    for metric, offset, marker in zip(metrics, offsets, markers):
        rows = data[data["metric"] == metric].set_index("model").reindex(models)
        y = np.arange(len(models)) + offset
        colours = [style.MODALITY_COLOURS.get(m, style.MODALITY_COLOURS["clinical"]) for m in models]
        ax.errorbar(rows["estimate"], y, xerr=[rows["estimate"] - rows["ci_low"], rows["ci_high"] - rows["estimate"]],
                    fmt="none", ecolor="0.4", elinewidth=1)
        ax.scatter(rows["estimate"], y, c=colours, marker=marker, zorder=3, label=metric)
        for yy, (est, p) in zip(y, rows[["estimate", "permutation_p"]].to_numpy()):
            if np.isfinite(est):
                ax.annotate(f"perm p={p:.2g}", (1.0, yy), xycoords=("axes fraction", "data"), xytext=(4, 0),
                            textcoords="offset points", va="center", fontsize=7)
    ax.axvline(0.5, color="0.5", linestyle="--", linewidth=0.8)
    ax.set_yticks(np.arange(len(models)), models)
    ax.set_xlim(0, 1)
    ax.set_xlabel("Out-of-fold estimate (95 % permutation-pivot interval); 0.5 = chance")
    ax.set_title(title)
    ax.legend(frameon=False, fontsize=8, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=len(metrics))
    return fig


def stability_plot(stability: pd.DataFrame, summary: pd.DataFrame, endpoint: str, top: int = 25):
    """Selection frequencies of the most often selected features, threshold drawn."""
    data = stability.copy()
    data["selection_frequency"] = pd.to_numeric(data["selection_frequency"], errors="coerce")
    data = data[data["selection_frequency"] > 0].sort_values("selection_frequency", ascending=False,
                                                             kind="stable").head(top)
    title = f"{ENDPOINT_TITLES.get(endpoint, endpoint)}: stability selection"
    if data.empty:
        return message_figure("no feature was ever selected", title)
    fig, ax = style.new_figure(6.5, 0.28 * len(data) + 1.5)
    labels = [f"{m}:{f} [{model}]" for model, m, f in data[["model", "modality", "feature"]].to_numpy()]
    colours = [style.MODALITY_COLOURS.get(m, style.MODALITY_COLOURS["clinical"]) for m in data["modality"]]
    y = np.arange(len(data))[::-1]
    ax.barh(y, data["selection_frequency"], color=colours)
    ax.set_yticks(y, labels, fontsize=7)
    thresholds = pd.to_numeric(summary.get("threshold", pd.Series(dtype=float)), errors="coerce").dropna()
    if len(thresholds):
        ax.axvline(float(thresholds.iloc[0]), color="0.3", linestyle="--", linewidth=0.8, label="threshold")
        ax.legend(frameon=False, fontsize=8, loc="lower right")
    ax.set_xlim(0, 1)
    ax.set_xlabel("Selection frequency over half-samples")
    ax.set_title(title)
    return fig


def card_filename(rank: int, modality: str, feature: str) -> str:
    """``{rank:02d}_{modality}_{feature}.png`` with characters unsafe in file names replaced by ``_``."""
    return f"{int(rank):02d}_{modality}_{re.sub(r'[^A-Za-z0-9_.-]+', '_', str(feature))}.png"


def _number(value, digits: int = 3) -> str:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return "–"
    return "–" if not np.isfinite(value) else f"{value:.{digits}g}"

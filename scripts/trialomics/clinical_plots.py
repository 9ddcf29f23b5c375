"""The clinical figures a reviewer expects: waterfall, spider, swimmer and Kaplan-Meier plots.

Every function takes DataFrames shaped like the clinical stage's tables (``labels`` from
:func:`trialomics.clinical.derive_labels`, ``timepoints`` from
:func:`trialomics.recist.derive_timepoint_responses`) and returns a Matplotlib figure drawn in the house
style; saving is :func:`trialomics.style.save_figure`'s job. When the data a plot needs are missing the
figure says so, so that the workflow's outputs always exist.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from . import style
from .clinical import DAYS_PER_MONTH, fit_kaplan_meier, survival_median

# RECIST 1.1 thresholds drawn on the waterfall and spider plots (percent change of the target sum).
PR_THRESHOLD = -30.0
PD_THRESHOLD = 20.0
DAYS_PER_WEEK = 7.0


def message_figure(message: str, title: str = ""):
    """A figure that only says ``message`` (used when the data for a plot are absent)."""
    fig, ax = style.new_figure(6.0, 3.0)
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes)
    if title:
        ax.set_title(title)
    return fig


def _best_response(values: pd.Series) -> pd.Series:
    """Best overall response as text, missing (NaN or empty, as read from a TSV) shown as NE."""
    return values.where(values.notna() & (values != ""), "NE").astype(str)


def _response_legend(ax, responses, **kwargs) -> None:
    present = [r for r in style.RESPONSE_ORDER if r in set(responses)]
    handles = [Patch(facecolor=style.RESPONSE_COLOURS[r], label=r) for r in present]
    ax.legend(handles=handles, title="Best overall response", frameon=False, **kwargs)


def _threshold_lines(ax, horizontal: bool = True) -> None:
    for value, label in ((PD_THRESHOLD, "+20% (PD)"), (PR_THRESHOLD, "\u221230% (PR)")):
        ax.axhline(value, color="0.3", linestyle="--", linewidth=0.8)
        ax.annotate(label, xy=(1.0, value), xycoords=("axes fraction", "data"), xytext=(2, 0),
                    textcoords="offset points", va="center", fontsize=8, color="0.3")
    ax.axhline(0, color="0.5", linewidth=0.6)


def waterfall_plot(labels: pd.DataFrame):
    """Best percent change of the target sum per patient, sorted, coloured by best overall response."""
    data = labels[["patient_id", "bor", "best_pct_change"]].copy()
    data["best_pct_change"] = pd.to_numeric(data["best_pct_change"], errors="coerce")
    data = data.dropna(subset=["best_pct_change"])
    if data.empty:
        return message_figure("no visit-level data: no target-sum changes to plot", "Waterfall plot")
    data = data.sort_values(["best_pct_change", "patient_id"], ascending=[False, True])
    bor = _best_response(data["bor"])
    fig, ax = style.new_figure(max(5.0, 0.3 * len(data) + 2.0), 4.0)
    positions = np.arange(len(data))
    ax.bar(positions, data["best_pct_change"], color=[style.RESPONSE_COLOURS.get(b, "#999999")
                                                       for b in bor], width=0.8)
    _threshold_lines(ax)
    ax.set_xticks(positions)
    ax.set_xticklabels(data["patient_id"], rotation=90)
    ax.set_xlabel("Patient")
    ax.set_ylabel("Best change in sum of target lesions (%)")
    ax.set_title(f"Waterfall plot (n = {len(data)})")
    _response_legend(ax, bor, loc="upper left", bbox_to_anchor=(1.2, 1.0))
    return fig


def spider_plot(timepoints: pd.DataFrame, labels: pd.DataFrame):
    """Percent change of the target sum from baseline over time, one line per patient."""
    follow_up = timepoints[(timepoints["phase"] == "follow_up")].copy()
    follow_up["pct_change_from_baseline"] = pd.to_numeric(follow_up["pct_change_from_baseline"],
                                                          errors="coerce")
    follow_up = follow_up.dropna(subset=["pct_change_from_baseline"])
    if follow_up.empty:
        return message_figure("no visit-level data: no target-sum changes to plot", "Spider plot")
    bor = _best_response(labels.set_index("patient_id")["bor"])
    fig, ax = style.new_figure(6.5, 4.5)
    for patient_id, visits in follow_up.groupby("patient_id", sort=True):
        weeks = np.concatenate([[0.0], pd.to_numeric(visits["day"]).to_numpy() / DAYS_PER_WEEK])
        change = np.concatenate([[0.0], visits["pct_change_from_baseline"].to_numpy()])
        colour = style.RESPONSE_COLOURS.get(bor.get(patient_id, "NE"), "#999999")
        ax.plot(weeks, change, color=colour, marker="o", markersize=3, linewidth=1.2)
    _threshold_lines(ax)
    ax.set_xlabel("Weeks since first dose")
    ax.set_ylabel("Change in sum of target lesions from baseline (%)")
    ax.set_title("Spider plot")
    _response_legend(ax, bor[bor.index.isin(follow_up["patient_id"])], loc="upper left",
                     bbox_to_anchor=(1.2, 1.0))
    return fig


def swimmer_plot(labels: pd.DataFrame, timepoints: pd.DataFrame):
    """Time on study per patient (to death or last contact), coloured by best overall response, with
    the first CR/PR, the first progression and death marked."""
    data = labels[["patient_id", "bor", "os_months", "os_event"]].copy()
    data["os_months"] = pd.to_numeric(data["os_months"], errors="coerce")
    data["os_event"] = pd.to_numeric(data["os_event"], errors="coerce")
    data = data.dropna(subset=["os_months"])
    follow_up = timepoints[timepoints["phase"] == "follow_up"]
    if data.empty or follow_up.empty:
        return message_figure("no visit-level data: no assessments to plot", "Swimmer plot")
    data = data.sort_values(["os_months", "patient_id"], ascending=[True, True]).reset_index(drop=True)
    fig, ax = style.new_figure(7.0, max(3.0, 0.28 * len(data) + 1.5))
    bor = _best_response(data["bor"])
    ax.barh(np.arange(len(data)), data["os_months"], height=0.6,
            color=[style.RESPONSE_COLOURS.get(b, "#999999") for b in bor])
    days = pd.to_numeric(follow_up["day"])
    for y, row in data.iterrows():
        visits = follow_up[follow_up["patient_id"] == row["patient_id"]]
        visit_days = days.loc[visits.index]
        responses = visits["overall_response"]
        response_days = visit_days[responses.isin(["CR", "PR"])]
        progression_days = visit_days[responses == "PD"]
        if len(response_days):
            ax.plot(response_days.min() / DAYS_PER_MONTH, y, marker="^", color="black", markersize=6)
        if len(progression_days):
            ax.plot(progression_days.min() / DAYS_PER_MONTH, y, marker="X", color="black",
                    markersize=6)
        if row["os_event"] == 1:
            ax.plot(row["os_months"], y, marker="s", color="black", markersize=5)
        else:
            ax.annotate("", xy=(row["os_months"] + 0.8, y), xytext=(row["os_months"], y),
                        arrowprops={"arrowstyle": "->", "color": "0.3"})
    # Annotations do not widen the axes: leave room for the arrows of patients alive at last contact.
    ax.set_xlim(0, data["os_months"].max() * 1.08 + 1.0)
    ax.set_yticks(np.arange(len(data)))
    ax.set_yticklabels(data["patient_id"])
    ax.set_xlabel("Months since first dose")
    ax.set_ylabel("Patient")
    ax.set_title("Swimmer plot")
    marks = [Line2D([], [], marker="^", color="black", linestyle="", label="first CR/PR"),
             Line2D([], [], marker="X", color="black", linestyle="", label="progression"),
             Line2D([], [], marker="s", color="black", linestyle="", label="death"),
             Line2D([], [], marker=r"$\rightarrow$", color="0.3", linestyle="", markersize=10,
                    label="alive at last contact")]
    present = [r for r in style.RESPONSE_ORDER if r in set(bor)]
    patches = [Patch(facecolor=style.RESPONSE_COLOURS[r], label=r) for r in present]
    ax.legend(handles=patches + marks, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              title="Best overall response")
    return fig


def kaplan_meier_plot(labels: pd.DataFrame, endpoint: str):
    """Kaplan-Meier curve of ``pfs`` or ``os`` with its 95% band, censoring ticks, the median and the
    numbers at risk beneath."""
    from lifelines.plotting import add_at_risk_counts

    name = {"pfs": "Progression-free survival", "os": "Overall survival"}[endpoint]
    durations = pd.to_numeric(labels[f"{endpoint}_months"], errors="coerce")
    events = pd.to_numeric(labels[f"{endpoint}_event"], errors="coerce")
    keep = durations.notna() & events.notna()
    if not keep.any():
        return message_figure(f"no {endpoint.upper()} data", name)
    kmf = fit_kaplan_meier(durations[keep], events[keep], label="All patients")
    fig, ax = style.new_figure(6.0, 4.5)
    kmf.plot_survival_function(ax=ax, ci_show=True, show_censors=True, color=style.RESPONSE_COLOURS["CR"],
                               censor_styles={"marker": "|", "ms": 8})
    median = survival_median(kmf.survival_function_.index, kmf.survival_function_.iloc[:, 0])
    median_text = "not reached" if np.isinf(median) else f"{median:.1f} months"
    ax.axhline(0.5, color="0.6", linestyle=":", linewidth=0.8)
    ax.set_ylim(0, 1.05)
    ax.set_xlim(left=0)
    ax.set_xlabel("Months since first dose")
    ax.set_ylabel(f"{name} probability")
    ax.set_title(f"{name} (n = {int(keep.sum())}, events = {int(events[keep].sum())}, "
                 f"median {median_text})")
    ax.legend(frameon=False, loc="upper right")
    add_at_risk_counts(kmf, ax=ax, rows_to_show=["At risk"])
    fig.tight_layout()
    return fig

"""The plot of a candidate's card: values by response and survival at the pre-specified split.

The card's numbers (endpoint, tier and the evidence behind it) are text on the summary page
(:func:`trialomics.report_biomarkers.cards_html`), readable at any zoom, so the figure holds only plots.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import style
from .model_plots import ENDPOINT_TITLES, km_split_panel
from .survival import BINARY, endpoint_labels


def card_title(candidate: pd.Series) -> str:
    """``#rank modality: feature`` (with the gene when it differs from the feature)."""
    title = f"#{candidate['rank']} {candidate['modality']}: {candidate['feature']}"
    if candidate.get("gene") and candidate["gene"] != candidate["feature"]:
        title += f" ({candidate['gene']})"
    return title


def _values_by_response(ax, values: pd.Series, kind: str, labels: pd.DataFrame) -> None:
    data = pd.DataFrame({"value": values}).join(labels[["responder", "bor"]], how="inner").dropna(subset=["value"])
    for position, group in enumerate(("yes", "no")):
        members = data[data["responder"] == group]
        if len(members):
            ax.boxplot(members["value"], positions=[position], widths=0.5, showfliers=False,
                       medianprops={"color": "0.2"})
            jitter = np.linspace(-0.12, 0.12, len(members)) if len(members) > 1 else [0.0]
            colours = [style.RESPONSE_COLOURS.get(b, style.RESPONSE_COLOURS["NE"]) for b in members["bor"]]
            ax.scatter(position + np.asarray(jitter), members["value"], c=colours, zorder=3, s=22)
    ax.set_xticks([0, 1], [f"responder\n(n={(data['responder'] == 'yes').sum()})",
                           f"non-responder\n(n={(data['responder'] == 'no').sum()})"])
    ax.set_ylabel("altered (1) / not (0)" if kind == BINARY else "value")
    ax.set_title("Values by response\n(points: best overall response)", fontsize=9)


def card_figure(candidate: pd.Series, values: pd.Series, kind: str, obs: pd.DataFrame):
    """Three panels for one candidate: values by response, PFS and OS at the pre-specified split.

    ``values`` is the feature per patient (index patient_id); ``obs`` the labels per patient
    (patient_id index or column) with bor, responder and the survival columns.
    """
    labels = obs.set_index("patient_id") if "patient_id" in obs.columns else obs
    fig, axes = style.new_figure(12.0, 3.8, nrows=1, ncols=3, layout="constrained")
    fig.suptitle(card_title(candidate))
    _values_by_response(axes[0], values, kind, labels)
    for ax, endpoint in zip(axes[1:], ("pfs", "os")):
        try:
            outcome = endpoint_labels(labels.reset_index(), endpoint)
        except KeyError:
            ax.axis("off")
            ax.text(0.5, 0.5, f"no {endpoint.upper()} data", ha="center", va="center", transform=ax.transAxes)
            continue
        km_split_panel(ax, values, kind, outcome, title=ENDPOINT_TITLES[endpoint])
    return fig

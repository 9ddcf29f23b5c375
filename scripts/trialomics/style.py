"""The one place that knows colours, fonts and how figures are saved.

Every plotting function in the package calls :func:`new_figure` (or uses :data:`RESPONSE_COLOURS` /
:data:`MODALITY_COLOURS`) and :func:`save_figure`, so all plots share one look and are saved
deterministically (no timestamps in SVG/PDF metadata).
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from .tables import atomic_output

# RECIST best overall response, colour-blind safe (Okabe–Ito), the same in every plot.
RESPONSE_COLOURS = {
    "CR": "#0072B2",
    "PR": "#56B4E9",
    "SD": "#E69F00",
    "PD": "#D55E00",
    "NE": "#999999",
}
RESPONSE_ORDER = ("CR", "PR", "SD", "PD", "NE")

# Binary groups (responder, clinical benefit, altered...).
GROUP_COLOURS = {"yes": "#0072B2", "no": "#D55E00", "NA": "#999999"}

MODALITY_COLOURS = {
    "mutations": "#CC79A7",
    "copy_number": "#009E73",
    "rna": "#0072B2",
    "proteins": "#E69F00",
    "pathways": "#56B4E9",
    "clinical": "#999999",
}

# Qualitative palette for batches and other categories without a fixed meaning.
CATEGORY_PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
                    "#000000")

RC_PARAMS = {
    "font.family": "DejaVu Sans",
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
}

# Settings in force while a figure is written. Matplotlib derives the ids of SVG clip paths and
# markers from random numbers unless a hash salt is set, and writes text as paths (fonts of this
# machine) unless fonttype is none; both would make two saves of the same figure differ.
SAVE_RC_PARAMS = {"svg.hashsalt": "trialomics", "svg.fonttype": "none"}

# Metadata that records when and with which version a file was written: left out, so that the same
# figure gives the same bytes.
UNDATED_METADATA = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
    "pdf": {"CreationDate": None, "Producer": None, "Creator": None},
}


def category_colours(levels) -> dict:
    """Stable colours for arbitrary category levels (sorted, then cycled through the palette)."""
    ordered = sorted({str(level) for level in levels})
    return {lvl: CATEGORY_PALETTE[i % len(CATEGORY_PALETTE)] for i, lvl in enumerate(ordered)}


def pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg backend.

    Imported on first use, not with this module: most jobs that import it never draw, and pyplot
    costs about half a CPU-second of job start time.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def new_figure(width: float = 6.0, height: float = 4.0, **subplot_kw):
    """A figure and axes in the house style; ``subplot_kw`` goes to ``plt.subplots``."""
    plt = pyplot()
    plt.rcParams.update(RC_PARAMS)
    return plt.subplots(figsize=(width, height), **subplot_kw)


def save_figure(fig, *paths: str | os.PathLike) -> None:
    """Save ``fig`` to each path atomically, then close it.

    Parameters
    ----------
    fig
        The Matplotlib figure.
    *paths
        Output files; the format comes from the suffix (.png for the report, .svg or .pdf for
        publication). Saving the same figure twice gives byte-identical files.
    """
    plt = pyplot()
    with plt.rc_context(SAVE_RC_PARAMS):
        bbox = fix_layout(fig)
        for path in paths:
            fmt = Path(path).suffix.lstrip(".").lower()
            with atomic_output(path) as tmp:
                fig.savefig(tmp, format=fmt, metadata=UNDATED_METADATA.get(fmt), bbox_inches=bbox)
    plt.close(fig)


def fix_layout(fig):
    """Run ``fig``'s layout engine once, at the raster resolution (``savefig.dpi``), then switch it off;
    return the area to save (the tight bounding box with ``savefig.pad_inches`` when ``savefig.bbox`` is
    "tight", else ``None``). A figure whose canvas cannot render (made without pyplot) is left alone and
    ``savefig.bbox`` returned: ``savefig`` then lays it out for every file, as it would anyway.

    ``savefig`` with a layout engine or a tight box first draws the whole figure without output, to lay
    it out and measure it, for every file. Here the layout runs once and the box is measured without
    that draw, so each file costs one draw: the PNG is byte for byte the one ``savefig`` alone writes
    (``tests/test_style.py``), and the vector twins are drawn with the PNG's positions and area (their
    size in points is the PNG's size in pixels / dpi * 72; laid out on their own they would differ by
    fractions of a point).
    """
    import matplotlib as mpl

    tight = mpl.rcParams["savefig.bbox"] == "tight"
    if fig.get_layout_engine() is None and not tight:
        return None
    if not hasattr(fig.canvas, "get_renderer"):  # a figure made without pyplot: savefig lays it out
        return mpl.rcParams["savefig.bbox"]
    dpi = mpl.rcParams["savefig.dpi"]
    screen_dpi = fig.dpi
    fig.set_dpi(fig.dpi if dpi == "figure" else dpi)
    try:
        renderer = fig.canvas.get_renderer()
        engine = fig.get_layout_engine()
        if engine is not None:
            engine.execute(fig)
        bbox = None
        if tight:
            pad = mpl.rcParams["savefig.pad_inches"]
            bbox = fig.get_tightbbox(renderer).padded(pad, pad)
    finally:
        fig.set_dpi(screen_dpi)
    fig.set_layout_engine(None)
    return bbox


# Evidence tiers of ranked biomarkers (trialomics.ranking.assign_tiers), strongest first.
TIER_COLOURS = {"strong": "#009E73", "supported": "#56B4E9", "exploratory": "#999999"}


def format_display_number(value, significant: int = 3) -> str:
    """``value`` rounded to ``significant`` digits for display only (tables keep full precision).

    Integers are shown whole; magnitudes of 1000 or more are rounded to a whole number, below 0.001
    shown in scientific notation; missing values (None, NaN) are shown as an empty string.
    """
    if value is None:
        return ""
    number = float(value)
    if math.isnan(number):
        return ""
    if math.isinf(number):
        return "inf" if number > 0 else "-inf"
    if number == 0:
        return "0"
    if number.is_integer() and isinstance(value, (int, np.integer)):
        return str(int(number))
    magnitude = abs(number)
    if magnitude >= 1000:
        return f"{number:.0f}"
    if magnitude < 1e-3:
        return f"{number:.{significant - 1}e}"
    decimals = max(0, significant - 1 - math.floor(math.log10(magnitude)))
    return f"{number:.{decimals}f}"


def format_display_pvalue(value, significant: int = 2) -> str:
    """A p- or q-value for display: scientific notation with ``significant`` digits (``1`` stays ``1``)."""
    if value is None:
        return ""
    number = float(value)
    if math.isnan(number):
        return ""
    if number >= 1:
        return "1"
    return f"{number:.{significant - 1}e}"

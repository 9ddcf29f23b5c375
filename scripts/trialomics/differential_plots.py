"""Figures of the differential and enrichment stage.

Volcano, MA, top-feature heatmap, TMB box plot and oncoprint for the differential tables; dot plot
and running-score plots for gene-set enrichment. Every function returns a matplotlib Figure drawn
with :mod:`trialomics.style` colours; the adapters save it with ``style.save_figure``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import style
from .qc import annotation_labels, label_colours

SIGNIFICANT_COLOUR = style.GROUP_COLOURS["no"]
NOT_SIGNIFICANT_COLOUR = style.GROUP_COLOURS["NA"]
# Diverging map for per-gene z-scores (centred at 0).
ZSCORE_CMAP = "RdBu_r"


def _significant(table: pd.DataFrame, alpha: float) -> np.ndarray:
    return (table["padj"].to_numpy(dtype=float) < alpha)


def _label_top(ax, table: pd.DataFrame, x: np.ndarray, y: np.ndarray, n_labels: int) -> None:
    finite = np.isfinite(x) & np.isfinite(y) & table["pvalue"].notna().to_numpy()
    order = np.argsort(np.where(finite, table["pvalue"].to_numpy(dtype=float), np.inf),
                       kind="mergesort")[:n_labels]
    for i in order:
        if finite[i]:
            ax.annotate(str(table["feature"].iloc[i]), (x[i], y[i]), fontsize=7, xytext=(3, 2),
                        textcoords="offset points")


def _significance_scatter(tested: pd.DataFrame, x: np.ndarray, y: np.ndarray, significant: np.ndarray,
                          alpha: float, n_labels: int):
    """A new figure with features at (x, y), those with ``padj < alpha`` highlighted, the most
    significant labelled (shared by the volcano and MA plots)."""
    fig, ax = style.new_figure(6.0, 4.5)
    ax.scatter(x[~significant], y[~significant], s=8, color=NOT_SIGNIFICANT_COLOUR, edgecolor="none",
               label=f"padj >= {alpha:g}", rasterized=True)
    ax.scatter(x[significant], y[significant], s=12, color=SIGNIFICANT_COLOUR, edgecolor="none",
               label=f"padj < {alpha:g} ({int(significant.sum())})")
    _label_top(ax, tested, x, y, n_labels)
    return fig, ax


def plot_volcano(table: pd.DataFrame, title: str, effect_label: str, alpha: float = 0.05,
                 n_labels: int = 10):
    """Effect against -log10 p-value; features with ``padj < alpha`` highlighted, the most
    significant labelled."""
    tested = table[table["pvalue"].notna()].reset_index(drop=True)
    x = tested["effect"].to_numpy(dtype=float)
    y = -np.log10(np.clip(tested["pvalue"].to_numpy(dtype=float), 1e-300, 1.0))
    significant = _significant(tested, alpha)
    fig, ax = _significance_scatter(tested, x, y, significant, alpha, n_labels)
    ax.axvline(0.0, color="black", linewidth=0.5)
    ax.set_xlabel(effect_label)
    ax.set_ylabel("-log10 p-value")
    ax.set_title(title)
    ax.legend(frameon=False, loc="upper left")
    return fig


def plot_ma(table: pd.DataFrame, title: str, alpha: float = 0.05, n_labels: int = 10):
    """Mean normalised count (log10) against the log2 fold change (shrunk when available)."""
    tested = table[table["base_mean"].to_numpy(dtype=float) > 0].reset_index(drop=True)
    effect = "effect_shrunk" if "effect_shrunk" in tested.columns else "effect"
    x = np.log10(tested["base_mean"].to_numpy(dtype=float))
    y = tested[effect].to_numpy(dtype=float)
    significant = _significant(tested, alpha)
    fig, ax = _significance_scatter(tested, x, y, significant, alpha, n_labels)
    ax.axhline(0.0, color="black", linewidth=0.5)
    ax.set_xlabel("log10 mean normalised count")
    ax.set_ylabel("log2 fold change" + (" (apeGLM shrunk)" if effect == "effect_shrunk" else ""))
    ax.set_title(title)
    ax.legend(frameon=False, loc="upper right")
    return fig


def _annotation_strips(fig, axes, obs: pd.DataFrame, columns: list[str], order: list[str]) -> None:
    """Colour strips of ``obs`` columns above a heatmap, one legend per strip."""
    for index, (ax, column) in enumerate(zip(axes, columns)):
        labels = annotation_labels(obs, column, order)
        colours = label_colours(column, labels)
        ax.imshow(np.arange(len(order))[None, :], aspect="auto", interpolation="nearest",
                  cmap=_listed([colours[labels[s]] for s in order]),
                  extent=(-0.5, len(order) - 0.5, 1, 0))
        ax.set_yticks([0.5], [column])
        ax.set_xticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
        handles = _legend_patches(colours, labels)
        fig.add_artist(fig.legend(handles=handles, title=column, frameon=False, loc="upper left",
                                  bbox_to_anchor=(1.02, 1.0 - 0.25 * index)))


def _legend_patches(colours: dict, labels: pd.Series) -> list:
    """One legend patch per level of ``colours`` that occurs in ``labels``."""
    # Imported when drawing, not with the module: a job that skips its plots needs no matplotlib (job start time).
    from matplotlib.patches import Patch

    return [Patch(facecolor=colour, edgecolor="none", label=level)
            for level, colour in colours.items() if (labels == level).any()]


def _listed(colours: list[str]):
    from matplotlib.colors import ListedColormap

    return ListedColormap(colours)


def sample_order(obs: pd.DataFrame, group_column: str, levels: list[str]) -> list[str]:
    """Samples grouped by ``levels`` of ``group_column`` (others last), by name within a group."""
    rank = {level: i for i, level in enumerate(levels)}
    groups = obs[group_column].astype(str)
    return sorted(obs.index.astype(str), key=lambda s: (rank.get(groups[s], len(rank)), s))


def plot_top_heatmap(values: pd.DataFrame, features: list[str], obs: pd.DataFrame,
                     group_column: str, levels: list[str], title: str,
                     annotations: tuple[str, ...] = ("bor",)):
    """Per-feature z-scores of ``values`` (samples x features, e.g. VST) for ``features``.

    Samples are ordered by the contrast's levels; colour strips show the group and the other
    ``annotations`` columns of ``obs`` (best overall response by default).
    """
    order = sample_order(obs.loc[values.index], group_column, levels)
    data = values.loc[order, features].T
    centred = data.sub(data.mean(axis=1), axis=0)
    spread = data.std(axis=1, ddof=1).replace(0.0, np.nan)
    z = centred.div(spread, axis=0).fillna(0.0)
    columns = [group_column] + [c for c in annotations if c != group_column]
    n_strips = len(columns)
    height = min(14.0, 2.0 + 0.18 * len(features) + 0.3 * n_strips)
    width = min(14.0, 3.0 + 0.3 * len(order))
    fig, axes = style.new_figure(width, height, nrows=n_strips + 1, ncols=1, squeeze=False,
                                 gridspec_kw={"height_ratios": [0.4] * n_strips
                                              + [max(2.0, 0.18 * len(features))], "hspace": 0.08})
    axes = axes[:, 0]
    _annotation_strips(fig, axes[:-1], obs, columns, order)
    limit = float(np.nanmax(np.abs(z.to_numpy()))) if z.size else 1.0
    image = axes[-1].imshow(z.to_numpy(), aspect="auto", interpolation="nearest", cmap=ZSCORE_CMAP,
                            vmin=-limit, vmax=limit)
    axes[-1].set_xticks(range(len(order)), order, rotation=90, fontsize=7)
    axes[-1].set_yticks(range(len(features)), features, fontsize=7)
    # Colour bar inside the figure, right of the grid; the strip legends sit beyond the figure edge.
    colourbar = fig.colorbar(image, cax=axes[-1].inset_axes([1.02, 0.0, 0.025, 0.35]))
    colourbar.set_label("z-score")
    axes[0].set_title(title)
    return fig


def plot_tmb_box(obs: pd.DataFrame, group_column: str, levels: list[str], title: str,
                 pvalue: float | None = None, tmb_column: str = "tmb_per_mb"):
    """Box plot of TMB per group with each patient as a point coloured by best response."""
    fig, ax = style.new_figure(4.5, 4.5)
    groups = obs[group_column].astype(str)
    bor = annotation_labels(obs, "bor", obs.index)
    colours = label_colours("bor", bor)
    values = [pd.to_numeric(obs.loc[groups == level, tmb_column], errors="coerce").dropna()
              for level in levels]
    ax.boxplot([v.to_numpy() for v in values], positions=range(len(levels)), widths=0.5,
               showfliers=False, medianprops={"color": "black"})
    rng = np.random.default_rng(0)  # fixed horizontal jitter: same figure on every run
    for position, series in enumerate(values):
        jitter = rng.uniform(-0.12, 0.12, size=len(series))
        ax.scatter(position + jitter, series.to_numpy(), s=24, edgecolor="none",
                   color=[colours[bor[s]] for s in series.index], zorder=3)
    ax.set_xticks(range(len(levels)), [f"{level}\n(n={len(v)})" for level, v in zip(levels, values)])
    ax.set_xlabel(group_column)
    ax.set_ylabel("TMB (non-synonymous mutations per Mb)")
    ax.set_title(title if pvalue is None else f"{title}\nMann-Whitney p = {pvalue:.3g}")
    handles = _legend_patches(colours, bor)
    ax.legend(handles=handles, title="bor", frameon=False, loc="center left",
              bbox_to_anchor=(1.0, 0.5))
    return fig


def plot_oncoprint(altered: pd.DataFrame, obs: pd.DataFrame, n_genes: int, title: str,
                   group_column: str | None = None, levels: list[str] | None = None,
                   tmb_column: str = "tmb_per_mb"):
    """Oncoprint of the ``n_genes`` most frequently altered genes (``altered``: samples x genes 0/1).

    Above the grid: TMB as bars and best overall response (and the contrast group, when given) as
    colour strips. Patients are ordered by group, then by their alteration pattern (most altered
    genes first), as oncoprints usually are.
    """
    counts = altered.fillna(0.0).gt(0).sum(axis=0)
    genes = sorted(counts.index[counts > 0], key=lambda g: (-counts[g], str(g)))[:n_genes]
    hits = altered.loc[:, genes].fillna(0.0).gt(0)
    group_rank = {level: i for i, level in enumerate(levels or [])}
    groups = (obs[group_column].astype(str) if group_column else pd.Series("", index=obs.index))

    def key(sample):
        pattern = tuple(not hits.loc[sample, g] for g in genes)
        return (group_rank.get(groups.get(sample, ""), len(group_rank)), pattern, str(sample))

    order = sorted(altered.index.astype(str), key=key)
    strips = (["bor"] + ([group_column] if group_column else []))
    height = 2.5 + 0.25 * len(genes) + 0.3 * len(strips)
    width = min(14.0, 4.0 + 0.3 * len(order))
    fig, axes = style.new_figure(width, height, nrows=len(strips) + 2, ncols=1, squeeze=False,
                                 gridspec_kw={"height_ratios": [1.2] + [0.3] * len(strips)
                                              + [max(1.0, 0.25 * len(genes))]})
    axes = axes[:, 0]
    tmb = pd.to_numeric(obs.reindex(order)[tmb_column], errors="coerce") \
        if tmb_column in obs.columns else pd.Series(np.nan, index=order)
    axes[0].bar(range(len(order)), tmb.fillna(0.0).to_numpy(), color=style.MODALITY_COLOURS["mutations"],
                width=0.8)
    axes[0].set_xlim(-0.5, len(order) - 0.5)
    axes[0].set_xticks([])
    axes[0].set_ylabel("TMB/Mb", fontsize=8)
    _annotation_strips(fig, axes[1:-1], obs, strips, order)
    grid = axes[-1]
    matrix = hits.reindex(order).T.to_numpy(dtype=float)
    grid.imshow(matrix, aspect="auto", interpolation="nearest",
                cmap=_listed([style.GROUP_COLOURS["NA"], style.MODALITY_COLOURS["mutations"]]),
                vmin=0, vmax=1)
    grid.set_xticks(range(len(order)), order, rotation=90, fontsize=7)
    grid.set_yticks(range(len(genes)),
                    [f"{g} ({100 * counts[g] / max(len(order), 1):.0f}%)" for g in genes], fontsize=8)
    grid.set_xticks(np.arange(len(order)) - 0.5, minor=True)
    grid.set_yticks(np.arange(len(genes)) - 0.5, minor=True)
    grid.grid(which="minor", color="white", linewidth=1.0)
    grid.tick_params(which="minor", length=0)
    axes[0].set_title(title)
    return fig


def plot_enrichment_dots(table: pd.DataFrame, title: str, n_sets: int = 20, fdr: float = 0.05,
                         colour: str = style.MODALITY_COLOURS["rna"], fdr_column: str = "fdr"):
    """Dot plot of the top gene sets of one prerank table: NES on x, size ~ set size, filled
    when ``fdr_column`` < ``fdr``."""
    ranked = table.assign(_order=table["pvalue"].to_numpy(dtype=float)).sort_values(
        ["_order", "gene_set"], kind="mergesort").head(n_sets)
    ranked = ranked.iloc[::-1]
    fig, ax = style.new_figure(7.0, max(2.5, 0.3 * len(ranked) + 1.2))
    significant = ranked[fdr_column].to_numpy(dtype=float) < fdr
    sizes = np.clip(10 + 6 * ranked["size"].to_numpy(dtype=float), 10, 300)
    y = np.arange(len(ranked))
    ax.scatter(ranked["nes"].to_numpy(dtype=float)[significant], y[significant], s=sizes[significant],
               color=colour, edgecolor="black", linewidth=0.5, label=f"{fdr_column} < {fdr:g}")
    ax.scatter(ranked["nes"].to_numpy(dtype=float)[~significant], y[~significant],
               s=sizes[~significant], color=NOT_SIGNIFICANT_COLOUR, edgecolor="black", linewidth=0.5,
               label=f"{fdr_column} >= {fdr:g}")
    ax.axvline(0.0, color="black", linewidth=0.5)
    ax.set_yticks(y, ranked["gene_set"].astype(str), fontsize=8)
    ax.set_xlabel("normalised enrichment score (NES)")
    ax.set_title(title)
    ax.legend(frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5),
              title="dot size ~ set size")
    return fig


def plot_running_scores(curves: dict[str, dict], title: str,
                        colour: str = style.MODALITY_COLOURS["rna"]):
    """GSEA running-score plots, one panel per gene set.

    ``curves`` maps a set name to ``{"running": array, "hits": positions, "es": float,
    "nes": float, "fdr": float}`` as returned by ``enrichment.running_enrichment_score`` plus the
    table's NES and FDR.
    """
    names = list(curves)
    fig, axes = style.new_figure(6.0, 2.2 * max(len(names), 1), nrows=max(len(names), 1), ncols=1,
                                 squeeze=False, sharex=True, gridspec_kw={"hspace": 0.35})
    for ax, name in zip(axes[:, 0], names):
        curve = curves[name]
        running = np.asarray(curve["running"], dtype=float)
        ax.plot(np.arange(1, len(running) + 1), running, color=colour, linewidth=1.2)
        ax.axhline(0.0, color="black", linewidth=0.5)
        low = min(running.min(), 0.0)
        ax.vlines(np.asarray(curve["hits"]) + 1, low - 0.08, low - 0.02, color="black",
                  linewidth=0.5)
        ax.set_ylabel("running ES")
        ax.set_title(f"{name}: NES {curve['nes']:.2f}, FDR {curve['fdr']:.3g}", fontsize=9)
    axes[-1, 0].set_xlabel("rank in the ordered list (highest statistic first)")
    fig.suptitle(title)
    return fig

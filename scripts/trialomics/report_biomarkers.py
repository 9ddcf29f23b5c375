"""The biomarkers section of the summary page: the ranked table, how to read it, and the cards."""
from __future__ import annotations

import math
import re

import pandas as pd

from . import style
from .report import SummaryInputs, Table
from .report_html import (INTEGER, LEADING_ZERO, NUMBER, IDENTIFIER_COLUMNS, Cell, as_float, badge_cell, esc,
                          figures_html, frame_cells, is_pvalue_column, not_run, render_table, source_link,
                          sources_html, text_of)


def _present(value) -> bool:
    text = text_of(value)
    if text in ("", "0", "0.0"):
        return False
    return not (NUMBER.match(text) and math.isnan(as_float(text)))


def supporting_outputs(candidate: pd.Series, inputs: SummaryInputs) -> list[str]:
    """The rule outputs (paths under ``results/``) holding a ranked candidate's evidence.

    Differential tables of the contrasts with a value (and of the concordant modalities; the TMB table
    for the mutation feature ``TMB``), univariate
    survival screens, model stability and performance tables of the endpoints where it was selected,
    and the enrichment tables listing its enriched gene sets. A table not among the inputs is named by
    its output-contract path.
    """
    modality = str(candidate.get("modality", ""))
    concordant = [m for m in str(candidate.get("concordant_modalities", "") or "").split(";") if m]
    paths = []

    def add(path: str) -> None:
        if path not in paths:
            paths.append(path)

    for column in candidate.index:
        match = re.fullmatch(r"diff_(.+)_pvalue", str(column))
        if match and _present(candidate[column]):
            contrast = match.group(1)
            if modality == "mutations" and str(candidate.get("feature", "")) == "TMB":
                add(f"differential/mutations/{contrast}.tmb.tsv")
                continue
            for m in [modality, *[c for c in concordant if c != modality]]:
                table = inputs.differential.get((m, contrast))
                add(table.path if table else f"differential/{m}/{contrast}.tsv")
    for column in candidate.index:
        match = re.fullmatch(r"cox_(.+)_pvalue", str(column))
        if match and _present(candidate[column]):
            table = inputs.survival.get((modality, match.group(1)))
            add(table.path if table else f"survival/{modality}/{match.group(1)}.univariate.tsv")
    for column in candidate.index:
        match = re.fullmatch(r"stability_([a-z_]+)", str(column))
        if match and not str(column).endswith(("_model", "_sign")) and _present(candidate[column]):
            endpoint = match.group(1)
            for kind, tables in (("stability", inputs.stability), ("performance", inputs.performance)):
                table = tables.get(endpoint)
                add(table.path if table else f"models/{endpoint}/{kind}.tsv")
    gene_sets = {s for s in str(candidate.get("enriched_gene_sets", "") or "").split(";") if s}
    if gene_sets:
        for _, table in sorted(inputs.enrichment.items()):
            if "gene_set" in table.frame and gene_sets & set(table.frame["gene_set"].astype(str)):
                add(table.path)
    return paths


BIOMARKER_HEADLINE = ("rank", "modality", "feature", "gene", "tier", "score", "rra_p", "signal_rank", "signal")

RECOVERY_LABELS = {"precision_at_k": "planted among the top {k} candidates",
                   "recall_at_k": "planted features in the top {k} (of all planted)",
                   "programmes_recovered": "planted programmes with a feature in the top {k}",
                   "signal_precision_at_k": "top {k} independent signals led by a planted feature",
                   "programmes_leading_signals": "planted programmes leading one of the top {k} signals"}


def biomarkers_section(inputs: SummaryInputs, top: int = 50) -> str:
    """Ranked candidates with tiers, screen q-values and stability, links to cards and to evidence."""
    if inputs.ranked is None:
        return not_run("no ranked biomarker table was given")
    frame = inputs.ranked.frame
    if frame.empty:
        return f"<p>No candidates were ranked.</p>{sources_html([inputs.ranked.path])}"
    screens = {c: _evidence_label(c) for c in frame.columns if re.fullmatch(r"(diff|cox)_.+_padj", c)}
    stabilities = {c: _evidence_label(c) for c in frame.columns
                   if re.fullmatch(r"stability_[a-z_]+", c) and not c.endswith(("_model", "_sign"))}
    shown = frame.head(top)
    # One column each for the strongest screen and the highest stability keeps the table on one laptop
    # screen whatever the number of contrasts and endpoints; every value is on the card and in the TSV.
    names, rows = frame_cells(shown, BIOMARKER_HEADLINE)
    names += ["best screen q", "top stability", "supporting outputs"]
    for row, (_, candidate) in zip(rows, shown.iterrows()):
        rank = _rank_of(candidate.get("rank"))
        if rank in inputs.cards and "rank" in names:
            i = names.index("rank")
            row[i] = Cell(row[i].text, full=row[i].full, sort=row[i].sort, href=f"#card-{rank}")
        if "tier" in names:
            i = names.index("tier")
            row[i] = badge_cell(row[i].text, "tier", style.TIER_COLOURS)
        row.append(_extreme_cell(candidate, screens, lowest=True))
        row.append(_extreme_cell(candidate, stabilities, lowest=False))
        row.append(_evidence_cell(supporting_outputs(candidate, inputs)))
    tiers = frame["tier"].astype(str).value_counts() if "tier" in frame else pd.Series(dtype=int)
    lead = f"{len(frame)} candidates ranked" + (
        ": " + ", ".join(f"{t} {int(tiers[t])}" for t in style.TIER_COLOURS if t in tiers) if len(tiers) else "")
    parts = [f'<p class="lead">{esc(lead)}. Showing the top {len(shown)}; the rank links to the '
             "candidate's card, the last column opens the list of rule outputs holding its evidence.</p>",
             render_table("biomarkers-table", names, rows, caption="Ranked candidate biomarkers"),
             sources_html([inputs.ranked.path])]
    if "signal_rank" in frame:
        parts.insert(1, "<p>Candidates whose baseline values correlate with a higher-ranked one join its "
                        "independent signal (signal = its lead, signal_rank = the order of the leads), so a "
                        "programme measured many times is read as one finding.</p>")
    if inputs.recovery is not None:
        parts.append(recovery_html(inputs.recovery))
    cards = []
    by_rank = {_rank_of(candidate.get("rank")): candidate for _, candidate in frame.iterrows()}
    for rank in sorted(inputs.cards):
        candidate = by_rank.get(rank)
        title = f"#{rank}"
        details = ""
        if candidate is not None:
            title += f" {candidate.get('feature', '')} ({candidate.get('modality', '')}), {candidate.get('tier', '')}"
            values = [(str(c), text_of(v)) for c, v in candidate.items() if text_of(v) != ""]
            items = "".join(f"<dt>{esc(c)}</dt><dd{_full_attr(v)}>{esc(_display_value(c, v))}</dd>"
                            for c, v in values)
            outputs = "".join(f"<li>{source_link(p)}</li>" for p in supporting_outputs(candidate, inputs))
            details = (f'<div class="card-details"><dl>{items}</dl>'
                       f"<p>Evidence in:</p><ul>{outputs}</ul></div>")
        cards.append(f'<section class="card" id="card-{rank}"><h4>{esc(title)}</h4>'
                     f'<div class="card-body">{figures_html([inputs.cards[rank]])}{details}</div>'
                     '<p><a href="#biomarkers-table">back to the ranked table</a></p></section>')
    if cards:
        parts.append(f'<h3 id="cards">Candidate cards</h3>{"".join(cards)}')
    return "\n".join(parts)


def recovery_html(recovery: Table) -> str:
    """The recovery of the planted biomarkers of a simulated cohort (``biomarkers/recovery.tsv``)."""
    frame = recovery.frame
    rows = []
    for metric, k, value in zip(frame["metric"], frame["k"], frame["value"]):
        if str(metric) in RECOVERY_LABELS:
            label = RECOVERY_LABELS[str(metric)].format(k=k)
            number = as_float(text_of(value))
            rows.append([Cell(label), Cell(style.format_display_number(number), full=text_of(value), sort=number)])
    return ('<h3 id="recovery">Recovery of the planted biomarkers</h3><p>This cohort is simulated with a table '
            "of planted biomarkers (ranking.truth): the fractions below score the ranking against it.</p>"
            + render_table("recovery-table", ["measure", "fraction"], rows, caption="Recovery of planted biomarkers")
            + sources_html([recovery.path]))


def _evidence_cell(paths: list[str]) -> Cell:
    """The supporting outputs, folded under their count (a native ``<details>``: no script needed)."""
    if not paths:
        return Cell("", sort=0)
    links = "".join(f"<li>{source_link(p)}</li>" for p in paths)
    noun = "output" if len(paths) == 1 else "outputs"
    return Cell(markup=f"<details><summary>{len(paths)} {noun}</summary><ul>{links}</ul></details>",
                css="evidence", sort=len(paths))


def _extreme_cell(candidate: pd.Series, columns: dict[str, str], lowest: bool) -> Cell:
    """The smallest (q-values) or largest (stability) value among ``columns``, named by its label."""
    values = {c: as_float(text_of(candidate[c])) for c in columns
              if NUMBER.match(text_of(candidate[c])) and not math.isnan(as_float(text_of(candidate[c])))}
    if not values:
        return Cell("")
    column = (min if lowest else max)(values, key=lambda c: values[c])
    value = values[column]
    shown = style.format_display_pvalue(value) if lowest else style.format_display_number(value)
    return Cell(f"{shown} {columns[column]}", full=f"{column}={text_of(candidate[column])}", sort=value)


def _evidence_label(column: str) -> str:
    """What an evidence column of ranked.tsv is about: a contrast, ``Cox <endpoint>`` or an endpoint."""
    for pattern, label in ((r"diff_(.+)_padj", "{}"), (r"cox_(.+)_padj", "Cox {}"),
                           (r"stability_([a-z_]+)", "{}")):
        match = re.fullmatch(pattern, column)
        if match:
            return label.format(match.group(1).replace("_", " "))
    return column


def _rank_of(value) -> int | None:
    text = text_of(value)
    return int(text) if INTEGER.match(text) else None


def _display_value(column: str, text: str) -> str:
    if NUMBER.match(text) and not LEADING_ZERO.match(text) and column not in IDENTIFIER_COLUMNS:
        if INTEGER.match(text):
            return text
        value = as_float(text)
        return style.format_display_pvalue(value) if is_pvalue_column(column) else style.format_display_number(value)
    return text


def _full_attr(text: str) -> str:
    return f' title="{esc(text)}" data-value="{esc(text)}"'



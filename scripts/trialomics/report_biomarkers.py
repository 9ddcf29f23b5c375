"""The biomarkers section of the summary page: the ranked table, how to read it, and the cards."""
from __future__ import annotations

import math
import re

import pandas as pd

from . import style
from .report import SummaryInputs, Table
from . import report_headline as headline
from .report_sections import PVALUE_DEFINITIONS
from .report_html import (IDENTIFIER_COLUMNS, INTEGER, LEADING_ZERO, NUMBER, Cell, as_float, badge_cell, esc,
                          figures_html, is_pvalue_column, not_run, render_table, source_link,
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


RECOVERY_LABELS = {"precision_at_k": "planted among the top {k} candidates",
                   "recall_at_k": "planted features in the top {k} (of all planted)",
                   "programmes_recovered": "planted programmes with a feature in the top {k}",
                   "signal_precision_at_k": "top {k} independent signals led by a planted feature",
                   "programmes_leading_signals": "planted programmes leading one of the top {k} signals"}

# The table's columns and their definitions (header tooltips); the rest of a row is in its details.
BIOMARKER_COLUMNS = {
    "rank": "Order of the aggregate evidence score (1 = strongest); links to the candidate's card.",
    "modality": "Data type the feature was measured in.",
    "feature": "Gene, protein, alteration or pathway score.",
    "signal": "Independent signal: #order of its lead, and the lead candidate. Candidates whose baseline values "
              "correlate with a higher-ranked one join its signal, so one programme measured many times is "
              "one finding.",
    "endpoint": "Endpoint whose calibrated evidence earned the tier (tier_endpoint of ranked.tsv; for an "
                "exploratory candidate the endpoint of its smallest calibrated p).",
    "tier": "strong / supported / exploratory, by the calibrated rules in the box above.",
    "effect": "For the tier's endpoint: hazard ratio of the univariate Cox screen (PFS, OS), or the "
              "differential effect of the contrast (log2 fold change, log2 difference or log odds ratio).",
    "calibrated p / q": "calibrated_p / calibrated_q of the tier's endpoint: " + PVALUE_DEFINITIONS["calibrated p"]
                        + " " + PVALUE_DEFINITIONS["calibrated q"],
    "stability": "Share of half-sample refits of the endpoint's model that selected the feature, and that model "
                 "(evidence that orders the table; not a p-value, and no tier relies on it).",
    "details": "Every other column of ranked.tsv for this candidate (screen p / q, chain z, per-endpoint "
               "calibrated values...) and the rule outputs holding its evidence.",
}


def _screen_effect_cell(candidate: pd.Series, endpoint: str) -> Cell:
    if not endpoint:
        return Cell("")
    survival = endpoint in headline.SURVIVAL_ENDPOINTS
    column = f"cox_{endpoint}_hr" if survival else f"diff_{endpoint}_effect"
    text = text_of(candidate.get(column, ""))
    if not NUMBER.match(text) or math.isnan(as_float(text)):
        return Cell("")
    value = as_float(text)
    shown = f"HR {style.format_display_number(value)}" if survival else f"{value:+.3g}"
    return Cell(shown, full=f"{column}={text}", sort=value)


def _calibrated_cell(candidate: pd.Series, endpoint: str) -> Cell:
    """The calibrated p / q of the tier's endpoint; empty without calibrated evidence (a screen q is never
    shown in its place: it is corrected within one modality and endpoint only)."""
    p, q = headline.calibrated_values(candidate, endpoint) if endpoint else (math.nan, math.nan)
    shown = {name: value for name, value in (("p", p), ("q", q)) if not math.isnan(value)}
    if not shown:
        return Cell("")
    return Cell(" / ".join(f"{name} {style.format_display_pvalue(value)}" for name, value in shown.items()),
                full="; ".join(f"calibrated_{name}={value!r}" for name, value in shown.items()),
                sort=p if not math.isnan(p) else q)


def _stability_cell(candidate: pd.Series, endpoint: str) -> Cell:
    text = text_of(candidate.get(f"stability_{endpoint}", "")) if endpoint else ""
    if not NUMBER.match(text) or math.isnan(as_float(text)):
        return Cell("")
    model = text_of(candidate.get(f"stability_{endpoint}_model", ""))
    shown = style.format_display_number(as_float(text)) + (f" ({model})" if model else "")
    return Cell(shown, full=f"stability_{endpoint}={text}", sort=as_float(text))


def _signal_cell(candidate: pd.Series) -> Cell:
    signal, rank = text_of(candidate.get("signal", "")), text_of(candidate.get("signal_rank", ""))
    if not signal:
        return Cell("")
    lead = signal.split(":", 1)[-1]
    own = signal == f"{candidate.get('modality', '')}:{candidate.get('feature', '')}"
    shown = f"#{rank} " + ("lead" if own else lead)
    return Cell(shown, full=f"signal={signal}; signal_rank={rank}",
                sort=as_float(rank) if INTEGER.match(rank) else None)


def _details_cell(candidate: pd.Series, inputs: SummaryInputs) -> Cell:
    """Every other non-empty column and the supporting outputs, folded (a native ``<details>``)."""
    shown = {"rank", "modality", "feature", "signal", "signal_rank", "tier"}
    values = [(str(c), text_of(v)) for c, v in candidate.items() if str(c) not in shown and text_of(v) != ""]
    items = "".join(f"<dt>{esc(c)}</dt>"
                    f"<dd{_full_attr(v)}>{esc(_display_value(c, v))}</dd>" for c, v in values)
    paths = supporting_outputs(candidate, inputs)
    links = "".join(f"<li>{source_link(p)}</li>" for p in paths)
    outputs = f"<p>Evidence in:</p><ul>{links}</ul>" if paths else ""
    return Cell(markup=f'<details><summary>{len(values)} values, {len(paths)} outputs</summary>'
                       f'<div class="row-details"><dl>{items}</dl>{outputs}</div></details>',
                css="details", sort=len(paths))


def how_to_read_html(rules: headline.TierRules, null_rates: Table | None) -> str:
    """The box explaining the tiers (their rules with the configured values and their null rates), the
    endpoint column and every kind of p-value and q-value the page shows."""
    rates = headline.null_rates_of(null_rates)
    tiers = []
    for tier in headline.TIER_ORDER:
        rate = f" Null rate: reached by some candidate in {rates[tier].text()}." if tier in rates else ""
        tiers.append(f"<li><b>{tier}</b>: {esc(rules.rule_text(tier))}.{esc(rate)}</li>")
    tiers.append("<li><b>endpoint</b>: the endpoint whose calibrated evidence earned the tier; the effect, "
                 "calibrated p / q and stability columns are for that endpoint. Stability, model p-values, "
                 "enrichment and concordance order the table but make no tier.</li>")
    glossary = "".join(f"<dt>{esc(name)}</dt><dd>{esc(text)}</dd>" for name, text in PVALUE_DEFINITIONS.items())
    box = ('<aside class="how-to-read" id="how-to-read"><h3>How to read this</h3><ul>' + "".join(tiers)
           + '</ul><details><summary>Every p-value and q-value on this page</summary>'
           f'<dl class="facts" id="pvalue-definitions">{glossary}</dl></details>')
    if null_rates is not None:
        box += sources_html([null_rates.path])
    return box + "</aside>"


def biomarkers_section(inputs: SummaryInputs, top: int = 50, endpoints=(),
                       rules: headline.TierRules = headline.TierRules()) -> str:
    """Ranked candidates: key columns that fit the page, the rest per row under details; the cards."""
    if inputs.ranked is None:
        return not_run("no ranked biomarker table was given")
    frame = inputs.ranked.frame
    if frame.empty:
        return f"<p>No candidates were ranked.</p>{sources_html([inputs.ranked.path])}"
    endpoints = list(endpoints) or headline.endpoints_in(frame)
    shown = frame.head(top)
    names = list(BIOMARKER_COLUMNS)
    rows = []
    for _, candidate in shown.iterrows():
        rank = _rank_of(candidate.get("rank"))
        endpoint = headline.earned_endpoint(candidate)
        feature = text_of(candidate.get("feature", ""))
        gene = text_of(candidate.get("gene", ""))
        rows.append([
            Cell(str(rank) if rank is not None else "", sort=rank,
                 href=f"#card-{rank}" if rank in inputs.cards else None),
            Cell(text_of(candidate.get("modality", ""))),
            Cell(feature, full=f"gene {gene}" if gene and gene != feature else None),
            _signal_cell(candidate),
            Cell(headline.endpoint_label(endpoint) if endpoint else ""),
            badge_cell(text_of(candidate.get("tier", "")), "tier", style.TIER_COLOURS),
            _screen_effect_cell(candidate, endpoint),
            _calibrated_cell(candidate, endpoint),
            _stability_cell(candidate, endpoint),
            _details_cell(candidate, inputs),
        ])
    tiers = frame["tier"].astype(str).value_counts() if "tier" in frame else pd.Series(dtype=int)
    lead = f"{len(frame)} candidates ranked" + (
        ": " + ", ".join(f"{t} {int(tiers[t])}" for t in style.TIER_COLOURS if t in tiers) if len(tiers) else "")
    parts = [f'<p class="lead">{esc(lead)}. Showing the top {len(shown)}; the rank links to the '
             "candidate's card, the last column opens every other value and the rule outputs holding its "
             "evidence. Hover a column header for its definition.</p>",
             how_to_read_html(rules, inputs.tier_null_rates),
             render_table("biomarkers-table", names, rows, caption="Ranked candidate biomarkers",
                          definitions=BIOMARKER_COLUMNS),
             sources_html([inputs.ranked.path])]
    if inputs.recovery is not None:
        parts.append(recovery_html(inputs.recovery))
    cards = cards_html(frame, inputs, endpoints, rules)
    if cards:
        parts.append(f'<h3 id="cards">Candidate cards</h3>{cards}')
    return "\n".join(parts)


def cards_html(frame: pd.DataFrame, inputs: SummaryInputs, endpoints, rules: headline.TierRules) -> str:
    """One card per card figure: the plot, and as text the endpoint and the exact numbers behind the tier."""
    # The row of each carded rank (the last one, should a rank repeat), found without a pandas row per
    # candidate: ranked.tsv holds tens of thousands of them and only a few have cards.
    ranks = [_rank_of(value) for value in frame["rank"]] if "rank" in frame else []
    row_of = {rank: i for i, rank in enumerate(ranks) if rank in inputs.cards}
    cards = []
    for rank in sorted(inputs.cards):
        candidate = frame.iloc[row_of[rank]] if rank in row_of else None
        title, text = f"#{rank}", ""
        if candidate is not None:
            endpoint = headline.earned_endpoint(candidate)
            tier = text_of(candidate.get("tier", ""))
            title += f" {candidate.get('feature', '')} ({candidate.get('modality', '')})"
            earned = (f" on <b>{esc(headline.endpoint_label(endpoint))}</b>" if endpoint else "")
            evidence = headline.evidence_phrases(candidate, endpoint) if endpoint else ()
            criteria = "".join(f"<li>{esc(line)}</li>"
                               for line in headline.tier_criteria(candidate, endpoints, rules))
            outputs = "".join(f"<li>{source_link(p)}</li>" for p in supporting_outputs(candidate, inputs))
            text = (f'<div class="card-text"><p><span class="badge tier-{esc(tier)}">{esc(tier)}</span>{earned}'
                    f"{': ' + '; '.join(esc(e) for e in evidence) if evidence else ''}</p>"
                    f"<p>The numbers the tier rules test:</p><ul>{criteria}</ul>"
                    f"<p>Evidence in:</p><ul>{outputs}</ul></div>")
        cards.append(f'<section class="card" id="card-{rank}"><h4>{esc(title)}</h4>'
                     f'<div class="card-body">{figures_html([inputs.cards[rank]])}{text}</div>'
                     '<p><a href="#biomarkers-table">back to the ranked table</a></p></section>')
    return "".join(cards)


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



"""The reviewer's summary page: one self-contained HTML file built from the stage outputs.

:func:`build_summary_page` turns :class:`~trialomics.report.SummaryInputs` (tables as read by
``tables.read_tsv``, PNG bytes, provenance) into a single HTML page: images are embedded as base64 data
URIs, the CSS and a small table sorter are inline, and a Content-Security-Policy allows nothing else (no
network request can leave the page). Every section is optional: a stage that was not run renders a short
note. Nothing in the page depends on the time except the date shown, so the same inputs give the same
bytes.
"""
from __future__ import annotations

import base64
import hashlib

from . import style
from .report import SummaryInputs
from . import report_headline as headline
from .report_biomarkers import biomarkers_section
from .report_html import esc
from .report_sections import (cohort_section, differential_section, efficacy_section, enrichment_section,
                              longitudinal_section, models_section, provenance_section, safety_section,
                              survival_section)

SECTIONS = (
    ("headline", "What the data say"),
    ("cohort", "Cohort"),
    ("efficacy", "Efficacy"),
    ("safety", "Safety"),
    ("differential", "Differential"),
    ("enrichment", "Enrichment"),
    ("survival", "Survival screens"),
    ("longitudinal", "On-treatment change"),
    ("models", "Models"),
    ("biomarkers", "Biomarkers"),
    ("provenance", "Provenance"),
)



# -------------------------------------------------------------------------------------- page

SORTER_JS = """\
(function () {
  "use strict";
  function sortKey(cell) {
    var sort = cell.getAttribute("data-sort");
    if (sort !== null && sort !== "") {
      var number = Number(sort);
      if (!isNaN(number)) { return {number: number}; }
    }
    var text = cell.textContent.trim();
    return text === "" ? null : {text: text};
  }
  function compare(a, b) {
    if ("number" in a && "number" in b) { return a.number - b.number; }
    if ("number" in a) { return -1; }
    if ("number" in b) { return 1; }
    return a.text.localeCompare(b.text, undefined, {numeric: true, sensitivity: "base"});
  }
  function sortTable(table, header, column) {
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    var body = table.tBodies[0];
    var keyed = Array.prototype.map.call(body.rows, function (row, index) {
      return {row: row, key: sortKey(row.cells[column]), index: index};
    });
    keyed.sort(function (a, b) {
      if (a.key === null || b.key === null) {
        if (a.key === b.key) { return a.index - b.index; }
        return a.key === null ? 1 : -1;
      }
      var order = compare(a.key, b.key);
      if (!ascending) { order = -order; }
      return order !== 0 ? order : a.index - b.index;
    });
    keyed.forEach(function (item) { body.appendChild(item.row); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (cell) {
      cell.removeAttribute("aria-sort");
    });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (header, column) {
      header.tabIndex = 0;
      header.addEventListener("click", function () { sortTable(table, header, column); });
      header.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          sortTable(table, header, column);
        }
      });
    });
  });
})();
"""

BASE_CSS = """\
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; font-family: "DejaVu Sans", "Segoe UI", Helvetica, Arial, sans-serif; font-size: 14px;
       line-height: 1.45; color: #1a1a1a; background: #fafafa; }
header.page { padding: 14px 24px 6px; background: #fff; border-bottom: 1px solid #ddd; }
header.page h1 { margin: 0 0 4px; font-size: 22px; }
header.page p { margin: 0 0 6px; color: #444; }
nav { position: sticky; top: 0; z-index: 10; background: #263238; padding: 6px 24px; }
nav a { color: #fff; text-decoration: none; margin-right: 18px; font-weight: 600; font-size: 14px; }
nav a:hover, nav a:focus { text-decoration: underline; }
main { max-width: 1340px; margin: 0 auto; padding: 8px 16px 40px; }
section.stage { background: #fff; border: 1px solid #e0e0e0; border-radius: 4px; margin: 18px 0;
                padding: 4px 14px 14px; scroll-margin-top: 44px; }
section.stage > h2 { font-size: 19px; border-bottom: 2px solid #263238; padding-bottom: 4px; }
h3 { font-size: 16px; margin: 20px 0 6px; scroll-margin-top: 44px; }
h4 { font-size: 15px; margin: 6px 0; }
p.lead { font-size: 15px; }
p.meta, p.sources, figcaption { color: #555; font-size: 12px; }
p.not-run { color: #7a4f00; background: #fff6e0; border-left: 4px solid #E69F00; padding: 6px 10px; }
.table-wrap { overflow-x: auto; max-width: 100%; margin: 6px 0; }
table.sortable { border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; }
table.sortable caption { text-align: left; font-weight: 600; padding: 4px 0; color: #333; white-space: nowrap; }
table.sortable th { position: sticky; top: 0; background: #eceff1; cursor: pointer; text-align: left;
                    padding: 4px 8px; border-bottom: 2px solid #b0bec5; white-space: nowrap; user-select: none; }
table.sortable th::after { content: " \\2195"; color: #90a4ae; font-size: 11px; }
table.sortable th[aria-sort="ascending"]::after { content: " \\25B2"; color: #263238; }
table.sortable th[aria-sort="descending"]::after { content: " \\25BC"; color: #263238; }
table.sortable td { padding: 3px 7px; border-bottom: 1px solid #eee; vertical-align: top; max-width: 34em; }
table.sortable td[data-sort] { text-align: right; }
table.sortable tbody tr:nth-child(even) { background: #f7f9fa; }
table.sortable tbody tr:hover { background: #e3f2fd; }
#checksums-table td { max-width: none; font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12px; }
td[data-sort] { white-space: nowrap; }
.badge { display: inline-block; padding: 0 6px; border-radius: 3px; color: #fff; font-weight: 600; }
td.has-yes { color: #1b5e20; font-weight: 600; }
td.has-no { color: #9e9e9e; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 12px; margin: 8px 0; }
figure { margin: 0; border: 1px solid #eee; padding: 6px; background: #fff; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; }
details { margin: 6px 0; }
details > summary { cursor: pointer; font-weight: 600; }
section.card { border-top: 1px solid #ddd; padding: 6px 0; scroll-margin-top: 44px; }
section.card:target { background: #fffde7; }
.card-body { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 12px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; font-size: 12px; margin: 0; }
dl.facts dt { color: #555; }
dl.facts dd { margin: 0; word-break: break-word; }
section#headline { border: 2px solid #263238; }
.headline { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 14px; align-items: start; }
.headline .figures { grid-template-columns: minmax(0, 1fr); margin: 0; }
.finding { border-left: 5px solid #bdbdbd; padding: 2px 10px; margin: 6px 0; }
.finding.verdict-strong { border-left-color: #009E73; }
.finding.verdict-supported { border-left-color: #56B4E9; }
.finding p { margin: 2px 0; }
.finding .verdict { font-weight: 600; font-size: 15px; }
.finding ol.signals { margin: 2px 0 4px; padding-left: 22px; font-size: 13px; }
.finding details > summary { font-weight: normal; color: #0b57d0; font-size: 13px; }
.primary-tag, .endpoint-tag { display: inline-block; padding: 0 6px; border-radius: 3px; font-size: 12px;
                              font-weight: 600; border: 1px solid #263238; color: #263238; background: #fff; }
span.meta { color: #555; font-size: 12px; }
aside.how-to-read { background: #f3f7fa; border: 1px solid #cfd8dc; border-radius: 4px; padding: 4px 14px;
                    margin: 8px 0; font-size: 13px; }
aside.how-to-read h3 { margin: 6px 0 2px; font-size: 14px; }
aside.how-to-read ul { margin: 4px 0; padding-left: 20px; }
/* Fixed layout: the columns share the page width, so no content (an opened details cell included) can
   widen the table beyond it. */
#biomarkers-table { width: 100%; table-layout: fixed; }
#biomarkers-table th { overflow: hidden; text-overflow: ellipsis; }
#biomarkers-table td { max-width: none; overflow-wrap: anywhere; }
#biomarkers-table td[data-sort] { white-space: normal; }
#biomarkers-table th:nth-child(1) { width: 4.5%; }
#biomarkers-table th:nth-child(2) { width: 7.5%; }
#biomarkers-table th:nth-child(3) { width: 17%; }
#biomarkers-table th:nth-child(4) { width: 12%; }
#biomarkers-table th:nth-child(5) { width: 7.5%; }
#biomarkers-table th:nth-child(6) { width: 8%; }
#biomarkers-table th:nth-child(7) { width: 6.5%; }
#biomarkers-table th:nth-child(8) { width: 11%; }
#biomarkers-table th:nth-child(9) { width: 8%; }
#biomarkers-table th:nth-child(10) { width: 18%; }
#biomarkers-table td.details { font-size: 12px; text-align: left; white-space: normal; }
td.details summary { font-weight: normal; color: #0b57d0; }
.row-details dl { margin: 2px 0; }
.row-details dt { color: #555; }
.row-details dd { margin: 0 0 2px 8px; overflow-wrap: anywhere; }
.row-details ul { margin: 2px 0; padding-left: 16px; }
.card-text { font-size: 14px; }
.card-text ul { padding-left: 18px; margin: 4px 0; }
pre { background: #f5f5f5; border: 1px solid #e0e0e0; padding: 8px; overflow-x: auto; font-size: 12px; }
a.source { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12px; }
"""


def page_css() -> str:
    """The page's CSS: the base layout, then badge colours from the style module."""
    rules = [BASE_CSS]
    for level, colour in style.RESPONSE_COLOURS.items():
        rules.append(f".badge.bor-{level} {{ background: {colour}; }}")
    for tier, colour in style.TIER_COLOURS.items():
        rules.append(f".badge.tier-{tier} {{ background: {colour}; }}")
    return "\n".join(rules) + "\n"


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def build_summary_page(inputs: SummaryInputs, top_features: int = 15, top_biomarkers: int = 50,
                       alpha: float = 0.05, enrichment_fdr: float = 0.25,
                       title: str = "trialomics summary", endpoints=(),
                       rules: headline.TierRules = headline.TierRules(), headline_signals: int = 3) -> str:
    """The whole self-contained page (``<!DOCTYPE html>`` ...) as text.

    Parameters
    ----------
    inputs : what to show; a missing part renders a "Not run" note in its section.
    top_features : rows shown per differential / enrichment / survival / stability table.
    top_biomarkers : ranked candidates shown (the TSV has them all).
    alpha, enrichment_fdr : thresholds quoted in the "n tested; n below" lines.
    endpoints : the configured endpoints (in config order).
    rules : the ranking's tier rules (the primary endpoint, shown first in the headline, and the
        thresholds), quoted on the page.
    headline_signals : independent signals shown per endpoint in the headline.
    """
    findings = headline.findings_from_inputs(inputs, endpoints, rules, headline_signals)
    bodies = {
        "headline": headline.headline_section(findings, inputs.cards, inputs.headline_figure,
                                              headline.headline_sources(inputs, findings), rules,
                                              headline.null_rates_of(inputs.tier_null_rates)),
        "cohort": cohort_section(inputs),
        "efficacy": efficacy_section(inputs),
        "safety": safety_section(inputs),
        "differential": differential_section(inputs, top=top_features, alpha=alpha),
        "enrichment": enrichment_section(inputs, top=top_features, fdr=enrichment_fdr),
        "survival": survival_section(inputs, top=top_features, alpha=alpha),
        "longitudinal": longitudinal_section(inputs, top=top_features, alpha=alpha),
        "models": models_section(inputs, top=top_features),
        "biomarkers": biomarkers_section(inputs, top=top_biomarkers, endpoints=endpoints, rules=rules),
        "provenance": provenance_section(inputs),
    }
    # The policy allows exactly these inline bodies (hashed as they appear between the tags).
    css, script = "\n" + page_css(), "\n" + SORTER_JS
    policy = (f"default-src 'none'; img-src data:; style-src {_csp_hash(css)}; "
              f"script-src {_csp_hash(script)}; base-uri 'none'; form-action 'none'")
    nav = "".join(f'<a href="#{sid}">{esc(name)}</a>' for sid, name in SECTIONS)
    sections = "\n".join(f'<section class="stage" id="{sid}"><h2>{esc(name)}</h2>\n{bodies[sid]}\n</section>'
                         for sid, name in SECTIONS)
    prov = inputs.provenance
    subtitle = "Built from the workflow's rule outputs; numbers are rounded for display (hover a value for " \
               "its full precision, a column header for its meaning; click a header to sort)."
    dated = f" Date: {prov.date}; seed: {prov.seed}." if prov is not None else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(policy)}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<link rel="icon" href="data:,">\n'
        f"<title>{esc(title)}</title>\n<style>{css}</style>\n</head>\n<body>\n"
        f'<header class="page"><h1>{esc(title)}</h1><p>{esc(subtitle + dated)}</p></header>\n'
        f'<nav aria-label="sections">{nav}</nav>\n<main>\n{sections}\n</main>\n'
        f"<script>{script}</script>\n</body>\n</html>\n"
    )


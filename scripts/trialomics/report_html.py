"""HTML building blocks of the summary page: escaped text, sortable tables, embedded figures.

Numbers are rounded for display only (``style.format_display_number`` / ``format_display_pvalue``);
each numeric cell keeps the full value from the TSV in ``data-value`` and ``title``. Every text is
HTML-escaped.
"""
from __future__ import annotations

import base64
import html
import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import style
from .report import Figure

# Columns holding identifiers or labels: never formatted as numbers (patient "007" stays "007").
IDENTIFIER_COLUMNS = {"patient_id", "sample_id", "feature", "gene", "gene_set", "term", "model",
                      "modality", "endpoint", "contrast", "collection", "batch", "path", "sha256"}
PVALUE_COLUMN = re.compile(r"(^|_)(p|pvalue|p_value|padj|fdr|qvalue|q)$")
NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$|^[+-]?(inf|Infinity)$|^(nan|NaN)$")
INTEGER = re.compile(r"^[+-]?\d+$")
# An integer written with a leading zero is an identifier, not a number.
LEADING_ZERO = re.compile(r"^[+-]?0\d")
MAX_TEXT = 80

FIGURE_ORDER = ("waterfall", "swimmer", "spider", "km_pfs", "km_os", "volcano", "ma", "heatmap", "tmb",
                "oncoprint", "dots", "running", "pca_by_response", "pca_by_batch", "correlation")


# ------------------------------------------------------------------------------ cells, tables


@dataclass(frozen=True)
class Cell:
    """One table cell: ``text`` shown; ``full`` (full-precision value) in ``title`` and ``data-value``;
    ``sort`` the numeric sort key; ``href`` a link; ``css`` a class; ``markup`` pre-built HTML (escaped by
    the builder) shown instead of ``text``."""

    text: str = ""
    full: str | None = None
    sort: float | None = None
    href: str | None = None
    css: str | None = None
    markup: str | None = None


def esc(value) -> str:
    """HTML-escaped text (quotes too, so it is safe in attributes)."""
    return html.escape(str(value), quote=True)


def text_of(value) -> str:
    """A cell value as the text a TSV holds ("" for missing; floats in round-trip form)."""
    if value is None or value is pd.NA:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (float, np.floating)):
        return "" if math.isnan(value) else repr(float(value))
    return str(value)


def as_float(text: str) -> float:
    lowered = text.lower().lstrip("+")
    if lowered in ("inf", "infinity"):
        return math.inf
    if lowered in ("-inf", "-infinity"):
        return -math.inf
    return float(text)


def is_pvalue_column(name: str) -> bool:
    """Whether a column holds p- or q-values (shown in scientific notation)."""
    return bool(PVALUE_COLUMN.search(str(name)))


def _column_kind(name: str, texts: list[str]) -> str:
    """``integer``, ``number`` or ``text``: how a column is displayed and sorted."""
    values = [t for t in texts if t != ""]
    if name in IDENTIFIER_COLUMNS or not values:
        return "text"
    if any(not NUMBER.match(t) or LEADING_ZERO.match(t) for t in values):
        return "text"
    return "integer" if all(INTEGER.match(t) for t in values) else "number"


def number_cell(text: str, pvalue: bool = False, integer: bool = False) -> Cell:
    """A numeric cell: rounded for display, the full text kept in ``full``."""
    if text == "" or text.lower() == "nan":
        return Cell("", full=text or None)
    value = as_float(text)
    if integer:
        shown = text
    elif pvalue:
        shown = style.format_display_pvalue(value)
    else:
        shown = style.format_display_number(value)
    return Cell(shown, full=text, sort=value)


def text_cell(text: str, limit: int = MAX_TEXT) -> Cell:
    """A text cell, shortened to ``limit`` characters for display (the whole text in ``full``)."""
    if len(text) <= limit:
        return Cell(text)
    return Cell(text[:limit - 1].rstrip() + "…", full=text)


def frame_cells(frame: pd.DataFrame, columns=None) -> tuple[list[str], list[list[Cell]]]:
    """The header and cells of ``frame`` (the given ``columns`` that exist, in that order)."""
    names = [c for c in (columns or frame.columns) if c in frame.columns]
    texts = {c: [text_of(v) for v in frame[c].tolist()] for c in names}
    kinds = {c: _column_kind(c, texts[c]) for c in names}
    rows = []
    for i in range(len(frame)):
        row = []
        for c in names:
            text = texts[c][i]
            if kinds[c] == "text":
                row.append(badge_cell(text, "bor", style.RESPONSE_COLOURS) if c in ("bor", "bor_unconfirmed")
                           else text_cell(text))
            else:
                row.append(number_cell(text, pvalue=is_pvalue_column(c), integer=kinds[c] == "integer"))
        rows.append(row)
    return names, rows


def badge_cell(text: str, kind: str, levels) -> Cell:
    """A cell showing ``text`` as a coloured badge (class ``badge {kind}-{text}``) when it is a known level."""
    if text not in levels:
        return text_cell(text)
    return Cell(text, markup=f'<span class="badge {esc(kind)}-{esc(text)}">{esc(text)}</span>')


def _cell_html(cell: Cell) -> str:
    attributes = []
    if cell.full is not None:
        attributes += [f'data-value="{esc(cell.full)}"', f'title="{esc(cell.full)}"']
    if cell.sort is not None:
        attributes.append(f'data-sort="{_sort_key(cell.sort)}"')
    if cell.css:
        attributes.append(f'class="{esc(cell.css)}"')
    content = cell.markup if cell.markup is not None else esc(cell.text)
    if cell.href and cell.markup is None:
        content = f'<a href="{esc(cell.href)}">{content}</a>'
    return f"<td{' ' if attributes else ''}{' '.join(attributes)}>{content}</td>"


def _sort_key(value: float) -> str:
    if math.isnan(value):
        return ""
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(float(value))


def render_table(table_id: str, columns: list[str], rows: list[list[Cell]], caption: str | None = None,
                 definitions: dict[str, str] | None = None) -> str:
    """A sortable table (click a header to sort; numeric cells sort by value, empty cells last).

    ``definitions``: column -> what it means, shown as the header's tooltip (``title``).
    """
    definitions = definitions or {}
    head = "".join(f'<th scope="col"{_title_attr(definitions.get(c))}>{esc(c)}</th>' for c in columns)
    body = "\n".join("<tr>" + "".join(_cell_html(c) for c in row) + "</tr>" for row in rows)
    caption_html = f"<caption>{esc(caption)}</caption>" if caption else ""
    return (f'<div class="table-wrap"><table class="sortable" id="{esc(table_id)}">{caption_html}'
            f"<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody></table></div>")


def _title_attr(text: str | None) -> str:
    return f' title="{esc(text)}"' if text else ""


def frame_table(table_id: str, frame: pd.DataFrame, columns=None, caption: str | None = None) -> str:
    """:func:`render_table` of a DataFrame."""
    names, rows = frame_cells(frame, columns)
    return render_table(table_id, names, rows, caption)


# ------------------------------------------------------------------------------------ blocks


def slug(*parts) -> str:
    """An HTML id from names (letters, digits, ``-`` and ``_``)."""
    return "-".join(re.sub(r"[^A-Za-z0-9_]+", "-", str(p)).strip("-") for p in parts)


def not_run(what: str) -> str:
    """The note shown for a stage that produced nothing for this run."""
    return f'<p class="not-run">Not run: {esc(what)}.</p>'


def source_link(path: str) -> str:
    """A link from the page (``results/report/``) to a rule output, named by its path under ``results/``."""
    return f'<a class="source" href="../{esc(path)}">{esc(path)}</a>'


def _figure_key(figure: Figure) -> tuple:
    name = figure.name
    return (FIGURE_ORDER.index(name) if name in FIGURE_ORDER else len(FIGURE_ORDER), figure.path)


def figures_html(figures) -> str:
    """Embedded PNGs (base64 data URIs) with their output paths as captions."""
    items = []
    for figure in sorted(figures, key=_figure_key):
        data = base64.b64encode(figure.png).decode("ascii")
        items.append(f'<figure><img src="data:image/png;base64,{data}" alt="{esc(figure.path)}">'
                     f"<figcaption>{source_link(figure.path)}</figcaption></figure>")
    return f'<div class="figures">{"".join(items)}</div>' if items else ""


def numeric_column(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame:
        return pd.Series(math.nan, index=frame.index)
    return pd.to_numeric(frame[column], errors="coerce")


def top_rows(frame: pd.DataFrame, n: int, by=("padj", "pvalue"), ascending: bool = True) -> pd.DataFrame:
    """The ``n`` first rows ordered by the numeric columns ``by`` (missing values last, ties stable)."""
    keys = pd.DataFrame({f"_key{i}": numeric_column(frame, c) for i, c in enumerate(by)})
    order = keys.sort_values(list(keys.columns), ascending=ascending, kind="mergesort",
                             na_position="last").index
    return frame.loc[order].head(n)


def first_value(frame: pd.DataFrame, column: str) -> str:
    if column not in frame or frame.empty:
        return ""
    values = [v for v in frame[column].astype(str) if v]
    return values[0] if values else ""


def count_below(frame: pd.DataFrame, column: str, threshold: float) -> int:
    return int((numeric_column(frame, column) < threshold).sum())



def sources_html(paths) -> str:
    paths = [p for p in paths if p]
    if not paths:
        return ""
    return f'<p class="sources">Source: {", ".join(source_link(p) for p in paths)}</p>'


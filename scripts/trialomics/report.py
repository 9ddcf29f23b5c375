"""The reviewer's summary page: one self-contained HTML file built from the stage outputs.

:func:`build_summary_page` turns tables (pandas DataFrames as read by ``tables.read_tsv``), PNG bytes
and provenance into a single HTML page: images are embedded as base64 data URIs, the CSS and a small
table sorter are inline, and a Content-Security-Policy allows nothing else (no network request can
leave the page). Every section is optional: a stage that was not run renders a short note.

Numbers are rounded for display only (``style.format_display_number`` / ``format_display_pvalue``);
each numeric cell keeps the full value from the TSV in ``data-value`` and ``title``. Every text is
HTML-escaped. Nothing in the page depends on the time except the date shown (``SOURCE_DATE_EPOCH``
when set), so the same inputs give the same bytes.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import html
import json
import math
import os
import re
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
import yaml

from . import style
from .tables import read_tsv

SECTIONS = (
    ("cohort", "Cohort"),
    ("efficacy", "Efficacy"),
    ("safety", "Safety"),
    ("differential", "Differential"),
    ("enrichment", "Enrichment"),
    ("survival", "Survival screens"),
    ("models", "Models"),
    ("biomarkers", "Biomarkers"),
    ("provenance", "Provenance"),
)

# Distributions whose versions the provenance lists (importlib.metadata names).
SOFTWARE = ("snakemake", "pandas", "numpy", "scipy", "anndata", "mudata", "scanpy", "scikit-learn",
            "statsmodels", "pydeseq2", "gseapy", "lifelines", "scikit-survival", "inmoose", "matplotlib")

# Columns holding identifiers or labels: never formatted as numbers (patient "007" stays "007").
IDENTIFIER_COLUMNS = {"patient_id", "sample_id", "feature", "gene", "gene_set", "term", "model",
                      "modality", "endpoint", "contrast", "collection", "batch", "path", "sha256"}
PVALUE_COLUMN = re.compile(r"(^|_)(p|pvalue|p_value|padj|fdr|qvalue|q)$")
NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$|^[+-]?(inf|Infinity)$|^(nan|NaN)$")
INTEGER = re.compile(r"^[+-]?\d+$")
# An integer written with a leading zero is an identifier, not a number.
LEADING_ZERO = re.compile(r"^[+-]?0\d")
MAX_TEXT = 80

# Columns of the per-analysis tables shown in the page, in this order, when present.
DIFFERENTIAL_COLUMNS = ("feature", "effect", "effect_shrunk", "odds_ratio", "ci_low", "ci_high", "stat",
                        "pvalue", "padj", "mean_reference", "mean_target", "altered_reference",
                        "altered_target", "n_reference", "n_target")
ENRICHMENT_COLUMNS = ("gene_set", "collection", "size", "es", "nes", "pvalue", "fdr", "leading_edge")
SURVIVAL_COLUMNS = ("feature", "hr", "ci_low", "ci_high", "pvalue", "padj", "scale", "n", "n_events")
PERFORMANCE_COLUMNS = ("model", "metric", "estimate", "ci_low", "ci_high", "permutation_p", "n_patients",
                       "n_events", "n_positive", "n_features", "note")
# Settings shared by an endpoint's models, quoted once above its table.
PERFORMANCE_SETTINGS = ("outer_cv", "n_splits", "repeats", "n_permutations", "n_bootstrap")
STABILITY_COLUMNS = ("model", "modality", "feature", "selection_frequency", "times_selected",
                     "mean_coefficient_sign", "selected")
COHORT_LABEL_COLUMNS = ("bor", "responder", "clinical_benefit", "pfs_months", "pfs_event", "os_months",
                        "os_event", "best_pct_change")
FIGURE_ORDER = ("waterfall", "swimmer", "spider", "km_pfs", "km_os", "volcano", "ma", "heatmap", "tmb",
                "oncoprint", "dots", "running", "pca_by_response", "pca_by_batch", "correlation")
EFFICACY_LABELS = {
    "ORR": "Objective response rate (ORR)",
    "DCR": "Disease control rate (DCR)",
    "CBR": "Clinical benefit rate (CBR)",
    "median_PFS": "Median progression-free survival",
    "median_OS": "Median overall survival",
    "median_follow_up": "Median follow-up",
    "n_evaluable": "Patients evaluable for response",
}


# ----------------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Table:
    """A rule output table: its path relative to the results directory and its content."""

    path: str
    frame: pd.DataFrame


@dataclass(frozen=True)
class Figure:
    """A rule output PNG: its path relative to the results directory and its bytes."""

    path: str
    png: bytes

    @property
    def name(self) -> str:
        """The figure's kind: the last dot-separated part of the file name before ``.png``."""
        return PurePosixPath(self.path).stem.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class Provenance:
    """How the results were made: config, input checksums, software, seed, date and command."""

    config: dict
    checksums: pd.DataFrame
    versions: dict
    seed: int | None
    date: str
    command: str


@dataclass
class SummaryInputs:
    """Everything the page shows; every part may be missing (``None`` or empty)."""

    coverage: Table | None = None
    labels: Table | None = None
    outliers: dict[str, Table] = field(default_factory=dict)
    qc_figures: dict[str, list[Figure]] = field(default_factory=dict)
    efficacy: Table | None = None
    adverse_events: Table | None = None
    clinical_figures: list[Figure] = field(default_factory=list)
    differential: dict[tuple[str, str], Table] = field(default_factory=dict)
    differential_figures: dict[tuple[str, str], list[Figure]] = field(default_factory=dict)
    enrichment: dict[tuple[str, str], Table] = field(default_factory=dict)
    enrichment_figures: dict[tuple[str, str], list[Figure]] = field(default_factory=dict)
    survival: dict[tuple[str, str], Table] = field(default_factory=dict)
    performance: dict[str, Table] = field(default_factory=dict)
    stability: dict[str, Table] = field(default_factory=dict)
    model_figures: dict[str, list[Figure]] = field(default_factory=dict)
    ranked: Table | None = None
    recovery: Table | None = None
    cards: dict[int, Figure] = field(default_factory=dict)
    provenance: Provenance | None = None


def results_relative(path: str | os.PathLike, results_dir: str = "results") -> str:
    """``path`` relative to the results directory, with ``/`` separators (how the page names outputs)."""
    parts = PurePosixPath(Path(path).as_posix()).parts
    root = PurePosixPath(Path(results_dir).as_posix()).parts
    if tuple(parts[:len(root)]) == tuple(root):
        parts = parts[len(root):]
    return "/".join(parts)


def _longest_prefix(text: str, names, suffix_required: str = ".") -> str | None:
    """The longest name such that ``text`` starts with ``name + suffix_required``."""
    matches = [n for n in names if text.startswith(f"{n}{suffix_required}")]
    return max(matches, key=len) if matches else None


def _card_rank(path: str) -> int | None:
    match = re.match(r"^(?:rank[_-]?)?0*(\d+)(?:[_.-]|$)", PurePosixPath(path).stem)
    return int(match.group(1)) if match else None


# The figures embedded in the page (by kind, the last dot-separated part of the name), chosen to keep the
# page to a few MB: every clinical figure and card, and one plot per analysis. Every other figure (QC
# correlation heatmaps, MA plots, running scores, Kaplan-Meier grids...) is in Snakemake's report.
PAGE_FIGURES = {"qc": ("pca_by_response",), "differential": ("volcano",), "enrichment": ("dots",),
                "models": ("performance",)}

# SummaryInputs fields holding one table, a dict of tables or figures, or a list of figures.
SINGLE_SLOTS = {"coverage", "labels", "efficacy", "adverse_events", "ranked", "recovery"}
LIST_SLOTS = {"clinical_figures"}


def classify_output(path: str, modalities, contrasts, endpoints) -> tuple[str, object] | None:
    """Where a rule output (path under ``results/``) goes in :class:`SummaryInputs`, or None.

    Returns ``(field, key)``: ``key`` is None for a single table or a list of figures, else the dict
    key ((modality, contrast), (modality, endpoint), endpoint, modality or card rank). Files are
    recognised by the output contract's paths; ``modalities``, ``contrasts`` and ``endpoints`` are the
    configured names (contrast ids may contain dots, so they are matched by name, not split).
    """
    if path == "biomarkers/cards":  # the cards rule writes a directory of PNGs
        return "cards", None
    parts = path.split("/")
    stage, name = parts[0], parts[-1]
    is_png, is_tsv = name.endswith(".png"), name.endswith(".tsv")
    if not (is_png or is_tsv):
        return None
    if stage == "clinical" and len(parts) == 2:
        single = {"efficacy.tsv": "efficacy", "adverse_events.tsv": "adverse_events", "labels.tsv": "labels"}
        if name in single:
            return single[name], None
        return ("clinical_figures", None) if is_png else None
    if path == "cohort/coverage.tsv":
        return "coverage", None
    if stage == "qc" and len(parts) == 3 and parts[1] in modalities:
        if name == "outliers.tsv":
            return "outliers", parts[1]
        return ("qc_figures", parts[1]) if name[:-len(".png")] in PAGE_FIGURES["qc"] else None
    if stage in ("differential", "enrichment") and len(parts) >= 3 and parts[1] in modalities:
        suffix = ".tsv" if stage == "differential" else ".prerank.tsv"
        if len(parts) == 3 and name.endswith(suffix) and name[:-len(suffix)] in contrasts:
            return stage, (parts[1], name[:-len(suffix)])
        if len(parts) == 4 and parts[2] == "plots" and is_png:
            contrast = _longest_prefix(name, contrasts)
            if contrast is not None and name[len(contrast) + 1:-len(".png")] in PAGE_FIGURES[stage]:
                return f"{stage}_figures", (parts[1], contrast)
        return None
    if stage == "survival" and len(parts) == 3 and parts[1] in [*modalities, "pathways"]:
        endpoint = name[:-len(".univariate.tsv")] if name.endswith(".univariate.tsv") else None
        return ("survival", (parts[1], endpoint)) if endpoint in endpoints else None
    if stage == "models" and len(parts) >= 3 and parts[1] in endpoints:
        if len(parts) == 3 and name in ("performance.tsv", "stability.tsv"):
            return name[:-len(".tsv")], parts[1]
        if parts[-2] == "plots" and is_png and name[:-len(".png")] in PAGE_FIGURES["models"]:
            return "model_figures", parts[1]
        return None
    if path == "biomarkers/ranked.tsv":
        return "ranked", None
    if path == "biomarkers/recovery.tsv":
        return "recovery", None
    if stage == "biomarkers" and len(parts) == 3 and parts[1] == "cards" and is_png:
        rank = _card_rank(name)
        return ("cards", rank) if rank is not None else None
    return None


def read_summary_inputs(paths, modalities, contrasts, endpoints, results_dir: str = "results",
                        provenance: Provenance | None = None) -> SummaryInputs:
    """Read the stage outputs among ``paths`` (see :func:`classify_output`) into :class:`SummaryInputs`.

    A directory stands for the PNG files in it. Files are read in path order, so figure lists are in a
    stable order; other files are ignored.
    """
    inputs = SummaryInputs(provenance=provenance)
    files = set()
    for path in map(Path, paths):
        files.update(sorted(path.glob("*.png")) if path.is_dir() else [path])
    for path in sorted(str(p) for p in files):
        rel = results_relative(path, results_dir)
        slot = classify_output(rel, modalities, contrasts, endpoints)
        if slot is None:
            continue
        name, key = slot
        content = Table(rel, read_tsv(path)) if rel.endswith(".tsv") else Figure(rel, Path(path).read_bytes())
        if name in SINGLE_SLOTS:
            setattr(inputs, name, content)
        elif name in LIST_SLOTS:
            getattr(inputs, name).append(content)
        elif name in ("qc_figures", "differential_figures", "enrichment_figures", "model_figures"):
            getattr(inputs, name).setdefault(key, []).append(content)
        else:
            getattr(inputs, name)[key] = content
    return inputs


# ------------------------------------------------------------------------------- provenance


def sha256_of_file(path: str | os.PathLike) -> str:
    """The SHA-256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def display_path(path: str | os.PathLike, working_dir: str | os.PathLike) -> str:
    """``path`` relative to the working directory (``/`` separators), so the page holds no absolute path."""
    absolute = Path(path) if Path(path).is_absolute() else Path(working_dir) / path
    return Path(os.path.relpath(os.path.normpath(absolute), os.path.normpath(working_dir))).as_posix()


def checksum_table(paths, working_dir: str | os.PathLike) -> pd.DataFrame:
    """``path`` (relative to the working directory), ``bytes`` and ``sha256`` of each distinct file."""
    rows = {}
    for path in paths:
        shown = display_path(path, working_dir)
        if shown not in rows:
            absolute = Path(path) if Path(path).is_absolute() else Path(working_dir) / path
            rows[shown] = {"path": shown, "bytes": absolute.stat().st_size, "sha256": sha256_of_file(absolute)}
    return pd.DataFrame([rows[k] for k in sorted(rows)], columns=["path", "bytes", "sha256"])


def software_versions(distributions=SOFTWARE) -> dict[str, str]:
    """``python`` and each distribution's installed version ("not installed" when absent)."""
    import platform

    versions = {"python": platform.python_version()}
    for name in distributions:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def report_date(environ) -> str:
    """The page's date (ISO, UTC): from ``SOURCE_DATE_EPOCH`` when set (reproducible builds), else today."""
    epoch = environ.get("SOURCE_DATE_EPOCH", "")
    moment = (dt.datetime.fromtimestamp(int(epoch), tz=dt.timezone.utc) if epoch.strip()
              else dt.datetime.now(tz=dt.timezone.utc))
    return moment.date().isoformat()


def display_config(config, working_dir: str | os.PathLike):
    """A copy of ``config`` with every absolute path that exists shown relative to the working directory."""
    if isinstance(config, dict):
        return {key: display_config(value, working_dir) for key, value in config.items()}
    if isinstance(config, (list, tuple)):
        return [display_config(value, working_dir) for value in config]
    if isinstance(config, str) and os.path.isabs(config) and os.path.exists(config):
        return display_path(config, working_dir)
    return config


def reproduce_command(snakefile: str, configfiles=(), cores: str = "all") -> str:
    """The command that reruns the workflow from the working directory."""
    words = ["snakemake", "--snakefile", snakefile]
    for configfile in configfiles:
        words += ["--configfile", configfile]
    words += ["--cores", str(cores)]
    return " ".join(_shell_quote(w) for w in words)


def _shell_quote(word: str) -> str:
    return word if re.fullmatch(r"[A-Za-z0-9_./:=@%+-]+", word) else "'" + word.replace("'", "'\"'\"'") + "'"


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


def _text_of(value) -> str:
    """A cell value as the text a TSV holds ("" for missing; floats in round-trip form)."""
    if value is None or value is pd.NA:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (float, np.floating)):
        return "" if math.isnan(value) else repr(float(value))
    return str(value)


def _as_float(text: str) -> float:
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
    value = _as_float(text)
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
    texts = {c: [_text_of(v) for v in frame[c].tolist()] for c in names}
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


def render_table(table_id: str, columns: list[str], rows: list[list[Cell]], caption: str | None = None) -> str:
    """A sortable table (click a header to sort; numeric cells sort by value, empty cells last)."""
    head = "".join(f'<th scope="col">{esc(c)}</th>' for c in columns)
    body = "\n".join("<tr>" + "".join(_cell_html(c) for c in row) + "</tr>" for row in rows)
    caption_html = f"<caption>{esc(caption)}</caption>" if caption else ""
    return (f'<div class="table-wrap"><table class="sortable" id="{esc(table_id)}">{caption_html}'
            f"<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody></table></div>")


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


def _numeric(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame:
        return pd.Series(math.nan, index=frame.index)
    return pd.to_numeric(frame[column].replace("", math.nan), errors="coerce")


def top_rows(frame: pd.DataFrame, n: int, by=("padj", "pvalue"), ascending: bool = True) -> pd.DataFrame:
    """The ``n`` first rows ordered by the numeric columns ``by`` (missing values last, ties stable)."""
    keys = pd.DataFrame({f"_key{i}": _numeric(frame, c) for i, c in enumerate(by)})
    order = keys.sort_values(list(keys.columns), ascending=ascending, kind="mergesort",
                             na_position="last").index
    return frame.loc[order].head(n)


def _first_value(frame: pd.DataFrame, column: str) -> str:
    if column not in frame or frame.empty:
        return ""
    values = [v for v in frame[column].astype(str) if v]
    return values[0] if values else ""


def _count_below(frame: pd.DataFrame, column: str, threshold: float) -> int:
    return int((_numeric(frame, column) < threshold).sum())


# ---------------------------------------------------------------------------------- sections


def cohort_section(inputs: SummaryInputs) -> str:
    """Patients, the modalities each has, their response and survival labels, and QC flags."""
    if inputs.coverage is None and inputs.labels is None:
        return not_run("no cohort coverage or clinical labels were given")
    parts = []
    if inputs.coverage is not None:
        # n_modalities is left out: the yes/no columns show it and the table stays one screen wide.
        cohort = inputs.coverage.frame.drop(columns=["n_modalities"], errors="ignore")
        modality_columns = [c for c in cohort.columns if c != "patient_id"]
    else:
        cohort = inputs.labels.frame[["patient_id"]].copy()
        modality_columns = []
    if inputs.labels is not None:
        labels = inputs.labels.frame
        keep = ["patient_id", *[c for c in COHORT_LABEL_COLUMNS if c in labels]]
        cohort = cohort.merge(labels[keep], on="patient_id", how="left").fillna("")
    flagged_parts = [_flagged(t.frame).assign(modality=m) for m, t in sorted(inputs.outliers.items())]
    flagged = (pd.concat(flagged_parts, ignore_index=True) if flagged_parts
               else pd.DataFrame(columns=["modality", "sample_id", "patient_id", "reason"]))
    modalities_flagged = flagged.groupby("patient_id", sort=False)["modality"].agg(lambda m: "; ".join(m))
    cohort["qc_flags"] = [modalities_flagged.get(str(p), "") for p in cohort["patient_id"]]
    n_patients = len(cohort)
    summary = [f"{n_patients} patients"]
    for modality in modality_columns:
        summary.append(f"{modality}: {int((cohort[modality].astype(str) == 'yes').sum())}")
    if "bor" in cohort:
        counts = cohort["bor"].astype(str).value_counts()
        summary.append("best overall response " + ", ".join(
            f"{level} {int(counts[level])}" for level in style.RESPONSE_ORDER if level in counts))
    parts.append(f'<p class="lead">{esc("; ".join(summary))}.</p>')
    names, rows = frame_cells(cohort)
    for row in rows:
        for column, cell in zip(names, row):
            if column in modality_columns and cell.text in ("yes", "no"):
                row[names.index(column)] = Cell(cell.text, css=f"has-{cell.text}")
    # A censored time carries a "+", as papers print it, so the event columns need no space of their own.
    for time_column, event_column in (("pfs_months", "pfs_event"), ("os_months", "os_event")):
        if time_column in names and event_column in names:
            at, event_at = names.index(time_column), names.index(event_column)
            for row in rows:
                time, event = row[at], row[event_at]
                if time.text and event.text == "0":
                    row[at] = Cell(time.text + "+", full=f"{time.full}; censored", sort=time.sort)
            names.pop(event_at)
            for row in rows:
                row.pop(event_at)
    sources = [t.path for t in (inputs.coverage, inputs.labels) if t is not None]
    sources += [t.path for _, t in sorted(inputs.outliers.items())]
    parts.append(render_table("coverage-table", names, rows,
                              caption="Patients: data per modality, labels (+: censored) and the modalities "
                                      "with a QC flag"))
    parts.append(_sources(sources))
    if inputs.outliers:
        if flagged.empty:
            parts.append("<p>No sample was flagged by QC.</p>")
        else:
            parts.append(frame_table("qc-flags-table", flagged, ["patient_id", "modality", "sample_id", "reason"],
                                     caption="Samples flagged by QC"))
    if inputs.outliers or inputs.qc_figures:
        qc_parts = []
        for modality in sorted(set(inputs.outliers) | set(inputs.qc_figures)):
            table = inputs.outliers.get(modality)
            line = ""
            if table is not None:
                n_flagged = len(_flagged(table.frame))
                line = f"<p>{esc(f'{len(table.frame)} samples, {n_flagged} flagged as outliers.')}</p>"
            qc_parts.append(f'<details><summary>QC: {esc(modality)}</summary>{line}'
                            f"{figures_html(inputs.qc_figures.get(modality, []))}</details>")
        parts.append(f'<h3 id="qc">Quality control</h3>{"".join(qc_parts)}')
    return "\n".join(parts)


def _flagged(outliers: pd.DataFrame) -> pd.DataFrame:
    """The rows of a QC outlier table flagged ``outlier == yes``."""
    if "outlier" not in outliers:
        return outliers.iloc[0:0]
    return outliers[outliers["outlier"].astype(str) == "yes"]


def _sources(paths) -> str:
    paths = [p for p in paths if p]
    if not paths:
        return ""
    return f'<p class="sources">Source: {", ".join(source_link(p) for p in paths)}</p>'


def _estimate_text(row: pd.Series) -> tuple[str, float | None]:
    unit = str(row.get("unit", ""))
    estimate, low, high = (_text_of(row.get(c, "")) for c in ("estimate", "ci_low", "ci_high"))
    if estimate == "":
        return "not estimable", None
    value = _as_float(estimate)

    def shown(text: str) -> str:
        if unit == "proportion":
            return f"{100 * _as_float(text):.1f}"
        return style.format_display_number(_as_float(text))

    if unit == "proportion":
        main = f"{shown(estimate)}%"
    elif unit == "patients":
        main = str(int(value)) if value.is_integer() else shown(estimate)
    else:
        main = f"{shown(estimate)} {unit}".strip()
    if low != "" or high != "":
        interval = f"{shown(low) if low else 'NR'}–{shown(high) if high else 'NR'}"
        main += f" (95% CI {interval}{'%' if unit == 'proportion' else ''})"
    return main, value


def efficacy_section(inputs: SummaryInputs) -> str:
    """The efficacy table as a paper prints it, with the response and survival figures."""
    if inputs.efficacy is None and not inputs.clinical_figures:
        return not_run("no efficacy table or clinical figures were given")
    parts = []
    if inputs.efficacy is not None:
        columns = ["endpoint", "estimate (95% CI)", "responders / events", "n", "method", "note"]
        rows = []
        for _, row in inputs.efficacy.frame.iterrows():
            endpoint = str(row["endpoint"])
            label = EFFICACY_LABELS.get(endpoint)
            if label is None:
                rate = re.fullmatch(r"(PFS|OS)_(.+)m", endpoint)
                label = f"{rate.group(1)} rate at {rate.group(2)} months" if rate else endpoint
            text, value = _estimate_text(row)
            full = "; ".join(f"{c}={_text_of(row.get(c, ''))}" for c in ("estimate", "ci_low", "ci_high")
                             if _text_of(row.get(c, "")) != "")
            rows.append([Cell(label, full=endpoint), Cell(text, full=full or None, sort=value),
                         number_cell(_text_of(row.get("count", "")), integer=True),
                         number_cell(_text_of(row.get("n", "")), integer=True),
                         text_cell(_text_of(row.get("method", ""))), text_cell(_text_of(row.get("note", "")))])
        parts.append(render_table("efficacy-table", columns, rows,
                                  caption="Response (evaluable patients) and survival, with 95% confidence intervals"))
        parts.append(_sources([inputs.efficacy.path]))
    parts.append(figures_html(inputs.clinical_figures))
    return "\n".join(parts)


def _n_percent(row: pd.Series, name: str) -> Cell:
    n, pct = _text_of(row.get(f"{name}_n", "")), _text_of(row.get(f"{name}_pct", ""))
    if n == "":
        return Cell("")
    shown = f"{n} ({_as_float(pct):.1f}%)" if pct != "" else n
    return Cell(shown, full=f"n={n}; pct={pct}" if pct else n, sort=_as_float(n))


def safety_section(inputs: SummaryInputs) -> str:
    """Treatment-emergent adverse events by term, n (%) of treated patients."""
    if inputs.adverse_events is None:
        return not_run("no adverse-event table was given")
    frame = inputs.adverse_events.frame
    if frame.empty:
        return (f"<p>No adverse-event data were provided.</p>{_sources([inputs.adverse_events.path])}")
    columns = ["term", "any grade, n (%)", "grade ≥3, n (%)", "related, any grade, n (%)",
               "related, grade ≥3, n (%)"]
    rows = [[text_cell(str(row["term"])), _n_percent(row, "any_grade"), _n_percent(row, "grade3plus"),
             _n_percent(row, "related_any"), _n_percent(row, "related_grade3plus")]
            for _, row in frame.iterrows()]
    return "\n".join([
        render_table("safety-table", columns, rows,
                     caption="Treatment-emergent adverse events (patients counted once per term, at their "
                             "worst grade; % of treated patients)"),
        _sources([inputs.adverse_events.path])])


def _analysis_blocks(section_id: str, tables: dict, figures: dict, columns, n: int, alpha: float,
                     by: tuple, q_column: str) -> str:
    """One block per analysis key: counts below ``alpha``, the effect's meaning, the top rows, the plots."""
    keys = sorted(set(tables) | set(figures))
    blocks = []
    for key in keys:
        block_id = slug(section_id, *key)
        heading = f'<h3 id="{esc(block_id)}">{esc(" · ".join(key))}</h3>'
        table = tables.get(key)
        body = []
        if table is not None:
            frame = table.frame
            body.append(f"<p>{len(frame)} tested; {_count_below(frame, q_column, alpha)} with "
                        f"{esc(q_column)} &lt; {alpha:g}.</p>")
            for meta in ("effect_type", "family"):
                value = _first_value(frame, meta)
                if value:
                    body.append(f'<p class="meta">{esc(meta.replace("_", " "))}: {esc(value)}</p>')
            shown = top_rows(frame, n, by=by)
            body.append(frame_table(f"{block_id}-table", shown, columns,
                                    caption=f"Top {len(shown)} of {len(frame)} by {', '.join(by)}"))
            body.append(_sources([table.path]))
        body.append(figures_html(figures.get(key, [])))
        blocks.append(heading + "\n".join(body))
    return "\n".join(blocks)


def differential_section(inputs: SummaryInputs, top: int = 15, alpha: float = 0.05) -> str:
    """Per modality and contrast: the top differential features and the plots."""
    if not inputs.differential and not inputs.differential_figures:
        return not_run("no differential tables were given")
    return _analysis_blocks("differential", inputs.differential, inputs.differential_figures,
                            DIFFERENTIAL_COLUMNS, top, alpha, ("padj", "pvalue"), "padj")


def enrichment_section(inputs: SummaryInputs, top: int = 15, fdr: float = 0.25) -> str:
    """Per modality and contrast: the top preranked gene sets (long leading edges shortened for
    display, whole in the cell's title) and the dot plot."""
    if not inputs.enrichment and not inputs.enrichment_figures:
        return not_run("no enrichment tables were given")
    return _analysis_blocks("enrichment", inputs.enrichment, inputs.enrichment_figures, ENRICHMENT_COLUMNS, top,
                            fdr, ("fdr", "pvalue"), "fdr")


def survival_section(inputs: SummaryInputs, top: int = 15, alpha: float = 0.05) -> str:
    """Per modality and endpoint: the top univariate Cox associations (plots are in Snakemake's report)."""
    if not inputs.survival:
        return not_run("no univariate survival screens were given")
    return _analysis_blocks("survival", inputs.survival, {}, SURVIVAL_COLUMNS, top,
                            alpha, ("padj", "pvalue"), "padj")


def _interval_cell(row: pd.Series) -> Cell:
    estimate = _text_of(row.get("estimate", ""))
    if estimate == "":
        return Cell("not evaluated")
    low, high = _text_of(row.get("ci_low", "")), _text_of(row.get("ci_high", ""))
    shown = style.format_display_number(_as_float(estimate))
    if low != "" and high != "":
        shown += (f" ({style.format_display_number(_as_float(low))}–"
                  f"{style.format_display_number(_as_float(high))})")
    return Cell(shown, full=f"estimate={estimate}; ci_low={low}; ci_high={high}", sort=_as_float(estimate))


def models_section(inputs: SummaryInputs, top: int = 15) -> str:
    """Per endpoint: out-of-fold performance with intervals and permutation p, stability selection."""
    endpoints = sorted(set(inputs.performance) | set(inputs.stability) | set(inputs.model_figures))
    if not endpoints:
        return not_run("no model performance or stability tables were given")
    blocks = []
    for endpoint in endpoints:
        block_id = slug("models", endpoint)
        body = [f'<h3 id="{esc(block_id)}">{esc(endpoint)}</h3>']
        performance = inputs.performance.get(endpoint)
        if performance is not None:
            frame = performance.frame
            settings = [f"{c.replace('_', ' ')} {_first_value(frame, c)}" for c in PERFORMANCE_SETTINGS
                        if _first_value(frame, c)]
            if settings:
                body.append(f'<p class="meta">{esc("; ".join(settings))}</p>')
            # Columns empty for every model (events of a binary endpoint...) are left out.
            columns = [c for c in PERFORMANCE_COLUMNS if c not in ("estimate", "ci_low", "ci_high")
                       and c in frame and (frame[c].astype(str) != "").any()]
            names, rows = frame_cells(frame, columns)
            at = names.index("metric") + 1 if "metric" in names else len(names)
            names.insert(at, "out-of-fold estimate (95% CI)")
            for row, (_, source) in zip(rows, frame.iterrows()):
                row.insert(at, _interval_cell(source))
            body.append(render_table(f"{block_id}-performance", names, rows,
                                     caption="Out-of-fold performance; permutation_p: share of label "
                                             "permutations scoring at least as well"))
            body.append(_sources([performance.path]))
        stability = inputs.stability.get(endpoint)
        if stability is not None:
            shown = top_rows(stability.frame, top, by=("selection_frequency",), ascending=False)
            body.append(frame_table(f"{block_id}-stability", shown, STABILITY_COLUMNS,
                                    caption=f"Stability selection: top {len(shown)} of "
                                            f"{len(stability.frame)} by selection frequency"))
            body.append(_sources([stability.path]))
        body.append(figures_html(inputs.model_figures.get(endpoint, [])))
        blocks.append("\n".join(body))
    return "\n".join(blocks)


def _present(value) -> bool:
    text = _text_of(value)
    if text in ("", "0", "0.0"):
        return False
    return not (NUMBER.match(text) and math.isnan(_as_float(text)))


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
        return f"<p>No candidates were ranked.</p>{_sources([inputs.ranked.path])}"
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
             _sources([inputs.ranked.path])]
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
            values = [(str(c), _text_of(v)) for c, v in candidate.items() if _text_of(v) != ""]
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
            number = _as_float(_text_of(value))
            rows.append([Cell(label), Cell(style.format_display_number(number), full=_text_of(value), sort=number)])
    return ('<h3 id="recovery">Recovery of the planted biomarkers</h3><p>This cohort is simulated with a table '
            "of planted biomarkers (ranking.truth): the fractions below score the ranking against it.</p>"
            + render_table("recovery-table", ["measure", "fraction"], rows, caption="Recovery of planted biomarkers")
            + _sources([recovery.path]))


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
    values = {c: _as_float(_text_of(candidate[c])) for c in columns
              if NUMBER.match(_text_of(candidate[c])) and not math.isnan(_as_float(_text_of(candidate[c])))}
    if not values:
        return Cell("")
    column = (min if lowest else max)(values, key=lambda c: values[c])
    value = values[column]
    shown = style.format_display_pvalue(value) if lowest else style.format_display_number(value)
    return Cell(f"{shown} {columns[column]}", full=f"{column}={_text_of(candidate[column])}", sort=value)


def _evidence_label(column: str) -> str:
    """What an evidence column of ranked.tsv is about: a contrast, ``Cox <endpoint>`` or an endpoint."""
    for pattern, label in ((r"diff_(.+)_padj", "{}"), (r"cox_(.+)_padj", "Cox {}"),
                           (r"stability_([a-z_]+)", "{}")):
        match = re.fullmatch(pattern, column)
        if match:
            return label.format(match.group(1).replace("_", " "))
    return column


def _rank_of(value) -> int | None:
    text = _text_of(value)
    return int(text) if INTEGER.match(text) else None


def _display_value(column: str, text: str) -> str:
    if NUMBER.match(text) and not LEADING_ZERO.match(text) and column not in IDENTIFIER_COLUMNS:
        if INTEGER.match(text):
            return text
        value = _as_float(text)
        return style.format_display_pvalue(value) if is_pvalue_column(column) else style.format_display_number(value)
    return text


def _full_attr(text: str) -> str:
    return f' title="{esc(text)}" data-value="{esc(text)}"'


def provenance_section(inputs: SummaryInputs) -> str:
    """Config, input checksums, software versions, seed, date and the command to reproduce."""
    prov = inputs.provenance
    if prov is None:
        return not_run("no provenance was given")
    config_yaml = yaml.safe_dump(json.loads(json.dumps(prov.config, default=str)), sort_keys=False,
                                 default_flow_style=False, allow_unicode=True)
    versions = pd.DataFrame(sorted(prov.versions.items(), key=lambda kv: (kv[0] != "python", kv[0])),
                            columns=["software", "version"])
    return "\n".join([
        f'<dl class="facts"><dt>date</dt><dd>{esc(prov.date)}</dd>'
        f'<dt>seed</dt><dd>{esc("" if prov.seed is None else prov.seed)}</dd></dl>',
        "<h3 id=\"provenance-command\">Command to reproduce</h3>",
        "<p>Run from the working directory (the folder holding <code>results/</code>); paths are "
        "relative to it.</p>",
        f"<pre><code>{esc(prov.command)}</code></pre>",
        '<h3 id="provenance-config">Configuration used</h3>',
        f"<pre><code>{esc(config_yaml)}</code></pre>",
        '<h3 id="provenance-checksums">Input files</h3>',
        frame_table("checksums-table", prov.checksums, caption="SHA-256 of every input file"),
        '<h3 id="provenance-software">Software</h3>',
        frame_table("software-table", versions, caption="Versions in the environment that built this page"),
    ])


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
table.sortable td.evidence { font-size: 12px; white-space: nowrap; text-align: left; }
td.evidence ul { margin: 2px 0; padding-left: 16px; }
td.evidence summary { font-weight: normal; color: #0b57d0; }
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
.card-details dl, dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px;
                             font-size: 12px; margin: 0; }
.card-details dt, dl.facts dt { color: #555; }
.card-details dd, dl.facts dd { margin: 0; word-break: break-word; }
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
                       title: str = "trialomics summary") -> str:
    """The whole self-contained page (``<!DOCTYPE html>`` ...) as text.

    Parameters
    ----------
    inputs : what to show; a missing part renders a "Not run" note in its section.
    top_features : rows shown per differential / enrichment / survival / stability table.
    top_biomarkers : ranked candidates shown (the TSV has them all).
    alpha, enrichment_fdr : thresholds quoted in the "n tested; n below" lines.
    """
    bodies = {
        "cohort": cohort_section(inputs),
        "efficacy": efficacy_section(inputs),
        "safety": safety_section(inputs),
        "differential": differential_section(inputs, top=top_features, alpha=alpha),
        "enrichment": enrichment_section(inputs, top=top_features, fdr=enrichment_fdr),
        "survival": survival_section(inputs, top=top_features, alpha=alpha),
        "models": models_section(inputs, top=top_features),
        "biomarkers": biomarkers_section(inputs, top=top_biomarkers),
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
               "its full precision, click a column header to sort)."
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

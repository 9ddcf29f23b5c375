"""The stage sections of the summary page: cohort, efficacy, safety, differential, enrichment, survival
screens, models and provenance (the biomarkers and the headline have their own modules)."""
from __future__ import annotations

import json
import re

import pandas as pd
import yaml

from . import style
from .report import SummaryInputs, Table
from .report_html import (Cell, as_float, count_below, esc, figures_html, first_value, frame_cells,
                          frame_table, not_run, number_cell, render_table, slug, sources_html, text_cell,
                          text_of, top_rows)

# Columns of the per-analysis tables shown in the page, in this order, when present.
DIFFERENTIAL_COLUMNS = ("feature", "effect", "effect_shrunk", "odds_ratio", "ci_low", "ci_high", "stat",
                        "pvalue", "padj", "mean_reference", "mean_target", "altered_reference",
                        "altered_target", "n_reference", "n_target")
ENRICHMENT_COLUMNS = ("gene_set", "collection", "size", "es", "nes", "pvalue", "fdr", "leading_edge")
SURVIVAL_COLUMNS = ("feature", "hr", "ci_low", "ci_high", "pvalue", "padj", "method", "pvalue_method", "separation",
                    "scale", "n", "n_events", "note")
PERFORMANCE_COLUMNS = ("model", "metric", "estimate", "ci_low", "ci_high", "permutation_p", "n_patients",
                       "n_events", "n_positive", "n_features", "note")
# Settings shared by an endpoint's models, quoted once above its table.
PERFORMANCE_SETTINGS = ("outer_cv", "n_splits", "repeats", "n_permutations", "interval", "permutation_scheme")
STABILITY_COLUMNS = ("model", "modality", "feature", "selection_frequency", "times_selected",
                     "mean_coefficient_sign", "selected")
# Every kind of p-value and q-value the page shows, defined once: the column tooltips and the biomarkers'
# "how to read this" box quote these texts.
PVALUE_DEFINITIONS = {
    "screen p / q": "pvalue and padj of one feature's univariate test (differential test of a contrast; Cox "
                    "screen of PFS / OS, exact or permutation log-rank p for sparse alterations), q by "
                    "Benjamini-Hochberg within one modality and one endpoint or contrast. Not corrected across "
                    "modalities or endpoints: evidence that orders the candidates, never a claim by itself.",
    "calibrated p": "Family-wise p of a candidate's evidence for one endpoint: Westfall-Young step-down max-T "
                    "over every feature of every modality of that endpoint, from whole-chain joint "
                    "permutations of the patients' outcome rows (the smallest possible value is "
                    "1 / (permutations + 1)).",
    "calibrated q": "Permutation false discovery rate at the candidate's statistic over the same family and "
                    "permutations as the calibrated p.",
    "model permutation p": "Share of permutations (of the outcome labels; of the omics rows when the model has "
                           "covariates) on which the model's out-of-fold metric is at least as good as on the "
                           "data, counting the data itself: p for one model, not corrected for the several "
                           "models of an endpoint.",
    "enrichment p / FDR": "Preranked gene-set test of one contrast (gene-set permutations) and its FDR over the "
                          "gene sets of that contrast.",
    "batch association p / q": "Test of one modality's batch against one endpoint (Fisher's exact test for "
                               "binary endpoints, permutation log-rank test across batches for PFS / OS) and "
                               "its Benjamini-Hochberg q over the batch table.",
}
# Column tooltips of the per-analysis tables, by section.
COLUMN_DEFINITIONS = {
    "differential": {"pvalue": PVALUE_DEFINITIONS["screen p / q"], "padj": PVALUE_DEFINITIONS["screen p / q"]},
    "longitudinal": {"pvalue": PVALUE_DEFINITIONS["screen p / q"], "padj": PVALUE_DEFINITIONS["screen p / q"],
                     "effect": "Difference of the mean within-patient change (on-treatment minus baseline) "
                               "between the contrast's groups."},
    "survival": {"pvalue": PVALUE_DEFINITIONS["screen p / q"], "padj": PVALUE_DEFINITIONS["screen p / q"],
                 "pvalue_method": "How the screen's p was computed (likelihood ratio, or exact / permutation "
                                  "log-rank for a feature with few carriers)."},
    "enrichment": {"pvalue": PVALUE_DEFINITIONS["enrichment p / FDR"], "fdr": PVALUE_DEFINITIONS["enrichment p / FDR"]},
    "models": {"permutation_p": PVALUE_DEFINITIONS["model permutation p"]},
    "batch": {"pvalue": PVALUE_DEFINITIONS["batch association p / q"],
              "padj": PVALUE_DEFINITIONS["batch association p / q"],
              "statistic": "k-sample log-rank chi-square (PFS, OS), or the share of patients with the label "
                           "(binary endpoints).",
              "associated": "yes when padj is below the threshold (models.batch_q)."},
}
BATCH_COLUMNS = ("modality", "endpoint", "n_patients", "n_batches", "test", "statistic", "pvalue", "padj",
                 "associated", "note")
COHORT_LABEL_COLUMNS = ("bor", "responder", "clinical_benefit", "pfs_months", "pfs_event", "os_months",
                        "os_event", "best_pct_change")
EFFICACY_LABELS = {
    "ORR": "Objective response rate (ORR)",
    "DCR": "Disease control rate (DCR)",
    "CBR": "Clinical benefit rate (CBR)",
    "median_PFS": "Median progression-free survival",
    "median_OS": "Median overall survival",
    "median_follow_up": "Median follow-up",
    "n_evaluable": "Patients evaluable for response",
}



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
    for column in modality_columns:
        count = int((cohort[column].astype(str) == 'yes').sum())
        summary.append(f"labels not yet assessable: {count}" if column == "labels_not_yet_assessable"
                       else f"{column}: {count}")
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
    parts.append(sources_html(sources))
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
    if inputs.batch_association is not None:
        parts.append(batch_association_html(inputs.batch_association))
    return "\n".join(parts)


def batch_association_html(table: Table) -> str:
    """Each modality's batch against every endpoint, with the associations named in one line."""
    frame = table.frame
    associated = frame[frame["associated"].astype(str) == "yes"] if "associated" in frame else frame.iloc[0:0]
    threshold = first_value(frame, "threshold")
    if associated.empty:
        lead = f"No modality's batch is associated with an endpoint (q < {threshold or '–'})."
    else:
        pairs = ", ".join(f"{m} / {e}" for m, e in zip(associated["modality"], associated["endpoint"]))
        lead = (f"Batch is associated with the outcome (q < {threshold}): {pairs}. A batch effect there can look "
                "like a biomarker; see models.batch_covariate.")
    names, rows = frame_cells(frame, BATCH_COLUMNS)
    return (f'<h3 id="batch">Batch against outcome</h3><p>{esc(lead)}</p>'
            + render_table("batch-association-table", names, rows,
                           caption="Each modality's batch (baseline samples) tested against every endpoint",
                           definitions=COLUMN_DEFINITIONS["batch"])
            + sources_html([table.path]))


def _flagged(outliers: pd.DataFrame) -> pd.DataFrame:
    """The rows of a QC outlier table flagged ``outlier == yes``."""
    if "outlier" not in outliers:
        return outliers.iloc[0:0]
    return outliers[outliers["outlier"].astype(str) == "yes"]



def _estimate_text(row: pd.Series) -> tuple[str, float | None]:
    unit = str(row.get("unit", ""))
    estimate, low, high = (text_of(row.get(c, "")) for c in ("estimate", "ci_low", "ci_high"))
    if estimate == "":
        return "not estimable", None
    value = as_float(estimate)

    def shown(text: str) -> str:
        if unit == "proportion":
            return f"{100 * as_float(text):.1f}"
        return style.format_display_number(as_float(text))

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
            full = "; ".join(f"{c}={text_of(row.get(c, ''))}" for c in ("estimate", "ci_low", "ci_high")
                             if text_of(row.get(c, "")) != "")
            rows.append([Cell(label, full=endpoint), Cell(text, full=full or None, sort=value),
                         number_cell(text_of(row.get("count", "")), integer=True),
                         number_cell(text_of(row.get("n", "")), integer=True),
                         text_cell(text_of(row.get("method", ""))), text_cell(text_of(row.get("note", "")))])
        parts.append(render_table("efficacy-table", columns, rows,
                                  caption="Response (evaluable patients) and survival, with 95% confidence intervals"))
        parts.append(sources_html([inputs.efficacy.path]))
    parts.append(figures_html(inputs.clinical_figures))
    return "\n".join(parts)


def _n_percent(row: pd.Series, name: str) -> Cell:
    n, pct = text_of(row.get(f"{name}_n", "")), text_of(row.get(f"{name}_pct", ""))
    if n == "":
        return Cell("")
    shown = f"{n} ({as_float(pct):.1f}%)" if pct != "" else n
    return Cell(shown, full=f"n={n}; pct={pct}" if pct else n, sort=as_float(n))


def safety_section(inputs: SummaryInputs) -> str:
    """Treatment-emergent adverse events by term, n (%) of treated patients."""
    if inputs.adverse_events is None:
        return not_run("no adverse-event table was given")
    frame = inputs.adverse_events.frame
    if frame.empty:
        return (f"<p>No adverse-event data were provided.</p>{sources_html([inputs.adverse_events.path])}")
    columns = ["term", "any grade, n (%)", "grade ≥3, n (%)", "related, any grade, n (%)",
               "related, grade ≥3, n (%)"]
    rows = [[text_cell(str(row["term"])), _n_percent(row, "any_grade"), _n_percent(row, "grade3plus"),
             _n_percent(row, "related_any"), _n_percent(row, "related_grade3plus")]
            for _, row in frame.iterrows()]
    return "\n".join([
        render_table("safety-table", columns, rows,
                     caption="Treatment-emergent adverse events (patients counted once per term, at their "
                             "worst grade; % of treated patients)"),
        sources_html([inputs.adverse_events.path])])


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
            body.append(f"<p>{len(frame)} tested; {count_below(frame, q_column, alpha)} with "
                        f"{esc(q_column)} &lt; {alpha:g}.</p>")
            for meta in ("effect_type", "family"):
                value = first_value(frame, meta)
                if value:
                    body.append(f'<p class="meta">{esc(meta.replace("_", " "))}: {esc(value)}</p>')
            shown = top_rows(frame, n, by=by)
            names, rows = frame_cells(shown, columns)
            body.append(render_table(f"{block_id}-table", names, rows,
                                     caption=f"Top {len(shown)} of {len(frame)} by {', '.join(by)}",
                                     definitions=COLUMN_DEFINITIONS.get(section_id)))
            body.append(sources_html([table.path]))
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


def longitudinal_section(inputs: SummaryInputs, top: int = 15, alpha: float = 0.05) -> str:
    """Per change block (on-treatment minus baseline, per patient) and response contrast: the top
    features whose change differs between the groups, and the paired plots of the top features. The
    change blocks' Cox screens are in the survival section, the paired timepoint contrast's
    differential tables in the differential section."""
    if not inputs.longitudinal and not inputs.longitudinal_figures:
        return not_run("no on-treatment change blocks (no patient has samples at two timepoints)")
    return _analysis_blocks("longitudinal", inputs.longitudinal, inputs.longitudinal_figures,
                            DIFFERENTIAL_COLUMNS, top, alpha, ("padj", "pvalue"), "padj")


def _interval_cell(row: pd.Series) -> Cell:
    estimate = text_of(row.get("estimate", ""))
    if estimate == "":
        return Cell("not evaluated")
    low, high = text_of(row.get("ci_low", "")), text_of(row.get("ci_high", ""))
    shown = style.format_display_number(as_float(estimate))
    if low != "" and high != "":
        shown += (f" ({style.format_display_number(as_float(low))}–"
                  f"{style.format_display_number(as_float(high))})")
    return Cell(shown, full=f"estimate={estimate}; ci_low={low}; ci_high={high}", sort=as_float(estimate))


def run_false_selection_bounds(summaries: dict[str, Table]) -> dict[str, float]:
    """The run's expected number of noise features among the stably selected ones: each model's bound
    summed over every model of every endpoint (expectations add, whatever the dependence), worst case
    (Meinshausen & Bühlmann 2010) and under the unimodality assumption of Shah & Samworth (2013)."""
    frames = [table.frame for table in summaries.values()]
    if not frames:
        return {}
    frame = pd.concat(frames, ignore_index=True)
    totals = {"models": float(len(frame))}
    for column in ("expected_false_selections_bound", "expected_false_selections_bound_unimodal"):
        if column in frame:
            totals[column] = float(pd.to_numeric(frame[column], errors="coerce").fillna(0.0).sum())
    return totals


def stability_error_control_html(summaries: dict[str, Table]) -> str:
    """One sentence: the run-level bound on noise features selected by stability selection."""
    totals = run_false_selection_bounds(summaries)
    if not totals.get("models"):
        return ""
    worst = style.format_display_number(totals.get("expected_false_selections_bound", float("nan")))
    text = (f"Stability selection over the run's {int(totals['models'])} models: at most {worst} noise "
            "features are expected among all stably selected features (Meinshausen & Bühlmann's bound, "
            "summed over models)")
    if "expected_false_selections_bound_unimodal" in totals:
        unimodal = style.format_display_number(totals["expected_false_selections_bound_unimodal"])
        text += f", {unimodal} under Shah & Samworth's unimodality assumption (complementary pairs)"
    sources = sources_html([table.path for _, table in sorted(summaries.items())])
    return f'<p class="meta">{esc(text)}. No tier relies on selection frequencies.</p>\n{sources}'


def models_section(inputs: SummaryInputs, top: int = 15) -> str:
    """Per endpoint: out-of-fold performance with intervals and permutation p, stability selection."""
    endpoints = sorted(set(inputs.performance) | set(inputs.stability) | set(inputs.model_figures))
    if not endpoints:
        return not_run("no model performance or stability tables were given")
    blocks = [stability_error_control_html(inputs.stability_summary)]
    for endpoint in endpoints:
        block_id = slug("models", endpoint)
        body = [f'<h3 id="{esc(block_id)}">{esc(endpoint)}</h3>']
        performance = inputs.performance.get(endpoint)
        if performance is not None:
            frame = performance.frame
            settings = [f"{c.replace('_', ' ')} {first_value(frame, c)}" for c in PERFORMANCE_SETTINGS
                        if first_value(frame, c)]
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
                                     caption="Out-of-fold performance; permutation_p: share of "
                                             "permutations scoring at least as well (hover for details)",
                                     definitions=COLUMN_DEFINITIONS["models"]))
            body.append(sources_html([performance.path]))
        stability = inputs.stability.get(endpoint)
        if stability is not None:
            shown = top_rows(stability.frame, top, by=("selection_frequency",), ascending=False)
            body.append(frame_table(f"{block_id}-stability", shown, STABILITY_COLUMNS,
                                    caption=f"Stability selection: top {len(shown)} of "
                                            f"{len(stability.frame)} by selection frequency"))
            body.append(sources_html([stability.path]))
        body.append(figures_html(inputs.model_figures.get(endpoint, [])))
        blocks.append("\n".join(body))
    return "\n".join(blocks)



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



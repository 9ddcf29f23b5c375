"""What the data say: the headline of the summary page, generated from the tables by fixed rules.

Per endpoint (the pre-specified primary endpoint first), :func:`headline_findings` gathers

- the best independent signals whose tier the endpoint earned (``tier_endpoint`` of ``ranked.tsv``:
  one row per signal, the signal's best tier, then its best rank), each with the numbers behind its
  tier, the calibrated ones first: ``calibrated_p`` / ``calibrated_q`` of the endpoint (whole-chain
  permutations, family-wise over every candidate of the endpoint), then the screen's effect (hazard
  ratio with its 95% interval from the survival screen, or the differential effect) with its screen q
  (within one modality), the stability and the permutation p of the model that selected it;
- the endpoint's best model (``models/<endpoint>/performance.tsv``, primary metric: smallest permutation
  p, then highest estimate) with its out-of-fold estimate, interval and permutation p;
- a verdict that never claims more than these numbers:

  * ``strong`` only when a signal of the endpoint has tier strong (the ranking gives it only on the
    primary endpoint);
  * ``supported`` when a signal has tier supported AND the endpoint's best model beats its permutation
    null (p < ``model_p``);
  * otherwise ``none``: "no convincing predictor", with the best model's metric and permutation p.

The tiers themselves are the ranking's (:mod:`trialomics.ranking`); this module only quotes them, their
rules with the configured thresholds (:class:`TierRules`) and their null rates
(``tier_null_rates.tsv``). No uncalibrated p-value is ever the headline number of a signal.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from . import style
from .report import SummaryInputs, Table
from .report_html import esc, figures_html, sources_html

TIER_ORDER = ("strong", "supported", "exploratory")
SURVIVAL_ENDPOINTS = ("pfs", "os")
ENDPOINT_LABELS = {"pfs": "PFS", "os": "OS", "responder": "Response", "clinical_benefit": "Clinical benefit"}
METRIC_LABELS = {"c_index": "C-index", "auc": "AUC"}
# The metric a model is judged by, per kind of endpoint (the models stage's primary metrics).
PRIMARY_METRICS = ("c_index", "auc")
EFFECT_LABELS = {"rna": "log2 fold change", "proteins": "log2 difference", "mutations": "log odds ratio",
                 "copy_number": "log odds ratio"}
SCALE_LABELS = {"per_sd": "per SD", "altered_vs_not": "altered vs not"}


@dataclass(frozen=True)
class TierRules:
    """The ranking's tier rules as configured (``ranking.primary_endpoint``, ``ranking.strong_p``,
    ``ranking.supported_q``) and the permutation p at which the headline counts a model as beating its
    null (``ranking.model_p``)."""

    primary_endpoint: str = "pfs"
    strong_p: float = 0.05
    supported_q: float = 0.25
    model_p: float = 0.05

    def rule_text(self, tier: str) -> str:
        """The rule of ``tier`` in words, with the configured values."""
        primary = endpoint_label(self.primary_endpoint)
        if tier == "strong":
            return (f"the primary endpoint ({primary}) only: calibrated p < {self.strong_p:g}, not flagged for "
                    "separation, and the screen effect and model coefficients agree with the direction of the "
                    "calibrated statistic")
        if tier == "supported":
            return (f"not strong, and (with the same qualifiers) calibrated q < {self.supported_q:g} on "
                    f"{primary}, or calibrated p < {self.strong_p:g} on a secondary endpoint within that "
                    "endpoint's own family")
        return "every other candidate; with about 20 patients most of these are noise"


@dataclass(frozen=True)
class NullRate:
    """How often some candidate reached a tier (or a higher one) on permuted outcomes."""

    rate: float
    runs: int
    permutations: int

    def text(self) -> str:
        """E.g. "4% of permuted runs (4 of 100)"."""
        return f"{self.rate:.0%} of permuted runs ({self.runs} of {self.permutations})"


def null_rates_of(table: Table | None) -> dict[str, NullRate]:
    """Tier -> :class:`NullRate` from ``tier_null_rates.tsv`` (empty when the table is missing)."""
    if table is None or "tier" not in table.frame:
        return {}
    rates = {}
    for _, row in table.frame.iterrows():
        rate, runs, permutations = (_value(row, c) for c in ("null_rate", "runs_reaching", "n_permutations"))
        if not math.isnan(rate):
            rates[str(row["tier"])] = NullRate(rate, 0 if math.isnan(runs) else int(runs),
                                               0 if math.isnan(permutations) else int(permutations))
    return rates


@dataclass(frozen=True)
class ModelEvidence:
    """An endpoint's best model: out-of-fold estimate, interval and permutation p of its primary metric."""

    model: str
    metric: str
    estimate: float
    ci_low: float
    ci_high: float
    permutation_p: float
    n_permutations: float

    @property
    def at_floor(self) -> bool:
        """Whether the permutation p is the smallest the number of permutations allows, 1 / (n + 1)."""
        return (self.n_permutations > 0 and not math.isnan(self.permutation_p)
                and self.permutation_p <= 1.0 / (self.n_permutations + 1) + 1e-12)

    def text(self) -> str:
        """E.g. "out-of-fold C-index 0.840 (95% CI 0.700–0.930; pathways model), permutation p 9.9e-03"."""
        interval = ""
        if not (math.isnan(self.ci_low) or math.isnan(self.ci_high)):
            interval = f"95% CI {_number(self.ci_low)}–{_number(self.ci_high)}; "
        text = (f"out-of-fold {METRIC_LABELS.get(self.metric, self.metric)} {_number(self.estimate)} "
                f"({interval}{self.model} model), permutation p {_p(self.permutation_p)}")
        if self.at_floor:
            text += f" (the smallest possible with {int(self.n_permutations)} permutations)"
        return text


@dataclass(frozen=True)
class SignalFinding:
    """One independent signal for one endpoint: its best candidate and the numbers behind its tier."""

    rank: int
    signal_rank: int | None
    modality: str
    feature: str
    signal_size: int
    tier: str
    endpoint: str
    evidence: tuple[str, ...]
    # For the dot plot: the candidate's calibrated p on the endpoint (NaN when it has none).
    calibrated_p: float = math.nan

    @property
    def name(self) -> str:
        return f"{self.feature} ({self.modality})"


@dataclass(frozen=True)
class EndpointFinding:
    """What the tables say about one endpoint."""

    endpoint: str
    primary: bool
    verdict: str  # strong, supported or none
    sentence: str
    signals: tuple[SignalFinding, ...] = field(default_factory=tuple)
    model: ModelEvidence | None = None


def endpoint_label(endpoint: str) -> str:
    return ENDPOINT_LABELS.get(endpoint, endpoint.replace("_", " "))


def _number(value: float) -> str:
    return style.format_display_number(value)


def _p(value: float) -> str:
    return style.format_display_pvalue(value)


def _value(row: pd.Series, column: str) -> float:
    """A numeric cell of a table read as text (NaN when missing or not a number)."""
    try:
        return float(row.get(column, ""))
    except (TypeError, ValueError):
        return math.nan


def _screen_column(endpoint: str, kind: str) -> str:
    prefix = "cox" if endpoint in SURVIVAL_ENDPOINTS else "diff"
    effect = "hr" if endpoint in SURVIVAL_ENDPOINTS else "effect"
    return f"{prefix}_{endpoint}_{effect if kind == 'effect' else kind}"


def earned_endpoint(candidate: pd.Series) -> str:
    """The endpoint that earned a candidate's tier (``tier_endpoint`` of ranked.tsv); "" when none did."""
    return str(candidate.get("tier_endpoint", "") or "")


def calibrated_values(candidate: pd.Series, endpoint: str) -> tuple[float, float]:
    """A candidate's calibrated (p, q) on ``endpoint``: ``calibrated_<endpoint>_p`` / ``_q``, or the
    ``calibrated_p`` / ``calibrated_q`` of its tier endpoint; NaN when the ranking has none."""
    p, q = _value(candidate, f"calibrated_{endpoint}_p"), _value(candidate, f"calibrated_{endpoint}_q")
    if math.isnan(p) and math.isnan(q) and earned_endpoint(candidate) == endpoint:
        p, q = _value(candidate, "calibrated_p"), _value(candidate, "calibrated_q")
    return p, q


def best_model(performance: pd.DataFrame | None) -> ModelEvidence | None:
    """The evaluated model with the smallest permutation p (then highest estimate) on the primary metric."""
    if performance is None or performance.empty or "metric" not in performance:
        return None
    metrics = [m for m in PRIMARY_METRICS if (performance["metric"].astype(str) == m).any()]
    if not metrics:
        return None
    rows = performance[performance["metric"].astype(str) == metrics[0]]
    evidence = []
    for _, row in rows.iterrows():
        estimate = _value(row, "estimate")
        if math.isnan(estimate):
            continue
        p = _value(row, "permutation_p")
        evidence.append(ModelEvidence(str(row.get("model", "")), metrics[0], estimate, _value(row, "ci_low"),
                                      _value(row, "ci_high"), p, _value(row, "n_permutations")))
    if not evidence:
        return None
    return min(evidence, key=lambda m: (math.isnan(m.permutation_p), np.nan_to_num(m.permutation_p, nan=1.0),
                                        -m.estimate, m.model))


def _screen_row(screens: dict, modality: str, endpoint: str, feature: str) -> pd.Series | None:
    table = screens.get((modality, endpoint))
    if table is None or "feature" not in table:
        return None
    rows = table[table["feature"].astype(str) == feature]
    return rows.iloc[0] if len(rows) else None


def evidence_phrases(candidate: pd.Series, endpoint: str, screens: dict | None = None) -> tuple[str, ...]:
    """The numbers behind a candidate's tier for ``endpoint``, as short phrases (only those the tables hold).

    The calibrated p / q come first: they are the numbers the tiers are built on. The screen's q is
    quoted as such (within one modality and endpoint), never as the headline number.
    ``screens``: (modality, endpoint) -> univariate survival table (for the hazard ratio's interval).
    """
    phrases = []
    calibrated_p, calibrated_q = calibrated_values(candidate, endpoint)
    if not (math.isnan(calibrated_p) and math.isnan(calibrated_q)):
        parts = [f"{name} {_p(v)}" for name, v in (("p", calibrated_p), ("q", calibrated_q)) if not math.isnan(v)]
        phrases.append(f"calibrated {', '.join(parts)} (family-wise over every {endpoint_label(endpoint)} "
                       "candidate, whole-chain permutations)")
    modality, feature = str(candidate.get("modality", "")), str(candidate.get("feature", ""))
    effect = _value(candidate, _screen_column(endpoint, "effect"))
    q = _value(candidate, _screen_column(endpoint, "padj"))
    if not math.isnan(effect):
        if endpoint in SURVIVAL_ENDPOINTS:
            row = _screen_row(screens or {}, modality, endpoint, feature)
            text = f"hazard ratio {_number(effect)}"
            if row is not None:
                scale = SCALE_LABELS.get(str(row.get("scale", "")), "")
                low, high = _value(row, "ci_low"), _value(row, "ci_high")
                text += f" {scale}" if scale else ""
                if not (math.isnan(low) or math.isnan(high)):
                    text += f" (95% CI {_number(low)}–{_number(high)})"
            text += f", {'lower' if effect < 1 else 'higher'} hazard with higher values"
        else:
            text = f"{EFFECT_LABELS.get(modality, 'effect')} {effect:+.3g} ({endpoint_label(endpoint).lower()} contrast)"
        if not math.isnan(q):
            text += f"; screen q {_p(q)} (within {modality})"
        phrases.append(text)
    stability = _value(candidate, f"stability_{endpoint}")
    if not math.isnan(stability) and stability > 0:
        model = str(candidate.get(f"stability_{endpoint}_model", "") or "")
        text = f"selected in {stability:.0%} of subsamples"
        if model:
            text += f" by the {model} model"
            model_p = _value(candidate, f"model_{endpoint}_permutation_p")
            if not math.isnan(model_p):
                text += f" (model permutation p {_p(model_p)})"
        phrases.append(text)
    return tuple(phrases)


def _met(value: float, threshold: float) -> str:
    if math.isnan(value):
        return "no value"
    return "met" if value < threshold else "not met"


def _direction_agreement(candidate: pd.Series, endpoint: str) -> str | None:
    """Whether the screen effect and the model coefficients agree with the calibrated statistic's sign."""
    z = _value(candidate, f"chain_{endpoint}_z")
    if math.isnan(z) or z == 0:
        return None
    screen = _value(candidate, _screen_column(endpoint, "effect"))
    if endpoint in SURVIVAL_ENDPOINTS:  # a hazard ratio: its direction is the sign of its log
        screen = math.log(screen) if screen > 0 else math.nan
    selected = _value(candidate, f"stability_{endpoint}") > 0
    model = _value(candidate, f"stability_{endpoint}_sign") if selected else math.nan
    signs = {"screen effect": screen, "model coefficients": model}
    against = [name for name, value in signs.items() if not math.isnan(value) and value * z < 0]
    if against:
        return f"direction: {' and '.join(against)} contradict the calibrated statistic (z {z:+.2f})"
    return f"direction: consistent with the calibrated statistic (z {z:+.2f})"


def tier_criteria(candidate: pd.Series, endpoints, rules: TierRules) -> tuple[str, ...]:
    """Every number the tier rules test, per endpoint with calibrated evidence, with its threshold and
    whether it is met, and the qualifiers (separation, direction) (for the card)."""
    lines = []
    primary = rules.primary_endpoint
    ordered = ([primary] if primary in endpoints else []) + [e for e in endpoints if e != primary]
    for endpoint in ordered:
        p, q = calibrated_values(candidate, endpoint)
        if math.isnan(p) and math.isnan(q):
            continue
        label = endpoint_label(endpoint)
        if endpoint == primary:
            lines += [f"{label} (primary), strong: calibrated p {_p(p) or '–'} < {rules.strong_p:g}: "
                      f"{_met(p, rules.strong_p)}",
                      f"{label} (primary), supported: calibrated q {_p(q) or '–'} < {rules.supported_q:g}: "
                      f"{_met(q, rules.supported_q)}"]
        else:
            lines.append(f"{label}, supported: calibrated p {_p(p) or '–'} < {rules.strong_p:g}: "
                         f"{_met(p, rules.strong_p)}")
        if str(candidate.get(f"cox_{endpoint}_separation", "")) == "yes":
            lines.append(f"{label}: flagged for separation in the Cox screen, so no tier from {label}")
        direction = _direction_agreement(candidate, endpoint)
        if direction:
            lines.append(f"{label} {direction}")
    return tuple(lines)


def _column(frame: pd.DataFrame, name: str):
    """The values of column ``name``, or "" for every row when the table has no such column."""
    return frame[name] if name in frame else [""] * len(frame)


def _int_or_none(value) -> int | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else int(number)


def endpoint_signals(ranked: pd.DataFrame, endpoint: str, n: int,
                     screens: dict | None = None) -> tuple[SignalFinding, ...]:
    """The ``n`` best independent signals whose tier ``endpoint`` earned: per signal its best-tier,
    best-ranked candidate; signals ordered by tier, then signal rank (rank when the table has no signals)."""
    if "tier_endpoint" not in ranked:
        return ()
    # Only the endpoint's own candidates are visited, column by column: ranked.tsv holds tens of
    # thousands of rows and a pandas row per candidate costs more than the rest of the page.
    earned = ranked[[str(value or "") == endpoint for value in ranked["tier_endpoint"]]]
    best: dict[str, tuple] = {}
    for row, (tier, rank, signal, modality, feature, signal_rank) in enumerate(zip(
            *(_column(earned, name) for name in ("tier", "rank", "signal", "modality", "feature",
                                                 "signal_rank")))):
        rank = _int_or_none(rank)
        tier = str(tier)
        key = (TIER_ORDER.index(tier) if tier in TIER_ORDER else len(TIER_ORDER), rank if rank is not None else 0)
        signal = str(signal or "") or f"{modality}:{feature}"
        if signal not in best or key < best[signal][0]:
            best[signal] = (key, row, _int_or_none(signal_rank))
    order = sorted(best.values(), key=lambda item: (item[0][0], item[2] or item[0][1], item[0][1]))
    findings = []
    for (_, rank), row, _ in order[:n]:
        candidate = earned.iloc[row]
        findings.append(SignalFinding(
            rank=rank, signal_rank=_int_or_none(candidate.get("signal_rank")),
            modality=str(candidate.get("modality", "")), feature=str(candidate.get("feature", "")),
            signal_size=_int_or_none(candidate.get("signal_size")) or 1, tier=str(candidate.get("tier", "")),
            endpoint=endpoint, evidence=evidence_phrases(candidate, endpoint, screens),
            calibrated_p=calibrated_values(candidate, endpoint)[0]))
    return tuple(findings)


def verdict_of(signals, model: ModelEvidence | None, rules: TierRules) -> str:
    """strong / supported / none by the rules of the module docstring."""
    tiers = {s.tier for s in signals}
    if "strong" in tiers:
        return "strong"
    model_beats_null = model is not None and model.permutation_p < rules.model_p
    return "supported" if "supported" in tiers and model_beats_null else "none"


def headline_sentence(endpoint: str, verdict: str, signals, model: ModelEvidence | None,
                      rules: TierRules) -> str:
    """One plain sentence per endpoint; the numbers are in the signal phrases and the model text."""
    label = endpoint_label(endpoint)
    model_text = f"Best {model.text()}." if model is not None else "No model was evaluated."
    if verdict == "none":
        sentence = f"{label}: no convincing predictor. {model_text}"
        supported = [s for s in signals if s.tier == "supported"]
        if supported:
            sentence += (f" {len(supported)} supported signal{'s' if len(supported) > 1 else ''}, but no model "
                         f"beats its permutation null at p < {rules.model_p:g}.")
        return sentence
    lead = next(s for s in signals if s.tier == verdict)
    grouped = f", one signal of {lead.signal_size} correlated candidates" if lead.signal_size > 1 else ""
    strength = "strong evidence" if verdict == "strong" else "supported (not strong) evidence"
    sentence = f"{label}: {strength} for {lead.name}{grouped}. {model_text}"
    if model is not None and not model.permutation_p < rules.model_p:
        sentence += " No model beats its permutation null."
    return sentence


def headline_findings(ranked: pd.DataFrame | None, performance: dict, endpoints,
                      rules: TierRules = TierRules(), n_signals: int = 3,
                      screens: dict | None = None) -> list[EndpointFinding]:
    """One :class:`EndpointFinding` per endpoint with a ranked candidate or a model, the primary
    endpoint (``rules.primary_endpoint``) first.

    ``performance``: endpoint -> performance table; ``screens``: (modality, endpoint) -> univariate
    survival table (for hazard-ratio intervals). Tables are as read by ``tables.read_tsv`` (text).
    """
    endpoints = list(endpoints)
    primary = rules.primary_endpoint
    ordered = ([primary] if primary in endpoints else []) + [e for e in endpoints if e != primary]
    ranked = ranked if ranked is not None else pd.DataFrame()
    findings = []
    for endpoint in ordered:
        signals = endpoint_signals(ranked, endpoint, n_signals, screens) if len(ranked) else ()
        model = best_model(performance.get(endpoint))
        if not signals and model is None:
            continue
        verdict = verdict_of(signals, model, rules)
        findings.append(EndpointFinding(endpoint, endpoint == primary, verdict,
                                        headline_sentence(endpoint, verdict, signals, model, rules),
                                        signals, model))
    return findings


def endpoints_in(ranked: pd.DataFrame) -> list[str]:
    """The endpoints ranked.tsv holds evidence for (calibrated, stability, Cox and differential q
    columns), in column order; a contrast counts as an endpoint of the same name."""
    found = []
    for column in ranked.columns:
        match = re.fullmatch(r"calibrated_([a-z_]+)_p|stability_([a-z_]+)|(?:cox|diff)_(.+)_padj", str(column))
        if match and not str(column).endswith(("_model", "_sign")):
            found.append(next(g for g in match.groups() if g))
    return list(dict.fromkeys(found))


def findings_from_inputs(inputs: SummaryInputs, endpoints=(), rules: TierRules = TierRules(),
                         n_signals: int = 3) -> list[EndpointFinding]:
    """:func:`headline_findings` of the summary page's inputs. ``endpoints`` in config order; when empty,
    the endpoints with model performance, then those of ranked.tsv (:func:`endpoints_in`)."""
    ranked = inputs.ranked.frame if inputs.ranked is not None else None
    if not endpoints:
        found = list(inputs.performance) + (endpoints_in(ranked) if ranked is not None else [])
        endpoints = list(dict.fromkeys(found))
    performance = {endpoint: table.frame for endpoint, table in inputs.performance.items()}
    screens = {key: table.frame for key, table in inputs.survival.items()}
    return headline_findings(ranked, performance, endpoints, rules, n_signals, screens)


def headline_sources(inputs: SummaryInputs, findings: list[EndpointFinding]) -> list[str]:
    """The tables the headline quotes: ranked.tsv and the performance table of each endpoint shown."""
    paths = [inputs.ranked.path] if inputs.ranked is not None else []
    return paths + [inputs.performance[f.endpoint].path for f in findings if f.endpoint in inputs.performance]


def _short(text: str, limit: int = 26) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def signal_dot_plot(findings: list[EndpointFinding], rules: TierRules = TierRules()):
    """One small panel per endpoint: its top signals' -log10 calibrated p, coloured by tier, with
    ``strong_p`` dashed (the strong threshold on the primary endpoint, the supported one on the others).
    A signal without a calibrated p is not drawn."""
    shown = [f for f in findings if f.signals]
    n_rows = sum(len(f.signals) for f in shown)
    heights = [max(len(f.signals), 1) for f in shown] or [1]
    fig, axes = style.new_figure(5.0, 1.0 + 0.32 * max(n_rows, 1) + 0.4 * len(heights),
                                 nrows=len(heights), ncols=1, sharex=True, squeeze=False,
                                 gridspec_kw={"height_ratios": heights}, layout="constrained")
    if not shown:
        axes[0, 0].axis("off")
        axes[0, 0].text(0.5, 0.5, "No ranked signal", ha="center", va="center")
        return fig
    threshold = -math.log10(rules.strong_p)
    heights = {f.endpoint: [-math.log10(s.calibrated_p) if s.calibrated_p > 0 else np.nan for s in f.signals]
               for f in shown}
    right = max([threshold, *[x for xs in heights.values() for x in xs if np.isfinite(x)]]) * 1.1
    for ax, finding in zip(axes[:, 0], shown):
        signals = list(finding.signals)
        y = np.arange(len(signals))[::-1]
        colours = [style.TIER_COLOURS.get(s.tier, "#999999") for s in signals]
        ax.scatter(heights[finding.endpoint], y, c=colours, s=40, zorder=3)
        ax.set_yticks(y, [_short(s.feature) for s in signals], fontsize=8)
        ax.set_ylim(-0.7, len(signals) - 0.3)
        ax.axvline(threshold, color="0.4", linestyle="--", linewidth=0.8)
        ax.set_title(endpoint_label(finding.endpoint) + (" (primary)" if finding.primary else ""),
                     fontsize=9, loc="left")
        ax.set_xlim(0, right)
    handles = [Line2D([], [], marker="o", linestyle="", color=colour, label=tier)
               for tier, colour in style.TIER_COLOURS.items()]
    axes[0, 0].legend(handles=handles, fontsize=7, loc="lower right", frameon=False)
    axes[-1, 0].set_xlabel(f"-log10 calibrated p (dashed: p = {rules.strong_p:g})", fontsize=8)
    return fig


def _signal_html(signal: SignalFinding, has_card: bool, top: bool) -> str:
    name = f"<b>{esc(signal.name)}</b>"
    if has_card:
        name = f'<a href="#card-{signal.rank}">{name}</a>'
    grouped = f", signal #{signal.signal_rank} of {signal.signal_size} candidates" if signal.signal_size > 1 else ""
    marker = ' id="headline-top-signal"' if top else ""
    evidence = "; ".join(esc(p) for p in signal.evidence) or "no screen, stability or model evidence"
    return (f'<li{marker}><span class="badge tier-{esc(signal.tier)}">{esc(signal.tier)}</span> '
            f'<span class="endpoint-tag">{esc(endpoint_label(signal.endpoint))}</span> {name} '
            f'<span class="meta">(rank {signal.rank}{esc(grouped)})</span>: {evidence}</li>')


def headline_rules_text(rules: TierRules, null_rates: dict[str, NullRate]) -> str:
    """The rules the headline text follows, with the tiers' null rates when known."""
    text = (f'Generated from the tables by fixed rules: "strong" only where the ranking gives the strong tier, '
            f"which only the primary endpoint ({endpoint_label(rules.primary_endpoint)}) can give, at calibrated "
            f"p < {rules.strong_p:g}; an endpoint whose signals are at most supported counts only when one of "
            f"its models beats its permutation null (p < {rules.model_p:g}).")
    reached = [f"{tier} in {null_rates[tier].text()}" for tier in ("strong", "supported") if tier in null_rates]
    if reached:
        text += " With the outcomes permuted, some candidate reached " + " and ".join(reached) + "."
    return text + " The biomarkers section explains every p-value and q-value on this page."


def headline_section(findings: list[EndpointFinding], cards=(), figure=None, sources=(),
                     rules: TierRules = TierRules(), null_rates: dict[str, NullRate] | None = None) -> str:
    """The "What the data say" section: one block per endpoint, the dot plot beside them.

    The first signal of the first endpoint with a strong or supported verdict (else the first signal
    shown) carries ``id="headline-top-signal"``; signals of an endpoint without a convincing predictor
    are folded under a ``<details>``.
    """
    if not findings:
        return ('<p class="not-run">Not run: no ranked candidates and no model performance were given, so '
                "there is nothing to summarise.</p>")
    convincing = [f for f in findings if f.verdict != "none" and f.signals]
    top = (convincing or [f for f in findings if f.signals] or [None])[0]
    blocks = []
    for finding in findings:
        primary = ' <span class="primary-tag">primary endpoint</span>' if finding.primary else ""
        items = "".join(_signal_html(s, s.rank in cards, finding is top and i == 0 and finding.verdict != "none")
                        for i, s in enumerate(finding.signals))
        signals = ""
        if items and finding.verdict != "none":
            signals = f'<ol class="signals">{items}</ol>'
        elif items:
            signals = (f"<details><summary>Best-ranked candidates for {esc(endpoint_label(finding.endpoint))} "
                       f'(none convincing)</summary><ol class="signals">{items}</ol></details>')
        blocks.append(f'<div class="finding verdict-{esc(finding.verdict)}">'
                      f'<p><span class="verdict">{esc(finding.sentence)}</span>{primary}</p>{signals}</div>')
    if top is not None and top.verdict == "none":
        # Nothing convincing anywhere: the reader still sees the best candidate's tier and endpoint.
        lead = top.signals[0]
        blocks.insert(0, f'<p class="meta" id="headline-top-signal">Best-ranked signal overall: '
                         f'<span class="badge tier-{esc(lead.tier)}">{esc(lead.tier)}</span> '
                         f'<span class="endpoint-tag">{esc(endpoint_label(lead.endpoint))}</span> '
                         f"{esc(lead.name)}.</p>")
    picture = figures_html([figure]) if figure is not None else ""
    return (f'<div class="headline"><div class="headline-text">{"".join(blocks)}'
            f'<p class="meta">{esc(headline_rules_text(rules, null_rates or {}))}</p>'
            f"{sources_html(sources)}</div>{picture}</div>")

"""What the data say: the headline of the summary page, generated from the tables by fixed rules.

Per endpoint (the pre-specified primary endpoint first), :func:`headline_findings` gathers

- the best independent signals attributed to the endpoint (``ranked.tsv``: one row per signal, the
  signal's best tier, then its best rank), each with the numbers behind its tier: the screen's effect
  (hazard ratio with its 95% interval from the survival screen, or the differential effect), its q-value
  (and the calibrated p / q of the aggregate score when the ranking provides them), its stability and the
  permutation p of the model that selected it;
- the endpoint's best model (``models/<endpoint>/performance.tsv``, primary metric: smallest permutation
  p, then highest estimate) with its out-of-fold estimate, interval and permutation p;
- a verdict that never claims more than these numbers:

  * ``strong`` only when a signal attributed to the endpoint has tier strong;
  * ``supported`` when a signal has tier supported AND the endpoint's best model beats its permutation
    null (p < ``model_p``);
  * otherwise ``none``: "no convincing predictor", with the best model's metric and permutation p.

Which endpoint earned a candidate's tier: ``tier_endpoint`` when ranked.tsv has it; otherwise, for a
strong candidate, the first endpoint (smallest screen q) whose screen q, stability and model p meet the
strong rule, and for any other candidate the endpoint of its smallest screen q (then of its highest
stability). ``rra_p`` is never used: robust rank aggregation over dependent evidence lists is a score,
not a p-value.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import style

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
    """The ranking's thresholds (config ``ranking.*`` and ``models.stability_threshold``)."""

    strong_q: float = 0.05
    supported_q: float = 0.25
    stability_threshold: float = 0.6
    supported_stability: float = 0.4
    model_p: float = 0.05


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
    # For the dot plot: the q shown (calibrated q when present, else the endpoint's screen q).
    q: float = math.nan

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


def earned_endpoint(candidate: pd.Series, endpoints, rules: TierRules) -> str:
    """The endpoint a candidate's tier is about (see the module docstring); "" when it has no evidence."""
    given = str(candidate.get("tier_endpoint", "") or "")
    if given:
        return given
    q = {e: _value(candidate, _screen_column(e, "padj")) for e in endpoints}
    stability = {e: _value(candidate, f"stability_{e}") for e in endpoints}
    by_q = sorted(endpoints, key=lambda e: (math.isnan(q[e]), q[e] if not math.isnan(q[e]) else 0.0,
                                            -np.nan_to_num(stability[e], nan=-1.0)))
    if str(candidate.get("tier", "")) == "strong":
        for endpoint in by_q:
            if (q[endpoint] < rules.strong_q and stability[endpoint] >= rules.stability_threshold
                    and _value(candidate, f"model_{endpoint}_permutation_p") < rules.model_p):
                return endpoint
    if by_q and not math.isnan(q[by_q[0]]):
        return by_q[0]
    stable = [e for e in endpoints if not math.isnan(stability[e]) and stability[e] > 0]
    return max(stable, key=lambda e: stability[e]) if stable else ""


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

    ``screens``: (modality, endpoint) -> univariate survival table (for the hazard ratio's interval).
    """
    phrases = []
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
            text += f"; screen q {_p(q)}"
        phrases.append(text)
    calibrated_p, calibrated_q = _value(candidate, "calibrated_p"), _value(candidate, "calibrated_q")
    if not math.isnan(calibrated_p) or not math.isnan(calibrated_q):
        parts = [f"{name} {_p(v)}" for name, v in (("p", calibrated_p), ("q", calibrated_q)) if not math.isnan(v)]
        phrases.append("calibrated " + ", ".join(parts) + " (aggregate score against whole-chain permutations)")
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


def _signal_key(candidate: pd.Series) -> str:
    signal = str(candidate.get("signal", "") or "")
    return signal or f"{candidate.get('modality', '')}:{candidate.get('feature', '')}"


def _int_or_none(value) -> int | None:
    number = _value(pd.Series({"v": value}), "v")
    return None if math.isnan(number) else int(number)


def endpoint_signals(ranked: pd.DataFrame, endpoint: str, endpoints, rules: TierRules, n: int,
                     screens: dict | None = None) -> tuple[SignalFinding, ...]:
    """The ``n`` best independent signals attributed to ``endpoint``: per signal its best-tier, best-ranked
    candidate; signals ordered by tier, then signal rank (rank when the table has no signals)."""
    best: dict[str, tuple] = {}
    for _, candidate in ranked.iterrows():
        if earned_endpoint(candidate, endpoints, rules) != endpoint:
            continue
        tier = str(candidate.get("tier", ""))
        rank = _int_or_none(candidate.get("rank"))
        key = (TIER_ORDER.index(tier) if tier in TIER_ORDER else len(TIER_ORDER), rank if rank is not None else 0)
        signal = _signal_key(candidate)
        if signal not in best or key < best[signal][0]:
            best[signal] = (key, candidate)
    order = sorted(best.values(), key=lambda item: (
        item[0][0], _int_or_none(item[1].get("signal_rank")) or item[0][1], item[0][1]))
    findings = []
    for (_, rank), candidate in order[:n]:
        q = _value(candidate, "calibrated_q")
        if math.isnan(q):
            q = _value(candidate, _screen_column(endpoint, "padj"))
        findings.append(SignalFinding(
            rank=rank, signal_rank=_int_or_none(candidate.get("signal_rank")),
            modality=str(candidate.get("modality", "")), feature=str(candidate.get("feature", "")),
            signal_size=_int_or_none(candidate.get("signal_size")) or 1, tier=str(candidate.get("tier", "")),
            endpoint=endpoint, evidence=evidence_phrases(candidate, endpoint, screens), q=q))
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


def headline_findings(ranked: pd.DataFrame | None, performance: dict, endpoints, primary: str,
                      rules: TierRules = TierRules(), n_signals: int = 3,
                      screens: dict | None = None) -> list[EndpointFinding]:
    """One :class:`EndpointFinding` per endpoint with a ranked candidate or a model, primary first.

    ``performance``: endpoint -> performance table; ``screens``: (modality, endpoint) -> univariate
    survival table (for hazard-ratio intervals). Tables are as read by ``tables.read_tsv`` (text).
    """
    endpoints = list(endpoints)
    ordered = ([primary] if primary in endpoints else []) + [e for e in endpoints if e != primary]
    ranked = ranked if ranked is not None else pd.DataFrame()
    findings = []
    for endpoint in ordered:
        signals = endpoint_signals(ranked, endpoint, endpoints, rules, n_signals, screens) if len(ranked) else ()
        model = best_model(performance.get(endpoint))
        if not signals and model is None:
            continue
        verdict = verdict_of(signals, model, rules)
        findings.append(EndpointFinding(endpoint, endpoint == primary, verdict,
                                        headline_sentence(endpoint, verdict, signals, model, rules),
                                        signals, model))
    return findings


def signal_dot_plot(findings: list[EndpointFinding], rules: TierRules = TierRules()):
    """One small panel per endpoint: its top signals' -log10 q (calibrated q when present, else the
    endpoint's screen q), coloured by tier, with the strong-tier q threshold dashed."""
    shown = [f for f in findings if f.signals]
    n_rows = sum(len(f.signals) for f in shown)
    heights = [max(len(f.signals), 1) for f in shown] or [1]
    fig, axes = style.new_figure(4.6, 0.9 + 0.32 * max(n_rows, 1) + 0.35 * len(heights),
                                 nrows=len(heights), ncols=1, sharex=True, squeeze=False,
                                 gridspec_kw={"height_ratios": heights}, layout="constrained")
    if not shown:
        axes[0, 0].axis("off")
        axes[0, 0].text(0.5, 0.5, "No ranked signal", ha="center", va="center")
        return fig
    threshold = -math.log10(rules.strong_q)
    for ax, finding in zip(axes[:, 0], shown):
        signals = list(finding.signals)
        y = np.arange(len(signals))[::-1]
        x = [-math.log10(s.q) if s.q > 0 else np.nan for s in signals]
        colours = [style.TIER_COLOURS.get(s.tier, "#999999") for s in signals]
        ax.scatter(x, y, c=colours, s=40, zorder=3)
        ax.set_yticks(y, [f"{s.feature} ({s.tier})" for s in signals], fontsize=8)
        ax.set_ylim(-0.7, len(signals) - 0.3)
        ax.axvline(threshold, color="0.4", linestyle="--", linewidth=0.8)
        ax.set_title(endpoint_label(finding.endpoint) + (" (primary)" if finding.primary else ""),
                     fontsize=9, loc="left")
        ax.set_xlim(left=0)
    axes[-1, 0].set_xlabel(f"-log10 q (dashed: q = {rules.strong_q:g})", fontsize=8)
    return fig

"""One ranked list of candidate biomarkers, every piece of evidence as a column, and its tiers.

A candidate is one feature of one modality (``modality``, ``feature``, ``gene``). Its evidence:

- differential analysis per contrast: effect, p-value, BH q-value (``diff_{contrast}_*``);
- univariate Cox screen per survival endpoint: hazard ratio, p-value, q-value (``cox_{endpoint}_*``);
- stability selection per model endpoint: the highest selection frequency over the models that
  contain the feature (its own modality's model or the joint model), that model, the sign of its
  coefficients and the permutation p-value of that model's primary metric (``stability_{endpoint}*``,
  ``model_{endpoint}_permutation_p``);
- membership of enriched gene sets: the leading edges of preranked gene sets with FDR below
  ``enrichment_fdr`` containing the candidate's gene (for a pathway score: the set itself). The FDR is
  the correlation-adjusted one (``camera_fdr``) when the table has it: gene-permutation GSEA FDRs treat
  co-regulated genes as independent and call sets on null cohorts;
- cross-omics concordance: the largest set of modalities, including the candidate's own, in which the
  same gene differs nominally (p < ``concordance_p``) in the same direction in one contrast;
- calibration against whole-chain permutations of the outcomes (:mod:`trialomics.calibration`), per
  endpoint: the chain's screen statistic (``chain_{endpoint}_z``), its family-wise calibrated p and
  its permutation q (``calibrated_{endpoint}_p``, ``calibrated_{endpoint}_q``), the family being
  every prefiltered feature of every block for that endpoint.

Order (:func:`robust_rank_aggregation`, Kolde et al. 2012, Bioinformatics 28:573): each piece of
evidence orders all candidates (strongest first; ties share the worst rank of their group; missing
evidence ranks last), ranks are normalised to (0, 1], and a candidate's ``score`` is ``-log10(rho)``
with ``rho = min_k BetaCDF(r_(k); k, m - k + 1)`` over its sorted normalised ranks
``r_(1) <= ... <= r_(m)`` from the ``m`` lists. The score only orders the table: the lists come from
the same patients and are far from independent, so Kolde's Bonferroni value of rho is not a p-value
(on null cohorts it fell below 1e-10 every time) and is not reported.

Tiers (:func:`assign_tiers`) come only from the calibrated evidence and a pre-specified primary
endpoint (``ranking.primary_endpoint``). A candidate qualifies on an endpoint when the endpoint's Cox
screen did not flag it for separation (``cox_{endpoint}_separation``) and nothing contradicts the
direction of its chain statistic: the sign of the screen's effect (log hazard ratio, or differential
effect) and, when the endpoint's models selected it, the sign of their coefficients.

- strong: qualifies on the primary endpoint with calibrated p < ``strong_p`` (family-wise over every
  candidate that could be strong);
- supported: not strong, and either qualifies on the primary endpoint with calibrated q <
  ``supported_q``, or qualifies on a secondary endpoint with calibrated p < ``strong_p`` within that
  endpoint's own family;
- exploratory: every other candidate.

``tier_endpoint`` names the endpoint that earned the tier (for strong the primary endpoint; for
supported the primary endpoint when its q qualifies, else the secondary endpoint with the smallest
calibrated p; for exploratory the endpoint with the smallest calibrated p), and ``calibrated_p`` /
``calibrated_q`` are that endpoint's values. Stability frequencies, model permutation p-values,
enrichment and concordance stay in the table as evidence and order it, but no tier relies on them:
they come from the same patients, and a frequency threshold without a bound on false selections
calibrates nothing. How often each tier is reached on permuted outcomes is written by the calibration
rule (``tier_null_rates.tsv``).

Independent signals (:func:`correlated_signals`): omics features move together (one immune programme
lifts dozens of transcripts, proteins and pathway scores), so the top of a feature list can be one
biological signal many times over. As in the clumping of genome-wide association hits, the ranked
candidates are walked in order; each candidate not yet grouped leads a new signal, and every lower-ranked
candidate whose baseline values correlate with the lead across patients (|Spearman rho| >= ``threshold``)
joins it. ``signal`` names the lead (``modality:feature``) and ``signal_rank`` orders the signals; the
candidate order and scores are unchanged. With 20 patients a null correlation has standard deviation
~0.23, so the default threshold (0.7) groups only correlations that chance rarely produces.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .errors import AnalysisProblem
from .survival import SURVIVAL_ENDPOINTS

MODALITY_ORDER = ("mutations", "copy_number", "rna", "proteins", "pathways")
LEADING_EDGE_SEPARATORS = re.compile(r"[;,/\s]+")


def _numeric(series: pd.Series) -> pd.Series:
    """Numbers of a column read as text: blanks (and any other text) become NaN."""
    return pd.to_numeric(series, errors="coerce")


def _modality_key(modality: str) -> int:
    return MODALITY_ORDER.index(modality) if modality in MODALITY_ORDER else len(MODALITY_ORDER)


GENE_COLUMNS = ("gene", "gene_symbol", "gene_name", "symbol")


def genes_from_var(var: pd.DataFrame) -> pd.Series:
    """Feature -> gene symbol from an AnnData ``var`` (its first column among ``GENE_COLUMNS``, else the
    feature name itself)."""
    for column in GENE_COLUMNS:
        if column in var.columns:
            genes = var[column].astype(str)
            return genes.where(genes.str.len() > 0, var.index.to_series().astype(str))
    return pd.Series(var.index.astype(str), index=var.index.astype(str))


def tmb_as_differential(tmb: pd.DataFrame) -> pd.DataFrame:
    """The differential stage's TMB comparison (one Mann–Whitney test) as a differential-table row.

    effect = median TMB of the target group minus the reference group (mutations per Mb); the test is
    a family of one, so padj = pvalue.
    """
    effect = _numeric(tmb["median_target"]) - _numeric(tmb["median_reference"])
    return pd.DataFrame({"feature": "TMB", "effect": effect, "stat": _numeric(tmb["u_statistic"]),
                         "pvalue": _numeric(tmb["pvalue"]), "padj": _numeric(tmb["pvalue"])})


def copy_number_by_gene(table: pd.DataFrame) -> pd.DataFrame:
    """Differential copy-number rows ``GENE:gain`` / ``GENE:loss`` -> one row per gene.

    Each gene keeps the event with the smaller p-value; a loss's effect (log odds ratio of being
    lost) is negated, so that a positive effect always means higher copy number in the target group,
    as for the gene-level copy-number values the survival screen and the models use. Rows without an
    event suffix are kept as they are.
    """
    table = table.copy()
    parts = table["feature"].astype(str).str.rsplit(":", n=1, expand=True).reindex(columns=[0, 1])
    event = parts[1].where(parts[1].isin(["gain", "loss"]))
    table["feature"] = np.where(event.notna(), parts[0], table["feature"])
    effect = _numeric(table["effect"])
    table["effect"] = np.where(event == "loss", -effect, effect)
    table["_p"] = _numeric(table["pvalue"])
    table = table.sort_values(["feature", "_p"], kind="stable", na_position="last")
    return table.drop_duplicates("feature").drop(columns="_p").reset_index(drop=True)


def gather_evidence(differential: dict[tuple[str, str], pd.DataFrame] | None = None,
                    univariate: dict[tuple[str, str], pd.DataFrame] | None = None,
                    stability: dict[str, pd.DataFrame] | None = None,
                    performance: dict[str, pd.DataFrame] | None = None,
                    enrichment: dict[tuple[str, str], pd.DataFrame] | None = None,
                    genes: dict[str, pd.Series] | None = None, tmb: dict[str, pd.DataFrame] | None = None,
                    calibration: pd.DataFrame | None = None, enrichment_fdr: float = 0.25,
                    concordance_p: float = 0.05) -> pd.DataFrame:
    """One row per candidate (modality, feature) with every evidence column.

    Parameters
    ----------
    differential : (modality, contrast) -> table with feature, effect, pvalue, padj (copy number:
        ``GENE:gain`` / ``GENE:loss`` rows, merged by :func:`copy_number_by_gene`).
    univariate : (modality, endpoint) -> Cox table with feature, hr, pvalue, padj and optionally
        separation (``yes`` / ``no``).
    stability : endpoint -> stability table with model, modality, feature, selection_frequency,
        mean_coefficient_sign.
    performance : endpoint -> performance table with model, metric, permutation_p.
    enrichment : (modality, contrast) -> preranked table with gene_set, fdr, leading_edge.
    genes : modality -> Series mapping feature to gene symbol; missing modalities use the feature
        name itself, except pathways (no gene) and the mutation feature ``TMB``.
    tmb : contrast -> the differential stage's TMB comparison (:func:`tmb_as_differential`), added
        to the mutations differential evidence as the feature ``TMB``.
    calibration : the calibration rule's table (:func:`trialomics.calibration.calibrate`: modality,
        feature, endpoint, z, calibrated_p, calibrated_q).
    """
    differential, univariate = dict(differential or {}), univariate or {}
    for key in [k for k in differential if k[0] == "copy_number"]:
        differential[key] = copy_number_by_gene(differential[key])
    for contrast, table in (tmb or {}).items():
        key = ("mutations", contrast)
        rows = tmb_as_differential(table)
        differential[key] = pd.concat([differential[key], rows], ignore_index=True) if key in differential else rows
    stability, performance, enrichment = stability or {}, performance or {}, enrichment or {}
    # feature -> gene symbol as plain dicts: ~30,000 lookups, each a pandas call on a Series.
    genes = {modality: {feature: str(gene) for feature, gene in mapping.items()}
             for modality, mapping in (genes or {}).items()}
    candidates = set()
    for (modality, _), table in [*differential.items(), *univariate.items()]:
        candidates.update((modality, str(f)) for f in table["feature"])
    for table in stability.values():
        candidates.update(zip(table["modality"].astype(str), table["feature"].astype(str)))
    if calibration is not None:
        candidates.update(zip(calibration["modality"].astype(str), calibration["feature"].astype(str)))
    index = pd.MultiIndex.from_tuples(
        sorted(candidates, key=lambda c: (_modality_key(c[0]), c[0], c[1])), names=["modality", "feature"])
    evidence = pd.DataFrame(index=index)
    evidence["gene"] = [_gene_of(modality, feature, genes) for modality, feature in index]

    _add_screens(evidence, differential, "diff", ("effect", "pvalue", "padj"))
    _add_screens(evidence, univariate, "cox", ("hr", "pvalue", "padj"))
    _add_separation(evidence, univariate)

    for endpoint in sorted(stability):
        _add_stability(evidence, endpoint, stability[endpoint], performance.get(endpoint))

    _add_gene_sets(evidence, enrichment, enrichment_fdr)
    _add_concordance(evidence, differential, concordance_p, genes)
    if calibration is not None:
        _add_calibration(evidence, calibration)
    return evidence.reset_index()


def _add_separation(evidence: pd.DataFrame, univariate: dict[tuple[str, str], pd.DataFrame]) -> None:
    """``cox_{endpoint}_separation``: the Cox screen's flag (``yes`` / ``no``; "" when not screened)."""
    for endpoint in sorted({e for _, e in univariate}):
        column = f"cox_{endpoint}_separation"
        evidence[column] = ""
        for (modality, e), table in univariate.items():
            if e != endpoint or "separation" not in table.columns:
                continue
            flags = table.assign(modality=modality).set_index(["modality", "feature"])["separation"].astype(str)
            flags = flags.reindex(evidence.index)
            evidence[column] = evidence[column].where(flags.isna(), flags)


def _add_calibration(evidence: pd.DataFrame, calibration: pd.DataFrame) -> None:
    """``chain_{endpoint}_z``, ``calibrated_{endpoint}_p`` and ``calibrated_{endpoint}_q`` per endpoint."""
    keyed = calibration.assign(modality=calibration["modality"].astype(str),
                               feature=calibration["feature"].astype(str)).set_index(["modality", "feature"])
    for endpoint in pd.unique(keyed["endpoint"].astype(str)):
        rows = keyed[keyed["endpoint"].astype(str) == endpoint]
        for source, column in (("z", f"chain_{endpoint}_z"), ("calibrated_p", f"calibrated_{endpoint}_p"),
                               ("calibrated_q", f"calibrated_{endpoint}_q")):
            evidence[column] = _numeric(rows[source].astype(str)).reindex(evidence.index)


def _add_screens(evidence: pd.DataFrame, screens: dict[tuple[str, str], pd.DataFrame], prefix: str,
                 columns: tuple[str, ...]) -> None:
    """``{prefix}_{name}_{column}`` per screen name (contrast or endpoint), filled from every modality's table."""
    for name in sorted({n for _, n in screens}):
        for column in columns:
            evidence[f"{prefix}_{name}_{column}"] = np.nan
        for (modality, n), table in screens.items():
            if n != name:
                continue
            keyed = table.assign(modality=modality).set_index(["modality", "feature"])
            for column in columns:
                values = _numeric(keyed[column]).reindex(evidence.index)
                evidence[f"{prefix}_{name}_{column}"] = evidence[f"{prefix}_{name}_{column}"].fillna(values)


def _gene_of(modality: str, feature: str, genes: dict[str, dict[str, str]]) -> str:
    if modality == "pathways" or (modality == "mutations" and feature == "TMB"):
        return ""
    return genes.get(modality, {}).get(feature) or feature


def _add_stability(evidence: pd.DataFrame, endpoint: str, table: pd.DataFrame,
                   performance: pd.DataFrame | None) -> None:
    table = table.assign(selection_frequency=_numeric(table["selection_frequency"]),
                         mean_coefficient_sign=_numeric(table["mean_coefficient_sign"]))
    permutation_p = {}
    if performance is not None and len(performance):
        # Imported here, not with the module: models brings scikit-learn, unused by recovery (job start time).
        from .models import PRIMARY_METRIC, task_of

        primary = PRIMARY_METRIC[task_of(endpoint)]
        rows = performance[performance["metric"] == primary]
        permutation_p = dict(zip(rows["model"], _numeric(rows["permutation_p"])))
    # Highest frequency over the models holding the feature; ties go to the model listed first.
    best = (table.sort_values("selection_frequency", ascending=False, kind="stable")
            .drop_duplicates(["modality", "feature"]).set_index(["modality", "feature"]))
    best = best.reindex(evidence.index)
    # A feature that was never selected has frequency 0 and no model to credit.
    model = best["model"].where(best["selection_frequency"] > 0)
    evidence[f"stability_{endpoint}"] = best["selection_frequency"]
    evidence[f"stability_{endpoint}_model"] = model.fillna("")
    evidence[f"stability_{endpoint}_sign"] = best["mean_coefficient_sign"]
    evidence[f"model_{endpoint}_permutation_p"] = model.map(permutation_p).astype(float)


def _leading_edge(text: str) -> list[str]:
    return [g for g in LEADING_EDGE_SEPARATORS.split(str(text)) if g]


def _add_gene_sets(evidence: pd.DataFrame, enrichment: dict, enrichment_fdr: float) -> None:
    members: dict[str, set] = {}
    enriched_sets = set()
    for table in enrichment.values():
        fdr_column = "camera_fdr" if "camera_fdr" in table.columns else "fdr"
        significant = table[_numeric(table[fdr_column]) < enrichment_fdr]
        for gene_set, edge in zip(significant["gene_set"], significant["leading_edge"]):
            enriched_sets.add(str(gene_set))
            for gene in _leading_edge(edge):
                members.setdefault(gene.upper(), set()).add(str(gene_set))
    labels = []
    for (modality, feature), gene in zip(evidence.index, evidence["gene"]):
        if modality == "pathways":
            sets = {feature} if feature in enriched_sets else set()
        else:
            sets = members.get(str(gene).upper(), set()) if gene else set()
        labels.append(sorted(sets))
    evidence["enriched_gene_sets"] = [";".join(s) for s in labels]
    evidence["n_enriched_gene_sets"] = [len(s) for s in labels]


def _add_concordance(evidence: pd.DataFrame, differential: dict, concordance_p: float,
                     genes: dict[str, dict[str, str]]) -> None:
    # gene -> contrast -> direction (+1 / -1) -> modalities nominally different in that direction
    directions: dict[str, dict[str, dict[int, set]]] = {}
    for (modality, contrast), table in differential.items():
        if modality == "pathways":
            continue
        effect, pvalue = _numeric(table["effect"]), _numeric(table["pvalue"])
        hits = table[(pvalue < concordance_p) & effect.notna() & (effect != 0)]
        for feature, value in zip(hits["feature"].astype(str), effect[hits.index]):
            gene = _gene_of(modality, feature, genes).upper()
            if not gene:
                continue
            sign = 1 if value > 0 else -1
            directions.setdefault(gene, {}).setdefault(contrast, {}).setdefault(sign, set()).add(modality)
    sets, signs = [], []
    for (modality, _), gene in zip(evidence.index, evidence["gene"]):
        best, best_sign = set(), 0
        for by_sign in directions.get(str(gene).upper(), {}).values():
            for sign, modalities in sorted(by_sign.items()):
                if modality in modalities and len(modalities) > len(best):
                    best, best_sign = modalities, sign
        if len(best) < 2:
            best, best_sign = set(), 0
        sets.append(";".join(sorted(best, key=_modality_key)))
        signs.append({1: "up", -1: "down", 0: ""}[best_sign])
    evidence["concordant_modalities"] = sets
    evidence["n_concordant_modalities"] = [len(s.split(";")) if s else 0 for s in sets]
    evidence["concordance_direction"] = signs


def evidence_lists(evidence: pd.DataFrame) -> pd.DataFrame:
    """The strength of each candidate in each ranked list (higher = stronger; NaN = no evidence).

    Lists: -log10 p of every differential contrast and every Cox endpoint, the stability frequency
    of every model endpoint, the number of enriched gene sets and of concordant modalities (0 counts as
    no evidence).
    """
    strengths = {}
    for column in evidence.columns:
        if re.fullmatch(r"(diff|cox)_.+_pvalue", column):
            strengths[column] = -np.log10(evidence[column].astype(float))
        elif re.fullmatch(r"stability_[a-z_]+", column) and not column.endswith(("_model", "_sign")):
            strengths[column] = evidence[column].astype(float).where(evidence[column] > 0)
    for column in ("n_enriched_gene_sets", "n_concordant_modalities"):
        if column in evidence:
            strengths[column] = evidence[column].astype(float).where(evidence[column] > 0)
    return pd.DataFrame(strengths, index=evidence.index)


def normalised_ranks(strengths: pd.DataFrame) -> pd.DataFrame:
    """Rank / N per list, strongest first; ties share their group's worst rank; missing ranks last (1)."""
    n = len(strengths)
    ranks = strengths.rank(ascending=False, method="max", na_option="keep") / n
    return ranks.fillna(1.0)


def robust_rank_aggregation(ranks: pd.DataFrame) -> pd.DataFrame:
    """Kolde et al.'s rho score of each row of normalised ranks (rows = candidates, columns = lists).

    Returns a DataFrame with ``rho`` (min over k of the Beta(k, m-k+1) CDF at the k-th smallest
    normalised rank) and ``score`` = -log10(rho), an ordering score (not a p-value: see the module
    docstring).
    """
    values = np.sort(ranks.to_numpy(dtype=np.float64), axis=1)
    m = values.shape[1]
    if m == 0:
        rho = np.ones(values.shape[0])
    else:
        from scipy.stats import beta

        k = np.arange(1, m + 1)
        rho = beta.cdf(values, k[None, :], (m - k + 1)[None, :]).min(axis=1)
    return pd.DataFrame({"rho": rho, "score": -np.log10(rho)}, index=ranks.index)


def _column(evidence: pd.DataFrame, column: str) -> pd.Series:
    return evidence[column].astype(float) if column in evidence else pd.Series(np.nan, index=evidence.index)


def calibrated_endpoints(evidence: pd.DataFrame) -> list[str]:
    """Endpoints with calibrated evidence (``calibrated_{endpoint}_p`` columns), in column order."""
    return [m.group(1) for m in (re.fullmatch(r"calibrated_([a-z_]+)_p", c) for c in evidence.columns) if m]


def qualifies(evidence: pd.DataFrame, endpoint: str) -> pd.Series:
    """Whether each candidate may earn a tier on ``endpoint`` (see the module docstring)."""
    direction = np.sign(_column(evidence, f"chain_{endpoint}_z"))
    if endpoint in SURVIVAL_ENDPOINTS:
        screen = np.sign(np.log(_column(evidence, f"cox_{endpoint}_hr")))
    else:
        screen = np.sign(_column(evidence, f"diff_{endpoint}_effect"))
    selected = _column(evidence, f"stability_{endpoint}") > 0
    model = np.sign(_column(evidence, f"stability_{endpoint}_sign")).where(selected)
    contradicted = pd.Series(False, index=evidence.index)
    for sign in (screen, model):
        contradicted |= (sign * direction) < 0
    separation = evidence.get(f"cox_{endpoint}_separation", pd.Series("", index=evidence.index))
    return ~contradicted & (separation.astype(str) != "yes")


def assign_tiers(evidence: pd.DataFrame, primary_endpoint: str = "pfs", strong_p: float = 0.05,
                 supported_q: float = 0.25) -> pd.DataFrame:
    """tier, tier_endpoint, calibrated_p and calibrated_q per candidate, by the rules in the module docstring.

    Raises AnalysisProblem when ``evidence`` has no calibrated evidence for ``primary_endpoint``.
    """
    endpoints = calibrated_endpoints(evidence)
    if primary_endpoint not in endpoints:
        raise AnalysisProblem(f"no calibrated evidence for the primary endpoint {primary_endpoint!r} (calibrated "
                              f"endpoints: {', '.join(endpoints) or 'none'})",
                              fix="set ranking.primary_endpoint to one of the configured endpoints")
    p = pd.DataFrame({e: _column(evidence, f"calibrated_{e}_p") for e in endpoints})
    q = pd.DataFrame({e: _column(evidence, f"calibrated_{e}_q") for e in endpoints})
    ok = pd.DataFrame({e: qualifies(evidence, e) for e in endpoints})
    strong = ok[primary_endpoint] & (p[primary_endpoint] < strong_p)
    primary_support = ok[primary_endpoint] & (q[primary_endpoint] < supported_q)
    secondary = [e for e in endpoints if e != primary_endpoint]
    secondary_p = p[secondary].where(ok[secondary] & (p[secondary] < strong_p))
    # Ties go to the primary endpoint, then to the endpoints in column order.
    by_p = [primary_endpoint, *secondary]
    smallest_p = p[by_p].fillna(np.inf)
    best_any = smallest_p.idxmin(axis=1).where(p[by_p].notna().any(axis=1), "")
    best_secondary = (secondary_p.fillna(np.inf).idxmin(axis=1).where(secondary_p.notna().any(axis=1), "")
                      if secondary else pd.Series("", index=evidence.index))
    supported = ~strong & (primary_support | (best_secondary != ""))
    tier = np.where(strong, "strong", np.where(supported, "supported", "exploratory"))
    endpoint = np.where(strong | (supported & primary_support), primary_endpoint,
                        np.where(supported, best_secondary, best_any))
    result = pd.DataFrame({"tier": tier, "tier_endpoint": endpoint}, index=evidence.index)
    rows = np.arange(len(evidence))
    columns = {e: i for i, e in enumerate(endpoints)}
    position = np.array([columns.get(e, -1) for e in endpoint])
    for name, values in (("calibrated_p", p), ("calibrated_q", q)):
        taken = values.to_numpy()[rows, np.maximum(position, 0)] if len(endpoints) else np.full(len(rows), np.nan)
        result[name] = np.where(position >= 0, taken, np.nan)
    return result


LEADING_COLUMNS = ["rank", "modality", "feature", "gene", "score", "tier", "tier_endpoint", "calibrated_p",
                   "calibrated_q"]


def rank_candidates(evidence: pd.DataFrame, primary_endpoint: str = "pfs", strong_p: float = 0.05,
                    supported_q: float = 0.25) -> pd.DataFrame:
    """``biomarkers/ranked.tsv``: ``LEADING_COLUMNS``, then the evidence.

    Order: score (descending), then the smallest evidence p-value, then modality and feature, so
    that equal scores are ordered the same way in every run.
    """
    strengths = evidence_lists(evidence)
    aggregated = robust_rank_aggregation(normalised_ranks(strengths))
    table = evidence.copy()
    table["score"] = aggregated["score"]
    tiers = assign_tiers(evidence, primary_endpoint=primary_endpoint, strong_p=strong_p, supported_q=supported_q)
    for column in tiers.columns:
        table[column] = tiers[column]
    p_columns = [c for c in evidence.columns if re.fullmatch(r"(diff|cox)_.+_pvalue", c)]
    table["_best_p"] = evidence[p_columns].astype(float).min(axis=1) if p_columns else np.nan
    table["_modality_key"] = table["modality"].map(_modality_key)
    table = table.sort_values(["score", "_best_p", "_modality_key", "modality", "feature"],
                              ascending=[False, True, True, True, True], kind="stable",
                              na_position="last").drop(columns=["_best_p", "_modality_key"])
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table[LEADING_COLUMNS + [c for c in table.columns if c not in LEADING_COLUMNS]].reset_index(drop=True)


def signal_key(modality: str, feature: str) -> str:
    """The identifier of a candidate in ``signal``: ``modality:feature``."""
    return f"{modality}:{feature}"


def correlated_signals(ranked: pd.DataFrame, values: dict[str, pd.DataFrame], threshold: float = 0.7,
                       window: int = 500, min_patients: int = 8) -> pd.DataFrame:
    """Group the top ``window`` ranked candidates into independent signals (see the module docstring).

    Parameters
    ----------
    ranked : the ranked table (rank order), with modality and feature.
    values : modality -> baseline values, patients x features (one row per patient).
    threshold : |Spearman rho| at or above which a candidate joins a higher-ranked lead.
    window : candidates grouped, from the top; the rest get no signal.
    min_patients : patients with values for both features needed to compute a correlation; fewer
        counts as uncorrelated.

    Returns
    -------
    DataFrame aligned with ``ranked``: ``signal`` (the lead's ``modality:feature``; "" beyond the
    window), ``signal_rank`` (1 = the signal led by the best-ranked candidate) and ``signal_size``
    (candidates in the signal within the window), both nullable integers, missing beyond the window.
    """
    top = ranked.head(window)
    keys = [signal_key(m, f) for m, f in zip(top["modality"].astype(str), top["feature"].astype(str))]
    columns = {}
    for key, modality, feature in zip(keys, top["modality"].astype(str), top["feature"].astype(str)):
        matrix = values.get(modality)
        if matrix is not None and feature in matrix.columns:
            columns[key] = pd.to_numeric(matrix[feature], errors="coerce")
    matrix = pd.DataFrame(columns)
    # Spearman = Pearson of ranks; pandas ranks each column over its own observed patients and needs
    # min_patients shared observations per pair, else NaN (treated as uncorrelated below).
    correlation = matrix.rank().corr(min_periods=min_patients).abs()
    position = {key: i for i, key in enumerate(correlation.index)}
    linked = correlation.to_numpy()
    lead_of: dict[str, str] = {}
    leads: list[str] = []
    for key in keys:
        if key in lead_of:
            continue
        leads.append(key)
        lead_of[key] = key
        if key not in position:
            continue
        row = linked[position[key]]
        for other in keys:
            if other not in lead_of and other in position and row[position[other]] >= threshold:
                lead_of[other] = key
    signal_rank = {lead: i for i, lead in enumerate(leads, start=1)}
    sizes = pd.Series(list(lead_of.values())).value_counts()
    signal = [lead_of[k] for k in keys] + [""] * (len(ranked) - len(keys))
    result = pd.DataFrame({"signal": signal}, index=ranked.index)
    # Nullable integers: whole numbers in the TSV, empty beyond the window.
    result["signal_rank"] = result["signal"].map(signal_rank).astype("Int64")
    result["signal_size"] = result["signal"].map(sizes).astype("Int64")
    return result


def add_signals(ranked: pd.DataFrame, signals: pd.DataFrame) -> pd.DataFrame:
    """``ranked`` with ``signal``, ``signal_rank`` and ``signal_size`` after its leading columns."""
    table = ranked.drop(columns=[c for c in signals.columns if c in ranked.columns])
    position = max(list(table.columns).index(c) for c in LEADING_COLUMNS if c in table.columns) + 1
    for offset, column in enumerate(signals.columns):
        table.insert(position + offset, column, signals[column])
    return table


def recovery_against_truth(ranked: pd.DataFrame, truth: pd.DataFrame, k: int = 10) -> tuple[pd.DataFrame,
                                                                                              pd.DataFrame]:
    """How many planted biomarkers the ranked list recovers in its top ``k``.

    ``truth`` has modality and feature (and optionally programme); features match case-insensitively
    within a modality. Returns (summary with metric, k, value: precision_at_k = planted among the top
    k / k, recall_at_k = planted in the top k / all planted, programmes_recovered = fraction of
    programmes with a member in the top k, n_truth, n_truth_ranked; per planted feature: its rank and
    tier, NaN rank when it is not a candidate).
    """
    key = ranked["modality"].astype(str) + "\x1f" + ranked["feature"].astype(str).str.upper()
    position = dict(zip(key, ranked["rank"].astype(int)))
    tier = dict(zip(key, ranked["tier"]))
    truth = truth.copy()
    truth_key = truth["modality"].astype(str) + "\x1f" + truth["feature"].astype(str).str.upper()
    truth["rank"] = truth_key.map(position).astype(float)
    truth["tier"] = truth_key.map(tier).fillna("")
    truth["in_top_k"] = np.where(truth["rank"] <= k, "yes", "no")
    has_signals = {"signal", "signal_rank"} <= set(ranked.columns)
    if has_signals:
        truth["signal"] = truth_key.map(dict(zip(key, ranked["signal"].fillna("").astype(str)))).fillna("")
        truth["signal_rank"] = truth_key.map(dict(zip(key, _numeric(ranked["signal_rank"])))).astype(float)
    hits = int((truth["rank"] <= k).sum())
    top_k = min(k, len(ranked))
    programmes = truth["programme"] if "programme" in truth else truth["feature"]
    recovered = truth.assign(_programme=programmes.to_numpy()).groupby("_programme")["rank"].min() <= k
    summary = pd.DataFrame([
        {"metric": "precision_at_k", "k": k, "value": hits / top_k if top_k else np.nan},
        {"metric": "recall_at_k", "k": k, "value": hits / len(truth) if len(truth) else np.nan},
        {"metric": "programmes_recovered", "k": k,
         "value": float(recovered.mean()) if len(recovered) else np.nan},
        {"metric": "n_truth", "k": k, "value": float(len(truth))},
        {"metric": "n_truth_ranked", "k": k, "value": float(truth["rank"].notna().sum())},
    ])
    if has_signals:
        summary = pd.concat([summary, _signal_recovery(ranked, truth_key, programmes, k)], ignore_index=True)
    return summary, truth


def _signal_recovery(ranked: pd.DataFrame, truth_key: pd.Series, programmes: pd.Series, k: int) -> pd.DataFrame:
    """Precision of the top-k signals and the programmes leading one of them."""
    leads = ranked[ranked["signal"].fillna("").astype(str)
                   == [signal_key(m, f) for m, f in zip(ranked["modality"], ranked["feature"])]]
    leads = leads[_numeric(leads["signal_rank"]) <= k]
    lead_keys = set(leads["modality"].astype(str) + "\x1f" + leads["feature"].astype(str).str.upper())
    planted_lead = truth_key.isin(lead_keys).to_numpy()
    programme_leads = pd.Series(planted_lead, index=programmes.to_numpy()).groupby(level=0).any()
    top_signals = min(k, len(leads))
    return pd.DataFrame([
        {"metric": "signal_precision_at_k", "k": k,
         "value": int(planted_lead.sum()) / top_signals if top_signals else np.nan},
        {"metric": "programmes_leading_signals", "k": k,
         "value": float(programme_leads.mean()) if len(programme_leads) else np.nan},
    ])

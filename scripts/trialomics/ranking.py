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
  same gene differs nominally (p < ``concordance_p``) in the same direction in one contrast.

Aggregate score (:func:`robust_rank_aggregation`, Kolde et al. 2012, Bioinformatics 28:573): each piece
of evidence orders all candidates (strongest first; ties share the worst rank of their group; missing
evidence ranks last), ranks are normalised to (0, 1], and a candidate's score is
``-log10(rho)`` with ``rho = min_k BetaCDF(r_(k); k, m - k + 1)`` over its sorted normalised ranks
``r_(1) <= ... <= r_(m)`` from the ``m`` lists: how surprisingly high it sits in some of the lists
compared with random ordering. ``rra_p = min(1, m * rho)`` is Kolde's Bonferroni-corrected value.

Tiers (:func:`assign_tiers`):

- strong: for some endpoint, the screen for that endpoint (the differential contrast of the same
  name for responder / clinical_benefit, the Cox screen for pfs / os) has q < ``strong_q``, AND the
  stability frequency for that endpoint is at least ``stability_threshold``, AND the model it came from
  has permutation p < ``model_p``;
- supported: not strong, and at least two of: any screen q < ``supported_q``; any stability frequency
  >= ``supported_stability``; concordant in 2+ modalities; in the leading edge of an enriched gene set;
- exploratory: every other candidate.

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
from scipy.stats import beta

from .models import PRIMARY_METRIC, task_of
from .survival import SURVIVAL_ENDPOINTS

MODALITY_ORDER = ("mutations", "copy_number", "rna", "proteins", "pathways")
LEADING_EDGE_SEPARATORS = re.compile(r"[;,/\s]+")


def _numeric(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series.replace("", np.nan), errors="coerce")


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
                    enrichment_fdr: float = 0.25, concordance_p: float = 0.05) -> pd.DataFrame:
    """One row per candidate (modality, feature) with every evidence column.

    Parameters
    ----------
    differential : (modality, contrast) -> table with feature, effect, pvalue, padj (copy number:
        ``GENE:gain`` / ``GENE:loss`` rows, merged by :func:`copy_number_by_gene`).
    univariate : (modality, endpoint) -> Cox table with feature, hr, pvalue, padj.
    stability : endpoint -> stability table with model, modality, feature, selection_frequency,
        mean_coefficient_sign.
    performance : endpoint -> performance table with model, metric, permutation_p.
    enrichment : (modality, contrast) -> preranked table with gene_set, fdr, leading_edge.
    genes : modality -> Series mapping feature to gene symbol; missing modalities use the feature
        name itself, except pathways (no gene) and the mutation feature ``TMB``.
    tmb : contrast -> the differential stage's TMB comparison (:func:`tmb_as_differential`), added
        to the mutations differential evidence as the feature ``TMB``.
    """
    differential, univariate = dict(differential or {}), univariate or {}
    for key in [k for k in differential if k[0] == "copy_number"]:
        differential[key] = copy_number_by_gene(differential[key])
    for contrast, table in (tmb or {}).items():
        key = ("mutations", contrast)
        rows = tmb_as_differential(table)
        differential[key] = pd.concat([differential[key], rows], ignore_index=True) if key in differential else rows
    stability, performance, enrichment = stability or {}, performance or {}, enrichment or {}
    genes = genes or {}
    candidates = set()
    for (modality, _), table in [*differential.items(), *univariate.items()]:
        candidates.update((modality, str(f)) for f in table["feature"])
    for table in stability.values():
        candidates.update(zip(table["modality"].astype(str), table["feature"].astype(str)))
    index = pd.MultiIndex.from_tuples(
        sorted(candidates, key=lambda c: (_modality_key(c[0]), c[0], c[1])), names=["modality", "feature"])
    evidence = pd.DataFrame(index=index)
    evidence["gene"] = [_gene_of(modality, feature, genes) for modality, feature in index]

    _add_screens(evidence, differential, "diff", ("effect", "pvalue", "padj"))
    _add_screens(evidence, univariate, "cox", ("hr", "pvalue", "padj"))

    for endpoint in sorted(stability):
        _add_stability(evidence, endpoint, stability[endpoint], performance.get(endpoint))

    _add_gene_sets(evidence, enrichment, enrichment_fdr)
    _add_concordance(evidence, differential, concordance_p, genes)
    return evidence.reset_index()


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


def _gene_of(modality: str, feature: str, genes: dict[str, pd.Series]) -> str:
    if modality == "pathways" or (modality == "mutations" and feature == "TMB"):
        return ""
    mapping = genes.get(modality)
    if mapping is not None and feature in mapping.index and str(mapping[feature]):
        return str(mapping[feature])
    return feature


def _add_stability(evidence: pd.DataFrame, endpoint: str, table: pd.DataFrame,
                   performance: pd.DataFrame | None) -> None:
    table = table.assign(selection_frequency=_numeric(table["selection_frequency"]),
                         mean_coefficient_sign=_numeric(table["mean_coefficient_sign"]))
    permutation_p = {}
    if performance is not None and len(performance):
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
                     genes: dict[str, pd.Series]) -> None:
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
    normalised rank), ``rra_p`` = min(1, m * rho) and ``score`` = -log10(rho).
    """
    values = np.sort(ranks.to_numpy(dtype=np.float64), axis=1)
    m = values.shape[1]
    if m == 0:
        rho = np.ones(values.shape[0])
    else:
        k = np.arange(1, m + 1)
        rho = beta.cdf(values, k[None, :], (m - k + 1)[None, :]).min(axis=1)
    return pd.DataFrame({"rho": rho, "rra_p": np.minimum(1.0, m * rho), "score": -np.log10(rho)},
                        index=ranks.index)


def _screen_q(evidence: pd.DataFrame, endpoint: str) -> pd.Series:
    column = f"cox_{endpoint}_padj" if endpoint in SURVIVAL_ENDPOINTS else f"diff_{endpoint}_padj"
    return evidence[column].astype(float) if column in evidence else pd.Series(np.nan, index=evidence.index)


def assign_tiers(evidence: pd.DataFrame, strong_q: float = 0.05, supported_q: float = 0.25,
                 stability_threshold: float = 0.6, supported_stability: float = 0.4,
                 model_p: float = 0.05) -> pd.Series:
    """strong / supported / exploratory per candidate, by the rules in this module's docstring."""
    endpoints = [c[len("stability_"):] for c in evidence.columns
                 if re.fullmatch(r"stability_[a-z_]+", c) and not c.endswith(("_model", "_sign"))]
    strong = pd.Series(False, index=evidence.index)
    for endpoint in endpoints:
        stable = evidence[f"stability_{endpoint}"].astype(float) >= stability_threshold
        honest_model = evidence[f"model_{endpoint}_permutation_p"].astype(float) < model_p
        strong |= (_screen_q(evidence, endpoint) < strong_q) & stable & honest_model
    screen_columns = [c for c in evidence.columns if re.fullmatch(r"(diff|cox)_.+_padj", c)]
    stability_columns = [f"stability_{e}" for e in endpoints]
    screen_hit = (evidence[screen_columns].astype(float) < supported_q).any(axis=1) if screen_columns else False
    stable_hit = ((evidence[stability_columns].astype(float) >= supported_stability).any(axis=1)
                  if stability_columns else False)
    concordant = evidence.get("n_concordant_modalities", pd.Series(0, index=evidence.index)) >= 2
    enriched = evidence.get("n_enriched_gene_sets", pd.Series(0, index=evidence.index)) >= 1
    pieces = (pd.DataFrame({"screen": screen_hit, "stable": stable_hit, "concordant": concordant,
                            "enriched": enriched}, index=evidence.index).astype(int).sum(axis=1))
    tiers = np.where(strong, "strong", np.where(pieces >= 2, "supported", "exploratory"))
    return pd.Series(tiers, index=evidence.index, name="tier")


def rank_candidates(evidence: pd.DataFrame, strong_q: float = 0.05, supported_q: float = 0.25,
                    stability_threshold: float = 0.6, supported_stability: float = 0.4,
                    model_p: float = 0.05) -> pd.DataFrame:
    """``biomarkers/ranked.tsv``: rank, modality, feature, gene, score, tier, rra_p, then the evidence.

    Order: score (descending), then the smallest evidence p-value, then modality and feature, so
    that equal scores are ordered the same way in every run.
    """
    strengths = evidence_lists(evidence)
    aggregated = robust_rank_aggregation(normalised_ranks(strengths))
    table = evidence.copy()
    table["score"] = aggregated["score"]
    table["rra_p"] = aggregated["rra_p"]
    table["tier"] = assign_tiers(evidence, strong_q=strong_q, supported_q=supported_q,
                                 stability_threshold=stability_threshold,
                                 supported_stability=supported_stability, model_p=model_p)
    p_columns = [c for c in evidence.columns if re.fullmatch(r"(diff|cox)_.+_pvalue", c)]
    table["_best_p"] = evidence[p_columns].astype(float).min(axis=1) if p_columns else np.nan
    table["_modality_key"] = table["modality"].map(_modality_key)
    table = table.sort_values(["score", "_best_p", "_modality_key", "modality", "feature"],
                              ascending=[False, True, True, True, True], kind="stable",
                              na_position="last").drop(columns=["_best_p", "_modality_key"])
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    leading = ["rank", "modality", "feature", "gene", "score", "tier", "rra_p"]
    return table[leading + [c for c in table.columns if c not in leading]].reset_index(drop=True)


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
    lead_of: dict[str, str] = {}
    leads: list[str] = []
    for key in keys:
        if key in lead_of:
            continue
        leads.append(key)
        lead_of[key] = key
        if key not in correlation.index:
            continue
        linked = correlation.loc[key]
        for other in keys:
            if other not in lead_of and other in linked.index and linked[other] >= threshold:
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
    """``ranked`` with ``signal``, ``signal_rank`` and ``signal_size`` after ``rra_p``."""
    table = ranked.drop(columns=[c for c in signals.columns if c in ranked.columns])
    position = list(table.columns).index("rra_p") + 1
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

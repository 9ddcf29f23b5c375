"""The headline rules of the summary page: the text never claims more than the tables."""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pandas as pd

from trialomics import report_headline as headline
from trialomics.report import Table
from trialomics.report_headline import TierRules

ENDPOINTS = ["pfs", "os", "responder"]


def ranked_table(**extra_columns) -> pd.DataFrame:
    """A strong PFS signal of two correlated features (its second member supported on OS), one
    exploratory PFS feature; every column as ranked.tsv writes it (text)."""
    table = pd.DataFrame({
        "rank": ["1", "2", "3"], "modality": ["pathways", "rna", "proteins"],
        "feature": ["IFNG_SIGNATURE", "CXCL9", "VEGFA"], "gene": ["", "CXCL9", "VEGFA"],
        "score": ["30.1", "25.0", "3.0"], "tier": ["strong", "supported", "exploratory"],
        "tier_endpoint": ["pfs", "os", "pfs"], "calibrated_p": ["0.004", "0.02", "0.8"],
        "calibrated_q": ["0.01", "0.06", "0.9"],
        "signal": ["pathways:IFNG_SIGNATURE", "pathways:IFNG_SIGNATURE", "proteins:VEGFA"],
        "signal_rank": ["1", "1", "2"], "signal_size": ["2", "2", "1"],
        "diff_responder_effect": ["1.2", "0.9", ""], "diff_responder_padj": ["0.001", "0.2", ""],
        "cox_pfs_hr": ["0.35", "0.9", "1.5"], "cox_pfs_padj": ["0.004", "0.7", "0.3"],
        "cox_pfs_separation": ["no", "no", "no"],
        "cox_os_hr": ["0.5", "0.4", "1.1"], "cox_os_padj": ["0.04", "0.01", "0.9"],
        "cox_os_separation": ["no", "no", "no"],
        "stability_pfs": ["0.9", "", "0.2"], "stability_pfs_model": ["pathways", "", "proteins"],
        "stability_pfs_sign": ["-1.0", "", "1.0"], "model_pfs_permutation_p": ["0.0099", "", "0.41"],
        "stability_os": ["", "0.5", ""], "stability_os_model": ["", "rna", ""],
        "stability_os_sign": ["", "-1.0", ""], "model_os_permutation_p": ["", "0.04", ""],
        "chain_pfs_z": ["-3.5", "-0.4", "0.3"], "calibrated_pfs_p": ["0.004", "0.9", "0.8"],
        "calibrated_pfs_q": ["0.01", "0.9", "0.9"],
        "chain_os_z": ["-2.9", "-3.1", "0.1"], "calibrated_os_p": ["0.03", "0.02", "1.0"],
        "calibrated_os_q": ["0.1", "0.06", "1.0"],
        "chain_responder_z": ["2.0", "1.0", ""], "calibrated_responder_p": ["0.3", "0.7", ""],
        "calibrated_responder_q": ["0.5", "0.8", ""],
    })
    for column, values in extra_columns.items():
        table[column] = values
    return table


def performance_table(estimates: dict, p: dict, metric: str = "c_index") -> pd.DataFrame:
    models = list(estimates)
    return pd.DataFrame({"model": models, "metric": [metric] * len(models),
                         "estimate": [str(estimates[m]) for m in models],
                         "ci_low": [str(estimates[m] - 0.1) for m in models],
                         "ci_high": [str(min(estimates[m] + 0.1, 1.0)) for m in models],
                         "permutation_p": [str(p[m]) for m in models], "n_permutations": ["100"] * len(models)})


def performance() -> dict:
    return {"pfs": performance_table({"pathways": 0.84, "rna": 0.7}, {"pathways": 1 / 101, "rna": 0.2}),
            "os": performance_table({"rna": 0.72, "proteins": 0.49}, {"rna": 0.04, "proteins": 0.6}),
            "responder": performance_table({"rna": 0.47}, {"rna": 0.7}, metric="auc")}


def findings(ranked=None, performance_tables=None, rules=TierRules(), **kwargs):
    return {f.endpoint: f for f in headline.headline_findings(
        ranked_table() if ranked is None else ranked, performance() if performance_tables is None else
        performance_tables, ENDPOINTS, rules, **kwargs)}


def test_primary_endpoint_comes_first():
    ordered = headline.headline_findings(ranked_table(), performance(), ENDPOINTS, TierRules(primary_endpoint="os"))
    assert [f.endpoint for f in ordered] == ["os", "pfs", "responder"]
    assert [f.primary for f in ordered] == [True, False, False]
    ordered = headline.headline_findings(ranked_table(), performance(), ENDPOINTS, TierRules())
    assert [f.endpoint for f in ordered] == ["pfs", "os", "responder"]


def test_a_strong_claim_comes_only_from_a_strong_tier_on_its_endpoint():
    result = findings()
    assert result["pfs"].verdict == "strong"
    assert result["pfs"].sentence.startswith("PFS: strong evidence for IFNG_SIGNATURE (pathways), one signal of 2")
    # The strong candidate's smaller responder screen q does not move its tier: tier_endpoint says PFS.
    assert headline.earned_endpoint(ranked_table().iloc[0]) == "pfs"
    for endpoint in ("os", "responder"):
        assert "strong" not in result[endpoint].sentence.replace("not strong", "")
    weakened = ranked_table(tier=["supported", "supported", "exploratory"])
    assert "strong" not in findings(weakened)["pfs"].sentence.replace("not strong", "")


def test_a_candidate_without_a_tier_endpoint_is_attributed_to_no_endpoint():
    ranked = ranked_table(tier_endpoint=["pfs", "", "pfs"])
    assert headline.earned_endpoint(ranked.iloc[1]) == ""
    assert "os" not in {f.endpoint for f in findings(ranked).values() if f.signals}


def test_an_endpoint_at_chance_says_no_convincing_predictor_with_its_best_model():
    responder = findings()["responder"]
    assert responder.verdict == "none"
    assert responder.sentence == ("Response: no convincing predictor. Best out-of-fold AUC 0.470 (95% CI "
                                  "0.370–0.570; rna model), permutation p 7.0e-01.")


def test_supported_signals_count_only_when_a_model_beats_its_null():
    os_finding = findings()["os"]
    assert os_finding.verdict == "supported"
    assert os_finding.sentence.startswith("OS: supported (not strong) evidence for CXCL9 (rna), one signal of 2")
    at_chance = performance()
    at_chance["os"] = performance_table({"rna": 0.55}, {"rna": 0.3})
    result = findings(performance_tables=at_chance)
    assert result["os"].verdict == "none"
    assert "1 supported signal, but no model beats its permutation null at p < 0.05" in result["os"].sentence
    stricter = findings(rules=TierRules(model_p=0.01))
    assert stricter["os"].verdict == "none"


def test_correlated_candidates_are_one_signal_shown_by_its_best_tier():
    result = findings()
    assert [(s.feature, s.tier, s.signal_size) for s in result["pfs"].signals] == [
        ("IFNG_SIGNATURE", "strong", 2), ("VEGFA", "exploratory", 1)]
    assert [(s.feature, s.tier) for s in result["os"].signals] == [("CXCL9", "supported")]


def test_each_signal_is_shown_by_its_best_tier_then_rank_and_signals_by_tier_then_signal_rank():
    ranked = pd.DataFrame({
        "rank": ["1", "2", "3", "4", "5", "6"],
        "modality": ["rna", "rna", "proteins", "rna", "proteins", "pathways"],
        "feature": ["A", "B", "C", "D", "E", "F"],
        "tier": ["exploratory", "supported", "supported", "exploratory", "exploratory", "supported"],
        "tier_endpoint": ["pfs", "pfs", "pfs", "os", "pfs", "pfs"],
        "signal": ["s1", "s1", "s2", "s3", "s3", ""],
        "signal_rank": ["1", "1", "3", "2", "2", ""],
    })
    signals = headline.endpoint_signals(ranked, "pfs", n=5)
    # s1 by B (supported beats exploratory), s2 by C; F has no signal: its own (modality:feature); then
    # the exploratory s3 by E (D earned OS). Ties in tier go by signal rank, a missing one by rank.
    assert [(s.feature, s.rank, s.signal_rank) for s in signals] == [
        ("B", 2, 1), ("C", 3, 3), ("F", 6, None), ("E", 5, 2)]
    assert [s.feature for s in headline.endpoint_signals(ranked, "pfs", n=2)] == ["B", "C"]
    assert headline.endpoint_signals(ranked.drop(columns="tier_endpoint"), "pfs", n=5) == ()
    without_signals = headline.endpoint_signals(ranked.drop(columns=["signal", "signal_rank"]), "pfs", n=5)
    assert [s.feature for s in without_signals] == ["B", "C", "F", "A", "E"]


def test_evidence_leads_with_the_calibrated_p_and_q_then_the_screen_and_the_model():
    survival = pd.DataFrame({"feature": ["IFNG_SIGNATURE"], "hr": ["0.35"], "ci_low": ["0.2"], "ci_high": ["0.61"],
                             "scale": ["per_sd"]})
    result = findings(screens={("pathways", "pfs"): survival})
    assert result["pfs"].signals[0].evidence == (
        "calibrated p 4.0e-03, q 1.0e-02 (family-wise over every PFS candidate, whole-chain permutations)",
        "hazard ratio 0.350 per SD (95% CI 0.200–0.610), lower hazard with higher values; screen q 4.0e-03 "
        "(within pathways)",
        "selected in 90% of subsamples by the pathways model (model permutation p 9.9e-03)")
    assert result["pfs"].signals[0].calibrated_p == 0.004
    assert "(the smallest possible with 100 permutations)" in result["pfs"].sentence
    # The endpoint's own calibrated columns are quoted, not the tier endpoint's.
    responder = headline.evidence_phrases(ranked_table().iloc[1], "responder")
    assert responder == (
        "calibrated p 7.0e-01, q 8.0e-01 (family-wise over every Response candidate, whole-chain permutations)",
        "log2 fold change +0.9 (response contrast); screen q 2.0e-01 (within rna)")


def test_a_candidate_without_calibrated_evidence_gets_no_p_as_its_headline_number():
    ranked = ranked_table().drop(columns=[c for c in ranked_table().columns if c.startswith("calibrated")])
    signal = findings(ranked)["pfs"].signals[0]
    assert math.isnan(signal.calibrated_p)
    assert not signal.evidence[0].startswith("calibrated") and "screen q" in signal.evidence[0]


def test_tier_criteria_quote_every_calibrated_number_against_its_threshold_and_the_qualifiers():
    candidate = ranked_table().iloc[0]
    assert headline.tier_criteria(candidate, ENDPOINTS, TierRules()) == (
        "PFS (primary), strong: calibrated p 4.0e-03 < 0.05: met",
        "PFS (primary), supported: calibrated q 1.0e-02 < 0.25: met",
        "PFS direction: consistent with the calibrated statistic (z -3.50)",
        "OS, supported: calibrated p 3.0e-02 < 0.05: met",
        "OS direction: consistent with the calibrated statistic (z -2.90)",
        "Response, supported: calibrated p 3.0e-01 < 0.05: not met",
        "Response direction: consistent with the calibrated statistic (z +2.00)")
    flagged = ranked_table(cox_os_separation=["yes", "no", "no"], stability_pfs_sign=["1.0", "", "1.0"]).iloc[0]
    lines = headline.tier_criteria(flagged, ["pfs", "os"], TierRules(primary_endpoint="os", strong_p=0.01))
    assert lines[:3] == ("OS (primary), strong: calibrated p 3.0e-02 < 0.01: not met",
                         "OS (primary), supported: calibrated q 1.0e-01 < 0.25: met",
                         "OS: flagged for separation in the Cox screen, so no tier from OS")
    assert lines[-1] == "PFS direction: model coefficients contradict the calibrated statistic (z -3.50)"


def test_null_rates_and_the_rules_are_stated_with_the_configured_values():
    table = Table("biomarkers/tier_null_rates.tsv", pd.DataFrame({
        "tier": ["strong", "supported"], "reached_when": ["", ""], "null_rate": ["0.04", "0.31"],
        "runs_reaching": ["4", "31"], "n_permutations": ["100", "100"], "seed": ["1", "1"]}))
    rates = headline.null_rates_of(table)
    assert rates["strong"].text() == "4% of permuted runs (4 of 100)"
    assert headline.null_rates_of(None) == {}
    text = headline.headline_rules_text(TierRules(primary_endpoint="os", strong_p=0.01, model_p=0.02), rates)
    assert "only the primary endpoint (OS) can give, at calibrated p < 0.01" in text
    assert "permutation null (p < 0.02)" in text
    assert ("some candidate reached strong in 4% of permuted runs (4 of 100) and supported in 31% of permuted "
            "runs (31 of 100)") in text
    rules = TierRules(strong_p=0.01, supported_q=0.2)
    assert "calibrated p < 0.01" in rules.rule_text("strong") and "PFS" in rules.rule_text("strong")
    assert "calibrated q < 0.2 on PFS" in rules.rule_text("supported")


def test_best_model_is_the_smallest_permutation_p_and_skips_unevaluated_models():
    table = performance_table({"rna": 0.7, "joint": 0.9}, {"rna": 0.02, "joint": 0.02})
    table.loc[len(table)] = {"model": "proteins", "metric": "c_index", "estimate": "", "ci_low": "", "ci_high": "",
                             "permutation_p": "", "n_permutations": "100"}
    model = headline.best_model(table)
    assert (model.model, model.estimate, model.permutation_p) == ("joint", 0.9, 0.02)
    assert not model.at_floor
    assert headline.best_model(table.iloc[2:]) is None
    assert headline.best_model(None) is None


def test_endpoints_without_candidates_or_models_are_left_out():
    result = headline.headline_findings(ranked_table(), {"os": performance()["os"]},
                                        ["pfs", "os", "clinical_benefit"], TierRules())
    assert [f.endpoint for f in result] == ["pfs", "os"]  # clinical_benefit: no candidate, no model
    assert result[0].sentence.endswith("No model was evaluated.")


def test_endpoints_in_reads_the_calibrated_columns_first():
    assert headline.endpoints_in(ranked_table()) == ["responder", "pfs", "os"]
    assert headline.endpoints_in(ranked_table()[["rank", "calibrated_os_p", "cox_pfs_padj"]]) == ["os", "pfs"]


def test_dot_plot_places_signals_by_calibrated_p_with_the_strong_threshold():
    result = headline.headline_findings(ranked_table(), performance(), ENDPOINTS, TierRules(strong_p=0.01))
    fig = headline.signal_dot_plot(result, TierRules(strong_p=0.01))
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    assert titles == ["PFS (primary)", "OS"]  # no signal earned its tier on response
    xs = fig.axes[0].collections[0].get_offsets()[:, 0]
    assert math.isclose(xs[0], -math.log10(0.004))
    assert math.isclose(fig.axes[0].lines[0].get_xdata()[0], 2.0)
    assert "calibrated p" in fig.axes[-1].get_xlabel()
    plt.close(fig)

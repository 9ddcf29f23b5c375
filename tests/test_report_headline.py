"""The headline rules of the summary page: the text never claims more than the tables."""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pandas as pd

from trialomics import report_headline as headline
from trialomics.report_headline import TierRules

ENDPOINTS = ["pfs", "os", "responder"]


def ranked_table(**extra_columns) -> pd.DataFrame:
    """Three candidates: a strong OS signal of two correlated features, one exploratory PFS feature."""
    table = pd.DataFrame({
        "rank": ["1", "2", "3"], "modality": ["pathways", "rna", "proteins"],
        "feature": ["IFNG_SIGNATURE", "CXCL9", "VEGFA"], "gene": ["", "CXCL9", "VEGFA"],
        "score": ["30.1", "25.0", "3.0"], "tier": ["strong", "supported", "exploratory"],
        "rra_p": ["5e-26", "1e-20", "0.4"],
        "signal": ["pathways:IFNG_SIGNATURE", "pathways:IFNG_SIGNATURE", "proteins:VEGFA"],
        "signal_rank": ["1", "1", "2"], "signal_size": ["2", "2", "1"],
        # responder has the smallest q for the strong candidate, but no stability: OS earns the tier
        "diff_responder_effect": ["1.2", "0.9", ""], "diff_responder_padj": ["0.001", "0.2", ""],
        "cox_pfs_hr": ["0.8", "0.9", "1.5"], "cox_pfs_padj": ["0.6", "0.7", "0.3"],
        "cox_os_hr": ["0.35", "0.5", "1.1"], "cox_os_padj": ["0.004", "0.01", "0.9"],
        "stability_os": ["0.9", "0.5", ""], "stability_os_model": ["pathways", "rna", ""],
        "model_os_permutation_p": ["0.0099", "0.3", ""],
        "stability_responder": ["0.1", "", ""], "stability_responder_model": ["pathways", "", ""],
        "model_responder_permutation_p": ["0.5", "", ""],
        "stability_pfs": ["", "", "0.2"], "stability_pfs_model": ["", "", "proteins"],
        "model_pfs_permutation_p": ["", "", "0.41"],
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
    return {"pfs": performance_table({"rna": 0.52, "proteins": 0.49}, {"rna": 0.41, "proteins": 0.6}),
            "os": performance_table({"pathways": 0.84, "rna": 0.7}, {"pathways": 1 / 101, "rna": 0.04}),
            "responder": performance_table({"rna": 0.47}, {"rna": 0.7}, metric="auc")}


def findings(ranked=None, primary="pfs", **kwargs):
    return {f.endpoint: f for f in headline.headline_findings(
        ranked_table() if ranked is None else ranked, performance(), ENDPOINTS, primary, **kwargs)}


def test_primary_endpoint_comes_first():
    assert [f.endpoint for f in headline.headline_findings(ranked_table(), performance(), ENDPOINTS, "os")] == [
        "os", "pfs", "responder"]
    ordered = headline.headline_findings(ranked_table(), performance(), ENDPOINTS, "pfs")
    assert [f.endpoint for f in ordered] == ["pfs", "os", "responder"]
    assert [f.primary for f in ordered] == [True, False, False]


def test_a_strong_claim_comes_only_from_a_strong_tier_on_its_endpoint():
    result = findings()
    os_finding = result["os"]
    assert os_finding.verdict == "strong"
    assert os_finding.sentence.startswith("OS: strong evidence for IFNG_SIGNATURE (pathways), one signal of 2")
    # The strong candidate's smaller responder q does not move its tier to the responder endpoint.
    assert headline.earned_endpoint(ranked_table().iloc[0], ENDPOINTS, TierRules()) == "os"
    for endpoint in ("pfs", "responder"):
        assert "strong" not in result[endpoint].sentence
    weakened = ranked_table(tier=["supported", "supported", "exploratory"])
    assert "strong" not in findings(weakened)["os"].sentence.replace("not strong", "")


def test_an_endpoint_at_chance_says_no_convincing_predictor_with_its_best_model():
    pfs = findings()["pfs"]
    assert pfs.verdict == "none"
    assert pfs.sentence == ("PFS: no convincing predictor. Best out-of-fold C-index 0.520 (95% CI 0.420–0.620; "
                            "rna model), permutation p 4.1e-01.")
    responder = findings()["responder"]
    assert responder.verdict == "none" and "AUC 0.470" in responder.sentence


def test_supported_signals_count_only_when_a_model_beats_its_null():
    # Not strong: the tier goes to the endpoint of the smallest screen q, here OS.
    ranked = ranked_table(tier=["supported", "exploratory", "exploratory"], diff_responder_padj=["0.05", "0.2", ""])
    os_finding = findings(ranked)["os"]
    assert os_finding.verdict == "supported"
    assert os_finding.sentence.startswith("OS: supported (not strong) evidence for IFNG_SIGNATURE")
    at_chance = performance()
    at_chance["os"] = performance_table({"pathways": 0.55}, {"pathways": 0.3})
    result = {f.endpoint: f for f in headline.headline_findings(ranked, at_chance, ENDPOINTS, "pfs")}
    assert result["os"].verdict == "none"
    assert "1 supported signal, but no model beats its permutation null at p < 0.05" in result["os"].sentence


def test_correlated_candidates_are_one_signal_shown_by_its_best_tier():
    os_signals = findings()["os"].signals
    assert [(s.feature, s.tier, s.signal_size) for s in os_signals] == [("IFNG_SIGNATURE", "strong", 2)]
    pfs_signals = findings()["pfs"].signals
    assert [(s.feature, s.tier) for s in pfs_signals] == [("VEGFA", "exploratory")]


def test_evidence_quotes_the_hazard_ratio_interval_q_stability_and_model_p():
    survival = pd.DataFrame({"feature": ["IFNG_SIGNATURE"], "hr": ["0.35"], "ci_low": ["0.2"], "ci_high": ["0.61"],
                             "scale": ["per_sd"]})
    result = findings(screens={("pathways", "os"): survival})
    assert result["os"].signals[0].evidence == (
        "hazard ratio 0.350 per SD (95% CI 0.200–0.610), lower hazard with higher values; screen q 4.0e-03",
        "selected in 90% of subsamples by the pathways model (model permutation p 9.9e-03)")
    assert "(the smallest possible with 100 permutations)" in result["os"].sentence
    responder = headline.evidence_phrases(ranked_table().iloc[1], "responder")
    assert responder == ("log2 fold change +0.9 (response contrast); screen q 2.0e-01",)


def test_calibrated_columns_and_tier_endpoint_are_used_when_present_and_rra_p_never():
    ranked = ranked_table(calibrated_p=["0.001", "0.002", "0.8"], calibrated_q=["0.01", "0.02", "0.9"],
                          tier_endpoint=["pfs", "os", "pfs"])
    result = findings(ranked)
    assert result["pfs"].verdict == "strong"  # the ranking says the strong tier was earned on PFS
    assert [s.feature for s in result["pfs"].signals] == ["IFNG_SIGNATURE", "VEGFA"]
    assert ("calibrated p 1.0e-03, q 1.0e-02 (aggregate score against whole-chain permutations)"
            in result["pfs"].signals[0].evidence)
    assert result["pfs"].signals[0].q == 0.01
    for finding in result.values():
        text = " ".join([finding.sentence, *[p for s in finding.signals for p in s.evidence]])
        assert "rra" not in text and "5.0e-26" not in text


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
    result = headline.headline_findings(ranked_table(), {"os": performance()["os"]}, ["pfs", "os", "clinical_benefit"],
                                        "pfs")
    assert [f.endpoint for f in result] == ["pfs", "os"]  # clinical_benefit: no candidate, no model
    assert result[0].sentence == "PFS: no convincing predictor. No model was evaluated."


def test_dot_plot_has_one_panel_per_endpoint_with_signals():
    result = headline.headline_findings(ranked_table(), performance(), ENDPOINTS, "pfs")
    fig = headline.signal_dot_plot(result)
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    assert titles == ["PFS (primary)", "OS"]
    xs = fig.axes[1].collections[0].get_offsets()[:, 0]
    assert math.isclose(xs[0], -math.log10(0.004))
    plt.close(fig)

"""Ranking of candidate biomarkers: evidence gathering, rank aggregation, tiers, recovery of the truth."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trialomics import ranking


def differential_tables():
    rna = pd.DataFrame({"feature": ["CXCL9", "GZMB", "ACTB", "KRAS"], "effect": [2.0, 1.5, 0.1, -0.3],
                        "stat": [4.0, 3.0, 0.2, -1.0], "pvalue": [0.0001, 0.001, 0.8, 0.02],
                        "padj": [0.002, 0.01, 0.9, 0.2]})
    proteins = pd.DataFrame({"feature": ["CXCL9", "IL6"], "effect": [1.0, -0.5], "stat": [3.0, -0.5],
                             "pvalue": [0.004, 0.6], "padj": [0.008, 0.6]})
    mutations = pd.DataFrame({"feature": ["KRAS", "TP53"], "effect": [-1.2, 0.2], "stat": [-2.0, 0.3],
                              "pvalue": [0.03, 0.7], "padj": [0.06, 0.7]})
    # As read from TSV: strings.
    return {(m, "responder"): t.astype(str) for m, t in
            (("rna", rna), ("proteins", proteins), ("mutations", mutations))}


def evidence_fixture():
    univariate = {("mutations", "pfs"): pd.DataFrame({"feature": ["KRAS", "TP53", "TMB"], "hr": [3.0, 1.1, 0.8],
                                                       "pvalue": [0.001, 0.8, 0.04], "padj": [0.003, 0.8, 0.06],
                                                       "separation": ["no", "no", "no"]}).astype(str)}
    stability = {"responder": pd.DataFrame({
        "model": ["rna", "joint", "joint", "proteins"], "modality": ["rna", "rna", "proteins", "proteins"],
        "feature": ["CXCL9", "CXCL9", "CXCL9", "CXCL9"], "selection_frequency": [0.7, 0.8, 0.3, 0.65],
        "mean_coefficient_sign": [1.0, 1.0, 1.0, 1.0]}).astype(str),
        "pfs": pd.DataFrame({"model": ["mutations"], "modality": ["mutations"], "feature": ["KRAS"],
                             "selection_frequency": ["0.9"], "mean_coefficient_sign": ["1"]})}
    performance = {"responder": pd.DataFrame({"model": ["rna", "joint", "proteins"], "metric": ["auc"] * 3,
                                              "permutation_p": ["0.01", "0.03", "0.2"]}),
                   "pfs": pd.DataFrame({"model": ["mutations", "mutations"], "metric": ["c_index", "c_index_uno"],
                                        "permutation_p": ["0.02", "0.5"]})}
    enrichment = {("rna", "responder"): pd.DataFrame({
        "gene_set": ["IFNG_RESPONSE", "MYC_TARGETS"], "es": ["0.8", "-0.3"], "nes": ["2.1", "-1.0"],
        "pvalue": ["0.001", "0.4"], "fdr": ["0.01", "0.5"], "leading_edge": ["CXCL9;GZMB;STAT1", "MYC"]})}
    # Calibrated chain: KRAS family-wise significant for pfs (HR 3 and z > 0 agree); CXCL9 for responder.
    calibration = pd.DataFrame({
        "modality": ["mutations", "mutations", "rna", "rna", "proteins"] * 2,
        "feature": ["KRAS", "TP53", "CXCL9", "ACTB", "CXCL9"] * 2,
        "endpoint": ["pfs"] * 5 + ["responder"] * 5,
        "z": [4.0, 0.2, -1.0, 0.1, -0.5, -1.0, 0.1, 4.2, 0.1, 3.0],
        "calibrated_p": [0.01, 1.0, 0.9, 1.0, 1.0, 0.9, 1.0, 0.02, 1.0, 0.3],
        "calibrated_q": [0.02, 1.0, 0.8, 1.0, 0.9, 0.8, 1.0, 0.03, 1.0, 0.2]}).astype(str)
    return ranking.gather_evidence(differential_tables(), univariate, stability, performance, enrichment,
                                   calibration=calibration)


def test_gather_evidence_collects_every_piece_per_candidate():
    evidence = evidence_fixture().set_index(["modality", "feature"])
    assert evidence.index.tolist()[:3] == [("mutations", "KRAS"), ("mutations", "TMB"), ("mutations", "TP53")]
    cxcl9 = evidence.loc[("rna", "CXCL9")]
    assert cxcl9["diff_responder_padj"] == 0.002 and cxcl9["diff_responder_effect"] == 2.0
    # Highest frequency over the rna and joint models; permutation p of the model it came from.
    assert cxcl9["stability_responder"] == 0.8 and cxcl9["stability_responder_model"] == "joint"
    assert cxcl9["model_responder_permutation_p"] == 0.03
    assert cxcl9["enriched_gene_sets"] == "IFNG_RESPONSE" and cxcl9["n_enriched_gene_sets"] == 1
    # Higher in responders in RNA (p 1e-4) and in protein (p 0.004): concordant.
    assert cxcl9["concordant_modalities"] == "rna;proteins" and cxcl9["concordance_direction"] == "up"
    assert evidence.loc[("proteins", "CXCL9"), "n_concordant_modalities"] == 2
    # KRAS: down in RNA (p 0.02) and less often mutated in responders (p 0.03).
    assert evidence.loc[("mutations", "KRAS"), "concordant_modalities"] == "mutations;rna"
    assert evidence.loc[("rna", "ACTB"), "n_concordant_modalities"] == 0
    assert evidence.loc[("mutations", "KRAS"), "cox_pfs_hr"] == 3.0
    assert evidence.loc[("mutations", "TMB"), "gene"] == ""
    assert evidence.loc[("rna", "GZMB"), "enriched_gene_sets"] == "IFNG_RESPONSE"
    assert np.isnan(evidence.loc[("rna", "GZMB"), "stability_responder"])
    assert evidence.loc[("mutations", "KRAS"), "cox_pfs_separation"] == "no"
    assert evidence.loc[("rna", "CXCL9"), "calibrated_responder_p"] == 0.02
    assert evidence.loc[("rna", "CXCL9"), "chain_responder_z"] == 4.2
    assert np.isnan(evidence.loc[("rna", "GZMB"), "calibrated_pfs_p"])


def test_normalised_ranks_share_the_worst_rank_of_ties_and_put_missing_last():
    strengths = pd.DataFrame({"a": [3.0, 2.0, 2.0, np.nan]})
    assert ranking.normalised_ranks(strengths)["a"].tolist() == [0.25, 0.75, 0.75, 1.0]


def test_robust_rank_aggregation_by_hand():
    ranks = pd.DataFrame({"l1": [0.1, 0.5, 1.0], "l2": [0.2, 0.5, 0.05]}, index=["A", "B", "C"])
    result = ranking.robust_rank_aggregation(ranks)
    # A: sorted (0.1, 0.2); beta_1 = 1 - 0.9^2 = 0.19, beta_2 = 0.2^2 = 0.04 -> rho 0.04.
    # B: (0.5, 0.5): 0.75 and 0.25 -> 0.25.  C: (0.05, 1.0): 1 - 0.95^2 = 0.0975 and 1 -> 0.0975.
    np.testing.assert_allclose(result["rho"], [0.04, 0.25, 0.0975])
    assert "rra_p" not in result.columns
    assert result["score"].sort_values(ascending=False).index.tolist() == ["A", "C", "B"]


def calibrated_evidence():
    """Seven candidates with calibrated pfs (primary) and responder evidence."""
    return pd.DataFrame({
        "chain_pfs_z": [3.0, 3.0, 3.0, -3.0, 1.0, 1.0, 1.0],
        "calibrated_pfs_p": [0.01, 0.01, 0.01, 0.02, 0.5, 0.5, 0.9],
        "calibrated_pfs_q": [0.01, 0.01, 0.01, 0.02, 0.2, 0.6, 0.9],
        "cox_pfs_hr": [2.0, 2.0, 2.0, 1.5, 1.2, 1.2, 1.2],
        "cox_pfs_separation": ["no", "yes", "no", "no", "no", "no", "no"],
        "stability_pfs": [0.0, 0.0, 0.8, 0.0, 0.0, 0.0, 0.0],
        "stability_pfs_sign": [np.nan, np.nan, -1.0, np.nan, np.nan, np.nan, np.nan],
        "chain_responder_z": [0.0, 0.0, 0.0, 0.0, 0.0, 4.0, -4.0],
        "calibrated_responder_p": [1.0, 1.0, 1.0, 1.0, 1.0, 0.03, 0.03],
        "calibrated_responder_q": [1.0, 1.0, 1.0, 1.0, 1.0, 0.05, 0.05],
        "diff_responder_effect": [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0],
    })


def test_tiers_follow_the_written_rules():
    tiers = ranking.assign_tiers(calibrated_evidence(), primary_endpoint="pfs", strong_p=0.05, supported_q=0.25)
    # 0: family-wise p 0.01 on the primary endpoint, direction agrees -> strong.
    # 1: the same, but the Cox screen flagged separation -> no tier from pfs; responder p 1 -> exploratory.
    # 2: the pfs model's coefficients point the other way -> not strong; q also disqualified -> exploratory.
    # 3: z < 0 but HR 1.5 > 1 contradicts -> exploratory.
    # 4: primary q 0.2 < 0.25 -> supported on pfs.  5: responder p 0.03 -> supported on responder.
    # 6: responder p 0.03 but the differential effect is positive while z < 0 -> exploratory.
    assert tiers["tier"].tolist() == ["strong", "exploratory", "exploratory", "exploratory", "supported",
                                      "supported", "exploratory"]
    assert tiers["tier_endpoint"].tolist() == ["pfs", "pfs", "pfs", "pfs", "pfs", "responder", "responder"]
    assert tiers["calibrated_p"].tolist() == [0.01, 0.01, 0.01, 0.02, 0.5, 0.03, 0.03]
    assert tiers["calibrated_q"].tolist() == [0.01, 0.01, 0.01, 0.02, 0.2, 0.05, 0.05]


def test_only_the_primary_endpoint_makes_a_candidate_strong():
    evidence = calibrated_evidence()
    tiers = ranking.assign_tiers(evidence, primary_endpoint="responder", strong_p=0.05, supported_q=0.25)
    # With responder primary, candidate 5 is strong and candidate 0 only supported (pfs is secondary).
    assert tiers.loc[5, "tier"] == "strong" and tiers.loc[5, "tier_endpoint"] == "responder"
    assert tiers.loc[0, "tier"] == "supported" and tiers.loc[0, "tier_endpoint"] == "pfs"
    with pytest.raises(ValueError, match="primary endpoint 'os'"):
        ranking.assign_tiers(evidence, primary_endpoint="os")


def test_rank_candidates_puts_consistent_evidence_first_and_is_deterministic():
    evidence = evidence_fixture()
    ranked = ranking.rank_candidates(evidence, primary_endpoint="pfs")
    assert list(ranked.columns[:9]) == ["rank", "modality", "feature", "gene", "score", "tier", "tier_endpoint",
                                        "calibrated_p", "calibrated_q"]
    assert "rra_p" not in ranked.columns
    assert ranked["rank"].tolist() == list(range(1, len(ranked) + 1))
    assert ranked["score"].is_monotonic_decreasing
    top = ranked.head(3)[["modality", "feature"]].apply(tuple, axis=1).tolist()
    assert ("rna", "CXCL9") in top and ("mutations", "KRAS") in top
    by_key = ranked.set_index(["modality", "feature"])
    assert by_key.loc[("mutations", "KRAS"), "tier"] == "strong"
    # CXCL9: family-wise p 0.02 on responder, a secondary endpoint -> supported.
    assert by_key.loc[("rna", "CXCL9"), "tier"] == "supported"
    assert by_key.loc[("rna", "CXCL9"), "tier_endpoint"] == "responder"
    assert by_key.loc[("rna", "ACTB"), "tier"] == "exploratory"
    # No calibrated evidence at all: no endpoint, no calibrated p.
    assert by_key.loc[("rna", "GZMB"), "tier_endpoint"] == "" and np.isnan(by_key.loc[("rna", "GZMB"), "calibrated_p"])
    pd.testing.assert_frame_equal(ranked, ranking.rank_candidates(evidence_fixture(), primary_endpoint="pfs"))


def test_recovery_against_truth_by_hand():
    ranked = pd.DataFrame({"rank": range(1, 7), "modality": ["rna", "proteins", "rna", "mutations", "rna", "rna"],
                           "feature": ["CXCL9", "cxcl10", "ACTB", "KRAS", "GZMB", "MYC"],
                           "tier": ["strong", "strong", "exploratory", "supported", "exploratory", "exploratory"]})
    truth = pd.DataFrame({"modality": ["rna", "rna", "proteins", "mutations", "mutations"],
                          "feature": ["CXCL9", "GZMB", "CXCL10", "KRAS", "TMB"],
                          "programme": ["ifng", "ifng", "chemokine", "kras", "tmb"]})
    summary, per_feature = ranking.recovery_against_truth(ranked, truth, k=4)
    values = summary.set_index("metric")["value"]
    # Top 4 holds CXCL9, CXCL10 (case-insensitive) and KRAS: 3 of 4 are planted, 3 of 5 recovered.
    assert values["precision_at_k"] == pytest.approx(0.75)
    assert values["recall_at_k"] == pytest.approx(0.6)
    assert values["programmes_recovered"] == pytest.approx(0.75)  # ifng, chemokine, kras of 4
    assert values["n_truth_ranked"] == 4
    assert per_feature.set_index("feature")["rank"].to_dict()["GZMB"] == 5
    assert np.isnan(per_feature.set_index("feature").loc["TMB", "rank"])


def test_copy_number_events_are_merged_per_gene_with_a_signed_effect():
    table = pd.DataFrame({"feature": ["MTAP:gain", "MTAP:loss", "ERBB2:gain", "TMB"],
                          "effect": ["0.5", "2.0", "1.5", "0.1"], "pvalue": ["0.5", "0.01", "0.04", "0.9"],
                          "padj": ["0.6", "0.05", "0.1", "0.9"]})
    merged = ranking.copy_number_by_gene(table).set_index("feature")
    assert sorted(merged.index) == ["ERBB2", "MTAP", "TMB"]
    # The loss is the stronger MTAP event: lost more often in the target group = lower copy number.
    assert merged.loc["MTAP", "effect"] == -2.0 and merged.loc["MTAP", "pvalue"] == "0.01"
    assert merged.loc["ERBB2", "effect"] == 1.5


def signal_fixture():
    """Six ranked candidates over 10 patients: an immune programme measured three times (rna CXCL9,
    proteins CXCL9, rna GZMB = its negative), an unrelated gene, a mutation carried by 3 patients and
    a pathway score without values."""
    patients = [f"P{i:02d}" for i in range(10)]
    immune = np.array([0.1, 1.2, -0.4, 2.0, 0.7, -1.5, 0.3, 1.1, -0.9, 0.0])
    other = np.array([1.0, -1.0, 0.5, 0.2, -0.3, 0.8, -1.2, 0.4, 0.9, -0.6])
    rna = pd.DataFrame({"CXCL9": immune, "GZMB": -immune * 2 + 0.01 * other, "ACTB": other}, index=patients)
    proteins = pd.DataFrame({"CXCL9": immune ** 3}, index=patients)  # monotone: Spearman rho = 1
    kras = np.zeros(10)
    kras[[0, 6, 9]] = 1  # carriers with middling immune values: |rho| with the programme is small
    mutations = pd.DataFrame({"KRAS": kras}, index=patients)
    ranked = pd.DataFrame({"rank": range(1, 7),
                           "modality": ["proteins", "rna", "mutations", "pathways", "rna", "rna"],
                           "feature": ["CXCL9", "ACTB", "KRAS", "IFNG_SET", "CXCL9", "GZMB"],
                           "tier": ["strong", "exploratory", "supported", "supported", "supported", "exploratory"],
                           "calibrated_q": [0.01] * 6})
    return ranked, {"rna": rna, "proteins": proteins, "mutations": mutations}


def test_correlated_signals_groups_a_programme_under_its_best_ranked_lead():
    ranked, values = signal_fixture()
    signals = ranking.correlated_signals(ranked, values, threshold=0.7, window=6, min_patients=5)
    assert signals["signal"].tolist() == ["proteins:CXCL9", "rna:ACTB", "mutations:KRAS", "pathways:IFNG_SET",
                                          "proteins:CXCL9", "proteins:CXCL9"]
    assert signals["signal_rank"].tolist() == [1, 2, 3, 4, 1, 1]
    assert signals["signal_size"].tolist() == [3, 1, 1, 1, 3, 3]
    rho = values["mutations"]["KRAS"].rank().corr(values["proteins"]["CXCL9"].rank())
    assert abs(rho) < 0.3


def test_correlated_signals_lets_a_lower_ranked_correlated_alteration_join_the_lead():
    ranked, values = signal_fixture()
    kras = np.zeros(10)
    kras[[2, 5, 8]] = 1  # the three patients with the lowest immune values: rho = -0.80 with CXCL9
    values = {**values, "mutations": pd.DataFrame({"KRAS": kras}, index=values["rna"].index)}
    signals = ranking.correlated_signals(ranked, values, threshold=0.7, window=6, min_patients=5)
    assert signals.loc[2, "signal"] == "proteins:CXCL9"
    assert signals["signal_rank"].tolist() == [1, 2, 1, 3, 1, 1]


def test_correlated_signals_leaves_candidates_beyond_the_window_ungrouped():
    ranked, values = signal_fixture()
    signals = ranking.correlated_signals(ranked, values, threshold=0.7, window=2, min_patients=5)
    assert signals["signal"].tolist() == ["proteins:CXCL9", "rna:ACTB", "", "", "", ""]
    assert signals["signal_rank"].iloc[:2].tolist() == [1, 2]
    assert signals["signal_rank"].iloc[2:].isna().all()


def test_correlated_signals_needs_enough_shared_patients():
    ranked, values = signal_fixture()
    values = {**values, "rna": values["rna"].iloc[:4]}  # rna measured in 4 patients only
    signals = ranking.correlated_signals(ranked, values, threshold=0.7, window=6, min_patients=5)
    assert signals.loc[4, "signal"] == "rna:CXCL9"  # too few shared patients to join proteins:CXCL9


def test_add_signals_places_the_columns_after_the_leading_ones_and_recovery_scores_signal_leads():
    ranked, values = signal_fixture()
    table = ranking.add_signals(ranked.assign(extra=1), ranking.correlated_signals(ranked, values, window=6,
                                                                                   min_patients=5))
    assert list(table.columns) == ["rank", "modality", "feature", "tier", "calibrated_q", "signal", "signal_rank",
                                   "signal_size", "extra"]
    truth = pd.DataFrame({"modality": ["rna", "proteins", "mutations", "copy_number"],
                          "feature": ["CXCL9", "CXCL9", "KRAS", "CDKN2A"],
                          "programme": ["ifng", "ifng", "kras", "cdkn2a"]})
    summary, per_feature = ranking.recovery_against_truth(table, truth, k=3)
    values = summary.set_index("metric")["value"]
    # Top 3 signals: proteins:CXCL9 (planted), rna:ACTB, mutations:KRAS (planted); programmes ifng and
    # kras lead one of them, cdkn2a does not.
    assert values["signal_precision_at_k"] == pytest.approx(2 / 3)
    assert values["programmes_leading_signals"] == pytest.approx(2 / 3)
    assert per_feature.set_index("modality").loc["rna", "signal"] == "proteins:CXCL9"
    assert per_feature.set_index("modality").loc["rna", "signal_rank"] == 1

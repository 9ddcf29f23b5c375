"""Batch against every endpoint: exact tests with known answers, the table, and batch as a covariate."""
from __future__ import annotations

import itertools
import math

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2, fisher_exact

from trialomics import batch
from trialomics.survival import logrank_chi2


def test_fisher_two_batches_equals_fishers_exact_test():
    labels = np.array([1, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 1], dtype=bool)
    batches = np.array(["A"] * 6 + ["B"] * 6)
    p, how = batch.freeman_halton_rx2(batches, labels)
    expected = fisher_exact([[5, 1], [1, 5]]).pvalue
    assert how == "exact" and math.isclose(p, expected, rel_tol=1e-9)
    assert math.isclose(p, 0.08008658008658, rel_tol=1e-9)


def test_freeman_halton_three_batches_by_hand():
    # Batches of 2, 2 and 2 patients, 2 responders, both in batch A: tables with both responders in one
    # batch have probability 1/15 each (3 of them), the three split tables 4/15 each; p = 3/15.
    p, how = batch.freeman_halton_rx2(np.array(list("AABBCC")), np.array([1, 1, 0, 0, 0, 0], dtype=bool))
    assert how == "exact" and math.isclose(p, 0.2, rel_tol=1e-9)
    p, _ = batch.freeman_halton_rx2(np.array(list("AABBCC")), np.array([1, 0, 1, 0, 0, 0], dtype=bool))
    assert math.isclose(p, 1.0, rel_tol=1e-9)


def test_freeman_halton_permutation_approximates_the_exact_p(monkeypatch):
    rng = np.random.default_rng(3)
    batches = np.repeat(list("ABCD"), 6)
    labels = rng.random(24) < np.repeat([0.8, 0.2, 0.5, 0.3], 6)
    exact, how = batch.freeman_halton_rx2(batches, labels)
    assert how == "exact"
    monkeypatch.setattr(batch, "EXACT_TABLE_LIMIT", 1)
    sampled, how = batch.freeman_halton_rx2(batches, labels, seed=1)
    assert how == "permutation" and abs(sampled - exact) < 0.02


def test_two_sample_logrank_matches_the_two_group_statistic():
    rng = np.random.default_rng(0)
    time = rng.exponential(10, 16).round(1)
    event = rng.random(16) < 0.7
    group = np.array([0] * 8 + [1] * 8)
    statistic = batch.logrank_k_sample(time, event, group)[0]
    assert math.isclose(statistic, logrank_chi2(time, event, group == 0)[0], rel_tol=1e-9)


def test_k_sample_logrank_is_invariant_to_which_group_is_left_out():
    rng = np.random.default_rng(1)
    time = rng.exponential(10, 18).round(0)  # ties
    event = rng.random(18) < 0.8
    groups = np.repeat([0, 1, 2], 6)
    statistic = batch.logrank_k_sample(time, event, groups)[0]
    relabelled = batch.logrank_k_sample(time, event, (groups + 1) % 3)[0]
    assert statistic > 0 and math.isclose(statistic, relabelled, rel_tol=1e-9)


def test_logrank_batches_exact_p_enumerates_every_assignment():
    time = np.array([1.0, 2, 3, 4, 5, 6, 7, 8])
    event = np.ones(8, dtype=bool)
    batches = np.array(list("AAAABBBB"))  # the four earliest events all in batch A
    statistic, p, how = batch.logrank_batches(time, event, batches)
    null = [batch.logrank_k_sample(time, event, np.isin(np.arange(8), members, invert=True).astype(int))[0]
            for members in itertools.combinations(range(8), 4)]
    assert how == "exact" and math.isclose(p, np.mean(np.array(null) >= statistic * (1 - 1e-7)))
    assert math.isclose(p, 2 / 70)  # only the two extreme splits


def test_logrank_batches_permutation_p_for_three_batches_is_seeded():
    rng = np.random.default_rng(5)
    time, event = rng.exponential(10, 21), rng.random(21) < 0.8
    batches = np.repeat(list("ABC"), 7)
    first, second = (batch.logrank_batches(time, event, batches, seed=7) for _ in range(2))
    assert first == second and first[2] == "permutation"
    assert abs(first[1] - chi2.sf(first[0], 2)) < 0.1  # close to the asymptotic p on 21 patients


def obs_table() -> pd.DataFrame:
    patients = [f"P{i:02d}" for i in range(12)]
    return pd.DataFrame({
        "patient_id": patients,
        "responder": ["yes"] * 5 + ["no"] + ["yes"] + ["no"] * 5,
        "pfs_months": [str(m) for m in range(1, 13)], "pfs_event": ["1"] * 12,
    }).set_index("patient_id")


def test_batch_association_table_tests_every_endpoint_and_says_when_there_is_one_batch():
    obs = obs_table()
    batches = {"rna": pd.Series(["A"] * 6 + ["B"] * 6, index=obs.index),
               "proteins": pd.Series(["plate1"] * 12, index=obs.index)}
    table = batch.batch_association(batches, obs, ["pfs", "responder"], threshold=0.05, seed=3)
    assert list(table.columns) == [*batch.COLUMNS, "seed"]
    assert list(zip(table["modality"], table["endpoint"])) == [("rna", "pfs"), ("rna", "responder"),
                                                               ("proteins", "pfs"), ("proteins", "responder")]
    rna_pfs, rna_responder, proteins_pfs, _ = (table.iloc[i] for i in range(4))
    assert rna_pfs["test"] == "logrank_exact" and math.isclose(rna_pfs["pvalue"], 2 / 924)
    assert rna_responder["test"] == "fisher_exact"
    assert math.isclose(rna_responder["pvalue"], fisher_exact([[5, 1], [1, 5]]).pvalue)
    # BH over the two tests
    assert math.isclose(rna_responder["padj"], rna_responder["pvalue"])
    assert math.isclose(rna_pfs["padj"], 2 * rna_pfs["pvalue"])
    assert (rna_pfs["associated"], rna_responder["associated"]) == ("yes", "no")
    assert proteins_pfs["n_batches"] == 1 and proteins_pfs["test"] == "" and np.isnan(proteins_pfs["pvalue"])
    assert proteins_pfs["associated"] == "" and "one batch" in proteins_pfs["note"]


def test_patient_batches_take_the_baseline_samples_and_name_empty_batches():
    obs = pd.DataFrame({"patient_id": ["P1", "P1", "P2", "P3"], "batch": ["R1", "R2", "", "R1"],
                        "timepoint": ["baseline", "on_treatment", "baseline", "baseline"]},
                       index=["S1", "S2", "S3", "S4"])
    adata = ad.AnnData(np.zeros((4, 1)), obs=obs)
    assert batch.patient_batches(adata).to_dict() == {"P1": "R1", "P2": "none", "P3": "R1"}


def association(associated: str, n_batches: int = 2) -> pd.DataFrame:
    return pd.DataFrame({"modality": ["rna", "proteins"], "endpoint": ["pfs", "pfs"],
                         "n_batches": [str(n_batches), "1"], "padj": ["0.012", ""],
                         "associated": [associated, ""]})


def test_batch_covariate_plan_follows_the_mode_and_the_table():
    blocks = ["pathways", "proteins"]  # pathways take the rna batch; proteins have one batch
    assert batch.batch_covariate_plan(association("yes"), blocks, "pfs", "auto") == (
        ["pathways"], "batch added as unpenalised covariate: pathways (auto: rna batch associated with pfs, "
                      "padj 0.012)")
    assert batch.batch_covariate_plan(association("no"), blocks, "pfs", "auto") == ([], "")
    assert batch.batch_covariate_plan(association("no"), blocks, "pfs", "always")[0] == ["pathways"]
    assert batch.batch_covariate_plan(association("yes"), blocks, "os", "always") == ([], "")  # no row for os
    assert batch.batch_covariate_plan(association("yes"), ["rna_change"], "pfs", "always") == ([], "")
    assert batch.batch_covariate_plan(None, blocks, "pfs", "never") == ([], "")
    with pytest.raises(ValueError, match="auto, always, never"):
        batch.batch_covariate_plan(association("yes"), blocks, "pfs", "sometimes")


def test_batch_covariates_are_one_hot_without_duplicate_columns():
    index = pd.Index(["P1", "P2", "P3", "P4"], name="patient_id")
    rna = pd.Series(["A", "B", "C", "A"], index=index)
    pathways = rna.copy()  # batched like rna: its columns would duplicate rna's
    proteins = pd.Series(["p1", "p2", "p2"], index=index[:3])
    design = batch.batch_covariates({"rna": rna, "pathways": pathways, "proteins": proteins})
    assert list(design.columns) == ["rna_batch=B", "rna_batch=C", "proteins_batch=p2"]
    assert design.loc["P2"].tolist() == [1.0, 0.0, 1.0]
    assert np.isnan(design.loc["P4", "proteins_batch=p2"])

"""Covariate-adjusted whole-chain calibration (Smith's permutation scheme): the null models' outcome
scores against lifelines, statsmodels and a hand computation, the residualised features, which
covariates are adjusted for, and calibration on null cohorts with a prognostic covariate."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from lifelines import CoxPHFitter
from scipy.optimize import minimize_scalar

from trialomics import calibration, null_models
from trialomics.logrank import logrank_scores

ENDPOINTS = ["pfs", "responder"]
NO_COLUMNS = np.zeros((0, 0))


def labels_and_blocks(seed: int, n: int = 40, n_features: int = 50, missing_block: int = 0,
                      missing_covariate: int = 0):
    """Null cohort whose PFS and response depend on a covariate ``stage`` (log HR 1.5, log OR 2), with
    one noise feature ``G00`` correlated with it and ``n_features - 1`` independent ones. The first
    ``missing_block`` patients have no omics sample, the last ``missing_covariate`` no stage."""
    rng = np.random.default_rng(seed)
    patients = pd.Index([f"P{i:02d}" for i in range(n)], name="patient_id")
    stage = rng.normal(size=n)
    values = rng.normal(size=(n, n_features))
    values[:, 0] = stage + 0.5 * values[:, 0]
    pfs = rng.exponential(scale=np.exp(-1.5 * stage))
    censor = rng.exponential(scale=3.0, size=n)
    responder = rng.random(n) < 1.0 / (1.0 + np.exp(-2.0 * stage))
    labels = pd.DataFrame({"patient_id": patients, "pfs_months": np.minimum(pfs, censor),
                           "pfs_event": (pfs <= censor).astype(int),
                           "responder": np.where(responder, "yes", "no")}).astype(str)
    outcomes = calibration.outcome_table(labels, ENDPOINTS)
    omics = pd.DataFrame(values, index=patients, columns=[f"G{j:02d}" for j in range(n_features)])
    block = calibration.chain_block("rna", omics.iloc[missing_block:], outcomes.index, top_variance=None)
    design = pd.DataFrame({"stage": stage}, index=patients)
    design.iloc[n - missing_covariate:] = np.nan
    adjustments = {("rna", endpoint): calibration.Adjustment.of(outcomes.index, design, ["stage"])
                   for endpoint in ENDPOINTS}
    return outcomes, [block], adjustments


def test_without_adjustment_variables_the_scores_are_the_log_rank_scores_and_the_labels_exactly():
    rng = np.random.default_rng(4)
    time = rng.exponential(size=25).round(1)                              # tied times
    event = rng.random(25) < 0.7
    no_columns = np.zeros((25, 0))
    assert np.array_equal(null_models.cox_null_scores(time, event, no_columns), logrank_scores(time, event))
    label = (rng.random(25) < 0.4).astype(float)
    assert np.array_equal(null_models.logistic_null_scores(label, no_columns), label)
    # The whole chain: an adjustment without columns (a covariate with one level) changes nothing, bit
    # for bit, in every run (a block missing patients refits the log-rank scores per run).
    outcomes, blocks, _ = labels_and_blocks(1, missing_block=3)
    orders = calibration.joint_permutations(len(outcomes), 30, seed=2)
    one_level = pd.DataFrame({"site": np.zeros(len(outcomes))}, index=outcomes.index).iloc[:, :0]
    empty = {("rna", e): calibration.Adjustment.of(outcomes.index, one_level, ["site"]) for e in ENDPOINTS}
    for endpoint in ENDPOINTS:
        plain = calibration.chain_statistics(blocks, outcomes, endpoint, orders)
        assert np.array_equal(calibration.chain_statistics(blocks, outcomes, endpoint, orders, empty), plain)
        assert np.array_equal(calibration.chain_statistics(blocks, outcomes, endpoint, orders, {}), plain)


def test_cox_null_scores_are_lifelines_martingale_residuals():
    rng = np.random.default_rng(3)
    design = np.column_stack([rng.normal(size=30), rng.random(30) < 0.4]).astype(float)
    time = rng.exponential(scale=np.exp(-0.8 * design[:, 0]))            # no ties: Efron = Breslow
    event = rng.random(30) < 0.7
    frame = pd.DataFrame({"time": time, "event": event.astype(int), "z0": design[:, 0], "z1": design[:, 1]})
    fitted = CoxPHFitter().fit(frame, "time", "event", fit_options={"precision": 1e-12})
    expected = fitted.compute_residuals(frame, "martingale").sort_index()["martingale"].to_numpy()
    scores = null_models.cox_null_scores(time, event, design)
    np.testing.assert_allclose(scores, expected, atol=1e-7)
    # The covariates' score equation: the scores carry no covariate signal.
    np.testing.assert_allclose(scores @ design, 0.0, atol=1e-10)


def test_cox_null_scores_with_tied_times_by_hand():
    time = np.array([1.0, 1.0, 2.0, 3.0, 3.0, 4.0, 5.0])
    event = np.array([True, True, False, True, True, True, False])
    z = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0])

    def breslow_loglik(beta):                 # sum over event times: sum of deaths' eta - d log S0
        total = 0.0
        for t in np.unique(time[event]):
            deaths = (time == t) & event
            total += beta * z[deaths].sum() - deaths.sum() * np.log(np.exp(beta * z[time >= t]).sum())
        return total

    beta = minimize_scalar(lambda b: -breslow_loglik(b), bounds=(-5, 5), method="bounded",
                           options={"xatol": 1e-10}).x
    hazard = {t: ((time == t) & event).sum() / np.exp(beta * z[time >= t]).sum() for t in np.unique(time[event])}
    expected = [event[j] - np.exp(beta * z[j]) * sum(h for t, h in hazard.items() if t <= time[j])
                for j in range(time.size)]
    np.testing.assert_allclose(null_models.cox_null_scores(time, event, z[:, None]), expected, atol=1e-7)


def test_logistic_null_scores_are_the_residuals_of_the_covariate_only_logit():
    rng = np.random.default_rng(5)
    design = np.column_stack([rng.normal(size=40), rng.random(40) < 0.5]).astype(float)
    label = (rng.random(40) < 1.0 / (1.0 + np.exp(-design[:, 0]))).astype(float)
    fitted = sm.Logit(label, sm.add_constant(design)).fit(disp=0)
    np.testing.assert_allclose(null_models.logistic_null_scores(label, design), label - fitted.predict(),
                               atol=1e-10)
    assert np.array_equal(null_models.logistic_null_scores(np.ones(5), design[:5]), np.zeros(5))
    # A level holding one class only (separation): its patients' scores tend to 0, the fit stays finite.
    separated = null_models.logistic_null_scores(np.array([1.0, 1.0, 0.0, 1.0, 0.0, 0.0]),
                                                 np.array([[1.0], [1.0], [0.0], [0.0], [0.0], [0.0]]))
    assert np.all(np.isfinite(separated)) and np.abs(separated[:2]).max() < 1e-4


def test_features_are_residualised_on_the_adjustment_over_the_patients_with_the_endpoint():
    outcomes, blocks, adjustments = labels_and_blocks(6, missing_block=2, missing_covariate=3)
    block, adjustment = blocks[0], adjustments[("rna", "pfs")]
    has_endpoint = np.ones(block.rows.size, dtype=bool)
    has_endpoint[:4] = False                                             # 4 patients without the endpoint
    values, usable = calibration.residualised_values(block, adjustment, has_endpoint)
    # The patients without stage (the last 3) cannot be residualised: 0, never used.
    assert np.array_equal(usable, np.arange(block.rows.size) < block.rows.size - 3)
    assert np.all(values[~usable] == 0.0)
    fitted = usable & has_endpoint
    design = np.column_stack([np.ones(fitted.sum()), adjustment.design[block.rows][fitted]])
    np.testing.assert_allclose(design.T @ values[fitted], 0.0, atol=1e-10)
    # Patients without the endpoint get the same coefficients.
    coefficients = np.linalg.lstsq(design, block.values[fitted], rcond=None)[0]
    stage = adjustment.design[block.rows][:4, 0]
    np.testing.assert_allclose(values[:4], block.values[:4] - np.column_stack([np.ones(4), stage]) @ coefficients)


def test_the_observed_statistic_is_the_score_z_of_the_complete_cases():
    outcomes, blocks, adjustments = labels_and_blocks(7, missing_block=2, missing_covariate=3)
    orders = calibration.joint_permutations(len(outcomes), 20, seed=3)
    block = blocks[0]
    complete = adjustments[("rna", "pfs")].complete[block.rows]            # the screen's complete cases
    rows = block.rows[complete]
    design = adjustments[("rna", "pfs")].design[rows]
    scores = null_models.cox_null_scores(outcomes["pfs_time"].to_numpy()[rows],
                                         outcomes["pfs_event"].to_numpy()[rows] == 1.0, design)
    values, _ = calibration.residualised_values(block, adjustments[("rna", "pfs")], complete)
    expected = np.sqrt(rows.size - 1) * np.array([np.corrcoef(scores, values[complete, j])[0, 1]
                                                  for j in range(block.features.size)])
    observed = calibration.chain_statistics(blocks, outcomes, "pfs", orders, adjustments)
    np.testing.assert_allclose(observed[0], expected, atol=1e-10)
    # In a permuted run, a patient receiving the row of a patient without stage is left out.
    scores, entered = calibration.outcome_scores(outcomes, "pfs", orders[:, block.rows], adjustments[("rna", "pfs")],
                                                 complete)
    without_stage = ~adjustments[("rna", "pfs")].complete
    assert not entered[without_stage[orders[:, block.rows]]].any()
    assert not entered[:, ~complete].any() and np.all(scores[~entered] == 0.0)


def test_chain_adjustments_follow_the_screens_and_the_models():
    patients = pd.Index(["A", "B", "C", "D"], name="patient_id")
    obs = pd.DataFrame({"ecog": ["0", "1", "", "1"], "sex": ["f", "m", "m", "f"]}, index=patients)
    batches = {"rna": pd.Series(["b1", "b2", "b1", "b2"], index=patients),
               "proteins": pd.Series(["p1", "p1", "p2"], index=patients[:3])}
    batch_table = pd.DataFrame({"modality": ["rna", "rna", "proteins", "proteins"],
                                "endpoint": ["pfs", "responder", "pfs", "responder"], "n_batches": ["2"] * 4,
                                "associated": ["yes", "no", "no", "no"], "padj": ["0.01", "0.8", "0.5", "0.9"]})
    adjustments, notes = calibration.chain_adjustments(
        obs, patients, ["pfs", "responder"], ["rna", "proteins"], survival_covariates=["ecog"],
        model_covariates=["sex"], batches=batches, batch_table=batch_table, batch_mode="auto")
    assert adjustments[("rna", "pfs")].names == ("ecog", "sex", "rna_batch")
    assert adjustments[("proteins", "pfs")].names == ("ecog", "sex")
    assert adjustments[("rna", "responder")].names == ("sex",)
    assert len(notes) == 1 and notes[0].startswith("pfs / rna: batch added")
    # Columns: ecog, sex=m, rna_batch=b2; patient C has no ecog: missing, left out of pfs.
    np.testing.assert_array_equal(adjustments[("rna", "pfs")].design[[0, 1, 3]],
                                  [[0, 0, 0], [1, 1, 1], [1, 0, 1]])
    assert adjustments[("rna", "pfs")].complete.tolist() == [True, True, False, True]
    assert adjustments[("rna", "responder")].complete.all()
    nothing, _ = calibration.chain_adjustments(obs, patients, ["pfs"], ["rna"], batch_table=batch_table,
                                               batches=batches, batch_mode="never")
    assert nothing == {}


@pytest.mark.parametrize("missing", [(0, 0), (3, 2)], ids=["complete", "missing_omics_and_stage"])
def test_a_prognostic_covariate_fools_the_unadjusted_chain_and_not_the_adjusted_one(missing):
    missing_block, missing_covariate = missing
    smallest_old, smallest_new, correlated_old = [], [], []
    for seed in range(40):
        outcomes, blocks, adjustments = labels_and_blocks(seed, missing_block=missing_block,
                                                          missing_covariate=missing_covariate)
        old, _ = calibration.calibrate(blocks, outcomes, ENDPOINTS, "pfs", 99, seed=seed)
        new, _ = calibration.calibrate(blocks, outcomes, ENDPOINTS, "pfs", 99, seed=seed, adjustments=adjustments)
        smallest_old.append(old.groupby("endpoint")["calibrated_p"].min())
        smallest_new.append(new.groupby("endpoint")["calibrated_p"].min())
        correlated_old.append(old.set_index(["endpoint", "feature"])["calibrated_p"])
        assert (new["adjusted_for"] == "stage").all() and (old["adjusted_for"] == "").all()
    smallest_old, smallest_new = pd.DataFrame(smallest_old), pd.DataFrame(smallest_new)
    correlated_old = pd.DataFrame(correlated_old)
    for endpoint in ENDPOINTS:
        # Unadjusted, the noise feature that goes with the covariate is "found" in most cohorts.
        assert (correlated_old[(endpoint, "G00")] < 0.05).mean() >= 0.4
        assert (smallest_old[endpoint] < 0.05).mean() >= 0.4
        # Adjusted, the smallest calibrated p is about uniform on {1..100}/100: P(< 0.05) = 0.04; of 40
        # cohorts, 6 or more below 0.05 has probability 0.02 under that law.
        assert (smallest_new[endpoint] < 0.05).sum() <= 5
        assert 0.3 < smallest_new[endpoint].mean() < 0.7

"""Calibration of the models' evidence (issue 11): the permutation scheme with covariates, the
permutation-pivot interval's coverage on null data, and the minimum-information rule."""
from __future__ import annotations

import numpy as np
import pandas as pd

from trialomics import model_engine, model_metrics, models
from trialomics.model_preprocess import Outcome
from trialomics.seeds import derive_seed


def prognostic_covariate_cohort(seed: int, n: int = 20, p: int = 30):
    """Noise omics and one strongly prognostic covariate (log hazard ratio 1.5 per SD)."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, p)), columns=[f"g{j}" for j in range(p)])
    age = rng.normal(size=n)
    X["covariate:age"] = age
    event_time = rng.exponential(10 * np.exp(-1.5 * age))
    censor_time = rng.exponential(30, n)
    outcome = Outcome.of_survival(np.minimum(event_time, censor_time), event_time <= censor_time)
    kinds = pd.Series({"covariate:age": "covariate"})
    return X, outcome, models.make_preprocess(X.columns, kinds=kinds, top_variance=None)


def outcome_permutation_p(X, outcome, preprocess, model, n_permutations: int, seed: int) -> float:
    """The old scheme: permute the outcome while the covariate stays in X (tests covariate + omics)."""
    values = X.to_numpy(float)
    split_seed = derive_seed(seed, "outer")
    plan = model_engine.plan_outer_cv(outcome.strata, n_splits=3, n_repeats=1, survival=True)
    predictions, _ = model_engine.out_of_fold_predictions(values, outcome, preprocess, model, plan, split_seed)
    observed = model_metrics.repeat_averaged_scores(outcome, predictions)["c_index"]
    null = []
    for i in range(n_permutations):
        permuted = outcome.take(model_engine.permutation_order(len(outcome), derive_seed(seed, "permutation", i)))
        plan = model_engine.plan_outer_cv(permuted.strata, n_splits=3, n_repeats=1, survival=True)
        predictions, _ = model_engine.out_of_fold_predictions(values, permuted, preprocess, model, plan, split_seed)
        null.append(model_metrics.repeat_averaged_scores(permuted, predictions)["c_index"])
    return models.permutation_p(observed, np.array(null))


def test_permuting_omics_rows_is_calibrated_where_permuting_the_outcome_is_not():
    old, new, increments = [], [], []
    for seed in range(8):
        X, outcome, preprocess = prognostic_covariate_cohort(300 + seed)
        model = models.make_model(models.SURVIVAL, n_alphas=6, seed=seed)
        old.append(outcome_permutation_p(X, outcome, preprocess, model, 10, seed))
        evaluation = models.evaluate_model(X, outcome, preprocess, model, n_splits=3, n_repeats=1,
                                           n_permutations=10, seed=seed)
        row = evaluation.performance.set_index("metric").loc["c_index"]
        assert row["permutation_scheme"] == "omics_rows"
        new.append(row["permutation_p"])
        increments.append(row["increment"])
        assert row["increment"] == row["estimate"] - row["covariate_only_estimate"]
        assert row["covariate_only_estimate"] > 0.6  # the covariate alone predicts
    print(f"outcome permutation p {np.round(old, 2)}; omics-row permutation p {np.round(new, 2)}; "
          f"increments {np.round(increments, 3)}")
    # The old scheme rejects for the covariate's sake; with 10 permutations p = 1/11 is the smallest p.
    assert sum(p <= 0.1 for p in old) >= 6
    # The new one tests the omics beyond the covariate: under the null P(p <= 1/11) = 1/11 per cohort.
    assert sum(p <= 0.1 for p in new) <= 2
    assert np.mean(increments) < 0.02


def test_permutation_pivot_interval_covers_one_half_on_null_data():
    # Documented tolerance: 40 null cohorts, coverage of 0.5 at least 85 % (95 % minus three binomial
    # standard deviations, sqrt(0.95 * 0.05 / 40) = 0.034). 39 permutations, so that the null's 2.5 and
    # 97.5 % quantiles lie between its two smallest and two largest values.
    covered, widths = [], []
    for seed in range(40):
        rng = np.random.default_rng(500 + seed)
        X = pd.DataFrame(rng.normal(size=(20, 10)), columns=[f"g{j}" for j in range(10)])
        label = np.array([1] * 8 + [0] * 12)
        rng.shuffle(label)
        evaluation = models.evaluate_model(X, Outcome.of_label(label), models.make_preprocess(X.columns),
                                           models.make_model(models.CLASSIFICATION, n_alphas=5, seed=seed),
                                           n_splits=3, n_repeats=1, n_permutations=39, seed=seed)
        row = evaluation.performance.iloc[0]
        covered.append(row["ci_low"] <= 0.5 <= row["ci_high"])
        widths.append(row["ci_high"] - row["ci_low"])
        assert row["null_q025"] <= row["null_median"] <= row["null_q975"]
    print(f"coverage {np.mean(covered):.3f}, mean width {np.mean(widths):.3f}")
    assert np.mean(covered) >= 0.85
    assert np.mean(widths) < 0.6


def test_models_below_the_minimum_information_are_skipped_with_a_note():
    rng = np.random.default_rng(7)
    patients = [f"P{i:02d}" for i in range(20)]
    rna = pd.DataFrame(rng.normal(size=(20, 15)), index=patients, columns=[f"G{j}" for j in range(15)])
    obs = pd.DataFrame({"patient_id": patients, "responder": ["yes"] * 4 + ["no"] * 16,
                        "pfs_months": rng.uniform(1, 20, 20).astype(str), "pfs_event": ["1"] * 8 + ["0"] * 12})
    survival = models.fit_endpoint_model({"rna": rna}, obs, "pfs", "rna", n_permutations=2, min_events=10)
    assert survival["performance"]["note"].str.contains("8 events; survival models need at least 10").all()
    assert survival["performance"]["estimate"].isna().all() and survival["oof"].empty
    binary = models.fit_endpoint_model({"rna": rna}, obs, "responder", "rna", n_permutations=2, min_per_class=5)
    assert binary["performance"]["note"].str.contains("smaller outcome group has 4 patients").all()
    # At the threshold the model is fitted.
    fitted = models.fit_endpoint_model({"rna": rna}, obs, "pfs", "rna", n_permutations=2, min_events=8,
                                       stability_subsamples=2, repeats=1)
    assert (fitted["performance"]["note"] == "").all() and not fitted["oof"].empty

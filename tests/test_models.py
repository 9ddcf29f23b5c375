"""Honest validation of the penalised models: leakage, null calibration, planted signal, stability."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import ttest_ind
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.feature_selection import SelectKBest, f_classif
from sksurv.metrics import concordance_index_censored
from lifelines.statistics import logrank_test

from trialomics import fold_kernels, model_engine, model_metrics, model_preprocess, models
from trialomics.model_preprocess import Outcome, PreprocessSpec
from trialomics.proteins import DownshiftedNormalImputer
from trialomics.survival import covariate_matrix, prefilter_mask


def noise_matrix(rng, n: int, p: int) -> pd.DataFrame:
    return pd.DataFrame(rng.normal(size=(n, p)), index=[f"P{i:02d}" for i in range(n)],
                        columns=[f"g{j}" for j in range(p)])


def null_binary(seed: int, n: int = 20, p: int = 100, positives: int = 7):
    rng = np.random.default_rng(seed)
    label = np.array([1] * positives + [0] * (n - positives))
    rng.shuffle(label)
    return noise_matrix(rng, n, p), Outcome.of_label(label)


def null_survival(seed: int, n: int = 20, p: int = 100):
    rng = np.random.default_rng(seed)
    event_time, censor_time = rng.exponential(10, n), rng.exponential(20, n)
    outcome = pd.DataFrame({"time": np.minimum(event_time, censor_time), "event": event_time <= censor_time})
    return noise_matrix(rng, n, p), models.make_target(outcome, models.SURVIVAL)


def preprocessing(X: pd.DataFrame, **settings) -> PreprocessSpec:
    return models.make_preprocess(X.columns, **{"top_variance": 50, **settings})


def nested_model(task: str, seed: int = 0):
    return models.make_model(task, n_alphas=8, inner_folds=3, seed=seed)


def oof_predictions(X, y, task, seed, plan, **settings):
    return model_engine.out_of_fold_predictions(X.to_numpy(float), y, preprocessing(X, **settings),
                                                nested_model(task, seed), plan, seed)


def oof_metric(X, y, task: str, seed: int, scheme: str = "kfold", repeats: int = 1, folds: int = 5,
               **settings) -> float:
    plan = model_engine.plan_outer_cv(y.strata, scheme=scheme, n_splits=folds, n_repeats=repeats,
                                      survival=task == models.SURVIVAL)
    predictions, _ = oof_predictions(X, y, task, seed, plan, **settings)
    return model_metrics.repeat_averaged_scores(y, predictions)[models.PRIMARY_METRIC[task]]


# ------------------------------------------------------------------------- honest validation

def test_selection_outside_cv_is_optimistic_on_null_data_and_ours_is_not():
    X, label = null_binary(seed=2024, n=20, p=2000)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    # Leaky: the 20 features most associated with the labels of ALL patients, then cross-validation.
    label = label.label
    top = SelectKBest(f_classif, k=20).fit(X, label).get_support()
    leaky = cross_val_predict(LogisticRegression(), X.loc[:, top], label, cv=folds,
                              method="decision_function")
    leaky_auc = roc_auc_score(label, leaky)
    # The same model with the selection inside the folds.
    honest = cross_val_predict(make_pipeline(SelectKBest(f_classif, k=20), LogisticRegression()), X, label,
                               cv=folds, method="decision_function")
    honest_auc = roc_auc_score(label, honest)
    # Ours: nested CV with filtering, scaling and univariate selection refitted inside every fold.
    ours_auc = oof_metric(X, Outcome.of_label(label), models.CLASSIFICATION, seed=1, top_variance=500, select_k=20)
    print(f"null data AUC: selection outside CV {leaky_auc:.3f}, inside CV {honest_auc:.3f}, "
          f"our nested pipeline {ours_auc:.3f}")
    assert leaky_auc > 0.85
    assert abs(honest_auc - 0.5) < 0.25
    assert abs(ours_auc - 0.5) < 0.2
    assert leaky_auc - ours_auc > 0.25


def test_held_out_label_never_influences_its_own_prediction():
    X, label = null_binary(seed=5, n=12, p=40, positives=5)
    plan = model_engine.plan_outer_cv(label.strata, scheme="loo")
    before, _ = oof_predictions(X, label, models.CLASSIFICATION, 0, plan, select_k=10)
    for patient in (0, 7):
        flipped = label.label.copy()
        flipped[patient] = 1 - flipped[patient]
        after, _ = oof_predictions(X, Outcome.of_label(flipped), models.CLASSIFICATION, 0, plan, select_k=10)
        assert after[patient, 0] == before[patient, 0]


def test_null_data_out_of_fold_auc_and_c_index_centre_on_one_half():
    aucs = [oof_metric(*null_binary(seed), models.CLASSIFICATION, seed, folds=3) for seed in range(8)]
    cs = [oof_metric(*null_survival(100 + seed), models.SURVIVAL, seed, folds=3) for seed in range(8)]
    print(f"null AUC mean {np.mean(aucs):.3f} {np.round(aucs, 2)}; C mean {np.mean(cs):.3f} {np.round(cs, 2)}")
    assert abs(np.mean(aucs) - 0.5) < 0.1
    assert abs(np.mean(cs) - 0.5) < 0.1


def test_null_data_permutation_p_values_are_not_concentrated_near_zero():
    pvalues = []
    for seed in range(6):
        X, y = null_survival(200 + seed, p=40)
        evaluation = models.evaluate_model(X, y, preprocessing(X, top_variance=None),
                                           nested_model(models.SURVIVAL, seed), n_splits=3, n_repeats=1, n_permutations=10,
                                           seed=seed)
        pvalues.append(evaluation.performance.set_index("metric").loc["c_index", "permutation_p"])
    print(f"null permutation p-values: {np.round(pvalues, 2)}")
    # With 10 permutations p lies in {1/11, ..., 1}; under the null P(p <= 0.1) = 1/11 per seed.
    assert sum(p <= 0.1 for p in pvalues) <= 2
    assert np.mean(pvalues) > 0.3


def test_planted_feature_is_predicted_out_of_fold_and_selected_most_stably():
    rng = np.random.default_rng(8)
    X, label = null_binary(seed=8, p=200)
    X["g0"] += 3.0 * label.label  # a 3-SD shift in responders
    evaluation = models.evaluate_model(X, label, preprocessing(X), nested_model(models.CLASSIFICATION),
                                       n_repeats=2, n_permutations=4, seed=3)
    auc = evaluation.performance.set_index("metric").loc["auc"]
    # Every permuted run scores lower: p = 1 / (1 + 4), the smallest value 4 permutations allow.
    assert auc["estimate"] > 0.75 and auc["permutation_p"] == pytest.approx(0.2)
    assert auc["ci_low"] < auc["estimate"] < auc["ci_high"]
    table, summary = models.stability_selection(X, label, preprocessing(X),
                                                models.make_model(models.CLASSIFICATION), n_subsamples=20,
                                                q=5, seed=4)
    assert table.iloc[0]["feature"] == "g0" and table.iloc[0]["selected"] == "yes"
    assert table.iloc[0]["mean_coefficient_sign"] == 1.0

    # Survival: a feature with log hazard ratio 2 per SD.
    X = noise_matrix(rng, 20, 200)
    event_time = rng.exponential(10 * np.exp(-2.0 * X["g3"].to_numpy()))
    censor_time = rng.exponential(40, 20)
    y = models.make_target(pd.DataFrame({"time": np.minimum(event_time, censor_time),
                                         "event": event_time <= censor_time}), models.SURVIVAL)
    # No variance prefilter here: the planted feature has unit variance like the noise.
    assert oof_metric(X, y, models.SURVIVAL, seed=1, repeats=3, top_variance=None) > 0.75
    table, _ = models.stability_selection(X, y, preprocessing(X, top_variance=None),
                                          models.make_model(models.SURVIVAL), n_subsamples=20, q=5, seed=4)
    assert table.iloc[0]["feature"] == "g3"


def test_evaluation_is_deterministic():
    X, label = null_binary(seed=9, p=30)
    first = models.evaluate_model(X, label, preprocessing(X), nested_model(models.CLASSIFICATION), n_splits=3,
                                  n_repeats=1, n_permutations=1, seed=5)
    second = models.evaluate_model(X, label, preprocessing(X), nested_model(models.CLASSIFICATION), n_splits=3,
                                   n_repeats=1, n_permutations=1, seed=5)
    pd.testing.assert_frame_equal(first.performance, second.performance)
    pd.testing.assert_frame_equal(first.oof, second.oof)


# ------------------------------------------------------------------------------- building blocks

def test_meinshausen_buhlmann_bound_hand_value():
    # q = 8 selected of p = 500 at threshold 0.6: 64 / (0.2 * 500) = 0.64 false selections at most.
    assert models.meinshausen_buhlmann_bound(8, 500, 0.6) == pytest.approx(0.64)
    assert models.meinshausen_buhlmann_bound(5, 20, 0.9) == pytest.approx(25 / (0.8 * 20))
    with pytest.raises(ValueError):
        models.meinshausen_buhlmann_bound(5, 20, 0.5)


def test_first_to_enter_orders_by_entry_then_size():
    path = np.array([[0, 0, 0.1],      # enters third
                     [0, 0.2, 0.5],    # enters second, smaller than row 3
                     [0.3, 0.4, 0.4],  # enters first
                     [0, 0.5, 0.6],    # enters second, larger
                     [0, 0, 0]])       # never
    assert model_engine.first_to_enter(path, 3).tolist() == [2, 3, 1]
    assert model_engine.first_to_enter(path, 10).tolist() == [2, 3, 1, 0]
    exclude = np.array([False, False, True, False, False])
    assert model_engine.first_to_enter(path, 2, exclude).tolist() == [3, 1]


def test_complementary_halves_are_disjoint_balanced_halves():
    strata = np.array([1] * 7 + [0] * 12)
    first, second = model_engine.complementary_halves(strata, np.random.default_rng(0))
    assert len(first) == len(second) == 9 and not set(first) & set(second)
    assert abs(strata[first].sum() - strata[second].sum()) <= 1 and strata[first].sum() in (3, 4)


def test_complementary_pairs_bound_hand_values():
    # Shah & Samworth (2013) eq. 8; q = 8 of p = 500 (theta = 0.016), B = 50 pairs.
    # tau = 0.6: C = 1 / (2 (0.2 - 0.01)) = 2.6316; bound = C * theta * q = 0.33684.
    assert models.complementary_pairs_bound(8, 500, 0.6, 50) == pytest.approx(0.336842, rel=1e-5)
    # tau = 0.9: C = 4 (0.1 + 0.01) / 1.02 = 0.43137; bound = 0.055216.
    assert models.complementary_pairs_bound(8, 500, 0.9, 50) == pytest.approx(0.0552157, rel=1e-5)
    # Sharper than the assumption-free bound q^2 / ((2 tau - 1) p) = 0.64 at tau = 0.6.
    assert models.complementary_pairs_bound(8, 500, 0.6, 50) < models.meinshausen_buhlmann_bound(8, 500, 0.6)
    # With few pairs the 1/(2B) terms cost: B = 5, tau = 0.65 gives C = 1 / (2 * 0.2) = 2.5, bound 0.32.
    assert models.complementary_pairs_bound(8, 500, 0.65, 5) == pytest.approx(0.32)
    # Outside its range: tau not above 0.5 + 1/(2B) + 0.75 theta^2 = 0.6002 (B = 5), or theta > 1/sqrt(3).
    assert np.isnan(models.complementary_pairs_bound(8, 500, 0.6, 5))
    assert np.isnan(models.complementary_pairs_bound(8, 10, 0.9, 50))


def test_outer_plan_lowers_k_to_the_minority_count():
    assert model_engine.plan_outer_cv(np.array([1] * 3 + [0] * 17), n_splits=5, n_repeats=4).n_splits == 3
    assert model_engine.plan_outer_cv(np.array([1] * 8 + [0] * 12), n_splits=5).label() == "repeated_stratified_5fold"
    assert model_engine.plan_outer_cv(np.array([1] * 8 + [0] * 12), scheme="loo").label() == "leave_one_out"
    with pytest.raises(ValueError, match="need at least 2"):
        model_engine.plan_outer_cv(np.array([1] + [0] * 19))
    # Survival: K follows the events; without censoring the folds cannot be stratified.
    every_event = model_engine.plan_outer_cv(np.ones(20, dtype=int), n_splits=5, n_repeats=5, survival=True)
    assert every_event.label() == "repeated_5fold"
    splits = model_engine.outer_splits(np.ones(20, dtype=int), every_event, seed=0)
    assert len(splits) == 25 and sorted(np.concatenate([test for r, _, test in splits if r == 0])) == list(range(20))
    assert model_engine.plan_outer_cv(np.array([1] * 3 + [0] * 17), survival=True).n_splits == 3
    with pytest.raises(ValueError, match="event"):
        model_engine.plan_outer_cv(np.array([1] + [0] * 19), survival=True)


def test_metrics_agree_with_reference_implementations():
    rng = np.random.default_rng(1)
    time = rng.integers(1, 10, 25).astype(float)
    event = rng.random(25) < 0.6
    risk = np.round(rng.normal(size=25), 1)  # ties in the risk score
    reference = concordance_index_censored(event, time, risk)[0]
    assert model_metrics.harrell_c(time, event, risk) == pytest.approx(reference)
    label = (rng.random(25) < 0.4).astype(int)
    assert model_metrics.roc_auc(label, risk) == pytest.approx(roc_auc_score(label, risk))
    logits = rng.normal(size=(25, 1))
    assert model_metrics.binomial_log_likelihood(label, logits)[0] == pytest.approx(
        -25 * log_loss(label, 1 / (1 + np.exp(-logits[:, 0]))))


def test_cox_partial_likelihood_and_score_by_hand():
    eta = np.array([[0.0], [1.0], [2.0]])
    expected = (0 - np.log(1 + np.e + np.e ** 2)) + (1 - np.log(np.e + np.e ** 2)) + (2 - 2)
    assert model_metrics.cox_log_partial_likelihood([1, 2, 3], [1, 1, 1], eta)[0] == pytest.approx(expected)
    # Censored patients only sit in risk sets.
    expected = 1 - np.log(np.e + np.e ** 2)
    assert model_metrics.cox_log_partial_likelihood([1, 2, 3], [0, 1, 0], eta)[0] == pytest.approx(expected)
    # For a 0/1 covariate without tied times the score test is the log-rank test.
    rng = np.random.default_rng(2)
    time, event = rng.permutation(30).astype(float) + 1, rng.random(30) < 0.7
    group = rng.random(30) < 0.5
    z = model_preprocess.cox_score_z(group[:, None].astype(float), time, event)[0]
    reference = logrank_test(time[group], time[~group], event[group], event[~group]).test_statistic
    assert z ** 2 == pytest.approx(reference)


def test_welch_t_matches_scipy():
    rng = np.random.default_rng(3)
    X, label = rng.normal(size=(15, 3)), np.array([1] * 6 + [0] * 9)
    reference = ttest_ind(X[label == 1], X[label == 0], equal_var=False).statistic
    np.testing.assert_allclose(model_preprocess.welch_t(X, label), reference)


def test_prefilter_applies_top_variance_within_each_modality():
    X = pd.DataFrame({"rna:a": [0, 1, 2, 3.0], "rna:b": [0, 0, 0, 1.0], "proteins:c": [0, 0.1, 0.1, 0.2],
                      "covariate:age": [50, 60, 70, 80.0]})
    groups = pd.Series({"rna:a": "rna", "rna:b": "rna", "proteins:c": "proteins", "covariate:age": "covariate"})
    kinds = pd.Series({"rna:a": "continuous", "rna:b": "continuous", "proteins:c": "continuous",
                       "covariate:age": "covariate"})
    spec = models.make_preprocess(X.columns, kinds=kinds, groups=groups, top_variance=1)
    fitted, values = model_preprocess.fit_preprocess(spec, X.to_numpy(float), Outcome.of_label([0, 1, 0, 1]))
    assert list(X.columns[fitted.columns]) == ["rna:a", "proteins:c", "covariate:age"]
    assert values.shape == (4, 3) and fitted.unpenalised.tolist() == [False, False, True]


def test_variance_screen_gives_the_prefilter_of_every_row_subset():
    rng = np.random.default_rng(11)
    # Many columns with graded variances, a few with missing values, some alterations, two modalities.
    X = rng.normal(size=(19, 3000)) * rng.uniform(0.2, 3.0, 3000)
    X[rng.random(X.shape) < 0.02] = np.nan
    X[:, :200] = (rng.random((19, 200)) < 0.3).astype(float)
    X[:, :30] = (rng.random((19, 30)) < 0.05).astype(float)   # rare alterations: some can never pass
    kinds = np.where(np.arange(3000) < 200, "binary", "continuous").astype(object)
    groups = np.where(np.arange(3000) < 1500, "rna", "proteins").astype(object)
    spec = PreprocessSpec.for_columns(3000, kinds=kinds, groups=groups, top_variance=100)
    screened = spec.screened_on(X)
    assert len(screened.screen.always) < 200
    for size in (17, 15, 12, 10, 9):
        rows = np.sort(rng.choice(19, size, replace=False))
        # The reference: survival.prefilter_mask on the copied rows (numpy's nanvar), every column.
        exact = np.flatnonzero(prefilter_mask(X[rows], spec.kinds, spec.groups, max_missing=spec.max_missing,
                                              min_altered=spec.min_altered,
                                              min_altered_fraction=spec.min_altered_fraction, top_variance=100))
        in_place = model_preprocess._prefilter(X, rows, spec, np.arange(3000))
        np.testing.assert_array_equal(np.flatnonzero(in_place), exact)
        np.testing.assert_array_equal(screened.screen.prefilter(X[rows], spec), exact)
        np.testing.assert_array_equal(screened.screen.prefilter(X, spec, rows), exact)


@given(seed=st.integers(0, 2**32 - 1), n_rows=st.integers(2, 25), n_columns=st.integers(0, 60),
       max_missing=st.sampled_from([0.0, 0.2, 0.5, 1.0]), min_altered=st.integers(0, 4),
       min_altered_fraction=st.sampled_from([0.0, 0.1, 0.33]), top_variance=st.sampled_from([None, 0, 1, 3, 10]))
@settings(max_examples=300, deadline=None)
def test_compiled_prefilter_rules_equal_the_reference(seed, n_rows, n_columns, max_missing, min_altered,
                                                      min_altered_fraction, top_variance):
    from trialomics.survival import prefilter_mask_of_statistics

    rng = np.random.default_rng(seed)
    kinds = rng.choice(["continuous", "binary", "covariate"], n_columns, p=[0.6, 0.3, 0.1])
    groups = rng.choice(["rna", "proteins", "mutations"], n_columns)
    observed = rng.integers(0, n_rows + 1, n_columns).astype(float)
    altered = np.floor(observed * rng.random(n_columns))
    variance = rng.choice([0.0, 0.5, 1.0, 2.5, np.nan], n_columns)       # ties, constants, too few values
    spec = PreprocessSpec.for_columns(n_columns, kinds=kinds, groups=groups)
    expected = prefilter_mask_of_statistics(n_rows, observed, variance, altered, spec.kinds, spec.groups,
                                            max_missing, min_altered, min_altered_fraction, top_variance)
    compiled = fold_kernels.prefilter_of_statistics(
        n_rows, observed, variance, altered, spec.kind_codes, spec.groups, int(spec.groups.max(initial=-1)) + 1,
        float(max_missing), float(min_altered), float(min_altered_fraction),
        -1 if top_variance is None else top_variance)
    np.testing.assert_array_equal(compiled, expected)


def test_row_preprocessing_reuses_a_fold_and_equals_a_fresh_fit():
    rng = np.random.default_rng(12)
    X = rng.normal(size=(14, 60))
    X[rng.random(X.shape) < 0.1] = np.nan
    spec = PreprocessSpec.for_columns(60, imputer=DownshiftedNormalImputer(random_state=2), top_variance=20,
                                      select_k=8)
    data = model_preprocess.RowPreprocessing(spec, X)
    rows = np.array([0, 2, 3, 5, 7, 8, 9, 11, 12, 13])
    for label in ([0, 1] * 5, [1, 1, 0, 0, 1, 0, 1, 0, 0, 1]):
        outcome = Outcome.of_label(label)
        fresh, fresh_values = model_preprocess.fit_preprocess(spec, X[rows], outcome)
        for _ in range(2):   # the second fit on these rows reuses the first one's prefilter and imputer
            fitted, values = data.fit(rows, outcome)
            np.testing.assert_array_equal(values, fresh_values)
            np.testing.assert_array_equal(fitted.columns, fresh.columns)
            np.testing.assert_array_equal(fitted.mean, fresh.mean)
            np.testing.assert_array_equal(model_preprocess.transform(fitted, X, rows[:4]),
                                          model_preprocess.transform(fresh, X[rows[:4]]))
    assert len(data._learned) == 1


def test_imputation_fills_only_its_columns_and_refuses_other_gaps():
    X = pd.DataFrame({"rna:a": [1.0, 2.0, 3.0], "proteins:p1": [np.nan, 2.0, 4.0],
                      "proteins:p2": [1.0, np.nan, 5.0]})
    outcome = Outcome.of_label([0, 1, 0])
    spec = models.make_preprocess(X.columns, imputer=SimpleImputer(strategy="mean"),
                                  impute_columns=("proteins:p1", "proteins:p2"), top_variance=None)
    fitted, _ = model_preprocess.fit_preprocess(spec, X.to_numpy(float), outcome)
    filled = model_preprocess.transform(fitted, X.to_numpy(float)) * fitted.scale + fitted.mean
    np.testing.assert_allclose(filled[:, 1:], [[3.0, 1.0], [2.0, 3.0], [4.0, 5.0]])
    np.testing.assert_allclose(filled[:, 0], [1.0, 2.0, 3.0])
    proteins = np.arange(12, dtype=float).reshape(3, 4)
    proteins[1, 2] = np.nan
    spec = PreprocessSpec.for_columns(4, imputer=DownshiftedNormalImputer(random_state=1), top_variance=None)
    fitted, values = model_preprocess.fit_preprocess(spec, proteins, outcome)
    imputed = values * fitted.scale + fitted.mean
    assert not np.isnan(imputed).any() and imputed[1, 2] < np.nanmean(proteins[1])
    with pytest.raises(ValueError, match="without an imputer"):
        model_preprocess.fit_preprocess(models.make_preprocess(X.columns, top_variance=None), X.to_numpy(float),
                                        outcome)


def test_univariate_selection_keeps_covariates_and_the_associated_column():
    rng = np.random.default_rng(4)
    label = np.array([1] * 8 + [0] * 8)
    X = pd.DataFrame(rng.normal(size=(16, 5)), columns=["a", "b", "c", "d", "covariate:age"])
    X["c"] += 3 * label
    kinds = pd.Series({"covariate:age": "covariate"})
    spec = models.make_preprocess(X.columns, kinds=kinds, select_k=1, top_variance=None)
    fitted, _ = model_preprocess.fit_preprocess(spec, X.to_numpy(float), Outcome.of_label(label))
    assert list(X.columns[fitted.columns]) == ["c", "covariate:age"]


def test_assemble_block_joins_modalities_by_patient_with_prefixes():
    rna = pd.DataFrame({"CXCL9": [1.0, 2.0, 3.0]}, index=["A", "B", "C"])
    mutations = pd.DataFrame({"KRAS": [1.0, 0.0]}, index=["B", "C"])
    outcome = pd.DataFrame({"label": [1, 0, 1]}, index=["A", "B", "C"])
    covariates = pd.DataFrame({"age": [60.0, np.nan, 70.0]}, index=["A", "B", "C"])
    kinds = {"rna": pd.Series({"CXCL9": "continuous"}), "mutations": pd.Series({"KRAS": "binary"})}
    X, column_kinds, groups = models.assemble_block({"rna": rna, "mutations": mutations}, kinds, outcome,
                                                    covariates)
    assert X.index.tolist() == ["C"]
    assert X.columns.tolist() == ["rna:CXCL9", "mutations:KRAS", "covariate:age"]
    assert column_kinds.tolist() == ["continuous", "binary", "covariate"]
    assert models.split_feature_name("rna:CXCL9", ["rna", "mutations"]) == ("rna", "CXCL9")
    assert models.split_feature_name("HLA:A", ["proteins"]) == ("proteins", "HLA:A")


def test_fit_endpoint_model_reports_every_table_and_unevaluable_blocks():
    rng = np.random.default_rng(6)
    patients = [f"P{i:02d}" for i in range(20)]
    responder = np.array(["yes"] * 7 + ["no"] * 13)
    obs = pd.DataFrame({"patient_id": patients, "responder": responder, "age": rng.normal(60, 8, 20).astype(str)})
    rna = pd.DataFrame(rng.normal(size=(20, 40)), index=patients, columns=[f"G{j}" for j in range(40)])
    rna["G0"] += 2.0 * (responder == "yes")
    proteins = pd.DataFrame(rng.normal(size=(20, 10)), index=patients, columns=[f"P{j}" for j in range(10)])
    proteins.iloc[0, 1] = np.nan
    result = models.fit_endpoint_model(
        {"rna": rna, "proteins": proteins}, obs, "responder", "joint", covariates=covariate_matrix(obs, ["age"]),
        imputer=SimpleImputer(), n_alphas=6, repeats=1, n_permutations=3,
        stability_subsamples=10, stability_q=3, top_variance=20, seed=7)
    performance = result["performance"]
    assert list(performance.columns[:6]) == ["model", "metric", "estimate", "ci_low", "ci_high", "permutation_p"]
    assert performance.loc[0, "n_patients"] == 20 and performance.loc[0, "n_positive"] == 7
    assert performance.loc[0, "n_features"] == 50
    assert set(result["stability"]["modality"]) == {"rna", "proteins"}
    assert "covariate" not in set(result["stability"]["modality"])
    assert result["stability"].iloc[0]["feature"] == "G0"
    assert result["stability_summary"].loc[0, "q_mean"] <= 3
    assert list(result["stability_summary"].columns[-4:]) == ["n_patients", "seed", "n_pairs",
                                                              "expected_false_selections_bound_unimodal"]
    assert list(result["performance"].columns[-2:]) == ["interval", "permutation_scheme"]
    assert (result["performance"]["permutation_scheme"] == "omics_rows").all()
    assert len(result["oof"]) == 20 and len(result["permutations"]) == 3

    too_few = obs.assign(responder=["yes"] + ["no"] * 19)
    result = models.fit_endpoint_model({"rna": rna}, too_few, "responder", "rna", n_permutations=3)
    assert result["performance"]["note"].str.startswith("not evaluated").all()
    assert result["stability"].empty

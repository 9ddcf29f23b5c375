"""The array engine of the models: its solvers equal the reference estimators, its resampling equals
scikit-learn's splitters under the documented seeds, and its results do not depend on ``n_jobs``."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedKFold

from trialomics import model_engine, model_metrics, models
from trialomics.model_paths import cox_elastic_net_path, logistic_l1_path
from trialomics.model_preprocess import Outcome, fit_preprocess
from trialomics.seeds import derive_seed


def standardised(rng, n: int, p: int) -> np.ndarray:
    X = rng.normal(size=(n, p)) * rng.uniform(0.5, 2.0, p)
    return (X - X.mean(axis=0)) / X.std(axis=0)


def test_cox_path_without_penalised_columns_is_the_unpenalised_fit_at_every_penalty():
    rng = np.random.default_rng(3)
    time, event = rng.exponential(10, 15), rng.random(15) < 0.8
    alphas, coef = cox_elastic_net_path(np.zeros((15, 0)), time, event, np.zeros(0, dtype=bool), n_alphas=4)
    assert coef.shape == (0, 4) and len(alphas) == 4
    covariate = rng.normal(size=(15, 1))
    _, coef = cox_elastic_net_path(covariate, time, event, np.array([True]), alphas=alphas)
    # The same coefficient at every penalty, and it maximises the partial likelihood (tiny ridge aside).
    assert np.allclose(coef, coef[:, :1]) and coef[0, 0] != 0
    best = model_metrics.cox_log_partial_likelihood(time, event, covariate @ coef[:, :1])[0]
    assert all(model_metrics.cox_log_partial_likelihood(time, event, covariate * (coef[0, 0] + step))[0] < best
               for step in (-0.01, 0.01))


def test_logistic_path_equals_converged_liblinear_logistic_regression_on_a_set_of_fits():
    rng = np.random.default_rng(1)
    worst = 0.0
    for fit in range(12):
        n, p = (16, 150) if fit % 2 else (13, 30)
        X = standardised(rng, n, p)
        label = np.array([1] * 6 + [0] * (n - 6))
        rng.shuffle(label)
        unpenalised = np.zeros(p, dtype=bool)
        unpenalised[-1] = fit % 3 == 0
        alphas, coef, intercepts = logistic_l1_path(X, label, unpenalised, n_alphas=8, alpha_min_ratio=0.05)
        scale = np.where(unpenalised, 100.0, 1.0)
        for i, alpha in enumerate(alphas):
            reference = LogisticRegression(C=1.0 / (n * alpha), l1_ratio=1.0, solver="liblinear",
                                           intercept_scaling=100.0, max_iter=100000, tol=1e-12,
                                           random_state=0).fit(X * scale, label)
            worst = max(worst, np.abs(reference.coef_[0] * scale - coef[:, i]).max(),
                        abs(reference.intercept_[0] - intercepts[i]))
    assert worst <= 1e-6
    # One class only: intercept-only fit at the smoothed log-odds.
    _, coef, intercepts = logistic_l1_path(X, np.ones(len(X), dtype=int), unpenalised, n_alphas=3)
    assert not coef.any() and intercepts == pytest.approx(np.log((len(X) + 0.5) / 0.5))


def test_outer_folds_and_permutations_follow_the_documented_splitters_and_seeds():
    rng = np.random.default_rng(2)
    X = pd.DataFrame(rng.normal(size=(18, 30)), index=[f"P{i}" for i in range(18)])
    X.columns = [f"g{j}" for j in range(30)]
    label = np.array([1] * 7 + [0] * 11)
    outcome = Outcome.of_label(label)
    preprocess = models.make_preprocess(X.columns, top_variance=20)
    model = models.make_model(models.CLASSIFICATION, n_alphas=5, seed=3)
    evaluation = models.evaluate_model(X, outcome, preprocess, model, n_splits=3, n_repeats=2, n_permutations=2,
                                       seed=9)
    # The observed out-of-fold predictions, refitted by hand on scikit-learn's folds.
    values = X.to_numpy(float)
    splitter = RepeatedStratifiedKFold(n_splits=3, n_repeats=2, random_state=derive_seed(9, "outer"))
    expected = np.full((18, 2), np.nan)
    for i, (train, test) in enumerate(splitter.split(label, label)):
        fitted = model_engine.fit_nested(values[train], outcome.take(train), preprocess, model)
        expected[test, i // 3] = fitted.predict(values[test])
    np.testing.assert_array_equal(evaluation.oof["prediction"].to_numpy().reshape(18, 2), expected)
    # Permutation i permutes the labels with numpy's default_rng(derive_seed(seed, "permutation", i)), and
    # the folds are stratified on the permuted labels.
    order = np.random.default_rng(derive_seed(9, "permutation", 1)).permutation(18)
    permuted = outcome.take(order)
    plan = model_engine.plan_outer_cv(permuted.strata, n_splits=3, n_repeats=2)
    predictions, _ = model_engine.out_of_fold_predictions(values, permuted, preprocess, model, plan,
                                                          derive_seed(9, "outer"))
    assert evaluation.permutations.loc[1, "auc"] == np.mean([
        model_metrics.roc_auc(permuted.label, predictions[:, r]) for r in range(2)])
    # Inner folds: stratified K-fold seeded with the model's seed.
    inner = model_engine.inner_splits(label, 3, 3)
    reference = list(StratifiedKFold(n_splits=3, shuffle=True, random_state=3).split(label, label))
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(inner, reference))


def test_stability_subsamples_are_the_documented_complementary_pairs():
    rng = np.random.default_rng(4)
    X = pd.DataFrame(rng.normal(size=(20, 40)), columns=[f"g{j}" for j in range(40)])
    label = np.array([1] * 8 + [0] * 12)
    outcome = Outcome.of_label(label)
    preprocess = models.make_preprocess(X.columns, top_variance=None)
    model = models.make_model(models.CLASSIFICATION)
    table, summary = models.stability_selection(X, outcome, preprocess, model, n_subsamples=6, q=3, seed=6)
    counts = np.zeros(40, dtype=int)
    for b in range(3):
        pair = model_engine.complementary_halves(label, np.random.default_rng(derive_seed(6, "pair", b)))
        assert not set(pair[0]) & set(pair[1])
        for rows in pair:
            assert label[rows].sum() == 4 and len(rows) == 10
            fitted, values = fit_preprocess(preprocess, X.to_numpy(float)[rows], outcome.take(rows))
            path = model_engine.fit_path(model.with_grid(50, 0.01), values, outcome.take(rows), fitted.unpenalised)
            counts[fitted.columns[model_engine.first_to_enter(path.coef, 3)]] += 1
    by_feature = table.set_index("feature")["times_selected"]
    assert all(by_feature.get(f"g{j}", 0) == counts[j] for j in range(40))
    assert summary["q_mean"] == 3 and summary["n_pairs"] == 3 and summary["n_subsamples"] == 6


@pytest.mark.parametrize("task", [models.SURVIVAL, models.CLASSIFICATION])
def test_results_do_not_depend_on_n_jobs(task):
    rng = np.random.default_rng(5)
    X = pd.DataFrame(rng.normal(size=(16, 25)), columns=[f"g{j}" for j in range(25)])
    if task == models.SURVIVAL:
        outcome = Outcome.of_survival(rng.exponential(10, 16), rng.random(16) < 0.7)
    else:
        outcome = Outcome.of_label(np.array([1] * 6 + [0] * 10))
    preprocess = models.make_preprocess(X.columns, top_variance=15)
    model = models.make_model(task, n_alphas=5)
    runs = [models.evaluate_model(X, outcome, preprocess, model, n_splits=3, n_repeats=1, n_permutations=4,
                                  seed=2, n_jobs=n_jobs) for n_jobs in (1, 2)]
    pd.testing.assert_frame_equal(runs[0].performance, runs[1].performance)
    pd.testing.assert_frame_equal(runs[0].permutations, runs[1].permutations)


@pytest.mark.parametrize("survival", [True, False])
def test_a_path_stopped_once_q_columns_entered_selects_the_same_first_q(survival):
    # Stability selection reads only the first q columns to enter: the path stops after the penalty at
    # which q have entered; the penalties before it are those of the whole path, bit for bit.
    from trialomics.model_engine import PathSpec, fit_path, first_to_enter
    from trialomics.model_preprocess import Outcome

    rng = np.random.default_rng(9)
    X = rng.normal(size=(16, 60))
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    outcome = (Outcome.of_survival(rng.exponential(10, 16) * np.exp(-X[:, 0]), rng.random(16) < 0.7)
               if survival else Outcome.of_label((X[:, 0] + rng.normal(0, 1, 16) > 0).astype(int)))
    unpenalised = np.zeros(60, dtype=bool)
    unpenalised[59] = True
    model = PathSpec(survival).with_grid(50, 0.01)
    whole = fit_path(model, X, outcome, unpenalised)
    for q in (1, 4, 8):
        stopped = fit_path(model, X, outcome, unpenalised, stop_entered=q)
        done = int(np.isfinite(stopped.coef).all(axis=0).sum())
        assert 0 < done < 50 and np.isnan(stopped.coef[:, done:]).all()
        assert np.array_equal(stopped.coef[:, :done], whole.coef[:, :done])
        entered = (stopped.coef[~unpenalised, :done] != 0).any(axis=1).sum()
        assert entered >= q > (whole.coef[~unpenalised, :done - 1] != 0).any(axis=1).sum()
        assert np.array_equal(first_to_enter(stopped.coef, q, unpenalised), first_to_enter(whole.coef, q, unpenalised))


@pytest.mark.parametrize("survival", [True, False])
def test_a_nested_fit_computes_its_path_up_to_the_chosen_penalty_only(survival):
    # The inner folds choose the penalty on the grid of the whole training set; the path on it is then
    # computed up to that penalty: the same grid, and bit for bit the whole path's coefficients there.
    from trialomics.model_engine import PathSpec, fit_nested, fit_path
    from trialomics.model_preprocess import Outcome, PreprocessSpec

    rng = np.random.default_rng(5)
    X = standardised(rng, 24, 80)
    outcome = (Outcome.of_survival(rng.exponential(10, 24) * np.exp(-1.5 * X[:, 0]), rng.random(24) < 0.8)
               if survival else Outcome.of_label((X[:, 0] + rng.normal(0, 0.5, 24) > 0).astype(int)))
    model = PathSpec(survival, n_alphas=12, alpha_min_ratio=0.01, seed=4)
    spec = PreprocessSpec.for_columns(80, top_variance=None)
    fitted = fit_nested(X, outcome, spec, model)
    _, values = fit_preprocess(spec, X, outcome)
    whole = fit_path(model, values, outcome, np.zeros(80, dtype=bool))
    chosen = fitted.alpha_index
    assert 0 < chosen < 11   # a penalty inside the grid: the later ones are skipped
    assert np.array_equal(fitted.path.alphas, whole.alphas)
    assert np.array_equal(fitted.path.coef[:, :chosen + 1], whole.coef[:, :chosen + 1])
    assert np.isnan(fitted.path.coef[:, chosen + 1:]).all()
    assert np.array_equal(fitted.coef, whole.coef[:, chosen])
    assert np.array_equal(fitted.predict(X), (values @ whole.coef)[:, chosen])


def test_a_path_that_does_not_converge_is_logged_not_silent(monkeypatch, caplog):
    # Its penalties get NaN coefficients (they can never be chosen); the job's log says so.
    from trialomics import model_paths

    def not_converging(X, *args, **kwargs):
        raise ArithmeticError("L1 logistic path not converged within 10 proximal Newton iterations")

    rng = np.random.default_rng(2)
    X, label = rng.normal(size=(30, 4)), np.r_[np.zeros(15, dtype=int), np.ones(15, dtype=int)]
    monkeypatch.setattr(model_paths, "l1_logistic_path", not_converging)
    with caplog.at_level("WARNING", logger="trialomics.model_paths"):
        _, coef, _ = model_paths.logistic_l1_path(X, label, np.zeros(4, dtype=bool))
    assert np.isnan(coef).all()
    assert "L1 logistic path on 30 patients x 4 features: L1 logistic path not converged" in caplog.text

    caplog.clear()
    monkeypatch.setattr(model_paths, "elastic_net_cox_path",
                        lambda X, *args, **kwargs: (np.full((X.shape[1], 10), np.nan), 3))
    with caplog.at_level("WARNING", logger="trialomics.model_paths"):
        model_paths.cox_elastic_net_path(X, rng.exponential(1, 30), np.ones(30, dtype=bool), np.zeros(4, dtype=bool))
    assert "not converged from penalty 4 of 10" in caplog.text
    # A stability path stopped once 2 columns entered (at its third penalty) is not a failure; one that
    # failed before 2 entered is.
    stopped = np.full((4, 10), np.nan)
    stopped[:, :3] = [[0.0, 0.1, 0.2], [0.0, 0.0, -0.1], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    for coef, logged in ((stopped, False), (np.where(np.arange(10) < 2, stopped, np.nan), True)):
        monkeypatch.setattr(model_paths, "elastic_net_cox_path",
                            lambda X, *args, coef=coef, **kwargs: (coef, int((~np.isnan(coef[0])).sum())))
        caplog.clear()
        with caplog.at_level("WARNING", logger="trialomics.model_paths"):
            model_paths.cox_elastic_net_path(X, rng.exponential(1, 30), np.ones(30, dtype=bool),
                                             np.zeros(4, dtype=bool), stop_entered=2)
        assert ("not converged from penalty" in caplog.text) is logged


def test_a_survival_model_chosen_at_its_grids_first_penalty_has_no_penalised_coefficient():
    # The first penalty of the grid a nested fit makes on its training rows zeroes every penalised
    # coefficient (glmnet's null model); chosen there, the model must report no feature at all. Before
    # this was solved as such, rounding let the top-scoring column in with a ~1e-16 coefficient, and the
    # demo's coefficients.tsv listed it as the final model's feature.
    from trialomics.model_engine import PathSpec, fit_nested
    from trialomics.model_preprocess import Outcome, PreprocessSpec

    chosen_first = 0
    for seed in range(30):
        rng = np.random.default_rng(seed)
        n, p = int(rng.integers(10, 21)), int(rng.integers(20, 200))
        X = standardised(rng, n, p)
        outcome = Outcome.of_survival(rng.exponential(10, n), rng.random(n) < 0.7)   # noise: nothing predicts
        fitted = fit_nested(X, outcome, PreprocessSpec.for_columns(p, top_variance=None), PathSpec(True, seed=seed))
        if fitted.alpha_index == 0:
            chosen_first += 1
            assert not fitted.coef.any() and not fitted.predict(X).any()
    assert chosen_first >= 5

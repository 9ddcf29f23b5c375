"""The numba L1 logistic path: liblinear's optimum (converged tightly), KKT conditions, edge cases."""
import numpy as np
import pytest
from sklearn.svm import _liblinear

from trialomics.logistic_path import l1_logistic_path
from trialomics.model_paths import decreasing_grid, logistic_alpha_max
from trialomics.model_paths import logistic_l1_path as model_logistic_path

LIBLINEAR_L1_LOGISTIC = 6  # liblinear's solver type for L1-regularised logistic regression (primal)
# What scikit-learn passes to liblinear for random_state=0: check_random_state(0).randint(INT_MAX).
LIBLINEAR_SEED = int(np.random.RandomState(0).randint(np.iinfo("i").max))

INTERCEPT_PENALTY = 0.01  # what model_paths uses: liblinear's constant column of intercept_scaling 100


def standardised(rng, n, p):
    X = rng.normal(size=(n, p))
    return (X - X.mean(axis=0)) / X.std(axis=0)


def shuffled_labels(rng, n, positives):
    label = np.zeros(n, dtype=int)
    label[:positives] = 1
    rng.shuffle(label)
    return label


def tight_liblinear(X, label, alphas, penalty_factor):
    """liblinear's L1 logistic regression as model_paths calls it, converged to tol 1e-12."""
    n = len(label)
    scale = 1.0 / penalty_factor
    scaled = np.ascontiguousarray(X * scale)
    coef, intercepts = np.zeros((X.shape[1], len(alphas))), np.zeros(len(alphas))
    _liblinear.set_verbosity_wrap(0)
    for i, alpha in enumerate(alphas):
        raw, _ = _liblinear.train_wrap(scaled, label.astype(np.float64), False, LIBLINEAR_L1_LOGISTIC, 1e-12,
                                       1.0 / INTERCEPT_PENALTY, 1.0 / (n * alpha), np.ones(2), 1_000_000,
                                       LIBLINEAR_SEED, 0.1, np.ones(n))
        coef[:, i] = raw[0, :-1] * scale
        intercepts[i] = raw[0, -1] / INTERCEPT_PENALTY
    return coef, intercepts


def kkt_violation(X, label, alpha, penalty_factor, coef, intercept, intercept_penalty=INTERCEPT_PENALTY):
    """Largest distance of minus the gradient from alpha x the subdifferential of the penalty."""
    design = np.column_stack([X, np.ones(len(label))])
    beta = np.append(coef, intercept)
    weight = alpha * np.append(penalty_factor, intercept_penalty)
    probability = 1.0 / (1.0 + np.exp(-(design @ beta)))
    gradient = design.T @ (probability - label) / len(label)
    violation = np.where(beta != 0, np.abs(gradient + weight * np.sign(beta)), np.maximum(np.abs(gradient) - weight, 0))
    return violation.max()


def separated_by_one_column(rng, n, p):
    """Standardised data where column 0 alone separates the classes (3 positives)."""
    label = shuffled_labels(rng, n, 3)
    X = rng.normal(size=(n, p))
    X[:, 0] = np.where(label == 1, 2.0, -1.0) + rng.uniform(-0.5, 0.5, n)
    return (X - X.mean(axis=0)) / X.std(axis=0), label


def path_cases():
    """(X, label, penalty_factor) over n 11-20 and p 3-2000, balanced and 3-vs-15, with/without covariates."""
    rng = np.random.default_rng(11)
    cases = []
    for index, (n, p) in enumerate([(11, 3), (20, 3), (14, 30), (18, 30), (16, 500), (12, 500), (18, 2000),
                                    (13, 2000)]):
        for positives in (n // 2, 3):
            X = standardised(rng, n, p)
            factor = np.ones(p)
            if index % 2:
                factor[: min(2, p - 1)] = 0.01   # unpenalised clinical covariates
            cases.append((X, shuffled_labels(rng, n, positives), factor))
    cases.append(separated_by_one_column(rng, 15, 3) + (np.ones(3),))
    cases.append(separated_by_one_column(rng, 18, 40) + (np.r_[0.01, np.ones(39)],))
    return cases


def grid(X, label, factor):
    return decreasing_grid(logistic_alpha_max(X, label, factor < 1), 10, 0.05)


def test_path_equals_tightly_converged_liblinear_at_every_penalty():
    worst = 0.0
    for X, label, factor in path_cases():
        alphas = grid(X, label, factor)
        coef, intercepts = l1_logistic_path(X, label, alphas, factor, INTERCEPT_PENALTY)
        reference, reference_intercepts = tight_liblinear(X, label, alphas, factor)
        worst = max(worst, np.abs(coef - reference).max(), np.abs(intercepts - reference_intercepts).max())
        assert (coef[:, -1] != 0).any()
    assert worst <= 1e-6


def test_many_patients_and_degenerate_columns_converge_to_the_optimum():
    # 80 patients: coordinate descent converges fast and the face Newton step is mostly skipped.
    rng = np.random.default_rng(12)
    X = standardised(rng, 80, 120)
    label = (rng.random(80) < 1.0 / (1.0 + np.exp(-X[:, :4].sum(axis=1)))).astype(int)
    factor = np.r_[0.01, np.ones(119)]
    alphas = grid(X, label, factor)
    coef, intercepts = l1_logistic_path(X, label, alphas, factor, INTERCEPT_PENALTY)
    for i, alpha in enumerate(alphas):   # (liblinear takes minutes to converge this tightly here)
        assert kkt_violation(X, label, alpha, factor, coef[:, i], intercepts[i]) <= 1e-9 * alpha
    assert (coef[:, -1] != 0).sum() > 20
    # A duplicated column, a negated one and an all-zero one: the optimum is not unique but the KKT
    # conditions still hold and the zero column stays at 0.
    X = standardised(rng, 16, 50)
    X[:, 1], X[:, 3], X[:, 2] = X[:, 0], -X[:, 4], 0.0
    label = shuffled_labels(rng, 16, 6)
    alphas = grid(X, label, np.ones(50))
    coef, intercepts = l1_logistic_path(X, label, alphas, np.ones(50), INTERCEPT_PENALTY)
    assert not coef[2].any()
    for i, alpha in enumerate(alphas):
        assert kkt_violation(X, label, alpha, np.ones(50), coef[:, i], intercepts[i]) <= 1e-9 * alpha


def test_large_cohorts_build_the_face_hessian_by_blas_and_converge_to_the_optimum():
    # Above BLAS_MIN_PATIENTS the face Newton step's Hessian is one dgemm; correlated columns (a shared
    # factor) make coordinate descent slow, so the step is taken.
    from trialomics.logistic_path import BLAS_MIN_PATIENTS

    rng = np.random.default_rng(21)
    n = BLAS_MIN_PATIENTS + 23
    shared = rng.normal(size=(n, 1))
    X = standardised(rng, n, 150) + 2.0 * shared
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    label = (rng.random(n) < 1.0 / (1.0 + np.exp(-X[:, :6].sum(axis=1) / 3))).astype(int)
    factor = np.ones(150)
    alphas = grid(X, label, factor)
    coef, intercepts = l1_logistic_path(X, label, alphas, factor, INTERCEPT_PENALTY)
    assert (coef[:, -1] != 0).sum() > 20
    for i, alpha in enumerate(alphas):
        assert kkt_violation(X, label, alpha, factor, coef[:, i], intercepts[i]) <= 1e-9 * alpha


@pytest.mark.parametrize("n", [40, 120])
def test_face_newton_step_zeroes_the_models_gradient_on_the_face(n):
    # Loops of dot products below BLAS_MIN_PATIENTS, one dgemm above: either way the step solves the
    # face's quadratic model exactly (coefficients far from 0, so no sign change cuts it).
    from trialomics.logistic_path import _subspace_newton

    rng = np.random.default_rng(n)
    m, size = 60, 25
    Z = rng.normal(size=(m, n))
    working = np.arange(m)
    curvature = rng.uniform(0.05, 0.25, n)
    weight = rng.uniform(0.0, 0.1, m)
    candidate = np.zeros(m)
    candidate[:size] = rng.choice([-100.0, 100.0], size)
    delta_eta, model_residual = np.zeros(n), rng.normal(size=n)
    face, weighted, hessian, step = np.empty(n, dtype=np.int64), np.empty((n, n)), np.empty((n, n)), np.empty(n)
    _subspace_newton(Z, working, m, curvature, weight, candidate, delta_eta, model_residual, face, weighted,
                     hessian, step)
    gradient = Z[:size] @ model_residual + weight[:size] * np.sign(candidate[:size])
    assert np.abs(gradient).max() <= 1e-9 and (np.abs(candidate[:size]) > 50).all()


def test_a_step_whose_predicted_decrease_is_below_the_losss_rounding_is_taken_whole():
    # 400 patients, five binary alterations and one skewed column: at the first penalty only the
    # intercept moves, by a Newton step predicting a decrease of ~2e-15. The mean log-loss of 400 terms
    # cannot resolve that; a rounding bound that ignored n made the line search halve the step for ever
    # (ArithmeticError after 10,000 iterations).
    rng = np.random.default_rng(3)
    n = 400
    X = (rng.random((n, 6)) < rng.uniform(0.05, 0.4, 6)).astype(float)
    X[:, 5] = rng.lognormal(size=n)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    label = (rng.random(n) < 0.4).astype(int)
    alphas = grid(X, label, np.ones(6))
    coef, intercepts = l1_logistic_path(X, label, alphas, np.ones(6), INTERCEPT_PENALTY)
    for i, alpha in enumerate(alphas):
        assert kkt_violation(X, label, alpha, np.ones(6), coef[:, i], intercepts[i]) <= 1e-9 * alpha


def test_kkt_conditions_hold_at_every_penalty():
    for X, label, factor in path_cases():
        alphas = grid(X, label, factor)
        coef, intercepts = l1_logistic_path(X, label, alphas, factor, INTERCEPT_PENALTY)
        for i, alpha in enumerate(alphas):
            assert kkt_violation(X, label, alpha, factor, coef[:, i], intercepts[i]) <= 1e-9 * alpha


def test_alpha_max_zeroes_every_coefficient_and_the_intercept_is_the_shrunk_log_odds():
    rng = np.random.default_rng(4)
    X, label = standardised(rng, 16, 200), shuffled_labels(rng, 16, 11)
    alphas = grid(X, label, np.ones(200))
    coef, intercepts = l1_logistic_path(X, label, alphas, np.ones(200), INTERCEPT_PENALTY)
    assert not coef[:, 0].any() and coef[:, 1].any()
    # Intercept-only optimum: mean(probability - label) + 0.01 alpha sign(b) = 0, with b > 0 here.
    probability = label.mean() - INTERCEPT_PENALTY * alphas[0]
    assert intercepts[0] == pytest.approx(np.log(probability / (1 - probability)), abs=1e-9)


def covariate_cohort(seed):
    """Standardised features correlated with 1-2 covariates that drive the outcome (not separating it)."""
    rng = np.random.default_rng(seed)
    n, p, k = int(rng.integers(14, 60)), int(rng.integers(4, 80)), 1 + seed % 2
    X = rng.normal(size=(n, p))
    X[:, k:] += 0.7 * X[:, [0]]
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    label = (rng.random(n) < 1.0 / (1.0 + np.exp(-X[:, 0]))).astype(int)
    label[:2] = [0, 1]
    unpenalised = np.zeros(p, dtype=bool)
    unpenalised[:k] = True
    return X, label, unpenalised


@pytest.mark.parametrize("seed", range(30))
def test_alpha_max_with_covariates_is_the_gradient_at_their_fit_at_that_penalty(seed):
    # The covariates' L1 weight is 0.01 alpha, so their fit depends on the penalty: alpha_max is the fixed
    # point where the largest feature gradient at the covariates' fit equals the penalty. The gradient at the
    # intercept-only fit (what alpha_max was) let features in at the first penalty, or started above it.
    X, label, unpenalised = covariate_cohort(seed)
    alpha = logistic_alpha_max(X, label, unpenalised)
    covariates = X[:, unpenalised]
    coef, intercept = l1_logistic_path(covariates, label, np.array([alpha]), np.full(covariates.shape[1], 0.01),
                                       INTERCEPT_PENALTY)
    if np.abs(covariates @ coef[:, 0]).max() > 25:
        pytest.skip("the covariates separate this cohort's classes (the fallback has its own test)")
    fitted = 1.0 / (1.0 + np.exp(-(covariates @ coef[:, 0] + intercept[0])))
    gradient = np.abs(X[:, ~unpenalised].T @ (label - fitted)).max() / len(label)
    assert gradient == pytest.approx(alpha, rel=1e-9)
    # Tight: the whole path keeps every feature at 0 there and lets one in just below.
    _, path, _ = model_logistic_path(X, label, unpenalised, alphas=np.array([alpha * (1 + 1e-9), alpha * (1 - 1e-6)]))
    assert not path[~unpenalised, 0].any() and path[~unpenalised, 1].any()


@pytest.mark.parametrize("seed", range(30))
def test_first_penalty_of_a_grid_made_on_the_data_leaves_every_feature_exactly_zero(seed):
    # glmnet solves its first penalty as the null model; at alpha_max the largest gradient equals the
    # penalty up to rounding, and a feature could enter with a ~1e-12 coefficient.
    X, label, unpenalised = covariate_cohort(seed)
    if seed % 3 == 0:
        unpenalised[:] = False
    alphas, coef, _ = model_logistic_path(X, label, unpenalised, n_alphas=4)
    assert alphas[0] == logistic_alpha_max(X, label, unpenalised)
    assert not coef[~unpenalised, 0].any()
    assert coef[~unpenalised, 1:].any()


def test_alpha_max_keeps_the_intercept_only_start_when_the_covariates_separate_the_classes():
    # Then the covariate's fit runs off as the penalty falls, taking the features' gradients (they share its
    # signal) down faster than the penalty: the iterates fall to the gradients' rounding, no penalty lets a
    # feature in, and the grid starts where it would without the covariate.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 30))
    X[:, 1:] += 0.7 * X[:, [0]]
    label = (X[:, 0] > 0).astype(int)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    unpenalised = np.zeros(30, dtype=bool)
    unpenalised[0] = True
    start = np.abs(X[:, 1:].T @ (label - label.mean())).max() / 20
    assert logistic_alpha_max(X, label, unpenalised) == start
    _, coef, _ = model_logistic_path(X, label, unpenalised)
    assert coef[0].all() and not coef[1:].any()


def test_without_penalised_columns_or_columns_at_all():
    rng = np.random.default_rng(5)
    X, label = standardised(rng, 20, 3), shuffled_labels(rng, 20, 8)
    covariates = np.full(3, 0.01)
    alphas = decreasing_grid(1.0, 5, 0.05)
    coef, intercepts = l1_logistic_path(X, label, alphas, covariates, INTERCEPT_PENALTY)
    reference, reference_intercepts = tight_liblinear(X, label, alphas, covariates)
    assert np.abs(coef - reference).max() <= 1e-6 and np.abs(intercepts - reference_intercepts).max() <= 1e-6
    assert (coef != 0).all()
    coef, intercepts = l1_logistic_path(np.zeros((20, 0)), label, alphas, np.zeros(0), INTERCEPT_PENALTY)
    assert coef.shape == (0, 5)
    probability = label.mean() + INTERCEPT_PENALTY * alphas   # b < 0: 8 positives of 20
    assert intercepts == pytest.approx(np.log(probability / (1 - probability)), abs=1e-9)


def test_penalty_factor_zero_leaves_a_column_unpenalised():
    rng = np.random.default_rng(6)
    X, label = standardised(rng, 20, 30), shuffled_labels(rng, 20, 9)
    factor = np.ones(30)
    factor[0] = 0.0
    alphas = grid(X, label, factor)
    coef, intercepts = l1_logistic_path(X, label, alphas, factor, 0.0)
    assert (coef[0] != 0).all() and not coef[1:, 0].any()
    for i, alpha in enumerate(alphas):
        design = np.column_stack([X, np.ones(20)])
        probability = 1.0 / (1.0 + np.exp(-(design @ np.append(coef[:, i], intercepts[i]))))
        gradient = design.T @ (probability - label) / 20
        assert abs(gradient[0]) <= 1e-9 * alpha and abs(gradient[-1]) <= 1e-9 * alpha


def test_one_class_only_fits_the_intercept():
    rng = np.random.default_rng(7)
    X = standardised(rng, 12, 50)
    alphas = decreasing_grid(0.5, 4, 0.05)
    coef, intercepts = l1_logistic_path(X, np.ones(12, dtype=int), alphas, np.ones(50), INTERCEPT_PENALTY)
    assert not coef.any()
    probability = 1.0 - INTERCEPT_PENALTY * alphas
    assert intercepts == pytest.approx(np.log(probability / (1 - probability)), abs=1e-9)


def test_penalties_below_the_gradients_rounding_converge():
    # The feature is exactly uncorrelated with the label: the largest useful penalty is ~1e-17 (0 up
    # to rounding), and so is every penalty of a grid built from it.
    x = np.array([1.0, 1, 0, 0, 1, 1, 0, 0, 1, 0])
    label = np.array([1, 1, 0, 0, 0, 0, 1, 1, 0, 0])   # 2 of 5 positive at either value of x
    X = ((x - x.mean()) / x.std())[:, None]
    alphas = np.array([1e-17, 1e-18])
    coef, intercepts = l1_logistic_path(X, label, alphas, np.ones(1), INTERCEPT_PENALTY)
    assert np.abs(coef).max() <= 1e-12 and intercepts == pytest.approx(np.log(0.4 / 0.6), abs=1e-12)


def test_two_calls_give_identical_outputs():
    rng = np.random.default_rng(8)
    X, label = standardised(rng, 16, 500), shuffled_labels(rng, 16, 5)
    factor = np.r_[0.01, np.ones(499)]
    alphas = grid(X, label, factor)
    first = l1_logistic_path(X, label, alphas, factor, INTERCEPT_PENALTY)
    second = l1_logistic_path(X.copy(), label.copy(), alphas.copy(), factor.copy(), INTERCEPT_PENALTY)
    assert all(np.array_equal(a, b) for a, b in zip(first, second))


def test_too_few_iterations_are_reported_not_returned():
    rng = np.random.default_rng(9)
    X, label = standardised(rng, 16, 100), shuffled_labels(rng, 16, 7)
    alphas = grid(X, label, np.ones(100))
    with pytest.raises(ArithmeticError, match="not converged within 2 proximal Newton iterations at penalty"):
        l1_logistic_path(X, label, alphas, np.ones(100), INTERCEPT_PENALTY, max_iter=2)


def test_separation_by_penalty_free_terms_stops_where_the_gradient_is_below_tolerance():
    rng = np.random.default_rng(9)
    X, label = separated_by_one_column(rng, 14, 5)
    factor = np.r_[0.0, np.ones(4)]
    # Neither column 0 nor the intercept is penalised: the optimum is at infinity, and the fit stops
    # once every patient's margin makes the gradient negligible.
    coef, intercepts = l1_logistic_path(X, label, np.array([0.1]), factor, 0.0)
    margins = (X @ coef[:, 0] + intercepts[0]) * (2 * label - 1)
    assert margins.min() > 20 and kkt_violation(X, label, 0.1, factor, coef[:, 0], intercepts[0], 0.0) <= 1e-10
    # A penalised intercept keeps the optimum finite (the separating threshold needs a growing
    # intercept): there the KKT conditions hold exactly as everywhere else.
    coef, intercepts = l1_logistic_path(X, label, np.array([0.1]), factor, INTERCEPT_PENALTY)
    assert coef[0, 0] != 0 and kkt_violation(X, label, 0.1, factor, coef[:, 0], intercepts[0]) <= 1e-10


@pytest.mark.parametrize("change, message", [
    (lambda a: {**a, "label": a["label"][:-1]}, "label must hold 10 values"),
    (lambda a: {**a, "label": a["label"] + 1}, "each 0 or 1"),
    (lambda a: {**a, "alphas": a["alphas"][::-1]}, "decreasing"),
    (lambda a: {**a, "penalty_factor": -a["penalty_factor"]}, "non-negative"),
    (lambda a: {**a, "X": np.where(a["X"] > 1, np.nan, a["X"])}, "non-finite"),
    (lambda a: {**a, "X": np.where(a["X"] > 1, -np.inf, a["X"])}, "non-finite"),
    (lambda a: {**a, "X": np.full((0, 4), np.nan), "label": a["label"][:0]}, None),
    (lambda a: {**a, "X": np.where(a["X"] > 1, np.nan, a["X"]), "alphas": a["alphas"][:0]}, "non-finite"),
])
def test_bad_input_is_named(change, message):
    rng = np.random.default_rng(10)
    arguments = {"X": rng.normal(size=(10, 4)), "label": shuffled_labels(rng, 10, 4),
                 "alphas": np.array([0.2, 0.1]), "penalty_factor": np.ones(4), "intercept_penalty": 0.01}
    if message is None:   # no patients: nothing to check, nothing fitted
        coef, intercepts = l1_logistic_path(**change(arguments))
        assert coef.shape == (4, 2) and not coef.any() and not intercepts.any()
        return
    with pytest.raises(ValueError, match=message):
        l1_logistic_path(**change(arguments))


def test_a_fold_whose_sweeps_converge_slowly_is_fitted_not_dropped():
    # A 10-patient inner fold of the demo's clinical_benefit / rna_change model (500 columns): at its eighth
    # penalty the face Hessian is too ill-conditioned for the subspace Newton step and coordinate descent
    # needs 14,055 sweeps. With a limit of 10,000 the path raised (its fold's penalties dropped from the
    # choice); the default limit lets it converge, every penalty meeting the KKT conditions.
    from pathlib import Path

    data = np.load(Path(__file__).resolve().parent / "data" / "slow_logistic_fold.npz")
    X, label, alphas, factor = data["X"], data["label"], data["alphas"], data["factor"]
    intercept_penalty = float(data["intercept_penalty"])
    with pytest.raises(ArithmeticError, match="within 10000 coordinate-descent sweeps"):
        l1_logistic_path(X, label, alphas, factor, intercept_penalty, max_iter=10_000)
    coef, intercepts = l1_logistic_path(X, label, alphas, factor, intercept_penalty)
    assert np.isfinite(coef).all() and (coef[:, -1] != 0).sum() == 9
    for a, alpha in enumerate(alphas):
        assert kkt_violation(X, label, alpha, factor, coef[:, a], intercepts[a], intercept_penalty) <= 1e-10 * alpha

"""Speed and exactness of the numba L1 logistic path against the liblinear loop it replaces.

Simulates ``--fits`` standardised data sets of ``--patients`` x ``--features`` (seed ``--seed``;
half with balanced labels, half with 3 positives), each with the models stage's grid: 10 penalties
from the largest useful one down to 5% of it. On every data set it times, as the median of
``--repeats`` runs:

- ``trialomics.logistic_path.l1_logistic_path`` (penalty factor 1, intercept penalty 0.01);
- the liblinear loop ``model_paths.logistic_l1_path`` ran before it: one ``train_wrap`` call per
  penalty with tol 1e-4, max_iter 1000 (the settings scikit-learn's LogisticRegression defaults to);

and fits liblinear again at tol 1e-12 (the converged optimum) to print the largest |coefficient
difference| and |intercept difference| of both against it. The first call (numba compilation or
cache load) is timed apart. A benchmark script, not a test:

    .venv/bin/python bench/logistic_path_speed.py [--patients 16] [--features 500] [--fits 20]
        [--seed 1] [--repeats 20]

Exit status 0 when the new path is within 1e-6 of converged liblinear everywhere and its median
time per path is under 0.5 ms.
"""
from __future__ import annotations

import argparse
import sys
import time
from functools import partial

import numpy as np
from sklearn.svm import _liblinear

from trialomics.logistic_path import l1_logistic_path

INTERCEPT_SCALING = 100.0          # liblinear's constant column; its weight's L1 penalty is 1/100
L1_LOGISTIC = 6                    # liblinear's solver type for L1-regularised logistic regression
SEED = int(np.random.RandomState(0).randint(np.iinfo("i").max))   # scikit-learn's draw for random_state=0


def liblinear_path(X, label, alphas, tol, max_iter):
    """liblinear once per penalty, as model_paths.logistic_l1_path called it (no unpenalised columns)."""
    n = len(label)
    coef, intercepts = np.zeros((X.shape[1], len(alphas))), np.zeros(len(alphas))
    target, weights = label.astype(np.float64), np.ones(n)
    for i, alpha in enumerate(alphas):
        raw, _ = _liblinear.train_wrap(X, target, False, L1_LOGISTIC, tol, INTERCEPT_SCALING, 1.0 / (n * alpha),
                                       np.ones(2), max_iter, SEED, 0.1, weights)
        coef[:, i] = raw[0, :-1]
        intercepts[i] = INTERCEPT_SCALING * raw[0, -1]
    return coef, intercepts


def simulated(rng, patients, features, positives):
    X = rng.normal(size=(patients, features))
    X = np.ascontiguousarray((X - X.mean(axis=0)) / X.std(axis=0))
    label = np.zeros(patients, dtype=int)
    label[:positives] = 1
    rng.shuffle(label)
    alpha_max = np.abs(X.T @ (label - label.mean())).max() / patients
    return X, label, alpha_max * np.logspace(0.0, np.log10(0.05), 10)


def median_seconds(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=16)
    parser.add_argument("--features", type=int, default=500)
    parser.add_argument("--fits", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    _liblinear.set_verbosity_wrap(0)
    rng = np.random.default_rng(args.seed)
    factor = np.ones(args.features)
    data = [simulated(rng, args.patients, args.features, args.patients // 2 if fit % 2 == 0 else 3)
            for fit in range(args.fits)]

    start = time.perf_counter()
    l1_logistic_path(*data[0], factor, 1.0 / INTERCEPT_SCALING)
    first_call = time.perf_counter() - start
    ours, loop, ours_error, loop_error = [], [], 0.0, 0.0
    for X, label, alphas in data:
        ours.append(median_seconds(partial(l1_logistic_path, X, label, alphas, factor, 1.0 / INTERCEPT_SCALING),
                                   args.repeats))
        loop.append(median_seconds(partial(liblinear_path, X, label, alphas, 1e-4, 1000), args.repeats))
        coef, intercepts = l1_logistic_path(X, label, alphas, factor, 1.0 / INTERCEPT_SCALING)
        loose_coef, loose_intercepts = liblinear_path(X, label, alphas, 1e-4, 1000)
        tight_coef, tight_intercepts = liblinear_path(X, label, alphas, 1e-12, 1_000_000)
        ours_error = max(ours_error, np.abs(coef - tight_coef).max(), np.abs(intercepts - tight_intercepts).max())
        loop_error = max(loop_error, np.abs(loose_coef - tight_coef).max(),
                         np.abs(loose_intercepts - tight_intercepts).max())

    per_path, per_loop = float(np.median(ours)), float(np.median(loop))
    print(f"{args.fits} paths of {args.patients} patients x {args.features} standardised features, "
          f"10 penalties (alpha_max to 0.05 alpha_max), seed {args.seed}, median of {args.repeats} runs each")
    print(f"numba l1_logistic_path: {per_path * 1e3:.3f} ms per path (median over paths; slowest "
          f"{max(ours) * 1e3:.3f} ms); first call incl. compile/cache load {first_call:.2f} s")
    print(f"liblinear loop (tol 1e-4): {per_loop * 1e3:.3f} ms per path; ratio loop / numba "
          f"{per_loop / per_path:.1f}x")
    print(f"max |difference| to liblinear at tol 1e-12 (coefficients and intercepts): numba {ours_error:.2e}, "
          f"liblinear loop at tol 1e-4 {loop_error:.2e}")
    return 0 if ours_error <= 1e-6 and per_path < 5e-4 else 1


if __name__ == "__main__":
    sys.exit(main())

"""Cross-validation splits on numpy alone, equal to scikit-learn's splitters under the same seed.

The models fit thousands of nested folds per job; scikit-learn's splitters validate their inputs on
every call, and importing scikit-learn (with scipy.stats behind it) cost each ``models_fit`` job about
0.7 CPU-s before it did anything. These functions reproduce, draw for draw, the folds of
``KFold(shuffle=True)``, ``StratifiedKFold(shuffle=True)``, their ``Repeated*`` forms and
``LeaveOneOut`` of scikit-learn 1.x (tested against them), so seeds give the same folds as before:

- K-fold: ``RandomState(seed).shuffle(arange(n))``; fold i is the next ``n // K`` (+1 for the first
  ``n % K`` folds) of the shuffled indices.
- Stratified K-fold: classes numbered by order of first appearance; the number of each class's patients
  in each fold is dealt round robin over the sorted class codes; per class, in that order, the fold
  labels are shuffled with the same ``RandomState`` and given to the class's patients in index order.
- Repeated: one ``RandomState(seed)`` shared by the repeats, each repeat drawing from it in turn.

Train and test indices are in increasing order, as scikit-learn yields them.
"""
from __future__ import annotations

import numpy as np


# Seeding an existing RandomState draws the same stream as a new RandomState(seed) (the same legacy
# seeding) at ~1/60 of the cost (2 us against 117): a nested fit draws its inner folds from a fresh seed,
# thousands of times per models job. One state serves every call; each function below is done with it
# before it returns (the repeated splitters pass theirs down, never reseeding it).
_REUSED_STATE = np.random.RandomState(0)


def _random_state(seed) -> np.random.RandomState:
    if isinstance(seed, np.random.RandomState):
        return seed
    _REUSED_STATE.seed(seed)
    return _REUSED_STATE


def _splits_of(test_folds: np.ndarray, n_splits: int) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(np.flatnonzero(test_folds != fold), np.flatnonzero(test_folds == fold)) for fold in range(n_splits)]


def kfold_test_folds(n_samples: int, n_splits: int, seed) -> np.ndarray:
    """The test fold of each sample under shuffled K-fold (``KFold(n_splits, shuffle=True, random_state=seed)``)."""
    if not 2 <= n_splits <= n_samples:
        raise ValueError(f"K-fold needs 2 <= n_splits <= n_samples; got n_splits={n_splits}, n_samples={n_samples}")
    order = np.arange(n_samples)
    _random_state(seed).shuffle(order)
    sizes = np.full(n_splits, n_samples // n_splits)
    sizes[: n_samples % n_splits] += 1
    test_folds = np.empty(n_samples, dtype=np.intp)
    test_folds[order] = np.repeat(np.arange(n_splits), sizes)
    return test_folds


def stratified_test_folds(strata: np.ndarray, n_splits: int, seed) -> np.ndarray:
    """The test fold of each sample under ``StratifiedKFold(n_splits, shuffle=True, random_state=seed)``."""
    strata = np.asarray(strata)
    _, first_index, inverse = np.unique(strata, return_index=True, return_inverse=True)
    _, appearance = np.unique(first_index, return_inverse=True)
    codes = appearance[inverse.reshape(-1)]
    counts = np.bincount(codes)
    if n_splits < 2 or np.all(n_splits > counts):
        raise ValueError(f"n_splits={n_splits} cannot be greater than the number of members in each class")
    rng = _random_state(seed)
    in_order = np.sort(codes)
    allocation = np.asarray([np.bincount(in_order[i::n_splits], minlength=len(counts)) for i in range(n_splits)])
    test_folds = np.empty(len(strata), dtype=np.intp)
    for code in range(len(counts)):
        folds = np.arange(n_splits).repeat(allocation[:, code])
        rng.shuffle(folds)
        test_folds[codes == code] = folds
    return test_folds


def kfold_splits(n_samples: int, n_splits: int, seed) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) of each fold of shuffled K-fold."""
    return _splits_of(kfold_test_folds(n_samples, n_splits, seed), n_splits)


def stratified_kfold_splits(strata: np.ndarray, n_splits: int, seed) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) of each fold of shuffled stratified K-fold."""
    return _splits_of(stratified_test_folds(strata, n_splits, seed), n_splits)


def repeated_kfold_splits(n_samples: int, n_splits: int, n_repeats: int, seed,
                          strata: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) of every fold of every repeat (``Repeated[Stratified]KFold``), repeat by repeat."""
    rng = _random_state(seed)
    splits = []
    for _ in range(n_repeats):
        splits += (kfold_splits(n_samples, n_splits, rng) if strata is None
                   else stratified_kfold_splits(strata, n_splits, rng))
    return splits


def leave_one_out_splits(n_samples: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) of leave-one-out, sample by sample."""
    if n_samples < 2:
        raise ValueError(f"leave-one-out needs at least 2 samples, got {n_samples}")
    return _splits_of(np.arange(n_samples), n_samples)

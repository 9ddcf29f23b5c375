"""The numpy splitters give scikit-learn's folds, draw for draw, under the same seeds."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.model_selection import KFold, LeaveOneOut, RepeatedKFold, RepeatedStratifiedKFold, StratifiedKFold

from trialomics import cv_splits


def assert_same_splits(ours, theirs):
    theirs = list(theirs)
    assert len(ours) == len(theirs)
    for (train, test), (train_ref, test_ref) in zip(ours, theirs):
        assert train.dtype == train_ref.dtype and test.dtype == test_ref.dtype
        np.testing.assert_array_equal(train, train_ref)
        np.testing.assert_array_equal(test, test_ref)


@given(seed=st.integers(0, 2**32 - 1), strata=st.lists(st.sampled_from([0, 1, 2]), min_size=2, max_size=60),
       n_splits=st.integers(2, 10), n_repeats=st.integers(1, 4))
@settings(max_examples=300, deadline=None)
def test_stratified_and_repeated_folds_equal_scikit_learns(seed, strata, n_splits, n_repeats):
    strata = np.array(strata)
    counts = np.bincount(strata)
    if n_splits > len(strata) or np.all(n_splits > counts[counts > 0]):
        with pytest.raises(ValueError):
            cv_splits.stratified_kfold_splits(strata, n_splits, seed)
        return
    reference = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)   # scikit-learn warns when a class is smaller than K
        assert_same_splits(cv_splits.stratified_kfold_splits(strata, n_splits, seed), reference.split(strata, strata))
        repeated = RepeatedStratifiedKFold(n_splits=n_splits, n_repeats=n_repeats, random_state=seed)
        assert_same_splits(cv_splits.repeated_kfold_splits(len(strata), n_splits, n_repeats, seed, strata),
                           repeated.split(strata, strata))
    assert_same_splits(cv_splits.kfold_splits(len(strata), n_splits, seed),
                       KFold(n_splits=n_splits, shuffle=True, random_state=seed).split(strata))
    assert_same_splits(cv_splits.repeated_kfold_splits(len(strata), n_splits, n_repeats, seed),
                       RepeatedKFold(n_splits=n_splits, n_repeats=n_repeats, random_state=seed).split(strata))


def test_labels_of_any_type_are_numbered_by_first_appearance():
    strata = np.array(["no", "yes", "no", "no", "yes", "yes", "no", "yes", "no", "no"])
    assert_same_splits(cv_splits.stratified_kfold_splits(strata, 3, 5),
                       StratifiedKFold(n_splits=3, shuffle=True, random_state=5).split(strata, strata))


def test_leave_one_out_and_invalid_k():
    assert_same_splits(cv_splits.leave_one_out_splits(7), LeaveOneOut().split(np.zeros(7)))
    with pytest.raises(ValueError, match="at least 2"):
        cv_splits.leave_one_out_splits(1)
    with pytest.raises(ValueError, match="n_splits"):
        cv_splits.kfold_splits(3, 4, 0)
    with pytest.raises(ValueError, match="n_splits"):
        cv_splits.kfold_splits(3, 1, 0)

"""The L1 kernels shared by the compiled path solvers."""
from __future__ import annotations

import math

import numpy as np
import pytest

from trialomics.l1_kernels import (ROW_ORDER_MAX_ROWS, interleaved_dot, l1_kkt_violation, mark_entered,
                                   soft_threshold)


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 16, 21, 400, 403])
def test_interleaved_dot_is_the_dot_product_to_rounding(n):
    rng = np.random.default_rng(n)
    x, y = rng.normal(size=n + 3), rng.normal(size=n + 3)
    exact = math.fsum((x[:n] * y[:n]).tolist())
    # Only the first n entries count (the solvers pass whole rows with n given).
    assert interleaved_dot(x, y, n) == pytest.approx(exact, rel=1e-13, abs=1e-13)


def test_interleaved_dot_sums_rows_eight_apart_together():
    # Rows 0 and 8 share a partial sum (1e16 - 1e16 = 0) and row 4 has its own (1): the result is exact,
    # where the row-order sum loses the 1 in 1e16 + 1 before the -1e16 arrives.
    x = np.zeros(16)
    x[0], x[4], x[8] = 1e16, 1.0, -1e16
    assert interleaved_dot(x, np.ones(16), 16) == 1.0
    row_order = 0.0
    for value in x:
        row_order += value
    assert row_order == 0.0
    # Rows after the last multiple of 8 are added one by one to the combined partial sums.
    assert interleaved_dot(np.array([1e16, 0, 0, 0, 0, 0, 0, 0, 1.0, -1e16]), np.ones(10), 10) == 0.0
    assert ROW_ORDER_MAX_ROWS == 20              # the demo's folds (at most 20 patients) keep row-order sums


def test_soft_threshold_and_kkt_violation():
    assert soft_threshold(3.0, 1.0) == 2.0 and soft_threshold(-3.0, 1.0) == -2.0 and soft_threshold(0.5, 1.0) == 0.0
    assert l1_kkt_violation(-1.0, 2.0, 1.0) == 0.0             # gradient + weight * sign = 0 at a non-zero value
    assert l1_kkt_violation(0.5, 0.0, 1.0) == 0.0               # inside the subdifferential at 0
    assert l1_kkt_violation(1.5, 0.0, 1.0) == 0.5


def test_mark_entered_counts_each_counted_column_once():
    entered = np.zeros(4, dtype=np.bool_)
    counted = np.array([True, True, False, True])
    assert mark_entered(np.array([0.0, 1.0, 1.0, 0.0]), counted, entered) == 1
    assert mark_entered(np.array([2.0, 1.0, 1.0, 0.0]), counted, entered) == 1
    assert entered.tolist() == [True, True, False, False]

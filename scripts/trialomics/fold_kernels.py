"""The compiled (numba) kernels of the fold preprocessing (:mod:`trialomics.model_preprocess`).

They repeat numpy's floating-point operations in numpy's order -- pairwise sums down contiguous
columns (:func:`pairwise_sum`), column-after-column sums along rows (:func:`row_sums`) -- so that the
models' outputs are the same to the last bit as with the numpy expressions they replace
(tests/test_model_preprocess.py): the variance screen and prefilter statistics read in place, the
gather of a fold's block with its down-shifted normal fill, and standardisation.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True)
def screened(X, rows, always, order, negated_ss, order_starts, incomplete, incomplete_negated_ss,
              incomplete_starts, k, fewest_observed, source, n_columns):
    """The columns :meth:`VarianceScreen.prefilter` examines on ``X[rows]``, as columns ``source`` of a
    matrix of ``n_columns`` in their order, and their :func:`column_statistics` (observed, variance,
    altered by row), each computed once."""
    n = rows.shape[0]
    margin = 1.0 - 1e-9
    size = always.shape[0] + order.shape[0] + incomplete.shape[0]
    examined = np.empty(size, dtype=np.intp)
    statistics = np.empty((3, size))
    count = append_examined(examined, statistics, 0, always, column_statistics(X, rows, always), True, 0.0)
    for group in range(order_starts.shape[0] - 1):
        group_order = order[order_starts[group]:order_starts[group + 1]]
        group_incomplete = incomplete[incomplete_starts[group]:incomplete_starts[group + 1]]
        small = group_order.shape[0] <= 4 * k   # examined whole: no candidates to measure
        candidates = group_order[:0] if small else group_order[:4 * k]
        of_candidates = complete_column_statistics(X, rows, candidates)
        if small or (of_candidates[1] > 0).sum() < k:
            count = append_examined(examined, statistics, count, group_order,
                                     complete_column_statistics(X, rows, group_order), True, 0.0)
            count = append_examined(examined, statistics, count, group_incomplete,
                                     column_statistics(X, rows, group_incomplete), True, 0.0)
            continue
        v_k = np.partition(of_candidates[1], candidates.shape[0] - k)[candidates.shape[0] - k]
        needed = np.searchsorted(negated_ss[order_starts[group]:order_starts[group + 1]],
                                 -v_k * margin * (n - 1), side="right")
        if needed > candidates.shape[0]:
            more = complete_column_statistics(X, rows, group_order[candidates.shape[0]:needed])
            of_candidates = (np.concatenate((of_candidates[0], more[0])), np.concatenate((of_candidates[1], more[1])),
                             np.concatenate((of_candidates[2], more[2])))
            candidates = group_order[:needed]
            v_k = np.partition(of_candidates[1], candidates.shape[0] - k)[candidates.shape[0] - k]
        count = append_examined(examined, statistics, count, candidates, of_candidates, False, v_k * margin)
        group_incomplete = group_incomplete[:np.searchsorted(
            incomplete_negated_ss[incomplete_starts[group]:incomplete_starts[group + 1]],
            -v_k * margin * (fewest_observed - 1), side="right")]
        if group_incomplete.shape[0]:   # NaN variance (too few values) never passes
            count = append_examined(examined, statistics, count, group_incomplete,
                                     column_statistics(X, rows, group_incomplete), False, v_k * margin)
    position = np.full(n_columns, -1, dtype=np.intp)   # into column order by one scan (a sort cost more)
    for c in range(count):
        position[source[examined[c]]] = c
    ordered = np.empty(count, dtype=np.intp)
    sorted_statistics = np.empty((3, count))
    c = 0
    for column in range(n_columns):
        if position[column] >= 0:
            ordered[c] = column
            sorted_statistics[:, c] = statistics[:, position[column]]
            c += 1
    return ordered, sorted_statistics


@njit(cache=True)
def append_examined(examined, statistics, count, columns, of_columns, every, least_variance):
    """Append ``columns`` (all when ``every``, else those whose variance reaches ``least_variance``) and
    their statistics at position ``count``; the new count."""
    observed, variance, altered = of_columns
    for c in range(columns.shape[0]):
        if every or variance[c] >= least_variance:
            examined[count] = columns[c]
            statistics[0, count] = observed[c]
            statistics[1, count] = variance[c]
            statistics[2, count] = altered[c]
            count += 1
    return count


@njit(cache=True, inline="always")
def block_sum(values, start, n):
    """numpy's pairwise sum of at most 128 values: sequential below 8, else eight interleaved partial sums."""
    if n < 8:
        total = 0.0
        for i in range(n):
            total += values[start + i]
        return total
    r0, r1, r2, r3 = values[start], values[start + 1], values[start + 2], values[start + 3]
    r4, r5, r6, r7 = values[start + 4], values[start + 5], values[start + 6], values[start + 7]
    i = 8
    while i < n - n % 8:
        r0 += values[start + i]
        r1 += values[start + i + 1]
        r2 += values[start + i + 2]
        r3 += values[start + i + 3]
        r4 += values[start + i + 4]
        r5 += values[start + i + 5]
        r6 += values[start + i + 6]
        r7 += values[start + i + 7]
        i += 8
    total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        total += values[start + i]
        i += 1
    return total


@njit(cache=True, inline="always")
def pairwise_sum(values, start, n):
    """numpy's pairwise sum of ``values[start:start + n]`` (the float64 add reduction along a contiguous
    axis): blocks of at most 128 values (:func:`block_sum`), a longer run split in halves at a multiple
    of 8 and the halves' sums added -- the same additions in the same order, so the same bits. The
    halving is walked with explicit stacks: numba failed to link a recursive version called from
    another kernel with a new argument layout."""
    if n <= 128:
        return block_sum(values, start, n)
    starts = np.empty(128, dtype=np.int64)     # runs still to sum (a run halves at most 64 times)
    sizes = np.empty(128, dtype=np.int64)
    halved = np.zeros(128, dtype=np.bool_)
    sums = np.empty(128)                       # the sums of finished runs, in order
    starts[0], sizes[0], runs, finished = start, n, 1, 0
    while runs > 0:
        top = runs - 1
        if sizes[top] <= 128:
            sums[finished] = block_sum(values, starts[top], sizes[top])
            finished += 1
            runs -= 1
        elif halved[top]:                      # both halves summed: left + right
            sums[finished - 2] = sums[finished - 2] + sums[finished - 1]
            finished -= 1
            runs -= 1
        else:
            halved[top] = True
            half = sizes[top] // 2
            half -= half % 8
            starts[runs], sizes[runs], halved[runs] = starts[top] + half, sizes[top] - half, False
            starts[runs + 1], sizes[runs + 1], halved[runs + 1] = starts[top], half, False
            runs += 2
    return sums[0]


@njit(cache=True)
def row_sums(block):
    """``np.sum(block, axis=1)`` of a column-major block: column after column (the strided axis), or
    pairwise along the one row of a single-row block (contiguous both ways)."""
    n = block.shape[0]
    sums = np.zeros(n)
    if n == 1:
        sums[0] = 0.0 + pairwise_sum(block[0], 0, block.shape[1])
        return sums
    for j in range(block.shape[1]):
        for i in range(n):
            sums[i] += block[i, j]
    return sums


@njit(cache=True)
def filled_block(X, rows, columns, imputed, draws, downshift, width):
    """``X[rows][:, columns]`` in column-major order, with the NaNs of its ``imputed`` columns filled by
    :func:`~trialomics.imputation.fill_downshifted_normal` given its ``draws`` for the imputed sub-block:
    the same operations in the same order as numpy does them on that column-major sub-block, so the
    same bits. Also whether the block is valid: no NaN outside the imputed columns, no infinite imputed
    value, two observed imputed values per row."""
    n = rows.shape[0]
    block = np.empty((columns.shape[0], n)).T
    for j in range(columns.shape[0]):
        column = columns[j]
        for i in range(n):
            block[i, j] = X[rows[i], column]
            if not imputed[j] and np.isnan(block[i, j]):
                return block, False
    positions = np.flatnonzero(imputed)
    if positions.size == 0:
        return block, True
    filled = np.empty((positions.size, n)).T   # the sub-block, zero where missing
    counts = np.zeros(n)
    for p in range(positions.size):
        for i in range(n):
            value = block[i, positions[p]]
            if np.isinf(value):
                return block, False
            missing = np.isnan(value)
            filled[i, p] = 0.0 if missing else value
            counts[i] += 0.0 if missing else 1.0
    if counts.min() < 2.0:
        return block, False
    means = row_sums(filled) / counts
    for p in range(positions.size):
        for i in range(n):
            deviation = filled[i, p] - means[i]
            filled[i, p] = 0.0 if np.isnan(block[i, positions[p]]) else deviation * deviation
    sds = np.sqrt(row_sums(filled) / (counts - 1.0))
    for p in range(positions.size):
        for i in range(n):
            if np.isnan(block[i, positions[p]]):
                block[i, positions[p]] = (means[i] - downshift * sds[i]) + (width * sds[i]) * draws[i, p]
    return block, True


@njit(cache=True)
def standardise(values):
    """Standardise a column-major block in place, bit for bit as ``(values - mean) / scale`` with
    ``mean = values.mean(axis=0)`` and ``scale = values.std(axis=0)`` (1 where at most 1e-12): pairwise
    sums down each column. Returns ``mean`` and ``scale``."""
    n, size = values.shape
    mean = np.empty(size)
    scale = np.empty(size)
    squares = np.empty(n)
    for j in range(size):
        mean[j] = (0.0 + pairwise_sum(values[:, j], 0, n)) / n
        for i in range(n):
            deviation = values[i, j] - mean[j]
            values[i, j] = deviation
            squares[i] = deviation * deviation
        sd = np.sqrt((0.0 + pairwise_sum(squares, 0, n)) / n)
        scale[j] = sd if sd > 1e-12 else 1.0
        for i in range(n):
            values[i, j] /= scale[j]
    return mean, scale


@njit(cache=True)
def scaled(values, selected, mean, scale):
    """``(values[:, selected] - mean) / scale`` (column-major), for the rows a fitted preprocessing
    transforms."""
    n = values.shape[0]
    scaled = np.empty((selected.shape[0], n)).T
    for j in range(selected.shape[0]):
        for i in range(n):
            scaled[i, j] = (values[i, selected[j]] - mean[j]) / scale[j]
    return scaled


@njit(cache=True)
def column_statistics(X, rows, columns):
    """Per column of ``X[rows][:, columns]``, read in place: observed count, variance (ddof 1, NaN below
    two values) and count of values equal to 1 -- what the prefilters need, without copying the block.
    Column by column (the model matrices are column-major), two passes over the column's rows.

    A missing value adds 0.0 instead of being skipped (the same sums: they start at +0.0 and so never
    reach -0.0), which spares the mispredicted branches of columns with scattered gaps."""
    size = columns.shape[0]
    n = rows.shape[0]
    observed = np.zeros(size)
    variance = np.empty(size)
    altered = np.zeros(size)
    for c in range(size):
        column = columns[c]
        count = 0
        total = 0.0
        ones = 0
        for r in range(n):
            value = X[rows[r], column]
            seen = not np.isnan(value)
            count += seen
            total += value if seen else 0.0
            ones += value == 1.0
        squares = 0.0
        if count >= 2:
            mean = total / count
            if count == n:
                for r in range(n):
                    deviation = X[rows[r], column] - mean
                    squares += deviation * deviation
            else:
                for r in range(n):
                    value = X[rows[r], column]
                    deviation = value - mean
                    squares += deviation * deviation if not np.isnan(value) else 0.0
            variance[c] = squares / (count - 1.0)
        else:
            variance[c] = np.nan
        observed[c] = count
        altered[c] = ones
    return observed, variance, altered


@njit(cache=True)
def complete_column_statistics(X, rows, columns):
    """:func:`column_statistics` of columns with no missing value among ``rows``, the same bits: each
    column's sums are taken in the same (row) order, four columns at a time -- four independent chains
    of additions where one column waits for each of its own (the variance screen reads thousands of
    columns per fold)."""
    size = columns.shape[0]
    n = rows.shape[0]
    observed = np.full(size, np.float64(n))
    variance = np.empty(size)
    altered = np.zeros(size)
    c = 0
    while c + 4 <= size:
        j0, j1, j2, j3 = columns[c], columns[c + 1], columns[c + 2], columns[c + 3]
        total0, total1, total2, total3 = 0.0, 0.0, 0.0, 0.0
        ones0, ones1, ones2, ones3 = 0, 0, 0, 0
        for r in range(n):
            i = rows[r]
            x0, x1, x2, x3 = X[i, j0], X[i, j1], X[i, j2], X[i, j3]
            total0 += x0
            total1 += x1
            total2 += x2
            total3 += x3
            ones0 += x0 == 1.0
            ones1 += x1 == 1.0
            ones2 += x2 == 1.0
            ones3 += x3 == 1.0
        altered[c], altered[c + 1], altered[c + 2], altered[c + 3] = ones0, ones1, ones2, ones3
        if n < 2:
            variance[c:c + 4] = np.nan
            c += 4
            continue
        mean0, mean1, mean2, mean3 = total0 / n, total1 / n, total2 / n, total3 / n
        squares0, squares1, squares2, squares3 = 0.0, 0.0, 0.0, 0.0
        for r in range(n):
            i = rows[r]
            d0, d1, d2, d3 = X[i, j0] - mean0, X[i, j1] - mean1, X[i, j2] - mean2, X[i, j3] - mean3
            squares0 += d0 * d0
            squares1 += d1 * d1
            squares2 += d2 * d2
            squares3 += d3 * d3
        variance[c] = squares0 / (n - 1.0)
        variance[c + 1] = squares1 / (n - 1.0)
        variance[c + 2] = squares2 / (n - 1.0)
        variance[c + 3] = squares3 / (n - 1.0)
        c += 4
    if c < size:
        rest = column_statistics(X, rows, columns[c:])
        observed[c:], variance[c:], altered[c:] = rest[0], rest[1], rest[2]
    return observed, variance, altered


@njit(cache=True)
def prefilter_of_statistics(n_rows, observed, variance, altered, kinds, groups, n_groups, max_missing,
                             min_altered, min_altered_fraction, top_variance):
    """:func:`~trialomics.survival.prefilter_mask_of_statistics` with kinds as codes (0 continuous,
    1 binary, 2 covariate), groups as codes 0..n_groups-1 and ``top_variance`` -1 for none."""
    size = kinds.shape[0]
    keep = np.zeros(size, dtype=np.bool_)
    spread = np.where(np.isnan(variance), 0.0, variance)
    # The eligible continuous columns, bucketed by group in column order (one pass, a counting sort).
    eligible = np.empty(size, dtype=np.intp)
    n_eligible = 0
    group_sizes = np.zeros(n_groups + 1, dtype=np.intp)
    for c in range(size):
        missing_ok = (1.0 - observed[c] / n_rows) <= max_missing
        if kinds[c] == 1:
            threshold = max(min_altered, math.ceil(min_altered_fraction * observed[c] - 1e-9))
            keep[c] = missing_ok and altered[c] >= threshold and observed[c] - altered[c] >= threshold
        elif kinds[c] == 2:
            keep[c] = True
        elif missing_ok and spread[c] > 0:
            eligible[n_eligible] = c
            n_eligible += 1
            group_sizes[groups[c] + 1] += 1
    starts = np.cumsum(group_sizes)
    filled = starts[:-1].copy()
    by_group = np.empty(n_eligible, dtype=np.intp)
    for e in range(n_eligible):
        c = eligible[e]
        by_group[filled[groups[c]]] = c
        filled[groups[c]] += 1
    for group in range(n_groups):
        members = by_group[starts[group]:starts[group + 1]]
        if top_variance < 0 or members.size <= top_variance:
            keep[members] = True
            continue
        if top_variance == 0:
            continue
        # The top_variance largest spreads, ties at the smallest kept one taken in column order: the
        # first top_variance of a stable sort by decreasing spread, found by a linear-time selection.
        spreads = spread[members]
        kth = np.partition(spreads, members.size - top_variance)[members.size - top_variance]
        ties_kept = top_variance - int((spreads > kth).sum())
        for m in range(members.size):
            if spreads[m] > kth:
                keep[members[m]] = True
            elif spreads[m] == kth and ties_kept > 0:
                keep[members[m]] = True
                ties_kept -= 1
    return keep

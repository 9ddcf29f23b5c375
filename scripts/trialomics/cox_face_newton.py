"""The Newton step on the face of the elastic-net Cox model's second-order subproblem
(:mod:`trialomics.cox_path`), and the column products it shares with the path's KKT checks.

On the face (the non-zero coefficients, their signs fixed) the penalised quadratic model is smooth; its
Hessian D + V'HV / n (V the face's columns, D the ridge part of the penalty, H the Hessian of the
partial likelihood in eta) is solved through an n x n system by Woodbury's identity, one LAPACK dgesv
on reused buffers. Every sum is taken in a fixed order, so results are bit-reproducible.

The step costs O(n^2 |face| + n^3), about n / 2 coordinate-descent passes over the face, and pays off
only while n is small: on 500 standardised features, a path took 0.6 ms with it and 1.4 without at 16
patients, 18 and 20 ms at 96, but 58 and 41 ms at 128, 290 and 90 at 267, 509 and 73 at 400. Above
``NEWTON_MAX_PATIENTS`` training rows the path runs on coordinate descent alone (glmnet's passes over the
non-zero columns), which gives the same optimum; the demo's folds (7 to 16 patients) are unchanged.
"""
from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.np.linalg import F_INT_nbtype

# The solver's kernels allocate nothing: compiled without numba's reference counting (its ``_nrt``
# option), a call does not increment and decrement every array it is passed, atomically (about a tenth
# of a path's time when they were counted). A kernel that allocated would fail to compile ("NRT
# required but not enabled"); the arithmetic, hence every bit, is unchanged.
kernel = njit(cache=True, error_model="numpy", _nrt=False)

# LAPACK's dgesv as numba's np.linalg.solve binds it (numba's helper library loads SciPy's at the first
# call, not at import), called on reused buffers: the same routine on the same column-major matrix
# gives the same bits, without np.linalg.solve's copies, allocations and element-by-element
# finiteness check of every call.
_DGESV = types.ExternalFunction("numba_xgesv", types.intc(
    types.char, types.intp, types.intp, types.CPointer(types.float64), types.intp, types.CPointer(F_INT_nbtype),
    types.CPointer(types.float64), types.intp))
_DOUBLE_KIND = ord("d")


@kernel
def column_products(Xt, face, size, vector, out):
    """``out[a]`` = X[:, face[a]] . vector for a < ``size``, summed over the rows in order (as
    :func:`trialomics.cox_kkt_screen.column_gradients` sums them: same bits).

    Four columns a pass over their contiguous rows of ``Xt``: four independent sums, where one column at
    a time would wait for each addition and all at once would gather them row by row.
    """
    n = Xt.shape[1]
    a = 0
    while a + 4 <= size:
        j0, j1, j2, j3 = face[a], face[a + 1], face[a + 2], face[a + 3]
        sum0, sum1, sum2, sum3 = 0.0, 0.0, 0.0, 0.0
        for k in range(n):
            v = vector[k]
            sum0 += Xt[j0, k] * v
            sum1 += Xt[j1, k] * v
            sum2 += Xt[j2, k] * v
            sum3 += Xt[j3, k] * v
        out[a], out[a + 1], out[a + 2], out[a + 3] = sum0, sum1, sum2, sum3
        a += 4
    for rest in range(a, size):
        j = face[rest]
        total = 0.0
        for k in range(n):
            total += Xt[j, k] * vector[k]
        out[rest] = total


@kernel
def woodbury_system(padded_Xt, HXt, face, size, inverse_d, rhs_face, system, rhs):
    """``system[:, :n]`` = sum over the face of (H x_a / d_a) x_a' and ``rhs`` = sum of (H x_a / d_a) rhs_face[a].

    Four face columns per pass over the system (one load and store of it for four products instead of
    one each); every element still adds its terms one at a time in face order, as a pass per column
    would (same bits). The rows of ``padded_Xt`` (:func:`padded_rows`) and of ``system`` (n x that
    width) are padded with zeros to a multiple of ``ROW_PADDING``, so that the compiler's vector loop
    along a row has no scalar remainder (on the demo's 7 to 16 patients, up to 1.7x faster; the padding
    columns are zeros plus zero products and are never read).
    """
    n, width = HXt.shape[1], padded_Xt.shape[1]
    system[:, :] = 0.0
    rhs[:] = 0.0
    a = 0
    while a + 4 <= size:
        j0, j1, j2, j3 = face[a], face[a + 1], face[a + 2], face[a + 3]
        for k in range(n):
            w0 = HXt[j0, k] * inverse_d[a]
            w1 = HXt[j1, k] * inverse_d[a + 1]
            w2 = HXt[j2, k] * inverse_d[a + 2]
            w3 = HXt[j3, k] * inverse_d[a + 3]
            rhs[k] = (((rhs[k] + w0 * rhs_face[a]) + w1 * rhs_face[a + 1]) + w2 * rhs_face[a + 2]
                      + w3 * rhs_face[a + 3])
            for m in range(width):
                system[k, m] = ((((system[k, m] + w0 * padded_Xt[j0, m]) + w1 * padded_Xt[j1, m])
                                 + w2 * padded_Xt[j2, m]) + w3 * padded_Xt[j3, m])
        a += 4
    for column in range(a, size):
        j = face[column]
        for k in range(n):
            w = HXt[j, k] * inverse_d[column]
            rhs[k] += w * rhs_face[column]
            for m in range(width):
                system[k, m] += w * padded_Xt[j, m]


ROW_PADDING = 8
NEWTON_MAX_PATIENTS = 96   # training rows beyond which the face Newton step costs more than it saves


@njit(cache=True, error_model="numpy")
def padded_rows(Xt):
    """``Xt`` with each row padded with zeros to a multiple of ``ROW_PADDING`` (itself when it is one)."""
    p, n = Xt.shape
    width = -(-n // ROW_PADDING) * ROW_PADDING
    if width == n:
        return Xt
    padded = np.zeros((p, width))
    padded[:, :n] = Xt
    return padded


@kernel
def solve_in_place(system, rhs, lu, pivots):
    """``rhs`` = system^-1 rhs, as np.linalg.solve(system, rhs) computes it (see ``_DGESV``).

    ``lu`` (n x n) receives the matrix in column-major order and then its LU factors; ``pivots`` (n,
    LAPACK's integers) the row swaps. Raises np.linalg.LinAlgError as np.linalg.solve does.
    """
    n = system.shape[0]
    for k in range(n):
        for m in range(n):
            lu[m, k] = system[k, m]
    for k in range(n):
        if not np.isfinite(rhs[k]):
            raise np.linalg.LinAlgError("Array must not contain infs or NaNs.")
        for m in range(n):
            if not np.isfinite(lu[k, m]):
                raise np.linalg.LinAlgError("Array must not contain infs or NaNs.")
    if _DGESV(_DOUBLE_KIND, n, 1, lu.ctypes, n, pivots.ctypes, rhs.ctypes, n) != 0:
        raise np.linalg.LinAlgError("Matrix is singular to machine precision.")


@kernel
def face_newton(Xt, HXt, residual, beta, members, n_members, alpha, l1_ratio, factor, work):
    """Newton step on the model restricted to the current face (non-zero columns, their signs fixed).

    The face's Hessian is D + V'HV / n (V the non-zero columns, D the ridge part of the penalty, positive
    when every such column is penalised and l1_ratio < 1); by Woodbury its solve needs one n x n system,
    O(n^2 |face|), however many columns are non-zero. The step stops where a coefficient would cross
    zero (that coefficient is set to 0), so the model decreases. Returns False where it does not apply
    or where n > ``NEWTON_MAX_PATIENTS`` (see the module docstring).
    """
    n = Xt.shape[1]
    face, inverse_d, rhs_face, delta = work.face, work.inverse_d, work.rhs_face, work.delta
    system, rhs, lu, pivots, padded_Xt = work.system, work.rhs, work.lu, work.pivots, work.padded_Xt
    size = 0
    for a in range(n_members):
        j = members[a]
        if beta[j] != 0.0:
            if factor[j] == 0.0:
                return False
            face[size] = j
            size += 1
    if size == 0 or l1_ratio >= 1.0 or n > NEWTON_MAX_PATIENTS:
        return False
    ridge = alpha * (1.0 - l1_ratio)
    column_products(Xt, face, size, residual, rhs_face)
    for a in range(size):
        j = face[a]
        d = ridge * factor[j]
        inverse_d[a] = 1.0 / d
        sign = 1.0 if beta[j] > 0.0 else -1.0
        rhs_face[a] = rhs_face[a] / n - alpha * l1_ratio * factor[j] * sign - d * beta[j]
    woodbury_system(padded_Xt, HXt, face, size, inverse_d, rhs_face, system, rhs)
    for k in range(n):
        system[k, k] += n
    solve_in_place(system, rhs, lu, pivots)
    y = rhs
    step = 1.0
    blocking = -1
    column_products(Xt, face, size, y, delta)
    for a in range(size):
        j = face[a]
        delta[a] = inverse_d[a] * (rhs_face[a] - delta[a])
        if (beta[j] + delta[a]) * beta[j] < 0.0:
            t = -beta[j] / delta[a]
            if t < step:
                step = t
                blocking = a
    for a in range(size):
        j = face[a]
        delta[a] = -beta[j] if a == blocking else step * delta[a]        # the move
        beta[j] += delta[a]
    # Four columns a pass over the residual, each element's updates still one at a time in face order.
    a = 0
    while a + 4 <= size:
        j0, j1, j2, j3 = face[a], face[a + 1], face[a + 2], face[a + 3]
        m0, m1, m2, m3 = delta[a], delta[a + 1], delta[a + 2], delta[a + 3]
        for k in range(n):
            residual[k] = (((residual[k] - HXt[j0, k] * m0) - HXt[j1, k] * m1) - HXt[j2, k] * m2) - HXt[j3, k] * m3
        a += 4
    for column in range(a, size):
        j = face[column]
        for k in range(n):
            residual[k] -= HXt[j, k] * delta[column]
    return True

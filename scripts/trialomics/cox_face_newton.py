"""The Newton step on the face of the elastic-net Cox model's second-order subproblem
(:mod:`trialomics.cox_path`), and the column products it shares with the path's KKT checks.

On the face (the non-zero coefficients, their signs fixed) the penalised quadratic model is smooth; its
Hessian D + V'HV / n (V the face's columns, D the ridge part of the penalty, H the Hessian of the
partial likelihood in eta) is solved through an n x n system by Woodbury's identity, one LAPACK dgesv
on reused buffers. Every sum is taken in a fixed order, so results are bit-reproducible.

Fits on at most ``NEWTON_MAX_PATIENTS`` training rows (all of the demo's: 7 to 20) take the step after every
coordinate-descent pass that leaves the model unsettled: its n x n system is built by the loops below,
cheaper than a library call at that size. In larger folds a step costs tens of passes over the face, so
the path first runs glmnet's passes over the non-zero columns and takes a step only when
``cox_path.PASSES_BEFORE_NEWTON`` of them have not settled them (correlated features can need
thousands); its system is then the smaller of the f x f one (f the face's columns; symmetric: dgemm
builds its lower blocks, Cholesky factorises it) and Woodbury's n x n one, built by BLAS's dgemm
(:func:`blas_face_step`). Measured with ``bench/cox_path_speed.py``: on paths
of the 500-patient demo cohort, 125 ms a path against 327 with coordinate descent alone and 592 with the
n x n step after every pass; of the 100-patient cohort (50 to 80 rows), 14.3 ms against 17.8 with the
step after every pass; on 500 correlated features, within 10% of each other from 16 to 24 rows (the
limit, 20, keeps the demo's tables byte-identical) and 1.3 to 2x faster from 48 on.
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
_DGEMM = types.ExternalFunction("numba_xxgemm", types.intc(
    types.char, types.char, types.char, types.intp, types.intp, types.intp, types.CPointer(types.float64),
    types.CPointer(types.float64), types.intp, types.CPointer(types.float64), types.intp,
    types.CPointer(types.float64), types.CPointer(types.float64), types.intp))
_DPOTRF = types.ExternalFunction("numba_xxpotrf", types.intc(
    types.char, types.char, types.intp, types.CPointer(types.float64), types.intp))
_DOUBLE_KIND = ord("d")
_TRANSPOSED, _AS_IS, _LOWER = ord("T"), ord("N"), ord("L")
# The f x f system's Gram matrix is symmetric: of GRAM_BLOCKS x GRAM_BLOCKS blocks, dgemm computes those
# on and below the diagonal only (10 of 16), and Cholesky's factorisation reads that triangle.
GRAM_BLOCKS = 4


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
NEWTON_MAX_PATIENTS = 20   # training rows up to which a face Newton step follows every unsettled pass


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
def _dgesv(size, lu, pivots, rhs):
    """``rhs[:size]`` = A^-1 rhs for the ``size`` x ``size`` matrix A held column-major in ``lu`` (n x n:
    element (a, b) in ``lu[b, a]``, leading dimension n), which receives its LU factors. Raises
    np.linalg.LinAlgError as np.linalg.solve does."""
    for b in range(size):
        if not np.isfinite(rhs[b]):
            raise np.linalg.LinAlgError("Array must not contain infs or NaNs.")
        for a in range(size):
            if not np.isfinite(lu[b, a]):
                raise np.linalg.LinAlgError("Array must not contain infs or NaNs.")
    if _DGESV(_DOUBLE_KIND, size, 1, lu.ctypes, lu.shape[1], pivots.ctypes, rhs.ctypes, size) != 0:
        raise np.linalg.LinAlgError("Matrix is singular to machine precision.")


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
    _dgesv(n, lu, pivots, rhs)


@kernel
def _dgemm(transa, transb, m, n, k, a, lda, b, ldb, c, ldc, scalars):
    """c = a b (column-major, BLAS conventions); ``scalars`` holds dgemm's alpha and beta, set to (1, 0)."""
    scalars[0] = 1.0
    scalars[1] = 0.0
    if _DGEMM(_DOUBLE_KIND, transa, transb, m, n, k, scalars[:1].ctypes, a.ctypes, lda, b.ctypes, ldb,
              scalars[1:].ctypes, c.ctypes, ldc) != 0:
        raise RuntimeError("BLAS dgemm is not available")




@kernel
def _lower_gram(face_Xt, face_HXt, size, lu, scalars):
    """The blocks on and below the diagonal of V'(HV) (``GRAM_BLOCKS`` a side) into ``lu`` (column-major,
    leading dimension n: element (a, b) in ``lu[b, a]``), one dgemm each; V and HV are the rows of
    ``face_Xt`` and ``face_HXt`` (row-major f x n: column-major n x f)."""
    n = face_Xt.shape[1]
    width = (size + GRAM_BLOCKS - 1) // GRAM_BLOCKS
    for first_column in range(0, size, width):
        columns = min(width, size - first_column)
        for first_row in range(first_column, size, width):
            rows = min(width, size - first_row)
            # Each operand's pointer is that of the block's first element; dgemm strides by n from it.
            _dgemm(_TRANSPOSED, _AS_IS, rows, columns, n, face_Xt[first_row], n, face_HXt[first_column], n,
                   lu[first_column, first_row:], n, scalars)


@kernel
def _cholesky_solve(size, lu, rhs):
    """``rhs[:size]`` = A^-1 rhs for the symmetric matrix A whose lower triangle ``lu`` holds (column-major,
    leading dimension n), by LAPACK's dpotrf and two triangular solves (each sum in a fixed order). False,
    with ``lu`` and ``rhs`` overwritten, when A is not positive definite to rounding or a value is not
    finite (OpenBLAS's dpotrf passes a NaN on: a non-finite entry of A reaches the diagonal of its factor)."""
    if _DPOTRF(_DOUBLE_KIND, _LOWER, size, lu.ctypes, lu.shape[1]) != 0:
        return False
    for b in range(size):
        if not lu[b, b] > 0.0:
            return False
    for b in range(size):                   # L y = rhs, a column of L at a time (contiguous in lu[b])
        rhs[b] /= lu[b, b]
        solved = rhs[b]
        for a in range(b + 1, size):
            rhs[a] -= lu[b, a] * solved
    for a in range(size - 1, -1, -1):       # L' x = y, a row of L' at a time (contiguous in lu[a])
        total = rhs[a]
        for b in range(a + 1, size):
            total -= lu[a, b] * rhs[b]
        rhs[a] = total / lu[a, a]
        if not np.isfinite(rhs[a]):
            return False
    return True


@kernel
def _face_system(lu, size, n, inverse_d, rhs_face, delta, lower_only):
    """The Gram matrix V'(HV) in ``lu`` becomes D + V'HV / n (its lower triangle only, ``lower_only``), and
    ``delta`` the right-hand side ``rhs_face``, for the f x f solve."""
    for b in range(size):
        for a in range(b if lower_only else 0, size):
            lu[b, a] /= n
        lu[b, b] += 1.0 / inverse_d[b]
    for a in range(size):
        delta[a] = rhs_face[a]


@kernel
def blas_face_step(Xt, HXt, face, size, inverse_d, rhs_face, delta, work):
    """``delta`` = (D + V'HV / n)^-1 ``rhs_face`` for the face's columns V = X[:, face[:size]] (D = 1 /
    ``inverse_d``), by whichever system is smaller: with f = ``size`` < n, the f x f system itself, its
    Gram matrix V'(HV) by dgemm; else Woodbury's, (n I + H V D^-1 V') y = H V D^-1 ``rhs_face`` and
    ``delta`` = D^-1 (``rhs_face`` - V'y), its n x n matrix by dgemm. The face's rows of ``Xt`` and ``HXt``
    are gathered into ``work.face_Xt`` and ``work.face_HXt`` (row-major f x n: column-major n x f); the
    system is built and factorised in ``work.lu`` (leading dimension n)."""
    n = Xt.shape[1]
    face_Xt, face_HXt, lu, pivots, rhs = work.face_Xt, work.face_HXt, work.lu, work.pivots, work.rhs
    for a in range(size):
        j = face[a]
        for k in range(n):
            face_Xt[a, k] = Xt[j, k]
            face_HXt[a, k] = HXt[j, k]
    if size < n:
        _lower_gram(face_Xt, face_HXt, size, lu, work.scalars)
        _face_system(lu, size, n, inverse_d, rhs_face, delta, True)
        if _cholesky_solve(size, lu, delta):
            return
        # Not positive definite to rounding (D > 0 makes it so in exact arithmetic), or not finite: the
        # whole matrix again, and LU with pivoting (which raises on values that are not finite).
        _dgemm(_TRANSPOSED, _AS_IS, size, size, n, face_Xt, n, face_HXt, n, lu, n, work.scalars)
        _face_system(lu, size, n, inverse_d, rhs_face, delta, False)
        _dgesv(size, lu, pivots, delta)
        return
    for k in range(n):
        rhs[k] = 0.0
    for a in range(size):
        for k in range(n):
            face_HXt[a, k] *= inverse_d[a]
            rhs[k] += face_HXt[a, k] * rhs_face[a]
    _dgemm(_AS_IS, _TRANSPOSED, n, n, size, face_HXt, n, face_Xt, n, lu, n, work.scalars)
    for k in range(n):
        lu[k, k] += n
    _dgesv(n, lu, pivots, rhs)
    column_products(Xt, face, size, rhs, delta)
    for a in range(size):
        delta[a] = inverse_d[a] * (rhs_face[a] - delta[a])


@kernel
def face_newton(Xt, HXt, residual, beta, members, n_members, alpha, l1_ratio, factor, work):
    """Newton step on the model restricted to the current face (non-zero columns, their signs fixed).

    The face's Hessian is D + V'HV / n (V the non-zero columns, D the ridge part of the penalty, positive
    when every such column is penalised and l1_ratio < 1); by Woodbury its solve needs one n x n system,
    O(n^2 |face|), however many columns are non-zero. The step stops where a coefficient would cross
    zero (that coefficient is set to 0), so the model decreases. Returns False where it does not apply
    (in cohorts of more than ``NEWTON_MAX_PATIENTS``, :func:`blas_face_step` solves it).
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
    if size == 0 or l1_ratio >= 1.0:
        return False
    ridge = alpha * (1.0 - l1_ratio)
    column_products(Xt, face, size, residual, rhs_face)
    for a in range(size):
        j = face[a]
        d = ridge * factor[j]
        inverse_d[a] = 1.0 / d
        sign = 1.0 if beta[j] > 0.0 else -1.0
        rhs_face[a] = rhs_face[a] / n - alpha * l1_ratio * factor[j] * sign - d * beta[j]
    if n > NEWTON_MAX_PATIENTS:
        blas_face_step(Xt, HXt, face, size, inverse_d, rhs_face, delta, work)
    else:
        woodbury_system(padded_Xt, HXt, face, size, inverse_d, rhs_face, system, rhs)
        for k in range(n):
            system[k, k] += n
        solve_in_place(system, rhs, lu, pivots)
        column_products(Xt, face, size, rhs, delta)
        for a in range(size):
            delta[a] = inverse_d[a] * (rhs_face[a] - delta[a])
    step = 1.0
    blocking = -1
    for a in range(size):
        j = face[a]
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

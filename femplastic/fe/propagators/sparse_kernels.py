"""Numba kernels of the sparse FE propagator: one packed array, triangular solves, selected inverse.

The sparse propagator (:class:`femplastic.fe.propagators.general.SparsePropagator`) packs its
whole operator into ONE float64 array, so that it travels through the fused drivers as an
ordinary numba form ``(FORM_SPARSE, arr, 0)`` (the form tuple type every driver already
compiles for). Integer sections are stored as int64 bit patterns (``arr.view(np.int64)``).

Layout of the flat array ``buf`` (``ib = buf.view(int64)``): a header of :data:`HEADER` int64
slots ``[m, n, nnzL, nnzU, oLp, oLi, oLx, oUp, oUi, oUx, oEd, oF, oD, oC, oW, oZ]`` (offsets in
slots), then

* ``Lp (m+1), Li (nnzL), Lx (nnzL)``: lower triangular factor, CSC, rows sorted (diagonal
  first in each column);
* ``Up (m+1), Ui (nnzU), Ux (nnzU)``: upper triangular factor, CSC, rows sorted (diagonal last);
  ``K_perm = L U`` where ``K_perm`` is the stiffness of the free dofs in the fill-reducing order;
* ``Ed (n, 8)`` int64: position in the permuted system of each element dof, -1 if pinned;
* ``F (n, 3, 8)``: nodal force on each element dof per unit eigenstrain component ``b``
  (``A_e Bbar_e^T W C_e``);
* ``D (n, 3, 8)``: element-average stress ``a`` per unit displacement of each element dof
  (``C_e Bbar_e``);
* ``C (n, 3, 3)``: element stiffness (the local ``-C_e deps`` term);
* ``W (m)``: work vector (right-hand side, then solution).

Cost of one batch of events: ``O(events)`` to scatter forces, one forward and one backward
triangular solve (``nnzL + nnzU`` multiply-adds), ``O(n)`` to gather element stresses.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ...numba_cache import refresh as _refresh_numba_caches

_refresh_numba_caches()  # before any cached kernel loads (see femplastic.numba_cache)

__all__ = ["HEADER", "element_stress", "gather_responses", "sparse_apply", "sparse_solve",
           "sparse_solve_many", "sparse_solve_blocks", "selected_inverse", "self_blocks", "section"]

#: Number of int64 header slots of the packed array.
HEADER = 16


@nb.njit(cache=True)
def section(buf, k):  # pragma: no cover - compiled
    """Offset (slots) of header entry ``k`` of the packed array ``buf`` (flat float64)."""
    return buf.view(np.int64)[k]


@nb.njit(cache=True, fastmath={"contract"}, boundscheck=False)
def _lower(Lp, Li, Lx, x, m):  # pragma: no cover - compiled
    """In place ``x <- L^-1 x`` (CSC lower, diagonal first); zero entries are skipped."""
    for j in range(m):
        xj = x[j]
        if xj != 0.0:
            p0 = Lp[j]
            xj = xj / Lx[p0]
            x[j] = xj
            for p in range(p0 + 1, Lp[j + 1]):
                x[Li[p]] -= Lx[p] * xj


@nb.njit(cache=True, fastmath={"contract"}, boundscheck=False)
def _upper(Up, Ui, Ux, x, m):  # pragma: no cover - compiled
    """In place ``x <- U^-1 x`` (CSC upper, diagonal last)."""
    for j in range(m - 1, -1, -1):
        xj = x[j]
        if xj != 0.0:
            p1 = Up[j + 1] - 1
            xj = xj / Ux[p1]
            x[j] = xj
            for p in range(Up[j], p1):
                x[Ui[p]] -= Ux[p] * xj


@nb.njit(cache=True)
def _unpack(buf):  # pragma: no cover - compiled
    ib = buf.view(np.int64)
    m = ib[0]
    n = ib[1]
    nl = ib[2]
    nu = ib[3]
    Lp = ib[ib[4]:ib[4] + m + 1]
    Li = ib[ib[5]:ib[5] + nl]
    Lx = buf[ib[6]:ib[6] + nl]
    Up = ib[ib[7]:ib[7] + m + 1]
    Ui = ib[ib[8]:ib[8] + nu]
    Ux = buf[ib[9]:ib[9] + nu]
    Ed = ib[ib[10]:ib[10] + 8 * n].reshape(n, 8)
    F = buf[ib[11]:ib[11] + 24 * n].reshape(n, 3, 8)
    D = buf[ib[12]:ib[12] + 24 * n].reshape(n, 3, 8)
    C = buf[ib[13]:ib[13] + 9 * n].reshape(n, 3, 3)
    W = buf[ib[14]:ib[14] + m]
    return m, n, Lp, Li, Lx, Up, Ui, Ux, Ed, F, D, C, W


@nb.njit(cache=True)
def sparse_solve(buf, x):  # pragma: no cover - compiled
    """In place ``x <- K_perm^-1 x`` (forward then backward substitution), x (m,)."""
    m, n, Lp, Li, Lx, Up, Ui, Ux, Ed, F, D, C, W = _unpack(buf)
    _lower(Lp, Li, Lx, x, m)
    _upper(Up, Ui, Ux, x, m)


@nb.njit(cache=True, parallel=True)
def sparse_solve_many(buf, X):  # pragma: no cover - compiled
    """In place ``X[k] <- K_perm^-1 X[k]`` for every row ``k`` of X (k, m), threaded over k."""
    m, n, Lp, Li, Lx, Up, Ui, Ux, Ed, F, D, C, W = _unpack(buf)
    for k in nb.prange(X.shape[0]):
        x = X[k]
        _lower(Lp, Li, Lx, x, m)
        _upper(Up, Ui, Ux, x, m)


@nb.njit(cache=True, parallel=True, fastmath={"contract"}, boundscheck=False)
def sparse_solve_blocks(buf, X):  # pragma: no cover - compiled
    """In place ``X[b, :, r] <- K_perm^-1 X[b, :, r]`` for blocks ``X (nb, m, B)`` of B rhs.

    The ``B`` right-hand sides of a block are updated together (contiguous, vectorised), the
    blocks are shared among threads: the dense-response build.
    """
    m, n, Lp, Li, Lx, Up, Ui, Ux, Ed, F, D, C, W = _unpack(buf)
    nb_ = X.shape[0]
    B = X.shape[2]
    for blk in nb.prange(nb_):
        Y = X[blk]
        for j in range(m):
            p0 = Lp[j]
            inv = 1.0 / Lx[p0]
            for r in range(B):
                Y[j, r] *= inv
            for p in range(p0 + 1, Lp[j + 1]):
                i = Li[p]
                v = Lx[p]
                for r in range(B):
                    Y[i, r] -= v * Y[j, r]
        for j in range(m - 1, -1, -1):
            p1 = Up[j + 1] - 1
            inv = 1.0 / Ux[p1]
            for r in range(B):
                Y[j, r] *= inv
            for p in range(Up[j], p1):
                i = Ui[p]
                v = Ux[p]
                for r in range(B):
                    Y[i, r] -= v * Y[j, r]


@nb.njit(cache=True, fastmath={"contract"}, boundscheck=False)
def element_stress(Ed, D, Y, lane, j):  # pragma: no cover - compiled
    """Average stress ``D_j u`` (3 numbers) of element ``j`` for the solution ``Y[:, lane]``.

    ``Ed (n, 8)`` dof positions in the permuted system (-1: pinned), ``D (n, 3, 8)``,
    ``Y (m, B)`` a block of solutions (permuted free dofs).
    """
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    for k in range(8):
        p = Ed[j, k]
        if p >= 0:
            u = Y[p, lane]
            s0 += D[j, 0, k] * u
            s1 += D[j, 1, k] * u
            s2 += D[j, 2, k] * u
    return s0, s1, s2


@nb.njit(cache=True, parallel=True, fastmath={"contract"}, boundscheck=False)
def gather_responses(buf, X, idx, R2):  # pragma: no cover - compiled
    """Rows of the dense response from block solutions ``X (nb, m, B)`` of unit eigenstrains.

    Right-hand side ``r = 3 i + b`` (block ``r // B``, lane ``r % B``) is the unit
    eigenstrain ``b`` of element ``idx[i]``; writes ``R2[3 idx[i] + b, 3 j + a]`` = stress
    ``a`` of element ``j`` (``D_j u - C`` on the diagonal block).
    """
    m, n, Lp, Li, Lx, Up, Ui, Ux, Ed, F, D, C, W = _unpack(buf)
    B = X.shape[2]
    for r in nb.prange(3 * idx.shape[0]):
        i = r // 3
        b = r - 3 * i
        e = idx[i]
        Y = X[r // B]
        lane = r % B
        row = R2[3 * e + b]
        for j in range(n):
            s0, s1, s2 = element_stress(Ed, D, Y, lane, j)
            row[3 * j] = s0
            row[3 * j + 1] = s1
            row[3 * j + 2] = s2
        for a in range(3):
            row[3 * e + a] -= C[e, a, b]


@nb.njit(cache=True, fastmath={"contract"}, boundscheck=False)
def sparse_apply(buf, stress, count, act_e, deps):  # pragma: no cover - compiled
    """``stress += response to deps[:count] in elements act_e[:count]`` (all in one solve).

    Parameters
    ----------
    buf : (N,) float64, the packed operator (module docstring)
    stress : (n*3,) float64, flat element stress, modified in place
    count : int
    act_e : (>= count,) int64
    deps : (>= count, 3) float64, Voigt plastic strain increments (tensor shear)
    """
    if count == 0:
        return
    m, n, Lp, Li, Lx, Up, Ui, Ux, Ed, F, D, C, W = _unpack(buf)
    W[:] = 0.0
    for i in range(count):
        e = act_e[i]
        d0 = deps[i, 0]
        d1 = deps[i, 1]
        d2 = deps[i, 2]
        for k in range(8):
            p = Ed[e, k]
            if p >= 0:
                W[p] += F[e, 0, k] * d0 + F[e, 1, k] * d1 + F[e, 2, k] * d2
    _lower(Lp, Li, Lx, W, m)
    _upper(Up, Ui, Ux, W, m)
    for j in range(n):
        s0 = 0.0
        s1 = 0.0
        s2 = 0.0
        for k in range(8):
            p = Ed[j, k]
            if p >= 0:
                u = W[p]
                s0 += D[j, 0, k] * u
                s1 += D[j, 1, k] * u
                s2 += D[j, 2, k] * u
        stress[3 * j] += s0
        stress[3 * j + 1] += s1
        stress[3 * j + 2] += s2
    for i in range(count):
        e = act_e[i]
        for a in range(3):
            stress[3 * e + a] -= C[e, a, 0] * deps[i, 0] + C[e, a, 1] * deps[i, 1] \
                + C[e, a, 2] * deps[i, 2]


@nb.njit(cache=True, boundscheck=False)
def selected_inverse(Lp, Li, Lx, d, Z):  # pragma: no cover - compiled
    """Entries of ``K^-1`` on the pattern of ``L`` (Takahashi recurrences), ``K = L diag(d) L^T``.

    Parameters
    ----------
    Lp, Li, Lx : CSC unit lower factor (diagonal first in each column, rows sorted)
    d : (m,) float64 pivots
    Z : (nnzL,) float64, out: ``Z[p] = (K^-1)[Li[p], j]`` for ``p`` in column ``j``

    Notes
    -----
    Column ``j`` (from last to first): ``Z_ij = -sum_k Z_ik L_kj`` over the below-diagonal
    pattern ``k`` of column ``j``, ``Z_jj = 1/d_j - sum_k L_kj Z_kj``. ``Z_ik`` with ``i, k``
    both in the pattern of column ``j`` lies in column ``min(i, k)`` at row ``max(i, k)``
    (the pattern of a column is a clique of the filled graph), found by one merge walk per
    ``k``: ``O(sum_j sum_{k in col j} |col k|)`` work.
    """
    m = d.shape[0]
    s = np.zeros(m)
    for j in range(m - 1, -1, -1):
        p0 = Lp[j] + 1
        p1 = Lp[j + 1]
        for a in range(p0, p1):
            s[Li[a]] = 0.0
        for a in range(p0, p1):
            k = Li[a]
            lk = Lx[a]
            # diagonal Z_kk
            q = Lp[k]
            zkk = Z[q]
            s[k] += zkk * lk
            q += 1
            qe = Lp[k + 1]
            for b in range(a + 1, p1):
                i = Li[b]
                while Li[q] != i:
                    q += 1
                z = Z[q]
                s[i] += z * lk  # Z_ik L_kj
                s[k] += z * Lx[b]  # Z_ki L_ij
            _ = qe
        dj = 1.0 / d[j]
        for a in range(p0, p1):
            z = -s[Li[a]]
            Z[a] = z
            dj -= Lx[a] * z
        Z[Lp[j]] = dj


@nb.njit(cache=True, boundscheck=False)
def self_blocks(buf, Lp, Li, Z, out):  # pragma: no cover - compiled
    """Self response ``out[e, a, b] = D_e Z_e F_e^T - C_e`` of every element from ``K^-1`` entries.

    ``Z`` holds ``K^-1`` on the pattern of ``Lp, Li`` (:func:`selected_inverse`); every pair of
    dofs of one element is in it (an element is a clique of the stiffness graph).
    """
    m, n, _, _, _, _, _, _, Ed, F, D, C, W = _unpack(buf)
    Ze = np.zeros((8, 8))
    for e in range(n):
        for k in range(8):
            for l in range(8):
                p = Ed[e, k]
                q = Ed[e, l]
                if p < 0 or q < 0:
                    Ze[k, l] = 0.0
                    continue
                r = max(p, q)
                c = min(p, q)
                lo = Lp[c]
                hi = Lp[c + 1] - 1
                while lo < hi:  # binary search of row r in column c
                    mid = (lo + hi) // 2
                    if Li[mid] < r:
                        lo = mid + 1
                    else:
                        hi = mid
                Ze[k, l] = Z[lo]
        for a in range(3):
            for b in range(3):
                acc = 0.0
                for k in range(8):
                    t = 0.0
                    for l in range(8):
                        t += Ze[k, l] * F[e, b, l]
                    acc += D[e, a, k] * t
                out[e, a, b] = acc - C[e, a, b]

"""Numba kernels of the packed (symmetric, half-stored) dense response of a general FE problem.

Reciprocity: with the elastic energy ``E = 1/2 sum_e int_e (eps - eps*) : C_e : (eps - eps*)``
and an eigenstrain uniform per element, ``dE / d eps*_{e,b} = -A_e w_b sigmabar_{e,b}``
(``w = (1, 1, 2)``: Voigt, tensor shear), so ``H[(i,b), (j,a)] = A_j w_a R[i,b,j,a]`` is a
Hessian, symmetric for any mesh and any per-element moduli. Hence the response
``R2[3 i + b, 3 j + a]`` (stress ``a`` of element ``j`` per unit eigenstrain ``b`` of element
``i``) is stored for element pairs ``i <= j`` only:

``R2[3 j + a, 3 i + b] = R2[3 i + b, 3 j + a] * s[3 i + b] / s[3 j + a]``, ``s = A w``.

Layout of the flat array ``buf`` (``ib = buf.view(int64)``): a header of :data:`HEADER` int64
slots ``[n, b, oP, oS, oI]``, then

* ``P``: the 3 x 3 blocks ``P[i, j][c, a] = R2[3 i + c, 3 j + a]`` of the element pairs whose
  tiles (``b`` consecutive elements) satisfy ``i // b <= j // b``, tile column by tile column:
  tile column ``J`` starts at ``9 b^2 J (J + 1) / 2`` and holds the rows ``i < (J + 1) b``,
  ``b`` blocks (``9 b`` numbers) each, so block ``(i, j)`` is at ``9 b^2 J (J + 1) / 2 +
  9 (b i + j - J b)``. Diagonal tiles are stored whole. About ``36 n (n + b)`` bytes (the full
  response: ``72 n^2``);
* ``S (3 n)``: ``s = A_e w_c``; ``I (3 n)``: ``1 / s``.

An event in element ``e`` (tile ``t``) reads its row in the tile columns ``J >= t`` (runs of
``9 b`` contiguous numbers) and its column in tile column ``t`` (one block every ``9 b``
numbers): ``9 n`` numbers, as the full response, half of them strided. Measured on the
2-core reference machine (random events, n = 4,096 / 9,216): 56 / 158 us per event with
``b = 64``, 44 / 113 us with ``b = 256``, 41 / 105 us with ``b = 512`` (the full response:
12.5 us at n = 4,096; an element-by-element packed triangle, ``b = 1``: 112 us).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ...numba_cache import refresh as _refresh_numba_caches

_refresh_numba_caches()  # before any cached kernel loads (see femplastic.numba_cache)

from .sparse_kernels import element_stress  # noqa: E402  (after the cache refresh)

__all__ = ["HEADER", "gather_packed", "packed_add", "packed_size"]

#: Number of int64 header slots of the packed array.
HEADER = 8


def packed_size(n: int, b: int) -> int:
    """Length (float64 numbers) of the packed array of ``n`` elements in tiles of ``b``.

    Parameters
    ----------
    n : int
        Elements.
    b : int
        Tile side (elements).

    Returns
    -------
    int
        ``HEADER + 9 b^2 nt (nt + 1) / 2 + 6 n`` with ``nt = ceil(n / b)`` tiles.
    """
    nt = -(-n // b)
    return HEADER + 9 * b * b * (nt * (nt + 1) // 2) + 6 * n


@nb.njit(cache=True)
def _unpack(buf):  # pragma: no cover - compiled
    ib = buf.view(np.int64)
    n = ib[0]
    b = ib[1]
    nt = (n + b - 1) // b
    P = buf[ib[2]:ib[2] + 9 * b * b * (nt * (nt + 1) // 2)]
    S = buf[ib[3]:ib[3] + 3 * n]
    inv = buf[ib[4]:ib[4] + 3 * n]
    return n, b, nt, P, S, inv


@nb.njit(cache=True, fastmath={"contract"}, boundscheck=False)
def packed_add(buf, stress, count, act_e, deps):  # pragma: no cover - compiled
    """``stress += sum_k R2[act_e k] . deps[k]`` for ``k < count``, event by event.

    ``buf`` is the packed response (module docstring); the other arguments are those of
    :func:`~femplastic.fe.propagators.sparse_kernels.sparse_apply` (``stress`` flat
    ``(3 n,)``, modified in place; ``deps`` Voigt increments, tensor shear).
    """
    n, b, nt, P, S, inv = _unpack(buf)
    tb = 9 * b * b
    for k in range(count):
        e = act_e[k]
        d0 = deps[k, 0]
        d1 = deps[k, 1]
        d2 = deps[k, 2]
        te = e // b
        el = e - te * b
        # tile column te, rows j < te b: R2[3e+c, 3j+a] = P[j, e][a, c] s[3e+c] / s[3j+a]
        c0 = d0 * S[3 * e]
        c1 = d1 * S[3 * e + 1]
        c2 = d2 * S[3 * e + 2]
        q = tb * ((te * (te + 1)) // 2) + 9 * el
        for j in range(te * b):
            t0 = c0 * P[q] + c1 * P[q + 1] + c2 * P[q + 2]
            t1 = c0 * P[q + 3] + c1 * P[q + 4] + c2 * P[q + 5]
            t2 = c0 * P[q + 6] + c1 * P[q + 7] + c2 * P[q + 8]
            stress[3 * j] += t0 * inv[3 * j]
            stress[3 * j + 1] += t1 * inv[3 * j + 1]
            stress[3 * j + 2] += t2 * inv[3 * j + 2]
            q += 9 * b
        # row e of the tile columns J >= te: R2[3e+c, 3j+a] = P[e, j][c, a]
        for J in range(te, nt):
            q = tb * ((J * (J + 1)) // 2) + 9 * b * e
            for j in range(J * b, min(n, J * b + b)):
                stress[3 * j] += P[q] * d0 + P[q + 3] * d1 + P[q + 6] * d2
                stress[3 * j + 1] += P[q + 1] * d0 + P[q + 4] * d1 + P[q + 7] * d2
                stress[3 * j + 2] += P[q + 2] * d0 + P[q + 5] * d1 + P[q + 8] * d2
                q += 9


@nb.njit(cache=True, parallel=True, fastmath={"contract"}, boundscheck=False)
def gather_packed(buf, Ed, D, C, X, idx):  # pragma: no cover - compiled
    """Rows ``idx`` of the packed response from block solutions ``X (nb, m, B)``.

    Right-hand side ``r = 3 i + c`` (block ``r // B``, lane ``r % B``) is the displacement
    (permuted free dofs) of the unit eigenstrain ``c`` of element ``e = idx[i]``; writes
    ``P[e, j][c, a]`` = stress ``a`` of every element ``j`` of the tile columns ``J >= e // b``
    (``D_j u``, minus ``C_e`` on the diagonal block). ``Ed (n, 8)`` dof positions (-1
    pinned), ``D (n, 3, 8)`` displacement -> element stress, ``C (n, 3, 3)`` element
    stiffness (:mod:`.sparse_kernels` layout).
    """
    n, b, nt, P, S, inv = _unpack(buf)
    tb = 9 * b * b
    B = X.shape[2]
    for r in nb.prange(3 * idx.shape[0]):
        i = r // 3
        c = r - 3 * i
        e = idx[i]
        Y = X[r // B]
        lane = r % B
        te = e // b
        for J in range(te, nt):
            q = tb * ((J * (J + 1)) // 2) + 9 * b * e + 3 * c
            for j in range(J * b, min(n, J * b + b)):
                s0, s1, s2 = element_stress(Ed, D, Y, lane, j)
                if j == e:
                    s0 -= C[e, 0, c]
                    s1 -= C[e, 1, c]
                    s2 -= C[e, 2, c]
                P[q] = s0
                P[q + 1] = s1
                P[q + 2] = s2
                q += 9

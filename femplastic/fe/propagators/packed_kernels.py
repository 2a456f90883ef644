"""Numba kernels of the packed (symmetric, half-stored) dense response of a general FE problem.

Coordinates. Per element, an eigenstrain ``(d0, d1, d2)`` (Voigt, tensor shear) is written
``x = (u, v, t)`` with ``u = (d0 - d1) / 2`` (deviatoric), ``v = (d0 + d1) / 2``
(volumetric), ``t = d2``, and a stress as ``(su, p, s2)`` with ``su = (s0 - s1) / 2``,
``p = (s0 + s1) / 2``. ``Q[(i, c), (j, o)]`` is the change of output ``o`` of element ``j``
per unit input ``c`` of element ``i``. Slips are traceless (``v = 0``).

Reciprocity: with the elastic energy ``E = 1/2 sum_e int_e (eps - x) : C_e : (eps - x)`` and an
eigenstrain uniform per element, ``dE / dx_{j,c} = -2 A_j s'_{j,c}`` with the paired outputs
``u -> su``, ``v -> p``, ``t -> s2``. So ``A_j Q[(i, c), (j, o)] = A_i Q[(j, o*), (i, c*)]``
(``*``: the pairing) for any mesh and any per-element moduli, and ``Q`` is stored for the
element pairs ``i // b <= j // b`` only (``b``: tile side), the other half by this symmetry.

Of a block ``Q[(i, .), (j, .)]`` an event needs the inputs ``u, t`` (a slip in ``i``: 6
numbers) and, through the symmetry, the outputs ``su, s2`` (a slip in ``j``: 6 numbers): 8
numbers in all (not ``Q[v, p]``), one 64-byte cache line:
``P[i, j] = [Q_u,su, Q_u,p, Q_u,s2, Q_t,su, Q_t,p, Q_t,s2, Q_v,su, Q_v,s2]``.

Layout of the flat array ``buf`` (``ib = buf.view(int64)``), aligned to 64 bytes: a header of
:data:`HEADER` int64 slots ``[n, b, oP, oA, oI, oV]``, then

* ``P``: the blocks of the pairs whose tiles satisfy ``i // b <= j // b``, tile column by
  tile column: tile column ``J`` starts at ``8 b^2 J (J + 1) / 2`` and holds the rows
  ``i < (J + 1) b``, ``b`` blocks (``8 b`` numbers) each, so block ``(i, j)`` is at
  ``8 b^2 J (J + 1) / 2 + 8 (b i + j - J b)``. Diagonal tiles are stored whole. About
  ``32 n (n + b)`` bytes (the full response: ``72 n^2``);
* ``A (n)`` element areas, ``I (n)`` their inverses, ``V (n)`` the diagonal ``Q[(e, v), (e,
  p)]`` (for the self response).

An event in element ``e`` (tile ``t``) reads its row in the tile columns ``J >= t`` (runs of
``8 b`` contiguous numbers) and its column in tile column ``t`` (one cache line every ``8 b``
numbers). Measured on the 2-core reference machine (random events, n = 4,096 / 9,216, a
9-number Voigt block per pair): 56 / 158 us per event with ``b = 64``, 44 / 113 us with
``b = 256``, 41 / 105 us with ``b = 512`` (the full response: 12.5 us at n = 4,096; an
element-by-element packed triangle, ``b = 1``: 112 us); the 8-number block (one cache line
per strided read) about 1.3x faster again.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ...numba_cache import refresh as _refresh_numba_caches

_refresh_numba_caches()  # before any cached kernel loads (see femplastic.numba_cache)

from .sparse_kernels import element_stress  # noqa: E402  (after the cache refresh)

__all__ = ["HEADER", "gather_packed", "packed_add", "packed_size"]

#: Number of int64 header slots of the packed array (64 bytes: the blocks stay aligned).
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
        ``HEADER + 8 b^2 nt (nt + 1) / 2 + 3 n`` with ``nt = ceil(n / b)`` tiles.
    """
    nt = -(-n // b)
    return HEADER + 8 * b * b * (nt * (nt + 1) // 2) + 3 * n


@nb.njit(cache=True)
def _unpack(buf):  # pragma: no cover - compiled
    ib = buf.view(np.int64)
    n = ib[0]
    b = ib[1]
    nt = (n + b - 1) // b
    P = buf[ib[2]:ib[2] + 8 * b * b * (nt * (nt + 1) // 2)]
    A = buf[ib[3]:ib[3] + n]
    inv = buf[ib[4]:ib[4] + n]
    return n, b, nt, P, A, inv


@nb.njit(cache=True, fastmath={"contract"}, boundscheck=False)
def _tile_add(P, A, inv, n, b, nt, stress, count, act_e, deps, T):  # pragma: no cover
    """The events' changes of the target elements of tile ``T``, in event order.

    Rows ``j`` of a tile ``T < t`` (the event's tile) read the event's block column (one
    8-number block every ``8 b`` numbers), those of ``T >= t`` its block row (contiguous).
    """
    tb = 8 * b * b
    j0 = T * b
    j1 = min(n, j0 + b)
    for k in range(count):
        e = act_e[k]
        u = 0.5 * (deps[k, 0] - deps[k, 1])
        t = deps[k, 2]
        te = e // b
        if T < te:  # Q[(e,c),(j,o)] = A_e / A_j P[j, e][o*, c*]
            ru = u * A[e]
            rt = t * A[e]
            q = tb * ((te * (te + 1)) // 2) + 8 * (b * j0 + e - te * b)
            for j in range(j0, j1):
                r = inv[j]
                su = (ru * P[q] + rt * P[q + 2]) * r
                pp = (ru * P[q + 6] + rt * P[q + 7]) * r
                s2 = (ru * P[q + 3] + rt * P[q + 5]) * r
                stress[3 * j] += pp + su
                stress[3 * j + 1] += pp - su
                stress[3 * j + 2] += s2
                q += 8 * b
        else:  # P[e, j] directly
            q = tb * ((T * (T + 1)) // 2) + 8 * b * e
            for j in range(j0, j1):
                su = u * P[q] + t * P[q + 3]
                pp = u * P[q + 1] + t * P[q + 4]
                s2 = u * P[q + 2] + t * P[q + 5]
                stress[3 * j] += pp + su
                stress[3 * j + 1] += pp - su
                stress[3 * j + 2] += s2
                q += 8


@nb.njit(cache=True, parallel=True)
def _packed_add_par(P, A, inv, n, b, nt, stress, count, act_e, deps):  # pragma: no cover
    """:func:`packed_add` with the target tiles shared among threads (the same bits)."""
    for T in nb.prange(nt):
        _tile_add(P, A, inv, n, b, nt, stress, count, act_e, deps, T)


@nb.njit(cache=True)
def packed_add(buf, stress, count, act_e, deps, par=False):  # pragma: no cover - compiled
    """``stress +=`` the response to the traceless increments ``deps[:count]``.

    ``buf`` is the packed response (module docstring); the other arguments are those of
    :func:`~femplastic.fe.propagators.sparse_kernels.sparse_apply` (``stress`` flat
    ``(3 n,)``, modified in place; ``deps`` Voigt increments, tensor shear). Each target
    element receives the events in order, by the same arithmetic whether the target tiles
    run on threads (``par``) or not: the result is bit-identical. Raises ValueError on an
    increment with ``d0 + d1 != 0`` (not stored: the Python
    :meth:`~femplastic.fe.propagators.general.PackedDensePropagator.add` solves that part).
    """
    n, b, nt, P, A, inv = _unpack(buf)
    for k in range(count):
        if deps[k, 0] + deps[k, 1] != 0.0:
            raise ValueError("packed_add: the increments must be traceless (slips)")
    if par:
        _packed_add_par(P, A, inv, n, b, nt, stress, count, act_e, deps)
    else:
        for T in range(nt):
            _tile_add(P, A, inv, n, b, nt, stress, count, act_e, deps, T)


@nb.njit(cache=True, parallel=True, fastmath={"contract"}, boundscheck=False)
def gather_packed(buf, Ed, D, C, X, idx):  # pragma: no cover - compiled
    """Rows ``idx`` of the packed response from block solutions ``X (nb, m, B)``.

    Right-hand side ``r = 3 i + c`` (block ``r // B``, lane ``r % B``) is the displacement
    (permuted free dofs) of the unit Voigt eigenstrain ``c`` of element ``e = idx[i]``; writes
    ``P[e, j]`` for every element ``j`` of the tile columns ``J >= e // b`` (``D_j u``, minus
    ``C_e`` on the diagonal block, in the ``(u, v, t) -> (su, p, s2)`` coordinates) and
    ``V[e]``. ``Ed (n, 8)`` dof positions (-1 pinned), ``D (n, 3, 8)`` displacement ->
    element stress, ``C (n, 3, 3)`` element stiffness (:mod:`.sparse_kernels` layout).
    """
    n, b, nt, P, A, inv = _unpack(buf)
    ib = buf.view(np.int64)
    V = buf[ib[5]:ib[5] + n]
    tb = 8 * b * b
    B = X.shape[2]
    for i in nb.prange(idx.shape[0]):
        e = idx[i]
        Y0 = X[(3 * i) // B]
        Y1 = X[(3 * i + 1) // B]
        Y2 = X[(3 * i + 2) // B]
        l0 = (3 * i) % B
        l1 = (3 * i + 1) % B
        l2 = (3 * i + 2) % B
        te = e // b
        for J in range(te, nt):
            q = tb * ((J * (J + 1)) // 2) + 8 * b * e
            for j in range(J * b, min(n, J * b + b)):
                a0, a1, a2 = element_stress(Ed, D, Y0, l0, j)  # unit d0
                b0, b1, b2 = element_stress(Ed, D, Y1, l1, j)  # unit d1
                c0, c1, c2 = element_stress(Ed, D, Y2, l2, j)  # unit d2
                if j == e:
                    a0 -= C[e, 0, 0]
                    a1 -= C[e, 1, 0]
                    a2 -= C[e, 2, 0]
                    b0 -= C[e, 0, 1]
                    b1 -= C[e, 1, 1]
                    b2 -= C[e, 2, 1]
                    c0 -= C[e, 0, 2]
                    c1 -= C[e, 1, 2]
                    c2 -= C[e, 2, 2]
                # input u: d = (1, -1, 0); v: (1, 1, 0); t: (0, 0, 1)
                u0 = a0 - b0
                u1 = a1 - b1
                v0 = a0 + b0
                v1 = a1 + b1
                P[q] = 0.5 * (u0 - u1)
                P[q + 1] = 0.5 * (u0 + u1)
                P[q + 2] = a2 - b2
                P[q + 3] = 0.5 * (c0 - c1)
                P[q + 4] = 0.5 * (c0 + c1)
                P[q + 5] = c2
                P[q + 6] = 0.5 * (v0 - v1)
                P[q + 7] = a2 + b2
                if j == e:
                    V[e] = 0.5 * (v0 + v1)
                q += 8

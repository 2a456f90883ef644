"""Numba hot loops. Arrays and scalars in, preallocated arrays out (last arguments).

Nothing in this module knows about meshes, materials or parameter objects; the Python
modules translate their objects into the plain arrays these kernels take.
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["shifted_add", "shifted_add_many", "dense_add_many"]


@nb.njit(cache=True, fastmath={"contract"})
def shifted_add(stress, Gb, L, e, d0, d1, d2):  # pragma: no cover - compiled
    """``stress[j] += G[(j - e) mod (L, L)] @ (d0, d1, d2)`` for every element ``j``.

    Parameters
    ----------
    stress : (L*L*3,) float64, flat view of the (L*L, 3) stress array, modified in place
    Gb : (3, L*L*3) float64, periodic kernel planes: ``Gb[b, 3 r + a] = G[r, a, b]``, the
        stress ``a`` at offset ``r = ry * L + rx`` per unit eigenstrain ``b`` at the origin.
    L : int
    e : int, source element (row-major, x fastest)
    d0, d1, d2 : float, Voigt eigenstrain increment in ``e``

    Notes
    -----
    Each row of the grid is two contiguous segments (before and after the wrap), so the
    inner loop is a contiguous three-term axpy that the compiler vectorises.
    """
    ey = e // L
    ex = e - ey * L
    g0 = Gb[0]
    g1 = Gb[1]
    g2 = Gb[2]
    for jy in range(L):
        ry = jy - ey
        if ry < 0:
            ry += L
        # jx in [ex, L): rx = jx - ex
        a = 3 * (jy * L + ex)
        b = 3 * (ry * L)
        m = 3 * (L - ex)
        s, a0, a1, a2 = stress[a : a + m], g0[b : b + m], g1[b : b + m], g2[b : b + m]
        for k in range(m):
            s[k] += a0[k] * d0 + a1[k] * d1 + a2[k] * d2
        # jx in [0, ex): rx = jx - ex + L
        a = 3 * (jy * L)
        b = 3 * (ry * L + L - ex)
        m = 3 * ex
        s, a0, a1, a2 = stress[a : a + m], g0[b : b + m], g1[b : b + m], g2[b : b + m]
        for k in range(m):
            s[k] += a0[k] * d0 + a1[k] * d1 + a2[k] * d2


@nb.njit(cache=True)
def shifted_add_many(stress, G, L, elems, deps):  # pragma: no cover - compiled
    """Apply :func:`shifted_add` for every ``(elems[k], deps[k])``; stress flat, deps (k, 3)."""
    for k in range(elems.shape[0]):
        shifted_add(stress, G, L, elems[k], deps[k, 0], deps[k, 1], deps[k, 2])


@nb.njit(cache=True)
def dense_add_many(stress, R, elems, deps):  # pragma: no cover - compiled
    """``stress[j] += R[i, :, j, :]^T-contracted deps`` for a dense response ``R (n, 3, n, 3)``.

    ``R[i, b, j, a]`` is the change of stress ``a`` in element ``j`` per unit eigenstrain
    ``b`` in element ``i``.
    """
    n = stress.shape[0]
    for k in range(elems.shape[0]):
        i = elems[k]
        for b in range(3):
            d = deps[k, b]
            if d == 0.0:
                continue
            for j in range(n):
                stress[j, 0] += R[i, b, j, 0] * d
                stress[j, 1] += R[i, b, j, 1] * d
                stress[j, 2] += R[i, b, j, 2] * d


@nb.njit(cache=True)
def memory_pass(stress, c):  # pragma: no cover - compiled
    """Baseline for benchmarks: one read-modify-write pass over a flat stress array."""
    for j in range(stress.shape[0]):
        stress[j] += c


def _warmup() -> None:
    """Compile the kernels on tiny inputs (used by benchmarks before timing)."""
    s = np.zeros((4, 3))
    Gb = np.zeros((3, 12))
    shifted_add(s.reshape(-1), Gb, 2, 1, 0.0, 0.0, 1.0)
    shifted_add_many(s.reshape(-1), Gb, 2, np.zeros(1, np.int64), np.zeros((1, 3)))
    dense_add_many(s, np.zeros((4, 3, 4, 3)), np.zeros(1, np.int64), np.ones((1, 3)))
    memory_pass(s, 0.0)

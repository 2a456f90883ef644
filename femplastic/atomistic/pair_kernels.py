"""Numba kernels of the glass's pair potential (the paper's replacing polynomial), for LAMMPS.

The same closed form as :func:`femplastic.atomistic.potential.pair_energy` (LJ up to
``R_in``, ``t^3 (A + B t + C t^2)`` with ``t = R_out - r`` up to ``R_out``), its exact
derivative for the forces, evaluated on a half Verlet list. LAMMPS receives the forces, the
energy and the virial through ``fix external`` (:mod:`femplastic.atomistic.system`):
``pair_style lepton`` re-parses and re-compiles its expressions at every force call, which
costs ~2-4 ms per call whatever the number of atoms; these kernels cost ~30 microseconds per
1,000 atoms.

Array vocabulary: ``x (n, 2)`` positions, ``t (n,) int64`` species 0 = S, 1 = L, ``box =
(Lx, Ly, xy)`` as a float64 (3,) array, ``par (2, 2, 8)`` per species pair: ``c12 = 4 e
s^12``, ``c6 = 4 e s^6``, ``R_in^2``, ``R_out``, ``R_out^2``, ``A``, ``B``, ``C``.
Minimum images are exact for pairs closer than half the smallest cell width (the caller
checks the cutoff against it); the list stores each pair's periodic shift, so the force loop
does no rounding.
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, inline="always")
def _min_image(dx: float, dy: float, lx: float, ly: float, xy: float) -> tuple[float, float]:
    ny = np.round(dy / ly)
    dx -= ny * xy
    dy -= ny * ly
    dx -= np.round(dx / lx) * lx
    return dx, dy


@nb.njit(cache=True)
def _push(buf: np.ndarray, m: int, i: int, j: int, sx: float, sy: float) -> np.ndarray:
    if m == buf.shape[0]:
        grown = np.empty((2 * m, 4))
        grown[:m] = buf
        buf = grown
    buf[m, 0] = i
    buf[m, 1] = j
    buf[m, 2] = sx
    buf[m, 3] = sy
    return buf


@nb.njit(cache=True)
def build_pairs(x: np.ndarray, t: np.ndarray, box: np.ndarray, rlist: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Half list of the pairs closer than ``rlist[t_i, t_j]`` (cell binning, fractional).

    Parameters
    ----------
    x : (n, 2) float64
    t : (n,) int64
    box : (3,) float64
    rlist : (2, 2) float64
        Cutoff plus skin per species pair (the largest < half the smallest cell width).

    Returns
    -------
    i, j : (m,) int64
        ``i < j``.
    sx, sy : (m,) float64
        Periodic shift: ``x_i - x_j + (sx, sy)`` is the pair's minimum image (valid while
        the cell is unchanged and no atom is wrapped: the caller rebuilds then).
    """
    n = x.shape[0]
    lx, ly, xy = box[0], box[1], box[2]
    rmax = rlist.max()
    wx = lx * ly / np.sqrt(ly * ly + xy * xy)       # width across the tilted edges
    nx = int(wx // rmax)
    nyc = int(ly // rmax)
    buf = np.empty((32 * n + 16, 4))
    m = 0
    if nx < 3 or nyc < 3:
        for i in range(n):
            for j in range(i + 1, n):
                dx0, dy0 = x[i, 0] - x[j, 0], x[i, 1] - x[j, 1]
                dx, dy = _min_image(dx0, dy0, lx, ly, xy)
                rl = rlist[t[i], t[j]]
                if dx * dx + dy * dy < rl * rl:
                    buf = _push(buf, m, i, j, dx - dx0, dy - dy0)
                    m += 1
        return (buf[:m, 0].astype(np.int64), buf[:m, 1].astype(np.int64),
                buf[:m, 2].copy(), buf[:m, 3].copy())
    cell = np.empty(n, np.int64)
    head = -np.ones(nx * nyc, np.int64)
    nxt = np.empty(n, np.int64)
    for i in range(n):
        tt = x[i, 1] / ly
        s = (x[i, 0] - tt * xy) / lx
        s -= np.floor(s)
        tt -= np.floor(tt)
        cx = min(int(s * nx), nx - 1)
        cy = min(int(tt * nyc), nyc - 1)
        c = cy * nx + cx
        cell[i] = c
        nxt[i] = head[c]
        head[c] = i
    for i in range(n):
        cx = cell[i] % nx
        cy = cell[i] // nx
        for oy in range(-1, 2):
            for ox in range(-1, 2):
                c = ((cy + oy) % nyc) * nx + (cx + ox) % nx
                j = head[c]
                while j >= 0:
                    if j > i:
                        dx0, dy0 = x[i, 0] - x[j, 0], x[i, 1] - x[j, 1]
                        dx, dy = _min_image(dx0, dy0, lx, ly, xy)
                        rl = rlist[t[i], t[j]]
                        if dx * dx + dy * dy < rl * rl:
                            buf = _push(buf, m, i, j, dx - dx0, dy - dy0)
                            m += 1
                    j = nxt[j]
    return (buf[:m, 0].astype(np.int64), buf[:m, 1].astype(np.int64),
            buf[:m, 2].copy(), buf[:m, 3].copy())


@nb.njit(cache=True, inline="always")
def _pair(r2: float, p: np.ndarray) -> tuple[float, float]:
    """``(U, -dU/dr / r)`` of one pair at squared distance ``r2`` (0, 0 beyond ``R_out``)."""
    if r2 >= p[4]:
        return 0.0, 0.0
    if r2 <= p[2]:
        ir2 = 1.0 / r2
        ir6 = ir2 * ir2 * ir2
        return ir6 * (p[0] * ir6 - p[1]), ir6 * ir2 * (12.0 * p[0] * ir6 - 6.0 * p[1])
    r = np.sqrt(r2)
    t = p[3] - r
    u = t * t * t * (p[5] + t * (p[6] + t * p[7]))
    du = -(t * t * (3.0 * p[5] + t * (4.0 * p[6] + 5.0 * t * p[7])))
    return u, -du / r


@nb.njit(cache=True)
def forces(x: np.ndarray, t: np.ndarray, pi: np.ndarray, pj: np.ndarray, sx: np.ndarray,
           sy: np.ndarray, par: np.ndarray, f: np.ndarray, w: np.ndarray) -> float:
    """Energy; forces into ``f (n, 2)`` and virial ``W = sum d (x) f_ij`` into ``w (3,)``.

    ``w`` is ``(xx, yy, xy)`` in energy units (LAMMPS's virial: the stress is ``-W / A``).

    Returns
    -------
    float
        Total potential energy.
    """
    f[:] = 0.0
    w[:] = 0.0
    e = 0.0
    for k in range(pi.size):
        i = pi[k]
        j = pj[k]
        dx = x[i, 0] - x[j, 0] + sx[k]
        dy = x[i, 1] - x[j, 1] + sy[k]
        u, fr = _pair(dx * dx + dy * dy, par[t[i], t[j]])
        if fr == 0.0 and u == 0.0:
            continue
        e += u
        fx = fr * dx
        fy = fr * dy
        f[i, 0] += fx
        f[i, 1] += fy
        f[j, 0] -= fx
        f[j, 1] -= fy
        w[0] += dx * fx
        w[1] += dy * fy
        w[2] += dx * fy
    return e


@nb.njit(cache=True)
def atom_virial(x: np.ndarray, t: np.ndarray, pi: np.ndarray, pj: np.ndarray, sx: np.ndarray,
                sy: np.ndarray, par: np.ndarray) -> np.ndarray:
    """Per-atom virial ``(n, 3)`` ``(xx, yy, xy)``: half of each pair's ``d (x) f_ij``.

    Summed over all atoms it equals the ``w`` of :func:`forces` (LAMMPS ``stress/atom`` is
    ``-`` this).
    """
    v = np.zeros((x.shape[0], 3))
    for k in range(pi.size):
        i = pi[k]
        j = pj[k]
        dx = x[i, 0] - x[j, 0] + sx[k]
        dy = x[i, 1] - x[j, 1] + sy[k]
        _, fr = _pair(dx * dx + dy * dy, par[t[i], t[j]])
        a = 0.5 * fr * dx * dx
        b = 0.5 * fr * dy * dy
        c = 0.5 * fr * dx * dy
        v[i, 0] += a
        v[i, 1] += b
        v[i, 2] += c
        v[j, 0] += a
        v[j, 1] += b
        v[j, 2] += c
    return v


@nb.njit(cache=True)
def max_disp2(x: np.ndarray, x0: np.ndarray) -> float:
    """Largest squared displacement ``max_i |x_i - x0_i|^2`` (no periodic images)."""
    m = 0.0
    for i in range(x.shape[0]):
        dx = x[i, 0] - x0[i, 0]
        dy = x[i, 1] - x0[i, 1]
        d = dx * dx + dy * dy
        if d > m:
            m = d
    return m

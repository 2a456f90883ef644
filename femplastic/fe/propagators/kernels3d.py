"""Numba form of the 3D periodic kernel: the per-event shifted add on the L^3 Hex8 grid.

The 3D counterpart of :func:`femplastic.fe.propagators.kernels.shifted_add`. Nothing here
knows about meshes, materials or slip systems: arrays in, arrays updated in place.

Folded kernel layout (built by :func:`femplastic.fe.propagators.periodic3d.fold_kernel3d`),
``h = L // 2``, ``W = 6 L`` (one x-row of the (L, 6) stress), rows ``R = (h + 1) L``:

* ``Kf[p, (rz L + ry) 2W + k]``, ``p = 0 .. 5``, ``rz = 0 .. h``, ``ry = 0 .. L - 1``,
  ``k = 0 .. 2W - 1``: plane ``p`` of the kernel row at offset ``(rz, ry)``, each row of
  ``W`` values (x fastest, the 6 stress components innermost) stored twice in a row so that
  any shift in x reads one contiguous segment. The planes are the stress responses to the
  inputs ``d_xx`` (plane ``G_xx - G_zz``), ``d_yy`` (``G_yy - G_zz``), ``d_xy`` (``G_xy``),
  ``tr d`` (``G_zz``), ``d_yz`` (``G_yz``) and ``d_xz`` (``G_xz``), with ``G_b`` the response
  per unit eigenstrain component ``b``: ``sum_b G_b d_b = (G_xx - G_zz) d_xx + (G_yy - G_zz)
  d_yy + G_zz tr d + ...``. A slip increment is traceless, which skips plane 3.
* ``Kf[6, :W]``: the sign pattern ``s = (1, 1, 1, -1, -1, 1)`` repeated ``L`` times.

Only ``rz = 0 .. h`` is stored: the kernel is mirror symmetric in z,
``G_ab(rx, ry, -rz) = s_a s_b G_ab(rx, ry, rz)`` (``yz`` and ``xz`` change sign under
``z -> -z``), so the response to the even inputs (planes 0-3, ``P``) and to the odd inputs
(planes 4, 5, ``Q``) at ``+rz`` give the row at ``-rz`` as ``s (P - Q)``: half the kernel
memory traffic, as in 2D.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numba import uint64 as u64

from ...numba_cache import refresh as _refresh_numba_caches

_refresh_numba_caches()  # before any cached kernel loads (see femplastic.numba_cache)

__all__ = ["shifted_add3d", "shifted_add3d_many", "apply_form3d"]


@nb.njit(cache=True, fastmath={"contract"}, boundscheck=False, inline="always")
def _rz_pass(stress, Kf, L, ex, ey, ez, rz, u0, u1, u5, t, d3, d4, vol):  # pragma: no cover
    """Add the kernel rows at offsets ``+rz`` and ``-rz`` (all ``ry``) for one source.

    The deviatoric inputs first (planes 0-2, 4, 5), then, only when ``vol``, the volumetric
    plane 3 in a second pass (keeps the hot loop of traceless slips free of branches).
    """
    h = L // 2
    W = u64(6 * L)
    W2 = u64(12 * L)
    P = u64((h + 1) * L) * W2
    P2 = u64(2) * P
    P3 = u64(3) * P
    P4 = u64(4) * P
    P5 = u64(5) * P
    S = u64(6) * P
    off = u64(6 * (L - ex))
    jA = ez + rz
    if jA >= L:
        jA -= L
    jB = ez - rz
    if jB < 0:
        jB += L
    for ry in range(L):
        jy = ey + ry
        if jy >= L:
            jy -= L
        k0 = u64(rz * L + ry) * W2 + off
        a = u64(jA * L + jy) * W
        b = u64(jB * L + jy) * W
        if jA == jB:
            for k in range(W):
                p = Kf[k0 + k] * u0 + Kf[P + k0 + k] * u1 + Kf[P2 + k0 + k] * u5
                q = Kf[P4 + k0 + k] * d3 + Kf[P5 + k0 + k] * d4
                stress[a + k] += p + q
            if vol:
                for k in range(W):
                    stress[a + k] += Kf[P3 + k0 + k] * t
        else:
            for k in range(W):
                p = Kf[k0 + k] * u0 + Kf[P + k0 + k] * u1 + Kf[P2 + k0 + k] * u5
                q = Kf[P4 + k0 + k] * d3 + Kf[P5 + k0 + k] * d4
                stress[a + k] += p + q
                stress[b + k] += Kf[S + k] * (p - q)
            if vol:
                for k in range(W):
                    p = Kf[P3 + k0 + k] * t
                    stress[a + k] += p
                    stress[b + k] += Kf[S + k] * p


@nb.njit(cache=True, fastmath={"contract"}, boundscheck=False)
def _add_serial(stress, Kf, L, e, d, vol):  # pragma: no cover - compiled
    ez = e // (L * L)
    rem = e - ez * L * L
    ey = rem // L
    ex = rem - ey * L
    t = d[0] + d[1] + d[2]
    for rz in range(L // 2 + 1):
        _rz_pass(stress, Kf, L, ex, ey, ez, rz, d[0], d[1], d[5], t, d[3], d[4], vol)


@nb.njit(cache=True, fastmath={"contract"}, boundscheck=False, parallel=True)
def _add_par(stress, Kf, L, e, d, vol):  # pragma: no cover - compiled
    """:func:`_add_serial` with the offsets ``rz`` shared among threads (same bits).

    Offset ``rz`` writes the target planes ``ez + rz`` and ``ez - rz`` only, which no other
    ``rz`` in ``0 .. L // 2`` writes, with the same arithmetic as the serial form.
    """
    ez = e // (L * L)
    rem = e - ez * L * L
    ey = rem // L
    ex = rem - ey * L
    t = d[0] + d[1] + d[2]
    for rz in nb.prange(L // 2 + 1):
        _rz_pass(stress, Kf, L, ex, ey, ez, rz, d[0], d[1], d[5], t, d[3], d[4], vol)


@nb.njit(cache=True)
def shifted_add3d(stress, Kf, L, e, d, par=False):  # pragma: no cover - compiled
    """``stress[j] += G[(j - e) mod (L, L, L)] @ d`` for every element ``j``.

    Parameters
    ----------
    stress : (L^3 * 6,) float64, flat view of the C-contiguous (L^3, 6) stress, updated
        in place (Voigt xx, yy, zz, yz, xz, xy)
    Kf : (7 * (L//2 + 1) * L * 12 L,) float64, the folded kernel, flat (module docstring)
    L : int, grid side
    e : int, source element ``(ez L + ey) L + ex``
    d : (6,) float64, Voigt eigenstrain increment in ``e`` (tensor shear)
    par : bool, threaded form (bit-identical)
    """
    vol = d[0] + d[1] + d[2] != 0.0
    if par:
        _add_par(stress, Kf, L, e, d, vol)
    else:
        _add_serial(stress, Kf, L, e, d, vol)


@nb.njit(cache=True)
def shifted_add3d_many(stress, Kf, L, elems, deps, par=False):  # pragma: no cover - compiled
    """:func:`shifted_add3d` for every ``(elems[k], deps[k])`` in order; deps (k, 6)."""
    for k in range(elems.shape[0]):
        shifted_add3d(stress, Kf, L, elems[k], deps[k], par)


@nb.njit(cache=True)
def apply_form3d(Kf, L, stress, count, act_e, deps, par=False):  # pragma: no cover - compiled
    """Kernel increments of ``count`` events in event order (the 3D ``apply_form``).

    Parameters
    ----------
    Kf : flat folded kernel (:func:`shifted_add3d`)
    L : int
    stress : (L^3, 6) float64, C-contiguous, updated in place
    count : int
    act_e : (>= count,) int64, elements of the events
    deps : (>= count, 6) float64, Voigt plastic strain increments
    par : bool, threaded update (same bits)
    """
    flat = stress.reshape(-1)
    for i in range(count):
        shifted_add3d(flat, Kf, L, act_e[i], deps[i], par)


def _warmup() -> None:
    """Compile the kernels on tiny inputs (used by benchmarks before timing)."""
    L = 2
    s = np.zeros((L**3, 6))
    Kf = np.zeros(7 * (L // 2 + 1) * L * 12 * L)
    d = np.array([1.0, -1.0, 0.0, 0.5, 0.5, 0.5])
    shifted_add3d(s.reshape(-1), Kf, L, 1, d)
    shifted_add3d(s.reshape(-1), Kf, L, 1, d, True)
    apply_form3d(Kf, L, s, 1, np.zeros(1, np.int64), d[None, :])

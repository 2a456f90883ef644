"""Numba form of the 3D periodic kernel: the per-event shifted add on the L^3 Hex8 grid.

The 3D counterpart of :func:`femplastic.fe.propagators.kernels.shifted_add`. Nothing here
knows about meshes, materials or slip systems: arrays in, arrays updated in place.

Folded kernel layout (built by :func:`femplastic.fe.propagators.periodic3d.fold_kernel3d`),
``h = L // 2``, ``W = 6 L`` (one x-row of the (L, 6) stress), ``R = (h + 1)^2`` stored rows,
``P = R 2W`` values per plane:

* ``Kf[p P + (rz (h + 1) + ry) 2W + k]``, ``p = 0 .. 5``, ``rz, ry = 0 .. h``,
  ``k = 0 .. 2W - 1``: plane ``p`` of the kernel row at offset ``(ry, rz)``, each row of ``W``
  values (x fastest, the 6 stress components innermost) stored twice in a row so that any
  shift in x reads one contiguous segment. The planes are the stress responses to the inputs
  ``d_xx`` (plane ``G_xx - G_zz``), ``d_yy`` (``G_yy - G_zz``), ``tr d`` (``G_zz``), ``d_yz``,
  ``d_xz`` and ``d_xy`` (``G_b`` the response per unit eigenstrain component ``b``:
  ``sum_b G_b d_b = (G_xx - G_zz) d_xx + (G_yy - G_zz) d_yy + G_zz tr d + ...``). A slip
  increment is traceless (``d_xx + d_yy + d_zz == 0.0`` exactly in floating point, as the 3D
  slip law writes it), which skips plane 2.
* ``Kf[6 P + k]``: the sign patterns ``s_y = (1, 1, 1, -1, 1, -1)`` (``k < W``),
  ``s_z = (1, 1, 1, -1, -1, 1)`` (``W <= k < 2W``) and ``s_y s_z`` (``2W <= k < 3W``), each
  repeated ``L`` times: the sign of each stress component under the mirrors ``y -> -y`` and
  ``z -> -z``.

Only ``ry, rz = 0 .. h`` are stored: the kernel is mirror symmetric in y and in z,
``G_ab(R r) = s_a s_b G_ab(r)``. Split the response of a stored row by the parity of the
inputs, ``A`` (``d_xx, d_yy, tr``: even in y and z), ``B`` (``d_yz``: odd, odd), ``C``
(``d_xz``: even in y, odd in z), ``D`` (``d_xy``: odd in y, even in z); with
``p = A + C``, ``q = B + D``, ``r = A - C``, ``t = B - D`` the four target rows are

* ``(ey + ry, ez + rz)``: ``p + q``;      ``(ey - ry, ez + rz)``: ``s_y (p - q)``;
* ``(ey + ry, ez - rz)``: ``s_z (r - t)``; ``(ey - ry, ez - rz)``: ``s_y s_z (r + t)``,

each written once when ``ry`` or ``rz`` is its own mirror image (0, or ``L / 2`` for even
``L``). A stored kernel value thus serves up to four targets: a quarter of the kernel memory
traffic of the unfolded update, which with the stress read and write is what bounds it.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numba import uint64 as u64

from ...numba_cache import refresh as _refresh_numba_caches

_refresh_numba_caches()  # before any cached kernel loads (see femplastic.numba_cache)

__all__ = ["shifted_add3d", "shifted_add3d_many", "apply_form3d"]


@nb.njit(cache=True, fastmath={"contract"}, boundscheck=False, inline="always")
def _rz_pass(stress, Kf, L, ex, ey, ez, rz, u0, u1, t, d3, d4, d5, vol):  # pragma: no cover
    """Add the kernel rows at offsets ``(+-ry, +-rz)`` (all ``ry = 0 .. L // 2``) for one source.

    The deviatoric inputs first (planes 0, 1, 3-5), then, only when ``vol``, the volumetric
    plane 2 in a second pass (keeps the hot loop of traceless slips free of branches).
    """
    h = L // 2
    W = u64(6 * L)
    W2 = u64(12 * L)
    P = u64((h + 1) * (h + 1)) * W2
    P2 = u64(2) * P
    P3 = u64(3) * P
    P4 = u64(4) * P
    P5 = u64(5) * P
    SY = u64(6) * P
    SZ = SY + W
    SYZ = SZ + W
    off = u64(6 * (L - ex))
    zA = ez + rz
    if zA >= L:
        zA -= L
    zB = ez - rz
    if zB < 0:
        zB += L
    zdup = zA == zB
    for ry in range(h + 1):
        yA = ey + ry
        if yA >= L:
            yA -= L
        yB = ey - ry
        if yB < 0:
            yB += L
        ydup = yA == yB
        k0 = u64(rz * (h + 1) + ry) * W2 + off
        aa = u64(zA * L + yA) * W  # (+y, +z)
        ab = u64(zA * L + yB) * W  # (-y, +z)
        ba = u64(zB * L + yA) * W  # (+y, -z)
        bb = u64(zB * L + yB) * W  # (-y, -z)
        if not ydup and not zdup:
            for k in range(W):
                A = Kf[k0 + k] * u0 + Kf[P + k0 + k] * u1
                B = Kf[P3 + k0 + k] * d3
                C = Kf[P4 + k0 + k] * d4
                D = Kf[P5 + k0 + k] * d5
                p = A + C
                q = B + D
                r = A - C
                s = B - D
                stress[aa + k] += p + q
                stress[ab + k] += Kf[SY + k] * (p - q)
                stress[ba + k] += Kf[SZ + k] * (r - s)
                stress[bb + k] += Kf[SYZ + k] * (r + s)
        elif zdup and not ydup:
            for k in range(W):
                A = Kf[k0 + k] * u0 + Kf[P + k0 + k] * u1
                B = Kf[P3 + k0 + k] * d3
                C = Kf[P4 + k0 + k] * d4
                D = Kf[P5 + k0 + k] * d5
                p = A + C
                q = B + D
                stress[aa + k] += p + q
                stress[ab + k] += Kf[SY + k] * (p - q)
        elif ydup and not zdup:
            for k in range(W):
                A = Kf[k0 + k] * u0 + Kf[P + k0 + k] * u1
                B = Kf[P3 + k0 + k] * d3
                C = Kf[P4 + k0 + k] * d4
                D = Kf[P5 + k0 + k] * d5
                stress[aa + k] += (A + C) + (B + D)
                stress[ba + k] += Kf[SZ + k] * ((A - C) - (B - D))
        else:
            for k in range(W):
                A = Kf[k0 + k] * u0 + Kf[P + k0 + k] * u1
                B = Kf[P3 + k0 + k] * d3
                C = Kf[P4 + k0 + k] * d4
                D = Kf[P5 + k0 + k] * d5
                stress[aa + k] += (A + C) + (B + D)
        if vol:  # even in y and z: the same value, signed, in every distinct target row
            for k in range(W):
                stress[aa + k] += Kf[P2 + k0 + k] * t
            if not ydup:
                for k in range(W):
                    stress[ab + k] += Kf[SY + k] * (Kf[P2 + k0 + k] * t)
            if not zdup:
                for k in range(W):
                    stress[ba + k] += Kf[SZ + k] * (Kf[P2 + k0 + k] * t)
            if not ydup and not zdup:
                for k in range(W):
                    stress[bb + k] += Kf[SYZ + k] * (Kf[P2 + k0 + k] * t)


@nb.njit(cache=True, fastmath={"contract"}, boundscheck=False)
def _add_serial(stress, Kf, L, e, d, vol):  # pragma: no cover - compiled
    ez = e // (L * L)
    rem = e - ez * L * L
    ey = rem // L
    ex = rem - ey * L
    t = d[0] + d[1] + d[2]
    for rz in range(L // 2 + 1):
        _rz_pass(stress, Kf, L, ex, ey, ez, rz, d[0], d[1], t, d[3], d[4], d[5], vol)


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
        _rz_pass(stress, Kf, L, ex, ey, ez, rz, d[0], d[1], t, d[3], d[4], d[5], vol)


@nb.njit(cache=True)
def shifted_add3d(stress, Kf, L, e, d, par=False):  # pragma: no cover - compiled
    """``stress[j] += G[(j - e) mod (L, L, L)] @ d`` for every element ``j``.

    Parameters
    ----------
    stress : (L^3 * 6,) float64, flat view of the C-contiguous (L^3, 6) stress, updated
        in place (Voigt xx, yy, zz, yz, xz, xy)
    Kf : (7 (L//2 + 1)^2 12 L,) float64, the folded kernel, flat (module docstring)
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
    Kf = np.zeros(7 * (L // 2 + 1) ** 2 * 12 * L)
    d = np.array([1.0, -1.0, 0.0, 0.5, 0.5, 0.5])
    shifted_add3d(s.reshape(-1), Kf, L, 1, d)
    shifted_add3d(s.reshape(-1), Kf, L, 1, d, True)
    apply_form3d(Kf, L, s, 1, np.zeros(1, np.int64), d[None, :])

"""Numba hot loops of the 3D weak-plane slip systems: draws, renewal, stability, slips.

Arrays in, preallocated arrays out; nothing here knows about meshes or parameter objects
(:mod:`femplastic.weakplane.slip3d` is the Python side). Arrays (``n`` elements, ``N``
systems per element):

* ``stress`` (n, 6) Voigt ``(xx, yy, zz, yz, xz, xy)``, tensor shear;
* ``normal``, ``direction`` (n, N, 3): unit plane normal ``n`` and slip direction ``s``;
* ``schmid`` (n, N, 6): ``M = (n s + s n) / 2`` in tensor-Voigt form, its ``zz`` component
  written ``-(M_xx + M_yy)`` (equal to ``n_z s_z`` up to round-off) so that ``M`` and the slip
  increments are traceless *exactly* in floating point: the shifted add then skips its
  volumetric plane (:func:`femplastic.fe.propagators.kernels3d.shifted_add3d`);
* ``tauc``, ``selfres`` (n, N): threshold and ``selfres = -(K_self M) : M > 0``, the element's
  own resolved-stress drop per unit slip (``K_self`` (n, 6, 6) the self response);
* ``law_i = [thr_kind, thr_shared, renew_thr, renew_orient, amp_kind]``,
  ``law_f = [thr_p0, thr_p1, amp_p0, amp_p1, dp_a, dp_p0]`` (threshold and amplitude kinds
  and parameters as in 2D: :mod:`femplastic.weakplane.kernels`).

Resolved shear stress ``tau = M : Sigma``; effective threshold ``tau_c + a (p + p0)`` with
``p = -tr(Sigma) / 3`` (Drucker-Prager, ``a = 0`` by default); distance to threshold
``dtau = tau_c + a (p + p0) - tau``, active when negative. Slip amplitude bound
``gmax = 2 tau / selfres`` (see ``docs/physics/weak_plane_3d.rst``).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ..numba_cache import refresh as _refresh_numba_caches
from .kernels import ppf_amplitude, ppf_threshold

_refresh_numba_caches()  # before any cached kernel loads (see femplastic.numba_cache)

__all__ = ["draw_orientation", "draw_orientations", "draw_thresholds3d", "renew_element3d",
           "init_systems3d", "lowest_distance3d", "draw_slips3d"]


@nb.njit(cache=True)
def _orientation(u, v, w, nrm, dirn):  # pragma: no cover - compiled
    """Plane normal and slip direction from three uniforms in [0, 1).

    ``n`` uniform on the sphere (``n_z = 1 - 2u``, azimuth ``2 pi v``: Archimedes), ``s``
    uniform on the unit circle of the plane normal to ``n`` (angle ``2 pi w`` from a unit
    vector ``t1`` of that plane fixed by ``n``): the frame ``(n, s, n x s)`` is a uniformly
    random rotation.
    """
    nz = 1.0 - 2.0 * u
    r = np.sqrt(max(0.0, 1.0 - nz * nz))
    phi = 2.0 * np.pi * v
    nx = r * np.cos(phi)
    ny = r * np.sin(phi)
    # t1 = normalised (axis x n), with the coordinate axis least aligned with n
    ax, ay, az = abs(nx), abs(ny), abs(nz)
    if ax <= ay and ax <= az:  # axis x: x cross n = (0, -nz, ny)
        t1x, t1y, t1z = 0.0, -nz, ny
    elif ay <= az:  # axis y: y cross n = (nz, 0, -nx)
        t1x, t1y, t1z = nz, 0.0, -nx
    else:  # axis z: z cross n = (-ny, nx, 0)
        t1x, t1y, t1z = -ny, nx, 0.0
    tn = np.sqrt(t1x * t1x + t1y * t1y + t1z * t1z)
    t1x /= tn
    t1y /= tn
    t1z /= tn
    # t2 = n x t1
    t2x = ny * t1z - nz * t1y
    t2y = nz * t1x - nx * t1z
    t2z = nx * t1y - ny * t1x
    psi = 2.0 * np.pi * w
    c = np.cos(psi)
    s = np.sin(psi)
    nrm[0] = nx
    nrm[1] = ny
    nrm[2] = nz
    dirn[0] = c * t1x + s * t2x
    dirn[1] = c * t1y + s * t2y
    dirn[2] = c * t1z + s * t2z


@nb.njit(cache=True)
def draw_orientation(rng, nrm, dirn):  # pragma: no cover - compiled
    """One isotropic slip system: three uniforms of ``rng`` in the order ``u, v, w``."""
    u = rng.random()
    v = rng.random()
    w = rng.random()
    _orientation(u, v, w, nrm, dirn)


@nb.njit(cache=True)
def draw_orientations(rng, normal, direction):  # pragma: no cover - compiled
    """Fill ``normal``, ``direction`` (m, 3) with ``m`` isotropic slip systems, in order."""
    for i in range(normal.shape[0]):
        draw_orientation(rng, normal[i], direction[i])


@nb.njit(cache=True)
def _set_schmid(e, k, normal, direction, schmid, selfres, Kself):  # pragma: no cover
    n = normal[e, k]
    s = direction[e, k]
    m = schmid[e, k]
    m[0] = n[0] * s[0]
    m[1] = n[1] * s[1]
    m[2] = -(m[0] + m[1])  # = n_z s_z, exactly traceless in floating point (n . s = 0)
    m[3] = 0.5 * (n[1] * s[2] + n[2] * s[1])
    m[4] = 0.5 * (n[0] * s[2] + n[2] * s[0])
    m[5] = 0.5 * (n[0] * s[1] + n[1] * s[0])
    acc = 0.0
    for a in range(6):
        ka = 0.0
        for b in range(6):
            ka += Kself[e, a, b] * m[b]
        acc += (1.0 if a < 3 else 2.0) * ka * m[a]
    selfres[e, k] = -acc


@nb.njit(cache=True)
def draw_thresholds3d(e, rng, tauc, law_i, law_f, thr_table):  # pragma: no cover - compiled
    """New thresholds of element ``e``.

    One uniform per system, or one per element when ``law_i[1]`` (shared): the draw order of
    :func:`renew_element3d` and of :func:`femplastic.weakplane.relax3d.renew_element`.
    """
    N = tauc.shape[1]
    if law_i[1]:
        t = ppf_threshold(law_i[0], law_f[0], law_f[1], thr_table, rng.random())
        for k in range(N):
            tauc[e, k] = t
    else:
        for k in range(N):
            tauc[e, k] = ppf_threshold(law_i[0], law_f[0], law_f[1], thr_table, rng.random())


@nb.njit(cache=True)
def renew_element3d(e, rng, normal, direction, schmid, tauc, selfres, Kself, law_i, law_f,
                    thr_table, first):  # pragma: no cover - compiled
    """New orientations and thresholds for all ``N`` systems of element ``e``.

    ``first`` draws everything (initial state) regardless of the renewal flags. Draw order
    per element: the orientations (three uniforms per system), then the thresholds (one per
    system, or one per element when shared).
    """
    N = tauc.shape[1]
    if first or law_i[3]:
        for k in range(N):
            draw_orientation(rng, normal[e, k], direction[e, k])
            _set_schmid(e, k, normal, direction, schmid, selfres, Kself)
    if first or law_i[2]:
        draw_thresholds3d(e, rng, tauc, law_i, law_f, thr_table)


@nb.njit(cache=True)
def init_systems3d(rng, normal, direction, schmid, tauc, selfres, Kself, law_i, law_f,
                   thr_table):  # pragma: no cover - compiled
    """Draw the systems of every element, element by element (``first`` renewal)."""
    for e in range(tauc.shape[0]):
        renew_element3d(e, rng, normal, direction, schmid, tauc, selfres, Kself, law_i, law_f,
                        thr_table, True)


@nb.njit(cache=True)
def _tau(stress, e, m):  # pragma: no cover - compiled
    return (m[0] * stress[e, 0] + m[1] * stress[e, 1] + m[2] * stress[e, 2]
            + 2.0 * (m[3] * stress[e, 3] + m[4] * stress[e, 4] + m[5] * stress[e, 5]))


@nb.njit(cache=True)
def lowest_distance3d(stress, schmid, tauc, law_f, out_dtau, out_k):  # pragma: no cover
    """Per element, the lowest distance to threshold and its system (ties: lowest index).

    ``out_dtau[e] = min_k (tau_c + a (p + p0) - M_k : Sigma_e)``, ``out_k[e]`` its ``k``.
    """
    a = law_f[4]
    for e in range(stress.shape[0]):
        p = -(stress[e, 0] + stress[e, 1] + stress[e, 2]) / 3.0
        off = a * (p + law_f[5])
        best = np.inf
        kb = 0
        for k in range(tauc.shape[1]):
            d = tauc[e, k] + off - _tau(stress, e, schmid[e, k])
            if d < best:
                best = d
                kb = k
        out_dtau[e] = best
        out_k[e] = kb


@nb.njit(cache=True)
def draw_slips3d(count, stress, act_e, act_k, schmid, tauc, selfres, law_i, law_f, rng,
                 thermal, deps, amp, taus):  # pragma: no cover - compiled
    """Amplitudes and plastic strain increments of the slipping systems (none applied).

    The bound is ``gmax = 2 tau_b / selfres`` with ``tau_b`` the resolved stress ``tau``
    (athermal activation) or, for a thermal event, the effective threshold
    ``tau_c + a (p + p0)`` the system reached thermally; a negative bound (only with
    ``a > 0`` under strong local tension) is clipped to 0. One uniform per slip, in order.
    Fills ``deps[i]`` (6 Voigt), ``amp[i]`` and ``taus[i]``.
    """
    for i in range(count):
        e = act_e[i]
        k = act_k[i]
        m = schmid[e, k]
        tau = _tau(stress, e, m)
        if thermal:
            p = -(stress[e, 0] + stress[e, 1] + stress[e, 2]) / 3.0
            tb = tauc[e, k] + law_f[4] * (p + law_f[5])
        else:
            tb = tau
        gmax = 2.0 * tb / selfres[e, k]
        if gmax < 0.0:
            gmax = 0.0
        g = ppf_amplitude(law_i[4], law_f[2], law_f[3], gmax, tauc[e, k], rng.random())
        for c in range(6):
            deps[i, c] = g * m[c]
        deps[i, 2] = -(deps[i, 0] + deps[i, 1])  # exactly traceless: no volumetric pass
        amp[i] = g
        taus[i] = tau

"""Numba relaxation scans, slips and row drift bounds of the 3D weak-plane model.

The 3D form of :mod:`femplastic.weakplane.kernels` without the loading searches, which are in
:mod:`femplastic.weakplane.relax3d`; that module re-exports every kernel here, and the drivers
reach both through it (:func:`femplastic.weakplane.dimension.kernels_of`).

Same function names, signatures, bundles (:mod:`femplastic.weakplane.bundles`) and order of
random draws as the 2D kernels, so the Python drivers call either set through
:func:`femplastic.weakplane.dimension.kernels_of`; only the component count differs:

* ``stress``, ``eps_pl``, ``deps``, ``sref`` (n, 6) Voigt ``(xx, yy, zz, yz, xz, xy)``, tensor
  shear; ``pref`` (n,) the pressure ``p = -tr(Sigma) / 3`` of the last full check;
* ``nv`` (n, N, 6): the Schmid tensors ``M = (n s + s n) / 2`` of the systems, written as
  :func:`femplastic.weakplane.kernels3d.renew_element3d` writes them (``zz = -(xx + yy)``:
  exactly traceless, so the shifted add skips its volumetric plane);
* ``theta`` (n, N): the polar angle ``arccos(n_z)`` of each system's plane normal (radians),
  kept for the event records only (the Schmid tensors carry the physics);
* ``law = (law_i, law_f, thr_table, angles)`` with ``law_i`` of
  :meth:`femplastic.weakplane.slip3d.SlipLaw3D.arrays` (``[thr_kind, thr_shared, renew_thr,
  renew_orient, amp_kind]``) and ``angles`` unused;
* ``form = (Kflat, L)`` of :meth:`femplastic.fe.propagators.periodic3d.PeriodicKernel3D.numba_form`.

**Cached stability test.** The resolved stress is ``tau = M : Sigma`` with ``M`` traceless and
``M : M = 1/2``, so ``|tau(Sigma) - tau(Sigma_ref)| <= |dev(Sigma - Sigma_ref)| / sqrt(2)``
(Cauchy-Schwarz, ``|X|^2 = X : X``): an element whose deviatoric drift since its last full
check, plus ``a |p - p_ref|``, stays below its cached lowest distance to threshold is stable
without looking at its ``N`` systems (with a relative safety far above round-off). The same
bound gives the lower bounds of the activation loads of the event-driven AQS search. Of the
threaded regions of the 2D kernels only the stress update is threaded here (the shifted add's
own threaded form, bit-identical, when ``par > 0`` and ``n >= par``); the scans are serial.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numba import uint64 as u64

from ..fe.propagators.kernels3d import apply_form3d
from ..numba_cache import refresh as _refresh_numba_caches
from .kernels import ppf_amplitude
from .kernels3d import draw_orientation, draw_thresholds3d
from .relax_loop import relax_loop

_refresh_numba_caches()  # before any cached kernel loads (see femplastic.numba_cache)

__all__ = ["renew_element", "full_check", "find_active", "draw_slips", "finish_slips",
           "add_plastic", "relax_fused", "any_active", "row_bundle", "rows_rescale", "rows_book",
           "find_active_rows", "row_min", "rows_load", "rows_book_load", "kmc_select"]

_SAFE = 1e-12  # relative safety of the cached stability test (far above round-off)
#: Elements per block of the vectorised pre-filters (as :data:`.kernels.SCAN_BLOCK`).
SCAN_BLOCK = 64


@nb.njit(cache=True, inline="always")
def resolved(stress, e, nv, k):  # pragma: no cover - compiled
    """``M_ek : Sigma_e`` (tensor-Voigt weights 1, 1, 1, 2, 2, 2)."""
    m = nv[e, k]
    return (m[0] * stress[e, 0] + m[1] * stress[e, 1] + m[2] * stress[e, 2]
            + 2.0 * (m[3] * stress[e, 3] + m[4] * stress[e, 4] + m[5] * stress[e, 5]))


@nb.njit(cache=True, inline="always")
def pressure(s, e):  # pragma: no cover - compiled
    """``p = -tr(Sigma_e) / 3``."""
    return -(s[e, 0] + s[e, 1] + s[e, 2]) / 3.0


@nb.njit(cache=True, inline="always")
def drift(s, e, r):  # pragma: no cover - compiled
    """``|dev(s_e - r_e)| / sqrt(2)``: the largest change of any resolved stress."""
    d0 = s[e, 0] - r[e, 0]
    d1 = s[e, 1] - r[e, 1]
    d2 = s[e, 2] - r[e, 2]
    t = (d0 + d1 + d2) / 3.0
    d0 -= t
    d1 -= t
    d2 -= t
    d3 = s[e, 3] - r[e, 3]
    d4 = s[e, 4] - r[e, 4]
    d5 = s[e, 5] - r[e, 5]
    return np.sqrt(0.5 * (d0 * d0 + d1 * d1 + d2 * d2 + 2.0 * (d3 * d3 + d4 * d4 + d5 * d5)))


@nb.njit(cache=True)
def _set_system(e, k, nrm, dirn, theta, nv, selfres, Kself):  # pragma: no cover - compiled
    """Schmid tensor, ``selfres`` and polar angle of system ``(e, k)`` (as ``_set_schmid``)."""
    m = nv[e, k]
    m[0] = nrm[0] * dirn[0]
    m[1] = nrm[1] * dirn[1]
    m[2] = -(m[0] + m[1])
    m[3] = 0.5 * (nrm[1] * dirn[2] + nrm[2] * dirn[1])
    m[4] = 0.5 * (nrm[0] * dirn[2] + nrm[2] * dirn[0])
    m[5] = 0.5 * (nrm[0] * dirn[1] + nrm[1] * dirn[0])
    acc = 0.0
    for a in range(6):
        ka = 0.0
        for b in range(6):
            ka += Kself[e, a, b] * m[b]
        acc += (1.0 if a < 3 else 2.0) * ka * m[a]
    selfres[e, k] = -acc
    theta[e, k] = np.arccos(min(1.0, max(-1.0, nrm[2])))


@nb.njit(cache=True)
def renew_element(e, rng, system, law, first):  # pragma: no cover - compiled
    """New orientations and thresholds of all systems of element ``e``.

    The draws of :func:`femplastic.weakplane.kernels3d.renew_element3d` (orientations, three
    uniforms per system, then thresholds), so a state's systems are those
    :meth:`~femplastic.weakplane.slip3d.SlipLaw3D.init` draws from the same generator.
    """
    theta, tauc, nv, selfres, Kself, _, _ = system
    law_i, law_f, thr_table, _ = law
    N = tauc.shape[1]
    nrm = np.empty(3)
    dirn = np.empty(3)
    if first or law_i[3]:
        for k in range(N):
            draw_orientation(rng, nrm, dirn)
            _set_system(e, k, nrm, dirn, theta, nv, selfres, Kself)
    if first or law_i[2]:
        draw_thresholds3d(e, rng, tauc, law_i, law_f, thr_table)


@nb.njit(cache=True)
def full_check(e, stress, nv, tauc, law_f, sref, pref, margin):  # pragma: no cover
    """Lowest distance to threshold of element ``e`` and its system; refreshes the cache."""
    p = pressure(stress, e)
    shift = law_f[4] * (p + law_f[5])
    best = np.inf
    kbest = 0
    for k in range(tauc.shape[1]):
        d = tauc[e, k] + shift - resolved(stress, e, nv, k)
        if d < best:
            best = d
            kbest = k
    for c in range(6):
        sref[e, c] = stress[e, c]
    pref[e] = p
    margin[e] = best
    return best, kbest


@nb.njit(cache=True)
def _test_element(e, stress, nv, tauc, law_f, sref, pref, margin):  # pragma: no cover
    """Element ``e``'s lowest system if active, else -1 (cached test, then full check)."""
    mg = margin[e]
    if mg > 0.0:
        dist = drift(stress, e, sref)
        a = law_f[4]
        if a != 0.0:
            dist += a * abs(pressure(stress, e) - pref[e])
        if dist < mg * (1.0 - _SAFE) - 1e-13:
            return -1
    d, k = full_check(e, stress, nv, tauc, law_f, sref, pref, margin)
    return k if d < 0.0 else -1


@nb.njit(cache=True, boundscheck=False, inline="always")
def _dq(x, r, i):  # pragma: no cover - compiled
    """``(|dev(x_e - r_e)|^2 / 2, tr(x_e - r_e) / 3)`` of the flat rows at ``i = 6 e``."""
    d0 = x[i] - r[i]
    d1 = x[i + u64(1)] - r[i + u64(1)]
    d2 = x[i + u64(2)] - r[i + u64(2)]
    d3 = x[i + u64(3)] - r[i + u64(3)]
    d4 = x[i + u64(4)] - r[i + u64(4)]
    d5 = x[i + u64(5)] - r[i + u64(5)]
    t = (d0 + d1 + d2) / 3.0
    d0 -= t
    d1 -= t
    d2 -= t
    return 0.5 * (d0 * d0 + d1 * d1 + d2 * d2 + 2.0 * (d3 * d3 + d4 * d4 + d5 * d5)), t


@nb.njit(cache=True, boundscheck=False)
def _unsure(flat, sr, margin, a, lo, hi):  # pragma: no cover - compiled
    """How many elements of ``lo .. hi - 1`` the cached test cannot prove stable.

    A branch-free loop (vectorised): squared drift against the squared margin for ``a = 0``,
    else the distance with the pressure term; an unknown margin always counts. The pressure
    change is ``-tr / 3``, so its modulus is that of ``t`` of :func:`_dq`.
    """
    safe = 1.0 - _SAFE
    c = 0
    if a == 0.0:
        for e in range(u64(lo), u64(hi)):
            q, _ = _dq(flat, sr, u64(6) * e)
            t = margin[e] * safe - 1e-13
            c += (t <= 0.0) | (q >= t * t)
    else:
        for e in range(u64(lo), u64(hi)):
            q, dt = _dq(flat, sr, u64(6) * e)
            t = margin[e] * safe - 1e-13
            c += (t <= 0.0) | (np.sqrt(q) + a * abs(dt) >= t)
    return c


@nb.njit(cache=True)
def find_active(stress, nv, tauc, law_f, sref, pref, margin, out_e, out_k,
                stop_first=False, par=0):  # pragma: no cover
    """Active elements (lowest ``dtau_c < 0``) and their lowest system, in element order.

    Blocks of :data:`SCAN_BLOCK` elements that the vectorised pre-filter (:func:`_unsure`)
    proves stable are passed; the others are tested element by element
    (:func:`_test_element`). Only the cache depends on which elements get a full check.
    """
    a = law_f[4]
    n = stress.shape[0]
    flat = np.ascontiguousarray(stress).reshape(-1)
    sr = np.ascontiguousarray(sref).reshape(-1)
    count = 0
    for lo in range(0, n, SCAN_BLOCK):
        hi = min(lo + SCAN_BLOCK, n)
        if _unsure(flat, sr, margin, a, lo, hi) == 0:
            continue
        count = _test_elements(lo, hi, stress, nv, tauc, law_f, sref, pref, margin, out_e,
                               out_k, count, stop_first)
        if stop_first and count > 0:
            return count
    return count


@nb.njit(cache=True)
def _test_elements(lo, hi, stress, nv, tauc, law_f, sref, pref, margin, out_e, out_k, count,
                   stop_first):  # pragma: no cover - compiled
    """:func:`_test_element` on ``lo .. hi - 1``: actives appended after ``count``; new count."""
    for e in range(lo, hi):
        k = _test_element(e, stress, nv, tauc, law_f, sref, pref, margin)
        if k >= 0:
            out_e[count] = e
            out_k[count] = k
            count += 1
            if stop_first:
                return count
    return count


@nb.njit(cache=True)
def row_bundle(Kf, L, law_f, stress):  # pragma: no cover - compiled
    """Drift bounds per x-row for :func:`find_active_rows` and the KMC refresh pass.

    The elements ``b L .. b L + L - 1`` (``b = ez L + ey``) form row ``b``. An event with
    Voigt increment ``d`` at ``e`` changes the stress of ``j`` by ``sum_k K_k(j - e) u_k``,
    ``u = (d_xx, d_yy, tr d, d_yz, d_xz, d_xy)`` over the six folded planes ``K_k``
    (:mod:`femplastic.fe.propagators.kernels3d`). By Cauchy-Schwarz the drift measure of the
    cached tests, ``|dev dS| / sqrt(2) + |a| |dp|`` (a seminorm), changes by at most
    ``c(j - e) |u|`` with ``c = (sum_k |dev K_k|^2 / 2)^(1/2) + |a| (sum_k (tr K_k / 3)^2)^(1/2)``,
    invariant under the y and z mirrors; ``crow[dz L + dy]`` is its maximum over ``x`` at the
    row offset ``(dy, dz)``, so ``crow[...] |u|`` bounds the drift change of every element of
    a row (inflated by ``1e-9``; each event also adds the round-off of the stress adds,
    ``eta = 1e-15 (smax + 1) (3 + |a|)``, ``smax`` a bound of ``max |stress|``).

    Returns
    -------
    tuple
        ``(crow (L^2,), r_drift (L^2,), r_slack (L^2,), k_drift (L^2,), k_slack (L^2,),
        meta (7,), vrow (L^2,))``: the bounds; drift bound accumulated and slack of each row for the
        relaxation scans (``r_``) and the KMC refresh (``k_``), slack ``-inf`` (rescan) at
        start; ``meta = [smax bound, max |K| (Frobenius), |a|, max |v| (AQS), rows scanned
        by the relaxation, scans, largest finite ivm]`` (rows scanned and scans: counters for
        benchmarks); ``vrow`` the bounds of a loading (:func:`rows_load`, zero until set).
    """
    h = L // 2
    W2 = 12 * L
    P = (h + 1) * (h + 1) * W2
    a = abs(law_f[4])
    cq = np.zeros((h + 1) * (h + 1))
    kf = 0.0
    for rz in range(h + 1):
        for ry in range(h + 1):
            k0 = (rz * (h + 1) + ry) * W2
            best = 0.0
            for x in range(L):
                sd = 0.0
                sp = 0.0
                sf = 0.0
                for pl in range(6):
                    i = pl * P + k0 + 6 * x
                    a0 = Kf[i]
                    a1 = Kf[i + 1]
                    a2 = Kf[i + 2]
                    a3 = Kf[i + 3]
                    a4 = Kf[i + 4]
                    a5 = Kf[i + 5]
                    tr = (a0 + a1 + a2) / 3.0
                    b0 = a0 - tr
                    b1 = a1 - tr
                    b2 = a2 - tr
                    sd += 0.5 * (b0 * b0 + b1 * b1 + b2 * b2
                                 + 2.0 * (a3 * a3 + a4 * a4 + a5 * a5))
                    sp += tr * tr
                    sf += a0 * a0 + a1 * a1 + a2 * a2 + a3 * a3 + a4 * a4 + a5 * a5
                c = np.sqrt(sd) + a * np.sqrt(sp)
                best = c if c > best else best
                kf = sf if sf > kf else kf
            cq[rz * (h + 1) + ry] = best
    crow = np.empty(L * L)
    for dz in range(L):
        rz = min(dz, L - dz)
        for dy in range(L):
            ry = min(dy, L - dy)
            crow[dz * L + dy] = cq[rz * (h + 1) + ry] * (1.0 + 1e-9)
    meta = np.array([0.0, np.sqrt(kf) * (1.0 + 1e-9), a, 0.0, 0.0, 0.0, 0.0])
    rows = (crow, np.zeros(L * L), np.full(L * L, -np.inf), np.zeros(L * L),
            np.full(L * L, -np.inf), meta, np.zeros(L * L))
    rows_rescale(rows, stress)
    return rows


@nb.njit(cache=True)
def rows_load(rows, v):  # pragma: no cover - compiled
    """Row bounds of the loading ``v`` (n, 6).

    ``vrow[b]`` the largest drift measure of ``v`` over row ``b`` (inflated by ``1e-9``),
    ``meta[3] = max |v|``.
    """
    meta = rows[5]
    vrow = rows[6]
    n = v.shape[0]
    L = n // vrow.shape[0]
    a = meta[2]
    zero = np.zeros((1, 6))
    vv = np.empty((1, 6))
    vm = 0.0
    for b in range(vrow.shape[0]):
        best = 0.0
        for e in range(b * L, b * L + L):
            for c in range(6):
                vv[0, c] = v[e, c]
                vm = max(vm, abs(v[e, c]))
            x = drift(vv, 0, zero) + a * abs(pressure(v, e))
            best = x if x > best else best
        vrow[b] = best * (1.0 + 1e-9)
    meta[3] = vm


@nb.njit(cache=True)
def rows_book_load(rows, x):  # pragma: no cover - compiled
    """Book the stress change ``x v`` of a load step (``base + x v`` over ``base``)."""
    _, r_drift, _, k_drift, _, meta, vrow = rows
    eta = 1e-15 * (meta[0] + 1.0) * (3.0 + meta[2])
    ax = abs(x)
    meta[0] += ax * meta[3]
    for b in range(r_drift.shape[0]):
        r_drift[b] += ax * vrow[b] + eta
        k_drift[b] += ax * vrow[b] + eta


@nb.njit(cache=True, boundscheck=False)
def rows_rescale(rows, stress):  # pragma: no cover - compiled
    """``meta[0] = max |stress|`` (the round-off scale of the bounds), measured."""
    flat = np.ascontiguousarray(stress).reshape(-1)
    m = 0.0
    for i in range(flat.shape[0]):
        v = abs(flat[i])
        m = v if v > m else m
    rows[5][0] = m


@nb.njit(cache=True, boundscheck=False, inline="always")
def _rows_add(acc, crow, lo, cbase, ey, L, un, eta):  # pragma: no cover - compiled
    """``acc[lo + by] += crow[cbase + (by - ey) mod L] un + eta`` for ``by = 0 .. L - 1``."""
    for by in range(ey):
        acc[lo + by] += crow[cbase + by - ey + L] * un + eta
    for by in range(ey, L):
        acc[lo + by] += crow[cbase + by - ey] * un + eta


@nb.njit(cache=True, boundscheck=False)
def rows_book(rows, L, count, act_e, deps):  # pragma: no cover - compiled
    """Book ``count`` kernel updates in the row drift bounds; the slipped rows to rescan."""
    crow, r_drift, r_slack, k_drift, k_slack, meta, _ = rows
    for i in range(count):
        e = act_e[i]
        d0 = deps[i, 0]
        d1 = deps[i, 1]
        t = d0 + d1 + deps[i, 2]
        d3 = deps[i, 3]
        d4 = deps[i, 4]
        d5 = deps[i, 5]
        un = np.sqrt(d0 * d0 + d1 * d1 + t * t + d3 * d3 + d4 * d4 + d5 * d5)
        eta = 1e-15 * (meta[0] + 1.0) * (3.0 + meta[2])
        meta[0] += meta[1] * un
        ez = e // (L * L)
        ey = e // L - ez * L
        for bz in range(L):
            dz = bz - ez
            if dz < 0:
                dz += L
            _rows_add(r_drift, crow, bz * L, dz * L, ey, L, un, eta)
            _rows_add(k_drift, crow, bz * L, dz * L, ey, L, un, eta)
    for i in range(count):  # renewed systems: unknown margins
        b = act_e[i] // L
        r_slack[b] = -np.inf
        k_slack[b] = -np.inf


@nb.njit(cache=True, boundscheck=False, fastmath=True)
def row_min(buf, m):  # pragma: no cover - compiled
    """``min(buf[:m])`` of finite values (``-1e300`` stands for ``-inf``), vectorised.

    ``min`` is exact and order-independent on finite numbers, so the reordering that
    ``fastmath`` allows changes no bit; the callers never store NaN or infinities in ``buf``.
    """
    s = 1e300
    for i in range(m):
        s = min(s, buf[i])
    return s


@nb.njit(cache=True, boundscheck=False)
def _row_scan(flat, sr, margin, a, lo, hi, buf):  # pragma: no cover - compiled
    """:func:`_unsure` of one row and the row's slack ``min (t_e - dist_e)`` (branch-free).

    ``t_e = margin_e (1 - _SAFE) - 1e-13`` is the bound the cached test compares the drift
    ``dist_e`` with; the slack is ``-1e300`` where a margin is unknown (or anything is NaN)
    and is lowered by ``1e-12 (1 + dist)`` for the round-off of ``dist``. The per-element
    slacks go through ``buf`` (>= L,) so that this loop and :func:`row_min` vectorise.
    """
    safe = 1.0 - _SAFE
    c = 0
    j = 0
    for e in range(u64(lo), u64(hi)):
        q, dt = _dq(flat, sr, u64(6) * e)
        t = margin[e] * safe - 1e-13
        dist = np.sqrt(q) + a * abs(dt)
        if a == 0.0:
            c += (t <= 0.0) | (q >= t * t)
        else:
            c += (t <= 0.0) | (dist >= t)
        v = t - dist * (1.0 + 1e-12) - 1e-12
        buf[j] = v if (t > 0.0) & (v > -1e300) else -1e300
        j += 1
    return c, row_min(buf, j)


@nb.njit(cache=True)
def find_active_rows(stress, nv, tauc, law_f, sref, pref, margin, out_e, out_k,
                     rows):  # pragma: no cover - compiled
    """:func:`find_active` that skips the x-rows whose drift bound is below their slack.

    A row's slack is the least ``t_e - dist_e`` of its elements at its last scan; the stress
    changes since are all booked in ``r_drift`` (:func:`rows_book`), and ``dist`` is a
    seminorm, so ``r_drift < r_slack`` proves that every element of the row passes the cached
    test. The rows not proven stable are scanned as :func:`find_active` scans a block; the
    same elements get full checks, so the result and the cache are those of
    :func:`find_active`.
    """
    _, r_drift, r_slack, _, _, _, _ = rows
    a = law_f[4]
    n = stress.shape[0]
    nr = r_drift.shape[0]
    L = n // nr
    flat = np.ascontiguousarray(stress).reshape(-1)
    sr = np.ascontiguousarray(sref).reshape(-1)
    buf = np.empty(L)
    count = 0
    meta = rows[5]
    meta[5] += 1.0
    for b in range(nr):
        if r_drift[b] < r_slack[b]:
            continue
        meta[4] += 1.0
        lo = b * L
        hi = lo + L
        c, s = _row_scan(flat, sr, margin, a, lo, hi, buf)
        if c > 0:
            count = _test_elements(lo, hi, stress, nv, tauc, law_f, sref, pref, margin, out_e,
                                   out_k, count, False)
            c, s = _row_scan(flat, sr, margin, a, lo, hi, buf)
        r_slack[b] = s
        r_drift[b] = 0.0
    return count


@nb.njit(cache=True)
def any_active(stress, nv, tauc, law_f, sref, pref, margin):  # pragma: no cover - compiled
    """Whether any system is active (:func:`find_active` stopping at the first)."""
    scratch = np.empty(1, np.int64)
    return find_active(stress, nv, tauc, law_f, sref, pref, margin, scratch, scratch, True) > 0


@nb.njit(cache=True)
def draw_slips(count, stress, system, law, work, rng, thermal):  # pragma: no cover - compiled
    """Amplitudes and plastic strain increments of the active systems (none applied).

    Bound ``gmax = 2 tau_b / selfres``: ``tau_b`` the resolved stress, or for a thermal event
    the effective threshold ``tau_c + a (p + p0)``; clipped at 0. One uniform per slip.
    """
    act_e, act_k, deps, amp, taus = work
    _, tauc, nv, selfres, _, _, _ = system
    law_i, law_f, _, _ = law
    for i in range(count):
        e = act_e[i]
        k = act_k[i]
        tau = resolved(stress, e, nv, k)
        if thermal:
            tb = tauc[e, k] + law_f[4] * (pressure(stress, e) + law_f[5])
        else:
            tb = tau
        gmax = 2.0 * tb / selfres[e, k]
        if gmax < 0.0:
            gmax = 0.0
        g = ppf_amplitude(law_i[4], law_f[2], law_f[3], gmax, tauc[e, k], rng.random())
        for c in range(6):
            deps[i, c] = g * nv[e, k, c]
        deps[i, 2] = -(deps[i, 0] + deps[i, 1])  # exactly traceless: no volumetric pass
        amp[i] = g
        taus[i] = tau


@nb.njit(cache=True)
def finish_slips(count, system, law, cache, work, rng):  # pragma: no cover - compiled
    """Book the plastic strain, renew the slipped elements' systems, invalidate their cache."""
    act_e, _, deps, _, _ = work
    _, _, _, _, _, eps_pl, slips = system
    _, _, margin = cache
    for i in range(count):
        e = act_e[i]
        for c in range(6):
            eps_pl[e, c] += deps[i, c]
        slips[e] += 1
        renew_element(e, rng, system, law, False)
        margin[e] = -1.0


@nb.njit(cache=True)
def add_plastic(count, act_e, deps, wts, out):  # pragma: no cover - compiled
    """``out += sum_i deps[i]``, or ``sum_i wts[act_e[i]] deps[i]`` with weights, in order."""
    if wts is None:
        for i in range(count):
            for c in range(6):
                out[c] += deps[i, c]
    else:
        for i in range(count):
            we = wts[act_e[i]]
            for c in range(6):
                out[c] += we * deps[i, c]


#: Stress components of a 3D element (Voigt xx, yy, zz, yz, xz, xy).
COMPONENTS = 6


@nb.njit(cache=True)
def sweep_scan(stress, nv, tauc, law_f, sref, pref, margin, act_e, act_k, par,
               rows):  # pragma: no cover - compiled
    """A sweep's stability scan: every element, or with ``rows`` the rows not proven stable."""
    if rows is None:
        return find_active(stress, nv, tauc, law_f, sref, pref, margin, act_e, act_k)
    return find_active_rows(stress, nv, tauc, law_f, sref, pref, margin, act_e, act_k, rows)


@nb.njit(cache=True)
def sweep_apply(form, stress, count, act_e, deps, rng, par, rows):  # pragma: no cover
    """A sweep's kernel updates, booked in the drift bounds ``rows`` when given."""
    Kf, L = form
    apply_form3d(Kf, L, stress, count, act_e, deps, par > 0 and stress.shape[0] >= par)
    if rows is not None:
        rows_book(rows, L, count, act_e, deps)


@nb.njit(cache=True)
def relax_fused(form, stress, system, law, cache, work, events, rng, record, max_sweeps,
                thermal_first, wts=None, par=0, rows=None):  # pragma: no cover - compiled
    """Athermal relaxation at fixed strain: synchronous sweeps until nothing is active.

    The 3D :func:`femplastic.weakplane.kernels.relax_fused` (same statuses, records and order
    of draws: amplitudes, then the renewals; the 3D kernel draws nothing). Returns
    ``(status, events, plastic)`` with ``plastic`` (6,). With ``rows`` (:func:`row_bundle`)
    the scans skip the x-rows that the drift bounds prove stable (:func:`find_active_rows`)
    and every stress update is booked in the bounds: the same events, stress and draws.
    """
    return relax_loop(3, form, stress, system, law, cache, work, events, rng, record,
                      max_sweeps, thermal_first, wts, par, rows)


@nb.njit(cache=True)
def kmc_select(stress, nv, tauc, law_f, beta, rng):  # pragma: no cover - compiled
    """Reference scan: system with probability ``exp(-beta dtau) / sum``; (e, k, log nu_tot)."""
    n = stress.shape[0]
    N = tauc.shape[1]
    a = law_f[4]
    dmin = np.inf
    for e in range(n):
        shift = a * (pressure(stress, e) + law_f[5])
        for k in range(N):
            d = tauc[e, k] + shift - resolved(stress, e, nv, k)
            if d < dmin:
                dmin = d
    total = 0.0
    w = np.empty(n * N)
    for e in range(n):
        shift = a * (pressure(stress, e) + law_f[5])
        for k in range(N):
            d = tauc[e, k] + shift - resolved(stress, e, nv, k)
            total += np.exp(-beta * (d - dmin))
            w[e * N + k] = total
    target = rng.random() * total
    lo = 0
    hi = n * N - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if w[mid] > target:
            hi = mid
        else:
            lo = mid + 1
    return lo // N, lo % N, -beta * dmin + np.log(total)

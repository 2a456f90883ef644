"""Numba hot loops of the weak-plane model: stability tests, slips, renewals, relaxation.

Arrays and scalars in, preallocated arrays out. Nothing in this module knows about meshes,
materials or parameter objects. The small kernels take plain arrays; the relaxation kernels take
the bundles of :mod:`femplastic.weakplane.bundles` (``system``, ``law``, ``cache``, ``work``,
``events``: tuples of arrays in documented field order), which
:func:`femplastic.weakplane.bundles.kernel_state` and the drivers' buffers assemble from the
state. The stress update of a slip goes through the propagator's numba form
(:func:`femplastic.fe.propagators.kernels.apply_form`).
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numba import uint64 as u64

from ..fe.propagators.kernels import apply_form
from ..numba_cache import refresh as _refresh_numba_caches
from .relax_loop import relax_loop

_refresh_numba_caches()  # before any cached kernel loads (see femplastic.numba_cache)

# =============================================================================================
# Weak-plane slip systems. Arrays (n = elements, N = systems per element):
#   stress (n, 3); theta, tauc, selfres (n, N); nv (n, N, 2) = (sin 2theta, cos 2theta)
#   resolved shear stress tau = nv . s with s = ((s_yy - s_xx) / 2, s_xy)
#   selfres[e, k] = -(K_self_e : M_k) : M_k > 0, so gmax(tau) = 2 tau / selfres
#   law_i = [orient_kind, thr_kind, thr_shared, renew_thr, renew_angles, amp_kind]
#   law_f = [thr_p0, thr_p1, amp_p0, amp_p1, dp_a, dp_p0]
#   cache: sref (n, 2), pref (n,), margin (n,) (margin < 0: unknown)
# Threshold kinds: 0 Weibull(k=p0, lam=p1), 1 constant p0, 2 tabulated inverse CDF,
#   3 Weibull per element (element size): thr_table = (n, 4) [k_e, lam_e, chi_e, N_e]
#   flattened; only the systems k < N_e of element e are drawn, the others keep tauc = +inf.
# Amplitude kinds: 0 bounded power law (chi=p0) below gmax, 1 fixed p0, 2 exponential with
#   mean p0 + p1 tauc^2, 3 bounded power law with chi_e = thr_table[4 e + 2].
# Orientation kinds: 0 random groups of four, 1 fixed angles table.
# =============================================================================================

ORIENT_GROUPS, ORIENT_FIXED = 0, 1
THR_WEIBULL, THR_CONSTANT, THR_TABLE, THR_WEIBULL_ELEM = 0, 1, 2, 3
AMP_POWER, AMP_FIXED, AMP_EXPONENTIAL, AMP_POWER_ELEM = 0, 1, 2, 3
_SAFE = 1e-12  # relative safety of the cached stability test (far above round-off)


@nb.njit(cache=True)
def ppf_table(table, u):  # pragma: no cover - compiled
    """Inverse CDF tabulated at equally spaced probabilities ``0 .. 1`` (linear interpolation)."""
    m = table.shape[0] - 1
    x = u * m
    i = int(x)
    if i >= m:
        return table[m]
    f = x - i
    return table[i] * (1.0 - f) + table[i + 1] * f


@nb.njit(cache=True)
def ppf_threshold(kind, p0, p1, table, u):  # pragma: no cover - compiled
    """Threshold from a uniform ``u`` in [0, 1) by inverse transform."""
    if kind == 0:
        return p1 * (-np.log1p(-u)) ** (1.0 / p0)
    if kind == 1:
        return p0
    return ppf_table(table, u)


@nb.njit(cache=True)
def ppf_amplitude(kind, p0, p1, gmax, tauc, u):  # pragma: no cover - compiled
    """Slip amplitude from a uniform ``u`` in [0, 1) by inverse transform."""
    if kind == 0:
        return gmax * (1.0 - (1.0 - u) ** (1.0 / p0))
    if kind == 1:
        return p0
    return -(p0 + p1 * tauc * tauc) * np.log1p(-u)


@nb.njit(cache=True)
def _set_system(e, k, th, theta, nv, selfres, Kself):  # pragma: no cover - compiled
    s2 = np.sin(2.0 * th)
    c2 = np.cos(2.0 * th)
    theta[e, k] = th
    nv[e, k, 0] = s2
    nv[e, k, 1] = c2
    m0 = -0.5 * s2
    m1 = 0.5 * s2
    m2 = 0.5 * c2
    # (K M) : M with tensor-Voigt weights (1, 1, 2)
    k0 = Kself[e, 0, 0] * m0 + Kself[e, 0, 1] * m1 + Kself[e, 0, 2] * m2
    k1 = Kself[e, 1, 0] * m0 + Kself[e, 1, 1] * m1 + Kself[e, 1, 2] * m2
    k2 = Kself[e, 2, 0] * m0 + Kself[e, 2, 1] * m1 + Kself[e, 2, 2] * m2
    selfres[e, k] = -(k0 * m0 + k1 * m1 + 2.0 * k2 * m2)


@nb.njit(cache=True)
def renew_element(e, rng, system, law, first):  # pragma: no cover - compiled
    """Draw new angles and thresholds for all systems of element ``e``.

    ``system`` and ``law`` are bundles (:data:`~femplastic.weakplane.bundles.SYSTEM` and
    :data:`~femplastic.weakplane.bundles.LAW` name their fields). ``first`` forces drawing
    everything (initial state), regardless of the renewal flags. Draw order per element:
    angles (one uniform per group of four), then thresholds.
    """
    theta, tauc, nv, selfres, Kself, _, _ = system
    law_i, law_f, thr_table, angles = law
    N = theta.shape[1]
    tk = law_i[1]
    t0 = law_f[0]
    t1 = law_f[1]
    if tk == 3:  # per-element Weibull (element size): systems k >= N_e are padding
        t0 = thr_table[4 * e]
        t1 = thr_table[4 * e + 1]
        N = int(thr_table[4 * e + 3])
        tk = 0
    if first or law_i[4]:
        if law_i[0] == 0:
            for g in range(N // 4):
                # theta ~ U(-pi/2, pi/2]
                th = np.pi / 2 - np.pi * rng.random()
                # order: theta, theta + pi/2, theta + pi/4, theta + 3 pi/4
                _set_system(e, 4 * g, th, theta, nv, selfres, Kself)
                _set_system(e, 4 * g + 1, th + np.pi / 2, theta, nv, selfres, Kself)
                _set_system(e, 4 * g + 2, th + np.pi / 4, theta, nv, selfres, Kself)
                _set_system(e, 4 * g + 3, th + 3 * np.pi / 4, theta, nv, selfres, Kself)
        else:
            for k in range(N):
                _set_system(e, k, angles[k], theta, nv, selfres, Kself)
    if first or law_i[3]:
        if law_i[2]:
            t = ppf_threshold(tk, t0, t1, thr_table, rng.random())
            for k in range(N):
                tauc[e, k] = t
        else:
            for k in range(N):
                tauc[e, k] = ppf_threshold(tk, t0, t1, thr_table, rng.random())


@nb.njit(cache=True)
def full_check(e, stress, nv, tauc, law_f, sref, pref, margin):  # pragma: no cover
    """Lowest distance to threshold of element ``e`` and its system; refreshes the cache."""
    a = law_f[4]
    s0 = 0.5 * (stress[e, 1] - stress[e, 0])
    s1 = stress[e, 2]
    p = -0.5 * (stress[e, 0] + stress[e, 1])
    best = np.inf
    kbest = 0
    shift = a * (p + law_f[5])
    for k in range(tauc.shape[1]):
        d = tauc[e, k] + shift - (nv[e, k, 0] * s0 + nv[e, k, 1] * s1)
        if d < best:
            best = d
            kbest = k
    sref[e, 0] = s0
    sref[e, 1] = s1
    pref[e] = p
    margin[e] = best
    return best, kbest


@nb.njit(cache=True, boundscheck=False)
def _unsure(flat, sr, pref, margin, a, lo, hi):  # pragma: no cover - compiled
    """How many elements of ``lo .. hi - 1`` the cached test cannot prove stable.

    ``flat`` is the (n * 3,) stress, ``sr`` the (n * 2,) cached ``sref``. A branch-free
    loop with unsigned indices (which LLVM vectorises): for ``a = 0`` it compares squares,
    ``|s - s_ref|^2 >= t^2`` with ``t = margin (1 - safety) - 1e-13``, else the distance
    ``|s - s_ref| + a |p - p_ref| >= t``; an unknown margin (``t <= 0``) always counts.
    """
    safe = 1.0 - _SAFE
    c = 0
    if a == 0.0:
        for e in range(u64(lo), u64(hi)):
            i = u64(3) * e
            d0 = 0.5 * (flat[i + u64(1)] - flat[i]) - sr[u64(2) * e]
            d1 = flat[i + u64(2)] - sr[u64(2) * e + u64(1)]
            t = margin[e] * safe - 1e-13
            c += (t <= 0.0) | (d0 * d0 + d1 * d1 >= t * t)
    else:
        for e in range(u64(lo), u64(hi)):
            i = u64(3) * e
            d0 = 0.5 * (flat[i + u64(1)] - flat[i]) - sr[u64(2) * e]
            d1 = flat[i + u64(2)] - sr[u64(2) * e + u64(1)]
            dp = -0.5 * (flat[i] + flat[i + u64(1)]) - pref[e]
            t = margin[e] * safe - 1e-13
            c += (t <= 0.0) | (np.sqrt(d0 * d0 + d1 * d1) + a * abs(dp) >= t)
    return c


#: Elements per block of the scan's pre-filter (:func:`_unsure`).
SCAN_BLOCK = 64
#: Weights of the threaded regions: a region of ``n`` elements runs on threads when
#: ``par > 0`` and ``n >= weight * par`` (``par`` the grain the drivers pass,
#: :func:`femplastic.threads.parallel_for`): the scan, the trigger bounds, the loaded stress.
PAR_SCAN, PAR_BOUNDS, PAR_TRIAL = 1, 2, 4


@nb.njit(cache=True)
def _test_element(e, stress, nv, tauc, law_f, sref, pref, margin):  # pragma: no cover
    """Element ``e``'s lowest system if active, else -1: cached test, then :func:`full_check`.

    The cached test (see :func:`find_active`) proves the element stable without looking at its
    systems; otherwise the full check refreshes its cache.
    """
    mg = margin[e]
    if mg > 0.0:
        a = law_f[4]
        d0 = 0.5 * (stress[e, 1] - stress[e, 0]) - sref[e, 0]
        d1 = stress[e, 2] - sref[e, 1]
        dist = np.sqrt(d0 * d0 + d1 * d1)
        if a != 0.0:
            dist += a * abs(-0.5 * (stress[e, 0] + stress[e, 1]) - pref[e])
        if dist < mg * (1.0 - _SAFE) - 1e-13:
            return -1
    d, k = full_check(e, stress, nv, tauc, law_f, sref, pref, margin)
    return k if d < 0.0 else -1


@nb.njit(cache=True)
def find_active(stress, nv, tauc, law_f, sref, pref, margin, out_e, out_k,
                stop_first=False, par=0):  # pragma: no cover
    """Active elements (lowest ``dtau_c < 0``) and their lowest system; returns the count.

    An element is skipped without looking at its systems when its cached margin proves it
    stable: ``|s - s_ref| + a |p - p_ref| < margin`` is exact by the triangle inequality
    (resolved stresses are unit projections of ``s``), with a relative safety far above
    round-off. Otherwise :func:`full_check` scans its ``N`` systems and refreshes the cache.
    With ``stop_first`` the scan ends at the first active element; ``par`` (the grain, 0:
    serial) runs the threaded form (:func:`_find_active_par`, same output and cache) when
    ``n >= PAR_SCAN * par``, unless ``stop_first``.

    The elements go in blocks of :data:`SCAN_BLOCK`: a vectorised pre-filter
    (:func:`_unsure`) passes a block whose every element the cached test proves stable, and
    only the other blocks are tested element by element. Which elements get a full check
    changes nothing but the cache: the output is the exact active set, in element order.
    """
    if par > 0 and not stop_first and stress.shape[0] >= PAR_SCAN * par:
        return _find_active_par(stress, nv, tauc, law_f, sref, pref, margin, out_e, out_k)
    a = law_f[4]
    n = stress.shape[0]
    flat = np.ascontiguousarray(stress).reshape(-1)  # no copy for a C-contiguous stress
    sr = np.ascontiguousarray(sref).reshape(-1)
    count = 0
    for lo in range(0, n, SCAN_BLOCK):
        hi = min(lo + SCAN_BLOCK, n)
        if _unsure(flat, sr, pref, margin, a, lo, hi) == 0:
            continue
        for e in range(lo, hi):
            k = _test_element(e, stress, nv, tauc, law_f, sref, pref, margin)
            if k >= 0:
                out_e[count] = e
                out_k[count] = k
                count += 1
                if stop_first:
                    return count
    return count


@nb.njit(cache=True, parallel=True)
def _find_active_par(stress, nv, tauc, law_f, sref, pref, margin, out_e,
                     out_k):  # pragma: no cover - compiled
    """:func:`find_active` with the blocks shared among threads, same output order.

    Each element's test is the serial one; an active element's system is first written at
    its own index of ``out_k``, then the active elements are compacted in increasing order
    (visiting only the blocks that have one), so the result is bit-identical whatever the
    number of threads.
    """
    a = law_f[4]
    n = stress.shape[0]
    flat = np.ascontiguousarray(stress).reshape(-1)
    sr = np.ascontiguousarray(sref).reshape(-1)
    nblk = (n + SCAN_BLOCK - 1) // SCAN_BLOCK
    found = np.zeros(nblk, np.int64)
    for j in nb.prange(nblk):
        lo = j * SCAN_BLOCK
        hi = min(lo + SCAN_BLOCK, n)
        if _unsure(flat, sr, pref, margin, a, lo, hi) == 0:
            continue
        c = 0
        for e in range(lo, hi):
            out_k[e] = _test_element(e, stress, nv, tauc, law_f, sref, pref, margin)
            c += out_k[e] >= 0
        found[j] = c
    count = 0
    for j in range(nblk):
        if found[j] == 0:
            continue
        for e in range(j * SCAN_BLOCK, min((j + 1) * SCAN_BLOCK, n)):
            if out_k[e] >= 0:  # count <= e: the slots written were read already
                out_e[count] = e
                out_k[count] = out_k[e]
                count += 1
    return count


@nb.njit(cache=True)
def draw_slips(count, stress, system, law, work, rng, thermal):  # pragma: no cover - compiled
    """Amplitudes and plastic strain increments of the active systems (before any is applied).

    The active systems are ``act_e[:count], act_k[:count]`` of the ``work`` bundle
    (:data:`~femplastic.weakplane.bundles.WORK`).

    The bound is ``gmax(tau) = 2 tau / selfres`` with ``tau`` the resolved stress at
    activation; for a thermal event (``thermal``) it is ``gmax(tau_c)`` (Castellanos, A.3), with
    the effective threshold ``tau_c + a (p + p0)`` under a pressure-dependent criterion
    (model B; identical for ``a = 0``). A negative bound (possible only for ``a > 0`` under
    strong local tension) is clipped to 0: no slip can dissipate energy there.
    Fills ``deps[i]`` (Voigt), ``amp[i]`` and ``taus[i]`` of ``work``.
    """
    act_e, act_k, deps, amp, taus = work
    _, tauc, nv, selfres, _, _, _ = system
    law_i, law_f, thr_table, _ = law
    for i in range(count):
        e = act_e[i]
        k = act_k[i]
        ak = law_i[5]
        a0 = law_f[2]
        if ak == 3:  # power law with the element's chi (element size)
            ak = 0
            a0 = thr_table[4 * e + 2]
        s0 = 0.5 * (stress[e, 1] - stress[e, 0])
        tau = nv[e, k, 0] * s0 + nv[e, k, 1] * stress[e, 2]
        if thermal:
            # the system reached its effective threshold tau_c + a (p + p0) thermally
            p = -0.5 * (stress[e, 0] + stress[e, 1])
            tb = tauc[e, k] + law_f[4] * (p + law_f[5])
        else:
            tb = tau
        gmax = 2.0 * tb / selfres[e, k]
        if gmax < 0.0:  # only possible with a pressure-dependent threshold under tension
            gmax = 0.0
        g = ppf_amplitude(ak, a0, law_f[3], gmax, tauc[e, k], rng.random())
        sn = nv[e, k, 0]
        cs = nv[e, k, 1]
        deps[i, 0] = -0.5 * sn * g
        deps[i, 1] = 0.5 * sn * g
        deps[i, 2] = 0.5 * cs * g
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
        eps_pl[e, 0] += deps[i, 0]
        eps_pl[e, 1] += deps[i, 1]
        eps_pl[e, 2] += deps[i, 2]
        slips[e] += 1
        renew_element(e, rng, system, law, False)
        margin[e] = -1.0


@nb.njit(cache=True)
def add_plastic(count, act_e, deps, wts, out):  # pragma: no cover - compiled
    """``out += sum_i deps[i]``, or ``sum_i wts[act_e[i]] deps[i]`` with weights, in order."""
    if wts is None:
        for i in range(count):
            out[0] += deps[i, 0]
            out[1] += deps[i, 1]
            out[2] += deps[i, 2]
    else:
        for i in range(count):
            we = wts[act_e[i]]
            out[0] += we * deps[i, 0]
            out[1] += we * deps[i, 1]
            out[2] += we * deps[i, 2]


#: Stress components of a 2D element (Voigt xx, yy, xy).
COMPONENTS = 3


@nb.njit(cache=True)
def sweep_scan(stress, nv, tauc, law_f, sref, pref, margin, act_e, act_k, par,
               rows):  # pragma: no cover - compiled
    """A sweep's stability scan (:func:`find_active`; ``rows`` unused in 2D)."""
    return find_active(stress, nv, tauc, law_f, sref, pref, margin, act_e, act_k, False, par)


@nb.njit(cache=True)
def sweep_apply(form, stress, count, act_e, deps, rng, par, rows):  # pragma: no cover
    """A sweep's kernel update (the propagator's ``apply_form``; ``rows`` unused in 2D)."""
    kind, arr, L = form
    apply_form(kind, arr, L, stress, count, act_e, deps, rng, par)


@nb.njit(cache=True)
def relax_fused(form, stress, system, law, cache, work, events, rng, record, max_sweeps,
                thermal_first, wts=None, par=0):  # pragma: no cover - compiled
    """Athermal relaxation at fixed strain: synchronous sweeps until nothing is active.

    ``form`` is the propagator's ``(kind, arr, L)``
    (:meth:`~femplastic.fe.propagators.Propagator.numba_form`); ``system``, ``law``,
    ``cache``, ``work`` and ``events`` are the bundles of :mod:`femplastic.weakplane.bundles`.
    ``events = (ev_e, ev_k, ev_th, ev_tau, ev_amp, ev_n, ev_m)`` receives every event when
    ``record`` (capacity ``ev_e.shape[0]``; ``ev_n[0]`` counts written events; ``ev_m`` the
    Schmid tensors in 3D, empty in 2D). A sweep has at most one
    event per element, so the function returns early with status 2, after completing a sweep,
    when fewer than ``n`` free slots remain: a caller that starts it with ``n`` free slots
    and grows the record on status 2 never loses an event. ``thermal_first`` marks the
    single pre-selected thermal event already placed in ``act_e[0], act_k[0]`` of ``work``
    (KMC). Returns ``(status, events, plastic)``: status 0 relaxed, 1 sweep limit, 2 record
    buffer full; plastic = sum of deps (3,), or with element weights ``wts`` (n,) the
    weighted sum ``sum_i wts[e_i] deps_i`` (the plastic strain change of the weighted mean).
    ``par``: the grain of the threaded scan and update (0: serial; bit-identical results).

    Per sweep the draws from ``rng`` come in a fixed order: amplitudes of all events
    (:func:`draw_slips`), then the propagator's draws (one permutation per event for the
    shuffled forms, :func:`apply_form`), then the renewals (:func:`finish_slips`). The Python
    sweep of :func:`femplastic.weakplane.drivers.aqs.relax` follows the same order.
    """
    return relax_loop(2, form, stress, system, law, cache, work, events, rng, record,
                      max_sweeps, thermal_first, wts, par, None)


@nb.njit(cache=True)
def trial_stress(base, v, x, out, par=0):  # pragma: no cover - compiled
    """``out = base + x * v`` elementwise (the loaded stress, same formula in every mode).

    ``par``: the grain; blocks of rows on threads when ``n >= PAR_TRIAL * par`` (the same
    values).
    """
    if par > 0 and base.shape[0] >= PAR_TRIAL * par:
        _trial_par(base, v, x, out)
        return
    for e in range(base.shape[0]):
        out[e, 0] = base[e, 0] + x * v[e, 0]
        out[e, 1] = base[e, 1] + x * v[e, 1]
        out[e, 2] = base[e, 2] + x * v[e, 2]


@nb.njit(cache=True, parallel=True)
def _trial_par(base, v, x, out):  # pragma: no cover - compiled
    """:func:`trial_stress` with blocks of :data:`SCAN_BLOCK` rows on threads."""
    n = base.shape[0]
    for j in nb.prange((n + SCAN_BLOCK - 1) // SCAN_BLOCK):
        for e in range(j * SCAN_BLOCK, min((j + 1) * SCAN_BLOCK, n)):
            out[e, 0] = base[e, 0] + x * v[e, 0]
            out[e, 1] = base[e, 1] + x * v[e, 1]
            out[e, 2] = base[e, 2] + x * v[e, 2]


@nb.njit(cache=True)
def _max(x):  # pragma: no cover - compiled
    """Largest value of ``x`` (four running maxima)."""
    m0 = -np.inf
    m1 = -np.inf
    m2 = -np.inf
    m3 = -np.inf
    n = x.shape[0]
    e = 0
    while e + 4 <= n:
        m0 = x[e] if x[e] > m0 else m0
        m1 = x[e + 1] if x[e + 1] > m1 else m1
        m2 = x[e + 2] if x[e + 2] > m2 else m2
        m3 = x[e + 3] if x[e + 3] > m3 else m3
        e += 4
    while e < n:
        m0 = x[e] if x[e] > m0 else m0
        e += 1
    return max(max(m0, m1), max(m2, m3))


@nb.njit(cache=True)
def any_active(stress, nv, tauc, law_f, sref, pref, margin):  # pragma: no cover - compiled
    """Whether any system is active (:func:`find_active` stopping at the first)."""
    scratch = np.empty(1, np.int64)
    return find_active(stress, nv, tauc, law_f, sref, pref, margin, scratch, scratch, True) > 0


@nb.njit(cache=True)
def _element_trigger(e, base, v, nv, tauc, law_f):  # pragma: no cover - compiled
    """Smallest load ``x`` (strain) activating a system of element ``e`` (inf if none)."""
    a = law_f[4]
    v0 = 0.5 * (v[e, 1] - v[e, 0])
    v1 = v[e, 2]
    vp = -0.5 * (v[e, 0] + v[e, 1])
    s0 = 0.5 * (base[e, 1] - base[e, 0])
    s1 = base[e, 2]
    shift = a * (-0.5 * (base[e, 0] + base[e, 1]) + law_f[5])
    best = np.inf
    for k in range(tauc.shape[1]):
        r = nv[e, k, 0] * v0 + nv[e, k, 1] * v1 - a * vp
        if r > 0.0:
            x = (tauc[e, k] + shift - (nv[e, k, 0] * s0 + nv[e, k, 1] * s1)) / r
            if x < best:
                best = x
    return best


@nb.njit(cache=True)
def load_rate_bounds(v, law_f):  # pragma: no cover - compiled
    """``1 / (|v_s| + a |v_p|)`` per element (``inf`` where nothing is loaded).

    The inverse of the fastest loading rate of any system under the load response ``v``
    (n, 3). Constant over a run at fixed loading: drivers compute it once and hand it to
    :func:`next_trigger`.
    """
    a = law_f[4]
    n = v.shape[0]
    out = np.empty(n)
    for e in range(n):
        v0 = 0.5 * (v[e, 1] - v[e, 0])
        v1 = v[e, 2]
        vp = -0.5 * (v[e, 0] + v[e, 1])
        vmax = np.sqrt(v0 * v0 + v1 * v1) + a * abs(vp)
        out[e] = 1.0 / vmax if vmax > 0.0 else np.inf
    return out


@nb.njit(cache=True, boundscheck=False)
def _lower_bounds(b, ivm, sr, pref, margin, a, lo, hi, lbs):  # pragma: no cover - compiled
    """Lower bounds of the activation loads of elements ``lo .. hi - 1`` into ``lbs``.

    From the cached margin: ``(margin - |s - s_ref| - a |p - p_ref|) / vmax`` (``ivm`` =
    ``1 / vmax``, :func:`load_rate_bounds`), ``-inf`` where the margin is unknown and ``+inf``
    where nothing is loaded. ``b`` (n * 3,) and ``sr`` (n * 2,) are flat; a branch-free
    loop with unsigned indices (vectorised).
    """
    for e in range(u64(lo), u64(hi)):
        i = u64(3) * e
        d0 = 0.5 * (b[i + u64(1)] - b[i]) - sr[u64(2) * e]
        d1 = b[i + u64(2)] - sr[u64(2) * e + u64(1)]
        dp = -0.5 * (b[i] + b[i + u64(1)]) - pref[e]
        mg = margin[e]
        lb = (mg - np.sqrt(d0 * d0 + d1 * d1) - a * abs(dp)) * ivm[e]
        lb = lb - 1e-12 * abs(lb) - 1e-300  # round-off safety: a bound, never above
        lb = lb if mg > 0.0 else -np.inf
        lbs[e] = lb if ivm[e] < np.inf else np.inf


@nb.njit(cache=True)
def _block_min(lbs, lo, hi):  # pragma: no cover - compiled
    """Minimum of ``lbs[lo:hi]`` (four running minima: no serial dependency chain)."""
    m0 = np.inf
    m1 = np.inf
    m2 = np.inf
    m3 = np.inf
    e = lo
    while e + 4 <= hi:
        m0 = lbs[e] if lbs[e] < m0 else m0
        m1 = lbs[e + 1] if lbs[e + 1] < m1 else m1
        m2 = lbs[e + 2] if lbs[e + 2] < m2 else m2
        m3 = lbs[e + 3] if lbs[e + 3] < m3 else m3
        e += 4
    while e < hi:
        m0 = lbs[e] if lbs[e] < m0 else m0
        e += 1
    return min(min(m0, m1), min(m2, m3))


@nb.njit(cache=True, parallel=True)
def _bounds_par(b, ivm, sr, pref, margin, a, n, lbs, bmin):  # pragma: no cover - compiled
    """:func:`_lower_bounds` and :func:`_block_min` of every block, blocks on threads."""
    for j in nb.prange(bmin.shape[0]):
        lo = j * SCAN_BLOCK
        hi = min(lo + SCAN_BLOCK, n)
        _lower_bounds(b, ivm, sr, pref, margin, a, lo, hi, lbs)
        bmin[j] = _block_min(lbs, lo, hi)


@nb.njit(cache=True)
def trigger_bounds(base, v, nv, tauc, law_f, sref, pref, margin, ivm, lbs, bmin,
                   par=0):  # pragma: no cover - compiled
    """Smallest activation load over all elements, with the bounds it was found from.

    Fills ``lbs`` (n,) with every element's lower bound (:func:`_lower_bounds`) and ``bmin``
    (blocks of :data:`SCAN_BLOCK`,) with their block minima; the element of the lowest bound
    is solved exactly (:func:`_element_trigger`), then every element whose bound is below the
    best load found so far, visiting only the blocks whose minimum is. Returns
    ``(best, e_best)``, the exact minimum and an element attaining it (``inf, -1`` when
    nothing is loaded). ``par``: the grain; the bounds on threads when
    ``n >= PAR_BOUNDS * par`` (same values).
    """
    n = base.shape[0]
    nblk = bmin.shape[0]
    b = np.ascontiguousarray(base).reshape(-1)
    sr = np.ascontiguousarray(sref).reshape(-1)
    a = law_f[4]
    if par > 0 and n >= PAR_BOUNDS * par:
        _bounds_par(b, ivm, sr, pref, margin, a, n, lbs, bmin)
    else:
        _lower_bounds(b, ivm, sr, pref, margin, a, 0, n, lbs)
        for j in range(nblk):
            bmin[j] = _block_min(lbs, j * SCAN_BLOCK, min((j + 1) * SCAN_BLOCK, n))
    jmin = -1
    lmin = np.inf
    for j in range(nblk):
        if bmin[j] < lmin:
            lmin = bmin[j]
            jmin = j
    best = np.inf
    e_best = -1
    emin = -1
    if jmin >= 0:
        for e in range(jmin * SCAN_BLOCK, min((jmin + 1) * SCAN_BLOCK, n)):
            if lbs[e] == lmin:
                emin = e
                break
        best = _element_trigger(emin, base, v, nv, tauc, law_f)
        if best < np.inf:
            e_best = emin
    for j in range(nblk):
        if bmin[j] >= best:
            continue
        for e in range(j * SCAN_BLOCK, min((j + 1) * SCAN_BLOCK, n)):
            if e == emin or lbs[e] >= best:
                continue
            x = _element_trigger(e, base, v, nv, tauc, law_f)
            if x < best:
                best = x
                e_best = e
    return best, e_best


@nb.njit(cache=True)
def _analytic_step(base, v, dgamma, nv, tauc, law_f, sref, pref, margin, m_cap, ivm,
                   par):  # pragma: no cover - compiled
    """The analytic step of :func:`next_trigger`, with what :func:`trigger_bounds` found.

    Returns ``(m, e_best, lbs, bmin, iv)``: ``m = min(max(floor(best / dgamma) + 1, 1),
    m_cap)`` (``m_cap`` when nothing is loaded), the element attaining ``best``, the bounds
    and block minima, and the inverse loading rates used.
    """
    n = base.shape[0]
    iv = load_rate_bounds(v, law_f) if ivm is None else ivm
    lbs = np.empty(n)
    bmin = np.empty((n + SCAN_BLOCK - 1) // SCAN_BLOCK)
    best, e_best = trigger_bounds(base, v, nv, tauc, law_f, sref, pref, margin, iv, lbs, bmin,
                                  par)
    m = m_cap
    if best < np.inf:
        m = int(max(1.0, min(np.floor(best / dgamma) + 1.0, float(m_cap))))
    return m, e_best, lbs, bmin, iv


@nb.njit(cache=True)
def next_trigger(base, v, dgamma, nv, tauc, law_f, sref, pref, margin, m_cap,
                 ivm=None, par=0):  # pragma: no cover
    """Smallest load step ``m >= 1`` at which ``base + m dgamma v`` has an active system.

    Analytic (the stress is affine in the load): for each system with a positive loading
    rate ``r = n . v_s - a v_p``, activation at ``x = dtau / r``. A first pass computes, from
    the cached margins, a lower bound of every element's activation load; the element with
    the lowest bound is solved exactly, and the second pass skips every element whose bound
    exceeds the best load found. Returns ``min(m, m_cap)``. ``ivm`` is
    :func:`load_rate_bounds` of ``v`` (computed here when not given); ``par``: the grain of
    the threaded form (the same minimum).
    """
    return _analytic_step(base, v, dgamma, nv, tauc, law_f, sref, pref, margin, m_cap, ivm,
                          par)[0]


@nb.njit(cache=True)
def _active_at(e, base, v, x, trial, nv, tauc, law_f, sref, pref, margin):  # pragma: no cover
    """Whether element ``e`` is active in ``base + x v`` (its row of ``trial`` set so).

    The element's row is computed as :func:`trial_stress` computes it and tested by
    :func:`full_check`, as a scan of the whole trial stress would test it.
    """
    trial[e, 0] = base[e, 0] + x * v[e, 0]
    trial[e, 1] = base[e, 1] + x * v[e, 1]
    trial[e, 2] = base[e, 2] + x * v[e, 2]
    return full_check(e, trial, nv, tauc, law_f, sref, pref, margin)[0] < 0.0


@nb.njit(cache=True)
def next_unstable_step(base, v, dgamma, nv, tauc, law_f, sref, pref, margin, cap,
                       trial, ivm=None, par=0):  # pragma: no cover - compiled
    """First load step ``m`` in ``1 .. cap`` at which ``base + m dgamma v`` is unstable.

    The analytic step (:func:`trigger_bounds`, as :func:`next_trigger`) is verified against
    the test of the step-by-step mode (:func:`trial_stress` + :func:`any_active`): ``m``
    must be unstable and ``m - 1`` stable, else it is moved, step by step, with that test.
    The usual case needs no scan: ``m`` is unstable if the element found to trigger is
    active there, and ``m - 1`` is stable if no element whose bound is below
    ``x (1 + 1e-9) + 1e-12 max(1 / vmax)`` (``x`` its load) is active there; every other
    element is stable by its bound with a margin of at least ``1e-12`` in stress, far above
    round-off, so the scan would find exactly the same. Returns ``cap + 1`` when no step up
    to ``cap`` is unstable; otherwise ``trial`` holds the loaded stress at ``m``.
    """
    n = base.shape[0]
    mstep, e_best, lbs, bmin, iv = _analytic_step(base, v, dgamma, nv, tauc, law_f, sref, pref,
                                                  margin, cap + 1, ivm, par)
    # fast verification of the usual case (see the docstring)
    if mstep <= cap and e_best >= 0 and _active_at(e_best, base, v, mstep * dgamma, trial, nv,
                                                   tauc, law_f, sref, pref, margin):
        calm = True
        if mstep > 1:
            x = (mstep - 1) * dgamma
            thr = x * (1.0 + 1e-9) + 1e-12 * _max(iv)
            for j in range(bmin.shape[0]):
                if not calm:
                    break
                if bmin[j] > thr:
                    continue
                for e in range(j * SCAN_BLOCK, min((j + 1) * SCAN_BLOCK, n)):
                    if lbs[e] <= thr and _active_at(e, base, v, x, trial, nv, tauc, law_f, sref,
                                                    pref, margin):
                        calm = False
                        break
        if calm:
            trial_stress(base, v, mstep * dgamma, trial, par)
            return mstep
    # the general case: the step-by-step test
    while mstep <= cap:
        trial_stress(base, v, mstep * dgamma, trial, par)
        if any_active(trial, nv, tauc, law_f, sref, pref, margin):
            break
        mstep += 1
    while mstep > 1:
        trial_stress(base, v, (mstep - 1) * dgamma, trial, par)
        if not any_active(trial, nv, tauc, law_f, sref, pref, margin):
            break
        mstep -= 1
    if mstep <= cap:
        trial_stress(base, v, mstep * dgamma, trial, par)
    return mstep


@nb.njit(cache=True)
def kmc_select(stress, nv, tauc, law_f, beta, rng):  # pragma: no cover - compiled
    """Pick a system with probability ``exp(-beta dtau) / sum``; returns (e, k, log nu_tot).

    ``beta = V_a / T``. Rates are computed relative to the lowest ``dtau`` (no overflow for
    negative distances); ``log nu_tot = -beta dtau_min + log sum exp(-beta (dtau - min))``.
    """
    n = stress.shape[0]
    N = tauc.shape[1]
    a = law_f[4]
    dmin = np.inf
    for e in range(n):
        s0 = 0.5 * (stress[e, 1] - stress[e, 0])
        s1 = stress[e, 2]
        shift = a * (-0.5 * (stress[e, 0] + stress[e, 1]) + law_f[5])
        for k in range(N):
            d = tauc[e, k] + shift - (nv[e, k, 0] * s0 + nv[e, k, 1] * s1)
            if d < dmin:
                dmin = d
    total = 0.0
    w = np.empty(n * N)
    for e in range(n):
        s0 = 0.5 * (stress[e, 1] - stress[e, 0])
        s1 = stress[e, 2]
        shift = a * (-0.5 * (stress[e, 0] + stress[e, 1]) + law_f[5])
        for k in range(N):
            d = tauc[e, k] + shift - (nv[e, k, 0] * s0 + nv[e, k, 1] * s1)
            x = np.exp(-beta * (d - dmin))
            total += x
            w[e * N + k] = total
    target = rng.random() * total
    # first index with cumulative sum > target (binary search)
    lo = 0
    hi = n * N - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if w[mid] > target:
            hi = mid
        else:
            lo = mid + 1
    return lo // N, lo % N, -beta * dmin + np.log(total)

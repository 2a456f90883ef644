"""Numba kernels of the 3D KMC quench: the exact O(n)-per-event selection of :mod:`.kmc_kernels`.

Same scheme, names and signatures as the 2D module (the proof is in
:mod:`femplastic.weakplane.drivers.kmc`); only the per-element bound changes. Each element
keeps the exact total rate ``R_e = sum_k exp(-beta dtau_ek)`` at a reference stress
``Sigma_ref`` (``k_s`` (n, 6)) and pressure ``p_ref``. Every 3D Schmid tensor is traceless with
``M : M = 1/2``, so ``|tau_ek(Sigma) - tau_ek(Sigma_ref)| <= |dev(Sigma - Sigma_ref)| / sqrt(2)``
and ``dtau_ek(Sigma) >= dtau_ek(ref) - delta_e`` with
``delta_e = |dev(Sigma - Sigma_ref)| / sqrt(2) + a |p - p_ref|``: ``R_e <= R_e(ref) exp(beta
delta_e)``, an O(1) bound. Rejection against these bounds selects ``(e, k)`` with probability
``nu_ek / sum(nu)`` exactly, and the summed exponential gaps give the exact KMC clock. The
threaded refresh of the 2D module is not repeated (``par`` is accepted and ignored).
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numba import uint64 as u64

from ..numba_cache import refresh as _refresh_numba_caches
from .kmc_kernels import REFRESH, _set_leaf, draw_trial, finish_tree
from .relax3d import (
    SCAN_BLOCK,
    _dq,
    pressure,
    relax_fused,
    resolved,
    row_bundle,
    row_min,
    rows_rescale,
)

_refresh_numba_caches()  # before any cached kernel loads (see femplastic.numba_cache)

__all__ = ["REFRESH", "kmc_cache", "kmc_select_bounded", "kmc_run"]

_SLACK = 1e-9  # relative inflation of the bounds, far above round-off of the triangle bound
#: Thermal events between measurements of ``max |stress|`` (the round-off scale of the row
#: drift bounds, otherwise bounded from above by the kernel updates booked since).
RESCALE = 4096


def kmc_cache(n: int) -> tuple[np.ndarray, ...]:
    """A fresh ``kcache`` for ``n`` elements (as :func:`.kmc_kernels.kmc_cache`, ``k_s`` (n, 6)).

    Parameters
    ----------
    n : int
        Number of elements.

    Returns
    -------
    tuple of ndarray
        ``(k_s (n, 6), k_p (n,), k_logr (n,), k_slips (n,) int64 = -1, tree (2 m,), meta (2,))``.
    """
    m = 1
    while m < n:
        m *= 2
    return (np.zeros((n, 6)), np.zeros(n), np.zeros(n), -np.ones(n, np.int64),
            np.zeros(2 * m), np.array([0.0, 1.0]))


@nb.njit(cache=True)
def _refresh(e, stress, nv, tauc, law_f, beta, k_s, k_p, k_logr):  # pragma: no cover
    """Exact ``log R_e`` at the current stress; stores the reference."""
    p = pressure(stress, e)
    shift = law_f[4] * (p + law_f[5])
    N = tauc.shape[1]
    dmin = np.inf
    for k in range(N):
        d = tauc[e, k] + shift - resolved(stress, e, nv, k)
        if d < dmin:
            dmin = d
    tot = 0.0
    for k in range(N):
        d = tauc[e, k] + shift - resolved(stress, e, nv, k)
        tot += np.exp(-beta * (d - dmin))
    for c in range(6):
        k_s[e, c] = stress[e, c]
    k_p[e] = p
    k_logr[e] = -beta * dmin + np.log(tot)


@nb.njit(cache=True, boundscheck=False)
def _stale(flat, ks, k_slips, slips, a, thr, lo, hi):  # pragma: no cover - compiled
    """How many elements of ``lo .. hi - 1`` need a refresh (branch-free, vectorised)."""
    c = 0
    thr2 = thr * thr
    if a == 0.0:
        for e in range(u64(lo), u64(hi)):
            q, _ = _dq(flat, ks, u64(6) * e)
            c += (k_slips[e] != slips[e]) | (q > thr2)
    else:
        for e in range(u64(lo), u64(hi)):
            q, dt = _dq(flat, ks, u64(6) * e)
            c += (k_slips[e] != slips[e]) | (np.sqrt(q) + a * abs(dt) > thr)
    return c


@nb.njit(cache=True)
def _sync_element(e, stress, nv, tauc, slips, law_f, beta, kcache, flat, a, thr,
                  m):  # pragma: no cover - compiled
    """Refresh element ``e`` if renewed or drifted; its tree leaf (or a rebuild flag)."""
    k_s, k_p, k_logr, k_slips, tree, meta = kcache
    q, dt = _dq(flat, k_s.reshape(-1), u64(6) * u64(e))
    stale = k_slips[e] != slips[e] or q > thr * thr
    if not stale and a != 0.0:
        stale = np.sqrt(q) + a * abs(dt) > thr
    if stale:
        _refresh(e, stress, nv, tauc, law_f, beta, k_s, k_p, k_logr)
        k_slips[e] = slips[e]
        x = k_logr[e] - meta[0]
        if x > 600.0:
            meta[1] = 1.0
        elif meta[1] == 0.0:
            _set_leaf(tree, m, e, np.exp(x))


@nb.njit(cache=True)
def _sync(stress, nv, tauc, slips, law_f, beta, kcache):  # pragma: no cover
    """Refresh every element that was renewed or drifted beyond :data:`REFRESH`; O(n)."""
    k_s, k_p, k_logr, k_slips, tree, meta = kcache
    a = abs(law_f[4])
    n = stress.shape[0]
    m = tree.shape[0] // 2
    thr = REFRESH / beta
    rebuild = meta[1] != 0.0
    flat = np.ascontiguousarray(stress).reshape(-1)
    ks = k_s.reshape(-1)
    for lo in range(0, n, SCAN_BLOCK):
        hi = min(lo + SCAN_BLOCK, n)
        if _stale(flat, ks, k_slips, slips, a, thr, lo, hi) == 0:
            continue
        for e in range(lo, hi):
            _sync_element(e, stress, nv, tauc, slips, law_f, beta, kcache, flat, a, thr, m)
    finish_tree(kcache, n, rebuild or meta[1] != 0.0)


@nb.njit(cache=True, boundscheck=False)
def _krow_scan(flat, ks, k_slips, slips, a, thr, lo, hi, buf):  # pragma: no cover - compiled
    """:func:`_stale` of one row and its slack ``min (thr - dist_e)`` (branch-free).

    ``dist_e = |dev(s - s_ref)| / sqrt(2) + |a| |p - p_ref|``; ``-1e300`` for a renewed
    element (or NaN); lowered by ``1e-12 (1 + dist)`` for round-off; through ``buf`` as
    :func:`femplastic.weakplane.scan3d._row_scan`.
    """
    c = 0
    j = 0
    thr2 = thr * thr
    for e in range(u64(lo), u64(hi)):
        q, dt = _dq(flat, ks, u64(6) * e)
        dist = np.sqrt(q) + a * abs(dt)
        same = k_slips[e] == slips[e]
        c += (not same) | (q > thr2) | (dist > thr)
        v = thr - dist * (1.0 + 1e-12) - 1e-12
        buf[j] = v if same & (v > -1e300) else -1e300
        j += 1
    return c, row_min(buf, j)


@nb.njit(cache=True)
def _sync_rows(stress, nv, tauc, slips, law_f, beta, kcache, rows):  # pragma: no cover
    """:func:`_sync` that skips the x-rows whose drift bound is below their slack.

    As :func:`femplastic.weakplane.relax3d.find_active_rows`: every stress change since a
    row's scan is booked in ``k_drift``, so ``k_drift < k_slack`` proves that no element of
    the row drifted beyond :data:`REFRESH` (nor was renewed: a slip sets the slack to
    ``-inf``). The same elements are refreshed at the same events as by :func:`_sync`.
    """
    k_s, _, _, k_slips, tree, meta = kcache
    _, _, _, k_drift, k_slack, _, _ = rows
    a = abs(law_f[4])
    n = stress.shape[0]
    nr = k_drift.shape[0]
    L = n // nr
    m = tree.shape[0] // 2
    thr = REFRESH / beta
    rebuild = meta[1] != 0.0
    flat = np.ascontiguousarray(stress).reshape(-1)
    ks = k_s.reshape(-1)
    buf = np.empty(L)
    for b in range(nr):
        if k_drift[b] < k_slack[b]:
            continue
        lo = b * L
        hi = lo + L
        c, sl = _krow_scan(flat, ks, k_slips, slips, a, thr, lo, hi, buf)
        if c > 0:
            for e in range(lo, hi):
                _sync_element(e, stress, nv, tauc, slips, law_f, beta, kcache, flat, a, thr, m)
            c, sl = _krow_scan(flat, ks, k_slips, slips, a, thr, lo, hi, buf)
        k_slack[b] = sl
        k_drift[b] = 0.0
    finish_tree(kcache, n, rebuild or meta[1] != 0.0)


@nb.njit(cache=True)
def kmc_select_bounded(stress, nv, tauc, slips, law_f, beta, kcache, rng,
                       par=0, rows=None):  # pragma: no cover
    """Pick system ``(e, k)`` with probability ``nu_ek / sum(nu)``; returns ``(e, k, dt)``.

    Draws per trial: one exponential, two uniforms (as in 2D). With ``rows``
    (:func:`femplastic.weakplane.relax3d.row_bundle`, every stress change booked) the refresh
    pass skips the rows proven fresh (:func:`_sync_rows`): the same refreshes and draws.
    """
    if rows is None:
        _sync(stress, nv, tauc, slips, law_f, beta, kcache)
    else:
        _sync_rows(stress, nv, tauc, slips, law_f, beta, kcache, rows)
    _, _, k_logr, _, tree, meta = kcache
    m = tree.shape[0] // 2
    n = stress.shape[0]
    infl = REFRESH * (1.0 + _SLACK) + _SLACK
    tot = tree[1]
    scale = np.exp(-meta[0] - infl) / tot  # 1 / sum(B)
    dt = 0.0
    while True:
        e, u, wait = draw_trial(tree, m, n, tot, scale, rng)
        dt += wait
        if e < 0:  # round-off at a node boundary: a void trial
            continue
        shift = law_f[4] * (pressure(stress, e) + law_f[5])
        lb = k_logr[e] + infl
        acc = 0.0
        for k in range(tauc.shape[1]):
            d = tauc[e, k] + shift - resolved(stress, e, nv, k)
            acc += np.exp(-beta * d - lb)
            if u < acc:
                return e, k, dt


@nb.njit(cache=True)
def kmc_run(form, stress, system, law, cache, work, events, kcache, rng, beta, n_thermal,
            max_sweeps, par=0, time0=0.0):  # pragma: no cover - compiled
    """``n_thermal`` KMC steps: bounded selection, then the fused athermal relaxation.

    Returns ``(status, events, time)`` as the 2D
    :func:`femplastic.weakplane.kmc_kernels.kmc_run`, ``time`` summed on from ``time0`` (a
    block run in parts, each given the last's time, sums as one call). Every stress change
    inside is a kernel update of the relaxation, booked in the row drift bounds
    (:func:`femplastic.weakplane.relax3d.row_bundle`, built at entry: the first pass of each
    scan is a full one), so the refresh pass and the relaxation scans visit only the rows near
    recent events: the same events, stress and draws as full scans, in about the time of the
    kernel updates.
    """
    _, tauc, nv, _, _, _, slips = system
    _, law_f, _, _ = law
    act_e, act_k, _, _, _ = work
    rows = row_bundle(form[0], form[1], law_f, stress)
    total = 0
    time = time0
    for i in range(n_thermal):
        if i % RESCALE == RESCALE - 1:
            rows_rescale(rows, stress)
        e, k, dt = kmc_select_bounded(stress, nv, tauc, slips, law_f, beta, kcache, rng, 0,
                                      rows)
        time += dt
        act_e[0] = e
        act_k[0] = k
        status, n_ev, _ = relax_fused(form, stress, system, law, cache, work, events, rng,
                                      False, max_sweeps, True, None, par, rows)
        total += n_ev
        if status != 0:
            return 1, total, time
    return 0, total, time

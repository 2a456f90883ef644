"""Numba relaxation kernels of the 3D weak-plane model: the namespace the drivers use.

The 3D form of :mod:`femplastic.weakplane.kernels`, with the same function names, signatures,
bundles and order of random draws, so the Python drivers call either set through
:func:`femplastic.weakplane.dimension.kernels_of`. The scans, slips and row drift bounds (and
the cached stability test they rest on) are in :mod:`femplastic.weakplane.scan3d` and
re-exported here; this module holds the loading searches of the event-driven AQS and of the
cyclic and stress-controlled loops: the trial stress ``base + x v``, the lower bounds of the
elements' activation loads, the next trigger and the next unstable strain step (with or
without the row bounds).
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numba import uint64 as u64

from ..numba_cache import refresh as _refresh_numba_caches
from .scan3d import (
    SCAN_BLOCK,
    _dq,
    add_plastic,
    any_active,
    draw_slips,
    drift,
    find_active,
    find_active_rows,
    finish_slips,
    full_check,
    kmc_select,
    pressure,
    relax_fused,
    renew_element,
    resolved,
    row_bundle,
    row_min,
    rows_book,
    rows_book_load,
    rows_load,
    rows_rescale,
)

_refresh_numba_caches()  # before any cached kernel loads (see femplastic.numba_cache)

__all__ = ["renew_element", "full_check", "find_active", "draw_slips", "finish_slips",
           "add_plastic", "relax_fused", "trial_stress", "any_active", "load_rate_bounds",
           "row_bundle", "rows_rescale", "rows_book", "find_active_rows", "row_min", "rows_load",
           "rows_book_load", "next_unstable_step_rows", "trigger_bounds", "next_trigger",
           "next_unstable_step", "kmc_select"]


@nb.njit(cache=True)
def trial_stress(base, v, x, out, par=0):  # pragma: no cover - compiled
    """``out = base + x * v`` elementwise (the loaded stress, same formula in every mode)."""
    for e in range(base.shape[0]):
        for c in range(6):
            out[e, c] = base[e, c] + x * v[e, c]


@nb.njit(cache=True)
def load_rate_bounds(v, law_f):  # pragma: no cover - compiled
    """``1 / (|dev v| / sqrt(2) + a |v_p|)`` per element (``inf`` where nothing is loaded)."""
    a = law_f[4]
    n = v.shape[0]
    out = np.empty(n)
    zero = np.zeros((1, 6))
    vv = np.empty((1, 6))
    for e in range(n):
        for c in range(6):
            vv[0, c] = v[e, c]
        vmax = drift(vv, 0, zero) + a * abs(pressure(v, e))
        out[e] = 1.0 / vmax if vmax > 0.0 else np.inf
    return out


@nb.njit(cache=True)
def _element_trigger(e, base, v, nv, tauc, law_f):  # pragma: no cover - compiled
    """Smallest load ``x`` activating a system of element ``e`` (inf if none)."""
    a = law_f[4]
    vp = pressure(v, e)
    shift = a * (pressure(base, e) + law_f[5])
    best = np.inf
    for k in range(tauc.shape[1]):
        r = resolved(v, e, nv, k) - a * vp
        if r > 0.0:
            x = (tauc[e, k] + shift - resolved(base, e, nv, k)) / r
            if x < best:
                best = x
    return best


@nb.njit(cache=True, boundscheck=False)
def _lower_bounds(b, sr, pref, margin, ivm, a, lo, hi, lbs):  # pragma: no cover - compiled
    """Lower bounds of the activation loads of elements ``lo .. hi - 1`` (branch-free).

    ``(margin - |dev(s - s_ref)| / sqrt(2) - a |p - p_ref|) / vmax`` with a round-off safety,
    ``-inf`` where the margin is unknown and ``+inf`` where nothing is loaded.
    """
    for e in range(u64(lo), u64(hi)):
        i = u64(6) * e
        q, _ = _dq(b, sr, i)
        dp = -(b[i] + b[i + u64(1)] + b[i + u64(2)]) / 3.0 - pref[e]
        mg = margin[e]
        lb = (mg - np.sqrt(q) - a * abs(dp)) * ivm[e]
        lb = lb - 1e-12 * abs(lb) - 1e-300
        lb = lb if mg > 0.0 else -np.inf
        lbs[e] = lb if ivm[e] < np.inf else np.inf


@nb.njit(cache=True)
def trigger_bounds(base, v, nv, tauc, law_f, sref, pref, margin, ivm, lbs,
                   bmin):  # pragma: no cover
    """Smallest activation load over all elements; fills ``lbs`` (n,) and block minima.

    As :func:`femplastic.weakplane.kernels.trigger_bounds`: a bound per element from its
    cached margin (:func:`_lower_bounds`), the element of the lowest bound solved exactly,
    then every element whose bound is below the best load so far, visiting only the blocks
    whose minimum is. Returns ``(best, e_best)`` (``inf, -1`` when nothing is loaded).
    """
    n = base.shape[0]
    nblk = bmin.shape[0]
    b = np.ascontiguousarray(base).reshape(-1)
    sr = np.ascontiguousarray(sref).reshape(-1)
    _lower_bounds(b, sr, pref, margin, ivm, law_f[4], 0, n, lbs)
    jmin = -1
    lmin = np.inf
    for j in range(nblk):
        m = np.inf
        for e in range(j * SCAN_BLOCK, min((j + 1) * SCAN_BLOCK, n)):
            m = lbs[e] if lbs[e] < m else m
        bmin[j] = m
        if m < lmin:
            lmin = m
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
def _analytic_step(base, v, dgamma, nv, tauc, law_f, sref, pref, margin, m_cap,
                   ivm):  # pragma: no cover - compiled
    iv = load_rate_bounds(v, law_f) if ivm is None else ivm
    n = base.shape[0]
    lbs = np.empty(n)
    bmin = np.empty((n + SCAN_BLOCK - 1) // SCAN_BLOCK)
    best, e_best = trigger_bounds(base, v, nv, tauc, law_f, sref, pref, margin, iv, lbs, bmin)
    m = m_cap
    if best < np.inf:
        m = int(max(1.0, min(np.floor(best / dgamma) + 1.0, float(m_cap))))
    return m, e_best, lbs, bmin, iv


@nb.njit(cache=True)
def next_trigger(base, v, dgamma, nv, tauc, law_f, sref, pref, margin, m_cap,
                 ivm=None, par=0):  # pragma: no cover
    """Smallest load step ``m >= 1`` at which ``base + m dgamma v`` has an active system."""
    return _analytic_step(base, v, dgamma, nv, tauc, law_f, sref, pref, margin, m_cap,
                          ivm)[0]


@nb.njit(cache=True)
def _active_at(e, base, v, x, trial, nv, tauc, law_f, sref, pref, margin):  # pragma: no cover
    for c in range(6):
        trial[e, c] = base[e, c] + x * v[e, c]
    return full_check(e, trial, nv, tauc, law_f, sref, pref, margin)[0] < 0.0


@nb.njit(cache=True)
def _calm(lo, hi, lbs, thr, base, v, x, trial, nv, tauc, law_f, sref, pref,
          margin):  # pragma: no cover - compiled
    """Whether no element of ``lo .. hi - 1`` with ``lbs <= thr`` is active at load ``x``."""
    for e in range(lo, hi):
        if lbs[e] <= thr and _active_at(e, base, v, x, trial, nv, tauc, law_f, sref, pref,
                                        margin):
            return False
    return True


@nb.njit(cache=True)
def next_unstable_step(base, v, dgamma, nv, tauc, law_f, sref, pref, margin, cap,
                       trial, ivm=None, par=0):  # pragma: no cover - compiled
    """First load step ``m`` in ``1 .. cap`` at which ``base + m dgamma v`` is unstable.

    As :func:`femplastic.weakplane.kernels.next_unstable_step`: the analytic step, verified
    against the stepping test (``m`` unstable, ``m - 1`` stable), else moved step by step
    with that test. Returns ``cap + 1`` when none; ``trial`` holds the loaded stress at ``m``.
    """
    n = base.shape[0]
    mstep, e_best, lbs, bmin, iv = _analytic_step(base, v, dgamma, nv, tauc, law_f, sref,
                                                  pref, margin, cap + 1, ivm)
    calm = False
    if mstep <= cap and e_best >= 0 and _active_at(e_best, base, v, mstep * dgamma, trial, nv,
                                                   tauc, law_f, sref, pref, margin):
        calm = True
        if mstep > 1:
            x = (mstep - 1) * dgamma
            big = 0.0
            for e in range(n):
                if iv[e] < np.inf and iv[e] > big:
                    big = iv[e]
            thr = x * (1.0 + 1e-9) + 1e-12 * big
            for j in range(bmin.shape[0]):
                if bmin[j] <= thr and not _calm(j * SCAN_BLOCK, min((j + 1) * SCAN_BLOCK, n),
                                                lbs, thr, base, v, x, trial, nv, tauc, law_f,
                                                sref, pref, margin):
                    calm = False
                    break
    return _settle(calm, base, v, dgamma, nv, tauc, law_f, sref, pref, margin, cap, trial,
                   mstep)


@nb.njit(cache=True)
def _settle(calm, base, v, dgamma, nv, tauc, law_f, sref, pref, margin, cap, trial,
            mstep):  # pragma: no cover - compiled
    """The step: ``mstep`` if verified (``calm``), else moved with the stepping test.

    Moved until it is unstable and ``mstep - 1`` stable; ``trial`` holds the loaded stress.
    """
    if calm:
        trial_stress(base, v, mstep * dgamma, trial)
        return mstep
    while mstep <= cap:
        trial_stress(base, v, mstep * dgamma, trial)
        if any_active(trial, nv, tauc, law_f, sref, pref, margin):
            break
        mstep += 1
    while mstep > 1:
        trial_stress(base, v, (mstep - 1) * dgamma, trial)
        if not any_active(trial, nv, tauc, law_f, sref, pref, margin):
            break
        mstep -= 1
    if mstep <= cap:
        trial_stress(base, v, mstep * dgamma, trial)
    return mstep


@nb.njit(cache=True)
def _row_loads(rows, out):  # pragma: no cover - compiled
    """Lower bounds of the activation loads of each row (``out`` (L^2,)).

    A row whose elements passed the cached test with slack ``r_slack`` at its last scan, and
    drifted by at most ``r_drift`` since, stays stable under ``+ x v`` while
    ``r_drift + x vrow < r_slack``: ``(r_slack - r_drift) / vrow`` (lowered by ``1e-9``
    relative), ``-inf`` when nothing is proven, ``+inf`` when the row is stable and unloaded.
    """
    _, r_drift, r_slack, _, _, _, vrow = rows
    for b in range(r_drift.shape[0]):
        sl = r_slack[b] - r_drift[b]
        if not sl > 0.0:
            out[b] = -np.inf
        elif vrow[b] > 0.0:
            out[b] = sl / vrow[b] * (1.0 - 1e-9)
        else:
            out[b] = np.inf


@nb.njit(cache=True)
def _visit_row(j, L, b, sr, pref, margin, ivm, a, lbs, seen):  # pragma: no cover - compiled
    """The elements' lower bounds of row ``j`` into ``lbs`` (:func:`_lower_bounds`), once."""
    if not seen[j]:
        _lower_bounds(b, sr, pref, margin, ivm, a, j * L, j * L + L, lbs)
        seen[j] = True


@nb.njit(cache=True)
def next_unstable_step_rows(base, v, dgamma, nv, tauc, law_f, sref, pref, margin, cap,
                            trial, ivm, rows):  # pragma: no cover - compiled
    """:func:`next_unstable_step` over the rows of the drift bounds (the same step).

    ``stress == base`` and every change since the rows' scans booked (the compiled AQS loop
    after an avalanche). Rows whose lower bound of the activation load (:func:`_row_loads`)
    is not below the best load so far are skipped; in the others the elements are bounded
    and solved as in :func:`trigger_bounds`, starting with the row of the least bound. The
    least activation load is thus the same exact minimum, and the stability check one step
    below it visits every element that could be active there, as
    :func:`next_unstable_step` does; the cache only may end up different. ``rows[5][6]``
    is the largest finite ``ivm`` (the absolute tolerance of that check, set by the caller).
    """
    n = base.shape[0]
    nr = rows[1].shape[0]
    L = n // nr
    a = law_f[4]
    b = np.ascontiguousarray(base).reshape(-1)
    sr = np.ascontiguousarray(sref).reshape(-1)
    xr = np.empty(nr)
    _row_loads(rows, xr)
    lbs = np.empty(n)
    seen = np.zeros(nr, np.bool_)
    jmin = 0
    for j in range(nr):
        if xr[j] < xr[jmin]:
            jmin = j
    best = np.inf
    e_best = -1
    for jj in range(nr + 1):
        j = jmin if jj == 0 else jj - 1
        if (jj > 0 and j == jmin) or xr[j] >= best:
            continue
        _visit_row(j, L, b, sr, pref, margin, ivm, a, lbs, seen)
        for e in range(j * L, j * L + L):
            if lbs[e] < best:
                x = _element_trigger(e, base, v, nv, tauc, law_f)
                if x < best:
                    best = x
                    e_best = e
    mstep = cap + 1
    if best < np.inf:
        mstep = int(max(1.0, min(np.floor(best / dgamma) + 1.0, float(cap + 1))))
    calm = False
    if mstep <= cap and e_best >= 0 and _active_at(e_best, base, v, mstep * dgamma, trial, nv,
                                                   tauc, law_f, sref, pref, margin):
        calm = True
        if mstep > 1:
            x = (mstep - 1) * dgamma
            thr = x * (1.0 + 1e-9) + 1e-12 * rows[5][6]
            for j in range(nr):
                if xr[j] > thr:
                    continue
                _visit_row(j, L, b, sr, pref, margin, ivm, a, lbs, seen)
                if not _calm(j * L, j * L + L, lbs, thr, base, v, x, trial, nv, tauc, law_f,
                             sref, pref, margin):
                    calm = False
                    break
    return _settle(calm, base, v, dgamma, nv, tauc, law_f, sref, pref, margin, cap, trial,
                   mstep)

"""Compiled AQS loop of the 3D weak-plane model: the 3D form of :mod:`.aqs_kernels`.

Same functions, signatures, statuses and records as :mod:`femplastic.weakplane.aqs_kernels`,
over the 3D relaxation kernels (:mod:`femplastic.weakplane.relax3d`); the Python driver
(:func:`femplastic.weakplane.drivers.aqs.aqs`) calls either through
:func:`femplastic.weakplane.dimension.kernels_of`. With ``C = stress.shape[1]`` (6) stress
components the small arrays are laid out as in 2D: ``acc = [base_mean (C), base_ext,
open_pl (C)]`` and ``rec_mean`` (n_steps, C).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ..numba_cache import refresh as _refresh_numba_caches
from .aqs_kernels import CHUNK_END, DONE, QUIET_PER_AVALANCHE, RECORD_FULL, SWEEP_LIMIT
from .relax3d import (
    any_active,
    next_unstable_step,
    next_unstable_step_rows,
    relax_fused,
    row_bundle,
    rows_book_load,
    rows_load,
    trial_stress,
)

_refresh_numba_caches()  # before any cached kernel loads (see femplastic.numba_cache)

__all__ = ["CHUNK_END", "DONE", "RECORD_FULL", "SWEEP_LIMIT", "aqs_chunk", "avalanche",
           "book_relaxed", "fill_quiet", "find_next", "weighted_mean"]

_BLOCK = 64  # elements per partial sum of the mean (summed in element order, then blocks)


@nb.njit(cache=True)
def fill_quiet(upto, pos, acc, dgamma, vbar, vmean, rec_b, rec_a, rec_mean):  # pragma: no cover
    """Record the elastic steps ``done + 1 .. upto`` (1-based) from the affine formula."""
    C = rec_mean.shape[1]
    k_base = pos[0]
    for i in range(pos[1], upto):
        x = (i + 1 - k_base) * dgamma
        rec_b[i] = acc[C] + x * vbar
        rec_a[i] = rec_b[i]
        for c in range(C):
            rec_mean[i, c] = acc[c] + x * vmean[c]
    if upto > pos[1]:
        pos[1] = upto


@nb.njit(cache=True)
def find_next(base, v, ivm, dgamma, n_steps, event_driven, nv, tauc, law_f, sref, pref,
              margin, pos, trial, par=0, rows=None):  # pragma: no cover - compiled
    """The next load step (from ``k_base``) whose loaded stress is unstable (as in 2D).

    With ``rows`` (the compiled loop's drift bounds) the event-driven search runs over them
    (:func:`femplastic.weakplane.relax3d.next_unstable_step_rows`, the same step).
    """
    k_base = pos[0]
    if event_driven and rows is not None:
        return next_unstable_step_rows(base, v, dgamma, nv, tauc, law_f, sref, pref, margin,
                                       n_steps - k_base, trial, ivm, rows)
    if event_driven:
        return next_unstable_step(base, v, dgamma, nv, tauc, law_f, sref, pref, margin,
                                  n_steps - k_base, trial, ivm, par)
    mstep = pos[1] + 1 - k_base
    trial_stress(base, v, mstep * dgamma, trial)
    if any_active(trial, nv, tauc, law_f, sref, pref, margin):
        return mstep
    return 0


@nb.njit(cache=True)
def _resolved(m, s):  # pragma: no cover - compiled
    """``m : s`` (tensor-Voigt weights 1, 1, 1, 2, 2, 2)."""
    return (m[0] * s[0] + m[1] * s[1] + m[2] * s[2]
            + 2.0 * (m[3] * s[3] + m[4] * s[4] + m[5] * s[5]))


@nb.njit(cache=True, boundscheck=False)
def _block_sum(stress, w, base, copy, lo, hi, out):  # pragma: no cover - compiled
    """``out += sum_{lo <= e < hi} w[e] stress[e]`` (six running sums); rows to ``base``."""
    m0 = 0.0
    m1 = 0.0
    m2 = 0.0
    m3 = 0.0
    m4 = 0.0
    m5 = 0.0
    for e in range(lo, hi):
        we = w[e]
        s0 = stress[e, 0]
        s1 = stress[e, 1]
        s2 = stress[e, 2]
        s3 = stress[e, 3]
        s4 = stress[e, 4]
        s5 = stress[e, 5]
        if copy:
            base[e, 0] = s0
            base[e, 1] = s1
            base[e, 2] = s2
            base[e, 3] = s3
            base[e, 4] = s4
            base[e, 5] = s5
        m0 += we * s0
        m1 += we * s1
        m2 += we * s2
        m3 += we * s3
        m4 += we * s4
        m5 += we * s5
    out[0] += m0
    out[1] += m1
    out[2] += m2
    out[3] += m3
    out[4] += m4
    out[5] += m5


@nb.njit(cache=True)
def _mean_copy(stress, w, base):  # pragma: no cover - compiled
    """Weighted mean (6,) summed per block then over blocks; copies to ``base`` if it has rows."""
    n = stress.shape[0]
    copy = base.shape[0] > 0
    out = np.zeros(6)
    for lo in range(0, n, _BLOCK):
        _block_sum(stress, w, base, copy, lo, min(lo + _BLOCK, n), out)
    return out


@nb.njit(cache=True)
def weighted_mean(stress, w, par=0):  # pragma: no cover - compiled
    """``sum_e w[e] stress[e]`` (C,), summed as :func:`book_relaxed` sums it (same bits)."""
    return _mean_copy(stress, w, np.empty((0, stress.shape[1])))


@nb.njit(cache=True)
def book_relaxed(stress, base, w, mload, pos, acc, rec_a, rec_size, rec_pl, rec_mean,
                 par=0):  # pragma: no cover - compiled
    """Close the avalanche of step ``pos[4]``: records, ``base`` = ``stress``, advance ``pos``."""
    C = stress.shape[1]
    i = pos[4]
    rec_pl[i] = _resolved(mload, acc[C + 1:])
    mean = _mean_copy(stress, w, base)
    acc[:C] = mean
    acc[C] = _resolved(mload, mean)
    rec_a[i] = acc[C]
    rec_mean[i] = mean
    pos[0] = i + 1
    pos[1] = i + 1
    pos[2] += 1
    pos[3] += rec_size[i]
    pos[4] = -1


@nb.njit(cache=True)
def avalanche(mstep, form, stress, base, w, mload, dgamma, vbar, system, law, cache,
              work, events, ev_aval, rng, record, max_sweeps, pos, acc, rec_b, rec_a, rec_size,
              rec_pl, rec_mean, par=0, rows=None):  # pragma: no cover - compiled
    """Relax ``stress`` loaded to step ``k_base + mstep`` and book it (as in 2D).

    ``rows`` (:func:`femplastic.weakplane.relax3d.row_bundle` with the loading's bounds,
    :func:`~femplastic.weakplane.relax3d.rows_load`): the scans skip the rows the drift bounds
    prove stable. A new avalanche starts from ``base + x v`` over the relaxed ``base`` of the
    last scans, booked as such; the full checks of the trigger search in between only refresh
    cached references, which the rows' proofs (exact margins at the old references, whose
    systems have not changed) do not use. The scans find the same active systems as
    :func:`~femplastic.weakplane.relax3d.find_active`; only the cache may differ.
    """
    n, C = stress.shape
    ev_n = events[5]
    if pos[4] < 0:
        i = pos[0] + mstep - 1
        if record and ev_n[0] + n > events[0].shape[0]:
            return RECORD_FULL
        rec_b[i] = acc[C] + (mstep * dgamma) * vbar
        pos[4] = i
        rec_size[i] = 0
        acc[C + 1:] = 0.0
    i = pos[4]
    n0 = ev_n[0]
    if rows is not None:
        if mstep > 0:
            rows_book_load(rows, mstep * dgamma)
        else:  # resuming an avalanche: rescan
            rows[2][:] = -np.inf
    status, n_ev, pl = relax_fused(form, stress, system, law, cache, work, events, rng, record,
                                   max_sweeps, False, w, par, rows)
    rec_size[i] += n_ev
    for c in range(C):
        acc[C + 1 + c] += pl[c]
    if record:
        for j in range(n0, min(ev_n[0], ev_aval.shape[0])):
            ev_aval[j] = pos[2]
    if status == 2:
        return RECORD_FULL
    if status == 1:
        return SWEEP_LIMIT
    book_relaxed(stress, base, w, mload, pos, acc, rec_a, rec_size, rec_pl, rec_mean, par)
    return DONE


@nb.njit(cache=True)
def aqs_chunk(form, stress, base, v, ivm, w, mload, dgamma, vbar, vmean, n_steps,
              event_driven, system, law, cache, work, events, ev_aval, rng, record, max_sweeps,
              max_aval, pos, acc, rec_b, rec_a, rec_size, rec_pl, rec_mean,
              par=0):  # pragma: no cover
    """Up to ``max_aval`` avalanches of the AQS loop (as :func:`.aqs_kernels.aqs_chunk`)."""
    _, tauc, nv, _, _, _, _ = system
    _, law_f, _, _ = law
    sref, pref, margin = cache
    rows = row_bundle(form[0], form[1], law_f, stress)  # drift bounds of this chunk
    rows_load(rows, v)
    for e in range(ivm.shape[0]):
        if ivm[e] < np.inf and ivm[e] > rows[5][6]:
            rows[5][6] = ivm[e]
    n_done = 0
    n_quiet = 0
    while True:
        if pos[4] >= 0:
            st = avalanche(0, form, stress, base, w, mload, dgamma, vbar, system, law,
                           cache, work, events, ev_aval, rng, record, max_sweeps, pos, acc,
                           rec_b, rec_a, rec_size, rec_pl, rec_mean, par, rows)
            if st != DONE:
                return st
            n_done += 1
        if pos[1] >= n_steps:
            return DONE
        if n_done >= max_aval:
            return CHUNK_END
        mstep = find_next(base, v, ivm, dgamma, n_steps, event_driven, nv, tauc, law_f, sref,
                          pref, margin, pos, stress, par, rows)
        if not event_driven and mstep == 0:
            fill_quiet(pos[1] + 1, pos, acc, dgamma, vbar, vmean, rec_b, rec_a, rec_mean)
            n_quiet += 1
            if n_quiet >= QUIET_PER_AVALANCHE * max_aval and pos[1] < n_steps:
                return CHUNK_END
            continue
        if mstep > n_steps - pos[0]:
            fill_quiet(n_steps, pos, acc, dgamma, vbar, vmean, rec_b, rec_a, rec_mean)
            return DONE
        fill_quiet(pos[0] + mstep - 1, pos, acc, dgamma, vbar, vmean, rec_b, rec_a, rec_mean)
        st = avalanche(mstep, form, stress, base, w, mload, dgamma, vbar, system, law,
                       cache, work, events, ev_aval, rng, record, max_sweeps, pos, acc, rec_b,
                       rec_a, rec_size, rec_pl, rec_mean, par, rows)
        if st != DONE:
            return st
        n_done += 1

"""Compiled AQS loop of the 3D weak-plane model: the 3D form of :mod:`.aqs_kernels`.

Same functions, signatures, statuses and records as :mod:`femplastic.weakplane.aqs_kernels`,
over the 3D relaxation kernels (:mod:`femplastic.weakplane.relax3d`); the Python driver
(:func:`femplastic.weakplane.drivers.aqs.aqs`) calls either through
:func:`femplastic.weakplane.dimension.kernels_of`. With ``C = stress.shape[1]`` (6) stress
components the small arrays are laid out as in 2D: ``acc = [base_mean (C), base_ext,
open_pl (C)]`` and ``rec_mean`` (n_steps, C). The loop, :func:`find_next`, :func:`avalanche`
and :func:`fill_quiet` are :mod:`femplastic.weakplane.aqs_loop`'s (written once for 2D and 3D)
with this module's 3D pieces: the relaxation kernel, the trigger search and the drift bounds
of the rows (``relax``, ``next_unstable``, ``trial_stress``, ``any_active``, ``rows_init``,
``rows_book``) and the close of an avalanche (:func:`book_relaxed`, the 3D mean).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ..numba_cache import refresh as _refresh_numba_caches
from . import aqs_loop as _L
from .aqs_loop import CHUNK_END, DONE, RECORD_FULL, SWEEP_LIMIT, fill_quiet
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
# the pieces of the shared loop (femplastic.weakplane.aqs_loop asks for these names)
__all__ += ["any_active", "next_unstable", "relax", "rows_book", "rows_init", "trial_stress"]
relax = relax_fused  # (its signature takes the rows)

_BLOCK = 64  # elements per partial sum of the mean (summed in element order, then blocks)


@nb.njit(cache=True)
def find_next(base, v, ivm, dgamma, n_steps, event_driven, nv, tauc, law_f, sref, pref,
              margin, pos, trial, par=0):  # pragma: no cover - compiled
    """The next load step (from ``k_base``) whose loaded stress is unstable (as in 2D).

    The arguments (``par`` included) of :func:`femplastic.weakplane.aqs_kernels.find_next`.
    """
    return _L.find_next(3, (
        base, v, ivm, dgamma, n_steps, event_driven, nv, tauc, law_f, sref, pref, margin, pos,
        trial, par), None)


@nb.njit(cache=True)
def next_unstable(base, v, dgamma, nv, tauc, law_f, sref, pref, margin, cap, trial, ivm, par,
                  rows):  # pragma: no cover - compiled
    """The event-driven trigger search; with ``rows`` (the compiled loop's drift bounds) over them.

    :func:`femplastic.weakplane.relax3d.next_unstable_step_rows` (the same step as
    :func:`~femplastic.weakplane.relax3d.next_unstable_step`, its form without rows).
    """
    if rows is not None:
        return next_unstable_step_rows(base, v, dgamma, nv, tauc, law_f, sref, pref, margin,
                                       cap, trial, ivm, rows)
    return next_unstable_step(base, v, dgamma, nv, tauc, law_f, sref, pref, margin, cap, trial,
                              ivm, par)


@nb.njit(cache=True)
def rows_init(form, law_f, stress, v, ivm):  # pragma: no cover - compiled
    """The drift bounds of a chunk of the loop (:func:`~.relax3d.row_bundle`) along ``v``."""
    rows = row_bundle(form[0], form[1], law_f, stress)
    rows_load(rows, v)
    for e in range(ivm.shape[0]):
        if ivm[e] < np.inf and ivm[e] > rows[5][6]:
            rows[5][6] = ivm[e]
    return rows


@nb.njit(cache=True)
def rows_book(rows, mstep, dgamma):  # pragma: no cover - compiled
    """Before an avalanche's relaxation: its load ``mstep dgamma`` booked in ``rows``.

    A new avalanche starts from ``base + x v`` over the relaxed ``base`` of the last scans,
    booked as such; the full checks of the trigger search in between only refresh cached
    references, which the rows' proofs (exact margins at the old references, whose systems
    have not changed) do not use. A resumed avalanche (``mstep = 0``) rescans every row.
    """
    if rows is not None:
        if mstep > 0:
            rows_book_load(rows, mstep * dgamma)
        else:  # resuming an avalanche: rescan
            rows[2][:] = -np.inf


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
              rec_pl, rec_mean, par=0):  # pragma: no cover - compiled
    """Relax ``stress`` loaded to step ``k_base + mstep`` and book it (as in 2D).

    The arguments (``par`` included) and statuses of
    :func:`femplastic.weakplane.aqs_kernels.avalanche`. The compiled loop's avalanches also
    book its rows' drift bounds (:func:`rows_book`), so that the scans skip the rows they
    prove stable; they find the same active systems as
    :func:`~femplastic.weakplane.relax3d.find_active` (only the cache may differ).
    """
    return _L.avalanche(3, (
        mstep, form, stress, base, w, mload, dgamma, vbar, system, law, cache, work, events,
        ev_aval, rng, record, max_sweeps, pos, acc, rec_b, rec_a, rec_size, rec_pl, rec_mean,
        par), None)


@nb.njit(cache=True)
def aqs_chunk(form, stress, base, v, ivm, w, mload, dgamma, vbar, vmean, n_steps,
              event_driven, system, law, cache, work, events, ev_aval, rng, record, max_sweeps,
              max_aval, pos, acc, rec_b, rec_a, rec_size, rec_pl, rec_mean,
              par=0):  # pragma: no cover
    """Up to ``max_aval`` avalanches of the AQS loop (as :func:`.aqs_kernels.aqs_chunk`).

    The arguments (``par`` included) and statuses of the 2D function; the loop keeps the
    drift bounds of the rows (:func:`rows_init`) for its trigger searches and scans.
    """
    return _L.aqs_loop(3, (
        form, stress, base, v, ivm, w, mload, dgamma, vbar, vmean, n_steps, event_driven, system,
        law, cache, work, events, ev_aval, rng, record, max_sweeps, max_aval, pos, acc, rec_b,
        rec_a, rec_size, rec_pl, rec_mean, par))

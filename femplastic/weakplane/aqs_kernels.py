"""Compiled AQS loop: load steps, trigger searches and avalanches without Python in between.

:func:`aqs_chunk` runs the athermal quasistatic protocol of
:func:`femplastic.weakplane.drivers.aqs.aqs` for up to ``max_aval`` avalanches per call and
writes the per-step records in place; the driver calls it in chunks (for progress, Ctrl-C,
checkpoints and growing the event record between chunks). Its parts are also called one by
one (:func:`find_next`, :func:`fill_quiet`, :func:`avalanche`) by the driver's Python loop
when a ``stop_when`` callback must see every step, so both give the same records; a
propagator without a numba form relaxes from Python and closes its avalanches with
:func:`book_relaxed`, with the same arithmetic. The loop, :func:`find_next` and
:func:`avalanche` are written once for 2D and 3D (:mod:`femplastic.weakplane.aqs_loop`); this
module holds their 2D pieces (``relax``, ``next_unstable``, ``trial_stress``, ``any_active``,
``book_relaxed``, ``rows_init``, ``rows_book``) and the 2D means.

The loop's position travels in two small arrays:

* ``pos`` (int64, fields :data:`POS`): ``k_base`` steps applied at the base state,
  ``done`` steps recorded, ``n_aval`` avalanches, ``n_events`` slip events, ``open`` the
  step of an avalanche interrupted by a full event record (-1: none);
* ``acc`` (float64, fields :data:`ACC`): ``base_mean`` (3) the weighted mean stress of the
  base state, ``base_ext`` its resolved external stress, ``open_pl`` (3) the weighted
  plastic strain of an interrupted avalanche so far.

Records (shape (n_steps,) unless said): ``rec_b`` resolved stress before the step's
avalanche, ``rec_a`` after, ``rec_size`` events, ``rec_pl`` resolved plastic strain,
``rec_mean`` (n_steps, 3) mean stress after.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ..numba_cache import refresh as _refresh_numba_caches
from . import aqs_loop as _L
from .aqs_loop import CHUNK_END, DONE, QUIET_PER_AVALANCHE, RECORD_FULL, SWEEP_LIMIT, fill_quiet
from .kernels import SCAN_BLOCK, any_active, next_unstable_step, relax_fused, trial_stress

_refresh_numba_caches()  # before any cached kernel loads (see femplastic.numba_cache)

__all__ = ["ACC", "CHUNK_END", "DONE", "POS", "QUIET_PER_AVALANCHE", "RECORD_FULL",
           "SWEEP_LIMIT", "aqs_chunk", "avalanche", "book_relaxed", "fill_quiet", "find_next",
           "weighted_mean"]
# the pieces of the shared loop (femplastic.weakplane.aqs_loop asks for these names)
__all__ += ["any_active", "next_unstable", "relax", "rows_book", "rows_init", "trial_stress"]

#: Fields of ``pos``.
POS = ("k_base", "done", "n_aval", "n_events", "open")
#: Fields of ``acc`` (``base_mean`` and ``open_pl`` take three slots each).
ACC = ("base_mean", "base_mean", "base_mean", "base_ext", "open_pl", "open_pl", "open_pl")

# the statuses of aqs_chunk and avalanche (DONE, CHUNK_END, RECORD_FULL, SWEEP_LIMIT = 0, 1,
# 2, 3) and QUIET_PER_AVALANCHE are femplastic.weakplane.aqs_loop's, re-exported

#: Weight of the mean-and-copy pass among the threaded regions: threaded when
#: ``n >= PAR_MEAN * par`` (``par`` the grain, :func:`femplastic.threads.parallel_for`).
PAR_MEAN = 8


@nb.njit(cache=True)
def find_next(base, v, ivm, dgamma, n_steps, event_driven, nv, tauc, law_f, sref, pref,
              margin, pos, trial, par=0):  # pragma: no cover - compiled
    """The next load step (counted from ``k_base``) whose loaded stress is unstable.

    Event-driven: :func:`~femplastic.weakplane.kernels.next_unstable_step` (analytic, then
    verified with the stepping test); stepping: the step after ``done`` only. Returns
    ``mstep``, with ``trial`` the loaded stress there; ``mstep > n_steps - k_base`` (event
    driven) or ``0`` (stepping, step stable) when there is none. ``par``: the grain of the
    threaded search (0: serial).
    """
    return _L.find_next(2, (base, v, ivm, dgamma, n_steps, event_driven, nv, tauc, law_f,
                            sref, pref, margin, pos, trial, par), None)


@nb.njit(cache=True)
def next_unstable(base, v, dgamma, nv, tauc, law_f, sref, pref, margin, cap, trial, ivm, par,
                  rows):  # pragma: no cover - compiled
    """:func:`~femplastic.weakplane.kernels.next_unstable_step` (``rows`` unused in 2D)."""
    return next_unstable_step(base, v, dgamma, nv, tauc, law_f, sref, pref, margin, cap, trial,
                              ivm, par)


@nb.njit(cache=True)
def relax(form, stress, system, law, cache, work, events, rng, record, max_sweeps,
          thermal_first, wts, par, rows):  # pragma: no cover - compiled
    """:func:`~femplastic.weakplane.kernels.relax_fused` (``rows`` unused in 2D)."""
    return relax_fused(form, stress, system, law, cache, work, events, rng, record, max_sweeps,
                       thermal_first, wts, par)


@nb.njit(cache=True)
def rows_init(form, law_f, stress, v, ivm):  # pragma: no cover - compiled
    """No drift bounds in 2D (the 3D loop's row bundle)."""
    return None


@nb.njit(cache=True)
def rows_book(rows, mstep, dgamma):  # pragma: no cover - compiled
    """No drift bounds to book in 2D."""
    return


@nb.njit(cache=True)
def _resolved(m, s0, s1, s2):  # pragma: no cover - compiled
    """``m : s`` (tensor-Voigt, as :func:`femplastic.fe.elasticity.ddot`)."""
    return m[0] * s0 + m[1] * s1 + 2.0 * m[2] * s2


@nb.njit(cache=True)
def avalanche(mstep, form, stress, base, w, mload, dgamma, vbar, system, law, cache,
              work, events, ev_aval, rng, record, max_sweeps, pos, acc, rec_b, rec_a, rec_size,
              rec_pl, rec_mean, par=0):  # pragma: no cover - compiled
    """Relax ``stress``, loaded to step ``k_base + mstep`` (by :func:`find_next`), and book it.

    With ``pos[4] >= 0`` (an avalanche interrupted by a full record) the relaxation of
    ``stress`` continues instead. Returns :data:`DONE`, :data:`RECORD_FULL` (the event record
    needs room: grow it and call again with the same arguments) or :data:`SWEEP_LIMIT`.
    On :data:`DONE`: the records of the step, ``base`` = the relaxed stress, ``pos`` and
    ``acc`` advanced; ``ev_aval`` holds the avalanche index of each recorded event.
    ``par``: the grain of the threaded scans and updates (0: serial; same bits).
    """
    return _L.avalanche(2, (mstep, form, stress, base, w, mload, dgamma, vbar, system, law,
                            cache, work, events, ev_aval, rng, record, max_sweeps, pos, acc,
                            rec_b, rec_a, rec_size, rec_pl, rec_mean, par), None)


@nb.njit(cache=True)
def _block_sum(stress, w, base, lo, hi, out, j):  # pragma: no cover - compiled
    """``out[j] = sum_{lo <= e < hi} w[e] stress[e]``, in element order.

    Copies the rows to ``base`` when it has them (``base.shape[0] > 0``).
    """
    m0 = 0.0
    m1 = 0.0
    m2 = 0.0
    copy = base.shape[0] > 0
    for e in range(lo, hi):
        if copy:
            base[e, 0] = stress[e, 0]
            base[e, 1] = stress[e, 1]
            base[e, 2] = stress[e, 2]
        m0 += w[e] * stress[e, 0]
        m1 += w[e] * stress[e, 1]
        m2 += w[e] * stress[e, 2]
    out[j, 0] = m0
    out[j, 1] = m1
    out[j, 2] = m2


@nb.njit(cache=True, parallel=True)
def _block_sums_par(stress, w, base, out):  # pragma: no cover - compiled
    """:func:`_block_sum` of every block, blocks on threads."""
    n = stress.shape[0]
    for j in nb.prange(out.shape[0]):
        _block_sum(stress, w, base, j * SCAN_BLOCK, min((j + 1) * SCAN_BLOCK, n), out, j)


@nb.njit(cache=True)
def _mean_copy(stress, w, base, par):  # pragma: no cover - compiled
    """Weighted mean (3,): sums per block of :data:`SCAN_BLOCK` elements, then over blocks.

    The blocks are summed in order, so serial and threaded give the same bits; copies
    ``stress`` to ``base`` too (when ``base`` has rows). Threaded when
    ``n >= PAR_MEAN * par`` (``par`` the grain, 0: serial).
    """
    n = stress.shape[0]
    part = np.empty(((n + SCAN_BLOCK - 1) // SCAN_BLOCK, 3))
    if par > 0 and n >= PAR_MEAN * par:
        _block_sums_par(stress, w, base, part)
    else:
        for j in range(part.shape[0]):
            _block_sum(stress, w, base, j * SCAN_BLOCK, min((j + 1) * SCAN_BLOCK, n), part, j)
    out = np.zeros(3)
    for j in range(part.shape[0]):
        out[0] += part[j, 0]
        out[1] += part[j, 1]
        out[2] += part[j, 2]
    return out


@nb.njit(cache=True)
def weighted_mean(stress, w, par=0):  # pragma: no cover - compiled
    """``sum_e w[e] stress[e]`` (3,), summed as :func:`book_relaxed` sums it (same bits)."""
    return _mean_copy(stress, w, np.empty((0, 3)), par)


@nb.njit(cache=True)
def book_relaxed(stress, base, w, mload, pos, acc, rec_a, rec_size, rec_pl, rec_mean,
                 par=0):  # pragma: no cover - compiled
    """Close the avalanche of step ``pos[4]``: records, ``base`` = ``stress``, advance ``pos``.

    ``rec_size[i]`` and the weighted plastic strain ``acc[4:7]`` must hold the avalanche's.
    The mean is summed as :func:`weighted_mean` sums it (same bits), fused with the copy;
    ``par``: the grain of the threaded form (same bits).
    """
    i = pos[4]
    rec_pl[i] = _resolved(mload, acc[4], acc[5], acc[6])
    mean = _mean_copy(stress, w, base, par)
    acc[:3] = mean
    acc[3] = _resolved(mload, mean[0], mean[1], mean[2])
    rec_a[i] = acc[3]
    rec_mean[i] = mean
    pos[0] = i + 1
    pos[1] = i + 1
    pos[2] += 1
    pos[3] += rec_size[i]
    pos[4] = -1


@nb.njit(cache=True)
def aqs_chunk(form, stress, base, v, ivm, w, mload, dgamma, vbar, vmean, n_steps,
              event_driven, system, law, cache, work, events, ev_aval, rng, record, max_sweeps,
              max_aval, pos, acc, rec_b, rec_a, rec_size, rec_pl, rec_mean,
              par=0):  # pragma: no cover
    """Up to ``max_aval`` avalanches of the AQS loop (all steps when the loading ends first).

    Returns :data:`DONE` (all ``n_steps`` recorded), :data:`CHUNK_END` (``max_aval``
    avalanches done, or in the stepping mode ``QUIET_PER_AVALANCHE * max_aval`` elastic
    steps), :data:`RECORD_FULL` (grow the event record and call again: the loop
    resumes where it stopped) or :data:`SWEEP_LIMIT`. Same draws and records as the Python
    loop of :func:`find_next`, :func:`fill_quiet` and :func:`avalanche`; ``par`` is the grain
    of their threaded regions (0: serial; same bits).
    """
    return _L.aqs_loop(2, (form, stress, base, v, ivm, w, mload, dgamma, vbar, vmean, n_steps,
                           event_driven, system, law, cache, work, events, ev_aval, rng,
                           record, max_sweeps, max_aval, pos, acc, rec_b, rec_a, rec_size,
                           rec_pl, rec_mean, par))

"""The compiled AQS loop, written once for 2D and 3D.

:func:`aqs_loop` runs the athermal quasistatic protocol for up to ``max_aval`` avalanches
per call; its public forms are ``aqs_chunk`` of :mod:`femplastic.weakplane.aqs_kernels` (2D,
which documents the loop, its arguments, ``pos``, ``acc`` and records) and of
:mod:`femplastic.weakplane.aqs_kernels3d` (3D), which call it with the literal ``dim`` 2 or
3; :func:`find_next` and :func:`avalanche` likewise stand behind both modules' functions of
those names, :func:`fill_quiet` is both modules' own. What differs between dimensions are
small pieces of those two modules chosen while the loop is compiled
(:func:`femplastic.weakplane.bydim.by_dim`): the relaxation kernel (``relax``), the trigger
search (``next_unstable``) and stepping test (``trial_stress``, ``any_active``), the close
of an avalanche (``book_relaxed``: the dimension's summation of the mean stress) and, in 3D
only, the drift bounds of the rows that let the scans skip stable elements (``rows_init``,
``rows_book``; ``None`` and no-ops in 2D).
"""

from __future__ import annotations

import numba as nb

from ..numba_cache import refresh as _refresh_numba_caches
from .bydim import by_dim

_refresh_numba_caches()  # before any cached kernel loads (see femplastic.numba_cache)

__all__ = ["CHUNK_END", "DONE", "QUIET_PER_AVALANCHE", "RECORD_FULL", "SWEEP_LIMIT",
           "aqs_loop", "avalanche", "fill_quiet", "find_next"]

#: Statuses of the AQS loop and of :func:`avalanche`.
DONE, CHUNK_END, RECORD_FULL, SWEEP_LIMIT = 0, 1, 2, 3
#: In the stepping mode, elastic steps that count as one avalanche for a chunk's length.
QUIET_PER_AVALANCHE = 256

_D2, _D3 = ".aqs_kernels", ".aqs_kernels3d"
# the dimension's pieces and their argument counts (see femplastic.weakplane.bydim)
relax = by_dim("relax", _D2, _D3, 14)
next_unstable = by_dim("next_unstable", _D2, _D3, 14)
trial_stress = by_dim("trial_stress", _D2, _D3, 5)
any_active = by_dim("any_active", _D2, _D3, 7)
book_relaxed = by_dim("book_relaxed", _D2, _D3, 11)
rows_init = by_dim("rows_init", _D2, _D3, 5)
rows_book = by_dim("rows_book", _D2, _D3, 3)


@nb.njit(cache=True)
def fill_quiet(upto, pos, acc, dgamma, vbar, vmean, rec_b, rec_a, rec_mean):  # pragma: no cover
    """Record the elastic steps ``done + 1 .. upto`` (1-based) from the affine formula.

    The loaded stress at step ``j`` is ``base + (j - k_base) dgamma v``, so its resolved
    and mean values are ``base_ext + x vbar`` and ``base_mean + x vmean`` with
    ``x = (j - k_base) dgamma`` (``acc = [base_mean (C), base_ext, ...]``,
    ``C = rec_mean.shape[1]``). Advances ``pos[1]`` (done) to ``upto``.
    """
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
def find_next(dim, args, rows):  # pragma: no cover - compiled
    """The next load step (counted from ``k_base``) whose loaded stress is unstable.

    ``args``: the arguments of :func:`.aqs_kernels.find_next` (a tuple, ``par`` included);
    ``rows``: the 3D loop's drift bounds (``None``: none). Event-driven: the dimension's
    ``next_unstable`` (analytic, then verified with the stepping test); stepping: the step
    after ``done`` only. Returns ``mstep``, with ``trial`` the loaded stress there.
    """
    (base, v, ivm, dgamma, n_steps, event_driven, nv, tauc, law_f, sref, pref, margin, pos,
     trial, par) = args
    nb.literally(dim)
    k_base = pos[0]
    if event_driven:
        return next_unstable(dim, base, v, dgamma, nv, tauc, law_f, sref, pref, margin,
                             n_steps - k_base, trial, ivm, par, rows)
    mstep = pos[1] + 1 - k_base
    trial_stress(dim, base, v, mstep * dgamma, trial, par)
    if any_active(dim, trial, nv, tauc, law_f, sref, pref, margin):
        return mstep
    return 0


@nb.njit(cache=True)
def avalanche(dim, args, rows):  # pragma: no cover - compiled
    """Relax ``stress``, loaded to step ``k_base + mstep`` (by :func:`find_next`), and book it.

    ``args``: the arguments of :func:`.aqs_kernels.avalanche` (a tuple, ``par`` included),
    which documents the statuses; ``rows``: the 3D loop's drift bounds (``None``: none), booked
    with the load (``rows_book``) before the relaxation.
    """
    (mstep, form, stress, base, w, mload, dgamma, vbar, system, law, cache, work, events,
     ev_aval, rng, record, max_sweeps, pos, acc, rec_b, rec_a, rec_size, rec_pl, rec_mean,
     par) = args
    nb.literally(dim)
    n, C = stress.shape
    ev_n = events[5]
    if pos[4] < 0:
        i = pos[0] + mstep - 1
        if record and ev_n[0] + n > events[0].shape[0]:
            return RECORD_FULL  # a first sweep might not fit; nothing done yet
        rec_b[i] = acc[C] + (mstep * dgamma) * vbar
        pos[4] = i
        rec_size[i] = 0
        for c in range(C):
            acc[C + 1 + c] = 0.0
    i = pos[4]
    n0 = ev_n[0]
    rows_book(dim, rows, mstep, dgamma)
    status, n_ev, pl = relax(dim, form, stress, system, law, cache, work, events, rng, record,
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
    book_relaxed(dim, stress, base, w, mload, pos, acc, rec_a, rec_size, rec_pl, rec_mean, par)
    return DONE


@nb.njit(cache=True)
def aqs_loop(dim, args):  # pragma: no cover - compiled
    """Up to ``max_aval`` avalanches of the AQS loop (all steps when the loading ends first).

    ``dim``: a literal 2 or 3; ``args``: the arguments of :func:`.aqs_kernels.aqs_chunk` (a
    tuple, ``par`` included), whose statuses it returns.
    """
    nb.literally(dim)
    (form, stress, base, v, ivm, w, mload, dgamma, vbar, vmean, n_steps, event_driven, system,
     law, cache, work, events, ev_aval, rng, record, max_sweeps, max_aval, pos, acc, rec_b,
     rec_a, rec_size, rec_pl, rec_mean, par) = args
    _, tauc, nv, _, _, _, _ = system
    _, law_f, _, _ = law
    sref, pref, margin = cache
    rows = rows_init(dim, form, law_f, stress, v, ivm)  # 3D: drift bounds of this chunk
    n_done = 0
    n_quiet = 0
    while True:
        if pos[4] >= 0:  # finish an avalanche interrupted by a full record
            st = avalanche(dim, (0, form, stress, base, w, mload, dgamma, vbar, system, law,
                                 cache, work, events, ev_aval, rng, record, max_sweeps, pos,
                                 acc, rec_b, rec_a, rec_size, rec_pl, rec_mean, par), rows)
            if st != DONE:
                return st
            n_done += 1
        if pos[1] >= n_steps:
            return DONE
        if n_done >= max_aval:
            return CHUNK_END
        mstep = find_next(dim, (base, v, ivm, dgamma, n_steps, event_driven, nv, tauc, law_f,
                                sref, pref, margin, pos, stress, par),
                          rows)  # loads stress to the step
        if not event_driven and mstep == 0:
            fill_quiet(pos[1] + 1, pos, acc, dgamma, vbar, vmean, rec_b, rec_a, rec_mean)
            n_quiet += 1
            if n_quiet >= QUIET_PER_AVALANCHE * max_aval and pos[1] < n_steps:
                return CHUNK_END  # long elastic stretches step by step: back to Python too
            continue
        if mstep > n_steps - pos[0]:
            fill_quiet(n_steps, pos, acc, dgamma, vbar, vmean, rec_b, rec_a, rec_mean)
            return DONE
        fill_quiet(pos[0] + mstep - 1, pos, acc, dgamma, vbar, vmean, rec_b, rec_a, rec_mean)
        st = avalanche(dim, (mstep, form, stress, base, w, mload, dgamma, vbar, system, law,
                             cache, work, events, ev_aval, rng, record, max_sweeps, pos, acc,
                             rec_b, rec_a, rec_size, rec_pl, rec_mean, par), rows)
        if st != DONE:
            return st
        n_done += 1

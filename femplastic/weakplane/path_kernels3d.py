"""Compiled loops of the 3D cyclic (strain-path) and stress-controlled drivers.

The 3D form of :mod:`femplastic.weakplane.path_kernels`: the same functions, signatures,
statuses, ``ipos`` fields and avalanche-log rows, over the 3D relaxation kernels
(:mod:`femplastic.weakplane.relax3d`), with ``C = 6`` stress components. ``facc`` holds six
plastic-strain slots, hence its own field indices (:data:`FACC`). The weighted means and
elastic energies are plain loops (3D has only the compiled loop, so there is no numpy
evaluation to match bit for bit); the ``gemv``, ``ddot`` arguments are accepted and unused.

The protocol is the 2D one, shared with :mod:`~femplastic.weakplane.path_kernels` through
:mod:`~femplastic.weakplane.path_rows` (the ``ipos`` fields and statuses, the step positions
:func:`_x_of`, the record rows and their :data:`ROWS_FULL` stops): streamed step records (the
record arrays hold rows ``ipos[R0] ..``; :data:`ROWS_FULL` when they are full), a trigger
search kept pending across a stop (``ipos[PEND]`` ...), the fast trigger verification
(:func:`_trigger`) and the stress ramp given as ``ramp = (s0, sense dstress, stress_end)``.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ..numba_cache import refresh as _refresh_numba_caches
from .aqs_kernels3d import weighted_mean
from .path_rows import (  # the loop state and rows shared with 2D
    A0,
    CHUNK_END,
    DONE,
    DONE_,
    FLOWED,
    IPOS,
    K_,
    KB,
    LOG_FULL,
    NAVAL,
    NEV,
    NREC,
    OJ,
    ONEV,
    OPEN,
    OPEN_NEXT,
    OSW,
    PEND,
    PJ,
    R0,
    RECORD_FULL,
    ROWS_FULL,
    SWEEP_LIMIT,
    _pos,
    _x_of,
    count_sweep,
    log_row,
    open_avalanche,
    pend_trigger,
    strain_row,
    strain_steps,
    stress_steps,
)
from .relax3d import SCAN_BLOCK, _analytic_step, any_active, relax_fused, trial_stress
from .relax3d import _active_at as _element_active

_refresh_numba_caches()  # before any cached kernel loads (see femplastic.numba_cache)

__all__ = ["CHUNK_END", "DONE", "FACC", "IPOS", "LOG_FULL", "NREC", "RECORD_FULL",
           "ROWS_FULL", "SWEEP_LIMIT", "path_chunk", "stress_chunk"]

#: Fields of ``facc``: as in 2D with six plastic-strain slots.
FACC = ("base_ext", "w_before", "pl0", "pl1", "pl2", "pl3", "pl4", "pl5", "s_before", "g_now",
        "g_start", "target", "g_base")
BEXT, WB, PL0, SB, GNOW, GSTART, TGT, GBASE = 0, 1, 2, 8, 9, 10, 11, 12
_VW = np.array([1.0, 1.0, 1.0, 2.0, 2.0, 2.0])


@nb.njit(cache=True)
def _wmean(w, x, out):  # pragma: no cover - compiled
    """``out = w @ x`` for ``w`` (n,), ``x`` (n, C)."""
    out[:] = 0.0
    for e in range(x.shape[0]):
        for c in range(x.shape[1]):
            out[c] += w[e] * x[e, c]


@nb.njit(cache=True)
def _resolved(m, s):  # pragma: no cover - compiled
    """``m : s`` (tensor-Voigt weights 1, 1, 1, 2, 2, 2)."""
    acc = 0.0
    for c in range(6):
        acc += _VW[c] * m[c] * s[c]
    return acc


@nb.njit(cache=True)
def _energy(stress, prestress, eps_pl, E, w):  # pragma: no cover - compiled
    """:func:`femplastic.weakplane.energy.elastic_energy` (per unit volume) in loops."""
    ext = 0.0
    internal = 0.0
    for e in range(stress.shape[0]):
        ie = 0.0
        for c in range(6):
            h = 0.5 * (prestress[e, c] + stress[e, c])
            ext += w[e] * _VW[c] * E[c] * h
            ie += _VW[c] * eps_pl[e, c] * h
        internal += w[e] * ie
    return ext - internal


@nb.njit(cache=True)
def _sweeps(form, stress, system, law, cache, work, events, ev_x, rng, record, max_sweeps,
            ipos, facc, par, stress_mode, gemv, w, m, v, vbar, gamma_limit):  # pragma: no cover
    """Continue the open avalanche one synchronous sweep at a time (``relax_sweeps``).

    Returns :data:`DONE` (relaxed; ``ipos[FLOWED] = 1`` when, under stress control, the
    strain passed ``gamma_limit``), :data:`RECORD_FULL` or :data:`SWEEP_LIMIT`.
    """
    n = stress.shape[0]
    ev_n = events[5]
    m3 = np.empty(6)
    while True:
        if ipos[OSW] >= max_sweeps:
            return SWEEP_LIMIT
        if record and ev_n[0] + n > events[0].shape[0]:
            return RECORD_FULL
        j0 = ev_n[0]
        status, count, _ = relax_fused(form, stress, system, law, cache, work, events, rng,
                                       record, 1, False, None, par)
        if status == 0:
            return DONE
        count_sweep(ipos, ev_x, j0, ev_n[0], record, count)
        if stress_mode:  # back on the target stress: a uniform reloading along v
            _wmean(w, stress, m3)
            dg = (facc[TGT] - _resolved(m, m3)) / vbar
            for e in range(n):
                for c in range(6):
                    stress[e, c] = stress[e, c] + dg * v[e, c]
            facc[GNOW] += dg
            if abs(facc[GNOW]) > gamma_limit:
                ipos[FLOWED] = 1
                return DONE


@nb.njit(cache=True)
def _active_at(base, v, x, trial, nv, tauc, law_f, sref, pref, margin):  # pragma: no cover
    trial_stress(base, v, x, trial)
    return any_active(trial, nv, tauc, law_f, sref, pref, margin)


@nb.njit(cache=True)
def _trigger(mode, cur, base, vt, vload, d, a, b, sense, n_steps, p_last, nv, tauc, law_f,
             sref, pref, margin, cap, ivm, trial):  # pragma: no cover - compiled
    """The drivers' trigger search: the first step ``m`` (``cap + 1``: none up to ``cap``).

    As :func:`femplastic.weakplane.path_kernels._trigger` over the 3D kernels: the analytic
    step of ``cur`` along ``vload``, accepted without a scan when the element found to
    trigger is active at ``m`` and no element whose lower bound is below
    ``(m - 1) d (1 + 1e-9) + 1e-12 max(1 / vmax)`` is active at ``m - 1`` (each tested on
    ``base + x vt``, :func:`_x_of`), else moved step by step with the scan of the whole
    trial stress.
    """
    n = cur.shape[0]
    mm, e_best, lbs, bmin, iv = _analytic_step(cur, vload, d, nv, tauc, law_f, sref, pref,
                                               margin, cap + 1, ivm)
    if mm <= cap and e_best >= 0 and _element_active(
            e_best, base, vt, _x_of(mode, mm, a, b, sense, n_steps, p_last, d), trial, nv,
            tauc, law_f, sref, pref, margin):
        if mm == 1:
            return mm
        big = 0.0  # the largest finite 1 / vmax
        for e in range(n):
            if iv[e] < np.inf and iv[e] > big:
                big = iv[e]
        thr = ((mm - 1) * d) * (1.0 + 1e-9) + 1e-12 * big
        x1 = _x_of(mode, mm - 1, a, b, sense, n_steps, p_last, d)
        calm = True
        for j in range(bmin.shape[0]):
            if not calm:
                break
            if bmin[j] > thr:
                continue
            for e in range(j * SCAN_BLOCK, min((j + 1) * SCAN_BLOCK, n)):
                if lbs[e] <= thr and _element_active(e, base, vt, x1, trial, nv, tauc, law_f,
                                                     sref, pref, margin):
                    calm = False
                    break
        if calm:
            return mm
    # the general case: the step-by-step test
    while mm <= cap and not _active_at(base, vt,
                                       _x_of(mode, mm, a, b, sense, n_steps, p_last, d),
                                       trial, nv, tauc, law_f, sref, pref, margin):
        mm += 1
    while mm > 1 and _active_at(base, vt, _x_of(mode, mm - 1, a, b, sense, n_steps, p_last, d),
                                trial, nv, tauc, law_f, sref, pref, margin):
        mm -= 1
    return mm


@nb.njit(cache=True)
def path_chunk(k_to, max_aval, form, gemv, ddot, stress, prestress, base, v, vneg, ivm, w, m,
               E0, dgamma, vbar, system, law, cache, work, events, ev_x, rng, record,
               max_sweeps, ipos, facc, rec_pos, rec_s, rec_sb, rec_size, rec_pl, alog,
               cur, trial, half, vec, par=False):  # pragma: no cover - compiled
    """Drive the strain path from ``ipos[K_]`` to ``k_to`` (``CompiledPath.leg``), in chunks.

    As :func:`femplastic.weakplane.path_kernels.path_chunk`: returns :data:`DONE` (at
    ``k_to``), :data:`CHUNK_END` (``max_aval`` avalanches done), :data:`RECORD_FULL` (grow
    the event record), :data:`LOG_FULL` (``alog``, holding rows ``ipos[A0] ..``, is
    full: grow it, or hand its rows over and move ``ipos[A0]``), :data:`ROWS_FULL` (the step records
    ``rec_*`` hold rows ``ipos[R0] ..`` up to their length: hand them over and move
    ``ipos[R0]``) or :data:`SWEEP_LIMIT`; after any but the last, call again with the same
    ``k_to``. A call may stop between a trigger search and its avalanche (``ipos[PEND]``).
    ``cur``, ``trial`` (n, 6) are work arrays (``half``, ``vec`` unused).
    """
    theta, tauc, nv, _, _, eps_pl, _ = system
    _, law_f, _, _ = law
    sref, pref, margin = cache
    n_done = 0
    E = np.empty(6)
    m3 = np.empty(6)
    while True:
        if ipos[OPEN] == 1:
            j = ipos[OJ]
            st = _sweeps(form, stress, system, law, cache, work, events, ev_x, rng, record,
                         max_sweeps, ipos, facc, par, False, gemv, w, m, v, vbar, 0.0)
            if st != DONE:
                return st
            # close the avalanche as StrainPath._avalanche does
            for c in range(6):
                E[c] = E0[c] + (j * dgamma) * m[c]
            mean = weighted_mean(stress, w)
            for e in range(stress.shape[0]):
                for c in range(6):
                    base[e, c] = stress[e, c]
            ipos[KB] = j
            facc[BEXT] = _resolved(m, mean)
            _wmean(w, eps_pl, m3)
            for c in range(6):
                m3[c] = m3[c] - facc[PL0 + c]
            plast = _resolved(m, m3)
            i = strain_row(ipos, j, facc[SB], facc[BEXT], plast, rec_pos, rec_s, rec_sb,
                           rec_size, rec_pl)
            diss = facc[WB] - _energy(stress, prestress, eps_pl, E, w)
            log_row(alog, ipos, i, j * dgamma, facc[SB], facc[BEXT], plast, diss)
            ipos[NEV] += ipos[ONEV]
            ipos[OPEN] = 0
            n_done += 1
        if ipos[PEND] == 0:
            k = ipos[K_]
            if k == k_to:
                return DONE
            if n_done >= max_aval:
                return CHUNK_END
            if ipos[NAVAL] - ipos[A0] >= alog.shape[0]:
                return LOG_FULL
            sense = 1 if k_to > k else -1
            vload = v if sense > 0 else vneg
            kb = ipos[KB]
            cap = (k_to - k) * sense
            trial_stress(base, v, (k - kb) * dgamma, cur)
            mm = _trigger(0, cur, base, v, vload, dgamma, k, kb, sense, 0, 0.0, nv, tauc,
                          law_f, sref, pref, margin, cap, ivm, trial)
            pend_trigger(ipos, k, k_to, sense, mm, cap)
        # elastic steps k + sense .. upto on the line from the base (as many as fit)
        st = strain_steps(ipos, facc[BEXT], dgamma, vbar, rec_pos, rec_s, rec_sb, rec_size,
                          rec_pl)
        if st != OPEN_NEXT:
            return st
        # open the avalanche at j
        kb = ipos[KB]
        j = ipos[PJ]
        x = (j - kb) * dgamma
        trial_stress(base, v, x, stress)
        for c in range(6):
            E[c] = E0[c] + (j * dgamma) * m[c]
        facc[SB] = facc[BEXT] + x * vbar
        facc[WB] = _energy(stress, prestress, eps_pl, E, w)
        _wmean(w, eps_pl, m3)
        for c in range(6):
            facc[PL0 + c] = m3[c]
        open_avalanche(ipos, j)


@nb.njit(cache=True)
def stress_chunk(n_steps, p_last, max_aval, form, gemv, ddot, stress, prestress, base, v,
                 vload, ivm, w, m, E0, dgeq, vbar, sense, ramp, gamma_limit, system, law,
                 cache, work, events, ev_x, rng, record, max_sweeps, ipos, facc, out_s, out_g,
                 jump, sizes, alog, trial, half, vec, par=False):  # pragma: no cover - compiled
    """The stress ramp of ``stress_controlled`` up to step ``n_steps``, in chunks.

    As :func:`femplastic.weakplane.path_kernels.stress_chunk`: step ``j`` sits at position
    ``j`` on the lattice of increments, the last at ``p_last``; ``ramp = (s0, sense dstress,
    stress_end)``: the target of step ``j`` is ``s0 + (sense dstress) j``, the last
    ``stress_end``. ``ipos[DONE_]`` counts the steps recorded, ``ipos[KB]`` is the step of
    the last avalanche (``j_base``), ``facc[GBASE]`` its strain and ``facc[BEXT]`` its
    resolved stress. Returns :data:`DONE` (all steps recorded, or ``ipos[FLOWED]``),
    :data:`CHUNK_END`, :data:`RECORD_FULL`, :data:`LOG_FULL`, :data:`ROWS_FULL` (the records
    ``out_s`` ... hold steps ``ipos[R0] ..`` up to their length: hand them over, move
    ``ipos[R0]``) or :data:`SWEEP_LIMIT`.
    """
    theta, tauc, nv, _, _, eps_pl, _ = system
    _, law_f, _, _ = law
    sref, pref, margin = cache
    n_done = 0
    E = np.empty(6)
    m3 = np.empty(6)
    while True:
        if ipos[OPEN] == 1:
            j = ipos[OJ]
            st = _sweeps(form, stress, system, law, cache, work, events, ev_x, rng, record,
                         max_sweeps, ipos, facc, par, True, gemv, w, m, v, vbar, gamma_limit)
            if st != DONE:
                return st
            i = j - 1
            r = i - ipos[R0]
            g_end = facc[GNOW]
            g_start = facc[GSTART]
            tgt = facc[TGT]
            for c in range(6):
                E[c] = E0[c] + g_end * m[c]
            _wmean(w, stress, m3)
            base_ext = _resolved(m, m3)
            out_s[r] = base_ext
            out_g[r] = g_end
            jump[r] = g_end - g_start
            sizes[r] = ipos[ONEV]
            _wmean(w, eps_pl, m3)
            for c in range(6):
                m3[c] = m3[c] - facc[PL0 + c]
            plast = _resolved(m, m3)
            h_after = _energy(stress, prestress, eps_pl, E, w) - tgt * g_end
            log_row(alog, ipos, i, g_start, tgt, base_ext, plast, facc[WB] - h_after)
            ipos[NEV] += ipos[ONEV]
            ipos[OPEN] = 0
            ipos[DONE_] = j
            n_done += 1
            facc[BEXT] = base_ext
            if ipos[FLOWED] == 1:
                return DONE
            for e in range(stress.shape[0]):
                for c in range(6):
                    base[e, c] = stress[e, c]
            ipos[KB] = j
            facc[GBASE] = g_end
        if ipos[PEND] == 0:
            done = ipos[DONE_]
            if done >= n_steps:
                return DONE
            if n_done >= max_aval:
                return CHUNK_END
            if ipos[NAVAL] - ipos[A0] >= alog.shape[0]:
                return LOG_FULL
            jb = ipos[KB]
            cap = n_steps - done
            mm = _trigger(1, base, base, vload, vload, dgeq, done, jb, 1, n_steps, p_last, nv,
                          tauc, law_f, sref, pref, margin, cap, ivm, trial)
            ipos[PJ] = min(done + mm, n_steps + 1)
            ipos[PEND] = 1
        # elastic steps done + 1 .. j - 1 on the line from the last avalanche (as many as fit)
        st = stress_steps(ipos, n_steps, p_last, dgeq, sense, facc[GBASE], facc[BEXT], vbar,
                          out_s, out_g, jump, sizes)
        if st != OPEN_NEXT:
            return st
        j = ipos[PJ]
        jb = ipos[KB]
        # open the avalanche of step j
        i = j - 1
        pj = _pos(j, n_steps, p_last)
        trial_stress(base, vload, (pj - jb) * dgeq, stress)
        g_start = facc[GBASE] + sense * (pj - jb) * dgeq
        tgt = ramp[2] if j == n_steps else ramp[0] + ramp[1] * float(j)
        for c in range(6):
            E[c] = E0[c] + g_start * m[c]
        facc[WB] = _energy(stress, prestress, eps_pl, E, w) - tgt * g_start
        _wmean(w, eps_pl, m3)
        for c in range(6):
            facc[PL0 + c] = m3[c]
        facc[GSTART] = g_start
        facc[GNOW] = g_start
        facc[TGT] = tgt
        open_avalanche(ipos, j)

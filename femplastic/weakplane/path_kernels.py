"""Compiled loops of the cyclic (strain-path) and stress-controlled drivers.

:func:`path_chunk` drives one monotonic leg of :class:`~femplastic.weakplane.drivers.path.
StrainPath` and :func:`stress_chunk` the ramp of
:func:`~femplastic.weakplane.drivers.stress.stress_controlled`, for up to ``max_aval``
avalanches per call, with exactly the arithmetic of those drivers' Python loops (the same
trigger search and verification, the same sweep-by-sweep relaxation
:func:`~femplastic.weakplane.kernels.relax_fused` with one sweep per call, the same
formulas), so the records, avalanche logs, event logs and final states are bitwise the
Python loops'. The weighted means and elastic energies, which numpy evaluates with its BLAS,
are evaluated here with numpy's own BLAS routines (``gemv``, ``ddot``: ctypes handles from
:func:`femplastic.weakplane.npblas.routines` passed in as arguments), hence the same bits.

Loop position (``ipos``, int64, fields :data:`IPOS`) and open-avalanche values (``facc``,
float64, fields :data:`FACC`) travel in two small arrays so that a call can stop anywhere (a
full event record or avalanche log, the end of a chunk) and the next call continue.
The loop state, statuses and record-row writes are shared with the 3D loops
(:mod:`femplastic.weakplane.path_rows`).
Avalanche log rows (``alog``, (capacity, 8), avalanche ``ipos[A0] + r`` in row ``r``):
``step, gamma, stress_before, stress_after, size, sweeps, plastic, dissipation`` (the integer
columns exact in float64). Event extras (``ev_x``, (capacity, 2) int64): global sweep index
and avalanche row of every recorded event.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ..numba_cache import refresh as _refresh_numba_caches
from .aqs_kernels import weighted_mean
from .kernels import SCAN_BLOCK, _analytic_step, _max, any_active, relax_fused, trial_stress
from .kernels import _active_at as _element_active
from .path_rows import (  # the loop state and rows shared with 3D (IPOS, statuses: here too)
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

_refresh_numba_caches()  # before any cached kernel loads (see femplastic.numba_cache)

__all__ = ["FACC", "IPOS", "NREC", "ROWS_FULL", "energy_blas", "path_chunk", "stress_chunk",
           "wmean_blas", "xdot_blas", "xmat3_blas", "xmat3_inline"]

#: Fields of ``facc``: base_ext, energy (or enthalpy) before the open avalanche, its weighted
#: plastic strain before (3), its stress before, the strain now and at its start
#: (stress control), its target stress (stress control), g_base (stress control).
FACC = ("base_ext", "w_before", "pl0", "pl1", "pl2", "s_before", "g_now", "g_start", "target",
        "g_base")
BEXT, WB, PL0, SB, GNOW, GSTART, TGT, GBASE = 0, 1, 2, 5, 6, 7, 8, 9

_VW = np.array([1.0, 1.0, 2.0])


@nb.njit(cache=True)
def wmean_blas(gemv, w, x, out):  # pragma: no cover - compiled
    """``out = w @ x`` for ``w`` (n,), ``x`` (n, 3) C-contiguous, as numpy's matmul calls BLAS."""
    gemv(101, 112, x.shape[0], 3, 1.0, x.ctypes.data, 3, w.ctypes.data, 1, 0.0,
         out.ctypes.data, 1)


@nb.njit(cache=True)
def xmat3_blas(gemv, x, c, out):  # pragma: no cover - compiled
    """``out = x @ c`` for ``x`` (n, 3) C-contiguous and ``c`` (3,), as numpy's matmul."""
    gemv(102, 112, 3, x.shape[0], 1.0, x.ctypes.data, 3, c.ctypes.data, 1, 0.0,
         out.ctypes.data, 1)


@nb.njit(cache=True)
def xdot_blas(ddot, a, b):  # pragma: no cover - compiled
    """``a @ b`` of two contiguous vectors, as numpy's dot."""
    return ddot(a.shape[0], a.ctypes.data, 1, b.ctypes.data, 1)


@nb.njit(cache=True)
def _resolved(m, s):  # pragma: no cover - compiled
    """``m : s`` (as :func:`femplastic.fe.elasticity.ddot`)."""
    return m[0] * s[0] + m[1] * s[1] + 2.0 * m[2] * s[2]


@nb.njit(cache=True)
def xmat3_inline(x, out):  # pragma: no cover - compiled
    """``out = x @ (1, 1, 2)`` for ``x`` (n, 3), summed as BLAS's ``gemv`` sums it.

    The products by 1 and 2 are exact, so each row's value is fixed by the order of its
    three-term sum: ``((0 + x0) + x1) + 2 x2``, from a zero accumulator as the reference
    ``gemv`` (signed zeros included). :func:`femplastic.weakplane.npblas.routines` checks
    this against numpy's ``x @ c`` bitwise before the compiled drivers use it.
    """
    for e in range(x.shape[0]):
        out[e] = ((0.0 + x[e, 0]) + x[e, 1]) + 2.0 * x[e, 2]


@nb.njit(cache=True)
def _energy_rows(mode, stress, base, v, x, prestress, eps_pl, half, vec):  # pragma: no cover
    """The elementwise pass of :func:`energy_blas`, fused with what the loops do next to it.

    ``half = (prestress + stress) / 2`` and ``vec = (eps_pl * half) @ (1, 1, 2)`` (the
    three-term sums of :func:`xmat3_inline`). ``mode`` 1: the stress is first loaded,
    ``stress = base + x v`` (as :func:`~femplastic.weakplane.kernels.trial_stress`); 2: the
    stress is also copied to ``base``; 0: neither. The same operations per row as the
    separate passes, so the same bits.
    """
    for e in range(stress.shape[0]):
        if mode == 1:
            s0 = base[e, 0] + x * v[e, 0]
            s1 = base[e, 1] + x * v[e, 1]
            s2 = base[e, 2] + x * v[e, 2]
            stress[e, 0] = s0
            stress[e, 1] = s1
            stress[e, 2] = s2
        else:
            s0 = stress[e, 0]
            s1 = stress[e, 1]
            s2 = stress[e, 2]
            if mode == 2:
                base[e, 0] = s0
                base[e, 1] = s1
                base[e, 2] = s2
        h0 = 0.5 * (prestress[e, 0] + s0)
        h1 = 0.5 * (prestress[e, 1] + s1)
        h2 = 0.5 * (prestress[e, 2] + s2)
        half[e, 0] = h0
        half[e, 1] = h1
        half[e, 2] = h2
        vec[e] = ((0.0 + eps_pl[e, 0] * h0) + eps_pl[e, 1] * h1) + 2.0 * (eps_pl[e, 2] * h2)


@nb.njit(cache=True)
def energy_blas(gemv, ddot, stress, prestress, eps_pl, E, w, half, vec, mode, base, v,
                x):  # pragma: no cover - compiled
    """:func:`femplastic.weakplane.energy.elastic_energy` with the same operations (same bits).

    ``half`` (n, 3) and ``vec`` (n,) are work arrays; every array C-contiguous. One pass
    (:func:`_energy_rows`) forms ``half = (prestress + stress) / 2`` and ``vec = (eps_pl *
    half) @ (1, 1, 2)`` (the elementwise products and the three-term sums of
    :func:`xmat3_inline`, numpy's ``gemv`` bits), then ``w @ half`` and ``w @ vec`` go
    through numpy's BLAS. ``mode`` 1 loads the stress first (``stress = base + x v``), 2
    copies it to ``base`` in the same pass, 0 does neither (``base``, ``v``, ``x`` unused).
    """
    _energy_rows(mode, stress, base, v, x, prestress, eps_pl, half, vec)
    mean_half = np.empty(3)
    wmean_blas(gemv, w, half, mean_half)
    ev = np.empty(3)
    for c in range(3):
        ev[c] = E[c] * _VW[c]
    ext = xdot_blas(ddot, ev, mean_half)
    internal = xdot_blas(ddot, w, vec)
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
    m3 = np.empty(3)
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
            wmean_blas(gemv, w, stress, m3)
            dg = (facc[TGT] - _resolved(m, m3)) / vbar
            for e in range(n):
                stress[e, 0] = stress[e, 0] + dg * v[e, 0]
                stress[e, 1] = stress[e, 1] + dg * v[e, 1]
                stress[e, 2] = stress[e, 2] + dg * v[e, 2]
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
             sref, pref, margin, cap, ivm, par, trial):  # pragma: no cover - compiled
    """The drivers' trigger search: the first step ``m`` (``cap + 1``: none up to ``cap``).

    The analytic step of ``cur`` (the stress now) along ``vload`` (``next_trigger``), then
    moved until step ``m`` is active and ``m - 1`` is not, each tested on ``base + x(m) vt``
    (:func:`_x_of`), exactly as the Python loops. The usual case is settled without scanning
    every element, as in :func:`femplastic.weakplane.kernels.next_unstable_step`: ``m`` is
    active if the element found to trigger is, and ``m - 1`` is stable if no element whose
    lower bound is below ``(m - 1) d (1 + 1e-9) + 1e-12 max(1 / vmax)`` is active there (every
    other element is stable by its bound with a margin far above round-off, the difference
    between ``cur + (m - 1) d vload`` and ``base + x(m - 1) vt`` included), so the scans
    would find the same ``m``.
    """
    n = cur.shape[0]
    mm, e_best, lbs, bmin, iv = _analytic_step(cur, vload, d, nv, tauc, law_f, sref, pref,
                                               margin, cap + 1, ivm, par)
    if mm <= cap and e_best >= 0 and _element_active(
            e_best, base, vt, _x_of(mode, mm, a, b, sense, n_steps, p_last, d), trial, nv,
            tauc, law_f, sref, pref, margin):
        if mm == 1:
            return mm
        thr = ((mm - 1) * d) * (1.0 + 1e-9) + 1e-12 * _max(iv)
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
    # the general case: the step-by-step test of the Python loops
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
    """Drive the strain path from ``ipos[K_]`` to ``k_to`` (``StrainPath.leg``), in chunks.

    Returns :data:`DONE` (at ``k_to``), :data:`CHUNK_END` (``max_aval`` avalanches done),
    :data:`RECORD_FULL` (grow the event record, or hand it over), :data:`LOG_FULL` (``alog``,
    holding rows ``ipos[A0] ..``, is full: grow it, or hand its rows over and move
    ``ipos[A0]``),
    :data:`ROWS_FULL` (the step records ``rec_*`` hold rows ``ipos[R0] ..`` up to their
    length: hand them over and move ``ipos[R0]``) or :data:`SWEEP_LIMIT`; after any but the
    last, call again with the same ``k_to``. A call may stop between a trigger search and
    the avalanche it found (``ipos[PEND]``); the next goes on from there, so where the
    calls stop never changes the trajectory.
    ``cur``, ``trial``, ``half`` (n, 3) and ``vec`` (n,) are work arrays.
    """
    theta, tauc, nv, _, _, eps_pl, _ = system
    _, law_f, _, _ = law
    sref, pref, margin = cache
    n_done = 0
    E = np.empty(3)
    m3 = np.empty(3)
    while True:
        if ipos[OPEN] == 1:
            j = ipos[OJ]
            st = _sweeps(form, stress, system, law, cache, work, events, ev_x, rng, record,
                         max_sweeps, ipos, facc, par, False, gemv, w, m, v, vbar, 0.0)
            if st != DONE:
                return st
            # close the avalanche as StrainPath._avalanche does
            for c in range(3):
                E[c] = E0[c] + (j * dgamma) * m[c]
            mean = weighted_mean(stress, w)
            ipos[KB] = j  # (base = stress: copied in the energy's pass below)
            facc[BEXT] = _resolved(m, mean)
            wmean_blas(gemv, w, eps_pl, m3)
            for c in range(3):
                m3[c] = m3[c] - facc[PL0 + c]
            plast = _resolved(m, m3)
            i = strain_row(ipos, j, facc[SB], facc[BEXT], plast, rec_pos, rec_s, rec_sb,
                           rec_size, rec_pl)
            diss = facc[WB] - energy_blas(gemv, ddot, stress, prestress, eps_pl, E, w, half,
                                          vec, 2, base, v, 0.0)
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
                          law_f, sref, pref, margin, cap, ivm, par, trial)
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
        for c in range(3):
            E[c] = E0[c] + (j * dgamma) * m[c]
        facc[SB] = facc[BEXT] + x * vbar
        # stress = base + x v (trial_stress), loaded in the energy's pass
        facc[WB] = energy_blas(gemv, ddot, stress, prestress, eps_pl, E, w, half, vec, 1, base,
                               v, x)
        wmean_blas(gemv, w, eps_pl, m3)
        facc[PL0] = m3[0]
        facc[PL0 + 1] = m3[1]
        facc[PL0 + 2] = m3[2]
        open_avalanche(ipos, j)


@nb.njit(cache=True)
def stress_chunk(n_steps, p_last, max_aval, form, gemv, ddot, stress, prestress, base, v,
                 vload, ivm, w, m, E0, dgeq, vbar, sense, ramp, gamma_limit, system, law,
                 cache, work, events, ev_x, rng, record, max_sweeps, ipos, facc, out_s, out_g,
                 jump, sizes, alog, trial, half, vec, par=False):  # pragma: no cover - compiled
    """The stress ramp of ``stress_controlled`` up to step ``n_steps``, in chunks.

    Step ``j`` sits at position ``j`` on the lattice of increments, the last at ``p_last``
    (a clipped last increment). ``ramp = (s0, sense dstress, stress_end)``: the target of
    step ``j`` is ``s0 + (sense dstress) j`` (numpy's ``s0 + sense * dstress * arange``), the
    last ``stress_end``.
    ``ipos[DONE_]`` counts the steps recorded, ``ipos[KB]`` is the step of the last
    avalanche (``j_base``), ``facc[GBASE]`` its strain and ``facc[BEXT]`` its resolved
    stress. Returns :data:`DONE` (all steps recorded, or ``ipos[FLOWED]``), :data:`CHUNK_END`,
    :data:`RECORD_FULL`, :data:`LOG_FULL`, :data:`ROWS_FULL` (the records ``out_s`` ...
    hold steps ``ipos[R0] ..`` up to their length: hand them over, move ``ipos[R0]``) or
    :data:`SWEEP_LIMIT`, as :func:`path_chunk`.
    """
    theta, tauc, nv, _, _, eps_pl, _ = system
    _, law_f, _, _ = law
    sref, pref, margin = cache
    n_done = 0
    E = np.empty(3)
    m3 = np.empty(3)
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
            for c in range(3):
                E[c] = E0[c] + g_end * m[c]
            wmean_blas(gemv, w, stress, m3)
            base_ext = _resolved(m, m3)
            out_s[r] = base_ext
            out_g[r] = g_end
            jump[r] = g_end - g_start
            sizes[r] = ipos[ONEV]
            wmean_blas(gemv, w, eps_pl, m3)
            for c in range(3):
                m3[c] = m3[c] - facc[PL0 + c]
            plast = _resolved(m, m3)
            # (base = stress unless the strain ran away: copied in the energy's pass)
            h_after = energy_blas(gemv, ddot, stress, prestress, eps_pl, E, w, half, vec,
                                  0 if ipos[FLOWED] == 1 else 2, base, v, 0.0) - tgt * g_end
            log_row(alog, ipos, i, g_start, tgt, base_ext, plast, facc[WB] - h_after)
            ipos[NEV] += ipos[ONEV]
            ipos[OPEN] = 0
            ipos[DONE_] = j
            n_done += 1
            facc[BEXT] = base_ext
            if ipos[FLOWED] == 1:
                return DONE
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
                          tauc, law_f, sref, pref, margin, cap, ivm, par, trial)
            ipos[PJ] = min(done + mm, n_steps + 1)
            ipos[PEND] = 1
        # elastic steps done + 1 .. j - 1 on the line from the last avalanche (as many as fit)
        st = stress_steps(ipos, n_steps, p_last, dgeq, sense, facc[GBASE], facc[BEXT], vbar,
                          out_s, out_g, jump, sizes)
        if st != OPEN_NEXT:
            return st
        # open the avalanche of step j
        j = ipos[PJ]
        jb = ipos[KB]
        i = j - 1
        pj = _pos(j, n_steps, p_last)
        g_start = facc[GBASE] + sense * (pj - jb) * dgeq
        tgt = ramp[2] if j == n_steps else ramp[0] + ramp[1] * float(j)
        for c in range(3):
            E[c] = E0[c] + g_start * m[c]
        # stress = base + ((pj - jb) dgeq) vload (trial_stress), loaded in the energy's pass
        facc[WB] = energy_blas(gemv, ddot, stress, prestress, eps_pl, E, w, half, vec, 1, base,
                               vload, (pj - jb) * dgeq) - tgt * g_start
        wmean_blas(gemv, w, eps_pl, m3)
        facc[PL0] = m3[0]
        facc[PL0 + 1] = m3[1]
        facc[PL0 + 2] = m3[2]
        facc[GSTART] = g_start
        facc[GNOW] = g_start
        facc[TGT] = tgt
        open_avalanche(ipos, j)

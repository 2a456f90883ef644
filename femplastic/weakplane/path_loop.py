"""The compiled cyclic (strain-path) and stress-controlled loops, written once for 2D and 3D.

:func:`path_loop` drives one monotonic leg of the strain path and :func:`stress_loop` the
stress ramp; their public forms are ``path_chunk`` and ``stress_chunk`` of
:mod:`femplastic.weakplane.path_kernels` (2D, bitwise the drivers' Python loops) and
:mod:`femplastic.weakplane.path_kernels3d` (3D), which call these with the literal ``dim``
2 or 3. What differs between dimensions is a handful of small pieces of those two modules,
chosen while the loop is compiled (:func:`femplastic.weakplane.bydim.by_dim`): the
relaxation kernel and scans (``relax_fused``, ``any_active``, ``trial_stress``, the analytic
step and its element test), the weighted means, the resolved stress ``m : s``, the elastic
energy (2D: numpy's BLAS routines, for numpy's bits) and the uniform reloading of the stress
ramp. The bookkeeping (``ipos``, statuses, record rows) is
:mod:`femplastic.weakplane.path_rows`'.

``facc`` (float64) holds ``base_ext, w_before``, the open avalanche's weighted plastic strain
before (``C`` slots, ``C = stress.shape[1]``), ``s_before, g_now, g_start, target, g_base``
(:func:`facc_fields`).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ..numba_cache import refresh as _refresh_numba_caches
from .bydim import by_dim
from .path_rows import (
    A0,
    CHUNK_END,
    DONE,
    DONE_,
    FLOWED,
    K_,
    KB,
    LOG_FULL,
    NAVAL,
    NEV,
    OJ,
    ONEV,
    OPEN,
    OPEN_NEXT,
    OSW,
    PEND,
    PJ,
    R0,
    RECORD_FULL,
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

__all__ = ["BEXT", "PL0", "WB", "facc_fields", "path_loop", "stress_loop"]

#: ``facc`` fields before the plastic-strain slots; after them (at ``PL0 + C + i``):
#: ``s_before, g_now, g_start, target, g_base`` (offsets :data:`SB_` ... :data:`GBASE_`).
BEXT, WB, PL0 = 0, 1, 2
SB_, GNOW_, GSTART_, TGT_, GBASE_ = range(5)


def facc_fields(C: int) -> tuple[str, ...]:
    """Names of the ``facc`` fields for ``C`` stress components (3 in 2D, 6 in 3D).

    Parameters
    ----------
    C : int
        Stress components.

    Returns
    -------
    tuple of str
        ``base_ext, w_before, pl0 .. pl{C-1}, s_before, g_now, g_start, target, g_base``.
    """
    return (("base_ext", "w_before") + tuple(f"pl{c}" for c in range(C))
            + ("s_before", "g_now", "g_start", "target", "g_base"))


_D2, _D3 = ".path_kernels", ".path_kernels3d"
# the dimension's pieces and their argument counts (see femplastic.weakplane.bydim)
relax_fused = by_dim("relax_fused", _D2, _D3, 13)
trial_stress = by_dim("trial_stress", _D2, _D3, 4)
any_active = by_dim("any_active", _D2, _D3, 7)
analytic_step = by_dim("analytic_step", _D2, _D3, 12)
element_active = by_dim("element_active", _D2, _D3, 11)
iv_max = by_dim("iv_max", _D2, _D3, 1)
scan_block = by_dim("SCAN_BLOCK", _D2, _D3, 0)
weighted_mean = by_dim("weighted_mean", _D2, _D3, 2)
wmean = by_dim("wmean", _D2, _D3, 4)
resolved = by_dim("resolved", _D2, _D3, 2)
energy = by_dim("energy", _D2, _D3, 13)
reload = by_dim("reload", _D2, _D3, 3)


@nb.njit(cache=True)
def _sweeps(dim, form, stress, system, law, cache, work, events, ev_x, rng, record,
            max_sweeps, ipos, facc, par, stress_mode, gemv, w, m, v, vbar,
            gamma_limit):  # pragma: no cover - compiled
    """Continue the open avalanche one synchronous sweep at a time (``relax_sweeps``).

    Returns :data:`DONE` (relaxed; ``ipos[FLOWED] = 1`` when, under stress control, the
    strain passed ``gamma_limit``), :data:`RECORD_FULL` or :data:`SWEEP_LIMIT`.
    """
    n, C = stress.shape
    gnow = PL0 + C + GNOW_
    ev_n = events[5]
    m3 = np.empty(C)
    while True:
        if ipos[OSW] >= max_sweeps:
            return SWEEP_LIMIT
        if record and ev_n[0] + n > events[0].shape[0]:
            return RECORD_FULL
        j0 = ev_n[0]
        status, count, _ = relax_fused(dim, form, stress, system, law, cache, work, events,
                                       rng, record, 1, False, None, par)
        if status == 0:
            return DONE
        count_sweep(ipos, ev_x, j0, ev_n[0], record, count)
        if stress_mode:  # back on the target stress: a uniform reloading along v
            wmean(dim, gemv, w, stress, m3)
            dg = (facc[PL0 + C + TGT_] - resolved(dim, m, m3)) / vbar
            reload(dim, stress, dg, v)
            facc[gnow] += dg
            if abs(facc[gnow]) > gamma_limit:
                ipos[FLOWED] = 1
                return DONE


@nb.njit(cache=True)
def _active_at(dim, base, v, x, trial, nv, tauc, law_f, sref, pref,
               margin):  # pragma: no cover - compiled
    trial_stress(dim, base, v, x, trial)
    return any_active(dim, trial, nv, tauc, law_f, sref, pref, margin)


@nb.njit(cache=True)
def _trigger(dim, mode, cur, base, vt, vload, d, a, b, sense, n_steps, p_last, system, law,
             cache, cap, ivm, par, trial):  # pragma: no cover - compiled
    """The drivers' trigger search: the first step ``m`` (``cap + 1``: none up to ``cap``).

    The analytic step of ``cur`` (the stress now) along ``vload`` (``next_trigger``), then
    moved until step ``m`` is active and ``m - 1`` is not, each tested on ``base + x(m) vt``
    (:func:`~femplastic.weakplane.path_rows._x_of`), exactly as the Python loops. The usual
    case is settled without scanning every element, as in
    :func:`femplastic.weakplane.kernels.next_unstable_step`: ``m`` is active if the element
    found to trigger is, and ``m - 1`` is stable if no element whose lower bound is below
    ``(m - 1) d (1 + 1e-9) + 1e-12 max(1 / vmax)`` is active there (every other element is
    stable by its bound with a margin far above round-off, the difference between
    ``cur + (m - 1) d vload`` and ``base + x(m - 1) vt`` included), so the scans would find
    the same ``m``. The largest ``1 / vmax`` is the dimension's (``iv_max``).
    """
    _, tauc, nv, _, _, _, _ = system
    _, law_f, _, _ = law
    sref, pref, margin = cache
    n = cur.shape[0]
    blk = scan_block(dim)
    mm, e_best, lbs, bmin, iv = analytic_step(dim, cur, vload, d, nv, tauc, law_f, sref, pref,
                                              margin, cap + 1, ivm, par)
    if mm <= cap and e_best >= 0 and element_active(
            dim, e_best, base, vt, _x_of(mode, mm, a, b, sense, n_steps, p_last, d), trial,
            nv, tauc, law_f, sref, pref, margin):
        if mm == 1:
            return mm
        thr = ((mm - 1) * d) * (1.0 + 1e-9) + 1e-12 * iv_max(dim, iv)
        x1 = _x_of(mode, mm - 1, a, b, sense, n_steps, p_last, d)
        calm = True
        for j in range(bmin.shape[0]):
            if not calm:
                break
            if bmin[j] > thr:
                continue
            for e in range(j * blk, min((j + 1) * blk, n)):
                if lbs[e] <= thr and element_active(dim, e, base, vt, x1, trial, nv, tauc,
                                                    law_f, sref, pref, margin):
                    calm = False
                    break
        if calm:
            return mm
    # the general case: the step-by-step test of the Python loops
    while mm <= cap and not _active_at(dim, base, vt,
                                       _x_of(mode, mm, a, b, sense, n_steps, p_last, d),
                                       trial, nv, tauc, law_f, sref, pref, margin):
        mm += 1
    while mm > 1 and _active_at(dim, base, vt,
                                _x_of(mode, mm - 1, a, b, sense, n_steps, p_last, d),
                                trial, nv, tauc, law_f, sref, pref, margin):
        mm -= 1
    return mm


@nb.njit(cache=True)
def _macro(E, E0, g, m):  # pragma: no cover - compiled
    """``E = E0 + g m``: the imposed mean strain at strain ``g`` along the loading ``m``."""
    for c in range(E.shape[0]):
        E[c] = E0[c] + g * m[c]


@nb.njit(cache=True)
def _plastic_open(dim, gemv, w, eps_pl, facc, m3):  # pragma: no cover - compiled
    """At an avalanche's opening: its weighted plastic strain ``w @ eps_pl`` to ``facc``."""
    wmean(dim, gemv, w, eps_pl, m3)
    for c in range(m3.shape[0]):
        facc[PL0 + c] = m3[c]


@nb.njit(cache=True)
def _plastic_close(dim, gemv, w, eps_pl, m, facc, m3):  # pragma: no cover - compiled
    """At its close: the resolved plastic strain of the avalanche, ``m : (w @ eps_pl - before)``."""
    wmean(dim, gemv, w, eps_pl, m3)
    for c in range(m3.shape[0]):
        m3[c] = m3[c] - facc[PL0 + c]
    return resolved(dim, m, m3)


@nb.njit(cache=True)
def _stop(at_end, n_done, max_aval, ipos, alog):  # pragma: no cover - compiled
    """Before a trigger search: whether the loop stops (:data:`OPEN_NEXT`: it goes on).

    :data:`DONE` at the end of the path, :data:`CHUNK_END` after ``max_aval`` avalanches,
    :data:`LOG_FULL` when ``alog`` has no room.
    """
    if at_end:
        return DONE
    if n_done >= max_aval:
        return CHUNK_END
    if ipos[NAVAL] - ipos[A0] >= alog.shape[0]:
        return LOG_FULL
    return OPEN_NEXT


@nb.njit(cache=True)
def path_loop(dim, args):  # pragma: no cover - compiled
    """Drive the strain path from ``ipos[K_]`` to ``k_to`` (``StrainPath.leg``), in chunks.

    ``dim``: a literal 2 or 3; ``args``: the arguments of :func:`.path_kernels.path_chunk`
    (a tuple: the dimensions' entry points pass theirs on), whose statuses it returns.
    """
    (k_to, max_aval, form, gemv, ddot, stress, prestress, base, v, vneg, ivm, w, m, E0, dgamma,
     vbar, system, law, cache, work, events, ev_x, rng, record, max_sweeps, ipos, facc, rec_pos,
     rec_s, rec_sb, rec_size, rec_pl, alog, cur, trial, half, vec, par) = args
    nb.literally(dim)
    eps_pl = system[5]
    C = stress.shape[1]
    sb = PL0 + C + SB_
    n_done = 0
    E = np.empty(C)
    m3 = np.empty(C)
    while True:
        if ipos[OPEN] == 1:
            j = ipos[OJ]
            st = _sweeps(dim, form, stress, system, law, cache, work, events, ev_x, rng,
                         record, max_sweeps, ipos, facc, par, False, gemv, w, m, v, vbar, 0.0)
            if st != DONE:
                return st
            # close the avalanche as StrainPath._avalanche does
            _macro(E, E0, j * dgamma, m)
            mean = weighted_mean(dim, stress, w)
            ipos[KB] = j  # (base = stress: copied in the energy's pass below)
            facc[BEXT] = resolved(dim, m, mean)
            plast = _plastic_close(dim, gemv, w, eps_pl, m, facc, m3)
            i = strain_row(ipos, j, facc[sb], facc[BEXT], plast, rec_pos, rec_s, rec_sb,
                           rec_size, rec_pl)
            diss = facc[WB] - energy(dim, gemv, ddot, stress, prestress, eps_pl, E, w, half,
                                     vec, 2, base, v, 0.0)
            log_row(alog, ipos, i, j * dgamma, facc[sb], facc[BEXT], plast, diss)
            ipos[NEV] += ipos[ONEV]
            ipos[OPEN] = 0
            n_done += 1
        if ipos[PEND] == 0:
            k = ipos[K_]
            st = _stop(k == k_to, n_done, max_aval, ipos, alog)
            if st != OPEN_NEXT:
                return st
            sense = 1 if k_to > k else -1
            vload = v if sense > 0 else vneg
            kb = ipos[KB]
            cap = (k_to - k) * sense
            trial_stress(dim, base, v, (k - kb) * dgamma, cur)
            mm = _trigger(dim, 0, cur, base, v, vload, dgamma, k, kb, sense, 0, 0.0, system, law,
                          cache, cap, ivm, par, trial)
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
        _macro(E, E0, j * dgamma, m)
        facc[sb] = facc[BEXT] + x * vbar
        # stress = base + x v (trial_stress), loaded in the energy's pass
        facc[WB] = energy(dim, gemv, ddot, stress, prestress, eps_pl, E, w, half, vec, 1,
                          base, v, x)
        _plastic_open(dim, gemv, w, eps_pl, facc, m3)
        open_avalanche(ipos, j)


@nb.njit(cache=True)
def stress_loop(dim, args):  # pragma: no cover - compiled
    """The stress ramp of ``stress_controlled`` up to step ``n_steps``, in chunks.

    ``dim``: a literal 2 or 3; ``args``: the arguments of :func:`.path_kernels.stress_chunk`
    (a tuple), whose statuses it returns.
    """
    (n_steps, p_last, max_aval, form, gemv, ddot, stress, prestress, base, v, vload, ivm, w, m,
     E0, dgeq, vbar, sense, ramp, gamma_limit, system, law, cache, work, events, ev_x, rng,
     record, max_sweeps, ipos, facc, out_s, out_g, jump, sizes, alog, trial, half, vec,
     par) = args
    nb.literally(dim)
    eps_pl = system[5]
    C = stress.shape[1]
    gnow = PL0 + C + GNOW_
    gstart = PL0 + C + GSTART_
    tgt_ = PL0 + C + TGT_
    gbase = PL0 + C + GBASE_
    n_done = 0
    E = np.empty(C)
    m3 = np.empty(C)
    while True:
        if ipos[OPEN] == 1:
            j = ipos[OJ]
            st = _sweeps(dim, form, stress, system, law, cache, work, events, ev_x, rng,
                         record, max_sweeps, ipos, facc, par, True, gemv, w, m, v, vbar,
                         gamma_limit)
            if st != DONE:
                return st
            i = j - 1
            r = i - ipos[R0]
            g_end = facc[gnow]
            g_start = facc[gstart]
            tgt = facc[tgt_]
            _macro(E, E0, g_end, m)
            wmean(dim, gemv, w, stress, m3)
            base_ext = resolved(dim, m, m3)
            out_s[r] = base_ext
            out_g[r] = g_end
            jump[r] = g_end - g_start
            sizes[r] = ipos[ONEV]
            plast = _plastic_close(dim, gemv, w, eps_pl, m, facc, m3)
            # (base = stress unless the strain ran away: copied in the energy's pass)
            h_after = energy(dim, gemv, ddot, stress, prestress, eps_pl, E, w, half, vec,
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
            facc[gbase] = g_end
        if ipos[PEND] == 0:
            done = ipos[DONE_]
            st = _stop(done >= n_steps, n_done, max_aval, ipos, alog)
            if st != OPEN_NEXT:
                return st
            jb = ipos[KB]
            cap = n_steps - done
            mm = _trigger(dim, 1, base, base, vload, vload, dgeq, done, jb, 1, n_steps, p_last,
                          system, law, cache, cap, ivm, par, trial)
            ipos[PJ] = min(done + mm, n_steps + 1)
            ipos[PEND] = 1
        # elastic steps done + 1 .. j - 1 on the line from the last avalanche (as many as fit)
        st = stress_steps(ipos, n_steps, p_last, dgeq, sense, facc[gbase], facc[BEXT], vbar,
                          out_s, out_g, jump, sizes)
        if st != OPEN_NEXT:
            return st
        # open the avalanche of step j
        j = ipos[PJ]
        jb = ipos[KB]
        pj = _pos(j, n_steps, p_last)
        g_start = facc[gbase] + sense * (pj - jb) * dgeq
        tgt = ramp[2] if j == n_steps else ramp[0] + ramp[1] * float(j)
        _macro(E, E0, g_start, m)
        # stress = base + ((pj - jb) dgeq) vload (trial_stress), loaded in the energy's pass
        facc[WB] = energy(dim, gemv, ddot, stress, prestress, eps_pl, E, w, half, vec, 1,
                          base, vload, (pj - jb) * dgeq) - tgt * g_start
        _plastic_open(dim, gemv, w, eps_pl, facc, m3)
        facc[gstart] = g_start
        facc[gnow] = g_start
        facc[tgt_] = tgt
        open_avalanche(ipos, j)

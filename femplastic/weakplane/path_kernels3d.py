"""Compiled loops of the 3D cyclic (strain-path) and stress-controlled drivers.

The 3D form of :mod:`femplastic.weakplane.path_kernels`: the same loops
(:mod:`femplastic.weakplane.path_loop`, written once), functions, signatures, statuses,
``ipos`` fields and avalanche-log rows, with this module's 3D pieces: the relaxation
kernels of :mod:`femplastic.weakplane.relax3d`, ``C = 6`` stress components (``facc`` holds
six plastic-strain slots, :data:`FACC`), and weighted means and elastic energies as plain
loops (3D has only the compiled loop, so there is no numpy evaluation to match bit for bit;
the ``gemv``, ``ddot`` arguments are accepted and unused, as are the work arrays ``half``
and ``vec``).

The protocol is the 2D one: streamed step records (the record arrays hold rows
``ipos[R0] ..``; ``ROWS_FULL`` when they are full), a trigger search kept pending across a
stop (``ipos[PEND]`` ...), the fast trigger verification and the stress ramp given as
``ramp = (s0, sense dstress, stress_end)``; the loop state and statuses are
:mod:`femplastic.weakplane.path_rows`' (re-exported here).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ..numba_cache import refresh as _refresh_numba_caches
from .aqs_kernels3d import weighted_mean
from .path_loop import BEXT, facc_fields, path_loop, stress_loop
from .path_rows import *  # noqa: F403 - the loop state and statuses (IPOS, R0, DONE ...)
from .relax3d import SCAN_BLOCK, any_active, relax_fused, trial_stress
from .relax3d import _active_at as element_active
from .relax3d import _analytic_step as _analytic_step3

_refresh_numba_caches()  # before any cached kernel loads (see femplastic.numba_cache)

__all__ = ["BEXT", "FACC", "path_chunk", "stress_chunk"]
# the pieces of the shared loops (femplastic.weakplane.path_loop asks for these names)
__all__ += ["SCAN_BLOCK", "analytic_step", "any_active", "element_active", "energy", "iv_max",
            "relax_fused", "reload", "resolved", "trial_stress", "weighted_mean", "wmean"]

#: Fields of ``facc``: as in 2D with six plastic-strain slots.
FACC = facc_fields(6)
_VW = np.array([1.0, 1.0, 1.0, 2.0, 2.0, 2.0])


@nb.njit(cache=True)
def wmean(gemv, w, x, out):  # pragma: no cover - compiled
    """``out = w @ x`` for ``w`` (n,), ``x`` (n, C) (``gemv`` unused)."""
    out[:] = 0.0
    for e in range(x.shape[0]):
        for c in range(x.shape[1]):
            out[c] += w[e] * x[e, c]


@nb.njit(cache=True)
def resolved(m, s):  # pragma: no cover - compiled
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
def energy(gemv, ddot, stress, prestress, eps_pl, E, w, half, vec, mode, base, v,
           x):  # pragma: no cover - compiled
    """The elastic energy; ``mode`` 1: after loading ``stress = base + x v``, 2: copied to base.

    As :func:`femplastic.weakplane.path_kernels.energy_blas` (``gemv``, ``ddot``, ``half``,
    ``vec`` unused): :func:`_energy` in loops.
    """
    if mode == 1:
        trial_stress(base, v, x, stress)
    elif mode == 2:
        for e in range(stress.shape[0]):
            for c in range(6):
                base[e, c] = stress[e, c]
    return _energy(stress, prestress, eps_pl, E, w)


@nb.njit(cache=True)
def reload(stress, dg, v):  # pragma: no cover - compiled
    """``stress += dg v``: the uniform reloading back on the target stress (stress control)."""
    for e in range(stress.shape[0]):
        for c in range(6):
            stress[e, c] = stress[e, c] + dg * v[e, c]


@nb.njit(cache=True)
def analytic_step(base, v, dgamma, nv, tauc, law_f, sref, pref, margin, m_cap, ivm,
                  par):  # pragma: no cover - compiled
    """:func:`femplastic.weakplane.relax3d._analytic_step` (serial: ``par`` unused)."""
    return _analytic_step3(base, v, dgamma, nv, tauc, law_f, sref, pref, margin, m_cap, ivm)


@nb.njit(cache=True)
def iv_max(iv):  # pragma: no cover - compiled
    """The largest finite ``1 / vmax`` (0 if none), for the trigger's round-off margin."""
    big = 0.0
    for e in range(iv.shape[0]):
        if iv[e] < np.inf and iv[e] > big:
            big = iv[e]
    return big


@nb.njit(cache=True)
def path_chunk(k_to, max_aval, form, gemv, ddot, stress, prestress, base, v, vneg, ivm, w, m,
               E0, dgamma, vbar, system, law, cache, work, events, ev_x, rng, record,
               max_sweeps, ipos, facc, rec_pos, rec_s, rec_sb, rec_size, rec_pl, alog,
               cur, trial, half, vec, par=False):  # pragma: no cover - compiled
    """Drive the strain path from ``ipos[K_]`` to ``k_to``, in chunks (``CompiledPath.leg``).

    The arguments, ``par`` included, and the statuses of
    :func:`femplastic.weakplane.path_kernels.path_chunk`, with (n, 6) stresses; ``half`` and
    ``vec`` are unused.
    """
    return path_loop(3, (
        k_to, max_aval, form, gemv, ddot, stress, prestress, base, v, vneg, ivm, w, m, E0, dgamma,
        vbar, system, law, cache, work, events, ev_x, rng, record, max_sweeps, ipos, facc, rec_pos,
        rec_s, rec_sb, rec_size, rec_pl, alog, cur, trial, half, vec, par))


@nb.njit(cache=True)
def stress_chunk(n_steps, p_last, max_aval, form, gemv, ddot, stress, prestress, base, v,
                 vload, ivm, w, m, E0, dgeq, vbar, sense, ramp, gamma_limit, system, law,
                 cache, work, events, ev_x, rng, record, max_sweeps, ipos, facc, out_s, out_g,
                 jump, sizes, alog, trial, half, vec, par=False):  # pragma: no cover - compiled
    """The stress ramp of ``stress_controlled`` up to step ``n_steps``, in chunks.

    The arguments, ``par`` included, and the statuses of
    :func:`femplastic.weakplane.path_kernels.stress_chunk`, with (n, 6) stresses.
    """
    return stress_loop(3, (
        n_steps, p_last, max_aval, form, gemv, ddot, stress, prestress, base, v, vload, ivm, w, m,
        E0, dgeq, vbar, sense, ramp, gamma_limit, system, law, cache, work, events, ev_x, rng,
        record, max_sweeps, ipos, facc, out_s, out_g, jump, sizes, alog, trial, half, vec, par))

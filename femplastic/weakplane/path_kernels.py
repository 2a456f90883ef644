"""Compiled loops of the cyclic (strain-path) and stress-controlled drivers, 2D.

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

The loops are written once for 2D and 3D (:mod:`femplastic.weakplane.path_loop`); this module
holds their 2D pieces (the names :mod:`~femplastic.weakplane.path_loop` asks for:
``relax_fused``, ``trial_stress``, ``any_active``, ``analytic_step``, ``element_active``,
``iv_max``, ``SCAN_BLOCK``, ``weighted_mean``, ``wmean``, ``resolved``, ``energy``,
``reload``) and the entry points. Loop position (``ipos``, int64, fields :data:`IPOS`) and
open-avalanche values (``facc``, float64, fields :data:`FACC`) travel in two small arrays so
that a call can stop anywhere (a full event record or avalanche log, the end of a chunk) and
the next call continue. The loop state, statuses and record-row writes are shared with 3D
(:mod:`femplastic.weakplane.path_rows`, re-exported here).
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
from .kernels import SCAN_BLOCK, any_active, relax_fused, trial_stress
from .kernels import _active_at as element_active
from .kernels import _analytic_step as analytic_step
from .kernels import _max as iv_max
from .path_loop import BEXT, facc_fields, path_loop, stress_loop
from .path_rows import *  # noqa: F403 - the loop state and statuses (IPOS, R0, DONE ...)

_refresh_numba_caches()  # before any cached kernel loads (see femplastic.numba_cache)

__all__ = ["BEXT", "FACC", "energy_blas", "path_chunk", "stress_chunk", "wmean_blas", "xdot_blas",
           "xmat3_blas", "xmat3_inline"]
# the pieces of the shared loops (femplastic.weakplane.path_loop asks for these names)
__all__ += ["SCAN_BLOCK", "analytic_step", "any_active", "element_active", "energy", "iv_max",
            "relax_fused", "reload", "resolved", "trial_stress", "weighted_mean", "wmean"]

#: Fields of ``facc``: base_ext, energy (or enthalpy) before the open avalanche, its weighted
#: plastic strain before (3), its stress before, the strain now and at its start
#: (stress control), its target stress (stress control), g_base (stress control).
FACC = facc_fields(3)

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


wmean = wmean_blas  # the pieces of femplastic.weakplane.path_loop under their names there
energy = energy_blas


@nb.njit(cache=True)
def resolved(m, s):  # pragma: no cover - compiled
    """``m : s`` (as :func:`femplastic.fe.elasticity.ddot`)."""
    return m[0] * s[0] + m[1] * s[1] + 2.0 * m[2] * s[2]


@nb.njit(cache=True)
def reload(stress, dg, v):  # pragma: no cover - compiled
    """``stress += dg v``: the uniform reloading back on the target stress (stress control)."""
    for e in range(stress.shape[0]):
        stress[e, 0] = stress[e, 0] + dg * v[e, 0]
        stress[e, 1] = stress[e, 1] + dg * v[e, 1]
        stress[e, 2] = stress[e, 2] + dg * v[e, 2]


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
    The loop is :func:`femplastic.weakplane.path_loop.path_loop` with the 2D pieces.
    """
    return path_loop(2, (k_to, max_aval, form, gemv, ddot, stress, prestress, base, v, vneg,
                         ivm, w, m, E0, dgamma, vbar, system, law, cache, work, events, ev_x,
                         rng, record, max_sweeps, ipos, facc, rec_pos, rec_s, rec_sb, rec_size,
                         rec_pl, alog, cur, trial, half, vec, par))


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
    avalanche (``j_base``), the ``facc`` fields ``g_base`` its strain and ``base_ext`` its
    resolved stress. Returns :data:`DONE` (all steps recorded, or ``ipos[FLOWED]``),
    :data:`CHUNK_END`, :data:`RECORD_FULL`, :data:`LOG_FULL`, :data:`ROWS_FULL` (the records
    ``out_s`` ... hold steps ``ipos[R0] ..`` up to their length: hand them over, move
    ``ipos[R0]``) or :data:`SWEEP_LIMIT`, as :func:`path_chunk`. The loop is
    :func:`femplastic.weakplane.path_loop.stress_loop` with the 2D pieces.
    """
    return stress_loop(2, (n_steps, p_last, max_aval, form, gemv, ddot, stress, prestress,
                           base, v, vload, ivm, w, m, E0, dgeq, vbar, sense, ramp, gamma_limit,
                           system, law, cache, work, events, ev_x, rng, record, max_sweeps,
                           ipos, facc, out_s, out_g, jump, sizes, alog, trial, half, vec, par))

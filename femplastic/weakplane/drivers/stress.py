"""Stress-controlled quasistatic loading: increment the external stress, relax at fixed stress.

The resolved external stress ``Sigma_ext = M(alpha) : <Sigma>`` follows an imposed ramp
``Sigma_0 + j dstress``; the strain ``gamma`` along ``M(alpha)`` (in ``E = E_0 + gamma
M(alpha)``) is the output. The other components of ``E`` stay fixed (mixed control).

**Relaxation at fixed stress.** The propagator ``G`` of the model gives the stress change of a
plastic strain increment at *fixed* mean strain; it changes the mean stress by ``<G deps>``
(``-C : <deps>`` for homogeneous elasticity). At fixed external stress the homogeneous strain
must follow: ``dgamma = -M : <G deps> / M : <v>`` with ``v`` the load response
(:meth:`~femplastic.fe.propagators.Propagator.load_response`), i.e. the fixed-stress propagator
is ``G_sigma deps = G deps + v dgamma``: the fixed-strain response plus a uniform (for
homogeneous elasticity) reloading of every element. For ``M(alpha) : C : M(alpha) = G`` and a
slip ``g M(theta)`` in one element of area fraction ``w``, ``dgamma = w g (M(theta) : C :
M(alpha)) / G``: the strain jumps by the resolved plastic strain. It is applied after every
synchronous sweep (:func:`~femplastic.weakplane.drivers.sweeps.relax_sweeps`), so the external
stress is back on its target before the next stability scan; avalanches therefore stop only
while the target is below the flow stress. Above it the strain runs away: the run stops when
``gamma`` exceeds ``gamma_limit`` (``flowed``).

Slip amplitudes keep the fixed-strain bound ``gmax = 2 tau / selfres``: at fixed stress an
element's own relaxation is weaker by ``w (M(theta) : C : M(alpha))^2 / G >= 0`` (the uniform
reloading), so the bound stays conservative and every isolated slip still dissipates.
The potential minimised at fixed stress is the enthalpy ``h = w_el - Sigma_ext gamma`` (elastic
energy :func:`~femplastic.weakplane.energy.elastic_energy` minus the load's work): its drop
is the dissipation of an avalanche (``AvalancheLog.dissipation``).

Between avalanches the stress is affine in the program, so increments that trigger nothing are
skipped exactly (event-driven), as in :func:`femplastic.aqs`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ... import threads, validation
from ...fe.elasticity import ddot, schmid
from .. import kernels as K
from ..energy import elastic_energy
from ..params import ModelParams
from ..state import State
from .path import AvalancheLog
from .sweeps import SweepBuffers, relax_sweeps

__all__ = ["StressRun", "stress_controlled"]


class _Runaway(Exception):
    """The strain passed ``gamma_limit`` during an avalanche."""


@dataclass
class StressRun:
    """Records of :func:`stress_controlled` (one entry per stress increment).

    Attributes
    ----------
    state : State
        Final state (the input is not modified).
    target : (n_steps,) ndarray
        Imposed resolved external stress of each step, LJ units.
    stress : (n_steps,) ndarray
        Resolved external stress after the step's avalanche (equal to ``target`` to
        round-off).
    gamma : (n_steps,) ndarray
        Strain along ``M(alpha)`` since the start, after the step (its avalanche included).
    gamma_jump : (n_steps,) ndarray
        Strain gained during the step's avalanche (0 for elastic steps).
    avalanche_size : (n_steps,) int64 ndarray
        Slip events of the step.
    avalanches : AvalancheLog
        Every avalanche; ``dissipation`` is its enthalpy drop, ``stress_before`` and
        ``stress_after`` both its target.
    flowed : bool
        True when ``gamma`` exceeded ``gamma_limit`` (the last step's avalanche was cut).
    alpha, dstress : float
    """

    state: State
    target: NDArray[np.float64]
    stress: NDArray[np.float64]
    gamma: NDArray[np.float64]
    gamma_jump: NDArray[np.float64]
    avalanche_size: NDArray[np.int64]
    avalanches: AvalancheLog
    flowed: bool
    alpha: float
    dstress: float


def stress_controlled(
    state: State,
    params: ModelParams | None,
    rng: np.random.Generator,
    stress_end: float,
    dstress: float = 1e-3,
    alpha: float = 0.0,
    gamma_limit: float = 1.0,
    record_events: bool = False,
) -> StressRun:
    """Ramp the resolved external stress from its current value to ``stress_end``.

    Parameters
    ----------
    state : State
        Starting state (stable; not modified).
    params : ModelParams or None
        Checked against ``state.model.params`` when given.
    rng : numpy.random.Generator
        Source of every random draw.
    stress_end : float
        Final resolved external stress (LJ units); the ramp goes up or down to it.
    dstress : float
        Stress increment (> 0), smaller than the ramp.
    alpha : float
        Loading orientation (rad).
    gamma_limit : float
        Largest strain excursion ``|gamma|`` (> 0) before the run is declared flowing.
    record_events : bool
        Keep every slip event in ``run.avalanches.events``.

    Returns
    -------
    StressRun

    Examples
    --------
    >>> import numpy as np, femplastic as fp
    >>> p = fp.ModelParams(L=6, N=8, T=0.0)
    >>> rng = np.random.default_rng(0)
    >>> q = fp.quench(p, rng)
    >>> run = stress_controlled(q, p, rng, stress_end=0.2, dstress=0.01)
    >>> bool(np.allclose(run.stress, run.target, atol=1e-12)), run.flowed
    (True, False)
    """
    validation.check_stress(state, rng, stress_end, dstress, alpha, gamma_limit, record_events)
    for name, val in (("stress_end", stress_end), ("alpha", alpha)):
        if not np.isfinite(val):
            raise ValueError(f"{name} must be finite, got {val!r}")
    if not np.isfinite(dstress) or dstress <= 0:
        raise ValueError(f"dstress must be > 0, got {dstress!r}")
    if not np.isfinite(gamma_limit) or gamma_limit <= 0:
        raise ValueError(f"gamma_limit must be > 0, got {gamma_limit!r}")
    if rng is None or not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator (e.g. np.random.default_rng(seed))")
    if params is not None and params != state.model.params:
        raise ValueError("params differ from those the state was built with (state.model.params)")
    st = state.copy()
    m = st.model
    M = schmid(alpha)
    w = m.mesh.areas / m.mesh.areas.sum()
    v = np.ascontiguousarray(m.propagator.load_response(M))
    vbar = float(ddot(M, w @ v))
    s0 = float(ddot(M, w @ st.stress))
    n_steps = int(round(abs(stress_end - s0) / dstress))
    if n_steps < 1:
        raise ValueError(f"dstress ({dstress}) must be smaller than the ramp |stress_end - "
                         f"Sigma_0| = {abs(stress_end - s0):.4g}")
    sense = 1.0 if stress_end > s0 else -1.0
    dgeq = dstress / vbar  # strain per stress increment on the elastic line
    vload = v if sense > 0 else np.ascontiguousarray(-v)
    law_f = m.law_arrays[1]
    ivm = K.load_rate_bounds(vload, law_f)
    par = threads.parallel_for(st.n_elem)
    target = s0 + sense * dstress * np.arange(1, n_steps + 1)
    out_s = np.zeros(n_steps)
    out_g = np.zeros(n_steps)
    jump = np.zeros(n_steps)
    sizes = np.zeros(n_steps, np.int64)
    buf = SweepBuffers(st.n_elem)
    aval: list[tuple] = []
    ev_aval: list[int] = []
    E0 = st.macro_strain.copy()
    base = st.stress.copy()
    j_base, g_base = 0, 0.0  # the elastic line is base + ((j - j_base) dgeq) v from g_base
    trial = np.empty_like(base)

    def active(j: int) -> bool:
        K.trial_stress(base, vload, (j - j_base) * dgeq, trial)
        return bool(K.any_active(trial, st.nv, st.tauc, law_f, st.sref, st.pref, st.margin))


    flowed = False
    done = 0  # steps recorded; the current position is always the last avalanche's (j_base)
    base_ext = s0
    while done < n_steps:
        cap = n_steps - done
        mstep = K.next_trigger(base, vload, dgeq, st.nv, st.tauc, law_f, st.sref, st.pref,
                               st.margin, cap + 1, ivm, par)
        while mstep <= cap and not active(done + mstep):
            mstep += 1
        while mstep > 1 and active(done + mstep - 1):
            mstep -= 1
        j = min(done + mstep, n_steps + 1)
        # elastic steps done+1 .. j-1 on the line from the last avalanche
        jj = np.arange(done + 1, min(j, n_steps + 1))
        x = (jj - j_base) * dgeq
        out_g[done:done + jj.size] = g_base + sense * x
        out_s[done:done + jj.size] = base_ext + sense * x * vbar
        done += jj.size
        if j > n_steps:
            break
        i = j - 1
        K.trial_stress(base, vload, (j - j_base) * dgeq, st.stress)
        g_start = g_base + sense * (j - j_base) * dgeq
        tgt = target[i]
        g_now = [g_start]

        def after(s: State, _pl: NDArray[np.float64], tgt: float = tgt,
                  g_now: list[float] = g_now) -> None:
            dg = (tgt - float(ddot(M, w @ s.stress))) / vbar
            K.trial_stress(s.stress.copy(), v, dg, s.stress)
            g_now[0] += dg
            if abs(g_now[0]) > gamma_limit:
                raise _Runaway

        st.macro_strain = E0 + g_start * M
        h_before = elastic_energy(st, None, w) - tgt * g_start
        n0 = buf.n_events
        pl_before = w @ st.eps_pl
        try:
            n_ev, _, sweeps = relax_sweeps(st, rng, buf, after_sweep=after)
        except _Runaway:
            flowed = True
            sweeps = buf.n_sweeps - (buf.sweep[n0] if buf.n_events > n0 else buf.n_sweeps)
            n_ev = buf.n_events - n0
        g_end = g_now[0]
        st.macro_strain = E0 + g_end * M
        base_ext = float(ddot(M, w @ st.stress))
        st.n_events += n_ev
        st.n_avalanches += 1
        out_s[i] = base_ext
        out_g[i] = g_end
        jump[i] = g_end - g_start
        sizes[i] = n_ev
        plast = float(ddot(M, w @ st.eps_pl - pl_before))
        aval.append((i, g_start, tgt, base_ext, n_ev, sweeps, plast,
                     h_before - (elastic_energy(st, None, w) - tgt * g_end)))
        ev_aval.extend([len(aval) - 1] * (buf.n_events - n0))
        if not record_events:
            buf.events[5][0] = 0
            buf.sweep.clear()
            ev_aval.clear()
        done = j
        if flowed:
            break
        base[:] = st.stress
        j_base, g_base = j, g_end
    n = done
    if not flowed:  # the state at the last step, on the elastic line
        K.trial_stress(base, vload, (n - j_base) * dgeq, st.stress)
        st.macro_strain = E0 + out_g[n - 1] * M
    cols = list(zip(*aval, strict=True)) if aval else [()] * 8
    ints = {0, 4, 5}
    arr = [np.asarray(c, np.int64 if k in ints else float) for k, c in enumerate(cols)]
    events = None
    if record_events:
        events = buf.arrays()
        events["avalanche"] = np.asarray(ev_aval, np.int64)
    return StressRun(st, target[:n].copy(), out_s[:n].copy(), out_g[:n].copy(),
                     jump[:n].copy(), sizes[:n].copy(), AvalancheLog(*arr, events=events),
                     flowed, float(alpha), float(dstress))

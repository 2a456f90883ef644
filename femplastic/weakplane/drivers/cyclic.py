"""Cyclic athermal quasistatic shear: oscillatory AQS, absorbing states, dissipation per cycle.

Each cycle drives the external strain ``0 -> +gamma_max -> -gamma_max -> 0`` (relative to the
starting state, along ``E = E_0 + gamma M(alpha)``) with the exact event-driven rules of
:func:`femplastic.aqs`, through :class:`~femplastic.weakplane.drivers.path.StrainPath` (integer
strain lattice, so an elastic cycle returns to the bit-identical stress).

Per cycle it records the stroboscopic state at the cycle start (resolved stress, elastic
energy :func:`~femplastic.weakplane.energy.elastic_energy`), the events and plastic strain of
the cycle, the loop work ``oint Sigma_ext dgamma`` (exact: the stress is affine in the strain
between avalanches, so the trapezoid rule over load steps is exact, and avalanches at fixed
strain do no external work) and the dissipation (the sum of the avalanches' energy drops at
fixed strain, i.e. of the slips' dissipations). Energy balance, checked on every cycle:
``loop work = dissipation + (w_end - w_start)``; in a periodic (absorbing) state the energy
returns, so the loop area *is* the dissipation.

**Absorbing state / limit cycle.** After each cycle the configuration (element stresses,
thresholds and angles) is compared with the stroboscopic configurations of the previous
``max_period`` cycle starts. "Same" means: thresholds and angles *bit-identical* (they change
only when a slip renews them, by a draw from a continuous law, which never reproduces a value;
laws with constant thresholds and fixed angles reproduce them exactly), and stresses equal
within ``stress_atol`` (default 1e-9, LJ units): a cycle without slips returns the stress bit
for bit, but a plastic limit cycle (slips forward and back) only to the round-off of the
propagator's additions (~1e-14 per event). The first cycle ``t`` whose end equals the start of
cycle ``t - P + 1`` gives the period ``P`` and the transient ``t - P`` (cycles before the state
entered the limit cycle).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ... import validation
from ..energy import elastic_energy
from ..params import ModelParams
from ..state import State
from .path import AvalancheLog, StrainPath

__all__ = ["CyclicRun", "cyclic"]


@dataclass
class CyclicRun:
    """Records of :func:`cyclic`.

    Attributes
    ----------
    state : State
        State at the end (after the last completed cycle); the input is not modified.
    gamma : (n_steps,) ndarray
        External strain after each load step (relative to the start).
    stress : (n_steps,) ndarray
        Resolved external stress ``M(alpha) : <Sigma>`` after each step's avalanche.
    stress_before : (n_steps,) ndarray
        The same before the avalanche.
    avalanche_size, plastic : (n_steps,) ndarrays
        Events and resolved plastic strain of each step's avalanche.
    cycle : (n_steps,) int64 ndarray
        Cycle (0-based) of each step.
    strobe_stress, strobe_energy : (n_cycles + 1,) ndarray
        Resolved stress and elastic energy per unit area at each cycle start (and at the end).
    events, plastic_net, plastic_abs : (n_cycles,) ndarrays
        Slip events; sum of the resolved plastic strain of its avalanches; and of their
        absolute values.
    loop_work, dissipation : (n_cycles,) ndarray
        ``oint Sigma_ext dgamma`` and the slips' dissipation per unit area (LJ units).
    balance : (n_cycles,) ndarray
        ``loop_work - dissipation - (strobe_energy[c+1] - strobe_energy[c])`` (round-off).
    absorbed_at, period, transient : int or None
        The cycle (1-based count) after which the configuration first repeated, the period
        ``P`` and the transient ``absorbed_at - P``; None when never.
    avalanches : AvalancheLog
        Every avalanche (and event, with ``record_events``).
    gamma_max, dgamma, alpha : float
    """

    state: State
    gamma: NDArray[np.float64]
    stress: NDArray[np.float64]
    stress_before: NDArray[np.float64]
    avalanche_size: NDArray[np.int64]
    plastic: NDArray[np.float64]
    cycle: NDArray[np.int64]
    strobe_stress: NDArray[np.float64]
    strobe_energy: NDArray[np.float64]
    events: NDArray[np.int64]
    plastic_net: NDArray[np.float64]
    plastic_abs: NDArray[np.float64]
    loop_work: NDArray[np.float64]
    dissipation: NDArray[np.float64]
    balance: NDArray[np.float64]
    absorbed_at: int | None
    period: int | None
    transient: int | None
    avalanches: AvalancheLog
    gamma_max: float
    dgamma: float
    alpha: float

    @property
    def n_cycles(self) -> int:
        """Completed cycles."""
        return int(self.events.size)


def _snapshot(st: State) -> tuple[NDArray, NDArray, NDArray]:
    return st.stress.copy(), st.tauc.copy(), st.theta.copy()


def _same(a: tuple, b: tuple, atol: float) -> bool:
    return (np.array_equal(a[1], b[1]) and np.array_equal(a[2], b[2])
            and float(np.max(np.abs(a[0] - b[0]))) <= atol)


def cyclic(
    state: State,
    params: ModelParams | None,
    rng: np.random.Generator,
    gamma_max: float,
    cycles: int,
    dgamma: float = 1e-4,
    alpha: float = 0.0,
    until_absorbed: bool = False,
    max_period: int = 4,
    stress_atol: float = 1e-9,
    record_events: bool = False,
) -> CyclicRun:
    """Strain-controlled cyclic AQS: ``cycles`` times ``0 -> +gamma_max -> -gamma_max -> 0``.

    Parameters
    ----------
    state : State
        Starting state (not modified); strains are relative to its ``macro_strain``.
    params : ModelParams or None
        Checked against ``state.model.params`` when given.
    rng : numpy.random.Generator
        Source of every random draw.
    gamma_max : float
        Strain amplitude (> 0), a multiple of ``dgamma`` (rounded to the nearest).
    cycles : int
        Number of cycles (>= 1).
    dgamma : float
        Strain increment (> 0, <= gamma_max).
    alpha : float
        Loading orientation (rad), ``E = E_0 + gamma M(alpha)``.
    until_absorbed : bool
        Stop after the first cycle that closes a limit cycle.
    max_period : int
        Longest limit-cycle period looked for (>= 1).
    stress_atol : float
        Stress tolerance (LJ units, >= 0) of the configuration comparison (module notes).
    record_events : bool
        Keep every slip event in ``run.avalanches.events``.

    Returns
    -------
    CyclicRun

    Examples
    --------
    >>> import numpy as np, femplastic as fp
    >>> p = fp.ModelParams(L=6, N=8, T=0.0)
    >>> rng = np.random.default_rng(0)
    >>> run = cyclic(fp.quench(p, rng), p, rng, gamma_max=0.01, cycles=3, dgamma=1e-3)
    >>> run.gamma[:3], run.gamma.size       # 40 steps per cycle
    (array([0.001, 0.002, 0.003]), 120)
    >>> bool(np.all(np.abs(run.balance) < 1e-10))   # loop work = dissipation + energy change
    True
    """
    validation.check_cyclic(state, rng, gamma_max, cycles, dgamma, alpha, until_absorbed,
                            record_events)
    if not np.isfinite(gamma_max) or gamma_max <= 0:
        raise ValueError(f"gamma_max must be > 0, got {gamma_max!r}")
    if not np.isfinite(dgamma) or dgamma <= 0 or dgamma > gamma_max:
        raise ValueError(f"dgamma must be in (0, gamma_max = {gamma_max}], got {dgamma!r}")
    if isinstance(cycles, bool) or not isinstance(cycles, int | np.integer) or cycles < 1:
        raise ValueError(f"cycles must be an integer >= 1, got {cycles!r}")
    if not np.isfinite(alpha):
        raise ValueError(f"alpha must be finite (radians), got {alpha!r}")
    if isinstance(max_period, bool) or not isinstance(max_period, int | np.integer) \
            or max_period < 1:
        raise ValueError(f"max_period must be an integer >= 1, got {max_period!r}")
    if not np.isfinite(stress_atol) or stress_atol < 0:
        raise ValueError(f"stress_atol must be >= 0, got {stress_atol!r}")
    if rng is None or not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator (e.g. np.random.default_rng(seed))")
    if params is not None and params != state.model.params:
        raise ValueError("params differ from those the state was built with (state.model.params)")
    n = max(1, int(round(gamma_max / dgamma)))
    eng = StrainPath(state, rng, dgamma, alpha, 4 * n * int(cycles), record_events)
    st = eng.state
    strobes = [_snapshot(st)]
    s_stress = [st.external_stress(alpha)]
    s_energy = [elastic_energy(st, None, eng.w)]
    ends = [0]
    absorbed_at = period = None
    for c in range(int(cycles)):
        for k_to in (n, -n, 0):
            eng.leg(k_to)
        eng.current_stress()
        ends.append(eng.n)
        s_stress.append(st.external_stress(alpha))
        s_energy.append(elastic_energy(st, None, eng.w))
        snap = _snapshot(st)
        if absorbed_at is None:
            for P in range(1, min(max_period, len(strobes)) + 1):
                if _same(snap, strobes[-P], stress_atol):
                    absorbed_at, period = c + 1, P
                    break
        strobes.append(snap)
        strobes = strobes[-max_period:]
        if until_absorbed and absorbed_at is not None:
            break
    nst = eng.n
    gamma = eng.pos[:nst] * dgamma
    cyc = np.zeros(nst, np.int64)
    for c in range(len(ends) - 1):
        cyc[ends[c]:ends[c + 1]] = c
    # loop work: trapezoid over steps (exact: affine between avalanches)
    prev_g = np.concatenate([[0.0], gamma[:-1]])
    prev_s = np.concatenate([[s_stress[0]], eng.stress[:nst - 1]])
    work_step = (gamma - prev_g) * 0.5 * (prev_s + eng.stress_before[:nst])
    nc = len(ends) - 1
    av = eng.avalanches()
    av_cycle = cyc[av.step] if av.step.size else np.zeros(0, np.int64)
    loop = np.bincount(cyc, work_step, minlength=nc)[:nc]
    diss = np.bincount(av_cycle, av.dissipation, minlength=nc)[:nc]
    events = np.bincount(av_cycle, av.size, minlength=nc)[:nc].astype(np.int64)
    pl_net = np.bincount(av_cycle, av.plastic, minlength=nc)[:nc]
    pl_abs = np.bincount(av_cycle, np.abs(av.plastic), minlength=nc)[:nc]
    se = np.asarray(s_energy)
    return CyclicRun(
        st, gamma, eng.stress[:nst].copy(), eng.stress_before[:nst].copy(),
        eng.size[:nst].copy(), eng.plastic[:nst].copy(), cyc, np.asarray(s_stress), se,
        events, pl_net, pl_abs, loop, diss, loop - diss - np.diff(se), absorbed_at, period,
        None if absorbed_at is None else absorbed_at - period, av, float(n * dgamma),
        float(dgamma), float(alpha))

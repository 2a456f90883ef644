"""Finite-rate dynamics of the weak-plane FE model: fixed shear rate and creep.

The scalar finite-rate EPM of Liu et al. (2021, :mod:`femplastic.lattice`) carried over
to the tensorial model, as its authors suggest for stochastic FE models. Each element is
*elastic* or *plastic*:

* an elastic element whose lowest system is active (``dtau_c < 0``) becomes plastic at rate
  ``1 / tau_pl``; it then flows on that system (fixed while it stays plastic);
* a plastic element slips on its system at the rate ``dgamma_pl / dt = tau / (G tau_0)``
  (``tau`` the resolved shear stress on the system, ``G`` the shear modulus): the tensorial
  version of ``d gpl / dt = n sigma / (mu tau)``; slips relax ``tau`` as in AQS events;
* a plastic element returns to elastic at rate ``1 / tau_res``, and then all its ``N``
  systems are renewed from the slip law (the analogue of the threshold renewal).

Parameter mapping (scalar -> tensorial): ``mu -> G``, ``tau -> tau_0``, ``tau_pl``,
``tau_res`` unchanged, ``sigma_th -> tau_c`` of each weak plane, ``sigma -> M(theta) : Sigma``
on the flowing system, and the external strain rate ``gdot`` is the rate of ``gamma`` in
``E = gamma M(alpha)``. Protocols: **fixed shear rate** (``E`` grows at ``gdot``: the mean
stress obeys ``dSigma/dt = C : (gdot M - <d eps_pl/dt>)``, the tensorial form of Liu's
feedback) and **creep** (``gamma`` is adjusted every step so that the resolved external stress
stays at its target; the strain rate is the output).

Time integration: explicit Euler with step ``dt`` for the slips (the stress update of all
plastic elements of a step is one batched propagator call, an FFT on the regular grid), and
exact exponential probabilities ``1 - exp(-dt / tau_x)`` for the transitions. Stability asks
``dt`` small against ``tau_0 G / max(selfres)`` (the relaxation time of a flowing element);
:func:`shear_rate` and :func:`creep` reject ``dt`` above a tenth of it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ... import interrupt, validation
from ...fe.elasticity import ddot, schmid
from .. import kernels as K
from ..bundles import kernel_state
from ..state import State
from .progress import report

__all__ = ["RateParams", "RateRun", "shear_rate", "creep"]


@dataclass(frozen=True)
class RateParams:
    """Time scales of the finite-rate dynamics (defaults: Liu et al. 2021).

    Parameters
    ----------
    tau0 : float
        Plastic flow time: slip rate ``tau / (G tau0)`` (> 0). Default 1.0.
    tau_pl : float
        Mean waiting time to become plastic once unstable (> 0). Default 1.0.
    tau_res : float
        Mean plastic duration before recovery and renewal (> 0). Default 2.0.
    dt : float
        Time step (> 0, small against the three times; checked against the stiffest
        element by the drivers). Default 0.01. All four times share one (arbitrary) unit.

    Raises
    ------
    ValueError
        If a time is not finite and > 0, or ``dt > 0.1 min(tau0, tau_pl, tau_res)``.
    """

    tau0: float = 1.0
    tau_pl: float = 1.0
    tau_res: float = 2.0
    dt: float = 0.01

    def __post_init__(self) -> None:
        for name in ("tau0", "tau_pl", "tau_res", "dt"):
            v = getattr(self, name)
            validation.number(name, v)  # strings, booleans, arrays: TypeError
            if not np.isfinite(v) or v <= 0:
                raise ValueError(f"{name} must be a finite number > 0, got {v!r}")
        limit = 0.1 * min(self.tau0, self.tau_pl, self.tau_res)
        if self.dt > limit:
            raise ValueError(f"dt must be <= 0.1 min(tau0, tau_pl, tau_res) = {limit:g} "
                             f"for a stable explicit integration, got {self.dt}")


@dataclass
class RateRun:
    """Records of a finite-rate run, one entry per recorded step.

    Attributes
    ----------
    state : State
        Final state (the input state is not modified); its ``macro_strain`` includes the
        run's ``gamma M(alpha)``.
    time : (n,) ndarray
        Time at the end of each recorded step, since the start of the run.
    gamma : (n,) ndarray
        External strain along ``direction M(alpha)`` since the start, dimensionless.
    stress : (n,) ndarray
        Resolved external stress ``M(alpha) : <Sigma>``, units of ``G``.
    plastic_fraction : (n,) ndarray
        Fraction of plastic elements.
    strain_rate : (n,) ndarray
        ``d gamma / dt`` of the recorded step (the imposed rate, or the creep response).
    mean_tauc : (n,) ndarray
        Mean threshold of all systems, units of ``G``.

    Notes
    -----
    ``n = round(t_end / dt) // record_every``.
    """

    state: State
    time: NDArray[np.float64]
    gamma: NDArray[np.float64]
    stress: NDArray[np.float64]
    plastic_fraction: NDArray[np.float64]
    strain_rate: NDArray[np.float64]
    mean_tauc: NDArray[np.float64]


@interrupt.deferring
def _run(state: State, rp: RateParams, rng: np.random.Generator, t_end: float, alpha: float,
         gdot: float | None, target: float | None, record_every: int,
         progress: Callable[..., None] | None = None,
         sink: Callable[[dict[str, NDArray[np.float64]]], None] | None = None,
         sink_rows: int = 65536) -> RateRun:
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator")
    if not np.isfinite(t_end) or t_end <= 0:
        raise ValueError(f"t_end must be > 0, got {t_end!r}")
    if record_every < 1:
        raise ValueError(f"record_every must be >= 1, got {record_every}")
    st = state.copy()
    m = st.model
    G = float(np.mean(m.material.per_element(st.n_elem)[0]))
    if rp.dt > 0.1 * rp.tau0 * G / float(np.max(st.selfres)):
        raise ValueError(f"dt = {rp.dt} is too large: the stiffest element relaxes in "
                         f"{rp.tau0 * G / float(np.max(st.selfres)):.3g}; use dt <= a tenth")
    systems, law, _ = kernel_state(st)
    law_f = law[1]  # fields in bundles.LAW order
    Mload = schmid(alpha)
    v = m.propagator.load_response(Mload)
    w = m.mesh.areas / m.mesh.areas.sum()
    vbar = float(ddot(Mload, w @ v))
    n = st.n_elem
    plastic = np.zeros(n, dtype=bool)
    system = np.zeros(n, dtype=np.int64)
    p_on = -np.expm1(-rp.dt / rp.tau_pl)
    p_off = -np.expm1(-rp.dt / rp.tau_res)
    n_steps = int(round(t_end / rp.dt))
    nrec = n_steps // record_every
    block = nrec if sink is None else min(nrec, int(sink_rows))  # rows held in memory
    rec = {k: np.zeros(block) for k in ("time", "gamma", "stress", "plastic_fraction",
                                        "strain_rate", "mean_tauc")}
    base = 0  # records handed to the sink
    t_prog = time.perf_counter()
    gamma = 0.0
    act_e = np.zeros(n, np.int64)
    act_k = np.zeros(n, np.int64)
    for step in range(n_steps):
        interrupt.check()  # a safe point between compiled calls
        # 1. plastic flow on the selected systems (explicit Euler), one batched stress update
        idx = np.flatnonzero(plastic)
        if idx.size:
            k = system[idx]
            s = np.stack([0.5 * (st.stress[idx, 1] - st.stress[idx, 0]), st.stress[idx, 2]],
                         axis=1)
            tau = np.einsum("ec,ec->e", st.nv[idx, k], s)
            dg = tau / (G * rp.tau0) * rp.dt
            deps = dg[:, None] * schmid(st.theta[idx, k])
            st.eps_pl[idx] += deps
            m.propagator.add(st.stress, idx, deps)
        # 2. loading: imposed rate, or creep feedback holding the resolved stress at target
        if gdot is not None:
            dgam = gdot * rp.dt
        else:
            drift = float(ddot(Mload, w @ st.stress)) - target
            dgam = -drift / vbar
        st.stress += dgam * v
        gamma += dgam
        # 3. transitions: unstable elastic -> plastic, plastic -> elastic with renewal
        count = K.find_active(st.stress, st.nv, st.tauc, law_f, st.sref, st.pref, st.margin,
                              act_e, act_k)
        cand = act_e[:count]
        go = (rng.random(count) < p_on) & ~plastic[cand]
        newly = cand[go]
        system[newly] = act_k[:count][go]
        plastic[newly] = True
        off = np.flatnonzero(plastic)
        off = off[rng.random(off.size) < p_off]
        for e in off:
            K.renew_element(int(e), rng, systems, law, False)
            st.slips[e] += 1
        st.margin[off] = -1.0  # renewed systems: their cached stability margin is void
        plastic[off] = False
        if (step + 1) % record_every == 0:
            i = (step + 1) // record_every - 1 - base
            rec["time"][i] = (step + 1) * rp.dt
            rec["gamma"][i] = gamma
            rec["stress"][i] = float(ddot(Mload, w @ st.stress))
            rec["plastic_fraction"][i] = plastic.mean()
            rec["strain_rate"][i] = dgam / rp.dt
            rec["mean_tauc"][i] = st.mean_tauc()
            if sink is not None and i + 1 == block:  # a full block: handed over
                sink({k: a.copy() for k, a in rec.items()})
                base += block
        if progress is not None and time.perf_counter() - t_prog >= 0.1:
            report(progress, (step + 1) / n_steps, st.n_events)
            t_prog = time.perf_counter()
    st.macro_strain = st.macro_strain + gamma * Mload
    left = nrec - base
    if sink is not None and left:
        sink({k: a[:left].copy() for k, a in rec.items()})
    report(progress, 1.0, st.n_events)
    if sink is not None:
        return RateRun(st, **{k: np.zeros(0) for k in rec})
    return RateRun(st, **rec)


def shear_rate(state: State, rp: RateParams, rng: np.random.Generator, gdot: float,
               t_end: float, alpha: float = 0.0, record_every: int = 10,
               progress: Callable[..., None] | None = None,
               sink: Callable[[dict[str, NDArray[np.float64]]], None] | None = None,
               sink_rows: int = 65536) -> RateRun:
    """Drive ``state`` at the fixed external shear rate ``gdot`` along ``M(alpha)`` until ``t_end``.

    Parameters
    ----------
    state : State
        Initial state (e.g. from :func:`femplastic.weakplane.drivers.quench`); copied, not modified.
    rp : RateParams
        Time scales and time step.
    rng : numpy.random.Generator
        Source of the transitions and of the renewed slip systems.
    gdot : float
        External strain rate ``d gamma / dt`` (finite, >= 0), per unit of ``rp``'s time.
    t_end : float
        Duration of the run (> 0); ``round(t_end / rp.dt)`` steps.
    alpha : float
        Loading orientation in radians, ``E = gamma M(alpha)`` (default 0).
    record_every : int
        Record one entry every this many steps (>= 1, default 10).
    progress : callable, optional
        ``progress(fraction)`` (or ``progress(fraction, n_events)``, see
        :func:`~femplastic.weakplane.drivers.progress.report`), about every 0.1 s.
    sink : callable, optional
        Streams the records: ``sink(block)`` gets every ``sink_rows`` records (then the
        rest) as a dict of arrays named as the attributes of :class:`RateRun`, in order;
        memory then holds one block whatever ``t_end``, and the returned records are empty.
    sink_rows : int
        Records per block handed to ``sink`` (>= 1).

    Returns
    -------
    RateRun
        Records every ``record_every`` steps; ``strain_rate`` is ``gdot`` throughout.

    Raises
    ------
    TypeError
        If ``rng`` is not a ``numpy.random.Generator``.
    ValueError
        If ``gdot`` is negative or not finite, ``t_end`` is not finite and > 0,
        ``record_every < 1``, or ``rp.dt`` exceeds a tenth of the relaxation time
        ``tau0 G / max(selfres)`` of the stiffest element.
    """
    validation.check_rate(state, rp, rng, t_end, alpha, record_every, gdot=gdot,
                          held_rows=sink_rows if sink is not None else None)
    if not np.isfinite(gdot) or gdot < 0:
        raise ValueError(f"gdot must be >= 0, got {gdot!r}")
    return _run(state, rp, rng, t_end, alpha, float(gdot), None, record_every, progress, sink,
                sink_rows)


def creep(state: State, rp: RateParams, rng: np.random.Generator, stress: float, t_end: float,
          alpha: float = 0.0, record_every: int = 10,
          progress: Callable[..., None] | None = None,
          sink: Callable[[dict[str, NDArray[np.float64]]], None] | None = None,
          sink_rows: int = 65536) -> RateRun:
    """Hold the resolved external stress at ``stress`` (creep); the strain rate is the output.

    The first step jumps elastically to the target; afterwards every step adjusts ``gamma``
    so that plastic relaxation is compensated exactly.

    Parameters
    ----------
    state : State
        Initial state (e.g. from :func:`femplastic.weakplane.drivers.quench`); copied, not modified.
    rp : RateParams
        Time scales and time step.
    rng : numpy.random.Generator
        Source of the transitions and of the renewed slip systems.
    stress : float
        Target resolved external stress ``M(alpha) : <Sigma>`` (finite), units of ``G``.
    t_end : float
        Duration of the run (> 0); ``round(t_end / rp.dt)`` steps.
    alpha : float
        Loading orientation in radians, ``E = gamma M(alpha)`` (default 0).
    record_every : int
        Record one entry every this many steps (>= 1, default 10).
    progress : callable, optional
        ``progress(fraction)`` (or ``progress(fraction, n_events)``, see
        :func:`~femplastic.weakplane.drivers.progress.report`), about every 0.1 s.
    sink : callable, optional
        Streams the records: ``sink(block)`` gets every ``sink_rows`` records (then the
        rest) as a dict of arrays named as the attributes of :class:`RateRun`, in order;
        memory then holds one block whatever ``t_end``, and the returned records are empty.
    sink_rows : int
        Records per block handed to ``sink`` (>= 1).

    Returns
    -------
    RateRun
        Records every ``record_every`` steps; ``strain_rate`` is the response ``d gamma / dt``
        of the recorded step (the first step includes the elastic jump).

    Raises
    ------
    TypeError
        If ``rng`` is not a ``numpy.random.Generator``.
    ValueError
        If ``stress`` is not finite, ``t_end`` is not finite and > 0, ``record_every < 1``,
        or ``rp.dt`` exceeds a tenth of the relaxation time ``tau0 G / max(selfres)`` of the
        stiffest element.
    """
    validation.check_rate(state, rp, rng, t_end, alpha, record_every, stress=stress,
                          held_rows=sink_rows if sink is not None else None)
    if not np.isfinite(stress):
        raise ValueError(f"stress must be finite, got {stress!r}")
    return _run(state, rp, rng, t_end, alpha, None, float(stress), record_every, progress,
                sink, sink_rows)

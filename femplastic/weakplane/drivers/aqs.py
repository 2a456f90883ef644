"""Athermal quasistatic (AQS) loading of the weak-plane model (Castellanos et al. 2021, sec. 3.4).

Rules: whenever systems are active (``dtau_c < 0``), every active element slips at once on
its lowest-``dtau_c`` system; repeat until nothing is active, at fixed external strain (one
*avalanche*); then apply the next external increment ``dgamma``. Loading with orientation
``alpha`` and sense ``direction`` imposes ``E = E_0 + gamma * direction * M(alpha)``.

The **event-driven** mode jumps exactly over increments that trigger nothing: between
avalanches the stress is affine in the external strain, so the first unstable step is found
analytically (then verified with the same test the step-by-step mode applies). Both modes
evaluate the loaded stress with the same formula ``base + (m dgamma) v`` and produce
identical records.

The loop itself is compiled (:func:`femplastic.weakplane.aqs_kernels.aqs_chunk`): load steps,
trigger searches and avalanches run without Python in between, and :func:`aqs` regains
control between chunks of avalanches (~0.1 s each) for Ctrl-C, progress, checkpoints and
growing the event record. With ``stop_when``, or a propagator without a numba form, a Python
loop drives the same compiled parts avalanche by avalanche, with the same records.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from ... import interrupt, threads, validation
from ..bundles import event_record, kernel_state, work_buffers
from ..dimension import kernels_of, loading_tensor, resolve
from ..params import ModelParams
from ..state import State
from .checkpoint import AQSCheckpoint
from .progress import report

__all__ = ["aqs", "relax", "AQSRun", "EventLog"]


@dataclass
class EventLog:
    """Every slip event: element, system, angle (rad), resolved stress, amplitude, avalanche.

    All arrays have shape (n_events,), except ``schmid``. In 3D the angle is the polar angle
    ``arccos n_z`` of the plane normal (``State.theta``), which does not determine the
    system: ``schmid`` (n_events, 6) holds the Schmid tensor of the system that slipped
    (Voigt, tensor shear components), and the event's plastic strain increment is
    ``amplitude[:, None] * schmid``. In 2D ``schmid`` is None (``theta`` determines it).
    """

    element: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    system: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    theta: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    tau: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    amplitude: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    avalanche: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    schmid: NDArray[np.float64] | None = None


class _Buffers:
    """Work arrays for the relaxation kernels (sized once per state)."""

    def __init__(self, n: int, capacity: int = 0, components: int = 3) -> None:
        self.work = work_buffers(n, components)  # the work and events bundles, their arrays
        self.act_e, self.act_k, self.deps, self.amp, self.taus = self.work
        self.schmid = components == 6  # 3D: the events' systems (Schmid tensors) as well
        self.events = event_record(capacity, schmid=self.schmid)
        self.ev_e, self.ev_k, self.ev_th, self.ev_tau, self.ev_amp, self.ev_n, self.ev_m = \
            self.events
        self.ev_aval = np.zeros(capacity, np.int64)  # the avalanche of each event (AQS)

    def grow(self, capacity: int) -> None:
        self.events = event_record(capacity, self.events, self.schmid)
        self.ev_e, self.ev_k, self.ev_th, self.ev_tau, self.ev_amp, self.ev_n, self.ev_m = \
            self.events
        aval = np.zeros(capacity, np.int64)
        m = min(capacity, self.ev_aval.size)
        aval[:m] = self.ev_aval[:m]
        self.ev_aval = aval

    def log(self) -> EventLog:
        m = int(self.ev_n[0])
        return EventLog(self.ev_e[:m].copy(), self.ev_k[:m].copy(), self.ev_th[:m].copy(),
                        self.ev_tau[:m].copy(), self.ev_amp[:m].copy(), self.ev_aval[:m].copy(),
                        self.ev_m[:m].copy() if self.schmid else None)


@interrupt.deferring
def relax(
    state: State,
    rng: np.random.Generator,
    buffers: _Buffers | None = None,
    record: bool = False,
    thermal: tuple[int, int] | None = None,
    max_sweeps: int = 1_000_000,
    weights: NDArray[np.float64] | None = None,
    gate: threads.Gate | None = None,
) -> tuple[int, NDArray[np.float64]]:
    """Athermal relaxation of ``state`` in place, at fixed external strain.

    Parameters
    ----------
    state : State
        Modified in place.
    rng : numpy.random.Generator
    record : bool
        Append every event to ``buffers``' event arrays.
    thermal : (element, system), optional
        A thermally activated system to slip first (KMC), with the bound ``gmax(tau_c)``.
    max_sweeps : int
        Safety limit on synchronous sweeps.
    weights : (n,) ndarray, optional
        Element weights of the returned plastic strain (e.g. area fractions).
    gate : threads.Gate, optional
        The calling loop's free-core gate (its ``par``); default: looked at once for this
        relaxation (:func:`femplastic.threads.parallel_for`).

    Notes
    -----
    Propagators with a numba form (:meth:`~femplastic.fe.propagators.Propagator.numba_form`) run
    in one fused kernel; others (user propagators) are applied from Python once per sweep with
    :meth:`~femplastic.fe.propagators.Propagator.add` (with ``rng=rng`` when the propagator is
    ``stochastic``). Both paths draw from ``rng`` in the same order.

    Returns
    -------
    n_events : int
    plastic : (C,) ndarray
        Sum of the plastic strain increments (Voigt, C = 3 in 2D, 6 in 3D) of this
        avalanche, weighted by ``weights[element]`` when given.
    """
    m = state.model
    K = kernels_of(m.dim)[0]
    buf = buffers or _Buffers(state.n_elem, 1024 if record else 0, m.components)
    system, law, cache = kernel_state(state)
    law_f = law[1]  # fields in bundles.LAW order
    work = buf.work
    if thermal is not None:
        buf.act_e[0], buf.act_k[0] = thermal
    form = m.propagator.numba_form()
    par = threads.parallel_for(state.n_elem) if gate is None else gate.par
    total = 0
    plastic = np.zeros(m.components)
    if form is not None:
        first = thermal is not None
        if record and int(buf.ev_n[0]) + state.n_elem > buf.ev_e.shape[0]:
            buf.grow(2 * (int(buf.ev_n[0]) + state.n_elem))  # room for a whole sweep
        while True:
            status, n_ev, pl = K.relax_fused(form, state.stress, system, law, cache, work,
                                             buf.events, rng, record, max_sweeps, first,
                                             weights, par)
            total += n_ev
            plastic += pl
            first = False
            if status == 2:
                buf.grow(2 * buf.ev_e.shape[0] + state.n_elem)
                continue
            if status == 1:
                raise RuntimeError(f"relaxation did not stop after {max_sweeps} sweeps")
            break
        return total, plastic
    # general propagators: the same kernels, the propagator applied from Python per sweep
    # (same order of random draws as the fused kernel: amplitudes, propagator, renewals)
    stochastic = bool(getattr(m.propagator, "stochastic", False))
    for sweep in range(max_sweeps):
        if sweep == 0 and thermal is not None:
            count = 1
        else:
            count = K.find_active(state.stress, state.nv, state.tauc, law_f, state.sref,
                                  state.pref, state.margin, buf.act_e, buf.act_k)
        if count == 0:
            return total, plastic
        K.draw_slips(count, state.stress, system, law, work, rng,
                     sweep == 0 and thermal is not None)
        if record:
            j = int(buf.ev_n[0])
            if j + count > buf.ev_e.shape[0]:
                buf.grow(2 * (j + count) + 1024)
            buf.ev_e[j:j + count] = buf.act_e[:count]
            buf.ev_k[j:j + count] = buf.act_k[:count]
            buf.ev_th[j:j + count] = state.theta[buf.act_e[:count], buf.act_k[:count]]
            buf.ev_tau[j:j + count] = buf.taus[:count]
            buf.ev_amp[j:j + count] = buf.amp[:count]
            if buf.schmid:
                buf.ev_m[j:j + count] = state.nv[buf.act_e[:count], buf.act_k[:count]]
            buf.ev_n[0] = j + count
        if stochastic:  # e.g. the shuffled kernel: its draws come from the run's rng
            m.propagator.add(state.stress, buf.act_e[:count], buf.deps[:count], rng=rng)
        else:
            m.propagator.add(state.stress, buf.act_e[:count], buf.deps[:count])
        K.add_plastic(count, buf.act_e, buf.deps, weights, plastic)
        K.finish_slips(count, system, law, cache, work, rng)
        total += count
    raise RuntimeError(f"relaxation did not stop after {max_sweeps} sweeps")


@dataclass
class AQSRun:
    """Records of an AQS run (one entry per load step unless stated).

    Attributes
    ----------
    state : State
        Final state (the input state is not modified).
    gamma : (n_steps,) ndarray
        External strain since the start of this run, along its loading tensor.
    stress : (n_steps,) ndarray
        Resolved external stress ``direction M(alpha) : <Sigma>`` after the step's avalanche.
    stress_before : (n_steps,) ndarray
        The same before the avalanche (equal to ``stress`` on steps without avalanche).
    avalanche_size : (n_steps,) int ndarray
        Slip events triggered at the step (0: purely elastic step).
    plastic : (n_steps,) ndarray
        Resolved plastic strain of the step's avalanche, ``direction M(alpha) : sum(deps)/n``
        (area-weighted mean over elements).
    mean_stress : (n_steps, 3) or (n_steps, 6) ndarray
        Full mean stress tensor after each step, Voigt (2D or 3D).
    events : EventLog or None
        Every slip event when requested.
    alpha, direction, dgamma : float
    stopped : bool
        True when ``stop_when`` ended the run early.
    """

    state: State
    gamma: NDArray[np.float64]
    stress: NDArray[np.float64]
    stress_before: NDArray[np.float64]
    avalanche_size: NDArray[np.int64]
    plastic: NDArray[np.float64]
    mean_stress: NDArray[np.float64]
    events: EventLog | None
    alpha: float
    direction: int
    dgamma: float
    stopped: bool = False

    @property
    def drops(self) -> NDArray[np.float64]:
        """Stress drops ``stress_before - stress`` of the steps with an avalanche."""
        mask = self.avalanche_size > 0
        return (self.stress_before - self.stress)[mask]

    @property
    def increments(self) -> NDArray[np.float64]:
        """Stress increments between consecutive avalanches (elastic loading stretches)."""
        idx = np.flatnonzero(self.avalanche_size > 0)
        if idx.size < 2:
            return np.zeros(0)
        return self.stress_before[idx[1:]] - self.stress[idx[:-1]]

    @property
    def avalanche_steps(self) -> NDArray[np.int64]:
        """Indices of the steps with an avalanche."""
        return np.flatnonzero(self.avalanche_size > 0)


def check_args(gamma_end: float, dgamma: float, alpha: float, direction: int) -> None:
    """The ranges of :func:`aqs`'s (and :func:`~femplastic.weakplane.gpu.driver.aqs_gpu`'s) ramp.

    Raises
    ------
    ValueError
        ``gamma_end`` or ``dgamma`` not finite and > 0, ``dgamma > gamma_end``, ``alpha`` not
        finite, ``direction`` not +1 or -1.
    """
    if not np.isfinite(gamma_end) or gamma_end <= 0:
        raise ValueError(f"gamma_end must be > 0, got {gamma_end!r}")
    if not np.isfinite(dgamma) or dgamma <= 0:
        raise ValueError(f"dgamma must be > 0, got {dgamma!r}")
    if dgamma > gamma_end:
        raise ValueError(f"dgamma ({dgamma}) must not exceed gamma_end ({gamma_end})")
    if not np.isfinite(alpha):
        raise ValueError(f"alpha must be finite (radians), got {alpha!r}")
    if direction not in (1, -1):
        raise ValueError(f"direction must be +1 or -1, got {direction!r}")


@interrupt.deferring
def aqs(
    state: State,
    params: ModelParams | None = None,
    rng: np.random.Generator | None = None,
    gamma_end: float = 2.0,
    dgamma: float = 1e-4,
    alpha: float = 0.0,
    direction: int = 1,
    event_driven: bool = True,
    record_events: bool = False,
    stop_when: Callable[[float, float, float], bool] | None = None,
    progress: Callable[[float], None] | None = None,
    backend: str = "numba",
    checkpoint: Callable[[AQSCheckpoint], None] | None = None,
    checkpoint_every: float = 0.0,
    resume: AQSCheckpoint | None = None,
    checkpoint_since: float | None = None,
) -> AQSRun:
    """Drive ``state`` in athermal quasistatic shear; returns the records and a new state.

    Parameters
    ----------
    state : State
        Starting state (typically from :func:`femplastic.quench`); not modified.
    params : ModelParams, optional
        Must match the parameters the state was built with (checked); informational.
    rng : numpy.random.Generator
        Source of every random draw (amplitudes, renewals).
    gamma_end : float
        External strain to apply in this run (> 0): a whole number of ``dgamma`` steps (to a
        relative 1e-9; another value is refused naming the nearest valid ones, as the CLI's
        ``run.gamma_end``).
    dgamma : float
        External strain increment (> 0).
    alpha : float
        Loading orientation (radians): ``E += gamma * direction * M(alpha)``.
    direction : {+1, -1}
        Loading sense (-1 unloads a system loaded along ``alpha``).
    event_driven : bool
        Jump exactly over increments that trigger nothing (same records as stepping).
    record_events : bool
        Keep every slip event in ``run.events``.
    stop_when : callable, optional
        ``stop_when(gamma, stress_before, stress_after) -> bool`` evaluated after every load
        step (with the resolved external stress); the run ends at the first True (e.g.
        ``lambda g, sb, sa: sa <= 0`` to unload until the external stress crosses 0).
    progress : callable, optional
        Called with the fraction of ``gamma_end`` done (for progress bars).
    backend : {"numba", "jax", "gpu"}
        ``"numba"`` (default): this CPU path. ``"jax"``/``"gpu"``: the optional accelerated
        backend (:func:`femplastic.weakplane.gpu.driver.aqs_gpu`, ``pip install
        "femplastic[gpu]"``), same rules and records; regular periodic grid only,
        ``stop_when`` unsupported.
    checkpoint : callable, optional
        Called with an :class:`~femplastic.weakplane.drivers.checkpoint.AQSCheckpoint` after
        an avalanche whenever ``checkpoint_every`` seconds (wall time) have passed since the
        start or the last checkpoint (e.g. to :func:`~femplastic.weakplane.drivers.checkpoint.save`
        it).
    checkpoint_every : float
        Seconds between checkpoints (>= 0; 0: after every avalanche).
    resume : AQSCheckpoint, optional
        Continue the run that produced this checkpoint: ``state`` must be the run's starting
        state (its model and shapes; its arrays are replaced by the checkpoint's), ``rng`` is
        set to the saved generator state, and the other arguments must be the run's. The
        returned records and state are bitwise those of the uninterrupted run.
    checkpoint_since : float, optional
        ``time.perf_counter()`` at the previous checkpoint (default: the start of this call),
        so that one period can span several calls (``femplastic run`` shears in chunks).

    Returns
    -------
    AQSRun

    Examples
    --------
    >>> import numpy as np, femplastic
    >>> p = femplastic.ModelParams(L=6, T=0.0)
    >>> rng = np.random.default_rng(1)
    >>> run = femplastic.aqs(femplastic.quench(p, rng), p, rng, gamma_end=0.05, dgamma=1e-3)
    >>> run.gamma.shape, run.stress.shape
    ((50,), (50,))
    """
    validation.check_aqs(state, rng, gamma_end, dgamma, alpha, event_driven, record_events,
                         checkpoint_every, backend)
    # --- accelerated backend hook (femplastic.weakplane.gpu): a thin dispatch, nothing else
    if backend != "numba":
        from ..gpu import normalize_backend

        if normalize_backend(backend) != "numba":
            from ..gpu.driver import aqs_gpu

            if checkpoint is not None or resume is not None:
                raise ValueError(f"checkpoint/resume are not supported by backend={backend!r} "
                                 "(use the numba backend for checkpointed runs)")

            return aqs_gpu(state, params, rng, gamma_end, dgamma, alpha, direction,
                           event_driven, record_events, stop_when, progress, backend=backend)
    # --- end of the hook
    check_args(gamma_end, dgamma, alpha, direction)
    if not np.isfinite(checkpoint_every) or checkpoint_every < 0:
        raise ValueError(f"checkpoint_every must be >= 0 seconds, got {checkpoint_every!r}")
    validation.params_match(state, params)
    st = state.copy()
    m = st.model
    K, AK, _ = kernels_of(m.dim)  # the dimension's compiled kernels (same signatures)
    C = m.components
    n_steps = int(round(gamma_end / dgamma))
    Mload = direction * loading_tensor(m.dim, alpha)  # 2D: schmid(alpha)
    v = np.ascontiguousarray(m.propagator.load_response(Mload))
    w = np.ascontiguousarray(m.mesh.areas / m.mesh.areas.sum())
    vbar = float(resolve(Mload, w @ v))  # 2D: ddot
    vmean = w @ v
    law_f = m.law_arrays[1]
    ivm = K.load_rate_bounds(v, law_f)
    buf = _Buffers(st.n_elem, 4096 if record_events else 0, C)

    gamma = dgamma * np.arange(1, n_steps + 1)
    s_after = np.zeros(n_steps)
    s_before = np.zeros(n_steps)
    sizes = np.zeros(n_steps, np.int64)
    plast = np.zeros(n_steps)
    mean_st = np.zeros((n_steps, C))

    base = st.stress.copy()  # the stress after the last avalanche; st.stress is loaded from it
    # loop position (femplastic.weakplane.aqs_kernels.POS / ACC): k_base, done, n_aval,
    # events of this run, open avalanche; base mean (C), base resolved stress, open plastic (C)
    pos = np.array([0, 0, 0, 0, -1], np.int64)
    acc = np.zeros(2 * C + 1)
    acc[:C] = AK.weighted_mean(base, w)
    acc[C] = float(resolve(Mload, acc[:C]))
    stopped = False
    if resume is not None:
        rec = resume.records
        same = (float(rec["gamma_end"]), float(rec["dgamma"]), float(rec["alpha"]),
                int(rec["direction"]))
        if same != (float(gamma_end), float(dgamma), float(alpha), int(direction)):
            raise ValueError(f"resume: the checkpoint's (gamma_end, dgamma, alpha, direction) "
                             f"{same} differ from this call's")
        resume.restore_state(st)
        rng.bit_generator.state = resume.rng_state
        base[:] = resume.base
        acc[:C] = resume.base_mean
        acc[C] = float(resume.base_ext)
        pos[:3] = int(resume.k_base), int(resume.done), int(resume.n_aval)
        done = int(resume.done)
        s_after[:done] = rec["stress"]
        s_before[:done] = rec["stress_before"]
        sizes[:done] = rec["avalanche_size"]
        plast[:done] = rec["plastic"]
        mean_st[:done] = rec["mean_stress"]
        if record_events:
            ev = resume.events
            m0 = ev["ev_e"].size
            buf.grow(max(2 * m0, 4096))
            for dst, key in zip((*buf.events[:5], buf.ev_aval),
                                ("ev_e", "ev_k", "ev_th", "ev_tau", "ev_amp", "ev_aval"),
                                strict=True):
                dst[:m0] = ev[key]
            if buf.schmid:  # (NaN: a checkpoint of a version that did not keep them)
                buf.ev_m[:m0] = ev.get("ev_m", np.nan)
            buf.ev_n[0] = m0
    events0, aval0 = st.n_events, st.n_avalanches - int(pos[2])
    t_ckpt = _time.perf_counter() if checkpoint_since is None else float(checkpoint_since)
    system, law, cache = kernel_state(st)
    form = m.propagator.numba_form()
    par = threads.parallel_for(st.n_elem, gate=False)  # threaded kernels (same bits)
    max_sweeps = 1_000_000

    def sync_counts() -> None:
        st.n_events = events0 + int(pos[3])
        st.n_avalanches = aval0 + int(pos[2])

    def snapshot() -> AQSCheckpoint:
        done = int(pos[1])
        m0 = int(buf.ev_n[0]) if record_events else 0
        rec = {"gamma_end": np.array(float(gamma_end)), "dgamma": np.array(float(dgamma)),
               "alpha": np.array(float(alpha)), "direction": np.array(int(direction)),
               "stress": s_after[:done].copy(), "stress_before": s_before[:done].copy(),
               "avalanche_size": sizes[:done].copy(), "plastic": plast[:done].copy(),
               "mean_stress": mean_st[:done].copy()}
        ev = {"ev_e": buf.ev_e[:m0].copy(), "ev_k": buf.ev_k[:m0].copy(),
              "ev_th": buf.ev_th[:m0].copy(), "ev_tau": buf.ev_tau[:m0].copy(),
              "ev_amp": buf.ev_amp[:m0].copy(), "ev_aval": buf.ev_aval[:m0].copy()}
        if buf.schmid:
            ev["ev_m"] = buf.ev_m[:m0].copy()
        return AQSCheckpoint(AQSCheckpoint.state_dict(st), base.copy(), acc[:C].copy(),
                             float(acc[C]), int(pos[0]), done, int(pos[2]), rec, ev,
                             rng.bit_generator.state)

    def py_avalanche(mstep: int) -> None:
        """One avalanche for a propagator without a numba form (through :func:`relax`).

        Books the same records as :func:`~femplastic.weakplane.aqs_kernels.avalanche`.
        """
        i = int(pos[0]) + mstep - 1
        s_before[i] = acc[C] + (mstep * dgamma) * vbar
        n0 = int(buf.ev_n[0])
        n_ev, acc[C + 1:] = relax(st, rng, buf, record=record_events, max_sweeps=max_sweeps,
                               weights=w, gate=gate)  # grows buf as needed
        buf.ev_aval[n0:int(buf.ev_n[0])] = pos[2]
        sizes[i] = n_ev
        pos[4] = i
        AK.book_relaxed(st.stress, base, w, Mload, pos, acc, s_after, sizes, plast, mean_st)

    recs = (s_before, s_after, sizes, plast, mean_st)
    if stop_when is None and form is not None:
        # the compiled loop, in chunks of avalanches sized to ~0.1 s (progress, Ctrl-C,
        # checkpoints and growing the event record happen between chunks)
        chunk = 1
        every_avalanche = checkpoint is not None and checkpoint_every == 0
        tuner = threads.Tuner(par)  # threaded or serial chunks, whichever is faster now
        while True:
            interrupt.check()  # a safe point: Ctrl-C surfaces here, between compiled calls
            t0 = _time.perf_counter()
            work0 = int(pos[3]) + 4 * int(pos[2])  # events, and ~4 passes per avalanche
            status = AK.aqs_chunk(form, st.stress, base, v, ivm, w, Mload, dgamma, vbar,
                                  vmean, n_steps, event_driven, system, law, cache, buf.work,
                                  buf.events, buf.ev_aval, rng, record_events, max_sweeps,
                                  1 if every_avalanche else chunk, pos, acc, *recs, tuner.par)
            if tuner.record(int(pos[3]) + 4 * int(pos[2]) - work0, _time.perf_counter() - t0):
                chunk = 1 if tuner.par else chunk  # a threaded probe starts with one avalanche
            sync_counts()
            if status == AK.RECORD_FULL:
                buf.grow(2 * buf.ev_e.shape[0] + st.n_elem)
                continue
            if status == AK.SWEEP_LIMIT:
                raise RuntimeError(f"relaxation did not stop after {max_sweeps} sweeps")
            if status == AK.DONE:
                break
            dt = _time.perf_counter() - t0
            if not every_avalanche:  # (growing it there overflowed after ~510 saves)
                chunk = max(1, min(4 * chunk, int(chunk * 0.1 / max(dt, 1e-6)), 1 << 40))
            report(progress, int(pos[1]) / n_steps, st.n_events)
            if checkpoint is not None and _time.perf_counter() - t_ckpt >= checkpoint_every:
                checkpoint(snapshot())
                t_ckpt = _time.perf_counter()
    else:
        # a Python loop over the same compiled parts: stop_when sees every step (and user
        # propagators without a numba form relax through relax())
        gate = threads.Gate(st.n_elem)  # no Tuner here: the free-core gate, looked at again
        while int(pos[1]) < n_steps and not stopped:
            interrupt.check()
            done = int(pos[1])
            mstep = AK.find_next(base, v, ivm, dgamma, n_steps, event_driven, st.nv, st.tauc,
                                 law_f, st.sref, st.pref, st.margin, pos, st.stress, gate.par)
            quiet_only = mstep == 0 or mstep > n_steps - int(pos[0])
            upto = done + 1 if mstep == 0 else min(int(pos[0]) + mstep - 1, n_steps)
            AK.fill_quiet(upto, pos, acc, dgamma, vbar, vmean, s_before, s_after, mean_st)
            if stop_when is not None:
                for i in range(done, upto):
                    if stop_when(gamma[i], s_before[i], s_after[i]):
                        pos[1] = i + 1
                        stopped = True
                        break
            if stopped or quiet_only:
                continue
            if form is None:
                py_avalanche(mstep)
            else:
                while (status := AK.avalanche(mstep, form, st.stress, base, w, Mload,
                                              dgamma, vbar, system, law, cache, buf.work,
                                              buf.events, buf.ev_aval, rng, record_events,
                                              max_sweeps, pos, acc, *recs,
                                              gate.par)) == AK.RECORD_FULL:
                    buf.grow(2 * buf.ev_e.shape[0] + st.n_elem)
                if status == AK.SWEEP_LIMIT:
                    raise RuntimeError(f"relaxation did not stop after {max_sweeps} sweeps")
            sync_counts()
            i = int(pos[1]) - 1
            stopped = stop_when is not None and bool(stop_when(gamma[i], s_before[i], s_after[i]))
            report(progress, int(pos[1]) / n_steps, st.n_events)
            if checkpoint is not None and not stopped and int(pos[1]) < n_steps \
                    and _time.perf_counter() - t_ckpt >= checkpoint_every:
                checkpoint(snapshot())
                t_ckpt = _time.perf_counter()
    done, k_base = int(pos[1]), int(pos[0])

    # final state at the last recorded step
    x_end = (done - k_base) * dgamma
    K.trial_stress(base, v, x_end, st.stress)
    st.macro_strain = st.macro_strain + done * dgamma * Mload
    events = buf.log() if record_events else None
    report(progress, 1.0, st.n_events)
    if not np.isfinite(s_after[:done]).all() or not np.isfinite(st.stress).all():
        p = st.model.params
        raise FloatingPointError(
            "the relaxation diverged (non-finite stresses): the synchronous slips amplify each "
            f"other; with model.chi = {p.chi} at model.l = {p.l} the slip amplitudes are too "
            "large for this element size (seen for chi <= 0.35 at l = 3.5-4.4)")
    return AQSRun(st, gamma[:done], s_after[:done], s_before[:done], sizes[:done], plast[:done],
                  mean_st[:done], events, float(alpha), int(direction), float(dgamma),
                  stopped=stopped)

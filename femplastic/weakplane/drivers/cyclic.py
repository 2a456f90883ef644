"""Cyclic athermal quasistatic shear: oscillatory AQS, absorbing states, dissipation per cycle.

Each cycle drives the external strain ``0 -> +gamma_max -> -gamma_max -> 0`` (relative to the
starting state, along ``E = E_0 + gamma M(alpha)``) with the exact event-driven rules of
:func:`femplastic.aqs`, through :class:`~femplastic.weakplane.drivers.path.StrainPath` (integer
strain lattice, so an elastic cycle returns to the bit-identical stress), on its compiled loop
(:class:`~femplastic.weakplane.drivers.path.CompiledPath`) when available.

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

import time as _time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ... import interrupt, validation
from .. import path_kernels as PK
from ..energy import elastic_energy
from ..npblas import on_one_thread
from ..params import ModelParams
from ..state import State
from .checkpoint import AQSCheckpoint
from .path import (
    AvalancheLog,
    CompiledPath,
    StrainPath,
    check_resume_args,
    choose_compiled,
    loop_ipos,
    sink_args,
)
from .progress import report

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


@interrupt.deferring
@on_one_thread
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
    progress: Callable[..., None] | None = None,
    checkpoint: Callable[[AQSCheckpoint], None] | None = None,
    checkpoint_every: float = 0.0,
    resume: AQSCheckpoint | None = None,
    checkpoint_since: float | None = None,
    compiled: bool | None = None,
    sink: Callable[[dict[str, NDArray]], None] | None = None,
    sink_rows: int = 65536,
    log_sink: Callable[[str, dict[str, NDArray]], None] | None = None,
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
        Strain amplitude (> 0), a multiple of ``dgamma`` (to a relative
        :data:`femplastic.validation.LATTICE_RTOL`; otherwise a ValueError names the nearest
        valid amplitudes).
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
    progress : callable, optional
        Called with the fraction of the ``4 cycles gamma_max / dgamma`` load steps done
        (and the slip events so far when it sets ``wants_events``,
        :func:`~femplastic.weakplane.drivers.progress.report`), about every 0.1 s.
    checkpoint : callable, optional
        Called with an :class:`~femplastic.weakplane.drivers.checkpoint.AQSCheckpoint` at an
        avalanche boundary (or a cycle end) whenever ``checkpoint_every`` seconds of wall time
        have passed since the start or the last checkpoint; save it with
        :func:`~femplastic.weakplane.drivers.checkpoint.save` (its ``records`` hold the
        cyclic loop's variables, ``records["protocol"] == "cyclic"``).
    checkpoint_every : float
        Seconds between checkpoints (>= 0; 0: after every avalanche and cycle).
    resume : AQSCheckpoint, optional
        Continue the run that wrote this checkpoint: ``state`` must be that run's starting
        state, ``rng`` any generator (its state is set to the saved one) and every other
        argument the run's (checked). Records, logs and final state are bitwise those of the
        uninterrupted run.
    checkpoint_since : float, optional
        ``time.perf_counter()`` at the previous checkpoint (default: the start of this call),
        so that one checkpoint period can span several calls (as :func:`femplastic.aqs`).
    compiled : bool, optional
        Force the compiled loop (True) or the Python loop (False); default: compiled when
        available (:func:`~femplastic.weakplane.drivers.path.compiled_available`). Both give
        the same bits; checkpoints need the compiled loop.
    sink : callable, optional
        Streams the load-step records (compiled loop): ``sink(block)`` gets them every
        ``sink_rows`` steps (and the rest at the end), a dict of arrays ``gamma, stress,
        stress_before, avalanche_size, plastic, cycle`` in order, the same bits as the
        records held in memory; memory then holds one block whatever the number of cycles,
        and the returned step records are empty (the per-cycle records, the loop work
        included, and the avalanche log are kept). A checkpoint holds the rows not yet
        handed over; resume with the same ``sink_rows``.
    sink_rows : int
        Steps per block handed to ``sink`` (>= 1), and avalanches (events) per block
        handed to ``log_sink``.
    log_sink : callable, optional
        Streams the avalanche log and the events (compiled loop,
        :class:`~femplastic.weakplane.drivers.path.LoopLog`): ``log_sink("avalanches",
        block)`` gets the log's columns (``step, gamma, ..., dissipation``) every
        ``sink_rows`` avalanches, ``log_sink("events", block)`` the events' (with
        ``record_events``) every ``sink_rows`` events or so, the rest at the end; the blocks,
        concatenated, are the arrays of ``run.avalanches`` of the run without it, bit for
        bit. The returned log is then empty; the per-cycle records (a few numbers per
        cycle) are kept. A checkpoint holds the rows not yet handed over.

    Returns
    -------
    CyclicRun

    Notes
    -----
    The load steps run in the compiled loop of :func:`femplastic.aqs`'s kind
    (:func:`femplastic.weakplane.path_kernels.path_chunk`); Ctrl-C raises KeyboardInterrupt
    within ~0.1 s, at an avalanche boundary.

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
    n = validation.lattice_multiple("gamma_max", gamma_max, "dgamma", dgamma)  # (checked above)
    use_compiled = choose_compiled(state, compiled, checkpoint, resume, checkpoint_every)
    streaming = sink_args(sink, log_sink, sink_rows, use_compiled)
    args = {"gamma_max": float(n * dgamma), "dgamma": float(dgamma), "alpha": float(alpha),
            "cycles": int(cycles), "until_absorbed": bool(until_absorbed),
            "max_period": int(max_period), "stress_atol": float(stress_atol),
            "record_events": bool(record_events), **streaming}
    n_total = 4 * n * int(cycles)
    eng: CompiledPath | StrainPath
    per_cycle = None if log_sink is None else _CycleLog(log_sink, int(cycles))
    if use_compiled:
        eng = CompiledPath(state, rng, dgamma, alpha, n_total, record_events,
                           rows=None if sink is None else int(sink_rows),
                           log_sink=None if per_cycle is None else per_cycle.take,
                           log_rows=int(sink_rows))
    else:
        eng = StrainPath(state, rng, dgamma, alpha, n_total, record_events)
    st = eng.state
    strobes = [_snapshot(st)]
    s_stress = [st.external_stress(alpha)]
    s_energy = [elastic_energy(st, None, eng.w)]
    ends = [0]
    absorbed_at = period = None
    c0, l0 = 0, 0
    if resume is not None:
        c0, l0, absorbed_at, period = _restore(resume, args, eng, rng)
        rec = resume.records
        strobes = [(a.copy(), b.copy(), c.copy()) for a, b, c in
                   zip(rec["strobe_stress"], rec["strobe_tauc"], rec["strobe_theta"],
                       strict=True)]
        s_stress = [float(x) for x in rec["s_stress"]]
        s_energy = [float(x) for x in rec["s_energy"]]
        ends = [int(x) for x in rec["ends"]]
        if per_cycle is not None:
            per_cycle.acc[:] = rec["cycle_acc"]
    if per_cycle is not None:
        per_cycle.ends = ends
    stream = None
    if sink is not None:
        assert isinstance(eng, CompiledPath)
        stream = _CycleStream(sink, float(dgamma), int(cycles), s_stress[0], ends)
        if resume is not None:
            stream.loop[:] = resume.records["loop_acc"]
            stream.prev = tuple(float(x) for x in resume.records["prev_gs"])
        eng.sink = stream.take
    where = [c0, l0]
    t_ckpt = _time.perf_counter() if checkpoint_since is None else float(checkpoint_since)
    t_prog = [0.0]

    def snapshot() -> AQSCheckpoint:
        assert isinstance(eng, CompiledPath)
        m = eng.n
        h = eng.held()  # rows not handed over (all of them without a sink)
        alog, ev = eng.log.checkpoint(eng.ipos)  # the log rows and events not handed over
        rec = {"protocol": np.array("cyclic"),
               **{k: np.array(v) for k, v in args.items()},
               "cycle": np.array(where[0]), "leg": np.array(where[1]),
               "absorbed_at": np.array(-1 if absorbed_at is None else absorbed_at),
               "period": np.array(-1 if period is None else period),
               "ipos": eng.ipos.copy(), "facc": eng.facc.copy(), "E0": eng.E0.copy(),
               "counts0": np.array([eng.events0, eng.aval0], np.int64),
               "pos": eng.pos[:h].copy(), "stress": eng.stress[:h].copy(),
               "stress_before": eng.stress_before[:h].copy(), "size": eng.size[:h].copy(),
               "plastic": eng.plastic[:h].copy(), "alog": alog,
               "strobe_stress": np.array([s[0] for s in strobes]),
               "strobe_tauc": np.array([s[1] for s in strobes]),
               "strobe_theta": np.array([s[2] for s in strobes]),
               "s_stress": np.array(s_stress), "s_energy": np.array(s_energy),
               "ends": np.array(ends, np.int64)}
        if stream is not None:
            rec["loop_acc"] = stream.loop.copy()
            rec["prev_gs"] = np.array(stream.prev)
        if per_cycle is not None:
            rec["cycle_acc"] = per_cycle.acc.copy()
        return AQSCheckpoint(AQSCheckpoint.state_dict(st), eng.base.copy(), np.zeros(3),
                             float(eng.facc[PK.BEXT]), int(eng.ipos[PK.KB]), m,
                             int(eng.ipos[PK.NAVAL]), rec, ev, rng.bit_generator.state)

    def tick() -> None:
        nonlocal t_ckpt
        interrupt.check()
        now = _time.perf_counter()
        if progress is not None and now - t_prog[0] >= 0.1:
            report(progress, min(eng.n / n_total, 1.0), st.n_events)
            t_prog[0] = now
        if checkpoint is not None and now - t_ckpt >= checkpoint_every:
            checkpoint(snapshot())
            t_ckpt = _time.perf_counter()

    if use_compiled and checkpoint is not None and checkpoint_every == 0:
        eng.chunk = 1
        eng.fixed_chunk = True
    for c in range(c0, int(cycles)):
        if absorbed_at is not None and until_absorbed:
            break
        for li, k_to in enumerate((n, -n, 0)):
            if c == c0 and li < l0:
                continue
            where[:] = c, li
            eng.leg(k_to, tick)
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
        where[:] = c + 1, 0
        if c + 1 < int(cycles):
            tick()
    report(progress, 1.0, st.n_events)
    nc = len(ends) - 1
    se = np.asarray(s_energy)
    if per_cycle is not None:
        assert isinstance(eng, CompiledPath)
        eng.log.hand_over(eng.ipos)
    if stream is not None:
        assert isinstance(eng, CompiledPath)
        eng.hand_over()
        av = eng.avalanches()
        av_cycle = (np.searchsorted(np.asarray(ends), av.step, side="right") - 1
                    if av.step.size else np.zeros(0, np.int64))
        loop = stream.loop[:nc].copy()
        e, ei = np.zeros(0), np.zeros(0, np.int64)
        recs = (e, e.copy(), e.copy(), ei, e.copy(), ei.copy())
    else:
        nst = eng.n
        gamma = eng.pos[:nst] * dgamma
        cyc = np.zeros(nst, np.int64)
        for c in range(len(ends) - 1):
            cyc[ends[c]:ends[c + 1]] = c
        # loop work: trapezoid over steps (exact: affine between avalanches)
        prev_g = np.concatenate([[0.0], gamma[:-1]])
        prev_s = np.concatenate([[s_stress[0]], eng.stress[:nst - 1]])
        work_step = (gamma - prev_g) * 0.5 * (prev_s + eng.stress_before[:nst])
        av = eng.avalanches()
        av_cycle = cyc[av.step] if av.step.size else np.zeros(0, np.int64)
        loop = np.bincount(cyc, work_step, minlength=nc)[:nc]
        recs = (gamma, eng.stress[:nst].copy(), eng.stress_before[:nst].copy(),
                eng.size[:nst].copy(), eng.plastic[:nst].copy(), cyc)
    if per_cycle is not None:  # accumulated block by block (the same sums)
        diss, ev_f, pl_net, pl_abs = (a[:nc].copy() for a in per_cycle.acc)
        events = ev_f.astype(np.int64)
    else:
        diss = np.bincount(av_cycle, av.dissipation, minlength=nc)[:nc]
        events = np.bincount(av_cycle, av.size, minlength=nc)[:nc].astype(np.int64)
        pl_net = np.bincount(av_cycle, av.plastic, minlength=nc)[:nc]
        pl_abs = np.bincount(av_cycle, np.abs(av.plastic), minlength=nc)[:nc]
    return CyclicRun(
        st, *recs, np.asarray(s_stress), se,
        events, pl_net, pl_abs, loop, diss, loop - diss - np.diff(se), absorbed_at, period,
        None if absorbed_at is None else absorbed_at - period, av, float(n * dgamma),
        float(dgamma), float(alpha))


class _CycleLog:
    """The avalanche log of a :func:`cyclic` run streamed to ``log_sink``, and its per-cycle sums.

    Each block of the log (:class:`~femplastic.weakplane.drivers.path.LoopLog`) is added to
    the dissipation, events, net and absolute plastic strain of its avalanches' cycles
    (``ends`` the first step of each cycle so far) with ``np.add.at``, in avalanche order:
    the order of ``np.bincount`` over the whole log, the same bits. Then it goes on to the
    sink.
    """

    def __init__(self, sink: Callable[[str, dict[str, NDArray]], None], cycles: int) -> None:
        self.sink = sink
        self.acc = np.zeros((4, cycles))  # dissipation, events, plastic_net, plastic_abs
        self.ends: list[int] = [0]

    def take(self, kind: str, b: dict[str, NDArray]) -> None:
        if kind == "avalanches" and b["step"].size:
            cyc = np.searchsorted(np.asarray(self.ends), b["step"], side="right") - 1
            for row, x in zip(self.acc, (b["dissipation"], b["size"].astype(float),
                                         b["plastic"], np.abs(b["plastic"])), strict=True):
                np.add.at(row, cyc, x)
        self.sink(kind, b)


class _CycleStream:
    """The step records of a streamed :func:`cyclic` run, block by block.

    Turns the engine's blocks into the run's records (``gamma``, the cycle of each step)
    for ``sink`` and accumulates the loop work per cycle as the whole-run formula does
    (each step's trapezoid from the step before it, summed in step order with
    ``np.add.at``, the order of ``np.bincount``): the same bits.
    """

    def __init__(self, sink: Callable[[dict[str, NDArray]], None], dgamma: float,
                 cycles: int, s_start: float, ends: list[int]) -> None:
        self.sink, self.dgamma, self.ends = sink, dgamma, ends
        self.loop = np.zeros(cycles)
        self.prev = (0.0, float(s_start))  # gamma and stress of the step before the block

    def take(self, row0: int, b: dict[str, NDArray]) -> None:
        gamma = b["pos"] * self.dgamma
        k = gamma.shape[0]
        cyc = (np.searchsorted(np.asarray(self.ends), np.arange(row0, row0 + k),
                               side="right") - 1).astype(np.int64)
        prev_g = np.concatenate([[self.prev[0]], gamma[:-1]])
        prev_s = np.concatenate([[self.prev[1]], b["stress"][:-1]])
        np.add.at(self.loop, cyc, (gamma - prev_g) * 0.5 * (prev_s + b["stress_before"]))
        self.prev = (float(gamma[-1]), float(b["stress"][-1]))
        self.sink({"gamma": gamma, "stress": b["stress"], "stress_before": b["stress_before"],
                   "avalanche_size": b["size"], "plastic": b["plastic"], "cycle": cyc})


def _restore(ck: AQSCheckpoint, args: dict, eng: CompiledPath, rng: np.random.Generator
             ) -> tuple[int, int, int | None, int | None]:
    """Load a cyclic checkpoint into ``eng`` and ``rng``; returns (cycle, leg, absorbed, period)."""
    rec = ck.records
    if str(rec.get("protocol", "")) != "cyclic":
        raise ValueError(f"resume: not a cyclic checkpoint (protocol "
                         f"{str(rec.get('protocol', 'aqs'))!r})")
    check_resume_args(rec, args)
    st = eng.state
    ipos = loop_ipos(rec, st.model.dim)
    ck.restore_state(st)
    rng.bit_generator.state = ck.rng_state
    eng.base[:] = ck.base
    eng.ipos[:] = ipos
    eng.facc[:] = rec["facc"]
    eng.E0[:] = rec["E0"]
    eng.events0, eng.aval0 = (int(x) for x in rec["counts0"])
    m = int(ck.done) - int(eng.ipos[PK.R0])  # the rows not handed over
    for name in ("pos", "stress", "stress_before", "size", "plastic"):
        getattr(eng, name)[:m] = rec[name]
    eng.log.restore(rec["alog"], ck.events)
    eng._sync()
    ab, pe = int(rec["absorbed_at"]), int(rec["period"])
    return (int(rec["cycle"]), int(rec["leg"]), None if ab < 0 else ab,
            None if pe < 0 else pe)

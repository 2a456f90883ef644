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
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ... import interrupt, validation
from .. import path_kernels as PK
from ..energy import elastic_energy
from ..npblas import on_one_thread
from ..params import ModelParams
from ..state import State
from .avalanche_log import LOG_COLUMNS, AvalancheLog
from .checkpoint import AQSCheckpoint
from .path import (
    CompiledPath,
    StrainPath,
    choose_compiled,
    restore_loop,
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
    cycles_run : int
        Completed cycles (:attr:`n_cycles`).

    Notes
    -----
    With ``log_sink`` the per-cycle records went to it (``"cycles"`` blocks): ``events`` ...
    ``balance`` are then empty and ``strobe_stress``, ``strobe_energy`` hold the last entry
    only (the state at the end), so that the blocks' columns followed by them are the arrays
    of the run without a sink.
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
    cycles_run: int = -1

    @property
    def n_cycles(self) -> int:
        """Completed cycles (also when the per-cycle records went to ``log_sink``)."""
        return int(self.events.size) if self.cycles_run < 0 else int(self.cycles_run)


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
        included, and the avalanche log are kept unless ``log_sink`` streams them). A
        checkpoint holds the rows not yet handed over; resume with the same ``sink_rows``.
    sink_rows : int
        Steps per block handed to ``sink`` (>= 1), and avalanches (events) per block
        handed to ``log_sink``.
    log_sink : callable, optional
        Streams the avalanche log, the events and the per-cycle records (compiled loop,
        :class:`~femplastic.weakplane.drivers.avalanche_log.LoopLog`): ``log_sink("avalanches",
        block)`` gets the log's columns (``step, gamma, ..., dissipation``) every
        ``sink_rows`` avalanches, ``log_sink("events", block)`` the events' (with
        ``record_events``) every ``sink_rows`` events or so, ``log_sink("cycles", block)``
        the per-cycle records (``strobe_stress, strobe_energy`` at each cycle's start,
        ``events, plastic_net, plastic_abs, loop_work, dissipation, balance``) every
        ``sink_rows`` cycles, the rest at the end; the blocks, concatenated, are the arrays
        of the run without it, bit for bit (the strobes' last entry, the end state's, stays
        in the returned run). The returned log and per-cycle records are then empty
        (:class:`CyclicRun`). With ``sink`` too, a cycle's row is handed over once its
        steps and avalanches have been, so memory holds about ``sink_rows`` rows of each
        kind whatever the number of cycles; a checkpoint holds the rows not yet handed
        over.

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
    validation.params_match(state, params)
    n = validation.lattice_multiple("gamma_max", gamma_max, "dgamma", dgamma)  # (checked above)
    use_compiled = choose_compiled(state, compiled, checkpoint, resume, checkpoint_every)
    streaming = sink_args(sink, log_sink, sink_rows, use_compiled)
    args = {"gamma_max": float(n * dgamma), "dgamma": float(dgamma), "alpha": float(alpha),
            "cycles": int(cycles), "until_absorbed": bool(until_absorbed),
            "max_period": int(max_period), "stress_atol": float(stress_atol),
            "record_events": bool(record_events), **streaming}
    n_total = 4 * n * int(cycles)
    eng: CompiledPath | StrainPath
    per_cycle = None if log_sink is None else _CycleLog(log_sink)
    if use_compiled:
        eng = CompiledPath(state, rng, dgamma, alpha, n_total, record_events,
                           rows=None if sink is None else int(sink_rows),
                           log_sink=None if per_cycle is None else per_cycle.take,
                           log_rows=int(sink_rows))
    else:
        eng = StrainPath(state, rng, dgamma, alpha, n_total, record_events)
    st = eng.state
    strobes = [_snapshot(st)]
    sums = _CycleSums(log_sink, int(sink_rows), st.external_stress(alpha),
                      elastic_energy(st, None, eng.w))
    absorbed_at = period = None
    c0, l0 = 0, 0
    if resume is not None:
        c0, l0, absorbed_at, period = _restore(resume, args, eng, rng)
        rec = resume.records
        strobes = [(a.copy(), b.copy(), c.copy()) for a, b, c in
                   zip(rec["strobe_stress"], rec["strobe_tauc"], rec["strobe_theta"],
                       strict=True)]
        sums.restore(rec)
    if per_cycle is not None:
        per_cycle.sums = sums
    stream = None
    if sink is not None:
        assert isinstance(eng, CompiledPath)
        stream = _CycleStream(sink, float(dgamma), sums)
        eng.sink = stream.take
    # the per-cycle rows are settled (and streamed) as the run goes when both the step
    # records and the log stream; otherwise at the end, from the records held
    live = sink is not None and log_sink is not None
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
               **sums.checkpoint()}
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
        sums.end_cycle(eng.n, st.external_stress(alpha), elastic_energy(st, None, eng.w))
        if live:
            assert isinstance(eng, CompiledPath)
            held = eng.log.held(eng.ipos)  # the first avalanche not handed over yet
            sums.settle(int(eng.ipos[PK.R0]), eng.log.alog[0, 0] if held else eng.n)
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
    if per_cycle is not None:
        assert isinstance(eng, CompiledPath)
        eng.log.hand_over(eng.ipos)
    if stream is not None:
        assert isinstance(eng, CompiledPath)
        eng.hand_over()
        e, ei = np.zeros(0), np.zeros(0, np.int64)
        recs = (e, e.copy(), e.copy(), ei, e.copy(), ei.copy())
    else:
        nst = eng.n
        gamma = eng.pos[:nst] * dgamma
        cyc = sums.steps(0, gamma, eng.stress[:nst], eng.stress_before[:nst])
        recs = (gamma, eng.stress[:nst].copy(), eng.stress_before[:nst].copy(),
                eng.size[:nst].copy(), eng.plastic[:nst].copy(), cyc)
    av = eng.avalanches()
    if per_cycle is None:  # the whole log, in avalanche order
        sums.avalanches({k: getattr(av, k) for k in LOG_COLUMNS})
    sums.settle(eng.n, np.inf)
    sums.emit(final=True)
    cols = sums.held()
    s_stress = np.concatenate([cols["strobe_stress"], sums.s[-1:]])
    s_energy = np.concatenate([cols["strobe_energy"], sums.e[-1:]])
    return CyclicRun(
        st, *recs, s_stress, s_energy, *(cols[k] for k in _CYCLE_COLUMNS[2:]), absorbed_at,
        period, None if absorbed_at is None else absorbed_at - period,
        av, float(n * dgamma), float(dgamma), float(alpha), sums.settled)


#: Columns of the per-cycle rows (:func:`cyclic`'s ``log_sink("cycles", block)``), in order:
#: the stroboscopic stress and energy at the cycle's start, then the cycle's sums.
_CYCLE_COLUMNS = ("strobe_stress", "strobe_energy", "events", "plastic_net", "plastic_abs",
                  "loop_work", "dissipation", "balance")


class _CycleSums:
    """The per-cycle records of a :func:`cyclic` run, summed and settled cycle by cycle.

    Holds the cycles still *open* (from cycle :attr:`c0` on): the first step of each
    (``ends``), the stroboscopic stress and energy at its start (and at the end of the last
    one ended), and its sums: loop work, dissipation, events, net and absolute plastic
    strain. The step records (:meth:`steps`, the trapezoid of each step from the step before
    it) and the avalanche log (:meth:`avalanches`) are added block by block with
    ``np.add.at`` in row order, the order of ``np.bincount`` over the whole run: the same
    bits. A cycle is *settled* (:meth:`settle`) once it has ended and every step and
    avalanche of it has been added; its row (:data:`_CYCLE_COLUMNS`) then waits in
    :attr:`pending`, handed to ``sink("cycles", block)`` ``rows`` at a time when there is a
    sink (:meth:`emit`), kept otherwise. Memory holds the open cycles and at most ``rows``
    settled ones.
    """

    def __init__(self, sink: Callable[[str, dict[str, NDArray]], None] | None, rows: int,
                 s_start: float, e_start: float) -> None:
        self.sink, self.rows = sink, max(1, int(rows))
        self.c0 = 0  # first open cycle
        self.ends: list[int] = [0]  # first step of each open cycle and of the current one
        self.s: list[float] = [float(s_start)]
        self.e: list[float] = [float(e_start)]
        self.acc = np.zeros((5, 16))  # loop work, dissipation, events, net, abs plastic
        self.prev = (0.0, float(s_start))  # gamma and stress of the step before the next
        self.pending: list[NDArray] = []  # settled rows (8, k), not handed over
        self.settled = 0  # cycles settled
        self.handed = 0  # cycle rows handed to the sink

    def _index(self, steps: NDArray) -> NDArray[np.int64]:
        """Column of :attr:`acc` (open cycle) of each step index."""
        return (np.searchsorted(np.asarray(self.ends), steps, side="right") - 1
                ).astype(np.int64)

    def steps(self, row0: int, gamma: NDArray, stress: NDArray, stress_before: NDArray
              ) -> NDArray[np.int64]:
        """Add the loop work of step rows ``row0 ..``; returns their cycles."""
        k = gamma.shape[0]
        idx = self._index(np.arange(row0, row0 + k))
        if k:
            prev_g = np.concatenate([[self.prev[0]], gamma[:-1]])
            prev_s = np.concatenate([[self.prev[1]], stress[:-1]])
            np.add.at(self.acc[0], idx, (gamma - prev_g) * 0.5 * (prev_s + stress_before))
            self.prev = (float(gamma[-1]), float(stress[-1]))
        return idx + self.c0

    def avalanches(self, b: dict[str, NDArray]) -> None:
        """Add a block of the avalanche log (columns of :data:`LOG_COLUMNS`)."""
        if b["step"].size:
            idx = self._index(b["step"])
            for row, x in zip(self.acc[1:], (b["dissipation"], b["size"].astype(float),
                                             b["plastic"], np.abs(b["plastic"])), strict=True):
                np.add.at(row, idx, x)

    def end_cycle(self, n_steps: int, s_end: float, e_end: float) -> None:
        """The current cycle ended after ``n_steps`` steps, in this stress and energy."""
        self.ends.append(int(n_steps))
        self.s.append(float(s_end))
        self.e.append(float(e_end))
        if len(self.ends) > self.acc.shape[1]:
            a = np.zeros((5, 2 * self.acc.shape[1]))
            a[:, :self.acc.shape[1]] = self.acc
            self.acc = a

    def settle(self, steps_done: int, log_next: float) -> None:
        """Settle the ended cycles whose steps and avalanches have all been added.

        Those are the cycles that ended before step ``steps_done`` (the steps added so far)
        and before ``log_next`` (the step of the first avalanche not added yet); then emit
        the full blocks.
        """
        k = 0
        while k < len(self.ends) - 1 and self.ends[k + 1] <= steps_done \
                and self.ends[k + 1] <= log_next:
            k += 1
        if k == 0:
            return
        a = self.acc
        e = np.asarray(self.e[:k + 1])
        bal = a[0, :k] - a[1, :k] - np.diff(e)
        self.pending.append(np.vstack([np.asarray(self.s[:k]), e[:k], a[2, :k], a[3, :k],
                                       a[4, :k], a[0, :k], a[1, :k], bal]))
        w = len(self.ends)
        a[:, :w - k] = a[:, k:w].copy()
        a[:, w - k:w] = 0.0
        del self.ends[:k], self.s[:k], self.e[:k]
        self.c0 += k
        self.settled += k
        self.emit()

    def _columns(self, block: NDArray) -> dict[str, NDArray]:
        out = {name: block[i].copy() for i, name in enumerate(_CYCLE_COLUMNS)}
        out["events"] = out["events"].astype(np.int64)
        return out

    def emit(self, final: bool = False) -> None:
        """Hand ``rows`` settled rows at a time to the sink (``final``: the rest too)."""
        if self.sink is None or not self.pending:
            return
        held = np.hstack(self.pending)
        i = 0
        while held.shape[1] - i >= self.rows or (final and i < held.shape[1]):
            j = min(i + self.rows, held.shape[1])
            self.sink("cycles", self._columns(held[:, i:j]))
            self.handed += j - i
            i = j
        self.pending = [held[:, i:]] if i < held.shape[1] else []

    def held(self) -> dict[str, NDArray]:
        """The settled rows not handed over, as columns."""
        return self._columns(np.hstack(self.pending) if self.pending else np.zeros((8, 0)))

    def checkpoint(self) -> dict[str, NDArray]:
        """What a checkpoint holds of it (the open cycles and the rows not handed over)."""
        w = len(self.ends)
        return {"cyc0": np.array(self.c0), "ends": np.array(self.ends, np.int64),
                "s_stress": np.array(self.s), "s_energy": np.array(self.e),
                "cycle_sums": self.acc[:, :w].copy(), "prev_gs": np.array(self.prev),
                "cycle_rows": np.hstack(self.pending) if self.pending else np.zeros((8, 0)),
                "cycles_handed": np.array(self.handed)}

    def restore(self, rec: Any) -> None:
        """Continue from a checkpoint's records (:meth:`checkpoint`).

        Or from those of an older version, which held every cycle from 0: ``ends``,
        ``s_stress``, ``s_energy`` and, when they streamed, the loop work ``loop_acc`` and
        the log's sums ``cycle_acc``.
        """
        self.ends = [int(x) for x in rec["ends"]]
        self.s = [float(x) for x in rec["s_stress"]]
        self.e = [float(x) for x in rec["s_energy"]]
        w = len(self.ends)
        self.acc = np.zeros((5, max(16, 2 * w)))
        if "cyc0" in rec:
            self.c0 = self.settled = int(rec["cyc0"])
            self.acc[:, :w] = rec["cycle_sums"]
            self.prev = tuple(float(x) for x in rec["prev_gs"])  # type: ignore[assignment]
            rows = np.asarray(rec["cycle_rows"], float).reshape(8, -1)
            self.pending = [rows] if rows.shape[1] else []
            self.handed = int(rec["cycles_handed"])
            return
        if "loop_acc" in rec:
            self.acc[0, :w] = rec["loop_acc"][:w]
            self.prev = tuple(float(x) for x in rec["prev_gs"])  # type: ignore[assignment]
        if "cycle_acc" in rec:
            self.acc[1:, :w] = rec["cycle_acc"][:, :w]


class _CycleLog:
    """The avalanche log of a :func:`cyclic` run streamed to ``log_sink``.

    Each block of the log (:class:`~femplastic.weakplane.drivers.avalanche_log.LoopLog`) is added to
    the per-cycle sums (:class:`_CycleSums`), then goes on to the sink.
    """

    def __init__(self, sink: Callable[[str, dict[str, NDArray]], None]) -> None:
        self.sink = sink
        self.sums: _CycleSums | None = None

    def take(self, kind: str, b: dict[str, NDArray]) -> None:
        if kind == "avalanches":
            assert self.sums is not None
            self.sums.avalanches(b)
        self.sink(kind, b)


class _CycleStream:
    """The step records of a streamed :func:`cyclic` run, block by block.

    Turns the engine's blocks into the run's records (``gamma``, the cycle of each step)
    for ``sink`` and adds their loop work to the per-cycle sums (:meth:`_CycleSums.steps`).
    """

    def __init__(self, sink: Callable[[dict[str, NDArray]], None], dgamma: float,
                 sums: _CycleSums) -> None:
        self.sink, self.dgamma, self.sums = sink, dgamma, sums

    def take(self, row0: int, b: dict[str, NDArray]) -> None:
        gamma = b["pos"] * self.dgamma
        cyc = self.sums.steps(row0, gamma, b["stress"], b["stress_before"])
        self.sink({"gamma": gamma, "stress": b["stress"], "stress_before": b["stress_before"],
                   "avalanche_size": b["size"], "plastic": b["plastic"], "cycle": cyc})


def _restore(ck: AQSCheckpoint, args: dict, eng: CompiledPath, rng: np.random.Generator
             ) -> tuple[int, int, int | None, int | None]:
    """Load a cyclic checkpoint into ``eng`` and ``rng``; returns (cycle, leg, absorbed, period)."""
    rec = ck.records
    eng.events0, eng.aval0 = restore_loop(ck, "cyclic", "cyclic", args, eng.state, rng,
                                          eng.ipos, eng.base, eng.facc, eng.E0)
    m = int(ck.done) - int(eng.ipos[PK.R0])  # the rows not handed over
    for name in ("pos", "stress", "stress_before", "size", "plastic"):
        getattr(eng, name)[:m] = rec[name]
    eng.log.restore(rec["alog"], ck.events)
    eng._sync()
    ab, pe = int(rec["absorbed_at"]), int(rec["period"])
    return (int(rec["cycle"]), int(rec["leg"]), None if ab < 0 else ab,
            None if pe < 0 else pe)

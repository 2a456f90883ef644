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
skipped exactly (event-driven), as in :func:`femplastic.aqs`. The ramp's last increment is
clipped so that it ends exactly at ``stress_end`` (:func:`ramp_steps`). The loop is compiled
(:func:`femplastic.weakplane.path_kernels.stress_chunk`, bitwise the Python loop kept for
propagators without a numba form).
"""

from __future__ import annotations

import math
import time as _time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ... import interrupt, threads, validation
from ...fe.elasticity import ddot
from .. import kernels as K
from ..bundles import kernel_state, work_buffers
from ..dimension import kernels_of, loading_tensor, path_kernels_of, resolve
from ..energy import elastic_energy
from ..npblas import on_one_thread, routines
from ..params import ModelParams
from ..state import State
from .avalanche_log import AvalancheLog, LoopLog
from .checkpoint import AQSCheckpoint
from .path import (
    area_weights,
    choose_compiled,
    first_chunk,
    restore_loop,
    sink_args,
)
from .progress import report
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


@interrupt.deferring
@on_one_thread
def stress_controlled(
    state: State,
    params: ModelParams | None,
    rng: np.random.Generator,
    stress_end: float,
    dstress: float = 1e-3,
    alpha: float = 0.0,
    gamma_limit: float = 1.0,
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
) -> StressRun:
    """Ramp the resolved external stress from its current value to ``stress_end``.

    The ramp ``Sigma_0 -> stress_end`` is made of increments ``dstress``; when the ramp is
    not a multiple of ``dstress`` (to a relative ``validation.LATTICE_RTOL``) the last
    increment is shorter, so the last target is exactly ``stress_end`` (``dstress`` larger
    than the ramp: one step).

    Parameters
    ----------
    state : State
        Starting state (stable; not modified).
    params : ModelParams or None
        Checked against ``state.model.params`` when given.
    rng : numpy.random.Generator
        Source of every random draw.
    stress_end : float
        Final resolved external stress (LJ units); the ramp goes up or down to it. At most
        0.5 G in magnitude (:data:`femplastic.validation.STRESS_MAX_G`, as ``run.stress_end``).
    dstress : float
        Stress increment (> 0).
    alpha : float
        Loading orientation (rad).
    gamma_limit : float
        Largest strain excursion ``|gamma|`` (> 0) before the run is declared flowing.
    record_events : bool
        Keep every slip event in ``run.avalanches.events``.
    progress : callable, optional
        Called with the fraction of the steps done (and the slip events so far when it sets
        ``wants_events``, :func:`~femplastic.weakplane.drivers.progress.report`), about every
        0.1 s.
    checkpoint : callable, optional
        Called with an :class:`~femplastic.weakplane.drivers.checkpoint.AQSCheckpoint` at an
        avalanche boundary whenever ``checkpoint_every`` seconds of wall time have passed
        since the start or the last checkpoint (``records["protocol"] == "stress"``).
    checkpoint_every : float
        Seconds between checkpoints (>= 0; 0: after every avalanche).
    resume : AQSCheckpoint, optional
        Continue the run that wrote this checkpoint: ``state`` must be that run's starting
        state, the other arguments the run's (checked); ``rng``'s state is set to the saved
        one. Records, logs and final state are bitwise those of the uninterrupted run.
    checkpoint_since : float, optional
        ``time.perf_counter()`` at the previous checkpoint (default: the start of this call),
        so that one checkpoint period can span several calls (as :func:`femplastic.aqs`).
    compiled : bool, optional
        Force the compiled loop (True) or the Python loop (False); default: compiled when
        available (:func:`~femplastic.weakplane.drivers.path.compiled_available`). Both give
        the same bits; checkpoints need the compiled loop.
    sink : callable, optional
        Streams the step records (compiled loop): ``sink(block)`` gets them every
        ``sink_rows`` steps (and the rest at the end), a dict of arrays ``target, stress,
        gamma, gamma_jump, avalanche_size`` in order, the same bits as the records held in
        memory; memory then holds one block whatever the ramp's length, and the returned
        step records are empty (the avalanche log is kept: one row per avalanche). A
        checkpoint holds the rows not yet handed over; resume with the same ``sink_rows``.
    sink_rows : int
        Steps per block handed to ``sink`` (>= 1), and avalanches (events) per block
        handed to ``log_sink``.
    log_sink : callable, optional
        Streams the avalanche log and the events (compiled loop,
        :class:`~femplastic.weakplane.drivers.avalanche_log.LoopLog`): ``log_sink("avalanches",
        block)`` gets the log's columns (``step, gamma, ..., dissipation``) every
        ``sink_rows`` avalanches, ``log_sink("events", block)`` the events' (with
        ``record_events``) every ``sink_rows`` events or so, the rest at the end; the blocks,
        concatenated, are the arrays of ``run.avalanches`` of the run without it, bit for
        bit. The returned log is then empty; a checkpoint holds the rows not yet handed over.

    Returns
    -------
    StressRun

    Notes
    -----
    The ramp runs in a compiled loop (:func:`femplastic.weakplane.path_kernels.stress_chunk`)
    in chunks of ~0.1 s: Ctrl-C raises KeyboardInterrupt within ~0.1 s, at an avalanche
    boundary.

    Examples
    --------
    >>> import numpy as np, femplastic as fp
    >>> p = fp.ModelParams(L=6, N=8, T=0.0)
    >>> rng = np.random.default_rng(0)
    >>> q = fp.quench(p, rng)
    >>> run = stress_controlled(q, p, rng, stress_end=0.2, dstress=0.03)
    >>> bool(np.allclose(run.stress, run.target, atol=1e-12)), run.flowed
    (True, False)
    >>> float(run.target[-1])     # the last increment is clipped onto the target
    0.2
    """
    validation.check_stress(state, rng, stress_end, dstress, alpha, gamma_limit, record_events)
    for name, val in (("stress_end", stress_end), ("alpha", alpha)):
        if not np.isfinite(val):
            raise ValueError(f"{name} must be finite, got {val!r}")
    if not np.isfinite(dstress) or dstress <= 0:
        raise ValueError(f"dstress must be > 0, got {dstress!r}")
    if not np.isfinite(gamma_limit) or gamma_limit <= 0:
        raise ValueError(f"gamma_limit must be > 0, got {gamma_limit!r}")
    validation.params_match(state, params)
    use_compiled = choose_compiled(state, compiled, checkpoint, resume, checkpoint_every)
    st = state.copy()
    m = st.model
    M = loading_tensor(m.dim, alpha)  # 2D: schmid(alpha)
    w = area_weights(m.mesh)
    v = np.ascontiguousarray(m.propagator.load_response(M))
    vbar = float(resolve(M, w @ v))  # 2D: ddot
    s0 = float(resolve(M, w @ st.stress))
    n_steps, p_last = ramp_steps(s0, stress_end, dstress)
    sense = 1.0 if stress_end > s0 else -1.0
    sink_args(sink, log_sink, sink_rows, use_compiled)  # (checked before any work)
    target = None if sink is not None else _targets(s0, sense * dstress, float(stress_end),
                                                    n_steps, 0, n_steps)
    ramp = (st, M, w, v, vbar, s0, n_steps, p_last, sense, target)
    if not use_compiled:
        return _python_ramp(rng, ramp, dstress, alpha, gamma_limit, record_events, progress)
    return _compiled_ramp(rng, ramp, dstress, alpha, gamma_limit, record_events, progress,
                          checkpoint, checkpoint_every, resume, float(stress_end),
                          checkpoint_since, sink, int(sink_rows), log_sink)


def _targets(s0: float, sds: float, stress_end: float, n_steps: int, a: int,
             b: int) -> NDArray[np.float64]:
    """Targets of steps ``a + 1 .. b``: ``s0 + (sense dstress) j``, the last ``stress_end``."""
    t = s0 + sds * np.arange(a + 1, b + 1)
    if b == n_steps and b > a:
        t[-1] = stress_end
    return t


def ramp_steps(s0: float, stress_end: float, dstress: float) -> tuple[int, float]:
    """Steps of the ramp ``s0 -> stress_end`` and the position of the last one.

    Parameters
    ----------
    s0, stress_end : float
        Starting and final resolved stress.
    dstress : float
        Increment (> 0).

    Returns
    -------
    n_steps : int
        ``ceil(|stress_end - s0| / dstress)`` (a ratio within a relative
        :data:`femplastic.validation.LATTICE_RTOL` of an integer counts as that integer).
    p_last : float
        Position of the last step on the lattice of increments, in ``(n_steps - 1, n_steps]``:
        ``n_steps`` for a whole ramp, shorter when the last increment is clipped onto
        ``stress_end``.

    Raises
    ------
    ValueError
        If ``stress_end`` equals ``s0`` (nothing to ramp).
    """
    q = abs(stress_end - s0) / dstress
    r = round(q)
    if r >= 1 and abs(q - r) <= validation.LATTICE_RTOL * r:
        return int(r), float(r)
    n = math.ceil(q)
    if n < 1 or q < 1e-9:
        raise ValueError(f"stress_end ({stress_end!r}) must differ from the current resolved "
                         f"stress Sigma_0 = {s0!r}: nothing to ramp")
    return int(n), float(n - 1) + (q - (n - 1))


def _position(j: int, n_steps: int, p_last: float) -> float:
    """Lattice position of step ``j`` (1-based): ``j``, the last one at ``p_last``."""
    return p_last if j == n_steps else j


def _python_ramp(rng: np.random.Generator, ramp: tuple, dstress: float, alpha: float,
                 gamma_limit: float, record_events: bool,
                 progress: Callable[..., None] | None) -> StressRun:
    """The ramp in Python (any propagator; the reference of :func:`_compiled_ramp`)."""
    st, M, w, v, vbar, s0, n_steps, p_last, sense, target = ramp
    m = st.model
    dgeq = dstress / vbar  # strain per stress increment on the elastic line
    vload = v if sense > 0 else np.ascontiguousarray(-v)
    law_f = m.law_arrays[1]
    ivm = K.load_rate_bounds(vload, law_f)
    gate = threads.Gate(st.n_elem)  # the free-core gate, looked at again as it runs
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
        K.trial_stress(base, vload, (_position(j, n_steps, p_last) - j_base) * dgeq, trial)
        return bool(K.any_active(trial, st.nv, st.tauc, law_f, st.sref, st.pref, st.margin))


    flowed = False
    done = 0  # steps recorded; the current position is always the last avalanche's (j_base)
    base_ext = s0
    t_prog = 0.0
    while done < n_steps:
        interrupt.check()
        if progress is not None and _time.perf_counter() - t_prog >= 0.1:
            report(progress, done / n_steps, st.n_events)
            t_prog = _time.perf_counter()
        cap = n_steps - done
        mstep = K.next_trigger(base, vload, dgeq, st.nv, st.tauc, law_f, st.sref, st.pref,
                               st.margin, cap + 1, ivm, gate.par)
        while mstep <= cap and not active(done + mstep):
            mstep += 1
        while mstep > 1 and active(done + mstep - 1):
            mstep -= 1
        j = min(done + mstep, n_steps + 1)
        # elastic steps done+1 .. j-1 on the line from the last avalanche
        jj = np.arange(done + 1, min(j, n_steps + 1))
        x = (np.where(jj == n_steps, p_last, jj) - j_base) * dgeq
        out_g[done:done + jj.size] = g_base + sense * x
        out_s[done:done + jj.size] = base_ext + sense * x * vbar
        done += jj.size
        if j > n_steps:
            break
        i = j - 1
        pj = _position(j, n_steps, p_last)
        K.trial_stress(base, vload, (pj - j_base) * dgeq, st.stress)
        g_start = g_base + sense * (pj - j_base) * dgeq
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
            n_ev, _, sweeps = relax_sweeps(st, rng, buf, after_sweep=after, gate=gate)
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
        x_end = (_position(n, n_steps, p_last) - _position(j_base, n_steps, p_last)) * dgeq
        K.trial_stress(base, vload, x_end, st.stress)
        st.macro_strain = E0 + out_g[n - 1] * M
    cols = list(zip(*aval, strict=True)) if aval else [()] * 8
    ints = {0, 4, 5}
    arr = [np.asarray(c, np.int64 if k in ints else float) for k, c in enumerate(cols)]
    events = None
    if record_events:
        events = buf.arrays()
        events["avalanche"] = np.asarray(ev_aval, np.int64)
    report(progress, 1.0, st.n_events)
    return StressRun(st, target[:n].copy(), out_s[:n].copy(), out_g[:n].copy(),
                     jump[:n].copy(), sizes[:n].copy(), AvalancheLog(*arr, events=events),
                     flowed, float(alpha), float(dstress))


def _compiled_ramp(rng: np.random.Generator, ramp: tuple, dstress: float, alpha: float,
                   gamma_limit: float, record_events: bool,
                   progress: Callable[..., None] | None,
                   checkpoint: Callable[[AQSCheckpoint], None] | None, checkpoint_every: float,
                   resume: AQSCheckpoint | None, stress_end: float,
                   checkpoint_since: float | None = None,
                   sink: Callable[[dict[str, NDArray]], None] | None = None,
                   sink_rows: int = 65536,
                   log_sink: Callable[[str, dict[str, NDArray]], None] | None = None
                   ) -> StressRun:
    """The ramp on the compiled loop (:func:`femplastic.weakplane.path_kernels.stress_chunk`).

    With ``sink`` the step records live in arrays of ``sink_rows`` rows: the loop stops when
    they are full (``ROWS_FULL``), they are handed over and the loop goes on; with
    ``log_sink`` the avalanche log and events the same way (:class:`LoopLog`).
    """
    st, M, w, v, vbar, s0, n_steps, p_last, sense, target = ramp
    sds = sense * dstress
    rows = n_steps if sink is None else min(n_steps, sink_rows)
    m = st.model
    K, _, _ = kernels_of(m.dim)  # the dimension's compiled kernels and loop
    PK = path_kernels_of(m.dim)
    C = m.components
    dgeq = dstress / vbar
    vload = v if sense > 0 else np.ascontiguousarray(-v)
    law_f = m.law_arrays[1]
    ivm = K.load_rate_bounds(vload, law_f)
    tuner = threads.Tuner(threads.parallel_for(st.n_elem, gate=False))  # serial or threaded
    out_s = np.zeros(rows)
    out_g = np.zeros(rows)
    jump = np.zeros(rows)
    sizes = np.zeros(rows, np.int64)
    log = LoopLog(PK, st.n_elem, record_events, log_sink, sink_rows,
                  schmid=st.model.dim == 3)
    work = work_buffers(st.n_elem, C)
    E0 = st.macro_strain.copy()
    base = st.stress.copy()
    ipos = np.zeros(len(PK.IPOS), np.int64)
    facc = np.zeros(len(PK.FACC))
    facc[PK.BEXT] = s0
    events0, aval0 = st.n_events, st.n_avalanches
    args = {"stress_end": float(stress_end), "dstress": float(dstress), "alpha": float(alpha),
            "gamma_limit": float(gamma_limit), "record_events": bool(record_events),
            **sink_args(sink, log_sink, sink_rows, True)}
    if resume is not None:
        rec = resume.records
        events0, aval0 = restore_loop(resume, "stress", "stress-controlled", args, st, rng, ipos,
                                      base, facc, E0)
        d = int(resume.done) - int(ipos[PK.R0])  # the rows not handed over
        out_s[:d], out_g[:d], jump[:d], sizes[:d] = (rec[k] for k in
                                                    ("stress", "gamma", "jump", "size"))
        log.restore(rec["alog"], resume.events)

    def snapshot() -> AQSCheckpoint:
        d = int(ipos[PK.DONE_]) - int(ipos[PK.R0])  # rows held (the others handed over)
        alog, ev = log.checkpoint(ipos)  # the log rows and events not handed over
        rec = {"protocol": np.array("stress"), **{k: np.array(x) for k, x in args.items()},
               "ipos": ipos.copy(), "facc": facc.copy(), "E0": E0.copy(),
               "counts0": np.array([events0, aval0], np.int64),
               "stress": out_s[:d].copy(), "gamma": out_g[:d].copy(), "jump": jump[:d].copy(),
               "size": sizes[:d].copy(), "alog": alog}
        return AQSCheckpoint(AQSCheckpoint.state_dict(st), base.copy(), np.zeros(3),
                             float(facc[PK.BEXT]), int(ipos[PK.KB]), int(ipos[PK.DONE_]),
                             int(ipos[PK.NAVAL]), rec, ev, rng.bit_generator.state)

    last_g = [0.0]  # gamma of the last step handed over

    def hand_over() -> None:
        r0, d = int(ipos[PK.R0]), int(ipos[PK.DONE_])
        k = d - r0
        if sink is None or k <= 0:
            return
        sink({"target": _targets(s0, sds, stress_end, n_steps, r0, d),
              "stress": out_s[:k].copy(), "gamma": out_g[:k].copy(),
              "gamma_jump": jump[:k].copy(), "avalanche_size": sizes[:k].copy()})
        last_g[0] = float(out_g[k - 1])
        ipos[PK.R0] = d

    tramp = np.array([s0, sds, stress_end])
    system, law, cache = kernel_state(st)
    form = m.propagator.numba_form()
    gemv, ddot_ = routines()
    n = st.n_elem
    trial, half, vec = np.empty((n, C)), np.empty((n, C)), np.empty(n)
    every = checkpoint is not None and checkpoint_every == 0
    chunk = 1 if every else first_chunk(n)
    t_ckpt = _time.perf_counter() if checkpoint_since is None else float(checkpoint_since)
    while True:
        interrupt.check()
        t0 = _time.perf_counter()
        work0 = int(ipos[PK.NEV]) + 4 * int(ipos[PK.NAVAL])
        status = PK.stress_chunk(
            n_steps, p_last, chunk, form, gemv, ddot_, st.stress, st.prestress, base, v, vload,
            ivm, w, M, E0, dgeq, vbar, sense, tramp, gamma_limit, system, law, cache, work,
            log.events, log.ev_x, rng, record_events, 1_000_000, ipos, facc, out_s, out_g, jump,
            sizes, log.alog, trial, half, vec, tuner.par)
        if tuner.record(int(ipos[PK.NEV]) + 4 * int(ipos[PK.NAVAL]) - work0,
                        _time.perf_counter() - t0) and tuner.par:
            chunk = 1  # a threaded probe starts with one avalanche
        st.n_events = events0 + int(ipos[PK.NEV])
        st.n_avalanches = aval0 + int(ipos[PK.NAVAL])
        if status == PK.DONE:
            break
        if status == PK.ROWS_FULL:
            hand_over()
            continue
        if status == PK.RECORD_FULL:
            log.record_full()
            continue
        if status == PK.LOG_FULL:
            log.log_full(ipos)
            continue
        if status == PK.SWEEP_LIMIT:
            raise RuntimeError("relaxation did not stop after 1000000 sweeps")
        dt = _time.perf_counter() - t0
        if not every:
            chunk = max(1, min(4 * chunk, int(chunk * 0.1 / max(dt, 1e-6)), 1 << 40))
        report(progress, int(ipos[PK.DONE_]) / n_steps, st.n_events)
        if checkpoint is not None and _time.perf_counter() - t_ckpt >= checkpoint_every:
            checkpoint(snapshot())
            t_ckpt = _time.perf_counter()
    flowed = bool(ipos[PK.FLOWED])
    nd = int(ipos[PK.DONE_])
    jb = int(ipos[PK.KB])
    r0 = int(ipos[PK.R0])
    g_last = out_g[nd - 1 - r0] if nd > r0 else last_g[0]
    if flowed:
        st.macro_strain = E0 + g_last * M
    else:  # the state at the last step, on the elastic line
        x_end = (_position(nd, n_steps, p_last) - _position(jb, n_steps, p_last)) * dgeq
        K.trial_stress(base, vload, x_end, st.stress)
        st.macro_strain = E0 + g_last * M
    report(progress, 1.0, st.n_events)
    log.hand_over(ipos)  # (with a log_sink: the rest of the log; else nothing)
    av = log.avalanches(ipos)
    if sink is not None:
        hand_over()
        e = np.zeros(0)
        return StressRun(st, e, e.copy(), e.copy(), e.copy(), np.zeros(0, np.int64), av,
                         flowed, float(alpha), float(dstress))
    return StressRun(st, target[:nd].copy(), out_s[:nd].copy(), out_g[:nd].copy(),
                     jump[:nd].copy(), sizes[:nd].copy(), av, flowed, float(alpha),
                     float(dstress))

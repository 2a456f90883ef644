"""AQS along a piecewise-monotonic strain path: the engine of cyclic and reversed loading.

The rules are those of :func:`femplastic.aqs` (Castellanos et al., sec. 3.4): load in increments
``dgamma`` of ``E = E_0 + gamma M(alpha)``, relax at fixed strain after every increment that
makes a system active, skip exactly (event-driven) the increments that trigger nothing. Here
``gamma`` may go up and down: it follows the turning points of a path, on the lattice
``gamma = k dgamma`` with an *integer* position ``k``.

The loaded stress is always evaluated as ``base + ((k - k_base) dgamma) v`` from the stress
``base`` left by the last avalanche (at position ``k_base``), whatever the loading sense, so
a stretch of path that triggers nothing and returns to its starting position returns to the
*bit-identical* stress: an elastic cycle is exactly reversible. On a single rising leg the
records are those of :func:`femplastic.aqs` bit for bit; after a reversal they agree with a
new :func:`femplastic.aqs` run from the turning state to round-off (aqs restarts its affine
formula at the turning point).

Every avalanche is relaxed one synchronous sweep at a time
(:func:`femplastic.weakplane.drivers.sweeps.relax_sweeps`, the same trajectory as
:func:`femplastic.relax`), which yields its duration, the sweep of each event and its
dissipation, the drop of the elastic energy (:func:`femplastic.weakplane.energy.elastic_energy`)
at fixed strain.

:class:`CompiledPath` is the same engine on a compiled loop
(:func:`femplastic.weakplane.path_kernels.path_chunk`): the same records, logs and final
state bit for bit, with Python only between chunks of ~0.1 s. The drivers use it when
:func:`compiled_available` (a propagator with a numba form and numpy's BLAS found,
:mod:`femplastic.weakplane.npblas`) and :class:`StrainPath` otherwise.
"""

from __future__ import annotations

import time as _time
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ... import interrupt, threads, validation
from ...fe.elasticity import ddot
from .. import aqs_kernels as AK
from .. import kernels as K
from ..bundles import kernel_state, work_buffers
from ..dimension import kernels_of, loading_tensor, path_kernels_of, require_2d, resolve
from ..energy import elastic_energy
from ..npblas import routines
from ..state import State
from .avalanche_log import LOG_COLUMNS, AvalancheLog, LoopLog  # noqa: F401 (path's names)
from .sweeps import SweepBuffers, relax_sweeps

# (the avalanche log and the compiled loops' log: femplastic.weakplane.drivers.avalanche_log)
__all__ = ["CompiledPath", "StrainPath", "area_weights", "check_loop_layout",
           "check_resume_args", "choose_compiled", "compiled_available", "first_chunk",
           "loop_ipos", "sink_args"]


_WEIGHTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def area_weights(mesh: Any) -> NDArray[np.float64]:
    """``mesh.areas / mesh.areas.sum()`` (n_elem,), C-contiguous; a fresh copy per call.

    Computed once per mesh (the areas are a property evaluated from the nodes on every
    access, a fixed cost that short runs feel); the same bits as the expression.
    """
    w = _WEIGHTS.get(mesh)
    if w is None:
        a = mesh.areas
        w = np.ascontiguousarray(a / a.sum())
        _WEIGHTS[mesh] = w
    return w.copy()


def _path_setup(path: Any, state: State, rng: np.random.Generator, dgamma: float,
                alpha: float, n_steps: int) -> None:
    """Set what :class:`StrainPath` and :class:`CompiledPath` both hold on ``path``.

    A copy of ``state``, the load's Schmid tensor ``M``, element response ``v`` (and ``-v``), its
    rate bounds and weighted means, the starting strain and stress, and the per-step records of
    ``n_steps`` steps.
    """
    st = state.copy()
    path.state = st
    path.rng = rng
    path.dgamma = float(dgamma)
    m = st.model
    path.M = loading_tensor(m.dim, alpha)  # 2D: schmid(alpha)
    path.v = np.ascontiguousarray(m.propagator.load_response(path.M))
    path.vneg = np.ascontiguousarray(-path.v)
    path.ivm = kernels_of(m.dim)[0].load_rate_bounds(path.v, m.law_arrays[1])  # same for -v
    path.gate = threads.Gate(st.n_elem)  # the free-core gate, looked at again as it runs
    path.w = area_weights(m.mesh)
    path.vmean = path.w @ path.v
    path.vbar = float(resolve(path.M, path.vmean))  # 2D: ddot
    path.E0 = st.macro_strain.copy()
    path.base = st.stress.copy()
    path.k = 0  # lattice position
    path.n = 0  # steps recorded
    path.pos = np.zeros(n_steps, np.int64)
    path.stress = np.zeros(n_steps)
    path.stress_before = np.zeros(n_steps)
    path.size = np.zeros(n_steps, np.int64)
    path.plastic = np.zeros(n_steps)


class StrainPath:
    """Event-driven AQS on the integer strain lattice; call :meth:`leg` once per monotonic leg.

    Parameters
    ----------
    state : State
        Copied; the copy is driven (:attr:`state`).
    rng : numpy.random.Generator
    dgamma : float
        Strain increment (> 0).
    alpha : float
        Loading orientation (rad): ``E = E_0 + k dgamma M(alpha)``.
    n_steps : int
        Capacity of the step records (total number of increments of all legs).
    record_events : bool
        Keep every event (element, system, sweep ...) for the avalanche catalogue.

    Attributes
    ----------
    k : int
        Current lattice position (``gamma = k dgamma`` since the start).
    n : int
        Steps recorded.
    pos : (n_steps,) int64 ndarray
        Lattice position of each step.
    stress : (n_steps,) ndarray
        Resolved stress ``M(alpha) : <Sigma>`` after the step's avalanche.
    stress_before : (n_steps,) ndarray
        The same before it.
    size : (n_steps,) int64 ndarray
        Events of the step's avalanche.
    plastic : (n_steps,) ndarray
        Resolved plastic strain of the step's avalanche.
    """

    def __init__(self, state: State, rng: np.random.Generator, dgamma: float, alpha: float,
                 n_steps: int, record_events: bool = False) -> None:
        require_2d(state.model.params, "StrainPath (3D runs CompiledPath)")  # 2D kernels only
        _path_setup(self, state, rng, dgamma, alpha, n_steps)
        st = self.state
        self.k_base = 0
        self.trial = np.empty_like(self.base)
        self._set_base_stats()
        self.buf = SweepBuffers(st.n_elem)
        self.record_events = record_events
        self._aval: list[tuple] = []
        self._ev_aval: list[int] = []

    def _set_base_stats(self) -> None:
        self.base_mean = AK.weighted_mean(self.base, self.w)  # as aqs sums it
        self.base_ext = float(ddot(self.M, self.base_mean))

    def macro(self, k: int) -> NDArray[np.float64]:
        """Imposed mean strain (3,) at lattice position ``k``."""
        return self.E0 + (k * self.dgamma) * self.M

    def current_stress(self) -> NDArray[np.float64]:
        """Set ``state.stress`` (and ``macro_strain``) to the loaded stress at :attr:`k`."""
        K.trial_stress(self.base, self.v, (self.k - self.k_base) * self.dgamma, self.state.stress)
        self.state.macro_strain = self.macro(self.k)
        return self.state.stress

    def _quiet(self, upto: int, sense: int) -> None:
        """Record elastic steps from ``k + sense`` to ``upto`` (inclusive)."""
        cnt = (upto - self.k) * sense
        if cnt <= 0:
            return
        j = self.k + sense * np.arange(1, cnt + 1)
        x = (j - self.k_base) * self.dgamma
        s = self.base_ext + x * self.vbar
        sl = slice(self.n, self.n + cnt)
        self.pos[sl] = j
        self.stress[sl] = s
        self.stress_before[sl] = s
        self.n += cnt
        self.k = upto

    def _active_at(self, j: int) -> bool:
        st = self.state
        K.trial_stress(self.base, self.v, (j - self.k_base) * self.dgamma, self.trial)
        return bool(K.any_active(self.trial, st.nv, st.tauc, self.state.model.law_arrays[1],
                                 st.sref, st.pref, st.margin))

    def leg(self, k_to: int, tick: Callable[[], None] | None = None) -> None:
        """Drive from the current position to ``k_to`` (one monotonic leg).

        Parameters
        ----------
        k_to : int
            Target lattice position.
        tick : callable, optional
            Called after every avalanche (Ctrl-C, progress).
        """
        sense = 1 if k_to > self.k else -1
        st = self.state
        law_f = st.model.law_arrays[1]
        vload = self.v if sense > 0 else self.vneg
        while self.k != k_to:
            cap = (k_to - self.k) * sense
            K.trial_stress(self.base, self.v, (self.k - self.k_base) * self.dgamma, self.trial)
            cur = self.trial.copy()
            m = K.next_trigger(cur, vload, self.dgamma, st.nv, st.tauc, law_f, st.sref,
                               st.pref, st.margin, cap + 1, self.ivm, self.gate.par)
            while m <= cap and not self._active_at(self.k + sense * m):
                m += 1
            while m > 1 and self._active_at(self.k + sense * (m - 1)):
                m -= 1
            if m > cap:
                self._quiet(k_to, sense)
                return
            j = self.k + sense * m
            self._quiet(j - sense, sense)
            self._avalanche(j)
            if tick is not None:
                tick()

    def _avalanche(self, j: int) -> None:
        st = self.state
        x = (j - self.k_base) * self.dgamma
        K.trial_stress(self.base, self.v, x, st.stress)
        E = self.macro(j)
        st.macro_strain = E
        s_before = self.base_ext + x * self.vbar
        w_before = elastic_energy(st, E, self.w)
        pl_before = self.w @ st.eps_pl
        n0 = self.buf.n_events
        n_ev, _, sweeps = relax_sweeps(st, self.rng, self.buf, gate=self.gate)
        self.base[:] = st.stress
        self.k_base = j
        self._set_base_stats()
        plast = float(ddot(self.M, self.w @ st.eps_pl - pl_before))
        i = self.n
        self.pos[i] = j
        self.stress_before[i] = s_before
        self.stress[i] = self.base_ext
        self.size[i] = n_ev
        self.plastic[i] = plast
        self.n += 1
        self.k = j
        st.n_events += n_ev
        st.n_avalanches += 1
        diss = w_before - elastic_energy(st, E, self.w)
        self._aval.append((i, j * self.dgamma, s_before, self.base_ext, n_ev, sweeps, plast,
                           diss))
        self._ev_aval.extend([len(self._aval) - 1] * (self.buf.n_events - n0))
        if not self.record_events:  # keep the record small: only counts are needed
            self.buf.events[5][0] = 0
            self.buf.sweep.clear()
            self._ev_aval.clear()

    def avalanches(self) -> AvalancheLog:
        """The avalanche log so far (events included when recorded)."""
        cols = list(zip(*self._aval, strict=True)) if self._aval else [()] * 8
        ints = {0, 4, 5}
        arr = [np.asarray(c, np.int64 if i in ints else float) for i, c in enumerate(cols)]
        events = None
        if self.record_events:
            events = self.buf.arrays()
            events["avalanche"] = np.asarray(self._ev_aval, np.int64)
        return AvalancheLog(*arr, events=events)

    def finish(self) -> State:
        """The driven state at the current position (stress and ``macro_strain`` set)."""
        self.current_stress()
        return self.state


def check_resume_args(rec: Any, args: dict[str, Any]) -> None:
    """Refuse a checkpoint whose driver arguments differ from this call's, naming them.

    ``log_sink`` (whether the avalanche log streams) counts as False in a checkpoint
    written before it could.

    Parameters
    ----------
    rec : mapping
        The checkpoint's ``records``.
    args : dict
        This call's arguments (JSON-like scalars).

    Raises
    ------
    ValueError
        One line naming every differing argument with both values.
    """
    def saved(k: str) -> Any:
        if k in rec:
            return rec[k].item()
        return False if k == "log_sink" else None

    diff = [k for k, v in args.items() if saved(k) != v]
    if diff:
        details = ", ".join(f"{k}: checkpoint {saved(k)!r}, now {args[k]!r}" for k in diff)
        raise ValueError(f"resume: the checkpoint's arguments differ from this call's ({details})")


def restore_loop(ck: Any, protocol: str, what: str, args: dict[str, Any], st: State,
                 rng: np.random.Generator, ipos: NDArray[np.int64], base: NDArray[np.float64],
                 facc: NDArray[np.float64], E0: NDArray[np.float64]) -> tuple[int, int]:
    """Resume a compiled cyclic/stress loop: check the checkpoint, restore the common state.

    Refuses a checkpoint of another protocol (naming it ``what``) or of other arguments
    (:func:`check_resume_args`), then writes the loop position (:func:`loop_ipos`), the
    state's arrays and counters, the generator's state, the base stress, the loop's float
    accumulators and the starting strain into ``ipos``, ``st``, ``rng``, ``base``, ``facc``,
    ``E0`` (in place). The records each driver holds are its own to restore.

    Parameters
    ----------
    ck : AQSCheckpoint
    protocol : str
        ``records["protocol"]`` of the driver's checkpoints.
    what : str
        The protocol's name in the message.
    args : dict
        This call's arguments (:func:`check_resume_args`).
    st, rng, ipos, base, facc, E0
        The loop's state, generator and arrays, restored in place.

    Returns
    -------
    (int, int)
        The events and avalanches before the run began (``counts0``).
    """
    rec = ck.records
    if str(rec.get("protocol", "")) != protocol:
        raise ValueError(f"resume: not a {what} checkpoint (protocol "
                         f"{str(rec.get('protocol', 'aqs'))!r})")
    check_resume_args(rec, args)
    ipos[:] = loop_ipos(rec, st.model.dim)
    ck.restore_state(st)
    rng.bit_generator.state = ck.rng_state
    base[:] = ck.base
    facc[:] = rec["facc"]
    E0[:] = rec["E0"]
    events0, aval0 = (int(x) for x in rec["counts0"])
    return events0, aval0


def sink_args(sink: Any, log_sink: Any, sink_rows: Any, use_compiled: bool) -> dict[str, Any]:
    """Check the streaming arguments of a cyclic/stress driver; their checkpoint entries.

    Parameters
    ----------
    sink, log_sink : callable or None
        The step-record and avalanche-log sinks.
    sink_rows : int
        Rows per block (>= 1; checked when a sink is given).
    use_compiled : bool
        Whether the compiled loop runs (the sinks need it).

    Returns
    -------
    dict
        ``sink_rows`` (0 without any sink) and ``log_sink`` (bool), for the arguments a
        resume must repeat (:func:`check_resume_args`).

    Raises
    ------
    TypeError, ValueError
        A sink that is not callable, a bad ``sink_rows``, a sink without the compiled loop.
    """
    for name, fn in (("sink", sink), ("log_sink", log_sink)):
        if fn is not None:
            validation.integer("sink_rows", sink_rows, low=1)
            if not callable(fn):
                raise TypeError(f"{name} must be callable, got {type(fn).__name__}")
            if not use_compiled:
                raise ValueError(f"{name} needs the compiled loop (see compiled_available)")
    streams = sink is not None or log_sink is not None
    return {"sink_rows": int(sink_rows) if streams else 0, "log_sink": log_sink is not None}


def loop_ipos(rec: Any, dim: int = 2) -> NDArray[np.int64]:
    """A checkpoint's ``ipos`` in this version's layout (checked, :func:`check_loop_layout`).

    A checkpoint written before the avalanche log could stream lacks the last field
    (``log0``): its log holds every row, so it is 0.
    """
    check_loop_layout(rec, dim)
    PK = path_kernels_of(dim)
    ipos = np.zeros(len(PK.IPOS), np.int64)
    old = np.asarray(rec["ipos"], np.int64)
    ipos[:old.size] = old
    return ipos


def check_loop_layout(rec: Any, dim: int = 2) -> None:
    """Refuse a checkpoint whose compiled-loop state has another layout than this version's.

    Parameters
    ----------
    rec : mapping
        The checkpoint's ``records`` (``ipos``, ``facc``).
    dim : int
        The model's dimension (2 or 3): the layout of its loop, ``path_kernels_of(dim)``.

    Raises
    ------
    ValueError
        ``ipos`` or ``facc`` of another length (an older femplastic wrote it).
    """
    PK = path_kernels_of(dim)
    if np.asarray(rec["ipos"]).size not in (len(PK.IPOS), len(PK.IPOS) - 1) or \
            np.asarray(rec["facc"]).size != len(PK.FACC):
        raise ValueError(f"resume: the checkpoint's loop state has "
                         f"{np.asarray(rec['ipos']).size} fields, this version's "
                         f"{len(PK.IPOS)}: it was written by another femplastic version; "
                         f"rerun without resuming")


def first_chunk(n_elem: int) -> int:
    """Avalanches in the compiled loops' first call (then adapted to ~0.1 s per call).

    About ``2**15 / n_elem`` (at least 1): a fraction of a millisecond of work at any size,
    so that short runs do not pay a Python call per avalanche while the chunks grow.
    """
    return max(1, (1 << 15) // max(int(n_elem), 1))


def compiled_available(state: State) -> bool:
    """Whether the compiled loops can drive ``state`` bitwise as the Python loops would.

    They need the propagator's numba form and numpy's BLAS routines
    (:func:`femplastic.weakplane.npblas.routines`); otherwise the drivers use their Python
    loops (same trajectories).
    """
    return state.model.propagator.numba_form() is not None and routines() is not None


def choose_compiled(state: State, compiled: bool | None, checkpoint: Any, resume: Any,
                    checkpoint_every: float) -> bool:
    """The cyclic and stress drivers' choice of loop, and the checks that go with it.

    Parameters
    ----------
    state : State
        The state to drive.
    compiled : bool or None
        The driver's ``compiled`` argument (None: the compiled loop when
        :func:`compiled_available`).
    checkpoint, resume : object or None
        The driver's ``checkpoint`` and ``resume`` arguments.
    checkpoint_every : float
        Seconds between checkpoints.

    Returns
    -------
    bool
        Whether to run the compiled loop.

    Raises
    ------
    ValueError
        ``checkpoint_every`` not finite or < 0; ``compiled=True`` without
        :func:`compiled_available`; checkpoint/resume on the Python loop.
    """
    if not np.isfinite(checkpoint_every) or checkpoint_every < 0:
        raise ValueError(f"checkpoint_every must be >= 0 seconds, got {checkpoint_every!r}")
    use_compiled = compiled_available(state) if compiled is None else bool(compiled)
    if state.model.dim == 3 and not use_compiled:
        raise ValueError("compiled=False: a 3D state (model.dim = 3) runs on the compiled loop "
                         "only")
    if use_compiled and not compiled_available(state):
        raise ValueError("compiled=True: the compiled loop needs a propagator with a numba form "
                         "and numpy's BLAS (femplastic.weakplane.npblas)")
    if (checkpoint is not None or resume is not None) and not use_compiled:
        raise ValueError("checkpoint/resume need the compiled loop (a propagator with a numba "
                         "form; see femplastic.weakplane.drivers.path.compiled_available)")
    return use_compiled


class CompiledPath:
    """:class:`StrainPath` on the compiled loop (``path_kernels.path_chunk``).

    Same parameters, attributes and records, bitwise; :meth:`leg` runs in chunks of
    avalanches of about 0.1 s and calls ``tick()`` between them (Ctrl-C, progress,
    checkpoints). Needs :func:`compiled_available`. A 3D state runs the 3D loop
    (:func:`femplastic.weakplane.dimension.path_kernels_of`), the only 3D path.

    With ``rows`` (< ``n_steps``) the step records (:attr:`pos` ...) hold that many rows,
    from row ``ipos[R0]`` on: when they are full, ``sink(row0, block)`` gets them (a dict
    ``pos, stress, stress_before, size, plastic`` of copies) and the loop goes on
    (:meth:`hand_over`; the same bits as records held whole). With ``log_sink`` the
    avalanche log and events stream the same way (:class:`LoopLog`, blocks of
    ``log_rows``).
    """

    def __init__(self, state: State, rng: np.random.Generator, dgamma: float, alpha: float,
                 n_steps: int, record_events: bool = False, rows: int | None = None,
                 sink: Callable[[int, dict[str, NDArray]], None] | None = None,
                 log_sink: Callable[[str, dict[str, NDArray]], None] | None = None,
                 log_rows: int = 65536) -> None:
        rows = n_steps if rows is None else max(1, min(int(rows), n_steps))
        _path_setup(self, state, rng, dgamma, alpha, rows)  # k, n: from ipos after chunks
        self.sink = sink
        st = self.state
        m = st.model
        self.PK = PK = path_kernels_of(m.dim)  # the dimension's compiled loops
        self.K, AK, _ = kernels_of(m.dim)
        C = m.components
        self.ipos = np.zeros(len(PK.IPOS), np.int64)
        self.facc = np.zeros(len(PK.FACC))
        self.facc[PK.BEXT] = float(resolve(self.M, AK.weighted_mean(self.base, self.w)))
        self.record_events = bool(record_events)
        self.log = LoopLog(PK, st.n_elem, record_events, log_sink, log_rows,
                           schmid=st.model.dim == 3)
        self.work = work_buffers(st.n_elem, C)
        n = st.n_elem
        self._tmp = (np.empty((n, C)), np.empty((n, C)), np.empty((n, C)), np.empty(n))
        self.events0 = st.n_events
        self.aval0 = st.n_avalanches
        self.chunk = first_chunk(n)
        self.fixed_chunk = False  # True: chunks of `chunk` avalanches (checkpoint_every = 0)
        self.form = m.propagator.numba_form()
        self.blas = routines()
        self.tuner = threads.Tuner(self.gate.grain)  # threaded or serial chunks: the faster
        if self.form is None or self.blas is None:
            raise ValueError("CompiledPath needs a propagator with a numba form and numpy's "
                             "BLAS (see compiled_available)")

    def macro(self, k: int) -> NDArray[np.float64]:
        """Imposed mean strain (C,) at lattice position ``k``."""
        return self.E0 + (k * self.dgamma) * self.M

    def current_stress(self) -> NDArray[np.float64]:
        """Set ``state.stress`` (and ``macro_strain``) to the loaded stress at :attr:`k`."""
        PK = self.PK
        kb = int(self.ipos[PK.KB])
        self.K.trial_stress(self.base, self.v, (self.k - kb) * self.dgamma, self.state.stress)
        self.state.macro_strain = self.macro(self.k)
        return self.state.stress

    def _sync(self) -> None:
        """Position, step count and the state's counters from the loop arrays."""
        PK = self.PK
        self.k = int(self.ipos[PK.K_])
        self.n = int(self.ipos[PK.NREC])
        self.state.n_events = self.events0 + int(self.ipos[PK.NEV])
        self.state.n_avalanches = self.aval0 + int(self.ipos[PK.NAVAL])

    def leg(self, k_to: int, tick: Callable[[], None] | None = None) -> None:
        """Drive from the current position to ``k_to`` (one monotonic leg).

        Parameters
        ----------
        k_to : int
            Target lattice position.
        tick : callable, optional
            Called between chunks (at avalanche boundaries, every ~0.1 s).
        """
        st = self.state
        PK = self.PK
        system, law, cache = kernel_state(st)
        cur, trial, half, vec = self._tmp
        gemv, ddot_ = self.blas
        log = self.log
        while True:
            interrupt.check()
            t0 = _time.perf_counter()
            work0 = int(self.ipos[PK.NEV]) + 4 * int(self.ipos[PK.NAVAL])
            status = PK.path_chunk(
                int(k_to), self.chunk, self.form, gemv, ddot_, st.stress, st.prestress,
                self.base, self.v, self.vneg, self.ivm, self.w, self.M, self.E0, self.dgamma,
                self.vbar, system, law, cache, self.work, log.events, log.ev_x, self.rng,
                self.record_events, 1_000_000, self.ipos, self.facc, self.pos, self.stress,
                self.stress_before, self.size, self.plastic, log.alog, cur, trial, half, vec,
                self.tuner.par)
            if self.tuner.record(int(self.ipos[PK.NEV]) + 4 * int(self.ipos[PK.NAVAL]) - work0,
                                 _time.perf_counter() - t0) and self.tuner.par:
                self.chunk = 1  # a threaded probe starts with one avalanche
            self._sync()
            if status == PK.DONE:
                return
            if status == PK.ROWS_FULL:
                self.hand_over()
                continue
            if status == PK.RECORD_FULL:
                log.record_full()
                continue
            if status == PK.LOG_FULL:
                log.log_full(self.ipos)
                continue
            if status == PK.SWEEP_LIMIT:
                raise RuntimeError("relaxation did not stop after 1000000 sweeps")
            dt = _time.perf_counter() - t0
            if not self.fixed_chunk:
                self.chunk = max(1, min(4 * self.chunk, int(self.chunk * 0.1 / max(dt, 1e-6)),
                                        1 << 40))
            if tick is not None:
                tick()

    def held(self) -> int:
        """Step records held (rows ``ipos[R0] .. n``, at the start of the record arrays)."""
        return int(self.ipos[self.PK.NREC] - self.ipos[self.PK.R0])

    def hand_over(self) -> None:
        """Give the held step records to ``sink`` (if any rows) and start the arrays afresh."""
        k = self.held()
        if self.sink is None:
            if k >= self.pos.shape[0]:
                raise RuntimeError("CompiledPath: step records full and no sink")
            return
        if k <= 0:
            return
        r0 = int(self.ipos[self.PK.R0])
        self.sink(r0, {"pos": self.pos[:k].copy(), "stress": self.stress[:k].copy(),
                       "stress_before": self.stress_before[:k].copy(),
                       "size": self.size[:k].copy(), "plastic": self.plastic[:k].copy()})
        self.ipos[self.PK.R0] = r0 + k

    def avalanches(self) -> AvalancheLog:
        """The avalanche log held (all of it without a ``log_sink``; events when recorded)."""
        return self.log.avalanches(self.ipos)

    def finish(self) -> State:
        """The driven state at the current position (stress and ``macro_strain`` set)."""
        self.current_stress()
        return self.state

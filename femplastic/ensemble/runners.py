"""Running an ensemble: the :class:`Ensemble` definition and its backends.

An :class:`Ensemble` runs a *realisation function* ``func(point, rng) -> dict`` for every
parameter point and every realisation index, and streams each result into one HDF5 store
(:mod:`femplastic.ensemble.store`) as it arrives. Any driver, probe or study becomes an
ensemble by writing such a function at the top level of a module (it must be importable by
name, i.e. picklable); the weak-plane model's
:func:`~femplastic.weakplane.ensembles.model_realization` (quench + AQS, full curves) and
:func:`~femplastic.weakplane.ensembles.model_statistics` (stationary statistics only, for
sweeps) are ready-made ones.

Seeds
    Realisation ``r`` of point ``i`` draws every random number from
    ``default_rng(SeedSequence(seed, spawn_key=(i, r)))``, the ``r``-th child of the ``i``-th
    child of ``SeedSequence(seed)``. Its result therefore depends on ``(seed, i, r)`` only:
    not on the number of workers, the order in which tasks finish, the number of realisations
    or whether the run was interrupted and resumed. With ``seeding="common"`` every point uses
    ``spawn_key=(r,)`` (common random numbers across points, which smooths the differences
    in a calibration sweep); realisation ``r`` then equals realisation ``r`` of
    ``femplastic run --seed seed``.

Where it runs
    * ``workers=1``: a serial loop in this process.
    * ``workers=W > 1`` (default: the CPUs available): ``W`` local worker processes
      (:class:`concurrent.futures.ProcessPoolExecutor`, ``spawn`` start method), no set-up.
    * ``scheduler="tcp://host:8786"`` or ``client=dask.distributed.Client(...)``: the tasks
      go to that Dask cluster (an HPC batch system through ``dask-jobqueue``, a cloud
      cluster, a ``LocalCluster``). ``client`` may also be any
      :class:`concurrent.futures.Executor` (e.g. an already warmed-up process pool, or
      ``mpi4py.futures.MPIPoolExecutor``). Dask is the optional extra
      ``pip install 'femplastic[distributed]'``.

    On SLURM (workers are single-threaded processes: the numba kernels hold the GIL)::

        from dask_jobqueue import SLURMCluster
        from dask.distributed import Client
        cluster = SLURMCluster(cores=32, processes=32, memory="64GB", walltime="04:00:00")
        cluster.adapt(minimum_jobs=1, maximum_jobs=20)
        ens.run(client=Client(cluster), setup=warmup_model)

    or start ``dask scheduler`` and ``srun dask worker --nthreads 1 ADDR`` in a batch job
    and run ``femplastic ensemble --scheduler ADDR ...`` (docs/howto/ensemble_reference.md).

Examples
--------
>>> import tempfile, pathlib, numpy as np
>>> from femplastic.ensemble import Ensemble, model_realization, load_store
>>> point = {"model.L": 5, "model.N": 4, "model.T": 0.0, "run.gamma_end": 0.05,
...          "run.dgamma": 1e-3}
>>> with tempfile.TemporaryDirectory() as tmp:
...     store = pathlib.Path(tmp) / "ens.h5"
...     ens = Ensemble(model_realization, point, realizations=2, seed=1, store=store)
...     report = ens.run(workers=1, progress=False)
...     again = ens.run(workers=1, progress=False)      # resumes: nothing left to do
...     data = load_store(store)
>>> report.computed, again.computed, again.skipped
(2, 0, 2)
>>> data.stack("stress").shape
(2, 50)
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import importlib
import multiprocessing
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .data import EnsembleData, load_store
from .store import _canonical_result, _check_int, _is_complete, _normalise_points, _open_h5, _Store

__all__ = ["Ensemble", "RunReport", "local_pool"]

#: ``func(point, rng) -> {name: array or scalar or str or nested dict}``
RealizationFunc = Callable[[dict[str, Any], np.random.Generator], Mapping[str, Any]]

DASK_MISSING = ("running on a Dask scheduler needs the optional dependency dask.distributed: "
                "pip install 'femplastic[distributed]'")


# ----------------------------------------------------------------------------- validation

def _func_name(func: Callable[..., Any]) -> str:
    """``module:qualname`` of a top-level function, checked to resolve back to ``func``."""
    if not callable(func):
        raise TypeError(f"func must be callable, got {type(func).__name__}")
    module = getattr(func, "__module__", None)
    qualname = getattr(func, "__qualname__", None)
    if not module or not qualname or "<" in qualname:
        raise TypeError(
            "func must be a function defined at the top level of a module (importable by name, "
            f"so that worker processes can unpickle it); got {func!r}. Pass extra arguments "
            "through the parameter point instead of a lambda, closure or functools.partial")
    try:
        obj: Any = sys.modules.get(module) or importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        obj = None
    if obj is not func:
        raise TypeError(f"func {module}:{qualname} cannot be found again by name; define it at "
                        "the top level of an importable module")
    # A function may name the public alias stores record (``ensemble_name``, e.g. a model's
    # realisation function re-exported by femplastic.ensemble): checked to resolve to it.
    alias = getattr(func, "ensemble_name", None)
    if isinstance(alias, str) and ":" in alias:
        mod, _, name = alias.partition(":")
        try:
            if getattr(importlib.import_module(mod), name, None) is func:
                return alias
        except ImportError:
            pass
    return f"{module}:{qualname}"




_SETUP_DONE: set[str] = set()
_SETUP_LOCK = threading.Lock()


def _ensure_setup(setup: Callable[[], Any] | None) -> None:
    """Run ``setup()`` once per process (worker warm-up), whichever backend runs the task."""
    if setup is None:
        return
    key = f"{setup.__module__}:{setup.__qualname__}"
    with _SETUP_LOCK:
        if key not in _SETUP_DONE:
            setup()
            _SETUP_DONE.add(key)


def _worker_threads() -> None:
    """Numba threads of a worker: ``$FEMPLASTIC_THREADS``, else one (workers fill the CPUs)."""
    from .. import threads

    threads.set_threads(threads.resolve() or 1)


def _watch_parent(parent: int, stop: Any = None, period: float = 0.1) -> None:
    """Exit this worker when its driver ``parent`` is gone or sets ``stop``.

    ``parent`` gone: the driver died, SIGKILL included; ``stop``: a shared
    ``multiprocessing`` flag (``RawValue``) the driver sets on Ctrl-C or a failure (no lock:
    setting it never waits, even when a worker died; an Event's ``set()`` waits for every
    sleeper to wake and hangs on a dead one).
    """
    while True:
        time.sleep(period)
        if os.getppid() != parent or (stop is not None and stop.value):
            os._exit(1)


def _worker_init(parent: int, setup: Callable[[], Any] | None, stop: Any = None) -> None:
    """Initializer of the local workers: die with the driver, leave Ctrl-C to it, warm up.

    A watchdog thread exits the process when its parent changes (the driver died, even by
    SIGKILL, and the worker was re-parented) or when the driver sets the flag ``stop``, so no
    worker outlives its ensemble and a Ctrl-C stops the workers at once, in the middle of a task.
    SIGINT is ignored: a Ctrl-C in the terminal reaches the whole process group, and the
    driver stops the workers itself.
    """
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker_threads()
    threading.Thread(target=_watch_parent, args=(parent, stop), daemon=True,
                     name="femplastic-watchdog").start()
    _ensure_setup(setup)


#: Attribute of the pools of :func:`local_pool` holding their workers' stop flag.
_STOP = "femplastic_stop"


def _terminate(pool: cf.ProcessPoolExecutor) -> None:
    """Stop a local pool now (Ctrl-C): end its workers, do not wait for their tasks.

    Public mechanisms only: the workers of :func:`local_pool` watch a shared
    ``multiprocessing`` flag and exit when it is set; Python >= 3.14's
    ``terminate_workers()`` for other pools. The finished workers are then reaped with
    ``multiprocessing.active_children()``.
    """
    stop = getattr(pool, _STOP, None)
    if stop is not None:
        stop.value = 1
    pool.shutdown(wait=False, cancel_futures=True)
    if stop is None and hasattr(pool, "terminate_workers"):  # pragma: no cover (3.14+)
        pool.terminate_workers()
    t0 = time.perf_counter()
    while multiprocessing.active_children() and time.perf_counter() - t0 < 2.0:
        time.sleep(0.02)


def _run_task(func: RealizationFunc, point: dict[str, Any], entropy: int,
              spawn_key: tuple[int, ...], setup: Callable[[], Any] | None
              ) -> tuple[dict[str, Any], float]:
    """One realisation on a worker: (canonical result, wall time in s)."""
    if threading.current_thread() is not threading.main_thread():
        _worker_threads()  # a Dask worker thread (numba's thread count is per thread)
    _ensure_setup(setup)
    t0 = time.perf_counter()
    rng = np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=spawn_key))
    result = func(dict(point), rng)
    return _canonical_result(result, f"{func.__qualname__}()"), time.perf_counter() - t0


def local_pool(workers: int, setup: Callable[[], Any] | None = None) -> cf.ProcessPoolExecutor:
    """``workers`` local processes (``spawn`` start method), each running ``setup()`` first.

    Pass it as ``Ensemble.run(client=...)`` to reuse warm workers across runs; close it with
    ``shutdown()`` or a ``with`` block.

    Parameters
    ----------
    workers : int
        Number of worker processes (>= 1).
    setup : callable, optional
        Function without arguments, defined at the top level of a module (e.g.
        :func:`~femplastic.weakplane.ensembles.warmup_model`), run once in each worker before
        its first task.

    Returns
    -------
    concurrent.futures.ProcessPoolExecutor
        The pool; the caller shuts it down.

    Raises
    ------
    ValueError
        If ``workers`` is not an integer >= 1.
    """
    workers = _check_int("workers", workers, 1)
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.RawValue("b", 0)  # set by the driver to stop the workers at once (Ctrl-C)
    pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                  initializer=_worker_init, initargs=(os.getpid(), setup, stop))
    setattr(pool, _STOP, stop)
    return pool


def _available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def _dask_client(scheduler: str, timeout: float = 10.0) -> Any:
    """Connect to ``scheduler``; a ValueError naming it if it does not answer in ``timeout``."""
    try:
        from distributed import Client
    except ImportError as exc:
        raise ImportError(DASK_MISSING) from exc
    try:
        return Client(scheduler, timeout=f"{timeout}s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise ValueError(f"--scheduler {scheduler!r}: no Dask scheduler answered within "
                         f"{timeout:g} s ({type(exc).__name__}: {exc}); is it running, and "
                         "is the address right (tcp://host:8786)?") from None


def _is_dask_client(client: Any) -> bool:
    mod = type(client).__module__ or ""
    return mod.split(".")[0] == "distributed"


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """SIGINT ignored in the block (main thread only).

    Processes spawned there inherit SIG_IGN from their first instruction, before any import
    (a worker still importing when Ctrl-C reaches the process group would print a traceback).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    import signal

    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler if old is None else old)


def _as_completed_polled(futures: list[cf.Future], period: float = 0.2) -> Iterator[cf.Future]:
    """Like ``as_completed``, with a Ctrl-C safe point every ``period`` seconds of waiting.

    The safe point is :func:`femplastic.interrupt.check`.
    """
    from .. import interrupt

    pending = set(futures)
    while pending:
        done, pending = cf.wait(pending, timeout=period, return_when=cf.FIRST_COMPLETED)
        interrupt.check()
        yield from done


# ----------------------------------------------------------------------------- the ensemble

@dataclass(frozen=True)
class RunReport:
    """What :meth:`Ensemble.run` did.

    Attributes
    ----------
    store : Path
        The HDF5 store.
    tasks : int
        Realisations the ensemble asks for (points x realizations).
    skipped : int
        Already complete in the store (not recomputed).
    computed : int
        Computed and written by this run.
    discarded : int
        Incomplete groups found in the store, deleted and recomputed.
    wall_s : float
        Wall time of this run, s.
    backend : str
        ``serial``, ``processes(W)``, ``dask(ADDRESS)`` or the executor's class name;
        ``none`` when nothing was left to compute.
    """

    store: Path
    tasks: int
    skipped: int
    computed: int
    discarded: int
    wall_s: float
    backend: str


class Ensemble:
    """One realisation function over parameter points and realisations (module docstring).

    Parameters
    ----------
    func : callable
        ``func(point, rng) -> dict``, defined at the top level of a module. ``point`` is a
        copy of one parameter dict, ``rng`` the realisation's ``numpy.random.Generator`` (the
        only source of randomness). The result maps names to arrays, numbers, bools, str or
        nested dicts of those. If ``func`` has an attribute ``validate_point`` it is called on
        every point before any work
        (:func:`~femplastic.weakplane.ensembles.model_realization` validates its config keys).
    points : dict or list of dict
        Parameter points, ``{name: bool | int | float | str}``; one dict is one point.
    realizations : int
        Realisations per point (>= 1).
    seed : int
        Root seed (>= 0).
    store : str or Path
        The HDF5 store (created, or resumed when it holds the same ensemble); keyword-only.
    seeding : {"independent", "common"}
        ``spawn_key=(point, r)`` or, for common random numbers across points, ``(r,)``.
        Default ``"independent"``.

    Raises
    ------
    TypeError
        If ``func`` is not a top-level function of an importable module, ``points`` is not a
        dict or a list of dicts, or a parameter value is not a bool, int, float or str.
    ValueError
        If ``points`` is empty or has a parameter name that is empty or contains ``/``;
        ``realizations`` is not an integer >= 1 or ``seed`` not an integer >= 0;
        ``seeding`` is not ``"independent"`` or ``"common"``; ``store`` is empty; or
        ``func.validate_point`` rejects a point (the message names it; a ``TypeError``
        from it is re-raised as such).

    Attributes
    ----------
    name : str
        ``module:qualname`` of ``func``.
    func : callable
        The realisation function.
    points : list of dict
        The parameter points, numpy scalars converted to Python ones.
    realizations : int
        Realisations per point.
    seed : int
        Root seed.
    seeding : str
        ``"independent"`` or ``"common"``.
    store : Path
        The HDF5 store.
    """

    def __init__(self, func: RealizationFunc,
                 points: Sequence[Mapping[str, Any]] | Mapping[str, Any],
                 realizations: int, seed: int = 0, *, store: str | Path,
                 seeding: str = "independent") -> None:
        self.name = _func_name(func)
        self.func = func
        self.points = _normalise_points(points)
        self.realizations = _check_int("realizations", realizations, 1)
        self.seed = _check_int("seed", seed, 0)
        if seeding not in ("independent", "common"):
            raise ValueError(f"seeding must be 'independent' or 'common', got {seeding!r}")
        self.seeding = seeding
        if store is None or str(store) == "":
            raise ValueError("store must be a file path")
        self.store = Path(store)
        validate = getattr(func, "validate_point", None)
        if validate is not None:
            for i, pt in enumerate(self.points):
                try:
                    validate(pt)
                except (ValueError, TypeError) as exc:
                    raise type(exc)(f"points[{i}]: {exc}") from None

    @property
    def definition(self) -> dict[str, Any]:
        """What identifies the ensemble in its store: func name, points, seed, seeding.

        Returns
        -------
        dict
            ``{"func": name, "points": points, "seed": seed, "seeding": seeding}``.
        """
        return {"func": self.name, "points": self.points, "seed": self.seed,
                "seeding": self.seeding}

    def spawn_key(self, point: int, realization: int) -> tuple[int, ...]:
        """The ``SeedSequence`` spawn key of realisation ``realization`` of point ``point``.

        Parameters
        ----------
        point : int
            Index of the parameter point.
        realization : int
            Realisation index.

        Returns
        -------
        tuple of int
            ``(point, realization)``, or ``(realization,)`` with ``seeding="common"``.
        """
        return (realization,) if self.seeding == "common" else (point, realization)

    def seed_sequence(self, point: int, realization: int) -> np.random.SeedSequence:
        """The realisation's ``SeedSequence`` (its rng is ``default_rng`` of it).

        Parameters
        ----------
        point, realization : int
            As for :meth:`spawn_key`.

        Returns
        -------
        numpy.random.SeedSequence
            ``SeedSequence(seed, spawn_key=spawn_key(point, realization))``.
        """
        return np.random.SeedSequence(self.seed, spawn_key=self.spawn_key(point, realization))

    def pending(self) -> list[tuple[int, int]]:
        """``(point, realization)`` pairs not yet complete in the store, realisation-major.

        Returns
        -------
        list of tuple of (int, int)
            Every pair when the store does not exist yet.

        Raises
        ------
        ValueError
            If the store exists but cannot be read as HDF5 (or is locked by another run).
        """
        done: list[set[int]] = [set() for _ in self.points]
        if self.store.exists():
            with _open_h5(self.store, "r") as f:
                if "points" in f:
                    for i in range(len(self.points)):
                        g = f["points"].get(f"p{i:04d}")
                        if g is not None:
                            done[i] = {int(n[1:]) for n in g if _is_complete(g[n])}
        return [(i, r) for r in range(self.realizations) for i in range(len(self.points))
                if r not in done[i]]

    def run(self, workers: int | None = None, scheduler: str | None = None,
            client: Any = None, setup: Callable[[], Any] | None = None,
            progress: bool | None = None) -> RunReport:
        """Compute every missing realisation and write it into the store.

        Parameters
        ----------
        workers : int, optional
            Local processes (default: the CPUs available, at most the pending tasks);
            1 runs a serial loop in this process. Not combinable with ``scheduler``/``client``.
        scheduler : str, optional
            Address of a running Dask scheduler (``tcp://host:8786``).
        client : dask.distributed.Client or concurrent.futures.Executor, optional
            Where to run; left open.
        setup : callable, optional
            Top-level function run once per worker process before its first task (e.g.
            :func:`~femplastic.weakplane.ensembles.warmup_model`, to load the compiled kernels).
        progress : bool, optional
            Progress bar with ETA on stderr; default: only when stderr is a terminal.

        Returns
        -------
        RunReport
            What was skipped, computed and discarded, on which backend.

        Raises
        ------
        ValueError
            If more than one of ``workers``, ``scheduler`` and ``client`` is given,
            ``workers`` is not an integer >= 1, ``scheduler`` is not a non-empty str, or the
            store is not an ensemble store, holds a different ensemble, or is open in another
            process.
        TypeError
            If ``client`` is neither a Dask client nor an executor, or ``setup`` is not a
            top-level function.
        ImportError
            If ``scheduler`` is given and ``dask.distributed`` is not installed.
        RuntimeError
            If ``func`` fails on a realisation (the realisations already finished are
            written first).
        """
        if sum(x is not None for x in (workers, scheduler, client)) > 1:
            raise ValueError("give at most one of workers, scheduler and client")
        if workers is not None:
            workers = _check_int("workers", workers, 1)
        if scheduler is not None and (not isinstance(scheduler, str) or not scheduler):
            raise ValueError(f"scheduler must be an address such as tcp://host:8786, got "
                             f"{scheduler!r}")
        if client is not None and not (_is_dask_client(client)
                                       or isinstance(client, cf.Executor)):
            raise TypeError("client must be a dask.distributed.Client or a "
                            f"concurrent.futures.Executor, got {type(client).__name__}")
        if setup is not None:
            _func_name(setup)
        if scheduler is not None:
            try:
                import distributed  # noqa: F401
            except ImportError as exc:
                raise ImportError(DASK_MISSING) from exc
        t0 = time.perf_counter()
        own = None
        if scheduler is not None:  # fail fast, before the store is created
            client = own = _dask_client(scheduler)
            scheduler = None
        try:
            store = _Store(self.store, self.definition, self.points, self.realizations)
        except BaseException:
            if own is not None:
                own.close()
            raise
        try:
            done = store.done()
            tasks = [(i, r) for r in range(self.realizations) for i in range(len(self.points))
                     if r not in done[i]]
            total = len(self.points) * self.realizations
            skipped = total - len(tasks)
            backend = "none"
            if tasks:
                show = sys.stderr.isatty() if progress is None else bool(progress)
                backend = self._execute(store, tasks, workers, scheduler, client, setup,
                                        show, skipped, total, own)
        finally:
            store.close()
            if own is not None and backend == "none":
                own.close()
        return RunReport(self.store, total, skipped, len(tasks), store.n_discarded,
                         time.perf_counter() - t0, backend)

    def load(self, keys: Sequence[str] | None = None) -> EnsembleData:
        """Read the store back (:func:`~femplastic.ensemble.data.load_store`).

        Parameters
        ----------
        keys : sequence of str, optional
            Read only these result keys.

        Returns
        -------
        EnsembleData
            The complete realisations of the store.

        Raises
        ------
        ValueError
            If the store does not exist or is not an ensemble store.
        """
        return load_store(self.store, keys=keys)

    # -- execution -------------------------------------------------------------------------

    def _execute(self, store: _Store, tasks: list[tuple[int, int]], workers: int | None,
                 scheduler: str | None, client: Any, setup: Callable[[], Any] | None,
                 show: bool, skipped: int, total: int, own: Any = None) -> str:
        from tqdm.auto import tqdm

        if client is None and scheduler is not None:
            client = own = _dask_client(scheduler)
        if client is None:
            workers = min(workers or _available_cpus(), len(tasks))
            if workers > 1:
                client = own = local_pool(workers, setup)
        if client is None:
            backend, results = "serial", self._serial(tasks, setup)
        elif _is_dask_client(client):
            backend = f"dask({getattr(client.scheduler, 'address', '?')})"
            results = self._dask(client, tasks, setup)
        else:
            backend = (f"processes({workers})" if own is not None
                       else type(client).__name__)
            results = self._futures(client, tasks, setup)
        bar = tqdm(total=total, initial=skipped, desc=f"ensemble {self.store.name}", unit="real",
                   disable=not show, dynamic_ncols=True, smoothing=0.1)
        ok = False
        try:
            for (i, r), data, wall in results:
                store.write(i, r, data, wall, self.spawn_key(i, r))
                bar.update(1)
            ok = True
        finally:
            results.close()
            bar.close()
            if own is not None:
                if isinstance(own, cf.ProcessPoolExecutor) and not ok:
                    _terminate(own)  # Ctrl-C or a failure: stop now, finished results kept
                elif isinstance(own, cf.Executor):
                    own.shutdown(wait=ok, cancel_futures=True)
                else:
                    own.close()
        return backend

    def _args(self, i: int, r: int, setup: Callable[[], Any] | None) -> tuple[Any, ...]:
        return (self.func, self.points[i], self.seed, self.spawn_key(i, r), setup)

    def _fail(self, i: int, r: int, exc: BaseException) -> RuntimeError:
        hint = ""
        if isinstance(exc, BrokenProcessPool):
            hint = (" (a worker process died: out of memory, a crash in native code, or a "
                    "script that starts the ensemble without an `if __name__ == '__main__':` "
                    "guard, which local worker processes need; finished realisations are kept)")
        return RuntimeError(f"{self.name} failed on realisation {r} of point {i} "
                            f"{self.points[i]}: {type(exc).__name__}: {exc}{hint}")

    def _serial(self, tasks: list[tuple[int, int]], setup: Callable[[], Any] | None
                ) -> Iterator[tuple[tuple[int, int], dict[str, Any], float]]:
        _ensure_setup(setup)
        for i, r in tasks:
            try:
                data, wall = _run_task(*self._args(i, r, None))
            except Exception as exc:
                raise self._fail(i, r, exc) from exc
            yield (i, r), data, wall

    def _collect(self, futs: dict[Any, tuple[int, int]], ordered: Iterator[Any],
                 finished_ok: Callable[[Any], bool]
                 ) -> Iterator[tuple[tuple[int, int], dict[str, Any], float]]:
        """Yield results as they complete; on a failure, first the others already finished.

        Each future is dropped once read, so its result can be freed (on Dask workers too).
        """
        for fut in ordered:
            i, r = futs.pop(fut)
            try:
                data, wall = fut.result()
            except Exception as exc:
                for other, (j, s) in list(futs.items()):
                    if finished_ok(other):
                        yield (j, s), *other.result()
                raise self._fail(i, r, exc) from exc
            del fut
            yield (i, r), data, wall

    def _futures(self, ex: cf.Executor, tasks: list[tuple[int, int]],
                 setup: Callable[[], Any] | None
                 ) -> Iterator[tuple[tuple[int, int], dict[str, Any], float]]:
        with _sigint_ignored():  # workers started now inherit SIG_IGN: Ctrl-C is the driver's
            futs = {ex.submit(_run_task, *self._args(i, r, setup)): (i, r) for i, r in tasks}
        try:
            yield from self._collect(
                futs, _as_completed_polled(list(futs)),
                lambda f: f.done() and not f.cancelled() and f.exception() is None)
        finally:
            for fut in futs:
                fut.cancel()

    def _dask(self, client: Any, tasks: list[tuple[int, int]], setup: Callable[[], Any] | None
              ) -> Iterator[tuple[tuple[int, int], dict[str, Any], float]]:
        from distributed import as_completed

        tag = uuid.uuid4().hex[:8]
        short = self.name.rsplit(":", 1)[-1]
        futs = {client.submit(_run_task, *self._args(i, r, setup), pure=False,
                              key=f"{short}-p{i:04d}-r{r:04d}-{tag}"): (i, r) for i, r in tasks}
        try:
            yield from self._collect(futs, as_completed(list(futs)),
                                     lambda f: f.status == "finished")
        finally:
            if futs:
                client.cancel(list(futs))


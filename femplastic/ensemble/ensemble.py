"""Ensembles: one function over realisations and parameter points, in one resumable HDF5 store.

An :class:`Ensemble` runs a *realisation function* ``func(point, rng) -> dict`` for every
parameter point and every realisation index, and streams each result into one HDF5 store as
it arrives. Any driver, probe or study becomes an ensemble by writing such a function at the
top level of a module (it must be importable by name, i.e. picklable); :func:`model_realization`
(quench + AQS of the weak-plane model, full curves) and :func:`model_statistics` (stationary
statistics only, for sweeps) are built in.

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
    and run ``femplastic ensemble --scheduler ADDR ...`` (docs_notes/ensemble.md).

Store layout
    ::

        /                          attrs: femplastic_version, created, params, seed (JSON),
                                          ensemble (the definition, canonical JSON),
                                          realizations (largest requested)
        /points/p0003              attrs: params (JSON) and every parameter, e.g. "model.L"
        /points/p0003/r0012/<key>  one dataset per result key (0-d for scalars; above 4096
                                   values shuffle + gzip, compressed by the worker); attrs:
                                   complete=1, spawn_key, wall_s, femplastic_version

    Only the driver process writes; workers return their results. Each result is written as
    it arrives, its group marked ``complete=1`` last, and the file flushed. Rerunning the
    same ensemble on the same store computes only what is missing: a killed run loses at most
    the realisations in flight, groups without ``complete`` are discarded and recomputed, and
    a store made by a different ensemble (function, points, seed or seeding) is refused with a
    ``ValueError``. More realisations than before extend the store.

Aggregation
    :func:`load_store` reads a store back (:class:`EnsembleData`), :func:`curve_stats` gives
    ensemble means and standard deviations of curves on a common grid, :func:`pooled`
    concatenates per-realisation arrays, :func:`bootstrap` gives the bootstrap error of any
    statistic, resampling whole realisations.

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
import importlib
import itertools
import json
import multiprocessing
import os
import sys
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from numpy.typing import NDArray

from ..weakplane.params import Config, apply_overrides, config_from_dict, load_config

__all__ = [
    "Ensemble",
    "RunReport",
    "EnsembleData",
    "CurveStats",
    "Bootstrap",
    "load_store",
    "curve_stats",
    "pooled",
    "bootstrap",
    "model_realization",
    "model_statistics",
    "model_config",
    "config_point",
    "grid_points",
    "warmup_model",
    "local_pool",
    "summary_table",
]

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
    # Record the shortest public path (``femplastic.ensemble:model_realization``, not the
    # defining submodule), so stores keep their names when modules are reorganised.
    parts = module.split(".")
    for i in range(1, len(parts)):
        parent = ".".join(parts[:i])
        if "." not in qualname and getattr(sys.modules.get(parent), qualname, None) is func:
            return f"{parent}:{qualname}"
    return f"{module}:{qualname}"


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _normalise_points(points: Sequence[Mapping[str, Any]] | Mapping[str, Any]
                      ) -> list[dict[str, Any]]:
    if isinstance(points, Mapping):
        points = [points]
    if isinstance(points, str | bytes) or not isinstance(points, Sequence):
        raise TypeError(f"points must be a dict or a list of dicts, got {type(points).__name__}")
    if len(points) == 0:
        raise ValueError("points must hold at least one parameter point")
    out = []
    for i, pt in enumerate(points):
        if not isinstance(pt, Mapping):
            raise TypeError(f"points[{i}] must be a dict, got {type(pt).__name__}")
        clean: dict[str, Any] = {}
        for k, v in pt.items():
            if not isinstance(k, str) or not k or "/" in k:
                raise ValueError(f"points[{i}]: parameter names must be non-empty strings "
                                 f"without '/', got {k!r}")
            if isinstance(v, np.generic):
                v = v.item()
            if not isinstance(v, bool | int | float | str):
                raise TypeError(f"points[{i}][{k!r}] must be a bool, int, float or str, got "
                                f"{type(v).__name__}")
            clean[k] = v
        out.append(clean)
    return out


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True)


def _canonical_result(result: Any, where: str) -> dict[str, Any]:
    """Check a realisation's result and convert it to numpy arrays / str / nested dicts."""
    if not isinstance(result, Mapping):
        raise TypeError(f"{where} must return a dict of arrays/scalars, got "
                        f"{type(result).__name__}")
    out: dict[str, Any] = {}
    for k, v in result.items():
        if not isinstance(k, str) or not k or "/" in k or k.startswith("."):
            raise TypeError(f"{where}: result keys must be non-empty strings without '/', "
                            f"got {k!r}")
        if isinstance(v, Mapping):
            out[k] = _canonical_result(v, f"{where}[{k!r}]")
        elif isinstance(v, str):
            out[k] = v
        else:
            arr = np.asarray(v)
            if arr.dtype.kind not in "biufc":
                raise TypeError(f"{where}: result[{k!r}] must be numeric (array, number, bool) "
                                f"or a str or dict, got {type(v).__name__} of dtype {arr.dtype}")
            out[k] = _Packed.pack(arr) if _Packed.wanted(arr) else arr
    return out


@dataclass(frozen=True)
class _Packed:
    """A large array compressed where it was computed (on the worker).

    The payload is exactly the HDF5 chunk a ``shuffle + gzip(1)`` dataset with one chunk
    holds, so the driver writes it with ``write_direct_chunk``: the driver, which shares
    the CPUs with the workers, does no compression, and less data crosses the network.
    """

    dtype: np.dtype
    shape: tuple[int, ...]
    payload: bytes

    @staticmethod
    def wanted(arr: NDArray[Any]) -> bool:
        return arr.size > 4096 and arr.nbytes <= 2**24 and arr.dtype.kind in "biuf"

    @classmethod
    def pack(cls, arr: NDArray[Any]) -> _Packed:
        arr = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("="))
        shuffled = arr.reshape(-1).view(np.uint8).reshape(arr.size, arr.itemsize).T
        return cls(arr.dtype, arr.shape, zlib.compress(shuffled.tobytes(), 1))


# ----------------------------------------------------------------------------- workers

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


def _run_task(func: RealizationFunc, point: dict[str, Any], entropy: int,
              spawn_key: tuple[int, ...], setup: Callable[[], Any] | None
              ) -> tuple[dict[str, Any], float]:
    """One realisation on a worker: (canonical result, wall time in s)."""
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
        :func:`warmup_model`), run once in each worker before its first task.

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
    return cf.ProcessPoolExecutor(max_workers=workers,
                                  mp_context=multiprocessing.get_context("spawn"),
                                  initializer=_ensure_setup, initargs=(setup,))


def _available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def _dask_client(scheduler: str) -> Any:
    try:
        from distributed import Client
    except ImportError as exc:
        raise ImportError(DASK_MISSING) from exc
    return Client(scheduler)


def _is_dask_client(client: Any) -> bool:
    mod = type(client).__module__ or ""
    return mod.split(".")[0] == "distributed"


# ----------------------------------------------------------------------------- the store

def _write_data(g: h5py.Group, data: Mapping[str, Any]) -> None:
    for k, v in data.items():
        if isinstance(v, Mapping):
            _write_data(g.create_group(k), v)
        elif isinstance(v, str):
            g.create_dataset(k, data=v, dtype=h5py.string_dtype())
        elif isinstance(v, _Packed):
            # byte shuffle + fast gzip, one chunk per array: ~4x smaller curves; the chunk was
            # compressed by the worker
            ds = g.create_dataset(k, shape=v.shape, dtype=v.dtype, chunks=v.shape, shuffle=True,
                                  compression="gzip", compression_opts=1)
            ds.id.write_direct_chunk((0,) * len(v.shape), v.payload)
        elif v.size > 4096:
            g.create_dataset(k, data=v, chunks=True, shuffle=True, compression="gzip",
                             compression_opts=1)
        else:
            g.create_dataset(k, data=v)


def _read_data(g: h5py.Group, keys: Sequence[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in g.items():
        if keys is not None and k not in keys:
            continue
        if isinstance(v, h5py.Group):
            out[k] = _read_data(v)
        elif h5py.check_string_dtype(v.dtype) is not None:
            out[k] = v.asstr()[()]
        else:
            out[k] = v[()]
    return out


def _is_complete(g: h5py.Group) -> bool:
    return int(g.attrs.get("complete", 0)) == 1


def _open_h5(path: Path, mode: str) -> h5py.File:
    try:
        return h5py.File(path, mode)
    except OSError as exc:
        msg = str(exc)
        if "lock" in msg.lower():
            raise ValueError(f"store {str(path)!r} is open in another process (another ensemble "
                             f"run on the same store?): {msg}") from None
        raise ValueError(f"store {str(path)!r} is not a readable HDF5 file: {msg}") from None


class _Store:
    """The driver's handle on the HDF5 store: the only writer."""

    def __init__(self, path: Path, definition: dict[str, Any], points: list[dict[str, Any]],
                 realizations: int) -> None:
        self.path = path
        self.n_discarded = 0
        if not path.exists():
            self._create(definition, points)
        self.f = _open_h5(path, "a")
        try:
            self._check(definition)
            self.f.attrs["realizations"] = max(int(self.f.attrs.get("realizations", 0)),
                                               realizations)
            self.groups = [self.f["points"][f"p{i:04d}"] for i in range(len(points))]
            for g in self.groups:
                for name in [n for n in g if not _is_complete(g[n])]:
                    del g[name]
                    self.n_discarded += 1
            self.f.flush()
        except BaseException:
            self.f.close()
            raise

    def _create(self, definition: dict[str, Any], points: list[dict[str, Any]]) -> None:
        from ..io import provenance

        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + f".{uuid.uuid4().hex[:8]}.part")
        with h5py.File(tmp, "w") as f:
            for k, v in provenance(params=points, seed=definition["seed"]).items():
                f.attrs[k] = v
            f.attrs["ensemble"] = _canonical(definition)
            f.attrs["realizations"] = 0
            pg = f.create_group("points")
            for i, pt in enumerate(points):
                g = pg.create_group(f"p{i:04d}")
                g.attrs["params"] = _canonical(pt)
                for k, v in pt.items():
                    g.attrs[k] = v
        try:  # create-if-absent, atomically: a concurrent run's store is never replaced
            os.link(tmp, self.path)
        except FileExistsError:
            pass  # created meanwhile by another run: its definition is checked next
        except OSError:  # pragma: no cover - file systems without hard links
            if not self.path.exists():
                os.replace(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)

    def _check(self, definition: dict[str, Any]) -> None:
        if "ensemble" not in self.f.attrs or "points" not in self.f:
            raise ValueError(f"{str(self.path)!r} exists but is not an ensemble store; choose "
                             "another store path")
        old = json.loads(self.f.attrs["ensemble"])
        for key in ("func", "seed", "seeding", "points"):
            if _canonical(old.get(key)) != _canonical(definition[key]):
                shown = (f"{len(old.get(key) or [])} points vs {len(definition[key])}"
                         if key == "points" else f"{old.get(key)!r} vs {definition[key]!r}")
                raise ValueError(
                    f"store {str(self.path)!r} holds a different ensemble: {key} differs "
                    f"(stored vs requested: {shown}). Use another store path, or the same "
                    "definition to resume it")

    def done(self) -> list[set[int]]:
        return [{int(n[1:]) for n in g if _is_complete(g[n])} for g in self.groups]

    def write(self, i: int, r: int, data: dict[str, Any], wall: float,
              spawn_key: tuple[int, ...]) -> None:
        from .. import __version__

        g = self.groups[i]
        name = f"r{r:04d}"
        if name in g:  # never complete here: pending excludes finished realisations
            del g[name]
        rg = g.create_group(name)
        _write_data(rg, data)
        rg.attrs["spawn_key"] = np.asarray(spawn_key, np.int64)
        rg.attrs["wall_s"] = wall
        rg.attrs["femplastic_version"] = __version__
        rg.attrs["complete"] = 1
        self.f.flush()

    def close(self) -> None:
        self.f.close()


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
        every point before any work (:func:`model_realization` validates its config keys).
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
        point : int
            Index of the parameter point.
        realization : int
            Realisation index.

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
            :func:`warmup_model`, to load the compiled kernels).
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
        store = _Store(self.store, self.definition, self.points, self.realizations)
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
                                        show, skipped, total)
        finally:
            store.close()
        return RunReport(self.store, total, skipped, len(tasks), store.n_discarded,
                         time.perf_counter() - t0, backend)

    def load(self, keys: Sequence[str] | None = None) -> EnsembleData:
        """Read the store back (:func:`load_store`).

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
                 show: bool, skipped: int, total: int) -> str:
        from tqdm.auto import tqdm

        own = None
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
                if isinstance(own, cf.Executor):
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
        futs = {ex.submit(_run_task, *self._args(i, r, setup)): (i, r) for i, r in tasks}
        try:
            yield from self._collect(
                futs, cf.as_completed(list(futs)),
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


# ----------------------------------------------------------------------------- reading back

@dataclass
class EnsembleData:
    """An ensemble store read back.

    Attributes
    ----------
    path : Path
        The store read.
    definition : dict
        ``func``, ``points``, ``seed``, ``seeding``.
    points : list of dict
        The parameter points, in store order.
    results : list of dict
        ``results[i][r]`` is the result dict of realisation ``r`` of point ``i`` (complete
        realisations only).
    attrs : dict
        Root attributes (provenance: version, creation time, ...).
    incomplete : int
        Incomplete groups seen (they are recomputed by the next run).
    """

    path: Path
    definition: dict[str, Any]
    points: list[dict[str, Any]]
    results: list[dict[int, dict[str, Any]]]
    attrs: dict[str, Any] = field(default_factory=dict)
    incomplete: int = 0

    def realizations(self, point: int = 0) -> list[dict[str, Any]]:
        """Result dicts of one point ordered by realisation index.

        Parameters
        ----------
        point : int
            Index of the parameter point (default 0).

        Returns
        -------
        list of dict
            One result dict per complete realisation.
        """
        res = self.results[point]
        return [res[r] for r in sorted(res)]

    def stack(self, key: str, point: int = 0) -> NDArray[Any]:
        """``key`` of every realisation of ``point`` stacked: ``(n_real, *shape)``.

        Parameters
        ----------
        key : str
            Result key, e.g. ``"stress"``.
        point : int
            Index of the parameter point (default 0).

        Returns
        -------
        ndarray
            Shape ``(n_real, *shape)``.

        Raises
        ------
        ValueError
            If ``key`` has different shapes across realisations.
        KeyError
            If a realisation has no ``key``.
        """
        vals = [d[key] for d in self.realizations(point)]
        shapes = {np.shape(v) for v in vals}
        if len(shapes) > 1:
            raise ValueError(f"{key!r} has different shapes across realisations {sorted(shapes)}; "
                             "use pooled() or curve_stats()")
        return np.array(vals)

    def pooled(self, key: str, point: int = 0) -> NDArray[Any]:
        """``key`` of every realisation of ``point`` concatenated (:func:`pooled`).

        Parameters
        ----------
        key : str
            Result key, e.g. ``"stationary_drops"``.
        point : int
            Index of the parameter point (default 0).

        Returns
        -------
        (n_total,) ndarray
            All realisations' values, in realisation order.

        Raises
        ------
        ValueError
            If the point has no complete realisation.
        KeyError
            If a realisation has no ``key``.
        """
        return pooled([d[key] for d in self.realizations(point)])

    def curves(self, x: str = "gamma", y: str = "stress", point: int = 0,
               grid: NDArray[np.float64] | None = None) -> CurveStats:
        """Ensemble mean/std of the ``y(x)`` curves of ``point`` (:func:`curve_stats`).

        Parameters
        ----------
        x, y : str
            Result keys of the abscissa and the ordinate (default ``"gamma"``,
            ``"stress"``).
        point : int
            Index of the parameter point (default 0).
        grid : (n_grid,) array, optional
            Common grid (see :func:`curve_stats`).

        Returns
        -------
        CurveStats
            Statistics over the point's complete realisations.

        Raises
        ------
        ValueError
            As :func:`curve_stats` (e.g. no realisation, or different ``x`` without
            ``grid``).
        """
        reals = self.realizations(point)
        return curve_stats([d[x] for d in reals], [d[y] for d in reals], grid=grid)


def load_store(path: str | Path, keys: Sequence[str] | None = None) -> EnsembleData:
    """Read an ensemble store (complete realisations only).

    Parameters
    ----------
    path : str or Path
    keys : sequence of str, optional
        Read only these result keys (the store may be large).

    Returns
    -------
    EnsembleData
        Definition, points, complete results and root attributes of the store.

    Raises
    ------
    ValueError
        If ``path`` does not exist, is not a readable HDF5 file (or is locked by a running
        ensemble), or is not an ensemble store.
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f"store {str(path)!r} does not exist")
    with _open_h5(path, "r") as f:
        if "ensemble" not in f.attrs or "points" not in f:
            raise ValueError(f"{str(path)!r} is not an ensemble store")
        definition = json.loads(f.attrs["ensemble"])
        points = definition["points"]
        results: list[dict[int, dict[str, Any]]] = []
        incomplete = 0
        for i in range(len(points)):
            g = f["points"][f"p{i:04d}"]
            res = {}
            for name in g:
                if _is_complete(g[name]):
                    res[int(name[1:])] = _read_data(g[name], keys)
                else:
                    incomplete += 1
            results.append(res)
        attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
    return EnsembleData(path, definition, points, results, attrs, incomplete)


# ----------------------------------------------------------------------------- aggregation

@dataclass(frozen=True)
class CurveStats:
    """Ensemble statistics of curves on a common grid (all arrays ``(n_grid,)``).

    ``std`` is the sample standard deviation across realisations (``ddof=1``, NaN where fewer
    than two curves cover a grid point), ``sem = std / sqrt(count)``.

    Attributes
    ----------
    grid : (n_grid,) ndarray
        Abscissae.
    mean : (n_grid,) ndarray
        Mean over the curves covering each grid point (NaN where none does).
    std : (n_grid,) ndarray
        Sample standard deviation (``ddof=1``).
    sem : (n_grid,) ndarray
        Standard error of the mean.
    count : (n_grid,) int64 ndarray
        Number of curves with a finite value at each grid point.
    """

    grid: NDArray[np.float64]
    mean: NDArray[np.float64]
    std: NDArray[np.float64]
    sem: NDArray[np.float64]
    count: NDArray[np.int64]


def curve_stats(x: Sequence[NDArray[np.float64]], y: Sequence[NDArray[np.float64]],
                grid: NDArray[np.float64] | None = None) -> CurveStats:
    """Ensemble mean and standard deviation of curves ``y_r(x_r)`` on a common grid.

    Parameters
    ----------
    x, y : sequences of (n_r,) arrays
        One curve per realisation, ``x_r`` non-decreasing (e.g. ``gamma``, ``stress``).
    grid : (n_grid,) array, optional
        Where to evaluate: each curve is interpolated linearly, NaN (not counted) outside its
        ``[x_r[0], x_r[-1]]``. Default: the longest ``x_r`` when every other one is a prefix of
        it (same ``dgamma``, some runs stopped early); the values are then used as they are.

    Returns
    -------
    CurveStats
        Mean, std, s.e.m. and count on the grid.

    Raises
    ------
    ValueError
        If ``x`` and ``y`` hold different numbers of curves or none; a curve's ``x_r`` and
        ``y_r`` are not 1-D of equal length, or ``x_r`` decreases somewhere; ``grid`` is
        None and the ``x_r`` are not prefixes of the longest one; ``grid`` is not 1-D.

    Examples
    --------
    >>> import numpy as np
    >>> cs = curve_stats([np.array([0.0, 1.0, 2.0]), np.array([0.0, 1.0])],
    ...                  [np.array([1.0, 2.0, 3.0]), np.array([3.0, 4.0])])
    >>> cs.mean.tolist(), cs.count.tolist()
    ([2.0, 3.0, 3.0], [2, 2, 1])
    """
    if len(x) != len(y):
        raise ValueError(f"x and y must hold the same number of curves, got {len(x)} and "
                         f"{len(y)}")
    if len(x) == 0:
        raise ValueError("curve_stats needs at least one curve")
    xs = [np.asarray(a, dtype=float) for a in x]
    ys = [np.asarray(b, dtype=float) for b in y]
    for r, (a, b) in enumerate(zip(xs, ys, strict=True)):
        if a.ndim != 1 or a.shape != b.shape:
            raise ValueError(f"curve {r}: x and y must be 1-D of equal length, got shapes "
                             f"{a.shape} and {b.shape}")
        if a.size and np.any(np.diff(a) < 0):
            raise ValueError(f"curve {r}: x must be non-decreasing")
    if grid is None:
        longest = max(xs, key=len)
        if not all(np.array_equal(a, longest[:a.size]) for a in xs):
            raise ValueError("the curves have different x; pass a common grid=")
        g = longest
        vals = np.full((len(ys), g.size), np.nan)
        for r, b in enumerate(ys):
            vals[r, :b.size] = b
    else:
        g = np.asarray(grid, dtype=float)
        if g.ndim != 1:
            raise ValueError(f"grid must be 1-D, got shape {g.shape}")
        vals = np.full((len(ys), g.size), np.nan)
        for r, (a, b) in enumerate(zip(xs, ys, strict=True)):
            if a.size:
                vals[r] = np.interp(g, a, b, left=np.nan, right=np.nan)
    count = np.sum(np.isfinite(vals), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        total = np.nansum(vals, axis=0)
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
        dev = np.nansum((vals - mean) ** 2, axis=0)
        std = np.where(count > 1, np.sqrt(dev / np.maximum(count - 1, 1)), np.nan)
        sem = std / np.sqrt(count)
    return CurveStats(g, mean, std, sem, count.astype(np.int64))


def pooled(arrays: Sequence[NDArray[Any]]) -> NDArray[Any]:
    """Concatenate per-realisation arrays (scalars count as length-1) into one sample.

    Parameters
    ----------
    arrays : sequence of array_like
        One array (or scalar) per realisation.

    Returns
    -------
    (n_total,) ndarray
        The arrays (each made at least 1-D) concatenated in order; arrays of more
        dimensions are joined along their first axis.

    Raises
    ------
    ValueError
        If ``arrays`` is empty.

    Examples
    --------
    >>> pooled([1.0, [2.0, 3.0]]).tolist()
    [1.0, 2.0, 3.0]
    """
    if len(arrays) == 0:
        raise ValueError("pooled needs at least one array")
    return np.concatenate([np.atleast_1d(np.asarray(a)) for a in arrays])


@dataclass(frozen=True)
class Bootstrap:
    """Bootstrap estimate of a statistic.

    Attributes
    ----------
    estimate : float
        The statistic on the full data.
    stderr : float
        Standard deviation of the bootstrap replicates (``ddof=1``).
    low, high : float
        Percentile confidence interval.
    replicates : (n_resamples,) ndarray
        The statistic on each bootstrap resample.
    """

    estimate: float
    stderr: float
    low: float
    high: float
    replicates: NDArray[np.float64]


def bootstrap(data: Sequence[Any] | NDArray[Any], statistic: Callable[[NDArray[Any]], float],
              rng: np.random.Generator, n_resamples: int = 1000,
              confidence: float = 0.95) -> Bootstrap:
    """Bootstrap error of ``statistic``, resampling whole realisations with replacement.

    Parameters
    ----------
    data : (n,) array or sequence of n arrays
        Per-realisation values (``statistic`` gets ``data[idx]``), or per-realisation arrays
        such as stress drops, pooled after resampling (``statistic`` gets the concatenation of
        the drawn realisations: events within one realisation are correlated, realisations
        are independent).
    statistic : callable
        ``statistic(sample) -> float``, e.g. ``np.mean``.
    rng : numpy.random.Generator
        Draws the resampling indices.
    n_resamples : int
        Bootstrap replicates (>= 2).
    confidence : float
        Level of the percentile interval, in (0, 1) (default 0.95).

    Returns
    -------
    Bootstrap
        Estimate on the full data, bootstrap standard error, percentile interval and the
        replicates.

    Raises
    ------
    TypeError
        If ``rng`` is not a ``numpy.random.Generator``.
    ValueError
        If ``n_resamples`` is not an integer >= 2, ``confidence`` is not in (0, 1), or
        ``data`` holds fewer than 2 realisations.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator (e.g. np.random.default_rng(seed))")
    n_resamples = _check_int("n_resamples", n_resamples, 2)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if isinstance(data, np.ndarray):
        blocks = None
        arr = data
    elif all(np.ndim(d) == 0 for d in data):
        blocks, arr = None, np.asarray(data)
    else:
        blocks, arr = [np.atleast_1d(np.asarray(d)) for d in data], None
    n = len(data)
    if n < 2:
        raise ValueError(f"bootstrap needs at least 2 realisations, got {n}")

    def sample(idx: NDArray[np.int64]) -> NDArray[Any]:
        if blocks is None:
            return arr[idx]
        return np.concatenate([blocks[j] for j in idx])

    estimate = float(statistic(sample(np.arange(n))))
    idx = rng.integers(0, n, size=(n_resamples, n))
    reps = np.array([float(statistic(sample(row))) for row in idx])
    a = 100 * (1 - confidence) / 2
    low, high = np.percentile(reps, [a, 100 - a])
    return Bootstrap(estimate, float(reps.std(ddof=1)), float(low), float(high), reps)


# ----------------------------------------------------------------------------- the model

def config_point(cfg: Config) -> dict[str, Any]:
    """A :class:`~femplastic.weakplane.params.Config` as a flat point ``{"model.L": 15, ...}``.

    Parameters
    ----------
    cfg : Config
        The configuration.

    Returns
    -------
    dict
        ``{"section.key": value}`` for every field of ``[model]`` and ``[run]``.
    """
    return {f"{sec}.{k}": v for sec, table in cfg.to_dict().items() for k, v in table.items()}


def model_config(point: Mapping[str, Any]) -> Config:
    """The :class:`~femplastic.weakplane.params.Config` of a point with ``section.key`` names.

    Missing keys take their defaults (model C); unknown keys raise ``ValueError``.

    Parameters
    ----------
    point : mapping
        ``{"section.key": value}``; values may be strings (converted to the field's type).

    Returns
    -------
    Config
        The validated configuration.

    Raises
    ------
    ValueError
        If a name is not ``section.key``, the section or key is unknown, or a value is
        invalid (:func:`femplastic.weakplane.params.config_from_dict`).
    """
    nested: dict[str, dict[str, Any]] = {}
    for key, value in point.items():
        parts = key.split(".")
        if len(parts) != 2 or not all(parts):
            raise ValueError(f"model parameters are named section.key (e.g. model.L), got "
                             f"{key!r}")
        nested.setdefault(parts[0], {})[parts[1]] = value
    return config_from_dict(nested)


def _model_run(point: Mapping[str, Any], rng: np.random.Generator) -> tuple[Any, Config]:
    from ..weakplane.drivers import aqs, quench

    cfg = model_config(point)
    p, rp = cfg.model, cfg.run
    state = quench(p, rng)
    run = aqs(state, p, rng, gamma_end=rp.gamma_end, dgamma=rp.dgamma, alpha=rp.alpha,
              event_driven=rp.event_driven)
    return run, cfg


def _stationary(run: Any, cfg: Config) -> dict[str, Any]:
    mask = run.gamma > cfg.run.stationary_from
    st = run.stress[mask]
    aval = (run.avalanche_size > 0) & mask
    return {
        "stationary_mean": float(st.mean()) if st.size else float("nan"),
        "stationary_std": float(st.std()) if st.size else float("nan"),
        "stationary_drops": (run.stress_before - run.stress)[aval],
        "n_events": int(run.state.n_events),
        "n_avalanches": int(run.state.n_avalanches),
    }


def model_realization(point: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """Quench + AQS shear of the weak-plane model: full curves and stationary statistics.

    Parameters
    ----------
    point : dict
        ``section.key`` parameters of :class:`~femplastic.weakplane.params.ModelParams`
        (``model.*``)
        and :class:`~femplastic.weakplane.params.RunParams` (``run.*``); missing keys are model C.
    rng : numpy.random.Generator

    Returns
    -------
    dict
        ``gamma, stress, stress_before, plastic`` : (n_steps,) float, external strain, stress
        after/before the step's avalanche (LJ units) and resolved plastic strain;
        ``avalanche_size`` : (n_steps,) int, slip events per step; ``stationary_mean``,
        ``stationary_std`` : float, of the stress over ``gamma > run.stationary_from`` (NaN if
        the run ends before); ``stationary_drops`` : (n_drops,) float, stress drops there;
        ``n_events``, ``n_avalanches`` : int.

    Raises
    ------
    ValueError
        If ``point`` is not a valid configuration (:func:`model_config`).
    """
    run, cfg = _model_run(point, rng)
    return {"gamma": run.gamma, "stress": run.stress, "stress_before": run.stress_before,
            "avalanche_size": run.avalanche_size, "plastic": run.plastic,
            **_stationary(run, cfg)}


def model_statistics(point: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """As :func:`model_realization` without the curves (compact stores for sweeps).

    Parameters
    ----------
    point : dict
        ``section.key`` parameters (``model.*``, ``run.*``); missing keys are model C.
    rng : numpy.random.Generator
        The realisation's generator (quench and AQS).

    Returns
    -------
    dict
        ``stationary_mean``, ``stationary_std`` : float (LJ units, NaN if the run ends
        before ``run.stationary_from``); ``stationary_drops`` : (n_drops,) float;
        ``n_events``, ``n_avalanches`` : int.

    Raises
    ------
    ValueError
        If ``point`` is not a valid configuration (:func:`model_config`).
    """
    run, cfg = _model_run(point, rng)
    return _stationary(run, cfg)


def _validate_model_point(point: Mapping[str, Any]) -> None:
    model_config(point)


model_realization.validate_point = _validate_model_point  # type: ignore[attr-defined]
model_statistics.validate_point = _validate_model_point  # type: ignore[attr-defined]


def warmup_model() -> None:
    """Load (or compile) the numba kernels of the quench and AQS drivers: a tiny run."""
    from ..weakplane.drivers import aqs, quench
    from ..weakplane.params import ModelParams

    p = ModelParams(L=4, N=4, T=0.25)
    rng = np.random.default_rng(0)
    aqs(quench(p, rng, max_events=64), p, rng, gamma_end=0.02, dgamma=1e-3)


# ----------------------------------------------------------------------------- CLI helpers

def grid_points(config: str | Path | None, sets: Sequence[str], grids: Sequence[str]
                ) -> tuple[list[dict[str, Any]], list[str]]:
    """Points of ``femplastic sweep``: the cartesian product of ``--grid`` values.

    Parameters
    ----------
    config : path or None
        TOML config (defaults when None).
    sets : list of str
        ``section.key=value`` overrides common to every point.
    grids : list of str
        ``section.key=v1,v2,...``; the last grid varies fastest.

    Returns
    -------
    points : list of dict
        Full flat configs (:func:`config_point`), each validated.
    keys : list of str
        The grid keys, in order.

    Raises
    ------
    ValueError
        If ``grids`` is empty; a grid is not ``section.key=v1,v2,...``, has an empty or a
        repeated value, or repeats a key; a key is both in ``sets`` and ``grids``; or a
        resulting point (or ``config``) is not a valid configuration.
    """
    if not grids:
        raise ValueError("--grid: give at least one section.key=v1,v2,...")
    keys: list[str] = []
    values: list[list[str]] = []
    for spec in grids:
        if "=" not in spec:
            raise ValueError(f"--grid expects section.key=v1,v2,..., got {spec!r}")
        key, raw = (s.strip() for s in spec.split("=", 1))
        vals = [v.strip() for v in raw.split(",")]
        if not raw or any(not v for v in vals):
            raise ValueError(f"--grid {key}: empty value in {raw!r}")
        if len(set(vals)) != len(vals):
            raise ValueError(f"--grid {key}: duplicate value in {raw!r}")
        if key in keys:
            raise ValueError(f"--grid {key} given twice")
        set_keys = {s.split("=", 1)[0].strip() for s in sets}
        if key in set_keys:
            raise ValueError(f"{key} given both in --set and --grid")
        apply_overrides({}, [f"{key}={vals[0]}"])  # section.key syntax
        keys.append(key)
        values.append(vals)
    points = []
    for combo in itertools.product(*values):
        over = [*sets, *(f"{k}={v}" for k, v in zip(keys, combo, strict=True))]
        points.append(config_point(load_config(config, over)))
    return points, keys


def summary_table(data: EnsembleData, keys: Sequence[str] = ()) -> str:
    """One line per point: ``keys`` values, realisations, stationary stress mean +- s.e.m.

    The mean is over realisations of each realisation's stationary mean stress; ``std`` is the
    mean over realisations of the stationary standard deviation.

    Parameters
    ----------
    data : EnsembleData
        A store of :func:`model_realization` or :func:`model_statistics` results.
    keys : sequence of str
        Point parameters shown as the first columns (e.g. the keys of :func:`grid_points`).

    Returns
    -------
    str
        A header line and one right-aligned line per point; ``n/a`` where undefined.
    """
    head = [*keys, "n", "mean stress", "+-", "std stress"]
    rows = []
    for i, pt in enumerate(data.points):
        reals = data.realizations(i)
        m = np.array([float(d.get("stationary_mean", np.nan)) for d in reals])
        s = np.array([float(d.get("stationary_std", np.nan)) for d in reals])
        ok = np.isfinite(m)
        mean = f"{m[ok].mean():.4f}" if ok.any() else "n/a"
        err = f"{m[ok].std(ddof=1) / np.sqrt(ok.sum()):.4f}" if ok.sum() > 1 else "n/a"
        std = f"{s[ok].mean():.4f}" if ok.any() else "n/a"
        rows.append([*(str(pt.get(k)) for k in keys), str(len(reals)), mean, err, std])
    widths = [max(len(h), *(len(r[j]) for r in rows)) for j, h in enumerate(head)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(head, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)

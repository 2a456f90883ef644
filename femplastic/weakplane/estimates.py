"""Up-front estimates of a run's cost: memory, disk and slip events, checked before any work.

:func:`footprint` and :func:`check_cost` do it for every protocol of ``femplastic run``,
``ensemble`` and ``sweep`` (load or time steps, cycles, snapshots, patch tests, memory, disk,
an order-of-magnitude time); the older :func:`run_footprint` / :func:`check_footprint` are
those of the streamed AQS run.

:func:`run_footprint` estimates the memory (records, state copies, propagator) and the disk
(ParaView fields, records) that ``femplastic run`` needs, and :func:`check_footprint` compares
them with what the machine has, raising a ``ValueError`` that names the parameters to change.
:func:`events_per_strain` estimates the slip events per unit strain in steady flow, so that a
parameter set that cannot finish (e.g. ``lam = 1e-9``) is flagged before it starts.

The event estimate is an order of magnitude: in steady flow the plastic strain follows the
applied strain, so each element slips about ``1 / <dgamma_pl>`` times per unit strain. The
slip that fires is the weakest of the element's ``N`` systems; with Weibull thresholds
``(k, lam)`` the weakest of ``N`` is Weibull ``(k, lam N^(-1/k))``, of median
``tau = lam N^(-1/k) (ln 2)^(1/k)``, and the bounded power-law amplitude has mean
``gmax / (chi + 1)`` with ``gmax = 2 tau / G`` (eq. 6-7 of Castellanos et al.; ``G`` stands for
the self-response). For model C at ``N = 8`` this gives ~30 events per element and unit strain
against ~11 measured (``L = 12``, 3 x 3 strain units): the estimate errs high by a few.
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path
from typing import Any

__all__ = ["run_footprint", "model_bytes", "check_footprint", "events_per_strain",
           "available_memory", "footprint", "check_cost"]

_GIB = 1024.0 ** 3
#: Bytes per load step of the AQS records (gamma, stress, stress_before, size, plastic,
#: mean stress x 3), counted twice (arrays + their concatenation / copy on writing).
_RECORD_BYTES = 2 * 8 * 8
#: Bytes per element and ParaView snapshot (stress and plastic strain tensors (9 + 9),
#: von Mises, plastic shear, slips, min dtau, mean tau_c).
_FIELD_BYTES = 23 * 8


#: Most load steps ``femplastic run`` holds in memory: it shears in chunks of at most this
#: many steps and streams each chunk's records to ``results.h5``.
RUN_RECORD_CHUNK = 50_000
#: Records per chunk file of ``femplastic run``'s ``rate``/``creep`` runs (one in memory).
RATE_RECORD_CHUNK = 65_536


def _steps(gamma_end: float, dgamma: float) -> float:
    return gamma_end / dgamma if dgamma > 0 else math.inf


def model_bytes(n: float, N: float, periodic: bool = True, dim: int = 2
                ) -> tuple[float, float]:
    """Memory of a model's state copies and of its propagator, in bytes.

    Parameters
    ----------
    n : float
        Elements.
    N : float
        Slip systems per element.
    periodic : bool
        Regular periodic grid with homogeneous moduli (the convolution kernel); False: the
        general FE path (variant A, custom meshes).
    dim : int
        2 (default) or 3. In 3D a state holds ``27 + 9 N`` numbers per element (six stress
        components, six-component Schmid tensors) and the exact ``L^3`` kernel about 4 kB
        per element while it is built (its complex per-wavevector blocks; 0.75 kB kept:
        ``femplastic bench 3d`` measures both).

    Returns
    -------
    state, propagator : float
        Four copies of the state (quench state, AQS copy, snapshot, chunk start); the
        folded kernel and its FFT work; else the dense ``n x n x 9`` response while it fits
        ``make_propagator``'s full-response cap and dense budget, then the packed symmetric
        response (about ``32 n^2`` bytes, plus the sparse factors) while it fits the budget
        (``dense_choice``: the operator ``make_propagator`` builds; the run's memory check
        then compares it with the available memory),
        then the sparse factors (about 8 kB per element at L = 128, growing like log n;
        measured by ``femplastic bench mesh``).
    """
    from ..fe.propagators.general import dense_choice, packed_bytes

    if dim == 3:
        return 4 * n * (27 + 9 * N) * 8, n * 4096
    state = 4 * n * (9 + 7 * N) * 8
    if periodic:
        return state, n * 1024
    sparse = n * 8192 * max(1.0, math.log2(n) / 14)
    kind = dense_choice(int(n))[0] if n < 2**31 else "sparse"
    if kind == "full":
        return state, n * n * 72
    if kind == "packed":
        return state, packed_bytes(int(n)) + sparse
    return state, sparse


def run_footprint(params: Any, run: Any, realizations: int = 1) -> dict[str, float]:
    """Memory and disk a ``femplastic run`` of these parameters needs, in bytes.

    Parameters
    ----------
    params : ModelParams
        The ``[model]`` table (``L``, ``N``, ``variant``).
    run : RunParams
        The ``[run]`` table (``gamma_end``, ``dgamma``, ``fields_every``).
    realizations : int
        Realisations (their records are all written).

    Returns
    -------
    dict
        ``records`` (memory of one chunk of load-step records, at most
        :data:`RUN_RECORD_CHUNK` steps), ``state`` (a few copies
        of the state), ``propagator`` (the elastic operator and its FFT work), ``memory``
        (their sum), ``fields`` (disk of ``fields.h5``), ``disk`` (fields + records of all
        realisations); floats, possibly ``inf``.
    """
    dim = getattr(params, "dim", 2)
    n = float(params.L) ** dim
    N = float(params.N)
    steps = _steps(run.gamma_end, run.dgamma)
    records = min(steps, RUN_RECORD_CHUNK) * _RECORD_BYTES  # one chunk in memory
    state, propagator = model_bytes(n, N, params.variant not in ("A",), dim)
    every = run.fields_every if run.fields_every > 0 else run.gamma_end
    snaps = min(steps, max(run.gamma_end / every, 1.0)) + 1
    fields = snaps * n * _FIELD_BYTES
    return {"records": records, "state": state, "propagator": propagator,
            "memory": records + state + propagator, "fields": fields,
            "disk": fields + realizations * steps * _RECORD_BYTES / 2}


def available_memory() -> float:
    """Memory available to a new allocation, in bytes (``MemAvailable``; inf if unknown).

    Returns
    -------
    float
    """
    from ..fe.propagators.budget import meminfo  # the reader the dense budget uses

    avail = meminfo("MemAvailable", math.nan)
    if not math.isnan(avail):
        return avail
    try:
        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return math.inf


def _free_disk(path: Path) -> float:
    p = path.resolve()
    while not p.exists():
        p = p.parent
    return float(shutil.disk_usage(p).free)


def check_footprint(params: Any, run: Any, realizations: int = 1, out: Path | None = None,
                    memory_fraction: float = 0.8) -> dict[str, float]:
    """Raise if the run cannot fit in memory (or its fields on disk); return the estimate.

    Parameters
    ----------
    params, run, realizations
        As for :func:`run_footprint`.
    out : Path, optional
        Output folder; its file system must hold the ``disk`` estimate.
    memory_fraction : float
        Share of the available memory the run may use.

    Returns
    -------
    dict
        :func:`run_footprint`.

    Raises
    ------
    ValueError
        If the memory estimate exceeds ``memory_fraction`` of :func:`available_memory`
        (naming ``model.L``, ``run.gamma_end`` / ``run.dgamma``), or the disk estimate the
        free space under ``out`` (naming ``run.fields_every``, ``run.gamma_end`` /
        ``run.dgamma``).
    """
    fp = run_footprint(params, run, realizations)
    avail = available_memory()
    if fp["memory"] > memory_fraction * avail:
        steps = _steps(run.gamma_end, run.dgamma)
        raise ValueError(
            f"this run needs about {fp['memory'] / _GIB:.3g} GiB of memory but "
            f"{avail / _GIB:.3g} GiB are available: records {fp['records'] / _GIB:.3g} GiB "
            f"(run.gamma_end / run.dgamma = {run.gamma_end:g} / {run.dgamma:g} = {steps:.3g} "
            f"load steps), state and propagator "
            f"{(fp['state'] + fp['propagator']) / _GIB:.3g} GiB (model.L = {params.L}, "
            f"model.N = {params.N}); lower model.L or run.gamma_end, or raise run.dgamma")
    if out is not None:
        free = _free_disk(Path(out))
        if fp["disk"] > free:
            steps = _steps(run.gamma_end, run.dgamma)
            raise ValueError(
                f"this run writes about {fp['disk'] / _GIB:.3g} GiB into {out} but "
                f"{free / _GIB:.3g} GiB are free: ParaView fields {fp['fields'] / _GIB:.3g} GiB "
                f"(run.fields_every = {run.fields_every:g}, model.L = {params.L}), records "
                f"{(fp['disk'] - fp['fields']) / _GIB:.3g} GiB (run.gamma_end / run.dgamma = "
                f"{run.gamma_end:g} / {run.dgamma:g} = {steps:.3g} load steps); raise "
                "run.fields_every (0: first and last snapshot only), lower model.L or "
                "run.gamma_end, or raise run.dgamma")
    return fp


def events_per_strain(params: Any) -> float:
    """Estimated slip events per element and unit strain in steady flow (module docstring).

    Parameters
    ----------
    params : ModelParams

    Returns
    -------
    float
        Events per element per unit external strain (an order of magnitude; ``inf`` when
        the typical slip underflows).
    """
    if params.variant in ("F", "G", "H"):
        amp = params.dgamma_fixed
    else:
        if params.variant in ("E",):
            tau = params.tau_c_fixed
        else:
            log_tau = (math.log(params.lam) - math.log(params.N) / params.k
                       + math.log(math.log(2.0)) / params.k)
            tau = math.exp(log_tau) if log_tau > -700 else 0.0
        amp = 2.0 * tau / (params.G * (params.chi + 1.0))
    return 1.0 / amp if amp > 0 else math.inf


#: Share of the available memory one run may use (:func:`check_cost`).
MEMORY_FRACTION = 0.8
#: Longest estimated run (seconds) accepted: 30 days of compute.
TIME_LIMIT_S = 30 * 86400.0
#: The finite-rate drivers record one entry every this many time steps (their default).
RATE_RECORD_EVERY = 10
#: Order-of-magnitude speeds for the time estimate: slip events per second (the compiled AQS
#: loop does ~1e5-2e5 at small L) and element updates per second of a time step.
EVENTS_PER_S = 1e5
ELEMENT_UPDATES_PER_S = 2e7


# ----------------------------------------------------------------- every protocol (issue 23)

def _protocol_steps(cfg: Any) -> tuple[float, str, float]:
    """Load or time steps of one realisation, how they are counted, and the strain driven."""
    rp = cfg.run
    o = rp.settings()
    proto = rp.protocol
    g, d = rp.gamma_end, rp.dgamma
    if proto == "aqs":
        return g / d, f"run.gamma_end / run.dgamma = {g:g} / {d:g}", g
    if proto == "cyclic":
        n = 4 * (o["gamma_max"] / d) * o["cycles"]
        return n, (f"4 run.gamma_max / run.dgamma x run.cycles = 4 x {o['gamma_max']:g} / "
                   f"{d:g} x {o['cycles']}"), 4 * o["gamma_max"] * o["cycles"]
    if proto == "stress":
        n = abs(o["stress_end"]) / o["dstress"]
        return n, (f"|run.stress_end| / run.dstress = {abs(o['stress_end']):g} / "
                   f"{o['dstress']:g}"), o["gamma_limit"]
    if proto == "bauschinger":
        n = (g + 2 * o["gamma_reload"]) / d
        return n, (f"(run.gamma_end + 2 run.gamma_reload) / run.dgamma = ({g:g} + 2 x "
                   f"{o['gamma_reload']:g}) / {d:g}"), g + 3 * o["gamma_reload"]
    if proto == "local-yield":
        return g / d, f"run.gamma_end / run.dgamma = {g:g} / {d:g}", g
    n = o["t_end"] / o["dt"]  # rate, creep
    strain = o["gdot"] * o["t_end"] if proto == "rate" else 0.0
    return n, f"run.t_end / run.dt = {o['t_end']:g} / {o['dt']:g} time steps", strain


def footprint(cfg: Any, realizations: int = 1, streamed: bool = True) -> dict[str, Any]:
    """Steps, snapshots, memory, disk and time of a run of ``cfg`` (any protocol).

    Parameters
    ----------
    cfg : Config
    realizations : int
        Realisations (run one after the other; their records all written).
    streamed : bool
        AQS, cyclic, stress, rate and creep records streamed to disk in chunks (``femplastic
        run``); False: a realisation's records are all in memory (``ensemble``, ``sweep``,
        the library).

    Returns
    -------
    dict
        ``steps`` (load or time steps of one realisation) and ``steps_what`` (how they are
        counted), ``snapshots`` (ParaView), ``tests`` (local-yield patch tests), ``memory``
        and ``disk`` (bytes; ``model``: the state and propagator part of ``memory``),
        ``time_s`` (order of magnitude, quench included, all realisations), ``events``
        (estimated slip events); floats, possibly ``inf``.
    """
    p, rp = cfg.model, cfg.run
    o = rp.settings()
    n = float(p.L) ** getattr(p, "dim", 2)
    steps, what, strain = _protocol_steps(cfg)
    base = run_footprint(p, rp, realizations)
    model = base["state"] + base["propagator"]
    snaps = 2.0
    tests = test_s = 0.0
    if rp.protocol == "aqs":
        snaps = base["fields"] / max(n * 184, 1.0)
        rows = min(steps, RUN_RECORD_CHUNK) if streamed else steps
        memory = model + rows * _RECORD_BYTES
        # x 2: the snapshots' staging files and fields.h5 exist together while they are
        # gathered at the end of the first realisation (femplastic.io.fields, crash safety)
        disk = 2 * base["fields"] + realizations * steps * _RECORD_BYTES / 2
    elif rp.protocol in ("rate", "creep"):
        rows = steps / RATE_RECORD_EVERY
        memory = model + (min(rows, RATE_RECORD_CHUNK) if streamed else rows) * 6 * 8 * 2
        disk = snaps * n * 184 + realizations * rows * 6 * 8
    else:  # cyclic and stress stream their step records too (femplastic run)
        rows = min(steps, RUN_RECORD_CHUNK) if streamed and rp.protocol in ("cyclic", "stress") \
            else steps
        memory = model + rows * _RECORD_BYTES
        disk = snaps * n * 184 + realizations * steps * _RECORD_BYTES / 2
    if rp.protocol == "local-yield":
        k = o["patch"] if rp.patch is not None else min(o["patch"], p.L)
        stride = max(1, k // 2)
        dim = getattr(p, "dim", 2)
        axes = 3 if dim == 3 else 1  # 3D: sheared about x, y and z (cli.protocols)
        tests = 2.0 * math.ceil(p.L / stride) ** dim * o["n_alphas"] * axes
        comps = 3 if dim == 2 else 6  # the dense patch operator: (comps k^dim)^2 floats
        memory += (comps * float(k) ** dim) ** 2 * 8 + tests * 8 * 8
        disk += realizations * tests * 8 * 8
        test_s = tests * float(k) ** dim * 1e-6
    try:
        per = events_per_strain(p)
    except (ValueError, OverflowError):
        per = math.inf
    events = per * n * strain
    quench_s = 400.0 * n / EVENTS_PER_S if p.T > 0 else 0.0  # KMC: at most 400 n events
    if rp.protocol in ("rate", "creep"):
        time_s = realizations * (quench_s + steps * (n * p.N / ELEMENT_UPDATES_PER_S + 2e-5))
    else:
        time_s = realizations * (quench_s + events / EVENTS_PER_S + steps * 1e-7 + test_s)
    return {"steps": steps, "steps_what": what, "snapshots": snaps, "tests": tests,
            "model": model, "memory": memory, "disk": disk, "time_s": time_s, "events": events}


def _fmt_time(s: float) -> str:
    if not math.isfinite(s):
        return "forever"
    for unit, sec in (("years", 3.15e7), ("days", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if s >= sec:
            return f"{s / sec:.3g} {unit}"
    return f"{s:.3g} s"


def check_cost(cfg: Any, realizations: int = 1, out: str | Path | None = None,
               streamed: bool = True, time_limit_s: float = TIME_LIMIT_S,
               parallel: int = 1) -> dict[str, Any]:
    """Refuse a run whose memory, disk or time does not fit; return :func:`footprint`.

    Called before the quench and before any file is moved, by ``femplastic run``
    (``streamed``), ``ensemble`` and ``sweep`` (every point).

    Parameters
    ----------
    cfg : Config
    realizations : int
    out : path, optional
        Output folder or store; its file system must hold the disk estimate.
    streamed : bool
        See :func:`footprint`.
    time_limit_s : float
        Longest accepted estimated run time (default :data:`TIME_LIMIT_S`).
    parallel : int
        Realisations that may run at once (``ensemble``: up to all of them); the time
        compared with ``time_limit_s`` is divided by it.

    Returns
    -------
    dict
        :func:`footprint`.

    Raises
    ------
    ValueError
        Naming the keys that set the cost and the steps, memory, disk or time found; or a
        run the ``model.mesh`` cannot honour (:func:`femplastic.weakplane.meshfile.check_run`:
        local-yield patch squares that hold no element), or a ``run.backend`` the model
        cannot run on (:func:`femplastic.weakplane.gpu.runtime.check_params`).
    """
    from .gpu.runtime import check_params
    from .meshfile import check_run

    check_run(cfg.model, cfg.run)  # before any work, like the cost
    if getattr(cfg.model, "dim", 2) == 2:  # (3D: the config refuses any backend but numba)
        check_params(cfg.model, cfg.run.backend)
    fp = footprint(cfg, realizations, streamed)
    p, rp = cfg.model, cfg.run
    steps = f"{fp['steps']:.3g} steps ({fp['steps_what']})"
    fix = {"aqs": "raise run.dgamma or lower run.gamma_end",
           "cyclic": "raise run.dgamma, lower run.gamma_max or run.cycles",
           "stress": "raise run.dstress or lower |run.stress_end|",
           "bauschinger": "raise run.dgamma, lower run.gamma_end or run.gamma_reload",
           "local-yield": "lower run.patch, run.n_alphas or run.gamma_end, raise run.dgamma",
           "rate": "raise run.dt or lower run.t_end",
           "creep": "raise run.dt or lower run.t_end"}[rp.protocol]
    avail = available_memory()
    if fp["memory"] > MEMORY_FRACTION * avail:
        if fp["model"] > fp["memory"] / 2:
            fix = "lower model.L (or model.N)"
        raise ValueError(f"this run (run.protocol={rp.protocol}) needs about "
                         f"{fp['memory'] / _GIB:.3g} GiB of memory but {avail / _GIB:.3g} GiB "
                         f"are available: model.L = {p.L}, model.N = {p.N} "
                         f"({fp['model'] / _GIB:.3g} GiB), {steps}; {fix}")
    if out is not None:
        free = _free_disk(Path(out))
        if fp["disk"] > free:
            raise ValueError(f"this run (run.protocol={rp.protocol}) writes about "
                             f"{fp['disk'] / _GIB:.3g} GiB into {out} but {free / _GIB:.3g} GiB "
                             f"are free: {steps} x {realizations} realisation(s), "
                             f"{fp['snapshots']:.3g} snapshots of model.L = {p.L}; {fix}"
                             + (", or raise run.fields_every (0: first and last only)"
                                if rp.protocol == "aqs" else ""))
    wall = fp["time_s"] / max(1, min(parallel, realizations))
    if wall > time_limit_s:
        raise ValueError(f"this run (run.protocol={rp.protocol}) would take about "
                         f"{_fmt_time(wall)} ({steps}, ~{fp['events']:.3g} slip events "
                         f"per realisation at model.lam = {p.lam:g}, model.k = {p.k:g}, "
                         f"model.chi = {p.chi:g}, model.N = {p.N}, model.L = {p.L}; "
                         f"{realizations} realisation(s)), more than the "
                         f"{_fmt_time(time_limit_s)} accepted; {fix}, or change the model "
                         "parameters that set the slip events per unit strain (model.lam, "
                         "model.k, model.chi)")
    return fp

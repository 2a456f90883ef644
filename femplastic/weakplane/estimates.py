"""Up-front estimates of a run's cost: memory, disk and slip events, checked before any work.

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

__all__ = ["run_footprint", "check_footprint", "events_per_strain", "available_memory"]

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


def _steps(gamma_end: float, dgamma: float) -> float:
    return gamma_end / dgamma if dgamma > 0 else math.inf


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
    n = float(params.L) ** 2
    N = float(params.N)
    steps = _steps(run.gamma_end, run.dgamma)
    records = min(steps, RUN_RECORD_CHUNK) * _RECORD_BYTES  # one chunk in memory
    state = 4 * n * (9 + 7 * N) * 8  # quench state, AQS copy, snapshot, chunk start
    periodic = params.variant not in ("A",)  # A: per-element moduli, general propagator
    # periodic kernel: folded kernel + FFT work; else the dense n x n x 9 response while it
    # fits make_propagator's dense budget, then the sparse factors (about 8 kB per element at
    # L = 128, growing like log n; measured by femplastic bench mesh)
    from ..fe.propagators.general import default_dense_budget

    dense = not periodic and 72 * n * n <= default_dense_budget()
    propagator = n * 1024 if periodic else (n * n * 72 if dense else
                                            n * 8192 * max(1.0, math.log2(n) / 14))
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
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024.0
    except OSError:
        pass
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

"""``femplastic run --set run.protocol=...``: the loading protocols other than monotonic AQS.

One function per protocol runs it on a quenched realisation and returns its records;
:func:`run_protocol` loops over realisations (the ``r``-th child of ``SeedSequence(seed)``, as
``femplastic run`` does for AQS) and writes, into the output folder:

* ``results.h5`` -- every realisation's records (published when it is finished,
  :func:`femplastic.io.publish_hdf5`) and the first one's final state, with the parameters,
  seed and version;
* ``curve.csv`` -- the first realisation's main curve (columns named in the header);
* ``summary.json`` -- parameters, seed, protocol, the protocol's headline numbers, timings;
* ``<protocol>.png`` -- a figure suited to the protocol;
* ``fields.xdmf`` (+ ``fields.h5``) -- element fields of the first realisation for ParaView,
  quenched (t = 0) and final (t = 1);
* ``femplastic-run.json`` -- the marker (status ``running`` until the run has finished).

The run follows the rules of :func:`femplastic.cli.run.run_main_job` (status, Ctrl-C,
progress, per-realisation writes, one ``summary.json`` schema); ``cyclic`` and ``stress``
checkpoint and resume; ``rate`` and ``creep`` (:data:`RATE_CHUNK` records per file),
``cyclic`` and ``stress`` (:data:`STEP_CHUNK` load steps per file) stream their records to
chunk files in ``running/rNNNN/`` (stress its avalanche log, cyclic its per-cycle records
too), published into ``results.h5`` when the realisation is finished, so their memory does
not grow with ``run.t_end``, ``run.cycles`` or the ramp (a resumed cyclic/stress run drops
the files written after its checkpoint).

Protocols and their drivers: ``cyclic`` (:func:`femplastic.cyclic`), ``stress``
(:func:`femplastic.stress_controlled`), ``bauschinger`` (preload to ``run.gamma_end``, then
:func:`femplastic.weakplane.probes.bauschinger.bauschinger`), ``local-yield`` (the local shear
test of :func:`femplastic.weakplane.probes.local_yield.local_yield` on the quenched state and
after AQS to ``run.gamma_end``), ``rate`` and ``creep``
(:func:`femplastic.weakplane.drivers.rate.shear_rate`,
:func:`~femplastic.weakplane.drivers.rate.creep`).
The keys of each protocol are validated by :class:`femplastic.weakplane.params.RunParams`
before any work starts.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..weakplane.estimates import RATE_RECORD_CHUNK, RUN_RECORD_CHUNK
from .protocol_figure import protocol_figure

__all__ = ["ProtocolResult", "run_protocol"]


@dataclass
class ProtocolResult:
    """What one realisation of a protocol produced.

    Attributes
    ----------
    records : dict
        Arrays (and nested dicts of arrays) for ``results.h5``.
    curve : tuple of (str, ndarray)
        CSV header (comma-separated names) and columns (n, k).
    summary : dict
        Headline numbers (JSON-serialisable).
    state : State
        Final state (fields for ParaView).
    plot : dict
        What :func:`femplastic.cli.protocol_figure.protocol_figure` draws.
    streamed : _ChunkFiles, optional
        Where the records are when they were streamed to chunk files (``records`` is then
        empty; ``curve``'s columns are a callable yielding blocks of rows).
    """

    records: dict[str, Any]
    curve: tuple[str, Any]
    summary: dict[str, Any]
    state: Any
    plot: dict[str, Any] = field(default_factory=dict)
    streamed: Any = None


#: Load steps per block of a streamed cyclic or stress run (one chunk file each).
STEP_CHUNK = RUN_RECORD_CHUNK


class _StepStream:
    """The load-step records of a ``cyclic``/``stress`` realisation, streamed to chunk files.

    Takes the drivers' blocks (``sink``), writes each as one chunk file (the keys of
    ``keep``), and keeps the last row and the columns ``plot`` decimated to about
    :data:`PLOT_POINTS` points (rows at multiples of a fixed stride: the same points
    whatever the blocks), for the summary, ``curve.csv`` and the figure.
    """

    def __init__(self, rows_of, n_steps: int, keep: tuple[str, ...],
                 plot: tuple[str, ...]) -> None:
        self.rows_of, self.keep, self.plot = rows_of, keep, plot
        self.stride = max(1, n_steps // PLOT_POINTS)
        self.rows = 0
        self.last: dict[str, float] = {}
        self.thin: dict[str, list[np.ndarray]] = {k: [] for k in plot}

    def _account(self, block: dict[str, np.ndarray], start: int) -> None:
        n = int(block[self.plot[0]].shape[0])
        keep = np.arange((-start) % self.stride, n, self.stride)
        for k in self.plot:
            self.thin[k].append(block[k][keep])
        if n:
            self.last = {k: block[k][-1].item() for k in self.plot}

    def __call__(self, block: dict[str, np.ndarray]) -> None:
        rec = {k: block[k] for k in self.keep}
        self.rows_of.write(self.rows, rec)
        self._account(block, self.rows)
        self.rows += int(block[self.keep[0]].shape[0])

    def restart_at(self, row0: int) -> None:
        """Resume at row ``row0`` (a block boundary): drop later files, re-read earlier rows."""
        self.rows_of.truncate(row0)
        if self.rows_of.rows_upto(row0) != row0:
            raise ValueError(f"resume: the step records before row {row0} are missing from "
                             f"{self.rows_of.folder}; rerun without --resume")
        for a in range(0, row0, STEP_CHUNK):
            b = min(a + STEP_CHUNK, row0)
            self._account({k: self.rows_of.read(k, a, b) for k in self.plot}, a)
        self.rows = row0

    def curve(self) -> dict[str, np.ndarray]:
        """The decimated columns."""
        return {k: np.concatenate(v) if v else np.zeros(0) for k, v in self.thin.items()}

    def blocks(self, names: tuple[str, ...]):
        """The columns ``names`` as (rows, k) arrays, one chunk at a time."""
        for a in range(0, self.rows, STEP_CHUNK):
            b = min(a + STEP_CHUNK, self.rows)
            yield np.column_stack([self.rows_of.read(k, a, b) for k in names])


def _stream_for(rows_of, n_steps: int, keep: tuple[str, ...], plot: tuple[str, ...],
                kw: dict[str, Any]) -> _StepStream | None:
    """A :class:`_StepStream` wired into the driver's ``kw`` (None without ``rows_of``)."""
    if rows_of is None:
        return None
    stream = _StepStream(rows_of, n_steps, keep, plot)
    ck = kw.get("resume")
    if ck is not None:
        from ..weakplane import path_kernels as PK

        stream.restart_at(int(ck.records["ipos"][PK.R0]))
    else:
        rows_of.remove()  # (a killed run's)
    kw.update(sink=stream, sink_rows=STEP_CHUNK)
    return stream


class _LogFiles:
    """The avalanche log of a streamed ``stress`` realisation, in chunk files.

    The driver's ``log_sink``: each block of the log
    (:class:`~femplastic.weakplane.drivers.avalanche_log.LoopLog`, :data:`STEP_CHUNK` avalanches) is
    written as one chunk file of ``avalanche_dissipation, avalanche_sizes`` in
    ``files`` (published into the realisation's group with the step records), and counted
    (avalanches, the largest, how many of each size) for the summary and the figure. A
    resumed run drops the files after its checkpoint's ``log0`` and recounts the others.
    """

    def __init__(self, files, kw: dict[str, Any], dim: int = 2) -> None:
        self.files, self.rows, self.largest = files, 0, 0
        self.counts: dict[int, int] = {}
        ck = kw.get("resume")
        if ck is None:
            files.remove()  # (a killed run's)
            return
        from ..weakplane import path_kernels as PK
        from ..weakplane.drivers.path import loop_ipos

        a0 = int(loop_ipos(ck.records, dim)[PK.A0])  # the 3D loop's layout in 3D
        files.truncate(a0)
        if files.rows_upto(a0) != a0:
            raise ValueError(f"resume: the avalanche log before row {a0} is missing from "
                             f"{files.folder}; rerun without --resume")
        for a in range(0, a0, STEP_CHUNK):
            self._count(files.read("avalanche_sizes", a, min(a + STEP_CHUNK, a0)))

    def _count(self, sizes: np.ndarray) -> None:
        vals, cnt = np.unique(sizes.astype(np.int64), return_counts=True)
        for v, c in zip(vals.tolist(), cnt.tolist(), strict=True):
            self.counts[v] = self.counts.get(v, 0) + c
        self.rows += int(sizes.size)
        if sizes.size:
            self.largest = max(self.largest, int(sizes.max()))

    def __call__(self, kind: str, block: dict[str, np.ndarray]) -> None:
        if kind != "avalanches":
            return
        self.files.write(self.rows, {"avalanche_dissipation": block["dissipation"],
                                     "avalanche_sizes": block["size"]})
        self._count(block["size"])

    def size_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """Distinct avalanche sizes (increasing) and how many avalanches had each."""
        vals = np.array(sorted(self.counts), np.int64)
        return vals, np.array([self.counts[v] for v in vals.tolist()], np.int64)


def _size_counts(sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    vals, cnt = np.unique(np.asarray(sizes, np.int64), return_counts=True)
    return vals, cnt.astype(np.int64)


#: Cycles listed in a cyclic run's summary (``events_per_cycle``, ``dissipation_per_cycle``)
#: and figure: every ``per_cycle_every``-th cycle, ``per_cycle_every = ceil(cycles /
#: SUMMARY_CYCLES)`` (1, every cycle, up to this many cycles).
SUMMARY_CYCLES = 10_000


class _CycleFiles:
    """The per-cycle records of a streamed ``cyclic`` realisation, in chunk files.

    The driver's ``log_sink`` (:func:`femplastic.cyclic`; the avalanche log and events are
    dropped: the outputs do not store them): each block of cycle rows is written as one chunk
    file of ``events, plastic_net, plastic_abs, loop_work, dissipation, balance`` in
    ``cycles/`` and one of ``strobe_stress, strobe_energy`` in ``strobes/`` (which gets the
    end state's row last, :meth:`finish`), published into the realisation's group with the
    step records (the datasets of an in-memory run). The summary's figures are running
    values: cycles, the largest ``|balance|`` and the rows of every ``every``-th cycle
    (:data:`SUMMARY_CYCLES`). A resumed run drops the files after its checkpoint's
    ``cycles_handed`` rows and re-reads the others.
    """

    SUMS = ("events", "plastic_net", "plastic_abs", "loop_work", "dissipation", "balance")

    def __init__(self, rows_of, cycles: int, kw: dict[str, Any]) -> None:
        from .records import _ChunkFiles

        self.sums = _ChunkFiles(rows_of.folder / "cycles")
        self.strobes = _ChunkFiles(rows_of.folder / "strobes")
        rows_of.also = [self.sums, self.strobes]
        self.every = -(-int(cycles) // SUMMARY_CYCLES)
        self.rows, self.max_balance = 0, 0.0
        self.listed: dict[str, list] = {"cycle": [], "events": [], "dissipation": [],
                                        "loop_work": []}
        ck = kw.get("resume")
        if ck is None:
            for f in (self.sums, self.strobes):
                f.remove()  # (a killed run's)
            return
        n = int(ck.records["cycles_handed"]) if "cycles_handed" in ck.records else 0
        for f in (self.sums, self.strobes):
            f.truncate(n)
            if f.rows_upto(n) != n:
                raise ValueError(f"resume: the per-cycle records before cycle {n} are missing "
                                 f"from {f.folder}; rerun without --resume")
        for a in range(0, n, STEP_CHUNK):
            b = min(a + STEP_CHUNK, n)
            self._account({k: self.sums.read(k, a, b) for k in self.SUMS})

    def _account(self, block: dict[str, np.ndarray]) -> None:
        k = int(block["events"].shape[0])
        keep = np.arange((-self.rows) % self.every, k, self.every)
        self.listed["cycle"].extend((self.rows + keep).tolist())
        for name in ("events", "dissipation", "loop_work"):
            self.listed[name].extend(block[name][keep].tolist())
        if k:
            self.max_balance = max(self.max_balance, float(np.abs(block["balance"]).max()))
        self.rows += k

    def __call__(self, kind: str, block: dict[str, np.ndarray]) -> None:
        if kind != "cycles":
            return
        self.sums.write(self.rows, {k: block[k] for k in self.SUMS})
        self.strobes.write(self.rows, {k: block[k] for k in ("strobe_stress", "strobe_energy")})
        self._account(block)

    def finish(self, r) -> None:
        """Write the end state's strobe row (the last of ``strobe_stress, strobe_energy``)."""
        self.strobes.write(self.rows, {"strobe_stress": r.strobe_stress[-1:],
                                       "strobe_energy": r.strobe_energy[-1:]})


def _cyclic_summary(r, n: int, every: int, listed: dict[str, list], max_balance: float
                    ) -> dict[str, Any]:
    return {"cycles_run": n, "absorbed_at": r.absorbed_at, "period": r.period,
            "transient": r.transient, "per_cycle_every": every,
            "events_per_cycle": [int(x) for x in listed["events"]],
            "dissipation_per_cycle": listed["dissipation"],
            "max_energy_balance_residual": max_balance}


def _cyclic(state, p, rng, rp, opts, rows_of=None, **kw) -> ProtocolResult:
    from types import SimpleNamespace as NS

    from ..weakplane.drivers.cyclic import cyclic

    n_steps = 4 * int(round(opts["gamma_max"] / rp.dgamma)) * int(opts["cycles"])
    names = ("gamma", "stress", "cycle")
    stream = _stream_for(rows_of, n_steps, ("gamma", "stress", "stress_before",
                                            "avalanche_size", "cycle"), names, kw)
    if stream is not None:  # the per-cycle rows to chunk files (the log is not stored)
        cyc = _CycleFiles(rows_of, opts["cycles"], kw)
        kw["log_sink"] = cyc
    r = cyclic(state, p, rng, gamma_max=opts["gamma_max"], cycles=opts["cycles"],
               dgamma=rp.dgamma, alpha=rp.alpha, until_absorbed=opts["until_absorbed"], **kw)
    if stream is not None:
        cyc.finish(r)
        summ = _cyclic_summary(r, cyc.rows, cyc.every, cyc.listed, cyc.max_balance)
        run = NS(**stream.curve(), n_cycles=cyc.rows, listed=cyc.listed)
        return ProtocolResult({}, (",".join(names), lambda: stream.blocks(names)), summ,
                              r.state, {"run": run}, rows_of)
    every = -(-int(opts["cycles"]) // SUMMARY_CYCLES)
    listed = _listed(r.dissipation, r.loop_work, every, r.events)
    summ = _cyclic_summary(r, r.n_cycles, every, listed,
                           float(np.abs(r.balance).max()) if r.n_cycles else 0.0)
    rec = {"gamma": r.gamma, "stress": r.stress, "stress_before": r.stress_before,
           "avalanche_size": r.avalanche_size, "cycle": r.cycle,
           **{k: getattr(r, k) for k in ("strobe_stress", "strobe_energy", *_CycleFiles.SUMS)}}
    run = NS(gamma=r.gamma, stress=r.stress, cycle=r.cycle, n_cycles=r.n_cycles, listed=listed)
    return ProtocolResult(rec, ("gamma,stress,cycle", np.column_stack(
        [r.gamma, r.stress, r.cycle])), summ, r.state, {"run": run})


def _listed(dissipation, loop_work, every: int, events=None) -> dict[str, list]:
    """Every ``every``-th cycle's rows (the summary's and figure's lists)."""
    keep = np.arange(0, dissipation.size, every)
    out = {"cycle": keep.tolist(), "dissipation": dissipation[keep].tolist(),
           "loop_work": loop_work[keep].tolist()}
    if events is not None:
        out["events"] = events[keep].tolist()
    return out


def _stress(state, p, rng, rp, opts, rows_of=None, **kw) -> ProtocolResult:
    from types import SimpleNamespace as NS

    from ..weakplane.drivers.stress import stress_controlled

    names = ("target", "stress", "gamma")
    n_steps = max(1, int(np.ceil(abs(opts["stress_end"]) / opts["dstress"])))  # (decimation)
    stream = _stream_for(rows_of, n_steps, ("target", "stress", "gamma", "gamma_jump",
                                            "avalanche_size"), names, kw)
    log = None
    if stream is not None:  # the avalanche log to chunk files too
        from .records import _ChunkFiles

        log = _LogFiles(_ChunkFiles(rows_of.folder / "avalanches"), kw, state.model.dim)
        rows_of.also = [log.files]
        kw["log_sink"] = log
    r = stress_controlled(state, p, rng, stress_end=opts["stress_end"], dstress=opts["dstress"],
                          alpha=rp.alpha, gamma_limit=opts["gamma_limit"], **kw)
    av = r.avalanches
    aval = {"avalanche_dissipation": av.dissipation, "avalanche_sizes": av.size}
    last = stream.last if stream is not None else {"stress": r.stress[-1], "gamma": r.gamma[-1]}
    n_av, largest = (log.rows, log.largest) if log is not None else (
        int(av.size.size), int(av.size.max()) if av.size.size else 0)
    summ = {"flowed": r.flowed, "final_stress": float(last["stress"]),
            "final_gamma": float(last["gamma"]), "n_avalanches": n_av,
            "largest_avalanche": largest}
    if stream is not None and log is not None:
        c = stream.curve()
        run = NS(gamma=c["gamma"], stress=c["stress"], size_counts=log.size_counts())
        empty = {} if log.rows else aval  # (no avalanche: no file; the empty columns)
        return ProtocolResult(empty, (",".join(names), lambda: stream.blocks(names)), summ,
                              r.state, {"run": run}, rows_of)
    rec = {"target": r.target, "stress": r.stress, "gamma": r.gamma, "gamma_jump": r.gamma_jump,
           "avalanche_size": r.avalanche_size, **aval}
    run = NS(gamma=r.gamma, stress=r.stress, size_counts=_size_counts(av.size))
    return ProtocolResult(rec, ("target,stress,gamma", np.column_stack(
        [r.target, r.stress, r.gamma])), summ, r.state, {"run": run})


def _part(progress, a: float, b: float):
    """``progress`` for a part of the run: its fractions 0..1 shown as a..b."""
    if progress is None:
        return None

    def part(frac: float, n_events: int | None = None) -> None:
        progress(a + (b - a) * frac, n_events)

    part.wants_events = True  # type: ignore[attr-defined]
    return part


def _bauschinger(state, p, rng, rp, opts, progress=None) -> ProtocolResult:
    from ..weakplane.drivers.aqs import aqs
    from ..weakplane.probes.bauschinger import bauschinger

    f = rp.gamma_end / (rp.gamma_end + 2 * opts["gamma_reload"])  # the preload's share
    pre = aqs(state, p, rng, gamma_end=rp.gamma_end, dgamma=rp.dgamma,
              event_driven=rp.event_driven, progress=_part(progress, 0.0, f))
    b = bauschinger(pre.state, p, rng, gamma_reload=opts["gamma_reload"], dgamma=rp.dgamma)
    if progress is not None:
        progress(1.0, int(b.unloaded.n_events))
    rec = {"preload": {"gamma": pre.gamma, "stress": pre.stress},
           "forward": {"gamma": b.forward.gamma, "stress": b.forward.stress},
           "reverse": {"gamma": b.reverse.gamma, "stress": b.reverse.stress}}
    summ = {"preload_stress": float(pre.stress[-1]),
            "forward_final": float(b.forward.stress[-1]),
            "reverse_final": float(b.reverse.stress[-1])}
    return ProtocolResult(rec, ("gamma,forward,reverse", np.column_stack(
        [b.forward.gamma, b.forward.stress, b.reverse.stress])), summ, b.unloaded,
        {"pre": pre, "b": b})


def _local_yield(state, p, rng, rp, opts, progress=None) -> ProtocolResult:
    from ..weakplane.drivers.aqs import aqs
    from ..weakplane.probes.local_yield import local_yield

    n = min(opts["patch"], p.L) if rp.patch is None else opts["patch"]
    alphas = np.pi * np.arange(opts["n_alphas"]) / opts["n_alphas"]
    sheared = aqs(state, p, rng, gamma_end=rp.gamma_end, dgamma=rp.dgamma,
                  event_driven=rp.event_driven, progress=_part(progress, 0.0, 1 / 3)).state
    rec, summ, cols = {}, {"patch": n, "alphas": alphas.tolist()}, []
    # 3D: cubic patches sheared about each coordinate axis in turn (columns: axis-major,
    # then alpha; local_yield3d's convention: axis z is the 2D tensor in the xy plane)
    axes = ("x", "y", "z") if getattr(p, "dim", 2) == 3 else None
    if axes is not None:
        summ["axes"] = list(axes)
    fields = ("tau_i", "tau_c", "dtau_c", "drop", "sigma_vm", "gamma_c", "n_events",
              "positions") + (("axes",) if axes is not None else ())
    for i, (name, st) in enumerate((("quench", state), ("sheared", sheared))):
        ly = local_yield(st, p, rng, n, alphas, stride=max(1, n // 2),
                         progress=_part(progress, (1 + i) / 3, (2 + i) / 3), axes=axes)
        rec[name] = {f: getattr(ly, f) for f in fields}
        fin = np.ma.masked_invalid(ly.tau_c)  # inf: a patch that never yields (LocalYield)
        summ[name] = {"mean_tau_c": fin.mean(axis=0).filled(np.nan).tolist(),
                      "std_tau_c": fin.std(axis=0).filled(np.nan).tolist(), "R": ly.R,
                      "never_yield": (~np.isfinite(ly.tau_c)).sum(axis=0).tolist()}
        cols.append(ly.tau_c[:, 0])
    k = min(c.size for c in cols)
    return ProtocolResult(rec, ("tau_c_quench,tau_c_sheared", np.column_stack(
        [c[:k] for c in cols])), summ, sheared, {"rec": rec, "alphas": alphas})


#: Records per chunk file of the streamed ``rate``/``creep`` runs (memory holds one).
RATE_CHUNK = RATE_RECORD_CHUNK
#: Points kept per curve for the figure of a streamed run.
PLOT_POINTS = 20_000


class _RateStream:
    """The records of a ``rate``/``creep`` realisation, streamed to chunk files.

    Keeps what the summary and figure need: the last ``gamma``, running means (merged per
    block) of the stress and strain rate over the second half of the run, and the curves
    decimated to about :data:`PLOT_POINTS` points.
    """

    def __init__(self, rows_of, n_rec: int, t_last: float) -> None:
        self.rows_of, self.t_half = rows_of, t_last / 2
        self.stride = max(1, n_rec // PLOT_POINTS)
        self.rows = 0
        self.n, self.mean = 0, np.zeros(2)
        self.final_gamma = float("nan")
        self.thin: dict[str, list[np.ndarray]] = {k: [] for k in
                                                  ("time", "gamma", "stress", "strain_rate")}

    def __call__(self, block: dict[str, np.ndarray]) -> None:
        self.rows_of.write(self.rows, block)
        late = block["time"] > self.t_half
        x = np.stack([block["stress"][late], block["strain_rate"][late]])
        if x.shape[1]:
            n = self.n + x.shape[1]
            self.mean += (x.mean(axis=1) - self.mean) * x.shape[1] / n
            self.n = n
        keep = np.arange((-self.rows) % self.stride, block["time"].size, self.stride)
        for k, v in self.thin.items():
            v.append(block[k][keep])
        self.final_gamma = float(block["gamma"][-1])
        self.rows += int(block["time"].size)
        from .. import interrupt

        interrupt.check()  # a safe point: the block is on disk

    def blocks(self, names: tuple[str, ...]):
        """The columns ``names`` as (rows, k) arrays, one chunk at a time."""
        for a in range(0, self.rows, RATE_CHUNK):
            b = min(a + RATE_CHUNK, self.rows)
            yield np.column_stack([self.rows_of.read(k, a, b) for k in names])


def _rate_or_creep(state, p, rng, rp, opts, creep: bool, rows_of=None,
                   progress=None) -> ProtocolResult:
    """A ``rate``/``creep`` realisation; its records streamed to ``rows_of`` when given."""
    from types import SimpleNamespace as NS

    from ..weakplane.drivers import rate as R

    tp = R.RateParams(tau0=opts["tau0"], tau_pl=opts["tau_pl"], tau_res=opts["tau_res"],
                      dt=opts["dt"])
    n_rec = int(round(opts["t_end"] / tp.dt)) // 10  # (the drivers' record_every = 10)
    stream = None if rows_of is None else _RateStream(rows_of, n_rec, n_rec * 10 * tp.dt)
    kw = {"progress": progress}
    if stream is not None:
        kw.update(sink=stream, sink_rows=RATE_CHUNK)
    if creep:
        r = R.creep(state, tp, rng, stress=opts["target_stress"], t_end=opts["t_end"],
                    alpha=rp.alpha, **kw)
    else:
        r = R.shear_rate(state, tp, rng, gdot=opts["gdot"], t_end=opts["t_end"],
                         alpha=rp.alpha, **kw)
    names = ("time", "gamma", "stress", "strain_rate")
    header = ",".join(names)
    if stream is not None:
        summ = {"final_gamma": stream.final_gamma,
                "late_mean_stress": float(stream.mean[0]),
                "late_mean_strain_rate": float(stream.mean[1])}
        run = NS(**{k: np.concatenate(v) for k, v in stream.thin.items()})
        return ProtocolResult({}, (header, lambda: stream.blocks(names)), summ, r.state,
                              {"run": run, "creep": creep}, rows_of)
    rec = {f: getattr(r, f) for f in ("time", "gamma", "stress", "plastic_fraction",
                                      "strain_rate", "mean_tauc")}
    half = r.time > r.time[-1] / 2
    summ = {"final_gamma": float(r.gamma[-1]),
            "late_mean_stress": float(r.stress[half].mean()),
            "late_mean_strain_rate": float(r.strain_rate[half].mean())}
    return ProtocolResult(rec, (header, np.column_stack([getattr(r, k) for k in names])),
                          summ, r.state, {"run": r, "creep": creep})


#: Protocols whose runs checkpoint and resume (their drivers take checkpoint=/resume=).
RESUMABLE = ("cyclic", "stress")


def run_protocol(cfg, seed: int, realizations: int, out: Path, progress: bool | str = False,
                 checkpoint_every: float | None = None, resume: bool = False
                 ) -> dict[str, Any]:
    """Quench and run ``cfg.run.protocol`` on ``realizations`` samples; write the outputs.

    The same engine rules as the AQS runs of :func:`femplastic.cli.run.run_main_job`: the
    marker ``femplastic-run.json`` and ``status`` in every file read ``"running"`` until the
    whole run has finished; each realisation is published into ``results.h5`` (a copy
    changed and renamed over it: never changed in place) as soon as it is finished, with its
    headline numbers and event counts as attributes; parameters, seed and version are in
    ``results.h5`` and ``fields.h5``; Ctrl-C stops at the drivers' safe points. ``cyclic``
    and ``stress`` runs checkpoint (``checkpoint_every``: one period across realisations)
    and resume (bitwise the uninterrupted run's ``results.h5``).

    Parameters
    ----------
    cfg : Config
        Validated configuration; ``cfg.run.protocol`` is not ``aqs``.
    seed : int
        Root seed; realisation ``r`` uses the ``r``-th child of ``SeedSequence(seed)``.
    realizations : int
        Number of samples (>= 1).
    out : Path
        Output folder (created).
    progress : bool or str
        ``"bar"`` (or True), ``"lines"`` or False, as for ``run_main_job``.
    checkpoint_every : float, optional
        Seconds between checkpoints (``cyclic``, ``stress``; 0: at every chunk).
    resume : bool
        Continue the interrupted run in ``out`` (``cyclic``, ``stress``).

    Returns
    -------
    dict
        The summary written to ``summary.json``: ``status, protocol, n_events,
        n_avalanches, wall_time_s, per_realization`` first, then ``params, seed,
        realizations, realizations_finished, version, settings, files``.

    Raises
    ------
    ValueError
        Checkpoints or resume asked of another protocol; a folder that cannot be resumed.
    """
    from .. import __version__, interrupt, io
    from ..weakplane.drivers import quench
    from .records import _ChunkFiles
    from .run import (
        _Checkpointing,
        _final_state,
        _jsonable,
        _opened_run,
        _Progress,
        _remove_empty,
        _ResumePoint,
    )

    p, rp = cfg.model, cfg.run
    opts = rp.settings()
    proto = rp.protocol
    mode = "bar" if progress is True else (progress or "off")
    if (checkpoint_every is not None or resume) and proto not in RESUMABLE:
        raise ValueError(f"--checkpoint-every/--resume apply to run.protocol=aqs, "
                         f"{', '.join(RESUMABLE)}; not to {proto}")
    fn = {"cyclic": _cyclic, "stress": _stress, "bauschinger": _bauschinger,
          "local-yield": _local_yield,
          "rate": lambda *a, **k: _rate_or_creep(*a, creep=False, **k),
          "creep": lambda *a, **k: _rate_or_creep(*a, creep=True, **k)}[proto]
    params = cfg.to_dict()
    from ..weakplane.meshfile import mesh_provenance  # model.mesh: path, SHA-256, n_elem
    params["model"].update(mesh_provenance(cfg.model))  # in the summary and the resume tag
    tag = {"version": __version__, "config": params, "seed": int(seed),
           "realizations": int(realizations), "records_layout": 3}
    start = _ResumePoint(out, tag, None) if resume else None  # checked before any write
    ck = _Checkpointing(out, tag, checkpoint_every)
    results = out / "results.h5"
    files = ["results.h5", "curve.csv", "summary.json", f"{proto}.png", "fields.xdmf"]
    children = np.random.SeedSequence(seed).spawn(realizations)
    with interrupt.deferred(), _opened_run(out, start, params, seed, realizations,
                                           checkpoint_every, protocol=proto) as first:
        t0 = time.perf_counter()
        per: list[dict[str, Any]] = []
        n_events = n_aval = 0
        for r in range(first):  # finished before the interruption
            att = io.read_attrs(results, f"realizations/r{r:04d}")
            per.append(json.loads(att["summary"]))
            n_events += int(att["n_events"])
            n_aval += int(att["n_avalanches"])
        if first and not all((out / f).exists() for f in ("curve.csv", f"{proto}.png")):
            _redraw_first(proto, results, out)  # stopped before writing them
        summary: dict[str, Any] = {}

        def write_summary(finished: int, done: bool) -> dict[str, Any]:
            summ = {"status": "complete" if done else "running", "protocol": proto,
                    "n_events": n_events, "n_avalanches": n_aval,
                    "wall_time_s": time.perf_counter() - t0, "per_realization": per,
                    "params": params, "seed": seed, "realizations": realizations,
                    "realizations_finished": finished, "version": __version__,
                    "settings": opts, "files": files}
            text = json.dumps(_jsonable(json.loads(json.dumps(summ, default=_json_default))),
                              indent=2, allow_nan=False)
            io.outdir.write_text(out / "summary.json", text)
            io.outdir.mark(out, summ["status"], seed=seed, realizations=realizations,
                           finished=finished, protocol=proto,
                           checkpoint_every=checkpoint_every)
            return summ

        if first == realizations:  # stopped after the last publish: only the last writes
            summary = write_summary(first, True)
        for r in range(first, realizations):
            interrupt.check()
            rng = np.random.default_rng(children[r])
            rep = _Progress(f"quench {r + 1}/{realizations}", mode, quench=True)
            state = quench(p, rng, progress=rep)  # (a resumed run's generator is restored)
            rep.close()
            rep = _Progress(f"{proto} {r + 1}/{realizations}", mode)
            kw: dict[str, Any] = {"progress": rep}
            if proto in ("rate", "creep", "cyclic", "stress"):  # streamed to chunk files
                kw["rows_of"] = _ChunkFiles(out / "running" / f"r{r:04d}")
                if proto in ("rate", "creep"):  # (cyclic, stress: see _stream_for)
                    kw["rows_of"].remove()  # (a killed run's)
            if proto in RESUMABLE:
                if start is not None and start.ck is not None and r == start.finished:
                    kw["resume"] = start.ck
                if ck.every is not None:
                    def hook(snapshot, rr=r):
                        ck.save(snapshot, rr, 0, False)

                    kw.update(checkpoint=hook, checkpoint_every=ck.period,
                              checkpoint_since=ck.last)
            if r == 0:
                with io.XdmfWriter(out / "fields.xdmf", state.model.mesh, params=params,
                                   seed=seed, staging=out / "running" / "fields") as w:
                    _snap(w, 0.0, state)  # quenched (t = 0) and final (t = 1)
                    res = fn(state, p, rng, rp, opts, **kw)
                    _snap(w, 1.0, res.state)
            else:
                res = fn(state, p, rng, rp, opts, **kw)
            rep.close()
            n_events += int(res.state.n_events)
            n_aval += int(res.state.n_avalanches)
            per.append(json.loads(json.dumps(res.summary, default=_json_default)))
            done = r + 1 == realizations
            group = {**res.records, "summary": json.dumps(per[-1]),
                     "n_events": int(res.state.n_events),
                     "n_avalanches": int(res.state.n_avalanches)}
            root: dict[str, Any] = {"realizations": {f"r{r:04d}": group},
                                    "realizations_finished": r + 1}
            if r == 0:
                root["final_state"] = _final_state(res.state)
            if done:
                root["status"] = "complete"
            if res.streamed is None:
                io.publish_hdf5(results, root)
            else:  # the chunk files become realizations/rNNNN, atomically
                del root["realizations"]
                attrs = {k: v for k, v in group.items() if k not in res.records}
                res.streamed.publish(results, f"realizations/r{r:04d}", attrs, root,
                                     extra=res.records)
            interrupt.check()
            if r == 0:
                _write_first(proto, res, out)
            if res.streamed is not None:
                res.streamed.remove()
            summary = write_summary(r + 1, done)
        ck.finish()
        _remove_empty(out / "running")  # (the fields' staging folder was in it)
    return summary


def _snap(w, t: float, s) -> None:
    w.write(t, s.stress, s.eps_pl, slips=s.slips, min_dtau=s.dtau().min(axis=1),
            mean_tauc=s.mean_tauc(axis=1))


def _write_first(proto: str, res: ProtocolResult, out: Path) -> None:
    """``curve.csv`` and ``<protocol>.png`` of the first realisation, each atomically."""
    import io as _io

    from .. import interrupt, io

    header, cols = res.curve

    blocks = cols() if callable(cols) else (cols[a:a + 20_000]
                                            for a in range(0, cols.shape[0], 20_000))

    def lines():  # in blocks, with a safe point for Ctrl-C between them
        yield header + "\n"
        for block in blocks:
            interrupt.check()
            buf = _io.StringIO()
            np.savetxt(buf, block, delimiter=",", fmt="%.10g")
            yield buf.getvalue()

    io.outdir.write_text(out / "curve.csv", lines())
    interrupt.check()
    io.outdir.replace_file(out / f"{proto}.png", lambda tmp: protocol_figure(proto, [res], tmp),
                           tmp=out / f"{proto}.part.png")


def _redraw_first(proto: str, results: Path, out: Path) -> None:
    """Rewrite the first realisation's curve and figure from its records (after a resume)."""
    from types import SimpleNamespace as NS

    from .. import io

    rec = io.read_hdf5(results)["realizations"]["r0000"]
    if proto == "cyclic":
        n = int(rec["dissipation"].size)
        every = json.loads(io.read_attrs(results, "realizations/r0000")["summary"]).get(
            "per_cycle_every", 1)
        run = NS(**{k: rec[k] for k in ("gamma", "stress", "cycle")}, n_cycles=n,
                 listed=_listed(rec["dissipation"], rec["loop_work"], int(every)))
        curve = ("gamma,stress,cycle", np.column_stack([run.gamma, run.stress, run.cycle]))
    elif proto == "stress":
        run = NS(gamma=rec["gamma"], stress=rec["stress"],
                 size_counts=_size_counts(rec["avalanche_sizes"]))
        curve = ("target,stress,gamma", np.column_stack([rec["target"], rec["stress"],
                                                         rec["gamma"]]))
    else:  # only resumable protocols get here
        return
    _write_first(proto, ProtocolResult({}, curve, {}, None, {"run": run}), out)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")

"""``femplastic run``: quench and shear the weak-plane model, write every output file.

Writes ``results.h5``, ``curve.csv``, ``summary.json``, ``stress_strain.png``,
``fields.xdmf`` (+ ``fields.h5``) and the marker ``femplastic-run.json`` into ``--out``
(:func:`run_main_job`). Before any work :func:`cmd_run` checks the configuration, the output
folder (:mod:`femplastic.io.outdir`: a folder with foreign files is refused unless
``--overwrite``, a previous run is moved aside to ``OUT.1``, ``OUT.2``, ...) and the memory
and disk the run needs (:mod:`femplastic.weakplane.estimates`), and warns when the
parameters imply millions of slip events per unit strain.

The load-step records of a realisation are streamed, in chunks of at most
:data:`RECORD_CHUNK` steps, to atomically written files ``running/rNNNN/START-STOP.h5``;
when the realisation is finished they are published into ``results.h5`` as
``realizations/rNNNN`` (a copy of the file changed and renamed over it: ``results.h5`` is
never changed in place, so a SIGKILL never leaves it unreadable). Memory does not grow with
``gamma_end``; the summary and plot use running statistics and a decimated curve
(:mod:`femplastic.cli.records`). ParaView snapshots of realisation 0 are added to
``fields.xdmf`` as they are taken (staged in ``running/fields/``, gathered into ``fields.h5``
at its end: :class:`femplastic.io.XdmfWriter`, crash-safe too). Checkpoints
(``--checkpoint-every``: one timer over the whole run) and ``--resume`` (from the last
finished realisation and the checkpoint; bitwise the uninterrupted run) are
:class:`_Checkpointing` and :class:`_ResumePoint`. The other protocols
(:mod:`femplastic.cli.protocols`) follow the same rules. ``status`` in ``results.h5``,
``fields.h5``, ``summary.json`` and the marker says ``"running"`` until the whole run has
finished: an
interrupted folder is recognisable and readable.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ..io.outdir import replace_file
from ..weakplane.estimates import RUN_RECORD_CHUNK
from .records import _ChunkFiles, _H5Rows, _RecordStream, clear_failed, mark_failed

__all__ = ["cmd_run", "run_main_job"]

#: Seconds between two progress lines on stderr when it is not a terminal.
PROGRESS_EVERY_S = 5.0
#: Slip events per element and unit strain above which ``femplastic run`` warns.
EVENTS_WARN = 1e4


class _Progress:
    """A progress report: a bar on a terminal, a line every few seconds elsewhere."""

    wants_events = True

    def __init__(self, desc: str, mode: str, steps: int = 0, gamma_end: float = 0.0,
                 quench: bool = False) -> None:
        self.desc, self.mode, self.steps, self.gamma_end = desc, mode, steps, gamma_end
        self.quench = quench
        self.t0 = self.last = time.perf_counter()
        self.bar = None
        if mode == "bar":
            from tqdm.auto import tqdm

            self.bar = tqdm(total=100, desc=desc, leave=False,
                            bar_format="{l_bar}{bar}| {n:.0f}% [{elapsed}<{remaining}]")

    def __call__(self, frac: float, n_events: int | None = None) -> None:
        if self.bar is not None:
            target = min(100.0, 100.0 * frac)
            if target > self.bar.n:
                self.bar.update(target - self.bar.n)
            return
        now = time.perf_counter()
        if self.mode != "lines" or now - self.last < PROGRESS_EVERY_S:
            return
        self.last = now
        rate = (n_events or 0) / max(now - self.t0, 1e-9)
        if self.quench:
            what = f"~{100 * frac:.0f} % (estimate against the stationarity criterion)"
        elif not self.steps:
            what = f"{100 * frac:.0f} %"
        else:
            step = int(round(frac * self.steps))
            what = f"step {step}/{self.steps}, gamma {frac * self.gamma_end:.4f}"
        print(f"femplastic run: {self.desc}: {what}, {n_events or 0} events, "
              f"{rate:.0f} events/s", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _jsonable(x: Any) -> Any:
    """``x`` with every non-finite float replaced by None (strict JSON)."""
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, float | np.floating):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


def run_main_job(cfg, seed: int, realizations: int, out: Path, progress: bool | str = False,
                 checkpoint_every: float | None = None, resume: bool = False) -> dict[str, Any]:
    """Quench and shear ``realizations`` samples; write every output file into ``out``.

    Realisation ``r`` uses the ``r``-th child of ``SeedSequence(seed)``, so its result does
    not depend on how many realisations are run. Each one is published into ``results.h5``
    when it is finished; ``status`` stays ``"running"`` until all are.

    Crash safety: ``results.h5`` is only ever replaced whole (a copy changed, then renamed
    over it), never changed in place; the records of the realisation being sheared go to
    ``running/rNNNN/`` as one small HDF5 file per chunk, each written atomically. A SIGKILL
    at any moment leaves readable files.

    With ``checkpoint_every`` (seconds of wall time, counted over the whole run: across
    record chunks, snapshots and realisations; 0: at every chunk) a restartable checkpoint
    is written atomically to ``out/checkpoint.npz``
    (:mod:`femplastic.weakplane.drivers.checkpoint`). With ``resume`` the run continues from
    the last finished realisation in ``results.h5`` and, when ``checkpoint.npz`` belongs to
    the next one, from that checkpoint: ``results.h5``, ``summary.json``'s statistics and
    ``curve.csv`` are bitwise those of the uninterrupted run; ``fields.xdmf`` then holds the
    snapshots from the resume point on (the quench is redone only for heterogeneous models,
    variant A, whose model belongs to the realisation).

    Parameters
    ----------
    cfg : Config
    seed : int
    realizations : int
    out : Path
        Output folder (created; files of the same names are replaced).
    progress : bool or str
        ``"bar"`` (or True): progress bars; ``"lines"``: a line on stderr every
        :data:`PROGRESS_EVERY_S` seconds; False: silent.
    checkpoint_every : float, optional
        Seconds between checkpoints (>= 0; 0: at every chunk of the shear).
    resume : bool
        Continue the interrupted run in ``out`` (same version, configuration, seed and
        realisations, else refused naming what differs).

    Returns
    -------
    dict
        The summary (also in ``summary.json``).

    Raises
    ------
    ValueError
        Bad ``checkpoint_every``; with ``resume``, a folder that cannot be resumed (one line
        naming why), found before anything is written.
    """
    from .. import __version__, interrupt, io
    from ..weakplane.drivers import quench

    mode = "bar" if progress is True else (progress or "off")
    out = Path(out)
    p, rp = cfg.model, cfg.run
    params = cfg.to_dict()
    from ..weakplane.meshfile import mesh_provenance  # model.mesh: path, SHA-256, n_elem
    params["model"].update(mesh_provenance(cfg.model))  # in the summary and the resume tag
    if checkpoint_every is not None and not (isinstance(checkpoint_every, int | float)
                                             and math.isfinite(checkpoint_every)
                                             and checkpoint_every >= 0):
        raise ValueError(f"--checkpoint-every must be >= 0 seconds, got {checkpoint_every}")
    tag = {"version": __version__, "config": params, "seed": int(seed),
           "realizations": int(realizations), "records_layout": 3}
    n_steps = int(round(rp.gamma_end / rp.dgamma))
    chunks = _chunks(rp)
    start = _ResumePoint(out, tag, chunks) if resume else None  # checked before any write
    ck = _Checkpointing(out, tag, checkpoint_every)
    children = np.random.SeedSequence(seed).spawn(realizations)
    results = out / "results.h5"
    # Ctrl-C only at the drivers' safe points (files stay whole); a failure marks the run
    with interrupt.deferred(), _opened_run(out, start, params, seed, realizations,
                                           checkpoint_every) as first:
        t0 = time.perf_counter()
        curves, per = [], []
        n_events = n_aval = 0
        t_shear = 0.0
        for r in range(first):  # finished before the interruption: re-read, same statistics
            g = f"realizations/r{r:04d}"
            stream = _RecordStream(_H5Rows(results, g), rp.stationary_from, n_steps, RECORD_CHUNK)
            stream.replay(chunks)
            per.append(stream.stationary())
            curves.append(stream.curve())
            att = io.read_attrs(results, g)
            n_events += int(att["n_events"])
            n_aval += int(att["n_avalanches"])
            t_shear += float(att.get("shear_time_s", 0.0))
            if r == 0:  # (the interrupted run may have stopped before writing it)
                stream.write_csv(out / "curve.csv", stream.rows)
        summary: dict[str, Any] = {}
        if first == realizations:  # stopped after the last publish: only the last writes
            summary = _summary(params, seed, realizations, first, __version__, n_events,
                               n_aval, rp.stationary_from, per, time.perf_counter() - t0,
                               t_shear, True)
            _plot(curves, out / "stress_strain.png", rp.stationary_from, summary, cfg, seed)
            io.outdir.write_text(out / "summary.json", json.dumps(_jsonable(summary), indent=2,
                                                                  allow_nan=False))
            io.outdir.mark(out, "complete", seed=seed, realizations=realizations,
                           finished=first, checkpoint_every=checkpoint_every)
        for r in range(first, realizations):
            interrupt.check()
            rng = np.random.default_rng(children[r])
            rck = ((start.ck, start.extra) if start is not None and start.ck is not None
                   and r == start.finished else None)
            rep = _Progress(f"quench {r + 1}/{realizations}", mode, quench=True)
            if rck is not None and not p.heterogeneous:
                state = _blank_state(p)  # its arrays come from the checkpoint
            else:
                state = quench(p, rng, progress=rep)
            rep.close()
            rep = _Progress(f"shear  {r + 1}/{realizations}", mode, n_steps, rp.gamma_end)
            ts = time.perf_counter()
            stream = _RecordStream(_ChunkFiles(out / "running" / f"r{r:04d}"),
                                   rp.stationary_from, n_steps, RECORD_CHUNK)
            if r == 0:
                with io.XdmfWriter(out / "fields.xdmf", state.model.mesh, params=params,
                                   seed=seed, staging=out / "running" / "fields") as w:
                    def snap(g: float, st: Any) -> None:
                        w.write(g, st.stress, st.eps_pl, slips=st.slips,
                                min_dtau=st.dtau().min(axis=1),
                                mean_tauc=st.mean_tauc(axis=1))

                    final = _shear_streamed(state, p, rng, rp, snap, rep, stream, ck, r, rck,
                                            chunks)
            else:
                final = _shear_streamed(state, p, rng, rp, None, rep, stream, ck, r, rck,
                                        chunks)
            dt_shear = time.perf_counter() - ts
            t_shear += dt_shear
            rep.close()
            n_events += final.n_events
            n_aval += final.n_avalanches
            per.append(stream.stationary())
            curves.append(stream.curve())
            done = r + 1 == realizations
            root: dict[str, Any] = {"realizations_finished": r + 1}
            if r == 0:
                root["final_state"] = _final_state(final)
            if done:
                root["status"] = "complete"
            g = f"realizations/r{r:04d}"
            stream.rows_of.publish(results, g, {"n_events": int(final.n_events),
                                                "n_avalanches": int(final.n_avalanches),
                                                "shear_time_s": dt_shear}, root)
            if r == 0:
                _RecordStream(_H5Rows(results, g), rp.stationary_from, n_steps,
                              RECORD_CHUNK).write_csv(out / "curve.csv", stream.rows)
            wall = time.perf_counter() - t0
            summary = _summary(params, seed, realizations, r + 1, __version__, n_events,
                               n_aval, rp.stationary_from, per, wall, t_shear, done)
            if done:
                _plot(curves, out / "stress_strain.png", rp.stationary_from, summary, cfg,
                      seed)
            io.outdir.write_text(out / "summary.json", json.dumps(_jsonable(summary), indent=2,
                                                                  allow_nan=False))
            io.outdir.mark(out, "complete" if done else "running", seed=seed,
                           realizations=realizations, finished=r + 1,
                           checkpoint_every=checkpoint_every)
            stream.rows_of.remove()  # published: the chunk files are no longer needed
        ck.finish()
        _remove_empty(out / "running")
    return summary


def _remove_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


def _blank_state(p):
    """A state of the model with the right shapes (overwritten from the checkpoint)."""
    from ..weakplane.state import State, build_model

    return State.fresh(build_model(p), np.random.default_rng(0))


def _chunks(rp) -> list[tuple[int, int]]:
    """The step ranges of the shear's AQS calls: ends at snapshots and every RECORD_CHUNK."""
    n_total = int(round(rp.gamma_end / rp.dgamma))
    per_snap = max(1, int(round(rp.fields_every / rp.dgamma))) if rp.fields_every > 0 \
        else n_total
    chunks, a = [], 0
    while a < n_total:
        chunks.append((a, a + min(per_snap - a % per_snap, RECORD_CHUNK, n_total - a)))
        a = chunks[-1][1]
    return chunks


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as ``{"a.b": leaf}``."""
    if not isinstance(d, dict):
        return {prefix: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def tag_difference(stored: dict[str, Any], now: dict[str, Any]) -> str:
    """``"model.k: run 2.0, now 3.0; seed: run 1, now 2"``: the keys that differ, one line.

    Parameters
    ----------
    stored, now : dict
        Nested tags (version, config, seed, ...).

    Returns
    -------
    str
        Empty when equal.
    """
    a = _flat(json.loads(json.dumps(stored, sort_keys=True)))
    b = _flat(json.loads(json.dumps(now, sort_keys=True)))
    keys = sorted(k for k in set(a) | set(b) if a.get(k, "(unset)") != b.get(k, "(unset)"))
    return "; ".join(f"{k.removeprefix('config.')}: run {a.get(k, '(unset)')!r}, now "
                     f"{b.get(k, '(unset)')!r}" for k in keys)


class _ResumePoint:
    """Where an interrupted run in ``out`` continues; every check before anything is written.

    ``finished`` realisations are in ``results.h5``; ``ck`` (or None) is the checkpoint of
    realisation ``finished`` with its ``extra`` (``chunk_start``, ``boundary``).
    """

    def __init__(self, out: Path, tag: dict[str, Any],
                 chunks: list[tuple[int, int]] | None) -> None:
        import h5py

        from ..weakplane.drivers import checkpoint

        self.out = out
        results = out / "results.h5"
        if not results.exists():
            raise ValueError(f"--resume {out}: nothing to resume (no results.h5: the run was "
                             "stopped before its first write); run the command without "
                             "--resume (the folder is moved aside)")
        try:
            with h5py.File(results, "r") as f:
                stored = {"version": str(f.attrs["femplastic_version"]),
                          "config": json.loads(f.attrs["params"]),
                          "seed": json.loads(f.attrs["seed"]),
                          "realizations": int(f.attrs.get("realizations", 1)),
                          "records_layout": 3 if "realizations" in f.attrs else 2}
                self.finished = int(f.attrs["realizations_finished"])
                status = self.status = str(f.attrs["status"])
        except (OSError, KeyError, ValueError) as exc:
            raise ValueError(f"--resume {out}: results.h5 there is unreadable ({exc}); start "
                             "the run again (without --resume the folder is moved aside)"
                             ) from None
        diff = tag_difference(stored, tag)
        if diff:
            raise ValueError(f"--resume {out}: the run there was written by a different "
                             f"version or configuration ({diff}); refusing to resume")
        try:
            from ..io.outdir import MARKER

            marker = json.loads((out / MARKER).read_text())["status"]
        except (OSError, ValueError, KeyError, TypeError):
            marker = "running"
        if status == "complete" and marker == "complete":
            raise ValueError(f"--resume {out}: that run is complete; nothing to resume")
        self.ck, self.extra = None, {}
        path = out / "checkpoint.npz"
        if path.exists():
            try:
                ck, extra, ctag = checkpoint.load(path)
            except Exception as exc:  # noqa: BLE001 (any damage: one line, not a traceback)
                why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise ValueError(
                    f"--resume {out}: checkpoint.npz there is damaged or not a checkpoint "
                    f"({type(exc).__name__}: {why[:200]}); delete it to resume from the start "
                    f"of realisation {self.finished}, or start the run again") from None
            diff = tag_difference(ctag, tag)
            if diff:
                raise ValueError(f"--resume {out}: checkpoint.npz there was written by a "
                                 f"different version or configuration ({diff}); refusing to "
                                 "resume")
            if int(extra.get("realization", 0)) == self.finished:
                self.ck, self.extra = ck, {k: int(v) for k, v in extra.items()}
            if self.ck is not None and chunks is not None:  # AQS: records in chunk files
                need = self.extra["chunk_start"]
                if need not in [c[0] for c in chunks]:
                    raise ValueError(f"--resume {out}: checkpoint.npz starts at load step "
                                     f"{need}, not a chunk start of this run")
                have = _ChunkFiles(out / "running" / f"r{self.finished:04d}").rows_upto(need)
                if have < need:
                    raise ValueError(f"--resume {out}: the records there hold {have} load "
                                     f"steps, the checkpoint needs {need}; start the run again")

    def clean(self) -> None:
        """Drop what the interrupted run left half-done (temporaries, stale chunk files)."""
        import shutil

        for tmp in [*self.out.glob("*.part"), *self.out.glob("*.tmp"),
                    *self.out.glob("*.part.png")]:
            tmp.unlink(missing_ok=True)
        running = self.out / "running"
        if running.is_dir():
            for d in running.iterdir():
                if d.name == "fields" and self.finished == 0:
                    continue  # fields.xdmf may name them: the XdmfWriter replaces both
                if d.name != f"r{self.finished:04d}" or self.ck is None:
                    shutil.rmtree(d) if d.is_dir() else d.unlink()
        if self.ck is None:
            (self.out / "checkpoint.npz").unlink(missing_ok=True)
        if self.status == "failed":  # running again, its error gone
            clear_failed(self.out)


def _final_state(st: Any) -> dict[str, Any]:
    """The fields of realisation 0's final state that ``results.h5`` keeps (``final_state``).

    Enough to rebuild it: in 3D the Schmid tensors ``schmid`` (n_elem, N, 6) as well (the
    angle ``theta`` is only the polar angle of the plane normal there).
    """
    out = {"stress": st.stress, "prestress": st.prestress, "eps_pl": st.eps_pl,
           "theta": st.theta, "tauc": st.tauc, "macro_strain": st.macro_strain}
    if st.model.dim == 3:  # the systems themselves
        out["schmid"] = st.nv
    return out


@contextmanager
def _opened_run(out: Path, start: _ResumePoint | None, params: dict[str, Any], seed: int,
                realizations: int, checkpoint_every: float | None, **protocol: str
                ) -> Iterator[int]:
    """The run folder open for the work (``femplastic run``, every protocol).

    The folder is created and marked running; a new run starts ``results.h5`` (status
    running, none finished), a resumed one (``start``) drops what came after its resume
    point. ``protocol``: ``protocol=NAME`` for the protocols other than the main AQS run,
    recorded in the marker and in ``results.h5``. Yields the realisations done; an
    exception of the work marks the run failed (:func:`femplastic.io.outdir.failure_marked`):
    ``status`` ``"failed"`` and ``error`` in the marker, ``summary.json`` and ``results.h5``.
    """
    from .. import io

    out.mkdir(parents=True, exist_ok=True)
    first = start.finished if start is not None else 0
    io.outdir.mark(out, "running", seed=seed, realizations=realizations, finished=first,
                   **protocol, checkpoint_every=checkpoint_every)
    if start is None:
        io.write_hdf5(out / "results.h5", {"status": "running", **protocol,
                                           "realizations_finished": 0,
                                           "realizations": realizations},
                      params=params, seed=seed)
    else:
        start.clean()
    try:
        with io.outdir.failure_marked(out):
            yield first
    except io.outdir.RunFailed as exc:
        mark_failed(out, exc.error)  # summary.json and results.h5 say it too
        raise


class _Checkpointing:
    """Checkpoints of ``run_main_job`` in ``out/checkpoint.npz``; one timer for the whole run.

    ``last`` is ``time.perf_counter()`` at the previous checkpoint (at first: the start); the
    AQS calls get it as ``checkpoint_since``, so the period spans calls, snapshots and
    realisations.
    """

    def __init__(self, out: Path, tag: dict[str, Any], every: float | None) -> None:
        self.path = Path(out) / "checkpoint.npz"
        self.tag = tag
        self.every = every
        self.last = time.perf_counter()
        self.saved = 0

    @property
    def period(self) -> float:
        """The AQS calls' ``checkpoint_every``: 0 means at every chunk (not every avalanche)."""
        return max(float(self.every or 0.0), 1e-9)

    def due(self) -> bool:
        """Whether a checkpoint is due now."""
        return self.every is not None and time.perf_counter() - self.last >= self.period

    def save(self, snap, realization: int, chunk_start: int, boundary: bool) -> None:
        """Save ``snap`` (in the chunk starting at step ``chunk_start`` of ``realization``)."""
        from ..weakplane.drivers import checkpoint

        checkpoint.save(self.path, snap, self.tag,
                        {"realization": np.array(realization),
                         "chunk_start": np.array(chunk_start),
                         "boundary": np.array(int(boundary))})
        self.last = time.perf_counter()
        self.saved += 1

    def save_boundary(self, st, rng, realization: int, chunk_start: int) -> None:
        """A checkpoint between two chunks: the state and generator where the next starts."""
        from ..weakplane.drivers.checkpoint import AQSCheckpoint

        snap = AQSCheckpoint(AQSCheckpoint.state_dict(st), np.zeros((0, 3)), np.zeros(3), 0.0,
                             0, 0, 0, {}, {}, rng.bit_generator.state)
        self.save(snap, realization, chunk_start, True)

    def finish(self) -> None:
        """The run completed: its checkpoint is no longer needed."""
        self.path.unlink(missing_ok=True)


_KEYS = ("gamma", "stress", "stress_before", "avalanche_size", "plastic", "mean_stress")
#: Most load steps per AQS call of ``femplastic run``: the records of one call (64 bytes a
#: step) are all that sit in memory; they are then written to a chunk file.
RECORD_CHUNK = RUN_RECORD_CHUNK


def _summary(params, seed, realizations, finished, version, n_events, n_aval, from_gamma, per,
             wall, t_shear, done) -> dict[str, Any]:
    means = [m for m, _ in per if m is not None]
    stds = [s for _, s in per if s is not None]
    return {
        "status": "complete" if done else "running",
        "protocol": "aqs",
        "n_events": int(n_events),
        "n_avalanches": int(n_aval),
        "wall_time_s": wall,
        "per_realization": [{"mean_stress": a, "std_stress": b} for a, b in per],
        "params": params,
        "seed": seed,
        "realizations": realizations,
        "realizations_finished": finished,
        "version": version,
        "stationary": {  # None when gamma_end <= stationary_from
            "from_gamma": from_gamma,
            "mean_stress": float(np.mean(means)) if means else None,
            "std_stress": float(np.mean(stds)) if stds else None,
            "per_realization": [{"mean": a, "std": b} for a, b in per],
        },
        "shear_time_s": t_shear,
        "events_per_second": n_events / t_shear if t_shear > 0 else None,
    }


def _shear_streamed(state, p, rng, rp, snap: Callable[[float, Any], None] | None, upd,
                    stream: _RecordStream, ck: _Checkpointing, r: int, resume,
                    chunks: list[tuple[int, int]]):
    """AQS in ``chunks``; each chunk's records go to ``stream``; returns the final state.

    A chunk ends at every multiple of ``fields_every`` (then ``snap(gamma, state)``, when
    given) and after at most :data:`RECORD_CHUNK` steps, so memory holds one state and a
    chunk or two of records whatever ``gamma_end``. ``ck`` checkpoints inside the AQS calls
    and between chunks whenever its period (counted across calls) has passed; ``resume``
    (a checkpoint of realisation ``r``) makes the run drop the records after the start of
    the checkpoint's chunk and continue there.
    """
    from .. import interrupt
    from ..weakplane.drivers import aqs

    n_total = chunks[-1][1] if chunks else 0
    per_snap = max(1, int(round(rp.fields_every / rp.dgamma))) if rp.fields_every > 0 \
        else n_total
    st = state
    first = 0
    aqs_resume = None
    if resume is not None:
        ck_ck, extra = resume
        first = [c[0] for c in chunks].index(int(extra["chunk_start"]))
        stream.restart_at(chunks[:first])
        if extra.get("boundary"):
            ck_ck.restore_state(st)
            rng.bit_generator.state = ck_ck.rng_state
        else:
            aqs_resume = ck_ck
    elif snap is not None:
        snap(0.0, state)
    for done, end in chunks[first:]:
        m = end - done
        hook = None
        if ck.every is not None:
            def hook(snapshot, b=done):
                stream.flush()  # the rows before the checkpoint's chunk are on disk
                ck.save(snapshot, r, b, False)

        def chunk(f: float, n_ev: int | None = None, b: int = done, mm: int = m) -> None:
            upd((b + f * mm) / n_total, n_ev)

        chunk.wants_events = True  # type: ignore[attr-defined]
        run = aqs(st, p, rng, gamma_end=m * rp.dgamma, dgamma=rp.dgamma, alpha=rp.alpha,
                  event_driven=rp.event_driven, backend=rp.backend, progress=chunk,
                  checkpoint=hook, checkpoint_every=ck.period if hook else 0.0,
                  checkpoint_since=ck.last, resume=aqs_resume)
        aqs_resume = None
        rec = {k: getattr(run, k) for k in _KEYS}
        rec["gamma"] = run.gamma + done * rp.dgamma
        stream.append(rec)
        st = run.state
        del run, rec
        if snap is not None and (end % per_snap == 0 or end == n_total):
            snap(end * rp.dgamma, st)
        if end < n_total and ck.due():
            stream.flush()
            ck.save_boundary(st, rng, r, end)
        interrupt.check()
    stream.flush()
    return st


def _plot(curves, path: Path, stationary_from: float, summary: dict[str, Any], cfg,
          seed: int) -> None:
    """Stress-strain curves: every realisation labelled (or banded), the stationary band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = cfg.model
    R = len(curves)
    fig, ax = plt.subplots(figsize=(6.4, 4.4), constrained_layout=True)
    if R <= 6:
        for i, (g, s) in enumerate(curves):
            ax.plot(g, s, lw=0.7, alpha=0.9 if i == 0 else 0.6, label=f"realisation {i}")
    else:
        S = np.array([s for _, s in curves])
        g = curves[0][0]
        ax.fill_between(g, S.min(axis=0), S.max(axis=0), color="C0", alpha=0.25, lw=0,
                        label=f"all {R} realisations (min-max)")
        ax.plot(g, S[0], "C0", lw=0.6, label="realisation 0")
        ax.plot(g, S.mean(axis=0), "k", lw=1.1, label=f"mean of {R}")
    st = summary["stationary"]
    if st["mean_stress"] is not None:
        m, sd = st["mean_stress"], st["std_stress"]
        g_end = max(c[0][-1] for c in curves)
        ax.fill_between([stationary_from, g_end], m - sd, m + sd, color="0.5", alpha=0.25,
                        lw=0, label=f"stationary mean $\\pm$ std: {m:.3f} $\\pm$ {sd:.3f}")
        ax.hlines(m, stationary_from, g_end, colors="0.3", lw=1)
    ax.axvline(stationary_from, color="0.6", ls=":", lw=1,
               label=f"stationary from $\\gamma$ = {stationary_from:g}")
    ax.set_title(f"Castellanos et al. model {p.variant}: L = {p.L}, N = {p.N}, seed {seed}, "
                 f"{R} realisation{'s' if R > 1 else ''}", fontsize=9)
    ax.set_xlabel(r"$\gamma^{\rm ext}$")
    ax.set_ylabel(r"$\Sigma^{\rm ext}_{xy}$ (LJ units)")
    ax.legend(frameon=False, fontsize=7)
    try:
        replace_file(path, lambda tmp: fig.savefig(tmp, dpi=130),
                     tmp=path.with_name(path.stem + ".part.png"))
    finally:
        plt.close(fig)


def check_run(cfg, realizations: int, out: Path, overwrite: bool,
              resume: bool = False) -> list[str]:
    """Every check before a run: output folder, memory and disk, feasibility.

    With ``resume`` (``--resume``) the folder is the interrupted run's and is not checked;
    the memory, disk and time checks are made all the same (the machine may have changed).

    Returns
    -------
    list of str
        Warnings to print (a run that will obviously not finish).

    Raises
    ------
    ValueError
        Naming the option or parameter: see :func:`femplastic.io.outdir.check_folder` and
        :func:`femplastic.weakplane.estimates.check_cost`.
    """
    from ..io.outdir import check_folder
    from ..weakplane.estimates import check_cost, events_per_strain

    if not resume:  # a resumed run continues in its own folder
        check_folder(out, overwrite)
    cost = check_cost(cfg, realizations, out)  # memory, disk, time of every protocol
    warnings = []
    per = events_per_strain(cfg.model)
    if per > EVENTS_WARN:
        total = cost["events"] * realizations  # the strain the protocol drives
        warnings.append(
            f"about {per:.2g} slip events per element and unit strain (estimate from model.k "
            f"= {cfg.model.k:g}, model.lam = {cfg.model.lam:g}, model.chi = {cfg.model.chi:g},"
            f" model.N = {cfg.model.N}; model C: ~60), {total:.2g} events for this run: it "
            "may not finish")
    return warnings


def cmd_run(args: argparse.Namespace) -> int:
    """``femplastic run``: :func:`run_main_job` with a printed summary; returns 0.

    Raises
    ------
    ValueError
        If ``--realizations < 1`` or ``--seed < 0``, the configuration is invalid, the
        output folder is refused, or the run would not fit in memory or on disk.
    """
    from .. import interrupt, threads, validation
    from ..io.outdir import claim_folder
    from ..weakplane.params import load_config

    interrupt.check()  # Ctrl-C during the imports (deferred by main) surfaces here

    resume = getattr(args, "resume", None)
    checkpoint_every = getattr(args, "checkpoint_every", None)
    if resume is not None and args.out is not None:
        raise ValueError(f"--resume {resume} continues the run in that folder: --out "
                         f"{args.out} cannot be given with it")
    if args.realizations is None:
        args.realizations = _from_marker(resume, "realizations", 1)
    if checkpoint_every is None and resume is not None:  # the run's period goes on
        checkpoint_every = _from_marker(resume, "checkpoint_every", None)
    if args.out is None:
        args.out = resume if resume is not None else "femplastic-out"
    if args.realizations < 1:
        raise ValueError(f"--realizations must be >= 1, got {args.realizations}")
    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {args.seed}")
    # one thread unless asked, as in the library (femplastic.threads; femplastic bench threads)
    threads.set_threads(threads.resolve(getattr(args, "threads", None)) or 1)
    cfg = load_config(args.config, args.set)
    validation.check_run_flags(args, cfg.run.protocol)  # before anything is moved aside
    out = Path(args.out)
    if (resume is not None or checkpoint_every is not None) and \
            cfg.run.protocol not in ("aqs", "cyclic", "stress"):
        raise ValueError(f"--checkpoint-every/--resume apply to run.protocol=aqs, cyclic and "
                         f"stress; not to {cfg.run.protocol}")
    if resume is not None and not out.is_dir():  # continue in the interrupted run's folder
        raise ValueError(f"--resume {resume}: no such folder")
    for w in check_run(cfg, args.realizations, out, args.overwrite, resume is not None):
        print(f"femplastic run: warning: {w}", file=sys.stderr)
    interrupt.check()
    mode = "off" if args.quiet else ("bar" if sys.stderr.isatty() else "lines")
    if not args.quiet and not _kernels_cached():
        print("femplastic: compiling the numba kernels (first run only, ~30 s; cached after)",
              file=sys.stderr)
    moved = None if resume is not None else claim_folder(out, args.overwrite)
    if moved is not None:
        print(f"femplastic run: moved the previous run in {out} to {moved}", file=sys.stderr)
    dim3 = f" (3D: {cfg.model.L ** 3} elements)" if cfg.model.dim == 3 else ""
    if cfg.run.protocol != "aqs":  # cyclic, stress, bauschinger, local-yield, rate, creep
        from .protocols import run_protocol

        summary = run_protocol(cfg, args.seed, args.realizations, out, progress=mode,
                               checkpoint_every=checkpoint_every, resume=resume is not None)
        print(f"femplastic run: protocol={cfg.run.protocol} L={cfg.model.L}{dim3} "
              f"seed={args.seed} realizations={args.realizations}; "
              f"wall {summary['wall_time_s']:.2f} s")
        print(f"  wrote {out}/: {' '.join(summary['files'])}")
        return 0
    summary = run_main_job(cfg, args.seed, args.realizations, out, progress=mode,
                           checkpoint_every=checkpoint_every, resume=resume is not None)
    st = summary["stationary"]
    print(f"femplastic run: Castellanos et al. model {cfg.model.variant}, "
          f"L={cfg.model.L}{dim3} "
          f"N={cfg.model.N} gamma_end={cfg.run.gamma_end} seed={args.seed} "
          f"realizations={args.realizations}")
    if st["mean_stress"] is None:
        print(f"  no stationary statistics: gamma_end <= stationary_from = {st['from_gamma']}")
    else:
        print(f"  stationary (gamma > {st['from_gamma']}): mean stress {st['mean_stress']:.4f}, "
              f"std {st['std_stress']:.4f}")
    eps = summary["events_per_second"]
    print(f"  {summary['n_events']} slip events in {summary['n_avalanches']} avalanches; "
          + (f"{eps:.0f} events/s; " if eps is not None else "")
          + f"wall {summary['wall_time_s']:.2f} s")
    print(f"  wrote {out}/: results.h5 curve.csv summary.json stress_strain.png fields.xdmf")
    return 0


def _from_marker(folder: str | None, key: str, default: Any) -> Any:
    """``key`` of the marker of the run in ``folder`` (``default`` if none or unreadable)."""
    from ..io.outdir import MARKER

    if folder is None:
        return default
    try:
        value = json.loads((Path(folder) / MARKER).read_text())[key]
    except (OSError, ValueError, KeyError, TypeError):
        return default
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
    return value if ok else default


def _kernels_cached() -> bool:
    """Whether numba has cached compiled kernels for this install (else the run compiles)."""
    cache = Path(__file__).resolve().parents[1] / "weakplane" / "__pycache__"
    return any(cache.glob("kernels.relax_fused*.nbi"))

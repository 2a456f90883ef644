"""``femplastic run``: quench and shear the weak-plane model, write every output file.

Writes ``results.h5``, ``curve.csv``, ``summary.json``, ``stress_strain.png``,
``fields.xdmf`` (+ ``fields.h5``) and the marker ``femplastic-run.json`` into ``--out``
(:func:`run_main_job`). Before any work :func:`cmd_run` checks the configuration, the output
folder (:mod:`femplastic.io.outdir`: a folder with foreign files is refused unless
``--overwrite``, a previous run is moved aside to ``OUT.1``, ``OUT.2``, ...) and the memory
and disk the run needs (:mod:`femplastic.weakplane.estimates`), and warns when the
parameters imply millions of slip events per unit strain.

The load-step records of a realisation are streamed to ``results.h5`` in chunks of at most
:data:`RECORD_CHUNK` steps (group ``running/rNNNN``, moved to ``realizations/rNNNN`` when
the realisation is finished), so memory does not grow with ``gamma_end``; the summary and
plot use running statistics and a decimated curve. ParaView snapshots of realisation 0 are
appended to ``fields.xdmf`` as they are taken. ``status`` in ``results.h5``, ``fields.h5``,
``summary.json`` and the marker says ``"running"`` until the whole run has finished: an
interrupted folder is recognisable and readable.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..weakplane.estimates import RUN_RECORD_CHUNK

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
    not depend on how many realisations are run. Each one is written when it is finished;
    ``status`` stays ``"running"`` until all are.

    With ``checkpoint_every`` (seconds; one realisation only) a restartable checkpoint is
    written atomically to ``out/checkpoint.npz`` during the shear
    (:mod:`femplastic.weakplane.drivers.checkpoint`). With ``resume`` the run continues from
    that file (written by the same version, configuration and seed, else refused): the quench
    is redone only for heterogeneous models (variant A: the model belongs to the realisation),
    and ``results.h5`` is bitwise that of the uninterrupted run; ``fields.xdmf`` then holds the
    snapshots from the resume point on.

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
        Seconds between checkpoints of the shear (>= 0), one realisation only.
    resume : bool
        Continue from ``out/checkpoint.npz``.

    Returns
    -------
    dict
        The summary (also in ``summary.json``).
    """
    from .. import __version__, interrupt, io
    from ..weakplane.drivers import quench

    mode = "bar" if progress is True else (progress or "off")
    out = Path(out)
    p, rp = cfg.model, cfg.run
    params = cfg.to_dict()
    ck = None
    if checkpoint_every is not None or resume:
        if realizations != 1:
            raise ValueError("--checkpoint-every/--resume need --realizations 1")
        if checkpoint_every is not None and not checkpoint_every >= 0:
            raise ValueError(f"--checkpoint-every must be >= 0 seconds, got {checkpoint_every}")
        # records_layout 2: the records before the checkpoint's chunk are in results.h5
        ck = _Checkpointing(out, {"version": __version__, "config": params, "seed": int(seed),
                                  "records_layout": 2}, checkpoint_every, resume)
    children = np.random.SeedSequence(seed).spawn(realizations)
    with interrupt.deferred():  # Ctrl-C only at the drivers' safe points: files stay whole
        out.mkdir(parents=True, exist_ok=True)
        io.outdir.mark(out, "running", seed=seed, realizations=realizations, finished=0)
        results = out / "results.h5"
        if ck is None or ck.resume is None:  # a resumed run continues the records there
            io.write_hdf5(results, {"status": "running", "realizations_finished": 0},
                          params=params, seed=seed)
        t0 = time.perf_counter()
        curves, per = [], []
        n_events = n_aval = 0
        t_shear = 0.0
        n_steps = int(round(rp.gamma_end / rp.dgamma))
        summary: dict[str, Any] = {}
        for r, child in enumerate(children):
            interrupt.check()
            rng = np.random.default_rng(child)
            rep = _Progress(f"quench {r + 1}/{realizations}", mode, quench=True)
            if ck is not None and ck.resume is not None and not p.heterogeneous:
                state = ck.blank_state(p)  # its arrays come from the checkpoint
            else:
                state = quench(p, rng, progress=rep)
            rep.close()
            rep = _Progress(f"shear  {r + 1}/{realizations}", mode, n_steps, rp.gamma_end)
            ts = time.perf_counter()
            # records stream into running/rNNNN, moved to realizations/ once complete
            stream = _RecordStream(results, f"running/r{r:04d}", rp.stationary_from, n_steps)
            if r == 0:
                with io.XdmfWriter(out / "fields.xdmf", state.model.mesh, params=params,
                                   seed=seed) as w:
                    def snap(g: float, st: Any) -> None:
                        w.write(g, st.stress, st.eps_pl, slips=st.slips,
                                min_dtau=st.dtau().min(axis=1),
                                mean_tauc=st.mean_tauc(axis=1))

                    final = _shear_streamed(state, p, rng, rp, snap, rep, stream, ck)
            else:
                final = _shear_streamed(state, p, rng, rp, None, rep, stream)
            t_shear += time.perf_counter() - ts
            rep.close()
            n_events += final.n_events
            n_aval += final.n_avalanches
            per.append(stream.stationary())
            curves.append(stream.curve())
            data: dict[str, Any] = {"realizations_finished": r + 1}
            if r == 0:
                st = final
                data["final_state"] = {"stress": st.stress, "prestress": st.prestress,
                                       "eps_pl": st.eps_pl, "theta": st.theta, "tauc": st.tauc}
                stream.write_csv(out / "curve.csv")
            io.move_hdf5(results, stream.group, f"realizations/r{r:04d}")  # now complete
            io.append_hdf5(results, data)
            wall = time.perf_counter() - t0
            done = r + 1 == realizations
            summary = _summary(params, seed, realizations, r + 1, __version__, n_events,
                               n_aval, rp.stationary_from, per, wall, t_shear, done)
            if done:
                _plot(curves, out / "stress_strain.png", rp.stationary_from, summary, cfg,
                      seed)
                io.append_hdf5(results, {"status": "complete"})
            io.outdir.write_text(out / "summary.json", json.dumps(_jsonable(summary), indent=2,
                                                         allow_nan=False))
            io.outdir.mark(out, "complete" if done else "running", seed=seed,
                           realizations=realizations, finished=r + 1)
    if ck is not None:
        ck.finish()
    return summary


class _Checkpointing:
    """Checkpoints of the shear of ``run_main_job`` in ``out/checkpoint.npz``."""

    def __init__(self, out: Path, tag: dict[str, Any], every: float | None, resume: bool):
        from ..weakplane.drivers import checkpoint

        self.path = Path(out) / "checkpoint.npz"
        self.tag = tag
        self.every = every
        self.resume = None
        self.extra: dict[str, Any] = {}
        if resume:
            self.resume, self.extra, _ = checkpoint.load(self.path, tag)
            need = int(self.extra["chunk_start"])
            try:
                import h5py

                with h5py.File(Path(out) / "results.h5", "r") as f:
                    have = f["running/r0000/gamma"].shape[0] if need else 0
            except (OSError, KeyError) as exc:
                raise ValueError(f"--resume {out}: results.h5 there is missing or unreadable "
                                 f"({exc}); the run cannot continue: start it again") from None
            if have < need:
                raise ValueError(f"--resume {out}: results.h5 holds {have} load steps, the "
                                 f"checkpoint needs {need}; start the run again")

    def blank_state(self, p):
        """A state of the model with the right shapes (overwritten from the checkpoint)."""
        from ..weakplane.state import State, build_model

        return State.fresh(build_model(p), np.random.default_rng(0))

    def save(self, snap, chunk_start: int) -> None:
        """Save ``snap`` (taken in the chunk starting at step ``chunk_start``)."""
        from ..weakplane.drivers import checkpoint

        checkpoint.save(self.path, snap, self.tag, {"chunk_start": np.array(chunk_start)})

    def finish(self) -> None:
        """The run completed: its checkpoint is no longer needed."""
        self.path.unlink(missing_ok=True)


_KEYS = ("gamma", "stress", "stress_before", "avalanche_size", "plastic", "mean_stress")
#: Most load steps per AQS call of ``femplastic run``: the records of one call (64 bytes a
#: step) are all that sit in memory; they are then appended to ``results.h5``.
RECORD_CHUNK = RUN_RECORD_CHUNK
#: Points kept per curve for the plot (the records are decimated to about this many).
PLOT_POINTS = 20_000


class _RecordStream:
    """The load-step records of one realisation, appended to ``results.h5`` chunk by chunk.

    Keeps what the summary and plot need without the records: running statistics of the
    stationary stress (merged per chunk, Chan et al.) and the curve decimated to about
    :data:`PLOT_POINTS` points.
    """

    def __init__(self, path: Path, group: str, stationary_from: float, n_steps: int) -> None:
        self.path, self.group, self.from_gamma = path, group, stationary_from
        self.stride = max(1, n_steps // PLOT_POINTS)
        self.rows = 0
        self.n, self.mean, self.m2 = 0, 0.0, 0.0
        self.g: list[np.ndarray] = []
        self.s: list[np.ndarray] = []

    def _account(self, gamma: np.ndarray, stress: np.ndarray, start: int) -> None:
        x = stress[gamma > self.from_gamma]
        if x.size:
            mb, m2b = float(x.mean()), float(((x - x.mean()) ** 2).sum())
            n = self.n + x.size
            d = mb - self.mean
            self.mean += d * x.size / n
            self.m2 += m2b + d * d * self.n * x.size / n
            self.n = n
        keep = np.arange((-start) % self.stride, gamma.size, self.stride)
        self.g.append(gamma[keep])
        self.s.append(stress[keep])

    def append(self, rec: dict[str, np.ndarray]) -> None:
        """Write the records of the next chunk (arrays named as :data:`_KEYS`)."""
        from .. import io

        self._account(rec["gamma"], rec["stress"], self.rows)
        self.rows = io.extend_hdf5(self.path, self.group, rec)

    def restart_at(self, chunks: list[tuple[int, int]]) -> None:
        """Resume after ``chunks`` (row ranges): keep those rows, re-read them chunk by chunk.

        The statistics are merged over the same chunks as in the interrupted run, so the
        summary is bitwise that of an uninterrupted run.
        """
        from .. import io

        n = chunks[-1][1] if chunks else 0
        io.truncate_hdf5(self.path, self.group, n)
        self.rows = 0
        for a, b in chunks:
            g = io.read_rows(self.path, self.group, "gamma", a, b)
            self._account(g, io.read_rows(self.path, self.group, "stress", a, b), a)
            self.rows = b

    def stationary(self) -> tuple[float | None, float | None]:
        """Mean and standard deviation of the stress at ``gamma > stationary_from``."""
        if self.n == 0:
            return None, None
        return self.mean, float(np.sqrt(self.m2 / self.n))

    def curve(self) -> tuple[np.ndarray, np.ndarray]:
        """The decimated stress-strain curve (for the plot)."""
        return np.concatenate(self.g), np.concatenate(self.s)

    def write_csv(self, path: Path) -> None:
        """``gamma,stress`` of every step, read back from the file a chunk at a time."""
        from .. import io

        def lines():
            yield "gamma,stress\n"
            for a in range(0, self.rows, RECORD_CHUNK):
                b = min(a + RECORD_CHUNK, self.rows)
                g = io.read_rows(self.path, self.group, "gamma", a, b)
                st = io.read_rows(self.path, self.group, "stress", a, b)
                yield "".join(f"{x:.10g},{y:.10g}\n" for x, y in zip(g, st, strict=True))

        io.outdir.write_text(path, lines())


def _summary(params, seed, realizations, finished, version, n_events, n_aval, from_gamma, per,
             wall, t_shear, done) -> dict[str, Any]:
    means = [m for m, _ in per if m is not None]
    stds = [s for _, s in per if s is not None]
    return {
        "status": "complete" if done else "running",
        "params": params,
        "seed": seed,
        "realizations": realizations,
        "realizations_finished": finished,
        "version": version,
        "n_events": int(n_events),
        "n_avalanches": int(n_aval),
        "stationary": {  # None when gamma_end <= stationary_from
            "from_gamma": from_gamma,
            "mean_stress": float(np.mean(means)) if means else None,
            "std_stress": float(np.mean(stds)) if stds else None,
            "per_realization": [{"mean": a, "std": b} for a, b in per],
        },
        "wall_time_s": wall,
        "shear_time_s": t_shear,
        "events_per_second": n_events / t_shear if t_shear > 0 else None,
    }


def _shear_streamed(state, p, rng, rp, snap: Callable[[float, Any], None] | None, upd,
                    stream: _RecordStream, ck=None):
    """AQS in chunks; each chunk's records go to ``stream``; returns the final state.

    A chunk ends at every multiple of ``fields_every`` (then ``snap(gamma, state)``, when
    given) and after at most :data:`RECORD_CHUNK` steps, so memory holds one state and one
    chunk of records whatever ``gamma_end``. With ``ck`` (:class:`_Checkpointing`) every
    chunk checkpoints; a resumed run truncates the file's records to the start of the
    checkpoint's chunk and continues there.
    """
    from .. import interrupt
    from ..weakplane.drivers import aqs

    n_total = int(round(rp.gamma_end / rp.dgamma))
    per_snap = max(1, int(round(rp.fields_every / rp.dgamma))) if rp.fields_every > 0 \
        else n_total
    chunks, a = [], 0  # the chunks' step ranges: ends at snapshots and every RECORD_CHUNK
    while a < n_total:
        chunks.append((a, a + min(per_snap - a % per_snap, RECORD_CHUNK, n_total - a)))
        a = chunks[-1][1]
    st = state
    resume = None
    first = 0
    if ck is not None and ck.resume is not None:
        resume = ck.resume
        first = [c[0] for c in chunks].index(int(ck.extra["chunk_start"]))
        stream.restart_at(chunks[:first])
    elif snap is not None:
        snap(0.0, state)
    for done, end in chunks[first:]:
        m = end - done
        hook = None
        if ck is not None and ck.every is not None:
            def hook(snapshot, b=done):
                ck.save(snapshot, b)

        def chunk(f: float, n_ev: int | None = None, b: int = done, mm: int = m) -> None:
            upd((b + f * mm) / n_total, n_ev)

        chunk.wants_events = True  # type: ignore[attr-defined]
        run = aqs(st, p, rng, gamma_end=m * rp.dgamma, dgamma=rp.dgamma, alpha=rp.alpha,
                  event_driven=rp.event_driven, backend=rp.backend, progress=chunk,
                  checkpoint=hook, checkpoint_every=ck.every if hook else 0.0, resume=resume)
        resume = None
        rec = {k: getattr(run, k) for k in _KEYS}
        rec["gamma"] = run.gamma + done * rp.dgamma
        stream.append(rec)
        st = run.state
        del run, rec
        if snap is not None and (end % per_snap == 0 or end == n_total):
            snap(end * rp.dgamma, st)
        interrupt.check()
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
    tmp = path.with_name(path.stem + ".part.png")
    try:
        fig.savefig(tmp, dpi=130)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        plt.close(fig)


def check_run(cfg, realizations: int, out: Path, overwrite: bool) -> list[str]:
    """Every check before a run: output folder, memory and disk, feasibility.

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
    from ..weakplane.dimension import require_2d
    from ..weakplane.estimates import check_cost, events_per_strain

    require_2d(cfg.model, "femplastic run")  # before any work: 3D drivers do not exist yet
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

    if args.realizations < 1:
        raise ValueError(f"--realizations must be >= 1, got {args.realizations}")
    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {args.seed}")
    # one thread unless asked: on a loaded machine idle-spinning threads cost far more than
    # they gain (femplastic bench scale)
    threads.set_threads(threads.resolve(getattr(args, "threads", None)) or 1)
    cfg = load_config(args.config, args.set)
    validation.check_run_flags(args, cfg.run.protocol)  # before anything is moved aside
    out = Path(args.out)
    resume = getattr(args, "resume", None)
    checkpoint_every = getattr(args, "checkpoint_every", None)
    if (resume is not None or checkpoint_every is not None) and cfg.run.protocol != "aqs":
        raise ValueError("--checkpoint-every/--resume apply to run.protocol=aqs only")
    if resume is not None:  # continue in the folder of the interrupted run
        out = Path(resume)
        if not (out / "checkpoint.npz").exists():
            raise ValueError(f"--resume {resume}: no checkpoint.npz there")
    else:
        for w in check_run(cfg, args.realizations, out, args.overwrite):
            print(f"femplastic run: warning: {w}", file=sys.stderr)
    interrupt.check()
    mode = "off" if args.quiet else ("bar" if sys.stderr.isatty() else "lines")
    if not args.quiet and not _kernels_cached():
        print("femplastic: compiling the numba kernels (first run only, ~30 s; cached after)",
              file=sys.stderr)
    moved = None if resume is not None else claim_folder(out, args.overwrite)
    if moved is not None:
        print(f"femplastic run: moved the previous run in {out} to {moved}", file=sys.stderr)
    if cfg.run.protocol != "aqs":  # cyclic, stress, bauschinger, local-yield, rate, creep
        from .protocols import run_protocol

        summary = run_protocol(cfg, args.seed, args.realizations, out, progress=mode != "off")
        print(f"femplastic run: protocol={cfg.run.protocol} L={cfg.model.L} seed={args.seed} "
              f"realizations={args.realizations}; wall {summary['wall_time_s']:.2f} s")
        print(f"  wrote {out}/: {' '.join(summary['files'])}")
        return 0
    summary = run_main_job(cfg, args.seed, args.realizations, out, progress=mode,
                           checkpoint_every=checkpoint_every, resume=resume is not None)
    st = summary["stationary"]
    print(f"femplastic run: Castellanos et al. model {cfg.model.variant}, L={cfg.model.L} "
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


def _kernels_cached() -> bool:
    """Whether numba has cached compiled kernels for this install (else the run compiles)."""
    cache = Path(__file__).resolve().parents[1] / "weakplane" / "__pycache__"
    return any(cache.glob("kernels.relax_fused*.nbi"))

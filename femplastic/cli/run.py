"""``femplastic run``: quench and shear the weak-plane model, write every output file.

Writes ``results.h5``, ``curve.csv``, ``summary.json``, ``stress_strain.png`` and
``fields.xdmf`` (+ ``fields.h5``) into ``--out`` (:func:`run_main_job`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["cmd_run", "run_main_job"]


def _progress_bar(total: float, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    bar = tqdm(total=100, desc=desc, disable=not enabled, leave=False,
               bar_format="{l_bar}{bar}| {n:.0f}% [{elapsed}<{remaining}]")

    def update(frac: float) -> None:
        target = min(100.0, 100.0 * frac)
        if target > bar.n:
            bar.update(target - bar.n)

    return bar, update


def run_main_job(cfg, seed: int, realizations: int, out: Path, progress: bool = False,
                 checkpoint_every: float | None = None, resume: bool = False
                 ) -> dict[str, Any]:
    """Quench and shear ``realizations`` samples; write every output file into ``out``.

    Realisation ``r`` uses the ``r``-th child of ``SeedSequence(seed)``, so its result does
    not depend on how many realisations are run.

    With ``checkpoint_every`` (seconds; one realisation only) a restartable checkpoint is
    written atomically to ``out/checkpoint.npz`` during the shear
    (:mod:`femplastic.weakplane.drivers.checkpoint`). With ``resume`` the run continues from
    that file (written by the same version, configuration and seed, else refused): the quench
    is redone only for heterogeneous models (variant A: the model belongs to the realisation),
    and ``results.h5`` is bitwise that of the uninterrupted run; ``fields.xdmf`` then holds the
    snapshots from the resume point on.
    """
    from .. import __version__, io
    from ..weakplane.drivers import aqs, quench

    out.mkdir(parents=True, exist_ok=True)
    p, rp = cfg.model, cfg.run
    ck = None
    if checkpoint_every is not None or resume:
        if realizations != 1:
            raise ValueError("--checkpoint-every/--resume need --realizations 1")
        if checkpoint_every is not None and not checkpoint_every >= 0:
            raise ValueError(f"--checkpoint-every must be >= 0 seconds, got {checkpoint_every}")
        ck = _Checkpointing(out, {"version": __version__, "config": cfg.to_dict(),
                                  "seed": int(seed)}, checkpoint_every, resume)
    children = np.random.SeedSequence(seed).spawn(realizations)
    t0 = time.perf_counter()
    curves, per = [], []
    n_events = n_aval = 0
    t_shear = 0.0
    xdmf_path = out / "fields.xdmf"
    writer = None
    for r, child in enumerate(children):
        rng = np.random.default_rng(child)
        bar, upd = _progress_bar(1.0, f"quench {r + 1}/{realizations}", progress)
        if ck is not None and ck.resume is not None and not p.heterogeneous:
            state = ck.blank_state(p)  # its arrays come from the checkpoint
        else:
            state = quench(p, rng, progress=upd)
        bar.close()
        bar, upd = _progress_bar(1.0, f"shear  {r + 1}/{realizations}", progress)
        ts = time.perf_counter()
        if r == 0:
            # snapshots go to fields.xdmf as they are taken: memory does not grow with
            # gamma_end (one state, not one per snapshot)
            writer = io.XdmfWriter(xdmf_path, state.model.mesh)
            with writer as w:
                def snap(g, st, w=w):
                    w.write(g, st.stress, st.eps_pl, slips=st.slips,
                            min_dtau=st.dtau().min(axis=1), mean_tauc=st.tauc.mean(axis=1))

                run = _shear_with_snapshots(state, p, rng, rp, snap, upd, ck)
        else:
            run = aqs(state, p, rng, gamma_end=rp.gamma_end, dgamma=rp.dgamma, alpha=rp.alpha,
                      event_driven=rp.event_driven, progress=upd)
        t_shear += time.perf_counter() - ts
        bar.close()
        n_events += run.state.n_events
        n_aval += run.state.n_avalanches
        mask = run.gamma > rp.stationary_from
        per.append((float(run.stress[mask].mean()) if mask.any() else float("nan"),
                    float(run.stress[mask].std()) if mask.any() else float("nan")))
        curves.append(run)
    wall = time.perf_counter() - t0

    first = curves[0]
    np.savetxt(out / "curve.csv", np.column_stack([first.gamma, first.stress]), delimiter=",",
               header="gamma,stress", comments="", fmt="%.10g")
    data = {
        "realizations": {
            f"r{r:04d}": {"gamma": c.gamma, "stress": c.stress, "stress_before": c.stress_before,
                          "avalanche_size": c.avalanche_size, "plastic": c.plastic,
                          "mean_stress": c.mean_stress}
            for r, c in enumerate(curves)
        },
        "final_state": {"stress": first.state.stress, "prestress": first.state.prestress,
                        "eps_pl": first.state.eps_pl, "theta": first.state.theta,
                        "tauc": first.state.tauc},
    }
    io.write_hdf5(out / "results.h5", data, params=cfg.to_dict(), seed=seed)
    means = np.array(per)
    has_stat = bool(np.isfinite(means[:, 0]).any())  # None when gamma_end <= stationary_from
    summary = {
        "params": cfg.to_dict(),
        "seed": seed,
        "realizations": realizations,
        "version": __version__,
        "n_events": int(n_events),
        "n_avalanches": int(n_aval),
        "stationary": {
            "from_gamma": rp.stationary_from,
            "mean_stress": float(np.nanmean(means[:, 0])) if has_stat else None,
            "std_stress": float(np.nanmean(means[:, 1])) if has_stat else None,
            "per_realization": [{"mean": a, "std": b} for a, b in per],
        },
        "wall_time_s": wall,
        "shear_time_s": t_shear,
        "events_per_second": n_events / t_shear if t_shear > 0 else None,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    _plot(curves, out / "stress_strain.png", rp.stationary_from)
    if ck is not None:
        ck.finish()
    return summary


class _Checkpointing:
    """Checkpoints of the shear of ``run_main_job`` in ``out/checkpoint.npz``."""

    def __init__(self, out: Path, tag: dict[str, Any], every: float | None, resume: bool):
        from ..weakplane.drivers import checkpoint

        self.path = out / "checkpoint.npz"
        self.tag = tag
        self.every = every
        self.resume = None
        self.extra: dict[str, Any] = {}
        if resume:
            self.resume, self.extra, _ = checkpoint.load(self.path, tag)

    def blank_state(self, p):
        """A state of the model with the right shapes (overwritten from the checkpoint)."""
        from ..weakplane.state import State, build_model

        return State.fresh(build_model(p), np.random.default_rng(0))

    def save(self, snap, chunk_start: int, previous: dict[str, Any]) -> None:
        from ..weakplane.drivers import checkpoint

        extra = {"chunk_start": np.array(chunk_start), **previous}
        checkpoint.save(self.path, snap, self.tag, extra)

    def finish(self) -> None:
        """The run completed: its checkpoint is no longer needed."""
        self.path.unlink(missing_ok=True)


_KEYS = ("gamma", "stress", "stress_before", "avalanche_size", "plastic", "mean_stress")


def _shear_with_snapshots(state, p, rng, rp, snapshots, upd, ck=None):
    """AQS in chunks of ``fields_every`` strain, ``snapshots(gamma, state)`` after each.

    Only the records of the finished chunks are kept (not their states), so memory holds one
    state whatever the number of chunks.

    With ``ck`` (:class:`_Checkpointing`) every chunk checkpoints, with the records of the
    chunks before it, and a resumed run starts in the checkpoint's chunk.
    """
    from ..weakplane.drivers import AQSRun, aqs

    every = rp.fields_every if rp.fields_every > 0 else rp.gamma_end
    n_total = int(round(rp.gamma_end / rp.dgamma))
    per_chunk = max(1, int(round(every / rp.dgamma)))
    runs = []
    done = 0
    st = state
    resume = None
    if ck is not None and ck.resume is not None:
        resume = ck.resume
        done = int(ck.extra["chunk_start"])
        if done:
            runs.append(_Records(**{k: ck.extra[f"prev_{k}"] for k in _KEYS}))
    else:
        snapshots(0.0, state)
    while done < n_total:
        m = min(per_chunk, n_total - done)
        base = done
        hook = None
        if ck is not None and ck.every is not None:
            prev = {f"prev_{k}": np.concatenate([getattr(r, k) for r in runs]) if runs
                    else np.zeros((0, 3) if k == "mean_stress" else 0) for k in _KEYS}

            def hook(snap, b=base, prev=prev):
                ck.save(snap, b, prev)

        run = aqs(st, p, rng, gamma_end=m * rp.dgamma, dgamma=rp.dgamma, alpha=rp.alpha,
                  event_driven=rp.event_driven,
                  progress=lambda f, b=base, mm=m: upd((b + f * mm) / n_total),
                  checkpoint=hook, checkpoint_every=ck.every if hook else 0.0, resume=resume)
        resume = None
        run.gamma = run.gamma + base * rp.dgamma
        runs.append(_Records(**{k: getattr(run, k) for k in _KEYS}))
        st = run.state
        done += m
        snapshots(done * rp.dgamma, st)
    cat = {k: np.concatenate([getattr(r, k) for r in runs]) for k in _KEYS}
    return AQSRun(st, cat["gamma"], cat["stress"], cat["stress_before"], cat["avalanche_size"],
                  cat["plastic"], cat["mean_stress"], None, rp.alpha, 1, rp.dgamma)


class _Records:
    """Records of earlier chunks, restored from a checkpoint."""

    def __init__(self, **arrays: Any) -> None:
        self.__dict__.update(arrays)


def _plot(curves, path: Path, stationary_from: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
    for i, c in enumerate(curves[:8]):
        ax.plot(c.gamma, c.stress, lw=0.7, alpha=0.9 if i == 0 else 0.4,
                label="realisation 0" if i == 0 else None)
    if len(curves) > 1:
        ax.plot(curves[0].gamma, np.mean([c.stress for c in curves], axis=0), "k", lw=1.2,
                label=f"mean of {len(curves)}")
    ax.axvline(stationary_from, color="0.6", ls=":", lw=1, label="stationary from")
    ax.set_xlabel(r"$\gamma^{\rm ext}$")
    ax.set_ylabel(r"$\Sigma^{\rm ext}_{xy}$ (LJ units)")
    ax.legend(frameon=False, fontsize=8)
    fig.savefig(path, dpi=130)
    plt.close(fig)


def cmd_run(args: argparse.Namespace) -> int:
    """``femplastic run``: :func:`run_main_job` with a printed summary; returns 0.

    Raises
    ------
    ValueError
        If ``--realizations < 1`` or ``--seed < 0`` or the configuration is invalid.
    """
    from ..weakplane.params import load_config

    if args.realizations < 1:
        raise ValueError(f"--realizations must be >= 1, got {args.realizations}")
    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {args.seed}")
    from .. import threads

    # one thread unless asked: on a loaded machine idle-spinning threads cost far more than
    # they gain (femplastic bench scale)
    threads.set_threads(threads.resolve(getattr(args, "threads", None)) or 1)
    cfg = load_config(args.config, args.set)
    out = Path(args.out)
    resume = getattr(args, "resume", None)
    if resume is not None:
        out = Path(resume)
        if not (out / "checkpoint.npz").exists():
            raise ValueError(f"--resume {resume}: no checkpoint.npz there")
    show = sys.stderr.isatty() and not args.quiet
    if not args.quiet and not _kernels_cached():
        print("femplastic: compiling the numba kernels (first run only, ~30 s; cached after)",
              file=sys.stderr)
    summary = run_main_job(cfg, args.seed, args.realizations, out, progress=show,
                           checkpoint_every=getattr(args, "checkpoint_every", None),
                           resume=resume is not None)
    st = summary["stationary"]
    print(f"femplastic run: L={cfg.model.L} N={cfg.model.N} gamma_end={cfg.run.gamma_end} "
          f"seed={args.seed} realizations={args.realizations}")
    if st["mean_stress"] is None:
        print(f"  no stationary statistics: gamma_end <= stationary_from = {st['from_gamma']}")
    else:
        print(f"  stationary (gamma > {st['from_gamma']}): mean stress {st['mean_stress']:.4f}, "
              f"std {st['std_stress']:.4f}")
    print(f"  {summary['n_events']} slip events in {summary['n_avalanches']} avalanches; "
          f"{summary['events_per_second']:.0f} events/s; wall {summary['wall_time_s']:.2f} s")
    print(f"  wrote {out}/: results.h5 curve.csv summary.json stress_strain.png fields.xdmf")
    return 0


def _kernels_cached() -> bool:
    """Whether numba has cached compiled kernels for this install (else the run compiles)."""
    cache = Path(__file__).resolve().parents[1] / "weakplane" / "__pycache__"
    return any(cache.glob("kernels.relax_fused*.nbi"))

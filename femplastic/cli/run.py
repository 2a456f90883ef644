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


def run_main_job(cfg, seed: int, realizations: int, out: Path, progress: bool = False
                 ) -> dict[str, Any]:
    """Quench and shear ``realizations`` samples; write every output file into ``out``.

    Realisation ``r`` uses the ``r``-th child of ``SeedSequence(seed)``, so its result does
    not depend on how many realisations are run.
    """
    from .. import __version__, io
    from ..weakplane.drivers import aqs, quench

    out.mkdir(parents=True, exist_ok=True)
    p, rp = cfg.model, cfg.run
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
        state = quench(p, rng, progress=upd)
        bar.close()
        snapshots: list[tuple[float, Any]] = []
        bar, upd = _progress_bar(1.0, f"shear  {r + 1}/{realizations}", progress)
        ts = time.perf_counter()
        if r == 0:
            run = _shear_with_snapshots(state, p, rng, rp, snapshots, upd)
        else:
            run = aqs(state, p, rng, gamma_end=rp.gamma_end, dgamma=rp.dgamma, alpha=rp.alpha,
                      event_driven=rp.event_driven, progress=upd)
        t_shear += time.perf_counter() - ts
        bar.close()
        if r == 0:
            writer = io.XdmfWriter(xdmf_path, state.model.mesh)
            with writer as w:
                for g, st in snapshots:
                    w.write(g, st.stress, st.eps_pl, slips=st.slips,
                            min_dtau=st.dtau().min(axis=1), mean_tauc=st.tauc.mean(axis=1))
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
    return summary


def _shear_with_snapshots(state, p, rng, rp, snapshots, upd):
    """AQS in chunks of ``fields_every`` strain so ParaView snapshots can be taken."""
    from ..weakplane.drivers import AQSRun, aqs

    every = rp.fields_every if rp.fields_every > 0 else rp.gamma_end
    n_total = int(round(rp.gamma_end / rp.dgamma))
    per_chunk = max(1, int(round(every / rp.dgamma)))
    snapshots.append((0.0, state.copy()))
    runs = []
    done = 0
    st = state
    while done < n_total:
        m = min(per_chunk, n_total - done)
        base = done
        run = aqs(st, p, rng, gamma_end=m * rp.dgamma, dgamma=rp.dgamma, alpha=rp.alpha,
                  event_driven=rp.event_driven,
                  progress=lambda f, b=base, mm=m: upd((b + f * mm) / n_total))
        run.gamma = run.gamma + base * rp.dgamma
        runs.append(run)
        st = run.state
        done += m
        snapshots.append((done * rp.dgamma, st.copy()))
    cat = {k: np.concatenate([getattr(r, k) for r in runs])
           for k in ("gamma", "stress", "stress_before", "avalanche_size", "plastic",
                     "mean_stress")}
    return AQSRun(st, cat["gamma"], cat["stress"], cat["stress_before"], cat["avalanche_size"],
                  cat["plastic"], cat["mean_stress"], None, rp.alpha, 1, rp.dgamma)


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

    threads.set_threads(getattr(args, "threads", None))
    cfg = load_config(args.config, args.set)
    out = Path(args.out)
    show = sys.stderr.isatty() and not args.quiet
    if not args.quiet and not _kernels_cached():
        print("femplastic: compiling the numba kernels (first run only, ~30 s; cached after)",
              file=sys.stderr)
    summary = run_main_job(cfg, args.seed, args.realizations, out, progress=show)
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

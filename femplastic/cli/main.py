"""The ``femplastic`` command.

``femplastic run`` quenches and shears the weak-plane model (model C of seed 004 by default)
and writes ``results.h5``, ``curve.csv``, ``summary.json``, ``stress_strain.png`` and
``fields.xdmf`` (+ ``fields.h5``) into ``--out``. ``femplastic info`` checks the install,
``femplastic bench`` runs the benchmarks.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["main", "run_main_job"]


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


def _cmd_run(args: argparse.Namespace) -> int:
    from ..weakplane.params import load_config

    if args.realizations < 1:
        raise ValueError(f"--realizations must be >= 1, got {args.realizations}")
    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {args.seed}")
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
    cache = Path(__file__).resolve().parent / "__pycache__"
    return any(cache.glob("kernels.relax_fused*.nbi"))


def _cmd_info(args: argparse.Namespace) -> int:
    from .. import __version__
    from ..fe.assembly import element_stress, eshelby_tensor
    from ..fe.elasticity import Isotropic
    from ..fe.mesh import periodic_grid
    from ..fe.propagators import PeriodicKernel

    L = 8
    m = periodic_grid(L, 6.6)
    mat = Isotropic()
    pk = PeriodicKernel(m, mat)
    rng = np.random.default_rng(0)
    epl = rng.normal(size=(L * L, 3))
    err = np.abs(pk.stress(epl) - element_stress(m, mat, epl)).max()
    S = eshelby_tensor(m, mat)
    print(f"femplastic {__version__}")
    print(f"  fast periodic kernel vs sparse FE solve on {L}x{L}: max |diff| = {err:.2e}")
    print(f"  Eshelby tensor of one element (l = 6.6): S_xyxy = {S[2, 2]:.4f}")
    return 0 if err < 1e-9 else 1


def _cmd_bench(args: argparse.Namespace) -> int:
    import importlib.util

    root = Path(__file__).resolve().parents[1] / "benchmarks"
    path = root / f"bench_{args.which}.py"
    if not path.exists():
        avail = sorted(p.stem[6:] for p in root.glob("bench_*.py")) if root.exists() else []
        raise ValueError(f"no benchmark {args.which!r}; available: {avail} "
                         "(benchmarks/ ships with the source checkout)")
    spec = importlib.util.spec_from_file_location(f"bench_{args.which}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.main(args.rest)  # unparsed arguments, e.g. femplastic bench propagator --sizes 64
    return 0


def _ensemble_common(args: argparse.Namespace, points: list[dict[str, Any]],
                     keys: list[str]) -> int:
    """Run ``points`` as an ensemble of model realisations and print a summary table."""
    from ..ensemble import Ensemble, load_store, summary_table
    from ..weakplane.ensembles import model_realization, model_statistics, warmup_model

    if args.realizations < 1:
        raise ValueError(f"--realizations must be >= 1, got {args.realizations}")
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    if args.workers is not None and args.scheduler is not None:
        raise ValueError("--workers and --scheduler are exclusive (the cluster has its workers)")
    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {args.seed}")
    func = model_statistics if args.no_curves else model_realization
    ens = Ensemble(func, points, realizations=args.realizations, seed=args.seed,
                   store=args.out, seeding=args.seeding)
    show = sys.stderr.isatty() and not args.quiet
    try:
        rep = ens.run(workers=args.workers, scheduler=args.scheduler, setup=warmup_model,
                      progress=show)
    except ImportError as exc:
        print(f"femplastic {args.cmd}: error: {exc}", file=sys.stderr)
        return 1
    print(f"femplastic {args.cmd}: {len(points)} point(s) x {args.realizations} realisation(s), "
          f"seed {args.seed}, on {rep.backend}")
    print(f"  computed {rep.computed}, already in the store {rep.skipped}"
          + (f", discarded incomplete {rep.discarded}" if rep.discarded else "")
          + f"; wall {rep.wall_s:.2f} s")
    data = load_store(ens.store, keys=("stationary_mean", "stationary_std"))
    print(summary_table(data, keys))
    print(f"  wrote {ens.store}")
    return 0


def _cmd_ensemble(args: argparse.Namespace) -> int:
    from ..weakplane.ensembles import config_point
    from ..weakplane.params import load_config

    cfg = load_config(args.config, args.set)
    return _ensemble_common(args, [config_point(cfg)], [])


def _cmd_sweep(args: argparse.Namespace) -> int:
    from ..weakplane.ensembles import grid_points

    points, keys = grid_points(args.config, args.set, args.grid)
    return _ensemble_common(args, points, keys)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``femplastic`` command."""
    from .. import __version__

    ap = argparse.ArgumentParser(
        prog="femplastic",
        description="Finite-element elasto-plastic models of amorphous plasticity.",
    )
    ap.add_argument("--version", action="version", version=f"femplastic {__version__}")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser(
        "run",
        help="quench and shear the weak-plane model (model C of seed 004 by default)",
        description="KMC quench then athermal quasistatic shear of the weak-plane FE model. "
        "Writes results.h5, curve.csv, summary.json, stress_strain.png and fields.xdmf. "
        "Model variants A-I of seed 004: --set model.variant=D (see the docs).",
    )
    r.add_argument("--config", help="TOML file with [model] and [run] tables")
    r.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a config value, e.g. --set model.L=32 (repeatable)")
    r.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    r.add_argument("--realizations", type=int, default=1, help="independent samples (default 1)")
    r.add_argument("--out", default="femplastic-out", help="output folder (default femplastic-out)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=_cmd_run)
    i = sub.add_parser("info", help="version and a quick self-check of the FE core")
    i.set_defaults(func=_cmd_info)
    b = sub.add_parser("bench", help="run a benchmark from benchmarks/ (e.g. propagator, aqs)")
    b.add_argument("which", help="benchmark name: propagator, aqs, ...")
    b.set_defaults(func=_cmd_bench)
    for name in ("ensemble", "sweep"):
        sweep = name == "sweep"
        e = sub.add_parser(
            name,
            help=("the model over a parameter grid x realisations into one HDF5 store"
                  if sweep else "many realisations of the model into one resumable HDF5 store"),
            description="Quench + AQS realisations of the weak-plane model"
            + (" at every point of a parameter grid (cartesian product of --grid)" if sweep
               else "")
            + ", on local processes or a Dask cluster, streamed into one HDF5 store. Rerunning "
            "the same command resumes: finished realisations are not recomputed.",
        )
        e.add_argument("--config", help="TOML file with [model] and [run] tables")
        e.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                       help="override a config value, e.g. --set model.L=32 (repeatable)")
        if sweep:
            e.add_argument("--grid", action="append", default=[], metavar="SECTION.KEY=V1,V2",
                           help="grid values of one parameter, e.g. --grid model.k=1.5,2.0 "
                           "(repeatable; the cartesian product is run)")
        e.add_argument("--realizations", type=int, required=True,
                       help="realisations per parameter point")
        e.add_argument("--workers", type=int, default=None,
                       help="local worker processes (default: all CPUs; 1: serial)")
        e.add_argument("--scheduler", default=None, metavar="ADDR",
                       help="Dask scheduler address, e.g. tcp://host:8786 "
                       "(pip install 'femplastic[distributed]')")
        e.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
        e.add_argument("--seeding", choices=("independent", "common"), default="independent",
                       help="common: the same random numbers at every point (default "
                       "independent)")
        e.add_argument("--no-curves", action="store_true",
                       help="store stationary statistics and stress drops only, not the curves")
        e.add_argument("--out", default=f"femplastic-{name}.h5",
                       help=f"HDF5 store (default femplastic-{name}.h5)")
        e.add_argument("--quiet", action="store_true", help="no progress bar")
        e.set_defaults(func=_cmd_sweep if sweep else _cmd_ensemble)
    return ap


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status. Bad input exits with status 2 and a message."""
    ap = build_parser()
    args, rest = ap.parse_known_args(argv)
    if rest and args.cmd != "bench":
        ap.error(f"unrecognized arguments: {' '.join(rest)}")
    args.rest = [a for a in rest if a != "--"]
    try:
        return int(args.func(args))
    except ValueError as exc:
        ap.exit(2, f"femplastic {args.cmd}: error: {exc}\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

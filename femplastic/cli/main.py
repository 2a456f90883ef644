"""The ``femplastic`` command: the argument parser and the entry point.

Each subcommand lives in its own module (:mod:`~femplastic.cli.run`,
:mod:`~femplastic.cli.info`, :mod:`~femplastic.cli.bench`, :mod:`~femplastic.cli.ensemble`
for ``ensemble`` and ``sweep``), imported only when that subcommand runs: ``femplastic
--help`` and ``--version`` import neither numpy nor numba nor the models.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable

__all__ = ["build_parser", "main"]


def _command(module: str, name: str) -> Callable[[argparse.Namespace], int]:
    """The subcommand ``femplastic.cli.<module>.<name>``, imported when it is called."""

    def run(args: argparse.Namespace) -> int:
        return getattr(importlib.import_module(f"{__package__}.{module}"), name)(args)

    return run


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
    r.add_argument("--threads", type=int, default=None, metavar="N",
                   help="threads of the numba kernels (default: $FEMPLASTIC_THREADS, else 1; "
                   "threaded on grids L >= 1024, results identical for any N)")
    r.add_argument("--checkpoint-every", type=float, default=None, metavar="SECONDS",
                   help="write a restartable checkpoint into --out every SECONDS of shearing "
                   "(one realisation only)")
    r.add_argument("--resume", default=None, metavar="DIR",
                   help="continue the interrupted run whose checkpoint is in DIR (same "
                   "config and seed; results identical to an uninterrupted run)")
    r.set_defaults(func=_command("run", "cmd_run"))
    i = sub.add_parser("info", help="version and a quick self-check of the FE core")
    i.set_defaults(func=_command("info", "cmd_info"))
    b = sub.add_parser("bench", help="run a benchmark from benchmarks/ (e.g. propagator, aqs)")
    b.add_argument("which", help="benchmark name: propagator, aqs, ...")
    b.set_defaults(func=_command("bench", "cmd_bench"))
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
        e.set_defaults(func=_command("ensemble", "cmd_sweep" if sweep else "cmd_ensemble"))
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

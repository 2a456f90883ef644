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

__all__ = ["build_parser", "main", "CITATIONS"]

#: The papers the models come from, in full (also in README.md, CITATION.cff and the docs).
CITATIONS = """\
models and papers (cite them with femplastic, see CITATION.cff):
  weak-plane FE model, variants A-I (femplastic run, ensemble, sweep):
    D. Fernández Castellanos, S. Roux and S. Patinet, "Insights from the quantitative
    calibration of an elasto-plastic model from a Lennard-Jones atomic glass",
    Comptes Rendus. Physique 22 (2021)
  scalar finite-rate and creep lattice model:
    C. Liu, S. Dutta, P. Chaudhuri and K. Martens, "Elastoplastic approach based on
    microscopic insights for the steady state and transient dynamics of sheared disordered
    solids", Physical Review Letters 126, 138005 (2021)
  quasistatic scalar model with rejuvenation:
    B. Tyukodi, A. Barbot, R. García-García, M. Lerbinger, S. Patinet and D. Vandembroucq,
    "Coarse-graining amorphous plasticity: impact of rejuvenation and disorder",
    Comptes Rendus. Physique 24 (S1), 113-131 (2023)
  Hebraud-Lequeux mean field:
    F. Puosi, J. Olivier and K. Martens, "Probing relevant ingredients in mean-field
    approaches for the athermal rheology of yield stress materials",
    Soft Matter 11, 7639-7647 (2015)
"""


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
        epilog=CITATIONS, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--version", action="version", version=f"femplastic {__version__}")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser(
        "run",
        help="quench and shear the weak-plane model (Castellanos et al. model C by default)",
        description="KMC quench then athermal quasistatic shear of the weak-plane FE model of "
        "Fernandez Castellanos, Roux and Patinet, C. R. Physique 22 (2021); by default their "
        "calibrated model C. Writes results.h5, curve.csv, summary.json, stress_strain.png, "
        "fields.xdmf (+ fields.h5) and femplastic-run.json (status running/complete, or "
        "failed when the work raised: exit status 1). "
        "Variants A-I of the paper: --set model.variant=D runs variant D with its calibrated "
        "parameters (appendix A.8) unless k, lam, chi... are set too; femplastic config lists "
        "every key. Other protocols: --set run.protocol=cyclic|stress|bauschinger|local-yield|"
        "rate|creep (their keys: femplastic config, and the tutorial), run under the same "
        "rules; summary.json starts with status, protocol, n_events, n_avalanches, "
        "wall_time_s, per_realization for every protocol. Every input is checked before any "
        "work or any file is moved (types, ranges, keys of another protocol, memory, disk and "
        "time of the run: femplastic.validation); bad input exits with status 2 and a message "
        "naming the key.",
    )
    r.add_argument("--config", help="TOML file with [model] and [run] tables")
    r.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a config value, e.g. --set model.L=32 (repeatable)")
    r.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    r.add_argument("--realizations", type=int, default=None,
                   help="independent samples (default 1; with --resume: the run's)")
    r.add_argument("--out", default=None,
                   help="output folder (default femplastic-out); a previous run there is moved "
                   "aside to OUT.1, OUT.2, ...; a folder holding other files is refused")
    r.add_argument("--overwrite", action="store_true",
                   help="write into an --out folder that holds files femplastic did not write "
                   "(they are left alone; femplastic's own files there are replaced)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.add_argument("--threads", type=int, default=None, metavar="N",
                   help="threads of the numba kernels (default: $FEMPLASTIC_THREADS, else 1; "
                   "with N > 1 each parallel region runs threaded only where its work pays, "
                   "on numba's OpenMP layer, and the AQS loop keeps threads only while "
                   "measured faster; results identical for any N)")
    r.add_argument("--checkpoint-every", type=float, default=None, metavar="SECONDS",
                   help="write a restartable checkpoint (checkpoint.npz) into --out every "
                   "SECONDS of wall time, counted over the whole run (0: at every chunk)")
    r.add_argument("--resume", default=None, metavar="DIR",
                   help="continue the interrupted run in DIR from its last finished "
                   "realisation and its checkpoint (same config, seed and realisations; not "
                   "with --out; results identical to an uninterrupted run)")
    r.set_defaults(func=_command("run", "cmd_run"))
    i = sub.add_parser("info", help="version and a quick self-check of the FE core")
    i.set_defaults(func=_command("info", "cmd_info"))
    c = sub.add_parser("config", help="print every config key with its default, meaning and "
                       "unit (valid TOML: femplastic config > my.toml)")
    c.set_defaults(func=_command("config", "cmd_config"))
    b = sub.add_parser("bench", help="run a benchmark from benchmarks/ (--list: which ones)")
    b.add_argument("which", nargs="?", help="benchmark name (femplastic bench --list)")
    b.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    b.set_defaults(func=_command("bench", "cmd_bench"))
    g = sub.add_parser("mesh", help="make a bi-periodic unstructured all-quad mesh with Gmsh "
                       "(pip install 'femplastic[mesh]')",
                       description="Bi-periodic unstructured all-quadrilateral mesh of a square "
                       "(Gmsh), about N elements whose areas have the requested coefficient of "
                       "variation; prints its quality and writes any meshio format.")
    g.add_argument("--elements", type=int, required=True, metavar="N",
                   help="target number of elements (>= 16; met within 10 %%)")
    g.add_argument("--size-cv", type=float, default=0.0, metavar="CV",
                   help="coefficient of variation of the element area, 0-1.5 (default 0: as "
                   "uniform as the mesher allows; met within 0.05)")
    g.add_argument("--seed", type=int, default=0, help="seed of the size field (default 0)")
    g.add_argument("--box", type=float, default=None,
                   help="side of the square (default sqrt(N) x 6.6)")
    g.add_argument("--algorithm", default="frontal",
                   help="frontal (default: most uniform, edges mostly along x/y) or delaunay "
                   "(isotropic edge orientations, area CV ~0.2)")
    g.add_argument("--out", required=True, help="mesh file (.msh, .vtu, .xdmf, .inp, ...)")
    g.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    g.set_defaults(func=_command("mesh", "cmd_mesh"))
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
            "the same command resumes: finished realisations are not recomputed. Inputs are "
            "checked as by femplastic run (every point, before the store is touched).",
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
    _md_parser(sub)
    return ap


def _md_parser(sub: argparse._SubParsersAction) -> None:
    """``femplastic md`` (the atomistic reference; its module imports nothing heavy)."""
    importlib.import_module(f"{__package__}.atomistic").add_parser(sub)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status.

    Bad input exits with status 2 and a one-line message; Ctrl-C (SIGINT) returns 130 after
    one line, the files written so far left readable, at any moment (also while the command
    is still parsing its arguments or importing).
    """
    try:
        return _main(argv)
    except KeyboardInterrupt:  # before the command's own handling (parser, imports)
        words = [a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")]
        sys.stderr.write(f"\nfemplastic {words[0] if words else ''}: interrupted\n")
        return 130


def _main(argv: list[str] | None) -> int:
    ap = build_parser()
    args, rest = ap.parse_known_args(argv)
    if rest and args.cmd != "bench":
        ap.error(f"unrecognized arguments: {' '.join(rest)}")
    args.rest = [a for a in rest if a != "--"]
    from .. import interrupt

    try:
        # Ctrl-C is deferred for the whole command and raised at the drivers' safe points
        # (between compiled calls), never half-way through an import or a file write
        with interrupt.deferred():
            return int(args.func(args))
    except (ValueError, TypeError) as exc:  # bad input, found before any work
        ap.exit(2, f"femplastic {args.cmd}: error: {exc}\n")
    except RuntimeError as exc:  # the work raised: its traceback, then where the run is
        from ..io.outdir import RunFailed  # (not at import: --help stays light)

        if not isinstance(exc, RunFailed):
            raise
        import traceback

        traceback.print_exception(exc.__cause__ or exc)
        again = (f"; --resume {exc.folder} continues aqs, cyclic and stress runs from their "
                 "last checkpoint" if args.cmd == "run" else "")
        sys.stderr.write(f"femplastic {args.cmd}: failed: {exc}{again}\n")
        return 1
    except KeyboardInterrupt:
        where = getattr(args, "out", None) or getattr(args, "resume", None) or (
            "femplastic-out" if args.cmd == "run" else None)
        if args.cmd == "run":
            what = (f"; the finished realisations are in {where} (status: running; the "
                    f"same command with --resume {where} instead of --out continues aqs, "
                    "cyclic and stress runs)")
        elif where:
            what = f"; the finished realisations are kept in {where}: rerun to resume"
        else:
            what = ""
        sys.stderr.write(f"\nfemplastic {args.cmd}: interrupted{what}\n")
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

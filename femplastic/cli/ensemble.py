"""``femplastic ensemble`` and ``femplastic sweep``: many realisations into one HDF5 store.

Both run quench + AQS realisations (``run.protocol=aqs``; another protocol is refused, so a
stored point is always labelled with what ran) of the weak-plane model through
:class:`femplastic.ensemble.Ensemble` (local processes or a Dask cluster) and print a summary
table; ``sweep`` runs them at every point of a parameter grid.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["cmd_ensemble", "cmd_sweep"]


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
    from ..weakplane import estimates
    from ..weakplane.ensembles import check_aqs_protocol, model_config

    for pt in points:  # the checks of femplastic run, before the store is touched
        estimates.check_cost(model_config(pt), args.realizations, args.out, streamed=False,
                             parallel=args.realizations)  # names a bad key, as run does
        check_aqs_protocol(model_config(pt))  # what ran is what the stored label says
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


def cmd_ensemble(args: argparse.Namespace) -> int:
    """``femplastic ensemble``: realisations of one configuration; returns the exit status."""
    from ..weakplane.ensembles import config_point
    from ..weakplane.params import load_config

    cfg = load_config(args.config, args.set)
    return _ensemble_common(args, [config_point(cfg)], [])


def cmd_sweep(args: argparse.Namespace) -> int:
    """``femplastic sweep``: realisations at every grid point; returns the exit status."""
    from ..weakplane.ensembles import grid_points

    points, keys = grid_points(args.config, args.set, args.grid)
    return _ensemble_common(args, points, keys)

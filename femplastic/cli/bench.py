"""``femplastic bench NAME``: run ``benchmarks/bench_NAME.py`` of the source checkout."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["cmd_bench"]


def cmd_bench(args: argparse.Namespace) -> int:
    """Run the benchmark ``args.which`` with the unparsed arguments; returns 0.

    Raises
    ------
    ValueError
        If ``benchmarks/bench_<which>.py`` does not exist (lists the available ones).
    """
    import importlib.util

    root = Path(__file__).resolve().parents[2] / "benchmarks"
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

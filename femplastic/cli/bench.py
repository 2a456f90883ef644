"""``femplastic bench NAME``: run ``benchmarks/bench_NAME.py`` of the source checkout.

``femplastic bench --list`` names them with their first docstring line. A benchmark prints as
it goes: stdout is line-buffered, and a heartbeat line on stderr every
:data:`HEARTBEAT_S` seconds says it is still running.
"""

from __future__ import annotations

import argparse
import ast
import sys
import threading
import time
from pathlib import Path

__all__ = ["cmd_bench", "list_benchmarks", "HEARTBEAT_S"]

#: Seconds between two "still running" lines of a benchmark.
HEARTBEAT_S = 20.0


def _root() -> Path:
    return Path(__file__).resolve().parents[2] / "benchmarks"


def list_benchmarks() -> dict[str, str]:
    """``{name: first line of its docstring}`` for every ``benchmarks/bench_*.py``.

    Returns
    -------
    dict
        Empty when ``benchmarks/`` is absent (it ships with the source checkout).
    """
    out = {}
    root = _root()
    for path in sorted(root.glob("bench_*.py")) if root.exists() else []:
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        out[path.stem[6:]] = doc.strip().splitlines()[0] if doc.strip() else ""
    return out


def cmd_bench(args: argparse.Namespace) -> int:
    """Run the benchmark ``args.which`` with the unparsed arguments, or list them; returns 0.

    Raises
    ------
    ValueError
        If no name is given, or ``benchmarks/bench_<which>.py`` does not exist (lists the
        available ones).
    """
    import importlib.util

    avail = list_benchmarks()
    if args.list:
        for name, doc in avail.items():
            print(f"{name:12s} {doc}")
        return 0
    if not args.which:
        raise ValueError(f"name a benchmark: {', '.join(avail)} (femplastic bench --list)")
    path = _root() / f"bench_{args.which}.py"
    if not path.exists():
        raise ValueError(f"no benchmark {args.which!r}; available: {sorted(avail)} "
                         "(benchmarks/ ships with the source checkout)")
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    print(f"femplastic bench {args.which}: {avail.get(args.which, '')}")
    spec = importlib.util.spec_from_file_location(f"bench_{args.which}", path)
    mod = importlib.util.module_from_spec(spec)
    done = threading.Event()
    t0 = time.perf_counter()

    def heartbeat() -> None:
        while not done.wait(HEARTBEAT_S):
            print(f"femplastic bench {args.which}: still running "
                  f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)

    threading.Thread(target=heartbeat, daemon=True).start()
    try:
        spec.loader.exec_module(mod)
        mod.main(args.rest)  # unparsed arguments, e.g. femplastic bench propagator --sizes 64
    finally:
        done.set()
    print(f"femplastic bench {args.which}: done in {time.perf_counter() - t0:.1f} s")
    return 0

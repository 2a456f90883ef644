"""Events/s of aqs, cyclic and stress-controlled loading at L = 15, 64, 128, same run.

Model C (N = 36, T = 0). For every size: one quench, then (after JIT warm-up) the median over
``--repeats`` rounds of AQS ``gamma 0 -> G``, one cycle of cyclic AQS of amplitude ``G`` (its
first leg is that AQS run, the others reverse and reload it in flow) and a stress ramp
``0 -> stress_end`` (``dstress = 1e-4``), all at ``dgamma = 1e-4``, each measured over at
least ``--min-time`` seconds of runs, the protocols in turn within a round. Printed: slip
events per second, the ratio to ``aqs`` of the same size and round (the baseline, in this
run), the mean avalanche size and the wall time per avalanche (the protocols trigger
avalanches of different sizes: events/s compares the loops' throughput, us/avalanche their
per-avalanche cost). ``--python`` adds the drivers' Python loops (``compiled=False``, the
drivers before the compiled loops) at L = 15.

Run: ``python benchmarks/bench_protocols.py`` or ``femplastic bench protocols``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import femplastic as fp
from femplastic.weakplane.drivers.cyclic import cyclic
from femplastic.weakplane.drivers.stress import stress_controlled

#: L -> (aqs gamma_end, cyclic gamma_max, cycles, stress_end)
SIZES = {15: (1.0, 1.0, 1, 0.5), 64: (0.3, 0.3, 1, 0.5), 128: (0.15, 0.15, 1, 0.5)}


def _run(kind, q, p, seed, cfg, compiled=None):
    g_end, g_max, cycles, s_end = cfg
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    if kind == "aqs":
        run = fp.aqs(q, p, rng, gamma_end=g_end, dgamma=1e-4)
    elif kind == "cyclic":
        run = cyclic(q, p, rng, gamma_max=g_max, cycles=cycles, dgamma=1e-4, compiled=compiled)
    else:
        run = stress_controlled(q, p, rng, stress_end=s_end, dstress=1e-4, gamma_limit=2.0,
                                compiled=compiled)
    dt = time.perf_counter() - t0
    return dt, run.state.n_events - q.n_events, run.state.n_avalanches - q.n_avalanches


def _measure(kind, q, p, cfg, compiled, min_time, seed0):
    """Runs (seeds ``seed0, seed0 + 1, ...``) for ``min_time`` s: seconds, events, avalanches."""
    tot = np.zeros(3)
    seed = seed0
    while tot[0] < min_time:
        tot += _run(kind, q, p, seed, cfg, compiled)
        seed += 1
    return tot


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[15, 64, 128],
                    choices=sorted(SIZES))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--min-time", type=float, default=0.5,
                    help="seconds of runs (more seeds) per measurement")
    ap.add_argument("--python", action="store_true",
                    help="also time the Python loops (compiled=False) at L = 15")
    args = ap.parse_args(argv)
    p8 = fp.ModelParams(L=8, T=0.0)
    q8 = fp.quench(p8, np.random.default_rng(0))
    for kind in ("aqs", "cyclic", "stress"):  # JIT warm-up
        _run(kind, q8, p8, 0, (0.05, 0.02, 1, 0.3))
    print("medians over --repeats rounds; in each round every protocol is timed in turn and")
    print("'vs aqs' is the median of the rounds' ratios to that round's aqs (a busy machine")
    print("drifts between rounds, not within one)")
    print(f"{'L':>4s} {'protocol':17s} {'events/s':>10s} {'vs aqs':>7s} {'aval size':>9s} "
          f"{'us/aval':>8s}", flush=True)
    for L in args.sizes:
        p = fp.ModelParams(L=L, T=0.0)
        q = fp.quench(p, np.random.default_rng(L))
        kinds = [("aqs", None), ("cyclic", None), ("stress", None)]
        if args.python and L == 15:
            kinds += [("cyclic", False), ("stress", False)]
        rows = {k: [] for k in kinds}
        for r in range(args.repeats):
            for k in kinds:
                rows[k].append(_measure(k[0], q, p, SIZES[L], k[1], args.min_time, 10 * r))
        base = np.array([t[1] / t[0] for t in rows[("aqs", None)]])
        for k in kinds:
            tot = np.array(rows[k])
            rate = tot[:, 1] / tot[:, 0]
            name = k[0] + (" (python loop)" if k[1] is False else "")
            print(f"{L:4d} {name:17s} {np.median(rate):10,.0f} {np.median(rate / base):7.2f} "
                  f"{tot[:, 1].sum() / max(tot[:, 2].sum(), 1):9.2f} "
                  f"{1e6 * np.median(tot[:, 0] / np.maximum(tot[:, 2], 1)):8.1f}", flush=True)


if __name__ == "__main__":
    main()

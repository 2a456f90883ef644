"""Events/s of aqs, cyclic and stress-controlled loading at L = 15, 64, 128, same run.

Model C (N = 36, T = 0). For every size: one quench, then (after JIT warm-up) the median over
``--repeats`` runs of AQS ``gamma 0 -> G``, one cycle of cyclic AQS of amplitude ``G`` (its
first leg is that AQS run, the others reverse and reload it in flow) and a stress ramp
``0 -> stress_end`` (``dstress = 1e-4``), all at ``dgamma = 1e-4``, each
printed with slip events per second, its ratio to ``aqs`` of the same size (the baseline, in
this run), the mean avalanche size and the wall time per avalanche (the protocols trigger
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


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[15, 64, 128],
                    choices=sorted(SIZES))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--python", action="store_true",
                    help="also time the Python loops (compiled=False) at L = 15")
    args = ap.parse_args(argv)
    p8 = fp.ModelParams(L=8, T=0.0)
    q8 = fp.quench(p8, np.random.default_rng(0))
    for kind in ("aqs", "cyclic", "stress"):  # JIT warm-up
        _run(kind, q8, p8, 0, (0.05, 0.02, 1, 0.3))
    print(f"{'L':>4s} {'protocol':12s} {'events/s':>10s} {'vs aqs':>7s} {'events':>8s} "
          f"{'aval size':>9s} {'us/aval':>8s} {'wall s':>7s}", flush=True)
    for L in args.sizes:
        p = fp.ModelParams(L=L, T=0.0)
        q = fp.quench(p, np.random.default_rng(L))
        kinds = [("aqs", None), ("cyclic", None), ("stress", None)]
        if args.python and L == 15:
            kinds += [("cyclic", False), ("stress", False)]
        base = None
        for kind, comp in kinds:
            res = [_run(kind, q, p, s, SIZES[L], comp) for s in range(args.repeats)]
            dt = np.array([r[0] for r in res])
            ev = np.array([r[1] for r in res])
            na = np.array([r[2] for r in res])
            rate = float(np.median(ev / dt))
            base = rate if kind == "aqs" else base
            name = kind + (" (python)" if comp is False else "")
            print(f"{L:4d} {name:12s} {rate:10,.0f} {rate / base:7.2f} {ev.mean():8.0f} "
                  f"{ev.sum() / max(na.sum(), 1):9.2f} {1e6 * dt.sum() / max(na.sum(), 1):8.1f} "
                  f"{np.median(dt):7.2f}", flush=True)


if __name__ == "__main__":
    main()

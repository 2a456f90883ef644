"""Benchmark of the weak-plane model: one model C realisation, and events/s at L = 64.

Prints the median wall time of one AQS realisation (quench excluded, after JIT warm-up),
slip events per second, the same at L = 64 (N = 36), the quench time, and, as the in-run
baseline, the time the general sparse-FE path takes for the same model C realisation
(same rules, one sparse back-substitution per synchronous sweep).

Run: ``python benchmarks/bench_aqs.py`` or ``femplastic bench aqs``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import femplastic as fp


def _time_run(p, seeds, gamma_end, propagator=None):
    times, events = [], []
    for s in seeds:
        rng = np.random.default_rng(s)
        st = fp.quench(p, rng, propagator=propagator) if propagator else fp.quench(p, rng)
        t0 = time.perf_counter()
        run = fp.aqs(st, p, rng, gamma_end=gamma_end, dgamma=1e-4)
        times.append(time.perf_counter() - t0)
        events.append(run.state.n_events)
    return np.array(times), np.array(events)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--gamma-end-64", type=float, default=0.5)
    args = ap.parse_args(argv)
    p = fp.ModelParams()
    _time_run(p, [999], 0.05)  # JIT warm-up
    t0 = time.perf_counter()
    fp.quench(p, np.random.default_rng(1))
    t_quench = time.perf_counter() - t0
    t, ev = _time_run(p, range(args.repeats), 2.0)
    print(f"model C (L=15, N=36, gamma 0 -> 2, dgamma 1e-4), {args.repeats} realisations:")
    print(f"  median AQS wall time {np.median(t):.3f} s  (quench {t_quench:.2f} s)")
    print(f"  events/realisation {ev.mean():.0f}, events/s {np.median(ev / t):,.0f}")
    sp = fp.SparsePropagator(fp.mesh.periodic_grid(p.L, p.l), p.material())
    ts, evs = _time_run(p, [0], 2.0, propagator=sp)
    print(f"  same realisation on the sparse-FE path: {ts[0]:.2f} s "
          f"({ts[0] / t[0]:.0f}x slower than the fast kernel)")
    p64 = fp.ModelParams(L=64)
    t64, ev64 = _time_run(p64, range(2), args.gamma_end_64)
    print(f"L=64, N=36, gamma 0 -> {args.gamma_end_64}: median {np.median(t64):.2f} s, "
          f"events/s {np.median(ev64 / t64):,.0f}")


if __name__ == "__main__":
    main()

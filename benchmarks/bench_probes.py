"""Benchmark of the probes: full local-yield scan and a Bauschinger ensemble (model C).

* every n = 8 patch of the 15 x 15 model C system (225 patches, stride 1) in 18 orientations:
  4050 local shear tests, each with its own avalanche;
* the fig. 5 Bauschinger ensemble: R realisations of quench + AQS to gamma = 2 + unloading +
  forward and reverse reloads of 0.1.

Run: ``python benchmarks/bench_probes.py`` or ``femplastic bench probes``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import femplastic as fp
from femplastic.weakplane.probes import bauschinger, local_yield


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--realizations", type=int, default=16)
    args = ap.parse_args(argv)
    p = fp.ModelParams()
    rng = np.random.default_rng(0)
    st = fp.quench(p, rng)
    alphas = np.linspace(0, np.pi, 18, endpoint=False)
    local_yield(st, p, rng, 8, alphas[:2], positions=[(0, 0)])  # JIT warm-up
    t0 = time.perf_counter()
    ly = local_yield(st, p, rng, 8, alphas)
    t_q = time.perf_counter() - t0
    run = fp.aqs(st, p, rng)
    t0 = time.perf_counter()
    ly2 = local_yield(run.state, p, rng, 8, alphas)
    t_s = time.perf_counter() - t0
    n_tests = ly.tau_c.size
    print(f"local-yield scan, n=8, {ly.tau_c.shape[0]} patches x 18 orientations "
          f"({n_tests} tests):")
    print(f"  quench state {t_q:.2f} s ({t_q / n_tests * 1e6:.0f} us/test, "
          f"{ly.n_events.mean():.1f} events/test)")
    print(f"  stationary   {t_s:.2f} s ({t_s / n_tests * 1e6:.0f} us/test, "
          f"{ly2.n_events.mean():.1f} events/test)")
    t0 = time.perf_counter()
    t_b = 0.0
    for s in range(args.realizations):
        r = np.random.default_rng(100 + s)
        stt = fp.aqs(fp.quench(p, r), p, r).state
        tb = time.perf_counter()
        bauschinger(stt, p, r, gamma_reload=0.1)
        t_b += time.perf_counter() - tb
    total = time.perf_counter() - t0
    print(f"Bauschinger ensemble, {args.realizations} realisations: {total:.2f} s in all "
          f"(unload + 2 reloads: {t_b:.2f} s, {t_b / args.realizations * 1e3:.0f} ms each)")


if __name__ == "__main__":
    main()

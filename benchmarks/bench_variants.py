"""Benchmark of the model variants: variant A (heterogeneous moduli) relative to model C.

For L = 15 and 32 (N = 36, gamma 0 -> ``--gamma-end``, dgamma 1e-4, the same seeds for both
models) prints, per realisation: the time to build the model (A: a random modulus field and
its dense response matrix, built per realisation; C: the periodic kernel, built once and
cached), the KMC quench and the AQS run, events per second, and the ratios A / C. Also the
AQS time of the other interaction kernels (D shuffled, I mean field) relative to C.

Run: ``python benchmarks/bench_variants.py`` or ``femplastic bench variants``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import femplastic as fp
from femplastic.weakplane.state import _default_model


def _one(p: fp.ModelParams, seed: int, gamma_end: float) -> dict[str, float]:
    """Build, quench and shear one realisation; wall times in seconds."""
    _default_model.cache_clear()  # C's kernel is cached across realisations: time one build
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    model = fp.build_model(p, rng=rng)
    t1 = time.perf_counter()
    st = fp.quench(p, rng, propagator=model.propagator)  # same draws as fp.quench(p, rng)
    t2 = time.perf_counter()
    run = fp.aqs(st, p, rng, gamma_end=gamma_end, dgamma=1e-4)
    t3 = time.perf_counter()
    return {"build": t1 - t0, "quench": t2 - t1, "aqs": t3 - t2,
            "events": float(run.state.n_events)}


def _median(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: float(np.median([r[k] for r in rows])) for k in rows[0]}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--gamma-end", type=float, default=1.0)
    ap.add_argument("--sizes", default="15,32")
    args = ap.parse_args(argv)
    for v in "ACDI":  # JIT warm-up of every numba form
        _one(fp.ModelParams(L=6, variant=v), 999, 0.02)
    for L in (int(x) for x in args.sizes.split(",")):
        res = {}
        for v in "CADI":
            p = fp.ModelParams(L=L, variant=v)
            res[v] = _median([_one(p, s, args.gamma_end) for s in range(args.repeats)])
        c, a = res["C"], res["A"]
        print(f"L={L} (n={L * L}), N=36, gamma 0 -> {args.gamma_end}, dgamma 1e-4, "
              f"median of {args.repeats} realisations (same seeds):")
        for v in "CA":
            r = res[v]
            print(f"  {v}: build {r['build']:.3f} s, quench {r['quench']:.3f} s, aqs "
                  f"{r['aqs']:.3f} s, {r['events']:.0f} events, "
                  f"{r['events'] / r['aqs']:,.0f} events/s")
        tot_a = a["build"] + a["quench"] + a["aqs"]
        tot_c = c["build"] + c["quench"] + c["aqs"]
        print(f"  A / C: aqs time {a['aqs'] / c['aqs']:.2f}x, time per event "
              f"{(a['aqs'] / a['events']) / (c['aqs'] / c['events']):.2f}x, quench "
              f"{a['quench'] / c['quench']:.2f}x, build {a['build'] / c['build']:.1f}x, "
              f"total {tot_a / tot_c:.2f}x")
        for v in "DI":
            r = res[v]
            print(f"  {v} / C: aqs time {r['aqs'] / c['aqs']:.2f}x, time per event "
                  f"{(r['aqs'] / r['events']) / (c['aqs'] / c['events']):.2f}x")


if __name__ == "__main__":
    main()

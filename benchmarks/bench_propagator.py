"""Benchmark of the propagators: kernel build, single-event update, batched update.

Prints, for each L, the build time of the exact periodic kernel, the time of one
single-event shifted add, a plain memory pass over the stress array (the floor), one sparse
FE solve per event (the general path), and the ratios between them, all measured in this run.

Run: ``python benchmarks/bench_propagator.py`` or ``femplastic bench propagator``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from femplastic import kernels
from femplastic.elasticity import Isotropic
from femplastic.mesh import periodic_grid
from femplastic.propagator import PeriodicKernel, SparsePropagator


def _best(fn, repeat: int, number: int) -> float:
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def run(sizes=(64, 128, 256), seed: int = 0) -> list[dict]:
    kernels._warmup()
    rng = np.random.default_rng(seed)
    mat = Isotropic()
    rows = []
    for L in sizes:
        mesh = periodic_grid(L, 1.0)
        t0 = time.perf_counter()
        pk = PeriodicKernel(mesh, mat)
        build = time.perf_counter() - t0
        n = L * L
        stress = np.zeros((n, 3))
        flat = stress.reshape(-1)
        e = int(rng.integers(n))
        d = rng.normal(size=3)
        number = max(10, 2_000_000 // n)
        t_event = _best(lambda: kernels.shifted_add(flat, pk.Gb, L, e, d[0], d[1], d[2]), 5, number)
        t_mem = _best(lambda: kernels.memory_pass(flat, 1e-9), 5, number)
        elems = rng.integers(n, size=64)
        deps = rng.normal(size=(64, 3))
        t_batch = _best(lambda: pk.add(stress, elems, deps), 3, 5)
        t0 = time.perf_counter()
        sp = SparsePropagator(mesh, mat)
        factor = time.perf_counter() - t0
        t_sparse = _best(lambda: sp.add(stress, [e], [d]), 3, 3)
        rows.append(
            dict(L=L, build_s=build, event_s=t_event, memory_pass_s=t_mem, batch64_s=t_batch,
                 sparse_factor_s=factor, sparse_solve_s=t_sparse)
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    args = ap.parse_args(argv)
    rows = run(tuple(args.sizes))
    print(f"{'L':>5} {'build':>9} {'event':>10} {'mem pass':>10} {'event/mem':>9} "
          f"{'sparse/evt':>10} {'64 evts FFT':>11} {'factorise':>9}")
    for r in rows:
        print(f"{r['L']:5d} {r['build_s']*1e3:7.1f}ms {r['event_s']*1e6:8.2f}us "
              f"{r['memory_pass_s']*1e6:8.2f}us {r['event_s']/r['memory_pass_s']:9.2f} "
              f"{r['sparse_solve_s']/r['event_s']:9.0f}x {r['batch64_s']*1e3:9.2f}ms "
              f"{r['sparse_factor_s']:8.2f}s")
    print("event/mem: single-event shifted add relative to one pass over the stress array;")
    print("sparse/evt: one sparse back-substitution per event relative to the shifted add.")


if __name__ == "__main__":
    main()

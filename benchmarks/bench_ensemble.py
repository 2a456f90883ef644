"""Benchmark of the ensemble layer: model C throughput on 1 and W workers, and its overhead.

1. Throughput of model C realisations (quench + AQS 0 -> 2 at dgamma 1e-4, full curves into
   the store) run serially in this process and on ``W`` local worker processes (default 2).
   JIT compilation is excluded: this process and every worker load the compiled kernels
   (``warmup_model``) and run warm-up realisations before the clock starts; the pool is
   created once and passed as ``client=``. The speed-up is ``t_serial / t_parallel`` for the
   same realisations (same seeds; the stores are checked to be identical).
2. Per-realisation overhead of the ensemble layer (seeding, result checks, HDF5 write and
   flush; plus pickling and IPC with workers): wall time per realisation of a bare Python loop
   calling the same function versus ``Ensemble.run``, for model C and for a tiny realisation
   (L = 2, two load steps, about a millisecond), where the overhead dominates.

Run: ``python benchmarks/bench_ensemble.py`` or ``femplastic bench ensemble``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from femplastic.ensemble import Ensemble, load_store, local_pool
from femplastic.weakplane.ensembles import model_realization, model_statistics, warmup_model

MODEL_C = {"run.gamma_end": 2.0, "run.dgamma": 1e-4}
TINY = {"model.L": 2, "model.N": 4, "model.T": 0.0, "run.gamma_end": 2e-3, "run.dgamma": 1e-3}


def _bare(func, point, n, seed):
    t0 = time.perf_counter()
    for r in range(n):
        func(dict(point), np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0, r))))
    return time.perf_counter() - t0


def _ens(func, point, n, seed, store, **kw):
    t0 = time.perf_counter()
    rep = Ensemble(func, point, realizations=n, seed=seed, store=store).run(progress=False, **kw)
    assert rep.computed == n
    return time.perf_counter() - t0


def _capacity(pool, w, n=30_000_000):
    """Speed-up of ``w`` CPU-bound processes over one right now (other load on the machine)."""
    t0 = time.perf_counter()
    sum(range(n))
    t1 = time.perf_counter() - t0
    t0 = time.perf_counter()
    list(pool.map(sum, [range(n)] * w))
    return w * t1 / (time.perf_counter() - t0)


def _same(a, b):
    da, db = load_store(a), load_store(b)
    return all(np.array_equal(da.results[0][r][k], db.results[0][r][k])
               for r in da.results[0] for k in da.results[0][r])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--realizations", type=int, default=20, help="model C realisations")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--tiny", type=int, default=400, help="tiny realisations for the overhead")
    args = ap.parse_args(argv)
    n, w = args.realizations, args.workers
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        warmup_model()
        _bare(model_realization, {**MODEL_C, "run.gamma_end": 0.05}, 2, 99)
        with local_pool(w, setup=warmup_model) as pool:
            # warm every worker: kernels (setup) and the model C propagator (a first round)
            _ens(model_realization, {**MODEL_C, "run.gamma_end": 0.05}, 2 * w, 99, d / "w.h5",
                 client=pool)
            cap = _capacity(pool, w)
            t_bare = _bare(model_realization, MODEL_C, n, 1)
            t_1 = _ens(model_realization, MODEL_C, n, 1, d / "s1.h5", workers=1)
            t_w = _ens(model_realization, MODEL_C, n, 1, d / "sw.h5", client=pool)
            same = _same(d / "s1.h5", d / "sw.h5")
            _ens(model_statistics, TINY, 2 * w, 98, d / "tw.h5", client=pool)
            tb_tiny = _bare(model_statistics, TINY, args.tiny, 2)
            t1_tiny = _ens(model_statistics, TINY, args.tiny, 2, d / "t1.h5", workers=1)
            tw_tiny = _ens(model_statistics, TINY, args.tiny, 2, d / "tw2.h5", client=pool)
        size = (d / "s1.h5").stat().st_size / n / 1e6
    print(f"model C (L=15, N=36, quench + AQS gamma 0 -> 2, dgamma 1e-4), {n} realisations, "
          "JIT warm:")
    print(f"  bare loop        {t_bare:6.2f} s  {n / t_bare:5.2f} realisations/s")
    print(f"  ensemble, 1      {t_1:6.2f} s  {n / t_1:5.2f} realisations/s  (serial)")
    print(f"  ensemble, {w}      {t_w:6.2f} s  {n / t_w:5.2f} realisations/s  (processes)")
    print(f"  speed-up {w} workers vs 1: {t_1 / t_w:.2f}  (identical results: {same}; "
          f"{w} bare CPU-bound processes got {cap:.2f}x at that time)")
    print(f"  store {size:.2f} MB per realisation (curves, gzip above 4096 values)")
    print(f"  overhead per realisation, serial ensemble vs bare loop: "
          f"{1e3 * (t_1 - t_bare) / n:+.1f} ms")
    print(f"tiny realisations (L=2, 2 load steps), {args.tiny}:")
    print(f"  bare loop {1e3 * tb_tiny / args.tiny:.2f} ms, serial ensemble "
          f"{1e3 * t1_tiny / args.tiny:.2f} ms, ensemble on {w} processes "
          f"{1e3 * tw_tiny / args.tiny:.2f} ms per realisation")
    print(f"  overhead per realisation: serial {1e3 * (t1_tiny - tb_tiny) / args.tiny:+.2f} ms")


if __name__ == "__main__":
    main()

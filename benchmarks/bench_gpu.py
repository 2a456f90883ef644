"""Benchmark of the accelerated AQS backend against the numba path, model C, L = 128 .. 1024.

For each L: a T = 0 quench (fresh systems, athermal relaxation: the stationary state forgets
its preparation), a pre-shear to ``--pre`` on the backend to reach the stationary regime, then
a timed stationary strain span on the backend (``--span``, per L) and, from the same
stationary state and in the same run, the numba path on one thread (``--cpu-budget`` seconds
at most) and on all cores (``os.cpu_count()`` independent realisations in parallel
processes: the numba path is serial, so its all-threads figure is a throughput; budget
``--threads-budget``). Prints as it goes: the device, events/s, seconds per unit strain, and
the ratio to the numba path measured in this run. ``--deadline`` skips whatever would start
after that many seconds.

Run: ``python benchmarks/bench_gpu.py`` or ``femplastic bench gpu``; ``--backend jax --smoke``
checks the script on a CPU (L = 16, 32; numbers meaningless there).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

import femplastic as fp

DEFAULT_SPANS = {128: 0.1, 256: 0.05, 512: 0.03, 1024: 0.015}
_ARRAYS = ("stress", "prestress", "eps_pl", "theta", "tauc", "nv", "selfres")


def _state_from(path: str, L: int) -> fp.State:
    p = fp.ModelParams(L=L, T=0.0)
    model = fp.build_model(p)
    with np.load(path) as z:
        arrs = [np.array(z[k]) for k in _ARRAYS]
    return fp.State(model, *arrs)


def _numba_worker(path: str, L: int, seed: int, span: float, budget: float
                  ) -> tuple[int, float, float]:
    """Numba AQS from the saved stationary state for ``budget`` seconds (one process)."""
    st = _state_from(path, L)
    p = st.model.params
    fp.aqs(st, p, np.random.default_rng(seed), gamma_end=2e-4, dgamma=1e-4)  # JIT warm-up
    return _numba_timed(st, p, seed, span, budget)


def _numba_timed(st: fp.State, p: fp.ModelParams, seed: int, span: float, budget: float
                 ) -> tuple[int, float, float]:
    t0 = time.perf_counter()
    deadline = t0 + budget
    run = fp.aqs(st, p, np.random.default_rng(seed), gamma_end=span, dgamma=1e-4,
                 stop_when=lambda g, a, b: time.perf_counter() > deadline)
    wall = time.perf_counter() - t0
    return run.state.n_events - st.n_events, wall, float(run.gamma[-1])


def _parse_spans(text: str | None, sizes: list[int]) -> dict[int, float]:
    spans = {L: DEFAULT_SPANS.get(L, 0.02) for L in sizes}
    for item in (text.split(",") if text else []):
        L, _, v = item.partition("=")
        spans[int(L)] = float(v)
    for L, v in spans.items():
        if not v > 0:
            raise ValueError(f"--span for L={L} must be > 0, got {v}")
    return spans


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 256, 128],
                    help="grid sides, measured in this order (the targets L = 512, 1024 first)")
    ap.add_argument("--span", default=None,
                    help="timed stationary strain per L, e.g. 512=0.03,1024=0.015")
    ap.add_argument("--pre", type=float, default=0.1,
                    help="pre-shear strain (model C from a T = 0 quench is stationary by ~0.08)")
    ap.add_argument("--backend", default="gpu", choices=["gpu", "jax"])
    ap.add_argument("--cpu-budget", type=float, default=15.0,
                    help="seconds of numba (one thread) per L")
    ap.add_argument("--threads-budget", type=float, default=15.0,
                    help="seconds of numba on all cores per L (0: skip)")
    ap.add_argument("--deadline", type=float, default=450.0,
                    help="skip measurements that would start after this many seconds")
    ap.add_argument("--min-left", type=float, default=60.0,
                    help="start a new L only with this many seconds left before --deadline")
    ap.add_argument("--smoke", action="store_true", help="L = 16, 32, tiny spans (CPU check)")
    args = ap.parse_args(argv)
    if args.smoke:
        args.sizes, args.pre = [16, 32], 0.02
        args.cpu_budget, args.threads_budget = 2.0, 2.0
        spans = {16: 0.02, 32: 0.01}
    else:
        spans = _parse_spans(args.span, args.sizes)
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # spawned workers import us
    t_start = time.perf_counter()

    def left() -> float:
        return args.deadline - (time.perf_counter() - t_start)

    import jax
    import numba

    from femplastic.weakplane.gpu.driver import aqs_gpu
    from femplastic.weakplane.gpu.runtime import device_name, select_device

    dev = select_device(args.backend)
    ncpu = os.cpu_count() or 1
    print(f"device: {device_name(dev)} (jax {jax.__version__}); numba {numba.__version__}, "
          f"{ncpu} CPU cores; model C (N=36, k=2.18, lam=2.05, chi=2.25), dgamma 1e-4",
          flush=True)
    warm = fp.ModelParams(L=8, T=0.0)
    st8 = fp.quench(warm, np.random.default_rng(0))
    fp.aqs(st8, warm, np.random.default_rng(0), gamma_end=0.01)  # numba JIT warm-up
    rows = []
    tmp = tempfile.mkdtemp(prefix="femplastic_bench_gpu_")
    for L in args.sizes:
        if left() <= args.min_left:
            print(f"L={L}: skipped (deadline)", flush=True)
            continue
        p = fp.ModelParams(L=L, T=0.0)
        rng = np.random.default_rng(L)
        t0 = time.perf_counter()
        st = fp.quench(p, rng)
        t_q = time.perf_counter() - t0
        t0 = time.perf_counter()
        aqs_gpu(st, p, np.random.default_rng(1), gamma_end=2e-3, backend=args.backend)
        t_c = time.perf_counter() - t0
        t0 = time.perf_counter()
        pre = aqs_gpu(st, p, rng, gamma_end=args.pre, backend=args.backend)
        t_p = time.perf_counter() - t0
        ev_p = pre.state.n_events - st.n_events
        st = pre.state
        print(f"L={L}: quench {t_q:.1f} s, compile+first call {t_c:.1f} s, pre-shear 0 -> "
              f"{args.pre} in {t_p:.1f} s ({ev_p} events, {ev_p / t_p:,.0f} events/s); "
              f"stress {pre.stress[-1]:.3f}", flush=True)
        span = spans[L]
        info: dict = {}
        t0 = time.perf_counter()
        run = aqs_gpu(st, p, rng, gamma_end=span, backend=args.backend, info=info)
        t_g = time.perf_counter() - t0
        ev = run.state.n_events - st.n_events
        nav = int((run.avalanche_size > 0).sum())
        it = info["iterations"]
        row = {"L": L, "ev_per_strain": ev / span, "gpu_eps": ev / t_g, "gpu_spu": t_g / span}
        print(f"  {args.backend}: {span} strain in {t_g:.2f} s: {ev} events "
              f"({ev / span:.3g}/strain), {nav} avalanches, {it} loop iterations "
              f"({1e6 * t_g / max(it, 1):.0f} us each); {ev / t_g:,.0f} events/s, "
              f"{t_g / span:.1f} s per unit strain", flush=True)
        if left() > args.cpu_budget:
            n1, w1, g1 = _numba_timed(st, p, 7, span, args.cpu_budget)
            row.update(cpu1_eps=n1 / w1, cpu1_spu=w1 / max(g1, 1e-12))
            print(f"  numba 1 thread: {g1:.4f} strain in {w1:.1f} s, {n1} events, "
                  f"{n1 / w1:,.0f} events/s (~{w1 / max(g1, 1e-12):,.0f} s per unit strain); "
                  f"backend / numba = {(ev / t_g) / (n1 / w1):.1f}x", flush=True)
        else:
            print("  numba 1 thread: skipped (deadline)", flush=True)
        if args.threads_budget > 0 and left() > args.threads_budget + 30:
            path = os.path.join(tmp, f"state_{L}.npz")
            np.savez(path, **{k: getattr(st, k) for k in _ARRAYS})
            t0 = time.perf_counter()
            # by reference to the importable module (this file may run as __main__ or be
            # loaded by ``femplastic bench`` under another name): spawned workers import it
            worker = importlib.import_module("bench_gpu")._numba_worker
            with ProcessPoolExecutor(ncpu, mp_context=get_context("spawn")) as ex:
                futs = [ex.submit(worker, path, L, 100 + i, span, args.threads_budget)
                        for i in range(ncpu)]
                res = [f.result() for f in futs]
            os.remove(path)
            eps = sum(n / w for n, w, _ in res)
            row["cpuN_eps"] = eps
            print(f"  numba, {ncpu} processes (one realisation each): {eps:,.0f} events/s "
                  f"together ({time.perf_counter() - t0:.0f} s with start-up); "
                  f"backend / numba all cores = {(ev / t_g) / eps:.1f}x", flush=True)
        else:
            print("  numba all cores: skipped (deadline or --threads-budget 0)", flush=True)
        rows.append(row)
    print(f"\nsummary ({device_name(dev)}), model C stationary, seconds per unit strain:")
    print(f"{'L':>5} {'events/strain':>14} {'backend ev/s':>13} {'s/strain':>9} "
          f"{'numba1 ev/s':>12} {'ratio1':>7} {'numbaN ev/s':>12} {'ratioN':>7}")
    for r in sorted(rows, key=lambda r: r["L"]):
        c1 = r.get("cpu1_eps", np.nan)
        cN = r.get("cpuN_eps", np.nan)
        print(f"{r['L']:>5} {r['ev_per_strain']:>14.3g} {r['gpu_eps']:>13,.0f} "
              f"{r['gpu_spu']:>9.1f} {c1:>12,.0f} {r['gpu_eps'] / c1:>7.1f} "
              f"{cN:>12,.0f} {r['gpu_eps'] / cN:>7.1f}", flush=True)
    print(f"total {time.perf_counter() - t_start:.0f} s", flush=True)


if __name__ == "__main__":
    main()

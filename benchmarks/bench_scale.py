"""Benchmark of the model at large L: quench time, AQS events/s, per-event cost, threads, memory.

First model C at L = 15 (the calibration size): AQS gamma 0 -> 2 with the compiled loop
against the per-avalanche Python loop over the same compiled parts (the structure of the 0.1
driver, still used with ``stop_when``), same trajectories. Then for each grid side ``L``
(model C, N = 36): the KMC quench time (exact O(n) selection; at the smallest size also the
reference O(n N) scan, ``selection="scan"``, as the in-run baseline), then AQS from the
quenched state over a short strain span, once on all threads with the threaded kernels forced
on (``threads.grain(1)``, every chunk threaded; by default each region decides from its size
and the run measures which is faster) and once on one
thread (the two trajectories are compared bit for bit), the per-event cost, the cost of one
folded single-event stress update measured in the same run (median of many calls on the same
state) and their ratio, and the peak resident memory so far. Prints as it goes.

Run: ``femplastic bench scale`` (``--sizes 32 64 --quench-max 128`` to shorten; quenches
above ``--quench-max`` start AQS from a ``T = 0`` state instead, which is said).
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np

import femplastic as fp
from femplastic import threads

_SPANS = {15: 2.0, 32: 0.5, 64: 0.25, 128: 0.08, 256: 0.02}


class _Always(threads.Tuner):
    """Every chunk threaded (no measuring): the threaded forms' own speed."""

    @property
    def par(self) -> int:
        return self.grain


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _update_cost(st, repeats: int = 300) -> float:
    """Median seconds of one folded single-event update, ``repeats`` events per compiled call.

    The events go through :func:`~femplastic.fe.propagators.kernels.shifted_add_many` on a
    copy of ``st.stress`` (no Python dispatch per event), at spread source elements.
    """
    from femplastic.fe.propagators.kernels import shifted_add_many

    _, K, L = st.model.propagator.numba_form()
    s = st.stress.copy().reshape(-1)
    elems = np.random.default_rng(0).integers(0, st.n_elem, repeats).astype(np.int64)
    deps = np.tile([-0.5e-9, 0.5e-9, 1e-9], (repeats, 1))
    shifted_add_many(s, K, L, elems, deps)
    ts = []
    for _ in range(7):
        t0 = time.perf_counter()
        shifted_add_many(s, K, L, elems, deps)
        ts.append((time.perf_counter() - t0) / repeats)
    return float(np.median(ts))


def _aqs(st, p, gamma, seed, python_loop=False):
    t0 = time.perf_counter()
    run = fp.aqs(st, p, np.random.default_rng(seed), gamma_end=gamma, dgamma=1e-4,
                 stop_when=(lambda g, a, b: False) if python_loop else None)
    return time.perf_counter() - t0, run


def _model_c_15(repeats: int = 5) -> None:
    """Model C, L = 15, gamma 0 -> 2: compiled loop vs per-avalanche Python loop."""
    p = fp.ModelParams()
    tc, tp, ev, same = [], [], 0, True
    for seed in range(repeats):
        st = fp.quench(p, np.random.default_rng(seed))
        a, ra = _aqs(st, p, 2.0, 100 + seed)
        b, rb = _aqs(st, p, 2.0, 100 + seed, python_loop=True)
        tc.append(a)
        tp.append(b)
        ev += ra.state.n_events
        same = same and np.array_equal(ra.stress, rb.stress) and np.array_equal(
            ra.state.stress, rb.state.stress)
    print(f"model C L=15 AQS gamma 0->2 ({repeats} realisations, median): compiled loop "
          f"{np.median(tc):.3f} s, per-avalanche Python loop {np.median(tp):.3f} s "
          f"({np.median(tp) / np.median(tc):.1f}x); {ev / sum(tc):,.0f} events/s; same "
          f"trajectories: {'yes' if same else 'NO'}", flush=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[32, 64, 128, 256])
    ap.add_argument("--quench-max", type=int, default=128,
                    help="largest L quenched by KMC (larger: T = 0 start)")
    ap.add_argument("--gamma", type=float, nargs="+", default=None,
                    help="AQS strain span per size (default: 0.5, 0.25, 0.08, 0.02 ...)")
    args = ap.parse_args(argv)
    all_threads = threads.set_threads(os.cpu_count() or 1)
    print(f"bench scale: {os.cpu_count()} CPUs, numba threads {all_threads}; "
          f"load average {os.getloadavg()[0]:.1f} (shared machine: absolute times vary)")
    # warm-up (JIT): every kernel on a small grid, serial and threaded forms
    p8 = fp.ModelParams(L=8, N=12)
    fp.aqs(fp.quench(p8, np.random.default_rng(0)), p8, np.random.default_rng(0),
           gamma_end=0.02, dgamma=1e-3)
    fp.quench(p8, np.random.default_rng(0), selection="scan", max_events=16)
    p8 = fp.ModelParams(L=8, N=12, T=0.0)
    threads.Tuner = _Always  # every chunk threaded
    threads.grain(1)  # the threaded forms, compiled here and timed below
    fp.aqs(fp.quench(p8, np.random.default_rng(0)), p8, np.random.default_rng(0),
           gamma_end=0.02, dgamma=1e-3)
    threads.grain(threads.GRAIN)
    fp.aqs(fp.quench(p8, np.random.default_rng(0)), p8, np.random.default_rng(0),
           gamma_end=0.02, dgamma=1e-3, stop_when=lambda g, a, b: False)
    threads.set_threads(1)  # the calibration size runs serially (femplastic run's default)
    _model_c_15()
    threads.set_threads(all_threads)
    print(f"{'L':>4} {'quench s':>9} {'thermal':>8} {'AQS ev/s':>10} {'us/ev':>7} "
          f"{'upd us':>7} {'ratio':>6} {'all-thr ev/s':>12} {'speed-up':>8} {'same':>5} "
          f"{'peak MiB':>9}")
    for i, L in enumerate(args.sizes):
        gamma = args.gamma[i] if args.gamma else _SPANS.get(L, 0.02)
        p = fp.ModelParams(L=L)
        note = ""
        threads.set_threads(1)  # quench and the 1-thread AQS
        if L <= args.quench_max:
            t0 = time.perf_counter()
            st, info = fp.quench(p, np.random.default_rng(L), return_info=True)
            tq = time.perf_counter() - t0
            nth = info.n_thermal
            if i == 0:
                t0 = time.perf_counter()
                fp.quench(p, np.random.default_rng(L), selection="scan")
                ts = time.perf_counter() - t0
                note = f"  (reference O(nN) scan quench at L={L}: {ts:.2f} s, " \
                       f"{ts / tq:.1f}x slower)"
        else:
            st = fp.quench(fp.ModelParams(L=L, T=0.0), np.random.default_rng(L))
            st = fp.aqs(st, None, np.random.default_rng(1), gamma_end=0.02, dgamma=1e-4).state
            tq, nth = float("nan"), 0
            note = "  (no KMC quench above --quench-max: AQS from a T = 0 state sheared 0.02)"
        upd = _update_cost(st)
        t1, r1 = _aqs(st, p if L <= args.quench_max else None, gamma, 7)
        threads.set_threads(all_threads)
        threads.grain(1)  # the threaded kernels on all threads
        ta, ra = _aqs(st, p if L <= args.quench_max else None, gamma, 7)
        threads.grain(threads.GRAIN)
        ev = r1.state.n_events - st.n_events  # this run's events
        same = all(np.array_equal(getattr(ra, k), getattr(r1, k))
                   for k in ("stress", "stress_before", "avalanche_size", "plastic"))
        same = same and np.array_equal(ra.state.stress, r1.state.stress)
        per = t1 / max(ev, 1)
        print(f"{L:>4} {tq:>9.2f} {nth:>8} {ev / t1:>10,.0f} {per * 1e6:>7.1f} "
              f"{upd * 1e6:>7.1f} {per / upd:>6.2f} {ev / ta:>12,.0f} {t1 / ta:>8.2f} "
              f"{'yes' if same else 'NO':>5} {_peak_mib():>9.0f}{note}", flush=True)
    print("columns: AQS over gamma spans " + ", ".join(
        f"L={L}: {args.gamma[i] if args.gamma else _SPANS.get(L, 0.02)}"
        for i, L in enumerate(args.sizes))
        + "; quench, AQS ev/s and us/ev on one thread; upd us = one folded single-event update "
        "(same run, compiled loop, no dispatch); ratio = us/ev / upd; "
        "speed-up = 1-thread time / all-threads time (threaded kernels forced on for the "
        "all-threads run; by default they start at L = 256); "
        "same = 1- and all-thread trajectories bitwise equal")


if __name__ == "__main__":
    main()

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

``--reference PATH`` runs instead a side-by-side comparison with an independent JAX
implementation of the same model C rules (a standalone script defining ``AQSSim``, e.g.
``../shared/bench/jax_aqs_reference.py``), on whatever device JAX has: for each L, both from a
T = 0 start (fresh systems, zero stress) sheared over the same strain (``--ref-span``; default
L = 64: 0.3, 128: 0.15 ...), ``--reps`` alternating runs each (A B A B ...) after a JIT
warm-up of both, then the medians of events/s and their ratio (backend / reference), with the
loop iterations and the time per iteration. ``--extra-tuning JSON`` adds the backend with
those compaction settings (:data:`femplastic.weakplane.gpu.driver.TUNING`) to the
alternation, e.g. ``'{"blocked": true, "n_check": 1024, "n_renew": 1024}'``.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

import femplastic as fp

DEFAULT_SPANS = {128: 0.1, 256: 0.05, 512: 0.03, 1024: 0.015}
#: Strain spans of the reference comparison (from gamma = 0) per L.
REF_SPANS = {16: 0.2, 32: 0.2, 64: 0.3, 128: 0.15, 256: 0.1, 512: 0.05, 1024: 0.025}
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


def _parse_spans(text: str | None, sizes: list[int],
                 defaults: dict[int, float] = DEFAULT_SPANS) -> dict[int, float]:
    spans = {L: defaults.get(L, 0.02) for L in sizes}
    for item in (text.split(",") if text else []):
        L, _, v = item.partition("=")
        spans[int(L)] = float(v)
    for L, v in spans.items():
        if not v > 0:
            raise ValueError(f"--span for L={L} must be > 0, got {v}")
    return spans


def _load_reference(path: str):  # noqa: ANN202 - a module
    """The reference script as a module (it must define ``AQSSim``, ``prng_key``, ``DGAMMA``)."""
    if not os.path.isfile(path):
        raise ValueError(f"--reference: no file {path!r}")
    spec = importlib.util.spec_from_file_location("jax_aqs_reference", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for name in ("AQSSim", "prng_key", "DGAMMA"):
        if not hasattr(mod, name):
            raise ValueError(f"--reference {path!r} defines no {name}")
    return mod


def _reference_comparison(args: argparse.Namespace, left) -> None:  # noqa: ANN001
    """Backend vs the reference implementation, alternating runs, medians (module doc)."""
    import jax

    from femplastic.weakplane.gpu.driver import aqs_gpu
    from femplastic.weakplane.gpu.runtime import device_name, select_device

    ref = _load_reference(args.reference)
    dev = select_device(args.backend)
    if args.reps < 1:
        raise ValueError(f"--reps must be >= 1, got {args.reps}")
    forms = {"femplastic": None}
    if args.extra_tuning:
        forms["femplastic[tuned]"] = json.loads(args.extra_tuning)
    sizes = args.sizes or ([64, 128] if dev.platform == "cpu" else [512, 1024, 256])
    spans = _parse_spans(args.ref_span, sizes, REF_SPANS)
    dg = float(ref.DGAMMA)
    print(f"device: {device_name(dev)} (jax {jax.__version__}), JAX default backend "
          f"{jax.default_backend()}; reference {args.reference}; model C from T = 0, dgamma "
          f"{dg:g}; {args.reps} alternating runs per code; load average "
          f"{os.getloadavg()[0]:.2f}", flush=True)
    rows = []
    for L in sizes:
        if left() <= args.min_left:
            print(f"L={L}: skipped (deadline)", flush=True)
            continue
        span = spans[L]
        p = fp.ModelParams(L=L, T=0.0)
        st = fp.quench(p, np.random.default_rng(L))  # T = 0: fresh systems, athermal
        t0 = time.perf_counter()
        for tune in forms.values():
            aqs_gpu(st, p, np.random.default_rng(1), gamma_end=2e-3, backend=args.backend,
                    tuning=tune)
        t_fp = time.perf_counter() - t0
        t0 = time.perf_counter()
        sim = ref.AQSSim(L)
        sim.run(sim.init_state(seed=999), ref.prng_key(jax, 999), 20)
        t_ref = time.perf_counter() - t0
        print(f"L={L}: strain 0 -> {span}; compile + warm-up: femplastic {t_fp:.1f} s, "
              f"reference {t_ref:.1f} s", flush=True)
        res: dict[str, list[tuple[float, int, float]]] = {k: [] for k in [*forms, "reference"]}
        for r in range(args.reps):
            if left() <= 0:
                print("  (deadline: fewer runs)", flush=True)
                break
            for name, tune in forms.items():
                info: dict = {}
                t0 = time.perf_counter()
                run = aqs_gpu(st, p, np.random.default_rng(100 + r), gamma_end=span,
                              backend=args.backend, tuning=tune, info=info)
                w = time.perf_counter() - t0
                ev = run.state.n_events - st.n_events
                res[name].append((ev / w, info["iterations"], w))
                print(f"  {name}: {ev} events in {w:.2f} s, {ev / w:,.0f} events/s, "
                      f"{info['iterations']} iterations ({1e6 * w / info['iterations']:.0f} "
                      f"us each); load {os.getloadavg()[0]:.2f}", flush=True)
            s0 = sim.init_state(seed=r)
            jax.block_until_ready(s0["tauc"])
            _, _, tot = sim.run(s0, ref.prng_key(jax, r + 1), int(round(span / dg)))
            w = tot["wall"]
            it = int(dict(zip(sim.hist_names, np.asarray(tot["hist"]).tolist(),
                              strict=True)).get("iterations", 0))
            res["reference"].append((tot["events"] / w, it, w))
            print(f"  reference: {tot['events']} events in {w:.2f} s, "
                  f"{tot['events'] / w:,.0f} events/s, {it} iterations "
                  f"({1e6 * w / max(it, 1):.0f} us each); load {os.getloadavg()[0]:.2f}",
                  flush=True)
        if res["reference"]:
            rows.append((L, span, {k: v for k, v in res.items() if v}))
    print(f"\nsummary ({device_name(dev)}), medians of alternating runs, model C from T = 0:")
    head = f"{'L':>5} {'strain':>7} {'code':>18} {'runs':>4} {'events/s':>10} {'us/iter':>8} "
    print(head + f"{'ratio':>6}")
    for L, span, res in rows:
        ref_eps = statistics.median(e for e, _, _ in res["reference"])
        for name, v in res.items():
            eps = statistics.median(e for e, _, _ in v)
            usi = statistics.median(1e6 * w / max(it, 1) for _, it, w in v)
            ratio = f"{eps / ref_eps:6.2f}" if name != "reference" else f"{'':6}"
            print(f"{L:>5} {span:>7g} {name:>18} {len(v):>4} {eps:>10,.0f} {usi:>8.0f} {ratio}",
                  flush=True)
    print(f"load average at the end {os.getloadavg()[0]:.2f}", flush=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=None,
                    help="grid sides, measured in this order (default 512 1024 256 128, the "
                         "targets first; with --reference 64 128 on a CPU, else 512 1024 256)")
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
    ap.add_argument("--reference", default=None, metavar="PATH",
                    help="compare with this reference implementation instead (module doc)")
    ap.add_argument("--reps", type=int, default=3,
                    help="alternating runs per code and L of the reference comparison")
    ap.add_argument("--ref-span", default=None,
                    help="strain per L of the reference comparison, e.g. 64=0.3,128=0.15")
    ap.add_argument("--extra-tuning", default=None, metavar="JSON",
                    help="also run the backend with these compaction settings (reference "
                         "comparison)")
    args = ap.parse_args(argv)
    if args.reference is not None:
        if args.smoke:
            args.sizes = args.sizes or [16, 32]
            args.ref_span = args.ref_span or "16=0.02,32=0.01"
            args.reps = min(args.reps, 2)
        t_ref = time.perf_counter()
        _reference_comparison(args, lambda: args.deadline - (time.perf_counter() - t_ref))
        print(f"total {time.perf_counter() - t_ref:.0f} s", flush=True)
        return
    args.sizes = args.sizes or [512, 1024, 256, 128]
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

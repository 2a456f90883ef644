"""Threads against one thread: each threading layer, transient and stationary, idle and busy.

Model C (``N = 36``) AQS runs at each ``L`` of ``--sizes`` (default 128 256 512), in the
*transient* (from the ``T = 0`` start ``fp.quench(ModelParams(L=L, T=0), rng)``, as a user
starts a large run) and in the *stationary* state (that start sheared to ``--prep-gamma``,
0.2, once, serially; the states are kept in ``--cache`` for later runs; by default only for
``L <= --stationary-max``, 256, since preparing L = 512 takes ~10 min on 2 cores). Each
configuration runs the same span from the same state with the same seed, in this order,
``--repeats`` times (best time kept):

* ``default``: the library default (no thread count set: one thread);
* ``1 thread``: ``threads.set_threads(1)``, the baseline of every ratio;
* ``2 policy``: ``threads.set_threads(2)``, femplastic's policy (each region from its work,
  the AQS loop's measured choice; threads on the OpenMP layer only, serial on any other);
* ``2 forced``: 2 threads with every region threaded in every chunk (``threads.grain(1)``,
  no measuring): what the layer itself costs or gains; on a span 8x shorter (it can be
  50x slower than one thread), against one thread on that span.

Each layer runs in its own process (numba's layer is chosen once per process): ``omp``,
``workqueue`` and ``tbb`` when importable; all of it once on an idle machine and once with a
spinning process beside the run (``busy``). Ratios are one thread's time over the
configuration's (> 1: faster), measured in the same process; ``same`` says whether the
records and final stress equal the one-thread run's bit for bit.

Run: ``femplastic bench threads`` (a few minutes; the first run also prepares the stationary
states), ``--quick`` (L = 128 256, the OpenMP layer, one repeat, shorter spans),
``--sizes 256 --stationary-max 512``, ``--layers omp``, ``--loads idle``.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

#: Strain spans of one timed run: (transient from T = 0, stationary), per L.
SPANS = {128: (0.06, 0.03), 256: (0.03, 0.008), 512: (0.012, 0.002)}
CONFIGS = ("default", "1 thread", "2 policy", "2 forced")
#: The forced configuration runs this much shorter a span (against one thread on the same).
FORCED_SHORTER = 8


def _span(L: int, phase: str, quick: bool) -> float:
    t, s = SPANS.get(L, (0.004 * (512 / L) ** 2, 0.0015 * (512 / L) ** 2))
    return (t if phase == "transient" else s) * (0.5 if quick else 1.0)


def _layers() -> list[str]:
    """numba threading layers whose library loads here."""
    import importlib

    out = []
    for name, mod in (("omp", "numba.np.ufunc.omppool"), ("workqueue", "numba.np.ufunc.workqueue"),
                      ("tbb", "numba.np.ufunc.tbbpool")):
        try:
            importlib.import_module(mod)
            out.append(name)
        except (ImportError, OSError):
            pass
    return out


def _cache_dir(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "femplastic" / "bench_threads"


def _prepare(L: int, phase: str, prep_gamma: float, cache: Path) -> Path:
    """Path of the pickled starting state (made here, serially, when absent)."""
    import numpy as np

    import femplastic as fp
    from femplastic import threads

    path = cache / (f"L{L}_T0.pkl" if phase == "transient" else f"L{L}_g{prep_gamma:g}.pkl")
    if path.exists():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    threads.set_threads(1)
    t0 = time.perf_counter()
    st = fp.quench(fp.ModelParams(L=L, T=0.0), np.random.default_rng(L))
    if phase == "stationary":
        st = fp.aqs(st, None, np.random.default_rng(L + 1), gamma_end=prep_gamma).state
        print(f"  prepared the stationary state at L = {L} (gamma 0 -> {prep_gamma:g}, "
              f"{st.n_events:,} events) in {time.perf_counter() - t0:.0f} s -> {path}")
    tmp = path.with_suffix(".part")
    tmp.write_bytes(pickle.dumps(st))
    tmp.replace(path)
    return path


class _Always:
    """Stand-in for :class:`femplastic.threads.Tuner`: every chunk threaded."""

    def __init__(self, par: int, *args: object, **kw: object) -> None:
        self.par = int(par)

    def record(self, work: float, seconds: float) -> bool:
        return False


def _worker(plan: dict) -> None:
    """Time every configuration of ``plan`` in this process; prints one JSON line each."""
    import numba
    import numpy as np

    import femplastic as fp
    from femplastic import threads

    layer = plan["layer"]
    tuner = threads.Tuner
    # warm-up: load (or compile) the serial and threaded kernels before any timing
    p8 = fp.ModelParams(L=8, N=12, T=0.0)
    st8 = fp.quench(p8, np.random.default_rng(0))
    threads.LAYERS = (layer,)
    for g in (threads.GRAIN, 1):
        threads.set_threads(2 if g == 1 else 1)
        threads.grain(g)
        threads.Tuner = _Always
        fp.aqs(st8, None, np.random.default_rng(0), gamma_end=0.02, dgamma=1e-3)
    threads.Tuner = tuner
    keys = ("stress", "stress_before", "avalanche_size", "plastic")
    for case in plan["cases"]:
        st0 = pickle.loads(Path(case["state"]).read_bytes())
        configs = [c for c in CONFIGS if c != "default" or layer == threads.LAYER]
        best: dict[str, float] = {}
        ref = ref_short = None
        same: dict[str, bool] = {}
        events = 0
        threads.set_threads(1)  # untimed: first-call costs of this state (load response ...)
        fp.aqs(st0.copy(), None, np.random.default_rng(7), gamma_end=case["span"] / 20)
        for rep in range(plan["repeats"]):
            # 1 thread first (the reference), the others in an order turning with rep
            others = [c for c in configs if c != "1 thread"]
            k = rep % len(others)
            order = ["1 thread", *others[k:], *others[:k]]
            if rep == 0:
                order.insert(order.index("2 forced"), "1 thread short")
            for cfg in order:
                threads._count = None
                threads.Tuner = tuner
                threads.grain(threads.GRAIN)
                threads.LAYERS = (threads.LAYER,)  # femplastic's policy: threads on OpenMP
                if cfg.startswith("1 thread"):
                    threads.set_threads(1)
                elif cfg != "default":
                    threads.set_threads(2)
                if cfg == "2 forced":
                    threads.LAYERS = (layer,)  # this layer's threads, whatever it is
                    threads.Tuner = _Always
                    threads.grain(1)
                st = st0.copy()
                t0 = time.perf_counter()
                short = cfg in ("2 forced", "1 thread short")  # forced can be 50x slower
                run = fp.aqs(st, None, np.random.default_rng(7),
                             gamma_end=case["span"] / (FORCED_SHORTER if short else 1))
                dt = time.perf_counter() - t0
                best[cfg] = min(best.get(cfg, np.inf), dt)
                if cfg == "1 thread short":
                    ref_short = run
                    continue
                if cfg == "1 thread":
                    ref = run
                    events = run.state.n_events - st0.n_events
                else:
                    r0 = ref_short if short else ref
                    same[cfg] = same.get(cfg, True) and all(
                        np.array_equal(getattr(run, k), getattr(r0, k)) for k in keys
                    ) and np.array_equal(run.state.stress, r0.state.stress)
        threads.Tuner = tuner
        print("RESULT " + json.dumps({
            "layer": numba.threading_layer() if layer == "omp" else layer, "L": case["L"],
            "phase": case["phase"], "events": int(events), "times": best, "same": same}),
            flush=True)


def _run_layer(layer: str, plan: dict, load: str) -> list[dict]:
    import femplastic as fp

    env = dict(os.environ)
    root = str(Path(fp.__file__).resolve().parents[1])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("FEMPLASTIC_THREADS", None)  # "default" must be the library's own default
    if layer != "omp":
        env["NUMBA_THREADING_LAYER"] = layer
    else:
        env.pop("NUMBA_THREADING_LAYER", None)  # femplastic's own choice
    plan = dict(plan, layer=layer)
    proc = subprocess.Popen([sys.executable, __file__, "--worker", json.dumps(plan)], env=env,
                            stdout=subprocess.PIPE, text=True)
    out = []
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            if line.startswith("RESULT "):
                out.append(json.loads(line[7:]))
                _print(out[-1:], load)
            elif line.strip():
                print("  " + line.rstrip())
    finally:
        proc.wait()
    if proc.returncode != 0:
        print(f"  layer {layer}: worker exited with status {proc.returncode}")
    return out


def _print(rows: list[dict], load: str) -> None:
    for r in rows:
        t = r["times"]
        t1 = t["1 thread"]
        cells = []
        for c in CONFIGS[0:1] + CONFIGS[2:]:
            base = t["1 thread short"] if c == "2 forced" else t1
            cells.append(f"{base / t[c]:9.2f}x" if c in t else f"{'-':>10}")
        same = "yes" if all(r["same"].values()) else "NO"
        print(f"{load:5s} {r['layer']:9s} {r['L']:4d} {r['phase']:10s} {r['events']:8,d} "
              f"{t1:8.2f} {r['events'] / t1:9,.0f} {''.join(cells)} {same:>5s}")


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=None)
    ap.add_argument("--stationary-max", type=int, default=256,
                    help="largest L measured in the stationary state (default 256)")
    ap.add_argument("--prep-gamma", type=float, default=0.2,
                    help="strain of the stationary states (default 0.2)")
    ap.add_argument("--layers", nargs="+", default=None,
                    help="threading layers (default: every one that loads)")
    ap.add_argument("--loads", nargs="+", default=["idle", "busy"], choices=["idle", "busy"])
    ap.add_argument("--repeats", type=int, default=None, help="runs per configuration")
    ap.add_argument("--cache", default=None, help="folder of the prepared states")
    ap.add_argument("--quick", action="store_true",
                    help="L = 128 256, the OpenMP layer, one repeat, half spans")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker is not None:
        _worker(json.loads(args.worker))
        return
    sizes = args.sizes or ([128, 256] if args.quick else [128, 256, 512])
    repeats = args.repeats or (1 if args.quick else 2)
    avail = _layers()
    layers = args.layers or (["omp"] if args.quick else avail)
    for lay in layers:
        if lay not in avail:
            raise ValueError(f"threading layer {lay!r} does not load here (available: {avail})")
    cache = _cache_dir(args.cache)
    print(f"bench threads: {os.cpu_count()} CPUs, layers {layers} (loadable: {avail}), "
          f"load average {os.getloadavg()[0]:.2f} before the runs; states in {cache}")
    cases = []
    for L in sizes:
        for phase in ("transient", "stationary"):
            if phase == "stationary" and L > args.stationary_max:
                print(f"  L = {L} stationary: skipped (--stationary-max {args.stationary_max})")
                continue
            path = _prepare(L, phase, args.prep_gamma, cache)
            cases.append({"L": L, "phase": phase, "state": str(path),
                          "span": _span(L, phase, args.quick)})
    plan = {"cases": cases, "repeats": repeats}
    print(f"{'load':5s} {'layer':9s} {'L':>4s} {'phase':10s} {'events':>8s} {'1 thr s':>8s} "
          f"{'events/s':>9s} {'default':>10s}{'2 policy':>10s}{'2 forced':>10s} {'same':>5s}"
          "   (ratios: 1-thread time / time)")
    rows: dict[str, list[dict]] = {}
    for load in args.loads:
        busy = None
        if load == "busy":
            busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            time.sleep(0.5)
        try:
            for lay in layers:
                got = _run_layer(lay, plan, load)
                rows.setdefault(load, []).extend(got)
        finally:
            if busy is not None:
                busy.kill()
                busy.wait()
        print(f"      load average {os.getloadavg()[0]:.2f} after the {load} runs")
    allr = [(load, r) for load, rs in rows.items() for r in rs]
    if allr:
        dflt = [r["times"]["1 thread"] / r["times"]["default"] for _, r in allr
                if "default" in r["times"]]
        pol = [r["times"]["1 thread"] / r["times"]["2 policy"] for _, r in allr]
        print(f"targets: default / 1 thread worst {min(dflt, default=float('nan')):.3f}x "
              f"(>= 0.95); 2 threads (policy) worst {min(pol):.3f}x (>= 0.90); "
              "stationary L = 256 idle on omp: " + ", ".join(
                  f"{r['times']['1 thread'] / r['times']['2 policy']:.2f}x"
                  for load, r in allr if load == "idle" and r["L"] == 256
                  and r["phase"] == "stationary" and r["layer"] == "omp") + " (>= 1.3); "
              "bitwise: " + ("all same" if all(all(r["same"].values()) for _, r in allr)
                             else "DIFFERENCES"))


if __name__ == "__main__":
    main(sys.argv[1:])

"""Threads when load appears during a run: serial, threaded, and busy processes started mid-run.

One AQS run of model C (``N = 36``, stationary state of ``bench threads``: the ``T = 0``
quench sheared to ``gamma = 0.2``, kept in its cache, made here serially when absent) at
``--L`` (default 256), over ``--span`` of strain, from the same state and seed, in each of
these configurations, in this order, in one process:

* ``1 thread``: ``threads.set_threads(1)``, the baseline;
* ``2 policy``: ``threads.set_threads(2)``, femplastic's policy (the AQS chunk loop's
  :class:`~femplastic.threads.Tuner`; with ``--loop python`` the Python loop's
  :class:`~femplastic.threads.Gate`), on the machine as it is ("idle");
* ``1 thread + busy``, ``2 policy + busy``: the same with ``--busy`` spinning processes
  (``python -c "while True: pass"``, default one per CPU) started ``--busy-after`` seconds
  (default 1) into the run and stopped at its end;
* ``2 held + busy``: 2 threads kept for the whole run whatever happens (every chunk
  threaded, the Python loop's gate always open): what a driver that looked at the load once
  per call did when load appeared after its look (the gap this policy closes).

Every configuration gives events/s over the whole run and after the busy start (from the
progress callback's event counts; a threaded run is cut at ``--cap`` times the one-thread
run's time under the same load, so a held run 20x slower does not take minutes). Ratios
are against the one-thread run under the same load (``1 thread`` for the idle rows,
``1 thread + busy`` for the busy ones); > 1 is faster. ``same`` says whether the records
and final stress equal the one-thread run's bit for bit (runs cut at the cap are not
compared). The machine's ``/proc/loadavg`` is printed before and after: on a machine shared
with other jobs the "idle" rows are not idle.

With ``--variant A`` the run is variant A's (random moduli: the general propagator, from
L = 66 on its packed dense response, ``32 n^2`` bytes, 8.6 GB at L = 128, built here, which
takes minutes) in the transient from its ``T = 0`` quench.

Run: ``femplastic bench threadload`` (about 1.5 minutes at L = 256 plus, the first time,
the stationary state), ``--L 128``, ``--loop python`` (AQS with ``stop_when``: the Python
loop and its gate), ``--variant A --L 96``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import pickle
import subprocess
import sys
import threading
import time
from pathlib import Path

CONFIGS = ("1 thread", "2 policy", "1 thread + busy", "2 policy + busy", "2 held + busy")


def _bench_threads():
    """The sibling ``bench_threads`` module (its prepared states and cache)."""
    path = Path(__file__).with_name("bench_threads.py")
    spec = importlib.util.spec_from_file_location("bench_threads", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class _Stop(Exception):
    """Raised by the progress callback at the cap."""


class _Progress:
    """``progress(fraction, n_events)``: samples ``(seconds, events)``; stops at the cap."""

    wants_events = True

    def __init__(self, t0: float, cap: float, events0: int) -> None:
        self.t0, self.cap, self.events0 = t0, cap, events0
        self.samples: list[tuple[float, int]] = [(0.0, 0)]

    def __call__(self, fraction: float, n_events: int) -> None:
        t = time.perf_counter() - self.t0
        self.samples.append((t, int(n_events) - self.events0))
        if t > self.cap:
            raise _Stop


class _Busy:
    """``n`` spinning processes started ``after`` seconds from :meth:`start`."""

    def __init__(self, n: int, after: float) -> None:
        self.n, self.after = n, after
        self.procs: list[subprocess.Popen] = []
        self.started: float | None = None
        self._timer: threading.Timer | None = None

    def start(self, t0: float) -> None:
        def go() -> None:
            self.procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                          for _ in range(self.n)]
            self.started = time.perf_counter() - t0

        self._timer = threading.Timer(self.after, go)
        self._timer.start()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer.join()
        for p in self.procs:
            p.kill()
            p.wait()


def _held(threads) -> tuple[type, type]:
    """Tuner and Gate stand-ins that keep threads for the whole run."""

    class Tuner(threads.Tuner):
        @property
        def par(self) -> int:
            return self.grain

        def record(self, work: float, seconds: float) -> bool:
            return False

    class Gate(threads.Gate):
        @property
        def par(self) -> int:
            return self.grain

    return Tuner, Gate


def _run(st0, span: float, loop: str, cfg: str, busy_n: int, busy_after: float,
         cap: float) -> dict:
    import numpy as np

    import femplastic as fp
    from femplastic import threads

    tuner, gate = threads.Tuner, threads.Gate
    threads.set_threads(1 if cfg.startswith("1 thread") else 2)
    if cfg.startswith("2 held"):
        threads.Tuner, threads.Gate = _held(threads)
    busy = _Busy(busy_n, busy_after) if cfg.endswith("busy") else None
    st = st0.copy()
    t0 = time.perf_counter()
    prog = _Progress(t0, cap, st0.n_events)
    kw = {"stop_when": lambda g, sb, sa: False} if loop == "python" else {}
    run = None
    try:
        if busy is not None:
            busy.start(t0)
        run = fp.aqs(st, None, np.random.default_rng(7), gamma_end=span, progress=prog, **kw)
    except _Stop:
        pass
    finally:
        dt = time.perf_counter() - t0
        if busy is not None:
            busy.stop()
        threads.Tuner, threads.Gate = tuner, gate
        threads.set_threads(1)
    samples = prog.samples
    events = run.state.n_events - st0.n_events if run is not None else samples[-1][1]
    if run is not None:
        samples.append((dt, events))
    out = {"cfg": cfg, "events": int(events), "seconds": dt, "rate": events / dt,
           "cut": run is None, "run": run}
    if busy is not None and busy.started is not None:
        s0 = busy.started  # events/s after the busy start: from the first sample after it
        first = next(((t, e) for t, e in samples if t >= s0), None)
        if first is not None and samples[-1][0] > first[0]:
            out["after"] = (samples[-1][1] - first[1]) / (samples[-1][0] - first[0])
        out["busy_at"] = s0
    return out


def _same(a, b) -> str:
    import numpy as np

    if a is None or b is None:
        return "cut"
    keys = ("stress", "stress_before", "avalanche_size", "plastic")
    ok = all(np.array_equal(getattr(a, k), getattr(b, k)) for k in keys) and \
        np.array_equal(a.state.stress, b.state.stress)
    return "yes" if ok else "NO"


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--L", type=int, default=256)
    ap.add_argument("--span", type=float, default=None,
                    help="strain of one run (default 0.03 (256 / L)^4, at most 1: "
                    "about 6 s of one thread at any L)")
    ap.add_argument("--loop", choices=["chunks", "python"], default="chunks")
    ap.add_argument("--busy", type=int, default=os.cpu_count() or 1,
                    help="spinning processes started mid-run (default: one per CPU)")
    ap.add_argument("--busy-after", type=float, default=1.0, help="seconds (default 1)")
    ap.add_argument("--cap", type=float, default=3.0,
                    help="a threaded run is cut at this many times the one-thread run's "
                    "time under the same load (default 3)")
    ap.add_argument("--cache", default=None, help="folder of the prepared states")
    ap.add_argument("--variant", choices=["C", "A"], default="C",
                    help="C: model C, stationary (default); A: variant A from its T = 0 quench")
    args = ap.parse_args(argv)
    if args.L < 8 or args.busy < 0 or args.busy_after < 0 or args.cap <= 1:
        raise ValueError("need --L >= 8, --busy >= 0, --busy-after >= 0, --cap > 1")
    span = args.span if args.span is not None else min(0.03 * (256 / args.L) ** 4, 1.0)
    import numpy as np

    import femplastic as fp
    from femplastic import threads

    if args.variant == "A":
        from femplastic.fe.propagators.budget import packed_bytes

        print(f"variant A at L = {args.L}: the packed response needs "
              f"{packed_bytes(args.L * args.L) / 2**30:.2f} GiB (built now)")
        t_b = time.perf_counter()
        st0 = fp.quench(fp.ModelParams(L=args.L, T=0.0, variant="A"),
                        np.random.default_rng(args.L))
        print(f"  {type(st0.model.propagator).__name__} built and quenched in "
              f"{time.perf_counter() - t_b:.0f} s")
    else:
        bt = _bench_threads()
        path = bt._prepare(args.L, "stationary", 0.2, bt._cache_dir(args.cache))
        st0 = pickle.loads(Path(path).read_bytes())
    with open("/proc/loadavg") as f:
        load0 = f.read().split()
    print(f"bench threadload: model {args.variant}, L = {args.L}, span {span:g}, {args.loop} "
          f"loop, {os.cpu_count()} CPUs, {args.busy} busy processes from {args.busy_after:g} "
          f"s; /proc/loadavg before: {' '.join(load0[:4])}")
    # warm-up (untimed): serial and threaded kernels loaded, first-call costs of this state
    for t in (1, 2):
        threads.set_threads(t)
        fp.aqs(st0.copy(), None, np.random.default_rng(7), gamma_end=span / 20)
    threads.set_threads(1)
    rows: dict[str, dict] = {}
    print(f"{'configuration':18s} {'events':>8s} {'s':>7s} {'events/s':>9s} {'ratio':>7s} "
          f"{'after busy':>10s} {'ratio':>7s} {'same':>5s}")
    for cfg in CONFIGS:
        cap = np.inf if cfg.startswith("1 thread") else args.cap * rows[
            "1 thread + busy" if cfg.endswith("busy") else "1 thread"]["seconds"]
        r = _run(st0, span, args.loop, cfg, args.busy, args.busy_after, cap)
        rows[cfg] = r
        base = rows["1 thread + busy" if cfg.endswith("busy") and "1 thread + busy" in rows
                    else "1 thread"]
        ratio = r["rate"] / base["rate"]
        after = r.get("after")
        a_ratio = after / base["after"] if after and base.get("after") else None
        print(f"{cfg:18s} {r['events']:8,d} {r['seconds']:7.2f} {r['rate']:9,.0f} "
              f"{ratio:6.2f}x {after or float('nan'):10,.0f} "
              f"{(f'{a_ratio:6.2f}x' if a_ratio else '     - '):>7s} "
              f"{_same(r['run'], rows['1 thread']['run']) if cfg != '1 thread' else '':>5s}"
              + (f"  (cut at {r['seconds']:.1f} s)" if r["cut"] else ""))
    with open("/proc/loadavg") as f:
        print(f"/proc/loadavg after: {' '.join(f.read().split()[:4])}")
    pol = [rows[c]["rate"] / rows[b]["rate"] for c, b in
           (("2 policy", "1 thread"), ("2 policy + busy", "1 thread + busy"))]
    print(f"2 policy / 1 thread: idle {pol[0]:.2f}x, busy mid-run {pol[1]:.2f}x (target: "
          f">= 0.9 busy, > 1 idle where threads pay); 2 held + busy: "
          f"{rows['2 held + busy']['rate'] / rows['1 thread + busy']['rate']:.2f}x")


if __name__ == "__main__":
    main(sys.argv[1:])

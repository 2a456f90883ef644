"""Benchmark of the propagators: kernel build, single-event update, batched update.

Prints, for each L, the build time of the exact periodic kernel, the time of one
single-event shifted add, a plain memory pass over the stress array (the floor: one read and
one write of every stress value), one sparse FE solve per event (the general path), and the
ratios between them, all measured in this run.

The per-event times are measured inside a numba loop over random source elements (every
event a different shift), so the Python-to-numba dispatch (~0.3 us) is excluded from the
update and the memory pass alike, as in the drivers, which call the update from numba. The
update and the pass run interleaved, ``--repeat`` times, on the same 64-byte aligned stress
array; the ratio printed is the median of the per-round ratios (robust to other load on a
shared machine), the times the best rounds.

Columns ``slip`` (traceless increment, the case of every slip event: two folded planes) and
``dilat`` (an increment with a volumetric part: three folded planes) are the library's
update; ``unfolded`` is a reference shifted add over the full three-plane kernel without the
mirror fold (the session-1 implementation, kept here as a baseline).

Run: ``python benchmarks/bench_propagator.py`` or ``femplastic bench propagator``.
"""

from __future__ import annotations

import argparse
import time

import numba as nb
import numpy as np

from femplastic.fe.elasticity import Isotropic
from femplastic.fe.mesh import periodic_grid
from femplastic.fe.propagators import PeriodicKernel, SparsePropagator, aligned_zeros, kernels


@nb.njit(cache=True, fastmath={"contract"})
def _unfolded_add(stress, Gb, L, e, d0, d1, d2):  # pragma: no cover - compiled
    """Reference: ``stress[j] += G[j - e] @ d`` over the unfolded planes ``Gb (3, L*L*3)``."""
    ey = e // L
    ex = e - ey * L
    g0 = Gb[0]
    g1 = Gb[1]
    g2 = Gb[2]
    for jy in range(L):
        ry = jy - ey
        if ry < 0:
            ry += L
        a = 3 * (jy * L + ex)
        b = 3 * (ry * L)
        m = 3 * (L - ex)
        s, a0, a1, a2 = stress[a : a + m], g0[b : b + m], g1[b : b + m], g2[b : b + m]
        for k in range(m):
            s[k] += a0[k] * d0 + a1[k] * d1 + a2[k] * d2
        a = 3 * (jy * L)
        b = 3 * (ry * L + L - ex)
        m = 3 * ex
        s, a0, a1, a2 = stress[a : a + m], g0[b : b + m], g1[b : b + m], g2[b : b + m]
        for k in range(m):
            s[k] += a0[k] * d0 + a1[k] * d1 + a2[k] * d2


@nb.njit(cache=True)
def _run_events(which, stress, K, Gb, L, elems, d):  # pragma: no cover - compiled
    """``len(elems)`` single-event updates (0 folded, 1 unfolded) or memory passes (2)."""
    for e in elems:
        if which == 0:
            kernels.shifted_add(stress, K, L, e, d[0], d[1], d[2])
        elif which == 1:
            _unfolded_add(stress, Gb, L, e, d[0], d[1], d[2])
        else:
            kernels.memory_pass(stress, 1e-9)


def _time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _best(fn, repeat: int, number: int) -> float:
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def run(sizes=(64, 128, 256), seed: int = 0, repeat: int = 15) -> list[dict]:
    """Measure every column for each ``L`` in ``sizes``; returns one dict per size."""
    kernels._warmup()
    rng = np.random.default_rng(seed)
    mat = Isotropic()
    slip = np.array([0.3, -0.3, 0.2])  # traceless, as every slip increment
    dilat = np.array([0.4, -0.2, 0.2])  # with a volumetric part
    rows = []
    for L in sizes:
        mesh = periodic_grid(L, 1.0)
        t0 = time.perf_counter()
        pk = PeriodicKernel(mesh, mat)
        build = time.perf_counter() - t0
        Gb = np.ascontiguousarray(pk.G.transpose(2, 0, 1).reshape(3, L * L * 3))
        n = L * L
        flat = aligned_zeros(3 * n)
        elems = rng.integers(n, size=max(200, 4_000_000 // n))
        m = elems.size
        _run_events(0, flat, pk.K, Gb, 2, elems[:0], slip)  # compile outside the timing
        cases = {
            "slip": lambda: _run_events(0, flat, pk.K, Gb, L, elems, slip),
            "dilat": lambda: _run_events(0, flat, pk.K, Gb, L, elems, dilat),
            "unfolded": lambda: _run_events(1, flat, pk.K, Gb, L, elems, slip),
            "mem": lambda: _run_events(2, flat, pk.K, Gb, L, elems, slip),
        }
        times = {k: [] for k in cases}
        for _ in range(repeat):
            for k, fn in cases.items():
                times[k].append(_time(fn) / m)
        t = {k: np.asarray(v) for k, v in times.items()}
        ratio = {k: float(np.median(t[k] / t["mem"])) for k in ("slip", "dilat", "unfolded")}
        stress = flat.reshape(n, 3)
        e = int(elems[0])
        # per call from Python (numba dispatch included on both sides, as session 1 measured)
        number = max(10, 2_000_000 // n)
        py_event = _best(lambda: kernels.shifted_add(flat, pk.K, L, e, *slip), 5, number)
        py_mem = _best(lambda: kernels.memory_pass(flat, 1e-9), 5, number)
        t_batch = _best(lambda: pk.add(stress, elems[:64], np.tile(slip, (64, 1))), 3, 5)
        t0 = time.perf_counter()
        sp = SparsePropagator(mesh, mat)
        factor = time.perf_counter() - t0
        t_sparse = _best(lambda: sp.add(stress, [e], [slip]), 3, 3)
        rows.append(dict(
            L=L, build_s=build, event_s=float(t["slip"].min()), dilat_s=float(t["dilat"].min()),
            unfolded_s=float(t["unfolded"].min()), memory_pass_s=float(t["mem"].min()),
            ratio_slip=ratio["slip"], ratio_dilat=ratio["dilat"],
            ratio_unfolded=ratio["unfolded"], ratio_pycall=py_event / py_mem,
            batch64_s=t_batch, sparse_factor_s=factor,
            sparse_solve_s=t_sparse,
        ))
    return rows


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point (``femplastic bench propagator [--sizes ...]``)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    ap.add_argument("--repeat", type=int, default=15, help="interleaved rounds (default 15)")
    args = ap.parse_args(argv)
    rows = run(tuple(args.sizes), repeat=args.repeat)
    print(f"{'L':>5} {'build':>8} {'slip evt':>9} {'mem pass':>9} {'slip/mem':>8} "
          f"{'dilat/mem':>9} {'unfold/mem':>10} {'py-call':>7} {'sparse/evt':>10} "
          f"{'64 evts':>8} {'factorise':>9}")
    for r in rows:
        print(f"{r['L']:5d} {r['build_s']*1e3:6.1f}ms {r['event_s']*1e6:7.2f}us "
              f"{r['memory_pass_s']*1e6:7.2f}us {r['ratio_slip']:8.2f} {r['ratio_dilat']:9.2f} "
              f"{r['ratio_unfolded']:10.2f} {r['ratio_pycall']:7.2f} "
              f"{r['sparse_solve_s']/r['event_s']:9.0f}x "
              f"{r['batch64_s']*1e3:6.2f}ms {r['sparse_factor_s']:8.2f}s")
    print("slip/mem, dilat/mem, unfold/mem: single-event update over one pass of the stress")
    print("  array (median of interleaved rounds); slip = traceless increment (every slip event),")
    print("  dilat = with a volumetric part, unfold = reference without the mirror fold;")
    print("py-call: slip/mem with each call made from Python (numba dispatch, ~0.2 us, included")
    print("  in both; the drivers call the update from numba, so slip/mem is the figure to quote);")
    print("sparse/evt: one sparse back-substitution per event relative to the slip update;")
    print("64 evts: one batch of 64 events through PeriodicKernel.add (FFT convolution).")


if __name__ == "__main__":
    main()

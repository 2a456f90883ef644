"""Benchmark of the 3D core: Hex8 kernel build, memory, single-event kernel update.

For each ``L`` (default 16 and 32) prints the build time of the exact periodic kernel of the
``L^3`` grid (:class:`femplastic.fe.propagators.periodic3d.PeriodicKernel3D`), its peak
memory during the build (``tracemalloc``, numpy buffers included) and the bytes it keeps,
and the time of one single-event shifted add (:func:`~femplastic.fe.propagators.kernels3d.
shifted_add3d`) for a slip (traceless increment: five folded planes) and for an increment
with a volumetric part, against two baselines measured in the same run:

* ``pass``: one read-modify-write pass over the ``(L^3, 6)`` stress array (the floor of any
  update that touches every stress value);
* ``2D``: the 2D single-event update (:func:`femplastic.fe.propagators.kernels.shifted_add`)
  on the square grid with about as many elements (``L2 = L^(3/2)``, rounded to even).

The per-event times are measured inside a numba loop over random source elements (every
event a different shift), update and pass interleaved ``--repeat`` times on the same aligned
arrays; the ratios are medians of per-round ratios, the times the best rounds.

Run: ``python benchmarks/bench_3d.py`` or ``femplastic bench 3d`` (``--sizes 16 32 64``).
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numba as nb
import numpy as np

from femplastic.fe.elasticity import Isotropic
from femplastic.fe.elasticity3d import Isotropic3D
from femplastic.fe.mesh import periodic_grid
from femplastic.fe.propagators import PeriodicKernel, aligned_zeros, kernels, kernels3d
from femplastic.fe.propagators.periodic3d import PeriodicKernel3D


@nb.njit(cache=True)
def _run3(which, stress, Kf, L, elems, d):  # pragma: no cover - compiled
    """``len(elems)`` 3D single-event updates (0) or memory passes (1)."""
    flat = stress.reshape(-1)
    for e in elems:
        if which == 0:
            kernels3d.shifted_add3d(flat, Kf, L, e, d, False)
        else:
            kernels.memory_pass(flat, 1e-9)


@nb.njit(cache=True)
def _run2(stress, K, L, elems, d):  # pragma: no cover - compiled
    """``len(elems)`` 2D single-event updates."""
    flat = stress.reshape(-1)
    for e in elems:
        kernels.shifted_add(flat, K, L, e, d[0], d[1], d[2])


def _per_event(fn, n: int) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) / n


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark; ``argv`` as on the command line (``--sizes``, ``--repeat``)."""
    ap = argparse.ArgumentParser(prog="femplastic bench 3d", description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[16, 32], help="grid sides L")
    ap.add_argument("--repeat", type=int, default=7, help="interleaved rounds (median ratio)")
    ap.add_argument("--events", type=int, default=0,
                    help="events per round (default: about 0.2 s of updates)")
    args = ap.parse_args(argv)
    for L in args.sizes:
        if L < 2:
            raise ValueError(f"--sizes must be >= 2, got {L}")
    if args.repeat < 1:
        raise ValueError(f"--repeat must be >= 1, got {args.repeat}")
    rng = np.random.default_rng(0)
    mat = Isotropic3D()
    # compile everything on a tiny grid first
    k2 = PeriodicKernel3D((2, 1.0), mat)
    s2 = aligned_zeros((8, 6))
    slip = np.array([0.3, -0.1, -0.2, 0.05, -0.07, 0.11]) * 1e-3
    dil = slip + np.array([1e-3, 1e-3, 1e-3, 0, 0, 0])
    for which in (0, 1):
        _run3(which, s2, k2.K.reshape(-1), 2, np.zeros(2, np.int64), slip)
    kq = PeriodicKernel(periodic_grid(4), Isotropic())
    _run2(aligned_zeros((16, 3)), kq.K, 4, np.zeros(2, np.int64), np.array([1e-3, -1e-3, 1e-3]))

    print(f"{'L':>4} {'n_elem':>8} {'build s':>8} {'peak MB':>8} {'kept MB':>8} "
          f"{'slip us':>8} {'dilat us':>8} {'pass us':>8} {'2D us':>7} {'L2':>4} "
          f"{'slip/pass':>9} {'slip/2D':>8}")
    for L in args.sizes:
        tracemalloc.start()
        t0 = time.perf_counter()
        kern = PeriodicKernel3D((L, 6.6), mat)
        build = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        n = L**3
        L2 = 2 * round(L**1.5 / 2)
        k2d = PeriodicKernel(periodic_grid(L2, 6.6), Isotropic())
        stress = aligned_zeros((n, 6))
        stress2 = aligned_zeros((L2 * L2, 3))
        Kf = kern.K.reshape(-1)
        m = args.events or max(20, int(0.2 / (6e-9 * n * 6)))
        elems = rng.integers(0, n, m)
        elems2 = rng.integers(0, L2 * L2, m)
        d2 = np.array([-0.5e-3, 0.5e-3, 0.3e-3])
        t_slip, t_dil, t_pass, t_2d, r_pass, r_2d = [], [], [], [], [], []
        for _ in range(args.repeat):
            a = _per_event(lambda e=elems: _run3(0, stress, Kf, L, e, slip), m)
            b = _per_event(lambda e=elems: _run3(0, stress, Kf, L, e, dil), m)
            c = _per_event(lambda e=elems: _run3(1, stress, Kf, L, e, slip), m)
            d = _per_event(lambda e=elems2: _run2(stress2, k2d.K, L2, e, d2), m)
            t_slip.append(a)
            t_dil.append(b)
            t_pass.append(c)
            t_2d.append(d)
            r_pass.append(a / c)
            r_2d.append(a / d)
        print(f"{L:4d} {n:8d} {build:8.2f} {peak / 1e6:8.1f} {kern.nbytes / 1e6:8.1f} "
              f"{1e6 * min(t_slip):8.1f} {1e6 * min(t_dil):8.1f} {1e6 * min(t_pass):8.1f} "
              f"{1e6 * min(t_2d):7.1f} {L2:4d} {np.median(r_pass):9.2f} "
              f"{np.median(r_2d):8.2f}")
    kept64 = (64**3 * 36 * 8 + 7 * 33 * 64 * 768 * 8 + 64 * 64 * 33 * 36 * 16) / 1e6
    print("kept MB: G (L^3 x 36 doubles) + folded kernel (7 x (L/2+1) L 12L doubles) + rfft "
          f"copy; L = 64 keeps ~{kept64:.0f} MB")

if __name__ == "__main__":
    main()

"""Benchmark of the 3D core: Hex8 kernel build, memory, single-event kernel update.

For each ``L`` (default 16 and 32) prints the build time of the exact periodic kernel of the
``L^3`` grid (:class:`femplastic.fe.propagators.periodic3d.PeriodicKernel3D`), its peak
memory during the build (``tracemalloc``, numpy buffers included) and the bytes it keeps,
and the time of one single-event shifted add (:func:`~femplastic.fe.propagators.kernels3d.
shifted_add3d`) for a slip (traceless increment: five folded planes) and for an increment
with a volumetric part, against two baselines measured in the same run:

* ``pass``: one read-modify-write pass over the ``(L^3, 6)`` stress array (the floor of any
  update that touches every stress value);
* ``zfold``: the first implementation, folded by the z mirror only (twice the kernel
  traffic of the library's y-and-z fold), kept here as a reference;
* ``2D``: the 2D single-event update (:func:`femplastic.fe.propagators.kernels.shifted_add`)
  on the square grid with about as many elements (``L2 = L^(3/2)``, rounded to even).

The per-event times are measured inside a numba loop over random source elements (every
event a different shift), update and pass interleaved ``--repeat`` times on the same aligned
arrays; the ratios are medians of per-round ratios, the times the best rounds.

**The 3D drivers** (``--drive``, default L = 16; ``--drive 16 32`` for the issue's L = 32
targets, minutes; ``--memory`` adds sides whose model is only built, default 32 and 64): for
``ModelParams(dim=3, L, N)`` (``--N``, default 36; the other parameters the 2D
calibration's) the KMC quench time (``fp.quench``, the exact O(n)
selection, stationarity criterion as in 2D), then event-driven AQS from the quenched glass
to ``--gamma`` (default 0.1): events per second and the wall time per event against the
single-event kernel update (the ``slip`` column, measured in the same run at the same L;
also both in CPU time of this process, the fair ratio on a loaded machine);
and the memory of the model and one state, measured (``tracemalloc``, peak while building
the model and drawing the state, and what they keep).

Run: ``python benchmarks/bench_3d.py`` or ``femplastic bench 3d`` (``--sizes 16 32 64``). Its own
loops are compiled at every run (not cached: numba cannot reload them from a file loaded by
path, which is how ``femplastic bench`` runs it).
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numba as nb
import numpy as np
from numba import uint64 as u64

from femplastic.fe.elasticity import Isotropic
from femplastic.fe.elasticity3d import Isotropic3D
from femplastic.fe.mesh import periodic_grid
from femplastic.fe.propagators import PeriodicKernel, aligned_zeros, kernels, kernels3d
from femplastic.fe.propagators.periodic3d import PeriodicKernel3D


def _fold_z(G: np.ndarray, L: int) -> np.ndarray:
    """Reference layout folded in z only (the first implementation): 5 deviatoric planes."""
    G5 = G.reshape(L, L, L, 6, 6)
    planes = (G5[..., 0] - G5[..., 2], G5[..., 1] - G5[..., 2], G5[..., 5], G5[..., 3],
              G5[..., 4])
    h = L // 2
    K = aligned_zeros((6, (h + 1) * L * 12 * L))
    for c, H in enumerate(planes):
        rows = H[: h + 1].reshape((h + 1) * L, 6 * L)
        K[c] = np.concatenate([rows, rows], axis=1).reshape(-1)
    K[5, : 6 * L] = np.tile([1.0, 1, 1, -1, -1, 1], L)
    return K.reshape(-1)


@nb.njit(fastmath={"contract"}, boundscheck=False)
def _zfold_add(stress, Kf, L, e, d):  # pragma: no cover - compiled
    """Reference: the traceless shifted add over the z-folded layout of :func:`_fold_z`."""
    ez = e // (L * L)
    rem = e - ez * L * L
    ey = rem // L
    ex = rem - ey * L
    h = L // 2
    W = u64(6 * L)
    W2 = u64(12 * L)
    P = u64((h + 1) * L) * W2
    off = u64(6 * (L - ex))
    u0, u1, u5, d3, d4 = d[0], d[1], d[5], d[3], d[4]
    for rz in range(h + 1):
        jA = ez + rz
        if jA >= L:
            jA -= L
        jB = ez - rz
        if jB < 0:
            jB += L
        for ry in range(L):
            jy = ey + ry
            if jy >= L:
                jy -= L
            k0 = u64(rz * L + ry) * W2 + off
            a = u64(jA * L + jy) * W
            b = u64(jB * L + jy) * W
            for k in range(W):
                p = Kf[k0 + k] * u0 + Kf[P + k0 + k] * u1 + Kf[u64(2) * P + k0 + k] * u5
                q = Kf[u64(3) * P + k0 + k] * d3 + Kf[u64(4) * P + k0 + k] * d4
                stress[a + k] += p + q
                if jA != jB:
                    stress[b + k] += Kf[u64(5) * P + k] * (p - q)


@nb.njit
def _run3(which, stress, Kf, L, elems, d):  # pragma: no cover - compiled
    """``len(elems)`` 3D updates (0 library, 1 z-fold reference) or memory passes (2)."""
    flat = stress.reshape(-1)
    for e in elems:
        if which == 0:
            kernels3d.shifted_add3d(flat, Kf, L, e, d, False)
        elif which == 1:
            _zfold_add(flat, Kf, L, e, d)
        else:
            kernels.memory_pass(flat, 1e-9)


@nb.njit
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
    ap.add_argument("--drive", type=int, nargs="*", default=[16],
                    help="grid sides L of the quench + AQS measurement (none: skip; the "
                         "issue's targets: --drive 16 32, the L = 32 quench takes minutes)")
    ap.add_argument("--memory", type=int, nargs="*", default=[32, 64],
                    help="further sides whose model and state are only built (memory)")
    ap.add_argument("--N", type=int, default=36, help="slip systems per element (>= 6)")
    ap.add_argument("--gamma", type=float, default=0.1, help="AQS strain of the measurement")
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
    slip = np.array([0.3e-3, -0.1e-3, 0.0, 0.05e-3, -0.07e-3, 0.11e-3])
    slip[2] = -(slip[0] + slip[1])  # exactly traceless, as the slips of the 3D law
    dil = slip + np.array([1e-3, 1e-3, 1e-3, 0, 0, 0])
    for which, Kc in ((0, k2.K.reshape(-1)), (1, _fold_z(k2.G, 2)), (2, k2.K.reshape(-1))):
        _run3(which, s2, Kc, 2, np.zeros(2, np.int64), slip)
    kq = PeriodicKernel(periodic_grid(4), Isotropic())
    _run2(aligned_zeros((16, 3)), kq.K, 4, np.zeros(2, np.int64), np.array([1e-3, -1e-3, 1e-3]))

    slip_us: dict[int, float] = {}
    print(f"{'L':>4} {'n_elem':>8} {'build s':>8} {'peak MB':>8} {'kept MB':>8} "
          f"{'slip us':>8} {'dilat us':>8} {'zfold us':>8} {'pass us':>8} {'2D us':>7} "
          f"{'L2':>4} {'slip/pass':>9} {'slip/zfold':>10} {'slip/2D':>8}")
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
        Kz = _fold_z(kern.G, L)
        t = {k: [] for k in ("slip", "dil", "zfold", "pass", "2d")}
        r_pass, r_z, r_2d = [], [], []
        for _ in range(args.repeat):
            a = _per_event(lambda e=elems: _run3(0, stress, Kf, L, e, slip), m)
            b = _per_event(lambda e=elems: _run3(0, stress, Kf, L, e, dil), m)
            z = _per_event(lambda e=elems: _run3(1, stress, Kz, L, e, slip), m)
            c = _per_event(lambda e=elems: _run3(2, stress, Kf, L, e, slip), m)
            d = _per_event(lambda e=elems2: _run2(stress2, k2d.K, L2, e, d2), m)
            for key, val in zip(t, (a, b, z, c, d), strict=True):
                t[key].append(val)
            r_pass.append(a / c)
            r_z.append(a / z)
            r_2d.append(a / d)
        best = {k: 1e6 * min(v) for k, v in t.items()}
        slip_us[L] = float(np.median(t["slip"])) * 1e6
        print(f"{L:4d} {n:8d} {build:8.2f} {peak / 1e6:8.1f} {kern.nbytes / 1e6:8.1f} "
              f"{best['slip']:8.1f} {best['dil']:8.1f} {best['zfold']:8.1f} "
              f"{best['pass']:8.1f} {best['2d']:7.1f} {L2:4d} {np.median(r_pass):9.2f} "
              f"{np.median(r_z):10.2f} {np.median(r_2d):8.2f}")
    kept64 = (64**3 * 36 * 8 + 7 * 33**2 * 768 * 8 + 64 * 64 * 33 * 36 * 16) / 1e6
    print("kept MB: G (L^3 x 36 doubles) + folded kernel (7 (L/2+1)^2 12L doubles) + rfft "
          f"copy; L = 64 keeps ~{kept64:.0f} MB")
    if args.drive or args.memory:
        _drivers(args, slip_us, rng, _run3, slip)


def _model_memory(p) -> tuple[float, float, float]:
    """Peak and kept MB of building the model and drawing one state; the state's own MB."""
    import femplastic as fp
    from femplastic.weakplane import state as state_mod

    state_mod._default_model.cache_clear()
    tracemalloc.start()
    model = fp.build_model(p)
    st = fp.State.fresh(model, np.random.default_rng(0))
    kept, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    own = sum(getattr(st, k).nbytes for k in ("stress", "prestress", "eps_pl", "theta", "tauc",
                                               "nv", "selfres", "slips", "sref", "pref",
                                               "margin"))
    return peak / 1e6, kept / 1e6, own / 1e6


def _drivers(args, slip_us, rng, run3, slip) -> None:
    """The 3D drivers at each ``--drive`` side: quench time, AQS events/s vs one update."""
    import femplastic as fp
    from femplastic import threads
    from femplastic.fe.propagators.periodic3d import PeriodicKernel3D

    count = threads.get_threads()
    print(f"\n3D drivers, ModelParams(dim=3, N={args.N}) (model C otherwise), AQS to "
          f"gamma = {args.gamma} at dgamma = 1e-4, event driven, "
          + ("one thread" if count < 2 else f"up to {count} threads ({threads.ENV}; "
             "serial while no core is free)"))
    print(f"{'L':>4} {'quench s':>9} {'cpu s':>7} {'thermal':>9} {'stat.':>5} {'AQS s':>8} "
          f"{'events':>9} {'events/s':>9} {'us/event':>9} {'update us':>9} {'ratio':>6} "
          f"{'cpu us/ev':>9} {'cpu upd':>8} {'cpu ratio':>9} {'peak MB':>8} {'kept MB':>8} "
          f"{'state MB':>8}")
    fp.aqs(fp.quench(fp.ModelParams(dim=3, L=3, N=6), np.random.default_rng(0),
                     max_events=30), None, np.random.default_rng(0), gamma_end=0.02)  # compile
    for L in sorted(set(args.drive) | set(args.memory)):
        p = fp.ModelParams(dim=3, L=L, N=args.N)
        peak, kept, own = _model_memory(p)
        if L not in args.drive:
            print(f"{L:4d} {'-':>9} {'-':>7} {'-':>9} {'-':>5} {'-':>8} {'-':>9} {'-':>9} "
                  f"{'-':>9} {'-':>9} {'-':>6} {'-':>9} {'-':>8} {'-':>9} {peak:8.0f} "
                  f"{kept:8.0f} {own:8.0f}")
            continue
        if L not in slip_us:  # the single-event update at this L, in this run
            kern = PeriodicKernel3D((L, 6.6), fp.weakplane.dimension.material_3d(p))
            st0 = aligned_zeros((L**3, 6))
            m = max(20, int(0.2 / (6e-9 * L**3 * 6)))
            e = rng.integers(0, L**3, m)
            slip_us[L] = 1e6 * min(_per_event(lambda e=e: run3(0, st0, kern.K.reshape(-1), L,
                                                               e, slip), m) for _ in range(3))
        t0, c0 = time.perf_counter(), time.process_time()
        st, info = fp.quench(p, np.random.default_rng(1), return_info=True)
        tq, cq = time.perf_counter() - t0, time.process_time() - c0
        t0, c0 = time.perf_counter(), time.process_time()
        run = fp.aqs(st, p, np.random.default_rng(2), gamma_end=args.gamma, dgamma=1e-4)
        ta, ca = time.perf_counter() - t0, time.process_time() - c0
        ev = int(run.avalanche_size.sum())
        per = 1e6 * ta / max(ev, 1)
        cper = 1e6 * ca / max(ev, 1)
        cupd = _cpu_update(run3, L, p, rng, slip)  # the update again, in CPU time, right after
        print(f"{L:4d} {tq:9.1f} {cq:7.1f} {info.n_thermal:9d} "
              f"{'yes' if info.stationary else 'no':>5} {ta:8.1f} {ev:9d} {ev / ta:9.0f} "
              f"{per:9.1f} {slip_us[L]:9.1f} {per / slip_us[L]:6.2f} {cper:9.1f} {cupd:8.1f} "
              f"{cper / cupd:9.2f} {peak:8.0f} {kept:8.0f} {own:8.0f}")
    print("quench s / cpu s: wall and CPU time of fp.quench from a fresh state to the "
          "stationarity criterion (issue 26 target: under 60 s at L = 32)")
    print("ratio: AQS wall time per event / one single-event kernel update (target <= 3); cpu: "
          "the same in CPU time of this process (time.process_time, the update re-measured "
          "right after the run; on a shared machine the wall ratio mixes in other processes' "
          "load); peak/kept MB: building the model and drawing one state (tracemalloc); "
          "state MB: one state's arrays (a run holds a few copies)")


def _cpu_update(run3, L, p, rng, slip) -> float:
    """CPU microseconds of one single-event update at side ``L`` (best of three rounds)."""
    import femplastic as fp
    from femplastic.fe.propagators.periodic3d import PeriodicKernel3D

    kern = PeriodicKernel3D((L, 6.6), fp.weakplane.dimension.material_3d(p))
    st0 = aligned_zeros((L**3, 6))
    m = max(20, int(0.2 / (6e-9 * L**3 * 6)))
    e = rng.integers(0, L**3, m)
    best = np.inf
    for _ in range(3):
        c0 = time.process_time()
        run3(0, st0, kern.K.reshape(-1), L, e, slip)
        best = min(best, (time.process_time() - c0) / m)
    return 1e6 * best

if __name__ == "__main__":
    main()

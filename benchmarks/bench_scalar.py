"""Benchmark of the scalar lattice models.

Prints, for the finite-rate model (Liu et al.) at 32 x 32 and 256 x 256, time steps per
second and site updates per second (``L^2`` x steps/s) in a high-activity regime
(fixed rate 1e-2: FFT stress updates) and a low-activity one (fixed rate 1e-4 in its
steady state: real-space shifted adds), with the mean plastic fraction; the crossover of
the two stress updates; and, for the quasistatic model (Tyukodi et al.), local slip events
per second and avalanches per second.

Run: ``python benchmarks/bench_scalar.py [--quick]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from femplastic.lattice import (
    FiniteRateParams,
    LatticeEshelby,
    QuasistaticParams,
    Weibull,
    fft_min_sites,
    finite_rate_initial_state,
    quasistatic_initial_state,
    run_fixed_rate,
    run_quasistatic,
    scalar_shifted_add_many,
)


def _warmup() -> None:
    p = FiniteRateParams(L=8)
    rng = np.random.default_rng(0)
    st = finite_rate_initial_state(p, rng)
    run_fixed_rate(p, st, 1e-2, 1.0, rng, fft_min=1)
    run_fixed_rate(p, st, 1e-2, 1.0, rng)
    q = QuasistaticParams(initial=Weibull(2.5, 1.0), L=8)
    run_quasistatic(q, quasistatic_initial_state(q, rng), 0.05, rng)


def finite_rate(L: int, gdot: float, transient: float, measure: float, seed: int = 0) -> dict:
    """Steps/s of a fixed-rate run after a transient."""
    p = FiniteRateParams(L=L)
    rng = np.random.default_rng(seed)
    st = finite_rate_initial_state(p, rng)
    _, st = run_fixed_rate(p, st, gdot, transient, rng, record_every=1000)
    t0 = time.perf_counter()
    tr, _ = run_fixed_rate(p, st, gdot, measure, rng, record_every=10)
    el = time.perf_counter() - t0
    steps = round(measure / p.dt)
    return dict(L=L, gdot=gdot, steps=steps, seconds=el, steps_per_s=steps / el,
                site_updates_per_s=steps * L * L / el, frac_plastic=float(tr.frac_plastic.mean()))


def crossover(L: int) -> dict:
    """Time of one FFT convolution vs one real-space shifted add."""
    k = LatticeEshelby(L, 14.88)
    f = np.random.default_rng(0).random(L * L)
    s = np.zeros(L * L)
    k.convolve(f)
    n = max(5, 200_000 // (L * L))
    t0 = time.perf_counter()
    for _ in range(n):
        k.convolve(f)
    t_fft = (time.perf_counter() - t0) / n
    el = np.arange(16, dtype=np.int64)
    d = np.ones(16)
    scalar_shifted_add_many(s, k.G, L, el, d)
    t0 = time.perf_counter()
    for _ in range(n):
        scalar_shifted_add_many(s, k.G, L, el, d)
    t_add = (time.perf_counter() - t0) / n / 16
    return dict(L=L, fft_us=1e6 * t_fft, shifted_add_us=1e6 * t_add,
                crossover_sites=t_fft / t_add, fft_min_default=fft_min_sites(L))


def quasistatic(L: int, gamma_max: float, seed: int = 0) -> dict:
    """Slip events/s of the GQ glass with rejuvenation and correlation."""
    q = QuasistaticParams(initial=Weibull.from_mean_std(1.65, 0.509),
                          renewal=Weibull.from_mean_std(1.0, 0.436), c0=0.0235, c1=0.0163,
                          L=L, mu=19.0, K=55.0)
    rng = np.random.default_rng(seed)
    st = quasistatic_initial_state(q, rng)
    t0 = time.perf_counter()
    res, _ = run_quasistatic(q, st, gamma_max, rng)
    el = time.perf_counter() - t0
    ev = int(res.size.sum())
    return dict(L=L, events=ev, avalanches=int(res.size.size), seconds=el,
                events_per_s=ev / el, avalanches_per_s=res.size.size / el)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="shorter runs")
    args = ap.parse_args(argv)
    q = 0.2 if args.quick else 1.0
    _warmup()
    print("finite-rate model (Liu et al.), fixed shear rate")
    print(f"{'L':>5} {'gdot':>8} {'plastic':>8} {'steps/s':>10} {'site-upd/s':>11}")
    cases = [(32, 1e-2, 100.0, 100.0 * q), (32, 1e-4, 5000.0 * q, 500.0 * q),
             (256, 1e-2, 20.0 * q, 5.0 * q), (256, 1e-4, 200.0 * q, 20.0 * q)]
    for L, g, tr, me in cases:
        r = finite_rate(L, g, tr, me)
        print(f"{r['L']:>5} {r['gdot']:>8.0e} {r['frac_plastic']:>8.3f} {r['steps_per_s']:>10.3g} "
              f"{r['site_updates_per_s']:>11.3g}")
    print("\nstress update: one FFT convolution vs one shifted add per plastic site")
    print(f"{'L':>5} {'fft_us':>8} {'add_us':>8} {'crossover':>9} {'fft_min':>7}")
    for L in (16, 32, 64, 128, 256):
        c = crossover(L)
        print(f"{c['L']:>5} {c['fft_us']:>8.1f} {c['shifted_add_us']:>8.3f} "
              f"{c['crossover_sites']:>9.1f} {c['fft_min_default']:>7}")
    print("\nquasistatic model (Tyukodi et al.), GQ glass, rejuvenation + correlation")
    print(f"{'L':>5} {'events':>9} {'events/s':>10} {'avalanches/s':>12}")
    for L, gm in ((16, 3.0 * q), (64, 1.0 * q)):
        r = quasistatic(L, gm)
        print(f"{r['L']:>5} {r['events']:>9} {r['events_per_s']:>10.3g} "
              f"{r['avalanches_per_s']:>12.3g}")


if __name__ == "__main__":
    main()

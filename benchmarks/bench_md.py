"""Benchmark of the atomistic reference (LAMMPS): MD, AQS step, LYSM test vs N.

For each N and pair form (the paper's polynomial with ``pair lepton``, the ``lj/mdf`` taper):
MD atom-steps/s at T = 0.351 (NVT), with ``pair_style lj/cut`` on the same configuration as the
in-run baseline (the ratio is the price of the smoothed potential);
one AQS step (tilt 1e-4 + CG to |F| < 1e-10) on the quenched liquid; one local shear
test (R = 5 or the largest that fits, alpha = 0, steps 1e-3 then 1e-4 near the event).
Serial LAMMPS (one MPI rank).

Run: ``python benchmarks/bench_md.py --atoms 1000 2500 10000`` or ``femplastic bench md``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main(argv: list[str] | None = None) -> None:
    from femplastic.atomistic.aqs import aqs
    from femplastic.atomistic.lysm import local_yield
    from femplastic.atomistic.potential import LJ2D, PAPER
    from femplastic.atomistic.system import Session, random_configuration

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--atoms", type=int, nargs="+", default=[1000, 2500])
    ap.add_argument("--steps", type=int, default=200, help="MD steps timed")
    ap.add_argument("--smoothing", nargs="+", default=["polynomial", "taper"],
                    choices=["polynomial", "taper"],
                    help="pair forms: the paper's polynomial (lepton) and/or the lj/mdf taper")
    args = ap.parse_args(argv)
    print(f"{'N':>6} {'pair':>8} {'MD':>14} {'MD lj/cut':>14} {'ratio':>6} {'AQS step':>9} "
          f"{'LYSM test':>9}")
    for n, smoothing in ((n, sm) for n in args.atoms for sm in args.smoothing):
        pot = LJ2D(smoothing=smoothing)
        conf = random_configuration(n, np.random.default_rng(0), pot)
        with Session(conf, pot) as s:
            s.command("minimize 0 1e-3 500 5000", "timestep 0.005",
                      "velocity all create 0.351 1 dist gaussian",
                      "fix md all nvt temp 0.351 0.351 0.5", "run 50")
            t0 = time.perf_counter()
            s.command(f"run {args.steps}")
            t_lep = time.perf_counter() - t0
            liquid = s.configuration()
            s.command(f"pair_style lj/cut {PAPER.max_cutoff!r}")
            for a in range(2):
                for b in range(a, 2):
                    s.command(f"pair_coeff {a + 1} {b + 1} {PAPER.epsilon[a][b]!r} "
                              f"{PAPER.sigma[a][b]!r} {PAPER.cutoff(a, b)!r}")
            t0 = time.perf_counter()
            s.command(f"run {args.steps}")
            t_lj = time.perf_counter() - t0
        with Session(liquid, pot) as s:
            s.minimize(1e-10)
            glass = s.configuration()
        t0 = time.perf_counter()
        aqs(glass, 3e-4, 1e-4, pot=pot)
        t_aqs = (time.perf_counter() - t0) / 3
        radius = min(5.0, glass.box[0] / 2 - 1.1 * PAPER.max_cutoff - 0.1)
        t0 = time.perf_counter()
        local_yield(glass, radius, np.array([0.0]), glass.x[:1], coarse=1e-3, pot=pot)
        t_ly = time.perf_counter() - t0
        r_lep, r_lj = n * args.steps / t_lep, n * args.steps / t_lj
        pair = "lepton" if smoothing == "polynomial" else "lj/mdf"
        print(f"{n:>6} {pair:>8} {r_lep:>10.3g} a-s/s {r_lj:>10.3g} a-s/s {r_lj / r_lep:>6.1f} "
              f"{t_aqs:>8.2f}s {t_ly:>8.1f}s", flush=True)


if __name__ == "__main__":
    main()

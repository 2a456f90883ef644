"""Issue 24 (b): element-size spread of an unstructured mesh vs flow stress, drops, localisation.

Model C (homogeneous ingredients: every element has the same N, k, lam, chi whatever its size;
the element-size ingredients of issue 24 deliverable 3 are off) on Gmsh unstructured periodic
quad meshes of about L^2 elements whose area coefficient of variation is requested at CV = 0,
0.2, 0.4 (CV = 0 gives the mesher's own spread, ~0.13-0.15; the achieved CV is reported), with
the regular grid (CV = 0 exactly) as reference. Per CV: the stationary flow stress (mean and
std of Sigma_xy for gamma > 0.5), the drop distribution (mean, std, density), the strain
localisation at the end of the shear (area-weighted participation ratio of the plastic shear
field: 1 uniform, small localised) and the ratio of the mean plastic shear of the smallest to
the largest quarter of the elements (by area). One mesh per realisation.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402
import _meshes  # noqa: E402

import femplastic as fp  # noqa: E402

NEEDS = ("gmsh",)  # tests/test_studies.py skips the smoke run without it
CVS = (0.0, 0.2, 0.4)


def run(L: int, seed: int, realizations: int, gamma_end: float, dgamma: float,
        cvs=CVS) -> dict:
    p = fp.ModelParams(L=L)
    alphas = np.linspace(-np.pi / 2, np.pi / 2, 12, endpoint=False)
    res = {"L": L, "realizations": realizations, "gamma_end": gamma_end, "dgamma": dgamma,
           "cvs": list(cvs), "grid": _meshes.run_ensemble(p, lambda r: None, seed, realizations,
                                                           gamma_end, dgamma, 30.0, alphas)}
    for cv in cvs:
        res[f"cv{cv:g}"] = _meshes.run_ensemble(
            p, lambda r, c=cv: _meshes.unstructured(L * L, c, seed * 1000 + r), seed,
            realizations, gamma_end, dgamma, 30.0, alphas)
    return res


def plot(res: dict):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 4, figsize=(15, 3.3), constrained_layout=True)
    names = ["grid"] + [f"cv{cv:g}" for cv in res["cvs"]]
    cv_got = [float(np.mean(res[n]["area_cv"])) for n in names]
    for n, c in zip(names, cv_got, strict=True):
        d = res[n]
        lab = f"{n} (CV {c:.2f})"
        ax[0].plot(d["gamma"], d["mean_curve"], lw=1, label=lab)
        ax[1].plot(d["drops"]["centres"], d["drops"]["density"], "o-", ms=3, label=lab)
    ax[2].errorbar(cv_got, [res[n]["stress"]["mean"] for n in names],
                   [res[n]["stress"]["std"] for n in names], fmt="o-", capsize=3)
    ax[3].errorbar(cv_got, [res[n]["loc_participation"]["mean"] for n in names],
                   [res[n]["loc_participation"]["sem"] for n in names], fmt="o-", capsize=3)
    ax[0].set(xlabel=r"$\gamma$", ylabel=r"$\langle\Sigma_{xy}\rangle$")
    ax[0].legend(frameon=False, fontsize=7)
    ax[1].set(xlabel=r"stationary drop $\delta\Sigma$", ylabel="P", yscale="log")
    ax[2].set(xlabel="element area CV (achieved)", ylabel="stationary stress (mean +- std)")
    ax[3].set(xlabel="element area CV (achieved)", ylabel="participation ratio of plastic shear")
    return fig


def main(argv: list[str] | None = None) -> dict:
    args = _common.parse(__doc__, argv, [
        (["--L"], {"type": int, "default": 32, "help": "the meshes have ~L^2 quads"}),
        (["--realizations"], {"type": int, "default": 12}),
        (["--gamma-end"], {"type": float, "default": 1.5})])
    if args.smoke:
        res = run(5, args.seed, 1, 0.7, 1e-3, cvs=(0.0, 0.4))
    else:
        res = run(args.L, args.seed, args.realizations, args.gamma_end, 1e-4)
    _common.save(_common.out_dir(args, "mesh_size_spread"), "mesh_size_spread", res, plot(res))
    return res


if __name__ == "__main__":
    main()

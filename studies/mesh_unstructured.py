"""Issue 24 (a): model C on an unstructured periodic quad mesh against the regular grid.

Same number of elements (about L^2) and the same mean element size (l = 6.6: Gmsh's box is
sqrt(n) l): the macroscale stress-strain curve, the stationary stress and the drops, and the
orientation dependence of the local pre-stress of Castellanos et al. (2021) figs. 4/8, the
standard deviation over R = 30 discs of ``tau_i(alpha) = M(alpha) : <sigma>_disc`` in the
quench (T = 0.25) and in the stationary state, with its order-2 and order-4 Fourier components
(:func:`femplastic.weakplane.fits.harmonics`; a positive ``cos 4 alpha`` is the square symmetry
that puts minima at +-45 deg). The paper (sec. 6) suspects the +-45 deg minima of fig. 8 are
"artifacts induced by the FEM quadrilateral structured mesh": on an unstructured mesh the
order-4 component should vanish. The patch *yield* test (tau_c, dtau_c of fig. 8) cuts n x n
grid blocks and is not available on a general mesh; tau_i is measured identically on both.
One Gmsh mesh per realisation (area CV 0: the mesher's own spread, ~0.13-0.15).
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


def run(L: int, seed: int, realizations: int, gamma_end: float, dgamma: float, R: float,
        n_alpha: int, cv: float = 0.0) -> dict:
    p = fp.ModelParams(L=L)
    alphas = np.linspace(-np.pi / 2, np.pi / 2, n_alpha, endpoint=False)
    res = {"L": L, "R": R, "alphas": alphas, "realizations": realizations,
           "gamma_end": gamma_end, "dgamma": dgamma, "mesh_cv_requested": cv}
    res["grid"] = _meshes.run_ensemble(p, lambda r: None, seed, realizations, gamma_end,
                                       dgamma, R, alphas)
    res["unstructured"] = _meshes.run_ensemble(
        p, lambda r: _meshes.unstructured(L * L, cv, seed * 1000 + r), seed, realizations,
        gamma_end, dgamma, R, alphas)
    return res


def plot(res: dict):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 4, figsize=(15, 3.3), constrained_layout=True)
    a = np.degrees(res["alphas"])
    for name, c in (("grid", "C0"), ("unstructured", "C3")):
        d = res[name]
        ax[0].plot(d["gamma"], d["mean_curve"], c, lw=1, label=name)
        ax[1].plot(d["drops"]["centres"], d["drops"]["density"], "o-", color=c, ms=3)
        ax[2].plot(a, d["tau_i_quench"]["std"], "o-", color=c, ms=3, label=name)
        ax[3].plot(a, d["tau_i_stationary"]["std"], "o-", color=c, ms=3, label=name)
    ax[0].set(xlabel=r"$\gamma$", ylabel=r"$\langle\Sigma_{xy}\rangle$")
    ax[0].legend(frameon=False, fontsize=8)
    ax[1].set(xlabel=r"stationary drop $\delta\Sigma$", ylabel="P", yscale="log")
    ax[2].set(xlabel=r"$\alpha$ (deg)", ylabel=rf"std $\tau_i$, R = {res['R']:g}, quench")
    ax[3].set(xlabel=r"$\alpha$ (deg)", ylabel=rf"std $\tau_i$, R = {res['R']:g}, stationary")
    for x in (ax[2], ax[3]):
        for g in (-45, 45):
            x.axvline(g, color="0.7", lw=0.5)
    return fig


def main(argv: list[str] | None = None) -> dict:
    args = _common.parse(__doc__, argv, [
        (["--L"], {"type": int, "default": 32, "help": "grid side; the mesh has ~L^2 quads"}),
        (["--realizations"], {"type": int, "default": 24}),
        (["--gamma-end"], {"type": float, "default": 1.5})])
    if args.smoke:
        res = run(5, args.seed, 1, 0.7, 1e-3, 8.0, 12)
    else:
        res = run(args.L, args.seed, args.realizations, args.gamma_end, 1e-4, 30.0, 36)
    _common.save(_common.out_dir(args, "mesh_unstructured"), "mesh_unstructured", res,
                 plot(res))
    return res


if __name__ == "__main__":
    main()

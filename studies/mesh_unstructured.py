"""Issue 24 (a): model C on an unstructured periodic quad mesh against the regular grid.

Same number of elements (about L^2) and the same mean element size (l = 6.6: Gmsh's box is
sqrt(n) l): the macroscale stress-strain curve, the stationary stress and the drops, and the
orientation dependence of the local pre-stress of Castellanos et al. (2021) figs. 4/8, the
standard deviation over R = 30 discs of ``tau_i(alpha) = M(alpha) : <sigma>_disc`` in the
quench (T = 0.25) and in the stationary state, with its order-2 and order-4 Fourier components
(:func:`femplastic.weakplane.fits.harmonics`; a positive ``cos 4 alpha`` is the square symmetry
that puts minima at +-45 deg). The paper (sec. 6) suspects the +-45 deg minima of fig. 8 are
"artifacts induced by the FEM quadrilateral structured mesh": on an unstructured mesh the
order-4 component should vanish. One Gmsh mesh per realisation (area CV 0: the mesher's own
spread, ~0.13-0.15).

The patch *yield* test of fig. 8 (tau_c, dtau_c vs alpha at R = 30, i.e. n = 8 patches of
l = 6.6) on three discretisations of the same mean element size, quench and stationary
state (``--yield-realizations``; :func:`_meshes.yield_ensemble`): the regular grid, the
default Gmsh mesh (``algorithm="frontal"``, whose edges mostly stay along x/y: edge
``<cos 4 phi>`` ~0.8) and a Gmsh mesh with isotropic edge orientations (``"delaunay"``,
``<cos 4 phi>`` ~0). The strict local minima of the std and of the mean of tau_c and
dtau_c vs alpha (pooled), and the local-minimum depth at +-45 deg (value there minus the
lower of its two neighbours: < 0 is a minimum) per realisation, mean +- standard error over
realisations: are there minima at +-45 deg on the grid, and do they disappear on the
unstructured meshes?
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


MESHINGS = ("grid", "frontal", "delaunay")


def run_yield(L: int, seed: int, realizations: int, n: int, n_alpha: int, gamma_end: float,
              dgamma: float, stride: int, meshings: tuple = MESHINGS) -> dict:
    """The +-45 deg question: the patch yield test vs alpha on the grid and two Gmsh meshes."""
    p = fp.ModelParams(L=L)
    alphas = np.radians(-90.0 + 180.0 * np.arange(n_alpha) / n_alpha)
    res = {"L": L, "n": n, "R": p.l * n / np.sqrt(np.pi), "alphas": alphas,
           "realizations": realizations, "gamma_end": gamma_end, "stride": stride,
           "meshings": list(meshings)}
    for name in meshings:
        def mesh_of(r, name=name):
            if name == "grid":
                return None
            return _meshes.unstructured(L * L, 0.0, seed * 1000 + r, algorithm=name)
        res[name] = _meshes.yield_ensemble(p, mesh_of, seed, realizations, n, alphas,
                                           gamma_end, dgamma, stride)
    return res


def summary_yield(res: dict) -> str:
    """One line per (meshing, regime, field): the +-45 deg dips with their errors."""
    lines = [f"L = {res['L']}, n = {res['n']} (R = {res['R']:.1f}), "
             f"{res['realizations']} realisations, {len(res['alphas'])} angles"]
    for name in res.get("meshings", MESHINGS):
        d = res[name]
        lines.append(f"{name}: edge <cos 4 phi> {np.mean(d['edge_cos4']):.3f}, "
                     f"elements per patch {d['patch_elements_mean']:.1f} "
                     f"+- {d['patch_elements_std']:.1f}")
        for key in ("tau_c_quench", "dtau_c_quench", "tau_c_stationary", "dtau_c_stationary"):
            x = d[key]
            lines.append(f"  {key:18s} patches {x['n_patches']:5d}  dip45(std) "
                         f"{x['dip45_std']['mean']:+.4f} +- {x['dip45_std']['sem']:.4f}  "
                         f"dip45(mean) {x['dip45_mean']['mean']:+.4f} +- "
                         f"{x['dip45_mean']['sem']:.4f}  cos4(std) {x['cos4_std']['mean']:+.4f}"
                         f" +- {x['cos4_std']['sem']:.4f}  minima(std) "
                         f"{np.round(x['minima_std_deg'], 1).tolist()} minima(mean) "
                         f"{np.round(x['minima_mean_deg'], 1).tolist()}")
    return "\n".join(lines)


def plot_yield(res: dict):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 4, figsize=(15, 3.3), constrained_layout=True)
    a = np.degrees(res["alphas"])
    keys = ("tau_c_quench", "dtau_c_quench", "tau_c_stationary", "dtau_c_stationary")
    for name, c in zip(MESHINGS, ("C0", "C3", "C2"), strict=True):
        if name not in res:
            continue
        for x, key in zip(ax, keys, strict=True):
            x.plot(a, res[name][key]["std"], "o-", color=c, ms=3, label=name)
            x.set(xlabel=r"$\alpha$ (deg)", ylabel=f"std {key}")
    for x in ax:
        for g in (-45, 45):
            x.axvline(g, color="0.7", lw=0.5)
    ax[0].legend(frameon=False, fontsize=8)
    return fig


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
        (["--gamma-end"], {"type": float, "default": 1.5}),
        (["--yield-L"], {"type": int, "default": 24, "help": "side of the yield-test systems"}),
        (["--yield-realizations"], {"type": int, "default": 12,
                                    "help": "yield-test realisations per meshing (0: skip)"}),
        (["--yield-gamma-end"], {"type": float, "default": 1.0}),
        (["--yield-only"], {"action": "store_true", "help": "only the yield test (+-45 deg)"}),
        (["--yield-meshings"], {"nargs": "+", "default": list(MESHINGS), "choices": MESHINGS})])
    out = _common.out_dir(args, "mesh_unstructured")
    res: dict = {}
    if args.smoke:
        res = run(5, args.seed, 1, 0.7, 1e-3, 8.0, 12)
        res["yield"] = run_yield(12, args.seed, 1, 4, 8, 0.2, 1e-3, 4)
    else:
        if not args.yield_only:
            res = run(args.L, args.seed, args.realizations, args.gamma_end, 1e-4, 30.0, 36)
        if args.yield_realizations > 0:
            res["yield"] = run_yield(args.yield_L, args.seed, args.yield_realizations, 8, 24,
                                     args.yield_gamma_end, 1e-4, 4,
                                     tuple(args.yield_meshings))
    if "yield" in res:
        print(summary_yield(res["yield"]))
        _common.save(out, "mesh_unstructured_yield", res["yield"], plot_yield(res["yield"]))
    if "grid" in res:
        _common.save(out, "mesh_unstructured", res, plot(res))
    return res


if __name__ == "__main__":
    main()

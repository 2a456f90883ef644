"""Avalanche statistics in 3D vs 2D: tau by MLE, d_f from the cutoffs (issue #26, 5b).

The same protocol in both dimensions: model C's calibrated parameters (2D: the defaults; 3D:
the same values on ``L^3`` Hex8 grids, N = 36 isotropic systems, see ``flow_3d.py``), KMC
quench at T = 0.25, event-driven AQS in simple shear xy, dgamma = 1e-5. An avalanche is the
relaxation at one load step (its size: the slip events; steps without events are elastic);
only the stationary part (gamma > gamma_min) is kept. For each (dimension, L) the sizes are
fitted by maximum likelihood to a discrete power law with an exponential cutoff s_c
(:func:`femplastic.weakplane.avalanches.fit_truncated_power_law`, s >= 1, bootstrap 95 %
intervals); the growth of the cutoffs, s_c ~ L^d_f, gives d_f with a paired-bootstrap
interval (:func:`~femplastic.weakplane.avalanches.fractal_dimension`). The question is
Budrikis et al. (Nat. Commun. 8, 15928 (2017))'s statement that the avalanche exponent tau of
their tensorial FE elasto-plastic model does not depend on the dimension (tau ~ 1.28 in 2D and
3D, quoted from memory of the paper) while d_f does.

One load step may hold more than one independent trigger, merged into one "avalanche"; the
number of avalanches per unit strain grows as the number of elements, L^3 in 3D, so the step
must shrink with it: at dgamma = 1e-4 the 3D L = 16 runs have 0.5 avalanches per step and
the MLE tau drops by ~0.1 (the README row). The per-L number of avalanches per unit strain
is reported so that the merging can be judged.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402
from flow_3d import params_3d  # noqa: E402

import femplastic as fp  # noqa: E402
from femplastic.weakplane import avalanches as A  # noqa: E402


def params_of(dim: int, L: int) -> fp.ModelParams:
    """Model C in 2D (the defaults at T = 0.25) or its 3D form (:func:`flow_3d.params_3d`)."""
    return params_3d(L) if dim == 3 else fp.ModelParams(L=int(L), T=0.25)


def sizes_of(dim: int, L: int, nreal: int, seed: int, gamma_end: float, gamma_min: float,
             dgamma: float) -> tuple[np.ndarray, float]:
    p = params_of(dim, L)
    out = []
    t0 = time.perf_counter()
    for rng in _common.rngs(seed + 100 * dim + 1000 * int(L), nreal):
        r = fp.aqs(fp.quench(p, rng), p, rng, gamma_end=gamma_end, dgamma=dgamma)
        keep = (r.gamma > gamma_min) & (r.avalanche_size > 0)
        out.append(r.avalanche_size[keep])
    return np.concatenate(out), time.perf_counter() - t0


def run(config: dict, seed: int, gamma_end: float, gamma_min: float, dgamma: float,
        n_boot: int, s_min: int = 1) -> dict:
    t0 = time.perf_counter()
    boot = np.random.default_rng(seed + 4242)
    res: dict = {"gamma_end": gamma_end, "gamma_min": gamma_min, "dgamma": dgamma,
                 "s_min": s_min, "dims": {}}
    for dim, (sizes, reals) in config.items():
        fits, per_L, samples = [], [], {}
        for L, nreal in zip(sizes, reals, strict=True):
            s, wall = sizes_of(dim, L, nreal, seed, gamma_end, gamma_min, dgamma)
            fit = A.fit_truncated_power_law(s, s_min=s_min, n_boot=n_boot, rng=boot)
            fits.append(fit)
            samples[str(int(L))] = s
            per_L.append({"L": int(L), "n_elem": int(L) ** dim, "realizations": int(nreal),
                          "n_avalanches": int(s.size), "mean_size": float(s.mean()),
                          "max_size": int(s.max()),
                          "avalanches_per_strain": float(s.size
                                                         / (nreal * (gamma_end - gamma_min))),
                          "tau": fit.tau, "tau_ci": fit.tau_ci, "s_c": fit.s_c,
                          "s_c_ci": fit.s_c_ci, "wall_s": wall})
        d: dict = {"per_L": per_L, "samples": samples}
        if len(sizes) >= 2:
            d_f, ci = A.fractal_dimension(sizes, fits)
            w = np.array([1.0 / max(f.tau_ci[1] - f.tau_ci[0], 1e-6) ** 2 for f in fits])
            d.update({"d_f": d_f, "d_f_ci": ci,
                      "tau_pooled": float(np.sum(w * [f.tau for f in fits]) / w.sum()),
                      "tau_largest_L": fits[-1].tau, "tau_largest_L_ci": fits[-1].tau_ci})
        res["dims"][str(dim)] = d
    if {"2", "3"} <= set(res["dims"]):  # tau at the largest L of each dimension
        f2 = res["dims"]["2"]["per_L"][-1]
        f3 = res["dims"]["3"]["per_L"][-1]
        res["tau_difference_3d_minus_2d_largest"] = f3["tau"] - f2["tau"]
    res["wall_time_s"] = time.perf_counter() - t0
    return res


def plot(res: dict):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(12, 3.6), constrained_layout=True)
    marks = {"2": "s", "3": "o"}
    for dim, d in res["dims"].items():
        for q in d["per_L"]:
            s = np.sort(np.asarray(d["samples"][str(q["L"])]))[::-1]
            ax[0].loglog(s, np.arange(1, s.size + 1) / s.size, marks[dim], ms=2,
                         label=f"{dim}D L = {q['L']}")
        Ls = np.array([q["L"] for q in d["per_L"]])
        tau = np.array([q["tau"] for q in d["per_L"]])
        ci = np.array([q["tau_ci"] for q in d["per_L"]])
        ax[1].errorbar(Ls, tau, yerr=[tau - ci[:, 0], ci[:, 1] - tau], fmt=marks[dim] + "-",
                       label=f"{dim}D")
        sc = np.array([q["s_c"] for q in d["per_L"]])
        sci = np.array([q["s_c_ci"] for q in d["per_L"]])
        lab = f"{dim}D" + (f": d_f = {d['d_f']:.2f}" if "d_f" in d else "")
        ax[2].errorbar(Ls, sc, yerr=[sc - sci[:, 0], sci[:, 1] - sc], fmt=marks[dim] + "-",
                       label=lab)
    ax[0].set(xlabel="size s (events)", ylabel="P(S >= s)")
    ax[0].legend(frameon=False, fontsize=7)
    ax[1].axhline(1.28, color="0.6", ls="--", lw=0.8)
    ax[1].set(xscale="log", xlabel="L", ylabel="tau (MLE, 95 %)",
              title="dashed: 1.28 (Budrikis et al.)")
    ax[1].legend(frameon=False)
    ax[2].set(xscale="log", yscale="log", xlabel="L", ylabel="cutoff s_c (events)")
    ax[2].legend(frameon=False)
    return fig


def main(argv: list[str] | None = None) -> dict:
    args = _common.parse(__doc__, argv)
    if args.smoke:
        res = run({2: ((6, 8), (1, 1)), 3: ((4, 5), (1, 1))}, args.seed, 0.15, 0.05, 2e-4,
                  n_boot=10)
    else:
        # dgamma = 1e-5: at 1e-4 a 3D load step often holds several independent triggers
        # (0.5 avalanches per step at L = 16), merged into one larger "avalanche"
        res = run({2: ((8, 16, 32), (16, 8, 4)), 3: ((6, 8, 12, 16), (16, 8, 4, 2))},
                  args.seed, 1.0, 0.3, 1e-5, n_boot=200)
    out = _common.out_dir(args, "avalanches_3d")
    _common.save(out, "avalanches_3d", res, plot(res))
    return res


if __name__ == "__main__":
    main()

"""Seed 004 fig. 2: macroscale stress-strain curve and stationary distributions (model C).

Reproduces the model side of fig. 2: the external stress-strain curve and the stationary
(gamma > 0.5) distributions of the external stress, of the stress drops per avalanche and of
the stress increments per loading stretch. The paper compares them with the atomistic ones
(L_macro); here the numbers behind each panel are written for such a comparison.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

import femplastic as fp  # noqa: E402
from femplastic.weakplane import observables as obs  # noqa: E402


def run(params: fp.ModelParams, seed: int, realizations: int, gamma_end: float,
        dgamma: float) -> dict:
    runs = []
    for rng in _common.rngs(seed, realizations):
        runs.append(fp.aqs(fp.quench(params, rng), params, rng, gamma_end=gamma_end,
                           dgamma=dgamma))
    st = obs.stationary(runs)
    curve = np.mean([r.stress for r in runs], axis=0)
    out = {"gamma": runs[0].gamma, "mean_curve": curve, "example_curve": runs[0].stress,
           "params": params.to_dict(), "realizations": realizations}
    for name in ("stress", "drops", "increments"):
        x = getattr(st, name)
        c, P = obs.density(x, bins=40)
        out[name] = {"centres": c, "density": P, "mean": x.mean(), "std": x.std(), "n": x.size}
    return out


def plot(res: dict):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 4, figsize=(14, 3.2), constrained_layout=True)
    ax[0].plot(res["gamma"], res["example_curve"], lw=0.6, label="one realisation")
    ax[0].plot(res["gamma"], res["mean_curve"], "k", lw=1, label="mean")
    ax[0].set(xlabel=r"$\gamma^{ext}$", ylabel=r"$\Sigma^{ext}_{xy}$")
    ax[0].legend(frameon=False, fontsize=8)
    for a, name, lab in zip(ax[1:], ("stress", "drops", "increments"),
                            (r"$\Sigma^{ext}_{xy}$", r"$\delta\Sigma$", r"$\Delta\Sigma$"),
                            strict=True):
        d = res[name]
        a.plot(d["centres"], d["density"], "o-", ms=3)
        a.set(xlabel=lab, ylabel="P")
        if name != "stress":
            a.set_yscale("log")
    return fig


def main(argv: list[str] | None = None) -> dict:
    args = _common.parse(__doc__, argv)
    if args.smoke:
        p, R, g, dg = fp.ModelParams(L=6, N=8), 2, 0.8, 1e-3
    else:
        p, R, g, dg = fp.ModelParams(), 64, 2.0, 1e-4
    res = run(p, args.seed, R, g, dg)
    _common.save(_common.out_dir(args, "fig2_macro"), "fig2_macro", res, plot(res))
    return res


if __name__ == "__main__":
    main()

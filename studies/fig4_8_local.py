"""Seed 004 figs. 4 and 8: local properties vs patch radius R and orientation alpha.

Means (fig. 4) and standard deviations (fig. 8) of the von Mises stress, tau_c, dtau_c and the
local drop, measured with the local shear test in the quench and in the stationary state, as a
function of R (patch sizes n) at alpha = 0 and as a function of alpha at the R ~ 30 patch.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

import femplastic as fp  # noqa: E402
from femplastic.weakplane.probes import local_yield  # noqa: E402

FIELDS = ("sigma_vm", "tau_c", "dtau_c", "drop")


def run(p: fp.ModelParams, seed: int, realizations: int, ns, n30: int, alphas, gamma_end: float,
        dgamma: float, stride: int) -> dict:
    res: dict = {"R": [p.l * n / np.sqrt(np.pi) for n in ns], "alphas": np.asarray(alphas)}
    for regime in ("quench", "stationary"):
        byR = {f: {"mean": [], "std": []} for f in FIELDS}
        pooled = {n: {f: [] for f in FIELDS} for n in ns}
        bya = {f: [] for f in FIELDS}
        for rng in _common.rngs(seed, realizations):
            st = fp.quench(p, rng)
            if regime == "stationary":
                st = fp.aqs(st, p, rng, gamma_end=gamma_end, dgamma=dgamma).state
            for n in ns:
                ly = local_yield(st, p, rng, n, [0.0], stride=stride)
                for f in FIELDS:
                    pooled[n][f].append(getattr(ly, f)[:, 0])
            ly = local_yield(st, p, rng, n30, alphas, stride=stride)
            for f in FIELDS:
                bya[f].append(getattr(ly, f))
        for f in FIELDS:
            for n in ns:
                x = np.concatenate(pooled[n][f])
                byR[f]["mean"].append(x.mean())
                byR[f]["std"].append(x.std())
            X = np.concatenate(bya[f])
            bya[f] = {"mean": X.mean(axis=0), "std": X.std(axis=0)}
        res[regime] = {"vs_R": byR, "vs_alpha": bya}
    return res


def plot(res: dict):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(2, 4, figsize=(14, 6), constrained_layout=True)
    deg = np.degrees(res["alphas"])
    for j, f in enumerate(FIELDS):
        for regime, mk in (("quench", "o"), ("stationary", "s")):
            d = res[regime]
            ax[0, j].errorbar(res["R"], d["vs_R"][f]["mean"], d["vs_R"][f]["std"], marker=mk,
                              capsize=2, label=regime)
            ax[1, j].plot(deg, d["vs_alpha"][f]["mean"], marker=mk, label=regime)
        ax[0, j].set(xlabel="R", title=f)
        ax[1, j].set(xlabel=r"$\alpha$ (deg)")
    ax[0, 0].legend(frameon=False, fontsize=8)
    return fig


def main(argv: list[str] | None = None) -> dict:
    args = _common.parse(__doc__, argv)
    if args.smoke:
        p = fp.ModelParams(L=6, N=8)
        res = run(p, args.seed, 1, [1, 2, 3], 3, np.linspace(0, np.pi, 4, endpoint=False), 0.6,
                  1e-3, 3)
    else:
        p = fp.ModelParams()
        res = run(p, args.seed, 16, [1, 2, 3, 4, 6, 8, 10], 8,
                  np.linspace(0, np.pi, 18, endpoint=False), 2.0, 1e-4, 1)
    _common.save(_common.out_dir(args, "fig4_8_local"), "fig4_8_local", res, plot(res))
    return res


if __name__ == "__main__":
    main()

"""Seed 004 figs. 4 and 8: local properties vs patch radius R and orientation alpha.

Means (fig. 4, centre and right columns) and standard deviations (fig. 8) of the von Mises
stress sigma_vm, the resolved initial stress tau_i (fig. 4's first row holds both), tau_c,
dtau_c and the local drop, measured with the local shear test in the quench and in the
stationary state, as a function of R (patch sizes n) at alpha = 0 and as a function of alpha
at the R ~ 30 patch. The orientation grid (5 deg in the full mode) resolves +-45 deg: for every
standard deviation the local minima (:func:`femplastic.weakplane.fits.circular_minima`) and
the Fourier components of order 2 (forward/backward anisotropy) and 4 (square symmetry of the
mesh: a positive cos 4 alpha puts minima at +-45 deg) with their standard errors
(:func:`~femplastic.weakplane.fits.harmonics`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

import femplastic as fp  # noqa: E402
from femplastic.weakplane import fits  # noqa: E402
from femplastic.weakplane.probes import local_yield  # noqa: E402

FIELDS = ("sigma_vm", "tau_i", "tau_c", "dtau_c", "drop")


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
            std = X.std(axis=0)
            bya[f] = {"mean": X.mean(axis=0), "std": std,
                      "std_minima_deg": np.degrees(fits.circular_minima(alphas, std)),
                      "std_harmonics": fits.harmonics(alphas, std, (2, 4))}
        res[regime] = {"vs_R": byR, "vs_alpha": bya}
    return res


def plot(res: dict):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(len(FIELDS), 4, figsize=(15, 15), constrained_layout=True)
    deg = np.degrees(res["alphas"])
    deg = np.where(deg >= 90, deg - 180, deg)
    o = np.argsort(deg)
    for i, f in enumerate(FIELDS):
        for regime, mk in (("quench", "o"), ("stationary", "s")):
            d = res[regime]
            for j, stat in ((0, "mean"), (2, "std")):
                ax[i, j].plot(res["R"], d["vs_R"][f][stat], marker=mk, label=regime)
                ax[i, j + 1].plot(deg[o], np.asarray(d["vs_alpha"][f][stat])[o], marker=mk,
                                  ms=3, label=regime)
        for j, lab in enumerate((f"<{f}>", f"<{f}>", f"std {f}", f"std {f}")):
            ax[i, j].set_ylabel(lab)
        for j in (1, 3):
            ax[i, j].axvline(-45, color="0.7", lw=0.6)
            ax[i, j].axvline(45, color="0.7", lw=0.6)
    for j, t in enumerate(("fig. 4: mean vs R (alpha = 0)", "fig. 4: mean vs alpha (R ~ 30)",
                           "fig. 8: std vs R", "fig. 8: std vs alpha")):
        ax[0, j].set_title(t, fontsize=9)
        ax[-1, j].set_xlabel("R" if j in (0, 2) else r"$\alpha$ (deg)")
    ax[0, 0].legend(frameon=False, fontsize=8)
    return fig


def main(argv: list[str] | None = None) -> dict:
    args = _common.parse(__doc__, argv)
    if args.smoke:
        p = fp.ModelParams(L=6, N=8)
        res = run(p, args.seed, 1, [1, 2, 3], 3, np.linspace(0, np.pi, 8, endpoint=False), 0.6,
                  1e-3, 3)
    else:
        p = fp.ModelParams()
        res = run(p, args.seed, 16, [1, 2, 3, 4, 6, 8, 10], 8,
                  np.linspace(0, np.pi, 36, endpoint=False), 2.0, 1e-4, 1)
    _common.save(_common.out_dir(args, "fig4_8_local"), "fig4_8_local", res, plot(res))
    for regime in ("quench", "stationary"):
        for f in FIELDS:
            d = res[regime]["vs_alpha"][f]
            h = d["std_harmonics"]
            print(f"{regime:10s} std {f:8s}: minima {np.round(d['std_minima_deg'], 1).tolist()} "
                  f"cos4 {h['cos4']:+.4f} +- {h['cos4_se']:.4f}, cos2 {h['cos2']:+.4f} +- "
                  f"{h['cos2_se']:.4f} (c0 {h['c0']:.4f})")
    return res


if __name__ == "__main__":
    main()

"""Seed 004 fig. 5: emergent properties of model C.

(a) r(dgamma), the mean standard deviation of the external stress in strain windows;
(b) std(Sigma_ext) in the stationary state vs system size L, with a power-law fit (the paper
    finds ~ L^-0.94); (c) mean local drop vs mean local yield stress (R ~ 30), quench and
    stationary, forward and backward; (d) the Bauschinger test: ensemble-averaged forward and
    reverse reloads from the unloaded stationary state.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

import femplastic as fp  # noqa: E402
from femplastic.weakplane import observables as obs  # noqa: E402
from femplastic.weakplane.probes import bauschinger, ensemble_average, local_yield  # noqa: E402


def run(p: fp.ModelParams, sizes, seed: int, realizations: int, gamma_end: float, dgamma: float,
        dgammas, n30: int, gamma_reload: float) -> dict:
    res: dict = {"dgammas": np.asarray(dgammas)}
    rs, stds, drops, baus = [], {L: [] for L in sizes}, {}, []
    for L in sizes:
        pL = p.replace(L=int(L))
        for rng in _common.rngs(seed + L, realizations):
            q = fp.quench(pL, rng)
            run_ = fp.aqs(q, pL, rng, gamma_end=gamma_end, dgamma=dgamma)
            stds[L].append(run_.stress[run_.gamma > 0.5].std())
            if L == p.L:
                rs.append(obs.r_of_dgamma(run_, dgammas))
                for regime, st in (("quench", q), ("stationary", run_.state)):
                    ly = local_yield(st, pL, rng, n30, [0.0, np.pi / 2], stride=max(1, n30 // 2))
                    for ia, side in enumerate(("forward", "backward")):
                        d = drops.setdefault(f"{regime} {side}", {"tau_c": [], "drop": []})
                        d["tau_c"].append(ly.tau_c[:, ia].mean())
                        d["drop"].append(ly.drop[:, ia].mean())
                baus.append(bauschinger(run_.state, pL, rng, gamma_reload=gamma_reload,
                                        dgamma=dgamma))
    res["r"] = np.mean(rs, axis=0)
    res["L"] = np.asarray(sizes)
    res["std_vs_L"] = np.array([np.mean(stds[L]) for L in sizes])
    A, b = obs.power_law_fit(res["L"], res["std_vs_L"])
    res["std_fit"] = {"A": A, "exponent": b, "paper_exponent": -0.94}
    res["drop_vs_yield"] = {k: {"tau_c": np.mean(v["tau_c"]), "drop": np.mean(v["drop"])}
                            for k, v in drops.items()}
    res["bauschinger"] = ensemble_average(baus)
    return res


def plot(res: dict):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 4, figsize=(15, 3.4), constrained_layout=True)
    ax[0].loglog(res["dgammas"], res["r"], "o-")
    ax[0].set(xlabel=r"$\Delta\gamma$", ylabel=r"$r(\Delta\gamma)$")
    L = np.asarray(res["L"])
    ax[1].loglog(L, res["std_vs_L"], "o")
    f = res["std_fit"]
    ax[1].loglog(L, f["A"] * L ** f["exponent"], "k--", label=f"slope {f['exponent']:.2f}")
    ax[1].set(xlabel="L", ylabel=r"std $\Sigma^{ext}$")
    ax[1].legend(frameon=False)
    for k, v in res["drop_vs_yield"].items():
        ax[2].plot(v["tau_c"], v["drop"], "o", label=k)
    ax[2].set(xlabel=r"$\langle\tau_c\rangle$", ylabel=r"$\langle\delta\tau_c\rangle$")
    ax[2].legend(frameon=False, fontsize=7)
    b = res["bauschinger"]
    ax[3].plot(b["gamma"], b["forward"], label="forward")
    ax[3].plot(b["gamma"], b["reverse"], label="reverse")
    ax[3].set(xlabel=r"$\gamma$ since unloading", ylabel="resolved stress")
    ax[3].legend(frameon=False)
    return fig


def main(argv: list[str] | None = None) -> dict:
    args = _common.parse(__doc__, argv)
    if args.smoke:
        p = fp.ModelParams(L=6, N=8)
        res = run(p, [4, 6], args.seed, 2, 0.8, 1e-3, [2e-3, 1e-2, 5e-2], 3, 0.03)
    else:
        p = fp.ModelParams()
        res = run(p, [8, 11, 15, 22, 32], args.seed, 16, 2.0, 1e-4,
                  np.logspace(-3.5, -0.5, 10), 8, 0.1)
    _common.save(_common.out_dir(args, "fig5_emergent"), "fig5_emergent", res, plot(res))
    return res


if __name__ == "__main__":
    main()

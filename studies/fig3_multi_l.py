"""Seed 004 fig. 3 a-d across element sizes l: the calibration sweep repeated for Table 1.

No atomistic data ships, so the reference is synthetic: model C at l = 6.6 (L = 15, N = 36,
k = 2.18, lam = 2.05, chi = 2.25), i.e. a system of the paper's physical side 98.8 whose
macroscale samples and R = 30 local samples every discretisation can be compared with. For
every l of Table 1 (its L, N and patch side n for R = 30) the sweep of
:func:`femplastic.weakplane.multiscale.sweep_matched` looks for the (lam, chi) of lowest
L_macro at each k, then computes L_stat, its parabola and L_stat-hat, k_hat, lam_hat,
chi_hat. The grids are reduced (the paper: k = 1 ... 3 by 0.05, a full (lam, chi) plane, 48
realisations): three k, five chi per l spread by a factor 4 around the exponent that keeps
the mean slip moment l^2 gmax / (1 + chi) of the reference, three lam per (k, chi) around the
value matching the reference's mean stress (one pilot run each). Initial states are T = 0
quenches (no pre-stress) for every l and the reference: stationary statistics do not depend
on the quench (A.3; checked in ``a3_quench_T.py``).

Because the reference *is* the l = 6.6 model, L_stat-hat at l = 6.6 only measures noise (same
parameters, independent seeds); the other rows measure how well each discretisation can mimic
it, and how its best parameters move with l (chi_hat, the drop error).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

import femplastic as fp  # noqa: E402
from femplastic.weakplane import calibration as cal  # noqa: E402
from femplastic.weakplane import multiscale as ms  # noqa: E402
from femplastic.weakplane.params import TABLE1  # noqa: E402


def chi_grid(l: float, factors) -> np.ndarray:
    """The amplitude exponents tried at element size l: the moment rule's value times factors."""
    return ms.moment_chi(l, floor=0.5) * np.asarray(factors, dtype=float)


def run(rows, k_grid, chi_factors, lam_factors, seed: int, realizations: int,
        ref_realizations: int, gamma_end: float, dgamma: float, pilot_gamma_end: float,
        log=None) -> dict:
    t0 = time.perf_counter()
    pref = fp.ModelParams.preset(6.6, T=0.0)
    n_ref = TABLE1[6.6][2]
    ref = cal.model_statistics(pref, seed + 1000, ref_realizations, gamma_end=gamma_end,
                               dgamma=dgamma, stride=max(1, n_ref // 2))
    res: dict = {"reference": {"params": pref.to_dict(), "realizations": ref_realizations,
                               "R": ref.R, "mean_stress": float(ref.macro["stress"].mean())},
                 "k_grid": np.asarray(k_grid), "lam_factors": np.asarray(lam_factors),
                 "realizations": realizations, "gamma_end": gamma_end, "dgamma": dgamma,
                 "rows": []}
    if log:
        log(f"reference done ({time.perf_counter() - t0:.0f} s)")
    for l in rows:
        t1 = time.perf_counter()
        base = fp.ModelParams.preset(l, T=0.0)
        n = TABLE1[l][2]
        chis = chi_grid(l, chi_factors)
        sw = ms.sweep_matched(ref, base, k_grid, chis, lam_factors, seed=seed,
                              realizations=realizations, gamma_end=gamma_end, dgamma=dgamma,
                              stride=max(1, n // 2), pilot_gamma_end=pilot_gamma_end)
        row = {"l": l, "L": base.L, "N": base.N, "n": n, "chi_grid": chis, "k": sw.k,
               "lam": sw.lam, "chi": sw.chi, "L_macro": sw.L_macro, "L_stat": sw.L_stat,
               "L_meso+": sw.L_meso_plus, "L_meso-": sw.L_meso_minus, "L_drops": sw.L_drops,
               "k_hat": sw.k_hat, "lam_hat": sw.lam_hat, "chi_hat": sw.chi_hat,
               "L_stat_hat": sw.L_stat_hat, "L_stat_noise": sw.L_stat_noise,
               "L_drops_hat": float(np.interp(sw.k_hat, sw.k, sw.L_drops)),
               "parabola": sw.coefficients, "edge": sw.edge, "details": sw.details,
               "wall_s": time.perf_counter() - t1}
        res["rows"].append(row)
        if log:
            log(f"l={l}: k_hat {sw.k_hat:.2f} lam_hat {sw.lam_hat:.3f} chi_hat {sw.chi_hat:.3f} "
                f"L_stat_hat {sw.L_stat_hat:.3f} +- {sw.L_stat_noise:.3f} "
                f"L_drops {row['L_drops_hat']:.3f} edge {sw.edge.tolist()} "
                f"({row['wall_s']:.0f} s)")
    ls = [r["l"] for r in res["rows"]]
    hats = [r["L_stat_hat"] for r in res["rows"]]
    res["optimum_l"] = ls[int(np.argmin(hats))]
    res["wall_s"] = time.perf_counter() - t0
    return res


def plot(res: dict):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(2, 3, figsize=(14, 7.5), constrained_layout=True)
    rows = res["rows"]
    for r in rows:
        k = np.asarray(r["k"])
        (h,) = ax[0, 0].plot(k, r["L_macro"], "o-", label=f"l = {r['l']}")
        ax[0, 1].plot(k, r["L_stat"], "o", color=h.get_color())
        kk = np.linspace(k.min(), k.max(), 60)
        a, b, c = r["parabola"]
        ax[0, 1].plot(kk, a + b * kk + c * kk**2, "-", lw=0.8, color=h.get_color())
    ax[0, 0].set(xlabel="k", ylabel=r"$\mathcal{L}_{macro}$", title="(a)")
    ax[0, 0].legend(frameon=False, fontsize=7)
    ax[0, 1].set(xlabel="k", ylabel=r"$\mathcal{L}_{stat}$", title="(b)")
    ls = [r["l"] for r in rows]
    ax[0, 2].errorbar(ls, [r["L_stat_hat"] for r in rows], [r["L_stat_noise"] for r in rows],
                      fmt="o-", capsize=3)
    ax[0, 2].axvspan(4.4, 6.6, color="C2", alpha=0.15, label="paper's optimum range")
    ax[0, 2].set(xlabel="l", ylabel=r"$\hat{\mathcal{L}}_{stat}$",
                 title="(c) (reference: model C at l = 6.6)")
    ax[0, 2].legend(frameon=False, fontsize=7)
    ax[1, 0].plot(ls, [r["chi_hat"] for r in rows], "o-")
    ax[1, 0].axhline(1.0, color="0.5", ls=":")
    ax[1, 0].axvline(5.0, color="C3", ls=":", lw=0.8, label="paper: chi < 1 below l ~ 5")
    ax[1, 0].set(xlabel="l", ylabel=r"$\hat\chi$", yscale="log")
    ax[1, 0].legend(frameon=False, fontsize=7)
    ax[1, 1].plot(ls, [r["L_drops_hat"] for r in rows], "o-")
    ax[1, 1].set(xlabel="l", ylabel=r"$\mathcal{L}[P(\delta\Sigma^{ext})]$ at $\hat k$")
    r66 = [r for r in rows if abs(r["l"] - 6.6) < 1e-9]
    if r66:
        r = r66[0]
        for key, lab in (("L_macro", r"$\mathcal{L}_{macro}$"),
                         ("L_meso+", r"$\mathcal{L}^+_{meso}$"),
                         ("L_meso-", r"$\mathcal{L}^-_{meso}$"),
                         ("L_stat", r"$\mathcal{L}_{stat}$")):
            ax[1, 2].plot(r["k"], r[key], "o-", label=lab)
        ax[1, 2].legend(frameon=False, fontsize=7)
    ax[1, 2].set(xlabel="k", ylabel="error", title="(d) components, l = 6.6")
    return fig


def main(argv: list[str] | None = None) -> dict:
    args = _common.parse(__doc__, argv)
    out = _common.out_dir(args, "fig3_multi_l")
    if args.smoke:
        res = run([10.5, 13.2], [1.6, 2.2, 2.8], [1.0, 1.5], [1.0], args.seed, 1, 2, 0.7, 1e-3,
                  0.7)
    else:
        res = run(sorted(TABLE1), [1.6, 2.2, 2.8], [0.5, 0.7, 1.0, 1.4, 2.0], [0.93, 1.0, 1.07],
                  args.seed, 6, 12, 2.0, 1e-4, 1.2, log=lambda s: print(s, flush=True))
    _common.save(out, "fig3_multi_l", res, plot(res))
    lines = ["| l | L | N | k_hat | lam_hat | chi_hat | L_stat_hat | noise | L[P(drops)] | "
             "grid edge |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in res["rows"]:
        lines.append(f"| {r['l']} | {r['L']} | {r['N']} | {r['k_hat']:.2f} | {r['lam_hat']:.3f} "
                     f"| {r['chi_hat']:.3f} | {r['L_stat_hat']:.3f} | {r['L_stat_noise']:.3f} | "
                     f"{r['L_drops_hat']:.3f} | {np.asarray(r['edge']).tolist()} |")
    (out / "fig3_multi_l.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return res


if __name__ == "__main__":
    main()

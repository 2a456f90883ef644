"""Avalanche statistics of model C vs system size: tau, d_f and the finite-size collapse.

Quenched samples of model C are sheared monotonically (AQS, the run of :func:`femplastic.aqs`
with every event kept, :func:`femplastic.weakplane.avalanches.record`); the avalanches of the
stationary part (gamma > gamma_min) are catalogued (size in events, stress drop, duration in
sweeps, distinct elements, radius of gyration). For each L the sizes are fitted by maximum
likelihood to a discrete power law with an exponential cutoff s_c (bootstrap intervals); the
cutoff's growth s_c ~ L^d_f gives the fractal dimension, and P(s) s^tau against s / L^d_f is
the finite-size collapse (the (tau, d_f) pair of a grid that collapses the curves best is a
second estimate). The spatial extent gives a third, direct d_f: size vs radius of gyration of
the avalanches of at least 5 events.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

import femplastic as fp  # noqa: E402
from femplastic.weakplane import avalanches as A  # noqa: E402


def run(sizes, seed: int, realizations, gamma_end: float, gamma_min: float, dgamma: float,
        n_boot: int, s_min: int) -> dict:
    t0 = time.perf_counter()
    samples, fits, per_L = {}, [], []
    boot_rng = np.random.default_rng(seed + 12345)
    ext_s, ext_r = [], []
    for L, nreal in zip(sizes, realizations, strict=True):
        p = fp.ModelParams(L=int(L))
        cats = []
        for rng in _common.rngs(seed + int(L), nreal):
            log = A.record(fp.quench(p, rng), p, rng, gamma_end=gamma_end, dgamma=dgamma)
            cat = A.catalogue(log, int(L))
            cats.append(cat.select(cat.gamma > gamma_min))
        size = np.concatenate([c.size for c in cats])
        extent = np.concatenate([c.extent for c in cats])
        duration = np.concatenate([c.duration for c in cats])
        samples[int(L)] = size
        fit = A.fit_truncated_power_law(size, s_min=s_min, n_boot=n_boot, rng=boot_rng)
        fits.append(fit)
        big = size >= 5
        ext_s.append(size[big])
        ext_r.append(extent[big])
        per_L.append({"L": int(L), "n_avalanches": int(size.size), "realizations": nreal,
                      "mean_size": float(size.mean()), "max_size": int(size.max()),
                      "tau": fit.tau, "tau_ci": fit.tau_ci, "s_c": fit.s_c, "s_c_ci": fit.s_c_ci,
                      "mean_duration": float(duration.mean()),
                      "max_extent": float(extent.max())})
    res = {"per_L": per_L, "gamma_min": gamma_min, "gamma_end": gamma_end, "s_min": s_min,
           "samples": {str(k): v for k, v in samples.items()}}
    if len(sizes) >= 2:
        d_f, ci = A.fractal_dimension(sizes, fits)
        w = np.array([1.0 / max(f.tau_ci[1] - f.tau_ci[0], 1e-6) ** 2 for f in fits])
        tau = float(np.sum(w * [f.tau for f in fits]) / w.sum())
        res.update({"d_f": d_f, "d_f_ci": ci, "tau_pooled": tau})
        _, res["collapse_spread"] = A.collapse(samples, tau, d_f)
        t_c, d_c, sp = A.best_collapse(samples, np.arange(0.9, 1.61, 0.02),
                                       np.arange(0.6, 2.01, 0.02))
        res.update({"collapse_tau": t_c, "collapse_d_f": d_c, "collapse_best_spread": sp})
    s = np.concatenate(ext_s)
    r = np.concatenate(ext_r)
    ok = r > 0
    if ok.sum() >= 10:
        res["d_f_from_extent"] = float(np.polyfit(np.log(r[ok]), np.log(s[ok]), 1)[0])
    res["wall_time_s"] = time.perf_counter() - t0
    return res


def plot(res: dict):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), constrained_layout=True)
    samples = {int(k): np.asarray(v) for k, v in res["samples"].items()}
    for L, s in samples.items():
        ss = np.sort(s)[::-1]
        axes[0].loglog(ss, np.arange(1, ss.size + 1) / ss.size, ".", ms=2, label=f"L = {L}")
    axes[0].set(xlabel="size s (events)", ylabel="P(S >= s)")
    axes[0].legend(frameon=False, fontsize=8)
    Ls = [q["L"] for q in res["per_L"]]
    sc = np.array([q["s_c"] for q in res["per_L"]])
    lo = sc - np.array([q["s_c_ci"][0] for q in res["per_L"]])
    hi = np.array([q["s_c_ci"][1] for q in res["per_L"]]) - sc
    axes[1].errorbar(Ls, sc, yerr=[lo, hi], fmt="o")
    axes[1].set(xscale="log", yscale="log", xlabel="L", ylabel="cutoff s_c",
                title=(f"d_f = {res['d_f']:.2f}" if "d_f" in res else ""))
    if "d_f" in res:
        curves, _ = A.collapse(samples, res["collapse_tau"], res["collapse_d_f"])
        for L, (x, y) in curves.items():
            axes[2].loglog(x, y, "o-", ms=3, label=f"L = {L}")
        axes[2].set(xlabel=r"$s / L^{d_f}$", ylabel=r"$P(s)\, s^{\tau}$",
                    title=f"best collapse: tau = {res['collapse_tau']:.2f}, "
                    f"d_f = {res['collapse_d_f']:.2f}")
        axes[2].legend(frameon=False, fontsize=8)
    return fig


def main(argv: list[str] | None = None) -> dict:
    args = _common.parse(__doc__, argv)
    if args.smoke:
        res = run((6, 8), args.seed, (1, 1), 0.3, 0.1, 1e-4, 20, 1)
    else:
        res = run((8, 16, 32, 64), args.seed, (16, 8, 4, 2), 1.0, 0.3, 1e-4, 200, 1)
    out = _common.out_dir(args, "avalanche_stats")
    _common.save(out, "avalanche_stats", res, plot(res))
    return res


if __name__ == "__main__":
    main()

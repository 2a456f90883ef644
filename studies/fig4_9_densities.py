"""Seed 004 fig. 4 (left column) and fig. 9: R = 30 densities, forward and backward, and the
left-tail exponent of P(dtau_c).

Model C at l = 6.6 (L = 15, T = 0.25 quench), local shear tests of every 8 x 8 patch (R = 29.8)
and of every single element (n = 1, R = 3.7), forward (alpha = 0) and backward (90 deg), in the
quench and in the stationary state (gamma = 2). Densities of sigma_vm, tau_i, tau_c, dtau_c and
the local drop. The left tail of the distance-to-threshold density, P(dtau_c) ~ dtau_c^theta,
is fitted by the Hill estimator (:func:`femplastic.weakplane.fits.left_tail_exponent`) on
several tail fractions. The paper (sec. 6): in the stationary state the model's R = 30 density
has a *negative* exponent (the atomistic one, and the model's single-element one, positive).

Patches overlap (stride 1) and share their realisation's state: the bootstrap resamples whole
realisations. In a homogeneous patch driven affinely the onset is local (the weakest system
of the weakest element), so overlapping patches often share their dtau_c exactly; the fraction
of such repeats is reported. The density the paper plots is over patches, repeats included
(a weak element counts once per patch whose onset it is, and weaker elements are the onset of
more patches), so the headline exponent is that of all patches (the Hill estimate leaves values
tied with its threshold out); the exponent of the distinct values, which weighs every element
once, is reported too, and the log-log slope of the histogram
(:func:`~femplastic.weakplane.fits.density_slope`, quantiles 0.1 % to the fraction) as a
cross-check.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

import femplastic as fp  # noqa: E402
from femplastic.weakplane import fits  # noqa: E402
from femplastic.weakplane.observables import density  # noqa: E402
from femplastic.weakplane.probes import local_yield  # noqa: E402

FIELDS = ("sigma_vm", "tau_i", "tau_c", "dtau_c", "drop")
SIDES = ("forward", "backward")


def run(p: fp.ModelParams, seed: int, realizations: int, n30: int, gamma_end: float,
        dgamma: float, stride: int, fractions, n_boot: int) -> dict:
    t0 = time.perf_counter()
    samples = {(n, reg): {f: [] for f in (*FIELDS, "real")} for n in (n30, 1)
               for reg in ("quench", "stationary")}
    for ir, rng in enumerate(_common.rngs(seed, realizations)):
        q = fp.quench(p, rng)
        st = fp.aqs(q, p, rng, gamma_end=gamma_end, dgamma=dgamma).state
        for reg, s in (("quench", q), ("stationary", st)):
            for n in (n30, 1):
                ly = local_yield(s, p, rng, n, [0.0, np.pi / 2], stride=stride)
                for f in FIELDS:
                    samples[(n, reg)][f].append(getattr(ly, f))
                samples[(n, reg)]["real"].append(np.full(ly.tau_c.shape, ir))
    res: dict = {"R30": p.l * n30 / np.sqrt(np.pi), "R1": p.l / np.sqrt(np.pi), "n30": n30,
                 "realizations": realizations, "fractions": np.asarray(fractions),
                 "densities": {}, "means": {}, "tail": {}, "tail_distinct": {}, "loglog": {},
                 "slope": {}}
    rng_b = np.random.default_rng(seed + 1)
    for (n, reg), d in samples.items():
        key = f"n={n} {reg}"
        X = {f: np.concatenate(d[f]) for f in (*FIELDS, "real")}
        for ia, side in enumerate(SIDES):
            k2 = f"{key} {side}"
            res["densities"][k2] = {f: dict(zip(("x", "P"), density(X[f][:, ia], 40),
                                                strict=True)) for f in FIELDS}
            res["means"][k2] = {f: {"mean": float(X[f][:, ia].mean()),
                                    "std": float(X[f][:, ia].std())} for f in FIELDS}
            x = X["dtau_c"][:, ia]
            g = X["real"][:, ia]
            x, g = x[x > 0], g[x > 0]
            # exact repeats: overlapping patches whose onset is the same weakest element
            xu, first = np.unique(x, return_index=True)
            res["duplicates"] = res.get("duplicates", {})
            res["duplicates"][k2] = 1.0 - xu.size / x.size
            for name, xx, gg in (("tail", x, g), ("tail_distinct", xu, g[first])):
                res[name][k2] = [
                    {"fraction": fr, **{a: getattr(t, a) for a in ("theta", "stderr",
                                                                  "interval", "k",
                                                                  "threshold", "n")}}
                    for fr in fractions
                    for t in [fits.left_tail_exponent(xx, fr, rng=rng_b, n_boot=n_boot,
                                                      groups=gg)]]
            res["slope"][k2] = []
            for fr in fractions:
                try:
                    sl, se = fits.density_slope(x, fr, bins=8)
                except ValueError:
                    sl, se = np.nan, np.nan
                res["slope"][k2].append({"fraction": fr, "slope": sl, "stderr": se})
            edges = np.geomspace(np.quantile(x, 0.001), np.quantile(x, 0.9), 25)
            P, e = np.histogram(x, edges)
            res["loglog"][k2] = {"x": np.sqrt(e[1:] * e[:-1]),
                                 "P": P / (x.size * np.diff(e))}
    res["wall_s"] = time.perf_counter() - t0
    return res


def plot(res: dict):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(3, 5, figsize=(17, 9.5), constrained_layout=True)
    n30 = res["n30"]
    for i, side in enumerate(SIDES):
        for j, f in enumerate(FIELDS):
            for reg, ls in (("quench", "--"), ("stationary", "-")):
                d = res["densities"][f"n={n30} {reg} {side}"][f]
                ax[i, j].plot(d["x"], d["P"], ls, label=reg)
            ax[i, j].set(xlabel=f, title=f"R = {res['R30']:.0f}, {side}")
        ax[i, 0].set_ylabel("P")
    ax[0, 0].legend(frameon=False, fontsize=7)
    for j, (reg, side) in enumerate((("stationary", "forward"), ("stationary", "backward"),
                                     ("quench", "forward"))):
        for n, mk in ((n30, "o"), (1, "s")):
            k2 = f"n={n} {reg} {side}"
            d = res["loglog"][k2]
            ok = np.asarray(d["P"]) > 0
            t = res["tail"][k2][min(2, len(res["tail"][k2]) - 1)]
            ax[2, j].loglog(np.asarray(d["x"])[ok], np.asarray(d["P"])[ok], mk, ms=3,
                            label=f"n = {n}: theta = {t['theta']:.2f} ({t['fraction']:.0%})")
        ax[2, j].set(xlabel=r"$\Delta\tau_c$", ylabel="P", title=f"{reg} {side}")
        ax[2, j].legend(frameon=False, fontsize=7)
    for k2, tl in res["tail"].items():
        if "stationary" not in k2:
            continue
        fr = [t["fraction"] for t in tl]
        (h,) = ax[2, 3].plot(fr, [t["theta"] for t in tl], "o-", label=k2)
        ax[2, 3].plot(fr, [t["theta"] for t in res["tail_distinct"][k2]], "x:",
                      color=h.get_color())
    ax[2, 3].axhline(0, color="0.5", lw=0.8)
    ax[2, 3].set(xscale="log", xlabel="tail fraction",
                 ylabel=r"$\theta$ (stationary; x: distinct values)")
    ax[2, 3].legend(frameon=False, fontsize=6)
    ax[2, 4].axis("off")
    return fig


def main(argv: list[str] | None = None) -> dict:
    args = _common.parse(__doc__, argv)
    if args.smoke:
        res = run(fp.ModelParams(L=6, N=8), args.seed, 2, 3, 0.6, 1e-3, 1, [0.2, 0.4], 20)
    else:
        res = run(fp.ModelParams(), args.seed, 48, 8, 2.0, 1e-4, 1, [0.01, 0.02, 0.05, 0.1, 0.2],
                  500)
    out = _common.out_dir(args, "fig4_9_densities")
    _common.save(out, "fig4_9_densities", res, plot(res))
    for k2, tl in res["tail"].items():
        print(k2, f"(repeats {res['duplicates'][k2]:.0%})",
              " ".join(f"{t['fraction']:.2f}:{t['theta']:+.2f}[{t['interval'][0]:+.2f},"
                       f"{t['interval'][1]:+.2f}]" for t in tl))
        print("   distinct:", " ".join(f"{t['fraction']:.2f}:{t['theta']:+.2f}"
                                       for t in res["tail_distinct"][k2]))
        print("   log-log slope:", " ".join(f"{t['fraction']:.2f}:{t['slope']:+.2f}"
                                            f"({t['stderr']:.2f})" for t in res["slope"][k2]))
    print(f"wall {res['wall_s']:.0f} s")
    return res


if __name__ == "__main__":
    main()

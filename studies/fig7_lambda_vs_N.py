"""Seed 004 fig. 7 / A.1: the optimal threshold scale lam_hat vs the number N of slip systems.

For each N, lam is re-tuned (lowest L_macro against the model-C reference at N = 36, with k and
chi fixed); Weibull minimum statistics predict lam_hat ~ N^(1/k) (the minimum of N Weibull
thresholds has scale lam N^(-1/k)).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

import femplastic as fp  # noqa: E402
from femplastic.weakplane import calibration as cal  # noqa: E402
from femplastic.weakplane import observables as obs  # noqa: E402


def run(p: fp.ModelParams, Ns, lam_factors, seed: int, realizations: int, gamma_end: float,
        dgamma: float) -> dict:
    ref = cal.model_statistics(p, seed + 1000, realizations, gamma_end=gamma_end,
                               dgamma=dgamma, meso=False)
    lam_hat, curves = [], {}
    for N in Ns:
        lam0 = p.lam * (N / p.N) ** (1.0 / p.k)
        lams = lam0 * np.asarray(lam_factors)
        errs = []
        for lam in lams:
            md = cal.model_statistics(p.replace(N=int(N), lam=float(lam)), seed, realizations,
                                      gamma_end=gamma_end, dgamma=dgamma, meso=False)
            errs.append(cal.errors_macro(md, ref))
        errs = np.array(errs)
        i = int(np.argmin(errs))
        if 0 < i < len(lams) - 1:  # parabola through the minimum and its neighbours
            c, b, _ = np.polyfit(lams[i - 1:i + 2], errs[i - 1:i + 2], 2)
            best = -b / (2 * c) if c > 0 else lams[i]
        else:
            best = lams[i]
        lam_hat.append(float(best))
        curves[int(N)] = {"lam": lams, "L_macro": errs}
    A, b = obs.power_law_fit(Ns, lam_hat)
    return {"N": np.asarray(Ns), "lam_hat": np.array(lam_hat), "fit": {"A": A, "exponent": b},
            "expected_exponent": 1.0 / p.k, "scans": curves}


def plot(res: dict):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 3.5), constrained_layout=True)
    N = np.asarray(res["N"])
    ax.loglog(N, res["lam_hat"], "o", label=r"$\hat\lambda$")
    f = res["fit"]
    ax.loglog(N, f["A"] * N ** f["exponent"], "k--",
              label=f"fit slope {f['exponent']:.2f} (1/k = {res['expected_exponent']:.2f})")
    ax.set(xlabel="N", ylabel=r"$\hat\lambda$")
    ax.legend(frameon=False, fontsize=8)
    return fig


def main(argv: list[str] | None = None) -> dict:
    args = _common.parse(__doc__, argv)
    if args.smoke:
        res = run(fp.ModelParams(L=6, N=8), [4, 8, 16], [0.8, 1.0, 1.25], args.seed, 2, 0.7,
                  1e-3)
    else:
        res = run(fp.ModelParams(), [8, 16, 36, 64, 100], [0.8, 0.9, 1.0, 1.1, 1.25],
                  args.seed, 8, 2.0, 1e-4)
    _common.save(_common.out_dir(args, "fig7_lambda_vs_N"), "fig7_lambda_vs_N", res, plot(res))
    return res


if __name__ == "__main__":
    main()

"""Seed 004 fig. 3 (a, b, d): calibration errors vs k, against a synthetic model-C reference.

For each k of a grid, the (lam, chi) pair of lowest L_macro, then L_macro and L_stat at that
pair and the parabola through L_stat(k) whose minimum gives k_hat (parameter-recovery mode:
no atomistic data ships, so the reference is the model itself at known parameters; pass
``--reference FILE.npz`` to calibrate against your own data, see femplastic.weakplane.calibration).
With ``--workers N`` the reference and the sweep run as ensembles in N processes, stored in
the output folder (``reference.h5``, ``sweep/``): an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

import femplastic as fp  # noqa: E402
from femplastic.weakplane import calibration as cal  # noqa: E402


def run(truth: fp.ModelParams, k_grid, lam_grid, chi_grid, seed: int, realizations: int,
        gamma_end: float, dgamma: float, stride: int, reference: str | None = None,
        workers: int | None = None, store: Path | None = None) -> dict:
    par = {} if workers is None else {"workers": workers}
    if reference is None:
        ref = cal.model_statistics(truth, seed + 1000, 2 * realizations, gamma_end=gamma_end,
                                   dgamma=dgamma, stride=stride,
                                   store=None if workers is None else store / "reference.h5",
                                   **par)
    else:
        ref = cal.ReferenceData.load(reference)
    sw = cal.sweep(ref, truth, k_grid, lam_grid, chi_grid, seed=seed, realizations=realizations,
                   gamma_end=gamma_end, dgamma=dgamma, stride=stride,
                   store=None if workers is None else store / "sweep", **par)
    full = [d for d in sw.details if "L_stat" in d]  # the best pair of each k, in k order
    return {"k": sw.k, "lam": sw.lam, "chi": sw.chi, "L_macro": sw.L_macro, "L_stat": sw.L_stat,
            "L_meso+": np.array([d["L_meso+"] for d in full]),
            "L_meso-": np.array([d["L_meso-"] for d in full]),
            "L_drops": np.array([d["L[P] drops"] for d in full]),
            "k_hat": sw.k_hat, "lam_hat": sw.lam_hat, "chi_hat": sw.chi_hat,
            "parabola": sw.coefficients, "truth": truth.to_dict() if reference is None else None}


def plot(res: dict):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axs = plt.subplots(1, 2, figsize=(10, 3.5), constrained_layout=True)
    ax = axs[0]
    k = np.asarray(res["k"])
    ax.plot(k, res["L_macro"], "s-", label=r"$\mathcal{L}_{macro}$")
    ax.plot(k, res["L_stat"], "o-", label=r"$\mathcal{L}_{stat}$")
    kk = np.linspace(k.min(), k.max(), 100)
    a, b, c = res["parabola"]
    ax.plot(kk, a + b * kk + c * kk**2, "k--", lw=0.8, label="parabola")
    ax.axvline(res["k_hat"], color="C3", lw=0.8, label=rf"$\hat k$ = {res['k_hat']:.2f}")
    if res["truth"]:
        ax.axvline(res["truth"]["k"], color="0.5", ls=":", label="true k")
    ax.set(xlabel="k", ylabel="error", title="(a, b)")
    ax.legend(frameon=False, fontsize=8)
    for key, lab in (("L_macro", r"$\mathcal{L}_{macro}$"), ("L_meso+", r"$\mathcal{L}^+_{meso}$"),
                     ("L_meso-", r"$\mathcal{L}^-_{meso}$")):
        axs[1].plot(k, res[key], "o-", label=lab)
    axs[1].axvline(res["k_hat"], color="C3", lw=0.8)
    axs[1].set(xlabel="k", ylabel="error", title="(d) components of L_stat")
    axs[1].legend(frameon=False, fontsize=8)
    return fig


def main(argv: list[str] | None = None) -> dict:
    args = _common.parse(__doc__, argv, extra=[
        (("--reference",), {"default": None, "help": "calibrate against this ReferenceData .npz "
                            "(default: a synthetic model C reference)"}),
        (("--workers",), {"type": int, "default": None, "help": "run the realisations in this "
                          "many processes, stored in the output folder and resumable "
                          "(default: a serial loop, nothing stored)"})])
    if args.workers is not None and args.workers < 1:
        raise SystemExit(f"--workers must be >= 1, got {args.workers}")
    out = _common.out_dir(args, "fig3_calibration")
    par = dict(reference=args.reference, workers=args.workers, store=out)
    if args.smoke:
        truth = fp.ModelParams(L=6, N=8, k=2.2)
        res = run(truth, [1.6, 2.2, 2.8], [truth.lam], [truth.chi], args.seed, 2, 0.7, 1e-3, 3,
                  **par)
    else:
        truth = fp.ModelParams(k=2.18)
        res = run(truth, np.arange(1.5, 3.01, 0.25), [1.85, 2.05, 2.25], [2.0, 2.25, 2.5],
                  args.seed, 8, 2.0, 1e-4, 2, **par)
    _common.save(out, "fig3_calibration", res, plot(res))
    return res


if __name__ == "__main__":
    main()

"""Seed 003 (Puosi, Olivier & Martens, Soft Matter 2015), Fig. 3: the universal HL relation.

In the Hebraud-Lequeux model the low-rate flow curve is ``Sigma = sigma_Y + A gdot^(1/2)``
for ``alpha < 1/2`` and both constants depend on ``alpha`` only, so that
``A / sqrt(G0 tau sigma_c)`` vs ``sigma_Y / sigma_c`` is one curve parametrised by alpha.

``run`` tabulates the curve from the quasistatic formulas (derived in
``docs_notes/meanfield.md``), checks a few of its points against Herschel-Bulkley fits of
flow curves computed by the finite-volume solver, and places externally measured points
(``points=[(sigma_Y / sigma_c, A / sqrt(G0 tau sigma_c), label), ...]``, e.g. from the
scalar lattice model) with the alpha they imply (``alpha_flow`` of the seed's Table 1).

Usage: ``python studies/puosi_fig3.py --out DIR [--smoke] [--seed S] [--point SY A LABEL]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import pathlib
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from femplastic import meanfield as mf

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: The seed's coupling estimates (Table 1): alpha_micro ~ 0.26, alpha_flow ~ 0.33.
SEED_ALPHAS: tuple[tuple[float, str], ...] = (
    (0.26, "alpha_micro (seed)"),
    (0.33, "alpha_flow (seed)"),
)


def run(
    *,
    n_alpha: int = 300,
    check_alphas: Sequence[float] = (0.1, 0.2, 0.3, 0.4),
    rates: Sequence[float] | None = None,
    resolution: float = 1.0,
    points: Sequence[tuple[float, float, str]] = (),
    marked_alphas: Sequence[tuple[float, str]] = SEED_ALPHAS,
    rng: np.random.Generator | None = None,
) -> dict[str, Any]:
    """Compute the universal HL curve, solver checks and the placement of given points.

    Parameters
    ----------
    n_alpha : int
        Number of couplings on the curve (0.005 to 0.49).
    check_alphas : sequence of float
        Couplings in (0, 0.5) at which flow curves are computed with the finite-volume
        solver and fitted with ``sigma_Y + A gdot^(1/2) + B gdot`` (and a free-exponent HB).
    rates : sequence of float, optional
        Shear rates of the check flow curves (units sigma_c / (G0 tau)); default
        ``logspace(-9, -6, 10)``.
    resolution : float
        Grid refinement of the finite-volume solver (see ``hl_steady_state``).
    points : sequence of (float, float, str)
        Measured ``(sigma_Y / sigma_c, A / sqrt(G0 tau sigma_c), label)`` to place.
    marked_alphas : sequence of (float, str)
        Couplings to mark on the curve.
    rng : numpy.random.Generator, optional
        Unused (the mean-field computation is deterministic); part of the common study
        interface.

    Returns
    -------
    dict
        ``curve`` (alpha, sigma_Y, A lists), ``checks`` (per check alpha: theory and fitted
        values), ``marked``, ``points`` (with their ``alpha_flow``), ``rates``, ``timing``.
    """
    del rng  # deterministic computation
    t0 = time.perf_counter()
    r = np.logspace(-9, -6, 10) if rates is None else np.asarray(rates, dtype=float)
    curve = mf.hl_universal_curve(n=n_alpha)
    checks = []
    for a in check_alphas:
        fc = mf.hl_flow_curve(a, r, resolution=resolution)
        basis = np.column_stack([np.ones_like(r), np.sqrt(r), r])
        (sy, amp, lin), *_ = np.linalg.lstsq(basis, fc, rcond=None)
        free = mf.hb_fit(r, fc)
        checks.append(
            {
                "alpha": float(a),
                "sigma_Y_theory": mf.hl_yield_stress(a),
                "A_theory": mf.hl_hb_prefactor(a),
                "sigma_Y_solver": float(sy),
                "A_solver": float(amp),
                "B_solver": float(lin),
                "n_free_fit": free.n,
                "flow_curve": fc.tolist(),
            }
        )
    marked = [
        {"alpha": a, "label": lab, "sigma_Y": mf.hl_yield_stress(a), "A": mf.hl_hb_prefactor(a)}
        for a, lab in marked_alphas
    ]
    placed = []
    for sy, amp, lab in points:
        alpha_flow = mf.alpha_from_yield_stress(sy) if 0.0 < sy < 0.5 else float("nan")
        a_pred = mf.hl_hb_prefactor(alpha_flow) if np.isfinite(alpha_flow) else float("nan")
        placed.append(
            {"sigma_Y": sy, "A": amp, "label": lab, "alpha_flow": alpha_flow, "A_hl": a_pred}
        )
    return {
        "curve": {
            "alpha": curve.alpha.tolist(),
            "sigma_Y": curve.sigma_Y.tolist(),
            "A": curve.A.tolist(),
        },
        "checks": checks,
        "marked": marked,
        "points": placed,
        "rates": r.tolist(),
        "resolution": resolution,
        "timing": time.perf_counter() - t0,
    }


def plot(results: dict[str, Any]) -> Figure:
    """Plot the universal curve with solver checks and points; returns a Figure."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9.0, 4.0), layout="constrained")
    ax, ax2 = fig.subplots(1, 2)
    c = results["curve"]
    ax.plot(c["sigma_Y"], c["A"], "k-", lw=1.5, label="HL, quasistatic theory")
    for chk in results["checks"]:
        ax.plot(chk["sigma_Y_solver"], chk["A_solver"], "o", mfc="none", color="C0", ms=7)
    if results["checks"]:
        ax.plot([], [], "o", mfc="none", color="C0", label="FV solver + fit")
    for m in results["marked"]:
        ax.plot(m["sigma_Y"], m["A"], "s", color="C1", ms=5)
        ax.annotate(m["label"], (m["sigma_Y"], m["A"]), xytext=(5, 5), textcoords="offset points")
    for i, p in enumerate(results["points"]):
        ax.plot(p["sigma_Y"], p["A"], "*", ms=11, color=f"C{i + 2}", label=p["label"])
    ax.set_xlabel(r"$\sigma_Y / \sigma_c$")
    ax.set_ylabel(r"$A / \sqrt{G_0 \tau \sigma_c}$")
    ax.set_yscale("log")
    ax.set_xlim(0.0, 0.5)
    ax.legend(fontsize=8)
    ax.set_title("Universal HL relation (seed 003, Fig. 3)")
    r = np.asarray(results["rates"])
    for i, chk in enumerate(results["checks"]):
        fc = np.asarray(chk["flow_curve"])
        ax2.plot(np.sqrt(r), (fc - chk["sigma_Y_theory"]) / np.sqrt(r), "o", color=f"C{i}")
        ax2.axhline(chk["A_theory"], color=f"C{i}", lw=0.8, label=f"alpha = {chk['alpha']:g}")
    ax2.set_xscale("log")
    ax2.set_xlabel(r"$\dot\gamma^{1/2}$")
    ax2.set_ylabel(r"$(\Sigma - \sigma_Y^{th}) / \dot\gamma^{1/2}$  (lines: $A^{th}$)")
    ax2.legend(fontsize=8)
    ax2.set_title("Flow curves: solver vs theory")
    return fig


def _write(results: dict[str, Any], out: pathlib.Path, png: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "puosi_fig3.json").write_text(json.dumps(results, indent=1))
    with open(out / "puosi_fig3_curve.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["alpha", "sigma_Y_over_sigma_c", "A_over_sqrt_G0_tau_sigma_c"])
        c = results["curve"]
        w.writerows(zip(c["alpha"], c["sigma_Y"], c["A"], strict=True))
    if png:
        plot(results).savefig(out / "puosi_fig3.png", dpi=150)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command-line entry point: ``--seed --out DIR --smoke [--point SY A LABEL]``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=pathlib.Path, default=pathlib.Path("out/puosi_fig3"))
    ap.add_argument("--smoke", action="store_true", help="tiny run (a few seconds)")
    ap.add_argument(
        "--point",
        nargs=3,
        action="append",
        default=[],
        metavar=("SY", "A", "LABEL"),
        help="measured (sigma_Y/sigma_c, A/sqrt(G0 tau sigma_c), label); repeatable",
    )
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    points = [(float(s), float(a), lab) for s, a, lab in args.point]
    if args.smoke:
        res = run(
            n_alpha=30,
            check_alphas=(0.3,),
            rates=np.logspace(-8, -6, 5),
            points=points,
            rng=rng,
        )
    else:
        res = run(
            n_alpha=400,
            check_alphas=(0.05, 0.1, 0.2, 0.3, 0.4, 0.45),
            rates=np.logspace(-8, -4, 12),
            resolution=4.0,
            points=points,
            rng=rng,
        )
    _write(res, args.out, png=not args.smoke)
    for chk in res["checks"]:
        print(
            f"alpha={chk['alpha']:.3f}  sigma_Y: theory {chk['sigma_Y_theory']:.6f} "
            f"solver {chk['sigma_Y_solver']:.6f} | A: theory {chk['A_theory']:.5f} "
            f"solver {chk['A_solver']:.5f} | free-n fit n = {chk['n_free_fit']:.4f}"
        )
    for p in res["points"]:
        print(f"{p['label']}: alpha_flow = {p['alpha_flow']:.4f}, HL A there {p['A_hl']:.4f}")
    print(f"wrote {args.out} ({res['timing']:.2f} s)")
    return res


if __name__ == "__main__":
    main()

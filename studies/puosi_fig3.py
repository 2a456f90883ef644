"""Seed 003 (Puosi, Olivier & Martens, Soft Matter 2015), Fig. 3: the universal HL relation.

In the Hebraud-Lequeux model the low-rate flow curve is ``Sigma = sigma_Y + A gdot^(1/2)``
for ``alpha < 1/2`` and both constants depend on ``alpha`` only, so that
``A / sqrt(G0 tau sigma_c)`` vs ``sigma_Y / sigma_c`` is one curve parametrised by alpha.

``run`` tabulates the curve from the quasistatic formulas (derived in
``docs/validation/meanfield.md``), checks a few of its points against Herschel-Bulkley fits of
flow curves computed by the finite-volume solver, and places externally measured points
(``points=[(sigma_Y / sigma_c, A / sqrt(G0 tau sigma_c), label), ...]``) with the alpha
they imply (``alpha_flow`` of the seed's Table 1).

With ``scalar=ScalarSettings(...)`` it also measures the project's scalar finite-rate
lattice model (Liu et al., ``femplastic.lattice``) the way the seed measures its MD glass.
**The seed's numbers (alpha_micro ~ 0.26, relative drop ~ 0.2) come from MD of a 2D
Lennard-Jones glass; every number this study measures comes from the Liu EPM**, so they are
properties of that EPM, not a like-for-like test of the seed's values:

* **flow curve**: fixed-rate runs at several low rates, steady mean stress, HB fit with the
  exponent fixed to 1/2 on the lowest rates (and a free-exponent fit), normalised with
  ``G0 = mu``, ``tau`` = the model's ``tau`` and ``sigma_c`` = the mean local threshold of
  the population in steady flow at the lowest rate (the analogue of the seed's frozen-matrix
  ``<sigma_c^m>``; two alternatives, the mean threshold and the mean stress of the sites
  that yield, are reported too);
* **bridge**: per-site series ``sigma_i(t)``, ``n_i(t)``, ``sigma_th_i(t)`` recorded in steady
  flow (``run_fixed_rate`` has no per-site record, so the run is advanced in chunks of one
  sampling interval and the returned state is stored; chunking leaves the trajectory
  bit-identical; :func:`femplastic.lattice.bridge.record_sites`), from which ``D_sigma``,
  ``Gamma``, the mean local drop and ``alpha_micro = D_sigma / (<dsigma>^2 Gamma)`` (seed
  eq. 8) are measured (:func:`femplastic.lattice.bridge.measure_bridge_scalar`);
* **HL placement**: where the original HL model puts a material with the measured
  couplings, and an HL model extended with the measured partial relaxation and the
  model's threshold renewal distribution (``meanfield.HLExtensions``).

Usage: ``python studies/puosi_fig3.py --out DIR [--smoke] [--seed S] [--point SY A LABEL]
[--no-scalar]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import pathlib
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from femplastic import meanfield as mf
from femplastic.lattice import (
    FiniteRateParams,
    FiniteRateState,
    finite_rate_initial_state,
    fit_herschel_bulkley,
    run_fixed_rate,
    steady_mean,
)
from femplastic.lattice.bridge import hl_extensions_for, measure_bridge_scalar, record_sites

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _common  # noqa: E402

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Where the numbers come from: the seed's values and femplastic's are different systems.
SEED_SYSTEM = ("Puosi et al. values (alpha_micro ~ 0.26, relative drop ~ 0.2, alpha_flow ~ 0.33): "
               "molecular dynamics of a 2D binary Lennard-Jones glass")
SCALAR_SYSTEM = ("femplastic values: the Liu et al. scalar lattice EPM (femplastic.lattice, "
                 "Liu et al. 2021), not the seed's MD glass")

#: The seed's coupling estimates (Table 1): alpha_micro ~ 0.26, alpha_flow ~ 0.33.
SEED_ALPHAS: tuple[tuple[float, str], ...] = (
    (0.26, "alpha_micro (seed)"),
    (0.33, "alpha_flow (seed)"),
)


# --------------------------------------------------------------------------------------------
# scalar finite-rate lattice model: settings, flow curve, per-site records
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScalarSettings:
    """What to measure in the scalar finite-rate model (strains engineering, LJ times).

    Parameters
    ----------
    params : FiniteRateParams
        Model parameters (default: the seed-000/001 values, 32 x 32).
    rates : tuple of float
        Shear rates of the flow curve (1/time), increasing, > 0.
    fit_max_rate : float
        The HB fit with exponent 1/2 uses the rates <= this (the low-rate regime); at least
        two of them.
    strain_warm, strain_measure : float
        Strain discarded (transient from the initial state) and strain averaged over, > 0.
    n_realisations : int
        Independent runs per rate (fresh initial states), >= 1.
    n_snapshots : int
        Threshold snapshots per measuring run (population mean threshold), >= 1.
    bridge_rates : tuple of float
        Rates at which per-site series are recorded; each must be in ``rates`` (the record
        continues the first realisation's steady state).
    bridge_strain : float
        Strain covered by each per-site record, > 0.
    sample : float
        Sampling interval of the per-site record (time), a multiple of ``params.dt``.
    window : tuple of float
        Lags of the diffusion fit, in units of ``tau_res`` (the duration of an event):
        beyond the ballistic regime of the event ramps, before the selection of long quiet
        windows bends the msd.
    n_window : int
        Number of lags in the window (>= 2).
    hl_classes : int
        Threshold classes of the extended HL prediction (0: skip it).
    hl_rates : tuple of float
        Reduced rates ``G0 gdot tau / sigma_c`` of the HL flow curves fitted for the
        extended prediction.
    """

    params: FiniteRateParams = field(default_factory=FiniteRateParams)
    rates: tuple[float, ...] = (3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
    fit_max_rate: float = 1e-3
    strain_warm: float = 0.5
    strain_measure: float = 1.0
    n_realisations: int = 2
    n_snapshots: int = 10
    bridge_rates: tuple[float, ...] = (3e-4, 1e-3)
    bridge_strain: float = 1.0
    sample: float = 0.1
    window: tuple[float, float] = (1.5, 5.0)
    n_window: int = 6
    hl_classes: int = 8
    hl_rates: tuple[float, ...] = tuple(np.logspace(-7, -4, 6))

    @classmethod
    def smoke(cls) -> ScalarSettings:
        """Seconds-long version (16 x 16, short runs, high rates)."""
        return cls(
            params=FiniteRateParams(L=16),
            rates=(2e-3, 5e-3, 1e-2, 2e-2),
            fit_max_rate=1e-2,
            strain_warm=0.15,
            strain_measure=0.25,
            n_realisations=1,
            n_snapshots=3,
            bridge_rates=(1e-2,),
            bridge_strain=0.5,
            sample=0.1,
            hl_classes=2,
            hl_rates=(1e-6, 1e-5, 1e-4),
        )


def _steps(duration: float, dt: float) -> float:
    """``duration`` rounded to a whole, non-zero number of steps ``dt``."""
    return max(1, round(duration / dt)) * dt


def _flow_point(
    p: FiniteRateParams, gdot: float, s: ScalarSettings, rng: np.random.Generator
) -> tuple[dict[str, float], FiniteRateState]:
    """One fixed-rate run from a fresh state: steady mean stress, SEM, mean threshold."""
    st = finite_rate_initial_state(p, rng)
    T_warm = _steps(s.strain_warm / gdot, p.dt)
    _, st = run_fixed_rate(p, st, gdot, T_warm, rng, record_every=1000)
    T_seg = _steps(s.strain_measure / gdot / s.n_snapshots, p.dt)
    rec = max(1, int(T_seg / p.dt) // 200)
    sig, th = [], []
    for _ in range(s.n_snapshots):
        tr, st = run_fixed_rate(p, st, gdot, T_seg, rng, record_every=rec)
        sig.append(tr.sigma_ext)
        th.append(float(st.threshold.mean()))
    mean, sem = steady_mean(np.concatenate(sig), skip=0.0)
    return {"sigma": mean, "sem": sem, "threshold": float(np.mean(th))}, st


def _hb_half(
    rates: np.ndarray, sigma: np.ndarray, err: np.ndarray
) -> tuple[float, float, float, float, float]:
    """Weighted least squares ``Sigma = sigma_Y + A gdot^(1/2)``.

    Returns ``(sigma_Y, A, sigma_Y_err, A_err, chi2 / dof)`` (errors from the weighted
    covariance with the given SEMs; ``chi2 / dof`` is nan for two points).
    """
    w = 1.0 / np.maximum(err, 1e-12)
    X = np.column_stack([np.ones_like(rates), np.sqrt(rates)])
    Xw, yw = X * w[:, None], sigma * w
    coef, *_ = np.linalg.lstsq(Xw, yw, rcond=None)
    cov = np.linalg.inv(Xw.T @ Xw)
    dof = rates.size - 2
    chi2 = float(np.sum((Xw @ coef - yw) ** 2)) / dof if dof > 0 else math.nan
    return float(coef[0]), float(coef[1]), *map(float, np.sqrt(np.diag(cov))), chi2


def _hl_point(alpha: float) -> tuple[float, float]:
    """Original HL quasistatic point at ``alpha`` (nan, nan for no yield stress)."""
    if 0.0 < alpha < 0.5:
        return mf.hl_yield_stress(alpha), mf.hl_hb_prefactor(alpha)
    return math.nan, math.nan


def _hl_extended_point(
    alpha: float, p: FiniteRateParams, sigma_c: float, drop: float, rel: float, s: ScalarSettings
) -> dict[str, Any]:
    """HL with the measured partial relaxation and the model's threshold renewal.

    Units ``sigma_c = G0 = tau = 1``: thresholds ``Weibull(k_d, sigma_d) / sigma_c`` in
    ``hl_classes`` equal-weight classes redrawn after each event, restart at
    ``(1 - rel) sigma``, noise ``D = alpha (drop)^2 Gamma``; HB fit with n = 1/2 of the flow
    curve at ``hl_rates``.
    """
    ext = hl_extensions_for(p, sigma_c, drop, rel, s.hl_classes)
    r = np.asarray(s.hl_rates, dtype=float)
    fc = mf.hl_flow_curve(alpha, r, extensions=ext)
    hb = mf.hb_fit(r, fc, n=0.5)
    free = mf.hb_fit(r, fc) if r.size >= 4 else None
    return {
        "alpha": alpha,
        "n_classes": s.hl_classes,
        "relax_fraction": rel,
        "noise_scale": drop / sigma_c,
        "sigma_Y": hb.sigma_Y,
        "A": hb.A,
        "n_free": free.n if free is not None else math.nan,
        "flow_curve": fc.tolist(),
    }


def run_scalar(s: ScalarSettings, rng: np.random.Generator) -> dict[str, Any]:
    """Flow curve, HB fits, per-site bridge and HL placements of the scalar model.

    Parameters
    ----------
    s : ScalarSettings
    rng : numpy.random.Generator
        Root generator; one child per (rate, realisation).

    Returns
    -------
    dict
        ``flow_curve``, ``hb_half``, ``hb_free_all``, ``hb_free_low``, ``sigma_c`` (the
        candidates and the choice), ``point`` (normalised flow-curve point and its
        alternatives), ``bridge`` (one dict per bridge rate), ``hl`` (HL placements of the
        measured couplings), ``timing``.
    """
    t0 = time.perf_counter()
    p = s.params
    rates = np.asarray(s.rates, dtype=float)
    if np.any(rates <= 0) or np.any(np.diff(rates) <= 0):
        raise ValueError(f"rates must be increasing and > 0, got {s.rates}")
    if not set(s.bridge_rates) <= set(s.rates):
        raise ValueError(f"bridge_rates {s.bridge_rates} must be among rates {s.rates}")
    flow, states = [], {}
    for g in rates:
        pts = []
        for i, child in enumerate(rng.spawn(s.n_realisations)):
            pt, st = _flow_point(p, float(g), s, child)
            pts.append(pt)
            if i == 0:
                states[float(g)] = (st, child)
        n = len(pts)
        flow.append(
            {
                "gdot": float(g),
                "sigma": float(np.mean([q["sigma"] for q in pts])),
                "sem": float(np.sqrt(np.sum([q["sem"] ** 2 for q in pts])) / n),
                "threshold": float(np.mean([q["threshold"] for q in pts])),
                "realisations": [q["sigma"] for q in pts],
            }
        )
    t_flow = time.perf_counter() - t0
    sig = np.array([f["sigma"] for f in flow])
    err = np.maximum(np.array([f["sem"] for f in flow]), 1e-4)
    low = rates <= s.fit_max_rate * (1 + 1e-12)
    if np.count_nonzero(low) < 2:
        raise ValueError("fit_max_rate must leave at least 2 rates for the n = 1/2 fit")
    sy, amp, sy_e, amp_e, chi2 = _hb_half(rates[low], sig[low], err[low])
    hb_free_all = fit_herschel_bulkley(rates, sig, err)
    hb_free_low = fit_herschel_bulkley(rates[low], sig[low], err[low]) if low.sum() >= 4 else None

    # sigma_c: population mean threshold in steady flow at the lowest rate (primary)
    sigma_c = flow[0]["threshold"]
    scale = math.sqrt(p.mu * p.tau * sigma_c)

    bridge = []
    for g in s.bridge_rates:
        st, child = states[float(g)]
        rec = record_sites(p, st, g, _steps(s.bridge_strain / g, s.sample), s.sample, child)
        bridge.append(
            measure_bridge_scalar(rec, p, g, sigma_c, window=s.window, n_window=s.n_window)
        )
        del rec
    t_bridge = time.perf_counter() - t0 - t_flow

    x, y = mf.universal_point(sy, amp, sigma_c=sigma_c, G0=p.mu, tau=p.tau)
    b0 = bridge[-1] if bridge else None  # the highest bridge rate: most events
    candidates = {"threshold_population": sigma_c}
    if b0 is not None:
        candidates["threshold_at_onset"] = b0["threshold_at_onset"]
        candidates["stress_at_onset"] = b0["stress_before"]
    alternatives = [
        {
            "sigma_c": v,
            "label": k,
            "sigma_Y": sy / v,
            "A": amp / math.sqrt(p.mu * p.tau * v),
        }
        for k, v in candidates.items()
    ]
    point = {
        "sigma_Y": x,
        "A": y,
        "sigma_Y_err": sy_e / sigma_c,
        "A_err": amp_e / scale,
        "alpha_flow": mf.alpha_from_yield_stress(x) if 0.0 < x < 0.5 else math.nan,
        "alternatives": alternatives,
    }

    hl: list[dict[str, Any]] = []
    if b0 is not None:
        for key, label in (
            ("alpha_micro", "HL at alpha_micro (eq. 8, seed's msd = D t)"),
            ("alpha_hl", "HL at alpha_micro / 2 (eq. 8, HL's msd = 2 D t)"),
            ("alpha_hl_sigma_c", "HL at D_HL / (sigma_c^2 Gamma) (eq. 3)"),
        ):
            a = b0[key]
            hx, hy = _hl_point(a)
            hl.append({"key": key, "label": label, "alpha": a, "sigma_Y": hx, "A": hy})
        if s.hl_classes > 0:
            ext = _hl_extended_point(
                b0["alpha_hl"], p, sigma_c, b0["mean_drop"], b0["relative_drop"], s
            )
            ext.update(key="extended", label="HL + partial relaxation + threshold renewal")
            hl.append(ext)
    settings = {k: v for k, v in asdict(s).items() if k != "params"}
    return {
        "system": SCALAR_SYSTEM,
        "seed_values_system": SEED_SYSTEM,
        "settings": settings,
        "params": asdict(p),
        "flow_curve": flow,
        "hb_half": {
            "sigma_Y": sy,
            "A": amp,
            "sigma_Y_err": sy_e,
            "A_err": amp_e,
            "chi2_dof": chi2,
            "rates": rates[low].tolist(),
        },
        "hb_free_all": asdict(hb_free_all),
        "hb_free_low": asdict(hb_free_low) if hb_free_low is not None else None,
        "sigma_c": {"used": sigma_c, "choice": "threshold_population", **candidates},
        "G0": p.mu,
        "tau": p.tau,
        "point": point,
        "bridge": bridge,
        "hl": hl,
        "timing": {"flow": t_flow, "bridge": t_bridge, "total": time.perf_counter() - t0},
    }


# --------------------------------------------------------------------------------------------
# the universal curve
# --------------------------------------------------------------------------------------------


def run(
    *,
    n_alpha: int = 300,
    check_alphas: Sequence[float] = (0.1, 0.2, 0.3, 0.4),
    rates: Sequence[float] | None = None,
    resolution: float = 1.0,
    points: Sequence[tuple[float, float, str]] = (),
    marked_alphas: Sequence[tuple[float, str]] = SEED_ALPHAS,
    scalar: ScalarSettings | None = None,
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
    scalar : ScalarSettings, optional
        Measure the scalar finite-rate lattice model (:func:`run_scalar`); its flow-curve
        point is placed like ``points``.
    rng : numpy.random.Generator, optional
        Randomness of the scalar-model runs (required with ``scalar``; the mean-field
        computation is deterministic).

    Returns
    -------
    dict
        ``curve`` (alpha, sigma_Y, A lists), ``checks`` (per check alpha: theory and fitted
        values), ``marked``, ``points`` (with their ``alpha_flow``), ``rates``, ``scalar``
        (or None), ``timing``.
    """
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
    scalar_res = None
    all_points = list(points)
    if scalar is not None:
        if rng is None:
            raise ValueError("rng (a numpy.random.Generator) is required with scalar")
        scalar_res = run_scalar(scalar, rng)
        pt = scalar_res["point"]
        all_points.append((pt["sigma_Y"], pt["A"], "scalar lattice model (flow curve)"))
    placed = []
    for sy, amp, lab in all_points:
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
        "scalar": scalar_res,
        "timing": time.perf_counter() - t0,
    }


# --------------------------------------------------------------------------------------------
# figure and output
# --------------------------------------------------------------------------------------------


def _plot_universal(ax: Any, results: dict[str, Any]) -> None:
    c = results["curve"]
    ax.plot(c["sigma_Y"], c["A"], "k-", lw=1.5, label="HL, quasistatic theory")
    for chk in results["checks"]:
        ax.plot(chk["sigma_Y_solver"], chk["A_solver"], "o", mfc="none", color="C0", ms=7)
    if results["checks"]:
        ax.plot([], [], "o", mfc="none", color="C0", label="FV solver + fit")
    for m in results["marked"]:
        ax.plot(m["sigma_Y"], m["A"], "s", color="C1", ms=5)
        ax.annotate(m["label"], (m["sigma_Y"], m["A"]), xytext=(5, 5), textcoords="offset points",
                    fontsize=7)
    sc = results.get("scalar")
    xmax = 0.5
    for i, p in enumerate(results["points"]):
        if sc is not None and p["label"].startswith("scalar lattice"):
            pt = sc["point"]
            ax.errorbar(pt["sigma_Y"], pt["A"], xerr=pt["sigma_Y_err"], yerr=pt["A_err"],
                        fmt="*", ms=12, color="C3", label=p["label"] + r", $\sigma_c$ = <th>")
            for j, alt in enumerate(pt["alternatives"][1:]):
                ax.plot(alt["sigma_Y"], alt["A"], "*", ms=9, mfc="none", color=f"C{4 + j}",
                        label=r"same, $\sigma_c$ = " + alt["label"].replace("_", " "))
                xmax = max(xmax, alt["sigma_Y"])
            xmax = max(xmax, pt["sigma_Y"])
        else:
            ax.plot(p["sigma_Y"], p["A"], "*", ms=11, color=f"C{i + 6}", label=p["label"])
            xmax = max(xmax, p["sigma_Y"])
    if sc is not None:
        marks = {"alpha_micro": "D", "alpha_hl": "v", "alpha_hl_sigma_c": "^", "extended": "P"}
        for h in sc["hl"]:
            if np.isfinite(h["sigma_Y"]):
                ax.plot(h["sigma_Y"], h["A"], marks.get(h["key"], "x"), color="C2", ms=7,
                        label=f"{h['label']}: alpha = {h['alpha']:.3g}")
                xmax = max(xmax, h["sigma_Y"])
            else:
                ax.plot([], [], "x", color="C2",
                        label=f"{h['label']}: alpha = {h['alpha']:.3g} (no yield stress)")
    ax.axvline(0.5, color="0.6", lw=0.8, ls=":")
    ax.set_xlabel(r"$\sigma_Y / \sigma_c$")
    ax.set_ylabel(r"$A / \sqrt{G_0 \tau \sigma_c}$")
    ax.set_yscale("log")
    ax.set_xlim(0.0, 1.05 * xmax)
    ax.legend(fontsize=6, loc="upper right")
    ax.set_title("Universal HL relation (Puosi et al. 2015, Fig. 3)", fontsize=9)


def plot(results: dict[str, Any]) -> Figure:
    """Plot the universal curve with solver checks and points; returns a Figure.

    Two panels without the scalar model (universal curve; solver flow curves vs theory),
    four with it (plus the scalar flow curve with its HB fits and the local stress msd).
    """
    from matplotlib.figure import Figure

    sc = results.get("scalar")
    if sc is None:
        fig = Figure(figsize=(9.0, 4.0), layout="constrained")
        ax, ax2 = fig.subplots(1, 2)
    else:
        fig = Figure(figsize=(11.0, 8.5), layout="constrained")
        (ax, ax2), (ax3, ax4) = fig.subplots(2, 2)
    _plot_universal(ax, results)
    r = np.asarray(results["rates"])
    for i, chk in enumerate(results["checks"]):
        fc = np.asarray(chk["flow_curve"])
        ax2.plot(np.sqrt(r), (fc - chk["sigma_Y_theory"]) / np.sqrt(r), "o", color=f"C{i}")
        ax2.axhline(chk["A_theory"], color=f"C{i}", lw=0.8, label=f"alpha = {chk['alpha']:g}")
    ax2.set_xscale("log")
    ax2.set_xlabel(r"$\dot\gamma^{1/2}$")
    ax2.set_ylabel(r"$(\Sigma - \sigma_Y^{th}) / \dot\gamma^{1/2}$  (lines: $A^{th}$)")
    ax2.legend(fontsize=8)
    ax2.set_title("Flow curves: solver vs theory", fontsize=9)
    if sc is None:
        return fig
    fc = sc["flow_curve"]
    g = np.array([f["gdot"] for f in fc])
    ax3.errorbar(np.sqrt(g), [f["sigma"] for f in fc], yerr=[f["sem"] for f in fc], fmt="o",
                 color="C3", label="scalar model, steady mean")
    hb = sc["hb_half"]
    gg = np.linspace(0.0, np.sqrt(g.max()), 100)
    ax3.plot(gg, hb["sigma_Y"] + hb["A"] * gg, "k-", lw=1,
             label=rf"$n = 1/2$ fit ($\dot\gamma \leq$ {max(hb['rates']):g}): "
             rf"$\sigma_Y$ = {hb['sigma_Y']:.4f}, A = {hb['A']:.3f}")
    fr = sc["hb_free_all"]
    ax3.plot(gg, fr["sigma_y"] + fr["A"] * gg ** (2 * fr["n"]), "k--", lw=1,
             label=f"free fit, all rates: n = {fr['n']:.2f}")
    ax3.set_xlabel(r"$\dot\gamma^{1/2}$")
    ax3.set_ylabel(r"$\Sigma$ (LJ)")
    ax3.legend(fontsize=7)
    ax3.set_title("Scalar finite-rate model: flow curve", fontsize=9)
    for i, b in enumerate(sc["bridge"]):
        lag = np.asarray(b["msd_curve"]["lag"])
        msd = np.asarray(b["msd_curve"]["msd"])
        norm = b["mean_drop"] ** 2 * b["Gamma"]
        ax4.plot(lag, msd / lag / norm, "o-", ms=3, color=f"C{i}",
                 label=rf"$\dot\gamma$ = {b['gdot']:g}: msd/(t $\Delta\sigma^2\Gamma$)")
        ax4.axhline(b["alpha_micro"], color=f"C{i}", ls="--", lw=0.8,
                    label=rf"slope in window: $\alpha_{{micro}}$ = {b['alpha_micro']:.2f}")
        ax4.axvspan(*b["window_time"], color=f"C{i}", alpha=0.08)
    ax4.axhline(0.26, color="k", ls=":", lw=0.8, label=r"seed $\alpha_{micro}$ = 0.26")
    ax4.set_xscale("log")
    ax4.set_xlabel("lag t (LJ time)")
    ax4.set_ylabel(r"msd / (t $\langle\Delta\sigma\rangle^2 \Gamma$)")
    ax4.legend(fontsize=7)
    ax4.set_title("Local stress msd of quiet sites (drift removed)", fontsize=9)
    return fig


def _write(results: dict[str, Any], out: pathlib.Path, png: bool) -> None:
    _common.fresh_dir(out)  # (a previous run's results are moved aside)
    (out / "puosi_fig3.json").write_text(json.dumps(results, indent=1))
    with open(out / "puosi_fig3_curve.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["alpha", "sigma_Y_over_sigma_c", "A_over_sqrt_G0_tau_sigma_c"])
        c = results["curve"]
        w.writerows(zip(c["alpha"], c["sigma_Y"], c["A"], strict=True))
    sc = results.get("scalar")
    if sc is not None:
        with open(out / "puosi_fig3_scalar_flow.csv", "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["gdot", "sigma_ext", "sem", "mean_threshold"])
            w.writerows((f["gdot"], f["sigma"], f["sem"], f["threshold"]) for f in sc["flow_curve"])
        keys = ["gdot", "D_sigma", "D_sigma_seed_eq7", "Gamma", "Gamma_onsets", "mean_drop",
                "relative_drop", "alpha_micro", "alpha_hl", "alpha_micro_sigma_c",
                "quiet_drift_rate", "G0_gdot", "threshold_at_onset", "stress_before",
                "n_events"]
        with open(out / "puosi_fig3_bridge.csv", "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(keys)
            w.writerows([b[k] for k in keys] for b in sc["bridge"])
    if png:
        import matplotlib.pyplot as plt

        fig = plot(results)
        fig.savefig(out / "puosi_fig3.png", dpi=150)
        plt.close(fig)


def _report(res: dict[str, Any]) -> None:
    for chk in res["checks"]:
        print(
            f"alpha={chk['alpha']:.3f}  sigma_Y: theory {chk['sigma_Y_theory']:.6f} "
            f"solver {chk['sigma_Y_solver']:.6f} | A: theory {chk['A_theory']:.5f} "
            f"solver {chk['A_solver']:.5f} | free-n fit n = {chk['n_free_fit']:.4f}"
        )
    for p in res["points"]:
        print(
            f"{p['label']}: ({p['sigma_Y']:.4f}, {p['A']:.4f}), alpha_flow = "
            f"{p['alpha_flow']:.4f}, HL A there {p['A_hl']:.4f}"
        )
    sc = res["scalar"]
    if sc is None:
        return
    print(f"  [{SEED_SYSTEM}]")
    print(f"  [below: {SCALAR_SYSTEM}]")
    for f in sc["flow_curve"]:
        print(f"  gdot={f['gdot']:.1e}  Sigma={f['sigma']:.4f} +- {f['sem']:.4f}  "
              f"<th>={f['threshold']:.3f}")
    hb, fr = sc["hb_half"], sc["hb_free_all"]
    print(f"  HB n=1/2: sigma_Y={hb['sigma_Y']:.4f}+-{hb['sigma_Y_err']:.4f} "
          f"A={hb['A']:.3f}+-{hb['A_err']:.3f} chi2/dof={hb['chi2_dof']:.2f}; free (all): "
          f"sigma_Y={fr['sigma_y']:.4f} A={fr['A']:.3f} n={fr['n']:.3f}+-{fr['n_err']:.3f}")
    if sc["hb_free_low"] is not None:
        fl = sc["hb_free_low"]
        print(f"  free (low rates): sigma_Y={fl['sigma_y']:.4f} n={fl['n']:.3f}+-{fl['n_err']:.3f}")
    print(f"  sigma_c candidates: {sc['sigma_c']}")
    for b in sc["bridge"]:
        print(
            f"  bridge gdot={b['gdot']:g}: D_sigma={b['D_sigma']:.3e} (eq.7 literal "
            f"{b['D_sigma_seed_eq7']:.3e}), Gamma={b['Gamma']:.4f} (onsets "
            f"{b['Gamma_onsets']:.4f}), drop={b['mean_drop']:.3f} (rel {b['relative_drop']:.3f}),"
            f" alpha_micro={b['alpha_micro']:.3f} [{b['alpha_micro_range'][0]:.3f}, "
            f"{b['alpha_micro_range'][1]:.3f}], alpha_hl={b['alpha_hl']:.3f}, "
            f"D/(sigma_c^2 Gamma)={b['alpha_micro_sigma_c']:.4f}, drift {b['quiet_drift_rate']:.2e}"
            f" vs G0 gdot {b['G0_gdot']:.2e}, events {b['n_events']}"
        )
    for h in sc["hl"]:
        print(f"  {h['label']}: alpha={h['alpha']:.4f} -> ({h['sigma_Y']:.4f}, {h['A']:.4f})")
    print(f"  scalar timing: {sc['timing']}")


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command-line entry point: ``--seed --out DIR --smoke [--point SY A LABEL] [--no-scalar]``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=pathlib.Path,
                    default=pathlib.Path(__file__).resolve().parent / "out" / "puosi_fig3")
    ap.add_argument("--smoke", action="store_true", help="tiny run (a few seconds)")
    ap.add_argument("--no-scalar", action="store_true", help="skip the scalar lattice model")
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
            scalar=None if args.no_scalar else ScalarSettings.smoke(),
            rng=rng,
        )
    else:
        res = run(
            n_alpha=400,
            check_alphas=(0.05, 0.1, 0.2, 0.3, 0.4, 0.45),
            rates=np.logspace(-8, -4, 12),
            resolution=4.0,
            points=points,
            scalar=None if args.no_scalar else ScalarSettings(),
            rng=rng,
        )
    _write(res, args.out, png=not args.smoke)
    _report(res)
    print(f"wrote {args.out} ({res['timing']:.2f} s)")
    return res


if __name__ == "__main__":
    main()

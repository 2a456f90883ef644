"""Puosi, Olivier & Martens (2015), the mean-field bridge measured on the Liu et al. scalar
EPM across shear rates and for two elastic kernels.

**Which system.** The seed's numbers (``alpha_micro ~ 0.26``, Table 1: 0.23-0.28; relative
local stress drop ~ 0.2; ``D_sigma`` proportional to ``Gamma``) were measured on molecular
dynamics of a 2D Lennard-Jones glass. Every number this study writes is measured on the
*Liu et al. scalar lattice EPM* of ``femplastic.lattice`` (32 x 32, the Liu et al. 2021
parameters), with

* ``kernel = "continuum"``: the Eshelby (Picard) kernel of that model, and
* ``kernel = "mean_field"``: the same self term and zero sum, the released stress spread
  uniformly over the lattice (``LatticeEshelby(normalisation="mean_field")``).

So they test the HL closure *within an EPM*, not the seed's MD values.

Per (kernel, rate): a steady state (strain 0.5 from Weibull(1.5, 0.57) thresholds), then
per-site records over ``min(strain / gdot, t_max)``
(:func:`femplastic.lattice.bridge.record_sites`) and the bridge measurement
(:func:`femplastic.lattice.bridge.measure_bridge_scalar`: ``D_sigma`` from the affine fit
of the activity-free msd at lags 1.5-5 ``tau_res``, ``Gamma`` = plastic fraction /
``tau_res``, mean drop, ``alpha_micro = D_sigma / (<dsigma>^2 Gamma)`` in the seed's
convention). Proportionality ``D_sigma = k Gamma`` is tested by the spread of
``D_sigma / Gamma`` over the rates and the log-log slope of ``D_sigma`` against ``Gamma``.
``kernel_kick_variance_ratio = sum_{r != 0} G(r)^2 / G(0)^2`` is the ``alpha_micro`` that
independent kicks of one fixed event size would give: it is what the kernel contributes.

Run: ``python studies/puosi_bridge_scan.py --out DIR [--seed S] [--smoke]``.
"""

import json
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

from femplastic.lattice import (  # noqa: E402
    FiniteRateParams,
    finite_rate_initial_state,
    run_fixed_rate,
)
from femplastic.lattice.bridge import measure_bridge_scalar, record_sites  # noqa: E402

SEED_MD = {"alpha_micro": 0.26, "alpha_micro_range": [0.23, 0.28], "relative_drop": 0.2,
           "system": "MD of a 2D binary Lennard-Jones glass (Puosi et al. 2015)"}


@dataclass
class Settings:
    """Kernels, rates, record lengths (LJ units)."""

    params: FiniteRateParams = field(default_factory=FiniteRateParams)
    kernels: tuple[str, ...] = ("continuum", "mean_field")
    rates: tuple[float, ...] = (3e-4, 1e-3, 3e-3, 1e-2)
    warmup_strain: float = 0.5
    strain: float = 1.0
    t_max: float = 400.0
    sample: float = 0.1

    @classmethod
    def smoke(cls) -> "Settings":
        """Seconds-long version."""
        return cls(params=FiniteRateParams(L=16), rates=(3e-3, 1e-2), warmup_strain=0.1,
                   strain=0.6, t_max=60.0)


def _point(p: FiniteRateParams, gdot: float, s: Settings, rng: np.random.Generator) -> dict:
    st = finite_rate_initial_state(p, rng)
    _, st = run_fixed_rate(p, st, gdot, s.warmup_strain / gdot, rng, record_every=1000)
    T = min(s.strain / gdot, s.t_max)
    rec = record_sites(p, st, gdot, T, s.sample, rng)
    sigma_c = float(np.mean(rec["threshold"], dtype=np.float64))
    b = measure_bridge_scalar(rec, p, gdot, sigma_c)
    keys = ("gdot", "duration", "n_events", "D_sigma", "Gamma", "mean_drop", "relative_drop",
            "alpha_micro", "alpha_micro_range", "alpha_hl", "quiet_drift_rate", "G0_gdot",
            "mean_stress")
    return {k: b[k] for k in keys}


def _proportionality(pts: list[dict]) -> dict:
    D = np.array([q["D_sigma"] for q in pts])
    G = np.array([q["Gamma"] for q in pts])
    ratio = D / G
    slope = float(np.polyfit(np.log(G), np.log(D), 1)[0]) if G.size >= 2 else float("nan")
    k = float(np.sum(D * G) / np.sum(G * G))  # least squares through the origin
    return dict(D_over_Gamma=ratio.tolist(), D_over_Gamma_rel_spread=float(
        ratio.std(ddof=1) / ratio.mean()) if ratio.size > 1 else float("nan"),
        loglog_slope=slope, k_through_origin=k,
        alpha_micro=[q["alpha_micro"] for q in pts],
        alpha_micro_mean=float(np.mean([q["alpha_micro"] for q in pts])))


def run(settings: Settings, rng: np.random.Generator) -> dict:
    """Every (kernel, rate) point and the proportionality numbers."""
    t0 = time.perf_counter()
    pts: dict[str, list[dict]] = {}
    for kern in settings.kernels:
        p = replace(settings.params, normalisation=kern)
        pts[kern] = [_point(p, float(g), settings, child)
                     for g, child in zip(settings.rates, rng.spawn(len(settings.rates)),
                                         strict=True)]
    # alpha of independent kicks of one fixed event size: sum_{r != 0} G(r)^2 / G(0)^2
    kick = {}
    for kern in settings.kernels:
        G = replace(settings.params, normalisation=kern).kernel.G
        kick[kern] = float(np.sum(G[1:] ** 2) / G[0] ** 2)
    numbers = dict(
        system=f"Liu et al. scalar lattice EPM (femplastic.lattice), L = {settings.params.L}",
        seed_values=SEED_MD,
        kernel_kick_variance_ratio=kick,
        points=pts,
        proportionality={k: _proportionality(v) for k, v in pts.items()},
        runtime_s=time.perf_counter() - t0,
    )
    return dict(numbers=numbers, settings={k: v for k, v in asdict(settings).items()
                                           if k != "params"})


def plot(results: dict):
    """(a) D_sigma vs Gamma, (b) alpha_micro vs rate, (c) relative drop vs rate."""
    import matplotlib.pyplot as plt

    num = results["numbers"]
    fig, ax = plt.subplots(1, 3, figsize=(16, 4.5))
    for kern, pts in num["points"].items():
        G = np.array([q["Gamma"] for q in pts])
        D = np.array([q["D_sigma"] for q in pts])
        g = [q["gdot"] for q in pts]
        k = num["proportionality"][kern]["k_through_origin"]
        ax[0].plot(G, D, "o", label=f"{kern} (EPM)")
        ax[0].plot(G, k * G, "--", lw=0.8)
        lo = [q["alpha_micro_range"][0] for q in pts]
        hi = [q["alpha_micro_range"][1] for q in pts]
        a = np.array([q["alpha_micro"] for q in pts])
        ax[1].errorbar(g, a, [np.maximum(a - lo, 0), np.maximum(np.array(hi) - a, 0)], fmt="o-",
                       label=f"{kern} (EPM)")
        ax[2].plot(g, [q["relative_drop"] for q in pts], "o-", label=f"{kern} (EPM)")
    ax[1].axhspan(*SEED_MD["alpha_micro_range"], color="gray", alpha=0.3,
                  label="seed MD (LJ glass)")
    ax[2].axhline(SEED_MD["relative_drop"], color="gray", ls=":", label="seed MD (LJ glass)")
    ax[0].set(xscale="log", yscale="log", xlabel=r"$\Gamma$", ylabel=r"$D_\sigma$",
              title=r"$D_\sigma$ vs $\Gamma$ over rates")
    ax[1].set(xscale="log", xlabel=r"$\dot\gamma$", ylabel=r"$\alpha_{micro}$ (seed eq. 8)",
              title="coupling vs kernel")
    ax[2].set(xscale="log", xlabel=r"$\dot\gamma$", ylabel="relative local drop",
              title="partial relaxation")
    for a in ax:
        a.legend(fontsize=7)
    fig.tight_layout()
    return fig


def main(argv: list[str] | None = None) -> dict:
    out, results = _common.run_study(__doc__, argv, "puosi_bridge_scan", Settings, run, plot)
    num = _common.jsonable(results["numbers"], nonfinite_as_null=True)
    (out / "puosi_bridge_scan.json").write_text(json.dumps(num, indent=1))
    print(f"system of every number below: {num['system']}")
    print(f"seed values for reference: {SEED_MD}")
    print(json.dumps(num["proportionality"], indent=1))
    return results


if __name__ == "__main__":
    main()

"""Liu et al. (2021), transient claims as measurements:

* **tau_pl, tau_res** (SI, "Transient dynamics"): the overshoot height is set by
  ``tau_pl`` (SI eq. 14, ``Sigma_overshoot ~ sigma_I + mu tau_pl gdot``); "increasing
  tau_res ... shortening the overall duration of the transient regime" and "the system will
  fluidize faster for a larger value of tau_res". Scan around the seed's (1, 2): start-up
  at ``gdot = 5e-3`` from E1 (overshoot height = :func:`femplastic.lattice.transient_excess`
  with its SE; relaxation strain = strain after the peak where the mean curve has come down
  to 20 % of the overshoot) and creep at ``Sigma = 0.65`` from E1 (fluidisation time
  ``tau_f``: first time the rate, smoothed over 10 time units, exceeds half its final
  steady value after its minimum).
* **spatially correlated thresholds** (Liu et al. 2021: "the creep curves can also be reproduced
  if the mesoscale equations are initialised with random local yield thresholds ...
  spatial correlations play a minute role"): creep from E1 threshold maps with correlation
  length ``xi`` = 0 (independent), 2 and 4 cells
  (:class:`femplastic.lattice.CorrelatedThresholdMap`, same one-point law).
* **initial-state shear modulus** (Liu et al. 2021: the initial state enters through its
  threshold map, its stress map *and its shear modulus*; "with decreasing energy of the IS
  states, macroscopic shear modulus increases"): start-up from E1, E2, E3 with the seed's
  ``mu = 14.88`` for all, and with a modulus per state (``INITIAL_MODULI``: E1 14.88, E2
  15.6, E3 16.5, **assumed** values: the paper gives the trend, not the numbers); the
  measured initial slope and the overshoot height.

32 x 32, the seed's parameters otherwise, ``n_real`` realisations per point.

Run: ``python studies/liu_transients.py --out DIR [--seed S] [--smoke]``.
"""

import json
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402
from liu_figs import INITIAL_STATES  # noqa: E402

from femplastic.lattice import (  # noqa: E402
    CorrelatedThresholdMap,
    FiniteRateParams,
    finite_rate_initial_state,
    run_creep,
    run_fixed_rate,
    smooth_rate,
    transient_excess,
)

#: initial-state shear moduli (assumed; the paper states only that mu grows as E falls)
INITIAL_MODULI = {"E1": 14.88, "E2": 15.6, "E3": 16.5}


@dataclass
class Settings:
    """What to run (engineering strains, LJ times)."""

    params: FiniteRateParams = field(default_factory=FiniteRateParams)
    times: tuple[tuple[float, float], ...] = ((1.0, 2.0), (0.5, 2.0), (2.0, 2.0), (1.0, 1.0),
                                              (1.0, 4.0))
    gdot: float = 5e-3
    strain: float = 1.0
    creep_stress: float = 0.65
    creep_stresses_xi: tuple[float, ...] = (0.6, 0.65)
    creep_time: float = 400.0
    xis: tuple[float, ...] = (0.0, 2.0, 4.0)
    n_real: int = 6
    peak_before: float = 0.3
    plateau_from: float = 0.6
    smooth_time: float = 10.0

    @classmethod
    def smoke(cls) -> "Settings":
        """Seconds-long version."""
        return cls(params=FiniteRateParams(L=8), times=((1.0, 2.0), (1.0, 4.0)), gdot=2e-2,
                   strain=0.5, creep_stresses_xi=(0.65,), creep_time=20.0, xis=(0.0, 2.0),
                   n_real=4, peak_before=0.2, plateau_from=0.35, smooth_time=2.0)


def _startup(p: FiniteRateParams, thresholds, s: Settings, rng) -> tuple[np.ndarray, np.ndarray]:
    st = finite_rate_initial_state(p, rng, thresholds=thresholds)
    T = s.strain / s.gdot
    rec = max(1, int(T / p.dt / 400))
    tr, _ = run_fixed_rate(p, st, s.gdot, T, rng, record_every=rec)
    return tr.gamma_tot, tr.sigma_ext


def _startups(p, thresholds, s: Settings, rng) -> dict:
    curves = []
    for child in rng.spawn(s.n_real):
        g, sig = _startup(p, thresholds, s, child)
        curves.append(sig)
    curves = np.array(curves)
    ex = transient_excess(g, curves, s.peak_before, s.plateau_from)
    mean = curves.mean(axis=0)
    plateau = mean[g >= s.plateau_from].mean()
    ip = int(np.argmin(np.abs(g - ex.strain_at_peak)))
    after = np.flatnonzero(mean[ip:] <= plateau + 0.2 * max(ex.excess, 0.0))
    relax = float(g[ip + after[0]] - g[ip]) if after.size else float("nan")
    # initial elastic slope: the records below 30 % of the plateau stress (elastic: the
    # initial thresholds are far above it)
    e0 = g <= 0.3 * plateau / p.mu
    slope = float(np.polyfit(g[e0], mean[e0], 1)[0]) if e0.sum() >= 3 else float("nan")
    return dict(gamma=g, sigma=mean, overshoot=ex.excess, overshoot_sem=ex.excess_sem,
                strain_at_peak=ex.strain_at_peak, plateau=float(plateau),
                relaxation_strain=relax, initial_slope=slope)


def _fluidisation_time(t: np.ndarray, g: np.ndarray, window: int) -> float:
    """First time after the minimum of the smoothed rate where it reaches half its final
    value (nan when it never does)."""
    if t.size <= window + 2:
        return float("nan")
    tm, r = smooth_rate(t, g, window)
    final = r[-max(1, r.size // 5):].mean()
    imin = int(np.argmin(r[: max(1, r.size // 2)]))
    up = np.flatnonzero(r[imin:] >= 0.5 * final)
    return float(tm[imin + up[0]]) if up.size and final > 0 else float("nan")


def _creeps(p, make_thresholds, sigma: float, s: Settings, rng) -> dict:
    tau_f, stuck, rates = [], 0, []
    rec = 10
    window = max(1, int(round(s.smooth_time / (rec * p.dt))))
    for child in rng.spawn(s.n_real):
        st = finite_rate_initial_state(p, child, thresholds=make_thresholds(child))
        tr, _ = run_creep(p, st, sigma, s.creep_time, child, record_every=rec)
        if tr.stuck:
            stuck += 1
            continue
        tau_f.append(_fluidisation_time(tr.time, tr.gamma_tot, window))
        rates.append(float(tr.gdot_tot[tr.gdot_tot.size // 2:].mean()))
    tf = np.array([x for x in tau_f if np.isfinite(x)])
    return dict(sigma=sigma, n_real=s.n_real, stuck=stuck,
                tau_f_mean=float(tf.mean()) if tf.size else float("nan"),
                tau_f_sem=float(tf.std(ddof=1) / np.sqrt(tf.size)) if tf.size > 1
                else float("nan"),
                tau_f_median=float(np.median(tf)) if tf.size else float("nan"),
                steady_rate=float(np.mean(rates)) if rates else 0.0)


def run(settings: Settings, rng: np.random.Generator) -> dict:
    """The three scans."""
    t0 = time.perf_counter()
    p0 = settings.params
    e1 = INITIAL_STATES["E1"]
    times = []
    for tpl, tres in settings.times:
        p = replace(p0, tau_pl=tpl, tau_res=tres)
        su = _startups(p, e1, settings, rng)
        cr = _creeps(p, lambda r: e1, settings.creep_stress, settings, rng)
        times.append(dict(tau_pl=tpl, tau_res=tres, startup=su, creep=cr,
                          si_overshoot_shift_mu_tau_pl_gdot=p.mu * tpl * settings.gdot))
    corr = []
    for xi in settings.xis:
        gen = CorrelatedThresholdMap(p0.L, e1, xi)
        for sig in settings.creep_stresses_xi:
            corr.append(dict(xi=xi, **_creeps(p0, gen.sample, sig, settings, rng)))
    moduli = []
    for name, init in INITIAL_STATES.items():
        for label, mu in (("seed mu", p0.mu), ("initial-state mu", INITIAL_MODULI[name])):
            su = _startups(replace(p0, mu=mu), init, settings, rng)
            moduli.append(dict(state=name, mu_input=mu, which=label, startup=su))
    numbers = dict(
        system=f"Liu et al. scalar EPM (femplastic.lattice, finite rate), L = {p0.L}, "
               f"{settings.n_real} realisations per point",
        tau_scan=[dict(tau_pl=x["tau_pl"], tau_res=x["tau_res"],
                       overshoot=x["startup"]["overshoot"],
                       overshoot_sem=x["startup"]["overshoot_sem"],
                       strain_at_peak=x["startup"]["strain_at_peak"],
                       plateau=x["startup"]["plateau"],
                       relaxation_strain=x["startup"]["relaxation_strain"],
                       si_overshoot_shift=x["si_overshoot_shift_mu_tau_pl_gdot"],
                       creep=x["creep"]) for x in times],
        correlated_maps=corr,
        initial_modulus=[dict(state=m["state"], which=m["which"], mu_input=m["mu_input"],
                              initial_slope=m["startup"]["initial_slope"],
                              overshoot=m["startup"]["overshoot"],
                              overshoot_sem=m["startup"]["overshoot_sem"],
                              plateau=m["startup"]["plateau"]) for m in moduli],
        runtime_s=time.perf_counter() - t0,
    )
    return dict(times=times, corr=corr, moduli=moduli, numbers=numbers,
                settings={k: v for k, v in asdict(settings).items() if k != "params"})


def plot(results: dict):
    """(a) start-up curves of the tau scan, (b) overshoot and tau_f vs the scan,
    (c) correlated maps, (d) initial-state moduli."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 4, figsize=(22, 4.5))
    for x in results["times"]:
        su = x["startup"]
        ax[0].plot(su["gamma"], su["sigma"], label=f"tau_pl={x['tau_pl']}, tau_res={x['tau_res']}")
    ax[0].set(xlabel=r"$\gamma$", ylabel=r"$\Sigma$", title="start-up from E1, tau scan")
    ax[0].legend(fontsize=7)
    ts = results["numbers"]["tau_scan"]
    lab = [f"{t['tau_pl']}/{t['tau_res']}" for t in ts]
    xpos = np.arange(len(ts))
    ax[1].errorbar(xpos, [t["overshoot"] for t in ts], [t["overshoot_sem"] for t in ts],
                   fmt="o", label="overshoot height")
    b = ax[1].twinx()
    b.errorbar(xpos + 0.1, [t["creep"]["tau_f_mean"] for t in ts],
               [t["creep"]["tau_f_sem"] for t in ts], fmt="s", color="C1", label=r"$\tau_f$")
    ax[1].set_xticks(xpos, lab)
    ax[1].set(xlabel=r"$\tau_{pl}/\tau_{res}$", ylabel="overshoot", title="tau_pl, tau_res")
    b.set_ylabel(r"$\tau_f$ (creep at 0.65)")
    ax[1].legend(fontsize=7, loc="upper left")
    b.legend(fontsize=7, loc="upper right")
    for sig in sorted({c["sigma"] for c in results["corr"]}):
        cs = [c for c in results["corr"] if c["sigma"] == sig]
        ax[2].errorbar([c["xi"] for c in cs], [c["tau_f_mean"] for c in cs],
                       [c["tau_f_sem"] for c in cs], fmt="o-", label=f"$\\Sigma$ = {sig}")
    ax[2].set(xlabel=r"correlation length $\xi$ (cells)", ylabel=r"$\tau_f$",
              title="creep on correlated threshold maps")
    ax[2].legend(fontsize=7)
    for m in results["moduli"]:
        ls = "-" if m["which"] == "seed mu" else "--"
        ax[3].plot(m["startup"]["gamma"], m["startup"]["sigma"], ls,
                   label=f"{m['state']}, mu={m['mu_input']}")
    ax[3].set(xlabel=r"$\gamma$", ylabel=r"$\Sigma$", title="initial-state modulus")
    ax[3].legend(fontsize=7)
    fig.tight_layout()
    return fig


def main(argv: list[str] | None = None) -> dict:
    out, results = _common.run_study(__doc__, argv, "liu_transients", Settings, run, plot)
    num = _common.jsonable(results["numbers"], nonfinite_as_null=True)
    (out / "liu_transients.json").write_text(json.dumps(num, indent=1))
    print(json.dumps(num, indent=1))
    return results


if __name__ == "__main__":
    main()

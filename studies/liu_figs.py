"""Liu, Dutta, Chaudhuri, Martens (2021), figures 1-3, model side.

* Fig. 1 (a) flow curve from fixed-rate and creep runs with a Herschel-Bulkley fit
  (paper: ``Sigma_Y = 0.5107``, ``n = 0.784``); (b, c) stationary apparent threshold
  distribution ``P_a(sigma_th)`` and gap distribution ``P(X)`` at ``gdot = 1e-3, 1e-4``.
* Fig. 2 (a) start-up stress-strain curves from the initial state E1 (overshoot vs rate);
  (b) creep curves ``gdot(t)`` from E1 for several imposed stresses (stuck at low stress).
* Fig. 3 three initial states E1 > E2 > E3 (energies; older = larger thresholds):
  (a) cumulative gap distribution ``C(X)``, (b) start-up at ``gdot = 5e-3``,
  (c) creep at ``Sigma = 0.65`` (E3 gets stuck).

The MD threshold/stress maps of the paper are not available: the initial states are
threshold maps drawn from Weibull distributions (listed in ``INITIAL_STATES``) with zero
internal stress, chosen so that E1 is stuck at 0.53 and 0.56 and E3 at 0.65, as in the paper.

Run: ``python studies/liu_figs.py --out DIR [--seed S] [--smoke]``.
"""

import csv
import json
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import scipy.stats

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

from femplastic.lattice import (  # noqa: E402
    FiniteRateParams,
    Weibull,
    cumulative,
    density,
    finite_rate_initial_state,
    fit_herschel_bulkley,
    overshoot,
    run_creep,
    run_fixed_rate,
    steady_mean,
)

#: Initial threshold distributions of the three glasses (E1 highest energy = youngest).
INITIAL_STATES = {
    "E1": Weibull(2.5, 1.05),
    "E2": Weibull(3.0, 1.2),
    "E3": Weibull(4.0, 1.3),
}

PAPER = {"sigma_y": 0.5107, "n": 0.784, "gdot_x": 0.02}
#: the start-up overshoot is searched for at strains below this (transient)
PEAK_BEFORE = 0.3


@dataclass
class Settings:
    """What to run. Strains are engineering, times in LJ units."""

    params: FiniteRateParams = field(default_factory=FiniteRateParams)
    rates: tuple[float, ...] = tuple(np.logspace(-4, -2, 7))
    strain: float = 2.0  # start-up runs; the second half is the steady state
    n_snapshots: int = 20  # threshold / gap snapshots per steady run
    snapshot_rates: tuple[float, ...] = (1e-4, 1e-3)
    creep_stresses: tuple[float, ...] = (0.53, 0.56, 0.6, 0.65, 0.7, 0.8)
    creep_time: float = 1000.0
    creep_realisations: int = 4
    fig3_rate: float = 5e-3
    fig3_stress: float = 0.65
    record_every: int = 10

    @classmethod
    def smoke(cls) -> "Settings":
        """Seconds-long version (16 x 16, short runs)."""
        return cls(params=FiniteRateParams(L=16), rates=(1e-2, 3e-3, 1e-3), strain=0.4,
                   n_snapshots=3, snapshot_rates=(1e-3,), creep_stresses=(0.5, 0.8),
                   creep_time=30.0, creep_realisations=1, record_every=20)


def _startup(p: FiniteRateParams, init: Weibull, gdot: float, strain: float, n_snap: int,
             rng: np.random.Generator, record_every: int) -> dict:
    """Fixed-rate start-up from an initial state; snapshots in the second half."""
    st = finite_rate_initial_state(p, rng, thresholds=init)
    T = strain / gdot
    rec = max(1, min(record_every * 10, int(T / p.dt / 2000)))
    tr, st = run_fixed_rate(p, st, gdot, 0.5 * T, rng, record_every=rec)
    parts = [tr]
    th, gaps = [], []
    n_seg = max(n_snap, 1)
    for _ in range(n_seg):
        tr, st = run_fixed_rate(p, st, gdot, 0.5 * T / n_seg, rng, record_every=rec)
        parts.append(tr)
        if n_snap:
            th.append(st.threshold.copy())
            gaps.append(st.gap.copy())
    gamma = np.concatenate([t.gamma_tot for t in parts])
    sigma = np.concatenate([t.sigma_ext for t in parts])
    steady = sigma[gamma >= 0.5 * strain]
    mean, sem = steady_mean(steady, skip=0.0)
    return dict(gamma=gamma, sigma=sigma, steady=mean, steady_sem=sem,
                thresholds=np.concatenate(th) if th else np.empty(0),
                gaps=np.concatenate(gaps) if gaps else np.empty(0))


def _creep(p: FiniteRateParams, init: Weibull, sigma: float, T: float, n_real: int,
           rng: np.random.Generator, record_every: int) -> dict:
    """Creep curves from fresh initial states; mean rate over realisations that flow."""
    curves, stuck, rates = [], [], []
    for child in rng.spawn(n_real):
        st = finite_rate_initial_state(p, child, thresholds=init)
        tr, _ = run_creep(p, st, sigma, T, child, record_every=record_every)
        g = np.zeros(int(round(T / p.dt)) // record_every)
        g[: tr.gdot_tot.size] = tr.gdot_tot[: g.size]  # zero after arrest
        curves.append(g)
        stuck.append(tr.stuck)
        if not tr.stuck:
            rates.append(steady_mean(tr.gdot_tot, skip=0.5)[0])
    t = (np.arange(curves[0].size) + 1) * record_every * p.dt
    return dict(time=t, gdot=np.mean(curves, axis=0), stuck=stuck,
                steady_rate=float(np.mean(rates)) if rates else 0.0,
                steady_rate_sem=float(np.std(rates) / np.sqrt(len(rates))) if len(rates) > 1
                else float("nan"))


def run(settings: Settings, rng: np.random.Generator) -> dict:
    """Run the three figures; returns plain arrays and numbers."""
    p = settings.params
    t0 = time.perf_counter()
    out: dict = {"settings": {k: v for k, v in asdict(settings).items() if k != "params"},
                 "params": asdict(p), "initial_states": {k: asdict(v) for k, v in
                                                         INITIAL_STATES.items()}}
    e1 = INITIAL_STATES["E1"]
    # Fig 1a + 2a: start-up at every rate from E1
    startups = {}
    for gdot in settings.rates:
        n_snap = settings.n_snapshots if any(np.isclose(gdot, settings.snapshot_rates)) else 0
        startups[float(gdot)] = _startup(p, e1, gdot, settings.strain, n_snap, rng,
                                         settings.record_every)
    rates = np.array(sorted(startups))
    flow = np.array([startups[g]["steady"] for g in rates])
    flow_err = np.array([startups[g]["steady_sem"] for g in rates])
    hb = fit_herschel_bulkley(rates, flow, np.maximum(flow_err, 1e-4))
    # Fig 2b + creep points of Fig 1a
    creep = {float(s): _creep(p, e1, s, settings.creep_time, settings.creep_realisations,
                              rng, settings.record_every) for s in settings.creep_stresses}
    # Fig 3
    fig3 = {}
    for name, init in INITIAL_STATES.items():
        st0 = finite_rate_initial_state(p, rng, thresholds=init)
        su = _startup(p, init, settings.fig3_rate, settings.strain, 0, rng, settings.record_every)
        cr = _creep(p, init, settings.fig3_stress, settings.creep_time,
                    settings.creep_realisations, rng, settings.record_every)
        fig3[name] = dict(gaps0=st0.gap, startup=su, creep=cr,
                          overshoot=overshoot(su["gamma"], su["sigma"], 0.4, PEAK_BEFORE).__dict__)
    # numbers
    over = {g: overshoot(startups[g]["gamma"], startups[g]["sigma"], 0.4,
                         PEAK_BEFORE).__dict__ for g in rates}
    pa = {}
    for g in rates:
        th = startups[g]["thresholds"]
        if th.size:
            k, _, lam = scipy.stats.weibull_min.fit(th, floc=0.0)
            gaps = startups[g]["gaps"]
            pa[float(g)] = dict(mean_threshold=float(th.mean()), weibull_k=float(k),
                                weibull_lambda=float(lam), mean_gap=float(gaps.mean()),
                                frac_negative_gap=float(np.mean(gaps < 0)))
    flowing = [s for s in creep if not all(creep[s]["stuck"])]
    out.update(
        startups=startups, creep=creep, fig3=fig3,
        numbers=dict(
            flow_curve=[dict(gdot=float(g), sigma=float(s), sem=float(e))
                        for g, s, e in zip(rates, flow, flow_err, strict=True)],
            herschel_bulkley=hb.__dict__,
            paper=PAPER,
            si_yield_stress_estimate=p.yield_stress_estimate,
            si_crossover_rate_estimate=p.crossover_rate_estimate,
            creep=[dict(sigma=s, stuck=creep[s]["stuck"], steady_rate=creep[s]["steady_rate"],
                        steady_rate_sem=creep[s]["steady_rate_sem"],
                        hb_rate=float(hb.rate(s))) for s in creep],
            creep_flowing_stresses=flowing,
            overshoot=[dict(gdot=float(g), **over[g]) for g in rates],
            si_overshoot_slope_mu_tau_pl=p.mu * p.tau_pl,
            apparent_thresholds=pa,
            renewal_mean=p.renewal.mean(),
            fig3={k: dict(overshoot=v["overshoot"], creep_stuck=v["creep"]["stuck"],
                          creep_rate=v["creep"]["steady_rate"],
                          frac_gap_below_stress=float(np.mean(v["gaps0"] < settings.fig3_stress)))
                  for k, v in fig3.items()},
            runtime_s=time.perf_counter() - t0,
        ),
    )
    return out


def plot(results: dict):
    """3 x 3 panels: row 1 = Fig. 1 (a-c), row 2 = Fig. 2 (a, b), row 3 = Fig. 3 (a-c)."""
    import matplotlib.pyplot as plt

    from femplastic.lattice import HerschelBulkley

    fig, ax = plt.subplots(3, 3, figsize=(14, 12))
    num = results["numbers"]
    hb = HerschelBulkley(**num["herschel_bulkley"])
    fc = num["flow_curve"]
    g = np.array([r["gdot"] for r in fc])
    a = ax[0, 0]
    a.errorbar(g, [r["sigma"] for r in fc], [r["sem"] for r in fc], fmt="o", mfc="none",
               label="fixed rate")
    cr = [(r["steady_rate"], r["sigma"]) for r in num["creep"] if r["steady_rate"] > 0]
    if cr:
        a.plot(*zip(*cr, strict=True), "s", label="creep")
    gg = np.logspace(np.log10(g.min()) - 0.3, np.log10(g.max()) + 0.3, 100)
    a.plot(gg, hb(gg), "--", label=f"HB $\\Sigma_Y$={hb.sigma_y:.3f}, n={hb.n:.2f}")
    a.plot(gg, PAPER["sigma_y"] + 0 * gg, ":", color="gray", label="paper $\\Sigma_Y$")
    a.set(xscale="log", xlabel=r"$\dot\gamma$", ylabel=r"$\Sigma$", title="Fig. 1a flow curve")
    a.legend(fontsize=8)
    for g0, st in results["startups"].items():
        if st["thresholds"].size:
            ax[0, 1].plot(*density(st["thresholds"], 40), label=f"$\\dot\\gamma$={g0:.0e}")
            ax[0, 2].plot(*density(st["gaps"], 40), label=f"$\\dot\\gamma$={g0:.0e}")
    ax[0, 1].set(xlabel=r"$\sigma^{th}$", ylabel=r"$P_a$", title="Fig. 1b thresholds")
    ax[0, 2].set(xlabel="X", ylabel="P(X)", title="Fig. 1c gaps")
    ax[0, 1].legend(fontsize=8)
    ax[0, 2].legend(fontsize=8)
    for g0, st in results["startups"].items():
        ax[1, 0].plot(st["gamma"], st["sigma"], lw=0.8, label=f"{g0:.1e}")
    ax[1, 0].set(xlabel=r"$\gamma$", ylabel=r"$\Sigma$", title="Fig. 2a start-up (E1)")
    ax[1, 0].legend(fontsize=7)
    for s, c in results["creep"].items():
        ok = c["gdot"] > 0
        ax[1, 1].plot(c["time"][ok], c["gdot"][ok], label=f"$\\Sigma$={s}"
                      + (" (stuck)" if all(c["stuck"]) else ""))
    ax[1, 1].set(xscale="log", yscale="log", xlabel="t", ylabel=r"$\dot\gamma$",
                 title="Fig. 2b creep (E1)")
    ax[1, 1].legend(fontsize=7)
    ov = num["overshoot"]
    ax[1, 2].plot([o["gdot"] for o in ov], [o["peak"] for o in ov], "o-", label="peak")
    ax[1, 2].plot([o["gdot"] for o in ov], [o["steady"] for o in ov], "s-", label="steady")
    ax[1, 2].set(xscale="log", xlabel=r"$\dot\gamma$", ylabel=r"$\Sigma$",
                 title="overshoot vs rate (E1)")
    ax[1, 2].legend(fontsize=8)
    for name, f3 in results["fig3"].items():
        ax[2, 0].plot(*cumulative(f3["gaps0"]), label=name)
        ax[2, 1].plot(f3["startup"]["gamma"], f3["startup"]["sigma"], lw=0.8, label=name)
        c = f3["creep"]
        ok = c["gdot"] > 0
        ax[2, 2].plot(c["time"][ok], c["gdot"][ok],
                      label=name + (" (stuck)" if all(c["stuck"]) else ""))
    ax[2, 0].axvline(results["settings"]["fig3_stress"], ls=":", color="gray")
    ax[2, 0].set(xlabel="X", ylabel="C(X)", title="Fig. 3a initial gaps")
    ax[2, 1].set(xlabel=r"$\gamma$", ylabel=r"$\Sigma$",
                 title=f"Fig. 3b start-up $\\dot\\gamma$={results['settings']['fig3_rate']}")
    ax[2, 2].set(xscale="log", yscale="log", xlabel="t", ylabel=r"$\dot\gamma$",
                 title=f"Fig. 3c creep $\\Sigma$={results['settings']['fig3_stress']}")
    for a in ax[2]:
        a.legend(fontsize=8)
    fig.tight_layout()
    return fig



def main(argv: list[str] | None = None) -> dict:
    args = _common.parse(__doc__, argv, extra=[
        (("--normalisation",), dict(choices=("continuum", "eshelby"), default="continuum",
                                    help="lattice kernel normalisation (default: the Picard "
                                         "kernel)")),
    ])
    out = _common.out_dir(args, "liu_figs")
    settings = Settings.smoke() if args.smoke else Settings()
    settings.params = replace(settings.params, normalisation=args.normalisation)
    results = run(settings, np.random.default_rng(args.seed))
    _common.save_png(plot(results), out / "liu_figs.png", dpi=110)
    numbers = results["numbers"]
    (out / "liu_numbers.json").write_text(json.dumps(_json(numbers), indent=1))
    with open(out / "liu_flow_curve.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["protocol", "gdot", "sigma", "sem"])
        for r in numbers["flow_curve"]:
            w.writerow(["fixed_rate", r["gdot"], r["sigma"], r["sem"]])
        for r in numbers["creep"]:
            if r["steady_rate"] > 0:
                w.writerow(["creep", r["steady_rate"], r["sigma"], ""])
    print(json.dumps(_json({k: numbers[k] for k in ("herschel_bulkley", "paper",
                                                    "creep_flowing_stresses", "runtime_s")}),
                     indent=1))
    return results


def _json(obj):
    return _common.jsonable(obj, nonfinite_as_null=True)


if __name__ == "__main__":
    main()

"""Liu et al. (2021), Fig. 1a flow curve with realisation-level errors: values
against the paper's Herschel-Bulkley line, HB fits (free and with ``Sigma_Y`` fixed at the
paper's 0.5107) with bootstrap intervals, the fit-window dependence of the exponent, and
the linear regime above the crossover rate against the SI estimate ``Sigma / (mu gdot) ->
1.656``.

Every rate is run from the initial state E1 of ``liu_figs.py`` in ``n_real`` independent
realisations (32 x 32, the seed's parameters, the Picard kernel); the steady stress of one
realisation is the mean over the second half of a run to strain 2 (at least 100 time units
at the high rates). Errors are the realisation-to-realisation standard errors; the block
errors of ``steady_mean`` within one run are reported next to them for comparison.

The paper gives ``Sigma_Y = 0.5107`` and ``n = 0.784`` but not the prefactor ``A``: "the
paper's HB line" is these two with ``A`` fitted to our flow curve (one parameter).

Run: ``python studies/liu_flow_curve.py --out DIR [--seed S] [--smoke]``.
"""

import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402
from liu_figs import INITIAL_STATES, PAPER  # noqa: E402

from femplastic.lattice import (  # noqa: E402
    FiniteRateParams,
    HerschelBulkley,
    bootstrap_herschel_bulkley,
    finite_rate_initial_state,
    fit_herschel_bulkley,
    realisation_mean,
    run_fixed_rate,
    steady_mean,
)


@dataclass
class Settings:
    """What to run (engineering strains, LJ times)."""

    params: FiniteRateParams = field(default_factory=FiniteRateParams)
    rates: tuple[float, ...] = tuple(np.logspace(-4, -2, 7))
    high_rates: tuple[float, ...] = (0.03, 0.1, 0.3, 1.0)
    n_real: int = 10
    strain: float = 2.0
    t_min: float = 100.0
    n_boot: int = 400
    #: upper ends of the fit windows of the exponent scan (the lower end is rates[0])
    window_tops: tuple[float, ...] = (1e-2, 4.7e-3, 2.2e-3)

    @classmethod
    def smoke(cls) -> "Settings":
        """Seconds-long version."""
        return cls(params=FiniteRateParams(L=8), rates=(1e-3, 3e-3, 1e-2), high_rates=(1.0,),
                   n_real=3, strain=0.3, t_min=10.0, n_boot=40, window_tops=(1e-2,))


def _steady(p: FiniteRateParams, gdot: float, s: Settings, rng: np.random.Generator):
    """Steady stress (second half) and its block error, one realisation."""
    st = finite_rate_initial_state(p, rng, thresholds=INITIAL_STATES["E1"])
    T = max(s.strain / gdot, s.t_min)
    rec = max(1, int(T / p.dt / 2000))
    _, st = run_fixed_rate(p, st, gdot, 0.5 * T, rng, record_every=rec)
    tr, _ = run_fixed_rate(p, st, gdot, 0.5 * T, rng, record_every=rec)
    return steady_mean(tr.sigma_ext, skip=0.0)


def _fit_dict(f: HerschelBulkley, boot: dict, window: tuple[float, float]) -> dict:
    d = dict(f.__dict__)
    d["bootstrap_68"] = boot
    d["window"] = list(window)
    return d


def run(settings: Settings, rng: np.random.Generator) -> dict:
    """All realisations, the fits and the comparison numbers."""
    t0 = time.perf_counter()
    p = settings.params
    allr = np.array(sorted(settings.rates) + sorted(settings.high_rates))
    vals = np.empty((settings.n_real, allr.size))
    block = np.empty_like(vals)
    for r, child in enumerate(rng.spawn(settings.n_real)):
        for j, g in enumerate(allr):
            vals[r, j], block[r, j] = _steady(p, float(g), settings, child)
    mean, sem = realisation_mean(vals)
    low = allr <= max(settings.rates) * (1 + 1e-9)
    g, m, e = allr[low], mean[low], sem[low]
    window = (float(g.min()), float(g.max()))
    brng = np.random.default_rng(rng.integers(2**63))
    free = fit_herschel_bulkley(g, m, e)
    fixed = fit_herschel_bulkley(g, m, e, sigma_y=PAPER["sigma_y"])
    paper = fit_herschel_bulkley(g, m, e, sigma_y=PAPER["sigma_y"], n=PAPER["n"])
    fits = {
        "free": _fit_dict(free, bootstrap_herschel_bulkley(g, vals[:, low], brng,
                                                           settings.n_boot), window),
        "sigma_y_fixed": _fit_dict(fixed, bootstrap_herschel_bulkley(
            g, vals[:, low], brng, settings.n_boot, sigma_y=PAPER["sigma_y"]), window),
        "paper_line": _fit_dict(paper, bootstrap_herschel_bulkley(
            g, vals[:, low], brng, settings.n_boot, sigma_y=PAPER["sigma_y"], n=PAPER["n"]),
            window),
    }
    dev = (m - paper(g)) / paper(g)
    chi2_paper = float(np.sum(((m - paper(g)) / e) ** 2))
    scan = []
    for top in settings.window_tops:
        w = g <= top * (1 + 1e-9)
        if w.sum() >= 4:
            f = fit_herschel_bulkley(g[w], m[w], e[w])
            scan.append(dict(window=[float(g[w].min()), float(g[w].max())], sigma_y=f.sigma_y,
                             sigma_y_err=f.sigma_y_err, n=f.n, n_err=f.n_err,
                             corr_sigma_y_n=f.corr_sigma_y_n))
    hi = ~low
    lin = mean[hi] / (p.mu * allr[hi])
    lin_err = sem[hi] / (p.mu * allr[hi])
    block_mean = block.mean(axis=0)
    scatter = vals.std(axis=0, ddof=1)
    numbers = dict(
        system=f"Liu et al. scalar EPM (femplastic.lattice, finite rate), L = {p.L}",
        n_real=settings.n_real,
        flow_curve=[dict(gdot=float(a), sigma=float(b), sem_realisations=float(c),
                         block_sem_mean=float(d), scatter_over_block_sem=float(sc / d))
                    for a, b, c, d, sc in zip(allr, mean, sem, block_mean, scatter,
                                              strict=True)],
        fit_window=list(window),
        fits=fits,
        paper=PAPER,
        paper_line_max_abs_relative_deviation=float(np.max(np.abs(dev))),
        paper_line_relative_deviation=[float(x) for x in dev],
        paper_line_deviation_in_sem=[float(x) for x in (m - paper(g)) / e],
        paper_line_chi2=chi2_paper, paper_line_dof=int(g.size - 1),
        exponent_window_scan=scan,
        linear_regime=dict(gdot=allr[hi].tolist(), sigma_over_mu_gdot=lin.tolist(),
                           sem=lin_err.tolist(), si_estimate=p.linear_regime_estimate,
                           crossover_rate_estimate=p.crossover_rate_estimate),
        runtime_s=time.perf_counter() - t0,
    )
    return dict(rates=allr, samples=vals, block_sem=block, mean=mean, sem=sem,
                numbers=numbers, settings={k: v for k, v in asdict(settings).items()
                                           if k != "params"}, params=asdict(p))


def plot(results: dict):
    """(a) flow curve and the three HB lines, (b) deviation from the paper's line,
    (c) linear regime, (d) realisation scatter over block errors."""
    import matplotlib.pyplot as plt

    num = results["numbers"]
    g, m, e = results["rates"], results["mean"], results["sem"]
    lo, hi = np.array(num["fit_window"])
    low = g <= hi * (1 + 1e-9)
    fig, ax = plt.subplots(1, 4, figsize=(20, 4.5))
    gg = np.logspace(np.log10(lo) - 0.3, np.log10(hi) + 0.3, 100)
    a = ax[0]
    a.errorbar(g[low], m[low], e[low], fmt="o", mfc="none", label="model (realisation SE)")
    for key, ls in (("free", "-"), ("sigma_y_fixed", "--"), ("paper_line", ":")):
        f = num["fits"][key]
        hb = HerschelBulkley(f["sigma_y"], f["A"], f["n"])
        a.plot(gg, hb(gg), ls, label=f"{key}: $\\Sigma_Y$={f['sigma_y']:.4f}, n={f['n']:.3f}")
    a.set(xscale="log", xlabel=r"$\dot\gamma$", ylabel=r"$\Sigma$", title="flow curve, E1")
    a.legend(fontsize=7)
    a = ax[1]
    a.errorbar(g[low], num["paper_line_relative_deviation"],
               e[low] / m[low], fmt="o")
    a.axhline(0, color="gray", lw=0.8)
    a.set(xscale="log", xlabel=r"$\dot\gamma$", ylabel="(model - paper HB) / paper HB",
          title="deviation from the paper's line")
    a = ax[2]
    lr = num["linear_regime"]
    a.errorbar(lr["gdot"], lr["sigma_over_mu_gdot"], lr["sem"], fmt="s")
    a.plot(g, m / (results["params"]["mu"] * g), ".", color="gray")
    a.axhline(lr["si_estimate"], ls="--", label="SI estimate")
    a.axvline(lr["crossover_rate_estimate"], ls=":", color="gray", label=r"SI $\dot\gamma_X$")
    a.set(xscale="log", yscale="log", xlabel=r"$\dot\gamma$", ylabel=r"$\Sigma/(\mu\dot\gamma)$",
          title="linear regime")
    a.legend(fontsize=8)
    a = ax[3]
    a.plot(g, [r["scatter_over_block_sem"] for r in num["flow_curve"]], "o-")
    a.axhline(1, color="gray", lw=0.8)
    a.set(xscale="log", xlabel=r"$\dot\gamma$", ylabel="std over realisations / block SE",
          title="block errors vs realisation scatter")
    fig.tight_layout()
    return fig


def main(argv: list[str] | None = None) -> dict:
    out, results = _common.run_study(__doc__, argv, "liu_flow_curve", Settings, run, plot)
    num = results["numbers"]
    (out / "liu_flow_curve.json").write_text(json.dumps(
        _common.jsonable(dict(numbers=num, samples=results["samples"], rates=results["rates"]),
                         nonfinite_as_null=True), indent=1))
    print(json.dumps(_common.jsonable({k: num[k] for k in (
        "paper_line_max_abs_relative_deviation", "fits", "exponent_window_scan",
        "linear_regime", "runtime_s")}, nonfinite_as_null=True), indent=1))
    return results


if __name__ == "__main__":
    main()

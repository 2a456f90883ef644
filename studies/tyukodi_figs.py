"""Tyukodi, Barbot, Garcia-Garcia, Lerbinger, Patinet, Vandembroucq (2023), figures 3-7,
model side: the quasistatic scalar EPM for a soft (ESL) and an aged (GQ) glass, with and
without slip-threshold correlation (``c1``) and rejuvenation (renewal from the MCT glass).

* Fig. 3: ESL stress-strain, (a) ``c1 = 0``, (b) with correlation;
* Fig. 4: ESL (a) variance of the local strain, (b) mean threshold vs strain (correlation);
* Fig. 5: GQ stress-strain, (a) ``c1 = 0``, (b) with correlation;
* Fig. 6: GQ (a) localisation index LOC, (b) mean threshold vs strain (correlation);
* Fig. 7: standard deviation of the internal stress, (a) ESL, (b) GQ (correlation).

Moduli and slip coefficients ``(c0, c1)`` are the paper's. The threshold distributions
(figure 2a of the paper, not available as numbers) are Weibull laws whose first two moments
are *derived from the paper's numbers* (``docs/validation/lattice_models.md``): the age parameters
``r_ESL = 0.14``, ``r_GQ = 0.65`` fix the mean ratios to MCT, and the reported
``eps0_bar = c0 + c1 <sigma_c^2>`` fix the second moments (``<sigma_c^2>`` = 1.19 MCT,
1.53 ESL, 2.98 GQ); the MCT mean is set to 1.

Strain axes. Figs. 3, 5 and 7 are plotted against the engineering strain ``gamma``. The
paper plots Figs. 4 and 6 against the "true strain": its model writes
``eps = eps_el + eps_p`` with ``eps_el = sigma / (2 mu)`` (section 3.1), the tensor
component, and its atomistic local strains are Hencky (logarithmic, tensor) strains
(section 2.2). So Figs. 4 and 6 are plotted here against ``eps = gamma / 2`` and the strain
variance is that of the local tensor strain, ``var(eps_i) = var(gamma_i) / 4`` (for the
lattice model, a small-strain model, the true strain is exactly ``gamma / 2``).

Overshoots are measured with :func:`femplastic.lattice.transient_excess` (peak minus
plateau per realisation, the peak located on the other half of the realisations, with its
standard error), not as the maximum of the averaged curve, which a noisy curve without any
overshoot also has.

Input variants (issue 14): the rejuvenation + correlation models also start from a frozen
internal stress of width 0.175 (:func:`femplastic.lattice.frozen_stress_field`, the
paper's measured width) and from initial thresholds with a negative tail (2 % uniform on
(-0.2, 0), :func:`femplastic.lattice.with_negative_tail`; the paper reports "a discrete
negative tail" without numbers, so 2 % and 0.2 are assumptions). Both can make the initial
state unstable (the tail always does), which the quasistatic driver relaxes at its starting
strain first.

Run: ``python studies/tyukodi_figs.py --out DIR [--seed S] [--smoke]``.
"""

import csv
import json
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

from femplastic.lattice import (  # noqa: E402
    QuasistaticParams,
    Weibull,
    frozen_stress_field,
    quasistatic_initial_state,
    run_quasistatic,
    stress_at_strain,
    transient_excess,
    with_negative_tail,
)

GLASSES = {
    "MCT": Weibull.from_mean_std(1.0, 0.436),
    "ESL": Weibull.from_mean_std(1.14, 0.478),
    "GQ": Weibull.from_mean_std(1.65, 0.509),
}
MODULI = {"ESL": (14.7, 52.0), "GQ": (19.0, 55.0)}
#: (glass, scenario, correlation) -> (c0, c1), paper sections 5.1 and 6.1
COEFFS = {
    ("ESL", "disordered", False): (0.0626, 0.0),
    ("ESL", "rejuvenation", False): (0.0506, 0.0),
    ("ESL", "disordered", True): (0.0304, 0.0216),
    ("ESL", "rejuvenation", True): (0.0276, 0.0206),
    ("GQ", "disordered", False): (0.0836, 0.0),
    ("GQ", "rejuvenation", False): (0.042, 0.0),
    ("GQ", "disordered", True): (0.0344, 0.0164),
    ("GQ", "rejuvenation", True): (0.0235, 0.0163),
}
#: the paper's mean slips eps0_bar with correlation (sections 5.1, 6.1)
PAPER_EPS0_BAR = {("ESL", "disordered"): 0.0634, ("ESL", "rejuvenation"): 0.0521,
                  ("GQ", "disordered"): 0.0833, ("GQ", "rejuvenation"): 0.0429}
#: input variants of the rejuvenation + correlation models: name -> (frozen stress std,
#: negative-tail fraction, negative-tail depth)
INPUTS = {"frozen0.175": (0.175, 0.0, 0.0), "negtail": (0.0, 0.02, 0.2)}
#: transient window and plateau of the overshoot statistic (engineering strain)
PEAK_BEFORE, PLATEAU_FROM = 0.5, 1.5


@dataclass
class Settings:
    """Lattice size, strain range, realisations."""

    L: int = 16
    gamma_max: float = 3.0
    observe_every: float = 0.01
    realisations: int = 100

    @classmethod
    def smoke(cls) -> "Settings":
        """Seconds-long version."""
        return cls(L=8, gamma_max=0.4, observe_every=0.02, realisations=4)


def params_for(glass: str, scenario: str, correlated: bool, L: int = 16) -> QuasistaticParams:
    """The model of one curve of the paper."""
    c0, c1 = COEFFS[(glass, scenario, correlated)]
    mu, K = MODULI[glass]
    renewal = GLASSES["MCT"] if scenario == "rejuvenation" else None
    return QuasistaticParams(initial=GLASSES[glass], renewal=renewal, c0=c0, c1=c1, L=L,
                             mu=mu, K=K)


def _nanmean(a: np.ndarray) -> np.ndarray:
    """Mean over axis 0 ignoring NaN (NaN where every entry is NaN), without warnings."""
    ok = ~np.isnan(a)
    n = ok.sum(axis=0)
    return np.where(n > 0, np.where(ok, a, 0.0).sum(axis=0) / np.maximum(n, 1), np.nan)


def _ensemble(p: QuasistaticParams, s: Settings, rng: np.random.Generator,
              frozen_std: float = 0.0) -> dict:
    grid = np.arange(0.0, s.gamma_max + 1e-12, s.observe_every)
    keys = ("mean_threshold", "strain_var", "loc", "stress_std")
    acc: dict[str, list] = {k: [] for k in keys}
    curves, sizes, first_gamma = [], [], []
    for child in rng.spawn(s.realisations):
        stress = None if frozen_std == 0 else frozen_stress_field(p.kernel, frozen_std, child)
        st = quasistatic_initial_state(p, child, stress=stress)
        res, _ = run_quasistatic(p, st, s.gamma_max, child, observe_every=s.observe_every)
        curves.append(stress_at_strain(res.gamma, res.sigma_after, grid, p.mu,
                                       sigma0=st.sigma_ext))
        sizes.append(res.size)
        first_gamma.append(res.gamma[0] if res.gamma.size else np.nan)
        for k in keys:
            acc[k].append(getattr(res, k)[: grid.size])
    out = {k: _nanmean(np.array(v)) for k, v in acc.items()}
    curves = np.array(curves)
    out.update(gamma=grid, sigma=curves.mean(axis=0),
               sigma_sem=curves.std(axis=0) / np.sqrt(len(curves)), curves=curves,
               n_events=int(sum(int(z.sum()) for z in sizes)),
               n_avalanches=int(sum(z.size for z in sizes)),
               first_avalanche_gamma_min=float(np.nanmin(first_gamma)),
               first_avalanche_size_mean=float(np.mean([z[0] for z in sizes if z.size])))
    return out


def _models(L: int):
    """(key, params, frozen stress std) of every curve: the paper's eight models, then the
    input variants of the two rejuvenation + correlation models."""
    for (glass, scen, corr) in COEFFS:
        yield (f"{glass}/{scen}/{'corr' if corr else 'c1=0'}",
               params_for(glass, scen, corr, L), 0.0)
    for glass in ("ESL", "GQ"):
        base = params_for(glass, "rejuvenation", True, L)
        for name, (std, frac, depth) in INPUTS.items():
            p = base if frac == 0 else replace(base, initial=with_negative_tail(
                GLASSES[glass], frac, depth))
            yield f"{glass}/rejuvenation/corr/{name}", p, std


def run(settings: Settings, rng: np.random.Generator) -> dict:
    """All model variants; curves averaged over realisations, and summary numbers."""
    t0 = time.perf_counter()
    curves, numbers = {}, {}
    for key, p, frozen in _models(settings.L):
        t1 = time.perf_counter()
        c = _ensemble(p, settings, rng, frozen)
        elapsed = time.perf_counter() - t1
        g = c["gamma"]
        late = g >= 0.5 * g[-1]
        pb = min(PEAK_BEFORE, 0.25 * g[-1])
        pf = max(min(PLATEAU_FROM, 0.5 * g[-1]), pb + settings.observe_every)
        ex = transient_excess(g, c.pop("curves"), pb, pf)
        curves[key] = c
        loc = np.nan_to_num(c["loc"], nan=0.0)
        slope = np.polyfit(g[late], c["strain_var"][late], 1)[0]
        numbers[key] = dict(
            disorder_strength_s=p.disorder_strength, age_r=p.age, mean_slip=p.mean_slip,
            paper_mean_slip=PAPER_EPS0_BAR.get(tuple(key.split("/")[:2]))  # type: ignore
            if "/corr" in key else None,
            frozen_stress_std=frozen,
            peak_minus_plateau=ex.excess, peak_minus_plateau_sem=ex.excess_sem,
            strain_at_peak=ex.strain_at_peak,
            naive_max_minus_plateau=ex.naive,
            plateau=float(c["sigma"][g >= pf].mean()),
            transient_window=[0.0, pb], plateau_window=[pf, float(g[-1])],
            mean_threshold_initial=float(c["mean_threshold"][0]),
            mean_threshold_max=float(c["mean_threshold"].max()),
            strain_at_mean_threshold_max=float(g[c["mean_threshold"].argmax()]),
            mean_threshold_final=float(c["mean_threshold"][-1]),
            loc_max=float(loc.max()),
            strain_at_loc_max=float(g[loc.argmax()]),
            # after the first isolated slips (gamma < 0.05: a few sites carry all the strain)
            loc_max_after_0_05=float(loc[g >= 0.05].max()),
            strain_at_loc_max_after_0_05=float(g[g >= 0.05][loc[g >= 0.05].argmax()]),
            loc_final=float(loc[-1]),
            strain_var_final=float(c["strain_var"][-1]),
            strain_var_slope_late=float(slope),
            # the paper's axes (Figs. 4, 6): var(eps_i) against eps = gamma / 2
            tensor_strain_var_slope_late=float(slope / 2.0),
            stress_std_initial=float(c["stress_std"][0]),
            stress_std_final=float(c["stress_std"][-1]),
            first_avalanche_gamma_min=c["first_avalanche_gamma_min"],
            first_avalanche_size_mean=c["first_avalanche_size_mean"],
            events_per_second=c["n_events"] / max(elapsed, 1e-9),
        )
    numbers["runtime_s"] = time.perf_counter() - t0
    numbers["distributions"] = {k: dict(shape=v.shape, scale=v.scale, mean=v.mean(), std=v.std(),
                                        second_moment=v.second_moment())
                                for k, v in GLASSES.items()}
    return dict(curves=curves, numbers=numbers,
                settings=dict(L=settings.L, gamma_max=settings.gamma_max,
                              realisations=settings.realisations))


def plot(results: dict):
    """2 x 5 panels: Fig. 3a, 3b, 4a, 4b, 5a / 5b, 6a, 6b, 7a, 7b; Figs. 4 and 6 against the
    true (tensor) strain ``eps = gamma / 2`` as in the paper."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(2, 5, figsize=(22, 8))
    c = results["curves"]
    style = {"disordered": "-", "rejuvenation": "--"}

    def curve(a, glass, corr, field, ylabel, title, tensor=False):
        xs, ys = (0.5, 0.25 if field == "strain_var" else 1.0) if tensor else (1.0, 1.0)
        for scen in ("disordered", "rejuvenation"):
            k = f"{glass}/{scen}/{'corr' if corr else 'c1=0'}"
            a.plot(xs * c[k]["gamma"], ys * c[k][field], style[scen], label=f"{scen}")
        if corr:
            for name in INPUTS:
                k = f"{glass}/rejuvenation/corr/{name}"
                a.plot(xs * c[k]["gamma"], ys * c[k][field], ":", lw=1,
                       label=f"rejuvenation, {name}")
        a.set(xlabel=r"true strain $\varepsilon = \gamma/2$" if tensor else r"$\gamma$",
              ylabel=ylabel, title=title)
        if field == "loc":  # the first isolated slips give LOC up to L at eps ~ 0
            a.set_ylim(0.0, 1.2)
        a.legend(fontsize=7)

    curve(ax[0, 0], "ESL", False, "sigma", r"$\Sigma$", "Fig. 3a ESL, c1 = 0")
    curve(ax[0, 1], "ESL", True, "sigma", r"$\Sigma$", "Fig. 3b ESL, correlation")
    curve(ax[0, 2], "ESL", True, "strain_var", r"var($\varepsilon_i$)",
          "Fig. 4a ESL strain variance", tensor=True)
    curve(ax[0, 3], "ESL", True, "mean_threshold", r"$\langle\sigma_c\rangle$",
          "Fig. 4b ESL mean threshold", tensor=True)
    curve(ax[0, 4], "GQ", False, "sigma", r"$\Sigma$", "Fig. 5a GQ, c1 = 0")
    curve(ax[1, 0], "GQ", True, "sigma", r"$\Sigma$", "Fig. 5b GQ, correlation")
    curve(ax[1, 1], "GQ", True, "loc", "LOC", "Fig. 6a GQ localisation", tensor=True)
    curve(ax[1, 2], "GQ", True, "mean_threshold", r"$\langle\sigma_c\rangle$",
          "Fig. 6b GQ mean threshold", tensor=True)
    curve(ax[1, 3], "ESL", True, "stress_std", r"std($\sigma$)", "Fig. 7a ESL internal stress")
    curve(ax[1, 4], "GQ", True, "stress_std", r"std($\sigma$)", "Fig. 7b GQ internal stress")
    fig.tight_layout()
    return fig



def main(argv: list[str] | None = None) -> dict:
    out, results = _common.run_study(__doc__, argv, "tyukodi_figs", Settings, run, plot)
    (out / "tyukodi_numbers.json").write_text(json.dumps(_json(results["numbers"]), indent=1))
    fields = ("sigma", "sigma_sem", "mean_threshold", "strain_var", "loc", "stress_std")
    with open(out / "tyukodi_curves.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["model", "gamma", *fields])
        for key, c in results["curves"].items():
            for i, g in enumerate(c["gamma"]):
                w.writerow([key, f"{g:.6g}", *(f"{c[f][i]:.6g}" for f in fields)])
    print(json.dumps(_json({k: {kk: v[kk] for kk in ("peak_minus_plateau",
                                                      "peak_minus_plateau_sem", "plateau",
                                                      "mean_threshold_max",
                                                      "loc_max_after_0_05")}
                            for k, v in results["numbers"].items() if "/" in k}), indent=1))
    return results


def _json(obj):
    return _common.jsonable(obj, nonfinite_as_null=True)


if __name__ == "__main__":
    main()

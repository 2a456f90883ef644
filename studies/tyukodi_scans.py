"""Tyukodi et al. (2023), the claims on the two dimensionless parameters as scans:

* **disorder strength s** (eqs. 4-5): the reduced plateau ``(sigma_F - <sigma_c^r>) /
  <sigma_c^r> = f(s)`` and the strain variance ``var(eps_i) = g(s) eps_tot`` (tensor
  strains, the paper's axes), for ``r = 0`` (``p_i = p_r``) and ``c1 = 0``, ``s`` set by
  ``c0 = std(p_r) / (mu* s)``; two renewal laws of different shape (coefficients of
  variation 0.436 and 0.25, mean 1) test whether ``s`` alone fixes ``f`` and ``g``;
* **age r** (section 3.2, after Ref. [37]): "the larger r, the thinner and the more
  persistent the shear band", for the GQ rejuvenation + correlation model (renewal MCT,
  ``c0, c1 = 0.0235, 0.0163``, moduli 19 / 55) with initial Weibull laws of mean ``1 + r``
  and the GQ width 0.509. Band width ``w = 1 / LOC`` (a band of ``w`` rows has
  ``LOC = 1 / w``, seed eq. 13) at the LOC maximum after ``eps = 0.025``; persistence
  ``Delta eps_1/2``: tensor strain from that maximum until LOC first falls to half of it
  (censored at the end of the run).

All numbers are means over realisations with their standard errors; strains are tensor
(``eps = gamma / 2``) as on the paper's Figs. 4 and 6.

Run: ``python studies/tyukodi_scans.py --out DIR [--seed S] [--smoke]``.
"""

import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

from femplastic.lattice import (  # noqa: E402
    QuasistaticParams,
    Weibull,
    effective_modulus,
    quasistatic_initial_state,
    run_quasistatic,
    stress_at_strain,
)

#: renewal laws of the s-scan: mean 1, two shapes
S_LAWS = {"cv0.436": Weibull.from_mean_std(1.0, 0.436), "cv0.25": Weibull.from_mean_std(1.0, 0.25)}
MCT = Weibull.from_mean_std(1.0, 0.436)
ESL_MODULI, GQ_MODULI = (14.7, 52.0), (19.0, 55.0)
GQ_COEFFS = (0.0235, 0.0163)
GQ_STD = 0.509


@dataclass
class Settings:
    """Scan values, lattice size, strains (engineering ``gamma_max``), realisations."""

    L: int = 16
    s_values: tuple[float, ...] = (0.3, 0.45, 0.6, 0.8, 1.0, 1.4, 2.0)
    r_values: tuple[float, ...] = (0.0, 0.14, 0.3, 0.5, 0.65, 0.9)
    gamma_max_s: float = 3.0
    gamma_max_r: float = 3.0
    observe_every: float = 0.01
    realisations: int = 40

    @classmethod
    def smoke(cls) -> "Settings":
        """Seconds-long version."""
        return cls(L=8, s_values=(0.5, 1.0), r_values=(0.0, 0.65), gamma_max_s=0.4,
                   gamma_max_r=0.4, observe_every=0.02, realisations=4)


def _mean_sem(x) -> tuple[float, float]:
    x = np.asarray(x, dtype=float)
    return float(x.mean()), float(x.std(ddof=1) / np.sqrt(x.size))


def s_point(law: Weibull, s: float, st: Settings, rng: np.random.Generator) -> dict:
    """One point of the s-scan: reduced plateau and strain-variance slope per realisation."""
    mu, K = ESL_MODULI
    c0 = law.std() / (effective_modulus(mu, K) * s)
    p = QuasistaticParams(initial=law, c0=c0, c1=0.0, L=st.L, mu=mu, K=K)
    grid = np.arange(0.0, st.gamma_max_s + 1e-12, st.observe_every)
    late = grid >= 0.5 * grid[-1]
    red, slope, lin, var_curves = [], [], [], []
    for child in rng.spawn(st.realisations):
        res, _ = run_quasistatic(p, quasistatic_initial_state(p, child), st.gamma_max_s, child,
                                 observe_every=st.observe_every)
        sig = stress_at_strain(res.gamma, res.sigma_after, grid, p.mu)
        red.append((sig[late].mean() - law.mean()) / law.mean())
        eps = 0.5 * res.obs_gamma[: grid.size]
        var_eps = 0.25 * res.strain_var[: grid.size]
        slope.append(np.polyfit(eps[late], var_eps[late], 1)[0])
        # linearity of eq. 5: var / eps at the end over var / eps at mid-run
        mid = np.argmin(np.abs(grid - 0.5 * grid[-1]))
        lin.append((var_eps[-1] / eps[-1]) / (var_eps[mid] / eps[mid]))
        var_curves.append(var_eps)
    f, f_err = _mean_sem(red)
    g, g_err = _mean_sem(slope)
    # the extremal dynamics is exactly invariant under a shift of all thresholds (Sigma_F
    # shifts with them) and under a common scaling of thresholds and slips: so
    # (sigma_F - mean) / std and g / eps0 can depend on s and the *standardised* shape only
    return dict(s=p.disorder_strength, c0=c0, f=f, f_sem=f_err, g=g, g_sem=g_err,
                f_over_cv=f / (law.std() / law.mean()),
                f_over_cv_sem=f_err / (law.std() / law.mean()), g_over_eps0=g / c0,
                g_over_eps0_sem=g_err / c0,
                var_over_eps_end_over_mid=_mean_sem(lin)[0],
                eps=(0.5 * grid).tolist(), var_eps=np.mean(var_curves, axis=0).tolist())


def r_point(r: float, st: Settings, rng: np.random.Generator) -> dict:
    """One point of the age scan: band width and persistence per realisation."""
    mu, K = GQ_MODULI
    init = Weibull.from_mean_std((1.0 + r) * MCT.mean(), GQ_STD)
    p = QuasistaticParams(initial=init, renewal=MCT, c0=GQ_COEFFS[0], c1=GQ_COEFFS[1],
                          L=st.L, mu=mu, K=K)
    grid = np.arange(0.0, st.gamma_max_r + 1e-12, st.observe_every)
    eps = 0.5 * grid
    ok = eps >= 0.025
    width, loc_max, eps_max, persist, censored, locs = [], [], [], [], 0, []
    for child in rng.spawn(st.realisations):
        res, _ = run_quasistatic(p, quasistatic_initial_state(p, child), st.gamma_max_r, child,
                                 observe_every=st.observe_every)
        loc = np.nan_to_num(res.loc[: grid.size], nan=0.0)
        locs.append(loc)
        i = int(np.flatnonzero(ok)[np.argmax(loc[ok])])
        m = loc[i]
        loc_max.append(m)
        width.append(1.0 / m)
        eps_max.append(eps[i])
        below = np.flatnonzero(loc[i:] < 0.5 * m)
        if below.size:
            persist.append(eps[i + below[0]] - eps[i])
        else:
            persist.append(eps[-1] - eps[i])
            censored += 1
    return dict(r=p.age, s=p.disorder_strength, loc_max=_mean_sem(loc_max),
                band_width=_mean_sem(width), eps_at_loc_max=_mean_sem(eps_max),
                persistence=_mean_sem(persist), persistence_censored=censored,
                eps=eps.tolist(), loc=np.mean(locs, axis=0).tolist())


def run(settings: Settings, rng: np.random.Generator) -> dict:
    """Both scans."""
    t0 = time.perf_counter()
    s_scan = {name: [s_point(law, s, settings, rng) for s in settings.s_values]
              for name, law in S_LAWS.items()}
    r_scan = [r_point(r, settings, rng) for r in settings.r_values]
    numbers = dict(
        system="Tyukodi et al. quasistatic scalar EPM (femplastic.lattice), L = "
               f"{settings.L}, {settings.realisations} realisations per point",
        s_scan={k: [{kk: v[kk] for kk in ("s", "c0", "f", "f_sem", "g", "g_sem", "f_over_cv",
                                           "f_over_cv_sem", "g_over_eps0", "g_over_eps0_sem",
                                           "var_over_eps_end_over_mid")} for v in pts]
                for k, pts in s_scan.items()},
        r_scan=[{kk: v[kk] for kk in ("r", "s", "loc_max", "band_width", "eps_at_loc_max",
                                      "persistence", "persistence_censored")} for v in r_scan],
        runtime_s=time.perf_counter() - t0,
    )
    return dict(s_scan=s_scan, r_scan=r_scan, numbers=numbers, settings=asdict(settings))


def plot(results: dict):
    """(a) f(s), (b) g(s), (c) var(eps_i) vs eps, (d) LOC vs eps for each r, (e) width and
    persistence vs r."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 5, figsize=(24, 4.5))
    for name, pts in results["s_scan"].items():
        s = [p["s"] for p in pts]
        ax[0].errorbar(s, [p["f"] for p in pts], [p["f_sem"] for p in pts], fmt="o-", label=name)
        ax[0].errorbar(s, [p["f_over_cv"] for p in pts], [p["f_over_cv_sem"] for p in pts],
                       fmt="s--", mfc="none", label=f"{name}: f / cv")
        ax[1].errorbar(s, [p["g"] for p in pts], [p["g_sem"] for p in pts], fmt="o-", label=name)
        if name == "cv0.436":
            for p in pts:
                ax[2].plot(p["eps"], p["var_eps"], label=f"s = {p['s']:.2f}")
    ax[0].set(xlabel="s", ylabel=r"$(\sigma_F - \bar\sigma_c^r)/\bar\sigma_c^r$",
              title="eq. 4: f(s)")
    ax[1].set(xlabel="s", ylabel=r"g = d var($\varepsilon_i$) / d$\varepsilon$",
              title="eq. 5: g(s)", yscale="log", xscale="log")
    ax[2].set(xlabel=r"$\varepsilon$", ylabel=r"var($\varepsilon_i$)", title="strain variance")
    for a in ax[:3]:
        a.legend(fontsize=7)
    for p in results["r_scan"]:
        ax[3].plot(p["eps"], p["loc"], label=f"r = {p['r']:.2f}")
    ax[3].set(xlabel=r"$\varepsilon$", ylabel="LOC (mean)", title="localisation vs age")
    ax[3].legend(fontsize=7)
    r = [p["r"] for p in results["r_scan"]]
    ax[4].errorbar(r, [p["band_width"][0] for p in results["r_scan"]],
                   [p["band_width"][1] for p in results["r_scan"]], fmt="o-",
                   label="band width 1/LOC (cells)")
    b = ax[4].twinx()
    b.errorbar(r, [p["persistence"][0] for p in results["r_scan"]],
               [p["persistence"][1] for p in results["r_scan"]], fmt="s--", color="C1",
               label=r"persistence $\Delta\varepsilon_{1/2}$")
    ax[4].set(xlabel="r", ylabel="band width (cells)", title="band vs age")
    b.set_ylabel(r"$\Delta\varepsilon_{1/2}$")
    ax[4].legend(fontsize=7, loc="upper left")
    b.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig


def main(argv: list[str] | None = None) -> dict:
    out, results = _common.run_study(__doc__, argv, "tyukodi_scans", Settings, run, plot)
    (out / "tyukodi_scans.json").write_text(json.dumps(_common.jsonable(
        results["numbers"], nonfinite_as_null=True), indent=1))
    print(json.dumps(_common.jsonable(results["numbers"], nonfinite_as_null=True), indent=1))
    return results


if __name__ == "__main__":
    main()

"""Tests of the Hebraud-Lequeux mean-field model (femplastic.meanfield)."""

from __future__ import annotations

import importlib.util
import math
import pathlib
import sys

import numpy as np
import pytest

from femplastic import meanfield as mf
from femplastic.meanfield import steady as mf_steady

# --------------------------------------------------------------------------------------------
# quasistatic theory vs the exact stationary solution
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [0.05, 0.2, 0.3, 0.45])
def test_quasistatic_formulas_match_exact_stationary_solution(alpha):
    # the closed-form stationary density at tiny rates, fitted with the asymptotic form
    # sigma_Y + A gdot^1/2 + B gdot, must give the matched-asymptotics constants
    g = np.array([1e-10, 4e-10, 1e-9, 4e-9])
    s = np.array([mf.hl_stationary_exact(alpha, x).mean_stress for x in g])
    (sy, a, _), *_ = np.linalg.lstsq(np.column_stack([np.ones_like(g), np.sqrt(g), g]), s)
    assert abs(sy - mf.hl_yield_stress(alpha)) < 1e-7
    assert abs(a / mf.hl_hb_prefactor(alpha) - 1.0) < 1e-3


def test_quasistatic_limits_and_units():
    # alpha -> 0: no noise, the stress grows linearly from 0 to sigma_c: sigma_Y -> 1/2
    assert abs(mf.hl_yield_stress(1e-3) - 0.5) < 2e-3
    assert abs(mf.hl_hb_prefactor(1e-3) / (0.5 * np.sqrt(1e-3)) - 1.0) < 0.05
    # alpha -> 1/2: sigma_Y -> 0, A diverges like (24 (1/2 - alpha))^(-3/4)
    eps = 1e-6
    assert mf.hl_yield_stress(0.5 - eps) < 2e-3
    assert abs(mf.hl_hb_prefactor(0.5 - eps) * (24 * eps) ** 0.75 - 1.0) < 0.02
    assert mf.hl_yield_stress(0.5) == 0.0 and mf.hl_yield_stress(0.9) == 0.0
    # alpha = d tanh(1/(2d))
    d = mf.hl_d_of_alpha(0.3)
    assert abs(d * np.tanh(0.5 / d) - 0.3) < 1e-14
    # dimensions: sigma_Y ~ sigma_c, A ~ sqrt(G0 tau sigma_c)
    assert np.isclose(mf.hl_yield_stress(0.3, sigma_c=2.5), 2.5 * mf.hl_yield_stress(0.3))
    assert np.isclose(
        mf.hl_hb_prefactor(0.3, sigma_c=2.0, G0=3.0, tau=5.0),
        np.sqrt(30.0) * mf.hl_hb_prefactor(0.3),
    )
    # the inverse used for the seed's alpha_flow
    assert abs(mf.alpha_from_yield_stress(mf.hl_yield_stress(0.26)) - 0.26) < 1e-10


# --------------------------------------------------------------------------------------------
# finite-volume stationary solver
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [0.1, 0.3, 0.8])
@pytest.mark.parametrize("gdot", [1e-6, 1e-3, 1e-1, 10.0])
def test_fv_steady_state_matches_exact_solution(alpha, gdot):
    st = mf.hl_steady_state(alpha, gdot)
    ex = mf.hl_stationary_exact(alpha, gdot)
    assert abs(st.mean_stress / ex.mean_stress - 1.0) < 2e-3
    assert abs(st.diffusion / ex.diffusion - 1.0) < 3e-3
    assert abs(st.mass - 1.0) < 1e-12
    assert st.density.min() >= 0.0
    # self-consistency of the noise closure
    assert np.isclose(st.diffusion, alpha * st.activity, rtol=1e-12)


def test_units_of_the_steady_state():
    base = mf.hl_steady_state(0.3, 0.02)
    st = mf.hl_steady_state(0.3, 0.02 * 2.0 / (3.0 * 0.5), sigma_c=2.0, G0=3.0, tau=0.5)
    assert np.isclose(st.mean_stress, 2.0 * base.mean_stress, rtol=1e-10)
    assert np.isclose(st.activity, base.activity / 0.5, rtol=1e-10)
    assert np.isclose(st.diffusion, base.diffusion * 4.0 / 0.5, rtol=1e-10)
    assert abs((st.density * st.widths).sum() - 1.0) < 1e-12


def test_grid_convergence_order():
    ex = mf.hl_stationary_exact(0.3, 1e-3).mean_stress
    res = [0.5, 1.0, 2.0, 4.0]
    err = np.array([abs(mf.hl_steady_state(0.3, 1e-3, resolution=r).mean_stress - ex) for r in res])
    orders = np.log2(err[:-1] / err[1:])
    print("errors", err, "observed orders", orders)
    assert np.all(orders > 0.8)
    assert err[-1] < 1e-5


def test_grid_convergence_order_advection_dominated():
    # gdot = 1: the yielding layer is advection dominated (cell Peclet >> 1)
    ex = mf.hl_stationary_exact(0.1, 1.0).mean_stress
    err = np.array(
        [abs(mf.hl_steady_state(0.1, 1.0, resolution=r).mean_stress - ex) for r in (0.5, 1, 2)]
    )
    assert np.all(np.log2(err[:-1] / err[1:]) > 0.8)


@pytest.mark.parametrize("alpha", [0.1, 0.2, 0.3, 0.4])
def test_low_rate_flow_curve_is_herschel_bulkley_one_half(alpha):
    rates = np.logspace(-8, -5, 10)
    fc = mf.hl_flow_curve(alpha, rates)
    fit = mf.hb_fit(rates, fc)
    assert abs(fit.n - 0.5) < 0.03
    assert abs(fit.sigma_Y - mf.hl_yield_stress(alpha)) < 1e-3
    # with the next-order term, the solver's yield stress and prefactor match the theory
    (sy, a, _), *_ = np.linalg.lstsq(
        np.column_stack([np.ones_like(rates), np.sqrt(rates), rates]), fc
    )
    assert abs(sy - mf.hl_yield_stress(alpha)) < 1e-4
    assert abs(a / mf.hl_hb_prefactor(alpha) - 1.0) < 0.03


@pytest.mark.parametrize("alpha", [0.6, 2.0])
def test_no_yield_stress_above_one_half(alpha):
    rates = np.logspace(-7, -4, 4)
    fc = mf.hl_flow_curve(alpha, rates)
    slope = np.polyfit(np.log(rates), np.log(fc), 1)[0]
    assert abs(slope - 1.0) < 0.01  # Newtonian: <sigma> proportional to gdot
    assert fc[0] < 1e-5
    with pytest.raises(ValueError, match="alpha"):
        mf.hl_hb_prefactor(alpha)


def test_general_reinjection_path_and_classes_reduce_to_the_original_model():
    rates = [1e-5, 1e-2]
    ref = mf.hl_flow_curve(0.3, rates)
    for ext in (
        mf.HLExtensions(relax_fraction=1.0),  # partial-relaxation code path, full reset
        mf.HLExtensions(renewal="keep"),
        mf.HLExtensions(thresholds=(1.0, 1.0), weights=(0.3, 0.7)),
        mf.HLExtensions(thresholds=(1.0, 1.0), weights=(0.3, 0.7), renewal="keep"),
    ):
        assert np.allclose(mf.hl_flow_curve(0.3, rates, extensions=ext), ref, rtol=1e-6)


@pytest.mark.parametrize("f", [0.2, 0.5])
def test_partial_relaxation_stress_balance(f):
    # stationarity of <sigma>: G0 gdot = (1/tau) int_out (s - (1 - f) s) P
    ext = mf.HLExtensions(relax_fraction=f, noise_scale=f)
    for g in (1e-4, 1e-2):
        st = mf.hl_steady_state(0.3, g, extensions=ext)
        out = np.abs(st.sigma) > 1.0
        moment = np.sum(f * st.sigma[out] * st.density[0, out] * st.widths[out])
        assert abs(moment / g - 1.0) < 1e-3
        assert abs(st.mass - 1.0) < 1e-12 and st.density.min() >= 0.0
    # partial relaxation keeps sites close to threshold: larger yield stress than full reset
    fc = mf.hl_flow_curve(0.3, [1e-6], extensions=ext)
    assert fc[0] > mf.hl_yield_stress(0.3) + 0.1


def test_threshold_distribution_flow_curve_and_hb_fit():
    from scipy import stats

    ext = mf.HLExtensions.from_distribution(stats.norm(1.0, 0.15), 5)
    assert np.isclose(np.mean(ext.thresholds), 1.0, atol=1e-12)
    rates = np.logspace(-7, -4, 6)
    fc = mf.hl_flow_curve(0.3, rates, extensions=ext)
    assert np.all(np.diff(fc) > 0)
    fit = mf.hb_fit(rates, fc)
    assert abs(fit.n - 0.5) < 0.05
    # redraw renewal depletes weak classes: the yield stress exceeds the one at sigma_c
    assert fit.sigma_Y > mf.hl_yield_stress(0.3)
    st = mf.hl_steady_state(0.3, 1e-4, extensions=ext)
    masses = (st.density * st.widths).sum(axis=1)
    assert np.all(np.diff(masses) > 0)  # weak classes (first) are depleted
    assert abs(masses.sum() - 1.0) < 1e-12


def test_hb_fit_recovers_known_parameters():
    rates = np.logspace(-4, 0, 15)
    s = 0.3 + 0.5 * rates**0.6
    fit = mf.hb_fit(rates, s)
    assert np.allclose([fit.sigma_Y, fit.A, fit.n], [0.3, 0.5, 0.6], rtol=1e-6)
    fixed = mf.hb_fit(rates, 0.3 + 0.5 * np.sqrt(rates), n=0.5)
    assert np.allclose([fixed.sigma_Y, fixed.A], [0.3, 0.5], rtol=1e-8)


# --------------------------------------------------------------------------------------------
# time-dependent protocols
# --------------------------------------------------------------------------------------------


def test_fixed_rate_transient_conserves_mass_and_reaches_the_steady_state():
    tr = mf.hl_fixed_rate(0.3, 0.05, 200.0, dt=0.01, dt_growth=1.02, dt_max=1.0)
    assert np.abs(tr.mass - 1.0).max() < 1e-12
    assert tr.min_density.min() >= 0.0
    assert tr.stress[0] == pytest.approx(0.0, abs=1e-14)
    assert np.all(np.diff(tr.strain) > 0)
    st = mf.hl_steady_state(0.3, 0.05)
    assert abs(tr.stress[-1] - st.mean_stress) < 1e-3
    assert abs(tr.activity[-1] / st.activity - 1.0) < 1e-2


def test_large_time_steps_are_stable():
    # dt D / h^2 ~ 1e3: backward Euler stays positive and conservative
    tr = mf.hl_fixed_rate(0.3, 0.1, 50.0, dt=2.0)
    assert np.abs(tr.mass - 1.0).max() < 1e-12
    assert tr.min_density.min() >= 0.0
    assert np.isfinite(tr.stress).all()


def test_creep_below_yield_stress_gets_stuck():
    sy = mf.hl_yield_stress(0.3)
    tr = mf.hl_creep(0.3, 0.5 * sy, 600.0, dt=0.01, dt_growth=1.03, dt_max=5.0)
    assert np.abs(tr.stress - 0.5 * sy).max() < 1e-9  # the stress is held
    assert np.abs(tr.mass - 1.0).max() < 1e-12
    assert tr.min_density.min() >= 0.0
    assert tr.activity[-1] < 1e-4 * tr.activity[0]
    assert tr.gdot[-1] < 1e-5
    half = tr.t >= 0.5 * tr.t[-1]
    assert np.ptp(tr.strain[half]) < 1e-3  # the strain saturates


def test_creep_above_yield_stress_flows_on_the_flow_curve():
    target = 1.6 * mf.hl_yield_stress(0.3)
    tr = mf.hl_creep(0.3, target, 40.0, dt=0.01, dt_growth=1.02, dt_max=1.0)
    assert np.abs(tr.stress - target).max() < 1e-9
    late = tr.t > 30.0
    assert np.ptp(tr.gdot[late]) < 1e-3 * tr.gdot[-1]  # steady rate
    st = mf.hl_steady_state(0.3, tr.gdot[-1])
    assert abs(st.mean_stress - target) < 1e-3


def test_step_strain_relaxation_jammed_vs_liquid():
    jam = mf.hl_step_strain(0.2, 0.5, 400.0, dt=0.01, dt_growth=1.02, dt_max=5.0)
    liq = mf.hl_step_strain(0.8, 0.5, 400.0, dt=0.01, dt_growth=1.02, dt_max=5.0)
    for tr in (jam, liq):
        assert np.abs(tr.mass - 1.0).max() < 1e-10
        assert tr.min_density.min() >= 0.0
        assert tr.stress[0] == pytest.approx(0.5, abs=1e-3)  # G0 gamma0
        assert np.all(np.diff(tr.stress) <= 1e-12)  # monotone relaxation
    assert jam.stress[-1] > 0.02 and jam.activity[-1] < 1e-6  # residual stress, no activity
    assert abs(liq.stress[-1]) < 1e-6 and liq.activity[-1] > 1e-2  # self-sustained liquid


def test_transient_with_threshold_classes_conserves_mass():
    ext = mf.HLExtensions(thresholds=(0.8, 1.0, 1.2), weights=(1, 2, 1), renewal="keep")
    tr = mf.hl_fixed_rate(0.3, 0.05, 20.0, extensions=ext, dt=0.05)
    assert np.abs(tr.mass - 1.0).max() < 1e-12
    assert tr.min_density.min() >= 0.0
    masses = (tr.density * tr.widths).sum(axis=1)
    assert np.allclose(masses, [0.25, 0.5, 0.25], atol=1e-12)  # "keep": classes closed


# --------------------------------------------------------------------------------------------
# input validation
# --------------------------------------------------------------------------------------------


def _coarse_grid():
    return mf.make_grid(h_layer=0.05, h_max=0.05, s_min=-3.0, s_max=3.0)


@pytest.mark.parametrize(
    ("call", "name", "rng_text"),
    [
        (lambda: mf.hl_steady_state(0.0, 1e-3), "alpha", "(0, inf)"),
        (lambda: mf.hl_steady_state(-0.2, 1e-3), "alpha", "(0, inf)"),
        (lambda: mf.hl_steady_state(float("nan"), 1e-3), "alpha", "(0, inf)"),
        (lambda: mf.hl_steady_state(0.3, -1e-3), "gdot", "(0, inf)"),
        (lambda: mf.hl_steady_state(0.3, float("nan")), "gdot", "(0, inf)"),
        (lambda: mf.hl_steady_state(0.3, 1e-3, sigma_c=-1.0), "sigma_c", "(0, inf)"),
        (lambda: mf.hl_steady_state(0.3, 1e-3, tau=0.0), "tau", "(0, inf)"),
        (lambda: mf.hl_steady_state(0.3, 1e-3, resolution=0.1), "resolution", "[0.25, 64]"),
        (lambda: mf.hl_steady_state(0.3, 1e-5, grid=_coarse_grid()), "grid", "(0, "),
        (lambda: mf.hl_flow_curve(0.3, [1e-3, -1e-3]), "rates", "(0, inf)"),
        (lambda: mf.hl_flow_curve(0.3, [1e-3, np.nan]), "rates", "finite"),
        (lambda: mf.hl_hb_prefactor(0.6), "alpha", "(0, 0.5)"),
        (lambda: mf.hl_yield_stress(-1.0), "alpha", "(0, inf)"),
        (lambda: mf.HLExtensions(relax_fraction=1.5), "relax_fraction", "(0, 1]"),
        (lambda: mf.HLExtensions(thresholds=(1.0, -1.0), weights=(1, 1)), "thresholds", "(0"),
        (lambda: mf.hl_creep(0.3, 0.1, -5.0), "t_max", "(0, inf)"),
        (lambda: mf.hl_fixed_rate(0.3, 0.1, 1.0, dt=2.0), "dt", "(0, 1]"),
        (lambda: mf.hb_fit([1e-3, 1e-2, 1e-1], [1, 2, 3], n=3.0), "n", "(0, 2]"),
        (lambda: mf.alpha_micro(1.0, 0.0, 1.0), "stress_drop", "(0, inf)"),
        (
            lambda: mf.stress_diffusion(np.zeros((10, 3)), np.arange(10.0), 0.1, -1.0),
            "G0",
            "(0, inf)",
        ),
    ],
)
def test_bad_input_raises_value_error_naming_parameter_and_range(call, name, rng_text):
    with pytest.raises(ValueError) as info:
        call()
    msg = str(info.value)
    assert name in msg
    assert rng_text in msg


def test_coarse_grid_error_is_raised_before_solving(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("solver called")

    monkeypatch.setattr(mf_steady, "_stationary_given_D", boom)
    with pytest.raises(ValueError, match="too coarse for the boundary layer"):
        mf.hl_steady_state(0.3, 1e-5, grid=_coarse_grid())


# --------------------------------------------------------------------------------------------
# bridge estimators on synthetic records
# --------------------------------------------------------------------------------------------


def _synthetic_record(rng, n_t=1001, n_sites=3000, dt=0.01, D=0.3, gdot=0.2, G0=10.0, gam=0.05):
    """Brownian stresses (HL convention: msd = 2 D t) with elastic drift, plus one-sample
    yielding events at rate gam that drop the stress by 20%."""
    t = dt * np.arange(n_t)
    plastic = rng.random((n_t, n_sites)) < gam * dt
    plastic[0] = plastic[-1] = False
    plastic[1:][plastic[:-1].copy()] = False  # isolated one-sample events
    incr = np.sqrt(2.0 * D * dt) * rng.standard_normal((n_t - 1, n_sites)) + G0 * gdot * dt
    sigma = np.empty((n_t, n_sites))
    sigma[0] = rng.uniform(0.5, 1.0, n_sites)
    for i in range(1, n_t):
        sigma[i] = sigma[i - 1] + incr[i - 1]
        ev = plastic[i - 1] & ~plastic[i - 2] if i >= 2 else np.zeros(n_sites, bool)
        sigma[i, ev] = 0.8 * sigma[i - 2, ev]  # the drop completes after the event
    return t, sigma, plastic


def test_bridge_estimators_recover_known_diffusion_activity_and_drop():
    rng = np.random.default_rng(20150703)
    D, gdot, G0, gam = 0.3, 0.2, 10.0, 0.05
    t, sigma, plastic = _synthetic_record(rng, D=D, gdot=gdot, G0=G0, gam=gam)
    fit = mf.stress_diffusion(sigma, t, gdot, G0, plastic=plastic, max_lag=20)
    assert abs(fit.D_hl / D - 1.0) < 0.03
    assert np.isclose(fit.D_sigma, 2.0 * fit.D_hl)
    # without excluding the yielding windows the drops bias the estimate upwards
    biased = mf.stress_diffusion(sigma, t, gdot, G0, max_lag=20)
    assert biased.D_hl > 1.2 * D
    # without removing the elastic drift G0 gdot t the msd is not linear in t
    nodrift = mf.stress_diffusion(sigma, t, 0.0, G0, plastic=plastic, max_lag=20)
    assert nodrift.D_hl > 1.5 * D
    g_est = mf.activity_rate(plastic, t)
    assert abs(g_est / gam - 1.0) < 0.1
    assert np.isclose(mf.activity_rate(plastic, t, mode="fraction", tau=t[1] - t[0]), g_est, 0.05)
    before, after = mf.stress_drops(sigma, plastic)
    drop, rel = mf.mean_stress_drop(before, after)
    assert abs(rel - 0.2) < 0.02
    m = mf.measure_bridge(sigma, plastic, t, gdot, G0, max_lag=20)
    assert np.isclose(m.alpha_micro, m.D_sigma / (m.mean_drop**2 * m.activity))
    assert np.isclose(m.alpha_hl, 0.5 * m.alpha_micro)
    assert m.n_events == before.size > 1000


def _ramp_noise_record(rng, n_t=2001, n_sites=2000, dt=0.05, D=0.2, tc=0.5, v=0.9):
    """Stresses driven by a correlated noise: integrated Ornstein-Uhlenbeck velocity of
    correlation time tc (the ramps of events of finite duration), plus a drift v.
    Known answer: msd(t) = 2 D (t - tc (1 - exp(-t/tc))) around the drift, i.e. linear with
    slope 2 D (HL convention) and intercept -2 D tc for t >> tc."""
    rho = math.exp(-dt / tc)
    su = math.sqrt(D / tc)  # stationary std of the velocity: D = su^2 tc
    u = su * rng.standard_normal(n_sites)
    sigma = np.empty((n_t, n_sites))
    sigma[0] = rng.uniform(0.0, 1.0, n_sites)
    for i in range(1, n_t):
        sigma[i] = sigma[i - 1] + (u + v) * dt
        u = rho * u + su * math.sqrt(1.0 - rho**2) * rng.standard_normal(n_sites)
    return dt * np.arange(n_t), sigma


def test_stress_diffusion_with_correlated_noise_and_measured_drift():
    rng = np.random.default_rng(3)
    D, tc, v, gdot, G0 = 0.2, 0.5, 0.9, 0.2, 10.0  # v = 0.45 G0 gdot (not the elastic rate)
    t, sigma = _ramp_noise_record(rng, D=D, tc=tc, v=v)
    late = np.arange(60, 161, 20)  # lags 3 .. 8 time units = 6 .. 16 tc
    fit = mf.stress_diffusion(sigma, t, gdot, G0, lags=late, drift="mean", intercept=True)
    assert abs(fit.D_hl / D - 1.0) < 0.05
    assert abs(fit.intercept / (-2.0 * D * tc) - 1.0) < 0.25
    assert np.allclose(fit.drift_rate, v, rtol=0.02)
    assert np.allclose(fit.lags, late * (t[1] - t[0]))
    # the drift can also be given explicitly
    given = mf.stress_diffusion(sigma, t, gdot, G0, lags=late, drift=v, intercept=True)
    assert abs(given.D_hl / fit.D_hl - 1.0) < 0.02
    # removing G0 gdot instead of the actual drift biases the msd upwards
    seed = mf.stress_diffusion(sigma, t, gdot, G0, lags=late, intercept=True)
    assert seed.D_hl > 1.5 * D
    # at lags shorter than tc the noise is ballistic: msd / t underestimates D
    short = mf.stress_diffusion(sigma, t, gdot, G0, max_lag=3, drift="mean")
    assert short.D_hl < 0.3 * D and short.intercept == 0.0
    # the bridge passes the options through
    plastic = np.zeros(sigma.shape, dtype=bool)
    plastic[100:102, :50] = True
    m = mf.measure_bridge(sigma, plastic, t, gdot, G0, lags=late, drift="mean", intercept=True)
    assert abs(m.D_hl / D - 1.0) < 0.05 and m.diffusion.intercept < 0.0
    for bad in ({"lags": [3, 3]}, {"lags": [0, 2]}, {"lags": [1.5]}, {"lags": [t.size]}):
        with pytest.raises(ValueError, match="lags"):
            mf.stress_diffusion(sigma, t, gdot, G0, **bad)
    with pytest.raises(ValueError, match="drift"):
        mf.stress_diffusion(sigma, t, gdot, G0, drift="median")
    with pytest.raises(ValueError, match="at least 2 lags"):
        mf.stress_diffusion(sigma, t, gdot, G0, lags=[5], intercept=True)


def test_universal_point_and_curve():
    curve = mf.hl_universal_curve(n=50)
    assert np.all(np.diff(curve.sigma_Y) < 0) and np.all(np.diff(curve.A) > 0)
    x, y = mf.universal_point(0.8, 2.0, sigma_c=4.0, G0=2.0, tau=0.5)
    assert (x, y) == (0.2, 1.0)


# --------------------------------------------------------------------------------------------
# study smoke run
# --------------------------------------------------------------------------------------------


def _load_study():
    path = pathlib.Path(__file__).resolve().parents[1] / "studies" / "puosi_fig3.py"
    spec = importlib.util.spec_from_file_location("puosi_fig3", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # the study defines a dataclass
    spec.loader.exec_module(mod)
    return mod


def test_study_puosi_fig3_smoke(tmp_path):
    mod = _load_study()
    try:
        res = mod.main(["--smoke", "--out", str(tmp_path), "--point", "0.2", "0.4", "lattice"])
        fig = mod.plot(res)
        fig2 = mod.plot({**res, "scalar": None})
    finally:
        sys.modules.pop("puosi_fig3", None)
    for name in ("puosi_fig3.json", "puosi_fig3_curve.csv", "puosi_fig3_scalar_flow.csv",
                 "puosi_fig3_bridge.csv"):
        assert (tmp_path / name).exists()
    chk = res["checks"][0]
    assert abs(chk["sigma_Y_solver"] - chk["sigma_Y_theory"]) < 1e-3
    assert res["points"][0]["label"] == "lattice"
    # the scalar model's flow-curve point, normalised, and its bridge measurement
    sc = res["scalar"]
    assert res["points"][1]["label"].startswith("scalar lattice")
    assert 0.2 < sc["hb_half"]["sigma_Y"] < 0.8 and sc["hb_half"]["A"] > 0.0
    assert np.isclose(sc["point"]["sigma_Y"], sc["hb_half"]["sigma_Y"] / sc["sigma_c"]["used"])
    b = sc["bridge"][0]
    assert b["D_sigma"] > 0.0 and b["n_events"] > 100
    assert abs(b["Gamma_onsets"] / b["Gamma"] - 1.0) < 0.2  # sampled onsets vs n / tau_res
    assert 0.0 < b["relative_drop"] < 1.0
    assert np.isclose(b["alpha_micro"], b["D_sigma"] / (b["mean_drop"] ** 2 * b["Gamma"]))
    assert {h["key"] for h in sc["hl"]} == {"alpha_micro", "alpha_hl", "alpha_hl_sigma_c",
                                             "extended"}
    assert len(fig.axes) == 4 and len(fig2.axes) == 2


def test_study_record_sites_is_a_chunked_fixed_rate_run():
    from femplastic.lattice import FiniteRateParams, finite_rate_initial_state, run_fixed_rate
    from femplastic.lattice import bridge as mod

    try:
        p = FiniteRateParams(L=8)
        st = finite_rate_initial_state(p, np.random.default_rng(1))
        _, st = run_fixed_rate(p, st, 0.05, 20.0, np.random.default_rng(2))
        rec = mod.record_sites(p, st, 0.05, 2.0, 0.1, np.random.default_rng(3))
        _, ref = run_fixed_rate(p, st, 0.05, 2.0, np.random.default_rng(3))
        with pytest.raises(ValueError, match="multiple of dt"):
            mod.record_sites(p, st, 0.05, 2.0, 0.015, np.random.default_rng(3))
    finally:
        sys.modules.pop("puosi_fig3", None)
    assert rec["sigma"].shape == rec["plastic"].shape == (21, 64)
    assert np.allclose(rec["times"], 0.1 * np.arange(21))
    assert np.array_equal(rec["sigma"][-1], ref.stress)
    assert np.array_equal(rec["plastic"][-1], ref.plastic == 1)
    assert np.array_equal(rec["state"].threshold, ref.threshold)

"""Scalar lattice EPMs (Liu et al. finite rate / creep; Tyukodi et al. quasistatic) and their
observables: analytic limits, protocol consistency, statistics at fixed seeds."""

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.stats

from femplastic.lattice import (
    Empirical,
    FiniteRateParams,
    FiniteRateState,
    QuasistaticParams,
    TruncatedNormal,
    Weibull,
    creep_is_stuck,
    cumulative,
    finite_rate_initial_state,
    fit_herschel_bulkley,
    localisation_index,
    overshoot,
    participation_ratio,
    quasistatic_initial_state,
    run_creep,
    run_fixed_rate,
    run_quasistatic,
    steady_mean,
    stress_at_strain,
)

# Threshold distributions of the ESL/GQ/MCT glasses derived in docs/validation/lattice_models.md
MCT = Weibull.from_mean_std(1.0, 0.436)
GQ = Weibull.from_mean_std(1.65, 0.507)


# ===================================================================== distributions
@pytest.mark.parametrize(
    "dist,ref",
    [(Weibull(1.5, 0.57), scipy.stats.weibull_min(1.5, scale=0.57)),
     (TruncatedNormal(0.3, 0.5), scipy.stats.truncnorm(-0.6, np.inf, loc=0.3, scale=0.5)),
     (TruncatedNormal(1.0, 0.4, low=0.5), scipy.stats.truncnorm(-1.25, np.inf, loc=1, scale=0.4))],
)
def test_parametric_samplers_ks(dist, ref):
    x = dist.sample(np.random.default_rng(7), 20000)
    assert scipy.stats.kstest(x, ref.cdf).pvalue > 0.01
    assert scipy.stats.kstest(x, dist.cdf).pvalue > 0.01
    assert dist.mean() == pytest.approx(ref.mean(), rel=1e-9)
    assert dist.std() == pytest.approx(ref.std(), rel=1e-9)
    u = np.array([0.1, 0.5, 0.9])
    assert np.allclose(dist.cdf(dist.ppf(u)), u)


def test_empirical_inverse_cdf_table():
    rng = np.random.default_rng(3)
    measured = rng.gamma(3.0, 0.4, size=3000)
    emp = Empirical(measured)
    x = emp.sample(np.random.default_rng(4), 20000)
    # reproduces the measured distribution (two-sample KS) and its own CDF
    assert scipy.stats.ks_2samp(x, measured).pvalue > 0.01
    assert scipy.stats.kstest(x, emp.cdf).pvalue > 0.01
    assert x.min() >= measured.min() and x.max() <= measured.max()
    assert emp.mean() == pytest.approx(measured.mean(), rel=2e-3)
    assert emp.std() == pytest.approx(measured.std(), rel=2e-2)
    assert x.mean() == pytest.approx(emp.mean(), abs=4 * emp.std() / np.sqrt(x.size))


def test_weibull_from_moments():
    w = Weibull.from_mean_std(1.65, 0.507)
    assert w.mean() == pytest.approx(1.65, rel=1e-10)
    assert w.std() == pytest.approx(0.507, rel=1e-8)
    assert w.second_moment() == pytest.approx(1.65**2 + 0.507**2, rel=1e-8)


@pytest.mark.parametrize(
    "make,match",
    [(lambda: Weibull(0.0, 1.0), "shape"), (lambda: Weibull(1.0, -1.0), "scale"),
     (lambda: Weibull(np.nan, 1.0), "shape"), (lambda: TruncatedNormal(0.0, 0.0), "scale"),
     (lambda: TruncatedNormal(-10.0, 1.0), "low"), (lambda: Empirical([]), "samples"),
     (lambda: Empirical([1.0, np.nan]), "samples"),
     (lambda: Empirical(np.ones((2, 2))), "samples")],
)
def test_bad_distributions(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# ===================================================================== finite rate: limits
def _frozen_state(p, plastic_site=None, sigma_ext=0.0):
    """Thresholds so high that no site ever activates; optionally one site plastic."""
    n = p.L * p.L
    pl = np.zeros(n, dtype=np.int8)
    if plastic_site is not None:
        pl[plastic_site] = 1
    return FiniteRateState(np.zeros(n), np.full(n, 1e9), pl, np.zeros(n), sigma_ext)


def test_single_plastic_site_relaxes_at_the_kernel_rate():
    """One plastic site, everything else frozen, creep at Sigma: the explicit step gives
    sigma_k = sigma_0 (1 - a)^k with a = |G_ii| dt / (mu tau) (G per engineering strain),
    and the plastic strain releases exactly the stress drop."""
    p = FiniteRateParams(L=16, tau_res=1e9, tau=1.3, normalisation="eshelby")
    e = 37
    st = _frozen_state(p, e)
    rng = np.random.default_rng(0)
    sigma0 = 0.8
    k = 250
    tr, fin = run_creep(p, st, sigma0, k * p.dt, rng, record_every=50)
    a = 0.5 * p.dt / p.tau  # eshelby, K = inf: G_ii = -mu/2 per unit engineering strain
    assert fin.stress[e] == pytest.approx(sigma0 * (1 - a) ** k, rel=1e-10)
    assert fin.gamma_pl[e] == pytest.approx(2 * (sigma0 - fin.stress[e]) / p.mu, rel=1e-10)
    assert np.count_nonzero(fin.gamma_pl) == 1
    assert fin.stress.mean() == pytest.approx(sigma0, abs=1e-13)  # creep: mean fixed
    assert tr.gdot_tot[-1] == pytest.approx(tr.gdot_pl[-1])
    assert fin.plastic[e] == 1 and not tr.stuck


@pytest.mark.parametrize("mu", [14.88, 16.5])
def test_elastic_loading_at_fixed_rate(mu):
    """The initial elastic slope is the modulus input (seed 001: the initial state's own
    shear modulus, e.g. 16.5 for an older glass, enters as ``mu`` of the run)."""
    p = FiniteRateParams(L=8, mu=mu)
    st = _frozen_state(p)
    tr, fin = run_fixed_rate(p, st, 2e-3, 5.0, np.random.default_rng(0), record_every=100)
    assert np.allclose(tr.sigma_ext, p.mu * 2e-3 * tr.time, rtol=1e-12)
    assert np.all(fin.gamma_pl == 0)


def test_fixed_rate_feedback_holds_total_strain_rate():
    """Sigma/mu + <gamma_pl> grows at exactly gdot while the system flows plastically
    (through both the shifted-add and the FFT stress updates)."""
    p = FiniteRateParams(L=16)
    rng = np.random.default_rng(11)
    st = finite_rate_initial_state(p, rng)
    gdot = 5e-3
    tr, fin = run_fixed_rate(p, st, gdot, 150.0, rng, record_every=25, fft_min=30)
    assert tr.frac_plastic.max() > 30 / 256  # FFT path used
    assert np.any((tr.frac_plastic > 0) & (tr.frac_plastic < 30 / 256))  # shifted adds used
    assert np.allclose(tr.gdot_tot, gdot, rtol=1e-8)
    assert tr.gamma_tot[-1] == pytest.approx(gdot * 150.0, rel=1e-10)
    assert fin.gamma_tot(p.mu) == pytest.approx(gdot * 150.0, rel=1e-10)
    # plastic flow carries the strain in the steady state: stress stops growing
    late = tr.time > 75
    assert np.mean(tr.gdot_pl[late]) == pytest.approx(gdot, rel=0.2)
    assert abs(fin.stress_int.mean()) < 1e-12


def test_fft_and_shifted_add_updates_give_the_same_trajectory():
    p = FiniteRateParams(L=16)
    runs = []
    for fft_min in (1, 10**9):
        rng = np.random.default_rng(5)
        st = finite_rate_initial_state(p, rng)
        runs.append(run_fixed_rate(p, st, 1e-2, 10.0, rng, fft_min=fft_min)[1])
    assert np.array_equal(runs[0].plastic, runs[1].plastic)
    assert np.allclose(runs[0].stress_int, runs[1].stress_int, atol=1e-11)
    assert np.allclose(runs[0].gamma_pl, runs[1].gamma_pl, atol=1e-11)


def test_switching_statistics_when_every_site_is_above_threshold():
    """At a very high rate every stress is far above threshold: n_i is a two-state Markov
    chain with per-step probabilities p_pl, p_res; stationary plastic fraction
    p_pl / (p_pl + p_res) (= tau_res / (tau_pl + tau_res) as dt -> 0)."""
    p = FiniteRateParams(L=16)
    rng = np.random.default_rng(2)
    st = finite_rate_initial_state(p, rng)
    tr, fin = run_fixed_rate(p, st, 20.0, 300.0, rng, record_every=10)
    assert fin.gap.max() < 0  # every site above threshold
    p_pl = -math.expm1(-p.dt / p.tau_pl)
    p_res = -math.expm1(-p.dt / p.tau_res)
    frac, sem = steady_mean(tr.frac_plastic, skip=0.2)
    assert frac == pytest.approx(p_pl / (p_pl + p_res), abs=max(4 * sem, 0.005))
    assert frac == pytest.approx(p.tau_res / (p.tau_pl + p.tau_res), abs=0.01)


# ===================================================================== finite rate: protocols
def test_creep_below_static_threshold_gets_stuck():
    p = FiniteRateParams(L=16)
    for seed in range(3):
        rng = np.random.default_rng(seed)
        st = finite_rate_initial_state(p, rng)
        tr, fin = run_creep(p, st, 0.3, 2000.0, rng)
        assert tr.stuck and tr.stuck_time < 2000.0
        assert creep_is_stuck(tr.gdot_tot, tr.stuck)
        # absorbing state: nothing plastic, nothing above threshold
        assert np.all(fin.plastic == 0) and np.all(fin.gap >= 0)
        assert fin.gamma_tot(p.mu) < 0.1
        # continuing does nothing
        tr2, fin2 = run_creep(p, fin, 0.3, 1.0, rng)
        assert tr2.stuck and np.array_equal(fin2.gamma_pl, fin.gamma_pl)


def test_creep_above_threshold_flows_at_the_fixed_rate_flow_curve_rate():
    """The two protocols agree on the flow curve: fixed rate 1e-2 gives a stationary
    stress Sigma*; creep at Sigma* from a fresh state flows at 1e-2 within 15 %."""
    p = FiniteRateParams()
    gdot = 1e-2
    rng = np.random.default_rng(0)
    tr, _ = run_fixed_rate(p, finite_rate_initial_state(p, rng), gdot, 300.0, rng)
    sigma_star = float(tr.sigma_ext[tr.time > 100].mean())
    assert sigma_star > 0.55  # far above the stuck regime
    tc, _ = run_creep(p, finite_rate_initial_state(p, rng), sigma_star, 300.0, rng)
    assert not tc.stuck
    rate = float(tc.gdot_tot[tc.time > 100].mean())
    assert rate == pytest.approx(gdot, rel=0.15)


def test_initial_state_from_maps():
    p = FiniteRateParams(L=8)
    rng = np.random.default_rng(0)
    stress = rng.normal(0.2, 0.1, size=(8, 8))
    th = rng.uniform(0.5, 1.0, size=(8, 8))
    st = finite_rate_initial_state(p, rng, thresholds=th, stress=stress)
    assert st.sigma_ext == pytest.approx(stress.mean())
    assert np.allclose(st.stress, stress.ravel())
    assert np.allclose(st.threshold, th.ravel())
    assert np.allclose(st.gap, (th - stress).ravel())


def test_finite_rate_same_seed_same_trajectory():
    p = FiniteRateParams(L=16)
    out = []
    for seed in (3, 3, 4):
        rng = np.random.default_rng(seed)
        st = finite_rate_initial_state(p, rng, thresholds=Weibull(2.5, 1.05))
        tr, fin = run_fixed_rate(p, st, 5e-3, 20.0, rng, record_every=10)
        tc, fin2 = run_creep(p, fin, 0.7, 20.0, rng, record_every=10)
        out.append((tr.sigma_ext, tc.gdot_tot, fin2.gamma_pl, fin2.threshold))
    for a, b in zip(out[0], out[1], strict=True):
        assert np.array_equal(a, b)
    assert not np.array_equal(out[0][0], out[2][0])


@pytest.mark.parametrize(
    "kwargs,match",
    [(dict(dt=0.5), "dt"), (dict(dt=0.2, tau_pl=1.0), "dt"), (dict(tau_pl=-1.0), "tau_pl"),
     (dict(tau_res=0.0), "tau_res"), (dict(tau=np.nan), "tau"), (dict(mu=-14.88), "mu"),
     (dict(k_d=0.0), "k_d"), (dict(sigma_d=np.inf), "sigma_d"), (dict(L=1), "L"),
     (dict(L=3.5), "L"), (dict(K=-1.0), "K"), (dict(normalisation="foo"), "normalisation"),
     (dict(dt="x"), "dt")],
)
def test_finite_rate_bad_params(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FiniteRateParams(**kwargs)


def test_dt_bound_message_states_the_bound():
    with pytest.raises(ValueError, match=r"dt=0\.05.*<= 0\.1 \* min\(tau_el"):
        FiniteRateParams(dt=0.05, tau_pl=0.3)
    assert FiniteRateParams().dt_max == pytest.approx(0.1)


def test_finite_rate_bad_inputs():
    p = FiniteRateParams(L=8)
    rng = np.random.default_rng(0)
    st = finite_rate_initial_state(p, rng)
    with pytest.raises(ValueError, match="thresholds"):
        finite_rate_initial_state(p, rng, thresholds=[])
    with pytest.raises(ValueError, match="thresholds"):
        finite_rate_initial_state(p, rng, thresholds=np.ones(10))
    with pytest.raises(ValueError, match="stress"):
        finite_rate_initial_state(p, rng, stress=np.full((8, 8), np.nan))
    with pytest.raises(ValueError, match="gdot"):
        run_fixed_rate(p, st, -1e-3, 1.0, rng)
    with pytest.raises(ValueError, match="gdot"):
        run_fixed_rate(p, st, np.nan, 1.0, rng)
    with pytest.raises(ValueError, match="sigma_ext"):
        run_creep(p, st, np.nan, 1.0, rng)
    with pytest.raises(ValueError, match="duration"):
        run_creep(p, st, 0.5, -1.0, rng)
    with pytest.raises(ValueError, match="rng"):
        run_creep(p, st, 0.5, 1.0, 42)
    with pytest.raises(ValueError, match="record_every"):
        run_creep(p, st, 0.5, 1.0, rng, record_every=0)
    with pytest.raises(ValueError, match="state"):
        run_creep(FiniteRateParams(L=16), st, 0.5, 1.0, rng)


# ===================================================================== quasistatic
def _qs_ensemble(params, n_real, gamma_max, seed, every=0.02):
    grid = np.arange(0, gamma_max + 1e-9, every)
    curves, mth, res = [], [], None
    for child in np.random.SeedSequence(seed).spawn(n_real):
        rng = np.random.default_rng(child)
        st = quasistatic_initial_state(params, rng)
        res, _ = run_quasistatic(params, st, gamma_max, rng, observe_every=every)
        curves.append(stress_at_strain(res.gamma, res.sigma_after, grid, params.mu))
        mth.append(res.mean_threshold)
    return grid, np.array(curves), np.array(mth), res


def test_quasistatic_invariants_and_extremal_rule():
    p = QuasistaticParams(initial=GQ, renewal=MCT, c0=0.0235, c1=0.0163, L=16, mu=19.0, K=55.0)
    rng = np.random.default_rng(1)
    st = quasistatic_initial_state(p, rng)
    # the first avalanche starts when the weakest site reaches its threshold
    x0 = (st.threshold - st.stress_int).min()
    res, fin = run_quasistatic(p, st, 0.5, rng, observe_every=0.05)
    assert res.sigma_peak[0] == pytest.approx(x0, rel=1e-12)
    assert res.gamma[0] == pytest.approx(x0 / p.mu, rel=1e-12)
    # elastic branches of slope mu between avalanches; drops during avalanches
    assert np.allclose(res.sigma_peak[1:],
                       res.sigma_after[:-1] + p.mu * np.diff(res.gamma), atol=1e-10)
    assert np.all(res.sigma_after < res.sigma_peak)
    # fixed strain during an avalanche: the external drop is 2 mu sum(eps0) / N
    assert np.allclose(res.sigma_peak - res.sigma_after, 2 * p.mu * res.slip / 256, rtol=1e-9)
    # final state stable, strain bookkeeping exact, internal stress zero-mean
    assert np.all(fin.stress < fin.threshold)
    assert fin.gamma == pytest.approx(0.5, rel=1e-12)
    assert fin.eps_tot == pytest.approx(fin.sigma_ext / (2 * p.mu) + fin.eps_pl.mean(), rel=1e-9)
    assert abs(fin.stress_int.mean()) < 1e-12
    assert np.allclose(fin.stress_int, p.kernel.convolve(fin.eps_pl), atol=1e-9)
    assert fin.eps_pl.sum() == pytest.approx(res.slip.sum(), rel=1e-10)
    assert res.obs_gamma[-1] == pytest.approx(0.5)
    assert res.obs_sigma[-1] == pytest.approx(fin.sigma_ext)


def test_slip_increments_have_mean_c0_without_correlation():
    p = QuasistaticParams(initial=MCT, c0=0.05, c1=0.0, L=8, mu=14.7, K=52.0)
    rng = np.random.default_rng(2)
    res, _ = run_quasistatic(p, quasistatic_initial_state(p, rng), 6.0, rng)
    n = res.size.sum()
    assert n > 3000
    assert res.slip.sum() / n == pytest.approx(0.05, abs=4 * 0.05 / np.sqrt(n))


def test_aged_glass_with_correlation_has_a_stress_peak():
    """c1 > 0 and an aged initial distribution (GQ): peak well above the plateau, for
    both scenarios; a soft glass with c1 = 0 and no rejuvenation has none."""
    for renewal, c0, c1 in ((None, 0.0344, 0.0164), (MCT, 0.0235, 0.0163)):
        p = QuasistaticParams(initial=GQ, renewal=renewal, c0=c0, c1=c1, mu=19.0, K=55.0)
        grid, curves, _, _ = _qs_ensemble(p, 12, 1.0, seed=3)
        mean = curves.mean(axis=0)
        plateau = mean[grid > 0.6].mean()
        sem = curves[:, grid > 0.6].mean(axis=1).std() / np.sqrt(len(curves))
        assert mean.max() - plateau > 0.1
        assert mean.max() - plateau > 10 * sem
        assert grid[mean.argmax()] < 0.2
    p = QuasistaticParams(initial=MCT, c0=0.0506, c1=0.0, mu=14.7, K=52.0)
    grid, curves, _, _ = _qs_ensemble(p, 12, 1.0, seed=3)
    mean = curves.mean(axis=0)
    assert mean[grid < 0.3].max() < mean[grid > 0.6].mean() + 0.02


def test_mean_threshold_hardens_without_rejuvenation_and_rises_then_falls_with_it():
    dis = QuasistaticParams(initial=GQ, c0=0.0344, c1=0.0164, mu=19.0, K=55.0)
    rej = QuasistaticParams(initial=GQ, renewal=MCT, c0=0.0235, c1=0.0163, mu=19.0, K=55.0)
    assert dis.age == 0.0 and rej.age == pytest.approx(0.65, rel=1e-6)
    # changes from each realisation's own initial mean (the initial sampling noise cancels)
    _, _, m_dis, _ = _qs_ensemble(dis, 12, 1.0, seed=4)
    d = m_dis - m_dis[:, :1]
    md = d.mean(axis=0)
    err = d.std(axis=0).max() / np.sqrt(len(d))
    # never decreases (within 3 standard errors), and hardens overall
    assert np.all(md >= np.maximum.accumulate(md) - 3 * err)
    assert md[-1] > 0.15
    _, _, m_rej, _ = _qs_ensemble(rej, 12, 1.0, seed=4)
    d = m_rej - m_rej[:, :1]
    mr = d.mean(axis=0)
    i = mr.argmax()
    assert 0 < i < len(mr) - 1
    rise = d[:, i]
    assert rise.mean() > 3 * rise.std() / np.sqrt(len(rise))
    fall = d[:, i] - d[:, -1]
    assert fall.mean() > 10 * fall.std() / np.sqrt(len(fall))


def test_quasistatic_same_seed_same_trajectory():
    p = QuasistaticParams(initial=GQ, renewal=MCT, c0=0.0235, c1=0.0163, L=8, mu=19.0, K=55.0)
    out = []
    for seed in (9, 9, 10):
        rng = np.random.default_rng(seed)
        res, fin = run_quasistatic(p, quasistatic_initial_state(p, rng), 0.5, rng)
        out.append((res.sigma_after, res.size, fin.eps_pl, fin.threshold))
    for a, b in zip(out[0], out[1], strict=True):
        assert np.array_equal(a, b)
    assert not np.array_equal(out[0][2], out[2][2])


def test_quasistatic_dimensionless_parameters():
    p = QuasistaticParams(initial=Weibull.from_mean_std(1.14, 0.48), renewal=MCT, c0=0.0276,
                          c1=0.0206, mu=14.7, K=52.0)
    assert p.scenario == "rejuvenation"
    assert p.age == pytest.approx(0.14, rel=1e-6)
    assert p.mean_slip == pytest.approx(0.0276 + 0.0206 * (1.0 + 0.436**2), rel=1e-9)
    assert p.mean_slip == pytest.approx(0.0521, abs=5e-4)  # paper's eps0_bar
    mus = 14.7 / (1 + 14.7 / 52.0)
    assert p.disorder_strength == pytest.approx(0.436 / (mus * p.mean_slip), rel=1e-6)


@pytest.mark.parametrize(
    "kwargs,match",
    [(dict(c0=0.0), "c0"), (dict(c0=-0.1), "c0"), (dict(c1=-0.01), "c1"),
     (dict(c1=np.nan), "c1"), (dict(initial="weibull"), "initial"),
     (dict(renewal=1.0), "renewal"), (dict(L=0), "L"), (dict(mu=0.0), "mu"),
     (dict(K=0.0), "K"), (dict(max_events=0), "max_events")],
)
def test_quasistatic_bad_params(kwargs, match):
    base = dict(initial=MCT)
    base.update(kwargs)
    with pytest.raises(ValueError, match=match):
        QuasistaticParams(**base)


def test_quasistatic_bad_inputs():
    p = QuasistaticParams(initial=MCT, L=8)
    rng = np.random.default_rng(0)
    st = quasistatic_initial_state(p, rng)
    with pytest.raises(ValueError, match="gamma_max"):
        run_quasistatic(p, st, 0.0, rng)
    with pytest.raises(ValueError, match="gamma_max"):
        run_quasistatic(p, st, np.nan, rng)
    with pytest.raises(ValueError, match="observe_every"):
        run_quasistatic(p, st, 1.0, rng, observe_every=-0.1)
    with pytest.raises(ValueError, match="thresholds"):
        quasistatic_initial_state(p, rng, thresholds=np.ones((4, 4)))
    with pytest.raises(ValueError, match="stress"):
        quasistatic_initial_state(p, rng, stress=[])
    # slips too small to relax and renewed thresholds below the stress: endless avalanche
    tiny = QuasistaticParams(initial=MCT, renewal=Weibull(2.0, 1e-3), L=8, c0=1e-12,
                             max_events=1000)
    with pytest.raises(RuntimeError, match="max_events"):
        run_quasistatic(tiny, quasistatic_initial_state(tiny, rng), 1.0, rng)


# ===================================================================== observables
def test_localisation_index_limits():
    L = 16
    assert localisation_index(np.full((L, L), 0.3)) == pytest.approx(1 / L)
    band = np.zeros((L, L))
    band[5] = 2.0  # one full row: a single band
    assert localisation_index(band) == pytest.approx(1.0)
    band[6] = 2.0  # band of width 2
    assert localisation_index(band) == pytest.approx(0.5)
    site = np.zeros((L, L))
    site[3, 4] = -1.0
    assert localisation_index(site) == pytest.approx(L)
    assert localisation_index(site.ravel()) == pytest.approx(L)
    # participation ratio normalised by the number of sites: LOC = 1 / (L PR)
    assert participation_ratio(np.full((L, L), 0.3)) == pytest.approx(1.0)
    assert participation_ratio(site) == pytest.approx(1 / L**2)
    f = np.random.default_rng(0).normal(size=(L, L))
    assert localisation_index(f) == pytest.approx(1 / (L * participation_ratio(f)))
    with pytest.raises(ValueError, match="field"):
        localisation_index(np.ones(15))
    with pytest.raises(ValueError, match="zero"):
        localisation_index(np.zeros((4, 4)))


def test_herschel_bulkley_fit_recovers_parameters():
    g = np.logspace(-4, -2, 8)
    sy, A, n = 0.5107, 3.1, 0.784
    fit = fit_herschel_bulkley(g, sy + A * g**n)
    assert (fit.sigma_y, fit.A, fit.n) == pytest.approx((sy, A, n), rel=1e-6)
    noisy = sy + A * g**n + np.random.default_rng(0).normal(0, 2e-3, g.size)
    fit = fit_herschel_bulkley(g, noisy, np.full(g.size, 2e-3))
    assert abs(fit.sigma_y - sy) < 4 * fit.sigma_y_err
    assert abs(fit.n - n) < 4 * fit.n_err
    assert fit.rate(fit(1e-3)) == pytest.approx(1e-3, rel=1e-9)
    with pytest.raises(ValueError, match="gdot"):
        fit_herschel_bulkley([0.0, 1.0, 2.0], [1.0, 2.0, 3.0])


def test_overshoot_and_curves():
    e = np.linspace(0, 1, 1001)
    s = np.minimum(10 * e, 0.8) - 0.2 * np.clip(e - 0.08, 0, 0.2) / 0.2 * (e > 0.08)
    o = overshoot(e, s, steady_fraction=0.3)
    assert o.peak == pytest.approx(0.8)
    assert o.steady == pytest.approx(0.6)
    assert o.height == pytest.approx(0.2)
    noisy = s.copy()
    noisy[900] = 0.95  # a late fluctuation is not the overshoot
    assert overshoot(e, noisy, 0.3, peak_before=0.3).peak == pytest.approx(0.8)
    x, c = cumulative([3.0, 1.0, 2.0])
    assert np.array_equal(x, [1, 2, 3]) and np.allclose(c, [1 / 3, 2 / 3, 1])
    sig = stress_at_strain([0.1, 0.3], [0.5, 0.4], [0.0, 0.05, 0.1, 0.2, 0.35], mu=2.0)
    assert np.allclose(sig, [0.0, 0.1, 0.5, 0.7, 0.5])
    assert not creep_is_stuck(np.full(10, 1e-3)) and creep_is_stuck(np.zeros(10))


# ===================================================================== studies
def _study(name):
    path = Path(__file__).resolve().parents[1] / "studies" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_study_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(mod)
    return mod


def test_liu_study_smoke(tmp_path):
    liu_figs = _study("liu_figs")

    res = liu_figs.main(["--smoke", "--out", str(tmp_path)])
    assert (tmp_path / "liu_figs.png").stat().st_size > 0
    assert (tmp_path / "liu_numbers.json").stat().st_size > 0
    assert (tmp_path / "liu_flow_curve.csv").stat().st_size > 0
    assert np.isfinite(res["numbers"]["herschel_bulkley"]["sigma_y"])


def test_tyukodi_study_smoke(tmp_path):
    tyukodi_figs = _study("tyukodi_figs")

    res = tyukodi_figs.main(["--smoke", "--out", str(tmp_path)])
    assert (tmp_path / "tyukodi_figs.png").stat().st_size > 0
    assert (tmp_path / "tyukodi_numbers.json").stat().st_size > 0
    assert res["numbers"]

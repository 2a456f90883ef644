"""Quasistatic driver (Tyukodi et al., seed 002) from an unstable input state: negative
thresholds (the paper's measured "discrete negative tail") or a frozen stress above
threshold. Such a state relaxes at fixed strain before any loading; the strain never
decreases (issue 14: the driver used to *unload* to the weakest site)."""

import numpy as np
import pytest

from femplastic.lattice import (
    QuasistaticParams,
    Weibull,
    quasistatic_initial_state,
    run_quasistatic,
)

ESL = Weibull.from_mean_std(1.14, 0.478)


def _params(L=16):
    return QuasistaticParams(initial=ESL, c0=0.03, c1=0.02, L=L)


def _check_monotonic_and_first_relaxation(p, st, rng, gamma_max=0.4):
    g0 = st.gamma
    unstable0 = st.stress >= st.threshold
    assert unstable0.any()  # the input state is unstable
    res, fin = run_quasistatic(p, st, gamma_max, rng, observe_every=0.01)
    # the first avalanche happens at the starting strain and stress (no unloading)
    assert res.gamma[0] == pytest.approx(g0, abs=1e-15)
    assert res.sigma_peak[0] == pytest.approx(st.sigma_ext, abs=1e-15)
    # the strain never decreases: avalanches and field observations
    assert np.all(res.gamma >= g0 - 1e-15)
    assert np.all(np.diff(res.gamma) >= 0.0)
    assert np.all(np.diff(res.obs_gamma) > 0.0)
    assert res.obs_gamma[0] == pytest.approx(g0)
    # every initially unstable site slipped in the first relaxation
    assert res.size[0] >= unstable0.sum()
    # the elastic branches after it have slope mu, drops during avalanches
    assert np.allclose(res.sigma_peak[1:], res.sigma_after[:-1] + p.mu * np.diff(res.gamma),
                       atol=1e-10)
    assert np.all(fin.stress < fin.threshold)
    return res


def test_negative_thresholds_relax_at_fixed_strain_first():
    """The issue's reproduction: one threshold set to -0.1 gave a first record at
    gamma = -0.0068, Sigma = -0.1."""
    p = _params()
    rng = np.random.default_rng(0)
    th = p.initial.sample(rng, p.L * p.L)
    th[[5, 77, 200]] = (-0.1, -0.3, 0.0)
    st = quasistatic_initial_state(p, rng, thresholds=th)
    res = _check_monotonic_and_first_relaxation(p, st, rng)
    assert res.gamma[0] == 0.0 and res.sigma_peak[0] == 0.0


def test_state_is_stable_after_the_first_relaxation():
    """Run just past the start: only the fixed-strain relaxation happens, and it leaves a
    stable state with the external stress lowered by 2 mu sum(eps0) / N."""
    p = _params()
    rng = np.random.default_rng(3)
    th = p.initial.sample(rng, p.L * p.L)
    th[:10] = -0.2
    st = quasistatic_initial_state(p, rng, thresholds=th)
    res, fin = run_quasistatic(p, st, 1e-12, rng)
    assert res.gamma.size == 1 and res.gamma[0] == 0.0
    assert np.all(fin.stress < fin.threshold)
    assert fin.eps_tot == pytest.approx(0.5e-12, abs=1e-18)
    assert res.sigma_peak[0] - res.sigma_after[0] == pytest.approx(
        2 * p.mu * res.slip[0] / p.L**2, rel=1e-9)
    assert np.all(fin.eps_pl[:10] > 0)  # the ten negative-threshold sites all slipped


def test_frozen_stress_above_threshold():
    """A frozen internal stress map (Gaussian, width 0.175 as measured in seed 002, plus a
    few sites pushed above threshold) with a non-zero mean: the first avalanche is at the
    starting strain Sigma0 / mu, never below."""
    p = _params()
    rng = np.random.default_rng(5)
    n = p.L * p.L
    th = p.initial.sample(rng, n)
    stress = rng.normal(0.05, 0.175, n)
    stress[[3, 50]] = th[[3, 50]] + 0.4
    st = quasistatic_initial_state(p, rng, thresholds=th, stress=stress)
    assert st.gamma == pytest.approx(stress.mean() / p.mu)
    _check_monotonic_and_first_relaxation(p, st, rng)


@pytest.mark.parametrize("seed", range(3))
def test_strain_non_decreasing_over_a_long_run_with_a_negative_tail(seed):
    """2 % of the initial thresholds negative, renewal from the same law (so negative
    thresholds keep being drawn): the strain is non-decreasing over the whole run."""
    p0 = _params(L=12)
    rng = np.random.default_rng(seed)
    n = p0.L * p0.L
    th = p0.initial.sample(rng, n)
    k = rng.choice(n, size=3, replace=False)
    th[k] = -rng.uniform(0.0, 0.3, size=3)
    st = quasistatic_initial_state(p0, rng, thresholds=th)
    res, fin = run_quasistatic(p0, st, 1.0, rng)
    assert res.gamma[0] == 0.0
    assert np.all(np.diff(res.gamma) >= 0.0)
    assert np.all(np.diff(res.obs_gamma) > 0.0)
    assert np.all(fin.stress < fin.threshold)

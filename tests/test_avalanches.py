"""Avalanche catalogue and power-law estimators."""

import numpy as np
import pytest

import femplastic as fp
from femplastic.weakplane import avalanches as A


@pytest.mark.parametrize("tau,s_c", [(1.3, 200.0), (1.2, 2000.0), (1.5, 30.0)])
def test_estimator_recovers_exponent_and_cutoff(tau, s_c):
    rng = np.random.default_rng(7)
    s = A.sample_truncated_power_law(rng, 4000, tau, s_c)
    fit = A.fit_truncated_power_law(s, s_min=1, n_boot=200, rng=rng)
    assert fit.tau_ci[0] <= tau <= fit.tau_ci[1]
    assert fit.s_c_ci[0] <= s_c <= fit.s_c_ci[1]
    assert abs(fit.tau - tau) < 0.05 and abs(np.log(fit.s_c / s_c)) < 0.3


def test_sampler_is_the_law():
    """The synthetic sampler follows the discrete pmf (chi-square on the first sizes)."""
    from scipy import stats

    rng = np.random.default_rng(1)
    tau, s_c = 1.4, 50.0
    s = A.sample_truncated_power_law(rng, 20000, tau, s_c, s_min=2)
    grid = np.arange(2, 5000)
    p = grid ** -tau * np.exp(-grid / s_c)
    p /= p.sum()
    k = 12
    obs = np.array([(s == g).sum() for g in grid[:k]] + [(s >= grid[k]).sum()])
    exp = np.concatenate([p[:k], [p[k:].sum()]]) * s.size
    assert stats.chisquare(obs, exp).pvalue > 0.01


def test_fractal_dimension_and_collapse_of_synthetic_sizes():
    rng = np.random.default_rng(3)
    Ls, tau, d_f = (8, 16, 32), 1.3, 1.2
    samples = {L: A.sample_truncated_power_law(rng, 3000, tau, 2.0 * L ** d_f) for L in Ls}
    fits = [A.fit_truncated_power_law(samples[L], 1, 100, rng) for L in Ls]
    d, ci = A.fractal_dimension(Ls, fits)
    assert ci[0] <= d_f <= ci[1] and abs(d - d_f) < 0.15
    _, good = A.collapse(samples, tau, d_f)
    _, bad = A.collapse(samples, tau, d_f + 0.6)
    assert good < bad
    # the best collapse finds d_f; its tau absorbs the L-dependence of the normalisation
    # Z(tau, s_c) (a correction to scaling, large for tau near 1), so only d_f is checked
    _, d_c, _ = A.best_collapse(samples, np.arange(1.0, 1.61, 0.05), np.arange(0.8, 1.61, 0.05))
    assert abs(d_c - d_f) <= 0.15


def test_radius_of_gyration_on_the_torus():
    assert A.radius_of_gyration([3], [4], 10) == 0.0
    # a straight row of k cells: sqrt((k^2 - 1) / 12), also across the periodic boundary
    k = 5
    row = np.arange(k)
    ref = np.sqrt((k * k - 1) / 12)
    assert A.radius_of_gyration(row, np.zeros(k), 16) == pytest.approx(ref)
    assert A.radius_of_gyration((row + 13) % 16, np.full(k, 7), 16) == pytest.approx(ref)


def test_catalogue_of_a_recorded_aqs_run():
    p = fp.ModelParams(L=10, T=0.0)
    rng = np.random.default_rng(2)
    q = fp.quench(p, rng)
    log = A.record(q, p, np.random.default_rng(9), gamma_end=0.3, dgamma=1e-4)
    ref = fp.aqs(q, p, np.random.default_rng(9), gamma_end=0.3, dgamma=1e-4)
    # the same run as aqs: same avalanches, same stresses
    np.testing.assert_array_equal(log.size, ref.avalanche_size[ref.avalanche_steps])
    np.testing.assert_array_equal(log.stress_after, ref.stress[ref.avalanche_steps])
    cat = A.catalogue(log, p.L)
    assert cat.size.sum() == ref.state.n_events == log.events["element"].size
    assert np.all(cat.n_elements <= cat.size) and np.all(cat.n_elements >= 1)
    assert np.all(cat.duration >= 1) and np.all(cat.duration <= cat.size)
    assert np.all(cat.extent[cat.n_elements == 1] == 0)
    assert np.all(cat.extent <= np.sqrt(2 * (p.L ** 2 - 1) / 12) + 1e-12)
    # a slip on a system misaligned with the loading can raise the external stress: drops
    # are positive for most avalanches, not all; every avalanche dissipates
    assert np.mean(cat.drop > 0) > 0.8 and np.all(cat.dissipation >= 0)
    big = int(np.argmax(cat.size))
    assert cat.extent[big] > 1 and cat.duration[big] > 1
    with pytest.raises(ValueError, match="record_events"):
        A.catalogue(A.AvalancheLog(*(np.zeros(0),) * 8), p.L)


def test_bad_input():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="s_min"):
        A.fit_truncated_power_law(np.arange(1, 100), s_min=0, n_boot=0)
    with pytest.raises(ValueError, match="at least 10"):
        A.fit_truncated_power_law([1, 2, 3], n_boot=0)
    with pytest.raises(TypeError, match="rng"):
        A.fit_truncated_power_law(np.arange(1, 100), n_boot=10)
    with pytest.raises(ValueError, match="s_c"):
        A.sample_truncated_power_law(rng, 10, 1.5, -1.0)

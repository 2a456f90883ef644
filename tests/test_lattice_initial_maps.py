"""Initial-state generators of the scalar lattice models: correlated threshold maps
(target correlation and one-point law), frozen stress fields, negative-tail thresholds."""

import numpy as np
import pytest
import scipy.stats

from femplastic.lattice import (
    CorrelatedThresholdMap,
    LatticeEshelby,
    Weibull,
    frozen_stress_field,
    with_negative_tail,
)

E1 = Weibull(2.5, 1.05)


def _pair_corr(maps, dy, dx, L):
    """Per-map correlation estimate of sites separated by (dx, dy), with the known mean and
    variance of the one-point law (so each estimate is unbiased)."""
    a = maps.reshape(-1, L, L)
    m, v = E1.mean(), E1.var()
    b = np.roll(np.roll(a, -dy, axis=1), -dx, axis=2)
    return ((a - m) * (b - m)).mean(axis=(1, 2)) / v


def test_gaussian_correlation_is_the_continuum_gaussian_for_small_xi():
    m = CorrelatedThresholdMap(64, E1, xi=3.0)
    rho = m.gaussian_correlation()
    r2 = np.array([[0, 1, 4, 9, 25]])
    assert np.allclose(rho[0, [0, 1, 2, 3, 5]], np.exp(-r2 / 18.0), atol=1e-6)
    assert np.allclose(rho, rho.T)  # isotropic on the lattice axes
    assert np.allclose(CorrelatedThresholdMap(16, E1, 0.0).gaussian_correlation().reshape(-1)[1:],
                       0.0)


@pytest.mark.parametrize("xi", [0.0, 2.0, 4.0])
def test_correlated_map_reproduces_its_target_correlation(xi):
    """The correlation measured from 300 sampled 32 x 32 maps matches the copula-transformed
    target at offsets 1, 2, 4, 8 along x, y and the diagonal, within 4 standard errors
    (map-to-map scatter)."""
    L = 32
    m = CorrelatedThresholdMap(L, E1, xi)
    target = m.correlation()
    rng = np.random.default_rng(11)
    maps = np.array([m.sample(rng) for _ in range(300)])
    for dy, dx in ((0, 1), (1, 0), (0, 2), (0, 4), (4, 0), (2, 2), (0, 8)):
        est = _pair_corr(maps, dy, dx, L)
        se = est.std(ddof=1) / np.sqrt(est.size)
        assert abs(est.mean() - target[dy, dx]) < 4 * se + 1e-3, (dy, dx, est.mean(),
                                                                  target[dy, dx], se)
    if xi > 0:
        # thresholds stay strongly correlated at r = xi / 2 and the copula lowers rho a bit
        r1 = target[0, 1]
        assert 0.5 < r1 < m.gaussian_correlation()[0, 1]


def test_correlated_map_one_point_law_ks():
    """One site per independent map (site 0 and a far site): KS against the target law."""
    m = CorrelatedThresholdMap(32, E1, xi=3.0)
    rng = np.random.default_rng(5)
    maps = np.array([m.sample(rng) for _ in range(400)])
    for site in (0, 16 * 32 + 16):
        assert scipy.stats.kstest(maps[:, site], E1.cdf).pvalue > 0.01
    # and the Gaussian field is standard normal at a site
    z = np.array([m.sample_gaussian(rng)[0] for _ in range(400)])
    assert scipy.stats.kstest(z, "norm").pvalue > 0.01


def test_same_seed_same_map_and_bad_inputs():
    m = CorrelatedThresholdMap(16, E1, 2.0)
    a = m.sample(np.random.default_rng(3))
    assert np.array_equal(a, m.sample(np.random.default_rng(3)))
    with pytest.raises(ValueError, match="xi"):
        CorrelatedThresholdMap(16, E1, -1.0)
    with pytest.raises(ValueError, match="dist"):
        CorrelatedThresholdMap(16, "weibull", 1.0)
    with pytest.raises(ValueError, match="rng"):
        m.sample(3)


def test_frozen_stress_field_is_compatible_and_gaussian():
    k = LatticeEshelby(16, 14.7, 52.0)
    rng = np.random.default_rng(2)
    s = frozen_stress_field(k, 0.175, rng)
    assert abs(s.mean()) < 1e-14 and s.std() == pytest.approx(0.175, rel=1e-12)
    # compatible: it is the Eshelby response to some eigenstrain, so it has no component on
    # the Fourier modes where the kernel vanishes (q = 0 and the shear axes q_x q_y = 0)
    sh = np.fft.fft2(s.reshape(16, 16))
    assert np.abs(sh[k.Ghat == 0]).max() < 1e-10 * np.abs(sh).max()
    site = np.array([frozen_stress_field(k, 0.175, rng)[7] for _ in range(300)])
    assert scipy.stats.kstest(site / 0.175, "norm").pvalue > 0.01
    with pytest.raises(ValueError, match="std"):
        frozen_stress_field(k, 0.0, rng)


def test_negative_tail_mixture():
    d = with_negative_tail(E1, 0.03, 0.25)
    assert float(d.cdf(0.0)) == pytest.approx(0.03, abs=1e-3)
    x = d.sample(np.random.default_rng(0), 20000)
    neg = x < 0
    assert abs(neg.mean() - 0.03) < 4 * np.sqrt(0.03 * 0.97 / x.size)
    assert x.min() >= -0.25
    assert scipy.stats.kstest(x[~neg], E1.cdf).pvalue > 0.01
    with pytest.raises(ValueError, match="fraction"):
        with_negative_tail(E1, 0.7, 0.2)

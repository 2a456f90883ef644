"""Scaling fits, tail exponents, circular minima (femplastic.weakplane.fits), the multi-l
calibration helpers (femplastic.weakplane.multiscale) and field statistics."""

import math

import numpy as np
import pytest

import femplastic as fp
from femplastic.weakplane import fits, multiscale
from femplastic.weakplane.observables import field_stats

# --- finite-size scaling ----------------------------------------------------------------------


def test_scaling_fit_recovers_exponent_and_covers_it():
    # per-realisation values A L^b (1 + noise): the fit recovers b within its interval, and the
    # bootstrap spread matches the spread of the estimate over independent ensembles
    L = np.array([8, 16, 32, 64, 128])
    b_true = -0.9
    est, covered = [], 0
    for s in range(40):
        rng = np.random.default_rng(s)
        samples = [0.7 * x**b_true * (1 + 0.1 * rng.standard_normal(16)) for x in L]
        f = fits.scaling_fit(L, samples, rng, n_boot=400, level=0.9)
        est.append(f.exponent)
        covered += f.interval[0] <= b_true <= f.interval[1]
    est = np.array(est)
    assert abs(est.mean() - b_true) < 0.01
    assert 0.75 <= covered / 40 <= 1.0          # nominal 90 %
    # the bootstrap stderr estimates the true scatter of the exponent (within 40 %)
    assert f.stderr == pytest.approx(est.std(), rel=0.4)


def test_scaling_fit_is_order_free_and_reports_means():
    rng = np.random.default_rng(0)
    samples = [np.array([0.1, 0.3]), np.array([0.05, 0.15]), np.array([0.025, 0.075])]
    a = fits.scaling_fit([8, 16, 32], samples, np.random.default_rng(1), n_boot=50)
    b = fits.scaling_fit([32, 8, 16], [samples[2], samples[0], samples[1]],
                         np.random.default_rng(1), n_boot=50)
    assert a.exponent == pytest.approx(-1.0) and b.exponent == pytest.approx(-1.0)
    np.testing.assert_allclose(a.means, [0.2, 0.1, 0.05])
    np.testing.assert_allclose(a.sems, [0.1, 0.05, 0.025])     # std / sqrt(n - 1)
    assert a.counts.tolist() == [2, 2, 2]
    with pytest.raises(TypeError, match="rng"):
        fits.scaling_fit([8, 16], samples[:2], rng=0)
    with pytest.raises(ValueError, match="distinct"):
        fits.scaling_fit([8, 8], samples[:2], rng)
    with pytest.raises(ValueError, match="one array per size"):
        fits.scaling_fit([8, 16, 32], samples[:2], rng)
    with pytest.raises(ValueError, match="> 0"):
        fits.scaling_fit([8, 16], [[0.1], [-0.1]], rng)
    with pytest.raises(ValueError, match="n_boot"):
        fits.scaling_fit([8, 16], samples[:2], rng, n_boot=1)
    with pytest.raises(ValueError, match="level"):
        fits.scaling_fit([8, 16], samples[:2], rng, level=1.0)


def test_fit_range_scan_sees_a_crossover():
    # y = L^-1 for L <= 32, L^-0.5 beyond (continuous): ranges on the left give -1, on the
    # right -0.5, mixed ranges in between; local slopes show the kink
    L = np.array([8, 16, 32, 64, 128, 256])
    y = np.where(L <= 32, L ** -1.0, 32 ** -0.5 * L ** -0.5)
    scan = fits.fit_range_scan(L, [np.full(3, v) for v in y], np.random.default_rng(0),
                               min_points=3, n_boot=10)
    assert len(scan) == 4 + 3 + 2 + 1
    by = {(r["L_min"], r["L_max"]): r["exponent"] for r in scan}
    assert by[(8, 32)] == pytest.approx(-1.0)
    assert by[(32, 256)] == pytest.approx(-0.5)
    assert -1.0 < by[(8, 256)] < -0.5
    mid, s = fits.local_slopes(L, y)
    np.testing.assert_allclose(s, [-1, -1, -0.5, -0.5, -0.5])
    with pytest.raises(ValueError, match="min_points"):
        fits.fit_range_scan(L, [np.ones(2)] * 6, np.random.default_rng(0), min_points=7)


# --- left-tail exponent -----------------------------------------------------------------------


@pytest.mark.parametrize("a", [0.5, 1.0, 2.5])
def test_left_tail_exponent_recovers_beta_tails(a):
    # Beta(a, 1): P(x) = a x^(a-1) on (0, 1), exact power law: theta = a - 1 at any fraction
    rng = np.random.default_rng(3)
    x = rng.beta(a, 1.0, 20000)
    for frac in (0.05, 0.3):
        f = fits.left_tail_exponent(x, frac, rng=np.random.default_rng(4), n_boot=200)
        assert abs(f.theta - (a - 1)) < 3.5 * f.stderr
        assert f.interval[0] < a - 1 < f.interval[1]
        assert f.k == int(frac * 20000) and f.n == 20000


def test_left_tail_exponent_sign_and_fraction_bias_of_gamma_tails():
    # Gamma(shape s) behaves as x^(s-1) only near 0: the sign is right at any small fraction,
    # and the estimate approaches s - 1 as the fraction shrinks (the bias the docstring warns
    # about: e^-x bends the tail down)
    rng = np.random.default_rng(5)
    for s in (0.6, 3.0):
        x = rng.gamma(s, 1.0, 200000)
        wide = fits.left_tail_exponent(x, 0.05)
        narrow = fits.left_tail_exponent(x, 0.001)
        assert np.sign(wide.theta) == np.sign(narrow.theta) == np.sign(s - 1)
        assert abs(narrow.theta - (s - 1)) < 3 * narrow.stderr
        if s > 1:
            assert abs(narrow.theta - (s - 1)) < abs(wide.theta - (s - 1))
    # the asymptotic interval without rng is theta +- 1.96 stderr at 95 %
    f = fits.left_tail_exponent(rng.random(1000), 0.5)
    assert f.interval[1] - f.theta == pytest.approx(1.959964 * f.stderr, rel=1e-6)


def test_left_tail_exponent_group_bootstrap_widens_for_copies():
    # 400 independent values, each repeated 10 times (as overlapping patches repeat their
    # weakest element): resampling values as independent understates the error by ~sqrt(10);
    # resampling the groups does not
    rng = np.random.default_rng(8)
    x = np.repeat(rng.beta(2.0, 1.0, 400), 10) * (1 + 1e-9 * rng.random(4000))
    g = np.repeat(np.arange(400), 10)
    iid = fits.left_tail_exponent(x, 0.2, rng=np.random.default_rng(1), n_boot=300)
    grp = fits.left_tail_exponent(x, 0.2, rng=np.random.default_rng(1), n_boot=300, groups=g)
    w_iid = iid.interval[1] - iid.interval[0]
    w_grp = grp.interval[1] - grp.interval[0]
    assert 2.0 < w_grp / w_iid < 5.0
    assert grp.interval[0] < 1.0 < grp.interval[1]
    with pytest.raises(ValueError, match="groups"):
        fits.left_tail_exponent(x, 0.2, rng=rng, groups=g[:10])


def test_left_tail_exponent_of_a_weighted_sample_with_ties():
    # a sample where value v_i appears w_i times is the weighted distribution: with
    # w ~ v^-0.5 on a Beta(2, 1) sample (density 2v) the weighted density is ~ v^0.5
    rng = np.random.default_rng(9)
    v = rng.beta(2.0, 1.0, 40000)
    w = np.maximum(1, np.round(3 * v ** -0.5)).astype(int)
    x = np.repeat(v, w)
    f = fits.left_tail_exponent(x, 0.1)
    assert np.isfinite(f.theta) and abs(f.theta - 0.5) < 0.15
    slope, se = fits.density_slope(x, 0.3, bins=8)
    assert abs(slope - 0.5) < 0.15
    # every value repeated: ties at the threshold no longer give an infinite estimate, and
    # the exponent is that of the values (Beta(2, 1): theta = 1)
    assert fits.left_tail_exponent(np.repeat(v, 5), 0.1).theta == pytest.approx(1.0, abs=0.15)


def test_density_slope_bad_input():
    with pytest.raises(ValueError, match="lowest"):
        fits.density_slope(np.arange(1.0, 100.0), 0.1, lowest=0.2)
    with pytest.raises(ValueError, match="bins"):
        fits.density_slope(np.arange(1.0, 100.0), 0.5, bins=2)
    with pytest.raises(ValueError, match="> 0"):
        fits.density_slope([0.0, 1.0], 0.5)


def test_left_tail_exponent_bad_input():
    with pytest.raises(ValueError, match="non-empty"):
        fits.left_tail_exponent([], 0.1)
    with pytest.raises(ValueError, match="atom at 0"):
        fits.left_tail_exponent([0.0, 1.0, 2.0, 3.0, 4.0], 0.5)
    with pytest.raises(ValueError, match="fraction"):
        fits.left_tail_exponent(np.arange(1.0, 11.0), 1.0)
    with pytest.raises(ValueError, match="leaves k"):
        fits.left_tail_exponent(np.arange(1.0, 11.0), 0.2)
    with pytest.raises(TypeError, match="rng"):
        fits.left_tail_exponent(np.arange(1.0, 101.0), 0.2, rng=1)


# --- circular minima --------------------------------------------------------------------------


def test_circular_minima_wraps_and_maps():
    a = np.radians(np.arange(0, 180, 5.0))
    # minima at 45 and 135 deg (= -45): |cos 2a| is lowest there; plus a wrap-around case
    v = np.abs(np.cos(2 * a)) + 0.01 * np.cos(a)
    np.testing.assert_allclose(np.degrees(fits.circular_minima(a, v)), [-45, 45])
    w = np.cos(2 * (a - np.radians(175)))   # maximum at 175 deg, minimum at 85 deg
    np.testing.assert_allclose(np.degrees(fits.circular_minima(a, w)), [85])
    with pytest.raises(ValueError, match="period"):
        fits.circular_minima(np.linspace(0, 2 * np.pi, 10), np.ones(10))


def test_harmonics_recovers_coefficients_and_errors():
    rng = np.random.default_rng(0)
    a = np.linspace(0, np.pi, 72, endpoint=False)
    est = []
    for _ in range(200):
        v = 0.5 + 0.03 * np.cos(4 * a) + 0.1 * np.cos(2 * a) + 0.01 * rng.standard_normal(72)
        est.append(fits.harmonics(a, v))
    c4 = np.array([h["cos4"] for h in est])
    assert c4.mean() == pytest.approx(0.03, abs=5e-4)
    # the standard error matches the scatter over repeats (within 20 %)
    assert np.mean([h["cos4_se"] for h in est]) == pytest.approx(c4.std(), rel=0.2)
    assert np.mean([h["resid_std"] for h in est]) == pytest.approx(0.01, rel=0.05)
    with pytest.raises(ValueError, match="orders"):
        fits.harmonics(a, a, orders=(0,))
    with pytest.raises(ValueError, match="more than"):
        fits.harmonics(a[:5], a[:5])


# --- multi-l helpers --------------------------------------------------------------------------


def test_minimum_statistics_lam_matches_mean_minimum():
    # Monte Carlo: the mean of the minimum of N thresholds equals the reference's
    rng = np.random.default_rng(0)
    ref = (2.05 * rng.weibull(2.18, (200000, 36))).min(axis=1).mean()
    for N, k in ((8, 1.5), (144, 2.8)):
        lam = multiscale.minimum_statistics_lam(N, k)
        got = (lam * rng.weibull(k, (200000, N))).min(axis=1).mean()
        assert got == pytest.approx(ref, rel=0.01)
    with pytest.raises(ValueError, match="N must be"):
        multiscale.minimum_statistics_lam(0, 2.0)
    with pytest.raises(ValueError, match="k must be"):
        multiscale.minimum_statistics_lam(8, -1.0)


def test_moment_chi_keeps_mean_moment():
    for l in (4.4, 8.8, 13.2):
        chi = multiscale.moment_chi(l, floor=1e-9)
        assert l**2 / (1 + chi) == pytest.approx(6.6**2 / 3.25)
    assert multiscale.moment_chi(3.5, floor=0.5) == 0.5
    with pytest.raises(ValueError, match="floor"):
        multiscale.moment_chi(3.5, floor=0.0)


def test_sweep_matched_matches_the_reference_stress():
    # tiny systems: after the pilot the chosen lam reproduces the reference's mean stress
    # (stress ~ lam), and the errors at the best pairs are consistent with their definition
    cal = pytest.importorskip("femplastic.weakplane.calibration")
    truth = fp.ModelParams(L=6, N=8, T=0.0, k=2.0, lam=1.5)
    ref = cal.model_statistics(truth, 11, 2, gamma_end=0.9, dgamma=1e-3, stride=3)
    base = fp.ModelParams(L=6, N=8, T=0.0)
    sw = multiscale.sweep_matched(ref, base, [1.6, 2.0, 2.4], [2.25], [1.0], seed=3,
                                  realizations=2, gamma_end=0.9, dgamma=1e-3, stride=3)
    target = ref.macro["stress"].mean()
    for k, lam in zip(sw.k, sw.lam, strict=True):
        md = cal.model_statistics(base.replace(k=float(k), lam=float(lam)), 3, 2,
                                  gamma_end=0.9, dgamma=1e-3, meso=False)
        assert md.macro["stress"].mean() == pytest.approx(target, rel=0.1)
    np.testing.assert_allclose(sw.L_stat, 0.5 * (sw.L_macro + 0.5 * (sw.L_meso_plus
                                                                       + sw.L_meso_minus)))
    assert sw.k.min() <= sw.k_hat <= sw.k.max()
    assert not sw.edge.any()          # one-value grids have no edge to flag
    with pytest.raises(ValueError, match="k_grid"):
        multiscale.sweep_matched(ref, base, [1.6, 2.0], [2.25])
    with pytest.raises(ValueError, match="target_stress"):
        multiscale.match_lam(base, -1.0, 0)
    with pytest.raises(ValueError, match="gamma_end"):
        multiscale.match_lam(base, 1.0, 0, gamma_end=0.5)


# --- field statistics -------------------------------------------------------------------------


def test_field_stats_against_direct_formulas():
    rng = np.random.default_rng(0)
    s = rng.normal(size=(500, 3))
    d = field_stats(s)
    assert d["std_xy"] == pytest.approx(s[:, 2].std())
    assert d["std_p"] == pytest.approx((0.5 * (s[:, 0] + s[:, 1])).std())
    vm = np.sqrt((0.5 * (s[:, 0] - s[:, 1])) ** 2 + s[:, 2] ** 2)
    assert d["mean_vm"] == pytest.approx(vm.mean()) and d["std_vm"] == pytest.approx(vm.std())
    assert math.isclose(d["mean_p"], -0.5 * (s[:, 0] + s[:, 1]).mean())
    with pytest.raises(ValueError, match="stress"):
        field_stats(np.zeros((1, 3)))

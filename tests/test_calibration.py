"""Observables and calibration: error functions, reference data, parameter recovery."""

import numpy as np
import pytest

import femplastic as fp
from femplastic.weakplane import calibration as cal
from femplastic.weakplane import observables as obs


def test_overlap_error_limits(rng):
    x = rng.normal(size=4000)
    assert cal.overlap_error(x, x) == 0.0
    assert cal.overlap_error(x, x + 100.0) == 1.0
    # two unit normals shifted by d: 1 - overlap = 2 Phi(d/2) - 1
    from scipy.stats import norm

    y = rng.normal(size=200_000)
    z = rng.normal(size=200_000) + 1.0
    exact = 2 * norm.cdf(0.5) - 1
    assert cal.overlap_error(y, z, bins=200, method="linear") == pytest.approx(exact, abs=0.01)
    assert cal.overlap_error(y, z) == pytest.approx(exact, abs=0.01)  # default estimator


def _lomax_overlap_error(a1, a2):
    """Exact ``1 - int min(p1, p2)`` of Lomax densities ``a (1 + x)^-(a + 1)``, by quadrature."""
    from scipy.integrate import quad

    def f(x):
        return abs(a1 * (1 + x) ** -(a1 + 1) - a2 * (1 + x) ** -(a2 + 1))

    return 0.5 * (quad(f, 0, 1, limit=200)[0] + quad(f, 1, np.inf, limit=200)[0])


def test_overlap_error_recovers_a_heavy_tailed_pair():
    exact = _lomax_overlap_error(1.5, 2.5)
    # closed form: one crossing at 1 + x = 5/3, error = (3/5)^1.5 - (3/5)^2.5
    assert exact == pytest.approx(0.6**1.5 - 0.6**2.5, rel=1e-8)
    assert exact == pytest.approx(0.186, abs=5e-4)
    for seed in range(3):
        r = np.random.default_rng(seed)
        a, b = r.pareto(1.5, 20_000), r.pareto(2.5, 20_000)  # numpy's pareto is Lomax
        assert cal.overlap_error(a, b) == pytest.approx(exact, rel=0.05)
        # invariant under increasing maps, as L[P] itself
        assert cal.overlap_error(np.log1p(a), np.log1p(b)) == cal.overlap_error(a, b)
        # the original 40 equal-width bins put almost everything in the first bin
        assert cal.overlap_error(a, b, method="linear") < 0.05


def test_overlap_error_of_one_distribution_falls_towards_zero():
    r = np.random.default_rng(7)
    sizes = (1_000, 10_000, 100_000, 1_000_000)
    cont = [np.mean([cal.overlap_error(r.lognormal(size=n), r.lognormal(size=n))
                     for _ in range(3)]) for n in sizes]
    assert all(x > y for x, y in zip(cont, cont[1:], strict=False))
    assert cont[-1] < 0.01
    # the finite-sample bias is ~ sqrt(k / (pi m)) with k = ceil(m^(1/3)) bins
    m = sizes[-1]
    assert cont[-1] == pytest.approx(np.sqrt(np.ceil(m ** (1 / 3)) / (np.pi * m)), rel=0.3)
    disc = [cal.overlap_error(r.poisson(3.0, n), r.poisson(3.0, n)) for n in sizes]
    assert all(x > y for x, y in zip(disc, disc[1:], strict=False)) and disc[-1] < 0.005


def test_overlap_error_of_discrete_samples_and_atoms():
    r = np.random.default_rng(8)
    # two discrete samples, every atom heavier than a bin: their total-variation distance
    a = np.repeat([0.0, 1.0, 2.0], [300, 700, 0])
    b = np.repeat([0.0, 1.0, 2.0], [500, 400, 100])
    assert cal.overlap_error(a, b) == pytest.approx(0.3, abs=1e-12)
    # exact atoms need no bins at all
    assert cal.overlap_error(a, b, 1, atoms=True) == pytest.approx(0.3, abs=1e-12)
    assert cal.overlap_error(a, b, 1) == 0.0  # one bin holds everything
    # atoms against a continuous sample: exactly disjoint (eq. 8) ...
    c = r.uniform(-0.5, 2.5, 5000)
    for bins in (None, 3, 1000):
        assert cal.overlap_error(a, c, bins, atoms=True) == 1.0
    # ... by default compared at the resolution of the bins, towards 1 as they narrow
    binned = [cal.overlap_error(a, c, k) for k in (3, 30, 300)]
    assert 0 < binned[0] < binned[1] < binned[2] < 1
    # a mixed sample: half an atom at 0, half the continuous law of the other sample
    mixed = np.concatenate([np.zeros(20_000), r.normal(size=20_000)])
    assert cal.overlap_error(mixed, r.normal(size=40_000), atoms=True) == pytest.approx(
        0.5, abs=0.02)
    # the atom is never split between bins: it gets a bin of its own
    assert 0.45 < cal.overlap_error(mixed, r.normal(size=40_000)) < 0.5
    # round-off is not a difference: increments of one step read off O(1) stresses
    step = 13.2e-4
    s0, s1 = r.uniform(0.4, 0.7, 2000), r.uniform(0.4, 0.7, 2000)  # stress before
    x = (s0 + r.integers(1, 5, 2000) * step) - s0
    y = (s1 + r.integers(1, 5, 2000) * step) - s1
    assert np.unique(np.concatenate([x, y])).size > 4  # they differ in the last bits
    for atoms in (False, True):
        assert cal.overlap_error(x, y, atoms=atoms) < 0.05
        assert cal.overlap_error(x, x + 1e-9, atoms=atoms) == 1.0  # ... but a real shift is one


def test_overlap_error_edge_cases():
    with pytest.raises(ValueError, match="sample a is empty"):
        cal.overlap_error([], [1.0])
    with pytest.raises(ValueError, match="sample b contains NaN"):
        cal.overlap_error([1.0], [np.nan])
    with pytest.raises(ValueError, match="method"):
        cal.overlap_error([1.0], [1.0], method="log")
    with pytest.raises(ValueError, match="bins"):
        cal.overlap_error([1.0], [1.0], 0)
    with pytest.raises(ValueError, match="atom"):
        cal.overlap_error([1.0], [1.0], method="linear", atoms=True)
    # a sample of one value is a point mass, compared exactly in both modes
    for atoms in (False, True):
        assert cal.overlap_error([2.0], [2.0], atoms=atoms) == 0.0
        assert cal.overlap_error([2.0], [3.0], atoms=atoms) == 1.0
        assert cal.overlap_error([2.0] * 5, np.random.default_rng(0).normal(2.0, 1.0, 100),
                                 atoms=atoms) == 1.0
        assert cal.overlap_error([2.0, 2.0, 3.0], [2.0], atoms=atoms) == pytest.approx(1 / 3)
    # the original estimator on one value: no spread, no error
    assert cal.overlap_error([2.0], [2.0], method="linear") == 0.0


def test_relative_error_and_parabola():
    assert cal.relative_error(1.1, 1.0) == pytest.approx(0.1)
    k = np.linspace(1, 3, 9)
    kmin, coef = cal.parabola_fit(k, 0.3 + 2.0 * (k - 2.18) ** 2)
    assert kmin == pytest.approx(2.18, abs=1e-10)
    assert coef[2] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="at least 3"):
        cal.parabola_fit([1, 2], [1, 2])


def test_reference_roundtrip_and_validation(tmp_path, rng):
    macro = {k: rng.normal(size=50) for k in cal.MACRO_KEYS}
    meso = {k: rng.normal(size=30) for k in cal.MESO_KEYS}
    ref = cal.ReferenceData(macro, meso, dict(meso), R=30.0, meta={"origin": "test"})
    path = ref.save(tmp_path / "ref.npz")
    back = cal.ReferenceData.load(path)
    assert np.array_equal(back.macro["drops"], macro["drops"]) and back.R == 30.0
    assert back.meta["origin"] == "test"
    assert cal.errors(back, ref)["L_stat"] == 0.0
    with pytest.raises(ValueError, match="macro lacks"):
        cal.ReferenceData({"stress": [1.0]}, meso, meso)
    bad = dict(meso)
    bad["tau_c"] = np.array([np.nan])
    with pytest.raises(ValueError, match="NaN"):
        cal.ReferenceData(macro, bad, meso)
    with pytest.raises(ValueError, match="does not exist"):
        cal.ReferenceData.load(tmp_path / "nope.npz")


def test_r_of_dgamma_on_a_known_signal():
    # stress = linear ramp in every window: std of m equally spaced points with slope a
    g = np.arange(1, 2001) * 1e-3
    s = 0.5 * g
    run = fp.AQSRun(None, g, s, s, np.zeros(2000, np.int64), np.zeros(2000), np.zeros((2000, 3)),
                    None, 0.0, 1, 1e-3)
    r = obs.r_of_dgamma(run, [0.01, 0.1], gamma_min=0.0)
    for dg, val in zip([0.01, 0.1], r, strict=True):
        m = int(round(dg / 1e-3))
        assert val == pytest.approx(0.5 * 1e-3 * np.sqrt((m * m - 1) / 12.0))
    A, b = obs.power_law_fit([10, 20, 40], [3 * 10**-0.94, 3 * 20**-0.94, 3 * 40**-0.94])
    assert b == pytest.approx(-0.94) and A == pytest.approx(3.0)


def test_stationary_pools_runs():
    p = fp.ModelParams(L=6, N=8, T=0.0)
    rng = np.random.default_rng(0)
    runs = [fp.aqs(fp.quench(p, rng), p, rng, gamma_end=0.8, dgamma=1e-3) for _ in range(2)]
    st = obs.stationary(runs)
    assert st.stress.size == 2 * np.sum(runs[0].gamma > 0.5)
    # elastic stretches only raise the stress; an avalanche can raise it too when its slips
    # are misoriented with the load, but it lowers it on average
    assert np.all(st.increments > 0)
    assert np.mean(st.drops > 0) > 0.8 and st.drops.mean() > 0
    assert st.sizes.size == st.drops.size


def test_parameter_recovery_of_k():
    truth = fp.ModelParams(L=8, N=12, k=2.2)
    res = cal.recover(truth, [1.4, 1.8, 2.2, 2.6, 3.0], realizations=5, ref_realizations=10,
                      gamma_end=1.0, dgamma=1e-3, stride=2)
    assert abs(res.k_hat - 2.2) < 0.2
    # the grid minimum lies at the truth or next to it: with 5 realisations per point the
    # noise of L_stat between neighbouring points (0.4 apart) is of the order of its curvature
    # there (with the O(n) KMC selection's draws, 1.8 and 2.2 differ by 1.6 %)
    assert abs(int(np.argmin(res.L_stat)) - 2) <= 1
    assert res.L_stat[2] < res.L_stat[0] and res.L_stat[2] < res.L_stat[4]


def test_fig3_study_against_a_user_reference_file(tmp_path):
    import importlib.util
    import sys
    from pathlib import Path

    ref = cal.model_statistics(fp.ModelParams(L=6, N=8, k=2.2), 5, 2, gamma_end=0.7,
                               dgamma=1e-3, stride=3)
    path = ref.save(tmp_path / "ref.npz")
    study = Path(__file__).resolve().parents[1] / "studies" / "fig3_calibration.py"
    spec = importlib.util.spec_from_file_location("fig3_user_ref", study)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    try:
        spec.loader.exec_module(mod)
        res = mod.main(["--smoke", "--reference", str(path), "--out", str(tmp_path / "o")])
    finally:
        sys.modules.pop(spec.name, None)
    assert res["truth"] is None and np.all(np.isfinite(res["L_stat"]))


def _same_reference(a, b):
    for group in ("macro", "meso_forward", "meso_backward"):
        ga, gb = getattr(a, group), getattr(b, group)
        assert set(ga) == set(gb)
        for key in ga:
            np.testing.assert_array_equal(ga[key], gb[key])
    assert a.R == b.R


def test_model_statistics_through_an_ensemble_store_equals_the_serial_loop(tmp_path):
    """Two worker processes, a store, then a resume: bitwise the samples of the plain loop."""
    from femplastic.ensemble import Ensemble, load_store

    p = fp.ModelParams(L=6, N=8, k=2.2)
    kw = dict(gamma_end=0.7, dgamma=1e-3, stride=3)
    serial = cal.model_statistics(p, 5, 3, **kw)
    store = tmp_path / "stats.h5"
    par = cal.model_statistics(p, 5, 3, store=store, workers=2, **kw)
    _same_reference(serial, par)
    assert par.macro["drops"].size > 10 and par.meso_forward["tau_c"].size == 3 * 4
    # resuming finds every realisation complete and recomputes nothing
    point = load_store(store).points[0]
    ens = Ensemble(cal.calibration_realization, [point], 3, 5, store=store, seeding="common")
    assert ens.pending() == []
    _same_reference(serial, cal.model_statistics(p, 5, 3, store=store, workers=1, **kw))
    with pytest.raises(ValueError, match="need a store"):
        cal.model_statistics(p, 5, 3, workers=2, **kw)


def test_sweep_through_ensemble_stores_equals_the_serial_sweep(tmp_path):
    truth = fp.ModelParams(L=6, N=8, k=2.2)
    kw = dict(gamma_end=0.7, dgamma=1e-3, stride=3)
    ref = cal.model_statistics(truth, 11, 3, **kw)
    args = (ref, truth, [1.6, 2.2, 2.8], [0.9, 1.1], [2.0])
    serial = cal.sweep(*args, seed=3, realizations=2, **kw)
    stored = cal.sweep(*args, seed=3, realizations=2, store=tmp_path / "sw", workers=2, **kw)
    assert (tmp_path / "sw" / "macro.h5").exists() and (tmp_path / "sw" / "full.h5").exists()
    for name in ("k", "lam", "chi", "L_macro", "L_stat", "coefficients"):
        np.testing.assert_array_equal(getattr(serial, name), getattr(stored, name))
    assert serial.k_hat == stored.k_hat and serial.details == stored.details
    assert len(serial.details) == 3 * 2 + 3


def test_model_statistics_self_response_moves_only_the_local_drops(tmp_path):
    p = fp.ModelParams(L=8, N=8)
    kw = dict(gamma_end=0.6, dgamma=1e-3, R=12.0, stride=2)
    patch = cal.model_statistics(p, 4, 2, **kw)
    system = cal.model_statistics(p, 4, 2, self_response="system", **kw)
    for k in cal.MACRO_KEYS:  # the same runs
        np.testing.assert_array_equal(patch.macro[k], system.macro[k])
    for g in ("meso_forward", "meso_backward"):
        for k in ("tau_i", "tau_c", "dtau_c"):  # before any slip
            np.testing.assert_array_equal(getattr(patch, g)[k], getattr(system, g)[k])
    # the periodic system's self-response is softer: longer slips, larger local drops
    assert system.meso_forward["drop"].mean() > patch.meso_forward["drop"].mean()
    # through an ensemble store: the option travels with the point, bitwise the serial loop
    stored = cal.model_statistics(p, 4, 2, self_response="system", store=tmp_path / "s.h5",
                                  workers=1, **kw)
    _same_reference(system, stored)
    with pytest.raises(ValueError, match="self_response"):
        cal.model_statistics(p, 4, 1, self_response="periodic", **kw)

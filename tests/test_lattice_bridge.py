"""The HL bridge on the scalar lattice model (femplastic.lattice.bridge)."""

import numpy as np
import pytest
from test_meanfield import _synthetic_record  # the synthetic Brownian record

from femplastic import meanfield as mf
from femplastic.lattice import FiniteRateParams, finite_rate_initial_state, run_fixed_rate
from femplastic.lattice.bridge import hl_extensions_for, measure_bridge_scalar, record_sites


def _brownian_record(rng, n_t=1001, n_sites=2000, dt=0.01, D=0.3, drift=2.0, gam=0.05):
    """Brownian stresses (HL convention: msd = 2 D t) drifting at ``drift``, with one-sample
    events at rate ``gam`` after which the stress has dropped by 20% (the mean-field tests'
    synthetic record, as a lattice record)."""
    t, sigma, plastic = _synthetic_record(rng, n_t, n_sites, dt, D, gdot=1.0, G0=drift, gam=gam)
    return {"times": t, "sigma": sigma, "plastic": plastic,
            "threshold": np.ones((n_t, n_sites), dtype=np.float32),
            "frac_plastic": float(plastic.mean()), "state": None}


def test_measure_bridge_scalar_recovers_known_diffusion_drop_and_activity():
    # events last one sample (tau_res = dt): the window 1.5 .. 5 tau_res is 2 .. 5 samples
    D, drift, gam, dt = 0.3, 2.0, 0.05, 0.01
    rec = _brownian_record(np.random.default_rng(7), D=D, drift=drift, gam=gam, dt=dt)
    p = FiniteRateParams(L=8, tau_res=dt, dt=dt / 10)  # p.dt is not used by the measure
    gdot = 0.01  # G0 gdot = 0.1488 differs from the true drift: only "mean" removal is right
    b = measure_bridge_scalar(rec, p, gdot, 1.0)
    assert abs(b["D_sigma"] / (2.0 * D) - 1.0) < 0.05  # seed convention msd = D_sigma t
    assert np.isclose(b["D_hl"], 0.5 * b["D_sigma"])
    assert abs(b["quiet_drift_rate"] / drift - 1.0) < 0.05
    # eq. 7 literally removes G0 gdot, not the true drift: the msd then grows faster
    assert b["D_sigma_seed_eq7"] > 1.2 * b["D_sigma"]
    assert abs(b["relative_drop"] - 0.2) < 0.02
    assert np.isclose(b["Gamma"], rec["frac_plastic"] / dt)
    assert abs(b["Gamma_onsets"] / gam - 1.0) < 0.1
    assert b["alpha_micro_range"][0] <= b["alpha_micro"] <= b["alpha_micro_range"][1]
    with pytest.raises(ValueError, match="window"):
        measure_bridge_scalar(rec, p, gdot, 1.0, window=(5.0, 1.5))


def test_record_sites_samples_the_state_of_one_long_run():
    p = FiniteRateParams(L=8)
    st = finite_rate_initial_state(p, np.random.default_rng(1))
    _, st = run_fixed_rate(p, st, 0.05, 10.0, np.random.default_rng(2))
    rec = record_sites(p, st, 0.05, 1.0, 0.1, np.random.default_rng(3))
    # the record at time k sample is the state of a single run of that duration
    _, mid = run_fixed_rate(p, st, 0.05, 0.5, np.random.default_rng(3))
    assert np.array_equal(rec["sigma"][0], st.stress)
    assert np.array_equal(rec["sigma"][5], mid.stress)
    assert np.array_equal(rec["threshold"][5], mid.threshold.astype(np.float32))
    assert 0.0 <= rec["frac_plastic"] <= 1.0


def test_hl_extensions_for_tabulate_the_weibull_thresholds():
    p = FiniteRateParams()
    ext = hl_extensions_for(p, sigma_c=p.sigma_d, mean_drop=0.3, relative_drop=0.4, n_classes=50)
    # equal-weight classes at the quantiles of Weibull(k_d, 1): their mean is the law's mean
    from math import gamma
    assert abs(np.mean(ext.thresholds) - gamma(1.0 + 1.0 / p.k_d)) < 0.01
    assert ext.relax_fraction == 0.4 and np.isclose(ext.noise_scale, 0.3 / p.sigma_d)
    st = mf.hl_steady_state(0.2, 1e-3, extensions=ext, resolution=0.5)
    assert np.isclose(st.mass, 1.0)

"""Finite-rate dynamics of the weak-plane model (Liu et al.'s protocols, tensorial)."""

import numpy as np
import pytest

import femplastic as fp
from femplastic.fe.elasticity import ddot, schmid
from femplastic.weakplane.drivers.rate import RateParams, creep, shear_rate

RP = RateParams()


@pytest.fixture(scope="module")
def glass():
    p = fp.ModelParams(L=10, N=12)
    # the reference scan: the glass these single-realisation tolerances were set on (the O(n)
    # selection draws a statistically equal but different glass, tests/test_kmc.py)
    return p, fp.quench(p, np.random.default_rng(0), selection="scan")


def test_elastic_limit_is_exact():
    p = fp.ModelParams(L=6, N=8, lam=50.0, T=0.0)
    st = fp.quench(p, np.random.default_rng(1))
    r = shear_rate(st, RP, np.random.default_rng(2), 1e-3, t_end=5.0, record_every=1)
    assert np.all(r.plastic_fraction == 0)
    assert np.allclose(r.stress - st.external_stress(), p.G * r.gamma, atol=1e-12)
    assert np.allclose(r.gamma, 1e-3 * r.time)


def test_fixed_rate_feedback_and_stress_balance(glass):
    p, st = glass
    gdot, t_end = 5e-3, 100.0
    r = shear_rate(st, RP, np.random.default_rng(3), gdot, t_end)
    assert r.gamma[-1] == pytest.approx(gdot * t_end, rel=1e-12)  # total strain rate held
    assert r.plastic_fraction.max() > 0
    # dSigma/dt = C : (gdot M - <d eps_pl/dt>), integrated: exact mean stress balance
    M = schmid(0.0)
    epl = r.state.eps_pl.mean(axis=0)
    expected = st.external_stress() + p.G * r.gamma[-1] - 2 * p.G * ddot(M, epl)
    assert r.stress[-1] == pytest.approx(expected, rel=1e-10)


def test_flow_stress_increases_with_rate(glass):
    p, st = glass
    flow = []
    for gdot in (1e-3, 1e-2):
        r = shear_rate(st, RP, np.random.default_rng(4), gdot, t_end=2.0 / gdot)
        flow.append(r.stress[r.gamma > 1.0].mean())
    assert flow[1] > flow[0] + 0.03


def test_creep_stuck_below_and_on_the_flow_curve_above(glass):
    p, st = glass
    low = creep(st, RP, np.random.default_rng(5), 0.25, t_end=200.0)
    assert np.all(low.strain_rate[-100:] == 0)  # stuck: nothing flows any more
    assert low.plastic_fraction[-1] == 0
    # well above the static threshold: the flow stress at a fast imposed rate
    fast = shear_rate(st, RP, np.random.default_rng(6), 1e-2, t_end=300.0)
    s_flow = fast.stress[fast.gamma > 1.0].mean()
    hi = creep(st, RP, np.random.default_rng(7), s_flow, t_end=400.0)
    assert np.allclose(hi.stress[1:], s_flow)
    late = hi.time > 150
    gdot_c = (hi.gamma[late][-1] - hi.gamma[late][0]) / (hi.time[late][-1] - hi.time[late][0])
    assert 2e-3 < gdot_c < 5e-2
    # the fixed-rate protocol at the creep rate gives back the creep stress
    r = shear_rate(st, RP, np.random.default_rng(8), gdot_c, t_end=3.0 / gdot_c)
    assert r.stress[r.gamma > 1.5].mean() == pytest.approx(s_flow, abs=0.03)


def test_same_seed_same_run(glass):
    p, st = glass
    a = shear_rate(st, RP, np.random.default_rng(8), 1e-2, t_end=20.0)
    b = shear_rate(st, RP, np.random.default_rng(8), 1e-2, t_end=20.0)
    assert np.array_equal(a.stress, b.stress)


def test_bad_input(glass):
    p, st = glass
    with pytest.raises(ValueError, match="dt must be"):
        RateParams(dt=0.5)
    with pytest.raises(ValueError, match="tau_pl"):
        RateParams(tau_pl=-1.0)
    with pytest.raises(ValueError, match="gdot"):
        shear_rate(st, RP, np.random.default_rng(0), -1e-3, 1.0)
    with pytest.raises(ValueError, match="t_end"):
        creep(st, RP, np.random.default_rng(0), 0.5, t_end=0.0)

"""Stress-controlled quasistatic loading: the program is followed, avalanches dissipate."""

import numpy as np
import pytest

import femplastic as fp
from femplastic.fe.elasticity import schmid
from femplastic.weakplane.drivers.stress import stress_controlled
from femplastic.weakplane.energy import elastic_energy


@pytest.fixture(scope="module")
def quenched():
    p = fp.ModelParams(L=10, T=0.0)
    rng = np.random.default_rng(4)
    return p, fp.quench(p, rng)


def test_stress_follows_the_program_and_avalanches_dissipate(quenched):
    p, q = quenched
    run = stress_controlled(q, p, np.random.default_rng(1), stress_end=0.5, dstress=2e-3,
                            record_events=True)
    s0 = q.external_stress()
    assert not run.flowed and run.target.size == round((0.5 - s0) / 2e-3)
    np.testing.assert_allclose(run.target, s0 + 2e-3 * np.arange(1, run.target.size + 1))
    # the measured resolved stress <Sigma_xy> of every step is the imposed one
    np.testing.assert_allclose(run.stress, run.target, rtol=0, atol=1e-12)
    final = run.state
    assert final.external_stress() == pytest.approx(run.target[-1], abs=1e-12)
    assert final.is_stable()
    av = run.avalanches
    assert av.size.size > 5 and av.size.sum() == final.n_events
    # enthalpy h = w_el - Sigma gamma (energy of sample + loading device) never rises
    assert np.all(av.dissipation >= 0)
    # the strain jump of an avalanche is the resolved plastic strain (2 M : <deps>, the
    # engineering shear) from the plastic-strain bookkeeping: fixed-stress relaxation
    np.testing.assert_allclose(run.gamma_jump[av.step], 2 * av.plastic, rtol=1e-9, atol=1e-15)
    # elastic steps lie on the elastic line dgamma = dstress / G
    el = np.flatnonzero(run.avalanche_size == 0)
    el = el[el > 0]
    el = el[run.avalanche_size[el - 1] == 0]
    np.testing.assert_allclose(np.diff(run.gamma)[el - 1], 2e-3 / p.G, rtol=1e-9)
    # the final strain state is consistent: w_el recomputed from the final fields
    E = final.macro_strain
    np.testing.assert_allclose(E, q.macro_strain + run.gamma[-1] * schmid(0.0), atol=1e-14)
    assert np.isfinite(elastic_energy(final))


def test_unloading_and_flow(quenched):
    p, q = quenched
    down = stress_controlled(q, p, np.random.default_rng(2), stress_end=-0.3, dstress=5e-3)
    assert np.all(np.diff(down.target) < 0) and np.all(np.diff(down.gamma) <= 1e-15)
    np.testing.assert_allclose(down.stress, down.target, atol=1e-12)
    flow = stress_controlled(q, p, np.random.default_rng(2), stress_end=2.0, dstress=5e-3,
                             gamma_limit=0.3)
    assert flow.flowed and abs(flow.gamma[-1]) > 0.3 and flow.target[-1] < 2.0


def test_stress_control_matches_strain_control_below_the_first_event(quenched):
    """Before any slip both controls trace the same elastic line Sigma = Sigma_0 + G gamma."""
    p, q = quenched
    run = stress_controlled(q, p, np.random.default_rng(0), stress_end=q.external_stress()
                            + 0.01, dstress=1e-3)
    assert run.avalanche_size.sum() == 0
    np.testing.assert_allclose(run.gamma, (run.target - q.external_stress()) / p.G, rtol=1e-10)
    aq = fp.aqs(q, p, np.random.default_rng(0), gamma_end=run.gamma[-1], dgamma=run.gamma[0])
    np.testing.assert_allclose(aq.stress, run.stress, rtol=1e-10)
    with pytest.raises(ValueError, match="dstress"):
        stress_controlled(q, p, np.random.default_rng(0), stress_end=0.5, dstress=0.0)
    with pytest.raises(ValueError, match="gamma_limit"):
        stress_controlled(q, p, np.random.default_rng(0), stress_end=0.5, gamma_limit=-1.0)

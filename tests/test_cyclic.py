"""Cyclic AQS: reversibility, agreement with aqs legs, energy balance, limit cycles."""

import numpy as np
import pytest

import femplastic as fp
from femplastic.fe.assembly import PeriodicFE
from femplastic.fe.elasticity import schmid
from femplastic.weakplane.drivers.cyclic import cyclic
from femplastic.weakplane.energy import elastic_energy, slip_dissipation


@pytest.fixture(scope="module")
def quenched():
    p = fp.ModelParams(L=8, T=0.0)
    rng = np.random.default_rng(11)
    return p, fp.quench(p, rng)


def test_elastic_cycle_is_exactly_reversible(quenched):
    p, q = quenched
    run = cyclic(q, p, np.random.default_rng(0), gamma_max=2e-3, cycles=2, dgamma=1e-4)
    assert run.events.sum() == 0  # nothing slips at this amplitude
    # bit-identical configuration after each cycle, and a closed loop of zero area
    assert np.array_equal(run.state.stress, q.stress)
    assert np.array_equal(run.state.tauc, q.tauc) and np.array_equal(run.state.theta, q.theta)
    assert run.absorbed_at == 1 and run.period == 1 and run.transient == 0
    assert np.all(np.abs(run.loop_work) < 1e-15) and np.all(run.dissipation == 0)
    # the stress followed the elastic line: Sigma = Sigma_0 + G gamma along the whole path
    s0 = q.external_stress()
    np.testing.assert_allclose(run.stress, s0 + p.G * run.gamma, atol=1e-13)


def test_one_cycle_equals_the_aqs_legs(quenched):
    p, q = quenched
    gm, dg = 0.06, 1e-4
    run = cyclic(q, p, np.random.default_rng(5), gamma_max=gm, cycles=1, dgamma=dg)
    rng = np.random.default_rng(5)
    a1 = fp.aqs(q, p, rng, gamma_end=gm, dgamma=dg)
    a2 = fp.aqs(a1.state, p, rng, gamma_end=2 * gm, dgamma=dg, direction=-1)
    a3 = fp.aqs(a2.state, p, rng, gamma_end=gm, dgamma=dg)
    n = a1.gamma.size
    assert run.gamma.size == 4 * n and run.events[0] > 0
    # loading leg: bit for bit (same affine formula from the same state)
    assert np.array_equal(run.stress[:n], a1.stress)
    assert np.array_equal(run.avalanche_size[:n], a1.avalanche_size)
    # reversal and return: the same avalanches, stresses to round-off (aqs restarts its
    # affine formula at the turning point); aqs records -Sigma_xy when unloading
    sizes = np.concatenate([a2.avalanche_size, a3.avalanche_size])
    assert np.array_equal(run.avalanche_size[n:], sizes)
    np.testing.assert_allclose(run.stress[n:3 * n], -a2.stress, rtol=0, atol=1e-11)
    np.testing.assert_allclose(run.stress[3 * n:], a3.stress, rtol=0, atol=1e-11)
    np.testing.assert_allclose(run.gamma[n:3 * n], gm - a2.gamma, atol=1e-12)
    np.testing.assert_allclose(run.state.stress, a3.state.stress, rtol=0, atol=1e-11)
    assert np.array_equal(run.state.tauc, a3.state.tauc)
    np.testing.assert_allclose(run.state.eps_pl, a3.state.eps_pl, atol=1e-14)


def test_energy_matches_an_independent_fe_solve(quenched):
    """elastic_energy differences equal those of the FE quadrature energy (PeriodicFE)."""
    p, q = quenched
    rng = np.random.default_rng(2)
    a = fp.aqs(q, p, rng, gamma_end=0.08, dgamma=1e-3)
    b = fp.aqs(a.state, p, rng, gamma_end=0.05, dgamma=1e-3, direction=-1)
    m = q.model
    fe = PeriodicFE(m.mesh, m.material)
    area = m.mesh.areas.sum()

    def W(s):
        return fe.energy(s.eps_pl, s.macro_strain, s.prestress) / area

    for s1, s2 in ((q, a.state), (a.state, b.state)):
        np.testing.assert_allclose(elastic_energy(s2) - elastic_energy(s1), W(s2) - W(s1),
                                   rtol=1e-9, atol=1e-12)
    # homogeneous elastic shear: G gamma^2 / 2
    st = q.copy()
    st.stress[:] = q.stress + m.propagator.load_response(0.01 * schmid(0.0))
    st.macro_strain = 0.01 * schmid(0.0)
    assert elastic_energy(st) - elastic_energy(q) == pytest.approx(
        p.G * 1e-4 / 2 + 0.01 * q.external_stress(), rel=1e-12)


def test_dissipation_is_the_loop_integral_and_non_negative(quenched):
    p, q = quenched
    run = cyclic(q, p, np.random.default_rng(3), gamma_max=0.1, cycles=4, dgamma=1e-4,
                 record_events=True)
    steps = run.gamma.size
    # loop work = dissipation + energy change, to round-off times steps
    assert np.all(np.abs(run.balance) < 1e-16 * steps * 10)
    assert np.all(run.dissipation > 0) and np.all(run.events > 0)
    assert np.all(run.avalanches.dissipation >= -1e-15)
    # the loop integral recomputed independently (trapezoid over the recorded curve)
    g = np.concatenate([[0.0], run.gamma])
    s_prev = np.concatenate([[run.strobe_stress[0]], run.stress[:-1]])
    total = np.sum(np.diff(g) * 0.5 * (s_prev + run.stress_before))
    assert total == pytest.approx(run.loop_work.sum(), rel=1e-12)
    # single-event avalanches dissipate the seed's w g (tau - g selfres / 2)
    av = run.avalanches
    ev = av.events
    single = np.flatnonzero(av.size == 1)
    assert single.size > 10
    idx = np.searchsorted(ev["avalanche"], single)
    Ks = q.model.Kself[ev["element"][idx]]
    M = np.array([schmid(t) for t in ev["theta"][idx]])
    wts = np.array([1.0, 1.0, 2.0])
    selfres = -np.einsum("kab,kb,ka->k", Ks, M, M * wts)
    expected = slip_dissipation(ev["tau"][idx], ev["amplitude"][idx], selfres,
                                np.full(idx.size, 1.0 / q.n_elem))
    np.testing.assert_allclose(av.dissipation[single], expected, rtol=1e-8, atol=1e-15)
    # event sweeps: an avalanche of s sweeps has events in s distinct consecutive sweeps
    k = int(np.argmax(av.sweeps))
    sw = ev["sweep"][ev["avalanche"] == k]
    assert np.unique(sw).size == av.sweeps[k] and sw.max() - sw.min() + 1 == av.sweeps[k]


def test_plastic_limit_cycle_has_constant_dissipation():
    """Model H (fixed angles, constant thresholds and amplitudes): a plastic limit cycle."""
    p = fp.ModelParams.for_variant("H")
    p = fp.ModelParams(**{**p.to_dict(), "L": 8, "T": 0.0})
    rng = np.random.default_rng(3)
    q = fp.quench(p, rng)
    run = cyclic(q, p, rng, gamma_max=0.05, cycles=5, dgamma=1e-3)
    assert run.period == 1 and run.absorbed_at is not None
    t = run.transient
    assert np.all(run.events[t:] == run.events[-1]) and run.events[-1] > 0
    np.testing.assert_allclose(run.dissipation[t:], run.dissipation[-1], rtol=1e-9)
    np.testing.assert_allclose(run.loop_work[t:], run.dissipation[t:], rtol=1e-9)
    np.testing.assert_allclose(run.strobe_energy[t:], run.strobe_energy[-1], atol=1e-12)


def test_until_absorbed_and_bad_input(quenched):
    p, q = quenched
    run = cyclic(q, p, np.random.default_rng(0), gamma_max=0.02, cycles=50, dgamma=1e-4,
                 until_absorbed=True)
    assert run.absorbed_at == run.n_cycles < 50 and run.events[-1] == 0
    rng = np.random.default_rng(0)
    for kw, word in (({"gamma_max": -1.0}, "gamma_max"), ({"cycles": 0}, "cycles"),
                     ({"dgamma": 1.0}, "dgamma"), ({"max_period": 0}, "max_period"),
                     ({"stress_atol": -1.0}, "stress_atol")):
        args = {"gamma_max": 0.01, "cycles": 1} | kw
        with pytest.raises(ValueError, match=word):
            cyclic(q, p, rng, **args)

"""Weak-plane model: slip laws, quench, AQS. Physics checks with independent computations."""

import numpy as np
import pytest
from scipy import stats

import femplastic as fp
from femplastic.fe import assembly as fem
from femplastic.fe import mesh
from femplastic.fe.elasticity import ddot, schmid
from femplastic.weakplane.slip import (
    BoundedPowerLaw,
    ConstantThreshold,
    FixedAngles,
    RandomGroups,
    SlipLaw,
    TabulatedThreshold,
    Weibull,
    n_systems,
)

SMALL = fp.ModelParams(L=8, N=12, T=0.25)


def selfres_of(Kself, theta):
    M = schmid(theta)
    return -ddot(np.einsum("ab,...b->...a", Kself, M), M)


# ---------------------------------------------------------------- samplers (KS at fixed seeds)
def test_weibull_thresholds_ks():
    rng = np.random.default_rng(1)
    x = Weibull(2.18, 2.05).sample(rng, 5000)
    assert stats.kstest(x, stats.weibull_min(2.18, scale=2.05).cdf).pvalue > 0.01
    # and the ones the kernels draw when building a state
    st = fp.State.fresh(fp.build_model(SMALL), np.random.default_rng(2))
    ref = stats.weibull_min(SMALL.k, scale=SMALL.lam).cdf
    assert stats.kstest(st.tauc.ravel(), ref).pvalue > 0.01
    # a wrong law would be caught
    assert stats.kstest(x, stats.weibull_min(1.8, scale=2.05).cdf).pvalue < 1e-6


def test_bounded_power_law_ks_and_bound():
    rng = np.random.default_rng(3)
    g = 0.37
    x = BoundedPowerLaw(2.25).sample(rng, gmax=g, size=5000)
    assert np.all((x > 0) & (x < g))
    assert stats.kstest(x, stats.beta(1, 2.25, scale=g).cdf).pvalue > 0.01


def test_orientation_groups():
    rng = np.random.default_rng(4)
    th = RandomGroups().sample(rng, 2000, 8)
    base = th[:, 0::4]
    assert np.all((base > -np.pi / 2) & (base <= np.pi / 2))
    assert stats.kstest(base.ravel(), stats.uniform(-np.pi / 2, np.pi).cdf).pvalue > 0.01
    for j, off in enumerate((0.0, np.pi / 2, np.pi / 4, 3 * np.pi / 4)):
        assert np.allclose(th[:, j::4] - base, off)
    # the kernels' groups have the same structure
    st = fp.State.fresh(fp.build_model(SMALL), np.random.default_rng(5))
    b = st.theta[:, 0::4]
    assert np.allclose(st.theta[:, 1::4] - b, np.pi / 2)
    assert np.allclose(st.theta[:, 3::4] - b, 3 * np.pi / 4)
    assert stats.kstest(b.ravel(), stats.uniform(-np.pi / 2, np.pi).cdf).pvalue > 0.01


def test_tabulated_threshold_from_ppf_and_samples():
    rng = np.random.default_rng(6)
    law = TabulatedThreshold.from_ppf(stats.gamma(3.0, scale=0.4).ppf)
    x = law.sample(rng, 4000)
    assert stats.kstest(x, stats.gamma(3.0, scale=0.4).cdf).pvalue > 0.01
    emp = TabulatedThreshold.from_samples(stats.lognorm(0.5).rvs(20000, random_state=1))
    y = emp.sample(rng, 4000)
    assert stats.kstest(y, stats.lognorm(0.5).cdf).pvalue > 0.01


def test_n_systems_helper():
    assert [n_systems(l) for l in (3.5, 4.4, 6.6, 8.8)] == [8, 16, 36, 60]
    assert n_systems(6.6, rho_s=0.2) == 8


# ---------------------------------------------------------------- dissipation
def test_gmax_bound_is_exact_zero_dissipation_by_direct_fe(rng):
    """At the bound the FE energy is unchanged; below it decreases; above it increases."""
    p = fp.ModelParams(L=6, N=8)
    m = fp.build_model(p)
    fe = fem.PeriodicFE(m.mesh, m.material)
    epl = rng.normal(scale=0.05, size=(36, 3))
    E = np.array([0.0, 0.0, 0.03])
    stress = m.propagator.stress(epl, E)
    assert np.allclose(stress, fe.element_stress(epl, E), atol=1e-10)
    W0 = fe.energy(epl, E)
    checked = 0
    for e in range(0, 36, 5):
        for theta in rng.uniform(-np.pi / 2, np.pi / 2, size=3):
            M = schmid(theta)
            tau = ddot(M, stress[e])
            if tau <= 0:
                continue
            g = float(fp.slip.gmax(tau, selfres_of(m.Kself[e], theta)))
            for frac, sign in ((1.0, 0), (0.5, -1), (0.05, -1), (1.3, 1)):
                e2 = epl.copy()
                e2[e] += frac * g * M
                dW = fe.energy(e2, E) - W0
                scale = tau * g * m.mesh.areas[e]
                if sign == 0:
                    assert abs(dW) < 1e-8 * scale
                else:
                    assert np.sign(dW) == sign and abs(dW) > 1e-6 * scale
            checked += 1
    assert checked >= 5


def test_aqs_events_respect_gmax_and_energy_drops_per_event(rng):
    p = fp.ModelParams(L=6, N=8, T=0.0)
    st = fp.quench(p, rng)
    run = fp.aqs(st, p, rng, gamma_end=0.3, dgamma=1e-3, record_events=True)
    ev = run.events
    assert ev.amplitude.size > 50
    bound = 2 * ev.tau / selfres_of(st.model.Kself[0], ev.theta)
    assert np.all(ev.amplitude > 0)
    assert np.all(ev.amplitude <= bound * (1 + 1e-12))
    assert np.all(ev.tau > 0)
    # single-event dissipation with the direct FE energy along the run's own slips
    fe = fem.PeriodicFE(st.model.mesh, st.model.material)
    E = np.array([0.0, 0.0, 0.1])
    epl = np.zeros((36, 3))
    state_stress = st.model.propagator.stress(epl, E)
    W = fe.energy(epl, E)
    for e, th, g in zip(ev.element[:40], ev.theta[:40], ev.amplitude[:40], strict=True):
        M = schmid(th)
        tau = ddot(M, state_stress[e])
        if tau <= 0:
            continue
        gm = float(fp.slip.gmax(tau, selfres_of(st.model.Kself[e], th)))
        d = min(g, gm) * M
        epl[e] += d
        W1 = fe.energy(epl, E)
        assert W1 <= W + 1e-10 * abs(W)
        W = W1
        st.model.propagator.add(state_stress, [e], [d])


def test_mean_stress_drop_equals_plastic_strain(rng):
    """Exact balance: the mean stress changes by -C : <d eps_pl> in every avalanche."""
    p = fp.ModelParams(L=8, N=12, T=0.0)
    st = fp.quench(p, rng)
    run = fp.aqs(st, p, rng, gamma_end=0.2, dgamma=1e-3)
    C = p.material().matrix()
    idx = run.avalanche_steps
    assert idx.size > 5
    # resolved plastic strain p -> drop = (M : C M) * 2 p ... use the full tensors
    mean_change = run.state.mean_stress() - st.mean_stress()
    gamma_tot = run.gamma[-1]
    expected = C @ (gamma_tot * schmid(0.0) - run.state.eps_pl.mean(axis=0))
    assert np.allclose(mean_change, expected, atol=1e-10)


# ---------------------------------------------------------------- renewal
def test_renewal_touches_only_the_slipping_element():
    p = fp.ModelParams(L=6, N=8, lam=50.0, T=0.0)  # thresholds far away: no avalanche
    rng = np.random.default_rng(7)
    st = fp.quench(p, rng)
    before = st.copy()
    n, _ = fp.relax(st, rng, thermal=(13, 2))
    assert n == 1
    changed = np.flatnonzero(np.any(st.theta != before.theta, axis=1)
                             | np.any(st.tauc != before.tauc, axis=1))
    assert changed.tolist() == [13]
    assert st.slips[13] == 1 and st.slips.sum() == 1


# ---------------------------------------------------------------- AQS modes and seeds
def test_event_driven_equals_step_by_step():
    p = fp.ModelParams(L=8, N=12)
    st = fp.quench(p, np.random.default_rng(11), max_events=300)
    a = fp.aqs(st, p, np.random.default_rng(3), gamma_end=0.25, dgamma=2e-4, record_events=True)
    b = fp.aqs(st, p, np.random.default_rng(3), gamma_end=0.25, dgamma=2e-4, record_events=True,
               event_driven=False)
    for name in ("gamma", "stress", "stress_before", "avalanche_size", "plastic", "mean_stress"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    for name in ("element", "system", "theta", "tau", "amplitude", "avalanche"):
        assert np.array_equal(getattr(a.events, name), getattr(b.events, name)), name
    assert np.array_equal(a.state.stress, b.state.stress)
    assert a.avalanche_size.sum() > 100


def test_same_seed_same_run_and_input_not_modified():
    p = SMALL
    s1 = fp.quench(p, np.random.default_rng(21), max_events=200)
    s2 = fp.quench(p, np.random.default_rng(21), max_events=200)
    assert np.array_equal(s1.stress, s2.stress) and np.array_equal(s1.tauc, s2.tauc)
    keep = s1.copy()
    r1 = fp.aqs(s1, p, np.random.default_rng(5), gamma_end=0.2, dgamma=1e-3)
    r2 = fp.aqs(s2, p, np.random.default_rng(5), gamma_end=0.2, dgamma=1e-3)
    assert np.array_equal(r1.stress, r2.stress)
    assert np.array_equal(s1.stress, keep.stress) and np.array_equal(s1.tauc, keep.tauc)
    r3 = fp.aqs(s1, p, np.random.default_rng(6), gamma_end=0.2, dgamma=1e-3)
    assert not np.array_equal(r1.stress, r3.stress)


def test_different_seeds_statistically_equal_stationary_stress():
    p = fp.ModelParams(L=10, N=12, T=0.0)
    means = {}
    for label, seeds in (("a", (1, 2, 3)), ("b", (4, 5, 6))):
        vals = []
        for s in seeds:
            rng = np.random.default_rng(s)
            run = fp.aqs(fp.quench(p, rng), p, rng, gamma_end=1.0, dgamma=1e-3)
            vals.append(run.stress[run.gamma > 0.5].mean())
        means[label] = np.array(vals)
    a, b = means["a"], means["b"]
    assert not np.array_equal(a, b)
    spread = np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    assert abs(a.mean() - b.mean()) < 4 * spread + 0.02


def test_stop_when_unloading_to_zero():
    p = fp.ModelParams(L=8, N=12, T=0.0)
    rng = np.random.default_rng(8)
    run = fp.aqs(fp.quench(p, rng), p, rng, gamma_end=0.3, dgamma=1e-3)
    s_now = run.state.external_stress(0.0)
    assert s_now > 0.1
    un = fp.aqs(run.state, p, rng, gamma_end=1.0, dgamma=1e-4, direction=-1,
                stop_when=lambda g, sb, sa: sa >= 0.0)
    assert un.stopped
    assert un.stress[-1] >= 0 > un.stress[-2]
    assert abs(un.state.external_stress(0.0)) < 13.2 * 1e-4 + 1e-9


# ---------------------------------------------------------------- quench
def test_quench_stable_stationary_and_isotropic():
    p = fp.ModelParams(L=8, N=12)
    phis, tau_by_angle, mean_xy = [], [], []
    for s in range(6):
        st, info = fp.quench(p, np.random.default_rng(100 + s), return_info=True)
        assert st.is_stable()
        assert info.n_thermal > 0 and info.time > 0
        assert np.array_equal(st.stress, st.prestress)
        assert np.all(st.eps_pl == 0) and np.all(st.macro_strain == 0)
        dev = np.stack([0.5 * (st.stress[:, 1] - st.stress[:, 0]), st.stress[:, 2]], axis=1)
        phis.append(np.arctan2(dev[:, 1], dev[:, 0]))
        tau_by_angle.append(np.stack([np.mod(st.theta.ravel(), np.pi), st.tauc.ravel()]))
        mean_xy.append(st.stress[:, 2].mean())
        # thresholds evolved during equilibration (thermal selection of weak systems)
        assert st.tauc.mean() > stats.weibull_min(p.k, scale=p.lam).mean() + 0.05
    phi = np.concatenate(phis)
    # no preferred orientation of the local deviatoric stress
    assert abs(np.mean(np.exp(1j * phi))) < 0.1
    # surviving thresholds do not depend on the system angle
    th, tc = np.concatenate(tau_by_angle, axis=1)
    bins = np.digitize(th, np.linspace(0, np.pi, 7)[1:-1])
    means = np.array([tc[bins == b].mean() for b in range(6)])
    sem = np.array([tc[bins == b].std() / np.sqrt((bins == b).sum()) for b in range(6)])
    assert np.ptp(means) < 8 * sem.max()


# ---------------------------------------------------------------- scalar limit
def test_single_system_at_zero_behaves_as_scalar_model(rng):
    p = fp.ModelParams(L=8, N=4, T=0.0)
    law = SlipLaw(N=1, orientation=FixedAngles((0.0,)), threshold=Weibull(2.0, 0.5),
                  amplitude=BoundedPowerLaw(2.0))
    st = fp.quench(p, rng, law=law)
    run = fp.aqs(st, None, rng, gamma_end=0.3, dgamma=1e-3, record_events=True)
    assert np.allclose(run.events.theta, 0.0)
    epl = run.state.eps_pl
    assert np.all(epl[:, 0] == 0) and np.all(epl[:, 1] == 0)  # pure xy plastic strain
    # each avalanche lowers <Sigma_xy> by G * sum(amplitudes) / n exactly
    G = p.G
    for a in range(5):
        i = run.avalanche_steps[a]
        amps = run.events.amplitude[run.events.avalanche == a]
        assert run.stress_before[i] - run.stress[i] == pytest.approx(G * amps.sum() / 64,
                                                                     rel=1e-9)


# ---------------------------------------------------------------- custom mesh
def test_custom_mesh_quench_and_shear(meshes_dir, rng):
    m = mesh.load(meshes_dir / "perturbed_periodic.vtu", periodic=True)
    p = fp.ModelParams(L=10, N=8, l=1.5)  # L: the mesh's linear size (100 elements)
    st = fp.quench(p, rng, mesh=m, max_events=300)
    assert st.is_stable() and st.n_elem == 100
    run = fp.aqs(st, None, rng, gamma_end=0.2, dgamma=1e-3)
    assert run.avalanche_size.sum() > 0
    # mean stress balance with area weights on the distorted mesh
    w = m.areas / m.areas.sum()
    C = p.material().matrix()
    expected = C @ (run.gamma[-1] * schmid(0.0) - w @ run.state.eps_pl)
    assert np.allclose(run.state.mean_stress() - st.mean_stress(), expected, atol=1e-9)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("kw,match", [({"N": 6}, "N must be a positive multiple of 4"),
                                      ({"k": 0.0}, "k must"), ({"chi": -1.0}, "chi must"),
                                      ({"T": -0.1}, "T must"), ({"L": 1}, "L must"),
                                      ({"lam": float("nan")}, "lam must")])
def test_bad_model_params(kw, match):
    with pytest.raises(ValueError, match=match):
        fp.ModelParams(**kw)


def test_bad_driver_input(rng):
    p = fp.ModelParams(L=4, N=4, T=0.0)
    st = fp.quench(p, rng)
    with pytest.raises(ValueError, match="dgamma"):
        fp.aqs(st, p, rng, dgamma=0.0)
    with pytest.raises(ValueError, match="direction"):
        fp.aqs(st, p, rng, direction=0)
    with pytest.raises(TypeError, match="Generator"):
        fp.aqs(st, p, 42)
    with pytest.raises(ValueError, match="T must"):
        fp.quench(p, rng, T=-1)
    with pytest.raises(ValueError, match="multiple of 4"):
        SlipLaw(N=6)
    with pytest.raises(ValueError, match="tau_c"):
        ConstantThreshold(0.0)


def test_config_and_overrides(tmp_path):
    from femplastic.weakplane.params import load_config

    f = tmp_path / "c.toml"
    f.write_text("[model]\nL = 20\n[run]\ngamma_end = 0.5\n")
    cfg = load_config(f, ["model.k=1.5", "run.event_driven=false"])
    assert cfg.model.L == 20 and cfg.model.k == 1.5 and cfg.run.gamma_end == 0.5
    assert cfg.run.event_driven is False
    with pytest.raises(ValueError, match="unknown config key"):
        load_config(None, ["model.kk=1"])
    with pytest.raises(ValueError, match="section.key=value"):
        load_config(None, ["model.L"])
    with pytest.raises(ValueError, match="expects an integer"):
        load_config(None, ["model.L=abc"])
    f.write_text("[model]\nN = 10\n")
    with pytest.raises(ValueError, match="multiple of 4"):
        load_config(f)
    assert fp.params.PRESETS["l13.2"].N == 144 and fp.params.PRESETS["l3.5"].L == 29


@pytest.mark.parametrize("variant", ["C", "B"])  # B: pressure-dependent thresholds
def test_analytic_trigger_step_equals_the_stepping_test_at_boundaries(variant):
    """next_unstable_step (analytic step, fast verification) against the step-by-step test,
    with steps chosen so that the activation load falls within a few ulps of a step."""
    from femplastic.fe.elasticity import schmid
    from femplastic.weakplane import kernels as K

    p = fp.ModelParams.for_variant(variant, L=10, N=12)
    st = fp.aqs(fp.quench(p, np.random.default_rng(4), max_events=400), p,
                np.random.default_rng(5), gamma_end=0.1, dgamma=1e-4).state
    law_f = st.model.law_arrays[1]
    v = np.ascontiguousarray(st.model.propagator.load_response(schmid(0.3)))
    ivm = K.load_rate_bounds(v, law_f)
    best, _ = K.trigger_bounds(st.stress, v, st.nv, st.tauc, law_f, st.sref, st.pref,
                               st.margin, ivm, np.empty(st.n_elem),
                               np.empty(-(-st.n_elem // K.SCAN_BLOCK)))
    assert 0 < best < np.inf
    trial, ref = np.empty_like(st.stress), np.empty_like(st.stress)
    checked = 0
    for k in (1, 2, 3, 7, 50):
        # steps whose k-th load is within a few ulps of the activation load, and one between
        for dg in [best / k * (1.0 + 1.1e-16 * j) for j in range(-6, 7)] + [best / (k + 0.5)]:
            cap = 4 * k + 10
            m = K.next_unstable_step(st.stress, v, dg, st.nv, st.tauc, law_f, st.sref,
                                     st.pref, st.margin, cap, trial, ivm)
            # the definition: the first step whose loaded stress has an active system
            want = cap + 1
            for j in range(1, cap + 1):
                K.trial_stress(st.stress, v, j * dg, ref)
                if K.any_active(ref, st.nv, st.tauc, law_f, st.sref, st.pref, st.margin):
                    want = j
                    break
            assert m == want, (k, dg, m, want)
            assert np.array_equal(trial, ref)
            checked += 1
    assert checked == 70

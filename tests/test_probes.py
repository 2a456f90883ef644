"""Local shear test and Bauschinger reload: analytic limits and the paper's emergent facts."""

import numpy as np
import pytest

import femplastic as fp
from femplastic.fe.assembly import PatchFE
from femplastic.fe.elasticity import ddot, schmid
from femplastic.weakplane.probes import bauschinger, ensemble_average, local_yield, patch_indices
from femplastic.weakplane.slip import ConstantThreshold, FixedAmplitude, FixedAngles, SlipLaw


def single_system_state(theta0, tau0, g, L=6):
    p = fp.ModelParams(L=L, N=4, T=0.0)
    law = SlipLaw(N=1, orientation=FixedAngles((theta0,)), threshold=ConstantThreshold(tau0),
                  amplitude=FixedAmplitude(g))
    return fp.quench(p, np.random.default_rng(0), law=law)


def test_patch_indices_wrap():
    idx = patch_indices(5, 2, 4, 4)
    assert idx.tolist() == [24, 20, 4, 0]


@pytest.mark.parametrize("theta0", [0.0, 0.3])
def test_uniform_patch_onset_and_drop_are_analytic(theta0):
    tau0, g = 0.8, 0.01
    st = single_system_state(theta0, tau0, g)
    ly = local_yield(st, None, np.random.default_rng(1), 3, [theta0], positions=[(1, 2)])
    # stress-free homogeneous patch: every element reaches tau0 together, at gamma = tau0 / G
    assert ly.tau_i[0, 0] == pytest.approx(0.0, abs=1e-14)
    assert ly.tau_c[0, 0] == pytest.approx(tau0, rel=1e-9)
    assert ly.gamma_c[0, 0] == pytest.approx(tau0 / 13.2, rel=1e-9)
    # all nine slip g M(theta0) at once: uniform eigenstrain, boundary held -> drop = G g
    assert ly.n_events[0, 0] == 9
    assert ly.drop[0, 0] == pytest.approx(13.2 * g, rel=1e-9)


def test_single_slipping_element_drop_matches_direct_patch_solve():
    theta0, tau0, g, n = 0.2, 0.8, 0.02, 3
    st = single_system_state(theta0, tau0, g)
    idx = patch_indices(6, n, 0, 0)
    st.tauc[idx] = 50.0
    st.tauc[idx[4]] = tau0  # only the centre element can slip
    alpha = theta0 + 0.1
    ly = local_yield(st, None, np.random.default_rng(2), n, [alpha], positions=[(0, 0)])
    M = schmid(alpha)
    # onset: the centre system reaches tau0 under uniform stress C : gamma M(alpha)
    C = fp.Isotropic().matrix()
    gc = tau0 / ddot(schmid(theta0), C @ M)
    assert ly.gamma_c[0, 0] == pytest.approx(gc, rel=1e-9)
    assert ly.tau_c[0, 0] == pytest.approx(ddot(M, C @ M) * gc, rel=1e-9)
    # drop from an independent Dirichlet FE solve of the patch with that one eigenstrain
    epl = np.zeros((n * n, 3))
    epl[4] = g * schmid(theta0)
    ds = PatchFE(n, 6.6, fp.Isotropic()).stress(epl)
    assert ly.n_events[0, 0] == 1
    assert ly.drop[0, 0] == pytest.approx(-ddot(M, ds.mean(axis=0)), rel=1e-9)


def test_probe_does_not_modify_state_and_shapes():
    p = fp.ModelParams(L=6, N=8)
    st = fp.quench(p, np.random.default_rng(3), max_events=100)
    keep = st.copy()
    al = np.linspace(0, np.pi, 5, endpoint=False)
    ly = local_yield(st, p, np.random.default_rng(4), 3, al, stride=2)
    for f in ("tau_i", "tau_c", "dtau_c", "drop", "sigma_vm"):
        assert getattr(ly, f).shape == (9, 5)
    assert np.all(ly.dtau_c >= 0) and np.all(ly.drop > 0)
    assert ly.R == pytest.approx(6.6 * 3 / np.sqrt(np.pi))
    for a in ("stress", "tauc", "theta", "eps_pl"):
        assert np.array_equal(getattr(st, a), getattr(keep, a))
    with pytest.raises(ValueError, match="n .patch side"):
        local_yield(st, p, np.random.default_rng(4), 7, al)
    with pytest.raises(ValueError, match="alphas"):
        local_yield(st, p, np.random.default_rng(4), 2, [])


def test_quench_isotropic_and_stationary_backward_weaker():
    p = fp.ModelParams(L=8, N=12)
    al = np.array([0.0, np.pi / 4, np.pi / 2, 3 * np.pi / 4])
    q, s = [], []
    for seed in range(6):
        rng = np.random.default_rng(seed)
        st = fp.quench(p, rng)
        q.append(local_yield(st, p, rng, 4, al, stride=4).tau_c)
        run = fp.aqs(st, p, rng, gamma_end=0.8, dgamma=1e-3)
        s.append(local_yield(run.state, p, rng, 4, [0.0, np.pi / 2], stride=4).tau_c)
    q = np.concatenate(q)
    means = q.mean(axis=0)
    sem = q.std(axis=0, ddof=1) / np.sqrt(q.shape[0])
    # quench: no orientation dependence within sampling error
    assert np.ptp(means) < 4 * np.sqrt(2) * sem.max()
    s = np.concatenate(s)
    fwd, bwd = s[:, 0].mean(), s[:, 1].mean()
    assert bwd < fwd - 0.1
    assert bwd < 0 < fwd  # negative backward yield stress (seed 004, A.4)


def test_bauschinger_reverse_yields_earlier():
    p = fp.ModelParams(L=8, N=12)
    res = []
    for seed in range(6):
        rng = np.random.default_rng(50 + seed)
        run = fp.aqs(fp.quench(p, rng), p, rng, gamma_end=0.8, dgamma=1e-3)
        b = bauschinger(run.state, p, rng, gamma_reload=0.06, dgamma=1e-3)
        assert abs(b.unloaded.external_stress(0.0)) < 13.2 * 1e-3
        res.append(b)
    avg = ensemble_average(res)
    i = np.searchsorted(avg["gamma"], 0.03)
    # both start near zero stress; the reverse reload softens first
    assert abs(avg["forward"][0]) < 0.05 and abs(avg["reverse"][0]) < 0.05
    assert avg["reverse"][i] < avg["forward"][i] - 2 * (avg["forward_sem"][i]
                                                        + avg["reverse_sem"][i])
    with pytest.raises(ValueError, match="loaded forward"):
        bauschinger(fp.quench(p, np.random.default_rng(0), T=0.0), p, np.random.default_rng(0))


def test_patch_propagator_add_equals_direct_dirichlet_solve(rng):
    from femplastic.weakplane.probes import PatchPropagator

    n = 3
    prop = PatchPropagator(n, 6.6, fp.Isotropic())
    elems = np.array([0, 4, 4, 8])
    deps = rng.normal(size=(4, 3)) * 0.01
    s = np.zeros((n * n, 3))
    prop.add(s, elems, deps)
    epl = np.zeros((n * n, 3))
    np.add.at(epl, elems, deps)
    assert np.allclose(s, PatchFE(n, 6.6, fp.Isotropic()).stress(epl), atol=1e-12)

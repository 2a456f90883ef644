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


def _aqs_state(variant="C", L=8, seed=11, gamma_end=0.4):
    p = fp.ModelParams.for_variant(variant, L=L, N=8)
    rng = np.random.default_rng(seed)
    return p, fp.aqs(fp.quench(p, rng, max_events=300), p, rng, gamma_end=gamma_end,
                     dgamma=1e-3).state


def _record_relax(monkeypatch):
    """Wrap the relax of local_yield: record each test's patch systems as it starts."""
    import importlib

    ly_mod = importlib.import_module("femplastic.weakplane.probes.local_yield")

    seen = []
    real = ly_mod.relax

    def spy(ps, rng, *a, **kw):
        seen.append({k: np.array(getattr(ps, k)) for k in ("theta", "tauc", "nv", "selfres")}
                    | {"Kself": np.array(ps.model.Kself), "G": ps.model.material.per_element(
                        ps.n_elem)[0]})
        return real(ps, rng, *a, **kw)

    monkeypatch.setattr(ly_mod, "relax", spy)
    return seen


STATE_ARRAYS = ("stress", "prestress", "eps_pl", "theta", "tauc", "nv", "selfres",
                "macro_strain", "slips", "sref", "pref", "margin")


@pytest.mark.parametrize("self_response", ["patch", "system"])
def test_every_test_starts_from_the_states_own_systems(monkeypatch, self_response):
    p, st = _aqs_state()
    keep = st.copy()
    seen = _record_relax(monkeypatch)
    n, pos = 3, [(0, 0), (1, 0), (6, 7)]  # overlapping patches and a wrapped one
    al = np.array([0.0, 0.7, np.pi / 2])
    ly = local_yield(st, p, np.random.default_rng(5), n, al, positions=pos,
                     self_response=self_response)
    assert ly.self_response == self_response
    assert int(ly.n_events.sum()) > len(seen)  # the avalanches renewed systems in the copies
    for a in STATE_ARRAYS:  # the input state is untouched
        assert np.array_equal(getattr(st, a), getattr(keep, a)), a
    # an independent patch operator rebuilt from the state: its diagonal blocks
    R = PatchFE(n, 6.6, fp.Isotropic()).response_matrix()
    Kp = np.stack([R[e, :, e, :].T for e in range(n * n)])
    assert len(seen) == len(pos) * al.size
    for j, rec in enumerate(seen):
        idx = patch_indices(8, n, *pos[j // al.size])
        for k in ("theta", "tauc", "nv"):
            assert np.array_equal(rec[k], getattr(st, k)[idx])
        K = Kp if self_response == "patch" else st.model.Kself[idx]
        assert np.allclose(rec["Kself"], K, rtol=1e-10, atol=1e-12)
        M = schmid(st.theta[idx])
        W = np.array([1.0, 1.0, 2.0])  # tensor-Voigt contraction weights
        expect = -np.einsum("eab,ekb,eka,a->ek", K, M, M, W)
        assert np.allclose(rec["selfres"], expect, rtol=1e-10, atol=1e-12)
        if self_response == "system":
            assert np.allclose(rec["selfres"], st.selfres[idx], rtol=1e-12, atol=1e-14)


def test_scan_equals_the_tests_one_by_one_on_the_same_generator():
    p, st = _aqs_state(seed=12)
    al = [0.0, 0.7, np.pi / 2]
    pos = [(0, 0), (2, 5)]
    ly = local_yield(st, p, np.random.default_rng(6), 4, al, positions=pos)
    rng = np.random.default_rng(6)  # consumed in the scan's order: patches, then orientations
    for i, q in enumerate(pos):
        for j, a in enumerate(al):
            one = local_yield(st, p, rng, 4, [a], positions=[q])
            for f in ("tau_c", "drop", "n_events", "gamma_c"):
                assert getattr(one, f)[0, 0] == getattr(ly, f)[i, j], (f, i, j)


def test_local_yield_rejects_an_unknown_self_response():
    p, st = _aqs_state(gamma_end=0.05)
    with pytest.raises(ValueError, match="self_response"):
        local_yield(st, p, np.random.default_rng(0), 2, [0.0], self_response="periodic")


def _skfem_dirichlet_patch_response(n, l, G, B):
    """Independent scikit-fem solve of the held patch: ``R[i, b, j, a]`` as PatchFE's.

    Weak form ``int sigma(u) : eps(v) = int sigma* : eps(v)`` at the quadrature points with
    ``sigma* = C_i : E_b`` in element ``i`` only, boundary displacement zero (``condense``);
    element stress ``C_j : (<eps(u)>_j - E_b delta_ij)``.
    """
    import skfem
    from skfem.helpers import ddot as sddot
    from skfem.helpers import sym_grad, trace

    xs = np.arange(n + 1) * l
    mesh = skfem.MeshQuad.init_tensor(xs, xs)
    c = mesh.p[:, mesh.t].mean(axis=1)
    patch_of_cell = (np.floor(c[1] / l) * n + np.floor(c[0] / l)).astype(int)
    Gc, Bc = np.asarray(G)[patch_of_cell], np.asarray(B)[patch_of_cell]
    basis = skfem.Basis(mesh, skfem.ElementVector(skfem.ElementQuad1()), intorder=2)
    nq = basis.X.shape[-1]
    mu = np.repeat(Gc[:, None], nq, axis=1)
    lam = np.repeat((Bc - Gc)[:, None], nq, axis=1)

    @skfem.BilinearForm
    def stiffness(u, v, w):
        return 2 * w["mu"] * sddot(sym_grad(u), sym_grad(v)) + w["lam"] * trace(
            sym_grad(u)) * trace(sym_grad(v))

    @skfem.LinearForm
    def load(v, w):
        return sddot(w["sig"], sym_grad(v))

    K = stiffness.assemble(basis, mu=mu, lam=lam)
    D = basis.get_dofs().all()
    units = [np.array([[1.0, 0.0], [0.0, 0.0]]), np.array([[0.0, 0.0], [0.0, 1.0]]),
             np.array([[0.0, 1.0], [1.0, 0.0]])]  # Voigt xx, yy, xy (tensor shear)
    m = n * n
    out = np.zeros((m, 3, m, 3))
    for cell in range(m):
        for b, E in enumerate(units):
            eig = np.zeros((2, 2, m))
            eig[:, :, cell] = E
            tr = eig[0, 0] + eig[1, 1]
            sig = 2 * Gc * eig + (Bc - Gc) * tr * np.eye(2)[:, :, None]
            F = load.assemble(basis, sig=np.repeat(sig[..., None], nq, axis=-1))
            u = skfem.solve(*skfem.condense(K, F, D=D))
            du = basis.interpolate(u).grad
            eps = 0.5 * (du + du.transpose(1, 0, 2, 3))
            el = (eps * basis.dx).sum(-1) / basis.dx.sum(-1) - eig
            t = el[0, 0] + el[1, 1]
            stress = np.stack([2 * Gc * el[0, 0] + (Bc - Gc) * t,
                               2 * Gc * el[1, 1] + (Bc - Gc) * t, 2 * Gc * el[0, 1]], axis=1)
            out[patch_of_cell[cell], b, patch_of_cell] = stress
    return out


def test_heterogeneous_patch_operator_equals_a_direct_scikit_fem_solve(rng):
    from femplastic.weakplane.probes import PatchPropagator

    n, l = 3, 6.6
    G = 18.4 * rng.weibull(1.3, n * n) + 1.0
    B = np.full(n * n, 59.0)
    prop = PatchPropagator(n, l, fp.Isotropic(G, B))
    ref = _skfem_dirichlet_patch_response(n, l, G, B)
    assert np.max(np.abs(prop.R - ref)) < 1e-10 * np.max(np.abs(ref))
    # equal moduli: the homogeneous operator
    homo = PatchPropagator(n, l, fp.Isotropic(np.full(n * n, 13.2), B))
    assert np.allclose(homo.R, PatchPropagator(n, l, fp.Isotropic()).R, rtol=0, atol=1e-10)
    assert np.max(np.abs(homo.R - _skfem_dirichlet_patch_response(
        n, l, np.full(n * n, 13.2), B))) < 1e-10 * 13.2


def test_local_yield_with_heterogeneous_moduli_uses_each_patchs_own_moduli(monkeypatch):
    theta0, tau0, g, n, L = 0.2, 0.8, 0.02, 3, 6
    G = 18.4 * np.random.default_rng(4).weibull(1.3, L * L) + 1.0
    mat = fp.Isotropic(G, 59.0)
    p = fp.ModelParams(L=L, N=4, T=0.0)
    law = SlipLaw(N=1, orientation=FixedAngles((theta0,)), threshold=ConstantThreshold(tau0),
                  amplitude=FixedAmplitude(g))
    st = fp.quench(p, np.random.default_rng(0), law=law, material=mat)
    pos = (4, 5)  # wraps in y
    idx = patch_indices(L, n, *pos)
    st.tauc[idx] = 50.0
    st.tauc[idx[4]] = tau0  # only the centre element can slip
    seen = _record_relax(monkeypatch)
    alpha = theta0 + 0.1
    ly = local_yield(st, None, np.random.default_rng(2), n, [alpha], positions=[pos])
    assert np.array_equal(seen[0]["G"], G[idx])
    fe = PatchFE(n, 6.6, fp.Isotropic(G[idx], 59.0))
    # onset: the centre system reaches tau0 under the patch's own (heterogeneous) load response
    v = fe.load_response(alpha)[4]
    rate = ddot(schmid(theta0), v)
    assert ly.gamma_c[0, 0] == pytest.approx(tau0 / rate, rel=1e-9)
    # drop from an independent Dirichlet solve of that patch with the one eigenstrain
    epl = np.zeros((n * n, 3))
    epl[4] = g * schmid(theta0)
    ds = fe.stress(epl)
    assert ly.n_events[0, 0] == 1
    assert ly.drop[0, 0] == pytest.approx(-ddot(schmid(alpha), ds.mean(axis=0)), rel=1e-9)


@pytest.mark.parametrize("self_response", ["patch", "system"])
def test_patch_slip_at_its_bound_dissipates_nothing_only_with_the_patch_self_response(
        self_response):
    """A.7: at the bound the resolved stress reverses, ``tau -> -tau`` (zero energy change)."""
    from femplastic.fe.elasticity import schmid as M_of
    from femplastic.weakplane.drivers.aqs import relax
    from femplastic.weakplane.probes import patch_state
    from femplastic.weakplane.slip import BoundedPowerLaw

    theta0, tau0, n = 0.2, 0.8, 3
    p = fp.ModelParams(L=6, N=4, T=0.0)
    law = SlipLaw(N=1, orientation=FixedAngles((theta0,)), threshold=ConstantThreshold(tau0),
                  amplitude=BoundedPowerLaw(chi=1e-3))  # all the mass at the bound gmax
    st = fp.quench(p, np.random.default_rng(0), law=law)
    idx = patch_indices(6, n, 0, 0)
    st.tauc[idx] = 50.0
    st.tauc[idx[4]] = tau0
    ps = patch_state(st, n, 0, 0, self_response)
    v = ps.model.propagator.load_response(M_of(theta0))
    ps.stress += (tau0 / ddot(M_of(theta0), v[4])) * (1 + 1e-9) * v
    tau_before = ddot(M_of(theta0), ps.stress[4])
    assert relax(ps, np.random.default_rng(0))[0] == 1
    tau_after = ddot(M_of(theta0), ps.stress[4])
    # the patch's own elastic energy change of the slip g M: -A g (tau + tau_after) / 2
    if self_response == "patch":
        assert tau_after == pytest.approx(-tau_before, rel=1e-9)
    else:  # the periodic system's softer self-response overshoots: negative dissipation
        assert tau_after < -tau_before * 1.05

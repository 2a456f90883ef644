"""3D local shear test on cubic patches (issue #26): patch operator, loading tensor, probe.

The patch operator is checked against an independent scikit-fem Dirichlet solve (scikit-fem's
own linear-elasticity form, ``condense`` and quadrature averages), the loading tensor against
the 2D ``schmid`` and rotations, the probe against closed forms (uniform patches, one slipping
element) and the generator rules of the 2D test. Small sizes (patches n <= 3, L = 4).
"""

import dataclasses

import numpy as np
import pytest
import skfem
from skfem.helpers import ddot as skddot
from skfem.helpers import sym_grad
from skfem.models.elasticity import linear_elasticity

import femplastic as fp
from femplastic.fe.elasticity import schmid
from femplastic.fe.elasticity3d import VOIGT_PAIRS_3D, Isotropic3D, ddot3, to_tensor3
from femplastic.fe.patch3d import PatchFE3D, PatchPropagator3D, patch_mesh3d
from femplastic.weakplane.dimension import loading_tensor
from femplastic.weakplane.probes.local_yield3d import (
    _rotation_from_z,
    loading_tensor3d,
    patch_indices3d,
    patch_state3d,
)
from femplastic.weakplane.slip import ConstantThreshold, FixedAmplitude
from femplastic.weakplane.slip3d import SlipLaw3D

P3 = fp.ModelParams(dim=3, L=4, N=8)
MAT = Isotropic3D(G=13.2, K=59.0)
G = 13.2


def _skfem_patch_stress(n, l, mat, epl, E):
    """Independent Dirichlet solve: scikit-fem's elasticity form, condense, quadrature means."""
    mesh = patch_mesh3d(n, l).skmesh
    ib = skfem.Basis(mesh, skfem.ElementVector(skfem.ElementHex1()), intorder=3)
    lam, mu = mat.K - 2 * mat.G / 3, mat.G
    K = skfem.asm(linear_elasticity(lam, mu), ib)
    T = to_tensor3(epl).transpose(1, 2, 0)[..., None]  # (3, 3, n_elem, 1)

    @skfem.LinearForm
    def eig(v, w):
        e = w["ep"]
        tr = e[0, 0] + e[1, 1] + e[2, 2]
        return skddot(2 * mu * e + lam * tr * np.eye(3)[:, :, None, None], sym_grad(v))

    f = skfem.asm(eig, ib, ep=np.broadcast_to(T, (3, 3, T.shape[2], ib.dx.shape[1])))
    x = np.zeros(ib.N)
    Et = to_tensor3(E)
    for a in range(3):
        x[ib.nodal_dofs[a]] = (Et[a] @ ib.doflocs)[ib.nodal_dofs[a]]
    u = skfem.solve(*skfem.condense(K, f, x=x, D=ib.get_dofs().all()))
    g = ib.interpolate(u).grad
    avg = (g * ib.dx).sum(-1) / ib.dx.sum(-1)
    eps = np.stack([0.5 * (avg[a, b] + avg[b, a]) for a, b in VOIGT_PAIRS_3D], axis=1)
    return (eps - epl) @ mat.matrix().T


def test_patch_operator_equals_an_independent_scikit_fem_dirichlet_solve():
    n, l = 3, 1.7
    rng = np.random.default_rng(0)
    epl, E = rng.normal(size=(n**3, 6)), rng.normal(size=6)
    ref = _skfem_patch_stress(n, l, MAT, epl, E)
    scale = np.abs(ref).max()
    prop = PatchPropagator3D(n, l, MAT)
    assert np.abs(prop.stress(epl, E) - ref).max() <= 1e-12 * scale
    # the dense response applied by add (two events at once) plus the affine load
    st = prop.load_response(E).copy()
    prop.add(st, np.arange(n**3), epl)
    assert np.abs(st - ref).max() <= 1e-12 * scale
    # an affine drive of an elastic patch is exactly uniform, C : E
    assert np.allclose(prop.load_response(E), MAT.matrix() @ E, rtol=0, atol=1e-12 * scale)
    # a uniform eigenstrain with the boundary held is fully frustrated
    e0 = rng.normal(size=6)
    assert np.allclose(prop.stress(np.tile(e0, (n**3, 1))), -(MAT.matrix() @ e0), atol=1e-11)


def test_patch_response_is_reciprocal_and_has_the_cube_symmetry():
    n = 3
    prop = PatchPropagator3D(n, 1.0, MAT)
    R = prop.R  # [i, b, j, a]
    w = np.array([1.0, 1, 1, 2, 2, 2])
    # Maxwell-Betti: the interaction energy -V eps_j : R_ij eps_i is a symmetric bilinear
    # form, w_a R[i, b, j, a] = w_b R[j, a, i, b]
    A = R * w[None, None, None, :]
    assert np.allclose(A, A.transpose(2, 3, 0, 1), rtol=0, atol=1e-11 * np.abs(A).max())
    # the rotation taking z to x (a quarter turn about y) maps the cube onto itself: the
    # response to a slip rotates with it (element and tensor components)
    Q = _rotation_from_z(np.array([1.0, 0.0, 0.0]))
    assert np.allclose(Q, np.round(Q)) and np.allclose(Q @ [0, 0, 1], [1, 0, 0])
    c = prop.mesh.centroids
    rc = c @ Q.T
    perm = np.array([np.argmin(np.abs(c - r).sum(1)) for r in rc])  # element of Q c_e
    assert np.allclose(c[perm], rc)
    rng = np.random.default_rng(3)
    src, eig = 5, rng.normal(size=6)
    ds = np.einsum("b,bja->ja", eig, R[src])
    eig_r = fp.fe.elasticity3d.from_tensor3(Q @ to_tensor3(eig) @ Q.T)
    ds_r = np.einsum("b,bja->ja", eig_r, R[perm[src]])
    rot = fp.fe.elasticity3d.from_tensor3(Q @ to_tensor3(ds) @ Q.T)
    assert np.allclose(ds_r[perm], rot, rtol=0, atol=1e-11 * np.abs(ds).max())


def test_loading_tensor_axis_z_is_the_2d_tensor_and_axes_rotate_it():
    al = np.linspace(-1.0, 4.0, 11)
    Mz = loading_tensor3d("z", al)
    m2 = schmid(al)
    assert np.allclose(Mz, np.stack([m2[:, 0], m2[:, 1], 0 * al, 0 * al, 0 * al, m2[:, 2]], 1),
                       rtol=0, atol=1e-15)
    assert all(np.allclose(loading_tensor3d([0, 0, 2.0], a), loading_tensor(3, a),
                           rtol=0, atol=1e-15) for a in al)
    for axis in ("x", "y", [1.0, -2.0, 0.5], [0, 0, -1.0]):
        M = loading_tensor3d(axis, al)
        assert np.allclose(M[:, :3].sum(1), 0, atol=1e-15)  # traceless
        assert np.allclose(ddot3(M, M), 0.5)
        assert np.allclose(loading_tensor3d(axis, al + np.pi / 2), -M, atol=1e-15)
        a = np.asarray(fp.weakplane.probes.local_yield3d.axis_vector(axis))
        assert np.allclose(np.einsum("kij,j->ki", to_tensor3(M), a), 0, atol=1e-15)  # in-plane
        Q = _rotation_from_z(a)
        assert np.allclose(Q @ Q.T, np.eye(3)) and np.linalg.det(Q) == pytest.approx(1.0)
        assert np.allclose(to_tensor3(M), Q @ to_tensor3(Mz) @ Q.T, atol=1e-15)
    # named conventions of the docstring
    assert np.allclose(loading_tensor3d("x", 0.0), [0, 0, 0, -0.5, 0, 0], atol=1e-15)
    assert np.allclose(loading_tensor3d("y", 0.0), [0, 0, 0, 0, -0.5, 0], atol=1e-15)


def test_patch_indices3d_wrap_and_order():
    idx = patch_indices3d(3, 2, 2, 2, 2)
    assert idx.tolist() == [26, 24, 20, 18, 8, 6, 2, 0]
    assert patch_indices3d(4, 4, 0, 0, 0).tolist() == list(range(64))


def _uniform_state(M0, tau0, g):
    """A stress-free 3D state whose systems are all ``M0`` at threshold ``tau0``, slip ``g``."""
    model = fp.build_model(P3)
    law = SlipLaw3D(N=8, threshold=ConstantThreshold(tau0), amplitude=FixedAmplitude(g),
                    renew_orientations=False, renew_thresholds=False)
    model = dataclasses.replace(model, law=law)
    st = fp.State.fresh(model, np.random.default_rng(0))
    st.nv[:] = M0
    st.tauc[:] = tau0
    return st


@pytest.mark.parametrize("axis,alpha", [("x", 0.3), ([1.0, 2.0, -0.5], 1.1)])
def test_uniform_patch_onset_and_drop_are_analytic(axis, alpha):
    tau0, g, n = 0.8, 0.01, 3
    st = _uniform_state(loading_tensor3d(axis, alpha), tau0, g)
    ly = fp.local_yield(st, None, np.random.default_rng(1), n, [alpha], axes=[axis],
                        positions=[(1, 2, 3)])
    # every element reaches tau0 together at gamma = tau0 / G (C : M = 2 G M, M : M = 1/2)
    assert ly.tau_i[0, 0] == pytest.approx(0.0, abs=1e-14)
    assert ly.tau_c[0, 0] == pytest.approx(tau0, rel=1e-9)
    assert ly.gamma_c[0, 0] == pytest.approx(tau0 / G, rel=1e-9)
    # all 27 slip g M at once: uniform eigenstrain, boundary held -> drop = G g
    assert ly.n_events[0, 0] == n**3
    assert ly.drop[0, 0] == pytest.approx(G * g, rel=1e-9)
    assert ly.R == pytest.approx(6.6 * n * (3 / (4 * np.pi)) ** (1 / 3))
    assert np.allclose(ly.axes[0], np.asarray(fp.weakplane.probes.local_yield3d.axis_vector(axis)))


def test_single_slipping_element_drop_matches_a_direct_patch_solve():
    tau0, g, n = 0.8, 0.02, 3
    M0 = loading_tensor3d("y", 0.2)
    st = _uniform_state(M0, tau0, g)
    idx = patch_indices3d(4, n, 0, 0, 0)
    st.tauc[idx] = 50.0
    st.tauc[idx[13]] = tau0  # only the centre element can slip
    alpha = 0.35
    M = loading_tensor3d("y", alpha)
    ly = fp.local_yield(st, None, np.random.default_rng(2), n, [alpha], axes="y",
                        positions=[(0, 0, 0)])
    C = MAT.matrix()
    gc = tau0 / ddot3(M0, C @ M)
    assert ly.gamma_c[0, 0] == pytest.approx(gc, rel=1e-9)
    assert ly.tau_c[0, 0] == pytest.approx(ddot3(M, C @ M) * gc, rel=1e-9)
    epl = np.zeros((n**3, 6))
    epl[13] = g * M0
    ds = PatchFE3D(n, 6.6, MAT).stress(epl)
    assert ly.n_events[0, 0] == 1
    assert ly.drop[0, 0] == pytest.approx(-ddot3(M, ds.mean(axis=0)), rel=1e-9)


@pytest.fixture(scope="module")
def quenched():
    return fp.quench(P3, np.random.default_rng(2), max_events=400)


STATE_ARRAYS = ("stress", "prestress", "eps_pl", "theta", "tauc", "nv", "selfres")


def test_elastic_part_is_linear_in_the_drive_and_the_onset_exact(quenched):
    st = quenched
    keep = st.copy()
    al = np.array([0.0, 0.6, np.pi / 2])
    ly = fp.local_yield(st, P3, np.random.default_rng(4), 2, al, stride=2, axes=["z", "x"])
    assert ly.tau_c.shape == (8, 6) and ly.positions.shape == (8, 3)
    for a in STATE_ARRAYS:  # the probed state is untouched
        assert np.array_equal(getattr(st, a), getattr(keep, a)), a
    # homogeneous patch, affine drive: tau_c - tau_i = G gamma_c (the 1e-12 push aside)
    assert np.allclose(ly.dtau_c, G * ly.gamma_c, rtol=1e-9, atol=1e-12)
    assert np.all(ly.gamma_c > 0) and np.all(ly.n_events >= 1)
    # exact onset: at gamma_c one system of the patch is at threshold, none beyond
    ps = patch_state3d(st, 2, 2, 0, 2)
    M = loading_tensor3d("x", 0.6)
    v = ps.model.propagator.load_response(M)
    col = 4  # axis x, alpha 0.6
    row = [tuple(p) for p in ly.positions.tolist()].index((2, 0, 2))
    gc = ly.gamma_c[row, col]
    w = np.array([1.0, 1, 1, 2, 2, 2])
    dt = ps.tauc - np.einsum("ekc,ec->ek", ps.nv, (ps.stress + gc * v) * w)
    assert dt.min() == pytest.approx(0.0, abs=1e-10)
    # the system choice of K_self changes nothing before the first slip
    ly_s = fp.local_yield(st, P3, np.random.default_rng(4), 2, al, stride=2, axes=["z", "x"],
                          self_response="system")
    for f in ("tau_i", "tau_c", "dtau_c", "gamma_c", "sigma_vm"):
        assert np.array_equal(getattr(ly_s, f), getattr(ly, f)), f


def test_scan_equals_the_tests_one_by_one_on_the_same_generator(quenched):
    st = quenched
    al = [0.0, 0.7]
    pos = [(0, 0, 0), (3, 1, 2)]
    ly = fp.local_yield(st, P3, np.random.default_rng(6), 3, al, positions=pos, axes=["y", "z"])
    rng = np.random.default_rng(6)  # patches, then axes, then angles
    for i, q in enumerate(pos):
        for j, (ax, a) in enumerate([(x, a) for x in ("y", "z") for a in al]):
            one = fp.local_yield(st, P3, rng, 3, [a], positions=[q], axes=ax)
            for f in ("tau_c", "drop", "n_events", "gamma_c"):
                assert getattr(one, f)[0, 0] == getattr(ly, f)[i, j], (f, i, j)


def test_bad_3d_and_2d_arguments_are_refused(quenched):
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="positions"):
        fp.local_yield(quenched, P3, rng, 2, [0.0], positions=[(0, 0)])
    with pytest.raises(ValueError, match="axis"):
        fp.local_yield(quenched, P3, rng, 2, [0.0], axes=["w"])
    with pytest.raises(ValueError, match="n .patch side"):
        fp.local_yield(quenched, P3, rng, 5, [0.0])
    p2 = fp.ModelParams(L=4, N=4, T=0.0)
    st2 = fp.State.fresh(fp.build_model(p2), rng)
    with pytest.raises(ValueError, match="axes is for 3D"):
        fp.local_yield(st2, p2, rng, 2, [0.0], axes=["z"])

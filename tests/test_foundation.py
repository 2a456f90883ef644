"""Mesh, elasticity, FE solves and propagators: physics checks against independent solves."""

import numpy as np
import pytest

from femplastic.fe import assembly as fem
from femplastic.fe import mesh
from femplastic.fe.elasticity import Isotropic, ddot, schmid, to_tensor, von_mises
from femplastic.fe.propagators import (
    DensePropagator,
    PeriodicKernel,
    SparsePropagator,
    fold_kernel,
    make_propagator,
)

MAT = Isotropic()


# ---------------------------------------------------------------- elasticity / Voigt
def test_isotropic_matrix_is_2G_dev_plus_B_tr():
    C = MAT.matrix()
    eps = np.array([0.3, -0.1, 0.2])
    t = to_tensor(eps)
    expected = 2 * 13.2 * (t - 0.5 * np.trace(t) * np.eye(2)) + 59.0 * np.trace(t) * np.eye(2)
    assert np.allclose(to_tensor(C @ eps), expected)


def test_schmid_resolves_simple_shear_and_rotates():
    sigma = np.array([0.0, 0.0, 1.0])  # pure xy shear
    assert ddot(schmid(0.0), sigma) == pytest.approx(1.0)
    assert ddot(schmid(np.pi / 2), sigma) == pytest.approx(-1.0)
    assert ddot(schmid(np.pi / 4), sigma) == pytest.approx(0.0, abs=1e-15)
    # M : M = 1/2 for every angle (unit-norm shear direction)
    th = np.linspace(-np.pi / 2, np.pi / 2, 7)
    assert np.allclose(ddot(schmid(th), schmid(th)), 0.5)
    assert np.allclose(von_mises(2 * schmid(th)), 1.0)


@pytest.mark.parametrize("G,B", [(0.0, 59.0), (-1.0, 59.0), (13.2, 0.0), (13.2, -5.0),
                                 (np.nan, 59.0), (13.2, np.inf)])
def test_unstable_or_invalid_material_rejected(G, B):
    with pytest.raises(ValueError, match="G|B"):
        Isotropic(G, B)


# ---------------------------------------------------------------- meshes
@pytest.mark.parametrize("L,l", [(0, 1.0), (1, 1.0), (-3, 1.0), (2.5, 1.0), (4, 0.0),
                                 (4, -1.0), (4, np.nan)])
def test_grid_bad_input(L, l):
    with pytest.raises(ValueError, match="L|l"):
        mesh.periodic_grid(L, l)


def test_grid_numbering_row_major_x_fastest():
    m = mesh.periodic_grid(5, l=2.0)
    c = m.centroids
    e = 3 * 5 + 2  # iy = 3, ix = 2
    assert np.allclose(c[e], [2 * 2.0 + 1.0, 3 * 2.0 + 1.0])
    assert np.allclose(m.areas, 4.0)


def test_nonperiodic_mesh_used_as_periodic_is_rejected(meshes_dir):
    with pytest.raises(ValueError, match="not periodic along x"):
        mesh.load(meshes_dir / "not_periodic.vtu", periodic=True)
    m = mesh.load(meshes_dir / "not_periodic.vtu")  # fine when not asked to be periodic
    with pytest.raises(ValueError, match="periodic"):
        make_propagator(m, MAT)


def test_load_missing_file():
    with pytest.raises(ValueError, match="does not exist"):
        mesh.load("no/such/mesh.msh")


# ---------------------------------------------------------------- FE patch tests
@pytest.mark.parametrize("name", ["perturbed_periodic.vtu", "graded_periodic.msh"])
def test_patch_test_affine_and_uniform_eigenstrain(meshes_dir, name):
    m = mesh.load(meshes_dir / name, periodic=True)
    fe = fem.PeriodicFE(m, MAT)
    n = m.n_elem
    E = np.array([0.01, -0.02, 0.015])
    # affine macro strain, no plastic strain -> uniform strain E in every element
    assert np.allclose(fe.element_strain(np.zeros((n, 3)), E), E[None, :], atol=1e-13)
    # uniform eigenstrain, zero mean strain -> sigma = -C : eps_pl everywhere
    epl = np.array([0.3, -0.1, 0.25])
    s = fe.element_stress(np.tile(epl, (n, 1)))
    assert np.allclose(s, -(MAT.matrix() @ epl)[None, :], atol=1e-11)


def test_dirichlet_patch_affine_boundary_gives_uniform_strain():
    p = fem.PatchFE(4, 1.5, MAT)
    E = np.array([0.0, 0.0, 0.02])
    s = p.stress(np.zeros((16, 3)), E)
    assert np.allclose(s, (MAT.matrix() @ E)[None, :], atol=1e-12)
    assert np.allclose(p.load_response(0.0), MAT.matrix() @ schmid(0.0), atol=1e-12)
    # reciprocity (symmetric energy Hessian): W_a R[i,b,j,a] = W_b R[j,a,i,b]
    R = p.response_matrix()
    W = np.array([1.0, 1.0, 2.0])
    H = R * W[None, None, None, :]
    assert np.allclose(H, H.transpose(2, 3, 0, 1), atol=1e-10)


# ---------------------------------------------------------------- propagators
@pytest.mark.parametrize("L,l", [(2, 1.0), (3, 6.6), (7, 1.0), (8, 2.5), (15, 6.6)])
def test_periodic_kernel_equals_sparse_solve(L, l, rng):
    m = mesh.periodic_grid(L, l)
    pk = PeriodicKernel(m, MAT)
    n = L * L
    epl = rng.normal(size=(n, 3))
    E = rng.normal(size=3) * 0.1
    s0 = rng.normal(size=(n, 3))
    ref = fem.element_stress(m, MAT, epl, E, prestress=s0)
    got = pk.stress(epl, E, prestress=s0)
    assert np.max(np.abs(got - ref)) <= 1e-10 * np.max(np.abs(ref))
    # incremental updates: shifted adds (few events) and FFT batches (many events)
    for k in (3, 40):
        elems = rng.integers(n, size=k)
        deps = rng.normal(size=(k, 3))
        a = np.zeros((n, 3))
        b = np.zeros((n, 3))
        pk.add(a, elems, deps)
        field = np.zeros((n, 3))
        np.add.at(field, elems, deps)
        b += fem.element_stress(m, MAT, field)
        assert np.max(np.abs(a - b)) <= 1e-10 * np.max(np.abs(b))


@pytest.mark.parametrize("L,l", [(2, 1.0), (5, 1.0), (6, 3.3)])
def test_folded_shifted_add_every_source_slip_and_dilatant(L, l, rng):
    """The mirror-folded update, from every source element (every x and y shift, both wraps),
    for slip (traceless: two planes) and dilatant (three planes) increments, against one
    sparse FE solve per event."""
    m = mesh.periodic_grid(L, l)
    pk = PeriodicKernel(m, MAT)
    sp = SparsePropagator(m, MAT)
    n = L * L
    for e in range(n):
        slip = 0.3 * schmid(rng.uniform(0.0, np.pi))
        assert slip[0] + slip[1] == 0.0  # traceless exactly: the two-plane path
        for d in (slip, rng.normal(size=3)):
            a = np.zeros((n, 3))
            b = np.zeros((n, 3))
            pk.add(a, [e], [d])
            sp.add(b, [e], [d])
            assert np.max(np.abs(a - b)) <= 1e-10 * np.max(np.abs(b))


def test_fold_kernel_rejects_a_kernel_without_mirror_symmetry(rng):
    L = 6
    G = PeriodicKernel(mesh.periodic_grid(L), MAT).G.copy()
    fold_kernel(G, L)  # the real kernel folds
    G[L + 2, 2, 0] += 1e-6 * np.abs(G).max()  # break G(rx, -ry) = s G(rx, ry) s
    with pytest.raises(ValueError, match="mirror symmetric"):
        fold_kernel(G, L)


def test_kernel_translation_invariance_zero_mean_and_betti(rng):
    L = 9
    m = mesh.periodic_grid(L, 1.0)
    pk = PeriodicKernel(m, MAT)
    n = L * L
    d = rng.normal(size=3)
    s_a = np.zeros((n, 3))
    pk.add(s_a, [0], [d])
    s_b = np.zeros((n, 3))
    e = 4 * L + 6  # shift by (6, 4)
    pk.add(s_b, [e], [d])
    shifted = np.roll(s_a.reshape(L, L, 3), (4, 6), axis=(0, 1)).reshape(n, 3)
    assert np.allclose(s_b, shifted, atol=1e-12)
    # fluctuation stress has zero element average; the mean is -C : <eps_pl>
    assert np.allclose(s_a.mean(axis=0), -(MAT.matrix() @ d) / n, atol=1e-12)
    # Betti: (response at j to eig a at i) : b == (response at i to eig b at j) : a
    a, b = rng.normal(size=3), rng.normal(size=3)
    i, j = 5, 40
    si = np.zeros((n, 3))
    pk.add(si, [i], [a])
    sj = np.zeros((n, 3))
    pk.add(sj, [j], [b])
    assert ddot(si[j], b) == pytest.approx(ddot(sj[i], a), rel=1e-10)


def test_eshelby_tensor_gives_self_response():
    m = mesh.periodic_grid(6, 6.6)
    S = fem.eshelby_tensor(m, MAT, element=7)
    pk = PeriodicKernel(m, MAT)
    C = MAT.matrix()
    assert np.allclose(C @ (S - np.eye(3)), pk.self_response[7], atol=1e-10)
    # self response resolves negatively on every shear direction (A.7): slips relax stress
    th = np.linspace(-np.pi / 2, np.pi / 2, 13)
    M = schmid(th)
    res = ddot(np.einsum("ab,kb->ka", pk.self_response[0], M), M)
    assert np.all(res < 0)


@pytest.mark.parametrize("name", ["regular_8x8.vtu"])
def test_custom_mesh_same_geometry_same_answer(meshes_dir, name, rng):
    custom = mesh.load(meshes_dir / name, periodic=True)
    grid = mesh.periodic_grid(8, 2.0)
    # map custom elements onto grid elements through their centroids
    cc = custom.centroids
    ix = np.floor(cc[:, 0] / 2.0).astype(int)
    iy = np.floor(cc[:, 1] / 2.0).astype(int)
    to_grid = iy * 8 + ix
    assert np.array_equal(np.sort(to_grid), np.arange(64))
    epl_grid = rng.normal(size=(64, 3))
    E = np.array([0.0, 0.0, 0.1])
    s_grid = PeriodicKernel(grid, MAT).stress(epl_grid, E)
    prop = make_propagator(custom, MAT)
    assert not isinstance(prop, PeriodicKernel)
    s_custom = prop.stress(epl_grid[to_grid], E)
    assert np.allclose(s_custom, s_grid[to_grid], atol=1e-10)
    # and the custom path's increments and self-responses match too
    a = np.zeros((64, 3))
    prop.add(a, [3], [[0.1, -0.1, 0.2]])
    b = np.zeros((64, 3))
    PeriodicKernel(grid, MAT).add(b, [to_grid[3]], [[0.1, -0.1, 0.2]])
    assert np.allclose(a, b[to_grid], atol=1e-12)
    assert np.allclose(prop.self_response, PeriodicKernel(grid, MAT).self_response[to_grid])


def test_heterogeneous_dense_equals_sparse(rng):
    m = mesh.periodic_grid(5, 1.0)
    mat = Isotropic(G=rng.uniform(8, 20, size=25), B=59.0)
    with pytest.raises(ValueError, match="homogeneous"):
        PeriodicKernel(m, mat)
    dp = make_propagator(m, mat)
    assert isinstance(dp, DensePropagator)
    sp = SparsePropagator(m, mat)
    elems = np.array([0, 7, 7, 20])
    deps = rng.normal(size=(4, 3))
    a = np.zeros((25, 3))
    b = np.zeros((25, 3))
    dp.add(a, elems, deps)
    sp.add(b, elems, deps)
    assert np.allclose(a, b, atol=1e-12)
    assert np.allclose(dp.self_response, sp.self_response, atol=1e-12)
    # heterogeneity matters: self responses differ between soft and stiff elements
    assert np.ptp(dp.self_response[:, 2, 2]) > 1.0


@pytest.mark.parametrize(
    "bad,match",
    [
        (np.zeros((5, 3)), r"eps_pl must have shape \(16, 3\)"),
        (np.full((16, 3), np.nan), "eps_pl contains NaN"),
    ],
)
def test_fe_bad_fields(bad, match):
    m = mesh.periodic_grid(4)
    with pytest.raises(ValueError, match=match):
        fem.element_stress(m, MAT, bad)
    with pytest.raises(ValueError, match=match):
        PeriodicKernel(m, MAT).stress(bad)


def test_fe_bad_macro_and_material_size():
    m = mesh.periodic_grid(4)
    with pytest.raises(ValueError, match="macro_strain"):
        fem.element_stress(m, MAT, np.zeros((16, 3)), macro_strain=(0, 1))
    with pytest.raises(ValueError, match="per-element moduli for 3 elements"):
        fem.PeriodicFE(m, Isotropic(G=[1.0, 2.0, 3.0]))


def test_add_refuses_a_stress_it_could_only_update_as_a_copy(rng):
    """A non-contiguous view would be reshaped into a copy and the update silently lost."""
    m = mesh.periodic_grid(4)
    big = np.zeros((16, 6))
    for prop in (PeriodicKernel(m, MAT), DensePropagator(m, MAT)):
        with pytest.raises(ValueError, match="C-contiguous float64"):
            prop.add(big[:, :3], [0], [[0.1, -0.1, 0.2]])
        with pytest.raises(ValueError, match=r"shape \(16, 3\)"):
            prop.add(np.zeros((15, 3)), [0], [[0.1, -0.1, 0.2]])
        ok = np.zeros((16, 3))
        prop.add(ok, [0], [[0.1, -0.1, 0.2]])
        assert np.abs(ok).max() > 0

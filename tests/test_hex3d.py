"""3D FE core (#26): tri-periodic Hex8 meshes, the sparse periodic solve and the exact L^3 kernel.

The kernel is checked against a scikit-fem periodic solve written here from scikit-fem's own
pieces (its periodic ``init_tensor``, its ``linear_elasticity`` model, its interpolation),
against the analytic homogeneous response, and for the symmetries of the cubic grid.
"""

from __future__ import annotations

import numpy as np
import pytest
import skfem
from skfem.helpers import ddot, sym_grad
from skfem.models.elasticity import linear_elasticity

from femplastic.fe.assembly3d import PeriodicFE3D, eshelby_tensor3d
from femplastic.fe.elasticity3d import (
    VOIGT_WEIGHTS_3D,
    Isotropic3D,
    ddot3,
    equivalent_shear3,
    from_tensor3,
    pressure3,
    schmid3,
    to_tensor3,
)
from femplastic.fe.mesh3d import hex_from_arrays, load_hex, periodic_grid3d
from femplastic.fe.propagators.kernels3d import apply_form3d, shifted_add3d
from femplastic.fe.propagators.periodic3d import (
    AXIS_PERMUTATIONS_3D,
    MIRROR_SIGNS_3D,
    PeriodicKernel3D,
)

MAT = Isotropic3D(G=13.2, K=59.0)


def _skfem_stress(L: int, l: float, mat: Isotropic3D, eps_pl: np.ndarray, E: np.ndarray):
    """Element-averaged stress of a tri-periodic Hex8 cell, from scikit-fem's own pieces."""
    x = np.linspace(0.0, L * l, L + 1)
    m = skfem.MeshHex1DG.init_tensor(x, x, x, periodic=[0, 1, 2])
    basis = skfem.Basis(m, skfem.ElementVector(skfem.ElementHex1()), intorder=2)
    lam = mat.K - 2.0 * mat.G / 3.0
    A = skfem.asm(linear_elasticity(lam, mat.G), basis)
    X = basis.mapping.F(basis.X)  # (3, n_elem, nqp)
    idx = np.floor(X.mean(axis=-1) / l).astype(int)  # (3, n_elem): ix, iy, iz
    order = (idx[2] * L + idx[1]) * L + idx[0]  # femplastic index of each skfem element
    epl_t = to_tensor3(eps_pl[order] - E[None, :])  # (n_elem, 3, 3)
    nqp = X.shape[-1]
    ep = np.repeat(np.moveaxis(epl_t, 0, -1)[..., None], nqp, axis=-1)  # (3, 3, n_elem, nqp)

    @skfem.LinearForm
    def rhs(v, w):
        e = w["ep"]
        tr = e[0, 0] + e[1, 1] + e[2, 2]
        sig = 2.0 * mat.G * e + lam * tr * np.eye(3)[:, :, None, None]
        return ddot(sig, sym_grad(v))

    f = skfem.asm(rhs, basis, ep=ep)
    u = skfem.solve(*skfem.condense(A, f, D=basis.nodal_dofs[:, 0]))
    grad = basis.interpolate(u).grad
    eps = 0.5 * (grad + np.swapaxes(grad, 0, 1))
    avg = (eps * basis.dx).sum(axis=-1) / basis.dx.sum(axis=-1)  # (3, 3, n_elem)
    strain = from_tensor3(np.moveaxis(avg, -1, 0)) + E[None, :] - eps_pl[order]
    out = np.empty_like(strain)
    out[order] = strain @ mat.matrix().T
    return out


@pytest.mark.parametrize("L", [4, 5, 6])
def test_kernel_equals_independent_skfem_periodic_solve(L):
    rng = np.random.default_rng(L)
    l = 1.7
    kern = PeriodicKernel3D(periodic_grid3d(L, l), MAT)
    eps_pl = rng.normal(size=(L**3, 6)) * 0.01
    E = rng.normal(size=6) * 0.01
    ref = _skfem_stress(L, l, MAT, eps_pl, E)
    scale = np.abs(ref).max()
    assert np.abs(kern.stress(eps_pl, E) - ref).max() <= 1e-12 * scale
    # the library's own sparse path agrees too, and so does the unit response
    fe = PeriodicFE3D(periodic_grid3d(L, l), MAT)
    assert np.abs(fe.element_stress(eps_pl, E) - ref).max() <= 1e-12 * scale
    R = fe.unit_responses([0])[0]  # (b, j, a)
    assert np.abs(R.transpose(1, 2, 0) - kern.G).max() <= 1e-12 * np.abs(kern.G).max()


def test_uniform_eigenstrain_gives_the_homogeneous_response():
    L = 5
    kern = PeriodicKernel3D((L, 1.0), MAT)
    fe = PeriodicFE3D(periodic_grid3d(L, 1.0), MAT)
    rng = np.random.default_rng(3)
    epl = rng.normal(size=6) * 0.01
    E = rng.normal(size=6) * 0.01
    C = MAT.matrix()
    want = C @ (E - epl)
    field = np.tile(epl, (L**3, 1))
    for s in (kern.stress(field, E), fe.element_stress(field, E)):
        assert np.abs(s - want).max() <= 1e-12 * np.abs(want).max()
    assert np.allclose(kern.G.sum(axis=0), -C, rtol=0, atol=1e-12 * C.max())
    # C in the stated convention: sigma_xy = 2 G eps_xy, K the bulk modulus
    assert np.allclose(C @ [0, 0, 0, 0, 0, 0.01], [0, 0, 0, 0, 0, 2 * MAT.G * 0.01])
    assert np.isclose(pressure3(C @ [0.01, 0.01, 0.01, 0, 0, 0]), -3 * MAT.K * 0.01)


def test_kernel_symmetries_of_the_cubic_grid():
    L = 5
    G5 = PeriodicKernel3D((L, 1.3), MAT).G.reshape(L, L, L, 6, 6)  # [rz, ry, rx, a, b]
    tol = 1e-12 * np.abs(G5).max()
    mirror = (L - np.arange(L)) % L
    for axis, s in zip((2, 1, 0), MIRROR_SIGNS_3D, strict=True):  # x, y, z mirrors
        flipped = np.take(G5, mirror, axis=axis)
        assert np.abs(flipped - s[:, None] * s[None, :] * G5).max() <= tol
    for (i, j), perm in AXIS_PERMUTATIONS_3D.items():  # axis swaps of the cube
        axes = [2, 1, 0]  # array axis of x, y, z
        order = [0, 1, 2]
        order[axes[i]], order[axes[j]] = axes[j], axes[i]
        swapped = np.transpose(G5, order + [3, 4])
        assert np.abs(swapped[..., perm][..., perm, :] - G5).max() <= tol
    # reciprocity (Maxwell-Betti): W G(r) = (W G(-r))^T
    neg = G5[mirror][:, mirror][:, :, mirror]
    WG = VOIGT_WEIGHTS_3D[:, None] * G5
    assert np.abs(WG - np.swapaxes(VOIGT_WEIGHTS_3D[:, None] * neg, -1, -2)).max() <= tol


@pytest.mark.parametrize("L", [5, 6])
def test_numba_shifted_add_equals_the_kernel(L):
    kern = PeriodicKernel3D((L, 1.0), MAT)
    rng = np.random.default_rng(L)
    for traceless in (True, False):
        d = rng.normal(size=6)
        if traceless:  # exactly: the volumetric plane is skipped
            d[2] = -(d[0] + d[1])
        for e in (0, L**3 - 1, int(rng.integers(L**3))):
            field = np.zeros((L**3, 6))
            field[e] = d
            want = kern.stress(field)
            ser = np.zeros((L**3, 6))
            par = np.zeros((L**3, 6))
            shifted_add3d(ser.reshape(-1), kern.K.reshape(-1), L, e, d, False)
            shifted_add3d(par.reshape(-1), kern.K.reshape(-1), L, e, d, True)
            assert np.array_equal(ser, par)  # threaded form: same bits
            assert np.abs(ser - want).max() <= 1e-12 * np.abs(want).max()
    for k in (3, 30):  # numba shifted adds (repeats add up), and one FFT for a big batch
        elems = rng.integers(0, L**3, k)
        elems[1] = elems[0]
        deps = rng.normal(size=(k, 6))
        field = np.zeros((L**3, 6))
        np.add.at(field, elems, deps)
        s = np.zeros((L**3, 6))
        kern.add(s, elems, deps)
        want = kern.stress(field)
        assert np.abs(s - want).max() <= 1e-12 * np.abs(want).max()
    Kf, LL = kern.numba_form()  # the drivers' form: events applied in order
    s = np.zeros((L**3, 6))
    apply_form3d(Kf, LL, s, 3, elems, deps, False)  # the first 3 of the last batch
    field = np.zeros((L**3, 6))
    np.add.at(field, elems[:3], deps[:3])
    assert np.abs(s - kern.stress(field)).max() <= 1e-12 * np.abs(s).max()
    with pytest.raises(ValueError, match="stress must be"):
        kern.add(np.zeros((L**3, 3)), [0], np.zeros(6))
    with pytest.raises(ValueError, match="elems must be"):
        kern.add(s, [L**3], np.zeros(6))


def test_voigt_helpers_and_schmid():
    v = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    assert np.allclose(from_tensor3(to_tensor3(v)), v)
    a, b = np.random.default_rng(0).normal(size=(2, 6))
    assert np.isclose(ddot3(a, b), np.sum(to_tensor3(a) * to_tensor3(b)))
    n = np.array([0.0, 0.6, 0.8])
    s = np.array([1.0, 0.0, 0.0])
    M = schmid3(n, s)
    assert np.allclose(to_tensor3(M), 0.5 * (np.outer(n, s) + np.outer(s, n)))
    assert np.isclose(ddot3(M, M), 0.5) and np.isclose(M[:3].sum(), 0.0)
    assert np.isclose(equivalent_shear3([0.2, 0.2, 0.2, 0, 0, 0]), 0.0)
    with pytest.raises(ValueError, match="G must be"):
        Isotropic3D(G=-1.0)
    with pytest.raises(TypeError, match="K must be a number"):
        Isotropic3D(K="59")


def test_custom_periodic_hex_mesh_through_meshio(tmp_path):
    """A perturbed periodic hex mesh written and read by meshio: patch test + periodicity."""
    meshio = pytest.importorskip("meshio")
    L, l = 3, 1.0
    grid = periodic_grid3d(L, l)
    rng = np.random.default_rng(7)
    nodes = grid.nodes.copy()
    inner = np.all((nodes > 1e-9) & (nodes < L * l - 1e-9), axis=1)
    nodes[inner] += rng.uniform(-0.15, 0.15, size=(int(inner.sum()), 3))
    path = tmp_path / "hex.vtu"
    meshio.write(path, meshio.Mesh(nodes, [("hexahedron", grid.cells)]))
    mesh = load_hex(path, periodic=True)
    assert mesh.periodic and mesh.n_elem == L**3
    assert np.isclose(mesh.volumes.sum(), (L * l) ** 3)
    fe = PeriodicFE3D(mesh, MAT)
    E = rng.normal(size=6) * 0.01
    s = fe.element_stress(np.zeros((L**3, 6)), E)  # affine field is exact: uniform stress
    assert np.abs(s - MAT.matrix() @ E).max() <= 1e-10 * np.abs(s).max()
    epl = rng.normal(size=(L**3, 6)) * 0.01  # volume average of stress = C (E - <eps_pl>)
    s = fe.element_stress(epl, E)
    w = fe.volumes / fe.volumes.sum()
    assert np.allclose(w @ s, MAT.matrix() @ (E - w @ epl), atol=1e-12)
    # an inverted cell is reoriented, a broken face refused with its node named
    inv = grid.cells.copy()
    inv[0] = inv[0][[4, 5, 6, 7, 0, 1, 2, 3]]
    assert np.all(hex_from_arrays(grid.nodes, inv).volumes > 0)
    bad = nodes.copy()
    bad[np.argmax(bad[:, 0] + 0.01 * bad[:, 1] + 1e-4 * bad[:, 2])] += [0.0, 0.3, 0.0]
    with pytest.raises(ValueError, match="not periodic along"):
        hex_from_arrays(bad, grid.cells, periodic=True)
    with pytest.raises(ValueError, match="no hexahedral"):
        meshio.write(tmp_path / "tet.vtu",
                     meshio.Mesh(nodes[:4], [("tetra", np.array([[0, 1, 2, 3]]))]))
        load_hex(tmp_path / "tet.vtu")


def test_eshelby_and_grid_validation():
    fe = PeriodicFE3D(periodic_grid3d(3, 1.0), MAT)
    S = eshelby_tensor3d(fe, 4)
    assert np.allclose(S, S[[1, 2, 0, 4, 5, 3]][:, [1, 2, 0, 4, 5, 3]])  # cubic symmetry
    kern = PeriodicKernel3D((3, 1.0), MAT)
    assert np.allclose(MAT.matrix() @ (S - np.eye(6)), kern.G[0], atol=1e-12)
    with pytest.raises(ValueError, match="L must be an integer >= 3"):
        periodic_grid3d(2)
    with pytest.raises(ValueError, match="L must be an integer >= 2"):
        PeriodicKernel3D((1, 1.0), MAT)


def test_folded_periodic_hex_mesh_is_refused_like_a_folded_quad_mesh():
    """The shared mesh core checks that a periodic mesh's cells tile its box in 3D as in 2D.

    Pushing the node plane x = 1 past x = 2 inverts the layer of cells between them; they are
    reoriented, so the volumes sum to 9 (2.5 + 0.5 + 1) = 36, not the box's 27 (a fold).
    """
    grid = periodic_grid3d(3, 1.0)
    folded = grid.nodes.copy()
    folded[folded[:, 0] == 1.0, 0] = 2.5  # both y and z faces keep their partners
    with pytest.raises(ValueError, match="overlap or leave gaps"):
        hex_from_arrays(folded, grid.cells, periodic=True)
    assert hex_from_arrays(folded, grid.cells).n_elem == 27  # non-periodic: no box to tile

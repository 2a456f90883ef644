"""The local shear test on general meshes: patches cut by element centroids (mesh_patch)."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

import femplastic as fp
from femplastic.fe.assembly import PatchFE
from femplastic.fe.elasticity import Isotropic, schmid
from femplastic.weakplane.probes.local_yield import local_yield, mesh_patch, patch_indices

MESHES = Path(__file__).resolve().parents[1] / "meshes"
UNSTRUCTURED = MESHES / "unstructured_periodic.vtu"


def _as_mesh(state):
    """The same state on its grid loaded as a general mesh (no grid fast path)."""
    g = state.model.mesh
    mm = fp.mesh.from_arrays(g.nodes, g.cells, periodic=True)
    assert mm.grid is None
    return dataclasses.replace(state, model=dataclasses.replace(state.model, mesh=mm))


def test_variant_a_mesh_patches_carry_their_own_moduli_as_on_the_grid():
    p = fp.ModelParams.for_variant("A", L=8).replace(N=8, T=0.0)
    st = fp.quench(p, np.random.default_rng(3))
    a = local_yield(st, p, np.random.default_rng(4), 4, [0.0, 1.0], positions=[[6, 5], [1, 2]])
    b = local_yield(_as_mesh(st), p, np.random.default_rng(4), 4, [0.0, 1.0],
                    positions=[[6, 5], [1, 2]])
    np.testing.assert_allclose(b.tau_c, a.tau_c, rtol=0, atol=1e-12)
    np.testing.assert_allclose(b.drop, a.drop, rtol=0, atol=1e-12)
    assert np.array_equal(a.n_events, b.n_events)


def test_mesh_patches_of_a_grid_are_its_blocks_and_give_the_grid_results():
    p = fp.ModelParams(L=8, N=8, T=0.0)
    st = fp.quench(p, np.random.default_rng(0))
    sm = _as_mesh(st)
    for n, (ix0, iy0) in ((3, (7, 7)), (3, (6, 1)), (8, (0, 0)), (1, (2, 5))):
        idx, nodes, cells = mesh_patch(sm.model.mesh, n, ix0, iy0)
        assert idx.tolist() == patch_indices(8, n, ix0, iy0).tolist()  # same order too
        assert nodes.shape == ((n + 1) ** 2, 2)  # periodic partners merged
    alphas = np.pi * np.arange(4) / 4
    for n, kw in ((3, {"positions": [[7, 7], [6, 1], [0, 5]]}), (8, {"stride": 4})):
        a = local_yield(st, p, np.random.default_rng(5), n, alphas, **kw)
        b = local_yield(sm, p, np.random.default_rng(5), n, alphas, **kw)
        for f in ("tau_i", "tau_c", "dtau_c", "drop", "gamma_c", "sigma_vm"):
            np.testing.assert_allclose(getattr(b, f), getattr(a, f), rtol=0, atol=1e-12)
        assert np.array_equal(a.n_events, b.n_events) and a.R == b.R
        assert np.all(b.patch_elements == n * n)


@pytest.mark.parametrize("name", ["unstructured_periodic.vtu", "unstructured_isotropic.vtu"])
def test_unstructured_patches_are_squares_of_elements_with_an_exact_affine_elastic_response(name):
    mesh = fp.mesh.load(MESHES / name, periodic=True)
    L = round(np.sqrt(mesh.n_elem))
    h = mesh.size / L
    mat = Isotropic(2.0, 5.0)
    seen = set()
    for ix0, iy0 in ((0, 0), (L - 2, L - 3), (5, 9), (L - 1, 3)):  # corners and sides wrap
        idx, nodes, cells = mesh_patch(mesh, 4, ix0, iy0)
        seen.update(idx.tolist())
        assert idx.size == np.unique(idx).size
        # the same elements, unwrapped: areas kept, centroids inside the square
        pm = fp.mesh.from_arrays(nodes, cells)
        np.testing.assert_allclose(pm.areas, mesh.areas[idx], rtol=1e-12)
        assert np.all(np.abs(pm.centroids) <= 2 * h + 1e-9)
        # one piece, no crack, no hole: V - E + F = 1 (edges shared by two cells merged)
        e = np.sort(np.stack([cells, np.roll(cells, -1, axis=1)], -1).reshape(-1, 2), axis=1)
        assert nodes.shape[0] - np.unique(e, axis=0).shape[0] + cells.shape[0] == 1
        # homogeneous elastic patch driven affinely: uniform C E in every element, linear
        fe = PatchFE(4, float(h.mean()), mat, nodes=nodes, cells=cells)
        E = np.array([0.01, -0.02, 0.015])
        s = fe.stress(np.zeros((idx.size, 3)), E)
        C = mat.matrix()
        np.testing.assert_allclose(s, np.tile(C @ E, (idx.size, 1)), rtol=0, atol=1e-12)
        v = fe.load_response(0.3)
        np.testing.assert_allclose(v, np.tile(C @ schmid(0.3), (idx.size, 1)), atol=1e-12)
    assert len(seen) > 40


def test_local_yield_runs_on_an_unstructured_mesh():
    p = fp.ModelParams(L=16, N=8, T=0.0)
    st = fp.quench(p, np.random.default_rng(1), mesh=fp.mesh.load(UNSTRUCTURED, periodic=True))
    ly = local_yield(st, p, np.random.default_rng(2), 4, [0.0, np.pi / 2], stride=8)
    assert ly.tau_c.shape == (4, 2) and np.all(ly.dtau_c >= 0) and np.all(ly.n_events >= 1)
    assert np.all(np.abs(ly.patch_elements - 16) <= 8)

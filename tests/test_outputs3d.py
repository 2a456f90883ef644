"""3D outputs read by real clients and checked by independent re-computation (issue #26).

* ``fields.xdmf`` hexahedra through VTK's Xdmf2 reader (ParaView's default) and meshio:
  VTK's node order (positive volumes from ``vtkCellSizeFilter``, the corner pattern of
  ``VTK_HEXAHEDRON``), element order, the 3 x 3 tensors and ``sqrt(J2)`` of the 6-component
  Voigt fields;
* ``results.h5`` of ``femplastic run --set model.dim=3``: provenance, and the stored stress
  equal to a scikit-fem Hex8 periodic solve of the stored plastic strain written here from
  scikit-fem's own forms (not femplastic's assembly);
* the local shear test: the loading tensor against rotations built by scipy, the local yield
  stresses invariant under the mirror symmetries of the cube;
* the avalanche catalogue of a 3D run: the same avalanches as :func:`femplastic.aqs`, the
  energy balance, extents on the 3D torus.
"""

import json

import numpy as np
import pytest
import skfem
from skfem.helpers import ddot as skddot
from skfem.helpers import sym_grad
from skfem.models.elasticity import linear_elasticity

import femplastic as fp
from femplastic.fe.elasticity3d import VOIGT_PAIRS_3D, ddot3, from_tensor3, to_tensor3
from femplastic.fe.mesh3d import periodic_grid3d
from femplastic.weakplane import avalanches as A
from femplastic.weakplane.dimension import loading_tensor, resolve
from femplastic.weakplane.energy import elastic_energy
from femplastic.weakplane.probes.local_yield3d import (
    axis_vector,
    loading_tensor3d,
    patch_indices3d,
)

P3 = fp.ModelParams(dim=3, L=4, N=8)


@pytest.fixture(scope="module")
def quenched():
    return fp.quench(P3, np.random.default_rng(2), max_events=400)


# ------------------------------------------------------------------ fields.xdmf in VTK
def test_xdmf_hexahedra_in_vtk_have_vtk_node_order_and_the_voigt_values(tmp_path):
    xdmf2 = pytest.importorskip("vtkmodules.vtkIOXdmf2", reason="the vtk test extra")
    from vtkmodules.util.numpy_support import vtk_to_numpy
    from vtkmodules.vtkCommonExecutionModel import vtkStreamingDemandDrivenPipeline as SDDP
    from vtkmodules.vtkFiltersCore import vtkCellCenters
    from vtkmodules.vtkFiltersVerdict import vtkCellSizeFilter

    L, l = 3, 1.5
    rng = np.random.default_rng(0)
    s = [rng.normal(size=(L**3, 6)) for _ in range(2)]
    e = [rng.normal(size=(L**3, 6)) for _ in range(2)]
    path = tmp_path / "f.xdmf"
    with fp.io.XdmfWriter(path, periodic_grid3d(L, l)) as w:
        for t in range(2):
            w.write(0.25 * t, s[t], e[t], slips=np.arange(L**3))
    reader = xdmf2.vtkXdmfReader()
    reader.SetFileName(str(path))
    reader.UpdateInformation()
    times = reader.GetOutputInformation(0).Get(SDDP.TIME_STEPS())
    assert list(times) == [0.0, 0.25]
    ref = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0],
                    [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]]) * l  # VTK_HEXAHEDRON
    k = np.arange(L**3)
    centres = (np.stack([k % L, (k // L) % L, k // L**2], 1) + 0.5) * l  # x fastest
    for t, time in enumerate(times):
        reader.UpdateTimeStep(time)
        grid = reader.GetOutputDataObject(0)
        assert grid.GetClassName() == "vtkUnstructuredGrid"  # one grid, not a multiblock
        assert grid.GetNumberOfCells() == L**3
        assert {grid.GetCellType(i) for i in range(L**3)} == {12}
        pts = vtk_to_numpy(grid.GetPoints().GetData())
        conn = np.array([[grid.GetCell(i).GetPointId(a) for a in range(8)]
                         for i in range(L**3)])
        X = pts[conn]
        assert np.allclose(X - X[:, :1], ref, rtol=0, atol=1e-12)
        sizes = vtkCellSizeFilter()
        sizes.SetInputData(grid)
        sizes.Update()
        vol = vtk_to_numpy(sizes.GetOutput().GetCellData().GetArray("Volume"))
        assert np.allclose(vol, l**3, rtol=1e-12)  # a mis-ordered hexahedron: not l^3
        cc = vtkCellCenters()
        cc.SetInputData(grid)
        cc.Update()
        assert np.allclose(vtk_to_numpy(cc.GetOutput().GetPoints().GetData()), centres)
        cd = grid.GetCellData()
        for name, v in (("stress", s[t]), ("plastic_strain", e[t])):
            T = vtk_to_numpy(cd.GetArray(name)).reshape(-1, 3, 3)
            assert np.array_equal(T, to_tensor3(v))
            dev = T - np.trace(T, axis1=1, axis2=2)[:, None, None] / 3 * np.eye(3)
            j2 = np.sqrt(0.5 * np.einsum("nij,nij->n", dev, dev))
            scalar = "von_mises" if name == "stress" else "plastic_shear"
            assert np.allclose(vtk_to_numpy(cd.GetArray(scalar)), j2, rtol=1e-13)
        assert np.array_equal(vtk_to_numpy(cd.GetArray("slips")), k)
    meshio = pytest.importorskip("meshio")
    with meshio.xdmf.TimeSeriesReader(path) as r:
        points, cells = r.read_points_cells()
        t, _, cell_data = r.read_data(1)
    assert [(c.type, c.data.shape) for c in cells] == [("hexahedron", (L**3, 8))]
    assert t == 0.25 and np.array_equal(cell_data["stress"][0], to_tensor3(s[1]).reshape(-1, 9))


# ------------------------------------------------------------------ results.h5 vs skfem
def _skfem_periodic_stress(L, l, G, K, eps_pl, E, prestress):
    """Element stress of a tri-periodic Hex8 grid by scikit-fem's own elasticity forms.

    ``u = E x + u~``, ``u~`` periodic (``MeshHex1DG``, one node pinned), the element strain
    the quadrature mean of ``sym_grad u``; elements located by their centres (row-major).
    """
    x = np.linspace(0.0, L * l, L + 1)
    mesh = skfem.MeshHex1DG.init_tensor(x, x, x, periodic=[0, 1, 2])
    basis = skfem.Basis(mesh, skfem.ElementVector(skfem.ElementHex1()), intorder=2)
    lam, mu = K - 2 * G / 3, G
    centre = basis.mapping.F(np.full((3, 1), 0.5))[:, :, 0]
    ijk = np.floor(centre / l).astype(int)
    e_of = (ijk[2] * L + ijk[1]) * L + ijk[0]
    assert np.array_equal(np.sort(e_of), np.arange(L**3))
    D = to_tensor3(eps_pl[e_of] - E).transpose(1, 2, 0)[..., None]

    @skfem.LinearForm
    def eig(v, w):
        d = w["d"]
        tr = d[0, 0] + d[1, 1] + d[2, 2]
        return skddot(2 * mu * d + lam * tr * np.eye(3)[:, :, None, None], sym_grad(v))

    A_ = skfem.asm(linear_elasticity(lam, mu), basis)
    f = skfem.asm(eig, basis, d=np.broadcast_to(D, D.shape[:3] + (basis.dx.shape[1],)))
    u = skfem.solve(*skfem.condense(A_, f, D=basis.nodal_dofs[:, 0]))
    g = sym_grad(basis.interpolate(u))
    avg = (g * basis.dx).sum(-1) / basis.dx.sum(-1)
    eps = np.stack([avg[a, b] for a, b in VOIGT_PAIRS_3D], axis=1)
    C = fp.fe.elasticity3d.Isotropic3D(G, K).matrix()
    out = np.empty_like(eps_pl)
    out[e_of] = (eps + E - eps_pl[e_of]) @ C.T + prestress[e_of]
    return out


def test_results_h5_of_a_3d_run_carry_provenance_and_the_skfem_stress(tmp_path):
    import h5py

    from femplastic import cli

    out = tmp_path / "run"
    assert cli.main(["run", "--set", "model.dim=3", "--set", "model.L=4", "--set", "model.N=8",
                     "--set", "run.gamma_end=0.2", "--set", "run.dgamma=1e-3",
                     "--set", "run.alpha=0.3", "--seed", "1", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seed"] == 1 and summary["version"] == fp.__version__
    assert summary["params"]["model"]["dim"] == 3
    with h5py.File(out / "results.h5") as f:
        params = json.loads(f.attrs["params"])
        assert params["model"]["dim"] == 3 and f.attrs["seed"] == "1"
        assert f.attrs["femplastic_version"] == fp.__version__ and f.attrs["created"]
        S, P, S0 = (f[f"final_state/{k}"][()] for k in ("stress", "eps_pl", "prestress"))
        E_stored, M, tauc = (f[f"final_state/{k}"][()] for k in ("macro_strain", "schmid",
                                                                  "tauc"))
        gamma = f["realizations/r0000/gamma"][-1]
        mean = f["realizations/r0000/mean_stress"][-1]
    with h5py.File(out / "fields.h5") as f:
        assert json.loads(f.attrs["params"])["model"]["dim"] == 3
    assert np.abs(P).max() > 1e-3 and np.abs(S0).max() > 0.1  # slips and a pre-stress
    E = gamma * loading_tensor(3, 0.3)
    assert np.allclose(E_stored, E, rtol=1e-12, atol=0)  # the state can be rebuilt from it
    # the stored systems are the final state's: unit traceless Schmid tensors (M : M = 1/2),
    # all stable under the stored stress (the run ends relaxed) with their thresholds
    w = np.array([1.0, 1, 1, 2, 2, 2])
    assert M.shape == (64, 8, 6) and np.allclose((M * M * w).sum(-1), 0.5, atol=1e-12)
    assert np.abs(M[..., :3].sum(-1)).max() < 1e-15
    assert (tauc - np.einsum("ekc,ec->ek", M * w, S)).min() > -1e-12
    ref = _skfem_periodic_stress(4, 6.6, 13.2, 59.0, P, E, S0)
    assert np.abs(S - ref).max() <= 1e-12 * np.abs(ref).max()
    assert np.allclose(mean, S.mean(axis=0), rtol=0, atol=1e-13)


# ------------------------------------------------------------------ local shear test
def test_loading_tensor_equals_a_scipy_rotation_of_simple_shear():
    Rotation = pytest.importorskip("scipy.spatial.transform").Rotation
    M0 = np.zeros((3, 3))
    M0[0, 1] = M0[1, 0] = 0.5  # simple shear xy: loading_tensor(3, 0)
    z = np.array([0.0, 0.0, 1.0])
    for axis in ("x", "y", "z", [1.0, -2.0, 0.5], [0.0, 0.0, -1.0], [0.3, 0.1, -0.9]):
        a = axis_vector(axis)
        v = np.cross(z, a)
        if np.linalg.norm(v) < 1e-12:
            to_a = Rotation.identity() if a[2] > 0 else Rotation.from_rotvec([np.pi, 0, 0])
        else:  # the smallest rotation taking z to a
            to_a = Rotation.from_rotvec(v / np.linalg.norm(v) * np.arccos(a[2]))
        for alpha in np.linspace(-1.0, 4.0, 7):
            # alpha turns the shear about the axis: R_a(alpha) Q M0 Q^T R_a(alpha)^T
            R = (Rotation.from_rotvec(alpha * a) * to_a).as_matrix()
            assert np.allclose(to_tensor3(loading_tensor3d(axis, alpha)), R @ M0 @ R.T,
                               rtol=0, atol=1e-14)


def _mirrored(st, P):
    """``st`` under the cube symmetry ``P`` (3, 3): elements moved, tensors ``P T P^T``."""
    L = st.model.mesh.grid[0]
    k = np.arange(L**3)
    c = np.stack([k % L, (k // L) % L, k // L**2], 1) + 0.5 - L / 2
    q = np.rint(c @ P.T + L / 2 - 0.5).astype(int)
    img = (q[:, 2] * L + q[:, 1]) * L + q[:, 0]
    new = st.copy()
    for name in ("stress", "prestress", "eps_pl", "nv"):
        getattr(new, name)[img] = from_tensor3(P @ to_tensor3(getattr(st, name)) @ P.T)
    for name in ("tauc", "selfres", "theta"):
        getattr(new, name)[img] = getattr(st, name)
    new.margin[:] = -1.0  # the stability cache: rebuilt
    return new, img


@pytest.mark.parametrize("mirror", [np.diag([-1.0, 1, 1]), np.diag([1.0, 1, -1]),
                                    np.array([[0, 1.0, 0], [1, 0, 0], [0, 0, 1]])])
def test_local_yield_is_invariant_under_the_mirror_symmetries_of_the_cube(quenched, mirror):
    st = fp.aqs(quenched, P3, np.random.default_rng(3), gamma_end=0.05, dgamma=1e-3).state
    new, img = _mirrored(st, mirror)
    L, n = 4, 2
    pos = [(0, 0, 0), (3, 1, 2), (1, 3, 0), (2, 2, 3)]
    corners = [(x, y, z) for z in range(L) for y in range(L) for x in range(L)]
    by_set = {frozenset(patch_indices3d(L, n, *q).tolist()): q for q in corners}
    pos2 = [by_set[frozenset(img[patch_indices3d(L, n, *q)].tolist())] for q in pos]
    for axis, alpha in (("z", 0.0), ("x", 0.6), ([1.0, 2.0, -0.5], 1.1)):
        M2 = from_tensor3(mirror @ to_tensor3(loading_tensor3d(axis, alpha)) @ mirror.T)
        a2 = mirror @ axis_vector(axis)
        c2 = 2 * ddot3(M2, loading_tensor3d(a2, 0.0))
        s2 = 2 * ddot3(M2, loading_tensor3d(a2, np.pi / 4))
        alpha2 = 0.5 * np.arctan2(s2, c2)  # the mirrored loading as (axis, angle)
        assert np.allclose(loading_tensor3d(a2, alpha2), M2, atol=1e-14)
        ly = fp.local_yield(st, P3, np.random.default_rng(1), n, [alpha], axes=[axis],
                            positions=pos)
        ly2 = fp.local_yield(new, P3, np.random.default_rng(1), n, [alpha2], axes=[a2],
                             positions=pos2)
        assert np.all(ly.n_events >= 1)
        for f in ("tau_i", "tau_c", "dtau_c", "gamma_c", "sigma_vm"):
            assert np.allclose(getattr(ly2, f), getattr(ly, f), rtol=0, atol=1e-13), f


# ------------------------------------------------------------------ avalanches
def test_avalanche_record_and_catalogue_of_a_3d_run(quenched):
    """3D: ``record`` runs (it stopped in a 2D-only numba kernel) and ``catalogue(...,
    dim=3)`` measures extents on the 3D torus (it read the 3D element numbers as 2D ones)."""
    kw = dict(gamma_end=0.2, dgamma=1e-3)
    log = A.record(quenched, P3, np.random.default_rng(9), **kw)
    ref = fp.aqs(quenched, P3, np.random.default_rng(9), record_events=True, **kw)
    steps = ref.avalanche_steps
    assert steps.size > 5
    assert np.array_equal(log.size, ref.avalanche_size[steps])
    assert np.array_equal(log.stress_before, ref.stress_before[steps])
    assert np.array_equal(log.stress_after, ref.stress[steps])
    assert np.array_equal(log.events["element"], ref.events.element)
    # bookkeeping: the plastic strain of the avalanches is the change of the mean plastic
    # strain; the work of the external stress is the stored energy plus the dissipation
    M = loading_tensor(3, 0.0)
    d_pl = resolve(M, (ref.state.eps_pl - quenched.eps_pl).mean(axis=0))
    assert log.plastic.sum() == pytest.approx(d_pl, rel=1e-12)
    w = np.full(64, 1 / 64)
    s_prev = np.concatenate([[quenched.external_stress()], ref.stress[:-1]])
    work = np.sum(1e-3 * (s_prev + ref.stress_before) / 2)  # linear between avalanches
    stored = elastic_energy(ref.state, None, w) - elastic_energy(quenched, None, w)
    assert np.all(log.dissipation > 0)
    assert work == pytest.approx(stored + log.dissipation.sum(), rel=1e-10)
    cat = A.catalogue(log, 4, dim=3)
    assert cat.extent.max() <= np.sqrt(3 * (4**2 - 1) / 12) + 1e-12
    with pytest.raises(ValueError, match="dim=3"):
        A.catalogue(log, 4)  # a 3D log read as 2D
    # two elements stacked along z (0 and 16 of a 4^3 grid): half a cell from their centre
    ev = {"element": np.array([0, 16]), "avalanche": np.array([0, 0])}
    one = A.AvalancheLog(*(np.zeros(1),) * 8, events=ev)
    assert A.catalogue(one, 4, dim=3).extent[0] == pytest.approx(0.5)
    assert A.radius_of_gyration([0, 0], [0, 0], 4, iz=[3, 0]) == pytest.approx(0.5)
    # the cyclic and stress-controlled logs of a 3D state
    cyc = fp.cyclic(quenched, P3, np.random.default_rng(1), gamma_max=0.1, cycles=1,
                    dgamma=1e-3, record_events=True).avalanches
    ramp = fp.stress_controlled(quenched, P3, np.random.default_rng(1), stress_end=1.0,
                                dstress=0.01, record_events=True).avalanches
    for lg in (cyc, ramp):
        assert lg.size.sum() > 0 and np.all(lg.dissipation > 0)
        assert A.catalogue(lg, 4, dim=3).size.sum() == lg.events["element"].size


def test_bauschinger_in_3d_keeps_its_stress_and_plastic_strain_books(quenched):
    """Unload and both reloads: the macroscopic stress is ``C : (E - <eps_pl>) + <Sigma0>``
    (the element mean), and every record is the elastic line minus ``2 G`` times the plastic
    strain resolved along the loading (``M : C : d eps_pl = 2 G M : d eps_pl``, deviatoric)."""
    C = fp.fe.elasticity3d.Isotropic3D(P3.G, P3.B).matrix()
    loaded = fp.aqs(quenched, P3, np.random.default_rng(3), gamma_end=0.2, dgamma=1e-3).state
    b = fp.bauschinger(loaded, P3, np.random.default_rng(4), gamma_reload=0.05, dgamma=1e-3)
    rv = fp.aqs(b.unloaded, P3, np.random.default_rng(5), gamma_end=0.05, dgamma=1e-3,
                alpha=np.pi / 2)  # a reverse reload (b.reverse's generator is b's)
    assert rv.stress[0] == pytest.approx(b.reverse.stress[0], abs=1e-13)  # elastic start
    n_slips = 0
    for start, run in ((loaded, b.unload), (b.unloaded, rv)):
        st = run.state
        mean = C @ (st.macro_strain - st.eps_pl.mean(axis=0)) + st.prestress.mean(axis=0)
        assert np.allclose(st.stress.mean(axis=0), mean, rtol=0, atol=1e-13)
        M = run.direction * loading_tensor(3, run.alpha)
        assert np.allclose(st.macro_strain - start.macro_strain, run.gamma[-1] * M, atol=1e-15)
        d_pl = resolve(M, (st.eps_pl - start.eps_pl).mean(axis=0))
        assert run.plastic.sum() == pytest.approx(d_pl, rel=1e-12, abs=1e-18)
        line = resolve(M, start.stress.mean(axis=0)) + P3.G * run.gamma
        assert np.allclose(run.stress, line - 2 * P3.G * np.cumsum(run.plastic), atol=1e-13)
        n_slips += int(run.avalanche_size.sum())
    assert n_slips > 0
    # unloading stops at the first step whose stress is >= 0 (-Sigma_xy): within one step
    assert -P3.G * 1e-3 <= b.unloaded.external_stress() <= 0.0

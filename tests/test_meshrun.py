"""``femplastic run --set model.mesh=FILE``: every protocol on a mesh file, validated first."""

import hashlib
import json
from pathlib import Path

import meshio
import numpy as np
import pytest

from femplastic import cli
from femplastic.weakplane.params import load_config

MESHES = Path(__file__).resolve().parents[1] / "meshes"
UNSTRUCTURED = MESHES / "unstructured_periodic.vtu"  # Gmsh, 248 quads, area CV 0.3
SMALL = ["--set", "model.N=8", "--set", "model.T=0", "--quiet"]


def _grid_file(path: Path, L: int = 6, l: float = 6.6, perm=None) -> Path:
    """The regular L x L grid as a mesh file, cells in the grid's row-major order."""
    x = np.arange(L + 1) * l
    X, Y = np.meshgrid(x, x)
    pts = np.stack([X.ravel(), Y.ravel(), 0 * X.ravel()], axis=1)
    nid = np.arange((L + 1) ** 2).reshape(L + 1, L + 1)
    cells = np.stack([nid[:-1, :-1].ravel(), nid[:-1, 1:].ravel(), nid[1:, 1:].ravel(),
                      nid[1:, :-1].ravel()], axis=1)
    meshio.write(path, meshio.Mesh(pts, [("quad", cells if perm is None else cells[perm])]))
    return path


def test_config_derives_L_and_l_from_the_mesh_and_refuses_bad_files(tmp_path):
    cfg = load_config(None, [f"model.mesh={UNSTRUCTURED}"])
    assert cfg.model.L == round(np.sqrt(248)) == 16
    assert cfg.model.l == pytest.approx(105.6 / np.sqrt(248))  # sqrt(mean element area)
    with pytest.raises(ValueError, match="model.L = 15 describes"):
        load_config(None, [f"model.mesh={UNSTRUCTURED}", "model.L=15"])
    with pytest.raises(ValueError, match="model.mesh: mesh file .* does not exist"):
        load_config(None, [f"model.mesh={tmp_path / 'none.msh'}"])
    with pytest.raises(ValueError, match="model.mesh = .*not periodic along x"):
        load_config(None, [f"model.mesh={MESHES / 'not_periodic.vtu'}"])
    tri = tmp_path / "tri.vtu"
    meshio.write(tri, meshio.Mesh(np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0]]),
                                  [("triangle", np.array([[0, 1, 2]]))]))
    with pytest.raises(ValueError, match="model.mesh = .*quad.*triangle"):
        load_config(None, [f"model.mesh={tri}"])
    with pytest.raises(ValueError, match="shuffled kernel .*needs elements of equal area"):
        load_config(None, [f"model.mesh={UNSTRUCTURED}", "model.variant=D"])
    cfg = load_config(None, [f"model.mesh={UNSTRUCTURED}", "run.protocol=local-yield"])
    assert cfg.run.protocol == "local-yield"  # patches cut from the mesh (mesh_patch)


def test_local_yield_on_a_grid_mesh_file_equals_the_grid_and_runs_on_gmsh(tmp_path):
    """The local shear test on mesh patches: a grid file gives the grid's tau_c."""
    f = _grid_file(tmp_path / "grid6.vtu")
    ly = ["--set", "run.protocol=local-yield", "--set", "run.patch=4", "--set", "run.n_alphas=2",
          "--set", "run.gamma_end=0.05", "--set", "run.dgamma=1e-3", "--seed", "4"]
    outs = []
    for i, model in enumerate((["--set", "model.L=6"], ["--set", f"model.mesh={f}"],
                               ["--set", f"model.mesh={UNSTRUCTURED}"])):
        out = tmp_path / f"o{i}"
        assert cli.main(["run", *SMALL, *model, *ly, "--out", str(out)]) == 0
        outs.append(np.loadtxt(out / "curve.csv", delimiter=",", skiprows=1))
    assert outs[0].shape == outs[1].shape and np.abs(outs[0] - outs[1]).max() < 1e-9
    assert outs[2].shape[0] == 64 and np.all(np.isfinite(outs[2]))  # 16 / 2 positions per side


def test_a_grid_mesh_file_reproduces_the_grid_run(tmp_path):
    """The general FE path on a mesh file equals the convolution grid, event for event."""
    f = _grid_file(tmp_path / "grid6.vtu")
    outs = []
    for i, model in enumerate((["--set", "model.L=6"], ["--set", f"model.mesh={f}"])):
        out = tmp_path / f"o{i}"
        assert cli.main(["run", *SMALL, *model, "--set", "run.gamma_end=0.1",
                         "--set", "run.dgamma=1e-3", "--seed", "3", "--out", str(out)]) == 0
        outs.append(out)
    a, b = (np.loadtxt(o / "curve.csv", delimiter=",", skiprows=1) for o in outs)
    assert a.shape == b.shape and np.abs(a - b).max() < 1e-9
    s = json.loads((outs[1] / "summary.json").read_text())
    assert s["params"]["model"]["mesh_sha256"] == hashlib.sha256(f.read_bytes()).hexdigest()
    assert s["n_events"] == json.loads((outs[0] / "summary.json").read_text())["n_events"] > 0


PROTOCOLS = {"cyclic": ["--set", "run.dgamma=1e-3", "--set", "run.gamma_max=0.03",
                        "--set", "run.cycles=2"],
             "stress": ["--set", "run.stress_end=0.3", "--set", "run.dstress=0.01"],
             "bauschinger": ["--set", "run.gamma_end=0.05", "--set", "run.dgamma=1e-3",
                             "--set", "run.gamma_reload=0.02"],
             "rate": ["--set", "run.t_end=0.5", "--set", "run.gdot=0.01"],
             "creep": ["--set", "run.t_end=0.5", "--set", "run.target_stress=0.2"]}


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
def test_every_protocol_runs_on_a_mesh_file(protocol, tmp_path):
    # a grid in shuffled element order: a general mesh for the code (no grid detected)
    f = _grid_file(tmp_path / "g.vtu", L=5, perm=np.random.default_rng(0).permutation(25))
    out = tmp_path / "o"
    assert cli.main(["run", *SMALL, *PROTOCOLS[protocol], "--set", f"run.protocol={protocol}",
                     "--set", f"model.mesh={f}", "--seed", "1", "--out", str(out)]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["status"] == "complete" and s["params"]["model"]["mesh"] == str(f)
    curve = np.loadtxt(out / "curve.csv", delimiter=",", skiprows=1, ndmin=2)
    assert curve.shape[0] >= 1 and np.all(np.isfinite(curve))


def test_fields_xdmf_holds_the_real_cells_for_vtk(tmp_path):
    """VTK's Xdmf reader shows the unstructured mesh: its 248 quads at their coordinates."""
    xdmf2 = pytest.importorskip("vtkmodules.vtkIOXdmf2")
    from vtkmodules.util.numpy_support import vtk_to_numpy
    from vtkmodules.vtkCommonExecutionModel import vtkStreamingDemandDrivenPipeline as SDDP

    out = tmp_path / "o"
    assert cli.main(["run", *SMALL, "--set", f"model.mesh={UNSTRUCTURED}",
                     "--set", "run.gamma_end=0.02", "--set", "run.dgamma=1e-3",
                     "--seed", "1", "--out", str(out)]) == 0
    reader = xdmf2.vtkXdmfReader()
    reader.SetFileName(str(out / "fields.xdmf"))
    reader.UpdateInformation()
    times = reader.GetOutputInformation(0).Get(SDDP.TIME_STEPS())
    reader.UpdateTimeStep(times[-1])
    grid = reader.GetOutputDataObject(0)
    assert grid.GetNumberOfCells() == 248  # not a 16 x 16 grid
    pts = vtk_to_numpy(grid.GetPoints().GetData())[:, :2]
    conn = np.array([[grid.GetCell(c).GetPointId(i) for i in range(4)] for c in range(248)])
    assert all(grid.GetCell(c).GetNumberOfPoints() == 4 for c in range(248))
    m = meshio.read(UNSTRUCTURED)
    # every file cell's corner set is a VTK cell's corner set, at the same coordinates
    key = lambda xy: tuple(sorted(map(tuple, np.round(xy, 9))))  # noqa: E731
    assert {key(pts[c]) for c in conn} == {key(m.points[c, :2]) for c in m.cells[0].data}
    vm = vtk_to_numpy(grid.GetCellData().GetArray("von_mises"))
    assert vm.shape == (248,) and np.all(np.isfinite(vm))

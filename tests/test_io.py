import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import h5py
import meshio
import numpy as np
import pytest

from femplastic import io
from femplastic.fe import mesh


def test_hdf5_roundtrip_with_provenance(tmp_path):
    data = {"curve": {"gamma": np.linspace(0, 1, 5), "stress": np.arange(5.0)}, "n": 3,
            "note": "hello"}
    p = io.write_hdf5(tmp_path / "r.h5", data, params={"L": 15, "k": 2.18}, seed=42)
    back = io.read_hdf5(p)
    assert np.array_equal(back["curve"]["gamma"], data["curve"]["gamma"])
    assert back["n"] == 3 and back["note"] == "hello"
    assert '"L": 15' in back["params"] and back["seed"] == "42"
    assert back["femplastic_version"]
    assert not (tmp_path / "r.h5.part").exists()


def test_xdmf_beside_and_readable(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the .h5 must not land in the cwd (meshio issue 1351)
    out = tmp_path / "sub" / "fields.xdmf"
    m = mesh.periodic_grid(3, 2.0)
    with io.XdmfWriter(out, m) as w:
        for t in range(3):
            w.write(t, stress=np.full((9, 3), float(t)), eps_pl=np.zeros((9, 3)),
                    slip_count=np.arange(9))
    assert (tmp_path / "sub" / "fields.h5").exists()
    assert not (tmp_path / "fields.h5").exists()
    with meshio.xdmf.TimeSeriesReader(out) as r:
        points, cells = r.read_points_cells()
        assert r.num_steps == 3
        t, _, cd = r.read_data(2)
        assert np.allclose(cd["von_mises"][0], 2.0)  # equal normal stresses, shear 2: vm = 2
        assert cd["stress"][0].shape == (9, 9)
        assert np.allclose(cd["stress"][0][:, 1], 2.0)


def test_xdmf_survives_interruption(tmp_path):
    out = tmp_path / "fields.xdmf"
    code = f"""
import os, numpy as np
from femplastic import io
from femplastic.fe import mesh
m = mesh.periodic_grid(3)
w = io.XdmfWriter({str(out)!r}, m).__enter__()
for t in range(2):
    w.write(t, stress=np.ones((9, 3)) * t)
os._exit(1)  # killed: no close, no flush by the interpreter
"""
    subprocess.run([sys.executable, "-c", code], check=False)
    ET.parse(out)  # the index exists and is well-formed
    with meshio.xdmf.TimeSeriesReader(out) as r:
        r.read_points_cells()
        assert r.num_steps == 2
        _, _, cd = r.read_data(1)
        assert np.allclose(cd["stress"][0][:, 0], 1.0)


def _vtk_xdmf2_steps(path):
    """Every time step of an XDMF file as read by VTK's Xdmf2 reader (ParaView's default)."""
    xdmf2 = pytest.importorskip("vtkmodules.vtkIOXdmf2", reason="the vtk test extra")
    from vtkmodules.util.numpy_support import vtk_to_numpy
    from vtkmodules.vtkCommonExecutionModel import vtkStreamingDemandDrivenPipeline as SDDP

    reader = xdmf2.vtkXdmfReader()
    reader.SetFileName(str(path))
    reader.UpdateInformation()
    times = reader.GetOutputInformation(0).Get(SDDP.TIME_STEPS())
    steps = []
    for t in times:
        reader.UpdateTimeStep(t)
        grid = reader.GetOutputDataObject(0)
        cd = grid.GetCellData()
        arrays = {cd.GetArrayName(i): vtk_to_numpy(cd.GetArray(i))
                  for i in range(cd.GetNumberOfArrays())}
        steps.append((t, grid.GetClassName(), grid.GetNumberOfCells(), arrays))
    return steps


def test_xdmf_is_one_grid_for_the_xdmf2_reader(tmp_path):
    m = mesh.periodic_grid(5, 2.0)
    rng = np.random.default_rng(0)
    stresses = [rng.normal(size=(25, 3)) for _ in range(4)]
    with io.XdmfWriter(tmp_path / "fields.xdmf", m, params={"L": 5}, seed=7) as w:
        for k, s in enumerate(stresses):
            w.write(0.5 * k, stress=s, eps_pl=s / 10, slips=np.arange(25) * k)
    steps = _vtk_xdmf2_steps(tmp_path / "fields.xdmf")
    assert [t for t, *_ in steps] == [0.0, 0.5, 1.0, 1.5]
    for k, (_, kind, n_cells, arrays) in enumerate(steps):
        assert kind == "vtkUnstructuredGrid" and n_cells == 25  # one grid, not a multiblock
        s = stresses[k]
        assert np.array_equal(arrays["stress"][:, 0], s[:, 0])
        assert np.array_equal(arrays["stress"][:, 1], s[:, 2])
        assert np.array_equal(arrays["stress"][:, 4], s[:, 1])
        assert np.array_equal(arrays["slips"], np.arange(25) * k)
        vm = np.sqrt(((s[:, 0] - s[:, 1]) / 2) ** 2 + s[:, 2] ** 2)
        assert np.allclose(arrays["von_mises"], vm, rtol=1e-12)
    with h5py.File(tmp_path / "fields.h5") as f:  # provenance, like results.h5
        assert f.attrs["status"] == "complete"
        assert json.loads(f.attrs["params"]) == {"L": 5} and json.loads(f.attrs["seed"]) == 7
        assert f.attrs["femplastic_version"]


def test_xdmf_appends_without_rewriting(tmp_path):
    """Each step adds one grid to the index (replaced whole, never changed in place): the
    earlier index (less its closing tags) is a prefix."""
    m = mesh.periodic_grid(3, 2.0)
    out = tmp_path / "fields.xdmf"
    footer = "    </Grid>\n  </Domain>\n</Xdmf>\n"
    with io.XdmfWriter(out, m) as w:
        assert not out.exists()  # no index without a step (VTK's Xdmf2 reader crashes)
        before = footer
        for t in range(5):
            w.write(t, stress=np.full((9, 3), float(t)))
            now = out.read_text()
            assert now.startswith(before.removesuffix(footer)) and now.endswith(footer)
            ET.fromstring(now)  # well-formed after every step
            before = now


def _named_files(index):
    """Every file the index names (itself included): path -> (inode, size, mtime)."""
    import re

    names = {index, *(index.parent / n for n in re.findall(r'Format="HDF">([^:<]+):',
                                                          index.read_text()))}
    return {n: (os.stat(n).st_ino, os.stat(n).st_size, os.stat(n).st_mtime_ns) for n in names}


def test_xdmf_never_changes_a_named_file_in_place(tmp_path):
    """Crash safety by construction: a file the index names is never written again (a new
    one is renamed over it), so a SIGKILL can never leave a half-changed HDF5 file or index."""
    m = mesh.periodic_grid(4, 2.0)
    out = tmp_path / "fields.xdmf"
    seen = {}
    with io.XdmfWriter(out, m) as w:
        for t in range(4):
            time.sleep(0.01)  # (mtime resolution)
            w.write(t, stress=np.full((16, 3), float(t)), slips=np.arange(16) * t)
            now = _named_files(out)
            for path, (ino, size, mtime) in seen.items():
                if path.exists() and os.stat(path).st_ino == ino:
                    assert (os.stat(path).st_size, os.stat(path).st_mtime_ns) == (size, mtime)
            seen.update(now)
            assert len(now) == 2 + t + 1  # index, fields.h5 (mesh) and one file per step
    assert not (tmp_path / "fields.steps").exists()  # gathered into fields.h5 at the close
    with h5py.File(tmp_path / "fields.h5") as f:
        assert sorted(f["steps"]) == [f"{k:06d}" for k in range(4)]
        assert np.array_equal(f["steps/000003/slips"][()], np.arange(16) * 3.0)
    assert _named_files(out).keys() == {out, tmp_path / "fields.h5"}


def test_xdmf_status_running_until_closed_normally(tmp_path):
    m = mesh.periodic_grid(3, 2.0)
    with pytest.raises(KeyboardInterrupt):
        with io.XdmfWriter(tmp_path / "fields.xdmf", m) as w:
            w.write(0.0, stress=np.zeros((9, 3)))
            raise KeyboardInterrupt
    with h5py.File(tmp_path / "fields.h5") as f:
        assert f.attrs["status"] == "running"  # an unfinished run is recognisable
    with meshio.xdmf.TimeSeriesReader(tmp_path / "fields.xdmf") as r:
        assert r.num_steps == 1
    assert not list(tmp_path.glob("*.part"))


def test_xdmf_rejects_wrong_shapes(tmp_path):
    m = mesh.periodic_grid(3, 2.0)
    with io.XdmfWriter(tmp_path / "fields.xdmf", m) as w:
        with pytest.raises(ValueError, match="n_elem = 9"):
            w.write(0.0, stress=np.zeros((8, 3)))
    with pytest.raises(RuntimeError, match="inside its `with` block"):
        w.write(0.0, stress=np.zeros((9, 3)))

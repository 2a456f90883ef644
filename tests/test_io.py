import subprocess
import sys
import xml.etree.ElementTree as ET

import meshio
import numpy as np

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

import json

import h5py
import numpy as np
import pytest

from femplastic import cli


def test_run_writes_every_output(tmp_path):
    out = tmp_path / "o"
    rc = cli.main(["run", "--set", "model.L=6", "--set", "model.N=8", "--set", "run.gamma_end=0.8",
                   "--set", "run.dgamma=1e-3", "--seed", "3", "--realizations", "2",
                   "--out", str(out), "--quiet"])
    assert rc == 0
    for name in ("results.h5", "curve.csv", "summary.json", "stress_strain.png", "fields.xdmf",
                 "fields.h5"):
        assert (out / name).exists(), name
    s = json.loads((out / "summary.json").read_text())
    for key in ("params", "seed", "version", "n_events", "n_avalanches", "wall_time_s",
                "events_per_second"):
        assert key in s
    assert s["params"]["model"]["L"] == 6 and s["seed"] == 3
    per = s["stationary"]["per_realization"]
    assert len(per) == 2
    assert s["stationary"]["std_stress"] == pytest.approx(np.mean([p["std"] for p in per]))
    curve = np.loadtxt(out / "curve.csv", delimiter=",", skiprows=1)
    assert curve.shape == (800, 2)
    # curve.csv is realisation 0 and its stationary std matches the summary
    st = curve[curve[:, 0] > 0.5, 1]
    assert per[0]["std"] == pytest.approx(st.std())
    with h5py.File(out / "results.h5") as f:
        assert f.attrs["femplastic_version"]
        assert np.allclose(f["realizations/r0000/stress"][()], curve[:, 1], rtol=1e-9)


def test_realisation_independent_of_count(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    common = ["--set", "model.L=5", "--set", "model.N=4", "--set", "run.gamma_end=0.2",
              "--set", "run.dgamma=1e-3", "--quiet", "--seed", "9"]
    cli.main(["run", *common, "--out", str(a)])
    cli.main(["run", *common, "--realizations", "2", "--out", str(b)])
    assert np.array_equal(np.loadtxt(a / "curve.csv", delimiter=",", skiprows=1),
                          np.loadtxt(b / "curve.csv", delimiter=",", skiprows=1))


@pytest.mark.parametrize("args,msg", [(["--set", "model.N=6"], "multiple of 4"),
                                      (["--set", "model.x=1"], "unknown config key"),
                                      (["--set", "model.L"], "section.key=value"),
                                      (["--realizations", "0"], "--realizations")])
def test_bad_input_exits_2_with_message(tmp_path, capsys, args, msg):
    with pytest.raises(SystemExit) as exc:
        cli.main(["run", *args, "--out", str(tmp_path / "x")])
    assert exc.value.code == 2
    assert msg in capsys.readouterr().err
    assert not (tmp_path / "x").exists()  # nothing written before validation


def test_info_self_check(capsys):
    assert cli.main(["info"]) == 0
    assert "fast periodic kernel vs sparse FE solve" in capsys.readouterr().out

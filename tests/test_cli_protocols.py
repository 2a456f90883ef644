"""``femplastic run --set run.protocol=...``: every protocol runs and writes its outputs."""

import json

import h5py
import numpy as np
import pytest

from femplastic import cli

SMALL = ["--set", "model.L=6", "--set", "model.N=8", "--set", "model.T=0", "--quiet"]
AQS = ["--set", "run.gamma_end=0.1", "--set", "run.dgamma=1e-3"]  # read by AQS legs only
EXTRA = {"cyclic": ["--set", "run.dgamma=1e-3", "--set", "run.gamma_max=0.03",
                    "--set", "run.cycles=3"],
         "stress": ["--set", "run.stress_end=0.3", "--set", "run.dstress=0.01"],
         "bauschinger": [*AQS, "--set", "run.gamma_reload=0.02"],
         "local-yield": [*AQS, "--set", "run.patch=3"],
         "rate": ["--set", "run.t_end=1", "--set", "run.gdot=0.01"],
         "creep": ["--set", "run.t_end=1", "--set", "run.target_stress=0.2"]}


@pytest.mark.parametrize("protocol", sorted(EXTRA))
def test_protocol_runs_and_writes_its_outputs(protocol, tmp_path):
    out = tmp_path / "o"
    rc = cli.main(["run", *SMALL, *EXTRA[protocol], "--set", f"run.protocol={protocol}",
                   "--seed", "2", "--out", str(out)])
    assert rc == 0
    for name in ("results.h5", "curve.csv", "summary.json", f"{protocol}.png", "fields.xdmf",
                 "fields.h5"):
        assert (out / name).exists(), name
    s = json.loads((out / "summary.json").read_text())
    assert s["protocol"] == protocol and s["seed"] == 2
    assert s["params"]["run"]["protocol"] == protocol
    curve = np.loadtxt(out / "curve.csv", delimiter=",", skiprows=1, ndmin=2)
    assert curve.shape[0] >= 1 and np.all(np.isfinite(curve))
    with h5py.File(out / "results.h5") as f:
        assert f.attrs["femplastic_version"]
        assert "r0000" in f["realizations"]
    if protocol == "cyclic":
        per = s["per_realization"][0]
        assert len(per["dissipation_per_cycle"]) == per["cycles_run"] == 3
        assert per["max_energy_balance_residual"] < 1e-12
    if protocol == "stress":  # the imposed stress is followed
        assert np.allclose(curve[:, 0], curve[:, 1], atol=1e-12)


@pytest.mark.parametrize("args,msg", [
    (["--set", "run.protocol=oscillate"], "run.protocol must be one of aqs, cyclic"),
    (["--set", "run.protocol=cyclic", "--set", "run.amplitude=0.1"],
     "unknown config key(s) run.amplitude"),
    (["--set", "run.cycles=3"], "run.cycles does not apply to run.protocol=aqs"),
    (["--set", "run.protocol=stress", "--set", "run.gamma_max=0.1"],
     "run.gamma_max does not apply to run.protocol=stress"),
    (["--set", "run.protocol=cyclic", "--set", "run.cycles=0"], "run.cycles must be"),
    (["--set", "run.protocol=cyclic", "--set", "run.cycles=2.5"], "cycles expects an integer"),
    (["--set", "run.protocol=local-yield", "--set", "run.patch=40"], "run.patch (40)"),
    (["--set", "run.protocol=rate", "--set", "run.dt=1"], "run.dt must be <="),
])
def test_bad_protocol_or_key_exits_2_naming_it(tmp_path, capsys, args, msg):
    with pytest.raises(SystemExit) as exc:
        cli.main(["run", *args, "--out", str(tmp_path / "x")])
    assert exc.value.code == 2
    assert msg in capsys.readouterr().err
    assert not (tmp_path / "x").exists()

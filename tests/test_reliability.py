"""The user's path: outputs that never mix or lie, errors instead of crashes, ensembles that
stop with their driver."""

import json
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

import femplastic as fp
from femplastic import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
TINY = ["--set", "model.L=6", "--set", "model.N=8", "--set", "run.dgamma=1e-3", "--quiet"]


def _strict(text):
    def nan(c):
        raise ValueError(f"non-standard JSON constant {c}")

    return json.loads(text, parse_constant=nan)


def _snapshot(folder):
    """Names, sizes and mtimes of everything under ``folder`` (to show nothing changed)."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*"))}


# ---------------------------------------------------------------- outputs

def test_rerun_moves_previous_run_aside_and_refuses_foreign_files(tmp_path, capsys):
    out = tmp_path / "femplastic-out"
    args = ["run", *TINY, "--set", "run.gamma_end=0.05", "--out", str(out)]
    assert cli.main(args) == 0
    first = (out / "results.h5").read_bytes()
    assert cli.main([*args, "--seed", "1"]) == 0  # the README's command, run twice
    assert "moved the previous run" in capsys.readouterr().err
    assert (tmp_path / "femplastic-out.1" / "results.h5").read_bytes() == first
    assert _strict((out / "femplastic-run.json").read_text())["status"] == "complete"
    (out / "notes.txt").write_text("mine")
    before = _snapshot(tmp_path)
    with pytest.raises(SystemExit) as e:
        cli.main([*args, "--seed", "2"])
    assert e.value.code == 2 and "notes.txt" in capsys.readouterr().err
    assert _snapshot(tmp_path) == before  # nothing touched
    assert cli.main([*args, "--seed", "2", "--overwrite"]) == 0
    assert (out / "notes.txt").read_text() == "mine"
    assert _strict((out / "summary.json").read_text())["seed"] == 2


def test_summary_is_strict_json_without_stationary_part(tmp_path):
    out = tmp_path / "o"
    assert cli.main(["run", *TINY, "--set", "run.gamma_end=0.05", "--realizations", "2",
                     "--out", str(out)]) == 0
    s = _strict((out / "summary.json").read_text())
    assert s["status"] == "complete" and s["stationary"]["mean_stress"] is None
    assert s["stationary"]["per_realization"] == [{"mean": None, "std": None}] * 2
    with h5py.File(out / "results.h5") as f:
        assert f.attrs["status"] == "complete" and f.attrs["realizations_finished"] == 2
    with h5py.File(out / "fields.h5") as f:  # same provenance as results.h5
        assert f.attrs["status"] == "complete"
        assert json.loads(f.attrs["params"]) == s["params"] and json.loads(f.attrs["seed"]) == 0
    assert not list(out.glob("*.part*"))


def test_fields_through_xdmf2_equal_results(tmp_path):
    from test_io import _vtk_xdmf2_steps

    out = tmp_path / "o"
    assert cli.main(["run", *TINY, "--set", "run.gamma_end=0.2", "--set",
                     "run.fields_every=0.05", "--out", str(out)]) == 0
    steps = _vtk_xdmf2_steps(out / "fields.xdmf")
    assert [t for t, *_ in steps] == pytest.approx([0.0, 0.05, 0.1, 0.15, 0.2])
    res = fp.io.read_hdf5(out / "results.h5")["final_state"]
    for _, kind, n_cells, _ in steps:
        assert kind == "vtkUnstructuredGrid" and n_cells == 36  # one grid of n_elem cells
    arrays = steps[-1][3]
    s, e = res["stress"], res["eps_pl"]
    assert np.array_equal(arrays["stress"][:, 0], s[:, 0])
    assert np.array_equal(arrays["stress"][:, 4], s[:, 1])
    assert np.array_equal(arrays["stress"][:, 1], s[:, 2])
    assert np.array_equal(arrays["plastic_strain"][:, 1], e[:, 2])
    assert np.array_equal(arrays["mean_tauc"], res["tauc"].mean(axis=1))


def test_each_realisation_written_when_finished(tmp_path):
    """Interrupt after the first realisation: it is in results.h5, the run marked running."""
    out = tmp_path / "o"
    cmd = [sys.executable, "-m", "femplastic", "run", "--set", "model.L=8", "--set",
           "model.N=8", "--set", "run.gamma_end=0.1", "--set", "run.dgamma=1e-4",
           "--realizations", "400", "--quiet", "--out", str(out)]
    proc = subprocess.Popen(cmd, env=ENV, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    while time.time() - t0 < 60:
        mark = out / "femplastic-run.json"
        if mark.exists() and _strict(mark.read_text())["finished"] >= 2:
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    with h5py.File(out / "results.h5") as f:
        assert f.attrs["status"] == "running"
        n = int(f.attrs["realizations_finished"])
        assert n >= 2 and len(f["realizations"]) == n
    s = _strict((out / "summary.json").read_text())
    assert s["status"] == "running" and s["realizations_finished"] == n
    assert not list(out.glob("*.part*"))


# ---------------------------------------------------------------- errors, not crashes

@pytest.mark.parametrize("extra,msg", [
    (["--set", "run.dgamma=1e-300"], "run.dgamma"),
    (["--set", "run.gamma_end=1e300"], "run.gamma_end"),
    (["--set", "model.L=200000"], "model.L"),
    (["--set", "run.fields_every=1e-300", "--set", "run.gamma_end=1e6", "--set",
      "run.dgamma=1e-2"], "run.fields_every"),
    (["--set", "model.L=true"], "L"),
    (["--set", "run.event_driven=2"], "event_driven"),
])
def test_bad_run_sizes_and_types_exit_2_before_any_work(tmp_path, capsys, extra, msg):
    out = tmp_path / "x"
    with pytest.raises(SystemExit) as e:
        cli.main(["run", "--quiet", *extra, "--out", str(out)])
    err = capsys.readouterr().err
    assert e.value.code == 2 and msg in err, err
    assert not out.exists()


@pytest.mark.parametrize("content,msg", [
    ("[model]\nk = [1, 2]\n", "k must be a number"),
    ("[model]\nl = true\n", "l must be a number"),
    ("[run]\nevent_driven = 2\n", "event_driven must be true or false"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "not a text (UTF-8) TOML file"),
    (None, "is a folder"),
])
def test_bad_config_files_exit_2(tmp_path, capsys, content, msg):
    cfg = tmp_path / "c.toml"
    if content is None:
        cfg.mkdir()
    elif isinstance(content, bytes):
        cfg.write_bytes(content)
    else:
        cfg.write_text(content)
    out = tmp_path / "x"
    with pytest.raises(SystemExit) as e:
        cli.main(["run", "--config", str(cfg), "--out", str(out)])
    err = capsys.readouterr().err
    assert e.value.code == 2 and msg in err, err
    assert not out.exists()


def test_bad_out_exits_2(tmp_path, capsys):
    f = tmp_path / "afile"
    f.write_text("keep")
    for out, msg in [(f, "existing file"), (f / "sub", "is a file"),
                     ("/proc/femplastic-out", "not writable")]:
        with pytest.raises(SystemExit) as e:
            cli.main(["run", *TINY, "--out", str(out)])
        err = capsys.readouterr().err
        assert e.value.code == 2 and msg in err, err
    assert f.read_text() == "keep"


def test_slow_parameters_warn_with_estimate(tmp_path, capsys):
    from femplastic.cli.run import check_run

    cfg = fp.load_config(None, ["model.lam=1e-3"])  # ~1e5 events per element and strain
    (w,) = check_run(cfg, 1, tmp_path / "x", False)
    assert "slip events per element and unit strain" in w and "model.lam = 0.001" in w
    # lam = 1e-9: years of slip events, refused with the estimate (femplastic.validation)
    with pytest.raises(ValueError, match="would take about .* years.*model.lam = 1e-09"):
        check_run(fp.load_config(None, ["model.lam=1e-9"]), 1, tmp_path / "x", False)
    assert check_run(fp.load_config(None, []), 1, tmp_path / "x", False) == []
    assert fp.weakplane.estimates.events_per_strain(fp.ModelParams(k=0.02)) > 1e6


def test_library_type_errors_name_the_parameter(rng):
    for kwargs, name in [({"l": "6.6"}, "l must be a number"), ({"k": None}, "k must be"),
                         ({"l": True}, "l must be a number"), ({"L": 8.0}, "L must be an int"),
                         ({"variant": 3}, "variant must be a string")]:
        with pytest.raises(TypeError, match=name):
            fp.ModelParams(**kwargs)
    with pytest.raises(TypeError, match="event_driven"):
        fp.RunParams(event_driven=2)
    with pytest.raises(TypeError, match="params must be a ModelParams"):
        fp.quench("model C", rng)
    with pytest.raises(TypeError, match="state must be a State"):
        fp.aqs("state", fp.ModelParams(), rng)


def test_mesh_load_turns_meshio_exits_into_value_errors(tmp_path):
    garbage = tmp_path / "g.vtu"
    garbage.write_bytes(os.urandom(200))
    with pytest.raises(ValueError, match="g.vtu"):
        fp.mesh.load(garbage)
    m = fp.mesh.periodic_grid(3, 2.0)
    with fp.io.XdmfWriter(tmp_path / "fields.xdmf", m) as w:
        w.write(0.0, stress=np.zeros((9, 3)))
    with pytest.raises(ValueError, match="fields.xdmf.*TimeSeriesReader"):
        fp.mesh.load(tmp_path / "fields.xdmf")


def test_unreachable_scheduler_fails_fast_without_store(tmp_path, capsys):
    pytest.importorskip("distributed")
    out = tmp_path / "e.h5"
    t0 = time.perf_counter()
    with pytest.raises(SystemExit) as e:
        cli.main(["ensemble", "--set", "model.L=5", "--realizations", "1", "--scheduler",
                  "tcp://127.0.0.1:9", "--out", str(out), "--quiet"])
    assert e.value.code == 2 and "tcp://127.0.0.1:9" in capsys.readouterr().err
    assert time.perf_counter() - t0 < 25 and not out.exists()


# ---------------------------------------------------------------- ensembles

def _children(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                out.append(int(d))
    return out


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


ENSEMBLE = ["-m", "femplastic", "ensemble", "--set", "model.L=8", "--set", "model.N=8",
            "--set", "run.gamma_end=2", "--set", "run.dgamma=1e-4", "--realizations", "400",
            "--workers", "2", "--quiet"]


def _start_ensemble(out):
    proc = subprocess.Popen([sys.executable, *ENSEMBLE, "--out", str(out)], env=ENV, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    t0 = time.time()
    while time.time() - t0 < 60:
        if len(_children(proc.pid)) >= 3 and out.exists():  # 2 workers + resource tracker
            break
        time.sleep(0.2)
    time.sleep(1.0)
    return proc


def test_sigkill_of_ensemble_driver_leaves_no_process(tmp_path):
    proc = _start_ensemble(tmp_path / "e.h5")
    kids = _children(proc.pid)
    assert len(kids) >= 2
    proc.kill()
    proc.wait()
    t0 = time.time()
    while any(_alive(k) for k in kids) and time.time() - t0 < 10:
        time.sleep(0.2)
    alive = [k for k in kids if _alive(k)]
    for k in alive:  # do not leave them behind if the test fails
        os.kill(k, signal.SIGKILL)
    assert not alive


def test_sigint_stops_ensemble_quickly_keeping_finished(tmp_path):
    out = tmp_path / "e.h5"
    proc = _start_ensemble(out)
    kids = _children(proc.pid)
    time.sleep(3)
    t0 = time.perf_counter()
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole process group
    _, err = proc.communicate(timeout=30)
    assert time.perf_counter() - t0 < 4.0
    assert proc.returncode == 130, err
    assert "Traceback" not in err, err
    time.sleep(0.5)
    assert not [k for k in kids if _alive(k)]
    from femplastic.ensemble import load_store

    assert load_store(out).incomplete == 0  # the store is readable; finished ones kept

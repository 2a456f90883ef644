"""The run engine of `femplastic run`: checkpoints at their period across chunks, and a
SIGKILL at any moment leaves a folder that --resume continues bitwise or a rerun accepts."""

import json
import os
import signal
import time

import h5py
import numpy as np
import pytest

from femplastic import cli
from femplastic.cli import run as R
from femplastic.io import outdir
from femplastic.weakplane.drivers import checkpoint
from femplastic.weakplane.params import load_config

SMALL = ["model.L=6", "model.N=8", "model.T=0", "run.gamma_end=0.3", "run.dgamma=1e-3",
         "run.stationary_from=0.05", "run.fields_every=0.02"]


def _datasets(path):
    out = {}
    with h5py.File(path) as f:
        f.visititems(lambda n, o: out.__setitem__(n, o[()])
                     if isinstance(o, h5py.Dataset) else None)
        out["@"] = {k: f.attrs[k] for k in ("status", "realizations_finished", "seed",
                                             "params")}
    return out


def _same_run(a, b):
    da, db = _datasets(a / "results.h5"), _datasets(b / "results.h5")
    assert da.keys() == db.keys() and len(da) > 10
    for k in da:
        if k == "@":
            assert da[k] == db[k]
        else:
            assert np.array_equal(da[k], db[k]), k
    sa, sb = (json.loads((d / "summary.json").read_text()) for d in (a, b))
    assert sa["stationary"] == sb["stationary"] and sa["n_events"] == sb["n_events"]
    assert (a / "curve.csv").read_bytes() == (b / "curve.csv").read_bytes()


def test_checkpoint_period_spans_chunks_shorter_than_it(tmp_path, monkeypatch):
    """Chunks of 10 steps (fields_every) take milliseconds; checkpoints still come every
    `every` seconds (each AQS call used to restart the timer: none were written)."""
    cfg = load_config(None, ["model.L=8", "model.N=8", "run.gamma_end=1.5", "run.dgamma=1e-3",
                             "run.fields_every=0.01"])
    times = []
    real = checkpoint.save

    def save(*a, **k):
        times.append(time.perf_counter())
        return real(*a, **k)

    monkeypatch.setattr(checkpoint, "save", save)
    R.run_main_job(cfg, 1, 1, tmp_path / "warm", checkpoint_every=None)  # compile first
    t0 = time.perf_counter()
    R.run_main_job(cfg, 1, 1, tmp_path / "o", checkpoint_every=0.1)
    wall = time.perf_counter() - t0
    n_chunks = len(R._chunks(cfg.run))
    assert n_chunks == 150
    # the quench (no checkpoints) takes part of the wall time: count on the shear's span, where
    # consecutive saves come every period plus at most one chunk (milliseconds; 0.3 s slack)
    assert len(times) >= 2 and wall > 0.2, (len(times), wall)
    gaps = np.diff([t0, *times])
    assert np.all(gaps >= 0.1 - 1e-3), gaps  # never more often than the period
    assert np.all(gaps[1:] < 0.1 + 0.3), gaps  # and never much less often
    assert not (tmp_path / "o" / "checkpoint.npz").exists()  # the run completed
    # 0: at every chunk (150 of them), without the overflow of the chunk size after ~510
    times.clear()
    R.run_main_job(cfg, 1, 1, tmp_path / "every", checkpoint_every=0)
    assert len(times) >= n_chunks - 1
    _same_run(tmp_path / "o", tmp_path / "every")


def _readable_fields(out):
    """fields.h5 and fields.xdmf of a (killed) run open, and every step the index names
    reads with VTK's Xdmf2 reader (ParaView's default) as one grid of L^2 cells."""
    if (out / "fields.h5").exists():
        with h5py.File(out / "fields.h5") as f:
            assert f.attrs["status"] in ("running", "complete")
            f.visititems(lambda n, o: o[()] if isinstance(o, h5py.Dataset) else None)
    if not (out / "fields.xdmf").exists():
        return 0
    xdmf2 = pytest.importorskip("vtkmodules.vtkIOXdmf2")
    from vtkmodules.vtkCommonExecutionModel import vtkStreamingDemandDrivenPipeline as SDDP

    reader = xdmf2.vtkXdmfReader()
    reader.SetFileName(str(out / "fields.xdmf"))
    reader.UpdateInformation()
    times = reader.GetOutputInformation(0).Get(SDDP.TIME_STEPS()) or []
    for t in times:
        reader.UpdateTimeStep(t)
        grid = reader.GetOutputDataObject(0)
        assert grid.GetNumberOfCells() == 36, t
        assert grid.GetCellData().GetArray("stress").GetNumberOfTuples() == 36, t
    return len(times)


def _child(out, cfg, realizations, every, delay):
    """Fork a process running the job; SIGKILL it after `delay` s; True if it finished."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        try:
            R.run_main_job(cfg, 5, realizations, out, checkpoint_every=every)
        finally:
            os._exit(0)
    time.sleep(delay)
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_sigkill_at_random_moments_resumes_bitwise_or_reruns(tmp_path, monkeypatch):
    monkeypatch.setattr(R, "RECORD_CHUNK", 40)  # several chunk files per realisation
    cfg = load_config(None, [*SMALL, "run.gamma_end=0.2"])
    ref = tmp_path / "ref"
    R.run_main_job(cfg, 5, 2, ref)
    t0 = time.perf_counter()
    R.run_main_job(cfg, 5, 2, tmp_path / "ref2", checkpoint_every=0)
    wall = time.perf_counter() - t0
    rng = np.random.default_rng(7)
    resumed = reran = killed = snapshots = 0
    # until 20 runs were killed before they finished and 10 of them resumed: kill moments
    # drawn from the reference run's wall time, which a machine whose load changes between
    # that run and the children can stretch or shrink (more children finish, or more die
    # before their first checkpoint); more tries, never fewer checks
    for i in range(100):
        if killed >= 20 and resumed >= 10:
            break
        out = tmp_path / f"k{i}"
        every = (0, 0.01, None)[i % 3]
        finished = _child(out, cfg, 2, every, float(rng.uniform(0.01, 0.8 * wall)))
        killed += not finished
        if not out.exists():
            continue
        outdir.check_folder(out)  # a rerun into it would be accepted (never "foreign")
        snapshots += _readable_fields(out)
        try:
            R.run_main_job(cfg, 5, 2, out, checkpoint_every=every, resume=True)
        except ValueError as exc:  # nothing to resume: a plain rerun takes the folder
            assert "nothing to resume" in str(exc) or "complete" in str(exc), exc
            assert "\n" not in str(exc)
            if "complete" in str(exc):
                _same_run(ref, out)
                continue
            moved = outdir.claim_folder(out)
            R.run_main_job(cfg, 5, 2, out)
            assert moved is None or moved.exists()
            reran += 1
        else:
            resumed += 1
        _same_run(ref, out)
        assert not (out / "checkpoint.npz").exists() and not (out / "running").exists()
        assert not list(out.glob("*.part")) and not list(out.glob("*.tmp"))
    assert killed >= 20 and resumed >= 10, (killed, resumed, reran)
    assert snapshots > 0


def test_resume_refusals_are_one_line_and_touch_nothing(tmp_path, capsys, monkeypatch):
    base = ["run", *[x for s in SMALL for x in ("--set", s)], "--quiet"]
    out = tmp_path / "o"
    assert cli.main([*base, "--out", str(out), "--checkpoint-every", "0"]) == 0
    # an interrupted run: status running, a checkpoint of realisation 0
    R.run_main_job(load_config(None, SMALL), 0, 1, tmp_path / "x")
    data = json.loads((out / "summary.json").read_text())
    assert data["status"] == "complete"

    def refused(args, *needles):
        with pytest.raises(SystemExit) as exc:
            cli.main(args)
        err = capsys.readouterr().err.strip()
        assert exc.value.code == 2 and len(err.splitlines()) == 1, err
        for n in needles:
            assert n in err, err
        return err

    refused([*base, "--resume", str(out), "--out", str(tmp_path / "y")], "--out")
    refused([*base, "--resume", str(out)], "complete")
    with h5py.File(out / "results.h5", "a") as f:  # make it look interrupted
        f.attrs["status"] = "running"
        f.attrs["realizations_finished"] = 0
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    err = refused([*base, "--set", "model.k=3.0", "--resume", str(out)], "model.k: run")
    assert len(err) < 400
    for content in (b"", b"PK\x03\x04 truncated", b"not a zip at all"):
        (out / "checkpoint.npz").write_bytes(content)
        refused([*base, "--resume", str(out)], "checkpoint.npz", "damaged")
    (out / "checkpoint.npz").unlink()
    # the memory/disk/time checks of a fresh run are made on --resume too (another machine)
    from femplastic.weakplane import estimates

    with monkeypatch.context() as m:
        m.setattr(estimates, "available_memory", lambda: 1e3)
        refused([*base, "--resume", str(out)], "memory", "model.L")
        m.setattr(estimates, "_free_disk", lambda path: 10.0)
        m.setattr(estimates, "available_memory", lambda: 1e12)
        refused([*base, "--resume", str(out)], "are free", str(out))
    after = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert before == after  # nothing written, fields.xdmf not emptied
    assert (out / "fields.xdmf").stat().st_size > 500


@pytest.mark.parametrize("args", [
    ["ensemble", "--set", "run.protocol=cyclic", "--set", "run.gamma_max=0.01",
     "--realizations", "2"],
    ["sweep", "--grid", "run.protocol=aqs,stress", "--realizations", "2"],
])
def test_ensemble_and_sweep_refuse_protocols_they_do_not_run(tmp_path, capsys, args):
    """They ran AQS and stored the points labelled cyclic/stress: wrong data, right label."""
    out = tmp_path / "e.h5"
    with pytest.raises(SystemExit) as exc:
        cli.main([*args, "--out", str(out), "--quiet"])
    assert exc.value.code == 2
    assert "run.protocol=" in capsys.readouterr().err
    assert not out.exists()


def test_library_ensemble_refuses_other_protocols(tmp_path):
    from femplastic.ensemble import Ensemble, model_realization

    with pytest.raises(ValueError, match="run.protocol=creep"):
        Ensemble(model_realization, [{"run.protocol": "creep", "run.target_stress": 0.2}],
                 realizations=1, store=tmp_path / "s.h5").run()
    assert not (tmp_path / "s.h5").exists()


LONG = ["--set", "model.L=8", "--set", "model.N=8", "--quiet", "--seed", "3"]
DG = ["--set", "run.dgamma=1e-4"]  # only for the protocols that read it (others refuse it)
PROTOCOLS = {  # each long enough that a Ctrl-C at 0.8 s lands inside the run on a fast machine
    "aqs": [*DG, "--set", "run.gamma_end=150", "--set", "run.fields_every=1.5"],
    "cyclic": [*DG, "--set", "run.gamma_max=0.05", "--set", "run.cycles=3000"],
    "stress": ["--set", "run.stress_end=0.5", "--set", "run.dstress=2.5e-7"],
    "bauschinger": [*DG, "--set", "run.gamma_end=400", "--set", "run.gamma_reload=0.05"],
    "local-yield": [*DG, "--set", "run.gamma_end=400", "--set", "run.patch=3"],
    "rate": ["--set", "run.t_end=20000", "--set", "run.gdot=0.001"],
    "creep": ["--set", "run.t_end=20000", "--set", "run.target_stress=0.2"],
}
TINY = {"aqs": [*DG, "--set", "run.gamma_end=0.01"],
        "cyclic": [*DG, "--set", "run.gamma_max=0.002", "--set", "run.cycles=1"],
        "stress": ["--set", "run.stress_end=0.05", "--set", "run.dstress=0.01"],
        "bauschinger": [*DG, "--set", "run.gamma_end=0.01", "--set", "run.gamma_reload=0.002"],
        "local-yield": [*DG, "--set", "run.gamma_end=0.01", "--set", "run.patch=3"],
        "rate": ["--set", "run.t_end=0.2", "--set", "run.gdot=0.01"],
        "creep": ["--set", "run.t_end=0.2", "--set", "run.target_stress=0.2"]}


def _interrupted(args, after):
    """cli.main(args) with a SIGINT `after` s in.

    Returns (exit status, to the safe point, to the return), the latencies measured from the
    signal in this process's CPU seconds (time.process_time): the work the loop does before
    it notices the interrupt (its chunk) and before it has written its files. Wall seconds
    also count the time a loaded machine gives to other processes (a 2-core machine at load
    11 stretched a 0.1 s chunk past 3 s), which is no property of the code. The safe-point
    latency is None when the SIGINT came outside a driver's deferred block (the default
    handler raised it at once).
    """
    import threading

    from femplastic import interrupt

    sent, noticed = [], []
    check = interrupt.check

    def timed_check():
        try:
            check()
        except KeyboardInterrupt:
            if sent and not noticed:
                noticed.append(time.process_time())
            raise

    def fire():
        sent.append(time.process_time())
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(after, fire)
    timer.start()
    interrupt.check = timed_check  # every safe point calls interrupt.check
    try:
        rc = cli.main(args)
    finally:
        timer.cancel()
        interrupt.check = check
    if not sent:
        return rc, None, None
    return rc, (noticed[0] - sent[0]) if noticed else None, time.process_time() - sent[0]


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
def test_each_protocol_ctrl_c_exit_130_readable_and_rerun_moves_it_aside(protocol, tmp_path):
    proto = ["--set", f"run.protocol={protocol}"]
    warm = ["run", *LONG, *proto, *TINY[protocol]]
    assert cli.main([*warm, "--out", str(tmp_path / "warm")]) == 0  # compiled, cached
    out = tmp_path / "o"
    cmd = ["run", *LONG, *proto, *PROTOCOLS[protocol], "--out", str(out)]
    for _attempt in range(2):
        rc, safe_point, answered = _interrupted(cmd, 0.8)
        assert rc == 130 and answered is not None
        # the next safe point comes within a chunk (~0.1 s of work): the ~1 s promise
        assert safe_point is None or safe_point < 1.0, safe_point
        assert answered < 3.0, answered  # files written and closed too
        marker = json.loads((out / "femplastic-run.json").read_text())
        assert marker["status"] == "running"
        with h5py.File(out / "results.h5") as f:  # readable; "running" unless the
            # realisation was published (Ctrl-C while curve.csv and the figure were written)
            done = f.attrs["realizations_finished"]
            assert f.attrs["status"] == ("complete" if done == 1 else "running")
            assert json.loads(f.attrs["seed"]) == 3 and "params" in f.attrs
        if (out / "fields.h5").exists():
            with h5py.File(out / "fields.h5") as f:
                assert f.attrs["status"] == ("complete" if done == 1 else "running")
                assert json.loads(f.attrs["seed"]) == 3
        assert not list(out.glob("*.part")) and not list(out.glob("*.tmp"))
    # the rerun of the same command moved the first run aside, whole
    assert (tmp_path / "o.1" / "results.h5").exists()
    assert not (tmp_path / "o.2").exists()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.parametrize("protocol,extra", [
    ("cyclic", ["run.dgamma=1e-4", "run.gamma_max=0.02", "run.cycles=8"]),
    ("stress", ["run.stress_end=0.5", "run.dstress=1e-5"]),
])
def test_cyclic_and_stress_killed_resume_bitwise(tmp_path, protocol, extra):
    from femplastic.cli.protocols import run_protocol

    cfg = load_config(None, ["model.L=6", "model.N=8", f"run.protocol={protocol}", *extra])
    ref = tmp_path / "ref"
    t0 = time.perf_counter()
    run_protocol(cfg, 5, 2, ref, checkpoint_every=0)
    wall = time.perf_counter() - t0
    rng = np.random.default_rng(3)
    resumed = 0
    for i in range(15):  # >= 5 kills and >= 2 resumes (more tries when load moves the moments)
        if i >= 5 and resumed >= 2:
            break
        out = tmp_path / f"k{i}"
        pid = os.fork()
        if pid == 0:  # pragma: no cover (the child)
            try:
                run_protocol(cfg, 5, 2, out, checkpoint_every=0)
            finally:
                os._exit(0)
        time.sleep(float(rng.uniform(0.05, 0.9 * wall)))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        if out.exists():
            _readable_fields(out)  # h5py and VTK open what the index names
        if not (out / "results.h5").exists():
            outdir.check_folder(out)  # a rerun takes it
            continue
        try:
            run_protocol(cfg, 5, 2, out, resume=True)
            resumed += 1
        except ValueError as exc:
            assert "complete" in str(exc), exc
        da, db = _datasets(ref / "results.h5"), _datasets(out / "results.h5")
        assert da.keys() == db.keys()
        for k in da:
            assert k == "@" and da[k] == db[k] or np.array_equal(da[k], db[k]), k
        assert (ref / "curve.csv").read_bytes() == (out / "curve.csv").read_bytes()
        assert (out / f"{protocol}.png").exists() and not (out / "checkpoint.npz").exists()
    assert resumed >= 2


def test_one_step_chunks_do_not_bloat_results(tmp_path):
    """fields_every = dgamma: one AQS call and snapshot per step; the records are still
    written in whole chunks (the old per-step appends rewrote a gzip chunk each time)."""
    base = ["model.L=6", "model.N=8", "run.gamma_end=0.1", "run.dgamma=1e-3"]
    R.run_main_job(load_config(None, [*base, "run.fields_every=0"]), 2, 1, tmp_path / "a")
    R.run_main_job(load_config(None, [*base, "run.fields_every=1e-3"]), 2, 1, tmp_path / "b")
    a, b = (_datasets(tmp_path / d / "results.h5") for d in ("a", "b"))
    for k in a:  # (chunk ends change the trajectory at round-off level only)
        if k != "@":
            np.testing.assert_allclose(a[k], b[k], rtol=1e-9, atol=1e-12, err_msg=k)
    sa, sb = ((tmp_path / d / "results.h5").stat().st_size for d in ("a", "b"))
    assert sb < 1.2 * sa, (sa, sb)


def test_failure_after_the_work_started_marks_the_run_failed_and_resumes(tmp_path, capsys,
                                                                         monkeypatch):
    """An exception of the work (not bad input) exits 1 with its traceback and one line
    naming the folder; the marker says failed with the error; --resume then finishes the
    run with the bits of the uninterrupted one."""
    from femplastic.weakplane import drivers

    base = ["run", *[x for s in SMALL for x in ("--set", s)], "--quiet", "--realizations", "2"]
    ref, out = tmp_path / "ref", tmp_path / "o"
    assert cli.main([*base, "--out", str(ref)]) == 0
    real, calls = drivers.quench, []

    def quench(*a, **k):  # the second realisation's quench raises (a ValueError: not input)
        calls.append(1)
        if len(calls) == 2:
            raise ValueError("a failure inside the work\nsecond line")
        return real(*a, **k)

    with monkeypatch.context() as m:
        m.setattr(drivers, "quench", quench)
        assert cli.main([*base, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "in quench" in err, err
    last = err.strip().splitlines()[-1]
    assert last == (f"femplastic run: failed: ValueError: a failure inside the work; what was "
                    f"finished is kept in {out} (marked failed); --resume {out} continues "
                    "aqs, cyclic and stress runs from their last checkpoint"), last
    marker = json.loads((out / outdir.MARKER).read_text())
    assert marker["status"] == "failed" and marker["finished"] == 1
    assert marker["error"] == "ValueError: a failure inside the work"
    with h5py.File(out / "results.h5") as f:
        assert f.attrs["realizations_finished"] == 1 and "r0000" in f["realizations"]
        assert f.attrs["status"] == "failed" and f.attrs["error"] == marker["error"]
    summ = json.loads((out / "summary.json").read_text())
    assert summ["status"] == "failed" and summ["error"] == marker["error"]
    assert summ["realizations_finished"] == 1
    assert cli.main([*base, "--resume", str(out)]) == 0
    assert json.loads((out / outdir.MARKER).read_text())["status"] == "complete"
    _same_run(ref, out)
    with h5py.File(out / "results.h5") as f:
        assert f.attrs["status"] == "complete" and "error" not in f.attrs


def test_protocol_failing_mid_record_marks_failed_and_resumes_bitwise(tmp_path, monkeypatch):
    """A cyclic run whose third chunk file cannot be written (a full disk): `RunFailed` from
    the OSError, the folder marked failed, and --resume from its checkpoint gives the
    uninterrupted run's results.h5."""
    from femplastic.cli import protocols as P
    from femplastic.cli import records

    cfg = load_config(None, ["model.L=6", "model.N=8", "run.protocol=cyclic",
                             "run.dgamma=1e-4", "run.gamma_max=0.01", "run.cycles=3"])
    ref, out = tmp_path / "ref", tmp_path / "o"
    monkeypatch.setattr(P, "STEP_CHUNK", 200)
    P.run_protocol(cfg, 5, 1, ref)
    real, calls = records._ChunkFiles.write, []

    def write(self, start, rec):
        calls.append(start)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real(self, start, rec)

    with monkeypatch.context() as m:
        m.setattr(records._ChunkFiles, "write", write)
        with pytest.raises(outdir.RunFailed) as exc:
            P.run_protocol(cfg, 5, 1, out, checkpoint_every=0)
    assert isinstance(exc.value.__cause__, OSError) and exc.value.folder == out
    marker = json.loads((out / outdir.MARKER).read_text())
    assert marker["status"] == "failed" and marker["protocol"] == "cyclic"
    assert marker["error"] == "OSError: [Errno 28] No space left on device"
    with h5py.File(out / "results.h5") as f:
        assert f.attrs["status"] == "failed" and f.attrs["realizations_finished"] == 0
    assert (out / "checkpoint.npz").exists()
    P.run_protocol(cfg, 5, 1, out, resume=True)
    da, db = _datasets(ref / "results.h5"), _datasets(out / "results.h5")
    assert da.keys() == db.keys()
    for k in da:
        assert k == "@" and da[k] == db[k] or np.array_equal(da[k], db[k]), k

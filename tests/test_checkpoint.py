"""Checkpoint and resume: bitwise the uninterrupted run, in the library and through the CLI."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import femplastic as fp
from femplastic.weakplane.drivers import checkpoint

ROOT = Path(__file__).resolve().parents[1]
KEYS = ("gamma", "stress", "stress_before", "avalanche_size", "plastic", "mean_stress")


def test_resume_from_a_saved_checkpoint_is_bitwise_the_uninterrupted_run(tmp_path):
    p = fp.ModelParams(L=8, N=12, T=0.25)
    st0 = fp.quench(p, np.random.default_rng(3), max_events=200)
    kw = dict(gamma_end=0.3, dgamma=1e-3, record_events=True)
    snaps = []
    full = fp.aqs(st0, p, np.random.default_rng(8), checkpoint=snaps.append,
                  checkpoint_every=0.0, **kw)
    assert len(snaps) > 10
    tag = {"version": fp.__version__, "case": "library"}
    path = checkpoint.save(tmp_path / "ck.npz", snaps[len(snaps) // 2], tag)
    assert not (tmp_path / "ck.npz.tmp").exists()
    ck, _, _ = checkpoint.load(path, tag)
    again = fp.aqs(st0, p, np.random.default_rng(12345), resume=ck, **kw)
    for k in KEYS:
        assert np.array_equal(getattr(full, k), getattr(again, k)), k
    for k in ("stress", "eps_pl", "tauc", "theta", "slips"):
        assert np.array_equal(getattr(full.state, k), getattr(again.state, k)), k
    assert full.state.n_events == again.state.n_events
    for k in ("element", "system", "theta", "tau", "amplitude", "avalanche"):
        assert np.array_equal(getattr(full.events, k), getattr(again.events, k)), k
    with pytest.raises(ValueError, match="different version or configuration.*case"):
        checkpoint.load(path, {"version": fp.__version__, "case": "other"})
    with pytest.raises(ValueError, match="resume"):
        fp.aqs(st0, p, np.random.default_rng(1), resume=ck, gamma_end=0.4, dgamma=1e-3)


def _run(args, **kw):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "femplastic", "run", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def test_cli_killed_after_checkpoint_resumes_to_identical_results(tmp_path):
    h5py = pytest.importorskip("h5py")
    conf = ["--set", "model.L=8", "--set", "model.N=12", "--set", "run.gamma_end=2.0",
            "--set", "run.dgamma=1e-3", "--set", "run.fields_every=0.5", "--seed", "4",
            "--quiet"]
    ref, part = tmp_path / "ref", tmp_path / "part"
    assert _run([*conf, "--out", str(ref)]).wait(timeout=600) == 0
    proc = _run([*conf, "--out", str(part), "--checkpoint-every", "0"])
    t0 = time.time()
    while not (part / "checkpoint.npz").exists():
        assert proc.poll() is None, "finished before any checkpoint"
        assert time.time() - t0 < 600
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with h5py.File(part / "results.h5") as f:  # the killed run's folder says it is unfinished
        assert f.attrs["status"] == "running"
    # a different configuration is refused with a clear message
    bad = _run([*conf, "--set", "model.k=3.0", "--resume", str(part)])
    _, err = bad.communicate(timeout=600)
    assert bad.returncode == 2 and b"different version or configuration" in err
    assert b"model.k: run 2.18, now 3.0" in err and len(err.splitlines()) == 1, err
    res = _run([*conf, "--resume", str(part)])
    out, err = res.communicate(timeout=600)
    assert res.returncode == 0, err.decode()
    assert not (part / "checkpoint.npz").exists()

    def datasets(path):
        out = {}
        with h5py.File(path) as f:
            f.visititems(lambda n, o: out.__setitem__(n, o[()])
                         if isinstance(o, h5py.Dataset) else None)
        return out

    a, b = datasets(ref / "results.h5"), datasets(part / "results.h5")
    assert a.keys() == b.keys() and len(a) > 5
    for k in a:
        assert np.array_equal(a[k], b[k]), k
    # the summary's statistics, merged over the same chunks, and the curve file: the same
    sa, sb = (json.loads((d / "summary.json").read_text())["stationary"] for d in (ref, part))
    assert sa["mean_stress"] is not None and sa == sb
    assert (ref / "curve.csv").read_bytes() == (part / "curve.csv").read_bytes()

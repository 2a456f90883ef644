import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from femplastic import cli
from femplastic.ensemble import (
    Ensemble,
    bootstrap,
    curve_stats,
    grid_points,
    load_store,
    model_realization,
    pooled,
)

SMALL = {"model.L": 5, "model.N": 4, "model.T": 0.0, "run.gamma_end": 0.05,
         "run.dgamma": 1e-3, "run.stationary_from": 0.02}
SMALL_SET = [a for k, v in SMALL.items() for a in ("--set", f"{k}={v}")]


def toy(point, rng):
    """A trivial realisation: draws from rng only, a nested dict and a string."""
    return {"x": rng.normal(size=3) + point["a"], "u": float(rng.random()),
            "n": int(rng.integers(0, 100)), "label": f"a={point['a']}",
            "sub": {"y": rng.random(2)}}


def big(point, rng):
    """Arrays above the compression threshold (compressed on the worker)."""
    return {"f": rng.normal(size=10000), "b": rng.random(5000) > 0.5,
            "i": rng.integers(-5, 5, size=(100, 70)), "f32": rng.normal(size=5000).astype("f4"),
            "be": rng.normal(size=5000).astype(">f8"), "c": rng.normal(size=5000) + 1j}


def failing(point, rng):
    if point["a"] == 1:
        raise RuntimeError("boom")
    return {"u": float(rng.random())}


def not_a_dict(point, rng):
    return [1, 2]


def crash(point, rng):
    if point["a"] == 1:
        time.sleep(0.5)
        os._exit(3)  # a worker dying (OOM killer, segfault)
    return {"u": float(rng.random())}


def assert_same_results(a, b):
    assert a.points == b.points
    for ra, rb in zip(a.results, b.results, strict=True):
        assert sorted(ra) == sorted(rb)
        for r in ra:
            assert_same_dict(ra[r], rb[r])


def assert_same_dict(x, y):
    assert sorted(x) == sorted(y)
    for k in x:
        if isinstance(x[k], dict):
            assert_same_dict(x[k], y[k])
        else:
            assert np.array_equal(x[k], y[k]), k


# ---------------------------------------------------------------- seeds and scheduling

def test_one_and_two_workers_identical_and_seeded_per_realisation(tmp_path):
    points = [SMALL, {**SMALL, "model.k": 1.5}]
    s1, s2 = tmp_path / "w1.h5", tmp_path / "w2.h5"
    r1 = Ensemble(model_realization, points, realizations=3, seed=7, store=s1).run(
        workers=1, progress=False)
    r2 = Ensemble(model_realization, points, realizations=3, seed=7, store=s2).run(
        workers=2, progress=False)
    assert (r1.backend, r2.backend) == ("serial", "processes(2)")
    assert r1.computed == r2.computed == 6
    a, b = load_store(s1), load_store(s2)
    assert_same_results(a, b)
    # realisation r of point i is default_rng(SeedSequence(seed, spawn_key=(i, r)))
    rng = np.random.default_rng(np.random.SeedSequence(7, spawn_key=(1, 2)))
    direct = model_realization(dict(points[1]), rng)
    assert_same_dict({k: np.asarray(v) for k, v in direct.items()}, a.results[1][2])
    assert a.stack("stress", 1).shape == (3, 50)
    assert not np.array_equal(a.results[0][0]["stress"], a.results[1][0]["stress"])


def test_more_realisations_extend_the_store(tmp_path):
    store = tmp_path / "e.h5"
    Ensemble(toy, [{"a": 0}, {"a": 1}], realizations=2, seed=3, store=store).run(workers=1)
    rep = Ensemble(toy, [{"a": 0}, {"a": 1}], realizations=4, seed=3, store=store).run(workers=1)
    assert (rep.skipped, rep.computed) == (4, 4)
    ref = tmp_path / "ref.h5"
    Ensemble(toy, [{"a": 0}, {"a": 1}], realizations=4, seed=3, store=ref).run(workers=1)
    assert_same_results(load_store(store), load_store(ref))
    d = load_store(store)
    assert d.results[1][3]["label"] == "a=1" and d.results[0][2]["sub"]["y"].shape == (2,)
    with h5py.File(store) as f:
        assert f.attrs["femplastic_version"] and f.attrs["realizations"] == 4
        assert f["points/p0001"].attrs["a"] == 1
        assert list(f["points/p0001/r0003"].attrs["spawn_key"]) == [1, 3]


def test_common_seeding_reproduces_femplastic_run(tmp_path):
    from femplastic.ensemble import config_point
    from femplastic.weakplane.params import load_config

    sets = [f"{k}={v}" for k, v in SMALL.items()]
    cfg = load_config(None, sets)
    cli.run_main_job(cfg, seed=4, realizations=2, out=tmp_path / "run")
    store = tmp_path / "e.h5"
    Ensemble(model_realization, config_point(cfg), realizations=2, seed=4, store=store,
             seeding="common").run(workers=1)
    d = load_store(store)
    with h5py.File(tmp_path / "run" / "results.h5") as f:
        for r in range(2):
            assert np.array_equal(f[f"realizations/r{r:04d}/stress"][()], d.results[0][r]["stress"])


def test_large_arrays_are_compressed_and_read_back_exactly(tmp_path):
    store = tmp_path / "e.h5"
    Ensemble(big, {"a": 0}, realizations=2, seed=3, store=store).run(workers=1)
    d = load_store(store)
    direct = big({"a": 0}, np.random.default_rng(np.random.SeedSequence(3, spawn_key=(0, 1))))
    for k, v in direct.items():
        assert d.results[0][1][k].shape == v.shape and np.array_equal(d.results[0][1][k], v), k
    with h5py.File(store) as f:
        ds = f["points/p0000/r0001/f"]
        assert ds.compression == "gzip" and ds.shuffle and ds.chunks == (10000,)
        assert ds.id.get_storage_size() < 0.97 * 80000


# ---------------------------------------------------------------- resume

KILL_SCRIPT = """
import os, sys, time
from pathlib import Path
from femplastic.ensemble import Ensemble

def slow(point, rng):
    i, r = rng.bit_generator.seed_seq.spawn_key
    (Path(os.environ["ENS_CALLS"]) / f"p{i}_r{r}_{os.getpid()}_{time.monotonic_ns()}").touch()
    time.sleep(float(os.environ["ENS_SLEEP"]))
    return {"x": rng.normal(size=4) + point["a"], "u": float(rng.random())}

if __name__ == "__main__":
    Ensemble(slow, [{"a": 0.0}, {"a": 1.5}], realizations=5, seed=11,
             store=sys.argv[1]).run(workers=int(sys.argv[2]), progress=False)
"""

ALL = {(i, r) for i in range(2) for r in range(5)}


def _calls(d):
    out = []
    for f in d.iterdir():
        i, r = f.name.split("_")[:2]
        out.append((int(i[1:]), int(r[1:])))
    return out


def _launch(tmp_path, store, calls, workers, sleep):
    calls.mkdir()
    env = {**os.environ, "ENS_CALLS": str(calls), "ENS_SLEEP": str(sleep)}
    script = tmp_path / "ens_kill_job.py"
    return subprocess.Popen([sys.executable, str(script), str(store), str(workers)],
                            env=env, start_new_session=True, stderr=subprocess.PIPE)


def test_killed_run_resumes_without_recomputing(tmp_path, monkeypatch):
    (tmp_path / "ens_kill_job.py").write_text(textwrap.dedent(KILL_SCRIPT))
    store = tmp_path / "killed.h5"
    c1, c2, c3 = tmp_path / "c1", tmp_path / "c2", tmp_path / "c3"
    p = _launch(tmp_path, store, c1, workers=2, sleep=0.4)
    t0 = time.monotonic()
    while len(list(c1.iterdir())) < 6 and p.poll() is None and time.monotonic() - t0 < 60:
        time.sleep(0.02)
    assert p.poll() is None, p.stderr.read().decode()
    os.killpg(p.pid, signal.SIGKILL)  # the driver and its workers, as a batch system would
    p.wait()
    with h5py.File(store, "r") as f:
        done = {(i, int(n[1:])) for i in range(2) for n in f[f"points/p{i:04d}"]
                if f[f"points/p{i:04d}/{n}"].attrs.get("complete") == 1}
    assert 2 <= len(done) < 10
    first = _calls(c1)
    assert done <= set(first) and len(first) == len(set(first))

    p = _launch(tmp_path, store, c2, workers=1, sleep=0.0)  # resume, scheduled differently
    assert p.wait(timeout=120) == 0, p.stderr.read().decode()
    second = _calls(c2)
    assert sorted(second) == sorted(ALL - done)  # each missing one once, no finished one again

    ref = tmp_path / "ref.h5"  # uninterrupted, in this process
    c3.mkdir()
    monkeypatch.setenv("ENS_CALLS", str(c3))
    monkeypatch.setenv("ENS_SLEEP", "0")
    monkeypatch.syspath_prepend(str(tmp_path))
    import ens_kill_job

    Ensemble(ens_kill_job.slow, [{"a": 0.0}, {"a": 1.5}], realizations=5, seed=11, store=ref).run(
        workers=1)
    assert sorted(_calls(c3)) == sorted(ALL)
    a, b = load_store(store), load_store(ref)
    assert_same_results(a, b)
    assert a.incomplete == 0
    with h5py.File(store) as f:
        for i in range(2):
            assert sorted(f[f"points/p{i:04d}"]) == [f"r{r:04d}" for r in range(5)]


def test_incomplete_groups_are_discarded_and_recomputed(tmp_path):
    store = tmp_path / "e.h5"
    ens = Ensemble(toy, [{"a": 0}, {"a": 1}], realizations=3, seed=5, store=store)
    ens.run(workers=1)
    ref = load_store(store)
    with h5py.File(store, "a") as f:
        g = f["points/p0001/r0002"]
        del g.attrs["complete"]
        g["x"][0] = 99.0
        del f["points/p0000/r0001/u"]
        del f["points/p0000/r0001"].attrs["complete"]
    assert load_store(store).incomplete == 2
    assert ens.pending() == [(0, 1), (1, 2)]
    rep = ens.run(workers=1)
    assert (rep.discarded, rep.computed, rep.skipped) == (2, 2, 4)
    assert_same_results(load_store(store), ref)
    assert ens.run(workers=1).computed == 0


def test_store_of_another_ensemble_is_refused(tmp_path):
    store = tmp_path / "e.h5"
    Ensemble(toy, {"a": 0}, realizations=1, seed=5, store=store).run(workers=1)
    for kwargs, what in [(dict(seed=6), "seed differs"),
                         (dict(points=[{"a": 1}]), r"a differs \(stored 0, requested 1\)"),
                         (dict(points=[{"a": 0}, {"a": 1}]), "number of points differs"),
                         (dict(func=failing), "func differs"),
                         (dict(seeding="common"), "seeding differs")]:
        args = dict(func=toy, points={"a": 0}, realizations=1, seed=5, store=store) | kwargs
        with pytest.raises(ValueError, match=what):
            Ensemble(**args).run(workers=1)
    other = tmp_path / "plain.h5"
    with h5py.File(other, "w") as f:
        f["x"] = 1
    with pytest.raises(ValueError, match="not an ensemble store"):
        Ensemble(toy, {"a": 0}, realizations=1, store=other).run(workers=1)


def test_failing_realisation_names_itself_and_keeps_the_rest(tmp_path):
    store = tmp_path / "e.h5"
    ens = Ensemble(failing, [{"a": 0}, {"a": 1}], realizations=2, seed=1, store=store)
    with pytest.raises(RuntimeError, match=r"realisation 0 of point 1 .*boom"):
        ens.run(workers=1)
    assert ens.pending() == [(1, 0), (0, 1), (1, 1)]  # (0, 0) was kept
    with pytest.raises(RuntimeError, match="not_a_dict failed .* must return a dict"):
        Ensemble(not_a_dict, {"a": 0}, realizations=1, store=tmp_path / "n.h5").run(workers=1)


def test_dead_worker_keeps_finished_realisations(tmp_path):
    store = tmp_path / "e.h5"
    ens = Ensemble(crash, [{"a": 0}, {"a": 1}], realizations=3, seed=1, store=store)
    with pytest.raises(RuntimeError, match="a worker process died"):
        ens.run(workers=2)
    pending = ens.pending()
    assert (0, 0) not in pending and {(1, r) for r in range(3)} <= set(pending)
    assert load_store(store).incomplete == 0


# ---------------------------------------------------------------- Dask

def test_dask_local_cluster_client_and_scheduler_address(tmp_path):
    distributed = pytest.importorskip("distributed")
    points = [SMALL, {**SMALL, "model.lam": 1.8}]
    ref = tmp_path / "ref.h5"
    Ensemble(model_realization, points, realizations=2, seed=2, store=ref).run(workers=1)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            rep = Ensemble(model_realization, points, realizations=2, seed=2,
                           store=tmp_path / "c.h5").run(client=client)
            assert rep.backend.startswith("dask(") and rep.computed == 4
            assert client.status == "running"  # a client given is left open
        rep = Ensemble(model_realization, points, realizations=2, seed=2,
                       store=tmp_path / "s.h5").run(scheduler=cluster.scheduler_address)
        assert rep.computed == 4
    assert_same_results(load_store(tmp_path / "c.h5"), load_store(ref))
    assert_same_results(load_store(tmp_path / "s.h5"), load_store(ref))


def test_missing_dask_gives_install_hint(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    ens = Ensemble(toy, {"a": 0}, realizations=1, store=tmp_path / "e.h5")
    with pytest.raises(ImportError, match=r"femplastic\[distributed\]"):
        ens.run(scheduler="tcp://127.0.0.1:8786")
    assert not (tmp_path / "e.h5").exists()


# ---------------------------------------------------------------- aggregation

def test_curve_stats_by_hand():
    x = [np.array([0.0, 1.0, 2.0])] * 2
    y = [np.array([0.0, 2.0, 4.0]), np.array([2.0, 2.0, 2.0])]
    c = curve_stats(x, y)
    assert np.array_equal(c.grid, x[0])
    assert np.allclose(c.mean, [1, 2, 3]) and np.allclose(c.std, [np.sqrt(2), 0, np.sqrt(2)])
    assert np.allclose(c.sem, c.std / np.sqrt(2)) and list(c.count) == [2, 2, 2]
    c = curve_stats(x, y, grid=np.array([0.5, 1.5, 3.0]))
    assert np.allclose(c.mean[:2], [1.5, 2.5]) and np.isnan(c.mean[2]) and c.count[2] == 0
    # a run stopped early: its curve is a prefix of the others
    c = curve_stats([*x, np.array([0.0, 1.0])], [*y, np.array([4.0, 5.0])])
    assert list(c.count) == [3, 3, 2]
    assert np.allclose(c.mean, [2, 3, 3]) and np.allclose(c.std[:2], [2, np.sqrt(3)])
    with pytest.raises(ValueError, match="different x"):
        curve_stats([np.array([0.0, 1.0]), np.array([0.0, 2.0])], [np.zeros(2)] * 2)


def test_pooled_and_bootstrap():
    assert np.array_equal(pooled([np.array([1, 2]), 3.0, np.array([4.0])]), [1, 2, 3, 4])
    rng = np.random.default_rng(0)
    x = rng.normal(size=30)
    b = bootstrap(x, np.mean, np.random.default_rng(1), n_resamples=20000)
    # the bootstrap variance of the mean is the plug-in variance / n
    assert b.estimate == pytest.approx(x.mean())
    assert b.stderr == pytest.approx(x.std() / np.sqrt(30), rel=0.02)
    assert b.low < b.estimate < b.high
    again = bootstrap(list(x), np.mean, np.random.default_rng(1), n_resamples=20000)
    assert np.array_equal(again.replicates, b.replicates)  # same Generator, same replicates
    # realisations resampled whole: each block equal -> pooled mean = mean of block values
    blocks = [np.full(k + 1, v) for k, v in enumerate(x[:10])]
    w = np.arange(1, 11)
    bb = bootstrap(blocks, np.mean, np.random.default_rng(2), n_resamples=200)
    assert bb.estimate == pytest.approx((w * x[:10]).sum() / w.sum())
    with pytest.raises(ValueError, match="at least 2"):
        bootstrap(x[:1], np.mean, rng)
    with pytest.raises(TypeError, match="Generator"):
        bootstrap(x, np.mean, 0)


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("kwargs,exc,msg", [
    (dict(realizations=0), ValueError, "realizations"),
    (dict(realizations=1.5), ValueError, "realizations"),
    (dict(seed=-1), ValueError, "seed"),
    (dict(points=[]), ValueError, "at least one"),
    (dict(points=[{"a": [1]}]), TypeError, r"points\[0\]\['a'\]"),
    (dict(func=lambda p, r: {}), TypeError, "top level"),
    (dict(seeding="same"), ValueError, "seeding"),
])
def test_bad_ensemble_arguments(tmp_path, kwargs, exc, msg):
    args = dict(func=toy, points={"a": 0}, realizations=2, seed=0, store=tmp_path / "e.h5")
    with pytest.raises(exc, match=msg):
        Ensemble(**(args | kwargs))
    assert not (tmp_path / "e.h5").exists()


def test_bad_run_arguments_and_model_points(tmp_path):
    ens = Ensemble(toy, {"a": 0}, realizations=1, store=tmp_path / "e.h5")
    with pytest.raises(ValueError, match="workers"):
        ens.run(workers=0)
    with pytest.raises(ValueError, match="at most one"):
        ens.run(workers=2, scheduler="tcp://x:1")
    with pytest.raises(TypeError, match="client"):
        ens.run(client=object())
    with pytest.raises(ValueError, match=r"points\[1\]: unknown config key.*model\.x"):
        Ensemble(model_realization, [SMALL, {"model.x": 1}], realizations=1,
                 store=tmp_path / "m.h5")
    with pytest.raises(ValueError, match="N must be a positive multiple of 4"):
        Ensemble(model_realization, {"model.N": 6}, realizations=1, store=tmp_path / "m.h5")
    assert not (tmp_path / "e.h5").exists() and not (tmp_path / "m.h5").exists()


# ---------------------------------------------------------------- CLI

def test_cli_ensemble_and_resume(tmp_path, capsys):
    out = tmp_path / "ens.h5"
    args = ["ensemble", *SMALL_SET, "--realizations", "3", "--workers", "1", "--seed", "2",
            "--out", str(out), "--quiet"]
    assert cli.main(args) == 0
    assert "computed 3, already in the store 0" in capsys.readouterr().out
    d = load_store(out)
    assert d.points[0]["model.L"] == 5 and d.points[0]["run.alpha"] == 0.0  # full config
    assert d.definition["func"] == "femplastic.ensemble:model_realization"
    assert d.stack("stationary_mean").shape == (3,)
    assert cli.main(args) == 0
    assert "computed 0, already in the store 3" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:  # same store, other parameters
        cli.main([*args[:-3], "--set", "model.k=1.9", "--out", str(out)])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "model.k differs (stored 2.18, requested 1.9)" in err, err


def test_cli_sweep_grid(tmp_path, capsys):
    out = tmp_path / "sweep.h5"
    assert cli.main(["sweep", *SMALL_SET, "--grid", "model.k=1.5,2.5", "--grid",
                     "model.lam=1.5,2.0,2.5", "--realizations", "2", "--workers", "1",
                     "--no-curves", "--out", str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "6 point(s) x 2 realisation(s)" in text and "model.lam" in text
    d = load_store(out)
    assert [(p["model.k"], p["model.lam"]) for p in d.points] == [
        (1.5, 1.5), (1.5, 2.0), (1.5, 2.5), (2.5, 1.5), (2.5, 2.0), (2.5, 2.5)]
    assert "stress" not in d.results[0][0] and "stationary_drops" in d.results[5][1]
    points, keys = grid_points(None, ["model.L=5"], ["model.k=1.5, 2.5"])
    assert keys == ["model.k"] and [p["model.k"] for p in points] == [1.5, 2.5]


@pytest.mark.parametrize("args,msg", [
    (["--grid", "model.x=1,2"], "unknown config key(s) model.x"),
    (["--grid", "model.k"], "--grid expects section.key=v1,v2"),
    (["--grid", "model.k=1,,2"], "--grid model.k: empty value"),
    (["--grid", "k=1,2"], "section.key"),
    (["--grid", "model.k=1,1"], "duplicate"),
    (["--grid", "model.N=4,6"], "N must be a positive multiple of 4"),
    (["--grid", "model.k=1", "--realizations", "0"], "--realizations must be >= 1"),
    (["--grid", "model.k=1", "--workers", "0"], "--workers must be >= 1"),
    (["--grid", "model.k=1", "--set", "model.k=2"], "both in --set and --grid"),
    ([], "--grid: give at least one"),
])
def test_cli_sweep_bad_input_exits_2(tmp_path, capsys, args, msg):
    out = tmp_path / "x.h5"
    full = ["sweep", *args, "--out", str(out)]
    if "--realizations" not in args:
        full += ["--realizations", "1"]
    with pytest.raises(SystemExit) as e:
        cli.main(full)
    assert e.value.code == 2
    assert msg in capsys.readouterr().err
    assert not out.exists()


def test_cli_ensemble_bad_input_exits_2(tmp_path, capsys):
    out = tmp_path / "x.h5"
    for args, msg in [(["--realizations", "0"], "--realizations"),
                      (["--realizations", "1", "--workers", "0"], "--workers"),
                      (["--realizations", "1", "--set", "model.x=1"], "unknown config key"),
                      (["--realizations", "1", "--workers", "2", "--scheduler", "tcp://a:1"],
                       "exclusive")]:
        with pytest.raises(SystemExit) as e:
            cli.main(["ensemble", *args, "--out", str(out)])
        assert e.value.code == 2 and msg in capsys.readouterr().err
    assert not out.exists()


def test_store_created_with_parents_and_no_leftovers(tmp_path):
    store = Path(tmp_path) / "deep" / "dir" / "e.h5"
    rep = Ensemble(toy, {"a": 0}, realizations=2, store=str(store)).run(workers=1)
    assert rep.store == store and store.exists()
    assert not list(store.parent.glob("*.part"))

"""Protocol runs of `femplastic run`: every protocol reports progress, and the long records
of rate/creep are streamed to chunk files (memory holds one) with the same results.h5 as
the in-memory records of the library drivers."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from femplastic.cli import protocols as P
from femplastic.cli import run as R
from femplastic.weakplane.drivers import quench
from femplastic.weakplane.drivers import rate as RD
from femplastic.weakplane.params import load_config

BASE = ["model.L=6", "model.N=8", "model.T=0"]


@pytest.mark.parametrize("proto,extra", [
    ("rate", ["run.gdot=0.01", "run.t_end=3"]),
    ("creep", ["run.target_stress=0.2", "run.t_end=3"]),
])
def test_rate_and_creep_records_stream_in_chunks_same_as_in_memory(tmp_path, monkeypatch,
                                                                    proto, extra):
    monkeypatch.setattr(P, "RATE_CHUNK", 7)  # 30 records: 5 chunk files
    writes = []
    real = R._ChunkFiles.write

    def write(self, start, rec):
        writes.append((start, rec["time"].size))
        return real(self, start, rec)

    monkeypatch.setattr(R._ChunkFiles, "write", write)
    cfg = load_config(None, [*BASE, f"run.protocol={proto}", *extra])
    out = tmp_path / "o"
    summ = P.run_protocol(cfg, 4, 1, out)
    assert writes == [(0, 7), (7, 7), (14, 7), (21, 7), (28, 2)]  # never more than a chunk
    assert not (out / "running").exists()
    # the in-memory path (the library driver's records) on the same realisation
    rng = np.random.default_rng(np.random.SeedSequence(4).spawn(1)[0])
    mem = P._rate_or_creep(quench(cfg.model, rng), cfg.model, rng, cfg.run,
                           cfg.run.settings(), creep=proto == "creep")
    assert mem.streamed is None and mem.records["time"].size == 30
    with h5py.File(out / "results.h5") as f:
        g = f["realizations/r0000"]
        assert sorted(g) == sorted(mem.records)
        for k in g:
            assert np.array_equal(g[k][()], mem.records[k]), k  # bitwise
        stored = json.loads(g.attrs["summary"])
    assert stored["final_gamma"] == mem.summary["final_gamma"]
    for k in ("late_mean_stress", "late_mean_strain_rate"):  # merged per chunk
        assert stored[k] == pytest.approx(mem.summary[k], rel=1e-12, abs=1e-15)
    assert summ["per_realization"][0] == stored
    csv = np.loadtxt(out / "curve.csv", delimiter=",", skiprows=1)
    assert csv.shape == (30, 4)
    assert np.array_equal(csv, np.loadtxt([f"{a:.10g},{b:.10g},{c:.10g},{d:.10g}" for a, b, c, d
                                           in mem.curve[1]], delimiter=","))


def test_rate_driver_holds_one_block_with_a_sink():
    cfg = load_config(None, BASE)
    rng = np.random.default_rng(1)
    state = quench(cfg.model, rng)
    tp = RD.RateParams(dt=0.01)
    blocks, fractions = [], []
    r = RD.shear_rate(state, tp, np.random.default_rng(2), gdot=0.01, t_end=1.0,
                      sink=blocks.append, sink_rows=3, progress=fractions.append)
    ref = RD.shear_rate(state, tp, np.random.default_rng(2), gdot=0.01, t_end=1.0)
    assert [b["time"].size for b in blocks] == [3, 3, 3, 1] and r.time.size == 0
    for k in ("time", "gamma", "stress", "plastic_fraction", "strain_rate", "mean_tauc"):
        assert np.array_equal(np.concatenate([b[k] for b in blocks]), getattr(ref, k)), k
    assert fractions[-1] == 1.0
    with pytest.raises(ValueError, match="sink_rows"):
        RD.shear_rate(state, tp, rng, gdot=0.01, t_end=1.0, sink=blocks.append, sink_rows=0)


@pytest.mark.parametrize("proto,extra", [
    ("bauschinger", ["run.gamma_end=0.05", "run.gamma_reload=0.01", "run.dgamma=1e-3"]),
    ("local-yield", ["run.gamma_end=0.02", "run.patch=3", "run.dgamma=1e-3"]),
    ("rate", ["run.gdot=0.01", "run.t_end=1"]),
    ("creep", ["run.target_stress=0.2", "run.t_end=1"]),
])
def test_every_protocol_reports_progress(tmp_path, monkeypatch, capsys, proto, extra):
    monkeypatch.setattr(R, "PROGRESS_EVERY_S", 0.0)  # a line at every report
    cfg = load_config(None, [*BASE, f"run.protocol={proto}", *extra])
    P.run_protocol(cfg, 1, 1, tmp_path / "o", progress="lines")
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if x.startswith(f"femplastic run: {proto} 1/1: ")]
    assert lines, err[-2000:]
    pct = [float(x.split(": ")[2].split(" %")[0]) for x in lines]
    assert pct == sorted(pct) and pct[-1] == 100, pct


def _joined(blocks):
    return {k: np.concatenate([b[k] for b in blocks]) for k in blocks[0]}


def _with_cycles(run, blocks):
    """A cyclic run's per-cycle arrays from its ``"cycles"`` blocks (the strobes' last entry
    stays in the run), or the run itself when there are none (another driver)."""
    if not blocks:
        return run
    from types import SimpleNamespace as NS

    j = _joined(blocks)
    for k in ("strobe_stress", "strobe_energy"):
        j[k] = np.concatenate([j[k], getattr(run, k)])
    return NS(**{**vars(run), **j})


def test_cyclic_and_stress_stream_bitwise_and_resume_across_blocks():
    """Streamed step records (sink=, blocks of 7 rows) are bitwise the in-memory records,
    and a checkpoint taken after several hand-overs resumes to the same bits."""
    import femplastic as fp
    from femplastic.weakplane import path_kernels as PK
    from femplastic.weakplane.drivers.cyclic import cyclic
    from femplastic.weakplane.drivers.stress import stress_controlled

    p = fp.ModelParams(L=8, N=8, T=0.0)
    q = fp.quench(p, np.random.default_rng(3))
    per_cycle = ("strobe_stress", "strobe_energy", "events", "plastic_net", "plastic_abs",
                 "loop_work", "dissipation", "balance")
    runs = [  # (driver, kwargs, per-run fields compared besides the step records)
        (cyclic, dict(gamma_max=0.03, cycles=3, dgamma=1e-3), per_cycle),
        (stress_controlled, dict(stress_end=0.45, dstress=3.1e-3), ("flowed",)),
        (stress_controlled, dict(stress_end=2.0, dstress=1e-2, gamma_limit=0.05), ("flowed",)),
    ]
    for drive, kw, fields in runs:
        ref = drive(q, p, np.random.default_rng(1), **kw)
        blocks, cks = [], []
        run = drive(q, p, np.random.default_rng(1), sink=blocks.append, sink_rows=7,
                    checkpoint=cks.append, checkpoint_every=0, **kw)
        got = _joined(blocks)
        assert max(b["stress"].size for b in blocks) == 7 and len(blocks) > 5  # bounded
        assert run.stress.size == 0  # the step records went to the sink
        for k, v in got.items():
            assert v.dtype == getattr(ref, k).dtype and np.array_equal(v, getattr(ref, k)), k
        for f in fields:
            assert np.array_equal(getattr(run, f), getattr(ref, f)), f
        assert np.array_equal(run.state.stress, ref.state.stress)
        assert np.array_equal(run.avalanches.dissipation, ref.avalanches.dissipation)
        held = [int(c.records["ipos"][PK.R0]) for c in cks]
        ck = cks[next(i for i, r0 in enumerate(held) if r0 >= 14)]  # after >= 2 hand-overs
        r0 = int(ck.records["ipos"][PK.R0])
        tail = []
        res = drive(q, p, np.random.default_rng(99), sink=tail.append, sink_rows=7, resume=ck,
                    **kw)
        rest = _joined(tail)
        for k in got:
            assert np.array_equal(np.concatenate([got[k][:r0], rest[k]]), getattr(ref, k)), k
        for f in fields:
            assert np.array_equal(getattr(res, f), getattr(ref, f)), f
        assert np.array_equal(res.state.stress, ref.state.stress)
        with pytest.raises(ValueError, match="sink_rows"):  # blocks of another size
            drive(q, p, np.random.default_rng(99), sink=tail.append, sink_rows=8, resume=ck,
                  **kw)


def test_cyclic_and_stress_logs_stream_bitwise_and_resume():
    """The avalanche log and events streamed (log_sink=) in blocks of 1, 5 and 64 rows are,
    joined, bitwise the in-memory log and events (cyclic's per-cycle sums too); the returned
    log is empty, a checkpoint holds only what was not handed over, and a resume from it
    continues the blocks to the same bits."""
    import femplastic as fp
    from femplastic.weakplane import path_kernels as PK
    from femplastic.weakplane.drivers.avalanche_log import LOG_COLUMNS
    from femplastic.weakplane.drivers.cyclic import cyclic
    from femplastic.weakplane.drivers.stress import stress_controlled

    p = fp.ModelParams(L=10, T=0.0)
    q = fp.quench(p, np.random.default_rng(3))
    per_cycle = ("events", "plastic_net", "plastic_abs", "dissipation", "balance", "stress")
    runs = [(cyclic, dict(gamma_max=0.05, cycles=3, dgamma=2e-4), per_cycle),
            (stress_controlled, dict(stress_end=0.6, dstress=5e-4), ("stress", "gamma"))]
    for drive, kw, fields in runs:
        ref = drive(q, p, np.random.default_rng(1), record_events=True, **kw)
        rav, rev = ref.avalanches, ref.avalanches.events
        assert rav.size.size > 20 and rev["element"].size > 40
        for rows in (1, 5, 64):
            got = {"avalanches": [], "events": [], "cycles": []}
            cks = []
            run = drive(q, p, np.random.default_rng(1), record_events=True, sink_rows=rows,
                        log_sink=lambda kind, b, got=got: got[kind].append(b),
                        checkpoint=cks.append, checkpoint_every=0, **kw)
            av, ev = _joined(got["avalanches"]), _joined(got["events"])
            assert set(av) == set(LOG_COLUMNS) and set(ev) == set(rev)
            assert max(b["size"].size for b in got["avalanches"]) <= rows  # bounded
            for k in LOG_COLUMNS:
                assert av[k].dtype == getattr(rav, k).dtype, k
                assert np.array_equal(av[k], getattr(rav, k)), k
            for k in rev:
                assert ev[k].dtype == rev[k].dtype and np.array_equal(ev[k], rev[k]), k
            assert run.avalanches.size.size == 0 and run.avalanches.events["element"].size == 0
            full = _with_cycles(run, got["cycles"])
            for f in fields:
                assert np.array_equal(getattr(full, f), getattr(ref, f)), f
            if rows != 5:
                continue
            ck = cks[len(cks) // 2]
            a0 = int(ck.records["ipos"][PK.A0])
            assert a0 >= 5 and ck.records["alog"].shape[0] <= 5  # only rows not handed over
            tail = {"avalanches": [], "events": [], "cycles": []}
            res = drive(q, p, np.random.default_rng(9), record_events=True, sink_rows=rows,
                        log_sink=lambda kind, b, tail=tail: tail[kind].append(b), resume=ck,
                        **kw)
            rest, rest_ev = _joined(tail["avalanches"]), _joined(tail["events"])
            for k in LOG_COLUMNS:
                assert np.array_equal(np.concatenate([av[k][:a0], rest[k]]),
                                      getattr(rav, k)), k
            n_before = rev["element"].size - rest_ev["element"].size  # handed over before
            for k in rev:
                assert np.array_equal(np.concatenate([ev[k][:n_before], rest_ev[k]]),
                                      rev[k]), k
            if drive is cyclic:  # (no step sink: the cycle rows are settled at the end)
                assert int(ck.records["cycles_handed"]) == 0 and not got["cycles"][0:0]
            full = _with_cycles(res, tail["cycles"])
            for f in fields:
                assert np.array_equal(getattr(full, f), getattr(ref, f)), f
            assert np.array_equal(res.state.stress, ref.state.stress)


def test_cyclic_cycle_rows_stream_bitwise_bounded_and_resume():
    """With sink= and log_sink=, cyclic's per-cycle rows ("cycles" blocks of 1, 3 and 64
    rows) are handed over as the run goes and are, joined, bitwise the in-memory per-cycle
    arrays; memory (a checkpoint) holds only the open cycles and the rows not handed over;
    a resume from a checkpoint after >= 2 handed cycles, and from one in main's previous
    layout (every cycle from 0, ``loop_acc``/``cycle_acc`` of the whole run), continues the
    blocks to the same bits."""
    import femplastic as fp
    from femplastic.weakplane import path_kernels as PK
    from femplastic.weakplane.drivers.cyclic import cyclic

    p = fp.ModelParams(L=10, T=0.0)
    q = fp.quench(p, np.random.default_rng(3))
    kw = dict(gamma_max=0.02, cycles=9, dgamma=1e-3)
    ref = cyclic(q, p, np.random.default_rng(1), **kw)
    per_cycle = ("strobe_stress", "strobe_energy", "events", "plastic_net", "plastic_abs",
                 "loop_work", "dissipation", "balance")
    assert ref.events.sum() > 20

    def drive(rows, rng, **more):
        got = {"avalanches": [], "events": [], "cycles": []}
        run = cyclic(q, p, rng, sink=lambda b: None, sink_rows=rows,
                     log_sink=lambda kind, b: got[kind].append(b), **kw, **more)
        return run, got["cycles"]

    for rows in (1, 3, 64):
        cks = []
        run, blocks = drive(rows, np.random.default_rng(1), checkpoint=cks.append,
                            checkpoint_every=0)
        assert [b["events"].size for b in blocks] == [rows] * (9 // rows) + (
            [9 % rows] if 9 % rows else [])
        assert run.events.size == 0 and run.strobe_stress.size == 1 and run.n_cycles == 9
        full = _with_cycles(run, blocks)
        for f in per_cycle:
            assert getattr(full, f).dtype == getattr(ref, f).dtype, f
            assert np.array_equal(getattr(full, f), getattr(ref, f)), f
        if rows != 1:
            continue
        # open cycles + rows held: bounded by the steps/avalanches of a block, not the run
        assert max(c.records["ends"].size + c.records["cycle_rows"].shape[1]
                   for c in cks) <= 3
        late = [c for c in cks if int(c.records["cycles_handed"]) >= 2]
        ck = late[len(late) // 2]
        handed = int(ck.records["cycles_handed"])
        res, tail = drive(rows, np.random.default_rng(9), resume=ck)
        full = _with_cycles(res, blocks[:handed] + tail)
        for f in per_cycle:
            assert np.array_equal(getattr(full, f), getattr(ref, f)), f
        assert np.array_equal(res.state.stress, ref.state.stress)
    # main's previous layout: a checkpoint in cycle 0 after a hand-over, converted
    cks = []
    drive(3, np.random.default_rng(1), checkpoint=cks.append, checkpoint_every=0)
    ck = next(c for c in cks if int(c.records["ipos"][PK.R0]) >= 3 and int(c.records["cycle"])
              == 0 and int(c.records["ipos"][PK.A0]) >= 3)
    rec = ck.records
    sums = rec.pop("cycle_sums")
    rec["loop_acc"] = np.concatenate([sums[0], np.zeros(9 - sums.shape[1])])
    rec["cycle_acc"] = np.hstack([sums[1:], np.zeros((4, 9 - sums.shape[1]))])
    for k in ("cyc0", "cycle_rows", "cycles_handed"):
        del rec[k]
    res, tail = drive(3, np.random.default_rng(9), resume=ck)
    full = _with_cycles(res, tail)
    for f in per_cycle:
        assert np.array_equal(getattr(full, f), getattr(ref, f)), f


@pytest.mark.parametrize("proto,extra,chunk,files", [
    ("cyclic", ["run.dgamma=1e-4", "run.gamma_max=0.02", "run.cycles=4"], 300, (11, 0, 1)),
    ("cyclic", ["run.dgamma=1e-2", "run.gamma_max=0.05", "run.cycles=30"], 7, (86, 0, 5)),
    ("stress", ["model.L=12", "model.N=36", "run.stress_end=0.7", "run.dstress=2e-3"], 10,
     (30, 5, 0)),
])
def test_cli_streamed_run_killed_and_resumed_bitwise(tmp_path, monkeypatch, proto, extra,
                                                     chunk, files):
    """`femplastic run` cyclic with blocks of 300 steps (3,200 steps: 11 chunk files, memory
    holds one) or of 7 steps and 7 cycles (30 cycles: 5 files of per-cycle rows), stress
    with blocks of 10 steps and 10 avalanches (30 step files, 5 files of the avalanche
    log): results.h5 and curve.csv bitwise those of the one-block run,
    uninterrupted or killed at random moments and resumed.

    The kills are placed by the run's progress, not by the clock: each child is a fresh
    process that dies just before its k-th chunk file, or at a random moment (a timer)
    after it. (A fork of this process would also inherit JAX's threads when the GPU tests
    ran first, and a time-based kill depends on the machine's load.)"""
    cfg = load_config(None, [*BASE, f"run.protocol={proto}", *extra])
    ref = tmp_path / "ref"
    P.run_protocol(cfg, 5, 1, ref)  # one block (STEP_CHUNK = 50,000)
    monkeypatch.setattr(P, "STEP_CHUNK", chunk)
    writes = {"steps": [], "log": [], "cycles": [], "strobes": [], "calls": []}
    real = R._ChunkFiles.write

    def write(self, start, rec):
        writes["calls"].append(start)
        for kind, key in (("log", "avalanche_sizes"), ("cycles", "events"),
                          ("strobes", "strobe_stress"), ("steps", "gamma")):
            if key in rec:
                writes[kind].append(rec[key].size)
        return real(self, start, rec)

    monkeypatch.setattr(R._ChunkFiles, "write", write)
    t0 = time.perf_counter()
    P.run_protocol(cfg, 5, 1, tmp_path / "small", checkpoint_every=0)
    wall = time.perf_counter() - t0
    assert max(writes["steps"]) == chunk and len(writes["steps"]) == files[0]
    assert len(writes["log"]) == files[1] and max(writes["log"], default=0) <= chunk
    assert len(writes["cycles"]) == files[2] and max(writes["cycles"], default=0) <= chunk
    assert writes["strobes"] == writes["cycles"] + [1] * bool(files[2])  # + the end state's
    with h5py.File(ref / "results.h5") as f:
        assert f["realizations/r0000/gamma"].shape[0] > 2 * chunk

    def same(out):
        for a, b in ((ref / "results.h5", out / "results.h5"),):
            with h5py.File(a) as fa, h5py.File(b) as fb:
                ga, gb = fa["realizations/r0000"], fb["realizations/r0000"]
                assert sorted(ga) == sorted(gb)
                for k in ga:
                    assert np.array_equal(ga[k][()], gb[k][()]), k
                assert ga.attrs["summary"] == gb.attrs["summary"]
        assert (ref / "curve.csv").read_bytes() == (out / "curve.csv").read_bytes()

    same(tmp_path / "small")
    calls = len(writes["calls"])
    rng = np.random.default_rng(1)
    resumed = 0
    for i in range(4):
        out = tmp_path / f"k{i}"
        at = int(rng.integers(1, calls))  # never after the last chunk file: unfinished
        delay = None if i % 2 == 0 else float(rng.uniform(1e-3, 2 * wall / calls))
        _kill_child({"overrides": [*BASE, f"run.protocol={proto}", *extra], "chunk": chunk,
                      "out": str(out), "at": at, "delay": delay}, timeout=60 + 30 * wall)
        if not (out / "results.h5").exists():  # killed before the folder was made
            continue
        try:
            P.run_protocol(cfg, 5, 1, out, resume=True)
            resumed += 1
        except ValueError as exc:  # a timer that fired after the run had finished
            assert delay is not None and "complete" in str(exc), exc
        same(out)
    assert resumed >= 2  # at least the two kills just before a chunk file


_CHILD = """
import json, os, signal, sys
from pathlib import Path
from femplastic.cli import protocols as P
from femplastic.cli import run as R
from femplastic.weakplane.params import load_config

job = json.loads(sys.argv[1])
P.STEP_CHUNK = job["chunk"]
real, calls = R._ChunkFiles.write, []

def write(self, start, rec):
    calls.append(start)
    if len(calls) == job["at"] and job["delay"] is None:
        os.kill(os.getpid(), signal.SIGKILL)  # just before this chunk file
    out = real(self, start, rec)
    if len(calls) == job["at"] and job["delay"] is not None:
        # SIGALRM, not handled: the process dies wherever it is, in compiled code or not
        signal.setitimer(signal.ITIMER_REAL, job["delay"])
    return out

R._ChunkFiles.write = write
P.run_protocol(load_config(None, job["overrides"]), 5, 1, Path(job["out"]), checkpoint_every=0)
"""


def _kill_child(job, timeout):
    """Run `_CHILD` on ``job`` in a fresh interpreter; it must die by its own kill or finish."""
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1]))
    proc = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(job)], env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode in (0, -9, -14), proc.stderr  # finished, SIGKILL, SIGALRM
    assert "Traceback" not in proc.stderr, proc.stderr


def test_checkpoint_of_the_previous_loop_layout_still_resumes():
    """A stress checkpoint written before the log could stream (no ``log0`` loop field, no
    ``log_sink`` argument) resumes to the uninterrupted run's bits."""
    import femplastic as fp
    from femplastic.weakplane.drivers.stress import stress_controlled

    p = fp.ModelParams(L=8, N=8, T=0.0)
    q = fp.quench(p, np.random.default_rng(3))
    kw = dict(stress_end=0.45, dstress=3.1e-3, record_events=True)
    ref = stress_controlled(q, p, np.random.default_rng(1), **kw)
    cks = []
    stress_controlled(q, p, np.random.default_rng(1), checkpoint=cks.append,
                      checkpoint_every=0, **kw)
    ck = cks[len(cks) // 2]
    ck.records["ipos"] = ck.records["ipos"][:-1]  # the old layout
    del ck.records["log_sink"]
    res = stress_controlled(q, p, np.random.default_rng(9), resume=ck, **kw)
    for k in ("stress", "gamma", "avalanche_size"):
        assert np.array_equal(getattr(res, k), getattr(ref, k)), k
    assert np.array_equal(res.avalanches.dissipation, ref.avalanches.dissipation)
    assert np.array_equal(res.avalanches.events["tau"], ref.avalanches.events["tau"])

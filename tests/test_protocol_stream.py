"""Protocol runs of `femplastic run`: every protocol reports progress, and the long records
of rate/creep are streamed to chunk files (memory holds one) with the same results.h5 as
the in-memory records of the library drivers."""

import json

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

"""`femplastic run` streams the load-step records to results.h5: complete, consistent, bounded."""

import json
import tracemalloc

import h5py
import numpy as np
import pytest

from femplastic.cli import records
from femplastic.cli import run as R
from femplastic.weakplane.params import load_config


def _job(tmp_path, name, gamma_end, realizations=1, extra=()):
    cfg = load_config(None, ["model.L=6", "model.N=8", f"run.gamma_end={gamma_end}",
                             "run.dgamma=1e-4", "run.stationary_from=0.01",
                             "run.fields_every=0", *extra])
    out = tmp_path / name
    summary = R.run_main_job(cfg, 3, realizations, out)
    return out, summary


def test_records_stream_in_chunks_and_the_summary_matches_them(tmp_path, monkeypatch):
    monkeypatch.setattr(R, "RECORD_CHUNK", 700)  # 3,000 steps in 5 chunks
    out, summary = _job(tmp_path, "o", 0.3, realizations=2)
    with h5py.File(out / "results.h5") as f:
        assert "running" not in f  # every realisation finished and moved
        assert sorted(f["realizations"]) == ["r0000", "r0001"]
        per = []
        for r in ("r0000", "r0001"):
            g = f[f"realizations/{r}"]
            gamma, stress = g["gamma"][()], g["stress"][()]
            assert gamma.shape == (3000,) and g["mean_stress"].shape == (3000, 3)
            np.testing.assert_allclose(gamma, 1e-4 * np.arange(1, 3001), rtol=1e-12)
            assert g["avalanche_size"][()].sum() > 0
            # between avalanches the stress grows by the same elastic increment
            quiet = g["avalanche_size"][1:] == 0
            inc = (g["stress_before"][1:] - stress[:-1])[quiet]
            np.testing.assert_allclose(inc, inc[0], rtol=1e-9)
            x = stress[gamma > 0.01]
            per.append((x.mean(), x.std()))
        csv = np.loadtxt(out / "curve.csv", delimiter=",", skiprows=1)
        np.testing.assert_allclose(csv[:, 1], f["realizations/r0000/stress"][()], rtol=1e-9)
    # running statistics (merged per chunk) against the statistics of the stored records
    got = summary["stationary"]["per_realization"]
    for (m, s), d in zip(per, got, strict=True):
        assert d["mean"] == pytest.approx(m, rel=1e-12)
        assert d["std"] == pytest.approx(s, rel=1e-9)
    assert json.loads((out / "summary.json").read_text())["status"] == "complete"


def test_memory_does_not_grow_with_gamma_end(tmp_path, monkeypatch):
    monkeypatch.setattr(R, "RECORD_CHUNK", 2000)
    monkeypatch.setattr(records, "PLOT_POINTS", 500)  # the plot's decimated curve: 500 points
    _job(tmp_path, "warm", 0.02)  # compile and import outside the measurement
    peaks = []
    for name, gamma_end in (("short", 1.0), ("long", 10.0)):  # 10,000 vs 100,000 steps
        tracemalloc.start()
        _job(tmp_path, name, gamma_end)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    # 90,000 more steps would hold >= 5.7 MB more (64 bytes a step) if the records stayed
    # in memory; what varies is matplotlib's (ticks, text) and the 2,000-step chunk
    assert peaks[1] - peaks[0] < 1_500_000, peaks
    with h5py.File(tmp_path / "long" / "results.h5") as f:
        assert f["realizations/r0000/stress"].shape == (100_000,)


def test_restart_rereads_the_same_chunks_to_the_same_statistics(tmp_path):
    """A resumed run re-reads the rows it keeps chunk by chunk: the same running statistics
    and decimated curve, to the bit, as the interrupted run had after those chunks."""
    files = R._ChunkFiles(tmp_path / "running" / "r0000")
    rng = np.random.default_rng(1)
    chunks = [(0, 700), (700, 1000), (1000, 1700), (1700, 2300)]
    live = R._RecordStream(files, 0.05, 2300)
    for k, (a, b) in enumerate(chunks):
        g = 1e-4 * np.arange(a + 1, b + 1)
        live.append({"gamma": g, "stress": rng.normal(0.5, 0.01, b - a)})
        live.flush()  # a checkpoint: the rows so far are on disk
        if k == 2:
            kept = (live.stationary(), [x.copy() for x in live.curve()])
    assert [f[:2] for f in files.files()] == chunks
    again = R._RecordStream(files, 0.05, 2300)
    again.restart_at(chunks[:3])  # drops the fourth chunk's file
    assert again.rows == 1700 and files.rows_upto(10**9) == 1700
    assert again.stationary() == kept[0]
    for x, y in zip(again.curve(), kept[1], strict=True):
        assert np.array_equal(x, y)
    assert files.read("stress", 650, 1050).shape == (400,)

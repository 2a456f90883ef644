"""Progress that does not mislead, and the newcomer's words: citations, config listing,
variant presets, bench --list, a fast --help, an informative figure."""

import os
import subprocess
import sys
import time

import numpy as np
import pytest

import femplastic as fp
from femplastic import cli
from femplastic.weakplane.params import VARIANT_PRESETS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}


def test_quench_progress_follows_the_stationarity_criterion(rng):
    p = fp.ModelParams(L=8, N=8)
    seen = []

    def progress(frac, n_events):
        seen.append((frac, n_events))

    progress.wants_events = True
    state, info = fp.quench(p, rng, return_info=True, progress=progress)
    assert info.stationary and seen[-1][0] == 1.0
    fracs = [f for f, _ in seen[:-1]]
    cap_fraction = info.n_thermal / (400 * 64)
    assert cap_fraction < 0.2  # the old bar would have ended near here
    assert fracs[-1] >= 0.5  # the estimate knew the end was near
    assert all(0 <= f < 1 for f in fracs) and seen[-2][1] > 0


def test_progress_lines_off_a_terminal(tmp_path, monkeypatch, capsys):
    from femplastic.cli import run as run_mod

    monkeypatch.setattr(run_mod, "PROGRESS_EVERY_S", 0.0)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert cli.main(["run", "--set", "model.L=6", "--set", "model.N=8", "--set",
                     "run.gamma_end=0.1", "--set", "run.dgamma=1e-3",
                     "--out", str(tmp_path / "o")]) == 0
    err = capsys.readouterr().err
    assert "quench 1/1: ~" in err and "estimate against the stationarity criterion" in err
    line = next(ln for ln in err.splitlines() if "shear  1/1: step" in ln)
    assert "gamma 0." in line and "events/s" in line


def test_config_command_prints_valid_toml_of_every_key(capsys):
    assert cli.main(["config"]) == 0
    text = capsys.readouterr().out
    data = tomllib.loads(text)
    cfg = fp.weakplane.params.config_from_dict(data)
    assert cfg == fp.weakplane.params.Config()  # every key, at its default
    assert "# Element side, LJ length units" in text  # meaning and unit
    assert set(data["model"]) == set(fp.ModelParams().to_dict())


def test_variant_brings_its_calibrated_parameters():
    cfg = fp.load_config(None, ["model.variant=D"])
    assert (cfg.model.k, cfg.model.lam, cfg.model.chi) == (2.03, 2.53, 3.05)
    assert cfg.model == fp.ModelParams.for_variant("D")
    cfg = fp.load_config(None, ["model.variant=D", "model.k=2.5"])
    assert cfg.model.k == 2.5 and cfg.model.lam == VARIANT_PRESETS["D"]["lam"]
    assert fp.load_config(None, ["model.variant=f"]).model.N == 2


def test_help_names_papers_and_bench_lists(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert "Fernández Castellanos, S. Roux and S. Patinet" in out and "Soft Matter 11" in out
    assert "seed 00" not in out
    assert cli.main(["bench", "--list"]) == 0
    listing = capsys.readouterr().out
    assert "aqs" in listing and "propagator" in listing
    assert os.path.exists(os.path.join(ROOT, "CITATION.cff"))


def test_help_and_version_start_fast():
    best = np.inf
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "femplastic", "--version"], env=ENV, cwd=ROOT,
                       check=True, capture_output=True)
        best = min(best, time.perf_counter() - t0)
    probe = subprocess.run([sys.executable, "-c", "import sys, femplastic.cli.main; "
                            "print(sorted(m for m in ('numpy', 'numba', 'importlib.metadata') "
                            "if m in sys.modules))"], env=ENV, cwd=ROOT, check=True,
                           capture_output=True, text=True)
    assert probe.stdout.strip() == "[]"  # nothing heavy is imported by the parser
    assert best < 2.0  # ~0.1 s over a bare interpreter; generous for loaded machines


def test_figure_states_size_seed_and_bands(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from femplastic.cli import run as run_mod

    out = tmp_path / "o"
    assert cli.main(["run", "--set", "model.L=6", "--set", "model.N=8", "--set",
                     "run.gamma_end=0.8", "--set", "run.dgamma=1e-3", "--quiet",
                     "--realizations", "2", "--seed", "4", "--out", str(out)]) == 0
    # redraw into a figure we can inspect
    import matplotlib.pyplot as plt

    captured = {}
    real_subplots = plt.subplots

    def subplots(*a, **k):
        fig, ax = real_subplots(*a, **k)
        captured["ax"] = ax
        return fig, ax

    plt.subplots = subplots
    try:
        res = fp.io.read_hdf5(out / "results.h5")["realizations"]
        curves = [(res[r]["gamma"], res[r]["stress"]) for r in sorted(res)]
        import json

        summary = json.loads((out / "summary.json").read_text())
        cfg = fp.load_config(None, ["model.L=6", "model.N=8"])
        run_mod._plot(curves, tmp_path / "f.png", 0.5, summary, cfg, 4)
    finally:
        plt.subplots = real_subplots
    ax = captured["ax"]
    title = ax.get_title()
    assert "L = 6" in title and "N = 8" in title and "seed 4" in title
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "realisation 0" in labels and "realisation 1" in labels
    assert any(lbl.startswith("stationary mean") for lbl in labels)

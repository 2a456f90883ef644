"""Every study script runs in its smoke mode and writes its figure and numbers."""

import importlib.util
import sys
from pathlib import Path

import pytest

STUDIES = sorted(p for p in (Path(__file__).resolve().parents[1] / "studies").glob("*.py")
                 if not p.name.startswith("_"))


@pytest.mark.parametrize("path", STUDIES, ids=[p.stem for p in STUDIES])
def test_study_smoke(path, tmp_path):
    spec = importlib.util.spec_from_file_location(f"study_{path.stem}", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses in a study need their module registered
    try:
        spec.loader.exec_module(mod)
        for dep in getattr(mod, "NEEDS", ()):  # optional dependencies (e.g. gmsh: [mesh])
            pytest.importorskip(dep)
        mod.main(["--smoke", "--out", str(tmp_path)])
    finally:
        sys.modules.pop(spec.name, None)
    written = {p.suffix for p in tmp_path.rglob("*")}
    assert written & {".json", ".csv"}  # the numbers behind the figure


def test_a_rerun_moves_the_previous_results_aside(tmp_path, capsys):
    """Studies never overwrite: a folder holding a previous run's files is moved aside whole
    (`out.1`, then `out.2`), except the resumable files a study keeps (carried over)."""
    spec = importlib.util.spec_from_file_location(
        "study_common", Path(__file__).resolve().parents[1] / "studies" / "_common.py")
    common = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(common)
    out = tmp_path / "o"
    out.mkdir()
    assert common.fresh_dir(out) == out  # an empty folder is used as it is
    (out / "fig.png").write_text("first")
    (out / "md.h5").write_text("store")
    assert common.fresh_dir(out, keep=("md.h5", "absent.h5")) == out
    assert (tmp_path / "o.1" / "fig.png").read_text() == "first"
    assert not (tmp_path / "o.1" / "md.h5").exists() and (out / "md.h5").read_text() == "store"
    assert sorted(p.name for p in out.iterdir()) == ["md.h5"]
    err = capsys.readouterr().err
    assert f"moved to {tmp_path / 'o.1'} (md.h5 carried over)" in err, err
    (out / "fig.png").write_text("second")
    common.fresh_dir(out)
    assert (tmp_path / "o.2" / "fig.png").read_text() == "second"
    assert (tmp_path / "o.2" / "md.h5").exists() and not any(out.iterdir())

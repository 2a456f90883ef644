"""Every study script runs in its smoke mode and writes its figure and numbers."""

import importlib.util
from pathlib import Path

import pytest

STUDIES = sorted(p for p in (Path(__file__).resolve().parents[1] / "studies").glob("*.py")
                 if not p.name.startswith("_"))


@pytest.mark.parametrize("path", STUDIES, ids=[p.stem for p in STUDIES])
def test_study_smoke(path, tmp_path):
    spec = importlib.util.spec_from_file_location(f"study_{path.stem}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.main(["--smoke", "--out", str(tmp_path)])
    written = {p.suffix for p in tmp_path.rglob("*")}
    assert written & {".json", ".csv"}  # the numbers behind the figure

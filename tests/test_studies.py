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

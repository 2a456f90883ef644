"""The documentation: it builds without a warning, covers every module and study, and the
Python snippets of its pages run as written.

The build is the one the docs describe, ``sphinx-build -W -b html docs <out>`` (warnings are
errors), into a temporary folder: nothing is written into the source tree.
"""

from __future__ import annotations

import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import femplastic

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

# pages whose ``.. code-block:: python`` snippets are executed (in order, one namespace per
# page); a snippet with ``:class: notest`` is skipped (it needs a cluster or takes minutes)
SNIPPET_PAGES = sorted(
    [DOCS / "tutorial.rst", DOCS / "conventions.rst"]
    + list((DOCS / "howto").glob("*.rst"))
    + list((DOCS / "physics").glob("*.rst"))
)


def test_docs_build_without_warnings(tmp_path):
    pytest.importorskip("sphinx", reason="the docs need the [docs] or [test] extra")
    env = {k: v for k, v in os.environ.items() if k != "FEMPLASTIC_DOCS_FIGURES"}
    env["MPLBACKEND"] = "Agg"
    out = tmp_path / "html"
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(tmp_path / "doctrees"), str(DOCS), str(out)],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300, check=False,
    )
    assert proc.returncode == 0, f"sphinx-build failed:\n{proc.stdout}\n{proc.stderr}"
    for page in ("index", "installation", "tutorial", "conventions", "physics/weak_plane",
                 "howto/custom_mesh", "api/index", "api/weakplane.drivers.aqs", "gallery/index",
                 "gallery/fig2_macro"):
        assert (out / f"{page}.html").exists(), page
    # autodoc really ran: the API pages hold the docstrings, not just their titles
    aqs_page = (out / "api" / "weakplane.drivers.aqs.html").read_text(encoding="utf-8")
    assert "athermal quasistatic" in aqs_page.lower() and "gamma_end" in aqs_page
    gallery = (out / "gallery" / "fig2_macro.html").read_text(encoding="utf-8")
    assert "--smoke" in gallery
    # math renders offline: MathJax ships with the build (sphinx-mathjax-offline), no CDN
    import importlib.util

    if importlib.util.find_spec("sphinx-mathjax-offline") is not None:
        physics = (out / "physics" / "weak_plane.html").read_text(encoding="utf-8")
        assert "_static/mathjax/tex-chtml.js" in physics and "cdn.jsdelivr" not in physics
        assert (out / "_static" / "mathjax" / "tex-chtml.js").exists()


def _modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(femplastic.__path__, "femplastic."):
        if not info.ispkg and not info.name.endswith("__main__"):  # the CLI entry, no API
            names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("module", _modules())
def test_every_module_has_an_api_page(module):
    page = DOCS / "api" / f"{module.removeprefix('femplastic.')}.rst"
    assert page.exists(), f"add {page.relative_to(ROOT)} (an automodule page) for {module}"
    assert f".. automodule:: {module}" in page.read_text(encoding="utf-8")
    index = (DOCS / "api" / "index.rst").read_text(encoding="utf-8")
    assert re.search(rf"^\s+{re.escape(page.stem)}\s*$", index, re.M), \
        f"list {page.stem} in a toctree of docs/api/index.rst"


STUDIES = sorted(p.stem for p in (ROOT / "studies").glob("*.py") if not p.name.startswith("_"))


@pytest.mark.parametrize("study", STUDIES)
def test_every_study_has_a_gallery_page(study):
    page = DOCS / "gallery" / f"{study}.rst"
    assert page.exists(), f"add {page.relative_to(ROOT)} with '.. study:: {study}'"
    assert f".. study:: {study}" in page.read_text(encoding="utf-8")
    index = (DOCS / "gallery" / "index.rst").read_text(encoding="utf-8")
    assert re.search(rf"^\s+{re.escape(study)}\s*$", index, re.M), \
        f"list {study} in a toctree of docs/gallery/index.rst"


def test_gallery_helpers_read_the_studies():
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        import studydoc
    finally:
        sys.path.remove(str(DOCS / "_ext"))
    assert studydoc.md_inline("`a` and ``b`` and `c d`") == "``a`` and ``b`` and ``c d``"
    assert studydoc.studies_in(ROOT / "studies") == STUDIES
    for study in STUDIES:
        info = studydoc.study_info(ROOT / "studies" / f"{study}.py")
        assert info["doc"].strip(), f"studies/{study}.py has no docstring"
        assert "main" in info["sigs"]


def _snippets(page: Path) -> list[tuple[int, str]]:
    """``(line, code)`` of the page's python code blocks, without the ``notest`` ones."""
    lines = page.read_text(encoding="utf-8").splitlines()
    out, i = [], 0
    while i < len(lines):
        m = re.match(r"^(\s*)\.\. code-block:: python\s*$", lines[i])
        if not m:
            i += 1
            continue
        start, i = i + 1, i + 1
        options = []
        while i < len(lines) and re.match(r"^\s+:\w[\w-]*:", lines[i]):
            options.append(lines[i])
            i += 1
        body = []
        while i < len(lines) and (not lines[i].strip() or
                                  len(lines[i]) - len(lines[i].lstrip()) > len(m.group(1))):
            body.append(lines[i])
            i += 1
        if any("notest" in o for o in options):
            continue
        indent = min(len(b) - len(b.lstrip()) for b in body if b.strip())
        out.append((start, "\n".join(b[indent:] for b in body)))
    return out


@pytest.fixture(scope="module")
def docs_workdir(tmp_path_factory):
    """A folder laid out like the tutorial's: femplastic-out/ from a short run, meshes/."""
    from femplastic.cli import main

    work = tmp_path_factory.mktemp("docs-snippets")
    rc = main(["run", "--quiet", "--set", "model.L=6", "--set", "run.gamma_end=0.7",
               "--set", "run.dgamma=1e-3", "--set", "run.fields_every=0.35",
               "--out", str(work / "femplastic-out")])
    assert rc == 0
    (work / "meshes").symlink_to(ROOT / "meshes")
    return work


def test_snippet_pages_exist():
    assert {p.name for p in SNIPPET_PAGES} >= {"tutorial.rst", "conventions.rst",
                                               "custom_mesh.rst", "calibration.rst"}


@pytest.mark.parametrize("page", [p for p in SNIPPET_PAGES if _snippets(p)],
                         ids=lambda p: str(p.relative_to(DOCS)))
def test_page_snippets_run(page, docs_workdir, monkeypatch, capsys):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    snippets = _snippets(page)
    monkeypatch.chdir(docs_workdir)
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    try:
        for line, code in snippets:
            try:
                exec(compile(code, f"{page.relative_to(ROOT)}:{line}", "exec"), namespace)
            except Exception as exc:  # pragma: no cover - the failure message
                raise AssertionError(f"{page.name}, snippet at line {line} failed: {exc!r}\n"
                                     f"{code}") from exc
    finally:
        plt.close("all")


def test_readme_setup_commands_are_what_ci_runs():
    """``.ci/run`` runs the README's two set-up commands verbatim; it finds them like this."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    run_cmd = re.findall(r"^python3 -m venv .*&& femplastic run\s*$", readme, re.M)
    test_cmd = re.findall(r"^python3 -m venv .*&& pytest.*$", readme, re.M)
    assert len(run_cmd) == 1 and len(test_cmd) == 1, "README set-up commands not found"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "femplastic-out/summary.json" in ci
    install = DOCS / "installation.rst"
    text = install.read_text(encoding="utf-8")
    for cmd in (run_cmd[0].strip(), test_cmd[0].strip()):
        assert cmd in text, f"docs/installation.rst should quote the README command {cmd!r}"


# Modules whose public API is audited: numpy-style docstrings that document every parameter
# (the API reference is generated from them).
AUDITED = ("elasticity", "mesh", "fem", "io", "probes.local_yield", "probes.bauschinger",
           "observables", "calibration", "meanfield", "lattice", "scalar", "scalar_observables")


def _documented(doc: str) -> set[str] | None:
    """Names listed in the docstring's Parameters / Attributes sections (None: no section)."""
    names: set[str] = set()
    found = False
    for sec in re.finditer(r"^(Parameters|Attributes)\n-+\n(.*?)(?=^\S[^\n]*\n-+\n|\Z)", doc,
                           re.M | re.S):
        found = True
        for line in sec.group(2).splitlines():
            m = re.match(r"^(\*{0,2}[A-Za-z_][\w, *]*?)\s*(:|$)", line)
            if m:
                names.update(n.strip().lstrip("*") for n in m.group(1).split(","))
    return names if found else None


def _public_api(module_name: str):
    import importlib
    import inspect

    mod = importlib.import_module(f"femplastic.{module_name}")
    for name in getattr(mod, "__all__", []):
        obj = getattr(mod, name)
        if getattr(obj, "__module__", None) != mod.__name__:
            continue
        if inspect.isclass(obj):
            yield name, obj
            for attr, value in vars(obj).items():
                if attr.startswith("_"):
                    continue
                if isinstance(value, staticmethod | classmethod):
                    value = value.__func__
                if inspect.isfunction(value):
                    yield f"{name}.{attr}", value
        elif inspect.isfunction(obj) or hasattr(obj, "py_func"):
            yield name, getattr(obj, "py_func", obj)


@pytest.mark.parametrize("module", AUDITED)
def test_public_docstrings_document_every_parameter(module):
    import inspect

    problems = []
    for qual, obj in _public_api(module):
        doc = inspect.getdoc(obj)
        if not doc:
            problems.append(f"{qual}: no docstring")
            continue
        try:
            params = [p for p in inspect.signature(obj).parameters
                      if p not in ("self", "cls", "args", "kwargs") and not p.startswith("_")]
        except (TypeError, ValueError):
            continue
        if not params:
            continue
        documented = _documented(doc)
        if documented is None:
            problems.append(f"{qual}: no Parameters section for {params}")
        elif missing := [p for p in params if p not in documented]:
            problems.append(f"{qual}: parameters not documented: {missing}")
    assert not problems, f"femplastic.{module}:\n  " + "\n  ".join(problems)

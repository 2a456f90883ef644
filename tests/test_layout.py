"""The package layout keeps its promises (docs/architecture.rst): one-way imports, no cycles,
modules of one idea (no library module over ~800 lines), a cheap ``import femplastic``, and the
former module paths resolving to the very same module objects."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "femplastic"
MAX_LINES = 800

MODELS = ("femplastic.weakplane", "femplastic.lattice", "femplastic.meanfield")
INFRA = ("femplastic.ensemble", "femplastic.io")
CLI = "femplastic.cli"


def _modname(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_modname(p): p for p in sorted(PKG.rglob("*.py"))}


def _module_level_imports(name: str, path: Path) -> set[str]:
    """femplastic modules imported when ``name`` is imported (top-level statements only)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_pkg = path.name == "__init__.py"
    package = name if is_pkg else name.rpartition(".")[0]
    out: set[str] = set()
    for node in tree.body:  # module level only: imports inside functions run at call time
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("femplastic")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("femplastic"):
                continue
            for alias in node.names:  # `from pkg import submodule` imports the submodule
                sub = f"{target}.{alias.name}"
                out.add(sub if sub in MODULES else target)
    return {m for m in out if m != name}


GRAPH = {name: _module_level_imports(name, path) for name, path in MODULES.items()}


def _under(name: str, prefixes: tuple[str, ...] | str) -> bool:
    prefixes = (prefixes,) if isinstance(prefixes, str) else prefixes
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_has_one_job_and_fits(name):
    path = MODULES[name]
    n = len(path.read_text(encoding="utf-8").splitlines())
    assert n <= MAX_LINES, f"{path.relative_to(ROOT)} has {n} lines (> {MAX_LINES}): split it"
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    assert doc and len(doc.split()) >= 3, f"{name}: the module docstring must say its job"


def test_fe_imports_no_model_or_infrastructure():
    for name, deps in GRAPH.items():
        if _under(name, "femplastic.fe"):
            bad = {d for d in deps if _under(d, (*MODELS, *INFRA, CLI))}
            assert not bad, f"{name} (FE machinery) imports {sorted(bad)}"


def test_models_import_no_infrastructure_at_import_time():
    for name, deps in GRAPH.items():
        if _under(name, MODELS):
            bad = {d for d in deps if _under(d, (*INFRA, CLI))}
            assert not bad, f"{name} (a model) imports {sorted(bad)} at module level"


def test_infrastructure_imports_no_model_at_import_time():
    for name, deps in GRAPH.items():
        if _under(name, INFRA):
            bad = {d for d in deps if _under(d, (*MODELS, CLI))}
            assert not bad, f"{name} (infrastructure) imports {sorted(bad)} at module level"


def test_no_import_cycles():
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(GRAPH.get(node, ())):
            if state.get(dep) == 1:
                cycle = stack[stack.index(dep):] + [dep]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if dep in GRAPH and not state.get(dep):
                visit(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(GRAPH):
        if not state.get(node):
            visit(node)


def test_import_femplastic_is_cheap():
    code = ("import sys, femplastic; "
            "heavy = sorted(m for m in ('numba', 'scipy', 'skfem', 'h5py', 'matplotlib') "
            "if m in sys.modules); print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout.strip()
    assert out == "", f"import femplastic loaded {out}"


@pytest.mark.parametrize("old", sorted(importlib.import_module("femplastic._compat").MOVED))
def test_former_paths_are_the_same_modules(old):
    from femplastic._compat import MOVED

    mod = importlib.import_module(old)
    assert mod is importlib.import_module(MOVED[old])
    assert mod.__spec__.name == MOVED[old]  # the module keeps its own identity


def test_former_submodule_path_does_not_shadow_package_attribute():
    from femplastic.drivers.aqs import aqs  # noqa: F401  (former path of a submodule)

    import femplastic as fp

    assert callable(fp.weakplane.drivers.aqs)
    assert fp.aqs is fp.weakplane.drivers.aqs


def test_architecture_page_names_every_folder():
    page = (ROOT / "docs" / "architecture.rst").read_text(encoding="utf-8")
    folders = {p.parent.relative_to(ROOT).as_posix() for p in PKG.glob("*/__init__.py")}
    missing = sorted(f for f in folders if f"``{f}/``" not in page)
    assert not missing, f"docs/architecture.rst does not describe {missing}"

"""Sphinx extension: gallery pages built from the study scripts in ``studies/``.

``.. study:: NAME`` renders, for ``studies/NAME.py``:

* its module docstring (parsed as reStructuredText when it parses cleanly, shown verbatim
  otherwise, so a study's docstring can never break the documentation build);
* what it reproduces, its full-mode run time and its result against the paper, from the
  study's row of the table in ``studies/README.md`` (when it has one);
* how to run it (smoke and full mode) and the signatures of its ``run`` and ``plot``;
* a figure: the full-mode PNG when ``studies/out/NAME/`` holds one; otherwise, with
  ``FEMPLASTIC_DOCS_FIGURES=smoke``, the figure of a smoke run made during the build into
  the build directory. By default no study is run.

``.. study-table::`` renders the table of all studies (script, what it reproduces, time).

The scripts are read with :mod:`ast`, never imported, and nothing is written into the
source tree.
"""

from __future__ import annotations

import ast
import io
import os
import re
import subprocess
import sys
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive, directives
from docutils.statemachine import StringList
from docutils.utils import Reporter
from sphinx.util import logging

logger = logging.getLogger(__name__)

_CODE = re.compile(r"(?<![`\w])`([^`\n]+)`(?![`\w])")


def md_inline(text: str) -> str:
    """Markdown inline code (```x```) to reStructuredText literals (````x````)."""
    return _CODE.sub(lambda m: f"``{m.group(1)}``", text)


def readme_rows(studies: Path) -> dict[str, list[str]]:
    """``{script stem: [reproduces, full-mode time, result]}`` from ``studies/README.md``."""
    path = studies / "README.md"
    rows: dict[str, list[str]] = {}
    if not path.exists():
        return rows
    for line in path.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4 or not cells[0].startswith("`") or not cells[0].endswith(".py`"):
            continue
        rows[cells[0].strip("`")[:-3]] = cells[1:4]
    return rows


def study_info(path: Path) -> dict:
    """Docstring and the signatures of ``run`` and ``plot`` of a study script."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    sigs = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in ("run", "plot", "main"):
            sigs[node.name] = f"{node.name}({ast.unparse(node.args)})"
    return {"doc": ast.get_docstring(tree) or "", "sigs": sigs}


def studies_in(folder: Path) -> list[str]:
    """Stems of the study scripts (``studies/*.py`` not starting with an underscore)."""
    return sorted(p.stem for p in folder.glob("*.py") if not p.name.startswith("_"))


class _Quiet:
    """Collect the docutils messages of a nested parse instead of reporting them."""

    def __init__(self, state) -> None:
        self.state = state
        self.stream = io.StringIO()

    def __enter__(self) -> _Quiet:
        self.saved = (self.state.document.reporter, self.state.memo.reporter)
        quiet = Reporter(self.saved[0].source, 2, 5, stream=self.stream)
        self.state.document.reporter = self.state.memo.reporter = quiet
        return self

    def __exit__(self, *exc: object) -> None:
        self.state.document.reporter, self.state.memo.reporter = self.saved


class StudyDirective(Directive):
    """``.. study:: NAME`` (see the module docstring)."""

    required_arguments = 1
    has_content = False
    option_spec = {"no-figure": directives.flag}

    def _rst(self, text: str, verbatim_fallback: bool = True) -> list[nodes.Node]:
        container = nodes.container()
        with _Quiet(self.state) as q:
            self.state.nested_parse(StringList(text.splitlines(), "study"), 0, container)
        problems = [n for n in container.findall(nodes.system_message) if n["level"] >= 2]
        if problems or q.stream.getvalue():
            if not verbatim_fallback:
                return [nodes.paragraph(text=text)]
            return [nodes.literal_block(text, text)]
        return container.children

    def run(self) -> list[nodes.Node]:
        """The nodes of one gallery page."""
        env = self.state.document.settings.env
        config = env.config
        folder = Path(config.studydoc_studies)
        name = self.arguments[0]
        path = folder / f"{name}.py"
        env.note_dependency(str(path))
        if not path.exists():
            raise self.error(f"study script {path} does not exist")
        info = study_info(path)
        row = readme_rows(folder).get(name)
        if (folder / "README.md").exists():
            env.note_dependency(str(folder / "README.md"))
        out: list[nodes.Node] = []
        out += self._rst(info["doc"])
        if row:
            reproduces, time, result = (md_inline(c) for c in row)
            out += self._rst(
                "\n".join(
                    [
                        ".. list-table::",
                        "   :stub-columns: 1",
                        "   :widths: 1 4",
                        "",
                        "   * - Reproduces",
                        f"     - {reproduces}",
                        "   * - Full-mode time",
                        f"     - {time} (on the 2-core development machine)",
                        "   * - Result against the paper",
                        f"     - {result}",
                    ]
                ),
                verbatim_fallback=False,
            )
        run_lines = [
            "**Run it** from the root of a source checkout (the ``studies/`` folder is not",
            "installed with the package). ``--smoke`` uses tiny sizes and runs in seconds (the",
            "test suite runs every study this way); the full mode writes the figure (PNG) and",
            "the numbers behind it (JSON/CSV) into ``--out``, where this page looks for the",
            "figure:",
            "",
            ".. code-block:: bash",
            "",
            f"   python studies/{name}.py --smoke --out /tmp/{name}",
            f"   python studies/{name}.py --seed 0 --out studies/out/{name}",
            "",
        ]
        if "run" in info["sigs"]:
            run_lines += [
                "From Python, the script's functions are",
                "",
                ".. code-block:: python",
                "",
                *(f"   {info['sigs'][k]}" for k in ("run", "plot") if k in info["sigs"]),
                "",
            ]
        out += self._rst("\n".join(run_lines))
        if "no-figure" not in self.options:
            out += self._figure(env, name)
        return out

    def _figure(self, env, name: str) -> list[nodes.Node]:
        folder = Path(env.config.studydoc_studies)
        full = sorted((folder / "out" / name).glob("*.png"))
        caption = f"Full-mode figure of ``{name}.py`` (``studies/out/{name}/``)."
        pngs = full
        if not pngs and env.config.studydoc_figures == "smoke":
            dest = Path(env.app.doctreedir) / "gallery-smoke" / name
            pngs = _smoke(folder / f"{name}.py", dest)
            caption = (f"Smoke run of ``{name}.py`` (tiny sizes, made while building these "
                       "pages): it shows what the figure contains, not the paper's numbers.")
        if not pngs:
            return []
        docdir = Path(env.doc2path(env.docname)).parent
        out: list[nodes.Node] = []
        for png in pngs:
            rel = Path(_relpath(png, docdir)).as_posix()
            out += self._rst(f".. figure:: {rel}\n   :width: 100%\n\n   {caption}")
        return out


def _relpath(target: Path, start: Path) -> str:
    return os.path.relpath(target, start)


def _smoke(script: Path, dest: Path) -> list[Path]:
    """Run ``script --smoke --out dest`` once per build; the PNGs it wrote."""
    if not sorted(dest.glob("*.png")):
        dest.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run([sys.executable, str(script), "--smoke", "--out", str(dest)],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            logger.warning("smoke run of %s failed:\n%s", script.name, proc.stderr[-2000:])
    return sorted(dest.glob("*.png"))


class StudyTableDirective(Directive):
    """``.. study-table::``: every study with what it reproduces and its full-mode time."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        """A list-table of the studies."""
        env = self.state.document.settings.env
        folder = Path(env.config.studydoc_studies)
        rows = readme_rows(folder)
        lines = [".. list-table::", "   :header-rows: 1", "   :widths: 2 6 1", "",
                 "   * - Study", "     - Reproduces", "     - Full mode"]
        for name in studies_in(folder):
            info = study_info(folder / f"{name}.py")
            first = info["doc"].strip().splitlines()[0] if info["doc"].strip() else ""
            what, time = (md_inline(rows[name][0]), rows[name][1]) if name in rows else (
                first, "")
            lines += [f"   * - :doc:`{name}.py <{name}>`", f"     - {what}",
                      f"     - {time or '--'}"]
        container = nodes.container()
        self.state.nested_parse(StringList(lines, "study-table"), 0, container)
        return container.children


def setup(app):
    """Register the directives and their configuration values."""
    app.add_config_value("studydoc_studies", "studies", "env")
    app.add_config_value("studydoc_figures", "", "env")
    app.add_directive("study", StudyDirective)
    app.add_directive("study-table", StudyTableDirective)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}

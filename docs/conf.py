"""Sphinx configuration of the femplastic documentation.

Build (warnings are errors, as in the test suite)::

    pip install -e ".[docs]"
    sphinx-build -W -b html docs build/docs

Nothing is written into the source tree: the gallery pages read the study scripts'
docstrings at build time (``_ext/studydoc.py``) and the API pages are plain ``automodule``
directives.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))
if importlib.util.find_spec("femplastic") is None:  # building from a checkout, not installed
    sys.path.insert(0, str(ROOT))

import femplastic  # noqa: E402

project = "femplastic"
author = "femplastic developers"
copyright = "femplastic developers, MIT licence"  # noqa: A001
release = femplastic.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_parser",
    "studydoc",
]
# Math renders offline: MathJax is shipped with the build (pip package sphinx-mathjax-offline,
# in the docs and test extras: it copies MathJax into _static/mathjax and points mathjax_path
# there). Without it Sphinx would load MathJax from a CDN, and offline the physics pages would
# show raw TeX.
if importlib.util.find_spec("sphinx-mathjax-offline") is not None:
    extensions.append("sphinx-mathjax-offline")

# -- autodoc / napoleon (numpy-style docstrings) -------------------------------------------
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
# the accelerated backend's JAX is an optional extra: when it is not installed, autodoc documents
# the backend with JAX mocked (femplastic.weakplane.gpu.runtime then skips its float64 check)
autodoc_mock_imports = [] if importlib.util.find_spec("jax") is not None else ["jax"]
autodoc_typehints = "none"  # the numpy docstrings carry types, shapes and units
autodoc_class_signature = "mixed"
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_ivar = True  # "Attributes" as a field list: no duplicate targets with properties
napoleon_use_rtype = False
napoleon_use_param = False  # types as plain text: shapes like "(n_elem, 3)" are not xrefs
napoleon_use_keyword = False
napoleon_preprocess_types = False
add_module_names = False
python_display_short_literal_types = True

# -- general --------------------------------------------------------------------------------
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
myst_heading_anchors = 3
templates_path: list[str] = []
default_role = "literal"  # `x` in prose and docstrings renders as code, never warns
pygments_style = "sphinx"
root_doc = "index"
suppress_warnings: list[str] = []

# -- gallery (studies/) ---------------------------------------------------------------------
studydoc_studies = str(ROOT / "studies")
# "smoke": run each study's --smoke mode during the build and show its figure (~40 s more);
# default: show the full-mode figure when studies/out/<name>/ has one, else describe.
studydoc_figures = os.environ.get("FEMPLASTIC_DOCS_FIGURES", "")

# -- HTML -----------------------------------------------------------------------------------
html_title = f"femplastic {release}"
html_static_path: list[str] = []
if importlib.util.find_spec("furo") is not None:
    html_theme = "furo"
else:  # sphinx alone builds the same pages with its default theme
    html_theme = "alabaster"


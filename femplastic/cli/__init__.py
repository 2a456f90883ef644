"""The ``femplastic`` command.

Parser and entry point in :mod:`femplastic.cli.main`, one module per subcommand
(:mod:`~femplastic.cli.run`, :mod:`~femplastic.cli.info`, :mod:`~femplastic.cli.bench`,
:mod:`~femplastic.cli.ensemble`).

``femplastic.cli.main`` is the entry point (a function); :func:`run_main_job` (the work of
``femplastic run``) is imported on first use so that ``femplastic --help`` stays fast.
"""

from __future__ import annotations

from typing import Any

from .main import main

__all__ = ["main", "run_main_job"]


def __getattr__(name: str) -> Any:
    if name == "run_main_job":
        from .run import run_main_job

        return run_main_job
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

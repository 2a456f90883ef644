"""The ``femplastic`` command.

Parser and entry point in :mod:`femplastic.cli.main`, one module per subcommand
(:mod:`~femplastic.cli.run`, :mod:`~femplastic.cli.info`, :mod:`~femplastic.cli.bench`,
:mod:`~femplastic.cli.ensemble`).

``femplastic.cli.main`` runs the command (a function, also callable from Python);
:func:`entry` is the console script and ``python -m femplastic``; :func:`run_main_job` (the
work of ``femplastic run``) is imported on first use so that ``femplastic --help`` stays fast.
"""

from __future__ import annotations

import signal
from typing import Any

from .main import main

__all__ = ["entry", "main", "run_main_job"]


def entry() -> int:
    """The ``femplastic`` process: :func:`main`, then Ctrl-C ignored while Python shuts down.

    Interpreter finalisation (numba/LLVM teardown, up to ~0.5 s) restores SIGINT's default
    action, so a Ctrl-C landing there killed a finished run with no message and status -2
    although every file was written. Once :func:`main` has returned, the command is done:
    the signal is ignored and its exit status stands.

    Returns
    -------
    int
        The exit status of :func:`main`.
    """
    code = main()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return code


def __getattr__(name: str) -> Any:
    if name == "run_main_job":
        from .run import run_main_job

        return run_main_job
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

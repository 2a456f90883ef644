"""The ``femplastic`` command."""

from .main import main, run_main_job

__all__ = ["main", "run_main_job"]

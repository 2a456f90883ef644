"""Ensembles of realisations: HDF5 store with resume, serial/process/Dask runners, statistics."""

from . import ensemble
from .ensemble import *  # noqa: F403

__all__ = list(ensemble.__all__)

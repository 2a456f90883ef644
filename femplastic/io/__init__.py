"""Input and output: results as HDF5 with provenance, fields as XDMF for ParaView."""

from . import results
from .results import *  # noqa: F403

__all__ = list(results.__all__)

"""Input and output: results as HDF5 with provenance, fields as XDMF for ParaView."""

from . import fields, outdir, results  # noqa: F401 (io.outdir for the CLI)
from .fields import *  # noqa: F403
from .results import *  # noqa: F403

__all__ = [*results.__all__, *fields.__all__]

"""femplastic: finite-element elasto-plastic models of amorphous plasticity.

The public API is re-exported here flat; see the documentation for the conventions
(Voigt order (xx, yy, xy) with tensor shear, row-major x-fastest element numbering,
Lennard-Jones units).
"""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

try:
    __version__ = _version("femplastic")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

from . import elasticity, fem, mesh  # noqa: E402
from .elasticity import Isotropic  # noqa: E402

__all__ = ["__version__", "Isotropic", "elasticity", "fem", "mesh"]

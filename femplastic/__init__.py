"""femplastic: finite-element elasto-plastic models of amorphous plasticity.

The public API is re-exported here flat; see the documentation for the conventions
(Voigt order (xx, yy, xy) with tensor shear, row-major x-fastest element numbering,
Lennard-Jones units, angles in radians).
"""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

try:
    __version__ = _version("femplastic")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

from . import (  # noqa: E402
    calibration,
    elasticity,
    ensemble,
    fem,
    lattice,
    meanfield,
    mesh,
    observables,
    probes,
    propagator,
    scalar,
    scalar_observables,
    slip,
    variants,
)
from .drivers import AQSRun, EventLog, QuenchInfo, aqs, quench, relax  # noqa: E402
from .elasticity import Isotropic  # noqa: E402
from .params import Config, ModelParams, RunParams, load_config  # noqa: E402
from .propagator import (  # noqa: E402
    DensePropagator,
    MeanFieldPropagator,
    PeriodicKernel,
    Propagator,
    ShuffledPropagator,
    SparsePropagator,
    make_propagator,
)
from .state import Model, State, build_model  # noqa: E402

__all__ = [
    "__version__",
    "AQSRun",
    "Config",
    "DensePropagator",
    "EventLog",
    "Isotropic",
    "MeanFieldPropagator",
    "Model",
    "ModelParams",
    "PeriodicKernel",
    "Propagator",
    "QuenchInfo",
    "RunParams",
    "ShuffledPropagator",
    "SparsePropagator",
    "State",
    "aqs",
    "build_model",
    "calibration",
    "elasticity",
    "ensemble",
    "fem",
    "lattice",
    "meanfield",
    "load_config",
    "make_propagator",
    "mesh",
    "observables",
    "probes",
    "propagator",
    "quench",
    "relax",
    "scalar",
    "scalar_observables",
    "slip",
    "variants",
]

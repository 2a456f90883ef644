"""femplastic: finite-element elasto-plastic models of amorphous plasticity.

Folders, one per model family or concern:

* :mod:`femplastic.fe`: FE machinery (meshes, elasticity, assembly, propagators);
* :mod:`femplastic.weakplane`: the tensorial weak-plane model of Fernandez Castellanos et al.
  (parameters, slip laws, state, drivers, probes, observables, calibration);
* :mod:`femplastic.lattice`: scalar lattice EPMs of Liu et al. and Tyukodi et al.;
* :mod:`femplastic.meanfield`: the Hebraud-Lequeux model and the bridge of Puosi et al.;
* :mod:`femplastic.ensemble`, :mod:`femplastic.io`, :mod:`femplastic.cli`: infrastructure.

The public API is re-exported here flat (``fp.ModelParams``, ``fp.quench``, ``fp.aqs`` ...) and
loaded on first use, so ``import femplastic`` (and ``femplastic --help``) stays fast. Former
module paths (``femplastic.scalar``, ``femplastic.drivers.aqs`` ...) still import; see
:mod:`femplastic._compat`. Conventions: Voigt order (xx, yy, xy) with tensor shear,
row-major x-fastest element numbering, Lennard-Jones units, angles in radians.
"""

from __future__ import annotations

import importlib
from typing import Any

from . import _compat

#: The package version (pyproject.toml reads it from here: no importlib.metadata at start-up,
#: which cost ~0.15 s of every ``femplastic --help``).
__version__ = "0.1.0"

_compat.install()

#: Public name -> module that defines it (imported on first access).
_API: dict[str, str] = {
    "AQSRun": "femplastic.weakplane.drivers",
    "EventLog": "femplastic.weakplane.drivers",
    "QuenchInfo": "femplastic.weakplane.drivers",
    "aqs": "femplastic.weakplane.drivers",
    "CyclicRun": "femplastic.weakplane.drivers",
    "cyclic": "femplastic.weakplane.drivers",
    "StressRun": "femplastic.weakplane.drivers",
    "stress_controlled": "femplastic.weakplane.drivers",
    "quench": "femplastic.weakplane.drivers",
    "relax": "femplastic.weakplane.drivers",
    "Isotropic": "femplastic.fe.elasticity",
    "Config": "femplastic.weakplane.params",
    "ModelParams": "femplastic.weakplane.params",
    "RunParams": "femplastic.weakplane.params",
    "load_config": "femplastic.weakplane.params",
    "DensePropagator": "femplastic.fe.propagators",
    "MeanFieldPropagator": "femplastic.fe.propagators",
    "PeriodicKernel": "femplastic.fe.propagators",
    "Propagator": "femplastic.fe.propagators",
    "ShuffledPropagator": "femplastic.fe.propagators",
    "SparsePropagator": "femplastic.fe.propagators",
    "make_propagator": "femplastic.fe.propagators",
    # every probe and protocol of the CLI, flat (fp.local_yield, fp.bauschinger, fp.creep ...)
    "RateParams": "femplastic.weakplane.drivers",
    "RateRun": "femplastic.weakplane.drivers",
    "creep": "femplastic.weakplane.drivers",
    "shear_rate": "femplastic.weakplane.drivers",
    "local_yield": "femplastic.weakplane.probes",
    "LocalYield": "femplastic.weakplane.probes",
    "bauschinger": "femplastic.weakplane.probes",
    "Bauschinger": "femplastic.weakplane.probes",
    "Model": "femplastic.weakplane.state",
    "State": "femplastic.weakplane.state",
    "build_model": "femplastic.weakplane.state",
}

#: Subpackages and (former) module names reachable as attributes, e.g. ``fp.mesh.load``.
_MODULES = ("fe", "weakplane", "lattice", "meanfield", "ensemble", "io", "cli",
            *(old.rsplit(".", 1)[1] for old in _compat.MOVED))

#: Analysis modules reachable flat, e.g. ``fp.avalanches.catalogue(run)``.
_SUBMODULES = {"avalanches": "femplastic.weakplane.avalanches",
               "validation": "femplastic.validation"}

__all__ = ["__version__", *_API, *_MODULES, *_SUBMODULES]


def __getattr__(name: str) -> Any:
    if name in _API:
        value = getattr(importlib.import_module(_API[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(_SUBMODULES[name])
    elif name in _MODULES:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

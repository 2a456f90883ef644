"""Ensembles of realisations: HDF5 store with resume, serial/process/Dask runners, statistics.

* :mod:`~femplastic.ensemble.runners`: :class:`~femplastic.ensemble.runners.Ensemble` (one
  function over parameter points and realisations, seeding) and where it runs (serial, local
  processes, Dask);
* :mod:`~femplastic.ensemble.store`: the HDF5 store, its layout and resume;
* :mod:`~femplastic.ensemble.data`: reading a store back
  (:func:`~femplastic.ensemble.data.load_store`);
* :mod:`~femplastic.ensemble.stats`: :func:`~femplastic.ensemble.stats.curve_stats`,
  :func:`~femplastic.ensemble.stats.pooled`, :func:`~femplastic.ensemble.stats.bootstrap`.

The infrastructure never imports a model. The weak-plane model's realisation functions
(:mod:`femplastic.weakplane.ensembles`: ``model_realization``, ``model_statistics``,
``model_config``, ``config_point``, ``grid_points``, ``warmup_model``) are still reachable
here, imported on first access, so ``femplastic.ensemble.model_realization`` and the name
stores record for it, ``femplastic.ensemble:model_realization``, keep working.
"""

from __future__ import annotations

import importlib
from typing import Any

from . import data, runners, stats, store  # noqa: F401 (submodules as attributes)
from .data import *  # noqa: F403
from .runners import *  # noqa: F403
from .stats import *  # noqa: F403

#: Names of a model's ensemble functions, re-exported lazily: name -> defining module.
_LAZY = {name: "femplastic.weakplane.ensembles" for name in (
    "model_realization", "model_statistics", "model_config", "config_point", "grid_points",
    "warmup_model")}

__all__ = [*runners.__all__, *data.__all__, *stats.__all__, *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

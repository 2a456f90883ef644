"""The tensorial weak-plane FE model of Fernandez Castellanos, Roux & Patinet.

* :mod:`~femplastic.weakplane.params`: validated parameters, TOML configs, Table 1 and variant
  presets;
* :mod:`~femplastic.weakplane.slip`: slip-system laws (orientations, thresholds, amplitudes);
* :mod:`~femplastic.weakplane.state`: the model (mesh, material, propagator) and its state;
* :mod:`~femplastic.weakplane.variants`: the ingredients of the paper's variants A-I;
* :mod:`~femplastic.weakplane.kernels`: the numba hot loops (stability, slips, relaxation);
* :mod:`~femplastic.weakplane.drivers`: AQS, cyclic AQS, stress control, KMC quench, finite
  rate and creep;
* :mod:`~femplastic.weakplane.probes`: local shear test, Bauschinger reload;
* :mod:`~femplastic.weakplane.observables` and :mod:`~femplastic.weakplane.calibration`: what
  the paper measures, and the calibration errors;
* :mod:`~femplastic.weakplane.overlap`: the overlap error ``L[P]`` of two samples;
* :mod:`~femplastic.weakplane.energy` and :mod:`~femplastic.weakplane.avalanches`: elastic
  energy and dissipation; the avalanche catalogue and its power-law statistics;
* :mod:`~femplastic.weakplane.ensembles`: the model's realisation functions for
  :class:`femplastic.ensemble.Ensemble` and the points of parameter sweeps.
"""

from . import params, slip, state, variants  # noqa: I001  (params first: it defines the inputs)
from . import calibration, drivers, observables, overlap, probes
from .drivers import AQSRun, EventLog, QuenchInfo, aqs, quench, relax
from .params import Config, ModelParams, RunParams, load_config
from .state import Model, State, build_model

__all__ = ["AQSRun", "Config", "EventLog", "Model", "ModelParams", "QuenchInfo", "RunParams",
           "State", "aqs", "build_model", "calibration", "drivers", "load_config", "observables",
           "overlap", "params", "probes", "quench", "relax", "slip", "state", "variants"]

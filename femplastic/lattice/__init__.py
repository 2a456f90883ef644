"""Scalar lattice elasto-plastic models (Liu et al.; Tyukodi et al.) on a Fourier Eshelby kernel.

* :mod:`~femplastic.lattice.kernel`: the lattice Eshelby propagator;
* :mod:`~femplastic.lattice.scalar`: finite-rate / creep and quasistatic drivers, threshold laws;
* :mod:`~femplastic.lattice.observables`: flow curves, Herschel-Bulkley fits, localisation.

Everything is re-exported here, so ``femplastic.lattice.run_fixed_rate`` and the former
``femplastic.scalar.run_fixed_rate`` name the same function.
"""

from . import kernel, observables, scalar
from .kernel import *  # noqa: F403
from .observables import *  # noqa: F403
from .scalar import *  # noqa: F403

__all__ = ["kernel", "observables", "scalar", *kernel.__all__, *scalar.__all__,
           *observables.__all__]

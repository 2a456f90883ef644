"""Scalar lattice elasto-plastic models (Liu et al.; Tyukodi et al.) on a Fourier Eshelby kernel.

Both models live on an ``L x L`` bi-periodic lattice (sites numbered row-major, x fastest)
with one shear stress per site, ``sigma_i = Sigma_ext + s_i``: ``Sigma_ext`` is the external
(mean) stress and ``s`` the zero-mean internal stress built by the Fourier Eshelby kernel
:class:`femplastic.lattice.LatticeEshelby` from the plastic strain field. Stresses are in LJ
units, times in LJ time units. Physics, derivations and comparison with the papers:
``docs/validation/lattice_models.md``.

Array vocabulary (``N = L * L`` sites):

* ``stress_int`` : (N,) float64, internal stress ``s_i`` (zero mean), stress units;
* ``threshold``  : (N,) float64, local yield threshold ``sigma_th_i``;
* ``gamma_pl``   : (N,) float64, **engineering** plastic shear strain (finite-rate model,
  ``sigma = mu gamma_el`` as in Liu et al.);
* ``eps_pl``     : (N,) float64, **tensor** plastic shear strain ``eps_xy`` (quasistatic model,
  ``sigma = 2 mu eps_el`` as in Tyukodi et al.); reported strains are engineering
  ``gamma = 2 eps``;
* ``plastic``    : (N,) int8, the state variable ``n_i`` in {0, 1}.

Randomness: every draw comes from the ``numpy.random.Generator`` passed in (numba uses its
bit generator directly, so the Python object's state advances); the same seed gives the same
trajectory.

Modules:

* :mod:`~femplastic.lattice.kernel`: the lattice Eshelby propagator;
* :mod:`~femplastic.lattice.thresholds`: local yield threshold distributions;
* :mod:`~femplastic.lattice.initial_maps`: initial-state inputs (correlated threshold maps,
  frozen stress fields, thresholds with a negative tail);
* :mod:`~femplastic.lattice.finite_rate`: finite-rate and creep model (Liu et al.);
* :mod:`~femplastic.lattice.quasistatic`: quasistatic extremal model (Tyukodi et al.);
* :mod:`~femplastic.lattice.loops`: their compiled loops (numba);
* :mod:`~femplastic.lattice.common`: shared input checks;
* :mod:`~femplastic.lattice.observables`: flow curves, Herschel-Bulkley fits, localisation.

Everything public is re-exported here, so ``femplastic.lattice.run_fixed_rate`` and the former
``femplastic.scalar.run_fixed_rate`` (``femplastic.scalar`` is now an alias of this package)
name the same function.
"""

from . import finite_rate, initial_maps, kernel, observables, quasistatic, thresholds
from .finite_rate import *  # noqa: F403
from .initial_maps import *  # noqa: F403
from .kernel import *  # noqa: F403
from .observables import *  # noqa: F403
from .quasistatic import *  # noqa: F403
from .thresholds import *  # noqa: F403

__all__ = ["kernel", "observables", "thresholds", "finite_rate", "quasistatic", "initial_maps",
           *kernel.__all__, *thresholds.__all__, *finite_rate.__all__, *quasistatic.__all__,
           *observables.__all__, *initial_maps.__all__]

"""Hebraud-Lequeux (HL) mean-field model of amorphous plasticity (Puosi, Olivier & Martens 2015).

The density ``P(sigma, t)`` of local shear stresses obeys::

    dP/dt = -G0 gdot dP/dsigma - (1/tau) H(|sigma| - sigma_c) P + Gamma delta(sigma)
            + D d2P/dsigma2,
    Gamma = (1/tau) int_{|sigma| > sigma_c} P dsigma,    D = alpha sigma_c^2 Gamma.

Every public name of the submodules is available here (``from femplastic import meanfield as
mf; mf.hl_steady_state(...)``):

* :mod:`~femplastic.meanfield.grid` -- model extensions (:class:`.HLExtensions`) and stress
  grids (:class:`.HLGrid`, :func:`.make_grid`);
* :mod:`~femplastic.meanfield.exact` -- closed forms: quasistatic yield stress and
  Herschel-Bulkley prefactor (:func:`.hl_yield_stress`, :func:`.hl_hb_prefactor`,
  :func:`.hl_d_of_alpha`) and the exact stationary solution of the original model
  (:func:`.hl_stationary_exact`);
* :mod:`~femplastic.meanfield.discretisation` -- the finite-volume operators and the
  backward-Euler step (private; the numerics are described there);
* :mod:`~femplastic.meanfield.steady` -- stationary states and flow curves
  (:func:`.hl_steady_state`, :func:`.hl_flow_curve`);
* :mod:`~femplastic.meanfield.transient` -- start-up, creep and step strain
  (:func:`.hl_fixed_rate`, :func:`.hl_creep`, :func:`.hl_step_strain`);
* :mod:`~femplastic.meanfield.fits` -- Herschel-Bulkley fits and the universal
  ``(sigma_Y, A)`` relation (:func:`.hb_fit`, :func:`.hl_universal_curve`,
  :func:`.alpha_from_yield_stress`);
* :mod:`~femplastic.meanfield.bridge` -- estimators of ``D_sigma``, ``Gamma``, the local
  drops and ``alpha_micro`` on simulation records (:func:`.measure_bridge`).

Conventions
-----------
* Units: ``sigma_c = G0 = tau = 1`` by default; all three are keyword arguments of every
  solver. Internally everything is made dimensionless with ``sigma_c`` (stress), ``tau``
  (time) and ``sigma_c / (G0 tau)`` (shear rate); the results are converted back.
* Stress grids (:class:`.HLGrid`) are stored in units of ``sigma_c``. A grid has ``n`` cells,
  ``faces (n + 1,)``, ``centers (n,)``, ``widths (n,)``; one cell is centred on ``sigma = 0``
  (the reinjection point) and the thresholds ``+-sigma_c`` are cell faces.
* Densities are cell values: ``density (n_classes, n)`` in 1/stress, normalised so that
  ``sum(density * widths) = 1`` over all classes.
* Activity ``Gamma`` is a rate (1/time); ``D`` a stress-diffusion coefficient
  (stress^2 / time) in the Fokker-Planck sense: a Brownian stress with this ``D`` has
  mean-square displacement ``2 D t``.
"""

from . import bridge, exact, fits, grid, steady, transient
from .bridge import *  # noqa: F403
from .exact import *  # noqa: F403
from .fits import *  # noqa: F403
from .grid import *  # noqa: F403
from .steady import *  # noqa: F403
from .transient import *  # noqa: F403

__all__ = sorted(
    name
    for module in (grid, exact, steady, transient, fits, bridge)
    for name in module.__all__
)

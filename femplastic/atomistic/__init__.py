"""The atomistic reference: LAMMPS-driven 2D binary Lennard-Jones glass (optional extra ``md``).

Castellanos et al. (2021) sec. 2: the glass of Patinet et al. (2016) and Barbot et al. (2018),
ESL preparation, athermal quasistatic shear and the local yield stress method, and the
:class:`~femplastic.weakplane.calibration.ReferenceData` built from them.

Modules: :mod:`.potential` (the pair potential, LAMMPS and numpy forms), :mod:`.system`
(configurations, a LAMMPS session), :mod:`.prep` (ESL equilibration and quench), :mod:`.aqs`,
:mod:`.lysm`, :mod:`.reference` (samples -> ReferenceData + HDF5). Only the potential module
works without LAMMPS; the others raise :class:`MissingExtra` naming ``femplastic[md]``.
Nothing else in femplastic imports this package (the ``femplastic md`` command does, lazily).
"""

from ._lammps import MissingExtra, lammps_version, require_lammps
from .potential import LJ2D, PAPER

__all__ = ["MissingExtra", "require_lammps", "lammps_version", "LJ2D", "PAPER"]

"""Finite-element machinery shared by the models: meshes, elasticity, assembly, propagators.

Nothing here knows about slip systems, thresholds or drivers. Modules:

* :mod:`~femplastic.fe.mesh`: periodic regular grids and custom meshes (meshio -> scikit-fem);
* :mod:`~femplastic.fe.elasticity`: isotropic stiffness, Voigt helpers, Schmid tensors;
* :mod:`~femplastic.fe.assembly`: scikit-fem solves (periodic cell, Dirichlet patch, Eshelby);
* :mod:`~femplastic.fe.propagators`: how element stress responds to element plastic strain.
"""

from . import assembly, elasticity, mesh, propagators

__all__ = ["assembly", "elasticity", "mesh", "propagators"]

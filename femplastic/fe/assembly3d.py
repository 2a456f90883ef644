"""Finite-element solves on tri-periodic Hex8 meshes with scikit-fem (the 3D direct path).

The 3D counterpart of :mod:`femplastic.fe.assembly`, same model: element-constant plastic
strain, mesoscale element strain = FE strain averaged over the element, imposed mean strain
``E``. The displacement is ``u = E . x + u~`` with ``u~`` periodic solving ``K u~ = f``,
``f = sum_e V_e Bbar_e^T W C (eps_pl_e - E)`` (``Bbar_e`` the element-averaged strain operator,
``W = diag(1, 1, 1, 2, 2, 2)`` the tensor-Voigt weights). Element stress:
``Sigma_e = C : (E + Bbar_e u~ - eps_pl_e) + Sigma0_e``. Voigt order
``(xx, yy, zz, yz, xz, xy)``, tensor shear components (:mod:`femplastic.fe.elasticity3d`).

This is the independent check of the exact periodic kernel
(:class:`femplastic.fe.propagators.periodic3d.PeriodicKernel3D`) and the solver of custom
periodic hexahedral meshes. The solver is the dimension-generic FE core of
:mod:`femplastic.fe.assembly` (Hex8 element, 6 Voigt components); this module keeps the 3D
names.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .assembly import _HEX8, _Assembly, _check_voigt, _PeriodicCell
from .elasticity3d import Isotropic3D
from .mesh3d import HexMesh

__all__ = ["PeriodicFE3D", "eshelby_tensor3d"]

#: The Hex8 assembly is the dimension-generic one (kept under its 3D name).
_Assembly3D = _Assembly


def _check_macro3(macro_strain: ArrayLike) -> NDArray[np.float64]:
    """A 3D Voigt strain ``(xx, yy, zz, yz, xz, xy)``, shape (6,)."""
    return _check_voigt("macro_strain", macro_strain, _HEX8)


class PeriodicFE3D(_PeriodicCell):
    """Tri-periodic Hex8 cell with imposed mean strain; factorised once (sparse LU).

    Voigt components ``nv = 6`` (xx, yy, zz, yz, xz, xy), tensor shear; the methods
    (``fluctuation``, ``element_strain``, ``element_stress``, ``unit_responses``, ``energy``,
    ``eshelby``) are those of the dimension-generic core of :mod:`femplastic.fe.assembly`.

    Parameters
    ----------
    mesh : HexMesh
        A periodic hexahedral mesh (``mesh.periodic`` must be True).
    material : Isotropic3D
        Homogeneous isotropic moduli.

    Examples
    --------
    >>> import numpy as np
    >>> from femplastic.fe.mesh3d import periodic_grid3d
    >>> fe = PeriodicFE3D(periodic_grid3d(3), Isotropic3D())
    >>> s = fe.element_stress(np.zeros((27, 6)), macro_strain=(0, 0, 0, 0, 0, 0.5))
    >>> bool(np.allclose(s, [0, 0, 0, 0, 0, 13.2]))
    True

    The energy of a uniform shear, ``2 G eps_xy^2`` times the volume 216:

    >>> fe = PeriodicFE3D(periodic_grid3d(3, l=2.0), Isotropic3D(G=10.0, K=50.0))
    >>> round(fe.energy(np.zeros((27, 6)), (0, 0, 0, 0, 0, 0.01)), 10)
    0.432
    """

    _mesh_type = HexMesh
    _material_type = Isotropic3D

    @property
    def volumes(self) -> NDArray[np.float64]:
        """Element volumes from the FE quadrature, (n_elem,)."""
        return self._asm.volumes


def eshelby_tensor3d(fe: PeriodicFE3D, element: int = 0) -> NDArray[np.float64]:
    """Numerical Eshelby tensor ``S`` (6, 6) of one element of a periodic Hex8 mesh.

    ``S[a, b]``: element-averaged strain ``a`` in ``element`` per unit eigenstrain ``b`` in it,
    at fixed mean strain (six FE solves). The self stress response is ``C (S - I)``.

    Parameters
    ----------
    fe : PeriodicFE3D
        The factorised cell.
    element : int
        Element index, in ``[0, n_elem)``.

    Returns
    -------
    (6, 6) ndarray
        Tensor-Voigt matrix ``S``.
    """
    return fe.eshelby(element)

"""The Dirichlet patch problem of the 3D local shear test: an ``n^3`` block of Hex8 elements.

The 3D form of :class:`femplastic.fe.assembly.PatchFE`: a cube of ``n x n x n`` trilinear
elements of side ``l`` is cut out of the system, the nodes of its six faces follow an affine
displacement ``u = E . x`` (``x`` measured from the cube centre, ``E`` the imposed strain) and
the interior nodes are in equilibrium with the element-constant plastic strains. Same model as
the periodic solver (:mod:`femplastic.fe.assembly3d`): mesoscale element strain = FE strain
averaged over the element, element stress ``Sigma_e = C : (epsbar_e - eps_pl_e)``. Voigt order
``(xx, yy, zz, yz, xz, xy)``, tensor shear components. Elements are numbered row-major,
``x`` fastest: ``e = (iz n + iy) n + ix`` (the order of
:func:`femplastic.fe.mesh3d.periodic_grid3d`).

:class:`PatchPropagator3D` packs the solve as the dense response the weak-plane relaxation
applies (``numba_form()`` is None: the shared driver :func:`femplastic.relax` adds it from
Python once per synchronous sweep, with the same order of random draws as the fused kernels).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .assembly import _check_patch_args, _DirichletPatch, check_field
from .elasticity3d import Isotropic3D
from .mesh import _grid_arrays
from .mesh3d import _HEX, HexMesh, hex_from_arrays

__all__ = ["PatchFE3D", "PatchPropagator3D", "patch_mesh3d"]


def patch_mesh3d(n: int, l: float) -> HexMesh:
    """Non-periodic ``n^3`` cube of Hex8 elements of side ``l``, centred on the origin.

    Parameters
    ----------
    n : int
        Elements per side, >= 1.
    l : float
        Element side, > 0.

    Returns
    -------
    HexMesh
        ``grid = (n, l)``; element ``e = (iz n + iy) n + ix`` (x fastest).
    """
    n, l = _check_patch_args(n, l)
    nodes, cells = _grid_arrays(_HEX, (np.arange(n + 1) - 0.5 * n) * l)  # VTK order
    return hex_from_arrays(nodes, cells, periodic=False, _grid=(n, l))


class PatchFE3D(_DirichletPatch):
    """An ``n^3`` block of Hex8 elements whose face nodes follow an affine displacement.

    Voigt components ``nv = 6`` (xx, yy, zz, yz, xz, xy); ``stress``, ``affine`` and
    ``response_matrix`` are those of the dimension-generic core
    (:mod:`femplastic.fe.assembly`).

    Parameters
    ----------
    n : int
        Patch side in elements, >= 1 (``n = 1`` or ``2``: no or one interior node).
    l : float
        Element side, > 0.
    material : Isotropic3D
        Homogeneous isotropic moduli.

    Examples
    --------
    A uniform plastic strain with the boundary held is fully frustrated, ``Sigma = -C eps_pl``:

    >>> import numpy as np
    >>> fe = PatchFE3D(2, 1.0, Isotropic3D(G=1.0, K=2.0))
    >>> s = fe.stress(np.tile([0, 0, 0, 0, 0, 0.1], (8, 1)))
    >>> bool(np.allclose(s, [0, 0, 0, 0, 0, -0.2]))
    True
    """

    def __init__(self, n: int, l: float, material: Isotropic3D) -> None:
        if not isinstance(material, Isotropic3D):
            raise TypeError(f"material must be an Isotropic3D, got {type(material).__name__}")
        self.mesh = patch_mesh3d(n, l)
        self.n = int(n)
        self.l = float(l)
        super().__init__(self.mesh.skmesh, material)

    def load_response(self, direction: ArrayLike) -> NDArray[np.float64]:
        """Element stress per unit boundary strain along ``direction``, (n^3, 6).

        Parameters
        ----------
        direction : (6,) array_like
            Voigt strain direction (e.g. a loading tensor ``M``).

        Returns
        -------
        (n^3, 6) ndarray
            Stress per unit strain, Voigt, LJ units.
        """
        return self.stress(np.zeros((self.n_elem, 6)), direction)


class PatchPropagator3D:
    """Dense response of an isolated ``n^3`` patch with its boundary held (Dirichlet).

    The propagator of a 3D patch model (:mod:`femplastic.weakplane.probes.local_yield3d`):
    ``add`` accumulates ``R[elems] : deps`` into the patch stress.

    Parameters
    ----------
    n : int
        Patch side in elements.
    l : float
        Element side.
    material : Isotropic3D
        Homogeneous moduli.
    """

    stochastic = False

    def __init__(self, n: int, l: float, material: Isotropic3D) -> None:
        self.fe = PatchFE3D(n, l, material)
        self.mesh = self.fe.mesh
        self.material = material
        self.R, self._R2, self._self = self.fe.dense_operators()

    @property
    def n_elem(self) -> int:
        """Number of patch elements."""
        return self.fe.n_elem

    @property
    def self_response(self) -> NDArray[np.float64]:
        """Each element's own response ``[e, a, b]`` (stress a per eigenstrain b), (n^3, 6, 6)."""
        return self._self

    def stress(self, eps_pl: ArrayLike, macro_strain: ArrayLike = (0.0,) * 6,
               prestress: ArrayLike | None = None) -> NDArray[np.float64]:
        """Patch element stress for plastic strain and affine boundary strain (direct solve).

        Parameters
        ----------
        eps_pl : (n^3, 6) array_like
            Plastic strain, Voigt, tensor shear.
        macro_strain : (6,) array_like
            Affine boundary strain.
        prestress : (n^3, 6) array_like, optional
            Added to the elastic stress.

        Returns
        -------
        (n^3, 6) ndarray
        """
        out = self.fe.stress(eps_pl, macro_strain)
        if prestress is not None:
            out = out + check_field("prestress", prestress, self.n_elem, 6)
        return out

    def load_response(self, direction: ArrayLike) -> NDArray[np.float64]:
        """Element stress per unit boundary strain along ``direction`` (6,), (n^3, 6)."""
        return self.fe.load_response(direction)

    def add(self, stress: NDArray[np.float64], elems: ArrayLike, deps: ArrayLike) -> None:
        """In place, ``stress += sum_k R[elems[k]] : deps[k]``.

        Parameters
        ----------
        stress : (n^3, 6) float64 ndarray
            C-contiguous, updated in place.
        elems : (k,) int array_like
            Patch elements receiving plastic strain increments.
        deps : (k, 6) array_like
            The increments, Voigt, tensor shear.
        """
        e = np.atleast_1d(np.asarray(elems, dtype=np.int64))
        d = np.asarray(deps, dtype=float).reshape(-1, 6)
        if e.shape[0] != d.shape[0]:
            raise ValueError(f"elems ({e.shape[0]}) and deps ({d.shape[0]}) differ in length")
        if e.size == 0:
            return
        if e.min() < 0 or e.max() >= self.n_elem:
            raise ValueError(f"elems must be in [0, {self.n_elem - 1}]")
        rows = (6 * e[:, None] + np.arange(6)[None, :]).ravel()
        flat = stress.reshape(-1)
        flat += d.ravel() @ self._R2[rows]

    def numba_form(self) -> None:
        """None: applied from Python by :meth:`add` (once per synchronous sweep)."""
        return None

"""Hexahedral meshes: regular tri-periodic Hex8 grids and custom meshes (meshio -> scikit-fem).

Array vocabulary (femplastic is element-major; scikit-fem is coordinate-first, and the
conversion, including the vertex order, happens here only):

* ``nodes``     : (n_node, 3) float64, vertex coordinates of the (non-periodic) mesh.
* ``cells``     : (n_elem, 8) int64, vertex indices into ``nodes`` in the VTK / meshio
  ``hexahedron`` order: the bottom face ``0 1 2 3`` counter-clockwise seen from the top, then
  the top face ``4 5 6 7`` above them (positive volume).
* ``centroids`` : (n_elem, 3) float64, element centres; ``volumes`` : (n_elem,) float64.

Elements of a regular grid are numbered row-major with x fastest:
``e = (iz * L + iy) * L + ix``.

The Hex8 cell (its VTK vertex order, exact trilinear geometry and degeneracy check) is
defined here; building, checking, periodic identification and reading go through the
dimension-generic core of :mod:`femplastic.fe.mesh`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import skfem
from numpy.typing import NDArray

from .mesh import _build, _CellType, _check_grid_args, _grid_arrays, _load, _Mesh

__all__ = ["HexMesh", "periodic_grid3d", "hex_from_arrays", "load_hex"]

#: skfem's Hex1 vertex ``k`` is the VTK vertex ``_VTK_OF_SKFEM[k]`` (skfem.io.meshio mapping).
_VTK_OF_SKFEM = np.array([0, 4, 3, 1, 7, 5, 2, 6])
#: Reference-cube corners of the VTK hexahedron vertices, in {0, 1}^3.
_VTK_CORNERS = np.array(
    [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]],
    dtype=float,
)


def _shape_gradients(xi: NDArray[np.float64]) -> NDArray[np.float64]:
    """Gradients of the 8 trilinear shape functions at reference points ``xi`` (q, 3) in [0,1]^3.

    Returns (q, 8, 3).
    """
    c = _VTK_CORNERS  # (8, 3)
    # N_a = prod_d (c_ad xi_d + (1 - c_ad)(1 - xi_d))
    f = c[None] * xi[:, None, :] + (1 - c[None]) * (1 - xi[:, None, :])  # (q, 8, 3)
    df = 2 * c[None] - 1  # derivative of each factor
    out = np.empty(f.shape)
    out[..., 0] = df[..., 0] * f[..., 1] * f[..., 2]
    out[..., 1] = f[..., 0] * df[..., 1] * f[..., 2]
    out[..., 2] = f[..., 0] * f[..., 1] * df[..., 2]
    return out


def _hex_geometry(
    nodes: NDArray[np.float64], cells: NDArray[np.int64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Signed volumes and centroids of trilinear hexahedra (2-point Gauss per axis, exact)."""
    g = 0.5 + np.array([-0.5, 0.5]) / np.sqrt(3.0)
    xi = np.stack(np.meshgrid(g, g, g, indexing="ij"), axis=-1).reshape(-1, 3)  # (8, 3)
    dN = _shape_gradients(xi)  # (q, 8, 3)
    f = _VTK_CORNERS[None] * xi[:, None, :] + (1 - _VTK_CORNERS[None]) * (1 - xi[:, None, :])
    N = f.prod(axis=-1)  # (q, 8)
    X = nodes[cells]  # (n, 8, 3)
    J = np.einsum("qad,nai->nqid", dN, X)  # (n, q, 3, 3): dx_i / dxi_d
    detJ = np.linalg.det(J) / 8.0  # Gauss weights 1/8 on [0, 1]^3
    vol = detJ.sum(axis=1)
    x = np.einsum("qa,nai->nqi", N, X)
    cen = np.einsum("nq,nqi->ni", detJ, x) / vol[:, None]
    return vol, cen


def _check_hexes(
    nodes: NDArray[np.float64], cells: NDArray[np.int64], vol: NDArray[np.float64]
) -> None:
    """Refuse degenerate hexahedra (volume <= 1e-12 of the cube of the mesh extent)."""
    scale = float(np.ptp(nodes, axis=0).max()) or 1.0
    if np.any(vol <= 1e-12 * scale**3):
        raise ValueError("mesh has degenerate (zero-volume) hexahedra")


#: The trilinear hexahedron: VTK vertex order, reflected by swapping bottom and top faces.
_HEX = _CellType(
    dim=3, plural="hexahedra", adjective="hexahedral", meshio_type="hexahedron",
    corners=_VTK_CORNERS, flip=np.array([4, 5, 6, 7, 0, 1, 2, 3]), geometry=_hex_geometry,
    check=_check_hexes, skfem_mesh=skfem.MeshHex, skfem_periodic=skfem.MeshHex1DG,
    skfem_order=_VTK_OF_SKFEM, facet="face",
)


@dataclass(frozen=True, eq=False, repr=False)  # repr: _Mesh's
class HexMesh(_Mesh):
    """A hexahedral (Hex8) mesh as femplastic uses it.

    Attributes
    ----------
    skmesh : skfem.Mesh
        The scikit-fem mesh to assemble on: a ``MeshHex1DG`` when periodic (wrapped
        connectivity), a ``MeshHex`` otherwise.
    nodes : (n_node, 3) ndarray
        Vertex coordinates of the unwrapped mesh.
    cells : (n_elem, 8) ndarray of int
        VTK-ordered vertex indices of each element (positive volume).
    periodic : bool
        Whether ``skmesh`` identifies opposite faces of the box.
    box : (2, 3) ndarray
        ``[[xmin, ymin, zmin], [xmax, ymax, zmax]]``.
    grid : tuple of (L, l) or None
        ``(L, l)`` for a regular ``L^3`` grid of cubes of side ``l`` numbered row-major,
        x fastest (enables the exact periodic kernel), None otherwise.
    """

    dim = 3
    _cell: ClassVar[_CellType] = _HEX

    @property
    def volumes(self) -> NDArray[np.float64]:
        """Element volumes, (n_elem,) (exact for trilinear hexahedra)."""
        return _hex_geometry(self.nodes, self.cells)[0]

    @functools.cached_property
    def areas(self) -> NDArray[np.float64]:
        """Element measures (the volumes), (n_elem,): the name the weak-plane drivers read.

        The drivers weight element means by ``mesh.areas`` in 2D and 3D alike; computed
        once per mesh (read only).
        """
        a = self.volumes
        a.flags.writeable = False
        return a


def periodic_grid3d(L: int, l: float = 1.0) -> HexMesh:
    """Regular ``L x L x L`` tri-periodic grid of cubic trilinear (Hex8) elements of side ``l``.

    Parameters
    ----------
    L : int
        Number of elements per side, >= 3 (scikit-fem cannot make an element periodic with
        itself, which ``L = 2`` would need along the wrapped faces; the kernel handles L = 2).
    l : float
        Element side length (LJ units), > 0.

    Returns
    -------
    HexMesh
        Periodic mesh, elements row-major, x fastest (``e = (iz L + iy) L + ix``), element
        ``e`` spanning ``[ix l, (ix+1) l] x [iy l, (iy+1) l] x [iz l, (iz+1) l]``.

    Examples
    --------
    >>> m = periodic_grid3d(3, l=2.0)
    >>> m.n_elem, np.round(m.centroids[4], 12).tolist(), round(float(m.volumes[0]), 12)
    (27, [3.0, 3.0, 1.0], 8.0)
    """
    L, l = _check_grid_args(L, l, 3, " for a periodic Hex8 mesh")
    nodes, cells = _grid_arrays(_HEX, np.arange(L + 1) * l)
    return hex_from_arrays(nodes, cells, periodic=True, _grid=(L, l))


def hex_from_arrays(
    nodes: NDArray[np.float64],
    cells: NDArray[np.int64],
    periodic: bool = False,
    tol: float = 1e-8,
    _grid: tuple[int, float] | None = None,
) -> HexMesh:
    """Build a :class:`HexMesh` from vertex and hexahedron arrays.

    Parameters
    ----------
    nodes : (n_node, 3) array_like
        Vertex coordinates.
    cells : (n_elem, 8) array_like of int
        VTK-ordered vertex indices of each hexahedron; inverted ones (negative volume) are
        reflected (bottom and top faces swapped).
    periodic : bool
        Identify the nodes on opposite faces of the bounding box (tri-periodic). Raises
        ``ValueError`` when a node on one face has no partner on the other.
    tol : float
        Matching tolerance relative to the box size.

    Returns
    -------
    HexMesh
        The mesh, element ``e`` being ``cells[e]`` (reoriented to positive volume).

    Raises
    ------
    ValueError
        Wrong shapes, NaN, out-of-range indices, degenerate elements, or a mesh that cannot
        be made periodic (the message names the face and the node; the volumes of a
        periodic mesh must also sum to its box volume).
    """
    return _build(HexMesh, nodes, cells, periodic, tol, _grid)


def load_hex(path: str | Path, periodic: bool = False, tol: float = 1e-8) -> HexMesh:
    """Read a hexahedral mesh with meshio (any format meshio reads, ``hexahedron`` cells).

    Parameters
    ----------
    path : str or Path
        Mesh file (``.msh``, ``.vtu``, ``.xdmf``, ``.inp``, ...).
    periodic : bool
        Make the mesh tri-periodic by identifying matching nodes on opposite faces of its
        bounding box; a clear ``ValueError`` is raised when the faces do not match.
    tol : float
        Node matching tolerance relative to the box size.

    Returns
    -------
    HexMesh
        The mesh (element order = file order; inverted hexahedra reoriented).

    Raises
    ------
    ValueError
        Missing file, a folder, a file meshio cannot read, no ``hexahedron`` cells, or a
        non-periodic mesh with ``periodic=True``.
    """
    return _load(HexMesh, path, periodic, tol)

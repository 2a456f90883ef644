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
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import skfem
from numpy.typing import NDArray

from .mesh import _quiet_skfem

__all__ = ["HexMesh", "periodic_grid3d", "hex_from_arrays", "load_hex"]

#: skfem's Hex1 vertex ``k`` is the VTK vertex ``_VTK_OF_SKFEM[k]`` (skfem.io.meshio mapping).
_VTK_OF_SKFEM = np.array([0, 4, 3, 1, 7, 5, 2, 6])
#: Reference-cube corners of the VTK hexahedron vertices, in {0, 1}^3.
_VTK_CORNERS = np.array(
    [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]],
    dtype=float,
)


@dataclass(frozen=True, eq=False)
class HexMesh:
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

    skmesh: skfem.Mesh
    nodes: NDArray[np.float64]
    cells: NDArray[np.int64]
    periodic: bool
    box: NDArray[np.float64]
    grid: tuple[int, float] | None = None

    dim = 3

    @property
    def n_elem(self) -> int:
        """Number of elements."""
        return int(self.cells.shape[0])

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

    @property
    def centroids(self) -> NDArray[np.float64]:
        """Element centroids (volume-weighted centres), (n_elem, 3)."""
        return _hex_geometry(self.nodes, self.cells)[1]

    @property
    def size(self) -> NDArray[np.float64]:
        """Box side lengths ``(Lx, Ly, Lz)``."""
        return self.box[1] - self.box[0]

    def __repr__(self) -> str:
        kind = "custom"
        if self.grid:
            L = self.grid[0]
            kind = f"regular {L}x{L}x{L}, l={self.grid[1]:g}"
        return f"HexMesh({kind}, n_elem={self.n_elem}, periodic={self.periodic})"


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


def _check_positive(name: str, value: float) -> None:
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


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
    if isinstance(L, bool) or not isinstance(L, int | np.integer):
        raise ValueError(f"L must be an integer >= 3, got {L!r}")
    if L < 3:
        raise ValueError(f"L must be an integer >= 3 for a periodic Hex8 mesh, got {L}")
    _check_positive("l", float(l))
    L = int(L)
    l = float(l)
    xs = np.arange(L + 1) * l
    Z, Y, X = np.meshgrid(xs, xs, xs, indexing="ij")  # [iz, iy, ix]
    nodes = np.stack([X.ravel(), Y.ravel(), Z.ravel()], axis=1)
    nid = np.arange((L + 1) ** 3).reshape(L + 1, L + 1, L + 1)
    lo, hi = slice(None, -1), slice(1, None)
    corners = [
        nid[lo, lo, lo], nid[lo, lo, hi], nid[lo, hi, hi], nid[lo, hi, lo],
        nid[hi, lo, lo], nid[hi, lo, hi], nid[hi, hi, hi], nid[hi, hi, lo],
    ]
    cells = np.stack([c.ravel() for c in corners], axis=1)
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
        be made periodic (the message names the face and the node).
    """
    nodes = np.asarray(nodes, dtype=float)
    cells = np.asarray(cells, dtype=np.int64)
    if nodes.ndim != 2 or nodes.shape[1] != 3:
        raise ValueError(f"nodes must have shape (n_node, 3), got {nodes.shape}")
    if cells.ndim != 2 or cells.shape[1] != 8:
        raise ValueError(f"cells must have shape (n_elem, 8) (hexahedra), got {cells.shape}")
    if cells.shape[0] == 0:
        raise ValueError("cells is empty: the mesh has no hexahedron")
    if not np.all(np.isfinite(nodes)):
        raise ValueError("nodes contain NaN or inf")
    if cells.min() < 0 or cells.max() >= nodes.shape[0]:
        raise ValueError("cells reference vertices outside nodes")
    vol, _ = _hex_geometry(nodes, cells)
    cells = cells.copy()
    neg = vol < 0
    cells[neg] = cells[neg][:, [4, 5, 6, 7, 0, 1, 2, 3]]
    scale = float(np.ptp(nodes, axis=0).max()) or 1.0
    if np.any(np.abs(vol) <= 1e-12 * scale**3):
        raise ValueError("mesh has degenerate (zero-volume) hexahedra")
    box = np.array([nodes.min(axis=0), nodes.max(axis=0)])
    t = np.ascontiguousarray(cells[:, _VTK_OF_SKFEM].T)
    with _quiet_skfem():
        base = skfem.MeshHex(np.ascontiguousarray(nodes.T), t)
        if not periodic:
            return HexMesh(base, nodes, cells, False, box, _grid)
        ix, ix0 = _periodic_pairs3d(nodes, box, tol)
        try:
            skmesh = skfem.MeshHex1DG.periodic(base, ix, ix0)
        except ValueError as exc:  # an element touching two identified faces
            raise ValueError(f"cannot make this mesh periodic: {exc}") from exc
    return HexMesh(skmesh, nodes, cells, True, box, _grid)


def _periodic_pairs3d(
    nodes: NDArray[np.float64], box: NDArray[np.float64], tol: float
) -> tuple[NDArray[np.int32], NDArray[np.int32]]:
    """Pairs (eliminated node, kept node) identifying opposite faces of the box.

    A node on the max face along ``d`` is mapped onto the node of the min face with the same
    other two coordinates (nearest-neighbour match, checked against ``tol``); edge and corner
    chains are resolved to the node nearest the ``(xmin, ymin, zmin)`` corner.
    """
    from scipy.spatial import cKDTree

    size = box[1] - box[0]
    atol = tol * float(size.max())
    target = np.arange(nodes.shape[0])
    for d in range(3):
        other = [i for i in range(3) if i != d]
        lo = np.flatnonzero(np.abs(nodes[:, d] - box[0, d]) <= atol)
        hi = np.flatnonzero(np.abs(nodes[:, d] - box[1, d]) <= atol)
        name = "xyz"[d]
        if len(lo) != len(hi):
            raise ValueError(
                f"mesh is not periodic along {name}: {len(lo)} nodes on the face "
                f"{name}={box[0, d]:g} but {len(hi)} on {name}={box[1, d]:g}"
            )
        dist, k = cKDTree(nodes[lo][:, other]).query(nodes[hi][:, other])
        if dist.size and dist.max() > atol:
            j = int(np.argmax(dist))
            raise ValueError(
                f"mesh is not periodic along {name}: node {hi[j]} at {nodes[hi[j]].tolist()} "
                f"has no partner on the opposite face (nearest mismatch {dist.max():.3g})"
            )
        if np.unique(k).size != k.size:
            raise ValueError(f"mesh is not periodic along {name}: face nodes do not pair up")
        target[hi] = lo[k]
    for _ in range(4):  # resolve chains (corner -> edge -> face -> kept)
        target = target[target]
    ix = np.flatnonzero(target != np.arange(nodes.shape[0])).astype(np.int32)
    return ix, target[ix].astype(np.int32)


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
    import meshio

    path = Path(path)
    if not path.exists():
        raise ValueError(f"mesh file {str(path)!r} does not exist")
    if not path.is_file():
        raise ValueError(f"mesh file {str(path)!r} is a folder, not a mesh file")
    try:
        m = meshio.read(path)
    except (SystemExit, Exception) as exc:  # meshio exits (SystemExit) on some bad files
        detail = f": {exc}" if str(exc) and not isinstance(exc, SystemExit) else ""
        raise ValueError(f"mesh file {str(path)!r} cannot be read by meshio "
                         f"({type(exc).__name__}{detail})") from None
    hexes = [c.data for c in m.cells if c.type == "hexahedron"]
    if not hexes:
        types = sorted({c.type for c in m.cells})
        raise ValueError(f"{path.name}: no hexahedral ('hexahedron') cells; found {types}")
    if m.points.shape[1] != 3:
        raise ValueError(f"{path.name}: points must be 3D, got {m.points.shape[1]} coordinates")
    cells = np.concatenate(hexes).astype(np.int64)
    used = np.unique(cells)
    remap = np.full(m.points.shape[0], -1, dtype=np.int64)
    remap[used] = np.arange(used.size)
    return hex_from_arrays(m.points[used], remap[cells], periodic=periodic, tol=tol)

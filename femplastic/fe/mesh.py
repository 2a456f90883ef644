"""Meshes: regular bi-periodic Q4 grids and custom quadrilateral meshes (meshio -> scikit-fem).

Array vocabulary (femplastic is element-major; scikit-fem is coordinate-first, and the
conversion happens here only):

* ``centroids`` : (n_elem, 2) float64, element centres, length units of the mesh.
* ``areas``     : (n_elem,) float64, element areas.
* ``nodes``     : (n_node, 2) float64, vertex coordinates of the (non-periodic) mesh.
* ``cells``     : (n_elem, 4) int64, counter-clockwise vertex indices into ``nodes``.

Elements of a regular grid are numbered row-major with x fastest: ``e = iy * L + ix``.

This module also holds the dimension-generic mesh core that the 3D meshes
(:mod:`femplastic.fe.mesh3d`) share: what differs between a Q4 and a Hex8 mesh (dimension,
vertex order, reorientation, geometry, scikit-fem classes) is data, a ``_CellType``; the grid
builder, the array checks, the periodic node identification and the meshio reader are one
code path for both.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, TypeVar

import numpy as np
import skfem
from numpy.typing import ArrayLike, NDArray

__all__ = ["FEMesh", "periodic_grid", "load", "from_arrays"]

_M = TypeVar("_M", bound="_Mesh")

#: Largest node matching tolerance (relative to the largest box side) the meshes accept: a
#: looser one would pair or merge nodes of neighbouring elements.
TOL_MAX = 1e-3


@dataclass(frozen=True, eq=False)
class _CellType:
    """What tells a quadrilateral (Q4) mesh from a hexahedral (Hex8) one, as data.

    The mesh core of this module (:func:`_grid_arrays`, :func:`_build`, :func:`_load`,
    :func:`_periodic_pairs`, :class:`_Mesh`) is dimension-generic; the 2D entry points here
    and the 3D ones of :mod:`femplastic.fe.mesh3d` pass one of these.

    Attributes
    ----------
    dim : int
        Space dimension, 2 or 3.
    plural, adjective : str
        Cell names for the messages (``"quadrilaterals"``, ``"quadrilateral"``).
    meshio_type : str
        meshio's cell type (``"quad"``, ``"hexahedron"``).
    corners : (n_vert, dim) ndarray
        Reference-cell corner ``k`` (in {0, 1}^dim, x first) of femplastic's vertex ``k``.
    flip : (n_vert,) ndarray of int
        Vertex permutation that turns an inverted cell into a positive one.
    geometry : callable
        ``geometry(nodes, cells) -> (measures, centroids)``: signed cell measures (n_elem,)
        and centroids (n_elem, dim).
    check : callable
        ``check(nodes, cells, measures)`` refuses inverted or degenerate cells (``measures``
        already made positive).
    skfem_mesh, skfem_periodic : type
        scikit-fem mesh classes, plain and periodic (wrapped connectivity).
    skfem_order : (n_vert,) ndarray of int or None
        Vertex ``k`` of scikit-fem's cell is femplastic's vertex ``skfem_order[k]``; None when
        the orders agree.
    facet : str
        What the box has on each side (``"side"`` in 2D, ``"face"`` in 3D), for messages.
    """

    dim: int
    plural: str
    adjective: str
    meshio_type: str
    corners: NDArray[np.float64]
    flip: NDArray[np.int64]
    geometry: Callable[[NDArray[np.float64], NDArray[np.int64]],
                       tuple[NDArray[np.float64], NDArray[np.float64]]]
    check: Callable[[NDArray[np.float64], NDArray[np.int64], NDArray[np.float64]], None]
    skfem_mesh: type
    skfem_periodic: type
    skfem_order: NDArray[np.int64] | None
    facet: str

    @property
    def n_vert(self) -> int:
        """Vertices per cell (4 or 8)."""
        return int(self.corners.shape[0])


@dataclass(frozen=True, eq=False)
class _Mesh:
    """Fields and geometry shared by :class:`FEMesh` (2D) and ``HexMesh`` (3D).

    ``grid`` is ``(L, l)`` for a regular ``L^dim`` grid numbered row-major with x fastest
    (``e = iy L + ix`` in 2D, ``e = (iz L + iy) L + ix`` in 3D), None otherwise.
    """

    skmesh: skfem.Mesh
    nodes: NDArray[np.float64]
    cells: NDArray[np.int64]
    periodic: bool
    box: NDArray[np.float64]
    grid: tuple[int, float] | None = None

    _cell: ClassVar[_CellType]

    @property
    def n_elem(self) -> int:
        """Number of elements."""
        return int(self.cells.shape[0])

    @property
    def centroids(self) -> NDArray[np.float64]:
        """Element centroids (measure-weighted centre of each cell), (n_elem, dim)."""
        return self._cell.geometry(self.nodes, self.cells)[1]

    @property
    def size(self) -> NDArray[np.float64]:
        """Box side lengths ``(Lx, Ly[, Lz])``."""
        return self.box[1] - self.box[0]

    def __repr__(self) -> str:
        kind = "custom"
        if self.grid:
            kind = f"regular {'x'.join([str(self.grid[0])] * self._cell.dim)}, l={self.grid[1]:g}"
        return f"{type(self).__name__}({kind}, n_elem={self.n_elem}, periodic={self.periodic})"


def _quad_geometry(
    nodes: NDArray[np.float64], cells: NDArray[np.int64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Signed areas and centroids of quadrilaterals by the shoelace formula."""
    x = nodes[cells, 0]
    y = nodes[cells, 1]
    xn = np.roll(x, -1, axis=1)
    yn = np.roll(y, -1, axis=1)
    cross = x * yn - xn * y
    area = 0.5 * cross.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):  # degenerate cells: refused later
        cx = ((x + xn) * cross).sum(axis=1) / (6.0 * area)
        cy = ((y + yn) * cross).sum(axis=1) / (6.0 * area)
    return area, np.stack([cx, cy], axis=1)


def _check_quads(
    nodes: NDArray[np.float64], cells: NDArray[np.int64], area: NDArray[np.float64]
) -> None:
    """Refuse quadrilaterals with a corner Jacobian <= 0 (inverted, bow-tie or non-convex)."""
    P = nodes[cells]  # (n, 4, 2), counter-clockwise
    e_next = np.roll(P, -1, axis=1) - P
    e_prev = np.roll(P, 1, axis=1) - P
    cross = e_next[..., 0] * e_prev[..., 1] - e_next[..., 1] * e_prev[..., 0]
    scale = np.linalg.norm(e_next, axis=2) * np.linalg.norm(e_prev, axis=2)
    bad = np.flatnonzero((cross <= 1e-12 * scale).any(axis=1))
    if bad.size:
        e = int(bad[0])
        raise ValueError(
            f"{bad.size} inverted or non-convex quadrilateral(s) (a corner Jacobian <= 0), "
            f"e.g. element {e} with vertices {cells[e].tolist()} at "
            f"{np.round(P[e], 6).tolist()}")
    if np.any(area <= 0):
        raise ValueError("mesh has degenerate (zero-area) quadrilaterals")


#: The bilinear quadrilateral: counter-clockwise vertices, scikit-fem's own order.
_QUAD = _CellType(
    dim=2, plural="quadrilaterals", adjective="quadrilateral", meshio_type="quad",
    corners=np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=float),
    flip=np.array([3, 2, 1, 0]), geometry=_quad_geometry, check=_check_quads,
    skfem_mesh=skfem.MeshQuad, skfem_periodic=skfem.MeshQuad1DG, skfem_order=None,
    facet="side",
)


@dataclass(frozen=True, eq=False, repr=False)  # repr: _Mesh's
class FEMesh(_Mesh):
    """A quadrilateral mesh as femplastic uses it.

    Attributes
    ----------
    skmesh : skfem.Mesh
        The scikit-fem mesh to assemble on: a ``MeshQuad1DG`` when periodic (wrapped
        connectivity), a ``MeshQuad`` otherwise.
    nodes : (n_node, 2) ndarray
        Vertex coordinates of the unwrapped mesh.
    cells : (n_elem, 4) ndarray of int
        Counter-clockwise vertex indices (into ``nodes``) of each element.
    periodic : bool
        Whether ``skmesh`` identifies opposite sides of the box.
    box : (2, 2) ndarray
        ``[[xmin, ymin], [xmax, ymax]]`` of the mesh.
    grid : tuple of (L, l) or None
        ``(L, l)`` for a regular ``L x L`` grid of element side ``l`` with row-major
        x-fastest numbering (enables the fast convolution propagator), None otherwise.
    """

    _cell: ClassVar[_CellType] = _QUAD

    @property
    def areas(self) -> NDArray[np.float64]:
        """Element areas, (n_elem,)."""
        return _quad_geometry(self.nodes, self.cells)[0]


def _check_grid_args(L: int, l: float, L_min: int, why: str = "") -> tuple[int, float]:
    """Validate the side ``L`` (integer >= ``L_min``) and element size ``l`` of a grid."""
    if isinstance(L, bool) or not isinstance(L, int | np.integer):
        raise ValueError(f"L must be an integer >= {L_min}, got {L!r}")
    if L < L_min:
        raise ValueError(f"L must be an integer >= {L_min}{why}, got {L}")
    if not np.isfinite(l) or l <= 0:
        raise ValueError(f"l must be a finite number > 0, got {l!r}")
    return int(L), float(l)


def _grid_arrays(
    cell: _CellType, xs: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Nodes and cells of the regular grid with vertex coordinates ``xs`` along every axis.

    Parameters
    ----------
    cell : _CellType
        The cell type (its ``dim`` and vertex ``corners``).
    xs : (n + 1,) ndarray
        Vertex coordinates along each axis (length units).

    Returns
    -------
    nodes : (n_node, dim) ndarray
        Vertex ``(i_d, ..., i_y, i_x)`` (row-major, x fastest) at ``(xs[i_x], xs[i_y], ...)``.
    cells : (n^dim, n_vert) ndarray of int
        Element ``e = (... i_y) n + i_x`` with its vertices in ``cell.corners`` order.
    """
    d = cell.dim
    m = xs.shape[0]
    axes = np.meshgrid(*([xs] * d), indexing="ij")  # axes[k][..., iy, ix]: coordinate d-1-k
    nodes = np.stack([a.ravel() for a in axes[::-1]], axis=1)
    nid = np.arange(m**d).reshape((m,) * d)
    lo, hi = slice(None, -1), slice(1, None)
    cells = np.stack(
        [nid[tuple(hi if c[k] else lo for k in range(d - 1, -1, -1))].ravel()
         for c in cell.corners],
        axis=1,
    )
    return nodes, cells


def periodic_grid(L: int, l: float = 1.0) -> FEMesh:
    """Regular ``L x L`` bi-periodic grid of square bilinear (Q4) elements of side ``l``.

    Parameters
    ----------
    L : int
        Number of elements per side, >= 2.
    l : float
        Element side length (LJ units), > 0.

    Returns
    -------
    FEMesh
        Periodic mesh with elements numbered row-major, x fastest (``e = iy * L + ix``), the
        element ``e`` spanning ``[ix l, (ix+1) l] x [iy l, (iy+1) l]``.

    Examples
    --------
    >>> from femplastic.fe.mesh import periodic_grid
    >>> m = periodic_grid(3, l=2.0)
    >>> m.n_elem, m.centroids[1].tolist()
    (9, [3.0, 1.0])
    """
    L, l = _check_grid_args(L, l, 2)
    nodes, cells = _grid_arrays(_QUAD, np.arange(L + 1) * l)
    return from_arrays(nodes, cells, periodic=True, _grid=(L, l))


def from_arrays(
    nodes: NDArray[np.float64],
    cells: NDArray[np.int64],
    periodic: bool = False,
    tol: float = 1e-8,
    _grid: tuple[int, float] | None = None,
) -> FEMesh:
    """Build an :class:`FEMesh` from vertex and quadrilateral arrays.

    Parameters
    ----------
    nodes : (n_node, 2) array_like
        Vertex coordinates.
    cells : (n_elem, 4) array_like of int
        Vertex indices of each quadrilateral (orientation is fixed to counter-clockwise).
    periodic : bool
        Identify the nodes on opposite sides of the bounding box (bi-periodic). Raises
        ``ValueError`` when a node on one side has no partner on the other (the message
        names the node and the tolerance) or the elements form unconnected pieces.
    tol : float
        Matching tolerance relative to the largest box side, ``0 < tol <= 1e-3``
        (:data:`TOL_MAX`); nodes closer than that are refused as duplicates.

    Returns
    -------
    FEMesh
        The mesh, element ``e`` being ``cells[e]`` (reoriented counter-clockwise).

    Examples
    --------
    A 3 x 2 grid of rectangles, made bi-periodic:

    >>> import numpy as np
    >>> X, Y = np.meshgrid(np.arange(4) * 2.0, np.arange(3) * 1.5)
    >>> nodes = np.stack([X.ravel(), Y.ravel()], axis=1)          # (12, 2)
    >>> nid = np.arange(12).reshape(3, 4)                          # nid[iy, ix]
    >>> cells = np.stack([nid[:-1, :-1].ravel(), nid[:-1, 1:].ravel(),
    ...                   nid[1:, 1:].ravel(), nid[1:, :-1].ravel()], axis=1)
    >>> m = from_arrays(nodes, cells, periodic=True)
    >>> m.n_elem, m.size.tolist(), m.areas.tolist()
    (6, [6.0, 3.0], [3.0, 3.0, 3.0, 3.0, 3.0, 3.0])
    """
    return _build(FEMesh, nodes, cells, periodic, tol, _grid)


def _build(
    cls: type[_M],
    nodes: ArrayLike,
    cells: ArrayLike,
    periodic: bool,
    tol: float,
    grid: tuple[int, float] | None,
) -> _M:
    """The mesh ``cls`` (:class:`FEMesh` or ``HexMesh``) of vertex and cell arrays.

    Checks the arrays, reorients inverted cells (``cell.flip``), refuses degenerate ones
    (``cell.check``) and, when ``periodic``, identifies the nodes of opposite box facets and
    checks that the cells tile the box (their measures sum to its measure).
    """
    from .. import validation

    cell = cls._cell
    d, kind = cell.dim, cell.plural
    validation.boolean("periodic", periodic)
    validation.number("tol", tol, low=0.0, low_open=True, high=TOL_MAX)
    nodes = np.asarray(nodes, dtype=float)
    cells = np.asarray(cells, dtype=np.int64)
    if nodes.ndim != 2 or nodes.shape[1] < d:
        raise ValueError(f"nodes must have shape (n_node, {d}), got {nodes.shape}")
    nodes = np.ascontiguousarray(nodes[:, :d])
    if cells.ndim != 2 or cells.shape[1] != cell.n_vert:
        raise ValueError(
            f"cells must have shape (n_elem, {cell.n_vert}) ({kind}), got {cells.shape}")
    if cells.shape[0] == 0:
        raise ValueError(f"cells is empty: the mesh has no {kind}")
    if not np.all(np.isfinite(nodes)):
        raise ValueError("nodes contain NaN or inf")
    if cells.min() < 0 or cells.max() >= nodes.shape[0]:
        raise ValueError("cells reference vertices outside nodes")
    _check_nodes(nodes, cells, tol)
    measure, _ = cell.geometry(nodes, cells)
    cells = cells.copy()
    neg = measure < 0
    cells[neg] = cells[neg][:, cell.flip]
    measure = np.abs(measure)
    cell.check(nodes, cells, measure)
    box = np.array([nodes.min(axis=0), nodes.max(axis=0)])
    t = cells if cell.skfem_order is None else cells[:, cell.skfem_order]
    with _quiet_skfem():
        base = cell.skfem_mesh(np.ascontiguousarray(nodes.T), np.ascontiguousarray(t.T))
        if not periodic:
            return cls(base, nodes, cells, False, box, grid)
        ix, ix0 = _periodic_pairs(nodes, box, tol, cell.facet)
        total = float(measure.sum())
        box_measure = float(np.prod(box[1] - box[0]))
        if abs(total - box_measure) > 1e-9 * box_measure:
            raise ValueError(
                f"elements overlap or leave gaps: their measures sum to {total:.10g} but the "
                f"periodic box has measure {box_measure:.10g} (a folded element or a hole)")
        _check_connected(nodes, cells, ix, ix0, box[1] - box[0])
        try:
            skmesh = cell.skfem_periodic.periodic(base, ix, ix0)
        except ValueError as exc:  # element touching two identified facets (too few elements)
            raise ValueError(f"cannot make this mesh periodic: an element touches two opposite "
                             f"{cell.facet}s of the box (at least two elements across each "
                             f"direction are needed; scikit-fem: {exc})") from exc
    return cls(skmesh, nodes, cells, True, box, grid)


def _check_nodes(nodes: NDArray[np.float64], cells: NDArray[np.int64], tol: float) -> None:
    """Refuse nodes that no cell uses and coincident (duplicate) nodes.

    Either leaves the stiffness singular (a node without stiffness; elements that share a
    place but no node are not connected: a crack, or every element on its own nodes as some
    exporters write them), which a solver would report only later and obscurely.

    Parameters
    ----------
    nodes : (n_node, dim) ndarray
        Vertex coordinates.
    cells : (n_elem, n_vert) ndarray of int
        Vertex indices.
    tol : float
        Two nodes closer than ``tol`` times the largest box side coincide.
    """
    from scipy.spatial import cKDTree

    used = np.zeros(nodes.shape[0], dtype=bool)
    used[cells.ravel()] = True
    if not used.all():
        k = int(np.flatnonzero(~used)[0])
        raise ValueError(
            f"{int((~used).sum())} node(s) used by no element, e.g. node {k} at "
            f"{nodes[k].tolist()}: drop unused nodes (fp.mesh.load does)")
    size = float((nodes.max(axis=0) - nodes.min(axis=0)).max())
    pairs = cKDTree(nodes).query_pairs(tol * size, output_type="ndarray")
    if pairs.size:
        i, j = (int(v) for v in np.sort(pairs[0]))
        raise ValueError(
            f"{len(pairs)} pair(s) of coincident nodes, e.g. nodes {i} and {j} at "
            f"{nodes[i].tolist()} (closer than tol={tol:g} x box size {size:g}): elements that "
            "share a place but not a node are not connected; merge duplicate nodes first "
            "(Gmsh: Coherence Mesh; or your mesher's node merge)")


def _check_connected(nodes: NDArray[np.float64], cells: NDArray[np.int64],
                     ix: NDArray[np.int32], ix0: NDArray[np.int32], size: NDArray[np.float64]
                     ) -> None:
    """Refuse a periodic mesh that is not one conforming body.

    ``ix`` -> ``ix0`` are the periodic node identifications (:func:`_periodic_pairs`). A piece
    connected to no other one would float freely (singular stiffness). In 2D, every edge of a
    periodic quad mesh (a closed torus) must be shared by exactly two elements: an edge of
    one element only is a hanging node (a finer neighbour's mid-edge node; the displacement
    would jump across the edge, a non-conforming mesh) or a crack.
    """
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    n_node = nodes.shape[0]
    target = np.arange(n_node)
    target[ix] = ix0
    t = target[cells]
    ts = np.sort(t, axis=1)
    wide = np.flatnonzero((ts[:, 1:] == ts[:, :-1]).any(axis=1))
    if wide.size:
        raise ValueError(
            f"cannot make this mesh periodic: element {int(wide[0])} touches two opposite "
            "boundaries of the box (at least two elements across each direction are needed)")
    rows = np.repeat(t[:, 0], t.shape[1] - 1)
    graph = sp.coo_matrix((np.ones(rows.size), (rows, t[:, 1:].ravel())),
                          shape=(n_node, n_node))
    _, label = connected_components(graph, directed=False)
    pieces = np.unique(label[t[:, 0]])
    if pieces.size > 1:
        e = [int(np.flatnonzero(label[t[:, 0]] == c)[0]) for c in pieces[:2]]
        raise ValueError(
            f"the elements form {pieces.size} unconnected pieces (e.g. elements {e[0]} and "
            f"{e[1]} share no chain of nodes): the mesh must be one connected periodic body")
    if nodes.shape[1] != 2:
        return
    # an edge is its two kept nodes and the periodic image (whole box periods) joining them:
    # with two elements across, two different edges join the same pair of kept nodes
    a, b = t.ravel(), np.roll(t, -1, axis=1).ravel()
    ua, ub = cells.ravel(), np.roll(cells, -1, axis=1).ravel()
    shift = np.rint((nodes[ub] - nodes[ua] - (nodes[b] - nodes[a])) / size).astype(np.int64)
    flip = a > b
    shift[flip] *= -1
    # one integer per edge (shifts are -1, 0 or 1; n_node < 1e9): a 1D unique is fast
    key = (np.minimum(a, b) * n_node + np.maximum(a, b)) * 9 + (shift[:, 0] + 1) * 3 \
        + shift[:, 1] + 1
    _, inv, count = np.unique(key, return_inverse=True, return_counts=True)
    bad = np.flatnonzero(count[inv.ravel()] != 2)
    if bad.size:
        e, k = divmod(int(bad[0]), t.shape[1])
        a, b = cells[e, k], cells[e, (k + 1) % t.shape[1]]
        raise ValueError(
            f"non-conforming mesh: {bad.size} element edge(s) are not shared by exactly two "
            f"elements, e.g. the edge of element {e} between nodes {a} and {b} (a hanging node "
            "of a locally refined mesh, or a crack); every edge must be a whole edge of its "
            "neighbour")


@contextlib.contextmanager
def _quiet_skfem() -> Iterator[None]:
    """Silence scikit-fem's informational memory-layout messages while building meshes."""
    logger = logging.getLogger("skfem")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _periodic_pairs(
    nodes: NDArray[np.float64], box: NDArray[np.float64], tol: float, facet: str = "side"
) -> tuple[NDArray[np.int32], NDArray[np.int32]]:
    """Pairs (eliminated node, kept node) identifying opposite facets of the box.

    A node on the max facet along ``d`` is mapped onto the node of the min facet with the
    same other coordinates (in 2D by their order along the side, in 3D by nearest neighbour
    in the face; checked against ``tol`` relative to the box size); edge and corner chains
    are resolved to the node nearest the min corner.

    Parameters
    ----------
    nodes : (n_node, dim) ndarray
        Vertex coordinates.
    box : (2, dim) ndarray
        ``[min corner, max corner]``.
    tol : float
        Matching tolerance relative to the largest box side.
    facet : str
        ``"side"`` (2D) or ``"face"`` (3D), for the messages.

    Returns
    -------
    ix, ix0 : (k,) int32 ndarray
        Eliminated nodes (increasing) and the kept node of each.
    """
    from scipy.spatial import cKDTree

    d_all = nodes.shape[1]
    size = box[1] - box[0]
    atol = tol * float(size.max())
    target = np.arange(nodes.shape[0])
    for d in range(d_all):
        other = [i for i in range(d_all) if i != d]
        lo = np.flatnonzero(np.abs(nodes[:, d] - box[0, d]) <= atol)
        hi = np.flatnonzero(np.abs(nodes[:, d] - box[1, d]) <= atol)
        name = "xyz"[d]
        within = (f"within tol={tol:g} x box size {float(size.max()):g} = {atol:.3g}; "
                  "raise tol (at most 1e-3) only if the file's coordinates are rounded")
        if len(lo) != len(hi):
            raise ValueError(
                f"mesh is not periodic along {name}: {len(lo)} nodes on the {facet} "
                f"{name}={box[0, d]:g} but {len(hi)} on {name}={box[1, d]:g} ({within})"
            )
        if len(other) == 1:  # 1D sides (2D): pair the nodes in their order along the side
            o = other[0]
            hi = hi[np.argsort(nodes[hi, o])]
            partner = lo[np.argsort(nodes[lo, o])]
            dist = np.abs(nodes[partner, o] - nodes[hi, o])
        else:  # 2D faces (3D): nearest neighbour in the face, then check it is one-to-one
            dist, k = cKDTree(nodes[lo][:, other]).query(nodes[hi][:, other])
            partner = lo[k]
        if dist.size and dist.max() > atol:
            j = int(np.argmax(dist))
            raise ValueError(
                f"mesh is not periodic along {name}: node {hi[j]} at {nodes[hi[j]].tolist()} "
                f"has no partner on the opposite {facet} (nearest mismatch {dist.max():.3g}, "
                f"not {within})"
            )
        if len(other) > 1 and np.unique(partner).size != partner.size:  # sorted: 1-to-1
            raise ValueError(f"mesh is not periodic along {name}: {facet} nodes do not pair up "
                             f"({within})")
        target[hi] = partner
    for _ in range(d_all + 1):  # resolve chains (corner -> edge [-> face] -> kept)
        target = target[target]
    ix = np.flatnonzero(target != np.arange(nodes.shape[0])).astype(np.int32)
    return ix, target[ix].astype(np.int32)


def load(path: str | Path, periodic: bool = False, tol: float = 1e-8) -> FEMesh:
    """Read a quadrilateral mesh with meshio (any format meshio reads).

    Parameters
    ----------
    path : str or Path
        Mesh file (``.msh``, ``.vtu``, ``.xdmf``, ``.inp``, ...).
    periodic : bool
        Make the mesh bi-periodic by identifying matching nodes on opposite sides of its
        bounding box; a clear ``ValueError`` is raised when the sides do not match.
    tol : float
        Node matching tolerance relative to the largest box side, ``0 < tol <= 1e-3``
        (:data:`TOL_MAX`); nodes closer than that are refused as duplicates.

    Returns
    -------
    FEMesh
        The mesh (cells reoriented counter-clockwise; element order = file order).

    Raises
    ------
    ValueError
        Missing file, a folder, a file meshio cannot read (meshio's ``SystemExit`` on some
        bad files, e.g. femplastic's own ``fields.xdmf`` time series, becomes this error,
        naming the file), no quadrilateral cells, 2D cells other than quadrilaterals
        (triangles, second-order quads: dropping them would leave holes), points off the
        plane ``z = const``, coincident (duplicate) nodes, ``tol`` outside ``(0, 1e-3]``, or
        (``periodic=True``) a node without a partner on the opposite side within ``tol`` or
        elements in unconnected pieces (the message names the node, element or tolerance).

    Examples
    --------
    Write a small quad mesh with meshio, then load it periodic:

    >>> import tempfile, pathlib
    >>> import meshio, numpy as np
    >>> X, Y = np.meshgrid(np.arange(4.0), np.arange(4.0))
    >>> pts = np.stack([X.ravel(), Y.ravel(), 0 * X.ravel()], axis=1)
    >>> nid = np.arange(16).reshape(4, 4)
    >>> quads = np.stack([nid[:-1, :-1].ravel(), nid[:-1, 1:].ravel(),
    ...                   nid[1:, 1:].ravel(), nid[1:, :-1].ravel()], axis=1)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = pathlib.Path(tmp) / "grid.vtu"
    ...     meshio.write(path, meshio.Mesh(pts, [("quad", quads)]))
    ...     mesh = load(path, periodic=True)
    >>> mesh
    FEMesh(custom, n_elem=9, periodic=True)

    The example meshes of a source checkout are in ``meshes/``
    (``load("meshes/perturbed_periodic.vtu", periodic=True)``).
    """
    return _load(FEMesh, path, periodic, tol)


def _load(cls: type[_M], path: str | Path, periodic: bool, tol: float) -> _M:
    """Read the cells of ``cls._cell.meshio_type`` of a mesh file with meshio; see :func:`load`."""
    import meshio

    from .. import validation

    cell = cls._cell
    validation.boolean("periodic", periodic)
    validation.number("tol", tol, low=0.0, low_open=True, high=TOL_MAX)
    validation.instance("path", path, (str, Path), "a mesh file name")
    path = Path(path)
    if not path.exists():
        raise ValueError(f"mesh file {str(path)!r} does not exist")
    if not path.is_file():
        raise ValueError(f"mesh file {str(path)!r} is a folder, not a mesh file")
    try:
        m = meshio.read(path)
    except (SystemExit, Exception) as exc:  # meshio exits (SystemExit) on some bad files
        detail = f": {exc}" if str(exc) and not isinstance(exc, SystemExit) else ""
        hint = (" (an XDMF time series such as femplastic's fields.xdmf holds no single mesh:"
                " read it with meshio.xdmf.TimeSeriesReader)" if path.suffix == ".xdmf" else "")
        raise ValueError(f"mesh file {str(path)!r} cannot be read by meshio "
                         f"({type(exc).__name__}{detail}){hint}") from None
    blocks = [c.data for c in m.cells if c.type == cell.meshio_type]
    if not blocks:
        types = sorted({c.type for c in m.cells})
        raise ValueError(f"{path.name}: no {cell.adjective} ('{cell.meshio_type}') cells; "
                         f"found {types}")
    # cells of the mesh's own dimension other than ours would be dropped: a hole in the body
    dims = meshio._mesh.topological_dimension
    other = sorted({c.type for c in m.cells if c.type != cell.meshio_type
                    and dims.get(c.type, cell.dim) >= cell.dim})
    if other:
        raise ValueError(f"{path.name}: only {cell.adjective} ('{cell.meshio_type}') cells are "
                         f"supported, the file also holds {other} cells (remesh with "
                         f"{cell.plural} only, e.g. femplastic mesh)")
    if m.points.shape[1] < cell.dim:
        raise ValueError(f"{path.name}: points must be {cell.dim}D, got "
                         f"{m.points.shape[1]} coordinates")
    extra = m.points[:, cell.dim:]  # 2D meshes stored with a z coordinate: it must be constant
    if extra.size:
        spread = float(np.ptp(extra, axis=0).max())
        size = float(np.ptp(m.points[:, :cell.dim], axis=0).max())
        if spread > tol * size:
            raise ValueError(
                f"{path.name}: the mesh is not in the plane z = const (z spans {spread:.3g}, "
                f"more than tol={tol:g} x box size {size:g}): femplastic reads x, y only; "
                "rotate the mesh into the x-y plane")
    cells = np.concatenate(blocks).astype(np.int64)
    used = np.unique(cells)
    remap = np.full(m.points.shape[0], -1, dtype=np.int64)
    remap[used] = np.arange(used.size)
    return _build(cls, m.points[used, :cell.dim], remap[cells], periodic, tol, None)

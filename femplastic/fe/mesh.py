"""Meshes: regular bi-periodic Q4 grids and custom quadrilateral meshes (meshio -> scikit-fem).

Array vocabulary (femplastic is element-major; scikit-fem is coordinate-first, and the
conversion happens here only):

* ``centroids`` : (n_elem, 2) float64, element centres, length units of the mesh.
* ``areas``     : (n_elem,) float64, element areas.
* ``nodes``     : (n_node, 2) float64, vertex coordinates of the (non-periodic) mesh.
* ``cells``     : (n_elem, 4) int64, counter-clockwise vertex indices into ``nodes``.

Elements of a regular grid are numbered row-major with x fastest: ``e = iy * L + ix``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import skfem
from numpy.typing import NDArray

__all__ = ["FEMesh", "periodic_grid", "load", "from_arrays"]


@dataclass(frozen=True, eq=False)
class FEMesh:
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

    skmesh: skfem.Mesh
    nodes: NDArray[np.float64]
    cells: NDArray[np.int64]
    periodic: bool
    box: NDArray[np.float64]
    grid: tuple[int, float] | None = None

    @property
    def n_elem(self) -> int:
        """Number of elements."""
        return int(self.cells.shape[0])

    @property
    def centroids(self) -> NDArray[np.float64]:
        """Element centroids, (n_elem, 2) (area-weighted centre of each quadrilateral)."""
        return _quad_geometry(self.nodes, self.cells)[1]

    @property
    def areas(self) -> NDArray[np.float64]:
        """Element areas, (n_elem,)."""
        return _quad_geometry(self.nodes, self.cells)[0]

    @property
    def size(self) -> NDArray[np.float64]:
        """Box side lengths ``(Lx, Ly)``."""
        return self.box[1] - self.box[0]

    def __repr__(self) -> str:
        kind = "custom"
        if self.grid:
            kind = f"regular {self.grid[0]}x{self.grid[0]}, l={self.grid[1]:g}"
        return f"FEMesh({kind}, n_elem={self.n_elem}, periodic={self.periodic})"


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
    cx = ((x + xn) * cross).sum(axis=1) / (6.0 * area)
    cy = ((y + yn) * cross).sum(axis=1) / (6.0 * area)
    return area, np.stack([cx, cy], axis=1)


def _check_positive(name: str, value: float) -> None:
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


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
    if isinstance(L, bool) or not isinstance(L, int | np.integer):
        raise ValueError(f"L must be an integer >= 2, got {L!r}")
    if L < 2:
        raise ValueError(f"L must be an integer >= 2, got {L}")
    _check_positive("l", float(l))
    L = int(L)
    l = float(l)
    xs = np.arange(L + 1) * l
    X, Y = np.meshgrid(xs, xs)  # X[iy, ix]
    nodes = np.stack([X.ravel(), Y.ravel()], axis=1)
    nid = np.arange((L + 1) ** 2).reshape(L + 1, L + 1)  # nid[iy, ix]
    cells = np.stack(
        [nid[:-1, :-1].ravel(), nid[:-1, 1:].ravel(), nid[1:, 1:].ravel(), nid[1:, :-1].ravel()],
        axis=1,
    )
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
        ``ValueError`` when a node on one side has no partner on the other.
    tol : float
        Matching tolerance relative to the box size.

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
    from .. import validation

    validation.boolean("periodic", periodic)
    nodes = np.asarray(nodes, dtype=float)
    cells = np.asarray(cells, dtype=np.int64)
    if nodes.ndim != 2 or nodes.shape[1] < 2:
        raise ValueError(f"nodes must have shape (n_node, 2), got {nodes.shape}")
    nodes = np.ascontiguousarray(nodes[:, :2])
    if cells.ndim != 2 or cells.shape[1] != 4:
        raise ValueError(f"cells must have shape (n_elem, 4) (quadrilaterals), got {cells.shape}")
    if cells.shape[0] == 0:
        raise ValueError("cells is empty: the mesh has no quadrilateral")
    if not np.all(np.isfinite(nodes)):
        raise ValueError("nodes contain NaN or inf")
    if cells.min() < 0 or cells.max() >= nodes.shape[0]:
        raise ValueError("cells reference vertices outside nodes")
    area, _ = _quad_geometry(nodes, cells)
    cells = cells.copy()
    neg = area < 0
    cells[neg] = cells[neg][:, ::-1]
    area = np.abs(area)
    _check_corners(nodes, cells)
    if np.any(area <= 0):
        raise ValueError("mesh has degenerate (zero-area) quadrilaterals")
    box = np.array([nodes.min(axis=0), nodes.max(axis=0)])
    with _quiet_skfem():
        base = skfem.MeshQuad(np.ascontiguousarray(nodes.T), np.ascontiguousarray(cells.T))
        if not periodic:
            return FEMesh(base, nodes, cells, False, box, _grid)
        ix, ix0 = _periodic_pairs(nodes, box, tol)
        total = float(area.sum())
        box_area = float(np.prod(box[1] - box[0]))
        if abs(total - box_area) > 1e-9 * box_area:
            raise ValueError(
                f"elements overlap or leave gaps: their areas sum to {total:.10g} but the "
                f"periodic box has area {box_area:.10g} (a folded element or a hole)")
        try:
            skmesh = skfem.MeshQuad1DG.periodic(base, ix, ix0)
        except ValueError as exc:  # element touching two identified sides (too few elements)
            raise ValueError(f"cannot make this mesh periodic: {exc}") from exc
    return FEMesh(skmesh, nodes, cells, True, box, _grid)


def _check_corners(nodes: NDArray[np.float64], cells: NDArray[np.int64]) -> None:
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
    nodes: NDArray[np.float64], box: NDArray[np.float64], tol: float
) -> tuple[NDArray[np.int32], NDArray[np.int32]]:
    """Pairs (eliminated node, kept node) identifying opposite sides of the box.

    Nodes on the max side in x (resp. y) are mapped onto the node with the same y (resp. x)
    on the min side; corner chains are resolved to the ``(xmin, ymin)`` corner.
    """
    size = box[1] - box[0]
    atol = tol * float(size.max())
    target = np.arange(nodes.shape[0])
    for dim in (0, 1):
        other = 1 - dim
        lo = np.flatnonzero(np.abs(nodes[:, dim] - box[0, dim]) <= atol)
        hi = np.flatnonzero(np.abs(nodes[:, dim] - box[1, dim]) <= atol)
        if len(lo) != len(hi):
            raise ValueError(
                f"mesh is not periodic along {'xy'[dim]}: {len(lo)} nodes on the side "
                f"{'xy'[dim]}={box[0, dim]:g} but {len(hi)} on {'xy'[dim]}={box[1, dim]:g}"
            )
        order_lo = lo[np.argsort(nodes[lo, other])]
        order_hi = hi[np.argsort(nodes[hi, other])]
        gap = np.abs(nodes[order_lo, other] - nodes[order_hi, other])
        if gap.size and gap.max() > atol:
            k = int(np.argmax(gap))
            raise ValueError(
                f"mesh is not periodic along {'xy'[dim]}: node {order_hi[k]} at "
                f"{nodes[order_hi[k]].tolist()} has no partner on the opposite side "
                f"(nearest mismatch {gap.max():.3g})"
            )
        target[order_hi] = order_lo
    # resolve chains (corner -> edge node -> corner)
    for _ in range(3):
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
        Node matching tolerance relative to the box size.

    Returns
    -------
    FEMesh
        The mesh (cells reoriented counter-clockwise; element order = file order).

    Raises
    ------
    ValueError
        Missing file, a folder, a file meshio cannot read (meshio's ``SystemExit`` on some
        bad files, e.g. femplastic's own ``fields.xdmf`` time series, becomes this error,
        naming the file), no quadrilateral cells, or (``periodic=True``) a node without a
        partner on the opposite side (the message names it).

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
    import meshio

    from .. import validation

    validation.boolean("periodic", periodic)
    validation.number("tol", tol, low=0.0, low_open=True)
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
    quads = [c.data for c in m.cells if c.type == "quad"]
    if not quads:
        types = sorted({c.type for c in m.cells})
        raise ValueError(f"{path.name}: no quadrilateral ('quad') cells; found {types}")
    cells = np.concatenate(quads).astype(np.int64)
    used = np.unique(cells)
    remap = np.full(m.points.shape[0], -1, dtype=np.int64)
    remap[used] = np.arange(used.size)
    return from_arrays(m.points[used, :2], remap[cells], periodic=periodic, tol=tol)

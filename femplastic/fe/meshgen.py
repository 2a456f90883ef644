"""Unstructured bi-periodic all-quad meshes of a square box, made with Gmsh (``[mesh]`` extra).

:func:`unstructured` meshes a square box with about ``n_elem`` quadrilaterals whose areas
follow a requested spread (``size_cv``, the coefficient of variation of the element area), with
matching nodes on opposite sides (Gmsh periodic curves), and returns the mesh with its quality
report (:func:`quality`). The element size follows a smooth random periodic field drawn from
the seed: ``h(x) = h0 exp(s g(x) / 2)`` with ``g`` a unit-variance sum of 12 random Fourier modes
of wavelengths ``box / 1 .. box / 4``; the element count ``n_elem`` (within 10 %) and the area
CV (within ``cv_tol``, default 0.05) are met by adjusting ``h0`` and ``s`` over a few meshings.
``size_cv = 0`` gives the uniform target size: the spread is then the mesher's own (about
0.1-0.2 on these meshes), which is the smallest reachable; a requested CV below it is refused
after the first meshing with that message.

Gmsh: Frontal-Delaunay for quads, blossom full-quad recombination, one thread (the same seed
gives the same mesh).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .mesh import FEMesh, _quad_geometry, from_arrays

__all__ = ["ALGORITHMS", "MeshReport", "quality", "unstructured", "write"]

#: Default element side (LJ units) of the box: ``box = sqrt(n_elem) * DEFAULT_L``.
DEFAULT_L = 6.6
_MODES = 12


@dataclass
class MeshReport:
    """An unstructured periodic mesh and its quality.

    Attributes
    ----------
    mesh : FEMesh
        The periodic mesh.
    nodes : (k, 2) ndarray
        Vertex coordinates (with the duplicated periodic nodes of the sides).
    cells : (n, 4) int ndarray
        Counter-clockwise quadrilaterals.
    quality : dict
        :func:`quality` of the mesh, plus ``size_cv_requested``, ``tries``, ``seed``.
    """

    mesh: FEMesh
    nodes: NDArray[np.float64]
    cells: NDArray[np.int64]
    quality: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        """One line per quality figure (for the CLI).

        Returns
        -------
        str
        """
        q = self.quality
        return (f"{q['n_elem']} quadrilaterals, {q['n_node']} nodes, box {q['box']:g}\n"
                f"area: mean {q['area_mean']:.4g}, min {q['area_min']:.4g}, max "
                f"{q['area_max']:.4g}, CV {q['area_cv']:.3f} (requested "
                f"{q.get('size_cv_requested', float('nan')):.3f})\n"
                f"aspect ratio (longest / shortest edge): mean {q['aspect_mean']:.3f}, max "
                f"{q['aspect_max']:.3f}; corner angles {q['angle_min']:.1f}-"
                f"{q['angle_max']:.1f} deg; min scaled Jacobian {q['jacobian_min']:.3f}\n"
                f"edge orientation <cos 4 phi> {q.get('edge_cos4', float('nan')):.3f} (1: all "
                f"along x/y, 0: isotropic)\n"
                f"inverted or degenerate elements: {q['n_bad']}")


def quality(nodes: NDArray[np.float64], cells: NDArray[np.int64]) -> dict[str, Any]:
    """Quality figures of a quadrilateral mesh.

    Parameters
    ----------
    nodes : (k, 2) array_like
        Vertex coordinates.
    cells : (n, 4) array_like of int
        Quadrilaterals (counter-clockwise).

    Returns
    -------
    dict
        ``n_elem``, ``n_node``, ``box`` (side), ``area_mean/min/max/cv``, ``aspect_mean/max``
        (longest over shortest edge), ``angle_min/max`` (corner angles, degrees),
        ``jacobian_min`` (smallest corner cross product over the product of its edges, 1 for
        a rectangle, <= 0 for an inverted or non-convex corner) and ``n_bad`` (elements with
        a corner Jacobian <= 1e-12 or a zero area), ``edge_cos4`` (``<cos 4 phi>`` over the
        edge directions ``phi``: 1 when every edge is along x or y, as on a grid; 0 for
        isotropic edge orientations).
    """
    X = np.asarray(nodes, dtype=float)[:, :2]
    c = np.asarray(cells, dtype=np.int64)
    area, _ = _quad_geometry(X, c)
    P = X[c]  # (n, 4, 2)
    e_next = np.roll(P, -1, axis=1) - P  # edge k: corner k -> k+1
    e_prev = np.roll(P, 1, axis=1) - P
    ln = np.linalg.norm(e_next, axis=2)
    lp = np.linalg.norm(e_prev, axis=2)
    cross = e_next[..., 0] * e_prev[..., 1] - e_next[..., 1] * e_prev[..., 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        jac = cross / (ln * lp)
        cosang = (e_next * e_prev).sum(axis=2) / (ln * lp)
        aspect = ln.max(axis=1) / ln.min(axis=1)
    ang = np.degrees(np.arccos(np.clip(cosang, -1, 1)))
    bad = (jac.min(axis=1) <= 1e-12) | (area <= 0) | ~np.isfinite(aspect)
    box = float((X.max(axis=0) - X.min(axis=0)).max())
    return {"n_elem": int(c.shape[0]), "n_node": int(X.shape[0]), "box": box,
            "area_mean": float(area.mean()), "area_min": float(area.min()),
            "area_max": float(area.max()), "area_cv": float(area.std() / area.mean()),
            "aspect_mean": float(np.nanmean(aspect)), "aspect_max": float(np.nanmax(aspect)),
            "angle_min": float(ang.min()), "angle_max": float(ang.max()),
            "jacobian_min": float(np.nanmin(jac)), "n_bad": int(bad.sum()),
            "edge_cos4": float(np.mean(np.cos(4 * np.arctan2(e_next[..., 1],
                                                            e_next[..., 0]))))}


def _check(n_elem: Any, size_cv: Any, seed: Any, box: Any, cv_tol: Any) -> None:
    if isinstance(n_elem, bool) or not isinstance(n_elem, int | np.integer) or n_elem < 16:
        raise ValueError(f"n_elem (--elements) must be an integer >= 16, got {n_elem!r}")
    if n_elem > 4_000_000:
        raise ValueError(f"n_elem (--elements) must be <= 4,000,000, got {n_elem}")
    if not isinstance(size_cv, int | float | np.number) or not np.isfinite(size_cv) \
            or not 0 <= size_cv <= 1.5:
        raise ValueError(f"size_cv (--size-cv) must be a number in [0, 1.5] (coefficient of "
                         f"variation of the element area), got {size_cv!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed (--seed) must be an integer >= 0, got {seed!r}")
    if box is not None and (not np.isfinite(box) or box <= 0):
        raise ValueError(f"box must be > 0 (side of the square, LJ units), got {box!r}")
    if not np.isfinite(cv_tol) or not 0 < cv_tol < 1:
        raise ValueError(f"cv_tol must be in (0, 1), got {cv_tol!r}")


def _gmsh():
    try:
        import gmsh
    except ImportError:
        raise ImportError("unstructured meshes need Gmsh's Python API: pip install "
                          "'femplastic[mesh]' (or pip install gmsh)") from None
    return gmsh


#: Signals whose handling ``gmsh.initialize`` changes for the whole process (at the C level:
#: SIGPIPE back to "terminate", and SIGINT unless ``interruptible=False``).
_GMSH_SIGNALS = ("SIGPIPE", "SIGINT")


@contextmanager
def _gmsh_session() -> Iterator[Any]:
    """Gmsh initialised for one meshing, with the process's signal handling kept as it was.

    ``gmsh.initialize`` sets SIGPIPE back to its default action, terminate, which Python
    ignores (a write to a closed pipe or socket raises ``BrokenPipeError``): after it, any
    broken pipe (a Dask client's socket, say) killed the whole process with exit status 141.
    Its default ``interruptible=True`` also made Ctrl-C kill the process instead of raising
    ``KeyboardInterrupt``. Both are restored after ``initialize`` and after ``finalize`` (in
    the main thread, the only one that may set handlers).
    """
    gmsh = _gmsh()
    saved = {}
    if threading.current_thread() is threading.main_thread():
        for name in _GMSH_SIGNALS:
            num = getattr(signal, name, None)
            if num is not None and signal.getsignal(num) is not None:
                saved[num] = signal.getsignal(num)

    def restore() -> None:
        for num, handler in saved.items():
            signal.signal(num, handler)

    gmsh.initialize(interruptible=False)
    restore()
    try:
        yield gmsh
    finally:
        gmsh.finalize()
        restore()


class _NotQuads(RuntimeError):
    """Gmsh left elements other than quadrilaterals."""


#: Gmsh meshing choices of :func:`unstructured`: name -> (Mesh.Algorithm,
#: Mesh.RecombinationAlgorithm, initial size factor). Full-quad recombination (3) splits each
#: recombined element into about 4 (size x 2); blossom (1) pairs triangles (size x ~1.3).
ALGORITHMS = {"frontal": (6, 3, 2.0), "delaunay": (5, 1, 1.3)}


def _count_error(n_elem: int, max_tries: int, counts: list[int]) -> None:
    """Raise: no meshing met the element count (the counts it did get named)."""
    raise ValueError(
        f"could not meet n_elem={n_elem} within 10 % in {max_tries} meshings: Gmsh gave "
        f"{sorted(set(counts))} elements (at small sizes its quad count jumps as the element "
        "size varies, and some sizes leave a triangle); ask for one of these counts or more "
        "elements")


def _mesh_once(box: float, h0: float, s: float, modes: tuple,
               algorithm: str = "frontal") -> tuple[np.ndarray, np.ndarray]:
    """One Gmsh meshing: (nodes (k, 2), quads (n, 4)); raises if anything but quads comes out."""
    kx, ky, ph = modes
    with _gmsh_session() as gmsh:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.option.setNumber("General.NumThreads", 1)
        gmsh.model.add("femplastic")
        surf = gmsh.model.occ.addRectangle(0, 0, 0, box, box)
        gmsh.model.occ.synchronize()
        curves = [c[1] for c in gmsh.model.getBoundary([(2, surf)], oriented=False)]
        com = {c: gmsh.model.occ.getCenterOfMass(1, c) for c in curves}
        tol = 1e-9 * box

        def side(dim: int, val: float) -> int:
            return next(c for c in curves if abs(com[c][dim] - val) < tol)

        gmsh.model.mesh.setPeriodic(1, [side(0, box)], [side(0, 0.0)],
                                    [1, 0, 0, box, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1])
        gmsh.model.mesh.setPeriodic(1, [side(1, box)], [side(1, 0.0)],
                                    [1, 0, 0, 0, 0, 1, 0, box, 0, 0, 1, 0, 0, 0, 0, 1])
        norm = 1.0 / np.sqrt(_MODES / 2.0)
        terms = "+".join(f"Cos({2 * np.pi * a / box:.17f}*x+{2 * np.pi * b / box:.17f}*y"
                         f"+{p:.17f})" if a >= 0 else
                         f"Cos({2 * np.pi * b / box:.17f}*y-{-2 * np.pi * a / box:.17f}*x"
                         f"+{p:.17f})" for a, b, p in zip(kx, ky, ph, strict=True))
        fld = gmsh.model.mesh.field.add("MathEval")
        gmsh.model.mesh.field.setString(fld, "F", f"{h0:.17f}*Exp({0.5 * s * norm:.17f}*({terms}))")
        gmsh.model.mesh.field.setAsBackgroundMesh(fld)
        for key, val in (("Mesh.MeshSizeExtendFromBoundary", 0), ("Mesh.MeshSizeFromPoints", 0),
                         ("Mesh.MeshSizeFromCurvature", 0),
                         ("Mesh.Algorithm", ALGORITHMS[algorithm][0]),
                         ("Mesh.RecombineAll", 1),
                         ("Mesh.RecombinationAlgorithm", ALGORITHMS[algorithm][1]),
                         ("Mesh.RandomSeed", 1)):
            gmsh.option.setNumber(key, val)
        gmsh.model.mesh.generate(2)
        types, _, enodes = gmsh.model.mesh.getElements(2)
        tags, xyz, _ = gmsh.model.mesh.getNodes()
    types = [int(t) for t in types]
    if types != [3]:
        raise _NotQuads(f"Gmsh produced element types {types}, not only quadrilaterals (3)")
    idx = np.empty(int(tags.max()) + 1, np.int64)
    idx[tags.astype(np.int64)] = np.arange(tags.size)
    quads = idx[np.asarray(enodes[0], np.int64).reshape(-1, 4)]
    return np.ascontiguousarray(xyz.reshape(-1, 3)[:, :2]), quads


def unstructured(n_elem: int, box: float | None = None, size_cv: float = 0.0, seed: int = 0,
                 cv_tol: float = 0.05, max_tries: int = 16,
                 algorithm: str = "frontal") -> MeshReport:
    """A bi-periodic unstructured all-quad mesh of a square with about ``n_elem`` elements.

    Parameters
    ----------
    n_elem : int
        Target number of elements, >= 16 (met within 10 %).
    box : float, optional
        Side of the square (LJ units); default ``sqrt(n_elem) * 6.6`` (mean element area
        ``6.6^2``, the element of Castellanos et al.).
    size_cv : float
        Requested coefficient of variation of the element area, in [0, 1.5] (0: as uniform as
        the mesher allows). Met within ``cv_tol`` (absolute) when above the mesher's own spread.
    seed : int
        Seed of the size field (>= 0); the same seed gives the same mesh.
    cv_tol : float
        Tolerance on the area CV (default 0.05).
    max_tries : int
        Meshings allowed to meet the count and the spread.
    algorithm : {"frontal", "delaunay"}
        :data:`ALGORITHMS`. ``"frontal"`` (default): Gmsh's Frontal-Delaunay triangulation
        and full-quad blossom recombination: the most uniform elements (area CV ~0.15 at
        ``size_cv = 0``), but most edges stay along x or y (``edge_cos4`` ~0.8: the grid's
        alignment). ``"delaunay"``: Delaunay triangulation and blossom recombination:
        isotropic edge orientations (``edge_cos4`` ~0), a larger own spread (area CV ~0.2).

    Returns
    -------
    MeshReport

    Raises
    ------
    ValueError
        Bad parameters (before any meshing), a spread that cannot be met.
    ImportError
        Gmsh not installed.
    RuntimeError
        Gmsh left a non-quadrilateral element or the mesh failed the quality check.
    """
    _check(n_elem, size_cv, seed, box, cv_tol)
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm (--algorithm) must be one of {tuple(ALGORITHMS)}, got "
                         f"{algorithm!r}")
    _gmsh()
    n_elem = int(n_elem)
    box = float(np.sqrt(n_elem) * DEFAULT_L if box is None else box)
    rng = np.random.default_rng(seed)
    kx = rng.integers(-4, 5, _MODES)
    ky = rng.integers(0, 5, _MODES)
    kx[(ky == 0) & (kx == 0)] = 1
    ph = rng.uniform(0, 2 * np.pi, _MODES)
    modes = (kx.tolist(), ky.tolist(), ph.tolist())
    target = float(size_cv)
    s = 0.7 * np.sqrt(np.log1p(target**2))  # log-normal areas: CV^2 = exp(s^2) - 1
    # full-quad recombination splits each recombined element into ~4: size x 2
    h0 = ALGORITHMS[algorithm][2] * box / np.sqrt(n_elem) * np.exp(-s * s / 4)
    tries = 0
    hist: list[tuple[float, float]] = []
    lo: tuple[float, float] | None = None
    hi: tuple[float, float] | None = None
    h_small = h_large = None  # h0 bracket of the count at this s: too many / too few elements
    counts: list[int] = []
    while True:
        tries += 1
        try:
            nodes, quads = _mesh_once(box, h0, s, modes, algorithm)
        except _NotQuads as exc:  # blossom left a triangle (odd count): another size
            if tries >= max_tries and not counts:
                raise RuntimeError(str(exc)) from None
            if tries >= max_tries:
                _count_error(n_elem, max_tries, counts)
            h0 *= 1.03
            continue
        q = quality(nodes, quads)
        hist.append((s, q["area_cv"]))
        count_ok = abs(q["n_elem"] / n_elem - 1) <= 0.1
        cv_ok = target == 0 or abs(q["area_cv"] - target) <= cv_tol
        counts.append(int(q["n_elem"]))
        if count_ok and cv_ok:
            break
        if tries >= max_tries:
            if not count_ok:
                _count_error(n_elem, max_tries, counts)
            raise ValueError(f"could not meet size_cv={target} (got {q['area_cv']:.3f}, "
                             f"tolerance {cv_tol}) at n_elem={n_elem} in {max_tries} meshings")
        s_was = s
        if target > 0 and not cv_ok:
            cv = q["area_cv"]
            if cv < target:
                lo = (s, cv)
            else:
                if s == 0.0:
                    raise ValueError(f"size_cv={target} is below the mesher's own area spread "
                                     f"({cv:.3f}); ask for size_cv=0 or more")
                hi = (s, cv)
            if lo is not None and hi is not None:  # secant inside the bracket
                s = lo[0] + (target - lo[1]) * (hi[0] - lo[0]) / (hi[1] - lo[1])
                s = float(np.clip(s, lo[0] + 0.1 * (hi[0] - lo[0]),
                                  hi[0] - 0.1 * (hi[0] - lo[0])))
            elif hi is not None:
                s = 0.5 * s if s > 0.05 else 0.0
            else:
                s = max(2.0 * s, 0.1)
        if s != s_was:  # another size field: the count's bracket in h0 no longer holds
            h_small = h_large = None
        elif not count_ok and q["n_elem"] > n_elem:
            h_small = h0 if h_small is None else max(h_small, h0)
        elif not count_ok:
            h_large = h0 if h_large is None else min(h_large, h0)
        if h_small is not None and h_large is not None:  # bisect (the count is not smooth
            h0 = float(np.sqrt(h_small * h_large))  # in h0: a ratio update can oscillate)
        else:
            h0 *= np.sqrt(q["n_elem"] / n_elem)
    if q["n_bad"]:
        raise RuntimeError(f"Gmsh mesh has {q['n_bad']} inverted or degenerate elements")
    mesh = from_arrays(nodes, quads, periodic=True)
    q.update(size_cv_requested=target, tries=tries, seed=int(seed), algorithm=algorithm)
    return MeshReport(mesh, nodes, mesh.cells, q)


def write(report: MeshReport, path: str | Path, overwrite: bool = False) -> Path:
    """Write the mesh with meshio (format from the suffix: .msh, .vtu, .xdmf, .inp ...).

    Parameters
    ----------
    report : MeshReport
    path : str or Path
    overwrite : bool
        Replace an existing file (default False: refuse).

    Returns
    -------
    Path

    Raises
    ------
    ValueError
        ``path`` exists (and not ``overwrite``), or meshio knows no format for its suffix.
    """
    import meshio

    path = Path(path)
    if path.exists() and not overwrite:
        raise ValueError(f"{str(path)!r} exists; choose another --out or pass --overwrite")
    pts = np.column_stack([report.nodes, np.zeros(report.nodes.shape[0])])
    data = {} if path.suffix == ".msh" else {"cell_data": {"area": [report.mesh.areas]}}
    m = meshio.Mesh(pts, [("quad", np.asarray(report.cells))], **data)
    tmp = path.with_name(path.stem + ".part" + path.suffix)
    kw = {"file_format": "gmsh22", "binary": False} if path.suffix == ".msh" else {}
    try:
        meshio.write(tmp, m, **kw)
    except (KeyError, ValueError) as exc:
        tmp.unlink(missing_ok=True)
        raise ValueError(f"meshio cannot write {path.name!r} ({exc})") from None
    tmp.replace(path)
    return path

"""Local shear test of patches (the local yield stress method, Castellanos et al. 2021 sec. 3.5).

A patch of ``n x n`` contiguous elements (periodic wrap) is cut out of the system with its
current state (stresses, slip systems); its boundary nodes are driven affinely in pure shear
``gamma~ M(alpha)`` (the rest of the system is gone: Dirichlet patch problem of
:class:`femplastic.fe.assembly.PatchFE`, built once per ``(n, l, material)`` and reused). The onset
``gamma~_c`` at which the first system becomes active is found exactly (the patch stress is
affine in ``gamma~``); the avalanche at fixed ``gamma~_c`` then follows the AQS rules
(:func:`femplastic.relax`).

Every (patch, orientation) test starts from the probed state's own systems (angles,
thresholds and their self-responses): the avalanche of one test renews systems in a copy that
no later test sees. The generator is consumed in sequence (patches in order, orientations in
order inside a patch), so a scan and the same tests run one by one on the same generator give
identical results.

On a general periodic mesh (``model.mesh``) a patch is the set of elements whose centroids
lie in a square of side ``n`` mean element sizes (:func:`mesh_patch`), its boundary nodes
driven affinely (a Dirichlet problem built per patch position); on a mesh that is a regular
grid this is the ``n x n`` block, and the results equal the grid's to round-off.

Heterogeneous elasticity (per-element moduli, variant A): each patch operator is built from
the patch's own moduli (a Dirichlet problem of :class:`~femplastic.fe.assembly.PatchFE` per
patch position); homogeneous patches share one cached operator.

Self-response bounding a slip (``self_response``): the dissipation bound ``gmax`` of a slip
(Castellanos et al., A.7) divides by ``-(K_self : M) : M``, the stress change an element's own slip
causes in it. Two choices exist, since the paper does not say which it used inside a patch:

* ``"patch"`` (default) -- ``K_self`` of the isolated patch with its boundary held (the
  operator that actually propagates the slip in the test). At the bound the elastic energy of
  the patch is unchanged, which is the criterion A.7 derives (non-negative dissipation of the
  inclusion *in its actual surroundings*). Its xy-xy component is ``-14.2`` (interior
  elements) to ``-19.6`` (edge middles) and ``-24.4`` (corners) for ``n = 8``: stiffer than in
  the periodic system, so slips are shorter.
* ``"system"`` -- the element's ``K_self`` in the periodic system (``state.model.Kself``,
  xy-xy component ``-13.5`` for model C), the value a code reusing its stored Eshelby tensors would
  take; the bound then no longer zeroes the patch's energy change.

Only the drops (and the avalanche sizes) depend on this choice: ``tau_i``, ``tau_c``,
``dtau_c`` precede any slip. Measured effect: ``docs/physics/weak_plane.rst``.

Measures per patch and orientation (patch stress = average over its elements):
``tau_i = M(alpha) : Sigma~i``, ``tau_c = M(alpha) : Sigma~c``, ``dtau_c = tau_c - tau_i``,
``drop = tau_c - tau_f`` and the von Mises stress of the initial patch stress
``sigma_vm = (1/2 Sigma~' : Sigma~')^(1/2)``. Negative ``tau_c`` are legitimate (A.4).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ... import interrupt, validation
from ...fe.assembly import PatchFE, check_field
from ...fe.elasticity import Isotropic, ddot, schmid, von_mises
from ...fe.mesh import _QUAD, FEMesh, _grid_arrays, from_arrays
from ...fe.propagators import Propagator, kernels
from ..drivers.aqs import relax
from ..drivers.progress import report
from ..params import ModelParams
from ..state import Model, State

__all__ = ["local_yield", "LocalYield", "PatchPropagator", "patch_indices", "patch_state",
           "patch_operator", "mesh_patch", "check_mesh_patches", "SELF_RESPONSES"]

#: Choices of the self-response that bounds a slip inside a patch (module docstring).
SELF_RESPONSES = ("patch", "system")


def check_self_response(self_response: str) -> None:
    """Raise ValueError unless ``self_response`` is one of :data:`SELF_RESPONSES`."""
    if self_response not in SELF_RESPONSES:
        raise ValueError(f"self_response must be one of {SELF_RESPONSES}, got {self_response!r}")


def patch_self_response(self_response: str, prop: Propagator, Kself: NDArray[np.float64],
                        idx: NDArray[np.int64]) -> NDArray[np.float64]:
    """``K_self`` of a patch's elements, (n_patch, C, C), C-contiguous (2D and 3D).

    The patch operator's own (``"patch"``) or the whole model's rows ``idx`` (``"system"``).
    """
    if self_response == "patch":
        return np.ascontiguousarray(prop.self_response)
    return np.ascontiguousarray(Kself[idx])


class PatchPropagator(Propagator):
    """Dense response of an isolated patch with its boundary held (Dirichlet).

    The ``n x n`` block of a regular grid, or (``nodes``, ``cells``) any set of
    quadrilaterals cut out of a mesh (:func:`mesh_patch`).

    Parameters
    ----------
    n : int
        Patch side in elements.
    l : float
        Element side (mean element size of a general patch).
    material : Isotropic
        Homogeneous, or per-element moduli of the patch elements.
    nodes : (k, 2) ndarray, optional
        Vertices of a general patch, measured from its centre.
    cells : (m, 4) ndarray of int, optional
        Counter-clockwise vertex indices of the general patch's elements.
    """

    def __init__(self, n: int, l: float, material: Isotropic,
                 nodes: NDArray[np.float64] | None = None,
                 cells: NDArray[np.int64] | None = None) -> None:
        self.fe = PatchFE(n, l, material, nodes=nodes, cells=cells)
        self.material = material
        if nodes is None:
            nodes, cells = _grid_arrays(_QUAD, np.arange(n + 1) * float(l))
        self.mesh: FEMesh = from_arrays(nodes, cells)
        self.R, self._R2, self._self = self.fe.dense_operators()

    @property
    def self_response(self) -> NDArray[np.float64]:
        """Each patch element's own response ``[e, a, b]``, (n*n, 3, 3)."""
        return self._self

    def stress(self, eps_pl: ArrayLike, macro_strain: ArrayLike = (0.0, 0.0, 0.0),
               prestress: ArrayLike | None = None) -> NDArray[np.float64]:
        """Patch element stress for plastic strain and affine boundary strain (Dirichlet solve).

        Parameters
        ----------
        eps_pl : (n*n, 3) array_like
            Plastic strain of the patch elements, Voigt (xx, yy, xy), tensor shear.
        macro_strain : (3,) array_like
            Affine boundary strain, Voigt.
        prestress : (n*n, 3) array_like, optional
            Added to the elastic stress, LJ units.

        Returns
        -------
        (n*n, 3) ndarray
            Element stress, Voigt, LJ units.
        """
        out = self.fe.stress(eps_pl, macro_strain)
        if prestress is not None:
            out = out + check_field("prestress", prestress, self.n_elem)
        return out

    def add(self, stress: NDArray[np.float64], elems: ArrayLike, deps: ArrayLike) -> None:
        """In place, ``stress += R[elems] : deps`` (dense accumulation of the patch response).

        Parameters
        ----------
        stress : (n*n, 3) float64 ndarray
            Updated in place.
        elems : (k,) int array_like
            Patch elements receiving plastic strain increments.
        deps : (k, 3) array_like
            The increments, Voigt, tensor shear.
        """
        elems, deps = self._check_increment(elems, deps)
        kernels.dense_add_many(stress.reshape(-1), self._R2, elems, deps)

    def numba_form(self) -> tuple[int, NDArray[np.float64], int]:
        """``(1, R2, 0)``: the dense form used by the fused relaxation."""
        return 1, self._R2, 0


@functools.lru_cache(maxsize=16)
def _patch_operator(n: int, l: float, G: float, B: float) -> PatchPropagator:
    return PatchPropagator(n, l, Isotropic(G, B))


def patch_operator(model: Model, n: int, ix0: int, iy0: int) -> PatchPropagator:
    """Dirichlet operator of the ``n x n`` patch at ``(ix0, iy0)`` with the patch's own moduli.

    Parameters
    ----------
    model : Model
        Ingredients of the probed state (a regular periodic grid, or any periodic mesh:
        :func:`mesh_patch`).
    n : int
        Patch side in elements, ``1 <= n <= L``.
    ix0, iy0 : int
        Lower-left element of the patch.

    Returns
    -------
    PatchPropagator
        Homogeneous material on a grid: one operator cached per ``(n, l, G, B)``; per-element
        moduli (variant A) or a general mesh: a new operator of the patch elements, in the
        order of :func:`patch_indices` (grid) or :func:`mesh_patch`.
    """
    mat = model.material
    G, B = mat.per_element(model.n_elem)
    if model.mesh.grid is None:
        idx, nodes, cells = mesh_patch(model.mesh, n, ix0, iy0)
        return PatchPropagator(int(n), _mean_size(model.mesh), Isotropic(G[idx], B[idx]),
                               nodes=nodes, cells=cells)
    L, l = model.mesh.grid
    if mat.homogeneous:
        return _patch_operator(int(n), float(l), float(G[0]), float(B[0]))
    idx = patch_indices(L, n, ix0, iy0)
    return PatchPropagator(int(n), float(l), Isotropic(G[idx], B[idx]))


def patch_state(state: State, n: int, ix0: int, iy0: int,
                self_response: str = "patch") -> State:
    """The ``n x n`` patch at ``(ix0, iy0)`` cut out of ``state``, before any loading.

    The patch keeps the elements' stresses (pre-stress included) and systems; its plastic
    strain is zero (the reference of the patch problem). All arrays are new: nothing done to
    the patch reaches ``state``.

    Parameters
    ----------
    state : State
        The probed state (regular periodic grid or periodic mesh).
    n : int
        Patch side in elements.
    ix0, iy0 : int
        Lower-left element of the patch.
    self_response : {"patch", "system"}
        Which ``K_self`` bounds the slips (and enters ``selfres`` of the systems drawn by
        renewals): the patch operator's, or the periodic system's (module docstring).

    Returns
    -------
    State
        Of the patch model (its :class:`PatchPropagator`, the state's law and ``K_self``
        chosen by ``self_response``); ``selfres`` is ``-(K_self : M(theta)) : M(theta)`` of
        the state's systems.
    """
    check_self_response(self_response)
    m = state.model
    prop = patch_operator(m, n, ix0, iy0)
    if m.mesh.grid is None:
        idx = mesh_patch(m.mesh, n, ix0, iy0)[0]
    else:
        idx = patch_indices(m.mesh.grid[0], n, ix0, iy0)
    Kp = patch_self_response(self_response, prop, m.Kself, idx)
    law = m.law if m.law.per_element is None else dataclasses.replace(
        m.law, per_element=m.law.per_element[idx])  # element size: the patch's own rows
    pmodel = Model(m.params, prop.mesh, prop.material, prop, law, Kp)
    theta = np.array(state.theta[idx])
    M = schmid(theta)
    selfres = -ddot(np.einsum("eab,ekb->eka", Kp, M), M)
    z = np.zeros((idx.size, 3))
    return State(pmodel, np.array(state.stress[idx]), z.copy(), z.copy(), theta,
                 np.array(state.tauc[idx]), np.array(state.nv[idx]),
                 np.ascontiguousarray(selfres))


def patch_indices(L: int, n: int, ix0: int, iy0: int) -> NDArray[np.int64]:
    """Element indices of the ``n x n`` patch with lower-left element ``(ix0, iy0)``.

    Periodic wrap; row-major x-fastest inside the patch (the order of :class:`PatchFE`).

    Parameters
    ----------
    L : int
        Elements per side of the periodic grid.
    n : int
        Patch side in elements, ``1 <= n <= L``.
    ix0, iy0 : int
        Column and row of the patch's lower-left element.

    Returns
    -------
    (n*n,) int64 ndarray
        Grid element indices ``e = iy * L + ix``.

    Examples
    --------
    >>> patch_indices(4, 2, 3, 3).tolist()     # wraps around the corner of a 4 x 4 grid
    [15, 12, 3, 0]
    """
    a = (iy0 + np.arange(n)) % L
    b = (ix0 + np.arange(n)) % L
    return (a[:, None] * L + b[None, :]).ravel()


def _mean_size(mesh: FEMesh) -> float:
    """Mean element size ``sqrt(box area / n_elem)`` of a periodic mesh, LJ lengths."""
    return float(np.sqrt(np.prod(mesh.size) / mesh.n_elem))


def check_mesh_patches(mesh: FEMesh, n: int, positions: ArrayLike, name: str = "n") -> None:
    """Refuse a scan of ``mesh`` whose patch squares (:func:`mesh_patch`) hold no element.

    Run before any patch is tested: on a graded mesh a square of ``n`` mean element sizes
    can fall between the centroids of wide elements, and the scan would stop there.

    Parameters
    ----------
    mesh : FEMesh
        A periodic mesh.
    n : int
        Patch side in mean element sizes.
    positions : (k, 2) array_like of int
        Lower-left corners ``(ix0, iy0)`` of the patches, in steps ``h``.
    name : str
        The parameter's name in the message (``n``; ``run.patch`` in a run).

    Raises
    ------
    ValueError
        Naming the first empty patch and the widest element.
    """
    L = max(1, int(round(np.sqrt(mesh.n_elem))))
    h = mesh.size / L
    b = np.floor((mesh.centroids - mesh.box[0]) / h).astype(np.int64) % L  # the h-bins
    occupied = np.zeros((L, L), dtype=bool)  # [iy, ix], as mesh_patch's squares tile them
    occupied[b[:, 1], b[:, 0]] = True
    k = np.arange(int(n))
    for ix0, iy0 in np.asarray(positions, dtype=np.int64).reshape(-1, 2):
        if not occupied[np.ix_((iy0 + k) % L, (ix0 + k) % L)].any():
            wide = float(np.sqrt(mesh.areas.max() / mesh.areas.mean()))
            raise ValueError(
                f"{name} = {n}: the patch square at ({ix0}, {iy0}) holds no element centroid "
                f"on this mesh (its widest element spans about {wide:.2g} mean element "
                f"sizes): raise {name}")


def mesh_patch(mesh: FEMesh, n: int, ix0: int, iy0: int
               ) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.int64]]:
    """The patch of a periodic mesh that plays the ``n x n`` block at ``(ix0, iy0)``.

    With ``L = round(sqrt(n_elem))`` and the box step ``h = (Lx, Ly) / L`` (the mean element
    size of the mesh along each axis), the patch is every element whose centroid lies in the
    square ``[c - n h / 2, c + n h / 2)`` (periodic wrap, nearest image) around the centre
    ``c = box_min + (ix0 + n / 2, iy0 + n / 2) h``: on a regular grid exactly the block of
    :func:`patch_indices`, in the same order (rows of the patch from bottom to top, x fastest
    inside a row); on an unstructured mesh about ``n^2`` elements. The patch's vertices are
    unwrapped around the centre (periodic partners and images of one node merged exactly,
    by their periodic master node and image shift).

    Parameters
    ----------
    mesh : FEMesh
        A periodic mesh.
    n : int
        Patch side in mean element sizes, ``1 <= n <= L``.
    ix0, iy0 : int
        Lower-left corner of the patch in steps ``h``, ``0 <= ix0, iy0 < L``.

    Returns
    -------
    idx : (m,) int64 ndarray
        Mesh elements of the patch.
    nodes : (k, 2) float64 ndarray
        Patch vertices measured from the centre ``c``, LJ lengths.
    cells : (m, 4) int64 ndarray
        Counter-clockwise vertex indices (into ``nodes``) of the patch elements.

    Raises
    ------
    ValueError
        If ``mesh`` is not periodic, or the square holds no element centroid.
    """
    from ...fe.mesh import _periodic_pairs

    if not mesh.periodic:
        raise ValueError("mesh_patch needs a periodic mesh")
    L = max(1, int(round(np.sqrt(mesh.n_elem))))
    size = mesh.size
    h = size / L
    c = mesh.box[0] + (np.array([ix0, iy0], dtype=float) + 0.5 * n) * h
    cen = mesh.centroids
    d = cen - c
    d -= size * np.floor(d / size + 0.5)  # nearest image, in [-size/2, size/2)
    half = 0.5 * n * h
    sel = np.all((d >= -half) & (d < half), axis=1)
    idx = np.flatnonzero(sel)
    if idx.size == 0:
        raise ValueError(f"the patch of side n = {n} at ({ix0}, {iy0}) holds no element "
                         f"centroid: raise n")
    row = np.floor((d[idx, 1] + half[1]) / h[1])
    idx = idx[np.lexsort((d[idx, 0], row))]
    ix, ix0_ = _periodic_pairs(mesh.nodes, mesh.box, 1e-8)
    master = np.arange(mesh.nodes.shape[0])
    master[ix] = ix0_
    shift = (c + d[idx]) - cen[idx]  # (m, 2): a whole number of box sides per element
    vid = mesh.cells[idx]  # (m, 4)
    pos = mesh.nodes[vid] + shift[:, None, :]
    mid = master[vid]
    img = np.rint((pos - mesh.nodes[mid]) / size).astype(np.int64)  # (m, 4, 2)
    keys = np.stack([mid, img[..., 0], img[..., 1]], axis=-1).reshape(-1, 3)
    uniq, inv = np.unique(keys, axis=0, return_inverse=True)
    nodes = mesh.nodes[uniq[:, 0]] + uniq[:, 1:] * size - c
    return idx.astype(np.int64), nodes, inv.reshape(-1, 4).astype(np.int64)


@dataclass(frozen=True)
class LocalYield:
    """Results of a local-yield scan; arrays have shape ``(n_patches, n_alphas)``.

    Attributes
    ----------
    tau_i, tau_c, dtau_c, drop : ndarray
        Resolved initial stress, yield stress, distance to threshold and stress drop
        (LJ stress units). ``tau_c = dtau_c = inf`` (``drop = 0``, no event) where no system
        of the patch is driven towards its threshold: it never yields in that orientation
        (one 3D element with few systems; variants F-H at 45 deg).
    sigma_vm : ndarray
        Von Mises stress of the initial patch stress (independent of alpha).
    gamma_c : ndarray
        Patch strain ``gamma~`` at the onset (inf: never).
    n_events : ndarray of int
        Slip events of each patch avalanche.
    alphas : (n_alphas,) ndarray
        Orientations (radians).
    positions : (n_patches, 2) int ndarray
        Lower-left element ``(ix0, iy0)`` of each patch.
    n : int
        Patch side in elements.
    R : float
        Equivalent radius ``l n / sqrt(pi)``.
    self_response : str
        The self-response that bounded the slips (``"patch"`` or ``"system"``).
    patch_elements : (n_patches,) int ndarray or None
        Elements in each patch (``n^2`` on a grid; varies on an unstructured mesh).
    axes : (n_alphas, 3) ndarray or None
        3D states: the unit loading axis of each column (``alphas`` its angle; see
        :mod:`.local_yield3d`); None in 2D.
    """

    tau_i: NDArray[np.float64]
    tau_c: NDArray[np.float64]
    dtau_c: NDArray[np.float64]
    drop: NDArray[np.float64]
    sigma_vm: NDArray[np.float64]
    gamma_c: NDArray[np.float64]
    n_events: NDArray[np.int64]
    alphas: NDArray[np.float64]
    positions: NDArray[np.int64]
    n: int
    R: float
    self_response: str = "patch"
    patch_elements: NDArray[np.int64] | None = None
    axes: NDArray[np.float64] | None = None


def _onset(stress: NDArray, v: NDArray, nv: NDArray, tauc: NDArray, a: float,
           p0: float) -> tuple[float, int, int]:
    """Exact smallest patch strain activating a system; (gamma_c, element, system)."""
    s = np.stack([0.5 * (stress[:, 1] - stress[:, 0]), stress[:, 2]], axis=1)
    vs = np.stack([0.5 * (v[:, 1] - v[:, 0]), v[:, 2]], axis=1)
    p = -0.5 * (stress[:, 0] + stress[:, 1])
    vp = -0.5 * (v[:, 0] + v[:, 1])
    return _first_crossing(tauc + a * (p + p0)[:, None] - np.einsum("ekc,ec->ek", nv, s),
                           np.einsum("ekc,ec->ek", nv, vs) - a * vp[:, None], np.abs(v).max())


def _first_crossing(dtau: NDArray, rate: NDArray, scale: float = 0.0
                    ) -> tuple[float, int, int]:
    """Smallest ``x = dtau / rate`` over the systems with ``rate > 0``; (x, element, system).

    Parameters
    ----------
    dtau : (n_elem, n_sys) ndarray
        Distance of each system to its (pressure-shifted) threshold, stress units.
    rate : (n_elem, n_sys) ndarray
        Rate at which the drive closes it, stress per unit patch strain.
    scale : float
        The drive's largest stress rate (``max |v|``): a rate below ``1e-12 scale`` is the
        round-off of a zero rate (a system orthogonal to the load), not a drive; ``x = inf``
        when no system is driven.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(rate > 1e-12 * scale, dtau / rate, np.inf)
    flat = int(np.argmin(x))
    e, k = divmod(flat, x.shape[1])
    return float(x[e, k]), e, k


def _test_patch(
    base: State,
    loads: list[NDArray[np.float64]],
    Ms: NDArray[np.float64],
    rng: np.random.Generator,
    onset: Callable[..., tuple[float, int, int]],
    resolved: Callable[[NDArray[np.float64], NDArray[np.float64]], float],
    a: float,
    p0: float,
) -> tuple[NDArray[np.float64], ...]:
    """The local shear tests of one patch in every orientation (2D and 3D alike).

    Each test starts from the patch's own systems (fresh copies), is driven just past the
    exact onset ``gamma_c`` along its load response and relaxed by :func:`relax` on ``rng``
    (orientations in order).

    Parameters
    ----------
    base : State
        The patch state (:func:`patch_state` or ``patch_state3d``).
    loads : list of (m, nv) ndarray
        Patch stress per unit drive of each orientation.
    Ms : (n_orient, nv) ndarray
        Loading tensors, Voigt.
    rng : numpy.random.Generator
        Draws of the patch avalanches.
    onset : callable
        ``onset(stress, v, nv, tauc, a, p0) -> (gamma_c, element, system)``.
    resolved : callable
        ``resolved(M, stress) -> M : stress`` for a mean patch stress (nv,).
    a, p0 : float
        Pressure coefficient and offset of the law.

    Returns
    -------
    tau_i, tau_c, drop, gamma_c : (n_orient,) ndarray
        Resolved stress before, at onset and after the avalanche (``drop = tau_c - tau_f``),
        stress units; onset strain.
    n_events : (n_orient,) int ndarray
        Slips of each avalanche.
    """
    no = len(loads)
    tau_i, tau_c, drop, gamma_c = (np.zeros(no) for _ in range(4))
    n_events = np.zeros(no, np.int64)
    s0 = base.stress
    mean0 = s0.mean(axis=0)
    for io, v in enumerate(loads):
        gc, _, _ = onset(s0, v, base.nv, base.tauc, a, p0)
        tau_i[io] = resolved(Ms[io], mean0)
        if not np.isfinite(gc):  # no system driven towards its threshold: it never yields
            tau_c[io] = gamma_c[io] = np.inf
            continue
        gpush = gc * (1.0 + 1e-12) + 1e-14  # just past the onset: the system is active
        # a fresh copy of the patch's own systems and self-responses for every test
        ps = State(base.model, s0 + gpush * v, base.prestress.copy(), base.eps_pl.copy(),
                   base.theta.copy(), base.tauc.copy(), base.nv.copy(),
                   base.selfres.copy(), macro_strain=np.zeros(s0.shape[1]))
        mean_c = ps.stress.mean(axis=0)
        interrupt.check()  # a safe point between compiled calls
        n_events[io], _ = relax(ps, rng)
        mean_f = ps.stress.mean(axis=0)
        tau_c[io] = resolved(Ms[io], mean_c)
        drop[io] = tau_c[io] - resolved(Ms[io], mean_f)
        gamma_c[io] = gc
    return tau_i, tau_c, drop, gamma_c, n_events


def _check_scan(n: int, L: int, stride: int, alphas: ArrayLike) -> NDArray[np.float64]:
    """Check the patch side ``n`` (in [1, L]) and ``stride``; the angles as a 1D float array."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or not 1 <= n <= L:
        raise ValueError(f"n (patch side) must be an integer in [1, L={L}], got {n!r}")
    if isinstance(stride, bool) or not isinstance(stride, int | np.integer) or stride < 1:
        raise ValueError(f"stride must be an integer >= 1, got {stride!r}")
    raw = np.atleast_1d(np.asarray(alphas))
    if raw.dtype.kind not in "iuf" or raw.ndim != 1 or raw.size == 0 \
            or not np.all(np.isfinite(raw)):
        raise ValueError(f"alphas must be a non-empty 1D array of finite angles (radians), got "
                         f"{raw.dtype} array of shape {raw.shape}")
    return raw.astype(float)


def _check_positions(positions: ArrayLike, dim: int, L: int) -> NDArray[np.int64]:
    """``positions`` as ``(k, dim)`` int64 element coordinates, whole numbers in ``[0, L-1]``."""
    raw = np.asarray(positions)
    pos = raw.reshape(1, -1) if raw.ndim == 1 else raw  # one position (ix0, iy0[, iz0])
    what = f"positions must be (k, {dim}) element coordinates of a {dim}D state"
    if raw.dtype.kind not in "iuf" or pos.ndim != 2 or pos.shape[1] != dim or pos.size == 0:
        raise ValueError(f"{what}, got {raw.dtype} array of shape {raw.shape}")
    if not np.all(np.isfinite(pos)) or np.any(pos != np.round(pos)) or pos.min() < 0 \
            or pos.max() >= L:
        raise ValueError(f"{what}: whole numbers in [0, {L - 1}], got {raw.tolist()!r:.80}")
    return pos.astype(np.int64)


def _ddot_float(M: NDArray[np.float64], stress: NDArray[np.float64]) -> float:
    """``M : stress`` of 2D Voigt tensors, as a float."""
    return float(ddot(M, stress))


def _store(out: dict[str, NDArray[np.float64]], n_events: NDArray[np.int64], ip: int,
           tests: tuple[NDArray[np.float64], ...], vm: float) -> None:
    """Write the tests of patch ``ip`` (:func:`_test_patch`) into the result rows."""
    ti, tc, dr, gc, nev = tests
    out["tau_i"][ip] = ti
    out["tau_c"][ip] = tc
    out["dtau_c"][ip] = tc - ti
    out["drop"][ip] = dr
    out["sigma_vm"][ip] = vm
    out["gamma_c"][ip] = gc
    n_events[ip] = nev


@interrupt.deferring
def local_yield(
    state: State,
    params: ModelParams | None,
    rng: np.random.Generator,
    n: int,
    alphas: ArrayLike,
    stride: int = 1,
    positions: ArrayLike | None = None,
    self_response: str = "patch",
    progress: Callable[..., None] | None = None,
    axes: ArrayLike | None = None,
) -> LocalYield:
    """Local shear test of every ``n x n`` patch on a grid of positions, in every orientation.

    Parameters
    ----------
    state : State
        The probed state (never modified), on a regular periodic grid (patches are ``n x n``
        blocks) or on a periodic mesh (patches are the elements whose centroids lie in a
        square of side ``n`` mean element sizes, :func:`mesh_patch`; ``L = round(sqrt(n_elem))``
        and positions in mean element sizes).
    params : ModelParams or None
        Checked against ``state.model.params`` when given.
    rng : numpy.random.Generator
        Draws of the slip amplitudes and renewals inside the patch avalanches.
    n : int
        Patch side in elements, ``1 <= n <= L``.
    alphas : array_like
        Shear orientations (radians); forward is 0, backward ``pi / 2``.
    stride : int
        Spacing of patch positions (in elements) along x and y; patches wrap periodically.
    positions : (k, 2) array_like of int, optional
        Explicit lower-left elements ``(ix0, iy0)`` (overrides ``stride``).
    self_response : {"patch", "system"}
        The self-response bounding each slip: the patch operator's (default) or the periodic
        system's (module docstring).
    progress : callable, optional
        ``progress(fraction)`` before each patch position (see
        :func:`~femplastic.weakplane.drivers.progress.report`).
    axes : sequence of axes, optional
        3D states only: loading axes (``"x"``, ``"y"``, ``"z"`` or 3-vectors, default
        ``["z"]``); each orientation is pure shear at angle ``alpha`` in the plane normal to
        its axis, and ``positions`` are ``(k, 3)``
        (:func:`~femplastic.weakplane.probes.local_yield3d.local_yield3d`).

    Returns
    -------
    LocalYield
        Fields of shape ``(n_patches, n_alphas)`` (3D: ``n_axes * n_alphas`` columns), stresses
        in LJ units.

    Examples
    --------
    Forward and backward local yield stresses of the 2 x 2 patches of a small quenched
    glass:

    >>> import numpy as np, femplastic as fp
    >>> p = fp.ModelParams(L=6, N=8, T=0.0)
    >>> rng = np.random.default_rng(0)
    >>> ly = local_yield(fp.quench(p, rng), p, rng, n=2, alphas=[0.0, np.pi / 2], stride=2)
    >>> ly.tau_c.shape, round(ly.R, 3)               # 9 patches x 2 orientations
    ((9, 2), 7.447)
    >>> bool(np.all(ly.dtau_c >= 0)), bool(np.all(ly.n_events >= 1))
    (True, True)
    """
    validation.check_local_yield(state, rng, n, stride)
    validation.params_match(state, params)
    m = state.model
    if m.dim == 3:  # cubic patches, loading axis and angle (same rules as below)
        from .local_yield3d import local_yield3d

        return local_yield3d(state, rng, n, alphas, stride, positions, self_response,
                             progress, axes)
    if axes is not None:
        raise ValueError("axes is for 3D states (model.dim = 3); a 2D test takes alphas only")
    if m.mesh.grid is None:  # a mesh: square patches of about n x n elements (mesh_patch)
        L, l = max(1, int(round(np.sqrt(m.n_elem)))), _mean_size(m.mesh)
    else:
        L, l = m.mesh.grid
    alphas = _check_scan(n, L, stride, alphas)
    if positions is None:
        g = np.arange(0, L, stride)
        pos = np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)
    else:
        pos = _check_positions(positions, 2, L)
    if m.mesh.grid is None:  # every patch holds an element, before any is tested
        check_mesh_patches(m.mesh, n, pos)
    check_self_response(self_response)
    law = m.law
    a, p0 = law.pressure_coefficient, law.pressure_offset
    na = alphas.size
    npch = pos.shape[0]
    out = {k: np.zeros((npch, na)) for k in ("tau_i", "tau_c", "dtau_c", "drop", "sigma_vm",
                                             "gamma_c")}
    n_events = np.zeros((npch, na), np.int64)
    n_elem = np.zeros(npch, np.int64)
    Ms = schmid(alphas)
    prop: PatchPropagator | None = None
    loads: list[NDArray[np.float64]] = []
    for ip, (ix0, iy0) in enumerate(pos):
        report(progress, ip / npch, 0)
        base = patch_state(state, int(n), int(ix0), int(iy0), self_response)
        if base.model.propagator is not prop:  # one load response per operator (cached op)
            prop = base.model.propagator
            loads = [np.ascontiguousarray(prop.load_response(M)) for M in Ms]
        n_elem[ip] = base.stress.shape[0]
        tests = _test_patch(base, loads, Ms, rng, _onset, _ddot_float, a, p0)
        _store(out, n_events, ip, tests, float(von_mises(base.stress.mean(axis=0))))
    report(progress, 1.0, 0)
    return LocalYield(**out, n_events=n_events, alphas=alphas, positions=pos, n=int(n),
                      R=float(l * n / np.sqrt(np.pi)), self_response=self_response,
                      patch_elements=n_elem)

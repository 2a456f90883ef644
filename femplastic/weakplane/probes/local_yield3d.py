"""Local shear test of cubic patches of a 3D state (the 3D form of :mod:`.local_yield`).

A cube of ``n x n x n`` contiguous elements (periodic wrap) is cut out of an ``L^3`` state with
its stresses and slip systems; its face nodes are driven affinely, ``u = gamma~ M . x``
(:class:`femplastic.fe.patch3d.PatchPropagator3D`, built once per ``(n, l, G, K)`` and cached).
Everything else follows the 2D test (:func:`femplastic.local_yield`): the exact onset
``gamma~_c`` (the patch stress is affine in ``gamma~``), the avalanche at fixed ``gamma~_c`` by
the AQS rules (:func:`femplastic.relax`, the 3D kernels), every test starting from the
probed state's own systems, the generator consumed in sequence (patches in order, orientations
in order inside a patch), the two ``self_response`` choices (``"patch"``: the Dirichlet patch's
own ``K_self``; ``"system"``: the periodic system's).

**Loading orientation.** An orientation is an axis ``a`` (unit vector) and an angle
``alpha``: pure shear in the plane normal to ``a``,

``M(a, alpha) = Q M_z(alpha) Q^T``, ``M_z(alpha) = 1/2 [-sin 2alpha (x x) + sin 2alpha (y y)
+ cos 2alpha (x y + y x)]``,

i.e. the 2D ``schmid(alpha)`` embedded in the xy plane (Voigt
``(-sin 2alpha / 2, sin 2alpha / 2, 0, 0, 0, cos 2alpha / 2)``, equal to
:func:`femplastic.weakplane.dimension.loading_tensor`), turned by ``Q``, the rotation by the
smallest angle that takes ``z`` to ``a`` (Rodrigues, about ``z x a``; for ``a = -z`` the
rotation by ``pi`` about ``x``). So ``a = z`` is the 2D tensor, ``a = x`` shears the plane
spanned by ``Q x = -z`` and ``Q y = y`` and ``a = y`` the plane of ``Q x = x``,
``Q y = -z``. ``M`` is traceless, ``M : M = 1/2`` and ``M(a, alpha + pi/2) = -M(a, alpha)``:
``alpha`` in ``[0, pi)`` spans every pure shear of the plane.

Measures per patch and orientation (patch stress = average over its elements):
``tau_i = M : Sigma~i``, ``tau_c = M : Sigma~c``, ``dtau_c = tau_c - tau_i``,
``drop = tau_c - tau_f``, and ``sigma_vm = sqrt(J2)`` of the initial patch stress
(:func:`femplastic.fe.elasticity3d.equivalent_shear3`). The equivalent radius of the cube is
that of the sphere of equal volume, ``R = l n (3 / (4 pi))^(1/3)``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ... import validation
from ...fe.elasticity3d import VOIGT_WEIGHTS_3D, Isotropic3D, equivalent_shear3, from_tensor3
from ...fe.patch3d import PatchPropagator3D
from ..drivers.progress import report
from ..state import Model, State

if TYPE_CHECKING:  # pragma: no cover
    from .local_yield import LocalYield

__all__ = ["loading_tensor3d", "axis_vector", "patch_indices3d", "patch_operator3d",
           "patch_state3d", "local_yield3d"]

_AXES = {"x": (1.0, 0.0, 0.0), "y": (0.0, 1.0, 0.0), "z": (0.0, 0.0, 1.0)}


def axis_vector(axis: ArrayLike | str) -> NDArray[np.float64]:
    """A loading axis as a unit vector: ``"x"``, ``"y"``, ``"z"`` or any non-zero 3-vector.

    Parameters
    ----------
    axis : str or (3,) array_like
        Named coordinate axis or a direction (normalised here).

    Returns
    -------
    (3,) ndarray
        Unit vector.
    """
    if isinstance(axis, str):
        if axis.lower() not in _AXES:
            raise ValueError(f"axis must be 'x', 'y', 'z' or a 3-vector, got {axis!r}")
        return np.array(_AXES[axis.lower()])
    a = np.asarray(axis)
    if a.dtype.kind not in "iuf" or a.shape != (3,) or not np.all(np.isfinite(a)):
        raise ValueError(f"axis must be 'x', 'y', 'z' or a finite 3-vector of numbers, got "
                         f"{axis!r}")
    a = a.astype(float)
    big = float(np.abs(a).max())  # scaled first: 1e-320 or 1e308 components are directions too
    if big == 0.0:
        raise ValueError(f"axis must be a non-zero vector, got {axis!r}")
    return (a / big) / float(np.linalg.norm(a / big))


def _rotation_from_z(a: NDArray[np.float64]) -> NDArray[np.float64]:
    """The rotation by the smallest angle taking ``z`` to the unit vector ``a`` (3, 3)."""
    z = np.array([0.0, 0.0, 1.0])
    c = float(a @ z)
    if c <= -1.0 + 1e-15:  # a = -z: rotation by pi about x
        return np.diag([1.0, -1.0, -1.0])
    v = np.cross(z, a)
    V = np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])
    return np.eye(3) + V + V @ V / (1.0 + c)


def loading_tensor3d(axis: ArrayLike | str, alpha: ArrayLike) -> NDArray[np.float64]:
    """Pure shear ``M(axis, alpha)`` in the plane normal to ``axis`` (module docstring).

    Parameters
    ----------
    axis : str or (3,) array_like
        ``"x"``, ``"y"``, ``"z"`` or a non-zero direction.
    alpha : array_like
        Angles (radians), any shape.

    Returns
    -------
    (..., 6) ndarray
        Tensor-Voigt ``(xx, yy, zz, yz, xz, xy)``; traceless, ``M : M = 1/2``.

    Examples
    --------
    >>> loading_tensor3d("z", 0.0).round(12).tolist()   # simple shear xy, as schmid(0) in 2D
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.5]
    >>> loading_tensor3d("x", 0.0).round(12).tolist()   # shear in the plane (-z, y)
    [0.0, 0.0, 0.0, -0.5, 0.0, 0.0]
    """
    Q = _rotation_from_z(axis_vector(axis))
    al = np.asarray(alpha, dtype=float)
    s = np.sin(2.0 * al)
    c = np.cos(2.0 * al)
    Mz = np.zeros(al.shape + (3, 3))
    Mz[..., 0, 0] = -0.5 * s
    Mz[..., 1, 1] = 0.5 * s
    Mz[..., 0, 1] = Mz[..., 1, 0] = 0.5 * c
    return from_tensor3(np.einsum("ia,...ab,jb->...ij", Q, Mz, Q))


def patch_indices3d(L: int, n: int, ix0: int, iy0: int, iz0: int) -> NDArray[np.int64]:
    """Element indices of the ``n^3`` patch with lowest corner element ``(ix0, iy0, iz0)``.

    Periodic wrap; row-major x fastest inside the patch (the order of
    :class:`~femplastic.fe.patch3d.PatchFE3D`).

    Parameters
    ----------
    L : int
        Elements per side of the ``L^3`` grid.
    n : int
        Patch side, ``1 <= n <= L``.
    ix0, iy0, iz0 : int
        Grid coordinates of the patch's lowest corner element.

    Returns
    -------
    (n^3,) int64 ndarray
        Grid element indices ``e = (iz L + iy) L + ix``.

    Examples
    --------
    >>> patch_indices3d(3, 2, 2, 2, 2).tolist()   # wraps around every face of a 3^3 grid
    [26, 24, 20, 18, 8, 6, 2, 0]
    """
    a = (iz0 + np.arange(n)) % L
    b = (iy0 + np.arange(n)) % L
    c = (ix0 + np.arange(n)) % L
    return ((a[:, None, None] * L + b[None, :, None]) * L + c[None, None, :]).ravel()


@functools.lru_cache(maxsize=8)
def _patch_operator3d(n: int, l: float, G: float, K: float) -> PatchPropagator3D:
    return PatchPropagator3D(n, l, Isotropic3D(G, K))


def patch_operator3d(model: Model, n: int) -> PatchPropagator3D:
    """The Dirichlet operator of an ``n^3`` patch of a 3D model (cached per ``(n, l, G, K)``).

    Parameters
    ----------
    model : Model
        A 3D model (regular ``L^3`` grid, homogeneous moduli).
    n : int
        Patch side in elements.

    Returns
    -------
    PatchPropagator3D
    """
    L, l = model.mesh.grid
    mat = model.material
    return _patch_operator3d(int(n), float(l), float(mat.G), float(mat.K))


def _selfres(Kp: NDArray, nv: NDArray) -> NDArray[np.float64]:
    KM = np.einsum("eab,ekb->eka", Kp, nv)
    return np.ascontiguousarray(-(KM * nv) @ VOIGT_WEIGHTS_3D)


def patch_state3d(state: State, n: int, ix0: int, iy0: int, iz0: int,
                  self_response: str = "patch") -> State:
    """The ``n^3`` patch at ``(ix0, iy0, iz0)`` cut out of a 3D ``state``, before any loading.

    The 3D :func:`~femplastic.weakplane.probes.local_yield.patch_state`: stresses (pre-stress
    included) and systems kept, plastic strain zero, all arrays new.

    Parameters
    ----------
    state : State
        A 3D state on the regular ``L^3`` grid.
    n : int
        Patch side in elements.
    ix0, iy0, iz0 : int
        Lowest corner element of the patch.
    self_response : {"patch", "system"}
        Which ``K_self`` bounds the slips (module docstring of :mod:`.local_yield`).

    Returns
    -------
    State
        Of the patch model (its :class:`~femplastic.fe.patch3d.PatchPropagator3D`, the
        state's law, ``K_self`` chosen by ``self_response``).
    """
    from .local_yield import check_self_response, patch_self_response

    check_self_response(self_response)
    m = state.model
    prop = patch_operator3d(m, n)
    idx = patch_indices3d(m.mesh.grid[0], n, ix0, iy0, iz0)
    Kp = patch_self_response(self_response, prop, m.Kself, idx)
    pmodel = Model(m.params, prop.mesh, prop.material, prop, m.law, Kp)
    nv = np.array(state.nv[idx])
    z = np.zeros((n**3, 6))
    return State(pmodel, np.array(state.stress[idx]), z.copy(), z.copy(),
                 np.array(state.theta[idx]), np.array(state.tauc[idx]), nv, _selfres(Kp, nv),
                 macro_strain=np.zeros(6))


def _onset3d(stress: NDArray, v: NDArray, nv: NDArray, tauc: NDArray, a: float,
             p0: float) -> tuple[float, int, int]:
    """Exact smallest patch strain activating a system; (gamma_c, element, system)."""
    from .local_yield import _first_crossing

    w = VOIGT_WEIGHTS_3D
    p = -stress[:, :3].sum(axis=1) / 3.0
    vp = -v[:, :3].sum(axis=1) / 3.0
    return _first_crossing(tauc + a * (p + p0)[:, None] - np.einsum("ekc,ec->ek", nv, stress * w),
                           np.einsum("ekc,ec->ek", nv, v * w) - a * vp[:, None], np.abs(v).max())


def _resolved3(M: NDArray[np.float64], stress: NDArray[np.float64]) -> float:
    """``M : stress`` of 3D Voigt tensors, as a float (the weights on ``M`` first)."""
    return float((M * VOIGT_WEIGHTS_3D) @ stress)


def local_yield3d(
    state: State,
    rng: np.random.Generator,
    n: int,
    alphas: ArrayLike,
    stride: int = 1,
    positions: ArrayLike | None = None,
    self_response: str = "patch",
    progress: Callable[..., None] | None = None,
    axes: ArrayLike | None = None,
) -> LocalYield:
    """Local shear test of every ``n^3`` patch of a 3D state, in every orientation.

    Called by :func:`femplastic.local_yield` for 3D states (same parameters, plus ``axes``);
    orientations are ``(axis, alpha)`` for every axis, then every alpha (axis-major).

    Parameters
    ----------
    state : State
        The probed 3D state (never modified).
    rng : numpy.random.Generator
        Draws of the patch avalanches.
    n : int
        Patch side, ``1 <= n <= L``.
    alphas : array_like
        Angles (radians) about each axis.
    stride : int
        Spacing of patch positions along x, y and z.
    positions : (k, 3) array_like of int, optional
        Explicit lowest corner elements ``(ix0, iy0, iz0)`` (overrides ``stride``).
    self_response : {"patch", "system"}
        The self-response bounding each slip.
    progress : callable, optional
        ``progress(fraction)`` before each patch.
    axes : sequence of axes, optional
        Each ``"x"``, ``"y"``, ``"z"`` or a 3-vector; default ``["z"]`` (the 2D orientations
        embedded in the xy plane).

    Returns
    -------
    LocalYield
        Fields of shape ``(n_patches, n_axes * n_alphas)``; ``alphas`` and ``axes`` give the
        angle and unit axis of each column; ``positions`` (n_patches, 3).
    """
    from .local_yield import (
        SELF_RESPONSES,
        LocalYield,
        _check_positions,
        _check_scan,
        _store,
        _test_patch,
    )

    m = state.model
    L, l = m.mesh.grid
    alphas = _check_scan(n, L, stride, alphas)
    validation.check_memory("local_yield", float(6 * n**3) ** 2 * 8 * 2,
                            f"the dense operator of an n^3 = {n}^3 patch", "lower n")
    if axes is None:
        ax_list: list = ["z"]
    elif isinstance(axes, str) or all(np.ndim(a) == 0 and not isinstance(a, str)
                                      for a in axes):  # one axis: a name or a 3-vector
        ax_list = [axes]
    else:
        ax_list = list(axes)
    if len(ax_list) == 0:
        raise ValueError("axes must name at least one axis")
    ax = np.array([axis_vector(a) for a in ax_list])
    if positions is None:
        g = np.arange(0, L, stride)
        Z, Y, X = np.meshgrid(g, g, g, indexing="ij")
        pos = np.stack([X.ravel(), Y.ravel(), Z.ravel()], axis=1)
    else:
        pos = _check_positions(positions, 3, L)
    if self_response not in SELF_RESPONSES:
        raise ValueError(f"self_response must be one of {SELF_RESPONSES}, got {self_response!r}")
    law_f = m.law_arrays[1]
    a, p0 = float(law_f[4]), float(law_f[5])
    o_axes = np.repeat(ax, alphas.size, axis=0)
    o_alphas = np.tile(alphas, ax.shape[0])
    Ms = np.concatenate([loading_tensor3d(v, alphas) for v in ax])  # (n_orient, 6)
    no = Ms.shape[0]
    npch = pos.shape[0]
    out = {k: np.zeros((npch, no)) for k in ("tau_i", "tau_c", "dtau_c", "drop", "sigma_vm",
                                             "gamma_c")}
    n_events = np.zeros((npch, no), np.int64)
    prop = patch_operator3d(m, int(n))
    loads = [np.ascontiguousarray(prop.load_response(M)) for M in Ms]
    for ip, (ix0, iy0, iz0) in enumerate(pos):
        report(progress, ip / npch, 0)
        base = patch_state3d(state, int(n), int(ix0), int(iy0), int(iz0), self_response)
        tests = _test_patch(base, loads, Ms, rng, _onset3d, _resolved3, a, p0)
        _store(out, n_events, ip, tests, float(equivalent_shear3(base.stress.mean(axis=0))))
    report(progress, 1.0, 0)
    return LocalYield(**out, n_events=n_events, alphas=o_alphas, positions=pos, n=int(n),
                      R=float(l * n * (3.0 / (4.0 * np.pi)) ** (1.0 / 3.0)),
                      self_response=self_response, axes=o_axes)

"""Stress-response operators: how element stresses change when plastic strain changes.

Every propagator answers the same questions, so drivers never care which one they hold:

* :meth:`Propagator.stress` -- the full stress field of a plastic strain field under an
  imposed mean strain (same contract as :func:`femplastic.fe.assembly.element_stress`);
* :meth:`Propagator.add` -- in place, ``stress += response(eigenstrain increments in some
  elements)``: the operation drivers perform millions of times;
* :attr:`Propagator.self_response` -- ``dSigma_e / d eps_pl_e`` per element, i.e.
  ``C : (S - I)`` with ``S`` the element's numerical Eshelby tensor (used by the
  dissipation bound of slip amplitudes);
* :meth:`Propagator.load_response` -- the stress change per unit imposed mean strain.

Implementations:

* :class:`PeriodicKernel` -- regular periodic grid, homogeneous elasticity. The FE problem
  is a discrete convolution; its kernel is computed *exactly* (to round-off) from the Q4
  stiffness by diagonalising the block-circulant stiffness with FFTs, then applied per event
  by a numba shifted add, or in batches by FFT.
* :class:`SparsePropagator` -- any periodic mesh, heterogeneous moduli: one sparse
  back-substitution per batch of events with a factorisation computed once.
* :class:`DensePropagator` -- the full response matrix of a small general problem, built
  once (dense Cholesky of the stiffness), applied like the periodic kernel.
* :class:`ShuffledPropagator` -- model D of seed 004 (A.8.4): any base propagator whose
  stress changes in the *other* elements are randomly permuted among them at every event
  (the self term is kept). Stochastic: :meth:`Propagator.add` takes the run's ``rng``.
* :class:`MeanFieldPropagator` -- model I (A.8.9): the self term is kept and every other
  element receives the (area-weighted) average of the base response over the other elements.

:func:`make_propagator` picks the fastest valid one. The variants themselves (which
ingredient each model A-I changes) are assembled in :mod:`femplastic.weakplane.variants`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np
import scipy.fft
import scipy.linalg as sla
from numpy.typing import ArrayLike, NDArray

from ..assembly import PeriodicFE, _Assembly, _check_macro, check_field
from ..elasticity import VOIGT_WEIGHTS, Isotropic
from ..mesh import FEMesh, periodic_grid
from . import kernels

__all__ = [
    "Propagator",
    "PeriodicKernel",
    "SparsePropagator",
    "DensePropagator",
    "ShuffledPropagator",
    "MeanFieldPropagator",
    "make_propagator",
    "fold_kernel",
    "aligned_zeros",
]

#: Number of simultaneous events above which :meth:`PeriodicKernel.add` uses FFTs.
FFT_BATCH_THRESHOLD = 24

#: Alignment (bytes) of the arrays the numba kernels stream: one cache line, one AVX-512 vector.
ALIGNMENT = 64


def aligned_zeros(shape: int | tuple[int, ...]) -> NDArray[np.float64]:
    """Zero float64 array whose data start on a :data:`ALIGNMENT`-byte boundary.

    The shifted add streams whole rows of the stress and kernel arrays; aligned rows avoid
    vector loads split across cache lines (measured 10-20 % on the single-event update).

    Parameters
    ----------
    shape : int or tuple of int
        Shape of the array.

    Returns
    -------
    ndarray
        float64, of shape ``shape``, C-contiguous, zero-filled: a view into a buffer
        ``ALIGNMENT / 8`` elements larger.

    Examples
    --------
    >>> a = aligned_zeros((5, 3))
    >>> a.shape, a.ctypes.data % ALIGNMENT, bool(a.flags.c_contiguous)
    ((5, 3), 0, True)
    """
    shape = (shape,) if np.isscalar(shape) else tuple(shape)
    size = int(np.prod(shape, dtype=np.int64))
    pad = ALIGNMENT // 8
    buf = np.zeros(size + pad)
    start = (-(buf.ctypes.data // 8)) % pad
    return buf[start : start + size].reshape(shape)


def fold_kernel(G: NDArray[np.float64], L: int, rtol: float = 1e-12) -> NDArray[np.float64]:
    """Folded form of a periodic kernel for :func:`femplastic.fe.propagators.kernels.shifted_add`.

    The responses to the deviatoric ``u = (e_xx - e_yy) / 2``, shear ``e_xy`` and
    volumetric ``t = (e_xx + e_yy) / 2`` inputs (``G @ d = (G0 - G1) u + G2 d2 +
    (G0 + G1) t``) are kept for the offsets ``ry = 0 .. L // 2`` only; the other rows follow
    from the mirror symmetry ``G_ab(rx, -ry) = s_a s_b G_ab(rx, ry)``, ``s = (1, 1, -1)``,
    which is checked here.

    Parameters
    ----------
    G : (L*L, 3, 3) float64
        Real-space kernel, ``G[r, a, b]`` the stress ``a`` at offset ``r = ry * L + rx`` per
        unit eigenstrain ``b`` (Voigt, tensor shear) at the origin.
    L : int
        Grid side.
    rtol : float
        Largest allowed asymmetry relative to ``max |G|`` (default ``1e-12``).

    Returns
    -------
    (4, (L // 2 + 1) * 6 L) float64 ndarray
        Aligned (:func:`aligned_zeros`). Planes ``u``, ``d2``, ``t`` with each row stored
        twice in x, and the sign pattern ``(1, 1, -1) * L`` at the start of row 3.

    Raises
    ------
    ValueError
        If ``G`` is not mirror symmetric to within ``rtol`` (not a square grid with
        isotropic elasticity).
    """
    G4 = np.asarray(G, dtype=float).reshape(L, L, 3, 3)  # [ry, rx, a, b]
    planes = (G4[..., 0] - G4[..., 1], G4[..., 2], G4[..., 0] + G4[..., 1])  # (L, L, 3) each
    sign = np.array([1.0, 1.0, -1.0])
    mirror = (L - np.arange(L)) % L
    scale = max(float(np.abs(G4).max()), np.finfo(float).tiny)
    asym = max(
        float(np.abs(H[mirror] - parity * sign * H).max())
        for H, parity in zip(planes, (1.0, -1.0, 1.0), strict=True)
    )
    if asym > rtol * scale:
        raise ValueError(
            f"kernel is not mirror symmetric (asymmetry {asym / scale:.2e} relative); the "
            "folded shifted add needs a square grid with isotropic elasticity"
        )
    h = L // 2
    P = (h + 1) * 6 * L
    K = aligned_zeros((4, P))
    for c, H in enumerate(planes):
        rows = H[: h + 1].reshape(h + 1, 3 * L)
        K[c] = np.concatenate([rows, rows], axis=1).reshape(-1)
    K[3, : 3 * L] = np.tile(sign, L)
    return K


class Propagator(ABC):
    """Interface of all stress-response operators (see the module docstring).

    Attributes
    ----------
    mesh : FEMesh
    material : Isotropic
    n_elem : int
    stochastic : bool
        Class attribute. False for deterministic operators. A *stochastic* propagator (e.g.
        :class:`ShuffledPropagator`) draws random numbers when it applies events: its
        :meth:`add` accepts a keyword ``rng`` (a ``numpy.random.Generator``), which the
        drivers pass (the run's generator), so a run stays reproducible from its seed.

    Notes
    -----
    To plug in your own operator, subclass this class and implement :attr:`self_response`,
    :meth:`stress` and :meth:`add` (optionally :meth:`load_response`); leave
    :meth:`numba_form` returning None and the drivers apply it from Python once per
    synchronous sweep (``docs_notes/variants.md`` has a worked example).
    """

    mesh: FEMesh
    material: Isotropic
    stochastic: bool = False

    @property
    def n_elem(self) -> int:
        """Number of elements."""
        return self.mesh.n_elem

    @property
    @abstractmethod
    def self_response(self) -> NDArray[np.float64]:
        """``dSigma_e / d eps_pl_e``, shape (n_elem, 3, 3): ``[e, a, b]`` stress ``a`` per ``b``.

        Returns
        -------
        (n_elem, 3, 3) float64 ndarray
            Stress (units of ``G``) per unit plastic strain (dimensionless, tensor shear) in
            the same element, at fixed mean strain.
        """

    @abstractmethod
    def stress(
        self,
        eps_pl: ArrayLike,
        macro_strain: ArrayLike = (0.0, 0.0, 0.0),
        prestress: ArrayLike | None = None,
    ) -> NDArray[np.float64]:
        """Element stress (n_elem, 3) of plastic strain (n_elem, 3) under mean strain (3,).

        Same contract as :func:`femplastic.fe.assembly.element_stress`.

        Parameters
        ----------
        eps_pl : (n_elem, 3) array_like
            Element plastic strain, Voigt (xx, yy, xy), tensor shear, dimensionless.
        macro_strain : (3,) array_like
            Imposed mean strain ``E``, Voigt, dimensionless (default zero).
        prestress : (n_elem, 3) array_like, optional
            Pre-stress ``Sigma0`` added to the result, units of ``G``.

        Returns
        -------
        (n_elem, 3) float64 ndarray
            Element stress, Voigt (xx, yy, xy), units of ``G`` (LJ units).

        Raises
        ------
        ValueError
            If ``eps_pl`` or ``prestress`` is not a finite (n_elem, 3) field, or
            ``macro_strain`` not a finite (3,) vector.
        """

    @abstractmethod
    def add(self, stress: NDArray[np.float64], elems: ArrayLike, deps: ArrayLike) -> None:
        """In place: ``stress += response to plastic strain increments``.

        Parameters
        ----------
        stress : (n_elem, 3) float64 ndarray
            Updated in place.
        elems : (k,) int array_like
            Elements receiving an increment (repeats allowed: they add up).
        deps : (k, 3) array_like
            Plastic strain increments, Voigt (xx, yy, xy), tensor shear, dimensionless.

        Raises
        ------
        ValueError
            If ``elems`` and ``deps`` differ in length, or an element index is outside
            ``[0, n_elem - 1]``.
        """

    def load_response(self, direction: ArrayLike) -> NDArray[np.float64]:
        """Stress change per unit imposed mean strain along ``direction`` (3,), (n_elem, 3).

        Parameters
        ----------
        direction : (3,) array_like
            Mean-strain direction, Voigt (xx, yy, xy), tensor shear (e.g.
            ``schmid(alpha)``).

        Returns
        -------
        (n_elem, 3) float64 ndarray
            Element stress change (units of ``G``) per unit of the imposed strain.

        Raises
        ------
        ValueError
            If ``direction`` is not a finite (3,) vector.
        """
        d = _check_macro(direction)
        return self.stress(np.zeros((self.n_elem, 3)), d)

    def numba_form(self) -> tuple[int, NDArray[np.float64], int] | None:
        """``(kind, array, L)`` for fused numba drivers, or None when not supported.

        kind 0: folded periodic kernel ``(4, (L//2+1)*6L)`` (:func:`fold_kernel`); kind 1:
        dense response ``(3 n, 3 n)``;
        kinds 2 and 3: the same, shuffled per event (model D); kind 4: mean field
        ``(n, 18)`` (model I). See :func:`femplastic.fe.propagators.kernels.apply_form`. A
        propagator
        returning None is applied from Python (:meth:`add`, once per synchronous sweep).

        Returns
        -------
        tuple of (int, ndarray, int) or
        None
            ``kind`` (:data:`~femplastic.fe.propagators.kernels.FORM_PERIODIC` ...
            ``FORM_MEANFIELD``), the
            float64 array the numba kernel streams, and the grid side ``L`` (0 when not a
            periodic kernel). The base class returns None.
        """
        return None

    def _check_increment(
        self, elems: ArrayLike, deps: ArrayLike
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        elems = np.atleast_1d(np.asarray(elems, dtype=np.int64))
        deps = np.asarray(deps, dtype=float).reshape(-1, 3)
        if elems.shape[0] != deps.shape[0]:
            raise ValueError(
                f"elems ({elems.shape[0]}) and deps ({deps.shape[0]}) differ in length"
            )
        if elems.size and (elems.min() < 0 or elems.max() >= self.n_elem):
            raise ValueError(f"elems must be in [0, {self.n_elem - 1}]")
        return elems, np.ascontiguousarray(deps)

    def _check_stress(self, stress: Any) -> NDArray[np.float64]:
        """``stress`` updated in place by a numba kernel: must be the array itself."""
        if (not isinstance(stress, np.ndarray) or stress.dtype != np.float64
                or stress.shape != (self.n_elem, 3) or not stress.flags.c_contiguous
                or not stress.flags.writeable):
            raise ValueError(
                f"stress must be a writeable C-contiguous float64 array of shape "
                f"({self.n_elem}, 3), got "
                + (f"{stress.dtype} {stress.shape} (contiguous: {stress.flags.c_contiguous})"
                   if isinstance(stress, np.ndarray) else type(stress).__name__)
            )
        return stress.reshape(-1)


def _grid_stencil(
    L: int, l: float, material: Isotropic
) -> tuple[dict[tuple[int, int], NDArray], list[NDArray], NDArray, float]:
    """Nodal stiffness stencil and element strain operator of the regular Q4 grid.

    Extracted from a scikit-fem assembly on a 4 x 4 periodic grid (no aliasing of the
    nearest-neighbour stencil), valid for any ``L``.

    Returns
    -------
    K_off : dict (dx, dy) -> (2, 2) ndarray
        Stiffness block coupling node ``n`` to node ``n + (dx, dy)``.
    B_corner : list of four (3, 2) ndarrays
        Element-averaged strain per displacement of the corners at offsets
        (0, 0), (1, 0), (1, 1), (0, 1) from the element's lower-left node.
    C : (3, 3) ndarray
    area : float
    """
    m0 = periodic_grid(4, l)
    asm = _Assembly.build(m0.skmesh, material)
    t = m0.skmesh.t
    nd = asm.basis.nodal_dofs

    def dofs(ix: int, iy: int) -> NDArray:
        return nd[:, t[0, (iy % 4) * 4 + (ix % 4)]]

    K = asm.K.tocsr()
    c = dofs(1, 1)
    K_off = {}
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            K_off[(dx, dy)] = K[c][:, dofs(1 + dx, 1 + dy)].toarray()
    e0 = 1 * 4 + 1
    Brows = asm.Bbar[3 * e0 : 3 * e0 + 3]
    corners = ((0, 0), (1, 0), (1, 1), (0, 1))
    B_corner = [Brows[:, dofs(1 + dx, 1 + dy)].toarray() for dx, dy in corners]
    return K_off, B_corner, asm.C[0], float(asm.areas[0])


class PeriodicKernel(Propagator):
    """Exact convolution kernel of the regular bi-periodic Q4 grid (the fast path).

    The stress response in element ``j`` to a plastic strain in element ``i`` depends only on
    the offset ``j - i`` (periodic): ``G[r, a, b]``. It is built from the FE stiffness by
    block-diagonalising it in Fourier space,
    ``Ghat(q) = C (B(q) K(q)^-1 B(q)^H A W C - I)`` for ``q != 0`` and ``Ghat(0) = -C``
    (the mean strain is imposed), and equals a direct sparse FE solve to round-off.

    Parameters
    ----------
    mesh : FEMesh
        A regular periodic grid from :func:`femplastic.fe.mesh.periodic_grid`.
    material : Isotropic
        Homogeneous material.

    Raises
    ------
    ValueError
        If ``mesh`` is not a regular periodic grid, or ``material`` is not homogeneous.

    Attributes
    ----------
    L : int
        Grid side.
    C : ndarray
        Stiffness ``(3, 3)`` in tensor-Voigt form (units of ``G``).
    G : (L*L, 3, 3) float64 ndarray
        Real-space kernel, offset ``r = ry * L + rx``.
    K : (4, (L//2 + 1) * 6 L) float64 ndarray
        The kernel folded by its mirror symmetry (:func:`fold_kernel`), what the numba
        shifted add streams: half the rows of two planes for a slip (traceless) increment.
    """

    def __init__(self, mesh: FEMesh, material: Isotropic) -> None:
        if not isinstance(mesh, FEMesh) or mesh.grid is None or not mesh.periodic:
            raise ValueError(
                "PeriodicKernel needs a regular periodic grid (femplastic.fe.mesh.periodic_grid); "
                "use SparsePropagator for custom meshes"
            )
        if not material.homogeneous:
            raise ValueError(
                "PeriodicKernel needs homogeneous elasticity; use SparsePropagator or "
                "DensePropagator for per-element moduli"
            )
        self.mesh = mesh
        self.material = material
        L, l = mesh.grid
        self.L = L
        K_off, B_corner, C, area = _grid_stencil(L, l, material.mean())
        self.C = C
        k = 2.0 * np.pi * np.fft.fftfreq(L)  # wavenumber x grid spacing
        qy, qx = np.meshgrid(k, k, indexing="ij")  # [ky, kx]

        def phase(dx: int, dy: int) -> NDArray[np.complex128]:
            return np.exp(1j * (qx * dx + qy * dy))

        Kq = np.zeros((L, L, 2, 2), dtype=complex)
        for (dx, dy), blk in K_off.items():
            Kq += phase(dx, dy)[..., None, None] * blk
        Bq = np.zeros((L, L, 3, 2), dtype=complex)
        for (dx, dy), blk in zip(((0, 0), (1, 0), (1, 1), (0, 1)), B_corner, strict=True):
            Bq += phase(dx, dy)[..., None, None] * blk
        Kq[0, 0] = np.eye(2)  # q = 0: no fluctuation (mean strain imposed), fixed below
        F = area * VOIGT_WEIGHTS[:, None] * C  # (3, 3): force operator A W C
        X = np.linalg.solve(Kq, np.conj(np.swapaxes(Bq, -1, -2)) @ F)  # (L, L, 2, 3)
        Gam = Bq @ X  # (L, L, 3, 3)
        Gam[0, 0] = 0.0
        Ghat = C @ (Gam - np.eye(3))
        G = np.fft.ifft2(Ghat, axes=(0, 1))
        self.G = np.ascontiguousarray(G.real.reshape(L * L, 3, 3))
        self.K = fold_kernel(self.G, L)
        self._Ghat_r = scipy.fft.rfft2(self.G.reshape(L, L, 3, 3), axes=(0, 1))

    @property
    def self_response(self) -> NDArray[np.float64]:
        """``G[0]`` for every element, (n_elem, 3, 3).

        Returns
        -------
        (n_elem, 3, 3) float64 ndarray
            A read-only broadcast view of ``G[0]`` (units of ``G``).
        """
        return np.broadcast_to(self.G[0], (self.n_elem, 3, 3))

    def _convolve(self, field: NDArray[np.float64]) -> NDArray[np.float64]:
        L = self.L
        P = scipy.fft.rfft2(field.reshape(L, L, 3), axes=(0, 1))
        S = np.einsum("yxab,yxb->yxa", self._Ghat_r, P)
        return scipy.fft.irfft2(S, s=(L, L), axes=(0, 1)).reshape(L * L, 3)

    def stress(
        self,
        eps_pl: ArrayLike,
        macro_strain: ArrayLike = (0.0, 0.0, 0.0),
        prestress: ArrayLike | None = None,
    ) -> NDArray[np.float64]:
        """Element stress by FFT convolution, (n_elem, 3).

        Parameters, result and errors as :meth:`Propagator.stress`.
        """
        epl = check_field("eps_pl", eps_pl, self.n_elem)
        E = _check_macro(macro_strain)
        out = self._convolve(epl) + (self.C @ E)[None, :]
        if prestress is not None:
            out += check_field("prestress", prestress, self.n_elem)
        return out

    def load_response(self, direction: ArrayLike) -> NDArray[np.float64]:
        """Uniform ``C : direction`` in every element, (n_elem, 3).

        Parameters
        ----------
        direction : (3,) array_like
            Mean-strain direction, Voigt (xx, yy, xy), tensor shear.

        Returns
        -------
        (n_elem, 3) float64 ndarray
            ``C @ direction`` repeated in every element, units of ``G``.

        Raises
        ------
        ValueError
            If ``direction`` is not a finite (3,) vector.
        """
        d = _check_macro(direction)
        return np.repeat((self.C @ d)[None, :], self.n_elem, axis=0)

    def add(self, stress: NDArray[np.float64], elems: ArrayLike, deps: ArrayLike) -> None:
        """Shifted adds (numba) for few events, one FFT convolution for many.

        Batches of :data:`FFT_BATCH_THRESHOLD` events or more use the FFT.

        Parameters
        ----------
        stress : (n_elem, 3) float64 C-contiguous ndarray
            Updated in place (units of ``G``).
        elems : (k,) int array_like
            Elements receiving an increment (repeats add up).
        deps : (k, 3) array_like
            Plastic strain increments, Voigt, tensor shear.

        Raises
        ------
        ValueError
            If ``elems`` and ``deps`` differ in length, an index is out of range, or
            ``stress`` is not a C-contiguous float64 ``(n_elem, 3)`` array (a copy would be
            updated instead).
        """
        elems, deps = self._check_increment(elems, deps)
        flat = self._check_stress(stress)
        if elems.size >= FFT_BATCH_THRESHOLD:
            field = np.zeros((self.n_elem, 3))
            np.add.at(field, elems, deps)
            stress += self._convolve(field)
        else:
            kernels.shifted_add_many(flat, self.K, self.L, elems, deps)

    def numba_form(self) -> tuple[int, NDArray[np.float64], int]:
        """``(0, K, L)`` with ``K`` the folded kernel (:func:`fold_kernel`).

        Returns
        -------
        tuple of (int, ndarray, int)
            ``(FORM_PERIODIC, K, L)``.
        """
        return 0, self.K, self.L


class SparsePropagator(Propagator):
    """General path: sparse FE solve with a factorisation computed once.

    Works on any periodic quadrilateral mesh and with per-element moduli. Each call to
    :meth:`add` costs one back-substitution, whatever the number of events in the batch.

    Parameters
    ----------
    mesh : FEMesh
        Periodic mesh.
    material : Isotropic
        Homogeneous or per-element moduli.

    Attributes
    ----------
    fe : PeriodicFE
        The factorised periodic FE problem (:class:`femplastic.fe.assembly.PeriodicFE`).
    """

    def __init__(self, mesh: FEMesh, material: Isotropic) -> None:
        self.mesh = mesh
        self.material = material
        self.fe = PeriodicFE(mesh, material)
        self._self: NDArray[np.float64] | None = None

    @property
    def self_response(self) -> NDArray[np.float64]:
        """Each element's own response from 3 solves per element (batched), (n_elem, 3, 3).

        Computed on first access and cached.

        Returns
        -------
        (n_elem, 3, 3) float64 ndarray
            ``[e, a, b]``: stress ``a`` (units of ``G``) per unit plastic strain ``b``.
        """
        if self._self is None:
            n = self.n_elem
            out = np.empty((n, 3, 3))
            chunk = max(1, min(n, 200_000 // max(n, 1)))
            for start in range(0, n, chunk):
                idx = np.arange(start, min(n, start + chunk))
                R = self.fe.unit_responses(idx)  # (k, 3[b], n, 3[a])
                out[idx] = R[np.arange(idx.size), :, idx, :].transpose(0, 2, 1)
            self._self = out
        return self._self

    def stress(
        self,
        eps_pl: ArrayLike,
        macro_strain: ArrayLike = (0.0, 0.0, 0.0),
        prestress: ArrayLike | None = None,
    ) -> NDArray[np.float64]:
        """Direct sparse FE solve, (n_elem, 3).

        Parameters, result and errors as :meth:`Propagator.stress`.
        """
        return self.fe.element_stress(eps_pl, macro_strain, prestress)

    def add(self, stress: NDArray[np.float64], elems: ArrayLike, deps: ArrayLike) -> None:
        """One back-substitution for the whole batch.

        Parameters
        ----------
        stress : (n_elem, 3) float64 ndarray
            Updated in place (units of ``G``).
        elems : (k,) int array_like
            Elements receiving an increment (repeats add up).
        deps : (k, 3) array_like
            Plastic strain increments, Voigt, tensor shear.

        Raises
        ------
        ValueError
            If ``elems`` and ``deps`` differ in length or an index is out of range.
        """
        elems, deps = self._check_increment(elems, deps)
        if elems.size == 0:
            return
        field = np.zeros((self.n_elem, 3))
        np.add.at(field, elems, deps)
        stress += self.fe.element_stress(field)


class DensePropagator(Propagator):
    """Full response matrix ``R[i, b, j, a]`` of a general periodic problem (small meshes).

    ``R[i, b, j, a]`` is the change of stress ``a`` in element ``j`` per unit plastic strain
    ``b`` in element ``i`` at fixed mean strain (the layout of
    :meth:`femplastic.fe.assembly.PeriodicFE.unit_responses`). Built once: up to ``cholesky_max``
    elements by a dense Cholesky factorisation of the stiffness (one node pinned) and dense
    multi-right-hand-side solves, beyond by sparse-LU solves; memory ``72 n_elem^2`` bytes.
    Applied by a numba loop, and usable by the fused drivers. This is the general path of
    heterogeneous elasticity (model A) on small systems.

    Parameters
    ----------
    mesh : FEMesh
        Periodic mesh.
    material : Isotropic
        Homogeneous or per-element moduli.
    max_elem : int
        Refuse larger meshes (memory), use :class:`SparsePropagator` instead (default 4096).
    cholesky_max : int
        Largest mesh built with the dense Cholesky factorisation (default 2048).

    Raises
    ------
    ValueError
        If ``mesh`` has more than ``max_elem`` elements.

    Attributes
    ----------
    R : float64 ndarray
        The response matrix ``R[i, b, j, a]``, shape ``(n_elem, 3, n_elem, 3)``, units of
        ``G``.
    """

    def __init__(self, mesh: FEMesh, material: Isotropic, max_elem: int = 4096,
                 cholesky_max: int = 2048) -> None:
        if mesh.n_elem > max_elem:
            raise ValueError(
                f"DensePropagator needs {72 * mesh.n_elem**2 / 1e9:.1f} GB for {mesh.n_elem} "
                f"elements (max_elem={max_elem}); use SparsePropagator"
            )
        self.mesh = mesh
        self.material = material
        self._sparse = SparsePropagator(mesh, material)
        n = mesh.n_elem
        R = np.empty((n, 3, n, 3))
        if n <= cholesky_max:
            self._dense_build(R)
        else:
            chunk = max(1, min(n, 300_000 // max(n, 1)))
            for start in range(0, n, chunk):
                idx = np.arange(start, min(n, start + chunk))
                R[idx] = self._sparse.fe.unit_responses(idx)
        self.R = R
        self._R2 = R.reshape(3 * n, 3 * n)

    def _dense_build(self, R: NDArray[np.float64]) -> None:
        """Fill ``R`` (n, 3, n, 3) from a dense Cholesky factorisation of the stiffness."""
        asm = _Assembly.build(self.mesh.skmesh, self.material)
        n = asm.n_elem
        pinned = asm.basis.nodal_dofs[:, 0]
        free = np.setdiff1d(np.arange(asm.basis.N), pinned)
        cho = sla.cho_factor(asm.K[free][:, free].toarray(), check_finite=False)
        chunk = max(1, min(n, 1_000_000 // (3 * n)))
        for start in range(0, n, chunk):
            idx = np.arange(start, min(n, start + chunk))
            k = idx.size
            eig = np.zeros((n, 3, 3 * k))
            for i, e in enumerate(idx):
                eig[e, :, 3 * i : 3 * i + 3] = np.eye(3)
            f = asm.force(eig)  # (n_dof, 3k)
            u = np.zeros_like(f)
            u[free] = sla.cho_solve(cho, f[free], check_finite=False)
            strain = asm.avg_strain(u) - eig  # (n, 3, 3k)
            stress = np.einsum("eab,ebk->eak", asm.C, strain)
            R[idx] = stress.reshape(n, 3, k, 3).transpose(2, 3, 0, 1)

    @property
    def self_response(self) -> NDArray[np.float64]:
        """Diagonal blocks of ``R``, (n_elem, 3, 3) as ``[e, a, b]``.

        Returns
        -------
        (n_elem, 3, 3) float64 ndarray
            ``R[e, b, e, a]`` rearranged as ``[e, a, b]``, units of ``G``.
        """
        idx = np.arange(self.n_elem)
        return self.R[idx, :, idx, :].transpose(0, 2, 1)

    def stress(
        self,
        eps_pl: ArrayLike,
        macro_strain: ArrayLike = (0.0, 0.0, 0.0),
        prestress: ArrayLike | None = None,
    ) -> NDArray[np.float64]:
        """Direct sparse FE solve, (n_elem, 3).

        Parameters, result and errors as :meth:`Propagator.stress`.
        """
        return self._sparse.stress(eps_pl, macro_strain, prestress)

    def add(self, stress: NDArray[np.float64], elems: ArrayLike, deps: ArrayLike) -> None:
        """Dense numba accumulation.

        Parameters
        ----------
        stress : (n_elem, 3) float64 C-contiguous ndarray
            Updated in place (units of ``G``).
        elems : (k,) int array_like
            Elements receiving an increment (repeats add up).
        deps : (k, 3) array_like
            Plastic strain increments, Voigt, tensor shear.

        Raises
        ------
        ValueError
            If ``elems`` and ``deps`` differ in length, an index is out of range, or
            ``stress`` is not a C-contiguous float64 ``(n_elem, 3)`` array (a copy would be
            updated instead).
        """
        elems, deps = self._check_increment(elems, deps)
        kernels.dense_add_many(self._check_stress(stress), self._R2, elems, deps)

    def numba_form(self) -> tuple[int, NDArray[np.float64], int]:
        """``(1, R2, 0)`` with ``R2 = R.reshape(3 n, 3 n)``.

        Returns
        -------
        tuple of (int, ndarray, int)
            ``(FORM_DENSE, R2, 0)``.
        """
        return 1, self._R2, 0


def _equal_areas(mesh: FEMesh, what: str) -> None:
    a = mesh.areas
    if np.ptp(a) > 1e-9 * float(np.mean(a)):
        raise ValueError(
            f"mesh: {what} needs elements of equal area (a permutation of element stresses "
            f"keeps the mean stress only then); this mesh's areas vary by "
            f"{np.ptp(a) / np.mean(a):.1%}"
        )


def _unwrap_check(base: Propagator, cls_name: str) -> None:
    if not isinstance(base, Propagator):
        raise TypeError(f"{cls_name} base must be a Propagator, got {type(base).__name__}")
    if isinstance(base, ShuffledPropagator | MeanFieldPropagator):
        raise ValueError(
            f"{cls_name} base is already a {type(base).__name__}: wrap the elastic (Eshelby) "
            "propagator, not a modified one"
        )


class ShuffledPropagator(Propagator):
    """Randomly shuffled interaction kernel (model D of seed 004, A.8.4).

    At every event the base propagator's stress changes in the elements *other* than the
    slipping one are randomly permuted among those elements (a fresh uniform permutation per
    event, drawn from the run's generator); the slipping element keeps its own (self) change.
    The statistics of the induced changes are those of the Eshelby kernel, their spatial
    correlations are gone.

    Parameters
    ----------
    base : Propagator
        The elastic response to shuffle (:class:`PeriodicKernel`, :class:`DensePropagator`,
        :class:`SparsePropagator` or a user propagator). Its mesh must have elements of
        equal area.
    rng : numpy.random.Generator, optional
        Default generator of :meth:`add` when the caller passes none. The drivers always
        pass the run's generator, so leave it unset in models.

    Raises
    ------
    TypeError
        If ``base`` is not a :class:`Propagator`, or ``rng`` is neither None nor a
        ``numpy.random.Generator``.
    ValueError
        If ``base`` is already a shuffled or mean-field propagator, or its mesh has
        elements of unequal area.

    Notes
    -----
    * **Macroscopic response unchanged.** A permutation preserves the multiset of the
      induced changes, hence their sum: the mean stress changes by exactly the base amount
      per event (``-C : deps / n`` on the regular grid), and stress-strain records obey the
      same balance as model C.
    * **Loading.** :meth:`load_response` is the base's: the imposed mean strain is not an
      event and is not shuffled (uniform ``C : E`` on a homogeneous medium).
    * **No stress function.** The shuffled stress depends on the history of permutations,
      not only on the plastic strain: :meth:`stress` returns the base's loading/pre-stress
      field for a zero plastic strain and refuses a non-zero one (use the state's stress,
      which the drivers update incrementally).
    * Events of one synchronous sweep are shuffled independently, in the order given.
    """

    stochastic = True

    def __init__(self, base: Propagator, rng: np.random.Generator | None = None) -> None:
        _unwrap_check(base, "ShuffledPropagator")
        if rng is not None and not isinstance(rng, np.random.Generator):
            raise TypeError("rng must be a numpy.random.Generator or None")
        _equal_areas(base.mesh, "the shuffled kernel (model D/G)")
        self.base = base
        self.mesh = base.mesh
        self.material = base.material
        self.rng = rng

    @property
    def self_response(self) -> NDArray[np.float64]:
        """The base's self response (the self term is not shuffled), (n_elem, 3, 3).

        Returns
        -------
        (n_elem, 3, 3) float64 ndarray
            ``base.self_response``, ``[e, a, b]``, units of ``G``.
        """
        return self.base.self_response

    def load_response(self, direction: ArrayLike) -> NDArray[np.float64]:
        """The base's response to the imposed mean strain, (n_elem, 3).

        Parameters
        ----------
        direction : (3,) array_like
            Mean-strain direction, Voigt (xx, yy, xy), tensor shear.

        Returns
        -------
        (n_elem, 3) float64 ndarray
            ``base.load_response(direction)``, units of ``G`` per unit strain.

        Raises
        ------
        ValueError
            If ``direction`` is not a finite (3,) vector.
        """
        return self.base.load_response(direction)

    def stress(
        self,
        eps_pl: ArrayLike,
        macro_strain: ArrayLike = (0.0, 0.0, 0.0),
        prestress: ArrayLike | None = None,
    ) -> NDArray[np.float64]:
        """Base field for ``eps_pl = 0``; a non-zero plastic strain has no unique field.

        Parameters
        ----------
        eps_pl : (n_elem, 3) array_like
            Must be zero everywhere.
        macro_strain : (3,) array_like
            Imposed mean strain ``E``, Voigt (default zero).
        prestress : (n_elem, 3) array_like, optional
            Pre-stress ``Sigma0`` added to the result, units of ``G``.

        Returns
        -------
        (n_elem, 3) float64 ndarray
            ``base.stress(0, macro_strain, prestress)``, units of ``G``.

        Raises
        ------
        NotImplementedError
            If ``eps_pl`` has a non-zero entry.
        ValueError
            If a field has the wrong shape or non-finite values.
        """
        epl = check_field("eps_pl", eps_pl, self.n_elem)
        if np.any(epl != 0):
            raise NotImplementedError(
                "ShuffledPropagator.stress: the shuffled stress depends on the history of "
                "permutations, not on eps_pl alone; use the state's stress (or base.stress "
                "for the unshuffled field, which has the same element average)"
            )
        return self.base.stress(epl, macro_strain, prestress)

    def response(self, e: int, deps: ArrayLike) -> NDArray[np.float64]:
        """Unshuffled base response (n_elem, 3) to the increment ``deps`` (3,) in element ``e``.

        Parameters
        ----------
        e : int
            Element of the increment, in ``[0, n_elem - 1]``.
        deps : (3,) array_like
            Plastic strain increment, Voigt (xx, yy, xy), tensor shear.

        Returns
        -------
        (n_elem, 3) float64 ndarray
            Stress change of every element, units of ``G``.

        Raises
        ------
        ValueError
            If ``e`` is out of range.
        """
        out = np.zeros((self.n_elem, 3))
        self.base.add(out, [int(e)], np.asarray(deps, dtype=float).reshape(1, 3))
        return out

    def add(self, stress: NDArray[np.float64], elems: ArrayLike, deps: ArrayLike,
            rng: np.random.Generator | None = None) -> None:
        """In place: every event's base response, others permuted (one permutation per event).

        Parameters
        ----------
        stress : (n_elem, 3) float64 C-contiguous ndarray
            Updated in place.
        elems : (k,) int array_like
            Elements receiving an increment, applied in this order.
        deps : (k, 3) array_like
            Plastic strain increments, Voigt (xx, yy, xy), tensor shear.
        rng : numpy.random.Generator, optional
            Source of the permutations (default: the one given at construction). The draws
            are those of the fused kernel
            (:func:`femplastic.fe.propagators.kernels.shuffle_scatter`), so both
            driver paths give the same trajectory.

        Raises
        ------
        TypeError
            If no generator is given here nor at construction.
        ValueError
            If ``elems`` and ``deps`` differ in length, an index is out of range, or
            ``stress`` is not C-contiguous.
        """
        rng = rng if rng is not None else self.rng
        if not isinstance(rng, np.random.Generator):
            raise TypeError("ShuffledPropagator.add needs rng (a numpy.random.Generator)")
        elems, deps = self._check_increment(elems, deps)
        flat = self._check_stress(stress)
        perm = np.zeros(max(self.n_elem - 1, 0), np.int64)
        for e, d in zip(elems, deps, strict=True):
            resp = self.response(int(e), d)
            kernels.shuffle_scatter(flat, resp.reshape(-1), int(e), rng, perm)

    def numba_form(self) -> tuple[int, NDArray[np.float64], int] | None:
        """``(2, K, L)`` over a periodic kernel, ``(3, R2, 0)`` over a dense one, else None.

        Returns
        -------
        tuple of (int, ndarray, int) or None
            The base's form with its kind shifted by 2 (``FORM_SHUFFLED_PERIODIC`` or
            ``FORM_SHUFFLED_DENSE``), or None when the base has no periodic or dense form.
        """
        form = self.base.numba_form()
        if form is None or form[0] not in (kernels.FORM_PERIODIC, kernels.FORM_DENSE):
            return None
        kind, arr, L = form
        return kind + 2, arr, L


class MeanFieldPropagator(Propagator):
    """Mean-field interaction kernel (model I of seed 004, A.8.9).

    Per event in element ``e`` with increment ``deps``: element ``e`` changes by its own
    (self) response ``S_e : deps``; every other element changes by the same amount
    ``O_e : deps``, the area-weighted average of the base response over all elements other
    than ``e``. The mean stress change is exactly the base's (``-C : deps / n`` on the
    regular grid).

    Parameters
    ----------
    base : Propagator
        The elastic response to average (e.g. :class:`PeriodicKernel`).

    Raises
    ------
    TypeError
        If ``base`` is not a :class:`Propagator`.
    ValueError
        If ``base`` is already a shuffled or mean-field propagator.

    Attributes
    ----------
    S : ndarray
        Self response ``S_e`` of each element, ``(n_elem, 3, 3)`` as ``[e, a, b]``, units
        of ``G``.
    O : ndarray
        Response ``O_e`` of every other element to an event in ``e``, ``(n_elem, 3, 3)``
        as ``[e, a, b]``.

    Notes
    -----
    *Non-yielding elements.* In a synchronous sweep several elements slip at once; each
    event is treated on its own, and "the non-yielding elements" of an event are all the
    elements other than the event's own element. An element slipping in the same sweep thus
    receives its self change plus the mean-field share of each of the other events: the
    sweep is the sum of its events, as for every propagator, in any order.

    Unlike the shuffled kernel, the mean-field stress is a linear function of the plastic
    strain, so :meth:`stress` is exact:
    ``Sigma_j = sum_e O_e : eps_e + (S_j - O_j) : eps_j + (base load) + Sigma0_j``.
    :meth:`load_response` is the base's (the imposed strain is not an event).
    """

    def __init__(self, base: Propagator) -> None:
        _unwrap_check(base, "MeanFieldPropagator")
        self.base = base
        self.mesh = base.mesh
        self.material = base.material
        n = base.n_elem
        w = base.mesh.areas / base.mesh.areas.sum()
        S = np.ascontiguousarray(base.self_response, dtype=float)  # [e, a, b]
        if isinstance(base, PeriodicKernel):
            T = np.broadcast_to(base.G.sum(axis=0) / n, (n, 3, 3))  # [e, a, b]
        elif isinstance(base, DensePropagator):
            T = np.einsum("j,ebja->eab", w, base.R)
        else:
            T = np.zeros((n, 3, 3))
            for e in range(n):
                for b in range(3):
                    r = np.zeros((n, 3))
                    base.add(r, [e], np.eye(3)[b : b + 1])
                    T[e, :, b] = w @ r
        O = (T - w[:, None, None] * S) / (1.0 - w)[:, None, None]
        self.S = S
        self.O = np.ascontiguousarray(O)
        self._MF = np.ascontiguousarray(
            np.concatenate([S.reshape(n, 9), self.O.reshape(n, 9)], axis=1))

    @property
    def self_response(self) -> NDArray[np.float64]:
        """The base's self response ``S_e`` (n_elem, 3, 3).

        Returns
        -------
        (n_elem, 3, 3) float64 ndarray
            ``S``, ``[e, a, b]``, units of ``G``.
        """
        return self.S

    def load_response(self, direction: ArrayLike) -> NDArray[np.float64]:
        """The base's response to the imposed mean strain, (n_elem, 3).

        Parameters
        ----------
        direction : (3,) array_like
            Mean-strain direction, Voigt (xx, yy, xy), tensor shear.

        Returns
        -------
        (n_elem, 3) float64 ndarray
            ``base.load_response(direction)``, units of ``G`` per unit strain.

        Raises
        ------
        ValueError
            If ``direction`` is not a finite (3,) vector.
        """
        return self.base.load_response(direction)

    def stress(
        self,
        eps_pl: ArrayLike,
        macro_strain: ArrayLike = (0.0, 0.0, 0.0),
        prestress: ArrayLike | None = None,
    ) -> NDArray[np.float64]:
        """Exact mean-field stress of a plastic strain field (see Notes), (n_elem, 3).

        Parameters, result and errors as :meth:`Propagator.stress`.
        """
        epl = check_field("eps_pl", eps_pl, self.n_elem)
        out = self.base.stress(np.zeros_like(epl), macro_strain, prestress)
        own = np.einsum("eab,eb->ea", self.S - self.O, epl)
        out += np.einsum("eab,eb->a", self.O, epl)[None, :] + own
        return out

    def add(self, stress: NDArray[np.float64], elems: ArrayLike, deps: ArrayLike) -> None:
        """In place, event by event (:func:`femplastic.fe.propagators.kernels.meanfield_add`).

        Parameters
        ----------
        stress : (n_elem, 3) float64 C-contiguous ndarray
            Updated in place (units of ``G``).
        elems : (k,) int array_like
            Elements receiving an increment (repeats add up).
        deps : (k, 3) array_like
            Plastic strain increments, Voigt, tensor shear.

        Raises
        ------
        ValueError
            If ``elems`` and ``deps`` differ in length, an index is out of range, or
            ``stress`` is not C-contiguous.
        """
        elems, deps = self._check_increment(elems, deps)
        flat = self._check_stress(stress)
        for e, d in zip(elems, deps, strict=True):
            kernels.meanfield_add(flat, self._MF, int(e), d[0], d[1], d[2])

    def numba_form(self) -> tuple[int, NDArray[np.float64], int]:
        """``(4, MF, 0)`` with ``MF[e] = (S_e, O_e)`` flattened, (n_elem, 18).

        Returns
        -------
        tuple of (int, ndarray, int)
            ``(FORM_MEANFIELD, MF, 0)``.
        """
        return kernels.FORM_MEANFIELD, self._MF, 0


def make_propagator(mesh: FEMesh, material: Isotropic, dense_max: int = 1024,
                    periodic_kernel: bool = True) -> Propagator:
    """The fastest valid propagator for ``(mesh, material)``.

    * regular periodic grid + homogeneous material (and ``periodic_kernel``) ->
      :class:`PeriodicKernel`;
    * otherwise, up to ``dense_max`` elements -> :class:`DensePropagator`;
    * otherwise :class:`SparsePropagator`.

    ``periodic_kernel=False`` forces the general path even for a homogeneous material (model
    A with a uniform modulus field: the same physics through the general solver).

    Parameters
    ----------
    mesh : FEMesh
        Periodic mesh.
    material : Isotropic
        Homogeneous or per-element moduli.
    dense_max : int
        Largest number of elements for :class:`DensePropagator` (default 1024).
    periodic_kernel : bool
        Allow :class:`PeriodicKernel` (default True).

    Returns
    -------
    Propagator
        A :class:`PeriodicKernel`, :class:`DensePropagator` or :class:`SparsePropagator`.

    Raises
    ------
    ValueError
        If ``mesh`` is not periodic.
    """
    if not mesh.periodic:
        raise ValueError("the models need a periodic mesh (load it with periodic=True)")
    if periodic_kernel and mesh.grid is not None and material.homogeneous:
        return PeriodicKernel(mesh, material)
    if mesh.n_elem <= dense_max:
        return DensePropagator(mesh, material)
    return SparsePropagator(mesh, material)

"""The exact periodic-grid propagator: the FFT-built convolution kernel and its folded form.

:class:`PeriodicKernel` solves the FE problem of a regular periodic grid with homogeneous
elasticity as a discrete convolution; :func:`fold_kernel` packs its kernel for the numba
shifted add (:func:`femplastic.fe.propagators.kernels.shifted_add`).
"""

from __future__ import annotations

import numpy as np
import scipy.fft
from numpy.typing import ArrayLike, NDArray

from ..assembly import _Assembly, _check_macro, check_field
from ..elasticity import VOIGT_WEIGHTS, Isotropic
from ..mesh import FEMesh, periodic_grid
from . import kernels
from .base import FFT_BATCH_THRESHOLD, Propagator, aligned_zeros

__all__ = ["PeriodicKernel", "fold_kernel"]


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

        Parameters and errors as :meth:`Propagator.add`.
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

"""The exact periodic kernel of the regular L^3 Hex8 grid, built the way the 2D one is.

:class:`PeriodicKernel3D` solves the FE problem of a regular tri-periodic grid of cubic
trilinear elements with homogeneous isotropic elasticity as a discrete convolution: the
block-circulant stiffness is block-diagonalised by FFTs (one 3 x 3 solve per wavevector) and
the element stress response to a unit eigenstrain in one element is
``G[r, a, b]`` (offset ``r``). :func:`fold_kernel3d` packs it for the numba shifted add
(:func:`femplastic.fe.propagators.kernels3d.shifted_add3d`). Voigt order
``(xx, yy, zz, yz, xz, xy)``, tensor shear components.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.fft
from numpy.typing import ArrayLike, NDArray

from ..assembly import check_field
from ..assembly3d import _Assembly3D, _check_macro3
from ..elasticity3d import VOIGT_WEIGHTS_3D, Isotropic3D
from ..mesh3d import _VTK_CORNERS, HexMesh, periodic_grid3d
from . import kernels3d
from .base import FFT_BATCH_THRESHOLD, aligned_zeros

__all__ = ["PeriodicKernel3D", "fold_kernel3d", "MIRROR_SIGNS_3D", "AXIS_PERMUTATIONS_3D"]

#: Sign of each Voigt component (xx, yy, zz, yz, xz, xy) under the mirror ``x -> -x``,
#: ``y -> -y``, ``z -> -z`` (rows): a shear component changes sign when exactly one of its
#: two indices is mirrored.
MIRROR_SIGNS_3D = np.array(
    [[1, 1, 1, 1, -1, -1], [1, 1, 1, -1, 1, -1], [1, 1, 1, -1, -1, 1]], dtype=float
)

#: For the axis swaps x<->y, y<->z, x<->z: the Voigt component that each component becomes.
AXIS_PERMUTATIONS_3D = {
    (0, 1): np.array([1, 0, 2, 4, 3, 5]),
    (1, 2): np.array([0, 2, 1, 3, 5, 4]),
    (0, 2): np.array([2, 1, 0, 5, 4, 3]),
}


def fold_kernel3d(G: NDArray[np.float64], L: int, rtol: float = 1e-12) -> NDArray[np.float64]:
    """Folded form of a 3D periodic kernel for the numba shifted add.

    The kernel is applied by :func:`~femplastic.fe.propagators.kernels3d.shifted_add3d`.
    Keeps the offsets ``ry, rz = 0 .. L // 2`` (the rest follows from the y and z mirror
    symmetries, checked here) in the six input planes described in
    :mod:`femplastic.fe.propagators.kernels3d`.

    Parameters
    ----------
    G : (L^3, 6, 6) float64
        Real-space kernel, ``G[r, a, b]`` the stress ``a`` at offset
        ``r = (rz L + ry) L + rx`` per unit eigenstrain ``b`` at the origin.
    L : int
        Grid side.
    rtol : float
        Largest allowed asymmetry relative to ``max |G|``.

    Returns
    -------
    (7, (L // 2 + 1)^2 12 L) float64 ndarray
        Aligned (:func:`~femplastic.fe.propagators.base.aligned_zeros`).

    Raises
    ------
    ValueError
        If ``G`` is not mirror symmetric in y and z to within ``rtol``.
    """
    G5 = np.asarray(G, dtype=float).reshape(L, L, L, 6, 6)  # [rz, ry, rx, a, b]
    sy, sz = MIRROR_SIGNS_3D[1], MIRROR_SIGNS_3D[2]
    mirror = (L - np.arange(L)) % L
    scale = max(float(np.abs(G5).max()), np.finfo(float).tiny)
    asym = max(float(np.abs(G5[:, mirror] - sy[:, None] * sy[None, :] * G5).max()),
               float(np.abs(G5[mirror] - sz[:, None] * sz[None, :] * G5).max()))
    if asym > rtol * scale:
        raise ValueError(
            f"kernel is not mirror symmetric in y and z (asymmetry {asym / scale:.2e} "
            "relative); the folded shifted add needs a cubic grid with isotropic elasticity"
        )
    planes = (
        G5[..., 0] - G5[..., 2],  # d_xx
        G5[..., 1] - G5[..., 2],  # d_yy
        G5[..., 2],  # tr d
        G5[..., 3],  # d_yz (odd in y and z)
        G5[..., 4],  # d_xz (odd in z)
        G5[..., 5],  # d_xy (odd in y)
    )
    h = L // 2
    P = (h + 1) ** 2 * 12 * L
    K = aligned_zeros((7, P))
    for c, H in enumerate(planes):
        rows = H[: h + 1, : h + 1].reshape((h + 1) ** 2, 6 * L)
        K[c] = np.concatenate([rows, rows], axis=1).reshape(-1)
    K[6, : 18 * L] = np.concatenate([np.tile(sy, L), np.tile(sz, L), np.tile(sy * sz, L)])
    return K


def _grid_stencil3d(
    l: float, material: Isotropic3D
) -> tuple[dict[tuple[int, int, int], NDArray], list[NDArray], NDArray, float]:
    """Nodal stiffness stencil and element strain operator of the regular Hex8 grid.

    Extracted from a scikit-fem assembly on a 4 x 4 x 4 periodic grid (no aliasing of the
    nearest-neighbour stencil), valid for any ``L``.

    Returns
    -------
    K_off : dict (dx, dy, dz) -> (3, 3) ndarray
        Stiffness block coupling node ``n`` to node ``n + (dx, dy, dz)``.
    B_corner : list of eight (6, 3) ndarrays
        Element-averaged strain per displacement of the corner at offset
        ``_VTK_CORNERS[k]`` from the element's lowest node.
    C : (6, 6) ndarray
    volume : float
    """
    m0 = periodic_grid3d(4, l)
    asm = _Assembly3D.build(m0.skmesh, material)
    t = m0.skmesh.t
    nd = asm.basis.nodal_dofs

    def dofs(ix: int, iy: int, iz: int) -> NDArray:
        return nd[:, t[0, ((iz % 4) * 4 + (iy % 4)) * 4 + (ix % 4)]]

    K = asm.K.tocsr()
    c = dofs(1, 1, 1)
    K_off = {}
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            for dz in (-1, 0, 1):
                K_off[(dx, dy, dz)] = K[c][:, dofs(1 + dx, 1 + dy, 1 + dz)].toarray()
    e0 = (1 * 4 + 1) * 4 + 1
    Brows = asm.Bbar[6 * e0 : 6 * e0 + 6]
    B_corner = [
        Brows[:, dofs(1 + int(cx), 1 + int(cy), 1 + int(cz))].toarray()
        for cx, cy, cz in _VTK_CORNERS
    ]
    return K_off, B_corner, asm.C, float(asm.volumes[e0])


class PeriodicKernel3D:
    """Exact convolution kernel of the regular tri-periodic Hex8 grid (the 3D fast path).

    ``Ghat(q) = C (B(q) K(q)^-1 B(q)^H V W C - I)`` for ``q != 0`` and ``Ghat(0) = -C`` (the
    mean strain is imposed), ``K(q)`` the 3 x 3 stiffness block and ``B(q)`` the 6 x 3
    element-average strain operator at wavevector ``q``; ``G = ifftn(Ghat)``. Equal to a
    direct sparse scikit-fem solve (:class:`femplastic.fe.assembly3d.PeriodicFE3D`) to
    round-off.

    Parameters
    ----------
    mesh : HexMesh
        A regular periodic grid from :func:`femplastic.fe.mesh3d.periodic_grid3d`, or
        ``(L, l)`` (any ``L >= 2``; the kernel does not need the mesh).
    material : Isotropic3D
        Homogeneous isotropic moduli.

    Attributes
    ----------
    L : int
        Grid side; ``n_elem = L^3``.
    l : float
        Element side.
    C : (6, 6) ndarray
        Stiffness, tensor-Voigt.
    G : (L^3, 6, 6) float64 ndarray
        Real-space kernel, offset ``r = (rz L + ry) L + rx``: ``G[r, a, b]`` the stress ``a``
        in element ``e + r`` (periodic) per unit plastic strain ``b`` (Voigt, tensor shear) in
        element ``e``, at fixed mean strain; ``G[0]`` is the self response ``C (S - I)``.
    K : (7, (L//2 + 1)^2 12 L) float64 ndarray
        The folded kernel (:func:`fold_kernel3d`) the numba shifted add streams.

    Examples
    --------
    >>> import numpy as np
    >>> kern = PeriodicKernel3D((4, 1.0), Isotropic3D())
    >>> bool(np.allclose(kern.G.sum(axis=0), -kern.C))   # uniform eigenstrain: -C eps_pl
    True
    """

    dim = 3

    def __init__(self, mesh: HexMesh | tuple[int, float], material: Isotropic3D) -> None:
        if isinstance(mesh, HexMesh):
            if mesh.grid is None or not mesh.periodic:
                raise ValueError(
                    "PeriodicKernel3D needs a regular periodic grid "
                    "(femplastic.fe.mesh3d.periodic_grid3d); use PeriodicFE3D for custom meshes"
                )
            L, l = mesh.grid
        else:
            L, l = mesh
            if isinstance(L, bool) or not isinstance(L, int | np.integer) or L < 2:
                raise ValueError(f"L must be an integer >= 2, got {L!r}")
            if not np.isfinite(l) or l <= 0:
                raise ValueError(f"l must be a finite number > 0, got {l!r}")
        if not isinstance(material, Isotropic3D):
            raise TypeError(f"material must be an Isotropic3D, got {type(material).__name__}")
        self.mesh = mesh if isinstance(mesh, HexMesh) else None
        self.material = material
        self.L = L = int(L)
        self.l = float(l)
        K_off, B_corner, C, vol = _grid_stencil3d(self.l, material)
        self.C = C
        k = 2.0 * np.pi * np.fft.fftfreq(L)
        qz, qy, qx = np.meshgrid(k, k, k, indexing="ij")  # [kz, ky, kx]

        def phase(dx: float, dy: float, dz: float) -> NDArray[np.complex128]:
            return np.exp(1j * (qx * dx + qy * dy + qz * dz))

        Kq = np.zeros((L, L, L, 3, 3), dtype=complex)
        for (dx, dy, dz), blk in K_off.items():
            Kq += phase(dx, dy, dz)[..., None, None] * blk
        Bq = np.zeros((L, L, L, 6, 3), dtype=complex)
        for (cx, cy, cz), blk in zip(_VTK_CORNERS, B_corner, strict=True):
            Bq += phase(cx, cy, cz)[..., None, None] * blk
        Kq[0, 0, 0] = np.eye(3)  # q = 0: no fluctuation (mean strain imposed), zeroed below
        F = vol * VOIGT_WEIGHTS_3D[:, None] * C  # (6, 6): force operator V W C
        X = np.linalg.solve(Kq, np.conj(np.swapaxes(Bq, -1, -2)) @ F)  # (L, L, L, 3, 6)
        del Kq
        Gam = Bq @ X  # (L, L, L, 6, 6)
        del Bq, X
        Gam[0, 0, 0] = 0.0
        Gam -= np.eye(6)
        Ghat = C @ Gam
        del Gam
        G = np.fft.ifftn(Ghat, axes=(0, 1, 2))
        del Ghat
        self.G = np.ascontiguousarray(G.real.reshape(L**3, 6, 6))
        self.K = fold_kernel3d(self.G, L)
        self._Kflat = self.K.reshape(-1)
        self._Ghat_r = scipy.fft.rfftn(self.G.reshape(L, L, L, 6, 6), axes=(0, 1, 2))

    @property
    def n_elem(self) -> int:
        """Number of elements, ``L^3``."""
        return self.L**3

    @property
    def self_response(self) -> NDArray[np.float64]:
        """``G[0]`` for every element, a read-only (n_elem, 6, 6) view, units of ``G``."""
        return np.broadcast_to(self.G[0], (self.n_elem, 6, 6))

    @property
    def nbytes(self) -> int:
        """Bytes held by the kernel's arrays (``G``, the folded ``K``, the FFT copy)."""
        return int(self.G.nbytes + self.K.nbytes + self._Ghat_r.nbytes)

    def _convolve(self, field: NDArray[np.float64]) -> NDArray[np.float64]:
        L = self.L
        P = scipy.fft.rfftn(field.reshape(L, L, L, 6), axes=(0, 1, 2))
        S = np.einsum("zyxab,zyxb->zyxa", self._Ghat_r, P)
        return scipy.fft.irfftn(S, s=(L, L, L), axes=(0, 1, 2)).reshape(L**3, 6)

    def stress(
        self,
        eps_pl: ArrayLike,
        macro_strain: ArrayLike = (0.0,) * 6,
        prestress: ArrayLike | None = None,
    ) -> NDArray[np.float64]:
        """Element stress by FFT convolution, (n_elem, 6), LJ units.

        Parameters
        ----------
        eps_pl : (n_elem, 6) array_like
            Element plastic strain, Voigt (xx, yy, zz, yz, xz, xy), tensor shear.
        macro_strain : (6,) array_like
            Imposed mean strain ``E``, Voigt.
        prestress : (n_elem, 6) array_like, optional
            Pre-stress added to the result.

        Returns
        -------
        (n_elem, 6) float64 ndarray
            ``G * eps_pl + C E (+ Sigma0)``.
        """
        epl = check_field("eps_pl", eps_pl, self.n_elem, 6)
        E = _check_macro3(macro_strain)
        out = self._convolve(epl) + (self.C @ E)[None, :]
        if prestress is not None:
            out += check_field("prestress", prestress, self.n_elem, 6)
        return out

    def load_response(self, direction: ArrayLike) -> NDArray[np.float64]:
        """Uniform ``C : direction`` in every element, (n_elem, 6).

        Parameters
        ----------
        direction : (6,) array_like
            Mean-strain direction, Voigt, tensor shear.

        Returns
        -------
        (n_elem, 6) float64 ndarray
            ``C @ direction`` in every element.
        """
        d = _check_macro3(direction)
        return np.repeat((self.C @ d)[None, :], self.n_elem, axis=0)

    def _check_stress(self, stress: Any) -> NDArray[np.float64]:
        if (not isinstance(stress, np.ndarray) or stress.dtype != np.float64
                or stress.shape != (self.n_elem, 6) or not stress.flags.c_contiguous
                or not stress.flags.writeable):
            raise ValueError(
                f"stress must be a writeable C-contiguous float64 array of shape "
                f"({self.n_elem}, 6), got "
                + (f"{stress.dtype} {stress.shape}" if isinstance(stress, np.ndarray)
                   else type(stress).__name__)
            )
        return stress.reshape(-1)

    def add(self, stress: NDArray[np.float64], elems: ArrayLike, deps: ArrayLike,
            par: bool = False) -> None:
        """In place ``stress += response to plastic strain increments``.

        Numba shifted adds (:func:`~femplastic.fe.propagators.kernels3d.shifted_add3d`) for
        fewer than :data:`~femplastic.fe.propagators.base.FFT_BATCH_THRESHOLD` events, one
        FFT convolution otherwise.

        Parameters
        ----------
        stress : (n_elem, 6) float64 ndarray
            Updated in place (writeable, C-contiguous).
        elems : (k,) int array_like
            Elements receiving an increment (repeats add up).
        deps : (k, 6) array_like
            Plastic strain increments, Voigt, tensor shear.
        par : bool
            Threaded shifted add (same bits).

        Raises
        ------
        ValueError
            Lengths differ, an element is out of range, or ``stress`` is not a writeable
            C-contiguous float64 (n_elem, 6) array.
        """
        elems = np.atleast_1d(np.asarray(elems, dtype=np.int64))
        deps = np.ascontiguousarray(np.asarray(deps, dtype=float).reshape(-1, 6))
        if elems.shape[0] != deps.shape[0]:
            raise ValueError(
                f"elems ({elems.shape[0]}) and deps ({deps.shape[0]}) differ in length")
        if elems.size and (elems.min() < 0 or elems.max() >= self.n_elem):
            raise ValueError(f"elems must be in [0, {self.n_elem - 1}]")
        if not np.all(np.isfinite(deps)):
            raise ValueError("deps contains NaN or inf")
        flat = self._check_stress(stress)
        if elems.size >= FFT_BATCH_THRESHOLD:
            field = np.zeros((self.n_elem, 6))
            np.add.at(field, elems, deps)
            stress += self._convolve(field)
        else:
            kernels3d.shifted_add3d_many(flat, self._Kflat, self.L, elems, deps, par)

    def numba_form(self) -> tuple[NDArray[np.float64], int]:
        """``(Kflat, L)``: the flat folded kernel and the grid side, for ``apply_form3d``."""
        return self._Kflat, self.L

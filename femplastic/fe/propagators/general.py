"""General FE propagators (custom meshes, heterogeneous moduli) and the choice among all.

:class:`SparsePropagator` back-substitutes a sparse factorisation per batch of events,
:class:`DensePropagator` applies a dense response matrix built once; :func:`make_propagator`
picks the fastest valid propagator for a mesh and material.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla
from numpy.typing import ArrayLike, NDArray

from ..assembly import PeriodicFE, _Assembly
from ..elasticity import Isotropic
from ..mesh import FEMesh
from . import kernels
from .base import Propagator
from .periodic import PeriodicKernel

__all__ = ["DensePropagator", "SparsePropagator", "make_propagator"]


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

        Parameters and errors as :meth:`Propagator.add`.
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

        Parameters and errors as :meth:`Propagator.add`.
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

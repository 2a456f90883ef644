"""Finite-element solves on tri-periodic Hex8 meshes with scikit-fem (the 3D direct path).

The 3D counterpart of :mod:`femplastic.fe.assembly`, same model: element-constant plastic
strain, mesoscale element strain = FE strain averaged over the element, imposed mean strain
``E``. The displacement is ``u = E . x + u~`` with ``u~`` periodic solving ``K u~ = f``,
``f = sum_e V_e Bbar_e^T W C (eps_pl_e - E)`` (``Bbar_e`` the element-averaged strain operator,
``W = diag(1, 1, 1, 2, 2, 2)`` the tensor-Voigt weights). Element stress:
``Sigma_e = C : (E + Bbar_e u~ - eps_pl_e) + Sigma0_e``. Voigt order
``(xx, yy, zz, yz, xz, xy)``, tensor shear components (:mod:`femplastic.fe.elasticity3d`).

This is the independent check of the exact periodic kernel
(:class:`femplastic.fe.propagators.periodic3d.PeriodicKernel3D`) and the solver of custom
periodic hexahedral meshes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import skfem
from numpy.typing import ArrayLike, NDArray
from skfem.helpers import ddot as _skddot
from skfem.helpers import sym_grad, trace

from .assembly import check_field
from .elasticity3d import VOIGT_PAIRS_3D, VOIGT_WEIGHTS_3D, Isotropic3D
from .mesh3d import HexMesh

__all__ = ["PeriodicFE3D", "eshelby_tensor3d"]


def _check_macro3(macro_strain: ArrayLike) -> NDArray[np.float64]:
    e = np.asarray(macro_strain, dtype=float)
    if e.shape != (6,):
        raise ValueError(
            f"macro_strain must have shape (6,) (xx, yy, zz, yz, xz, xy), got {e.shape}"
        )
    if not np.all(np.isfinite(e)):
        raise ValueError("macro_strain contains NaN or inf")
    return e


@skfem.BilinearForm
def _elasticity_form3(u, v, w):
    eu = sym_grad(u)
    ev = sym_grad(v)
    return 2.0 * w["mu"] * _skddot(eu, ev) + w["lam"] * trace(eu) * trace(ev)


@dataclass(frozen=True, eq=False)
class _Assembly3D:
    """Stiffness, element-average strain operator and volumes on one Hex8 scikit-fem mesh."""

    basis: skfem.Basis
    K: sp.csr_matrix  # (n_dof, n_dof)
    Bbar: sp.csr_matrix  # (6 n_elem, n_dof), row 6 e + c -> Voigt component c of element e
    volumes: NDArray[np.float64]  # (n_elem,)
    C: NDArray[np.float64]  # (6, 6)

    @classmethod
    def build(cls, skmesh: skfem.Mesh, material: Isotropic3D) -> _Assembly3D:
        n_elem = skmesh.t.shape[1]
        basis = skfem.Basis(skmesh, skfem.ElementVector(skfem.ElementHex1()), intorder=3)
        lam = material.K - 2.0 * material.G / 3.0
        K = skfem.asm(_elasticity_form3, basis, mu=material.G, lam=lam).tocsr()
        dx = basis.dx  # (n_elem, nqp)
        vol = dx.sum(axis=1)
        rows, cols, vals = [], [], []
        erange = np.arange(n_elem)
        for i in range(basis.Nbfun):
            grad = basis.basis[i][0].grad  # (3, 3, n_elem, nqp): d u_a / d x_b
            avg = (grad * dx).sum(axis=-1) / vol  # (3, 3, n_elem)
            for c, (a, b) in enumerate(VOIGT_PAIRS_3D):
                rows.append(6 * erange + c)
                cols.append(basis.element_dofs[i])
                vals.append(0.5 * (avg[a, b] + avg[b, a]))
        Bbar = sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(6 * n_elem, basis.N),
        )
        return cls(basis, K, Bbar, vol, material.matrix())

    @property
    def n_elem(self) -> int:
        return self.volumes.shape[0]

    def force(self, eig: NDArray[np.float64]) -> NDArray[np.float64]:
        """Nodal forces of element-constant eigenstrains ``eig`` (n_elem, 6[, k])."""
        stress = np.einsum("ab,eb...->ea...", self.C, eig)
        w = (VOIGT_WEIGHTS_3D[None, :] * self.volumes[:, None]).reshape(
            (self.n_elem, 6) + (1,) * (eig.ndim - 2)
        )
        return self.Bbar.T @ (stress * w).reshape(6 * self.n_elem, -1)

    def avg_strain(self, u: NDArray[np.float64]) -> NDArray[np.float64]:
        """Element-averaged strain of nodal displacements ``u`` -> (n_elem, 6[, k])."""
        return (self.Bbar @ u).reshape((self.n_elem, 6) + u.shape[1:])


class PeriodicFE3D:
    """Tri-periodic Hex8 cell with imposed mean strain; factorised once (sparse LU).

    Parameters
    ----------
    mesh : HexMesh
        A periodic hexahedral mesh (``mesh.periodic`` must be True).
    material : Isotropic3D
        Homogeneous isotropic moduli.

    Examples
    --------
    >>> import numpy as np
    >>> from femplastic.fe.mesh3d import periodic_grid3d
    >>> fe = PeriodicFE3D(periodic_grid3d(3), Isotropic3D())
    >>> s = fe.element_stress(np.zeros((27, 6)), macro_strain=(0, 0, 0, 0, 0, 0.5))
    >>> bool(np.allclose(s, [0, 0, 0, 0, 0, 13.2]))
    True
    """

    def __init__(self, mesh: HexMesh, material: Isotropic3D) -> None:
        if not isinstance(mesh, HexMesh):
            raise TypeError(f"mesh must be a femplastic HexMesh, got {type(mesh).__name__}")
        if not isinstance(material, Isotropic3D):
            raise TypeError(f"material must be an Isotropic3D, got {type(material).__name__}")
        if not mesh.periodic:
            raise ValueError("PeriodicFE3D needs a periodic mesh (mesh.periodic is False)")
        self.mesh = mesh
        self.material = material
        self._asm = _Assembly3D.build(mesh.skmesh, material)
        pinned = self._asm.basis.nodal_dofs[:, 0]
        self._free = np.setdiff1d(np.arange(self._asm.basis.N), pinned)
        self._lu = spla.splu(self._asm.K[self._free][:, self._free].tocsc())

    @property
    def n_elem(self) -> int:
        """Number of elements."""
        return self.mesh.n_elem

    @property
    def volumes(self) -> NDArray[np.float64]:
        """Element volumes from the FE quadrature, (n_elem,)."""
        return self._asm.volumes

    @property
    def C(self) -> NDArray[np.float64]:
        """Stiffness (6, 6), tensor-Voigt."""
        return self._asm.C

    def fluctuation(self, eig: NDArray[np.float64]) -> NDArray[np.float64]:
        """Periodic displacement ``u~`` solving ``K u~ = f(eig)``.

        Parameters
        ----------
        eig : (n_elem, 6) or (n_elem, 6, k) ndarray
            Element-constant eigenstrains (Voigt, tensor shear), or ``k`` of them.

        Returns
        -------
        (n_dof,) or (n_dof, k) ndarray
            Nodal displacement fluctuations, scikit-fem dof order, one node pinned.
        """
        f = self._asm.force(eig)
        u = np.zeros_like(f)
        u[self._free] = self._lu.solve(np.ascontiguousarray(f[self._free]))
        return u if eig.ndim == 3 else u[:, 0]

    def element_strain(
        self, eps_pl: ArrayLike, macro_strain: ArrayLike = (0.0,) * 6
    ) -> NDArray[np.float64]:
        """Element-averaged total strain ``E + Bbar u~``, (n_elem, 6).

        Parameters
        ----------
        eps_pl : (n_elem, 6) array_like
            Element-constant plastic strain, Voigt, tensor shear.
        macro_strain : (6,) array_like
            Imposed mean strain ``E``, Voigt.

        Returns
        -------
        (n_elem, 6) ndarray
            Element-averaged strain, Voigt, tensor shear.
        """
        epl = check_field("eps_pl", eps_pl, self.n_elem, 6)
        E = _check_macro3(macro_strain)
        u = self.fluctuation(epl - E[None, :])
        return E[None, :] + self._asm.avg_strain(u)

    def element_stress(
        self,
        eps_pl: ArrayLike,
        macro_strain: ArrayLike = (0.0,) * 6,
        prestress: ArrayLike | None = None,
    ) -> NDArray[np.float64]:
        """Element-averaged stress ``C : (eps - eps_pl) + Sigma0``, (n_elem, 6), LJ units.

        Parameters
        ----------
        eps_pl : (n_elem, 6) array_like
            Element-constant plastic strain, Voigt (xx, yy, zz, yz, xz, xy), tensor shear.
        macro_strain : (6,) array_like
            Imposed mean strain ``E``, Voigt.
        prestress : (n_elem, 6) array_like, optional
            Pre-stress ``Sigma0``, LJ units.

        Returns
        -------
        (n_elem, 6) ndarray
            Element stress, Voigt, LJ units.
        """
        epl = check_field("eps_pl", eps_pl, self.n_elem, 6)
        eps = self.element_strain(epl, macro_strain)
        out = (eps - epl) @ self._asm.C.T
        if prestress is not None:
            out += check_field("prestress", prestress, self.n_elem, 6)
        return out

    def unit_responses(self, elements: ArrayLike) -> NDArray[np.float64]:
        """Stress responses to unit eigenstrains in given elements, (k, 6, n_elem, 6).

        Parameters
        ----------
        elements : int or (k,) array_like of int
            Source elements.

        Returns
        -------
        (k, 6, n_elem, 6) ndarray
            ``out[k, b, j, a]``: stress ``a`` in element ``j`` per unit plastic strain ``b``
            in element ``elements[k]``, at fixed mean strain.
        """
        elements = np.atleast_1d(np.asarray(elements, dtype=np.int64))
        n = self.n_elem
        k = elements.size
        eig = np.zeros((n, 6, 6 * k))
        for i, e in enumerate(elements):
            eig[e, :, 6 * i : 6 * i + 6] = np.eye(6)
        strain = self._asm.avg_strain(self.fluctuation(eig)) - eig
        stress = np.einsum("ab,ebk->eak", self._asm.C, strain)  # (n, 6, 6k)
        return stress.reshape(n, 6, k, 6).transpose(2, 3, 0, 1)

    def energy(
        self,
        eps_pl: ArrayLike,
        macro_strain: ArrayLike = (0.0,) * 6,
        prestress: ArrayLike | None = None,
    ) -> float:
        """Total elastic energy from the full FE strain field (quadrature, not element averages).

        ``W = sum_e int_e 1/2 (eps - eps_pl) : C : (eps - eps_pl) dV
        + sum_e V_e Sigma0_e : (epsbar_e - eps_pl_e)``, whose derivative with respect to
        ``eps_pl_e`` is ``-V_e Sigma_e`` (the 3D form of
        :meth:`femplastic.fe.assembly.PeriodicFE.energy`).

        Parameters
        ----------
        eps_pl : (n_elem, 6) array_like
            Element-constant plastic strain, Voigt, tensor shear.
        macro_strain : (6,) array_like
            Imposed mean strain ``E``, Voigt.
        prestress : (n_elem, 6) array_like, optional
            Pre-stress ``Sigma0``, LJ units.

        Returns
        -------
        float
            Energy (stress x volume, LJ energy units).

        Examples
        --------
        >>> import numpy as np
        >>> from femplastic.fe.mesh3d import periodic_grid3d
        >>> fe = PeriodicFE3D(periodic_grid3d(3, l=2.0), Isotropic3D(G=10.0, K=50.0))
        >>> round(fe.energy(np.zeros((27, 6)), (0, 0, 0, 0, 0, 0.01)), 10)  # 2 G e^2 V
        0.432
        """
        epl = check_field("eps_pl", eps_pl, self.n_elem, 6)
        E = _check_macro3(macro_strain)
        u = self.fluctuation(epl - E[None, :])
        basis = self._asm.basis
        grad = basis.interpolate(u).grad  # (3, 3, n_elem, nqp)
        eps = np.stack(
            [0.5 * (grad[a, b] + grad[b, a]) + E[c] - epl[:, c : c + 1]
             for c, (a, b) in enumerate(VOIGT_PAIRS_3D)]
        )  # (6, n_elem, nqp), elastic strain
        tr = eps[0] + eps[1] + eps[2]
        dev = eps.copy()
        dev[:3] -= tr / 3.0
        dd = (dev * dev * VOIGT_WEIGHTS_3D[:, None, None]).sum(axis=0)
        dens = self.material.G * dd + 0.5 * self.material.K * tr**2
        W = float((dens * basis.dx).sum())
        if prestress is not None:
            s0 = check_field("prestress", prestress, self.n_elem, 6)
            epsbar = E[None, :] + self._asm.avg_strain(u)
            W += float((self.volumes * ((s0 * (epsbar - epl)) @ VOIGT_WEIGHTS_3D)).sum())
        return W


def eshelby_tensor3d(fe: PeriodicFE3D, element: int = 0) -> NDArray[np.float64]:
    """Numerical Eshelby tensor ``S`` (6, 6) of one element of a periodic Hex8 mesh.

    ``S[a, b]``: element-averaged strain ``a`` in ``element`` per unit eigenstrain ``b`` in it,
    at fixed mean strain (six FE solves). The self stress response is ``C (S - I)``.

    Parameters
    ----------
    fe : PeriodicFE3D
        The factorised cell.
    element : int
        Element index, in ``[0, n_elem)``.

    Returns
    -------
    (6, 6) ndarray
        Tensor-Voigt matrix ``S``.
    """
    if not 0 <= element < fe.n_elem:
        raise ValueError(f"element must be in [0, {fe.n_elem - 1}], got {element}")
    eig = np.zeros((fe.n_elem, 6, 6))
    eig[element] = np.eye(6)
    return fe._asm.avg_strain(fe.fluctuation(eig))[element]

"""Finite-element solves with scikit-fem: periodic cell with imposed mean strain, Dirichlet patch.

The mesoscale element strain is the FE strain *averaged over the element* and the plastic
strain is element-wise constant (Castellanos et al., sec. 3). For an element-constant plastic strain
``eps_pl`` and an imposed macroscopic strain ``E``, the displacement is
``u = E . x + u~`` with ``u~`` periodic, and ``u~`` solves ``K u~ = f`` with
``f = sum_e A_e Bbar_e^T W C_e (eps_pl_e - E)`` (``Bbar_e`` the element-averaged strain
operator, ``W = diag(1, 1, 2)`` the tensor-Voigt contraction weights). The stiffness is
factorised once (scipy ``splu``) and reused for every right-hand side.

Element stress: ``Sigma_e = C_e : (E + Bbar_e u~ - eps_pl_e) + Sigma0_e``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import skfem
from numpy.typing import ArrayLike, NDArray
from skfem.helpers import ddot as _skddot
from skfem.helpers import sym_grad, trace

from .elasticity import VOIGT_WEIGHTS, Isotropic, schmid
from .mesh import FEMesh

__all__ = [
    "PeriodicFE",
    "PatchFE",
    "element_stress",
    "eshelby_tensor",
    "check_field",
]


def check_field(name: str, value: ArrayLike, n_elem: int, width: int = 3) -> NDArray[np.float64]:
    """Validate an element field: shape ``(n_elem, width)``, finite; returns a float64 copy.

    Parameters
    ----------
    name : str
        Parameter name used in the error message.
    value : (n_elem, width) array_like
        The field, e.g. a Voigt stress or plastic strain (width 3).
    n_elem : int
        Expected number of elements.
    width : int
        Expected number of components per element.

    Returns
    -------
    (n_elem, width) float64 ndarray
        A copy of ``value``.

    Raises
    ------
    ValueError
        Wrong shape, NaN or inf (the message names ``name``).
    """
    arr = np.asarray(value, dtype=float)
    if arr.shape != (n_elem, width):
        raise ValueError(f"{name} must have shape ({n_elem}, {width}), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return np.array(arr, dtype=float)


def _check_macro(macro_strain: ArrayLike) -> NDArray[np.float64]:
    e = np.asarray(macro_strain, dtype=float)
    if e.shape != (3,):
        raise ValueError(f"macro_strain must have shape (3,) (xx, yy, xy), got {e.shape}")
    if not np.all(np.isfinite(e)):
        raise ValueError("macro_strain contains NaN or inf")
    return e


@skfem.BilinearForm
def _elasticity_form(u, v, w):
    eu = sym_grad(u)
    ev = sym_grad(v)
    return 2.0 * w["mu"] * _skddot(eu, ev) + w["lam"] * trace(eu) * trace(ev)


@dataclass(frozen=True, eq=False)
class _Assembly:
    """Stiffness, element-average strain operator and moduli on one scikit-fem mesh."""

    basis: skfem.Basis
    K: sp.csr_matrix  # (n_dof, n_dof)
    Bbar: sp.csr_matrix  # (3 n_elem, n_dof), row 3 e + c -> Voigt component c of element e
    areas: NDArray[np.float64]  # (n_elem,)
    C: NDArray[np.float64]  # (n_elem, 3, 3)

    @classmethod
    def build(cls, skmesh: skfem.Mesh, material: Isotropic) -> _Assembly:
        n_elem = skmesh.t.shape[1]
        G, B = material.per_element(n_elem)
        basis = skfem.Basis(skmesh, skfem.ElementVector(skfem.ElementQuad1()), intorder=2)
        nqp = basis.X.shape[1]
        mu = np.repeat(G[:, None], nqp, axis=1)
        lam = np.repeat((B - G)[:, None], nqp, axis=1)
        K = skfem.asm(_elasticity_form, basis, mu=mu, lam=lam).tocsr()
        dx = basis.dx  # (n_elem, nqp)
        areas = dx.sum(axis=1)
        rows, cols, vals = [], [], []
        erange = np.arange(n_elem)
        for i in range(basis.Nbfun):
            grad = basis.basis[i][0].grad  # (2, 2, n_elem, nqp): d u_a / d x_b
            avg = (grad * dx).sum(axis=-1) / areas  # (2, 2, n_elem)
            comps = (avg[0, 0], avg[1, 1], 0.5 * (avg[0, 1] + avg[1, 0]))
            for c, val in enumerate(comps):
                rows.append(3 * erange + c)
                cols.append(basis.element_dofs[i])
                vals.append(val)
        Bbar = sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(3 * n_elem, basis.N),
        )
        return cls(basis, K, Bbar, areas, material.matrix(n_elem))

    @property
    def n_elem(self) -> int:
        return self.areas.shape[0]

    def force(self, eig: NDArray[np.float64]) -> NDArray[np.float64]:
        """Nodal forces of element-constant eigenstrains ``eig`` (n_elem, 3) [or (n_elem, 3, k)]."""
        stress = np.einsum("eab,eb...->ea...", self.C, eig)
        weighted = stress * (VOIGT_WEIGHTS[None, :] * self.areas[:, None]).reshape(
            (self.n_elem, 3) + (1,) * (eig.ndim - 2)
        )
        return self.Bbar.T @ weighted.reshape(3 * self.n_elem, -1)

    def avg_strain(self, u: NDArray[np.float64]) -> NDArray[np.float64]:
        """Element-averaged strain of nodal displacements ``u`` -> (n_elem, 3[, k])."""
        e = self.Bbar @ u
        return e.reshape((self.n_elem, 3) + u.shape[1:])


class PeriodicFE:
    """Bi-periodic FE cell with imposed mean strain; factorised once, reused for every solve.

    Parameters
    ----------
    mesh : FEMesh
        A periodic mesh (``mesh.periodic`` must be True).
    material : Isotropic
        Homogeneous or per-element moduli.

    Examples
    --------
    >>> import numpy as np
    >>> from femplastic.fe.mesh import periodic_grid
    >>> from femplastic.fe.elasticity import Isotropic
    >>> fe = PeriodicFE(periodic_grid(4), Isotropic())
    >>> s = fe.element_stress(np.zeros((16, 3)), macro_strain=(0, 0, 0.5))
    >>> bool(np.allclose(s, [0, 0, 13.2]))
    True
    """

    def __init__(self, mesh: FEMesh, material: Isotropic) -> None:
        if not isinstance(mesh, FEMesh):
            raise TypeError(f"mesh must be a femplastic FEMesh, got {type(mesh).__name__}")
        if not mesh.periodic:
            raise ValueError("PeriodicFE needs a periodic mesh (mesh.periodic is False)")
        self.mesh = mesh
        self.material = material
        self._asm = _Assembly.build(mesh.skmesh, material)
        pinned = self._asm.basis.nodal_dofs[:, 0]
        free = np.setdiff1d(np.arange(self._asm.basis.N), pinned)
        self._free = free
        self._lu = spla.splu(self._asm.K[free][:, free].tocsc())

    @property
    def n_elem(self) -> int:
        """Number of elements."""
        return self.mesh.n_elem

    @property
    def areas(self) -> NDArray[np.float64]:
        """Element areas from the FE quadrature, (n_elem,)."""
        return self._asm.areas

    @property
    def C(self) -> NDArray[np.float64]:
        """Per-element stiffness matrices, (n_elem, 3, 3)."""
        return self._asm.C

    def fluctuation(self, eig: NDArray[np.float64]) -> NDArray[np.float64]:
        """Periodic displacement ``u~`` solving ``K u~ = f(eig)`` (one back-substitution).

        Parameters
        ----------
        eig : (n_elem, 3) or (n_elem, 3, k) ndarray
            Element-constant eigenstrains (Voigt, tensor shear), or ``k`` of them at once.

        Returns
        -------
        (n_dof,) or (n_dof, k) ndarray
            Nodal displacement fluctuations (length units), scikit-fem dof order; one dof
            per periodic class is pinned to 0.
        """
        f = self._asm.force(eig)
        u = np.zeros_like(f)
        u[self._free] = self._lu.solve(np.ascontiguousarray(f[self._free]))
        return u if eig.ndim == 3 else u[:, 0]

    def element_strain(
        self, eps_pl: ArrayLike, macro_strain: ArrayLike = (0.0, 0.0, 0.0)
    ) -> NDArray[np.float64]:
        """Element-averaged total strain ``E + Bbar u~`` of a plastic strain field.

        Parameters
        ----------
        eps_pl : (n_elem, 3) array_like
            Element-constant plastic strain, Voigt (xx, yy, xy), tensor shear.
        macro_strain : (3,) array_like
            Imposed mean strain ``E``, Voigt.

        Returns
        -------
        (n_elem, 3) ndarray
            Element-averaged strain, Voigt, tensor shear.
        """
        epl = check_field("eps_pl", eps_pl, self.n_elem)
        E = _check_macro(macro_strain)
        u = self.fluctuation(epl - E[None, :])
        return E[None, :] + self._asm.avg_strain(u)

    def element_stress(
        self,
        eps_pl: ArrayLike,
        macro_strain: ArrayLike = (0.0, 0.0, 0.0),
        prestress: ArrayLike | None = None,
    ) -> NDArray[np.float64]:
        """Element-averaged stress ``C : (eps - eps_pl) + Sigma0``, shape (n_elem, 3), LJ units.

        Parameters
        ----------
        eps_pl : (n_elem, 3) array_like
            Element-constant plastic strain, Voigt (xx, yy, xy), tensor shear.
        macro_strain : (3,) array_like
            Imposed mean strain ``E``, Voigt.
        prestress : (n_elem, 3) array_like, optional
            Pre-stress ``Sigma0`` added to the elastic stress, LJ units.

        Returns
        -------
        (n_elem, 3) ndarray
            Element stress, Voigt (xx, yy, xy), LJ units.
        """
        epl = check_field("eps_pl", eps_pl, self.n_elem)
        eps = self.element_strain(epl, macro_strain)
        out = np.einsum("eab,eb->ea", self._asm.C, eps - epl)
        if prestress is not None:
            out += check_field("prestress", prestress, self.n_elem)
        return out

    def unit_responses(self, elements: ArrayLike) -> NDArray[np.float64]:
        """Stress responses to unit eigenstrains in given elements.

        Parameters
        ----------
        elements : int or (k,) array_like of int
            Elements receiving the unit eigenstrains (one solve batch for all).

        Returns
        -------
        (len(elements), 3, n_elem, 3) ndarray
            ``out[k, b, j, a]``: change of stress component ``a`` in element ``j`` caused by a
            unit plastic strain of Voigt component ``b`` in element ``elements[k]`` at fixed
            mean strain.
        """
        elements = np.atleast_1d(np.asarray(elements, dtype=np.int64))
        n = self.n_elem
        k = elements.size
        eig = np.zeros((n, 3, 3 * k))
        for i, e in enumerate(elements):
            eig[e, :, 3 * i : 3 * i + 3] = np.eye(3)
        u = self.fluctuation(eig)
        strain = self._asm.avg_strain(u)  # (n, 3, 3k)
        strain = strain - eig
        stress = np.einsum("eab,ebk->eak", self._asm.C, strain)  # (n, 3, 3k)
        return stress.reshape(n, 3, k, 3).transpose(2, 3, 0, 1)

    def energy(
        self,
        eps_pl: ArrayLike,
        macro_strain: ArrayLike = (0.0, 0.0, 0.0),
        prestress: ArrayLike | None = None,
    ) -> float:
        """Total elastic energy from the full FE strain field (quadrature, not element averages).

        ``W = sum_e int_e 1/2 (eps - eps_pl) : C : (eps - eps_pl) dA
        + sum_e A_e Sigma0_e : (epsbar_e - eps_pl_e)``, the energy whose derivative with
        respect to ``eps_pl_e`` is ``-A_e Sigma_e``. An independent check of the dissipation
        of slip events (it never uses the element-average stress).

        Parameters
        ----------
        eps_pl : (n_elem, 3) array_like
            Element-constant plastic strain, Voigt, tensor shear.
        macro_strain : (3,) array_like
            Imposed mean strain ``E``, Voigt.
        prestress : (n_elem, 3) array_like, optional
            Pre-stress ``Sigma0``, LJ units.

        Returns
        -------
        float
            Energy ``W`` (LJ energy per unit thickness: stress x area).

        Examples
        --------
        >>> import numpy as np
        >>> from femplastic.fe.mesh import periodic_grid
        >>> from femplastic.fe.elasticity import Isotropic
        >>> fe = PeriodicFE(periodic_grid(3, l=2.0), Isotropic(G=10.0, B=50.0))
        >>> W = fe.energy(np.zeros((9, 3)), macro_strain=(0, 0, 0.01))
        >>> round(W, 10)   # 2 G eps_xy^2 x area 36
        0.072
        """
        epl = check_field("eps_pl", eps_pl, self.n_elem)
        E = _check_macro(macro_strain)
        u = self.fluctuation(epl - E[None, :])
        basis = self._asm.basis
        grad = basis.interpolate(u).grad  # (2, 2, n_elem, nqp)
        exx = grad[0, 0] + E[0] - epl[:, 0:1]
        eyy = grad[1, 1] + E[1] - epl[:, 1:2]
        exy = 0.5 * (grad[0, 1] + grad[1, 0]) + E[2] - epl[:, 2:3]
        G, B = self.material.per_element(self.n_elem)
        tr = exx + eyy
        dev2 = (0.5 * (exx - eyy)) ** 2 * 2.0 + 2.0 * exy**2  # dev(eps):dev(eps)
        dens = G[:, None] * dev2 + 0.5 * B[:, None] * tr**2
        W = float((dens * basis.dx).sum())
        if prestress is not None:
            s0 = check_field("prestress", prestress, self.n_elem)
            epsbar = E[None, :] + self._asm.avg_strain(u)
            W += float(
                (self.areas * (s0 * (epsbar - epl) * VOIGT_WEIGHTS[None, :]).sum(axis=1)).sum()
            )
        return W


@functools.lru_cache(maxsize=8)
def _cached_periodic(mesh: FEMesh, material: Isotropic) -> PeriodicFE:
    return PeriodicFE(mesh, material)


def element_stress(
    mesh: FEMesh,
    material: Isotropic,
    eps_pl: ArrayLike,
    macro_strain: ArrayLike = (0.0, 0.0, 0.0),
    prestress: ArrayLike | None = None,
) -> NDArray[np.float64]:
    """Element-averaged stress on a periodic mesh by a direct sparse FE solve.

    Same contract as :meth:`PeriodicFE.element_stress`; the factorisation is cached per
    (mesh, material) pair, so repeated calls cost one back-substitution.

    Parameters
    ----------
    mesh : FEMesh
        A periodic mesh.
    material : Isotropic
        Homogeneous or per-element moduli.
    eps_pl : (n_elem, 3) array_like
        Element-constant plastic strain, Voigt (xx, yy, xy), tensor shear.
    macro_strain : (3,) array_like
        Imposed mean strain ``E``, Voigt.
    prestress : (n_elem, 3) array_like, optional
        Pre-stress ``Sigma0``, LJ units.

    Returns
    -------
    (n_elem, 3) ndarray
        Stress, Voigt (xx, yy, xy), LJ units.

    Examples
    --------
    A plastic shear in one element of a 4 x 4 grid: the element is unloaded, the mean stress
    drops by ``C : eps_pl / n_elem`` at fixed mean strain.

    >>> import numpy as np
    >>> from femplastic.fe.mesh import periodic_grid
    >>> from femplastic.fe.elasticity import Isotropic
    >>> mesh, mat = periodic_grid(4, l=6.6), Isotropic()
    >>> eps_pl = np.zeros((16, 3))
    >>> eps_pl[5] = (0.0, 0.0, 0.01)
    >>> s = element_stress(mesh, mat, eps_pl)
    >>> bool(s[5, 2] < 0), round(float(s[:, 2].mean()), 6)   # -2 G 0.01 / 16
    (True, -0.0165)
    """
    return _cached_periodic(mesh, material).element_stress(eps_pl, macro_strain, prestress)


def eshelby_tensor(mesh: FEMesh, material: Isotropic, element: int = 0) -> NDArray[np.float64]:
    """Numerical Eshelby tensor ``S`` of one element of a periodic mesh (Castellanos et al., A.7).

    ``S`` maps a unit eigenstrain in ``element`` to the element-averaged strain it causes in
    that same element (at fixed mean strain): ``Delta eps_e = S : Delta eps_pl_e``. Obtained
    from three FE solves (one per Voigt component).

    Parameters
    ----------
    mesh : FEMesh
        A periodic mesh.
    material : Isotropic
        Its moduli.
    element : int
        Element index, in ``[0, n_elem)``.

    Returns
    -------
    (3, 3) ndarray
        Tensor-Voigt matrix ``S[a, b]``: strain component ``a`` per unit eigenstrain ``b``.

    Examples
    --------
    >>> from femplastic.fe.mesh import periodic_grid
    >>> from femplastic.fe.elasticity import Isotropic
    >>> S = eshelby_tensor(periodic_grid(8, 6.6), Isotropic())
    >>> round(float(S[2, 2]), 4)       # shear-shear component, as `femplastic info` prints
    0.4877
    """
    fe = _cached_periodic(mesh, material)
    if not 0 <= element < fe.n_elem:
        raise ValueError(f"element must be in [0, {fe.n_elem - 1}], got {element}")
    eig = np.zeros((fe.n_elem, 3, 3))
    eig[element] = np.eye(3)
    u = fe.fluctuation(eig)
    return fe._asm.avg_strain(u)[element]


class PatchFE:
    """An ``n x n`` block of elements whose boundary nodes follow an affine displacement.

    The Dirichlet-patch problem of the local shear test (Castellanos et al., 3.5): the patch is cut
    out of the system, its free boundary is driven in pure shear ``gamma M(alpha)``, and the
    interior nodes are in equilibrium. Boundary displacements are measured from the patch
    centre.

    Parameters
    ----------
    n : int
        Patch side in elements, >= 1.
    l : float
        Element side.
    material : Isotropic
        Homogeneous, or per-element moduli of the patch elements (row-major for the block).
    nodes : (k, 2) array_like, optional
        Vertex coordinates of a general patch (a set of quadrilaterals cut out of a mesh,
        measured from the patch centre); with ``cells``, replaces the ``n x n`` block. Every
        node on a facet that belongs to one patch element only (the patch's boundary) is
        driven affinely.
    cells : (m, 4) array_like of int, optional
        Counter-clockwise vertex indices of the general patch's elements.
    """

    def __init__(self, n: int, l: float, material: Isotropic,
                 nodes: ArrayLike | None = None, cells: ArrayLike | None = None) -> None:
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ValueError(f"n (patch side in elements) must be an integer >= 1, got {n!r}")
        if not np.isfinite(l) or l <= 0:
            raise ValueError(f"l must be > 0, got {l!r}")
        self.n = int(n)
        self.l = float(l)
        if (nodes is None) != (cells is None):
            raise ValueError("give both nodes and cells of a general patch, or neither")
        if nodes is None:
            xs = (np.arange(n + 1) - 0.5 * n) * l
            X, Y = np.meshgrid(xs, xs)
            nodes = np.stack([X.ravel(), Y.ravel()], axis=0)
            nid = np.arange((n + 1) ** 2).reshape(n + 1, n + 1)
            cells = np.stack([nid[:-1, :-1].ravel(), nid[:-1, 1:].ravel(),
                              nid[1:, 1:].ravel(), nid[1:, :-1].ravel()])
        else:
            nodes = np.ascontiguousarray(np.asarray(nodes, dtype=float)[:, :2].T)
            cells = np.ascontiguousarray(np.asarray(cells, dtype=np.int64).T)
        self._m = int(cells.shape[1])
        self.material = material
        self._asm = _Assembly.build(skfem.MeshQuad(nodes, cells), material)
        basis = self._asm.basis
        bnd = basis.get_dofs().all()
        self._bnd = bnd
        self._int = np.setdiff1d(np.arange(basis.N), bnd)
        K = self._asm.K
        self._KIB = K[self._int][:, bnd]
        self._lu = spla.splu(K[self._int][:, self._int].tocsc()) if self._int.size else None
        self._xdof = basis.doflocs  # (2, n_dof)

    @property
    def n_elem(self) -> int:
        """Number of patch elements (``n * n`` for the block)."""
        return self._m

    def _solve(self, eig: NDArray[np.float64], u_bnd: NDArray[np.float64]) -> NDArray[np.float64]:
        f = self._asm.force(eig)
        u = np.zeros_like(f)
        u[self._bnd] = u_bnd
        if self._lu is not None:
            rhs = f[self._int] - self._KIB @ u_bnd
            u[self._int] = self._lu.solve(np.ascontiguousarray(rhs))
        return u

    def stress(
        self, eps_pl: ArrayLike, strain: ArrayLike = (0.0, 0.0, 0.0)
    ) -> NDArray[np.float64]:
        """Element stress of the patch with its boundary driven affinely.

        Parameters
        ----------
        eps_pl : (n*n, 3) array_like
            Plastic strain of the patch elements (row-major, x fastest), Voigt.
        strain : (3,) array_like
            Affine boundary strain, Voigt (e.g. ``gamma * schmid(alpha)``).

        Returns
        -------
        (n*n, 3) ndarray
            Element stress, Voigt, LJ units (no pre-stress).
        """
        epl = check_field("eps_pl", eps_pl, self.n_elem)
        E = _check_macro(strain)
        ubnd = self._affine(E)[self._bnd][:, None]
        u = self._solve(epl[:, :, None], ubnd)[:, 0]
        eps = self._asm.avg_strain(u)
        return np.einsum("eab,eb->ea", self._asm.C, eps - epl)

    def _affine(self, E: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = self._xdof
        ux = E[0] * x + E[2] * y
        uy = E[2] * x + E[1] * y
        out = np.empty(self._asm.basis.N)
        # vector dofs: component of each dof from the basis' nodal_dofs layout
        nd = self._asm.basis.nodal_dofs
        out[nd[0]] = ux[nd[0]]
        out[nd[1]] = uy[nd[1]]
        return out

    def response_matrix(self) -> NDArray[np.float64]:
        """Stress response to unit eigenstrains with the boundary held, (n*n, 3, n*n, 3).

        ``R[i, b, j, a]``: change of stress component ``a`` in element ``j`` per unit plastic
        strain component ``b`` in element ``i`` (same layout as
        :class:`~femplastic.fe.propagators.DensePropagator`).
        """
        m = self.n_elem
        eig = np.zeros((m, 3, 3 * m))
        for i in range(m):
            eig[i, :, 3 * i : 3 * i + 3] = np.eye(3)
        u = self._solve(eig, np.zeros((self._bnd.size, 3 * m)))
        strain = self._asm.avg_strain(u) - eig
        stress = np.einsum("eab,ebk->eak", self._asm.C, strain)  # [j, a, 3 i + b]
        return stress.reshape(m, 3, m, 3).transpose(2, 3, 0, 1)

    def load_response(self, alpha: float) -> NDArray[np.float64]:
        """Element stress per unit boundary shear ``gamma`` along ``M(alpha)``.

        Parameters
        ----------
        alpha : float
            Shear orientation, radians (forward 0, backward ``pi / 2``).

        Returns
        -------
        (n*n, 3) ndarray
            Stress per unit ``gamma``, Voigt, LJ units.
        """
        return self.stress(np.zeros((self.n_elem, 3)), schmid(alpha))

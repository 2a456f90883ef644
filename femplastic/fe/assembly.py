"""Finite-element solves with scikit-fem: periodic cell with imposed mean strain, Dirichlet patch.

The mesoscale element strain is the FE strain *averaged over the element* and the plastic
strain is element-wise constant (Castellanos et al., sec. 3). For an element-constant plastic strain
``eps_pl`` and an imposed macroscopic strain ``E``, the displacement is
``u = E . x + u~`` with ``u~`` periodic, and ``u~`` solves ``K u~ = f`` with
``f = sum_e A_e Bbar_e^T W C_e (eps_pl_e - E)`` (``Bbar_e`` the element-averaged strain
operator, ``W = diag(1, 1, 2)`` the tensor-Voigt contraction weights). The stiffness is
factorised once (scipy ``splu``) and reused for every right-hand side.

Element stress: ``Sigma_e = C_e : (E + Bbar_e u~ - eps_pl_e) + Sigma0_e``.

One FE core serves 2D and 3D: :class:`_Assembly` (stiffness, ``Bbar``, forces, energy),
:class:`_PeriodicCell` (periodic solve) and :class:`_DirichletPatch` (patch solve) take the
dimension as data (``_Space``: scikit-fem element, quadrature order, Voigt pairs and weights;
``_Q4`` here, ``_HEX8`` for :mod:`femplastic.fe.assembly3d` and :mod:`femplastic.fe.patch3d`).
:class:`PeriodicFE` and :class:`PatchFE` are its 2D entry points. The 2D material may vary
per element (``C`` is ``(n_elem, 3, 3)``); the 3D one is homogeneous (``C`` is ``(6, 6)``).
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

from .elasticity import VOIGT_PAIRS, VOIGT_WEIGHTS, Isotropic, schmid
from .elasticity3d import VOIGT_PAIRS_3D, VOIGT_WEIGHTS_3D, Isotropic3D
from .mesh import _QUAD, FEMesh, _grid_arrays
from .mesh3d import HexMesh

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


@dataclass(frozen=True, eq=False)
class _Space:
    """The dimension of the FE core as data: element, quadrature and Voigt layout.

    Attributes
    ----------
    dim : int
        Space dimension, 2 (bilinear Q4) or 3 (trilinear Hex8).
    element : type
        scikit-fem scalar element (``ElementQuad1``, ``ElementHex1``).
    intorder : int
        Quadrature order of the stiffness and of the element averages.
    pairs : tuple of (int, int)
        Tensor indices ``(a, b)`` of each Voigt component.
    weights : (nv,) ndarray
        Tensor-Voigt contraction weights (1 on the diagonal, 2 on the shears).
    names : str
        Voigt component names, for messages.
    """

    dim: int
    element: type
    intorder: int
    pairs: tuple[tuple[int, int], ...]
    weights: NDArray[np.float64]
    names: str

    @property
    def nv(self) -> int:
        """Voigt components, 3 or 6."""
        return len(self.pairs)


_Q4 = _Space(2, skfem.ElementQuad1, 2, VOIGT_PAIRS, VOIGT_WEIGHTS, "xx, yy, xy")
_HEX8 = _Space(3, skfem.ElementHex1, 3, VOIGT_PAIRS_3D, VOIGT_WEIGHTS_3D,
               "xx, yy, zz, yz, xz, xy")


def _check_voigt(name: str, value: ArrayLike, space: _Space) -> NDArray[np.float64]:
    """A finite Voigt tensor of ``space``, shape ``(nv,)``, as float64."""
    e = np.asarray(value, dtype=float)
    if e.shape != (space.nv,):
        raise ValueError(f"{name} must have shape ({space.nv},) ({space.names}), got {e.shape}")
    if not np.all(np.isfinite(e)):
        raise ValueError(f"{name} contains NaN or inf")
    return e


def _check_macro(macro_strain: ArrayLike) -> NDArray[np.float64]:
    """A 2D Voigt strain ``(xx, yy, xy)``, shape (3,)."""
    return _check_voigt("macro_strain", macro_strain, _Q4)


@skfem.BilinearForm
def _elasticity_form(u, v, w):
    eu = sym_grad(u)
    ev = sym_grad(v)
    return 2.0 * w["mu"] * _skddot(eu, ev) + w["lam"] * trace(eu) * trace(ev)


@dataclass(frozen=True, eq=False)
class _Assembly:
    """Stiffness, element-average strain operator and moduli on one scikit-fem mesh (2D or 3D).

    ``nv`` is the number of Voigt components (3 in 2D, 6 in 3D). The 2D material
    (:class:`Isotropic`) may vary per element, so ``C`` is then one matrix per element; the
    3D one (:class:`Isotropic3D`) is homogeneous and ``C`` is a single matrix.
    """

    space: _Space
    basis: skfem.Basis
    K: sp.csr_matrix  # (n_dof, n_dof)
    Bbar: sp.csr_matrix  # (nv n_elem, n_dof), row nv e + c -> Voigt component c of element e
    areas: NDArray[np.float64]  # (n_elem,) element measures (areas in 2D, volumes in 3D)
    C: NDArray[np.float64]  # (n_elem, 3, 3) in 2D, (6, 6) in 3D
    G: float | NDArray[np.float64]  # shear modulus: (n_elem, 1) in 2D, scalar in 3D
    bulk: float | NDArray[np.float64]  # bulk modulus (2D B per element, 3D K), as G

    @classmethod
    def build(cls, skmesh: skfem.Mesh, material: Isotropic | Isotropic3D) -> _Assembly:
        n_elem = skmesh.t.shape[1]
        space = _HEX8 if isinstance(material, Isotropic3D) else _Q4
        if space is _Q4:  # per-element moduli, their lengths checked before any work
            G, bulk = material.per_element(n_elem)
        basis = skfem.Basis(skmesh, skfem.ElementVector(space.element()),
                            intorder=space.intorder)
        if space is _Q4:  # 2D: Lame fields per quadrature point, one C per element
            nqp = basis.X.shape[1]
            mu = np.repeat(G[:, None], nqp, axis=1)
            lam = np.repeat((bulk - G)[:, None], nqp, axis=1)
            C = material.matrix(n_elem)
            G, bulk = G[:, None], bulk[:, None]
        else:  # 3D: homogeneous, scalar Lame constants and one C
            G, bulk = material.G, material.K
            mu, lam = G, bulk - 2.0 * G / 3.0
            C = material.matrix()
        K = skfem.asm(_elasticity_form, basis, mu=mu, lam=lam).tocsr()
        dx = basis.dx  # (n_elem, nqp)
        measures = dx.sum(axis=1)
        nv = space.nv
        rows, cols, vals = [], [], []
        erange = np.arange(n_elem)
        for i in range(basis.Nbfun):
            grad = basis.basis[i][0].grad  # (dim, dim, n_elem, nqp): d u_a / d x_b
            avg = (grad * dx).sum(axis=-1) / measures  # (dim, dim, n_elem)
            for c, (a, b) in enumerate(space.pairs):
                rows.append(nv * erange + c)
                cols.append(basis.element_dofs[i])
                vals.append(0.5 * (avg[a, b] + avg[b, a]))
        Bbar = sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(nv * n_elem, basis.N),
        )
        return cls(space, basis, K, Bbar, measures, C, G, bulk)

    @property
    def n_elem(self) -> int:
        return self.areas.shape[0]

    @property
    def volumes(self) -> NDArray[np.float64]:
        """Element measures, (n_elem,) (the name of the 3D path)."""
        return self.areas

    def stress(self, strain: NDArray[np.float64]) -> NDArray[np.float64]:
        """``C : strain`` per element, (n_elem, nv[, k]) -> (n_elem, nv[, k]).

        Per-element ``C`` (2D) by einsum; a single ``C`` (3D) by a matrix product for one
        field and einsum for ``k`` of them (each path's own arithmetic, results bitwise kept).
        """
        if self.C.ndim == 3:
            return np.einsum("eab,eb...->ea...", self.C, strain)
        if strain.ndim == 2:
            return strain @ self.C.T
        return np.einsum("ab,eb...->ea...", self.C, strain)

    def force(self, eig: NDArray[np.float64]) -> NDArray[np.float64]:
        """Nodal forces of element-constant eigenstrains ``eig`` (n_elem, nv[, k])."""
        nv = self.space.nv
        stress = np.einsum("eab,eb...->ea..." if self.C.ndim == 3 else "ab,eb...->ea...",
                           self.C, eig)
        weighted = stress * (self.space.weights[None, :] * self.areas[:, None]).reshape(
            (self.n_elem, nv) + (1,) * (eig.ndim - 2)
        )
        return self.Bbar.T @ weighted.reshape(nv * self.n_elem, -1)

    def avg_strain(self, u: NDArray[np.float64]) -> NDArray[np.float64]:
        """Element-averaged strain of nodal displacements ``u`` -> (n_elem, nv[, k])."""
        e = self.Bbar @ u
        return e.reshape((self.n_elem, self.space.nv) + u.shape[1:])

    def unit_eigenstrains(self, elements: NDArray[np.int64]) -> NDArray[np.float64]:
        """Unit eigenstrains of every Voigt component in each of ``elements``.

        Returns (n_elem, nv, nv k): column ``nv i + b`` is component ``b`` in ``elements[i]``.
        """
        nv = self.space.nv
        eig = np.zeros((self.n_elem, nv, nv * elements.size))
        for i, e in enumerate(elements):
            eig[e, :, nv * i : nv * i + nv] = np.eye(nv)
        return eig

    def responses(self, u: NDArray[np.float64], eig: NDArray[np.float64]) -> NDArray[np.float64]:
        """Stress responses ``[k, b, j, a]`` of the unit eigenstrains ``eig`` and their ``u``.

        ``eig`` as :meth:`unit_eigenstrains` (k sources), ``u`` (n_dof, nv k) the displacements
        they cause; returns (k, nv, n_elem, nv): stress ``a`` in element ``j`` per unit
        plastic strain ``b`` in source ``k``.
        """
        n, nv = self.n_elem, self.space.nv
        stress = self.stress(self.avg_strain(u) - eig)  # (n, nv, nv k)
        return stress.reshape(n, nv, -1, nv).transpose(2, 3, 0, 1)

    def energy(
        self,
        u: NDArray[np.float64],
        E: NDArray[np.float64],
        epl: NDArray[np.float64],
        s0: NDArray[np.float64] | None,
    ) -> float:
        """Elastic energy of the FE field ``E . x + u`` with eigenstrain ``epl``, pre-stress ``s0``.

        ``W = sum_e int_e (G dev(e) : dev(e) + bulk tr(e)^2 / 2) + sum_e A_e s0_e : (epsbar_e -
        epl_e)`` with ``e = eps - epl`` at the quadrature points and ``dev`` the deviator in
        ``dim`` dimensions (LJ energy: stress x area in 2D, x volume in 3D).
        """
        sp_, d = self.space, self.space.dim
        grad = self.basis.interpolate(u).grad  # (dim, dim, n_elem, nqp)
        eps = np.stack(
            [0.5 * (grad[a, b] + grad[b, a]) + E[c] - epl[:, c : c + 1]
             for c, (a, b) in enumerate(sp_.pairs)]
        )  # (nv, n_elem, nqp), elastic strain
        tr = eps[:d].sum(axis=0)
        dev = eps.copy()
        dev[:d] -= tr / d
        dd = (dev * dev * sp_.weights[:, None, None]).sum(axis=0)
        dens = self.G * dd + 0.5 * self.bulk * tr**2
        W = float((dens * self.basis.dx).sum())
        if s0 is not None:
            epsbar = E[None, :] + self.avg_strain(u)
            W += float((self.areas * ((s0 * (epsbar - epl)) @ sp_.weights)).sum())
        return W


class _OnAssembly:
    """What the periodic cell and the Dirichlet patch read off their :class:`_Assembly`."""

    _asm: _Assembly

    @property
    def n_elem(self) -> int:
        """Number of elements."""
        return self._asm.n_elem

    @property
    def C(self) -> NDArray[np.float64]:
        """Stiffness, tensor-Voigt: (n_elem, 3, 3) per element in 2D, (6, 6) in 3D."""
        return self._asm.C


class _PeriodicCell(_OnAssembly):
    """Periodic FE cell with imposed mean strain, factorised once; 2D and 3D alike.

    The public classes are :class:`PeriodicFE` (Q4) and
    :class:`femplastic.fe.assembly3d.PeriodicFE3D` (Hex8); they set the mesh and material
    types. ``nv`` below is the number of Voigt components (3 in 2D, 6 in 3D).
    """

    _mesh_type: type
    _material_type: type

    def __init__(self, mesh: FEMesh | HexMesh, material: Isotropic | Isotropic3D) -> None:
        name = type(self).__name__
        if not isinstance(mesh, self._mesh_type):
            raise TypeError(
                f"mesh must be a femplastic {self._mesh_type.__name__}, got {type(mesh).__name__}")
        if not isinstance(material, self._material_type):
            raise TypeError(f"material must be an {self._material_type.__name__}, "
                            f"got {type(material).__name__}")
        if not mesh.periodic:
            raise ValueError(f"{name} needs a periodic mesh (mesh.periodic is False)")
        self.mesh = mesh
        self.material = material
        self._asm = _Assembly.build(mesh.skmesh, material)
        self._nv = self._asm.space.nv
        pinned = self._asm.basis.nodal_dofs[:, 0]
        self._free = np.setdiff1d(np.arange(self._asm.basis.N), pinned)
        self._lu = spla.splu(self._asm.K[self._free][:, self._free].tocsc())

    def _fields(
        self, eps_pl: ArrayLike, macro_strain: ArrayLike
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Checked ``(eps_pl, E)`` and the fluctuation ``u~`` they cause."""
        epl = check_field("eps_pl", eps_pl, self.n_elem, self._nv)
        E = _check_voigt("macro_strain", macro_strain, self._asm.space)
        return epl, E, self.fluctuation(epl - E[None, :])

    def fluctuation(self, eig: NDArray[np.float64]) -> NDArray[np.float64]:
        """Periodic displacement ``u~`` solving ``K u~ = f(eig)`` (one back-substitution).

        Parameters
        ----------
        eig : (n_elem, nv) or (n_elem, nv, k) ndarray
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
        self, eps_pl: ArrayLike, macro_strain: ArrayLike | None = None
    ) -> NDArray[np.float64]:
        """Element-averaged total strain ``E + Bbar u~`` of a plastic strain field.

        Parameters
        ----------
        eps_pl : (n_elem, nv) array_like
            Element-constant plastic strain, Voigt, tensor shear.
        macro_strain : (nv,) array_like, optional
            Imposed mean strain ``E``, Voigt; zero by default.

        Returns
        -------
        (n_elem, nv) ndarray
            Element-averaged strain, Voigt, tensor shear.
        """
        _, E, u = self._fields(eps_pl, self._zero(macro_strain))
        return E[None, :] + self._asm.avg_strain(u)

    def element_stress(
        self,
        eps_pl: ArrayLike,
        macro_strain: ArrayLike | None = None,
        prestress: ArrayLike | None = None,
    ) -> NDArray[np.float64]:
        """Element-averaged stress ``C : (eps - eps_pl) + Sigma0``, shape (n_elem, nv), LJ units.

        Parameters
        ----------
        eps_pl : (n_elem, nv) array_like
            Element-constant plastic strain, Voigt, tensor shear.
        macro_strain : (nv,) array_like, optional
            Imposed mean strain ``E``, Voigt; zero by default.
        prestress : (n_elem, nv) array_like, optional
            Pre-stress ``Sigma0`` added to the elastic stress, LJ units.

        Returns
        -------
        (n_elem, nv) ndarray
            Element stress, Voigt, LJ units.
        """
        epl = check_field("eps_pl", eps_pl, self.n_elem, self._nv)
        eps = self.element_strain(epl, macro_strain)
        out = self._asm.stress(eps - epl)
        if prestress is not None:
            out += check_field("prestress", prestress, self.n_elem, self._nv)
        return out

    def unit_responses(self, elements: ArrayLike) -> NDArray[np.float64]:
        """Stress responses to unit eigenstrains in given elements.

        Parameters
        ----------
        elements : int or (k,) array_like of int
            Elements receiving the unit eigenstrains (one solve batch for all).

        Returns
        -------
        (len(elements), nv, n_elem, nv) ndarray
            ``out[k, b, j, a]``: change of stress component ``a`` in element ``j`` caused by a
            unit plastic strain of Voigt component ``b`` in element ``elements[k]`` at fixed
            mean strain.
        """
        eig = self._asm.unit_eigenstrains(np.atleast_1d(np.asarray(elements, dtype=np.int64)))
        return self._asm.responses(self.fluctuation(eig), eig)

    def energy(
        self,
        eps_pl: ArrayLike,
        macro_strain: ArrayLike | None = None,
        prestress: ArrayLike | None = None,
    ) -> float:
        """Total elastic energy from the full FE strain field (quadrature, not element averages).

        ``W = sum_e int_e 1/2 (eps - eps_pl) : C : (eps - eps_pl) dA
        + sum_e A_e Sigma0_e : (epsbar_e - eps_pl_e)`` (``dA`` the area in 2D, the volume in
        3D). An independent check of the dissipation of slip events (it never uses the
        element-average stress): without ``prestress`` its derivative with respect to
        ``eps_pl_e`` is ``-A_e Sigma_e`` exactly. With one, only if ``Sigma0`` is in nodal
        equilibrium, which element averages of Q4 stresses on a distorted mesh are not: there
        check a quench's pre-stress (the stress of plastic strains ``eps_q``) as
        ``energy(eps_q + eps_pl)`` instead.

        Parameters
        ----------
        eps_pl : (n_elem, nv) array_like
            Element-constant plastic strain, Voigt, tensor shear.
        macro_strain : (nv,) array_like, optional
            Imposed mean strain ``E``, Voigt; zero by default.
        prestress : (n_elem, nv) array_like, optional
            Pre-stress ``Sigma0``, LJ units.

        Returns
        -------
        float
            Energy ``W`` (LJ energy: stress x area per unit thickness in 2D, x volume in 3D).
        """
        epl, E, u = self._fields(eps_pl, self._zero(macro_strain))
        s0 = None if prestress is None else check_field("prestress", prestress, self.n_elem,
                                                        self._nv)
        return self._asm.energy(u, E, epl, s0)

    def _zero(self, macro_strain: ArrayLike | None) -> ArrayLike:
        return (0.0,) * self._nv if macro_strain is None else macro_strain

    def eshelby(self, element: int = 0) -> NDArray[np.float64]:
        """Numerical Eshelby tensor ``S`` (nv, nv) of one element (one solve per component).

        ``S[a, b]``: element-averaged strain ``a`` in ``element`` per unit eigenstrain ``b`` in
        it, at fixed mean strain; the self stress response is ``C (S - I)``.

        Parameters
        ----------
        element : int
            Element index, in ``[0, n_elem)``.

        Returns
        -------
        (nv, nv) ndarray
            Tensor-Voigt matrix ``S``.
        """
        if not 0 <= element < self.n_elem:
            raise ValueError(f"element must be in [0, {self.n_elem - 1}], got {element}")
        eig = self._asm.unit_eigenstrains(np.array([element]))
        return self._asm.avg_strain(self.fluctuation(eig))[element]


class PeriodicFE(_PeriodicCell):
    """Bi-periodic FE cell with imposed mean strain; factorised once, reused for every solve.

    Voigt components ``nv = 3`` (xx, yy, xy), tensor shear; the methods are those of the
    dimension-generic core (``fluctuation``, ``element_strain``, ``element_stress``,
    ``unit_responses``, ``energy``, ``eshelby``), documented there with ``nv`` components.

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

    The energy of a uniform shear, ``2 G eps_xy^2`` times the area 36:

    >>> fe = PeriodicFE(periodic_grid(3, l=2.0), Isotropic(G=10.0, B=50.0))
    >>> round(fe.energy(np.zeros((9, 3)), macro_strain=(0, 0, 0.01)), 10)
    0.072
    """

    _mesh_type = FEMesh
    _material_type = Isotropic

    @property
    def areas(self) -> NDArray[np.float64]:
        """Element areas from the FE quadrature, (n_elem,)."""
        return self._asm.areas


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
    return _cached_periodic(mesh, material).eshelby(element)


def _check_patch_args(n: int, l: float) -> tuple[int, float]:
    """Validate a patch side ``n`` (integer >= 1, elements) and element side ``l`` (> 0)."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n (patch side in elements) must be an integer >= 1, got {n!r}")
    if not np.isfinite(l) or l <= 0:
        raise ValueError(f"l must be a finite number > 0, got {l!r}")
    return int(n), float(l)


class _DirichletPatch(_OnAssembly):
    """A block of elements whose boundary nodes follow an affine displacement; 2D and 3D alike.

    The Dirichlet-patch problem of the local shear test (Castellanos et al., 3.5): the patch
    is cut out of the system, its boundary nodes (those on a facet of one patch element only)
    follow ``u = E . x`` (``x`` measured from the patch centre, ``E`` the imposed strain) and
    the interior nodes are in equilibrium with the element-constant plastic strains. The
    public classes are :class:`PatchFE` (Q4) and :class:`femplastic.fe.patch3d.PatchFE3D`
    (Hex8); ``nv`` below is the number of Voigt components (3 in 2D, 6 in 3D).

    Parameters
    ----------
    skmesh : skfem.Mesh
        The non-periodic patch mesh, coordinates from the patch centre.
    material : Isotropic or Isotropic3D
        The patch elements' moduli.
    """

    def __init__(self, skmesh: skfem.Mesh, material: Isotropic | Isotropic3D) -> None:
        self.material = material
        self._asm = _Assembly.build(skmesh, material)
        self._nv = self._asm.space.nv
        basis = self._asm.basis
        bnd = basis.get_dofs().all()
        self._bnd = bnd
        self._int = np.setdiff1d(np.arange(basis.N), bnd)
        K = self._asm.K
        self._KIB = K[self._int][:, bnd]
        self._lu = spla.splu(K[self._int][:, self._int].tocsc()) if self._int.size else None

    def _solve(self, eig: NDArray[np.float64], u_bnd: NDArray[np.float64]) -> NDArray[np.float64]:
        f = self._asm.force(eig)
        u = np.zeros_like(f)
        u[self._bnd] = u_bnd
        if self._lu is not None:
            rhs = f[self._int] - self._KIB @ u_bnd
            u[self._int] = self._lu.solve(np.ascontiguousarray(rhs))
        return u

    def affine(self, strain: ArrayLike) -> NDArray[np.float64]:
        """Nodal displacements ``u = E . x`` of the affine strain ``E``, scikit-fem dof order.

        Parameters
        ----------
        strain : (nv,) array_like
            ``E``, Voigt, tensor shear.

        Returns
        -------
        (n_dof,) ndarray
            Displacements (length units), ``x`` measured from the patch centre.
        """
        space = self._asm.space
        v = _check_voigt("strain", strain, space)
        E = np.empty((space.dim, space.dim))
        for c, (a, b) in enumerate(space.pairs):
            E[a, b] = E[b, a] = v[c]
        X = self._asm.basis.doflocs  # (dim, n_dof)
        nd = self._asm.basis.nodal_dofs  # (dim, n_node)
        out = np.empty(self._asm.basis.N)
        for a in range(space.dim):
            # u_a = E_ab x_b: a matrix product in 3D, two products in 2D (each path's own
            # rounding, kept bitwise)
            ua = E[a] @ X if space.dim == 3 else E[a, 0] * X[0] + E[a, 1] * X[1]
            out[nd[a]] = ua[nd[a]]
        return out

    def stress(self, eps_pl: ArrayLike, strain: ArrayLike | None = None) -> NDArray[np.float64]:
        """Element stress of the patch with its boundary driven affinely.

        Parameters
        ----------
        eps_pl : (n_elem, nv) array_like
            Plastic strain of the patch elements (row-major, x fastest, on a block), Voigt,
            tensor shear.
        strain : (nv,) array_like, optional
            Affine boundary strain ``E``, Voigt (e.g. ``gamma * schmid(alpha)``); zero by
            default.

        Returns
        -------
        (n_elem, nv) ndarray
            Element stress, Voigt, LJ units (no pre-stress).
        """
        epl = check_field("eps_pl", eps_pl, self.n_elem, self._nv)
        ubnd = self.affine((0.0,) * self._nv if strain is None else strain)[self._bnd][:, None]
        u = self._solve(epl[:, :, None], ubnd)[:, 0]
        return self._asm.stress(self._asm.avg_strain(u) - epl)

    def response_matrix(self) -> NDArray[np.float64]:
        """Stress response to unit eigenstrains with the boundary held, (n_elem, nv, n_elem, nv).

        ``R[i, b, j, a]``: change of stress component ``a`` in element ``j`` per unit plastic
        strain component ``b`` in element ``i`` (same layout as
        :class:`~femplastic.fe.propagators.DensePropagator`).

        Returns
        -------
        (n_elem, nv, n_elem, nv) ndarray
            Stress units per unit strain.
        """
        eig = self._asm.unit_eigenstrains(np.arange(self.n_elem))
        u = self._solve(eig, np.zeros((self._bnd.size, eig.shape[2])))
        return self._asm.responses(u, eig)

    def dense_operators(
        self,
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """The response as the patch propagators store it.

        Returns
        -------
        R : (n_elem, nv, n_elem, nv) ndarray
            :meth:`response_matrix`.
        R2 : (nv n_elem, nv n_elem) ndarray
            ``R`` flattened, C-contiguous: row ``nv i + b``, column ``nv j + a``.
        self_response : (n_elem, nv, nv) ndarray
            Each element's own response ``[e, a, b]`` (stress ``a`` per eigenstrain ``b``).
        """
        R = self.response_matrix()
        m = self.n_elem
        idx = np.arange(m)
        return (R, np.ascontiguousarray(R.reshape(self._nv * m, self._nv * m)),
                np.ascontiguousarray(R[idx, :, idx, :].transpose(0, 2, 1)))


class PatchFE(_DirichletPatch):
    """An ``n x n`` block of elements whose boundary nodes follow an affine displacement.

    The Dirichlet-patch problem of the local shear test (Castellanos et al., 3.5): the patch is cut
    out of the system, its free boundary is driven in pure shear ``gamma M(alpha)``, and the
    interior nodes are in equilibrium. Boundary displacements are measured from the patch
    centre. Voigt components ``nv = 3`` (xx, yy, xy); ``stress``, ``affine`` and
    ``response_matrix`` are those of the dimension-generic core.

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
        self.n, self.l = _check_patch_args(n, l)
        if (nodes is None) != (cells is None):
            raise ValueError("give both nodes and cells of a general patch, or neither")
        if nodes is None:
            nodes, cells = _grid_arrays(_QUAD, (np.arange(self.n + 1) - 0.5 * self.n) * self.l)
        nodes = np.ascontiguousarray(np.asarray(nodes, dtype=float)[:, :2].T)
        cells = np.ascontiguousarray(np.asarray(cells, dtype=np.int64).T)
        super().__init__(skfem.MeshQuad(nodes, cells), material)

    def load_response(self, alpha: float) -> NDArray[np.float64]:
        """Element stress per unit boundary shear ``gamma`` along ``M(alpha)``.

        Parameters
        ----------
        alpha : float
            Shear orientation, radians (forward 0, backward ``pi / 2``).

        Returns
        -------
        (n_elem, 3) ndarray
            Stress per unit ``gamma``, Voigt, LJ units.
        """
        return self.stress(np.zeros((self.n_elem, 3)), schmid(alpha))

"""General FE propagators (custom meshes, heterogeneous moduli) and the choice among all.

:class:`SparsePropagator` back-substitutes a sparse factorisation per batch of events,
:class:`DensePropagator` applies a dense response matrix built once; :func:`make_propagator`
picks the fastest valid propagator for a mesh and material.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from numpy.typing import ArrayLike, NDArray

from ..assembly import PeriodicFE, _Assembly, _check_macro, check_field
from ..elasticity import VOIGT_WEIGHTS, Isotropic
from ..mesh import FEMesh
from . import kernels
from . import packed_kernels as pk
from . import sparse_kernels as sk
from .base import Propagator, aligned_zeros
from .budget import (
    DENSE_BUDGET,
    FULL_DENSE_MAX,
    PACKED_TILE,
    check_packed_memory,
    default_dense_budget,
    dense_choice,
    packed_bytes,
)
from .periodic import PeriodicKernel
from .sparse_kernels import HEADER

__all__ = ["DENSE_BUDGET", "FULL_DENSE_MAX", "PACKED_TILE", "SPARSE_BACKENDS",
           "DensePropagator", "PackedDensePropagator", "SparseFactor", "default_dense_budget",
           "SparsePropagator", "check_packed_memory", "dense_choice", "make_propagator",
           "packed_bytes"]

#: Factorisation backends of :class:`SparsePropagator` ("auto" = the first). SuperLU (scipy)
#: with the minimum-degree ordering of ``K + K^T``: its factors are extracted once and the
#: triangular solves are compiled (numba), so no library call happens per sweep. CHOLMOD
#: (scikit-sparse) was not usable on the reference machine (0.4.16 needs SuiteSparse >= 7,
#: Debian 12 has 5.12; 0.4.12 builds but against the numpy 1 ABI).
SPARSE_BACKENDS = ("superlu",)




def _element_bbar(asm: _Assembly) -> NDArray[np.float64]:
    """Element-average strain operator per element dof, (n, 3, 8) (as ``_Assembly.Bbar``)."""
    basis = asm.basis
    dx = basis.dx
    out = np.empty((asm.n_elem, 3, basis.Nbfun))
    for i in range(basis.Nbfun):
        avg = (basis.basis[i][0].grad * dx).sum(axis=-1) / asm.areas  # (2, 2, n)
        out[:, 0, i] = avg[0, 0]
        out[:, 1, i] = avg[1, 1]
        out[:, 2, i] = 0.5 * (avg[0, 1] + avg[1, 0])
    return out


def _with_element_pattern(K: sp.spmatrix, free: NDArray[np.int64],
                          edofs: NDArray[np.int64]) -> sp.csc_matrix:
    """``K[free][:, free]`` as CSC whose *structure* holds every pair of dofs of each element.

    Entries that cancel exactly (e.g. the x-y coupling of a node of a uniform grid) are kept
    as explicit zeros, so that the factor's pattern contains each element's dof clique, where
    :func:`~femplastic.fe.propagators.sparse_kernels.self_blocks` reads the selected inverse.
    """
    ndof = K.shape[0]
    idx = np.full(ndof, -1, np.int64)
    idx[free] = np.arange(free.size)
    loc = idx[edofs]  # (n, 8)
    r = np.repeat(loc, 8, axis=1).ravel()
    c = np.tile(loc, (1, 8)).ravel()
    keep = (r >= 0) & (c >= 0)
    Kc = K[free][:, free].tocoo()
    rows = np.concatenate([r[keep], Kc.row])
    cols = np.concatenate([c[keep], Kc.col])
    pat = sp.csc_matrix((np.ones(rows.size), (rows, cols)), shape=(free.size, free.size))
    pat.sum_duplicates()
    pat.sort_indices()
    cc = np.repeat(np.arange(free.size), np.diff(pat.indptr))
    vals = np.asarray(K[free][:, free].tocsr()[pat.indices, cc]).ravel()
    return sp.csc_matrix((vals, pat.indices, pat.indptr), shape=pat.shape)


def _symbolic_pattern(Kf: sp.csc_matrix, Lo: sp.csc_matrix,
                      perm: NDArray[np.int64]) -> sp.csc_matrix:
    """``Lo`` padded with explicit zeros to the symbolic pattern of the factor.

    SuperLU's factors as scipy returns them omit entries that are exactly zero (e.g. the
    x-y coupling of a node of a uniform grid), but the selected inverse needs the whole
    symbolic pattern (each column's pattern is a clique of the filled graph). The pattern is
    that of the factor of a matrix with the same structure and generic values (no
    cancellation), factored with the same (structure-only) ordering.
    """
    m = Kf.shape[0]
    A = Kf.tocoo()
    off = A.row != A.col
    w = 1.0 + np.abs(np.sin(1.0 + A.row[off] + 0.37 * A.col[off]) + np.sin(1.0 + A.col[off]
                                                                          + 0.37 * A.row[off]))
    G = sp.coo_matrix((-w, (A.row[off], A.col[off])), shape=(m, m)).tocsc()
    G = G + sp.diags(np.asarray(abs(G).sum(axis=0)).ravel() + 1.0)
    lu = spla.splu(G.tocsc(), permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                   options={"SymmetricMode": True})
    if not np.array_equal(lu.perm_c, perm):  # pragma: no cover - ordering is structural
        raise RuntimeError("symbolic factor: the ordering differs from the numeric one")
    P = lu.L.tocsc()
    P.sort_indices()
    cp = np.repeat(np.arange(m, dtype=np.int64), np.diff(P.indptr))
    cl = np.repeat(np.arange(m, dtype=np.int64), np.diff(Lo.indptr))
    kp = cp * m + P.indices
    kl = cl * m + Lo.indices
    at = np.searchsorted(kp, kl)
    if np.any(at >= kp.size) or np.any(kp[np.minimum(at, kp.size - 1)] != kl):
        raise RuntimeError("symbolic factor: pattern does not contain the numeric one")
    data = np.zeros(kp.size)
    data[at] = Lo.data
    return sp.csc_matrix((data, P.indices.copy(), P.indptr.copy()), shape=(m, m))


class SparseFactor:
    """Sparse Cholesky (or symmetric LU) factors of a periodic FE problem, packed for numba.

    The stiffness of the free dofs (one node pinned) is factorised once with a fill-reducing
    ordering: SuperLU (scipy) with the minimum-degree ordering of ``K + K^T`` and diagonal
    pivoting (``K`` is SPD: ``U = diag(d) L^T``); at L = 128 (32,766 dofs) the two factors
    hold 5.6 M nonzeros (COLAMD, scipy's default: 12.7 M). Everything the numba kernels need
    (factors, element dof positions, the eigenstrain -> force and displacement -> stress
    operators) is packed into :attr:`buf` (:mod:`~femplastic.fe.propagators.sparse_kernels`).

    Parameters
    ----------
    mesh : FEMesh
        Periodic mesh.
    material : Isotropic
        Homogeneous or per-element moduli.
    backend : {"auto", "superlu"}
        Factorisation library (:data:`SPARSE_BACKENDS`).

    Attributes
    ----------
    buf : (1, N) float64 ndarray
        The packed operator (the numba form's array).
    backend : str
        The library used.
    nnz : int
        Nonzeros of the two triangular factors together.
    """

    def __init__(self, mesh: FEMesh, material: Isotropic, backend: str = "auto") -> None:
        if backend not in ("auto", *SPARSE_BACKENDS):
            raise ValueError(f"backend must be one of {('auto', *SPARSE_BACKENDS)}, "
                             f"got {backend!r}")
        backend = "superlu" if backend == "auto" else backend
        asm = _Assembly.build(mesh.skmesh, material)
        self.asm = asm
        n = asm.n_elem
        ndof = asm.basis.N
        pinned = asm.basis.nodal_dofs[:, 0]
        free = np.setdiff1d(np.arange(ndof), pinned)
        m = free.size
        Kf = _with_element_pattern(asm.K, free, asm.basis.element_dofs.T)
        lu = spla.splu(Kf, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                       options={"SymmetricMode": True})
        if not np.array_equal(lu.perm_r, lu.perm_c):  # pragma: no cover - SPD: never
            raise RuntimeError("SuperLU pivoted off the diagonal on the stiffness")
        pos_free = lu.perm_c.astype(np.int64)
        Lo = lu.L.tocsc()
        Lo.sort_indices()
        Up = lu.U.tocsc()
        Up.sort_indices()
        self._unit = _symbolic_pattern(Kf, Lo, pos_free)
        self._d = Up.diagonal()
        self.backend = backend
        self.free = free
        pos = np.full(ndof, -1, np.int64)
        pos[free] = pos_free
        self.pos = pos
        # element operators: F (n, 3[b], 8) forces, D (n, 3[a], 8) stress per dof
        edofs = asm.basis.element_dofs.T  # (n, 8) global dofs
        Bb = _element_bbar(asm)
        C = asm.C
        wa = VOIGT_WEIGHTS[None, :] * asm.areas[:, None]  # (n, 3)
        F = np.einsum("eck,eca->eak", Bb, C * wa[:, :, None])  # A Bbar^T W C, [e, b, k]
        D = np.einsum("eac,eck->eak", C, Bb)
        ints = [np.array([m, n, Lo.nnz, Up.nnz]), Lo.indptr, Lo.indices, None, Up.indptr,
                Up.indices, None, pos[edofs], None, None, None, None]
        floats = {3: Lo.data, 6: Up.data, 8: F, 9: D, 10: C, 11: np.zeros(m)}
        sizes = [HEADER] + [(floats[i] if v is None else v).size for i, v in
                            enumerate(ints) if i > 0]
        offs = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        buf = np.zeros((1, int(offs[-1])))
        ib = buf.reshape(-1).view(np.int64)
        ib[:4] = ints[0]
        ib[4:4 + 11] = offs[1:12]
        for i in range(1, 12):
            a, b = offs[i], offs[i + 1]
            if ints[i] is None:
                buf[0, a:b] = np.asarray(floats[i], dtype=float).reshape(-1)
            else:
                ib[a:b] = np.asarray(ints[i], dtype=np.int64).reshape(-1)
        self.buf = buf
        self.nnz = int(Lo.nnz + Up.nnz)
        self.n_elem = n
        self.m = m
        self.Bb = Bb

    @property
    def nbytes(self) -> int:
        """Memory of the packed operator, bytes."""
        return int(self.buf.nbytes)

    def solve(self, f: NDArray[np.float64]) -> NDArray[np.float64]:
        """Displacement fluctuations of nodal forces ``f`` (n_dof,) or (n_dof, k), pinned dof 0."""
        f = np.asarray(f, dtype=float)
        two = f.ndim == 2
        F = f if two else f[:, None]
        X = np.zeros((F.shape[1], self.m))
        X[:, self.pos[self.free]] = F[self.free].T
        sk.sparse_solve_many(self.buf.reshape(-1), X)
        u = np.zeros_like(F)
        u[self.free] = X[:, self.pos[self.free]].T
        return u if two else u[:, 0]

    def self_response(self) -> NDArray[np.float64]:
        """``[e, a, b]`` self response of every element from the selected inverse, (n, 3, 3)."""
        Lu = self._unit
        Z = np.zeros(Lu.nnz)
        Lp = Lu.indptr.astype(np.int64)
        Li = Lu.indices.astype(np.int64)
        sk.selected_inverse(Lp, Li, Lu.data, np.ascontiguousarray(self._d), Z)
        out = np.empty((self.n_elem, 3, 3))
        sk.self_blocks(self.buf.reshape(-1), Lp, Li, Z, out)
        return out


class _FactorPropagator(Propagator):
    """A general propagator holding a :class:`SparseFactor`: its mesh, material, full solves.

    :meth:`stress` is one compiled sparse solve; :attr:`fe` the scikit-fem problem (built on
    first use). Subclasses set :attr:`factor` (via ``super().__init__``) and implement
    :attr:`self_response`, :meth:`add` and :meth:`numba_form`.
    """

    def __init__(self, mesh: FEMesh, material: Isotropic, backend: str = "auto") -> None:
        self.mesh = mesh
        self.material = material
        self.factor = SparseFactor(mesh, material, backend)
        self._fe: PeriodicFE | None = None
        self._self: NDArray[np.float64] | None = None

    @property
    def fe(self) -> PeriodicFE:
        """The scikit-fem/SuperLU periodic FE problem (built on first use; energies, checks)."""
        if self._fe is None:
            self._fe = PeriodicFE(self.mesh, self.material)
        return self._fe

    def stress(
        self,
        eps_pl: ArrayLike,
        macro_strain: ArrayLike = (0.0, 0.0, 0.0),
        prestress: ArrayLike | None = None,
    ) -> NDArray[np.float64]:
        """Direct sparse FE solve, (n_elem, 3).

        Parameters, result and errors as :meth:`Propagator.stress`.
        """
        fac = self.factor
        n = fac.n_elem
        epl = check_field("eps_pl", eps_pl, n)
        E = _check_macro(macro_strain)
        asm = fac.asm
        u = fac.solve(asm.force(epl - E[None, :]))[:, 0]
        out = np.einsum("eab,eb->ea", asm.C, E[None, :] + asm.avg_strain(u) - epl)
        if prestress is not None:
            out += check_field("prestress", prestress, n)
        return out


class SparsePropagator(_FactorPropagator):
    """General path: sparse FE solves with a fill-reducing factorisation computed once.

    Works on any periodic quadrilateral mesh and with per-element moduli. A batch of events
    (all slips of a synchronous sweep) costs one forward and one backward triangular solve
    plus ``O(n)`` compiled work (:func:`~femplastic.fe.propagators.sparse_kernels.sparse_apply`),
    whatever the number of events; the fused drivers call it through the numba form
    ``(FORM_SPARSE, buf, 0)``, with no Python per event or per sweep. The self response comes
    from the selected inverse of the factor (Takahashi), not from ``3 n`` solves.

    Parameters
    ----------
    mesh : FEMesh
        Periodic mesh.
    material : Isotropic
        Homogeneous or per-element moduli.
    backend : {"auto", "superlu"}
        Factorisation library (:class:`SparseFactor`).

    Attributes
    ----------
    factor : SparseFactor
        The packed factorisation.
    """

    @property
    def self_response(self) -> NDArray[np.float64]:
        """Each element's own response from the selected inverse, (n_elem, 3, 3).

        Computed on first access and cached.

        Returns
        -------
        (n_elem, 3, 3) float64 ndarray
            ``[e, a, b]``: stress ``a`` (units of ``G``) per unit plastic strain ``b``.
        """
        if self._self is None:
            self._self = self.factor.self_response()
        return self._self

    def add(self, stress: NDArray[np.float64], elems: ArrayLike, deps: ArrayLike) -> None:
        """One forward and backward substitution for the whole batch (compiled).

        Parameters and errors as :meth:`Propagator.add`.
        """
        elems, deps = self._check_increment(elems, deps)
        sk.sparse_apply(self.factor.buf.reshape(-1), self._check_stress(stress), elems.size,
                        elems, deps)

    def numba_form(self) -> tuple[int, NDArray[np.float64], int]:
        """``(FORM_SPARSE, buf, 0)``: the packed factorisation.

        Returns
        -------
        tuple of (int, ndarray, int)
            ``(5, buf, 0)``, ``buf`` of shape ``(1, N)``.
        """
        return kernels.FORM_SPARSE, self.factor.buf, 0


class DensePropagator(Propagator):
    """Full response matrix ``R[i, b, j, a]`` of a general periodic problem (small meshes).

    ``R[i, b, j, a]`` is the change of stress ``a`` in element ``j`` per unit plastic strain
    ``b`` in element ``i`` at fixed mean strain (the layout of
    :meth:`femplastic.fe.assembly.PeriodicFE.unit_responses`). Built once: up to ``cholesky_max``
    elements by a dense Cholesky factorisation of the stiffness (one node pinned) and dense
    multi-right-hand-side solves, beyond by the compiled sparse solves of :class:`SparseFactor`
    (blocks of 16 right-hand sides, threaded: 0.8 s instead of 3.9 s at 1,024 elements);
    memory ``72 n_elem^2`` bytes.
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
        Largest mesh built with the dense Cholesky factorisation (default 256; the two builds
        agree to round-off, ~1e-13).

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
                 cholesky_max: int = 256) -> None:
        if mesh.n_elem > max_elem:
            raise ValueError(
                f"DensePropagator needs {72 * mesh.n_elem**2 / 1e9:.1f} GB for {mesh.n_elem} "
                f"elements (max_elem={max_elem}); use SparsePropagator"
            )
        self.mesh = mesh
        self.material = material
        self._fe = PeriodicFE(mesh, material)
        n = mesh.n_elem
        R = np.empty((n, 3, n, 3))
        if n <= cholesky_max:
            self._dense_build(R)
        else:
            self._sparse_build(R)
        self.R = R
        self._R2 = R.reshape(3 * n, 3 * n)

    def _sparse_build(self, R: NDArray[np.float64]) -> None:
        """Fill ``R`` by compiled sparse solves (:class:`SparseFactor`), in blocks of columns."""
        fac = SparseFactor(self.mesh, self.material)
        n, m = fac.n_elem, fac.m
        chunk = max(1, min(n, 2**24 // (3 * m)))  # <= 128 MiB of right-hand sides
        for start in range(0, n, chunk):
            idx = np.arange(start, min(n, start + chunk))
            sk.gather_responses(fac.buf.reshape(-1), _unit_solves(fac, idx), idx,
                                R.reshape(3 * n, 3 * n))

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
        return self._fe.element_stress(eps_pl, macro_strain, prestress)

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


def _factor_operators(fac: SparseFactor) -> tuple[NDArray[np.int64], NDArray[np.float64],
                                                  NDArray[np.float64], NDArray[np.float64]]:
    """``Ed (n, 8)``, ``F (n, 3, 8)``, ``D (n, 3, 8)``, ``C (n, 3, 3)`` of the packed factor."""
    buf = fac.buf.reshape(-1)
    ib = buf.view(np.int64)
    n = fac.n_elem
    Ed = ib[ib[10]:ib[10] + 8 * n].reshape(n, 8)
    F = buf[ib[11]:ib[11] + 24 * n].reshape(n, 3, 8)
    D = buf[ib[12]:ib[12] + 24 * n].reshape(n, 3, 8)
    C = buf[ib[13]:ib[13] + 9 * n].reshape(n, 3, 3)
    return Ed, F, D, C


def _unit_solves(fac: SparseFactor, idx: NDArray[np.int64], B: int = 16) -> NDArray[np.float64]:
    """Displacements (permuted free dofs) of the unit eigenstrains of elements ``idx``.

    Returns ``X (nb, m, B)``: right-hand side ``r = 3 i + b`` (block ``r // B``, lane
    ``r % B``) is the unit eigenstrain ``b`` of element ``idx[i]``, solved by
    :func:`~femplastic.fe.propagators.sparse_kernels.sparse_solve_blocks` (threaded).
    """
    pos = fac.pos[fac.asm.basis.element_dofs.T]  # (n, 8)
    ok = pos >= 0
    _, Fe, _, _ = _factor_operators(fac)
    nblk = -(-3 * idx.size // B)
    Xb = np.zeros((nblk, fac.m, B))
    for c in range(8):
        sel = np.flatnonzero(ok[idx, c])
        for b in range(3):
            r = 3 * sel + b
            np.add.at(Xb, (r // B, pos[idx[sel], c], r % B), Fe[idx[sel], b, c])
    sk.sparse_solve_blocks(fac.buf.reshape(-1), Xb)
    return Xb


class PackedDensePropagator(_FactorPropagator):
    """Dense response of a general periodic problem stored once per element pair (symmetry).

    Reciprocity makes the response symmetric up to the element areas (:mod:`.packed_kernels`)
    for any mesh and per-element moduli, so only the tiles ``i // b <= j // b`` are stored,
    and of each element pair only the 8 numbers slips need (deviatoric inputs, and by the
    symmetry deviatoric outputs; the pressure of every element stays exact): about
    ``32 n^2`` bytes instead of ``72 n^2`` (8.1 GiB at L = 128, n = 16,384). Exact: built
    from the compiled sparse solves of :class:`SparseFactor` (blocks of 16 unit eigenstrains,
    threaded), equal to the solve to round-off (~1e-15 relative). An event reads ``8 n``
    numbers (half of them strided, one cache line each), one ``numba`` loop, no Python per
    event or sweep; usable by the fused drivers through the form ``(FORM_PACKED, buf, 0)``.
    Volumetric increments (never slips) go through one sparse solve in :meth:`add`.

    Parameters
    ----------
    mesh : FEMesh
        Periodic mesh.
    material : Isotropic
        Homogeneous or per-element moduli.
    tile : int
        Tile side in elements (default :data:`PACKED_TILE`).

    Attributes
    ----------
    buf : (1, N) float64 ndarray
        The packed response (:mod:`.packed_kernels` layout).
    factor : SparseFactor
        The sparse factorisation (used by :meth:`stress`: one solve).
    build_seconds : float
        Wall time of the build (factorisation and ``3 n`` solves).
    """

    def __init__(self, mesh: FEMesh, material: Isotropic, tile: int = PACKED_TILE) -> None:
        if int(tile) < 1:
            raise ValueError(f"tile must be >= 1, got {tile}")
        t0 = time.perf_counter()
        super().__init__(mesh, material)
        fac = self.factor
        n = fac.n_elem
        b = max(1, min(int(tile), n))
        size = pk.packed_size(n, b)
        buf = aligned_zeros((1, size))
        flat = buf.reshape(-1)
        ib = flat.view(np.int64)
        nt = -(-n // b)
        oP = pk.HEADER
        oA = oP + 8 * b * b * (nt * (nt + 1) // 2)
        ib[:6] = (n, b, oP, oA, oA + n, oA + 2 * n)
        flat[oA:oA + n] = fac.asm.areas
        flat[oA + n:oA + 2 * n] = 1.0 / fac.asm.areas
        Ed, _, D, C = _factor_operators(fac)
        chunk = max(1, min(n, 2**24 // (3 * fac.m)))  # <= 128 MiB of right-hand sides
        for start in range(0, n, chunk):
            idx = np.arange(start, min(n, start + chunk))
            pk.gather_packed(flat, Ed, D, C, _unit_solves(fac, idx), idx)
        self.buf = buf
        self.tile = b
        self.build_seconds = time.perf_counter() - t0

    @property
    def nbytes(self) -> int:
        """Memory of the packed response, bytes."""
        return int(self.buf.nbytes)

    def _blocks(self, i: NDArray[np.int64], j: NDArray[np.int64]) -> NDArray[np.float64]:
        """Stored blocks ``P[i, j]`` (k, 8) of pairs with ``i // b <= j // b``."""
        b = self.tile
        J = j // b
        q = pk.HEADER + 8 * b * b * (J * (J + 1) // 2) + 8 * (b * i + j - J * b)
        return self.buf[0, q[:, None] + np.arange(8)[None, :]]

    @property
    def self_response(self) -> NDArray[np.float64]:
        """Diagonal blocks of the response, (n_elem, 3, 3) as ``[e, a, b]`` (stored, exact).

        Returns
        -------
        (n_elem, 3, 3) float64 ndarray
            Stress ``a`` of element ``e`` per unit eigenstrain ``b`` of ``e``, units of ``G``.
        """
        if self._self is None:
            n = self.n_elem
            e = np.arange(n)
            P = self._blocks(e, e)
            ib = self.buf.reshape(-1).view(np.int64)
            Q = np.empty((n, 3, 3))  # [e, input (u, v, t), output (su, p, s2)]
            Q[:, 0] = P[:, 0:3]
            Q[:, 2] = P[:, 3:6]
            Q[:, 1, 0] = P[:, 6]
            Q[:, 1, 1] = self.buf[0, ib[5]:ib[5] + n]
            Q[:, 1, 2] = P[:, 7]
            M = np.array([[0.5, -0.5, 0.0], [0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])  # x = M d
            N = np.array([[1.0, 1.0, 0.0], [-1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])  # s = N s'
            self._self = np.ascontiguousarray(np.einsum("ao,eco,cb->eab", N, Q, M))
        return self._self

    def add(self, stress: NDArray[np.float64], elems: ArrayLike, deps: ArrayLike) -> None:
        """Traceless parts by the packed response, event by event; volumetric by one solve.

        Slips have no volumetric part.

        Parameters and errors as :meth:`Propagator.add`.
        """
        elems, deps = self._check_increment(elems, deps)
        flat = self._check_stress(stress)
        u = 0.5 * (deps[:, 0] - deps[:, 1])
        v = 0.5 * (deps[:, 0] + deps[:, 1])
        dev = np.ascontiguousarray(np.stack([u, -u, deps[:, 2]], axis=1))
        pk.packed_add(self.buf.reshape(-1), flat, elems.size, elems, dev)
        vol = np.flatnonzero(v != 0.0)
        if vol.size:
            dv = np.zeros((vol.size, 3))
            dv[:, 0] = v[vol]
            dv[:, 1] = v[vol]
            sk.sparse_apply(self.factor.buf.reshape(-1), flat, vol.size,
                            np.ascontiguousarray(elems[vol]), dv)

    def numba_form(self) -> tuple[int, NDArray[np.float64], int]:
        """``(FORM_PACKED, buf, 0)``: the packed response.

        Returns
        -------
        tuple of (int, ndarray, int)
            ``(6, buf, 0)``, ``buf`` of shape ``(1, N)``.
        """
        return kernels.FORM_PACKED, self.buf, 0


def make_propagator(mesh: FEMesh, material: Isotropic, dense_max: int | None = None,
                    periodic_kernel: bool = True, dense_budget: int | None = None,
                    backend: str = "auto") -> Propagator:
    """The fastest valid propagator for ``(mesh, material)``.

    * regular periodic grid + homogeneous material (and ``periodic_kernel``) ->
      :class:`PeriodicKernel`;
    * otherwise, when the full dense response (``72 n_elem^2`` bytes) fits ``dense_budget``
      and :data:`FULL_DENSE_MAX` (L <= 64) -> :class:`DensePropagator`;
    * otherwise, when the packed symmetric response (:func:`packed_bytes`, about
      ``32 n_elem^2``) fits ``dense_budget`` -> :class:`PackedDensePropagator` (refused with a
      MemoryError naming ``FEMPLASTIC_DENSE_BUDGET=0`` if the memory available now cannot hold
      it: the operator never depends on the free memory, so resumes stay bitwise);
    * otherwise :class:`SparsePropagator` (compiled sparse solves, any size), with a warning
      saying why when the budget was not 0.

    ``periodic_kernel=False`` forces the general path even for a homogeneous material (model
    A with a uniform modulus field: the same physics through the general solver).

    Parameters
    ----------
    mesh : FEMesh
        Periodic mesh.
    material : Isotropic
        Homogeneous or per-element moduli.
    dense_max : int, optional
        Largest number of elements for :class:`DensePropagator`; overrides ``dense_budget``
        when given (0: always sparse).
    periodic_kernel : bool
        Allow :class:`PeriodicKernel` (default True).
    dense_budget : int, optional
        Memory budget of the dense response, bytes (default :func:`default_dense_budget`:
        ``FEMPLASTIC_DENSE_BUDGET`` or :data:`DENSE_BUDGET`, 45 % of the physical memory;
        0: always sparse).
    backend : {"auto", "superlu"}
        Factorisation of :class:`SparsePropagator` (:data:`SPARSE_BACKENDS`).

    Returns
    -------
    Propagator
        A :class:`PeriodicKernel`, :class:`DensePropagator`, :class:`PackedDensePropagator` or
        :class:`SparsePropagator`.

    Raises
    ------
    ValueError
        If ``mesh`` is not periodic, or ``dense_max`` / ``dense_budget`` is negative.
    MemoryError
        If the packed response fits the budget but not the memory available now
        (:func:`check_packed_memory`).
    """
    if not mesh.periodic:
        raise ValueError("the models need a periodic mesh (load it with periodic=True)")
    if periodic_kernel and mesh.grid is not None and material.homogeneous:
        return PeriodicKernel(mesh, material)
    if dense_max is not None and dense_max < 0:
        raise ValueError(f"dense_max must be >= 0, got {dense_max}")
    budget = default_dense_budget() if dense_budget is None else int(dense_budget)
    if budget < 0:
        raise ValueError(f"dense_budget must be >= 0 (bytes), got {dense_budget}")
    n = mesh.n_elem
    if dense_max is not None:
        if n <= dense_max:
            return DensePropagator(mesh, material, max_elem=max(n, 4096))
        return SparsePropagator(mesh, material, backend)
    kind, why = dense_choice(n, budget)
    if kind == "full":
        return DensePropagator(mesh, material, max_elem=max(n, 4096))
    if kind == "packed":
        check_packed_memory(n)
        return PackedDensePropagator(mesh, material)
    if budget > 0:
        warnings.warn(f"make_propagator: {why}: using the sparse solves (about 10x slower per "
                      "event; raise FEMPLASTIC_DENSE_BUDGET or make_propagator(dense_budget="
                      "...))", stacklevel=2)
    return SparsePropagator(mesh, material, backend)

"""Finite-volume operators of the HL equation and its backward-Euler step (private).

Conservative finite volumes with Scharfetter-Gummel (exponentially fitted) fluxes for the
advection-diffusion part: the scheme is an M-matrix for every cell Peclet number, so it is
positive, and it is nodally exact for the source-free advection-diffusion between the
reinjection point and the thresholds. The thresholds are cell faces and the grid is graded
into the yielding layers (decay length ``sqrt(D tau)`` or ``G0 gdot tau`` beyond
``+-sigma_c``, width ``D / (G0 gdot)`` inside). Stress moments use the Il'in-Allen-Southwell
quadrature points in the yielding cells, which keeps ``<sigma>`` second order at every
Peclet number. Time stepping (:func:`_step`) is backward Euler in delta form: unconditionally
stable, mass conserving to round-off (the operator's columns sum to zero) and positivity
preserving. The steady solver (:mod:`femplastic.meanfield.steady`) and the transient
protocols (:mod:`femplastic.meanfield.transient`) are built on these operators.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.linalg import solve_banded
from scipy.sparse.linalg import splu

from ._checks import FloatArray
from .grid import HLExtensions, HLGrid


def _bern(z: FloatArray) -> FloatArray:
    """Bernoulli function B(z) = z / (exp(z) - 1), B(0) = 1, stable for all z."""
    z = np.asarray(z, dtype=float)
    out = np.ones_like(z)
    small = np.abs(z) < 1e-6
    out[small] = 1.0 - 0.5 * z[small]
    big = ~small
    with np.errstate(over="ignore"):
        out[big] = z[big] / np.expm1(z[big])
    return out


def _iass(pe: FloatArray) -> FloatArray:
    """Il'in-Allen-Southwell upwinding function coth(Pe/2) - 2/Pe (odd, in (-1, 1))."""
    pe = np.asarray(pe, dtype=float)
    out = np.empty_like(pe)
    small = np.abs(pe) < 1e-3
    out[small] = pe[small] / 6.0 - pe[small] ** 3 / 360.0
    big = ~small
    with np.errstate(over="ignore", divide="ignore"):
        out[big] = 1.0 / np.tanh(0.5 * pe[big]) - 2.0 / pe[big]
    return out


@dataclass(frozen=True)
class _Ops:
    """Tridiagonal rate operator T (transport + sink) at given (v, D), and loss weights w."""

    lo: FloatArray  # (N - 1,) T[i + 1, i]
    dg: FloatArray  # (N,)
    up: FloatArray  # (N - 1,) T[i, i + 1]
    w: FloatArray  # (N,): mass lost per unit time by cell i is w_i P_i; Gamma = w @ P


@dataclass(frozen=True)
class _Disc:
    """Stacked finite-volume discretisation: n_classes blocks of n cells (dimensionless).

    Mass balance of cell i: ``h_i dP_i/dt = F_{i-1/2} - F_{i+1/2} - c_i h_i P_i + reinj_i``
    with Scharfetter-Gummel fluxes ``F`` and ``c_i = 1`` beyond the class threshold (the
    thresholds are faces, so cells are entirely in or out).
    """

    grid: HLGrid
    ext: HLExtensions
    x: FloatArray  # (N,) cell centres
    h: FloatArray  # (N,) widths
    w: FloatArray  # (N,) widths * (cell beyond its class threshold)
    dist: FloatArray  # (n - 1,) centre distances
    B: sparse.csr_matrix  # (N, n_slot): slot k -> cells (class weights for "redraw")
    C: sparse.csr_matrix  # (n_slot, N): fraction of the loss of cell j going to slot k
    U: FloatArray | None  # (N, K) reinjection pattern for the full reset, else None
    pin: int  # stacked index of a cell where the stationary density is O(1)

    @property
    def n(self) -> int:
        return self.grid.n

    @property
    def m(self) -> int:
        return len(self.ext.thresholds)

    def ops(self, v: float, D: float) -> _Ops:
        n, m = self.n, self.m
        d = self.dist
        if D > 0.0:
            with np.errstate(over="ignore", divide="ignore"):
                pe = v * d / D
            a = D / d * _bern(-pe)  # carried by P_i to the right
            b = D / d * _bern(pe)  # carried by P_{i+1} to the left
        else:
            a = np.full(n - 1, max(v, 0.0))
            b = np.full(n - 1, max(-v, 0.0))
        a_all = np.zeros(n * m - 1)
        b_all = np.zeros(n * m - 1)
        for j in range(m):
            a_all[j * n : j * n + n - 1] = a
            b_all[j * n : j * n + n - 1] = b
        dg = -self.w.copy()
        dg[:-1] -= a_all
        dg[1:] -= b_all
        return _Ops(a_all, dg, b_all, self.w)

    def augmented(self, diag_top: sparse.spmatrix, scale_b: float) -> sparse.csc_matrix:
        """Sparse block system [[diag_top, scale_b B], [C diag(w), -I]] for (P, slots r).

        The reinjection ``S = B C`` is kept factorised through the slot unknowns
        ``r = C diag(w) P`` (mass reinjected per target cell), which keeps the LU sparse.
        """
        n_slot = self.C.shape[0]
        return sparse.bmat(
            [
                [diag_top, scale_b * self.B],
                [self.C @ sparse.diags(self.w), -sparse.identity(n_slot)],
            ],
            format="csc",
        )

    def tridiag(self, ops: _Ops) -> sparse.csr_matrix:
        """Tridiagonal part T (transport + sink), sparse (N, N)."""
        return sparse.diags([ops.lo, ops.dg, ops.up], [-1, 0, 1], format="csr")

    def mass(self, p: FloatArray) -> float:
        return float(self.h @ p)

    def positions(self, v: float, D: float) -> FloatArray:
        """Quadrature points (N,) of the cell values for stress moments.

        In cells with the sink the exponentially fitted scheme is upwinded: the cell value
        approximates the density at ``x_i + sign(v) xi(Pe) h_i / 2`` with the
        Il'in-Allen-Southwell function ``xi(Pe) = coth(Pe/2) - 2/Pe`` of the cell Peclet
        number ``Pe = v h_i / D``. Using these points keeps moments second order for every
        Peclet number (plain centres give an O(h) bias in advection-dominated layers).
        """
        c = self.w > 0.0
        if D > 0.0:
            with np.errstate(over="ignore", divide="ignore"):
                pe = v * self.h[c] / D
        else:
            pe = np.full(int(c.sum()), math.copysign(math.inf, v) if v != 0.0 else 0.0)
        xs = self.x.copy()
        xs[c] -= 0.5 * self.h[c] * _iass(pe)
        return xs

    def mean(self, p: FloatArray, v: float, D: float) -> float:
        return float((self.positions(v, D) * self.h) @ p)

    def activity(self, p: FloatArray) -> float:
        return float(self.w @ p)

    def plastic_moment(self, p: FloatArray) -> float:
        """Rate of loss of mean stress by yielding: sum of loss * (s - target(s))."""
        return float((self.w * (self.x - self.ext.target(self.x))) @ p)


def _disc(grid: HLGrid, ext: HLExtensions) -> _Disc:
    n, m = grid.n, len(ext.thresholds)
    xc, hc = grid.centers, grid.widths
    x = np.tile(xc, m)
    h = np.tile(hc, m)
    c = np.concatenate([(np.abs(xc) > t).astype(float) for t in ext.thresholds])
    w = h * c
    weights = np.asarray(ext.weights)
    # reinjection map: mass lost in cell j (class mj) lands at target(x_j), split linearly
    # between the two neighbouring centres (conserves mass and first moment)
    src = np.nonzero(c > 0.0)[0]
    y = ext.target(x[src])
    kk = np.clip(np.searchsorted(xc, y) - 1, 0, n - 2)
    frac = np.clip((y - xc[kk]) / (xc[kk + 1] - xc[kk]), 0.0, 1.0)
    # slots: for "redraw" one per cell of the stress grid (shared by all classes, which
    # receive the fraction weights[m]); for "keep" one per cell of each class
    n_slot = n if ext.renewal == "redraw" else n * m
    base = 0 if ext.renewal == "redraw" else (src // n) * n
    rows = np.concatenate([base + kk, base + kk + 1])
    C = sparse.csr_matrix(
        (np.concatenate([1.0 - frac, frac]), (rows, np.concatenate([src, src]))),
        shape=(n_slot, n * m),
    )
    if ext.renewal == "redraw":
        B = sparse.csr_matrix(
            (
                np.repeat(weights, n),
                (np.arange(n * m), np.tile(np.arange(n), m)),
            ),
            shape=(n * m, n_slot),
        )
    else:
        B = sparse.identity(n * m, format="csr")
    U = None
    if ext.full_reset:
        i0 = grid.i0
        if ext.renewal == "redraw":
            U = np.zeros((n * m, 1))
            U[np.arange(m) * n + i0, 0] = weights
        else:
            U = np.zeros((n * m, m))
            U[np.arange(m) * n + i0, np.arange(m)] = 1.0
    # a cell that surely holds O(1) density: where the most probable class reinjects the
    # sites yielding at its threshold (the centre for the full reset)
    mstar = int(np.argmax(weights))
    kstar = int(np.argmin(np.abs(xc - ext.target(np.array(ext.thresholds[mstar])))))
    return _Disc(grid, ext, x, h, w, np.diff(xc), B, C, U, mstar * n + kstar)


def _W(disc: _Disc) -> FloatArray:
    """(N, K) loss weights matching disc.U: Gamma_k = W[:, k] @ P."""
    if disc.ext.renewal == "redraw":
        return disc.w[:, None]
    n, m = disc.n, disc.m
    out = np.zeros((n * m, m))
    for j in range(m):
        out[j * n : (j + 1) * n, j] = disc.w[j * n : (j + 1) * n]
    return out


def _clip_roundoff(x: FloatArray) -> FloatArray:
    """Set round-off-level negatives (>= -1e-12 max|x|) to zero; larger ones are kept.

    The discrete operators are M-matrices, so the exact solutions are non-negative; LAPACK
    pivoting and the delta form leave negatives of order 1e-16 max|x| in far tails. Genuine
    sign errors (which would reveal a bug) are not hidden.
    """
    floor = -1e-12 * float(np.max(np.abs(x), initial=0.0))
    return np.where((x < 0.0) & (x >= floor), 0.0, x)


def _banded(lo: FloatArray, dg: FloatArray, up: FloatArray) -> FloatArray:
    ab = np.zeros((3, dg.size))
    ab[0, 1:] = up
    ab[1] = dg
    ab[2, :-1] = lo
    return ab


def _step(disc: _Disc, p: FloatArray, dt: float, v: float, D: float) -> FloatArray:
    """One backward-Euler step of h dP/dt = (T + reinjection) P at fixed (v, D).

    The system matrix ``diag(h) - dt A`` is an M-matrix whose columns sum to ``h``: the
    total mass is conserved exactly in exact arithmetic and the new density is
    non-negative (round-off negatives are set to 0, see ``_clip_roundoff``). In the
    full-reset case the rank-K reinjection is handled by the Woodbury identity on a
    banded solve; otherwise by a sparse LU of the system with slot unknowns.
    """
    ops = disc.ops(v, D)
    # delta form: solve (diag(h) - dt A) dP = dt A P, so that the round-off of the solve
    # scales with |dP| rather than |P| (keeps the total mass exact to ~1e-15 per step)
    tp = ops.dg * p
    tp[1:] += ops.lo * p[:-1]
    tp[:-1] += ops.up * p[1:]
    if disc.U is not None:
        W = _W(disc)
        rhs = dt * (tp + disc.U @ (W.T @ p))
        ab = _banded(-dt * ops.lo, disc.h - dt * ops.dg, -dt * ops.up)
        sol = solve_banded((1, 1), ab, np.column_stack([rhs, dt * disc.U]), check_finite=False)
        y, Z = sol[:, 0], sol[:, 1:]
        cap = np.eye(Z.shape[1]) - W.T @ Z
        dx = y + Z @ np.linalg.solve(cap, W.T @ y)
    else:
        rhs = dt * (tp + disc.B @ (disc.C @ (disc.w * p)))
        top = sparse.diags(disc.h) - dt * disc.tridiag(ops)
        mat = disc.augmented(top, -dt)
        dx = np.asarray(splu(mat).solve(np.concatenate([rhs, np.zeros(mat.shape[0] - p.size)])))
        dx = dx[: p.size]
    return _clip_roundoff(p + dx)

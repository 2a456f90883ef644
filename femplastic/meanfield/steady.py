"""Stationary states of the (extended) HL model at a fixed shear rate, and flow curves.

For a given ``D`` the stationary problem is linear (a banded solve on the finite-volume
operators of :mod:`femplastic.meanfield.discretisation`), and ``D = alpha sigma_c^2 Gamma(D)``
is a one-dimensional root find (Brent's method in ``log D``) started from the exact solution
of the original model (:mod:`femplastic.meanfield.exact`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize, sparse
from scipy.linalg import solve_banded
from scipy.sparse.linalg import spsolve

from ._checks import (
    V_RANGE,
    V_RANGE_FV,
    FloatArray,
    _dimensionless_rate,
    _rate_args,
    _rates,
    _scalar,
    _units,
)
from .discretisation import _banded, _clip_roundoff, _Disc, _disc, _Ops
from .exact import _exact_solve_D, hl_stationary_exact
from .grid import (
    HLExtensions,
    HLGrid,
    _auto_grid,
    _check_grid,
    _ext,
    _layer_lengths,
    _tail_lengths,
)

__all__ = [
    "HLSteadyState",
    "hl_flow_curve",
    "hl_steady_state",
]


def _stationary_given_D(disc: _Disc, v: float, D: float) -> tuple[FloatArray, _Ops]:
    """Normalised stationary density (N,) of the linear problem at fixed D, and the ops."""
    ops = disc.ops(v, D)
    if disc.U is not None:
        # -T P = U: reinjection as a known source of unit strength per column
        sol = solve_banded((1, 1), _banded(-ops.lo, -ops.dg, -ops.up), disc.U, check_finite=False)
        sol = _clip_roundoff(sol)  # -T is an M-matrix: sol >= 0 up to round-off
        if disc.ext.renewal == "redraw":
            p = sol[:, 0]
            return p / disc.mass(p), ops
        weights = np.asarray(disc.ext.weights)
        masses = disc.h @ sol
        return sol @ (weights / masses), ops
    # general reinjection: A P = 0 has one redundant equation (the columns of A sum to
    # zero); replace the equation of a cell with O(1) density by P = 1, then normalise
    nn = disc.h.size
    a = disc.augmented(disc.tridiag(ops), 1.0)
    i0 = disc.pin
    keep = np.ones(a.shape[0])
    keep[i0] = 0.0
    pin = sparse.csr_matrix(([1.0], ([i0], [i0])), shape=a.shape)
    a = sparse.diags(keep) @ a + pin
    rhs = np.zeros(a.shape[0])
    rhs[i0] = 1.0
    p = _clip_roundoff(np.asarray(spsolve(a.tocsc(), rhs))[:nn])
    return p / disc.mass(p), ops


def _check_drop_rate(
    ext: HLExtensions, v: float, gdot: float, sigma_c: float, G0: float, tau: float
) -> None:
    """Refuse a rate without stationary state: relaxation by a fixed drop and ``v >= drop``.

    A yielding site loses at most ``drop`` per ``tau``, so ``d<sigma>/dt >= G0 gdot -
    drop sigma_c Gamma >= G0 gdot - drop sigma_c / tau``: the mean stress grows for ever.
    """
    if ext.relax_drop is not None and v >= ext.relax_drop:
        raise ValueError(
            f"gdot must be < relax_drop sigma_c / (G0 tau) = "
            f"{ext.relax_drop * sigma_c / (G0 * tau):.6g} with relax_drop={ext.relax_drop:g}: "
            f"no stationary state beyond (the stress grows without bound), got {gdot!r}"
        )


def _solve_steady(
    alpha: float, v: float, ext: HLExtensions, grid: HLGrid | None, resolution: float, rtol: float
) -> tuple[float, FloatArray, HLGrid]:
    """Self-consistent stationary state in dimensionless units: (D, P (N,), grid).

    ``f(log D) = D - alpha Gamma(D)`` is negative at small D (Gamma(0) > 0 when v > 0) and
    non-negative at ``D = alpha`` (Gamma <= 1): Brent's method in ``log D``. The automatic
    grid is built for an estimate of D (the exact solution of the original model) and
    rebuilt if the solved D changes the layer widths by more than 1.5x; extended models
    locate D on a half-resolution grid first.
    """
    d_est, _ = _exact_solve_D(alpha, v)
    user_grid = grid is not None
    if user_grid:
        _check_grid(grid, ext, *_layer_lengths(v, d_est), _tail_lengths(ext, v, d_est))
    fast = ext.full_reset
    for it in range(8):
        coarse = not user_grid and not fast and it == 0
        res = max(0.25, 0.5 * resolution) if coarse else resolution
        g = grid if grid is not None else _auto_grid(ext, v, d_est, res)
        disc = _disc(g, ext)

        def f(logd: float, disc: _Disc = disc) -> float:
            d = math.exp(logd)
            p, _ = _stationary_given_D(disc, v, d)
            return d - alpha * disc.activity(p)

        top = math.log(alpha)  # Gamma <= 1 (mass beyond the thresholds): f(top) >= 0
        width = 1.0 if it == 0 else 0.05
        lo = min(math.log(d_est) - width, top - 1e-3)
        hi = min(math.log(d_est) + width, top) if it > 0 else top
        while f(lo) > 0.0:
            lo -= 3.0 * width
            if lo < -700.0:
                raise ValueError("gdot is too small for the stationary solver (D underflows)")
        while hi < top and f(hi) < 0.0:
            hi = min(hi + 3.0 * width, top)
        logd = optimize.brentq(f, lo, hi, xtol=1e-14, rtol=rtol, maxiter=200)
        d = math.exp(logd)
        p, _ = _stationary_given_D(disc, v, d)
        lm, lp = _layer_lengths(v, d)
        lm0, lp0 = _layer_lengths(v, d_est)
        if user_grid:
            _check_grid(g, ext, lm, lp, _tail_lengths(ext, v, d))
            return d, p, g
        same = lm > 0.66 * lm0 and lp > 0.66 * lp0 and lm < 1.5 * lm0 and lp < 1.5 * lp0
        if same and not coarse:
            return d, p, g
        d_est = d  # regrid with the measured D (extensions change D)
    return d, p, g


@dataclass(frozen=True)
class HLSteadyState:
    """Stationary state of the (extended) HL model at a fixed shear rate.

    Attributes
    ----------
    alpha, gdot : float
        Coupling and shear rate (1/time).
    mean_stress : float
        ``<sigma>`` (stress), with the upwind-consistent quadrature points in the yielding
        cells (see :mod:`femplastic.meanfield.discretisation`);
        ``(sigma * density * widths).sum()`` differs from it by O(h) at large cell Peclet
        numbers.
    activity : float
        ``Gamma`` (1/time).
    diffusion : float
        ``D = alpha (noise_scale sigma_c)^2 Gamma`` (stress^2 / time).
    sigma : (n,) float64
        Cell centres (stress).
    widths : (n,) float64
        Cell widths (stress).
    density : (n_classes, n) float64
        Density per threshold class (1/stress); ``(density * widths).sum() == 1``.
    grid : HLGrid
        The grid (units of sigma_c).
    extensions : HLExtensions
    sigma_c, G0, tau : float
        Units.
    """

    alpha: float
    gdot: float
    mean_stress: float
    activity: float
    diffusion: float
    sigma: FloatArray
    widths: FloatArray
    density: FloatArray
    grid: HLGrid
    extensions: HLExtensions
    sigma_c: float
    G0: float
    tau: float

    @property
    def total_density(self) -> FloatArray:
        """Density summed over classes, shape (n,), 1/stress."""
        return self.density.sum(axis=0)

    @property
    def mass(self) -> float:
        """Total probability (1 up to round-off)."""
        return float((self.density * self.widths).sum())


def hl_steady_state(
    alpha: float,
    gdot: float,
    *,
    sigma_c: float = 1.0,
    G0: float = 1.0,
    tau: float = 1.0,
    extensions: HLExtensions | None = None,
    grid: HLGrid | None = None,
    resolution: float = 1.0,
    rtol: float = 1e-12,
) -> HLSteadyState:
    """Stationary density and mean stress of the HL model at a fixed shear rate.

    Finite volumes (Scharfetter-Gummel fluxes) on a grid graded into the boundary layers
    at the thresholds; for fixed ``D`` the stationary problem is a linear (banded) solve
    and ``D = alpha sigma_c^2 Gamma(D)`` is found by Brent's method in ``log D``.

    Parameters
    ----------
    alpha : float
        Coupling ``D / (sigma_c^2 Gamma)``, in (0, inf).
    gdot : float
        Shear rate (1/time), > 0 with ``G0 gdot tau / sigma_c`` in [1e-20, 1e8].
    sigma_c, G0, tau : float
        Local yield stress (stress), shear modulus (stress), plastic time (time), > 0.
    extensions : HLExtensions, optional
        Partial relaxation and/or threshold distribution; default: original model.
    grid : HLGrid, optional
        Explicit grid (units of sigma_c). Must have faces at ``+-thresholds``, cells at
        most half the decay length of the yielding layers, and extend 20 decay lengths
        beyond the thresholds; otherwise ValueError. Default: automatic grid.
    resolution : float
        Refinement factor of the automatic grid, in [0.25, 64]: ``8 * resolution`` cells
        across each yielding layer, inner cells ``0.02 / resolution``, growth
        ``1 + 0.1 / resolution``.
    rtol : float
        Relative tolerance of the root find on ``D``, in [1e-15, 1e-3].

    Returns
    -------
    HLSteadyState

    Examples
    --------
    >>> from femplastic.meanfield import hl_yield_stress
    >>> st = hl_steady_state(0.3, 1e-3)
    >>> float((st.density * st.widths).sum())           # normalised density, (1, n)
    1.0
    >>> bool(hl_yield_stress(0.3) < st.mean_stress < 0.5)
    True
    """
    alpha, gdot, sigma_c, G0, tau, v = _rate_args(alpha, gdot, sigma_c, G0, tau, V_RANGE_FV)
    ext = _ext(extensions)
    _check_drop_rate(ext, v, gdot, sigma_c, G0, tau)
    resolution = _scalar("resolution", resolution, 0.25, 64.0, lo_open=False, hi_open=False)
    rtol = _scalar("rtol", rtol, 1e-15, 1e-3, lo_open=False, hi_open=False)
    if grid is not None and not isinstance(grid, HLGrid):
        raise ValueError("grid must be an HLGrid (units of sigma_c) or None")
    d, p, g = _solve_steady(alpha * ext.noise_scale**2, v, ext, grid, resolution, rtol)
    disc = _disc(g, ext)
    p = p / disc.mass(p)
    return HLSteadyState(
        alpha=alpha,
        gdot=gdot,
        mean_stress=sigma_c * disc.mean(p, v, d),
        activity=disc.activity(p) / tau,
        diffusion=d * sigma_c**2 / tau,
        sigma=sigma_c * g.centers,
        widths=sigma_c * g.widths,
        density=p.reshape(disc.m, disc.n) / sigma_c,
        grid=g,
        extensions=ext,
        sigma_c=sigma_c,
        G0=G0,
        tau=tau,
    )


def hl_flow_curve(
    alpha: float,
    rates: ArrayLike,
    *,
    sigma_c: float = 1.0,
    G0: float = 1.0,
    tau: float = 1.0,
    extensions: HLExtensions | None = None,
    resolution: float = 1.0,
    method: Literal["fv", "exact"] = "fv",
) -> FloatArray:
    """Stationary mean stress at each shear rate (the flow curve).

    Parameters
    ----------
    alpha : float
        Coupling, in (0, inf).
    rates : (n_rates,) array_like
        Shear rates (1/time), all in (0, inf).
    sigma_c, G0, tau : float
        Units (stress, stress, time), > 0.
    extensions : HLExtensions, optional
        Model extensions (``method="fv"`` only).
    resolution : float
        Grid refinement, see :func:`hl_steady_state`.
    method : {"fv", "exact"}
        Finite-volume solver or the closed-form solution of the original model.

    Returns
    -------
    (n_rates,) ndarray
        ``<sigma>`` (stress) at each rate.

    Examples
    --------
    >>> import numpy as np
    >>> from femplastic.meanfield import hb_fit, hl_yield_stress
    >>> rates = np.logspace(-8, -6, 3)
    >>> fit = hb_fit(rates, hl_flow_curve(0.2, rates), n=0.5)
    >>> round(fit.sigma_Y, 4), round(hl_yield_stress(0.2), 4)
    (0.3044, 0.3044)
    """
    alpha = _scalar("alpha", alpha, 0.0)
    r = _rates(rates)
    sigma_c, G0, tau = _units(sigma_c, G0, tau)
    ext = _ext(extensions)
    resolution = _scalar("resolution", resolution, 0.25, 64.0, lo_open=False, hi_open=False)
    if method not in ("fv", "exact"):
        raise ValueError(f"method must be one of 'fv', 'exact', got {method!r}")
    if method == "exact" and not ext.is_standard:
        raise ValueError("method='exact' is only available for the original model (extensions)")
    v_range = V_RANGE if method == "exact" else V_RANGE_FV
    for g in r:  # every rate in range before any solve
        _check_drop_rate(ext, _dimensionless_rate(float(g), sigma_c, G0, tau, v_range), float(g),
                         sigma_c, G0, tau)
    out = np.empty(r.size)
    for i, g in enumerate(r):
        if method == "exact":
            out[i] = hl_stationary_exact(alpha, g, sigma_c=sigma_c, G0=G0, tau=tau).mean_stress
        else:
            out[i] = hl_steady_state(
                alpha, g, sigma_c=sigma_c, G0=G0, tau=tau, extensions=ext, resolution=resolution
            ).mean_stress
    return out

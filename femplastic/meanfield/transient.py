"""Time-dependent HL protocols: start-up at a fixed rate, creep, step strain.

Backward Euler in time (:func:`femplastic.meanfield.discretisation._step`) with the
diffusion coefficient lagged and corrected by Picard iterations; under an imposed stress
(creep) the shear rate of each step is the root that makes the mean stress after the step
equal the target. The three protocols share their set-up (:func:`_setup`) and their run
(:func:`_run`) and differ only in the initial density and what is held fixed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy import optimize

from ._checks import V_RANGE_FV, FloatArray, _dimensionless_rate, _docfill, _int, _scalar, _units
from .discretisation import _Disc, _disc, _step
from .exact import _exact_solve_D, hl_stationary_exact, hl_yield_stress
from .grid import HLExtensions, HLGrid, _ext, _layer_lengths, _tail_lengths, _transient_grid
from .steady import HLSteadyState

__all__ = [
    "HLTrajectory",
    "hl_creep",
    "hl_fixed_rate",
    "hl_step_strain",
]

#: The keyword parameters of the three protocols (filled into their docstrings).
_RUN_PARAMS = """    sigma_c, G0, tau : float
        Local yield stress (stress), shear modulus (stress), plastic time (time), > 0.
    extensions : HLExtensions, optional
        Model extensions; default: original model.
    P0 : None, callable or HLSteadyState
        Initial density: ``None`` is uniform on ``[-sigma_c, sigma_c]`` (a marginal,
        unsheared state); a callable ``P0(sigma) -> density`` (stress units); or a
        stationary state (interpolated). Normalised on the grid.
    grid : HLGrid, optional
        Stress grid (units of sigma_c); default graded automatic grid.
    h_layer : float, optional
        Cell width at the thresholds of the automatic grid (units of sigma_c), in (0, 0.1].
    resolution : float
        Refinement factor of the automatic grid, in [0.25, 64].
    dt : float
        First time step (time units), in (0, t_max].
    dt_growth : float
        Geometric growth factor of the time step, in [1, 2].
    dt_max : float, optional
        Largest time step (time units); default ``t_max``.
    picard : int
        Picard corrections of the lagged ``D`` per step, in [0, 10].
"""


@dataclass(frozen=True)
class HLTrajectory:
    """Time series of a transient HL computation (one row per time step, row 0 = t = 0).

    Attributes
    ----------
    t : (n_t,) float64
        Times (time units).
    gdot : (n_t,) float64
        Shear rate during the step ending at ``t`` (1/time); ``gdot[0]`` repeats ``gdot[1]``.
    strain : (n_t,) float64
        Accumulated shear strain ``int gdot dt`` (plus the initial step strain, if any).
    stress : (n_t,) float64
        Mean stress ``<sigma>`` (stress).
    activity : (n_t,) float64
        ``Gamma`` (1/time).
    diffusion : (n_t,) float64
        ``D = alpha sigma_c^2 Gamma`` (stress^2 / time).
    mass : (n_t,) float64
        Total probability (1 to round-off).
    min_density : (n_t,) float64
        Smallest cell value of the density (>= 0: positivity).
    density : (n_classes, n) float64
        Final density (1/stress).
    sigma, widths : (n,) float64
        Cell centres and widths (stress).
    grid : HLGrid
    alpha : float
    extensions : HLExtensions
    sigma_c, G0, tau : float
    """

    t: FloatArray
    gdot: FloatArray
    strain: FloatArray
    stress: FloatArray
    activity: FloatArray
    diffusion: FloatArray
    mass: FloatArray
    min_density: FloatArray
    density: FloatArray
    sigma: FloatArray
    widths: FloatArray
    grid: HLGrid
    alpha: float
    extensions: HLExtensions
    sigma_c: float
    G0: float
    tau: float


def _initial_density(disc: _Disc, p0: Any, shift: float, sigma_c: float) -> FloatArray:
    """Return initial cell values (N,), normalised, shifted by ``shift`` (sigma_c units)."""
    f = disc.grid.faces
    x = disc.grid.centers
    if p0 is None:  # uniform on [-1, 1] + shift: exact cell averages
        lo = np.clip(f[:-1], shift - 1.0, shift + 1.0)
        hi = np.clip(f[1:], shift - 1.0, shift + 1.0)
        p = (hi - lo) / (2.0 * disc.grid.widths)
    elif isinstance(p0, HLSteadyState):
        p = np.interp(
            x - shift, p0.sigma / p0.sigma_c, p0.total_density * p0.sigma_c, left=0.0, right=0.0
        )
    elif callable(p0):
        p = np.asarray(p0(sigma_c * (x - shift)), dtype=float) * sigma_c
        if p.shape != x.shape:
            raise ValueError(f"P0(sigma) must return an array of shape {x.shape}, got {p.shape}")
    else:
        raise ValueError("P0 must be None, a callable density P0(sigma) or an HLSteadyState")
    if not np.all(np.isfinite(p)) or np.any(p < 0.0) or float(disc.grid.widths @ p) <= 0.0:
        raise ValueError("P0 must be a finite, non-negative density with positive mass on the grid")
    p = p / float(disc.grid.widths @ p)
    return np.concatenate([wt * p for wt in disc.ext.weights])


def _time_grid(t_max: float, dt: float, dt_growth: float, dt_max: float) -> FloatArray:
    steps = []
    t, h = 0.0, dt
    while t < t_max * (1.0 - 1e-12):
        hh = min(h, dt_max, t_max - t)
        steps.append(hh)
        t += hh
        h *= dt_growth
        if len(steps) > 2_000_000:
            raise ValueError("too many time steps (> 2e6): increase dt or dt_growth")
    return np.asarray(steps)


def _evolve(
    disc: _Disc,
    alpha: float,
    p: FloatArray,
    steps: FloatArray,
    mode: Literal["rate", "stress"],
    value: float,
    picard: int,
) -> dict[str, FloatArray]:
    n_t = steps.size + 1
    out = {k: np.empty(n_t) for k in ("t", "v", "stress", "gamma", "D", "mass", "pmin")}
    D = alpha * disc.activity(p)
    v = value if mode == "rate" else 0.0
    t = 0.0

    def record(i: int, d_used: float) -> None:
        # moments use the quadrature points of the (v, D) the density was computed with
        out["t"][i], out["v"][i] = t, v
        out["stress"][i] = disc.mean(p, v, d_used)
        out["gamma"][i] = disc.activity(p)
        out["D"][i] = D
        out["mass"][i] = disc.mass(p)
        out["pmin"][i] = float(p.min())

    record(0, D)
    for i, dt in enumerate(steps, start=1):
        d_it = D
        for _ in range(picard + 1):
            d_used = d_it
            if mode == "rate":
                p_new = _step(disc, p, dt, v, d_used)
            else:
                v, p_new = _solve_rate(disc, p, dt, d_used, value, v)
            d_it = alpha * disc.activity(p_new)
        p, D, t = p_new, d_it, t + dt
        record(i, d_used)
    out["v"][0] = out["v"][1] if n_t > 1 else out["v"][0]
    out["p"] = p
    return out


def _solve_rate(
    disc: _Disc, p: FloatArray, dt: float, D: float, target: float, v_prev: float
) -> tuple[float, FloatArray]:
    """Shear rate (dimensionless) making the mean stress after the step equal ``target``."""
    cache: dict[float, FloatArray] = {}

    def f(v: float) -> float:
        q = _step(disc, p, dt, v, D)
        cache[v] = q
        return disc.mean(q, v, D) - target

    # continuous-time balance: G0 gdot = plastic moment, plus the correction of any drift;
    # the mean after the step is increasing and nearly affine in v: bracket, then Brent
    v0 = disc.plastic_moment(p) + (target - disc.mean(p, v_prev, D)) / dt
    delta = 1e-3 * abs(v0) + 1e-9
    lo, hi = v0 - delta, v0 + delta
    f_lo, f_hi = f(lo), f(hi)
    while f_lo > 0.0:
        lo, hi, f_hi = lo - 4.0 * (hi - lo), lo, f_lo
        f_lo = f(lo)
    while f_hi < 0.0:
        lo, hi, f_lo = hi, hi + 4.0 * (hi - lo), f_hi
        f_hi = f(hi)
    v = float(optimize.brentq(f, lo, hi, xtol=1e-16, rtol=1e-14, maxiter=200))
    if v not in cache:
        f(v)
    return v, cache[v]


@dataclass(frozen=True)
class _Setup:
    """Validated arguments shared by the three protocols (times dimensionless)."""

    alpha: float
    units: tuple[float, float, float]  # sigma_c, G0, tau
    ext: HLExtensions
    resolution: float
    times: tuple[float, float, float, float]  # t_max, dt, dt_growth, dt_max (units of tau)
    picard: int

    @property
    def alpha_eff(self) -> float:
        """Coupling of the noise closure in units of sigma_c: ``alpha noise_scale^2``."""
        return self.alpha * self.ext.noise_scale**2


def _setup(
    alpha: float,
    sigma_c: float,
    G0: float,
    tau: float,
    extensions: HLExtensions | None,
    resolution: float,
    t_max: float,
    dt: float,
    dt_growth: float,
    dt_max: float | None,
    picard: int,
) -> _Setup:
    """Check the arguments common to every protocol (``alpha`` already checked)."""
    units = _units(sigma_c, G0, tau)
    ext = _ext(extensions)
    resolution = _scalar("resolution", resolution, 0.25, 64.0, lo_open=False, hi_open=False)
    t_max = _scalar("t_max", t_max, 0.0)
    dt = _scalar("dt", dt, 0.0, t_max, hi_open=False)
    dt_growth = _scalar("dt_growth", dt_growth, 1.0, 2.0, lo_open=False, hi_open=False)
    dt_max = t_max if dt_max is None else _scalar("dt_max", dt_max, 0.0)
    picard = _int("picard", picard, 0, 10)
    tau = units[2]
    times = (t_max / tau, dt / tau, dt_growth, max(dt_max / tau, dt / tau))
    return _Setup(alpha, units, ext, resolution, times, picard)


def _run(
    s: _Setup,
    grid: HLGrid | None,
    h_layer: float,
    extent: float,
    P0: Any,
    mode: Literal["rate", "stress"],
    value: float,
    *,
    shift: float = 0.0,
    strain0: float = 0.0,
) -> HLTrajectory:
    """Build the grid and the initial density, evolve, and convert back to units.

    ``mode="rate"``: shear rate ``value`` (dimensionless), initial density shifted by
    ``shift`` (units of sigma_c). ``mode="stress"``: mean stress held at ``value`` (units of
    sigma_c), the initial density shifted so that its discrete mean equals it.
    """
    g = _transient_grid(s.ext, grid, h_layer, extent, s.resolution)
    disc = _disc(g, s.ext)
    if mode == "stress":
        # elastic stress step: shift the density so that its (discrete) mean equals the target
        # (a fixed point: the mean is affine in the shift up to the partly filled edge cells)
        shift = 0.0
        for _ in range(60):
            p = _initial_density(disc, P0, shift, s.units[0])
            miss = value - disc.mean(p, 0.0, 0.0)
            if abs(miss) <= 1e-14 * max(1.0, abs(value)):
                break
            shift += miss
    else:
        p = _initial_density(disc, P0, shift, s.units[0])
    out = _evolve(disc, s.alpha_eff, p, _time_grid(*s.times), mode, value, s.picard)
    return _trajectory(out, disc, s.alpha, s.ext, s.units, strain0)


def _trajectory(
    out: dict[str, FloatArray],
    disc: _Disc,
    alpha: float,
    ext: HLExtensions,
    units: tuple[float, float, float],
    strain0: float,
) -> HLTrajectory:
    sigma_c, G0, tau = units
    t = out["t"] * tau
    gdot = out["v"] * sigma_c / (G0 * tau)
    strain = strain0 + np.concatenate([[0.0], np.cumsum(gdot[1:] * np.diff(t))])
    return HLTrajectory(
        t=t,
        gdot=gdot,
        strain=strain,
        stress=sigma_c * out["stress"],
        activity=out["gamma"] / tau,
        diffusion=out["D"] * sigma_c**2 / tau,
        mass=out["mass"],
        min_density=out["pmin"] / sigma_c,
        density=out["p"].reshape(disc.m, disc.n) / sigma_c,
        sigma=sigma_c * disc.grid.centers,
        widths=sigma_c * disc.grid.widths,
        grid=disc.grid,
        alpha=alpha,
        extensions=ext,
        sigma_c=sigma_c,
        G0=G0,
        tau=tau,
    )


def _stepped_grid_size(s: _Setup, h_layer: float | None, step: float) -> tuple[float, float]:
    """Layer width and half-extent (units of sigma_c) of the grid after a stress step ``step``."""
    h_layer = _scalar("h_layer", 2e-3 if h_layer is None else h_layer, 0.0, 0.1, hi_open=False)
    return h_layer, max(max(s.ext.thresholds), abs(step) + 1.0) + 1.5


@_docfill(run_params=_RUN_PARAMS)
def hl_fixed_rate(
    alpha: float,
    gdot: float,
    t_max: float,
    *,
    sigma_c: float = 1.0,
    G0: float = 1.0,
    tau: float = 1.0,
    extensions: HLExtensions | None = None,
    P0: Any = None,
    grid: HLGrid | None = None,
    h_layer: float | None = None,
    resolution: float = 1.0,
    dt: float = 0.01,
    dt_growth: float = 1.0,
    dt_max: float | None = None,
    picard: int = 1,
) -> HLTrajectory:
    """Start-up (transient) shear at a fixed rate.

    Backward Euler in time (unconditionally stable: ``dt`` is not limited by
    ``h^2 / 2D``), mass conserved to round-off, density kept non-negative. At long times
    the trajectory reaches the finite-volume stationary state of the same grid.

    Parameters
    ----------
    alpha : float
        Coupling, in (0, inf).
    gdot : float
        Shear rate (1/time): 0, or > 0 with ``G0 gdot tau / sigma_c`` in [1e-20, 1e8].
    t_max : float
        Duration (time units), in (0, inf).
    {run_params}

    Returns
    -------
    HLTrajectory
    """
    alpha = _scalar("alpha", alpha, 0.0)
    gdot = _scalar("gdot", gdot, 0.0, lo_open=False)
    s = _setup(alpha, sigma_c, G0, tau, extensions, resolution, t_max, dt, dt_growth, dt_max,
               picard)
    sigma_c, G0, tau = s.units
    v = _dimensionless_rate(gdot, sigma_c, G0, tau, V_RANGE_FV) if gdot > 0.0 else 0.0
    tmax = max(s.ext.thresholds)
    if v > 0.0:  # grid sized for the yielding layers of the steady state at this rate
        d_ss, _ = _exact_solve_D(s.alpha_eff, v)
        lm, lp = _layer_lengths(v, d_ss)
    else:
        lm = lp = 0.05
    if h_layer is None:
        h_layer = min(lm, lp, 0.8) / 8.0
    h_layer = _scalar("h_layer", h_layer, 0.0, 0.1, hi_open=False)
    extent = max(tmax + 30.0 * max(lm, lp), tmax + 1.0)
    if v > 0.0 and s.ext.relax_drop is not None:  # the slower tail of repeated fixed drops
        if v < s.ext.relax_drop:  # D <= alpha_eff (Gamma <= 1/tau) bounds the tail length
            extent = max(extent, tmax + 30.0 * max(_tail_lengths(s.ext, v, s.alpha_eff)))
        else:  # no stationary state: the stress rises by at most v t_max
            extent = max(extent, tmax + 1.0 + v * s.times[0])
    return _run(s, grid, h_layer, extent, P0, "rate", v)


@_docfill(run_params=_RUN_PARAMS)
def hl_creep(
    alpha: float,
    stress: float,
    t_max: float,
    *,
    sigma_c: float = 1.0,
    G0: float = 1.0,
    tau: float = 1.0,
    extensions: HLExtensions | None = None,
    P0: Any = None,
    grid: HLGrid | None = None,
    h_layer: float | None = None,
    resolution: float = 1.0,
    dt: float = 0.01,
    dt_growth: float = 1.0,
    dt_max: float | None = None,
    picard: int = 1,
) -> HLTrajectory:
    """Creep: the macroscopic stress is held at ``stress``; the shear rate is the unknown.

    At t = 0 the initial density is shifted elastically so that ``<sigma> = stress`` (a
    stress step). At every backward-Euler step the shear rate is found by a secant
    iteration such that the mean stress after the step equals the target to 1e-13
    (continuous version: ``G0 gdot = (1/tau) int_{|s| > s_c} (s - s_reinjected) P``).
    Below the dynamical yield stress the activity decays to zero (stuck); above it the
    rate tends to the fixed-rate flow curve.

    Parameters
    ----------
    alpha : float
        Coupling, in (0, inf).
    stress : float
        Imposed macroscopic stress (stress units), finite.
    t_max : float
        Duration (time units), in (0, inf).
    {run_params}

    Returns
    -------
    HLTrajectory
        ``gdot`` is the computed shear-rate history.

    Examples
    --------
    Below the yield stress the flow stops:

    >>> from femplastic.meanfield import hl_yield_stress
    >>> tr = hl_creep(0.3, 0.15, 1000.0, dt=0.05, dt_growth=1.2)   # time steps grow
    >>> bool(hl_yield_stress(0.3) > 0.15), bool(tr.gdot[-1] < 1e-3 * tr.gdot[0])
    (True, True)
    >>> round(float(tr.strain[-1]), 2)                    # the strain saturates
    0.45
    """
    alpha = _scalar("alpha", alpha, 0.0)
    stress = _scalar("stress", stress)
    s = _setup(alpha, sigma_c, G0, tau, extensions, resolution, t_max, dt, dt_growth, dt_max,
               picard)
    target = stress / s.units[0]
    h_layer, extent = _stepped_grid_size(s, h_layer, target)
    v = _flow_rate_estimate(s.alpha_eff, abs(target))
    if v > 0.0:  # it flows: room for the yielding layers of the flowing state
        # D <= alpha_eff (Gamma <= 1/tau) bounds the decay lengths beyond the thresholds
        tails = _layer_lengths(v, s.alpha_eff)
        if s.ext.relax_drop is not None and v < s.ext.relax_drop:
            tails = _tail_lengths(s.ext, v, s.alpha_eff)
        extent = max(extent, max(s.ext.thresholds) + 30.0 * max(tails))
    return _run(s, grid, h_layer, extent, P0, "stress", target)


def _flow_rate_estimate(alpha: float, stress: float) -> float:
    """Dimensionless rate of the original model's stationary flow at ``stress`` (0: none).

    The flow curve of the exact stationary solution inverted (it increases with the rate);
    0 below the dynamical yield stress or at rates below 1e-20. With extensions it is an
    estimate (partial relaxation and higher thresholds flow slower at the same stress).
    """
    if stress <= hl_yield_stress(alpha):
        return 0.0

    def f(logv: float) -> float:
        return hl_stationary_exact(alpha, math.exp(logv)).mean_stress - stress

    lo, hi = math.log(V_RANGE_FV[0]), math.log(V_RANGE_FV[1])
    if f(lo) >= 0.0:
        return 0.0
    if f(hi) <= 0.0:
        return V_RANGE_FV[1]
    return math.exp(optimize.brentq(f, lo, hi, rtol=1e-6))


@_docfill(run_params=_RUN_PARAMS)
def hl_step_strain(
    alpha: float,
    gamma0: float,
    t_max: float,
    *,
    sigma_c: float = 1.0,
    G0: float = 1.0,
    tau: float = 1.0,
    extensions: HLExtensions | None = None,
    P0: Any = None,
    grid: HLGrid | None = None,
    h_layer: float | None = None,
    resolution: float = 1.0,
    dt: float = 0.01,
    dt_growth: float = 1.0,
    dt_max: float | None = None,
    picard: int = 1,
) -> HLTrajectory:
    """Stress relaxation after an instantaneous step strain ``gamma0`` (then ``gdot = 0``).

    Every local stress jumps by ``G0 gamma0``; the sites pushed beyond threshold yield and
    feed the mechanical noise; the stress relaxes towards a residual value (jammed) or to
    zero (liquid, ``alpha > 1/2`` with sustained activity).

    Parameters
    ----------
    alpha : float
        Coupling, in (0, inf).
    gamma0 : float
        Step strain (dimensionless), finite.
    t_max : float
        Duration (time units), in (0, inf).
    {run_params}

    Returns
    -------
    HLTrajectory
    """
    alpha = _scalar("alpha", alpha, 0.0)
    gamma0 = _scalar("gamma0", gamma0)
    s = _setup(alpha, sigma_c, G0, tau, extensions, resolution, t_max, dt, dt_growth, dt_max,
               picard)
    shift = s.units[1] * gamma0 / s.units[0]
    h_layer, extent = _stepped_grid_size(s, h_layer, shift)
    return _run(s, grid, h_layer, extent, P0, "rate", 0.0, shift=shift, strain0=gamma0)

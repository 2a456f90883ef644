"""Avalanche catalogue and size statistics of the weak-plane model.

**Catalogue.** :func:`record` drives monotonic AQS (the engine of
:class:`~femplastic.weakplane.drivers.path.StrainPath`, identical to :func:`femplastic.aqs`)
keeping every event; :func:`catalogue` turns any driver's
:class:`~femplastic.weakplane.drivers.avalanche_log.AvalancheLog` into one row per avalanche:
size in slip events, external stress drop, resolved plastic strain, duration in synchronous sweeps,
number of distinct elements, dissipation and spatial extent, the radius of gyration of the
distinct elements on the periodic grid. On a torus the centre is the circular mean along each
axis (``atan2(<sin 2 pi x / L>, <cos 2 pi x / L>)``) and distances are minimum images from it;
for an avalanche spanning the system the extent saturates near ``L / sqrt(6)`` per axis.

**Estimators.** Avalanche sizes ``s >= s_min`` are fitted by maximum likelihood to the
discrete power law with an exponential (upper) cutoff
``P(s) = s^-tau exp(-s / s_c) / Z(tau, s_c)``, ``Z = sum_{s >= s_min} s^-tau exp(-s / s_c)``
(:func:`fit_truncated_power_law`), with percentile bootstrap intervals (resampling the
avalanches). The cutoff's scaling with the system size ``s_c ~ L^d_f`` gives the fractal
dimension ``d_f`` (:func:`fractal_dimension`, its interval from the bootstrap replicates of
every ``s_c``), and :func:`collapse` rescales ``P(s) s^tau`` against ``s / L^d_f``: the curves
of all ``L`` fall on one when ``tau`` and ``d_f`` are right.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import validation
from .drivers.avalanche_log import AvalancheLog
from .drivers.path import CompiledPath, StrainPath
from .params import ModelParams
from .state import State

__all__ = ["Catalogue", "PowerLawFit", "best_collapse", "catalogue", "collapse",
           "fit_truncated_power_law",
           "fractal_dimension", "radius_of_gyration", "record", "sample_truncated_power_law"]


@dataclass(frozen=True)
class Catalogue:
    """One row per avalanche (all arrays of shape (m,)).

    Attributes
    ----------
    size : int64 ndarray
        Slip events.
    drop : ndarray
        External stress drop (LJ units).
    plastic : ndarray
        Resolved mean plastic strain.
    duration : int64 ndarray
        Synchronous sweeps.
    n_elements : int64 ndarray
        Distinct elements that slipped.
    extent : ndarray
        Radius of gyration of those elements on the periodic grid (element sides).
    dissipation : ndarray
        Energy released per unit area.
    gamma : ndarray
        External strain at the avalanche.
    """

    size: NDArray[np.int64]
    drop: NDArray[np.float64]
    plastic: NDArray[np.float64]
    duration: NDArray[np.int64]
    n_elements: NDArray[np.int64]
    extent: NDArray[np.float64]
    dissipation: NDArray[np.float64]
    gamma: NDArray[np.float64]

    def select(self, mask: ArrayLike) -> Catalogue:
        """The rows where ``mask`` is True (e.g. ``cat.gamma > 0.5``, the stationary part)."""
        mask = np.asarray(mask, dtype=bool)
        return Catalogue(*(getattr(self, f)[mask] for f in self.__dataclass_fields__))


def record(state: State, params: ModelParams | None, rng: np.random.Generator,
           gamma_end: float, dgamma: float = 1e-4, alpha: float = 0.0) -> AvalancheLog:
    """Monotonic AQS to ``gamma_end`` keeping every event (the same run as :func:`femplastic.aqs`).

    Parameters
    ----------
    state : State
        Starting state (not modified).
    params : ModelParams or None
        Checked against ``state.model.params`` when given.
    rng : numpy.random.Generator
    gamma_end : float
        Strain to apply (> 0).
    dgamma : float
        Increment (> 0, <= gamma_end).
    alpha : float
        Loading orientation (rad).

    Returns
    -------
    AvalancheLog
        With ``events`` (element, system, sweep, ...) for :func:`catalogue`.
    """
    validation.check_aqs(state, rng, gamma_end, dgamma, alpha, True, True)  # types, memory
    validation.number("dgamma", dgamma, low=0.0, low_open=True, high=gamma_end)
    validation.params_match(state, params)
    n = int(round(gamma_end / dgamma))
    path = CompiledPath if state.model.dim == 3 else StrainPath  # StrainPath is 2D only
    eng = path(state, rng, dgamma, alpha, n, record_events=True)
    eng.leg(n)
    return eng.avalanches()


def radius_of_gyration(ix: ArrayLike, iy: ArrayLike, L: int, iz: ArrayLike | None = None
                       ) -> float:
    """Radius of gyration of grid cells ``(ix, iy[, iz])`` on the ``L^2`` (``L^3``) torus.

    Parameters
    ----------
    ix, iy : (k,) array_like of int
        Cell coordinates (k >= 1), equal weights.
    L : int
        Grid side.
    iz : (k,) array_like of int, optional
        Third coordinate of cells of an ``L^3`` grid (3D).

    Returns
    -------
    float
        ``sqrt(<dx^2 + dy^2 [+ dz^2]>)`` with minimum-image offsets from the circular-mean
        centre, in cell units.

    Examples
    --------
    A pair of neighbours across the periodic boundary:

    >>> radius_of_gyration([0, 9], [3, 3], 10)
    0.5
    """
    r2 = 0.0
    for x in (np.asarray(c, dtype=float) for c in (ix, iy, iz) if c is not None):
        a = 2 * np.pi * x / L
        c = np.arctan2(np.sin(a).mean(), np.cos(a).mean()) * L / (2 * np.pi)
        d = (x - c + L / 2) % L - L / 2
        r2 += float(np.mean(d * d))
    return float(np.sqrt(r2))


def catalogue(log: AvalancheLog, L: int, dim: int = 2) -> Catalogue:
    """Per-avalanche catalogue of a log recorded with events, on an ``L x L`` (``L^3``) grid.

    Parameters
    ----------
    log : AvalancheLog
        From :func:`record`, :func:`femplastic.cyclic` or
        :func:`femplastic.stress_controlled` with ``record_events=True``.
    L : int
        Grid side (elements are numbered ``iy * L + ix``; in 3D ``(iz * L + iy) * L + ix``).
    dim : int
        2 (default) or 3, the model's ``dim``: the extent is measured on the ``L^dim`` torus.

    Returns
    -------
    Catalogue

    Raises
    ------
    ValueError
        A log without events; ``dim`` not 2 or 3; an element outside the ``L^dim`` grid
        (a 3D log catalogued as 2D).
    """
    if log.events is None:
        raise ValueError("the log has no events: record it with record_events=True")
    validation.integer("L", L, low=1)
    validation.integer("dim", dim, low=2, high=3)
    top = int(log.events["element"].max()) if log.events["element"].size else -1
    if top >= L ** dim:
        grid, hint = ((f"L x L = {L}^2", "a 3D log needs catalogue(log, L, dim=3)") if dim == 2
                      else (f"L^3 = {L}^3", "pass the model's L"))
        raise ValueError(f"the log has element {top}, outside the {grid} grid: {hint}")
    ev = log.events
    m = log.size.size
    n_el = np.zeros(m, np.int64)
    ext = np.zeros(m)
    order = np.argsort(ev["avalanche"], kind="stable")
    bounds = np.searchsorted(ev["avalanche"][order], np.arange(m + 1))
    for a in range(m):
        els = np.unique(ev["element"][order[bounds[a]:bounds[a + 1]]])
        n_el[a] = els.size
        if els.size:
            ext[a] = radius_of_gyration(els % L, (els // L) % L, L,
                                        els // (L * L) if dim == 3 else None)
    return Catalogue(log.size.copy(), log.drop, log.plastic.copy(), log.sweeps.copy(), n_el,
                     ext, log.dissipation.copy(), log.gamma.copy())


# ---------------------------------------------------------------- discrete power law
def _grid(s_min: int, s_max_data: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Nodes and weights of the normalising sum over ``s_min .. 20 max(s)``.

    Every integer up to ``s_min + 1000``; beyond, blocks of consecutive integers of relative
    width 0.2 % are summed by the midpoint rule (node = block centre, weight = block length;
    relative error ~ ``tau^2 (0.002)^2 / 24 < 1e-6`` of the block, far below the statistical
    error of any sample). Beyond twenty times the largest observed size the terms of any fit
    the data support are negligible (suppressed by ``exp(-s / s_c)``); the sum then also acts
    as a hard upper cutoff when ``s_c`` is infinite.
    """
    top = int(min(max(20.0 * s_max_data, s_min + 1000.0), 1e9))
    exact_top = min(s_min + 1000, top)
    nodes = [np.arange(s_min, exact_top + 1, dtype=float)]
    weights = [np.ones(nodes[0].size)]
    a = exact_top + 1
    starts = []
    widths = []
    while a <= top:
        wdt = min(int(np.ceil(a * 0.002)), top - a + 1)
        starts.append(a)
        widths.append(wdt)
        a += wdt
    if starts:
        st = np.asarray(starts, dtype=float)
        wd = np.asarray(widths, dtype=float)
        nodes.append(st + (wd - 1) / 2)
        weights.append(wd)
    return np.concatenate(nodes), np.concatenate(weights)


def _moments(tau: float, lam: float, s: NDArray[np.float64], logs: NDArray[np.float64],
             wts: NDArray[np.float64]) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
    """Log-normaliser ``log Z``; mean (2,) and covariance (2, 2) of ``(log s, s)``."""
    e = -tau * logs - lam * s
    mx = e.max()
    p = wts * np.exp(e - mx)
    z = p.sum()
    p /= z
    # elementwise sums, not BLAS products: a threaded BLAS costs milliseconds per call on a
    # loaded machine, more than the sums themselves
    m1 = (p * logs).sum()
    m2 = (p * s).sum()
    c11 = (p * logs * logs).sum() - m1 * m1
    c12 = (p * logs * s).sum() - m1 * m2
    c22 = (p * s * s).sum() - m2 * m2
    return float(mx + np.log(z)), np.array([m1, m2]), np.array([[c11, c12], [c12, c22]])


def _mle(n: int, slog: float, ssum: float, s: NDArray[np.float64], logs: NDArray[np.float64],
         wts: NDArray[np.float64]) -> tuple[float, float]:
    """Maximise the likelihood over ``(tau, lam = 1 / s_c >= 0)`` by projected Newton steps.

    The negative log-likelihood per avalanche ``tau <log s> + lam <s> + log Z`` is convex in
    ``(tau, lam)`` (``log Z`` is a log-partition function); its gradient is the difference of
    the sample and model means of ``(log s, s)`` and its Hessian the model covariance.
    """
    t = np.array([slog / n, ssum / n])

    def f(x: NDArray[np.float64]) -> float:
        return float(x[0] * t[0] + x[1] * t[1] + _moments(x[0], x[1], s, logs, wts)[0])

    x = np.array([1.5, 1.0 / max(t[1], 2.0)])
    fx = f(x)
    for _ in range(200):
        _, mu, cov = _moments(x[0], x[1], s, logs, wts)
        g = t - mu
        det = cov[0, 0] * cov[1, 1] - cov[0, 1] ** 2
        if det <= 0:
            step = g / max(cov[0, 0], cov[1, 1], 1e-300)
        else:
            step = np.array([cov[1, 1] * g[0] - cov[0, 1] * g[1],
                             cov[0, 0] * g[1] - cov[0, 1] * g[0]]) / det
        if x[1] <= 0 and step[1] > 0:  # on the boundary lam = 0, pushing outwards
            step = np.array([g[0] / cov[0, 0], 0.0])
        h = 1.0
        while True:
            y = x - h * step
            y[1] = max(y[1], 0.0)
            fy = f(y)
            if fy <= fx - 1e-4 * float(g @ (x - y)) or h < 1e-12:
                break
            h *= 0.5
        done = abs(fx - fy) < 1e-14 * max(1.0, abs(fx))
        x, fx = y, fy
        if done:
            break
    return float(x[0]), (float(1.0 / x[1]) if x[1] > 0 else float("inf"))


@dataclass(frozen=True)
class PowerLawFit:
    """Maximum-likelihood fit of ``P(s) ~ s^-tau exp(-s / s_c)``, ``s >= s_min``.

    Attributes
    ----------
    tau, s_c : float
        Exponent and cutoff (events; ``inf`` when the likelihood prefers no cutoff).
    tau_ci, s_c_ci : (2,) ndarray
        Percentile bootstrap intervals (``level``).
    s_min : int
    n : int
        Avalanches fitted.
    boot_tau, boot_s_c : (n_boot,) ndarray
        The bootstrap replicates.
    level : float
    """

    tau: float
    s_c: float
    tau_ci: NDArray[np.float64]
    s_c_ci: NDArray[np.float64]
    s_min: int
    n: int
    boot_tau: NDArray[np.float64]
    boot_s_c: NDArray[np.float64]
    level: float


def fit_truncated_power_law(sizes: ArrayLike, s_min: int = 1, n_boot: int = 200,
                            rng: np.random.Generator | None = None, level: float = 0.95
                            ) -> PowerLawFit:
    """MLE of ``tau`` and ``s_c`` of a discrete power law with exponential cutoff, + bootstrap.

    Parameters
    ----------
    sizes : (m,) array_like of int
        Avalanche sizes; those below ``s_min`` are ignored (at least 10 must remain).
    s_min : int
        Lower bound of the fitted range (>= 1).
    n_boot : int
        Bootstrap replicates (>= 0; 0: no interval).
    rng : numpy.random.Generator, optional
        Source of the resampling (required when ``n_boot > 0``).
    level : float
        Coverage of the intervals, in (0, 1).

    Returns
    -------
    PowerLawFit
    """
    s = np.asarray(sizes, dtype=float).ravel()
    if isinstance(s_min, bool) or int(s_min) != s_min or s_min < 1:
        raise ValueError(f"s_min must be an integer >= 1, got {s_min!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    if n_boot < 0:
        raise ValueError(f"n_boot must be >= 0, got {n_boot!r}")
    if n_boot > 0 and not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator when n_boot > 0")
    s = s[s >= s_min]
    if s.size < 10:
        raise ValueError(f"need at least 10 sizes >= s_min = {s_min}, got {s.size}")
    logs = np.log(s)
    grid, wts = _grid(int(s_min), float(s.max()))
    lgrid = np.log(grid)
    tau, sc = _mle(s.size, float(logs.sum()), float(s.sum()), grid, lgrid, wts)
    bt = np.zeros(n_boot)
    bs = np.zeros(n_boot)
    for b in range(n_boot):
        idx = rng.integers(0, s.size, s.size)
        bt[b], bs[b] = _mle(s.size, float(logs[idx].sum()), float(s[idx].sum()), grid, lgrid,
                            wts)
    q = [(1 - level) / 2, (1 + level) / 2]
    ci_t = np.quantile(bt, q) if n_boot else np.full(2, np.nan)
    ci_s = np.quantile(bs, q) if n_boot else np.full(2, np.nan)
    return PowerLawFit(tau, sc, ci_t, ci_s, int(s_min), int(s.size), bt, bs, float(level))


def sample_truncated_power_law(rng: np.random.Generator, n: int, tau: float, s_c: float,
                               s_min: int = 1) -> NDArray[np.int64]:
    """Draw ``n`` sizes from ``P(s) ~ s^-tau exp(-s / s_c)``, ``s >= s_min`` (inverse CDF).

    Parameters
    ----------
    rng : numpy.random.Generator
    n : int
        Number of samples.
    tau : float
        Exponent.
    s_c : float
        Cutoff (> 0).
    s_min : int
        Smallest size (>= 1).

    Returns
    -------
    (n,) int64 ndarray
    """
    if not np.isfinite(s_c) or s_c <= 0:
        raise ValueError(f"s_c must be > 0, got {s_c!r}")
    s = np.arange(int(s_min), int(s_min + 45.0 * s_c + 1000) + 1, dtype=float)
    w = np.exp(-tau * np.log(s) - s / s_c)
    cdf = np.cumsum(w)
    cdf /= cdf[-1]
    return s[np.searchsorted(cdf, rng.random(n), side="right").clip(0, s.size - 1)].astype(
        np.int64)


def fractal_dimension(Ls: ArrayLike, fits: list[PowerLawFit], level: float = 0.95
                      ) -> tuple[float, NDArray[np.float64]]:
    """``d_f`` from ``s_c ~ L^d_f`` (log-log least squares), with a bootstrap interval.

    Parameters
    ----------
    Ls : (k,) array_like
        System sizes (k >= 2).
    fits : list of PowerLawFit
        One fit per size, with the same number of bootstrap replicates.
    level : float
        Coverage of the interval.

    Returns
    -------
    d_f : float
    ci : (2,) ndarray
        Percentiles of the slopes of the bootstrap replicates (paired by replicate index;
        the sizes are independent samples).
    """
    x = np.log(np.asarray(Ls, dtype=float))
    if x.size < 2 or x.size != len(fits):
        raise ValueError("need one fit per size and at least 2 sizes")
    d = float(np.polyfit(x, np.log([f.s_c for f in fits]), 1)[0])
    nb = min(f.boot_s_c.size for f in fits)
    if nb == 0:
        return d, np.full(2, np.nan)
    Y = np.log(np.array([f.boot_s_c[:nb] for f in fits]))  # (k, nb)
    slopes = np.polyfit(x, Y, 1)[0]
    return d, np.quantile(slopes, [(1 - level) / 2, (1 + level) / 2])


def collapse(samples: dict[int, ArrayLike], tau: float, d_f: float, n_bins: int = 20,
             min_count: int = 10) -> tuple[dict[int, tuple[NDArray, NDArray]], float]:
    """Finite-size collapse ``P(s) s^tau`` against ``s / L^d_f``, and its quality.

    Parameters
    ----------
    samples : dict
        ``{L: sizes}``.
    tau, d_f : float
        Exponent and fractal dimension used for the rescaling.
    n_bins : int
        Logarithmic bins of ``x = s / L^d_f``, common to all sizes.
    min_count : int
        Bins with fewer avalanches are drawn but left out of the spread (their relative
        noise, ``1 / sqrt(count)``, would dominate it).

    Returns
    -------
    curves : dict
        ``{L: (x, y)}``: bin centres ``s / L^d_f`` and ``P(s) s^tau`` (empty bins dropped).
    spread : float
        Mean squared difference of ``log y`` between the curves (bins with at least
        ``min_count`` avalanches), interpolated on their common ``x`` range (0: perfect
        collapse; NaN without overlap).
    """
    curves: dict[int, tuple[NDArray, NDArray]] = {}
    logs = {}
    data = {L: np.asarray(x, dtype=float) for L, x in samples.items()}
    # common logarithmic bins of x = s / L^d_f: every size is binned alike in the scaled
    # variable, so the binning bias at a given x is the same for all L
    x_lo = min(1.0 / float(L) ** d_f for L in data)
    x_hi = max((s.max() + 1) / float(L) ** d_f for L, s in data.items())
    xe = np.logspace(np.log10(x_lo), np.log10(x_hi), n_bins + 1)
    for L, s in data.items():
        s = s[s >= 1]
        e = xe * float(L) ** d_f
        h, _ = np.histogram(s, bins=e)
        n_int = np.ceil(e[1:]) - np.ceil(e[:-1])  # integers in [e0, e1)
        ok = (h > 0) & (n_int > 0)
        P = np.where(n_int > 0, h / (s.size * np.maximum(n_int, 1)), 0.0)
        c = np.sqrt(e[:-1] * e[1:])
        curves[L] = (c[ok] / float(L) ** d_f, P[ok] * c[ok] ** tau)
        good = ok & (h >= min_count)
        if good.sum() > 1:
            logs[L] = (np.log(c[good] / float(L) ** d_f), np.log(P[good] * c[good] ** tau))
    if len(logs) < 2:
        return curves, float("nan")
    lo = max(v[0].min() for v in logs.values())
    hi = min(v[0].max() for v in logs.values())
    if hi <= lo:
        return curves, float("nan")
    g = np.linspace(lo, hi, 30)
    Y = np.array([np.interp(g, *v) for v in logs.values()])
    return curves, float(np.mean((Y - Y.mean(axis=0)) ** 2))


def best_collapse(samples: dict[int, ArrayLike], taus: ArrayLike, d_fs: ArrayLike,
                  n_bins: int = 20) -> tuple[float, float, float]:
    """The ``(tau, d_f)`` of a grid that minimises the spread of :func:`collapse`.

    Parameters
    ----------
    samples : dict
        ``{L: sizes}``, at least two sizes.
    taus, d_fs : array_like
        Candidate exponents and fractal dimensions (their cartesian product is scanned).
    n_bins : int
        Logarithmic bins per size.

    Returns
    -------
    tau, d_f, spread : float
        The best pair and its spread (mean squared log difference between the curves).
    """
    best = (float("nan"), float("nan"), float("inf"))
    for t in np.asarray(taus, dtype=float):
        for d in np.asarray(d_fs, dtype=float):
            _, sp = collapse(samples, float(t), float(d), n_bins)
            if np.isfinite(sp) and sp < best[2]:
                best = (float(t), float(d), sp)
    return best

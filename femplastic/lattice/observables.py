"""Observables of the scalar lattice models (seeds 000-002).

Pure functions on arrays: flow-curve fits, overshoots, creep arrest, distributions,
localisation. Units: stresses in LJ units, engineering strains, LJ times.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.optimize
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "HerschelBulkley",
    "fit_herschel_bulkley",
    "Overshoot",
    "overshoot",
    "steady_mean",
    "creep_is_stuck",
    "smooth_rate",
    "density",
    "cumulative",
    "localisation_index",
    "participation_ratio",
    "stress_at_strain",
]


def _vector(name: str, values: ArrayLike) -> NDArray[np.float64]:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1D array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (got NaN or inf)")
    return arr


# ------------------------------------------------------------------ flow curve
@dataclass(frozen=True)
class HerschelBulkley:
    """Herschel-Bulkley flow curve ``Sigma = sigma_y + A gdot^n`` with 1-sigma errors.

    Attributes
    ----------
    sigma_y, A, n : float
        Dynamic yield stress (stress units), prefactor, exponent.
    sigma_y_err, A_err, n_err : float
        Standard errors from the fit covariance.
    """

    sigma_y: float
    A: float
    n: float
    sigma_y_err: float = float("nan")
    A_err: float = float("nan")
    n_err: float = float("nan")

    def __call__(self, gdot: ArrayLike) -> NDArray[np.float64]:
        """Flow stress at the rates ``gdot``.

        Parameters
        ----------
        gdot : array_like
            Shear rates (1 / time), >= 0.

        Returns
        -------
        ndarray
            ``sigma_y + A gdot^n`` (stress units), same shape as ``gdot``.
        """
        return self.sigma_y + self.A * np.asarray(gdot, dtype=float) ** self.n

    def rate(self, sigma: ArrayLike) -> NDArray[np.float64]:
        """Inverse: the rate at stress ``sigma`` (0 below ``sigma_y``).

        Parameters
        ----------
        sigma : array_like
            Stresses (stress units).

        Returns
        -------
        ndarray
            Shear rates (1 / time), same shape as ``sigma``.

        Examples
        --------
        >>> hb = HerschelBulkley(sigma_y=0.5, A=2.0, n=0.5)
        >>> round(float(hb(0.01)), 12), round(float(hb.rate(0.7)), 12), float(hb.rate(0.4))
        (0.7, 0.01, 0.0)
        """
        x = np.maximum(np.asarray(sigma, dtype=float) - self.sigma_y, 0.0)
        return (x / self.A) ** (1.0 / self.n)


def fit_herschel_bulkley(
    gdot: ArrayLike, sigma: ArrayLike, sigma_err: ArrayLike | None = None
) -> HerschelBulkley:
    """Least-squares Herschel-Bulkley fit (scipy ``curve_fit``) of a flow curve.

    Parameters
    ----------
    gdot : (m,) array_like
        Shear rates, > 0, m >= 3.
    sigma : (m,) array_like
        Stationary stresses.
    sigma_err : (m,) array_like, optional
        Standard errors of ``sigma`` (weights).

    Returns
    -------
    HerschelBulkley

    Examples
    --------
    >>> import numpy as np
    >>> gdot = np.logspace(-4, -1, 8)
    >>> fit = fit_herschel_bulkley(gdot, 0.5 + 2.0 * gdot**0.5)
    >>> round(fit.sigma_y, 6), round(fit.A, 6), round(fit.n, 6)
    (0.5, 2.0, 0.5)
    """
    g = _vector("gdot", gdot)
    s = _vector("sigma", sigma)
    if g.shape != s.shape:
        raise ValueError(f"gdot {g.shape} and sigma {s.shape} differ in shape")
    if g.size < 3:
        raise ValueError("need at least 3 points for the 3-parameter fit")
    if np.any(g <= 0):
        raise ValueError("gdot must be > 0")
    err = None if sigma_err is None else _vector("sigma_err", sigma_err)

    def f(x: NDArray, sy: float, A: float, n: float) -> NDArray:
        return sy + A * x**n

    p0 = (max(float(s.min()) * 0.9, 0.0), float(np.ptp(s)) / max(float(np.ptp(g**0.5)), 1e-12),
          0.5)
    popt, pcov = scipy.optimize.curve_fit(
        f, g, s, p0=p0, sigma=err, absolute_sigma=err is not None,
        bounds=([-np.inf, 0.0, 0.01], [np.inf, np.inf, 3.0]), maxfev=20000,
    )
    perr = np.sqrt(np.diag(pcov)) if np.all(np.isfinite(pcov)) else np.full(3, np.nan)
    return HerschelBulkley(*map(float, popt), *map(float, perr))


def steady_mean(values: ArrayLike, skip: float = 0.5) -> tuple[float, float]:
    """Mean and standard error of the last ``1 - skip`` fraction of a stationary series.

    The standard error uses 20 consecutive blocks (robust to time correlations shorter
    than a block).

    Parameters
    ----------
    values : (m,) array_like
        A time series, e.g. ``Trajectory.sigma_ext``.
    skip : float
        Fraction of the series discarded as transient, in [0, 1).

    Returns
    -------
    mean, sem : float
    """
    v = _vector("values", values)
    if not 0.0 <= skip < 1.0:
        raise ValueError(f"skip must be in [0, 1), got {skip!r}")
    tail = v[int(skip * v.size):]
    nb = min(20, tail.size)
    blocks = np.array([b.mean() for b in np.array_split(tail, nb)])
    sem = float(blocks.std(ddof=1) / np.sqrt(nb)) if nb > 1 else float("nan")
    return float(tail.mean()), sem


# ------------------------------------------------------------------ transients
@dataclass(frozen=True)
class Overshoot:
    """Stress overshoot of a start-up curve.

    Attributes
    ----------
    peak : float
        Maximum stress.
    strain_at_peak : float
    steady : float
        Mean stress over the final ``steady_fraction`` of the curve.
    height : float
        ``peak - steady`` (>= 0).
    """

    peak: float
    strain_at_peak: float
    steady: float
    height: float


def overshoot(
    strain: ArrayLike,
    stress: ArrayLike,
    steady_fraction: float = 0.3,
    peak_before: float | None = None,
) -> Overshoot:
    """Peak, plateau and overshoot height of a stress-strain curve.

    Parameters
    ----------
    strain, stress : (m,) array_like
        The curve, strain increasing.
    steady_fraction : float
        Final fraction of the strain range taken as the plateau, in (0, 1).
    peak_before : float, optional
        Look for the peak only at strains <= this value (the transient), so that stationary
        fluctuations of a noisy curve are not mistaken for an overshoot.

    Returns
    -------
    Overshoot

    Examples
    --------
    >>> import numpy as np
    >>> strain = np.linspace(0.0, 1.0, 101)
    >>> stress = np.minimum(10 * strain, 0.6 - 0.1 * np.clip(strain - 0.06, 0, 0.1) / 0.1)
    >>> o = overshoot(strain, stress)
    >>> round(o.peak, 3), round(o.strain_at_peak, 2), round(o.steady, 3), round(o.height, 3)
    (0.6, 0.06, 0.5, 0.1)
    """
    e = _vector("strain", strain)
    s = _vector("stress", stress)
    if e.shape != s.shape:
        raise ValueError("strain and stress differ in shape")
    if not 0.0 < steady_fraction < 1.0:
        raise ValueError(f"steady_fraction must be in (0, 1), got {steady_fraction!r}")
    window = s if peak_before is None else np.where(e <= peak_before, s, -np.inf)
    i = int(np.argmax(window))
    cut = e[-1] - steady_fraction * (e[-1] - e[0])
    steady = float(s[e >= cut].mean())
    return Overshoot(float(s[i]), float(e[i]), steady, float(max(s[i] - steady, 0.0)))


def smooth_rate(time: ArrayLike, gamma: ArrayLike, window: int = 10) -> tuple[NDArray, NDArray]:
    """Strain rate from a strain history by finite differences over ``window`` records.

    Parameters
    ----------
    time, gamma : (m,) array_like
        Record times (time units) and strains, e.g. ``Trajectory.time`` and ``gamma_tot``.
    window : int
        Records per difference, in [1, m - 1].

    Returns
    -------
    t_mid, rate : (m - window,) ndarrays
    """
    t = _vector("time", time)
    g = _vector("gamma", gamma)
    if t.shape != g.shape:
        raise ValueError("time and gamma differ in shape")
    if not 1 <= window < t.size:
        raise ValueError(f"window must be in [1, {t.size - 1}], got {window!r}")
    return 0.5 * (t[window:] + t[:-window]), (g[window:] - g[:-window]) / (t[window:] - t[:-window])


def creep_is_stuck(
    gdot: ArrayLike, stuck_flag: bool = False, tol: float = 1e-6, tail: float = 0.1
) -> bool:
    """Whether a creep curve ended in the stuck (non-flowing) state.

    True when the model reported its absorbing state, or when the mean strain rate over the
    last ``tail`` fraction of the records is below ``tol``.

    Parameters
    ----------
    gdot : (m,) array_like
        Strain-rate records (1 / time), e.g. ``Trajectory.gdot_tot``.
    stuck_flag : bool
        The model's own verdict (``Trajectory.stuck``).
    tol : float
        Rate below which the curve counts as arrested.
    tail : float
        Final fraction of the records averaged.

    Returns
    -------
    bool
    """
    if stuck_flag:
        return True
    g = _vector("gdot", gdot)
    k = max(1, int(tail * g.size))
    return bool(np.mean(g[-k:]) < tol)


# ------------------------------------------------------------------ distributions
def density(values: ArrayLike, bins: int | ArrayLike = 40) -> tuple[NDArray, NDArray]:
    """Normalised histogram ``(centres, P)`` of samples (e.g. ``P_a(sigma_th)``, ``P(X)``).

    Parameters
    ----------
    values : array_like
        Samples (flattened).
    bins : int or array_like
        Number of bins or bin edges (as :func:`numpy.histogram`).

    Returns
    -------
    centres, P : (n_bins,) ndarrays
        Bin centres and density (``sum(P * widths) = 1``).
    """
    v = _vector("values", values)
    h, edges = np.histogram(v, bins=bins, density=True)
    return 0.5 * (edges[1:] + edges[:-1]), h


def cumulative(values: ArrayLike) -> tuple[NDArray, NDArray]:
    """Empirical cumulative distribution ``(x sorted, C(x) = P(X <= x))``, e.g. of gaps.

    Parameters
    ----------
    values : array_like
        Samples (flattened).

    Returns
    -------
    x, C : (n,) ndarrays

    Examples
    --------
    >>> x, C = cumulative([0.3, 0.1, 0.2, 0.4])
    >>> x.tolist(), C.tolist()
    ([0.1, 0.2, 0.3, 0.4], [0.25, 0.5, 0.75, 1.0])
    """
    v = np.sort(_vector("values", values))
    return v, np.arange(1, v.size + 1) / v.size


# ------------------------------------------------------------------ localisation
def localisation_index(field: ArrayLike) -> float:
    """Localisation index of a strain field on an ``L x L`` lattice (seed 002, eq. 13).

    ``LOC = L sum_ij eps_ij^4 / (sum_ij eps_ij^2)^2 = 1 / (L PR)`` with ``L`` the *linear*
    size and ``PR`` the participation ratio normalised by the number of sites
    (:func:`participation_ratio`). Values: ``1 / L`` for a uniform field, ``1`` for a single
    band (one full row or column, any band of width ``w``: ``1 / w``), ``L`` for a single
    site.

    Parameters
    ----------
    field : (L, L) array_like, or (L*L,) with L*L a perfect square
        Strain field (the index is scale invariant).

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> band = np.zeros((8, 8))
    >>> band[3] = 1.0
    >>> localisation_index(np.ones((8, 8))), localisation_index(band)
    (0.125, 1.0)
    """
    f = np.asarray(field, dtype=float)
    if f.ndim == 1:
        L = int(round(np.sqrt(f.size)))
        if L * L != f.size or f.size == 0:
            raise ValueError(f"a 1D field must have L*L entries, got {f.size}")
    elif f.ndim == 2 and f.shape[0] == f.shape[1] and f.size:
        L = f.shape[0]
    else:
        raise ValueError(f"field must be (L, L) or (L*L,), got shape {f.shape}")
    if not np.all(np.isfinite(f)):
        raise ValueError("field must be finite")
    s2 = float(np.sum(f * f))
    if s2 == 0.0:
        raise ValueError("localisation index of a zero field is undefined")
    return float(L * np.sum(f**4) / s2**2)


def participation_ratio(field: ArrayLike) -> float:
    """Participation ratio ``(sum eps^2)^2 / (N sum eps^4)`` over the ``N`` sites, in (0, 1].

    1 for a uniform field, ``1 / N`` for a single site.

    Parameters
    ----------
    field : array_like
        Strain field, any shape (flattened), finite and not identically zero.

    Returns
    -------
    float
    """
    f = np.asarray(field, dtype=float).ravel()
    if f.size == 0 or not np.all(np.isfinite(f)):
        raise ValueError("field must be non-empty and finite")
    s4 = float(np.sum(f**4))
    if s4 == 0.0:
        raise ValueError("participation ratio of a zero field is undefined")
    return float(np.sum(f * f) ** 2 / (f.size * s4))


# ------------------------------------------------------------------ quasistatic curves
def stress_at_strain(
    gamma: ArrayLike,
    sigma_after: ArrayLike,
    grid: ArrayLike,
    mu: float,
    gamma0: float = 0.0,
    sigma0: float = 0.0,
) -> NDArray[np.float64]:
    """External stress of a quasistatic run at the strains ``grid`` (stable states).

    Between avalanches the response is elastic with slope ``mu`` (engineering strain).

    Parameters
    ----------
    gamma : (n_av,) array_like
        Strains of the avalanches (increasing).
    sigma_after : (n_av,) array_like
        External stress after each avalanche.
    grid : (m,) array_like
        Strains at which to evaluate, >= ``gamma0``.
    mu : float
        Shear modulus (stress units).
    gamma0, sigma0 : float
        Starting point of the run.

    Returns
    -------
    (m,) ndarray
        External stress at each strain of ``grid`` (stress units).
    """
    g = np.asarray(gamma, dtype=float)
    sa = np.asarray(sigma_after, dtype=float)
    x = np.asarray(grid, dtype=float)
    gg = np.concatenate([[gamma0], g])
    ss = np.concatenate([[sigma0], sa])
    j = np.searchsorted(gg, x, side="right") - 1
    j = np.clip(j, 0, gg.size - 1)
    return ss[j] + mu * (x - gg[j])

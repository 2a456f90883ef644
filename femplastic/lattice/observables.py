"""Observables of the scalar lattice models (Liu et al. 2021-002).

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
    "realisation_mean",
    "bootstrap_herschel_bulkley",
    "Overshoot",
    "overshoot",
    "TransientExcess",
    "transient_excess",
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
        Standard errors from the fit covariance (0 for a parameter held fixed).
    corr_sigma_y_n : float
        Correlation coefficient of ``sigma_y`` and ``n`` in the fit covariance (nan when
        either is held fixed): close to 1 means the data fix a combination of the two, not
        each one.
    """

    sigma_y: float
    A: float
    n: float
    sigma_y_err: float = float("nan")
    A_err: float = float("nan")
    n_err: float = float("nan")
    corr_sigma_y_n: float = float("nan")

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
    gdot: ArrayLike,
    sigma: ArrayLike,
    sigma_err: ArrayLike | None = None,
    *,
    sigma_y: float | None = None,
    n: float | None = None,
) -> HerschelBulkley:
    """Least-squares Herschel-Bulkley fit (scipy ``curve_fit``) of a flow curve.

    Parameters
    ----------
    gdot : (m,) array_like
        Shear rates, > 0; m >= the number of free parameters.
    sigma : (m,) array_like
        Stationary stresses.
    sigma_err : (m,) array_like, optional
        Standard errors of ``sigma``, > 0 (weights, taken as absolute: the parameter errors
        then follow from them, not from the residuals).
    sigma_y, n : float, optional
        Hold the yield stress and/or the exponent fixed at these values (e.g. a paper's
        ``sigma_y``) and fit the rest.

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
    >>> fixed = fit_herschel_bulkley(gdot, 0.5 + 2.0 * gdot**0.5, sigma_y=0.5)
    >>> round(fixed.n, 6), fixed.sigma_y_err
    (0.5, 0.0)
    """
    g = _vector("gdot", gdot)
    s = _vector("sigma", sigma)
    if g.shape != s.shape:
        raise ValueError(f"gdot {g.shape} and sigma {s.shape} differ in shape")
    if np.any(g <= 0):
        raise ValueError("gdot must be > 0")
    for name, v in (("sigma_y", sigma_y), ("n", n)):
        if v is not None and not np.isfinite(float(v)):
            raise ValueError(f"{name} must be finite when given, got {v!r}")
    if n is not None and not 0.0 < float(n) <= 3.0:
        raise ValueError(f"n must be in (0, 3] when given, got {n!r}")
    free = [name for name, v in (("sigma_y", sigma_y), ("A", None), ("n", n)) if v is None]
    if g.size < max(len(free), 2):
        raise ValueError(f"need at least {max(len(free), 2)} points for a fit of {free}")
    err = None if sigma_err is None else _vector("sigma_err", sigma_err)
    if err is not None and (err.shape != g.shape or np.any(err <= 0)):
        raise ValueError("sigma_err must have the shape of gdot and be > 0")

    def full(x: NDArray, *q: float) -> NDArray:
        v = dict(zip(free, q, strict=True))
        sy = v.get("sigma_y", sigma_y)
        return sy + v["A"] * x ** v.get("n", n)

    start = {"sigma_y": max(float(s.min()) * 0.9, 0.0),
             "A": float(np.ptp(s)) / max(float(np.ptp(g**0.5)), 1e-12), "n": 0.5}
    if sigma_y is not None and n is not None:  # only A: linear least squares, exact
        x = g ** float(n)
        w = np.ones_like(g) if err is None else 1.0 / err**2
        A = float(np.sum(w * x * (s - sigma_y)) / np.sum(w * x * x))
        if err is None:
            res = s - sigma_y - A * x
            var = float(np.sum(res**2) / max(g.size - 1, 1) / np.sum(x * x))
        else:
            var = float(1.0 / np.sum(w * x * x))
        return HerschelBulkley(float(sigma_y), A, float(n), 0.0, float(np.sqrt(var)), 0.0)
    lo = {"sigma_y": -np.inf, "A": 0.0, "n": 0.01}
    hi = {"sigma_y": np.inf, "A": np.inf, "n": 3.0}
    popt, pcov = scipy.optimize.curve_fit(
        full, g, s, p0=[start[k] for k in free], sigma=err, absolute_sigma=err is not None,
        bounds=([lo[k] for k in free], [hi[k] for k in free]), maxfev=20000,
    )
    ok = np.all(np.isfinite(pcov))
    perr = np.sqrt(np.diag(pcov)) if ok else np.full(len(free), np.nan)
    val = dict(zip(free, map(float, popt), strict=True))
    e = dict(zip(free, map(float, perr), strict=True))
    corr = float("nan")
    if ok and "sigma_y" in free and "n" in free:
        i, j = free.index("sigma_y"), free.index("n")
        den = np.sqrt(pcov[i, i] * pcov[j, j])
        corr = float(pcov[i, j] / den) if den > 0 else float("nan")  # a pinned parameter
    return HerschelBulkley(
        val.get("sigma_y", sigma_y), val["A"], val.get("n", n),  # type: ignore[arg-type]
        e.get("sigma_y", 0.0), e["A"], e.get("n", 0.0), corr,
    )


def realisation_mean(values: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Mean over independent realisations and its standard error.

    The error is the realisation-to-realisation scatter ``std(ddof=1) / sqrt(n_real)``: it
    includes everything that differs between realisations (initial disorder, slow
    fluctuations longer than a block), which block errors of one run can miss.

    Parameters
    ----------
    values : (n_real, ...) array_like
        One row per independent realisation (e.g. the steady stress at each rate), n_real >= 2.

    Returns
    -------
    mean, sem : (...) ndarrays

    Examples
    --------
    >>> m, e = realisation_mean([[1.0, 2.0], [3.0, 2.0]])
    >>> m.tolist(), e.tolist()
    ([2.0, 2.0], [1.0, 0.0])
    """
    v = np.asarray(values, dtype=float)
    if v.ndim < 1 or v.shape[0] < 2:
        raise ValueError(f"values needs at least 2 realisations along axis 0, got {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError("values must be finite")
    return v.mean(axis=0), v.std(axis=0, ddof=1) / np.sqrt(v.shape[0])


def bootstrap_herschel_bulkley(
    gdot: ArrayLike,
    samples: ArrayLike,
    rng: np.random.Generator,
    n_boot: int = 400,
    level: float = 0.68,
    **fixed: float,
) -> dict[str, tuple[float, float]]:
    """Intervals of the HB parameters by resampling realisations (bootstrap).

    Each resample draws ``n_real`` realisations with replacement, averages them per rate and
    refits (weights: the resample's own realisation errors); the interval is the central
    ``level`` quantile range of each fitted parameter.

    Parameters
    ----------
    gdot : (m,) array_like
        Shear rates, > 0.
    samples : (n_real, m) array_like
        Steady stress of each realisation at each rate, n_real >= 3.
    rng : numpy.random.Generator
        Source of the resampling.
    n_boot : int
        Number of resamples, >= 20.
    level : float
        Coverage of the interval, in (0, 1).
    **fixed : float
        ``sigma_y=...`` and/or ``n=...`` held fixed (as :func:`fit_herschel_bulkley`).

    Returns
    -------
    dict
        ``{"sigma_y": (lo, hi), "A": (lo, hi), "n": (lo, hi)}`` for the free parameters.
    """
    g = _vector("gdot", gdot)
    x = np.asarray(samples, dtype=float)
    if x.ndim != 2 or x.shape[1] != g.size or x.shape[0] < 3:
        raise ValueError(f"samples must be (n_real >= 3, {g.size}), got {x.shape}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 20:
        raise ValueError(f"n_boot must be an integer >= 20, got {n_boot!r}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    free = [k for k in ("sigma_y", "A", "n") if k not in fixed]
    vals: dict[str, list[float]] = {k: [] for k in free}
    k_real = x.shape[0]
    for _ in range(n_boot):
        pick = x[rng.integers(0, k_real, k_real)]
        m = pick.mean(axis=0)
        e = pick.std(axis=0, ddof=1) / np.sqrt(k_real)
        e = np.maximum(e, 1e-3 * max(float(np.median(e)), 1e-12))
        try:
            f = fit_herschel_bulkley(g, m, e, **fixed)
        except (RuntimeError, ValueError):  # a degenerate resample
            continue
        for k in free:
            vals[k].append(getattr(f, k))
    q = (0.5 - level / 2, 0.5 + level / 2)
    return {k: (float(np.quantile(v, q[0])), float(np.quantile(v, q[1]))) for k, v in vals.items()}


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


@dataclass(frozen=True)
class TransientExcess:
    """Peak-minus-plateau of an ensemble of start-up curves, with an error over realisations.

    Attributes
    ----------
    excess, excess_sem : float
        Mean over realisations of ``curve_r(strain*) - plateau_r`` and its standard error.
    strain_at_peak : float
        Strain of the maximum of the ensemble-mean curve in the transient window.
    naive : float
        Maximum of the ensemble-mean curve minus its plateau: biased upwards by the noise
        (the maximum of a noisy curve), reported for comparison only.
    """

    excess: float
    excess_sem: float
    strain_at_peak: float
    naive: float


def transient_excess(
    strain: ArrayLike, curves: ArrayLike, peak_before: float, plateau_from: float
) -> TransientExcess:
    """Overshoot height of an ensemble, free of the max-of-noise bias, with its error.

    The realisations are split in two halves (even and odd rows); each half is evaluated at
    the strain where the *other* half's mean curve peaks (at strains ``<= peak_before``), so
    the location is chosen independently of the values it is evaluated on. Per realisation
    ``d_r = curve_r(strain*) - mean(curve_r[strain >= plateau_from])``; the result is
    ``mean(d) +- std(d) / sqrt(n)``. A curve without overshoot gives an excess consistent
    with 0 (or negative, on a rising curve), where the maximum of the averaged curve gives
    a positive "peak" of the size of the noise.

    Parameters
    ----------
    strain : (m,) array_like
        Common strain grid of the curves, increasing.
    curves : (n_real, m) array_like
        One stress-strain curve per realisation, n_real >= 4.
    peak_before : float
        Transient window: the peak is looked for at ``strain <= peak_before``.
    plateau_from : float
        Plateau: the mean over ``strain >= plateau_from``; > ``peak_before``.

    Returns
    -------
    TransientExcess

    Examples
    --------
    >>> import numpy as np
    >>> e = np.linspace(0, 2, 201)
    >>> rng = np.random.default_rng(0)
    >>> flat = 0.6 + 0.02 * rng.standard_normal((40, e.size))
    >>> r = transient_excess(e, flat, 0.5, 1.0)
    >>> abs(r.excess) < 2 * r.excess_sem, r.naive > 2 * r.excess_sem
    (True, True)
    """
    e = _vector("strain", strain)
    c = np.asarray(curves, dtype=float)
    if c.ndim != 2 or c.shape[1] != e.size or c.shape[0] < 4:
        raise ValueError(f"curves must be (n_real >= 4, {e.size}), got {c.shape}")
    if not np.all(np.isfinite(c)):
        raise ValueError("curves must be finite")
    if not plateau_from > peak_before:
        raise ValueError(f"plateau_from must be > peak_before, got {plateau_from!r} <= "
                         f"{peak_before!r}")
    early = e <= peak_before
    late = e >= plateau_from
    if not early.any() or not late.any():
        raise ValueError("the transient window or the plateau holds no strain of the grid")
    plateau = c[:, late].mean(axis=1)
    d = np.empty(c.shape[0])
    halves = (np.arange(c.shape[0]) % 2 == 0, np.arange(c.shape[0]) % 2 == 1)
    for h, other in ((halves[0], halves[1]), (halves[1], halves[0])):
        i = int(np.argmax(np.where(early, c[other].mean(axis=0), -np.inf)))
        d[h] = c[h, i] - plateau[h]
    mean = c.mean(axis=0)
    i_all = int(np.argmax(np.where(early, mean, -np.inf)))
    return TransientExcess(float(d.mean()), float(d.std(ddof=1) / np.sqrt(d.size)),
                           float(e[i_all]), float(mean[i_all] - mean[late].mean()))


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
    if isinstance(window, bool) or not isinstance(window, int | np.integer) \
            or not 1 <= window < t.size:
        raise ValueError(f"window must be an integer in [1, {t.size - 1}], got {window!r}")
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
    """Localisation index of a strain field on an ``L x L`` lattice (Tyukodi et al. 2023, eq. 13).

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
    g = np.asarray(gamma, dtype=float).reshape(-1)
    sa = np.asarray(sigma_after, dtype=float).reshape(-1)
    x = _vector("grid", np.atleast_1d(np.asarray(grid, dtype=float)))
    if g.shape != sa.shape or not (np.all(np.isfinite(g)) and np.all(np.isfinite(sa))):
        raise ValueError(f"gamma {g.shape} and sigma_after {sa.shape} must be finite 1D arrays "
                         "of the same length")
    m = float(mu) if isinstance(mu, int | float | np.integer | np.floating) else float("nan")
    if not (np.isfinite(m) and m > 0):
        raise ValueError(f"mu must be in (0, inf), got {mu!r}")
    if not (np.isfinite(gamma0) and np.isfinite(sigma0)):
        raise ValueError(f"gamma0 and sigma0 must be finite, got {gamma0!r}, {sigma0!r}")
    if np.any(x < gamma0):
        raise ValueError(f"grid must be >= gamma0={gamma0:g}, got min {float(x.min()):g}")
    mu = m
    gg = np.concatenate([[gamma0], g])
    ss = np.concatenate([[sigma0], sa])
    j = np.searchsorted(gg, x, side="right") - 1
    j = np.clip(j, 0, gg.size - 1)
    return ss[j] + mu * (x - gg[j])

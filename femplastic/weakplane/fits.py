"""Fits and estimators for the weak-plane observables (Castellanos et al. 2021, sec. 5 and 6, A.5).

* **Finite-size scaling.** :func:`scaling_fit` fits ``y(L) = A L^b`` to the per-size means of
  per-realisation values (e.g. ``std(Sigma_ext)`` of each run) by least squares in log-log,
  with a bootstrap interval that resamples the realisations of every size independently
  (sizes are independent ensembles). :func:`fit_range_scan` repeats the fit on every
  contiguous sub-range of sizes and :func:`local_slopes` gives the slope between neighbouring
  sizes, so that a drift of the exponent with the fit range is visible instead of hidden in
  one number.
* **Left-tail exponent.** :func:`left_tail_exponent` estimates ``theta`` in
  ``P(x) ~ x^theta`` for ``x -> 0+`` (e.g. distances to threshold ``dtau_c``: ``theta > 0`` is
  a pseudo-gap, the marginal stability expected of elasto-plastic models; ``theta < 0`` a
  density that piles up at 0) by the Hill maximum-likelihood estimator on the smallest values
  of the sample, with its standard error and a bootstrap interval; :func:`density_slope`
  reads the same tail as a log-log histogram does.
* **Orientation dependence.** :func:`circular_minima` finds the local minima of a quantity
  sampled on a periodic grid of orientations; :func:`harmonics` fits its Fourier components
  (in ``alpha``: order 2 for the forward/backward anisotropy of a sheared state, order 4 for
  the square symmetry of the mesh, whose positive ``cos 4 alpha`` coefficient puts minima at
  +-45 deg; Castellanos et al. 2021, fig. 8).

Every random draw comes from the ``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "ScalingFit",
    "scaling_fit",
    "fit_range_scan",
    "local_slopes",
    "TailFit",
    "left_tail_exponent",
    "circular_minima",
    "harmonics",
    "density_slope",
]


def _check_rng(rng: object) -> None:
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator (e.g. np.random.default_rng(0))")


def _check_level(level: float) -> None:
    if not (np.isfinite(level) and 0 < level < 1):
        raise ValueError(f"level must be in (0, 1), got {level!r}")


def _check_n_boot(n_boot: int) -> None:
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < 2:
        raise ValueError(f"n_boot must be an integer >= 2, got {n_boot!r}")


def _size_samples(sizes: ArrayLike, samples: list[ArrayLike]
                  ) -> tuple[NDArray[np.float64], list[NDArray[np.float64]]]:
    x = np.asarray(sizes, dtype=float).ravel()
    if x.size < 2 or not np.all(np.isfinite(x)) or np.any(x <= 0):
        raise ValueError("sizes must hold at least 2 finite values > 0")
    if np.unique(x).size != x.size:
        raise ValueError("sizes must be distinct")
    if len(samples) != x.size:
        raise ValueError(f"samples must hold one array per size ({x.size}), got {len(samples)}")
    ys = []
    for L, s in zip(x, samples, strict=True):
        a = np.asarray(s, dtype=float).ravel()
        if a.size == 0 or not np.all(np.isfinite(a)) or np.any(a <= 0):
            raise ValueError(f"samples for size {L:g} must be a non-empty array of finite "
                             f"values > 0")
        ys.append(a)
    order = np.argsort(x)
    return x[order], [ys[i] for i in order]


def _loglog_slope(x: NDArray[np.float64], y: NDArray[np.float64]) -> tuple[float, float]:
    b, lnA = np.polyfit(np.log(x), np.log(y), 1)
    return float(np.exp(lnA)), float(b)


@dataclass(frozen=True)
class ScalingFit:
    """A power law ``y = A L^b`` fitted to per-size means, with a bootstrap interval.

    Attributes
    ----------
    exponent : float
        ``b`` (negative for a quantity that decreases with size).
    prefactor : float
        ``A``, in the units of ``y``.
    interval : (float, float)
        Bootstrap percentile interval of ``b`` at confidence ``level``.
    stderr : float
        Bootstrap standard deviation of ``b``.
    level : float
        Confidence level of ``interval``.
    sizes : (m,) ndarray
        Sizes used, increasing.
    means : (m,) ndarray
        Mean of the realisations at each size.
    sems : (m,) ndarray
        Standard error of each mean (``std / sqrt(n - 1)``; 0 for one realisation).
    counts : (m,) int ndarray
        Realisations per size.
    """

    exponent: float
    prefactor: float
    interval: tuple[float, float]
    stderr: float
    level: float
    sizes: NDArray[np.float64]
    means: NDArray[np.float64]
    sems: NDArray[np.float64]
    counts: NDArray[np.int64]


def scaling_fit(sizes: ArrayLike, samples: list[ArrayLike], rng: np.random.Generator,
                n_boot: int = 2000, level: float = 0.95) -> ScalingFit:
    """Fit ``mean(y | L) = A L^b`` and bootstrap ``b`` over the realisations.

    The fit is ordinary least squares of ``log mean`` on ``log L`` (every size weighs the
    same). Each bootstrap replica draws, for every size independently, as many realisations
    as it has, with replacement, and refits.

    Parameters
    ----------
    sizes : (m,) array_like
        Distinct system sizes (> 0), m >= 2, in any order.
    samples : list of m array_like
        Per-realisation values at each size (> 0, finite), e.g. ``std(Sigma_ext)`` of every
        run.
    rng : numpy.random.Generator
        Source of the bootstrap resampling.
    n_boot : int
        Bootstrap replicas (>= 2).
    level : float
        Confidence level of the percentile interval, in (0, 1).

    Returns
    -------
    ScalingFit

    Raises
    ------
    TypeError
        If ``rng`` is not a ``numpy.random.Generator``.
    ValueError
        If the sizes are not >= 2 distinct positive values, ``samples`` has not one
        non-empty positive array per size, or ``n_boot`` / ``level`` is out of range.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> L = [8, 16, 32, 64]
    >>> fit = scaling_fit(L, [0.7 * x**-0.9 * np.ones(4) for x in L], rng, n_boot=10)
    >>> round(fit.exponent, 6), round(fit.prefactor, 6), fit.interval == (fit.exponent,) * 2
    (-0.9, 0.7, True)
    """
    _check_rng(rng)
    _check_n_boot(n_boot)
    _check_level(level)
    x, ys = _size_samples(sizes, samples)
    means = np.array([y.mean() for y in ys])
    counts = np.array([y.size for y in ys], dtype=np.int64)
    sems = np.array([y.std() / np.sqrt(y.size - 1) if y.size > 1 else 0.0 for y in ys])
    A, b = _loglog_slope(x, means)
    lx = np.log(x)
    boot = np.empty(n_boot)
    for i in range(n_boot):
        m = np.array([y[rng.integers(0, y.size, y.size)].mean() for y in ys])
        boot[i] = np.polyfit(lx, np.log(m), 1)[0]
    lo, hi = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2])
    # identical replicas can give quantiles a rounding step away from the fit: clip to it
    lo, hi = min(float(lo), b), max(float(hi), b)
    return ScalingFit(b, A, (lo, hi), float(boot.std()), float(level), x, means, sems, counts)


def fit_range_scan(sizes: ArrayLike, samples: list[ArrayLike], rng: np.random.Generator,
                   min_points: int = 3, n_boot: int = 500, level: float = 0.95
                   ) -> list[dict[str, float]]:
    """:func:`scaling_fit` on every contiguous range of at least ``min_points`` sizes.

    Parameters
    ----------
    sizes, samples
        As for :func:`scaling_fit`.
    rng : numpy.random.Generator
        Source of the bootstrap resampling (consumed range after range, in the order
        returned).
    min_points : int
        Fewest sizes in a range (>= 2, at most the number of sizes).
    n_boot : int
        Bootstrap replicas per range (>= 2).
    level : float
        Confidence level, in (0, 1).

    Returns
    -------
    list of dict
        One per range, ordered by first size then last: ``L_min``, ``L_max``, ``points``,
        ``exponent``, ``low``, ``high`` (the interval), ``stderr``.

    Raises
    ------
    ValueError
        As :func:`scaling_fit`, or if ``min_points`` is out of range.
    """
    x, ys = _size_samples(sizes, samples)
    if isinstance(min_points, bool) or not isinstance(min_points, int | np.integer) \
            or not 2 <= min_points <= x.size:
        raise ValueError(f"min_points must be an integer in [2, {x.size}], got {min_points!r}")
    out = []
    for i in range(x.size):
        for j in range(i + min_points, x.size + 1):
            f = scaling_fit(x[i:j], ys[i:j], rng, n_boot=n_boot, level=level)
            out.append({"L_min": float(x[i]), "L_max": float(x[j - 1]), "points": j - i,
                        "exponent": f.exponent, "low": f.interval[0], "high": f.interval[1],
                        "stderr": f.stderr})
    return out


def local_slopes(sizes: ArrayLike, values: ArrayLike
                 ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Slopes ``d ln y / d ln L`` between neighbouring sizes, at their geometric midpoints.

    Parameters
    ----------
    sizes, values : (m,) array_like
        Distinct sizes (> 0) and values (> 0), m >= 2, in any order (sorted by size here).

    Returns
    -------
    midpoints, slopes : (m - 1,) ndarrays

    Raises
    ------
    ValueError
        If the arrays differ in shape, hold fewer than 2 points, or are not positive.

    Examples
    --------
    >>> mid, s = local_slopes([8, 32, 16], [0.08, 0.02, 0.04])
    >>> mid.round(3).tolist(), s.round(6).tolist()
    ([11.314, 22.627], [-1.0, -1.0])
    """
    x = np.asarray(sizes, dtype=float).ravel()
    y = np.asarray(values, dtype=float).ravel()
    if x.shape != y.shape or x.size < 2 or np.any(x <= 0) or np.any(y <= 0) \
            or np.unique(x).size != x.size:
        raise ValueError("sizes and values must be same-shape arrays of >= 2 positive values, "
                         "distinct sizes")
    o = np.argsort(x)
    lx, ly = np.log(x[o]), np.log(y[o])
    return np.exp(0.5 * (lx[1:] + lx[:-1])), np.diff(ly) / np.diff(lx)


@dataclass(frozen=True)
class TailFit:
    """Left-tail exponent ``theta`` of ``P(x) ~ x^theta`` (x -> 0+).

    Attributes
    ----------
    theta : float
        Hill estimate ``a - 1``, with ``a = (k - 1) / sum ln(x_(k+1) / x_(i))``.
    stderr : float
        Asymptotic standard error ``a / sqrt(k - 2)``.
    interval : (float, float)
        Bootstrap percentile interval of ``theta`` at confidence ``level``.
    level : float
    k : int
        Number of smallest values used (``inf`` estimates, from ties at the threshold, are
        possible with heavily repeated values).
    threshold : float
        ``x_(k+1)``: the tail is ``x < threshold``.
    n : int
        Sample size.
    """

    theta: float
    stderr: float
    interval: tuple[float, float]
    level: float
    k: int
    threshold: float
    n: int


def _hill(xs: NDArray[np.float64], k: int) -> tuple[float, float]:
    """(a, threshold) from a sorted sample: CDF ~ x^a below u = x_(k+1).

    Only the values strictly below ``u`` enter (values tied with ``u`` sit at the threshold,
    not below it): repeated values then give a finite estimate.
    """
    u = xs[k]
    below = xs[:k][xs[:k] < u]
    s = float(np.log(u / below).sum())
    return ((below.size - 1) / s if s > 0 and below.size > 1 else np.inf), float(u)


def left_tail_exponent(x: ArrayLike, fraction: float = 0.1, rng: np.random.Generator | None = None,
                       n_boot: int = 1000, level: float = 0.95,
                       groups: ArrayLike | None = None) -> TailFit:
    """Hill estimate of ``theta`` in ``P(x) ~ x^theta`` near ``x = 0`` from a positive sample.

    Below a threshold ``u`` a density ``~ x^theta`` has the conditional law
    ``P(X < x | X < u) = (x / u)^a``, ``a = theta + 1 > 0``; the maximum-likelihood estimate
    from the ``k`` smallest values with ``u = x_(k+1)`` is ``k / sum ln(u / x_(i))``; the
    factor ``(k - 1)`` instead of ``k`` makes ``1 / a`` unbiased. ``theta < 0`` means a
    density that diverges at 0, ``theta > 0`` one that vanishes (a pseudo-gap). Values tied
    with ``u`` are left out of the sum and of ``k`` (they are at the threshold, not below),
    so a sample with repeated values (a weighted sample) gives a finite estimate.

    The estimate is only as good as the power law below ``u``: compare several ``fraction``
    values (a drift means the tail has not reached its asymptote).

    Parameters
    ----------
    x : array_like
        Sample of a positive quantity (flattened); every value must be finite and > 0.
    fraction : float
        Share of the sample used, in (0, 1); ``k = floor(fraction n)`` must be >= 3.
    rng : numpy.random.Generator, optional
        Source of the bootstrap resampling (sample resampled, tail refitted); without it the
        interval is the asymptotic ``theta +- z stderr``.
    n_boot : int
        Bootstrap replicas (>= 2).
    level : float
        Confidence level of the interval, in (0, 1).
    groups : (n,) array_like, optional
        Label of the independent unit each value belongs to (e.g. its realisation): the
        bootstrap then resamples whole groups (values within a group may be correlated, as
        overlapping patches of one state are). Default: values resampled independently.

    Returns
    -------
    TailFit

    Raises
    ------
    TypeError
        If ``rng`` is given and is not a ``numpy.random.Generator``.
    ValueError
        If ``x`` is empty or holds a value that is not finite and > 0 (an atom at 0 has no
        exponent), ``fraction`` is not in (0, 1) or leaves fewer than 3 values, or
        ``n_boot`` / ``level`` is out of range.

    Examples
    --------
    A density ``2 x`` on (0, 1) (``theta = 1``):

    >>> import numpy as np
    >>> x = np.sqrt(np.random.default_rng(1).random(20000))
    >>> fit = left_tail_exponent(x, 0.2)
    >>> abs(fit.theta - 1.0) < 3 * fit.stderr, fit.k
    (True, 4000)
    """
    a = np.asarray(x, dtype=float).ravel()
    if a.size == 0:
        raise ValueError("left_tail_exponent needs a non-empty sample x")
    if not np.all(np.isfinite(a)) or np.any(a <= 0):
        raise ValueError("x must hold finite values > 0 (the tail exponent of an atom at 0 "
                         "is undefined)")
    if not (np.isfinite(fraction) and 0 < fraction < 1):
        raise ValueError(f"fraction must be in (0, 1), got {fraction!r}")
    if groups is not None:
        g = np.asarray(groups).ravel()
        if g.shape != a.shape:
            raise ValueError(f"groups must have one label per value ({a.size}), got {g.size}")
        members = [np.flatnonzero(g == u) for u in np.unique(g)]
    k = int(np.floor(fraction * a.size))
    if k < 3 or k >= a.size:
        raise ValueError(f"fraction {fraction} of {a.size} values leaves k = {k}; need "
                         f"3 <= k < n")
    _check_level(level)
    xs = np.sort(a)
    ah, u = _hill(xs, k)
    theta = ah - 1.0
    se = ah / np.sqrt(k - 2) if k > 2 else np.inf
    if rng is None:
        from scipy.stats import norm

        z = float(norm.ppf(0.5 + level / 2))
        interval = (theta - z * se, theta + z * se)
    else:
        _check_rng(rng)
        _check_n_boot(n_boot)
        boot = np.empty(n_boot)
        for i in range(n_boot):
            if groups is None:
                xb = a[rng.integers(0, a.size, a.size)]
            else:
                pick = rng.integers(0, len(members), len(members))
                xb = a[np.concatenate([members[j] for j in pick])]
            kb = min(k, xb.size - 1)
            boot[i] = _hill(np.sort(xb), kb)[0] - 1.0 if kb >= 3 else np.inf
        # ties can make a replica infinite: a quantile method without interpolation keeps them
        lo, hi = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2], method="inverted_cdf")
        interval = (float(lo), float(hi))
    return TailFit(float(theta), float(se), interval, float(level), k, u, int(a.size))


def circular_minima(angles: ArrayLike, values: ArrayLike, period: float = np.pi
                    ) -> NDArray[np.float64]:
    """Angles of the strict local minima of ``values`` sampled on a periodic grid.

    A point is a minimum when it is lower than both neighbours, the grid wrapping around
    (the last point's right neighbour is the first). Orientations of a shear test have period
    ``pi`` (``M(alpha + pi) = M(alpha)``).

    Parameters
    ----------
    angles : (m,) array_like
        Equally spaced grid covering one period, m >= 3 (radians), increasing.
    values : (m,) array_like
        The sampled quantity.
    period : float
        The period (> 0).

    Returns
    -------
    ndarray
        Angles of the minima, mapped to ``[-period / 2, period / 2)``, sorted.

    Raises
    ------
    ValueError
        If the arrays differ in shape, hold fewer than 3 points, or the grid is not
        increasing within one period.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.linspace(0, np.pi, 36, endpoint=False)
    >>> np.degrees(circular_minima(a, np.cos(4 * a))).round(1).tolist()
    [-45.0, 45.0]
    """
    a = np.asarray(angles, dtype=float).ravel()
    v = np.asarray(values, dtype=float).ravel()
    if a.shape != v.shape or a.size < 3:
        raise ValueError("angles and values must be same-shape arrays of >= 3 points")
    if not (np.isfinite(period) and period > 0):
        raise ValueError(f"period must be > 0, got {period!r}")
    if np.any(np.diff(a) <= 0) or a[-1] - a[0] >= period:
        raise ValueError("angles must increase and span less than one period")
    lower = (v < np.roll(v, 1)) & (v < np.roll(v, -1))
    out = (a[lower] + period / 2) % period - period / 2
    return np.sort(out)


def harmonics(angles: ArrayLike, values: ArrayLike, orders: tuple[int, ...] = (2, 4)
              ) -> dict[str, float]:
    """Least-squares fit ``v = c0 + sum_m (a_m cos m alpha + b_m sin m alpha)``.

    Parameters
    ----------
    angles : (m,) array_like
        Orientations (radians).
    values : (m,) array_like
        The sampled quantity; more points than coefficients.
    orders : tuple of int
        Harmonic orders ``m >= 1`` (distinct).

    Returns
    -------
    dict
        ``c0``; ``cos<m>``, ``sin<m>`` and their standard errors ``cos<m>_se``, ``sin<m>_se``
        for each order (from the residual variance); ``resid_std``.

    Raises
    ------
    ValueError
        If the arrays differ in shape, ``orders`` is empty or holds a value < 1 or repeats,
        or there are not more points than coefficients.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.linspace(0, np.pi, 36, endpoint=False)
    >>> h = harmonics(a, 1.0 + 0.2 * np.cos(4 * a) - 0.1 * np.sin(2 * a))
    >>> round(h["c0"], 12), round(h["cos4"], 12), round(h["sin2"], 12)
    (1.0, 0.2, -0.1)
    """
    a = np.asarray(angles, dtype=float).ravel()
    v = np.asarray(values, dtype=float).ravel()
    orders = tuple(int(m) for m in orders)
    if a.shape != v.shape:
        raise ValueError("angles and values must have the same shape")
    if not orders or min(orders) < 1 or len(set(orders)) != len(orders):
        raise ValueError(f"orders must be distinct integers >= 1, got {orders!r}")
    ncoef = 1 + 2 * len(orders)
    if a.size <= ncoef:
        raise ValueError(f"need more than {ncoef} points for {ncoef} coefficients, got {a.size}")
    cols = [np.ones_like(a)]
    for m in orders:
        cols += [np.cos(m * a), np.sin(m * a)]
    X = np.stack(cols, axis=1)
    coef, *_ = np.linalg.lstsq(X, v, rcond=None)
    resid = v - X @ coef
    s2 = float(resid @ resid) / (a.size - ncoef)
    se = np.sqrt(np.diag(np.linalg.inv(X.T @ X)) * s2)
    out = {"c0": float(coef[0])}
    for i, m in enumerate(orders):
        out[f"cos{m}"] = float(coef[1 + 2 * i])
        out[f"sin{m}"] = float(coef[2 + 2 * i])
        out[f"cos{m}_se"] = float(se[1 + 2 * i])
        out[f"sin{m}_se"] = float(se[2 + 2 * i])
    out["resid_std"] = float(np.sqrt(s2))
    return out


def density_slope(x: ArrayLike, fraction: float = 0.1, bins: int = 10,
                  lowest: float = 1e-3) -> tuple[float, float]:
    """Log-log slope of the density of a positive sample over its left tail.

    A cross-check of :func:`left_tail_exponent` that reads the tail the way a log-log plot
    shows it: a histogram on ``bins`` logarithmic bins from the ``lowest`` to the ``fraction``
    quantile, densities per unit ``x``, and a least-squares line through the non-empty bins
    (``log P`` on ``log x``, bin centres geometric).

    Parameters
    ----------
    x : array_like
        Sample of a positive quantity (flattened); values must be finite and > 0.
    fraction : float
        Upper end of the tail as a quantile, in (``lowest``, 1).
    bins : int
        Logarithmic bins (>= 3).
    lowest : float
        Lower end as a quantile, in [0, ``fraction``).

    Returns
    -------
    slope, stderr : float
        The slope (an estimate of ``theta``) and its least-squares standard error.

    Raises
    ------
    ValueError
        If ``x`` holds a value that is not finite and > 0, a parameter is out of range, or
        fewer than 4 bins are non-empty.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).beta(0.5, 1.0, 100000)   # density ~ x^-0.5
    >>> slope, se = density_slope(x, 0.5)
    >>> bool(abs(slope + 0.5) < 4 * se + 0.02)
    True
    """
    a = np.asarray(x, dtype=float).ravel()
    if a.size == 0 or not np.all(np.isfinite(a)) or np.any(a <= 0):
        raise ValueError("x must be a non-empty sample of finite values > 0")
    if not (0 <= lowest < fraction < 1):
        raise ValueError(f"need 0 <= lowest < fraction < 1, got {lowest!r}, {fraction!r}")
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 3:
        raise ValueError(f"bins must be an integer >= 3, got {bins!r}")
    lo, hi = np.quantile(a, [lowest, fraction])
    if not hi > lo:
        raise ValueError("the tail range is empty (too many repeated values)")
    edges = np.geomspace(lo, hi, bins + 1)
    counts, _ = np.histogram(a, edges)
    P = counts / (a.size * np.diff(edges))
    ok = counts > 0
    if ok.sum() < 4:
        raise ValueError("fewer than 4 non-empty bins (a slope and its error need 4)")
    xc = np.log(np.sqrt(edges[1:] * edges[:-1])[ok])
    coef, cov = np.polyfit(xc, np.log(P[ok]), 1, cov=True)
    return float(coef[0]), float(np.sqrt(cov[0, 0]))

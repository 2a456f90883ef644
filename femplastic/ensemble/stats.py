"""Ensemble statistics: curves on a common grid, pooled samples, bootstrap errors.

What a store read back (:func:`~femplastic.ensemble.data.load_store`) is summarised with:
:func:`curve_stats` gives ensemble means and standard deviations of curves on a common grid,
:func:`pooled` concatenates per-realisation arrays, :func:`bootstrap` gives the bootstrap error
of any statistic, resampling whole realisations.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .store import _check_int

__all__ = ["CurveStats", "Bootstrap", "curve_stats", "pooled", "bootstrap"]


@dataclass(frozen=True)
class CurveStats:
    """Ensemble statistics of curves on a common grid (all arrays ``(n_grid,)``).

    ``std`` is the sample standard deviation across realisations (``ddof=1``, NaN where fewer
    than two curves cover a grid point), ``sem = std / sqrt(count)``.

    Attributes
    ----------
    grid : (n_grid,) ndarray
        Abscissae.
    mean : (n_grid,) ndarray
        Mean over the curves covering each grid point (NaN where none does).
    std : (n_grid,) ndarray
        Sample standard deviation (``ddof=1``).
    sem : (n_grid,) ndarray
        Standard error of the mean.
    count : (n_grid,) int64 ndarray
        Number of curves with a finite value at each grid point.
    """

    grid: NDArray[np.float64]
    mean: NDArray[np.float64]
    std: NDArray[np.float64]
    sem: NDArray[np.float64]
    count: NDArray[np.int64]


def curve_stats(x: Sequence[NDArray[np.float64]], y: Sequence[NDArray[np.float64]],
                grid: NDArray[np.float64] | None = None) -> CurveStats:
    """Ensemble mean and standard deviation of curves ``y_r(x_r)`` on a common grid.

    Parameters
    ----------
    x, y : sequences of (n_r,) arrays
        One curve per realisation, ``x_r`` non-decreasing (e.g. ``gamma``, ``stress``).
    grid : (n_grid,) array, optional
        Where to evaluate: each curve is interpolated linearly, NaN (not counted) outside its
        ``[x_r[0], x_r[-1]]``. Default: the longest ``x_r`` when every other one is a prefix of
        it (same ``dgamma``, some runs stopped early); the values are then used as they are.

    Returns
    -------
    CurveStats
        Mean, std, s.e.m. and count on the grid.

    Raises
    ------
    ValueError
        If ``x`` and ``y`` hold different numbers of curves or none; a curve's ``x_r`` and
        ``y_r`` are not 1-D of equal length, or ``x_r`` decreases somewhere; ``grid`` is
        None and the ``x_r`` are not prefixes of the longest one; ``grid`` is not 1-D.

    Examples
    --------
    >>> import numpy as np
    >>> cs = curve_stats([np.array([0.0, 1.0, 2.0]), np.array([0.0, 1.0])],
    ...                  [np.array([1.0, 2.0, 3.0]), np.array([3.0, 4.0])])
    >>> cs.mean.tolist(), cs.count.tolist()
    ([2.0, 3.0, 3.0], [2, 2, 1])
    """
    if len(x) != len(y):
        raise ValueError(f"x and y must hold the same number of curves, got {len(x)} and "
                         f"{len(y)}")
    if len(x) == 0:
        raise ValueError("curve_stats needs at least one curve")
    xs = [np.asarray(a, dtype=float) for a in x]
    ys = [np.asarray(b, dtype=float) for b in y]
    for r, (a, b) in enumerate(zip(xs, ys, strict=True)):
        if a.ndim != 1 or a.shape != b.shape:
            raise ValueError(f"curve {r}: x and y must be 1-D of equal length, got shapes "
                             f"{a.shape} and {b.shape}")
        if a.size and np.any(np.diff(a) < 0):
            raise ValueError(f"curve {r}: x must be non-decreasing")
    if grid is None:
        longest = max(xs, key=len)
        if not all(np.array_equal(a, longest[:a.size]) for a in xs):
            raise ValueError("the curves have different x; pass a common grid=")
        g = longest
        vals = np.full((len(ys), g.size), np.nan)
        for r, b in enumerate(ys):
            vals[r, :b.size] = b
    else:
        g = np.asarray(grid, dtype=float)
        if g.ndim != 1:
            raise ValueError(f"grid must be 1-D, got shape {g.shape}")
        vals = np.full((len(ys), g.size), np.nan)
        for r, (a, b) in enumerate(zip(xs, ys, strict=True)):
            if a.size:
                vals[r] = np.interp(g, a, b, left=np.nan, right=np.nan)
    count = np.sum(np.isfinite(vals), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        total = np.nansum(vals, axis=0)
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
        dev = np.nansum((vals - mean) ** 2, axis=0)
        std = np.where(count > 1, np.sqrt(dev / np.maximum(count - 1, 1)), np.nan)
        sem = std / np.sqrt(count)
    return CurveStats(g, mean, std, sem, count.astype(np.int64))


def pooled(arrays: Sequence[NDArray[Any]]) -> NDArray[Any]:
    """Concatenate per-realisation arrays (scalars count as length-1) into one sample.

    Parameters
    ----------
    arrays : sequence of array_like
        One array (or scalar) per realisation.

    Returns
    -------
    (n_total,) ndarray
        The arrays (each made at least 1-D) concatenated in order; arrays of more
        dimensions are joined along their first axis.

    Raises
    ------
    ValueError
        If ``arrays`` is empty.

    Examples
    --------
    >>> pooled([1.0, [2.0, 3.0]]).tolist()
    [1.0, 2.0, 3.0]
    """
    if len(arrays) == 0:
        raise ValueError("pooled needs at least one array")
    return np.concatenate([np.atleast_1d(np.asarray(a)) for a in arrays])


@dataclass(frozen=True)
class Bootstrap:
    """Bootstrap estimate of a statistic.

    Attributes
    ----------
    estimate : float
        The statistic on the full data.
    stderr : float
        Standard deviation of the bootstrap replicates (``ddof=1``).
    low, high : float
        Percentile confidence interval.
    replicates : (n_resamples,) ndarray
        The statistic on each bootstrap resample.
    """

    estimate: float
    stderr: float
    low: float
    high: float
    replicates: NDArray[np.float64]


def bootstrap(data: Sequence[Any] | NDArray[Any], statistic: Callable[[NDArray[Any]], float],
              rng: np.random.Generator, n_resamples: int = 1000,
              confidence: float = 0.95) -> Bootstrap:
    """Bootstrap error of ``statistic``, resampling whole realisations with replacement.

    Parameters
    ----------
    data : (n,) array or sequence of n arrays
        Per-realisation values (``statistic`` gets ``data[idx]``), or per-realisation arrays
        such as stress drops, pooled after resampling (``statistic`` gets the concatenation of
        the drawn realisations: events within one realisation are correlated, realisations
        are independent).
    statistic : callable
        ``statistic(sample) -> float``, e.g. ``np.mean``.
    rng : numpy.random.Generator
        Draws the resampling indices.
    n_resamples : int
        Bootstrap replicates (>= 2).
    confidence : float
        Level of the percentile interval, in (0, 1) (default 0.95).

    Returns
    -------
    Bootstrap
        Estimate on the full data, bootstrap standard error, percentile interval and the
        replicates.

    Raises
    ------
    TypeError
        If ``rng`` is not a ``numpy.random.Generator``.
    ValueError
        If ``n_resamples`` is not an integer >= 2, ``confidence`` is not in (0, 1), or
        ``data`` holds fewer than 2 realisations.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator (e.g. np.random.default_rng(seed))")
    n_resamples = _check_int("n_resamples", n_resamples, 2)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if isinstance(data, np.ndarray):
        blocks = None
        arr = data
    elif all(np.ndim(d) == 0 for d in data):
        blocks, arr = None, np.asarray(data)
    else:
        blocks, arr = [np.atleast_1d(np.asarray(d)) for d in data], None
    n = len(data)
    if n < 2:
        raise ValueError(f"bootstrap needs at least 2 realisations, got {n}")

    def sample(idx: NDArray[np.int64]) -> NDArray[Any]:
        if blocks is None:
            return arr[idx]
        return np.concatenate([blocks[j] for j in idx])

    estimate = float(statistic(sample(np.arange(n))))
    idx = rng.integers(0, n, size=(n_resamples, n))
    reps = np.array([float(statistic(sample(row))) for row in idx])
    a = 100 * (1 - confidence) / 2
    low, high = np.percentile(reps, [a, 100 - a])
    return Bootstrap(estimate, float(reps.std(ddof=1)), float(low), float(high), reps)


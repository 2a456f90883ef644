"""Distributions of local yield thresholds (initial or renewal), sampled in numba.

:class:`Weibull`, :class:`TruncatedNormal` and :class:`Empirical` (inverse CDF through
measured thresholds) share the interface :class:`ThresholdDistribution`: ``cdf``, ``ppf``,
``mean``, ``var``, ``sample`` (from a ``numpy.random.Generator``) and ``code``, the
``(kind, params, table)`` triple the compiled samplers of :mod:`femplastic.lattice.loops` draw
from inside the models' loops.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np
import scipy.optimize
import scipy.special
import scipy.stats
from numpy.typing import ArrayLike, NDArray

from .. import interrupt
from .common import _generator, _positive, _real
from .loops import _draw_many

__all__ = ["ThresholdDistribution", "Weibull", "TruncatedNormal", "Empirical"]


class ThresholdDistribution(ABC):
    """A distribution of local yield thresholds (initial or renewal), sampled in numba.

    Subclasses give ``cdf``, ``ppf``, ``mean``, ``var`` and a numba code
    ``(kind, params (3,), table (m,))`` understood by the compiled samplers.
    """

    @abstractmethod
    def cdf(self, x: ArrayLike) -> NDArray[np.float64]:
        """Cumulative distribution function at ``x``.

        Parameters
        ----------
        x : array_like
            Thresholds, stress units; any shape.

        Returns
        -------
        ndarray
            ``P(sigma_th <= x)``, same shape as ``x``.
        """

    @abstractmethod
    def ppf(self, u: ArrayLike) -> NDArray[np.float64]:
        """Quantile function (inverse CDF) at ``u`` in [0, 1].

        Parameters
        ----------
        u : array_like
            Probabilities in [0, 1]; any shape.

        Returns
        -------
        ndarray
            Thresholds (stress units), same shape as ``u``.
        """

    @abstractmethod
    def mean(self) -> float:
        """Mean threshold."""

    @abstractmethod
    def var(self) -> float:
        """Variance of the threshold."""

    @abstractmethod
    def code(self) -> tuple[int, NDArray[np.float64], NDArray[np.float64]]:
        """``(kind, params (3,), table (m,))`` for the numba samplers."""

    def std(self) -> float:
        """Standard deviation."""
        return float(np.sqrt(self.var()))

    def second_moment(self) -> float:
        """``<sigma_c^2> = var + mean^2``."""
        return self.var() + self.mean() ** 2

    def sample(self, rng: np.random.Generator, size: int) -> NDArray[np.float64]:
        """Independent draws with the same compiled sampler the models use.

        Parameters
        ----------
        rng : numpy.random.Generator
            Source of the draws.
        size : int
            Number of draws, >= 0.

        Returns
        -------
        (size,) ndarray
            Thresholds, stress units.
        """
        rng = _generator(rng)
        if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 0:
            raise ValueError(f"size must be a non-negative integer, got {size!r}")
        kind, par, tab = self.code()
        out = np.empty(int(size))
        with interrupt.deferred():  # compiled code holding a Generator: no SIGINT inside
            _draw_many(kind, par, tab, rng, out)
        return out


@dataclass(frozen=True)
class Weibull(ThresholdDistribution):
    """Weibull distribution ``k/lam (x/lam)^(k-1) exp(-(x/lam)^k)``, x > 0.

    Parameters
    ----------
    shape : float
        ``k > 0``.
    scale : float
        ``lam > 0``, stress units.
    """

    shape: float
    scale: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", _positive("shape", self.shape))
        object.__setattr__(self, "scale", _positive("scale", self.scale))

    @classmethod
    def from_mean_std(cls, mean: float, std: float) -> Weibull:
        """The Weibull distribution of given mean and standard deviation.

        Parameters
        ----------
        mean, std : float
            Target mean and standard deviation, > 0 (stress units); the coefficient of
            variation must be reachable with a shape in [0.05, 200].

        Returns
        -------
        Weibull

        Examples
        --------
        >>> w = Weibull.from_mean_std(1.65, 0.509)        # the GQ glass of Tyukodi et al. 2023
        >>> round(w.shape, 3), round(w.mean(), 6), round(w.std(), 6)
        (3.601, 1.65, 0.509)
        """
        m = _positive("mean", mean)
        s = _positive("std", std)
        cv2 = (s / m) ** 2

        def f(logk: float) -> float:
            k = np.exp(logk)
            g1 = scipy.special.gammaln(1 + 1 / k)
            g2 = scipy.special.gammaln(1 + 2 / k)
            return float(np.expm1(g2 - 2 * g1) - cv2)

        lo, hi = np.log(0.05), np.log(200.0)
        if not f(hi) < 0.0 < f(lo):  # cv decreases with the shape: reachable range
            cv_min = float(np.sqrt(cv2 + f(hi)))
            cv_max = float(np.sqrt(cv2 + f(lo)))
            raise ValueError(
                f"std/mean must be in ({cv_min:.4g}, {cv_max:.4g}) for a Weibull of shape in "
                f"[0.05, 200], got std={s:g}, mean={m:g} (ratio {s / m:.4g})"
            )
        k = float(np.exp(scipy.optimize.brentq(f, lo, hi)))
        return cls(k, m / float(scipy.special.gamma(1 + 1 / k)))

    def cdf(self, x: ArrayLike) -> NDArray[np.float64]:  # noqa: D102
        x = np.maximum(np.asarray(x, dtype=float), 0.0)
        return -np.expm1(-((x / self.scale) ** self.shape))

    def ppf(self, u: ArrayLike) -> NDArray[np.float64]:  # noqa: D102
        u = np.asarray(u, dtype=float)
        return self.scale * (-np.log1p(-u)) ** (1.0 / self.shape)

    def mean(self) -> float:  # noqa: D102
        return float(self.scale * scipy.special.gamma(1 + 1 / self.shape))

    def var(self) -> float:  # noqa: D102
        g1 = scipy.special.gamma(1 + 1 / self.shape)
        g2 = scipy.special.gamma(1 + 2 / self.shape)
        return float(self.scale**2 * (g2 - g1**2))

    def code(self) -> tuple[int, NDArray[np.float64], NDArray[np.float64]]:  # noqa: D102
        return 0, np.array([self.shape, self.scale, 0.0]), np.zeros(1)


@dataclass(frozen=True)
class TruncatedNormal(ThresholdDistribution):
    """Normal distribution ``N(loc, scale^2)`` truncated to ``x > low`` (default positive).

    Sampled by rejection; the truncation must keep at least 1e-3 of the mass.

    Parameters
    ----------
    loc, scale : float
        Mean and standard deviation of the *untruncated* normal; ``scale > 0``.
    low : float
        Lower truncation point.
    """

    loc: float
    scale: float
    low: float = 0.0

    def __post_init__(self) -> None:
        loc = _real("loc", self.loc)
        if not np.isfinite(loc):
            raise ValueError("loc must be finite")
        object.__setattr__(self, "loc", loc)
        object.__setattr__(self, "scale", _positive("scale", self.scale))
        low = _real("low", self.low)
        if not np.isfinite(low):
            raise ValueError("low must be finite")
        object.__setattr__(self, "low", low)
        if scipy.stats.norm.sf(self._a) < 1e-3:
            raise ValueError(
                f"low={low:g} removes more than 99.9% of N({loc:g}, {self.scale:g}^2): "
                "use an Empirical table instead"
            )

    @property
    def _a(self) -> float:
        return (self.low - self.loc) / self.scale

    @property
    def _dist(self) -> scipy.stats.rv_continuous:
        return scipy.stats.truncnorm(self._a, np.inf, loc=self.loc, scale=self.scale)

    def cdf(self, x: ArrayLike) -> NDArray[np.float64]:  # noqa: D102
        return np.asarray(self._dist.cdf(x), dtype=float)

    def ppf(self, u: ArrayLike) -> NDArray[np.float64]:  # noqa: D102
        return np.asarray(self._dist.ppf(u), dtype=float)

    def mean(self) -> float:  # noqa: D102
        return float(self._dist.mean())

    def var(self) -> float:  # noqa: D102
        return float(self._dist.var())

    def code(self) -> tuple[int, NDArray[np.float64], NDArray[np.float64]]:  # noqa: D102
        return 1, np.array([self.loc, self.scale, self.low]), np.zeros(1)


@dataclass(frozen=True, eq=False)
class Empirical(ThresholdDistribution):
    """Distribution of measured thresholds, sampled through a piecewise-linear inverse CDF.

    The quantile function interpolates linearly between the sorted samples placed at
    plotting positions ``(j + 1/2) / n`` and is clamped at the extreme samples.

    Parameters
    ----------
    samples : (n,) array_like
        Measured thresholds, n >= 2, finite.
    """

    samples: NDArray[np.float64]
    _sorted: NDArray[np.float64] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        arr = np.asarray(self.samples, dtype=float)
        if arr.ndim != 1 or arr.size < 2:
            raise ValueError(
                f"samples must be a 1D array of at least 2 values, got shape {arr.shape}"
            )
        if not np.all(np.isfinite(arr)):
            raise ValueError("samples must be finite (got NaN or inf)")
        object.__setattr__(self, "samples", arr.copy())
        object.__setattr__(self, "_sorted", np.ascontiguousarray(np.sort(arr)))

    def _positions(self) -> NDArray[np.float64]:
        n = self._sorted.size
        return (np.arange(n) + 0.5) / n

    def cdf(self, x: ArrayLike) -> NDArray[np.float64]:  # noqa: D102
        x = np.asarray(x, dtype=float)
        c = np.interp(x, self._sorted, self._positions())
        return np.where(x < self._sorted[0], 0.0, np.where(x >= self._sorted[-1], 1.0, c))

    def ppf(self, u: ArrayLike) -> NDArray[np.float64]:  # noqa: D102
        return np.interp(np.asarray(u, dtype=float), self._positions(), self._sorted)

    def _moments(self) -> tuple[float, float]:
        # moments of the piecewise-linear quantile: integrate ppf(u) and ppf(u)^2 exactly
        x = self._sorted
        n = x.size
        a, b = x[:-1], x[1:]
        w = 1.0 / n
        m1 = 0.5 * w * (x[0] + x[-1]) + w * np.sum(0.5 * (a + b))
        m2 = 0.5 * w * (x[0] ** 2 + x[-1] ** 2) + w * np.sum((a * a + a * b + b * b) / 3.0)
        return float(m1), float(m2)

    def mean(self) -> float:  # noqa: D102
        return self._moments()[0]

    def var(self) -> float:  # noqa: D102
        m1, m2 = self._moments()
        return max(m2 - m1 * m1, 0.0)

    def code(self) -> tuple[int, NDArray[np.float64], NDArray[np.float64]]:  # noqa: D102
        return 2, np.zeros(3), self._sorted


def _as_distribution(name: str, value: object) -> ThresholdDistribution:
    if not isinstance(value, ThresholdDistribution):
        raise ValueError(f"{name} must be a ThresholdDistribution, got {type(value).__name__}")
    return value


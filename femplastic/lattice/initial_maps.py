"""Initial-state inputs of the scalar lattice models (threshold maps, frozen stresses).

Correlated threshold maps, frozen stress fields and threshold laws with a negative tail.

The papers feed their lattice models with maps measured in atomistic glasses (Liu et al. 2021:
"the local threshold map, the stress map and the shear modulus in the initial state"; seed
002: a frozen internal stress of Gaussian width 0.175 and thresholds with "a discrete
negative tail"). Those maps are not available; these generators make statistically
controlled stand-ins:

* :class:`CorrelatedThresholdMap`: thresholds with a prescribed one-point law and a
  Gaussian correlation of length ``xi`` (a Gaussian copula on the periodic lattice);
* :func:`frozen_stress_field`: a zero-mean, mechanically compatible internal stress (the
  Eshelby response to a random eigenstrain) of prescribed standard deviation;
* :func:`with_negative_tail`: a threshold law with a fraction of negative values.

Maps are ``(N,)`` arrays over the ``L x L`` sites, row-major with x fastest, in stress units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft
import scipy.special
from numpy.typing import NDArray

from .common import _generator, _lattice_size, _positive, _real
from .kernel import LatticeEshelby
from .thresholds import Empirical, ThresholdDistribution, _as_distribution

__all__ = ["CorrelatedThresholdMap", "frozen_stress_field", "with_negative_tail"]


def _min_image(L: int) -> NDArray[np.float64]:
    """Squared minimum-image distances from site 0, (L, L)."""
    d = np.arange(L)
    d = np.minimum(d, L - d).astype(float)
    return d[:, None] ** 2 + d[None, :] ** 2


@dataclass(frozen=True, eq=False)
class CorrelatedThresholdMap:
    """Threshold maps with a given one-point law and a Gaussian spatial correlation.

    A Gaussian field ``Z`` of unit variance is white noise convolved (periodically) with
    ``exp(-r^2 / xi^2)``; its correlation is then exactly ``rho_Z = (k * k)(r) / (k * k)(0)``
    (:meth:`gaussian_correlation`), ``exp(-r^2 / (2 xi^2))`` in the continuum limit
    ``1 << xi << L``. Thresholds are ``F^-1(Phi(Z))`` (Gaussian copula), so every site has
    exactly the law ``F`` of ``dist``; their correlation is the copula transform of
    ``rho_Z`` (:meth:`correlation`). ``xi = 0`` gives independent thresholds.

    Parameters
    ----------
    L : int
        Linear lattice size, >= 2.
    dist : ThresholdDistribution
        One-point law of the thresholds.
    xi : float
        Correlation length in lattice units, >= 0 (0: independent sites).

    Examples
    --------
    >>> import numpy as np
    >>> from femplastic.lattice import Weibull
    >>> m = CorrelatedThresholdMap(32, Weibull(2.5, 1.05), xi=3.0)
    >>> th = m.sample(np.random.default_rng(0))
    >>> th.shape, bool(th.min() > 0)
    ((1024,), True)
    >>> round(float(m.gaussian_correlation()[0, 3]), 3)     # ~ exp(-9 / 18) = 0.607
    0.607
    """

    L: int
    dist: ThresholdDistribution
    xi: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "L", _lattice_size(self.L))
        _as_distribution("dist", self.dist)
        xi = _real("xi", self.xi)
        if xi < 0 or not np.isfinite(xi):
            raise ValueError(f"xi must be in [0, inf), got {self.xi!r}")
        object.__setattr__(self, "xi", xi)

    def _filter_hat(self) -> NDArray[np.float64]:
        """Fourier transform of the (periodic) smoothing kernel, half spectrum."""
        k = np.zeros((self.L, self.L))
        if self.xi == 0.0:
            k[0, 0] = 1.0
        else:
            k = np.exp(-_min_image(self.L) / self.xi**2)
        return scipy.fft.rfft2(k)

    def gaussian_correlation(self) -> NDArray[np.float64]:
        """Exact correlation ``rho_Z(dy, dx)`` of the underlying Gaussian field, (L, L).

        Returns
        -------
        (L, L) ndarray
            ``rho_Z[dy, dx]`` = correlation of sites separated by ``(dx, dy)`` (periodic);
            ``rho_Z[0, 0] = 1``.
        """
        kh = self._filter_hat()
        c = scipy.fft.irfft2(np.abs(kh) ** 2, s=(self.L, self.L))
        return c / c[0, 0]

    def sample_gaussian(self, rng: np.random.Generator) -> NDArray[np.float64]:
        """One unit-variance Gaussian field ``Z``, (N,).

        Parameters
        ----------
        rng : numpy.random.Generator

        Returns
        -------
        (N,) ndarray
        """
        rng = _generator(rng)
        w = rng.standard_normal((self.L, self.L))
        kh = self._filter_hat()
        z = scipy.fft.irfft2(scipy.fft.rfft2(w) * kh, s=(self.L, self.L))
        norm = np.sqrt(scipy.fft.irfft2(np.abs(kh) ** 2, s=(self.L, self.L))[0, 0])
        return (z / norm).reshape(-1)

    def sample(self, rng: np.random.Generator) -> NDArray[np.float64]:
        """One threshold map ``F^-1(Phi(Z))``, (N,), stress units.

        Parameters
        ----------
        rng : numpy.random.Generator

        Returns
        -------
        (N,) ndarray
        """
        return self._ppf_of_normal(self.sample_gaussian(rng))

    def _ppf_of_normal(self, z: NDArray[np.float64]) -> NDArray[np.float64]:
        """``F^-1(Phi(z))``, the probabilities kept in ``[1e-15, 1 - 1e-15]`` (finite)."""
        u = np.clip(scipy.special.ndtr(z), 1e-15, 1.0 - 1e-15)
        return np.asarray(self.dist.ppf(u), dtype=float)

    def correlation(self, n_nodes: int = 40) -> NDArray[np.float64]:
        """Correlation coefficient of the thresholds at each lattice offset, (L, L).

        ``corr(F^-1(Phi(Z1)), F^-1(Phi(Z2)))`` for a standard bivariate normal pair of
        correlation ``rho_Z`` (:meth:`gaussian_correlation`), by Gauss-Hermite quadrature on
        ``n_nodes^2`` nodes (exact for the one-point moments up to the quadrature error,
        about 1e-4 for the Weibull laws of the papers).

        Parameters
        ----------
        n_nodes : int
            Quadrature nodes per dimension, >= 10.

        Returns
        -------
        (L, L) ndarray
            Threshold correlation; 1 at the origin.
        """
        if isinstance(n_nodes, bool) or not isinstance(n_nodes, int) or n_nodes < 10:
            raise ValueError(f"n_nodes must be an integer >= 10, got {n_nodes!r}")
        x, w = np.polynomial.hermite_e.hermegauss(n_nodes)
        w = w / w.sum()
        g = self._ppf_of_normal(x)
        m = float(np.sum(w * g))
        v = float(np.sum(w * g * g)) - m * m
        rho_z = self.gaussian_correlation()
        out = np.empty_like(rho_z)
        flat = rho_z.reshape(-1)
        res = out.reshape(-1)
        # Z2 = rho Z1 + sqrt(1 - rho^2) Z', both on the Hermite nodes
        cache: dict[float, float] = {}
        for i, r in enumerate(flat):
            key = round(float(r), 12)
            if key not in cache:
                r = min(max(float(r), -1.0), 1.0)
                z2 = r * x[:, None] + np.sqrt(1.0 - r * r) * x[None, :]
                g2 = self._ppf_of_normal(z2)
                cache[key] = (float(np.sum(w[:, None] * w[None, :] * g[:, None] * g2)) - m * m) / v
            res[i] = cache[key]
        out[0, 0] = 1.0
        return out


def frozen_stress_field(
    kernel: LatticeEshelby, std: float, rng: np.random.Generator
) -> NDArray[np.float64]:
    """Zero-mean frozen internal stress, the Eshelby response to a random eigenstrain.

    ``s = G * e`` with ``e`` white Gaussian noise, rescaled to the standard deviation
    ``std``: a mechanically compatible (self-equilibrated) internal stress, Gaussian at
    every site, with the kernel's quadrupolar correlations. Seed 002 measures a Gaussian of
    width 0.175 in all three glasses.

    Parameters
    ----------
    kernel : LatticeEshelby
        Kernel of the model (its ``L``; the shape of ``G`` fixes the correlations).
    std : float
        Standard deviation of the stress over the sites, > 0 (stress units).
    rng : numpy.random.Generator

    Returns
    -------
    (N,) ndarray
        Internal stress with mean exactly 0 and standard deviation exactly ``std``.

    Examples
    --------
    >>> import numpy as np
    >>> from femplastic.lattice import LatticeEshelby
    >>> s = frozen_stress_field(LatticeEshelby(16, 14.7, 52.0), 0.175, np.random.default_rng(0))
    >>> round(float(s.std()), 12), abs(float(s.mean())) < 1e-12
    (0.175, True)
    """
    if not isinstance(kernel, LatticeEshelby):
        raise ValueError(f"kernel must be a LatticeEshelby, got {type(kernel).__name__}")
    sd = _positive("std", std)
    rng = _generator(rng)
    e = rng.standard_normal(kernel.n_elem)
    s = kernel.convolve(e)
    s -= s.mean()
    return s * (sd / s.std())


def with_negative_tail(
    dist: ThresholdDistribution, fraction: float, depth: float, n_table: int = 4000
) -> Empirical:
    """The law ``dist`` with a fraction ``fraction`` of its mass moved to ``(-depth, 0)``.

    A mixture: with probability ``1 - fraction`` a draw of ``dist``, otherwise uniform in
    ``(-depth, 0)``: the "discrete negative tail" of the thresholds measured in Tyukodi et al. 2023
    (a frozen stress above a patch's yield stress). Tabulated as an :class:`Empirical`
    inverse CDF on ``n_table`` quantiles so the models sample it in numba.

    Parameters
    ----------
    dist : ThresholdDistribution
        The positive part.
    fraction : float
        Mass of the negative tail, in [0, 0.5].
    depth : float
        The tail is uniform on ``(-depth, 0)``, > 0 (stress units).
    n_table : int
        Quantiles in the table, >= 100.

    Returns
    -------
    Empirical

    Examples
    --------
    >>> from femplastic.lattice import Weibull
    >>> d = with_negative_tail(Weibull.from_mean_std(1.14, 0.478), 0.02, 0.3)
    >>> round(float(d.cdf(0.0)), 3)
    0.02
    """
    _as_distribution("dist", dist)
    f = _real("fraction", fraction)
    if not 0.0 <= f <= 0.5:
        raise ValueError(f"fraction must be in [0, 0.5], got {fraction!r}")
    dep = _positive("depth", depth)
    if isinstance(n_table, bool) or not isinstance(n_table, int) or n_table < 100:
        raise ValueError(f"n_table must be an integer >= 100, got {n_table!r}")
    u = (np.arange(n_table) + 0.5) / n_table
    tail = u < f
    x = np.empty(n_table)
    x[tail] = -dep + dep * u[tail] / f if f > 0 else 0.0
    x[~tail] = dist.ppf((u[~tail] - f) / (1.0 - f))
    return Empirical(x)

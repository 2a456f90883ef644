"""Scalar lattice elasto-plastic models (seeds 000-002).

Finite rate / creep (Liu et al.) and quasistatic extremal dynamics with rejuvenation and
slip-threshold correlation (Tyukodi et al.).

Both models live on an ``L x L`` bi-periodic lattice (sites numbered row-major, x fastest)
with one shear stress per site, ``sigma_i = Sigma_ext + s_i``: ``Sigma_ext`` is the external
(mean) stress and ``s`` the zero-mean internal stress built by the Fourier Eshelby kernel
:class:`femplastic.lattice.LatticeEshelby` from the plastic strain field. Stresses are in LJ
units, times in LJ time units. Physics, derivations and comparison with the papers:
``docs_notes/scalar.md``.

Array vocabulary (``N = L * L`` sites):

* ``stress_int`` : (N,) float64, internal stress ``s_i`` (zero mean), stress units;
* ``threshold``  : (N,) float64, local yield threshold ``sigma_th_i``;
* ``gamma_pl``   : (N,) float64, **engineering** plastic shear strain (finite-rate model,
  ``sigma = mu gamma_el`` as in Liu et al.);
* ``eps_pl``     : (N,) float64, **tensor** plastic shear strain ``eps_xy`` (quasistatic model,
  ``sigma = 2 mu eps_el`` as in Tyukodi et al.); reported strains are engineering
  ``gamma = 2 eps``;
* ``plastic``    : (N,) int8, the state variable ``n_i`` in {0, 1}.

Randomness: every draw comes from the ``numpy.random.Generator`` passed in (numba uses its
bit generator directly, so the Python object's state advances); the same seed gives the same
trajectory.

Numba kernels are at the end of the module, apart from the Python logic.
"""

from __future__ import annotations

import functools
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from typing import Literal

import numba as nb
import numpy as np
import scipy.fft
import scipy.optimize
import scipy.special
import scipy.stats
from numpy.typing import ArrayLike, NDArray

from .kernel import LatticeEshelby, effective_modulus, fft_min_sites, scalar_shifted_add
from .observables import localisation_index

__all__ = [
    "ThresholdDistribution",
    "Weibull",
    "TruncatedNormal",
    "Empirical",
    "FiniteRateParams",
    "FiniteRateState",
    "Trajectory",
    "finite_rate_initial_state",
    "run_fixed_rate",
    "run_creep",
    "QuasistaticParams",
    "QuasistaticState",
    "QuasistaticResult",
    "quasistatic_initial_state",
    "run_quasistatic",
    "MAX_DT_FRACTION",
]

#: ``dt`` may be at most this fraction of the shortest time scale of the finite-rate model.
MAX_DT_FRACTION = 0.1


def _real(name: str, value: object) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    if np.isnan(v):
        raise ValueError(f"{name} must not be NaN")
    return v


def _positive(name: str, value: object, allow_inf: bool = False) -> float:
    v = _real(name, value)
    if v <= 0 or (np.isinf(v) and not allow_inf):
        raise ValueError(f"{name} must be in {'(0, inf]' if allow_inf else '(0, inf)'}, got {v!r}")
    return v


def _lattice_size(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 2:
        raise ValueError(f"L must be an integer >= 2, got {value!r}")
    return int(value)


def _site_map(name: str, values: ArrayLike, L: int) -> NDArray[np.float64]:
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    if arr.shape not in ((L * L,), (L, L)):
        raise ValueError(f"{name} must have shape ({L * L},) or ({L}, {L}), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (got NaN or inf)")
    return np.ascontiguousarray(arr.reshape(-1)).copy()


def _generator(rng: object) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return rng


# =============================================================== threshold distributions
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
        >>> w = Weibull.from_mean_std(1.65, 0.509)        # the GQ glass of seed 002
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

        k = float(np.exp(scipy.optimize.brentq(f, np.log(0.05), np.log(200.0))))
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


# =============================================================== finite-rate model (Liu)
@functools.lru_cache(maxsize=16)
def _kernel(L: int, mu: float, K: float, normalisation: str) -> LatticeEshelby:
    return LatticeEshelby(L, mu, K, normalisation)  # type: ignore[arg-type]


@dataclass(frozen=True)
class FiniteRateParams:
    """Parameters of the finite-rate scalar EPM of Liu et al. (defaults: the seed's values).

    Parameters
    ----------
    L : int
        Lattice size (32: the MD box 316.174 in cells of 9.88).
    mu : float
        Shear modulus (``sigma = mu gamma_el``, engineering strain), > 0.
    tau : float
        Plastic relaxation time in ``d gamma_pl / dt = n sigma / (mu tau)``, > 0.
    tau_pl : float
        Mean activation delay of a site above threshold (rate ``1 / tau_pl``), > 0.
    tau_res : float
        Mean duration of a plastic event (recovery rate ``1 / tau_res``), > 0.
    k_d, sigma_d : float
        Shape and scale of the Weibull renewal distribution of thresholds, > 0.
    dt : float
        Time step, in ``(0, MAX_DT_FRACTION * min(tau_el, tau_pl, tau_res)]`` with
        ``tau_el = 2 mu tau / max_q |Ghat(q)|`` capped at ``tau`` (see :attr:`dt_max`).
    K : float
        2D bulk modulus of the kernel (``inf``: incompressible, the seed's scalar kernel).
    normalisation : {"eshelby", "continuum"}
        Lattice kernel normalisation (:class:`femplastic.lattice.LatticeEshelby`). Default
        ``"continuum"``: the plain Picard kernel ``mu Ghat = -4 mu q_x^2 q_y^2 / q^4`` per
        unit engineering strain (self term ``-0.569 mu``), the usual kernel of this model
        family; it reproduces the seed's Herschel-Bulkley fit best (``docs_notes/scalar.md``).

    Notes
    -----
    Stability (derived in ``docs_notes/scalar.md``): with every site plastic the explicit
    Euler step multiplies a stress mode of relaxation rate ``lambda`` by ``1 - lambda dt``;
    the rates are ``1 / tau`` for the mean (fixed-rate feedback) and
    ``|Ghat(q)| / (2 mu tau)`` for ``q != 0``. The scheme is stable for ``dt lambda < 2``,
    sign-preserving for ``dt lambda < 1``; the bound ``dt <= 0.1 tau_el`` keeps the
    first-order error of the relaxation and of the switching probabilities
    ``1 - exp(-dt / tau_x)`` below about 5 %.
    """

    L: int = 32
    mu: float = 14.88
    tau: float = 1.0
    tau_pl: float = 1.0
    tau_res: float = 2.0
    k_d: float = 1.5
    sigma_d: float = 0.57
    dt: float = 0.01
    K: float = np.inf
    normalisation: Literal["eshelby", "continuum"] = "continuum"

    def __post_init__(self) -> None:
        object.__setattr__(self, "L", _lattice_size(self.L))
        for name in ("mu", "tau", "tau_pl", "tau_res", "k_d", "sigma_d", "dt"):
            object.__setattr__(self, name, _positive(name, getattr(self, name)))
        object.__setattr__(self, "K", _positive("K", self.K, allow_inf=True))
        if self.normalisation not in ("eshelby", "continuum"):
            raise ValueError(
                f"normalisation must be 'eshelby' or 'continuum', got {self.normalisation!r}"
            )
        if self.dt > self.dt_max:
            raise ValueError(
                f"dt={self.dt:g} too large for stability and accuracy: dt must be <= "
                f"{MAX_DT_FRACTION} * min(tau_el={self.tau_el:g}, tau_pl={self.tau_pl:g}, "
                f"tau_res={self.tau_res:g}) = {self.dt_max:g}"
            )

    @property
    def kernel(self) -> LatticeEshelby:
        """The lattice Eshelby kernel (per unit *tensor* strain; cached)."""
        return _kernel(self.L, self.mu, self.K, self.normalisation)

    @property
    def tau_el(self) -> float:
        """Fastest elastic relaxation time, all sites plastic: ``min(tau, 2 mu tau / max|Ghat|)``.

        ``Ghat`` is the kernel per unit tensor strain (the mean mode relaxes at ``1 / tau``).
        """
        gmax = float(np.abs(self.kernel.Ghat).max())
        return min(self.tau, 2.0 * self.mu * self.tau / gmax) if gmax > 0 else self.tau

    @property
    def dt_max(self) -> float:
        """Largest accepted time step ``MAX_DT_FRACTION * min(tau_el, tau_pl, tau_res)``."""
        return MAX_DT_FRACTION * min(self.tau_el, self.tau_pl, self.tau_res)

    @property
    def renewal(self) -> Weibull:
        """Renewal distribution ``Weibull(k_d, sigma_d)``."""
        return Weibull(self.k_d, self.sigma_d)

    @property
    def yield_stress_estimate(self) -> float:
        """Seed SI eq. 13: ``Sigma_Y ~ sigma_d / 2 (1 + exp(-tau_res / tau))``."""
        return 0.5 * self.sigma_d * (1.0 + math.exp(-self.tau_res / self.tau))

    @property
    def crossover_rate_estimate(self) -> float:
        """Seed SI eq. 11: crossover shear rate ``gdot_X`` to the linear flow regime."""
        e = math.exp(-self.tau_res / self.tau)
        ratio = (1 - e) / (1 + (self.tau_pl / self.tau - 1) * e)
        return self.sigma_d / (self.tau * self.mu) * ratio


@dataclass(frozen=True, eq=False)
class FiniteRateState:
    """State of the finite-rate model (arrays are never modified after construction).

    Attributes
    ----------
    stress_int : (N,) float64
        Internal stress (zero mean).
    threshold : (N,) float64
        Local thresholds.
    plastic : (N,) int8
        ``n_i``: 1 plastic, 0 elastic.
    gamma_pl : (N,) float64
        Engineering plastic strain.
    sigma_ext : float
        External (mean) stress.
    time : float
        Simulated time (LJ time units).
    """

    stress_int: NDArray[np.float64]
    threshold: NDArray[np.float64]
    plastic: NDArray[np.int8]
    gamma_pl: NDArray[np.float64]
    sigma_ext: float
    time: float = 0.0

    @property
    def stress(self) -> NDArray[np.float64]:
        """Local stresses ``Sigma_ext + s_i``, (N,)."""
        return self.sigma_ext + self.stress_int

    @property
    def gap(self) -> NDArray[np.float64]:
        """Distance to threshold ``X_i = sigma_th_i - sigma_i``, (N,)."""
        return self.threshold - self.stress

    def gamma_tot(self, mu: float) -> float:
        """Mean total engineering strain ``Sigma_ext / mu + <gamma_pl>``.

        Parameters
        ----------
        mu : float
            Shear modulus of the model (``params.mu``), stress units.

        Returns
        -------
        float
        """
        return float(self.sigma_ext / mu + self.gamma_pl.mean())


@dataclass(frozen=True, eq=False)
class Trajectory:
    """Recorded macroscopic time series of a finite-rate run (one row per record).

    Attributes
    ----------
    time : (m,) float64
        Time of each record (LJ time units).
    sigma_ext : (m,) float64
        External stress (LJ stress units).
    gamma_tot : (m,) float64
        Mean total engineering strain.
    gdot_pl : (m,) float64
        Mean plastic strain rate over the interval ending at each record (1 / time).
    gdot_tot : (m,) float64
        Mean total strain rate over the same interval (``= gdot`` at fixed rate, ``= gdot_pl``
        in creep).
    frac_plastic : (m,) float64
        Fraction of plastic sites at the record.
    stuck : bool
        Creep only: the system reached an absorbing state (all sites elastic and below
        threshold: nothing can change any more at fixed stress).
    stuck_time : float
        Time at which it got stuck (nan if it did not).
    """

    time: NDArray[np.float64]
    sigma_ext: NDArray[np.float64]
    gamma_tot: NDArray[np.float64]
    gdot_pl: NDArray[np.float64]
    gdot_tot: NDArray[np.float64]
    frac_plastic: NDArray[np.float64]
    stuck: bool = False
    stuck_time: float = float("nan")


def finite_rate_initial_state(
    params: FiniteRateParams,
    rng: np.random.Generator,
    thresholds: ThresholdDistribution | ArrayLike | None = None,
    stress: ArrayLike | None = None,
) -> FiniteRateState:
    """Initial condition: every site elastic, zero plastic strain.

    Parameters
    ----------
    params : FiniteRateParams
    rng : numpy.random.Generator
    thresholds : ThresholdDistribution or (N,) / (L, L) array_like, optional
        Threshold map, or a distribution to draw one from. Default: the renewal
        distribution ``Weibull(k_d, sigma_d)``.
    stress : (N,) or (L, L) array_like, optional
        Map of local stresses: the external stress starts at its mean, the internal stress
        is the rest. Default: zero.
    """
    rng = _generator(rng)
    L = params.L
    n = L * L
    if thresholds is None:
        thresholds = params.renewal
    if isinstance(thresholds, ThresholdDistribution):
        th = thresholds.sample(rng, n)
    else:
        th = _site_map("thresholds", thresholds, L)
    if stress is None:
        s = np.zeros(n)
        sigma0 = 0.0
    else:
        s = _site_map("stress", stress, L)
        sigma0 = float(s.mean())
        s -= sigma0
    return FiniteRateState(s, th, np.zeros(n, dtype=np.int8), np.zeros(n), sigma0, 0.0)


def _check_state(name: str, state: object, cls: type, n: int) -> None:
    if not isinstance(state, cls):
        raise ValueError(f"{name} must be a {cls.__name__}, got {type(state).__name__}")
    for f in ("stress_int", "threshold"):
        a = getattr(state, f)
        if a.shape != (n,):
            raise ValueError(f"{name}.{f} must have shape ({n},) for this lattice, got {a.shape}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name}.{f} must be finite")


def run_fixed_rate(
    params: FiniteRateParams,
    state: FiniteRateState,
    gdot: float,
    duration: float,
    rng: np.random.Generator,
    record_every: int = 100,
    fft_min: int | None = None,
) -> tuple[Trajectory, FiniteRateState]:
    """Shear at fixed mean total strain rate ``gdot`` for ``duration``.

    The external stress follows the feedback ``dSigma/dt = mu (gdot - <d gamma_pl / dt>)``
    (seed 001, eq. 2), integrated so that ``Sigma / mu + <gamma_pl>`` grows by exactly
    ``gdot dt`` per step.

    Parameters
    ----------
    params : FiniteRateParams
    state : FiniteRateState
        Not modified.
    gdot : float
        Engineering shear rate, >= 0 (LJ time^-1).
    duration : float
        Simulated time, > 0; rounded to a whole number of steps.
    rng : numpy.random.Generator
    record_every : int
        Record the macroscopic observables every this many steps.
    fft_min : int, optional
        Number of plastic sites from which a step's stress update uses an FFT convolution
        (default :func:`femplastic.lattice.fft_min_sites`).

    Returns
    -------
    trajectory : Trajectory
    state : FiniteRateState
        The final state (new arrays).

    Examples
    --------
    >>> import numpy as np
    >>> p = FiniteRateParams(L=16)
    >>> rng = np.random.default_rng(0)
    >>> s0 = finite_rate_initial_state(p, rng)
    >>> traj, s1 = run_fixed_rate(p, s0, gdot=1e-2, duration=10.0, rng=rng)
    >>> traj.time.shape, round(s1.time, 6)            # a record every 100 steps of 0.01
    ((10,), 10.0)
    >>> round(s1.gamma_tot(p.mu) - s0.gamma_tot(p.mu), 9)   # exact strain bookkeeping
    0.1
    """
    g = _real("gdot", gdot)
    if g < 0 or not np.isfinite(g):
        raise ValueError(f"gdot must be in [0, inf), got {gdot!r}")
    return _run_finite_rate(params, state, 1, g, duration, rng, record_every, fft_min, False)


def run_creep(
    params: FiniteRateParams,
    state: FiniteRateState,
    sigma_ext: float,
    duration: float,
    rng: np.random.Generator,
    record_every: int = 100,
    stop_when_stuck: bool = True,
    fft_min: int | None = None,
) -> tuple[Trajectory, FiniteRateState]:
    """Creep: impose the external stress ``sigma_ext`` (instantaneously) for ``duration``.

    Parameters
    ----------
    params : FiniteRateParams
    state : FiniteRateState
        Not modified; its external stress is replaced by ``sigma_ext``.
    sigma_ext : float
        Imposed stress (finite).
    duration : float
        Simulated time, > 0.
    rng : numpy.random.Generator
    record_every : int
    stop_when_stuck : bool
        End the run when the absorbing (stuck) state is reached: afterwards nothing can
        change. The trajectory then ends at ``stuck_time``.
    fft_min : int, optional

    Returns
    -------
    trajectory : Trajectory
    state : FiniteRateState

    Examples
    --------
    Far below the yield stress the system gets stuck at once:

    >>> import numpy as np
    >>> p = FiniteRateParams(L=16)
    >>> rng = np.random.default_rng(0)
    >>> s0 = finite_rate_initial_state(p, rng, thresholds=Weibull(4.0, 1.3))
    >>> traj, _ = run_creep(p, s0, sigma_ext=0.1, duration=100.0, rng=rng)
    >>> traj.stuck, bool(traj.stuck_time < 100.0)
    (True, True)
    """
    s = _real("sigma_ext", sigma_ext)
    if not np.isfinite(s):
        raise ValueError("sigma_ext must be finite")
    state = replace(state, sigma_ext=s) if isinstance(state, FiniteRateState) else state
    return _run_finite_rate(params, state, 0, 0.0, duration, rng, record_every, fft_min,
                            stop_when_stuck)


def _run_finite_rate(
    params: FiniteRateParams,
    state: FiniteRateState,
    mode: int,
    drive: float,
    duration: float,
    rng: np.random.Generator,
    record_every: int,
    fft_min: int | None,
    stop_when_stuck: bool,
) -> tuple[Trajectory, FiniteRateState]:
    if not isinstance(params, FiniteRateParams):
        raise ValueError(f"params must be FiniteRateParams, got {type(params).__name__}")
    rng = _generator(rng)
    n = params.L * params.L
    _check_state("state", state, FiniteRateState, n)
    T = _positive("duration", duration)
    n_steps = int(round(T / params.dt))
    if n_steps < 1:
        raise ValueError(f"duration={T:g} is shorter than one time step dt={params.dt:g}")
    if isinstance(record_every, bool) or not isinstance(record_every, int | np.integer) \
            or record_every < 1:
        raise ValueError(f"record_every must be an integer >= 1, got {record_every!r}")
    if fft_min is None:
        fft_min = fft_min_sites(params.L)
    if isinstance(fft_min, bool) or not isinstance(fft_min, int | np.integer) or fft_min < 1:
        raise ValueError(f"fft_min must be an integer >= 1, got {fft_min!r}")

    kern = params.kernel
    G_eng = np.ascontiguousarray(0.5 * kern.G)  # per unit engineering strain
    Ghat_eng = 0.5 * kern.Ghat_half  # the same, half spectrum for rfft2
    L = params.L
    field = np.zeros((L, L))  # FFT-step buffer, reset after use (no per-step allocation)
    s = state.stress_int.copy()
    th = state.threshold.copy()
    pl = np.ascontiguousarray(state.plastic, dtype=np.int8).copy()
    gp = np.ascontiguousarray(state.gamma_pl, dtype=float).copy()
    dgam = np.empty(n)
    plist = np.empty(n, dtype=np.int64)
    # scal: sigma_ext, t0, acc dgam since record, <gamma_pl>
    scal = np.array([state.sigma_ext, state.time, 0.0, gp.mean()])
    iscal = np.zeros(4, dtype=np.int64)  # step, n_rec, pending n_pl, stuck step (-1)
    iscal[3] = -1
    n_rec = n_steps // record_every + 2
    rec = np.zeros((n_rec, 4))  # time, sigma_ext, <gamma_pl>, frac_plastic ; gdot from acc
    acc = np.zeros(n_rec)
    kind, dpar, dtab = params.renewal.code()
    p_pl = -math.expm1(-params.dt / params.tau_pl)
    p_res = -math.expm1(-params.dt / params.tau_res)
    c_flow = params.dt / (params.mu * params.tau)
    stop = 1 if (stop_when_stuck and mode == 0) else 0
    while True:
        code = _fr_advance(s, th, pl, gp, dgam, plist, G_eng, params.L, scal, iscal, n_steps,
                           fft_min, mode, drive, params.mu, p_pl, p_res, c_flow, params.dt,
                           kind, dpar, dtab, rng, rec, acc, record_every, stop)
        if code == 1:  # many plastic sites: this step's stress update by FFT
            k = iscal[2]
            idx = plist[:k]
            field.flat[idx] = dgam[:k]
            P = scipy.fft.rfft2(field)
            P *= Ghat_eng
            s += scipy.fft.irfft2(P, s=(L, L), overwrite_x=True).reshape(-1)
            field.flat[idx] = 0.0
            _fr_finish(gp, dgam, plist, k, scal, iscal, n_steps, mode, drive, params.mu,
                       params.dt, rec, acc, record_every, n)
            continue
        break
    m = iscal[1]
    rec = rec[:m]
    t = rec[:, 0]
    sig = rec[:, 1]
    gtot = sig / params.mu + rec[:, 2]
    g0 = state.gamma_tot(params.mu)
    dtt = np.diff(np.concatenate([[state.time], t]))
    with np.errstate(invalid="ignore", divide="ignore"):
        gdot_pl = acc[:m] / (n * dtt)
        gdot_tot = np.diff(np.concatenate([[g0], gtot])) / dtt
    stuck = iscal[3] >= 0
    stuck_time = state.time + iscal[3] * params.dt if stuck else float("nan")
    traj = Trajectory(t, sig, gtot, gdot_pl, gdot_tot, rec[:, 3], bool(stuck), float(stuck_time))
    final = FiniteRateState(s, th, pl, gp, float(scal[0]), float(state.time + iscal[0] * params.dt))
    return traj, final


# =============================================================== quasistatic model (Tyukodi)
@dataclass(frozen=True)
class QuasistaticParams:
    """Quasistatic extremal scalar EPM with renewal disorder (Tyukodi et al., seed 002).

    Parameters
    ----------
    initial : ThresholdDistribution
        ``p_i``: thresholds of the as-quenched glass.
    renewal : ThresholdDistribution, optional
        ``p_r``: thresholds drawn after each slip. None: the *disordered* scenario
        ``p_r = p_i``; another distribution (a younger glass): the *rejuvenation* scenario.
    c0, c1 : float
        Slip increments ``eps0`` (tensor plastic strain) are exponential with mean
        ``c0 + c1 sigma_c^2``, ``sigma_c`` the threshold just exceeded; ``c0 > 0``,
        ``c1 >= 0``.
    L : int
        Lattice size (seed: 16).
    mu, K : float
        Shear and 2D bulk moduli (seed: ESL glass 14.7, 52; GQ glass 19, 55).
    normalisation : {"eshelby", "continuum"}
        Lattice kernel normalisation.
    max_events : int
        Safety bound on the number of events in one avalanche (a RuntimeError beyond).
    """

    initial: ThresholdDistribution
    renewal: ThresholdDistribution | None = None
    c0: float = 0.0626
    c1: float = 0.0
    L: int = 16
    mu: float = 14.7
    K: float = 52.0
    normalisation: Literal["eshelby", "continuum"] = "eshelby"
    max_events: int = 10_000_000

    def __post_init__(self) -> None:
        _as_distribution("initial", self.initial)
        if self.renewal is not None:
            _as_distribution("renewal", self.renewal)
        object.__setattr__(self, "c0", _positive("c0", self.c0))
        c1 = _real("c1", self.c1)
        if c1 < 0 or not np.isfinite(c1):
            raise ValueError(f"c1 must be in [0, inf), got {self.c1!r}")
        object.__setattr__(self, "c1", c1)
        object.__setattr__(self, "L", _lattice_size(self.L))
        object.__setattr__(self, "mu", _positive("mu", self.mu))
        object.__setattr__(self, "K", _positive("K", self.K, allow_inf=True))
        if self.normalisation not in ("eshelby", "continuum"):
            raise ValueError(
                f"normalisation must be 'eshelby' or 'continuum', got {self.normalisation!r}"
            )
        if isinstance(self.max_events, bool) or not isinstance(self.max_events, int) \
                or self.max_events < 1:
            raise ValueError(f"max_events must be an integer >= 1, got {self.max_events!r}")

    @property
    def renewal_dist(self) -> ThresholdDistribution:
        """``p_r`` (``p_i`` in the disordered scenario)."""
        return self.initial if self.renewal is None else self.renewal

    @property
    def scenario(self) -> str:
        """``"disordered"`` (``p_r = p_i``) or ``"rejuvenation"``."""
        return "disordered" if self.renewal is None else "rejuvenation"

    @property
    def kernel(self) -> LatticeEshelby:
        """The lattice Eshelby kernel (cached)."""
        return _kernel(self.L, self.mu, self.K, self.normalisation)

    @property
    def mu_eff(self) -> float:
        """``mu* = mu / (1 + mu / K)``."""
        return effective_modulus(self.mu, self.K)

    @property
    def mean_slip(self) -> float:
        """``eps0_bar = c0 + c1 <sigma_c^2>_r`` over the renewal distribution."""
        return self.c0 + self.c1 * self.renewal_dist.second_moment()

    @property
    def disorder_strength(self) -> float:
        """``s = std(p_r) / (mu* eps0_bar)`` (seed 002, eq. 3)."""
        return self.renewal_dist.std() / (self.mu_eff * self.mean_slip)

    @property
    def age(self) -> float:
        """``r = (<sigma_c^i> - <sigma_c^r>) / <sigma_c^r>`` (seed 002, eq. 6)."""
        mr = self.renewal_dist.mean()
        return (self.initial.mean() - mr) / mr


@dataclass(frozen=True, eq=False)
class QuasistaticState:
    """State of the quasistatic model.

    Attributes
    ----------
    stress_int : (N,) float64
        Internal stress (zero mean).
    threshold : (N,) float64
    eps_pl : (N,) float64
        Tensor plastic shear strain.
    sigma_ext : float
        External (mean) stress.
    eps_tot : float
        Mean total tensor shear strain ``Sigma / (2 mu) + <eps_pl>``.
    """

    stress_int: NDArray[np.float64]
    threshold: NDArray[np.float64]
    eps_pl: NDArray[np.float64]
    sigma_ext: float
    eps_tot: float

    @property
    def gamma(self) -> float:
        """Engineering macroscopic strain ``2 eps_tot``."""
        return 2.0 * self.eps_tot

    @property
    def stress(self) -> NDArray[np.float64]:
        """Local stresses, (N,)."""
        return self.sigma_ext + self.stress_int

    def strain_field(self, mu: float) -> NDArray[np.float64]:
        """Local total engineering strain ``sigma_i / mu + 2 eps_pl_i``.

        Parameters
        ----------
        mu : float
            Shear modulus of the model (``params.mu``), stress units.

        Returns
        -------
        (N,) ndarray
            One strain per site (row-major, x fastest).
        """
        return self.stress / mu + 2.0 * self.eps_pl


@dataclass(frozen=True, eq=False)
class QuasistaticResult:
    """Output of :func:`run_quasistatic` (engineering strains).

    Attributes
    ----------
    gamma : (n_av,) float64
        Strain at which each avalanche happened (strain is fixed during an avalanche).
    sigma_peak, sigma_after : (n_av,) float64
        External stress at the start (loading point) and end of each avalanche.
    size : (n_av,) int64
        Number of local slips in each avalanche.
    slip : (n_av,) float64
        Sum of the tensor slip increments in each avalanche.
    obs_gamma : (m,) float64
        Strains of the field observations.
    obs_sigma : (m,) float64
        External stress there.
    mean_threshold, strain_var, loc, stress_std : (m,) float64
        Mean threshold, variance of the local total strain, localisation index
        (:func:`femplastic.lattice.localisation_index`) of the local total strain
        (nan for a zero field), standard deviation of the internal stress.
    """

    gamma: NDArray[np.float64]
    sigma_peak: NDArray[np.float64]
    sigma_after: NDArray[np.float64]
    size: NDArray[np.int64]
    slip: NDArray[np.float64]
    obs_gamma: NDArray[np.float64]
    obs_sigma: NDArray[np.float64]
    mean_threshold: NDArray[np.float64]
    strain_var: NDArray[np.float64]
    loc: NDArray[np.float64]
    stress_std: NDArray[np.float64]


def quasistatic_initial_state(
    params: QuasistaticParams,
    rng: np.random.Generator,
    thresholds: ArrayLike | None = None,
    stress: ArrayLike | None = None,
) -> QuasistaticState:
    """Unstrained initial state, thresholds from ``p_i`` unless a map is given.

    Parameters
    ----------
    params : QuasistaticParams
    rng : numpy.random.Generator
    thresholds : (N,) or (L, L) array_like, optional
        Threshold map (default: drawn from ``params.initial``).
    stress : (N,) or (L, L) array_like, optional
        Initial local stress map (the external stress starts at its mean).
    """
    rng = _generator(rng)
    L = params.L
    n = L * L
    th = params.initial.sample(rng, n) if thresholds is None else _site_map("thresholds",
                                                                          thresholds, L)
    if stress is None:
        s, sigma0 = np.zeros(n), 0.0
    else:
        s = _site_map("stress", stress, L)
        sigma0 = float(s.mean())
        s -= sigma0
    return QuasistaticState(s, th, np.zeros(n), sigma0, sigma0 / (2.0 * params.mu))


def run_quasistatic(
    params: QuasistaticParams,
    state: QuasistaticState,
    gamma_max: float,
    rng: np.random.Generator,
    observe_every: float | None = None,
) -> tuple[QuasistaticResult, QuasistaticState]:
    """Extremal quasistatic shear with synchronous avalanches up to strain ``gamma_max``.

    Each cycle raises the external stress until the weakest site (smallest
    ``sigma_th - s``) reaches its threshold, then updates all unstable sites synchronously at
    fixed total strain (each slip ``eps0`` lowers the external stress by
    ``2 mu eps0 / N`` and adds ``G * eps0`` to the internal stress) until none is left.

    Parameters
    ----------
    params : QuasistaticParams
    state : QuasistaticState
        Not modified.
    gamma_max : float
        Final engineering strain (``2 eps_tot``), > the current one.
    rng : numpy.random.Generator
    observe_every : float, optional
        Strain interval of the field observations (default ``gamma_max / 200``). Fields are
        recorded at exactly these strains (on the elastic branch).

    Returns
    -------
    result : QuasistaticResult
    state : QuasistaticState

    Examples
    --------
    >>> import numpy as np
    >>> p = QuasistaticParams(initial=Weibull.from_mean_std(1.14, 0.478), c0=0.03, c1=0.02,
    ...                       L=8, mu=14.7, K=52.0)
    >>> rng = np.random.default_rng(0)
    >>> res, st = run_quasistatic(p, quasistatic_initial_state(p, rng), gamma_max=0.2,
    ...                           rng=rng)
    >>> bool(res.size.min() >= 1), bool(np.all(res.sigma_after <= res.sigma_peak))
    (True, True)
    """
    if not isinstance(params, QuasistaticParams):
        raise ValueError(f"params must be QuasistaticParams, got {type(params).__name__}")
    rng = _generator(rng)
    L = params.L
    n = L * L
    _check_state("state", state, QuasistaticState, n)
    gmax = _real("gamma_max", gamma_max)
    if not np.isfinite(gmax) or gmax <= state.gamma:
        raise ValueError(f"gamma_max must be finite and > the current strain {state.gamma:g}")
    dg = (gmax - state.gamma) / 200 if observe_every is None else _positive("observe_every",
                                                                           observe_every)
    grid = np.arange(state.gamma, gmax + 0.5 * dg, dg)
    grid[-1] = min(grid[-1], gmax)
    kern = params.kernel
    s = state.stress_int.copy()
    th = state.threshold.copy()
    ep = state.eps_pl.copy()
    scal = np.array([state.sigma_ext, state.eps_tot])
    ikind, ipar, itab = params.renewal_dist.code()
    buf_n = 4096
    chunks: list[NDArray[np.float64]] = []
    obs = np.empty((grid.size, 6))
    unstable = np.empty(n, dtype=np.int64)
    deps = np.empty(n)
    for k, g in enumerate(grid):
        while True:
            rec = np.empty((buf_n, 5))
            cnt = np.zeros(1, dtype=np.int64)
            code = _qs_advance(s, th, ep, scal, kern.G, L, params.mu, params.c0, params.c1,
                               ikind, ipar, itab, rng, 0.5 * g, rec, cnt, unstable, deps,
                               params.max_events)
            chunks.append(rec[: cnt[0]])
            if code == 2:
                raise RuntimeError(
                    f"an avalanche exceeded max_events={params.max_events} slips (slip "
                    "increments too small for the thresholds?)"
                )
            if code == 0:
                break
        sig = scal[0] + s
        strain = sig / params.mu + 2.0 * ep
        loc = localisation_index(strain.reshape(L, L)) if np.any(strain) else np.nan
        obs[k] = (2.0 * scal[1], scal[0], th.mean(), strain.var(), loc, s.std())
    allrec = np.concatenate(chunks) if chunks else np.empty((0, 5))
    result = QuasistaticResult(
        gamma=2.0 * allrec[:, 0], sigma_peak=allrec[:, 1], sigma_after=allrec[:, 2],
        size=allrec[:, 3].astype(np.int64), slip=allrec[:, 4],
        obs_gamma=obs[:, 0], obs_sigma=obs[:, 1], mean_threshold=obs[:, 2],
        strain_var=obs[:, 3], loc=obs[:, 4], stress_std=obs[:, 5],
    )
    final = QuasistaticState(s, th, ep, float(scal[0]), float(scal[1]))
    return result, final


# =============================================================== numba kernels
@nb.njit(cache=True)
def _draw(kind, par, tab, rng):  # pragma: no cover - compiled
    """Draw one threshold.

    kind 0: Weibull(shape par[0], scale par[1]); 1: normal(par[0], par[1]) truncated to
    ``> par[2]`` (rejection); 2: piecewise-linear inverse CDF through the sorted samples
    ``tab`` at plotting positions ``(j + 1/2) / m``.
    """
    if kind == 0:
        return par[1] * rng.weibull(par[0])
    if kind == 1:
        while True:
            x = par[0] + par[1] * rng.standard_normal()
            if x > par[2]:
                return x
    m = tab.shape[0]
    u = rng.random() * m - 0.5
    if u <= 0.0:
        return tab[0]
    j = int(u)
    if j >= m - 1:
        return tab[m - 1]
    f = u - j
    return tab[j] + f * (tab[j + 1] - tab[j])


@nb.njit(cache=True)
def _draw_many(kind, par, tab, rng, out):  # pragma: no cover - compiled
    """Fill ``out`` with independent draws of :func:`_draw`."""
    for i in range(out.shape[0]):
        out[i] = _draw(kind, par, tab, rng)


@nb.njit(cache=True)
def _fr_finish(gp, dgam, plist, n_pl, scal, iscal, n_steps, mode, drive, mu, dt, rec, acc,
               rec_every, n):  # pragma: no cover - compiled
    """Second half of a finite-rate step: plastic strain, external stress, time, records."""
    tot = 0.0
    for k in range(n_pl):
        gp[plist[k]] += dgam[k]
        tot += dgam[k]
    mean_inc = tot / n
    if mode == 1:
        scal[0] += mu * (drive * dt - mean_inc)
    scal[2] += tot
    scal[3] += mean_inc
    iscal[0] += 1
    step = iscal[0]
    if step % rec_every == 0 or step == n_steps:
        _fr_record(scal, iscal, rec, acc, dt, n_pl / n)


@nb.njit(cache=True)
def _fr_record(scal, iscal, rec, acc, dt, frac):  # pragma: no cover - compiled
    r = iscal[1]
    rec[r, 0] = scal[1] + iscal[0] * dt
    rec[r, 1] = scal[0]
    rec[r, 2] = scal[3]
    rec[r, 3] = frac
    acc[r] = scal[2]
    scal[2] = 0.0
    iscal[1] = r + 1


@nb.njit(cache=True)
def _fr_advance(s, th, pl, gp, dgam, plist, G, L, scal, iscal, n_steps, fft_min, mode, drive,
                mu, p_pl, p_res, c_flow, dt, kind, dpar, dtab, rng, rec, acc, rec_every,
                stop_stuck):  # pragma: no cover - compiled
    """Advance the finite-rate model until ``n_steps`` steps (0), an FFT step (1), stuck (2).

    One step: every plastic site flows by ``sigma dt / (mu tau)`` (engineering), then
    plastic sites recover with probability ``p_res`` (drawing a new threshold) and elastic
    sites above threshold turn plastic with probability ``p_pl``; the internal stress gets
    ``G * dgamma`` (real-space shifted adds here; when ``n_pl >= fft_min`` the caller does
    an FFT and calls :func:`_fr_finish`), the external stress follows the protocol.
    ``G`` is the kernel per unit engineering strain.
    """
    n = s.shape[0]
    while iscal[0] < n_steps:
        S = scal[0]
        n_pl = 0
        n_above = 0
        for i in range(n):
            sig = S + s[i]
            if pl[i] != 0:
                dgam[n_pl] = sig * c_flow
                plist[n_pl] = i
                n_pl += 1
                if rng.random() < p_res:
                    pl[i] = 0
                    th[i] = _draw(kind, dpar, dtab, rng)
            elif sig > th[i]:
                n_above += 1
                if rng.random() < p_pl:
                    pl[i] = 1
        if n_pl == 0 and n_above == 0 and stop_stuck != 0:
            iscal[3] = iscal[0]
            _fr_record(scal, iscal, rec, acc, dt, 0.0)
            return 2
        if n_pl >= fft_min:
            iscal[2] = n_pl
            return 1
        for k in range(n_pl):
            scalar_shifted_add(s, G, L, plist[k], dgam[k])
        _fr_finish(gp, dgam, plist, n_pl, scal, iscal, n_steps, mode, drive, mu, dt, rec, acc,
                   rec_every, n)
    return 0


@nb.njit(cache=True)
def _qs_advance(s, th, ep, scal, G, L, mu, c0, c1, kind, par, tab, rng, eps_stop, rec, cnt,
                unstable, deps, max_events):  # pragma: no cover - compiled
    """Extremal loading + synchronous avalanches until the strain ``eps_stop`` (tensor).

    Returns 0 when the strain ``eps_stop`` is reached on an elastic branch (the external
    stress is then the one at ``eps_stop``), 1 when the record buffer is full, 2 when an
    avalanche exceeds ``max_events`` slips. ``rec[k] = (eps, sigma_peak, sigma_after, size,
    slip)`` per avalanche, ``cnt[0]`` records written. ``scal = [Sigma_ext, eps_tot]``.
    """
    n = s.shape[0]
    two_mu = 2.0 * mu
    while True:
        if cnt[0] >= rec.shape[0]:
            return 1
        # loading: the weakest site
        imin = 0
        xmin = th[0] - s[0]
        for i in range(1, n):
            x = th[i] - s[i]
            if x < xmin:
                xmin = x
                imin = i
        eps_next = scal[1] + (xmin - scal[0]) / two_mu
        if eps_next >= eps_stop:
            scal[0] += two_mu * (eps_stop - scal[1])
            scal[1] = eps_stop
            return 0
        scal[1] = eps_next
        scal[0] = xmin
        peak = xmin
        size = 0
        slip = 0.0
        first = True
        while True:
            k = 0
            S = scal[0]
            if first:
                unstable[0] = imin
                k = 1
            for i in range(n):
                if first and i == imin:
                    continue
                if S + s[i] >= th[i]:
                    unstable[k] = i
                    k += 1
            first = False
            if k == 0:
                break
            tot = 0.0
            for j in range(k):
                i = unstable[j]
                mean = c0 + c1 * th[i] * th[i]
                d = rng.exponential(mean)
                deps[j] = d
                ep[i] += d
                tot += d
                th[i] = _draw(kind, par, tab, rng)
            for j in range(k):
                scalar_shifted_add(s, G, L, unstable[j], deps[j])
            scal[0] -= two_mu * tot / n
            size += k
            slip += tot
            if size > max_events:
                return 2
        r = cnt[0]
        rec[r, 0] = scal[1]
        rec[r, 1] = peak
        rec[r, 2] = scal[0]
        rec[r, 3] = size
        rec[r, 4] = slip
        cnt[0] = r + 1

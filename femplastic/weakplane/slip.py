"""Weak-plane slip systems: orientations, thresholds, amplitudes, renewal (Castellanos, 3.1-3.3).

Each law is a small frozen object with a ``sample(rng, ...)`` method. Every built-in law is
an inverse transform of uniforms, and the very same compiled inverse CDF
(:mod:`femplastic.weakplane.kernels`) serves ``sample`` and the drivers, so a Kolmogorov-Smirnov
test
of ``sample`` tests what the simulation draws.

Plug in your own threshold law with :meth:`TabulatedThreshold.from_ppf` (any quantile
function, e.g. a frozen ``scipy.stats`` distribution's ``ppf``) or
:meth:`TabulatedThreshold.from_samples` (measured thresholds).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..fe.elasticity import schmid
from . import kernels as K

__all__ = [
    "schmid",
    "n_systems",
    "RandomGroups",
    "FixedAngles",
    "Weibull",
    "ConstantThreshold",
    "TabulatedThreshold",
    "BoundedPowerLaw",
    "FixedAmplitude",
    "ExponentialAmplitude",
    "SlipLaw",
    "gmax",
]


def n_systems(l: float, rho_s: float = 0.8) -> int:
    """Number of slip systems ``N = rho_s l^2`` rounded to the nearest multiple of 4 (>= 4).

    >>> [n_systems(l) for l in (3.5, 4.4, 6.6, 8.8, 10.5, 13.2)]
    [8, 16, 36, 60, 88, 140]

    (Castellanos et al.'s Table 1 lists 64, 92, 144 for the three largest ``l``: those are not the
    nearest multiples of 4 of ``0.8 l^2 = 61.95, 88.2, 139.4``; the presets use the table.)
    """
    if not np.isfinite(l) or l <= 0:
        raise ValueError(f"l must be > 0, got {l!r}")
    if not np.isfinite(rho_s) or rho_s <= 0:
        raise ValueError(f"rho_s must be > 0, got {rho_s!r}")
    return max(4, 4 * int(np.floor(rho_s * l * l / 4.0 + 0.5)))


def _pos(name: str, v: float) -> float:
    v = float(v)
    if not np.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {v!r}")
    return v


# ---------------------------------------------------------------- orientations
@dataclass(frozen=True)
class RandomGroups:
    """Orientation groups ``theta + (0, pi/2, pi/4, 3pi/4)``, ``theta ~ U(-pi/2, pi/2]``.

    Guarantees a finite element yield stress in every loading direction; ``N`` must be a
    multiple of 4.
    """

    kind = K.ORIENT_GROUPS

    def sample(self, rng: np.random.Generator, n_elem: int, N: int) -> NDArray[np.float64]:
        """Angles (n_elem, N) in radians."""
        if N % 4 or N <= 0:
            raise ValueError(f"N must be a positive multiple of 4 for orientation groups, got {N}")
        th = np.pi / 2 - np.pi * rng.random((n_elem, N // 4))
        out = np.empty((n_elem, N))
        for j, off in enumerate((0.0, np.pi / 2, np.pi / 4, 3 * np.pi / 4)):
            out[:, j::4] = th + off
        return out

    def table(self, N: int) -> NDArray[np.float64]:
        """Kernel table (unused for random groups)."""
        return np.zeros(max(N, 1))


@dataclass(frozen=True)
class FixedAngles:
    """The same angles (radians) in every element, e.g. ``(0, pi/2)`` for model F."""

    angles: tuple[float, ...] = (0.0, np.pi / 2)
    kind = K.ORIENT_FIXED

    def sample(self, rng: np.random.Generator, n_elem: int, N: int) -> NDArray[np.float64]:
        """Angles (n_elem, N)."""
        if N != len(self.angles):
            raise ValueError(f"N = {N} but FixedAngles has {len(self.angles)} angles")
        return np.tile(np.asarray(self.angles, dtype=float), (n_elem, 1))

    def table(self, N: int) -> NDArray[np.float64]:
        """The angles as the kernel's table, (N,)."""
        return np.asarray(self.angles, dtype=float)


# ---------------------------------------------------------------- thresholds
class _Threshold:
    kind: int

    def params(self) -> tuple[float, float, NDArray[np.float64]]:
        raise NotImplementedError

    def ppf(self, u: ArrayLike) -> NDArray[np.float64]:
        """Quantile function (vectorised), the same compiled code the drivers use."""
        p0, p1, table = self.params()
        u = np.asarray(u, dtype=float)
        out = np.empty(u.shape)
        flat = out.reshape(-1)
        for i, ui in enumerate(u.reshape(-1)):
            flat[i] = K.ppf_threshold(self.kind, p0, p1, table, ui)
        return out

    def sample(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> NDArray[np.float64]:
        """Thresholds ``tau_c`` (LJ stress units) of the given size."""
        return self.ppf(rng.random(size))


@dataclass(frozen=True)
class Weibull(_Threshold):
    """Weibull thresholds ``P(tau_c) = k/lam (tau_c/lam)^(k-1) exp(-(tau_c/lam)^k)`` (eq. 5)."""

    k: float = 2.18
    lam: float = 2.05
    kind = K.THR_WEIBULL

    def __post_init__(self) -> None:
        _pos("k", self.k)
        _pos("lam", self.lam)

    def params(self) -> tuple[float, float, NDArray[np.float64]]:
        """Kernel parameters."""
        return float(self.k), float(self.lam), np.zeros(2)


@dataclass(frozen=True)
class ConstantThreshold(_Threshold):
    """Every threshold equals ``tau_c`` (model E: 0.925)."""

    tau_c: float = 0.925
    kind = K.THR_CONSTANT

    def __post_init__(self) -> None:
        _pos("tau_c", self.tau_c)

    def params(self) -> tuple[float, float, NDArray[np.float64]]:
        """Kernel parameters."""
        return float(self.tau_c), 0.0, np.zeros(2)


@dataclass(frozen=True, eq=False)
class TabulatedThreshold(_Threshold):
    """A threshold law given by its quantile function tabulated at ``u = 0, 1/m, ..., 1``.

    Build it from measured thresholds (:meth:`from_samples`) or from any quantile function
    (:meth:`from_ppf`, e.g. ``scipy.stats.gamma(2, scale=0.5).ppf``).
    """

    table: NDArray[np.float64] = field(default_factory=lambda: np.array([0.5, 1.0]))
    kind = K.THR_TABLE

    def __post_init__(self) -> None:
        t = np.asarray(self.table, dtype=float)
        if t.ndim != 1 or t.size < 2:
            raise ValueError("table must be a 1D array of at least 2 quantiles")
        if not np.all(np.isfinite(t)) or np.any(t <= 0):
            raise ValueError("table quantiles must be finite and > 0 (thresholds are positive)")
        if np.any(np.diff(t) < 0):
            raise ValueError("table quantiles must be non-decreasing")
        object.__setattr__(self, "table", t)

    @classmethod
    def from_samples(cls, samples: ArrayLike, m: int = 512) -> TabulatedThreshold:
        """Empirical quantiles of measured thresholds (linear interpolation between them)."""
        x = np.asarray(samples, dtype=float).ravel()
        if x.size < 2:
            raise ValueError("samples must contain at least 2 thresholds")
        return cls(np.quantile(x, np.linspace(0.0, 1.0, m + 1)))

    @classmethod
    def from_ppf(cls, ppf: Callable[[NDArray], NDArray], m: int = 4096,
                 eps: float = 1e-9) -> TabulatedThreshold:
        """Tabulate a quantile function on ``[eps, 1 - eps]`` (tails clipped)."""
        u = np.linspace(eps, 1.0 - eps, m + 1)
        return cls(np.asarray(ppf(u), dtype=float))

    def params(self) -> tuple[float, float, NDArray[np.float64]]:
        """Kernel parameters."""
        return 0.0, 0.0, self.table


# ---------------------------------------------------------------- amplitudes
def gmax(tau: ArrayLike, selfres: ArrayLike) -> NDArray[np.float64]:
    """Dissipation bound ``gmax(tau) = -2 tau / ((C:(S - I):M):M) = 2 tau / selfres`` (eq. 6).

    Parameters
    ----------
    tau : array_like
        Resolved shear stress at activation.
    selfres : array_like
        ``-(K_self : M) : M > 0``, the element's own stress relief per unit slip on ``M``.
    """
    return 2.0 * np.asarray(tau, dtype=float) / np.asarray(selfres, dtype=float)


class _Amplitude:
    kind: int

    def params(self) -> tuple[float, float]:
        raise NotImplementedError

    def sample(
        self,
        rng: np.random.Generator,
        gmax: ArrayLike = 1.0,
        tau_c: ArrayLike = 0.0,
        size: int | tuple[int, ...] | None = None,
    ) -> NDArray[np.float64]:
        """Amplitudes ``dgamma_pl`` (one per broadcast element of ``gmax``, ``tau_c``)."""
        g, t = np.broadcast_arrays(np.asarray(gmax, float), np.asarray(tau_c, float))
        if size is not None:
            g = np.broadcast_to(g, size)
            t = np.broadcast_to(t, size)
        u = rng.random(g.shape)
        p0, p1 = self.params()
        out = np.empty(g.shape)
        fo, fg, ft, fu = out.reshape(-1), g.reshape(-1), t.reshape(-1), u.reshape(-1)
        for i in range(fo.size):
            fo[i] = K.ppf_amplitude(self.kind, p0, p1, fg[i], ft[i], fu[i])
        return out


@dataclass(frozen=True)
class BoundedPowerLaw(_Amplitude):
    """``P(x) = chi/gmax (1 - x/gmax)^(chi - 1)`` on ``0 < x < gmax`` (eq. 7)."""

    chi: float = 2.25
    kind = K.AMP_POWER

    def __post_init__(self) -> None:
        _pos("chi", self.chi)

    def params(self) -> tuple[float, float]:
        """Kernel parameters."""
        return float(self.chi), 0.0


@dataclass(frozen=True)
class FixedAmplitude(_Amplitude):
    """Every slip has amplitude ``dgamma`` (models F, G, H)."""

    dgamma: float = 0.022
    kind = K.AMP_FIXED

    def __post_init__(self) -> None:
        _pos("dgamma", self.dgamma)

    def params(self) -> tuple[float, float]:
        """Kernel parameters."""
        return float(self.dgamma), 0.0


@dataclass(frozen=True)
class ExponentialAmplitude(_Amplitude):
    """Exponential amplitudes, mean ``c0 + c1 tau_c^2`` (slip-threshold correlation, Tyukodi)."""

    c0: float = 0.05
    c1: float = 0.0
    kind = K.AMP_EXPONENTIAL

    def __post_init__(self) -> None:
        _pos("c0", self.c0)
        if not np.isfinite(self.c1) or self.c1 < 0:
            raise ValueError(f"c1 must be >= 0, got {self.c1!r}")

    def params(self) -> tuple[float, float]:
        """Kernel parameters."""
        return float(self.c0), float(self.c1)


# ---------------------------------------------------------------- the whole law
@dataclass(frozen=True)
class SlipLaw:
    """Everything that defines the slip systems of an element and their evolution.

    Parameters
    ----------
    N : int
        Systems per element (multiple of 4 with :class:`RandomGroups`).
    orientation : RandomGroups or FixedAngles
    threshold : Weibull, ConstantThreshold or TabulatedThreshold
    amplitude : BoundedPowerLaw, FixedAmplitude or ExponentialAmplitude
    shared_threshold : bool
        One threshold per element shared by its systems (model F).
    renew_thresholds, renew_angles : bool
        Whether a slip renews the element's thresholds / angles (all ``N`` systems).
    pressure_coefficient : float
        Drucker-Prager ``a``: the effective threshold is ``tau_c + a (p + p0)`` (model B).
    pressure_offset : float
        Hydrostatic offset ``p0`` added to the local pressure (model B: 1.95).
    per_element : (n_elem, 4) ndarray, optional
        Element-size ingredient (:mod:`femplastic.weakplane.element_size`): per element
        ``[k_e, lam_e, chi_e, N_e]`` replacing the Weibull ``(k, lam)``, the power-law ``chi``
        and ``N`` (then the padded width ``max N_e``; systems ``k >= N_e`` are inactive, with
        threshold ``+inf``). Needs random groups, Weibull, power law, unshared thresholds.
    """

    N: int = 36
    orientation: RandomGroups | FixedAngles = field(default_factory=RandomGroups)
    threshold: _Threshold = field(default_factory=Weibull)
    amplitude: _Amplitude = field(default_factory=BoundedPowerLaw)
    shared_threshold: bool = False
    renew_thresholds: bool = True
    renew_angles: bool = True
    pressure_coefficient: float = 0.0
    pressure_offset: float = 0.0
    per_element: NDArray[np.float64] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.per_element is not None:
            self._check_per_element()
        if isinstance(self.N, bool) or not isinstance(self.N, int | np.integer) or self.N < 1:
            raise ValueError(f"N must be a positive integer, got {self.N!r}")
        if isinstance(self.orientation, RandomGroups) and self.N % 4:
            raise ValueError(f"N must be a multiple of 4 (orientation groups), got {self.N}")
        if isinstance(self.orientation, FixedAngles) and len(self.orientation.angles) != self.N:
            raise ValueError(
                f"N = {self.N} but the fixed orientation has {len(self.orientation.angles)} angles"
            )
        if not np.isfinite(self.pressure_coefficient) or self.pressure_coefficient < 0:
            raise ValueError(f"pressure_coefficient must be >= 0, got {self.pressure_coefficient}")

    def _check_per_element(self) -> None:
        t = np.ascontiguousarray(self.per_element, dtype=float)
        if t.ndim != 2 or t.shape[1] != 4:
            raise ValueError(f"per_element must have shape (n_elem, 4), got {t.shape}")
        if not np.all(np.isfinite(t)) or np.any(t <= 0):
            raise ValueError("per_element: k_e, lam_e, chi_e, N_e must be finite and > 0")
        ne = t[:, 3]
        if np.any(ne % 4) or ne.max() > self.N:
            raise ValueError(f"per_element: N_e must be multiples of 4, at most N = {self.N} "
                             "(the padded width)")
        if not (isinstance(self.orientation, RandomGroups) and isinstance(
                self.threshold, Weibull) and isinstance(self.amplitude, BoundedPowerLaw)
                and not self.shared_threshold):
            raise ValueError("per_element needs RandomGroups, Weibull thresholds (not shared) "
                             "and BoundedPowerLaw amplitudes")
        object.__setattr__(self, "per_element", t)

    def n_per_element(self, n_elem: int) -> NDArray[np.int64]:
        """Active systems of each element, (n_elem,): ``N_e``, or ``N`` everywhere."""
        if self.per_element is None:
            return np.full(n_elem, self.N, dtype=np.int64)
        return self.per_element[:, 3].astype(np.int64)

    def arrays(self) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray, NDArray]:
        """``(law_i, law_f, thr_table, angles)``: the ``law`` bundle of the numba kernels.

        Returns
        -------
        tuple of ndarray
            Fields :data:`femplastic.weakplane.bundles.LAW`. With ``per_element`` the
            threshold and amplitude kinds are ``THR_WEIBULL_ELEM`` and ``AMP_POWER_ELEM``
            and ``thr_table`` is ``per_element`` flattened, (4 n_elem,).
        """
        t0, t1, table = self.threshold.params()
        a0, a1 = self.amplitude.params()
        law_i = np.array(
            [self.orientation.kind, self.threshold.kind, int(self.shared_threshold),
             int(self.renew_thresholds), int(self.renew_angles), self.amplitude.kind],
            dtype=np.int64,
        )
        law_f = np.array([t0, t1, a0, a1, self.pressure_coefficient, self.pressure_offset])
        if self.per_element is not None:  # kinds reading [k, lam, chi, N] of element e
            law_i[1], law_i[5] = K.THR_WEIBULL_ELEM, K.AMP_POWER_ELEM
            table = self.per_element.reshape(-1)
        return law_i, law_f, np.ascontiguousarray(table), self.orientation.table(self.N)

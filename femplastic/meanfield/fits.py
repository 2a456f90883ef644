"""Herschel-Bulkley fits of flow curves and the universal HL relation between ``A`` and ``sigma_Y``.

In the HL model the low-rate flow curve is ``sigma_Y + A gdot^(1/2)`` with both constants
functions of ``alpha`` only (:mod:`femplastic.meanfield.exact`); :func:`hl_universal_curve`
tabulates that relation (the seed's Fig. 3), :func:`universal_point` puts a measured pair on
its axes and :func:`alpha_from_yield_stress` inverts it (the seed's ``alpha_flow``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize

from ._checks import FloatArray, _array, _int, _rates, _scalar, _units
from .exact import hl_hb_prefactor, hl_yield_stress

__all__ = [
    "HBFit",
    "UniversalCurve",
    "alpha_from_yield_stress",
    "hb_fit",
    "hl_universal_curve",
    "universal_point",
]


@dataclass(frozen=True)
class HBFit:
    """Herschel-Bulkley fit ``Sigma = sigma_Y + A gdot^n``.

    Attributes
    ----------
    sigma_Y : float
        Dynamical yield stress (stress units of the data).
    A : float
        Prefactor (stress * time^n).
    n : float
        Exponent (fixed if it was given to :func:`hb_fit`).
    stderr : (3,) float64
        One-sigma errors of (sigma_Y, A, n) from the fit covariance (0 for a fixed n).
    """

    sigma_Y: float
    A: float
    n: float
    stderr: FloatArray


def hb_fit(rates: ArrayLike, stresses: ArrayLike, *, n: float | None = None) -> HBFit:
    """Fit ``Sigma = sigma_Y + A gdot^n`` with :func:`scipy.optimize.curve_fit`.

    Parameters
    ----------
    rates : (n_rates,) array_like
        Shear rates (1/time), all in (0, inf), at least 3 (4 if ``n`` is free).
    stresses : (n_rates,) array_like
        Mean stresses (stress units), finite.
    n : float, optional
        Fixed exponent in (0, 2]; default: fitted, bounded to (0, 2].

    Returns
    -------
    HBFit
    """
    r = _rates(rates)
    s = _array("stresses", stresses, ndim=1)
    if s.shape != r.shape:
        raise ValueError(f"stresses must have the shape of rates {r.shape}, got {s.shape}")
    if n is not None:
        n = _scalar("n", n, 0.0, 2.0, hi_open=False)
    need = 3 if n is not None else 4
    if r.size < need:
        raise ValueError(f"rates must hold at least {need} points for this fit, got {r.size}")
    # linear least squares with n = 1/2 (or the given n) as the starting point
    n0 = 0.5 if n is None else n
    basis = np.column_stack([np.ones_like(r), r**n0])
    (sy0, a0), *_ = np.linalg.lstsq(basis, s, rcond=None)
    a0 = max(float(a0), 1e-12 * (abs(float(s.max())) + 1.0))
    if n is not None:
        popt, pcov = optimize.curve_fit(
            lambda x, sy, a: sy + a * x**n, r, s, p0=(sy0, a0), maxfev=20000
        )
        err = np.sqrt(np.clip(np.diag(pcov), 0.0, None))
        return HBFit(float(popt[0]), float(popt[1]), float(n), np.array([err[0], err[1], 0.0]))
    popt, pcov = optimize.curve_fit(
        lambda x, sy, a, nn: sy + a * x**nn,
        r,
        s,
        p0=(sy0, a0, 0.5),
        bounds=([-np.inf, 0.0, 1e-6], [np.inf, np.inf, 2.0]),
        maxfev=20000,
    )
    err = np.sqrt(np.clip(np.diag(pcov), 0.0, None))
    return HBFit(float(popt[0]), float(popt[1]), float(popt[2]), err)


@dataclass(frozen=True)
class UniversalCurve:
    """The HL relation between HB prefactor and yield stress, parametrised by alpha.

    Attributes
    ----------
    alpha : (n,) float64
        Couplings in (0, 1/2).
    sigma_Y : (n,) float64
        ``sigma_Y / sigma_c`` (dimensionless).
    A : (n,) float64
        ``A / sqrt(G0 tau sigma_c)`` (dimensionless).
    """

    alpha: FloatArray
    sigma_Y: FloatArray
    A: FloatArray


def hl_universal_curve(alphas: ArrayLike | None = None, *, n: int = 200) -> UniversalCurve:
    """Tabulate the universal HL curve ``A / sqrt(G0 tau sigma_c)`` vs ``sigma_Y / sigma_c``.

    Parameters
    ----------
    alphas : (n,) array_like, optional
        Couplings, all in (0, 0.5). Default: ``n`` values from 0.005 to 0.49, denser near
        both ends.
    n : int
        Number of default couplings, in [2, 100000].

    Returns
    -------
    UniversalCurve
    """
    if alphas is None:
        n = _int("n", n, 2, 100_000)
        u = np.linspace(0.0, 1.0, n)
        a = 0.005 + (0.49 - 0.005) * (0.5 - 0.5 * np.cos(np.pi * u))
    else:
        a = np.atleast_1d(_array("alphas", alphas))
        if a.ndim != 1 or np.any(a <= 0.0) or np.any(a >= 0.5):
            raise ValueError("alphas must be a 1-D array of couplings in (0, 0.5)")
    sy = np.array([hl_yield_stress(x) for x in a])
    pref = np.array([hl_hb_prefactor(x) for x in a])
    return UniversalCurve(alpha=a, sigma_Y=sy, A=pref)


def universal_point(
    sigma_Y: float, A: float, *, sigma_c: float = 1.0, G0: float = 1.0, tau: float = 1.0
) -> tuple[float, float]:
    """Rescale a measured HB pair onto the axes of the universal HL curve.

    Parameters
    ----------
    sigma_Y : float
        Dynamical yield stress (stress), finite.
    A : float
        HB prefactor with exponent 1/2 (stress * time^(1/2)), finite.
    sigma_c, G0, tau : float
        Local yield stress (stress), shear modulus (stress), plastic time (time), > 0.

    Returns
    -------
    (float, float)
        ``(sigma_Y / sigma_c, A / sqrt(G0 tau sigma_c))``.
    """
    sy = _scalar("sigma_Y", sigma_Y)
    a = _scalar("A", A)
    sigma_c, G0, tau = _units(sigma_c, G0, tau)
    return sy / sigma_c, a / math.sqrt(G0 * tau * sigma_c)


def alpha_from_yield_stress(ratio: float) -> float:
    """Invert the quasistatic yield stress: alpha such that ``sigma_Y / sigma_c = ratio``.

    (The seed's ``alpha_flow``.) ``sigma_Y(alpha)`` decreases from 1/2 (alpha -> 0) to 0
    (alpha -> 1/2).

    Parameters
    ----------
    ratio : float
        ``sigma_Y / sigma_c``, in (0, 0.5).

    Returns
    -------
    float
        alpha in (0, 0.5).
    """
    ratio = _scalar("ratio", ratio, 0.0, 0.5)

    def f(k: float) -> float:
        y = 0.5 * k
        if y < 0.05:
            val = 0.5 * (y / 3.0 - y**3 / 45.0 + 2.0 * y**5 / 945.0 - y**7 / 4725.0)
        else:
            e = math.exp(-k)
            val = 0.5 * (1.0 + e) / (1.0 - e) - 1.0 / k
        return val - ratio

    k_lo, k_hi = min(1e-8, 6.0 * ratio), 10.0  # f ~ k / 12 - ratio for small k
    while f(k_hi) < 0.0:
        k_hi *= 2.0
    k = optimize.brentq(f, k_lo, k_hi, xtol=1e-300, rtol=1e-15, maxiter=500)
    return math.tanh(0.5 * k) / k

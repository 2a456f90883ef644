"""Closed forms of the HL model: quasistatic limit and exact stationary solution.

Quasistatic limit (alpha < 1/2; derivation in :doc:`/physics/meanfield`): with
``k = sigma_c G0 tau / d`` and ``alpha / sigma_c^2 = tanh(k/2) / k`` (appendix eq. 14 of the
seed, with ``u = k``)::

    sigma_Y / sigma_c = coth(k/2) / 2 - 1/k,
    A / sqrt(G0 tau sigma_c) = [coth(k/2) - (sinh k + k) ((k/2) coth(k/2) - 1)
                                / (k (sinh k - k))] / sqrt(k).

The seed's closed forms (23) (``coth(u)`` instead of ``coth(u/2)``) and (24) do not
reproduce the stationary equation; the expressions above do (to 1e-8 against the exact
stationary solution).

For the original model the stationary density at a fixed rate is piecewise exponential
(:func:`hl_stationary_exact`); it is the reference of the finite-volume convergence tests
and gives the first estimate of ``D`` to the solvers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize

from ._checks import FloatArray, _rate_args, _scalar, _units

__all__ = [
    "HLExactSteadyState",
    "hl_d_of_alpha",
    "hl_hb_prefactor",
    "hl_stationary_exact",
    "hl_yield_stress",
]


def hl_d_of_alpha(alpha: float) -> float:
    """Solve the quasistatic self-consistency ``alpha = d tanh(1 / (2 d))`` for ``d``.

    Dimensionless (``sigma_c = G0 = tau = 1``): ``d = lim D / gdot`` as ``gdot -> 0``, and
    ``k = 1/d`` is the inverse width of the inner boundary layer at ``-sigma_c``.

    Parameters
    ----------
    alpha : float
        Coupling, in (0, 0.5).

    Returns
    -------
    float
        ``d > 0`` (``d -> alpha`` as ``alpha -> 0``, ``d -> inf`` as ``alpha -> 1/2``).
    """
    alpha = _scalar("alpha", alpha, 0.0, 0.5)
    return 1.0 / _k_of_alpha(alpha)


def _k_of_alpha(alpha: float) -> float:
    # tanh(k/2)/k decreases from 1/2 (k=0) to 0; root of tanh(k/2)/k = alpha
    def f(k: float) -> float:
        return math.tanh(0.5 * k) / k - alpha

    k_hi = 1.0 / alpha
    k_lo = min(0.5 * math.sqrt(24.0 * (0.5 - alpha)), k_hi)
    while f(k_lo) < 0.0:
        k_lo *= 0.5
    while f(k_hi) > 0.0:
        k_hi *= 2.0
    return float(optimize.brentq(f, k_lo, k_hi, xtol=1e-300, rtol=1e-15, maxiter=500))


def hl_yield_stress(alpha: float, *, sigma_c: float = 1.0) -> float:
    """Dynamical yield stress of the HL model, ``lim <sigma>`` as ``gdot -> 0``.

    ``sigma_Y / sigma_c = coth(k/2)/2 - 1/k`` with ``tanh(k/2)/k = alpha`` for
    ``alpha < 1/2``; ``sigma_Y = 0`` for ``alpha >= 1/2`` (no yield stress).

    Parameters
    ----------
    alpha : float
        Coupling ``D / (sigma_c^2 Gamma)``, in (0, inf).
    sigma_c : float
        Local yield stress (stress units), in (0, inf).

    Returns
    -------
    float
        ``sigma_Y`` in stress units.

    Examples
    --------
    >>> round(hl_yield_stress(0.26), 6), round(hl_hb_prefactor(0.26), 5)
    (0.252788, 0.35699)
    >>> hl_yield_stress(0.6)            # alpha >= 1/2: no yield stress
    0.0
    """
    alpha = _scalar("alpha", alpha, 0.0)
    sigma_c = _scalar("sigma_c", sigma_c, 0.0)
    if alpha >= 0.5:
        return 0.0
    k = _k_of_alpha(alpha)
    y = 0.5 * k
    if y < 0.05:  # coth y - 1/y = y/3 - y^3/45 + 2 y^5/945 - y^7/4725
        val = 0.5 * (y / 3.0 - y**3 / 45.0 + 2.0 * y**5 / 945.0 - y**7 / 4725.0)
    else:
        val = 0.5 / math.tanh(y) - 1.0 / k
    return sigma_c * val


def hl_hb_prefactor(
    alpha: float, *, sigma_c: float = 1.0, G0: float = 1.0, tau: float = 1.0
) -> float:
    """Herschel-Bulkley prefactor ``A`` of ``<sigma> = sigma_Y + A gdot^(1/2) + O(gdot)``.

    From matched asymptotics of the stationary HL equation (``k`` as in
    :func:`hl_yield_stress`)::

        A / sqrt(G0 tau sigma_c) = [coth(k/2) - (sinh k + k)((k/2) coth(k/2) - 1)
                                    / (k (sinh k - k))] / sqrt(k)

    Limits: ``A ~ sqrt(alpha)/2`` for ``alpha -> 0``; ``A ~ (24 (1/2 - alpha))^(-3/4)``
    for ``alpha -> 1/2``.

    Parameters
    ----------
    alpha : float
        Coupling, in (0, 0.5).
    sigma_c, G0, tau : float
        Local yield stress (stress), shear modulus (stress), plastic time (time), in (0, inf).

    Returns
    -------
    float
        ``A`` in stress * time^(1/2).
    """
    alpha = _scalar("alpha", alpha, 0.0, 0.5)
    sigma_c, G0, tau = _units(sigma_c, G0, tau)
    k = _k_of_alpha(alpha)
    y = 0.5 * k
    if k < 0.05:  # series: (k/2) coth(k/2) - 1 and sinh k - k lose all digits otherwise
        c = y**2 / 3.0 - y**4 / 45.0 + 2.0 * y**6 / 945.0 - y**8 / 4725.0
        sk_m_k = k**3 / 6.0 * (1.0 + k**2 / 20.0 + k**4 / 840.0 + k**6 / 60480.0)
        ratio = (math.sinh(k) + k) / sk_m_k
        x = 1.0 / math.tanh(y)
    else:  # written with e = exp(-k): no overflow for large k (small alpha)
        e = math.exp(-k)
        x = (1.0 + e) / (1.0 - e)
        c = y * x - 1.0
        ratio = (1.0 - e * e + 2.0 * k * e) / (1.0 - e * e - 2.0 * k * e)
    val = (x - ratio * c / k) / math.sqrt(k)
    return math.sqrt(G0 * tau * sigma_c) * val


def _series_or(k: float, closed: Callable[[float], float], coeffs: Callable[[int], float]) -> float:
    if k < 0.5:
        return float(sum(coeffs(n) * k**n for n in range(24)))
    return closed(k)


def _J(k: float) -> float:
    """(k + expm1(-k)) / k^2 = int_0^1 s exp(k (s - 1)) ds."""
    return _series_or(
        k,
        lambda q: (q + math.expm1(-q)) / q**2,
        lambda n: (-1.0) ** n / math.factorial(n + 2),
    )


def _K1(k: float) -> float:
    """(J(k) - 1/2) / k = int_0^1 s (exp(k (s - 1)) - 1) / k ds."""
    return _series_or(
        k,
        lambda q: ((q + math.expm1(-q)) / q**2 - 0.5) / q,
        lambda n: (-1.0) ** (n + 1) / math.factorial(n + 3),
    )


def _K2(k: float) -> float:
    """int_{-1}^0 s (exp(k s) - 1) / k ds."""
    return _series_or(
        k,
        lambda q: (math.expm1(-q) / q**2 + math.exp(-q) / q + 0.5) / q,
        lambda n: (-1.0) ** n / (math.factorial(n + 1) * (n + 3)),
    )


def _exact_unnormalised(v: float, D: float) -> dict[str, float]:
    """Stationary HL density for fixed D and unit reinjection (dimensionless units).

    Inside (0, 1): P = c1 + c2 (exp(k (s - 1)) - 1)/k; inside (-1, 0): P = c3 + c4
    (exp(k s) - 1)/k with k = v/D; outside: P(+-1) exp(-(|s| - 1)/l_pm).
    """
    root = math.sqrt(v * v + 4.0 * D)
    l_p = 0.5 * (v + root)  # right decay length 1/lambda
    l_m = 2.0 * D / (root + v)  # left decay length 1/mu
    lam, mu = 1.0 / l_p, 1.0 / l_m
    k = v / D
    e = math.exp(-k)
    phi_m1 = math.expm1(-k) / k  # phi_-(-1) and phi_+(0)
    mat = np.array(
        [
            [lam, 1.0, 0.0, 0.0],  # P'(1) = -lambda P(1)
            [0.0, 0.0, -mu, e - mu * phi_m1],  # P'(-1) = mu P(-1)
            [1.0, phi_m1, -1.0, 0.0],  # continuity at 0
            [0.0, D * e, 0.0, -D],  # D [P'](0) = -1
        ]
    )
    c1, c2, c3, c4 = np.linalg.solve(mat, np.array([0.0, 0.0, 0.0, -1.0]))
    p_m1 = c3 + c4 * phi_m1
    j = _J(k)
    mass = c1 - c2 * j + c3 - c4 * j + c1 * l_p + p_m1 * l_m
    mom = (
        0.5 * c1
        + c2 * _K1(k)
        - 0.5 * c3
        + c4 * _K2(k)
        + c1 * (l_p + l_p**2)
        - p_m1 * (l_m + l_m**2)
    )
    return {
        "c1": c1, "c2": c2, "c3": c3, "c4": c4, "k": k, "l_p": l_p, "l_m": l_m,
        "p_m1": p_m1, "mass": mass, "moment": mom, "outside": c1 * l_p + p_m1 * l_m,
    }  # fmt: skip


def _exact_solve_D(alpha: float, v: float) -> tuple[float, dict[str, float]]:
    """Self-consistent D (dimensionless) of the original model by a root find in log D."""

    def f(logd: float) -> float:
        d = math.exp(logd)
        return d * _exact_unnormalised(v, d)["mass"] - alpha

    hi = math.log(alpha)
    lo = hi - 5.0
    while f(lo) > 0.0:
        lo -= 5.0
        if lo < -700.0:
            raise ValueError("gdot is too small for the stationary solver (D underflows)")
    logd = optimize.brentq(f, lo, hi, xtol=1e-15, rtol=1e-15, maxiter=300)
    d = math.exp(logd)
    return d, _exact_unnormalised(v, d)


@dataclass(frozen=True)
class HLExactSteadyState:
    """Exact stationary state of the original HL model (closed form, piecewise exponential).

    Attributes
    ----------
    alpha, gdot : float
        Coupling and shear rate (1/time).
    mean_stress : float
        ``<sigma>`` (stress).
    activity : float
        ``Gamma`` (1/time).
    diffusion : float
        ``D = alpha sigma_c^2 Gamma`` (stress^2 / time).
    decay_lengths : (float, float)
        Decay lengths of the density beyond ``-sigma_c`` and ``+sigma_c`` (stress).
    sigma_c, G0, tau : float
        Units.
    """

    alpha: float
    gdot: float
    mean_stress: float
    activity: float
    diffusion: float
    decay_lengths: tuple[float, float]
    sigma_c: float
    G0: float
    tau: float
    _coef: dict[str, float] = field(repr=False)

    def density(self, sigma: ArrayLike) -> FloatArray:
        """Evaluate the stationary density.

        Parameters
        ----------
        sigma : (...) array_like
            Stresses (stress units).

        Returns
        -------
        (...) ndarray
            ``P(sigma)`` in 1/stress, normalised to 1.
        """
        s = np.asarray(sigma, dtype=float) / self.sigma_c
        c = self._coef
        k = c["k"]
        with np.errstate(over="ignore", under="ignore"):
            p = np.where(
                s >= 1.0,
                c["c1"] * np.exp(-np.clip(s - 1.0, 0.0, None) / c["l_p"]),
                np.where(
                    s >= 0.0,
                    c["c1"] + c["c2"] * np.expm1(k * (np.clip(s, 0.0, 1.0) - 1.0)) / k,
                    np.where(
                        s >= -1.0,
                        c["c3"] + c["c4"] * np.expm1(k * np.clip(s, -1.0, 0.0)) / k,
                        c["p_m1"] * np.exp(np.clip(s + 1.0, None, 0.0) / c["l_m"]),
                    ),
                ),
            )
        return p / (c["mass"] * self.sigma_c)


def hl_stationary_exact(
    alpha: float,
    gdot: float,
    *,
    sigma_c: float = 1.0,
    G0: float = 1.0,
    tau: float = 1.0,
) -> HLExactSteadyState:
    """Exact stationary solution of the original HL model at a fixed shear rate.

    For fixed ``D`` the stationary equation is linear with constant coefficients on
    ``(-inf, -sigma_c)``, ``(-sigma_c, 0)``, ``(0, sigma_c)``, ``(sigma_c, inf)``: the
    density is ``c + c' exp(G0 gdot sigma / D)`` inside and decays exponentially outside;
    continuity of ``P`` and ``P'`` at ``+-sigma_c``, continuity of ``P`` and the jump
    ``D [P'] = -Gamma`` at 0 fix it. ``D = alpha sigma_c^2 Gamma`` is then a 1D root find.

    Parameters
    ----------
    alpha : float
        Coupling, in (0, inf).
    gdot : float
        Shear rate (1/time), > 0 with ``G0 gdot tau / sigma_c`` in [1e-150, 1e12].
    sigma_c, G0, tau : float
        Local yield stress (stress), shear modulus (stress), plastic time (time), > 0.

    Returns
    -------
    HLExactSteadyState

    Examples
    --------
    >>> from femplastic.meanfield import hl_steady_state
    >>> ex = hl_stationary_exact(0.26, 1e-4)
    >>> fv = hl_steady_state(0.26, 1e-4)                  # finite volumes agree
    >>> round(float(ex.mean_stress), 4), round(fv.mean_stress, 4)
    (0.2564, 0.2564)
    >>> round(float(ex.activity) * 1e4, 3)                # Gamma (1/time)
    1.045
    """
    alpha, gdot, sigma_c, G0, tau, v = _rate_args(alpha, gdot, sigma_c, G0, tau)
    d, c = _exact_solve_D(alpha, v)
    gamma = 1.0 / c["mass"]
    return HLExactSteadyState(
        alpha=alpha,
        gdot=gdot,
        mean_stress=sigma_c * c["moment"] / c["mass"],
        activity=gamma / tau,
        diffusion=d * sigma_c**2 / tau,
        decay_lengths=(sigma_c * c["l_m"], sigma_c * c["l_p"]),
        sigma_c=sigma_c,
        G0=G0,
        tau=tau,
        _coef=c,
    )

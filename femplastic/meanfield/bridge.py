"""Bridge estimators: the HL ingredients measured in simulation records (Puosi et al., eqs. 7-8).

From per-site series of local stresses ``sigma (n_t, n_sites)`` and yielding flags
``plastic (n_t, n_sites)`` at uniformly spaced times: the stress diffusion coefficient of
non-yielding sites (:func:`stress_diffusion`), the activity ``Gamma``
(:func:`activity_rate`), the local stress drops (:func:`stress_drops`,
:func:`mean_stress_drop`) and the coupling ``alpha_micro`` (:func:`alpha_micro`), all at once
with :func:`measure_bridge`. The records can come from any model (lattice, FE);
:mod:`femplastic.lattice.bridge` records and measures the scalar lattice model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._checks import FloatArray, _array, _int, _scalar

__all__ = [
    "BridgeMeasurement",
    "DiffusionFit",
    "activity_rate",
    "alpha_micro",
    "mean_stress_drop",
    "measure_bridge",
    "stress_diffusion",
    "stress_drops",
]


def _times(times: ArrayLike, n_t: int) -> FloatArray:
    t = _array("times", times, ndim=1)
    if t.size != n_t:
        raise ValueError(f"times must have length n_t = {n_t}, got {t.size}")
    dt = np.diff(t)
    if t.size < 2 or np.any(dt <= 0.0):
        raise ValueError("times must be strictly increasing with at least 2 entries")
    if np.any(np.abs(dt - dt.mean()) > 1e-6 * dt.mean()):
        raise ValueError("times must be uniformly spaced (relative spread <= 1e-6)")
    return t


def _plastic(plastic: ArrayLike, shape: tuple[int, ...]) -> NDArray[np.bool_]:
    a = np.asarray(plastic)
    if a.shape != shape:
        raise ValueError(f"plastic must have shape {shape} (n_t, n_sites), got {a.shape}")
    if a.dtype != bool:
        if not np.all(np.isin(a, (0, 1))):
            raise ValueError("plastic must be a boolean (or 0/1) array")
        a = a.astype(bool)
    return a


@dataclass(frozen=True)
class DiffusionFit:
    """Mean-square stress change with the elastic drift removed, and its linear fit.

    Attributes
    ----------
    lags : (n_lag,) float64
        Time lags (time units).
    msd : (n_lag,) float64
        ``<(sigma(t0 + t) - sigma(t0) - v t)^2>`` (stress^2) over sites and origins, with
        ``v`` the removed drift (``G0 gdot`` by default; with ``drift="mean"`` the mean
        displacement at each lag is removed and ``msd`` is the variance).
    counts : (n_lag,) int64
        Number of (site, origin) pairs per lag.
    D_sigma : float
        Slope of the fit ``msd = D_sigma t`` (through the origin) or ``msd = c + D_sigma t``
        (``intercept=True``), the seed's definition (stress^2 / time).
    D_hl : float
        ``D_sigma / 2``: the coefficient of ``d2P/dsigma2`` in the HL equation.
    intercept : float
        ``c`` of the affine fit (stress^2); 0 for the fit through the origin.
    drift_rate : (n_lag,) float64 or None
        Mean displacement of the kept windows divided by the lag (stress / time), before any
        drift removal: the measured loading rate of the non-yielding sites.
    """

    lags: FloatArray
    msd: FloatArray
    counts: NDArray[np.int64]
    D_sigma: float
    D_hl: float
    intercept: float = 0.0
    drift_rate: FloatArray | None = None


def _lag_samples(lags: Any, max_lag: Any, n_t: int) -> NDArray[np.int64]:
    if lags is None:
        hi = max(1, (n_t - 1) // 10) if max_lag is None else _int("max_lag", max_lag, 1, n_t - 1)
        return np.arange(1, hi + 1, dtype=np.int64)
    a = np.atleast_1d(np.asarray(lags))
    if (
        a.ndim != 1
        or a.size == 0
        or a.dtype == bool
        or not np.issubdtype(a.dtype, np.integer)
        or np.any(a < 1)
        or np.any(a > n_t - 1)
        or np.any(np.diff(a) <= 0)
    ):
        raise ValueError(
            f"lags must be a strictly increasing 1-D sequence of integers in [1, {n_t - 1}] "
            f"(samples), got {lags!r}"
        )
    return a.astype(np.int64)


def stress_diffusion(
    sigma: ArrayLike,
    times: ArrayLike,
    gdot: float,
    G0: float,
    *,
    plastic: ArrayLike | None = None,
    max_lag: int | None = None,
    lags: ArrayLike | None = None,
    drift: float | Literal["mean"] | None = None,
    intercept: bool = False,
) -> DiffusionFit:
    """Local stress diffusion coefficient from stress time series (Puosi et al. 2015, eq. 7).

    Parameters
    ----------
    sigma : (n_t, n_sites) array_like
        Local stresses (stress units) at uniformly spaced times.
    times : (n_t,) array_like
        Sampling times (time units), uniformly spaced.
    gdot : float
        Imposed shear rate (1/time), finite.
    G0 : float
        Shear modulus (stress), in (0, inf); the elastic drift is ``G0 gdot t``.
    plastic : (n_t, n_sites) bool array_like, optional
        True where a site is yielding; windows ``[t0, t0 + lag]`` that contain activity of
        the site are excluded (the diffusion of *non-yielding* sites).
    max_lag : int, optional
        Largest lag in samples, in [1, n_t - 1] (the linear regime); default
        ``max(1, (n_t - 1) // 10)``. The lags are ``1 .. max_lag``. Ignored if ``lags``
        is given.
    lags : (n_lag,) int array_like, optional
        Explicit lags in samples, strictly increasing, in [1, n_t - 1] (e.g. a window
        beyond the duration of an event, where the noise has become diffusive).
    drift : float or "mean", optional
        Drift removed from the displacements: ``None`` (default) ``G0 gdot`` as in the
        seed's eq. (7); a number, that rate (stress / time, finite); ``"mean"``, the mean
        displacement of the kept windows at each lag (``msd`` is then the variance). In a
        lattice model the non-yielding sites need not load at ``G0 gdot``.
    intercept : bool
        False: fit ``msd = D_sigma t`` through the origin (seed). True: fit
        ``msd = c + D_sigma t``, the long-time diffusion of a noise that is correlated
        over the duration of an event (needs at least 2 lags with data).

    Returns
    -------
    DiffusionFit
    """
    s = _array("sigma", sigma, ndim=2)
    n_t = s.shape[0]
    t = _times(times, n_t)
    gdot = _scalar("gdot", gdot)
    G0 = _scalar("G0", G0, 0.0)
    j_all = _lag_samples(lags, max_lag, n_t)
    mean_mode = isinstance(drift, str)
    if mean_mode and drift != "mean":
        raise ValueError(f"drift must be None, a finite real number or 'mean', got {drift!r}")
    v = G0 * gdot if drift is None else (0.0 if mean_mode else _scalar("drift", drift))
    if not isinstance(intercept, (bool, np.bool_)):
        raise ValueError(f"intercept must be True or False, got {intercept!r}")
    act = None if plastic is None else _plastic(plastic, s.shape)
    if act is not None:
        cs = np.concatenate([np.zeros((1, s.shape[1]), dtype=np.int64), np.cumsum(act, axis=0)])
    dt = float(np.mean(np.diff(t)))
    lag_t = dt * j_all
    msd = np.full(j_all.size, np.nan)
    rate = np.full(j_all.size, np.nan)
    counts = np.empty(j_all.size, dtype=np.int64)
    for k, j in enumerate(j_all):
        d = s[j:] - s[:-j]
        if act is not None:
            quiet = (cs[j + 1 :] - cs[: n_t - j]) == 0  # no activity in samples t0..t0+j
            d = d[quiet]
        counts[k] = d.size
        if d.size:
            m = float(np.mean(d))
            rate[k] = m / lag_t[k]
            c = m if mean_mode else v * lag_t[k]
            msd[k] = float(np.mean((d - c) ** 2))
    ok = counts > 0
    if not np.any(ok):
        raise ValueError("plastic leaves no activity-free window: cannot measure D_sigma")
    if intercept:
        if np.count_nonzero(ok) < 2:
            raise ValueError("intercept=True needs at least 2 lags with activity-free windows")
        slope, c0 = np.polyfit(lag_t[ok], msd[ok], 1)
        D, c0 = float(slope), float(c0)
    else:
        D, c0 = float(np.sum(lag_t[ok] * msd[ok]) / np.sum(lag_t[ok] ** 2)), 0.0
    return DiffusionFit(
        lags=lag_t,
        msd=msd,
        counts=counts,
        D_sigma=D,
        D_hl=0.5 * D,
        intercept=c0,
        drift_rate=rate,
    )


def activity_rate(
    plastic: ArrayLike,
    times: ArrayLike,
    *,
    mode: Literal["onsets", "fraction"] = "onsets",
    tau: float | None = None,
) -> float:
    """Plastic activity rate Gamma (yield events per site per unit time).

    Parameters
    ----------
    plastic : (n_t, n_sites) bool array_like
        True where a site is yielding.
    times : (n_t,) array_like
        Uniformly spaced sampling times (time units).
    mode : {"onsets", "fraction"}
        "onsets": number of False -> True transitions per site per unit time;
        "fraction": mean fraction of active sites divided by the event duration ``tau``
        (the HL definition ``Gamma = (1/tau) int_{|s|>s_c} P``).
    tau : float, optional
        Duration of an event (time), in (0, inf); required for ``mode="fraction"``.

    Returns
    -------
    float
        Gamma (1/time).
    """
    a = np.asarray(plastic)
    if a.ndim != 2:
        raise ValueError(f"plastic must be a 2-D array (n_t, n_sites), got shape {a.shape}")
    act = _plastic(a, a.shape)
    t = _times(times, act.shape[0])
    if mode == "onsets":
        onsets = np.count_nonzero(act[1:] & ~act[:-1])
        return onsets / (act.shape[1] * float(t[-1] - t[0]))
    if mode == "fraction":
        if tau is None:
            raise ValueError("tau must be given (in (0, inf)) for mode='fraction'")
        return float(act.mean()) / _scalar("tau", tau, 0.0)
    raise ValueError(f"mode must be one of 'onsets', 'fraction', got {mode!r}")


def stress_drops(sigma: ArrayLike, plastic: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Local stresses just before and just after each yielding event.

    An event is a maximal run of True in a site's column of ``plastic`` that starts after
    the first sample and ends before the last; "before" is the last quiet sample, "after"
    the first quiet sample following the run.

    Parameters
    ----------
    sigma : (n_t, n_sites) array_like
        Local stresses (stress units).
    plastic : (n_t, n_sites) bool array_like
        True where a site is yielding.

    Returns
    -------
    before, after : (n_events,) float64
        Stresses before and after each event.
    """
    s = _array("sigma", sigma, ndim=2)
    act = _plastic(plastic, s.shape)
    a = act.astype(np.int8)
    edge = np.diff(a, axis=0)  # +1 at onset (index i -> i+1), -1 at end
    on_t, on_s = np.nonzero(edge == 1)
    off_t, off_s = np.nonzero(edge == -1)
    before, after = [], []
    for site in range(s.shape[1]):
        starts = on_t[on_s == site]  # last quiet sample index
        ends = off_t[off_s == site] + 1  # first quiet sample index
        for i0 in starts:
            later = ends[ends > i0]
            if later.size:
                before.append(s[i0, site])
                after.append(s[later[0], site])
    return np.asarray(before, dtype=float), np.asarray(after, dtype=float)


def mean_stress_drop(before: ArrayLike, after: ArrayLike) -> tuple[float, float]:
    """Mean absolute local stress drop and mean relative drop.

    Parameters
    ----------
    before, after : (n_events,) array_like
        Local stresses before and after each event (stress units).

    Returns
    -------
    (float, float)
        ``<|before - after|>`` (stress) and ``<|before - after| / |before|>``.
    """
    b = _array("before", before, ndim=1)
    a = _array("after", after, ndim=1)
    if a.shape != b.shape or b.size == 0:
        raise ValueError("before and after must be non-empty 1-D arrays of the same length")
    drop = np.abs(b - a)
    nz = np.abs(b) > 0.0
    rel = float(np.mean(drop[nz] / np.abs(b[nz]))) if np.any(nz) else math.nan
    return float(drop.mean()), rel


def alpha_micro(D_sigma: float, stress_drop: float, activity: float) -> float:
    """Coupling ``alpha_micro = D_sigma / (dsigma^2 Gamma)`` (Puosi et al. 2015, eq. 8).

    With the seed's ``D_sigma`` (``msd = D_sigma t``) this is twice the coefficient that
    enters the HL equation, whose noise term ``D d2P/dsigma2`` gives ``msd = 2 D t``:
    pass ``D_hl`` from :func:`stress_diffusion` for the HL-equation convention.

    Parameters
    ----------
    D_sigma : float
        Stress diffusion coefficient (stress^2 / time), in [0, inf).
    stress_drop : float
        Typical local stress jump (stress), in (0, inf): ``sigma_c`` in the original HL
        closure, the mean local drop in eq. (8).
    activity : float
        Gamma (1/time), in (0, inf).

    Returns
    -------
    float
    """
    D_sigma = _scalar("D_sigma", D_sigma, 0.0, lo_open=False)
    stress_drop = _scalar("stress_drop", stress_drop, 0.0)
    activity = _scalar("activity", activity, 0.0)
    return D_sigma / (stress_drop**2 * activity)


@dataclass(frozen=True)
class BridgeMeasurement:
    """HL ingredients measured in a simulation record.

    Attributes
    ----------
    D_sigma : float
        ``msd = D_sigma t`` (stress^2 / time), seed convention.
    D_hl : float
        ``D_sigma / 2``, the HL-equation diffusion coefficient.
    activity : float
        Gamma (1/time), from event onsets.
    mean_drop : float
        Mean absolute local stress drop (stress).
    relative_drop : float
        Mean drop relative to the stress before the event.
    alpha_micro : float
        ``D_sigma / (mean_drop^2 Gamma)`` (seed eq. 8).
    alpha_hl : float
        ``D_hl / (mean_drop^2 Gamma)`` (to use as ``alpha`` in the HL equation with
        ``sigma_c`` replaced by the mean drop).
    n_events : int
        Number of complete events used for the drops.
    diffusion : DiffusionFit
    """

    D_sigma: float
    D_hl: float
    activity: float
    mean_drop: float
    relative_drop: float
    alpha_micro: float
    alpha_hl: float
    n_events: int
    diffusion: DiffusionFit


def measure_bridge(
    sigma: ArrayLike,
    plastic: ArrayLike,
    times: ArrayLike,
    gdot: float,
    G0: float,
    *,
    max_lag: int | None = None,
    lags: ArrayLike | None = None,
    drift: float | Literal["mean"] | None = None,
    intercept: bool = False,
) -> BridgeMeasurement:
    """Measure D_sigma, Gamma, the mean local drop and alpha_micro in one record.

    Parameters
    ----------
    sigma : (n_t, n_sites) array_like
        Local stresses (stress units) at uniformly spaced times.
    plastic : (n_t, n_sites) bool array_like
        True where a site is yielding.
    times : (n_t,) array_like
        Sampling times (time units).
    gdot : float
        Imposed shear rate (1/time).
    G0 : float
        Shear modulus (stress), in (0, inf).
    max_lag : int, optional
        Largest lag (samples) of the linear diffusion fit, see :func:`stress_diffusion`.
    lags, drift, intercept
        Lags of the fit, drift removal and affine fit, see :func:`stress_diffusion`
        (defaults: the seed's eq. (7) and ``msd = D_sigma t``).

    Returns
    -------
    BridgeMeasurement
    """
    fit = stress_diffusion(
        sigma,
        times,
        gdot,
        G0,
        plastic=plastic,
        max_lag=max_lag,
        lags=lags,
        drift=drift,
        intercept=intercept,
    )
    gamma = activity_rate(plastic, times, mode="onsets")
    before, after = stress_drops(sigma, plastic)
    if before.size == 0:
        raise ValueError("plastic contains no complete yielding event: cannot measure drops")
    drop, rel = mean_stress_drop(before, after)
    return BridgeMeasurement(
        D_sigma=fit.D_sigma,
        D_hl=fit.D_hl,
        activity=gamma,
        mean_drop=drop,
        relative_drop=rel,
        alpha_micro=alpha_micro(fit.D_sigma, drop, gamma),
        alpha_hl=alpha_micro(fit.D_hl, drop, gamma),
        n_events=int(before.size),
        diffusion=fit,
    )

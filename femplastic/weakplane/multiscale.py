"""Calibration across element sizes l (Castellanos et al. 2021, fig. 3 a-c, A.1, A.2).

The paper repeats its calibration sweep (:mod:`femplastic.weakplane.calibration`) for every
element size of Table 1 and finds the lowest ``L_stat`` at ``l = 4.4 - 6.6``, with ``chi_hat``
falling below 1 under ``l ~ 5``. Across ``l`` the good ``(lam, chi)`` move a long way (the
threshold scale follows the number of systems ``N``, the amplitude exponent the element area),
so one common ``(lam, chi)`` grid for every ``l`` and ``k`` either misses the optimum or costs
a prohibitive number of runs. :func:`sweep_matched` therefore places the grid for each
``(l, k, chi)``:

* the amplitude grid is given per ``l`` by the caller (:func:`moment_chi` gives a centre: the
  ``chi`` that keeps the mean slip moment ``l^2 <dgamma> = l^2 gmax / (1 + chi)`` of a
  reference element size);
* for each ``(k, chi)`` one pilot run at the minimum-statistics scale
  (:func:`minimum_statistics_lam`, A.1) measures the mean stationary stress; the stationary
  stresses scale nearly linearly with ``lam`` (exactly, up to the discreteness of the loading
  steps, when the initial state carries no pre-stress), so ``lam* = lam_pilot <Sigma>_ref /
  <Sigma>_pilot`` matches the reference's mean stress; the ``lam`` grid is ``lam*`` times the
  given factors.

Everything else is the paper's procedure: for each ``k`` the pair of lowest ``L_macro``, then
all errors at that pair, a parabola through ``L_stat(k)``, ``k_hat`` and the interpolated
``lam_hat``, ``chi_hat``. Points whose runs produce non-finite samples (a diverging
relaxation) are reported with ``nan`` errors and never chosen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .calibration import ReferenceData, errors, errors_macro, model_statistics, parabola_fit
from .params import ModelParams

__all__ = ["minimum_statistics_lam", "moment_chi", "match_lam", "MatchedSweep", "sweep_matched"]


def minimum_statistics_lam(N: int, k: float, N_ref: int = 36, k_ref: float = 2.18,
                           lam_ref: float = 2.05) -> float:
    """Weibull scale giving the minimum of ``N`` thresholds the reference's mean (A.1).

    The minimum of ``N`` independent Weibull ``(k, lam)`` thresholds is Weibull
    ``(k, lam N^(-1/k))``, of mean ``lam N^(-1/k) Gamma(1 + 1/k)``; the returned ``lam``
    makes it equal to that of ``N_ref`` thresholds of shape ``k_ref`` and scale ``lam_ref``
    (defaults: model C at ``l = 6.6``).

    Parameters
    ----------
    N, N_ref : int
        Numbers of slip systems per element (>= 1).
    k, k_ref : float
        Weibull shapes (> 0).
    lam_ref : float
        Reference scale (> 0), LJ stress units.

    Returns
    -------
    float
        The scale, LJ stress units.

    Raises
    ------
    ValueError
        If a parameter is out of range.

    Examples
    --------
    >>> round(minimum_statistics_lam(36, 2.18), 12)
    2.05
    >>> round(minimum_statistics_lam(8, 2.18) / 2.05, 4) == round((8 / 36) ** (1 / 2.18), 4)
    True
    """
    for name, v in (("N", N), ("N_ref", N_ref)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
    for name, v in (("k", k), ("k_ref", k_ref), ("lam_ref", lam_ref)):
        if not (np.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be finite and > 0, got {v!r}")
    m_ref = lam_ref * N_ref ** (-1.0 / k_ref) * math.gamma(1.0 + 1.0 / k_ref)
    return float(m_ref * N ** (1.0 / k) / math.gamma(1.0 + 1.0 / k))


def moment_chi(l: float, l_ref: float = 6.6, chi_ref: float = 2.25, floor: float = 0.25
               ) -> float:
    """Amplitude exponent keeping the mean slip moment ``l^2 gmax / (1 + chi)`` of ``l_ref``.

    ``(1 + chi) = (1 + chi_ref) (l / l_ref)^2``, clipped below at ``floor`` (for small ``l``
    the rule asks for ``chi <= 0``, which has no bounded power law).

    Parameters
    ----------
    l, l_ref : float
        Element sizes (> 0), LJ length units.
    chi_ref : float
        Exponent at ``l_ref`` (> 0).
    floor : float
        Smallest value returned (> 0).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If a parameter is not finite and > 0.

    Examples
    --------
    >>> moment_chi(6.6), round(moment_chi(13.2), 6), moment_chi(3.5)
    (2.25, 12.0, 0.25)
    """
    for name, v in (("l", l), ("l_ref", l_ref), ("chi_ref", chi_ref), ("floor", floor)):
        if not (np.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be finite and > 0, got {v!r}")
    return float(max(floor, (1.0 + chi_ref) * (l / l_ref) ** 2 - 1.0))


def match_lam(params: ModelParams, target_stress: float, seed: int, gamma_end: float = 2.0,
              dgamma: float = 1e-4) -> tuple[float, float]:
    """Threshold scale whose mean stationary stress is ``target_stress`` (one pilot run).

    Runs one realisation (child 0 of ``SeedSequence(seed)``) at ``params`` and rescales
    ``params.lam`` by ``target_stress / <Sigma_ext>`` (stationary part, ``gamma > 0.5``):
    stresses scale nearly linearly with ``lam`` (module docstring).

    Parameters
    ----------
    params : ModelParams
        The pilot's parameters (its ``lam`` is the starting scale).
    target_stress : float
        Mean stationary external stress to match (> 0), LJ units.
    seed : int
        Seed of the pilot.
    gamma_end, dgamma : float
        Strain of the pilot (``gamma_end > 0.5``) and its increment.

    Returns
    -------
    lam_star, pilot_stress : float
        The matched scale (``nan`` if the pilot diverged or its mean stress is not > 0) and
        the pilot's mean stress.

    Raises
    ------
    ValueError
        If ``target_stress`` is not finite and > 0 or ``gamma_end <= 0.5``.
    """
    if not (np.isfinite(target_stress) and target_stress > 0):
        raise ValueError(f"target_stress must be finite and > 0, got {target_stress!r}")
    if gamma_end <= 0.5:
        raise ValueError(f"gamma_end must exceed 0.5 (the stationary regime), got {gamma_end}")
    pilot = _macro_or_none(params, seed, 1, gamma_end, dgamma, 30.0, 1, False)
    s_p = float(np.mean(pilot.macro["stress"])) if pilot is not None else np.nan
    if not (np.isfinite(s_p) and s_p > 0):
        return np.nan, s_p
    return float(params.lam * target_stress / s_p), s_p


@dataclass(frozen=True)
class MatchedSweep:
    """Result of :func:`sweep_matched` for one element size.

    Attributes
    ----------
    k : (n_k,) ndarray
        The shapes swept.
    lam, chi : (n_k,) ndarray
        Best pair (lowest ``L_macro``) per ``k`` (``nan`` where every point failed).
    L_macro, L_stat, L_meso_plus, L_meso_minus, L_drops : (n_k,) ndarray
        Errors at the best pair (``L_drops`` is ``L[P]`` of the avalanche stress drops).
    k_hat, lam_hat, chi_hat : float
        Parabola minimum (clipped to the grid) and the pair interpolated there.
    L_stat_hat : float
        The parabola at ``k_hat``.
    L_stat_noise : float
        Root-mean-square residual of ``L_stat`` about the parabola (a noise estimate; 0 with
        3 points).
    coefficients : (3,) ndarray
        ``(a, b, c)`` of the parabola.
    edge : (n_k,) bool ndarray
        Whether the best ``chi`` or ``lam`` of each ``k`` lies on the edge of its grid (the
        optimum may lie outside).
    details : list of dict
        Every evaluated point: ``k``, ``lam``, ``chi``, ``L_macro`` (stage 1), and the pilot
        of each ``(k, chi)``; then the full errors of the best pair of each ``k``.
    """

    k: NDArray[np.float64]
    lam: NDArray[np.float64]
    chi: NDArray[np.float64]
    L_macro: NDArray[np.float64]
    L_stat: NDArray[np.float64]
    L_meso_plus: NDArray[np.float64]
    L_meso_minus: NDArray[np.float64]
    L_drops: NDArray[np.float64]
    k_hat: float
    lam_hat: float
    chi_hat: float
    L_stat_hat: float
    L_stat_noise: float
    coefficients: NDArray[np.float64]
    edge: NDArray[np.bool_]
    details: list[dict] = field(default_factory=list)


def _macro_or_none(p: ModelParams, seed: int, realizations: int, gamma_end: float,
                   dgamma: float, R: float, stride: int, meso: bool) -> ReferenceData | None:
    try:
        return model_statistics(p, seed, realizations, gamma_end=gamma_end, dgamma=dgamma,
                                R=R, stride=stride, meso=meso)
    except ValueError as exc:  # non-finite samples: a diverging relaxation
        if "NaN or inf" in str(exc) or "is empty" in str(exc):
            return None
        raise


def sweep_matched(
    ref: ReferenceData,
    base: ModelParams,
    k_grid: ArrayLike,
    chi_grid: ArrayLike,
    lam_factors: ArrayLike = (0.9, 1.0, 1.1),
    seed: int = 0,
    realizations: int = 8,
    gamma_end: float = 2.0,
    dgamma: float = 1e-4,
    stride: int = 1,
    pilot_gamma_end: float | None = None,
) -> MatchedSweep:
    """Calibration sweep of Castellanos et al. at one element size, ``lam`` matched per (k, chi).

    Parameters
    ----------
    ref : ReferenceData
        The reference (its mean stationary stress sets the pilot's target).
    base : ModelParams
        Every other parameter (``l``, ``L``, ``N``, ``T``...), e.g.
        :meth:`ModelParams.preset(l) <femplastic.weakplane.params.ModelParams.preset>`.
    k_grid : (n_k,) array_like
        Weibull shapes (> 0), at least 3 (the parabola).
    chi_grid : array_like
        Amplitude exponents (> 0) tried at every ``k``.
    lam_factors : array_like
        Multiples of the matched scale ``lam*`` tried for every ``(k, chi)`` (> 0).
    seed : int
        Root seed of every point (common random numbers); the pilots use ``seed + 1``.
    realizations : int
        Realisations per point (>= 1); pilots use one.
    gamma_end, dgamma : float
        Strain of each run and its increment.
    stride : int
        Spacing of the local-test patches (elements); the patch side follows ``ref.R``.
    pilot_gamma_end : float, optional
        Strain of the pilot runs (default ``gamma_end``; must exceed 0.5).

    Returns
    -------
    MatchedSweep

    Raises
    ------
    ValueError
        If ``k_grid`` has fewer than 3 values, a grid value is not finite and > 0,
        ``realizations < 1``, ``pilot_gamma_end <= 0.5``, or fewer than 3 shapes have a
        usable point.
    """
    ks = np.asarray(k_grid, dtype=float).ravel()
    chis = np.asarray(chi_grid, dtype=float).ravel()
    facs = np.asarray(lam_factors, dtype=float).ravel()
    if ks.size < 3:
        raise ValueError("k_grid needs at least 3 values for the parabola fit")
    for name, g in (("k_grid", ks), ("chi_grid", chis), ("lam_factors", facs)):
        if g.size == 0 or not np.all(np.isfinite(g)) or np.any(g <= 0):
            raise ValueError(f"{name} must hold finite values > 0")
    if realizations < 1:
        raise ValueError(f"realizations must be >= 1, got {realizations}")
    pge = gamma_end if pilot_gamma_end is None else float(pilot_gamma_end)
    if pge <= 0.5:
        raise ValueError(f"pilot_gamma_end must exceed 0.5 (the stationary regime), got {pge}")
    target = float(np.mean(ref.macro["stress"]))
    stat = dict(gamma_end=gamma_end, dgamma=dgamma, R=ref.R, stride=stride)
    details: list[dict] = []
    best = []
    for k in ks:
        cands = []
        for chi in chis:
            lam_p = minimum_statistics_lam(base.N, float(k), N_ref=36)
            lam_star, s_p = match_lam(base.replace(k=float(k), lam=lam_p, chi=float(chi)),
                                      target, seed + 1, pge, dgamma)
            details.append({"k": float(k), "chi": float(chi), "pilot_lam": lam_p,
                            "pilot_stress": s_p, "lam_star": lam_star})
            if not np.isfinite(lam_star):
                continue
            for f in facs:
                lam = float(lam_star * f)
                md = _macro_or_none(base.replace(k=float(k), lam=lam, chi=float(chi)), seed,
                                    realizations, meso=False, **stat)
                e = errors_macro(md, ref) if md is not None else np.nan
                details.append({"k": float(k), "lam": lam, "chi": float(chi), "L_macro": e})
                if np.isfinite(e):
                    cands.append((e, lam, float(chi), float(f)))
        if cands:
            e, lam, chi, f = min(cands)
            edge = bool(chi in (chis.min(), chis.max()) and chis.size > 1) or \
                bool(f in (facs.min(), facs.max()) and facs.size > 1)
            best.append((float(k), lam, chi, edge))
        else:
            best.append((float(k), np.nan, np.nan, False))
    rows = {n: np.full(ks.size, np.nan) for n in ("L_macro", "L_stat", "L_meso+", "L_meso-",
                                                    "L[P] drops")}
    for i, (k, lam, chi, _) in enumerate(best):
        if not np.isfinite(lam):
            continue
        md = _macro_or_none(base.replace(k=k, lam=lam, chi=chi), seed, realizations, meso=True,
                            **stat)
        if md is None:
            continue
        err = errors(md, ref)
        details.append({"k": k, "lam": lam, "chi": chi, **err})
        for n in rows:
            rows[n][i] = err[n]
    good = np.isfinite(rows["L_stat"])
    if good.sum() < 3:
        raise ValueError(f"only {int(good.sum())} shapes have a usable point; the parabola "
                         f"needs 3")
    kmin, coef = parabola_fit(ks[good], rows["L_stat"][good])
    k_hat = float(np.clip(kmin, ks[good].min(), ks[good].max()))
    a, b, c = coef
    resid = rows["L_stat"][good] - (a + b * ks[good] + c * ks[good] ** 2)
    lam_b = np.array([b_[1] for b_ in best])
    chi_b = np.array([b_[2] for b_ in best])
    return MatchedSweep(
        ks, lam_b, chi_b, rows["L_macro"], rows["L_stat"], rows["L_meso+"], rows["L_meso-"],
        rows["L[P] drops"], k_hat, float(np.interp(k_hat, ks[good], lam_b[good])),
        float(np.interp(k_hat, ks[good], chi_b[good])), float(a + b * k_hat + c * k_hat ** 2),
        float(np.sqrt(np.mean(resid ** 2))), np.asarray(coef),
        np.array([b_[3] for b_ in best]), details)

"""The Hebraud-Lequeux bridge applied to the finite-rate lattice model (Puosi et al. on Liu et al.).

Records per-site series of the finite-rate model in steady flow (:func:`record_sites`),
measures in them what the HL model is built from -- the stress diffusion of quiet sites
``D_sigma``, the activity ``Gamma``, the local stress drop and ``alpha_micro = D_sigma /
(<dsigma>^2 Gamma)`` (:func:`measure_bridge_scalar`) -- and builds the HL extensions that
match the model's partial relaxation and threshold renewal (:func:`hl_extensions_for`).

This module sits above both model families: it imports the lattice model and the
model-independent estimators of :mod:`femplastic.meanfield.bridge`, and neither of those
imports it (imports flow one way, from the models to the analyses that combine them).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.stats
from numpy.typing import NDArray

from femplastic import meanfield as mf
from femplastic.lattice import FiniteRateParams, FiniteRateState, run_fixed_rate
from femplastic.lattice.common import MAX_RECORDS, _check_state, _generator, _positive, _real

__all__ = ["hl_extensions_for", "measure_bridge_scalar", "record_sites"]


def record_sites(
    p: FiniteRateParams,
    state: FiniteRateState,
    gdot: float,
    duration: float,
    sample: float,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """Per-site series of the finite-rate model at fixed rate, sampled every ``sample``.

    ``run_fixed_rate`` records macroscopic observables only; the run is advanced one
    sampling interval at a time from the returned state, which is bit-identical to one long
    run (the state and the Generator carry everything).

    Parameters
    ----------
    p : FiniteRateParams
        Model parameters.
    state : FiniteRateState
        Starting (steady) state; not modified.
    gdot : float
        Engineering shear rate (1/LJ time), >= 0.
    duration : float
        Recorded time (LJ time), at least ``2 * sample``; rounded to whole samples.
    sample : float
        Sampling interval (LJ time), a positive whole number of steps ``p.dt``.
    rng : numpy.random.Generator
        Randomness of the run (advanced).

    Returns
    -------
    dict
        ``n_t = round(duration / sample) + 1`` samples, the first one being ``state``
        (``N = L * L`` sites):

        * ``times (n_t,)`` float64: sampling times from the start of the record (LJ time);
        * ``sigma (n_t, N)`` float64: local stresses ``Sigma + sigma_int_i`` (LJ stress);
        * ``plastic (n_t, N)`` bool: ``n_i == 1``, the site is yielding;
        * ``threshold (n_t, N)`` float32: local thresholds (LJ stress);
        * ``frac_plastic`` float: mean plastic fraction of the macroscopic records of every
          step (finer than the sampled ``plastic``);
        * ``state`` FiniteRateState: the state at the end of the record.

    Raises
    ------
    ValueError
        If ``sample`` is not a positive multiple of ``p.dt`` or ``duration`` covers fewer
        than 2 samples.
    """
    if not isinstance(p, FiniteRateParams):
        raise ValueError(f"p must be FiniteRateParams, got {type(p).__name__}")
    N = p.L * p.L
    _check_state("state", state, FiniteRateState, N)
    _generator(rng)
    g = _real("gdot", gdot)
    if g < 0 or not np.isfinite(g):
        raise ValueError(f"gdot must be in [0, inf), got {gdot!r}")
    sample = _positive("sample", sample)
    duration = _positive("duration", duration)
    k = round(sample / p.dt)
    if k < 1 or abs(k * p.dt - sample) > 1e-9 * sample:
        raise ValueError(f"sample must be a positive multiple of dt={p.dt:g}, got {sample!r}")
    n = int(round(duration / sample))
    if n < 2:
        raise ValueError(f"duration must cover at least 2 samples of {sample:g}, got {duration}")
    if (n + 1) * N > MAX_RECORDS * 8:  # 13 bytes per site-sample: at most ~2 GB
        raise ValueError(
            f"duration={duration:g} / sample={sample:g} records {n + 1} samples of {N} sites: "
            f"at most {MAX_RECORDS * 8} site-samples (raise sample or shorten the record)"
        )
    sigma = np.empty((n + 1, N))
    plastic = np.empty((n + 1, N), dtype=bool)
    threshold = np.empty((n + 1, N), dtype=np.float32)
    sigma[0], plastic[0], threshold[0] = state.stress, state.plastic == 1, state.threshold
    frac = 0.0
    for i in range(1, n + 1):
        tr, state = run_fixed_rate(p, state, gdot, k * p.dt, rng, record_every=k)
        sigma[i], plastic[i], threshold[i] = state.stress, state.plastic == 1, state.threshold
        frac += float(tr.frac_plastic.mean())
    return {
        "times": sample * np.arange(n + 1),
        "sigma": sigma,
        "plastic": plastic,
        "threshold": threshold,
        "frac_plastic": frac / n,
        "state": state,
    }


def _slope(lags: NDArray[np.float64], msd: NDArray[np.float64]) -> float:
    """Slope of the affine least-squares fit ``msd = c + D t`` (nan without 2 points)."""
    ok = np.isfinite(msd)
    return float(np.polyfit(lags[ok], msd[ok], 1)[0]) if np.count_nonzero(ok) >= 2 else math.nan


def measure_bridge_scalar(
    rec: dict[str, Any],
    p: FiniteRateParams,
    gdot: float,
    sigma_c: float,
    *,
    window: tuple[float, float] = (1.5, 5.0),
    n_window: int = 6,
) -> dict[str, Any]:
    """HL ingredients of one per-site record (see :func:`record_sites`).

    ``D_sigma`` (seed convention, ``msd = D_sigma t``) is the slope of an affine fit of the
    msd of activity-free windows at ``n_window`` lags spanning ``window`` (units of
    ``p.tau_res``, the duration of an event: beyond the ballistic regime of the event ramps,
    before the selection of long quiet windows bends the msd), with the measured mean drift
    of those windows removed. ``Gamma`` is the plastic fraction over ``tau_res`` (exact for
    this model's exponential event durations); the onset count of the sampled record is
    reported as a check.

    Parameters
    ----------
    rec : dict
        Per-site record as returned by :func:`record_sites` (``times``, ``sigma``,
        ``plastic``, ``threshold``, ``frac_plastic``), a few ``window[1] * tau_res`` long or
        more, with complete events.
    p : FiniteRateParams
        Parameters of the run (``mu`` is ``G0``, ``tau_res`` the event duration).
    gdot : float
        Shear rate of the record (1/LJ time).
    sigma_c : float
        Stress scale of the alternative couplings ``alpha_*_sigma_c`` (LJ stress), > 0.
    window : (float, float)
        First and last lag of the diffusion fit in units of ``tau_res``, ``0 < lo < hi``.
    n_window : int
        Number of lags in the window, >= 2.

    Returns
    -------
    dict
        Scalars (LJ units): ``gdot``, ``duration``, ``sample``, ``n_events``,
        ``window_time`` [first, last lag], ``D_sigma`` and ``D_hl = D_sigma / 2``
        (stress^2 / time), ``D_sigma_window_alternatives`` (window scaled by 2/3 and 3/2),
        ``msd_intercept``, ``D_sigma_seed_eq7`` (eq. 7 literally: drift ``G0 gdot``, fit
        through 0), ``quiet_drift_rate`` and ``G0_gdot`` (stress / time), ``Gamma`` and
        ``Gamma_onsets`` (1/time), ``mean_drop`` (stress), ``relative_drop``,
        ``stress_before``, ``stress_after``, ``threshold_at_onset``,
        ``threshold_population``, ``mean_stress`` (stress), the couplings ``alpha_micro``,
        ``alpha_hl``, ``alpha_micro_sigma_c``, ``alpha_hl_sigma_c``,
        ``alpha_micro_seed_eq7``, ``alpha_micro_range`` [lo, hi] from the window
        alternatives, and ``msd_curve`` (lists ``lag``, ``msd``, ``drift_rate`` on
        logarithmic lags).

    Raises
    ------
    ValueError
        If ``window``, ``n_window`` or ``sigma_c`` are out of range or the record holds no
        complete plastic event.
    """
    lo_w, hi_w = (float(w) for w in window)
    if not 0.0 < lo_w < hi_w:
        raise ValueError(f"window must be (lo, hi) with 0 < lo < hi (units of tau_res), "
                         f"got {window!r}")
    if isinstance(n_window, bool) or not isinstance(n_window, int | np.integer) or n_window < 2:
        raise ValueError(f"n_window must be an integer in [2, inf), got {n_window!r}")
    if not sigma_c > 0.0:
        raise ValueError(f"sigma_c must be in (0, inf), got {sigma_c!r}")
    t, S, P = rec["times"], rec["sigma"], rec["plastic"]
    ds = float(t[1] - t[0])
    lo, hi = (max(1, round(w * p.tau_res / ds)) for w in (lo_w, hi_w))
    win = np.unique(np.linspace(lo, max(hi, lo + 1), n_window).round().astype(int))
    win = win[win < t.size]
    curve_lags = np.unique(
        np.concatenate([np.geomspace(1, min(t.size - 1, 3 * hi), 14).round(), win])
    ).astype(int)
    curve = mf.stress_diffusion(S, t, gdot, p.mu, plastic=P, lags=curve_lags, drift="mean")
    fit = mf.stress_diffusion(S, t, gdot, p.mu, plastic=P, lags=win, drift="mean", intercept=True)
    seed_lit = mf.stress_diffusion(S, t, gdot, p.mu, plastic=P, lags=win)  # eq. 7 literally
    # systematic spread of the slope with the window: shift it by a factor 2/3 and 3/2
    alt = []
    for f in (2.0 / 3.0, 1.5):
        sel = (curve_lags >= f * win[0]) & (curve_lags <= f * win[-1])
        alt.append(_slope(curve.lags[sel], curve.msd[sel]))
    gamma_frac = rec["frac_plastic"] / p.tau_res
    gamma_on = mf.activity_rate(P, t)
    before, after = mf.stress_drops(S, P)
    if before.size == 0:
        raise ValueError("the record holds no complete plastic event: record longer")
    drop, rel = mf.mean_stress_drop(before, after)
    th_onset = mf.stress_drops(rec["threshold"], P)[0]  # threshold held until the onset
    D = fit.D_sigma
    out = {
        "gdot": gdot,
        "duration": float(t[-1] - t[0]),
        "sample": ds,
        "n_events": int(before.size),
        "window_time": [float(fit.lags[0]), float(fit.lags[-1])],
        "D_sigma": D,
        "D_hl": fit.D_hl,
        "D_sigma_window_alternatives": alt,
        "msd_intercept": fit.intercept,
        "D_sigma_seed_eq7": seed_lit.D_sigma,
        "quiet_drift_rate": float(np.nanmean(fit.drift_rate)),
        "G0_gdot": p.mu * gdot,
        "Gamma": gamma_frac,
        "Gamma_onsets": gamma_on,
        "mean_drop": drop,
        "relative_drop": rel,
        "stress_before": float(before.mean()),
        "stress_after": float(after.mean()),
        "threshold_at_onset": float(th_onset.mean()),
        "threshold_population": float(np.mean(rec["threshold"], dtype=np.float64)),
        "mean_stress": float(S.mean()),
        "alpha_micro": mf.alpha_micro(D, drop, gamma_frac),
        "alpha_hl": mf.alpha_micro(fit.D_hl, drop, gamma_frac),
        "alpha_micro_sigma_c": mf.alpha_micro(D, sigma_c, gamma_frac),
        "alpha_hl_sigma_c": mf.alpha_micro(fit.D_hl, sigma_c, gamma_frac),
        "alpha_micro_seed_eq7": mf.alpha_micro(seed_lit.D_sigma, drop, gamma_frac),
        "msd_curve": {
            "lag": curve.lags.tolist(),
            "msd": curve.msd.tolist(),
            "drift_rate": curve.drift_rate.tolist(),
        },
    }
    spread = [a for a in alt if np.isfinite(a)]
    out["alpha_micro_range"] = [
        mf.alpha_micro(max(min(spread + [D]), 0.0), drop, gamma_frac),
        mf.alpha_micro(max(spread + [D]), drop, gamma_frac),
    ]
    return out


def hl_extensions_for(
    p: FiniteRateParams, sigma_c: float, mean_drop: float, relative_drop: float, n_classes: int
) -> mf.HLExtensions:
    """HL extensions with the model's threshold renewal and a measured partial relaxation.

    In units of ``sigma_c``: thresholds ``Weibull(k_d, sigma_d) / sigma_c`` tabulated in
    ``n_classes`` equal-weight classes and redrawn after each event (the finite-rate model's
    renewal), restart at ``(1 - relative_drop) sigma``, noise
    ``D = alpha (mean_drop)^2 Gamma``.

    Parameters
    ----------
    p : FiniteRateParams
        Model parameters (``k_d``, ``sigma_d``: the Weibull threshold law).
    sigma_c : float
        Stress unit of the HL model (LJ stress), > 0.
    mean_drop : float
        Mean local stress drop (LJ stress), > 0.
    relative_drop : float
        Mean relative drop; clipped to [1e-6, 1] as the relaxed fraction.
    n_classes : int
        Threshold classes, in [1, 200].

    Returns
    -------
    HLExtensions
        To pass as ``extensions`` to the HL solvers (with ``sigma_c = G0 = tau = 1``).
    """
    if not sigma_c > 0.0 or not mean_drop > 0.0:
        raise ValueError(f"sigma_c and mean_drop must be in (0, inf), got {sigma_c!r}, "
                         f"{mean_drop!r}")
    return mf.HLExtensions.from_distribution(
        scipy.stats.weibull_min(p.k_d, scale=p.sigma_d / sigma_c),
        n_classes,
        relax_fraction=min(max(relative_drop, 1e-6), 1.0),
        noise_scale=mean_drop / sigma_c,
    )

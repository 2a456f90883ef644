"""Observables of the weak-plane model: macroscale statistics and local (patch) statistics.

All functions take plain arrays or the records of :func:`femplastic.aqs` /
:func:`femplastic.weakplane.probes.local_yield` and return numbers or arrays (no plotting here).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..fe.elasticity import von_mises
from .drivers.aqs import AQSRun
from .probes.local_yield import LocalYield

__all__ = [
    "Stationary",
    "stationary",
    "density",
    "r_of_dgamma",
    "power_law_fit",
    "local_stats",
    "drop_vs_yield",
    "field_stats",
    "von_mises",
]


@dataclass(frozen=True)
class Stationary:
    """Stationary macroscale samples of one or several runs (``gamma > gamma_min``).

    Attributes
    ----------
    stress : (n,) ndarray
        External stress after every load step.
    drops : (m,) ndarray
        Stress drops of the avalanches.
    increments : (k,) ndarray
        Stress increments between consecutive avalanches (elastic stretches).
    sizes : (m,) int ndarray
        Avalanche sizes in slip events.
    plastic : (m,) ndarray
        Resolved plastic strain of each avalanche.
    """

    stress: NDArray[np.float64]
    drops: NDArray[np.float64]
    increments: NDArray[np.float64]
    sizes: NDArray[np.int64]
    plastic: NDArray[np.float64]


def stationary(runs: AQSRun | list[AQSRun], gamma_min: float = 0.5) -> Stationary:
    """Pool the stationary samples (``gamma > gamma_min``) of one run or a list of runs.

    Parameters
    ----------
    runs : AQSRun or list of AQSRun
        Records of :func:`femplastic.aqs`.
    gamma_min : float
        Start of the stationary regime (Castellanos et al. 2021: 0.5).

    Returns
    -------
    Stationary
        Pooled samples, stresses in LJ units.

    Examples
    --------
    >>> import numpy as np, femplastic as fp
    >>> p = fp.ModelParams(L=8, T=0.0)
    >>> rng = np.random.default_rng(0)
    >>> run = fp.aqs(fp.quench(p, rng), p, rng, gamma_end=0.8, dgamma=1e-3)
    >>> st = stationary(run, gamma_min=0.5)
    >>> st.stress.size, st.drops.size == st.sizes.size, bool(np.all(st.drops > 0))
    (300, True, True)
    """
    runs = [runs] if isinstance(runs, AQSRun) else list(runs)
    if not runs:
        raise ValueError("runs is empty")
    parts: dict[str, list[NDArray]] = {k: [] for k in ("stress", "drops", "increments", "sizes",
                                                       "plastic")}
    for r in runs:
        keep = r.gamma > gamma_min
        parts["stress"].append(r.stress[keep])
        av = np.flatnonzero(keep & (r.avalanche_size > 0))
        parts["drops"].append(r.stress_before[av] - r.stress[av])
        parts["sizes"].append(r.avalanche_size[av])
        parts["plastic"].append(r.plastic[av])
        if av.size > 1:
            parts["increments"].append(r.stress_before[av[1:]] - r.stress[av[:-1]])
    return Stationary(*(np.concatenate(parts[k]) if parts[k] else np.zeros(0)
                        for k in ("stress", "drops", "increments", "sizes", "plastic")))


def density(x: ArrayLike, bins: int | ArrayLike = 50,
            range: tuple[float, float] | None = None) -> tuple[NDArray, NDArray]:
    """Normalised histogram: ``(centres, P)`` with ``sum(P * widths) = 1``.

    Parameters
    ----------
    x : array_like
        Samples (flattened), non-empty.
    bins : int or array_like
        Number of bins or bin edges (as :func:`numpy.histogram`).
    range : (float, float), optional
        Lower and upper edges.

    Returns
    -------
    centres, P : (n_bins,) ndarrays
    """
    x = np.asarray(x, dtype=float)
    if x.size == 0:
        raise ValueError("cannot estimate a density from an empty sample")
    P, edges = np.histogram(x, bins=bins, range=range, density=True)
    return 0.5 * (edges[1:] + edges[:-1]), P


def r_of_dgamma(run: AQSRun, dgammas: ArrayLike, gamma_min: float = 0.5) -> NDArray[np.float64]:
    """``r(dgamma) = < std(Sigma_ext | [g, g + dgamma]) >_g`` over the stationary curve.

    Windows of ``dgamma / run.dgamma`` consecutive load steps, non-overlapping, from
    ``gamma_min`` on (Castellanos et al. 2021, fig. 5a).

    Parameters
    ----------
    run : AQSRun
        One run (its ``stress`` and ``gamma`` records).
    dgammas : array_like
        Window widths in strain, each spanning at least 2 load steps.
    gamma_min : float
        Start of the stationary regime.

    Returns
    -------
    (len(dgammas),) ndarray
        ``r`` for each width (LJ stress units).
    """
    s = run.stress[run.gamma > gamma_min]
    out = []
    for dg in np.atleast_1d(np.asarray(dgammas, dtype=float)):
        m = int(round(dg / run.dgamma))
        if m < 2:
            raise ValueError(f"dgamma {dg} spans fewer than 2 load steps of {run.dgamma}")
        k = s.size // m
        if k < 1:
            raise ValueError(f"dgamma {dg} is longer than the stationary part of the run")
        out.append(s[: k * m].reshape(k, m).std(axis=1).mean())
    return np.array(out)


def power_law_fit(x: ArrayLike, y: ArrayLike) -> tuple[float, float]:
    """Least-squares fit of ``y = A x^b`` in log-log; returns ``(A, b)`` (e.g. std vs L).

    Parameters
    ----------
    x, y : (m,) array_like
        Positive values, m >= 2.

    Returns
    -------
    A, b : float

    Examples
    --------
    >>> A, b = power_law_fit([8, 16, 32], [0.08, 0.04, 0.02])
    >>> round(A, 6), round(b, 6)
    (0.64, -1.0)
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape or x.size < 2 or np.any(x <= 0) or np.any(y <= 0):
        raise ValueError("x and y must be same-shape positive arrays with >= 2 points")
    b, lnA = np.polyfit(np.log(x), np.log(y), 1)
    return float(np.exp(lnA)), float(b)


def local_stats(results: LocalYield | list[LocalYield]) -> dict[str, dict[str, NDArray]]:
    """Mean and std per orientation of ``tau_i, tau_c, dtau_c, drop, sigma_vm``, pooled.

    Parameters
    ----------
    results : LocalYield or list of LocalYield
        Local-yield scans with the same orientations (patches are pooled).

    Returns
    -------
    dict
        ``{field: {"mean": (n_alphas,), "std": (n_alphas,)}}`` plus ``"alphas"`` and ``"R"``.
    """
    res = [results] if isinstance(results, LocalYield) else list(results)
    if not res:
        raise ValueError("results is empty")
    out: dict[str, dict[str, NDArray]] = {}
    for f in ("tau_i", "tau_c", "dtau_c", "drop", "sigma_vm"):
        X = np.concatenate([getattr(r, f) for r in res])
        out[f] = {"mean": X.mean(axis=0), "std": X.std(axis=0)}
    out["alphas"] = {"value": res[0].alphas}
    out["R"] = {"value": np.array(res[0].R)}
    return out


def drop_vs_yield(tau_c: ArrayLike, drop: ArrayLike, bins: int = 10
                  ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Mean local drop in bins of local yield stress (Castellanos, fig. 5c): ``(tau_c, <drop>)``.

    Parameters
    ----------
    tau_c, drop : array_like
        Paired samples of the local shear test (flattened), at least ``bins`` of them.
    bins : int
        Number of equally populated bins of ``tau_c``.

    Returns
    -------
    tau_c, drop : (bins,) ndarrays
        Mean yield stress and mean drop in each bin (LJ stress units).
    """
    tc = np.asarray(tau_c, dtype=float).ravel()
    dr = np.asarray(drop, dtype=float).ravel()
    if tc.shape != dr.shape or tc.size < bins:
        raise ValueError("tau_c and drop must have the same size, at least `bins`")
    edges = np.quantile(tc, np.linspace(0, 1, bins + 1))
    which = np.clip(np.searchsorted(edges, tc, side="right") - 1, 0, bins - 1)
    x = np.array([tc[which == b].mean() for b in range(bins)])
    y = np.array([dr[which == b].mean() for b in range(bins)])
    return x, y


def field_stats(stress: ArrayLike) -> dict[str, float]:
    """Statistics of an element stress field (Castellanos et al. 2021, A.3: the quench pre-stress).

    Parameters
    ----------
    stress : (n_elem, 3) array_like
        Element stresses, Voigt ``(xx, yy, xy)``, LJ units; at least 2 elements.

    Returns
    -------
    dict
        ``std_xx``, ``std_yy``, ``std_xy`` (standard deviations over the elements),
        ``std_p`` (of the pressure ``p = -(s_xx + s_yy) / 2``), ``mean_vm`` and ``std_vm``
        (of the von Mises stress ``(1/2 s' : s')^(1/2)``), and ``mean_xy``, ``mean_p``;
        LJ stress units.

    Raises
    ------
    ValueError
        If ``stress`` is not a finite ``(n, 3)`` array with ``n >= 2``.

    Examples
    --------
    >>> s = [[1.0, -1.0, 0.0], [-1.0, 1.0, 0.0]]
    >>> d = field_stats(s)
    >>> d["std_xx"], d["mean_vm"], d["std_p"]
    (1.0, 1.0, 0.0)
    """
    s = np.asarray(stress, dtype=float)
    if s.ndim != 2 or s.shape[1] != 3 or s.shape[0] < 2 or not np.all(np.isfinite(s)):
        raise ValueError(f"stress must be a finite (n_elem >= 2, 3) array, got shape "
                         f"{s.shape}")
    p = -0.5 * (s[:, 0] + s[:, 1])
    vm = von_mises(s)
    return {"std_xx": float(s[:, 0].std()), "std_yy": float(s[:, 1].std()),
            "std_xy": float(s[:, 2].std()), "std_p": float(p.std()),
            "mean_vm": float(vm.mean()), "std_vm": float(vm.std()),
            "mean_xy": float(s[:, 2].mean()), "mean_p": float(p.mean())}

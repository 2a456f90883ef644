"""Calibration of the weak-plane model against reference data (Castellanos et al. 2021, sec. 4).

Error functions
---------------
* ``L[P] = 1 - integral min(P_model, P_ref)`` -- overlap error of two densities
  (:func:`~femplastic.weakplane.overlap.overlap_error`, re-exported here; 0 for identical
  densities, 1 for disjoint supports). Default estimator: ``ceil(m^(1/3))`` equal-mass bins
  of the pooled samples, repeated values never split (``atoms=True`` of ``overlap_error``
  compares them as exact atoms);
  ``method="linear"`` (with ``bins``, default 40) selects the original equal-width bins, whose
  value depends on the bin count and collapses on heavy tails (see
  :mod:`femplastic.weakplane.overlap`);
* ``L[F] = |1 - F_model / F_ref|`` -- relative error of a scalar (:func:`relative_error`);
* ``L_macro`` -- mean of ``L[P]`` for the stationary (``gamma > 0.5``) distributions of the
  external stress, the stress drops per avalanche and the stress increments between
  avalanches;
* ``L_meso+`` / ``L_meso-`` -- mean of ``L[F]`` for the mean and standard deviation of
  ``tau_i, tau_c, dtau_c, drop`` at ``R ~ 30``, forward (alpha = 0) / backward (90 deg);
* ``L_stat = 1/2 (L_macro + 1/2 (L_meso+ + L_meso-))``.

Reference data
--------------
A :class:`ReferenceData` holds *samples* (not histograms): ``macro`` with ``stress``,
``drops``, ``increments`` and ``meso_forward`` / ``meso_backward`` with ``tau_i``, ``tau_c``,
``dtau_c``, ``drop``, plus the patch radius ``R``. Fill it from atomistic measurements and save
it as ``.npz`` with keys ``macro/stress``, ..., ``meso_forward/tau_c``, ..., ``R`` (see
:meth:`ReferenceData.save`); :meth:`ReferenceData.load` validates it. Since no atomistic data
ships, :func:`model_statistics` produces a synthetic reference from the model itself
(parameter-recovery mode, :func:`recover`).

Sweep
-----
:func:`sweep` follows the paper: for each ``k`` of a grid, the ``(lam, chi)`` pair of lowest
``L_macro``; then ``L_stat`` at those pairs, a parabola ``a + b k + c k^2`` through it, its
minimum ``k_hat``, and ``lam_hat``, ``chi_hat`` interpolated at ``k_hat``. Every parameter
point is simulated with the same seeds (common random numbers), which makes differences
between points far less noisy than independent runs.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .drivers import aqs, quench
from .observables import stationary
from .overlap import overlap_error
from .params import TABLE1, ModelParams
from .probes import local_yield
from .probes.local_yield import SELF_RESPONSES

__all__ = [
    "overlap_error",  # from femplastic.weakplane.overlap
    "relative_error",
    "ReferenceData",
    "model_statistics",
    "errors",
    "parabola_fit",
    "sweep",
    "SweepResult",
    "recover",
]

MACRO_KEYS = ("stress", "drops", "increments")
MESO_KEYS = ("tau_i", "tau_c", "dtau_c", "drop")


def relative_error(value: float, reference: float) -> float:
    """``L[F] = |1 - F / F_ref|``.

    Parameters
    ----------
    value : float
        Model value ``F``.
    reference : float
        Reference value ``F_ref`` (non-zero).

    Returns
    -------
    float

    Examples
    --------
    >>> relative_error(0.55, 0.5)
    0.10000000000000009
    """
    if reference == 0:
        raise ValueError("relative_error: the reference value is 0")
    return float(abs(1.0 - value / reference))


def _check_sample(name: str, x: ArrayLike) -> NDArray[np.float64]:
    arr = np.asarray(x, dtype=float).ravel()
    if arr.size == 0:
        raise ValueError(f"reference {name} is empty")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"reference {name} contains NaN or inf")
    return arr


@dataclass
class ReferenceData:
    """Samples to calibrate against (see the module docstring for the file format).

    Attributes
    ----------
    macro : dict
        ``stress``, ``drops``, ``increments``: 1D samples (stationary regime).
    meso_forward, meso_backward : dict
        ``tau_i``, ``tau_c``, ``dtau_c``, ``drop``: 1D samples of the local shear test at
        ``alpha = 0`` and ``alpha = 90 deg``.
    R : float
        Equivalent patch radius of the local samples.
    meta : dict
        Free-form strings (origin, units...).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> local = {k: rng.normal(0.5, 0.1, 200) for k in ("tau_i", "tau_c", "dtau_c", "drop")}
    >>> ref = ReferenceData(macro={k: rng.normal(0.5, 0.05, 500)
    ...                            for k in ("stress", "drops", "increments")},
    ...                     meso_forward=local, meso_backward=local, R=30.0,
    ...                     meta={"origin": "synthetic"})
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     back = ReferenceData.load(ref.save(pathlib.Path(tmp) / "ref.npz"))
    >>> back.meta, back.macro["stress"].shape
    ({'origin': 'synthetic'}, (500,))
    >>> errors(back, ref)["L_stat"]                # identical samples: no error
    0.0
    """

    macro: dict[str, NDArray[np.float64]]
    meso_forward: dict[str, NDArray[np.float64]]
    meso_backward: dict[str, NDArray[np.float64]]
    R: float = 30.0
    meta: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for group, keys in (("macro", MACRO_KEYS), ("meso_forward", MESO_KEYS),
                            ("meso_backward", MESO_KEYS)):
            d = getattr(self, group)
            missing = [k for k in keys if k not in d]
            if missing:
                raise ValueError(f"reference {group} lacks {missing}; needs {list(keys)}")
            setattr(self, group, {k: _check_sample(f"{group}/{k}", d[k]) for k in keys})
        if not np.isfinite(self.R) or self.R <= 0:
            raise ValueError(f"reference R must be > 0, got {self.R!r}")

    def save(self, path: str | Path) -> Path:
        """Write an ``.npz`` with keys ``macro/stress`` ... ``meso_backward/drop``, ``R``.

        Parameters
        ----------
        path : str or Path
            Target file; NumPy appends ``.npz`` when the name lacks it.

        Returns
        -------
        Path
            The file written.
        """
        arrays = {f"{g}/{k}": v for g in ("macro", "meso_forward", "meso_backward")
                  for k, v in getattr(self, g).items()}
        arrays["R"] = np.array(self.R)
        for k, v in self.meta.items():
            arrays[f"meta/{k}"] = np.array(str(v))
        path = Path(path)
        np.savez(path, **arrays)
        return path if path.suffix == ".npz" else path.with_suffix(path.suffix + ".npz")

    @classmethod
    def load(cls, path: str | Path) -> ReferenceData:
        """Read and validate an ``.npz`` written by :meth:`save` (or filled by hand).

        Parameters
        ----------
        path : str or Path
            An ``.npz`` with the keys of the module docstring; ``meta/<name>`` keys optional.

        Returns
        -------
        ReferenceData

        Raises
        ------
        ValueError
            Missing file, missing or unexpected key, empty or non-finite samples.
        """
        path = Path(path)
        if not path.exists():
            raise ValueError(f"reference file {str(path)!r} does not exist")
        with np.load(path) as z:
            data = {k: z[k] for k in z.files}
        groups: dict[str, dict[str, NDArray]] = {"macro": {}, "meso_forward": {},
                                                  "meso_backward": {}}
        meta = {}
        for key, v in data.items():
            if key == "R":
                continue
            g, _, name = key.partition("/")
            if g == "meta":
                meta[name] = str(v)
            elif g in groups:
                groups[g][name] = v
            else:
                raise ValueError(f"unexpected key {key!r} in reference file")
        if "R" not in data:
            raise ValueError("reference file lacks R (patch radius of the local samples)")
        return cls(groups["macro"], groups["meso_forward"], groups["meso_backward"],
                   float(data["R"]), meta)


def _patch_n(p: ModelParams, R: float) -> int:
    if p.l in TABLE1 and abs(R - 30.0) < 1e-9:
        n = TABLE1[p.l][2]
    else:
        n = int(round(R * np.sqrt(np.pi) / p.l))
    return int(min(max(n, 1), p.L))


def _realization_samples(p: ModelParams, rng: np.random.Generator, gamma_end: float,
                         dgamma: float, gamma_min: float, n: int, stride: int,
                         meso: bool, self_response: str = "patch"
                         ) -> dict[str, dict[str, NDArray[np.float64]]]:
    """Quench + AQS (+ local shear tests) of one realisation: its calibration samples."""
    run = aqs(quench(p, rng), p, rng, gamma_end=gamma_end, dgamma=dgamma)
    st = stationary(run, gamma_min)
    out = {"macro": {"stress": st.stress, "drops": st.drops, "increments": st.increments}}
    if meso:
        ly = local_yield(run.state, p, rng, n, [0.0, np.pi / 2], stride=stride,
                         self_response=self_response)
        out["forward"] = {k: getattr(ly, k)[:, 0] for k in MESO_KEYS}
        out["backward"] = {k: getattr(ly, k)[:, 1] for k in MESO_KEYS}
    return out


def _pool_samples(samples: list[dict[str, Any]], params: ModelParams, n: int, meso: bool,
                  seed: int) -> ReferenceData:
    """Concatenate realisations' samples (in realisation order) into a ReferenceData."""
    macro = {k: np.concatenate([np.asarray(d["macro"][k], dtype=float) for d in samples])
             for k in MACRO_KEYS}
    if meso:
        mf = {k: np.concatenate([np.asarray(d["forward"][k], dtype=float) for d in samples])
              for k in MESO_KEYS}
        mb = {k: np.concatenate([np.asarray(d["backward"][k], dtype=float) for d in samples])
              for k in MESO_KEYS}
    else:
        mf = mb = {k: np.ones(1) for k in MESO_KEYS}
    return ReferenceData(macro, mf, mb, R=float(params.l * n / np.sqrt(np.pi)),
                         meta={"origin": f"femplastic model {params!r}, seed {seed}"})


def calibration_realization(point: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """One realisation of :func:`model_statistics` (an ensemble realisation function).

    Used by :func:`model_statistics` and :func:`sweep` with a ``store``, through
    :class:`~femplastic.ensemble.Ensemble`.

    Parameters
    ----------
    point : dict
        ``model.*`` keys of :class:`~femplastic.weakplane.params.ModelParams` (missing keys: model
        C)
        and ``calibration.gamma_end``, ``calibration.dgamma``, ``calibration.gamma_min``
        (floats), ``calibration.n`` (patch side, elements), ``calibration.stride`` (int) and
        ``calibration.meso`` (bool); optionally ``calibration.self_response`` (str, default
        ``"patch"``).
    rng : numpy.random.Generator
        The realisation's generator (the only source of randomness).

    Returns
    -------
    dict
        ``macro``: ``stress``, ``drops``, ``increments``, the stationary samples of this run
        (LJ units); with ``calibration.meso``, ``forward`` and ``backward``: ``tau_i``,
        ``tau_c``, ``dtau_c``, ``drop`` of the local shear tests of the final state.
    """
    from .ensembles import model_config

    pt = dict(point)
    c = {k.split(".", 1)[1]: pt.pop(k) for k in list(pt) if k.startswith("calibration.")}
    p = model_config(pt).model
    return _realization_samples(p, rng, float(c["gamma_end"]), float(c["dgamma"]),
                                float(c["gamma_min"]), int(c["n"]), int(c["stride"]),
                                bool(c["meso"]), str(c.get("self_response", "patch")))


def _validate_calibration_point(point: Mapping[str, Any]) -> None:
    from .ensembles import model_config

    keys = {"gamma_end", "dgamma", "gamma_min", "n", "stride", "meso"}
    got = {k.split(".", 1)[1] for k in point if k.startswith("calibration.")}
    if got - {"self_response"} != keys:
        raise ValueError(f"calibration point needs calibration.{sorted(keys)} (and optionally "
                         f"calibration.self_response), got {sorted(got)}")
    sr = point.get("calibration.self_response", "patch")
    if sr not in SELF_RESPONSES:
        raise ValueError(f"calibration.self_response must be one of {SELF_RESPONSES}, got {sr!r}")
    model_config({k: v for k, v in point.items() if not k.startswith("calibration.")})


calibration_realization.validate_point = _validate_calibration_point  # type: ignore[attr-defined]


def _statistics_many(
    params_list: list[ModelParams], seed: int, realizations: int, gamma_end: float,
    dgamma: float, gamma_min: float, R: float, stride: int, meso: bool,
    store: str | Path | None, run_kw: dict[str, Any], self_response: str = "patch",
) -> list[ReferenceData]:
    """:func:`model_statistics` of several parameter points, through one ensemble if stored."""
    if realizations < 1:
        raise ValueError(f"realizations must be >= 1, got {realizations}")
    if self_response not in SELF_RESPONSES:
        raise ValueError(f"self_response must be one of {SELF_RESPONSES}, got {self_response!r}")
    ns = [_patch_n(p, R) for p in params_list]
    if store is None:
        if run_kw:
            raise ValueError(f"{sorted(run_kw)} need a store (the ensemble runs through it)")
        out = []
        for p, n in zip(params_list, ns, strict=True):
            samples = [
                _realization_samples(p, np.random.default_rng(child), gamma_end, dgamma,
                                     gamma_min, n, stride, meso, self_response)
                for child in np.random.SeedSequence(seed).spawn(realizations)
            ]
            out.append(_pool_samples(samples, p, n, meso, seed))
        return out
    from ..ensemble import Ensemble

    points = [
        {**{f"model.{k}": v for k, v in p.to_dict().items()},
         "calibration.gamma_end": float(gamma_end), "calibration.dgamma": float(dgamma),
         "calibration.gamma_min": float(gamma_min), "calibration.n": int(n),
         "calibration.stride": int(stride), "calibration.meso": bool(meso),
         # only when not the default: stores written before the option keep their points
         **({} if self_response == "patch" else {"calibration.self_response": self_response})}
        for p, n in zip(params_list, ns, strict=True)
    ]
    # common seeding: realisation r of every point uses SeedSequence(seed, spawn_key=(r,)),
    # the same generator as child r of SeedSequence(seed).spawn() in the loop above
    ens = Ensemble(calibration_realization, points, realizations, seed, store=store,
                   seeding="common")
    ens.run(**run_kw)
    data = ens.load()
    return [_pool_samples(data.realizations(i), p, n, meso, seed)
            for i, (p, n) in enumerate(zip(params_list, ns, strict=True))]


def model_statistics(
    params: ModelParams,
    seed: int,
    realizations: int,
    gamma_end: float = 2.0,
    dgamma: float = 1e-4,
    gamma_min: float = 0.5,
    R: float = 30.0,
    stride: int = 1,
    meso: bool = True,
    store: str | Path | None = None,
    self_response: str = "patch",
    **run_kw: Any,
) -> ReferenceData:
    """Samples of the model in the format of :class:`ReferenceData`.

    Realisation ``r`` uses child ``r`` of ``SeedSequence(seed)``. The local samples are taken
    on the final (stationary) state with ``n x n`` patches, ``n`` from Table 1 for ``R = 30``
    (else ``round(R sqrt(pi) / l)``), at ``alpha = 0`` and ``90 deg``.

    Parameters
    ----------
    params : ModelParams
        The model (a regular grid: the local shear test needs one).
    seed : int
        Root seed.
    realizations : int
        Independent quench + AQS runs, >= 1.
    gamma_end, dgamma : float
        Strain of each run and its increment.
    gamma_min : float
        Start of the stationary regime for the macroscale samples.
    R : float
        Target patch radius of the local samples (LJ length units); ``n`` is capped at ``L``.
    stride : int
        Spacing of the patch positions, in elements.
    meso : bool
        Run the local shear tests; False leaves one-sample placeholders in the ``meso``
        groups (enough for ``L_macro``, see :func:`errors_macro`).
    store : str or Path, optional
        Run the realisations as an :class:`~femplastic.ensemble.Ensemble` writing to this
        HDF5 store: in parallel (local processes or Dask) and resumable; the samples are
        bitwise those of the serial loop (same seeds).
    **run_kw
        With ``store``: ``workers``, ``scheduler``, ``client``, ``setup``, ``progress`` of
        :meth:`~femplastic.ensemble.Ensemble.run`.
    self_response : {"patch", "system"}
        Self-response bounding the slips in the local shear tests (default ``"patch"``,
        :func:`~femplastic.weakplane.probes.local_yield`).

    Returns
    -------
    ReferenceData
        With the actual ``R = l n / sqrt(pi)`` and the origin in ``meta``.
    """
    return _statistics_many([params], seed, realizations, gamma_end, dgamma, gamma_min, R,
                            stride, meso, store, run_kw, self_response)[0]


def errors(model: ReferenceData, ref: ReferenceData, bins: int | None = None,
           method: str = "quantile") -> dict[str, float]:
    """All calibration errors of ``model`` against ``ref``.

    Parameters
    ----------
    model, ref : ReferenceData
        Model samples (:func:`model_statistics`) and the reference.
    bins : int, optional
        Bins of the overlap errors (default: the estimator's own, see
        :func:`~femplastic.weakplane.overlap.overlap_error`).
    method : {"quantile", "linear"}
        Overlap estimator: exact atoms + equal-mass bins (default) or the original 40
        equal-width bins.

    Returns
    -------
    dict
        ``L_macro``, ``L_meso+``, ``L_meso-``, ``L_stat`` and the components
        ``L[P] stress``, ..., ``L[F] forward mean tau_c``, ...
    """
    out: dict[str, float] = {}
    lp = _macro_errors(model, ref, bins, method)
    for k, v in zip(MACRO_KEYS, lp, strict=True):
        out[f"L[P] {k}"] = v
    out["L_macro"] = float(np.mean(lp))
    for sign, gm, gr in (("+", model.meso_forward, ref.meso_forward),
                         ("-", model.meso_backward, ref.meso_backward)):
        lf = []
        for k in MESO_KEYS:
            for stat, fn in (("mean", np.mean), ("std", np.std)):
                v = relative_error(float(fn(gm[k])), float(fn(gr[k])))
                out[f"L[F] {'forward' if sign == '+' else 'backward'} {stat} {k}"] = v
                lf.append(v)
        out[f"L_meso{sign}"] = float(np.mean(lf))
    out["L_stat"] = 0.5 * (out["L_macro"] + 0.5 * (out["L_meso+"] + out["L_meso-"]))
    return out


def parabola_fit(k: ArrayLike, L: ArrayLike) -> tuple[float, NDArray[np.float64]]:
    """Fit ``L = a + b k + c k^2``; return ``(k_min, (a, b, c))``.

    ``k_min = -b / (2 c)`` when the parabola is convex (``c > 0``), else the grid point of
    lowest ``L``.

    Parameters
    ----------
    k, L : (m,) array_like
        Grid and errors, m >= 3.

    Returns
    -------
    k_min : float
    coefficients : (3,) ndarray
        ``(a, b, c)``.

    Examples
    --------
    >>> k_min, (a, b, c) = parabola_fit([1.5, 2.0, 2.5, 3.0], [0.5, 0.3, 0.3, 0.5])
    >>> round(k_min, 6)
    2.25
    """
    k = np.asarray(k, dtype=float)
    L = np.asarray(L, dtype=float)
    if k.shape != L.shape or k.size < 3:
        raise ValueError("parabola_fit needs at least 3 (k, L) points of equal length")
    c, b, a = np.polyfit(k, L, 2)
    kmin = -b / (2 * c) if c > 0 else float(k[np.argmin(L)])
    return float(kmin), np.array([a, b, c])


@dataclass(frozen=True)
class SweepResult:
    """Result of :func:`sweep`.

    Attributes
    ----------
    k : (n_k,) ndarray
    lam, chi : (n_k,) ndarray
        Best pair (lowest ``L_macro``) per ``k``.
    L_macro, L_stat : (n_k,) ndarray
    k_hat, lam_hat, chi_hat : float
        Parabola minimum and the interpolated pair.
    coefficients : (3,) ndarray
        ``(a, b, c)`` of the parabola.
    details : list of dict
        Every evaluated point with its errors.
    """

    k: NDArray[np.float64]
    lam: NDArray[np.float64]
    chi: NDArray[np.float64]
    L_macro: NDArray[np.float64]
    L_stat: NDArray[np.float64]
    k_hat: float
    lam_hat: float
    chi_hat: float
    coefficients: NDArray[np.float64]
    details: list[dict]


def sweep(
    ref: ReferenceData,
    base: ModelParams,
    k_grid: ArrayLike,
    lam_grid: ArrayLike,
    chi_grid: ArrayLike,
    seed: int = 0,
    realizations: int = 48,
    gamma_end: float = 2.0,
    dgamma: float = 1e-4,
    stride: int = 1,
    bins: int | None = None,
    method: str = "quantile",
    self_response: str = "patch",
    store: str | Path | None = None,
    **run_kw: Any,
) -> SweepResult:
    """The calibration sweep of Castellanos et al. 2021 (module docstring).

    Parameters
    ----------
    ref : ReferenceData
        The reference to calibrate against.
    base : ModelParams
        Every other parameter (``L``, ``N``, ``T``...); ``k``, ``lam``, ``chi`` are swept.
    k_grid : (n_k,) array_like
        Weibull shapes, at least 3 (the parabola fit).
    lam_grid, chi_grid : array_like
        Candidate scales and amplitude exponents; every pair is tried at every ``k``.
    seed : int
        Root seed, the same at every point (common random numbers).
    realizations : int
        Realisations per point (the paper: 48).
    gamma_end, dgamma : float
        Strain of each run and its increment.
    stride : int
        Spacing of the local-test patches, in elements.
    bins, method
        Overlap estimator settings, as for :func:`errors`.
    self_response : {"patch", "system"}
        Self-response bounding the slips in the local shear tests
        (:func:`~femplastic.weakplane.probes.local_yield`).
    store : str or Path, optional
        A directory: the sweep then runs as two :class:`~femplastic.ensemble.Ensemble`
        stores in it, ``macro.h5`` (every ``(k, lam, chi)`` point, macroscale only) and
        ``full.h5`` (the best pair of each ``k``, with the local shear tests); parallel,
        resumable after an interruption, and bitwise equal to the serial sweep.
    **run_kw
        With ``store``: ``workers``, ``scheduler``, ``client``, ``setup``, ``progress`` of
        :meth:`~femplastic.ensemble.Ensemble.run`.

    Returns
    -------
    SweepResult

    Raises
    ------
    ValueError
        If ``k_grid`` has fewer than 3 values, or ``run_kw`` is given without ``store``.
    """
    ks = np.asarray(k_grid, dtype=float)
    if ks.size < 3:
        raise ValueError("k_grid needs at least 3 values for the parabola fit")
    folder = None if store is None else Path(store)
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    stats = dict(seed=seed, realizations=realizations, gamma_end=gamma_end, dgamma=dgamma,
                 gamma_min=0.5, R=ref.R, stride=stride, run_kw=run_kw,
                 self_response=self_response)
    pairs = [(float(lam), float(chi)) for lam, chi in
             itertools.product(np.atleast_1d(lam_grid), np.atleast_1d(chi_grid))]
    grid = [(float(k), lam, chi) for k in ks for lam, chi in pairs]
    # stage 1: L_macro at every (k, lam, chi)
    macro = _statistics_many([base.replace(k=k, lam=lam, chi=chi) for k, lam, chi in grid],
                             meso=False, store=None if folder is None else folder / "macro.h5",
                             **stats)
    scores = [errors_macro(md, ref, bins, method) for md in macro]
    per_k: list[list[dict]] = []
    best = []
    for i, k in enumerate(ks):
        rows = range(i * len(pairs), (i + 1) * len(pairs))
        per_k.append([{"k": grid[j][0], "lam": grid[j][1], "chi": grid[j][2],
                       "L_macro": scores[j]} for j in rows])
        e, lam, chi = min((scores[j], grid[j][1], grid[j][2]) for j in rows)
        best.append((float(k), lam, chi))
    # stage 2: all errors at the best pair of each k
    full = _statistics_many([base.replace(k=k, lam=lam, chi=chi) for k, lam, chi in best],
                            meso=True, store=None if folder is None else folder / "full.h5",
                            **stats)
    details: list[dict] = []  # per k: its (lam, chi) scores, then the full errors of the best
    lmac, lstat = [], []
    for (k, lam, chi), md, rows in zip(best, full, per_k, strict=True):
        err = errors(md, ref, bins, method)
        details += rows + [{"k": k, "lam": lam, "chi": chi, **err}]
        lmac.append(err["L_macro"])
        lstat.append(err["L_stat"])
    k_hat, coef = parabola_fit(ks, lstat)
    best_l = [b[1] for b in best]
    best_c = [b[2] for b in best]
    lam_hat = float(np.interp(k_hat, ks, best_l))
    chi_hat = float(np.interp(k_hat, ks, best_c))
    return SweepResult(ks, np.array(best_l), np.array(best_c), np.array(lmac), np.array(lstat),
                       k_hat, lam_hat, chi_hat, coef, details)


def _macro_errors(model: ReferenceData, ref: ReferenceData, bins: int | None,
                  method: str) -> list[float]:
    """Overlap error of each macroscopic sample (``MACRO_KEYS`` order)."""
    return [overlap_error(model.macro[k], ref.macro[k], bins, method=method) for k in MACRO_KEYS]


def errors_macro(model: ReferenceData, ref: ReferenceData, bins: int | None = None,
                 method: str = "quantile") -> float:
    """``L_macro`` only (no local samples needed): the mean macroscopic overlap error.

    Parameters
    ----------
    model, ref : ReferenceData
        Only their ``macro`` groups are used.
    bins, method
        As for :func:`errors`.

    Returns
    -------
    float
        ``L_macro`` of :func:`errors`.
    """
    return float(np.mean(_macro_errors(model, ref, bins, method)))


def recover(
    truth: ModelParams,
    k_grid: ArrayLike,
    lam_grid: ArrayLike | None = None,
    chi_grid: ArrayLike | None = None,
    seed_ref: int = 1000,
    seed: int = 0,
    realizations: int = 8,
    **kw: float,
) -> SweepResult:
    """Parameter recovery: a synthetic reference at ``truth``, then :func:`sweep`.

    The reference uses seed ``seed_ref`` and the sweep ``seed`` (independent noise).

    Parameters
    ----------
    truth : ModelParams
        The parameters to recover.
    k_grid : array_like
        Weibull shapes to sweep (at least 3).
    lam_grid, chi_grid : array_like, optional
        Default: the true value only.
    seed_ref, seed : int
        Seeds of the reference and of the sweep.
    realizations : int
        Realisations per sweep point (and of the reference unless ``ref_realizations``).
    **kw
        ``ref_realizations`` and the keywords of :func:`sweep` (``gamma_end``, ``dgamma``,
        ``stride``, ``bins``, ``method``, ``self_response``).

    Returns
    -------
    SweepResult
    """
    ref_real = int(kw.pop("ref_realizations", realizations))
    ref = model_statistics(truth, seed_ref, ref_real,
                           **{k: v for k, v in kw.items() if k in ("gamma_end", "dgamma",
                                                                    "stride", "self_response")})
    lam_grid = [truth.lam] if lam_grid is None else lam_grid
    chi_grid = [truth.chi] if chi_grid is None else chi_grid
    return sweep(ref, truth, k_grid, lam_grid, chi_grid, seed=seed, realizations=realizations,
                 **kw)

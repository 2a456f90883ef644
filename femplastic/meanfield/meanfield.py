"""Hebraud-Lequeux (HL) mean-field model of amorphous plasticity (seed 003, Puosi et al. 2015).

The density ``P(sigma, t)`` of local shear stresses obeys::

    dP/dt = -G0 gdot dP/dsigma - (1/tau) H(|sigma| - sigma_c) P + Gamma delta(sigma)
            + D d2P/dsigma2,
    Gamma = (1/tau) int_{|sigma| > sigma_c} P dsigma,    D = alpha sigma_c^2 Gamma.

Conventions
-----------
* Units: ``sigma_c = G0 = tau = 1`` by default; all three are keyword arguments of every
  solver. Internally everything is made dimensionless with ``sigma_c`` (stress), ``tau``
  (time) and ``sigma_c / (G0 tau)`` (shear rate); the results are converted back.
* Stress grids (:class:`HLGrid`) are stored in units of ``sigma_c``. A grid has ``n`` cells,
  ``faces (n + 1,)``, ``centers (n,)``, ``widths (n,)``; one cell is centred on ``sigma = 0``
  (the reinjection point) and the thresholds ``+-sigma_c`` are cell faces.
* Densities are cell values: ``density (n_classes, n)`` in 1/stress, normalised so that
  ``sum(density * widths) = 1`` over all classes.
* Activity ``Gamma`` is a rate (1/time); ``D`` a stress-diffusion coefficient
  (stress^2 / time) in the Fokker-Planck sense: a Brownian stress with this ``D`` has
  mean-square displacement ``2 D t``.

Numerics
--------
Conservative finite volumes with Scharfetter-Gummel (exponentially fitted) fluxes for the
advection-diffusion part: the scheme is an M-matrix for every cell Peclet number, so it is
positive, and it is nodally exact for the source-free advection-diffusion between the
reinjection point and the thresholds. The thresholds are cell faces and the grid is graded
into the yielding layers (decay length ``sqrt(D tau)`` or ``G0 gdot tau`` beyond
``+-sigma_c``, width ``D / (G0 gdot)`` inside). Stress moments use the Il'in-Allen-Southwell
quadrature points in the yielding cells, which keeps ``<sigma>`` second order at every
Peclet number. Time stepping is backward Euler (delta form) with the diffusion coefficient
lagged and corrected by Picard iterations: unconditionally stable, mass conserving to
round-off (the operator's columns sum to zero) and positivity preserving. Stationary
states are computed directly: for a given ``D`` the stationary problem is linear (a banded
solve), and ``D = alpha sigma_c^2 Gamma(D)`` is a one-dimensional root find. For the
original model an exact closed-form stationary solution (piecewise exponentials) is also
provided (:func:`hl_stationary_exact`); it is the reference for the convergence tests.

Quasistatic limit (alpha < 1/2; derivation in ``docs_notes/meanfield.md``): with
``k = sigma_c G0 tau / d`` and ``alpha / sigma_c^2 = tanh(k/2) / k`` (appendix eq. 14 of the
seed, with ``u = k``)::

    sigma_Y / sigma_c = coth(k/2) / 2 - 1/k,
    A / sqrt(G0 tau sigma_c) = [coth(k/2) - (sinh k + k) ((k/2) coth(k/2) - 1)
                                / (k (sinh k - k))] / sqrt(k).

The seed's closed forms (23) (``coth(u)`` instead of ``coth(u/2)``) and (24) do not
reproduce the stationary equation; the expressions above do (to 1e-8 against the exact
stationary solution).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, sparse
from scipy.linalg import solve_banded
from scipy.sparse.linalg import splu, spsolve

__all__ = [
    "BridgeMeasurement",
    "DiffusionFit",
    "HBFit",
    "HLExactSteadyState",
    "HLExtensions",
    "HLGrid",
    "HLSteadyState",
    "HLTrajectory",
    "UniversalCurve",
    "activity_rate",
    "alpha_from_yield_stress",
    "alpha_micro",
    "hb_fit",
    "hl_creep",
    "hl_d_of_alpha",
    "hl_fixed_rate",
    "hl_flow_curve",
    "hl_hb_prefactor",
    "hl_stationary_exact",
    "hl_steady_state",
    "hl_step_strain",
    "hl_universal_curve",
    "hl_yield_stress",
    "make_grid",
    "mean_stress_drop",
    "measure_bridge",
    "stress_diffusion",
    "stress_drops",
    "universal_point",
]

FloatArray = NDArray[np.float64]

# --------------------------------------------------------------------------------------------
# input validation
# --------------------------------------------------------------------------------------------


def _scalar(
    name: str,
    value: Any,
    lo: float = -math.inf,
    hi: float = math.inf,
    lo_open: bool = True,
    hi_open: bool = True,
) -> float:
    """Return ``float(value)`` or raise ValueError naming ``name`` and its allowed range."""
    interval = f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number in {interval}, got {value!r}") from None
    if isinstance(value, bool) or not math.isfinite(x):
        raise ValueError(f"{name} must be a finite real number in {interval}, got {value!r}")
    bad_lo = x <= lo if lo_open else x < lo
    bad_hi = x >= hi if hi_open else x > hi
    if bad_lo or bad_hi:
        raise ValueError(f"{name} must be in {interval}, got {x!r}")
    return x


def _units(sigma_c: float, G0: float, tau: float) -> tuple[float, float, float]:
    return (
        _scalar("sigma_c", sigma_c, 0.0),
        _scalar("G0", G0, 0.0),
        _scalar("tau", tau, 0.0),
    )


def _int(name: str, value: Any, lo: int, hi: int | None = None) -> int:
    rng = f"[{lo}, {'inf' if hi is None else hi}]"
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer in {rng}, got {value!r}")
    if value < lo or (hi is not None and value > hi):
        raise ValueError(f"{name} must be an integer in {rng}, got {value!r}")
    return int(value)


def _array(name: str, value: Any, ndim: int | None = None) -> FloatArray:
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a numeric array, got {value!r}") from None
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must contain only finite values (no NaN/inf)")
    return a


# --------------------------------------------------------------------------------------------
# model extensions and grids
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HLExtensions:
    """Extensions of the HL model: partial relaxation and a distribution of thresholds.

    Parameters
    ----------
    thresholds : tuple of float, shape (n_classes,)
        Local yield stresses of the classes, in units of ``sigma_c`` (all > 0). The noise
        amplitude is ``D = alpha (noise_scale sigma_c)^2 Gamma`` with ``sigma_c`` the unit.
    weights : tuple of float, shape (n_classes,)
        Class probabilities (>= 0, normalised to sum 1 on construction): for "redraw" the
        distribution from which a yielded site draws its new threshold (the stationary
        population is then depleted in weak classes); for "keep" the population fractions.
    relax_fraction : float or None
        Partial relaxation: a site yielding at stress ``s`` restarts at ``(1 - f) s``,
        ``f`` in (0, 1]. ``None`` (and ``relax_drop=None``) is the original full reset to 0.
    relax_drop : float or None
        Partial relaxation by a fixed amount: restart at ``s - sign(s) drop``, drop in units
        of ``sigma_c`` in (0, min(thresholds)]. At most one of the two may be given.
    renewal : {"redraw", "keep"}
        After yielding, a site draws a new threshold class with probability ``weights``
        ("redraw", the usual renewal) or keeps its class ("keep").
    noise_scale : float
        Stress scale of the noise closure in units of sigma_c, in (0, inf):
        ``D = alpha (noise_scale sigma_c)^2 Gamma``. 1 is the original closure; the seed's
        eq. (8), ``D = alpha_micro <dsigma>^2 Gamma``, is ``noise_scale = <dsigma>/sigma_c``
        (e.g. the relaxed fraction).
    """

    thresholds: tuple[float, ...] = (1.0,)
    weights: tuple[float, ...] = (1.0,)
    relax_fraction: float | None = None
    relax_drop: float | None = None
    renewal: Literal["redraw", "keep"] = "redraw"
    noise_scale: float = 1.0

    def __post_init__(self) -> None:
        t = np.atleast_1d(_array("thresholds", self.thresholds))
        w = np.atleast_1d(_array("weights", self.weights))
        if t.ndim != 1 or t.size == 0:
            raise ValueError("thresholds must be a non-empty 1-D sequence of values in (0, inf)")
        if np.any(t <= 0.0):
            raise ValueError(f"thresholds must all be in (0, inf) (units of sigma_c), got {t}")
        if w.shape != t.shape:
            raise ValueError(
                f"weights must have the same length as thresholds ({t.size}), got {w.size}"
            )
        if np.any(w < 0.0) or w.sum() <= 0.0:
            raise ValueError("weights must be in [0, inf) with a positive sum")
        if self.relax_fraction is not None and self.relax_drop is not None:
            raise ValueError("give at most one of relax_fraction and relax_drop (the other None)")
        if self.relax_fraction is not None:
            _scalar("relax_fraction", self.relax_fraction, 0.0, 1.0, hi_open=False)
        if self.relax_drop is not None:
            _scalar("relax_drop", self.relax_drop, 0.0, float(t.min()), hi_open=False)
        if self.renewal not in ("redraw", "keep"):
            raise ValueError(f"renewal must be one of 'redraw', 'keep', got {self.renewal!r}")
        _scalar("noise_scale", self.noise_scale, 0.0)
        object.__setattr__(self, "thresholds", tuple(float(x) for x in t))
        object.__setattr__(self, "weights", tuple(float(x) for x in w / w.sum()))

    @classmethod
    def from_distribution(
        cls,
        dist: Any,
        n_classes: int,
        *,
        relax_fraction: float | None = None,
        relax_drop: float | None = None,
        renewal: Literal["redraw", "keep"] = "redraw",
        noise_scale: float = 1.0,
    ) -> HLExtensions:
        """Tabulate a continuous threshold distribution into equal-weight classes.

        Parameters
        ----------
        dist : frozen scipy.stats distribution
            Distribution of ``sigma_c^local / sigma_c`` (dimensionless); needs ``ppf``.
        n_classes : int
            Number of classes, in [1, 200]; class ``m`` sits at the quantile
            ``(m + 1/2) / n_classes``.
        relax_fraction, relax_drop, renewal, noise_scale
            As in the class.

        Returns
        -------
        HLExtensions
            Equal weights ``1 / n_classes``.
        """
        n = _int("n_classes", n_classes, 1, 200)
        q = (np.arange(n) + 0.5) / n
        values = np.asarray(dist.ppf(q), dtype=float)
        if not np.all(np.isfinite(values)) or np.any(values <= 0.0):
            raise ValueError("dist must have its quantiles in (0, inf) (thresholds > 0)")
        return cls(
            thresholds=tuple(values),
            weights=tuple(np.full(n, 1.0 / n)),
            relax_fraction=relax_fraction,
            relax_drop=relax_drop,
            renewal=renewal,
            noise_scale=noise_scale,
        )

    @property
    def full_reset(self) -> bool:
        """True if yielding resets the stress to 0 (original HL reinjection)."""
        return self.relax_fraction is None and self.relax_drop is None

    @property
    def is_standard(self) -> bool:
        """True for the original HL model (one threshold sigma_c, full reset, noise sigma_c)."""
        return (
            self.full_reset
            and len(self.thresholds) == 1
            and self.thresholds[0] == 1.0
            and self.noise_scale == 1.0
        )

    def target(self, s: FloatArray) -> FloatArray:
        """Stress right after yielding at ``s`` (both in units of ``sigma_c``).

        Parameters
        ----------
        s : array_like
            Stresses at yielding, units of ``sigma_c``.

        Returns
        -------
        ndarray
            Restart stresses, same shape as ``s``: 0 (original model), ``(1 - f) s`` or
            ``s - sign(s) drop``.

        Examples
        --------
        >>> import numpy as np
        >>> np.round(HLExtensions(relax_fraction=0.25).target([1.2, -1.6]), 12).tolist()
        [0.9, -1.2]
        >>> HLExtensions(relax_drop=0.2).target([1.0, -1.0]).tolist()
        [0.8, -0.8]
        """
        s = np.asarray(s, dtype=float)
        if self.relax_fraction is not None:
            return (1.0 - self.relax_fraction) * s
        if self.relax_drop is not None:
            return s - np.sign(s) * self.relax_drop
        return np.zeros_like(s)


_STANDARD = HLExtensions()


@dataclass(frozen=True)
class HLGrid:
    """Finite-volume grid in stress, in units of ``sigma_c``.

    Parameters
    ----------
    faces : (n + 1,) float64
        Strictly increasing cell faces (units of sigma_c). One cell must be centred on 0.
    """

    faces: FloatArray

    def __post_init__(self) -> None:
        f = _array("faces", self.faces, ndim=1)
        if f.size < 4 or np.any(np.diff(f) <= 0.0):
            raise ValueError("faces must be a strictly increasing 1-D array with >= 4 entries")
        c = 0.5 * (f[1:] + f[:-1])
        i0 = int(np.argmin(np.abs(c)))
        if abs(c[i0]) > 1e-9 * (f[i0 + 1] - f[i0]):
            raise ValueError("faces must contain a cell centred on sigma = 0 (reinjection cell)")
        object.__setattr__(self, "faces", f)

    @property
    def centers(self) -> FloatArray:
        """Cell centres, shape (n,), units of sigma_c."""
        return 0.5 * (self.faces[1:] + self.faces[:-1])

    @property
    def widths(self) -> FloatArray:
        """Cell widths, shape (n,), units of sigma_c."""
        return np.diff(self.faces)

    @property
    def n(self) -> int:
        """Number of cells."""
        return self.faces.size - 1

    @property
    def i0(self) -> int:
        """Index of the cell centred on sigma = 0."""
        return int(np.argmin(np.abs(self.centers)))

    def width_at(self, s: float) -> tuple[float, float]:
        """Widths of the two cells adjacent to the face nearest ``s`` (left, right).

        Parameters
        ----------
        s : float
            Stress, units of ``sigma_c`` (e.g. a threshold, 1.0).

        Returns
        -------
        left, right : float
            Cell widths, units of ``sigma_c``.
        """
        j = int(np.argmin(np.abs(self.faces - s)))
        w = self.widths
        return float(w[max(j - 1, 0)]), float(w[min(j, self.n - 1)])


def _segment_faces(
    a: float, b: float, ha: float, hb: float, cap: float, growth: float
) -> FloatArray:
    """Faces in [a, b] with cell sizes ~ha at a, ~hb at b, growing by ``growth`` up to cap."""
    length = b - a
    ha, hb = min(ha, cap), min(hb, cap)
    if length <= 1.5 * max(ha, hb):
        return np.array([a, b])
    slope = growth - 1.0
    lo = max(min(ha, hb) / length * 1e-3, 1e-14)
    xi = np.unique(
        np.concatenate(
            [
                np.geomspace(lo, 0.5, 400),
                1.0 - np.geomspace(lo, 0.5, 400),
                np.linspace(0.0, 1.0, 801),
            ]
        )
    )
    xs = a + length * xi
    hx = np.minimum(np.minimum(cap, ha + slope * (xs - a)), hb + slope * (b - xs))
    inv = 1.0 / hx
    phi = np.concatenate([[0.0], np.cumsum(0.5 * (inv[1:] + inv[:-1]) * np.diff(xs))])
    n = max(1, int(round(phi[-1])))
    faces = np.interp(np.linspace(0.0, phi[-1], n + 1), phi, xs)
    faces[0], faces[-1] = a, b
    return faces


def make_grid(
    thresholds: Sequence[float] = (1.0,),
    *,
    h_layer: float | tuple[float, float] = 2e-3,
    h_max: float = 0.02,
    growth: float = 1.1,
    s_min: float | None = None,
    s_max: float | None = None,
    h_far: float | tuple[float, float] | None = None,
    h_center: float | None = None,
    extra_knots: Sequence[float] = (),
) -> HLGrid:
    """Build a graded stress grid aligned with the thresholds (units of sigma_c).

    Cells have width ``h_layer`` at every ``+-threshold`` (the boundary layers of the
    yielding region), grow geometrically by ``growth`` up to ``h_max`` inside the
    outermost thresholds and up to ``h_far`` beyond them. ``+-thresholds`` are faces and
    one cell of width ``h_center`` is centred on 0.

    Parameters
    ----------
    thresholds : sequence of float, shape (n_classes,)
        Thresholds in units of sigma_c (> 0).
    h_layer : float or (float, float)
        Cell width at the negative / positive thresholds (units of sigma_c), in (0, h_max].
    h_max : float
        Largest cell width inside the outermost thresholds, in (0, 0.25].
    growth : float
        Ratio of neighbouring cell widths, in (1, 2].
    s_min, s_max : float, optional
        Domain ends (units of sigma_c); default ``-+(max(thresholds) + 0.5)``.
    h_far : float or (float, float), optional
        Largest width beyond the outermost thresholds (left, right); default ``h_max``.
    h_center : float, optional
        Width of the cell centred on 0 (the reinjection point), in (0, h_max];
        default ``min(h_max, min(thresholds) / 4)``.
    extra_knots : sequence of float
        Additional points where cells are refined to ``h_max / 4`` (e.g. reinjection
        targets of partial relaxation); ignored when closer than ``2 h_max`` to a knot.

    Returns
    -------
    HLGrid
    """
    t = np.unique(np.abs(_array("thresholds", thresholds, ndim=1)))
    if t.size == 0 or np.any(t <= 0):
        raise ValueError("thresholds must be a non-empty sequence of values in (0, inf)")
    h_max = _scalar("h_max", h_max, 0.0, 0.25, hi_open=False)
    growth = _scalar("growth", growth, 1.0, 2.0, hi_open=False)
    hl_m, hl_p = (h_layer, h_layer) if np.ndim(h_layer) == 0 else tuple(h_layer)  # type: ignore[misc]
    hl_m = _scalar("h_layer", hl_m, 0.0, h_max, hi_open=False)
    hl_p = _scalar("h_layer", hl_p, 0.0, h_max, hi_open=False)
    if h_far is None:
        hf_m = hf_p = h_max
    else:
        hf_m, hf_p = (h_far, h_far) if np.ndim(h_far) == 0 else tuple(h_far)  # type: ignore[misc]
        hf_m = _scalar("h_far", hf_m, 0.0)
        hf_p = _scalar("h_far", hf_p, 0.0)
    tmax = float(t.max())
    s_min = -(tmax + 0.5) if s_min is None else _scalar("s_min", s_min, -math.inf, -tmax)
    s_max = tmax + 0.5 if s_max is None else _scalar("s_max", s_max, tmax)
    hc = min(h_max, 0.25 * float(t.min()))
    if h_center is not None:
        hc = min(_scalar("h_center", h_center, 0.0, h_max, hi_open=False), hc)
    knots: dict[float, float] = {-0.5 * hc: hc, 0.5 * hc: hc}
    for ti in t:
        knots[float(ti)] = hl_p
        knots[-float(ti)] = hl_m
    for e in np.asarray(extra_knots, dtype=float).ravel():
        if np.isfinite(e) and abs(e) < tmax and min(abs(k - e) for k in knots) > 2.0 * h_max:
            knots[float(e)] = 0.25 * h_max
    knots[s_min] = max(hf_m, hl_m)
    knots[s_max] = max(hf_p, hl_p)
    xs = np.array(sorted(knots))
    faces = [np.array([xs[0]])]
    for a, b in zip(xs[:-1], xs[1:], strict=True):
        if a >= tmax - 1e-12:
            cap = max(hf_p, hl_p)
        elif b <= -tmax + 1e-12:
            cap = max(hf_m, hl_m)
        else:
            cap = h_max
        if abs(a + 0.5 * hc) < 1e-15 and abs(b - 0.5 * hc) < 1e-15:
            seg = np.array([a, b])
        else:
            seg = _segment_faces(a, b, knots[a], knots[b], cap, growth)
        faces.append(seg[1:])
    return HLGrid(np.concatenate(faces))


# --------------------------------------------------------------------------------------------
# quasistatic (small shear rate) theory
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# exact stationary solution of the original model
# --------------------------------------------------------------------------------------------


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
        Shear rate (1/time), in (0, inf).
    sigma_c, G0, tau : float
        Local yield stress (stress), shear modulus (stress), plastic time (time), > 0.

    Returns
    -------
    HLExactSteadyState

    Examples
    --------
    >>> ex = hl_stationary_exact(0.26, 1e-4)
    >>> fv = hl_steady_state(0.26, 1e-4)                  # finite volumes agree
    >>> round(float(ex.mean_stress), 4), round(fv.mean_stress, 4)
    (0.2564, 0.2564)
    >>> round(float(ex.activity) * 1e4, 3)                # Gamma (1/time)
    1.045
    """
    alpha = _scalar("alpha", alpha, 0.0)
    gdot = _scalar("gdot", gdot, 0.0)
    sigma_c, G0, tau = _units(sigma_c, G0, tau)
    v = G0 * gdot * tau / sigma_c
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


# --------------------------------------------------------------------------------------------
# finite-volume discretisation
# --------------------------------------------------------------------------------------------


def _bern(z: FloatArray) -> FloatArray:
    """Bernoulli function B(z) = z / (exp(z) - 1), B(0) = 1, stable for all z."""
    z = np.asarray(z, dtype=float)
    out = np.ones_like(z)
    small = np.abs(z) < 1e-6
    out[small] = 1.0 - 0.5 * z[small]
    big = ~small
    with np.errstate(over="ignore"):
        out[big] = z[big] / np.expm1(z[big])
    return out


def _iass(pe: FloatArray) -> FloatArray:
    """Il'in-Allen-Southwell upwinding function coth(Pe/2) - 2/Pe (odd, in (-1, 1))."""
    pe = np.asarray(pe, dtype=float)
    out = np.empty_like(pe)
    small = np.abs(pe) < 1e-3
    out[small] = pe[small] / 6.0 - pe[small] ** 3 / 360.0
    big = ~small
    with np.errstate(over="ignore", divide="ignore"):
        out[big] = 1.0 / np.tanh(0.5 * pe[big]) - 2.0 / pe[big]
    return out


@dataclass(frozen=True)
class _Ops:
    """Tridiagonal rate operator T (transport + sink) at given (v, D), and loss weights w."""

    lo: FloatArray  # (N - 1,) T[i + 1, i]
    dg: FloatArray  # (N,)
    up: FloatArray  # (N - 1,) T[i, i + 1]
    w: FloatArray  # (N,): mass lost per unit time by cell i is w_i P_i; Gamma = w @ P


@dataclass(frozen=True)
class _Disc:
    """Stacked finite-volume discretisation: n_classes blocks of n cells (dimensionless).

    Mass balance of cell i: ``h_i dP_i/dt = F_{i-1/2} - F_{i+1/2} - c_i h_i P_i + reinj_i``
    with Scharfetter-Gummel fluxes ``F`` and ``c_i = 1`` beyond the class threshold (the
    thresholds are faces, so cells are entirely in or out).
    """

    grid: HLGrid
    ext: HLExtensions
    x: FloatArray  # (N,) cell centres
    h: FloatArray  # (N,) widths
    w: FloatArray  # (N,) widths * (cell beyond its class threshold)
    dist: FloatArray  # (n - 1,) centre distances
    B: sparse.csr_matrix  # (N, n_slot): slot k -> cells (class weights for "redraw")
    C: sparse.csr_matrix  # (n_slot, N): fraction of the loss of cell j going to slot k
    U: FloatArray | None  # (N, K) reinjection pattern for the full reset, else None
    pin: int  # stacked index of a cell where the stationary density is O(1)

    @property
    def n(self) -> int:
        return self.grid.n

    @property
    def m(self) -> int:
        return len(self.ext.thresholds)

    def ops(self, v: float, D: float) -> _Ops:
        n, m = self.n, self.m
        d = self.dist
        if D > 0.0:
            with np.errstate(over="ignore", divide="ignore"):
                pe = v * d / D
            a = D / d * _bern(-pe)  # carried by P_i to the right
            b = D / d * _bern(pe)  # carried by P_{i+1} to the left
        else:
            a = np.full(n - 1, max(v, 0.0))
            b = np.full(n - 1, max(-v, 0.0))
        a_all = np.zeros(n * m - 1)
        b_all = np.zeros(n * m - 1)
        for j in range(m):
            a_all[j * n : j * n + n - 1] = a
            b_all[j * n : j * n + n - 1] = b
        dg = -self.w.copy()
        dg[:-1] -= a_all
        dg[1:] -= b_all
        return _Ops(a_all, dg, b_all, self.w)

    def augmented(self, diag_top: sparse.spmatrix, scale_b: float) -> sparse.csc_matrix:
        """Sparse block system [[diag_top, scale_b B], [C diag(w), -I]] for (P, slots r).

        The reinjection ``S = B C`` is kept factorised through the slot unknowns
        ``r = C diag(w) P`` (mass reinjected per target cell), which keeps the LU sparse.
        """
        n_slot = self.C.shape[0]
        return sparse.bmat(
            [
                [diag_top, scale_b * self.B],
                [self.C @ sparse.diags(self.w), -sparse.identity(n_slot)],
            ],
            format="csc",
        )

    def tridiag(self, ops: _Ops) -> sparse.csr_matrix:
        """Tridiagonal part T (transport + sink), sparse (N, N)."""
        return sparse.diags([ops.lo, ops.dg, ops.up], [-1, 0, 1], format="csr")

    def mass(self, p: FloatArray) -> float:
        return float(self.h @ p)

    def positions(self, v: float, D: float) -> FloatArray:
        """Quadrature points (N,) of the cell values for stress moments.

        In cells with the sink the exponentially fitted scheme is upwinded: the cell value
        approximates the density at ``x_i + sign(v) xi(Pe) h_i / 2`` with the
        Il'in-Allen-Southwell function ``xi(Pe) = coth(Pe/2) - 2/Pe`` of the cell Peclet
        number ``Pe = v h_i / D``. Using these points keeps moments second order for every
        Peclet number (plain centres give an O(h) bias in advection-dominated layers).
        """
        c = self.w > 0.0
        if D > 0.0:
            with np.errstate(over="ignore", divide="ignore"):
                pe = v * self.h[c] / D
        else:
            pe = np.full(int(c.sum()), math.copysign(math.inf, v) if v != 0.0 else 0.0)
        xs = self.x.copy()
        xs[c] -= 0.5 * self.h[c] * _iass(pe)
        return xs

    def mean(self, p: FloatArray, v: float, D: float) -> float:
        return float((self.positions(v, D) * self.h) @ p)

    def activity(self, p: FloatArray) -> float:
        return float(self.w @ p)

    def plastic_moment(self, p: FloatArray) -> float:
        """Rate of loss of mean stress by yielding: sum of loss * (s - target(s))."""
        return float((self.w * (self.x - self.ext.target(self.x))) @ p)


def _disc(grid: HLGrid, ext: HLExtensions) -> _Disc:
    n, m = grid.n, len(ext.thresholds)
    xc, hc = grid.centers, grid.widths
    x = np.tile(xc, m)
    h = np.tile(hc, m)
    c = np.concatenate([(np.abs(xc) > t).astype(float) for t in ext.thresholds])
    w = h * c
    weights = np.asarray(ext.weights)
    # reinjection map: mass lost in cell j (class mj) lands at target(x_j), split linearly
    # between the two neighbouring centres (conserves mass and first moment)
    src = np.nonzero(c > 0.0)[0]
    y = ext.target(x[src])
    kk = np.clip(np.searchsorted(xc, y) - 1, 0, n - 2)
    frac = np.clip((y - xc[kk]) / (xc[kk + 1] - xc[kk]), 0.0, 1.0)
    # slots: for "redraw" one per cell of the stress grid (shared by all classes, which
    # receive the fraction weights[m]); for "keep" one per cell of each class
    n_slot = n if ext.renewal == "redraw" else n * m
    base = 0 if ext.renewal == "redraw" else (src // n) * n
    rows = np.concatenate([base + kk, base + kk + 1])
    C = sparse.csr_matrix(
        (np.concatenate([1.0 - frac, frac]), (rows, np.concatenate([src, src]))),
        shape=(n_slot, n * m),
    )
    if ext.renewal == "redraw":
        B = sparse.csr_matrix(
            (
                np.repeat(weights, n),
                (np.arange(n * m), np.tile(np.arange(n), m)),
            ),
            shape=(n * m, n_slot),
        )
    else:
        B = sparse.identity(n * m, format="csr")
    U = None
    if ext.full_reset:
        i0 = grid.i0
        if ext.renewal == "redraw":
            U = np.zeros((n * m, 1))
            U[np.arange(m) * n + i0, 0] = weights
        else:
            U = np.zeros((n * m, m))
            U[np.arange(m) * n + i0, np.arange(m)] = 1.0
    # a cell that surely holds O(1) density: where the most probable class reinjects the
    # sites yielding at its threshold (the centre for the full reset)
    mstar = int(np.argmax(weights))
    kstar = int(np.argmin(np.abs(xc - ext.target(np.array(ext.thresholds[mstar])))))
    return _Disc(grid, ext, x, h, w, np.diff(xc), B, C, U, mstar * n + kstar)


def _W(disc: _Disc) -> FloatArray:
    """(N, K) loss weights matching disc.U: Gamma_k = W[:, k] @ P."""
    if disc.ext.renewal == "redraw":
        return disc.w[:, None]
    n, m = disc.n, disc.m
    out = np.zeros((n * m, m))
    for j in range(m):
        out[j * n : (j + 1) * n, j] = disc.w[j * n : (j + 1) * n]
    return out


def _clip_roundoff(x: FloatArray) -> FloatArray:
    """Set round-off-level negatives (>= -1e-12 max|x|) to zero; larger ones are kept.

    The discrete operators are M-matrices, so the exact solutions are non-negative; LAPACK
    pivoting and the delta form leave negatives of order 1e-16 max|x| in far tails. Genuine
    sign errors (which would reveal a bug) are not hidden.
    """
    floor = -1e-12 * float(np.max(np.abs(x), initial=0.0))
    return np.where((x < 0.0) & (x >= floor), 0.0, x)


def _banded(lo: FloatArray, dg: FloatArray, up: FloatArray) -> FloatArray:
    ab = np.zeros((3, dg.size))
    ab[0, 1:] = up
    ab[1] = dg
    ab[2, :-1] = lo
    return ab


def _stationary_given_D(disc: _Disc, v: float, D: float) -> tuple[FloatArray, _Ops]:
    """Normalised stationary density (N,) of the linear problem at fixed D, and the ops."""
    ops = disc.ops(v, D)
    if disc.U is not None:
        # -T P = U: reinjection as a known source of unit strength per column
        sol = solve_banded((1, 1), _banded(-ops.lo, -ops.dg, -ops.up), disc.U, check_finite=False)
        sol = _clip_roundoff(sol)  # -T is an M-matrix: sol >= 0 up to round-off
        if disc.ext.renewal == "redraw":
            p = sol[:, 0]
            return p / disc.mass(p), ops
        weights = np.asarray(disc.ext.weights)
        masses = disc.h @ sol
        return sol @ (weights / masses), ops
    # general reinjection: A P = 0 has one redundant equation (the columns of A sum to
    # zero); replace the equation of a cell with O(1) density by P = 1, then normalise
    nn = disc.h.size
    a = disc.augmented(disc.tridiag(ops), 1.0)
    i0 = disc.pin
    keep = np.ones(a.shape[0])
    keep[i0] = 0.0
    pin = sparse.csr_matrix(([1.0], ([i0], [i0])), shape=a.shape)
    a = sparse.diags(keep) @ a + pin
    rhs = np.zeros(a.shape[0])
    rhs[i0] = 1.0
    p = _clip_roundoff(np.asarray(spsolve(a.tocsc(), rhs))[:nn])
    return p / disc.mass(p), ops


def _layer_lengths(v: float, D: float) -> tuple[float, float]:
    """Decay lengths (left, right) of the density beyond the thresholds (dimensionless)."""
    root = math.sqrt(v * v + 4.0 * D)
    return 2.0 * D / (root + v), 0.5 * (v + root)


def _auto_grid(ext: HLExtensions, v: float, D: float, resolution: float) -> HLGrid:
    """Build a grid resolving the outer and inner yielding layers.

    Outer layers: decay lengths ``l_-, l_+`` beyond the thresholds; inner layers: width
    ``D / v`` at 0- and inside the thresholds.
    """
    lm, lp = _layer_lengths(v, D)
    cpl = 8.0 * resolution
    h_max = 0.01 / resolution
    growth = 1.0 + 0.1 / resolution
    inner = D / v if v > 0.0 else math.inf
    tmax = max(ext.thresholds)
    extra: list[float] = []
    if not ext.full_reset:
        y = ext.target(np.asarray(ext.thresholds))
        extra = list(np.concatenate([y, -y]))
    h_m = min(lm / cpl, h_max)
    h_p = min(lp / cpl, inner / cpl, h_max)
    far_p = 0.1 * lp / resolution
    return make_grid(
        ext.thresholds,
        h_layer=(h_m, h_p),
        h_max=h_max,
        growth=growth,
        s_min=-(tmax + 30.0 * lm + h_m),
        s_max=tmax + 30.0 * lp + h_p,
        h_far=(max(0.1 * lm / resolution, h_m), max(far_p, h_p)),
        h_center=min(h_max, inner / cpl),
        extra_knots=extra,
    )


def _check_grid(grid: HLGrid, ext: HLExtensions, lm: float, lp: float) -> None:
    """Raise ValueError if a user grid cannot resolve the layers at the thresholds."""
    for t in ext.thresholds:
        for s, ell, side in ((t, lp, "+"), (-t, lm, "-")):
            j = int(np.argmin(np.abs(grid.faces - s)))
            if abs(grid.faces[j] - s) > 1e-9:
                raise ValueError(f"grid must have a face at {side}threshold {t:g} (sigma_c units)")
            wl, wr = grid.width_at(s)
            h_out = wr if s > 0 else wl
            if h_out > 0.5 * ell:
                raise ValueError(
                    f"grid too coarse for the boundary layer at {side}{t:g} sigma_c: cell "
                    f"width {h_out:.3g} must be in (0, {0.5 * ell:.3g}] (half the decay "
                    f"length of the yielding layer)"
                )
    tmax = max(ext.thresholds)
    if grid.faces[-1] < tmax + 25.0 * lp or grid.faces[0] > -(tmax + 25.0 * lm):
        raise ValueError(
            f"grid must extend to [{-(tmax + 25 * lm):.4g}, {tmax + 25 * lp:.4g}] sigma_c "
            f"(25 decay lengths beyond the thresholds), got [{grid.faces[0]:.4g}, "
            f"{grid.faces[-1]:.4g}]"
        )


def _ext(extensions: HLExtensions | None) -> HLExtensions:
    if extensions is None:
        return _STANDARD
    if not isinstance(extensions, HLExtensions):
        raise ValueError("extensions must be an HLExtensions instance or None")
    return extensions


# --------------------------------------------------------------------------------------------
# stationary states and flow curves
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HLSteadyState:
    """Stationary state of the (extended) HL model at a fixed shear rate.

    Attributes
    ----------
    alpha, gdot : float
        Coupling and shear rate (1/time).
    mean_stress : float
        ``<sigma>`` (stress), with the upwind-consistent quadrature points in the yielding
        cells (see the module notes); ``(sigma * density * widths).sum()`` differs from it
        by O(h) at large cell Peclet numbers.
    activity : float
        ``Gamma`` (1/time).
    diffusion : float
        ``D = alpha (noise_scale sigma_c)^2 Gamma`` (stress^2 / time).
    sigma : (n,) float64
        Cell centres (stress).
    widths : (n,) float64
        Cell widths (stress).
    density : (n_classes, n) float64
        Density per threshold class (1/stress); ``(density * widths).sum() == 1``.
    grid : HLGrid
        The grid (units of sigma_c).
    extensions : HLExtensions
    sigma_c, G0, tau : float
        Units.
    """

    alpha: float
    gdot: float
    mean_stress: float
    activity: float
    diffusion: float
    sigma: FloatArray
    widths: FloatArray
    density: FloatArray
    grid: HLGrid
    extensions: HLExtensions
    sigma_c: float
    G0: float
    tau: float

    @property
    def total_density(self) -> FloatArray:
        """Density summed over classes, shape (n,), 1/stress."""
        return self.density.sum(axis=0)

    @property
    def mass(self) -> float:
        """Total probability (1 up to round-off)."""
        return float((self.density * self.widths).sum())


def _solve_steady(
    alpha: float, v: float, ext: HLExtensions, grid: HLGrid | None, resolution: float, rtol: float
) -> tuple[float, FloatArray, HLGrid]:
    """Self-consistent stationary state in dimensionless units: (D, P (N,), grid).

    ``f(log D) = D - alpha Gamma(D)`` is negative at small D (Gamma(0) > 0 when v > 0) and
    non-negative at ``D = alpha`` (Gamma <= 1): Brent's method in ``log D``. The automatic
    grid is built for an estimate of D (the exact solution of the original model) and
    rebuilt if the solved D changes the layer widths by more than 1.5x; extended models
    locate D on a half-resolution grid first.
    """
    d_est, _ = _exact_solve_D(alpha, v)
    user_grid = grid is not None
    if user_grid:
        _check_grid(grid, ext, *_layer_lengths(v, d_est))
    fast = ext.full_reset
    for it in range(8):
        coarse = not user_grid and not fast and it == 0
        res = max(0.25, 0.5 * resolution) if coarse else resolution
        g = grid if grid is not None else _auto_grid(ext, v, d_est, res)
        disc = _disc(g, ext)

        def f(logd: float, disc: _Disc = disc) -> float:
            d = math.exp(logd)
            p, _ = _stationary_given_D(disc, v, d)
            return d - alpha * disc.activity(p)

        top = math.log(alpha)  # Gamma <= 1 (mass beyond the thresholds): f(top) >= 0
        width = 1.0 if it == 0 else 0.05
        lo = min(math.log(d_est) - width, top - 1e-3)
        hi = min(math.log(d_est) + width, top) if it > 0 else top
        while f(lo) > 0.0:
            lo -= 3.0 * width
            if lo < -700.0:
                raise ValueError("gdot is too small for the stationary solver (D underflows)")
        while hi < top and f(hi) < 0.0:
            hi = min(hi + 3.0 * width, top)
        logd = optimize.brentq(f, lo, hi, xtol=1e-14, rtol=rtol, maxiter=200)
        d = math.exp(logd)
        p, _ = _stationary_given_D(disc, v, d)
        lm, lp = _layer_lengths(v, d)
        lm0, lp0 = _layer_lengths(v, d_est)
        if user_grid:
            _check_grid(g, ext, lm, lp)
            return d, p, g
        same = lm > 0.66 * lm0 and lp > 0.66 * lp0 and lm < 1.5 * lm0 and lp < 1.5 * lp0
        if same and not coarse:
            return d, p, g
        d_est = d  # regrid with the measured D (extensions change D)
    return d, p, g


def hl_steady_state(
    alpha: float,
    gdot: float,
    *,
    sigma_c: float = 1.0,
    G0: float = 1.0,
    tau: float = 1.0,
    extensions: HLExtensions | None = None,
    grid: HLGrid | None = None,
    resolution: float = 1.0,
    rtol: float = 1e-12,
) -> HLSteadyState:
    """Stationary density and mean stress of the HL model at a fixed shear rate.

    Finite volumes (Scharfetter-Gummel fluxes) on a grid graded into the boundary layers
    at the thresholds; for fixed ``D`` the stationary problem is a linear (banded) solve
    and ``D = alpha sigma_c^2 Gamma(D)`` is found by Brent's method in ``log D``.

    Parameters
    ----------
    alpha : float
        Coupling ``D / (sigma_c^2 Gamma)``, in (0, inf).
    gdot : float
        Shear rate (1/time), in (0, inf).
    sigma_c, G0, tau : float
        Local yield stress (stress), shear modulus (stress), plastic time (time), > 0.
    extensions : HLExtensions, optional
        Partial relaxation and/or threshold distribution; default: original model.
    grid : HLGrid, optional
        Explicit grid (units of sigma_c). Must have faces at ``+-thresholds``, cells at
        most half the decay length of the yielding layers, and extend 20 decay lengths
        beyond the thresholds; otherwise ValueError. Default: automatic grid.
    resolution : float
        Refinement factor of the automatic grid, in [0.25, 64]: ``8 * resolution`` cells
        across each yielding layer, inner cells ``0.02 / resolution``, growth
        ``1 + 0.1 / resolution``.
    rtol : float
        Relative tolerance of the root find on ``D``, in [1e-15, 1e-3].

    Returns
    -------
    HLSteadyState

    Examples
    --------
    >>> st = hl_steady_state(0.3, 1e-3)
    >>> float((st.density * st.widths).sum())           # normalised density, (1, n)
    1.0
    >>> bool(hl_yield_stress(0.3) < st.mean_stress < 0.5)
    True
    """
    alpha = _scalar("alpha", alpha, 0.0)
    gdot = _scalar("gdot", gdot, 0.0)
    sigma_c, G0, tau = _units(sigma_c, G0, tau)
    ext = _ext(extensions)
    resolution = _scalar("resolution", resolution, 0.25, 64.0, lo_open=False, hi_open=False)
    rtol = _scalar("rtol", rtol, 1e-15, 1e-3, lo_open=False, hi_open=False)
    if grid is not None and not isinstance(grid, HLGrid):
        raise ValueError("grid must be an HLGrid (units of sigma_c) or None")
    v = G0 * gdot * tau / sigma_c
    d, p, g = _solve_steady(alpha * ext.noise_scale**2, v, ext, grid, resolution, rtol)
    disc = _disc(g, ext)
    p = p / disc.mass(p)
    return HLSteadyState(
        alpha=alpha,
        gdot=gdot,
        mean_stress=sigma_c * disc.mean(p, v, d),
        activity=disc.activity(p) / tau,
        diffusion=d * sigma_c**2 / tau,
        sigma=sigma_c * g.centers,
        widths=sigma_c * g.widths,
        density=p.reshape(disc.m, disc.n) / sigma_c,
        grid=g,
        extensions=ext,
        sigma_c=sigma_c,
        G0=G0,
        tau=tau,
    )


def _rates(rates: ArrayLike) -> FloatArray:
    r = _array("rates", rates)
    r = np.atleast_1d(r)
    if r.ndim != 1 or r.size == 0:
        raise ValueError("rates must be a non-empty 1-D array of shear rates in (0, inf)")
    if np.any(r <= 0.0):
        raise ValueError(f"rates must all be in (0, inf) (1/time), got min {r.min()!r}")
    return r


def hl_flow_curve(
    alpha: float,
    rates: ArrayLike,
    *,
    sigma_c: float = 1.0,
    G0: float = 1.0,
    tau: float = 1.0,
    extensions: HLExtensions | None = None,
    resolution: float = 1.0,
    method: Literal["fv", "exact"] = "fv",
) -> FloatArray:
    """Stationary mean stress at each shear rate (the flow curve).

    Parameters
    ----------
    alpha : float
        Coupling, in (0, inf).
    rates : (n_rates,) array_like
        Shear rates (1/time), all in (0, inf).
    sigma_c, G0, tau : float
        Units (stress, stress, time), > 0.
    extensions : HLExtensions, optional
        Model extensions (``method="fv"`` only).
    resolution : float
        Grid refinement, see :func:`hl_steady_state`.
    method : {"fv", "exact"}
        Finite-volume solver or the closed-form solution of the original model.

    Returns
    -------
    (n_rates,) ndarray
        ``<sigma>`` (stress) at each rate.

    Examples
    --------
    >>> import numpy as np
    >>> rates = np.logspace(-8, -6, 3)
    >>> fit = hb_fit(rates, hl_flow_curve(0.2, rates), n=0.5)
    >>> round(fit.sigma_Y, 4), round(hl_yield_stress(0.2), 4)
    (0.3044, 0.3044)
    """
    alpha = _scalar("alpha", alpha, 0.0)
    r = _rates(rates)
    sigma_c, G0, tau = _units(sigma_c, G0, tau)
    ext = _ext(extensions)
    resolution = _scalar("resolution", resolution, 0.25, 64.0, lo_open=False, hi_open=False)
    if method not in ("fv", "exact"):
        raise ValueError(f"method must be one of 'fv', 'exact', got {method!r}")
    if method == "exact" and not ext.is_standard:
        raise ValueError("method='exact' is only available for the original model (extensions)")
    out = np.empty(r.size)
    for i, g in enumerate(r):
        if method == "exact":
            out[i] = hl_stationary_exact(alpha, g, sigma_c=sigma_c, G0=G0, tau=tau).mean_stress
        else:
            out[i] = hl_steady_state(
                alpha, g, sigma_c=sigma_c, G0=G0, tau=tau, extensions=ext, resolution=resolution
            ).mean_stress
    return out


# --------------------------------------------------------------------------------------------
# time-dependent protocols
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HLTrajectory:
    """Time series of a transient HL computation (one row per time step, row 0 = t = 0).

    Attributes
    ----------
    t : (n_t,) float64
        Times (time units).
    gdot : (n_t,) float64
        Shear rate during the step ending at ``t`` (1/time); ``gdot[0]`` repeats ``gdot[1]``.
    strain : (n_t,) float64
        Accumulated shear strain ``int gdot dt`` (plus the initial step strain, if any).
    stress : (n_t,) float64
        Mean stress ``<sigma>`` (stress).
    activity : (n_t,) float64
        ``Gamma`` (1/time).
    diffusion : (n_t,) float64
        ``D = alpha sigma_c^2 Gamma`` (stress^2 / time).
    mass : (n_t,) float64
        Total probability (1 to round-off).
    min_density : (n_t,) float64
        Smallest cell value of the density (>= 0: positivity).
    density : (n_classes, n) float64
        Final density (1/stress).
    sigma, widths : (n,) float64
        Cell centres and widths (stress).
    grid : HLGrid
    alpha : float
    extensions : HLExtensions
    sigma_c, G0, tau : float
    """

    t: FloatArray
    gdot: FloatArray
    strain: FloatArray
    stress: FloatArray
    activity: FloatArray
    diffusion: FloatArray
    mass: FloatArray
    min_density: FloatArray
    density: FloatArray
    sigma: FloatArray
    widths: FloatArray
    grid: HLGrid
    alpha: float
    extensions: HLExtensions
    sigma_c: float
    G0: float
    tau: float


def _step(disc: _Disc, p: FloatArray, dt: float, v: float, D: float) -> FloatArray:
    """One backward-Euler step of h dP/dt = (T + reinjection) P at fixed (v, D).

    The system matrix ``diag(h) - dt A`` is an M-matrix whose columns sum to ``h``: the
    total mass is conserved exactly in exact arithmetic and the new density is
    non-negative (round-off negatives are set to 0, see ``_clip_roundoff``). In the
    full-reset case the rank-K reinjection is handled by the Woodbury identity on a
    banded solve; otherwise by a sparse LU of the system with slot unknowns.
    """
    ops = disc.ops(v, D)
    # delta form: solve (diag(h) - dt A) dP = dt A P, so that the round-off of the solve
    # scales with |dP| rather than |P| (keeps the total mass exact to ~1e-15 per step)
    tp = ops.dg * p
    tp[1:] += ops.lo * p[:-1]
    tp[:-1] += ops.up * p[1:]
    if disc.U is not None:
        W = _W(disc)
        rhs = dt * (tp + disc.U @ (W.T @ p))
        ab = _banded(-dt * ops.lo, disc.h - dt * ops.dg, -dt * ops.up)
        sol = solve_banded((1, 1), ab, np.column_stack([rhs, dt * disc.U]), check_finite=False)
        y, Z = sol[:, 0], sol[:, 1:]
        cap = np.eye(Z.shape[1]) - W.T @ Z
        dx = y + Z @ np.linalg.solve(cap, W.T @ y)
    else:
        rhs = dt * (tp + disc.B @ (disc.C @ (disc.w * p)))
        top = sparse.diags(disc.h) - dt * disc.tridiag(ops)
        mat = disc.augmented(top, -dt)
        dx = np.asarray(splu(mat).solve(np.concatenate([rhs, np.zeros(mat.shape[0] - p.size)])))
        dx = dx[: p.size]
    return _clip_roundoff(p + dx)


def _initial_density(disc: _Disc, p0: Any, shift: float, sigma_c: float) -> FloatArray:
    """Return initial cell values (N,), normalised, shifted by ``shift`` (sigma_c units)."""
    f = disc.grid.faces
    x = disc.grid.centers
    if p0 is None:  # uniform on [-1, 1] + shift: exact cell averages
        lo = np.clip(f[:-1], shift - 1.0, shift + 1.0)
        hi = np.clip(f[1:], shift - 1.0, shift + 1.0)
        p = (hi - lo) / (2.0 * disc.grid.widths)
    elif isinstance(p0, HLSteadyState):
        p = np.interp(
            x - shift, p0.sigma / p0.sigma_c, p0.total_density * p0.sigma_c, left=0.0, right=0.0
        )
    elif callable(p0):
        p = np.asarray(p0(sigma_c * (x - shift)), dtype=float) * sigma_c
        if p.shape != x.shape:
            raise ValueError(f"P0(sigma) must return an array of shape {x.shape}, got {p.shape}")
    else:
        raise ValueError("P0 must be None, a callable density P0(sigma) or an HLSteadyState")
    if not np.all(np.isfinite(p)) or np.any(p < 0.0) or float(disc.grid.widths @ p) <= 0.0:
        raise ValueError("P0 must be a finite, non-negative density with positive mass on the grid")
    p = p / float(disc.grid.widths @ p)
    return np.concatenate([wt * p for wt in disc.ext.weights])


def _time_grid(t_max: float, dt: float, dt_growth: float, dt_max: float) -> FloatArray:
    steps = []
    t, h = 0.0, dt
    while t < t_max * (1.0 - 1e-12):
        hh = min(h, dt_max, t_max - t)
        steps.append(hh)
        t += hh
        h *= dt_growth
        if len(steps) > 2_000_000:
            raise ValueError("too many time steps (> 2e6): increase dt or dt_growth")
    return np.asarray(steps)


def _evolve(
    disc: _Disc,
    alpha: float,
    p: FloatArray,
    steps: FloatArray,
    mode: Literal["rate", "stress"],
    value: float,
    picard: int,
) -> dict[str, FloatArray]:
    n_t = steps.size + 1
    out = {k: np.empty(n_t) for k in ("t", "v", "stress", "gamma", "D", "mass", "pmin")}
    D = alpha * disc.activity(p)
    v = value if mode == "rate" else 0.0
    t = 0.0

    def record(i: int, d_used: float) -> None:
        # moments use the quadrature points of the (v, D) the density was computed with
        out["t"][i], out["v"][i] = t, v
        out["stress"][i] = disc.mean(p, v, d_used)
        out["gamma"][i] = disc.activity(p)
        out["D"][i] = D
        out["mass"][i] = disc.mass(p)
        out["pmin"][i] = float(p.min())

    record(0, D)
    for i, dt in enumerate(steps, start=1):
        d_it = D
        for _ in range(picard + 1):
            d_used = d_it
            if mode == "rate":
                p_new = _step(disc, p, dt, v, d_used)
            else:
                v, p_new = _solve_rate(disc, p, dt, d_used, value, v)
            d_it = alpha * disc.activity(p_new)
        p, D, t = p_new, d_it, t + dt
        record(i, d_used)
    out["v"][0] = out["v"][1] if n_t > 1 else out["v"][0]
    out["p"] = p
    return out


def _solve_rate(
    disc: _Disc, p: FloatArray, dt: float, D: float, target: float, v_prev: float
) -> tuple[float, FloatArray]:
    """Shear rate (dimensionless) making the mean stress after the step equal ``target``."""
    cache: dict[float, FloatArray] = {}

    def f(v: float) -> float:
        q = _step(disc, p, dt, v, D)
        cache[v] = q
        return disc.mean(q, v, D) - target

    # continuous-time balance: G0 gdot = plastic moment, plus the correction of any drift;
    # the mean after the step is increasing and nearly affine in v: bracket, then Brent
    v0 = disc.plastic_moment(p) + (target - disc.mean(p, v_prev, D)) / dt
    delta = 1e-3 * abs(v0) + 1e-9
    lo, hi = v0 - delta, v0 + delta
    f_lo, f_hi = f(lo), f(hi)
    while f_lo > 0.0:
        lo, hi, f_hi = lo - 4.0 * (hi - lo), lo, f_lo
        f_lo = f(lo)
    while f_hi < 0.0:
        lo, hi, f_lo = hi, hi + 4.0 * (hi - lo), f_hi
        f_hi = f(hi)
    v = float(optimize.brentq(f, lo, hi, xtol=1e-16, rtol=1e-14, maxiter=200))
    if v not in cache:
        f(v)
    return v, cache[v]


def _common_time_args(
    t_max: float, dt: float, dt_growth: float, dt_max: float | None, picard: int, tau: float
) -> tuple[float, float, float, float, int]:
    t_max = _scalar("t_max", t_max, 0.0)
    dt = _scalar("dt", dt, 0.0, t_max, hi_open=False)
    dt_growth = _scalar("dt_growth", dt_growth, 1.0, 2.0, lo_open=False, hi_open=False)
    dt_max = t_max if dt_max is None else _scalar("dt_max", dt_max, 0.0)
    picard = _int("picard", picard, 0, 10)
    return t_max / tau, dt / tau, dt_growth, max(dt_max / tau, dt / tau), picard


def _trajectory(
    out: dict[str, FloatArray],
    disc: _Disc,
    alpha: float,
    ext: HLExtensions,
    units: tuple[float, float, float],
    strain0: float,
) -> HLTrajectory:
    sigma_c, G0, tau = units
    t = out["t"] * tau
    gdot = out["v"] * sigma_c / (G0 * tau)
    strain = strain0 + np.concatenate([[0.0], np.cumsum(gdot[1:] * np.diff(t))])
    return HLTrajectory(
        t=t,
        gdot=gdot,
        strain=strain,
        stress=sigma_c * out["stress"],
        activity=out["gamma"] / tau,
        diffusion=out["D"] * sigma_c**2 / tau,
        mass=out["mass"],
        min_density=out["pmin"] / sigma_c,
        density=out["p"].reshape(disc.m, disc.n) / sigma_c,
        sigma=sigma_c * disc.grid.centers,
        widths=sigma_c * disc.grid.widths,
        grid=disc.grid,
        alpha=alpha,
        extensions=ext,
        sigma_c=sigma_c,
        G0=G0,
        tau=tau,
    )


def _transient_grid(
    ext: HLExtensions, grid: HLGrid | None, h_layer: float, extent: float, resolution: float
) -> HLGrid:
    if grid is not None:
        if not isinstance(grid, HLGrid):
            raise ValueError("grid must be an HLGrid (units of sigma_c) or None")
        return grid
    h_max = 0.01 / resolution
    return make_grid(
        ext.thresholds,
        h_layer=min(h_layer / resolution, h_max),
        h_max=h_max,
        growth=1.0 + 0.1 / resolution,
        s_min=-extent,
        s_max=extent,
        h_far=max(0.05 / resolution, h_layer),
    )


def hl_fixed_rate(
    alpha: float,
    gdot: float,
    t_max: float,
    *,
    sigma_c: float = 1.0,
    G0: float = 1.0,
    tau: float = 1.0,
    extensions: HLExtensions | None = None,
    P0: Any = None,
    grid: HLGrid | None = None,
    h_layer: float | None = None,
    resolution: float = 1.0,
    dt: float = 0.01,
    dt_growth: float = 1.0,
    dt_max: float | None = None,
    picard: int = 1,
) -> HLTrajectory:
    """Start-up (transient) shear at a fixed rate.

    Backward Euler in time (unconditionally stable: ``dt`` is not limited by
    ``h^2 / 2D``), mass conserved to round-off, density kept non-negative. At long times
    the trajectory reaches the finite-volume stationary state of the same grid.

    Parameters
    ----------
    alpha : float
        Coupling, in (0, inf).
    gdot : float
        Shear rate (1/time), in [0, inf).
    t_max : float
        Duration (time units), in (0, inf).
    sigma_c, G0, tau : float
        Local yield stress (stress), shear modulus (stress), plastic time (time), > 0.
    extensions : HLExtensions, optional
        Model extensions; default: original model.
    P0 : None, callable or HLSteadyState
        Initial density: ``None`` is uniform on ``[-sigma_c, sigma_c]`` (a marginal,
        unsheared state); a callable ``P0(sigma) -> density`` (stress units); or a
        stationary state (interpolated). Normalised on the grid.
    grid : HLGrid, optional
        Stress grid (units of sigma_c); default graded automatic grid.
    h_layer : float, optional
        Cell width at the thresholds of the automatic grid (units of sigma_c), in (0, 0.1].
    resolution : float
        Refinement factor of the automatic grid, in [0.25, 64].
    dt : float
        First time step (time units), in (0, t_max].
    dt_growth : float
        Geometric growth factor of the time step, in [1, 2].
    dt_max : float, optional
        Largest time step (time units); default ``t_max``.
    picard : int
        Picard corrections of the lagged ``D`` per step, in [0, 10].

    Returns
    -------
    HLTrajectory
    """
    alpha = _scalar("alpha", alpha, 0.0)
    gdot = _scalar("gdot", gdot, 0.0, lo_open=False)
    units = _units(sigma_c, G0, tau)
    ext = _ext(extensions)
    resolution = _scalar("resolution", resolution, 0.25, 64.0, lo_open=False, hi_open=False)
    t_max_, dt_, growth, dt_max_, picard = _common_time_args(
        t_max, dt, dt_growth, dt_max, picard, units[2]
    )
    v = units[1] * gdot * units[2] / units[0]
    tmax = max(ext.thresholds)
    if v > 0.0:
        d_ss, _ = _exact_solve_D(alpha * ext.noise_scale**2, v)
        lm, lp = _layer_lengths(v, d_ss)
    else:
        lm = lp = 0.05
    if h_layer is None:
        h_layer = min(lm, lp, 0.8) / 8.0
    h_layer = _scalar("h_layer", h_layer, 0.0, 0.1, hi_open=False)
    extent = max(tmax + 30.0 * max(lm, lp), tmax + 1.0)
    g = _transient_grid(ext, grid, h_layer, extent, resolution)
    disc = _disc(g, ext)
    p = _initial_density(disc, P0, 0.0, units[0])
    a_eff = alpha * ext.noise_scale**2
    out = _evolve(disc, a_eff, p, _time_grid(t_max_, dt_, growth, dt_max_), "rate", v, picard)
    return _trajectory(out, disc, alpha, ext, units, 0.0)


def hl_creep(
    alpha: float,
    stress: float,
    t_max: float,
    *,
    sigma_c: float = 1.0,
    G0: float = 1.0,
    tau: float = 1.0,
    extensions: HLExtensions | None = None,
    P0: Any = None,
    grid: HLGrid | None = None,
    h_layer: float | None = None,
    resolution: float = 1.0,
    dt: float = 0.01,
    dt_growth: float = 1.0,
    dt_max: float | None = None,
    picard: int = 1,
) -> HLTrajectory:
    """Creep: the macroscopic stress is held at ``stress``; the shear rate is the unknown.

    At t = 0 the initial density is shifted elastically so that ``<sigma> = stress`` (a
    stress step). At every backward-Euler step the shear rate is found by a secant
    iteration such that the mean stress after the step equals the target to 1e-13
    (continuous version: ``G0 gdot = (1/tau) int_{|s| > s_c} (s - s_reinjected) P``).
    Below the dynamical yield stress the activity decays to zero (stuck); above it the
    rate tends to the fixed-rate flow curve.

    Parameters
    ----------
    alpha : float
        Coupling, in (0, inf).
    stress : float
        Imposed macroscopic stress (stress units), finite.
    t_max : float
        Duration (time units), in (0, inf).
    sigma_c, G0, tau : float
        Local yield stress (stress), shear modulus (stress), plastic time (time), > 0.
    extensions : HLExtensions, optional
        Model extensions; default: original model.
    P0 : None, callable or HLSteadyState
        Initial density: ``None`` is uniform on ``[-sigma_c, sigma_c]`` (a marginal,
        unsheared state); a callable ``P0(sigma) -> density`` (stress units); or a
        stationary state (interpolated). Normalised on the grid.
    grid : HLGrid, optional
        Stress grid (units of sigma_c); default graded automatic grid.
    h_layer : float, optional
        Cell width at the thresholds of the automatic grid (units of sigma_c), in (0, 0.1].
    resolution : float
        Refinement factor of the automatic grid, in [0.25, 64].
    dt : float
        First time step (time units), in (0, t_max].
    dt_growth : float
        Geometric growth factor of the time step, in [1, 2].
    dt_max : float, optional
        Largest time step (time units); default ``t_max``.
    picard : int
        Picard corrections of the lagged ``D`` per step, in [0, 10].

    Returns
    -------
    HLTrajectory
        ``gdot`` is the computed shear-rate history.

    Examples
    --------
    Below the yield stress the flow stops:

    >>> tr = hl_creep(0.3, 0.15, 1000.0, dt=0.05, dt_growth=1.2)   # time steps grow
    >>> bool(hl_yield_stress(0.3) > 0.15), bool(tr.gdot[-1] < 1e-3 * tr.gdot[0])
    (True, True)
    >>> round(float(tr.strain[-1]), 2)                    # the strain saturates
    0.45
    """
    alpha = _scalar("alpha", alpha, 0.0)
    stress = _scalar("stress", stress)
    units = _units(sigma_c, G0, tau)
    ext = _ext(extensions)
    resolution = _scalar("resolution", resolution, 0.25, 64.0, lo_open=False, hi_open=False)
    t_max_, dt_, growth, dt_max_, picard = _common_time_args(
        t_max, dt, dt_growth, dt_max, picard, units[2]
    )
    target = stress / units[0]
    h_layer = _scalar("h_layer", 2e-3 if h_layer is None else h_layer, 0.0, 0.1, hi_open=False)
    extent = max(max(ext.thresholds), abs(target) + 1.0) + 1.5
    g = _transient_grid(ext, grid, h_layer, extent, resolution)
    disc = _disc(g, ext)
    # elastic stress step: shift the density so that its (discrete) mean equals the target
    shift = 0.0
    for _ in range(4):
        p = _initial_density(disc, P0, shift, units[0])
        shift += target - disc.mean(p, 0.0, 0.0)
    a_eff = alpha * ext.noise_scale**2
    out = _evolve(
        disc, a_eff, p, _time_grid(t_max_, dt_, growth, dt_max_), "stress", target, picard
    )
    return _trajectory(out, disc, alpha, ext, units, 0.0)


def hl_step_strain(
    alpha: float,
    gamma0: float,
    t_max: float,
    *,
    sigma_c: float = 1.0,
    G0: float = 1.0,
    tau: float = 1.0,
    extensions: HLExtensions | None = None,
    P0: Any = None,
    grid: HLGrid | None = None,
    h_layer: float | None = None,
    resolution: float = 1.0,
    dt: float = 0.01,
    dt_growth: float = 1.0,
    dt_max: float | None = None,
    picard: int = 1,
) -> HLTrajectory:
    """Stress relaxation after an instantaneous step strain ``gamma0`` (then ``gdot = 0``).

    Every local stress jumps by ``G0 gamma0``; the sites pushed beyond threshold yield and
    feed the mechanical noise; the stress relaxes towards a residual value (jammed) or to
    zero (liquid, ``alpha > 1/2`` with sustained activity).

    Parameters
    ----------
    alpha : float
        Coupling, in (0, inf).
    gamma0 : float
        Step strain (dimensionless), finite.
    t_max : float
        Duration (time units), in (0, inf).
    sigma_c, G0, tau : float
        Local yield stress (stress), shear modulus (stress), plastic time (time), > 0.
    extensions : HLExtensions, optional
        Model extensions; default: original model.
    P0 : None, callable or HLSteadyState
        Initial density: ``None`` is uniform on ``[-sigma_c, sigma_c]`` (a marginal,
        unsheared state); a callable ``P0(sigma) -> density`` (stress units); or a
        stationary state (interpolated). Normalised on the grid.
    grid : HLGrid, optional
        Stress grid (units of sigma_c); default graded automatic grid.
    h_layer : float, optional
        Cell width at the thresholds of the automatic grid (units of sigma_c), in (0, 0.1].
    resolution : float
        Refinement factor of the automatic grid, in [0.25, 64].
    dt : float
        First time step (time units), in (0, t_max].
    dt_growth : float
        Geometric growth factor of the time step, in [1, 2].
    dt_max : float, optional
        Largest time step (time units); default ``t_max``.
    picard : int
        Picard corrections of the lagged ``D`` per step, in [0, 10].

    Returns
    -------
    HLTrajectory
    """
    alpha = _scalar("alpha", alpha, 0.0)
    gamma0 = _scalar("gamma0", gamma0)
    units = _units(sigma_c, G0, tau)
    ext = _ext(extensions)
    resolution = _scalar("resolution", resolution, 0.25, 64.0, lo_open=False, hi_open=False)
    t_max_, dt_, growth, dt_max_, picard = _common_time_args(
        t_max, dt, dt_growth, dt_max, picard, units[2]
    )
    shift = units[1] * gamma0 / units[0]
    h_layer = _scalar("h_layer", 2e-3 if h_layer is None else h_layer, 0.0, 0.1, hi_open=False)
    extent = max(max(ext.thresholds), abs(shift) + 1.0) + 1.5
    g = _transient_grid(ext, grid, h_layer, extent, resolution)
    disc = _disc(g, ext)
    p = _initial_density(disc, P0, shift, units[0])
    a_eff = alpha * ext.noise_scale**2
    out = _evolve(disc, a_eff, p, _time_grid(t_max_, dt_, growth, dt_max_), "rate", 0.0, picard)
    return _trajectory(out, disc, alpha, ext, units, gamma0)


# --------------------------------------------------------------------------------------------
# Herschel-Bulkley fits and the universal (sigma_Y, A) relation
# --------------------------------------------------------------------------------------------


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

    k_lo, k_hi = 1e-8, 10.0
    while f(k_hi) < 0.0:
        k_hi *= 2.0
    k = optimize.brentq(f, k_lo, k_hi, xtol=1e-300, rtol=1e-15, maxiter=500)
    return math.tanh(0.5 * k) / k


# --------------------------------------------------------------------------------------------
# bridge: measure the HL ingredients in lattice / FE records
# --------------------------------------------------------------------------------------------


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
    """Local stress diffusion coefficient from stress time series (seed 003, eq. 7).

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
    """Coupling ``alpha_micro = D_sigma / (dsigma^2 Gamma)`` (seed 003, eq. 8).

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

"""Stress grids of the HL solvers and the model extensions they are built for.

:class:`HLExtensions` (partial relaxation, threshold classes, noise scale) and
:class:`HLGrid` (finite-volume faces in units of ``sigma_c``), :func:`make_grid` (graded
grids aligned with the thresholds) and the private grids adapted to the yielding layers that
the steady and transient solvers build (:func:`_auto_grid`, :func:`_transient_grid`) or
check (:func:`_check_grid`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy import optimize

from ._checks import FloatArray, _array, _int, _scalar

__all__ = [
    "HLExtensions",
    "HLGrid",
    "make_grid",
]


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


def _ext(extensions: HLExtensions | None) -> HLExtensions:
    if extensions is None:
        return _STANDARD
    if not isinstance(extensions, HLExtensions):
        raise ValueError("extensions must be an HLExtensions instance or None")
    return extensions


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


#: Largest number of cells of one segment of a graded grid (a few hundred MB of operators).
MAX_CELLS = 5_000_000


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
    if not phi[-1] < MAX_CELLS:
        raise ValueError(
            f"the stress grid would need more than {MAX_CELLS} cells between {a:.4g} and "
            f"{b:.4g} sigma_c: lower the shear rate, the stress or the resolution, or pass a "
            "coarser grid"
        )
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


def _layer_lengths(v: float, D: float) -> tuple[float, float]:
    """Decay lengths (left, right) of the density beyond the thresholds (dimensionless)."""
    root = math.sqrt(v * v + 4.0 * D)
    return 2.0 * D / (root + v), 0.5 * (v + root)


def _tail_lengths(ext: HLExtensions, v: float, D: float) -> tuple[float, float]:
    """Decay lengths (left, right) of the density far beyond the thresholds (dimensionless).

    With the full reset (or partial relaxation by a fraction, whose jumps from far out are
    negligible there) these are :func:`_layer_lengths`. With a fixed drop ``d`` a yielding
    site lands at ``s -+ d``, still beyond the threshold when ``|s| > t + d``: the tail
    ``exp(-lambda |s|)`` solves ``D lambda^2 +- v lambda - 1 + exp(-lambda d) = 0`` (``+``
    on the right), which decays slower; on the right a root exists only for ``v < d`` (the
    relaxation rate of a site is at most ``d``: beyond it there is no stationary state).
    """
    lm, lp = _layer_lengths(v, D)
    d = ext.relax_drop
    if d is None:
        return lm, lp
    out = []
    for sign, ell in ((-1.0, lm), (1.0, lp)):
        if sign > 0 and v >= d:
            return lm, math.inf

        def f(lam: float, sign: float = sign) -> float:
            return D * lam * lam + sign * v * lam - 1.0 + math.exp(-lam * d)

        hi = 1.0 / ell  # the full-reset rate: f(hi) >= 0 there
        lo = hi
        while f(lo) > 0.0:
            lo *= 0.5
        out.append(max(ell, 1.0 / optimize.brentq(f, lo, hi, rtol=1e-10)))
    return out[0], out[1]


def _auto_grid(ext: HLExtensions, v: float, D: float, resolution: float) -> HLGrid:
    """Build a grid resolving the outer and inner yielding layers.

    Outer layers: decay lengths ``l_-, l_+`` beyond the thresholds, the domain extends 30
    tail lengths (:func:`_tail_lengths`) beyond them; inner layers: width ``D / v`` at 0-
    and inside the thresholds.
    """
    lm, lp = _layer_lengths(v, D)
    tm, tp = _tail_lengths(ext, v, D)
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
    far_p = 0.1 * tp / resolution
    far_m = 0.1 * tm / resolution
    if ext.relax_drop is not None:  # the tails are made of jumps of relax_drop: resolve them
        far_p = min(far_p, 0.25 * ext.relax_drop / resolution)
        far_m = min(far_m, 0.25 * ext.relax_drop / resolution)
    return make_grid(
        ext.thresholds,
        h_layer=(h_m, h_p),
        h_max=h_max,
        growth=growth,
        s_min=-(tmax + 30.0 * tm + h_m),
        s_max=tmax + 30.0 * tp + h_p,
        h_far=(max(far_m, h_m), max(far_p, h_p)),
        h_center=min(h_max, inner / cpl),
        extra_knots=extra,
    )


def _check_grid(grid: HLGrid, ext: HLExtensions, lm: float, lp: float,
                tails: tuple[float, float] | None = None) -> None:
    """Raise ValueError if a user grid cannot resolve the layers at the thresholds.

    ``lm, lp``: layer lengths (cell widths); ``tails``: tail lengths of the extent (default
    the same).
    """
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
    lm, lp = (lm, lp) if tails is None else tails
    if grid.faces[-1] < tmax + 25.0 * lp or grid.faces[0] > -(tmax + 25.0 * lm):
        raise ValueError(
            f"grid must extend to [{-(tmax + 25 * lm):.4g}, {tmax + 25 * lp:.4g}] sigma_c "
            f"(25 decay lengths beyond the thresholds), got [{grid.faces[0]:.4g}, "
            f"{grid.faces[-1]:.4g}]"
        )


def _transient_grid(
    ext: HLExtensions, grid: HLGrid | None, h_layer: float, extent: float, resolution: float
) -> HLGrid:
    if grid is not None:
        if not isinstance(grid, HLGrid):
            raise ValueError("grid must be an HLGrid (units of sigma_c) or None")
        return grid
    h_max = 0.01 / resolution
    h_far = 0.05 / resolution
    if ext.relax_drop is not None:  # resolve the jumps of the tail (see _tail_lengths)
        h_far = min(h_far, 0.25 * ext.relax_drop / resolution)
    return make_grid(
        ext.thresholds,
        h_layer=min(h_layer / resolution, h_max),
        h_max=h_max,
        growth=1.0 + 0.1 / resolution,
        s_min=-extent,
        s_max=extent,
        h_far=max(h_far, h_layer),
    )

"""Input validation shared by the mean-field modules: one ValueError naming the parameter.

Every public function of :mod:`femplastic.meanfield` checks its arguments with these helpers
before any work starts; the message names the parameter and its allowed range.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
_F = TypeVar("_F", bound=Callable[..., Any])


def _docfill(**parts: str) -> Callable[[_F], _F]:
    """Decorator: put the shared docstring text ``parts[name]`` at the line ``{name}``.

    The mean-field solvers share many parameters; their descriptions are written once (a
    module constant, indented as in a function docstring) and filled in at import, so
    ``help()``, the API pages and the docstring audit see the whole text.
    """

    def fill(func: _F) -> _F:
        doc = func.__doc__ or ""
        for name, text in parts.items():
            line = "    {" + name + "}\n"
            if line not in doc:
                raise ValueError(f"{func.__name__}: no line {{{name}}} in the docstring")
            doc = doc.replace(line, text)
        func.__doc__ = doc
        return func

    return fill


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


def _rate_args(
    alpha: float,
    gdot: float,
    sigma_c: float,
    G0: float,
    tau: float,
    v_range: tuple[float, float] | None = None,
) -> tuple[float, float, float, float, float, float]:
    """Checked ``(alpha, gdot, sigma_c, G0, tau)`` of a stationary solver, and ``v``.

    All five must be > 0; ``v = G0 gdot tau / sigma_c`` is the dimensionless shear rate, in
    ``v_range`` (default :data:`V_RANGE`).
    """
    alpha = _scalar("alpha", alpha, 0.0)
    gdot = _scalar("gdot", gdot, 0.0)
    sigma_c, G0, tau = _units(sigma_c, G0, tau)
    return alpha, gdot, sigma_c, G0, tau, _dimensionless_rate(gdot, sigma_c, G0, tau, v_range)


#: Range of the dimensionless shear rate ``G0 gdot tau / sigma_c`` of the closed-form
#: stationary solution (beyond it ``D`` underflows or the root bracket overflows).
V_RANGE = (1e-150, 1e12)
#: The same for the finite-volume solvers (their graded grids: layers of width ``sqrt(D)``
#: resolved below, a domain growing like ``v`` above).
V_RANGE_FV = (1e-20, 1e8)


def _dimensionless_rate(
    gdot: float, sigma_c: float, G0: float, tau: float, v_range: tuple[float, float] | None = None
) -> float:
    """``v = G0 gdot tau / sigma_c`` of a checked ``gdot > 0``, refused outside ``v_range``."""
    rng = V_RANGE if v_range is None else v_range
    v = G0 * gdot * tau / sigma_c
    if not rng[0] <= v <= rng[1]:
        lo, hi = (x * sigma_c / (G0 * tau) for x in rng)
        raise ValueError(
            f"gdot must be in [{lo:.3g}, {hi:.3g}] (1/time) with sigma_c={sigma_c:g}, G0={G0:g}, "
            f"tau={tau:g} (dimensionless rate G0 gdot tau / sigma_c in [{rng[0]:g}, "
            f"{rng[1]:g}]), got {gdot!r}"
        )
    return v


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


def _rates(rates: ArrayLike) -> FloatArray:
    r = _array("rates", rates)
    r = np.atleast_1d(r)
    if r.ndim != 1 or r.size == 0:
        raise ValueError("rates must be a non-empty 1-D array of shear rates in (0, inf)")
    if np.any(r <= 0.0):
        raise ValueError(f"rates must all be in (0, inf) (1/time), got min {r.min()!r}")
    return r

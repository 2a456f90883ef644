"""Input checks and the cached lattice kernel shared by the scalar lattice models.

Each check raises a ``ValueError`` naming the parameter and the allowed range;
:mod:`~femplastic.lattice.finite_rate`, :mod:`~femplastic.lattice.quasistatic` and
:mod:`~femplastic.lattice.thresholds` validate their inputs with them before any work.
"""

from __future__ import annotations

import functools

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .kernel import LatticeEshelby

__all__: list[str] = []


def _real(name: str, value: object) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    if np.isnan(v):
        raise ValueError(f"{name} must not be NaN")
    return v


def _positive(name: str, value: object, allow_inf: bool = False) -> float:
    v = _real(name, value)
    if v <= 0 or (np.isinf(v) and not allow_inf):
        raise ValueError(f"{name} must be in {'(0, inf]' if allow_inf else '(0, inf)'}, got {v!r}")
    return v


def _lattice_size(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 2:
        raise ValueError(f"L must be an integer >= 2, got {value!r}")
    return int(value)


def _site_map(name: str, values: ArrayLike, L: int) -> NDArray[np.float64]:
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    if arr.shape not in ((L * L,), (L, L)):
        raise ValueError(f"{name} must have shape ({L * L},) or ({L}, {L}), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (got NaN or inf)")
    return np.ascontiguousarray(arr.reshape(-1)).copy()


def _generator(rng: object) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return rng


def _check_state(name: str, state: object, cls: type, n: int) -> None:
    if not isinstance(state, cls):
        raise ValueError(f"{name} must be a {cls.__name__}, got {type(state).__name__}")
    for f in ("stress_int", "threshold"):
        a = getattr(state, f)
        if a.shape != (n,):
            raise ValueError(f"{name}.{f} must have shape ({n},) for this lattice, got {a.shape}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name}.{f} must be finite")



@functools.lru_cache(maxsize=16)
def _kernel(L: int, mu: float, K: float, normalisation: str) -> LatticeEshelby:
    return LatticeEshelby(L, mu, K, normalisation)  # type: ignore[arg-type]

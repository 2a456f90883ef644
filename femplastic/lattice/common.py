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
    """Check every field of a lattice model state before any compiled code touches it.

    The compiled loops index the arrays without bounds checks: an array of the wrong length
    would be read and written out of bounds, and a NaN scalar can make the extremal loading
    loop forever. Arrays: ``(n,)`` and finite; ``plastic`` holds only 0 and 1; the internal
    stress has zero mean (the external stress is the mean stress). Scalars: finite.
    """
    if not isinstance(state, cls):
        raise ValueError(f"{name} must be a {cls.__name__}, got {type(state).__name__}")
    arrays = [f for f in ("stress_int", "threshold", "plastic", "gamma_pl", "eps_pl")
              if hasattr(state, f)]
    for f in arrays:
        a = np.asarray(getattr(state, f))
        if a.shape != (n,):
            raise ValueError(f"{name}.{f} must have shape ({n},) for this lattice, got {a.shape}")
        if a.dtype.kind not in "biuf":
            raise ValueError(f"{name}.{f} must be a numeric array, got dtype {a.dtype}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name}.{f} must be finite (got NaN or inf)")
    if hasattr(state, "plastic") and not np.all(np.isin(state.plastic, (0, 1))):
        raise ValueError(f"{name}.plastic must hold only 0 (elastic) and 1 (plastic)")
    for f in ("sigma_ext", "time", "eps_tot"):
        if hasattr(state, f):
            v = getattr(state, f)
            if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating) \
                    or not np.isfinite(v):
                raise ValueError(f"{name}.{f} must be a finite real number, got {v!r}")
    s = np.asarray(state.stress_int, dtype=float)
    if abs(float(s.mean())) > 1e-6 * max(1.0, float(np.abs(s).max())):
        raise ValueError(
            f"{name}.stress_int must have zero mean (the mean stress is sigma_ext), got mean "
            f"{float(s.mean()):.3g}: build states with the *_initial_state functions (stress=...)"
        )


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


#: Largest number of records (rows of the record buffers) a run may allocate up front.
MAX_RECORDS = 20_000_000


@functools.lru_cache(maxsize=16)
def _kernel(L: int, mu: float, K: float, normalisation: str) -> LatticeEshelby:
    return LatticeEshelby(L, mu, K, normalisation)  # type: ignore[arg-type]

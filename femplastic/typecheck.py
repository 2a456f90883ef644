"""Types of every input: numbers, integers, booleans, instances, generators, states.

The first layer of :mod:`femplastic.validation` (which re-exports these names): booleans,
strings (a quoted ``dim = "3"`` in a file) and arrays are not numbers, numbers are not
booleans; a ``TypeError`` names the parameter and the value, a ``ValueError`` the allowed
range.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["number", "integer", "boolean", "instance", "rng", "state", "params_match"]


def _got(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) < 60 else text[:57] + '...'}"


def number(name: str, value: Any, low: float | None = None, high: float | None = None,
           low_open: bool = False, none: bool = False) -> float | None:
    """``value`` as a finite float in ``[low, high]`` (``(low, high]`` with ``low_open``).

    Parameters
    ----------
    name : str
        The parameter's name in messages (``run.dgamma``, ``gamma_end``).
    value : Any
        A Python or numpy real number; booleans, strings, arrays and None are refused.
    low, high : float, optional
        Bounds (inclusive unless ``low_open``).
    low_open : bool
        Exclude ``low``.
    none : bool
        Let None through (returned as None).

    Returns
    -------
    float or None

    Raises
    ------
    TypeError
        If ``value`` is not a real number.
    ValueError
        If it is not finite or out of range (the message gives the range).
    """
    if value is None and none:
        return None
    if isinstance(value, bool | np.bool_) or not isinstance(
            value, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a number, got {_got(value)}")
    x = float(value)
    bad = not math.isfinite(x)
    if low is not None:
        bad = bad or (x <= low if low_open else x < low)
    if high is not None:
        bad = bad or x > high
    if bad:
        lo = "" if low is None else f"{'>' if low_open else '>='} {low:g}"
        hi = "" if high is None else f"<= {high:g}"
        rng_ = " and ".join(s for s in (lo, hi) if s)
        raise ValueError(f"{name} must be a finite number{' ' + rng_ if rng_ else ''}, "
                         f"got {value!r}")
    return x


def integer(name: str, value: Any, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an int in ``[low, high]``; booleans and floats are refused (TypeError).

    Parameters
    ----------
    name : str
    value : Any
    low, high : int, optional
        Inclusive bounds.

    Returns
    -------
    int

    Raises
    ------
    TypeError
        If ``value`` is not an integer.
    ValueError
        If it is out of range.
    """
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an integer, got {_got(value)}")
    if (low is not None and value < low) or (high is not None and value > high):
        rng_ = (f">= {low}" if high is None else f"in [{low}, {high}]" if low is not None
                else f"<= {high}")
        raise ValueError(f"{name} must be an integer {rng_}, got {value!r}")
    return int(value)


def boolean(name: str, value: Any) -> bool:
    """``value`` as a bool; numbers and strings are refused (TypeError naming ``name``).

    Parameters
    ----------
    name : str
    value : Any

    Returns
    -------
    bool
    """
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False, got {_got(value)}")
    return bool(value)


def instance(name: str, value: Any, cls: type | tuple[type, ...], hint: str = "",
             none: bool = False) -> Any:
    """Raise TypeError unless ``value`` is a ``cls`` (or None with ``none``); return it.

    Parameters
    ----------
    name : str
    value : Any
    cls : type or tuple of type
    hint : str
        What to pass instead (e.g. ``"load a file with fp.mesh.load(path, periodic=True)"``).
    none : bool
        Let None through.

    Returns
    -------
    Any
        ``value``.
    """
    if (value is None and none) or isinstance(value, cls):
        return value
    names = " or ".join(c.__name__ for c in (cls if isinstance(cls, tuple) else (cls,)))
    raise TypeError(f"{name} must be a {names}{' (' + hint + ')' if hint else ''}, got "
                    f"{_got(value)}")


def rng(value: Any) -> np.random.Generator:
    """Raise TypeError unless ``value`` is a ``numpy.random.Generator``; return it.

    Parameters
    ----------
    value : Any

    Returns
    -------
    numpy.random.Generator
    """
    return instance("rng", value, np.random.Generator, "e.g. np.random.default_rng(seed)")


def state(value: Any, name: str = "state") -> Any:
    """Raise TypeError unless ``value`` is a weak-plane ``State``; return it.

    Parameters
    ----------
    value : Any
    name : str

    Returns
    -------
    State
    """
    from .weakplane.state import State

    return instance(name, value, State, "e.g. from fp.quench(params, rng)")


def params_match(state_: Any, params: Any) -> None:
    """Raise ValueError unless ``params`` is None or those ``state_`` was built with.

    Parameters
    ----------
    state_ : State
    params : ModelParams or None
    """
    if params is not None and params != state_.model.params:
        a, b = vars(state_.model.params), getattr(params, "__dict__", {})
        diff = "; ".join(f"{k}: state {a[k]!r}, params {b.get(k)!r}" for k in a if a[k] != b.get(k))
        raise ValueError(f"params differ from those the state was built with ({diff or params})")

"""Ctrl-C at safe points: SIGINT is deferred while compiled code runs, raised between calls.

A SIGINT that reaches CPython while a numba function holding a ``numpy.random.Generator`` is
running makes the default handler raise ``KeyboardInterrupt`` *inside* the compiled call; numba
then returns with an exception set (``SystemError: CPUDispatcher(...) returned a result with an
exception set``) or, repeated in one process, crashes the interpreter. The drivers therefore run
inside :func:`deferred`: the SIGINT handler only records the request, and the driver calls
:func:`check` at its safe points (between two compiled calls, where the state is consistent),
which raises a plain ``KeyboardInterrupt`` there. Leaving the block restores the previous
handler and raises if a request is still pending, so an interrupt is never lost.

Only the main thread can own a signal handler: elsewhere (Dask worker threads) :func:`deferred`
does nothing and :func:`check` never raises. Blocks nest; only the outermost installs the
handler.

Examples
--------
>>> from femplastic import interrupt
>>> with interrupt.deferred():
...     for step in range(3):
...         pass                      # a compiled call
...         interrupt.check()         # a safe point: raises KeyboardInterrupt after Ctrl-C
"""

from __future__ import annotations

import functools
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

_F = TypeVar("_F", bound=Callable[..., Any])

__all__ = ["deferred", "deferring", "check", "pending"]

_depth = 0
_pending = False


def _record(signum: int, frame: Any) -> None:  # the deferred SIGINT handler
    global _pending
    _pending = True


def pending() -> bool:
    """Whether a SIGINT arrived inside :func:`deferred` and has not been raised yet."""
    return _pending


def check() -> None:
    """A safe point: raise ``KeyboardInterrupt`` if a deferred SIGINT is pending.

    Raises
    ------
    KeyboardInterrupt
        If Ctrl-C (SIGINT) arrived since the last check.
    """
    global _pending
    if _pending:
        _pending = False
        raise KeyboardInterrupt


@contextmanager
def deferred() -> Iterator[None]:
    """Defer SIGINT to the safe points (:func:`check`) of the block.

    Yields
    ------
    None

    Raises
    ------
    KeyboardInterrupt
        On leaving the block if a SIGINT is still pending (the block ran no :func:`check`
        after it).
    """
    global _depth, _pending
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    # Order matters: with the default handler a KeyboardInterrupt can arise at any bytecode,
    # so the depth changes only while our handler is installed (no exception possible there).
    outer = _depth == 0
    previous = None
    if outer:
        _pending = False
        previous = signal.signal(signal.SIGINT, _record)
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if outer:
            signal.signal(signal.SIGINT,
                          signal.default_int_handler if previous is None else previous)
    if outer:
        check()


def deferring(func: _F) -> _F:
    """Decorator: run ``func`` inside :func:`deferred` (a driver whose loop calls :func:`check`).

    Parameters
    ----------
    func : callable
        A driver that calls compiled code with a ``numpy.random.Generator``.

    Returns
    -------
    callable
        ``func`` with the same signature and docstring; a SIGINT during the call surfaces as a
        ``KeyboardInterrupt`` at the next :func:`check` (or when ``func`` returns). Called
        inside a deferred block it runs directly (one global read of overhead).
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if _depth:  # already inside a deferred block (e.g. relax() called by aqs()): no cost
            return func(*args, **kwargs)
        with deferred():
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]

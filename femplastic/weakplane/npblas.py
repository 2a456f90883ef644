"""numpy's own BLAS routines as functions compiled kernels can call (bitwise numpy's sums).

The cyclic and stress-controlled drivers evaluate weighted means (``w @ X`` for ``w`` (n,),
``X`` (n, 3)) and elastic energies (:func:`femplastic.weakplane.energy.elastic_energy`) after
every avalanche, and under stress control after every sweep, where they steer the trajectory.
numpy computes these with its BLAS (``dgemv``, ``ddot``), whose summation order depends on the
library and the CPU's kernel; a compiled loop that sums in its own order would give other
bits. :func:`routines` finds the library numpy itself calls and returns ``ctypes`` handles of
its ``cblas_dgemv`` and ``cblas_ddot``, which numba kernels take as (first-class function)
arguments, so the compiled drivers reproduce numpy's numbers bit for bit.

The drivers run these sums on one BLAS thread (:func:`one_thread`): OpenBLAS splits a
``ddot`` longer than 10,000 over its threads, which changes the sum's last bits with the
thread count (``OPENBLAS_NUM_THREADS``), and for vectors this short a thread pool costs
more than it saves (milliseconds per call on a busy machine).

The handles are used only after a self-test: the same products computed through them and
through numpy on a few arrays must agree bitwise; so must the compiled three-term sums
``x @ (1, 1, 2)`` of the energy (:func:`femplastic.weakplane.path_kernels.xmat3_inline`,
which the drivers evaluate in the pass that forms the energy's operands instead of a
``gemv`` call per row). When the library cannot be found (another
numpy build) or the test fails, :func:`routines` returns None and the drivers fall back to
their Python loop (same trajectories, slower).
"""

from __future__ import annotations

import ctypes
import functools
import glob
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np

_F = TypeVar("_F", bound=Callable[..., Any])

__all__ = ["on_one_thread", "one_thread", "routines"]

_CACHE: list[Any] = []
_THREADS: list[Any] = []  # (get, set) of the library's thread count, or None

#: (get, set) thread-count symbols tried in order.
_THREAD_SYMBOLS = (("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
                   ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
                   ("openblas_get_num_threads", "openblas_set_num_threads"))

#: (dgemv symbol, ddot symbol, 64-bit integers) tried in order in each candidate library.
_SYMBOLS = (("scipy_cblas_dgemv64_", "scipy_cblas_ddot64_", True),
            ("cblas_dgemv64_", "cblas_ddot64_", True),
            ("scipy_cblas_dgemv", "scipy_cblas_ddot", False),
            ("cblas_dgemv", "cblas_ddot", False))


def _candidates() -> list[str]:
    """Shared libraries that may hold numpy's BLAS: its wheel's bundled ones, then loaded ones."""
    root = os.path.dirname(np.__file__)
    out = sorted(glob.glob(os.path.join(root, "..", "numpy.libs", "*blas*")))
    out += sorted(glob.glob(os.path.join(root, ".dylibs", "*blas*")))
    try:
        with open("/proc/self/maps") as fh:
            for line in fh:
                path = line.rsplit(" ", 1)[-1].strip()
                name = os.path.basename(path).lower()
                if path.startswith("/") and ("blas" in name or "mkl_rt" in name) \
                        and path not in out:
                    out.append(path)
    except OSError:  # pragma: no cover - not Linux
        pass
    return out


def _handles(path: str) -> tuple[Any, Any] | None:
    try:
        lib = ctypes.CDLL(path)
    except OSError:
        return None
    dbl, vp = ctypes.c_double, ctypes.c_void_p
    for gemv_name, dot_name, i64 in _SYMBOLS:
        if not (hasattr(lib, gemv_name) and hasattr(lib, dot_name)):
            continue
        it = ctypes.c_int64 if i64 else ctypes.c_int32
        gemv_t = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_int, it, it, dbl, vp, it, vp, it,
                                  dbl, vp, it)
        dot_t = ctypes.CFUNCTYPE(dbl, it, vp, it, vp, it)
        if not _THREADS:
            _THREADS.append(_thread_handles(lib))
        return gemv_t((gemv_name, lib)), dot_t((dot_name, lib))
    return None


def _thread_handles(lib: Any) -> tuple[Any, Any] | None:
    for get_name, set_name in _THREAD_SYMBOLS:
        if hasattr(lib, get_name) and hasattr(lib, set_name):
            get = getattr(lib, get_name)
            get.restype = ctypes.c_int
            get.argtypes = []
            put = getattr(lib, set_name)
            put.restype = None
            put.argtypes = [ctypes.c_int]
            return get, put
    return None


@contextmanager
def one_thread() -> Iterator[None]:
    """Run the block with numpy's BLAS on one thread (restored after; see the module notes).

    A no-op where :func:`routines` found no library or it has no thread control.
    """
    routines()
    h = _THREADS[0] if _THREADS else None
    if h is None:
        yield
        return
    before = int(h[0]())
    if before <= 1:
        yield
        return
    h[1](1)
    try:
        yield
    finally:
        h[1](before)


def _self_test(gemv: Any, ddot: Any) -> bool:
    """Numpy's ``w @ X``, ``X @ c``, ``w @ y`` and ``np.dot`` against the handles, bitwise."""
    from .path_kernels import wmean_blas, xdot_blas, xmat3_blas, xmat3_inline

    rng = np.random.default_rng(12345)
    for n in (1, 2, 3, 4, 5, 7, 8, 17, 100, 225, 1000, 4099, 16384):
        w = rng.random(n)
        w /= w.sum()
        x = rng.standard_normal((n, 3)) * np.exp(rng.uniform(-40.0, 40.0, (n, 3)))
        x[rng.random((n, 3)) < 0.1] = 0.0
        x[rng.random((n, 3)) < 0.1] = -0.0
        c = np.array([1.0, 1.0, 2.0])
        y = rng.standard_normal(n)
        out3 = np.zeros(3)
        wmean_blas(gemv, w, x, out3)
        outn = np.zeros(n)
        xmat3_blas(gemv, x, c, outn)
        ref = x @ c
        inl = np.zeros(n)
        xmat3_inline(x, inl)  # the energy's three-term sums, signed zeros included
        if not (np.array_equal(out3, w @ x) and np.array_equal(outn, ref)
                and np.array_equal(inl.view(np.int64), ref.view(np.int64))
                and xdot_blas(ddot, w, y) == float(w @ y)
                and xdot_blas(ddot, c, out3) == float(np.dot(c, out3))):
            return False
    return True


def routines() -> tuple[Any, Any] | None:
    """The ``(cblas_dgemv, cblas_ddot)`` numpy calls, as ctypes functions, or None.

    See the module notes.

    Returns
    -------
    tuple or None
        The two handles, verified bitwise against numpy on this machine; None where numpy's
        BLAS cannot be found or does not match (then the drivers use their Python loop).
    """
    if _CACHE:
        return _CACHE[0]
    found = None
    if os.environ.get("FEMPLASTIC_NO_NPBLAS", "") in ("", "0"):
        for path in _candidates():
            h = _handles(path)
            if h is not None and _self_test(*h):
                found = h
                break
    _CACHE.append(found)
    return found


def on_one_thread(func: _F) -> _F:
    """Decorator: run ``func`` inside :func:`one_thread`."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with one_thread():
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]

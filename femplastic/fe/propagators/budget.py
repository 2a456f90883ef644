"""Which general operator fits: the dense-response memory budget and the packed response's size.

:func:`dense_choice` is the one rule :func:`~femplastic.fe.propagators.general.make_propagator`
and the run's memory estimate (:mod:`femplastic.weakplane.estimates`) use: the full dense response
while it fits :data:`FULL_DENSE_MAX`, the packed one
(:class:`~femplastic.fe.propagators.general.PackedDensePropagator`) while it fits the budget,
else the sparse solves. It depends on the size and the budget only, never on the free memory.
"""

from __future__ import annotations

import os

from . import packed_kernels as pk

__all__ = ["DENSE_BUDGET", "FULL_DENSE_MAX", "PACKED_TILE", "check_packed_memory",
           "default_dense_budget", "dense_choice", "meminfo", "packed_bytes"]

#: Largest full dense response (bytes, ``72 n^2``) that
#: :func:`~femplastic.fe.propagators.general.make_propagator` builds: 1.25 GiB, i.e. up to
#: 4,096 elements (L = 64). Measured on the 2-core reference machine (``femplastic bench
#: mesh``): at L = 64 the full response runs AQS about 5x and the KMC quench about 10x faster
#: than the sparse solves, after a build of a few seconds. Above it (and within the budget)
#: the packed symmetric response (:class:`~femplastic.fe.propagators.general.PackedDensePropagator`,
#: 4/9 of the memory, 3-4x slower per event than the full one) is used.
FULL_DENSE_MAX = int(1.25 * 2**30)


def meminfo(key: str, default: float) -> float:
    """An entry of ``/proc/meminfo`` in bytes, ``default`` if unknown.

    Parameters
    ----------
    key : str
        The entry, e.g. ``MemTotal`` or ``MemAvailable``.
    default : float
        Returned where the file or the entry is missing (not Linux).

    Returns
    -------
    float
        Bytes.
    """
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return float(line.split()[1]) * 1024.0
    except OSError:  # pragma: no cover - not Linux
        pass
    return default


#: Default memory budget (bytes) of the dense response
#: (:func:`~femplastic.fe.propagators.general.make_propagator`): 45 % of the physical memory,
#: at least :data:`FULL_DENSE_MAX` (10.6 GiB on the 24 GiB reference machine: enough for
#: the packed response of L = 128, 8.1 GiB). Override it with
#: ``make_propagator(dense_budget=...)`` or ``FEMPLASTIC_DENSE_BUDGET`` (bytes; 0 = always
#: sparse).
DENSE_BUDGET = max(FULL_DENSE_MAX, int(0.45 * meminfo("MemTotal", 0.0)))

#: Tile side (elements) of the packed response (:mod:`.packed_kernels`: 44 us per event at
#: n = 4,096 with 256, 56 us with 64; memory overhead ``b / n``).
PACKED_TILE = 256


def packed_bytes(n: int, tile: int = PACKED_TILE) -> int:
    """Memory of the packed dense response of ``n`` elements, bytes.

    The operator of :class:`~femplastic.fe.propagators.general.PackedDensePropagator`.

    Parameters
    ----------
    n : int
        Elements.
    tile : int
        Tile side (default :data:`PACKED_TILE`).

    Returns
    -------
    int
        Bytes, about ``32 n (n + tile)``.
    """
    return 8 * pk.packed_size(n, max(1, min(tile, n)))


def default_dense_budget() -> int:
    """Dense-response memory budget, bytes: ``FEMPLASTIC_DENSE_BUDGET`` or :data:`DENSE_BUDGET`.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        If ``FEMPLASTIC_DENSE_BUDGET`` is set but not an integer >= 0.
    """
    raw = os.environ.get("FEMPLASTIC_DENSE_BUDGET")
    if raw is None or raw.strip() == "":
        return DENSE_BUDGET
    try:
        val = int(float(raw))
    except (ValueError, OverflowError):
        val = -1
    if val < 0:
        raise ValueError(f"FEMPLASTIC_DENSE_BUDGET must be a number of bytes >= 0, got {raw!r}")
    return val


def dense_choice(n: int, budget: int | None = None) -> tuple[str, str]:
    """Which general operator ``make_propagator`` builds for ``n`` elements, and why.

    Parameters
    ----------
    n : int
        Elements.
    budget : int, optional
        Dense-response budget, bytes (default :func:`default_dense_budget`).

    Returns
    -------
    kind, why : str
        ``"full"`` (``72 n^2`` fits the budget and :data:`FULL_DENSE_MAX`), ``"packed"``
        (:func:`packed_bytes` fits the budget) or ``"sparse"``; ``why`` says why not dense
        (empty otherwise). The choice depends on ``n`` and the budget only, never on the memory
        free at the moment, so a run and its resume build the same operator (the packed and
        sparse forms agree to 1e-12, not bitwise): :func:`check_packed_memory` refuses a packed
        response that the memory available now cannot hold.
    """
    budget = default_dense_budget() if budget is None else int(budget)
    if 72 * n * n <= min(budget, FULL_DENSE_MAX):
        return "full", ""
    need = packed_bytes(n)
    if need > budget:
        return "sparse", (f"the packed dense response of {n} elements needs "
                          f"{need / 2**30:.2f} GiB, the dense-response budget is "
                          f"{budget / 2**30:.2f} GiB")
    return "packed", ""


def check_packed_memory(n: int) -> None:
    """Refuse to build a packed response of ``n`` elements that the free memory cannot hold.

    Parameters
    ----------
    n : int
        Elements.

    Raises
    ------
    MemoryError
        If :func:`packed_bytes` plus the build's right-hand sides and sparse factor exceed
        ``MemAvailable``; the message names the two ways out (free memory, or
        ``FEMPLASTIC_DENSE_BUDGET=0`` for the sparse solves).
    """
    need = packed_bytes(n)
    avail = meminfo("MemAvailable", float("inf"))
    extra = 2**27 + 2 * 8192 * n  # right-hand sides and the sparse factor while built
    if need + extra > avail:
        raise MemoryError(
            f"the packed dense response of {n} elements needs {(need + extra) / 2**30:.2f} GiB "
            f"with its build, only {avail / 2**30:.1f} GiB of memory is available now "
            "(MemAvailable); free memory, or set FEMPLASTIC_DENSE_BUDGET=0 (or "
            "make_propagator(dense_budget=0)) for the sparse solves (same physics to 1e-12, "
            "about 10x slower per event at L = 128)")

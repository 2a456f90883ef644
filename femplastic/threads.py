"""How many threads the numba kernels use: ``FEMPLASTIC_THREADS``, ``--threads``, or all cores.

The per-event stress update (:func:`femplastic.fe.propagators.kernels.shifted_add`), the
stability scans and the trigger search (:mod:`femplastic.weakplane.kernels`) run their
threaded forms (the KMC refresh pass too) on grids ``L >= PARALLEL_MIN_L = 1024`` (``n >=
PARALLEL_MIN_N``), on numba's
threads (one thread runs the same code), and serially on smaller grids. Every threaded loop
writes disjoint elements with the serial arithmetic, and reductions are exact (minima) or
done serially in element order, so the results are bit-identical whatever the thread count.

The count is numba's (:func:`numba.set_num_threads`), at most the ``NUMBA_NUM_THREADS`` numba
started with (default: the CPUs). :func:`set_threads` sets it; ``None`` reads
``FEMPLASTIC_THREADS`` from the environment (default: all). In a library session numba's own
default applies (all CPUs) until :func:`set_threads` is called; ``femplastic run`` uses
``--threads``, else ``FEMPLASTIC_THREADS``, else one thread; ensemble workers
(:mod:`femplastic.ensemble.runners`) use ``FEMPLASTIC_THREADS``, else one thread each.
The threshold is high because threads did not pay where measured: on the 2-core development
machine (load ~1.5) ``femplastic bench scale`` found AQS at L = 256 with the threaded forms
on 2 threads 19x slower than on one (each threaded loop's launch costs more than the
~40 us serial update it splits); whether they pay at L >= 1024 on many idle cores is not
measured.
"""

from __future__ import annotations

import os

__all__ = ["ENV", "get_threads", "resolve", "set_threads"]

#: Environment variable giving the default thread count.
ENV = "FEMPLASTIC_THREADS"


def resolve(threads: int | None = None) -> int | None:
    """The thread count asked for: ``threads``, else ``$FEMPLASTIC_THREADS``, else None (all).

    Parameters
    ----------
    threads : int, optional
        An explicit count (>= 1).

    Returns
    -------
    int or None
        The count, or None for numba's default (all CPUs).

    Raises
    ------
    ValueError
        If the count (argument or environment) is not an integer >= 1.
    """
    if threads is None:
        raw = os.environ.get(ENV, "").strip()
        if not raw:
            return None
        try:
            threads = int(raw)
        except ValueError:
            raise ValueError(f"{ENV} must be an integer >= 1, got {raw!r}") from None
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be an integer >= 1, got {threads!r}")
    return threads


def set_threads(threads: int | None = None) -> int:
    """Set the numba thread count (clipped to numba's maximum); returns the count in force.

    Parameters
    ----------
    threads : int, optional
        Threads (>= 1); None: ``$FEMPLASTIC_THREADS``, else all of numba's threads.

    Returns
    -------
    int
        The number of threads the kernels now use.
    """
    import numba

    want = resolve(threads)
    top = numba.config.NUMBA_NUM_THREADS
    numba.set_num_threads(top if want is None else min(want, top))
    return numba.get_num_threads()


def get_threads() -> int:
    """The number of threads the numba kernels use now.

    Returns
    -------
    int
        :func:`numba.get_num_threads`.
    """
    import numba

    return numba.get_num_threads()

"""How many threads the numba kernels use: ``FEMPLASTIC_THREADS``, ``--threads``, or all cores.

The per-event stress update (:func:`femplastic.fe.propagators.kernels.shifted_add`), the
stability scans and the trigger search (:mod:`femplastic.weakplane.kernels`) have threaded
forms (the KMC refresh pass too), selected by a ``par`` flag the drivers pass down: they
ask for them (:func:`parallel_for`) on grids of ``n >= PARALLEL_MIN_ELEMENTS`` elements
(``L >= 256``) when more than one thread is set, and run serially otherwise. Every threaded
loop writes disjoint elements with the serial arithmetic, and reductions are exact (minima) or
done serially in element order, so the results are bit-identical whatever the thread count.

The count is numba's (:func:`numba.set_num_threads`), at most the ``NUMBA_NUM_THREADS`` numba
started with (default: the CPUs). :func:`set_threads` sets it; ``None`` reads
``FEMPLASTIC_THREADS`` from the environment (default: all). In a library session numba's own
default applies (all CPUs) until :func:`set_threads` is called; ``femplastic run`` uses
``--threads``, else ``FEMPLASTIC_THREADS``, else one thread; ensemble workers
(:mod:`femplastic.ensemble.runners`) use ``FEMPLASTIC_THREADS``, else one thread each.
Where the threshold comes from (``femplastic bench scale``, 2-core development machine,
numba's OpenMP layer, threaded forms forced on for the all-threads runs): on an idle machine
whole AQS runs on 2 threads were 1.09-1.43x faster than on one at L = 256 (three runs) but
0.6-1.1x at L = 128 and 0.6-0.8x at L = 32-64, where the serial code between updates (draws,
renewals, bookkeeping) leaves the workers idle longer than the update they split; the
threaded update alone was 1.6x faster at L = 256 (50 -> 31 us). On a loaded machine (load
~1.5) an earlier version ran 19x slower on 2 threads at L = 256: a worker spinning for the
next parallel region steals the core the serial code needs. So ask for threads only where
cores are free; ``femplastic run`` uses one unless told. More cores and larger grids are not
measured.
"""

from __future__ import annotations

import os

__all__ = ["ENV", "PARALLEL_MIN_ELEMENTS", "get_threads", "parallel_for", "resolve",
           "set_threads"]

#: Environment variable giving the default thread count.
ENV = "FEMPLASTIC_THREADS"
#: Smallest number of elements (``L * L``) for which the drivers ask the kernels for their
#: threaded forms (when more than one thread is set); see the module notes for the numbers.
PARALLEL_MIN_ELEMENTS = 256 * 256


def parallel_for(n_elements: int) -> bool:
    """Whether the kernels should run their threaded forms for a model of ``n_elements``.

    The drivers decide once per call and pass the answer to the kernels (a ``par`` flag), so
    the policy lives here, not frozen into compiled code: threaded forms when more than one
    thread is set and ``n_elements >= PARALLEL_MIN_ELEMENTS``. Either way the results are
    bit-identical.

    Parameters
    ----------
    n_elements : int
        Elements of the model (``L * L`` on the periodic grid).

    Returns
    -------
    bool
    """
    return n_elements >= PARALLEL_MIN_ELEMENTS and get_threads() > 1


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

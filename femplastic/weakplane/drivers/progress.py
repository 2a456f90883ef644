"""Progress of the drivers: what a progress callback is told, and the quench's honest estimate.

A driver's ``progress`` callback is called with the fraction done. A callback that also wants
the number of slip events so far (for an events/s rate) sets the attribute
``wants_events = True``; :func:`report` then calls it as ``progress(fraction, n_events)``.

The KMC quench (:func:`femplastic.weakplane.drivers.quench`) does not stop at a known event
count but when its stationarity criterion is met; :class:`StationarityEstimate` turns the
criterion's drift into a fraction: the relative drift ``d_b`` between the last two windows
of block means decays roughly exponentially with the block index ``b`` during
equilibration, so the blocks still needed to reach ``tol`` are extrapolated from the decay
rate of ``log d`` measured so far: ``remaining = log(d_b / tol) / rate``, fraction
``b / (b + remaining)``. Before the criterion can be evaluated (``b < 2 W``) the estimate is
the minimum, ``2 W`` blocks. The event cap bounds the estimate from below (the fraction is
never below ``events / max_events``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

__all__ = ["report", "StationarityEstimate"]


def report(progress: Callable[..., None] | None, fraction: float, n_events: int) -> None:
    """Call ``progress(fraction)``, or ``progress(fraction, n_events)`` if it wants events.

    Parameters
    ----------
    progress : callable or None
        The callback (None: nothing happens).
    fraction : float
        Fraction of the run done, in [0, 1].
    n_events : int
        Slip events so far.
    """
    if progress is None:
        return
    if getattr(progress, "wants_events", False):
        progress(fraction, n_events)
    else:
        progress(fraction)


class StationarityEstimate:
    """Fraction of a quench done, judged against its stationarity criterion.

    Parameters
    ----------
    window : int
        ``W`` of the criterion (blocks per window).
    tol : float
        Relative tolerance of the criterion.
    max_blocks : float
        Blocks allowed by the event cap (``max_events / n_elem``).

    Examples
    --------
    >>> est = StationarityEstimate(window=2, tol=0.01, max_blocks=1000)
    >>> est.update(block=4, drift=0.16)   # first drift: the remaining blocks are unknown
    0.5
    >>> round(est.update(block=6, drift=0.04), 3)   # drift /4 in 2 blocks: 2 more blocks
    0.75
    """

    def __init__(self, window: int, tol: float, max_blocks: float) -> None:
        self.window, self.tol, self.max_blocks = int(window), float(tol), float(max_blocks)
        self._first: tuple[int, float] | None = None
        self.remaining_blocks: float | None = None

    def update(self, block: int, drift: float | None) -> float:
        """The fraction done after ``block`` blocks, given the criterion's current drift.

        Parameters
        ----------
        block : int
            Blocks completed.
        drift : float or None
            The larger relative drift of the two observables (None before ``2 W`` blocks).

        Returns
        -------
        float
            Estimated fraction of the quench done, in [0, 1).
        """
        cap = block / self.max_blocks if self.max_blocks > 0 else 1.0
        if drift is None or not math.isfinite(drift):
            need = 2 * self.window
            self.remaining_blocks = max(need - block, 0)
            return min(max(block / max(need, block + 1) * 0.5, cap), 0.999)
        if drift <= self.tol:
            self.remaining_blocks = 0.0
            return 0.999
        if self._first is None or drift > self._first[1]:
            self._first = (block, drift)
            self.remaining_blocks = None
            return min(max(0.5, cap), 0.999)
        b0, d0 = self._first
        rate = math.log(d0 / drift) / max(block - b0, 1)
        if rate <= 0:
            self.remaining_blocks = None
            return min(max(0.5, cap), 0.999)
        rem = math.log(drift / self.tol) / rate
        rem = min(rem, max(self.max_blocks - block, 0.0))
        self.remaining_blocks = rem
        return min(max(block / (block + rem), cap), 0.999)

"""The avalanche log of the strain-path drivers, and its compiled loops' buffer and stream.

:class:`AvalancheLog` holds one row per avalanche of a driver (cyclic, stress-controlled,
:func:`femplastic.weakplane.avalanches.record`) and, when recorded, every event.
:class:`LoopLog` is where the compiled cyclic and stress loops
(:class:`~femplastic.weakplane.drivers.path.CompiledPath`,
:func:`femplastic.weakplane.drivers.stress.stress_controlled`) write that log and those
events: held in memory, or handed block by block to a sink (the chunk files of
``femplastic run``), and saved in and restored from checkpoints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..bundles import event_record

__all__ = ["LOG_COLUMNS", "AvalancheLog", "LoopLog"]


@dataclass
class AvalancheLog:
    """Per-avalanche records of a driver, and (optionally) every event.

    Attributes
    ----------
    step : (m,) int64 ndarray
        Index of the load step (record row) of each avalanche.
    gamma : (m,) ndarray
        External strain (or, under stress control, the strain at the avalanche's start).
    stress_before : (m,) ndarray
        Resolved external stress before the avalanche, LJ units.
    stress_after : (m,) ndarray
        The same after it.
    size : (m,) int64 ndarray
        Slip events.
    sweeps : (m,) int64 ndarray
        Duration in synchronous sweeps.
    plastic : (m,) ndarray
        Resolved mean plastic strain ``M(alpha) : <d eps_pl>``.
    dissipation : (m,) ndarray
        Energy released per unit area (per unit volume in 3D), LJ units.
    events : dict of (n_events,) ndarrays or None
        ``element, system, theta, tau, amplitude, sweep`` (global sweep index) and
        ``avalanche`` (row of this log) of every event, when recorded; in 3D also
        ``schmid`` (n_events, 6), the Schmid tensor (Voigt, tensor shear components) of the
        system that slipped (``theta`` is then only its normal's polar angle): the event's
        plastic strain increment is ``amplitude * schmid``.
    """

    step: NDArray[np.int64]
    gamma: NDArray[np.float64]
    stress_before: NDArray[np.float64]
    stress_after: NDArray[np.float64]
    size: NDArray[np.int64]
    sweeps: NDArray[np.int64]
    plastic: NDArray[np.float64]
    dissipation: NDArray[np.float64]
    events: dict[str, NDArray] | None = None

    @property
    def drop(self) -> NDArray[np.float64]:
        """External stress drops ``stress_before - stress_after``, (m,)."""
        return self.stress_before - self.stress_after


#: Names of the event columns of a checkpoint (``ev_x``: global sweep, avalanche row).
_EV_KEYS = ("ev_e", "ev_k", "ev_th", "ev_tau", "ev_amp")
#: Columns of the avalanche log (``alog``) rows, in order; the integer ones.
LOG_COLUMNS = ("step", "gamma", "stress_before", "stress_after", "size", "sweeps", "plastic",
               "dissipation")
_LOG_INTS = (0, 4, 5)


class LoopLog:
    """The avalanche log and event record of a compiled cyclic/stress loop, or their stream.

    Without ``sink`` the log (``alog``) and the events grow with the run. With ``sink`` they
    hold at most about ``rows`` avalanches and ``rows`` events: when the loop reports them
    full (``LOG_FULL``, ``RECORD_FULL``) or at the end (:meth:`hand_over`), ``sink(kind,
    block)`` gets the rows held, ``kind = "avalanches"`` (the columns of
    :class:`AvalancheLog`, :data:`LOG_COLUMNS`) or ``"events"`` (its ``events`` columns,
    ``avalanche`` the global row of the log), in order: concatenated, the blocks are the
    arrays of the run held in memory, bit for bit. ``ipos[A0]`` is the avalanche in row 0
    of ``alog`` (the rows before it were handed over); events are handed over whole, so
    ``events[5][0]`` counts those held.

    Parameters
    ----------
    PK : module
        The dimension's compiled loops (:func:`femplastic.weakplane.dimension.path_kernels_of`).
    n_elem : int
        Elements (a sweep records at most that many events).
    record_events : bool
        Keep the events.
    sink : callable, optional
        ``sink(kind, block)``, see above.
    rows : int
        Avalanches (and events) per block handed to ``sink``.
    schmid : bool
        Keep each event's Schmid tensor (``schmid`` (n_events, 6), 3D).
    """

    def __init__(self, PK: Any, n_elem: int, record_events: bool,
                 sink: Callable[[str, dict[str, NDArray]], None] | None = None,
                 rows: int = 65536, schmid: bool = False) -> None:
        self.PK, self.n_elem, self.sink, self.schmid = PK, int(n_elem), sink, bool(schmid)
        self.record_events = bool(record_events)
        self.rows = max(1, int(rows))
        self.alog = np.zeros((self.rows if sink is not None else 64, 8))
        cap = (max(self.rows, n_elem) + n_elem if sink is not None else max(n_elem, 1024)) \
            if record_events else 0
        self.events = event_record(cap, schmid=self.schmid)
        self.ev_x = np.zeros((cap, 2), np.int64)

    def held(self, ipos: NDArray[np.int64]) -> int:
        """Avalanche rows held (``ipos[A0] .. ipos[NAVAL]``)."""
        return int(ipos[self.PK.NAVAL] - ipos[self.PK.A0])

    def log_full(self, ipos: NDArray[np.int64]) -> None:
        """``LOG_FULL``: hand the rows over (with a sink) or grow the log."""
        if self.sink is not None:
            self._hand_log(ipos)
            return
        a = np.zeros((2 * self.alog.shape[0], 8))
        a[:self.alog.shape[0]] = self.alog
        self.alog = a

    def record_full(self) -> None:
        """``RECORD_FULL``: hand the events over (with a sink) or grow the record."""
        if self.sink is not None:
            self._hand_events()
            return
        cap = 2 * self.events[0].shape[0] + self.n_elem
        self.events = event_record(cap, self.events, self.schmid)
        x = np.zeros((cap, 2), np.int64)
        x[:self.ev_x.shape[0]] = self.ev_x
        self.ev_x = x

    def _hand_log(self, ipos: NDArray[np.int64]) -> None:
        k = self.held(ipos)
        if k > 0:
            self.sink("avalanches", self._columns(k))  # type: ignore[misc]
        ipos[self.PK.A0] = ipos[self.PK.NAVAL]

    def _hand_events(self) -> None:
        if self.record_events and int(self.events[5][0]) > 0:
            self.sink("events", self._events())  # type: ignore[misc]
            self.events[5][0] = 0

    def hand_over(self, ipos: NDArray[np.int64]) -> None:
        """Give everything held to the sink (no-op without one): the run's end."""
        if self.sink is not None:
            self._hand_events()
            self._hand_log(ipos)

    def _events(self) -> dict[str, NDArray]:
        m = int(self.events[5][0])
        ev_e, ev_k, ev_th, ev_tau, ev_amp = self.events[:5]
        out = {"element": ev_e[:m].copy(), "system": ev_k[:m].copy(),
               "theta": ev_th[:m].copy(), "tau": ev_tau[:m].copy(),
               "amplitude": ev_amp[:m].copy(), "sweep": self.ev_x[:m, 0].copy(),
               "avalanche": self.ev_x[:m, 1].copy()}
        if self.schmid:
            out["schmid"] = self.events[6][:m].copy()
        return out

    def _columns(self, k: int) -> dict[str, NDArray]:
        a = self.alog[:k]
        return {name: a[:, c].astype(np.int64) if c in _LOG_INTS else a[:, c].copy()
                for c, name in enumerate(LOG_COLUMNS)}

    def avalanches(self, ipos: NDArray[np.int64]) -> AvalancheLog:
        """The rows held as an :class:`AvalancheLog` (events included when recorded)."""
        return AvalancheLog(**self._columns(self.held(ipos)),
                            events=self._events() if self.record_events else None)

    def checkpoint(self, ipos: NDArray[np.int64]) -> tuple[NDArray, dict[str, NDArray]]:
        """The rows and events held (copies): a checkpoint's ``alog`` and events."""
        ne = int(self.events[5][0]) if self.record_events else 0
        ev = {name: a[:ne].copy() for name, a in zip(_EV_KEYS, self.events[:5], strict=True)}
        ev["ev_x"] = self.ev_x[:ne].copy()
        if self.schmid:
            ev["ev_m"] = self.events[6][:ne].copy()
        return self.alog[:self.held(ipos)].copy(), ev

    def restore(self, alog: NDArray, events: dict[str, NDArray] | None) -> None:
        """Hold a checkpoint's rows and events again (:meth:`checkpoint`)."""
        na = alog.shape[0]  # (a stream's capacity stays: the same blocks as without a stop)
        self.alog = np.zeros((max(self.rows, na) if self.sink is not None else
                              max(64, 2 * na), 8))
        self.alog[:na] = alog
        if self.record_events and events is not None:
            ne = events["ev_x"].shape[0]
            while self.events[0].shape[0] < ne + self.n_elem:
                cap = 2 * self.events[0].shape[0] + self.n_elem
                self.events = event_record(cap, self.events, self.schmid)
                self.ev_x = np.zeros((cap, 2), np.int64)
            for dst, key in zip(self.events[:5], _EV_KEYS, strict=True):
                dst[:ne] = events[key]
            if self.schmid:  # (NaN: a checkpoint of a version that did not keep them)
                self.events[6][:ne] = events.get("ev_m", np.nan)
            self.ev_x[:ne] = events["ev_x"]
            self.events[5][0] = ne

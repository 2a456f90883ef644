"""AQS along a piecewise-monotonic strain path: the engine of cyclic and reversed loading.

The rules are those of :func:`femplastic.aqs` (Castellanos et al., sec. 3.4): load in increments
``dgamma`` of ``E = E_0 + gamma M(alpha)``, relax at fixed strain after every increment that
makes a system active, skip exactly (event-driven) the increments that trigger nothing. Here
``gamma`` may go up and down: it follows the turning points of a path, on the lattice
``gamma = k dgamma`` with an *integer* position ``k``.

The loaded stress is always evaluated as ``base + ((k - k_base) dgamma) v`` from the stress
``base`` left by the last avalanche (at position ``k_base``), whatever the loading sense, so
a stretch of path that triggers nothing and returns to its starting position returns to the
*bit-identical* stress: an elastic cycle is exactly reversible. On a single rising leg the
records are those of :func:`femplastic.aqs` bit for bit; after a reversal they agree with a
new :func:`femplastic.aqs` run from the turning state to round-off (aqs restarts its affine
formula at the turning point).

Every avalanche is relaxed one synchronous sweep at a time
(:func:`femplastic.weakplane.drivers.sweeps.relax_sweeps`, the same trajectory as
:func:`femplastic.relax`), which yields its duration, the sweep of each event and its
dissipation, the drop of the elastic energy (:func:`femplastic.weakplane.energy.elastic_energy`)
at fixed strain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ... import threads
from ...fe.elasticity import ddot, schmid
from .. import aqs_kernels as AK
from .. import kernels as K
from ..energy import elastic_energy
from ..state import State
from .sweeps import SweepBuffers, relax_sweeps

__all__ = ["AvalancheLog", "StrainPath"]


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
        Energy released per unit area (LJ units).
    events : dict of (n_events,) ndarrays or None
        ``element, system, theta, tau, amplitude, sweep`` (global sweep index) and
        ``avalanche`` (row of this log) of every event, when recorded.
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


class StrainPath:
    """Event-driven AQS on the integer strain lattice; call :meth:`leg` once per monotonic leg.

    Parameters
    ----------
    state : State
        Copied; the copy is driven (:attr:`state`).
    rng : numpy.random.Generator
    dgamma : float
        Strain increment (> 0).
    alpha : float
        Loading orientation (rad): ``E = E_0 + k dgamma M(alpha)``.
    n_steps : int
        Capacity of the step records (total number of increments of all legs).
    record_events : bool
        Keep every event (element, system, sweep ...) for the avalanche catalogue.

    Attributes
    ----------
    k : int
        Current lattice position (``gamma = k dgamma`` since the start).
    n : int
        Steps recorded.
    pos : (n_steps,) int64 ndarray
        Lattice position of each step.
    stress : (n_steps,) ndarray
        Resolved stress ``M(alpha) : <Sigma>`` after the step's avalanche.
    stress_before : (n_steps,) ndarray
        The same before it.
    size : (n_steps,) int64 ndarray
        Events of the step's avalanche.
    plastic : (n_steps,) ndarray
        Resolved plastic strain of the step's avalanche.
    """

    def __init__(self, state: State, rng: np.random.Generator, dgamma: float, alpha: float,
                 n_steps: int, record_events: bool = False) -> None:
        st = state.copy()
        self.state = st
        self.rng = rng
        self.dgamma = float(dgamma)
        m = st.model
        self.M = schmid(alpha)
        self.v = np.ascontiguousarray(m.propagator.load_response(self.M))
        self.vneg = np.ascontiguousarray(-self.v)
        self.ivm = K.load_rate_bounds(self.v, m.law_arrays[1])  # same for -v
        self.par = threads.parallel_for(st.n_elem)
        self.w = np.ascontiguousarray(m.mesh.areas / m.mesh.areas.sum())
        self.vmean = self.w @ self.v
        self.vbar = float(ddot(self.M, self.vmean))
        self.E0 = st.macro_strain.copy()
        self.base = st.stress.copy()
        self.k_base = 0
        self.k = 0
        self.trial = np.empty_like(self.base)
        self._set_base_stats()
        self.n = 0
        self.pos = np.zeros(n_steps, np.int64)
        self.stress = np.zeros(n_steps)
        self.stress_before = np.zeros(n_steps)
        self.size = np.zeros(n_steps, np.int64)
        self.plastic = np.zeros(n_steps)
        self.buf = SweepBuffers(st.n_elem)
        self.record_events = record_events
        self._aval: list[tuple] = []
        self._ev_aval: list[int] = []

    def _set_base_stats(self) -> None:
        self.base_mean = AK.weighted_mean(self.base, self.w)  # as aqs sums it
        self.base_ext = float(ddot(self.M, self.base_mean))

    def macro(self, k: int) -> NDArray[np.float64]:
        """Imposed mean strain (3,) at lattice position ``k``."""
        return self.E0 + (k * self.dgamma) * self.M

    def current_stress(self) -> NDArray[np.float64]:
        """Set ``state.stress`` (and ``macro_strain``) to the loaded stress at :attr:`k`."""
        K.trial_stress(self.base, self.v, (self.k - self.k_base) * self.dgamma, self.state.stress)
        self.state.macro_strain = self.macro(self.k)
        return self.state.stress

    def _quiet(self, upto: int, sense: int) -> None:
        """Record elastic steps from ``k + sense`` to ``upto`` (inclusive)."""
        cnt = (upto - self.k) * sense
        if cnt <= 0:
            return
        j = self.k + sense * np.arange(1, cnt + 1)
        x = (j - self.k_base) * self.dgamma
        s = self.base_ext + x * self.vbar
        sl = slice(self.n, self.n + cnt)
        self.pos[sl] = j
        self.stress[sl] = s
        self.stress_before[sl] = s
        self.n += cnt
        self.k = upto

    def _active_at(self, j: int) -> bool:
        st = self.state
        K.trial_stress(self.base, self.v, (j - self.k_base) * self.dgamma, self.trial)
        return bool(K.any_active(self.trial, st.nv, st.tauc, self.state.model.law_arrays[1],
                                 st.sref, st.pref, st.margin))

    def leg(self, k_to: int) -> None:
        """Drive from the current position to ``k_to`` (one monotonic leg).

        Parameters
        ----------
        k_to : int
            Target lattice position.
        """
        sense = 1 if k_to > self.k else -1
        st = self.state
        law_f = st.model.law_arrays[1]
        vload = self.v if sense > 0 else self.vneg
        while self.k != k_to:
            cap = (k_to - self.k) * sense
            K.trial_stress(self.base, self.v, (self.k - self.k_base) * self.dgamma, self.trial)
            cur = self.trial.copy()
            m = K.next_trigger(cur, vload, self.dgamma, st.nv, st.tauc, law_f, st.sref,
                               st.pref, st.margin, cap + 1, self.ivm, self.par)
            while m <= cap and not self._active_at(self.k + sense * m):
                m += 1
            while m > 1 and self._active_at(self.k + sense * (m - 1)):
                m -= 1
            if m > cap:
                self._quiet(k_to, sense)
                return
            j = self.k + sense * m
            self._quiet(j - sense, sense)
            self._avalanche(j)

    def _avalanche(self, j: int) -> None:
        st = self.state
        x = (j - self.k_base) * self.dgamma
        K.trial_stress(self.base, self.v, x, st.stress)
        E = self.macro(j)
        st.macro_strain = E
        s_before = self.base_ext + x * self.vbar
        w_before = elastic_energy(st, E, self.w)
        pl_before = self.w @ st.eps_pl
        n0 = self.buf.n_events
        n_ev, _, sweeps = relax_sweeps(st, self.rng, self.buf)
        self.base[:] = st.stress
        self.k_base = j
        self._set_base_stats()
        plast = float(ddot(self.M, self.w @ st.eps_pl - pl_before))
        i = self.n
        self.pos[i] = j
        self.stress_before[i] = s_before
        self.stress[i] = self.base_ext
        self.size[i] = n_ev
        self.plastic[i] = plast
        self.n += 1
        self.k = j
        st.n_events += n_ev
        st.n_avalanches += 1
        diss = w_before - elastic_energy(st, E, self.w)
        self._aval.append((i, j * self.dgamma, s_before, self.base_ext, n_ev, sweeps, plast,
                           diss))
        self._ev_aval.extend([len(self._aval) - 1] * (self.buf.n_events - n0))
        if not self.record_events:  # keep the record small: only counts are needed
            self.buf.events[5][0] = 0
            self.buf.sweep.clear()
            self._ev_aval.clear()

    def avalanches(self) -> AvalancheLog:
        """The avalanche log so far (events included when recorded)."""
        cols = list(zip(*self._aval, strict=True)) if self._aval else [()] * 8
        ints = {0, 4, 5}
        arr = [np.asarray(c, np.int64 if i in ints else float) for i, c in enumerate(cols)]
        events = None
        if self.record_events:
            events = self.buf.arrays()
            events["avalanche"] = np.asarray(self._ev_aval, np.int64)
        return AvalancheLog(*arr, events=events)

    def finish(self) -> State:
        """The driven state at the current position (stress and ``macro_strain`` set)."""
        self.current_stress()
        return self.state

"""Athermal relaxation one synchronous sweep at a time, with the sweep of every event.

:func:`relax_sweeps` performs exactly the relaxation of :func:`femplastic.relax` (same
kernels, same order of random draws, hence the same trajectory for the same generator) but
hands control back after every synchronous sweep. That gives what the fused relaxation does
not report: the duration of an avalanche in sweeps, the sweep of every event (for the
avalanche catalogue, :mod:`femplastic.weakplane.avalanches`), and a hook after each sweep
(the stress-controlled driver adjusts the external strain there,
:mod:`femplastic.weakplane.drivers.stress`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from ... import threads
from .. import kernels as K
from ..bundles import event_record, kernel_state, work_buffers
from ..state import State

__all__ = ["SweepBuffers", "relax_sweeps"]


class SweepBuffers:
    """Work arrays and the event record (with the sweep of each event) of :func:`relax_sweeps`.

    Parameters
    ----------
    n : int
        Number of elements.
    capacity : int
        Initial capacity of the event record (it grows as needed).

    Attributes
    ----------
    work : tuple of ndarray
        The kernels' ``work`` bundle (:data:`femplastic.weakplane.bundles.WORK`).
    events : tuple of ndarray
        The ``events`` bundle (:data:`femplastic.weakplane.bundles.EVENTS`).
    sweep : list of int
        Global sweep index of each recorded event (sweeps counted over the buffers' life).
    n_sweeps : int
        Sweeps performed so far.
    """

    def __init__(self, n: int, capacity: int = 1024) -> None:
        self.n = n
        self.work = work_buffers(n)
        self.events = event_record(max(capacity, n))
        self.sweep: list[int] = []
        self.n_sweeps = 0

    @property
    def n_events(self) -> int:
        """Events recorded so far."""
        return int(self.events[5][0])

    def reserve(self, extra: int) -> None:
        """Make room for ``extra`` more events."""
        need = self.n_events + extra
        if need > self.events[0].shape[0]:
            self.events = event_record(2 * need + 1024, self.events)

    def arrays(self) -> dict[str, NDArray]:
        """The recorded events as arrays of shape (n_events,).

        Returns
        -------
        dict
            ``element, system`` (int64), ``theta`` (rad), ``tau`` (resolved stress at
            activation), ``amplitude``, ``sweep`` (int64).
        """
        m = self.n_events
        ev_e, ev_k, ev_th, ev_tau, ev_amp = self.events[:5]
        return {"element": ev_e[:m].copy(), "system": ev_k[:m].copy(), "theta": ev_th[:m].copy(),
                "tau": ev_tau[:m].copy(), "amplitude": ev_amp[:m].copy(),
                "sweep": np.asarray(self.sweep, np.int64)}


def relax_sweeps(
    state: State,
    rng: np.random.Generator,
    buffers: SweepBuffers,
    after_sweep: Callable[[State, NDArray[np.float64]], None] | None = None,
    max_sweeps: int = 1_000_000,
    gate: threads.Gate | None = None,
) -> tuple[int, NDArray[np.float64], int]:
    """Athermal relaxation of ``state`` in place, recording every event and its sweep.

    Parameters
    ----------
    state : State
        Modified in place.
    rng : numpy.random.Generator
        Source of the amplitudes, renewals (and shuffles of stochastic propagators), drawn in
        the order of :func:`femplastic.relax`.
    buffers : SweepBuffers
        Receives the events; its ``n_sweeps`` counter advances.
    after_sweep : callable, optional
        ``after_sweep(state, deps_sum)`` called after each sweep with the sum (3,) of that
        sweep's plastic strain increments (Voigt); it may change ``state.stress`` (e.g. a
        uniform load adjustment); the next stability scan sees the change.
    max_sweeps : int
        Safety limit (RuntimeError beyond).
    gate : threads.Gate, optional
        The calling loop's free-core gate, read before each sweep; default: a new one.

    Returns
    -------
    n_events : int
    plastic : (3,) ndarray
        Sum of the plastic strain increments (Voigt) of this relaxation.
    n_sweeps : int
        Synchronous sweeps performed (0 when nothing was active).
    """
    m = state.model
    system, law, cache = kernel_state(state)
    law_f = law[1]
    work = buffers.work
    act_e, act_k, deps, amp, taus = work
    form = m.propagator.numba_form()
    if gate is None:  # the free-core gate, looked at again as the sweeps go
        gate = threads.Gate(state.n_elem)
    stochastic = bool(getattr(m.propagator, "stochastic", False))
    total = 0
    plastic = np.zeros(3)
    for sweep in range(max_sweeps):
        buffers.reserve(buffers.n)  # a sweep has at most one event per element
        j0 = buffers.n_events
        if form is not None:
            status, count, pl = K.relax_fused(form, state.stress, system, law, cache, work,
                                              buffers.events, rng, True, 1, False, None,
                                              gate.par)
            if status == 0:
                return total, plastic, sweep
        else:
            count = K.find_active(state.stress, state.nv, state.tauc, law_f, state.sref,
                                  state.pref, state.margin, act_e, act_k)
            if count == 0:
                return total, plastic, sweep
            K.draw_slips(count, state.stress, system, law, work, rng, False)
            ev_e, ev_k, ev_th, ev_tau, ev_amp, ev_n = buffers.events[:6]
            ev_e[j0:j0 + count] = act_e[:count]
            ev_k[j0:j0 + count] = act_k[:count]
            ev_th[j0:j0 + count] = state.theta[act_e[:count], act_k[:count]]
            ev_tau[j0:j0 + count] = taus[:count]
            ev_amp[j0:j0 + count] = amp[:count]
            ev_n[0] = j0 + count
            if stochastic:
                m.propagator.add(state.stress, act_e[:count], deps[:count], rng=rng)
            else:
                m.propagator.add(state.stress, act_e[:count], deps[:count])
            pl = deps[:count].sum(axis=0)
            K.finish_slips(count, system, law, cache, work, rng)
        buffers.sweep.extend([buffers.n_sweeps] * count)
        buffers.n_sweeps += 1
        total += count
        plastic += pl
        if after_sweep is not None:
            after_sweep(state, np.asarray(pl, dtype=float))
    raise RuntimeError(f"relaxation did not stop after {max_sweeps} sweeps")

"""The bundles of arrays the numba relaxation kernels take, and the one place that builds them.

The relaxation kernels (:mod:`femplastic.weakplane.kernels`) need some thirty arrays. They
travel in five bundles, so a driver hands over a handful of named things:

* ``system`` (:data:`SYSTEM`) -- the slip systems and what slips change;
* ``law`` (:data:`LAW`) -- the slip law in numbers
  (:meth:`femplastic.weakplane.slip.SlipLaw.arrays`);
* ``cache`` (:data:`CACHE`) -- the cached stability margins of the scan;
* ``work`` (:data:`WORK`) -- the active systems of a sweep and their increments;
* ``events`` (:data:`EVENTS`) -- every slip event, with its count in ``ev_n[0]``.

A bundle is a plain tuple of arrays in the order its field tuple gives; the kernels unpack it
under those names. Plain tuples, not named tuples: numba types both alike, but dispatches a
plain tuple as fast as bare arrays, while a named tuple costs microseconds per call (measured
4 us per call with five bundles), which the many short relaxations of a quench would pay.
:func:`kernel_state` builds the first three from a
:class:`~femplastic.weakplane.state.State`; the drivers' buffers build the last two with
:func:`work_buffers` and :func:`event_record`. A bundle holds references to the state's
arrays, not copies: the kernels update the state in place through it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:  # pragma: no cover
    from .state import State

__all__ = ["CACHE", "EVENTS", "LAW", "SYSTEM", "WORK", "event_record", "kernel_state",
           "work_buffers"]

#: Fields of ``system``: ``theta, tauc, selfres`` (n, N) orientation (rad), threshold and
#: ``-(K_self : M) : M`` of each system; ``nv`` (n, N, 2) ``(sin 2 theta, cos 2 theta)``;
#: ``Kself`` (n, 3, 3) the model's self response (units of ``G``); ``eps_pl`` (n, 3) plastic
#: strain (Voigt, tensor shear); ``slips`` (n,) int64 slip events per element.
SYSTEM = ("theta", "tauc", "nv", "selfres", "Kself", "eps_pl", "slips")

#: Fields of ``law``: ``law_i`` (6,) int64 ``[orient_kind, thr_kind, thr_shared, renew_thr,
#: renew_angles, amp_kind]``; ``law_f`` (6,) ``[thr_p0, thr_p1, amp_p0, amp_p1, dp_a,
#: dp_p0]``; ``thr_table`` tabulated inverse CDF of the thresholds; ``angles`` (N,) fixed
#: system angles (rad).
LAW = ("law_i", "law_f", "thr_table", "angles")

#: Fields of ``cache``: ``sref`` (n, 2) deviatoric stress ``((s_yy - s_xx) / 2, s_xy)`` and
#: ``pref`` (n,) pressure of the last full check, ``margin`` (n,) lowest distance to
#: threshold there (negative: unknown).
CACHE = ("sref", "pref", "margin")

#: Fields of ``work`` (capacity n): ``act_e, act_k`` int64 active elements and their lowest
#: system; ``deps`` (n, 3) plastic strain increments (Voigt); ``amp, taus`` slip amplitudes
#: and resolved stresses at activation.
WORK = ("act_e", "act_k", "deps", "amp", "taus")

#: Fields of ``events`` (capacity m): ``ev_e, ev_k`` int64 element and system; ``ev_th,
#: ev_tau, ev_amp`` angle (rad), resolved stress and amplitude; ``ev_n`` (1,) int64 events so
#: far (may exceed m: the record is then full); ``ev_m`` (m, 6) the Schmid tensor of the
#: system that slipped in 3D (the event's plastic strain increment is ``ev_amp`` times it;
#: in 3D ``ev_th`` is only the polar angle of the plane normal), (0, 6) in 2D (``ev_th``
#: determines it).
EVENTS = ("ev_e", "ev_k", "ev_th", "ev_tau", "ev_amp", "ev_n", "ev_m")


def kernel_state(state: State) -> tuple[tuple[NDArray, ...], tuple[NDArray, ...],
                                        tuple[NDArray, ...]]:
    """The ``system``, ``law`` and ``cache`` bundles of ``state`` (its arrays, not copies).

    Parameters
    ----------
    state : State
        A weak-plane state; its model gives ``Kself`` and the law.

    Returns
    -------
    system : tuple of ndarray
        Fields :data:`SYSTEM`.
    law : tuple of ndarray
        Fields :data:`LAW`.
    cache : tuple of ndarray
        Fields :data:`CACHE`.
    """
    m = state.model
    system = (state.theta, state.tauc, state.nv, state.selfres, m.Kself, state.eps_pl,
              state.slips)
    return system, m.law_arrays, (state.sref, state.pref, state.margin)


def work_buffers(n: int, components: int = 3) -> tuple[NDArray, ...]:
    """A fresh ``work`` bundle (fields :data:`WORK`) for ``n`` elements.

    Parameters
    ----------
    n : int
        Number of elements (the most systems one sweep can activate).
    components : int
        Voigt components of a strain increment: 3 (2D, default) or 6 (3D).

    Returns
    -------
    tuple of ndarray
        Zero arrays ``act_e, act_k`` (n,) int64, ``deps`` (n, components), ``amp, taus`` (n,).
    """
    return (np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros((n, components)),
            np.zeros(n), np.zeros(n))


def event_record(capacity: int, old: tuple[NDArray, ...] | None = None,
                 schmid: bool = False) -> tuple[NDArray, ...]:
    """An ``events`` bundle (fields :data:`EVENTS`) of ``capacity``, keeping ``old``'s events.

    Parameters
    ----------
    capacity : int
        Number of events the record holds.
    old : tuple of ndarray, optional
        A record to copy: its events (up to its count, at most ``capacity``) and its count.
    schmid : bool
        Whether ``ev_m`` holds the events' Schmid tensors (3D) or is empty (2D).

    Returns
    -------
    tuple of ndarray
        ``ev_e, ev_k`` (capacity,) int64, ``ev_th, ev_tau, ev_amp`` (capacity,), ``ev_n``
        (1,) int64, ``ev_m`` (capacity, 6) if ``schmid`` else (0, 6).
    """
    new = (np.zeros(capacity, np.int64), np.zeros(capacity, np.int64), np.zeros(capacity),
           np.zeros(capacity), np.zeros(capacity), np.zeros(1, np.int64),
           np.zeros((capacity if schmid else 0, 6)))
    if old is not None:
        m = min(int(old[5][0]), capacity)
        for dst, src in zip(new[:5], old[:5], strict=True):
            dst[:m] = src[:m]
        new[5][0] = old[5][0]
        if schmid and old[6].shape[0]:
            new[6][:m] = old[6][:m]
    return new

"""The named bundles of arrays the numba kernels take, and the one place that assembles them.

The relaxation kernels (:mod:`femplastic.weakplane.kernels`) need some thirty arrays. They
travel in five named tuples (numba types a ``namedtuple`` of arrays as a tuple whose fields
it reads by name, at no cost), so a driver hands over a handful of named things:

* :class:`SystemArrays` -- the slip systems and what slips change: ``theta, tauc, nv,
  selfres`` of the state, the model's ``Kself``, the state's ``eps_pl`` and ``slips``;
* :class:`LawArrays` -- the slip law in numbers (:meth:`femplastic.weakplane.slip.SlipLaw.arrays`);
* :class:`StabilityCache` -- the cached stability margins of the scan (``sref, pref, margin``);
* :class:`WorkBuffers` -- the active systems and their increments, sized once per state;
* :class:`EventRecord` -- every slip event, with its count in ``n[0]``.

:func:`kernel_state` builds the first three from a :class:`~femplastic.weakplane.state.State`;
the drivers' buffers build the last two. A bundle holds references to the state's arrays, not
copies: the kernels update the state in place through it. Build it afresh when an array is
replaced (the bundles are cheap tuples).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:  # pragma: no cover
    from .state import State

__all__ = ["EventRecord", "LawArrays", "StabilityCache", "SystemArrays", "WorkBuffers",
           "kernel_state"]


class SystemArrays(NamedTuple):
    """Slip systems of every element and the plastic state slips change.

    Attributes
    ----------
    theta, tauc, selfres : (n, N) float64 ndarray
        Orientation (rad), threshold and ``-(K_self : M) : M`` of each system.
    nv : (n, N, 2) float64 ndarray
        ``(sin 2 theta, cos 2 theta)`` of each system.
    Kself : (n, 3, 3) float64 ndarray
        Self response of each element (the model's, units of ``G``).
    eps_pl : (n, 3) float64 ndarray
        Plastic strain, Voigt, tensor shear.
    slips : (n,) int64 ndarray
        Slip events per element.
    """

    theta: NDArray[np.float64]
    tauc: NDArray[np.float64]
    nv: NDArray[np.float64]
    selfres: NDArray[np.float64]
    Kself: NDArray[np.float64]
    eps_pl: NDArray[np.float64]
    slips: NDArray[np.int64]


class LawArrays(NamedTuple):
    """A slip law in numbers (layout in :mod:`femplastic.weakplane.kernels`).

    Attributes
    ----------
    law_i : (6,) int64 ndarray
        ``[orient_kind, thr_kind, thr_shared, renew_thr, renew_angles, amp_kind]``.
    law_f : (6,) float64 ndarray
        ``[thr_p0, thr_p1, amp_p0, amp_p1, dp_a, dp_p0]``.
    thr_table : (m,) float64 ndarray
        Tabulated inverse CDF of the thresholds (empty unless tabulated).
    angles : (N,) float64 ndarray
        Fixed system angles (rad; empty unless fixed).
    """

    law_i: NDArray[np.int64]
    law_f: NDArray[np.float64]
    thr_table: NDArray[np.float64]
    angles: NDArray[np.float64]


class StabilityCache(NamedTuple):
    """Cache of the stability scan (:func:`femplastic.weakplane.kernels.find_active`).

    Attributes
    ----------
    sref : (n, 2) float64 ndarray
        Reference deviatoric stress ``((s_yy - s_xx) / 2, s_xy)`` of the last full check.
    pref : (n,) float64 ndarray
        Reference pressure.
    margin : (n,) float64 ndarray
        Lowest distance to threshold at the reference (negative: unknown).
    """

    sref: NDArray[np.float64]
    pref: NDArray[np.float64]
    margin: NDArray[np.float64]


class WorkBuffers(NamedTuple):
    """Work arrays of one synchronous sweep (capacity ``n``, the number of elements).

    Attributes
    ----------
    act_e, act_k : (n,) int64 ndarray
        Active elements and their lowest system.
    deps : (n, 3) float64 ndarray
        Plastic strain increments, Voigt.
    amp, taus : (n,) float64 ndarray
        Slip amplitudes and resolved stresses at activation.
    """

    act_e: NDArray[np.int64]
    act_k: NDArray[np.int64]
    deps: NDArray[np.float64]
    amp: NDArray[np.float64]
    taus: NDArray[np.float64]


class EventRecord(NamedTuple):
    """Every slip event (capacity ``element.shape[0]``; ``n[0]`` events written or due).

    Attributes
    ----------
    element, system : (capacity,) int64 ndarray
    theta, tau, amplitude : (capacity,) float64 ndarray
        Angle (rad), resolved stress at activation and slip amplitude.
    n : (1,) int64 ndarray
        Number of events so far (may exceed the capacity: the buffer is then full).
    """

    element: NDArray[np.int64]
    system: NDArray[np.int64]
    theta: NDArray[np.float64]
    tau: NDArray[np.float64]
    amplitude: NDArray[np.float64]
    n: NDArray[np.int64]


def kernel_state(state: State) -> tuple[SystemArrays, LawArrays, StabilityCache]:
    """The system, law and cache bundles of ``state`` (views of its arrays, not copies).

    Parameters
    ----------
    state : State
        A weak-plane state; its model gives ``Kself`` and the law.

    Returns
    -------
    system : SystemArrays
    law : LawArrays
    cache : StabilityCache
    """
    m = state.model
    system = SystemArrays(state.theta, state.tauc, state.nv, state.selfres, m.Kself,
                          state.eps_pl, state.slips)
    return system, m.law.arrays(), StabilityCache(state.sref, state.pref, state.margin)

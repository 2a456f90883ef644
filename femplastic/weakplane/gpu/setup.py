"""Static configuration and constant arrays of the accelerated backend, from a numba model.

:func:`build_setup` translates a :class:`~femplastic.weakplane.state.Model` (periodic kernel,
slip law) into what the device loop (:mod:`femplastic.weakplane.gpu.loop`) takes: a hashable
:class:`LoopConfig` (shapes and the law's kinds: compiled into the loop) and plain float64
arrays (the law's parameters, the interaction kernel in real space and its Fourier symbol).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from ...fe.propagators import PeriodicKernel
from ..state import Model

__all__ = ["LoopConfig", "Constants", "build_setup", "renewal_draws", "check_model"]


class LoopConfig(NamedTuple):
    """Hashable static configuration of the device loop (one compilation per value).

    Attributes
    ----------
    L, N : int
        Grid side and slip systems per element (``n = L * L`` elements).
    orient_kind, thr_kind, amp_kind : int
        Kinds of the slip law (:mod:`femplastic.weakplane.kernels`): orientations 0 random
        groups of four / 1 fixed table; thresholds 0 Weibull / 1 constant / 2 table;
        amplitudes 0 bounded power law / 1 fixed / 2 exponential.
    shared, renew_thr, renew_ang : bool
        One threshold per element; thresholds renewed after a slip; angles renewed.
    n_ang, n_thr : int
        Uniforms one renewal consumes for the angles and for the thresholds.
    pressure : bool
        Pressure-dependent thresholds (``a != 0``, model B).
    n_check : int
        Elements whose systems one sweep scans in compacted form (more: a full scan).
    n_renew : int
        Elements renewed per loop iteration (more: the renewal continues next iteration).
    n_direct : int
        Slips applied by direct kernel adds (more: one batched FFT).
    blocked : bool
        The blocked form of the loop (the CPU's): stability checks, slips and their renewals
        and the trigger's exact solves in compacted blocks of ``n_check`` / ``n_renew``
        elements, as many blocks as needed inside the iteration (nested loops, nearly free
        on the CPU), so a sweep costs what its active elements cost; the trigger from
        cached lower bounds, as the numba driver's. Else the flat form (accelerators: no
        nested loop inside a sweep, whose every test would be a host synchronisation).
        Same trajectory either way.
    n_records : int
        Avalanche records per chunk.
    n_ev : int
        Event records per chunk (0: events not recorded).
    n_unif : int
        Length of the device buffer of uniforms (>= what one sweep can consume).
    """

    L: int
    N: int
    orient_kind: int
    thr_kind: int
    amp_kind: int
    shared: bool
    renew_thr: bool
    renew_ang: bool
    n_ang: int
    n_thr: int
    pressure: bool
    n_check: int
    n_renew: int
    n_direct: int
    blocked: bool
    n_records: int
    n_ev: int
    n_unif: int

    @property
    def n_elem(self) -> int:
        """Number of elements."""
        return self.L * self.L

    @property
    def n_draws(self) -> int:
        """Uniforms one renewal consumes."""
        return self.n_ang + self.n_thr


@dataclass(frozen=True)
class Constants:
    """Constant float64 arrays of a run (moved to the device by the driver).

    Attributes
    ----------
    law_f : (6,) ndarray
        ``[thr_p0, thr_p1, amp_p0, amp_p1, dp_a, dp_p0]`` (:meth:`SlipLaw.arrays`).
    thr_table : (m,) ndarray
        Tabulated inverse CDF of the thresholds (threshold kind 2; else unused).
    angles : (N,) ndarray
        Fixed angles (orientation kind 1; else unused), radians.
    kself : (3, 3) ndarray
        Self response ``G[0]`` (the same in every element), units of ``G``.
    kernel2 : (2L, 2L, 3, 2) ndarray
        Real-space kernel responses to the traceless inputs ``u = (d0 - d1) / 2`` and ``d2``
        (last axis), periodically doubled in both directions so that every shifted copy is
        one contiguous slice; ``[ry, rx, a, c]``, units of ``G``.
    symbol2 : (L, L // 2 + 1, 3, 2) complex ndarray
        ``rfft2`` of the same kernel (the batched FFT update).
    """

    law_f: NDArray[np.float64]
    thr_table: NDArray[np.float64]
    angles: NDArray[np.float64]
    kself: NDArray[np.float64]
    kernel2: NDArray[np.float64]
    symbol2: NDArray[np.complex128]


def check_model(model: Model) -> PeriodicKernel:
    """The model's periodic kernel; a clear error for models the backend cannot run.

    Parameters
    ----------
    model : Model

    Returns
    -------
    PeriodicKernel

    Raises
    ------
    ValueError
        If the propagator is not the exact periodic kernel of the regular grid (variants A, D,
        G, I, custom meshes, user propagators run on the numba path only).
    """
    prop = model.propagator
    if type(prop) is not PeriodicKernel:
        raise ValueError(
            "the accelerated backend runs the regular periodic grid with the exact periodic "
            f"kernel (PeriodicKernel) only; this model (variant {model.params.variant}) uses "
            f"{type(prop).__name__}: use backend='numba'")
    if getattr(model.law, "per_element", None) is not None:
        raise ValueError(f"element_size={model.params.element_size!r}: per-element slip laws "
                         "run on the numba path only: use backend='numba'")
    return prop


def renewal_draws(model: Model) -> tuple[int, int]:
    """Uniforms the numba renewal (:func:`~femplastic.weakplane.kernels.renew_element`) draws.

    Parameters
    ----------
    model : Model

    Returns
    -------
    (n_ang, n_thr) : tuple of int
        ``N // 4`` for renewed random groups (else 0); ``1`` for a renewed shared threshold,
        ``N`` for renewed per-system thresholds (else 0).
    """
    law_i = model.law.arrays()[0]
    N = model.law.N
    n_ang = N // 4 if (law_i[4] and law_i[0] == 0) else 0
    n_thr = (1 if law_i[2] else N) if law_i[3] else 0
    return n_ang, n_thr


def _mirror_symmetric(G: NDArray[np.float64], L: int) -> NDArray[np.float64]:
    """``G`` with the rows ``-ry`` rebuilt from ``ry`` by the mirror symmetry (as folded)."""
    G4 = np.array(G, dtype=float).reshape(L, L, 3, 3)
    s = np.array([1.0, 1.0, -1.0])
    S = s[:, None] * s[None, :]
    for ry in range(1, (L + 1) // 2):
        G4[L - ry] = G4[ry] * S
    return G4


def build_setup(model: Model, record_events: bool, n_records: int = 8192,
                n_events: int = 1 << 18, n_check: int = 4096, n_renew: int = 4096,
                n_direct: int = 8, blocked: bool = False) -> tuple[LoopConfig, Constants]:
    """Static configuration and constants of the device loop for ``model``.

    Parameters
    ----------
    model : Model
        Regular periodic grid with the :class:`PeriodicKernel` (:func:`check_model`).
    record_events : bool
        Keep an event buffer of ``n_events`` entries per chunk.
    n_records, n_events : int
        Avalanche and event records per chunk (the device buffers; the host streams them).
    n_check, n_renew, n_direct : int
        Compaction sizes (capped at ``n``), see :class:`LoopConfig`.
    blocked : bool
        The blocked form of the loop (:class:`LoopConfig`).

    Returns
    -------
    (LoopConfig, Constants)

    Raises
    ------
    ValueError
        As :func:`check_model`; or a sizing argument < 1.
    """
    prop = check_model(model)
    for name, val in (("n_records", n_records), ("n_events", n_events), ("n_check", n_check),
                      ("n_renew", n_renew), ("n_direct", n_direct)):
        if int(val) < 1:
            raise ValueError(f"{name} must be >= 1, got {val!r}")
    L = prop.L
    n = L * L
    law = model.law
    law_i, law_f, table, angles = law.arrays()
    n_ang, n_thr = renewal_draws(model)
    R = n_ang + n_thr
    cfg = LoopConfig(
        L=L, N=law.N, orient_kind=int(law_i[0]), thr_kind=int(law_i[1]),
        amp_kind=int(law_i[5]), shared=bool(law_i[2]), renew_thr=bool(law_i[3]),
        renew_ang=bool(law_i[4]), n_ang=n_ang, n_thr=n_thr, pressure=bool(law_f[4] != 0.0),
        n_check=min(int(n_check), n), n_renew=min(int(n_renew), n),
        n_direct=min(int(n_direct), n), blocked=bool(blocked), n_records=int(n_records),
        n_ev=max(int(n_events), n) if record_events else 0,
        n_unif=max(2 * n * (1 + R), 1 << 16))
    G4 = _mirror_symmetric(prop.G, L)
    planes = np.stack([G4[..., 0] - G4[..., 1], G4[..., 2]], axis=-1)  # (L, L, 3, 2)
    kernel2 = np.tile(planes, (2, 2, 1, 1))
    symbol2 = np.fft.rfft2(planes, axes=(0, 1))
    kself = np.array(model.Kself[0], dtype=float)
    if not np.allclose(model.Kself, kself[None], rtol=0.0, atol=0.0):
        raise ValueError("the accelerated backend needs the same self response in every element")
    consts = Constants(law_f=np.asarray(law_f, float), thr_table=np.asarray(table, float).ravel()
                       if np.size(table) else np.zeros(2),
                       angles=np.asarray(angles, float).ravel() if np.size(angles)
                       else np.zeros(law.N),
                       kself=kself, kernel2=np.ascontiguousarray(kernel2),
                       symbol2=np.ascontiguousarray(symbol2))
    return cfg, consts

"""Elastic energy of a weak-plane state, and the dissipation of slips.

The model is linear: ``Sigma = Sigma0 + R E + G eps_pl`` with ``R`` the load response and
``G`` the propagator (both derived from one quadratic FE energy ``W(eps_pl_tot, E)`` whose
gradients are ``dW/dE = A <Sigma>`` and ``dW/d eps_pl_e = -A_e Sigma_e``). Integrating these
gradients along the straight path from the reference state (the end of the quench: ``E = 0``,
``eps_pl = 0``, stress ``Sigma0``) gives, per unit area,

``w = E : <(Sigma0 + Sigma) / 2> - <eps_pl : (Sigma0 + Sigma) / 2>``

(``<.>`` the area-weighted element mean, ``:`` the tensor double contraction). It is exact for
every propagator that derives from an FE energy (periodic kernel, sparse and dense general
paths, heterogeneous moduli); the randomised kernels of models D, G and I are not symmetric
and have no energy. The constant energy stored by the quench is not included (``w = 0`` at the
reference state).

At fixed ``E`` the energy released by a sweep of simultaneous slips is, exactly (the energy is
quadratic), ``sum_i w_i (Sigma_i^before + Sigma_i^after) / 2 : deps_i``; for a single slip of
amplitude ``g`` on a system with resolved stress ``tau`` it reduces to the seed's
``w_e g (tau - g selfres / 2)`` (:func:`slip_dissipation`), non-negative below the bound
``gmax = 2 tau / selfres``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..fe.elasticity import VOIGT_WEIGHTS
from ..fe.elasticity3d import VOIGT_WEIGHTS_3D

if TYPE_CHECKING:  # pragma: no cover
    from .state import State

__all__ = ["elastic_energy", "slip_dissipation"]


def elastic_energy(state: State, macro_strain: ArrayLike | None = None,
                   weights: NDArray[np.float64] | None = None) -> float:
    """Elastic energy per unit area relative to the end of the quench (see the module notes).

    Parameters
    ----------
    state : State
        Its ``stress``, ``prestress`` and ``eps_pl`` (n_elem, C) and ``macro_strain`` (C,),
        ``C = 3`` in 2D, 6 in 3D (per unit volume then).
    macro_strain : (3,) array_like, optional
        The imposed mean strain ``E`` to use instead of ``state.macro_strain`` (drivers that
        update ``macro_strain`` only at the end of a run pass the current one).
    weights : (n_elem,) ndarray, optional
        Element area fractions ``A_e / A`` (computed from the mesh when omitted; drivers
        pass them to avoid recomputing the mesh geometry).

    Returns
    -------
    float
        ``w`` in LJ energy per unit area (units of ``G``).

    Examples
    --------
    A homogeneous elastic shear ``E = gamma M(0)`` of an unstressed state stores
    ``G gamma^2 / 2`` per unit area:

    >>> import numpy as np, femplastic as fp
    >>> from femplastic.fe.elasticity import schmid
    >>> p = fp.ModelParams(L=4, N=4, T=0.0)
    >>> st = fp.State.fresh(fp.build_model(p), np.random.default_rng(0))
    >>> E = 0.01 * schmid(0.0)
    >>> st.stress[:] = st.model.propagator.load_response(E)
    >>> round(elastic_energy(st, E) / (p.G * 0.01 ** 2 / 2), 12)
    1.0
    """
    E = state.macro_strain if macro_strain is None else np.asarray(macro_strain, dtype=float)
    if weights is None:
        areas = state.model.mesh.areas
        weights = areas / areas.sum()
    w = weights
    vw = VOIGT_WEIGHTS if state.stress.shape[1] == 3 else VOIGT_WEIGHTS_3D  # 3D: 6 components
    half = 0.5 * (state.prestress + state.stress)
    mean_half = w @ half
    ext = float(np.dot(E * vw, mean_half))
    internal = float(w @ ((state.eps_pl * half) @ vw))
    return ext - internal


def slip_dissipation(tau: ArrayLike, amplitude: ArrayLike, selfres: ArrayLike,
                     weight: ArrayLike) -> NDArray[np.float64]:
    """Energy released by isolated slips, ``weight g (tau - g selfres / 2)`` (Castellanos, eq. 6).

    Parameters
    ----------
    tau, amplitude, selfres, weight : (k,) array_like
        Resolved shear stress at activation (units of ``G``), slip amplitude ``g``, the
        system's ``-(C:(S - I):M):M`` (units of ``G``) and the element's area fraction.

    Returns
    -------
    (k,) ndarray
        Dissipation per unit area of each slip, exact for a slip alone in its sweep.
    """
    tau, g, s, wt = (np.asarray(a, dtype=float) for a in (tau, amplitude, selfres, weight))
    return wt * g * (tau - 0.5 * g * s)

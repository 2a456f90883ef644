"""The glass's pair forces computed by numba and handed to LAMMPS through ``fix external``.

LAMMPS keeps everything else (the minimiser, the MD integrators, the box, ``fix setforce``);
only the pair interaction is replaced. The energy is the same closed form as
``pair_style lepton`` evaluates (:func:`femplastic.atomistic.potential.lepton_commands`), the
forces its exact derivative (:mod:`femplastic.atomistic.pair_kernels`): the two engines agree
to round-off (tested), this one is ~10-30x cheaper per force call because ``pair lepton``
re-parses and JIT-compiles its expressions at every call.

A half Verlet list with a skin is rebuilt when an atom has moved more than half the skin or
the cell changed, as LAMMPS's own ``neighbor ... check yes`` does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import pair_kernels as pk
from .potential import LJ2D

__all__ = ["ExternalPair", "FIX_ID"]

#: The ID of the ``fix external`` that carries the forces.
FIX_ID = "femplastic_pair"


def parameters(pot: LJ2D) -> NDArray[np.float64]:
    """``(2, 2, 8)`` table of :mod:`~femplastic.atomistic.pair_kernels`."""
    par = np.empty((2, 2, 8))
    for a in range(2):
        for b in range(2):
            s, e = pot.sigma[a][b], pot.epsilon[a][b]
            ri, ro = pot.r_in * s, pot.r_out * s
            A, B, C = pot.coefficients(a, b)
            par[a, b] = (4 * e * s**12, 4 * e * s**6, ri * ri, ro, ro * ro, A, B, C)
    return par


class ExternalPair:
    """Pair forces of one LAMMPS instance through ``fix external`` (module docstring).

    Parameters
    ----------
    lmp : lammps.lammps
        An instance whose atoms exist (IDs ``1..n``).
    types : (n,) int
        Species by ID, 1 = S, 2 = L.
    pot : LJ2D
        Must use the polynomial smoothing.
    skin : float
        Verlet skin.
    """

    def __init__(self, lmp: Any, types: NDArray[np.int_], pot: LJ2D, skin: float = 0.3) -> None:
        if pot.smoothing != "polynomial":
            raise ValueError("ExternalPair evaluates the paper's polynomial only")
        self.lmp = lmp
        self.t = np.ascontiguousarray(np.asarray(types) - 1, dtype=np.int64)
        self.par = parameters(pot)
        self.rc = pot.max_cutoff
        self.skin = skin
        self.rlist = np.array([[pot.cutoff(a, b) + skin for b in range(2)] for a in range(2)])
        n = len(self.t)
        self.n = n
        self._ids = np.arange(1, n + 1)
        self._x = np.zeros((n, 2))
        self._x0 = np.full((n, 2), np.inf)
        self._box0 = np.zeros(3)
        self._f = np.zeros((n, 2))
        self._w = np.zeros(3)
        self.pi = np.zeros(0, np.int64)
        self.pj = np.zeros(0, np.int64)
        self.sx = np.zeros(0)
        self.sy = np.zeros(0)
        self.builds = 0
        self.calls = 0
        self._half = 0.5 * skin
        #: An exception raised inside the LAMMPS callback (ctypes would swallow it); the
        #: Session re-raises it after the LAMMPS command.
        self.error: BaseException | None = None
        lmp.commands_list([f"fix {FIX_ID} all external pf/callback 1 1",
                           f"fix_modify {FIX_ID} energy yes virial yes"])
        lmp.set_fix_external_callback(FIX_ID, self._callback)

    def box(self) -> NDArray[np.float64]:
        """Current ``(Lx, Ly, xy)`` of the LAMMPS cell."""
        lo, hi, xy, _, _, _, _ = self.lmp.extract_box()
        return np.array([hi[0] - lo[0], hi[1] - lo[1], xy])

    def _update_list(self, x: NDArray[np.float64], box: NDArray[np.float64]) -> None:
        if np.array_equal(box, self._box0) and pk.max_disp2(x, self._x0) <= self._half ** 2:
            return
        # minimum images are unique and exact for pairs closer than min(Lx, Ly) / 2
        width = 0.5 * min(box[0], box[1])
        if self.rc >= width:
            raise ValueError(f"cell {tuple(box)}: the cutoff {self.rc:.3f} must be shorter than "
                             f"half the cell side {width:.3f}")
        skin = min(self.skin, 0.999 * (width - self.rc))   # a smaller skin in small cells
        self._half = 0.5 * skin
        self.pi, self.pj, self.sx, self.sy = pk.build_pairs(x, self.t, box,
                                                            self.rlist - self.skin + skin)
        self._x0 = x.copy()
        self._box0 = box.copy()
        self.builds += 1

    def _callback(self, caller: Any, step: int, nlocal: int, tag: Any, x: Any, f: Any) -> None:
        try:
            self._forces_into(nlocal, tag, x, f)
        except BaseException as exc:  # noqa: BLE001 - re-raised by check() after the command
            if self.error is None:
                self.error = exc
            f[:] = np.nan   # the run cannot go on with stale forces
            self.lmp.fix_external_set_energy_global(FIX_ID, float("nan"))

    def check(self) -> None:
        """Re-raise an exception from the callback (and forget it)."""
        if self.error is not None:
            exc, self.error = self.error, None
            if isinstance(exc, KeyboardInterrupt):
                # Ctrl-C inside the callback (outside interrupt.deferred) stays a Ctrl-C
                raise KeyboardInterrupt from exc
            raise RuntimeError(f"the pair-force callback failed: {exc}") from exc

    def _forces_into(self, nlocal: int, tag: Any, x: Any, f: Any) -> None:
        if nlocal != self.n:
            raise RuntimeError("fix external: the number of atoms changed")
        box = self.box()
        if np.array_equal(tag, self._ids):
            self._x[:] = x[:, :2]
            e = self.evaluate(self._x, box)
            f[:, :2] = self._f
        else:
            order = np.asarray(tag, dtype=np.int64) - 1
            self._x[order] = x[:, :2]
            e = self.evaluate(self._x, box)
            f[:, :2] = self._f[order]
        f[:, 2] = 0.0
        w = self._w
        self.lmp.fix_external_set_energy_global(FIX_ID, e)
        self.lmp.fix_external_set_virial_global(FIX_ID, [w[0], w[1], 0.0, w[2], 0.0, 0.0])
        self.calls += 1

    def evaluate(self, x: NDArray[np.float64], box: NDArray[np.float64]) -> float:
        """Energy of ``x (n, 2)`` (ID order); forces in ``self._f``, virial in ``self._w``."""
        self._update_list(x, box)
        return pk.forces(x, self.t, self.pi, self.pj, self.sx, self.sy, self.par, self._f,
                         self._w)

    def atom_stress(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """``(n, 3)`` per-atom ``-W`` (LAMMPS ``stress/atom`` convention) of ``x`` (ID order)."""
        box = self.box()
        self._update_list(x, box)
        return -pk.atom_virial(x, self.t, self.pi, self.pj, self.sx, self.sy, self.par)

"""The 2D binary Lennard-Jones glass of Castellanos et al. sec. 2 (refs [45, 4] there).

Lancon-type parameters (Falk & Langer, PRE 57, 7192 (1998); Patinet et al. PRL 117, 045501
(2016); Barbot et al. PRE 97, 033001 (2018)), in units of ``sigma_SL`` and ``epsilon_SL``::

    sigma_SS = 2 sin(pi/10) ~ 0.618,  sigma_LL = 2 sin(pi/5) ~ 1.176,  sigma_SL = 1
    eps_SS = eps_LL = 1/2,            eps_SL = 1

all masses 1, composition ``N_L / N_S = (1 + sqrt 5) / 4`` (Castellanos et al. print
``N_L / N``, a misprint: 81 % large atoms at density 1.02 give a glass pressure ~50 against
the paper's 1.95; with ``N_L / N_S`` the ESL glasses here have 0.7-1.0, rapid quenches 1.7-1.9,
and the 1,000-atom reference's elastic slope is 13.25 against the paper's G = 13.2).

The pair energy of species ``a, b`` (``s = sigma_ab``, ``e = epsilon_ab``) is

* ``phi(r) = 4 e [(s/r)^12 - (s/r)^6]`` for ``r <= R_in = 2 s``,
* ``P(r) = t^3 (A + B t + C t^2)``, ``t = R_out - r``, for ``R_in < r < R_out = 2.5 s``,
* ``0`` beyond.

The factor ``t^3`` makes ``P``, ``P'`` and ``P''`` vanish at ``R_out`` exactly; ``A, B, C``
solve the 3 x 3 linear system ``P = phi``, ``P' = phi'``, ``P'' = phi''`` at ``R_in`` (so the
energy is C2 everywhere). LAMMPS evaluates it with ``pair_style lepton`` from the same closed
expression, differentiated symbolically: the forces are exactly minus the gradient of this
energy (unlike ``lj/smooth``, whose energy is not the integral of its force).

``pair_style lepton`` re-parses and JIT-compiles its expressions at every force call: ~2.4 ms
per call (4 ms with the energy) whatever the number of atoms (measured here at 250 to 4,000
atoms; a simpler or Horner-form expression, or definitions after ``;``, made it slower, and
``lj/cut`` up to ``R_in`` overlaid with a lepton tail saved only ~1.5x). The default engine
(``engine="auto"``) therefore evaluates the same closed form in numba and hands forces, energy
and virial to LAMMPS through ``fix external`` (:mod:`femplastic.atomistic.external`): equal to
lepton and to :func:`energy_forces` to 1e-10, ~0.1 ms per call at 1,000 atoms.
``smoothing="taper"`` is another alternative: LAMMPS's
``lj/mdf``, ``phi(r) tau(x)`` on ``[R_in, R_out]`` with ``tau = (1-x)^3 (1 + 3x + 6x^2)``,
``x = (r - R_in) / (R_out - R_in)``: also C2, zero with two derivatives at ``R_out``, forces
its exact derivative, but a multiplicative taper, not the paper's replacing polynomial.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["LJ2D", "PAPER", "pair_energy", "pair_dforce", "energy_forces", "lepton_commands"]


@dataclass(frozen=True)
class LJ2D:
    """Parameters of the binary LJ glass (species 1 = small S, 2 = large L).

    Attributes
    ----------
    sigma : (2, 2) tuple of float
        ``sigma_ab`` in units of ``sigma_SL``.
    epsilon : (2, 2) tuple of float
        ``epsilon_ab`` in units of ``epsilon_SL``.
    r_in, r_out : float
        Smoothing interval in units of ``sigma_ab`` (2 and 2.5).
    ratio_LS : float
        ``N_L / N_S``.
    density : float
        Number density ``N / L^2``.
    smoothing : {"polynomial", "taper"}
        The paper's replacing polynomial (``pair_style lepton``) or the ``lj/mdf`` taper
        (module docstring).
    engine : {"auto", "numba", "lammps"}
        Who evaluates the polynomial: ``"numba"`` (:mod:`femplastic.atomistic.external`,
        ``fix external``; the same energy to round-off, ~10-30x cheaper per force call) or
        ``"lammps"`` (``pair_style lepton``). ``"auto"``: numba for the polynomial, LAMMPS's
        ``lj/mdf`` for the taper (which has no numba form).
    """

    sigma: tuple[tuple[float, float], tuple[float, float]] = (
        (2 * math.sin(math.pi / 10), 1.0), (1.0, 2 * math.sin(math.pi / 5)))
    epsilon: tuple[tuple[float, float], tuple[float, float]] = ((0.5, 1.0), (1.0, 0.5))
    r_in: float = 2.0
    r_out: float = 2.5
    ratio_LS: float = (1 + math.sqrt(5)) / 4
    density: float = 1.02
    smoothing: str = "polynomial"
    engine: str = "auto"

    def __post_init__(self) -> None:
        if self.smoothing not in ("polynomial", "taper"):
            raise ValueError(f"LJ2D.smoothing must be 'polynomial' or 'taper', got "
                             f"{self.smoothing!r}")
        if self.engine not in ("auto", "numba", "lammps"):
            raise ValueError(f"LJ2D.engine must be 'auto', 'numba' or 'lammps', got "
                             f"{self.engine!r}")
        if self.engine == "numba" and self.smoothing == "taper":
            raise ValueError("LJ2D.engine = 'numba' evaluates the polynomial only; the taper "
                             "runs in LAMMPS (engine 'auto' or 'lammps')")
        for name in ("r_in", "r_out", "ratio_LS", "density"):
            v = getattr(self, name)
            if isinstance(v, bool) or not (isinstance(v, (int, float)) and math.isfinite(v)
                                           and v > 0):
                raise ValueError(f"LJ2D.{name} must be a finite number > 0, got {v!r}")
        if not self.r_out > self.r_in:
            raise ValueError(f"LJ2D.r_out ({self.r_out}) must exceed r_in ({self.r_in})")
        for name in ("sigma", "epsilon"):
            m = np.asarray(getattr(self, name), dtype=float)
            if m.shape != (2, 2) or not np.all(m > 0) or m[0, 1] != m[1, 0]:
                raise ValueError(f"LJ2D.{name} must be a symmetric 2 x 2 table of numbers > 0")

    @property
    def uses_numba(self) -> bool:
        """Whether the pair forces come from the numba kernels (``fix external``)."""
        return self.smoothing == "polynomial" and self.engine in ("auto", "numba")

    def n_large(self, n: int) -> int:
        """Number of large atoms among ``n`` (nearest integer to ``n r / (1 + r)``)."""
        return int(round(n * self.ratio_LS / (1 + self.ratio_LS)))

    def box_length(self, n: int) -> float:
        """Side ``L = sqrt(n / density)`` of the square box holding ``n`` atoms."""
        return math.sqrt(n / self.density)

    def cutoff(self, a: int, b: int) -> float:
        """``R_out sigma_ab`` for species indices ``a, b`` in {0, 1}."""
        return self.r_out * self.sigma[a][b]

    @property
    def max_cutoff(self) -> float:
        """The largest pair cutoff."""
        return max(self.cutoff(a, b) for a in range(2) for b in range(2))

    def coefficients(self, a: int, b: int) -> tuple[float, float, float]:
        """``(A, B, C)`` of the smoothing polynomial of pair ``a, b`` (module docstring)."""
        s, e = self.sigma[a][b], self.epsilon[a][b]
        ri, d = self.r_in * s, (self.r_out - self.r_in) * s
        x6 = (s / ri) ** 6
        phi = 4 * e * (x6 * x6 - x6)
        dphi = 4 * e * (-12 * x6 * x6 + 6 * x6) / ri
        d2phi = 4 * e * (156 * x6 * x6 - 42 * x6) / ri**2
        # P(t) = A t^3 + B t^4 + C t^5, t = R_out - r: dP/dr = -dP/dt, d2P/dr2 = d2P/dt2
        m = np.array([[d**3, d**4, d**5],
                      [-3 * d**2, -4 * d**3, -5 * d**4],
                      [6 * d, 12 * d**2, 20 * d**3]])
        A, B, C = np.linalg.solve(m, [phi, dphi, d2phi])
        return float(A), float(B), float(C)


#: The paper's glass (Castellanos et al. sec. 2).
PAPER = LJ2D()


def pair_energy(r: NDArray[np.float64], a: int, b: int, pot: LJ2D = PAPER
                ) -> NDArray[np.float64]:
    """Pair energy ``U(r)`` of species ``a, b`` (0 = S, 1 = L).

    Parameters
    ----------
    r : (m,) float64
        Distances, LJ units.
    a, b : int
        Species indices.
    pot : LJ2D

    Returns
    -------
    (m,) float64
        Energies, units of ``epsilon_SL``.
    """
    r = np.asarray(r, dtype=float)
    s, e = pot.sigma[a][b], pot.epsilon[a][b]
    ri, ro = pot.r_in * s, pot.r_out * s
    x6 = (s / r) ** 6
    if pot.smoothing == "taper":
        x = np.clip((r - ri) / (ro - ri), 0.0, 1.0)
        tau = (1 - x) ** 3 * (1 + 3 * x + 6 * x * x)
        return np.where(r < ro, 4 * e * (x6 * x6 - x6) * tau, 0.0)
    A, B, C = pot.coefficients(a, b)
    t = ro - r
    return np.where(r <= ri, 4 * e * (x6 * x6 - x6),
                    np.where(r < ro, t**3 * (A + B * t + C * t * t), 0.0))


def pair_dforce(r: NDArray[np.float64], a: int, b: int, pot: LJ2D = PAPER
                ) -> NDArray[np.float64]:
    """``dU/dr`` of species ``a, b`` (the analytic derivative of :func:`pair_energy`).

    Parameters
    ----------
    r : (m,) float64
        Distances.
    a, b : int
        Species indices.
    pot : LJ2D

    Returns
    -------
    (m,) float64
        ``dU/dr``, units of ``epsilon_SL / sigma_SL``.
    """
    r = np.asarray(r, dtype=float)
    s, e = pot.sigma[a][b], pot.epsilon[a][b]
    ri, ro = pot.r_in * s, pot.r_out * s
    x6 = (s / r) ** 6
    if pot.smoothing == "taper":
        x = np.clip((r - ri) / (ro - ri), 0.0, 1.0)
        tau = (1 - x) ** 3 * (1 + 3 * x + 6 * x * x)
        dtau = -30 * x * x * (1 - x) ** 2 / (ro - ri)
        lj, dlj = 4 * e * (x6 * x6 - x6), 4 * e * (-12 * x6 * x6 + 6 * x6) / r
        return np.where(r < ro, dlj * tau + lj * dtau, 0.0)
    A, B, C = pot.coefficients(a, b)
    t = ro - r
    return np.where(r <= ri, 4 * e * (-12 * x6 * x6 + 6 * x6) / r,
                    np.where(r < ro, -(3 * A * t**2 + 4 * B * t**3 + 5 * C * t**4), 0.0))


def energy_forces(x: NDArray[np.float64], types: NDArray[np.int_], box: tuple[float, float, float],
                  pot: LJ2D = PAPER) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
    """Total energy, forces and virial stress by direct summation over all pairs (numpy).

    An independent check of LAMMPS for small systems (O(N^2) memory and time).

    Parameters
    ----------
    x : (n, 2) float64
        Positions.
    types : (n,) int
        Species, 1 = S, 2 = L (LAMMPS type numbers).
    box : (Lx, Ly, xy)
        Periodic triclinic box ``a = (Lx, 0)``, ``b = (xy, Ly)``; every cutoff must be shorter
        than half the box's smallest width.
    pot : LJ2D

    Returns
    -------
    energy : float
        Total potential energy.
    forces : (n, 2) float64
        ``-dE/dx``.
    stress : (3,) float64
        Virial stress ``(xx, yy, xy)`` = ``-(1/A) sum_pairs r_ij (x) f_ij`` (LAMMPS
        ``-pressure``, ``A = Lx Ly``).
    """
    x = np.asarray(x, dtype=float)
    t = np.asarray(types) - 1
    lx, ly, xy = box
    if 2 * pot.max_cutoff >= min(lx, ly):
        raise ValueError("energy_forces: the box is narrower than twice the cutoff")
    d = x[:, None, :] - x[None, :, :]
    # minimum image in the triclinic box
    ny = np.round(d[..., 1] / ly)
    d[..., 0] -= ny * xy
    d[..., 1] -= ny * ly
    d[..., 0] -= np.round(d[..., 0] / lx) * lx
    r = np.sqrt((d**2).sum(-1))
    n = len(x)
    iu = np.triu_indices(n, 1)
    ri, dij = r[iu], d[iu]
    ti, tj = t[iu[0]], t[iu[1]]
    e = np.zeros(ri.size)
    du = np.zeros(ri.size)
    for a in range(2):
        for b in range(2):
            m = (ti == a) & (tj == b)
            e[m] = pair_energy(ri[m], a, b, pot)
            du[m] = pair_dforce(ri[m], a, b, pot)
    fij = -(du / ri)[:, None] * dij            # force on i from j
    f = np.zeros((n, 2))
    np.add.at(f, iu[0], fij)
    np.add.at(f, iu[1], -fij)
    w = -np.einsum("pi,pj->ij", dij, fij)      # -sum r_ij (x) f_ij
    area = lx * ly
    stress = np.array([w[0, 0], w[1, 1], 0.5 * (w[0, 1] + w[1, 0])]) / area
    return float(e.sum()), f, stress


def _num(v: float) -> str:
    return repr(float(v))


def lepton_commands(pot: LJ2D = PAPER) -> list[str]:
    """The LAMMPS commands defining this potential (type 1 = S, 2 = L).

    ``pair_style lepton`` for the paper's polynomial, ``lj/mdf`` for the taper.

    Parameters
    ----------
    pot : LJ2D

    Returns
    -------
    list of str
    """
    if pot.smoothing == "taper":
        cmds = [f"pair_style lj/mdf {_num(pot.r_in * pot.sigma[0][0])} {_num(pot.max_cutoff)}"]
        for a in range(2):
            for b in range(a, 2):
                s, e = pot.sigma[a][b], pot.epsilon[a][b]
                cmds.append(f"pair_coeff {a + 1} {b + 1} {_num(e)} {_num(s)} "
                            f"{_num(pot.r_in * s)} {_num(pot.r_out * s)}")
        return cmds
    cmds = [f"pair_style lepton {_num(pot.max_cutoff)}"]
    for a in range(2):
        for b in range(a, 2):
            s, e = pot.sigma[a][b], pot.epsilon[a][b]
            ri, ro = pot.r_in * s, pot.r_out * s
            A, B, C = pot.coefficients(a, b)
            lj = f"4*{_num(e)}*(({_num(s)}/r)^12-({_num(s)}/r)^6)"
            t = f"({_num(ro)}-r)"
            poly = f"{t}^3*({_num(A)}+{_num(B)}*{t}+{_num(C)}*{t}^2)"
            expr = f"step({_num(ri)}-r)*{lj}+(1-step({_num(ri)}-r))*{poly}"
            cmds.append(f'pair_coeff {a + 1} {b + 1} "{expr}" {_num(ro)}')
    return cmds

"""3D weak-plane slip systems: isotropic orientations, thresholds, amplitudes, renewal.

The 3D form of :mod:`femplastic.weakplane.slip` (whose 2D behaviour it does not change).
Each element of an ``L^3`` Hex8 grid holds ``N`` slip systems; a system is a plane normal
``n`` (uniform on the unit sphere) and a slip direction ``s`` in that plane (uniform angle),
with the Schmid tensor ``M = (n s + s n) / 2`` (traceless, ``M : M = 1/2``), a single slip
sense and a threshold ``tau_c`` (Weibull by default, as in 2D). A slip of amplitude ``g`` adds
``g M`` to the element's plastic strain; ``g`` is drawn below the dissipation bound
``gmax = 2 tau / selfres`` with ``selfres = -(C (S - I) M) : M`` from the 3D self response
(derivation: ``docs/physics/weak_plane_3d.rst``). After a slip all ``N`` systems of the
element are drawn again (orientations and thresholds, each switchable). The Drucker-Prager
variant adds ``a (p + p0)`` to every threshold, ``p = -tr(Sigma) / 3``.

The threshold and amplitude laws are the 2D objects
(:class:`~femplastic.weakplane.slip.Weibull`,
:class:`~femplastic.weakplane.slip.BoundedPowerLaw`, ...), drawn by the same compiled inverse
CDFs; the orientation draws and the renewal are compiled in
:mod:`femplastic.weakplane.kernels3d`, so what :func:`isotropic_orientations` returns is
what a 3D driver would draw.

**Number of systems.** :func:`n_systems_3d` carries the paper's density argument over to 3D
(``N = rho_s l^3``, see its docstring).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import kernels3d as K3
from .slip import BoundedPowerLaw, Weibull, _Amplitude, _Threshold

__all__ = ["n_systems_3d", "isotropic_orientations", "gmax3d", "SlipLaw3D", "SlipSystems3D"]


def n_systems_3d(l: float, rho_s: float = 0.8) -> int:
    """Slip systems per element of side ``l`` in 3D: ``N = rho_s l^3`` rounded (>= 6).

    Castellanos et al. (sec. 3.2) bound the density of slip systems by one per atom: a
    zone of side ``l ~ 2`` holds about 4 atoms of the 2D glass (number density ~1) and at
    most 4 systems, so ``rho_s <= 1`` per unit area, and they take ``rho_s = 0.8``,
    ``N = rho_s l^2``. The same argument in 3D, one system per atom at most in a glass of
    number density ~1 (1.2 for the 3D Kob-Andersen glass) per unit volume, gives
    ``rho_s <= ~1`` per unit volume; keeping ``rho_s = 0.8`` gives ``N = rho_s l^3``
    (l = 3.5: 34; l = 6.6: 230). No grouping into fours is needed: isotropic draws have no
    privileged direction, and with ``N >= 6`` systems the Schmid tensors can span the
    five-dimensional deviatoric space positively (a finite yield stress in every loading
    direction: almost surely so for the ``N`` of the density argument, never for ``N < 6``).
    Appendix A.1 of the paper shows that ``N`` only rescales the Weibull scale
    (``lam ~ N^(1/k)``): a cheaper smaller ``N`` can be used with ``lam`` rescaled.

    Parameters
    ----------
    l : float
        Element side, LJ length units, > 0.
    rho_s : float
        Density of slip systems per unit volume, > 0 (default 0.8).

    Returns
    -------
    int
        ``max(6, round(rho_s l^3))``.

    Examples
    --------
    >>> [n_systems_3d(l) for l in (2.0, 3.5, 6.6)]
    [6, 34, 230]
    """
    if not np.isfinite(l) or l <= 0:
        raise ValueError(f"l must be a finite number > 0, got {l!r}")
    if not np.isfinite(rho_s) or rho_s <= 0:
        raise ValueError(f"rho_s must be a finite number > 0, got {rho_s!r}")
    return max(6, int(np.floor(rho_s * l**3 + 0.5)))


def isotropic_orientations(
    rng: np.random.Generator, size: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Isotropic slip systems: ``size`` unit normals and in-plane slip directions.

    Drawn by the compiled sampler the renewal uses (three uniforms per system).

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    size : int
        Number of systems, >= 0.

    Returns
    -------
    normal, direction : (size, 3) ndarray
        ``n`` uniform on the unit sphere and ``s`` uniform on the unit circle normal to it.

    Examples
    --------
    >>> import numpy as np
    >>> n, s = isotropic_orientations(np.random.default_rng(0), 4)
    >>> bool(np.allclose((n * s).sum(1), 0) and np.allclose(np.linalg.norm(s, axis=1), 1))
    True
    """
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 0:
        raise ValueError(f"size must be an integer >= 0, got {size!r}")
    normal = np.empty((int(size), 3))
    direction = np.empty((int(size), 3))
    K3.draw_orientations(rng, normal, direction)
    return normal, direction


@dataclass
class SlipSystems3D:
    """The slip systems of every element (plain arrays; modified in place by renewals).

    Attributes
    ----------
    normal, direction : (n_elem, N, 3) float64
        Unit plane normals and slip directions.
    schmid : (n_elem, N, 6) float64
        ``M = (n s + s n) / 2``, Voigt (xx, yy, zz, yz, xz, xy), tensor shear.
    tauc : (n_elem, N) float64
        Thresholds, LJ stress units.
    selfres : (n_elem, N) float64
        ``-(K_self M) : M > 0``: resolved stress drop per unit slip in the element itself.
    Kself : (n_elem, 6, 6) float64
        The self response ``C (S - I)`` the ``selfres`` were computed from.
    """

    normal: NDArray[np.float64]
    direction: NDArray[np.float64]
    schmid: NDArray[np.float64]
    tauc: NDArray[np.float64]
    selfres: NDArray[np.float64]
    Kself: NDArray[np.float64]

    @property
    def n_elem(self) -> int:
        """Number of elements."""
        return int(self.tauc.shape[0])

    @property
    def n_systems(self) -> int:
        """Systems per element, ``N``."""
        return int(self.tauc.shape[1])


@dataclass(frozen=True)
class SlipLaw3D:
    """Everything that defines the 3D slip systems of an element and their evolution.

    Parameters
    ----------
    N : int
        Systems per element, >= 1 (:func:`n_systems_3d` gives the density-argument value).
    threshold : Weibull, ConstantThreshold or TabulatedThreshold
        Threshold law (default Weibull ``k = 2.18``, ``lam = 2.05``, the 2D calibration).
    amplitude : BoundedPowerLaw, FixedAmplitude or ExponentialAmplitude
        Amplitude law (default bounded power law ``chi = 2.25``).
    shared_threshold : bool
        One threshold per element shared by its systems.
    renew_thresholds, renew_orientations : bool
        Whether a slip redraws the element's thresholds / orientations (all ``N``).
    pressure_coefficient : float
        Drucker-Prager ``a >= 0``: effective threshold ``tau_c + a (p + p0)``.
    pressure_offset : float
        Hydrostatic offset ``p0`` (finite).

    Examples
    --------
    >>> import numpy as np
    >>> law = SlipLaw3D(N=8)
    >>> Kself = np.broadcast_to(-13.2 * np.eye(6), (3, 6, 6))  # a stand-in self response
    >>> sys = law.init(np.random.default_rng(1), Kself)
    >>> sys.schmid.shape, bool(np.all(sys.selfres > 0))
    ((3, 8, 6), True)
    """

    N: int = 230
    threshold: _Threshold = field(default_factory=Weibull)
    amplitude: _Amplitude = field(default_factory=BoundedPowerLaw)
    shared_threshold: bool = False
    renew_thresholds: bool = True
    renew_orientations: bool = True
    pressure_coefficient: float = 0.0
    pressure_offset: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.N, bool) or not isinstance(self.N, int | np.integer) or self.N < 1:
            raise ValueError(f"N must be a positive integer, got {self.N!r}")
        if not isinstance(self.threshold, _Threshold):
            raise TypeError(f"threshold must be a threshold law (Weibull, ...), got "
                            f"{type(self.threshold).__name__}")
        if not isinstance(self.amplitude, _Amplitude):
            raise TypeError(f"amplitude must be an amplitude law (BoundedPowerLaw, ...), got "
                            f"{type(self.amplitude).__name__}")
        a = self.pressure_coefficient
        if not np.isfinite(a) or a < 0:
            raise ValueError(f"pressure_coefficient must be a finite number >= 0, got {a!r}")
        if not np.isfinite(self.pressure_offset):
            raise ValueError(f"pressure_offset must be finite, got {self.pressure_offset!r}")

    def arrays(self) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
        """``(law_i, law_f, thr_table)`` as :mod:`femplastic.weakplane.kernels3d` reads them."""
        t0, t1, table = self.threshold.params()
        a0, a1 = self.amplitude.params()
        law_i = np.array([self.threshold.kind, int(self.shared_threshold),
                          int(self.renew_thresholds), int(self.renew_orientations),
                          self.amplitude.kind], dtype=np.int64)
        law_f = np.array([t0, t1, a0, a1, float(self.pressure_coefficient),
                          float(self.pressure_offset)])
        return law_i, law_f, np.ascontiguousarray(table, dtype=float)

    def init(self, rng: np.random.Generator, Kself: ArrayLike) -> SlipSystems3D:
        """Draw the systems of every element (element by element, orientations first).

        Parameters
        ----------
        rng : numpy.random.Generator
            Source of randomness.
        Kself : (n_elem, 6, 6) array_like
            Self response ``C (S - I)`` of each element (e.g.
            ``PeriodicKernel3D.self_response``); its resolved part must be negative
            (a slip relaxes its own resolved stress).

        Returns
        -------
        SlipSystems3D
            New arrays.
        """
        Ks = np.ascontiguousarray(np.asarray(Kself, dtype=float))
        if Ks.ndim != 3 or Ks.shape[1:] != (6, 6):
            raise ValueError(f"Kself must have shape (n_elem, 6, 6), got {Ks.shape}")
        if not np.all(np.isfinite(Ks)):
            raise ValueError("Kself contains NaN or inf")
        n = Ks.shape[0]
        N = int(self.N)
        sys = SlipSystems3D(np.zeros((n, N, 3)), np.zeros((n, N, 3)), np.zeros((n, N, 6)),
                            np.zeros((n, N)), np.zeros((n, N)), Ks)
        law_i, law_f, table = self.arrays()
        K3.init_systems3d(rng, sys.normal, sys.direction, sys.schmid, sys.tauc, sys.selfres,
                          Ks, law_i, law_f, table)
        if np.any(sys.selfres <= 0):
            raise ValueError("Kself does not relax the resolved stress of every system "
                             "(selfres <= 0): not the self response of a stable element")
        return sys

    def renew(self, rng: np.random.Generator, systems: SlipSystems3D,
              elements: ArrayLike) -> None:
        """Redraw (per the renewal flags) the systems of ``elements``, in their order.

        Parameters
        ----------
        rng : numpy.random.Generator
            Source of randomness.
        systems : SlipSystems3D
            Updated in place.
        elements : (k,) array_like of int
            Elements that slipped.
        """
        law_i, law_f, table = self.arrays()
        for e in np.atleast_1d(np.asarray(elements, dtype=np.int64)):
            if not 0 <= e < systems.n_elem:
                raise ValueError(f"element {e} outside [0, {systems.n_elem - 1}]")
            K3.renew_element3d(int(e), rng, systems.normal, systems.direction, systems.schmid,
                               systems.tauc, systems.selfres, systems.Kself, law_i, law_f,
                               table, False)

    def lowest_distance(self, systems: SlipSystems3D, stress: ArrayLike
                        ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """Per element the lowest distance to threshold and its system.

        Parameters
        ----------
        systems : SlipSystems3D
        stress : (n_elem, 6) array_like
            Element stress, Voigt, LJ units.

        Returns
        -------
        dtau : (n_elem,) ndarray
            ``min_k (tau_c + a (p + p0) - M_k : Sigma)``; the element is active when < 0.
        k : (n_elem,) int64 ndarray
            The system reaching it.
        """
        st = np.ascontiguousarray(np.asarray(stress, dtype=float))
        if st.shape != (systems.n_elem, 6):
            raise ValueError(f"stress must have shape ({systems.n_elem}, 6), got {st.shape}")
        _, law_f, _ = self.arrays()
        dtau = np.empty(systems.n_elem)
        k = np.empty(systems.n_elem, dtype=np.int64)
        K3.lowest_distance3d(st, systems.schmid, systems.tauc, law_f, dtau, k)
        return dtau, k

    def draw_slips(self, rng: np.random.Generator, systems: SlipSystems3D, stress: ArrayLike,
                   elements: ArrayLike, which: ArrayLike, thermal: bool = False
                   ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Amplitudes and plastic strain increments of slips (nothing is applied).

        Parameters
        ----------
        rng : numpy.random.Generator
            One uniform per slip, in order.
        systems : SlipSystems3D
        stress : (n_elem, 6) array_like
            Element stress at activation.
        elements, which : (k,) array_like of int
            Element and system of each slip.
        thermal : bool
            Thermal activation: the bound uses the effective threshold, not ``tau``.

        Returns
        -------
        deps : (k, 6) ndarray
            ``g M``, Voigt plastic strain increments.
        amp : (k,) ndarray
            Amplitudes ``g`` in ``[0, gmax]``.
        tau : (k,) ndarray
            Resolved stresses at activation.
        """
        st = np.ascontiguousarray(np.asarray(stress, dtype=float))
        if st.shape != (systems.n_elem, 6):
            raise ValueError(f"stress must have shape ({systems.n_elem}, 6), got {st.shape}")
        e = np.atleast_1d(np.asarray(elements, dtype=np.int64))
        k = np.atleast_1d(np.asarray(which, dtype=np.int64))
        if e.shape != k.shape:
            raise ValueError(f"elements ({e.size}) and which ({k.size}) differ in length")
        if e.size and (e.min() < 0 or e.max() >= systems.n_elem or k.min() < 0
                       or k.max() >= systems.n_systems):
            raise ValueError("element or system index out of range")
        law_i, law_f, _ = self.arrays()
        m = e.size
        deps, amp, taus = np.empty((m, 6)), np.empty(m), np.empty(m)
        K3.draw_slips3d(m, st, e, k, systems.schmid, systems.tauc, systems.selfres, law_i,
                        law_f, rng, bool(thermal), deps, amp, taus)
        return deps, amp, taus


def gmax3d(tau: ArrayLike, selfres: ArrayLike) -> NDArray[np.float64]:
    """Dissipation bound ``gmax = 2 tau / selfres`` (the same form as 2D, eq. 6).

    Parameters
    ----------
    tau : array_like
        Resolved shear stress ``M : Sigma`` at activation.
    selfres : array_like
        ``-(C (S - I) M) : M > 0`` of the system in its element.

    Returns
    -------
    ndarray
        The amplitude at which a single slip releases no energy; every ``0 <= g <= gmax``
        releases ``V g (tau - g selfres / 2) >= 0``.
    """
    return 2.0 * np.asarray(tau, dtype=float) / np.asarray(selfres, dtype=float)


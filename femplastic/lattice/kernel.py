"""Fourier lattice Eshelby propagator for the scalar elasto-plastic models.

The scalar models (Liu et al. 2021-002) keep one stress per site of an ``L x L`` bi-periodic
lattice of unit spacing: the shear stress ``sigma_xy`` along the loading direction. A plastic
shear strain in one site changes the stress everywhere by a translated copy of one kernel.

Convention
----------
The scalar plastic strain handled here is the **tensor** shear component ``eps_xy``
(as everywhere in femplastic), *not* the engineering shear ``gamma = 2 eps_xy``. A model
written in engineering strain (Liu et al. use ``sigma = mu gamma_el``) passes
``deps = dgamma / 2``.

Kernel
------
For a homogeneous isotropic 2D medium of shear modulus ``mu`` and 2D bulk modulus ``K``
(``sigma = 2 mu dev(eps) + K tr(eps) I``), the continuum Green operator gives, for a plastic
strain field ``eps_xy(q)`` (derivation in ``docs/validation/lattice_models.md``),

    sigma_xy(q) = -2 mu* sin^2(2 phi_q) eps_xy(q) = mu* (cos 4phi_q - 1) eps_xy(q),  q != 0,

with ``mu* = mu / (1 + mu / K)`` (``K = inf``: incompressible, ``mu* = mu``). Its real-space
far field is ``(2 / pi) mu* cos(4 theta) / r^2`` per unit ``eps_xy`` and unit cell area
(``theta`` measured from the shear axis x), and its self term for a circular inclusion is
``-mu*`` (the angular average of ``sin^2 2phi`` is 1/2). On the square Brillouin zone the
average of ``sin^2 2phi_q`` over ``q != 0`` is ``a = 0.5698`` (L = 32), not 1/2, so the
sampled continuum kernel has a self term ``-2 a mu*``. Two normalisations:

* ``"eshelby"`` (default): ``Ghat(q) = -2 c mu* sin^2(2 phi_q)`` with
  ``c = L^2 / (2 a (L^2 - 1))`` (0.877 at L = 32): zero sum, self term *exactly*
  ``G[0] = -mu*`` (the local drop ``mu eps0 / (1 + mu/K)`` of Tyukodi et al. 2023, eq. 1), far field
  ``c`` times the continuum one;
* ``"continuum"``: ``c = 1`` (the usual Picard kernel ``-4 q_x^2 q_y^2 / q^4`` times
  ``2 mu*``): the continuum far field on average, self term ``-2 a mu*`` (``-1.138 mu*``
  at L = 32). (Along the diagonals ``r^2 G`` equals ``(2/pi) mu*`` to 1e-3 at L = 512; along
  the axes the sampled kernel alternates from site to site between 0.86 and 1.14 times it,
  the ringing of a kernel cut at the Brillouin zone's edge.)

A third option is *not* an Eshelby kernel, for comparisons (the mean-field limit of the
redistribution, as in the Hebraud-Lequeux picture of Puosi et al. 2015):

* ``"mean_field"``: ``Ghat(q != 0) = -2 a mu*``, a constant: the same self term as
  ``"continuum"`` and the same zero sum, but the released stress is spread *uniformly*
  (``-G[0] / (L^2 - 1)`` on every other site) instead of as a quadrupole.

A multiplicative normalisation is the only one that keeps ``Ghat(q) <= 0`` for every ``q``
(an additive correction of the self term makes some modes positive, and plastic flow in
those modes runs away). ``Ghat(q) <= 0`` is what makes plastic flow release stress.

``q = 0`` is zero in both: the kernel is the *fluctuation* part, the response at fixed mean
stress. At fixed mean strain every increment ``deps`` in one site also lowers the mean
stress by ``2 mu deps / L^2``; the drivers carry that in the external stress (see
:meth:`LatticeEshelby.stress`).

Numba hot loops (plain arrays in, output arrays last, modified in place) are at the end of
this module.
"""

from __future__ import annotations

from typing import Literal

import numba as nb
import numpy as np
import scipy.fft
from numpy.typing import ArrayLike, NDArray

from ..numba_cache import refresh as _refresh_numba_caches

_refresh_numba_caches()  # before any cached kernel loads (see femplastic.numba_cache)

__all__ = [
    "LatticeEshelby",
    "effective_modulus",
    "scalar_shifted_add",
    "scalar_shifted_add_many",
    "FFT_MIN_SITES",
    "fft_min_sites",
]

#: Default number of simultaneous increments above which :meth:`LatticeEshelby.add` uses FFTs
#: (one FFT pair costs about as much as this many real-space shifted adds on 32 x 32 to
#: 256 x 256 lattices; see ``benchmarks/bench_scalar.py``).
FFT_MIN_SITES = 32


def fft_min_sites(L: int) -> int:
    """Number of simultaneous increments from which an FFT beats shifted adds on ``L x L``.

    Measured crossover of one ``rfft2``/``irfft2`` pair (plus the driver's Python overhead)
    against real-space shifted adds: ~100 sites at L = 16, ~60 at 32, ~20 from 64 on
    (``benchmarks/bench_scalar.py``); ``max(16, 2048 // L)``.

    Parameters
    ----------
    L : int
        Linear lattice size.

    Returns
    -------
    int
        The crossover number of sites.

    Examples
    --------
    >>> fft_min_sites(16), fft_min_sites(32), fft_min_sites(256)
    (128, 64, 16)
    """
    return max(16, 2048 // int(L))


def effective_modulus(mu: float, K: float = np.inf) -> float:
    """Effective modulus ``mu* = mu / (1 + mu / K)`` of the Eshelby local stress drop.

    Parameters
    ----------
    mu : float
        Shear modulus, > 0 (LJ units).
    K : float
        2D bulk modulus, > 0; ``inf`` for an incompressible medium.

    Returns
    -------
    float
        ``mu*``, LJ stress units.

    Examples
    --------
    >>> effective_modulus(19.0, 55.0), effective_modulus(14.88)
    (14.121621621621621, 14.88)
    """
    return float(mu / (1.0 + mu / K))


def _check_positive(name: str, value: float, allow_inf: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    if np.isnan(v) or v <= 0 or (np.isinf(v) and not allow_inf):
        rng = "(0, inf]" if allow_inf else "(0, inf)"
        raise ValueError(f"{name} must be in {rng}, got {value!r}")
    return v


class LatticeEshelby:
    """Periodic Fourier Eshelby kernel of an ``L x L`` scalar lattice (unit spacing).

    Offers the public interface of :class:`femplastic.fe.propagators.Propagator` (``n_elem``,
    ``self_response``, ``stress``, ``add``, ``load_response``, ``numba_form``) for scalar
    fields: arrays are ``(n_elem,)`` instead of ``(n_elem, 3)``. It does not subclass the
    ABC, whose contract is the three-component FE stress.

    Parameters
    ----------
    L : int
        Linear lattice size, >= 2. Sites are numbered row-major, x fastest:
        ``i = iy * L + ix``.
    mu : float
        Shear modulus, > 0.
    K : float, default inf
        2D bulk modulus, > 0 (``inf``: incompressible).
    normalisation : {"eshelby", "continuum", "mean_field"}
        Lattice normalisation of the kernel (see the module docstring); ``"mean_field"``
        replaces the quadrupole by a uniform redistribution (same self term as
        ``"continuum"``).

    Attributes
    ----------
    G : (L*L,) float64 ndarray
        Real-space kernel: ``G[ry * L + rx]`` is the change of ``sigma_xy`` at offset
        ``(rx, ry)`` per unit tensor plastic strain ``eps_xy`` at the origin (stress units).
        ``G.sum() == 0``.
    Ghat : (L, L) float64 ndarray
        Its discrete Fourier transform, indexed ``[ky, kx]`` (real: the kernel is even).
    Ghat_half : (L, L // 2 + 1) float64 ndarray
        ``Ghat[:, :L // 2 + 1]``, the multiplier of ``scipy.fft.rfft2`` spectra.
    mu_eff : float
        ``mu* = mu / (1 + mu / K)``.
    scale : float
        ``c``: the kernel is ``c`` times the sampled continuum one.
    bz_mean : float
        ``a``: mean of ``sin^2(2 phi_q)`` over the ``q != 0`` lattice wavevectors.

    Examples
    --------
    >>> import numpy as np
    >>> k = LatticeEshelby(32, mu=19.0, K=55.0)            # "eshelby": exact self term
    >>> bool(np.isclose(k.G[0], -k.mu_eff)), bool(abs(k.G.sum()) < 1e-9)
    (True, True)
    >>> stress = np.zeros(k.n_elem)
    >>> k.add(stress, [0], [0.01])                          # a slip eps_xy = 0.01 at site 0
    >>> bool(np.isclose(stress[0], -0.01 * k.mu_eff)), bool(stress[1] > 0)   # quadrupole
    (True, True)
    """

    def __init__(
        self,
        L: int,
        mu: float,
        K: float = np.inf,
        normalisation: Literal["eshelby", "continuum", "mean_field"] = "eshelby",
    ) -> None:
        if isinstance(L, bool) or not isinstance(L, int | np.integer) or L < 2:
            raise ValueError(f"L must be an integer >= 2, got {L!r}")
        if normalisation not in ("eshelby", "continuum", "mean_field"):
            raise ValueError(
                "normalisation must be 'eshelby', 'continuum' or 'mean_field', got "
                f"{normalisation!r}"
            )
        self.L = int(L)
        self.mu = _check_positive("mu", mu)
        self.K = _check_positive("K", K, allow_inf=True)
        self.normalisation = normalisation
        self.mu_eff = effective_modulus(self.mu, self.K)
        k = 2.0 * np.pi * np.fft.fftfreq(self.L)
        ky, kx = np.meshgrid(k, k, indexing="ij")
        q2 = kx**2 + ky**2
        q2[0, 0] = 1.0
        sin2 = 4.0 * kx**2 * ky**2 / q2**2  # sin^2(2 phi_q)
        sin2[0, 0] = 0.0
        n = self.L * self.L
        #: mean of sin^2(2 phi_q) over q != 0
        self.bz_mean = float(sin2.sum() / (n - 1))
        self.scale = n / (2.0 * self.bz_mean * (n - 1)) if normalisation == "eshelby" else 1.0
        if normalisation == "mean_field":
            Ghat = np.full_like(sin2, -2.0 * self.bz_mean * self.mu_eff)
        else:
            Ghat = -2.0 * self.scale * self.mu_eff * sin2
        Ghat[0, 0] = 0.0
        self.Ghat = np.ascontiguousarray(Ghat)
        G = scipy.fft.ifft2(Ghat).real
        self.G = np.ascontiguousarray(G.reshape(-1))
        self.Ghat_half = np.ascontiguousarray(Ghat[:, : self.L // 2 + 1])

    def __repr__(self) -> str:
        return (
            f"LatticeEshelby(L={self.L}, mu={self.mu:g}, K={self.K:g}, "
            f"normalisation={self.normalisation!r})"
        )

    @property
    def n_elem(self) -> int:
        """Number of sites ``L * L``."""
        return self.L * self.L

    @property
    def self_response(self) -> NDArray[np.float64]:
        """``d sigma_i / d eps_i`` at fixed mean stress, (n_elem,): ``G[0]`` everywhere."""
        return np.broadcast_to(self.G[0], (self.n_elem,))

    @property
    def far_field_amplitude(self) -> float:
        """``A`` in ``G ~ A cos(4 theta) / r^2`` far away: ``c (2 / pi) mu*`` (0: mean field)."""
        if self.normalisation == "mean_field":
            return 0.0
        return self.scale * 2.0 / np.pi * self.mu_eff

    @property
    def mean_response(self) -> float:
        """Change of the mean stress per unit ``eps_xy`` in one site at fixed mean strain.

        ``-2 mu / L^2`` (the ``q = 0`` term that the zero-sum kernel leaves out).
        """
        return -2.0 * self.mu / self.n_elem

    def _check_field(self, name: str, field: ArrayLike) -> NDArray[np.float64]:
        arr = np.asarray(field, dtype=float)
        if arr.shape not in ((self.n_elem,), (self.L, self.L)):
            raise ValueError(
                f"{name} must have shape ({self.n_elem},) or ({self.L}, {self.L}), got {arr.shape}"
            )
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be finite (got NaN or inf)")
        return np.ascontiguousarray(arr.reshape(-1))

    def convolve(self, field: ArrayLike) -> NDArray[np.float64]:
        """Internal stress ``G * field`` by FFT, (n_elem,); zero mean.

        Parameters
        ----------
        field : (n_elem,) or (L, L) array_like
            Tensor plastic strain ``eps_xy`` per site.
        """
        f = self._check_field("field", field)
        return self._convolve(f)

    def _convolve(self, f: NDArray[np.float64]) -> NDArray[np.float64]:
        L = self.L
        P = scipy.fft.rfft2(f.reshape(L, L))
        P *= self.Ghat_half
        return scipy.fft.irfft2(P, s=(L, L)).reshape(-1)

    def stress(
        self,
        eps_pl: ArrayLike,
        macro_strain: float = 0.0,
        prestress: ArrayLike | None = None,
    ) -> NDArray[np.float64]:
        """Site stress of a plastic strain field under an imposed mean strain, (n_elem,).

        ``sigma = 2 mu (E - <eps_pl>) + G * eps_pl (+ prestress)``: the same contract as
        :meth:`femplastic.fe.propagators.Propagator.stress` for the scalar component.

        Parameters
        ----------
        eps_pl : (n_elem,) or (L, L) array_like
            Tensor plastic shear strain ``eps_xy``.
        macro_strain : float
            Imposed mean tensor shear strain ``E_xy``.
        prestress : (n_elem,) array_like, optional
            Added stress field.
        """
        e = self._check_field("eps_pl", eps_pl)
        E = float(macro_strain)
        if not np.isfinite(E):
            raise ValueError("macro_strain must be finite")
        out = self._convolve(e) + 2.0 * self.mu * (E - e.mean())
        if prestress is not None:
            out += self._check_field("prestress", prestress)
        return out

    def load_response(self, direction: float = 1.0) -> NDArray[np.float64]:
        """Stress change per unit imposed mean tensor shear strain, ``2 mu`` uniform.

        Parameters
        ----------
        direction : float
            Loading sense and amplitude (+1 forward, -1 unloading).

        Returns
        -------
        (n_elem,) ndarray
            ``2 mu direction`` at every site, stress units.
        """
        return np.full(self.n_elem, 2.0 * self.mu * float(direction))

    def add(
        self,
        stress: NDArray[np.float64],
        elems: ArrayLike,
        deps: ArrayLike,
        fft_min: int = FFT_MIN_SITES,
    ) -> None:
        """In place: ``stress += G * (increments)`` (fixed mean stress, zero-sum response).

        Parameters
        ----------
        stress : (n_elem,) float64 ndarray
            Updated in place (C-contiguous).
        elems : (k,) int array_like
            Sites receiving an increment (repeats add up).
        deps : (k,) array_like
            Tensor plastic strain increments ``d eps_xy``.
        fft_min : int
            Use one FFT convolution when ``k >= fft_min``, real-space shifted adds otherwise.
        """
        elems = np.atleast_1d(np.asarray(elems, dtype=np.int64))
        deps = np.atleast_1d(np.asarray(deps, dtype=float))
        if elems.ndim != 1 or deps.shape != elems.shape:
            raise ValueError(
                f"elems {elems.shape} and deps {deps.shape} must be 1D of the same length"
            )
        if elems.size and (elems.min() < 0 or elems.max() >= self.n_elem):
            raise ValueError(f"elems must be in [0, {self.n_elem - 1}]")
        if not np.all(np.isfinite(deps)):
            raise ValueError("deps must be finite (got NaN or inf)")
        if stress.shape != (self.n_elem,) or not stress.flags.c_contiguous:
            raise ValueError(f"stress must be a C-contiguous ({self.n_elem},) array")
        if elems.size >= fft_min:
            field = np.zeros(self.n_elem)
            np.add.at(field, elems, deps)
            stress += self._convolve(field)
        else:
            scalar_shifted_add_many(stress, self.G, self.L, elems, deps)

    def numba_form(self) -> tuple[int, NDArray[np.float64], int]:
        """``(2, G, L)``: kind 2 is a scalar lattice kernel ``G (L*L,)`` for fused drivers."""
        return 2, self.G, self.L

    def offsets(self) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Minimum-image offsets ``(rx, ry)`` of every kernel entry, each (L*L,), in [-L/2, L/2)."""
        L = self.L
        iy, ix = np.divmod(np.arange(L * L), L)
        return (ix + L // 2) % L - L // 2, (iy + L // 2) % L - L // 2


# ------------------------------------------------------------------------ numba kernels
@nb.njit(cache=True, fastmath={"contract"})
def scalar_shifted_add(stress, G, L, e, d):  # pragma: no cover - compiled
    """``stress[j] += d * G[(j - e) mod (L, L)]`` for every site ``j``.

    Parameters
    ----------
    stress : (L*L,) float64, modified in place
    G : (L*L,) float64, kernel, offset ``r = ry * L + rx``
    L : int
    e : int, source site (row-major, x fastest)
    d : float, tensor plastic strain increment in ``e``

    Notes
    -----
    Each row is two contiguous segments (before and after the wrap): a vectorisable axpy.
    """
    ey = e // L
    ex = e - ey * L
    for jy in range(L):
        ry = jy - ey
        if ry < 0:
            ry += L
        a = jy * L + ex
        b = ry * L
        m = L - ex
        for k in range(m):
            stress[a + k] += d * G[b + k]
        a = jy * L
        b = ry * L + L - ex
        for k in range(ex):
            stress[a + k] += d * G[b + k]


@nb.njit(cache=True)
def scalar_shifted_add_many(stress, G, L, elems, deps):  # pragma: no cover - compiled
    """:func:`scalar_shifted_add` for every ``(elems[k], deps[k])``.

    Parameters
    ----------
    stress : (L*L,) float64, modified in place
    G : (L*L,) float64, kernel, offset ``r = ry * L + rx``
    L : int
    elems : (k,) int64, source sites (row-major, x fastest)
    deps : (k,) float64, tensor plastic strain increments (zeros are skipped)
    """
    for k in range(elems.shape[0]):
        if deps[k] != 0.0:
            scalar_shifted_add(stress, G, L, elems[k], deps[k])

"""Finite-rate and creep dynamics of the scalar lattice EPM of Liu et al. (2021).

Each site relaxes plastically, ``d gamma_pl / dt = n sigma / (mu tau)``, while its state
``n`` in {0, 1} switches on above threshold (rate ``1 / tau_pl``) and off (rate
``1 / tau_res``, drawing a new threshold from a Weibull law); the external stress follows a
fixed total shear rate (:func:`run_fixed_rate`) or is held fixed (:func:`run_creep`).
Explicit Euler steps of ``dt`` (bounded by :data:`MAX_DT_FRACTION`); the compiled loop is in
:mod:`femplastic.lattice.loops`. Conventions of both lattice models: :mod:`femplastic.lattice`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import scipy.fft
from numpy.typing import ArrayLike, NDArray

from .. import interrupt
from .common import (
    MAX_RECORDS,
    _check_state,
    _flag,
    _generator,
    _kernel,
    _lattice_size,
    _positive,
    _real,
    _site_map,
)
from .kernel import LatticeEshelby, fft_min_sites
from .loops import _fr_advance, _fr_finish
from .thresholds import ThresholdDistribution, Weibull

__all__ = [
    "FiniteRateParams",
    "FiniteRateState",
    "Trajectory",
    "finite_rate_initial_state",
    "run_fixed_rate",
    "run_creep",
    "MAX_DT_FRACTION",
]

#: ``dt`` may be at most this fraction of the shortest time scale of the finite-rate model.
MAX_DT_FRACTION = 0.1

#: Site-steps per compiled call of the finite-rate loop (~0.1 s): Ctrl-C is honoured between
#: calls, and the chunking changes no result (bitwise).
_CHUNK_SITE_STEPS = 1 << 24


@dataclass(frozen=True)
class FiniteRateParams:
    """Parameters of the finite-rate scalar EPM of Liu et al. (defaults: the seed's values).

    Parameters
    ----------
    L : int
        Lattice size (32: the MD box 316.174 in cells of 9.88).
    mu : float
        Shear modulus (``sigma = mu gamma_el``, engineering strain), > 0.
    tau : float
        Plastic relaxation time in ``d gamma_pl / dt = n sigma / (mu tau)``, > 0.
    tau_pl : float
        Mean activation delay of a site above threshold (rate ``1 / tau_pl``), > 0.
    tau_res : float
        Mean duration of a plastic event (recovery rate ``1 / tau_res``), > 0.
    k_d, sigma_d : float
        Shape and scale of the Weibull renewal distribution of thresholds, > 0.
    dt : float
        Time step, in ``(0, MAX_DT_FRACTION * min(tau_el, tau_pl, tau_res)]`` with
        ``tau_el = 2 mu tau / max_q |Ghat(q)|`` capped at ``tau`` (see :attr:`dt_max`).
    K : float
        2D bulk modulus of the kernel (``inf``: incompressible, the seed's scalar kernel).
    normalisation : {"eshelby", "continuum", "mean_field"}
        Lattice kernel normalisation (:class:`femplastic.lattice.LatticeEshelby`;
        ``"mean_field"``: same self term, uniform redistribution, for comparisons). Default
        ``"continuum"``: the plain Picard kernel ``mu Ghat = -4 mu q_x^2 q_y^2 / q^4`` per
        unit engineering strain (self term ``-0.569 mu``), the usual kernel of this model
        family; it reproduces the seed's Herschel-Bulkley fit best
        (``docs/validation/lattice_models.md``).

    Notes
    -----
    Stability (derived in ``docs/validation/lattice_models.md``): with every site plastic the
    explicit Euler step multiplies a stress mode of relaxation rate ``lambda`` by ``1 - lambda dt``;
    the rates are ``1 / tau`` for the mean (fixed-rate feedback) and
    ``|Ghat(q)| / (2 mu tau)`` for ``q != 0``. The scheme is stable for ``dt lambda < 2``,
    sign-preserving for ``dt lambda < 1``; the bound ``dt <= 0.1 tau_el`` keeps the
    first-order error of the relaxation and of the switching probabilities
    ``1 - exp(-dt / tau_x)`` below about 5 %.
    """

    L: int = 32
    mu: float = 14.88
    tau: float = 1.0
    tau_pl: float = 1.0
    tau_res: float = 2.0
    k_d: float = 1.5
    sigma_d: float = 0.57
    dt: float = 0.01
    K: float = np.inf
    normalisation: Literal["eshelby", "continuum", "mean_field"] = "continuum"

    def __post_init__(self) -> None:
        object.__setattr__(self, "L", _lattice_size(self.L))
        for name in ("mu", "tau", "tau_pl", "tau_res", "k_d", "sigma_d", "dt"):
            object.__setattr__(self, name, _positive(name, getattr(self, name)))
        object.__setattr__(self, "K", _positive("K", self.K, allow_inf=True))
        if self.normalisation not in ("eshelby", "continuum", "mean_field"):
            raise ValueError(
                "normalisation must be 'eshelby', 'continuum' or 'mean_field', got "
                f"{self.normalisation!r}"
            )
        if self.dt > self.dt_max:
            raise ValueError(
                f"dt={self.dt:g} too large for stability and accuracy: dt must be <= "
                f"{MAX_DT_FRACTION} * min(tau_el={self.tau_el:g}, tau_pl={self.tau_pl:g}, "
                f"tau_res={self.tau_res:g}) = {self.dt_max:g}"
            )

    @property
    def kernel(self) -> LatticeEshelby:
        """The lattice Eshelby kernel (per unit *tensor* strain; cached)."""
        return _kernel(self.L, self.mu, self.K, self.normalisation)

    @property
    def tau_el(self) -> float:
        """Fastest elastic relaxation time, all sites plastic: ``min(tau, 2 mu tau / max|Ghat|)``.

        ``Ghat`` is the kernel per unit tensor strain (the mean mode relaxes at ``1 / tau``).
        """
        gmax = float(np.abs(self.kernel.Ghat).max())
        return min(self.tau, 2.0 * self.mu * self.tau / gmax) if gmax > 0 else self.tau

    @property
    def dt_max(self) -> float:
        """Largest accepted time step ``MAX_DT_FRACTION * min(tau_el, tau_pl, tau_res)``."""
        return MAX_DT_FRACTION * min(self.tau_el, self.tau_pl, self.tau_res)

    @property
    def renewal(self) -> Weibull:
        """Renewal distribution ``Weibull(k_d, sigma_d)``."""
        return Weibull(self.k_d, self.sigma_d)

    @property
    def yield_stress_estimate(self) -> float:
        """Seed SI eq. 13: ``Sigma_Y ~ sigma_d / 2 (1 + exp(-tau_res / tau))``."""
        return 0.5 * self.sigma_d * (1.0 + math.exp(-self.tau_res / self.tau))

    @property
    def linear_regime_estimate(self) -> float:
        """High-rate limit of ``Sigma / (mu gdot)`` estimated from Liu et al. 2021 SI eqs. 6-8.

        Above the crossover rate a site never waits for its threshold: it is elastic for
        ``tau_pl`` (stress rising by ``mu tau_pl gdot``) and plastic for ``tau_res`` (stress
        relaxing towards ``mu tau gdot``), between ``sigma_L = mu gdot (tau + tau_pl e /
        (1 - e))``, ``e = exp(-tau_res / tau)``, and ``sigma_H = sigma_L + mu tau_pl gdot``;
        the SI's algebraic average ``(sigma_H + sigma_L) / 2`` (its eq. 12) gives
        ``Sigma / (mu gdot) = tau + tau_pl (e / (1 - e) + 1 / 2)`` (1.656 with the seed's
        times). An estimate: it neglects the other sites' kicks and weights the two states
        equally.

        Returns
        -------
        float
            ``Sigma / (mu gdot)`` in time units.
        """
        e = math.exp(-self.tau_res / self.tau)
        return self.tau + self.tau_pl * (e / (1.0 - e) + 0.5)

    @property
    def crossover_rate_estimate(self) -> float:
        """Seed SI eq. 11: crossover shear rate ``gdot_X`` to the linear flow regime."""
        e = math.exp(-self.tau_res / self.tau)
        ratio = (1 - e) / (1 + (self.tau_pl / self.tau - 1) * e)
        return self.sigma_d / (self.tau * self.mu) * ratio


@dataclass(frozen=True, eq=False)
class FiniteRateState:
    """State of the finite-rate model (arrays are never modified after construction).

    Attributes
    ----------
    stress_int : (N,) float64
        Internal stress (zero mean).
    threshold : (N,) float64
        Local thresholds.
    plastic : (N,) int8
        ``n_i``: 1 plastic, 0 elastic.
    gamma_pl : (N,) float64
        Engineering plastic strain.
    sigma_ext : float
        External (mean) stress.
    time : float
        Simulated time (LJ time units).
    """

    stress_int: NDArray[np.float64]
    threshold: NDArray[np.float64]
    plastic: NDArray[np.int8]
    gamma_pl: NDArray[np.float64]
    sigma_ext: float
    time: float = 0.0

    @property
    def stress(self) -> NDArray[np.float64]:
        """Local stresses ``Sigma_ext + s_i``, (N,)."""
        return self.sigma_ext + self.stress_int

    @property
    def gap(self) -> NDArray[np.float64]:
        """Distance to threshold ``X_i = sigma_th_i - sigma_i``, (N,)."""
        return self.threshold - self.stress

    def gamma_tot(self, mu: float) -> float:
        """Mean total engineering strain ``Sigma_ext / mu + <gamma_pl>``.

        Parameters
        ----------
        mu : float
            Shear modulus of the model (``params.mu``), stress units.

        Returns
        -------
        float
        """
        return float(self.sigma_ext / mu + self.gamma_pl.mean())


@dataclass(frozen=True, eq=False)
class Trajectory:
    """Recorded macroscopic time series of a finite-rate run (one row per record).

    Attributes
    ----------
    time : (m,) float64
        Time of each record (LJ time units).
    sigma_ext : (m,) float64
        External stress (LJ stress units).
    gamma_tot : (m,) float64
        Mean total engineering strain.
    gdot_pl : (m,) float64
        Mean plastic strain rate over the interval ending at each record (1 / time).
    gdot_tot : (m,) float64
        Mean total strain rate over the same interval (``= gdot`` at fixed rate, ``= gdot_pl``
        in creep).
    frac_plastic : (m,) float64
        Fraction of plastic sites at the record.
    stuck : bool
        Creep only: the system reached an absorbing state (all sites elastic and below
        threshold: nothing can change any more at fixed stress).
    stuck_time : float
        Time at which it got stuck (nan if it did not).
    """

    time: NDArray[np.float64]
    sigma_ext: NDArray[np.float64]
    gamma_tot: NDArray[np.float64]
    gdot_pl: NDArray[np.float64]
    gdot_tot: NDArray[np.float64]
    frac_plastic: NDArray[np.float64]
    stuck: bool = False
    stuck_time: float = float("nan")


def finite_rate_initial_state(
    params: FiniteRateParams,
    rng: np.random.Generator,
    thresholds: ThresholdDistribution | ArrayLike | None = None,
    stress: ArrayLike | None = None,
) -> FiniteRateState:
    """Initial condition: every site elastic, zero plastic strain.

    Parameters
    ----------
    params : FiniteRateParams
    rng : numpy.random.Generator
    thresholds : ThresholdDistribution or (N,) / (L, L) array_like, optional
        Threshold map, or a distribution to draw one from. Default: the renewal
        distribution ``Weibull(k_d, sigma_d)``.
    stress : (N,) or (L, L) array_like, optional
        Map of local stresses: the external stress starts at its mean, the internal stress
        is the rest. Default: zero.
    """
    if not isinstance(params, FiniteRateParams):
        raise ValueError(f"params must be FiniteRateParams, got {type(params).__name__}")
    rng = _generator(rng)
    L = params.L
    n = L * L
    if thresholds is None:
        thresholds = params.renewal
    if isinstance(thresholds, ThresholdDistribution):
        th = thresholds.sample(rng, n)
    else:
        th = _site_map("thresholds", thresholds, L)
    if stress is None:
        s = np.zeros(n)
        sigma0 = 0.0
    else:
        s = _site_map("stress", stress, L)
        sigma0 = float(s.mean())
        s -= sigma0
    return FiniteRateState(s, th, np.zeros(n, dtype=np.int8), np.zeros(n), sigma0, 0.0)


def run_fixed_rate(
    params: FiniteRateParams,
    state: FiniteRateState,
    gdot: float,
    duration: float,
    rng: np.random.Generator,
    record_every: int = 100,
    fft_min: int | None = None,
) -> tuple[Trajectory, FiniteRateState]:
    """Shear at fixed mean total strain rate ``gdot`` for ``duration``.

    The external stress follows the feedback ``dSigma/dt = mu (gdot - <d gamma_pl / dt>)``
    (Liu et al. 2021, eq. 2), integrated so that ``Sigma / mu + <gamma_pl>`` grows by exactly
    ``gdot dt`` per step.

    Parameters
    ----------
    params : FiniteRateParams
    state : FiniteRateState
        Not modified.
    gdot : float
        Engineering shear rate, >= 0 (LJ time^-1).
    duration : float
        Simulated time, > 0; rounded to a whole number of steps.
    rng : numpy.random.Generator
    record_every : int
        Record the macroscopic observables every this many steps.
    fft_min : int, optional
        Number of plastic sites from which a step's stress update uses an FFT convolution
        (default :func:`femplastic.lattice.fft_min_sites`).

    Returns
    -------
    trajectory : Trajectory
    state : FiniteRateState
        The final state (new arrays).

    Examples
    --------
    >>> import numpy as np
    >>> p = FiniteRateParams(L=16)
    >>> rng = np.random.default_rng(0)
    >>> s0 = finite_rate_initial_state(p, rng)
    >>> traj, s1 = run_fixed_rate(p, s0, gdot=1e-2, duration=10.0, rng=rng)
    >>> traj.time.shape, round(s1.time, 6)            # a record every 100 steps of 0.01
    ((10,), 10.0)
    >>> round(s1.gamma_tot(p.mu) - s0.gamma_tot(p.mu), 9)   # exact strain bookkeeping
    0.1
    """
    g = _real("gdot", gdot)
    if g < 0 or not np.isfinite(g):
        raise ValueError(f"gdot must be in [0, inf), got {gdot!r}")
    return _run_finite_rate(params, state, 1, g, duration, rng, record_every, fft_min, False)


def run_creep(
    params: FiniteRateParams,
    state: FiniteRateState,
    sigma_ext: float,
    duration: float,
    rng: np.random.Generator,
    record_every: int = 100,
    stop_when_stuck: bool = True,
    fft_min: int | None = None,
) -> tuple[Trajectory, FiniteRateState]:
    """Creep: impose the external stress ``sigma_ext`` (instantaneously) for ``duration``.

    Parameters
    ----------
    params : FiniteRateParams
    state : FiniteRateState
        Not modified; its external stress is replaced by ``sigma_ext``.
    sigma_ext : float
        Imposed stress (finite).
    duration : float
        Simulated time, > 0.
    rng : numpy.random.Generator
    record_every : int
    stop_when_stuck : bool
        End the run when the absorbing (stuck) state is reached: afterwards nothing can
        change. The trajectory then ends at ``stuck_time``.
    fft_min : int, optional

    Returns
    -------
    trajectory : Trajectory
    state : FiniteRateState

    Examples
    --------
    Far below the yield stress the system gets stuck at once:

    >>> import numpy as np
    >>> p = FiniteRateParams(L=16)
    >>> rng = np.random.default_rng(0)
    >>> s0 = finite_rate_initial_state(p, rng, thresholds=Weibull(4.0, 1.3))
    >>> traj, _ = run_creep(p, s0, sigma_ext=0.1, duration=100.0, rng=rng)
    >>> traj.stuck, bool(traj.stuck_time < 100.0)
    (True, True)
    """
    s = _real("sigma_ext", sigma_ext)
    if not np.isfinite(s):
        raise ValueError("sigma_ext must be finite")
    stop_when_stuck = _flag("stop_when_stuck", stop_when_stuck)
    state = replace(state, sigma_ext=s) if isinstance(state, FiniteRateState) else state
    return _run_finite_rate(params, state, 0, 0.0, duration, rng, record_every, fft_min,
                            stop_when_stuck)


@interrupt.deferring
def _run_finite_rate(
    params: FiniteRateParams,
    state: FiniteRateState,
    mode: int,
    drive: float,
    duration: float,
    rng: np.random.Generator,
    record_every: int,
    fft_min: int | None,
    stop_when_stuck: bool,
) -> tuple[Trajectory, FiniteRateState]:
    if not isinstance(params, FiniteRateParams):
        raise ValueError(f"params must be FiniteRateParams, got {type(params).__name__}")
    rng = _generator(rng)
    n = params.L * params.L
    _check_state("state", state, FiniteRateState, n)
    T = _positive("duration", duration)
    n_steps = int(round(T / params.dt))
    if n_steps < 1:
        raise ValueError(f"duration={T:g} is shorter than one time step dt={params.dt:g}")
    if isinstance(record_every, bool) or not isinstance(record_every, int | np.integer) \
            or record_every < 1:
        raise ValueError(f"record_every must be an integer >= 1, got {record_every!r}")
    if n_steps // record_every + 2 > MAX_RECORDS:
        raise ValueError(
            f"duration={T:g} with record_every={record_every} makes "
            f"{n_steps // record_every + 2} records: at most {MAX_RECORDS} (raise "
            "record_every or shorten the run)"
        )
    if fft_min is None:
        fft_min = fft_min_sites(params.L)
    if isinstance(fft_min, bool) or not isinstance(fft_min, int | np.integer) or fft_min < 1:
        raise ValueError(f"fft_min must be an integer >= 1, got {fft_min!r}")

    kern = params.kernel
    G_eng = np.ascontiguousarray(0.5 * kern.G)  # per unit engineering strain
    Ghat_eng = 0.5 * kern.Ghat_half  # the same, half spectrum for rfft2
    L = params.L
    field = np.zeros((L, L))  # FFT-step buffer, reset after use (no per-step allocation)
    s = state.stress_int.copy()
    th = state.threshold.copy()
    pl = np.ascontiguousarray(state.plastic, dtype=np.int8).copy()
    gp = np.ascontiguousarray(state.gamma_pl, dtype=float).copy()
    dgam = np.empty(n)
    plist = np.empty(n, dtype=np.int64)
    # scal: sigma_ext, t0, acc dgam since record, <gamma_pl>
    scal = np.array([state.sigma_ext, state.time, 0.0, gp.mean()])
    iscal = np.zeros(4, dtype=np.int64)  # step, n_rec, pending n_pl, stuck step (-1)
    iscal[3] = -1
    n_rec = n_steps // record_every + 2
    rec = np.zeros((n_rec, 4))  # time, sigma_ext, <gamma_pl>, frac_plastic ; gdot from acc
    acc = np.zeros(n_rec)
    kind, dpar, dtab = params.renewal.code()
    p_pl = -math.expm1(-params.dt / params.tau_pl)
    p_res = -math.expm1(-params.dt / params.tau_res)
    c_flow = params.dt / (params.mu * params.tau)
    stop = 1 if (stop_when_stuck and mode == 0) else 0
    chunk = max(1, _CHUNK_SITE_STEPS // n)  # steps per compiled call: Ctrl-C within ~0.1 s
    while True:
        interrupt.check()  # a safe point between compiled calls
        stop_at = min(n_steps, int(iscal[0]) + chunk)
        code = _fr_advance(s, th, pl, gp, dgam, plist, G_eng, params.L, scal, iscal, n_steps,
                           stop_at, fft_min, mode, drive, params.mu, p_pl, p_res, c_flow,
                           params.dt, kind, dpar, dtab, rng, rec, acc, record_every, stop)
        if code == 1:  # many plastic sites: this step's stress update by FFT
            k = iscal[2]
            idx = plist[:k]
            field.flat[idx] = dgam[:k]
            P = scipy.fft.rfft2(field)
            P *= Ghat_eng
            s += scipy.fft.irfft2(P, s=(L, L), overwrite_x=True).reshape(-1)
            field.flat[idx] = 0.0
            _fr_finish(gp, dgam, plist, k, scal, iscal, n_steps, mode, drive, params.mu,
                       params.dt, rec, acc, record_every, n)
            continue
        if code == 0 and iscal[0] < n_steps:  # end of a chunk: next call
            continue
        break
    m = iscal[1]
    rec = rec[:m]
    t = rec[:, 0]
    sig = rec[:, 1]
    gtot = sig / params.mu + rec[:, 2]
    g0 = state.gamma_tot(params.mu)
    dtt = np.diff(np.concatenate([[state.time], t]))
    with np.errstate(invalid="ignore", divide="ignore"):
        gdot_pl = acc[:m] / (n * dtt)
        gdot_tot = np.diff(np.concatenate([[g0], gtot])) / dtt
    stuck = iscal[3] >= 0
    stuck_time = state.time + iscal[3] * params.dt if stuck else float("nan")
    traj = Trajectory(t, sig, gtot, gdot_pl, gdot_tot, rec[:, 3], bool(stuck), float(stuck_time))
    final = FiniteRateState(s, th, pl, gp, float(scal[0]), float(state.time + iscal[0] * params.dt))
    return traj, final



"""Quasistatic extremal dynamics of the scalar lattice EPM of Tyukodi et al. (2023).

The external stress rises until the weakest site yields; the avalanche then runs at fixed
total strain, each slip drawing its increment (mean ``c0 + c1 sigma_c^2``, slip-threshold
correlation) and a new threshold from the renewal law (disordered or rejuvenation scenario).
The compiled avalanche loop is in :mod:`femplastic.lattice.loops`. Conventions of both lattice
models: :mod:`femplastic.lattice`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import interrupt
from . import common
from .common import _check_state, _generator, _kernel, _lattice_size, _positive, _real, _site_map
from .kernel import LatticeEshelby, effective_modulus
from .loops import _qs_advance
from .observables import localisation_index
from .thresholds import ThresholdDistribution, Weibull, _as_distribution  # noqa: F401 (doctest)

__all__ = [
    "QuasistaticParams",
    "QuasistaticState",
    "QuasistaticResult",
    "quasistatic_initial_state",
    "run_quasistatic",
]


@dataclass(frozen=True)
class QuasistaticParams:
    """Quasistatic extremal scalar EPM with renewal disorder (Tyukodi et al. 2023).

    Parameters
    ----------
    initial : ThresholdDistribution
        ``p_i``: thresholds of the as-quenched glass.
    renewal : ThresholdDistribution, optional
        ``p_r``: thresholds drawn after each slip. None: the *disordered* scenario
        ``p_r = p_i``; another distribution (a younger glass): the *rejuvenation* scenario.
    c0, c1 : float
        Slip increments ``eps0`` (tensor plastic strain) are exponential with mean
        ``c0 + c1 sigma_c^2``, ``sigma_c`` the threshold just exceeded; ``c0 > 0``,
        ``c1 >= 0``.
    L : int
        Lattice size (seed: 16).
    mu, K : float
        Shear and 2D bulk moduli (seed: ESL glass 14.7, 52; GQ glass 19, 55).
    normalisation : {"eshelby", "continuum"}
        Lattice kernel normalisation.
    max_events : int
        Safety bound on the number of events in one avalanche (a RuntimeError beyond).
    """

    initial: ThresholdDistribution
    renewal: ThresholdDistribution | None = None
    c0: float = 0.0626
    c1: float = 0.0
    L: int = 16
    mu: float = 14.7
    K: float = 52.0
    normalisation: Literal["eshelby", "continuum"] = "eshelby"
    max_events: int = 10_000_000

    def __post_init__(self) -> None:
        _as_distribution("initial", self.initial)
        if self.renewal is not None:
            _as_distribution("renewal", self.renewal)
        object.__setattr__(self, "c0", _positive("c0", self.c0))
        c1 = _real("c1", self.c1)
        if c1 < 0 or not np.isfinite(c1):
            raise ValueError(f"c1 must be in [0, inf), got {self.c1!r}")
        object.__setattr__(self, "c1", c1)
        object.__setattr__(self, "L", _lattice_size(self.L))
        object.__setattr__(self, "mu", _positive("mu", self.mu))
        object.__setattr__(self, "K", _positive("K", self.K, allow_inf=True))
        if self.normalisation not in ("eshelby", "continuum"):
            raise ValueError(
                f"normalisation must be 'eshelby' or 'continuum', got {self.normalisation!r}"
            )
        if isinstance(self.max_events, bool) or not isinstance(self.max_events, int) \
                or self.max_events < 1:
            raise ValueError(f"max_events must be an integer >= 1, got {self.max_events!r}")

    @property
    def renewal_dist(self) -> ThresholdDistribution:
        """``p_r`` (``p_i`` in the disordered scenario)."""
        return self.initial if self.renewal is None else self.renewal

    @property
    def scenario(self) -> str:
        """``"disordered"`` (``p_r = p_i``) or ``"rejuvenation"``."""
        return "disordered" if self.renewal is None else "rejuvenation"

    @property
    def kernel(self) -> LatticeEshelby:
        """The lattice Eshelby kernel (cached)."""
        return _kernel(self.L, self.mu, self.K, self.normalisation)

    @property
    def mu_eff(self) -> float:
        """``mu* = mu / (1 + mu / K)``."""
        return effective_modulus(self.mu, self.K)

    @property
    def mean_slip(self) -> float:
        """``eps0_bar = c0 + c1 <sigma_c^2>_r`` over the renewal distribution."""
        return self.c0 + self.c1 * self.renewal_dist.second_moment()

    @property
    def disorder_strength(self) -> float:
        """``s = std(p_r) / (mu* eps0_bar)`` (Tyukodi et al. 2023, eq. 3)."""
        return self.renewal_dist.std() / (self.mu_eff * self.mean_slip)

    @property
    def age(self) -> float:
        """``r = (<sigma_c^i> - <sigma_c^r>) / <sigma_c^r>`` (Tyukodi et al. 2023, eq. 6)."""
        mr = self.renewal_dist.mean()
        return (self.initial.mean() - mr) / mr


@dataclass(frozen=True, eq=False)
class QuasistaticState:
    """State of the quasistatic model.

    Attributes
    ----------
    stress_int : (N,) float64
        Internal stress (zero mean).
    threshold : (N,) float64
    eps_pl : (N,) float64
        Tensor plastic shear strain.
    sigma_ext : float
        External (mean) stress.
    eps_tot : float
        Mean total tensor shear strain ``Sigma / (2 mu) + <eps_pl>``.
    """

    stress_int: NDArray[np.float64]
    threshold: NDArray[np.float64]
    eps_pl: NDArray[np.float64]
    sigma_ext: float
    eps_tot: float

    @property
    def gamma(self) -> float:
        """Engineering macroscopic strain ``2 eps_tot``."""
        return 2.0 * self.eps_tot

    @property
    def stress(self) -> NDArray[np.float64]:
        """Local stresses, (N,)."""
        return self.sigma_ext + self.stress_int

    def strain_field(self, mu: float) -> NDArray[np.float64]:
        """Local total engineering strain ``sigma_i / mu + 2 eps_pl_i``.

        Parameters
        ----------
        mu : float
            Shear modulus of the model (``params.mu``), stress units.

        Returns
        -------
        (N,) ndarray
            One strain per site (row-major, x fastest).
        """
        return self.stress / mu + 2.0 * self.eps_pl


@dataclass(frozen=True, eq=False)
class QuasistaticResult:
    """Output of :func:`run_quasistatic` (engineering strains).

    Attributes
    ----------
    gamma : (n_av,) float64
        Strain at which each avalanche happened (strain is fixed during an avalanche).
    sigma_peak, sigma_after : (n_av,) float64
        External stress at the start (loading point) and end of each avalanche.
    size : (n_av,) int64
        Number of local slips in each avalanche.
    slip : (n_av,) float64
        Sum of the tensor slip increments in each avalanche.
    obs_gamma : (m,) float64
        Strains of the field observations.
    obs_sigma : (m,) float64
        External stress there.
    mean_threshold, strain_var, loc, stress_std : (m,) float64
        Mean threshold, variance of the local total strain, localisation index
        (:func:`femplastic.lattice.localisation_index`) of the local total strain
        (nan for a zero field), standard deviation of the internal stress.
    """

    gamma: NDArray[np.float64]
    sigma_peak: NDArray[np.float64]
    sigma_after: NDArray[np.float64]
    size: NDArray[np.int64]
    slip: NDArray[np.float64]
    obs_gamma: NDArray[np.float64]
    obs_sigma: NDArray[np.float64]
    mean_threshold: NDArray[np.float64]
    strain_var: NDArray[np.float64]
    loc: NDArray[np.float64]
    stress_std: NDArray[np.float64]


def quasistatic_initial_state(
    params: QuasistaticParams,
    rng: np.random.Generator,
    thresholds: ArrayLike | None = None,
    stress: ArrayLike | None = None,
) -> QuasistaticState:
    """Unstrained initial state, thresholds from ``p_i`` unless a map is given.

    Parameters
    ----------
    params : QuasistaticParams
    rng : numpy.random.Generator
    thresholds : (N,) or (L, L) array_like, optional
        Threshold map (default: drawn from ``params.initial``).
    stress : (N,) or (L, L) array_like, optional
        Initial local stress map (the external stress starts at its mean).
    """
    if not isinstance(params, QuasistaticParams):
        raise ValueError(f"params must be QuasistaticParams, got {type(params).__name__}")
    rng = _generator(rng)
    L = params.L
    n = L * L
    th = params.initial.sample(rng, n) if thresholds is None else _site_map("thresholds",
                                                                          thresholds, L)
    if stress is None:
        s, sigma0 = np.zeros(n), 0.0
    else:
        s = _site_map("stress", stress, L)
        sigma0 = float(s.mean())
        s -= sigma0
    return QuasistaticState(s, th, np.zeros(n), sigma0, sigma0 / (2.0 * params.mu))


@interrupt.deferring
def run_quasistatic(
    params: QuasistaticParams,
    state: QuasistaticState,
    gamma_max: float,
    rng: np.random.Generator,
    observe_every: float | None = None,
) -> tuple[QuasistaticResult, QuasistaticState]:
    """Extremal quasistatic shear with synchronous avalanches up to strain ``gamma_max``.

    Each cycle raises the external stress until the weakest site (smallest
    ``sigma_th - s``) reaches its threshold, then updates all unstable sites synchronously at
    fixed total strain (each slip ``eps0`` lowers the external stress by
    ``2 mu eps0 / N`` and adds ``G * eps0`` to the internal stress) until none is left.

    The strain never decreases. An input state with sites already at or above threshold
    (negative thresholds, as in the measured ``p_i`` of Tyukodi et al. 2023, or a frozen stress map
    above threshold) first relaxes at its own strain: the first record is then at the
    starting strain with ``sigma_peak`` the starting external stress.

    Parameters
    ----------
    params : QuasistaticParams
    state : QuasistaticState
        Not modified.
    gamma_max : float
        Final engineering strain (``2 eps_tot``), > the current one.
    rng : numpy.random.Generator
    observe_every : float, optional
        Strain interval of the field observations, > 0 (default: the strain range / 200).
        Fields are recorded at exactly these strains (on the elastic branch) from the
        starting strain, and at ``gamma_max``, where the run always ends.

    Returns
    -------
    result : QuasistaticResult
    state : QuasistaticState

    Examples
    --------
    >>> import numpy as np
    >>> p = QuasistaticParams(initial=Weibull.from_mean_std(1.14, 0.478), c0=0.03, c1=0.02,
    ...                       L=8, mu=14.7, K=52.0)
    >>> rng = np.random.default_rng(0)
    >>> res, st = run_quasistatic(p, quasistatic_initial_state(p, rng), gamma_max=0.2,
    ...                           rng=rng)
    >>> bool(res.size.min() >= 1), bool(np.all(res.sigma_after <= res.sigma_peak))
    (True, True)
    """
    if not isinstance(params, QuasistaticParams):
        raise ValueError(f"params must be QuasistaticParams, got {type(params).__name__}")
    rng = _generator(rng)
    L = params.L
    n = L * L
    _check_state("state", state, QuasistaticState, n)
    balance = 2.0 * params.mu * (state.eps_tot - float(np.mean(state.eps_pl)))
    if abs(state.sigma_ext - balance) > 1e-6 * max(1.0, abs(state.sigma_ext)):
        raise ValueError(
            f"state.sigma_ext={state.sigma_ext:g} must equal 2 mu (eps_tot - <eps_pl>) = "
            f"{balance:g} (mu={params.mu:g}): a state of another model or an edited one"
        )
    gmax = _real("gamma_max", gamma_max)
    if not np.isfinite(gmax) or gmax <= state.gamma:
        raise ValueError(f"gamma_max must be finite and > the current strain {state.gamma:g}, "
                         f"got {gamma_max!r}")
    dg = (gmax - state.gamma) / 200 if observe_every is None else _positive("observe_every",
                                                                           observe_every)
    # observations every dg from the start, and always one at gamma_max (the end of the run)
    n_obs = max(1, math.ceil((gmax - state.gamma) / dg - 1e-9))
    if n_obs + 1 > common.MAX_RECORDS:
        raise ValueError(
            f"observe_every={dg:g} gives {n_obs + 1} observations between {state.gamma:g} and "
            f"gamma_max={gmax:g}: at most {common.MAX_RECORDS} (raise observe_every)"
        )
    grid = state.gamma + dg * np.arange(n_obs + 1)
    grid[-1] = gmax
    kern = params.kernel
    s = state.stress_int.copy()
    th = state.threshold.copy()
    ep = state.eps_pl.copy()
    scal = np.array([state.sigma_ext, state.eps_tot])
    ikind, ipar, itab = params.renewal_dist.code()
    buf_n = 4096
    chunks: list[NDArray[np.float64]] = []
    obs = np.empty((grid.size, 6))
    unstable = np.empty(n, dtype=np.int64)
    deps = np.empty(n)
    for k, g in enumerate(grid):
        while True:
            interrupt.check()  # a safe point between compiled calls
            rec = np.empty((buf_n, 5))
            cnt = np.zeros(1, dtype=np.int64)
            code = _qs_advance(s, th, ep, scal, kern.G, L, params.mu, params.c0, params.c1,
                               ikind, ipar, itab, rng, 0.5 * g, rec, cnt, unstable, deps,
                               params.max_events)
            chunks.append(rec[: cnt[0]])
            if code == 2:
                raise RuntimeError(
                    f"an avalanche exceeded max_events={params.max_events} slips (slip "
                    "increments too small for the thresholds?)"
                )
            if code == 0:
                break
        sig = scal[0] + s
        strain = sig / params.mu + 2.0 * ep
        loc = localisation_index(strain.reshape(L, L)) if np.any(strain) else np.nan
        obs[k] = (2.0 * scal[1], scal[0], th.mean(), strain.var(), loc, s.std())
    allrec = np.concatenate(chunks) if chunks else np.empty((0, 5))
    result = QuasistaticResult(
        gamma=2.0 * allrec[:, 0], sigma_peak=allrec[:, 1], sigma_after=allrec[:, 2],
        size=allrec[:, 3].astype(np.int64), slip=allrec[:, 4],
        obs_gamma=obs[:, 0], obs_sigma=obs[:, 1], mean_threshold=obs[:, 2],
        strain_var=obs[:, 3], loc=obs[:, 4], stress_std=obs[:, 5],
    )
    final = QuasistaticState(s, th, ep, float(scal[0]), float(scal[1]))
    return result, final

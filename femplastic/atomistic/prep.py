"""ESL glass preparation: equilibrated supercooled liquid, instantaneous quench, CG.

Protocol (Castellanos et al. sec. 2.1, "ESL" of Barbot et al. 2018):

1. start from a jittered lattice (:func:`~femplastic.atomistic.system.random_configuration`),
   remove overlaps by a short CG, melt at ``T_melt`` for ``t_melt``;
2. Nose-Hoover NVT at ``T = 1.132 T_g`` (``T_g = 0.31``) in chunks; after each chunk the self
   intermediate scattering function ``F_s(k, t)`` (``k = 2 pi / sigma_SL`` along x and y,
   averaged over time origins) and the mean-squared displacement are computed from the
   positions sampled every ``sample_dt``; the relaxation time ``tau_alpha`` is where
   ``F_s = 1/e``. The run goes on until it lasts ``n_tau * tau_alpha`` after ``t_min``
   (equilibrium shown by the decay of ``F_s`` many times over, by a ``tau_alpha`` that no
   longer grows from one window to the next (no ageing) and by the drift of the potential
   energy, a linear fit over the window, compared with its fluctuations);
3. velocities set to zero (instantaneous quench), CG to ``|F|_2 < ftol``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .. import interrupt
from .potential import LJ2D, PAPER
from .system import Configuration, Session, random_configuration

__all__ = ["ESLProtocol", "Equilibration", "self_isf", "prepare", "quench"]

T_G = 0.31


@dataclass(frozen=True)
class ESLProtocol:
    """Parameters of the ESL preparation (LJ units).

    Attributes
    ----------
    T : float
        Equilibration temperature (``1.132 T_g = 0.35092``).
    T_melt, t_melt : float
        Melting temperature and duration.
    dt : float
        MD time step.
    t_min : float
        Minimum duration at ``T`` before the equilibrium check.
    t_max : float
        Longest duration at ``T``; reaching it without equilibrium is reported, not hidden
        (``Equilibration.equilibrated`` is False).
    n_tau : float
        Required run length at ``T`` in units of ``tau_alpha``.
    sample_dt : float
        Sampling interval of positions and energy.
    t_damp : float
        Nose-Hoover damping time.
    ftol : float
        CG tolerance on the 2-norm of the force vector.
    k : float
        Wave number of ``F_s`` (2 pi / sigma_SL).
    """

    T: float = 1.132 * T_G
    T_melt: float = 1.0
    t_melt: float = 10.0
    dt: float = 0.005
    t_min: float = 50.0
    t_max: float = 5000.0
    n_tau: float = 10.0
    sample_dt: float = 0.5
    t_damp: float = 0.5
    ftol: float = 1e-10
    k: float = 2 * math.pi

    def __post_init__(self) -> None:
        for name in ("T", "T_melt", "dt", "t_max", "n_tau", "sample_dt", "t_damp", "ftol",
                     "k"):
            v = getattr(self, name)
            if isinstance(v, bool) or not (isinstance(v, (int, float)) and math.isfinite(v)
                                           and v > 0):
                raise ValueError(f"ESLProtocol.{name} must be a finite number > 0, got {v!r}")
        for name in ("t_melt", "t_min"):
            v = getattr(self, name)
            if isinstance(v, bool) or not (isinstance(v, (int, float)) and math.isfinite(v)
                                           and v >= 0):
                raise ValueError(f"ESLProtocol.{name} must be a finite number >= 0, got {v!r}")
        if self.t_max < self.t_min:
            raise ValueError("ESLProtocol.t_max must be >= t_min")
        if self.sample_dt < self.dt:
            raise ValueError("ESLProtocol.sample_dt must be >= dt")


@dataclass
class Equilibration:
    """What shows the liquid was in equilibrium before the quench.

    Attributes
    ----------
    t : (m,) float64
        Lag times of ``fs`` and ``msd``.
    fs, msd : (m,) float64
        Self-ISF and MSD over all atoms, averaged over time origins.
    tau_alpha : float
        ``F_s(tau_alpha) = 1/e`` (linear interpolation); NaN if ``F_s`` never got there.
    duration : float
        Time spent at ``T``.
    n_tau : float
        ``duration / tau_alpha``.
    pe_drift : float
        Drift of the potential energy per atom over the run (slope x duration).
    pe_std : float
        Standard deviation of the potential energy per atom around the fit.
    temperature : float
        Mean kinetic temperature at ``T``.
    equilibrated : bool
        ``n_tau >= protocol.n_tau``, ``|pe_drift| < 2 pe_std`` and ``tau_alpha`` within 10 % of
        the previous assessment's (``extra["tau_alpha_previous"]``; no ageing).
    """

    t: NDArray[np.float64]
    fs: NDArray[np.float64]
    msd: NDArray[np.float64]
    tau_alpha: float
    duration: float
    n_tau: float
    pe_drift: float
    pe_std: float
    temperature: float
    equilibrated: bool
    extra: dict[str, Any] = field(default_factory=dict)


def self_isf(traj: NDArray[np.float64], k: float, lags: NDArray[np.int_] | None = None
             ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Self-ISF and MSD of an unwrapped trajectory, averaged over time origins.

    Parameters
    ----------
    traj : (m, n, 2) float64
        Unwrapped positions at ``m`` equally spaced times.
    k : float
        Wave number; ``F_s = < cos(k dx) + cos(k dy) > / 2``.
    lags : (q,) int, optional
        Lags in sampling intervals (default ``0 .. m - 1``).

    Returns
    -------
    fs, msd : (q,) float64
        At the lags.
    """
    m = traj.shape[0]
    lags = np.arange(m) if lags is None else np.asarray(lags)
    fs = np.empty(len(lags))
    msd = np.empty(len(lags))
    for i, lag in enumerate(lags):
        d = traj[lag:] - traj[: m - lag]
        fs[i] = 0.5 * np.cos(k * d).mean(axis=(0, 1)).sum()
        msd[i] = (d**2).sum(-1).mean()
    return fs, msd


def _tau(t: NDArray[np.float64], fs: NDArray[np.float64]) -> float:
    below = np.nonzero(fs < 1 / math.e)[0]
    if below.size == 0:
        return math.nan
    i = below[0]
    if i == 0:
        return float(t[0])
    f0, f1 = fs[i - 1], fs[i]
    return float(t[i - 1] + (f0 - 1 / math.e) / (f0 - f1) * (t[i] - t[i - 1]))


def prepare(n: int, rng: np.random.Generator, protocol: ESLProtocol = ESLProtocol(),
            pot: LJ2D = PAPER, progress: Any = None
            ) -> tuple[Configuration, Configuration, Equilibration]:
    """The ESL liquid at ``T`` and its quenched, minimised glass.

    Parameters
    ----------
    n : int
        Number of atoms.
    rng : numpy.random.Generator
        The only source of randomness (lattice jitter, species, LAMMPS velocity seeds).
    protocol : ESLProtocol
    pot : LJ2D
    progress : callable, optional
        ``progress(str)`` called after each MD chunk.

    Returns
    -------
    liquid : Configuration
        The last equilibrium liquid configuration.
    glass : Configuration
        Its quench (``meta["fmax"]``, ``meta["cg_iterations"]``).
    eq : Equilibration
    """
    p = protocol
    conf = random_configuration(n, rng, pot)
    seeds = rng.integers(1, 2**31 - 1, size=2)
    with Session(conf, pot) as s, interrupt.deferred():
        s.command("minimize 0 1e-3 500 5000", "reset_timestep 0", f"timestep {p.dt!r}",
                  f"velocity all create {p.T_melt!r} {int(seeds[0])} dist gaussian mom yes",
                  f"fix md all nvt temp {p.T_melt!r} {p.T_melt!r} {p.t_damp!r}",
                  f"run {round(p.t_melt / p.dt)}", "unfix md",
                  f"velocity all scale {p.T!r}",
                  f"fix md all nvt temp {p.T!r} {p.T!r} {p.t_damp!r}")
        interrupt.check()
        every = max(1, round(p.sample_dt / p.dt))
        sdt = every * p.dt
        chunk = max(1, round(max(p.t_min, 10 * sdt) / sdt))
        traj: list[NDArray[np.float64]] = []
        pe: list[float] = []
        temp: list[float] = []
        duration = 0.0
        eq = None
        while True:
            for _ in range(chunk):
                s.command(f"run {every} post no")
                traj.append(s.unwrapped())
                pe.append(float(s.lmp.get_thermo("pe")))
                temp.append(float(s.lmp.get_thermo("temp")))
                duration += sdt
            interrupt.check()
            prev_tau = eq.tau_alpha if eq is not None else math.nan
            eq = _assess(np.array(traj), np.array(pe), np.array(temp), sdt, duration, p)
            # stationarity: tau_alpha of this window within 10 % of the previous window's
            # (an ageing liquid relaxes ever more slowly)
            stable = abs(eq.tau_alpha - prev_tau) < 0.1 * eq.tau_alpha
            eq.extra["tau_alpha_previous"] = prev_tau
            eq.equilibrated = bool(eq.equilibrated and stable)
            if progress is not None:
                progress(f"T={p.T:.4f} t={duration:.0f} tau_alpha={eq.tau_alpha:.1f} "
                         f"({eq.n_tau:.1f} tau) drift={eq.pe_drift:.2e} std={eq.pe_std:.2e}")
            if eq.equilibrated or duration >= p.t_max:
                break
            chunk = max(chunk, len(traj) // 2)  # grow geometrically
            if duration + chunk * sdt > p.t_max:
                chunk = max(1, round((p.t_max - duration) / sdt))
        liquid = s.configuration()
        s.command("unfix md")
        res = s.minimize(p.ftol)
        glass = s.configuration()
        glass.meta.update(fmax=res["fmax"], cg_iterations=res["iterations"])
    return liquid, glass, eq


def _assess(traj: NDArray[np.float64], pe: NDArray[np.float64], temp: NDArray[np.float64],
            sdt: float, duration: float, p: ESLProtocol) -> Equilibration:
    m = traj.shape[0]
    # the second half of the run gives the relaxation (the first half may still age)
    half = traj[m // 2:]
    lags = np.unique(np.r_[0, np.geomspace(1, max(1, len(half) - 1), 60).astype(int)])
    fs, msd = self_isf(half, p.k, lags)
    t = lags * sdt
    tau = _tau(t, fs)
    tt = np.arange(m) * sdt
    sel = slice(m // 2, None)
    if m - m // 2 >= 3:
        coef = np.polyfit(tt[sel], pe[sel], 1)
        drift = float(coef[0] * (tt[sel][-1] - tt[sel][0]))
        std = float(np.std(pe[sel] - np.polyval(coef, tt[sel])))
    else:
        drift, std = math.nan, math.nan
    ntau = duration / tau if math.isfinite(tau) and tau > 0 else 0.0
    ok = bool(duration >= p.t_min and ntau >= p.n_tau and math.isfinite(drift)
              and abs(drift) < 2 * std)
    return Equilibration(t, fs, msd, tau, duration, ntau, drift, std,
                         float(np.mean(temp[sel])), ok)


def quench(liquid: Configuration, ftol: float = 1e-10, pot: LJ2D = PAPER) -> Configuration:
    """Instantaneous quench of a configuration: CG to ``|F|_2 < ftol``.

    Parameters
    ----------
    liquid : Configuration
    ftol : float
    pot : LJ2D

    Returns
    -------
    Configuration
        With ``meta["fmax"]`` and ``meta["cg_iterations"]``.
    """
    if not isinstance(liquid, Configuration):
        raise TypeError(f"liquid must be a Configuration, got {type(liquid).__name__}")
    if not (isinstance(ftol, (int, float)) and not isinstance(ftol, bool)
            and math.isfinite(ftol) and ftol > 0):
        raise ValueError(f"ftol must be a finite number > 0, got {ftol!r}")
    with Session(liquid, pot) as s, interrupt.deferred():
        res = s.minimize(ftol)
        glass = s.configuration()
    interrupt.check()
    glass.meta.update(fmax=res["fmax"], cg_iterations=res["iterations"])
    return glass

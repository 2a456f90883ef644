"""Kinetic Monte Carlo quench of the weak-plane model (Castellanos et al. 2021, appendix A.3).

Start from random systems, zero stress and strain at fixed external strain 0. Each KMC step
selects one system among all ``n_elem N`` with probability ``nu_n / sum(nu)``,
``nu_n = exp(-dtau_c_n V_a / T)``, slips it with amplitude bound ``gmax(tau_c)`` (the system
reached its threshold thermally), renews its element, and relaxes athermally (AQS rules).
The KMC clock advances by an exponential waiting time of rate ``sum(nu)``.

**Exact selection in O(n) per event** (:mod:`femplastic.weakplane.kmc_kernels`). Every event
changes every element's stress through the long-range kernel, so no per-system rate can be
kept up to date for less than ``n N`` work. Instead each element ``e`` keeps the exact total
rate ``R_e = sum_k nu_ek`` at a reference stress ``(s_ref, p_ref)``. Resolved stresses are unit
projections of ``s``, so ``dtau_ek(s) >= dtau_ek(ref) - delta_e`` with
``delta_e = |s - s_ref| + |a| |p - p_ref|`` (triangle inequality), and
``R_e(s) <= B_e = R_e(ref) exp(beta delta_e)``, ``beta = V_a / T``: an O(1) bound per element.
A step computes all ``B_e`` (O(n); an element is first recomputed exactly, O(N), when its
systems were renewed or ``beta delta_e > 1/2``), draws ``e`` with probability ``B_e / sum B``
and a uniform ``u``: system ``k`` is taken if ``u`` falls in the ``k``-th of the consecutive
intervals of lengths ``nu_ek / B_e`` (total ``R_e / B_e <= 1``), else the trial is rejected and
repeated with the same bounds. A trial yields ``(e, k)`` with probability
``(B_e / sum B) (nu_ek / B_e) = nu_ek / sum B``, independent of the trial, so the accepted
event has probability ``nu_ek / sum(nu)`` exactly, and each trial succeeds with probability
``sum(nu) / sum B >= exp(-1/2)``. The clock: proposals form a Poisson process of rate
``sum B`` (exponential gaps), thinned with probability ``R_e / B_e``; the thinned process is
Poisson of rate ``sum(nu)``, so the accumulated gaps up to the accepted trial are exponential
of rate ``sum(nu)``, as with the reference scan (``selection="scan"``). The draws differ from
the scan's, the distribution of the trajectory does not. (The 3D compiled loop,
:func:`femplastic.weakplane.kmc_kernels3d.kmc_run`, skips the x-rows whose booked drift
bound proves that none of their elements needs a refresh: the same refreshes and draws.)

**Stationarity criterion.** Events are grouped in blocks of ``n_elem`` events. For each
block we record the mean threshold over all systems and the mean von Mises stress over all
elements. The liquid is declared stationary at the end of block ``b >= 2 W`` when, for both
observables, the mean of the last ``W`` blocks differs from the mean of the ``W`` blocks before
by less than ``tol`` (relative). Defaults ``W = 5``, ``tol = 0.02``; at most ``max_events``
events (default ``400 n_elem``).

Then the instantaneous quench: ``T = 0``, athermal relaxation; the stress becomes the
pre-stress ``Sigma0``; plastic strain, external strain and counters are reset; angles and
thresholds are kept. At fixed external strain 0 a single realisation keeps the small mean
stress ``-C : <eps_pl>`` its plastic strain implies.
"""

from __future__ import annotations

import math
import time as _time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ... import interrupt, threads, validation
from ...fe.elasticity import Isotropic
from ...fe.mesh import FEMesh
from ...fe.propagators import Propagator
from ..bundles import kernel_state
from ..dimension import equivalent_shear, kernels_of
from ..params import ModelParams
from ..slip import SlipLaw
from ..state import State, build_model
from .aqs import _Buffers, relax
from .progress import StationarityEstimate, report

__all__ = ["quench", "QuenchInfo"]


@dataclass(frozen=True)
class QuenchInfo:
    """Diagnostics of a quench.

    Attributes
    ----------
    n_thermal : int
        Thermally activated events.
    n_events : int
        All slip events (thermal + athermal avalanches) before the reset.
    time : float
        KMC time reached.
    stationary : bool
        Whether the stationarity criterion was met (else ``max_events`` stopped it).
    block_tauc, block_vm : (n_blocks,) ndarray
        Block means of the thresholds and of the von Mises stress.
    """

    n_thermal: int
    n_events: int
    time: float
    stationary: bool
    block_tauc: NDArray[np.float64]
    block_vm: NDArray[np.float64]


def _drift(x: list[float], W: int) -> float | None:
    """Relative drift between the last two windows of ``W`` block means (None: too few)."""
    if len(x) < 2 * W:
        return None
    a = float(np.mean(x[-W:]))
    b = float(np.mean(x[-2 * W:-W]))
    return abs(a - b) / abs(a) if a != 0 else (0.0 if a == b else math.inf)


def _stationary(x: list[float], W: int, tol: float) -> bool:
    d = _drift(x, W)
    return d is not None and d <= tol


@interrupt.deferring
def quench(
    params: ModelParams,
    rng: np.random.Generator,
    T: float | None = None,
    V_a: float | None = None,
    mesh: FEMesh | None = None,
    material: Isotropic | None = None,
    law: SlipLaw | None = None,
    propagator: Propagator | None = None,
    max_events: int | None = None,
    window: int = 5,
    tol: float = 0.02,
    return_info: bool = False,
    progress: Callable[[float], None] | None = None,
    selection: str = "bounded",
) -> State | tuple[State, QuenchInfo]:
    """Prepare a quenched glass by KMC equilibration at ``T`` then an instantaneous quench.

    Parameters
    ----------
    params : ModelParams
    rng : numpy.random.Generator
        Source of every random draw.
    T, V_a : float, optional
        Temperature and activation volume (default ``params.T``, ``params.V_a``). ``T = 0``
        skips the thermal stage (random systems, zero pre-stress).
    mesh, material, law, propagator : optional
        Custom ingredients (see :func:`femplastic.weakplane.state.build_model`), e.g. a periodic
        mesh
        from :func:`femplastic.fe.mesh.load`. They override those of ``params.variant``
        (:mod:`femplastic.weakplane.variants`); for variant A without ``material`` the per-element
        shear moduli are drawn from ``rng`` first, so they belong to this realisation.
    max_events : int, optional
        Cap on thermal events (default ``400 n_elem``).
    window, tol : int, float
        Stationarity criterion (module docstring).
    return_info : bool
        Also return a :class:`QuenchInfo`.
    progress : callable, optional
        Called with the estimated fraction done, judged against the stationarity criterion
        (:class:`~femplastic.weakplane.drivers.progress.StationarityEstimate`), once per
        block; see :func:`~femplastic.weakplane.drivers.progress.report`.
    selection : {"bounded", "scan"}
        How thermal events are selected: ``"bounded"`` (default) the exact O(n) rejection
        scheme of the module docstring; ``"scan"`` the reference O(n N) scan of every rate.
        Both select with probability ``nu_n / sum(nu)``; their random draws differ.

    Returns
    -------
    State or (State, QuenchInfo)
    """
    validation.check_quench(params, rng, T, V_a, mesh, material, law, propagator, max_events)
    T = params.T if T is None else float(T)
    V_a = params.V_a if V_a is None else float(V_a)
    if not np.isfinite(T) or T < 0:
        raise ValueError(f"T must be >= 0, got {T!r}")
    if not np.isfinite(V_a) or V_a <= 0:
        raise ValueError(f"V_a must be > 0, got {V_a!r}")
    if selection not in ("bounded", "scan"):
        raise ValueError(f"selection must be 'bounded' or 'scan', got {selection!r}")
    if window < 1 or not (0 < tol < 1):
        raise ValueError(f"window must be >= 1 and tol in (0, 1), got {window}, {tol}")
    # variant A: the realisation's moduli are the first draws from rng
    model = build_model(params, mesh=mesh, material=material, law=law, propagator=propagator,
                        rng=rng)
    st = State.fresh(model, rng)
    n = st.n_elem
    max_events = 400 * n if max_events is None else int(max_events)
    if max_events < 0:
        raise ValueError(f"max_events must be >= 0, got {max_events}")
    law_f = model.law_arrays[1]
    K, _, KK = kernels_of(model.dim)  # the dimension's compiled kernels (same signatures)
    buf = _Buffers(n, 0, model.components)
    block_tauc: list[float] = []
    block_vm: list[float] = []
    n_thermal = 0
    n_events = 0
    time = 0.0
    stationary = T == 0
    if T > 0:
        beta = V_a / T
        form = model.propagator.numba_form() if selection == "bounded" else None
        kcache = KK.kmc_cache(n)
        system, law, cache = kernel_state(st)
        estimate = StationarityEstimate(window, tol, max_events / n)
        gate = threads.Gate(n)  # the free-core gate of the per-step relaxations (no compiled form)
        part = max(1, (1 << 15) // n)  # thermal steps of the next compiled call
        tuner = threads.Tuner(gate.grain)  # compiled parts: threaded or serial, the faster
        while n_thermal < max_events:
            interrupt.check()  # a safe point between compiled calls
            if form is not None:  # a whole block in compiled calls
                todo = min(n - n_thermal % n, max_events - n_thermal)
                dt, n_ev, left = 0.0, 0, todo
                while left > 0:  # parts of ~0.1 s, the Tuner decides between them
                    k = min(left, part)
                    t0 = _time.perf_counter()
                    status, k_ev, dt = KK.kmc_run(form, st.stress, system, law, cache,
                                                  buf.work, buf.events, kcache, rng, beta, k,
                                                  1_000_000, tuner.par, dt)  # time summed on
                    if status != 0:
                        raise RuntimeError("relaxation did not stop after 1000000 sweeps")
                    n_ev += k_ev
                    left -= k
                    took = max(_time.perf_counter() - t0, 1e-6)
                    tuner.record(k + k_ev, took)  # work: thermal steps and slips
                    part = max(1, min(4 * part, int(k * 0.1 / took)))
                    if left:
                        interrupt.check()
                time += dt
                n_events += n_ev
                n_thermal += todo
            else:
                if selection == "bounded":
                    e, k, dt = KK.kmc_select_bounded(st.stress, st.nv, st.tauc, st.slips, law_f,
                                                  beta, kcache, rng)
                    time += dt
                else:
                    e, k, log_nu = K.kmc_select(st.stress, st.nv, st.tauc, law_f, beta, rng)
                    time += rng.exponential() * np.exp(-log_nu)
                n_ev, _ = relax(st, rng, buf, thermal=(e, k), gate=gate)
                n_events += n_ev
                n_thermal += 1
            if n_thermal % n == 0:
                block_tauc.append(float(st.mean_tauc()))
                block_vm.append(float(equivalent_shear(st.stress).mean()))
                if progress is not None:
                    d = [_drift(block_tauc, window), _drift(block_vm, window)]
                    drift = None if None in d else max(d)
                    report(progress, estimate.update(len(block_tauc), drift), n_events)
                if _stationary(block_tauc, window, tol) and _stationary(block_vm, window, tol):
                    stationary = True
                    break
    # instantaneous quench: T = 0 relaxation, stress -> pre-stress, strains reset
    n_ev, _ = relax(st, rng, buf)
    n_events += n_ev
    st.prestress = st.stress.copy()
    st.eps_pl[:] = 0.0
    st.macro_strain = np.zeros(model.components)
    st.slips[:] = 0
    st.n_events = 0
    st.n_avalanches = 0
    st.time = time
    report(progress, 1.0, n_events)
    if return_info:
        return st, QuenchInfo(n_thermal, n_events, time, stationary, np.array(block_tauc),
                              np.array(block_vm))
    return st

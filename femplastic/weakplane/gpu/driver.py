"""Athermal quasistatic shear on the accelerated backend (JAX; GPU or CPU).

:func:`aqs_gpu` is :func:`femplastic.weakplane.drivers.aqs.aqs` with the avalanche loop on a
JAX device (:mod:`femplastic.weakplane.gpu.loop`): the same rules, the same records
(:class:`~femplastic.weakplane.drivers.aqs.AQSRun`), float64 throughout. The host streams the
records back in chunks (device buffers of fixed size), and rebuilds the per-step arrays with
the numba driver's affine formulas.

**Random numbers.** Every sweep consumes uniforms in the numba path's order (amplitudes of
the active elements in ascending element order, then each slipped element's renewal: one
uniform per group of four angles, then its thresholds). Where they come from:

* ``uniforms="device"`` (default): drawn on the device with ``jax.random`` from a key derived
  from one ``rng.integers`` draw of the user's generator. Same seed, same trajectory on this
  backend; statistically the numba path's law, not its trajectory.
* ``uniforms="host"``: drawn on the host from ``rng.random()`` in blocks and copied to the
  device. numba's ``Generator.random()`` consumes the same stream as numpy's, so this
  reproduces the numba path's trajectory from an identically seeded generator (up to
  round-off; the replay the tests use). The generator is advanced ahead of use (whole
  blocks), so its state after the run differs from the numba path's.

**Quench hand-over.** The KMC quench stays on the CPU: prepare the state with
:func:`femplastic.quench` (numba), then shear it here; the state is copied to the device
once per run and back at its end.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ... import validation
from ...fe.elasticity import ddot, schmid
from ..drivers.aqs import AQSRun, EventLog, check_args
from ..params import ModelParams
from ..state import State
from .runtime import device_name, normalize_backend, require_jax, select_device
from .setup import build_setup

__all__ = ["aqs_gpu", "UNIFORM_SOURCES", "TUNING"]

#: Accepted ``uniforms`` values of :func:`aqs_gpu`.
UNIFORM_SOURCES = ("device", "host")

#: Default compaction sizes per platform (see :class:`~femplastic.weakplane.gpu.setup.LoopConfig`):
#: on the CPU scatters and gathers cost per element, so small blocks win (a larger sweep
#: finishes its renewals over several iterations); on a GPU they are nearly free up to
#: thousands of rows.
TUNING = {"cpu": {"n_check": 32, "n_renew": 16, "n_direct": 8, "blocked": True},
          "accelerator": {"n_check": 8192, "n_renew": 1024, "n_direct": 8, "blocked": False}}


class _Uniforms:
    """The uniform buffer's source: ``jax.random`` on the device, or ``rng.random`` on host."""

    def __init__(self, jax: Any, kind: str, rng: np.random.Generator, size: int,
                 device: Any) -> None:
        self.jax, self.kind, self.rng, self.size, self.device = jax, kind, rng, size, device
        self.refills = 0
        jnp = jax.numpy

        def combine(ubuf: Any, upos: Any, fresh: Any) -> Any:
            keep = jnp.arange(size) < size - upos
            return jnp.where(keep, jnp.roll(ubuf, -upos), fresh)

        self._combine = jax.jit(combine)
        if kind == "device":
            self.key = jax.random.key(int(rng.integers(0, 2**63 - 1)))
            self.host = None
        else:
            self.host = rng.random(size)

    def first(self) -> Any:
        if self.kind == "host":
            return self.host
        return self.jax.device_put(self._fresh(), self.device)

    def _fresh(self) -> Any:
        key = self.jax.random.fold_in(self.key, self.refills)
        return self.jax.random.uniform(key, (self.size,), dtype=self.jax.numpy.float64)

    def refill(self, ubuf: Any, upos: int) -> Any:
        """The buffer with its first ``upos`` (consumed) uniforms dropped and new ones appended."""
        self.refills += 1
        if self.kind == "host":
            self.host = np.concatenate([self.host[upos:], self.rng.random(upos)])
            return self.jax.device_put(self.host, self.device)
        return self._combine(ubuf, self.jax.numpy.int64(upos), self._fresh())


def _host_records(n_steps: int, dgamma: float, Mload: NDArray, vbar: float, vmean: NDArray,
                  mean0: NDArray, step: NDArray, size: NDArray, mean: NDArray,
                  pl: NDArray, w0: float) -> tuple[NDArray, ...]:
    """Per-step records from the avalanche records, with the numba driver's formulas."""
    s = np.arange(n_steps)
    prev = np.searchsorted(step, s, side="left") - 1  # last avalanche strictly before s
    means = np.concatenate([mean0[None, :], mean], axis=0)  # index prev + 1
    kb = np.concatenate([[0], step + 1])  # k_base after each avalanche
    base_mean = means[prev + 1]
    base_ext = ddot(Mload, base_mean)
    x = (s + 1 - kb[prev + 1]) * dgamma
    s_before = base_ext + x * vbar
    s_after = s_before.copy()
    mean_st = base_mean + x[:, None] * vmean[None, :]
    sizes = np.zeros(n_steps, np.int64)
    plast = np.zeros(n_steps)
    if step.size:
        s_after[step] = ddot(Mload, mean)
        mean_st[step] = mean
        sizes[step] = size
        plast[step] = ddot(Mload, pl * w0)
    # the avalanche steps' s_before used (m dgamma) with m = k_trig - k_base: the same value
    return s_before, s_after, mean_st, sizes, plast


def aqs_gpu(
    state: State,
    params: ModelParams | None = None,
    rng: np.random.Generator | None = None,
    gamma_end: float = 2.0,
    dgamma: float = 1e-4,
    alpha: float = 0.0,
    direction: int = 1,
    event_driven: bool = True,
    record_events: bool = False,
    stop_when: Callable[[float, float, float], bool] | None = None,
    progress: Callable[[float], None] | None = None,
    backend: str = "jax",
    uniforms: str = "device",
    max_sweeps: int = 1_000_000,
    chunk_records: int = 8192,
    chunk_events: int = 1 << 18,
    tuning: dict[str, int] | None = None,
    info: dict[str, Any] | None = None,
) -> AQSRun:
    """:func:`femplastic.aqs` on a JAX device; same rules, same records.

    Parameters
    ----------
    state, params, rng, gamma_end, dgamma, alpha, direction, record_events, progress
        As :func:`femplastic.weakplane.drivers.aqs.aqs`. ``progress`` is called once per
        chunk of records.
    event_driven : bool
        Accepted for symmetry; the device loop always jumps exactly over quiet increments,
        which gives the same records as stepping.
    stop_when : None
        Not supported on this backend (the loop does not return to Python after every step);
        must be None.
    backend : {"jax", "gpu"}
        ``"jax"``: JAX's default device (GPU when visible, else CPU); ``"gpu"``: a GPU or an
        error.
    uniforms : {"device", "host"}
        Source of the uniforms (module docstring): ``"host"`` reproduces the numba path.
    max_sweeps : int
        Safety limit on the sweeps of one avalanche.
    chunk_records, chunk_events : int
        Avalanche and event records the device holds between two transfers to the host.
    tuning : dict, optional
        Compaction sizes ``n_check``, ``n_renew``, ``n_direct`` of
        :func:`~femplastic.weakplane.gpu.setup.build_setup` (performance only; the tests
        shrink them to exercise every path). Default :data:`TUNING` of the device's platform.
    info : dict, optional
        Filled with diagnostics: ``device`` (name), ``iterations`` (device loop iterations),
        ``chunks`` (loop calls), ``refills`` (uniform buffer refills), ``config``
        (:class:`~femplastic.weakplane.gpu.setup.LoopConfig`), ``trigger_fallbacks``
        (blocked form: triggers its cached bounds could not verify, decided by the
        step-by-step test).

    Returns
    -------
    AQSRun

    Raises
    ------
    ValueError
        Invalid loading arguments (as :func:`~femplastic.weakplane.drivers.aqs.aqs`), an
        unknown ``backend`` or ``uniforms``, ``stop_when`` given, or a model the backend does
        not run (not the regular periodic grid with the exact kernel: variants A, D, G, I).
    TypeError
        If ``rng`` is not a numpy Generator.
    ImportError
        If JAX is not installed.
    RuntimeError
        ``backend="gpu"`` without a visible GPU; an avalanche longer than ``max_sweeps``.
    """
    check_args(gamma_end, dgamma, alpha, direction)
    validation.rng(rng)
    validation.params_match(state, params)
    backend = normalize_backend(backend)
    if backend == "numba":
        raise ValueError("aqs_gpu runs the JAX backend: backend must be 'jax' or 'gpu'")
    if uniforms not in UNIFORM_SOURCES:
        raise ValueError(f"uniforms must be one of {UNIFORM_SOURCES}, got {uniforms!r}")
    if stop_when is not None:
        raise ValueError("stop_when is not supported by the accelerated backend (the device "
                         "loop does not return after every step); use backend='numba'")
    if int(max_sweeps) < 1:
        raise ValueError(f"max_sweeps must be >= 1, got {max_sweeps!r}")
    st = state.copy()
    m = st.model
    jax = require_jax()
    device = select_device(backend)
    tune = dict(TUNING["cpu" if device.platform == "cpu" else "accelerator"])
    tune.update(tuning or {})
    cfg, consts = build_setup(m, record_events, n_records=chunk_records,
                              n_events=chunk_events, **tune)
    from .chunk import compiled_chunk  # imports jax
    from .loop import init_carry

    n_steps = int(round(gamma_end / dgamma))
    Mload = direction * schmid(alpha)
    vfull = np.ascontiguousarray(m.propagator.load_response(Mload))
    w = m.mesh.areas / m.mesh.areas.sum()
    vbar = float(ddot(Mload, w @ vfull))
    vmean = w @ vfull
    src = _Uniforms(jax, uniforms, rng, cfg.n_unif, device)
    arrays = {"stress": st.stress, "eps_pl": st.eps_pl, "theta": st.theta, "tauc": st.tauc,
              "nv": st.nv, "selfres": st.selfres, "slips": st.slips, "sref": st.sref,
              "pref": st.pref, "margin": st.margin}
    carry = init_carry(cfg, {k: np.array(v) for k, v in arrays.items()}, 0)
    carry["ubuf"] = np.zeros(0)
    carry = {k: jax.device_put(v, device) for k, v in carry.items()}
    carry["ubuf"] = jax.device_put(src.first(), device)
    kd = {"law_f": consts.law_f, "thr_table": consts.thr_table, "angles": consts.angles,
          "kself": consts.kself, "kernel2": consts.kernel2, "symbol2": consts.symbol2,
          "v": vfull[0].copy(), "dgamma": np.float64(dgamma)}
    if cfg.blocked:  # the kernel's two input planes apart: contiguous shifted copies
        kd.update(kern_u=np.ascontiguousarray(consts.kernel2[..., 0]),
                  kern_d=np.ascontiguousarray(consts.kernel2[..., 1]))
    kd = {k: jax.device_put(v, device) for k, v in kd.items()}
    step_fn = compiled_chunk(device.platform)
    cap = jax.device_put(np.int64(n_steps), device)
    msw = jax.device_put(np.int64(max_sweeps), device)

    recs: list[tuple[NDArray, ...]] = []
    evs: list[tuple[NDArray, ...]] = []
    chunks = 0
    while True:
        carry = step_fn(cfg, carry, kd, cap, msw)
        chunks += 1
        status = int(carry["status"])
        nrec = int(carry["n_rec"])
        if nrec:
            # whole buffers (small), sliced on the host: no new device program per length
            recs.append(tuple(np.asarray(carry[f])[:nrec] for f in
                              ("rec_step", "rec_m", "rec_size", "rec_mean", "rec_pl")))
        if cfg.n_ev:
            nev = int(carry["n_ev"])
            if nev:
                evs.append(tuple(np.asarray(carry[f])[:nev] for f in
                                 ("ev_e", "ev_k", "ev_th", "ev_tau", "ev_amp", "ev_aval")))
            carry["n_ev"] = jax.device_put(np.int64(0), device)
        carry["n_rec"] = jax.device_put(np.int64(0), device)
        if progress is not None:
            progress(int(carry["k_base"]) / n_steps)
        if status == 1:
            break
        if status == 5:
            raise RuntimeError(f"relaxation did not stop after {max_sweeps} sweeps")
        if status == 3:
            upos = int(carry["upos"])
            carry["ubuf"] = src.refill(carry["ubuf"], upos)
            carry["upos"] = jax.device_put(np.int64(0), device)
        carry["status"] = jax.device_put(np.int32(0), device)

    def cat(i: int, dtype: Any, shape: tuple[int, ...] = ()) -> NDArray:
        if not recs:
            return np.zeros((0, *shape), dtype)
        return np.concatenate([r[i] for r in recs]).astype(dtype)

    step, size = cat(0, np.int64), cat(2, np.int64)
    mean, pl = cat(3, float, (3,)), cat(4, float, (3,))
    mean0 = w @ st.stress
    s_before, s_after, mean_st, sizes, plast = _host_records(
        n_steps, dgamma, Mload, vbar, vmean, mean0, step, size, mean, pl, float(w[0]))
    # final state, at the last step, from the last base (as the numba driver); the loop ends
    # between avalanches, where its stress is the base
    host = {k: np.asarray(carry[k]) for k in ("stress", "eps_pl", "theta", "tauc", "nv",
                                             "selfres", "slips", "sref", "pref", "margin")}
    k_base = int(carry["k_base"])
    x_end = (n_steps - k_base) * dgamma
    st.stress[:] = host["stress"] + x_end * vfull
    for name in ("eps_pl", "theta", "tauc", "nv", "selfres", "slips", "sref", "pref", "margin"):
        setattr(st, name, np.array(host[name]))
    n_ev_total = int(carry["n_events"])
    st.n_events += n_ev_total
    st.n_avalanches += int(step.size)
    st.macro_strain = st.macro_strain + n_steps * dgamma * Mload
    events = None
    if record_events:
        if evs:
            cols = [np.concatenate([e[i] for e in evs]) for i in range(6)]
        else:
            cols = [np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0),
                    np.zeros(0), np.zeros(0, np.int64)]
        events = EventLog(cols[0].astype(np.int64), cols[1].astype(np.int64), cols[2],
                          cols[3], cols[4], cols[5].astype(np.int64))
    if info is not None:
        info.update(device=device_name(device), iterations=int(carry["iters"]), chunks=chunks,
                    refills=src.refills, config=cfg,
                    trigger_fallbacks=int(carry["fallbacks"]) if cfg.blocked else 0)
    if progress is not None:
        progress(1.0)
    gamma = dgamma * np.arange(1, n_steps + 1)
    return AQSRun(st, gamma, s_after, s_before, sizes, plast, mean_st, events, float(alpha),
                  int(direction), float(dgamma), stopped=False)

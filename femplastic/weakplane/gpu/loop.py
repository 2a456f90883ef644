"""The device loop of the accelerated AQS: many avalanches per call, all on the device.

Two nested ``lax.while_loop``: the outer one runs avalanches, the inner one the synchronous
sweeps of an avalanche, one sweep per iteration (on a GPU each loop test is one host
synchronisation; the trigger is computed without a ``lax.cond``, so a sweep costs the loop
test plus the two branch choices below). The rules are exactly the numba path's
(:mod:`femplastic.weakplane.kernels`, :func:`femplastic.weakplane.drivers.aqs.aqs`):

* *Trigger* (outer body, between avalanches, where the stress is the base): the smallest
  load step at which a system becomes active, analytic (the stress is affine in the load),
  then verified with the exact stability test up and down, as
  :func:`~femplastic.weakplane.kernels.next_trigger` and the numba driver do; the loaded
  stress is ``base + (m dgamma) v``.
* *Sweep* (inner body): first the renewal of the elements that slipped in the previous
  sweep (at most ``n_renew`` per iteration, compacted; a larger sweep finishes its renewals
  in the next iterations before any new stability test); then the stability test with the
  per-element cached margins (the triangle bound of
  :func:`~femplastic.weakplane.kernels.find_active`; only uncertain elements have their ``N``
  systems scanned, compacted when few: a ``lax.cond``); every active element slips on its
  lowest-``dtau_c`` system with a dissipation-bounded amplitude; the stress change is applied
  by direct shifted kernel adds when few elements slip, else by one batched FFT (``rfft2`` of
  the two traceless eigenstrain planes times the kernel symbol): a ``lax.switch``. An empty
  sweep ends the avalanche and writes its record.

That is the *flat* form (the accelerators'). The *blocked* form (``cfg.blocked``, the CPU's;
:mod:`~femplastic.weakplane.gpu.blocked`) runs the same rules with the work of an
iteration proportional to what happens in it rather than to ``n``: the candidates of the
cached stability test are checked in compacted blocks of ``n_check`` elements (a nested
``lax.while_loop``, as many blocks as needed), which list the active elements in order with
what their slips need; the slips go in blocks of ``n_renew``, each element renewed in the same
block (so a sweep is one iteration); the trigger solves exactly only the elements whose cached
lower bound of the activation load is below the best load found, and verifies the step as the
numba driver does. On the CPU a nested loop costs next to nothing while XLA's per-element cost
of gathers, scatters, reductions and transcendental functions is high; on a GPU each loop
test is a host synchronisation, which the flat form avoids.

Random numbers come from a device buffer of uniforms consumed in the numba path's order:
per sweep the amplitudes of the active elements in ascending element order, then each
element's renewal draws (angles, then thresholds). The large ``(n, N)`` arrays are written
only by unconditional scatters outside every ``lax.cond``/``lax.switch`` (XLA would copy
them); branches return ``(n,)`` or ``(n, 3)`` arrays at most.

The loops (:func:`femplastic.weakplane.gpu.chunk.run_chunk`) return when a *status* is set:
1 no trigger before the end of the run, 2 avalanche records full, 3 uniform buffer too short
for the next sweep, 4 event records full, 5 sweep limit. The carry is complete at every exit
(possibly inside an avalanche), so the host drains the records, refills the uniforms and calls
again.
"""

from __future__ import annotations

import functools
from typing import Any

import jax.numpy as jnp
import numpy as np
from jax import lax

from .runtime import require_jax
from .setup import LoopConfig

require_jax()  # float64 before anything is traced

__all__ = ["init_carry", "STATUS", "dtau_rows"]

#: Loop exit codes.
STATUS = {"running": 0, "finished": 1, "records_full": 2, "uniforms_low": 3,
          "events_full": 4, "sweep_limit": 5}
_SAFE = 1e-12  # relative safety of the cached stability test, as in the numba kernels


def dtau_rows(cfg: LoopConfig, stress: Any, nv: Any, tauc: Any, law_f: Any) -> Any:
    """Distances to threshold of the systems of some elements, same formula as numba.

    Parameters
    ----------
    cfg : LoopConfig
    stress : (m, 3) array
        Element stresses (Voigt), units of ``G``.
    nv : (m, N, 2) array
        ``(sin 2theta, cos 2theta)``.
    tauc : (m, N) array
        Thresholds.
    law_f : (6,) array
        Law parameters (``law_f[4:6]`` the pressure coefficient and offset).

    Returns
    -------
    (m, N) array
        ``tau_c + a (p + p0) - tau``.
    """
    s0 = 0.5 * (stress[:, 1] - stress[:, 0])
    s1 = stress[:, 2]
    tau = nv[..., 0] * s0[:, None] + nv[..., 1] * s1[:, None]
    if cfg.pressure:
        p = -0.5 * (stress[:, 0] + stress[:, 1])
        shift = law_f[4] * (p + law_f[5])
        return tauc + shift[:, None] - tau
    return tauc - tau


def _ppf_threshold(cfg: LoopConfig, law_f: Any, table: Any, u: Any) -> Any:
    if cfg.thr_kind == 0:
        return law_f[1] * (-jnp.log1p(-u)) ** (1.0 / law_f[0])
    if cfg.thr_kind == 1:
        return jnp.full(u.shape, law_f[0])
    m = table.shape[0] - 1
    x = u * m
    i = jnp.floor(x).astype(jnp.int64)
    ic = jnp.clip(i, 0, m - 1)
    f = x - ic
    val = table[ic] * (1.0 - f) + table[ic + 1] * f
    return jnp.where(i >= m, table[m], val)


def _ppf_amplitude(cfg: LoopConfig, law_f: Any, gmax: Any, tauc: Any, u: Any) -> Any:
    if cfg.amp_kind == 0:
        return gmax * (1.0 - (1.0 - u) ** (1.0 / law_f[2]))
    if cfg.amp_kind == 1:
        return jnp.full(u.shape, law_f[2])
    return -(law_f[2] + law_f[3] * tauc * tauc) * jnp.log1p(-u)


def _systems(theta: Any, kself: Any) -> tuple[Any, Any]:
    """``nv`` (m, N, 2) and ``selfres`` (m, N) of angles ``theta`` (m, N), as numba."""
    s2 = jnp.sin(2.0 * theta)
    c2 = jnp.cos(2.0 * theta)
    m0 = -0.5 * s2
    m1 = 0.5 * s2
    m2 = 0.5 * c2
    k0 = kself[0, 0] * m0 + kself[0, 1] * m1 + kself[0, 2] * m2
    k1 = kself[1, 0] * m0 + kself[1, 1] * m1 + kself[1, 2] * m2
    k2 = kself[2, 0] * m0 + kself[2, 1] * m1 + kself[2, 2] * m2
    return jnp.stack([s2, c2], axis=-1), -(k0 * m0 + k1 * m1 + 2.0 * k2 * m2)


def init_carry(cfg: LoopConfig, arrays: dict[str, np.ndarray], k_base: int) -> dict[str, Any]:
    """The loop carry of a state at rest (between avalanches).

    Parameters
    ----------
    cfg : LoopConfig
    arrays : dict
        Host arrays of the state: ``stress, eps_pl`` (n, 3), ``theta, tauc, selfres``
        (n, N), ``nv`` (n, N, 2), ``slips`` (n,) int64, ``sref`` (n, 2), ``pref, margin``
        (n,), ``ubuf`` (n_unif,) uniforms.
    k_base : int
        Load steps already applied to ``stress``.

    Returns
    -------
    dict
        The carry (numpy arrays; the driver moves it to the device).
    """
    n = cfg.n_elem
    i64 = np.int64
    c = {k: np.asarray(v) for k, v in arrays.items()}
    c.update(
        pending=np.zeros(n, bool), ren_off=np.zeros(n, i64), upos=i64(0),
        k_base=i64(k_base), k_trig=i64(k_base), m_trig=i64(0), phase=np.int32(0),
        status=np.int32(0), aval_size=i64(0), aval_pl=np.zeros(3), sweeps=i64(0),
        n_events=i64(0), n_aval=i64(0), n_rec=i64(0), iters=i64(0),
        rec_step=np.zeros(cfg.n_records, i64), rec_m=np.zeros(cfg.n_records, i64),
        rec_size=np.zeros(cfg.n_records, i64), rec_mean=np.zeros((cfg.n_records, 3)),
        rec_pl=np.zeros((cfg.n_records, 3)), n_ev=i64(0))
    if cfg.blocked:  # the sweep's active elements and their lowest systems, in order
        c.update(alist=np.zeros(n + cfg.n_renew, i64), klist=np.zeros(n + cfg.n_renew, i64),
                 **{f: np.zeros(n + cfg.n_renew) for f in ("l_sn", "l_cs", "l_tau", "l_tc",
                                                            "l_sr", "l_th")[:6 if cfg.n_ev else 5]},
                 mplus=np.zeros(n), xact=np.zeros(n),  # cached trigger data (margin <= 0: none)
                 fallbacks=i64(0))  # triggers the bounds could not verify (step-by-step test)
    if cfg.n_ev:
        E = cfg.n_ev
        c.update(ev_e=np.zeros(E, i64), ev_k=np.zeros(E, i64), ev_th=np.zeros(E),
                 ev_tau=np.zeros(E), ev_amp=np.zeros(E), ev_aval=np.zeros(E, i64))
    return c


def _renew(cfg: LoopConfig, c: dict[str, Any], k: dict[str, Any]) -> dict[str, Any]:
    """Renew up to ``n_renew`` pending elements (compacted scatter of their new systems)."""
    n, N, R = cfg.n_elem, cfg.N, cfg.n_draws
    idx = jnp.nonzero(c["pending"], size=cfg.n_renew, fill_value=n)[0]
    valid = idx < n
    ic = jnp.minimum(idx, n - 1)
    if R:
        off = c["ren_off"][ic][:, None] + jnp.arange(R)[None, :]
        U = c["ubuf"][jnp.clip(off, 0, cfg.n_unif - 1)]  # (n_renew, R)
    if cfg.renew_ang:
        if cfg.orient_kind == 0:
            th = jnp.pi / 2 - jnp.pi * U[:, :cfg.n_ang]  # (m, N/4)
            rows = jnp.stack([th, th + jnp.pi / 2, th + jnp.pi / 4, th + 3 * jnp.pi / 4],
                             axis=-1).reshape(-1, N)
        else:
            rows = jnp.broadcast_to(k["angles"][None, :N], (idx.shape[0], N))
        nv_rows, sr_rows = _systems(rows, k["kself"])
        c["theta"] = c["theta"].at[idx].set(rows, mode="drop")
        c["nv"] = c["nv"].at[idx].set(nv_rows, mode="drop")
        c["selfres"] = c["selfres"].at[idx].set(sr_rows, mode="drop")
    if cfg.renew_thr:
        ut = U[:, cfg.n_ang:]
        t = _ppf_threshold(cfg, k["law_f"], k["thr_table"], ut)
        if cfg.shared:
            t = jnp.broadcast_to(t[:, :1], (idx.shape[0], N))
        c["tauc"] = c["tauc"].at[idx].set(t, mode="drop")
    c["pending"] = c["pending"].at[jnp.where(valid, idx, n)].set(False, mode="drop")
    return c


def _any_active_at(cfg: LoopConfig, c: dict[str, Any], k: dict[str, Any], x: Any) -> Any:
    trial = c["stress"] + x * k["v"][None, :]  # between avalanches the stress is the base
    return jnp.any(dtau_rows(cfg, trial, c["nv"], c["tauc"], k["law_f"]) < 0.0)


def _trigger(cfg: LoopConfig, c: dict[str, Any], k: dict[str, Any], cap: Any, do: Any) -> Any:
    """Smallest load step ``m`` (``cap + 1``: none before the end), as the numba driver.

    Computed unconditionally (no ``lax.cond``); with ``do`` False (resuming inside an
    avalanche) the verification loops stop at once and the result is ignored.
    """
    law_f, v, dg = k["law_f"], k["v"], k["dgamma"]
    a = law_f[4]
    v0 = 0.5 * (v[1] - v[0])
    v1 = v[2]
    vp = -0.5 * (v[0] + v[1])
    nv = c["nv"]
    r = nv[..., 0] * v0 + nv[..., 1] * v1
    if cfg.pressure:
        r = r - a * vp
    d = dtau_rows(cfg, c["stress"], nv, c["tauc"], law_f)  # the base (between avalanches)
    x = jnp.where(r > 0.0, d / jnp.where(r > 0.0, r, 1.0), jnp.inf)
    return _step_by_step(cfg, c, k, first_step(jnp.min(x), dg, cap), cap, do)


def first_step(best: Any, dg: Any, cap: Any) -> Any:
    """Load step ``floor(best / dg) + 1`` in ``[1, cap + 1]`` of the lowest activation load.

    ``best`` is that load; ``cap + 1`` (no trigger before the end) when it is not finite.
    """
    mcap = cap + 1
    mf = jnp.floor(best / dg) + 1.0
    mf = jnp.clip(mf, 1.0, mcap.astype(jnp.float64))
    return jnp.where(jnp.isfinite(best), mf.astype(jnp.int64), mcap)


def _step_by_step(cfg: LoopConfig, c: dict[str, Any], k: dict[str, Any], m: Any, cap: Any,
                  do: Any = True) -> Any:
    """Exact trigger step from the guess ``m``, tested step by step.

    Up while no element is active at ``m dgamma`` (to ``cap + 1``), down while one is at
    ``(m - 1) dgamma`` (to 1); with ``do`` False the loops stop at once.
    """
    dg = k["dgamma"]

    def up_cond(m: Any) -> Any:
        return do & (m <= cap) & ~_any_active_at(cfg, c, k, m * dg)

    m = lax.while_loop(up_cond, lambda m: m + 1, m)

    def down_cond(m: Any) -> Any:
        return do & (m > 1) & _any_active_at(cfg, c, k, (m - 1) * dg)

    return lax.while_loop(down_cond, lambda m: m - 1, m)


def _check(cfg: LoopConfig, c: dict[str, Any], k: dict[str, Any], st: Any, cand: Any
           ) -> tuple[Any, Any]:
    """Lowest ``dtau`` at stress ``st`` and its system for the candidates (others: +inf, 0)."""
    n = cfg.n_elem

    def full(_: Any) -> tuple[Any, Any]:
        d = dtau_rows(cfg, st, c["nv"], c["tauc"], k["law_f"])
        dmin = jnp.where(cand, jnp.min(d, axis=1), jnp.inf)
        return dmin, jnp.argmin(d, axis=1)

    if cfg.n_check >= n:
        return full(None)

    def compact(_: Any) -> tuple[Any, Any]:
        idx = jnp.nonzero(cand, size=cfg.n_check, fill_value=n)[0]
        ic = jnp.minimum(idx, n - 1)
        d = dtau_rows(cfg, st[ic], c["nv"][ic], c["tauc"][ic], k["law_f"])
        dmin = jnp.full(n, jnp.inf).at[idx].set(jnp.min(d, axis=1), mode="drop")
        kmin = jnp.zeros(n, jnp.int64).at[idx].set(jnp.argmin(d, axis=1), mode="drop")
        return dmin, kmin

    return lax.cond(jnp.sum(cand) <= cfg.n_check, compact, full, None)


def _direct(cfg: LoopConfig, k: dict[str, Any], active: Any, du: Any, d2: Any, size: int
            ) -> Any:
    """Stress change of at most ``size`` slips by shifted copies of the kernel, (n, 3)."""
    L, n = cfg.L, cfg.n_elem
    idx = jnp.nonzero(active, size=size, fill_value=n)[0]
    valid = idx < n
    ic = jnp.minimum(idx, n - 1)
    us = jnp.where(valid, du[ic], 0.0)
    ds = jnp.where(valid, d2[ic], 0.0)
    out = jnp.zeros((L, L, 3))
    for s in range(size):
        ey = ic[s] // L
        ex = ic[s] - ey * L
        G = lax.dynamic_slice(k["kernel2"], (L - ey, L - ex, 0, 0), (L, L, 3, 2))
        out = out + (G[..., 0] * us[s] + G[..., 1] * ds[s])
    return out.reshape(n, 3)


def _fft(cfg: LoopConfig, k: dict[str, Any], du: Any, d2: Any) -> Any:
    """Stress change of any number of slips by one batched FFT convolution, (n, 3)."""
    L = cfg.L
    planes = jnp.stack([du, d2], axis=-1).reshape(L, L, 2)
    F = jnp.fft.rfft2(planes, axes=(0, 1))
    S = jnp.einsum("yxac,yxc->yxa", k["symbol2"], F)
    return jnp.fft.irfft2(S, s=(L, L), axes=(0, 1)).reshape(cfg.n_elem, 3)


def _direct_sizes(cfg: LoopConfig) -> list[int]:
    sizes, s = [], 1
    while s < cfg.n_direct:
        sizes.append(s)
        s *= 2
    return [*sizes, cfg.n_direct]


def candidates(cfg: LoopConfig, c: dict[str, Any], st: Any, law_f: Any, gate: Any
               ) -> tuple[Any, Any, Any, Any]:
    """Elements the cached stability margins cannot clear (the numba triangle bound).

    Returns ``(cand, s0, s1, p)``: the mask (n,) of elements to test (within ``gate``), and the
    deviatoric components and pressure (n,) each of ``st`` they were judged with.
    """
    s0 = 0.5 * (st[:, 1] - st[:, 0])
    s1 = st[:, 2]
    p = -0.5 * (st[:, 0] + st[:, 1])
    e0 = s0 - c["sref"][:, 0]
    e1 = s1 - c["sref"][:, 1]
    dist = jnp.sqrt(e0 * e0 + e1 * e1)
    if cfg.pressure:
        dist = dist + law_f[4] * jnp.abs(p - c["pref"])
    mg = c["margin"]
    return gate & ~((mg > 0.0) & (dist < mg * (1.0 - _SAFE) - 1e-13)), s0, s1, p


def end_avalanche(cfg: LoopConfig, c: dict[str, Any], end: Any, mean: Any) -> None:
    """Close the avalanche where ``end``: its record, back to loading, records-full status.

    The record holds its step, ``m``, size, ``mean`` stress (3,) and plastic strain. Updates
    the carry ``c`` in place; where not ``end`` nothing changes.
    """
    j = jnp.where(end, c["n_rec"], cfg.n_records)
    c["rec_step"] = c["rec_step"].at[j].set(c["k_trig"] - 1, mode="drop")
    c["rec_m"] = c["rec_m"].at[j].set(c["m_trig"], mode="drop")
    c["rec_size"] = c["rec_size"].at[j].set(c["aval_size"], mode="drop")
    c["rec_mean"] = c["rec_mean"].at[j].set(mean, mode="drop")
    c["rec_pl"] = c["rec_pl"].at[j].set(c["aval_pl"], mode="drop")
    c["n_rec"] = c["n_rec"] + end
    c["n_aval"] = c["n_aval"] + end
    c["k_base"] = jnp.where(end, c["k_trig"], c["k_base"])
    c["phase"] = jnp.where(end, 0, c["phase"]).astype(jnp.int32)
    full = end & (c["n_rec"] >= cfg.n_records)
    c["status"] = jnp.where(full, STATUS["records_full"], c["status"]).astype(jnp.int32)


def slips_allowed(cfg: LoopConfig, c: dict[str, Any], want: Any, count: Any,
                  max_sweeps: Any) -> Any:
    """Whether a sweep that wants to slip ``count`` elements (``want``) may.

    Not when it would run out of uniforms (``1 + n_draws`` each), of event rows, or of sweeps
    (``max_sweeps``); each sets its status in the carry ``c`` (in place), stopping the loop.
    """
    need = count * (1 + cfg.n_draws)
    low = want & (c["upos"] + need > cfg.n_unif)
    c["status"] = jnp.where(low, STATUS["uniforms_low"], c["status"]).astype(jnp.int32)
    ok = want & ~low
    if cfg.n_ev:
        evfull = ok & (c["n_ev"] + count > cfg.n_ev)
        c["status"] = jnp.where(evfull, STATUS["events_full"], c["status"]).astype(jnp.int32)
        ok = ok & ~evfull
    limit = ok & (c["sweeps"] >= max_sweeps)
    c["status"] = jnp.where(limit, STATUS["sweep_limit"], c["status"]).astype(jnp.int32)
    return ok & ~limit


def _sweep(cfg: LoopConfig, k: dict[str, Any], max_sweeps: Any, c: dict[str, Any]
           ) -> dict[str, Any]:
    """One iteration inside an avalanche: renewals, stability test, slips or the record."""
    n = cfg.n_elem
    c = dict(c)
    law_f = k["law_f"]
    # 1. renewals of the previous sweep
    if cfg.n_draws or cfg.renew_ang:
        c = _renew(cfg, c, k)
    else:
        c["pending"] = jnp.zeros(n, bool)
    no_pend = ~jnp.any(c["pending"])
    st = c["stress"]
    # 2. stability test with cached margins
    gate = (c["phase"] == 1) & no_pend & (c["status"] == 0)
    cand, s0, s1, p = candidates(cfg, c, st, law_f, gate)
    dmin, kmin = _check(cfg, c, k, st, cand)
    c["sref"] = jnp.where(cand[:, None], jnp.stack([s0, s1], axis=1), c["sref"])
    c["pref"] = jnp.where(cand, p, c["pref"])
    c["margin"] = jnp.where(cand, dmin, c["margin"])
    active = cand & (dmin < 0.0)
    count = jnp.sum(active)
    # 3. end of the avalanche: its record
    end = gate & (count == 0)
    end_avalanche(cfg, c, end, jnp.mean(st, axis=0))
    # 4. the sweep's slips
    ok = slips_allowed(cfg, c, gate & (count > 0), count, max_sweeps)
    active = active & ok
    count = jnp.where(ok, count, 0)
    rank = jnp.cumsum(active) - 1
    u = c["ubuf"][jnp.clip(c["upos"] + rank, 0, cfg.n_unif - 1)]
    nv_k = jnp.take_along_axis(c["nv"], kmin[:, None, None], axis=1)[:, 0, :]
    tc_k = jnp.take_along_axis(c["tauc"], kmin[:, None], axis=1)[:, 0]
    sr_k = jnp.take_along_axis(c["selfres"], kmin[:, None], axis=1)[:, 0]
    sn, cs = nv_k[:, 0], nv_k[:, 1]
    tau = sn * s0 + cs * s1
    gmax = jnp.maximum(2.0 * tau / sr_k, 0.0)
    g = jnp.where(active, _ppf_amplitude(cfg, law_f, gmax, tc_k, u), 0.0)
    du = -0.5 * sn * g  # = deps_xx = (deps_xx - deps_yy) / 2 for a traceless slip
    d2 = 0.5 * cs * g
    deps = jnp.stack([du, -du, d2], axis=1)
    if cfg.n_ev:
        pos = jnp.where(active, c["n_ev"] + rank, cfg.n_ev)
        th_k = jnp.take_along_axis(c["theta"], kmin[:, None], axis=1)[:, 0]
        for name, val in (("ev_e", jnp.arange(n)), ("ev_k", kmin), ("ev_th", th_k),
                          ("ev_tau", tau), ("ev_amp", g),
                          ("ev_aval", jnp.broadcast_to(c["n_aval"], (n,)))):
            c[name] = c[name].at[pos].set(val, mode="drop")
        c["n_ev"] = c["n_ev"] + count
    sizes = _direct_sizes(cfg)
    branch = jnp.where(count == 0, 0, 1 + jnp.sum(count > jnp.asarray(sizes)))
    branches = [lambda: jnp.zeros((n, 3))]
    branches += [functools.partial(_direct, cfg, k, active, du, d2, s) for s in sizes]
    branches += [lambda: _fft(cfg, k, du, d2)]
    delta = lax.switch(branch, branches)
    c["stress"] = st + delta
    c["eps_pl"] = c["eps_pl"] + deps
    c["slips"] = c["slips"] + active
    c["margin"] = jnp.where(active, -1.0, c["margin"])
    c["pending"] = c["pending"] | active  # empty before a sweep (gate)
    c["ren_off"] = jnp.where(active, c["upos"] + count + rank * cfg.n_draws, c["ren_off"])
    c["upos"] = c["upos"] + count * (1 + cfg.n_draws)
    c["n_events"] = c["n_events"] + count
    c["aval_size"] = c["aval_size"] + count
    c["aval_pl"] = c["aval_pl"] + jnp.sum(deps, axis=0)
    c["sweeps"] = c["sweeps"] + ok
    c["iters"] = c["iters"] + 1
    return c

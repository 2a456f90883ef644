"""The blocked form of the accelerated AQS loop (``LoopConfig.blocked``, the CPU's default).

The same rules as the flat form of :mod:`femplastic.weakplane.gpu.loop`, with the work of an
iteration proportional to what happens in it rather than to ``n``: the candidates of the cached
stability test are checked in compacted blocks of ``n_check`` elements (a nested
``lax.while_loop``, as many blocks as needed), which list the active elements in order with what
their slips need; the slips go in blocks of ``n_renew``, each element renewed in the same block
(so a sweep is one iteration); the trigger solves exactly only the elements whose cached lower
bound of the activation load is below the best load found, and verifies the step as the numba
driver does. On the CPU a nested loop costs next to nothing while XLA's per-element cost of
gathers, scatters, reductions and transcendental functions is high; on a GPU each loop test is
a host synchronisation, which the flat form avoids.
"""

from __future__ import annotations

import functools
from typing import Any

import jax.numpy as jnp
from jax import lax

from .loop import (
    _direct_sizes,
    _fft,
    _ppf_amplitude,
    _ppf_threshold,
    _step_by_step,
    _systems,
    candidates,
    dtau_rows,
    end_avalanche,
    first_step,
    slips_allowed,
)
from .setup import LoopConfig

__all__ = ["trigger_blocked", "sweep_blocked"]


def _rates(cfg: LoopConfig, k: dict[str, Any], nv: Any) -> Any:
    """Loading rates ``r = n . v_s - a v_p`` of some systems (m, N).

    ``dtau`` falls by ``r x`` under a load ``x`` (strain).
    """
    v = k["v"]
    r = nv[..., 0] * (0.5 * (v[1] - v[0])) + nv[..., 1] * v[2]
    if cfg.pressure:
        r = r - k["law_f"][4] * (-0.5 * (v[0] + v[1]))
    return r


def _loaded(d: Any, r: Any) -> tuple[Any, Any]:
    """Lowest ``dtau`` of the loaded systems and their exact activation load, (m,) each.

    From ``dtau`` and rates (m, N); loaded: ``r > 0``; the load ``min dtau / r`` as
    :func:`_trigger` computes it (``inf`` where nothing is loaded).
    """
    pos = r > 0.0
    x = jnp.where(pos, d / jnp.where(pos, r, 1.0), jnp.inf)
    return jnp.min(jnp.where(pos, d, jnp.inf), axis=1), jnp.min(x, axis=1)


def _min_first(d: Any) -> tuple[Any, Any]:
    """Row minima of ``d`` (m, N) and the first column attaining them (as ``argmin``).

    Two plain reductions: XLA's CPU argmin, a variadic reduction, is several times slower.
    """
    dmin = jnp.min(d, axis=1)
    col = lax.broadcasted_iota(jnp.int64, d.shape, 1)
    return dmin, jnp.min(jnp.where(d == dmin[:, None], col, d.shape[1]), axis=1)


def _blocks(size: int, mask: Any, body: Any, init: Any) -> Any:
    """Run ``body(idx, valid, q) -> q`` over the elements of ``mask`` (ascending) in blocks.

    ``idx`` (size,) are element indices (``n`` past the end), ``valid`` where they are
    real. One cumulative sum and one scatter compact the mask; a ``lax.while_loop`` runs the
    ``ceil(count / size)`` blocks (none for an empty mask). Returns the final ``q``.
    """
    n = mask.shape[0]
    rank = jnp.cumsum(mask) - 1
    count = rank[-1] + 1
    order = jnp.full(n + size, n, jnp.int64).at[jnp.where(mask, rank, n + size)].set(
        jnp.arange(n), mode="drop")

    def step(q: tuple[Any, Any]) -> tuple[Any, Any]:
        j, inner = q
        idx = lax.dynamic_slice(order, (j * size,), (size,))
        return j + 1, body(idx, idx < n, inner)

    return lax.while_loop(lambda q: q[0] * size < count, step, (jnp.int64(0), init))[1]


def _trigger_blocked(cfg: LoopConfig, c: dict[str, Any], k: dict[str, Any], cap: Any,
                     do: Any) -> tuple[Any, dict[str, Any]]:
    """:func:`_trigger` from cached lower bounds of the activation loads; returns ``(m, c)``.

    Each element's activation load is bounded below from its cache (refreshed where its
    systems were last scanned, at the stress ``s_ref``: ``margin`` the lowest ``dtau``,
    ``mplus`` the lowest over the loaded systems, ``xact`` the exact activation load). With
    ``D = s - s_ref`` split along the load's deviatoric direction ``u = v_s / |v_s|``,
    ``D_s = al u + w``, every loaded system's load is
    ``x_k = (d_k + a D_p - al a v_p / |v_s| - n_k . w) / r_k - al / |v_s|``, so
    ``x_k >= xact (1 - W / mplus) - al / |v_s|`` with ``W = |w| + |a| (|D_p| + |al v_p| / |v_s|)``
    (when ``W < mplus``; ``d_k >= mplus``, ``d_k / r_k >= xact``); and, as the numba driver's
    bound, ``x_k >= (margin - |D_s| - |a D_p|) / vmax``. The larger bound, less a round-off
    safety, is kept. The element of the lowest bound is solved exactly, then every element
    whose bound is below that load, in blocks (their cache refreshed at the base): the exact
    minimum. The step ``m`` is verified as
    :func:`~femplastic.weakplane.kernels.next_unstable_step` does: unstable if the element
    found is active there, and ``m - 1`` stable if no element whose bound is below
    ``x (1 + 1e-9) + 1e-12 / vmax`` is active there (every other one is stable by its bound);
    otherwise the step-by-step test of :func:`_trigger` decides.
    """
    n, B = cfg.n_elem, cfg.n_check
    law_f, v, dg = k["law_f"], k["v"], k["dgamma"]
    a = jnp.abs(law_f[4])
    st, nv, tauc = c["stress"], c["nv"], c["tauc"]
    v0 = 0.5 * (v[1] - v[0])
    vp = -0.5 * (v[0] + v[1])
    vs = jnp.sqrt(v0 * v0 + v[2] * v[2])
    vmax = vs + a * jnp.abs(vp)
    ivm = jnp.where(vmax > 0.0, 1.0 / jnp.where(vmax > 0.0, vmax, 1.0), jnp.inf)
    ivs = jnp.where(vs > 0.0, 1.0 / jnp.where(vs > 0.0, vs, 1.0), 0.0)
    s0 = 0.5 * (st[:, 1] - st[:, 0])
    s1 = st[:, 2]
    p = -0.5 * (st[:, 0] + st[:, 1])
    d0 = s0 - c["sref"][:, 0]
    d1 = s1 - c["sref"][:, 1]
    dp = jnp.abs(p - c["pref"])
    mg, mp, xa = c["margin"], c["mplus"], c["xact"]
    dist = jnp.sqrt(d0 * d0 + d1 * d1)
    lb1 = (mg - dist - a * dp) * ivm
    lb1 = lb1 - 1e-12 * jnp.abs(lb1) - 1e-300
    al = (d0 * v0 + d1 * v[2]) * ivs
    W = jnp.sqrt(jnp.maximum(dist * dist - al * al, 0.0)) + a * (dp + jnp.abs(al * vp) * ivs)
    lb2 = xa * (1.0 - W / jnp.where(mp > 0.0, mp, 1.0)) - al * ivs
    lb2 = lb2 - 1e-9 * (jnp.abs(xa) + jnp.abs(al * ivs)) - 1e-12 * ivm - 1e-300
    lb2 = jnp.where((mp > 0.0) & (W < mp) & (vs > 0.0), lb2, -jnp.inf)
    lb = jnp.where(mg > 0.0, jnp.maximum(lb1, lb2), -jnp.inf)
    lb = jnp.where(ivm < jnp.inf, lb, jnp.inf)
    e0 = jnp.argmin(lb)
    best0 = _loaded(dtau_rows(cfg, st[e0][None], nv[e0][None], tauc[e0][None], law_f),
                    _rates(cfg, k, nv[e0][None]))[1][0]
    cache = ("margin", "sref", "pref", "mplus", "xact")

    def solve(idx: Any, valid: Any, q: tuple[Any, ...]) -> tuple[Any, ...]:
        best, eb, cc = q
        cc = dict(zip(cache, cc, strict=True))
        ic = jnp.minimum(idx, n - 1)
        d = dtau_rows(cfg, st[ic], nv[ic], tauc[ic], law_f)
        mpl, x = _loaded(d, _rates(cfg, k, nv[ic]))
        x = jnp.where(valid, x, jnp.inf)
        for name, val in (("margin", jnp.min(d, axis=1)), ("pref", p[ic]), ("mplus", mpl),
                          ("xact", x), ("sref", jnp.stack([s0[ic], s1[ic]], axis=1))):
            cc[name] = cc[name].at[idx].set(val, mode="drop")
        i = jnp.argmin(x)
        better = x[i] < best
        return (jnp.where(better, x[i], best), jnp.where(better, ic[i], eb),
                tuple(cc[x] for x in cache))

    best, eb, cc = _blocks(B, do & (lb < best0), solve, (best0, e0, tuple(c[x] for x in cache)))
    c = dict(c)
    c.update(zip(cache, cc, strict=True))
    m = first_step(best, dg, cap)

    def active_rows(idx: Any, x: Any) -> Any:
        trial = st[idx] + x * v[None, :]
        return jnp.min(dtau_rows(cfg, trial, nv[idx], tauc[idx], law_f), axis=1) < 0.0

    # fast verification (see the docstring); x = (m - 1) dgamma for the stable side
    up_ok = (m > cap) | (jnp.isfinite(best) & active_rows(eb[None], m * dg)[0])
    xm = (m - 1) * dg
    thr = xm * (1.0 + 1e-9) + 1e-12 * ivm

    def calm(idx: Any, valid: Any, q: Any) -> Any:
        return q & ~jnp.any(valid & active_rows(jnp.minimum(idx, n - 1), xm))

    down_ok = _blocks(B, do & up_ok & (m > 1) & (lb <= thr), calm, jnp.bool_(True))
    general = do & ~(up_ok & down_ok)
    c["fallbacks"] = c["fallbacks"] + general
    return lax.cond(general, lambda m: _step_by_step(cfg, c, k, m, cap), lambda m: m, m), c


def _sweep_blocked(cfg: LoopConfig, k: dict[str, Any], max_sweeps: Any, c: dict[str, Any]
                   ) -> dict[str, Any]:
    """:func:`_sweep` in blocks: a whole sweep (checks, slips, renewals, update) per call.

    The stability test checks the elements the cached margins cannot clear in blocks of
    ``n_check`` (ascending: the active ones are listed in element order with their lowest
    system); the slips go in blocks of ``n_renew``, each slipped element renewed at once
    with its draws (the renewal changes nothing the sweep still reads); then the stress
    update. The uniforms are consumed at the same positions as :func:`_sweep`'s.
    """
    n, R, Bc, Bs = cfg.n_elem, cfg.n_draws, cfg.n_check, cfg.n_renew
    c = dict(c)
    law_f = k["law_f"]
    st = c["stress"]
    gate = (c["phase"] == 1) & (c["status"] == 0)
    cand, s0, s1, p = candidates(cfg, c, st, law_f, gate)
    nv, tauc = c["nv"], c["tauc"]

    # 1. stability test of the candidates: the active elements listed in order with what
    # their slip needs (lowest system, its resolved stress, threshold, self response, angle),
    # so that the slips below only write the (n, N) arrays (read there, XLA would copy them)
    lists = ("alist", "klist", "l_sn", "l_cs", "l_tau", "l_tc", "l_sr",
             *(("l_th",) if cfg.n_ev else ()))

    def check(idx: Any, valid: Any, q: tuple[Any, ...]) -> tuple[Any, ...]:
        na, margin, sref, pref, mplus, xact, lst = q
        lst = dict(zip(lists, lst, strict=True))
        ic = jnp.minimum(idx, n - 1)
        nv_r = nv[ic]
        d = dtau_rows(cfg, st[ic], nv_r, tauc[ic], law_f)
        dmin, kmin = _min_first(d)
        mpl, xa = _loaded(d, _rates(cfg, k, nv_r))
        margin = margin.at[idx].set(dmin, mode="drop")
        sref = sref.at[idx].set(jnp.stack([s0[ic], s1[ic]], axis=1), mode="drop")
        pref = pref.at[idx].set(p[ic], mode="drop")
        mplus = mplus.at[idx].set(mpl, mode="drop")
        xact = xact.at[idx].set(xa, mode="drop")
        act = valid & (dmin < 0.0)
        pos = jnp.where(act, na + jnp.cumsum(act) - 1, n + Bs)
        nv_k = jnp.take_along_axis(nv_r, kmin[:, None, None], axis=1)[:, 0, :]
        sn, cs = nv_k[:, 0], nv_k[:, 1]
        vals = {"alist": idx, "klist": kmin, "l_sn": sn, "l_cs": cs,
                "l_tau": sn * s0[ic] + cs * s1[ic], "l_tc": tauc[ic, kmin],
                "l_sr": c["selfres"][ic, kmin]}
        if cfg.n_ev:
            vals["l_th"] = c["theta"][ic, kmin]
        for name in lists:
            lst[name] = lst[name].at[pos].set(vals[name], mode="drop")
        return na + jnp.sum(act), margin, sref, pref, mplus, xact, tuple(lst[x] for x in lists)

    count, c["margin"], c["sref"], c["pref"], c["mplus"], c["xact"], lst = _blocks(
        Bc, cand, check, (jnp.int64(0), c["margin"], c["sref"], c["pref"], c["mplus"],
                          c["xact"], tuple(c[x] for x in lists)))
    c.update(zip(lists, lst, strict=True))
    # 2. end of the avalanche: its record
    end = gate & (count == 0)
    # the mean stress only at the avalanche's end (a pass over n otherwise spent every sweep)
    end_avalanche(cfg, c, end, lax.cond(end, lambda: jnp.mean(st, axis=0), lambda: jnp.zeros(3)))
    # 3. the sweep's slips (status checks as _sweep)
    ok = slips_allowed(cfg, c, gate & (count > 0), count, max_sweeps)
    count = jnp.where(ok, count, 0)
    upos = c["upos"]
    ev_names = ("ev_e", "ev_k", "ev_th", "ev_tau", "ev_amp", "ev_aval") if cfg.n_ev else ()
    names = ("eps_pl", "slips", "margin", "theta", "nv", "selfres", "tauc", *ev_names)

    def slip(q: tuple[Any, ...]) -> tuple[Any, ...]:
        jb, pl, du_l, d2_l, planes, arr = q
        arr = dict(zip(names, arr, strict=True))
        rank = jb * Bs + jnp.arange(Bs)
        valid = rank < count

        def blk(name: str) -> Any:
            return lax.dynamic_slice(c[name], (jb * Bs,), (Bs,))

        e = jnp.minimum(blk("alist"), n - 1)
        idx = jnp.where(valid, e, n)
        u = c["ubuf"][jnp.clip(upos + rank, 0, cfg.n_unif - 1)]
        sn, cs, tau, tc_k = blk("l_sn"), blk("l_cs"), blk("l_tau"), blk("l_tc")
        gmax = jnp.maximum(2.0 * tau / blk("l_sr"), 0.0)
        g = jnp.where(valid, _ppf_amplitude(cfg, law_f, gmax, tc_k, u), 0.0)
        du = -0.5 * sn * g
        d2 = 0.5 * cs * g
        deps = jnp.stack([du, -du, d2], axis=1)
        if cfg.n_ev:
            pos = jnp.where(valid, c["n_ev"] + rank, cfg.n_ev)
            for name, val in (("ev_e", e), ("ev_k", blk("klist")), ("ev_th", blk("l_th")),
                              ("ev_tau", tau), ("ev_amp", g),
                              ("ev_aval", jnp.broadcast_to(c["n_aval"], (Bs,)))):
                arr[name] = arr[name].at[pos].set(val, mode="drop")
        arr["eps_pl"] = arr["eps_pl"].at[idx].add(deps, mode="drop")
        arr["slips"] = arr["slips"].at[idx].add(1, mode="drop")
        arr["margin"] = arr["margin"].at[idx].set(-1.0, mode="drop")
        # renewal with the element's draws after the sweep's amplitudes (numba's order)
        if R:
            off = (upos + count + rank * R)[:, None] + jnp.arange(R)[None, :]
            U = c["ubuf"][jnp.clip(off, 0, cfg.n_unif - 1)]  # (Bs, R)
        if cfg.renew_ang:
            if cfg.orient_kind == 0:
                th = jnp.pi / 2 - jnp.pi * U[:, :cfg.n_ang]
                rows = jnp.stack([th, th + jnp.pi / 2, th + jnp.pi / 4, th + 3 * jnp.pi / 4],
                                 axis=-1).reshape(-1, cfg.N)
            else:
                rows = jnp.broadcast_to(k["angles"][None, :cfg.N], (Bs, cfg.N))
            nv_rows, sr_rows = _systems(rows, k["kself"])
            arr["theta"] = arr["theta"].at[idx].set(rows, mode="drop")
            arr["nv"] = arr["nv"].at[idx].set(nv_rows, mode="drop")
            arr["selfres"] = arr["selfres"].at[idx].set(sr_rows, mode="drop")
        if cfg.renew_thr:
            t = _ppf_threshold(cfg, law_f, k["thr_table"], U[:, cfg.n_ang:])
            if cfg.shared:
                t = jnp.broadcast_to(t[:, :1], (Bs, cfg.N))
            arr["tauc"] = arr["tauc"].at[idx].set(t, mode="drop")
        dpos = jnp.where(valid, rank, cfg.n_direct)
        du_l = du_l.at[dpos].set(du, mode="drop")
        d2_l = d2_l.at[dpos].set(d2, mode="drop")
        planes = planes.at[idx].set(jnp.stack([du, d2], axis=1), mode="drop")
        return (jb + 1, pl + jnp.sum(deps, axis=0), du_l, d2_l, planes,
                tuple(arr[x] for x in names))

    q = (jnp.int64(0), jnp.zeros(3), jnp.zeros(cfg.n_direct), jnp.zeros(cfg.n_direct),
         jnp.zeros((n, 2)), tuple(c[x] for x in names))
    _, pl, du_l, d2_l, planes, arrs = lax.while_loop(lambda q: q[0] * Bs < count, slip, q)
    c.update(zip(names, arrs, strict=True))
    # 4. the stress update
    sizes = _direct_sizes(cfg)
    L = cfg.L
    a_idx = c["alist"][:cfg.n_direct]

    def direct(size: int) -> Any:
        out = st.reshape(L, L, 3)
        for s in range(size):
            e = jnp.minimum(a_idx[s], n - 1)
            ey = e // L
            ex = e - ey * L
            Gu = lax.dynamic_slice(k["kern_u"], (L - ey, L - ex, 0), (L, L, 3))
            Gd = lax.dynamic_slice(k["kern_d"], (L - ey, L - ex, 0), (L, L, 3))
            out = out + (Gu * du_l[s] + Gd * d2_l[s])
        return out.reshape(n, 3)

    branch = jnp.where(count == 0, 0, 1 + jnp.sum(count > jnp.asarray(sizes)))
    branches = [lambda: st]
    branches += [functools.partial(direct, s) for s in sizes]
    branches += [lambda: st + _fft(cfg, k, planes[:, 0], planes[:, 1])]
    c["stress"] = lax.switch(branch, branches)
    c["upos"] = upos + count * (1 + R)
    if cfg.n_ev:
        c["n_ev"] = c["n_ev"] + count
    c["n_events"] = c["n_events"] + count
    c["aval_size"] = c["aval_size"] + count
    c["aval_pl"] = c["aval_pl"] + pl
    c["sweeps"] = c["sweeps"] + ok
    c["iters"] = c["iters"] + 1
    return c


trigger_blocked = _trigger_blocked
sweep_blocked = _sweep_blocked

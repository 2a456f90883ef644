"""Numba kernels of the KMC quench: an exact O(n)-per-event selection of thermal events.

The rate of system ``(e, k)`` is ``nu_ek = exp(-beta dtau_ek)`` with ``beta = V_a / T`` and
``dtau_ek = tau_c + a (p_e + p_0) - n_ek . s_e`` (``s_e = ((s_yy - s_xx) / 2, s_xy)``, unit
``n_ek``). The selection picks ``(e, k)`` with probability exactly ``nu_ek / sum(nu)`` without
evaluating the ``n N`` rates at every event (see :mod:`femplastic.weakplane.drivers.kmc` for the
proof sketch):

* **Per-element bound.** Each element keeps a reference (``kcache``): the deviatoric stress
  ``s_ref`` and pressure ``p_ref`` at which its exact total rate ``R_e(ref) = sum_k nu_ek`` was
  last computed (stored as ``log R``), and its slip count then. Since ``|n_ek| = 1``,
  ``dtau_ek(s) >= dtau_ek(ref) - delta_e`` with ``delta_e = |s - s_ref| + a |p - p_ref|``, hence
  ``R_e(s) <= B_e = R_e(ref) exp(beta delta_e)``: an O(1) bound per element. An element whose
  systems were renewed (its slip count changed) or whose drift ``beta delta_e`` exceeds
  :data:`REFRESH` is refreshed (O(N)) so the bounds stay tight .
* **Rejection (thinning).** Draw ``e`` with probability ``B_e / sum B`` (a cumulative sum and a
  bisection), then one uniform ``u``: system ``k`` is selected when ``u`` falls in the ``k``-th
  interval of the partial sums of ``nu_ek / B_e`` (total ``R_e / B_e <= 1``), and the trial is
  rejected when ``u`` falls beyond them. One trial selects ``(e, k)`` with probability
  ``nu_ek / sum B``; the accepted trial is therefore distributed as ``nu_ek / sum(nu)``.
  Rejected trials reuse the same bounds (the stress has not changed).
* **Clock.** Proposals form a Poisson process of rate ``sum B``; keeping each with probability
  ``R_e / B_e`` thins it into the process of rate ``sum(nu)``. The waiting time is the sum of
  the proposals' exponential gaps up to the accepted one: exactly exponential of rate
  ``sum(nu)``, as with the full scan.

Everything is in logarithms relative to the largest bound, so negative ``dtau`` (huge rates)
neither overflow nor underflow the accepted weights.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ..numba_cache import refresh as _refresh_numba_caches
from .kernels import relax_fused

_refresh_numba_caches()  # before any cached kernel loads (see femplastic.numba_cache)

__all__ = ["REFRESH", "kmc_cache", "kmc_select_bounded", "kmc_run"]

#: Largest ``beta delta_e`` an element's bound may drift before it is recomputed exactly.
REFRESH = 0.5  # acceptance >= exp(-REFRESH) per trial
_SLACK = 1e-9  # relative inflation of the bounds, far above round-off of the triangle bound
#: Weight of the refresh pass among the threaded regions: threaded when ``n >= PAR_SYNC *
#: par`` (``par`` the grain, :func:`femplastic.threads.parallel_for`; 0: serial).
PAR_SYNC = 1


def kmc_cache(n: int) -> tuple[np.ndarray, ...]:
    """A fresh ``kcache`` for ``n`` elements: every element to be refreshed at first use.

    Parameters
    ----------
    n : int
        Number of elements.

    Returns
    -------
    tuple of ndarray
        ``(k_s (n, 2), k_p (n,), k_logr (n,), k_slips (n,) int64 = -1, tree (2 m,), meta
        (2,))``: reference deviatoric stress and pressure of each element, the log of its exact
        total rate there, its slip count then (-1: unknown); ``tree`` a sum tree over
        ``exp(k_logr - meta[0])`` (``m`` the power of two ``>= n``; leaves ``tree[m + e]``,
        node ``i`` the sum of ``2 i`` and ``2 i + 1``); ``meta[0]`` the log offset of the tree,
        ``meta[1] = 1`` when the tree must be rebuilt.
    """
    m = 1
    while m < n:
        m *= 2
    return (np.zeros((n, 2)), np.zeros(n), np.zeros(n), -np.ones(n, np.int64),
            np.zeros(2 * m), np.array([0.0, 1.0]))


@nb.njit(cache=True)
def _refresh(e, stress, nv, tauc, law_f, beta, k_s, k_p, k_logr):  # pragma: no cover
    """Exact ``log R_e`` at the current stress; stores the reference."""
    a = law_f[4]
    s0 = 0.5 * (stress[e, 1] - stress[e, 0])
    s1 = stress[e, 2]
    p = -0.5 * (stress[e, 0] + stress[e, 1])
    shift = a * (p + law_f[5])
    N = tauc.shape[1]
    dmin = np.inf
    for k in range(N):
        d = tauc[e, k] + shift - (nv[e, k, 0] * s0 + nv[e, k, 1] * s1)
        if d < dmin:
            dmin = d
    tot = 0.0
    for k in range(N):
        d = tauc[e, k] + shift - (nv[e, k, 0] * s0 + nv[e, k, 1] * s1)
        tot += np.exp(-beta * (d - dmin))
    k_s[e, 0] = s0
    k_s[e, 1] = s1
    k_p[e] = p
    k_logr[e] = -beta * dmin + np.log(tot)


@nb.njit(cache=True)
def _set_leaf(tree, m, e, w):  # pragma: no cover - compiled
    """Leaf ``e`` of the sum tree to ``w``; its ancestors recomputed (not incremented)."""
    i = m + e
    tree[i] = w
    i //= 2
    while i >= 1:
        tree[i] = tree[2 * i] + tree[2 * i + 1]
        i //= 2


@nb.njit(cache=True)
def finish_tree(kcache, n, rebuild):  # pragma: no cover - compiled
    """After a refresh pass: rebuild the sum tree when flagged (or its total underflows).

    The leaves are ``exp(k_logr[e] - g)`` with ``g = max k_logr`` (stored in ``meta[0]``),
    the inner nodes the sums of their children; ``meta[1]`` (the rebuild flag) is cleared.
    """
    _, _, k_logr, _, tree, meta = kcache
    m = tree.shape[0] // 2
    if not rebuild and tree[1] < 1e-250:
        rebuild = True
    if rebuild:
        g = -np.inf
        for e in range(n):
            if k_logr[e] > g:
                g = k_logr[e]
        meta[0] = g
        meta[1] = 0.0
        tree[:] = 0.0
        for e in range(n):
            tree[m + e] = np.exp(k_logr[e] - g)
        for i in range(m - 1, 0, -1):
            tree[i] = tree[2 * i] + tree[2 * i + 1]


@nb.njit(cache=True)
def draw_trial(tree, m, n, tot, scale, rng):  # pragma: no cover - compiled
    """One trial of the rejection scheme: ``(e, u, wait)``.

    ``wait`` the exponential gap (mean ``scale = 1 / sum(B)``), ``e`` drawn from the sum
    tree with probability ``B_e / sum(B)`` (O(log n); ``-1``: a void trial, round-off at a
    node boundary), ``u`` the uniform of the acceptance test. Draws: one exponential, two
    uniforms, in that order.
    """
    wait = rng.exponential() * scale
    target = rng.random() * tot
    i = 1
    while i < m:
        left = tree[2 * i]
        if target < left:
            i = 2 * i
        else:
            target -= left
            i = 2 * i + 1
    e = i - m
    u = rng.random()
    if e >= n or tree[i] == 0.0:
        return -1, u, wait
    return e, u, wait


@nb.njit(cache=True, parallel=True)
def _sync_par(stress, nv, tauc, slips, law_f, beta, kcache, rebuild):  # pragma: no cover
    """The refresh pass of :func:`_sync` on threads; the tree updated afterwards, serially.

    Refreshes write only their own element; the sum tree's nodes are recomputed from their
    children, so its final values depend on the leaves only: bit-identical to the serial
    pass whatever the number of threads. Returns whether the tree must be rebuilt.
    """
    k_s, k_p, k_logr, k_slips, tree, meta = kcache
    a = abs(law_f[4])
    n = stress.shape[0]
    m = tree.shape[0] // 2
    thr = REFRESH / beta
    thr2 = thr * thr
    flag = np.zeros(n, np.bool_)
    for e in nb.prange(n):
        d0 = 0.5 * (stress[e, 1] - stress[e, 0]) - k_s[e, 0]
        d1 = stress[e, 2] - k_s[e, 1]
        q = d0 * d0 + d1 * d1
        stale = k_slips[e] != slips[e] or q > thr2
        if not stale and a != 0.0:
            stale = np.sqrt(q) + a * abs(-0.5 * (stress[e, 0] + stress[e, 1]) - k_p[e]) > thr
        if stale:
            _refresh(e, stress, nv, tauc, law_f, beta, k_s, k_p, k_logr)
            k_slips[e] = slips[e]
            flag[e] = True
    for e in range(n):
        if flag[e]:
            x = k_logr[e] - meta[0]
            if x > 600.0:
                rebuild = True
            elif not rebuild:
                _set_leaf(tree, m, e, np.exp(x))
    return rebuild


@nb.njit(cache=True)
def _sync(stress, nv, tauc, slips, law_f, beta, kcache, par=0):  # pragma: no cover
    """Refresh every element that was renewed or drifted beyond :data:`REFRESH`; O(n)."""
    k_s, k_p, k_logr, k_slips, tree, meta = kcache
    a = abs(law_f[4])
    n = stress.shape[0]
    m = tree.shape[0] // 2
    thr = REFRESH / beta
    thr2 = thr * thr
    rebuild = meta[1] != 0.0
    n_serial = n
    if par > 0 and n >= PAR_SYNC * par:
        rebuild = _sync_par(stress, nv, tauc, slips, law_f, beta, kcache, rebuild)
        n_serial = 0  # done: skip the serial pass
    for e in range(n_serial):
        d0 = 0.5 * (stress[e, 1] - stress[e, 0]) - k_s[e, 0]
        d1 = stress[e, 2] - k_s[e, 1]
        q = d0 * d0 + d1 * d1
        stale = k_slips[e] != slips[e] or q > thr2
        if not stale and a != 0.0:
            stale = np.sqrt(q) + a * abs(-0.5 * (stress[e, 0] + stress[e, 1]) - k_p[e]) > thr
        if stale:
            _refresh(e, stress, nv, tauc, law_f, beta, k_s, k_p, k_logr)
            k_slips[e] = slips[e]
            x = k_logr[e] - meta[0]
            if x > 600.0:
                rebuild = True
            elif not rebuild:
                _set_leaf(tree, m, e, np.exp(x))
    finish_tree(kcache, n, rebuild)


@nb.njit(cache=True)
def kmc_select_bounded(stress, nv, tauc, slips, law_f, beta, kcache, rng,
                       par=0):  # pragma: no cover
    """Pick system ``(e, k)`` with probability ``nu_ek / sum(nu)``; returns ``(e, k, dt)``.

    ``dt`` is the KMC waiting time (exponential of rate ``sum(nu)``). ``slips`` (n,) int64 is
    the state's slip count per element (a change marks renewed systems). ``kcache`` from
    :func:`kmc_cache`, updated in place. After the O(n) refresh pass every element satisfies
    ``R_e <= B_e = exp(k_logr[e] + REFRESH)``; a trial draws ``e`` from the sum tree
    (``B_e / sum B``, O(log n)) and accepts system ``k`` with probability ``nu_ek / B_e``
    (O(N)). Draws per trial: one exponential, two uniforms. ``par`` (the grain, 0: serial)
    runs the refresh pass threaded when ``n >= PAR_SYNC * par`` (the same cache and tree).
    """
    _sync(stress, nv, tauc, slips, law_f, beta, kcache, par)
    _, _, k_logr, _, tree, meta = kcache
    m = tree.shape[0] // 2
    n = stress.shape[0]
    a = law_f[4]
    infl = REFRESH * (1.0 + _SLACK) + _SLACK
    tot = tree[1]
    scale = np.exp(-meta[0] - infl) / tot  # 1 / sum(B)
    dt = 0.0
    while True:
        e, u, wait = draw_trial(tree, m, n, tot, scale, rng)
        dt += wait
        if e < 0:  # round-off at a node boundary: a void trial
            continue
        s0 = 0.5 * (stress[e, 1] - stress[e, 0])
        s1 = stress[e, 2]
        shift = a * (-0.5 * (stress[e, 0] + stress[e, 1]) + law_f[5])
        lb = k_logr[e] + infl
        acc = 0.0
        for k in range(tauc.shape[1]):
            d = tauc[e, k] + shift - (nv[e, k, 0] * s0 + nv[e, k, 1] * s1)
            acc += np.exp(-beta * d - lb)
            if u < acc:
                return e, k, dt


@nb.njit(cache=True)
def kmc_run(form, stress, system, law, cache, work, events, kcache, rng, beta, n_thermal,
            max_sweeps, par=0, time0=0.0):  # pragma: no cover - compiled
    """``n_thermal`` KMC steps: bounded selection, then the fused athermal relaxation.

    Returns ``(status, events, time)``: status 0 done, 1 a relaxation hit ``max_sweeps``;
    ``events`` all slip events (thermal + athermal); ``time`` the KMC time elapsed, summed
    on from ``time0`` (a run in parts, each given the last's time, sums as one call). The
    draws of each step: the selection's (:func:`kmc_select_bounded`), then the relaxation's
    (:func:`femplastic.weakplane.kernels.relax_fused`). ``par``: the grain of the threaded
    regions (0: serial).
    """
    _, tauc, nv, _, _, _, slips = system
    _, law_f, _, _ = law
    act_e, act_k, _, _, _ = work
    total = 0
    time = time0
    for _i in range(n_thermal):
        e, k, dt = kmc_select_bounded(stress, nv, tauc, slips, law_f, beta, kcache, rng, par)
        time += dt
        act_e[0] = e
        act_k[0] = k
        status, n_ev, _ = relax_fused(form, stress, system, law, cache, work, events, rng,
                                      False, max_sweeps, True, None, par)
        total += n_ev
        if status != 0:
            return 1, total, time
    return 0, total, time

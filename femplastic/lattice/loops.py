"""Compiled loops of the scalar lattice models (numba), apart from their Python logic.

* ``_draw``, ``_draw_many``: threshold draws from the ``(kind, params, table)`` code of a
  :class:`~femplastic.lattice.thresholds.ThresholdDistribution`;
* ``_fr_advance``, ``_fr_finish``, ``_fr_record``: time steps of the finite-rate model
  (:mod:`femplastic.lattice.finite_rate`);
* ``_qs_advance``: loading and avalanches of the quasistatic model
  (:mod:`femplastic.lattice.quasistatic`).

Random numbers come from the bit generator of the ``numpy.random.Generator`` passed in, so the
Python object's state advances with the draws.
"""

from __future__ import annotations

import numba as nb

from ..numba_cache import refresh as _refresh_numba_caches
from .kernel import scalar_shifted_add

_refresh_numba_caches()  # before any cached kernel loads (see femplastic.numba_cache)

__all__: list[str] = []


@nb.njit(cache=True)
def _draw(kind, par, tab, rng):  # pragma: no cover - compiled
    """Draw one threshold.

    kind 0: Weibull(shape par[0], scale par[1]); 1: normal(par[0], par[1]) truncated to
    ``> par[2]`` (rejection); 2: piecewise-linear inverse CDF through the sorted samples
    ``tab`` at plotting positions ``(j + 1/2) / m``.
    """
    if kind == 0:
        return par[1] * rng.weibull(par[0])
    if kind == 1:
        while True:
            x = par[0] + par[1] * rng.standard_normal()
            if x > par[2]:
                return x
    m = tab.shape[0]
    u = rng.random() * m - 0.5
    if u <= 0.0:
        return tab[0]
    j = int(u)
    if j >= m - 1:
        return tab[m - 1]
    f = u - j
    return tab[j] + f * (tab[j + 1] - tab[j])


@nb.njit(cache=True)
def _draw_many(kind, par, tab, rng, out):  # pragma: no cover - compiled
    """Fill ``out`` with independent draws of :func:`_draw`."""
    for i in range(out.shape[0]):
        out[i] = _draw(kind, par, tab, rng)


@nb.njit(cache=True)
def _fr_finish(gp, dgam, plist, n_pl, scal, iscal, n_steps, mode, drive, mu, dt, rec, acc,
               rec_every, n):  # pragma: no cover - compiled
    """Second half of a finite-rate step: plastic strain, external stress, time, records."""
    tot = 0.0
    for k in range(n_pl):
        gp[plist[k]] += dgam[k]
        tot += dgam[k]
    mean_inc = tot / n
    if mode == 1:
        scal[0] += mu * (drive * dt - mean_inc)
    scal[2] += tot
    scal[3] += mean_inc
    iscal[0] += 1
    step = iscal[0]
    if step % rec_every == 0 or step == n_steps:
        _fr_record(scal, iscal, rec, acc, dt, n_pl / n)


@nb.njit(cache=True)
def _fr_record(scal, iscal, rec, acc, dt, frac):  # pragma: no cover - compiled
    r = iscal[1]
    rec[r, 0] = scal[1] + iscal[0] * dt
    rec[r, 1] = scal[0]
    rec[r, 2] = scal[3]
    rec[r, 3] = frac
    acc[r] = scal[2]
    scal[2] = 0.0
    iscal[1] = r + 1


@nb.njit(cache=True)
def _fr_advance(s, th, pl, gp, dgam, plist, G, L, scal, iscal, n_steps, stop_at, fft_min, mode,
                drive, mu, p_pl, p_res, c_flow, dt, kind, dpar, dtab, rng, rec, acc, rec_every,
                stop_stuck):  # pragma: no cover - compiled
    """Advance the finite-rate model to step ``stop_at`` (0), an FFT step (1), stuck (2).

    ``stop_at <= n_steps`` bounds one compiled call (the caller checks for Ctrl-C between
    calls); the last record is written at step ``n_steps``.

    One step: every plastic site flows by ``sigma dt / (mu tau)`` (engineering), then
    plastic sites recover with probability ``p_res`` (drawing a new threshold) and elastic
    sites above threshold turn plastic with probability ``p_pl``; the internal stress gets
    ``G * dgamma`` (real-space shifted adds here; when ``n_pl >= fft_min`` the caller does
    an FFT and calls :func:`_fr_finish`), the external stress follows the protocol.
    ``G`` is the kernel per unit engineering strain.
    """
    n = s.shape[0]
    while iscal[0] < stop_at:
        S = scal[0]
        n_pl = 0
        n_above = 0
        for i in range(n):
            sig = S + s[i]
            if pl[i] != 0:
                dgam[n_pl] = sig * c_flow
                plist[n_pl] = i
                n_pl += 1
                if rng.random() < p_res:
                    pl[i] = 0
                    th[i] = _draw(kind, dpar, dtab, rng)
            elif sig > th[i]:
                n_above += 1
                if rng.random() < p_pl:
                    pl[i] = 1
        if n_pl == 0 and n_above == 0 and stop_stuck != 0:
            iscal[3] = iscal[0]
            _fr_record(scal, iscal, rec, acc, dt, 0.0)
            return 2
        if n_pl >= fft_min:
            iscal[2] = n_pl
            return 1
        for k in range(n_pl):
            scalar_shifted_add(s, G, L, plist[k], dgam[k])
        _fr_finish(gp, dgam, plist, n_pl, scal, iscal, n_steps, mode, drive, mu, dt, rec, acc,
                   rec_every, n)
    return 0


@nb.njit(cache=True)
def _qs_advance(s, th, ep, scal, G, L, mu, c0, c1, kind, par, tab, rng, eps_stop, rec, cnt,
                unstable, deps, max_events):  # pragma: no cover - compiled
    """Extremal loading + synchronous avalanches until the strain ``eps_stop`` (tensor).

    The strain never decreases: when a site is already unstable (``sigma_i >= sigma_th_i``,
    possible only in an input state) the avalanche runs at the current strain before any
    loading, and its record has ``sigma_peak`` = the current external stress.

    Returns 0 when the strain ``eps_stop`` is reached on an elastic branch (the external
    stress is then the one at ``eps_stop``), 1 when the record buffer is full, 2 when an
    avalanche exceeds ``max_events`` slips. ``rec[k] = (eps, sigma_peak, sigma_after, size,
    slip)`` per avalanche, ``cnt[0]`` records written. ``scal = [Sigma_ext, eps_tot]``.
    """
    n = s.shape[0]
    two_mu = 2.0 * mu
    while True:
        if cnt[0] >= rec.shape[0]:
            return 1
        # loading: the weakest site
        imin = 0
        xmin = th[0] - s[0]
        for i in range(1, n):
            x = th[i] - s[i]
            if x < xmin:
                xmin = x
                imin = i
        if xmin > scal[0]:
            eps_next = scal[1] + (xmin - scal[0]) / two_mu
            if eps_next >= eps_stop:
                scal[0] += two_mu * (eps_stop - scal[1])
                scal[1] = eps_stop
                return 0
            scal[1] = eps_next
            scal[0] = xmin
        # else: a site is already at or above its threshold (an unstable input state:
        # negative thresholds, a frozen stress above threshold). It relaxes at fixed strain
        # first; "loading" to the weakest site would *lower* the stress and the strain.
        peak = scal[0]
        size = 0
        slip = 0.0
        first = True  # the weakest site slips (explicitly: no round-off doubt)
        while True:
            k = 0
            S = scal[0]
            if first:
                unstable[0] = imin
                k = 1
            for i in range(n):
                if first and i == imin:
                    continue
                if S + s[i] >= th[i]:
                    unstable[k] = i
                    k += 1
            first = False
            if k == 0:
                break
            tot = 0.0
            for j in range(k):
                i = unstable[j]
                mean = c0 + c1 * th[i] * th[i]
                d = rng.exponential(mean)
                deps[j] = d
                ep[i] += d
                tot += d
                th[i] = _draw(kind, par, tab, rng)
            for j in range(k):
                scalar_shifted_add(s, G, L, unstable[j], deps[j])
            scal[0] -= two_mu * tot / n
            size += k
            slip += tot
            if size > max_events:
                return 2
        r = cnt[0]
        rec[r, 0] = scal[1]
        rec[r, 1] = peak
        rec[r, 2] = scal[0]
        rec[r, 3] = size
        rec[r, 4] = slip
        cnt[0] = r + 1

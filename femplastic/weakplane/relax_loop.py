"""The fused athermal relaxation, written once for 2D and 3D.

:func:`relax_loop` is the body of :func:`femplastic.weakplane.kernels.relax_fused` (2D, which
documents the statuses, records and order of draws) and of
:func:`femplastic.weakplane.scan3d.relax_fused` (3D), which call it with the literal ``dim``
2 or 3. What differs between dimensions are small pieces of :mod:`femplastic.weakplane.kernels`
and :mod:`femplastic.weakplane.scan3d` chosen while the loop is compiled
(:func:`femplastic.weakplane.bydim.by_dim`): the stability scan of a sweep (``sweep_scan``:
in 3D with the drift bounds of the x-rows when given), the kernel update of a sweep
(``sweep_apply``: in 3D also booked in those bounds), the amplitudes (``draw_slips``), the
plastic strain sum (``add_plastic``), the renewals (``finish_slips``) and the number of
stress components (``COMPONENTS``).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ..numba_cache import refresh as _refresh_numba_caches
from .bydim import by_dim

_refresh_numba_caches()  # before any cached kernel loads (see femplastic.numba_cache)

__all__ = ["relax_loop"]

_D2, _D3 = ".kernels", ".scan3d"
# the dimension's pieces and their argument counts (see femplastic.weakplane.bydim)
sweep_scan = by_dim("sweep_scan", _D2, _D3, 11)
sweep_apply = by_dim("sweep_apply", _D2, _D3, 8)
draw_slips = by_dim("draw_slips", _D2, _D3, 7)
add_plastic = by_dim("add_plastic", _D2, _D3, 5)
finish_slips = by_dim("finish_slips", _D2, _D3, 6)
components = by_dim("COMPONENTS", _D2, _D3, 0)


@nb.njit(cache=True)
def relax_loop(dim, form, stress, system, law, cache, work, events, rng, record, max_sweeps,
               thermal_first, wts, par, rows):  # pragma: no cover - compiled
    """Synchronous sweeps until nothing is active; ``(status, events, plastic)``.

    The arguments and results of :func:`femplastic.weakplane.kernels.relax_fused` with the
    literal ``dim`` (2 or 3) first and ``rows`` last (the 3D drift bounds of the x-rows,
    :func:`femplastic.weakplane.scan3d.row_bundle`, or ``None``; always ``None`` in 2D).
    ``plastic`` has the dimension's ``C`` stress components.
    """
    nb.literally(dim)
    theta, tauc, nv, _, _, _, _ = system
    _, law_f, _, _ = law
    sref, pref, margin = cache
    act_e, act_k, deps, amp, taus = work
    ev_e, ev_k, ev_th, ev_tau, ev_amp, ev_n, ev_m = events
    n_events = 0
    plastic = np.zeros(components(dim))
    for sweep in range(max_sweeps):
        if sweep == 0 and thermal_first:
            count = 1
        else:
            count = sweep_scan(dim, stress, nv, tauc, law_f, sref, pref, margin, act_e, act_k,
                               par, rows)
        if count == 0:
            return 0, n_events, plastic
        draw_slips(dim, count, stress, system, law, work, rng, sweep == 0 and thermal_first)
        if record:
            for i in range(count):
                j = ev_n[0]
                if j < ev_e.shape[0]:
                    ev_e[j] = act_e[i]
                    ev_k[j] = act_k[i]
                    ev_th[j] = theta[act_e[i], act_k[i]]
                    ev_tau[j] = taus[i]
                    ev_amp[j] = amp[i]
                    if dim == 3:  # the system itself (theta is only its normal's polar angle)
                        ev_m[j, :] = nv[act_e[i], act_k[i], :]
                ev_n[0] = j + 1
        sweep_apply(dim, form, stress, count, act_e, deps, rng, par, rows)
        add_plastic(dim, count, act_e, deps, wts, plastic)
        finish_slips(dim, count, system, law, cache, work, rng)
        n_events += count
        if record and ev_n[0] + stress.shape[0] > ev_e.shape[0]:
            return 2, n_events, plastic  # the next sweep (<= n events) might not fit
    return 1, n_events, plastic

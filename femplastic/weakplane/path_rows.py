"""The loop state and record rows of the compiled cyclic and stress loops, 2D and 3D.

The loops (:mod:`femplastic.weakplane.path_loop`, with the 2D and 3D pieces of
:mod:`~femplastic.weakplane.path_kernels` and :mod:`~femplastic.weakplane.path_kernels3d`,
which re-export this module's state and statuses) do their bookkeeping here: the loop
position ``ipos`` (fields :data:`IPOS`) and the statuses, the step positions (:func:`_pos`,
:func:`_x_of`), the pending trigger (:func:`pend_trigger`), the elastic step rows written up
to a found trigger with their :data:`ROWS_FULL` stops (:func:`strain_steps`,
:func:`stress_steps`), the row of an avalanche's step (:func:`strain_row`), the avalanche log
row (:func:`log_row`), the counters of a relaxation sweep (:func:`count_sweep`) and the
opening of an avalanche (:func:`open_avalanche`). Each does the operations the loops did
inline, in the same order: the same bits.
"""

from __future__ import annotations

import numba as nb

from ..numba_cache import refresh as _refresh_numba_caches

_refresh_numba_caches()  # before any cached kernel loads (see femplastic.numba_cache)

__all__ = ["A0", "CHUNK_END", "DONE", "DONE_", "FLOWED", "IPOS", "K_", "KB", "LOG_FULL", "NAVAL",
           "NEV", "NREC", "NSW", "OJ", "ONEV", "OPEN", "OPEN_NEXT", "OSW", "PAV", "PEND", "PJ",
           "PSENSE", "PUPTO", "R0", "RECORD_FULL", "ROWS_FULL", "SWEEP_LIMIT", "count_sweep",
           "log_row", "open_avalanche", "pend_trigger", "strain_row", "strain_steps",
           "stress_steps"]

#: Fields of ``ipos``.
IPOS = ("k", "k_base", "n", "n_aval", "n_events", "n_sweeps", "open", "open_j",
        "open_nev", "open_sweeps", "done", "flowed", "row0", "pending", "p_upto", "p_j",
        "p_aval", "p_sense", "log0")
K_, KB, NREC, NAVAL, NEV, NSW, OPEN, OJ, ONEV, OSW, DONE_, FLOWED = range(12)
#: ``row0``: the record row held at index 0 of the record arrays (streamed records: rows
#: before it were handed over); ``pending``: 1 while the steps up to a found trigger are
#: being written (``p_upto``: last elastic position, ``p_j``: the avalanche's, ``p_aval``:
#: whether one opens there, ``p_sense``: the loading sense).
R0, PEND, PUPTO, PJ, PAV, PSENSE = range(12, 18)
#: ``log0``: the avalanche (log row) held at index 0 of ``alog`` (a streamed log: rows before
#: it were handed over).
A0 = 18

#: Statuses (``ROWS_FULL``: the record arrays are full; hand rows ``row0 ..`` over, set
#: ``row0`` and call again). ``OPEN_NEXT``: (helpers only) go on and open the avalanche.
DONE, CHUNK_END, RECORD_FULL, SWEEP_LIMIT, LOG_FULL, ROWS_FULL = 0, 1, 2, 3, 4, 5
OPEN_NEXT = -1


@nb.njit(cache=True)
def log_row(alog, ipos, step, gamma, s_before, s_after, plastic, diss):  # pragma: no cover
    """Append the closed avalanche's row to ``alog`` (row ``ipos[NAVAL] - ipos[A0]``).

    ``step, gamma, stress_before, stress_after, size, sweeps, plastic, dissipation``, the
    size and sweeps from ``ipos[ONEV]``, ``ipos[OSW]``; advances ``ipos[NAVAL]``.
    """
    a = ipos[NAVAL]
    ra = a - ipos[A0]  # the log row held at index 0 is ipos[A0]
    alog[ra, 0] = step
    alog[ra, 1] = gamma
    alog[ra, 2] = s_before
    alog[ra, 3] = s_after
    alog[ra, 4] = ipos[ONEV]
    alog[ra, 5] = ipos[OSW]
    alog[ra, 6] = plastic
    alog[ra, 7] = diss
    ipos[NAVAL] = a + 1


@nb.njit(cache=True)
def count_sweep(ipos, ev_x, j0, j1, record, count):  # pragma: no cover - compiled
    """After a sweep of the open avalanche: its events' extras and the sweep counters.

    Events ``j0 .. j1`` (recorded by the sweep) get the global sweep and the avalanche
    (``ev_x``); the sweeps and the avalanche's events (``count``) are counted.
    """
    if record:
        for j in range(j0, j1):
            ev_x[j, 0] = ipos[NSW]
            ev_x[j, 1] = ipos[NAVAL]
    ipos[NSW] += 1
    ipos[OSW] += 1
    ipos[ONEV] += count


@nb.njit(cache=True)
def open_avalanche(ipos, j):  # pragma: no cover - compiled
    """Mark the avalanche of step (or position) ``j`` open, with no event or sweep yet."""
    ipos[OPEN] = 1
    ipos[OJ] = j
    ipos[ONEV] = 0
    ipos[OSW] = 0


@nb.njit(cache=True)
def _pos(j, n_steps, p_last):  # pragma: no cover - compiled
    """Position of step ``j`` on the lattice of stress increments (float)."""
    return p_last if j == n_steps else float(j)


@nb.njit(cache=True)
def _x_of(mode, m, a, b, sense, n_steps, p_last, d):  # pragma: no cover - compiled
    """The load of step ``m`` as the drivers compute it (same operations, same bits).

    ``mode`` 0 (strain path): ``(a + sense m - b) d`` with ``a = k``, ``b = k_base``;
    1 (stress ramp): ``(pos(a + m) - b) d`` with ``a`` the steps done, ``b = j_base``.
    """
    if mode == 0:
        return (a + sense * m - b) * d
    return (_pos(a + m, n_steps, p_last) - b) * d


@nb.njit(cache=True)
def pend_trigger(ipos, k, k_to, sense, mm, cap):  # pragma: no cover - compiled
    """Strain path: the trigger ``mm`` found from position ``k`` (``cap + 1``: none) pends.

    The steps up to ``ipos[PUPTO]`` are elastic, then an avalanche at ``ipos[PJ]`` when
    ``ipos[PAV]``.
    """
    ipos[PUPTO] = k_to if mm > cap else k + sense * (mm - 1)
    ipos[PAV] = 0 if mm > cap else 1
    ipos[PJ] = k + sense * mm
    ipos[PSENSE] = sense
    ipos[PEND] = 1


@nb.njit(cache=True)
def strain_steps(ipos, base_ext, dgamma, vbar, rec_pos, rec_s, rec_sb, rec_size,
                 rec_pl):  # pragma: no cover - compiled
    """Strain path: the elastic steps ``k + sense .. ipos[PUPTO]`` of the pending trigger.

    Each on the line from the base (``base_ext + ((j - k_base) dgamma) vbar``), as many as
    the record arrays hold. Returns :data:`ROWS_FULL` (full: hand them over, call again),
    :data:`DONE` (no avalanche follows) or :data:`OPEN_NEXT` (open the avalanche at
    ``ipos[PJ]``, its row fits).
    """
    k = ipos[K_]
    kb = ipos[KB]
    upto = ipos[PUPTO]
    sense = ipos[PSENSE]
    i = ipos[NREC]
    r0 = ipos[R0]
    room = rec_pos.shape[0]
    while k != upto:
        if i - r0 >= room:
            ipos[NREC] = i
            ipos[K_] = k
            return ROWS_FULL
        jj = k + sense
        s = base_ext + ((jj - kb) * dgamma) * vbar
        r = i - r0
        rec_pos[r] = jj
        rec_s[r] = s
        rec_sb[r] = s
        rec_size[r] = 0
        rec_pl[r] = 0.0
        i += 1
        k = jj
    ipos[NREC] = i
    ipos[K_] = upto
    if ipos[PAV] == 0:
        ipos[PEND] = 0
        return DONE
    if i - r0 >= room:  # the avalanche's row
        return ROWS_FULL
    ipos[PEND] = 0
    return OPEN_NEXT


@nb.njit(cache=True)
def strain_row(ipos, j, s_before, s_after, plast, rec_pos, rec_s, rec_sb, rec_size,
               rec_pl):  # pragma: no cover - compiled
    """Strain path: the row of the avalanche closed at position ``j``; returns the row index.

    Its size is ``ipos[ONEV]``; ``ipos[K_]`` moves to ``j``.
    """
    i = ipos[NREC]
    r = i - ipos[R0]
    rec_pos[r] = j
    rec_sb[r] = s_before
    rec_s[r] = s_after
    rec_size[r] = ipos[ONEV]
    rec_pl[r] = plast
    ipos[NREC] = i + 1
    ipos[K_] = j
    return i


@nb.njit(cache=True)
def stress_steps(ipos, n_steps, p_last, dgeq, sense, g_base, base_ext, vbar, out_s, out_g,
                 jump, sizes):  # pragma: no cover - compiled
    """Stress ramp: the elastic steps ``ipos[DONE_] + 1 .. ipos[PJ] - 1`` before a trigger.

    Each on the line from the last avalanche (strain ``g_base + sense x``, stress
    ``base_ext + sense x vbar``, ``x = (pos(j) - j_base) dgeq``), as many as the records
    hold. Returns :data:`ROWS_FULL`, :data:`DONE` (past the last step) or :data:`OPEN_NEXT`
    (open the avalanche of step ``ipos[PJ]``, its row fits).
    """
    j = ipos[PJ]
    jb = ipos[KB]
    r0 = ipos[R0]
    room = out_s.shape[0]
    for jj in range(ipos[DONE_] + 1, min(j, n_steps + 1)):
        r = jj - 1 - r0
        if r >= room:
            ipos[DONE_] = jj - 1
            return ROWS_FULL
        x = (_pos(jj, n_steps, p_last) - jb) * dgeq
        out_g[r] = g_base + sense * x
        out_s[r] = base_ext + sense * x * vbar
        jump[r] = 0.0
        sizes[r] = 0
    done = min(j, n_steps + 1) - 1
    ipos[DONE_] = done
    if j > n_steps:
        ipos[PEND] = 0
        return DONE
    if j - 1 - r0 >= room:  # the avalanche's row
        return ROWS_FULL
    ipos[PEND] = 0
    return OPEN_NEXT

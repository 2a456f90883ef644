"""Numba forms of the propagators: the per-event stress updates, arrays in, arrays out.

Each propagator (:mod:`femplastic.fe.propagators`) exposes a *numba form* ``(kind, arr, L)``;
:func:`apply_form` applies a batch of plastic-strain increments through it. Nothing here knows
about meshes, materials or slip systems.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numba import uint64 as u64

from ...numba_cache import refresh as _refresh_numba_caches

_refresh_numba_caches()  # before any cached kernel loads (see femplastic.numba_cache)

from .packed_kernels import packed_add  # noqa: E402  (after the cache refresh)
from .sparse_kernels import sparse_apply  # noqa: E402  (after the cache refresh)

__all__ = ["shifted_add", "shifted_add_many", "dense_add_many", "apply_form",
           "shuffle_scatter", "meanfield_add", "memory_pass",
           "FORM_PERIODIC", "FORM_DENSE", "FORM_SHUFFLED_PERIODIC", "FORM_SHUFFLED_DENSE",
           "FORM_MEANFIELD", "FORM_SPARSE", "FORM_PACKED", "FORM_SHUFFLED_PACKED",
           "folded_add2_sweep", "PAR_UPDATE"]


@nb.njit(cache=True, fastmath={"contract"}, boundscheck=False)
def shifted_add(stress, K, L, e, d0, d1, d2, par=False):  # pragma: no cover - compiled
    """``stress[j] += G[(j - e) mod (L, L)] @ (d0, d1, d2)`` for every element ``j``.

    Parameters
    ----------
    stress : (L*L*3,) float64, flat view of the C-contiguous (L*L, 3) stress array, modified
        in place
    K : (4, (L // 2 + 1) * 6 L) float64, the periodic kernel folded by its mirror symmetry
        (built by ``femplastic.fe.propagators.fold_kernel``): ``K[0]``, ``K[1]``, ``K[2]`` hold,
        for the offsets ``ry = 0 .. L // 2``, the stress per unit deviatoric input
        ``u = (d0 - d1) / 2``, shear input ``d2`` and volumetric input ``t = (d0 + d1) / 2``;
        each kernel row (``3 L`` values, x fastest, components innermost) is stored twice in a
        row so that any shift in x reads one contiguous segment. ``K[3, :3L]`` is the sign
        pattern ``(1, 1, -1)`` repeated ``L`` times.
    L : int
    e : int, source element (row-major, x fastest)
    d0, d1, d2 : float, Voigt eigenstrain increment in ``e``
    par : bool, run the threaded form (bit-identical; see :func:`_folded_add2_par`)

    Notes
    -----
    On the square grid with isotropic elasticity the kernel is mirror symmetric:
    ``G_ab(rx, -ry) = s_a s_b G_ab(rx, ry)`` with ``s = (1, 1, -1)`` (the shear components
    change sign under y -> -y). So one stored kernel row updates two target rows, ``ey + ry``
    with ``P + Q`` and ``ey - ry`` with ``s (P - Q)``, where ``P`` is the response to the
    even inputs ``u``, ``t`` and ``Q`` to the odd input ``d2``. This halves the kernel
    memory traffic, which with the stress read and write is what bounds the update. Slip
    increments are traceless (``t == 0`` exactly), which skips the third plane.
    """
    if d0 + d1 == 0.0:
        if par:
            _folded_add2_par(stress, K.reshape(-1), L, e, 0.5 * (d0 - d1), d2)
        else:
            _folded_add2(stress, K.reshape(-1), L, e, 0.5 * (d0 - d1), d2)
    else:
        _folded_add3(stress, K.reshape(-1), L, e, 0.5 * (d0 - d1), d2, 0.5 * (d0 + d1))


def _folded_add2_form(parallel: bool):  # noqa: ANN202 (a numba dispatcher)
    """Compile :func:`_folded_add2` (``parallel`` False) or :func:`_folded_add2_par` (True).

    One source for both: the threaded form shares the kernel rows ``ry`` among threads
    (``prange``), the serial one loops over them (``range``), with the same arithmetic. The
    loop function is a closure variable, which numba's cache keys on, so the two forms keep
    separate cache entries.
    """
    rows = nb.prange if parallel else range

    @nb.njit(cache=True, fastmath={"contract"}, boundscheck=False, parallel=parallel)
    def folded_add2(stress, Kf, L, e, u, d2):  # pragma: no cover - compiled
        ey = e // L
        ex = e - ey * L
        h = L // 2
        W = u64(3 * L)
        W2 = u64(6 * L)
        P = u64(h + 1) * W2
        M = u64(3) * P
        off = u64(3 * (L - ex))
        for ry in rows(h + 1):
            jA = ey + ry
            if jA >= L:
                jA -= L
            jB = ey - ry
            if jB < 0:
                jB += L
            k0 = u64(ry) * W2 + off
            a = u64(jA) * W
            b = u64(jB) * W
            if jA == jB:
                for k in range(W):
                    stress[a + k] += Kf[k0 + k] * u + Kf[P + k0 + k] * d2
            else:
                for k in range(W):
                    p = Kf[k0 + k] * u
                    q = Kf[P + k0 + k] * d2
                    stress[a + k] += p + q
                    stress[b + k] += Kf[M + k] * (p - q)

    return folded_add2


#: :func:`shifted_add` of a traceless increment; ``Kf`` is the folded kernel, flat. Indices
#: are unsigned so that numba emits no negative-index wraparound, which would keep LLVM from
#: vectorising the row loops.
_folded_add2 = _folded_add2_form(False)
#: :func:`_folded_add2` with the kernel rows ``ry`` shared among threads. Row ``ry`` writes
#: the target rows ``ey + ry`` and ``ey - ry`` only, which no other ``ry`` in ``0 .. L // 2``
#: writes, and every value is computed by the same arithmetic as the serial form: the result
#: is bit-identical whatever the number of threads.
_folded_add2_par = _folded_add2_form(True)


#: Weight of the sweep's stress update among the threaded regions: it runs on threads when
#: ``events * n >= PAR_UPDATE * par`` (see :mod:`femplastic.threads`).
PAR_UPDATE = 4


@nb.njit(cache=True, fastmath={"contract"}, boundscheck=False)
def _row_self(stress, Kf, a, k0, P, W, u, d2):  # pragma: no cover - compiled
    """Target row of offset ``ry = 0`` (or ``L / 2``): the expression of :func:`_folded_add2`."""
    for k in range(W):
        stress[a + k] += Kf[k0 + k] * u + Kf[P + k0 + k] * d2


@nb.njit(cache=True, boundscheck=False)
def _row_up(stress, Kf, a, k0, P, W, u, d2):  # pragma: no cover - compiled
    """Target row ``ey + ry`` of :func:`_folded_add2`: ``p + q``, the products rounded.

    Without contraction: in :func:`_folded_add2` the products ``p``, ``q`` serve two rows,
    so LLVM does not fuse them there either.
    """
    for k in range(W):
        p = Kf[k0 + k] * u
        q = Kf[P + k0 + k] * d2
        stress[a + k] += p + q


@nb.njit(cache=True, boundscheck=False)
def _row_down(stress, Kf, b, k0, P, M, W, u, d2):  # pragma: no cover - compiled
    """Target row ``ey - ry`` of :func:`_folded_add2`: ``s (p - q)``, ``s = +-1`` exact.

    The sign product is exact, so the fused multiply-add of :func:`_folded_add2` rounds once
    like this unfused sum.
    """
    for k in range(W):
        p = Kf[k0 + k] * u
        q = Kf[P + k0 + k] * d2
        stress[b + k] += Kf[M + k] * (p - q)


@nb.njit(cache=True, boundscheck=False, parallel=True)
def folded_add2_sweep(stress, Kf, L, act_e, deps, count):  # pragma: no cover - compiled
    """The traceless updates of a sweep's ``count`` events as one threaded region.

    The target rows are shared among threads; each row receives the events in event order,
    with the arithmetic of :func:`_folded_add2` (which adds one term per event to every
    row): the result is bit-identical to :func:`shifted_add` event by event, whatever the
    number of threads. ``Kf`` is the folded kernel, flat; ``deps[i]`` must be traceless.
    """
    h = L // 2
    W = u64(3 * L)
    W2 = u64(6 * L)
    P = u64(h + 1) * W2
    M = u64(3) * P
    for j in nb.prange(L):
        a = u64(j) * W
        for i in range(count):
            e = act_e[i]
            ey = e // L
            ex = e - ey * L
            u = 0.5 * (deps[i, 0] - deps[i, 1])
            d2 = deps[i, 2]
            off = u64(3 * (L - ex))
            d = j - ey
            if d < 0:
                d += L
            if d <= h:
                k0 = u64(d) * W2 + off
                if d == 0 or 2 * d == L:
                    _row_self(stress, Kf, a, k0, P, W, u, d2)
                else:
                    _row_up(stress, Kf, a, k0, P, W, u, d2)
            else:
                _row_down(stress, Kf, a, u64(L - d) * W2 + off, P, M, W, u, d2)


@nb.njit(cache=True, fastmath={"contract"}, boundscheck=False)
def _folded_add3(stress, Kf, L, e, u, d2, t):  # pragma: no cover - compiled
    """:func:`shifted_add` of an increment with a volumetric part ``t``."""
    ey = e // L
    ex = e - ey * L
    h = L // 2
    W = u64(3 * L)
    W2 = u64(6 * L)
    P = u64(h + 1) * W2
    P2 = u64(2) * P
    M = u64(3) * P
    off = u64(3 * (L - ex))
    for ry in range(h + 1):
        jA = ey + ry
        if jA >= L:
            jA -= L
        jB = ey - ry
        if jB < 0:
            jB += L
        k0 = u64(ry) * W2 + off
        a = u64(jA) * W
        b = u64(jB) * W
        if jA == jB:
            for k in range(W):
                stress[a + k] += Kf[k0 + k] * u + Kf[P2 + k0 + k] * t + Kf[P + k0 + k] * d2
        else:
            for k in range(W):
                p = Kf[k0 + k] * u + Kf[P2 + k0 + k] * t
                q = Kf[P + k0 + k] * d2
                stress[a + k] += p + q
                stress[b + k] += Kf[M + k] * (p - q)


@nb.njit(cache=True)
def shifted_add_many(stress, K, L, elems, deps):  # pragma: no cover - compiled
    """Apply :func:`shifted_add` for every ``(elems[k], deps[k])``; stress flat, deps (k, 3)."""
    for k in range(elems.shape[0]):
        shifted_add(stress, K, L, elems[k], deps[k, 0], deps[k, 1], deps[k, 2])


@nb.njit(cache=True, fastmath={"contract"})
def dense_add_many(stress, R2, elems, deps):  # pragma: no cover - compiled
    """``stress += sum_k R[elems[k]] . deps[k]`` for a dense response.

    Parameters
    ----------
    stress : (n*3,) float64, flat stress, modified in place
    R2 : (n*3, n*3) float64, ``R2[3 i + b, 3 j + a]`` the change of stress ``a`` in element
        ``j`` per unit eigenstrain ``b`` in element ``i``.
    elems : (k,) int64
    deps : (k, 3) float64
    """
    m = stress.shape[0]
    for k in range(elems.shape[0]):
        i = elems[k]
        r0 = R2[3 * i]
        r1 = R2[3 * i + 1]
        r2 = R2[3 * i + 2]
        d0 = deps[k, 0]
        d1 = deps[k, 1]
        d2 = deps[k, 2]
        for j in range(m):
            stress[j] += r0[j] * d0 + r1[j] * d1 + r2[j] * d2


@nb.njit(cache=True)
def memory_pass(stress, c):  # pragma: no cover - compiled
    """Baseline for benchmarks: one read-modify-write pass over a flat stress array."""
    for j in range(stress.shape[0]):
        stress[j] += c


def _warmup() -> None:
    """Compile the kernels on tiny inputs (used by benchmarks before timing)."""
    s = np.zeros((4, 3))
    Kf = np.zeros((4, 24))  # folded kernel of L = 2
    shifted_add(s.reshape(-1), Kf, 2, 1, 0.0, 0.0, 1.0)
    shifted_add(s.reshape(-1), Kf, 2, 1, 1.0, 0.0, 1.0)
    shifted_add_many(s.reshape(-1), Kf, 2, np.zeros(1, np.int64), np.zeros((1, 3)))
    dense_add_many(s.reshape(-1), np.zeros((12, 12)), np.zeros(1, np.int64), np.ones((1, 3)))
    memory_pass(s, 0.0)


#: Propagator numba forms (``Propagator.numba_form()`` kinds).
FORM_PERIODIC, FORM_DENSE = 0, 1
FORM_SHUFFLED_PERIODIC, FORM_SHUFFLED_DENSE, FORM_MEANFIELD = 2, 3, 4
#: Packed sparse factorisation (:mod:`~femplastic.fe.propagators.sparse_kernels`): one solve
#: for all events of a call.
FORM_SPARSE = 5
#: Packed symmetric dense response (:mod:`~femplastic.fe.propagators.packed_kernels`), and the
#: same shuffled per event (model D; kind + 2 as for the other dense forms).
FORM_PACKED, FORM_SHUFFLED_PACKED = 6, 8


@nb.njit(cache=True)
def shuffle_scatter(stress, resp, e, rng, perm):  # pragma: no cover - compiled
    """``stress += resp`` with the rows of the *other* elements randomly permuted (model D).

    Parameters
    ----------
    stress : (n*3,) float64, flat stress, modified in place
    resp : (n*3,) float64, flat response of one event in element ``e`` (unshuffled)
    e : int, the event's element: ``stress[e] += resp[e]`` (self term kept)
    rng : numpy.random.Generator, draws one uniform permutation of the ``n - 1`` others
    perm : (n - 1,) int64 work array

    Notes
    -----
    Other element ``o_i`` (the ``i``-th element different from ``e``) receives the response of
    ``o_perm[i]``: a bijection of the others, so the multiset of induced stress changes, and
    hence their sum (the mean stress change), is exactly that of the unshuffled event.
    """
    m = perm.shape[0]
    for i in range(m):
        perm[i] = i
    rng.shuffle(perm)
    stress[3 * e] += resp[3 * e]
    stress[3 * e + 1] += resp[3 * e + 1]
    stress[3 * e + 2] += resp[3 * e + 2]
    for i in range(m):
        dst = i if i < e else i + 1
        q = perm[i]
        src = q if q < e else q + 1
        stress[3 * dst] += resp[3 * src]
        stress[3 * dst + 1] += resp[3 * src + 1]
        stress[3 * dst + 2] += resp[3 * src + 2]


@nb.njit(cache=True)
def meanfield_add(stress, MF, e, d0, d1, d2):  # pragma: no cover - compiled
    """Mean-field response of one event (model I): self term in ``e``, one change elsewhere.

    Parameters
    ----------
    stress : (n*3,) float64, flat stress, modified in place
    MF : (n, 18) float64, ``MF[e, 3 a + b]`` the self response ``S_e[a, b]`` and
        ``MF[e, 9 + 3 a + b]`` the (area-weighted) mean response of the other elements
        ``O_e[a, b]``, per unit eigenstrain ``b`` in ``e``.
    e : int
    d0, d1, d2 : float, Voigt eigenstrain increment in ``e``
    """
    n = stress.shape[0] // 3
    r = MF[e]
    o0 = r[9] * d0 + r[10] * d1 + r[11] * d2
    o1 = r[12] * d0 + r[13] * d1 + r[14] * d2
    o2 = r[15] * d0 + r[16] * d1 + r[17] * d2
    for j in range(n):
        if j != e:
            stress[3 * j] += o0
            stress[3 * j + 1] += o1
            stress[3 * j + 2] += o2
    stress[3 * e] += r[0] * d0 + r[1] * d1 + r[2] * d2
    stress[3 * e + 1] += r[3] * d0 + r[4] * d1 + r[5] * d2
    stress[3 * e + 2] += r[6] * d0 + r[7] * d1 + r[8] * d2


@nb.njit(cache=True)
def apply_form(kind, arr, L, stress, count, act_e, deps, rng,
               par=False):  # pragma: no cover - compiled
    """Propagator increments of ``count`` events through its numba form, in event order.

    Parameters
    ----------
    kind : int
        0 folded periodic kernel ``arr (4, (L//2+1)*6L)`` (:func:`shifted_add`); 1 dense
        response ``arr (3n, 3n)``;
        2 / 3 the same kernels shuffled per event (:func:`shuffle_scatter`); 4 mean field
        ``arr (n, 18)`` (:func:`meanfield_add`); 5 packed sparse factorisation ``arr (1, N)``
        (:func:`~femplastic.fe.propagators.sparse_kernels.sparse_apply`: all ``count`` events
        in one solve); 6 packed symmetric dense response ``arr (1, N)``
        (:func:`~femplastic.fe.propagators.packed_kernels.packed_add`); 8 the same shuffled.
    arr : 2D float64 array, see ``kind``
    L : int, grid side for the periodic kinds (0 otherwise)
    stress : (n, 3) float64, C-contiguous, modified in place
    count : int
    act_e : (>= count,) int64, elements of the events
    deps : (>= count, 3) float64, Voigt plastic strain increments
    rng : numpy.random.Generator, used by the shuffled kinds only (one permutation per event)
    par : int, grain of the threaded regions (:func:`femplastic.threads.parallel_for`; 0
        serial): the periodic kind's sweep runs as one threaded region
        (:func:`folded_add2_sweep`, same bits), and the packed kind's target tiles on threads
        (same bits), when ``count * n >= PAR_UPDATE * par``
    """
    flat = stress.reshape(-1)
    if kind == 5:
        sparse_apply(arr.reshape(-1), flat, count, act_e, deps)
        return
    if kind == 6:  # target tiles on threads above the grain (bit-identical)
        packed_add(arr.reshape(-1), flat, count, act_e, deps,
                   par > 0 and count * stress.shape[0] >= PAR_UPDATE * par)
        return
    n = stress.shape[0]
    if kind == 0 and par > 0 and count * n >= PAR_UPDATE * par:
        traceless = True
        for i in range(count):
            traceless = traceless and deps[i, 0] + deps[i, 1] == 0.0
        if traceless:  # slips are: the sweep as one threaded region
            folded_add2_sweep(flat, arr.reshape(-1), L, act_e, deps, count)
            return
    shuffled = kind == 2 or kind == 3 or kind == 8
    resp = np.zeros(3 * n if shuffled else 0)
    perm = np.zeros(n - 1 if shuffled else 0, np.int64)
    for i in range(count):
        e = act_e[i]
        if kind == 0:
            shifted_add(flat, arr, L, e, deps[i, 0], deps[i, 1], deps[i, 2])
        elif kind == 1:
            dense_add_many(flat, arr, act_e[i : i + 1], deps[i : i + 1])
        elif shuffled:
            resp[:] = 0.0
            if kind == 2:
                shifted_add(resp, arr, L, e, deps[i, 0], deps[i, 1], deps[i, 2])
            elif kind == 8:
                packed_add(arr.reshape(-1), resp, 1, act_e[i : i + 1], deps[i : i + 1])
            else:
                dense_add_many(resp, arr, act_e[i : i + 1], deps[i : i + 1])
            shuffle_scatter(flat, resp, e, rng, perm)
        else:
            meanfield_add(flat, arr, e, deps[i, 0], deps[i, 1], deps[i, 2])

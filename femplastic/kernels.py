"""Numba hot loops. Arrays and scalars in, preallocated arrays out (last arguments).

Nothing in this module knows about meshes, materials or parameter objects; the Python
modules translate their objects into the plain arrays these kernels take.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numba import uint64 as u64

__all__ = ["shifted_add", "shifted_add_many", "dense_add_many", "apply_form",
           "shuffle_scatter", "meanfield_add"]


@nb.njit(cache=True, fastmath={"contract"}, boundscheck=False)
def shifted_add(stress, K, L, e, d0, d1, d2):  # pragma: no cover - compiled
    """``stress[j] += G[(j - e) mod (L, L)] @ (d0, d1, d2)`` for every element ``j``.

    Parameters
    ----------
    stress : (L*L*3,) float64, flat view of the C-contiguous (L*L, 3) stress array, modified
        in place
    K : (4, (L // 2 + 1) * 6 L) float64, the periodic kernel folded by its mirror symmetry
        (built by ``femplastic.propagator.fold_kernel``): ``K[0]``, ``K[1]``, ``K[2]`` hold,
        for the offsets ``ry = 0 .. L // 2``, the stress per unit deviatoric input
        ``u = (d0 - d1) / 2``, shear input ``d2`` and volumetric input ``t = (d0 + d1) / 2``;
        each kernel row (``3 L`` values, x fastest, components innermost) is stored twice in a
        row so that any shift in x reads one contiguous segment. ``K[3, :3L]`` is the sign
        pattern ``(1, 1, -1)`` repeated ``L`` times.
    L : int
    e : int, source element (row-major, x fastest)
    d0, d1, d2 : float, Voigt eigenstrain increment in ``e``

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
        _folded_add2(stress, K.reshape(-1), L, e, 0.5 * (d0 - d1), d2)
    else:
        _folded_add3(stress, K.reshape(-1), L, e, 0.5 * (d0 - d1), d2, 0.5 * (d0 + d1))


@nb.njit(cache=True, fastmath={"contract"}, boundscheck=False)
def _folded_add2(stress, Kf, L, e, u, d2):  # pragma: no cover - compiled
    """:func:`shifted_add` of a traceless increment; ``Kf`` is the folded kernel, flat.

    Indices are unsigned so that numba emits no negative-index wraparound, which would keep
    LLVM from vectorising the row loops.
    """
    ey = e // L
    ex = e - ey * L
    h = L // 2
    W = u64(3 * L)
    W2 = u64(6 * L)
    P = u64(h + 1) * W2
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
                stress[a + k] += Kf[k0 + k] * u + Kf[P + k0 + k] * d2
        else:
            for k in range(W):
                p = Kf[k0 + k] * u
                q = Kf[P + k0 + k] * d2
                stress[a + k] += p + q
                stress[b + k] += Kf[M + k] * (p - q)


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


# =============================================================================================
# Weak-plane slip systems. Arrays (n = elements, N = systems per element):
#   stress (n, 3); theta, tauc, selfres (n, N); nv (n, N, 2) = (sin 2theta, cos 2theta)
#   resolved shear stress tau = nv . s with s = ((s_yy - s_xx) / 2, s_xy)
#   selfres[e, k] = -(K_self_e : M_k) : M_k > 0, so gmax(tau) = 2 tau / selfres
#   law_i = [orient_kind, thr_kind, thr_shared, renew_thr, renew_angles, amp_kind]
#   law_f = [thr_p0, thr_p1, amp_p0, amp_p1, dp_a, dp_p0]
#   cache: sref (n, 2), pref (n,), margin (n,) (margin < 0: unknown)
# Threshold kinds: 0 Weibull(k=p0, lam=p1), 1 constant p0, 2 tabulated inverse CDF.
# Amplitude kinds: 0 bounded power law (chi=p0) below gmax, 1 fixed p0, 2 exponential with
#   mean p0 + p1 tauc^2. Orientation kinds: 0 random groups of four, 1 fixed angles table.
# =============================================================================================

ORIENT_GROUPS, ORIENT_FIXED = 0, 1
THR_WEIBULL, THR_CONSTANT, THR_TABLE = 0, 1, 2
AMP_POWER, AMP_FIXED, AMP_EXPONENTIAL = 0, 1, 2
_SAFE = 1e-12  # relative safety of the cached stability test (far above round-off)


@nb.njit(cache=True)
def ppf_table(table, u):  # pragma: no cover - compiled
    """Inverse CDF tabulated at equally spaced probabilities ``0 .. 1`` (linear interpolation)."""
    m = table.shape[0] - 1
    x = u * m
    i = int(x)
    if i >= m:
        return table[m]
    f = x - i
    return table[i] * (1.0 - f) + table[i + 1] * f


@nb.njit(cache=True)
def ppf_threshold(kind, p0, p1, table, u):  # pragma: no cover - compiled
    """Threshold from a uniform ``u`` in [0, 1) by inverse transform."""
    if kind == 0:
        return p1 * (-np.log1p(-u)) ** (1.0 / p0)
    if kind == 1:
        return p0
    return ppf_table(table, u)


@nb.njit(cache=True)
def ppf_amplitude(kind, p0, p1, gmax, tauc, u):  # pragma: no cover - compiled
    """Slip amplitude from a uniform ``u`` in [0, 1) by inverse transform."""
    if kind == 0:
        return gmax * (1.0 - (1.0 - u) ** (1.0 / p0))
    if kind == 1:
        return p0
    return -(p0 + p1 * tauc * tauc) * np.log1p(-u)


@nb.njit(cache=True)
def _set_system(e, k, th, theta, nv, selfres, Kself):  # pragma: no cover - compiled
    s2 = np.sin(2.0 * th)
    c2 = np.cos(2.0 * th)
    theta[e, k] = th
    nv[e, k, 0] = s2
    nv[e, k, 1] = c2
    m0 = -0.5 * s2
    m1 = 0.5 * s2
    m2 = 0.5 * c2
    # (K M) : M with tensor-Voigt weights (1, 1, 2)
    k0 = Kself[e, 0, 0] * m0 + Kself[e, 0, 1] * m1 + Kself[e, 0, 2] * m2
    k1 = Kself[e, 1, 0] * m0 + Kself[e, 1, 1] * m1 + Kself[e, 1, 2] * m2
    k2 = Kself[e, 2, 0] * m0 + Kself[e, 2, 1] * m1 + Kself[e, 2, 2] * m2
    selfres[e, k] = -(k0 * m0 + k1 * m1 + 2.0 * k2 * m2)


@nb.njit(cache=True)
def renew_element(e, rng, law_i, law_f, thr_table, angles, theta, tauc, nv, selfres, Kself,
                  first):  # pragma: no cover - compiled
    """Draw new angles and thresholds for all systems of element ``e``.

    ``first`` forces drawing everything (initial state), regardless of the renewal flags.
    Draw order per element: angles (one uniform per group of four), then thresholds.
    """
    N = theta.shape[1]
    if first or law_i[4]:
        if law_i[0] == 0:
            for g in range(N // 4):
                # theta ~ U(-pi/2, pi/2]
                th = np.pi / 2 - np.pi * rng.random()
                # order: theta, theta + pi/2, theta + pi/4, theta + 3 pi/4
                _set_system(e, 4 * g, th, theta, nv, selfres, Kself)
                _set_system(e, 4 * g + 1, th + np.pi / 2, theta, nv, selfres, Kself)
                _set_system(e, 4 * g + 2, th + np.pi / 4, theta, nv, selfres, Kself)
                _set_system(e, 4 * g + 3, th + 3 * np.pi / 4, theta, nv, selfres, Kself)
        else:
            for k in range(N):
                _set_system(e, k, angles[k], theta, nv, selfres, Kself)
    if first or law_i[3]:
        if law_i[2]:
            t = ppf_threshold(law_i[1], law_f[0], law_f[1], thr_table, rng.random())
            for k in range(N):
                tauc[e, k] = t
        else:
            for k in range(N):
                tauc[e, k] = ppf_threshold(law_i[1], law_f[0], law_f[1], thr_table, rng.random())


@nb.njit(cache=True)
def full_check(e, stress, nv, tauc, law_f, sref, pref, margin):  # pragma: no cover
    """Lowest distance to threshold of element ``e`` and its system; refreshes the cache."""
    a = law_f[4]
    s0 = 0.5 * (stress[e, 1] - stress[e, 0])
    s1 = stress[e, 2]
    p = -0.5 * (stress[e, 0] + stress[e, 1])
    best = np.inf
    kbest = 0
    shift = a * (p + law_f[5])
    for k in range(tauc.shape[1]):
        d = tauc[e, k] + shift - (nv[e, k, 0] * s0 + nv[e, k, 1] * s1)
        if d < best:
            best = d
            kbest = k
    sref[e, 0] = s0
    sref[e, 1] = s1
    pref[e] = p
    margin[e] = best
    return best, kbest


@nb.njit(cache=True)
def find_active(stress, nv, tauc, law_f, sref, pref, margin, out_e, out_k,
                stop_first=False):  # pragma: no cover
    """Active elements (lowest ``dtau_c < 0``) and their lowest system; returns the count.

    An element is skipped without looking at its systems when its cached margin proves it
    stable: ``|s - s_ref| + a |p - p_ref| < margin`` is exact by the triangle inequality
    (resolved stresses are unit projections of ``s``), with a relative safety far above
    round-off. Otherwise :func:`full_check` scans its ``N`` systems and refreshes the cache.
    With ``stop_first`` the scan ends at the first active element.
    """
    a = law_f[4]
    safe = 1.0 - _SAFE
    count = 0
    for e in range(stress.shape[0]):
        # cached stability test (see docstring), written inline: a call per element costs
        # more than the test itself
        mg = margin[e]
        if mg > 0.0:
            d0 = 0.5 * (stress[e, 1] - stress[e, 0]) - sref[e, 0]
            d1 = stress[e, 2] - sref[e, 1]
            dist = np.sqrt(d0 * d0 + d1 * d1)
            if a != 0.0:
                dist += a * abs(-0.5 * (stress[e, 0] + stress[e, 1]) - pref[e])
            if dist < mg * safe - 1e-13:
                continue
        d, k = full_check(e, stress, nv, tauc, law_f, sref, pref, margin)
        if d < 0.0:
            out_e[count] = e
            out_k[count] = k
            count += 1
            if stop_first:
                return count
    return count


@nb.njit(cache=True)
def draw_slips(count, act_e, act_k, stress, theta, nv, tauc, selfres, law_i, law_f, rng,
               thermal, deps, amp, taus):  # pragma: no cover - compiled
    """Amplitudes and plastic strain increments of the active systems (before any is applied).

    The bound is ``gmax(tau) = 2 tau / selfres`` with ``tau`` the resolved stress at
    activation; for a thermal event (``thermal``) it is ``gmax(tau_c)`` (seed 004, A.3), with
    the effective threshold ``tau_c + a (p + p0)`` under a pressure-dependent criterion
    (model B; identical for ``a = 0``). A negative bound (possible only for ``a > 0`` under
    strong local tension) is clipped to 0: no slip can dissipate energy there.
    Fills ``deps[i]`` (Voigt), ``amp[i]`` and ``taus[i]``.
    """
    for i in range(count):
        e = act_e[i]
        k = act_k[i]
        s0 = 0.5 * (stress[e, 1] - stress[e, 0])
        tau = nv[e, k, 0] * s0 + nv[e, k, 1] * stress[e, 2]
        if thermal:
            # the system reached its effective threshold tau_c + a (p + p0) thermally
            p = -0.5 * (stress[e, 0] + stress[e, 1])
            tb = tauc[e, k] + law_f[4] * (p + law_f[5])
        else:
            tb = tau
        gmax = 2.0 * tb / selfres[e, k]
        if gmax < 0.0:  # only possible with a pressure-dependent threshold under tension
            gmax = 0.0
        g = ppf_amplitude(law_i[5], law_f[2], law_f[3], gmax, tauc[e, k], rng.random())
        sn = nv[e, k, 0]
        cs = nv[e, k, 1]
        deps[i, 0] = -0.5 * sn * g
        deps[i, 1] = 0.5 * sn * g
        deps[i, 2] = 0.5 * cs * g
        amp[i] = g
        taus[i] = tau


@nb.njit(cache=True)
def finish_slips(count, act_e, deps, eps_pl, rng, law_i, law_f, thr_table, angles, theta,
                 tauc, nv, selfres, Kself, margin, slips):  # pragma: no cover - compiled
    """Book the plastic strain, renew the slipped elements' systems, invalidate their cache."""
    for i in range(count):
        e = act_e[i]
        eps_pl[e, 0] += deps[i, 0]
        eps_pl[e, 1] += deps[i, 1]
        eps_pl[e, 2] += deps[i, 2]
        slips[e] += 1
        renew_element(e, rng, law_i, law_f, thr_table, angles, theta, tauc, nv, selfres, Kself,
                      False)
        margin[e] = -1.0


#: Propagator numba forms (``Propagator.numba_form()`` kinds).
FORM_PERIODIC, FORM_DENSE = 0, 1
FORM_SHUFFLED_PERIODIC, FORM_SHUFFLED_DENSE, FORM_MEANFIELD = 2, 3, 4


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
def apply_form(kind, arr, L, stress, count, act_e, deps, rng):  # pragma: no cover - compiled
    """Propagator increments of ``count`` events through its numba form, in event order.

    Parameters
    ----------
    kind : int
        0 folded periodic kernel ``arr (4, (L//2+1)*6L)`` (:func:`shifted_add`); 1 dense
        response ``arr (3n, 3n)``;
        2 / 3 the same kernels shuffled per event (:func:`shuffle_scatter`); 4 mean field
        ``arr (n, 18)`` (:func:`meanfield_add`).
    arr : 2D float64 array, see ``kind``
    L : int, grid side for the periodic kinds (0 otherwise)
    stress : (n, 3) float64, C-contiguous, modified in place
    count : int
    act_e : (>= count,) int64, elements of the events
    deps : (>= count, 3) float64, Voigt plastic strain increments
    rng : numpy.random.Generator, used by the shuffled kinds only (one permutation per event)
    """
    flat = stress.reshape(-1)
    n = stress.shape[0]
    shuffled = kind == 2 or kind == 3
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
            else:
                dense_add_many(resp, arr, act_e[i : i + 1], deps[i : i + 1])
            shuffle_scatter(flat, resp, e, rng, perm)
        else:
            meanfield_add(flat, arr, e, deps[i, 0], deps[i, 1], deps[i, 2])


@nb.njit(cache=True)
def relax_fused(kind, arr, L, stress, eps_pl, theta, tauc, nv, selfres, Kself, law_i, law_f,
                thr_table, angles, rng, sref, pref, margin, slips, act_e, act_k, deps, amp,
                taus, ev_e, ev_k, ev_th, ev_tau, ev_amp, ev_n, record, max_sweeps,
                thermal_first):  # pragma: no cover - compiled
    """Athermal relaxation at fixed strain: synchronous sweeps until nothing is active.

    ``ev_*`` receive every event when ``record`` (capacity ``ev_e.shape[0]``; ``ev_n[0]``
    counts written events, and the function returns early with status 2 when full, after
    completing its sweep). ``thermal_first`` marks the single pre-selected thermal event
    already placed in ``act_e[0], act_k[0]`` (KMC). Returns ``(status, events, plastic)``:
    status 0 relaxed, 1 sweep limit, 2 record buffer full; plastic = sum of deps (3,).

    Per sweep the draws from ``rng`` come in a fixed order: amplitudes of all events
    (:func:`draw_slips`), then the propagator's draws (one permutation per event for the
    shuffled forms, :func:`apply_form`), then the renewals (:func:`finish_slips`). The Python
    sweep of :func:`femplastic.drivers.aqs.relax` follows the same order.
    """
    n_events = 0
    plastic = np.zeros(3)
    for sweep in range(max_sweeps):
        if sweep == 0 and thermal_first:
            count = 1
        else:
            count = find_active(stress, nv, tauc, law_f, sref, pref, margin, act_e, act_k)
        if count == 0:
            return 0, n_events, plastic
        draw_slips(count, act_e, act_k, stress, theta, nv, tauc, selfres, law_i, law_f, rng,
                   sweep == 0 and thermal_first, deps, amp, taus)
        if record:
            for i in range(count):
                j = ev_n[0]
                if j < ev_e.shape[0]:
                    ev_e[j] = act_e[i]
                    ev_k[j] = act_k[i]
                    ev_th[j] = theta[act_e[i], act_k[i]]
                    ev_tau[j] = taus[i]
                    ev_amp[j] = amp[i]
                ev_n[0] = j + 1
        apply_form(kind, arr, L, stress, count, act_e, deps, rng)
        for i in range(count):
            plastic[0] += deps[i, 0]
            plastic[1] += deps[i, 1]
            plastic[2] += deps[i, 2]
        finish_slips(count, act_e, deps, eps_pl, rng, law_i, law_f, thr_table, angles, theta,
                     tauc, nv, selfres, Kself, margin, slips)
        n_events += count
        if record and ev_n[0] >= ev_e.shape[0]:
            return 2, n_events, plastic
    return 1, n_events, plastic


@nb.njit(cache=True)
def trial_stress(base, v, x, out):  # pragma: no cover - compiled
    """``out = base + x * v`` elementwise (the loaded stress, same formula in every mode)."""
    for e in range(base.shape[0]):
        out[e, 0] = base[e, 0] + x * v[e, 0]
        out[e, 1] = base[e, 1] + x * v[e, 1]
        out[e, 2] = base[e, 2] + x * v[e, 2]


@nb.njit(cache=True)
def any_active(stress, nv, tauc, law_f, sref, pref, margin):  # pragma: no cover - compiled
    """Whether any system is active (:func:`find_active` stopping at the first)."""
    scratch = np.empty(1, np.int64)
    return find_active(stress, nv, tauc, law_f, sref, pref, margin, scratch, scratch, True) > 0


@nb.njit(cache=True)
def _element_trigger(e, base, v, nv, tauc, law_f):  # pragma: no cover - compiled
    """Smallest load ``x`` (strain) activating a system of element ``e`` (inf if none)."""
    a = law_f[4]
    v0 = 0.5 * (v[e, 1] - v[e, 0])
    v1 = v[e, 2]
    vp = -0.5 * (v[e, 0] + v[e, 1])
    s0 = 0.5 * (base[e, 1] - base[e, 0])
    s1 = base[e, 2]
    shift = a * (-0.5 * (base[e, 0] + base[e, 1]) + law_f[5])
    best = np.inf
    for k in range(tauc.shape[1]):
        r = nv[e, k, 0] * v0 + nv[e, k, 1] * v1 - a * vp
        if r > 0.0:
            x = (tauc[e, k] + shift - (nv[e, k, 0] * s0 + nv[e, k, 1] * s1)) / r
            if x < best:
                best = x
    return best


@nb.njit(cache=True)
def next_trigger(base, v, dgamma, nv, tauc, law_f, sref, pref, margin, m_cap):  # pragma: no cover
    """Smallest load step ``m >= 1`` at which ``base + m dgamma v`` has an active system.

    Analytic (the stress is affine in the load): for each system with a positive loading
    rate ``r = n . v_s - a v_p``, activation at ``x = dtau / r``. A first pass computes, from
    the cached margins, a lower bound of every element's activation load; the element with
    the lowest bound is solved exactly, and the second pass skips every element whose bound
    exceeds the best load found. Returns ``min(m, m_cap)``.
    """
    a = law_f[4]
    n = base.shape[0]
    lbs = np.empty(n)
    emin = -1
    lmin = np.inf
    for e in range(n):
        v0 = 0.5 * (v[e, 1] - v[e, 0])
        v1 = v[e, 2]
        vp = -0.5 * (v[e, 0] + v[e, 1])
        vmax = np.sqrt(v0 * v0 + v1 * v1) + a * abs(vp)
        if vmax <= 0.0:
            lbs[e] = np.inf
            continue
        lb = -np.inf
        if margin[e] > 0.0:
            d0 = 0.5 * (base[e, 1] - base[e, 0]) - sref[e, 0]
            d1 = base[e, 2] - sref[e, 1]
            p = -0.5 * (base[e, 0] + base[e, 1])
            lb = (margin[e] - np.sqrt(d0 * d0 + d1 * d1) - a * abs(p - pref[e])) / vmax
        lbs[e] = lb
        if lb < lmin:
            lmin = lb
            emin = e
    best = np.inf
    if emin >= 0:
        best = _element_trigger(emin, base, v, nv, tauc, law_f)
    for e in range(n):
        if e == emin or lbs[e] >= best:
            continue
        x = _element_trigger(e, base, v, nv, tauc, law_f)
        if x < best:
            best = x
    if best == np.inf:
        return m_cap
    m = np.floor(best / dgamma) + 1.0
    if m < 1.0:
        m = 1.0
    if m > m_cap:
        return m_cap
    return int(m)


@nb.njit(cache=True)
def kmc_select(stress, nv, tauc, law_f, beta, rng):  # pragma: no cover - compiled
    """Pick a system with probability ``exp(-beta dtau) / sum``; returns (e, k, log nu_tot).

    ``beta = V_a / T``. Rates are computed relative to the lowest ``dtau`` (no overflow for
    negative distances); ``log nu_tot = -beta dtau_min + log sum exp(-beta (dtau - min))``.
    """
    n = stress.shape[0]
    N = tauc.shape[1]
    a = law_f[4]
    dmin = np.inf
    for e in range(n):
        s0 = 0.5 * (stress[e, 1] - stress[e, 0])
        s1 = stress[e, 2]
        shift = a * (-0.5 * (stress[e, 0] + stress[e, 1]) + law_f[5])
        for k in range(N):
            d = tauc[e, k] + shift - (nv[e, k, 0] * s0 + nv[e, k, 1] * s1)
            if d < dmin:
                dmin = d
    total = 0.0
    w = np.empty(n * N)
    for e in range(n):
        s0 = 0.5 * (stress[e, 1] - stress[e, 0])
        s1 = stress[e, 2]
        shift = a * (-0.5 * (stress[e, 0] + stress[e, 1]) + law_f[5])
        for k in range(N):
            d = tauc[e, k] + shift - (nv[e, k, 0] * s0 + nv[e, k, 1] * s1)
            x = np.exp(-beta * (d - dmin))
            total += x
            w[e * N + k] = total
    target = rng.random() * total
    # first index with cumulative sum > target (binary search)
    lo = 0
    hi = n * N - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if w[mid] > target:
            hi = mid
        else:
            lo = mid + 1
    return lo // N, lo % N, -beta * dmin + np.log(total)

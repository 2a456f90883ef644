"""Row drift bounds of the 3D kernels (:func:`femplastic.weakplane.relax3d.row_bundle`).

The compiled KMC and AQS loops skip the x-rows whose booked drift bound is below their slack.
The bound must cover every kernel update (checked against the updates themselves, odd and
even L, with and without the pressure term), and the skipping must change nothing: the
KMC loop and the compiled AQS loop give bit for bit the trajectories, records and caches of
the full scans (the selection-by-selection Python loop and the ``stop_when`` loop).
"""

import numpy as np
import pytest

import femplastic as fp
from femplastic.fe.propagators.kernels3d import apply_form3d
from femplastic.weakplane import kmc_kernels3d as KK
from femplastic.weakplane import relax3d as R
from femplastic.weakplane.bundles import kernel_state
from femplastic.weakplane.drivers.aqs import _Buffers


def _measure(ds, a):
    """Drift measure ``|dev ds| / sqrt(2) + |a| |tr ds| / 3`` per row of ``ds`` (n, 6)."""
    tr = ds[:, :3].sum(1) / 3
    dev = ds[:, :3] - tr[:, None]
    q = 0.5 * ((dev**2).sum(1) + 2 * (ds[:, 3:] ** 2).sum(1))
    return np.sqrt(q) + abs(a) * np.abs(tr)


@pytest.mark.parametrize(("L", "variant"), [(5, "C"), (6, "B")])
def test_row_bounds_cover_every_kernel_update(L, variant):
    p = fp.ModelParams.for_variant(variant).replace(dim=3, L=L, N=6)
    model = fp.build_model(p)
    Kf, LL = model.propagator.numba_form()
    law_f = model.law_arrays[1]
    a = law_f[4]
    assert (a != 0) == (variant == "B")
    rng = np.random.default_rng(0)
    stress = rng.normal(0, 1, (L**3, 6))
    rows = R.row_bundle(Kf, LL, law_f, stress)
    crow = rows[0]
    ratios = []
    for i in range(40):
        e = int(rng.integers(L**3))
        d = rng.normal(0, 0.05, 6)
        if i % 4:  # slips are exactly traceless; every fourth increment is not
            d[2] = -(d[0] + d[1])
        t = d[0] + d[1] + d[2]
        un = np.sqrt(d[0] ** 2 + d[1] ** 2 + t**2 + (d[3:] ** 2).sum())
        before = stress.copy()
        apply_form3d(Kf, LL, stress, 1, np.array([e]), d[None, :])
        change = _measure(stress - before, a).reshape(L * L, L).max(1)
        ez, ey = e // (L * L), (e // L) % L
        b = np.arange(L * L)
        bound = crow[((b // L - ez) % L) * L + (b % L - ey) % L] * un
        assert np.all(change <= bound), (change - bound).max()
        ratios.append((change / bound).max())
    assert min(ratios) > 0.3  # and not uselessly loose


@pytest.mark.parametrize("variant", ["C", "B"])
def test_kmc_loop_with_row_bounds_is_bitwise_the_full_scans(variant):
    p = fp.ModelParams.for_variant(variant).replace(dim=3, L=5, N=8)
    st0 = fp.quench(p, np.random.default_rng(1), max_events=200)
    beta = 1 / p.T
    out = []
    for looped in (False, True):
        st = st0.copy()
        system, law, cache = kernel_state(st)
        buf = _Buffers(st.n_elem, 0, 6)
        form = st.model.propagator.numba_form()
        law_f = st.model.law_arrays[1]
        kc = KK.kmc_cache(st.n_elem)
        rng = np.random.default_rng(9)
        total, time = 0, 0.0
        if looped:  # full scans, one selection and relaxation at a time
            for _ in range(600):
                e, k, dt = KK.kmc_select_bounded(st.stress, st.nv, st.tauc, st.slips, law_f,
                                                  beta, kc, rng)
                buf.act_e[0], buf.act_k[0] = e, k
                s, n_ev, _ = R.relax_fused(form, st.stress, system, law, cache, buf.work,
                                           buf.events, rng, False, 10**6, True)
                total += n_ev
                time += dt
        else:
            for _ in range(3):  # three calls: the bounds are rebuilt at each
                s, n_ev, dt = KK.kmc_run(form, st.stress, system, law, cache, buf.work,
                                         buf.events, kc, rng, beta, 200, 10**6)
                total += n_ev
                time += dt
        assert s == 0
        out.append((st, total, kc))
    (a, na, ka), (b, nb, kb) = out
    assert na == nb and na > 600
    for k in ("stress", "eps_pl", "tauc", "nv", "slips", "sref", "pref", "margin"):
        assert np.array_equal(getattr(a, k), getattr(b, k)), k
    for x, y in zip(ka, kb, strict=True):
        assert np.array_equal(x, y)


@pytest.mark.parametrize("variant", ["C", "B"])
def test_compiled_aqs_with_row_bounds_is_bitwise_the_python_loop(variant):
    p = fp.ModelParams.for_variant(variant).replace(dim=3, L=5, N=8)
    st0 = fp.quench(p, np.random.default_rng(4), max_events=300)
    kw = dict(gamma_end=0.5, dgamma=1e-3, record_events=True)
    a = fp.aqs(st0, p, np.random.default_rng(7), **kw)
    b = fp.aqs(st0, p, np.random.default_rng(7), stop_when=lambda g, s0, s1: False, **kw)
    assert a.avalanche_size.sum() > 50
    for k in ("gamma", "stress", "stress_before", "avalanche_size", "plastic", "mean_stress"):
        assert np.array_equal(getattr(a, k), getattr(b, k)), k
    for k in ("stress", "eps_pl", "tauc", "nv", "sref", "margin"):
        assert np.array_equal(getattr(a.state, k), getattr(b.state, k)), k

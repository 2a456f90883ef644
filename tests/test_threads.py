"""Threaded kernels: bit-identical results whatever the thread count; the count's sources."""

import numba
import numpy as np
import pytest

import femplastic as fp
from femplastic import threads


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 numba threads")
def test_aqs_one_and_two_threads_bit_identical():
    from femplastic.weakplane.kernels import PARALLEL_MIN_N

    p = fp.ModelParams(L=256, N=12, T=0.0)
    assert p.L * p.L >= PARALLEL_MIN_N  # the threaded paths are taken
    st = fp.quench(p, np.random.default_rng(4))
    runs = []
    try:
        for t in (1, 2):
            assert threads.set_threads(t) == t
            runs.append(fp.aqs(st, p, np.random.default_rng(9), gamma_end=0.012, dgamma=1e-4,
                               record_events=True))
    finally:
        threads.set_threads(None)
    a, b = runs
    assert a.state.n_events > 100
    for name in ("stress", "stress_before", "avalanche_size", "plastic", "mean_stress"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    for name in ("stress", "eps_pl", "tauc", "theta"):
        assert np.array_equal(getattr(a.state, name), getattr(b.state, name)), name
    assert np.array_equal(a.events.amplitude, b.events.amplitude)


def test_thread_count_sources(monkeypatch):
    monkeypatch.setenv(threads.ENV, "1")
    assert threads.resolve() == 1
    assert threads.resolve(3) == 3
    monkeypatch.setenv(threads.ENV, "many")
    with pytest.raises(ValueError, match="FEMPLASTIC_THREADS"):
        threads.resolve()
    monkeypatch.delenv(threads.ENV)
    assert threads.resolve() is None
    with pytest.raises(ValueError, match="threads"):
        threads.resolve(0)
    try:
        assert threads.set_threads(1) == 1 == threads.get_threads()
    finally:
        threads.set_threads(None)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 numba threads")
def test_kmc_selection_one_and_two_threads_bit_identical():
    from femplastic.weakplane import kmc_kernels as KK

    p = fp.ModelParams(L=256, N=4, T=0.0)
    st = fp.quench(p, np.random.default_rng(2))
    law_f = st.model.law_arrays[1]
    out = []
    try:
        for t in (1, 2):
            threads.set_threads(t)
            s = st.copy()
            kc = KK.kmc_cache(s.n_elem)
            rng, kick = np.random.default_rng(5), np.random.default_rng(6)
            draws = []
            for _ in range(20):
                draws.append(KK.kmc_select_bounded(s.stress, s.nv, s.tauc, s.slips, law_f, 4.0,
                                                   kc, rng))
                s.stress += kick.normal(0.0, 0.05, s.stress.shape)  # some elements drift
                s.slips[kick.integers(0, s.n_elem, 50)] += 1  # some are "renewed"
            out.append((draws, kc))
    finally:
        threads.set_threads(None)
    (d1, k1), (d2, k2) = out
    assert d1 == d2
    for a, b in zip(k1, k2, strict=True):
        assert np.array_equal(a, b)

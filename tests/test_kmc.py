"""The exact O(n) KMC selection: frequencies and clock against nu / sum(nu), quench statistics."""

import numpy as np
import pytest
from scipy import stats

import femplastic as fp
from femplastic.weakplane import kmc_kernels as KK


def _rates(st, beta):
    """Independent reference: every rate exp(-beta dtau) from State.dtau (numpy)."""
    d = st.dtau()
    x = -beta * d
    w = np.exp(x - x.max())
    return w / w.sum(), x.max() + np.log(w.sum())


def _stressed_state(variant, seed):
    """A small state with a wide spread of distances, some negative (active systems)."""
    p = fp.ModelParams.for_variant(variant, L=4, N=4, T=0.25)
    st = fp.quench(p, np.random.default_rng(seed), T=0.0)
    rng = np.random.default_rng(seed + 1)
    st.stress[:] = rng.normal(0.0, 1.0, st.stress.shape)
    return st


@pytest.mark.parametrize("variant,beta", [("C", 4.0), ("C", 12.0), ("B", 6.0)])
def test_selection_frequencies_and_clock_match_rates(variant, beta):
    st = _stressed_state(variant, 7)
    probs, log_tot = _rates(st, beta)
    assert (st.dtau() < 0).any() and probs.max() / probs.min() > 1e6  # negative, widely spread
    law_f = st.model.law_arrays[1]
    kc = KK.kmc_cache(st.n_elem)
    # references taken at a nearby stress, so the drifted bounds (not only fresh ones) are used
    target = st.stress.copy()
    st.stress[:] += np.random.default_rng(3).normal(0.0, 0.02 / beta, st.stress.shape)
    rng = np.random.default_rng(11)
    KK.kmc_select_bounded(st.stress, st.nv, st.tauc, st.slips, law_f, beta, kc, rng)
    st.stress[:] = target
    n_draw = 60_000
    counts = np.zeros(probs.size)
    dts = np.empty(n_draw)
    N = st.tauc.shape[1]
    for i in range(n_draw):
        e, k, dt = KK.kmc_select_bounded(st.stress, st.nv, st.tauc, st.slips, law_f, beta, kc,
                                         rng)
        counts[e * N + k] += 1
        dts[i] = dt
    exp = probs.reshape(-1) * n_draw
    big = exp >= 5
    obs = np.append(counts[big], counts[~big].sum())
    ex = np.append(exp[big], exp[~big].sum())
    _, pval = stats.chisquare(obs, ex)
    assert pval > 1e-3
    # waiting times exponential of rate sum(nu)
    assert stats.kstest(dts * np.exp(log_tot), "expon").pvalue > 1e-3


def test_bounded_matches_reference_scan_selection():
    """Same state: the reference full scan's frequencies agree with the bounded ones."""
    st = _stressed_state("C", 21)
    beta = 4.0
    law_f = st.model.law_arrays[1]
    probs, _ = _rates(st, beta)
    rng = np.random.default_rng(5)
    counts = np.zeros(probs.size)
    N = st.tauc.shape[1]
    for _ in range(20_000):
        e, k, _ = fp.weakplane.kernels.kmc_select(st.stress, st.nv, st.tauc, law_f, beta, rng)
        counts[e * N + k] += 1
    exp = probs.reshape(-1) * counts.sum()
    big = exp >= 5
    _, pval = stats.chisquare(np.append(counts[big], counts[~big].sum()),
                              np.append(exp[big], exp[~big].sum()))
    assert pval > 1e-3


def test_quench_statistically_equal_to_reference_scan():
    """Element means of thresholds and von Mises stress: bounded vs scan, over realisations."""
    from femplastic.fe.elasticity import von_mises

    p = fp.ModelParams(L=8, N=12, T=0.25)
    res = {}
    for sel in ("bounded", "scan"):
        tc, vm, tt = [], [], []
        for s in range(16):
            st, info = fp.quench(p, np.random.default_rng(500 + s), selection=sel,
                                 return_info=True)
            assert st.is_stable()
            tc.append(st.tauc.mean())
            vm.append(von_mises(st.prestress).mean())
            tt.append(info.time / info.n_thermal)
        res[sel] = [np.array(x) for x in (tc, vm, tt)]
    for a, b in zip(res["bounded"], res["scan"], strict=True):
        err = np.hypot(a.std(ddof=1), b.std(ddof=1)) / np.sqrt(a.size)
        assert abs(a.mean() - b.mean()) < 4 * err


def test_selection_argument_checked():
    with pytest.raises(ValueError, match="selection"):
        fp.quench(fp.ModelParams(L=4, N=4), np.random.default_rng(0), selection="fast")

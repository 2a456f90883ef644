"""The accelerated (JAX) AQS backend against the numba path, on the CPU.

The backend must implement the numba path's rules exactly: fed the same uniforms in the same
order (``uniforms="host"``: numba's ``Generator.random()`` and numpy's consume one stream) it
reproduces every avalanche and the stresses to round-off; with fixed thresholds, amplitudes
and orientations (variant H) it follows the same trajectory whatever its random numbers;
with its own generator the stationary statistics of model C agree within statistical error.
"""

from __future__ import annotations

import numpy as np
import pytest

import femplastic as fp

jax = pytest.importorskip(
    "jax", reason="JAX is not installed (pip install jax, or femplastic[gpu]): the "
                  "accelerated backend is optional")

from femplastic.weakplane.gpu.driver import aqs_gpu  # noqa: E402

P16 = fp.ModelParams(L=16)


@pytest.fixture(scope="module")
def quenched16():
    return fp.quench(P16, np.random.default_rng(3))


def _same_avalanches(r1, r2):
    np.testing.assert_array_equal(r1.avalanche_steps, r2.avalanche_steps)
    np.testing.assert_array_equal(r1.avalanche_size, r2.avalanche_size)


def _same_trajectory(r1, r2, records=(), state=()):
    """Every avalanche (load step, size) the same; the named fields of the records and of the
    final state to 1e-10."""
    _same_avalanches(r1, r2)
    for f in records:
        np.testing.assert_allclose(getattr(r2, f), getattr(r1, f), rtol=0, atol=1e-10)
    for f in state:
        np.testing.assert_allclose(getattr(r2.state, f), getattr(r1.state, f), rtol=0, atol=1e-10)


@pytest.mark.parametrize("blocked", [False, True], ids=["flat", "blocked"])
def test_replay_reproduces_numba(quenched16, blocked):
    """Same uniforms: every avalanche (load step, size), every event, stresses to 1e-10.

    Both forms of the loop (flat: the accelerators'; blocked: the CPU's). Tiny compaction
    and chunk sizes force every path: compacted and full stability scans (flat) or many
    check, slip and trigger blocks per iteration (blocked), renewals spread over several
    iterations (flat), direct adds and batched FFT updates, record and event chunks streamed
    back, refills of the uniform buffer.
    """
    st = quenched16
    r1 = fp.aqs(st, P16, np.random.default_rng(11), gamma_end=0.3, record_events=True)
    info: dict = {}
    tuning = {"n_check": 3 if blocked else 8, "n_renew": 2, "n_direct": 2, "blocked": blocked}
    r2 = aqs_gpu(st, P16, np.random.default_rng(11), gamma_end=0.3, record_events=True,
                 uniforms="host", tuning=tuning, chunk_records=16, chunk_events=300, info=info)
    assert info["chunks"] > 10 and info["refills"] >= 1
    assert info["config"].blocked == blocked
    assert r1.avalanche_steps.size > 100 and r1.state.n_events > 1000
    _same_trajectory(r1, r2, ("stress", "stress_before", "plastic", "mean_stress", "gamma"),
                     ("stress", "eps_pl", "theta", "tauc", "selfres", "nv", "macro_strain"))
    for f in ("element", "system", "avalanche"):
        np.testing.assert_array_equal(getattr(r1.events, f), getattr(r2.events, f))
    for f in ("theta", "tau", "amplitude"):
        np.testing.assert_allclose(getattr(r2.events, f), getattr(r1.events, f), rtol=0,
                                   atol=1e-10)
    a, b = r1.state, r2.state
    np.testing.assert_array_equal(a.slips, b.slips)
    assert (a.n_events, a.n_avalanches) == (b.n_events, b.n_avalanches)
    # the final state is a valid numba state: it continues identically on the numba path
    c1 = fp.aqs(a, P16, np.random.default_rng(5), gamma_end=0.02)
    c2 = fp.aqs(b, P16, np.random.default_rng(5), gamma_end=0.02)
    _same_avalanches(c1, c2)


def test_replay_reproduces_numba_l32():
    """The same at L = 32 with the default compaction sizes (fewer, larger sweeps)."""
    p = fp.ModelParams(L=32, T=0.0)  # T = 0 quench: fresh systems, athermal relaxation
    st = fp.quench(p, np.random.default_rng(8))
    r1 = fp.aqs(st, p, np.random.default_rng(9), gamma_end=0.08)
    r2 = aqs_gpu(st, p, np.random.default_rng(9), gamma_end=0.08, uniforms="host")
    assert r1.state.n_events > 1000
    _same_trajectory(r1, r2, ("stress", "stress_before", "plastic", "mean_stress"),
                     ("stress", "tauc"))


def test_replay_custom_law():
    """Tabulated thresholds and exponential amplitudes (the other law kinds) replay too."""
    from femplastic.weakplane.slip import (
        ExponentialAmplitude,
        RandomGroups,
        SlipLaw,
        TabulatedThreshold,
    )

    p = fp.ModelParams(L=16, T=0.0)
    samples = 2.05 * np.random.default_rng(0).weibull(2.18, 5000)
    law = SlipLaw(N=36, orientation=RandomGroups(),
                  threshold=TabulatedThreshold.from_samples(samples, m=64),
                  amplitude=ExponentialAmplitude(0.01, 0.002))
    st = fp.quench(p, np.random.default_rng(3), law=law)
    r1 = fp.aqs(st, None, np.random.default_rng(7), gamma_end=0.15)
    r2 = aqs_gpu(st, None, np.random.default_rng(7), gamma_end=0.15, uniforms="host")
    assert r1.state.n_events > 1000
    _same_trajectory(r1, r2, ("stress",), ("tauc", "eps_pl"))


def test_replay_pressure_dependent_thresholds():
    """Variant B (Drucker-Prager thresholds): the pressure terms of the cached stability test
    and of the blocked trigger's bounds keep the trajectory numba's."""
    p = fp.ModelParams.for_variant("B", L=16)
    st = fp.quench(p, np.random.default_rng(4))
    r1 = fp.aqs(st, p, np.random.default_rng(9), gamma_end=0.3)
    info: dict = {}
    r2 = aqs_gpu(st, p, np.random.default_rng(9), gamma_end=0.3, uniforms="host", info=info,
                 tuning={"blocked": True})
    assert info["config"].pressure and r1.state.n_events > 1000
    _same_trajectory(r1, r2, ("stress", "plastic", "mean_stress"), ("stress",))


def test_variant_h_same_trajectory_without_replay():
    """Variant H has no randomness after the quench: any uniforms give numba's trajectory."""
    p = fp.ModelParams.for_variant("H", L=16)
    st = fp.quench(p, np.random.default_rng(1))
    r1 = fp.aqs(st, p, np.random.default_rng(2), gamma_end=0.25)
    r2 = aqs_gpu(st, p, np.random.default_rng(99), gamma_end=0.25)  # device uniforms
    assert r1.state.n_events > 1000
    _same_trajectory(r1, r2, ("stress", "stress_before", "plastic", "mean_stress"),
                     ("stress", "eps_pl"))


def test_same_seed_same_trajectory(quenched16):
    st = quenched16
    runs = [fp.aqs(st, P16, np.random.default_rng(s), gamma_end=0.1, backend="jax")
            for s in (4, 4, 5)]
    for f in ("stress", "stress_before", "avalanche_size", "plastic"):
        np.testing.assert_array_equal(getattr(runs[0], f), getattr(runs[1], f))
    np.testing.assert_array_equal(runs[0].state.tauc, runs[1].state.tauc)
    assert not np.array_equal(runs[0].stress, runs[2].stress)
    assert st.n_events == quenched16.n_events  # input untouched


def _stats(run, from_gamma):
    s = run.gamma > from_gamma
    steps = run.avalanche_steps
    sizes = run.avalanche_size[steps[run.gamma[steps] > from_gamma]]
    span = run.gamma[-1] - from_gamma
    return run.stress[s].mean(), run.stress[s].std(), sizes.sum() / span, sizes


@pytest.mark.slow
def test_model_c_statistics_agree(quenched16):
    """Own generators: stationary stress mean and std, events per unit strain, avalanche
    sizes equal within statistical error (fixed seeds, 6 realisations each, L = 16)."""
    from scipy import stats

    g_end, g0, R = 0.5, 0.15, 6
    out = {"numba": [], "jax": []}
    for r in range(R):
        st = fp.quench(P16, np.random.default_rng(100 + r))
        out["numba"].append(_stats(fp.aqs(st, P16, np.random.default_rng(200 + r),
                                          gamma_end=g_end), g0))
        out["jax"].append(_stats(aqs_gpu(st, P16, np.random.default_rng(300 + r),
                                         gamma_end=g_end), g0))
    for i, name in enumerate(("mean stress", "stress std", "events per strain")):
        a = np.array([o[i] for o in out["numba"]])
        b = np.array([o[i] for o in out["jax"]])
        se = np.sqrt(a.var(ddof=1) / R + b.var(ddof=1) / R)
        assert abs(a.mean() - b.mean()) < 4 * se, (name, a.mean(), b.mean(), se)
    sa = np.concatenate([o[3] for o in out["numba"]])
    sb = np.concatenate([o[3] for o in out["jax"]])
    assert min(sa.size, sb.size) > 500
    # sizes are discrete (ties): chi-square on logarithmic bins
    edges = np.array([1, 2, 3, 5, 9, 17, 33, np.inf])
    ca = np.histogram(sa, edges)[0]
    cb = np.histogram(sb, edges)[0]
    _, pval, _, _ = stats.chi2_contingency(np.stack([ca, cb]))
    assert pval > 1e-3, (ca, cb, pval)


def test_errors(quenched16):
    st = quenched16
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="backend must be one of"):
        fp.aqs(st, P16, rng, gamma_end=0.01, backend="cuda")
    with pytest.raises(ValueError, match="stop_when"):
        fp.aqs(st, P16, rng, gamma_end=0.01, backend="jax", stop_when=lambda g, a, b: False)
    with pytest.raises(ValueError, match="uniforms"):
        aqs_gpu(st, P16, rng, gamma_end=0.01, uniforms="gpu")
    with pytest.raises(ValueError, match="gamma_end"):
        fp.aqs(st, P16, rng, gamma_end=-1.0, backend="jax")
    with pytest.raises(TypeError, match="rng"):
        aqs_gpu(st, P16, 3, gamma_end=0.01)
    pd = fp.ModelParams.for_variant("D", L=8)
    with pytest.raises(ValueError, match="PeriodicKernel"):
        aqs_gpu(fp.quench(pd, np.random.default_rng(0), max_events=10), pd, rng,
                gamma_end=0.01)
    with pytest.raises(ValueError, match="backend"):
        fp.RunParams(backend="tpu")
    if not any(d.platform == "gpu" for d in jax.devices()):
        with pytest.raises(RuntimeError, match="no GPU"):
            fp.aqs(st, P16, rng, gamma_end=0.01, backend="gpu")

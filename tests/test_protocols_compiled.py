"""Compiled cyclic and stress-controlled drivers: bitwise the Python loops, checkpoints, input.

The Python loops (``compiled=False``) are the drivers as they were before the compiled loops
(kept as the fallback for propagators without a numba form); every record, log, event and
the final state must agree bit for bit, and a resumed run must equal the uninterrupted one.
"""

import dataclasses
import os
import signal

import numpy as np
import pytest

import femplastic as fp
from femplastic.weakplane.drivers import checkpoint as ckpt
from femplastic.weakplane.drivers.cyclic import cyclic
from femplastic.weakplane.drivers.path import compiled_available
from femplastic.weakplane.drivers.stress import ramp_steps, stress_controlled

#: The state compared bitwise. The stability caches (``sref``, ``pref``, ``margin``) are left
#: out: the compiled loops settle the usual trigger search from bounds (as ``aqs`` does) and
#: so refresh the caches of fewer elements than the Python loops' scans; the caches only
#: let scans skip provably stable elements, which the continuation test below checks.
STATE = ("stress", "eps_pl", "theta", "tauc", "nv", "macro_strain", "slips", "n_events",
         "n_avalanches")


def assert_same_run(a, b):
    """Every field of two run records equal bitwise (states and logs included)."""
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if f.name == "state":
            for k in STATE:
                assert np.array_equal(getattr(x, k), getattr(y, k)), f"state.{k}"
        elif f.name == "avalanches":
            for g in dataclasses.fields(x):
                u, v = getattr(x, g.name), getattr(y, g.name)
                if g.name == "events":
                    assert (u is None) == (v is None)
                    if u is not None:
                        assert u.keys() == v.keys()
                        for k in u:
                            assert np.array_equal(u[k], v[k]), f"events.{k}"
                else:
                    assert u.dtype == v.dtype and np.array_equal(u, v), f"avalanches.{g.name}"
        elif isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and np.array_equal(x, y), f.name
        else:
            assert x == y, f.name


@pytest.fixture(scope="module")
def quenched():
    out = {}
    for var in ("C", "B"):
        p = fp.ModelParams.for_variant(var, L=8, T=0.0)
        out[var] = (p, fp.quench(p, np.random.default_rng(3)))
    return out


@pytest.mark.parametrize("var, kw", [
    ("C", dict(gamma_max=0.08, cycles=3, dgamma=2e-4)),
    ("B", dict(gamma_max=0.06, cycles=2, dgamma=1e-4, record_events=True, alpha=0.3)),
    ("C", dict(gamma_max=0.03, cycles=30, dgamma=1e-4, until_absorbed=True)),
])
def test_cyclic_compiled_equals_python_loop(quenched, var, kw):
    p, q = quenched[var]
    assert compiled_available(q)
    fast = cyclic(q, p, np.random.default_rng(1), **kw)
    slow = cyclic(q, p, np.random.default_rng(1), compiled=False, **kw)
    assert fast.events.sum() > 20  # the comparison sees avalanches
    assert_same_run(fast, slow)
    if kw["cycles"] == 3:  # other caches, same physics: a continuation is bitwise the same
        a = fp.aqs(fast.state, p, np.random.default_rng(7), gamma_end=0.02, dgamma=1e-4)
        b = fp.aqs(slow.state, p, np.random.default_rng(7), gamma_end=0.02, dgamma=1e-4)
        assert a.avalanche_size.sum() > 5
        for f in ("stress", "avalanche_size"):
            assert np.array_equal(getattr(a, f), getattr(b, f)), f
        assert np.array_equal(a.state.stress, b.state.stress)


@pytest.mark.parametrize("var, ramp, kw", [
    ("C", 0.5, dict(dstress=2e-3)),
    ("B", -0.58, dict(dstress=3e-3, record_events=True, alpha=0.2)),
    ("C", 0.9, dict(dstress=2e-2, gamma_limit=0.2, record_events=True)),  # flows
    ("C", 0.45678, dict(dstress=7e-3)),  # clipped last increment
])
def test_stress_compiled_equals_python_loop(quenched, var, ramp, kw):
    p, q = quenched[var]
    fast = stress_controlled(q, p, np.random.default_rng(2), stress_end=ramp, **kw)
    slow = stress_controlled(q, p, np.random.default_rng(2), stress_end=ramp, compiled=False,
                             **kw)
    assert fast.avalanche_size.sum() > 20
    assert_same_run(fast, slow)


def test_checkpoint_resume_is_bitwise(quenched, tmp_path):
    p, q = quenched["C"]
    kw = dict(gamma_max=0.06, cycles=3, dgamma=2e-4, record_events=True)
    ref = cyclic(q, p, np.random.default_rng(4), **kw)
    saved = []
    again = cyclic(q, p, np.random.default_rng(4), checkpoint=saved.append, checkpoint_every=0,
                   **kw)
    assert_same_run(ref, again)  # checkpointing does not change the run
    assert len(saved) > 10
    for ck in (saved[1], saved[len(saved) // 2], saved[-1]):
        path = ckpt.save(tmp_path / "c.npz", ck, {"t": 1})
        back, _, _ = ckpt.load(path, {"t": 1})
        res = cyclic(q, p, np.random.default_rng(99), resume=back, **kw)
        assert_same_run(ref, res)
    with pytest.raises(ValueError, match="cycles"):
        cyclic(q, p, np.random.default_rng(4), resume=saved[1], **{**kw, "cycles": 4})
    # stress control, flowing at the end
    skw = dict(stress_end=0.9, dstress=1e-2, gamma_limit=0.3, record_events=True)
    sref = stress_controlled(q, p, np.random.default_rng(5), **skw)
    saved = []
    stress_controlled(q, p, np.random.default_rng(5), checkpoint=saved.append,
                      checkpoint_every=0, **skw)
    assert len(saved) > 5
    for ck in (saved[0], saved[-1]):
        path = ckpt.save(tmp_path / "s.npz", ck, {"t": 2})
        back, _, _ = ckpt.load(path, {"t": 2})
        assert_same_run(sref, stress_controlled(q, p, np.random.default_rng(0), resume=back,
                                                **skw))
    with pytest.raises(ValueError, match="not a stress-controlled checkpoint"):
        stress_controlled(q, p, np.random.default_rng(0), resume=ck_cyclic(q, p), **skw)


def ck_cyclic(q, p):
    out = []
    cyclic(q, p, np.random.default_rng(0), gamma_max=0.04, cycles=1, dgamma=1e-3,
           checkpoint=out.append, checkpoint_every=0)
    return out[0]


def test_gamma_max_must_be_a_multiple_of_dgamma(quenched):
    p, q = quenched["C"]
    # the validation layer refuses it first, naming both nearest valid values
    with pytest.raises(ValueError, match=r"gamma_max = 0.00017 must be a whole number of dgamma.*"
                                         r"nearest valid: 0.0001 or 0.0002"):
        cyclic(q, p, np.random.default_rng(0), gamma_max=0.00017, cycles=1, dgamma=1e-4)
    run = cyclic(q, p, np.random.default_rng(0), gamma_max=0.03, cycles=1, dgamma=1e-4)
    assert run.gamma.size == 4 * 300 and run.gamma_max == 300 * 1e-4


def test_stress_ramp_ends_exactly_at_its_target(quenched):
    assert ramp_steps(0.0, 0.5, 1.0) == (1, 0.5)
    assert ramp_steps(0.1, 0.1 + 3 * 0.02, 0.02) == (3, 3.0)
    n, pl = ramp_steps(0.0, 0.45, 0.1)
    assert n == 5 and abs(pl - 4.5) < 1e-12
    p, q = quenched["C"]
    s0 = q.external_stress()
    for end, ds in ((0.05, 1.0), (0.2, 0.03), (-0.1, 0.03)):
        for comp in (True, False):
            run = stress_controlled(q, p, np.random.default_rng(0), stress_end=end,
                                    dstress=ds, compiled=comp)
            k = int(np.ceil(abs(end - s0) / ds - 1e-9))
            assert run.target.size == k and run.target[-1] == end
            assert abs(run.stress[-1] - end) < 1e-12  # elastic here: on the target
            assert abs(run.state.external_stress() - end) < 1e-12
            np.testing.assert_allclose(np.diff(run.target[:-1]), np.sign(end - s0) * ds,
                                       atol=1e-12)
    with pytest.raises(ValueError, match="stress_end"):
        stress_controlled(q, p, np.random.default_rng(0), stress_end=s0, dstress=0.01)


@pytest.mark.parametrize("driver", ["cyclic", "stress"])
def test_ctrl_c_surfaces_at_a_safe_point(quenched, driver):
    p, q = quenched["C"]
    calls = []

    def progress(frac):
        calls.append(frac)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGINT)  # deferred: raised at the next safe point

    with pytest.raises(KeyboardInterrupt):
        if driver == "cyclic":
            cyclic(q, p, np.random.default_rng(0), gamma_max=0.05, cycles=50, dgamma=1e-4,
                   progress=progress)
        else:
            stress_controlled(q, p, np.random.default_rng(0), stress_end=0.6, dstress=1e-5,
                              progress=progress)
    assert len(calls) == 1

"""Threaded kernels: bit-identical results whatever the thread count; the count's sources."""

import functools
import os

import numba
import numpy as np
import pytest

import femplastic as fp
from femplastic import threads

two_threads = pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2,
                                 reason="needs 2 numba threads")


@pytest.fixture(autouse=True)
def _restore_threads(monkeypatch):
    """Each test starts from the library default (no count set, default grain)."""
    monkeypatch.setattr(threads, "_count", None)
    monkeypatch.delenv(threads.ENV, raising=False)
    monkeypatch.setattr(threads, "runnable_others", lambda: 0)  # as if idle: threads run
    yield
    threads.grain(threads.GRAIN)
    threads._count = None


@two_threads
@pytest.mark.parametrize("tuned", [False, True])
def test_aqs_one_and_two_threads_bit_identical(monkeypatch, tuned):
    # every region threaded (grain 1); untuned: every chunk threaded, tuned: the Tuner's
    # serial and threaded chunks alternate along the run (probes of 1 ms)
    threads.grain(1)
    base = threads.Tuner
    if tuned:
        monkeypatch.setattr(threads, "Tuner", functools.partial(base, probe=1e-3, hold=2e-3,
                                                                hold_max=4e-3))
    else:
        monkeypatch.setattr(threads, "Tuner", type("Always", (base,), {
            "par": property(lambda self: self.grain)}))
    p = fp.ModelParams(L=64, N=12, T=0.0)
    st = fp.quench(p, np.random.default_rng(4))
    runs = []
    for t in (1, 2):
        assert threads.set_threads(t) == t
        assert threads.parallel_for(st.n_elem) == (1 if t == 2 else 0)
        runs.append(fp.aqs(st, p, np.random.default_rng(9), gamma_end=0.05, dgamma=1e-4,
                           record_events=True))
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


@two_threads
def test_kmc_selection_one_and_two_threads_bit_identical():
    from femplastic.weakplane import kmc_kernels as KK

    p = fp.ModelParams(L=64, N=4, T=0.0)
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
                                                   kc, rng, t == 2))  # threaded refresh
                s.stress += kick.normal(0.0, 0.05, s.stress.shape)  # some elements drift
                s.slips[kick.integers(0, s.n_elem, 50)] += 1  # some are "renewed"
            out.append((draws, kc))
    finally:
        threads.set_threads(None)
    (d1, k1), (d2, k2) = out
    assert d1 == d2
    for a, b in zip(k1, k2, strict=True):
        assert np.array_equal(a, b)


@two_threads
def test_quench_one_and_two_threads_bit_identical():
    threads.grain(1)  # every region threaded on 2 threads
    p = fp.ModelParams(L=24, N=12)
    states = []
    try:
        for t in (1, 2):
            threads.set_threads(t)
            states.append(fp.quench(p, np.random.default_rng(6), return_info=True))
    finally:
        threads.set_threads(None)
    (a, ia), (b, ib) = states
    assert ia.n_events > 1000 and ia.n_events == ib.n_events and ia.time == ib.time
    for name in ("stress", "eps_pl", "tauc", "theta", "slips"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


@two_threads
def test_threaded_forms_equal_serial_forms_bitwise():
    """The threaded kernels, called directly on 2 threads, against their serial forms."""
    from femplastic.fe.propagators import kernels as PK
    from femplastic.weakplane import kernels as K
    from femplastic.weakplane import kmc_kernels as KK

    p = fp.ModelParams(L=32, N=12, T=0.0)
    st = fp.quench(p, np.random.default_rng(1))
    rng = np.random.default_rng(2)
    st.stress += rng.normal(0.0, 0.3, st.stress.shape)
    law_f = st.model.law_arrays[1]
    _, Kf, L = st.model.propagator.numba_form()
    try:
        threads.set_threads(2)
        a, b = st.stress.copy().reshape(-1), st.stress.copy().reshape(-1)
        for e in rng.integers(0, st.n_elem, 20):
            PK._folded_add2(a, Kf.reshape(-1), L, e, 1e-3, -2e-3)
            PK._folded_add2_par(b, Kf.reshape(-1), L, e, 1e-3, -2e-3)
        assert np.array_equal(a, b)
        caches = [(st.sref.copy(), st.pref.copy(), st.margin.copy()) for _ in range(2)]
        outs = []
        for i, c in enumerate(caches):
            ae, ak = np.zeros(st.n_elem, np.int64), np.zeros(st.n_elem, np.int64)
            f = K.find_active if i == 0 else K._find_active_par
            cnt = f(st.stress, st.nv, st.tauc, law_f, *c, ae, ak)
            outs.append((cnt, ae[:cnt].copy(), ak[:cnt].copy()))
        assert outs[0][0] > 0 and outs[0][0] == outs[1][0]
        assert np.array_equal(outs[0][1], outs[1][1]) and np.array_equal(outs[0][2], outs[1][2])
        for x, y in zip(*caches, strict=True):
            assert np.array_equal(x, y)
        v = np.ascontiguousarray(st.model.propagator.load_response(fp.fe.elasticity.schmid(0.0)))
        base = st.stress - 1.0  # pushed back to stability
        args = (base, v, st.nv, st.tauc, law_f, *caches[0], K.load_rate_bounds(v, law_f))
        nblk = -(-st.n_elem // K.SCAN_BLOCK)
        found = [K.trigger_bounds(*args, np.empty(st.n_elem), np.empty(nblk), par)
                 for par in (0, 1)]
        assert found[0] == found[1]
        # the KMC refresh pass: serial and threaded forms leave the same cache and tree
        kcs = [KK.kmc_cache(st.n_elem) for _ in range(2)]
        for kc in kcs:
            kc[3][:] = -1
        KK._sync(st.stress, st.nv, st.tauc, st.slips, law_f, 4.0, kcs[0])
        k_s, k_p, k_logr, k_slips, tree, meta = kcs[1]
        rebuild = KK._sync_par(st.stress, st.nv, st.tauc, st.slips, law_f, 4.0, kcs[1], True)
        assert rebuild
        meta[1] = 1.0
        KK._sync(st.stress, st.nv, st.tauc, st.slips, law_f, 4.0, kcs[1])  # rebuilds the tree
        for x, y in zip(kcs[0], kcs[1], strict=True):
            assert np.array_equal(x, y)
    finally:
        threads.set_threads(None)


def test_library_default_is_one_thread_env_and_set_threads_ask_for_more(monkeypatch):
    assert threads.get_threads() == 1  # no count set, no environment: one thread
    assert threads.parallel_for(1 << 20) == 0
    top = numba.config.NUMBA_NUM_THREADS
    monkeypatch.setenv(threads.ENV, "2")
    assert threads.get_threads() == min(2, top)
    if top >= 2:
        assert threads.parallel_for(256 * 256) == threads.GRAIN
        assert threads.parallel_for(100) == 0  # 100 ** 2 < grain: no region can reach it
        assert threads.layer() in threads.LAYERS
    assert threads.set_threads(1) == 1 and threads.parallel_for(1 << 20) == 0  # beats env
    with pytest.raises(ValueError, match="grain"):
        threads.grain(0)
    monkeypatch.setenv(threads.ENV, "2")
    threads.set_threads(None)
    monkeypatch.setattr(threads, "runnable_others", lambda: (os.cpu_count() or 1) - 1)
    assert not threads.cores_free() and threads.parallel_for(1 << 20) == 0  # machine full
    assert threads.parallel_for(1 << 20, gate=False) == (threads.GRAIN if top >= 2 else 0)


def test_tuner_keeps_the_faster_mode_and_measures_again(monkeypatch):
    monkeypatch.setattr(threads, "runnable_others", lambda: 0)  # an idle machine
    monkeypatch.setenv(threads.ENV, "2")
    t = threads.Tuner(7, probe=1.0, hold=4.0, hold_max=8.0, margin=1.05)
    assert t.par == 0  # serial first
    assert not t.record(10, 0.5) and t.par == 0
    assert t.record(10, 0.5) and t.par == 7  # 1 s serial: 20 / s; now threaded
    assert not t.record(40, 1.0) and t.par == 7  # 40 / s >= 1.05 * 20 / s: threads kept
    assert not t.record(100, 3.9) and t.par == 7 and t.hold == 4.0
    assert t.record(1, 0.1) and t.par == 0  # held 4 s: measure again, serial first
    assert t.record(30, 1.0) and t.par == 7
    assert not t.record(40, 1.0) and t.par == 7 and t.hold == 8.0  # same choice: hold x2
    assert t.record(320, 8.0) and t.par == 0  # (40 / s while held: threads not dropped)
    assert t.record(30, 1.0) and t.par == 7
    assert t.record(31, 1.0) and t.par == 0  # 31 / s < 1.05 * 30 / s: serial
    assert t.hold == 4.0  # the choice changed: hold starts over
    assert not t.record(1, 4.0) and t.par == 0  # held 4 s: measure again (serial first)
    assert t.record(30, 1.0) and t.par == 7
    assert t.record(1, 0.1) and t.par == 0  # 10 / s < 0.5 * 30 / s: probe stopped at once
    assert t.hold == 8.0  # serial again: hold x2
    monkeypatch.setattr(threads, "runnable_others", lambda: (os.cpu_count() or 1) - 1)
    assert not t.record(1, 8.0) and t.par == 0
    assert not t.record(30, 1.0) and t.par == 0  # no core free for a second thread: no probe
    off = threads.Tuner(0)
    assert off.par == 0 and not off.record(1, 100.0) and off.par == 0


@two_threads
def test_sweep_update_region_equals_event_by_event_bitwise():
    """The sweep's threaded update (grain 1) against the serial per-event update."""
    from femplastic.fe.propagators import kernels as PK

    rng = np.random.default_rng(0)
    threads.set_threads(2)
    for L in (7, 8, 16):  # odd and even sides (the self rows ry = 0 and L / 2)
        st = fp.quench(fp.ModelParams(L=L, N=4, T=0.0), np.random.default_rng(1))
        _, Kf, _ = st.model.propagator.numba_form()
        for cnt in (1, 3, 40):
            e = rng.integers(0, L * L, cnt).astype(np.int64)
            g, th = rng.normal(0, 1e-2, cnt), rng.uniform(0, np.pi, cnt)
            deps = np.stack([-0.5 * np.sin(2 * th) * g, 0.5 * np.sin(2 * th) * g,
                             0.5 * np.cos(2 * th) * g], 1)
            a = st.stress + rng.normal(0, 1, st.stress.shape)
            b = a.copy()
            PK.apply_form(0, Kf, L, a, cnt, e, deps, rng, 0)
            PK.apply_form(0, Kf, L, b, cnt, e, deps, rng, 1)
            assert np.array_equal(a, b), (L, cnt)


def test_tuner_drops_held_threads_when_load_appears(monkeypatch):
    free = [True]
    monkeypatch.setattr(threads, "cores_free", lambda: free[0])
    t = threads.Tuner(7, probe=1.0, hold=4.0, hold_max=60.0, margin=1.05, look=0.5)
    assert t.record(20, 1.0) and t.par == 7  # serial 20 / s
    assert not t.record(40, 1.0) and t.par == 7  # threads 40 / s: held for 4 s
    assert not t.record(20, 0.5) and t.par == 7  # looked: a core free, 40 / s
    free[0] = False  # a process starts spinning beside the run
    assert not t.record(4, 0.2) and t.par == 7  # 0.2 s since the last look: not yet
    assert t.record(12, 0.3) and t.par == 0  # 0.5 s: looked, no core free: serial at once
    assert t.hold == 4.0  # serial for hold0, then both measured again
    free[0] = True
    assert not t.record(1, 3.9) and t.par == 0
    assert not t.record(1, 0.1) and t.par == 0  # held 4 s: measure again, serial first
    assert t.record(20, 1.0) and t.par == 7
    assert not t.record(40, 1.0) and t.par == 7  # threads again
    # the chunks get slow (a cgroup quota, a load /proc/loadavg does not show): dropped too
    assert t.record(4, 0.5) and t.par == 0  # 8 / s < half the serial 20 / s
    off = threads.Tuner(0, look=0.0)
    assert not off.record(1, 1.0) and off.par == 0


def test_gate_looks_again_every_look_seconds(monkeypatch):
    monkeypatch.setenv(threads.ENV, "2")
    looks = []
    free = [True]

    def cores_free():
        looks.append(free[0])
        return free[0]

    monkeypatch.setattr(threads, "cores_free", cores_free)
    clock = [100.0]
    monkeypatch.setattr(threads.time, "perf_counter", lambda: clock[0])
    g = threads.Gate(1 << 16, look=0.5)
    if g.grain == 0:  # one numba thread, or not the OpenMP layer
        assert g.par == 0 and looks == []
        return
    assert g.grain == threads.GRAIN and g.par == threads.GRAIN and looks == [True]
    free[0] = False
    clock[0] += 0.4
    assert g.par == threads.GRAIN and len(looks) == 1  # not looked again yet
    clock[0] += 0.1
    assert g.par == 0 and looks == [True, False]  # looked: no core free
    free[0] = True
    clock[0] += 0.6
    assert g.par == threads.GRAIN and looks == [True, False, True]
    assert threads.Gate(100).par == 0  # no region can reach the grain: no look
    monkeypatch.setenv(threads.ENV, "1")
    assert threads.Gate(1 << 16).par == 0 and len(looks) == 3


RUNNABLE_OTHERS = threads.runnable_others  # the real ones (the fixture replaces the first)
OWN_RUNNABLE = threads._own_runnable


def test_runnable_others_leaves_out_this_process(monkeypatch):
    class F:
        def __init__(self, text):
            self.text = text

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

        def read(self):
            return self.text

    monkeypatch.setattr(threads, "open", lambda *a, **k: F("0.5 0.4 0.3 5/300 123\n"),
                        raising=False)
    monkeypatch.setattr(threads, "_own_runnable", lambda: 3)  # the caller and 2 workers
    monkeypatch.setattr(threads, "runnable_others", RUNNABLE_OTHERS)  # not the fixture's
    assert threads.runnable_others() == 2
    monkeypatch.setattr(threads, "_own_runnable", lambda: 6)
    assert threads.runnable_others() == 0
    monkeypatch.delattr(threads, "open")
    monkeypatch.setattr(threads, "_own_runnable", OWN_RUNNABLE)
    assert threads._own_runnable() >= 1  # this test runs
    n = threads.runnable_others()
    assert n is None or n >= 0


class _Flip:
    """``cores_free`` of a machine whose load comes and goes: no, yes, no, yes ..."""

    def __init__(self):
        self.calls = [0, 0]  # answers no, yes

    def __call__(self):
        free = self.calls[0] > self.calls[1]
        self.calls[free] += 1
        return free


def _alternating(base):
    """A Tuner whose chunks alternate serial / threaded (a switch at every safe point)."""

    class Alternate(base):
        switches = 0

        def record(self, work, seconds):
            if self.grain <= 0:
                return False
            self._mode = 1 - self._mode
            type(self).switches += 1
            return True

    return Alternate


def _bits(x, seen=None):
    """Every array (and number) reachable from a driver's result, as bytes, by path."""
    out = {}
    if isinstance(x, np.ndarray):
        return {"": (x.dtype.str, x.shape, x.tobytes())}
    if isinstance(x, (int, float, bool, str, type(None), np.generic)):
        return {"": repr(x)}
    if isinstance(x, (list, tuple)):
        items = enumerate(x)
    elif isinstance(x, dict):
        items = x.items()
    elif hasattr(x, "__dict__") or hasattr(x, "__dataclass_fields__"):
        items = ((k, v) for k, v in vars(x).items() if k != "model")
    else:
        return {}
    for k, v in items:
        for kk, b in _bits(v).items():
            out[f"{k}.{kk}"] = b
    return out


@two_threads
@pytest.mark.parametrize("driver", ["aqs_stop_when", "aqs_chunks", "cyclic_compiled",
                                    "cyclic_python", "stress_compiled", "stress_python",
                                    "quench_bounded", "quench_scan"])
def test_mode_switches_during_a_run_bit_identical(monkeypatch, driver):
    """Threads dropped and taken again at every safe point of a run: the serial run's bits."""
    threads.grain(1)  # every region threaded whenever the driver says threads
    monkeypatch.setattr(threads, "LOOK", 0.0)  # the gates look at every safe point
    flip = _Flip()
    monkeypatch.setattr(threads, "cores_free", flip)
    alt = _alternating(threads.Tuner)
    monkeypatch.setattr(threads, "Tuner", alt)
    p = fp.ModelParams(L=16, N=12, T=0.0)  # (threaded regions on a loaded machine are slow)
    st = fp.quench(p, np.random.default_rng(4))

    every = {"checkpoint": lambda c: None, "checkpoint_every": 0.0}  # chunks of 1 avalanche

    def run():
        rng = np.random.default_rng(9)
        if driver == "aqs_stop_when":
            return fp.aqs(st, p, rng, gamma_end=0.08, dgamma=1e-4, record_events=True,
                          stop_when=lambda g, sb, sa: False)
        if driver == "aqs_chunks":
            return fp.aqs(st, p, rng, gamma_end=0.08, dgamma=1e-4, record_events=True, **every)
        if driver.startswith("cyclic"):
            return fp.cyclic(st, p, rng, gamma_max=0.05, cycles=2, dgamma=1e-4,
                             record_events=True, **(every if "compiled" in driver else
                                                     {"compiled": False}))
        if driver.startswith("stress"):
            return fp.stress_controlled(st, p, rng, stress_end=0.8, dstress=1e-3,
                                        record_events=True, **(every if "compiled" in driver
                                                               else {"compiled": False}))
        return fp.quench(fp.ModelParams(L=p.L, N=12, T=0.05), rng, max_events=3 * st.n_elem,
                         return_info=True,
                         selection="bounded" if driver == "quench_bounded" else "scan")

    runs = []
    for t in (1, 2):
        threads.set_threads(t)
        runs.append(run())
    n_ev = runs[0][1].n_events if driver.startswith("quench") else runs[0].state.n_events
    assert n_ev >= 60, n_ev
    a, b = (_bits(r) for r in runs)
    assert a.keys() == b.keys() and len(a) > 5
    diff = [k for k in a if a[k] != b[k]]
    assert not diff, diff[:5]
    tuned = driver in ("aqs_chunks", "cyclic_compiled", "stress_compiled", "quench_bounded")
    if tuned:  # chunks ran serial and threaded in turn
        assert alt.switches >= 4
    else:  # the gates said no and yes along the run
        assert min(flip.calls) >= 2, flip.calls


@pytest.mark.parametrize("dim", [2, 3])
def test_kmc_blocks_in_parts_equal_one_call_per_block(monkeypatch, dim):
    """The quench's KMC block in compiled calls of any size: the same bits (time included).

    In 3D each call rebuilds the row drift bounds (a full first scan), which changes what is
    scanned, never what is found.
    """
    import types

    from femplastic.weakplane import kmc_kernels, kmc_kernels3d
    from femplastic.weakplane.drivers import kmc

    KK = kmc_kernels3d if dim == 3 else kmc_kernels
    RUN = KK.kmc_run

    # 64 elements: the first part, 2**15 / 64 steps, is the whole block
    p = fp.ModelParams(L=8, N=12, T=0.05) if dim == 2 else fp.ModelParams(dim=3, L=4, N=12,
                                                                           T=0.05)
    out = []
    for step in (0.0, 1.0):  # clock still: one call per block; 1 s per read: parts shrink
        clock = [0.0]

        def perf_counter(step=step, clock=clock):
            clock[0] += step
            return clock[0]

        monkeypatch.setattr(kmc, "_time", types.SimpleNamespace(perf_counter=perf_counter))
        calls = []
        monkeypatch.setattr(KK, "kmc_run", lambda *a, calls=calls: calls.append(a[10]) or
                            RUN(*a))
        out.append((fp.quench(p, np.random.default_rng(3), max_events=4 * 64,
                              return_info=True), calls))
    ((a, ia), ca), ((b, ib), cb) = out
    assert ca == [64] * 4  # one call per block (as before parts)
    assert sum(cb) == 256 and cb[:2] == [64, 6] and set(cb[2:]) == {1}  # then one step each
    assert ia.n_events == ib.n_events > 256 and ia.time == ib.time
    for name in ("stress", "eps_pl", "tauc", "theta", "slips"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name

"""Event records of the relaxation never lose an event, whatever the record's capacity."""

import numpy as np

import femplastic as fp
from femplastic.weakplane.drivers.aqs import _Buffers, relax


def _unstable_state():
    p = fp.ModelParams(L=8, N=12)
    st = fp.quench(p, np.random.default_rng(3))
    st.stress[:, 2] += 4.0  # a large shear kick: many elements unstable at once
    st.margin[:] = -1.0  # stability cache unknown after editing the stress by hand
    return st


def test_tiny_record_gives_the_same_events_and_state_as_a_large_one():
    logs, states = [], []
    for capacity in (3, 100_000):
        st = _unstable_state()
        buf = _Buffers(st.n_elem, capacity)
        n_ev, plastic = relax(st, np.random.default_rng(7), buf, record=True)
        assert n_ev > 2 * st.n_elem  # beyond the first growth (2 n): the record grows mid-run
        m = int(buf.ev_n[0])
        assert m == n_ev  # every event recorded, none dropped at a capacity boundary
        logs.append([a[:m].copy() for a in (buf.ev_e, buf.ev_k, buf.ev_th, buf.ev_tau,
                                            buf.ev_amp)])
        states.append((st.stress.copy(), st.tauc.copy(), plastic))
    for a, b in zip(logs[0], logs[1], strict=True):
        assert np.array_equal(a, b)
    for a, b in zip(states[0][:2], states[1][:2], strict=True):
        assert np.array_equal(a, b)
    # the returned plastic strain is summed per kernel call: a record grown mid-relaxation
    # splits the sum, so it agrees to round-off only
    np.testing.assert_allclose(states[0][2], states[1][2], rtol=1e-12, atol=1e-14)


def test_aqs_refuses_to_return_non_finite_stresses():
    p = fp.ModelParams(L=6, N=8, T=0.0)
    st = fp.quench(p, np.random.default_rng(0))
    st.stress[0, 2] = np.nan  # what a diverging synchronous relaxation leaves behind
    st.margin[:] = -1.0
    try:
        fp.aqs(st, p, np.random.default_rng(1), gamma_end=0.01, dgamma=1e-3)
    except FloatingPointError as exc:
        assert "model.chi" in str(exc) and "model.l" in str(exc)
    else:
        raise AssertionError("aqs returned non-finite stresses without an error")


def test_numba_caches_are_dropped_when_any_kernel_source_changes(tmp_path, monkeypatch):
    from femplastic import numba_cache as nc

    root = tmp_path / "pkg"
    for rel in nc.KERNEL_MODULES:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(f"# {rel}\n")
    stale = root / "weakplane" / "__pycache__" / "kmc_kernels.kmc_run-1.py311.1.nbc"
    stale.parent.mkdir(parents=True)
    monkeypatch.setattr(nc, "_ROOT", root)
    monkeypatch.setattr(nc, "_STAMP", root / "__pycache__" / "femplastic-kernels.sha256")
    for expect_drop in (True, False):  # first: no stamp; then: nothing changed
        stale.write_bytes(b"cached code")
        monkeypatch.setattr(nc, "_done", False)
        assert nc.refresh() is expect_drop
        assert stale.exists() is not expect_drop
    # a change in *another* kernel file than the cached function's drops the cache too
    (root / "weakplane" / "kernels.py").write_text("# changed\n")
    monkeypatch.setattr(nc, "_done", False)
    assert nc.refresh() is True and not stale.exists()

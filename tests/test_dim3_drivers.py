"""The 3D weak-plane model through the shared drivers: state, KMC quench, AQS, energy, resume.

Small grids (L = 4-5) so that the whole file stays cheap; the physics checks are independent
of the incremental kernels: the stress the kernels maintain is compared with an FFT
convolution of the plastic strain, the energy with the closed form of
:mod:`femplastic.weakplane.energy`, the systems with :meth:`SlipLaw3D.init`.
"""

import numpy as np
import pytest
from test_protocols_compiled import assert_same_run  # bitwise equality of two run records

import femplastic as fp
from femplastic.weakplane import relax3d as K3
from femplastic.weakplane.bundles import kernel_state, work_buffers
from femplastic.weakplane.dimension import loading_tensor, resolve
from femplastic.weakplane.drivers import checkpoint
from femplastic.weakplane.energy import elastic_energy, slip_dissipation

P3 = fp.ModelParams(dim=3, L=4, N=8)
KEYS = ("gamma", "stress", "stress_before", "avalanche_size", "plastic", "mean_stress")


@pytest.fixture(scope="module")
def quenched():
    st, info = fp.quench(P3, np.random.default_rng(2), max_events=400, return_info=True)
    return st, info


def _assert_events_rebuild(st0, st1, element, amplitude, schmid, theta):
    """Each 3D event's system (``schmid``) and amplitude rebuild the plastic strain change
    of every element, and its recorded polar angle is that of one of the two planes the
    Schmid tensor allows (normal and slip direction play the same role in M)."""
    assert schmid.shape == (element.size, 6) and element.size > 10
    rebuilt = np.zeros_like(st0.eps_pl)
    np.add.at(rebuilt, element, amplitude[:, None] * schmid)
    assert np.allclose(rebuilt, st1.eps_pl - st0.eps_pl, rtol=0, atol=1e-13)
    m = schmid
    t = np.array([[m[:, 0], m[:, 5], m[:, 4]], [m[:, 5], m[:, 1], m[:, 3]],
                  [m[:, 4], m[:, 3], m[:, 2]]]).transpose(2, 0, 1)
    w, v = np.linalg.eigh(t)  # eigenvalues -1/2, 0, 1/2: (n -+ s) / sqrt 2
    assert np.allclose(w, [-0.5, 0.0, 0.5], atol=1e-12)
    nz = np.abs(np.stack([v[:, 2, 2] + v[:, 2, 0], v[:, 2, 2] - v[:, 2, 0]])) / np.sqrt(2)
    assert np.all(np.isclose(nz, np.abs(np.cos(theta)), atol=1e-9).any(axis=0))


def test_aqs_events_carry_their_systems(quenched):
    """EventLog.schmid: the Schmid tensor of every event (the polar angle alone does not
    determine a 3D system); the compiled loop and the Python path record the same."""
    st0, _ = quenched
    run = fp.aqs(st0, P3, np.random.default_rng(3), gamma_end=0.2, dgamma=1e-3,
                 record_events=True)
    ev = run.events
    _assert_events_rebuild(st0, run.state, ev.element, ev.amplitude, ev.schmid, ev.theta)
    p2 = fp.ModelParams(L=6)
    st2 = fp.quench(p2, np.random.default_rng(1), max_events=50)
    assert fp.aqs(st2, p2, np.random.default_rng(1), gamma_end=0.02, dgamma=1e-3,
                  record_events=True).events.schmid is None  # 2D: theta determines it


def _fft_stress(st):
    prop = st.model.propagator
    return prop.stress(st.eps_pl, st.macro_strain, st.prestress)


def test_fresh_state_draws_the_systems_of_the_3d_slip_law():
    model = fp.build_model(P3)
    assert model.dim == 3 and model.n_elem == 64 and model.Kself.shape == (64, 6, 6)
    st = fp.State.fresh(model, np.random.default_rng(5))
    sys = model.law.init(np.random.default_rng(5), model.Kself)
    assert st.stress.shape == (64, 6) and st.macro_strain.shape == (6,)
    assert np.array_equal(st.nv, sys.schmid)
    assert np.array_equal(st.tauc, sys.tauc)
    assert np.array_equal(st.selfres, sys.selfres)
    assert np.allclose(st.theta, np.arccos(sys.normal[..., 2]), rtol=0, atol=1e-15)
    # resolved stresses through dtau: M : Sigma for a known uniform stress
    st.stress[:] = [0.1, -0.2, 0.05, 0.3, -0.1, 0.2]
    tau = np.einsum("ekc,c->ek", sys.schmid * [1, 1, 1, 2, 2, 2], st.stress[0])
    assert np.allclose(st.dtau(), st.tauc - tau, rtol=0, atol=1e-14)


def test_quench_is_stable_and_its_stress_is_the_fft_solve(quenched):
    st, info = quenched
    assert info.n_thermal == 400 and info.n_events >= 400 and info.time > 0
    assert st.is_stable()
    assert np.array_equal(st.stress, st.prestress)
    assert not st.eps_pl.any() and not st.macro_strain.any() and st.n_events == 0
    # the same seed gives the same glass bit for bit; the reference scan selection too
    st2 = fp.quench(P3, np.random.default_rng(2), max_events=400)
    assert np.array_equal(st.stress, st2.stress) and np.array_equal(st.nv, st2.nv)
    st3 = fp.quench(P3, np.random.default_rng(2), max_events=50, selection="scan")
    assert st3.is_stable() and st3.stress.shape == (64, 6)


def test_kmc_bounded_selection_matches_the_scan_distribution():
    # the exact O(n) selection: the frequencies of the selected elements match the rates
    model = fp.build_model(fp.ModelParams(dim=3, L=3, N=6))
    st = fp.State.fresh(model, np.random.default_rng(0))
    st.stress[:] = np.random.default_rng(1).normal(0, 0.5, st.stress.shape)
    from femplastic.weakplane import kmc_kernels3d as KK

    beta = 1.0 / 0.25
    nu = np.exp(-beta * st.dtau()).ravel()
    p = nu / nu.sum()
    kc = KK.kmc_cache(st.n_elem)
    rng = np.random.default_rng(3)
    law_f = model.law_arrays[1]
    m = 20000
    counts = np.zeros(p.size)
    for _ in range(m):
        e, k, _ = KK.kmc_select_bounded(st.stress, st.nv, st.tauc, st.slips, law_f, beta, kc,
                                        rng)
        counts[e * 6 + k] += 1
    big = p > 0.01
    chi2 = ((counts[big] - m * p[big]) ** 2 / (m * p[big])).sum()
    assert chi2 < big.sum() + 6 * np.sqrt(2 * big.sum())  # ~6 sigma of a chi-square


def test_energy_never_rises_in_a_sweep_and_every_slip_dissipates(quenched):
    st0, _ = quenched
    st = st0.copy()
    E = 0.3 * loading_tensor(3, 0.0)
    st.stress += st.model.propagator.load_response(E)
    st.macro_strain = E.copy()
    w = np.full(st.n_elem, 1.0 / st.n_elem)
    system, law, cache = kernel_state(st)
    work = work_buffers(st.n_elem, 6)
    rng = np.random.default_rng(4)
    prop = st.model.propagator
    n_sweeps = 0
    energy = elastic_energy(st, weights=w)
    while True:
        count = K3.find_active(st.stress, st.nv, st.tauc, law[1], st.sref, st.pref, st.margin,
                               work[0], work[1])
        if count == 0:
            break
        K3.draw_slips(count, st.stress, system, law, work, rng, False)
        e, k, deps, amp, taus = (a[:count].copy() for a in work)
        sr = st.selfres[e, k]
        assert np.all(amp >= 0) and np.all(amp <= 2 * taus / sr * (1 + 1e-12))
        assert np.allclose(taus, resolve(st.nv[e, k], st.stress[e]), rtol=0, atol=1e-13)
        # each slip alone: its exact energy release is the seed's w g (tau - g selfres / 2) >= 0
        for i in range(min(count, 5)):
            one = st.copy()
            prop.add(one.stress, e[i:i + 1], deps[i:i + 1])
            one.eps_pl[e[i]] += deps[i]
            drop = energy - elastic_energy(one, weights=w)
            assert drop >= -1e-15
            assert np.isclose(drop, slip_dissipation(taus[i], amp[i], sr[i], w[e[i]]),
                              rtol=1e-9, atol=1e-16)
        prop.add(st.stress, e, deps)
        K3.add_plastic(count, e, deps, None, np.zeros(6))
        K3.finish_slips(count, system, law, cache, work, rng)
        new = elastic_energy(st, weights=w)
        assert new <= energy + 1e-14 * abs(energy)
        energy = new
        n_sweeps += 1
    assert n_sweeps >= 2
    assert np.allclose(st.stress, _fft_stress(st), rtol=0, atol=1e-11)


def test_event_driven_aqs_is_bitwise_the_fixed_step_run(quenched):
    st0, _ = quenched
    kw = dict(gamma_end=0.15, dgamma=1e-3, record_events=True)
    a = fp.aqs(st0, P3, np.random.default_rng(7), event_driven=True, **kw)
    b = fp.aqs(st0, P3, np.random.default_rng(7), event_driven=False, **kw)
    assert a.avalanche_size.sum() > 20 and (a.avalanche_size > 0).sum() > 5
    for k in KEYS:
        assert np.array_equal(getattr(a, k), getattr(b, k)), k
    for k in ("stress", "eps_pl", "tauc", "nv", "theta"):
        assert np.array_equal(getattr(a.state, k), getattr(b.state, k)), k
    # avalanches recorded: every event belongs to the step's avalanche, sizes add up
    assert np.array_equal(np.bincount(a.events.avalanche), a.avalanche_size[a.avalanche_steps])
    # the records are the physics: the resolved mean stress, stress equals the FFT solve
    assert a.mean_stress.shape == (150, 6)
    assert np.allclose(a.stress, resolve(loading_tensor(3, 0.0), a.mean_stress), atol=1e-13)
    assert np.allclose(a.state.stress, _fft_stress(a.state), rtol=0, atol=1e-11)
    assert np.allclose(a.state.macro_strain, 0.15 * loading_tensor(3, 0.0))
    assert a.state.is_stable()
    # between avalanches the resolved stress rises at the shear modulus: M : C : M = G
    assert np.allclose(a.stress_before[1:] - a.stress[:-1], P3.G * 1e-3, rtol=1e-9, atol=0)


def test_python_avalanche_path_records_as_the_compiled_loop(quenched, monkeypatch):
    """A propagator without a numba form (the Python avalanche path) in 3D: the same records.

    The stress before each avalanche is the base's resolved stress (``acc[C]``, C = 6 in 3D);
    the Python path once read the 2D slot and recorded another component.
    """
    st0, _ = quenched
    kw = dict(gamma_end=0.15, dgamma=1e-3, record_events=True)
    a = fp.aqs(st0, P3, np.random.default_rng(7), **kw)
    monkeypatch.setattr(type(st0.model.propagator), "numba_form", lambda self: None)
    b = fp.aqs(st0, P3, np.random.default_rng(7), **kw)
    assert a.avalanche_size.sum() > 20
    for k in KEYS:
        assert np.array_equal(getattr(a, k), getattr(b, k)), k
    for k in ("element", "system", "theta", "amplitude", "avalanche", "schmid"):
        assert np.array_equal(getattr(a.events, k), getattr(b.events, k)), k


def test_reverse_loading_and_checkpoint_resume_are_bitwise(quenched, tmp_path):
    st0, _ = quenched
    kw = dict(gamma_end=0.12, dgamma=1e-3, record_events=True, alpha=np.pi / 2)
    snaps = []
    full = fp.aqs(st0, P3, np.random.default_rng(8), checkpoint=snaps.append,
                  checkpoint_every=0.0, **kw)
    assert full.stress[-1] > 0.3  # the reverse shear (alpha = 90 deg) loads the glass too
    assert len(snaps) > 4
    tag = {"version": fp.__version__, "case": "3d"}
    ck, _, _ = checkpoint.load(checkpoint.save(tmp_path / "ck.npz", snaps[len(snaps) // 2],
                                               tag), tag)
    again = fp.aqs(st0, P3, np.random.default_rng(999), resume=ck, **kw)
    for k in KEYS:
        assert np.array_equal(getattr(full, k), getattr(again, k)), k
    for k in ("stress", "eps_pl", "tauc", "nv", "slips"):
        assert np.array_equal(getattr(full.state, k), getattr(again.state, k)), k


def test_3d_refuses_what_it_does_not_have():
    model = fp.build_model(P3)
    with pytest.raises(ValueError, match="dim = 3.*custom material"):
        fp.build_model(P3, material=model.material)


def test_cyclic_balances_its_energy_and_resumes_bitwise(quenched, tmp_path):
    st0, _ = quenched
    kw = dict(gamma_max=0.12, cycles=2, dgamma=2e-3, record_events=True)
    saved = []
    ref = fp.cyclic(st0, P3, np.random.default_rng(4), checkpoint=saved.append,
                    checkpoint_every=0, **kw)
    assert ref.avalanches.size.sum() > 20
    # loop work = dissipation + stored energy change, cycle by cycle (3D energy, 3D kernels)
    assert np.all(np.abs(ref.balance) < 1e-10)
    assert np.all(ref.avalanches.dissipation >= -1e-12)
    assert np.allclose(ref.state.stress, _fft_stress(ref.state), rtol=0, atol=1e-11)
    ev = ref.avalanches.events
    _assert_events_rebuild(st0, ref.state, ev["element"], ev["amplitude"], ev["schmid"],
                           ev["theta"])
    assert len(saved) > 4
    tag = {"t": 3}
    back, _, _ = checkpoint.load(checkpoint.save(tmp_path / "c.npz", saved[len(saved) // 2],
                                                 tag), tag)
    assert_same_run(ref, fp.cyclic(st0, P3, np.random.default_rng(99), resume=back, **kw))
    with pytest.raises(ValueError, match="compiled loop only"):
        fp.cyclic(st0, P3, np.random.default_rng(4), compiled=False, **kw)


def test_stress_control_holds_its_target_and_resumes_bitwise(quenched, tmp_path):
    st0, _ = quenched
    kw = dict(stress_end=1.9, dstress=2e-2, record_events=True)
    saved = []
    ref = fp.stress_controlled(st0, P3, np.random.default_rng(5), checkpoint=saved.append,
                               checkpoint_every=0, **kw)
    assert ref.avalanches.size.sum() > 20 and not ref.flowed
    assert np.allclose(ref.stress, ref.target, rtol=0, atol=1e-12)  # back on the target
    assert np.all(np.diff(ref.gamma) >= 0) and np.isclose(ref.stress[-1], 1.9)
    assert np.isclose(ref.state.external_stress(), 1.9, rtol=0, atol=1e-12)
    ev = ref.avalanches.events
    _assert_events_rebuild(st0, ref.state, ev["element"], ev["amplitude"], ev["schmid"],
                           ev["theta"])
    assert len(saved) > 2
    tag = {"t": 4}
    back, _, _ = checkpoint.load(checkpoint.save(tmp_path / "s.npz", saved[len(saved) // 2],
                                                 tag), tag)
    assert_same_run(ref, fp.stress_controlled(st0, P3, np.random.default_rng(0), resume=back, **kw))


def test_cyclic_and_stress_stream_their_records_bitwise_in_3d(quenched):
    """3D step records streamed in blocks of 5 rows (sink=, ROWS_FULL hand-overs of the 3D
    loop) are bitwise the in-memory records, logs, events and final state, and a checkpoint
    taken after several hand-overs resumes to the same bits."""
    from femplastic.weakplane import path_kernels3d as PK3

    st0, _ = quenched
    import dataclasses

    runs = [(fp.cyclic, dict(gamma_max=0.12, cycles=2, dgamma=2e-3, record_events=True), 4),
            (fp.stress_controlled, dict(stress_end=1.9, dstress=2e-2, record_events=True), 5)]
    for drive, kw, seed in runs:
        ref = drive(st0, P3, np.random.default_rng(seed), **kw)
        blocks, cks = [], []
        run = drive(st0, P3, np.random.default_rng(seed), sink=blocks.append, sink_rows=5,
                    checkpoint=cks.append, checkpoint_every=0, **kw)
        assert len(blocks) > 10 and max(b["stress"].size for b in blocks) == 5
        steps = list(blocks[0])
        assert {"gamma", "stress", "avalanche_size"} <= set(steps)
        for k in steps:
            got = np.concatenate([b[k] for b in blocks])
            assert got.dtype == getattr(ref, k).dtype and np.array_equal(got, getattr(ref, k)), k
            assert getattr(run, k).size == 0  # the step records went to the sink
        # everything else (state, per-cycle records, avalanche and event logs) bitwise
        assert_same_run(dataclasses.replace(ref, **{k: getattr(run, k) for k in steps}), run)
        held = [int(c.records["ipos"][PK3.R0]) for c in cks]
        ck = cks[next(i for i, r0 in enumerate(held) if r0 >= 10)]  # after >= 2 hand-overs
        r0 = int(ck.records["ipos"][PK3.R0])
        tail = []
        res = drive(st0, P3, np.random.default_rng(99), sink=tail.append, sink_rows=5,
                    resume=ck, **kw)
        for k in steps:
            rest = np.concatenate([b[k] for b in tail])
            assert np.array_equal(np.concatenate([getattr(ref, k)[:r0], rest]),
                                  getattr(ref, k)), k
        assert np.array_equal(res.state.stress, ref.state.stress)
        assert np.array_equal(res.avalanches.dissipation, ref.avalanches.dissipation)


def test_bauschinger_reverse_reload_is_softer_in_3d(quenched):
    st0, _ = quenched
    rng = np.random.default_rng(6)
    loaded = fp.aqs(st0, P3, rng, gamma_end=0.3, dgamma=1e-3).state
    b = fp.bauschinger(loaded, P3, rng, gamma_reload=0.05, dgamma=1e-3)
    assert b.unload.stopped and b.unload.stress[0] < 0 <= b.unload.stress[-1]  # -Sigma_xy
    s_u = b.unloaded.external_stress()
    assert s_u <= 0 < loaded.external_stress()
    # the reverse shear in 3D is -M(0): both reloads start elastically from +-Sigma_u
    assert np.isclose(b.forward.stress[0], s_u + P3.G * 1e-3, atol=1e-9)
    assert np.isclose(b.reverse.stress[0], -s_u + P3.G * 1e-3, atol=1e-9)
    assert b.reverse.stress.mean() < b.forward.stress.mean()  # the reverse reload is softer


def _xdmf2_steps(path):
    """Every step of an XDMF file as VTK's Xdmf2 reader (ParaView's default) reads it."""
    xdmf2 = pytest.importorskip("vtkmodules.vtkIOXdmf2", reason="the vtk test extra")
    from vtkmodules.util.numpy_support import vtk_to_numpy
    from vtkmodules.vtkCommonExecutionModel import vtkStreamingDemandDrivenPipeline as SDDP

    reader = xdmf2.vtkXdmfReader()
    reader.SetFileName(str(path))
    reader.UpdateInformation()
    steps = []
    for t in reader.GetOutputInformation(0).Get(SDDP.TIME_STEPS()):
        reader.UpdateTimeStep(t)
        grid = reader.GetOutputDataObject(0)
        cd = grid.GetCellData()
        types = {grid.GetCellType(i) for i in range(grid.GetNumberOfCells())}
        bounds = grid.GetBounds()
        steps.append((t, grid.GetClassName(), grid.GetNumberOfCells(), types, bounds,
                      {cd.GetArrayName(i): vtk_to_numpy(cd.GetArray(i))
                       for i in range(cd.GetNumberOfArrays())}))
    return steps


def test_cli_runs_3d_with_hexahedral_fields_and_provenance(tmp_path, capsys):
    import json

    import h5py

    from femplastic import cli

    out = tmp_path / "aqs"
    base = ["run", "--set", "model.dim=3", "--set", "model.L=4", "--set", "model.N=8",
            "--set", "model.T=0"]
    assert cli.main([*base, "--set", "run.gamma_end=0.1", "--set", "run.dgamma=1e-3",
                     "--out", str(out)]) == 0
    assert "(3D: 64 elements)" in capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["params"]["model"]["dim"] == 3
    with h5py.File(out / "results.h5") as f:
        assert f.attrs["status"] == "complete"
        assert json.loads(f.attrs["params"])["model"]["dim"] == 3
        final = f["final_state/stress"][()]
        assert final.shape == (64, 6) and f["realizations/r0000/mean_stress"].shape == (100, 6)
        rec = f["realizations/r0000/stress"][()]
    steps = _xdmf2_steps(out / "fields.xdmf")
    assert len(steps) >= 2
    for _, kind, n_cells, types, bounds, arrays in steps:
        # one grid of L^3 hexahedra (VTK_HEXAHEDRON = 12) filling the 4 l cube
        assert kind == "vtkUnstructuredGrid" and n_cells == 64 and types == {12}
        assert np.allclose(bounds, [0, 4 * 6.6] * 3)
        assert arrays["stress"].shape == (64, 9)
    s = steps[-1][5]["stress"]  # ParaView's 3x3: xx, xy, xz / yx, yy, yz / zx, zy, zz
    for k, c in ((0, 0), (4, 1), (8, 2), (5, 3), (2, 4), (1, 5), (3, 5)):
        assert np.array_equal(s[:, k], final[:, c]), (k, c)
    assert np.isclose(steps[-1][0], 0.1) and rec.size == 100
    # a path-engine protocol through the same engine
    out = tmp_path / "cyc"
    assert cli.main([*base, "--set", "run.protocol=cyclic", "--set", "run.gamma_max=0.02",
                     "--set", "run.cycles=1", "--set", "run.dgamma=1e-3",
                     "--out", str(out)]) == 0
    assert json.loads((out / "summary.json").read_text())["status"] == "complete"
    assert _xdmf2_steps(out / "fields.xdmf")[-1][2] == 64


def test_cli_local_yield_3d_shears_cubic_patches_about_each_axis(tmp_path):
    """``femplastic run`` runs the 3D local shear test: x, y, z axes, cubic patches."""
    import json

    import h5py

    from femplastic import cli

    out = tmp_path / "ly"
    assert cli.main(["run", "--set", "model.dim=3", "--set", "model.L=4", "--set", "model.N=8",
                     "--set", "model.T=0", "--set", "run.protocol=local-yield",
                     "--set", "run.patch=2", "--set", "run.n_alphas=2",
                     "--set", "run.gamma_end=0.02", "--set", "run.dgamma=1e-3",
                     "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "complete"
    assert summary["per_realization"][0]["axes"] == ["x", "y", "z"]
    with h5py.File(out / "results.h5") as f:
        for name in ("quench", "sheared"):
            g = f[f"realizations/r0000/{name}"]
            tau_i, tau_c, dtau_c = (g[k][()] for k in ("tau_i", "tau_c", "dtau_c"))
            # 64 cubic patches (stride 1) x 3 axes x 2 angles; axis-major columns
            assert tau_c.shape == (64, 6) and g["positions"].shape == (64, 3)
            assert np.array_equal(g["axes"][()], np.repeat(np.eye(3), 2, axis=0))
            assert np.all(dtau_c > 0) and np.allclose(tau_c, tau_i + dtau_c, atol=1e-12)
        # the T = 0 start is stress free: no resolved pre-stress in any patch
        assert np.abs(f["realizations/r0000/quench/tau_i"][()]).max() < 1e-12

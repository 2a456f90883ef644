"""Element-size ingredients (femplastic.weakplane.element_size, issue #24 deliverable 3)."""

import numpy as np
import pytest
from scipy import stats

import femplastic as fp
from femplastic.weakplane import element_size as es
from femplastic.weakplane import kernels as K
from femplastic.weakplane.bundles import kernel_state, work_buffers

#: column widths of the graded test mesh (element sizes sqrt(w h) = 4.0 ... 10.4 for h = 6.6)
WIDTHS = (2.4, 6.6, 16.5)
H = 6.6


def graded_mesh(reps: int = 3, rows: int = 4) -> fp.mesh.FEMesh:
    """A periodic tensor grid whose columns cycle through WIDTHS (three size classes)."""
    w = np.tile(WIDTHS, reps)
    xs = np.concatenate([[0.0], np.cumsum(w)])
    ys = np.arange(rows + 1) * H
    X, Y = np.meshgrid(xs, ys)
    nid = np.arange(X.size).reshape(len(ys), len(xs))
    cells = np.stack([nid[:-1, :-1].ravel(), nid[:-1, 1:].ravel(), nid[1:, 1:].ravel(),
                      nid[1:, :-1].ravel()], axis=1)
    return fp.mesh.from_arrays(np.stack([X.ravel(), Y.ravel()], axis=1), cells, periodic=True)


def _run(p, mesh=None, seed=5, gamma_end=0.05):
    rng = np.random.default_rng(seed)
    st = fp.quench(p, rng, mesh=mesh) if mesh is not None else fp.quench(p, rng)
    return st, fp.aqs(st, p, rng, gamma_end=gamma_end, dgamma=1e-3, record_events=True)


@pytest.mark.parametrize("option", ["density", "density+table1"])
def test_uniform_grid_bitwise_equal_to_off(option):
    # model C: N = 36 = round4(0.8 * 6.6^2), every element of size l: the same law exactly
    p = fp.ModelParams(L=6, T=0.25)
    q0, r0 = _run(p)
    q1, r1 = _run(p.replace(element_size=option))
    assert r1.state.model.law.per_element is not None
    for a, b in ((q0.stress, q1.stress), (q0.tauc, q1.tauc), (r0.state.stress, r1.state.stress),
                 (r0.state.theta, r1.state.theta), (r0.state.tauc, r1.state.tauc),
                 (r0.events.amplitude, r1.events.amplitude), (r0.stress, r1.stress)):
        assert np.array_equal(a, b)
    assert r0.state.n_events == r1.state.n_events > 0


def test_graded_mesh_follows_the_law():
    m = graded_mesh()
    l, k, lam, chi, rho = 6.6, 2.18, 2.05, 2.25, 0.8
    p = fp.ModelParams(L=6, l=l, k=k, lam=lam, chi=chi, T=0.0, element_size="density+table1")
    law = fp.build_model(p, mesh=m).law
    le = np.sqrt(m.areas)
    # the stated law, written out independently
    N_e = np.maximum(4, 4 * np.round(rho * le ** 2 / 4))
    r = le / l
    want = np.stack([k * r ** -0.394, lam * r ** 0.695,
                     np.maximum(0.5, (1 + chi) * r ** 1.643 - 1), N_e], axis=1)
    assert np.allclose(law.per_element, want, rtol=1e-12, atol=0)
    assert sorted(set(N_e.astype(int).tolist())) == [12, 36, 88]
    assert law.N == 88
    mid = np.isclose(le, 6.6)
    assert np.array_equal(law.per_element[mid, :3], np.tile([k, lam, chi], (mid.sum(), 1)))
    # "density" keeps the global (k, lam, chi)
    d = fp.build_model(p.replace(element_size="density"), mesh=m).law.per_element
    assert np.array_equal(d[:, 3], N_e) and np.all(d[:, :3] == [k, lam, chi])


@pytest.mark.parametrize("variant", ["C", "B"])
def test_padding_never_active_quench_and_aqs(variant):
    # KMC quench (T > 0) and AQS on the graded mesh; B exercises the pressure shift a p
    m = graded_mesh()
    p = fp.ModelParams.for_variant(variant, L=6, T=0.25, element_size="density+table1")
    st, run = _run(p, mesh=m, gamma_end=0.1)
    ne = st.model.law.n_per_element(m.n_elem)
    pad = np.arange(st.model.law.N)[None, :] >= ne[:, None]
    for s in (st, run.state):
        assert np.all(np.isinf(s.tauc[pad])) and np.all(np.isfinite(s.tauc[~pad]))
        assert np.all(s.theta[pad] == 0.0)
        assert s.is_stable() and np.all(np.isfinite(s.stress))
        per = s.mean_tauc(axis=1)  # padding left out of the recorded mean thresholds
        assert np.allclose(per, [s.tauc[e, :ne[e]].mean() for e in range(m.n_elem)])
        assert np.isclose(s.mean_tauc(), s.tauc[~pad].mean())
    ev = run.events
    assert ev.element.size > 0 and np.all(ev.system < ne[ev.element])
    # the stability scan's margin is the lowest finite distance, not the padding's
    system, law, cache = kernel_state(run.state)
    for e in range(m.n_elem):
        d, kbest = K.full_check(e, run.state.stress, run.state.nv, run.state.tauc, law[1],
                                *cache)
        assert kbest < ne[e] and d == run.state.dtau()[e, :ne[e]].min()
    # KMC selection: padding has rate exactly 0
    rng = np.random.default_rng(0)
    for _ in range(300):
        e, kk, _ = K.kmc_select(run.state.stress, run.state.nv, run.state.tauc, law[1], 4.0,
                                rng)
        assert kk < ne[e]


def test_table1_fit_and_residuals():
    fit = es.fit_table1()
    for name, b in (("k", es.B_K), ("lam", es.B_LAM), ("1+chi", es.B_CHI)):
        B, c, res = fit[name]
        assert abs(B - b) < 5e-4
        assert np.max(np.abs(res)) <= es.TABLE1_RESIDUAL[name] + 5e-3
        ls = np.array(sorted(es.TABLE1_OPTIMUM))
        col = {"k": 0, "lam": 1, "1+chi": 2}[name]
        y = np.array([es.TABLE1_OPTIMUM[x][col] for x in ls]) + (name == "1+chi")
        assert np.all(np.abs(y / (c * ls ** B) - 1) <= es.TABLE1_RESIDUAL[name] + 5e-3)
    # the fitted exponents sit near the physical expectations: lam ~ l^(2/k) (minimum
    # statistics, A.1) within a factor 1.5, 1 + chi ~ l^2 (slip moment) within 20 %
    assert 0.6 < es.B_LAM / (2 / 2.18) < 1.0 and abs(es.B_CHI / 2 - 1) < 0.2


def test_ks_per_size_class():
    m = graded_mesh(reps=4, rows=6)
    p = fp.ModelParams(L=8, T=0.0, element_size="density+table1")
    model = fp.build_model(p, mesh=m)
    tab = model.law.per_element
    st = fp.State.fresh(model, np.random.default_rng(11))
    classes = np.unique(tab[:, 3])
    assert classes.size == 3
    rng = np.random.default_rng(12)
    system, law, _ = kernel_state(st)
    n = m.n_elem
    work = work_buffers(n)
    work[0][:] = np.arange(n)  # system 0 of every element, thermal bound gmax(tau_c) > 0
    work[1][:] = 0
    amps, gmaxs = [], []
    for _ in range(40):
        K.draw_slips(n, st.stress, system, law, work, rng, True)
        amps.append(work[3].copy())
        gmaxs.append(2 * st.tauc[:, 0] / st.selfres[:, 0])
    x = np.array(amps) / np.array(gmaxs)  # dgamma / gmax ~ Beta(1, chi_e)
    for c in classes:
        sel = tab[:, 3] == c
        k_e, lam_e, chi_e, N_e = tab[sel][0]
        thr = st.tauc[sel][:, : int(N_e)].ravel()
        assert stats.kstest(thr, stats.weibull_min(k_e, scale=lam_e).cdf).pvalue > 0.01
        assert stats.kstest(x[:, sel].ravel(), stats.beta(1, chi_e).cdf).pvalue > 0.01
        # and not the neighbouring class's law
        other = classes[classes != c][0]
        k2, lam2 = tab[tab[:, 3] == other][0, :2]
        assert stats.kstest(thr, stats.weibull_min(k2, scale=lam2).cdf).pvalue < 1e-3


@pytest.mark.parametrize("kw, key", [
    ({"element_size": "density", "rho_s": -0.8}, "rho_s"),
    ({"element_size": "density", "rho_s": float("nan")}, "rho_s"),
    ({"element_size": "area"}, "element_size"),
    ({"element_size": "density", "variant": "F", "N": 2}, "element_size"),
    ({"element_size": "density", "variant": "E"}, "element_size"),
])
def test_bad_input_names_the_key(kw, key):
    with pytest.raises(ValueError, match=key):
        fp.ModelParams(**kw)


def test_bad_input_types_and_config():
    with pytest.raises(TypeError, match="element_size"):
        fp.ModelParams(element_size=1)
    with pytest.raises(TypeError, match="rho_s"):
        fp.ModelParams(rho_s="0.8")
    with pytest.raises(ValueError, match="element_size"):
        fp.load_config(overrides=["model.element_size=dens"])
    cfg = fp.load_config(overrides=["model.element_size=Density", "model.rho_s=0.5"])
    assert cfg.model.element_size == "density" and cfg.model.rho_s == 0.5
    assert fp.ModelParams().element_size == "off"  # off by default


def test_extrapolation_warns(meshes_dir):
    m = fp.mesh.load(meshes_dir / "graded_periodic.msh", periodic=True)  # l_e = 0.79 ... 1.58
    p = fp.ModelParams(L=10, element_size="density+table1")
    with pytest.warns(UserWarning, match="extrapolated"), \
            pytest.warns(UserWarning, match="minimum N_e = 4"):
        law = fp.build_model(p, mesh=m).law
    assert np.all(law.per_element[:, 3] == 4)  # rho_s A_e < 2: the minimum of 4 systems


def test_local_yield_with_the_option_equals_off():
    # the patch model takes the patch's rows of the per-element table
    p = fp.ModelParams(L=6, T=0.0)
    out = []
    for opt in ("off", "density+table1"):
        q = p.replace(element_size=opt)
        st = fp.quench(q, np.random.default_rng(2))
        ly = fp.local_yield(st, q, np.random.default_rng(3), 3, [0.0, np.pi / 2], stride=3)
        out.append(ly)
    assert np.array_equal(out[0].tau_c, out[1].tau_c)
    assert np.array_equal(out[0].drop, out[1].drop)


def test_uniform_custom_mesh_snaps_to_l():
    # a general-path mesh of equal squares: shoelace areas may differ from l^2 by round-off,
    # sizes within 1e-9 count as l: the law is the global one exactly, trajectories equal
    l = 6.6
    xs = np.arange(7) * l
    X, Y = np.meshgrid(xs, xs)
    nid = np.arange(X.size).reshape(7, 7)
    cells = np.stack([nid[:-1, :-1].ravel(), nid[:-1, 1:].ravel(), nid[1:, 1:].ravel(),
                      nid[1:, :-1].ravel()], axis=1)
    m = fp.mesh.from_arrays(np.stack([X.ravel(), Y.ravel()], axis=1), cells, periodic=True)
    p = fp.ModelParams(L=6, T=0.0)
    law = fp.build_model(p.replace(element_size="density+table1"), mesh=m).law
    assert np.array_equal(law.per_element, np.tile([2.18, 2.05, 2.25, 36.0], (36, 1)))
    _, r0 = _run(p, mesh=m)
    _, r1 = _run(p.replace(element_size="density+table1"), mesh=m)
    assert np.array_equal(r0.state.stress, r1.state.stress) and r0.state.n_events > 0

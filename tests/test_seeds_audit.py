"""Independent checks of the scalar lattice EPMs and the HL mean field (seeds 000-003 audit).

Each test compares with a construction written here from the formulas (not with the
library's own helpers): the 2D Green operator of isotropic elasticity for the lattice
kernel, closed-form recursions for the finite-rate dynamics, a plain finite-difference solve
of the stationary Hebraud-Lequeux equation, and the bookkeeping identities of the quasistatic
model. The rest checks the refusals of bad states and ranges added by the audit.
"""

from __future__ import annotations

import math
import os
import signal
from dataclasses import replace

import numpy as np
import pytest
from scipy import optimize, sparse
from scipy.sparse.linalg import spsolve

import femplastic.lattice.finite_rate as fr_mod
from femplastic import meanfield as mf
from femplastic.lattice import (
    FiniteRateParams,
    FiniteRateState,
    LatticeEshelby,
    QuasistaticParams,
    Weibull,
    finite_rate_initial_state,
    quasistatic_initial_state,
    run_creep,
    run_fixed_rate,
    run_quasistatic,
)
from femplastic.lattice.bridge import record_sites


# ------------------------------------------------------------------ kernel
def _green_kernel(L: int, mu: float, K: float) -> np.ndarray:
    """sigma_xy(q) per unit tensor eigenstrain eps_xy: u = -i A^-1 (C:e0) q, eps = sym(q u)."""
    lam = K - mu

    def c(e: np.ndarray) -> np.ndarray:
        return lam * np.trace(e) * np.eye(2) + 2.0 * mu * e

    e0 = np.array([[0.0, 1.0], [1.0, 0.0]])
    tau = c(e0)
    k = 2.0 * np.pi * np.fft.fftfreq(L)
    ghat = np.zeros((L, L))
    for iy in range(L):
        for ix in range(L):
            if ix == 0 and iy == 0:
                continue
            q = np.array([k[ix], k[iy]])
            A = mu * (q @ q) * np.eye(2) + (lam + mu) * np.outer(q, q)
            u = np.linalg.solve(A, tau @ q)
            eps = 0.5 * (np.outer(q, u) + np.outer(u, q))
            ghat[iy, ix] = c(eps - e0)[0, 1]
    return np.fft.ifft2(ghat).real.ravel()


def test_kernel_matches_green_operator_and_sum_rules():
    L, mu, K = 12, 19.0, 55.0
    ref = _green_kernel(L, mu, K)
    cont = LatticeEshelby(L, mu, K, "continuum")
    esh = LatticeEshelby(L, mu, K, "eshelby")
    assert np.abs(cont.G - ref).max() < 1e-12 * np.abs(ref).max()
    assert abs(cont.G.sum()) < 1e-12 and abs(esh.G.sum()) < 1e-12  # q = 0 mode removed
    assert np.all(cont.Ghat <= 1e-14) and np.all(esh.Ghat <= 1e-14)  # slip releases stress
    assert esh.G[0] == pytest.approx(-mu / (1 + mu / K), rel=1e-12)  # Tyukodi eq. 1
    assert np.allclose(esh.G[1:], esh.scale * cont.G[1:], rtol=1e-10, atol=1e-14)
    # quadrupole: loaded along the shear axes, unloaded along the diagonals
    G = cont.G.reshape(L, L)
    assert G[0, 2] > 0 and G[2, 0] > 0 and G[2, 2] < 0


# ------------------------------------------------------------------ finite rate (Liu et al.)
def _all_plastic(n: int, sigma_ext: float = 0.0) -> FiniteRateState:
    return FiniteRateState(np.zeros(n), np.full(n, 0.1), np.ones(n, np.int8), np.zeros(n),
                           sigma_ext)


def test_finite_rate_maxwell_limit_and_plastic_flow_rate():
    # every site plastic for good (tau_res huge): uniform plastic strain, no internal stress;
    # dSigma/dt = mu (gdot - Sigma / (mu tau)), integrated by explicit Euler
    p = FiniteRateParams(L=8, tau_res=1e9)
    gd = 0.01
    tr, st = run_fixed_rate(p, _all_plastic(64), gd, 3.0, np.random.default_rng(0),
                            record_every=1)
    S, ref = 0.0, []
    for _ in range(300):
        S += p.mu * gd * p.dt - S * p.dt / p.tau
        ref.append(S)
    assert np.abs(tr.sigma_ext - ref).max() < 1e-12
    assert np.abs(st.stress_int).max() < 1e-14
    tr, _ = run_creep(p, _all_plastic(64), 0.5, 0.5, np.random.default_rng(0), record_every=10)
    assert np.allclose(tr.gdot_tot, 0.5 / (p.mu * p.tau), rtol=1e-12)


def test_finite_rate_chunks_are_bitwise_neutral_and_interruptible(monkeypatch):
    p = FiniteRateParams(L=8)
    s0 = finite_rate_initial_state(p, np.random.default_rng(1))
    a = run_fixed_rate(p, s0, 1e-3, 50.0, np.random.default_rng(2), record_every=7)
    monkeypatch.setattr(fr_mod, "_CHUNK_SITE_STEPS", 64 * 13)  # 13 steps per compiled call
    b = run_fixed_rate(p, s0, 1e-3, 50.0, np.random.default_rng(2), record_every=7)
    for x, y in ((a[0].sigma_ext, b[0].sigma_ext), (a[0].frac_plastic, b[0].frac_plastic),
                 (a[1].stress_int, b[1].stress_int), (a[1].threshold, b[1].threshold)):
        assert np.array_equal(x, y)
    # Ctrl-C during a long run is honoured at the next chunk, not at the end of the run
    calls = []
    orig = fr_mod._fr_advance

    def advance(*args):
        calls.append(1)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return orig(*args)

    monkeypatch.setattr(fr_mod, "_fr_advance", advance)
    with pytest.raises(KeyboardInterrupt):
        run_fixed_rate(p, s0, 1e-3, 1e4, np.random.default_rng(2))
    assert len(calls) == 2


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("plastic", np.zeros(3, np.int8), "plastic must have shape"),
        ("gamma_pl", np.zeros(3), "gamma_pl must have shape"),
        ("plastic", np.full(64, 2, np.int8), "only 0 .elastic. and 1"),
        ("gamma_pl", np.full(64, np.nan), "gamma_pl must be finite"),
        ("sigma_ext", float("nan"), "sigma_ext must be a finite"),
        ("time", float("inf"), "time must be a finite"),
        ("stress_int", np.ones(64), "zero mean"),
    ],
)
def test_finite_rate_refuses_bad_states(field, value, match):
    p = FiniteRateParams(L=8)
    s0 = replace(finite_rate_initial_state(p, np.random.default_rng(0)), **{field: value})
    with pytest.raises(ValueError, match=match):
        run_fixed_rate(p, s0, 1e-2, 1.0, np.random.default_rng(0))


def test_finite_rate_refuses_bad_arguments():
    p = FiniteRateParams(L=8)
    s0 = finite_rate_initial_state(p, np.random.default_rng(0))
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="records: at most"):
        run_fixed_rate(p, s0, 1e-2, 1e12, rng)
    with pytest.raises(ValueError, match="stop_when_stuck must be True or False"):
        run_creep(p, s0, 0.3, 1.0, rng, stop_when_stuck="no")
    with pytest.raises(ValueError, match="params must be FiniteRateParams"):
        finite_rate_initial_state("p", rng)
    with pytest.raises(ValueError, match="sample must be a real number"):
        record_sites(p, s0, 0.01, 1.0, "a", rng)
    with pytest.raises(ValueError, match="duration must not be NaN"):
        record_sites(p, s0, 0.01, float("nan"), 0.1, rng)
    with pytest.raises(ValueError, match="p must be FiniteRateParams"):
        record_sites("p", s0, 0.01, 1.0, 0.1, rng)
    with pytest.raises(ValueError, match=r"std/mean must be in \("):
        Weibull.from_mean_std(1.0, 1e6)


# ------------------------------------------------------------------ quasistatic (Tyukodi et al.)
def _qs_params(**kw) -> QuasistaticParams:
    base = dict(initial=Weibull.from_mean_std(1.14, 0.478), renewal=Weibull.from_mean_std(0.9, 0.4),
                c0=0.03, c1=0.02, L=8)
    return QuasistaticParams(**{**base, **kw})


def test_quasistatic_reaches_gamma_max_and_balances():
    p = _qs_params()
    rng = np.random.default_rng(0)
    s0 = quasistatic_initial_state(p, rng)
    # 0.3 does not divide 1.0: the run still ends at 1.0 (it stopped at 0.9 before)
    res, st = run_quasistatic(p, s0, 1.0, rng, observe_every=0.3)
    assert st.gamma == 1.0 and np.allclose(res.obs_gamma, [0.0, 0.3, 0.6, 0.9, 1.0])
    n = p.L**2
    assert st.sigma_ext == pytest.approx(2 * p.mu * (st.eps_tot - st.eps_pl.mean()), abs=1e-12)
    assert np.abs(st.stress_int - p.kernel.convolve(st.eps_pl)).max() < 1e-12
    assert np.allclose(res.sigma_peak - res.sigma_after, 2 * p.mu * res.slip / n, atol=1e-12)
    assert np.all(st.stress < st.threshold)
    # an observation interval beyond the range: one step to gamma_max (it did nothing before)
    _, st2 = run_quasistatic(p, s0, 0.05, np.random.default_rng(1), observe_every=1.0)
    assert st2.gamma == 0.05


def test_quasistatic_slip_follows_the_threshold_just_exceeded():
    # first avalanche of a weak-coupling system: one slip of the weakest site, exponential of
    # mean c0 + c1 sigma_c^2 with sigma_c its threshold *before* the renewal
    p = QuasistaticParams(initial=Weibull(2.0, 1.0), c0=1e-4, c1=0.05, L=8)
    s0 = quasistatic_initial_state(p, np.random.default_rng(0))
    gap = s0.threshold - s0.stress_int
    th = s0.threshold[np.argmin(gap)]
    g_end = gap.min() / p.mu + 1e-9  # just past the first loading point
    slips = np.array([run_quasistatic(p, s0, g_end, np.random.default_rng(k),
                                      observe_every=g_end)[0].slip[0] for k in range(400)])
    mean = p.c0 + p.c1 * th**2
    assert abs(slips.mean() - mean) < 4 * mean / math.sqrt(slips.size)


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("eps_pl", np.zeros(3), "eps_pl must have shape"),
        ("sigma_ext", float("nan"), "sigma_ext must be a finite"),
        ("eps_tot", float("nan"), "eps_tot must be a finite"),
        ("sigma_ext", 5.0, "must equal 2 mu"),
    ],
)
def test_quasistatic_refuses_bad_states(field, value, match):
    p = _qs_params()
    s0 = replace(quasistatic_initial_state(p, np.random.default_rng(0)), **{field: value})
    with pytest.raises(ValueError, match=match):
        run_quasistatic(p, s0, 0.1, np.random.default_rng(0))


def test_quasistatic_refuses_too_many_observations():
    p = _qs_params()
    s0 = quasistatic_initial_state(p, np.random.default_rng(0))
    with pytest.raises(ValueError, match="observe_every=1e-12 gives"):
        run_quasistatic(p, s0, 0.1, np.random.default_rng(0), observe_every=1e-12)
    with pytest.raises(ValueError, match="params must be QuasistaticParams"):
        quasistatic_initial_state("p", np.random.default_rng(0))


# ------------------------------------------------------------------ Hebraud-Lequeux
def _hl_fd(alpha: float, v: float, S: float = 5.0, h: float = 5e-4) -> tuple[float, float]:
    """<sigma> and Gamma of D P'' - v P' - H(|s| - 1) P + Gamma delta(s) = 0, D = alpha Gamma.

    Central differences on a uniform grid (sigma_c = G0 = tau = 1); for unit reinjection
    the outflow is 1, so the normalised activity is 1 / mass.
    """
    x = np.arange(-S, S + h / 2, h)
    n = x.size
    H = (np.abs(x) > 1.0).astype(float)
    H[np.isclose(np.abs(x), 1.0)] = 0.5
    b = np.zeros(n)
    b[np.argmin(np.abs(x))] = -1.0 / h

    def solve(D: float) -> tuple[np.ndarray, float]:
        A = sparse.diags([np.full(n - 1, D / h**2 + v / (2 * h)), -2 * D / h**2 - H,
                          np.full(n - 1, D / h**2 - v / (2 * h))], [-1, 0, 1], format="csc")
        P = spsolve(A, b)
        mass = np.trapezoid(P, x)
        return P / mass, 1.0 / mass

    logd = optimize.brentq(lambda ld: math.exp(ld) - alpha * solve(math.exp(ld))[1],
                           math.log(alpha) - 15, math.log(alpha), xtol=1e-13)
    P, gamma = solve(math.exp(logd))
    return float(np.trapezoid(x * P, x)), gamma


@pytest.mark.parametrize(("alpha", "gdot"), [(0.3, 0.01), (0.6, 0.05)])
def test_hl_exact_stationary_state_matches_finite_differences(alpha, gdot):
    m, g = _hl_fd(alpha, gdot)
    ex = mf.hl_stationary_exact(alpha, gdot)
    assert ex.mean_stress == pytest.approx(m, rel=2e-6)
    assert ex.activity == pytest.approx(g, rel=2e-6)
    # the finite volumes converge to it at second order (error / 4 per refinement)
    e1, e2 = (mf.hl_steady_state(alpha, gdot, resolution=r).mean_stress - m for r in (1.0, 2.0))
    assert abs(e2) < 2e-4 * m and 3.5 < e1 / e2 < 4.5


@pytest.mark.parametrize("alpha", [0.05, 0.26, 0.45])
def test_hl_yield_stress_and_hb_prefactor_from_the_small_rate_limit(alpha):
    g = np.logspace(-12, -9, 4)
    s = np.array([mf.hl_stationary_exact(alpha, x).mean_stress for x in g])
    c = np.linalg.lstsq(np.column_stack([np.ones_like(g), g**0.5, g]), s, rcond=None)[0]
    assert c[0] == pytest.approx(mf.hl_yield_stress(alpha), abs=1e-9)
    assert c[1] == pytest.approx(mf.hl_hb_prefactor(alpha), rel=1e-5)
    # sigma_Y from the quasistatic solution derived by hand: coth(k/2)/2 - 1/k, tanh(k/2)/k = alpha
    k = optimize.brentq(lambda q: math.tanh(q / 2) / q - alpha, 1e-6, 1e3, xtol=1e-15)
    assert mf.hl_yield_stress(alpha) == pytest.approx(0.5 / math.tanh(k / 2) - 1 / k, rel=1e-10)


def test_hl_yield_stress_vanishes_as_a_square_root_at_alpha_half():
    for eps in (1e-4, 1e-6):
        assert mf.hl_yield_stress(0.5 - eps) / math.sqrt(eps / 6) == pytest.approx(1.0, abs=1e-3)


def test_hl_refuses_rates_out_of_the_solvers_range():
    with pytest.raises(ValueError, match=r"gdot must be in \[1e-150, 1e\+12\]"):
        mf.hl_stationary_exact(0.3, 1e13)
    with pytest.raises(ValueError, match=r"gdot must be in \[1e-20, 1e\+08\]"):
        mf.hl_steady_state(0.3, 1e-30)
    with pytest.raises(ValueError, match=r"gdot must be in \[1e-20, 1e\+08\]"):
        mf.hl_flow_curve(0.3, [1e-3, 1e9])
    with pytest.raises(ValueError, match="more than 5000000 cells"):
        mf.hl_fixed_rate(0.26, 1e6, 1.0)


def test_hl_fixed_drop_relaxation_balances_the_loading_and_has_a_rate_limit():
    # stationary mean-stress balance: G0 gdot = (1/tau) int_{|s| > 1} (s - target(s)) P;
    # the tail beyond the threshold (jumps of relax_drop) must lie inside the grid
    ext = mf.HLExtensions(relax_drop=0.2)
    means = []
    for res in (1.0, 2.0):
        st = mf.hl_steady_state(0.3, 0.1, extensions=ext, resolution=res)
        x, P, w = st.sigma, st.total_density, st.widths
        out = np.abs(x) > 1.0
        moment = float(((x - ext.target(x)) * P * w)[out].sum())
        assert moment == pytest.approx(0.1, rel=2e-4)
        means.append(st.mean_stress)
    assert means[0] == pytest.approx(means[1], rel=1e-3)
    # the start-up reaches the same state on its own grid (it stopped 1 % short, at 1.68)
    tr = mf.hl_fixed_rate(0.3, 0.1, 1000.0, extensions=ext, dt=0.1, dt_growth=1.2, dt_max=50.0)
    assert tr.stress[-1] == pytest.approx(means[0], rel=1e-4)
    # a site relaxes by at most relax_drop per tau: no stationary state at G0 gdot >= that
    with pytest.raises(ValueError, match="gdot must be < relax_drop"):
        mf.hl_steady_state(0.3, 0.25, extensions=ext)


def test_hl_creep_above_yield_settles_on_the_flow_curve():
    # the flowing state's yielding layer beyond +sigma_c is ~1 sigma_c long at this stress:
    # the grid must hold it (the run stopped at a rate whose stationary stress was 1.026)
    tr = mf.hl_creep(0.26, 1.0, 300.0, dt=0.05, dt_growth=1.1, dt_max=5.0)
    assert mf.hl_steady_state(0.26, tr.gdot[-1]).mean_stress == pytest.approx(1.0, rel=2e-4)


def test_observables_refuse_bad_inputs():
    from femplastic.lattice import smooth_rate, stress_at_strain

    with pytest.raises(ValueError, match=r"mu must be in \(0, inf\)"):
        stress_at_strain([0.1], [1.0], [0.2], float("nan"))
    with pytest.raises(ValueError, match="grid must be >= gamma0"):
        stress_at_strain([0.1], [1.0], [-0.1], 1.0)
    with pytest.raises(ValueError, match="window must be an integer"):
        smooth_rate(np.arange(5.0), np.arange(5.0), 1.5)
    # the universal relation inverts the yield stress exactly
    assert mf.alpha_from_yield_stress(mf.hl_yield_stress(0.26)) == pytest.approx(0.26, rel=1e-12)
    # down to tiny yield stresses (alpha -> 1/2, sigma_Y ~ sqrt((1/2 - alpha) / 6)); below
    # ratio ~ 8e-10 the root's bracket once started above the root (a brentq sign error)
    assert mf.hl_yield_stress(mf.alpha_from_yield_stress(1e-5)) == pytest.approx(1e-5, rel=1e-6)
    assert 0.5 - 1e-16 <= mf.alpha_from_yield_stress(1e-12) <= 0.5

"""Fourier lattice Eshelby kernel: invariants, analytic limits, comparison with the FE kernel."""

import numpy as np
import pytest

from femplastic.fe.elasticity import Isotropic
from femplastic.fe.mesh import periodic_grid
from femplastic.fe.propagators import PeriodicKernel
from femplastic.lattice import LatticeEshelby, effective_modulus, scalar_shifted_add_many


def _continuum_sxy(nx, ny, mu, K):
    """sigma_xy(q) per unit eps_xy(q) of plane 2D elasticity, by solving the Fourier-space
    equilibrium C_ijkl q_j q_l u_k = -i q_j (C : eps*)_ij directly (independent of the
    closed form used in the kernel)."""
    lam = K - mu
    d = np.eye(2)
    C = (lam * np.einsum("ij,kl->ijkl", d, d)
         + mu * (np.einsum("ik,jl->ijkl", d, d) + np.einsum("il,jk->ijkl", d, d)))
    n = np.array([nx, ny])
    es = np.array([[0.0, 1.0], [1.0, 0.0]])  # eps*_xy = 1 (tensor component)
    tau = np.einsum("ijkl,kl->ij", C, es)
    A = np.einsum("ijkl,j,l->ik", C, n, n)
    u = np.linalg.solve(A, -1j * tau @ n)
    eps = 0.5j * (np.outer(n, u) + np.outer(u, n))
    sig = np.einsum("ijkl,kl->ij", C, eps - es)
    return sig[0, 1].real


@pytest.mark.parametrize("L,mu,K", [(8, 14.88, np.inf), (16, 14.7, 52.0), (33, 19.0, 55.0)])
@pytest.mark.parametrize("norm", ["eshelby", "continuum"])
def test_zero_sum_real_even_and_negative_semidefinite(L, mu, K, norm):
    k = LatticeEshelby(L, mu, K, norm)
    assert abs(k.G.sum()) < 1e-12 * mu * L * L
    assert k.Ghat[0, 0] == 0.0
    # Ghat <= 0: every plastic mode releases stress (an energy decrease)
    assert np.all(k.Ghat <= 1e-12 * mu)
    # convolution preserves zero mean
    f = np.random.default_rng(0).normal(size=L * L)
    assert abs(k.convolve(f).mean()) < 1e-12 * mu


@pytest.mark.parametrize("L,mu,K", [(8, 14.88, np.inf), (16, 14.7, 52.0), (32, 19.0, 55.0),
                                    (64, 13.2, 59.0)])
def test_local_drop_is_eshelby_inclusion_value(L, mu, K):
    k = LatticeEshelby(L, mu, K)
    mus = mu / (1 + mu / K)
    assert effective_modulus(mu, K) == pytest.approx(mus)
    assert k.G[0] == pytest.approx(-mus, rel=1e-12)
    eps0 = 0.037
    s = np.zeros(L * L)
    e = 5 * L // 7 * L + 3
    k.add(s, [e], [eps0])
    assert s[e] == pytest.approx(-mus * eps0, rel=1e-12)
    # at fixed mean strain the local drop adds the mean drop 2 mu eps0 / N
    full = k.stress(np.where(np.arange(L * L) == e, eps0, 0.0))
    assert full[e] == pytest.approx(-mus * eps0 - 2 * mu * eps0 / L**2, rel=1e-12)
    assert full.mean() == pytest.approx(-2 * mu * eps0 / L**2, rel=1e-10)


def test_fourier_symbol_matches_direct_elasticity_solve():
    mu, K = 14.7, 52.0
    k = LatticeEshelby(16, mu, K, "continuum")
    q = 2 * np.pi * np.fft.fftfreq(16)
    rng = np.random.default_rng(3)
    for _ in range(12):
        iy, ix = rng.integers(16, size=2)
        if ix == iy == 0:
            continue
        qn = np.hypot(q[ix], q[iy])
        expected = _continuum_sxy(q[ix] / qn, q[iy] / qn, mu, K)
        assert k.Ghat[iy, ix] == pytest.approx(expected, rel=1e-10, abs=1e-12)
    # the eshelby normalisation is the same symbol times c
    ke = LatticeEshelby(16, mu, K)
    assert np.allclose(ke.Ghat, ke.scale * k.Ghat, rtol=1e-13, atol=0)


def test_symmetries():
    L = 24
    k = LatticeEshelby(L, 14.88)
    G = k.G.reshape(L, L)  # [ry, rx]
    r = np.arange(L)
    flip = (-r) % L
    assert np.allclose(G, G[:, flip], atol=1e-13)  # rx -> -rx
    assert np.allclose(G, G[flip, :], atol=1e-13)  # ry -> -ry
    assert np.allclose(G, G.T, atol=1e-13)  # x <-> y (cos 4 theta is invariant)
    # translation: the response to a source at e is the kernel shifted to e
    s = np.zeros(L * L)
    e = 7 * L + 11
    k.add(s, [e], [1.0])
    assert np.allclose(s.reshape(L, L), np.roll(G, (7, 11), axis=(0, 1)), atol=1e-13)


@pytest.mark.parametrize("norm", ["eshelby", "continuum"])
def test_far_field_is_cos4theta_over_r2(norm):
    L = 64
    k = LatticeEshelby(L, 14.7, 52.0, norm)
    rx, ry = k.offsets()
    r = np.hypot(rx, ry)
    th = np.arctan2(ry, rx)
    for R in (6.0, 9.0, 12.0):
        ring = np.abs(r - R) < 0.5
        y = k.G[ring] * r[ring] ** 2
        X = np.c_[np.cos(4 * th[ring]), np.ones(ring.sum()), np.cos(8 * th[ring])]
        (A, B, A8), *_ = np.linalg.lstsq(X, y, rcond=None)
        # the amplitude of the quadrupolar field: (2/pi) c mu*
        assert A == pytest.approx(k.far_field_amplitude, rel=0.04)
        # the angular dependence is cos(4 theta) (higher harmonics small, offset from images)
        assert abs(A8) < 0.06 * A
        resid = y - X @ [A, B, A8]
        assert np.sqrt(np.mean(resid**2)) < 0.06 * A
    # sign: positive along the shear axes, negative along the diagonals
    Gm = k.G.reshape(L, L)
    assert Gm[0, 8] > 0 and Gm[8, 0] > 0 and Gm[8, 8] < 0


def test_eshelby_far_field_and_selfterm_scaling():
    L = 32
    ke = LatticeEshelby(L, 13.2, 59.0)
    kc = LatticeEshelby(L, 13.2, 59.0, "continuum")
    mus = ke.mu_eff
    a = kc.bz_mean
    assert 0.55 < a < 0.6  # the square Brillouin zone favours the diagonals
    assert kc.G[0] == pytest.approx(-2 * a * mus * (L * L - 1) / L**2, rel=1e-12)
    assert ke.scale == pytest.approx(L * L / (2 * a * (L * L - 1)))
    assert np.allclose(ke.G, ke.scale * kc.G, atol=1e-13)


def test_compares_with_fe_kernel_xy_component():
    """The FE kernel G[r, 2, 2] (stress_xy per unit tensor eps_xy, Q4 elements) and the
    lattice kernel share shape, sign and far-field amplitude (the continuum normalisation);
    they differ near the source (square element vs circular inclusion)."""
    L = 32
    mat = Isotropic(13.2, 59.0)
    fe = PeriodicKernel(periodic_grid(L, 1.0), mat)
    Gfe = fe.G[:, 2, 2]
    # FE kernel = zero-sum part + mean drop -2G / N at fixed strain
    assert Gfe.sum() == pytest.approx(-2 * 13.2, rel=1e-10)
    Gfe0 = Gfe - Gfe.mean()
    kc = LatticeEshelby(L, 13.2, 59.0, "continuum")
    ke = LatticeEshelby(L, 13.2, 59.0)
    off = np.arange(L * L) != 0
    assert np.corrcoef(kc.G[off], Gfe0[off])[0, 1] > 0.98
    assert np.corrcoef(ke.G[off], Gfe0[off])[0, 1] > 0.98
    # far field: least-squares ratio over r >= 5
    rx, ry = kc.offsets()
    far = np.hypot(rx, ry) >= 5
    ratio = Gfe0[far] @ kc.G[far] / (kc.G[far] @ kc.G[far])
    assert ratio == pytest.approx(1.0, abs=0.05)
    # near field: same signs at the nearest neighbours (axes +, diagonals -)
    Gf = Gfe0.reshape(L, L)
    Gl = kc.G.reshape(L, L)
    for iy, ix in [(0, 1), (1, 0), (1, 1), (0, 2), (2, 2), (1, 2)]:
        assert np.sign(Gf[iy, ix]) == np.sign(Gl[iy, ix])
    # local drop: FE self term (square element) is larger than the inclusion value mu*
    assert -Gfe0[0] > ke.mu_eff


def test_add_paths_agree_and_repeats_add_up():
    L = 20
    k = LatticeEshelby(L, 14.88, 40.0)
    rng = np.random.default_rng(1)
    elems = rng.integers(L * L, size=50)
    elems[:5] = elems[0]  # repeats
    deps = rng.normal(size=50)
    a = np.zeros(L * L)
    b = np.zeros(L * L)
    k.add(a, elems, deps, fft_min=1)  # FFT
    k.add(b, elems, deps, fft_min=10**9)  # shifted adds
    field = np.zeros(L * L)
    np.add.at(field, elems, deps)
    direct = np.array([sum(field[j] * k.G[((i // L - j // L) % L) * L + (i % L - j % L) % L]
                           for j in np.flatnonzero(field)) for i in range(L * L)])
    assert np.allclose(a, direct, atol=1e-12)
    assert np.allclose(b, direct, atol=1e-12)
    c = np.zeros(L * L)
    scalar_shifted_add_many(c, k.G, L, elems.astype(np.int64), deps)
    assert np.allclose(c, direct, atol=1e-12)


def test_stress_contract_and_load_response():
    L = 16
    mu = 14.7
    k = LatticeEshelby(L, mu, 52.0)
    eps = np.random.default_rng(2).normal(size=(L, L))
    E = 0.013
    s = k.stress(eps, E, prestress=np.ones(L * L))
    assert s.mean() == pytest.approx(2 * mu * (E - eps.mean()) + 1.0, rel=1e-12)
    assert np.allclose(s - s.mean(), k.convolve(eps), atol=1e-12)
    assert np.allclose(k.load_response(), 2 * mu)
    assert k.n_elem == L * L
    assert k.self_response.shape == (L * L,)
    assert k.mean_response == pytest.approx(-2 * mu / L**2)
    kind, G, LL = k.numba_form()
    assert kind == 2 and LL == L and G is k.G


@pytest.mark.parametrize(
    "kwargs,match",
    [(dict(L=1, mu=1.0), "L"), (dict(L=2.5, mu=1.0), "L"), (dict(L=True, mu=1.0), "L"),
     (dict(L=8, mu=0.0), "mu"), (dict(L=8, mu=-1.0), "mu"), (dict(L=8, mu=np.nan), "mu"),
     (dict(L=8, mu=np.inf), "mu"), (dict(L=8, mu=1.0, K=-2.0), "K"),
     (dict(L=8, mu=1.0, K=np.nan), "K"), (dict(L=8, mu=1.0, normalisation="x"), "normalisation")],
)
def test_bad_construction(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LatticeEshelby(**kwargs)


def test_bad_fields():
    k = LatticeEshelby(8, 1.0)
    with pytest.raises(ValueError, match="field"):
        k.convolve(np.zeros(10))
    with pytest.raises(ValueError, match="field"):
        k.convolve(np.full(64, np.nan))
    with pytest.raises(ValueError, match="eps_pl"):
        k.stress(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="elems"):
        k.add(np.zeros(64), [64], [1.0])
    with pytest.raises(ValueError, match="elems"):
        k.add(np.zeros(64), [1, 2], [1.0])
    with pytest.raises(ValueError, match="deps"):
        k.add(np.zeros(64), [1], [np.nan])
    with pytest.raises(ValueError, match="stress"):
        k.add(np.zeros(63), [1], [1.0])

"""3D weak planes (#26): isotropic slip systems, thresholds, renewal, the dissipation bound.

The dissipation of single slips is measured with the FE energy of the full Hex8 strain field
(quadrature, :meth:`PeriodicFE3D.energy`), independent of the element stresses the bound
uses.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from femplastic.fe.assembly3d import PeriodicFE3D
from femplastic.fe.elasticity3d import Isotropic3D, ddot3, schmid3, to_tensor3
from femplastic.fe.mesh3d import periodic_grid3d
from femplastic.fe.propagators.periodic3d import PeriodicKernel3D
from femplastic.weakplane.slip import BoundedPowerLaw, ConstantThreshold, Weibull
from femplastic.weakplane.slip3d import SlipLaw3D, gmax3d, isotropic_orientations, n_systems_3d

MAT = Isotropic3D(G=13.2, K=59.0)


def test_systems_are_unit_orthogonal_and_schmid_traceless_symmetric():
    kern = PeriodicKernel3D((3, 1.0), MAT)
    sys = SlipLaw3D(N=10).init(np.random.default_rng(0), kern.self_response)
    n, s, M = sys.normal, sys.direction, sys.schmid
    assert np.allclose(np.linalg.norm(n, axis=-1), 1, atol=1e-14)
    assert np.allclose(np.linalg.norm(s, axis=-1), 1, atol=1e-14)
    assert np.abs((n * s).sum(-1)).max() < 1e-14
    T = to_tensor3(M)
    assert np.allclose(T, np.swapaxes(T, -1, -2))
    ns = n[..., :, None] * s[..., None, :]
    assert np.allclose(T, 0.5 * (ns + np.swapaxes(ns, -1, -2)))
    assert np.all(M[..., 0] + M[..., 1] + M[..., 2] == 0.0)  # exactly: no volumetric pass
    assert np.allclose(ddot3(M, M), 0.5)
    assert np.allclose(M, schmid3(n, s))
    # selfres = -(K_self M) : M, positive
    want = -ddot3(np.einsum("ab,enb->ena", kern.G[0], M), M)
    assert np.allclose(sys.selfres, want) and np.all(sys.selfres > 0)


def test_orientation_distribution_is_isotropic():
    n, s = isotropic_orientations(np.random.default_rng(2026), 20000)
    t = np.cross(n, s)
    alpha = 1e-3  # wrong samplers (fixed or half-range in-plane angle) give p ~ 0
    # every column of a uniformly random rotation (n, s, n x s) is uniform on the sphere:
    # each Cartesian component is U(-1, 1) (Archimedes)
    for v in (n, s, t):
        for c in range(3):
            assert stats.kstest(v[:, c], stats.uniform(-1, 2).cdf).pvalue > alpha
    # the azimuth of n is uniform, and so is the in-plane angle of s from the projected z axis
    assert stats.kstest(np.arctan2(n[:, 1], n[:, 0]), stats.uniform(-np.pi, 2 * np.pi).cdf
                        ).pvalue > alpha
    ez = np.array([0.0, 0.0, 1.0]) - n[:, 2:3] * n
    ez /= np.linalg.norm(ez, axis=1, keepdims=True)
    ang = np.arctan2((np.cross(ez, s) * n).sum(1), (ez * s).sum(1))
    assert stats.kstest(ang, stats.uniform(-np.pi, 2 * np.pi).cdf).pvalue > alpha
    # octants of s and of n: chi-square against equal counts
    for v in (n, s):
        counts = np.bincount(((v > 0) * [1, 2, 4]).sum(1), minlength=8)
        assert stats.chisquare(counts).pvalue > alpha
    # the Schmid tensors are isotropic too: <M M> has no preferred axis
    M = schmid3(n, s)
    assert np.allclose(M.mean(0), 0, atol=0.01)
    var = (M**2).mean(0)  # isotropic: <M_ij M_kl> = (d_ik d_jl + d_il d_jk - 2/3 d_ij d_kl) / 20
    assert np.allclose(var[:3], var[:3].mean(), rtol=0.05)
    assert np.allclose(var[3:], var[3:].mean(), rtol=0.05)
    assert np.allclose([var[:3].mean(), var[3:].mean()], [1 / 15, 1 / 20], rtol=0.05)


def test_thresholds_renewal_and_laws():
    kern = PeriodicKernel3D((3, 1.0), MAT)
    law = SlipLaw3D(N=40, threshold=Weibull(k=2.18, lam=2.05))
    rng = np.random.default_rng(5)
    sys = law.init(rng, kern.self_response)
    assert stats.kstest(sys.tauc.ravel(), stats.weibull_min(2.18, scale=2.05).cdf).pvalue > 0.01
    before = {k: getattr(sys, k).copy() for k in ("normal", "direction", "tauc", "selfres")}
    law.renew(rng, sys, [4])
    for k, old in before.items():
        new = getattr(sys, k)
        assert not np.any(np.isclose(new[4], old[4]).all(axis=-1) if new.ndim == 3
                          else np.isclose(new[4], old[4])), k
        assert np.array_equal(np.delete(new, 4, axis=0), np.delete(old, 4, axis=0)), k
    frozen = SlipLaw3D(N=40, renew_thresholds=False, renew_orientations=False)
    snap = sys.tauc.copy(), sys.schmid.copy()
    frozen.renew(rng, sys, [1, 2])
    assert np.array_equal(sys.tauc, snap[0]) and np.array_equal(sys.schmid, snap[1])
    shared = SlipLaw3D(N=5, shared_threshold=True, threshold=ConstantThreshold(0.9))
    assert np.all(shared.init(rng, kern.self_response).tauc == 0.9)
    with pytest.raises(ValueError, match="N must be"):
        SlipLaw3D(N=0)
    with pytest.raises(ValueError, match="pressure_coefficient"):
        SlipLaw3D(pressure_coefficient=-0.1)
    with pytest.raises(ValueError, match="selfres"):
        law.init(rng, np.broadcast_to(np.eye(6), (2, 6, 6)))
    assert [n_systems_3d(l) for l in (1.0, 3.5, 6.6)] == [6, 34, 230]
    with pytest.raises(ValueError, match="rho_s"):
        n_systems_3d(3.0, rho_s=0.0)


def test_amplitude_bound_gives_nonnegative_dissipation_for_every_slip():
    """Energy of the full FE field never rises in a single slip below ``gmax = 2 tau/selfres``.

    The released energy is ``V g (tau - g selfres / 2)`` exactly, zero at ``g = gmax``
    and negative (energy rises) just above it.
    """
    L, l = 4, 1.5
    fe = PeriodicFE3D(periodic_grid3d(L, l), MAT)
    kern = PeriodicKernel3D((L, l), MAT)
    rng = np.random.default_rng(11)
    law = SlipLaw3D(N=12, amplitude=BoundedPowerLaw(chi=1.0))  # uniform in [0, gmax]
    sys = law.init(rng, kern.self_response)
    eps_pl = rng.normal(size=(L**3, 6)) * 0.01
    eps_pl[:, :3] -= eps_pl[:, :3].mean(1, keepdims=True)
    E = rng.normal(size=6) * 0.01
    stress = kern.stress(eps_pl, E)
    W0 = fe.energy(eps_pl, E)
    V = l**3
    elems = rng.choice(L**3, size=12, replace=False)
    taus = np.einsum("enc,ec,c->en", sys.schmid[elems], stress[elems], [1, 1, 1, 2, 2, 2])
    which = taus.argmax(1)  # the most loaded system of each element (tau > 0)
    deps, amp, tau = law.draw_slips(rng, sys, stress, elems, which)
    assert np.all(tau > 0) and np.allclose(tau, taus.max(1))
    sr = sys.selfres[elems, which]
    gm = gmax3d(tau, sr)
    assert np.all((amp >= 0) & (amp <= gm))
    assert np.all(deps[:, 0] + deps[:, 1] + deps[:, 2] == 0.0)
    assert np.allclose(deps, amp[:, None] * sys.schmid[elems, which], rtol=0, atol=1e-16)
    for i, e in enumerate(elems):
        M = sys.schmid[e, which[i]]
        for g, sign in ((amp[i], -1), (gm[i], 0), (1.05 * gm[i], 1)):
            epl = eps_pl.copy()
            epl[e] += g * M
            dW = fe.energy(epl, E) - W0
            assert np.isclose(dW, -V * g * (tau[i] - 0.5 * g * sr[i]), rtol=1e-8,
                              atol=1e-10 * V * tau[i] * gm[i])
            if sign < 0:
                assert dW <= 0.0
            elif sign > 0:
                assert dW > 0.0
        # the slip relaxes its own resolved stress by g selfres (kernel self term)
        s2 = stress.copy()
        kern.add(s2, [e], [deps[i]])
        assert np.isclose(ddot3(sys.schmid[e, which[i]], s2[e]), tau[i] - amp[i] * sr[i])


def test_drucker_prager_threshold_and_thermal_bound():
    kern = PeriodicKernel3D((3, 1.0), MAT)
    law = SlipLaw3D(N=6, threshold=ConstantThreshold(1.0), pressure_coefficient=0.2,
                    pressure_offset=1.95)
    rng = np.random.default_rng(3)
    sys = law.init(rng, kern.self_response)
    p = 3.0
    stress = np.zeros((27, 6))
    stress[:, :3] = -p  # pressure p (compression)
    dtau, k = law.lowest_distance(sys, stress)
    assert np.allclose(dtau, 1.0 + 0.2 * (p + 1.95))  # no shear: tau = 0 on every plane
    stress[5, 5] = 10.0  # a shear on element 5
    dtau, k = law.lowest_distance(sys, stress)
    tau = 2 * sys.schmid[5, :, 5] * 10.0
    assert np.isclose(dtau[5], (1.0 + 0.2 * (p + 1.95) - tau).min()) and k[5] == tau.argmax()
    # thermal events are bounded by the effective threshold; under strong tension it is < 0
    # and the amplitude is clipped to 0
    _, amp, _ = law.draw_slips(rng, sys, stress, [5], [k[5]], thermal=True)
    assert 0 < amp[0] <= 2 * (1.0 + 0.2 * (p + 1.95)) / sys.selfres[5, k[5]]
    stress[:, :3] = 30.0  # p = -30: 1 + 0.2 (-30 + 1.95) < 0
    _, amp, _ = law.draw_slips(rng, sys, stress, [5], [k[5]], thermal=True)
    assert amp[0] == 0.0


def test_model_params_take_dim3_and_2d_only_paths_refuse_it(tmp_path, capsys):
    import femplastic as fp
    from femplastic import cli
    from femplastic.weakplane.dimension import (
        DimensionNotAvailable,
        material_3d,
        slip_law_3d,
    )

    assert fp.ModelParams().dim == 2 and fp.ModelParams().to_dict()["dim"] == 2
    p = fp.ModelParams(dim=3, L=8, N=40, variant="B")
    law = slip_law_3d(p)
    assert (law.N, law.pressure_coefficient, law.pressure_offset) == (40, 0.2, 1.95)
    assert law.threshold == Weibull(p.k, p.lam) and law.amplitude == BoundedPowerLaw(p.chi)
    assert material_3d(p) == Isotropic3D(G=13.2, K=59.0)
    assert slip_law_3d(fp.ModelParams(dim=3, variant="E", N=6)).renew_thresholds is False
    assert fp.ModelParams(dim=3, N=7).N == 7  # no multiple-of-4 rule in 3D
    for bad, exc, msg in [({"dim": 4}, ValueError, "dim must be 2 or 3"),
                          ({"dim": "3"}, TypeError, "dim must be an integer"),
                          ({"dim": 3, "variant": "D"}, ValueError, "no 3D form"),
                          ({"dim": 3, "N": 4}, ValueError, "N must be an integer >= 6")]:
        with pytest.raises(exc, match=msg):
            fp.ModelParams(**bad)
    with pytest.raises(ValueError, match="needs ModelParams"):
        slip_law_3d(fp.ModelParams())
    from femplastic.weakplane.dimension import require_2d

    with pytest.raises(DimensionNotAvailable, match="is 2D only"):
        require_2d(p, "this path")
    with pytest.raises(SystemExit) as exc:  # the CLI refuses a 2D-only protocol before work
        cli.main(["run", "--set", "model.dim=3", "--set", "model.L=16", "--set",
                  "run.protocol=rate", "--out", str(tmp_path / "x")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "run.protocol = rate is not available for model.dim = 3" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()

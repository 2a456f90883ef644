"""The 3D user path: bad input refused before any work, and a Ctrl-C'd 3D run resumed bitwise.

Each refusal below once went wrong in another way (an audit of ``femplastic run --set
model.dim=3``, the TOML files and the library called with ``ModelParams(dim=3)``): ``L = 2``
passed the parameters and failed inside the Hex8 grid after the output folder was made;
``shear_rate`` on a 3D state stopped on an ``AttributeError``; local-yield positions of
``0.5`` were truncated and axes of strings converted; ``avalanches.record`` of a 3D state
recorded no event (the Python path ran the 2D kernels) and ``catalogue`` measured 3D
avalanches on an ``L x L`` torus.
"""

import json
import os
import signal

import numpy as np
import pytest
from test_engine import _datasets  # every dataset of a results.h5, and its run attributes

import femplastic as fp
from femplastic import cli
from femplastic.weakplane import avalanches as A
from femplastic.weakplane.dimension import DimensionNotAvailable
from femplastic.weakplane.drivers.path import StrainPath

D3 = ["--set", "model.dim=3", "--set", "model.L=4", "--set", "model.N=8", "--set", "model.T=0"]
MESH = os.path.join(os.path.dirname(__file__), "..", "meshes", "regular_8x8.vtu")

# (id, --set overrides on top of D3, what the one-line error must say)
CLI_CASES = [
    ("L=2", ["model.L=2"], "L must be an integer >= 3 for dim = 3"),
    ("L=1", ["model.L=1"], "L must be an integer >= 3 for dim = 3"),
    ("L=4.0", ["model.L=4.0"], "model.L expects an integer"),
    ("dim=0", ["model.dim=0"], "dim must be 2 or 3"),
    ("dim=4", ["model.dim=4"], "dim must be 2 or 3"),
    ("dim=2.5", ["model.dim=2.5"], "model.dim expects an integer"),
    ("dim=true", ["model.dim=true"], "model.dim expects an integer"),
    ("N=0", ["model.N=0"], "N must be an integer >= 6 for dim = 3"),
    ("N=-6", ["model.N=-6"], "N must be an integer >= 6 for dim = 3"),
    ("variant=D", ["model.variant=D"], "variant D has no 3D form"),
    ("variant=F", ["model.variant=F"], "variant F has no 3D form"),
    ("element_size", ["model.element_size=density"], "needs a 2D model"),
    ("mesh", [f"model.mesh={MESH}"], "it needs model.dim = 2"),
    ("backend=jax", ["run.backend=jax"], "run.backend = jax is not available for model.dim = 3"),
    ("rate", ["run.protocol=rate"], "run.protocol = rate is not available for model.dim = 3"),
    ("creep", ["run.protocol=creep"], "run.protocol = creep is not available for model.dim = 3"),
    ("L huge", ["model.L=400"], "GiB of memory"),
    ("patch > L", ["run.protocol=local-yield", "run.patch=5"], "run.patch (5) must not exceed"),
    ("n_alphas=0", ["run.protocol=local-yield", "run.n_alphas=0"], "run.n_alphas must be"),
    ("stress_end", ["run.protocol=stress", "run.stress_end=100"], "run.stress_end = 100 must"),
    ("gamma_max=0", ["run.protocol=cyclic", "run.gamma_max=0"], "run.gamma_max must be"),
    ("gamma_reload", ["run.protocol=bauschinger", "run.gamma_reload=-1"], "run.gamma_reload"),
]


def _refused(capsys, argv, msg, out):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and msg in err and err.count("\n") == 1, err
    assert not out.exists()  # before any work or any file


@pytest.mark.parametrize("sets,msg", [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_cli_refuses_bad_3d_input_in_one_line_before_any_work(tmp_path, capsys, sets, msg):
    args = [a for s in sets for a in ("--set", s)]
    _refused(capsys, ["run", *D3, *args, "--out", str(tmp_path / "o")], msg, tmp_path / "o")


def test_ensemble_and_sweep_refuse_l2_in_3d_before_the_store(tmp_path, capsys):
    store = tmp_path / "s.h5"
    for cmd in (["ensemble", "--set", "model.L=2"], ["sweep", "--grid", "model.L=2,4"]):
        _refused(capsys, [cmd[0], "--set", "model.dim=3", *cmd[1:], "--realizations", "1",
                          "--workers", "1", "--out", str(store)], ">= 3 for dim = 3", store)


@pytest.fixture(scope="module")
def glass3():
    p = fp.ModelParams(dim=3, L=3, N=6, T=0.0)
    return p, fp.quench(p, np.random.default_rng(0))


def test_library_refuses_2d_only_paths_on_a_3d_state(glass3):
    p, st = glass3
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="L must be an integer >= 3 for dim = 3"):
        fp.ModelParams(dim=3, L=2)
    for call in (lambda: fp.shear_rate(st, fp.RateParams(), rng, gdot=1e-3, t_end=1.0),
                 lambda: fp.creep(st, fp.RateParams(), rng, stress=0.2, t_end=1.0),
                 lambda: fp.aqs(st, p, rng, gamma_end=0.01, dgamma=1e-3, backend="jax"),
                 lambda: StrainPath(st, rng, 1e-3, 0.0, 10)):
        with pytest.raises(DimensionNotAvailable, match="model.dim = 3: .* is 2D only"):
            call()
    with pytest.raises(ValueError, match="dim: state 3, params 2"):
        fp.aqs(st, fp.ModelParams(L=3, N=8), rng, gamma_end=0.01, dgamma=1e-3)


@pytest.mark.parametrize("kw,msg", [
    ({"axes": [[0, 0, 0]]}, "non-zero"),
    ({"axes": [[np.nan, 0, 1]]}, "finite 3-vector"),
    ({"axes": [[0, 1]]}, "finite 3-vector"),
    ({"axes": [[True, False, False]]}, "3-vector of numbers"),
    ({"axes": [["1", "0", "0"]]}, "3-vector of numbers"),
    ({"axes": ["w"]}, "axis must be"),
    ({"positions": [[0.5, 0, 1]]}, "whole numbers in \\[0, 2\\]"),
    ({"positions": [[0, 0, 3]]}, "whole numbers in \\[0, 2\\]"),
    ({"positions": [[0, 0]]}, "\\(k, 3\\)"),
    ({"positions": [["0", "0", "0"]]}, "\\(k, 3\\)"),
    ({"alphas": ["0.5"]}, "alphas must be"),
    ({"alphas": [True]}, "alphas must be"),
], ids=lambda v: repr(v)[:30])
def test_local_shear_test_refuses_bad_orientations_and_positions_in_3d(glass3, kw, msg):
    p, st = glass3
    args = {"n": 1, "alphas": [0.0], "stride": 3, **kw}
    with pytest.raises(ValueError, match=msg):
        fp.local_yield(st, p, np.random.default_rng(0), **args)


def test_local_shear_test_axes_are_directions_and_2d_positions_are_whole(glass3):
    p, st = glass3
    run = [fp.local_yield(st, p, np.random.default_rng(3), 2, [0.0, 0.4], positions=[(1, 0, 2)],
                          axes=ax) for ax in ("x", [[1e-320, 0, 0]], [[1e308, 0, 0]], [[3, 0, 0]])]
    for other in run[1:]:  # any positive multiple of an axis is that axis, bit for bit
        assert np.array_equal(other.tau_c, run[0].tau_c) and np.array_equal(other.axes,
                                                                             run[0].axes)
    p2 = fp.ModelParams(L=4, N=4, T=0.0)
    st2 = fp.quench(p2, np.random.default_rng(0))
    for bad in ([[0.5, 1]], [(0, 0, 0), (1, 1, 1)]):  # once truncated / read as 3 positions
        with pytest.raises(ValueError, match="positions must be \\(k, 2\\)"):
            fp.local_yield(st2, p2, np.random.default_rng(0), 2, [0.0], positions=bad)


def test_avalanche_record_and_catalogue_of_a_3d_run():
    p = fp.ModelParams(dim=3, L=4, N=8, T=0.0)
    q = fp.quench(p, np.random.default_rng(1))
    log = A.record(q, p, np.random.default_rng(2), gamma_end=0.3, dgamma=1e-3)
    ref = fp.aqs(q, p, np.random.default_rng(2), gamma_end=0.3, dgamma=1e-3)
    # the same run as aqs (it once recorded no event in 3D)
    assert ref.state.n_events > 50
    np.testing.assert_array_equal(log.size, ref.avalanche_size[ref.avalanche_steps])
    np.testing.assert_array_equal(log.stress_after, ref.stress[ref.avalanche_steps])
    cat = A.catalogue(log, p.L, dim=3)
    assert cat.size.sum() == ref.state.n_events == log.events["element"].size
    # extents from the element centres (not the index arithmetic): minimum images on the L^3
    # torus about the circular mean, per axis
    ijk = np.floor(q.model.mesh.centroids / p.l).astype(int)
    for a in range(cat.size.size):
        els = np.unique(log.events["element"][log.events["avalanche"] == a])
        r2 = 0.0
        for x in ijk[els].T.astype(float):
            t = 2 * np.pi * x / p.L
            c = np.arctan2(np.sin(t).mean(), np.cos(t).mean()) * p.L / (2 * np.pi)
            r2 += np.mean(((x - c + p.L / 2) % p.L - p.L / 2) ** 2)
        assert cat.n_elements[a] == els.size and np.isclose(cat.extent[a], np.sqrt(r2)), a
    assert cat.extent.max() > 1 and np.all(cat.extent <= np.sqrt(3 * (p.L ** 2 - 1) / 12))
    assert A.radius_of_gyration([1, 1], [2, 2], 8, iz=[0, 7]) == 0.5  # across the z boundary
    with pytest.raises(ValueError, match="dim=3"):  # a 3D log on the 2D torus
        A.catalogue(log, p.L)
    with pytest.raises(TypeError, match="gamma_end must be a number"):
        A.record(q, p, np.random.default_rng(2), gamma_end="1")


@pytest.mark.parametrize("protocol,sets", [
    ("aqs", ["run.gamma_end=0.4", "run.dgamma=1e-3", "run.fields_every=0.1"]),
    ("cyclic", ["run.gamma_max=0.04", "run.cycles=3", "run.dgamma=1e-3"]),
    ("stress", ["run.stress_end=2.6", "run.dstress=1e-3", "run.gamma_limit=1"]),
])
def test_ctrl_c_then_resume_of_a_3d_run_is_bitwise(tmp_path, monkeypatch, protocol, sets):
    """SIGINT right after the second checkpoint of a 3D run, exit 130, ``--resume``: the same
    results.h5 and curve.csv as the run never interrupted, bit for bit."""
    from femplastic.weakplane.drivers import checkpoint, path, stress

    args = ["run", *D3, "--set", "model.L=5", "--set", f"run.protocol={protocol}",
            *[a for s in sets for a in ("--set", s)], "--seed", "4", "--realizations", "2",
            "--checkpoint-every", "0", "--quiet"]
    for mod in (path, stress):  # first compiled chunks of 2 avalanches: checkpoints in r0000
        monkeypatch.setattr(mod, "first_chunk", lambda n: 2)
    assert cli.main([*args, "--out", str(tmp_path / "ref")]) == 0
    real, saves = checkpoint.save, []

    def save(*a, **k):
        out = real(*a, **k)
        saves.append(1)
        if len(saves) == 2:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, as the terminal sends it
        return out

    monkeypatch.setattr(checkpoint, "save", save)
    out = tmp_path / "cut"
    assert cli.main([*args, "--out", str(out)]) == 130
    marker = json.loads((out / "femplastic-run.json").read_text())
    assert marker["status"] == "running" and marker["finished"] == 0
    assert (out / "checkpoint.npz").exists()  # resumed from inside realisation 0
    assert cli.main([*args, "--resume", str(out)]) == 0
    a, b = _datasets(tmp_path / "ref" / "results.h5"), _datasets(out / "results.h5")
    assert a.keys() == b.keys() and len(a) > 5
    for k in a:
        assert a[k] == b[k] if k == "@" else np.array_equal(a[k], b[k]), k
    assert (tmp_path / "ref" / "curve.csv").read_bytes() == (out / "curve.csv").read_bytes()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["params"]["model"]["dim"] == 3


def test_a_patch_with_no_system_driven_never_yields(glass3, tmp_path):
    """tau_c = inf exactly where no system of the patch is driven towards its threshold.

    A one-element 3D patch of N = 6 systems under the affine shear ``M`` has the uniform
    stress rate ``2 G M``: a system is driven iff ``M_k : M > 0``. Such tests gave NaN (the
    push ``inf * v``) and stopped ``femplastic run`` after the work, in its figure; variant F's
    two systems at 0 and 90 deg are orthogonal to the 45 deg shear, once ``tau_c ~ 1e16``.
    """
    from femplastic.fe.elasticity3d import VOIGT_WEIGHTS_3D
    from femplastic.weakplane.probes.local_yield3d import loading_tensor3d

    p, st = glass3
    ly = fp.local_yield(st, p, np.random.default_rng(1), 1, np.pi * np.arange(6) / 6,
                        axes=["x", "y", "z"])
    e = (ly.positions[:, 2] * p.L + ly.positions[:, 1]) * p.L + ly.positions[:, 0]
    Ms = np.array([loading_tensor3d(ax, a) for ax, a in zip(ly.axes, ly.alphas, strict=True)])
    driven = np.einsum("ekc,oc->eko", st.nv[e] * VOIGT_WEIGHTS_3D, Ms).max(axis=1) > 0
    assert (~driven).sum() >= 1 and np.array_equal(np.isinf(ly.tau_c), ~driven)
    assert np.all(ly.n_events[~driven] == 0) and np.all(np.isinf(ly.gamma_c[~driven]))
    assert np.all(np.isfinite(ly.tau_c[driven])) and not np.isnan(ly.drop).any()
    pf = fp.ModelParams.for_variant("F", L=4, T=0.0)
    f = fp.local_yield(fp.quench(pf, np.random.default_rng(0)), pf, np.random.default_rng(0),
                       2, [0.0, np.pi / 4], stride=2)
    assert np.all(np.isfinite(f.tau_c[:, 0])) and np.all(np.isinf(f.tau_c[:, 1]))
    out = tmp_path / "ly"  # the run writes its summary and figure
    assert cli.main(["run", "--quiet", "--set", "model.variant=F", "--set", "model.L=4",
                     "--set", "model.T=0", "--set", "run.protocol=local-yield", "--set",
                     "run.patch=2", "--set", "run.n_alphas=4", "--set", "run.gamma_end=0.002",
                     "--set", "run.dgamma=1e-3", "--out", str(out)]) == 0
    q = json.loads((out / "summary.json").read_text())["per_realization"][0]["quench"]
    assert q["never_yield"] == [0, 16, 0, 16] and q["mean_tau_c"][1] is None  # 16 patches

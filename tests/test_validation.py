"""One validation layer (femplastic.validation): every bad input of issue #23 is refused before
any work, naming the key, by ``femplastic run``, ``ensemble``, ``sweep`` and the library alike.

The CLI is called in-process (``cli.main``): bad input exits 2 with a one-line message and
nothing is written or moved. Memory and disk are fixed (16 GiB, 1 TiB) so the size checks do
not depend on the machine running the tests.
"""

import json

import numpy as np
import pytest

import femplastic as fp
from femplastic import cli
from femplastic.io import outdir
from femplastic.weakplane import estimates

GIB = 1024.0 ** 3


@pytest.fixture(autouse=True)
def _fixed_machine(monkeypatch):
    monkeypatch.setattr(estimates, "available_memory", lambda: 16 * GIB)
    monkeypatch.setattr(estimates, "_free_disk", lambda path: 1024 * GIB)


def _s(*kv):
    out = []
    for item in kv:
        out += ["--set", item]
    return out


CYC, STR, BAU, LY, RATE, CRP = (_s(f"run.protocol={p}") for p in (
    "cyclic", "stress", "bauschinger", "local-yield", "rate", "creep"))

# (id, --set arguments, text the message must contain): the cases of issue #23
CONFIG_CASES = [
    ("cyclic-gamma_max-not-multiple", [*CYC, *_s("run.gamma_max=0.00015")],
     "run.gamma_max = 0.00015 must be a whole number of run.dgamma = 0.0001 steps (it would be "
     "rounded to 0.0001); nearest valid: 0.0001 or 0.0002"),
    ("aqs-gamma_end-not-multiple", _s("run.gamma_end=0.00015"), "run.gamma_end = 0.00015"),
    ("cyclic-with-gamma_end", [*CYC, *_s("run.gamma_end=5")],
     "run.gamma_end does not apply to run.protocol=cyclic"),
    ("cyclic-with-default-gamma_end", [*CYC, *_s("run.gamma_end=2.0")],
     "run.gamma_end does not apply to run.protocol=cyclic"),
    ("stress-with-event_driven", [*STR, *_s("run.event_driven=false")],
     "run.event_driven does not apply to run.protocol=stress"),
    ("creep-with-backend-gpu", [*CRP, *_s("run.backend=gpu")],
     "run.backend does not apply to run.protocol=creep"),
    ("bauschinger-with-alpha", [*BAU, *_s("run.alpha=0.3")],
     "run.alpha does not apply to run.protocol=bauschinger"),
    ("rate-with-stationary_from", [*RATE, *_s("run.stationary_from=1")],
     "run.stationary_from does not apply"),
    ("fields_every-below-dgamma", _s("run.fields_every=1e-6"),
     "run.fields_every = 1e-06 is below run.dgamma = 0.0001"),
    ("rate-t_end-below-10-dt", [*RATE, *_s("run.t_end=0.05")],
     "run.t_end = 0.05 must be >= 10 run.dt = 0.1"),
    ("creep-t_end-below-10-dt", [*CRP, *_s("run.t_end=0.01")], "run.t_end = 0.01"),
    ("stress-dstress-above-ramp", [*STR, *_s("run.dstress=1")],
     "run.dstress = 1 must not exceed |run.stress_end| = 0.5"),
    ("rate-gdot-1e6", [*RATE, *_s("run.gdot=1e6")], "run.gdot = 1e+06 must be <= 0.001 / run.dt"),
    ("creep-target_stress-100", [*CRP, *_s("run.target_stress=100")],
     "run.target_stress = 100 must be within +-0.5 G = +-6.6"),
    ("stress-stress_end-1e9", [*STR, *_s("run.stress_end=1e9")], "run.stress_end = 1e+09"),
    ("local-yield-n_alphas-1e6", [*LY, *_s("run.n_alphas=1000000")],
     "run.n_alphas must be an integer in [1, 180]"),
    ("local-yield-patch-above-L", [*LY, *_s("run.patch=40")], "run.patch (40)"),
    ("cyclic-cycles-1e9", [*CYC, *_s("run.cycles=1000000000")], "run.cycles"),
    ("cyclic-gamma_max-1e6", [*CYC, *_s("run.gamma_max=1e6")], "run.gamma_max"),
    ("stress-dstress-1e-12", [*STR, *_s("run.dstress=1e-12")],
     "|run.stress_end| / run.dstress = 0.5 / 1e-12"),
    ("bauschinger-gamma_reload-1e6", [*BAU, *_s("run.gamma_reload=1e6")], "run.gamma_reload"),
    ("rate-t_end-1e12", [*RATE, *_s("run.t_end=1e12")], "run.t_end / run.dt = 1e+12"),
    ("rate-dt-1e-12", [*RATE, *_s("run.dt=1e-12")], "run.t_end / run.dt = 100 / 1e-12"),
    ("creep-t_end-1e12", [*CRP, *_s("run.t_end=1e12")], "run.t_end / run.dt = 1e+12"),
    ("model-L-100000", _s("model.L=100000"), "model.L = 100000"),
    ("model-lam-1e-9", _s("model.lam=1e-9"), "model.lam = 1e-09"),
    ("cyclic-cycles-bool", [*CYC, *_s("run.cycles=true")], "cycles expects an integer"),
]

# TOML values of the wrong type (a file, not --set: TOML has booleans)
TOML_CASES = [
    ("toml-stress_end-true", '[run]\nprotocol = "stress"\nstress_end = true\n',
     "run.stress_end must be a number, got bool True"),
    ("toml-target_stress-array", '[run]\nprotocol = "creep"\ntarget_stress = [0.1]\n',
     "run.target_stress must be a number, got list"),
    ("toml-cycles-true", '[run]\nprotocol = "cyclic"\ncycles = true\n',
     "run.cycles must be an integer, got bool True"),
    ("toml-gdot-true", '[run]\nprotocol = "rate"\ngdot = true\n', "run.gdot must be a number"),
    ("toml-until_absorbed-2", '[run]\nprotocol = "cyclic"\nuntil_absorbed = 2\n',
     "run.until_absorbed must be true or false"),
    ("toml-t_end-string", '[run]\nprotocol = "rate"\nt_end = "long"\n',
     "run.t_end in"),  # a quoted value in a file is a string, never a number
    ("toml-dim-string", '[model]\ndim = "3"\nL = 4\n',
     "must be an integer (written without quotes), got the string '3'"),
    ("toml-cyclic-gamma_end-5", '[run]\nprotocol = "cyclic"\ngamma_end = 5.0\n',
     "run.gamma_end does not apply to run.protocol=cyclic"),
]


def test_config_file_of_femplastic_config_loads_for_every_protocol(tmp_path):
    """``femplastic config`` writes every key at its default: any protocol accepts the file."""
    from femplastic.cli.config import config_toml
    from femplastic.weakplane.params import PROTOCOLS

    for proto in PROTOCOLS:
        f = tmp_path / f"{proto}.toml"
        f.write_text(config_toml().replace('protocol = "aqs"', f'protocol = "{proto}"'))
        assert fp.load_config(f).run.protocol == proto


def _refused(capsys, argv, msg, out):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2, err
    assert any(m in err for m in ((msg,) if isinstance(msg, str) else msg)), err
    assert err.count("\n") == 1, err  # one line
    assert not out.exists()


@pytest.mark.parametrize("args,msg", [c[1:] for c in CONFIG_CASES],
                         ids=[c[0] for c in CONFIG_CASES])
def test_run_refuses_before_any_work(tmp_path, capsys, args, msg):
    _refused(capsys, ["run", "--quiet", *args, "--out", str(tmp_path / "o")], msg,
             tmp_path / "o")


@pytest.mark.parametrize("text,msg", [c[1:] for c in TOML_CASES], ids=[c[0] for c in TOML_CASES])
def test_run_refuses_toml_of_the_wrong_type(tmp_path, capsys, text, msg):
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    _refused(capsys, ["run", "--quiet", "--config", str(cfg), "--out", str(tmp_path / "o")],
             msg, tmp_path / "o")


@pytest.mark.parametrize("args,msg", [c[1:] for c in CONFIG_CASES[::3]],
                         ids=[c[0] for c in CONFIG_CASES[::3]])
@pytest.mark.parametrize("cmd", ["ensemble", "sweep"])
def test_ensemble_and_sweep_refuse_what_run_refuses(tmp_path, capsys, cmd, args, msg):
    store = tmp_path / "e.h5"
    grid = ["--grid", "model.chi=2.2,2.3"] if cmd == "sweep" else []
    if any(a.startswith("run.protocol=") and a != "run.protocol=aqs" for a in args):
        msg = (msg, "run the aqs protocol only")  # (refused after the config checks)
    _refused(capsys, [cmd, "--quiet", *args, *grid, "--realizations", "2", "--out", str(store)],
             msg, store)


@pytest.mark.parametrize("args,msg", [
    (_s("run.dgamma=1e-8"), "run.gamma_end / run.dgamma = 2 / 1e-08"),  # records in memory
    (_s("model.lam=1e-9"), "model.lam = 1e-09"),
    (_s("model.L=100000"), "model.L = 100000"),
    (_s("run.fields_every=1e-6"), "run.fields_every"),
], ids=["dgamma-1e-8", "lam-1e-9", "L-100000", "fields_every"])
def test_ensemble_refuses_what_it_accepted(tmp_path, capsys, args, msg):
    store = tmp_path / "e.h5"
    _refused(capsys, ["ensemble", "--quiet", *args, "--realizations", "2", "--out", str(store)],
             msg, store)
    # the library entry point refuses the same point
    from femplastic.ensemble import Ensemble, model_realization
    point = dict(a.split("=") for a in args[1::2])
    with pytest.raises(ValueError, match=f"points\\[0\\]: .*{msg.split()[0]}"):
        Ensemble(model_realization, [point], realizations=1, store=store)
    assert not store.exists()


def test_bad_input_moves_nothing_aside(tmp_path, capsys):
    out = tmp_path / "o"
    out.mkdir()
    outdir.mark(out, "complete", seed=0, realizations=1, finished=1)  # a previous run
    (out / "summary.json").write_text(json.dumps({"status": "complete"}))
    before = sorted(p.name for p in out.iterdir())
    for args, msg in (([*CYC, *_s("run.gamma_end=5")], "run.gamma_end"),
                      (_s("model.L=100000"), "model.L = 100000"),
                      (["--checkpoint-every", "-1"], "--checkpoint-every"),
                      (["--checkpoint-every", "nan"], "--checkpoint-every"),
                      (["--resume", str(out), "--out", str(tmp_path / "elsewhere")], "--out")):
        argv = ["run", "--quiet", *args] + ([] if "--resume" in args else ["--out", str(out)])
        with pytest.raises(SystemExit) as exc:
            cli.main(argv)
        err = capsys.readouterr().err
        assert exc.value.code == 2 and msg in err, err
    assert sorted(p.name for p in out.iterdir()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]  # no o.1, no elsewhere


def test_valid_limits_are_accepted():
    """The bounds are inclusive and exact: the refusals above are not over-eager."""
    ok = [[*CYC, *_s("run.gamma_max=0.0002")], _s("run.fields_every=1e-4"),
          [*RATE, *_s("run.t_end=0.1")], [*RATE, *_s("run.gdot=0.1")],
          [*CRP, *_s("run.target_stress=-6.6")], [*LY, *_s("run.n_alphas=180")],
          [*STR, *_s("run.dstress=0.5")], [*CYC, *_s("run.gamma_max=0.05")],
          [*BAU, *_s("run.gamma_end=0.3", "run.dgamma=1e-3", "run.gamma_reload=0.07")]]
    for args in ok:
        cfg = fp.load_config(None, args[1::2])
        estimates.check_cost(cfg, 1)


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(0)
    p = fp.ModelParams(L=6, N=8, T=0.0)
    return p, fp.quench(p, rng)


def test_footprint_counts_the_steps_the_drivers_take(small):
    """The estimate's step count is what each driver records (the estimate is not a guess)."""
    p, st = small
    rng = np.random.default_rng(1)
    model = {k: getattr(p, k) for k in ("L", "N", "T")}

    def cfg(**run):
        return fp.Config(fp.ModelParams(**model), fp.RunParams(**run))

    c = fp.cyclic(st, p, rng, gamma_max=0.01, cycles=2, dgamma=1e-3)
    est = estimates.footprint(cfg(protocol="cyclic", gamma_max=0.01, cycles=2, dgamma=1e-3))
    assert est["steps"] == pytest.approx(c.gamma.size) and c.gamma.size == 80
    a = fp.aqs(st, p, rng, gamma_end=0.05, dgamma=1e-3)
    est = estimates.footprint(cfg(gamma_end=0.05, dgamma=1e-3))
    assert est["steps"] == pytest.approx(a.gamma.size)
    r = fp.shear_rate(st, fp.RateParams(), rng, gdot=1e-3, t_end=1.0)
    est = estimates.footprint(cfg(protocol="rate", t_end=1.0))
    assert est["steps"] == pytest.approx(r.time.size * estimates.RATE_RECORD_EVERY)


def _mesh100():
    from pathlib import Path

    return fp.mesh.load(Path(__file__).resolve().parents[1] / "meshes" / "perturbed_periodic.vtu",
                        periodic=True)


LIB_CASES = [
    ("cyclic-None", TypeError, "state must be a State",
     lambda p, st, r: fp.cyclic(None, p, r, gamma_max=0.01, cycles=2, dgamma=1e-3)),
    ("local_yield-None", TypeError, "state must be a State",
     lambda p, st, r: fp.local_yield(None, p, r, 2, [0.0])),
    ("stress-None", TypeError, "state must be a State",
     lambda p, st, r: fp.stress_controlled(None, p, r, stress_end=0.3)),
    ("bauschinger-None", TypeError, "state must be a State",
     lambda p, st, r: fp.bauschinger(None, p, r)),
    ("creep-None", TypeError, "state must be a State",
     lambda p, st, r: fp.creep(None, fp.RateParams(), r, stress=0.1, t_end=1.0)),
    ("quench-mesh-str", TypeError, "mesh must be a FEMesh .*fp.mesh.load",
     lambda p, st, r: fp.quench(p, r, mesh="x.vtu")),
    ("quench-L-100000", ValueError, "GiB .*model.L = 100000",
     lambda p, st, r: fp.quench(fp.ModelParams(L=100000), r)),
    ("aqs-dgamma-1e-12", ValueError, "GiB .*gamma_end / dgamma = 2 / 1e-12",
     lambda p, st, r: fp.aqs(st, p, r, gamma_end=2.0, dgamma=1e-12)),
    ("shear_rate-t_end-1e12", ValueError, "t_end / \\(rp.dt x record_every\\) = 1e\\+12",
     lambda p, st, r: fp.shear_rate(st, fp.RateParams(), r, gdot=1e-3, t_end=1e12)),
    ("aqs-event_driven-2", TypeError, "event_driven must be True or False",
     lambda p, st, r: fp.aqs(st, p, r, gamma_end=0.01, dgamma=1e-3, event_driven=2)),
    ("cyclic-until_absorbed-2", TypeError, "until_absorbed must be True or False",
     lambda p, st, r: fp.cyclic(st, p, r, gamma_max=0.01, cycles=2, dgamma=1e-3,
                                until_absorbed=2)),
    ("mesh-load-periodic-yes", TypeError, "periodic must be True or False",
     lambda p, st, r: fp.mesh.load("x.vtu", periodic="yes")),
    ("L15-on-100-elements", ValueError, "model.L = 15 .* mesh has 100.*L=10",
     lambda p, st, r: fp.quench(fp.ModelParams(L=15, N=8, l=1.5), r, mesh=_mesh100())),
    ("aqs-gamma_end-str", TypeError, "gamma_end must be a number, got str",
     lambda p, st, r: fp.aqs(st, p, r, gamma_end="1", dgamma=1e-3)),
    ("aqs-dgamma-array", TypeError, "dgamma must be a number, got ndarray",
     lambda p, st, r: fp.aqs(st, p, r, gamma_end=0.1, dgamma=np.array([1e-3]))),
    ("cyclic-gamma_max-str", TypeError, "gamma_max must be a number",
     lambda p, st, r: fp.cyclic(st, p, r, gamma_max="0.1", cycles=2, dgamma=1e-3)),
    ("cyclic-cycles-str", TypeError, "cycles must be an integer",
     lambda p, st, r: fp.cyclic(st, p, r, gamma_max=0.01, cycles="3", dgamma=1e-3)),
    ("cyclic-gamma_max-off-lattice", ValueError, "nearest valid: 0.001 or 0.002",
     lambda p, st, r: fp.cyclic(st, p, r, gamma_max=0.0015, cycles=2, dgamma=1e-3)),
    ("stress-stress_end-above-half-G", ValueError, "stress_end = 7 must be within \\+-0.5 G",
     lambda p, st, r: fp.stress_controlled(st, p, r, stress_end=7.0)),
    ("aqs-gamma_end-off-lattice", ValueError, "gamma_end = 0.0105 .*nearest valid: 0.01 or 0.011",
     lambda p, st, r: fp.aqs(st, p, r, gamma_end=0.0105, dgamma=1e-3)),
    ("stress-stress_end-str", TypeError, "stress_end must be a number",
     lambda p, st, r: fp.stress_controlled(st, p, r, stress_end="0.3")),
    ("shear_rate-gdot-str", TypeError, "gdot must be a number",
     lambda p, st, r: fp.shear_rate(st, fp.RateParams(), r, gdot="1e-3", t_end=1.0)),
    ("creep-stress-list", TypeError, "stress must be a number, got list",
     lambda p, st, r: fp.creep(st, fp.RateParams(), r, stress=[0.2], t_end=1.0)),
    ("creep-t_end-below-10-dt", ValueError, "t_end = 0.05 must be >= record_every x rp.dt",
     lambda p, st, r: fp.creep(st, fp.RateParams(), r, stress=0.2, t_end=0.05)),
    ("bauschinger-gamma_reload-str", TypeError, "gamma_reload must be a number",
     lambda p, st, r: fp.bauschinger(st, p, r, gamma_reload="0.1")),
    ("quench-T-str", TypeError, "T must be a number", lambda p, st, r: fp.quench(p, r, T="0.1")),
    ("RateParams-dt-str", TypeError, "dt must be a number",
     lambda p, st, r: fp.RateParams(dt="0.01")),
    ("local_yield-n-float", TypeError, "n must be an integer",
     lambda p, st, r: fp.local_yield(st, p, r, 2.0, [0.0])),
    ("RunParams-cyclic-gamma_end", ValueError, "run.gamma_end does not apply",
     lambda p, st, r: fp.RunParams(protocol="cyclic", gamma_end=5.0)),
    ("RunParams-stress_end-bool", TypeError, "run.stress_end must be a number",
     lambda p, st, r: fp.RunParams(protocol="stress", stress_end=True)),
]


@pytest.mark.parametrize("exc,msg,call", [c[1:] for c in LIB_CASES],
                         ids=[c[0] for c in LIB_CASES])
def test_library_refuses_naming_the_parameter(small, exc, msg, call):
    p, st = small
    before = st.stress.copy()
    with pytest.raises(exc, match=msg):
        call(p, st, np.random.default_rng(0))
    assert np.array_equal(st.stress, before)


def test_every_probe_and_protocol_is_in_the_flat_api():
    for name in ("quench", "aqs", "cyclic", "stress_controlled", "shear_rate", "creep",
                 "RateParams", "bauschinger", "local_yield", "LocalYield", "Bauschinger"):
        obj = getattr(fp, name)
        assert name in fp.__all__ and obj.__doc__, name
    from femplastic.weakplane.probes import local_yield

    assert fp.local_yield is local_yield
    assert fp.avalanches.catalogue is fp.weakplane.avalanches.catalogue


def test_the_installed_entry_point_exits_2(tmp_path):
    """One real process (``python -m femplastic``): the in-process calls above are the same."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(root), *filter(None, [os.environ.get("PYTHONPATH")])])}
    out = tmp_path / "o"
    proc = subprocess.run([sys.executable, "-m", "femplastic", "run", "--set",
                           "run.protocol=cyclic", "--set", "run.gamma_end=5", "--out", str(out)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "run.gamma_end does not apply to run.protocol=cyclic" in proc.stderr
    assert not out.exists()

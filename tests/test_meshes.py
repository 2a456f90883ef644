"""General FE propagator (compiled sparse solves) and unstructured periodic meshes (issue 24)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import skfem
from skfem.helpers import ddot, sym_grad, trace

import femplastic as fp
from femplastic.fe import mesh as fmesh
from femplastic.fe.assembly import PeriodicFE
from femplastic.fe.elasticity import Isotropic
from femplastic.fe.propagators import DensePropagator, SparsePropagator, make_propagator
from femplastic.fe.propagators.general import PackedDensePropagator

MESHES = Path(__file__).resolve().parents[1] / "meshes"
HAS_GMSH = importlib.util.find_spec("gmsh") is not None
needs_gmsh = pytest.mark.skipif(not HAS_GMSH, reason="gmsh not installed ([mesh] extra)")


def _perturbed(L: int, l: float = 6.6, seed: int = 0) -> fmesh.FEMesh:
    m = fmesh.periodic_grid(L, l)
    nodes = m.nodes.copy()
    inner = np.all((nodes > 1e-9) & (nodes < nodes.max(axis=0) - 1e-9), axis=1)
    nodes[inner] += np.random.default_rng(seed).uniform(-0.15 * l, 0.15 * l,
                                                        (int(inner.sum()), 2))
    return fmesh.from_arrays(nodes, m.cells, periodic=True)


CASES = ["regular_8x8.vtu", "perturbed_periodic.vtu", "graded_periodic.msh",
         "unstructured_periodic.vtu", "unstructured_isotropic.vtu", "variantA_9x9",
         pytest.param("unstructured", marks=needs_gmsh)]


def _case(name):
    if name == "variantA_9x9":
        return fmesh.periodic_grid(9, 6.6), "A"
    if name == "unstructured":
        from femplastic.fe import meshgen
        return meshgen.unstructured(120, size_cv=0.3, seed=3).mesh, "A"
    return fmesh.load(MESHES / name, periodic=True), None


def _skfem_stress(mesh, mat, eps_pl, E):
    """Independent solve: scikit-fem forms, no pinned node (least-squares on the singular K)."""
    n = mesh.n_elem
    G, B = mat.per_element(n)
    basis = skfem.Basis(mesh.skmesh, skfem.ElementVector(skfem.ElementQuad1()), intorder=3)
    nq = basis.X.shape[1]
    rep = lambda a: np.repeat(np.asarray(a, float)[:, None], nq, axis=1)  # noqa: E731
    lam, mu = rep(B - G), rep(G)
    e = eps_pl - E[None, :]

    @skfem.BilinearForm
    def a(u, v, w):
        return 2 * w.mu * ddot(sym_grad(u), sym_grad(v)) + w.lam * trace(sym_grad(u)) * trace(
            sym_grad(v))

    @skfem.LinearForm
    def f(v, w):
        ev = sym_grad(v)
        tr = w.exx + w.eyy
        sxx = 2 * w.mu * w.exx + w.lam * tr
        syy = 2 * w.mu * w.eyy + w.lam * tr
        sxy = 2 * w.mu * w.exy
        return sxx * ev[0, 0] + syy * ev[1, 1] + 2 * sxy * ev[0, 1]

    K = skfem.asm(a, basis, mu=mu, lam=lam).toarray()
    rhs = skfem.asm(f, basis, mu=mu, lam=lam, exx=rep(e[:, 0]), eyy=rep(e[:, 1]),
                    exy=rep(e[:, 2]))
    u = np.linalg.lstsq(K, rhs, rcond=None)[0]
    grad = basis.interpolate(u).grad  # (2, 2, n, nq)
    dx = basis.dx
    avg = (grad * dx).sum(axis=-1) / dx.sum(axis=1)
    eps = np.stack([avg[0, 0], avg[1, 1], 0.5 * (avg[0, 1] + avg[1, 0])], axis=1) + E - eps_pl
    tr = eps[:, 0] + eps[:, 1]
    return np.stack([2 * G * eps[:, 0] + (B - G) * tr, 2 * G * eps[:, 1] + (B - G) * tr,
                     2 * G * eps[:, 2]], axis=1)


@pytest.mark.parametrize("name", CASES)
def test_sparse_equals_old_solve_and_skfem(name):
    """Stress of every element after a batch of random eigenstrains: new compiled solve ==
    the SuperLU solve of PeriodicFE == an independent scikit-fem least-squares solve."""
    m, variant = _case(name)
    rng = np.random.default_rng(7)
    n = m.n_elem
    mat = Isotropic(rng.uniform(8.0, 20.0, n), 59.0) if variant == "A" else Isotropic()
    sp = SparsePropagator(m, mat, backend="superlu")
    fe = PeriodicFE(m, mat)
    elems = rng.integers(0, n, 12)
    deps = rng.normal(size=(12, 3)) * 0.01
    got = np.zeros((n, 3))
    sp.add(got, elems, deps)
    field = np.zeros((n, 3))
    np.add.at(field, elems, deps)
    ref = fe.element_stress(field)
    ind = _skfem_stress(m, mat, field, np.zeros(3))
    scale = max(1.0, np.abs(ref).max())
    assert np.abs(got - ref).max() <= 1e-12 * scale
    assert np.abs(got - ind).max() <= 1e-12 * scale
    # full stress with a mean strain and prestress: the same contract as PeriodicFE
    E = rng.normal(size=3) * 0.01
    pre = rng.normal(size=(n, 3))
    a, b = sp.stress(field, E, pre), fe.element_stress(field, E, pre)
    assert np.abs(a - b).max() <= 1e-12 * max(1.0, np.abs(b).max())
    assert np.abs(a - pre - _skfem_stress(m, mat, field, E)).max() <= 1e-12 * scale
    # self response from the selected inverse == the 3 solves per element
    k = min(n, 20)
    R = fe.unit_responses(np.arange(k))
    self_ref = R[np.arange(k), :, np.arange(k), :].transpose(0, 2, 1)
    assert np.abs(sp.self_response[:k] - self_ref).max() <= 1e-12 * np.abs(self_ref).max()
    # the packed symmetric dense response (tiles of 5: off-diagonal tiles, strided half)
    pk = PackedDensePropagator(m, mat, tile=5)
    got = np.zeros((n, 3))
    pk.add(got, elems, deps)
    assert np.abs(got - ref).max() <= 1e-12 * scale
    assert np.abs(got - ind).max() <= 1e-12 * scale
    assert np.abs(pk.self_response[:k] - self_ref).max() <= 1e-12 * np.abs(self_ref).max()


def test_packed_response_equals_full_rows():
    """Every row of the packed response (stored half and symmetric half, several tile sides
    and a last partial tile) equals the full response built by the same sparse solves."""
    m = _perturbed(7)
    mat = Isotropic(np.random.default_rng(2).uniform(8, 20, 49), 59.0)
    R2 = DensePropagator(m, mat, cholesky_max=0)._R2
    eye = np.eye(3)
    for tile in (1, 4, 49):
        p = PackedDensePropagator(m, mat, tile=tile)
        assert p.nbytes < 0.75 * R2.nbytes or tile == 49
        for e in range(49):
            for b in range(3):
                s = np.zeros((49, 3))
                p.add(s, [e], eye[b:b + 1])
                assert np.abs(s.reshape(-1) - R2[3 * e + b]).max() <= 1e-12 * 60
    # the threaded form (13 target tiles on threads) gives the same bits as the serial one
    from femplastic.fe.propagators import packed_kernels
    p = PackedDensePropagator(m, mat, tile=4)
    rng = np.random.default_rng(3)
    elems = rng.integers(0, 49, 5)
    deps = rng.normal(size=(5, 3))
    deps[:, 1] = -deps[:, 0]
    out = [np.zeros(147), np.zeros(147)]
    for par, s in zip((False, True), out, strict=True):
        packed_kernels.packed_add(p.buf.reshape(-1), s, 5, elems, deps, par)
    assert np.array_equal(out[0], out[1])


def test_dense_from_sparse_solves_equals_dense_cholesky():
    """The compiled-solve build of the dense response (used above 2,048 elements) equals the
    dense-Cholesky build (its reference below) on a heterogeneous perturbed mesh."""
    m = _perturbed(7)
    mat = Isotropic(np.random.default_rng(1).uniform(8, 20, 49), 59.0)
    a = DensePropagator(m, mat)
    b = DensePropagator(m, mat, cholesky_max=0)
    assert np.abs(a.R - b.R).max() <= 1e-12 * np.abs(a.R).max()


def test_packed_base_of_shuffled_and_meanfield_kernels():
    """Models D and I over the packed response equal them over the full response: the fused
    shuffled form (kind 8 vs 3, same permutations drawn) and the mean-field averages."""
    from femplastic.fe.propagators import MeanFieldPropagator, ShuffledPropagator, kernels
    m = fmesh.periodic_grid(6, 6.6)
    mat = Isotropic(np.random.default_rng(4).uniform(8, 20, 36), 59.0)
    full, packed = DensePropagator(m, mat), PackedDensePropagator(m, mat, tile=4)
    elems = np.array([3, 17, 3, 35], np.int64)
    deps = np.random.default_rng(5).normal(size=(4, 3)) * 0.01
    deps[:, 1] = -deps[:, 0]  # slips: traceless (the packed form stores those only)
    out = []
    for base in (full, packed):
        kind, arr, L = ShuffledPropagator(base).numba_form()
        s = np.zeros((36, 3))
        kernels.apply_form(kind, arr, L, s, 4, elems, deps, np.random.default_rng(6), 0)
        out.append(s)
    assert np.abs(out[0] - out[1]).max() <= 1e-12 * np.abs(out[0]).max()
    a, b = MeanFieldPropagator(full), MeanFieldPropagator(packed)
    assert np.abs(a.O - b.O).max() <= 1e-12 * np.abs(a.S).max()
    with pytest.raises(ValueError, match="traceless"):  # the fused form refuses the others
        kind, arr, L = packed.numba_form()
        kernels.apply_form(kind, arr, L, np.zeros((36, 3)), 1, elems, np.ones((1, 3)),
                           np.random.default_rng(6), 0)


@pytest.mark.parametrize("variant", ["C", "A"])
def test_aqs_trajectory_sparse_form_equals_dense(variant):
    """AQS through the fused driver with the sparse numba form (one solve per sweep) has the
    events of the dense response (one row per event) and its stresses to round-off."""
    m = _perturbed(8)
    p = fp.ModelParams.for_variant(variant, L=8) if variant == "A" else fp.ModelParams(L=8)
    rng = np.random.default_rng(3)
    mat = p.material(rng, m.n_elem) if variant == "A" else p.material()
    runs = []
    for prop in (DensePropagator(m, mat), SparsePropagator(m, mat),
                 PackedDensePropagator(m, mat, tile=6)):
        st = fp.quench(p, np.random.default_rng(4), T=0.0, mesh=m, material=mat,
                       propagator=prop)
        runs.append(fp.aqs(st, p, np.random.default_rng(5), gamma_end=0.05, dgamma=1e-4,
                           record_events=True))
    a = runs[0]
    assert a.avalanche_size.sum() > 20
    for b in runs[1:]:  # the sparse and the packed forms: the same events, stresses to 1e-12
        assert np.array_equal(a.avalanche_size, b.avalanche_size)
        assert np.array_equal(a.events.element, b.events.element)
        assert np.allclose(a.stress, b.stress, rtol=0, atol=1e-12)
        assert np.allclose(a.state.stress, b.state.stress, rtol=0, atol=1e-12)


def test_make_propagator_budget(monkeypatch):
    m = _perturbed(6)
    assert isinstance(make_propagator(m, Isotropic()), DensePropagator)
    assert isinstance(make_propagator(m, Isotropic(), dense_budget=0), SparsePropagator)
    # above the full-response cap, the packed one within the budget (36 elements: 1 tile)
    from femplastic.fe.propagators import budget
    monkeypatch.setattr(budget, "FULL_DENSE_MAX", 0)
    assert isinstance(make_propagator(m, Isotropic()), PackedDensePropagator)
    with pytest.warns(UserWarning, match="packed dense response of 36 elements needs"):
        assert isinstance(make_propagator(m, Isotropic(), dense_budget=100), SparsePropagator)
    monkeypatch.setenv("FEMPLASTIC_DENSE_BUDGET", "0")
    assert isinstance(make_propagator(m, Isotropic()), SparsePropagator)
    monkeypatch.setenv("FEMPLASTIC_DENSE_BUDGET", "lots")
    with pytest.raises(ValueError, match="FEMPLASTIC_DENSE_BUDGET"):
        make_propagator(m, Isotropic())
    monkeypatch.setenv("FEMPLASTIC_DENSE_BUDGET", "inf")
    with pytest.raises(ValueError, match="FEMPLASTIC_DENSE_BUDGET"):
        make_propagator(m, Isotropic())
    monkeypatch.delenv("FEMPLASTIC_DENSE_BUDGET")
    # the free memory never changes the operator (resumes stay bitwise): refused, not swapped
    monkeypatch.setattr(budget, "meminfo", lambda key, default: 1024.0)
    assert budget.dense_choice(36)[0] == "packed"
    with pytest.raises(MemoryError, match="FEMPLASTIC_DENSE_BUDGET=0"):
        make_propagator(m, Isotropic())
    assert isinstance(make_propagator(m, Isotropic(), dense_budget=0), SparsePropagator)


# --- unstructured meshes -------------------------------------------------------------------

def _ignored_signals() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return int(line.split()[1], 16)
    raise AssertionError("no SigIgn line")


@needs_gmsh
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")
def test_meshing_leaves_the_process_signal_handling_alone():
    """Gmsh's initialize sets SIGPIPE back to terminate and SIGINT to its default: after a
    meshing, a broken socket (a Dask client) killed the process (exit 141: twice the CI's
    pytest), and Ctrl-C killed instead of raising KeyboardInterrupt."""
    import signal

    from femplastic.fe import meshgen

    before = _ignored_signals()
    assert before >> (signal.SIGPIPE - 1) & 1  # Python ignores SIGPIPE
    meshgen.unstructured(120, size_cv=0.3, seed=3)
    assert _ignored_signals() == before
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@needs_gmsh
def test_unstructured_mesh_properties():
    from femplastic.fe import meshgen

    rep = meshgen.unstructured(200, size_cv=0.3, seed=11)
    q = rep.quality
    assert abs(q["n_elem"] / 200 - 1) <= 0.1
    assert abs(q["area_cv"] - 0.3) <= 0.05  # the stated tolerance
    assert q["n_bad"] == 0 and np.all(rep.mesh.areas > 0)
    assert q["jacobian_min"] > 0
    # periodic partners: every node on a side has one on the opposite side at the same height
    X, box = rep.nodes, q["box"]
    for d in (0, 1):
        lo = np.sort(X[np.abs(X[:, d]) < 1e-9 * box, 1 - d])
        hi = np.sort(X[np.abs(X[:, d] - box) < 1e-9 * box, 1 - d])
        assert lo.size == hi.size > 2 and np.abs(lo - hi).max() < 1e-9 * box
    assert rep.mesh.periodic
    # unstructured: not every node has 4 elements around it
    valence = np.bincount(rep.mesh.skmesh.t.ravel())
    assert np.any(valence != 4)
    # the same seed gives the same mesh, another seed another one
    again = meshgen.unstructured(200, size_cv=0.3, seed=11)
    assert np.array_equal(again.nodes, rep.nodes) and np.array_equal(again.cells, rep.cells)
    other = meshgen.unstructured(200, size_cv=0.3, seed=12)
    assert other.nodes.shape != rep.nodes.shape or not np.array_equal(other.nodes, rep.nodes)


@needs_gmsh
def test_delaunay_meshes_have_isotropic_edges_frontal_ones_keep_the_grid_directions():
    from femplastic.fe import meshgen

    d = meshgen.unstructured(400, seed=2, algorithm="delaunay").quality
    f = meshgen.unstructured(400, seed=2).quality
    assert d["n_bad"] == 0 and abs(d["n_elem"] / 400 - 1) <= 0.1
    # <cos 4 phi> of the edges, recomputed independently of quality()
    rep = meshgen.unstructured(400, seed=2, algorithm="delaunay")
    P = rep.nodes[rep.cells]
    E = np.roll(P, -1, axis=1) - P
    phi = np.arctan2(E[..., 1], E[..., 0])
    assert np.mean(np.cos(4 * phi)) == pytest.approx(d["edge_cos4"], abs=1e-12)
    assert abs(d["edge_cos4"]) < 0.2 < 0.5 < f["edge_cos4"]
    with pytest.raises(ValueError, match="algorithm .* must be one of"):
        meshgen.unstructured(400, algorithm="paving")


@needs_gmsh
def test_mesh_cli_writes_loadable_file(tmp_path, capsys):
    from femplastic.cli.main import main

    out = tmp_path / "m.vtu"
    assert main(["mesh", "--elements", "150", "--size-cv", "0", "--seed", "1", "--out",
                 str(out)]) == 0
    assert "inverted or degenerate elements: 0" in capsys.readouterr().out
    m = fmesh.load(out, periodic=True)
    assert abs(m.n_elem / 150 - 1) <= 0.1
    with pytest.raises(SystemExit) as err:  # no silent overwrite
        main(["mesh", "--elements", "150", "--out", str(out)])
    assert err.value.code != 0
    assert "exists" in capsys.readouterr().err


# --- bad input: clear errors before any work -------------------------------------------------

def test_bad_mesh_files(tmp_path):
    import meshio

    with pytest.raises(ValueError, match="not periodic"):
        fmesh.load(MESHES / "not_periodic.vtu", periodic=True)
    pts = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], float)
    meshio.write(tmp_path / "tri.vtu", meshio.Mesh(pts, [("triangle", [[0, 1, 2], [0, 2, 3]])]))
    with pytest.raises(ValueError, match="no quadrilateral"):
        fmesh.load(tmp_path / "tri.vtu", periodic=True)
    # a bow-tie (self-intersecting, inverted corners) quadrilateral
    g = fmesh.periodic_grid(4, 1.0)
    cells = g.cells.copy()
    cells[5] = cells[5][[0, 2, 1, 3]]
    with pytest.raises(ValueError, match="inverted or non-convex"):
        fmesh.from_arrays(g.nodes, cells, periodic=True)
    # a folded mesh: an interior node pushed through its neighbours (elements overlap)
    nodes = g.nodes.copy()
    k = int(np.flatnonzero(np.abs(nodes - [1.0, 1.0]).sum(axis=1) < 1e-12)[0])
    nodes[k] = [2.6, 2.6]
    with pytest.raises(ValueError, match="inverted|overlap"):
        fmesh.from_arrays(nodes, g.cells, periodic=True)


@pytest.mark.parametrize("args,match", [
    (["--elements", "15"], "--elements"),
    (["--elements", "100", "--size-cv", "-0.1"], "--size-cv"),
    (["--elements", "100", "--seed", "-1"], "--seed"),
])
def test_mesh_cli_bad_input(tmp_path, capsys, args, match, monkeypatch):
    from femplastic.cli.main import main
    from femplastic.fe import meshgen

    def boom(*a, **k):  # pragma: no cover - must not be reached
        raise AssertionError("meshing started despite bad input")

    monkeypatch.setattr(meshgen, "_mesh_once", boom)
    with pytest.raises(SystemExit) as err:
        main(["mesh", *args, "--out", str(tmp_path / "m.msh")])
    assert err.value.code != 0
    assert match in capsys.readouterr().err
    assert not (tmp_path / "m.msh").exists()
    with pytest.raises(ValueError, match="n_elem"):
        meshgen.unstructured(10)
    with pytest.raises(ValueError, match="size_cv"):
        meshgen.unstructured(100, size_cv=-1.0)

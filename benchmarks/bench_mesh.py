"""Benchmark of the general FE path: regular grid vs perturbed vs unstructured mesh vs variant A.

For each side ``L`` (n = L^2 elements; model C parameters, N = 36; variant A its own) and each
case, in a fresh forked process (so the peak memory is the case's own), the same seed:

* ``grid``: the regular periodic grid (exact periodic kernel): the in-run baseline;
* ``perturbed``: the same grid with its interior nodes moved at random by up to 0.15 l (a custom
  mesh through :func:`femplastic.fe.mesh.from_arrays`), general propagator;
* ``unstructured``: a bi-periodic unstructured all-quad Gmsh mesh of about n elements
  (:func:`femplastic.fe.meshgen.unstructured`; skipped without gmsh);
* ``A``: variant A (heterogeneous moduli) on the grid, general propagator;
* ``perturbed/sparse``, ``A/sparse``: the same with the dense response switched off
  (``FEMPLASTIC_DENSE_BUDGET=0``), where the default picked the full dense response (L <= 64).

Above L = 64 the general path is the packed symmetric dense response
(:class:`~femplastic.fe.propagators.general.PackedDensePropagator`) while it fits the budget
(``FEMPLASTIC_DENSE_BUDGET``, default 45 % of the physical memory) and the available memory.

Columns: build (mesh + model with its propagator and self response), the T = 0 quench, the
KMC quench at T = 0.25 (``--kmc-max``: sizes above it skip it; the ``/sparse`` cases only
up to L = 32: one sparse solve per thermal event), AQS events/s from the T = 0
state over a strain span (``--gamma``, default by size), the propagator's memory and the
process's peak resident memory, and the ratios to the grid of the same L and run.

Run: ``femplastic bench mesh`` (``--sizes 32 64 --kmc-max 64`` to shorten).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import time

import numpy as np

import femplastic as fp

_SPANS = {16: 0.3, 32: 0.3, 64: 0.1, 128: 0.03, 256: 0.01}


def perturbed_mesh(L: int, l: float, seed: int = 0, amp: float = 0.15) -> fp.mesh.FEMesh:
    """Periodic L x L grid of side ``l`` with interior nodes moved uniformly by <= ``amp l``."""
    m = fp.mesh.periodic_grid(L, l)
    nodes = m.nodes.copy()
    top = nodes.max(axis=0)
    inner = np.all((nodes > 1e-9 * l) & (nodes < top - 1e-9 * l), axis=1)
    rng = np.random.default_rng(seed)
    nodes[inner] += rng.uniform(-amp * l, amp * l, (int(inner.sum()), 2))
    return fp.mesh.from_arrays(nodes, m.cells, periodic=True)


def _prop_bytes(prop) -> int:
    base = getattr(prop, "base", prop)
    if hasattr(base, "R"):
        return int(base.R.nbytes)
    if hasattr(base, "buf"):  # packed dense response (+ its sparse factor)
        return int(base.buf.nbytes + base.factor.nbytes)
    if hasattr(base, "factor"):
        return int(base.factor.nbytes)
    form = base.numba_form()
    return int(form[1].nbytes) if form is not None else 0


def _case(L: int, case: str, gamma: float, kmc: bool, seed: int, q: mp.Queue) -> None:
    if case.endswith("/sparse"):
        os.environ["FEMPLASTIC_DENSE_BUDGET"] = "0"
    kind = case.split("/")[0]
    p = fp.ModelParams.for_variant("A", L=L) if kind == "A" else fp.ModelParams(L=L)
    t0 = time.perf_counter()
    mesh = None
    if kind == "perturbed":
        mesh = perturbed_mesh(L, p.l, seed)
    elif kind == "unstructured":
        from femplastic.fe import meshgen
        mesh = meshgen.unstructured(L * L, box=L * p.l, size_cv=0.0, seed=seed).mesh
    if mesh is not None:  # L = round(sqrt(n_elem)) of the mesh (Gmsh meets n within 10 %)
        p = p.replace(L=max(2, round(np.sqrt(mesh.n_elem))))
    rng = np.random.default_rng(seed)
    model = fp.build_model(p, mesh=mesh, rng=rng)
    _ = model.propagator.self_response
    t_build = time.perf_counter() - t0
    prop = model.propagator
    pkind = type(getattr(prop, "base", prop)).__name__
    t0 = time.perf_counter()
    st = fp.quench(p, np.random.default_rng(seed), T=0.0, mesh=mesh, propagator=prop,
                   material=model.material)
    t_q0 = time.perf_counter() - t0
    t_kmc = float("nan")
    if kmc:
        t0 = time.perf_counter()
        fp.quench(p, np.random.default_rng(seed), mesh=mesh, propagator=prop,
                  material=model.material)
        t_kmc = time.perf_counter() - t0
    t0 = time.perf_counter()
    run = fp.aqs(st, p, np.random.default_rng(seed + 1), gamma_end=gamma, dgamma=1e-4)
    t_aqs = time.perf_counter() - t0
    ev = int(run.state.n_events)
    q.put({"L": L, "case": case, "prop": pkind, "n": model.n_elem if hasattr(model, "n_elem")
           else st.n_elem, "build": t_build, "q0": t_q0, "kmc": t_kmc, "aqs": t_aqs,
           "events": ev, "evs": ev / t_aqs, "mem": _prop_bytes(prop) / 2**20,
           "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0})


def _run(L: int, case: str, gamma: float, kmc: bool, seed: int) -> dict | None:
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    proc = ctx.Process(target=_case, args=(L, case, gamma, kmc, seed, q))
    proc.start()
    out = None
    while proc.is_alive() or not q.empty():
        try:
            out = q.get(timeout=1.0)
            break
        except Exception:  # queue.Empty
            continue
    proc.join()
    if out is None:
        print(f"  L={L} {case}: failed (exit code {proc.exitcode})")
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[32, 64, 128])
    ap.add_argument("--kmc-max", type=int, default=64, help="largest L with the KMC quench")
    ap.add_argument("--gamma", type=float, default=None, help="AQS strain span (default by L)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cases", nargs="+", default=None,
                    help="subset of grid perturbed unstructured A perturbed/sparse A/sparse")
    args = ap.parse_args(argv)
    try:
        import gmsh  # noqa: F401
        has_gmsh = True
    except ImportError:
        has_gmsh = False
    from femplastic.fe.propagators.general import FULL_DENSE_MAX, default_dense_budget
    budget = default_dense_budget()
    # compile every numba form once in this parent (children inherit the loaded caches)
    for case in ("grid", "perturbed", "A", "A/sparse"):
        _run(6, case, 0.01, True, 99)
    print(f"dense response budget {budget / 2**30:.2f} GiB (FEMPLASTIC_DENSE_BUDGET), "
          f"threads {os.environ.get('NUMBA_NUM_THREADS', 'default')}")
    hdr = (f"{'L':>4} {'case':18s} {'propagator':18s} {'build s':>8} {'q T=0 s':>8} "
           f"{'KMC s':>8} {'events':>8} {'AQS ev/s':>9} {'prop MiB':>9} {'peak MiB':>9} "
           f"{'ev/s / grid':>11} {'KMC / grid':>10}")
    print(hdr)
    for L in args.sizes:
        gamma = args.gamma if args.gamma is not None else _SPANS.get(L, 0.01)
        kmc = L <= args.kmc_max
        cases = args.cases or ["grid", "perturbed", "unstructured", "A"]
        if args.cases is None and 72 * L**4 <= min(budget, FULL_DENSE_MAX):
            cases += ["perturbed/sparse", "A/sparse"]
        grid = None
        for case in cases:
            if case == "unstructured" and not has_gmsh:
                print(f"{L:>4} {case:18s} skipped (gmsh not installed: pip install "
                      "femplastic[mesh])")
                continue
            # sparse solves per thermal event: the KMC quench only up to L = 32
            r = _run(L, case, gamma, kmc and (L <= 32 or not case.endswith("/sparse")),
                     args.seed)
            if r is None:
                continue
            if case == "grid":
                grid = r
            rel = r["evs"] / grid["evs"] if grid else float("nan")
            relk = r["kmc"] / grid["kmc"] if grid else float("nan")
            print(f"{L:>4} {case:18s} {r['prop']:18s} {r['build']:8.2f} {r['q0']:8.2f} "
                  f"{r['kmc']:8.2f} {r['events']:8d} {r['evs']:9.0f} {r['mem']:9.1f} "
                  f"{r['peak']:9.0f} {rel:11.2f} {relk:10.1f}")
        print(f"     (AQS gamma 0 -> {gamma}, dgamma 1e-4, from the T = 0 quench; KMC quench "
              f"T = 0.25 {'on' if kmc else 'skipped'})")


if __name__ == "__main__":
    main()

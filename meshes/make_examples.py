"""Regenerate the example meshes of this folder (run from anywhere: ``python make_examples.py``).

* ``regular_8x8.vtu``      -- the regular 8 x 8 grid of side l = 2 (same geometry as
  ``femplastic.fe.mesh.periodic_grid(8, 2.0)``), element order shuffled to exercise the
  custom-mesh path.
* ``perturbed_periodic.vtu`` -- a 10 x 10 grid of side 1.5 with interior nodes displaced by a
  smooth periodic field that vanishes on the box sides (so opposite sides still match).
* ``graded_periodic.msh``  -- a 12 x 8 grid graded in x (element widths from 0.5 to 2), Gmsh.
* ``not_periodic.vtu``     -- a perturbed grid whose boundary nodes do not match across the
  box: loading it with ``periodic=True`` must fail.
* ``unstructured_periodic.vtu`` -- a bi-periodic unstructured all-quad Gmsh mesh of about 256
  elements with an area CV of 0.3 (``femplastic mesh --elements 256 --size-cv 0.3 --seed 4``;
  needs gmsh, skipped without it).
* ``unstructured_isotropic.vtu`` -- the same with isotropic edge orientations (Delaunay
  triangulation and blossom recombination; edge ``<cos 4 phi>`` ~0 where the default
  frontal meshes keep ~0.8 of the grid's alignment), about 256 elements at the mesher's own
  area spread (``femplastic mesh --elements 256 --algorithm delaunay --seed 4``).
"""

from pathlib import Path

import meshio
import numpy as np

HERE = Path(__file__).resolve().parent


def grid(xs, ys):
    X, Y = np.meshgrid(xs, ys)
    pts = np.stack([X.ravel(), Y.ravel(), np.zeros(X.size)], axis=1)
    nx, ny = len(xs), len(ys)
    nid = np.arange(nx * ny).reshape(ny, nx)
    cells = np.stack([nid[:-1, :-1].ravel(), nid[:-1, 1:].ravel(), nid[1:, 1:].ravel(),
                      nid[1:, :-1].ravel()], axis=1)
    return pts, cells


def main() -> None:
    rng = np.random.default_rng(2024)
    pts, cells = grid(np.arange(9) * 2.0, np.arange(9) * 2.0)
    perm = rng.permutation(len(cells))
    meshio.write(HERE / "regular_8x8.vtu", meshio.Mesh(pts, [("quad", cells[perm])]))

    pts, cells = grid(np.arange(11) * 1.5, np.arange(11) * 1.5)
    Lx = 15.0
    x, y = pts[:, 0].copy(), pts[:, 1].copy()
    pts[:, 0] += 0.25 * np.sin(2 * np.pi * x / Lx) * np.cos(2 * np.pi * y / Lx)
    pts[:, 1] += 0.2 * np.sin(2 * np.pi * y / Lx) * np.cos(4 * np.pi * x / Lx)
    meshio.write(HERE / "perturbed_periodic.vtu", meshio.Mesh(pts, [("quad", cells)]))

    w = np.linspace(0.5, 2.0, 12)
    xs = np.concatenate([[0.0], np.cumsum(w)])
    pts, cells = grid(xs, np.arange(9) * 1.25)
    meshio.write(HERE / "graded_periodic.msh", meshio.Mesh(pts, [("quad", cells)]),
                 file_format="gmsh22", binary=False)

    pts, cells = grid(np.arange(5) * 1.0, np.arange(5) * 1.0)
    pts[pts[:, 0] == 4.0, 1] += 0.1 * np.sin(pts[pts[:, 0] == 4.0, 1])
    meshio.write(HERE / "not_periodic.vtu", meshio.Mesh(pts, [("quad", cells)]))

    try:
        from femplastic.fe import meshgen
        rep = meshgen.unstructured(256, size_cv=0.3, seed=4)
    except ImportError:
        return
    meshgen.write(rep, HERE / "unstructured_periodic.vtu", overwrite=True)
    rep = meshgen.unstructured(256, seed=4, algorithm="delaunay")
    meshgen.write(rep, HERE / "unstructured_isotropic.vtu", overwrite=True)


if __name__ == "__main__":
    main()

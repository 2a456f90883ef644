"""``femplastic mesh``: a bi-periodic unstructured all-quad mesh file (Gmsh)."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["cmd_mesh"]


def cmd_mesh(args: argparse.Namespace) -> int:
    """Make, check and write the mesh; prints the quality report. Returns 0.

    Raises
    ------
    ValueError
        Bad parameters or output path (before any meshing).
    """
    import meshio

    from ..fe import meshgen

    out = Path(args.out)
    if out.exists() and not args.overwrite:
        raise ValueError(f"--out {str(out)!r} exists; choose another file or pass --overwrite")
    if out.is_dir():
        raise ValueError(f"--out {str(out)!r} is a folder; give a mesh file name")
    if not out.parent.is_dir():
        raise ValueError(f"--out: folder {str(out.parent)!r} does not exist")
    try:
        meshio.extension_to_filetypes[out.suffix]
    except KeyError:
        raise ValueError(f"--out {out.name!r}: meshio knows no format for the suffix "
                         f"{out.suffix!r} (e.g. .msh, .vtu, .xdmf, .inp)") from None
    meshgen._check(args.elements, args.size_cv, args.seed, args.box, 0.05)
    if args.algorithm not in meshgen.ALGORITHMS:
        raise ValueError(f"--algorithm must be one of {tuple(meshgen.ALGORITHMS)}, got "
                         f"{args.algorithm!r}")
    rep = meshgen.unstructured(args.elements, box=args.box, size_cv=args.size_cv,
                               seed=args.seed, algorithm=args.algorithm)
    meshgen.write(rep, out, overwrite=args.overwrite)
    print(rep.summary())
    print(f"periodic: matching nodes on opposite sides (checked); written {out}")
    print(f"load it: femplastic.mesh.load({str(out)!r}, periodic=True)")
    return 0

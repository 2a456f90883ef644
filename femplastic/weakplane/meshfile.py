"""``model.mesh``: run the weak-plane model on a mesh file (any format meshio reads).

``femplastic run --set model.mesh=FILE`` (or ``[model] mesh = "FILE"`` in a TOML config, or
``ModelParams(mesh="FILE", L=...)``) replaces the regular ``L x L`` grid by the mesh in
``FILE``, made bi-periodic by matching the nodes of opposite sides of its bounding box
(:func:`femplastic.fe.mesh.load` with ``periodic=True``). Every protocol runs on it;
``local-yield`` cuts its patches as the elements whose centroids lie in a square of side
``run.patch`` mean element sizes (:func:`femplastic.weakplane.probes.local_yield.mesh_patch`).

Rules (checked when the parameters are built, before any work):

* the file exists, meshio reads it, it holds only quadrilaterals (``quad`` cells; other cell
  types are refused), every element has a positive area, the elements tile the periodic box
  (no fold, no hole), and every boundary node has a partner on the opposite side;
* ``model.L`` is **derived from the mesh** when a config sets ``model.mesh`` without
  ``model.L``: ``L = round(sqrt(n_elem))``, the linear size in elements that results record
  and estimates use (:func:`femplastic.validation.check_mesh_matches`); an explicit ``L``
  must equal it. Likewise ``model.l`` is derived as ``sqrt(mean element area)`` (the mean
  element size, LJ lengths) when the config does not set it; an explicit ``l`` is kept (it
  only labels the element size: the propagator uses the mesh's own geometry).
* relative paths are relative to the working directory of the process.

Provenance: :func:`mesh_provenance` gives the path and the SHA-256 of the file's bytes, stored
in ``summary.json`` and ``results.h5`` (``mesh_sha256``). Meshes are cached per (absolute
path, modification time, size): a file rewritten during a process is read again.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..fe.mesh import FEMesh

__all__ = ["load_model_mesh", "model_mesh", "mesh_table", "mesh_provenance", "check_params",
           "check_run"]


@functools.lru_cache(maxsize=8)
def _cached(path: str, mtime_ns: int, size: int) -> tuple[FEMesh, str]:
    from ..fe.mesh import load

    mesh = load(path, periodic=True)  # refuses cells other than quads (fe.mesh._load)
    with open(path, "rb") as fh:
        digest = hashlib.sha256(fh.read()).hexdigest()
    return mesh, digest


def _stat(path: Any) -> tuple[str, int, int]:
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"model.mesh must be a mesh file name (a string), got "
                        f"{type(path).__name__} {path!r}")
    p = Path(path).expanduser()
    if not p.exists():
        raise ValueError(f"model.mesh: mesh file {str(path)!r} does not exist")
    if not p.is_file():
        raise ValueError(f"model.mesh: {str(path)!r} is a folder, not a mesh file")
    st = p.stat()
    return str(p.resolve()), st.st_mtime_ns, st.st_size


def load_model_mesh(path: str | os.PathLike) -> FEMesh:
    """The periodic mesh in ``path``, validated (cached per path, modification time and size).

    Parameters
    ----------
    path : str or path-like
        Mesh file (``.msh``, ``.vtu``, ``.xdmf``, ...), quadrilaterals only.

    Returns
    -------
    FEMesh
        Periodic (``mesh.periodic`` is True).

    Raises
    ------
    ValueError
        Missing file, unreadable by meshio, cells other than quadrilaterals, a degenerate
        element, elements that do not tile the box, a node without periodic partner; the
        message starts with ``model.mesh`` and names the file.
    """
    key = _stat(path)
    try:
        mesh, _ = _cached(*key)
    except ValueError as exc:
        msg = str(exc)
        raise ValueError(msg if msg.startswith("model.mesh") else
                         f"model.mesh = {str(path)!r}: {msg}") from None
    return mesh


def model_mesh(params: Any) -> FEMesh:
    """The mesh of ``params.mesh`` (see :func:`load_model_mesh`).

    Parameters
    ----------
    params : ModelParams
        With ``mesh`` set.

    Returns
    -------
    FEMesh
    """
    return load_model_mesh(params.mesh)


def check_params(params: Any) -> None:
    """Validate ``params.mesh`` and that ``params.L`` describes it (no-op when unset).

    Parameters
    ----------
    params : ModelParams

    Raises
    ------
    ValueError
        A bad mesh file (:func:`load_model_mesh`), ``model.L != round(sqrt(n_elem))``,
        ``dim = 3``, a shuffled-kernel variant (D, G) on elements of unequal areas.
    """
    from .. import validation

    if params.mesh is None:
        return
    if params.dim != 2:
        raise ValueError("model.mesh is a 2D quadrilateral mesh: it needs model.dim = 2")
    mesh = load_model_mesh(params.mesh)
    validation.check_mesh_matches(params, mesh)
    if params.interaction == "shuffled":  # before any work, not when the model is built
        from ..fe.propagators.randomised import _equal_areas

        _equal_areas(mesh, f"model.mesh = {str(params.mesh)!r}: the shuffled kernel (model "
                           f"{params.variant})")


def check_run(params: Any, run: Any) -> None:
    """Refuse run settings the mesh of ``params.mesh`` cannot honour (no-op without a mesh).

    ``run.protocol = local-yield``: every patch square of the scan (side ``run.patch``,
    positions every ``max(1, patch // 2)`` as the protocol scans) holds an element
    (:func:`femplastic.weakplane.probes.local_yield.check_mesh_patches`).

    Parameters
    ----------
    params : ModelParams
    run : RunParams

    Raises
    ------
    ValueError
        Naming ``run.patch``.
    """
    if params.mesh is None or run.protocol != "local-yield":
        return
    from .probes.local_yield import check_mesh_patches

    mesh = load_model_mesh(params.mesh)
    n = run.settings()["patch"]
    n = min(n, params.L) if run.patch is None else n
    g = np.arange(0, params.L, max(1, n // 2))
    check_mesh_patches(mesh, n, np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2),
                       "run.patch")


def mesh_table(table: dict[str, Any]) -> dict[str, Any]:
    """A ``[model]`` table with ``L`` (and ``l``) derived from ``table["mesh"]`` when unset.

    Parameters
    ----------
    table : dict
        The ``[model]`` table as read from TOML / ``--set`` (values may be strings).

    Returns
    -------
    dict
        A copy with ``L = round(sqrt(n_elem))`` and ``l = sqrt(mean element area)`` added
        when absent; the table unchanged when it has no ``mesh``.
    """
    path = table.get("mesh")
    if path is None:
        return table
    if isinstance(path, str):
        path = path.strip()
    mesh = load_model_mesh(path)
    out = dict(table, mesh=path)
    out.setdefault("L", max(2, round(math.sqrt(mesh.n_elem))))
    out.setdefault("l", float(np.sqrt(np.mean(mesh.areas))))
    return out


def mesh_provenance(params: Any) -> dict[str, Any]:
    """``{"mesh": path, "mesh_sha256": hex, "mesh_n_elem": n}`` of ``params.mesh`` (or {}).

    Parameters
    ----------
    params : ModelParams

    Returns
    -------
    dict
        Empty when ``params.mesh`` is None.
    """
    if getattr(params, "mesh", None) is None:
        return {}
    mesh, digest = _cached(*_stat(params.mesh))
    return {"mesh": str(params.mesh), "mesh_sha256": digest, "mesh_n_elem": int(mesh.n_elem)}

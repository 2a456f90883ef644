"""ParaView fields: an XDMF time series of element fields, written step by step.

:class:`XdmfWriter` writes ``NAME.xdmf`` (the XML index) and ``NAME.h5`` (the arrays) beside
it. The layout is chosen so that every XDMF reader sees the same thing:

* the domain holds exactly **one** grid, a temporal collection; each time step is a uniform
  grid of ``n_elem`` quadrilaterals (2D) or hexahedra (3D, a
  :class:`~femplastic.fe.mesh3d.HexMesh`: one grid of ``L^3`` cells per step) whose
  topology and geometry point to the same two datasets (``/mesh/cells``,
  ``/mesh/points``) and whose cell attributes point to ``/steps/NNNNNN/<field>``.
  ParaView's Xdmf2 reader ("XDMF Reader", ``vtkXdmfReader``) and its Xdmf3 readers
  therefore return one grid of ``n_elem`` cells per time, and ``meshio``'s
  ``TimeSeriesReader`` reads it too. (meshio's own writer adds a second, frozen grid at the
  domain level, which the Xdmf2 reader returns as a second block.)
* Crash-safe (a SIGKILL at any moment leaves an index that names whole, readable files only):
  no file is ever changed in place. Each step's arrays go to a new file
  ``STAGING/NNNNNN.h5`` (default ``NAME.steps/``, written under a temporary name and
  renamed), then the index is replaced by one that names that step too (its text is kept in
  memory: a step costs one index write, about 1.3 kB per step already written). ``NAME.h5``
  holds the mesh (written, then renamed, before the first step); when the writer is
  closed (normally or by an exception) every step is copied into ``NAME.h5`` as
  ``/steps/NNNNNN/<field>``, which replaces the old one whole, the index is replaced by one
  naming it, and the staging folder is removed. The index exists from the first step on
  (VTK's Xdmf2 reader, ParaView's default, crashes on an index without a grid).
* ``NAME.h5`` carries the provenance (parameters, seed, version, creation time, see
  :func:`femplastic.io.results.provenance`) and a ``status`` attribute, ``"running"`` until the
  writer is closed normally, then ``"complete"``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from numpy.typing import NDArray

from ..fe.elasticity import von_mises
from ..fe.elasticity3d import equivalent_shear3
from ..fe.mesh import FEMesh
from ..fe.mesh3d import HexMesh
from .outdir import replace_file
from .results import provenance

__all__ = ["XdmfWriter", "element_fields"]

_HEADER = ('<?xml version="1.0" encoding="utf-8"?>\n'
           '<Xdmf Version="3.0">\n'
           '  <Domain>\n'
           '    <Grid Name="fields" GridType="Collection" CollectionType="Temporal">\n')
_FOOTER = "    </Grid>\n  </Domain>\n</Xdmf>\n"


def element_fields(
    stress: NDArray[np.float64], eps_pl: NDArray[np.float64] | None = None, **extra: NDArray
) -> dict[str, NDArray[np.float64]]:
    """Standard ParaView cell fields from element arrays.

    Parameters
    ----------
    stress : (n_elem, 3) or (n_elem, 6) ndarray
        Voigt stress, 2D (xx, yy, xy) or 3D (xx, yy, zz, yz, xz, xy), LJ units; written as a
        3x3 tensor field ``stress`` (ParaView's 9 components) and the scalar ``von_mises``,
        ``(1/2 sigma' : sigma')^(1/2)`` (``sqrt(J2)`` in 3D).
    eps_pl : (n_elem, 3) or (n_elem, 6) ndarray, optional
        Plastic strain, written as ``plastic_strain`` (tensor) and ``plastic_shear``
        (its von Mises-like magnitude).
    **extra
        Further cell arrays, (n_elem,) or (n_elem, k).

    Returns
    -------
    dict
        Field name -> (n_elem,) or (n_elem, 9) float64 array.
    """

    def tensor(v: NDArray[np.float64]) -> NDArray[np.float64]:
        t = np.zeros((v.shape[0], 3, 3))
        if v.shape[1] == 6:  # 3D Voigt (xx, yy, zz, yz, xz, xy)
            for c, (i, j) in enumerate(((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))):
                t[:, i, j] = t[:, j, i] = v[:, c]
            return t.reshape(-1, 9)
        t[:, 0, 0], t[:, 1, 1] = v[:, 0], v[:, 1]
        t[:, 0, 1] = t[:, 1, 0] = v[:, 2]
        return t.reshape(-1, 9)

    def shear(v: NDArray[np.float64]) -> NDArray[np.float64]:
        return equivalent_shear3(v) if v.shape[1] == 6 else von_mises(v)

    out = {"stress": tensor(stress), "von_mises": shear(stress)}
    if eps_pl is not None:
        out["plastic_strain"] = tensor(eps_pl)
        out["plastic_shear"] = shear(eps_pl)
    out.update({k: np.asarray(v, dtype=float) for k, v in extra.items()})
    return out


def _data_item(h5name: str, path: str, dtype: np.dtype, shape: tuple[int, ...]) -> str:
    kind = "Int" if np.issubdtype(dtype, np.integer) else "Float"
    dims = " ".join(str(d) for d in shape)
    return (f'<DataItem DataType="{kind}" Precision="{dtype.itemsize}" '
            f'Dimensions="{dims}" Format="HDF">{h5name}:{path}</DataItem>')


def _attribute_type(shape: tuple[int, ...]) -> str:
    if len(shape) == 1:
        return "Scalar"
    return {9: "Tensor", 3: "Vector"}.get(shape[1], "Matrix")


class XdmfWriter:
    """XDMF time series of cell fields for ParaView, safe to interrupt or kill.

    Use it as a context manager. See the module docstring for the file layout.

    Parameters
    ----------
    filename : str or Path
        The ``.xdmf`` index; the arrays go to the ``.h5`` with the same stem beside it. Both
        are created (replaced if they exist).
    mesh : FEMesh or HexMesh
        Written once (unwrapped node coordinates, one quadrilateral per element, or one
        hexahedron in VTK node order for a 3D mesh).
    params, seed : optional
        Provenance stored in the ``.h5`` root attributes (see
        :func:`femplastic.io.results.provenance`).
    staging : str or Path, optional
        Folder of the steps' files until the writer is closed (default ``NAME.steps``
        beside the index; replaced; removed at the close).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import meshio, numpy as np
    >>> from femplastic.fe.mesh import periodic_grid
    >>> mesh = periodic_grid(4, l=6.6)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = pathlib.Path(tmp) / "fields.xdmf"
    ...     with XdmfWriter(path, mesh) as w:
    ...         for gamma in (0.0, 0.1):
    ...             w.write(gamma, stress=np.full((16, 3), gamma), slips=np.zeros(16))
    ...     with meshio.xdmf.TimeSeriesReader(path) as r:
    ...         points, cells = r.read_points_cells()
    ...         t, _, cell_data = r.read_data(1)
    >>> r.num_steps, t, sorted(cell_data)
    (2, 0.1, ['slips', 'stress', 'von_mises'])
    """

    def __init__(self, filename: str | Path, mesh: FEMesh, params: Any = None,
                 seed: Any = None, staging: str | Path | None = None) -> None:
        filename = Path(filename)
        if filename.suffix != ".xdmf":
            raise ValueError(f"filename must end in .xdmf, got {filename.name!r}")
        if not isinstance(mesh, FEMesh | HexMesh):
            raise TypeError(f"mesh must be a femplastic FEMesh or HexMesh, got "
                            f"{type(mesh).__name__}")
        self.filename = filename
        self.h5_filename = filename.with_suffix(".h5")
        self.staging = (Path(staging) if staging is not None
                        else filename.with_name(filename.stem + ".steps"))
        self._mesh = mesh
        self._params, self._seed = params, seed
        self._open = False
        self._steps: list[tuple[str, float, dict[str, tuple[np.dtype, tuple[int, ...]]]]] = []
        self.num_steps = 0

    def __enter__(self) -> XdmfWriter:
        import shutil

        self.filename.parent.mkdir(parents=True, exist_ok=True)
        self._points = np.ascontiguousarray(self._mesh.nodes, dtype=np.float64)
        self._cells = np.ascontiguousarray(self._mesh.cells, dtype=np.int64)
        self._steps = []
        self._grids: list[bytes] = []  # the index's grids naming the staging files
        self.num_steps = 0
        self._write_index([])  # no step: no index before fields.h5 is replaced
        replace_file(self.h5_filename, lambda tmp: self._write_h5(tmp, "running", staged=False))
        shutil.rmtree(self.staging, ignore_errors=True)  # a killed writer's steps
        self.staging.mkdir(parents=True)
        self._open = True
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.close(complete=exc_type is None)

    def _write_h5(self, path: Path, status: str, staged: bool) -> None:
        """The mesh, provenance and ``status``; with ``staged``, every step copied in."""
        with h5py.File(path, "w") as f:
            for key, value in provenance(self._params, self._seed).items():
                f.attrs[key] = value
            f.attrs["status"] = status
            g = f.create_group("mesh")
            g.create_dataset("points", data=self._points)
            g.create_dataset("cells", data=self._cells)
            steps = f.create_group("steps")
            if staged:
                for step, _, _ in self._steps:
                    with h5py.File(self.staging / f"{step}.h5", "r") as src:
                        src.copy(src["/"], steps, name=step)

    def _grid(self, step: str, t: float, fields: dict[str, Any], staged: bool) -> bytes:
        """The index's grid of one step (its arrays in the staging file or in ``NAME.h5``)."""
        h5 = self.h5_filename.name
        n = self._cells.shape[0]
        topo, geo = (("Hexahedron", "XYZ") if self._cells.shape[1] == 8
                     else ("Quadrilateral", "XY"))
        rel = os.path.relpath(self.staging, self.filename.parent).replace(os.sep, "/")
        where, prefix = (f"{rel}/{step}.h5", "") if staged else (h5, f"/steps/{step}")
        parts = [
            f'      <Grid Name="step_{step}" GridType="Uniform">\n',
            f'        <Time Value="{float(t)!r}"/>\n',
            f'        <Topology TopologyType="{topo}" NumberOfElements="{n}">'
            f'{_data_item(h5, "/mesh/cells", self._cells.dtype, self._cells.shape)}'
            '</Topology>\n',
            f'        <Geometry GeometryType="{geo}">'
            f'{_data_item(h5, "/mesh/points", self._points.dtype, self._points.shape)}'
            '</Geometry>\n',
        ]
        for name, (dt, shape) in fields.items():
            parts.append(f'        <Attribute Name="{name}" AttributeType='
                         f'"{_attribute_type(shape)}" Center="Cell">'
                         f'{_data_item(where, f"{prefix}/{name}", dt, shape)}</Attribute>\n')
        parts.append("      </Grid>\n")
        return "".join(parts).encode()

    def _write_index(self, grids: list[bytes]) -> None:
        """Replace the whole index by one with ``grids``.

        Without a step there is no index (VTK's Xdmf2 reader crashes on an empty one).
        """
        if not grids:
            self.filename.unlink(missing_ok=True)
            return
        text = b"".join([_HEADER.encode(), *grids, _FOOTER.encode()])
        replace_file(self.filename, lambda tmp: tmp.write_bytes(text))

    def close(self, complete: bool = True) -> None:
        """Gather the steps into ``NAME.h5`` (``status`` ``"complete"`` if ``complete``).

        ``NAME.h5`` is replaced whole, then the index is replaced to name it, then the
        staging files are removed: a crash at any moment leaves an index naming whole files.
        """
        import shutil

        if not self._open:
            return
        self._open = False
        status = "complete" if complete else "running"
        replace_file(self.h5_filename, lambda tmp: self._write_h5(tmp, status, staged=True),
                 sync=True)
        self._write_index([self._grid(st, t, f, staged=False) for st, t, f in self._steps])
        shutil.rmtree(self.staging, ignore_errors=True)

    def write(
        self,
        t: float,
        stress: NDArray[np.float64],
        eps_pl: NDArray[np.float64] | None = None,
        **extra: NDArray,
    ) -> None:
        """Append one time step of element fields (see :func:`element_fields`).

        The arrays go to a new staging file (written and renamed), then the index is
        replaced by one naming it too: a crash at any moment leaves an index naming whole
        files only.

        Parameters
        ----------
        t : float
            Time value of the step (``femplastic run`` writes the external strain).
        stress : (n_elem, 3) or (n_elem, 6) ndarray
            Voigt stress (2D or 3D), LJ units.
        eps_pl : (n_elem, 3) or (n_elem, 6) ndarray, optional
            Plastic strain.
        **extra
            Further cell arrays, (n_elem,) or (n_elem, k).

        Raises
        ------
        RuntimeError
            Outside the ``with`` block.
        ValueError
            If an array does not have one row per element.
        """
        if not self._open:
            raise RuntimeError("XdmfWriter.write must be called inside its `with` block")
        n = self._cells.shape[0]
        fields = element_fields(np.asarray(stress, dtype=float),
                                None if eps_pl is None else np.asarray(eps_pl, dtype=float),
                                **extra)
        for name, arr in fields.items():
            if arr.shape[0] != n or arr.ndim > 2:
                raise ValueError(f"field {name!r} must have shape (n_elem,) or (n_elem, k) "
                                 f"with n_elem = {n}, got {arr.shape}")
        step = f"{self.num_steps:06d}"

        def put(tmp: Path) -> None:
            with h5py.File(tmp, "w") as f:
                f.attrs["time"] = float(t)
                for name, arr in fields.items():
                    f.create_dataset(name, data=np.ascontiguousarray(arr))

        replace_file(self.staging / f"{step}.h5", put)  # on disk before the index names it
        self._steps.append((step, float(t), {k: (np.dtype(a.dtype), a.shape)
                                             for k, a in fields.items()}))
        self._grids.append(self._grid(*self._steps[-1], staged=True))
        self._write_index(self._grids)
        self.num_steps += 1

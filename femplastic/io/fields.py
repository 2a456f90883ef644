"""ParaView fields: an XDMF time series of element fields, written step by step.

:class:`XdmfWriter` writes ``NAME.xdmf`` (the XML index) and ``NAME.h5`` (the arrays) beside
it. The layout is chosen so that every XDMF reader sees the same thing:

* the domain holds exactly **one** grid, a temporal collection; each time step is a uniform
  grid of ``n_elem`` quadrilaterals whose topology and geometry point to the same two
  datasets (``/mesh/cells``, ``/mesh/points``) and whose cell attributes point to
  ``/steps/NNNNNN/<field>``. ParaView's Xdmf2 reader ("XDMF Reader", ``vtkXdmfReader``) and its
  Xdmf3 readers therefore return one grid of ``n_elem`` cells per time, and ``meshio``'s
  ``TimeSeriesReader`` reads it too. (meshio's own writer adds a second, frozen grid at the
  domain level, which the Xdmf2 reader returns as a second block.)
* Writing a step costs the same whatever the number of steps already written: the arrays are
  appended to the HDF5 file, then the new grid is written over the closing tags at the end of
  the index, followed by the closing tags again. The HDF5 file is flushed *before* the index
  names the new step, so after an interruption (even SIGKILL) the index lists only steps whose
  data are on disk, and it is well-formed XML whenever no step is being appended.
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
from ..fe.mesh import FEMesh
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
    stress : (n_elem, 3) ndarray
        Voigt stress (xx, yy, xy), LJ units; written as a 3x3 tensor field ``stress``
        (ParaView's 9 components, ``xx, xy, yy`` at 0, 1, 4) and the scalar ``von_mises``.
    eps_pl : (n_elem, 3) ndarray, optional
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
        t[:, 0, 0], t[:, 1, 1] = v[:, 0], v[:, 1]
        t[:, 0, 1] = t[:, 1, 0] = v[:, 2]
        return t.reshape(-1, 9)

    out = {"stress": tensor(stress), "von_mises": von_mises(stress)}
    if eps_pl is not None:
        out["plastic_strain"] = tensor(eps_pl)
        out["plastic_shear"] = von_mises(eps_pl)
    out.update({k: np.asarray(v, dtype=float) for k, v in extra.items()})
    return out


def _data_item(h5name: str, path: str, arr: NDArray[Any]) -> str:
    kind = "Int" if np.issubdtype(arr.dtype, np.integer) else "Float"
    dims = " ".join(str(d) for d in arr.shape)
    return (f'<DataItem DataType="{kind}" Precision="{arr.dtype.itemsize}" '
            f'Dimensions="{dims}" Format="HDF">{h5name}:{path}</DataItem>')


def _attribute_type(arr: NDArray[Any]) -> str:
    if arr.ndim == 1:
        return "Scalar"
    return {9: "Tensor", 3: "Vector"}.get(arr.shape[1], "Matrix")


class XdmfWriter:
    """XDMF time series of cell fields for ParaView, safe to interrupt, cheap to append.

    Use it as a context manager. See the module docstring for the file layout.

    Parameters
    ----------
    filename : str or Path
        The ``.xdmf`` index; the arrays go to the ``.h5`` with the same stem beside it. Both
        are created (replaced if they exist).
    mesh : FEMesh
        Written once (unwrapped node coordinates, one quad per element).
    params, seed : optional
        Provenance stored in the ``.h5`` root attributes (see
        :func:`femplastic.io.results.provenance`).

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
                 seed: Any = None) -> None:
        filename = Path(filename)
        if filename.suffix != ".xdmf":
            raise ValueError(f"filename must end in .xdmf, got {filename.name!r}")
        if not isinstance(mesh, FEMesh):
            raise TypeError(f"mesh must be a femplastic FEMesh, got {type(mesh).__name__}")
        self.filename = filename
        self.h5_filename = filename.with_suffix(".h5")
        self._mesh = mesh
        self._params, self._seed = params, seed
        self._h5: h5py.File | None = None
        self._xml: Any = None
        self.num_steps = 0

    def __enter__(self) -> XdmfWriter:
        self.filename.parent.mkdir(parents=True, exist_ok=True)
        self._h5 = h5py.File(self.h5_filename, "w")
        for key, value in provenance(self._params, self._seed).items():
            self._h5.attrs[key] = value
        self._h5.attrs["status"] = "running"
        g = self._h5.create_group("mesh")
        self._points = np.ascontiguousarray(self._mesh.nodes, dtype=np.float64)
        self._cells = np.ascontiguousarray(self._mesh.cells, dtype=np.int64)
        g.create_dataset("points", data=self._points)
        g.create_dataset("cells", data=self._cells)
        self._h5.create_group("steps")
        self._h5.flush()
        self._xml = open(self.filename, "w+b")  # noqa: SIM115 (kept open, closed in __exit__)
        self._xml.write((_HEADER + _FOOTER).encode())
        self._xml.flush()
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.close(complete=exc_type is None)

    def close(self, complete: bool = True) -> None:
        """Close both files; ``status`` becomes ``"complete"`` only when ``complete``."""
        if self._h5 is not None:
            if complete:
                self._h5.attrs["status"] = "complete"
            self._h5.close()
            self._h5 = None
        if self._xml is not None:
            self._xml.close()
            self._xml = None

    def write(
        self,
        t: float,
        stress: NDArray[np.float64],
        eps_pl: NDArray[np.float64] | None = None,
        **extra: NDArray,
    ) -> None:
        """Append one time step of element fields (see :func:`element_fields`).

        Parameters
        ----------
        t : float
            Time value of the step (``femplastic run`` writes the external strain).
        stress : (n_elem, 3) ndarray
            Voigt stress, LJ units.
        eps_pl : (n_elem, 3) ndarray, optional
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
        if self._h5 is None or self._xml is None:
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
        g = self._h5["steps"].create_group(step)
        g.attrs["time"] = float(t)
        for name, arr in fields.items():
            g.create_dataset(name, data=np.ascontiguousarray(arr))
        self._h5.flush()  # the data are on disk before the index names them
        h5 = self.h5_filename.name
        parts = [
            f'      <Grid Name="step_{step}" GridType="Uniform">\n',
            f'        <Time Value="{float(t)!r}"/>\n',
            f'        <Topology TopologyType="Quadrilateral" NumberOfElements="{n}">'
            f'{_data_item(h5, "/mesh/cells", self._cells)}</Topology>\n',
            f'        <Geometry GeometryType="XY">'
            f'{_data_item(h5, "/mesh/points", self._points)}</Geometry>\n',
        ]
        for name, arr in fields.items():
            parts.append(f'        <Attribute Name="{name}" AttributeType="{_attribute_type(arr)}"'
                         f' Center="Cell">{_data_item(h5, f"/steps/{step}/{name}", arr)}'
                         f'</Attribute>\n')
        parts.append("      </Grid>\n")
        self._xml.seek(-len(_FOOTER), os.SEEK_END)
        self._xml.write(("".join(parts) + _FOOTER).encode())
        self._xml.flush()
        self.num_steps += 1

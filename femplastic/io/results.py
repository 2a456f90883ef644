"""Results on disk: HDF5 with provenance, and ParaView XDMF time series of element fields.

* :func:`write_hdf5` / :func:`read_hdf5` -- nested dicts of arrays and scalars in one HDF5
  file; the root attributes carry the parameters (JSON), the seed, the package version and
  a creation time.
* :class:`XdmfWriter` -- a meshio XDMF time series of cell fields (stress tensor, von Mises
  stress, plastic strain, slip-system fields...). It fixes two meshio 5.3.5 pitfalls: the
  ``.h5`` lands *beside* the ``.xdmf`` (not in the current directory, meshio issue 1351), and
  the ``.xdmf`` index is rewritten and the HDF5 flushed after every step, so an interrupted
  run leaves a readable file with every step written so far.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path
from typing import Any

import h5py
import meshio
import numpy as np
from meshio._common import write_xml
from meshio.xdmf.time_series import TimeSeriesWriter
from numpy.typing import NDArray

from ..fe.elasticity import von_mises
from ..fe.mesh import FEMesh

__all__ = ["write_hdf5", "read_hdf5", "provenance", "XdmfWriter", "element_fields"]


def provenance(params: Any = None, seed: Any = None) -> dict[str, Any]:
    """Metadata every result carries: parameters (JSON-able), seed, package version, time.

    Parameters
    ----------
    params : object, optional
        Parameters: anything with a ``to_dict()`` method (e.g. ``ModelParams``, ``Config``),
        dicts, lists, numbers, strings, NumPy arrays and scalars.
    seed : object, optional
        The seed: an int, a ``numpy.random.SeedSequence`` or a JSON-able structure.

    Returns
    -------
    dict
        ``femplastic_version``, ``created`` (UTC, ISO 8601), ``params`` and ``seed`` (both
        JSON strings).
    """
    from .. import __version__

    return {
        "femplastic_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "params": json.dumps(_jsonable(params), sort_keys=True),
        "seed": json.dumps(_jsonable(seed)),
    }


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "to_dict"):
        return _jsonable(obj.to_dict())
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.random.SeedSequence):
        return {"entropy": obj.entropy, "spawn_key": list(obj.spawn_key)}
    return obj


def _write_group(g: h5py.Group, data: dict[str, Any]) -> None:
    for key, value in data.items():
        if isinstance(value, dict):
            _write_group(g.require_group(key), value)
        elif value is None:
            continue
        elif isinstance(value, str):
            g.attrs[key] = value
        else:
            arr = np.asarray(value)
            if arr.ndim == 0:
                g.attrs[key] = arr
            else:
                if key in g:
                    del g[key]
                g.create_dataset(key, data=arr, compression="gzip" if arr.size > 4096 else None)


def write_hdf5(
    path: str | Path, data: dict[str, Any], params: Any = None, seed: Any = None
) -> Path:
    """Write nested ``data`` (dicts of arrays / scalars / strings) to an HDF5 file.

    The file is written to a temporary name and renamed, so a crash never leaves a
    half-written results file under the final name.

    Parameters
    ----------
    path : str or Path
        The ``.h5`` file (replaced if it exists).
    data : dict
        Arrays become datasets (gzip-compressed above 4096 values), scalars and strings
        become attributes, nested dicts become groups; None values are skipped.
    params, seed : optional
        Stored as JSON in the root attributes together with the package version and the
        creation time (see :func:`provenance`).

    Returns
    -------
    Path
        ``path``.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> import numpy as np
    >>> from femplastic.weakplane.params import ModelParams
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     f = write_hdf5(pathlib.Path(tmp) / "r.h5", {"curve": {"gamma": np.arange(3.0)},
    ...                    "note": "demo"}, params=ModelParams(L=8), seed=3)
    ...     back = read_hdf5(f)
    >>> back["curve"]["gamma"].tolist(), back["note"]
    ([0.0, 1.0, 2.0], 'demo')
    >>> json.loads(back["params"])["L"], json.loads(back["seed"])
    (8, 3)
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    with h5py.File(tmp, "w") as f:
        for k, v in provenance(params, seed).items():
            f.attrs[k] = v
        _write_group(f, data)
    os.replace(tmp, path)
    return path


def read_hdf5(path: str | Path) -> dict[str, Any]:
    """Read a file written by :func:`write_hdf5` back into nested dicts (attrs included).

    Parameters
    ----------
    path : str or Path
        An HDF5 file, e.g. the ``results.h5`` of ``femplastic run``.

    Returns
    -------
    dict
        Groups become dicts, datasets NumPy arrays, attributes values (bytes decoded to
        str). The root holds the provenance: ``params`` and ``seed`` are JSON strings
        (``json.loads`` them), ``femplastic_version`` and ``created`` plain strings.
    """

    def read(g: h5py.Group) -> dict[str, Any]:
        out: dict[str, Any] = {
            k: (v.decode() if isinstance(v, bytes) else v) for k, v in g.attrs.items()
        }
        for k, v in g.items():
            out[k] = read(v) if isinstance(v, h5py.Group) else v[()]
        return out

    with h5py.File(path, "r") as f:
        return read(f)


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


class XdmfWriter(TimeSeriesWriter):
    """meshio XDMF time series writer that survives interruptions.

    Use it as a context manager; the ``.h5`` with the arrays is written beside the ``.xdmf``
    index, and both stay readable if the run is interrupted between two steps.

    Parameters
    ----------
    filename : str or Path
        The ``.xdmf`` file; the heavy data goes to the ``.h5`` with the same stem beside it.
    mesh : FEMesh
        Written once (unwrapped node coordinates, one quad per element).

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

    def __init__(self, filename: str | Path, mesh: FEMesh) -> None:
        filename = Path(filename)
        if filename.suffix != ".xdmf":
            raise ValueError(f"filename must end in .xdmf, got {filename.name!r}")
        super().__init__(filename, data_format="HDF")
        self._mesh = mesh

    def __enter__(self) -> XdmfWriter:
        self.filename.parent.mkdir(parents=True, exist_ok=True)
        self.h5_filename = str(self.filename.with_suffix(".h5"))
        self.h5_file = h5py.File(self.h5_filename, "w")
        pts = np.zeros((self._mesh.nodes.shape[0], 3))
        pts[:, :2] = self._mesh.nodes
        self.write_points_cells(pts, [meshio.CellBlock("quad", self._mesh.cells)])
        self._flush()
        return self

    def __exit__(self, *exc: object) -> None:
        self._flush()
        self.h5_file.close()

    def _flush(self) -> None:
        self.h5_file.flush()
        tmp = self.filename.with_name(self.filename.name + ".part")
        write_xml(tmp, self.xdmf_file)
        os.replace(tmp, self.filename)

    def write(
        self,
        t: float,
        stress: NDArray[np.float64],
        eps_pl: NDArray[np.float64] | None = None,
        **extra: NDArray,
    ) -> None:
        """Append one time step of element fields and flush (see :func:`element_fields`).

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
        """
        fields = element_fields(stress, eps_pl, **extra)
        self.write_data(float(t), cell_data={k: [v] for k, v in fields.items()})
        self._flush()

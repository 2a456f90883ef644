"""Results on disk: nested dicts of arrays and scalars in one HDF5 file, with provenance.

:func:`write_hdf5` / :func:`append_hdf5` / :func:`read_hdf5`; the root attributes carry the
parameters (JSON), the
seed, the package version and a creation time (:func:`provenance`). ParaView fields are in
:mod:`femplastic.io.fields`.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from .outdir import replace_file

__all__ = ["write_hdf5", "append_hdf5", "extend_hdf5", "truncate_hdf5", "move_hdf5",
           "read_rows", "read_attrs", "publish_hdf5", "read_hdf5", "provenance"]


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
        JSON strings); with a ``model.mesh`` also ``mesh``, ``mesh_sha256``, ``mesh_n_elem``.
    """
    from .. import __version__
    from ..weakplane.meshfile import mesh_provenance

    return {
        "femplastic_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "params": json.dumps(_jsonable(params), sort_keys=True),
        "seed": json.dumps(_jsonable(seed)),
        # model.mesh: the file's path, SHA-256 and element count (ModelParams or Config)
        **mesh_provenance(getattr(params, "model", params)),
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
    def write(tmp: Path) -> None:
        with h5py.File(tmp, "w") as f:
            for k, v in provenance(params, seed).items():
                f.attrs[k] = v
            _write_group(f, data)

    return replace_file(path, write)  # no .part left behind, whatever happened


def append_hdf5(path: str | Path, data: dict[str, Any]) -> Path:
    """Add (or replace) groups, datasets and attributes in an existing results file.

    ``femplastic run`` writes each realisation this way as soon as it is finished.

    Parameters
    ----------
    path : str or Path
        A file written by :func:`write_hdf5`.
    data : dict
        As for :func:`write_hdf5`; existing datasets of the same name are replaced.

    Returns
    -------
    Path
        ``path``.
    """
    with h5py.File(path, "a") as f:
        _write_group(f, data)
    return Path(path)


def publish_hdf5(path: str | Path, data: dict[str, Any]) -> Path:
    """Add ``data`` to a results file without ever changing it in place (crash-safe).

    A copy of ``path`` is changed (as :func:`append_hdf5`), flushed to disk and renamed over
    it: a crash at any moment leaves either the previous or the new whole file (an in-place
    change killed half-way can leave an HDF5 file unreadable).

    Parameters
    ----------
    path, data
        As for :func:`append_hdf5`.

    Returns
    -------
    Path
        ``path``.
    """
    import shutil

    def write(tmp: Path) -> None:
        shutil.copyfile(path, tmp)
        append_hdf5(tmp, data)

    return replace_file(path, write, sync=True)


def extend_hdf5(path: str | Path, group: str, rows: dict[str, Any]) -> int:
    """Append rows to resizable datasets of ``group`` (created on first use); returns the rows.

    ``femplastic run`` streams the load-step records of a realisation this way, a chunk at
    a time, so they never all sit in memory. The datasets grow along their first axis
    (chunked, gzip-compressed); :func:`read_hdf5` reads them like any other.

    Parameters
    ----------
    path : str or Path
        A file written by :func:`write_hdf5`.
    group : str
        Group path, e.g. ``"realizations/r0000"`` (created if missing).
    rows : dict of str to array_like
        Arrays with the same first dimension (the new rows); the other dimensions must match
        the existing datasets'.

    Returns
    -------
    int
        The number of rows after the append.
    """
    arrays = {k: np.asarray(v) for k, v in rows.items()}
    sizes = {a.shape[0] for a in arrays.values()}
    if len(sizes) != 1:
        raise ValueError(f"extend_hdf5: rows of different lengths {sorted(sizes)}")
    k = sizes.pop()
    total = 0
    with h5py.File(path, "a") as f:
        g = f.require_group(group)
        for name, a in arrays.items():
            if name not in g:
                g.create_dataset(name, shape=(0, *a.shape[1:]), maxshape=(None, *a.shape[1:]),
                                 dtype=a.dtype, chunks=(4096, *a.shape[1:]), compression="gzip")
            d = g[name]
            n0 = d.shape[0]
            d.resize(n0 + k, axis=0)
            d[n0:] = a
            total = n0 + k
        f.flush()
    return total


def truncate_hdf5(path: str | Path, group: str, n: int) -> None:
    """Cut every resizable dataset of ``group`` to its first ``n`` rows.

    Parameters
    ----------
    path : str or Path
        A results file.
    group : str
        Group written by :func:`extend_hdf5` (nothing happens if it does not exist).
    n : int
        Rows to keep (>= 0; datasets already shorter are left as they are).
    """
    with h5py.File(path, "a") as f:
        if group not in f:
            return
        for d in f[group].values():
            if isinstance(d, h5py.Dataset) and d.maxshape[0] is None and d.shape[0] > n:
                d.resize(n, axis=0)


def move_hdf5(path: str | Path, src: str, dst: str) -> None:
    """Rename the group or dataset ``src`` to ``dst`` (a link move: no data is copied).

    Parameters
    ----------
    path : str or Path
    src, dst : str
        Paths inside the file; ``dst``'s parent groups are created, an existing ``dst`` is
        replaced.
    """
    with h5py.File(path, "a") as f:
        parent = dst.rsplit("/", 1)[0] if "/" in dst else ""
        if parent:
            f.require_group(parent)
        if dst in f:
            del f[dst]
        f.move(src, dst)
        if "/" in src and not len(f[src.rsplit("/", 1)[0]]):
            del f[src.rsplit("/", 1)[0]]  # no empty parent left behind


def read_rows(path: str | Path, group: str, name: str, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of dataset ``group/name`` (reads only that slice).

    Parameters
    ----------
    path : str or Path
    group, name : str
    start, stop : int

    Returns
    -------
    ndarray
    """
    with h5py.File(path, "r") as f:
        return f[group][name][start:stop]


def read_attrs(path: str | Path, group: str = "/") -> dict[str, Any]:
    """The attributes of ``group`` (bytes decoded to str).

    Parameters
    ----------
    path : str or Path
    group : str

    Returns
    -------
    dict
    """
    with h5py.File(path, "r") as f:
        return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f[group].attrs.items()}


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

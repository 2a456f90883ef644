"""The HDF5 store of an ensemble: its layout, its identity check, and resume.

Store layout
    ::

        /                          attrs: femplastic_version, created, params, seed (JSON),
                                          ensemble (the definition, canonical JSON),
                                          realizations (largest requested)
        /points/p0003              attrs: params (JSON) and every parameter, e.g. "model.L"
        /points/p0003/r0012/<key>  one dataset per result key (0-d for scalars; above 4096
                                   values shuffle + gzip, compressed by the worker); attrs:
                                   complete=1, spawn_key, wall_s, femplastic_version

    Only the driver process writes; workers return their results. Each result is written as
    it arrives, its group marked ``complete=1`` last, and the file flushed. Rerunning the
    same ensemble on the same store computes only what is missing: a killed run loses at most
    the realisations in flight, groups without ``complete`` are discarded and recomputed, and
    a store made by a different ensemble (function, points, seed or seeding) is refused with a
    ``ValueError``. More realisations than before extend the store.

The store is identified by the ensemble's *definition* (function name, points, seed, seeding,
as canonical JSON); :class:`~femplastic.ensemble.runners.Ensemble` writes it through
``_Store`` (the driver's handle), :func:`~femplastic.ensemble.data.load_store` reads it back.
Results are canonicalised and, above 4096 values, compressed on the worker (``_Packed``).
"""

from __future__ import annotations

import json
import os
import uuid
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from numpy.typing import NDArray

__all__: list[str] = []


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _normalise_points(points: Sequence[Mapping[str, Any]] | Mapping[str, Any]
                      ) -> list[dict[str, Any]]:
    if isinstance(points, Mapping):
        points = [points]
    if isinstance(points, str | bytes) or not isinstance(points, Sequence):
        raise TypeError(f"points must be a dict or a list of dicts, got {type(points).__name__}")
    if len(points) == 0:
        raise ValueError("points must hold at least one parameter point")
    out = []
    for i, pt in enumerate(points):
        if not isinstance(pt, Mapping):
            raise TypeError(f"points[{i}] must be a dict, got {type(pt).__name__}")
        clean: dict[str, Any] = {}
        for k, v in pt.items():
            if not isinstance(k, str) or not k or "/" in k:
                raise ValueError(f"points[{i}]: parameter names must be non-empty strings "
                                 f"without '/', got {k!r}")
            if isinstance(v, np.generic):
                v = v.item()
            if not isinstance(v, bool | int | float | str):
                raise TypeError(f"points[{i}][{k!r}] must be a bool, int, float or str, got "
                                f"{type(v).__name__}")
            clean[k] = v
        out.append(clean)
    return out


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True)


def _canonical_result(result: Any, where: str) -> dict[str, Any]:
    """Check a realisation's result and convert it to numpy arrays / str / nested dicts."""
    if not isinstance(result, Mapping):
        raise TypeError(f"{where} must return a dict of arrays/scalars, got "
                        f"{type(result).__name__}")
    out: dict[str, Any] = {}
    for k, v in result.items():
        if not isinstance(k, str) or not k or "/" in k or k.startswith("."):
            raise TypeError(f"{where}: result keys must be non-empty strings without '/', "
                            f"got {k!r}")
        if isinstance(v, Mapping):
            out[k] = _canonical_result(v, f"{where}[{k!r}]")
        elif isinstance(v, str):
            out[k] = v
        else:
            arr = np.asarray(v)
            if arr.dtype.kind not in "biufc":
                raise TypeError(f"{where}: result[{k!r}] must be numeric (array, number, bool) "
                                f"or a str or dict, got {type(v).__name__} of dtype {arr.dtype}")
            out[k] = _Packed.pack(arr) if _Packed.wanted(arr) else arr
    return out


@dataclass(frozen=True)
class _Packed:
    """A large array compressed where it was computed (on the worker).

    The payload is exactly the HDF5 chunk a ``shuffle + gzip(1)`` dataset with one chunk
    holds, so the driver writes it with ``write_direct_chunk``: the driver, which shares
    the CPUs with the workers, does no compression, and less data crosses the network.
    """

    dtype: np.dtype
    shape: tuple[int, ...]
    payload: bytes

    @staticmethod
    def wanted(arr: NDArray[Any]) -> bool:
        return arr.size > 4096 and arr.nbytes <= 2**24 and arr.dtype.kind in "biuf"

    @classmethod
    def pack(cls, arr: NDArray[Any]) -> _Packed:
        arr = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("="))
        shuffled = arr.reshape(-1).view(np.uint8).reshape(arr.size, arr.itemsize).T
        return cls(arr.dtype, arr.shape, zlib.compress(shuffled.tobytes(), 1))


# ----------------------------------------------------------------------------- workers


def _write_data(g: h5py.Group, data: Mapping[str, Any]) -> None:
    for k, v in data.items():
        if isinstance(v, Mapping):
            _write_data(g.create_group(k), v)
        elif isinstance(v, str):
            g.create_dataset(k, data=v, dtype=h5py.string_dtype())
        elif isinstance(v, _Packed):
            # byte shuffle + fast gzip, one chunk per array: ~4x smaller curves; the chunk was
            # compressed by the worker
            ds = g.create_dataset(k, shape=v.shape, dtype=v.dtype, chunks=v.shape, shuffle=True,
                                  compression="gzip", compression_opts=1)
            ds.id.write_direct_chunk((0,) * len(v.shape), v.payload)
        elif v.size > 4096:
            g.create_dataset(k, data=v, chunks=True, shuffle=True, compression="gzip",
                             compression_opts=1)
        else:
            g.create_dataset(k, data=v)


def _read_data(g: h5py.Group, keys: Sequence[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in g.items():
        if keys is not None and k not in keys:
            continue
        if isinstance(v, h5py.Group):
            out[k] = _read_data(v)
        elif h5py.check_string_dtype(v.dtype) is not None:
            out[k] = v.asstr()[()]
        else:
            out[k] = v[()]
    return out


def _is_complete(g: h5py.Group) -> bool:
    return int(g.attrs.get("complete", 0)) == 1


def _open_h5(path: Path, mode: str) -> h5py.File:
    try:
        return h5py.File(path, mode)
    except OSError as exc:
        msg = str(exc)
        if "lock" in msg.lower():
            raise ValueError(f"store {str(path)!r} is open in another process (another ensemble "
                             f"run on the same store?): {msg}") from None
        raise ValueError(f"store {str(path)!r} is not a readable HDF5 file: {msg}") from None


def _point_difference(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> str:
    """Name the first parameter that differs between two lists of points, with both values."""
    if len(old) != len(new):
        return f"the number of points differs (stored {len(old)}, requested {len(new)})"
    for i, (a, b) in enumerate(zip(old, new, strict=True)):
        for k in sorted(set(a) | set(b)):
            if _canonical(a.get(k)) != _canonical(b.get(k)):
                where = f" at point {i}" if len(new) > 1 else ""
                va = a.get(k, "(absent)")
                vb = b.get(k, "(absent)")
                return f"{k} differs{where} (stored {va!r}, requested {vb!r})"
    return "the points differ"


class _Store:
    """The driver's handle on the HDF5 store: the only writer."""

    def __init__(self, path: Path, definition: dict[str, Any], points: list[dict[str, Any]],
                 realizations: int) -> None:
        self.path = path
        self.n_discarded = 0
        if not path.exists():
            self._create(definition, points)
        self.f = _open_h5(path, "a")
        try:
            self._check(definition)
            self.f.attrs["realizations"] = max(int(self.f.attrs.get("realizations", 0)),
                                               realizations)
            self.groups = [self.f["points"][f"p{i:04d}"] for i in range(len(points))]
            for g in self.groups:
                for name in [n for n in g if not _is_complete(g[n])]:
                    del g[name]
                    self.n_discarded += 1
            self.f.flush()
        except BaseException:
            self.f.close()
            raise

    def _create(self, definition: dict[str, Any], points: list[dict[str, Any]]) -> None:
        from ..io import provenance

        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + f".{uuid.uuid4().hex[:8]}.part")
        with h5py.File(tmp, "w") as f:
            for k, v in provenance(params=points, seed=definition["seed"]).items():
                f.attrs[k] = v
            f.attrs["ensemble"] = _canonical(definition)
            f.attrs["realizations"] = 0
            pg = f.create_group("points")
            for i, pt in enumerate(points):
                g = pg.create_group(f"p{i:04d}")
                g.attrs["params"] = _canonical(pt)
                for k, v in pt.items():
                    g.attrs[k] = v
        try:  # create-if-absent, atomically: a concurrent run's store is never replaced
            os.link(tmp, self.path)
        except FileExistsError:
            pass  # created meanwhile by another run: its definition is checked next
        except OSError:  # pragma: no cover - file systems without hard links
            if not self.path.exists():
                os.replace(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)

    def _check(self, definition: dict[str, Any]) -> None:
        if "ensemble" not in self.f.attrs or "points" not in self.f:
            raise ValueError(f"{str(self.path)!r} exists but is not an ensemble store; choose "
                             "another store path")
        old = json.loads(self.f.attrs["ensemble"])
        for key in ("func", "seed", "seeding", "points"):
            if _canonical(old.get(key)) != _canonical(definition[key]):
                shown = (_point_difference(old.get(key) or [], definition[key])
                         if key == "points" else
                         f"{key} differs (stored {old.get(key)!r}, requested "
                         f"{definition[key]!r})")
                raise ValueError(
                    f"store {str(self.path)!r} holds a different ensemble: {shown}. Use "
                    "another store path, or the same definition to resume it")

    def done(self) -> list[set[int]]:
        return [{int(n[1:]) for n in g if _is_complete(g[n])} for g in self.groups]

    def write(self, i: int, r: int, data: dict[str, Any], wall: float,
              spawn_key: tuple[int, ...]) -> None:
        from .. import __version__

        g = self.groups[i]
        name = f"r{r:04d}"
        if name in g:  # never complete here: pending excludes finished realisations
            del g[name]
        rg = g.create_group(name)
        _write_data(rg, data)
        rg.attrs["spawn_key"] = np.asarray(spawn_key, np.int64)
        rg.attrs["wall_s"] = wall
        rg.attrs["femplastic_version"] = __version__
        rg.attrs["complete"] = 1
        self.f.flush()

    def close(self) -> None:
        self.f.close()



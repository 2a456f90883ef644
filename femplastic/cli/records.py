"""Records of ``femplastic run`` on disk while a realisation runs, and read back after.

:class:`_ChunkFiles` holds a realisation's records as atomically written chunk files
``running/rNNNN/START-STOP.h5`` and publishes them into ``results.h5`` (a copy changed and
renamed over it); :class:`_H5Rows` reads a published realisation; :class:`_RecordStream`
feeds chunks to either and keeps the running statistics and decimated curve that the
summary and plot need, so memory does not grow with the run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..weakplane.estimates import RUN_RECORD_CHUNK

#: Points kept per curve for the plot (the records are decimated to about this many).
PLOT_POINTS = 20_000


class _H5Rows:
    """Rows of the records of a finished realisation (group ``group`` of ``results.h5``)."""

    def __init__(self, path: Path, group: str) -> None:
        self.path, self.group = path, group

    def read(self, name: str, a: int, b: int) -> np.ndarray:
        from .. import io

        return io.read_rows(self.path, self.group, name, a, b)


class _ChunkFiles:
    """The records of a realisation being sheared: one HDF5 file per chunk in ``folder``.

    ``START-STOP.h5`` holds rows ``START:STOP``; each is written to a temporary name and
    renamed (never changed afterwards), so a SIGKILL leaves whole files only.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        #: More chunk files (e.g. the avalanche log, in a sub-folder) whose columns
        #: :meth:`publish` adds to the same group, each with its own number of rows.
        self.also: list[_ChunkFiles] = []

    def files(self) -> list[tuple[int, int, Path]]:
        if not self.folder.is_dir():
            return []
        out = []
        for f in self.folder.glob("*.h5"):
            try:
                a, b = (int(x) for x in f.stem.split("-"))
            except ValueError:
                continue
            out.append((a, b, f))
        return sorted(out)

    def rows_upto(self, n: int) -> int:
        """Contiguous rows from 0 held by the files (counting up to ``n``)."""
        have = 0
        for a, b, _ in self.files():
            if a != have or have >= n:
                break
            have = b
        return have

    def write(self, start: int, rec: dict[str, np.ndarray]) -> None:
        from .. import io

        n = int(next(iter(rec.values())).shape[0])
        self.folder.mkdir(parents=True, exist_ok=True)
        io.write_hdf5(self.folder / f"{start:012d}-{start + n:012d}.h5", rec)

    def truncate(self, n: int) -> None:
        """Drop the files of rows ``>= n`` (file boundaries are chunk boundaries)."""
        for a, _, f in self.files():
            if a >= n:
                f.unlink()

    def read(self, name: str, a: int, b: int) -> np.ndarray:
        import h5py

        parts = []
        for s, e, f in self.files():
            if e > a and s < b:
                with h5py.File(f, "r") as h:
                    parts.append(h[name][max(a, s) - s:min(b, e) - s])
        return np.concatenate(parts) if parts else np.zeros(0)

    def publish(self, results: Path, group: str, attrs: dict[str, Any],
                root: dict[str, Any], extra: dict[str, Any] | None = None) -> None:
        """Add the records as ``group`` of ``results`` and ``root`` to its root, atomically.

        ``extra``: more (small) datasets of the group, e.g. per-cycle records.

        A copy of ``results`` is changed and renamed over it: the file is never changed in
        place, so a crash leaves the previous whole file.
        """
        import shutil

        import h5py

        from ..io.outdir import replace_file
        from ..io.results import _write_group

        def write(tmp: Path) -> None:
            shutil.copyfile(results, tmp)
            with h5py.File(tmp, "a") as f:
                if group in f:
                    del f[group]
                g = f.require_group(group)
                for k, v in attrs.items():
                    g.attrs[k] = v
                for part in (self, *self.also):
                    part._copy_into(g)
                if extra:
                    _write_group(g, extra)
                _write_group(f, root)

        replace_file(results, write, sync=True)

    def _copy_into(self, g: Any) -> None:
        """The files' columns as datasets of the HDF5 group ``g`` (rows in order)."""
        import h5py

        files = self.files()
        if not files:
            return
        n = files[-1][1]
        with h5py.File(files[0][2], "r") as h:
            shapes = {k: (h[k].shape[1:], h[k].dtype) for k in h.keys()}
        for k, (shp, dt) in shapes.items():
            g.create_dataset(k, shape=(n, *shp), maxshape=(None, *shp), dtype=dt,
                             chunks=(4096, *shp), compression="gzip")
        for a, b, path in files:
            with h5py.File(path, "r") as h:
                for k in shapes:
                    g[k][a:b] = h[k][()]

    def remove(self) -> None:
        import shutil

        shutil.rmtree(self.folder, ignore_errors=True)


class _RecordStream:
    """The load-step records of one realisation, written chunk by chunk.

    Keeps what the summary and plot need without the records: running statistics of the
    stationary stress (merged per chunk, Chan et al.) and the curve decimated to about
    :data:`PLOT_POINTS` points. Records are buffered up to ``chunk`` rows, then
    written (or earlier, at a checkpoint: :meth:`flush`).
    """

    def __init__(self, rows_of, stationary_from: float, n_steps: int,
                 chunk: int = RUN_RECORD_CHUNK) -> None:
        self.rows_of, self.from_gamma, self.chunk = rows_of, stationary_from, chunk
        self.stride = max(1, n_steps // PLOT_POINTS)
        self.rows = 0  # accounted (written or buffered)
        self.flushed = 0
        self.pending: list[dict[str, np.ndarray]] = []
        self.n, self.mean, self.m2 = 0, 0.0, 0.0
        self.g: list[np.ndarray] = []
        self.s: list[np.ndarray] = []

    def _account(self, gamma: np.ndarray, stress: np.ndarray, start: int) -> None:
        x = stress[gamma > self.from_gamma]
        if x.size:
            mb, m2b = float(x.mean()), float(((x - x.mean()) ** 2).sum())
            n = self.n + x.size
            d = mb - self.mean
            self.mean += d * x.size / n
            self.m2 += m2b + d * d * self.n * x.size / n
            self.n = n
        keep = np.arange((-start) % self.stride, gamma.size, self.stride)
        self.g.append(gamma[keep])
        self.s.append(stress[keep])

    def append(self, rec: dict[str, np.ndarray]) -> None:
        """Take the records of the next chunk (arrays named as ``femplastic.cli.run._KEYS``)."""
        self._account(rec["gamma"], rec["stress"], self.rows)
        self.pending.append(rec)
        self.rows += int(rec["gamma"].shape[0])
        if self.rows - self.flushed >= self.chunk:
            self.flush()

    def flush(self) -> None:
        """Write the buffered rows (one chunk file)."""
        if not self.pending:
            return
        rec = {k: np.concatenate([r[k] for r in self.pending]) for k in self.pending[0]}
        self.rows_of.write(self.flushed, rec)
        self.flushed = self.rows
        self.pending = []

    def replay(self, chunks: list[tuple[int, int]]) -> None:
        """Re-read the rows of ``chunks`` (row ranges) chunk by chunk, as they were taken.

        The statistics are merged over the same chunks as in the interrupted run, so the
        summary is bitwise that of an uninterrupted run.
        """
        for a, b in chunks:
            self._account(self.rows_of.read("gamma", a, b), self.rows_of.read("stress", a, b),
                          a)
            self.rows = self.flushed = b

    def restart_at(self, chunks: list[tuple[int, int]]) -> None:
        """Resume after ``chunks``: keep those rows (drop later ones), re-read them."""
        n = chunks[-1][1] if chunks else 0
        self.rows_of.truncate(n)
        self.replay(chunks)

    def stationary(self) -> tuple[float | None, float | None]:
        """Mean and standard deviation of the stress at ``gamma > stationary_from``."""
        if self.n == 0:
            return None, None
        return self.mean, float(np.sqrt(self.m2 / self.n))

    def curve(self) -> tuple[np.ndarray, np.ndarray]:
        """The decimated stress-strain curve (for the plot)."""
        return np.concatenate(self.g), np.concatenate(self.s)

    def write_csv(self, path: Path, rows: int) -> None:
        """``gamma,stress`` of the first ``rows`` steps, read back a chunk at a time."""
        from .. import io

        def lines():
            yield "gamma,stress\n"
            for a in range(0, rows, self.chunk):
                b = min(a + self.chunk, rows)
                g = self.rows_of.read("gamma", a, b)
                st = self.rows_of.read("stress", a, b)
                yield "".join(f"{x:.10g},{y:.10g}\n" for x, y in zip(g, st, strict=True))

        io.outdir.write_text(path, lines())


def mark_failed(out: Path, error: str) -> None:
    """``status = "failed"`` and ``error`` in ``summary.json`` and ``results.h5`` of ``out``.

    Each file is replaced whole (never changed in place); one that is missing or cannot be
    changed (a full disk) is left as it is: the run's own error is the one to report.

    Parameters
    ----------
    out : Path
        The run folder.
    error : str
        The exception's type and first line.
    """
    import json

    from ..io import publish_hdf5
    from ..io.outdir import write_text

    def summary(path: Path, change: dict[str, str]) -> None:
        write_text(path, json.dumps({**json.loads(path.read_text()), **change}, indent=2))

    for name, mark in (("summary.json", summary), ("results.h5", publish_hdf5)):
        if (out / name).exists():
            try:
                mark(out / name, {"status": "failed", "error": error})
            except Exception:  # noqa: BLE001, S110
                pass


def clear_failed(out: Path) -> None:
    """A failed run's ``results.h5`` back to ``status = "running"``, without ``error`` (resume).

    Parameters
    ----------
    out : Path
        The run folder (its ``results.h5`` exists, readable, with ``status = "failed"``).
    """
    import shutil

    import h5py

    from ..io.outdir import replace_file

    results = out / "results.h5"

    def write(tmp: Path) -> None:
        shutil.copyfile(results, tmp)
        with h5py.File(tmp, "a") as f:
            f.attrs["status"] = "running"
            f.attrs.pop("error", None)

    replace_file(results, write, sync=True)

"""Reading an ensemble store back: :class:`EnsembleData` and :func:`load_store`.

:func:`load_store` reads the complete realisations of a store
(:mod:`femplastic.ensemble.store`); :class:`EnsembleData` stacks, pools and averages them
through :mod:`femplastic.ensemble.stats`; :func:`summary_table` prints the stationary stress
of each point.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .stats import CurveStats, curve_stats, pooled
from .store import _is_complete, _open_h5, _read_data

__all__ = ["EnsembleData", "load_store", "summary_table"]


@dataclass
class EnsembleData:
    """An ensemble store read back.

    Attributes
    ----------
    path : Path
        The store read.
    definition : dict
        ``func``, ``points``, ``seed``, ``seeding``.
    points : list of dict
        The parameter points, in store order.
    results : list of dict
        ``results[i][r]`` is the result dict of realisation ``r`` of point ``i`` (complete
        realisations only).
    attrs : dict
        Root attributes (provenance: version, creation time, ...).
    incomplete : int
        Incomplete groups seen (they are recomputed by the next run).
    """

    path: Path
    definition: dict[str, Any]
    points: list[dict[str, Any]]
    results: list[dict[int, dict[str, Any]]]
    attrs: dict[str, Any] = field(default_factory=dict)
    incomplete: int = 0

    def realizations(self, point: int = 0) -> list[dict[str, Any]]:
        """Result dicts of one point ordered by realisation index.

        Parameters
        ----------
        point : int
            Index of the parameter point (default 0).

        Returns
        -------
        list of dict
            One result dict per complete realisation.
        """
        res = self.results[point]
        return [res[r] for r in sorted(res)]

    def stack(self, key: str, point: int = 0) -> NDArray[Any]:
        """``key`` of every realisation of ``point`` stacked: ``(n_real, *shape)``.

        Parameters
        ----------
        key : str
            Result key, e.g. ``"stress"``.
        point : int
            Index of the parameter point (default 0).

        Returns
        -------
        ndarray
            Shape ``(n_real, *shape)``.

        Raises
        ------
        ValueError
            If ``key`` has different shapes across realisations.
        KeyError
            If a realisation has no ``key``.
        """
        vals = [d[key] for d in self.realizations(point)]
        shapes = {np.shape(v) for v in vals}
        if len(shapes) > 1:
            raise ValueError(f"{key!r} has different shapes across realisations {sorted(shapes)}; "
                             "use pooled() or curve_stats()")
        return np.array(vals)

    def pooled(self, key: str, point: int = 0) -> NDArray[Any]:
        """``key`` of every realisation of ``point`` concatenated.

        See :func:`~femplastic.ensemble.stats.pooled`.

        Parameters
        ----------
        key : str
            Result key, e.g. ``"stationary_drops"``.
        point : int
            Index of the parameter point (default 0).

        Returns
        -------
        (n_total,) ndarray
            All realisations' values, in realisation order.

        Raises
        ------
        ValueError
            If the point has no complete realisation.
        KeyError
            If a realisation has no ``key``.
        """
        return pooled([d[key] for d in self.realizations(point)])

    def curves(self, x: str = "gamma", y: str = "stress", point: int = 0,
               grid: NDArray[np.float64] | None = None) -> CurveStats:
        """Ensemble mean/std of the ``y(x)`` curves of ``point``.

        See :func:`~femplastic.ensemble.stats.curve_stats`.

        Parameters
        ----------
        x, y : str
            Result keys of the abscissa and the ordinate (default ``"gamma"``,
            ``"stress"``).
        point : int
            Index of the parameter point (default 0).
        grid : (n_grid,) array, optional
            Common grid (see :func:`~femplastic.ensemble.stats.curve_stats`).

        Returns
        -------
        CurveStats
            Statistics over the point's complete realisations.

        Raises
        ------
        ValueError
            As :func:`~femplastic.ensemble.stats.curve_stats` (e.g. no realisation, or
            different ``x`` without ``grid``).
        """
        reals = self.realizations(point)
        return curve_stats([d[x] for d in reals], [d[y] for d in reals], grid=grid)


def load_store(path: str | Path, keys: Sequence[str] | None = None) -> EnsembleData:
    """Read an ensemble store (complete realisations only).

    Parameters
    ----------
    path : str or Path
    keys : sequence of str, optional
        Read only these result keys (the store may be large).

    Returns
    -------
    EnsembleData
        Definition, points, complete results and root attributes of the store.

    Raises
    ------
    ValueError
        If ``path`` does not exist, is not a readable HDF5 file (or is locked by a running
        ensemble), or is not an ensemble store.
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f"store {str(path)!r} does not exist")
    with _open_h5(path, "r") as f:
        if "ensemble" not in f.attrs or "points" not in f:
            raise ValueError(f"{str(path)!r} is not an ensemble store")
        definition = json.loads(f.attrs["ensemble"])
        points = definition["points"]
        results: list[dict[int, dict[str, Any]]] = []
        incomplete = 0
        for i in range(len(points)):
            g = f["points"][f"p{i:04d}"]
            res = {}
            for name in g:
                if _is_complete(g[name]):
                    res[int(name[1:])] = _read_data(g[name], keys)
                else:
                    incomplete += 1
            results.append(res)
        attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
    return EnsembleData(path, definition, points, results, attrs, incomplete)



def summary_table(data: EnsembleData, keys: Sequence[str] = ()) -> str:
    """One line per point: ``keys`` values, realisations, stationary stress mean +- s.e.m.

    The mean is over realisations of each realisation's stationary mean stress; ``std`` is the
    mean over realisations of the stationary standard deviation.

    Parameters
    ----------
    data : EnsembleData
        A store of :func:`~femplastic.weakplane.ensembles.model_realization` or
        :func:`~femplastic.weakplane.ensembles.model_statistics` results.
    keys : sequence of str
        Point parameters shown as the first columns (e.g. the keys of
        :func:`~femplastic.weakplane.ensembles.grid_points`).

    Returns
    -------
    str
        A header line and one right-aligned line per point; ``n/a`` where undefined.
    """
    head = [*keys, "n", "mean stress", "+-", "std stress"]
    rows = []
    for i, pt in enumerate(data.points):
        reals = data.realizations(i)
        m = np.array([float(d.get("stationary_mean", np.nan)) for d in reals])
        s = np.array([float(d.get("stationary_std", np.nan)) for d in reals])
        ok = np.isfinite(m)
        mean = f"{m[ok].mean():.4f}" if ok.any() else "n/a"
        err = f"{m[ok].std(ddof=1) / np.sqrt(ok.sum()):.4f}" if ok.sum() > 1 else "n/a"
        std = f"{s[ok].mean():.4f}" if ok.any() else "n/a"
        rows.append([*(str(pt.get(k)) for k in keys), str(len(reals)), mean, err, std])
    widths = [max(len(h), *(len(r[j]) for r in rows)) for j, h in enumerate(head)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(head, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)

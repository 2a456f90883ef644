"""Shared plumbing of the study scripts: command line, output folder, saving numbers."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np


def parse(doc: str, argv: list[str] | None, extra: list | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    for flags, kw in extra or []:
        ap.add_argument(*flags, **kw)
    ap.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    ap.add_argument("--out", default=None, help="output folder (default studies/out/<script name>)")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes: runs in seconds")
    return ap.parse_args(argv)


def run_study(doc: str, argv: list[str] | None, name: str, settings: Any, run: Any,
              plot: Any) -> tuple[Path, dict]:
    """The common course of a study's ``main``: command line, folder, run, figure.

    Parses ``argv`` (:func:`parse`), makes the output folder (:func:`out_dir`), runs
    ``run(settings, rng)`` with ``settings.smoke()`` under ``--smoke`` (else ``settings()``)
    and ``np.random.default_rng(--seed)``, and saves ``plot(results)`` as ``name.png``
    (dpi 100, then closed: :func:`save_png`). The numbers the study writes and prints are its own.

    Returns
    -------
    (Path, dict)
        The output folder and the results of ``run``.
    """
    args = parse(doc, argv)
    out = out_dir(args, name)
    results = run(settings.smoke() if args.smoke else settings(), np.random.default_rng(args.seed))
    save_png(plot(results), out / f"{name}.png", dpi=100)
    return out, results


def out_dir(args: argparse.Namespace, name: str, keep: tuple[str, ...] = ()) -> Path:
    """The study's output folder, ``--out`` or ``studies/out/<name>`` (see :func:`fresh_dir`)."""
    return fresh_dir(Path(args.out) if args.out else Path(__file__).resolve().parent / "out" / name,
                     keep)


def fresh_dir(out: Path, keep: tuple[str, ...] = ()) -> Path:
    """``out``, created, and empty but for ``keep``: a rerun never overwrites earlier results.

    A folder that already holds files (a previous run of the study) is moved aside whole to
    the first free ``<out>.1``, ``<out>.2``, ... (the rule of ``femplastic run``,
    :func:`femplastic.io.outdir.backup_path`), and a line says so. The files named in
    ``keep`` (a resumable store, e.g. the MD ensemble of ``lj_reference.py``) are carried
    over into the new folder instead.
    """
    import os

    from femplastic.io.outdir import backup_path

    out = Path(out)
    if out.is_dir() and any(out.iterdir()):
        moved = backup_path(out)
        os.replace(out, moved)
        out.mkdir(parents=True)
        carried = [k for k in keep if (moved / k).exists()]
        for k in carried:
            os.replace(moved / k, out / k)
        also = f" ({', '.join(carried)} carried over)" if carried else ""
        print(f"{out}: the previous results were moved to {moved}{also}", file=sys.stderr)
    out.mkdir(parents=True, exist_ok=True)
    return out


def jsonable(obj: Any, nonfinite_as_null: bool = False) -> Any:
    """``obj`` with numpy arrays and scalars as lists and Python numbers, for ``json.dumps``.

    With ``nonfinite_as_null``, floats (numpy ones included) that are NaN or infinite become
    ``None`` (strict JSON ``null``).
    """
    if isinstance(obj, dict):
        return {str(k): jsonable(v, nonfinite_as_null) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v, nonfinite_as_null) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        obj = obj.item()
    if nonfinite_as_null and isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def save(out: Path, name: str, results: dict, fig) -> None:
    """Write ``name.json`` (the numbers) and ``name.png`` (the figure, then closed)."""
    (out / f"{name}.json").write_text(json.dumps(jsonable(results), indent=1))
    save_png(fig, out / f"{name}.png")


def save_png(fig, path: Path, dpi: int = 130) -> None:
    """Write ``fig`` to ``path`` and close it (pyplot keeps every open figure alive)."""
    import matplotlib.pyplot as plt

    try:
        fig.savefig(path, dpi=dpi)
    finally:
        plt.close(fig)


def rngs(seed: int, n: int) -> list[np.random.Generator]:
    return [np.random.default_rng(c) for c in np.random.SeedSequence(seed).spawn(n)]

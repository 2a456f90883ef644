"""Output folders that never mix runs nor destroy what femplastic did not write.

``femplastic run --out DIR`` calls :func:`check_folder` before any work (it touches nothing)
and :func:`claim_folder` when the work starts:

* a folder holding files femplastic did not write is refused unless ``overwrite`` (then
  femplastic's own files in it are replaced and the others left alone);
* a previous femplastic run in the folder is moved aside, whole, to the first free numbered
  backup ``DIR.1``, ``DIR.2``, ... (so rerunning a command never loses a result);
* the marker file ``femplastic-run.json`` says ``"status": "running"`` from the start and
  ``"complete"`` only once the run has finished (:func:`mark`); a folder whose marker says
  ``running`` holds an interrupted run (its files are readable, the realisations finished
  so far are in ``results.h5``); ``"failed"`` (with ``error``, the exception's type and
  first line) says that the work raised after it had started (:func:`failure_marked`).
  Both resume.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["MARKER", "RUN_FILES", "RunFailed", "check_folder", "claim_folder", "mark",
           "failure_marked", "backup_path", "write_text", "replace_file"]

#: The marker file of a femplastic run folder.
MARKER = "femplastic-run.json"
#: Every file ``femplastic run`` writes into its folder (any protocol): the checkpoint and
#: the ``running/`` folder of an interrupted run (records of the realisation being sheared)
#: included.
RUN_FILES = ("results.h5", "curve.csv", "summary.json", "stress_strain.png", "fields.xdmf",
             "fields.h5", MARKER, "checkpoint.npz", "running", "cyclic.png", "stress.png",
             "bauschinger.png", "local-yield.png", "rate.png", "creep.png")
#: Endings of the temporary files of atomic writes (``NAME.part``, ``NAME.tmp``,
#: ``STEM.part.png``): a run killed while writing leaves one, and it is still femplastic's.
TEMP_SUFFIXES = (".part", ".tmp")


def _own(name: str, own: tuple[str, ...]) -> bool:
    if name in own:
        return True
    for suf in TEMP_SUFFIXES:
        if name.endswith(suf) and name[: -len(suf)] in own:
            return True
    return name.endswith(".part.png") and name[: -len(".part.png")] + ".png" in own


def _foreign(folder: Path, own: tuple[str, ...]) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not _own(p.name, own))


def check_folder(folder: str | Path, overwrite: bool = False, own: tuple[str, ...] = RUN_FILES,
                 option: str = "--out") -> None:
    """Check that ``folder`` can take a run; touches nothing.

    Parameters
    ----------
    folder : str or Path
        The output folder (it may not exist yet).
    overwrite : bool
        Accept a folder holding files femplastic did not write.
    own : tuple of str
        Names femplastic writes there.
    option : str
        The option named in the messages.

    Raises
    ------
    ValueError
        If ``folder`` is an existing file (or lies under one), holds files femplastic did not
        write (unless ``overwrite``), or cannot be written.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{option} {str(folder)!r} is an existing file, not a folder")
    anc = folder
    while not anc.exists():
        anc = anc.parent
    if not anc.is_dir():
        raise ValueError(f"{option} {str(folder)!r}: {str(anc)!r} is a file, not a folder")
    if folder.exists():
        foreign = _foreign(folder, own)
        if foreign and not overwrite:
            shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
            raise ValueError(
                f"{option} {str(folder)!r} holds files femplastic did not write ({shown}); "
                f"choose another folder, or pass --overwrite to write femplastic's files "
                "into it anyway (the others are left alone)")
    target = folder if folder.exists() else anc
    if not os.access(target, os.W_OK | os.X_OK):
        raise ValueError(f"{option} {str(folder)!r} is not writable ({str(target)!r})")
    probe = target / f".femplastic-probe-{os.getpid()}"
    try:  # os.access says yes to root on read-only file systems: try it
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise ValueError(f"{option} {str(folder)!r} is not writable: {exc.strerror}") from None


def backup_path(folder: str | Path) -> Path:
    """The first free numbered backup name ``folder.1``, ``folder.2``, ... beside ``folder``.

    Parameters
    ----------
    folder : str or Path

    Returns
    -------
    Path
    """
    folder = Path(folder)
    i = 1
    while (folder.parent / f"{folder.name}.{i}").exists():
        i += 1
    return folder.parent / f"{folder.name}.{i}"


def claim_folder(folder: str | Path, overwrite: bool = False,
                 own: tuple[str, ...] = RUN_FILES) -> Path | None:
    """Make ``folder`` ready for a new run; move a previous femplastic run aside.

    Parameters
    ----------
    folder : str or Path
    overwrite : bool
        As for :func:`check_folder`: a folder with foreign files is used in place and only
        femplastic's own files in it are replaced.
    own : tuple of str
        Names femplastic writes there.

    Returns
    -------
    Path or None
        Where the previous run was moved (None if there was none).

    Raises
    ------
    ValueError
        As :func:`check_folder`.
    """
    folder = Path(folder)
    check_folder(folder, overwrite, own)
    moved = None
    if folder.exists() and any(folder.iterdir()):
        if _foreign(folder, own):  # --overwrite: replace only femplastic's files
            import shutil

            for p in folder.iterdir():
                if _own(p.name, own):
                    shutil.rmtree(p) if p.is_dir() else p.unlink()
        else:
            moved = backup_path(folder)
            os.replace(folder, moved)
    folder.mkdir(parents=True, exist_ok=True)
    return moved


def mark(folder: str | Path, status: str, **info: Any) -> None:
    """Write the marker ``femplastic-run.json`` (atomically) with ``status`` and ``info``.

    Parameters
    ----------
    folder : str or Path
    status : str
        ``"running"``, ``"complete"`` or ``"failed"``.
    **info
        JSON-able details (seed, realisations finished, ...).
    """
    write_text(Path(folder) / MARKER,
               json.dumps({"status": status, **info}, indent=2, allow_nan=False))


class RunFailed(RuntimeError):
    """The work of a run raised after its folder was opened; the folder is marked failed.

    The original exception is ``__cause__``; ``folder`` is the run folder, ``error`` the
    ``"Type: first line"`` written into its marker.
    """

    def __init__(self, folder: Path, error: str) -> None:
        super().__init__(f"{error}; what was finished is kept in {folder} (marked failed)")
        self.folder, self.error = folder, error


@contextmanager
def failure_marked(folder: str | Path) -> Iterator[None]:
    """Mark the run in ``folder`` failed if the block raises (Ctrl-C excepted).

    The marker keeps its details and gets ``"status": "failed"`` and ``"error"``; the
    exception is raised again as :class:`RunFailed` from it. Ctrl-C (``KeyboardInterrupt``)
    leaves the marker as it is (``running``: an interrupted run).
    """
    folder = Path(folder)
    try:
        yield
    except Exception as exc:
        lines = str(exc).strip().splitlines()
        error = type(exc).__name__ + (f": {lines[0]}" if lines else "")
        try:
            info = json.loads((folder / MARKER).read_text())
            info.pop("status", None)
        except (OSError, ValueError, AttributeError):
            info = {}
        try:
            mark(folder, "failed", **{**info, "error": error})
        except OSError:  # (a full disk, say: the exception itself is what the user needs)
            pass
        raise RunFailed(folder, error) from exc


def write_text(path: str | Path, text: str | Iterable[str]) -> None:
    """Write ``text`` to ``path`` atomically: a ``.part`` file renamed over it, never left.

    Parameters
    ----------
    path : str or Path
        The file (replaced if it exists).
    text : str or iterable of str
        Its whole content, or its pieces in order (written as they come, e.g. from a
        generator, so a large file need not sit in memory).
    """
    def write(tmp: Path) -> None:
        with open(tmp, "w") as fh:
            fh.writelines([text] if isinstance(text, str) else text)

    replace_file(path, write)


def replace_file(path: str | Path, write: Callable[[Path], Any], sync: bool = False,
                 tmp: str | Path | None = None) -> Path:
    """``write(tmp)``, then ``tmp`` renamed over ``path``: a kill never leaves half a file.

    The one form of every atomic file replacement of the package (results, records, fields,
    text, figures). The temporary file is removed whatever happens.

    Parameters
    ----------
    path : str or Path
        The file (replaced if it exists).
    write : callable
        ``write(tmp)`` writes the whole new content to the path ``tmp``.
    sync : bool
        Flush ``tmp`` to the disk before the rename (against a machine crash too).
    tmp : str or Path, optional
        The temporary file; default ``path`` with ``.part`` appended (a figure needs its
        extension last: ``NAME.part.png``).

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".part") if tmp is None else Path(tmp)
    try:
        write(tmp)
        if sync:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path

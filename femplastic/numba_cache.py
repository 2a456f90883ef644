"""Numba's on-disk kernel caches, dropped when any femplastic kernel source changes.

numba's ``cache=True`` checks only the source file of the function it loads. A cached kernel
that calls kernels of *another* file (``kmc_kernels.kmc_run`` calls ``kernels.find_active``,
``kernels.relax_fused`` calls the propagators' ``apply_form``) is therefore reused after that
other file changed, with the old callee compiled in; with changed argument layouts this
crashes the interpreter. :func:`refresh` hashes the sources of every kernel module together and,
when the hash differs from the one stored beside the caches, deletes femplastic's cache files
(``*.nbi``, ``*.nbc`` in the package's ``__pycache__`` folders) so that numba recompiles.
Each kernel module calls it before defining its kernels; the check costs one hash of ~100 kB.
Caches numba keeps elsewhere (``NUMBA_CACHE_DIR``) are not touched.

Known limit: a process that imported the *old* sources and is still running while they change
(a long run during a ``git pull`` of an editable install) can write caches of the old code
after a newer process has dropped them and stamped the new hash; numba accepts them (its stamp
is the caller's own file, unchanged) and a new process can then crash in a kernel. After
changing the sources under a running femplastic process, delete the stamp
(``femplastic/__pycache__/femplastic-kernels.sha256``) once that process has ended; the next
import drops the caches again.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["KERNEL_MODULES", "refresh", "sources_hash"]

_ROOT = Path(__file__).resolve().parent
#: The modules that hold numba kernels (paths relative to the package).
KERNEL_MODULES = ("fe/propagators/kernels.py", "weakplane/kernels.py",
                  "weakplane/kmc_kernels.py", "weakplane/aqs_kernels.py", "lattice/kernel.py",
                  "lattice/loops.py", "fe/propagators/kernels3d.py",
                  "weakplane/kernels3d.py", "weakplane/path_kernels.py",
                  "fe/propagators/sparse_kernels.py", "fe/propagators/packed_kernels.py",
                  "weakplane/relax3d.py", "weakplane/scan3d.py",
                  "weakplane/aqs_kernels3d.py", "weakplane/kmc_kernels3d.py",
                  "weakplane/path_kernels3d.py", "atomistic/pair_kernels.py",
                  "weakplane/path_rows.py", "weakplane/bydim.py", "weakplane/path_loop.py",
                  "weakplane/aqs_loop.py", "weakplane/relax_loop.py")
_STAMP = _ROOT / "__pycache__" / "femplastic-kernels.sha256"
_done = False


def sources_hash() -> str:
    """SHA-256 of the kernel modules' sources, in :data:`KERNEL_MODULES` order.

    Returns
    -------
    str
        Hex digest.
    """
    h = hashlib.sha256()
    for rel in KERNEL_MODULES:
        path = _ROOT / rel
        h.update(rel.encode())
        h.update(path.read_bytes() if path.exists() else b"")
    return h.hexdigest()


def refresh() -> bool:
    """Delete femplastic's numba cache files if the kernel sources changed since they were made.

    Returns
    -------
    bool
        Whether caches were dropped (False also when the package folder is not writable:
        then numba keeps its caches elsewhere).
    """
    global _done
    if _done:
        return False
    _done = True
    digest = sources_hash()
    try:
        if _STAMP.exists() and _STAMP.read_text().strip() == digest:
            return False
        for cache in _ROOT.rglob("__pycache__/*.nb[ic]"):
            cache.unlink(missing_ok=True)
        _STAMP.parent.mkdir(exist_ok=True)
        tmp = _STAMP.with_name(_STAMP.name + ".part")
        tmp.write_text(digest + "\n")
        tmp.replace(_STAMP)
    except OSError:  # read-only install, or another process is doing the same
        return False
    return True

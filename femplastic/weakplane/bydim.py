"""Compile-time choice of a dimension's kernel piece, for loops shared by 2D and 3D.

The compiled protocol loops (:mod:`femplastic.weakplane.path_loop`,
:mod:`femplastic.weakplane.aqs_loop`) are written once; what differs between dimensions (the
relaxation kernels, the scans, the stress loading, the means and energies) are small
functions of the same name in a 2D and a 3D module. :func:`by_dim` makes a stub
``piece(dim, a0, a1, ...)`` that a jitted loop calls with ``dim`` a literal integer (the loop calls
``numba.literally(dim)``; its public 2D and 3D entry points pass the constant 2 or 3): while
the loop is compiled, the stub resolves to the 2D or 3D module's function and calls it with
``a0, a1, ...``. Nothing is chosen at run time, the other dimension's kernels are never compiled,
and ``cache=True`` keeps working (no function is passed as an argument). The 2D and 3D
modules are imported when a loop is first compiled, not when this module is imported, so
they may import the shared loops themselves.

A name that holds a number (a constant such as ``SCAN_BLOCK``) gives a stub ``piece(dim)``
that returns it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from numba.core import types
from numba.extending import overload

__all__ = ["by_dim"]


def by_dim(name: str, mod2: str, mod3: str, nargs: int) -> Callable[..., Any]:
    """A stub ``name(dim, a0, ..)`` compiled as ``mod2.name(a0, ..)`` (dim 2) or ``mod3``'s.

    Parameters
    ----------
    name : str
        The piece's name in both modules: a jitted function, or a number (then ``nargs`` is
        0 and the stub returns it).
    mod2, mod3 : str
        The 2D and 3D modules, relative to :mod:`femplastic.weakplane` (``".path_kernels"``).
    nargs : int
        The piece's arguments. The stub and its compiled form take them one by one (no
        ``*args`` tuple, whose packing costs reference counts at every call).

    Returns
    -------
    callable
        The stub; callable from jitted code only, with ``dim`` a literal 2 or 3.
    """
    params = "".join(f", a{i}" for i in range(nargs))
    ns: dict[str, Any] = {}
    exec(f"def stub(dim{params}):\n    raise NotImplementedError({name!r})\n"  # noqa: S102
         f"def typer(dim{params}):\n    return choose(dim)\n", ns)
    stub = ns["stub"]
    stub.__name__ = stub.__qualname__ = name

    def choose(dim: Any) -> Any:
        if not isinstance(dim, types.IntegerLiteral) or dim.literal_value not in (2, 3):
            return None  # numba retries with the literal (or fails to type)
        piece = getattr(importlib.import_module(mod2 if dim.literal_value == 2 else mod3,
                                                __package__), name)
        body = repr(piece) if isinstance(piece, int | float) else f"piece({params[2:]})"
        out: dict[str, Any] = {"piece": piece}
        exec(f"def impl(dim{params}):\n    return {body}\n", out)  # noqa: S102
        return out["impl"]

    ns["choose"] = choose
    overload(stub, inline="always")(ns["typer"])
    return stub

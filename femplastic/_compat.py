"""Import aliases for the module paths of femplastic 0.1 (before the per-model folders).

``import femplastic.scalar`` or ``from femplastic.drivers.aqs import aqs`` keep working: the old
name is bound, in ``sys.modules``, to the *same* module object as its new home (never a second
copy, so classes, numba functions and ``isinstance`` checks are shared). The table is the
"what moved where" of the CHANGELOG.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from types import ModuleType

#: Old module path -> new module path (prefix match: submodules move with their package).
MOVED: dict[str, str] = {
    "femplastic.mesh": "femplastic.fe.mesh",
    "femplastic.elasticity": "femplastic.fe.elasticity",
    "femplastic.fem": "femplastic.fe.assembly",
    "femplastic.propagator": "femplastic.fe.propagators",
    "femplastic.kernels": "femplastic.weakplane.kernels",
    "femplastic.params": "femplastic.weakplane.params",
    "femplastic.slip": "femplastic.weakplane.slip",
    "femplastic.state": "femplastic.weakplane.state",
    "femplastic.variants": "femplastic.weakplane.variants",
    "femplastic.observables": "femplastic.weakplane.observables",
    "femplastic.calibration": "femplastic.weakplane.calibration",
    "femplastic.drivers": "femplastic.weakplane.drivers",
    "femplastic.probes": "femplastic.weakplane.probes",
    "femplastic.scalar": "femplastic.lattice",
    "femplastic.scalar_observables": "femplastic.lattice.observables",
}


def new_name(old: str) -> str | None:
    """The current module path of a former one, or None if ``old`` did not move."""
    for prefix, target in MOVED.items():
        if old == prefix or old.startswith(prefix + "."):
            return target + old[len(prefix):]
    return None


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, alias: str, target: str) -> None:
        self._alias = alias
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(self.target)
        self._spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # module_from_spec rebinds __spec__ to the alias spec: give the module its own back.
        module.__spec__ = self._spec
        # Alias the package's loaded submodules now: importing one later through the old name
        # would otherwise rebind the package attribute of the same name (``drivers.aqs``, the
        # function) to the submodule.
        old = self._alias
        for name in [m for m in sys.modules if m.startswith(self.target + ".")]:
            sys.modules.setdefault(old + name[len(self.target):], sys.modules[name])


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):  # noqa: D102
        new = new_name(fullname)
        if new is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(fullname, new))


def install() -> None:
    """Put the alias finder first on ``sys.meta_path`` (idempotent)."""
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _AliasFinder())

"""Doctest collection of the package (``--doctest-modules``): skip optional-dependency modules.

:mod:`femplastic.weakplane.gpu.loop` imports JAX at module level (the accelerated backend is
an optional extra); without JAX it is not collected.
"""

import importlib.util

collect_ignore = []
if importlib.util.find_spec("jax") is None:
    collect_ignore.append("femplastic/weakplane/gpu/loop.py")

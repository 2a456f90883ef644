"""``femplastic info``: the version and a quick self-check of the FE core."""

from __future__ import annotations

import argparse

import numpy as np

__all__ = ["cmd_info"]


def cmd_info(args: argparse.Namespace) -> int:
    """Print the version and check the periodic kernel against a sparse FE solve.

    Returns 0 when they agree to ``1e-9``, else 1.
    """
    from .. import __version__
    from ..fe.assembly import element_stress, eshelby_tensor
    from ..fe.elasticity import Isotropic
    from ..fe.mesh import periodic_grid
    from ..fe.propagators import PeriodicKernel

    L = 8
    m = periodic_grid(L, 6.6)
    mat = Isotropic()
    pk = PeriodicKernel(m, mat)
    rng = np.random.default_rng(0)
    epl = rng.normal(size=(L * L, 3))
    err = np.abs(pk.stress(epl) - element_stress(m, mat, epl)).max()
    S = eshelby_tensor(m, mat)
    print(f"femplastic {__version__}")
    print(f"  fast periodic kernel vs sparse FE solve on {L}x{L}: max |diff| = {err:.2e}")
    print(f"  Eshelby tensor of one element (l = 6.6): S_xyxy = {S[2, 2]:.4f}")
    return 0 if err < 1e-9 else 1

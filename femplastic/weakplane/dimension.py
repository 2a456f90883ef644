"""Dimension of the weak-plane model: ``ModelParams.dim`` (2 or 3) and what exists for 3D.

``ModelParams(dim=3)`` is accepted and validated here (:func:`check_dim`); its ingredients are
built by :func:`material_3d` (``Isotropic3D(G, K=B)``) and :func:`slip_law_3d`
(:class:`~femplastic.weakplane.slip3d.SlipLaw3D`). The drivers are 2D only so far (issue #26):
:func:`require_2d` refuses 3D parameters with :class:`DimensionNotAvailable` before any work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from .params import ModelParams

__all__ = ["VARIANTS_3D", "DimensionNotAvailable", "check_dim", "require_2d", "material_3d",
           "slip_law_3d"]

#: Variants whose ingredients exist in 3D: Drucker-Prager thresholds (B), the original
#: model (C), homogeneous non-evolving thresholds (E).
VARIANTS_3D = ("B", "C", "E")


class DimensionNotAvailable(NotImplementedError, ValueError):
    """A 2D-only code path was given ``dim = 3`` parameters (a ``ValueError`` for the CLI)."""


def check_dim(dim: Any, variant: str, N: Any) -> None:
    """Validate ``ModelParams.dim`` with the keys that depend on it.

    Parameters
    ----------
    dim : int
        2 or 3.
    variant : str
        The (normalised) variant; 3D takes :data:`VARIANTS_3D`.
    N : int
        Systems per element; 3D needs ``N >= 6`` (isotropic systems spanning the five
        deviatoric directions; no multiple-of-4 rule). Non-integers are left to the caller.

    Raises
    ------
    TypeError
        If ``dim`` is not an integer.
    ValueError
        If ``dim`` is not 2 or 3, or a 3D model has another variant or ``N < 6``.
    """
    if isinstance(dim, bool | np.bool_) or not isinstance(dim, int | np.integer):
        raise TypeError(f"dim must be an integer (2 or 3), got {type(dim).__name__} {dim!r}")
    if dim not in (2, 3):
        raise ValueError(f"dim must be 2 or 3, got {dim!r}")
    if dim == 3 and variant not in VARIANTS_3D:
        raise ValueError(f"variant {variant} has no 3D form yet; dim = 3 takes variant "
                         f"{', '.join(VARIANTS_3D)}")
    if dim == 3 and isinstance(N, int | np.integer) and not isinstance(N, bool) and N < 6:
        raise ValueError(f"N must be an integer >= 6 for dim = 3 (isotropic systems spanning "
                         f"the 5 deviatoric directions), got {N!r}")


def require_2d(params: ModelParams, what: str) -> None:
    """Refuse 3D parameters in a 2D-only code path, before any work.

    Parameters
    ----------
    params : ModelParams
        The model parameters.
    what : str
        The refusing code path, named in the message (e.g. ``"femplastic run"``).

    Raises
    ------
    DimensionNotAvailable
        (a ``NotImplementedError`` and a ``ValueError``) when ``params.dim != 2``.
    """
    dim = getattr(params, "dim", 2)
    if dim != 2:
        raise DimensionNotAvailable(
            f"model.dim = {dim}: the 3D drivers are not yet available ({what} is 2D only; "
            "issue #26: the 3D FE core and slip systems exist in "
            "femplastic.fe.propagators.periodic3d and femplastic.weakplane.slip3d); set "
            "model.dim = 2")


def _need_3d(params: ModelParams, name: str) -> None:
    if getattr(params, "dim", 2) != 3:
        raise ValueError(f"{name} needs ModelParams(dim=3), got dim = {params.dim}")


def material_3d(params: ModelParams) -> Any:
    """The 3D elastic material of ``params``: ``Isotropic3D(G, K=B)``.

    Parameters
    ----------
    params : ModelParams
        With ``dim = 3``; ``B`` is read as the 3D bulk modulus.

    Returns
    -------
    femplastic.fe.elasticity3d.Isotropic3D
        Homogeneous moduli.

    Raises
    ------
    ValueError
        If ``params.dim`` is not 3.
    """
    _need_3d(params, "material_3d")
    from ..fe.elasticity3d import Isotropic3D

    return Isotropic3D(params.G, params.B)


def slip_law_3d(params: ModelParams) -> Any:
    """The 3D slip law of ``params.variant``.

    C: ``N`` isotropic systems, Weibull ``(k, lam)``, bounded power law ``chi``; B adds the
    Drucker-Prager shift ``dp_a (p + dp_p0)``, ``p = -tr(Sigma) / 3``; E has constant,
    never-renewed thresholds ``tau_c_fixed``.

    Parameters
    ----------
    params : ModelParams
        With ``dim = 3``.

    Returns
    -------
    femplastic.weakplane.slip3d.SlipLaw3D
        A new law built from the fields.

    Raises
    ------
    ValueError
        If ``params.dim`` is not 3.
    """
    _need_3d(params, "slip_law_3d")
    from .slip import BoundedPowerLaw, ConstantThreshold, Weibull
    from .slip3d import SlipLaw3D

    amp = BoundedPowerLaw(params.chi)
    if params.variant == "E":
        return SlipLaw3D(N=params.N, threshold=ConstantThreshold(params.tau_c_fixed),
                         amplitude=amp, renew_thresholds=False)
    a, p0 = (params.dp_a, params.dp_p0) if params.variant == "B" else (0.0, 0.0)
    return SlipLaw3D(N=params.N, threshold=Weibull(params.k, params.lam), amplitude=amp,
                     pressure_coefficient=a, pressure_offset=p0)

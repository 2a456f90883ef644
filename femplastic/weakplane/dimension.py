"""Dimension of the weak-plane model: ``ModelParams.dim`` (2 or 3) and what exists for 3D.

``ModelParams(dim=3)`` is accepted and validated here (:func:`check_dim`); its ingredients are
built by :func:`material_3d` (``Isotropic3D(G, K=B)``) and :func:`slip_law_3d`
(:class:`~femplastic.weakplane.slip3d.SlipLaw3D`).

The drivers are shared by both dimensions: what differs is data carried by the model (the
number of stress components, the loading tensor, the compiled kernels), and the drivers ask
this module for it: :func:`kernels_of` (the 2D or 3D compiled kernels, same signatures),
:func:`loading_tensor`, :func:`resolve` and :func:`equivalent_shear`. Code paths that exist
in 2D only refuse 3D parameters with :func:`require_2d` before any work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from .params import ModelParams

__all__ = ["VARIANTS_3D", "DimensionNotAvailable", "check_dim", "require_2d", "material_3d",
           "slip_law_3d", "components", "kernels_of", "path_kernels_of", "loading_tensor",
           "resolve", "equivalent_shear"]

#: Variants whose ingredients exist in 3D: Drucker-Prager thresholds (B), the original
#: model (C), homogeneous non-evolving thresholds (E).
VARIANTS_3D = ("B", "C", "E")


class DimensionNotAvailable(NotImplementedError, ValueError):
    """A 2D-only code path was given ``dim = 3`` parameters (a ``ValueError`` for the CLI)."""


def check_dim(dim: Any, variant: str, N: Any, L: Any = None) -> None:
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
    L : int, optional
        Elements per side; 3D needs ``L >= 3`` (the smallest periodic Hex8 grid,
        :func:`femplastic.fe.mesh3d.periodic_grid3d`). Non-integers are left to the caller.

    Raises
    ------
    TypeError
        If ``dim`` is not an integer.
    ValueError
        If ``dim`` is not 2 or 3, or a 3D model has another variant, ``N < 6`` or ``L < 3``.
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
    if dim == 3 and isinstance(L, int | np.integer) and not isinstance(L, bool) and L < 3:
        raise ValueError(f"L must be an integer >= 3 for dim = 3 (the smallest periodic Hex8 "
                         f"grid, 27 elements), got {L!r}")


def components(dim: int) -> int:
    """Voigt components of a symmetric tensor: 3 in 2D ``(xx, yy, xy)``, 6 in 3D.

    Parameters
    ----------
    dim : int
        2 or 3.

    Returns
    -------
    int
        ``3`` or ``6`` (3D order ``(xx, yy, zz, yz, xz, xy)``, tensor shear).
    """
    return 6 if dim == 3 else 3


def kernels_of(dim: int) -> tuple[Any, Any, Any]:
    """The compiled kernels of a dimension: ``(relax, aqs loop, kmc)`` modules.

    2D: :mod:`~femplastic.weakplane.kernels`, :mod:`~femplastic.weakplane.aqs_kernels`,
    :mod:`~femplastic.weakplane.kmc_kernels`; 3D: :mod:`~femplastic.weakplane.relax3d`,
    :mod:`~femplastic.weakplane.aqs_kernels3d`, :mod:`~femplastic.weakplane.kmc_kernels3d`,
    with the same function names, signatures, bundles and order of random draws.

    Parameters
    ----------
    dim : int
        2 or 3 (``model.params.dim``).

    Returns
    -------
    tuple of module
    """
    if dim == 3:
        from . import aqs_kernels3d, kmc_kernels3d, relax3d

        return relax3d, aqs_kernels3d, kmc_kernels3d
    from . import aqs_kernels, kmc_kernels
    from . import kernels as K

    return K, aqs_kernels, kmc_kernels


def path_kernels_of(dim: int) -> Any:
    """The compiled cyclic and stress-controlled loops of a dimension.

    Parameters
    ----------
    dim : int
        2 or 3.

    Returns
    -------
    module
        :mod:`~femplastic.weakplane.path_kernels` (2D) or
        :mod:`~femplastic.weakplane.path_kernels3d` (3D): same functions and statuses.
    """
    if dim == 3:
        from . import path_kernels3d

        return path_kernels3d
    from . import path_kernels

    return path_kernels


def loading_tensor(dim: int, alpha: float) -> Any:
    """Unit loading tensor ``M(alpha)`` of simple shear at orientation ``alpha`` (radians).

    2D: :func:`femplastic.fe.elasticity.schmid`. 3D: the same shear in the xy plane (rotated
    by ``alpha`` about the z axis), Voigt ``(xx, yy, zz, yz, xz, xy)``:
    ``(-sin 2alpha / 2, sin 2alpha / 2, 0, 0, 0, cos 2alpha / 2)``; ``alpha = 0`` is simple
    shear ``E_xy`` (the default loading), ``alpha = pi/2`` its reverse.

    Parameters
    ----------
    dim : int
        2 or 3.
    alpha : float
        Orientation, radians.

    Returns
    -------
    (3,) or (6,) float64 ndarray
        Tensor-Voigt, ``M : M = 1/2``.
    """
    from ..fe.elasticity import schmid

    m = schmid(alpha)
    if dim != 3:
        return m
    return np.array([m[0], m[1], 0.0, 0.0, 0.0, m[2]])


def resolve(M: Any, stress: Any) -> Any:
    """``M : stress`` in tensor-Voigt form, 2D (3 components) or 3D (6).

    Parameters
    ----------
    M, stress : (..., C) array_like
        Broadcast together; ``C`` 3 or 6.

    Returns
    -------
    ndarray or float
        The double contraction.
    """
    from ..fe.elasticity import ddot
    from ..fe.elasticity3d import ddot3

    return ddot3(M, stress) if np.shape(M)[-1] == 6 else ddot(M, stress)


def equivalent_shear(stress: Any) -> Any:
    """``(1/2 sigma' : sigma')^(1/2)`` of 2D (..., 3) or 3D (..., 6) Voigt stresses.

    Parameters
    ----------
    stress : (..., C) array_like

    Returns
    -------
    ndarray
        The 2D von Mises measure of the paper, or ``sqrt(J2)`` in 3D.
    """
    from ..fe.elasticity import von_mises
    from ..fe.elasticity3d import equivalent_shear3

    return equivalent_shear3(stress) if np.shape(stress)[-1] == 6 else von_mises(stress)


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
            f"model.dim = {dim}: {what} is 2D only (3D has the quench, aqs, cyclic, stress "
            "control, bauschinger and local_yield); set model.dim = 2")


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

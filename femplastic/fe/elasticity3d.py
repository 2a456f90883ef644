"""Isotropic 3D linear elasticity and 6-component Voigt helpers (the Hex8 path).

Conventions (see the docs' conventions page, section "3D"):

* Voigt order ``(xx, yy, zz, yz, xz, xy)`` with the **tensor** shear components
  ``eps_yz, eps_xz, eps_xy`` (not the engineering shears ``2 eps_ij``). The double contraction
  of two symmetric tensors is
  ``a : b = a_xx b_xx + a_yy b_yy + a_zz b_zz + 2 (a_yz b_yz + a_xz b_xz + a_xy b_xy)``
  (:func:`ddot3`, weights :data:`VOIGT_WEIGHTS_3D`).
* The stiffness maps tensor-Voigt strain to tensor-Voigt stress, ``sigma_v = C @ eps_v``; for
  ``sigma = 2 G dev(eps) + K tr(eps) I`` it is ``C = (K - 2G/3) 1 1^T + 2 G I_6`` (with the
  ``1`` the vector ``(1, 1, 1, 0, 0, 0)``), so ``sigma_xy = 2 G eps_xy``.
* Pressure ``p = -tr(sigma) / 3`` (positive in compression); the equivalent shear stress
  ``(1/2 sigma' : sigma')^(1/2) = sqrt(J2)`` (the 2D code's "von Mises" measure; the
  engineering von Mises stress is ``sqrt(3 J2)``).

Stresses and moduli in Lennard-Jones units. Nothing here is used by the 2D code; the Voigt <->
tensor conversions are the dimension-generic ones of :mod:`femplastic.fe.elasticity`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .elasticity import _from_tensor, _to_tensor

__all__ = [
    "Isotropic3D",
    "VOIGT_WEIGHTS_3D",
    "VOIGT_PAIRS_3D",
    "ddot3",
    "to_tensor3",
    "from_tensor3",
    "schmid3",
    "pressure3",
    "equivalent_shear3",
]

#: Weights of the double contraction in 3D tensor-Voigt notation, shape (6,).
VOIGT_WEIGHTS_3D = np.array([1.0, 1.0, 1.0, 2.0, 2.0, 2.0])
#: Tensor indices ``(i, j)`` of each Voigt component ``(xx, yy, zz, yz, xz, xy)``.
VOIGT_PAIRS_3D = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))


def ddot3(a: ArrayLike, b: ArrayLike) -> NDArray[np.float64]:
    """Double contraction ``a : b`` of symmetric 3D tensors in tensor-Voigt form.

    Parameters
    ----------
    a, b : (..., 6) array_like
        Voigt order (xx, yy, zz, yz, xz, xy), tensor shear components. Broadcast together.

    Returns
    -------
    (...) ndarray
        ``sum_c w_c a_c b_c`` with ``w = (1, 1, 1, 2, 2, 2)``.

    Examples
    --------
    >>> float(ddot3([0, 0, 0, 0, 0, 0.5], [0.1, -0.1, 0.0, 0.0, 0.0, 0.3]))
    0.3
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    return (a * b) @ VOIGT_WEIGHTS_3D


def to_tensor3(v: ArrayLike) -> NDArray[np.float64]:
    """Convert tensor-Voigt vectors ``(..., 6)`` to symmetric tensors ``(..., 3, 3)``.

    Parameters
    ----------
    v : (..., 6) array_like
        Voigt order (xx, yy, zz, yz, xz, xy), tensor shear components.

    Returns
    -------
    (..., 3, 3) ndarray
        Symmetric tensors.

    Examples
    --------
    >>> to_tensor3([1, 2, 3, 4, 5, 6]).tolist()
    [[1.0, 6.0, 5.0], [6.0, 2.0, 4.0], [5.0, 4.0, 3.0]]
    """
    return _to_tensor(v, VOIGT_PAIRS_3D, "xx, yy, zz, yz, xz, xy")


def from_tensor3(t: ArrayLike) -> NDArray[np.float64]:
    """Convert 3D tensors ``(..., 3, 3)`` to tensor-Voigt vectors ``(..., 6)`` (symmetrised).

    Parameters
    ----------
    t : (..., 3, 3) array_like
        Tensors; each shear component is the mean of ``t_ij`` and ``t_ji``.

    Returns
    -------
    (..., 6) ndarray
        Voigt order (xx, yy, zz, yz, xz, xy), tensor shear (inverse of :func:`to_tensor3`).
    """
    return _from_tensor(t, VOIGT_PAIRS_3D)


def schmid3(n: ArrayLike, s: ArrayLike) -> NDArray[np.float64]:
    """Schmid tensor ``M = (n s + s n) / 2`` of a slip system, in tensor-Voigt form.

    Parameters
    ----------
    n : (..., 3) array_like
        Unit plane normals.
    s : (..., 3) array_like
        Unit slip directions, ``n . s = 0`` (not checked here).

    Returns
    -------
    (..., 6) ndarray
        ``(n_x s_x, n_y s_y, n_z s_z, (n_y s_z + n_z s_y)/2, (n_x s_z + n_z s_x)/2,
        (n_x s_y + n_y s_x)/2)``: traceless when ``n . s = 0``, and ``M : M = 1/2``.

    Examples
    --------
    Simple shear along xy (plane normal y, slip along x) is ``eps_xy = 1/2``:

    >>> schmid3([0, 1, 0], [1, 0, 0]).tolist()
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.5]
    """
    n = np.asarray(n, dtype=float)
    s = np.asarray(s, dtype=float)
    return np.stack(
        [0.5 * (n[..., i] * s[..., j] + n[..., j] * s[..., i]) for i, j in VOIGT_PAIRS_3D],
        axis=-1,
    )


def pressure3(stress: ArrayLike) -> NDArray[np.float64]:
    """Pressure ``p = -(s_xx + s_yy + s_zz) / 3`` (positive in compression).

    Parameters
    ----------
    stress : (..., 6) array_like
        Voigt stress, LJ units.

    Returns
    -------
    (...) ndarray
        Pressure, stress units.
    """
    st = np.asarray(stress, dtype=float)
    return -(st[..., 0] + st[..., 1] + st[..., 2]) / 3.0


def equivalent_shear3(stress: ArrayLike) -> NDArray[np.float64]:
    """Equivalent shear stress ``(1/2 sigma' : sigma')^(1/2) = sqrt(J2)`` of 3D Voigt stresses.

    The 3D form of the 2D code's von Mises measure (``von_mises``); multiply by ``sqrt(3)``
    for the engineering von Mises stress.

    Parameters
    ----------
    stress : (..., 6) array_like
        Voigt stress, LJ units.

    Returns
    -------
    (...) ndarray
        ``sqrt(J2)``, stress units.

    Examples
    --------
    >>> float(equivalent_shear3([0, 0, 0, 0, 0, 0.3]))
    0.3
    """
    st = np.asarray(stress, dtype=float)
    dev = st.copy()
    dev[..., :3] -= st[..., :3].mean(axis=-1, keepdims=True)
    return np.sqrt(0.5 * ddot3(dev, dev))


def _check_modulus(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    v = float(value)
    if not np.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return v


@dataclass(frozen=True)
class Isotropic3D:
    """Homogeneous isotropic 3D elasticity, ``sigma = 2 G dev(eps) + K tr(eps) I``.

    Parameters
    ----------
    G : float
        Shear modulus, LJ units, > 0. Default 13.2 (the 2D calibrated value, a start).
    K : float
        3D bulk modulus, LJ units, > 0. Default 59.0 (the 2D bulk modulus taken over as a
        start; Poisson ratio ``(3K - 2G) / (2 (3K + G)) = 0.396``).

    Examples
    --------
    >>> C = Isotropic3D(G=1.0, K=2.0).matrix()
    >>> C[0, :3].round(6).tolist(), float(C[5, 5])
    ([3.333333, 1.333333, 1.333333], 2.0)
    """

    G: float = 13.2
    K: float = 59.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "G", _check_modulus("G", self.G))
        object.__setattr__(self, "K", _check_modulus("K", self.K))

    @property
    def homogeneous(self) -> bool:
        """Always True (per-element 3D moduli are not implemented)."""
        return True

    @property
    def poisson(self) -> float:
        """Poisson ratio ``(3K - 2G) / (2 (3K + G))``."""
        return (3.0 * self.K - 2.0 * self.G) / (2.0 * (3.0 * self.K + self.G))

    def matrix(self) -> NDArray[np.float64]:
        """Stiffness ``C`` (6, 6) in tensor-Voigt form, ``sigma_v = C @ eps_v``, LJ units."""
        lam = self.K - 2.0 * self.G / 3.0
        C = np.zeros((6, 6))
        C[:3, :3] = lam
        C[np.arange(6), np.arange(6)] += 2.0 * self.G
        return C

    def compliance(self) -> NDArray[np.float64]:
        """Inverse of :meth:`matrix`, (6, 6)."""
        return np.linalg.inv(self.matrix())

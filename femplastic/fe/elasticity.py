"""Isotropic 2D linear elasticity and Voigt helpers.

Conventions (see the docs' conventions page):

* Voigt order ``(xx, yy, xy)`` with the **tensor** shear component ``eps_xy`` (not the
  engineering shear ``2 eps_xy``). The double contraction of two symmetric tensors in this
  representation is ``a : b = a_xx b_xx + a_yy b_yy + 2 a_xy b_xy`` (:func:`ddot`).
* A stiffness "matrix" ``C`` maps tensor-Voigt strain to tensor-Voigt stress:
  ``sigma_v = C @ eps_v``. For isotropic elasticity
  ``sigma = 2 G dev(eps) + B tr(eps) I`` this is
  ``[[B + G, B - G, 0], [B - G, B + G, 0], [0, 0, 2 G]]``.
* Stresses and moduli are in Lennard-Jones units (epsilon / sigma^2).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "Isotropic",
    "VOIGT_WEIGHTS",
    "VOIGT_PAIRS",
    "ddot",
    "to_tensor",
    "from_tensor",
    "schmid",
    "deviatoric_vector",
    "von_mises",
    "pressure",
]

#: Weights of the double contraction in tensor-Voigt notation, shape (3,).
VOIGT_WEIGHTS = np.array([1.0, 1.0, 2.0])
#: Tensor indices ``(i, j)`` of each Voigt component ``(xx, yy, xy)``.
VOIGT_PAIRS = ((0, 0), (1, 1), (0, 1))


def ddot(a: ArrayLike, b: ArrayLike) -> NDArray[np.float64]:
    """Double contraction ``a : b`` of symmetric tensors in tensor-Voigt form.

    Parameters
    ----------
    a, b : (..., 3) array_like
        Tensors in Voigt order (xx, yy, xy), tensor shear components. Broadcast together.

    Returns
    -------
    (...) ndarray
        ``a_xx b_xx + a_yy b_yy + 2 a_xy b_xy``.

    Examples
    --------
    The resolved shear stress of simple shear ``M(0) = (0, 0, 1/2)`` is ``sigma_xy``:

    >>> float(ddot([0.0, 0.0, 0.5], [0.1, -0.1, 0.3]))
    0.3
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    return a[..., 0] * b[..., 0] + a[..., 1] * b[..., 1] + 2.0 * a[..., 2] * b[..., 2]


def to_tensor(v: ArrayLike) -> NDArray[np.float64]:
    """Convert tensor-Voigt vectors ``(..., 3)`` to full tensors ``(..., 2, 2)``.

    Parameters
    ----------
    v : (..., 3) array_like
        Voigt order (xx, yy, xy), tensor shear component.

    Returns
    -------
    (..., 2, 2) ndarray
        Symmetric tensors, ``t[..., 0, 1] = t[..., 1, 0] = v[..., 2]``.

    Examples
    --------
    >>> to_tensor([1.0, 2.0, 0.5]).tolist()
    [[1.0, 0.5], [0.5, 2.0]]
    """
    return _to_tensor(v, VOIGT_PAIRS, "xx, yy, xy")


def from_tensor(t: ArrayLike) -> NDArray[np.float64]:
    """Convert symmetric tensors ``(..., 2, 2)`` to tensor-Voigt vectors ``(..., 3)``.

    Parameters
    ----------
    t : (..., 2, 2) array_like
        2D tensors; the shear component is the mean of ``t_xy`` and ``t_yx``.

    Returns
    -------
    (..., 3) ndarray
        Voigt order (xx, yy, xy), tensor shear component (inverse of :func:`to_tensor`).
    """
    return _from_tensor(t, VOIGT_PAIRS)


def _to_tensor(
    v: ArrayLike, pairs: tuple[tuple[int, int], ...], names: str
) -> NDArray[np.float64]:
    """Tensor-Voigt ``(..., nv)`` to symmetric ``(..., d, d)`` for the Voigt ``pairs`` (2D, 3D)."""
    v = np.asarray(v, dtype=float)
    nv, d = len(pairs), 2 if len(pairs) == 3 else 3
    if v.shape[-1] != nv:
        raise ValueError(
            f"v must have a last axis of length {nv} ({names}), got shape {v.shape}")
    t = np.empty(v.shape[:-1] + (d, d))
    for c, (i, j) in enumerate(pairs):
        t[..., i, j] = v[..., c]
        t[..., j, i] = v[..., c]
    return t


def _from_tensor(t: ArrayLike, pairs: tuple[tuple[int, int], ...]) -> NDArray[np.float64]:
    """Symmetric-part tensor-Voigt ``(..., nv)`` of tensors ``(..., d, d)`` (2D, 3D)."""
    t = np.asarray(t, dtype=float)
    d = 2 if len(pairs) == 3 else 3
    if t.shape[-2:] != (d, d):
        raise ValueError(f"t must end in ({d}, {d}), got shape {t.shape}")
    return np.stack([0.5 * (t[..., i, j] + t[..., j, i]) for i, j in pairs], axis=-1)


def schmid(theta: ArrayLike) -> NDArray[np.float64]:
    """Schmid tensor ``M(theta)`` of a slip plane at angle ``theta`` (radians), in Voigt form.

    ``M(theta) = 1/2 [[-sin 2theta, cos 2theta], [cos 2theta, sin 2theta]]`` (Castellanos et al.,
    eq. 3), so ``M(0)`` is simple shear along xy and ``M(theta + pi/2) = -M(theta)``.

    Parameters
    ----------
    theta : array_like
        Angles in radians, any shape.

    Returns
    -------
    (..., 3) ndarray
        ``(-sin 2theta / 2, sin 2theta / 2, cos 2theta / 2)``.

    Examples
    --------
    >>> import numpy as np
    >>> schmid(0.0).tolist()                      # simple shear along xy
    [-0.0, 0.0, 0.5]
    >>> bool(np.allclose(schmid(np.pi / 2), -schmid(0.0)))   # backward = reversed
    True
    >>> float(ddot(schmid(0.0), [0.0, 0.0, 0.3]))  # resolved stress = sigma_xy
    0.3
    """
    th = np.asarray(theta, dtype=float)
    s = np.sin(2.0 * th)
    c = np.cos(2.0 * th)
    return np.stack([-0.5 * s, 0.5 * s, 0.5 * c], axis=-1)


def deviatoric_vector(stress: ArrayLike) -> NDArray[np.float64]:
    """Shear part of a stress in the plane where ``M(theta) : sigma = n(theta) . s``.

    With ``n(theta) = (sin 2theta, cos 2theta)`` and ``s = ((s_yy - s_xx)/2, s_xy)``, the
    resolved shear stress on any weak plane is a dot product in this 2D space.

    Parameters
    ----------
    stress : (..., 3) array_like
        Voigt stress (xx, yy, xy), LJ units.

    Returns
    -------
    (..., 2) ndarray
        ``((s_yy - s_xx) / 2, s_xy)``, stress units.
    """
    st = np.asarray(stress, dtype=float)
    return np.stack([0.5 * (st[..., 1] - st[..., 0]), st[..., 2]], axis=-1)


def von_mises(stress: ArrayLike) -> NDArray[np.float64]:
    """Von Mises stress ``(1/2 sigma' : sigma')^(1/2)`` of 2D Voigt stresses (Castellanos, 3.5).

    For a 2D stress this equals the radius of the Mohr circle,
    ``sqrt(((s_xx - s_yy)/2)^2 + s_xy^2)``.

    Parameters
    ----------
    stress : (..., 3) array_like
        Voigt stress (xx, yy, xy), LJ units.

    Returns
    -------
    (...) ndarray
        Von Mises stress, stress units.

    Examples
    --------
    >>> float(von_mises([0.2, -0.2, 0.0])), float(von_mises([1.0, 1.0, 0.0]))
    (0.2, 0.0)
    """
    return np.linalg.norm(deviatoric_vector(stress), axis=-1)


def pressure(stress: ArrayLike) -> NDArray[np.float64]:
    """Pressure ``p = -(s_xx + s_yy) / 2`` (positive in compression).

    Parameters
    ----------
    stress : (..., 3) array_like
        Voigt stress (xx, yy, xy), LJ units.

    Returns
    -------
    (...) ndarray
        Pressure, stress units.
    """
    st = np.asarray(stress, dtype=float)
    return -0.5 * (st[..., 0] + st[..., 1])


def _check_modulus(name: str, value: ArrayLike) -> NDArray[np.float64]:
    arr = np.asarray(value, dtype=float)
    if arr.ndim > 1:
        raise ValueError(
            f"{name} must be a scalar or a 1D per-element array, got shape {arr.shape}"
        )
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (got NaN or inf)")
    if np.any(arr <= 0):
        raise ValueError(f"{name} must be > 0 (got min {arr.min():g})")
    return arr


@dataclass(frozen=True, eq=False)
class Isotropic:
    """Isotropic 2D linear elasticity, ``sigma = 2 G dev(eps) + B tr(eps) I``.

    Parameters
    ----------
    G : float or (n_elem,) array_like
        Shear modulus, LJ units; > 0. An array gives one modulus per element (heterogeneous
        medium, element order of the mesh).
    B : float or (n_elem,) array_like
        2D bulk modulus, LJ units; > 0 (this is what keeps the 2D material stable: the
        eigenvalues of ``C`` are ``2 G`` (twice, deviatoric) and ``2 B`` (volumetric)).

    Notes
    -----
    Defaults: the atomistic values of Castellanos et al., ``G = 13.2``, ``B = 59``. Lame constants:
    ``lambda = B - G``, ``mu = G``; 2D Poisson ratio ``(B - G) / (B + G)``.

    Examples
    --------
    >>> from femplastic.fe.elasticity import Isotropic
    >>> mat = Isotropic()
    >>> mat.matrix()
    array([[72.2, 45.8,  0. ],
           [45.8, 72.2,  0. ],
           [ 0. ,  0. , 26.4]])
    """

    G: float | NDArray[np.float64] = 13.2
    B: float | NDArray[np.float64] = 59.0
    _G: NDArray[np.float64] = field(init=False, repr=False)
    _B: NDArray[np.float64] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        g = _check_modulus("G", self.G)
        b = _check_modulus("B", self.B)
        if g.ndim == 1 and b.ndim == 1 and g.shape != b.shape:
            raise ValueError(f"G and B per-element arrays differ in shape: {g.shape} vs {b.shape}")
        object.__setattr__(self, "_G", g)
        object.__setattr__(self, "_B", b)

    @property
    def homogeneous(self) -> bool:
        """True when all elements share one modulus pair (scalars or constant arrays)."""
        return bool(np.ptp(self._G) == 0 and np.ptp(self._B) == 0)

    @property
    def n_values(self) -> int | None:
        """Length of the per-element arrays, or None when both moduli are scalars."""
        for a in (self._G, self._B):
            if a.ndim == 1:
                return a.shape[0]
        return None

    def per_element(self, n_elem: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Moduli broadcast to ``(n_elem,)`` arrays ``(G, B)``; checks array lengths.

        Parameters
        ----------
        n_elem : int
            Number of elements of the mesh; must equal the length of per-element moduli.

        Returns
        -------
        G, B : (n_elem,) ndarray
            Shear and bulk moduli of every element, LJ units.
        """
        n = self.n_values
        if n is not None and n != n_elem:
            raise ValueError(
                f"material has per-element moduli for {n} elements but the mesh has {n_elem}"
            )
        return (
            np.broadcast_to(self._G, (n_elem,)).astype(float),
            np.broadcast_to(self._B, (n_elem,)).astype(float),
        )

    def matrix(self, n_elem: int | None = None) -> NDArray[np.float64]:
        """Stiffness in tensor-Voigt form.

        Parameters
        ----------
        n_elem : int, optional
            When given, return one matrix per element, shape ``(n_elem, 3, 3)``. Otherwise
            the material must be homogeneous and a single ``(3, 3)`` matrix is returned.

        Returns
        -------
        (3, 3) or (n_elem, 3, 3) ndarray
            ``C`` with ``sigma_v = C @ eps_v`` in tensor-Voigt form, LJ stress units.
        """
        if n_elem is None:
            if not self.homogeneous:
                raise ValueError("heterogeneous material: pass n_elem to get per-element matrices")
            return _c_matrix(float(self._G.flat[0]), float(self._B.flat[0]))
        g, b = self.per_element(n_elem)
        out = np.zeros((n_elem, 3, 3))
        out[:, 0, 0] = out[:, 1, 1] = b + g
        out[:, 0, 1] = out[:, 1, 0] = b - g
        out[:, 2, 2] = 2.0 * g
        return out

    def compliance(self) -> NDArray[np.float64]:
        """Inverse of :meth:`matrix` for a homogeneous material, shape (3, 3)."""
        return np.linalg.inv(self.matrix())

    def mean(self) -> Isotropic:
        """Homogeneous material with the element-average moduli."""
        return Isotropic(float(np.mean(self._G)), float(np.mean(self._B)))


def _c_matrix(G: float, B: float) -> NDArray[np.float64]:
    return np.array([[B + G, B - G, 0.0], [B - G, B + G, 0.0], [0.0, 0.0, 2.0 * G]])

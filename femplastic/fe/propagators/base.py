"""The propagator contract: how element stresses change when plastic strain changes.

Every propagator answers the same questions, so drivers never care which one they hold:

* :meth:`Propagator.stress` -- the full stress field of a plastic strain field under an
  imposed mean strain (same contract as :func:`femplastic.fe.assembly.element_stress`);
* :meth:`Propagator.add` -- in place, ``stress += response(eigenstrain increments in some
  elements)``: the operation drivers perform millions of times;
* :attr:`Propagator.self_response` -- ``dSigma_e / d eps_pl_e`` per element, i.e.
  ``C : (S - I)`` with ``S`` the element's numerical Eshelby tensor (used by the
  dissipation bound of slip amplitudes);
* :meth:`Propagator.load_response` -- the stress change per unit imposed mean strain.

Implementations:

* :class:`PeriodicKernel` -- regular periodic grid, homogeneous elasticity. The FE problem
  is a discrete convolution; its kernel is computed *exactly* (to round-off) from the Q4
  stiffness by diagonalising the block-circulant stiffness with FFTs, then applied per event
  by a numba shifted add, or in batches by FFT.
* :class:`SparsePropagator` -- any periodic mesh, heterogeneous moduli: one sparse
  back-substitution per batch of events with a factorisation computed once.
* :class:`DensePropagator` -- the full response matrix of a small general problem, built
  once (dense Cholesky of the stiffness), applied like the periodic kernel.
* :class:`ShuffledPropagator` -- model D of Castellanos et al. (A.8.4): any base propagator whose
  stress changes in the *other* elements are randomly permuted among them at every event
  (the self term is kept). Stochastic: :meth:`Propagator.add` takes the run's ``rng``.
* :class:`MeanFieldPropagator` -- model I (A.8.9): the self term is kept and every other
  element receives the (area-weighted) average of the base response over the other elements.

This module holds the contract (:class:`Propagator`) and the aligned allocation the numba
kernels stream; the implementations live in :mod:`~femplastic.fe.propagators.periodic`,
:mod:`~femplastic.fe.propagators.general` and :mod:`~femplastic.fe.propagators.randomised`, and
:func:`~femplastic.fe.propagators.general.make_propagator` picks the fastest valid one. The
variants themselves (which ingredient each model A-I changes) are assembled in
:mod:`femplastic.weakplane.variants`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..assembly import _check_macro
from ..elasticity import Isotropic
from ..mesh import FEMesh

__all__ = ["ALIGNMENT", "FFT_BATCH_THRESHOLD", "Propagator", "aligned_zeros"]

#: Number of simultaneous events above which :meth:`PeriodicKernel.add` uses FFTs.
FFT_BATCH_THRESHOLD = 24

#: Alignment (bytes) of the arrays the numba kernels stream: one cache line, one AVX-512 vector.
ALIGNMENT = 64


def aligned_zeros(shape: int | tuple[int, ...]) -> NDArray[np.float64]:
    """Zero float64 array whose data start on a :data:`ALIGNMENT`-byte boundary.

    The shifted add streams whole rows of the stress and kernel arrays; aligned rows avoid
    vector loads split across cache lines (measured 10-20 % on the single-event update).

    Parameters
    ----------
    shape : int or tuple of int
        Shape of the array.

    Returns
    -------
    ndarray
        float64, of shape ``shape``, C-contiguous, zero-filled: a view into a buffer
        ``ALIGNMENT / 8`` elements larger.

    Examples
    --------
    >>> a = aligned_zeros((5, 3))
    >>> a.shape, a.ctypes.data % ALIGNMENT, bool(a.flags.c_contiguous)
    ((5, 3), 0, True)
    """
    shape = (shape,) if np.isscalar(shape) else tuple(shape)
    size = int(np.prod(shape, dtype=np.int64))
    pad = ALIGNMENT // 8
    buf = np.zeros(size + pad)
    start = (-(buf.ctypes.data // 8)) % pad
    return buf[start : start + size].reshape(shape)


class Propagator(ABC):
    """Interface of all stress-response operators (see the module docstring).

    Attributes
    ----------
    mesh : FEMesh
    material : Isotropic
    n_elem : int
    stochastic : bool
        Class attribute. False for deterministic operators. A *stochastic* propagator (e.g.
        :class:`ShuffledPropagator`) draws random numbers when it applies events: its
        :meth:`add` accepts a keyword ``rng`` (a ``numpy.random.Generator``), which the
        drivers pass (the run's generator), so a run stays reproducible from its seed.

    Notes
    -----
    To plug in your own operator, subclass this class and implement :attr:`self_response`,
    :meth:`stress` and :meth:`add` (optionally :meth:`load_response`); leave
    :meth:`numba_form` returning None and the drivers apply it from Python once per
    synchronous sweep (``docs/validation/weak_plane_variants.md`` has a worked example).
    """

    mesh: FEMesh
    material: Isotropic
    stochastic: bool = False

    @property
    def n_elem(self) -> int:
        """Number of elements."""
        return self.mesh.n_elem

    @property
    @abstractmethod
    def self_response(self) -> NDArray[np.float64]:
        """``dSigma_e / d eps_pl_e``, shape (n_elem, 3, 3): ``[e, a, b]`` stress ``a`` per ``b``.

        Returns
        -------
        (n_elem, 3, 3) float64 ndarray
            Stress (units of ``G``) per unit plastic strain (dimensionless, tensor shear) in
            the same element, at fixed mean strain.
        """

    @abstractmethod
    def stress(
        self,
        eps_pl: ArrayLike,
        macro_strain: ArrayLike = (0.0, 0.0, 0.0),
        prestress: ArrayLike | None = None,
    ) -> NDArray[np.float64]:
        """Element stress (n_elem, 3) of plastic strain (n_elem, 3) under mean strain (3,).

        Same contract as :func:`femplastic.fe.assembly.element_stress`.

        Parameters
        ----------
        eps_pl : (n_elem, 3) array_like
            Element plastic strain, Voigt (xx, yy, xy), tensor shear, dimensionless.
        macro_strain : (3,) array_like
            Imposed mean strain ``E``, Voigt, dimensionless (default zero).
        prestress : (n_elem, 3) array_like, optional
            Pre-stress ``Sigma0`` added to the result, units of ``G``.

        Returns
        -------
        (n_elem, 3) float64 ndarray
            Element stress, Voigt (xx, yy, xy), units of ``G`` (LJ units).

        Raises
        ------
        ValueError
            If ``eps_pl`` or ``prestress`` is not a finite (n_elem, 3) field, or
            ``macro_strain`` not a finite (3,) vector.
        """

    @abstractmethod
    def add(self, stress: NDArray[np.float64], elems: ArrayLike, deps: ArrayLike) -> None:
        """In place: ``stress += response to plastic strain increments``.

        Parameters
        ----------
        stress : (n_elem, 3) float64 ndarray
            Updated in place.
        elems : (k,) int array_like
            Elements receiving an increment (repeats allowed: they add up).
        deps : (k, 3) array_like
            Plastic strain increments, Voigt (xx, yy, xy), tensor shear, dimensionless.

        Raises
        ------
        ValueError
            If ``elems`` and ``deps`` differ in length, an element index is outside
            ``[0, n_elem - 1]``, or (propagators updating ``stress`` in a numba kernel)
            ``stress`` is not a writeable C-contiguous float64 ``(n_elem, 3)`` array (a copy
            would be updated instead).
        """

    def load_response(self, direction: ArrayLike) -> NDArray[np.float64]:
        """Stress change per unit imposed mean strain along ``direction`` (3,), (n_elem, 3).

        Parameters
        ----------
        direction : (3,) array_like
            Mean-strain direction, Voigt (xx, yy, xy), tensor shear (e.g.
            ``schmid(alpha)``).

        Returns
        -------
        (n_elem, 3) float64 ndarray
            Element stress change (units of ``G``) per unit of the imposed strain.

        Raises
        ------
        ValueError
            If ``direction`` is not a finite (3,) vector.
        """
        d = _check_macro(direction)
        return self.stress(np.zeros((self.n_elem, 3)), d)

    def numba_form(self) -> tuple[int, NDArray[np.float64], int] | None:
        """``(kind, array, L)`` for fused numba drivers, or None when not supported.

        kind 0: folded periodic kernel ``(4, (L//2+1)*6L)`` (:func:`fold_kernel`); kind 1:
        dense response ``(3 n, 3 n)``;
        kinds 2 and 3: the same, shuffled per event (model D); kind 4: mean field
        ``(n, 18)`` (model I). See :func:`femplastic.fe.propagators.kernels.apply_form`. A
        propagator
        returning None is applied from Python (:meth:`add`, once per synchronous sweep).

        Returns
        -------
        tuple of (int, ndarray, int) or
        None
            ``kind`` (:data:`~femplastic.fe.propagators.kernels.FORM_PERIODIC` ...
            ``FORM_MEANFIELD``), the
            float64 array the numba kernel streams, and the grid side ``L`` (0 when not a
            periodic kernel). The base class returns None.
        """
        return None

    def _check_increment(
        self, elems: ArrayLike, deps: ArrayLike
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        elems = np.atleast_1d(np.asarray(elems, dtype=np.int64))
        deps = np.asarray(deps, dtype=float).reshape(-1, 3)
        if elems.shape[0] != deps.shape[0]:
            raise ValueError(
                f"elems ({elems.shape[0]}) and deps ({deps.shape[0]}) differ in length"
            )
        if elems.size and (elems.min() < 0 or elems.max() >= self.n_elem):
            raise ValueError(f"elems must be in [0, {self.n_elem - 1}]")
        return elems, np.ascontiguousarray(deps)

    def _check_stress(self, stress: Any) -> NDArray[np.float64]:
        """``stress`` updated in place by a numba kernel: must be the array itself."""
        if (not isinstance(stress, np.ndarray) or stress.dtype != np.float64
                or stress.shape != (self.n_elem, 3) or not stress.flags.c_contiguous
                or not stress.flags.writeable):
            raise ValueError(
                f"stress must be a writeable C-contiguous float64 array of shape "
                f"({self.n_elem}, 3), got "
                + (f"{stress.dtype} {stress.shape} (contiguous: {stress.flags.c_contiguous})"
                   if isinstance(stress, np.ndarray) else type(stress).__name__)
            )
        return stress.reshape(-1)

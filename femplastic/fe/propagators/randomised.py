"""Randomised interaction kernels over an elastic base propagator (models D, G, I of Castellanos).

:class:`ShuffledPropagator` permutes the base response among the other elements at every event;
:class:`MeanFieldPropagator` gives every other element the average base response.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..assembly import check_field
from ..mesh import FEMesh
from . import kernels
from .base import Propagator
from .general import DensePropagator
from .periodic import PeriodicKernel

__all__ = ["MeanFieldPropagator", "ShuffledPropagator"]


def _equal_areas(mesh: FEMesh, what: str) -> None:
    a = mesh.areas
    if np.ptp(a) > 1e-9 * float(np.mean(a)):
        raise ValueError(
            f"mesh: {what} needs elements of equal area (a permutation of element stresses "
            f"keeps the mean stress only then); this mesh's areas vary by "
            f"{np.ptp(a) / np.mean(a):.1%}"
        )


class _WrappedPropagator(Propagator):
    """A randomised kernel over an elastic ``base``: shares its mesh, self term and loading.

    Both randomisations (:class:`ShuffledPropagator`, :class:`MeanFieldPropagator`) change only
    how an event's stress change reaches the *other* elements; the imposed mean strain is not
    an event, so :meth:`load_response` is the base's, and so is the self term.
    """

    def __init__(self, base: Propagator) -> None:
        cls_name = type(self).__name__
        if not isinstance(base, Propagator):
            raise TypeError(f"{cls_name} base must be a Propagator, got {type(base).__name__}")
        if isinstance(base, _WrappedPropagator):
            raise ValueError(
                f"{cls_name} base is already a {type(base).__name__}: wrap the elastic "
                "(Eshelby) propagator, not a modified one"
            )
        self.base = base
        self.mesh = base.mesh
        self.material = base.material

    @property
    def self_response(self) -> NDArray[np.float64]:
        """The base's self response (the self term is not randomised), (n_elem, 3, 3).

        Returns
        -------
        (n_elem, 3, 3) float64 ndarray
            ``base.self_response``, ``[e, a, b]``, units of ``G``.
        """
        return self.base.self_response

    def load_response(self, direction: ArrayLike) -> NDArray[np.float64]:
        """The base's response to the imposed mean strain, (n_elem, 3).

        Parameters
        ----------
        direction : (3,) array_like
            Mean-strain direction, Voigt (xx, yy, xy), tensor shear.

        Returns
        -------
        (n_elem, 3) float64 ndarray
            ``base.load_response(direction)``, units of ``G`` per unit strain.

        Raises
        ------
        ValueError
            If ``direction`` is not a finite (3,) vector.
        """
        return self.base.load_response(direction)


class ShuffledPropagator(_WrappedPropagator):
    """Randomly shuffled interaction kernel (model D of Castellanos et al. 2021, A.8.4).

    At every event the base propagator's stress changes in the elements *other* than the
    slipping one are randomly permuted among those elements (a fresh uniform permutation per
    event, drawn from the run's generator); the slipping element keeps its own (self) change.
    The statistics of the induced changes are those of the Eshelby kernel, their spatial
    correlations are gone.

    Parameters
    ----------
    base : Propagator
        The elastic response to shuffle (:class:`PeriodicKernel`, :class:`DensePropagator`,
        :class:`SparsePropagator` or a user propagator). Its mesh must have elements of
        equal area.
    rng : numpy.random.Generator, optional
        Default generator of :meth:`add` when the caller passes none. The drivers always
        pass the run's generator, so leave it unset in models.

    Raises
    ------
    TypeError
        If ``base`` is not a :class:`Propagator`, or ``rng`` is neither None nor a
        ``numpy.random.Generator``.
    ValueError
        If ``base`` is already a shuffled or mean-field propagator, or its mesh has
        elements of unequal area.

    Notes
    -----
    * **Macroscopic response unchanged.** A permutation preserves the multiset of the
      induced changes, hence their sum: the mean stress changes by exactly the base amount
      per event (``-C : deps / n`` on the regular grid), and stress-strain records obey the
      same balance as model C.
    * **Loading.** :meth:`load_response` is the base's: the imposed mean strain is not an
      event and is not shuffled (uniform ``C : E`` on a homogeneous medium).
    * **No stress function.** The shuffled stress depends on the history of permutations,
      not only on the plastic strain: :meth:`stress` returns the base's loading/pre-stress
      field for a zero plastic strain and refuses a non-zero one (use the state's stress,
      which the drivers update incrementally).
    * Events of one synchronous sweep are shuffled independently, in the order given.
    """

    stochastic = True

    def __init__(self, base: Propagator, rng: np.random.Generator | None = None) -> None:
        super().__init__(base)
        if rng is not None and not isinstance(rng, np.random.Generator):
            raise TypeError("rng must be a numpy.random.Generator or None")
        _equal_areas(base.mesh, "the shuffled kernel (model D/G)")
        self.rng = rng

    def stress(
        self,
        eps_pl: ArrayLike,
        macro_strain: ArrayLike = (0.0, 0.0, 0.0),
        prestress: ArrayLike | None = None,
    ) -> NDArray[np.float64]:
        """Base field for ``eps_pl = 0``; a non-zero plastic strain has no unique field.

        Parameters
        ----------
        eps_pl : (n_elem, 3) array_like
            Must be zero everywhere.
        macro_strain : (3,) array_like
            Imposed mean strain ``E``, Voigt (default zero).
        prestress : (n_elem, 3) array_like, optional
            Pre-stress ``Sigma0`` added to the result, units of ``G``.

        Returns
        -------
        (n_elem, 3) float64 ndarray
            ``base.stress(0, macro_strain, prestress)``, units of ``G``.

        Raises
        ------
        NotImplementedError
            If ``eps_pl`` has a non-zero entry.
        ValueError
            If a field has the wrong shape or non-finite values.
        """
        epl = check_field("eps_pl", eps_pl, self.n_elem)
        if np.any(epl != 0):
            raise NotImplementedError(
                "ShuffledPropagator.stress: the shuffled stress depends on the history of "
                "permutations, not on eps_pl alone; use the state's stress (or base.stress "
                "for the unshuffled field, which has the same element average)"
            )
        return self.base.stress(epl, macro_strain, prestress)

    def response(self, e: int, deps: ArrayLike) -> NDArray[np.float64]:
        """Unshuffled base response (n_elem, 3) to the increment ``deps`` (3,) in element ``e``.

        Parameters
        ----------
        e : int
            Element of the increment, in ``[0, n_elem - 1]``.
        deps : (3,) array_like
            Plastic strain increment, Voigt (xx, yy, xy), tensor shear.

        Returns
        -------
        (n_elem, 3) float64 ndarray
            Stress change of every element, units of ``G``.

        Raises
        ------
        ValueError
            If ``e`` is out of range.
        """
        out = np.zeros((self.n_elem, 3))
        self.base.add(out, [int(e)], np.asarray(deps, dtype=float).reshape(1, 3))
        return out

    def add(self, stress: NDArray[np.float64], elems: ArrayLike, deps: ArrayLike,
            rng: np.random.Generator | None = None) -> None:
        """In place: every event's base response, others permuted (one permutation per event).

        Parameters
        ----------
        stress : (n_elem, 3) float64 C-contiguous ndarray
            Updated in place.
        elems : (k,) int array_like
            Elements receiving an increment, applied in this order.
        deps : (k, 3) array_like
            Plastic strain increments, Voigt (xx, yy, xy), tensor shear.
        rng : numpy.random.Generator, optional
            Source of the permutations (default: the one given at construction). The draws
            are those of the fused kernel
            (:func:`femplastic.fe.propagators.kernels.shuffle_scatter`), so both
            driver paths give the same trajectory.

        Raises
        ------
        TypeError
            If no generator is given here nor at construction.
        ValueError
            If ``elems`` and ``deps`` differ in length, an index is out of range, or
            ``stress`` is not C-contiguous.
        """
        rng = rng if rng is not None else self.rng
        if not isinstance(rng, np.random.Generator):
            raise TypeError("ShuffledPropagator.add needs rng (a numpy.random.Generator)")
        elems, deps = self._check_increment(elems, deps)
        flat = self._check_stress(stress)
        perm = np.zeros(max(self.n_elem - 1, 0), np.int64)
        for e, d in zip(elems, deps, strict=True):
            resp = self.response(int(e), d)
            kernels.shuffle_scatter(flat, resp.reshape(-1), int(e), rng, perm)

    def numba_form(self) -> tuple[int, NDArray[np.float64], int] | None:
        """The base's periodic, full or packed dense form with its kind + 2, else None.

        Returns
        -------
        tuple of (int, ndarray, int) or None
            The base's form with its kind shifted by 2 (``FORM_SHUFFLED_PERIODIC``,
            ``FORM_SHUFFLED_DENSE`` or ``FORM_SHUFFLED_PACKED``), or None when the base has no
            periodic or dense form.
        """
        form = self.base.numba_form()
        if form is None or form[0] not in (kernels.FORM_PERIODIC, kernels.FORM_DENSE,
                                           kernels.FORM_PACKED):
            return None
        kind, arr, L = form
        return kind + 2, arr, L


class MeanFieldPropagator(_WrappedPropagator):
    """Mean-field interaction kernel (model I of Castellanos et al. 2021, A.8.9).

    Per event in element ``e`` with increment ``deps``: element ``e`` changes by its own
    (self) response ``S_e : deps``; every other element changes by the same amount
    ``O_e : deps``, the area-weighted average of the base response over all elements other
    than ``e``. The mean stress change is exactly the base's (``-C : deps / n`` on the
    regular grid).

    Parameters
    ----------
    base : Propagator
        The elastic response to average (e.g. :class:`PeriodicKernel`).

    Raises
    ------
    TypeError
        If ``base`` is not a :class:`Propagator`.
    ValueError
        If ``base`` is already a shuffled or mean-field propagator.

    Attributes
    ----------
    S : ndarray
        Self response ``S_e`` of each element, ``(n_elem, 3, 3)`` as ``[e, a, b]``, units
        of ``G``.
    O : ndarray
        Response ``O_e`` of every other element to an event in ``e``, ``(n_elem, 3, 3)``
        as ``[e, a, b]``.

    Notes
    -----
    *Non-yielding elements.* In a synchronous sweep several elements slip at once; each
    event is treated on its own, and "the non-yielding elements" of an event are all the
    elements other than the event's own element. An element slipping in the same sweep thus
    receives its self change plus the mean-field share of each of the other events: the
    sweep is the sum of its events, as for every propagator, in any order.

    Unlike the shuffled kernel, the mean-field stress is a linear function of the plastic
    strain, so :meth:`stress` is exact:
    ``Sigma_j = sum_e O_e : eps_e + (S_j - O_j) : eps_j + (base load) + Sigma0_j``.
    :meth:`load_response` is the base's (the imposed strain is not an event).
    """

    def __init__(self, base: Propagator) -> None:
        super().__init__(base)
        n = base.n_elem
        w = base.mesh.areas / base.mesh.areas.sum()
        S = np.ascontiguousarray(base.self_response, dtype=float)  # [e, a, b]
        if isinstance(base, PeriodicKernel):
            T = np.broadcast_to(base.G.sum(axis=0) / n, (n, 3, 3))  # [e, a, b]
        elif isinstance(base, DensePropagator):
            T = np.einsum("j,ebja->eab", w, base.R)
        else:
            T = np.zeros((n, 3, 3))
            for e in range(n):
                for b in range(3):
                    r = np.zeros((n, 3))
                    base.add(r, [e], np.eye(3)[b : b + 1])
                    T[e, :, b] = w @ r
        O = (T - w[:, None, None] * S) / (1.0 - w)[:, None, None]
        self.S = S
        self.O = np.ascontiguousarray(O)
        self._MF = np.ascontiguousarray(
            np.concatenate([S.reshape(n, 9), self.O.reshape(n, 9)], axis=1))

    @property
    def self_response(self) -> NDArray[np.float64]:
        """The base's self response ``S_e`` (n_elem, 3, 3).

        Returns
        -------
        (n_elem, 3, 3) float64 ndarray
            ``S``, ``[e, a, b]``, units of ``G``.
        """
        return self.S

    def stress(
        self,
        eps_pl: ArrayLike,
        macro_strain: ArrayLike = (0.0, 0.0, 0.0),
        prestress: ArrayLike | None = None,
    ) -> NDArray[np.float64]:
        """Exact mean-field stress of a plastic strain field (see Notes), (n_elem, 3).

        Parameters, result and errors as :meth:`Propagator.stress`.
        """
        epl = check_field("eps_pl", eps_pl, self.n_elem)
        out = self.base.stress(np.zeros_like(epl), macro_strain, prestress)
        own = np.einsum("eab,eb->ea", self.S - self.O, epl)
        out += np.einsum("eab,eb->a", self.O, epl)[None, :] + own
        return out

    def add(self, stress: NDArray[np.float64], elems: ArrayLike, deps: ArrayLike) -> None:
        """In place, event by event (:func:`femplastic.fe.propagators.kernels.meanfield_add`).

        Parameters and errors as :meth:`Propagator.add`.
        """
        elems, deps = self._check_increment(elems, deps)
        flat = self._check_stress(stress)
        for e, d in zip(elems, deps, strict=True):
            kernels.meanfield_add(flat, self._MF, int(e), d[0], d[1], d[2])

    def numba_form(self) -> tuple[int, NDArray[np.float64], int]:
        """``(4, MF, 0)`` with ``MF[e] = (S_e, O_e)`` flattened, (n_elem, 18).

        Returns
        -------
        tuple of (int, ndarray, int)
            ``(FORM_MEANFIELD, MF, 0)``.
        """
        return kernels.FORM_MEANFIELD, self._MF, 0

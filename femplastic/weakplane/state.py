"""The model ingredients (:class:`Model`) and the simulation state (:class:`State`).

A simulation is *state + ingredients + driver*: :class:`Model` bundles the mesh, material,
propagator and slip law (built once, shared by all realisations -- except for model variant
A, whose random modulus field makes the model per realisation); :class:`State` is plain
arrays; drivers (:mod:`femplastic.weakplane.drivers`) return new states.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from .. import interrupt
from ..fe.elasticity import Isotropic, ddot, schmid
from ..fe.mesh import FEMesh, periodic_grid
from ..fe.propagators import ALIGNMENT, Propagator, aligned_zeros
from .dimension import components, kernels_of, loading_tensor, resolve
from .element_size import element_law
from .meshfile import model_mesh
from .params import ModelParams
from .slip import SlipLaw
from .variants import elastic_ingredients

__all__ = ["Model", "State", "build_model"]


@dataclass(frozen=True, eq=False)
class Model:
    """Ingredients of the weak-plane model.

    Build it with :func:`build_model`.

    Attributes
    ----------
    params : ModelParams
        The parameters the model was built from.
    mesh : FEMesh
        The periodic mesh.
    material : Isotropic
        Elastic moduli (per element for variant A), units of ``G``.
    propagator : Propagator
        The variant's interaction kernel (:mod:`femplastic.weakplane.variants`).
    law : SlipLaw
        Slip law: orientations, thresholds and amplitudes of the slip systems.
    Kself : (n_elem, 3, 3) ndarray
        Each element's own stress response to its plastic strain (``C : (S - I)``), C-contiguous
        copy of ``propagator.self_response``, ``[e, a, b]``.

    Notes
    -----
    For variant A the model belongs to one realisation: ``material.G`` is that realisation's
    (n_elem,) modulus field and ``propagator`` its general-path operator.
    """

    params: ModelParams
    mesh: FEMesh
    material: Isotropic
    propagator: Propagator
    law: SlipLaw
    Kself: NDArray[np.float64]

    @property
    def n_elem(self) -> int:
        """Number of elements."""
        return self.mesh.n_elem

    @property
    def dim(self) -> int:
        """Dimension, 2 or 3 (``params.dim``)."""
        return int(self.params.dim)

    @property
    def components(self) -> int:
        """Voigt components of the stress: 3 in 2D, 6 in 3D."""
        return components(self.dim)

    @functools.cached_property
    def law_arrays(self) -> tuple[NDArray, ...]:
        """The ``law`` bundle of the kernels (:meth:`SlipLaw.arrays`), built once per model.

        Returns
        -------
        tuple of ndarray
            ``(law_i, law_f, thr_table, angles)``
            (:data:`femplastic.weakplane.bundles.LAW`); read only by the kernels. In 3D
            ``law_i`` is :meth:`SlipLaw3D.arrays`'s and ``angles`` is empty.
        """
        arrays = tuple(self.law.arrays())
        return arrays if len(arrays) == 4 else (*arrays, np.zeros(0))


@functools.lru_cache(maxsize=16)
def _default_model(params: ModelParams) -> Model:
    if params.dim == 3:
        return _model_3d(params)
    mesh = periodic_grid(params.L, params.l) if params.mesh is None else model_mesh(params)
    return _assemble(params, mesh, None, None, None, None)


def _assemble(params: ModelParams, mesh: FEMesh, material: Isotropic | None,
              law: SlipLaw | None, propagator: Propagator | None,
              rng: np.random.Generator | None) -> Model:
    if propagator is not None and propagator.n_elem != mesh.n_elem:
        raise ValueError(f"propagator has {propagator.n_elem} elements, mesh {mesh.n_elem}")
    material, prop = elastic_ingredients(params, mesh, material, propagator, rng)
    Kself = np.ascontiguousarray(prop.self_response, dtype=float)
    if law is None and params.element_size != "off":
        law = element_law(params, mesh)
        if law.N > params.N:  # the padded width max N_e sets the slip-system arrays' memory
            from .. import validation

            validation.check_model_size(params.replace(N=law.N), mesh.n_elem)
    law = law or params.slip_law()
    return Model(params, mesh, material, prop, law, Kself)


def _model_3d(params: ModelParams) -> Model:
    """The 3D model: regular ``L^3`` Hex8 grid, exact periodic kernel, isotropic systems."""
    from ..fe.mesh3d import periodic_grid3d
    from ..fe.propagators.periodic3d import PeriodicKernel3D
    from .dimension import material_3d, slip_law_3d

    mesh = periodic_grid3d(params.L, params.l)
    material = material_3d(params)
    prop = PeriodicKernel3D(mesh, material)
    Kself = np.ascontiguousarray(prop.self_response, dtype=float)
    return Model(params, mesh, material, prop, slip_law_3d(params), Kself)


def build_model(
    params: ModelParams,
    mesh: FEMesh | None = None,
    material: Isotropic | None = None,
    law: SlipLaw | None = None,
    propagator: Propagator | None = None,
    rng: np.random.Generator | None = None,
) -> Model:
    """Assemble the ingredients of ``params.variant``; explicit ingredients override them.

    Cached for equal ``params`` when no ingredient is given (every variant but A).

    Parameters
    ----------
    params : ModelParams
        Model parameters; ``params.variant`` selects the ingredients.
    mesh : FEMesh, optional
        A periodic custom mesh (e.g. :func:`femplastic.fe.mesh.load` with ``periodic=True``);
        default: the regular ``L x L`` grid of side ``l``.
    material : Isotropic, optional
        Default ``params.material()``: ``Isotropic(params.G, params.B)``, or for variant A a
        Weibull modulus field drawn from ``rng``; per-element moduli allowed.
    law : SlipLaw, optional
        Default: the variant's law, ``params.slip_law()``, or with ``params.element_size``
        on, the per-element law on the mesh's element areas
        (:func:`femplastic.weakplane.element_size.element_law`).
    propagator : Propagator, optional
        Default: :func:`femplastic.fe.propagators.make_propagator` (general path for variant
        A), wrapped into the shuffled (D, G) or mean-field (I) kernel.
    rng : numpy.random.Generator, optional
        Variant A only: source of the realisation's moduli (``n_elem`` Weibull draws).

    Returns
    -------
    Model
        The assembled ingredients; the same (cached) object for equal ``params`` when no
        ingredient is given.

    Raises
    ------
    ValueError
        Non-periodic mesh; variant A without ``rng`` (or ``material``), or with a
        homogeneous ``propagator``; a shuffled kernel on a mesh of unequal element areas;
        a ``propagator`` whose number of elements differs from the mesh's; a ``mesh`` other
        than the file ``params.mesh`` when both are given; a ``mesh`` whose
        element count ``params.L`` does not describe (``L = round(sqrt(n_elem))``,
        :func:`femplastic.validation.check_mesh_matches`); a model larger than the memory;
        ``params.dim = 3`` with a custom ingredient (3D: the regular ``L^3`` Hex8 grid, its
        exact periodic kernel and ``params``' slip law only).

    Notes
    -----
    ``params.dim = 3`` builds the 3D model: the regular tri-periodic ``L^3`` grid of Hex8
    elements of side ``l`` (:func:`femplastic.fe.mesh3d.periodic_grid3d`), the exact
    periodic kernel (:class:`~femplastic.fe.propagators.periodic3d.PeriodicKernel3D`),
    ``Isotropic3D(G, K=B)`` and the isotropic slip systems of
    :func:`~femplastic.weakplane.dimension.slip_law_3d`. Every driver takes its states.
    """
    from .. import validation

    if params.dim == 3:
        given = [k for k, v in (("mesh", mesh), ("material", material), ("law", law),
                                ("propagator", propagator)) if v is not None]
        if given or params.mesh is not None:
            raise ValueError(f"model.dim = 3 builds the regular L^3 grid from the parameters; "
                             f"custom {', '.join(given) or 'model.mesh'} not supported in 3D")
        validation.check_model_size(params)
        return _default_model(params)
    if params.mesh is not None and mesh is not None:  # results record params.mesh's file
        other = model_mesh(params)
        if mesh is not other and not (np.array_equal(mesh.nodes, other.nodes)
                                      and np.array_equal(mesh.cells, other.cells)):
            raise ValueError(f"mesh= differs from the mesh file model.mesh = {params.mesh!r} "
                             "that the results would record: pass one of them, not both")
    if params.mesh is not None and mesh is None:  # model.mesh: the mesh file, cached model
        if material is None and law is None and propagator is None and not params.heterogeneous:
            validation.check_model_size(params, model_mesh(params).n_elem, False)
            return _default_model(params)
        mesh = model_mesh(params)
    # before anything is allocated: the model fits in memory, the mesh is the one L describes
    validation.check_model_size(params, None if mesh is None else mesh.n_elem,
                                mesh is None and material is None)
    if mesh is not None:
        validation.check_mesh_matches(params, mesh)
    if mesh is None and material is None and law is None and propagator is None \
            and not params.heterogeneous:
        return _default_model(params)
    if mesh is None:
        mesh = periodic_grid(params.L, params.l)
    if not mesh.periodic:
        raise ValueError(
            "the weak-plane model needs a periodic mesh (mesh.load(..., periodic=True))"
        )
    return _assemble(params, mesh, material, law, propagator, rng)


@dataclass(eq=False)
class State:
    """Plain-array state of the weak-plane model.

    Shapes are those of a 2D model; a 3D model (``model.dim = 3``) has ``C = 6`` stress
    components ``(xx, yy, zz, yz, xz, xy)`` where 2D has 3, ``nv`` (n_elem, N, 6) the Schmid
    tensors ``M = (n s + s n) / 2``, ``theta`` (n_elem, N) the polar angle ``arccos n_z`` of
    each plane normal (for the records only), ``sref`` (n_elem, 6)
    (:mod:`femplastic.weakplane.relax3d`).

    Attributes
    ----------
    model : Model
        The ingredients (shared, never copied).
    stress : (n_elem, 3) ndarray
        Current element stress, Voigt (xx, yy, xy), LJ units (those of ``G``). Re-allocated
        on a :data:`~femplastic.fe.propagators.ALIGNMENT`-byte boundary if needed.
    prestress : (n_elem, 3) ndarray
        Pre-stress ``Sigma0`` left by the quench, units of ``G``.
    eps_pl : (n_elem, 3) ndarray
        Plastic strain accumulated since the last reset (quench end), Voigt, tensor shear,
        dimensionless.
    theta, tauc : (n_elem, N) ndarray
        Slip-system angles (radians) and thresholds. With the element-size ingredient ``N``
        is ``max N_e`` and the systems ``k >= N_e`` are padding: ``tauc = +inf``, angle 0.
    nv : (n_elem, N, 2) ndarray
        ``(sin 2theta, cos 2theta)``, derived from ``theta``.
    selfres : (n_elem, N) ndarray
        ``-(K_self : M) : M`` per system, derived from ``theta``.
    macro_strain : (3,) ndarray
        Imposed mean strain ``E`` since the last reset, Voigt, dimensionless (default zero).
    slips : (n_elem,) int64 ndarray
        Slip events per element since the last reset (default: zeros).
    n_events, n_avalanches : int
        Counters since the last reset.
    time : float
        Kinetic Monte Carlo time of the quench.
    sref, pref, margin : ndarray, optional
        Internal cache of the stability scan (:func:`femplastic.weakplane.kernels.find_active`):
        reference stresses (n_elem, 2) and pressures (n_elem,) and margins (n_elem,);
        default: an empty cache (``margin = -1``, i.e. every element to be rescanned).
    """

    model: Model
    stress: NDArray[np.float64]
    prestress: NDArray[np.float64]
    eps_pl: NDArray[np.float64]
    theta: NDArray[np.float64]
    tauc: NDArray[np.float64]
    nv: NDArray[np.float64]
    selfres: NDArray[np.float64]
    macro_strain: NDArray[np.float64] = field(default_factory=lambda: np.zeros(3))
    slips: NDArray[np.int64] | None = None
    n_events: int = 0
    n_avalanches: int = 0
    time: float = 0.0
    sref: NDArray[np.float64] | None = None
    pref: NDArray[np.float64] | None = None
    margin: NDArray[np.float64] | None = None

    def __post_init__(self) -> None:
        n, C = self.stress.shape
        if self.macro_strain.shape != (C,) and not np.any(self.macro_strain):
            self.macro_strain = np.zeros(C)  # the default (3,) zeros of a 3D state
        if self.stress.ctypes.data % ALIGNMENT or not self.stress.flags.c_contiguous:
            stress = aligned_zeros(self.stress.shape)  # rows streamed by the shifted add
            stress[:] = self.stress
            self.stress = stress
        if self.slips is None:
            self.slips = np.zeros(n, dtype=np.int64)
        if self.sref is None:
            self.sref = np.zeros((n, 2 if C == 3 else C))  # 3D: the full stress
            self.pref = np.zeros(n)
            self.margin = -np.ones(n)

    @property
    def n_elem(self) -> int:
        """Number of elements."""
        return self.stress.shape[0]

    @classmethod
    @interrupt.deferring
    def fresh(cls, model: Model, rng: np.random.Generator) -> State:
        """Random systems from the law, zero stress and strain (start of the quench).

        Parameters
        ----------
        model : Model
            The ingredients; ``model.law`` gives the angles and thresholds.
        rng : numpy.random.Generator
            Source of the slip systems (``N`` angles and thresholds per element).

        Returns
        -------
        State
            Zero stress, pre-stress, plastic strain and counters.
        """
        n = model.n_elem
        N = model.law.N
        C = model.components
        law = model.law_arrays
        theta = np.zeros((n, N))
        tauc = np.zeros((n, N))
        nv = np.zeros((n, N, 2 if C == 3 else C))
        selfres = np.zeros((n, N))
        z = np.zeros((n, C))
        eps_pl = z.copy()
        system = (theta, tauc, nv, selfres, model.Kself, eps_pl, np.zeros(n, dtype=np.int64))
        if getattr(model.law, "per_element", None) is not None:  # element size: padding
            tauc[np.arange(N)[None, :] >= model.law.n_per_element(n)[:, None]] = np.inf
        renew = kernels_of(model.dim)[0].renew_element
        for e in range(n):
            renew(e, rng, system, law, True)
        return cls(model, z.copy(), z.copy(), eps_pl, theta, tauc, nv, selfres,
                   macro_strain=np.zeros(C))

    def copy(self) -> State:
        """Deep copy of the arrays (the model is shared).

        Returns
        -------
        State
            Independent arrays and counters, same :class:`Model` object.
        """
        out = State(self.model, *(np.array(a) for a in (
            self.stress, self.prestress, self.eps_pl, self.theta, self.tauc, self.nv,
            self.selfres, self.macro_strain, self.slips)),
            n_events=self.n_events, n_avalanches=self.n_avalanches, time=self.time,
            sref=self.sref.copy(), pref=self.pref.copy(), margin=self.margin.copy())
        return out

    def mean_tauc(self, axis: int | None = None) -> float | NDArray[np.float64]:
        """Mean threshold of the element's systems (``axis=1``, (n_elem,)) or of all (``None``).

        The inactive padding of the element-size law (``tau_c = +inf``) is left out; without
        it this is ``tauc.mean(axis)``.

        Parameters
        ----------
        axis : {None, 1}
            ``None``: one mean over every system; 1: one mean per element.

        Returns
        -------
        float or (n_elem,) float64 ndarray
            Units of ``G``.
        """
        if getattr(self.model.law, "per_element", None) is None:
            return self.tauc.mean(axis=axis)
        live = np.isfinite(self.tauc)
        if axis is None:
            return float(self.tauc[live].mean())
        return np.where(live, self.tauc, 0.0).sum(axis=1) / live.sum(axis=1)

    def mean_stress(self) -> NDArray[np.float64]:
        """Element-average stress (C,) (area-weighted on custom meshes).

        Returns
        -------
        (C,) float64 ndarray
            ``<Sigma>``, Voigt (xx, yy, xy) in 2D, (xx, yy, zz, yz, xz, xy) in 3D, units of
            ``G``.
        """
        a = self.model.mesh.areas
        return (self.stress * a[:, None]).sum(axis=0) / a.sum()

    def external_stress(self, alpha: float = 0.0) -> float:
        """Resolved external stress ``M(alpha) : <Sigma>``; ``alpha = 0`` gives ``<Sigma_xy>``.

        In 3D ``M(alpha)`` is :func:`~femplastic.weakplane.dimension.loading_tensor` (shear in
        the xy plane).

        Parameters
        ----------
        alpha : float
            Loading orientation in radians (default 0).

        Returns
        -------
        float
            Resolved mean stress, units of ``G``.
        """
        if self.model.dim == 2:
            return float(ddot(schmid(alpha), self.mean_stress()))
        return float(resolve(loading_tensor(3, alpha), self.mean_stress()))

    def dtau(self) -> NDArray[np.float64]:
        """Distances to threshold of every system, (n_elem, N).

        Returns
        -------
        (n_elem, N) float64 ndarray
            ``dtau_c = tau_c + a p - tau`` (units of ``G``): threshold (with the
            Drucker-Prager shift ``a p`` of variant B) minus the resolved shear stress;
            negative for an active system.
        """
        if self.model.dim == 3:  # tau = M : Sigma, p = -tr(Sigma) / 3
            tau = np.einsum("ekc,ec->ek", self.nv * np.array([1.0, 1, 1, 2, 2, 2]),
                            self.stress)
            a = self.model.law.pressure_coefficient
            p = -self.stress[:, :3].sum(axis=1) / 3.0 + self.model.law.pressure_offset
            return self.tauc + a * p[:, None] - tau
        s = np.stack([0.5 * (self.stress[:, 1] - self.stress[:, 0]), self.stress[:, 2]], axis=1)
        tau = np.einsum("ekc,ec->ek", self.nv, s)
        a = self.model.law.pressure_coefficient
        p = -0.5 * (self.stress[:, 0] + self.stress[:, 1]) + self.model.law.pressure_offset
        return self.tauc + a * p[:, None] - tau

    def is_stable(self) -> bool:
        """True when no system is active (all ``dtau_c >= 0``).

        Returns
        -------
        bool
            Whether every entry of :meth:`dtau` is ``>= 0``.
        """
        return bool(np.all(self.dtau() >= 0))

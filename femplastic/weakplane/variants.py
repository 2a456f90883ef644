"""Model variants A-I of Castellanos et al. (A.8, Fig. 6): one ingredient of model C changed.

Every variant is selected by one field, ``ModelParams.variant`` (``"C"`` by default), from
Python, a TOML ``[model]`` table or the command line (``femplastic run --set
model.variant=D``); :func:`femplastic.quench` and :func:`femplastic.build_model` then
assemble the ingredients below. :meth:`ModelParams.for_variant` gives the paper's optimum
parameters (:data:`femplastic.weakplane.params.VARIANT_PRESETS`).

========  =====================================================  ==============================
variant   ingredient changed (Castellanos et al., A.8)                     how femplastic builds it
========  =====================================================  ==============================
A         heterogeneous, non-evolving shear modulus per          ``G_e`` Weibull (mean
          element                                                ``G_weibull_mean = 18.4``,
                                                                 shape ``G_weibull_k = 1.3``)
                                                                 drawn from the realisation's
                                                                 rng; general-path propagator
                                                                 (dense <= 1024 elements, else
                                                                 sparse) built per realisation
B         Drucker-Prager thresholds ``tau_c + a p`` with a       ``SlipLaw.pressure_coefficient
          hydrostatic offset ``<p>``                             = dp_a``, ``pressure_offset =
                                                                 dp_p0``
C         the original model                                     model C
D         shuffled interaction kernel                            :class:`ShuffledPropagator`
E         homogeneous, non-evolving thresholds                   ``ConstantThreshold(
                                                                 tau_c_fixed)``, never renewed
F         2 systems (0, 90 deg), one shared threshold, fixed     ``FixedAngles``, shared
          amplitude                                              Weibull, ``FixedAmplitude(
                                                                 dgamma_fixed)``; ``N = 2``
G         F + shuffled kernel                                    F's law + shuffled kernel
H         F + homogeneous non-evolving thresholds                F's law, ``ConstantThreshold``
I         mean-field kernel                                      :class:`MeanFieldPropagator`
========  =====================================================  ==============================

Design decisions (details in ``docs/validation/weak_plane_variants.md``):

* **A** -- the moduli belong to the realisation: ``quench(params, rng)`` draws them
  (``n_elem`` draws of ``rng.weibull``, before anything else) and builds that realisation's
  :class:`~femplastic.weakplane.state.Model` (material, propagator, per-element self responses,
  hence
  per-element ``gmax``); ``state.model.material.G`` holds them. The convolution shortcut is
  never used for A, even for a uniform modulus field (which then reproduces C to round-off).
* **B** -- the hydrostatic offset enters the threshold only, never the stress fields (a
  hydrostatic stress resolves to zero on every slip plane): ``dtau_c = tau_c + a (p + p0) -
  tau``, in the AQS trigger search, the cached stability test and the KMC rates alike.
* **D, G** -- per event, the base (Eshelby) changes in the *other* elements are permuted by a
  uniform random permutation drawn from the run's generator; the self term is kept. The mean
  stress change per event is unchanged (``-C : deps / n``), the load response is the base's.
* **I** -- per event, the self term is kept and every other element receives the
  area-weighted average of the base changes over the other elements ("non-yielding" = every
  element but the event's own; a sweep is the sum of its events). Mean stress is conserved.

Plugging in your own ingredients
--------------------------------
Explicit ingredients passed to :func:`femplastic.quench` (or
:func:`femplastic.build_model`)
override the variant's: ``law=`` (a :class:`~femplastic.weakplane.slip.SlipLaw` with any
threshold law,
e.g. :class:`~femplastic.weakplane.slip.TabulatedThreshold.from_ppf`, and amplitude law),
``material=`` (per-element moduli) and ``propagator=`` (any
:class:`~femplastic.fe.propagators.Propagator`; for D, G and I it is wrapped as the base of the
variant's kernel). A propagator without a numba form runs through the Python sweep of
:func:`femplastic.relax`:

>>> import numpy as np, femplastic as fp
>>> from femplastic.fe.propagators import Propagator, PeriodicKernel
>>> class Scaled(Propagator):
...     '''The Eshelby kernel with the interactions (not the self term) scaled by s.'''
...     def __init__(self, base, s):
...         self.base, self.s = base, s
...         self.mesh, self.material = base.mesh, base.material
...     @property
...     def self_response(self):
...         return self.base.self_response
...     def stress(self, eps_pl, macro_strain=(0, 0, 0), prestress=None):
...         raise NotImplementedError("history dependent")
...     def load_response(self, direction):
...         return self.base.load_response(direction)
...     def add(self, stress, elems, deps):
...         for e, d in zip(elems, deps):
...             r = np.zeros_like(stress)
...             self.base.add(r, [e], [d])
...             own = r[e].copy()
...             stress += self.s * r
...             stress[e] += (1 - self.s) * own
>>> p = fp.ModelParams(L=6, T=0.0)
>>> prop = Scaled(fp.build_model(p).propagator, 0.5)
>>> rng = np.random.default_rng(0)
>>> st = fp.quench(p, rng, propagator=prop)
>>> run = fp.aqs(st, p, rng, gamma_end=0.05, dgamma=1e-3)
>>> bool(run.state.is_stable())
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..fe.elasticity import Isotropic
from ..fe.mesh import FEMesh
from ..fe.propagators import (
    MeanFieldPropagator,
    PeriodicKernel,
    Propagator,
    ShuffledPropagator,
    make_propagator,
)
from .params import TWO_SYSTEM_VARIANTS, VARIANT_NAMES, VARIANT_PRESETS, ModelParams

__all__ = [
    "VARIANTS",
    "VARIANT_NAMES",
    "VARIANT_PRESETS",
    "TWO_SYSTEM_VARIANTS",
    "Variant",
    "describe",
    "elastic_ingredients",
    "with_interaction",
]


@dataclass(frozen=True)
class Variant:
    """Description of one model variant (Castellanos et al. 2021, A.8).

    Attributes
    ----------
    name : str
        ``"A"`` ... ``"I"``.
    section : str
        Appendix section of Castellanos et al. 2021.
    description : str
        The ingredient changed with respect to model C.
    parameters : tuple of str
        The ``ModelParams`` fields specific to the variant.
    """

    name: str
    section: str
    description: str
    parameters: tuple[str, ...] = ()


VARIANTS: dict[str, Variant] = {
    "A": Variant("A", "A.8.1", "heterogeneous, non-evolving shear modulus per element "
                 "(Weibull)", ("G_weibull_mean", "G_weibull_k")),
    "B": Variant("B", "A.8.2", "Drucker-Prager thresholds tau_c + a (p + <p>)",
                 ("dp_a", "dp_p0")),
    "C": Variant("C", "A.8.3", "the original model"),
    "D": Variant("D", "A.8.4", "shuffled interaction kernel (self term kept)"),
    "E": Variant("E", "A.8.5", "homogeneous, non-evolving thresholds", ("tau_c_fixed",)),
    "F": Variant("F", "A.8.6", "two slip systems (0, 90 deg), one shared threshold, fixed "
                 "amplitude", ("dgamma_fixed",)),
    "G": Variant("G", "A.8.7", "F with the shuffled kernel", ("dgamma_fixed",)),
    "H": Variant("H", "A.8.8", "F with homogeneous, non-evolving thresholds",
                 ("tau_c_fixed", "dgamma_fixed")),
    "I": Variant("I", "A.8.9", "mean-field interaction kernel (self term kept)"),
}


def with_interaction(prop: Propagator, interaction: str) -> Propagator:
    """``prop`` turned into the interaction kernel ``interaction`` of a variant.

    Parameters
    ----------
    prop : Propagator
        The elastic (Eshelby) propagator, or one already of the requested kind.
    interaction : {"eshelby", "shuffled", "mean-field"}

    Returns
    -------
    Propagator
        ``prop`` itself for ``"eshelby"`` or when it already is of the requested kind,
        else :class:`ShuffledPropagator` / :class:`MeanFieldPropagator` over it.
    """
    if interaction == "eshelby":
        return prop
    want = {"shuffled": ShuffledPropagator, "mean-field": MeanFieldPropagator}.get(interaction)
    if want is None:
        raise ValueError(f"interaction must be 'eshelby', 'shuffled' or 'mean-field', got "
                         f"{interaction!r}")
    if isinstance(prop, want):
        return prop
    if isinstance(prop, ShuffledPropagator | MeanFieldPropagator):
        raise ValueError(f"propagator: the variant needs the {interaction} kernel, got a "
                         f"{type(prop).__name__}; pass the elastic propagator instead")
    return want(prop)


def elastic_ingredients(
    params: ModelParams,
    mesh: FEMesh,
    material: Isotropic | None = None,
    propagator: Propagator | None = None,
    rng: np.random.Generator | None = None,
) -> tuple[Isotropic, Propagator]:
    """Material and propagator of ``params.variant`` on ``mesh`` (explicit ones honoured).

    Parameters
    ----------
    params : ModelParams
    mesh : FEMesh
        Periodic mesh.
    material : Isotropic, optional
        Explicit material. Variant A needs per-element moduli (an ``(n_elem,)`` array of
        ``G``; a uniform array is allowed and reproduces model C through the general path).
    propagator : Propagator, optional
        Explicit elastic propagator (wrapped into the variant's kernel for D, G, I). Variant
        A refuses a :class:`PeriodicKernel` or a propagator built on scalar moduli.
    rng : numpy.random.Generator, optional
        Variant A without an explicit material or propagator: source of the moduli
        (``params.material(rng, n_elem)``).

    Returns
    -------
    material : Isotropic
    propagator : Propagator
    """
    if params.heterogeneous:
        if propagator is not None:
            base = getattr(propagator, "base", propagator)
            if isinstance(base, PeriodicKernel) or getattr(
                    base.material, "n_values", None) is None:
                raise ValueError(
                    "propagator: variant A needs per-element shear moduli and the general-path "
                    f"propagator, got a {type(base).__name__} on a homogeneous material; pass "
                    "material=Isotropic(G_array, B) or leave propagator unset")
            material = propagator.material if material is None else material
        else:
            if material is None:
                if not isinstance(rng, np.random.Generator):
                    raise ValueError(
                        "rng: variant A draws its per-element shear moduli per realisation; "
                        "pass rng= (femplastic.quench does) or material=Isotropic(G_array, B)")
                material = params.material(rng, mesh.n_elem)
            elif material.n_values is None:
                raise ValueError(
                    "material: variant A needs a per-element modulus field "
                    "(Isotropic(G_array, B) with G of shape (n_elem,)), got scalar moduli")
            propagator = make_propagator(mesh, material, periodic_kernel=False)
    else:
        material = material or params.material()
        if propagator is None:
            propagator = make_propagator(mesh, material)
    return material, with_interaction(propagator, params.interaction)


def describe(variant: str | None = None) -> str:
    """One line per variant (or the one given): name, section, ingredient, its parameters.

    >>> print(describe("E"))
    E (A.8.5): homogeneous, non-evolving thresholds [tau_c_fixed]
    """
    names = VARIANT_NAMES if variant is None else (str(variant).strip().upper(),)
    out = []
    for n in names:
        if n not in VARIANTS:
            raise ValueError(f"variant must be one of {', '.join(VARIANT_NAMES)}, got {variant!r}")
        v = VARIANTS[n]
        par = f" [{', '.join(v.parameters)}]" if v.parameters else ""
        out.append(f"{v.name} ({v.section}): {v.description}{par}")
    return "\n".join(out)

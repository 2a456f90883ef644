"""Model parameters: frozen, validated dataclasses; TOML configs; named presets.

Defaults are the calibrated "model C" of Castellanos et al. (2021) at ``l = 6.6``. Config
files are TOML with one table per dataclass::

    [model]
    L = 32
    k = 2.18

    [run]
    gamma_end = 2.0

``--set model.L=32`` on the command line uses the same names.

**Model variants** (Castellanos et al. 2021, appendix A.8;
:mod:`femplastic.weakplane.variants`): ``variant = "A"`` ... ``"I"`` selects which
ingredient of model C is changed (``--set model.variant=D``); the variant-specific
parameters are ordinary fields (``G_weibull_mean``, ``G_weibull_k``, ``dp_a``, ``dp_p0``,
``tau_c_fixed``, ``dgamma_fixed``). :meth:`ModelParams.for_variant` gives the paper's optimum
parameters of each variant, and so does a config or ``--set`` naming ``model.variant`` (for
every key it does not set itself).
"""

from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from .. import validation
from ..fe.elasticity import Isotropic
from . import element_size as _esize
from . import meshfile
from .dimension import check_dim
from .gpu.runtime import normalize_backend  # backend names only; imports no JAX
from .slip import (
    BoundedPowerLaw,
    ConstantThreshold,
    FixedAmplitude,
    FixedAngles,
    RandomGroups,
    SlipLaw,
    Weibull,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["ModelParams", "RunParams", "Config", "PRESETS", "VARIANT_PRESETS", "VARIANT_NAMES",
           "PROTOCOLS", "PROTOCOL_DEFAULTS", "PROTOCOL_KEYS", "load_config", "apply_overrides"]

#: Table 1 of Castellanos et al. (2021): element size l -> (L, N, n for R = 30).
TABLE1 = {3.5: (29, 8, 15), 4.4: (23, 16, 12), 6.6: (15, 36, 8), 8.8: (11, 64, 6),
          10.5: (9, 92, 5), 13.2: (8, 144, 4)}

#: The model variants of Castellanos et al. (2021) (A.8): C is the original model.
VARIANT_NAMES = ("A", "B", "C", "D", "E", "F", "G", "H", "I")
#: Variants with two slip systems (0 and 90 deg), a shared threshold and a fixed amplitude.
TWO_SYSTEM_VARIANTS = ("F", "G", "H")

#: Optimum parameters of each variant at ``l = 6.6`` (Castellanos et al. 2021, appendix A.8);
#: used by :meth:`ModelParams.for_variant`. H and I have no values in the paper (A.8.8 and
#: A.8.9 both state that "no combination of free parameters leads to a satisfactory fit"):
#: H keeps F's amplitude with the mean of F's threshold law, ``0.38 Gamma(1 + 1/1.17) = 0.36``;
#: I keeps C's.
VARIANT_PRESETS: dict[str, dict[str, Any]] = {
    "A": {"k": 2.18, "lam": 2.08, "chi": 2.19, "G_weibull_mean": 18.4, "G_weibull_k": 1.3},
    "B": {"k": 1.88, "lam": 1.05, "chi": 3.33, "dp_a": 0.2, "dp_p0": 1.95},
    "C": {"k": 2.18, "lam": 2.05, "chi": 2.25},
    "D": {"k": 2.03, "lam": 2.53, "chi": 3.05},
    "E": {"chi": 2.27, "tau_c_fixed": 0.925},
    "F": {"N": 2, "k": 1.17, "lam": 0.38, "dgamma_fixed": 0.022},
    "G": {"N": 2, "k": 1.09, "lam": 0.57, "dgamma_fixed": 0.064},
    "H": {"N": 2, "tau_c_fixed": 0.36, "dgamma_fixed": 0.022},
    "I": {"k": 2.18, "lam": 2.05, "chi": 2.25},
}


def _number(name: str, value: Any) -> None:
    """Raise TypeError unless ``value`` is a real number (booleans are not numbers)."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.integer
                                                               | np.floating):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")


def _positive(name: str, value: float, allow_zero: bool = False) -> None:
    _number(name, value)
    ok = np.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        rng = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {rng}, got {value!r}")


@dataclass(frozen=True)
class ModelParams:
    """Parameters of the weak-plane tensorial model (Castellanos et al. (2021), model C by default).

    Parameters
    ----------
    L : int
        Elements per side of the periodic ``L x L`` grid (>= 2; ``L^3``, >= 3, in 3D). Default 15.
    l : float
        Element side, LJ length units (> 0). Default 6.6.
    N : int
        Slip systems per element, a positive multiple of 4 (2 for variants F, G, H).
        Default 36.
    k, lam : float
        Weibull shape and scale of the slip thresholds (> 0; ``lam`` in the units of the
        stresses, those of ``G``). Defaults 2.18, 2.05.
    chi : float
        Exponent of the bounded power-law slip amplitude (> 0). Default 2.25.
    G, B : float
        Shear and 2D bulk moduli (> 0), LJ units: they set the stress unit. Defaults 13.2,
        59.0.
    T : float
        Quench (KMC) temperature in units of ``V_a`` (>= 0; 0 skips the thermal stage).
        Default 0.25.
    V_a : float
        Activation volume (> 0). Default 1.0.
    variant : str
        Model variant of Castellanos et al. 2021, appendix A.8 (``"A"`` ... ``"I"``, default
        ``"C"``, the original);
        see :mod:`femplastic.weakplane.variants`. ``N`` must be 2 for F, G, H. Stripped and
        upper-cased.
    G_weibull_mean, G_weibull_k : float
        Variant A: per-element shear moduli are Weibull with this mean and shape (drawn per
        realisation; the scale is ``mean / Gamma(1 + 1/k)``). Defaults 18.4, 1.3.
    dp_a, dp_p0 : float
        Variant B: Drucker-Prager coefficient ``a >= 0`` and hydrostatic offset ``<p>``; the
        effective threshold is ``tau_c + a (p + p0)``, ``p = -(s_xx + s_yy) / 2``.
        Defaults 0.2, 1.95.
    tau_c_fixed : float
        Variants E and H: the homogeneous, non-evolving threshold (> 0). Default 0.925.
    dgamma_fixed : float
        Variants F, G, H: the fixed slip amplitude (> 0). Default 0.022.
    dim : int
        2 (default) or 3: see :mod:`femplastic.weakplane.dimension` (3D: B, C, E, ``N >= 6``).
    mesh : str
        Periodic all-quad mesh file replacing the grid: :mod:`femplastic.weakplane.meshfile`.
    element_size : str
        ``"off"`` (default), ``"density"`` (``N_e = rho_s A_e`` per element) or
        ``"density+table1"`` (also ``k, lam, chi`` vs ``l_e``): 2D, variants A, B, C, D, I;
        :mod:`femplastic.weakplane.element_size`.
    rho_s : float
        Slip-system density (> 0) of the element-size ingredient. Default 0.8 (sec. 3.2).

    Raises
    ------
    ValueError
        If ``variant`` is not one of ``"A"`` ... ``"I"``; ``L`` is not an integer >= 2;
        ``N`` is not a positive multiple of 4 (or not 2 for variants F, G, H); ``l``, ``k``,
        ``lam``, ``chi``, ``G``, ``B``, ``V_a``, ``G_weibull_mean``, ``G_weibull_k``,
        ``tau_c_fixed`` or ``dgamma_fixed`` is not finite and > 0; ``T`` or ``dp_a`` is not
        finite and >= 0; ``dp_p0`` is not finite; ``mesh`` is a bad mesh file (meshfile).
    TypeError
        If a number is given as something else (a string, None, a list, a boolean), ``L`` or
        ``N`` is not an integer, or ``variant`` is not a string; the message names it.
    """

    L: int = 15
    l: float = 6.6
    N: int = 36
    k: float = 2.18
    lam: float = 2.05
    chi: float = 2.25
    G: float = 13.2
    B: float = 59.0
    T: float = 0.25
    V_a: float = 1.0
    variant: str = "C"
    G_weibull_mean: float = 18.4
    G_weibull_k: float = 1.3
    dp_a: float = 0.2
    dp_p0: float = 1.95
    tau_c_fixed: float = 0.925
    dgamma_fixed: float = 0.022
    dim: int = 2
    mesh: str | None = None
    element_size: str = "off"
    rho_s: float = 0.8

    def __post_init__(self) -> None:
        if not isinstance(self.variant, str):
            raise TypeError(f"variant must be a string (\"A\" ... \"I\"), got "
                            f"{type(self.variant).__name__} {self.variant!r}")
        v = self.variant.strip().upper()
        if v not in VARIANT_NAMES:
            raise ValueError(f"variant must be one of {', '.join(VARIANT_NAMES)} (Castellanos "
                             f"et al. 2021, A.8), got {self.variant!r}")
        object.__setattr__(self, "variant", v)
        check_dim(self.dim, v, self.N, self.L)
        if isinstance(self.L, bool | np.bool_) or not isinstance(self.L, int | np.integer):
            raise TypeError(f"L must be an integer, got {type(self.L).__name__} {self.L!r}")
        if self.L < 2:
            raise ValueError(f"L must be an integer >= 2, got {self.L!r}")
        if v in TWO_SYSTEM_VARIANTS:
            if isinstance(self.N, bool) or self.N != 2:
                raise ValueError(
                    f"N must be 2 for variant {v} (two slip systems at 0 and 90 deg), got "
                    f"{self.N!r}; set N=2 (ModelParams.for_variant({v!r}) sets the A.8 values)")
        elif isinstance(self.N, bool | np.bool_) or not isinstance(self.N, int | np.integer):
            raise TypeError(f"N must be an integer, got {type(self.N).__name__} {self.N!r}")
        elif self.dim == 2 and (self.N < 4 or self.N % 4):
            raise ValueError(f"N must be a positive multiple of 4, got {self.N!r}")
        for name in ("l", "k", "lam", "chi", "G", "B", "V_a", "G_weibull_mean", "G_weibull_k",
                     "tau_c_fixed", "dgamma_fixed"):
            _positive(name, getattr(self, name))
        _positive("T", self.T, allow_zero=True)
        _positive("dp_a", self.dp_a, allow_zero=True)
        _number("dp_p0", self.dp_p0)
        if not np.isfinite(self.dp_p0):
            raise ValueError(f"dp_p0 must be finite, got {self.dp_p0!r}")
        meshfile.check_params(self)  # model.mesh: the file is a periodic quad mesh L describes
        es = _esize.check(self.element_size, self.rho_s)
        object.__setattr__(self, "element_size", es)
        if es != "off" and (self.dim != 2 or v in ("E", "F", "G", "H")):
            raise ValueError(f"element_size={es!r} needs a 2D model of variant A, B, C, D or I "
                             f"(Weibull thresholds, power-law amplitudes), got dim={self.dim}, "
                             f"variant {v}; set element_size='off'")

    @classmethod
    def for_variant(cls, variant: str, **overrides: Any) -> ModelParams:
        """Variant ``variant`` with its optimum parameters (Castellanos et al. 2021, A.8, l = 6.6).

        See :data:`VARIANT_PRESETS` (H and I have no published values). ``overrides``
        change any field, e.g. ``ModelParams.for_variant("F", L=32)``.

        Parameters
        ----------
        variant : str
            ``"A"`` ... ``"I"`` (case-insensitive).
        **overrides
            Field values replacing the defaults and the variant's presets.

        Returns
        -------
        ModelParams
            The variant's parameters, validated.

        Raises
        ------
        ValueError
            If ``variant`` is unknown, or an override is invalid.

        Examples
        --------
        >>> p = ModelParams.for_variant("f", L=8)
        >>> p.variant, p.N, p.L, p.dgamma_fixed
        ('F', 2, 8, 0.022)
        """
        v = str(variant).strip().upper()
        if v not in VARIANT_PRESETS:
            raise ValueError(f"variant must be one of {', '.join(VARIANT_NAMES)}, got {variant!r}")
        return cls(**{**VARIANT_PRESETS[v], "variant": v, **overrides})

    @property
    def interaction(self) -> str:
        """Interaction kernel of the variant: ``"eshelby"``, ``"shuffled"`` or ``"mean-field"``.

        Returns
        -------
        str
            ``"shuffled"`` for D and G, ``"mean-field"`` for I, else ``"eshelby"``.
        """
        if self.variant in ("D", "G"):
            return "shuffled"
        if self.variant == "I":
            return "mean-field"
        return "eshelby"

    @property
    def heterogeneous(self) -> bool:
        """Whether the variant has per-element (per-realisation) moduli (variant A).

        Returns
        -------
        bool
            True for variant A only.
        """
        return self.variant == "A"

    @classmethod
    def preset(cls, l: float, **overrides: Any) -> ModelParams:
        """Table 1 of Castellanos et al. (2021): ``L``, ``N`` for element size ``l`` 3.5-13.2.

        Only ``l = 6.6`` has calibrated ``(k, lam, chi, T)`` in the paper; for the other
        sizes those stay at the model C values unless overridden.

        Parameters
        ----------
        l : float
            Element size, one of 3.5, 4.4, 6.6, 8.8, 10.5, 13.2 (LJ length units).
        **overrides
            Field values replacing the defaults (and the table's ``L``, ``N``).

        Returns
        -------
        ModelParams
            Validated parameters with ``l`` and the table's ``L`` and ``N``.

        Raises
        ------
        ValueError
            If ``l`` is not a key of Table 1, or an override is invalid.

        Examples
        --------
        >>> p = ModelParams.preset(4.4)
        >>> p.L, p.N, p.l
        (23, 16, 4.4)
        """
        if l not in TABLE1:
            raise ValueError(f"no Table 1 preset for l = {l}; choose one of {sorted(TABLE1)}")
        L, N, _ = TABLE1[l]
        return cls(**{"L": L, "N": N, "l": l, **overrides})

    def material(self, rng: np.random.Generator | None = None,
                 n_elem: int | None = None) -> Isotropic:
        """The elastic material: homogeneous ``(G, B)``, or for variant A a random field.

        Parameters
        ----------
        rng : numpy.random.Generator, optional
            Variant A only (required there): source of the per-element shear moduli.
        n_elem : int, optional
            Variant A only (required there): number of elements.

        Returns
        -------
        Isotropic
            Other variants: ``Isotropic(G, B)``, homogeneous (``rng`` and ``n_elem`` are
            ignored). Variant A: ``G`` (n_elem,) Weibull of mean ``G_weibull_mean`` and shape
            ``G_weibull_k`` (``n_elem`` draws of ``rng.weibull``), ``B`` homogeneous.

        Raises
        ------
        ValueError
            Variant A only: if ``rng`` is not a ``numpy.random.Generator`` or ``n_elem`` is
            None.
        """
        if self.variant != "A":
            return Isotropic(self.G, self.B)
        if not isinstance(rng, np.random.Generator) or n_elem is None:
            raise ValueError(
                "variant A draws its per-element shear moduli per realisation: call "
                "material(rng, n_elem) (femplastic.quench does it with the realisation's rng)")
        scale = self.G_weibull_mean / math.gamma(1.0 + 1.0 / self.G_weibull_k)
        return Isotropic(scale * rng.weibull(self.G_weibull_k, int(n_elem)), self.B)

    def slip_law(self) -> SlipLaw:
        """The slip law of the variant (model C: random groups, Weibull, power-law slips).

        B adds the Drucker-Prager shift ``a (p + p0)``; E has constant never-renewed
        thresholds ``tau_c_fixed``; F and G two systems (0, 90 deg) sharing one Weibull
        threshold per element with a fixed amplitude ``dgamma_fixed``; H is F with constant
        never-renewed thresholds. A, C, D and I share model C's law.

        Returns
        -------
        SlipLaw
            A new law built from the fields.
        """
        v = self.variant
        if v in TWO_SYSTEM_VARIANTS:
            homog = v == "H"
            thr = ConstantThreshold(self.tau_c_fixed) if homog else Weibull(self.k, self.lam)
            return SlipLaw(N=2, orientation=FixedAngles((0.0, np.pi / 2)), threshold=thr,
                           amplitude=FixedAmplitude(self.dgamma_fixed), shared_threshold=True,
                           renew_thresholds=not homog, renew_angles=False)
        if v == "E":
            return SlipLaw(N=self.N, orientation=RandomGroups(),
                           threshold=ConstantThreshold(self.tau_c_fixed),
                           amplitude=BoundedPowerLaw(self.chi), renew_thresholds=False)
        law = SlipLaw(N=self.N, orientation=RandomGroups(), threshold=Weibull(self.k, self.lam),
                      amplitude=BoundedPowerLaw(self.chi))
        if v == "B":
            law = dataclasses.replace(law, pressure_coefficient=self.dp_a,
                                      pressure_offset=self.dp_p0)
        return law

    def replace(self, **changes: Any) -> ModelParams:
        """A copy with some fields changed, validated (``ValueError`` naming a bad value).

        Parameters
        ----------
        **changes
            New field values, e.g. ``L=32``.
        """
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the fields in declaration order; ``mesh`` only when set (no TOML None)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "mesh" or v is not None}


#: Loading protocols of ``femplastic run`` (``run.protocol``).
PROTOCOLS = ("aqs", "cyclic", "stress", "bauschinger", "local-yield", "rate", "creep")

#: Defaults of the protocol-specific keys of :class:`RunParams`.
PROTOCOL_DEFAULTS: dict[str, Any] = {
    "gamma_max": 0.05, "cycles": 10, "until_absorbed": False, "stress_end": 0.5,
    "dstress": 1e-3, "gamma_limit": 1.0, "gamma_reload": 0.1, "patch": 8, "n_alphas": 2,
    "gdot": 1e-3, "target_stress": 0.4, "t_end": 100.0, "dt": 0.01, "tau0": 1.0,
    "tau_pl": 1.0, "tau_res": 2.0,
}

#: The protocol-specific keys each protocol reads (the common keys ``gamma_end``, ``dgamma``,
#: ``alpha`` ... are shared).
PROTOCOL_KEYS: dict[str, tuple[str, ...]] = {
    "aqs": (),
    "cyclic": ("gamma_max", "cycles", "until_absorbed"),
    "stress": ("stress_end", "dstress", "gamma_limit"),
    "bauschinger": ("gamma_reload",),
    "local-yield": ("patch", "n_alphas"),
    "rate": ("gdot", "t_end", "dt", "tau0", "tau_pl", "tau_res"),
    "creep": ("target_stress", "t_end", "dt", "tau0", "tau_pl", "tau_res"),
}


@dataclass(frozen=True)
class RunParams:
    """Loading protocol of ``femplastic run``.

    Parameters
    ----------
    gamma_end : float
        Final external strain, dimensionless (> 0). Default 2.0.
    dgamma : float
        External strain increment (> 0, < gamma_end). Default 1e-4.
    alpha : float
        Loading orientation in radians (``E = gamma M(alpha)``, finite). Default 0.
    event_driven : bool
        Skip increments that trigger nothing, exactly. Default True.
    stationary_from : float
        Strain above which statistics are stationary (>= 0). Default 0.5 (Castellanos et al.).
    fields_every : float
        Strain between two ParaView snapshots (>= 0; 0: only the first and last). Default 0.1.
    backend : str
        AQS backend (:func:`femplastic.aqs`): ``"numba"`` (default, CPU), ``"jax"`` or
        ``"gpu"`` (the optional accelerated backend, ``pip install "femplastic[gpu]"``).
    protocol : str
        Loading protocol (:data:`PROTOCOLS`): ``aqs`` (default), ``cyclic``, ``stress``,
        ``bauschinger``, ``local-yield``, ``rate`` or ``creep``. The keys below belong to
        some protocols only (:data:`PROTOCOL_KEYS`); left unset (None) they take the defaults
        of :data:`PROTOCOL_DEFAULTS`, and setting one for another protocol is an error.
    gamma_max : float, optional
        ``cyclic``: strain amplitude (> 0, a multiple of ``dgamma``). Default 0.05.
    cycles : int, optional
        ``cyclic``: number of cycles (>= 1). Default 10.
    until_absorbed : bool, optional
        ``cyclic``: stop at the first limit cycle. Default False.
    stress_end : float, optional
        ``stress``: final resolved external stress of the ramp. Default 0.5.
    dstress : float, optional
        ``stress``: stress increment (> 0). Default 1e-3.
    gamma_limit : float, optional
        ``stress``: strain excursion (> 0) taken as flow. Default 1.0.
    gamma_reload : float, optional
        ``bauschinger``: strain of each reload (> 0) after the preload to ``gamma_end``.
        Default 0.1.
    patch : int, optional
        ``local-yield``: patch side in elements (>= 1, <= L). Default ``min(8, L)``.
    n_alphas : int, optional
        ``local-yield``: orientations ``alpha = k pi / n_alphas`` (>= 1). Default 2
        (forward and backward).
    gdot : float, optional
        ``rate``: imposed strain rate (> 0). Default 1e-3.
    target_stress : float, optional
        ``creep``: imposed resolved stress. Default 0.4.
    t_end : float, optional
        ``rate``, ``creep``: duration (> 0). Default 100.
    dt, tau0, tau_pl, tau_res : float, optional
        ``rate``, ``creep``: time step and time scales
        (:class:`~femplastic.weakplane.drivers.rate.RateParams`). Defaults 0.01, 1, 1, 2.

    Raises
    ------
    ValueError
        If ``gamma_end`` or ``dgamma`` is not finite and > 0, ``dgamma >= gamma_end``,
        ``alpha`` is not finite, ``stationary_from`` or ``fields_every`` is not finite
        and >= 0, ``backend`` is not one of ``numba``, ``jax``, ``gpu``, ``protocol`` is not
        one of :data:`PROTOCOLS`, a protocol key is set for a protocol that does not use it, or
        a protocol key is out of its range, or a cross-check fails
        (:func:`femplastic.validation.check_run_params`: keys the protocol does not read,
        values on the ``dgamma`` lattice, ``fields_every``, ``t_end``, ``gdot``...).
    TypeError
        If a number is not a number (booleans, strings, lists are not), an integer key is
        not an integer, or a boolean key is not a boolean (numbers are not booleans).
    """

    gamma_end: float = 2.0
    dgamma: float = 1e-4
    alpha: float = 0.0
    event_driven: bool = True
    stationary_from: float = 0.5
    fields_every: float = 0.1
    backend: str = "numba"
    protocol: str = "aqs"
    gamma_max: float | None = None
    cycles: int | None = None
    until_absorbed: bool | None = None
    stress_end: float | None = None
    dstress: float | None = None
    gamma_limit: float | None = None
    gamma_reload: float | None = None
    patch: int | None = None
    n_alphas: int | None = None
    gdot: float | None = None
    target_stress: float | None = None
    t_end: float | None = None
    dt: float | None = None
    tau0: float | None = None
    tau_pl: float | None = None
    tau_res: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.event_driven, bool | np.bool_):
            raise TypeError(f"event_driven must be true or false, got "
                            f"{type(self.event_driven).__name__} {self.event_driven!r}")
        _positive("gamma_end", self.gamma_end)
        _positive("dgamma", self.dgamma)
        proto = self.protocol.strip().lower() if isinstance(self.protocol, str) else None
        if proto in ("aqs", "bauschinger", "local-yield") and self.dgamma >= self.gamma_end:
            raise ValueError(f"dgamma ({self.dgamma}) must be smaller than gamma_end "
                             f"({self.gamma_end})")
        _number("alpha", self.alpha)
        if not np.isfinite(self.alpha):
            raise ValueError(f"alpha must be finite, got {self.alpha!r}")
        _positive("stationary_from", self.stationary_from, allow_zero=True)
        _positive("fields_every", self.fields_every, allow_zero=True)
        object.__setattr__(self, "backend", normalize_backend(self.backend))
        if proto not in PROTOCOLS:
            raise ValueError(f"run.protocol must be one of {', '.join(PROTOCOLS)}, got "
                             f"{self.protocol!r}")
        object.__setattr__(self, "protocol", proto)
        own = PROTOCOL_KEYS[proto]
        for key in PROTOCOL_DEFAULTS:
            if getattr(self, key) is not None and key not in own:
                users = [p for p in PROTOCOLS if key in PROTOCOL_KEYS[p]]
                raise ValueError(
                    f"run.{key} does not apply to run.protocol={proto} (it is a key of "
                    f"{', '.join(users)}); the keys of {proto} are: "
                    f"{', '.join('run.' + k for k in own) or 'none beyond the common ones'}")
        opts = self.settings()
        for key in ("gamma_max", "dstress", "gamma_limit", "gamma_reload", "gdot", "t_end",
                    "dt", "tau0", "tau_pl", "tau_res"):
            if key in opts:
                _positive(f"run.{key}", opts[key])
        for key in ("cycles", "patch", "n_alphas"):
            if key in opts:
                validation.integer(f"run.{key}", opts[key], low=1)
        if "until_absorbed" in opts and not isinstance(opts["until_absorbed"], bool | np.bool_):
            raise TypeError(f"run.until_absorbed must be true or false, got "
                            f"{opts['until_absorbed']!r}")
        for key in ("stress_end", "target_stress"):  # booleans are not stresses (TOML true)
            validation.number(f"run.{key}", opts.get(key, 0.0))
        if "dt" in opts:
            limit = 0.1 * min(opts["tau0"], opts["tau_pl"], opts["tau_res"])
            if opts["dt"] > limit:
                raise ValueError(f"run.dt must be <= 0.1 min(tau0, tau_pl, tau_res) = {limit:g} "
                                 f"for a stable explicit integration, got {opts['dt']}")
        if "gamma_max" in opts and self.dgamma > opts["gamma_max"]:
            raise ValueError(f"run.dgamma ({self.dgamma}) must not exceed run.gamma_max "
                             f"({opts['gamma_max']})")
        validation.check_run_params(self)  # cross-checks, keys of other protocols

    def settings(self) -> dict[str, Any]:
        """The protocol's own keys with their defaults filled in.

        Returns
        -------
        dict
            ``{key: value}`` for the keys of :data:`PROTOCOL_KEYS` ``[protocol]``.
        """
        return {k: (PROTOCOL_DEFAULTS[k] if getattr(self, k) is None else getattr(self, k))
                for k in PROTOCOL_KEYS[self.protocol.strip().lower()]}

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the fields.

        Returns
        -------
        dict
            ``{field name: value}``, in declaration order.
        """
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Config:
    """A full configuration: ``[model]`` and ``[run]`` tables.

    Parameters
    ----------
    model : ModelParams
        The ``[model]`` table (default: model C).
    run : RunParams
        The ``[run]`` table (default: ``RunParams()``).
    """

    model: ModelParams = field(default_factory=ModelParams)
    run: RunParams = field(default_factory=RunParams)

    def __post_init__(self) -> None:
        validation.check_config(self)  # types, run.patch <= model.L, stresses within the model

    def to_dict(self) -> dict[str, Any]:
        """Nested plain dict.

        Returns
        -------
        dict
            ``{"model": {...}, "run": {...}}`` (``ModelParams.to_dict``, ``RunParams.to_dict``).
        """
        return {"model": self.model.to_dict(), "run": self.run.to_dict()}


PRESETS = {f"l{l}": ModelParams.preset(l) for l in TABLE1}


def _coerce(cls: type, key: str, raw: Any, section: str = "") -> Any:
    name = f"{section}.{key}" if section else key  # as the user typed it (run.cycles)
    ftypes = {f.name: f.type for f in fields(cls)}
    t = str(ftypes[key]).replace(" | None", "")
    if isinstance(raw, str):
        if t == "str":
            return raw.strip()
        low = raw.strip().lower()
        if "bool" in t:
            if low in ("true", "1", "yes"):
                return True
            if low in ("false", "0", "no"):
                return False
            raise ValueError(f"{name} expects true/false, got {raw!r}")
        try:
            return int(raw) if t == "int" else float(raw)
        except ValueError:
            kind = "an integer" if t == "int" else "a number"
            raise ValueError(f"{name} expects {kind}, got {raw!r}") from None
    if t == "float" and isinstance(raw, int) and not isinstance(raw, bool):
        return float(raw)
    return raw


def _build(cls: type, table: dict[str, Any], section: str) -> Any:
    names = {f.name for f in fields(cls)}
    if cls is ModelParams and isinstance(table.get("variant"), str):
        # a variant comes with its calibrated parameters (Castellanos et al., A.8) unless
        # the table sets them explicitly
        v = table["variant"].strip().upper()
        table = {**VARIANT_PRESETS.get(v, {}), **table}
    table = meshfile.mesh_table(table) if cls is ModelParams else table  # L, l of model.mesh
    unknown = sorted(set(table) - names)
    if unknown:
        raise ValueError(f"unknown config key(s) {', '.join(section + '.' + u for u in unknown)}; "
                         f"allowed: {', '.join(section + '.' + n for n in sorted(names))}")
    return cls(**{k: _coerce(cls, k, v, section) for k, v in table.items()})


def config_from_dict(data: dict[str, Any]) -> Config:
    """Validate a nested dict (as read from TOML) into a :class:`Config`.

    Parameters
    ----------
    data : dict
        ``{"model": {...}, "run": {...}}``; either table may be missing (defaults). Values
        may be strings (as from ``--set``): they are converted to the field's type.

    Returns
    -------
    Config
        The validated configuration.

    Raises
    ------
    ValueError
        A section other than ``model``, ``run`` or not a table, an unknown key, a string
        that does not convert to the field's type, a value the dataclasses reject.
    TypeError
        If a value has the wrong type (e.g. ``k = [1, 2]``, ``L = true``).

    Notes
    -----
    ``model.variant`` brings the variant's calibrated parameters (:data:`VARIANT_PRESETS`,
    as :meth:`ModelParams.for_variant`) for every key the table does not set: ``--set
    model.variant=D`` runs Castellanos et al.'s variant D at its optimum ``(k, lam, chi)``,
    ``--set model.variant=D --set model.k=2.5`` changes ``k`` only. ``model.mesh`` brings
    ``L`` (and ``l``) from the mesh unless set (:func:`femplastic.weakplane.meshfile.mesh_table`).
    """
    unknown = sorted(set(data) - {"model", "run"})
    if unknown:
        raise ValueError(f"unknown config section(s) {unknown}; allowed: 'model', 'run'")
    for sec in ("model", "run"):
        if not isinstance(data.get(sec, {}), dict):
            raise ValueError(f"config section {sec!r} must be a table")
    return Config(_build(ModelParams, data.get("model", {}), "model"),
                  _build(RunParams, data.get("run", {}), "run"))


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Read a TOML config (or the defaults) and apply ``section.key=value`` overrides.

    Parameters
    ----------
    path : str or Path, optional
        TOML file with ``[model]`` and ``[run]`` tables; None: the defaults.
    overrides : list of str, optional
        ``section.key=value`` strings (``--set``), applied after the file.

    Returns
    -------
    Config
        The validated configuration.

    Raises
    ------
    ValueError
        If ``path`` does not exist, is a folder, is not UTF-8 text or not valid TOML, an
        override is malformed, an override names a ``[run]`` key the protocol does not read
        (even at its default value; :func:`femplastic.validation.check_protocol_keys`), or the
        result is not a valid configuration (:func:`config_from_dict`).

    Examples
    --------
    >>> cfg = load_config(None, ["model.L=8", "run.gamma_end=0.5"])
    >>> cfg.model.L, cfg.run.gamma_end
    (8, 0.5)
    """
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.exists():
            raise ValueError(f"config file {str(p)!r} does not exist")
        if not p.is_file():
            raise ValueError(f"config file {str(p)!r} is a folder, not a TOML file")
        try:
            text = p.read_bytes().decode("utf-8")
        except OSError as exc:
            raise ValueError(f"config file {str(p)!r} cannot be read: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise ValueError(f"config file {str(p)!r} is not a text (UTF-8) TOML file") from None
        try:
            data = validation.check_file_types(tomllib.loads(text), str(p))
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"config file {str(p)!r}: {exc}") from None
    cfg = config_from_dict(apply_overrides(data, overrides or []))
    validation.check_protocol_keys(cfg.run.protocol, overrides or [])  # even at the default
    return cfg


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``section.key=value`` strings to a nested dict (a new dict is returned).

    Values are kept as stripped strings; :func:`config_from_dict` converts them.

    Parameters
    ----------
    data : dict
        Nested ``{section: {key: value}}`` dict; not modified.
    overrides : list of str
        ``section.key=value`` strings, applied in order (a later one wins).

    Returns
    -------
    dict
        A copy of ``data`` (copied one level deep) with the overrides set.

    Raises
    ------
    ValueError
        If an override has no ``=``, its key is not ``section.key``, its value is empty, or
        its section exists in ``data`` but is not a table.

    Examples
    --------
    >>> apply_overrides({"model": {"L": 15}}, ["model.L=32", "run.alpha=0.1"])
    {'model': {'L': '32'}, 'run': {'alpha': '0.1'}}
    """
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"--set expects section.key=value, got {item!r}")
        key, value = item.split("=", 1)
        parts = key.strip().split(".")
        if len(parts) != 2 or not all(parts):
            raise ValueError(f"--set key must be section.key (e.g. model.L), got {key!r}")
        if not value.strip():
            raise ValueError(f"--set {key}: empty value")
        out.setdefault(parts[0], {})
        if not isinstance(out[parts[0]], dict):
            raise ValueError(f"config section {parts[0]!r} must be a table")
        out[parts[0]][parts[1]] = value.strip()
    return out

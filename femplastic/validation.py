"""One validation layer: types, ranges, cross-checks and cost of every input, before any work.

Every entry point checks its input here, so the CLI (``femplastic run``), ``ensemble``,
``sweep`` and the library refuse the same things with the same messages:

* **types** (:mod:`femplastic.typecheck`, re-exported here: :func:`number`, :func:`integer`,
  :func:`boolean`, :func:`instance`; :func:`check_file_types`): booleans, strings (a quoted
  ``dim = "3"`` in a file) and arrays are not numbers, numbers are not booleans; a
  ``TypeError`` names the parameter and value;
* **protocol rules** (:func:`check_run_params`, called by
  :class:`~femplastic.weakplane.params.RunParams`; :func:`check_protocol_keys`, called by
  :func:`~femplastic.weakplane.params.load_config` on the keys a file or ``--set`` names):
  keys another protocol reads are refused, values are kept exactly (a cyclic ``gamma_max`` or
  an AQS ``gamma_end`` that is not a whole number of ``dgamma`` is refused with the nearest
  valid values, never rounded silently), ``fields_every >= dgamma``, ``t_end >= 10 dt``,
  absurd values refused with their allowed range (:data:`LIMITS`);
* **model cross-checks** (:func:`check_config`, called by ``Config``): a patch at most ``L``,
  an imposed stress at most :data:`STRESS_MAX_G` ``G``, what 3D runs (:func:`check_dimension`);
* **cost** (:func:`femplastic.weakplane.estimates.footprint`,
  :func:`~femplastic.weakplane.estimates.check_cost`): load or time steps, cycles, snapshots,
  memory, disk and run time of *every* protocol against what is available, before the
  quench; :func:`check_memory` for one library call (``fp.aqs(dgamma=1e-12)``); the
  ``check_<entry point>`` functions check the arguments of each library entry point.

Messages name the parameter as the caller knows it: ``run.gamma_max`` for a configuration,
``gamma_max`` for a library argument.
"""

from __future__ import annotations

import math
from dataclasses import fields
from pathlib import Path
from typing import Any

from .typecheck import boolean, instance, integer, number, params_match, rng, state

__all__ = ["number", "integer", "boolean", "instance", "rng", "state", "params_match",
           "check_run_params", "check_protocol_keys", "check_config", "check_memory",
           "check_model_size", "check_run_flags", "PROTOCOL_COMMON_KEYS", "LIMITS",
           "STRESS_MAX_G", "stress_bound", "LATTICE_RTOL", "lattice_steps", "lattice_multiple"]

_GIB = 1024.0 ** 3
#: Memory below which a library call is not compared with the available memory (cheap).
_SMALL_BYTES = 256.0 * 1024 ** 2
#: Largest imposed resolved stress (``stress_end``, ``target_stress``) in units of the shear
#: modulus: an elastic shear strain of 0.5, beyond the small-strain model.
STRESS_MAX_G = 0.5
#: Upper bounds of protocol keys, with the reason shown in the error.
LIMITS: dict[str, tuple[float, str]] = {
    "n_alphas": (180, "one orientation per degree of the half turn is the finest useful"),
    "rate_step_strain": (1e-3, "strain per time step run.gdot * run.dt: a larger step jumps "
                               "over the thresholds of the explicit integration"),
}
#: Bytes per record row kept in memory (arrays + one copy when written), as
#: :mod:`femplastic.weakplane.estimates`.
ROW_BYTES = 128

#: The common ``[run]`` keys each protocol reads; a protocol's own keys are
#: :data:`femplastic.weakplane.params.PROTOCOL_KEYS`. Setting another key is refused.
COMMON_KEYS = ("gamma_end", "dgamma", "alpha", "event_driven", "stationary_from",
               "fields_every", "backend")
PROTOCOL_COMMON_KEYS: dict[str, tuple[str, ...]] = {
    "aqs": COMMON_KEYS,
    "cyclic": ("dgamma", "alpha"),
    "stress": ("alpha",),
    # the preload (bauschinger) and pre-shear (local-yield) are AQS along alpha = 0
    "bauschinger": ("gamma_end", "dgamma", "event_driven"),
    "local-yield": ("gamma_end", "dgamma", "event_driven"),
    "rate": ("alpha",),
    "creep": ("alpha",),
}


# ---------------------------------------------------------------------- protocol rules

#: Relative tolerance of "a whole number of steps": ``value / step`` within ``LATTICE_RTOL n``
#: of an integer ``n >= 1`` counts as ``n`` steps. The one definition of the strain lattice
#: (``gamma_end``, ``gamma_max``, ``gamma_reload`` on ``dgamma``: :func:`lattice_steps`) and of
#: a whole stress ramp (:func:`femplastic.weakplane.drivers.stress.ramp_steps`); far above the
#: round-off of the division (~1e-16 n), far below any intended fraction of a step.
LATTICE_RTOL = 1e-9


def lattice_steps(value: float, step: float) -> int | None:
    """``n`` when ``value`` is a whole number ``n >= 1`` of ``step`` (to :data:`LATTICE_RTOL`).

    Parameters
    ----------
    value, step : float
        Positive and finite (e.g. ``gamma_max`` and ``dgamma``).

    Returns
    -------
    int or None
        The number of steps, or None when ``value / step`` is not within ``LATTICE_RTOL n``
        of an integer ``n >= 1``.
    """
    k = value / step
    n = round(k)
    if n >= 1 and abs(k - n) <= LATTICE_RTOL * n:
        return int(n)
    return None


def lattice_multiple(name: str, value: float, step_name: str, step: float) -> int:
    """Refuse ``value`` unless it is a whole number (>= 1) of ``step``, naming the nearest.

    Returns the number of steps (:func:`lattice_steps`).
    """
    n = lattice_steps(value, step)
    if n is not None:
        return n
    k = value / step
    lo = max(1, math.floor(k)) * step
    hi = max(1, math.ceil(k)) * step
    near = f"{lo:.12g}" if lo == hi else f"{lo:.12g} or {hi:.12g}"
    raise ValueError(f"{name} = {value:g} must be a whole number of {step_name} = {step:g} "
                     f"steps (it would be rounded to {max(round(k), 1) * step:.12g}); nearest "
                     f"valid: {near}")


def check_protocol_keys(protocol: str, keys: Any) -> None:
    """Refuse ``[run]`` keys that ``protocol`` does not read, named on the command line.

    :class:`~femplastic.weakplane.params.RunParams` refuses them at another value than their
    default (so the file of ``femplastic config``, which lists every key, loads for every
    protocol); ``--set`` and ``--grid`` may not name them at all.

    Parameters
    ----------
    protocol : str
        A normalised protocol name (:data:`femplastic.weakplane.params.PROTOCOLS`).
    keys : iterable of str
        ``[run]`` key names, or ``section.key=value`` overrides (other sections ignored).

    Raises
    ------
    ValueError
        Naming the first such key and the keys the protocol reads.
    """
    from .weakplane.params import PROTOCOL_KEYS

    if protocol not in PROTOCOL_COMMON_KEYS:
        return  # the protocol itself is refused by RunParams
    for item in keys:
        key = item.split("=", 1)[0].strip()
        if "." in key:
            section, key = key.split(".", 1)
            if section != "run":
                continue
        if key in COMMON_KEYS and key not in PROTOCOL_COMMON_KEYS[protocol]:
            _not_read(protocol, key, PROTOCOL_KEYS)


def check_file_types(data: dict[str, Any], path: Any) -> dict[str, Any]:
    """Refuse a quoted number or boolean in a TOML file (``dim = "3"``; ``--set`` is text).

    Parameters
    ----------
    data, path : dict, str
        ``{"model": {...}, "run": {...}}`` as read from the TOML file ``path``.
    """
    from .weakplane.params import ModelParams, RunParams

    for sec, cls in (("model", ModelParams), ("run", RunParams)):
        table = data.get(sec) if isinstance(data.get(sec), dict) else {}
        kinds = {f.name: str(f.type).replace(" | None", "") for f in fields(cls)}
        for key, value in table.items():
            if isinstance(value, str) and kinds.get(key, "str") != "str":
                word = {"int": "an integer", "bool": "true or false"}.get(kinds[key], "a number")
                raise TypeError(f"{sec}.{key} in {path} must be {word} (written without "
                                f"quotes), got the string {value!r}")
    return data


def _not_read(protocol: str, key: str, protocol_keys: dict[str, tuple[str, ...]]) -> None:
    reads = [*PROTOCOL_COMMON_KEYS[protocol], *protocol_keys[protocol]]
    users = [p for p, ks in PROTOCOL_COMMON_KEYS.items() if key in ks]
    raise ValueError(f"run.{key} does not apply to run.protocol={protocol} (only "
                     f"{', '.join(users)} read it); the keys of {protocol} are: "
                     f"{', '.join('run.' + k for k in ['protocol', *reads])}")


def check_run_params(rp: Any) -> None:
    """Cross-checks of a :class:`~femplastic.weakplane.params.RunParams` (after its own).

    Parameters
    ----------
    rp : RunParams
        With the protocol normalised and each key's type and sign checked.

    Raises
    ------
    ValueError
        A common key the protocol does not read set to another value than its default;
        ``gamma_end`` (aqs, bauschinger, local-yield), ``gamma_max`` (cyclic) or
        ``gamma_reload`` (bauschinger) not a whole number of ``dgamma`` (the nearest valid
        values are named); ``fields_every`` in ``(0, dgamma)``; ``t_end < 10 dt``;
        ``gdot dt`` above :data:`LIMITS`; ``n_alphas`` above :data:`LIMITS`; ``dstress``
        larger than ``|stress_end|``.
    """
    import dataclasses

    from .weakplane.estimates import RATE_RECORD_EVERY
    from .weakplane.params import PROTOCOL_KEYS

    proto = rp.protocol
    defaults = {f.name: f.default for f in dataclasses.fields(rp)}
    for key in COMMON_KEYS:
        if key not in PROTOCOL_COMMON_KEYS[proto] and getattr(rp, key) != defaults[key]:
            _not_read(proto, key, PROTOCOL_KEYS)
    o = rp.settings()
    if proto in ("aqs", "bauschinger", "local-yield"):
        lattice_multiple("run.gamma_end", rp.gamma_end, "run.dgamma", rp.dgamma)
    if proto == "aqs" and 0 < rp.fields_every < rp.dgamma:
        raise ValueError(f"run.fields_every = {rp.fields_every:g} is below run.dgamma = "
                         f"{rp.dgamma:g}: one ParaView snapshot per load step at most; set "
                         f"run.fields_every >= {rp.dgamma:g} (0: first and last only)")
    if proto == "cyclic":
        lattice_multiple("run.gamma_max", o["gamma_max"], "run.dgamma", rp.dgamma)
    if proto == "bauschinger":
        lattice_multiple("run.gamma_reload", o["gamma_reload"], "run.dgamma", rp.dgamma)
    if proto == "stress" and o["dstress"] > abs(o["stress_end"]):
        raise ValueError(f"run.dstress = {o['dstress']:g} must not exceed |run.stress_end| = "
                         f"{abs(o['stress_end']):g}: the ramp from the quenched state "
                         f"(stress ~0) needs at least one increment")
    if proto in ("rate", "creep"):
        need = RATE_RECORD_EVERY * o["dt"]
        if o["t_end"] < need * (1 - 1e-12):
            raise ValueError(f"run.t_end = {o['t_end']:g} must be >= {RATE_RECORD_EVERY} "
                             f"run.dt = {need:g} (one record every {RATE_RECORD_EVERY} time "
                             "steps)")
    if proto == "rate":
        cap, why = LIMITS["rate_step_strain"]
        if o["gdot"] * o["dt"] > cap:
            raise ValueError(f"run.gdot = {o['gdot']:g} must be <= {cap:g} / run.dt = "
                             f"{cap / o['dt']:g} ({why})")
    if proto == "local-yield":
        cap, why = LIMITS["n_alphas"]
        if o["n_alphas"] > cap:
            raise ValueError(f"run.n_alphas must be an integer in [1, {cap:g}] ({why}), got "
                             f"{o['n_alphas']!r}")


def stress_bound(name: str, value: float, p: Any) -> None:
    """Refuse an imposed stress ``name = value`` above :data:`STRESS_MAX_G` times ``p``'s G."""
    g = float(p.G_weibull_mean if p.variant == "A" else p.G)
    if abs(value) > STRESS_MAX_G * g:
        raise ValueError(
            f"{name} = {value:g} must be within +-{STRESS_MAX_G:g} G = +-{STRESS_MAX_G * g:g} "
            f"(model.G = {g:g}), the small-strain model's range (flow near lam = {p.lam:g})")


def check_config(cfg: Any) -> None:
    """Cross-checks between ``[model]`` and ``[run]`` of a ``Config``.

    Parameters
    ----------
    cfg : Config

    Raises
    ------
    ValueError
        ``run.patch > model.L``;
        ``|run.stress_end|`` or ``|run.target_stress|`` above
        :data:`STRESS_MAX_G` times the shear modulus.
    TypeError
        If ``cfg.model`` or ``cfg.run`` is not a ModelParams / RunParams.
    """
    from .weakplane.params import ModelParams, RunParams

    p = instance("model", cfg.model, ModelParams)
    rp = instance("run", cfg.run, RunParams)
    o = rp.settings()
    check_dimension(p, rp)
    if "patch" in o and o["patch"] > p.L and rp.patch is not None:
        raise ValueError(f"run.patch ({rp.patch}) must not exceed model.L ({p.L})")
    for key in ("stress_end", "target_stress"):
        if key in o:
            stress_bound(f"run.{key}", o[key], p)


#: The ``run.protocol`` values a 3D model (``model.dim = 3``) runs.
PROTOCOLS_3D = ("aqs", "cyclic", "stress", "bauschinger", "local-yield")


def check_dimension(p: Any, rp: Any) -> None:
    """Refuse what a 3D model (``model.dim = 3``) cannot run, in one line naming the key.

    Parameters
    ----------
    p : ModelParams
    rp : RunParams

    Raises
    ------
    ValueError
        ``model.dim = 3`` with a ``run.protocol`` outside :data:`PROTOCOLS_3D` (the
        finite-rate/creep drivers are 2D), or with ``run.backend`` other
        than ``numba``.
    """
    if getattr(p, "dim", 2) != 3:
        return
    if rp.protocol not in PROTOCOLS_3D:
        raise ValueError(f"run.protocol = {rp.protocol} is not available for model.dim = 3 "
                         f"(3D runs take run.protocol = {', '.join(PROTOCOLS_3D)}); set "
                         "model.dim = 2 or another run.protocol")
    if rp.backend != "numba":
        raise ValueError(f"run.backend = {rp.backend} is not available for model.dim = 3 "
                         "(the accelerated backend is 2D); set run.backend = numba")


def check_memory(what: str, nbytes: float, detail: str, fix: str) -> None:
    """Raise ValueError if ``nbytes`` exceeds the memory a call may take.

    Parameters
    ----------
    what, nbytes, detail, fix : str, float, str, str
        The call (``"aqs"``), its estimated memory (bytes), where the estimate comes from
        (``"gamma_end / dgamma = 2 / 1e-12 = 2e12 load steps"``) and what to change.
    """
    from .weakplane.estimates import MEMORY_FRACTION, available_memory

    if nbytes <= _SMALL_BYTES:  # fits anywhere; spares reading /proc/meminfo on every call
        return
    avail = available_memory()
    if nbytes > MEMORY_FRACTION * avail:
        raise ValueError(f"{what} needs about {nbytes / _GIB:.3g} GiB of memory but "
                         f"{avail / _GIB:.3g} GiB are available ({detail}); {fix}")


def check_model_size(params: Any, n_elem: int | None = None, periodic: bool = True) -> None:
    """Refuse a model whose state and propagator do not fit in memory (before building it).

    Parameters
    ----------
    params : ModelParams
    n_elem : int, optional
        Elements of a custom mesh (default ``params.L ** params.dim``).
    periodic : bool
        Regular periodic grid (the convolution kernel) or the general FE path.
    """
    dim = getattr(params, "dim", 2)
    n = float(params.L) ** dim if n_elem is None else float(n_elem)
    from .weakplane.estimates import model_bytes

    check_memory("the model",
                 sum(model_bytes(n, params.N, periodic and params.variant != "A", dim)),
                 f"{n:.3g} elements (model.L = {params.L}, model.dim = {dim}) x model.N = "
                 f"{params.N} slip systems", "lower model.L (or model.N)")


def check_run_flags(args: Any, protocol: str, default_out: str = "femplastic-out") -> None:
    """Checks of ``femplastic run``'s own flags, before a previous run is moved aside.

    Parameters
    ----------
    args : argparse.Namespace
        ``realizations``, ``seed``, ``out`` and optionally ``checkpoint_every``, ``resume``,
        ``threads``.
    protocol : str
        ``run.protocol`` of the configuration.
    default_out : str
        The default of ``--out`` (an ``--out`` other than it and ``--resume``'s folder is
        refused with ``--resume``).

    Raises
    ------
    ValueError
        ``--realizations < 1``; ``--seed < 0``; ``--checkpoint-every`` not finite or < 0;
        ``--out`` other than the ``--resume`` folder.
    """
    if args.realizations < 1:
        raise ValueError(f"--realizations must be >= 1, got {args.realizations}")
    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {args.seed}")
    every = getattr(args, "checkpoint_every", None)
    resume = getattr(args, "resume", None)
    if every is not None:
        number("--checkpoint-every", every, low=0.0)
    if resume is not None and str(args.out) not in (default_out, str(resume)) \
            and Path(args.out).resolve() != Path(resume).resolve():
        raise ValueError(f"--resume {resume} continues the run in that folder: --out "
                         f"{args.out} cannot apply (leave --out out)")


# ------------------------------------------------------------------- library entry points
def _rows(what: str, rows: float, detail: str, fix: str, row_bytes: float = ROW_BYTES) -> None:
    check_memory(what, rows * row_bytes, f"{detail} = {rows:.3g} record rows", fix)


def check_quench(params: Any, rng_: Any, T: Any, V_a: Any, mesh: Any, material: Any,
                 law: Any, propagator: Any, max_events: Any) -> None:
    """Types of :func:`femplastic.quench`'s arguments (before any work).

    Parameters
    ----------
    params, rng_, T, V_a, mesh, material, law, propagator, max_events
        As :func:`femplastic.quench` (``rng_``: its ``rng``).

    Raises
    ------
    TypeError
        A wrong type, named (``mesh="x.vtu"``: load it with :func:`femplastic.fe.mesh.load`).
    ValueError
        ``T < 0``, ``V_a <= 0``, ``max_events < 0``.
    """
    from .fe.elasticity import Isotropic
    from .fe.mesh import FEMesh
    from .fe.propagators import Propagator
    from .weakplane.params import ModelParams
    from .weakplane.slip import SlipLaw

    instance("params", params, ModelParams, "e.g. fp.ModelParams() for Castellanos et al.'s "
             "model C, fp.ModelParams.for_variant('D')")
    rng(rng_)
    number("T", T, low=0.0, none=True)
    number("V_a", V_a, low=0.0, low_open=True, none=True)
    instance("mesh", mesh, FEMesh, "read a file with fp.mesh.load(path, periodic=True)",
             none=True)
    instance("material", material, Isotropic, "e.g. fp.Isotropic(G, B)", none=True)
    instance("law", law, SlipLaw, "e.g. params.slip_law()", none=True)
    instance("propagator", propagator, Propagator, "e.g. fp.make_propagator(mesh, material)",
             none=True)
    if max_events is not None:
        integer("max_events", max_events, low=0)


def check_mesh_matches(params: Any, mesh: Any) -> None:
    """Refuse a custom mesh whose size ``params.L`` (the recorded linear size) does not describe.

    Parameters
    ----------
    params : ModelParams
    mesh : FEMesh

    Raises
    ------
    ValueError
        If ``params.L != round(sqrt(mesh.n_elem))``, naming the value to use.
    """
    n = int(mesh.n_elem)
    side = max(2, round(math.sqrt(n)))
    if params.L != side:
        raise ValueError(
            f"model.L = {params.L} describes a {params.L} x {params.L} grid of "
            f"{params.L ** 2} elements, but the mesh has {n}: L is the system's linear size "
            f"in elements (recorded with the results, used by estimates and patch sizes), so "
            f"with a custom mesh it must be round(sqrt(n_elem)) = {side}; use "
            f"ModelParams(L={side}, ...)")


def check_aqs(state_: Any, rng_: Any, gamma_end: Any, dgamma: Any, alpha: Any,
              event_driven: Any, record_events: Any, checkpoint_every: Any = 0.0,
              backend: Any = "numba") -> None:
    """Types, ranges and memory of :func:`femplastic.aqs` (before any work).

    Parameters
    ----------
    state_, rng_, gamma_end, dgamma, alpha, event_driven, record_events, checkpoint_every
        As :func:`femplastic.aqs`.
    backend : str
        As :func:`femplastic.aqs`; a 3D state takes ``"numba"`` only.

    Raises
    ------
    TypeError
        A wrong type, named.
    ValueError
        A value out of range, ``gamma_end`` not a whole number of ``dgamma`` (the nearest
        valid values named), or records larger than the available memory.
    """
    if backend != "numba":  # the accelerated backend is 2D
        from .weakplane.dimension import require_2d

        require_2d(state(state_).model.params, f"backend={backend!r} (3D runs on backend='numba')")
    state(state_)
    rng(rng_)
    g = number("gamma_end", gamma_end, low=0.0, low_open=True)
    d = number("dgamma", dgamma, low=0.0, low_open=True)
    number("alpha", alpha)
    boolean("event_driven", event_driven)
    boolean("record_events", record_events)
    number("checkpoint_every", checkpoint_every, low=0.0)
    if d <= g:  # (dgamma > gamma_end: the driver's own message)
        lattice_multiple("gamma_end", g, "dgamma", d)
    _rows("aqs", g / d, f"gamma_end / dgamma = {g:g} / {d:g}",
          "raise dgamma or lower gamma_end (or run in pieces from run.state)")


def check_cyclic(state_: Any, rng_: Any, gamma_max: Any, cycles: Any, dgamma: Any,
                 alpha: Any, until_absorbed: Any, record_events: Any) -> None:
    """Types, ranges, memory of :func:`femplastic.cyclic`; ``gamma_max`` on the ``dgamma`` lattice.

    Parameters
    ----------
    state_, rng_, gamma_max, cycles, dgamma, alpha, until_absorbed, record_events
        As :func:`femplastic.cyclic`.

    Raises
    ------
    TypeError
        A wrong type, named.
    ValueError
        A value out of range; ``gamma_max`` not a whole number of ``dgamma`` (the nearest
        valid values named); records larger than the available memory.
    """
    state(state_)
    rng(rng_)
    gm = number("gamma_max", gamma_max, low=0.0, low_open=True)
    c = integer("cycles", cycles, low=1)
    d = number("dgamma", dgamma, low=0.0, low_open=True)
    number("alpha", alpha)
    boolean("until_absorbed", until_absorbed)
    boolean("record_events", record_events)
    if d <= gm:
        lattice_multiple("gamma_max", gm, "dgamma", d)
    _rows("cyclic", 4 * gm / d * c, f"4 gamma_max / dgamma x cycles = 4 x {gm:g} / {d:g} x {c}",
          "raise dgamma, lower gamma_max or cycles")


def check_stress(state_: Any, rng_: Any, stress_end: Any, dstress: Any, alpha: Any,
                 gamma_limit: Any, record_events: Any) -> None:
    """Types, ranges and memory of :func:`femplastic.stress_controlled`.

    Parameters
    ----------
    state_, rng_, stress_end, dstress, alpha, gamma_limit, record_events
        As :func:`femplastic.stress_controlled`.
    """
    st = state(state_)
    rng(rng_)
    s = number("stress_end", stress_end)
    stress_bound("stress_end", s, st.model.params)  # as the CLI's run.stress_end
    ds = number("dstress", dstress, low=0.0, low_open=True)
    a = number("alpha", alpha)
    number("gamma_limit", gamma_limit, low=0.0, low_open=True)
    boolean("record_events", record_events)
    from .weakplane.dimension import loading_tensor, resolve

    # rows counted from the plain mean (the driver's is area-weighted), 2D or 3D loading
    s0 = float(resolve(loading_tensor(st.model.dim, a), st.stress.mean(axis=0)))
    _rows("stress_controlled", abs(s - s0) / ds,
          f"|stress_end - Sigma_0| / dstress = {abs(s - s0):g} / {ds:g}",
          "raise dstress or bring stress_end closer to the current stress")


def check_rate(state_: Any, rp: Any, rng_: Any, t_end: Any, alpha: Any, record_every: Any,
               gdot: Any = None, stress: Any = None, held_rows: Any = None) -> None:
    """Types, ranges and memory of :func:`femplastic.shear_rate` and :func:`femplastic.creep`.

    Parameters
    ----------
    state_, rp, rng_, t_end, alpha, record_every
        As the drivers.
    gdot, stress : float, optional
        The rate (``shear_rate``) or the target stress (``creep``).
    held_rows : int, optional
        Records held in memory at once when they are streamed (the drivers' ``sink_rows``
        with a ``sink``); None: all of them.

    Raises
    ------
    TypeError
        A wrong type, named.
    ValueError
        A value out of range; ``t_end < record_every dt`` (no record); records larger than
        the available memory.
    """
    from .weakplane.dimension import require_2d
    from .weakplane.drivers.rate import RateParams

    require_2d(state(state_).model.params, "the finite-rate driver (shear_rate, creep)")
    instance("rp", rp, RateParams, "fp.RateParams(tau0, tau_pl, tau_res, dt)")
    rng(rng_)
    t = number("t_end", t_end, low=0.0, low_open=True)
    number("alpha", alpha)
    k = integer("record_every", record_every, low=1)
    if gdot is not None or stress is None:
        number("gdot", gdot, low=0.0)
    else:
        number("stress", stress)
    if t < k * rp.dt * (1 - 1e-12):
        raise ValueError(f"t_end = {t:g} must be >= record_every x rp.dt = {k} x {rp.dt:g} = "
                         f"{k * rp.dt:g} (one record every record_every time steps)")
    rows = t / rp.dt / k
    if held_rows is not None:
        rows = min(rows, integer("sink_rows", held_rows, low=1))
    _rows("the finite-rate run", rows,
          f"t_end / (rp.dt x record_every) = {t:g} / ({rp.dt:g} x {k})",
          "raise rp.dt or record_every, or lower t_end", row_bytes=6 * 8 * 2)


def check_bauschinger(state_: Any, rng_: Any, gamma_reload: Any, dgamma: Any,
                      max_unload: Any) -> None:
    """Types and ranges of :func:`femplastic.bauschinger`.

    Parameters
    ----------
    state_, rng_, gamma_reload, dgamma, max_unload
        As :func:`femplastic.bauschinger`.
    """
    state(state_)
    rng(rng_)
    g = number("gamma_reload", gamma_reload, low=0.0, low_open=True)
    d = number("dgamma", dgamma, low=0.0, low_open=True, high=g)  # (<= gamma_reload)
    m = number("max_unload", max_unload, low=0.0, low_open=True)
    _rows("bauschinger", (2 * g + m) / d,
          f"(2 gamma_reload + max_unload) / dgamma = (2 x {g:g} + {m:g}) / {d:g}",
          "raise dgamma or lower gamma_reload")


def check_local_yield(state_: Any, rng_: Any, n: Any, stride: Any) -> None:
    """Types of :func:`femplastic.local_yield` and the memory of its patch operator.

    Parameters
    ----------
    state_, rng_, n, stride
        As :func:`femplastic.local_yield`.
    """
    state(state_)
    rng(rng_)
    k = integer("n", n)
    integer("stride", stride)
    if k > 0:
        check_memory("local_yield", float(k) ** 4 * 9 * 8,
                     f"the dense operator of an n x n = {k} x {k} patch", "lower n")

"""Ensembles of the weak-plane model: realisation functions, config <-> point, sweep grids.

The realisation functions :func:`model_realization` (quench + AQS, full curves) and
:func:`model_statistics` (stationary statistics only) run the weak-plane model under
:class:`femplastic.ensemble.Ensemble`; points name :class:`~femplastic.weakplane.params.Config`
fields ``section.key`` (:func:`config_point`, :func:`model_config`); :func:`grid_points` builds
the points of ``femplastic sweep``; :func:`warmup_model` loads the compiled kernels in a
worker. :mod:`femplastic.ensemble` re-exports these names lazily (it never imports the model
itself), and stores record them as ``femplastic.ensemble:model_realization`` (their
``ensemble_name``), the name they had before the model moved out of the infrastructure.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .params import Config, apply_overrides, config_from_dict, load_config

__all__ = [
    "model_realization",
    "model_statistics",
    "model_config",
    "config_point",
    "grid_points",
    "warmup_model",
    "check_aqs_protocol",
]


def config_point(cfg: Config) -> dict[str, Any]:
    """A :class:`~femplastic.weakplane.params.Config` as a flat point ``{"model.L": 15, ...}``.

    Parameters
    ----------
    cfg : Config
        The configuration.

    Returns
    -------
    dict
        ``{"section.key": value}`` for every field of ``[model]`` and ``[run]`` (the unset,
        None, protocol keys of ``[run]`` left out: they are not parameter values); with a
        ``model.mesh`` also ``model.mesh_sha256``, the SHA-256 of the file's bytes
        (:func:`model_config` refuses the point when the file has changed since).
    """
    point = {f"{sec}.{k}": v for sec, table in cfg.to_dict().items()
             for k, v in table.items() if v is not None}
    if cfg.model.mesh is not None:  # the file's bytes: a store resumed on a changed file
        from .meshfile import mesh_provenance  # is refused (the points differ)

        point[MESH_DIGEST] = mesh_provenance(cfg.model)["mesh_sha256"]
    return point


#: The point key of the SHA-256 of the ``model.mesh`` file (:func:`config_point`).
MESH_DIGEST = "model.mesh_sha256"


def model_config(point: Mapping[str, Any]) -> Config:
    """The :class:`~femplastic.weakplane.params.Config` of a point with ``section.key`` names.

    Missing keys take their defaults (model C); unknown keys raise ``ValueError``.

    Parameters
    ----------
    point : mapping
        ``{"section.key": value}``; values may be strings (converted to the field's type).
        ``model.mesh_sha256`` (:func:`config_point`) is checked against the mesh file.

    Returns
    -------
    Config
        The validated configuration.

    Raises
    ------
    ValueError
        If the ``model.mesh`` file's SHA-256 differs from ``model.mesh_sha256``, a name is
        not ``section.key``, the section or key is unknown, or a value is
        invalid (:func:`femplastic.weakplane.params.config_from_dict`).
    """
    point = dict(point)
    digest = point.pop(MESH_DIGEST, None)
    nested: dict[str, dict[str, Any]] = {}
    for key, value in point.items():
        parts = key.split(".")
        if len(parts) != 2 or not all(parts):
            raise ValueError(f"model parameters are named section.key (e.g. model.L), got "
                             f"{key!r}")
        nested.setdefault(parts[0], {})[parts[1]] = value
    cfg = config_from_dict(nested)
    if digest is not None:  # every worker runs the mesh file the point was defined with
        from .meshfile import mesh_provenance

        now = mesh_provenance(cfg.model).get("mesh_sha256")
        if now != digest:
            raise ValueError(f"model.mesh = {cfg.model.mesh!r}: the file changed since the "
                             f"point was defined (SHA-256 {str(digest)[:12]}..., now "
                             f"{str(now)[:12]}...): use another store, or restore the file")
    return cfg


def check_aqs_protocol(cfg: Config) -> None:
    """Refuse a configuration whose ``run.protocol`` is not ``aqs``.

    The realisation functions of ensembles and sweeps are quench + AQS: a point labelled
    with another protocol would store AQS data under that label.

    Raises
    ------
    ValueError
        Naming ``run.protocol`` and where the other protocols run.
    """
    if cfg.run.protocol != "aqs":
        raise ValueError(f"run.protocol={cfg.run.protocol}: ensembles and sweeps run the aqs "
                         "protocol only (quench + AQS shear); run other protocols with "
                         "femplastic run --set run.protocol=... --realizations N")


def _model_run(point: Mapping[str, Any], rng: np.random.Generator) -> tuple[Any, Config]:
    from .drivers import aqs, quench

    cfg = model_config(point)
    check_aqs_protocol(cfg)
    p, rp = cfg.model, cfg.run
    state = quench(p, rng)
    run = aqs(state, p, rng, gamma_end=rp.gamma_end, dgamma=rp.dgamma, alpha=rp.alpha,
              event_driven=rp.event_driven, backend=rp.backend)
    return run, cfg


def _stationary(run: Any, cfg: Config) -> dict[str, Any]:
    mask = run.gamma > cfg.run.stationary_from
    st = run.stress[mask]
    aval = (run.avalanche_size > 0) & mask
    return {
        "stationary_mean": float(st.mean()) if st.size else float("nan"),
        "stationary_std": float(st.std()) if st.size else float("nan"),
        "stationary_drops": (run.stress_before - run.stress)[aval],
        "n_events": int(run.state.n_events),
        "n_avalanches": int(run.state.n_avalanches),
    }


def model_realization(point: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """Quench + AQS shear of the weak-plane model: full curves and stationary statistics.

    Parameters
    ----------
    point : dict
        ``section.key`` parameters of :class:`~femplastic.weakplane.params.ModelParams`
        (``model.*``)
        and :class:`~femplastic.weakplane.params.RunParams` (``run.*``); missing keys are model C.
    rng : numpy.random.Generator

    Returns
    -------
    dict
        ``gamma, stress, stress_before, plastic`` : (n_steps,) float, external strain, stress
        after/before the step's avalanche (LJ units) and resolved plastic strain;
        ``avalanche_size`` : (n_steps,) int, slip events per step; ``stationary_mean``,
        ``stationary_std`` : float, of the stress over ``gamma > run.stationary_from`` (NaN if
        the run ends before); ``stationary_drops`` : (n_drops,) float, stress drops there;
        ``n_events``, ``n_avalanches`` : int.

    Raises
    ------
    ValueError
        If ``point`` is not a valid configuration (:func:`model_config`).
    """
    run, cfg = _model_run(point, rng)
    return {"gamma": run.gamma, "stress": run.stress, "stress_before": run.stress_before,
            "avalanche_size": run.avalanche_size, "plastic": run.plastic,
            **_stationary(run, cfg)}


def model_statistics(point: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """As :func:`model_realization` without the curves (compact stores for sweeps).

    Parameters
    ----------
    point : dict
        ``section.key`` parameters (``model.*``, ``run.*``); missing keys are model C.
    rng : numpy.random.Generator
        The realisation's generator (quench and AQS).

    Returns
    -------
    dict
        ``stationary_mean``, ``stationary_std`` : float (LJ units, NaN if the run ends
        before ``run.stationary_from``); ``stationary_drops`` : (n_drops,) float;
        ``n_events``, ``n_avalanches`` : int.

    Raises
    ------
    ValueError
        If ``point`` is not a valid configuration (:func:`model_config`).
    """
    run, cfg = _model_run(point, rng)
    return _stationary(run, cfg)


def _validate_model_point(point: Mapping[str, Any]) -> None:
    from .estimates import check_cost

    # the checks of femplastic run: a realisation's records are all in memory here
    check_cost(model_config(point), streamed=False)
    check_aqs_protocol(model_config(point))


for _func in (model_realization, model_statistics):
    _func.validate_point = _validate_model_point  # type: ignore[attr-defined]
    # the public name stores record (femplastic.ensemble re-exports it lazily)
    _func.ensemble_name = f"femplastic.ensemble:{_func.__name__}"  # type: ignore[attr-defined]
del _func


def warmup_model() -> None:
    """Load (or compile) the numba kernels of the quench and AQS drivers: a tiny run."""
    from .drivers import aqs, quench
    from .params import ModelParams

    p = ModelParams(L=4, N=4, T=0.25)
    rng = np.random.default_rng(0)
    aqs(quench(p, rng, max_events=64), p, rng, gamma_end=0.02, dgamma=1e-3)


# ----------------------------------------------------------------------------- CLI helpers

def grid_points(config: str | Path | None, sets: Sequence[str], grids: Sequence[str]
                ) -> tuple[list[dict[str, Any]], list[str]]:
    """Points of ``femplastic sweep``: the cartesian product of ``--grid`` values.

    Parameters
    ----------
    config : path or None
        TOML config (defaults when None).
    sets : list of str
        ``section.key=value`` overrides common to every point.
    grids : list of str
        ``section.key=v1,v2,...``; the last grid varies fastest.

    Returns
    -------
    points : list of dict
        Full flat configs (:func:`config_point`), each validated.
    keys : list of str
        The grid keys, in order.

    Raises
    ------
    ValueError
        If ``grids`` is empty; a grid is not ``section.key=v1,v2,...``, has an empty or a
        repeated value, or repeats a key; a key is both in ``sets`` and ``grids``; or a
        resulting point (or ``config``) is not a valid configuration.
    """
    if not grids:
        raise ValueError("--grid: give at least one section.key=v1,v2,...")
    keys: list[str] = []
    values: list[list[str]] = []
    for spec in grids:
        if "=" not in spec:
            raise ValueError(f"--grid expects section.key=v1,v2,..., got {spec!r}")
        key, raw = (s.strip() for s in spec.split("=", 1))
        vals = [v.strip() for v in raw.split(",")]
        if not raw or any(not v for v in vals):
            raise ValueError(f"--grid {key}: empty value in {raw!r}")
        if len(set(vals)) != len(vals):
            raise ValueError(f"--grid {key}: duplicate value in {raw!r}")
        if key in keys:
            raise ValueError(f"--grid {key} given twice")
        set_keys = {s.split("=", 1)[0].strip() for s in sets}
        if key in set_keys:
            raise ValueError(f"{key} given both in --set and --grid")
        apply_overrides({}, [f"{key}={vals[0]}"])  # section.key syntax
        keys.append(key)
        values.append(vals)
    points = []
    for combo in itertools.product(*values):
        over = [*sets, *(f"{k}={v}" for k, v in zip(keys, combo, strict=True))]
        points.append(config_point(load_config(config, over)))
    return points, keys

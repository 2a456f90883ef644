"""Atomistic samples -> raw HDF5 (ensemble store) and a calibration ``ReferenceData``.

One *sample* (:func:`md_sample`, an ensemble realisation function) is: ESL preparation of
``atoms`` atoms, local shear tests in the quench, AQS to ``gamma_max``, local shear tests in the
final (stationary) state. Samples run on the ensemble engine
(:class:`femplastic.ensemble.Ensemble`): one seed per sample from ``SeedSequence(seed)``,
streamed into ``md.h5`` as each finishes, resumed after an interruption (unfinished samples are
recomputed from their seed), parallel over local processes or Dask. Every sample carries its
provenance (LAMMPS version, potential, protocol, atoms, seed spawn key).

:func:`reference_from_store` pools the samples the way the paper does
(:mod:`femplastic.weakplane.calibration`): ``macro`` = shear stress, drops and elastic
increments for ``gamma > gamma_stat``; ``meso_forward``/``meso_backward`` = ``tau_i, tau_c,
dtau_c, drop`` of the stationary-state tests at ``alpha = 0`` / ``90 deg``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..validation import lattice_multiple
from .aqs import aqs
from .lysm import grid_centers, local_yield
from .potential import LJ2D, PAPER
from .prep import ESLProtocol, prepare

__all__ = ["DEFAULTS", "md_sample", "min_atoms", "reference_from_store", "summary_from_store",
           "validate_point"]

#: Parameters of a sample (the ``points`` of the ensemble).
DEFAULTS: dict[str, Any] = {
    "atoms": 1000, "gamma_max": 1.0, "gamma_stat": 0.5, "dgamma": 1e-4, "ftol": 1e-10,
    "R": 5.0, "patch_spacing": 2.5, "max_patches": 16, "n_alpha": 4, "lysm_coarse": 1e-3,
    "lysm_gamma_max": 0.3, "T": 1.132 * 0.31, "t_min": 50.0, "t_max": 5000.0, "n_tau": 10.0,
    "smoothing": "polynomial", "lysm_dgamma": 1e-4, "engine": "auto",
}


def _num(key: str, value: Any, low: float = 0.0, low_open: bool = True) -> float:
    """``value`` as a finite number above ``low`` (bools and strings refused, as ValueError)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(
            value) or (value <= low if low_open else value < low):
        raise ValueError(f"{key} must be a finite number {'>' if low_open else '>='} {low:g}, "
                         f"got {value!r}")
    return float(value)


def _int(key: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{key} must be an integer >= {low}, got {value!r}")
    return value


def min_atoms(R: float | None = None, pot: LJ2D = PAPER) -> int:
    """Fewest atoms whose square cell holds the pair cutoff (and a patch of radius ``R``).

    The cell side must exceed twice the largest cutoff (minimum images unique) and, for the
    local tests, ``2 (R + 1.1 r_c)`` (the patch and its frozen ring, :class:`.lysm.Patch`).

    Parameters
    ----------
    R : float, optional
        Patch radius (LJ length units).
    pot : LJ2D

    Returns
    -------
    int
    """
    half = pot.max_cutoff if R is None else R + 1.1 * pot.max_cutoff
    n = max(16, math.ceil((2 * half) ** 2 * pot.density))
    while pot.box_length(n) <= 2 * half:
        n += 1
    return n


def validate_point(point: Mapping[str, Any]) -> None:
    """Refuse a bad sample definition before any work (names the key and its range)."""
    unknown = sorted(set(point) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown md parameter(s) {unknown}; known: {sorted(DEFAULTS)}")
    p = {**DEFAULTS, **point}
    if p["smoothing"] not in ("polynomial", "taper"):
        raise ValueError(f"smoothing must be 'polynomial' (the paper's) or 'taper' "
                         f"(lj/mdf, another potential), got {p['smoothing']!r}")
    if p["engine"] not in ("auto", "numba", "lammps") or (
            p["engine"] == "numba" and p["smoothing"] == "taper"):
        raise ValueError(f"engine must be 'auto', 'numba' (the polynomial through fix external) "
                         f"or 'lammps' (pair lepton / lj/mdf), and the taper has no numba form; "
                         f"got engine={p['engine']!r} with smoothing={p['smoothing']!r}")
    atoms = _int("atoms", p["atoms"], 16)
    for k in ("gamma_max", "dgamma", "lysm_dgamma", "ftol", "R", "patch_spacing", "lysm_coarse",
              "lysm_gamma_max", "T", "t_max", "n_tau"):
        _num(k, p[k])
    _num("t_min", p["t_min"], 0.0, low_open=False)
    _num("gamma_stat", p["gamma_stat"], 0.0, low_open=False)
    if p["t_min"] > p["t_max"]:
        raise ValueError(f"t_min ({p['t_min']}) must be <= t_max ({p['t_max']})")
    if not p["gamma_stat"] < p["gamma_max"]:
        raise ValueError(f"gamma_stat must be in [0, gamma_max = {p['gamma_max']}), got "
                         f"{p['gamma_stat']!r}")
    if p["dgamma"] > p["gamma_max"]:
        raise ValueError("dgamma must be <= gamma_max")
    lattice_multiple("gamma_max", p["gamma_max"], "dgamma", p["dgamma"])
    if not p["lysm_dgamma"] <= p["lysm_coarse"] <= p["lysm_gamma_max"]:
        raise ValueError(f"need lysm_dgamma <= lysm_coarse <= lysm_gamma_max, got "
                         f"{p['lysm_dgamma']}, {p['lysm_coarse']}, {p['lysm_gamma_max']}")
    n_alpha = _int("n_alpha", p["n_alpha"], 2)
    if n_alpha % 2:
        raise ValueError(f"n_alpha must be an even integer >= 2 (0 and 90 deg included), "
                         f"got {n_alpha!r}")
    _int("max_patches", p["max_patches"], 1)
    pot = _pot(p)
    _protocol(p)   # the ESL protocol's own checks (the same ranges), before any work
    if atoms < min_atoms(None, pot):
        raise ValueError(f"atoms = {atoms} gives a cell of side {pot.box_length(atoms):.2f}, "
                         f"narrower than twice the pair cutoff {pot.max_cutoff:.3f}: need "
                         f"atoms >= {min_atoms(None, pot)}")
    L = pot.box_length(atoms)
    rmax = L / 2 - 1.1 * pot.max_cutoff
    if p["R"] >= rmax:
        raise ValueError(f"R = {p['R']} does not fit in the {atoms}-atom cell (side {L:.2f}) "
                         f"with its frozen ring of 1.1 cutoffs: need R < {rmax:.2f}, or atoms >= "
                         f"{min_atoms(p['R'], pot)} for this R")


def _protocol(p: Mapping[str, Any]) -> ESLProtocol:
    return ESLProtocol(T=p["T"], t_min=p["t_min"], t_max=p["t_max"], n_tau=p["n_tau"],
                       ftol=p["ftol"])


def _pot(p: Mapping[str, Any]) -> LJ2D:
    return LJ2D(smoothing=p["smoothing"], engine=p["engine"])


def _lysm(glass: Any, p: Mapping[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    centers = grid_centers(glass.box, p["patch_spacing"])
    if len(centers) > p["max_patches"]:
        centers = centers[np.sort(rng.choice(len(centers), p["max_patches"], replace=False))]
    alphas = np.arange(p["n_alpha"]) * np.pi / p["n_alpha"]
    if not p["lysm_dgamma"] <= p["lysm_coarse"] <= p["lysm_gamma_max"]:
        raise ValueError("need lysm_dgamma <= lysm_coarse <= lysm_gamma_max")
    r = local_yield(glass, p["R"], alphas, centers, p["lysm_dgamma"], p["lysm_coarse"],
                    p["lysm_gamma_max"], p["ftol"], _pot(p))
    return {"centers": r.centers, "alpha": r.alpha, "tau_i": r.tau_i, "tau_c": r.tau_c,
            "dtau_c": r.dtau_c, "drop": r.drop, "gamma_c": r.gamma_c}


def md_sample(point: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """One atomistic sample (module docstring); an ensemble realisation function.

    Parameters
    ----------
    point : dict
        Keys of :data:`DEFAULTS` (missing ones take the default).
    rng : numpy.random.Generator

    Returns
    -------
    dict
        ``provenance`` (JSON string), ``equilibration`` (``t, fs, msd, tau_alpha, n_tau,
        pe_drift, pe_std, temperature, equilibrated, duration``), ``glass`` (``x, types,
        box``), ``aqs`` (``gamma, stress, energy, plastic, jump``), ``lysm_quench``,
        ``lysm_stationary`` (``centers, alpha, tau_i, tau_c, dtau_c, drop, gamma_c``).
    """
    from ._lammps import lammps_version

    p = {**DEFAULTS, **point}
    liquid, glass, eq = prepare(p["atoms"], rng, _protocol(p), _pot(p))
    lq = _lysm(glass, p, rng)
    run = aqs(glass, p["gamma_max"], p["dgamma"], p["ftol"], _pot(p))
    ls = _lysm(run.final, p, rng)
    pot = _pot(p)
    pair = ("numba kernels via fix external (the polynomial, exact derivative)"
            if pot.uses_numba else "lepton (exact expression)"
            if p["smoothing"] == "polynomial" else "lj/mdf")
    prov = {"lammps_version": lammps_version(), "pair_style": pair,
            "potential": repr(_pot(p)), "protocol": repr(_protocol(p)), "point": p}
    return {
        "provenance": json.dumps(prov, sort_keys=True, default=str),
        "equilibration": {"t": eq.t, "fs": eq.fs, "msd": eq.msd, "tau_alpha": eq.tau_alpha,
                          "n_tau": eq.n_tau, "pe_drift": eq.pe_drift, "pe_std": eq.pe_std,
                          "temperature": eq.temperature, "equilibrated": eq.equilibrated,
                          "duration": eq.duration},
        "glass": {"x": glass.x, "types": glass.types.astype(np.int64),
                  "box": np.array(glass.box), "fmax": float(glass.meta["fmax"])},
        "aqs": {"gamma": run.gamma, "stress": run.stress, "energy": run.energy,
                "plastic": run.plastic, "jump": run.jump},
        "lysm_quench": lq, "lysm_stationary": ls,
    }


md_sample.validate_point = validate_point  # type: ignore[attr-defined]


def reference_from_store(path: str | Path, point: int = 0) -> Any:
    """Pool the samples of an ``md.h5`` store into a ``ReferenceData``.

    Parameters
    ----------
    path : str or Path
    point : int

    Returns
    -------
    femplastic.weakplane.calibration.ReferenceData
    """
    from ..ensemble import load_store
    from ..weakplane.calibration import ReferenceData
    from .aqs import drops_and_increments

    data = load_store(path)
    samples = data.realizations(point)
    if not samples:
        raise ValueError(f"{path}: no complete sample")
    p = {**DEFAULTS, **data.points[point]}
    stress, drops, incs = [], [], []
    fwd: dict[str, list[Any]] = {k: [] for k in ("tau_i", "tau_c", "dtau_c", "drop")}
    bwd: dict[str, list[Any]] = {k: [] for k in ("tau_i", "tau_c", "dtau_c", "drop")}
    for s in samples:
        a = s["aqs"]
        sel = a["gamma"] - a["gamma"][0] > p["gamma_stat"]
        sxy = a["stress"][:, 2]
        stress.append(sxy[sel])
        i0 = int(np.argmax(sel)) if sel.any() else len(sxy)
        d, inc, _ = drops_and_increments(sxy[i0:], a["plastic"][i0 + 1:])
        drops.append(d)
        incs.append(inc)
        ls = s["lysm_stationary"]
        j90 = int(np.argmin(np.abs(ls["alpha"] - np.pi / 2)))
        for k in fwd:
            fwd[k].append(ls[k][:, 0])
            bwd[k].append(ls[k][:, j90])

    def cat(xs: list[Any]) -> Any:
        x = np.concatenate([np.ravel(v) for v in xs]) if xs else np.array([])
        return x[np.isfinite(x)]

    meta = {"origin": f"femplastic.atomistic ({len(samples)} samples, {p['atoms']} atoms)",
            "units": "LJ (sigma_SL, epsilon_SL)", "store": str(path),
            "atoms": int(p["atoms"]), "samples": len(samples),
            "box": float(np.asarray(samples[0]["glass"]["box"])[0]),
            "gamma_stat": float(p["gamma_stat"]), "gamma_max": float(p["gamma_max"]),
            "seed": str(data.definition.get("seed")),
            "femplastic_version": str(data.attrs.get("femplastic_version", "unknown")),
            "provenance": samples[0]["provenance"]}
    return ReferenceData(
        macro={"stress": cat(stress), "drops": cat(drops), "increments": cat(incs)},
        meso_forward={k: cat(v) for k, v in fwd.items()},
        meso_backward={k: cat(v) for k, v in bwd.items()}, R=float(p["R"]), meta=meta)


def summary_from_store(path: str | Path, point: int = 0) -> dict[str, Any]:
    """The per-sample arrays behind the figures (small enough to keep with a reference).

    Parameters
    ----------
    path : str or Path
        An ``md.h5`` store.
    point : int

    Returns
    -------
    dict
        ``gamma, stress_xy, plastic (S, m + 1)``; ``alpha (q,)``; ``lysm_quench/<k>`` and
        ``lysm_stationary/<k> (S, p, q)`` for ``k`` in ``tau_i, tau_c, dtau_c, drop,
        gamma_c``; ``tau_alpha, n_tau, pe_drift, pe_std, temperature, equilibrated (S,)``;
        ``provenance`` (JSON string of the first sample). Samples of different lengths
        (another protocol) are refused.
    """
    from ..ensemble import load_store

    samples = load_store(path).realizations(point)
    if not samples:
        raise ValueError(f"{path}: no complete sample")
    out: dict[str, Any] = {
        "gamma": np.stack([s["aqs"]["gamma"] for s in samples]),
        "stress_xy": np.stack([s["aqs"]["stress"][:, 2] for s in samples]),
        "plastic": np.stack([s["aqs"]["plastic"] for s in samples]),
        "alpha": np.asarray(samples[0]["lysm_stationary"]["alpha"]),
        "provenance": np.array(samples[0]["provenance"]),
    }
    for state in ("lysm_quench", "lysm_stationary"):
        for k in ("tau_i", "tau_c", "dtau_c", "drop", "gamma_c"):
            out[f"{state}/{k}"] = np.stack([s[state][k] for s in samples])
    for k in ("tau_alpha", "n_tau", "pe_drift", "pe_std", "temperature", "equilibrated",
              "duration"):
        out[k] = np.array([s["equilibration"][k] for s in samples])
    return out

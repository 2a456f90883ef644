"""Checkpoints of an AQS run: everything needed to continue it bit for bit, saved atomically.

An :class:`AQSCheckpoint` holds the driver's loop variables at an avalanche boundary: the state
arrays (with the stability cache), the stress at the last avalanche and its load step, the
records so far, the event log when recorded, and the generator's ``bit_generator.state``.
:func:`femplastic.weakplane.drivers.aqs.aqs` produces them (``checkpoint=``,
``checkpoint_every=``) and continues from one (``resume=``): the continued run's records and
final state are bitwise those of the uninterrupted run.

:func:`save` writes a checkpoint with a *tag* (a JSON-serialisable dict naming the version and
configuration, e.g. the run command's parameters and seed) to a temporary file and renames it
over the target (atomic on POSIX): a crash leaves the previous checkpoint intact.
:func:`load` refuses a file whose tag differs from the expected one, naming the differences.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["AQSCheckpoint", "FORMAT", "load", "save"]

#: Version of the checkpoint layout (bumped when it changes).
FORMAT = 1

_STATE_ARRAYS = ("stress", "prestress", "eps_pl", "theta", "tauc", "nv", "selfres",
                 "macro_strain", "slips", "sref", "pref", "margin")
_STATE_SCALARS = ("n_events", "n_avalanches", "time")


@dataclass
class AQSCheckpoint:
    """Loop variables of :func:`~femplastic.weakplane.drivers.aqs.aqs` at an avalanche boundary.

    Attributes
    ----------
    state : dict
        The state's arrays (``stress`` ... ``margin``) and counters, copies.
    base : (n, 3) ndarray
        Element stress after the last avalanche (the loaded stress is ``base + x v``).
    base_mean : (3,) ndarray
        Its mean; ``base_ext`` its resolved value (float).
    base_ext : float
    k_base, done, n_aval : int
        Load step of the last avalanche, steps recorded, avalanches so far.
    records : dict of ndarray
        ``gamma_end, dgamma, alpha, direction`` of the run (as 0-d arrays) and the records of
        the first ``done`` steps: ``stress, stress_before, avalanche_size, plastic,
        mean_stress``.
    events : dict of ndarray
        The event log so far (empty arrays when events are not recorded): ``ev_e, ev_k,
        ev_th, ev_tau, ev_amp, ev_aval`` and in 3D ``ev_m`` (the Schmid tensors).
    rng_state : dict
        ``rng.bit_generator.state``.
    """

    state: dict[str, Any]
    base: NDArray[np.float64]
    base_mean: NDArray[np.float64]
    base_ext: float
    k_base: int
    done: int
    n_aval: int
    records: dict[str, NDArray]
    events: dict[str, NDArray]
    rng_state: dict[str, Any]

    @staticmethod
    def state_dict(st: Any) -> dict[str, Any]:
        """Copies of a :class:`~femplastic.weakplane.state.State`'s arrays and counters."""
        out: dict[str, Any] = {k: np.array(getattr(st, k)) for k in _STATE_ARRAYS}
        out.update({k: getattr(st, k) for k in _STATE_SCALARS})
        return out

    def restore_state(self, st: Any) -> None:
        """Write the saved arrays and counters into ``st`` (same model, same shapes)."""
        for k in _STATE_ARRAYS:
            a = getattr(st, k)
            if a.shape != self.state[k].shape:
                raise ValueError(f"checkpoint {k} has shape {self.state[k].shape}, the state "
                                 f"{a.shape}: a different model")
            a[...] = self.state[k]
        st.n_events = int(self.state["n_events"])
        st.n_avalanches = int(self.state["n_avalanches"])
        st.time = float(self.state["time"])


def save(path: str | os.PathLike, ckpt: AQSCheckpoint, tag: dict[str, Any],
         extra: dict[str, NDArray] | None = None) -> Path:
    """Write ``ckpt`` atomically (temporary file, then rename) to ``path`` (``.npz``).

    Parameters
    ----------
    path : path-like
        Target file.
    ckpt : AQSCheckpoint
    tag : dict
        JSON-serialisable identification (version, configuration, seed ...) checked by
        :func:`load`.
    extra : dict of ndarray, optional
        Further arrays stored with the checkpoint (e.g. records of earlier run segments),
        returned by :func:`load`.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    arrays: dict[str, Any] = {}
    for k in _STATE_ARRAYS:
        arrays[f"state.{k}"] = ckpt.state[k]
    for k in ("records", "events"):
        for name, a in getattr(ckpt, k).items():
            arrays[f"{k}.{name}"] = np.asarray(a)
    for name, a in (extra or {}).items():
        arrays[f"extra.{name}"] = np.asarray(a)
    arrays["base"] = ckpt.base
    arrays["base_mean"] = ckpt.base_mean
    scalars = {"base_ext": float(ckpt.base_ext), "k_base": int(ckpt.k_base),
               "done": int(ckpt.done), "n_aval": int(ckpt.n_aval),
               **{k: ckpt.state[k] for k in _STATE_SCALARS}}
    head = {"format": FORMAT, "tag": tag, "scalars": scalars, "rng_state": ckpt.rng_state}
    arrays["header"] = np.array(json.dumps(head, sort_keys=True))
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


def load(path: str | os.PathLike, tag: dict[str, Any] | None = None
         ) -> tuple[AQSCheckpoint, dict[str, NDArray], dict[str, Any]]:
    """Read a checkpoint written by :func:`save`, checking its tag.

    Parameters
    ----------
    path : path-like
    tag : dict, optional
        The expected tag; a different one (other version, configuration or seed) is refused.

    Returns
    -------
    (AQSCheckpoint, dict, dict)
        The checkpoint, the ``extra`` arrays, and the stored tag.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a checkpoint of this format or its tag differs from ``tag``.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    with np.load(path, allow_pickle=False) as z:
        data = {k: z[k] for k in z.files}
    if "header" not in data:
        raise ValueError(f"{path} is not a femplastic checkpoint")
    head = json.loads(str(data.pop("header")))
    if head.get("format") != FORMAT:
        raise ValueError(f"{path}: checkpoint format {head.get('format')}, this version reads "
                         f"format {FORMAT}")
    stored = head["tag"]
    if tag is not None and stored != json.loads(json.dumps(tag, sort_keys=True)):
        want = json.loads(json.dumps(tag, sort_keys=True))
        diff = sorted(k for k in set(stored) | set(want) if stored.get(k) != want.get(k))
        details = "; ".join(f"{k}: checkpoint {stored.get(k)!r}, now {want.get(k)!r}"
                            for k in diff)
        raise ValueError(f"{path} was written by a different version or configuration "
                         f"({details}); refusing to resume")
    sc = head["scalars"]
    state = {k: data[f"state.{k}"] for k in _STATE_ARRAYS}
    state.update({k: sc[k] for k in _STATE_SCALARS})
    rec = {k[8:]: v for k, v in data.items() if k.startswith("records.")}
    ev = {k[7:]: v for k, v in data.items() if k.startswith("events.")}
    extra = {k[6:]: v for k, v in data.items() if k.startswith("extra.")}
    ck = AQSCheckpoint(state, data["base"], data["base_mean"], sc["base_ext"], sc["k_base"],
                       sc["done"], sc["n_aval"], rec, ev, head["rng_state"])
    return ck, extra, stored


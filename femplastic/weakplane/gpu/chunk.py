"""One call of the accelerated AQS loop: many avalanches, all on the device.

:func:`run_chunk` nests two ``lax.while_loop``: avalanches (each starting with its trigger,
:func:`_start`), and inside each the sweeps of the flat form
(:mod:`femplastic.weakplane.gpu.loop`) or of the blocked form
(:mod:`femplastic.weakplane.gpu.blocked`), chosen by ``LoopConfig.blocked``; it returns when a
status is set (see :mod:`femplastic.weakplane.gpu.loop`). :func:`compiled_chunk` gives it
jitted for a platform.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from .blocked import sweep_blocked, trigger_blocked
from .loop import STATUS, _sweep, _trigger
from .setup import LoopConfig

__all__ = ["run_chunk", "compiled_chunk"]


def _start(cfg: LoopConfig, k: dict[str, Any], cap_total: Any, c: dict[str, Any]
           ) -> dict[str, Any]:
    """Trigger of the next avalanche (between avalanches; a no-op when resuming inside one)."""
    c = dict(c)
    do_trig = (c["phase"] == 0) & (c["status"] == 0)
    cap = cap_total - c["k_base"]
    if cfg.blocked:
        m, c = trigger_blocked(cfg, c, k, cap, do_trig)
    else:
        m = _trigger(cfg, c, k, cap, do_trig)
    finished = do_trig & (m > cap)
    started = do_trig & (m <= cap)
    # the loaded stress base + (m dgamma) v, as numba's trial stress (between avalanches the
    # stress is the base; adding 0 v when nothing starts changes no bit)
    x = jnp.where(started, m.astype(jnp.float64) * k["dgamma"], 0.0)
    c["stress"] = c["stress"] + x * k["v"][None, :]
    c["k_trig"] = jnp.where(started, c["k_base"] + m, c["k_trig"])
    c["m_trig"] = jnp.where(started, m, c["m_trig"])
    c["phase"] = jnp.where(started, 1, c["phase"]).astype(jnp.int32)
    c["aval_size"] = jnp.where(started, 0, c["aval_size"])
    c["aval_pl"] = jnp.where(started, 0.0, c["aval_pl"])
    c["sweeps"] = jnp.where(started, 0, c["sweeps"])
    c["status"] = jnp.where(finished, STATUS["finished"], c["status"]).astype(jnp.int32)
    return c




def run_chunk(cfg: LoopConfig, carry: dict[str, Any], consts: dict[str, Any],
              cap_total: Any, max_sweeps: Any) -> dict[str, Any]:
    """Run the loop until a status is set (see the module docstring).

    Parameters
    ----------
    cfg : LoopConfig
        Static (one compilation per value).
    carry : dict
        From :func:`init_carry` (device arrays; donated: do not reuse after the call), with
        ``status`` reset to 0 and the record counters to 0 by the caller.
    consts : dict
        Device arrays ``law_f, thr_table, angles, kself, kernel2, symbol2`` and ``v`` (3,)
        (stress per unit load strain), ``dgamma`` (scalar).
    cap_total : int scalar
        Load steps of the whole run.
    max_sweeps : int scalar
        Safety limit on the sweeps of one avalanche.

    Returns
    -------
    dict
        The carry at exit.
    """
    sweep = functools.partial(sweep_blocked if cfg.blocked else _sweep, cfg, consts,
                              max_sweeps)

    def avalanche(c: dict[str, Any]) -> dict[str, Any]:
        c = _start(cfg, consts, cap_total, c)
        return lax.while_loop(lambda c: (c["status"] == 0) & (c["phase"] == 1), sweep, c)

    return lax.while_loop(lambda c: c["status"] == 0, avalanche, carry)


_jit_plain = jax.jit(run_chunk, static_argnums=(0,))
_jit_donating = jax.jit(run_chunk, static_argnums=(0,), donate_argnums=(1,))


def compiled_chunk(platform: str) -> Any:
    """The jitted :func:`run_chunk`, donating the carry except on the CPU.

    XLA on the CPU cannot reuse donated buffers (and would warn); on accelerators the carry's
    arrays are then updated in place.

    Parameters
    ----------
    platform : str
        The device platform (``"cpu"``, ``"gpu"`` ...).

    Returns
    -------
    callable
        ``f(cfg, carry, consts, cap_total, max_sweeps) -> carry``.
    """
    return _jit_plain if platform == "cpu" else _jit_donating

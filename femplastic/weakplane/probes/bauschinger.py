"""Bauschinger test (Castellanos et al., sec. 5): unload a stationary state, reload both ways.

From a state loaded along ``alpha = 0``, unload (``direction = -1``) until the external stress
``Sigma_xy`` crosses 0, then reload from that unloaded state forward (``alpha = 0``) and in
reverse (``alpha = 90 deg``, i.e. ``M(pi/2) = -M(0)``). Each reload records the strain since
the unloaded state along its loading direction and the external stress resolved along it.
Expected: nearly elastic-perfectly plastic forward, a much softer reverse response with slow
hardening.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ... import validation
from ..drivers.aqs import AQSRun, aqs
from ..params import ModelParams
from ..state import State

__all__ = ["bauschinger", "Bauschinger", "ReloadCurve", "ensemble_average"]


@dataclass(frozen=True)
class ReloadCurve:
    """One reload of a Bauschinger test.

    Attributes
    ----------
    gamma : (n_steps,) ndarray
        Strain since the unloaded state, along the reload direction.
    stress : (n_steps,) ndarray
        External stress resolved along the reload direction, LJ units.
    """

    gamma: NDArray[np.float64]
    stress: NDArray[np.float64]


@dataclass(frozen=True)
class Bauschinger:
    """Result of :func:`bauschinger`.

    Attributes
    ----------
    forward, reverse : ReloadCurve
        Reload along ``alpha = 0`` and ``alpha = pi/2``.
    unload : AQSRun
        The unloading run (its ``stress`` is ``-Sigma_xy``, resolved along ``-M(0)``).
    unloaded : State
        The state at zero external stress both reloads start from.
    """

    forward: ReloadCurve
    reverse: ReloadCurve
    unload: AQSRun
    unloaded: State


def bauschinger(
    state: State,
    params: ModelParams | None,
    rng: np.random.Generator,
    gamma_reload: float = 0.1,
    dgamma: float = 1e-4,
    max_unload: float = 1.0,
) -> Bauschinger:
    """Unload ``state`` to zero external stress, then reload forward and in reverse.

    Parameters
    ----------
    state : State
        A state loaded along ``alpha = 0`` (typically stationary, ``Sigma_xy > 0``).
    params : ModelParams or None
        Checked against ``state.model.params`` when given.
    rng : numpy.random.Generator
        Used for the unloading, then the forward reload, then the reverse reload.
    gamma_reload : float
        Strain of each reload (> 0).
    dgamma : float
        Strain increment (> 0).
    max_unload : float
        Give up unloading after this strain, rounded up to whole ``dgamma`` steps (ValueError:
        the state never reached 0).

    Returns
    -------
    Bauschinger
        The two reload curves, the unloading run and the unloaded state.

    Examples
    --------
    >>> import numpy as np, femplastic as fp
    >>> p = fp.ModelParams(L=6, N=8, T=0.0)
    >>> rng = np.random.default_rng(2)
    >>> loaded = fp.aqs(fp.quench(p, rng), p, rng, gamma_end=0.3, dgamma=1e-3).state
    >>> b = bauschinger(loaded, p, rng, gamma_reload=0.02, dgamma=1e-3)
    >>> b.forward.gamma.shape, b.reverse.stress.shape
    ((20,), (20,))
    >>> abs(b.unloaded.external_stress()) < 0.05     # unloaded to (about) zero stress
    True
    """
    validation.check_bauschinger(state, rng, gamma_reload, dgamma, max_unload)
    if not np.isfinite(gamma_reload) or gamma_reload <= 0:
        raise ValueError(f"gamma_reload must be > 0, got {gamma_reload!r}")
    s0 = state.external_stress(0.0)
    if s0 <= 0:
        raise ValueError(f"the state must be loaded forward (Sigma_xy > 0), got {s0:.4g}")
    bound = max(1, math.ceil(max_unload / dgamma - 1e-9)) * dgamma  # on the dgamma lattice
    un = aqs(state, params, rng, gamma_end=bound, dgamma=dgamma, alpha=0.0, direction=-1,
             stop_when=lambda g, sb, sa: sa >= 0.0)
    if not un.stopped:
        raise ValueError(f"unloading by {max_unload} did not bring the external stress to 0")
    unloaded = un.state
    fw = aqs(unloaded, params, rng, gamma_end=gamma_reload, dgamma=dgamma, alpha=0.0)
    rv = aqs(unloaded, params, rng, gamma_end=gamma_reload, dgamma=dgamma, alpha=np.pi / 2)
    return Bauschinger(ReloadCurve(fw.gamma, fw.stress), ReloadCurve(rv.gamma, rv.stress), un,
                       unloaded)


def ensemble_average(results: list[Bauschinger]) -> dict[str, NDArray[np.float64]]:
    """Mean and standard error of the reload curves over realisations.

    Parameters
    ----------
    results : list of Bauschinger
        One test per realisation, all with the same ``gamma_reload`` and ``dgamma``.

    Returns
    -------
    dict
        ``gamma`` (n_steps,), ``forward``/``reverse`` means and ``forward_sem``/``reverse_sem``
        (n_steps,), and ``n`` the number of realisations.
    """
    if not results:
        raise ValueError("results is empty")
    g = results[0].forward.gamma
    for r in results:
        if r.forward.gamma.shape != g.shape or r.reverse.gamma.shape != g.shape:
            raise ValueError("all reloads must share gamma_reload and dgamma")
    F = np.array([r.forward.stress for r in results])
    R = np.array([r.reverse.stress for r in results])
    k = len(results)
    sem = (lambda X: X.std(axis=0, ddof=1) / np.sqrt(k)) if k > 1 else (lambda X: 0 * X[0])
    return {"gamma": g, "forward": F.mean(axis=0), "reverse": R.mean(axis=0),
            "forward_sem": sem(F), "reverse_sem": sem(R), "n": np.array(k)}

"""Element-size ingredients (Castellanos et al. 2021, sec. 2, 3.2 and 6): per-element slip laws.

On a mesh whose elements have areas ``A_e``, element ``e`` has the size ``l_e = sqrt(A_e)``.
Selected by ``ModelParams.element_size`` (``--set model.element_size=density``):

``"off"`` (default)
    Every element has the model's ``N``, ``k``, ``lam``, ``chi`` (the paper's model).
``"density"``
    Element ``e`` has ``N_e`` slip systems from the slip-system density ``rho_s`` (sec. 3.2,
    ``N = rho_s l^2``): ``N_e = rho_s A_e`` **rounded** (never drawn) to the nearest multiple
    of 4, at least 4 (A.2; the orientation groups of four need a multiple of 4). ``k``,
    ``lam``, ``chi`` stay global.
``"density+table1"``
    ``N_e`` as above, and ``(k, lam, chi)`` move with ``l_e`` by the power laws fitted through
    the optimum of each Table 1 row (:data:`TABLE1_OPTIMUM`), taken relative to the model's
    own values at its ``l``::

        k_e   = k   (l_e / l)^B_K
        lam_e = lam (l_e / l)^B_LAM
        chi_e = max(CHI_FLOOR, (1 + chi) (l_e / l)^B_CHI - 1)

    so an element of the model's size gets exactly the model's parameters.

The paper publishes the optimum only at ``l = 6.6``; :data:`TABLE1_OPTIMUM` holds this
project's measurement for every row (``studies/fig3_multi_l.py``, calibration sweep against a
synthetic ``l = 6.6`` reference, reduced grids; ``studies/README.md``). Four of its six ``k``
values lie on a grid edge (2.80 at ``l = 4.4``, 1.6 for ``l >= 8.8``), so ``B_K`` is a fit
through censored values; ``B_LAM`` and ``B_CHI`` are close to the expectations of
minimum statistics (A.1: ``lam ~ N^(1/k) ~ l^(2/k) = l^0.92``) and of a conserved slip moment
(:func:`femplastic.weakplane.multiscale.moment_chi`: ``1 + chi ~ l^2``). The fits are
least squares of ``log y = log c + B log l`` through the six rows; :func:`fit_table1`
recomputes them and their residuals (:data:`TABLE1_RESIDUAL`).

Elements within a relative ``1e-9`` of the model's ``l`` count as size ``l`` exactly, so on the
regular grid (``A_e = l^2`` up to round-off) the option ``"density"`` changes nothing when
``N = round4(rho_s l^2)`` (model C: 36) and ``"density+table1"`` changes nothing at all in the
law: the trajectories are bitwise the ones of ``"off"``.

Per-element laws need random orientation groups, Weibull thresholds and power-law amplitudes
(variants A, B, C, D, I) and the numba backend (2D). The state arrays keep a fixed width
``N_max = max N_e``: the systems ``k >= N_e`` of element ``e`` are inactive padding with
threshold ``+inf`` (never active, zero KMC rate, never the lowest distance to threshold),
never renewed.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

if TYPE_CHECKING:  # pragma: no cover
    from ..fe.mesh import FEMesh
    from .params import ModelParams
    from .slip import SlipLaw

__all__ = ["OPTIONS", "TABLE1_OPTIMUM", "B_K", "B_LAM", "B_CHI", "CHI_FLOOR",
           "TABLE1_RESIDUAL", "SNAP", "check", "fit_table1", "element_lengths",
           "systems_per_element", "size_parameters", "element_table", "element_law"]

#: The values of ``ModelParams.element_size``.
OPTIONS = ("off", "density", "density+table1")

#: Optimum per Table 1 row, ``l: (k_hat, lam_hat, chi_hat)``: this project's
#: ``studies/fig3_multi_l.py`` (``studies/README.md``; the paper gives only ``l = 6.6``).
TABLE1_OPTIMUM: dict[float, tuple[float, float, float]] = {
    3.5: (2.22, 1.49, 0.70), 4.4: (2.80, 1.73, 1.00), 6.6: (2.30, 1.97, 2.25),
    8.8: (1.60, 2.95, 4.78), 10.5: (1.60, 2.98, 10.1), 13.2: (1.60, 3.77, 12.0)}

#: Fitted exponents of ``k``, ``lam`` and ``1 + chi`` in ``l`` (:func:`fit_table1`, rounded to
#: 3 decimals).
B_K, B_LAM, B_CHI = -0.394, 0.695, 1.643
#: Largest relative residual ``|y / fit - 1|`` of each fit over the six rows
#: (k: 0.18 at l = 4.4; lam: 0.12 at 6.6; 1 + chi: 0.26 at 10.5).
TABLE1_RESIDUAL = {"k": 0.18, "lam": 0.122, "1+chi": 0.264}
#: Lower clip of ``chi_e`` (the fit asks for ``chi <= 0`` below ``l ~ 0.56 l_ref``; the
#: multi-l study saw runs with ``chi <= 0.35`` diverge).
CHI_FLOOR = 0.5
#: Relative tolerance within which an element size counts as the model's ``l``.
SNAP = 1e-9


def check(element_size: Any, rho_s: Any) -> str:
    """Validate ``element_size`` and ``rho_s``; return the normalised option name.

    Parameters
    ----------
    element_size : str
        One of :data:`OPTIONS`.
    rho_s : float
        Slip-system density (> 0), systems per unit area (LJ units).

    Returns
    -------
    str
        The option, stripped and lower-cased.

    Raises
    ------
    TypeError
        If ``element_size`` is not a string or ``rho_s`` not a number.
    ValueError
        If the option is unknown or ``rho_s`` is not finite and > 0 (naming the key).
    """
    if not isinstance(element_size, str):
        raise TypeError(f"element_size must be a string ({', '.join(map(repr, OPTIONS))}), "
                        f"got {type(element_size).__name__} {element_size!r}")
    opt = element_size.strip().lower()
    if opt not in OPTIONS:
        raise ValueError(f"element_size must be one of {', '.join(map(repr, OPTIONS))}, got "
                         f"{element_size!r}")
    if isinstance(rho_s, bool | np.bool_) or not isinstance(rho_s, int | float | np.integer
                                                             | np.floating):
        raise TypeError(f"rho_s must be a number, got {type(rho_s).__name__} {rho_s!r}")
    if not (np.isfinite(rho_s) and rho_s > 0):
        raise ValueError(f"rho_s must be a finite number > 0 (slip systems per unit area; "
                         f"the paper: 0.8), got {rho_s!r}")
    return opt


def fit_table1(rows: dict[float, tuple[float, float, float]] | None = None
               ) -> dict[str, tuple[float, float, NDArray[np.float64]]]:
    """Power-law fits ``y = c l^B`` of ``k``, ``lam`` and ``1 + chi`` through the rows.

    Parameters
    ----------
    rows : dict, optional
        ``l: (k, lam, chi)``; default :data:`TABLE1_OPTIMUM`.

    Returns
    -------
    dict
        ``{"k" | "lam" | "1+chi": (B, c, residuals)}``, residuals ``y / (c l^B) - 1`` per row
        (in increasing ``l``).
    """
    rows = TABLE1_OPTIMUM if rows is None else rows
    ls = np.array(sorted(rows), dtype=float)
    vals = np.array([rows[x] for x in sorted(rows)], dtype=float)
    out = {}
    for name, y in (("k", vals[:, 0]), ("lam", vals[:, 1]), ("1+chi", 1.0 + vals[:, 2])):
        b, logc = np.polyfit(np.log(ls), np.log(y), 1)
        c = float(np.exp(logc))
        out[name] = (float(b), c, y / (c * ls ** b) - 1.0)
    return out


def element_lengths(areas: ArrayLike, l: float) -> NDArray[np.float64]:
    """Element sizes ``l_e = sqrt(A_e)``, set to exactly ``l`` within a relative :data:`SNAP`.

    Parameters
    ----------
    areas : (n_elem,) array_like
        Element areas (> 0), LJ units.
    l : float
        The model's element size (> 0).

    Returns
    -------
    (n_elem,) float64 ndarray
    """
    le = np.sqrt(np.asarray(areas, dtype=float))
    return np.where(np.abs(le - l) <= SNAP * l, float(l), le)


def systems_per_element(lengths: ArrayLike, rho_s: float) -> NDArray[np.int64]:
    """``N_e = rho_s l_e^2`` rounded to the nearest multiple of 4, at least 4 (A.2).

    Parameters
    ----------
    lengths : (n_elem,) array_like
        Element sizes ``l_e`` (> 0).
    rho_s : float
        Slip-system density (> 0).

    Returns
    -------
    (n_elem,) int64 ndarray

    Examples
    --------
    >>> systems_per_element([3.5, 6.6, 13.2], 0.8).tolist()
    [8, 36, 140]
    """
    le = np.asarray(lengths, dtype=float)
    return np.maximum(4, 4 * np.floor(rho_s * le * le / 4.0 + 0.5)).astype(np.int64)


def size_parameters(lengths: ArrayLike, l: float, k: float, lam: float, chi: float
                    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """``(k_e, lam_e, chi_e)`` of the ``"density+table1"`` law (module docstring).

    Parameters
    ----------
    lengths : (n_elem,) array_like
        Element sizes ``l_e`` (> 0).
    l, k, lam, chi : float
        The model's element size and its parameters there.

    Returns
    -------
    k_e, lam_e, chi_e : (n_elem,) float64 ndarray
        Exactly ``k, lam, chi`` where ``l_e == l``.
    """
    r = np.asarray(lengths, dtype=float) / l
    same = r == 1.0
    k_e = np.where(same, k, k * r ** B_K)
    lam_e = np.where(same, lam, lam * r ** B_LAM)
    chi_e = np.where(same, chi, np.maximum(CHI_FLOOR, (1.0 + chi) * r ** B_CHI - 1.0))
    return k_e, lam_e, chi_e


def element_table(params: ModelParams, areas: ArrayLike) -> NDArray[np.float64] | None:
    """Per-element ``[k_e, lam_e, chi_e, N_e]`` (n_elem, 4), or None for ``"off"``.

    Parameters
    ----------
    params : ModelParams
        Its ``element_size``, ``rho_s``, ``l``, ``k``, ``lam``, ``chi``.
    areas : (n_elem,) array_like
        Element areas.

    Returns
    -------
    (n_elem, 4) float64 ndarray or None
    """
    if params.element_size == "off":
        return None
    le = element_lengths(areas, params.l)
    tab = np.empty((le.size, 4))
    tab[:, 3] = systems_per_element(le, params.rho_s)
    if params.element_size == "density":
        tab[:, 0], tab[:, 1], tab[:, 2] = params.k, params.lam, params.chi
    else:
        tab[:, 0], tab[:, 1], tab[:, 2] = size_parameters(le, params.l, params.k, params.lam,
                                                          params.chi)
    return tab


def element_law(params: ModelParams, mesh: FEMesh) -> SlipLaw:
    """The slip law of ``params`` with the per-element table on ``mesh`` (``N = max N_e``).

    Parameters
    ----------
    params : ModelParams
        ``element_size`` not ``"off"``; a variant with Weibull thresholds and power-law
        amplitudes (A, B, C, D, I).
    mesh : FEMesh
        The mesh (its ``areas``).

    Returns
    -------
    SlipLaw

    Raises
    ------
    ValueError
        For variants E, F, G, H (naming ``element_size``).

    Warns
    -----
    UserWarning
        ``"density+table1"`` with an element size outside Table 1's ``3.5 - 13.2``; any
        option with elements of ``rho_s A_e < 2`` (their ``N_e`` is the floor 4, not the
        density's: a mesh not in LJ units?).
    """
    import dataclasses

    if params.variant in ("E", "F", "G", "H"):
        raise ValueError(f"element_size={params.element_size!r} needs Weibull thresholds and "
                         f"power-law amplitudes (variants A, B, C, D, I), got variant "
                         f"{params.variant}; set element_size='off'")
    tab = element_table(params, mesh.areas)
    le = np.sqrt(mesh.areas)
    clipped = int(np.count_nonzero(params.rho_s * mesh.areas < 2.0))
    if clipped:  # rounding gives 0 systems: the floor of 4 decides, not the density
        warnings.warn(f"element_size={params.element_size!r}: {clipped} of {mesh.n_elem} "
                      f"elements have rho_s A_e < 2 (sizes down to {le.min():.3g}; rho_s = "
                      f"{params.rho_s:g}) and get the minimum N_e = 4, not rho_s A_e; mesh "
                      "lengths are LJ units (the paper: l = 3.5-13.2): is the mesh scaled?",
                      stacklevel=3)
    lo, hi = min(TABLE1_OPTIMUM), max(TABLE1_OPTIMUM)
    if params.element_size == "density+table1" and (le.min() < lo or le.max() > hi):
        warnings.warn(f"element_size='density+table1': element sizes {le.min():.3g}-"
                      f"{le.max():.3g} leave the fitted range l = {lo}-{hi} of Table 1; "
                      f"(k, lam, chi) are extrapolated", stacklevel=3)
    law = params.slip_law()
    return dataclasses.replace(law, N=int(tab[:, 3].max()), per_element=tab)

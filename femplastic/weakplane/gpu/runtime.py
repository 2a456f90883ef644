"""JAX runtime of the accelerated backend: import checks, float64, device choice.

The accelerated weak-plane backend (:mod:`femplastic.weakplane.gpu`) runs on JAX, an optional
dependency: ``pip install "femplastic[gpu]"`` installs ``jax[cuda12]`` (NVIDIA GPU);
the CPU wheel (``pip install jax``) runs the same code on the CPU, which is how the tests
check it. Everything here is resolved when a run starts, never at import time of femplastic.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["BACKENDS", "normalize_backend", "check_params", "require_jax", "select_device",
           "device_name"]

#: Accepted ``backend`` values: the numba CPU path, and the JAX backend on any device
#: (``"jax"``) or on a GPU only (``"gpu"``, an error when none is visible).
BACKENDS = ("numba", "jax", "gpu")


def normalize_backend(backend: Any) -> str:
    """Validated backend name (lower case).

    Parameters
    ----------
    backend : str
        One of :data:`BACKENDS` (case-insensitive).

    Returns
    -------
    str
        ``"numba"``, ``"jax"`` or ``"gpu"``.

    Raises
    ------
    ValueError
        If ``backend`` is not one of :data:`BACKENDS`.
    """
    name = backend.strip().lower() if isinstance(backend, str) else backend
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    return name


def check_params(params: Any, backend: str) -> None:
    """Refuse, from the parameters alone, a 2D model the accelerated backend cannot run.

    The same rule as :func:`femplastic.weakplane.gpu.setup.check_model` (the exact periodic
    kernel of the regular grid, one slip law for all elements), known before any model is
    built: ``femplastic run`` checks it before the quench (it refused after it, with the
    output folder written).

    Parameters
    ----------
    params : ModelParams
        A 2D model (3D refuses any backend but numba elsewhere).
    backend : str
        ``run.backend``; ``"numba"`` passes.

    Raises
    ------
    ValueError
        Naming ``run.backend`` and the model key that needs the numba path.
    """
    if backend == "numba":
        return
    why = None
    if params.mesh is not None:
        why = "model.mesh (a custom mesh runs on the general FE propagator)"
    elif params.heterogeneous:
        why = f"model.variant = {params.variant} (per-element moduli: the general propagator)"
    elif params.interaction != "eshelby":
        why = f"model.variant = {params.variant} (the {params.interaction} kernel)"
    elif params.element_size != "off":
        why = f"model.element_size = {params.element_size} (per-element slip laws)"
    if why is not None:
        raise ValueError(f"run.backend = {backend}: the accelerated backend runs the regular "
                         f"periodic grid with the exact periodic kernel only, not {why}; set "
                         "run.backend = numba")


def require_jax() -> Any:
    """Import JAX with float64 enabled; a clear error when the extra is missing.

    Returns
    -------
    module
        The ``jax`` module, with ``jax_enable_x64`` switched on (process-wide: the backend
        computes in float64 throughout, like the numba path).

    Raises
    ------
    ImportError
        If JAX is not installed (``pip install "femplastic[gpu]"`` for NVIDIA GPUs, or
        ``pip install jax`` for the CPU).
    RuntimeError
        If this JAX cannot compute in float64.
    """
    try:
        import jax
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the accelerated backend needs JAX: pip install \"femplastic[gpu]\" (NVIDIA GPU, "
            "jax[cuda12]) or pip install jax (CPU only)") from exc
    jax.config.update("jax_enable_x64", True)
    if not isinstance(jax.__version__, str):  # pragma: no cover - a documentation build's mock
        return jax
    # (asked of the dtype rules, not of an array: an array would start a backend and its
    # threads at import, and a later os.fork of this process could deadlock)
    if jax.dtypes.canonicalize_dtype(np.float64) != np.float64:  # pragma: no cover - guard
        raise RuntimeError(f"JAX {jax.__version__} did not switch to float64 "
                           "(jax_enable_x64); the backend computes in float64 only")
    return jax


def select_device(backend: str) -> Any:
    """The JAX device a run of ``backend`` uses.

    Parameters
    ----------
    backend : {"jax", "gpu"}
        ``"jax"``: JAX's default device (a GPU when one is visible, else the CPU);
        ``"gpu"``: the first GPU, an error when there is none.

    Returns
    -------
    jax.Device

    Raises
    ------
    RuntimeError
        If ``backend == "gpu"`` and JAX sees no GPU (e.g. the CPU-only wheel is installed,
        or the CUDA driver is missing).
    """
    jax = require_jax()
    if backend == "gpu":
        try:
            gpus = jax.devices("gpu")
        except RuntimeError:
            gpus = []
        if not gpus:
            raise RuntimeError(
                "backend='gpu' but JAX sees no GPU (installed: jax "
                f"{jax.__version__}, devices {[d.platform for d in jax.devices()]}); install "
                "the CUDA wheel with pip install \"femplastic[gpu]\", or use backend='jax' to run "
                "the same code on the CPU")
        return gpus[0]
    return jax.devices()[0]


def device_name(device: Any) -> str:
    """Human-readable name of a JAX device, e.g. ``"gpu:0 NVIDIA H200"``.

    Parameters
    ----------
    device : jax.Device

    Returns
    -------
    str
    """
    kind = getattr(device, "device_kind", "") or ""
    return f"{device.platform}:{device.id} {kind}".strip()

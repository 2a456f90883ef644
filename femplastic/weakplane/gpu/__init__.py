"""Accelerated backend of the weak-plane AQS (JAX: NVIDIA GPU, or the CPU for tests).

Optional: ``pip install "femplastic[gpu]"``. Select it with ``fp.aqs(..., backend="gpu")``
(a GPU or an error) or ``backend="jax"`` (JAX's default device), or call :func:`aqs_gpu`.
Nothing here imports JAX before a run starts.
"""

from __future__ import annotations

from typing import Any

__all__ = ["aqs_gpu", "BACKENDS", "normalize_backend"]

from .runtime import BACKENDS, normalize_backend


def __getattr__(name: str) -> Any:
    if name == "aqs_gpu":
        from .driver import aqs_gpu

        return aqs_gpu
    raise AttributeError(name)

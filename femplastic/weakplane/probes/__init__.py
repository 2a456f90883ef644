"""Probes: copy a state and measure it (local shear test, Bauschinger reload)."""

from .bauschinger import Bauschinger, ReloadCurve, bauschinger, ensemble_average
from .local_yield import (
    SELF_RESPONSES,
    LocalYield,
    PatchPropagator,
    local_yield,
    patch_indices,
    patch_operator,
    patch_state,
)

__all__ = ["local_yield", "LocalYield", "PatchPropagator", "patch_indices", "patch_operator",
           "patch_state", "SELF_RESPONSES", "bauschinger", "Bauschinger", "ReloadCurve",
           "ensemble_average"]

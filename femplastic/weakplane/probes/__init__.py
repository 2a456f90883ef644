"""Probes: copy a state and measure it (local shear test, Bauschinger reload)."""

from .bauschinger import Bauschinger, ReloadCurve, bauschinger, ensemble_average
from .local_yield import LocalYield, PatchPropagator, local_yield, patch_indices

__all__ = ["local_yield", "LocalYield", "PatchPropagator", "patch_indices", "bauschinger",
           "Bauschinger", "ReloadCurve", "ensemble_average"]

"""The Hebraud-Lequeux mean-field model (Puosi et al.) and its bridge to lattice simulations."""

from . import meanfield
from .meanfield import *  # noqa: F403

__all__ = list(meanfield.__all__)

"""Drivers: functions that move a :class:`~femplastic.weakplane.state.State` forward."""

from .aqs import AQSRun, EventLog, aqs, relax
from .cyclic import CyclicRun, cyclic
from .kmc import QuenchInfo, quench
from .rate import RateParams, RateRun, creep, shear_rate
from .stress import StressRun, stress_controlled

__all__ = ["aqs", "relax", "AQSRun", "EventLog", "cyclic", "CyclicRun", "quench", "QuenchInfo",
           "RateParams", "RateRun", "creep", "shear_rate", "stress_controlled", "StressRun"]

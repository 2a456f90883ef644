"""Drivers: functions that move a :class:`~femplastic.weakplane.state.State` forward."""

from .aqs import AQSRun, EventLog, aqs, relax
from .kmc import QuenchInfo, quench
from .rate import RateParams, RateRun, creep, shear_rate

__all__ = ["aqs", "relax", "AQSRun", "EventLog", "quench", "QuenchInfo", "RateParams", "RateRun",
           "creep", "shear_rate"]

"""Drivers: functions that move a :class:`~femplastic.state.State` forward."""

from .aqs import AQSRun, EventLog, aqs, relax
from .kmc import QuenchInfo, quench

__all__ = ["aqs", "relax", "AQSRun", "EventLog", "quench", "QuenchInfo"]

"""Execution algorithms as pure schedulers (see docs/algos.md for the host contract)."""
from fixgw.algo.almgren_chriss import ACParams
from fixgw.algo.base import BaseScheduler, FillEvent, ParentRejected
from fixgw.algo.factory import make_scheduler
from fixgw.algo.types import (AlgoSettings, CancelIntent, ChildIntent, ChildStyle, Instrument,
                              Intent, MarketSnapshot, ParentSpec, SchedulerStatus)
from fixgw.algo.vwap import VolumeProfile

__all__ = ["ACParams", "AlgoSettings", "BaseScheduler", "CancelIntent", "ChildIntent",
           "ChildStyle", "FillEvent", "Instrument", "Intent", "MarketSnapshot", "ParentRejected",
           "ParentSpec", "SchedulerStatus", "VolumeProfile", "make_scheduler"]

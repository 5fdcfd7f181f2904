"""Execution algorithms as pure schedulers (see docs/algos.md for the host contract)."""
from fixgw.algo.almgren_chriss import ACParams
from fixgw.algo.base import BaseScheduler, ParentRejected
from fixgw.algo.factory import make_scheduler
from fixgw.algo.types import (AlgoSettings, CancelIntent, ChildIntent, ChildStyle,
                              ExecutionTrace, Instrument, Intent, MarketSample, MarketSnapshot,
                              ParentSpec, SchedulerStatus, TraceFill)
from fixgw.algo.vwap import VolumeProfile

__all__ = ["ACParams", "AlgoSettings", "BaseScheduler", "CancelIntent", "ChildIntent",
           "ChildStyle", "ExecutionTrace", "Instrument", "Intent", "MarketSample", "MarketSnapshot", "ParentRejected",
           "ParentSpec", "SchedulerStatus", "TraceFill", "VolumeProfile", "make_scheduler"]

"""Build the scheduler for a parent's TargetStrategy(847)."""
from __future__ import annotations

import random

from fixgw.algo.almgren_chriss import ACParams
from fixgw.algo.arrival import ArrivalScheduler
from fixgw.algo.base import BaseScheduler, ParentRejected
from fixgw.algo.iceberg import IcebergScheduler
from fixgw.algo.pov import PovScheduler
from fixgw.algo.twap import TwapScheduler
from fixgw.algo.types import AlgoSettings, Instrument, ParentSpec
from fixgw.algo.vwap import ProfileLike, VwapScheduler
from fixgw.domain import Strategy


def make_scheduler(parent: ParentSpec, instrument: Instrument, rng_seed: int | str,
                   settings: AlgoSettings | None = None, *,
                   volume_profile: ProfileLike | None = None,
                   impact: ACParams | None = None) -> BaseScheduler:
    """The scheduler for ``parent.strategy``; raises :class:`ParentRejected` (a ValueError whose
    message names the FIX field) when the parent lacks what the strategy needs. DMA parents have
    no scheduler: the OMS routes them directly."""
    settings = settings or AlgoSettings()
    rng = random.Random(rng_seed)
    s = parent.strategy
    if s is Strategy.TWAP:
        return TwapScheduler(parent, instrument, settings, rng)
    if s is Strategy.VWAP:
        return VwapScheduler(parent, instrument, settings, rng, volume_profile)
    if s is Strategy.POV:
        return PovScheduler(parent, instrument, settings, rng)
    if s is Strategy.ICEBERG:
        return IcebergScheduler(parent, instrument, settings, rng)
    if s is Strategy.ARRIVAL:
        return ArrivalScheduler(parent, instrument, settings, rng, impact)
    raise ParentRejected(f"TargetStrategy(847)={s.value} has no scheduler (DMA is routed directly)")

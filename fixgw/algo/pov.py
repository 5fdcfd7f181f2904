"""POV (847=2): trade a target fraction (849) of the market volume as it prints.

The market volume in the snapshots includes our own fills (they are prints like any other), so
the target that makes our share exactly ``rate`` is rate/(1-rate) times the *other* traders'
volume since start. The fill is kept inside the band rate*(1 -/+ band): below the lower edge the
deficit to the target crosses the spread; up to the upper edge is kept working passively at the
touch. Clips are bounded by the max/min clip. No end time: it runs until filled or canceled.
"""
from __future__ import annotations

import random
from decimal import Decimal

from fixgw.algo.base import BaseScheduler, ParentRejected
from fixgw.algo.types import AlgoSettings, ChildStyle, Instrument, Intent, MarketSnapshot, ParentSpec
from fixgw.domain import ZERO

ONE = Decimal(1)


class PovScheduler(BaseScheduler):
    def __init__(self, parent: ParentSpec, instrument: Instrument, settings: AlgoSettings,
                 rng: random.Random):
        super().__init__(parent, instrument, settings, rng)
        rate = parent.participation_rate
        if rate is None or not (ZERO < rate <= ONE):
            raise ParentRejected(f"ParticipationRate(849)={rate} must be in (0, 1] for POV")
        self.rate = rate

    def target(self, market: MarketSnapshot) -> Decimal:
        """Fill that makes our share of the volume since start equal to the rate."""
        if self.rate >= ONE:
            return self.quantity
        others = max(self.volume_since_start(market) - self.filled, ZERO)
        return min(self.rate / (ONE - self.rate) * others, self.quantity)

    def band(self, market: MarketSnapshot) -> tuple[Decimal, Decimal]:
        t = self.target(market)
        b = self.settings.pov_band
        return t * (ONE - b), min(t * (ONE + b), self.quantity)

    def step(self, now: float, market: MarketSnapshot) -> list[Intent]:
        intents: list[Intent] = []
        lower, upper = self.band(market)
        passive_px = self.passive_price(market)
        for cid, child in self.passive_children():
            if child.intent.limit_price != passive_px and \
                    now - child.sent_at >= self.settings.refresh_seconds:
                intents.append(self._request_cancel(cid, "touch moved: re-price"))
        if self.filled < lower and self.may_cross(now):
            cross_px = self.cross_price(market)
            deficit = self.target(market) - self.filled
            if cross_px is not None and deficit > 0:
                intents += self.cancel_passive("below participation band")
                qty = self.clip(deficit)
                if qty > 0:
                    intents.append(self.new_child(now, qty, cross_px, ChildStyle.CROSS,
                                                  f"participation {deficit} behind"))
        # a passive fill adds to the volume too: only keep a small part resting
        want = upper - self.filled - self.working
        if want > 0 and passive_px is not None:
            qty = self.clip(want)
            if qty > 0:
                intents.append(self.new_child(now, qty, passive_px, ChildStyle.PASSIVE,
                                              "participation, passive at the touch"))
        return intents

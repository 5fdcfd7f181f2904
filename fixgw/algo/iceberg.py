"""ICEBERG (847=1002): show MaxFloor (111) at the limit price, refill as each display fills.

One child at the limit at a time, never post-only (the parent accepted trading at its limit):
style PASSIVE when the limit cannot trade now (it rests), LIMIT when it is marketable (it takes
what is there at the limit and rests the rest). When it is done (filled, or canceled by the venue), the next display of
min(MaxFloor, leaves) goes up at once. A limit replace re-posts at the new price.
"""
from __future__ import annotations

import random

from fixgw.algo.base import BaseScheduler, ParentRejected
from fixgw.algo.types import AlgoSettings, ChildStyle, Instrument, Intent, MarketSnapshot, ParentSpec


class IcebergScheduler(BaseScheduler):
    def __init__(self, parent: ParentSpec, instrument: Instrument, settings: AlgoSettings,
                 rng: random.Random):
        super().__init__(parent, instrument, settings, rng)
        if parent.limit_price is None:
            raise ParentRejected("Price(44) is required for ICEBERG (847=1002)")
        if parent.max_floor is None or parent.max_floor <= 0:
            raise ParentRejected(f"MaxFloor(111)={parent.max_floor} must be positive for ICEBERG")
        self.max_floor = parent.max_floor

    def step(self, now: float, market: MarketSnapshot) -> list[Intent]:
        assert self.limit_price is not None
        if self.children:
            return [self._request_cancel(cid, "limit changed: re-post")
                    for cid, c in self.children.items()
                    if not c.cancel_requested and c.intent.limit_price != self.limit_price]
        qty = min(self.max_floor, self.uncommitted)
        qty = qty if qty >= self.leaves else self.instrument.floor_lot(qty)
        if qty <= 0:
            return []
        far = market.far_touch(self.parent.side)
        marketable = far is not None and self.parent.side.sign * (self.limit_price - far) >= 0
        # a display that cannot trade now simply rests (PASSIVE routing); one that can takes
        # what is there at its limit and rests the rest (LIMIT routing)
        style = ChildStyle.LIMIT if marketable else ChildStyle.PASSIVE
        return [self.new_child(now, qty, self.limit_price, style, "iceberg display",
                               post_only=False)]

    def wakeup_after(self, now: float, market: MarketSnapshot) -> float | None:
        return None if self.children else now + self.poll

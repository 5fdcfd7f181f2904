"""The engine shared by the curve-following strategies (TWAP, VWAP, ARRIVAL).

A strategy only supplies the shape of its curve (:meth:`ScheduledAlgo.curve`); this class turns
it into an exact :class:`~fixgw.algo.schedule.Schedule` over [start, end - final window] and
works it the same way for all of them:

- the quantity due by the *next* point is kept working passively at the touch (capped by the
  limit), re-priced when the touch moves away and the child is older than ``refresh_seconds``;
- when the fills fall behind the quantity due *now*, the passive children are pulled and the
  deficit crosses the spread (IOC, far touch plus collar, never through the limit);
- the last point of the curve is the whole quantity at ``end - final window``, so the final
  window is spent crossing whatever is left; at ``end`` the remainder expires.

Replace, pause/resume re-plan the remainder over what is left of the horizon.
"""
from __future__ import annotations

import random
from abc import abstractmethod
from decimal import Decimal
from typing import Sequence

from fixgw.algo.base import BaseScheduler, ParentRejected
from fixgw.algo.schedule import Schedule, slice_count
from fixgw.algo.types import (AlgoSettings, ChildStyle, Instrument, Intent, MarketSnapshot,
                              ParentSpec)
from fixgw.domain import ZERO


class ScheduledAlgo(BaseScheduler):
    def __init__(self, parent: ParentSpec, instrument: Instrument, settings: AlgoSettings,
                 rng: random.Random):
        super().__init__(parent, instrument, settings, rng)
        if parent.end is None:
            raise ParentRejected(f"ExpireTime(126) is required for TargetStrategy(847)="
                                 f"{parent.strategy.value}")
        self._refuse_unbounded_plan(parent.start, parent.end)
        self.schedule: Schedule | None = None
        self._base = ZERO
        self.plans: list[Schedule] = []   # every plan made, for TCA schedule deviation / charts

    def _refuse_unbounded_plan(self, start: float, end: float) -> None:
        """A horizon is planned as one point per ``slice_seconds``: refuse one that would need
        more than ``max_slices`` points rather than build (and walk) an unbounded plan."""
        s = self.settings
        n = slice_count(start, end, s.slice_seconds, s.min_slices)
        if n > s.max_slices:
            raise ParentRejected(
                f"ExpireTime(126)={end} is {end - start:.0f}s after the start: {n} slices of "
                f"{s.slice_seconds:g}s (min_slices {s.min_slices}) exceed max_slices {s.max_slices}")

    def on_replace(self, now: float, market: MarketSnapshot, quantity: Decimal | None = None,
                   limit_price: Decimal | None = None, end: float | None = None) -> list[Intent]:
        if end is not None and end > now:
            self._refuse_unbounded_plan(max(now, self.parent.start), end)
        return super().on_replace(now, market, quantity, limit_price, end)

    @abstractmethod
    def curve(self, start: float, end: float, market: MarketSnapshot
              ) -> tuple[Sequence[float], Sequence[float | Decimal]]:
        """Due times in (start, end] (the last one == end) and cumulative fractions (last 1)."""

    def plan(self, now: float, market: MarketSnapshot) -> None:
        assert self.end is not None
        start = max(now, self.parent.start)
        horizon_end = self.end - self.settings.final_window_fraction * (self.end - start)
        if horizon_end <= start:
            horizon_end = start + (self.end - start) / 2
        times, fractions = self.curve(start, horizon_end, market)
        self._base = self.filled
        self.schedule = Schedule.from_fractions(start, times, fractions,
                                                max(self.quantity - self.filled, ZERO),
                                                self.instrument)
        self.plans.append(self.schedule)

    def planned_quantity(self, t: float) -> Decimal | None:
        return None if self.schedule is None else self._base + self.schedule.due(t)

    def _capped(self, qty: Decimal, market: MarketSnapshot) -> Decimal:
        rate = self.parent.participation_rate
        if rate is None:
            return qty
        return min(qty, self.instrument.floor_lot(rate * self.volume_since_start(market)))

    def due(self, now: float, market: MarketSnapshot) -> Decimal:
        assert self.schedule is not None
        return self._capped(self._base + self.schedule.due(now), market)

    def ahead(self, now: float, market: MarketSnapshot) -> Decimal:
        assert self.schedule is not None
        return self._capped(self._base + self.schedule.ahead(now), market)

    def step(self, now: float, market: MarketSnapshot) -> list[Intent]:
        intents: list[Intent] = []
        passive_px = self.passive_price(market)
        for cid, child in self.passive_children():
            if child.intent.limit_price != passive_px and \
                    now - child.sent_at >= self.settings.refresh_seconds:
                intents.append(self._request_cancel(cid, "touch moved: re-price"))

        deficit = self.due(now, market) - self.filled
        if deficit > 0 and self.may_cross(now):
            cross_px = self.cross_price(market)
            if cross_px is not None and (deficit >= self.parent.min_clip or deficit >= self.leaves):
                intents += self.cancel_passive("behind schedule")
                qty = self.clip(deficit)
                if qty > 0:
                    intents.append(self.new_child(now, qty, cross_px, ChildStyle.CROSS,
                                                  f"catch up {deficit} behind schedule"))

        want = self.ahead(now, market) - self.filled - self.working
        if want > 0 and passive_px is not None and self.settings.passive_first:
            qty = self.clip(want)
            if qty > 0:
                intents.append(self.new_child(now, qty, passive_px, ChildStyle.PASSIVE,
                                              "next slice, passive at the touch"))
        return intents

    def wakeup_after(self, now: float, market: MarketSnapshot) -> float | None:
        assert self.schedule is not None
        candidates = [t for t in (self.schedule.next_time(now),) if t is not None]
        if self.due(now, market) > self.filled or self.parent.participation_rate is not None:
            candidates.append(now + self.poll)
        return min(candidates) if candidates else None

"""What every scheduler shares: child bookkeeping, the parent's lifecycle, limits and timing.

The host (OMS) contract, in order:

1. ``on_start(now, market)`` once the parent is accepted; execute the returned intents.
2. After *every* call, (re)arm a timer at ``next_wakeup()``; when it fires (or at once if it is
   already due), call ``on_timer(now, market)`` and execute the returned intents.
3. Report every child fill with ``on_fill(child_id, qty, price, now)`` and, once all venue
   orders of a child are terminal (filled, canceled, expired, rejected), ``on_child_done``.
   These two return nothing; they move the next wake-up to ``now`` when the strategy wants to
   react (e.g. an iceberg refill).
4. ``on_replace`` / ``pause`` / ``resume`` / ``cancel`` for the parent's own requests.
5. ``status`` tells the OMS when the parent is terminal: FILLED, EXPIRED (end time reached with a
   remainder: the OMS reports Expired, or DoneForDay for a Day order) or CANCELED.

Invariants kept here, whatever the strategy:
- filled + working never exceeds the parent quantity (no over-commit, even mid-replace);
- no child is released before ``start`` nor at or after ``end``;
- no child is priced through the hard limit (a buy never above it, a sell never below it);
- children are lot-rounded; a child below the minimum clip is only sent to finish the order.
"""
from __future__ import annotations

import logging
import random
from abc import ABC, abstractmethod
from dataclasses import dataclass
from decimal import Decimal

from fixgw.algo.types import (AlgoSettings, CancelIntent, ChildIntent, ChildStyle,
                              ExecutionTrace, Instrument, Intent, MarketSample, MarketSnapshot,
                              ParentSpec, SchedulerStatus, TraceFill)
from fixgw.domain import ZERO, Side, TimeInForce

log = logging.getLogger(__name__)
BPS = Decimal(10_000)
# how long announced-but-unseen fills stay reserved before the OMS is assumed to have lost them
LATE_FILL_GRACE_SECONDS = 60.0


@dataclass(slots=True)
class WorkingChild:
    intent: ChildIntent
    sent_at: float
    filled: Decimal = ZERO
    cancel_requested: bool = False

    @property
    def remaining(self) -> Decimal:
        return max(self.intent.quantity - self.filled, ZERO)


@dataclass(slots=True)
class LateFill:
    """Fills of a finished child that the venue announced but that have not arrived yet."""

    quantity: Decimal
    give_up_at: float


class ParentRejected(ValueError):
    """The parent cannot be worked by this strategy; the message names the FIX field."""


class BaseScheduler(ABC):
    def __init__(self, parent: ParentSpec, instrument: Instrument, settings: AlgoSettings,
                 rng: random.Random):
        if parent.quantity <= 0:
            raise ParentRejected(f"OrderQty(38)={parent.quantity} must be positive")
        if parent.end is not None and parent.end <= parent.start:
            raise ParentRejected(f"ExpireTime(126)={parent.end} must be after EffectiveTime(168)"
                                 f"={parent.start}")
        if parent.limit_price is not None and parent.limit_price <= 0:
            raise ParentRejected(f"Price(44)={parent.limit_price} must be positive")
        self.parent = parent
        self.instrument = instrument
        self.settings = settings
        self.rng = rng
        self.quantity = parent.quantity
        self.limit_price = parent.limit_price
        self.end = parent.end
        self.status = SchedulerStatus.WAITING
        self.filled = ZERO
        self._notional = ZERO
        self.fills: list[TraceFill] = []
        self.children: dict[str, WorkingChild] = {}
        self._seq = 0
        self._wakeup: float | None = parent.start
        self._finish_as = SchedulerStatus.EXPIRED
        self.volume_at_start: Decimal | None = None
        self.last_cross_at = float("-inf")
        self.samples: list[MarketSample] = []
        self._late: dict[str, LateFill] = {}
        self.arrival_mid: Decimal | None = None

    # ------------------------------------------------------------------ public API
    @property
    def is_done(self) -> bool:
        return self.status.terminal

    @property
    def leaves(self) -> Decimal:
        return max(self.quantity - self.filled, ZERO)

    @property
    def working(self) -> Decimal:
        """Quantity that may still fill: open children plus fills announced but not yet seen."""
        return sum((c.remaining for c in self.children.values()), ZERO) + \
            sum((late.quantity for late in self._late.values()), ZERO)

    @property
    def avg_price(self) -> Decimal | None:
        return self._notional / self.filled if self.filled else None

    @property
    def poll(self) -> float:
        """Wake-up / crossing cadence: ``poll_seconds``, but at most 1/50 of the horizon, so a
        short order is not starved of catch-up chances in its final window."""
        if self.end is None:
            return self.settings.poll_seconds
        return min(self.settings.poll_seconds, max((self.end - self.parent.start) / 50, 0.01))

    def next_wakeup(self) -> float | None:
        """Absolute time of the next ``on_timer`` call wanted (None: only events matter)."""
        return None if self.status.terminal else self._wakeup

    def on_start(self, now: float, market: MarketSnapshot) -> list[Intent]:
        self.volume_at_start = market.traded_volume
        self.arrival_mid = market.mid
        self.plan(now, market)
        return self.on_timer(now, market)

    def trace(self, market: MarketSnapshot | None = None) -> ExecutionTrace:
        """Market path, schedule and fills so far (the OMS journals it when the parent ends);
        ``market``, the snapshot at the end, closes the path (interval VWAP, participation)."""
        samples = list(self.samples)
        if market is not None and (not samples or market.time > samples[-1].time):
            samples.append(MarketSample(market.time, market.mid, market.traded_volume,
                                        market.traded_notional, self.filled,
                                        self.planned_quantity(market.time)))
        return ExecutionTrace(self.parent.parent_id, self.parent.strategy, self.arrival_mid,
                              tuple(samples), tuple(self.fills))

    def _sample(self, now: float, market: MarketSnapshot) -> None:
        every = self.settings.trace_seconds
        if self.end is not None:
            every = min(every, (self.end - self.parent.start) / 100)
        if self.samples and now - self.samples[-1].time < every:
            return
        self.samples.append(MarketSample(now, market.mid, market.traded_volume,
                                         market.traded_notional, self.filled,
                                         self.planned_quantity(now)))

    def on_timer(self, now: float, market: MarketSnapshot) -> list[Intent]:
        if self.status.terminal:
            return []
        for cid in [c for c, late in self._late.items() if now >= late.give_up_at]:
            log.warning("parent %s: %s fills of child %s announced but never seen",
                        self.parent.parent_id, self._late.pop(cid).quantity, cid)
        self._sample(now, market)
        if self.volume_at_start is None:
            self.volume_at_start = market.traded_volume
        if self.status is SchedulerStatus.WAITING:
            if now < self.parent.start:
                self._wakeup = self.parent.start
                return []
            self.status = SchedulerStatus.WORKING
        if self.end is not None and now >= self.end and self.status in (
                SchedulerStatus.WORKING, SchedulerStatus.PAUSED):
            return self._finish(SchedulerStatus.EXPIRED, "end time reached", now)
        if self.status is SchedulerStatus.FINISHING:
            self._wakeup = now + self.poll
            intents = self._cancel_all("finishing")
            self._settle()
            return intents
        if self.status is SchedulerStatus.PAUSED:
            self._wakeup = self.end
            return []
        intents: list[Intent] = []
        if self.leaves <= 0:
            intents = self._cancel_all("parent filled")
        else:
            intents = self.step(now, market)
        self._wakeup = self._bounded_wakeup(now, self.wakeup_after(now, market))
        self._settle()
        return intents

    def on_fill(self, child_id: str, quantity: Decimal, price: Decimal, now: float) -> None:
        if quantity <= 0:
            raise ValueError(f"fill quantity must be positive, got {quantity} for {child_id}")
        child = self.children.get(child_id)
        if child is not None:
            child.filled += quantity
        elif child_id in self._late:
            self._late[child_id].quantity -= quantity
            if self._late[child_id].quantity <= 0:
                del self._late[child_id]
        self.filled += quantity
        self._notional += quantity * price
        self.fills.append(TraceFill(now, child_id, quantity, price))
        self.after_fill(now, child_id, quantity)
        self._settle()

    def on_child_done(self, child_id: str, now: float, final_filled: Decimal | None = None) -> None:
        """All venue orders of the child are terminal. ``final_filled`` is their cumulative
        filled quantity as the venue reported it (e.g. in a cancel response): fills not yet
        seen through ``on_fill`` stay reserved, so they can never cause an over-fill."""
        child = self.children.pop(child_id, None)
        if child is not None and final_filled is not None and final_filled > child.filled:
            self._late[child_id] = LateFill(final_filled - child.filled,
                                            now + LATE_FILL_GRACE_SECONDS)
        self.after_child_done(now, child_id)
        self._settle()
        if self.status.terminal or self.status is SchedulerStatus.PAUSED:
            return
        if child is not None and child.filled == 0 and not child.cancel_requested \
                and child.intent.style is not ChildStyle.CROSS:
            # ended by the venue without a fill (post-only reject on a stale touch, risk
            # reject, expiry): back off one poll instead of re-sending into the same refusal
            self._wakeup = now + self.poll
        else:
            self._wakeup = now   # the freed quantity is decided again at once

    def on_replace(self, now: float, market: MarketSnapshot, quantity: Decimal | None = None,
                   limit_price: Decimal | None = None, end: float | None = None) -> list[Intent]:
        """Apply a parent cancel/replace; the schedule is re-planned for what is left."""
        if self.status.terminal:
            raise ParentRejected(f"parent {self.parent.parent_id} is {self.status.value}")
        if quantity is not None and quantity < self.filled:
            raise ParentRejected(f"OrderQty(38)={quantity} is below the filled {self.filled}")
        if limit_price is not None and limit_price <= 0:
            raise ParentRejected(f"Price(44)={limit_price} must be positive")
        if end is not None and end <= now:
            raise ParentRejected(f"ExpireTime(126)={end} is not in the future")
        intents: list[Intent] = []
        if quantity is not None:
            self.quantity = quantity
            if self.filled + self.working > quantity:
                intents += self._cancel_all("quantity reduced")
        if limit_price is not None:
            self.limit_price = limit_price
            for cid, child in self.children.items():
                if not child.cancel_requested and self._through_limit(child.intent.limit_price):
                    intents.append(self._request_cancel(cid, "limit changed"))
        if end is not None:
            self.end = end
        if self.status in (SchedulerStatus.WORKING, SchedulerStatus.WAITING):
            self.plan(max(now, self.parent.start), market)
            if self.status is SchedulerStatus.WORKING:
                intents += self.on_timer(now, market)
        self._settle()
        return intents

    def pause(self, now: float) -> list[Intent]:
        if self.status not in (SchedulerStatus.WORKING, SchedulerStatus.WAITING):
            return []
        self.status = SchedulerStatus.PAUSED
        self._wakeup = self.end
        return self._cancel_all("paused")

    def resume(self, now: float, market: MarketSnapshot) -> list[Intent]:
        if self.status is not SchedulerStatus.PAUSED:
            return []
        self.status = SchedulerStatus.WORKING if now >= self.parent.start else SchedulerStatus.WAITING
        self.plan(max(now, self.parent.start), market)
        return self.on_timer(now, market)

    def cancel(self, now: float) -> list[Intent]:
        """Parent cancel: pull every child; CANCELED once they are all done."""
        if self.status.terminal:
            return []
        return self._finish(SchedulerStatus.CANCELED, "parent canceled", now)

    def planned_quantity(self, t: float) -> Decimal | None:
        """The schedule's cumulative target at ``t`` (None for event-driven strategies)."""
        return None

    # ------------------------------------------------------------------ strategy hooks
    def plan(self, now: float, market: MarketSnapshot) -> None:
        """(Re)build the plan for ``leaves`` over [now, end]; called at start, replace, resume."""

    @abstractmethod
    def step(self, now: float, market: MarketSnapshot) -> list[Intent]:
        """Decide the children to send/cancel now (status WORKING, leaves > 0, before end)."""

    def wakeup_after(self, now: float, market: MarketSnapshot) -> float | None:
        return now + self.poll

    def after_fill(self, now: float, child_id: str, quantity: Decimal) -> None:
        pass

    def after_child_done(self, now: float, child_id: str) -> None:
        pass

    # ------------------------------------------------------------------ helpers for strategies
    @property
    def uncommitted(self) -> Decimal:
        """Quantity neither filled nor working: the most a new child may carry."""
        return max(self.quantity - self.filled - self.working, ZERO)

    def passive_price(self, market: MarketSnapshot) -> Decimal | None:
        touch = market.near_touch(self.parent.side)
        if touch is None:
            return None
        return self._cap(touch)

    def cross_price(self, market: MarketSnapshot) -> Decimal | None:
        """Far touch plus the collar, capped by the limit; None when the limit forbids crossing."""
        side = self.parent.side
        far = market.far_touch(side)
        if far is None:
            return None
        collar = Decimal(1) + side.sign * self.settings.cross_collar_bps / BPS
        price = self.instrument.price_inside(far * collar, side)
        price = self._cap(price)
        if side.sign * (price - far) < 0:   # limit sits inside the far touch: cannot cross
            return None
        return price

    def clip(self, qty: Decimal) -> Decimal:
        """Round to the lot, apply max clip and the room left; 0 if below the min clip."""
        qty = min(qty, self.uncommitted)
        if self.parent.max_clip is not None:
            qty = min(qty, self.parent.max_clip)
        qty = self.instrument.floor_lot(qty) if qty < self.uncommitted else qty
        if qty <= 0:
            return ZERO
        finishing = qty >= self.leaves
        if not finishing and (qty < self.parent.min_clip or qty < self.instrument.min_qty):
            return ZERO
        return qty

    def new_child(self, now: float, qty: Decimal, price: Decimal, style: ChildStyle,
                  reason: str, post_only: bool | None = None) -> ChildIntent:
        if self._through_limit(price):
            raise AssertionError(f"child price {price} through limit {self.limit_price}")
        if self.end is not None and now >= self.end:
            raise AssertionError(f"child at {now} at/after end {self.end}")
        self._seq += 1
        cross = style is ChildStyle.CROSS
        if cross:
            self.last_cross_at = now
        intent = ChildIntent(
            child_id=f"{self.parent.parent_id}-{self._seq}", side=self.parent.side,
            quantity=qty, limit_price=price, style=style,
            tif=TimeInForce.IOC if cross else TimeInForce.GTC,
            post_only=False if style is not ChildStyle.PASSIVE else (
                self.parent.post_only if post_only is None else post_only),
            reason=reason)
        self.children[intent.child_id] = WorkingChild(intent, now)
        return intent

    def volume_since_start(self, market: MarketSnapshot) -> Decimal:
        base = self.volume_at_start if self.volume_at_start is not None else market.traded_volume
        return max(market.traded_volume - base, ZERO)

    def may_cross(self, now: float) -> bool:
        """One crossing child per poll interval: a thin book within the limit must not turn
        catch-up into a tight loop of IOCs."""
        return now - self.last_cross_at >= self.poll

    def passive_children(self) -> list[tuple[str, WorkingChild]]:
        return [(cid, c) for cid, c in self.children.items()
                if c.intent.style is ChildStyle.PASSIVE and not c.cancel_requested]

    def _request_cancel(self, child_id: str, reason: str) -> CancelIntent:
        self.children[child_id].cancel_requested = True
        return CancelIntent(child_id, reason)

    def cancel_passive(self, reason: str) -> list[Intent]:
        return [self._request_cancel(cid, reason) for cid, _ in self.passive_children()]

    def _cancel_all(self, reason: str) -> list[Intent]:
        return [self._request_cancel(cid, reason) for cid, c in list(self.children.items())
                if not c.cancel_requested]

    def _cap(self, price: Decimal) -> Decimal:
        if self.limit_price is None:
            return price
        return min(price, self.limit_price) if self.parent.side is Side.BUY \
            else max(price, self.limit_price)

    def _through_limit(self, price: Decimal) -> bool:
        if self.limit_price is None:
            return False
        return self.parent.side.sign * (price - self.limit_price) > 0

    def _finish(self, status: SchedulerStatus, reason: str, now: float) -> list[Intent]:
        self._finish_as = status
        self.status = SchedulerStatus.FINISHING
        self._wakeup = now + self.poll
        intents = self._cancel_all(reason)
        self._settle()
        return intents

    def _settle(self) -> None:
        """Move to a terminal status once nothing is working any more."""
        if self.status.terminal or self.children or self._late:
            return
        if self.filled >= self.quantity and self.status is not SchedulerStatus.WAITING:
            self.status = SchedulerStatus.FILLED
        elif self.status is SchedulerStatus.FINISHING:
            self.status = self._finish_as

    def _bounded_wakeup(self, now: float, wanted: float | None) -> float | None:
        candidates = [t for t in (wanted, self.end) if t is not None]
        if self.children or self._late:   # keep an eye on working children
            candidates.append(now + self.poll)
        return min(candidates) if candidates else None

"""A tiny deterministic market for driving pure schedulers with a fake clock.

Crossing children fill at once at the far touch (if their limit allows) and are done (IOC);
passive children fill when the test says so (``fill_passive``) or, with ``passive_fill_rate``,
a fraction of their remaining on every tick. Cancels are acknowledged at once. Every child the
scheduler releases is recorded with the time it was sent, so tests can check invariants.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from fixgw.algo import (BaseScheduler, CancelIntent, ChildIntent, ChildStyle, Instrument,
                        MarketSnapshot)
from fixgw.clock import FakeClock
from fixgw.domain import ZERO, Side

INSTR = Instrument("BTC/USDT", tick_size=Decimal("0.01"), lot_size=Decimal("0.001"),
                   min_qty=Decimal("0.001"))
T0 = 1_700_000_000.0


@dataclass
class Sent:
    time: float
    intent: ChildIntent


@dataclass
class Market:
    bid: Decimal = Decimal("100.00")
    ask: Decimal = Decimal("100.10")
    volume: Decimal = ZERO

    def snapshot(self, now: float) -> MarketSnapshot:
        return MarketSnapshot(time=now, bid=self.bid, ask=self.ask, bid_size=Decimal(5),
                              ask_size=Decimal(5), traded_volume=self.volume)


@dataclass
class Driver:
    sched: BaseScheduler
    clock: FakeClock = field(default_factory=lambda: FakeClock(t=T0))
    market: Market = field(default_factory=Market)
    passive_fill_rate: Decimal = ZERO
    sent: list[Sent] = field(default_factory=list)
    open: dict[str, Decimal] = field(default_factory=dict)   # child id -> remaining
    canceled: list[str] = field(default_factory=list)

    @property
    def now(self) -> float:
        return self.clock.now()

    def execute(self, intents) -> None:
        for it in intents:
            if isinstance(it, CancelIntent):
                assert it.child_id in self.open, f"cancel of unknown/finished child {it.child_id}"
                del self.open[it.child_id]
                self.canceled.append(it.child_id)
                self.sched.on_child_done(it.child_id, self.now)
                continue
            self.sent.append(Sent(self.now, it))
            self.open[it.child_id] = it.quantity
            if it.style is ChildStyle.CROSS:
                far = self.market.ask if it.side is Side.BUY else self.market.bid
                if it.side.sign * (it.limit_price - far) >= 0:
                    self._fill(it.child_id, it.quantity, far)
                if it.child_id in self.open:
                    del self.open[it.child_id]
                    self.sched.on_child_done(it.child_id, self.now)

    def _fill(self, child_id: str, qty: Decimal, price: Decimal) -> None:
        self.open[child_id] -= qty
        self.market.volume += qty
        self.sched.on_fill(child_id, qty, price, self.now)
        if self.open[child_id] <= 0:
            del self.open[child_id]
            self.sched.on_child_done(child_id, self.now)

    def fill_passive(self, fraction: Decimal = Decimal(1)) -> None:
        for cid, rem in list(self.open.items()):
            intent = next(s.intent for s in self.sent if s.intent.child_id == cid)
            qty = INSTR.floor_lot(rem * fraction) if fraction < 1 else rem
            if qty > 0:
                self._fill(cid, qty, intent.limit_price)

    def start(self):
        self.execute(self.sched.on_start(self.now, self.market.snapshot(self.now)))

    def run_until(self, t_end: float, tick: float = 1.0, market_volume_per_tick: Decimal = ZERO,
                  on_tick=None) -> None:
        while self.now < t_end and not self.sched.is_done:
            self.clock.advance(tick)
            self.market.volume += market_volume_per_tick
            if on_tick:
                on_tick(self)
            if self.passive_fill_rate > 0:
                self.fill_passive(self.passive_fill_rate)
            wake = self.sched.next_wakeup()
            if wake is not None and wake <= self.now:
                self.execute(self.sched.on_timer(self.now, self.market.snapshot(self.now)))

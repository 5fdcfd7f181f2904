"""A price-time priority order book for one market, with Binance-style update ids.

Every change to a price level bumps ``update_id`` (Binance's ``lastUpdateId``) and marks the
level dirty; ``take_diff`` hands the dirty levels with their current aggregate quantity and the
``U``/``u`` range they cover, which is exactly what a depth-diff stream message carries. A
snapshot's ``lastUpdateId`` therefore always falls inside the range of the next diff, which is
the invariant ccxt's book sync relies on.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Iterator, Protocol

from sortedcontainers import SortedDict

BUY = "BUY"
SELL = "SELL"
ZERO = Decimal(0)


class Restable(Protocol):
    order_id: int
    side: str
    price: Decimal | None

    @property
    def remaining(self) -> Decimal: ...


@dataclass(slots=True)
class PriceLevel:
    orders: "OrderedDict[int, Restable]" = field(default_factory=OrderedDict)
    total: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class DepthDiff:
    first_update_id: int          # U
    last_update_id: int           # u
    previous_update_id: int       # pu (futures streams)
    bids: list[tuple[Decimal, Decimal]]
    asks: list[tuple[Decimal, Decimal]]


class OrderBook:
    def __init__(self, market_id: str) -> None:
        self.market_id = market_id
        self.bids: SortedDict = SortedDict()   # price -> PriceLevel, best = last
        self.asks: SortedDict = SortedDict()   # price -> PriceLevel, best = first
        self.update_id = 1
        self._last_published = 1
        self._dirty_bids: dict[Decimal, None] = {}
        self._dirty_asks: dict[Decimal, None] = {}

    # --- mutation -------------------------------------------------------------------------
    def _side(self, side: str) -> tuple[SortedDict, dict]:
        return (self.bids, self._dirty_bids) if side == BUY else (self.asks, self._dirty_asks)

    def add(self, order: Restable) -> None:
        levels, dirty = self._side(order.side)
        level = levels.get(order.price)
        if level is None:
            level = levels[order.price] = PriceLevel()
        level.orders[order.order_id] = order
        level.total += order.remaining
        dirty[order.price] = None
        self.update_id += 1

    def remove(self, order: Restable) -> None:
        """Take a resting order off the book (cancel, or after its last fill)."""
        levels, dirty = self._side(order.side)
        level = levels.get(order.price)
        if level is None or order.order_id not in level.orders:
            return
        del level.orders[order.order_id]
        level.total -= order.remaining
        if not level.orders:
            del levels[order.price]
        dirty[order.price] = None
        self.update_id += 1

    def reduce(self, order: Restable, qty: Decimal) -> None:
        """Account for a partial or full fill of a resting order (call before it changes)."""
        levels, dirty = self._side(order.side)
        level = levels[order.price]
        level.total -= qty
        dirty[order.price] = None
        self.update_id += 1

    def discard_filled(self, order: Restable) -> None:
        levels, _ = self._side(order.side)
        level = levels.get(order.price)
        if level is None:
            return
        level.orders.pop(order.order_id, None)
        if not level.orders:
            del levels[order.price]

    def skip_sequence(self, count: int = 1) -> None:
        """Test hook: burn update ids as if a diff message were lost, forcing a gap in the stream."""
        self.update_id += count
        self._last_published += count

    # --- reading --------------------------------------------------------------------------
    def best_bid(self) -> Decimal | None:
        return self.bids.peekitem(-1)[0] if self.bids else None

    def best_ask(self) -> Decimal | None:
        return self.asks.peekitem(0)[0] if self.asks else None

    def levels_from_best(self, side: str) -> Iterator[tuple[Decimal, PriceLevel]]:
        """Levels a taker of ``side`` would consume, best first (asks for a BUY)."""
        if side == BUY:
            return iter(self.asks.items())
        return (self.bids.peekitem(i) for i in range(len(self.bids) - 1, -1, -1))

    def depth(self, levels: int) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        bids = []
        for i in range(len(self.bids) - 1, max(-1, len(self.bids) - 1 - levels), -1):
            p, lvl = self.bids.peekitem(i)
            bids.append((p, lvl.total))
        asks = []
        for i in range(min(levels, len(self.asks))):
            p, lvl = self.asks.peekitem(i)
            asks.append((p, lvl.total))
        return bids, asks

    def take_diff(self) -> DepthDiff | None:
        if self.update_id == self._last_published:
            return None
        bids = [(p, self._level_total(self.bids, p)) for p in self._dirty_bids]
        asks = [(p, self._level_total(self.asks, p)) for p in self._dirty_asks]
        diff = DepthDiff(self._last_published + 1, self.update_id, self._last_published, bids, asks)
        self._last_published = self.update_id
        self._dirty_bids = {}
        self._dirty_asks = {}
        return diff

    @staticmethod
    def _level_total(levels: SortedDict, price: Decimal) -> Decimal:
        level = levels.get(price)
        return ZERO if level is None else level.total

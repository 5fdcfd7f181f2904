"""One venue's L2 order book for one symbol, and its immutable snapshot.

The live :class:`L2Book` is mutated by the feed (full snapshots from ccxt.pro's synchronised
book); routing and algos only ever see a :class:`BookSnapshot` (tuples, frozen), so a
snapshot taken for a routing decision cannot change under the router's feet.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable

from sortedcontainers import SortedDict

Level = tuple[Decimal, Decimal]  # (price, quantity)


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    venue: str
    symbol: str
    bids: tuple[Level, ...]   # best (highest) first
    asks: tuple[Level, ...]   # best (lowest) first
    updated_at: float         # clock.monotonic() of the last update
    sequence: int             # number of updates applied (changes on every update)

    @property
    def best_bid(self) -> Decimal | None:
        return self.bids[0][0] if self.bids else None

    @property
    def best_ask(self) -> Decimal | None:
        return self.asks[0][0] if self.asks else None

    @property
    def mid(self) -> Decimal | None:
        if not self.bids or not self.asks:
            return None
        return (self.bids[0][0] + self.asks[0][0]) / 2


class L2Book:
    """Price-aggregated levels kept sorted (sortedcontainers); quantity 0 deletes a level."""

    def __init__(self, venue: str, symbol: str):
        self.venue = venue
        self.symbol = symbol
        self._bids: SortedDict = SortedDict()   # price -> qty, iterated in reverse for best-first
        self._asks: SortedDict = SortedDict()
        self.updated_at: float | None = None
        self.sequence = 0

    def replace(self, bids: Iterable[Level], asks: Iterable[Level], now: float) -> None:
        """Install a full picture of the book (a resync, or ccxt's synchronised book)."""
        self._bids = SortedDict((p, q) for p, q in bids if q > 0)
        self._asks = SortedDict((p, q) for p, q in asks if q > 0)
        self._touch(now)

    def apply(self, bids: Iterable[Level], asks: Iterable[Level], now: float) -> None:
        """Apply level deltas: (price, new total quantity); quantity 0 removes the level."""
        for side, levels in ((self._bids, bids), (self._asks, asks)):
            for price, qty in levels:
                if qty > 0:
                    side[price] = qty
                else:
                    side.pop(price, None)
        self._touch(now)

    def clear(self) -> None:
        self._bids.clear()
        self._asks.clear()
        self.updated_at = None

    def _touch(self, now: float) -> None:
        self.updated_at = now
        self.sequence += 1

    @property
    def best_bid(self) -> Level | None:
        return self._bids.peekitem(-1) if self._bids else None

    @property
    def best_ask(self) -> Level | None:
        return self._asks.peekitem(0) if self._asks else None

    @property
    def crossed(self) -> bool:
        bid, ask = self.best_bid, self.best_ask
        return bid is not None and ask is not None and bid[0] >= ask[0]

    def bids(self, depth: int | None = None) -> tuple[Level, ...]:
        keys = self._bids.keys()
        n = len(keys) if depth is None else min(depth, len(keys))
        return tuple((keys[-1 - i], self._bids[keys[-1 - i]]) for i in range(n))

    def asks(self, depth: int | None = None) -> tuple[Level, ...]:
        keys = self._asks.keys()
        n = len(keys) if depth is None else min(depth, len(keys))
        return tuple((keys[i], self._asks[keys[i]]) for i in range(n))

    def snapshot(self, depth: int | None = None) -> BookSnapshot:
        return BookSnapshot(self.venue, self.symbol, self.bids(depth), self.asks(depth),
                            self.updated_at if self.updated_at is not None else float("-inf"),
                            self.sequence)

"""A consolidated view of one symbol across venues, with each venue's fees attached.

It is a plain immutable value built from per-venue snapshots of *fresh* books only (stale
venues are listed in ``stale`` and excluded from everything else), so the router and the
algos can work on it without locks and tests can build one by hand.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from fixgw.domain import Side
from fixgw.marketdata.book import BookSnapshot
from fixgw.venues.base import VenueFees

ONE = Decimal(1)


@dataclass(frozen=True, slots=True)
class VenueQuote:
    """One venue's book with its fees: what the router needs to price a venue."""

    book: BookSnapshot
    fees: VenueFees

    @property
    def venue(self) -> str:
        return self.book.venue


@dataclass(frozen=True, slots=True)
class ConsolidatedLevel:
    all_in_price: Decimal  # taker: price * (1 + taker fee) for asks, price * (1 - taker) for bids
    price: Decimal         # the venue's own price
    quantity: Decimal
    venue: str


def taker_all_in(side: Side, price: Decimal, fees: VenueFees) -> Decimal:
    """What one unit costs a buyer (or yields a seller) taking at ``price`` on that venue."""
    return price * (ONE + fees.taker) if side is Side.BUY else price * (ONE - fees.taker)


def maker_all_in(side: Side, price: Decimal, fees: VenueFees) -> Decimal:
    return price * (ONE + fees.maker) if side is Side.BUY else price * (ONE - fees.maker)


@dataclass(frozen=True, slots=True)
class ConsolidatedBook:
    symbol: str
    venues: tuple[VenueQuote, ...]       # fresh venues only
    stale: tuple[str, ...] = ()          # venues excluded because their book is stale

    def quote(self, venue: str) -> VenueQuote | None:
        for q in self.venues:
            if q.venue == venue:
                return q
        return None

    def best_bid(self) -> Decimal | None:
        bids = [q.book.best_bid for q in self.venues if q.book.bids]
        return max(bids) if bids else None

    def best_ask(self) -> Decimal | None:
        asks = [q.book.best_ask for q in self.venues if q.book.asks]
        return min(asks) if asks else None

    def mid(self) -> Decimal | None:
        """Consolidated mid of raw prices (the arrival price of DESIGN.md)."""
        bid, ask = self.best_bid(), self.best_ask()
        if bid is None or ask is None:
            return None
        return (bid + ask) / 2

    def taker_levels(self, side: Side) -> list[ConsolidatedLevel]:
        """Levels a ``side`` order would take, best all-in price first, across venues.

        For a buy these are the asks ranked by price x (1 + taker fee); for a sell the bids
        ranked by price x (1 - taker fee), highest first. Ties: lower venue name first.
        """
        levels = []
        for q in self.venues:
            book_side = q.book.asks if side is Side.BUY else q.book.bids
            for price, qty in book_side:
                levels.append(ConsolidatedLevel(taker_all_in(side, price, q.fees), price, qty, q.venue))
        if side is Side.BUY:
            levels.sort(key=lambda lv: (lv.all_in_price, lv.venue))
        else:
            levels.sort(key=lambda lv: (-lv.all_in_price, lv.venue))
        return levels

    def best_all_in(self, side: Side) -> Decimal | None:
        levels = self.taker_levels(side)
        return levels[0].all_in_price if levels else None

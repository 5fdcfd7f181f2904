"""Bookkeeping of our child orders at one venue, and once-only event delivery.

Order events can reach the adapter three ways -- the user-data stream, the REST polling
fallback, and the answers of submit/cancel -- possibly more than once and in any order. The
:class:`OrderTracker` makes the consumer see each fill once (keyed by trade id) and each order
state once (an update is delivered only if it advances the last known (state, cumulative
filled)), and never a fill after the update that already counts it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Callable, Iterable

from fixgw.venues.base import (VenueEvent, VenueFill, VenueOrderRequest, VenueOrderState,
                               VenueOrderUpdate)
from fixgw.venues.convert import TERMINAL

ZERO = Decimal(0)
STREAM, POLL = "stream", "poll"


@dataclass
class Tracked:
    """What we know about one of our child orders at this venue."""

    request: VenueOrderRequest
    kind: str
    submitted_ms: int
    venue_order_id: str | None = None
    last: tuple[VenueOrderState, Decimal] | None = None   # last (state, filled) delivered/returned
    fill_qty: Decimal = ZERO                               # sum of fills delivered

    @property
    def done(self) -> bool:
        return self.last is not None and self.last[0] in TERMINAL


@dataclass
class AdapterStats:
    fills_from_stream: int = 0
    fills_from_poll: int = 0
    updates_from_stream: int = 0
    updates_from_poll: int = 0
    polls: int = 0
    stream_downs: int = 0
    submit_retries: int = 0
    duplicates_resolved: int = 0


def advances(last: tuple[VenueOrderState, Decimal], update: VenueOrderUpdate) -> bool:
    if last[0] in TERMINAL:
        return False
    return update.filled > last[1] or update.state is not last[0]


class OrderTracker:
    def __init__(self, venue: str, stats: AdapterStats, logger: logging.Logger):
        self.venue = venue
        self.stats = stats
        self._log = logger
        self.orders: dict[str, Tracked] = {}
        self._cid_by_oid: dict[tuple[str, str], str] = {}
        self._seen_trades: set[str] = set()
        self._callbacks: list[Callable[[VenueEvent], None]] = []

    def subscribe(self, callback: Callable[[VenueEvent], None]) -> None:
        self._callbacks.append(callback)

    # -- orders --------------------------------------------------------------------------
    def get(self, client_order_id: str) -> Tracked | None:
        return self.orders.get(client_order_id)

    def track(self, request: VenueOrderRequest, kind: str, now_ms: int) -> Tracked:
        tracked = self.orders.get(request.client_order_id)
        if tracked is None:
            tracked = self.orders[request.client_order_id] = Tracked(request, kind, now_ms)
        return tracked

    def adopt(self, request: VenueOrderRequest, kind: str, update: VenueOrderUpdate, now_ms: int) -> None:
        """Start following an order this adapter did not submit (a restarted gateway asking
        about its children): its later stream/poll events are delivered like any other."""
        if request.client_order_id in self.orders:
            return
        tracked = self.orders[request.client_order_id] = Tracked(request, kind, now_ms)
        tracked.venue_order_id = update.venue_order_id
        tracked.last = (update.state, update.filled)
        tracked.fill_qty = update.filled   # earlier fills: the caller replays trade history
        self.remember_venue_id(kind, update.venue_order_id, request.client_order_id)

    def forget_unsent(self, client_order_id: str) -> None:
        tracked = self.orders.get(client_order_id)
        if tracked is not None and tracked.last is None:
            del self.orders[client_order_id]

    def live(self, kind: str) -> list[Tracked]:
        return [t for t in self.orders.values() if t.kind == kind and not t.done]

    def remember_venue_id(self, kind: str, venue_order_id: str | None, client_order_id: str) -> None:
        if venue_order_id and client_order_id:
            self._cid_by_oid[(kind, venue_order_id)] = client_order_id

    def client_id_for(self, kind: str, venue_order_id: str | None) -> str | None:
        return self._cid_by_oid.get((kind, venue_order_id)) if venue_order_id else None

    # -- delivery ------------------------------------------------------------------------
    def _emit(self, event: VenueEvent) -> None:
        for cb in self._callbacks:
            try:
                cb(event)
            except Exception:  # a consumer's bug must not kill the stream
                self._log.exception("%s: event consumer failed on %s", self.venue, type(event).__name__)

    def record(self, update: VenueOrderUpdate) -> VenueOrderUpdate:
        """Remember a state a caller was given (submit/cancel), so no path repeats it."""
        tracked = self.orders.get(update.client_order_id)
        if tracked is not None:
            if update.venue_order_id:
                tracked.venue_order_id = update.venue_order_id
            if tracked.last is None or advances(tracked.last, update):
                tracked.last = (update.state, update.filled)
        return update

    def deliver_fill(self, fill: VenueFill, source: str) -> bool:
        if fill.trade_id in self._seen_trades:
            return False
        tracked = self.orders.get(fill.client_order_id)
        if tracked is None:
            return False  # not one of ours (another client of the same account)
        self._seen_trades.add(fill.trade_id)
        tracked.fill_qty += fill.quantity
        if source == STREAM:
            self.stats.fills_from_stream += 1
        else:
            self.stats.fills_from_poll += 1
        self._emit(fill)
        return True

    def deliver_update(self, update: VenueOrderUpdate, source: str,
                       pending_fills: Callable[[], Iterable[VenueFill]]) -> None:
        """Deliver ``update`` if it is news; first any fills it counts that are not delivered
        yet (``pending_fills`` yields candidates, e.g. ccxt's trade cache)."""
        tracked = self.orders.get(update.client_order_id)
        if tracked is None:
            return
        if update.filled > tracked.fill_qty:
            for fill in pending_fills():
                self.deliver_fill(fill, source)
        if tracked.last is not None and not advances(tracked.last, update):
            return
        tracked.last = (update.state, update.filled)
        if update.venue_order_id:
            tracked.venue_order_id = update.venue_order_id
        if source == STREAM:
            self.stats.updates_from_stream += 1
        else:
            self.stats.updates_from_poll += 1
        self._emit(update)

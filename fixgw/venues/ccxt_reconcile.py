"""The REST pass: our live orders' fills and states fetched over REST.

It stands in for the user-data stream while that is down, covers the gap when it comes back,
and catches up after a silent reconnect (see :mod:`fixgw.venues.ccxt_stream`, which decides
when a pass runs). The pass asks for the fills first and the order states second, so that the
tracker delivers an order's fills before the update that reports them.

Its own race: a fill the venue executes between the two requests is counted by the order
answer but missing from the fills answer. An order answer reporting more filled than the fills
delivered therefore first fetches that order's trades (by order id); if the venue's trade
endpoint still lags, the update is held for later passes -- for at most ``fill_lag_hold_s``
(see :meth:`RestReconciler._fills_back`).
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from fixgw.venues.base import VenueOrderUpdate
from fixgw.venues.tracking import POLL, Tracked

if TYPE_CHECKING:
    from fixgw.venues.ccxt_adapter import CcxtVenueAdapter

# how long the REST pass holds back an order update whose fills the venue's trade endpoint
# does not report yet (see RestReconciler._fills_back)
FILL_LAG_HOLD_S = 5.0
_GAVE_UP = float("-inf")   # a held update that went out after FILL_LAG_HOLD_S


class RestReconciler:
    """The REST pass of one adapter. It fetches through the adapter's own (rate-limited)
    calls and delivers through its tracker, so the once-only delivery covers both paths."""

    def __init__(self, adapter: CcxtVenueAdapter):
        self._adapter = adapter
        self._tracker = adapter._tracker
        self._stats = adapter.stats
        self._log = adapter._log
        self._name = adapter.name
        self.fill_lag_hold_s = FILL_LAG_HOLD_S
        # order updates held back because their fills were not reported yet, by client order
        # id -> when first held (monotonic s); see _fills_back
        self._fill_waits: dict[str, float] = {}

    async def reconcile(self, kind: str, why: str) -> None:
        """One REST pass over our live orders: fills first, then states (REST fallback).
        An update whose fills are still missing is held (:meth:`_fills_back`)."""
        adapter = self._adapter
        live = self._tracker.live(kind)
        self._forget_fill_waits(kind, live)
        if not live:
            return
        self._stats.polls += 1
        by_symbol: dict[str, list] = {}
        for t in live:
            by_symbol.setdefault(t.request.symbol, []).append(t)
        for symbol, tracked in by_symbol.items():
            since = min(t.submitted_ms for t in tracked) - 60_000
            for fill in await adapter.fetch_fills(symbol, since):
                self._tracker.deliver_fill(fill, POLL)
            open_ids = {u.client_order_id: u for u in await adapter.fetch_open_orders(symbol)}
            for t in tracked:
                update = open_ids.get(t.request.client_order_id)
                if update is None:
                    update = await adapter.fetch_order(t.request.client_order_id, symbol)
                if update is not None:
                    if await self._fills_back(t, update):
                        self._tracker.deliver_update(update, POLL, tuple)
                elif t.last is None and adapter._now_ms() - t.submitted_ms > 60_000:
                    # a submit that failed in transit and never reached the venue
                    self._tracker.forget_unsent(t.request.client_order_id)

    async def _fills_back(self, tracked: Tracked, update: VenueOrderUpdate) -> bool:
        """May the REST pass deliver ``update`` now? Yes once the delivered fills cover its
        filled quantity. A fill executed between the pass's fills request and its orders
        request is counted here but was not in the fills answer: fetch this order's trades
        (one request, only for such orders) and deliver them first. If the venue's trade
        endpoint still lags, hold the update for the next pass, but only for
        ``fill_lag_hold_s``: then it goes out anyway (logged), so an order's state is never
        hidden for good, and the consumer chases the missing fills itself."""
        cid = update.client_order_id
        if update.filled <= tracked.fill_qty:
            self._fill_waits.pop(cid, None)
            return True
        first_held = self._fill_waits.get(cid)
        if first_held == _GAVE_UP:
            return True   # this order's trades never came: logged once, no more requests
        if update.venue_order_id is not None:
            for fill in await self._adapter._fetch_order_fills(update.symbol, update.venue_order_id):
                self._tracker.deliver_fill(fill, POLL)
        if update.filled <= tracked.fill_qty:
            self._fill_waits.pop(cid, None)
            return True
        now = time.monotonic()
        if first_held is None:
            self._fill_waits[cid] = now
            self._log.info("%s: %s reports %s filled but the venue lists trades for only %s; "
                           "holding the update until they appear", self._name, cid,
                           update.filled, tracked.fill_qty)
            return False
        if now - first_held < self.fill_lag_hold_s:
            return False
        self._fill_waits[cid] = _GAVE_UP
        self._log.warning("%s: %s reports %s filled, but after %.1fs the venue lists no trade "
                          "for more than %s; delivering its %s update without those fills",
                          self._name, cid, update.filled, now - first_held, tracked.fill_qty,
                          update.state.name)
        return True

    def holding(self, kind: str) -> bool:
        """An update is held back (and not given up on): the pass must run again even while
        the stream is up, since the stream may never repeat that order's state."""
        now = time.monotonic()
        for cid, first_held in self._fill_waits.items():
            tracked = self._tracker.get(cid)
            if (tracked is not None and tracked.kind == kind and not tracked.done
                    and now - first_held < self.fill_lag_hold_s):
                return True
        return False

    def _forget_fill_waits(self, kind: str, live: list[Tracked]) -> None:
        live_ids = {t.request.client_order_id for t in live}
        for cid in [c for c in self._fill_waits if c not in live_ids]:
            tracked = self._tracker.get(cid)
            if tracked is None or tracked.kind == kind:
                del self._fill_waits[cid]

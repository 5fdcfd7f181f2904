"""The REST pass (``_reconcile``) keeps the adapter's promise: an order's fills reach the
consumer before the update that counts them.

The pass asks for the fills first and the order states second. A fill the venue executes
between those two requests is missing from the first answer but counted by the second. Here
that window is made deterministic: the adapter's exchange ``fetch_my_trades`` is wrapped so
that, right after the venue answered, the venue fills our resting order -- before the pass
fetches the orders. The user-data stream is down (its URL points at a dead port), so the
REST pass is the only delivery path. Real venue, real ccxt, real sockets throughout.
"""
from __future__ import annotations

import asyncio
import logging
from decimal import Decimal as D

import pytest

from fixgw.venues.base import VenueFill, VenueOrderState, VenueOrderUpdate
from venue_harness import dead_ws_url, limit_buy, of, run, venue_and_adapter, wait_for

CASES = [("BTC/USDT", "BTCUSDT", "spot"), ("BTC/USDT:USDT", "BTCUSDT_PERP", "linear")]


class FillBetweenRequests:
    """Wraps ``exchange.fetch_my_trades``. Once armed, the first call fills the resting order
    at the venue right after the venue answered (so the fill is absent from that answer and
    present in the order requests that follow). While ``hiding`` is set, the trades of the
    order ``hidden_order_id`` are cut from every answer: a venue whose trade endpoint lags
    behind its order endpoint."""

    def __init__(self, venue, exchange, venue_symbol: str, qty: str):
        self.venue, self.venue_symbol, self.qty = venue, venue_symbol, D(qty)
        self.armed = False
        self.fired = 0
        self.calls_after: list[dict] = []   # the params of every call after the fill
        self.hidden_order_id: str | None = None
        self.hiding = False
        self._real = exchange.fetch_my_trades
        exchange.fetch_my_trades = self._fetch

    async def _fetch(self, symbol=None, since=None, limit=None, params=None):
        trades = await self._real(symbol, since, limit, params or {})
        if self.fired:
            self.calls_after.append(dict(params or {}))
        if self.hiding:
            trades = [t for t in trades if str(t.get("order")) != self.hidden_order_id]
        if self.armed and not self.fired:
            self.fired += 1
            self.venue.exchange.place_house_order("house-x", self.venue_symbol, "SELL", "MARKET", self.qty)
        return trades


async def resting_order_with_stream_down(symbol, venue_symbol, kind, cid, hold_s=None):
    venue, adapter, events = await venue_and_adapter(ws_url=dead_ws_url())
    if hold_s is not None:
        adapter.fill_lag_hold_s = hold_s
    race = FillBetweenRequests(venue, adapter.exchange_for(symbol), venue_symbol, "0.2")
    await asyncio.sleep(0.3)
    assert not adapter.stream_up(kind), "stream must be down: the REST pass is under test"
    u = await adapter.submit(limit_buy(cid, symbol, "0.2", "60000"))
    assert u.state is VenueOrderState.OPEN
    return venue, adapter, events, race, u


def filled_seen(events, cid):
    return any(x.state is VenueOrderState.FILLED for x in of(events, cid, VenueOrderUpdate))


def assert_fill_then_filled_once(events, cid):
    seq = [e for e in events if e.client_order_id == cid]
    fills = [e for e in seq if isinstance(e, VenueFill)]
    updates = [e for e in seq if isinstance(e, VenueOrderUpdate)]
    assert [f.quantity for f in fills] == [D("0.2")], seq
    assert [x.state for x in updates] == [VenueOrderState.FILLED], seq
    assert seq.index(fills[0]) < seq.index(updates[0]), \
        f"the FILLED update reached the consumer before its fill: {seq}"


@pytest.mark.parametrize("symbol,venue_symbol,kind", CASES)
def test_fill_between_the_fills_and_orders_requests_comes_first(symbol, venue_symbol, kind):
    async def main():
        cid = f"race-{kind}"
        venue, adapter, events, race, _ = await resting_order_with_stream_down(
            symbol, venue_symbol, kind, cid)
        try:
            race.armed = True
            assert await wait_for(lambda: filled_seen(events, cid), 5), "FILLED never delivered"
            assert race.fired == 1, "the fill did not land between the two requests"
            assert_fill_then_filled_once(events, cid)
            # the pass that saw the race fetched that order's trades, once, by order id
            assert [p for p in race.calls_after if "orderId" in p] == [
                {"orderId": of(events, cid, VenueOrderUpdate)[0].venue_order_id}]
            await asyncio.sleep(0.4)   # several more passes: nothing repeated
            assert_fill_then_filled_once(events, cid)
            assert adapter.stats.fills_from_poll == 1 and adapter.stats.fills_from_stream == 0
        finally:
            await adapter.close()
            await venue.stop()
    run(main())


def test_update_is_held_while_the_trade_endpoint_lags():
    async def main():
        cid = "race-lag"
        venue, adapter, events, race, u = await resting_order_with_stream_down(
            "BTC/USDT", "BTCUSDT", "spot", cid)
        try:
            race.hidden_order_id, race.hiding = u.venue_order_id, True
            race.armed = True
            polls = adapter.stats.polls
            # several passes see FILLED at the order endpoint but no trade for it
            assert await wait_for(lambda: adapter.stats.polls >= polls + 4, 5)
            assert of(events, cid, VenueOrderUpdate) == [] and of(events, cid, VenueFill) == []
            race.hiding = False   # the trade endpoint catches up
            assert await wait_for(lambda: filled_seen(events, cid), 5), "held FILLED never delivered"
            assert_fill_then_filled_once(events, cid)
        finally:
            await adapter.close()
            await venue.stop()
    run(main())


def test_a_trade_endpoint_that_never_catches_up_holds_only_for_a_while(caplog):
    caplog.set_level(logging.WARNING, logger="fixgw.venues")
    hold_s = 0.5

    async def main():
        cid = "race-never"
        venue, adapter, events, race, u = await resting_order_with_stream_down(
            "BTC/USDT", "BTCUSDT", "spot", cid, hold_s=hold_s)
        try:
            race.hidden_order_id, race.hiding = u.venue_order_id, True
            race.armed = True
            loop = asyncio.get_running_loop()
            assert await wait_for(lambda: race.fired, 5)
            fired_at = loop.time()
            assert await wait_for(lambda: filled_seen(events, cid), 5), "update held forever"
            assert loop.time() - fired_at >= hold_s
            assert of(events, cid, VenueFill) == []   # the venue never reported it
            per_order = len([p for p in race.calls_after if "orderId" in p])
            await asyncio.sleep(0.4)   # the order is done: no more REST for it
            assert len([p for p in race.calls_after if "orderId" in p]) == per_order
        finally:
            await adapter.close()
            await venue.stop()
    run(main())
    assert any("no trade" in r.getMessage() and "race-never" in r.getMessage() for r in caplog.records)

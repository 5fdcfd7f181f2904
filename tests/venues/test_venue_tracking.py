"""Once-only delivery of venue events, and ccxt structure conversion (pure)."""
from __future__ import annotations

import logging
from decimal import Decimal as D

from fixgw.domain import OrdType, Side
from fixgw.venues.base import VenueFill, VenueOrderRequest, VenueOrderState, VenueOrderUpdate
from fixgw.venues.convert import order_client_id, order_update, trade_fill
from fixgw.venues.tracking import POLL, STREAM, AdapterStats, OrderTracker

S = VenueOrderState


def _tracker():
    events = []
    t = OrderTracker("v", AdapterStats(), logging.getLogger("test"))
    t.subscribe(events.append)
    t.track(VenueOrderRequest("c1", "BTC/USDT", Side.BUY, OrdType.LIMIT, D("1"), D("100")), "spot", 0)
    return t, events


def upd(state, filled, cid="c1"):
    return VenueOrderUpdate("v", cid, "9", "BTC/USDT", state, D(filled), D(1) - D(filled), None, 0)


def fill(tid, qty, cid="c1"):
    return VenueFill("v", cid, "9", f"BTC/USDT#{tid}", "BTC/USDT", Side.BUY, D("100"), D(qty), D(0), None, 0)


def test_fills_once_and_before_the_update_that_counts_them():
    t, events = _tracker()
    pending = [fill(1, "0.4"), fill(2, "0.6")]
    t.deliver_update(upd(S.FILLED, "1"), STREAM, lambda: pending)
    t.deliver_fill(fill(1, "0.4"), POLL)
    t.deliver_fill(fill(2, "0.6"), STREAM)
    t.deliver_update(upd(S.FILLED, "1"), POLL, tuple)
    assert [type(e).__name__ for e in events] == ["VenueFill", "VenueFill", "VenueOrderUpdate"]
    assert t.stats.fills_from_stream == 2 and t.stats.fills_from_poll == 0


def test_updates_never_regress_or_repeat_and_returned_states_are_not_repeated():
    t, events = _tracker()
    t.record(upd(S.OPEN, "0"))                      # what submit() returned
    t.deliver_update(upd(S.OPEN, "0"), STREAM, tuple)
    t.deliver_update(upd(S.OPEN, "0.5"), STREAM, tuple)
    t.deliver_update(upd(S.OPEN, "0.5"), POLL, tuple)
    t.deliver_update(upd(S.CANCELED, "0.5"), STREAM, tuple)
    t.deliver_update(upd(S.OPEN, "0.5"), POLL, tuple)  # stale poll answer after the cancel
    assert [(e.state, e.filled) for e in events] == [(S.OPEN, D("0.5")), (S.CANCELED, D("0.5"))]
    assert t.live("spot") == []


def test_foreign_orders_are_ignored_and_unsent_are_forgotten():
    t, events = _tracker()
    t.deliver_fill(fill(7, "1", cid="someone-else"), STREAM)
    t.deliver_update(upd(S.FILLED, "1", cid="someone-else"), STREAM, tuple)
    assert events == []
    t.forget_unsent("c1")
    assert t.get("c1") is None


def test_convert_cancel_reports_our_original_id_and_exact_average():
    rest_cancel = {"id": "5", "symbol": "BTC/USDT", "status": "canceled", "filled": "0.3", "amount": "1",
                   "remaining": "0.7", "cost": "18000.3", "clientOrderId": "cancel-id",
                   "info": {"origClientOrderId": "ours", "clientOrderId": "cancel-id"}}
    assert order_client_id(rest_cancel) == "ours"
    u = order_update("v", rest_cancel, order_client_id(rest_cancel), 1)
    assert (u.state, u.filled, u.remaining, u.avg_price) == (S.CANCELED, D("0.3"), D(0), D("60001"))
    stream_cancel = {"clientOrderId": "cancel-id", "info": {"c": "cancel-id", "C": "ours"}}
    assert order_client_id(stream_cancel) == "ours"
    expired = order_update("v", {"id": 1, "status": "expired", "filled": "0", "amount": "1"}, "x", 1)
    assert expired.state is S.CANCELED and expired.reason == "expired" and expired.avg_price is None


def test_convert_trade():
    f = trade_fill("v", {"id": 42, "order": 5, "symbol": "BTC/USDT:USDT", "side": "sell", "price": "60000.5",
                         "amount": "0.010", "fee": {"cost": "0.3", "currency": "USDT"}, "takerOrMaker": "maker",
                         "timestamp": 7, "info": {"c": "ours"}}, None, 0)
    assert (f.client_order_id, f.trade_id, f.side, f.price, f.quantity, f.fee, f.is_maker) == (
        "ours", "BTC/USDT:USDT#42", Side.SELL, D("60000.5"), D("0.010"), D("0.3"), True)

"""Retention over the real FIX path: a gateway (session layer, OMS, ccxt, simulated venues on
loopback) keeping finished orders 0.3 s; a FIX client then asks about orders the OMS has
forgotten and gets the answers it got while they were in memory."""
from __future__ import annotations

import time
from decimal import Decimal

import pytest

from fixgw.domain import ExecType, OrdStatus, Side, TimeInForce
from fixgw.oms.client import OrderClient
from fixgw.oms.embedded import GatewayThread, gateway_document

D = Decimal


@pytest.fixture(scope="module")
def gw(tmp_path_factory):
    doc = gateway_document(state_dir=tmp_path_factory.mktemp("retention"), overrides={
        "admin_socket": False,
        "oms": {"retain_terminal_orders_s": 0.3, "retention_sweep_s": 0.1},
        "risk": {"default": {"max_order_qty": 200, "max_notional": 50_000_000,
                             "price_collar_bps": 1000, "check_venue_balance": False}},
    })
    with GatewayThread(doc) as g:
        yield g


def in_memory(gw, order_id):
    return gw.call(lambda: order_id in gw.service.manager.orders)


def wait_forgotten(gw, order_id, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not in_memory(gw, order_id):
            return True
        time.sleep(0.05)
    return False


def test_forgotten_filled_order_is_answered_over_fix(gw):
    cl = f"RET{int(time.time() * 1000) % 10**8}"
    with OrderClient(gw.host, gw.port) as client:
        client.new_order(cl, "BTC/USDT", Side.BUY, "1")
        final = client.wait_done(cl, timeout=20)
        assert final is not None and final.ord_status is OrdStatus.FILLED
        assert wait_forgotten(gw, final.order_id)
        manager = gw.service.manager
        assert gw.call(lambda: all(c.order_id != final.order_id
                                   for c in manager.children.values()))
        assert gw.call(lambda: manager.forgotten_orders) >= 1

        client.status(cl, "BTC/USDT", Side.BUY, req_id="S1")
        st = client.wait_report(cl, lambda r: r.exec_type is ExecType.ORDER_STATUS)
        assert st is not None and st.ord_status_req_id == "S1"
        assert (st.order_id, st.ord_status, st.cum_qty, st.avg_px, st.leaves_qty) == \
            (final.order_id, OrdStatus.FILLED, final.cum_qty, final.avg_px, D(0))

        client.cancel(cl + "-X", cl, "BTC/USDT", Side.BUY)
        ocr = client.wait_type("9", cl + "-X")
        assert ocr is not None and ocr.get(102) == "0" and ocr.get(434) == "1"
        assert ocr.get(39) == "2" and ocr.get(37) == final.order_id

        client.new_order(cl, "BTC/USDT", Side.BUY, "1")
        dup = client.wait_report(cl, lambda r: r.exec_type is ExecType.REJECTED)
        assert dup is not None and dup.ord_rej_reason == 6 and "duplicate" in dup.text
        assert not in_memory(gw, final.order_id)      # answering did not bring it back


def test_mass_cancel_sees_only_working_orders(gw):
    stamp = int(time.time() * 1000) % 10**8
    done, rest = f"RD{stamp}", f"RR{stamp}"
    with OrderClient(gw.host, gw.port) as client:
        client.new_order(done, "BTC/USDT", Side.BUY, "0.5")
        final = client.wait_done(done, timeout=20)
        assert final is not None and final.ord_status is OrdStatus.FILLED
        assert wait_forgotten(gw, final.order_id)
        bid = gw.call(lambda: gw.service.market.book("BTC/USDT").quote("simC").book.best_bid)
        client.new_order(rest, "BTC/USDT", Side.BUY, "0.1", price=bid - 40,
                         tif=TimeInForce.GTC, params={"IncludeVenues": "simC"})
        assert client.wait_report(rest, lambda r: r.exec_type is ExecType.NEW) is not None
        client.mass_cancel(f"MC{stamp}", "BTC/USDT")
        report = client.wait_type("r", f"MC{stamp}")
        assert report is not None and report.get(533) == "1" and report.get(41) == rest
        assert client.wait_done(rest).ord_status is OrdStatus.CANCELED

"""Cancel-on-disconnect, a per-session option, over real sockets: when a session that has it
drops (no Logout), its open orders are canceled at the venue and the Canceled reports wait in
the store for its return; a session without the option keeps its orders working.
"""
from __future__ import annotations

import time
from decimal import Decimal

import pytest

from fixgw.domain import ExecType, OrdStatus, Side, TimeInForce
from fixgw.oms.client import OrderClient
from fixgw.oms.embedded import GatewayThread, gateway_document

D = Decimal


@pytest.mark.timeout(120)
def test_cancel_on_disconnect_is_per_session(tmp_path):
    doc = gateway_document(state_dir=tmp_path / "var", overrides={"admin_socket": False})
    doc["sessions"] = [
        {"target_comp_id": "OMS", "role": "order-entry", "cancel_on_disconnect": True},
        {"target_comp_id": "OMS2", "role": "order-entry", "cancel_on_disconnect": False},
    ]
    with GatewayThread(doc) as gw:
        price = (gw.call(lambda: gw.service.market.book("BTC/USDT")).best_bid()
                 * D("0.99")).quantize(D("0.1"))

        def open_ids():
            updates = gw.call(lambda: gw.service.adapters["simB"].fetch_open_orders("BTC/USDT"))
            return {u.client_order_id for u in updates}

        guarded = OrderClient(gw.host, gw.port, sender="OMS", reset_on_logon=False)
        plain = OrderClient(gw.host, gw.port, sender="OMS2", reset_on_logon=False)
        for client, cl in ((guarded, "COD-1"), (plain, "KEEP-1")):
            client.logon()
            client.new_order(cl, "BTC/USDT", Side.BUY, "0.01", price=price, tif=TimeInForce.GTC,
                             params={"IncludeVenues": "simB"})
            assert client.wait_report(cl, lambda r: r.exec_type is ExecType.NEW) is not None
        assert len(open_ids()) == 2

        guarded.fix.close()                       # the connection drops: no Logout
        plain.fix.close()
        deadline = time.monotonic() + 15
        while len(open_ids()) != 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(open_ids()) == 1               # one canceled at the venue, one still working

        guarded.fix.logon()                       # back: the stored reports are resent
        canceled = guarded.wait_report("COD-1", lambda r: r.ord_status is OrdStatus.CANCELED)
        assert canceled is not None and "cancel on disconnect" in (canceled.text or "")
        plain.fix.logon()
        plain.status("KEEP-1", "BTC/USDT", Side.BUY)
        status = plain.wait_report("KEEP-1", lambda r: r.exec_type is ExecType.ORDER_STATUS)
        assert status is not None and status.ord_status is OrdStatus.NEW
        plain.cancel("KEEP-1-X", "KEEP-1", "BTC/USDT", Side.BUY)
        assert plain.wait_done("KEEP-1-X").ord_status is OrdStatus.CANCELED
        guarded.logout()
        plain.logout()

"""`fixgw kill` against a running gateway: resting orders at three simulated venues are all
canceled (the venues confirm it over their REST API), the command prints what it canceled,
new orders are rejected with a Text naming the kill switch until `fixgw kill --release`.
"""
from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

import pytest

from fixgw.domain import ExecType, OrdStatus, Side, TimeInForce
from fixgw.oms.client import OrderClient
from fixgw.oms.embedded import GatewayThread, gateway_document

D = Decimal
VENUES = ("simA", "simB", "simC")


def fixgw_kill(state_dir, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fixgw", "kill", "--state-dir", str(state_dir),
                           *args], capture_output=True, text=True, timeout=60)


@pytest.mark.timeout(120)
def test_fixgw_kill_cancels_across_three_venues_and_blocks_until_released(tmp_path):
    state = tmp_path / "var"
    doc = gateway_document(state_dir=state, overrides={
        "admin_socket": True,
        "risk": {"default": {"max_order_qty": 10, "price_collar_bps": 1000}}})
    with GatewayThread(doc) as gw, OrderClient(gw.host, gw.port) as oms:
        book = gw.call(lambda: gw.service.market.book("BTC/USDT"))
        price = (book.best_bid() * D("0.99")).quantize(D("0.1"))   # rests, never fills
        resting = []
        for venue in VENUES:
            cl = f"KILL-{venue}"
            oms.new_order(cl, "BTC/USDT", Side.BUY, "0.01", price=price, tif=TimeInForce.GTC,
                          params={"IncludeVenues": venue})
            ack = oms.wait_report(cl, lambda r: r.exec_type in (ExecType.NEW, ExecType.REJECTED))
            assert ack is not None and ack.exec_type is ExecType.NEW, ack
            resting.append(cl)

        def open_at(venue):
            return gw.call(lambda: gw.service.adapters[venue].fetch_open_orders("BTC/USDT"))
        assert all(open_at(v) for v in VENUES)

        killed = fixgw_kill(state, "--reason", "e2e halt")
        assert killed.returncode == 0, killed.stderr
        out = killed.stdout
        assert "kill switch ENGAGED" in out and "cancelled 3 venue order(s):" in out
        for venue in VENUES:
            assert f"  {venue}: " in out
        assert "canceled 3 client order(s): " in out and all(cl in out for cl in resting)

        for cl in resting:
            done = oms.wait_report(cl, lambda r: r.ord_status is OrdStatus.CANCELED) or \
                oms.wait(lambda x: x.msg_type == "8" and x.get(41) == cl and x.get(39) == "4")
            assert done is not None, f"{cl} not reported canceled"
        assert not any(open_at(v) for v in VENUES)              # the venues agree

        status = fixgw_kill(state, "--status")
        assert status.stdout.startswith("kill switch ENGAGED since") and "(e2e halt)" in status.stdout
        oms.new_order("KILL-BLOCKED", "BTC/USDT", Side.BUY, "0.01")
        blocked = oms.wait_done("KILL-BLOCKED")
        assert blocked.ord_status is OrdStatus.REJECTED
        assert "kill switch engaged" in blocked.text and "e2e halt" in blocked.text

        released = fixgw_kill(state, "--release")
        assert released.returncode == 0 and "released" in released.stdout
        oms.new_order("KILL-AFTER", "BTC/USDT", Side.BUY, "0.01")
        assert oms.wait_done("KILL-AFTER").ord_status is OrdStatus.FILLED
    assert not (state / "admin.sock").exists()


@pytest.mark.timeout(120)
def test_an_engaged_kill_switch_survives_a_gateway_restart(tmp_path):
    """A restart must not silently release the kill switch: new orders stay blocked."""
    state = tmp_path / "var"
    doc = gateway_document(state_dir=state, overrides={"admin_socket": True})
    with GatewayThread(doc):
        killed = fixgw_kill(state, "--reason", "halt before restart")
        assert killed.returncode == 0, killed.stderr
    with GatewayThread(doc) as gw, OrderClient(gw.host, gw.port) as oms:
        oms.new_order("AFTER-RESTART", "BTC/USDT", Side.BUY, "0.01")
        blocked = oms.wait_done("AFTER-RESTART")
        assert blocked.ord_status is OrdStatus.REJECTED
        assert "kill switch engaged" in blocked.text and "halt before restart" in blocked.text
        assert fixgw_kill(state, "--release").returncode == 0
        oms.new_order("AFTER-RELEASE", "BTC/USDT", Side.BUY, "0.01")
        assert oms.wait_done("AFTER-RELEASE").ord_status is OrdStatus.FILLED

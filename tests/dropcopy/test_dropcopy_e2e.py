"""Drop copy over real sockets: FIX client -> fixgw -> simulated venues, with three drop-copy
sessions (levels ALL, FILLS, ORDERS) receiving copies in upstream order; a drop-copy client
that was down catches up completely with a ResendRequest; an order sent on a drop-copy session
is refused; scripts/dropcopy_listener.py prints the copies.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from fixgw.client import ClientConfig, FixClient
from fixgw.domain import Side, TimeInForce
from fixgw.oms.client import OrderClient
from fixgw.oms.embedded import GatewayThread, gateway_document

REPO = Path(__file__).resolve().parents[2]
ADMIN = {"0", "1", "2", "3", "4", "5", "A"}
FILL_EXEC_TYPES = {"F", "G", "H"}


class CopyClient:
    """A drop-copy counterparty: keeps every application message once (by MsgSeqNum)."""

    def __init__(self, port: int, sender: str):
        self.fix = FixClient(ClientConfig(host="127.0.0.1", port=port, sender=sender,
                                          target="FIXGW"))
        self.by_seq: dict[int, object] = {}
        self.possdup: set[int] = set()

    def pump(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while self.fix.sock is not None and time.monotonic() < deadline:
            msg = self.fix.receive(min(0.2, max(0.01, deadline - time.monotonic())))
            if msg is not None and msg.msg_type not in ADMIN:
                seq = int(msg.get(34))
                self.by_seq.setdefault(seq, msg)
                if msg.get(43) == "Y":
                    self.possdup.add(seq)

    def wait_count(self, n: int, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.by_seq) < n and time.monotonic() < deadline:
            self.pump(0.2)

    def copies(self) -> list:
        return [self.by_seq[s] for s in sorted(self.by_seq)]


def key(msg) -> tuple:
    """What identifies one upstream message: its ExecID (35=8) or ClOrdID/OrigClOrdID (35=9)."""
    if msg.msg_type == "8":
        return ("8", msg.get(17))
    return (msg.msg_type, msg.get(11), msg.get(41), msg.get(39))


@pytest.fixture(scope="module")
def gw(tmp_path_factory):
    doc = gateway_document(state_dir=tmp_path_factory.mktemp("dropcopy"), overrides={
        "admin_socket": False,
        "risk": {"default": {"max_order_qty": 10, "price_collar_bps": 1000,
                             "check_venue_balance": False}}})
    doc["sessions"] = [s for s in doc["sessions"] if s.get("role") != "drop-copy"] + [
        {"target_comp_id": "DROPCOPY", "role": "drop-copy", "level": "ALL"},
        {"target_comp_id": "DCFILLS", "role": "drop-copy", "level": "FILLS"},
        {"target_comp_id": "DCORDERS", "role": "drop-copy", "level": "ORDERS",
         "scope": {"sessions": ["OMS"]}},
        {"target_comp_id": "DCLISTEN", "role": "drop-copy", "level": "ALL"},
    ]
    with GatewayThread(doc) as g:
        yield g


def trade_a_little(gw, oms: OrderClient, tag: str) -> list[str]:
    """A fill, a risk reject, an ack + cancel, a cancel reject: every kind of upstream message."""
    ids = [f"{tag}-MKT", f"{tag}-BIG", f"{tag}-REST"]
    oms.new_order(ids[0], "ETH/USDT", Side.BUY, "0.5")
    oms.wait_done(ids[0])
    oms.new_order(ids[1], "ETH/USDT", Side.BUY, "500")              # risk: max order qty
    oms.wait_done(ids[1])
    bid = gw.call(lambda: gw.service.market.book("ETH/USDT")).best_bid()
    oms.new_order(ids[2], "ETH/USDT", Side.BUY, "0.2", price=bid - 20, tif=TimeInForce.GTC)
    oms.wait_report(ids[2], lambda r: r.exec_type.value == "0")
    oms.cancel(f"{ids[2]}-X", ids[2], "ETH/USDT", Side.BUY)
    oms.wait_done(f"{ids[2]}-X")
    oms.cancel(f"{tag}-NOPE-X", f"{tag}-NOPE", "ETH/USDT", Side.BUY)  # unknown: 35=9
    oms.wait_type("9", f"{tag}-NOPE-X")
    return ids


def upstream(oms: OrderClient) -> list:
    return [x for x in oms.inbox.messages if x.msg_type in ("8", "9")]


def test_levels_in_order_and_catch_up_after_an_outage(gw):
    every = CopyClient(gw.port, "DROPCOPY")
    fills = CopyClient(gw.port, "DCFILLS")
    orders = CopyClient(gw.port, "DCORDERS")
    for c in (every, fills, orders):
        c.fix.logon()
    with OrderClient(gw.host, gw.port) as oms:
        trade_a_little(gw, oms, "DC1")
        live = len(upstream(oms))
        every.wait_count(live)
        before_outage = set(every.by_seq)

        every.fix.logout()                                     # compliance client goes down
        trade_a_little(gw, oms, "DC2")
        total = upstream(oms)
        every.fix.logon()                                      # gap -> ResendRequest
        every.wait_count(len(total))
        fills.wait_count(sum(1 for x in total if x.get(150) in FILL_EXEC_TYPES))
        orders.wait_count(sum(1 for x in total if x.get(150) not in FILL_EXEC_TYPES))
        time.sleep(0.5)
        for c in (every, fills, orders):
            c.pump(0.3)

    kinds = {x.get(150) for x in total if x.msg_type == "8"} | {x.msg_type for x in total}
    assert {"0", "4", "8", "F", "9"} <= kinds                  # acks, cancels, rejects, fills, 35=9
    assert [key(x) for x in every.copies()] == [key(x) for x in total]
    assert [key(x) for x in fills.copies()] == \
        [key(x) for x in total if x.get(150) in FILL_EXEC_TYPES]
    assert [key(x) for x in orders.copies()] == \
        [key(x) for x in total if x.get(150) not in FILL_EXEC_TYPES]
    for c in (every, fills, orders):
        assert all(x.get(797) == "Y" for x in c.copies())
    # what was sent during the outage came back as PossDup resends, and nothing else did
    assert len(before_outage) == live
    assert every.possdup and every.possdup == set(every.by_seq) - before_outage
    for c in (every, fills, orders):
        c.fix.logout()


def test_an_order_on_a_drop_copy_session_is_refused(gw):
    with OrderClient(gw.host, gw.port, sender="DCFILLS", reset_on_logon=True) as dc, \
            OrderClient(gw.host, gw.port) as oms:
        dc.new_order("DC-TRY-1", "ETH/USDT", Side.BUY, "0.1")
        bmr = dc.wait_type("j")
        assert bmr is not None and bmr.get(380) == "6" and bmr.get(372) == "D"
        assert bmr.get(379) == "DC-TRY-1"
        assert "receive-only" in bmr.get(58) and "can never trade" in bmr.get(58)
        dc.cancel("DC-TRY-2", "DC-TRY-1", "ETH/USDT", Side.BUY)
        assert dc.wait(lambda x: x.msg_type == "j" and x.get(372) == "F") is not None
        oms.pump(0.5)
        assert not [x for x in oms.inbox.messages if x.get(11) == "DC-TRY-1"]
        assert not [x for x in dc.inbox.messages if x.msg_type == "8"]


def test_dropcopy_listener_script_catches_up_and_prints_each_copy_once(gw, tmp_path):
    with OrderClient(gw.host, gw.port) as oms:
        ids = trade_a_little(gw, oms, "LST")
        mine = [key(x) for x in upstream(oms)]
    # a listener that was never logged on: everything stored for DCLISTEN is missed history
    out = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "dropcopy_listener.py"), "--port", str(gw.port),
         "--sender", "DCLISTEN", "--seq-file", str(tmp_path / "dc.json"), "--duration", "4"],
        capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) >= len(mine)
    assert all("(resent)" in line for line in lines)          # all of it was history
    fills = [line for line in lines if " ER FILL " in line and f"clordid={ids[0]}" in line]
    assert fills and all("last " in line and " on sim" in line for line in fills)
    assert any("ER REJECTED" in line and f"clordid={ids[1]}" in line and "max order quantity" in line
               for line in lines)
    assert any("CANCEL-REJECT" in line and "LST-NOPE-X" in line for line in lines)
    assert all("797=Y" not in line for line in lines)          # every copy was marked
    seqs = [int(line.split()[0][1:]) for line in lines]
    assert seqs == sorted(set(seqs))                            # in order, each once

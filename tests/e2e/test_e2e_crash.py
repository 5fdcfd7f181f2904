"""Crash recovery: SIGKILL the gateway at points of an order's life, restart it, and check the
OMS ends with exactly the fills the venues made -- none lost, none doubled.

The gateway is a real `fixgw run` process; the simulated venues run detached (as `fixgw run`
starts them), so they keep trading while the gateway is dead, exactly like a real exchange.
The crash points are hooks in the order manager (FIXGW_CRASH_AT) that SIGKILL the process:
after the NewOrderSingle is journaled (nothing sent to a venue yet), right after a child was
accepted by a venue (not yet recorded as acknowledged), when a venue fill has arrived but
is not journaled and no ExecutionReport went out, and when the fill is journaled but its
ExecutionReport has not reached the session store (recovery must send it: fixgw/oms/unsent.py).
The OMS side is checked across both connections: every fill exactly once.
"""
from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from fixgw.domain import ExecType, OrdStatus, Side
from fixgw.oms.client import OrderClient
from fixgw.oms.journal import Journal

REPO = Path(__file__).resolve().parents[2]


def write_config(state: Path) -> Path:
    doc = yaml.safe_load((REPO / "sessions" / "default.yaml").read_text())
    doc["state_dir"] = str(state)
    doc["listen"]["port"] = 0
    doc["session_defaults"]["dictionary"] = [str(REPO / "dictionaries" / "FIX44.xml"),
                                             str(REPO / "dictionaries" / "FIX44-fixgw.xml")]
    doc["simulator"] = {"config": str(REPO / "sessions" / "venues.yaml"), "mode": "detached"}
    path = state / "gateway.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


class GatewayProcess:
    def __init__(self, config: Path, crash_at: str | None = None):
        env = dict(os.environ)
        env.pop("FIXGW_CRASH_AT", None)
        if crash_at:
            env["FIXGW_CRASH_AT"] = crash_at
        self.proc = subprocess.Popen([sys.executable, "-m", "fixgw", "run", str(config)],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                                     cwd=str(config.parent), text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.port = self._wait_port()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)

    def _wait_port(self, timeout: float = 60.0) -> int:
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            seen.append(line)
            if "listening on" in line:
                return int(line.split("listening on ")[1].split()[0].rsplit(":", 1)[1])
        raise RuntimeError("gateway did not start: " + "".join(seen[-10:]))

    def wait_killed(self, timeout: float = 20.0) -> int:
        return self.proc.wait(timeout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture()
def state(tmp_path):
    yield tmp_path
    from fixgw.sim.launcher import stop_venues
    stop_venues(tmp_path)


@pytest.mark.parametrize("crash_at", ["after_order_journaled", "after_child_sent",
                                      "before_fill_journaled", "after_fill_journaled"])
def test_crash_and_restart_loses_and_doubles_nothing(state, crash_at):
    config = write_config(state)
    seq = state / "client.seq.json"
    gw = GatewayProcess(config, crash_at)
    try:
        c = OrderClient("127.0.0.1", gw.port, reset_on_logon=False, seq_file=seq)
        c.logon()
        c.new_order("CRASH-1", "BTC/USDT", Side.BUY, "2")
        assert gw.wait_killed() == -signal.SIGKILL
        c.fix.close()                       # the peer is gone; keep our sequence numbers
        before = c.reports("CRASH-1")       # what the OMS saw before the crash
    finally:
        gw.stop()
    gw = GatewayProcess(config)             # restart: reuses the running venues
    try:
        c = OrderClient("127.0.0.1", gw.port, reset_on_logon=False, seq_file=seq)
        c.logon()
        final = c.wait_done("CRASH-1", timeout=30)
        assert final is not None and final.ord_status is OrdStatus.FILLED, c.reports("CRASH-1")
        seen = [r for r in before + c.reports("CRASH-1") if r.exec_type is ExecType.TRADE]
        trades = {r.exec_id: r for r in seen}
        assert len(trades) == len(seen), "a fill reported twice"
        assert sum((t.last_qty for t in trades.values()), Decimal(0)) == Decimal(2)
        assert final.cum_qty == Decimal(2)
        c.logout()
    finally:
        gw.stop()
    journal = Journal(state / "fixgw.db", readonly=True)
    (order,) = [o for o in journal.orders() if o.cl_ord_id == "CRASH-1"]
    fills = journal.fills(order.order_id)
    assert sum((f.quantity for f in fills), Decimal(0)) == Decimal(2) == order.cum_qty
    assert len({(f.venue, f.trade_id) for f in fills}) == len(fills)
    # every fill the venues made reached the OMS exactly once, under its journaled ExecID
    assert {f.exec_id for f in fills} == set(trades)
    assert all(trades[f.exec_id].last_qty == f.quantity and trades[f.exec_id].last_px == f.price
               for f in fills)
    notional = sum((f.price * f.quantity for f in fills), Decimal(0))
    assert abs(final.avg_px - notional / 2) <= Decimal("1e-9")
    children = journal.children(order.order_id)
    assert len({c.client_order_id for c in children}) == len(children)


def test_algo_parent_resumes_after_a_crash(state):
    """A TWAP parent whose gateway dies right after its first child reached a venue keeps
    working after the restart (not canceled) and ends Filled with exactly the venues' fills."""
    from fixgw.domain import Strategy, TimeInForce
    config = write_config(state)
    seq = state / "client.seq.json"
    gw = GatewayProcess(config, "after_child_sent")
    try:
        c = OrderClient("127.0.0.1", gw.port, reset_on_logon=False, seq_file=seq)
        c.logon()
        now = time.time()
        c.new_order("ALGO-1", "BTC/USDT", Side.BUY, "0.3", price=Decimal("61000"),
                    tif=TimeInForce.GTD, strategy=Strategy.TWAP, effective_time=now,
                    expire_time=now + 25)
        assert gw.wait_killed() == -signal.SIGKILL
        c.fix.close()
        before = c.reports("ALGO-1")
    finally:
        gw.stop()
    gw = GatewayProcess(config)
    try:
        c = OrderClient("127.0.0.1", gw.port, reset_on_logon=False, seq_file=seq)
        c.logon()
        final = c.wait_done("ALGO-1", timeout=45)
        reports = before + c.reports("ALGO-1")
        assert final is not None and final.ord_status is OrdStatus.FILLED, reports
        assert not [r for r in reports if r.exec_type in (ExecType.CANCELED,
                                                          ExecType.PENDING_CANCEL)]
        trades = {r.exec_id: r for r in reports if r.exec_type is ExecType.TRADE}
        assert sum((t.last_qty for t in trades.values()), Decimal(0)) == Decimal("0.3")
        c.logout()
    finally:
        gw.stop()
    journal = Journal(state / "fixgw.db", readonly=True)
    (order,) = [o for o in journal.orders() if o.cl_ord_id == "ALGO-1"]
    fills = journal.fills(order.order_id)
    assert sum((f.quantity for f in fills), Decimal(0)) == Decimal("0.3") == order.cum_qty
    assert {f.exec_id for f in fills} == set(trades)

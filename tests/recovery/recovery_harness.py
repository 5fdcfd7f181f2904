"""What the recovery tests share: `fixgw run` as a real subprocess, and the venues' own truth.

Not a test module: imported by tests/recovery/test_*.py (pytest puts this directory on
sys.path, rootdir-style).
"""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import yaml

from fixgw.fix.message import FixMessage

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_gateway_config(tmp: Path, *, application: str = "crashpoints:build_service") -> Path:
    """sessions/default.yaml with its relative paths made absolute and the state under ``tmp``."""
    doc = yaml.safe_load((REPO / "sessions" / "default.yaml").read_text())
    doc["state_dir"] = str(tmp / "var")
    doc["application"] = application
    doc["session_defaults"]["dictionary"] = [
        str((REPO / "sessions" / p).resolve()) for p in doc["session_defaults"]["dictionary"]]
    doc["simulator"]["config"] = str(REPO / "sessions" / "venues.yaml")
    path = tmp / "gateway.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


class GatewayProcess:
    """One `fixgw run CONFIG --port N` process; output goes to files in the state's parent."""

    def __init__(self, config: Path, port: int, *, crash_at: str | None = None,
                 crash_skip: int = 0, run: int = 0):
        self.config, self.port = config, port
        self.out = config.parent / f"gateway-{run}.out"
        self.err = config.parent / f"gateway-{run}.err"
        self.marker = config.parent / f"crash-{run}.txt"
        env = {k: v for k, v in os.environ.items() if not k.startswith("FIXGW_TEST_")}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
        if crash_at:
            env["FIXGW_TEST_CRASH_AT"] = crash_at
            env["FIXGW_TEST_CRASH_MARKER"] = str(self.marker)
            env["FIXGW_TEST_CRASH_SKIP"] = str(crash_skip)
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "fixgw", "run", str(config), "--port", str(port)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=config.parent)

    def wait_listening(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "listening on" in self.out.read_text(errors="replace"):
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited with {self.proc.returncode}: {self.tail()}")
            time.sleep(0.1)
        raise RuntimeError(f"gateway not listening after {timeout}s: {self.tail()}")

    def wait_exit(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def crashed_at(self) -> str | None:
        return self.marker.read_text() if self.marker.exists() else None

    def stop(self, timeout: float = 30.0) -> None:
        """Graceful: SIGTERM (the gateway logs out its sessions and flushes)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            if self.wait_exit(timeout) is None:
                self.proc.kill()
                self.proc.wait(10)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def tail(self, lines: int = 15) -> str:
        text = self.err.read_text(errors="replace").strip().splitlines()
        return "\n".join(text[-lines:])


@dataclass(frozen=True)
class VenueTrade:
    venue: str
    trade_id: str
    client_order_id: str
    price: Decimal
    quantity: Decimal


async def _venue_truth_async(state_dir: Path, symbol: str):
    import ccxt.async_support as ccxt

    from fixgw.sim.launcher import read_state
    from fixgw.sim.server import ccxt_options, ccxt_urls
    sim = read_state(state_dir)
    assert sim is not None, f"no simulated venues recorded in {state_dir}"
    trades: list[VenueTrade] = []
    client_ids: Counter[str] = Counter()
    first_order_ms: int | None = None
    for ep in sim.endpoints:
        ex = ccxt.binance({"apiKey": ep.api_key, "secret": ep.api_secret,
                           "options": ccxt_options("spot"), "enableRateLimit": False})
        ex.urls["api"] = ccxt_urls(ep.base_url)
        try:
            orders = await ex.fetch_orders(symbol)
            by_order_id = {}
            for o in orders:
                cid = o["info"]["clientOrderId"]
                client_ids[cid] += 1
                created = int(o["info"].get("time") or o["timestamp"] or 0)
                first_order_ms = created if first_order_ms is None else min(first_order_ms, created)
                by_order_id[str(o["info"]["orderId"])] = cid
            for t in await ex.fetch_my_trades(symbol):
                info = t["info"]           # the venue's own strings: exact decimals
                trades.append(VenueTrade(ep.name, str(info["id"]),
                                         by_order_id.get(str(info["orderId"]), "?"),
                                         Decimal(info["price"]), Decimal(info["qty"])))
        finally:
            await ex.close()
    return VenueTruth(trades, client_ids, first_order_ms)


@dataclass(frozen=True)
class VenueTruth:
    trades: list[VenueTrade]
    client_ids: Counter            # client order id -> number of venue orders carrying it
    first_order_ms: int | None     # venue time of the earliest order (None: no order at all)


def venue_truth(state_dir: Path, symbol: str) -> VenueTruth:
    """Every trade of the gateway's venue accounts in ``symbol`` and every client order id the
    venues ever saw, asked of the venues over their REST API."""
    return asyncio.run(_venue_truth_async(state_dir, symbol))


def unique_by_seq(messages: list[FixMessage]) -> list[FixMessage]:
    """Application messages as a FIX engine would deliver them: each MsgSeqNum once."""
    seen: set[str] = set()
    out = []
    for msg in messages:
        seq = msg.get(34)
        if seq in seen:
            continue
        seen.add(seq)
        out.append(msg)
    return out

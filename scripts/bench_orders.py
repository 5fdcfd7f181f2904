#!/usr/bin/env python3
"""Order-path benchmark: NewOrderSingle -> first ExecutionReport latency and orders/s.

Runs, in one command and on the same machine, two gateways over real FIX/TCP:

* **baseline**: the same session layer with the built-in ``echo`` application (NOS sent
  straight back): what the FIX front door alone costs;
* **fixgw**: the full order path of sessions/default.yaml: session layer -> OMS (journal,
  risk, SOR) -> ccxt -> the three simulated venues (their own detached process as under
  ``fixgw run``, real matching engines, request latency as configured in venues.yaml) ->
  fills -> ExecutionReports.

For each: closed-loop latency (one order outstanding) of NOS -> first reply (echo, or the
ER 150=0 that follows the first venue acknowledgement) and NOS -> terminal ER (Filled), and
open-loop throughput with a window of outstanding orders (orders fully filled per second).
Orders are tiny market orders alternating buy/sell so balances do not drift. Venue rate
limits (Binance's real 100 orders/10 s) are lifted for the run on both sides, or they would be
the whole story. Figures are printed with their ratio to the baseline.

    python scripts/bench_orders.py [--orders 300] [--window 16]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixgw.domain import OrdStatus, Side  # noqa: E402
from fixgw.oms.client import OrderClient  # noqa: E402
from fixgw.oms.embedded import DEFAULT_CONFIG, REPO_ROOT, GatewayThread, gateway_document  # noqa: E402

LIFTED = {"request_weight_per_minute": 100_000_000, "orders_per_10s": 10_000_000,
          "orders_per_day": 1_000_000_000, "max_wait_s": 5}
SIM_LIFTED = {"weight_per_minute": 100_000_000, "orders_per_10s": 10_000_000,
              "orders_per_day": 1_000_000_000}


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def echo_document(state: Path) -> dict:
    return {
        "state_dir": str(state), "application": "echo",
        "listen": {"host": "127.0.0.1", "port": 0},
        "session_defaults": {"begin_string": "FIX.4.4", "sender_comp_id": "FIXGW",
                             "dictionary": ["../dictionaries/FIX44.xml",
                                            "../dictionaries/FIX44-fixgw.xml"],
                             "reset_on_logon": True},
        "sessions": [{"target_comp_id": "OMS", "role": "echo"}],
    }


def order_document(state: Path) -> dict:
    sim = yaml.safe_load((REPO_ROOT / "sessions" / "venues.yaml").read_text())
    for v in sim["venues"]:
        v["rate_limits"] = dict(SIM_LIFTED)
    sim_path = state / "venues-bench.yaml"
    sim_path.write_text(yaml.safe_dump(sim))
    doc = gateway_document(DEFAULT_CONFIG, state_dir=state, overrides={
        "admin_socket": False,
        # the venues run as their own process, as under `fixgw run`
        "simulator": {"config": str(sim_path), "mode": "detached"},
        "risk": {"default": {"max_orders_per_second": 1_000_000, "max_open_orders": 100_000}},
    })
    for v in doc["venues"].values():
        v["rate_limits"] = dict(LIFTED)
        v["linear_rate_limits"] = dict(LIFTED)
    return doc


def closed_loop(client: OrderClient, n: int, echo: bool, tag: str) -> tuple[list[float], list[float]]:
    first, done = [], []
    for i in range(n):
        cl = f"{tag}{i}"
        side = Side.BUY if i % 2 == 0 else Side.SELL
        t0 = time.perf_counter()
        client.new_order(cl, "BTC/USDT", side, "0.001")
        msg = client.wait(lambda x: x.get(11) == cl, timeout=10, start=len(client.inbox.messages))
        t1 = time.perf_counter()
        if msg is None:
            raise RuntimeError(f"no reply to {cl}")
        first.append(t1 - t0)
        if echo:
            done.append(t1 - t0)
        else:
            final = client.wait_done(cl, timeout=10)
            if final is None or final.ord_status is not OrdStatus.FILLED:
                raise RuntimeError(f"{cl} did not fill: {final}")
            done.append(time.perf_counter() - t0)
        client.inbox.messages.clear()
    return first, done


def open_loop(client: OrderClient, n: int, window: int, echo: bool, tag: str) -> float:
    sent, finished = 0, 0
    outstanding: set[str] = set()
    t0 = time.perf_counter()
    while finished < n:
        while sent < n and len(outstanding) < window:
            cl = f"{tag}{sent}"
            client.new_order(cl, "BTC/USDT", Side.BUY if sent % 2 == 0 else Side.SELL, "0.001")
            outstanding.add(cl)
            sent += 1
        msg = client.pump(10)
        if msg is None:
            raise RuntimeError(f"stalled with {len(outstanding)} outstanding")
        cl = msg.get(11)
        if cl in outstanding and (echo and msg.msg_type == "D" or
                                  msg.msg_type == "8" and msg.get(39) in ("2", "4", "8")):
            if not echo and msg.get(39) != "2":
                raise RuntimeError(f"{cl} ended {msg.get(39)}: {msg.get(58)}")
            outstanding.discard(cl)
            finished += 1
        if len(client.inbox.messages) > 1000:
            client.inbox.messages.clear()
    return n / (time.perf_counter() - t0)


def run(doc: dict, echo: bool, orders: int, window: int) -> dict:
    with GatewayThread(doc, DEFAULT_CONFIG) as gw:
        with OrderClient(gw.host, gw.port) as client:
            closed_loop(client, 20, echo, "W")                     # warm-up
            first, done = closed_loop(client, orders, echo, "L")
            rate = open_loop(client, orders * 2, window, echo, "T")
    return {"first_p50": pct(first, 50), "first_p99": pct(first, 99),
            "done_p50": pct(done, 50), "done_p99": pct(done, 99), "rate": rate}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=300, help="closed-loop orders (throughput: 2x)")
    ap.add_argument("--window", type=int, default=16, help="outstanding orders, open loop")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        base = run(echo_document(Path(a)), True, args.orders, args.window)
        try:
            full = run(order_document(Path(b)), False, args.orders, args.window)
        finally:
            from fixgw.sim.launcher import stop_venues
            stop_venues(b)
    ms = 1000.0
    print(f"NewOrderSingle -> ExecutionReport, {args.orders} orders closed loop, "
          f"{args.orders * 2} open loop (window {args.window}); ratio = fixgw / baseline")
    print(f"{'':34}{'baseline (echo)':>17}{'fixgw order path':>18}{'ratio':>9}")
    rows = [("first reply p50 (ms)", "first_p50", ms), ("first reply p99 (ms)", "first_p99", ms),
            ("filled p50 (ms)", "done_p50", ms), ("filled p99 (ms)", "done_p99", ms),
            ("orders/s (filled, open loop)", "rate", 1.0)]
    for label, key, scale in rows:
        b, f = base[key] * scale, full[key] * scale
        print(f"{label:<34}{b:>17.3f}{f:>18.3f}{f / b:>9.3g}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

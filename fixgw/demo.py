"""``fixgw demo``: the gateway, three simulated venues and an OMS, all in one command.

Starts sessions/default.yaml in-process (the venues too, on this machine's loopback, in a
throwaway state directory), logs on as the OMS over a real FIX socket, sends a handful of
orders the way ``scripts/fix_client.py`` does, prints every ExecutionReport as one line and a
summary, and exits 0 when every order ended the way it should.
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import tempfile
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

from fixgw.domain import ExecType, OrdStatus, Side, Strategy, TimeInForce, Urgency
from fixgw.fix import messages as m


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="?", default=None,
                        help="gateway YAML (default: sessions/default.yaml)")
    parser.add_argument("--port", type=int, default=None, help="(ignored: the demo picks a free port)")
    parser.add_argument("--no-algo", action="store_true", help="skip the short TWAP order")
    parser.add_argument("--state-dir", default=None,
                        help="keep the demo's journal here (then: fixgw tca --db DIR/fixgw.db); "
                             "default: a temporary directory, removed at the end")
    parser.add_argument("--log-level", default="ERROR")


def demo_command(args: argparse.Namespace) -> int:
    from fixgw.oms.client import OrderClient, describe_report
    from fixgw.oms.embedded import DEFAULT_CONFIG, GatewayThread, gateway_document
    logging.basicConfig(level=getattr(logging, str(args.log_level).upper(), logging.ERROR),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config_path = Path(args.config) if getattr(args, "config", None) else DEFAULT_CONFIG
    started = time.monotonic()
    keep = getattr(args, "state_dir", None)
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
    with (contextlib.nullcontext(keep) if keep else
          tempfile.TemporaryDirectory(prefix="fixgw-demo-")) as state:
        print(f"fixgw demo: starting the gateway and 3 simulated venues from {config_path} "
              f"(state in {state})", flush=True)
        document = gateway_document(config_path, state_dir=Path(state),
                                    overrides={"admin_socket": False})
        gw = GatewayThread(document, config_path).start()
        try:
            market = gw.service.market
            mids = {s: gw.call(lambda s=s: market.book(s).mid()) for s in
                    ("BTC/USDT", "ETH/USDT", "BTC/USDT:USDT")}
            print(f"gateway listening on {gw.host}:{gw.port}; consolidated mids: "
                  + ", ".join(f"{s} {m.format_decimal(p.quantize(Decimal('0.01')))}"
                              for s, p in mids.items() if p is not None), flush=True)
            with OrderClient(gw.host, gw.port) as client:
                print("logged on as OMS -> FIXGW\n", flush=True)
                results = _run_orders(client, mids, describe_report, not args.no_algo)
        finally:
            gw.stop()
    elapsed = time.monotonic() - started
    status = _summary(results, elapsed)
    if keep:
        print(f"  journal kept: fixgw tca --db {Path(keep) / 'fixgw.db'}")
    return status


def _run_orders(client, mids, describe, with_algo: bool) -> list[tuple[str, str, list, set]]:
    """Send the demo orders; returns (label, ClOrdID, reports, acceptable final statuses)."""
    btc, eth = mids["BTC/USDT"], mids["ETH/USDT"]
    plan = [
        ("market buy 3 BTC, swept across venues", "DEMO-1",
         dict(symbol="BTC/USDT", side=Side.BUY, quantity="3"), {OrdStatus.FILLED}),
        ("limit IOC sell 40 ETH, 0.5% through the bid", "DEMO-2",
         dict(symbol="ETH/USDT", side=Side.SELL, quantity="40",
              price=_round(eth * Decimal("0.995"), "0.01"), tif=TimeInForce.IOC),
         {OrdStatus.FILLED, OrdStatus.CANCELED}),
        ("market sell 2 BTC perpetual", "DEMO-3",
         dict(symbol="BTC/USDT:USDT", side=Side.SELL, quantity="2"), {OrdStatus.FILLED}),
        ("GTC limit buy 1 BTC 2% under the market, then cancel", "DEMO-4",
         dict(symbol="BTC/USDT", side=Side.BUY, quantity="1",
              price=_round(btc * Decimal("0.98"), "0.1"), tif=TimeInForce.GTC),
         {OrdStatus.CANCELED}),
        ("unknown symbol: rejected", "DEMO-5",
         dict(symbol="DOGE/USDT", side=Side.BUY, quantity="1000"), {OrdStatus.REJECTED}),
    ]
    if with_algo:
        now = time.time()
        plan.append(("TWAP buy 0.6 BTC over 8 seconds", "DEMO-6",
                     dict(symbol="BTC/USDT", side=Side.BUY, quantity="0.6",
                          price=_round(btc * Decimal("1.01"), "0.1"), tif=TimeInForce.GTD,
                          strategy=Strategy.TWAP, urgency=Urgency.MEDIUM,
                          effective_time=now, expire_time=now + 8),
                     {OrdStatus.FILLED, OrdStatus.EXPIRED}))
    results = []
    for label, cl, spec, ok in plan:
        print(f"--> {cl}: {label}", flush=True)
        client.new_order(cl, **spec)
        if cl == "DEMO-4":
            ack = client.wait_report(cl, lambda r: r.exec_type in (ExecType.NEW, ExecType.REJECTED))
            if ack is not None and ack.exec_type is ExecType.NEW:
                client.cancel("DEMO-4C", cl, spec["symbol"], spec["side"])
            client.wait_done("DEMO-4C", timeout=15) or client.wait_done(cl, timeout=1)
            reports = client.reports(cl) + client.reports("DEMO-4C")
        else:
            client.wait_done(cl, timeout=30)
            reports = client.reports(cl)
        for r in reports:
            print("    " + describe(r), flush=True)
        results.append((label, cl, reports, ok))
    return results


def _summary(results, elapsed: float) -> int:
    fills_by_venue: dict[str, list[Decimal]] = defaultdict(list)
    ok_count = 0
    print("\nsummary")
    for label, cl, reports, ok in results:
        final = next((r for r in reversed(reports)
                      if r.exec_type is not ExecType.ORDER_STATUS), None)
        status = final.ord_status if final else None
        good = status in ok
        ok_count += good
        for r in reports:
            if r.exec_type is ExecType.TRADE:
                fills_by_venue[f"{r.last_mkt} {r.symbol}"].append(r.last_qty)
        detail = "no report" if final is None else (
            f"{status.name.lower()} cum {m.format_decimal(final.cum_qty)} "
            f"avg {m.format_decimal(final.avg_px)}")
        if final is not None and final.strategy_performance is not None:
            detail += f" shortfall {m.format_decimal(final.strategy_performance)} bps"
        print(f"  {'ok ' if good else 'BAD'} {cl:<8} {label:<52} {detail}")
    print("  fills by venue: " + ", ".join(
        f"{k}: {len(v)} fills, {m.format_decimal(sum(v, Decimal(0)))}"
        for k, v in sorted(fills_by_venue.items())))
    print(f"  {ok_count}/{len(results)} orders ended as expected in {elapsed:.1f} s")
    return 0 if ok_count == len(results) else 1


def _round(value: Decimal, step: str) -> Decimal:
    q = Decimal(step)
    return (value / q).to_integral_value() * q


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    configure_parser(p)
    sys.exit(demo_command(p.parse_args()))

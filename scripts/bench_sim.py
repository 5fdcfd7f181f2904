#!/usr/bin/env python
"""Benchmark the simulated venue (not a test): order round trips per second through unmodified
ccxt (REST and ws-api) against a raw aiohttp client doing the same signed requests in the same
run, and depth-diff messages per second delivered to several websocket subscribers against a
bare aiohttp websocket server pushing pre-encoded messages (the transport's ceiling).

    python scripts/bench_sim.py [--orders 400] [--seconds 3] [--subscribers 1,4,16]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from decimal import Decimal
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from fixgw.sim.auth import sign, ws_payload
from fixgw.sim.server import ccxt_client, start_venue
from fixgw.sim.spec import RateLimitSpec, VenueSpec, default_symbols

UNLIMITED = RateLimitSpec(weight_per_minute=10**9, orders_per_10s=10**9, orders_per_day=10**9)


def summary(name: str, lat: list[float]) -> dict:
    total = sum(lat)
    return {"name": name, "n": len(lat), "per_s": len(lat) / total, "median_ms": statistics.median(lat) * 1000,
            "p99_ms": sorted(lat)[int(len(lat) * 0.99) - 1] * 1000}


async def bench_orders(n: int) -> list[dict]:
    import ccxt.pro as ccxtpro
    venue = await start_venue(VenueSpec(name="bench", symbols=default_symbols(), rate_limits=UNLIMITED))
    ex = ccxt_client(ccxtpro.binance, venue, "spot")
    results = []
    try:
        await ex.load_markets()
        # warm up both paths
        for _ in range(20):
            o = await ex.create_order("BTC/USDT", "limit", "buy", 0.001, 50000)
            await ex.cancel_order(o["id"], "BTC/USDT")
        lat = []
        for _ in range(n):
            t = time.perf_counter()
            o = await ex.create_order("BTC/USDT", "limit", "buy", 0.001, 50000)
            lat.append(time.perf_counter() - t)
            await ex.cancel_order(o["id"], "BTC/USDT")
        results.append(summary("ccxt REST create_order", lat))

        key, secret = venue.spec.api_key, venue.spec.api_secret
        async with aiohttp.ClientSession() as s:
            lat = []
            for i in range(n + 20):
                params = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                          "quantity": "0.001", "price": "50000", "newOrderRespType": "FULL",
                          "timestamp": int(time.time() * 1000), "recvWindow": 5000}
                body = urlencode(params)
                body += "&signature=" + sign(body, secret)
                t = time.perf_counter()
                async with s.post(venue.base_url + "/api/v3/order", data=body,
                                  headers={"X-MBX-APIKEY": key,
                                           "Content-Type": "application/x-www-form-urlencoded"}) as r:
                    order = await r.json()
                if i >= 20:
                    lat.append(time.perf_counter() - t)
                venue.exchange.cancel_order("demo", venue.exchange.markets["BTCUSDT"], order["orderId"], None)
            results.append(summary("raw aiohttp POST /api/v3/order", lat))

            for _ in range(20):
                await ex.create_order_ws("BTC/USDT", "limit", "buy", 0.001, 50000)
            venue.exchange.cancel_all("demo", venue.exchange.markets["BTCUSDT"])
            lat = []
            for _ in range(n):
                t = time.perf_counter()
                o = await ex.create_order_ws("BTC/USDT", "limit", "buy", 0.001, 50000)
                lat.append(time.perf_counter() - t)
                venue.exchange.cancel_order("demo", venue.exchange.markets["BTCUSDT"], int(o["id"]), None)
            results.append(summary("ccxt ws-api create_order_ws", lat))

            async with s.ws_connect(venue.base_url.replace("http", "ws") + "/ws-api/v3") as ws:
                lat = []
                for i in range(n + 20):
                    params = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                              "quantity": "0.001", "price": "50000", "apiKey": key,
                              "timestamp": int(time.time() * 1000), "recvWindow": 5000}
                    params["signature"] = sign(ws_payload(params), secret)
                    t = time.perf_counter()
                    await ws.send_str(json.dumps({"id": str(i), "method": "order.place", "params": params}))
                    reply = json.loads((await ws.receive()).data)
                    if i >= 20:
                        lat.append(time.perf_counter() - t)
                    venue.exchange.cancel_order("demo", venue.exchange.markets["BTCUSDT"],
                                                reply["result"]["orderId"], None)
                results.append(summary("raw aiohttp ws order.place", lat))
    finally:
        await ex.close()
        await venue.stop()
    return results


def bench_engine(n: int) -> list[dict]:
    """The matching engine alone (no network): resting place+cancel, and crossing market orders."""
    from fixgw.sim.engine import Exchange
    ex = Exchange(VenueSpec(name="bench", symbols=default_symbols(), rate_limits=UNLIMITED))
    ex.seed_books()
    m = ex.markets["BTCUSDT"]
    t = time.perf_counter()
    for _ in range(n):
        o, _ = ex.place_order("demo", m, "BUY", "LIMIT", Decimal("0.001"), Decimal("50000"), "GTC")
        ex.cancel_order("demo", m, o.order_id, None)
    rest = time.perf_counter() - t
    t = time.perf_counter()
    for i in range(n):
        ex.place_house_order("taker", "BTCUSDT", "BUY" if i % 2 else "SELL", "MARKET", Decimal("0.001"))
        ex.place_house_order("maker", "BTCUSDT", "SELL" if i % 2 else "BUY", "LIMIT", Decimal("0.001"),
                             Decimal("60006") if i % 2 else Decimal("59994"))
    cross = time.perf_counter() - t
    return [{"name": "engine place+cancel (client, resting)", "per_s": n / rest},
            {"name": "engine market fill + refill (house)", "per_s": n / cross}]


async def count_messages(url: str, subscribe: list[str] | None, n_subs: int, seconds: float) -> int:
    counts = [0] * n_subs
    stop = asyncio.Event()

    async def sub(i: int, s: aiohttp.ClientSession) -> None:
        async with s.ws_connect(url, max_msg_size=0) as ws:
            if subscribe:
                await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": subscribe, "id": 1}))
            while not stop.is_set():
                try:
                    msg = await asyncio.wait_for(ws.receive(), 0.5)
                except asyncio.TimeoutError:
                    continue
                if msg.type != aiohttp.WSMsgType.TEXT:
                    return
                if '"depthUpdate"' in msg.data:
                    counts[i] += 1

    async with aiohttp.ClientSession() as s:
        tasks = [asyncio.ensure_future(sub(i, s)) for i in range(n_subs)]
        await asyncio.sleep(0.3)
        base = sum(counts)
        await asyncio.sleep(seconds)
        got = sum(counts) - base
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    return got


async def bench_depth(subscribers: list[int], seconds: float) -> list[dict]:
    venue = await start_venue(VenueSpec(name="bench", symbols=default_symbols(), rate_limits=UNLIMITED,
                                        depth_interval_ms=0))
    running = True

    async def churn() -> None:     # change the book as fast as the loop lets us
        i = 0
        while running:
            i += 1
            price = Decimal(59900 + i % 80)
            r = venue.exchange.place_house_order("churn", "BTCUSDT", "BUY", "LIMIT", Decimal("0.1"), price)
            if i % 2:
                venue.exchange.cancel_house_order("churn", "BTCUSDT", r.order_id)
            await asyncio.sleep(0)
    task = asyncio.ensure_future(churn())
    out = []
    try:
        for n in subscribers:
            got = await count_messages(venue.base_url.replace("http", "ws") + "/stream/ws/0",
                                       ["btcusdt@depth@100ms"], n, seconds)
            out.append({"name": f"sim depth diffs, {n} subscriber(s)", "n": n, "per_s": got / seconds})
    finally:
        running = False
        await task
        await venue.stop()

    # baseline: a bare aiohttp websocket server pushing one pre-encoded depthUpdate in a loop
    sample = json.dumps({"e": "depthUpdate", "E": 1, "s": "BTCUSDT", "U": 1, "u": 2,
                         "b": [["59900.5", "0.1"]], "a": []}, separators=(",", ":"))
    conns: set = set()

    async def handler(request):
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        conns.add(ws)
        try:
            async for _ in ws:
                pass
        finally:
            conns.discard(ws)
        return ws

    async def pump():
        while True:
            for ws in list(conns):
                try:
                    await ws.send_str(sample)
                except Exception:  # noqa: BLE001
                    conns.discard(ws)
            await asyncio.sleep(0)
    app = web.Application()
    app.router.add_get("/ws", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    ptask = asyncio.ensure_future(pump())
    try:
        for n in subscribers:
            got = await count_messages(f"ws://127.0.0.1:{port}/ws", None, n, seconds)
            out.append({"name": f"raw aiohttp push, {n} subscriber(s)", "n": n, "per_s": got / seconds})
    finally:
        ptask.cancel()
        await runner.cleanup()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=400)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--subscribers", default="1,4,16")
    args = ap.parse_args()
    subs = [int(x) for x in args.subscribers.split(",")]

    for r in bench_engine(args.orders * 10):
        print(f"{r['name']:40s} {r['per_s']:9.0f} /s")
    print()
    orders = asyncio.run(bench_orders(args.orders))
    print(f"{'order round trips':40s} {'per s':>9s} {'median ms':>10s} {'p99 ms':>8s}")
    for r in orders:
        print(f"{r['name']:40s} {r['per_s']:9.0f} {r['median_ms']:10.3f} {r['p99_ms']:8.3f}")
    rest = orders[0]["per_s"] / orders[1]["per_s"]
    wsr = orders[2]["per_s"] / orders[3]["per_s"]
    print(f"ccxt/raw throughput ratio: REST {rest:.2f}, ws-api {wsr:.2f}")

    depth = asyncio.run(bench_depth(subs, args.seconds))
    print(f"\n{'depth-diff delivery':40s} {'msgs/s':>9s} (total over all subscribers)")
    for r in depth:
        print(f"{r['name']:40s} {r['per_s']:9.0f}")
    half = len(depth) // 2
    for sim, raw in zip(depth[:half], depth[half:]):
        print(f"sim/raw ratio, {sim['n']} subscriber(s): {sim['per_s'] / raw['per_s']:.2f}")


if __name__ == "__main__":
    main()

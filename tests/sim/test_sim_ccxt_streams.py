"""Unmodified ccxt.pro against the venue's websockets: depth-diff book sync through hundreds of
diffs with a forced gap, the ws-api user-data stream with order.place / order.cancel, trades
and tickers. A small deterministic churn model (a ``model_factory``) keeps the book moving."""
from __future__ import annotations

import asyncio
import json
import random
from decimal import Decimal as D

import ccxt
import ccxt.pro as ccxtpro

from fixgw.clock import ScaledClock
from fixgw.sim.server import ccxt_client, start_venue
from fixgw.sim.spec import VenueSpec, default_symbols


class ChurnModel:
    """Places and cancels house orders around 60,000 on every step; ``paused`` freezes it."""

    def __init__(self, exchange, spec, clock, seed: int = 7) -> None:
        self.ex = exchange
        self.rng = random.Random(seed)
        self.paused = False
        self.steps = 0
        for k in range(1, 11):
            exchange.place_house_order("lp", "BTCUSDT", "BUY", "LIMIT", D("1"), D(60000 - 5 * k))
            exchange.place_house_order("lp", "BTCUSDT", "SELL", "LIMIT", D("1"), D(60000 + 5 * k))

    def step(self, now: float) -> None:
        if self.paused:
            return
        self.steps += 1
        for _ in range(3):
            side = self.rng.choice(["BUY", "SELL"])
            off = self.rng.randint(1, 60)
            price = D(60000 - off) if side == "BUY" else D(60000 + off)
            qty = D(self.rng.randint(1, 50)) / D(100)
            self.ex.place_house_order("lp", "BTCUSDT", side, "LIMIT", qty, price)
        orders = self.ex.house_open_orders("lp", "BTCUSDT")
        if len(orders) > 60:
            self.ex.cancel_house_order("lp", "BTCUSDT", self.rng.choice(orders)[0])


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 90))


async def start(**kw):
    models = []

    def factory(exchange, spec, clock):
        models.append(ChurnModel(exchange, spec, clock))
        return models[0]
    venue = await start_venue(VenueSpec(name="ws-test", symbols=default_symbols(), depth_interval_ms=5, **kw),
                              clock=ScaledClock(scale=20), model_factory=factory)
    while not models:
        await asyncio.sleep(0.01)
    return venue, models[0]


def venue_levels(venue, n=10):
    bids, asks = venue.exchange.depth("BTCUSDT", n)
    return [[float(p), float(q)] for p, q in bids], [[float(p), float(q)] for p, q in asks]


async def caught_up(ex, venue, model):
    model.paused = True
    await asyncio.sleep(0.05)
    target = venue.exchange.books["BTCUSDT"].update_id
    for _ in range(200):                       # the watcher applies diffs in the background
        ob = ex.orderbooks["BTC/USDT"]
        if ob["nonce"] >= target:
            return ob
        await asyncio.sleep(0.01)
    raise AssertionError(f"book stuck at {ob['nonce']} < {target}")


def test_book_sync_through_hundreds_of_diffs_and_gap_recovery():
    async def main():
        venue, model = await start()
        ex = ccxt_client(ccxtpro.binance, venue, "spot")
        try:
            await ex.load_markets()
            ob = await ex.watch_order_book("BTC/USDT")
            nonces = {ob["nonce"]}                      # the snapshot's, then one per applied diff
            while len(nonces) < 301:
                ob = await ex.watch_order_book("BTC/USDT")
                nonces.add(ob["nonce"])
            ob = await caught_up(ex, venue, model)
            assert (ob["bids"][:10], ob["asks"][:10]) == venue_levels(venue)
            assert venue.server.depth_messages_sent >= 300

            model.paused = False
            venue.skip_depth_sequence("BTCUSDT")          # a lost diff
            gap = None
            try:
                for _ in range(50):
                    await ex.watch_order_book("BTC/USDT")
            except ccxt.ChecksumError as e:
                gap = e
            assert gap is not None, "a sequence gap went unnoticed"
            ob = await ex.watch_order_book("BTC/USDT")   # re-subscribes and re-snapshots
            for _ in range(50):
                ob = await ex.watch_order_book("BTC/USDT")
            ob = await caught_up(ex, venue, model)
            assert (ob["bids"][:10], ob["asks"][:10]) == venue_levels(venue)
        finally:
            await ex.close()
            await venue.stop()
    run(main())


def test_user_data_stream_and_ws_api_orders():
    async def main():
        venue, model = await start()
        model.paused = True
        ex = ccxt_client(ccxtpro.binance, venue, "spot")
        try:
            await ex.load_markets()
            watching = asyncio.ensure_future(ex.watch_orders("BTC/USDT"))
            await asyncio.sleep(0.2)
            o = await ex.create_order_ws("BTC/USDT", "limit", "buy", 0.01, 59000, {"newClientOrderId": "ws-1"})
            assert o["status"] == "open" and o["clientOrderId"] == "ws-1"
            seen = await asyncio.wait_for(watching, 5)
            assert [(x["id"], x["status"]) for x in seen] == [(o["id"], "open")]
            watching = asyncio.ensure_future(ex.watch_orders("BTC/USDT"))
            await asyncio.sleep(0.05)
            c = await ex.cancel_order_ws(o["id"], "BTC/USDT")
            assert c["status"] == "canceled"
            seen = await asyncio.wait_for(watching, 5)
            assert seen[-1]["status"] == "canceled" and seen[-1]["info"]["C"] == "ws-1"

            trades_f = asyncio.ensure_future(ex.watch_my_trades("BTC/USDT"))
            bal_f = asyncio.ensure_future(ex.watch_balance())
            await asyncio.sleep(0.05)
            mkt = await ex.create_order("BTC/USDT", "market", "buy", 0.02)
            trades = await asyncio.wait_for(trades_f, 5)
            assert trades[-1]["order"] == mkt["id"] and trades[-1]["amount"] == 0.02
            assert trades[-1]["fee"]["currency"] == "BTC" and trades[-1]["takerOrMaker"] == "taker"
            bal = await asyncio.wait_for(bal_f, 5)
            assert "BTC" in bal and "USDT" in bal

            try:
                await ex.create_order_ws("BTC/USDT", "limit", "buy", 50, 59000)
                raise AssertionError("insufficient funds accepted over ws-api")
            except ccxt.InsufficientFunds:
                pass
        finally:
            await ex.close()
            await venue.stop()
    run(main())


def test_public_trades_and_ticker_streams_with_latency():
    async def main():
        venue, model = await start(stream_latency_ms=20, ticker_interval_ms=50)
        ex = ccxt_client(ccxtpro.binance, venue, "spot")
        try:
            await ex.load_markets()
            tf = asyncio.ensure_future(ex.watch_trades("BTC/USDT"))
            await asyncio.sleep(0.2)
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            await ex.create_order("BTC/USDT", "market", "sell", 0.01)
            trades = await asyncio.wait_for(tf, 5)
            assert loop.time() - t0 >= 0.02          # the per-message latency is applied
            assert trades[-1]["side"] == "sell" and trades[-1]["amount"] == 0.01
            ticker = await asyncio.wait_for(ex.watch_ticker("BTC/USDT"), 5)
            assert ticker["last"] == trades[-1]["price"]
        finally:
            await ex.close()
            await venue.stop()
    run(main())


def test_ws_api_order_rate_limit_maps_to_rate_limit_exceeded():
    async def main():
        from fixgw.sim.spec import RateLimitSpec
        venue, model = await start(rate_limits=RateLimitSpec(orders_per_10s=3, violations_before_ban=100))
        model.paused = True
        ex = ccxt_client(ccxtpro.binance, venue, "spot")
        try:
            await ex.load_markets()
            placed, limited = 0, None
            for _ in range(20):                           # the 10 s window may roll over once
                try:
                    await ex.create_order_ws("BTC/USDT", "limit", "buy", 0.001, 50000)
                    placed += 1
                except ccxt.RateLimitExceeded as e:     # -1015 over ws-api: ccxt maps the code
                    limited = e
                    break
            assert placed <= 6 and limited is not None and "-1015" in str(limited)
        finally:
            await ex.close()
            await venue.stop()
    run(main())


def test_legacy_spot_listen_key_stream():
    async def main():
        import aiohttp
        venue = await start_venue(VenueSpec(name="legacy", symbols=default_symbols()))
        ex = ccxt_client(ccxtpro.binance, venue, "spot")
        try:
            await ex.load_markets()
            key = (await ex.public_post_userdatastream())["listenKey"]
            async with aiohttp.ClientSession() as s:
                async with s.ws_connect(venue.base_url.replace("http", "ws") + "/ws/" + key) as ws:
                    await asyncio.sleep(0.05)
                    o = await ex.create_order("BTC/USDT", "limit", "buy", 0.01, 59000)
                    events = [json.loads((await asyncio.wait_for(ws.receive(), 5)).data) for _ in range(2)]
                    kinds = {e["e"] for e in events}
                    assert kinds == {"executionReport", "outboundAccountPosition"}
                    report = next(e for e in events if e["e"] == "executionReport")
                    assert report["i"] == int(o["id"]) and report["x"] == "NEW"
                async with s.ws_connect(venue.base_url.replace("http", "ws") + "/ws/unknownkey") as ws:
                    msg = await asyncio.wait_for(ws.receive(), 5)
                    assert msg.type == aiohttp.WSMsgType.TEXT and "listenKeyExpired" in msg.data \
                        or msg.type == aiohttp.WSMsgType.CLOSE
        finally:
            await ex.close()
            await venue.stop()
    run(main())

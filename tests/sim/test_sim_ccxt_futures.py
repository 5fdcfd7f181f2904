"""Unmodified ccxt binanceusdm against the venue's /fapi: a perpetual position opened, read back
with its margin, reduced; margin errors; leverage and margin mode; the listenKey user stream."""
from __future__ import annotations

import asyncio

import ccxt
import ccxt.pro as ccxtpro

from fixgw.sim.server import ccxt_client, start_venue
from fixgw.sim.spec import VenueSpec, default_symbols

PERP = "BTC/USDT:USDT"


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


async def with_venue(body):
    venue = await start_venue(VenueSpec(name="fut-test", symbols=default_symbols()))
    fx = ccxt_client(ccxtpro.binanceusdm, venue, "linear")
    try:
        await body(venue, fx)
    finally:
        await fx.close()
        await venue.stop()


def test_open_perpetual_position_and_read_it_back_with_margin():
    async def body(venue, fx):
        markets = await fx.load_markets()
        assert list(markets) == [PERP] and markets[PERP]["swap"] and markets[PERP]["linear"]
        assert (await fx.set_leverage(10, PERP))["leverage"] == 10
        assert (await fx.fetch_leverage(PERP))["longLeverage"] == 10
        before = await fx.fetch_balance()
        assert before["USDT"]["total"] == 50000 and before["USDT"]["used"] == 0
        o = await fx.create_order(PERP, "market", "buy", 0.5)
        assert o["status"] == "closed" and o["filled"] == 0.5           # futures market orders fill at once
        [pos] = await fx.fetch_positions([PERP])
        assert pos["side"] == "long" and pos["contracts"] == 0.5 and pos["entryPrice"] == o["average"]
        assert pos["marginMode"] == "cross"
        notional = 0.5 * pos["markPrice"]
        assert abs(pos["initialMargin"] - notional / 10) < 1e-6
        assert abs(pos["maintenanceMargin"] - notional * 0.004) < 1e-6
        bal = await fx.fetch_balance()
        fee = 0.5 * o["average"] * 0.0005
        assert abs(bal["USDT"]["used"] - notional / 10) < 1e-6
        assert abs(bal["USDT"]["total"] - (50000 - fee + pos["unrealizedPnl"])) < 1e-6
        acct = bal["info"]
        assert float(acct["totalPositionInitialMargin"]) == bal["USDT"]["used"]
        trades = await fx.fetch_my_trades(PERP)
        assert sum(t["amount"] for t in trades) == 0.5 and trades[0]["fee"]["currency"] == "USDT"
        fr = await fx.fetch_funding_rate(PERP)
        assert fr["fundingRate"] is not None and fr["markPrice"] > 0

        close = await fx.create_order(PERP, "market", "sell", 0.8, params={"reduceOnly": True})
        assert close["filled"] == 0.5                                    # reduce-only capped
        assert await fx.fetch_positions([PERP]) == []
    run(with_venue(body))


def test_futures_errors_margin_mode_and_post_only():
    async def body(venue, fx):
        await fx.load_markets()
        try:
            await fx.create_order(PERP, "limit", "buy", 50, 59000)       # 2.95M notional at 20x on 50k
            raise AssertionError("-2019 expected")
        except ccxt.InsufficientFunds as e:
            assert "-2019" in str(e)
        try:
            await fx.create_order(PERP, "market", "sell", 0.1, params={"reduceOnly": True})
            raise AssertionError("-2022 expected")
        except ccxt.InvalidOrder as e:
            assert "-2022" in str(e)
        try:
            await fx.create_order(PERP, "limit", "buy", 0.01, 70000, params={"postOnly": True})
            raise AssertionError("post-only taker accepted")
        except ccxt.InvalidOrder:
            pass
        await fx.set_margin_mode("isolated", PERP)
        try:
            await fx.set_margin_mode("isolated", PERP)
            raise AssertionError("-4046 expected")
        except ccxt.MarginModeAlreadySet:
            pass
        await fx.create_order(PERP, "market", "sell", 0.2)
        [pos] = await fx.fetch_positions([PERP])
        assert pos["side"] == "short" and pos["marginMode"] == "isolated" and pos["collateral"] > 0
        try:
            await fx.create_order("ETH/USDT:USDT", "market", "buy", 1)
            raise AssertionError("unknown market accepted")
        except ccxt.BadSymbol:
            pass
        try:
            await fx.fapiprivate_get_order({"symbol": "BTCUSDT", "orderId": 1})
            raise AssertionError("-2013 expected")
        except ccxt.OrderNotFound:
            pass
    run(with_venue(body))


def test_listen_key_user_stream():
    async def body(venue, fx):
        await fx.load_markets()
        watching = asyncio.ensure_future(fx.watch_orders(PERP))
        await asyncio.sleep(0.3)
        o = await fx.create_order(PERP, "limit", "buy", 0.01, 59000)
        seen = await asyncio.wait_for(watching, 5)
        assert seen[-1]["id"] == o["id"] and seen[-1]["status"] == "open"
        watching = asyncio.ensure_future(fx.watch_orders(PERP))
        await asyncio.sleep(0.05)
        m = await fx.create_order(PERP, "market", "buy", 0.01)
        seen = await asyncio.wait_for(watching, 5)
        assert any(x["id"] == m["id"] for x in seen)
        while not any(x["id"] == m["id"] and x["status"] == "closed" for x in seen):
            seen = await asyncio.wait_for(fx.watch_orders(PERP), 5)
        assert venue.server.listen_keys, "a listenKey was issued"
        w = await fx.create_order_ws(PERP, "limit", "buy", 0.01, 58000)      # /ws-fapi/v1 order.place
        assert w["status"] == "open" and w["price"] == 58000
        c = await fx.cancel_order_ws(w["id"], PERP)
        assert c["status"] == "canceled"
    run(with_venue(body))


def test_futures_book_stream_follows_the_engine():
    async def body(venue, fx):
        await fx.load_markets()
        ob = await fx.watch_order_book(PERP)
        bids, asks = venue.exchange.depth("BTCUSDT_PERP", 1)
        assert ob["bids"][0] == [float(bids[0][0]), float(bids[0][1])]
        venue.exchange.place_house_order("mm", "BTCUSDT_PERP", "BUY", "LIMIT", bids[0][1], bids[0][0] + 1)
        for _ in range(20):
            ob = await asyncio.wait_for(fx.watch_order_book(PERP), 5)
            if ob["bids"][0][0] == float(bids[0][0] + 1):
                break
        assert ob["bids"][0][0] == float(bids[0][0] + 1)
        assert ob["nonce"] == venue.exchange.books["BTCUSDT_PERP"].update_id
    run(with_venue(body))


def test_edit_order_modifies_in_place():
    async def body(venue, fx):
        await fx.load_markets()
        o = await fx.create_order(PERP, "limit", "buy", 0.01, 59000)
        e = await fx.edit_order(o["id"], PERP, "limit", "buy", 0.02, 59500)
        assert e["id"] == o["id"] and e["price"] == 59500 and e["amount"] == 0.02 and e["status"] == "open"
        [open_order] = await fx.fetch_open_orders(PERP)
        assert open_order["price"] == 59500
        best_ask = (await fx.fetch_order_book(PERP))["asks"][0][0]
        crossed = await fx.edit_order(o["id"], PERP, "limit", "buy", 0.02, best_ask)
        assert crossed["status"] == "closed" and crossed["filled"] == 0.02
    run(with_venue(body))


def test_watch_positions_and_balance_from_account_updates():
    async def body(venue, fx):
        await fx.load_markets()
        await fx.watch_positions([PERP])            # subscribes (and snapshots)
        balance_f = asyncio.ensure_future(fx.watch_balance())
        await asyncio.sleep(0.2)
        await fx.create_order(PERP, "market", "buy", 0.2)
        await fx.create_order(PERP, "market", "buy", 0.1)
        contracts = None
        for _ in range(10):
            positions = await asyncio.wait_for(fx.watch_positions([PERP]), 5)
            if positions and positions[-1]["contracts"] == 0.3:
                contracts = positions[-1]["contracts"]
                break
        assert contracts == 0.3 and positions[-1]["side"] == "long"
        bal = await asyncio.wait_for(balance_f, 5)
        assert 49_980 < bal["USDT"]["total"] < 50_000          # wallet after taker fees
    run(with_venue(body))

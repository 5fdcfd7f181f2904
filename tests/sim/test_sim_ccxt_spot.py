"""Unmodified ccxt (async REST) against a venue on loopback: markets, orders, balances and the
exception classes ccxt derives from the venue's Binance errors."""
from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import ccxt
import ccxt.async_support as ccxt_async

from fixgw.sim.server import ccxt_client, start_venue
from fixgw.sim.spec import RateLimitSpec, VenueSpec, default_symbols


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


async def with_venue(body, **spec_kw):
    venue = await start_venue(VenueSpec(name="spot-test", symbols=default_symbols(), **spec_kw))
    ex = ccxt_client(ccxt_async.binance, venue, "spot")
    try:
        await body(venue, ex)
    finally:
        await ex.close()
        await venue.stop()


def test_load_markets_book_ticker_balance():
    async def body(venue, ex):
        markets = await ex.load_markets()
        assert {"BTC/USDT", "ETH/USDT"} <= set(markets)
        m = markets["BTC/USDT"]
        assert m["precision"]["price"] == 0.01 and m["limits"]["cost"]["min"] == 5
        ob = await ex.fetch_order_book("BTC/USDT", 5)
        assert ob["bids"][0][0] < ob["asks"][0][0] and ob["nonce"] == venue.exchange.books["BTCUSDT"].update_id
        t = await ex.fetch_ticker("BTC/USDT")
        assert t["bid"] == ob["bids"][0][0] and t["ask"] == ob["asks"][0][0]
        bal = await ex.fetch_balance()
        assert bal["USDT"]["free"] == 100000 and bal["BTC"]["total"] == 2
        fees = await ex.fetch_trading_fees()
        assert fees["BTC/USDT"]["maker"] == 0.0002 and fees["BTC/USDT"]["taker"] == 0.0004
    run(with_venue(body, maker_fee=Decimal("0.0002"), taker_fee=Decimal("0.0004")))


def test_limit_place_query_cancel_and_locking():
    async def body(venue, ex):
        await ex.load_markets()
        o = await ex.create_order("BTC/USDT", "limit", "buy", 0.1, 59000, {"newClientOrderId": "cli-1"})
        assert o["status"] == "open" and o["clientOrderId"] == "cli-1"
        bal = await ex.fetch_balance()
        assert bal["USDT"]["used"] == 5900 and bal["USDT"]["free"] == 94100
        q = await ex.fetch_order(o["id"], "BTC/USDT")
        assert q["status"] == "open" and q["remaining"] == 0.1
        assert [x["id"] for x in await ex.fetch_open_orders("BTC/USDT")] == [o["id"]]
        c = await ex.cancel_order(o["id"], "BTC/USDT")
        assert c["status"] == "canceled" and c["info"]["origClientOrderId"] == "cli-1"
        assert (await ex.fetch_balance())["USDT"]["used"] == 0
        assert await ex.fetch_open_orders("BTC/USDT") == []
    run(with_venue(body))


def test_market_ioc_post_only_and_my_trades():
    async def body(venue, ex):
        await ex.load_markets()
        best_ask = (await ex.fetch_order_book("BTC/USDT"))["asks"][0][0]
        m = await ex.create_order("BTC/USDT", "market", "buy", 0.7)     # sweeps two 0.5 levels
        assert m["status"] == "closed" and m["filled"] == 0.7 and m["average"] > best_ask
        assert m["fee"]["currency"] == "BTC" and len(m["trades"]) == 2
        ioc = await ex.create_order("BTC/USDT", "limit", "sell", 0.8, 59990, {"timeInForce": "IOC"})
        assert ioc["status"] == "expired" and ioc["filled"] == 0.5      # one bid level above 59990
        try:
            await ex.create_order("BTC/USDT", "limit", "buy", 0.01, best_ask + 100, {"postOnly": True})
            raise AssertionError("post-only crossing order accepted")
        except ccxt.OrderImmediatelyFillable:
            pass
        po = await ex.create_order("BTC/USDT", "limit", "buy", 0.01, 59000, {"postOnly": True})
        assert po["status"] == "open" and po["info"]["type"] == "LIMIT_MAKER"
        trades = await ex.fetch_my_trades("BTC/USDT")
        assert len(trades) == 3 and {t["side"] for t in trades} == {"buy", "sell"}
        bal = await ex.fetch_balance()
        assert abs(bal["BTC"]["total"] - (2 + 0.7 * 0.999 - 0.5)) < 1e-9
    run(with_venue(body))


def test_exception_classes():
    async def body(venue, ex):
        await ex.load_markets()
        cases = [
            (ex.create_order("BTC/USDT", "limit", "buy", 5, 59000), ccxt.InsufficientFunds),
            (ex.create_order("BTC/USDT", "limit", "sell", 3, 61000), ccxt.InsufficientFunds),
            (ex.public_get_depth({"symbol": "NOPEUSDT"}), ccxt.BadSymbol),
            (ex.cancel_order("42", "BTC/USDT"), ccxt.OrderNotFound),
            (ex.fetch_order("42", "BTC/USDT"), ccxt.OrderNotFound),
            (ex.private_post_order({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                                    "quantity": "0.0000101", "price": "59000"}), ccxt.InvalidOrder),
            (ex.private_post_order({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                                    "quantity": "0.1", "price": "59000.001"}), ccxt.InvalidOrder),
        ]
        for coro, cls in cases:
            try:
                await coro
                raise AssertionError(f"expected {cls.__name__}")
            except cls:
                pass
        ex.secret = "0" * 64
        try:
            await ex.fetch_balance()
            raise AssertionError("bad signature accepted")
        except ccxt.AuthenticationError as e:
            assert "-1022" in str(e)
    run(with_venue(body))


def test_stale_timestamp_and_unknown_key_and_raw_errors_are_json():
    async def body(venue, ex):
        import aiohttp
        await ex.load_markets()
        ex.nonce = lambda: int(time.time() * 1000) - 60_000      # an old request, replayed
        try:
            await ex.fetch_balance()
            raise AssertionError("stale timestamp accepted")
        except ccxt.InvalidNonce as e:
            assert "-1021" in str(e)
        async with aiohttp.ClientSession() as s:
            async with s.get(venue.base_url + "/api/v3/account?timestamp=1&signature=x",
                             headers={"X-MBX-APIKEY": "unknown"}) as r:
                assert r.status == 401 and (await r.json())["code"] == -2015
            async with s.get(venue.base_url + "/api/v3/depth?symbol=BTCUSDT&limit=abc") as r:
                assert r.status == 400 and (await r.json())["code"] == -1100
            async with s.post(venue.base_url + "/api/v3/order", data=b"\xff\xfe garbage",
                              headers={"X-MBX-APIKEY": venue.spec.api_key}) as r:
                body = await r.json()
                assert r.status in (400, 401) and "Traceback" not in str(body) and body["code"] < 0
    run(with_venue(body))


def test_rate_limit_429_then_418_with_retry_after():
    async def body(venue, ex):
        import aiohttp
        await ex.load_markets()           # weight 20
        seen = []
        for _ in range(40):                          # windows are fixed minutes: may straddle one
            try:
                await ex.fetch_ticker("BTC/USDT")    # weight 2 each
            except ccxt.DDoSProtection as e:
                seen.append(str(e))
                if " 418 " in seen[-1]:
                    break
        assert any(" 429 " in s for s in seen) and any(" 418 " in s for s in seen)
        # ccxt raises DDoSProtection for HTTP 429/418 whatever the body says (binance.handle_errors)
        async with aiohttp.ClientSession() as s:
            async with s.get(venue.base_url + "/api/v3/ping") as r:
                assert r.status == 418 and int(r.headers["Retry-After"]) >= 1
                assert (await r.json())["code"] == -1003
    run(with_venue(body, rate_limits=RateLimitSpec(weight_per_minute=30, violations_before_ban=2, ban_seconds=60)))


def test_request_latency_is_added():
    async def body(venue, ex):
        loop = asyncio.get_running_loop()
        await ex.load_markets()
        t0 = loop.time()
        for _ in range(3):
            await ex.fetch_order_book("BTC/USDT", 5)
        assert loop.time() - t0 >= 3 * 0.04
    run(with_venue(body, request_latency_ms=40))


def test_second_account_trades_against_the_demo_account():
    async def body(venue, ex):
        venue.add_account("other", "k" * 64, "s" * 64, {"USDT": 10_000}, {})
        other = ccxt_client(ccxt_async.binance, venue, "spot", api_key="k" * 64, secret="s" * 64)
        try:
            await ex.load_markets()
            await other.load_markets()
            sell = await ex.create_order("BTC/USDT", "limit", "sell", 0.1, 60001)       # inside the spread
            buy = await other.create_order("BTC/USDT", "limit", "buy", 0.1, 60001)
            assert buy["status"] == "closed" and buy["average"] == 60001
            assert (await ex.fetch_order(sell["id"], "BTC/USDT"))["status"] == "closed"
            [t] = await ex.fetch_my_trades("BTC/USDT")
            assert t["takerOrMaker"] == "maker" and t["fee"]["currency"] == "USDT"
            assert (await other.fetch_balance())["BTC"]["total"] == 0.1 * 0.999
        finally:
            await other.close()
    run(with_venue(body))


def test_malformed_parameters_get_binance_errors():
    async def body(venue, ex):
        import aiohttp
        from urllib.parse import urlencode

        from fixgw.sim.auth import sign

        async def post(**params):
            params.setdefault("timestamp", int(time.time() * 1000))
            q = urlencode(params)
            q += "&signature=" + sign(q, venue.spec.api_secret)
            async with s.post(venue.base_url + "/api/v3/order", data=q,
                              headers={"X-MBX-APIKEY": venue.spec.api_key,
                                       "Content-Type": "application/x-www-form-urlencoded"}) as r:
                return r.status, (await r.json()).get("code")

        base = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                "quantity": "0.01", "price": "59000"}
        async with aiohttp.ClientSession() as s:
            assert await post(**{**base, "quantity": "1e5"}) == (400, -1100)
            assert await post(**{**base, "price": "NaN"}) == (400, -1100)
            assert await post(**{k: v for k, v in base.items() if k != "side"}) == (400, -1102)
            assert await post(**{**base, "type": "STOP"}) == (400, -1116)
            assert await post(**{**base, "side": "HOLD"}) == (400, -1117)
            assert await post(**{**base, "timeInForce": "DAY"}) == (400, -1115)
            assert await post(**{**base, "recvWindow": 100000}) == (400, -1131)
            assert await post(**{**base, "symbol": "BTCUSDX"}) == (400, -1121)
            assert await post(**base) == (200, None)
            assert len(venue.exchange.open_orders("demo")) == 1     # none of the bad ones rested
    run(with_venue(body))


def test_edit_order_is_cancel_replace():
    async def body(venue, ex):
        await ex.load_markets()
        o = await ex.create_order("BTC/USDT", "limit", "buy", 0.1, 59000)
        e = await ex.edit_order(o["id"], "BTC/USDT", "limit", "buy", 0.2, 58000)
        assert e["id"] != o["id"] and e["status"] == "open" and e["price"] == 58000 and e["amount"] == 0.2
        assert (await ex.fetch_order(o["id"], "BTC/USDT"))["status"] == "canceled"
        assert (await ex.fetch_balance())["USDT"]["used"] == 0.2 * 58000
        try:
            await ex.edit_order(o["id"], "BTC/USDT", "limit", "buy", 0.2, 58000)   # already cancelled
            raise AssertionError("replacing a cancelled order succeeded")
        except ccxt.BadResponse as err:        # ccxt's spot mapping of -2022
            assert "-2022" in str(err) and "-2011" in str(err)
    run(with_venue(body))


def test_my_trades_since_and_order_history():
    async def body(venue, ex):
        await ex.load_markets()
        first = await ex.create_order("BTC/USDT", "market", "buy", 0.01)
        await asyncio.sleep(0.01)
        second = await ex.create_order("BTC/USDT", "market", "buy", 0.02)
        since = second["timestamp"]
        trades = await ex.fetch_my_trades("BTC/USDT", since=since)
        assert [t["order"] for t in trades] == [second["id"]]
        assert len(await ex.fetch_my_trades("BTC/USDT")) == 2
        assert len(await ex.fetch_my_trades("BTC/USDT", limit=1)) == 1
        orders = await ex.fetch_orders("BTC/USDT")
        assert [o["id"] for o in orders] == [first["id"], second["id"]]
        assert [o["id"] for o in await ex.fetch_closed_orders("BTC/USDT", since=since)] == [second["id"]]
    run(with_venue(body))


def test_fetch_ohlcv_shows_traded_volume():
    async def body(venue, ex):
        await ex.load_markets()
        await ex.create_order("BTC/USDT", "market", "buy", 0.3)
        await ex.create_order("BTC/USDT", "market", "sell", 0.2)
        public = await ex.fetch_trades("BTC/USDT")
        assert [t["side"] for t in public][-2:] == ["buy", "sell"]
        since = public[-1]["timestamp"]
        assert [t["id"] for t in await ex.fetch_trades("BTC/USDT", since=since)] == [
            t["id"] for t in public if t["timestamp"] >= since]
        candles = await ex.fetch_ohlcv("BTC/USDT", "1m", limit=5)
        assert candles and abs(sum(c[5] for c in candles) - 0.5) < 1e-12
        last = candles[-1]
        assert last[2] >= last[1] >= last[3] and last[2] >= last[4] >= last[3]
        try:
            await ex.public_get_klines({"symbol": "BTCUSDT", "interval": "7m"})
            raise AssertionError("bad interval accepted")
        except ccxt.BadRequest as e:
            assert "-1120" in str(e)
    run(with_venue(body))


def test_self_trade_prevention_seen_through_ccxt():
    async def body(venue, ex):
        await ex.load_markets()
        mine = await ex.create_order("BTC/USDT", "limit", "sell", 0.1, 60001)
        taker = await ex.create_order("BTC/USDT", "limit", "buy", 0.1, 60001)
        assert taker["status"] == "expired" and taker["filled"] == 0
        assert taker["info"]["status"] == "EXPIRED_IN_MATCH"
        assert (await ex.fetch_order(mine["id"], "BTC/USDT"))["status"] == "open"
        assert (await ex.fetch_balance())["USDT"]["used"] == 0
    run(with_venue(body))

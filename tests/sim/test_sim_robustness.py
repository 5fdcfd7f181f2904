"""Every REST route and ws-api method, fed malformed or hostile parameters (signed correctly, so
they reach the handlers): always Binance JSON with a 4xx, never a 500 or a stack trace, and the
venue keeps serving."""
from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
from urllib.parse import urlencode

import aiohttp

from fixgw.sim.auth import sign, ws_payload
from fixgw.sim.server import start_venue
from fixgw.sim.spec import RateLimitSpec, VenueSpec, default_symbols

NAMES = ["symbol", "side", "type", "timeInForce", "quantity", "price", "quoteOrderQty", "orderId",
         "origClientOrderId", "newClientOrderId", "limit", "leverage", "marginType", "reduceOnly",
         "cancelReplaceMode", "cancelOrderId", "newOrderRespType"]
VALUES = ["", "0", "-1", "1e9", "NaN", "abc", "BTCUSDT", "BUY", "SELL", "LIMIT", "MARKET", "GTC", "IOC",
          "99999999999999999999", "0.00000000000000000001", "60000", "0.01", "true", "ISOLATED",
          "STOP_ON_FAILURE", "\u00e9\u00e9", "%00", "LIMIT_MAKER", "GTX", "FULL", "1000001"]


def test_fuzzed_parameters_never_crash_a_handler():
    async def main():
        unlimited = RateLimitSpec(weight_per_minute=10**9, orders_per_10s=10**9)
        venue = await start_venue(VenueSpec(name="fuzz", symbols=default_symbols(), rate_limits=unlimited))
        rng = random.Random(1234)
        key, secret = venue.spec.api_key, venue.spec.api_secret
        statuses = set()
        try:
            async with aiohttp.ClientSession() as s:
                for route, _ in itertools.product(venue.server.routes, range(12)):
                    params = {n: rng.choice(VALUES) for n in rng.sample(NAMES, rng.randint(0, 7))}
                    params["timestamp"] = int(time.time() * 1000)
                    q = urlencode(params)
                    q += "&signature=" + sign(q, secret)
                    url = venue.base_url + route.path
                    headers = {"X-MBX-APIKEY": key}
                    if route.method in ("GET", "DELETE"):
                        req = s.request(route.method, url + "?" + q, headers=headers)
                    else:
                        headers["Content-Type"] = "application/x-www-form-urlencoded"
                        req = s.request(route.method, url, data=q, headers=headers)
                    async with req as r:
                        text = await r.text()
                        statuses.add(r.status)
                        assert r.status < 500, (route.path, params, text)
                        body = json.loads(text)
                        if r.status >= 400:
                            assert isinstance(body["code"], int) and body["msg"], text
                        assert "Traceback" not in text
                async with s.ws_connect(venue.base_url.replace("http", "ws") + "/ws-api/v3") as ws:
                    for i in range(200):
                        method = rng.choice(["order.place", "order.cancel", "order.status", "openOrders.status",
                                             "account.status", "myTrades", "depth", "nope", "ping"])
                        params = {n: rng.choice(VALUES) for n in rng.sample(NAMES, rng.randint(0, 7))}
                        params.update(apiKey=key, timestamp=int(time.time() * 1000))
                        params["signature"] = sign(ws_payload(params), secret)
                        await ws.send_str(json.dumps({"id": i, "method": method, "params": params}))
                        reply = json.loads((await ws.receive()).data)
                        assert reply["id"] == i and reply["status"] < 500, reply
                    await ws.send_str("{not json")
                    assert json.loads((await ws.receive()).data)["status"] == 400
                async with s.get(venue.base_url + "/api/v3/ping") as r:
                    assert r.status == 200
        finally:
            await venue.stop()
        assert 200 in statuses and 400 in statuses
    asyncio.run(asyncio.wait_for(main(), 90))

"""Several venues at once, each on its own port with its own fees, offset and latency, and the
same API key format: routing has something to choose between."""
from __future__ import annotations

import asyncio
from decimal import Decimal as D

import ccxt.async_support as ccxt_async

from fixgw.sim.server import ccxt_client, start_venue
from fixgw.sim.spec import VenueSpec, default_symbols


def test_two_venues_differ_in_price_fee_and_latency():
    async def main():
        a = await start_venue(VenueSpec(name="cheap", symbols=default_symbols(), taker_fee=D("0.0005")))
        b = await start_venue(VenueSpec(name="dear", symbols=default_symbols(), taker_fee=D("0.002"),
                                        price_offset_bps=D("10"), request_latency_ms=30))
        ea, eb = ccxt_client(ccxt_async.binance, a, "spot"), ccxt_client(ccxt_async.binance, b, "spot")
        try:
            assert a.port != b.port and a.spec.api_key != b.spec.api_key
            await ea.load_markets()
            await eb.load_markets()
            ta, tb = await ea.fetch_ticker("BTC/USDT"), await eb.fetch_ticker("BTC/USDT")
            assert tb["bid"] > ta["bid"] and abs(tb["last"] / ta["last"] - 1.001) < 1e-4
            fa = await ea.create_order("BTC/USDT", "market", "buy", 0.1)
            fb = await eb.create_order("BTC/USDT", "market", "buy", 0.1)
            assert abs(fa["fee"]["cost"] - 0.00005) < 1e-12 and abs(fb["fee"]["cost"] - 0.0002) < 1e-12
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            await eb.fetch_time()
            slow = loop.time() - t0
            t0 = loop.time()
            await ea.fetch_time()
            assert slow >= 0.03 > loop.time() - t0
            try:                                       # one venue's key means nothing on the other
                ea.apiKey, ea.secret = b.spec.api_key, b.spec.api_secret
                await ea.fetch_balance()
                raise AssertionError("venue B's key accepted by venue A")
            except Exception as e:  # noqa: BLE001
                assert "-2015" in str(e)
        finally:
            await ea.close()
            await eb.close()
            await a.stop()
            await b.stop()
    asyncio.run(asyncio.wait_for(main(), 60))

"""A websocket client of a venue driven by the market model sees a living book at once."""
from __future__ import annotations

import asyncio
import time

from fixgw.clock import LiveClock
from fixgw.sim.market import MarketModelFactory
from fixgw.sim.server import start_venue

from sim_market_helpers import btc_only_spec


def test_websocket_book_changes_several_times_within_a_second_in_real_time():
    async def main():
        venue = await start_venue(btc_only_spec("simW"), LiveClock(), MarketModelFactory({}, seed=9))
        import ccxt.pro as ccxtpro
        from fixgw.sim.server import ccxt_options, ccxt_urls
        ex = ccxtpro.binance({"apiKey": venue.spec.api_key, "secret": venue.spec.api_secret,
                              "enableRateLimit": False, "options": ccxt_options("spot")})
        ex.urls["api"] = ccxt_urls(venue.base_url)
        try:
            await ex.load_markets()
            seen = []
            start = time.monotonic()
            while time.monotonic() - start < 1.0:
                book = await asyncio.wait_for(ex.watch_order_book("BTC/USDT"), 2.0)
                seen.append((book["nonce"], book["bids"][0][0], book["asks"][0][0]))
            return seen
        finally:
            await ex.close()
            await venue.stop()
    seen = asyncio.run(main())
    nonces = {n for n, _, _ in seen}
    assert len(nonces) >= 4, seen                 # several diffs applied within one second
    assert all(b < a for _, b, a in seen)

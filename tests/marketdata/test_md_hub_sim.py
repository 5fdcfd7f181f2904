"""MarketDataHub against real embedded venues through ccxt.pro watch_order_book / watch_trades."""
from __future__ import annotations

import asyncio
import logging
import time
from decimal import Decimal as D

from fixgw.domain import Side
from fixgw.marketdata.hub import MarketDataConfig, MarketDataHub
from fixgw.sim.server import start_venue
from fixgw.sim.spec import VenueSpec, default_symbols
from fixgw.venues.base import VenueFees
from fixgw.venues.ccxt_adapter import CcxtVenueAdapter
from fixgw.venues.config import Credentials, VenueConfig


async def two_venues():
    a = await start_venue(VenueSpec(name="sim-a", symbols=default_symbols(), taker_fee=D("0.001")))
    b = await start_venue(VenueSpec(name="sim-b", symbols=default_symbols(), taker_fee=D("0.0004"),
                                    maker_fee=D("0.0002"), price_offset_bps=D("3")))
    adapters = {}
    for v in (a, b):
        cfg = VenueConfig(name=v.spec.name, base_url=v.base_url, symbols=("BTC/USDT", "BTC/USDT:USDT"),
                          fees=None)
        ad = CcxtVenueAdapter(cfg, credentials=Credentials(v.spec.api_key, v.spec.api_secret))
        await ad.connect()
        adapters[v.spec.name] = ad
    return a, b, adapters


async def wait_for(predicate, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        await asyncio.sleep(0.02)
    return predicate()


def run(coro):
    asyncio.run(asyncio.wait_for(coro, 60))


async def teardown(hub, adapters, *venues):
    await hub.stop()
    for ad in adapters.values():
        await ad.close()
    for v in venues:
        await v.stop()


def test_books_consolidate_with_fees_and_match_venue_depth():
    async def main():
        a, b, adapters = await two_venues()
        hub = MarketDataHub(adapters, config=MarketDataConfig(stale_after_s=5))
        # no fees in config: each adapter fetched its account's commission rates from the venue
        assert hub.fees("sim-a", "BTC/USDT") == VenueFees(D("0.001"), D("0.001"))
        assert hub.fees("sim-b", "BTC/USDT") == VenueFees(D("0.0002"), D("0.0004"))
        await hub.start()
        try:
            assert await hub.wait_ready(["BTC/USDT"], timeout=10)
            cb = hub.consolidated("BTC/USDT")
            assert [q.venue for q in cb.venues] == ["sim-a", "sim-b"] and cb.stale == ()
            for v in (a, b):
                bids, asks = v.exchange.depth("BTCUSDT", 5)
                snap = cb.quote(v.spec.name).book
                assert snap.bids[:5] == tuple(bids) and snap.asks[:5] == tuple(asks)
                assert all(isinstance(p, D) and isinstance(q, D) for p, q in snap.bids)
            best_bid = max(cb.quote(n).book.best_bid for n in ("sim-a", "sim-b"))
            best_ask = min(cb.quote(n).book.best_ask for n in ("sim-a", "sim-b"))
            assert hub.mid("BTC/USDT") == (best_bid + best_ask) / 2
            top = cb.taker_levels(Side.BUY)[0]
            q = cb.quote(top.venue)
            assert top.all_in_price == q.book.best_ask * (1 + q.fees.taker)
            # the perpetual is consolidated too, with the venues' futures fees
            perp = hub.consolidated("BTC/USDT:USDT")
            assert [q.venue for q in perp.venues] == ["sim-a", "sim-b"]
            assert perp.quote("sim-a").fees == VenueFees(D("0.0002"), D("0.0005"))
            bids, asks = a.exchange.depth("BTCUSDT_PERP", 3)
            assert perp.quote("sim-a").book.asks[:3] == tuple(asks)
            # a change on the venue shows up in the hub's book
            a.exchange.place_house_order("house-y", "BTCUSDT", "BUY", "LIMIT", D("1.5"), D("59999"))
            assert await wait_for(lambda: hub.book("sim-a", "BTC/USDT").best_bid == D("59999"))
        finally:
            await teardown(hub, adapters, a, b)
    run(main())


def test_trades_feed_volume_since():
    async def main():
        a, b, adapters = await two_venues()
        hub = MarketDataHub(adapters)
        seen = []
        hub.on_trade(seen.append)
        await hub.start()
        try:
            assert await hub.wait_ready(timeout=10)
            await asyncio.sleep(0.3)  # trade subscriptions are live
            t0 = time.time() - 1
            a.exchange.place_house_order("house-y", "BTCUSDT", "BUY", "MARKET", D("0.3"))
            b.exchange.place_house_order("house-y", "BTCUSDT", "SELL", "MARKET", D("0.45"))
            a.exchange.place_house_order("house-y", "BTCUSDT", "SELL", "MARKET", D("0.2"))
            assert await wait_for(lambda: hub.volume_since("BTC/USDT", t0) == D("0.95"), 5)
            assert hub.volume_since("BTC/USDT", t0, venue="sim-b") == D("0.45")
            assert hub.volume_since("BTC/USDT", time.time() + 60) == 0
            assert hub.cumulative_volume("BTC/USDT") == D("0.95")
            assert hub.last_price("BTC/USDT") is not None
            assert {t.venue for t in seen} == {"sim-a", "sim-b"}
        finally:
            await teardown(hub, adapters, a, b)
    run(main())


def test_sequence_gap_resyncs_and_dead_venue_goes_stale(caplog):
    caplog.set_level(logging.INFO, logger="fixgw.marketdata")

    async def main():
        a, b, adapters = await two_venues()
        hub = MarketDataHub(adapters, config=MarketDataConfig(stale_after_s=0.8, check_interval_s=0.05,
                                                              retry_backoff_s=0.05))
        await hub.start()
        try:
            assert await hub.wait_ready(timeout=10)
            # one diff applied first (ccxt checks U == previous u + 1 from the second diff on)
            a.exchange.place_house_order("house-y", "BTCUSDT", "BUY", "LIMIT", D("0.3"), D("59991"))
            assert await wait_for(lambda: hub.book("sim-a", "BTC/USDT").best_bid == D("59994")
                                  and any(p == D("59991") for p, _ in hub.book("sim-a", "BTC/USDT").bids))
            # a depth diff skips update ids: ccxt raises ChecksumError, the hub re-snapshots
            a.skip_depth_sequence("BTCUSDT")
            a.exchange.place_house_order("house-y", "BTCUSDT", "BUY", "LIMIT", D("0.7"), D("59990"))
            assert await wait_for(lambda: any("sim-a BTC/USDT book stale" in r.getMessage()
                                              for r in caplog.records), 5)
            assert await wait_for(lambda: not hub.is_stale("sim-a", "BTC/USDT"), 5)
            assert any("sim-a BTC/USDT book stale (ChecksumError" in r.getMessage() for r in caplog.records)
            assert await wait_for(lambda: any("sim-a BTC/USDT book recovered" in r.getMessage()
                                              for r in caplog.records), 2)
            assert await wait_for(lambda: any(lv == (D("59990"), D("0.7"))
                                              for lv in hub.book("sim-a", "BTC/USDT").bids), 5)
            # keep sim-a's book moving while sim-b dies; only sim-b must go stale
            await b.stop()

            async def churn():
                for i in range(40):
                    a.exchange.place_house_order("house-y", "BTCUSDT", "BUY", "LIMIT", D("0.01"), D("59900"))
                    await asyncio.sleep(0.05)
            await churn()
            cb = hub.consolidated("BTC/USDT")
            assert [q.venue for q in cb.venues] == ["sim-a"] and cb.stale == ("sim-b",)
            stale_b = [r for r in caplog.records if "sim-b BTC/USDT book stale" in r.getMessage()]
            assert len(stale_b) == 1 and "excluded from routing" in stale_b[0].getMessage()
        finally:
            await teardown(hub, adapters, a)
    run(main())

"""An order too big for one venue's book, routed by the SOR over live consolidated books of
three embedded venues and executed through ccxt: its average all-in fill price equals the best
achievable across the consolidated book for that size (brute force)."""
from __future__ import annotations

import asyncio
import itertools
from dataclasses import replace
from decimal import Decimal as D

from fixgw.domain import OrdType, Side, TimeInForce
from fixgw.marketdata.hub import MarketDataHub
from fixgw.routing.sor import Liquidity, RouteRequest
from fixgw.sim.server import start_venue
from fixgw.sim.spec import VenueSpec, default_symbols
from fixgw.venues.base import VenueFill, VenueOrderRequest, VenueOrderState
from fixgw.venues.ccxt_adapter import CcxtVenueAdapter
from fixgw.venues.config import Credentials, VenueConfig
from fixgw.venues.factory import build_router, close_all

VENUES = (("sim-a", "0", "0.001"), ("sim-b", "2", "0.0002"), ("sim-c", "-1", "0.0015"))


def thin_symbols():
    btc = replace(default_symbols()[0], seed_levels=4, seed_level_qty=D("0.25"), seed_spacing_bps=D("1"))
    return (btc,)


def cost_of(levels, qty, fee):
    notional, left = D(0), qty
    for p, q in levels:
        take = min(q, left)
        notional += take * p
        left -= take
        if left == 0:
            return notional * (1 + fee)
    return None


def brute_force(cb, qty, step):
    n = int(qty / step)
    best = None
    quotes = cb.venues
    for split in itertools.product(range(n + 1), repeat=len(quotes) - 1):
        last = n - sum(split)
        if last < 0:
            continue
        total = D(0)
        for k, q in zip((*split, last), quotes):
            if k:
                c = cost_of(q.book.asks, k * step, q.fees.taker)
                if c is None:
                    break
                total += c
        else:
            best = total if best is None or total < best else best
    return best


def test_big_order_split_across_venues_at_best_all_in_price():
    async def main():
        venues, adapters = [], {}
        for name, offset, taker in VENUES:
            v = await start_venue(VenueSpec(name=name, symbols=thin_symbols(), taker_fee=D(taker),
                                            price_offset_bps=D(offset),
                                            spot_balances={"USDT": D("1000000"), "BTC": D("0")}))
            venues.append(v)
            ad = CcxtVenueAdapter(VenueConfig(name=name, base_url=v.base_url, symbols=("BTC/USDT",)),
                                  credentials=Credentials(v.spec.api_key, v.spec.api_secret))
            await ad.connect()
            adapters[name] = ad
        events = []
        for ad in adapters.values():
            ad.on_event(events.append)
        hub = MarketDataHub(adapters)
        await hub.start()
        try:
            assert await hub.wait_ready(["BTC/USDT"], timeout=10)
            cb = hub.consolidated("BTC/USDT")
            qty = D("2.5")
            # each venue shows 1 BTC of asks: no single venue can fill the order
            assert all(sum(q for _, q in quote.book.asks) < qty for quote in cb.venues)
            router = build_router(adapters)
            plan = router.route(cb, RouteRequest("BTC/USDT", Side.BUY, qty))
            assert plan.remainder == 0 and plan.allocated == qty
            assert len({a.venue for a in plan.allocations}) >= 2
            best = brute_force(cb, qty, D("0.05"))
            assert plan.expected_cost == best
            # execute: one IOC limit child per allocation, at the worst level it must reach
            for i, alloc in enumerate(plan.allocations):
                assert alloc.liquidity is Liquidity.TAKER
                u = await adapters[alloc.venue].submit(VenueOrderRequest(
                    f"sor-{i}", "BTC/USDT", Side.BUY, OrdType.LIMIT, alloc.quantity, alloc.price,
                    TimeInForce.IOC))
                assert u.state is VenueOrderState.FILLED and u.filled == alloc.quantity

            def filled():
                return sum((e.quantity for e in events if isinstance(e, VenueFill)), D(0))
            for _ in range(250):
                if filled() == qty:
                    break
                await asyncio.sleep(0.02)
            fills = [e for e in events if isinstance(e, VenueFill)]
            assert filled() == qty
            all_in = sum(f.price * f.quantity * (1 + adapters[f.venue].fees_for("BTC/USDT").taker)
                         for f in fills)
            assert all_in == best
            assert all_in / qty == plan.avg_all_in_price
            assert {f.venue for f in fills} == {a.venue for a in plan.allocations}
            # the venues charged exactly the taker fee the router priced in (in BTC, for a buy)
            for f in fills:
                assert f.fee == f.quantity * adapters[f.venue].fees_for("BTC/USDT").taker
            print([(a.venue, a.quantity, a.price) for a in plan.allocations], plan.avg_all_in_price)
        finally:
            await hub.stop()
            await close_all(adapters)
            for v in venues:
                await v.stop()
    asyncio.run(asyncio.wait_for(main(), 60))

"""The issue's key test: over unmodified ccxt, a 10 BTC market sweep costs measurably more
against the arrival price than the same quantity spread over time, on the same seed."""
from __future__ import annotations

import asyncio
from decimal import Decimal

from fixgw.clock import ScaledClock
from fixgw.sim.market import MarketModelFactory
from fixgw.sim.server import start_venue

from sim_market_helpers import btc_only_spec, point_ccxt

SCALE = 20.0                 # a minute of market time in three seconds
SEED = 2024
MARKET = {"symbols": {"BTC/USDT": {"volatility": 1.0e-5, "jump_intensity": 0}}}


async def _execute(slices: int, interval: float) -> tuple[float, float]:
    """Buy 10 BTC in ``slices`` market orders ``interval`` market seconds apart; return
    (cost against arrival in bps, market seconds it took)."""
    clock = ScaledClock(scale=SCALE)
    factory = MarketModelFactory(MARKET, seed=SEED, step_seconds=0.5)
    venue = await start_venue(btc_only_spec("simK", taker_fee=Decimal("0.0004")), clock, factory)
    ex = point_ccxt(venue)
    try:
        await ex.load_markets()
        await asyncio.sleep(clock.wall_seconds(5.0))          # let the model warm up
        book = await ex.fetch_order_book("BTC/USDT", 5)
        arrival = (book["bids"][0][0] + book["asks"][0][0]) / 2
        started = clock.now()
        child = 10 / slices
        cost = filled = 0.0
        for k in range(slices):
            order = await ex.create_order("BTC/USDT", "market", "buy", child)
            assert order["status"] == "closed", order
            filled += order["filled"]
            cost += order["cost"]
            if k < slices - 1:
                await asyncio.sleep(clock.wall_seconds(interval))
        took = clock.now() - started
        assert abs(filled - 10) < 1e-9
        # the model saw it all as client flow
        assert factory.models["simK"].net_aggressive_volume("BTCUSDT") == Decimal(10)
        return (cost / filled - arrival) / arrival * 1e4, took
    finally:
        await ex.close()
        await venue.stop()


def test_sweep_costs_more_than_slicing_on_the_same_seed():
    async def main():
        sweep_bps, _ = await _execute(1, 0)
        sliced_bps, took = await _execute(20, 3.0)
        return sweep_bps, sliced_bps, took
    sweep_bps, sliced_bps, took = asyncio.run(main())
    print(f"10 BTC: sweep {sweep_bps:.2f} bps, 20 slices over {took:.0f}s {sliced_bps:.2f} bps")
    assert took >= 50                                          # it really was spread out
    assert sweep_bps > 4.0                                     # walking ~40 levels of the ladder
    assert sweep_bps - sliced_bps > 3.0, (sweep_bps, sliced_bps)
    assert sliced_bps < sweep_bps / 2

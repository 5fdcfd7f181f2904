"""Helpers for market-model tests: the real matching engine driven by a fake clock."""
from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from fixgw.clock import FakeClock
from fixgw.sim.engine import Exchange
from fixgw.sim.market import MarketModelFactory, MarketWorld
from fixgw.sim.spec import VenueSpec, default_symbols

BTC = "BTCUSDT"

#: a market with nothing random in it: no diffusion, no jumps, no background flow, flat ladder
QUIET_BTC = {"volatility": 0, "jump_intensity": 0, "background_volume": 0, "depth_jitter": 0}


def btc_only_spec(name: str = "simT", **kw) -> VenueSpec:
    return VenueSpec(name=name, symbols=(default_symbols()[0],), seed_book=False,
                     spot_balances={"USDT": Decimal("5000000"), "BTC": Decimal("100")}, **kw)


def build(market: dict | None = None, *, seed: int = 7, spec: VenueSpec | None = None,
          step_seconds: float = 0.1, world: MarketWorld | None = None,
          clock: FakeClock | None = None):
    """(clock, exchange, model) with the model already stepped once (ladder placed)."""
    clock = clock or FakeClock()
    spec = spec or btc_only_spec()
    exchange = Exchange(spec, clock)
    factory = MarketModelFactory(market or {}, seed=seed, step_seconds=step_seconds, world=world)
    model = factory(exchange, spec, clock)
    model.step(clock.now())
    return clock, exchange, model


def run(clock: FakeClock, model, seconds: float, dt: float = 0.1) -> None:
    steps = int(round(seconds / dt))
    for _ in range(steps):
        clock.advance(dt)
        model.step(clock.now())


def user_market(exchange: Exchange, side: str, qty: str, symbol: str = BTC):
    """A client (non-house) market order through the engine's order entry."""
    order, fills = exchange.place_order("demo", exchange.markets[symbol], side, "MARKET", Decimal(qty))
    return order, fills


def quiet(symbols=(("BTC/USDT", QUIET_BTC),), **extra) -> dict:
    return {"symbols": {s: dict(v) for s, v in symbols}, **extra}


def total_depth(exchange: Exchange, symbol: str = BTC) -> tuple[Decimal, Decimal]:
    bids, asks = exchange.depth(symbol, 1000)
    return sum((q for _, q in bids), Decimal(0)), sum((q for _, q in asks), Decimal(0))


__all__ = ["BTC", "QUIET_BTC", "btc_only_spec", "build", "run", "user_market", "quiet", "total_depth", "replace"]


def point_ccxt(venue, kind: str = "spot"):
    """Unmodified ccxt binance (async) aimed at a running venue: URLs and options only."""
    import ccxt.async_support as ccxt_async

    from fixgw.sim.server import ccxt_options, ccxt_urls
    cls = ccxt_async.binance if kind == "spot" else ccxt_async.binanceusdm
    ex = cls({"apiKey": venue.spec.api_key, "secret": venue.spec.api_secret,
              "enableRateLimit": False, "options": ccxt_options(kind)})
    ex.urls["api"] = ccxt_urls(venue.base_url)
    table = "spot" if kind == "spot" else "linear"
    ex.exceptions["exact"] = {**ex.exceptions["exact"], **ex.exceptions[table]["exact"]}
    return ex

"""Shared harness for the user-data stream tests: a real embedded venue, a CcxtVenueAdapter
over unmodified ccxt, and the few levers those tests pull on the live pair (slowing the
adapter's watch re-arms, dropping the venue's user-data connections)."""
from __future__ import annotations

import asyncio
import socket
from decimal import Decimal as D

from fixgw.domain import OrdType, Side, TimeInForce
from fixgw.sim.server import start_venue
from fixgw.sim.spec import VenueSpec, default_symbols
from fixgw.venues.base import VenueFill, VenueOrderRequest, VenueOrderState
from fixgw.venues.ccxt_adapter import CcxtVenueAdapter
from fixgw.venues.config import Credentials, VenueConfig

SYMBOLS = ("BTC/USDT", "BTC/USDT:USDT")


async def venue_and_adapter(spec_kwargs=None, *, name="sim-g", symbols=SYMBOLS, **cfg_kwargs):
    """A simulated venue and a connected adapter on it; ``events`` collects what it delivers."""
    venue = await start_venue(VenueSpec(name=name, symbols=default_symbols(), **(spec_kwargs or {})))
    cfg = VenueConfig(name=name, base_url=venue.base_url, symbols=symbols,
                      **{"poll_interval_s": 0.1, **cfg_kwargs})
    adapter = CcxtVenueAdapter(cfg, credentials=Credentials(venue.spec.api_key, venue.spec.api_secret))
    events: list = []
    adapter.on_event(events.append)
    await adapter.connect()
    return venue, adapter, events


async def wait_for(predicate, timeout=5.0):
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        if predicate():
            return True
        await asyncio.sleep(0.01)
    return predicate()


def slow_rearm(exchange, delay_s: float) -> dict[str, list[float]]:
    """Wrap the exchange's user-data watches: every call (a re-arm after the previous watch
    returned) waits ``delay_s`` before it reaches ccxt. Returns the loop times of the calls."""
    loop = asyncio.get_running_loop()
    calls: dict[str, list[float]] = {"watch_orders": [], "watch_my_trades": []}
    for name in calls:
        real = getattr(exchange, name)

        async def delayed(*args, _real=real, _name=name, **kwargs):
            calls[_name].append(loop.time())
            await asyncio.sleep(delay_s)
            return await _real(*args, **kwargs)

        setattr(exchange, name, delayed)
    return calls


def user_clients(exchange) -> list:
    """ccxt's websocket clients of the exchange that carry user data."""
    return [c for c in (exchange.clients or {}).values()
            if "ws-api" in c.url or "listenKey" in c.url or "private" in c.url]


def watch_registered(exchange, message_hash: str) -> bool:
    """Whether a watch for ``message_hash`` ("orders", "myTrades") is pending with ccxt on a
    user-data connection: a connection closed now would fail it."""
    return any(c.futures.get(message_hash) for c in user_clients(exchange))


def both_watches_registered(exchange) -> bool:
    """Both user-data watches armed with ccxt. Why tests wait for it: a stream is up once the
    orders watch is, and the trades loop arms its own a moment later; a fill in between is
    parsed by ccxt with nobody woken, so only a sweep would deliver it."""
    return watch_registered(exchange, "orders") and watch_registered(exchange, "myTrades")


def user_connections(venue, kind: str) -> list:
    """The venue's live user-data connections (spot: ws-api subscribers; linear: listenKey)."""
    users = venue.server.spot_users if kind == "spot" else venue.server.futures_users
    return [c for conns in users.values() for c in conns]


async def drop_user_connections(venue, kind: str) -> int:
    """Close every user-data connection of ``kind`` from the venue side, as a venue does on
    maintenance or a listenKey rotation. Returns how many were closed."""
    conns = user_connections(venue, kind)
    for c in conns:
        await c.ws.close()
    return len(conns)


def dead_ws_url() -> str:
    """A ws URL nothing listens on: the adapter's user-data stream stays down (REST polls)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"ws://127.0.0.1:{port}"


async def open_with_partial_fill_and_slow_rearm(venue, adapter, events, ex, symbol: str,
                                                venue_symbol: str, cid: str,
                                                delay_s: float) -> dict[str, list[float]]:
    """The set-up of the stream-gap tests: both watches re-arm ``delay_s`` late, a 0.2 limit
    buy rests (its NEW returns the orders watch), and a 0.05 house sell fills part of it (the
    fill returns the trades watch). Returns ``slow_rearm``'s call times; on return neither
    watch is registered with ccxt until ``delay_s`` after those calls."""
    assert await wait_for(lambda: both_watches_registered(ex)), "a watch never armed"
    calls = slow_rearm(ex, delay_s)
    u = await adapter.submit(limit_buy(cid, symbol, "0.2", "60000"))
    assert u.state is VenueOrderState.OPEN
    assert await wait_for(lambda: calls["watch_orders"]), "orders watch never returned"
    venue.exchange.place_house_order("house-x", venue_symbol, "SELL", "MARKET", D("0.05"))
    assert await wait_for(lambda: len(of(events, cid, VenueFill)) == 1)
    assert await wait_for(lambda: calls["watch_my_trades"]), "trades watch never returned"
    return calls


def of(events, cid, kind):
    return [e for e in events if isinstance(e, kind) and e.client_order_id == cid]


def limit_buy(cid, symbol, qty, price):
    return VenueOrderRequest(cid, symbol, Side.BUY, OrdType.LIMIT, D(qty), D(price), TimeInForce.GTC)


def run(coro):
    asyncio.run(asyncio.wait_for(coro, 60))

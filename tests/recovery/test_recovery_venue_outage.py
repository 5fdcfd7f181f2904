"""A venue drops off the network mid-order (its websockets die, new connections are refused)
and comes back; the fills it made meanwhile reach the OMS exactly once.

Real parts: an embedded simulated venue (matching engine + market model + Binance-style REST
and websocket API on loopback) reached by the gateway as an *external* venue (``base_url`` and
credentials, the path a real exchange takes) through a TCP proxy that the test cuts and
restores; the gateway in-process (session layer, OMS, ccxt adapter); a FIX client over TCP;
a house account of the venue as the counterparty; the venue's REST trade history (ccxt) as
the truth.
"""
from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections import Counter
from decimal import Decimal

import ccxt.async_support as ccxt
import pytest

from fixgw.domain import ExecType, OrdStatus, Side, TimeInForce
from fixgw.oms.client import OrderClient
from fixgw.oms.embedded import GatewayThread, gateway_document
from fixgw.sim.launcher import start_sim_venues
from fixgw.sim.market_config import load_sim_config
from fixgw.sim.server import ccxt_options, ccxt_urls

from recovery_harness import free_port, unique_by_seq

D = Decimal
VENUE, MARKET_ID, SYMBOL = "ext", "BTCUSDT", "BTC/USDT"
KEY_ENV, SECRET_ENV = "FIXGW_TEST_OUTAGE_KEY", "FIXGW_TEST_OUTAGE_SECRET"


class LoopThread:
    """An event loop in a background thread (the venue and the proxy live here)."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float = 30.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn, timeout: float = 30.0):
        async def wrapper():
            return fn()
        return self.run(wrapper(), timeout)

    def close(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


class OutageProxy:
    """A TCP proxy 127.0.0.1:port -> the venue; ``cut()`` is the outage, ``restore()`` ends it."""

    def __init__(self, port: int, upstream_port: int):
        self.port, self.upstream_port = port, upstream_port
        self.server: asyncio.AbstractServer | None = None
        self.pipes: set[asyncio.StreamWriter] = set()
        self.accepted = 0

    async def restore(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port,
                                                 reuse_address=True)

    async def cut(self) -> None:
        self.server.close()
        await self.server.wait_closed()
        for writer in list(self.pipes):
            writer.transport.abort()          # connections die, as in a network outage
        self.pipes.clear()

    async def _serve(self, reader, writer) -> None:
        self.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.transport.abort()
            return
        self.pipes |= {writer, up_writer}
        await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))

    async def _pump(self, reader, writer) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self.pipes.discard(writer)
            writer.transport.abort()


async def start_venue_behind_proxy(proxy_port: int):
    config = load_sim_config()
    spec = config.venues[0]
    config = dataclasses.replace(config, venues=(dataclasses.replace(spec, name=VENUE),))
    venues = await start_sim_venues(config)
    running = venues.running[0]
    proxy = OutageProxy(proxy_port, running.port)
    await proxy.restore()
    return venues, running, proxy


async def venue_trades(base_url: str, key: str, secret: str):
    ex = ccxt.binance({"apiKey": key, "secret": secret, "options": ccxt_options("spot"),
                       "enableRateLimit": False})
    ex.urls["api"] = ccxt_urls(base_url)
    try:
        trades = await ex.fetch_my_trades(SYMBOL)
    finally:
        await ex.close()
    return [(VENUE, D(t["info"]["price"]), D(t["info"]["qty"])) for t in trades]


@pytest.mark.timeout(120)
def test_fills_made_during_a_venue_outage_are_reported_once(tmp_path, monkeypatch):
    side_loop = LoopThread()
    venues = proxy = None
    try:
        proxy_port = free_port()
        venues, running, proxy = side_loop.run(start_venue_behind_proxy(proxy_port))
        monkeypatch.setenv(KEY_ENV, running.spec.api_key)
        monkeypatch.setenv(SECRET_ENV, running.spec.api_secret)
        doc = gateway_document(state_dir=tmp_path / "var", overrides={
            "admin_socket": False,
            "risk": {"default": {"max_order_qty": 50, "price_collar_bps": 1000,
                                 "symbols": [SYMBOL]}}})
        doc["venues"] = {VENUE: {"exchange": "binance", "base_url": f"http://127.0.0.1:{proxy_port}",
                                 "api_key_env": KEY_ENV, "secret_env": SECRET_ENV,
                                 "symbols": [SYMBOL]}}
        exchange = running.exchange

        def house_sell(qty: Decimal, price: Decimal):
            def trade():
                bids, _ = exchange.depth(MARKET_ID, 200)
                ahead = sum((q for p, q in bids if p > price), D(0))
                return exchange.place_house_order("house-outage", MARKET_ID, "SELL", "LIMIT",
                                                  qty + ahead, price, "IOC")
            return side_loop.call(trade)

        with GatewayThread(doc) as gw, OrderClient(gw.host, gw.port) as client:
            book = gw.call(lambda: gw.service.market.book(SYMBOL))
            assert book is not None, "no market data from the venue behind the proxy"
            bid, ask = book.quote(VENUE).book.best_bid, book.quote(VENUE).book.best_ask
            price = bid + D("0.1") if bid + D("0.1") < ask else bid
            cl = f"OUTAGE-{int(time.time())}"
            client.new_order(cl, SYMBOL, Side.BUY, "1", price=price, tif=TimeInForce.GTC)
            assert client.wait_report(cl, lambda r: r.exec_type is ExecType.NEW) is not None

            house_sell(D("0.3"), price)                        # a fill while all is well
            assert client.wait_report(cl, lambda r: r.cum_qty >= D("0.3")) is not None

            adapter = gw.service.adapters[VENUE]
            downs_before = adapter.stats.stream_downs
            side_loop.run(proxy.cut())                         # the outage begins
            during = house_sell(D("0.4"), price)               # fills the gateway cannot see
            assert during.executed_qty >= D("0.4")
            deadline = time.monotonic() + 15
            while adapter.stats.stream_downs == downs_before and time.monotonic() < deadline:
                client.pump(0.2)
            assert adapter.stats.stream_downs > downs_before, "the gateway never noticed"
            client.pump(1.0)
            seen_before_recovery = len(client.inbox.messages)
            assert not any(x.get(32) == "0.4" for x in client.inbox.messages)
            side_loop.run(proxy.restore())                     # the venue is back

            assert client.wait_report(cl, lambda r: r.cum_qty >= D("0.7"), timeout=30) is not None
            late = [x for x in client.inbox.messages[seen_before_recovery:] if x.get(150) == "F"]
            assert any(x.get(32) == "0.4" and D(x.get(31)) == price for x in late)
            house_sell(D("0.3"), price)                        # the rest, after recovery
            final = client.wait_done(cl, timeout=30)
            assert final is not None and final.ord_status is OrdStatus.FILLED
            client.pump(2.0)                                   # a late duplicate would come now

            truth = side_loop.run(venue_trades(running.base_url, running.spec.api_key,
                                               running.spec.api_secret))
            assert len(unique_by_seq(client.inbox.messages)) == len(client.inbox.messages)
            reports = client.reports(cl)
            fills = [r for r in reports if r.exec_type is ExecType.TRADE]
            assert Counter((r.last_mkt, r.last_px, r.last_qty) for r in fills) == Counter(truth)
            total = sum((q for _, _, q in truth), D(0))
            assert total == D(1) == final.cum_qty and final.leaves_qty == 0
            notional = sum((p * q for _, p, q in truth), D(0))
            assert abs(final.avg_px - notional / total) <= D("1e-9") * final.avg_px
            cum = D(0)
            for r in fills:
                cum += r.last_qty
                assert r.cum_qty == cum
            assert len({r.exec_id for r in reports}) == len(reports)
    finally:
        if proxy is not None and proxy.server is not None and proxy.server.is_serving():
            side_loop.run(proxy.cut())
        if venues is not None:
            side_loop.run(venues.stop())
        side_loop.close()

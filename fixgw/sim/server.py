"""The native Binance API of one simulated venue: REST spot + USD-M futures and websockets.

One aiohttp application per venue, on its own port, serves everything ccxt's ``binance`` and
``binanceusdm`` call (see ../shared/VENUES.md): /api/v3, /fapi/v1|v2|v3, market streams on
/stream/ws[/N] (spot) and /fstream/{public,market}/ws[/N] (futures), the spot user-data stream
and order entry on /ws-api/v3, and the futures listenKey stream on /fstream/private/ws.

Entry point: :func:`start_venue`. Errors always leave as Binance JSON with the matching HTTP
status; an unexpected exception is logged here and answered -1000, never as a stack trace.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Awaitable, Callable
from urllib.parse import parse_qsl

from aiohttp import web

from ..clock import Clock, LiveClock
from . import errors as E
from .auth import check_timestamp, split_signature, verify_signature
from .engine import Exchange
from .params import Params, Route, decode_body, futures_depth_weight, spot_depth_weight
from .ratelimit import RateLimiter
from .rest_futures import FuturesAccountApi
from .rest_market import MarketDataApi
from .rest_trading import TradingApi
from .spec import VenueSpec
from .streams import dumps
from .ws_market import MarketStreams
from .ws_user import UserStreams

log = logging.getLogger("fixgw.sim.server")


def ccxt_urls(base_url: str) -> dict:
    """The ``urls['api']`` override for ccxt binance / binanceusdm, as ../shared/VENUES.md says:
    every REST key of ccxt's binance class points at this venue, so nothing leaks to the real
    host; websockets at /stream/ws (spot: must contain /stream), /fstream/ws, /ws-api/v3."""
    base = base_url.rstrip("/")
    ws = base.replace("http://", "ws://").replace("https://", "wss://")
    api = f"{base}/api/v3"
    local_ws = {name: f"{ws}/{name}/ws" for name in ("option", "optionMarket", "optionPrivate", "papi", "stock")}
    fapi1, fapi2, fapi3 = f"{base}/fapi/v1", f"{base}/fapi/v2", f"{base}/fapi/v3"
    sapi = f"{base}/sapi/v1"
    urls = {
        "public": api, "private": api, "v1": f"{base}/api/v1",
        "sapi": sapi, "sapiV2": f"{base}/sapi/v2", "sapiV3": f"{base}/sapi/v3", "sapiV4": f"{base}/sapi/v4",
        "fapiPublic": fapi1, "fapiPublicV2": fapi2, "fapiPublicV3": fapi3,
        "fapiPrivate": fapi1, "fapiPrivateV2": fapi2, "fapiPrivateV3": fapi3, "fapiData": f"{base}/futures/data",
        "dapiPublic": f"{base}/dapi/v1", "dapiPrivate": f"{base}/dapi/v1", "dapiPrivateV2": f"{base}/dapi/v2",
        "dapiData": f"{base}/futures/data", "eapiPublic": f"{base}/eapi/v1", "eapiPrivate": f"{base}/eapi/v1",
        "papi": f"{base}/papi/v1", "papiV2": f"{base}/papi/v2",
        "ws": {**local_ws, "spot": f"{ws}/stream/ws", "margin": f"{ws}/stream/ws", "linear": f"{ws}/fstream/ws",
               "inverse": f"{ws}/dstream/ws",
               "ws-api": {"spot": f"{ws}/ws-api/v3", "linear": f"{ws}/ws-fapi/v1", "inverse": f"{ws}/ws-dapi/v1"}},
    }
    return urls


def ccxt_options(market_type: str = "spot") -> dict:
    """ccxt options VENUES.md recommends (one exchangeInfo call, no built-in limiter)."""
    return {"fetchMarkets": {"types": ["linear"] if market_type == "linear" else ["spot"]},
            "fetchCurrencies": False, "fetchMargins": False, "adjustForTimeDifference": False,
            "recvWindow": 5000}


def ccxt_client(exchange_class, venue: "RunningVenue", kind: str = "spot",
                api_key: str | None = None, secret: str | None = None):
    """An unmodified ccxt ``binance`` / ``binanceusdm`` instance (async or pro class given by the
    caller) pointed at ``venue``: only URLs, options and the merged per-market error table, as
    ../shared/VENUES.md prescribes. ``kind``: "spot" or "linear"."""
    ex = exchange_class({"apiKey": api_key or venue.spec.api_key, "secret": secret or venue.spec.api_secret,
                         "enableRateLimit": False, "options": ccxt_options(kind)})
    ex.urls["api"] = ccxt_urls(venue.base_url)
    table = "spot" if kind == "spot" else "linear"
    ex.exceptions["exact"] = {**ex.exceptions["exact"], **ex.exceptions[table]["exact"]}
    return ex


class VenueServer:
    """Wires the handler groups to one aiohttp application and owns the background tasks."""

    def __init__(self, spec: VenueSpec, exchange: Exchange, clock: Clock) -> None:
        self.spec = spec
        self.exchange = exchange
        self.clock = clock
        self.limiter = RateLimiter(spec.rate_limits)
        self.market_api = MarketDataApi(exchange, spec)
        self.trading = TradingApi(exchange, spec)
        self.futures_api = FuturesAccountApi(exchange, spec)
        self.routes = self._routes()
        self.market_streams = MarketStreams(exchange, spec, self.market_api)
        self.user_streams = UserStreams(exchange, spec, self.routes, self.limiter, self._account_for,
                                        self.futures_api.listen_keys)
        self._tasks: list[asyncio.Task] = []

    @property
    def listen_keys(self) -> dict[str, str]:
        return self.futures_api.listen_keys

    @property
    def spot_users(self) -> dict:
        """account -> ws-api connections subscribed to its user-data stream."""
        return self.user_streams.spot_users

    @property
    def futures_users(self) -> dict:
        return self.user_streams.futures_users

    @property
    def depth_messages_sent(self) -> int:
        return self.market_streams.depth_messages_sent

    def app(self) -> web.Application:
        app = web.Application(client_max_size=1 << 20)
        for r in self.routes:
            app.router.add_route(r.method, r.path, self._wrap(r))
        ms, us = self.market_streams, self.user_streams
        for path in ("/stream", "/stream/ws", "/stream/ws/{n}", "/ws"):
            app.router.add_get(path, ms.handler(ms.spot_hub))
        spot_market = ms.handler(ms.spot_hub)

        async def ws_path(request: web.Request) -> web.StreamResponse:
            key = request.match_info["n"]      # /ws/<stream name> or /ws/<legacy listenKey>
            if "@" not in key:                 # not a stream name: a (maybe expired) listenKey
                return await us.spot_listen_key_stream(request, key)
            return await spot_market(request)
        app.router.add_get("/ws/{n}", ws_path)
        for path in ("/fstream/ws", "/fstream/ws/{n}", "/fstream/public/ws", "/fstream/public/ws/{n}",
                     "/fstream/market/ws", "/fstream/market/ws/{n}", "/fstream/stream"):
            app.router.add_get(path, ms.handler(ms.futures_hub))
        app.router.add_get("/fstream/private/ws", us.futures_user_stream())
        app.router.add_get("/fstream/private/ws/{n}", us.futures_user_stream())
        app.router.add_get("/ws-api/v3", us.spot_ws_api())
        app.router.add_get("/ws-fapi/v1", us.futures_ws_api())
        return app

    def _wrap(self, route: Route) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            if self.spec.request_latency_ms:
                await asyncio.sleep(self.spec.request_latency_ms / 1000)
            headers: dict[str, str] = {}
            try:
                raw_query = request.query_string
                raw_body = decode_body(await request.read()) if request.can_read_body else ""
                values = dict(parse_qsl(raw_query, keep_blank_values=True))
                if raw_body:
                    values.update(parse_qsl(raw_body, keep_blank_values=True))
                api_key = request.headers.get("X-MBX-APIKEY")
                client = f"key:{api_key}" if api_key else f"ip:{request.remote}"
                used, orders = self.limiter.charge(client, route.weight_for(Params(values)), route.orders)
                headers["X-MBX-USED-WEIGHT-1M"] = str(used)
                if route.orders:
                    headers["X-MBX-ORDER-COUNT-10S"] = str(orders)
                account = None
                if route.signed or route.key_only:
                    account, secret = self._account_for(api_key)
                    if route.signed:
                        q_payload, q_sig = split_signature(raw_query)
                        b_payload, b_sig = split_signature(raw_body)
                        payload = q_payload + b_payload if (q_payload and b_payload) else (q_payload or b_payload)
                        check_timestamp(values, self.spec.recv_window_max_ms)
                        verify_signature(payload, q_sig or b_sig, secret)
                values.pop("signature", None)
                result = route.handler(Params(values), account)
                return web.json_response(result, headers=headers, dumps=dumps)
            except E.BinanceError as exc:
                if exc.retry_after:
                    headers["Retry-After"] = str(exc.retry_after)
                return web.json_response(exc.body(), status=exc.http_status, headers=headers, dumps=dumps)
            except ConnectionResetError:
                log.debug("%s %s: client went away mid-request", request.method, request.path)
                return web.Response(status=400)
            except Exception:  # noqa: BLE001 - answered as Binance does, logged for us
                log.exception("%s %s failed", request.method, request.path)
                err = E.internal_error()
                return web.json_response(err.body(), status=err.http_status, dumps=dumps)
        return handle

    def _account_for(self, api_key: str | None) -> tuple[str, str]:
        if not api_key:
            raise E.BinanceError(-2014, "API-key format invalid.", 401)
        entry = self.exchange.accounts_by_key.get(api_key)
        if entry is None:
            raise E.invalid_api_key()
        return entry

    # --- routes -------------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        R = Route
        return [
            R("GET", "/api/v3/ping", lambda p, a: {}),
            R("GET", "/api/v3/time", lambda p, a: {"serverTime": int(time.time() * 1000)}),
            R("GET", "/api/v3/exchangeInfo", lambda p, a: self.market_api.exchange_info(False), weight=20),
            R("GET", "/api/v3/depth", lambda p, a: self.market_api.depth(p, False), weight_by=spot_depth_weight),
            R("GET", "/api/v3/trades", lambda p, a: self.market_api.trades(p, False, agg=False), weight=25),
            R("GET", "/api/v3/aggTrades", lambda p, a: self.market_api.trades(p, False, agg=True), weight=2),
            R("GET", "/api/v3/ticker/24hr", lambda p, a: self.market_api.ticker(p, False),
              weight_by=lambda p: 2 if p.get("symbol") else 80),
            R("GET", "/api/v3/ticker/price", lambda p, a: self.market_api.ticker_price(p, False), weight=2),
            R("GET", "/api/v3/ticker/bookTicker", lambda p, a: self.market_api.book_ticker(p, False), weight=2),
            R("GET", "/api/v3/klines", lambda p, a: self.market_api.klines(p, False), weight=2),
            R("POST", "/api/v3/order", lambda p, a: self.trading.new_order(p, a, False), signed=True, orders=1),
            R("POST", "/api/v3/order/test", lambda p, a: {}, signed=True),
            R("POST", "/api/v3/order/cancelReplace", lambda p, a: self.trading.cancel_replace(p, a), signed=True, orders=1),
            R("GET", "/api/v3/order", lambda p, a: self.trading.query_order(p, a, False), weight=4, signed=True),
            R("DELETE", "/api/v3/order", lambda p, a: self.trading.cancel(p, a, False), signed=True),
            R("GET", "/api/v3/openOrders", lambda p, a: self.trading.open_orders(p, a, False), signed=True,
              weight_by=lambda p: 6 if p.get("symbol") else 80),
            R("DELETE", "/api/v3/openOrders", lambda p, a: self.trading.cancel_all(p, a, False), signed=True),
            R("GET", "/api/v3/allOrders", lambda p, a: self.trading.all_orders(p, a, False), weight=20, signed=True),
            R("GET", "/api/v3/myTrades", lambda p, a: self.trading.my_trades(p, a, False), weight=20, signed=True),
            R("GET", "/api/v3/account", lambda p, a: self.trading.spot_account(a), weight=20, signed=True),
            R("GET", "/sapi/v1/system/status", lambda p, a: {"status": 0, "msg": "normal"}),
            R("GET", "/sapi/v1/asset/tradeFee", lambda p, a: self.trading.trade_fees(p), signed=True),
            # futures
            R("GET", "/fapi/v1/ping", lambda p, a: {}),
            R("GET", "/fapi/v1/time", lambda p, a: {"serverTime": int(time.time() * 1000)}),
            R("GET", "/fapi/v1/exchangeInfo", lambda p, a: self.market_api.exchange_info(True)),
            R("GET", "/fapi/v1/depth", lambda p, a: self.market_api.depth(p, True), weight_by=futures_depth_weight),
            R("GET", "/fapi/v1/trades", lambda p, a: self.market_api.trades(p, True, agg=False), weight=5),
            R("GET", "/fapi/v1/aggTrades", lambda p, a: self.market_api.trades(p, True, agg=True), weight=20),
            R("GET", "/fapi/v1/ticker/24hr", lambda p, a: self.market_api.ticker(p, True)),
            R("GET", "/fapi/v1/ticker/price", lambda p, a: self.market_api.ticker_price(p, True)),
            R("GET", "/fapi/v1/ticker/bookTicker", lambda p, a: self.market_api.book_ticker(p, True), weight=2),
            R("GET", "/fapi/v1/premiumIndex", lambda p, a: self.market_api.premium_index(p)),
            R("GET", "/fapi/v1/fundingRate", lambda p, a: []),
            R("GET", "/fapi/v1/klines", lambda p, a: self.market_api.klines(p, True), weight=5),
            R("POST", "/fapi/v1/order", lambda p, a: self.trading.new_order(p, a, True), signed=True, orders=1),
            R("GET", "/fapi/v1/order", lambda p, a: self.trading.query_order(p, a, True), signed=True),
            R("DELETE", "/fapi/v1/order", lambda p, a: self.trading.cancel(p, a, True), signed=True),
            R("PUT", "/fapi/v1/order", lambda p, a: self.trading.modify_futures(p, a), signed=True, orders=1),
            R("GET", "/fapi/v1/openOrders", lambda p, a: self.trading.open_orders(p, a, True), signed=True),
            R("DELETE", "/fapi/v1/allOpenOrders", lambda p, a: self.trading.cancel_all(p, a, True), signed=True),
            R("GET", "/fapi/v1/allOrders", lambda p, a: self.trading.all_orders(p, a, True), weight=5, signed=True),
            R("GET", "/fapi/v1/userTrades", lambda p, a: self.trading.my_trades(p, a, True), weight=5, signed=True),
            R("GET", "/fapi/v2/account", lambda p, a: self.futures_api.futures_account(a), weight=5, signed=True),
            R("GET", "/fapi/v3/account", lambda p, a: self.futures_api.futures_account(a), weight=5, signed=True),
            R("GET", "/fapi/v2/balance", lambda p, a: self.futures_api.futures_account(a)["assets"], weight=5, signed=True),
            R("GET", "/fapi/v3/balance", lambda p, a: self.futures_api.futures_account(a)["assets"], weight=5, signed=True),
            R("GET", "/fapi/v2/positionRisk", lambda p, a: self.futures_api.position_risk(p, a, v2=True), weight=5, signed=True),
            R("GET", "/fapi/v3/positionRisk", lambda p, a: self.futures_api.position_risk(p, a, v2=False), weight=5, signed=True),
            R("GET", "/fapi/v1/leverageBracket", lambda p, a: self.futures_api.leverage_bracket(p), signed=True),
            R("GET", "/fapi/v1/symbolConfig", lambda p, a: self.futures_api.symbol_config(p, a), weight=5, signed=True),
            R("POST", "/fapi/v1/leverage", lambda p, a: self.futures_api.set_leverage(p, a), signed=True),
            R("POST", "/fapi/v1/marginType", lambda p, a: self.futures_api.set_margin_type(p, a), signed=True),
            R("GET", "/fapi/v1/positionSide/dual", lambda p, a: {"dualSidePosition": False}, weight=30, signed=True),
            R("GET", "/fapi/v1/multiAssetsMargin", lambda p, a: {"multiAssetsMargin": False}, weight=30, signed=True),
            R("GET", "/fapi/v1/commissionRate", lambda p, a: self.futures_api.commission(p), weight=20, signed=True),
            R("GET", "/fapi/v1/income", lambda p, a: [], weight=30, signed=True),
            R("POST", "/api/v3/userDataStream", lambda p, a: self.user_streams.new_spot_listen_key(a), key_only=True),
            R("PUT", "/api/v3/userDataStream", lambda p, a: {}, key_only=True),
            R("DELETE", "/api/v3/userDataStream", lambda p, a: {}, key_only=True),
            R("POST", "/fapi/v1/listenKey", lambda p, a: self.futures_api.new_listen_key(a), key_only=True),
            R("PUT", "/fapi/v1/listenKey", lambda p, a: {}, key_only=True),
            R("DELETE", "/fapi/v1/listenKey", lambda p, a: {}, key_only=True),
        ]

    # --- public -------------------------------------------------------------------------

    # --- background ---------------------------------------------------------------------
    async def _every(self, seconds: float, fn: Callable[[], None]) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                fn()
            except Exception:  # noqa: BLE001 - a publisher bug must not stop the venue
                log.exception("periodic task %s failed", getattr(fn, "__name__", fn))

    def start_background(self, model_factory) -> None:
        loop = asyncio.get_running_loop()
        ms = self.market_streams
        self._tasks.append(loop.create_task(self._every(self.spec.depth_interval_ms / 1000, ms.flush_depth)))
        self._tasks.append(loop.create_task(self._every(self.spec.ticker_interval_ms / 1000, ms.publish_tickers)))
        self._tasks.append(loop.create_task(self._drive(model_factory)))

    async def _drive(self, model_factory) -> None:
        """Step the market model every ~100 ms of market time; settle funding and close-outs.
        A failing step is logged (the first, then every 600th) and the venue keeps running."""
        model = model_factory(self.exchange, self.spec, self.clock) if model_factory else None
        wall = getattr(self.clock, "wall_seconds", None)
        period = wall(0.1) if wall else 0.1
        failures = 0
        while True:
            try:
                now = self.clock.now()
                if model is not None:
                    model.step(now)
                self.exchange.on_time(int(now * 1000))
            except Exception:  # noqa: BLE001
                if failures % 600 == 0:
                    log.exception("market model step failed (%d failures so far)", failures + 1)
                failures += 1
            await asyncio.sleep(period)

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        await self.market_streams.close_all()
        await self.user_streams.close_all()


@dataclass
class RunningVenue:
    spec: VenueSpec
    base_url: str
    port: int
    exchange: Exchange
    server: VenueServer
    _runner: web.AppRunner = field(repr=False)

    def skip_depth_sequence(self, market_id: str, count: int = 1) -> None:
        """Test hook: make the next depth diff of ``market_id`` skip ``count`` update ids."""
        self.exchange.books[market_id].skip_sequence(count)

    def add_account(self, account: str, api_key: str, api_secret: str,
                    spot_balances: dict[str, Decimal] | None = None,
                    futures_balances: dict[str, Decimal] | None = None) -> None:
        """Another funded client account (tests of cross-account trading)."""
        self.exchange.add_account(account, api_key, api_secret, spot_balances or {}, futures_balances or {})

    def urls(self) -> dict:
        return ccxt_urls(self.base_url)

    async def stop(self) -> None:
        await self.server.stop()
        await self._runner.cleanup()


async def start_venue(spec: VenueSpec, clock: Clock | None = None, model_factory=None) -> RunningVenue:
    """Start one venue on ``spec.host:spec.port`` (0 = any free port) on the running loop.

    With ``model_factory``, ``model = model_factory(exchange, spec, clock)`` is stepped with the
    market time every ~100 ms of market time; without it, a static house ladder is seeded (when
    ``spec.seed_book``)."""
    clock = clock or LiveClock()
    exchange = Exchange(spec, clock)
    if model_factory is None and spec.seed_book:
        exchange.seed_books()
    server = VenueServer(spec, exchange, clock)
    runner = web.AppRunner(server.app(), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, spec.host, spec.port, reuse_address=True)
    await site.start()
    port = runner.addresses[0][1] if runner.addresses else spec.port
    server.start_background(model_factory)
    base_url = f"http://{spec.host}:{port}"
    log.info("venue %s listening on %s", spec.name, base_url)
    return RunningVenue(spec.with_port(port), base_url, port, exchange, server, runner)

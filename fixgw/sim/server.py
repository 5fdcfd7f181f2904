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
import json
import logging
import re
import secrets
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from ..clock import Clock, LiveClock
from . import errors as E
from . import wire
from .auth import check_timestamp, split_signature, verify_signature, ws_payload
from .engine import Exchange, Execution, Order
from .futures import BRACKETS, ISOLATED, max_notional_for_leverage
from .ratelimit import RateLimiter
from .spec import SymbolSpec, VenueSpec
from .streams import Hub, StreamConn, dumps
from .wire import fmt

log = logging.getLogger("fixgw.sim.server")
ZERO = Decimal(0)
_DECIMAL_PARAM = re.compile(r"^[0-9]{1,20}(\.[0-9]{1,20})?$")
DEPTH_SUFFIXES = ("@depth", "@depth@100ms", "@depth@250ms", "@depth@500ms", "@depth@1000ms")


# --- parameters ---------------------------------------------------------------------------
class Params:
    """Request parameters with Binance-style validation errors naming the parameter."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, name: str, default: str | None = None) -> str | None:
        v = self.values.get(name)
        return default if v in (None, "") else v

    def req(self, name: str) -> str:
        v = self.get(name)
        if v is None:
            raise E.mandatory_param(name)
        return v

    def dec(self, name: str) -> Decimal | None:
        """Binance accepts ``^[0-9]{1,20}(\\.[0-9]{1,20})?$`` for prices and quantities: no sign,
        no exponent, no NaN, which also keeps Decimal arithmetic bounded."""
        v = self.get(name)
        if v is None:
            return None
        if not _DECIMAL_PARAM.match(v):
            raise E.illegal_param(name)
        return Decimal(v)

    def int(self, name: str, default: int | None = None) -> int | None:
        v = self.get(name)
        if v is None:
            return default
        try:
            return int(v)
        except ValueError:
            raise E.illegal_param(name) from None

    def bool(self, name: str) -> bool:
        return (self.get(name) or "false").lower() == "true"


def _decode_body(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise E.BinanceError(-1100, "Illegal characters found in a parameter.") from None


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


Handler = Callable[[Params, str | None], Any]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    weight: int = 1
    signed: bool = False
    orders: int = 0
    key_only: bool = False      # API key header, no signature (listenKey)


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


class VenueServer:
    def __init__(self, spec: VenueSpec, exchange: Exchange, clock: Clock) -> None:
        self.spec = spec
        self.exchange = exchange
        self.clock = clock
        self.limiter = RateLimiter(spec.rate_limits)
        self.spot_hub = Hub()
        self.futures_hub = Hub()
        self.spot_users: dict[str, set[StreamConn]] = {}
        self.futures_users: dict[str, set[StreamConn]] = {}
        self.listen_keys: dict[str, str] = {}
        self.conns: set[StreamConn] = set()
        self._sub_ids = 0
        self._tasks: list[asyncio.Task] = []
        self.depth_messages_sent = 0
        self._last_bbo: dict[str, tuple] = {}
        self.routes = self._routes()
        exchange.execution_listeners.append(self._on_execution)
        exchange.balance_listeners.append(self._on_balance)
        exchange.trade_listeners.append(self._on_trade)

    # --- app --------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application(client_max_size=1 << 20)
        for r in self.routes:
            app.router.add_route(r.method, r.path, self._wrap(r))
        for path in ("/stream", "/stream/ws", "/stream/ws/{n}", "/ws", "/ws/{n}"):
            app.router.add_get(path, self._market_ws(self.spot_hub))
        for path in ("/fstream/ws", "/fstream/ws/{n}", "/fstream/public/ws", "/fstream/public/ws/{n}",
                     "/fstream/market/ws", "/fstream/market/ws/{n}", "/fstream/stream"):
            app.router.add_get(path, self._market_ws(self.futures_hub))
        app.router.add_get("/fstream/private/ws", self._futures_user_ws)
        app.router.add_get("/fstream/private/ws/{n}", self._futures_user_ws)
        app.router.add_get("/ws-api/v3", self._ws_api_handler(self.WS_API_METHODS))
        app.router.add_get("/ws-fapi/v1", self._ws_api_handler(self.WS_FAPI_METHODS))
        return app

    def now_ms(self) -> int:
        return self.exchange.now_ms()

    def _wrap(self, route: Route) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            if self.spec.request_latency_ms:
                await asyncio.sleep(self.spec.request_latency_ms / 1000)
            headers: dict[str, str] = {}
            try:
                raw_query = request.query_string
                raw_body = _decode_body(await request.read()) if request.can_read_body else ""
                values = dict(parse_qsl(raw_query, keep_blank_values=True))
                if raw_body:
                    values.update(parse_qsl(raw_body, keep_blank_values=True))
                api_key = request.headers.get("X-MBX-APIKEY")
                client = f"key:{api_key}" if api_key else f"ip:{request.remote}"
                used, orders = self.limiter.charge(client, route.weight, route.orders)
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
            R("GET", "/api/v3/exchangeInfo", lambda p, a: self.exchange_info(False), weight=20),
            R("GET", "/api/v3/depth", lambda p, a: self.depth(p, False), weight=5),
            R("GET", "/api/v3/trades", lambda p, a: self.trades(p, False, agg=False), weight=25),
            R("GET", "/api/v3/aggTrades", lambda p, a: self.trades(p, False, agg=True), weight=2),
            R("GET", "/api/v3/ticker/24hr", lambda p, a: self.ticker(p, False), weight=2),
            R("GET", "/api/v3/ticker/price", lambda p, a: self.ticker_price(p, False), weight=2),
            R("GET", "/api/v3/ticker/bookTicker", lambda p, a: self.book_ticker(p, False), weight=2),
            R("GET", "/api/v3/klines", lambda p, a: [], weight=2),
            R("POST", "/api/v3/order", lambda p, a: self.new_order(p, a, False), signed=True, orders=1),
            R("POST", "/api/v3/order/test", lambda p, a: {}, signed=True),
            R("POST", "/api/v3/order/cancelReplace", lambda p, a: self.cancel_replace(p, a), signed=True, orders=1),
            R("GET", "/api/v3/order", lambda p, a: self.query_order(p, a, False), weight=4, signed=True),
            R("DELETE", "/api/v3/order", lambda p, a: self.cancel(p, a, False), signed=True),
            R("GET", "/api/v3/openOrders", lambda p, a: self.open_orders(p, a, False), weight=6, signed=True),
            R("DELETE", "/api/v3/openOrders", lambda p, a: self.cancel_all(p, a, False), signed=True),
            R("GET", "/api/v3/allOrders", lambda p, a: self.all_orders(p, a, False), weight=20, signed=True),
            R("GET", "/api/v3/myTrades", lambda p, a: self.my_trades(p, a, False), weight=20, signed=True),
            R("GET", "/api/v3/account", lambda p, a: self.spot_account(a), weight=20, signed=True),
            R("GET", "/sapi/v1/system/status", lambda p, a: {"status": 0, "msg": "normal"}),
            # futures
            R("GET", "/fapi/v1/ping", lambda p, a: {}),
            R("GET", "/fapi/v1/time", lambda p, a: {"serverTime": int(time.time() * 1000)}),
            R("GET", "/fapi/v1/exchangeInfo", lambda p, a: self.exchange_info(True)),
            R("GET", "/fapi/v1/depth", lambda p, a: self.depth(p, True), weight=5),
            R("GET", "/fapi/v1/trades", lambda p, a: self.trades(p, True, agg=False), weight=5),
            R("GET", "/fapi/v1/aggTrades", lambda p, a: self.trades(p, True, agg=True), weight=20),
            R("GET", "/fapi/v1/ticker/24hr", lambda p, a: self.ticker(p, True)),
            R("GET", "/fapi/v1/ticker/price", lambda p, a: self.ticker_price(p, True)),
            R("GET", "/fapi/v1/ticker/bookTicker", lambda p, a: self.book_ticker(p, True), weight=2),
            R("GET", "/fapi/v1/premiumIndex", lambda p, a: self.premium_index(p)),
            R("GET", "/fapi/v1/fundingRate", lambda p, a: []),
            R("GET", "/fapi/v1/klines", lambda p, a: []),
            R("POST", "/fapi/v1/order", lambda p, a: self.new_order(p, a, True), signed=True, orders=1),
            R("GET", "/fapi/v1/order", lambda p, a: self.query_order(p, a, True), signed=True),
            R("DELETE", "/fapi/v1/order", lambda p, a: self.cancel(p, a, True), signed=True),
            R("PUT", "/fapi/v1/order", lambda p, a: self.modify_futures(p, a), signed=True, orders=1),
            R("GET", "/fapi/v1/openOrders", lambda p, a: self.open_orders(p, a, True), signed=True),
            R("DELETE", "/fapi/v1/allOpenOrders", lambda p, a: self.cancel_all(p, a, True), signed=True),
            R("GET", "/fapi/v1/allOrders", lambda p, a: self.all_orders(p, a, True), weight=5, signed=True),
            R("GET", "/fapi/v1/userTrades", lambda p, a: self.my_trades(p, a, True), weight=5, signed=True),
            R("GET", "/fapi/v2/account", lambda p, a: self.futures_account(a), weight=5, signed=True),
            R("GET", "/fapi/v3/account", lambda p, a: self.futures_account(a), weight=5, signed=True),
            R("GET", "/fapi/v2/balance", lambda p, a: self.futures_account(a)["assets"], weight=5, signed=True),
            R("GET", "/fapi/v3/balance", lambda p, a: self.futures_account(a)["assets"], weight=5, signed=True),
            R("GET", "/fapi/v2/positionRisk", lambda p, a: self.position_risk(p, a, v2=True), weight=5, signed=True),
            R("GET", "/fapi/v3/positionRisk", lambda p, a: self.position_risk(p, a, v2=False), weight=5, signed=True),
            R("GET", "/fapi/v1/leverageBracket", lambda p, a: self.leverage_bracket(p), signed=True),
            R("GET", "/fapi/v1/symbolConfig", lambda p, a: self.symbol_config(p, a), weight=5, signed=True),
            R("POST", "/fapi/v1/leverage", lambda p, a: self.set_leverage(p, a), signed=True),
            R("POST", "/fapi/v1/marginType", lambda p, a: self.set_margin_type(p, a), signed=True),
            R("GET", "/fapi/v1/positionSide/dual", lambda p, a: {"dualSidePosition": False}, weight=30, signed=True),
            R("GET", "/fapi/v1/multiAssetsMargin", lambda p, a: {"multiAssetsMargin": False}, weight=30, signed=True),
            R("GET", "/fapi/v1/commissionRate", lambda p, a: self.commission(p), weight=20, signed=True),
            R("GET", "/fapi/v1/income", lambda p, a: [], weight=30, signed=True),
            R("POST", "/fapi/v1/listenKey", lambda p, a: self.new_listen_key(a), key_only=True),
            R("PUT", "/fapi/v1/listenKey", lambda p, a: {}, key_only=True),
            R("DELETE", "/fapi/v1/listenKey", lambda p, a: {}, key_only=True),
        ]

    # --- public -------------------------------------------------------------------------
    def _market(self, p: Params, perp: bool) -> SymbolSpec:
        return self.exchange.market_for(p.req("symbol"), perp)

    def _markets(self, perp: bool) -> list[SymbolSpec]:
        return [m for m in self.exchange.markets.values() if m.is_perp == perp]

    def exchange_info(self, perp: bool) -> dict:
        rl = self.spec.rate_limits
        out = {"timezone": "UTC", "serverTime": int(time.time() * 1000), "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": rl.weight_per_minute},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": rl.orders_per_10s},
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": rl.orders_per_day}],
            "exchangeFilters": [], "symbols": [self._symbol_info(m) for m in self._markets(perp)]}
        if perp:
            out["assets"] = [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "0"}]
        return out

    def _symbol_info(self, m: SymbolSpec) -> dict:
        price_prec = max(0, -m.tick_size.normalize().as_tuple().exponent)
        qty_prec = max(0, -m.step_size.normalize().as_tuple().exponent)
        filters = [
            {"filterType": "PRICE_FILTER", "minPrice": fmt(m.min_price), "maxPrice": fmt(m.max_price), "tickSize": fmt(m.tick_size)},
            {"filterType": "LOT_SIZE", "minQty": fmt(m.min_qty), "maxQty": fmt(m.max_qty), "stepSize": fmt(m.step_size)},
            {"filterType": "MARKET_LOT_SIZE", "minQty": fmt(m.min_qty), "maxQty": fmt(m.max_qty), "stepSize": fmt(m.step_size)},
        ]
        if m.is_perp:
            filters.append({"filterType": "MIN_NOTIONAL", "notional": fmt(m.min_notional)})
            return {"symbol": m.symbol, "pair": m.symbol, "contractType": "PERPETUAL", "deliveryDate": 4133404800000,
                    "onboardDate": 1569398400000, "status": "TRADING", "maintMarginPercent": "2.5000",
                    "requiredMarginPercent": "5.0000", "baseAsset": m.base, "quoteAsset": m.quote,
                    "marginAsset": m.quote, "pricePrecision": price_prec, "quantityPrecision": qty_prec,
                    "baseAssetPrecision": 8, "quotePrecision": 8, "underlyingType": "COIN",
                    "underlyingSubType": [], "settlePlan": 0, "triggerProtect": "0.0500",
                    "liquidationFee": "0.012500", "marketTakeBound": "0.05", "filters": filters,
                    "orderTypes": ["LIMIT", "MARKET"], "timeInForce": ["GTC", "IOC", "FOK", "GTX"]}
        filters.append({"filterType": "NOTIONAL", "minNotional": fmt(m.min_notional), "applyMinToMarket": True,
                        "maxNotional": "9000000", "applyMaxToMarket": False, "avgPriceMins": 5})
        return {"symbol": m.symbol, "status": "TRADING", "baseAsset": m.base, "baseAssetPrecision": 8,
                "quoteAsset": m.quote, "quotePrecision": 8, "quoteAssetPrecision": 8,
                "baseCommissionPrecision": 8, "quoteCommissionPrecision": 8,
                "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"], "icebergAllowed": False, "ocoAllowed": False,
                "otoAllowed": False, "quoteOrderQtyMarketAllowed": True, "allowTrailingStop": False,
                "cancelReplaceAllowed": False, "isSpotTradingAllowed": True, "isMarginTradingAllowed": False,
                "filters": filters, "permissions": [], "permissionSets": [["SPOT"]],
                "defaultSelfTradePreventionMode": "EXPIRE_TAKER",
                "allowedSelfTradePreventionModes": ["EXPIRE_TAKER"]}

    def depth(self, p: Params, perp: bool) -> dict:
        m = self._market(p, perp)
        limit = p.int("limit", 100)
        if not 1 <= limit <= 5000:
            raise E.BinanceError(-1100, "Illegal characters found in parameter 'limit'; legal range is '1' to '5000'.")
        book = self.exchange.books[m.market_id]
        bids, asks = book.depth(limit)
        out = {"lastUpdateId": book.update_id, "bids": wire.levels(bids), "asks": wire.levels(asks)}
        if perp:
            out["E"] = out["T"] = self.now_ms()
        return out

    def trades(self, p: Params, perp: bool, agg: bool) -> list:
        m = self._market(p, perp)
        limit = min(p.int("limit", 500), 1000)
        recent = list(self.exchange.stats[m.market_id].trades)[-limit:]
        return [wire.agg_trade_rest(t) if agg else wire.trade_rest(t) for t in recent]

    def _ticker(self, m: SymbolSpec) -> dict:
        book = self.exchange.books[m.market_id]
        b, a = book.depth(1)
        bid = b[0] if b else (ZERO, ZERO)
        ask = a[0] if a else (ZERO, ZERO)
        return wire.ticker_24h(m, self.exchange.stats[m.market_id], self.exchange.spec.reference_price(m.market_id),
                               bid, ask, self.now_ms())

    def ticker(self, p: Params, perp: bool) -> Any:
        if p.get("symbol"):
            return self._ticker(self._market(p, perp))
        return [self._ticker(m) for m in self._markets(perp)]

    def ticker_price(self, p: Params, perp: bool) -> Any:
        def one(m: SymbolSpec) -> dict:
            st = self.exchange.stats[m.market_id]
            last = st.last if st.last is not None else self.exchange.mark_price(m.market_id)
            return {"symbol": m.symbol, "price": fmt(last), "time": self.now_ms()}
        return one(self._market(p, perp)) if p.get("symbol") else [one(m) for m in self._markets(perp)]

    def book_ticker(self, p: Params, perp: bool) -> Any:
        def one(m: SymbolSpec) -> dict:
            b, a = self.exchange.books[m.market_id].depth(1)
            bid = b[0] if b else (ZERO, ZERO)
            ask = a[0] if a else (ZERO, ZERO)
            return {"symbol": m.symbol, "bidPrice": fmt(bid[0]), "bidQty": fmt(bid[1]),
                    "askPrice": fmt(ask[0]), "askQty": fmt(ask[1]), "time": self.now_ms()}
        return one(self._market(p, perp)) if p.get("symbol") else [one(m) for m in self._markets(perp)]

    def premium_index(self, p: Params) -> Any:
        def one(m: SymbolSpec) -> dict:
            return {"symbol": m.symbol, "markPrice": fmt(self.exchange.mark_price(m.market_id)),
                    "indexPrice": fmt(self.exchange.index_price(m.market_id)),
                    "estimatedSettlePrice": fmt(self.exchange.index_price(m.market_id)),
                    "lastFundingRate": fmt(self.exchange.funding_rates[m.market_id]),
                    "interestRate": "0.0001", "nextFundingTime": self.exchange.next_funding_ms,
                    "time": self.now_ms()}
        return one(self._market(p, True)) if p.get("symbol") else [one(m) for m in self._markets(True)]

    # --- orders -------------------------------------------------------------------------
    def new_order(self, p: Params, account: str, perp: bool) -> dict:
        m = self._market(p, perp)
        order, fills = self.exchange.place_order(
            account, m, p.req("side"), p.req("type"), p.dec("quantity"), p.dec("price"),
            p.get("timeInForce"), p.get("newClientOrderId"), p.dec("quoteOrderQty"), p.bool("reduceOnly"))
        if perp:
            return wire.futures_order(order)
        resp_type = (p.get("newOrderRespType") or ("FULL" if order.type in ("MARKET", "LIMIT") else "ACK")).upper()
        if resp_type == "ACK":
            return {"symbol": m.symbol, "orderId": order.order_id, "orderListId": -1,
                    "clientOrderId": order.client_order_id, "transactTime": order.update_time}
        return wire.spot_order(order, fills if resp_type == "FULL" else None)

    def cancel_replace(self, p: Params, account: str) -> dict:
        m = self._market(p, False)
        mode = (p.get("cancelReplaceMode") or "").upper()
        if mode not in ("STOP_ON_FAILURE", "ALLOW_FAILURE"):
            raise E.mandatory_param("cancelReplaceMode")
        cancel_id, cancel_client = p.int("cancelOrderId"), p.get("cancelOrigClientOrderId")
        if cancel_id is None and cancel_client is None:
            raise E.BinanceError(-1102, "Param 'cancelOrigClientOrderId' or 'cancelOrderId' must be sent, but both were empty/null!")
        new_order = dict(side=p.req("side"), order_type=p.req("type"), quantity=p.dec("quantity"),
                         price=p.dec("price"), time_in_force=p.get("timeInForce"),
                         client_order_id=p.get("newClientOrderId"), quote_order_qty=p.dec("quoteOrderQty"))
        cancel_client_id = p.get("cancelNewClientOrderId") or f"cancel{secrets.token_hex(8)}"
        cancelled, cancel_err, placed, place_err = self.exchange.cancel_replace(
            account, m, cancel_id, cancel_client, new_order, mode)
        data = {"cancelResult": "FAILURE" if cancel_err else "SUCCESS",
                "newOrderResult": "FAILURE" if place_err else ("SUCCESS" if placed else "NOT_ATTEMPTED"),
                "cancelResponse": cancel_err.body() if cancel_err else wire.spot_cancel(cancelled, cancel_client_id),
                "newOrderResponse": place_err.body() if place_err else (
                    wire.spot_order(placed[0], placed[1]) if placed else None)}
        if cancel_err and place_err is None and placed is None:
            raise E.BinanceError(-2022, "Order cancel-replace failed.", data=data)
        if cancel_err or place_err:
            if cancel_err and place_err:
                raise E.BinanceError(-2022, "Order cancel-replace failed.", data=data)
            raise E.BinanceError(-2021, "Order cancel-replace partially failed.", 409, data=data)
        return data

    def modify_futures(self, p: Params, account: str) -> dict:
        m = self._market(p, True)
        order_id, client_id = p.int("orderId"), p.get("origClientOrderId")
        if order_id is None and client_id is None:
            raise E.BinanceError(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        order = self.exchange.modify_futures_order(account, m, order_id, client_id, p.req("side"),
                                                   p.dec("quantity"), p.dec("price"))
        return wire.futures_order(order)

    def _find(self, p: Params, account: str, m: SymbolSpec) -> Order:
        order_id = p.int("orderId")
        client_id = p.get("origClientOrderId")
        if order_id is None and client_id is None:
            raise E.BinanceError(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        order = self.exchange.find_order(account, m, order_id, client_id)
        if order is None:
            raise E.order_does_not_exist()
        return order

    def query_order(self, p: Params, account: str, perp: bool) -> dict:
        m = self._market(p, perp)
        order = self._find(p, account, m)
        return wire.futures_order(order) if perp else wire.spot_order_query(order)

    def cancel(self, p: Params, account: str, perp: bool) -> dict:
        m = self._market(p, perp)
        order_id = p.int("orderId")
        client_id = p.get("origClientOrderId")
        if order_id is None and client_id is None:
            raise E.BinanceError(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        cancel_id = p.get("newClientOrderId") or f"cancel{secrets.token_hex(8)}"
        order = self.exchange.cancel_order(account, m, order_id, client_id, cancel_id)
        return wire.futures_order(order) if perp else wire.spot_cancel(order, cancel_id)

    def cancel_all(self, p: Params, account: str, perp: bool) -> Any:
        m = self._market(p, perp)
        done = self.exchange.cancel_all(account, m)
        if perp:
            return {"code": 200, "msg": "The operation of cancel all open order is done."}
        return [wire.spot_cancel(o, o.client_order_id) for o in done]

    def open_orders(self, p: Params, account: str, perp: bool) -> list:
        m = self._market(p, perp) if p.get("symbol") else None
        orders = self.exchange.open_orders(account, m, perp)
        return [wire.futures_order(o) if perp else wire.spot_order_query(o) for o in orders]

    def all_orders(self, p: Params, account: str, perp: bool) -> list:
        m = self._market(p, perp)
        limit = min(p.int("limit", 500), 1000)
        orders = [o for o in self.exchange.orders.values() if o.account == account and o.market is m]
        return [wire.futures_order(o) if perp else wire.spot_order_query(o) for o in orders[-limit:]]

    def my_trades(self, p: Params, account: str, perp: bool) -> list:
        m = self._market(p, perp)
        limit = min(p.int("limit", 500), 1000)
        order_id = p.int("orderId")
        fills = [f for f in self.exchange.fills_by_account.get(account, [])
                 if f.market_id == m.market_id and (order_id is None or f.order_id == order_id)]
        fmt_one = wire.futures_user_trade if perp else wire.spot_my_trade
        return [fmt_one(f, m) for f in fills[-limit:]]

    def spot_account(self, account: str) -> dict:
        balances = self.exchange.spot.balances[account]
        return {"makerCommission": int(self.spec.maker_fee * 10_000), "takerCommission": int(self.spec.taker_fee * 10_000),
                "buyerCommission": 0, "sellerCommission": 0,
                "commissionRates": {"maker": fmt(self.spec.maker_fee), "taker": fmt(self.spec.taker_fee),
                                    "buyer": "0", "seller": "0"},
                "canTrade": True, "canWithdraw": False, "canDeposit": False, "brokered": False,
                "requireSelfTradePrevention": False, "preventSor": False, "updateTime": self.now_ms(),
                "accountType": "SPOT", "uid": 1,
                "balances": [{"asset": a, "free": fmt(b.free), "locked": fmt(b.locked)} for a, b in sorted(balances.items())],
                "permissions": ["SPOT"]}

    # --- futures account ----------------------------------------------------------------
    def _totals(self, account: str) -> dict:
        ex = self.exchange
        return ex.futures.totals(account, ex.mark_price, ex.open_order_margin)

    def futures_account(self, account: str) -> dict:
        ex, fut = self.exchange, self.exchange.futures
        t = self._totals(account)
        upd = fut.update_times.get(account, self.now_ms()) or 1
        asset = {"asset": "USDT", "walletBalance": fmt(t["wallet"]), "unrealizedProfit": fmt(t["unrealized"]),
                 "marginBalance": fmt(t["margin_balance"]), "maintMargin": fmt(t["maint_margin"]),
                 "initialMargin": fmt(t["initial_margin"]), "positionInitialMargin": fmt(t["position_initial_margin"]),
                 "openOrderInitialMargin": fmt(t["open_order_initial_margin"]), "crossWalletBalance": fmt(t["wallet"]),
                 "crossUnPnl": fmt(t["unrealized"]), "availableBalance": fmt(t["available"]),
                 "maxWithdrawAmount": fmt(t["available"]), "marginAvailable": True, "updateTime": upd}
        positions = []
        for m in self._markets(True):
            pos = fut.position(account, m.market_id)
            mark = ex.mark_price(m.market_id)
            cfg = fut.config(account, m.market_id)
            positions.append({
                "symbol": m.symbol, "positionSide": "BOTH", "positionAmt": fmt(pos.amount),
                "unrealizedProfit": fmt(fut.unrealized(pos, mark)),
                "isolatedMargin": fmt(self._isolated_margin(account, m)), "notional": fmt(pos.amount * mark),
                "isolatedWallet": fmt(pos.isolated_wallet), "initialMargin": fmt(abs(pos.amount) * mark / cfg.leverage),
                "maintMargin": fmt(fut.maintenance_margin(pos, mark)), "updateTime": pos.update_time,
                "leverage": str(cfg.leverage), "isolated": cfg.margin_type == ISOLATED,
                "entryPrice": fmt(pos.entry_price), "maxNotional": fmt(max_notional_for_leverage(cfg.leverage)),
                "positionInitialMargin": fmt(abs(pos.amount) * mark / cfg.leverage), "openOrderInitialMargin": "0"})
        return {"feeTier": 0, "canTrade": True, "canDeposit": True, "canWithdraw": False, "updateTime": 0,
                "multiAssetsMargin": False, "tradeGroupId": -1,
                "totalInitialMargin": fmt(t["initial_margin"]), "totalMaintMargin": fmt(t["maint_margin"]),
                "totalWalletBalance": fmt(t["wallet"]), "totalUnrealizedProfit": fmt(t["unrealized"]),
                "totalMarginBalance": fmt(t["margin_balance"]),
                "totalPositionInitialMargin": fmt(t["position_initial_margin"]),
                "totalOpenOrderInitialMargin": fmt(t["open_order_initial_margin"]),
                "totalCrossWalletBalance": fmt(t["wallet"]), "totalCrossUnPnl": fmt(t["unrealized"]),
                "availableBalance": fmt(t["available"]), "maxWithdrawAmount": fmt(t["available"]),
                "assets": [asset], "positions": positions}

    def _isolated_margin(self, account: str, m: SymbolSpec) -> Decimal:
        fut = self.exchange.futures
        if fut.config(account, m.market_id).margin_type != ISOLATED:
            return ZERO
        pos = fut.position(account, m.market_id)
        return pos.isolated_wallet + fut.unrealized(pos, self.exchange.mark_price(m.market_id))

    def position_risk(self, p: Params, account: str, v2: bool) -> list:
        ex, fut = self.exchange, self.exchange.futures
        markets = [self._market(p, True)] if p.get("symbol") else self._markets(True)
        out = []
        for m in markets:
            pos = fut.position(account, m.market_id)
            if not v2 and pos.amount == ZERO:
                continue
            mark = ex.mark_price(m.market_id)
            cfg = fut.config(account, m.market_id)
            im = abs(pos.amount) * mark / cfg.leverage
            d = {"symbol": m.symbol, "positionSide": "BOTH", "positionAmt": fmt(pos.amount),
                 "entryPrice": fmt(pos.entry_price), "breakEvenPrice": fmt(pos.entry_price), "markPrice": fmt(mark),
                 "unRealizedProfit": fmt(fut.unrealized(pos, mark)),
                 "liquidationPrice": fmt(fut.liquidation_price(account, m.market_id, ex.mark_price).quantize(m.tick_size)),
                 "isolatedMargin": fmt(self._isolated_margin(account, m)), "notional": fmt(pos.amount * mark),
                 "marginAsset": m.quote, "isolatedWallet": fmt(pos.isolated_wallet), "initialMargin": fmt(im),
                 "maintMargin": fmt(fut.maintenance_margin(pos, mark)), "positionInitialMargin": fmt(im),
                 "openOrderInitialMargin": "0", "adl": 0, "bidNotional": "0", "askNotional": "0",
                 "updateTime": pos.update_time}
            if v2:
                d.update({"leverage": str(cfg.leverage), "marginType": "isolated" if cfg.margin_type == ISOLATED else "cross",
                          "maxNotionalValue": fmt(max_notional_for_leverage(cfg.leverage)), "isAutoAddMargin": "false"})
            out.append(d)
        return out

    def leverage_bracket(self, p: Params) -> Any:
        brackets = [{"bracket": b.bracket, "initialLeverage": b.initial_leverage, "notionalCap": fmt(b.notional_cap),
                     "notionalFloor": fmt(b.notional_floor), "maintMarginRatio": fmt(b.maint_margin_ratio),
                     "cum": fmt(b.cum)} for b in BRACKETS]
        if p.get("symbol"):
            m = self._market(p, True)
            return {"symbol": m.symbol, "notionalCoef": "1.0", "brackets": brackets}
        return [{"symbol": m.symbol, "notionalCoef": "1.0", "brackets": brackets} for m in self._markets(True)]

    def symbol_config(self, p: Params, account: str) -> list:
        markets = [self._market(p, True)] if p.get("symbol") else self._markets(True)
        out = []
        for m in markets:
            cfg = self.exchange.futures.config(account, m.market_id)
            out.append({"symbol": m.symbol, "marginType": cfg.margin_type, "isAutoAddMargin": "false",
                        "leverage": cfg.leverage, "maxNotionalValue": fmt(max_notional_for_leverage(cfg.leverage))})
        return out

    def set_leverage(self, p: Params, account: str) -> dict:
        m = self._market(p, True)
        lev = self.exchange.set_leverage(account, m, p.int("leverage") or 0)
        return {"leverage": lev, "maxNotionalValue": fmt(max_notional_for_leverage(lev)), "symbol": m.symbol}

    def set_margin_type(self, p: Params, account: str) -> dict:
        m = self._market(p, True)
        self.exchange.set_margin_type(account, m, p.req("marginType"))
        return {"code": 200, "msg": "success"}

    def commission(self, p: Params) -> dict:
        m = self._market(p, True)
        return {"symbol": m.symbol, "makerCommissionRate": fmt(self.spec.futures_maker_fee),
                "takerCommissionRate": fmt(self.spec.futures_taker_fee)}

    def new_listen_key(self, account: str) -> dict:
        for key, acct in self.listen_keys.items():
            if acct == account:
                return {"listenKey": key}
        key = secrets.token_urlsafe(48)[:64]
        self.listen_keys[key] = account
        return {"listenKey": key}

    # --- engine events -> user streams ---------------------------------------------------
    def _on_execution(self, ex: Execution) -> None:
        acct = ex.order.account
        if ex.order.market.is_perp:
            conns = self.futures_users.get(acct)
            if conns:
                raw = dumps(wire.order_trade_update(ex, self.now_ms()))
                for c in list(conns):
                    c.send(raw)
        else:
            conns = self.spot_users.get(acct)
            if conns:
                event = wire.execution_report(ex, self.now_ms())
                for c in list(conns):
                    c.send(dumps({"subscriptionId": c.subscription_id, "event": event}))

    def _on_balance(self, account: str, kind: str, items: set) -> None:
        now = self.now_ms()
        if kind == "spot":
            conns = self.spot_users.get(account)
            if not conns:
                return
            bal = self.exchange.spot.balances[account]
            event = {"e": "outboundAccountPosition", "E": now, "u": now,
                     "B": [{"a": a, "f": fmt(bal[a].free), "l": fmt(bal[a].locked)} for a in sorted(items) if a in bal]}
            for c in list(conns):
                c.send(dumps({"subscriptionId": c.subscription_id, "event": event}))
            return
        conns = self.futures_users.get(account)
        if not conns:
            return
        c_raw = dumps(self._account_update(account, items, now))
        for c in list(conns):
            c.send(c_raw)

    def _account_update(self, account: str, market_ids: set, now: int) -> dict:
        ex, fut = self.exchange, self.exchange.futures
        wallet = fut.wallet(account)
        positions = []
        for mid in sorted(market_ids):
            m = ex.markets[mid]
            pos = fut.position(account, mid)
            cfg = fut.config(account, mid)
            positions.append({"s": m.symbol, "pa": fmt(pos.amount), "ep": fmt(pos.entry_price), "bep": fmt(pos.entry_price),
                              "cr": "0", "up": fmt(fut.unrealized(pos, ex.mark_price(mid))),
                              "mt": "isolated" if cfg.margin_type == ISOLATED else "cross",
                              "iw": fmt(pos.isolated_wallet), "ps": "BOTH"})
        return {"e": "ACCOUNT_UPDATE", "E": now, "T": now, "a": {
            "m": "ORDER", "B": [{"a": "USDT", "wb": fmt(wallet), "cw": fmt(wallet), "bc": "0"}], "P": positions}}

    def _on_trade(self, trade) -> None:
        m = self.exchange.markets[trade.symbol]
        hub = self.futures_hub if m.is_perp else self.spot_hub
        low = m.symbol.lower()
        now = self.now_ms()
        if hub.wants(low + "@trade"):
            hub.publish(low + "@trade", wire.trade_event(m, trade, now))
        if hub.wants(low + "@aggTrade"):
            hub.publish(low + "@aggTrade", wire.agg_trade_event(m, trade, now))

    # --- periodic publishers -------------------------------------------------------------
    def flush_depth(self) -> None:
        now = self.now_ms()
        for mid, book in self.exchange.books.items():
            diff = book.take_diff()
            m = self.exchange.markets[mid]
            hub = self.futures_hub if m.is_perp else self.spot_hub
            low = m.symbol.lower()
            if diff is not None:
                msg = None
                for suffix in DEPTH_SUFFIXES:
                    name = low + suffix
                    if hub.wants(name):
                        msg = msg or wire.depth_update(m, diff, now)
                        self.depth_messages_sent += hub.publish(name, msg)
            if hub.wants(low + "@bookTicker"):
                b, a = book.depth(1)
                bbo = (b[0] if b else (ZERO, ZERO), a[0] if a else (ZERO, ZERO))
                if self._last_bbo.get(mid) != bbo:
                    self._last_bbo[mid] = bbo
                    hub.publish(low + "@bookTicker", {"e": "bookTicker", "u": book.update_id, "E": now, "T": now,
                                                      "s": m.symbol, "b": fmt(bbo[0][0]), "B": fmt(bbo[0][1]),
                                                      "a": fmt(bbo[1][0]), "A": fmt(bbo[1][1])})

    def publish_tickers(self) -> None:
        now = self.now_ms()
        for mid, m in self.exchange.markets.items():
            hub = self.futures_hub if m.is_perp else self.spot_hub
            low = m.symbol.lower()
            if hub.wants(low + "@miniTicker"):
                hub.publish(low + "@miniTicker", wire.mini_ticker(m, self.exchange.stats[mid],
                                                                  self.spec.reference_price(mid), now))
            if hub.wants(low + "@ticker"):
                hub.publish(low + "@ticker", wire.ticker_event(self._ticker(m), now))
            if m.is_perp:
                for name in (low + "@markPrice", low + "@markPrice@1s"):
                    if hub.wants(name):
                        hub.publish(name, {"e": "markPriceUpdate", "E": now, "s": m.symbol,
                                           "p": fmt(self.exchange.mark_price(mid)), "i": fmt(self.exchange.index_price(mid)),
                                           "P": fmt(self.exchange.index_price(mid)),
                                           "r": fmt(self.exchange.funding_rates[mid]), "T": self.exchange.next_funding_ms})

    async def _every(self, seconds: float, fn: Callable[[], None]) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                fn()
            except Exception:  # noqa: BLE001 - a publisher bug must not stop the venue
                log.exception("periodic task %s failed", getattr(fn, "__name__", fn))

    def start_background(self, model_factory) -> None:
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._every(self.spec.depth_interval_ms / 1000, self.flush_depth)))
        self._tasks.append(loop.create_task(self._every(self.spec.ticker_interval_ms / 1000, self.publish_tickers)))
        self._tasks.append(loop.create_task(self._drive(model_factory)))

    async def _drive(self, model_factory) -> None:
        """Step the market model every ~100 ms of market time; settle funding."""
        model = model_factory(self.exchange, self.spec, self.clock) if model_factory else None
        wall = getattr(self.clock, "wall_seconds", None)
        period = wall(0.1) if wall else 0.1
        while True:
            try:
                now = self.clock.now()
                if model is not None:
                    model.step(now)
                self.exchange.on_time(int(now * 1000))
            except Exception:  # noqa: BLE001
                log.exception("market model step failed")
            await asyncio.sleep(period)

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        for c in list(self.conns):
            await c.close()
            await c.ws.close()

    # --- websocket endpoints -------------------------------------------------------------
    async def _open_ws(self, request: web.Request, combined: bool = False) -> tuple[web.WebSocketResponse, StreamConn]:
        ws = web.WebSocketResponse(heartbeat=None, autoping=True, max_msg_size=1 << 20)
        await ws.prepare(request)
        conn = StreamConn(ws, self.spec.stream_latency_ms, combined)
        self.conns.add(conn)
        return ws, conn

    def _market_ws(self, hub: Hub):
        async def handler(request: web.Request) -> web.WebSocketResponse:
            streams_q = request.query.get("streams")
            ws, conn = await self._open_ws(request, combined=bool(streams_q))
            initial = streams_q.split("/") if streams_q else []
            n = request.match_info.get("n")
            if n and "@" in n:
                initial.append(n)
            for name in initial:
                hub.subscribe(conn, name)
            try:
                async for msg in ws:
                    if msg.type != WSMsgType.TEXT:
                        continue
                    self._market_control(hub, conn, msg.data)
            finally:
                hub.drop(conn)
                self.conns.discard(conn)
                await conn.close()
            return ws
        return handler

    def _market_control(self, hub: Hub, conn: StreamConn, text: str) -> None:
        try:
            req = json.loads(text)
            method, rid = req.get("method"), req.get("id")
            params = req.get("params") or []
        except (ValueError, AttributeError):
            conn.send(dumps({"error": {"code": 3, "msg": "Invalid JSON: expected value at line 1 column 1"}}))
            return
        if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
            conn.send(dumps({"error": {"code": 2, "msg": "Invalid request: 'params' must be a list of stream names"},
                             "id": rid}))
            return
        if method == "SUBSCRIBE":
            for name in params:
                hub.subscribe(conn, str(name))
            conn.send(dumps({"result": None, "id": rid}))
        elif method == "UNSUBSCRIBE":
            for name in params:
                hub.unsubscribe(conn, str(name))
            conn.send(dumps({"result": None, "id": rid}))
        elif method == "LIST_SUBSCRIPTIONS":
            conn.send(dumps({"result": sorted(conn.streams), "id": rid}))
        else:
            conn.send(dumps({"error": {"code": 2, "msg": f"Invalid request: unknown method {method!r}"}, "id": rid}))

    async def _futures_user_ws(self, request: web.Request) -> web.WebSocketResponse:
        key = request.query.get("listenKey") or request.match_info.get("n") or ""
        account = self.listen_keys.get(key)
        ws, conn = await self._open_ws(request)
        if account is None:
            await ws.send_str(dumps({"e": "listenKeyExpired", "E": self.now_ms(), "listenKey": key}))
            await ws.close()
            self.conns.discard(conn)
            await conn.close()
            return ws
        conn.account = account
        self.futures_users.setdefault(account, set()).add(conn)
        try:
            async for _ in ws:
                pass
        finally:
            self.futures_users.get(account, set()).discard(conn)
            self.conns.discard(conn)
            await conn.close()
        return ws

    def _ws_api_handler(self, methods: dict[str, tuple[str, str]]):
        async def handler(request: web.Request) -> web.WebSocketResponse:
            ws, conn = await self._open_ws(request)
            client_ip = f"ip:{request.remote}"
            try:
                async for msg in ws:
                    if msg.type != WSMsgType.TEXT:
                        continue
                    if self.spec.request_latency_ms:
                        await asyncio.sleep(self.spec.request_latency_ms / 1000)
                    # a response already paid the request latency; events pay the stream latency
                    conn.send(dumps(self._ws_api_request(conn, msg.data, client_ip, methods)), latency=0.0)
            finally:
                if conn.account is not None:
                    self.spot_users.get(conn.account, set()).discard(conn)
                self.conns.discard(conn)
                await conn.close()
            return ws
        return handler

    WS_API_METHODS = {
        "order.place": ("POST", "/api/v3/order"), "order.cancel": ("DELETE", "/api/v3/order"),
        "order.status": ("GET", "/api/v3/order"), "openOrders.status": ("GET", "/api/v3/openOrders"),
        "openOrders.cancelAll": ("DELETE", "/api/v3/openOrders"), "account.status": ("GET", "/api/v3/account"),
        "myTrades": ("GET", "/api/v3/myTrades"), "depth": ("GET", "/api/v3/depth"),
        "ticker.24hr": ("GET", "/api/v3/ticker/24hr"), "exchangeInfo": ("GET", "/api/v3/exchangeInfo"),
    }
    WS_FAPI_METHODS = {
        "order.place": ("POST", "/fapi/v1/order"), "order.cancel": ("DELETE", "/fapi/v1/order"),
        "order.status": ("GET", "/fapi/v1/order"), "account.status": ("GET", "/fapi/v3/account"),
        "account.balance": ("GET", "/fapi/v3/balance"), "account.position": ("GET", "/fapi/v3/positionRisk"),
        "depth": ("GET", "/fapi/v1/depth"),
    }

    def _ws_api_request(self, conn: StreamConn, text: str, client_ip: str,
                        methods: dict[str, tuple[str, str]]) -> dict:
        rid = None
        try:
            try:
                req = json.loads(text)
                rid = req.get("id")
                method = req["method"]
                params = dict(req.get("params") or {})
            except (ValueError, KeyError, AttributeError, TypeError):
                raise E.BinanceError(-1013, "Malformed request.") from None  # not applied as a filter failure
            if method == "ping":
                return {"id": rid, "status": 200, "result": {}}
            if method == "time":
                return {"id": rid, "status": 200, "result": {"serverTime": int(time.time() * 1000)}}
            if method == "userDataStream.subscribe.signature" and methods is self.WS_API_METHODS:
                account = self._ws_verify(params, client_ip, weight=2, orders=0)
                self._sub_ids += 1
                conn.subscription_id = self._sub_ids
                conn.account = account
                self.spot_users.setdefault(account, set()).add(conn)
                return {"id": rid, "status": 200, "result": {"subscriptionId": conn.subscription_id}}
            if method == "userDataStream.unsubscribe":
                if conn.account is not None:
                    self.spot_users.get(conn.account, set()).discard(conn)
                return {"id": rid, "status": 200, "result": {}}
            target = methods.get(method)
            if target is None:
                raise E.BinanceError(-1020, f"Unsupported method: {method}")
            route = next(r for r in self.routes if (r.method, r.path) == target)
            account = None
            if route.signed:
                account = self._ws_verify(params, client_ip, route.weight, route.orders)
            else:
                self.limiter.charge(client_ip, route.weight, 0)
            values = {k: _text(v) for k, v in params.items() if k not in ("signature", "apiKey")}
            return {"id": rid, "status": 200, "result": route.handler(Params(values), account)}
        except E.BinanceError as exc:
            out = {"id": rid, "status": exc.http_status, "error": exc.body()}
            if exc.retry_after:
                out["error"]["data"] = {"retryAfter": int(time.time() * 1000) + exc.retry_after * 1000}
            return out
        except Exception:  # noqa: BLE001
            log.exception("ws-api request failed")
            return {"id": rid, "status": 500, "error": E.internal_error().body()}

    def _ws_verify(self, params: dict, client_ip: str, weight: int, orders: int) -> str:
        api_key = params.get("apiKey")
        self.limiter.charge(f"key:{api_key}" if api_key else client_ip, weight, orders)
        account, secret = self._account_for(api_key)
        check_timestamp(params, self.spec.recv_window_max_ms)
        verify_signature(ws_payload(params), params.get("signature"), secret)
        return account


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

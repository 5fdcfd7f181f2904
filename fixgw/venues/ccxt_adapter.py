"""The ccxt implementation of :class:`~fixgw.venues.base.VenueAdapter`.

One adapter per venue account. A venue that trades both spot and USD-M perpetuals (Binance
style) gets two ccxt.pro exchange instances behind this one adapter -- ``binance`` for spot
symbols (``BTC/USDT``) and ``binanceusdm`` for linear ones (``BTC/USDT:USDT``) -- chosen by
symbol, because for the OMS and the router both are the same venue (one LastMkt, one set of
credentials); the two differ only in fees, limits and user-data transport (spot: ws-api
``userDataStream.subscribe``; futures: listenKey), which ccxt handles.

Order events reach :meth:`on_event` consumers from the user-data stream
(:mod:`fixgw.venues.ccxt_stream`: the watch loops, their cache sweeps, the silent-reconnect
check and the poll loop standing in while the stream is down) and from the REST pass
(:mod:`fixgw.venues.ccxt_reconcile`). Fills are deduplicated by trade id and order updates by
(state, filled), so a consumer sees each fill once whichever path delivered it; the fills of an
order are always delivered before the update that reports them filled. This module is the
order-entry surface that wires those two together.

Submits carry our client order id (``newClientOrderId``). A submit retried after a network
error, or repeated by the caller, that the venue refuses as a duplicate resolves by fetching
the order, so submit is idempotent.
"""
from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import Any, Callable

import ccxt
import ccxt.pro as ccxtpro

from fixgw.clock import Clock, LiveClock
from fixgw.domain import OrdType, Side, TimeInForce
from fixgw.marketdata.decimals import to_decimal, to_decimal_or_none
from fixgw.routing.sor import VenueRules
from fixgw.venues.base import (VenueError, VenueErrorKind, VenueEvent, VenueFees, VenueFill,
                               VenueOrderRequest, VenueOrderUpdate)
from fixgw.venues.ccxt_market import LINEAR, SPOT, CcxtMarket, kind_of
from fixgw.venues.ccxt_reconcile import RestReconciler
from fixgw.venues.ccxt_stream import UserDataStream
from fixgw.venues.convert import order_client_id, order_update, trade_fill
from fixgw.venues.config import Credentials, VenueConfig, load_credentials
from fixgw.venues.errors import is_duplicate_order, scrub, venue_error
from fixgw.venues.ratelimit import RateLimitExhausted, VenueRateLimiter
from fixgw.venues.tracking import STREAM, AdapterStats, OrderTracker
from fixgw.venues.urls import rebased_api_urls

log = logging.getLogger("fixgw.venues")

ZERO = Decimal(0)

# request weights of the Binance endpoints used here (spot, futures)
_WEIGHT = {
    "order": (1, 1), "cancel": (1, 1), "fetch_order": (4, 1), "open_orders_symbol": (6, 1),
    "open_orders_all": (80, 40), "my_trades": (20, 5), "balance": (20, 5), "markets": (20, 1),
}

_TIF = {TimeInForce.GTC: "GTC", TimeInForce.IOC: "IOC", TimeInForce.FOK: "FOK",
        TimeInForce.DAY: "GTC", TimeInForce.GTD: "GTC"}  # Day/GTD expiry is the OMS's job


class CcxtVenueAdapter:
    """See the module docstring. Construct, then ``await connect()``."""

    def __init__(self, config: VenueConfig, *, clock: Clock | None = None,
                 credentials: Credentials | None = None, environ: dict[str, str] | None = None,
                 logger: logging.Logger | None = None):
        self.config = config
        self.name = config.name
        self._clock = clock or LiveClock()
        self._credentials = credentials if credentials is not None else load_credentials(config, environ)
        self._secrets = ((self._credentials.api_key, self._credentials.secret)
                         if self._credentials else ())
        self._log = logger or log
        self._markets: dict[str, CcxtMarket] = {}
        self._closing = False
        self._connected = False
        self.stats = AdapterStats()
        self._tracker = OrderTracker(self.name, self.stats, self._log)
        self._reconciler = RestReconciler(self)
        self._stream = UserDataStream(self, self._reconciler)
        self.fees: VenueFees = config.fees or VenueFees(Decimal("0.001"), Decimal("0.001"))
        self._fees_by_symbol: dict[str, VenueFees] = {}
        self._rules_cache: dict[str, VenueRules] = {}
        self._tick_cache: dict[str, Decimal | None] = {}

    @property
    def stream_gap_recoveries(self) -> int:
        """Fills and updates only a cache sweep delivered: events whose stream wake-up was lost."""
        return self._stream.stream_gap_recoveries

    @property
    def stream_reconnects(self) -> int:
        """User-data connections ccxt replaced without a failed watch, each caught up over REST."""
        return self._stream.stream_reconnects

    @property
    def fill_lag_hold_s(self) -> float:
        """How long the REST pass holds an update whose fills the venue does not list yet."""
        return self._reconciler.fill_lag_hold_s

    @fill_lag_hold_s.setter
    def fill_lag_hold_s(self, seconds: float) -> None:
        self._reconciler.fill_lag_hold_s = seconds

    # -- lifecycle -----------------------------------------------------------------------
    def _kinds(self) -> list[str]:
        kinds = []
        if self.config.spot_symbols or not self.config.linear_symbols:
            kinds.append(SPOT)
        if self.config.linear_symbols:
            kinds.append(LINEAR)
        return kinds

    def _build_exchange(self, kind: str) -> Any:
        exchange_id = self.config.exchange_id if kind == SPOT else self.config.linear_id
        if exchange_id is None or not hasattr(ccxtpro, exchange_id):
            raise VenueError(self.name, VenueErrorKind.INVALID_ORDER,
                             f"no ccxt.pro exchange for {kind} markets (exchange id {exchange_id!r})")
        options: dict[str, Any] = {
            "fetchMarkets": {"types": [SPOT if kind == SPOT else "linear"]},
            "fetchCurrencies": False, "fetchMargins": False,
            "adjustForTimeDifference": False, "recvWindow": 5000,
            "warnOnFetchOpenOrdersWithoutSymbol": False,
            "defaultType": "spot" if kind == SPOT else "future",
        }
        params: dict[str, Any] = {"enableRateLimit": False, "timeout": self.config.timeout_ms,
                                  "options": options, "newUpdates": True}
        if self._credentials:
            params["apiKey"] = self._credentials.api_key
            params["secret"] = self._credentials.secret
        ex = getattr(ccxtpro, exchange_id)(params)
        # unified structures as strings, so no float ever carries an order/fill number
        ex.number = str
        if self.config.base_url:
            ex.urls["api"] = rebased_api_urls(ex.urls["api"], self.config.base_url, self.config.ws_url)
            # ccxt picks per-market error tables by the real hostname: merge them (VENUES.md)
            per_market = ex.exceptions.get(SPOT if kind == SPOT else "linear", {})
            ex.exceptions["exact"] = {**ex.exceptions["exact"], **per_market.get("exact", {})}
        return ex

    async def connect(self) -> None:
        """Create the ccxt instances, load markets, start the user-data streams."""
        if self._connected:
            return
        self._closing = False
        self._rules_cache.clear()
        self._tick_cache.clear()
        for kind in self._kinds():
            limits = self.config.rate_limits if kind == SPOT else self.config.linear_rate_limits
            # venue limits are per real second, whatever the (possibly scaled) market clock
            market = CcxtMarket(self._build_exchange(kind), VenueRateLimiter(limits, LiveClock()))
            self._markets[kind] = market
            try:
                await self._call(kind, "markets", market.exchange.load_markets)
            except Exception as exc:
                await self.close()
                if isinstance(exc, VenueError):
                    raise
                raise venue_error(self.name, exc, self._secrets) from None
        self._load_fees()
        self._connected = True
        if self._credentials:
            await self._fetch_fees()
        if self._credentials:
            for kind in self._markets:
                self._stream.start(kind)

    async def close(self) -> None:
        self._closing = True
        for market in self._markets.values():
            tasks = market.tasks + ([market.catch_up] if market.catch_up is not None else [])
            for task in tasks:
                task.cancel()
            for task in tasks:
                try:
                    await task
                except (asyncio.CancelledError, Exception):
                    pass
            try:
                await market.exchange.close()
            except Exception as exc:  # closing a broken connection must not raise
                self._log.debug("%s: close: %s", self.name, scrub(str(exc), self._secrets))
        self._markets.clear()
        self._connected = False

    def on_event(self, callback: Callable[[VenueEvent], None]) -> None:
        """Consumers are called synchronously from the stream/poll loops: keep them quick."""
        self._tracker.subscribe(callback)

    # -- introspection used by market data, routing and risk -------------------------------
    def exchange_for(self, symbol: str) -> Any:
        """The ccxt.pro instance serving ``symbol`` (market data watches share it)."""
        market = self._markets.get(kind_of(symbol))
        if market is None:
            raise VenueError(self.name, VenueErrorKind.INVALID_ORDER, f"symbol {symbol} not traded here")
        return market.exchange

    @property
    def symbols(self) -> tuple[str, ...]:
        if self.config.symbols:
            return self.config.symbols
        return tuple(s for m in self._markets.values() for s in (m.exchange.symbols or ()))

    def fees_for(self, symbol: str) -> VenueFees:
        return self._fees_by_symbol.get(symbol, self.fees)

    def market_rules(self, symbol: str) -> VenueRules:
        """Lot size, minimum quantity and notional of ``symbol`` here (from exchangeInfo)."""
        rules = self._rules_cache.get(symbol)
        if rules is None:
            m = self._market_info(symbol)
            limits = m.get("limits") or {}
            precision = m.get("precision") or {}
            rules = VenueRules(
                lot_size=to_decimal_or_none(precision.get("amount")) or ZERO,
                min_qty=to_decimal_or_none((limits.get("amount") or {}).get("min")) or ZERO,
                min_notional=to_decimal_or_none((limits.get("cost") or {}).get("min")) or ZERO)
            self._rules_cache[symbol] = rules
        return rules

    def tick_size(self, symbol: str) -> Decimal | None:
        if symbol not in self._tick_cache:
            self._tick_cache[symbol] = to_decimal_or_none(
                (self._market_info(symbol).get("precision") or {}).get("price"))
        return self._tick_cache[symbol]

    def stream_up(self, symbol_or_kind: str = SPOT) -> bool:
        kind = symbol_or_kind if symbol_or_kind in (SPOT, LINEAR) else kind_of(symbol_or_kind)
        market = self._markets.get(kind)
        return bool(market and market.stream_up)

    def limiter(self, symbol_or_kind: str = SPOT) -> VenueRateLimiter:
        kind = symbol_or_kind if symbol_or_kind in (SPOT, LINEAR) else kind_of(symbol_or_kind)
        return self._market(kind).limiter

    def _market_info(self, symbol: str) -> dict:
        ex = self.exchange_for(symbol)
        try:
            return ex.market(symbol)
        except Exception:
            raise VenueError(self.name, VenueErrorKind.INVALID_ORDER,
                             f"unknown symbol {symbol!r} at {self.name}") from None

    def _load_fees(self) -> None:
        for kind, market in self._markets.items():
            configured = self.config.fees if kind == SPOT else self.config.linear_fees
            for symbol, m in (market.exchange.markets or {}).items():
                if configured is not None:
                    self._fees_by_symbol[symbol] = configured
                    continue
                maker, taker = m.get("maker"), m.get("taker")
                if maker is not None and taker is not None:
                    self._fees_by_symbol[symbol] = VenueFees(to_decimal(maker), to_decimal(taker))
        if self.config.fees is None:
            first = next((self._fees_by_symbol[s] for s in self.config.spot_symbols
                          if s in self._fees_by_symbol), None)
            if first is not None:
                self.fees = first

    async def _fetch_fees(self) -> None:
        """The account's own commission rates: spot from /api/v3/account ``commissionRates``,
        perps from the trading-fee endpoint. On failure the market defaults stay (logged)."""
        for kind, market in self._markets.items():
            if (self.config.fees if kind == SPOT else self.config.linear_fees) is not None:
                continue   # configured fees win
            ex = market.exchange
            try:
                if kind == SPOT:
                    balance = await self._call(kind, "balance", ex.fetch_balance)
                    rates = (balance.get("info") or {}).get("commissionRates") or {}
                    if rates.get("maker") is not None and rates.get("taker") is not None:
                        fees = VenueFees(to_decimal(rates["maker"]), to_decimal(rates["taker"]))
                        for symbol in self.config.spot_symbols or tuple(ex.symbols or ()):
                            self.set_fees(symbol, fees)
                else:
                    for symbol in self.config.linear_symbols:
                        fee = await self._call(kind, "balance", ex.fetch_trading_fee, symbol)
                        self.set_fees(symbol, VenueFees(to_decimal(fee["maker"]), to_decimal(fee["taker"])))
            except Exception as exc:
                self._log.warning("%s: could not fetch %s fees, using market defaults: %s", self.name,
                                  kind, scrub(f"{type(exc).__name__}: {exc}", self._secrets)[:200])

    def set_fees(self, symbol: str, fees: VenueFees) -> None:
        """Override the fee schedule of one symbol (config, or fees fetched from the venue)."""
        self._fees_by_symbol[symbol] = fees
        if kind_of(symbol) == SPOT and self.config.fees is None:
            self.fees = fees

    # -- calls through the limiter ---------------------------------------------------------
    def _market(self, kind: str) -> CcxtMarket:
        market = self._markets.get(kind)
        if market is None:
            if not self._connected:
                raise VenueError(self.name, VenueErrorKind.UNAVAILABLE, "venue not connected")
            raise VenueError(self.name, VenueErrorKind.INVALID_ORDER,
                             f"no {kind} markets are configured at this venue")
        return market

    async def _call(self, kind: str, what: str, fn: Callable, *args: Any, orders: int = 0,
                    **kwargs: Any) -> Any:
        market = self._market(kind)
        weight = _WEIGHT[what][0 if kind == SPOT else 1]
        try:
            await market.limiter.acquire(weight, orders)
        except RateLimitExhausted as exc:
            raise VenueError(self.name, VenueErrorKind.RATE_LIMITED, f"fixgw limiter: {exc}") from None
        return await fn(*args, **kwargs)

    # -- orders ------------------------------------------------------------------------------
    async def submit(self, request: VenueOrderRequest) -> VenueOrderUpdate:
        kind = kind_of(request.symbol)
        market = self._market(kind)
        self._validate(request)
        tracked = self._tracker.get(request.client_order_id)
        if tracked is not None and tracked.last is not None:
            # already acknowledged by the venue: a repeat must not create a second order
            # (Binance refuses a reused id only while the first order is open)
            return await self._resolve_existing(request, None)
        self._tracker.track(request, kind, self._now_ms())
        ccxt_type = "market" if request.ord_type is OrdType.MARKET else "limit"
        params: dict[str, Any] = {"newClientOrderId": request.client_order_id}
        if ccxt_type == "limit":
            params["timeInForce"] = _TIF[request.tif]
            if request.post_only:
                params["postOnly"] = True
                params.pop("timeInForce")
        if request.reduce_only:
            params["reduceOnly"] = True
        amount = format(request.quantity, "f")
        price = format(request.price, "f") if request.price is not None and ccxt_type == "limit" else None
        use_ws = self.config.order_transport == "ws" and kind == SPOT
        attempts = max(1, self.config.submit_retries + 1)
        last_exc: BaseException | None = None
        for attempt in range(attempts):
            try:
                if use_ws:
                    order = await self._call(kind, "order", market.exchange.create_order_ws,
                                             request.symbol, ccxt_type, request.side.ccxt, amount,
                                             price, params, orders=1)
                else:
                    order = await self._call(kind, "order", market.exchange.create_order,
                                             request.symbol, ccxt_type, request.side.ccxt, amount,
                                             price, params, orders=1)
                return self._answer(kind, self._order_update(kind, order, request.client_order_id))
            except VenueError:
                self._tracker.forget_unsent(request.client_order_id)  # our limiter refused: never sent
                raise
            except Exception as exc:
                last_exc = exc
                if is_duplicate_order(exc):
                    return await self._resolve_existing(request, exc)
                if isinstance(exc, (ccxt.RequestTimeout, ccxt.NetworkError)) and not isinstance(
                        exc, (ccxt.DDoSProtection, ccxt.RateLimitExceeded)):
                    # did it reach the venue? then it exists under our client order id
                    existing = await self._fetch_quietly(request)
                    if existing is not None:
                        self.stats.duplicates_resolved += 1
                        return self._answer(kind, existing)
                    if attempt + 1 < attempts:
                        self.stats.submit_retries += 1
                        continue
                else:
                    self._tracker.forget_unsent(request.client_order_id)  # refused by the venue
                raise venue_error(self.name, exc, self._secrets) from None
        raise venue_error(self.name, last_exc or RuntimeError("submit failed"), self._secrets)

    def _validate(self, request: VenueOrderRequest) -> None:
        if not isinstance(request.quantity, Decimal) or not request.quantity.is_finite() or request.quantity <= 0:
            raise VenueError(self.name, VenueErrorKind.INVALID_ORDER,
                             f"quantity must be a positive Decimal, got {request.quantity!r}")
        if request.ord_type is OrdType.LIMIT and (request.price is None or request.price <= 0):
            raise VenueError(self.name, VenueErrorKind.INVALID_ORDER,
                             f"limit order needs a positive price, got {request.price!r}")
        if not request.client_order_id or len(request.client_order_id) > 36:
            raise VenueError(self.name, VenueErrorKind.INVALID_ORDER,
                             f"client order id must be 1-36 characters, got {request.client_order_id!r}")
        # ccxt would silently round the price (possibly through the limit) and truncate the
        # quantity to the venue's grid: refuse off-grid values instead
        rules = self.market_rules(request.symbol)
        if rules.lot_size > 0 and request.quantity % rules.lot_size != 0:
            raise VenueError(self.name, VenueErrorKind.INVALID_ORDER,
                             f"quantity {request.quantity} is not a multiple of the lot size "
                             f"{rules.lot_size} of {request.symbol}")
        tick = self.tick_size(request.symbol)
        if request.price is not None and tick and request.price % tick != 0:
            raise VenueError(self.name, VenueErrorKind.INVALID_ORDER,
                             f"price {request.price} is not a multiple of the tick size {tick} "
                             f"of {request.symbol}")

    async def _resolve_existing(self, request: VenueOrderRequest,
                                exc: BaseException | None) -> VenueOrderUpdate:
        """The venue already has an order under this client order id: return its state, or
        refuse if that id belongs to a different order."""
        first = self._tracker.track(request, kind_of(request.symbol), self._now_ms()).request
        if (first.symbol, first.side, first.quantity, first.price) != (
                request.symbol, request.side, request.quantity, request.price):
            raise VenueError(self.name, VenueErrorKind.INVALID_ORDER,
                             f"client order id {request.client_order_id} already used by another order")
        existing = await self._fetch_quietly(request)
        if existing is None:
            if exc is None:
                raise VenueError(self.name, VenueErrorKind.ORDER_NOT_FOUND,
                                 f"client order id {request.client_order_id} was acknowledged but "
                                 "the venue no longer reports it")
            raise venue_error(self.name, exc, self._secrets)
        self.stats.duplicates_resolved += 1
        return self._answer(kind_of(request.symbol), existing)

    async def _fetch_quietly(self, request: VenueOrderRequest) -> VenueOrderUpdate | None:
        try:
            return await self.fetch_order(request.client_order_id, request.symbol)
        except VenueError:
            return None

    async def cancel(self, client_order_id: str, symbol: str) -> VenueOrderUpdate:
        """Cancel by our client order id. An order already done at the venue is not an error:
        its final state comes back (check ``state``); an unknown one raises ORDER_NOT_FOUND."""
        kind = kind_of(symbol)
        market = self._market(kind)
        try:
            order = await self._call(kind, "cancel", market.exchange.cancel_order, None, symbol,
                                     {"origClientOrderId": client_order_id})
        except VenueError:
            raise
        except ccxt.OrderNotFound as exc:
            existing = await self.fetch_order(client_order_id, symbol)
            if existing is None:
                raise venue_error(self.name, exc, self._secrets) from None
            return self._answer(kind, existing)
        except Exception as exc:
            raise venue_error(self.name, exc, self._secrets) from None
        return self._answer(kind, self._order_update(kind, order, client_order_id))

    def _answer(self, kind: str, update: VenueOrderUpdate) -> VenueOrderUpdate:
        """A submit/cancel answer, remembered so no path repeats it. When it reports more
        filled than the fills delivered so far, the ones ccxt's stream cache already holds go
        out first: the caller must not learn of a fill quantity before its fills."""
        self._deliver_cached_fills(kind, update)
        return self._tracker.record(update)

    def _deliver_cached_fills(self, kind: str, update: VenueOrderUpdate) -> None:
        tracked = self._tracker.get(update.client_order_id)
        if tracked is not None and update.filled > tracked.fill_qty:
            for fill in self._cached_fills(kind, update.venue_order_id):
                self._tracker.deliver_fill(fill, STREAM)

    async def fetch_order(self, client_order_id: str, symbol: str) -> VenueOrderUpdate | None:
        kind = kind_of(symbol)
        market = self._market(kind)
        try:
            order = await self._call(kind, "fetch_order", market.exchange.fetch_order, None, symbol,
                                     {"origClientOrderId": client_order_id})
        except VenueError:
            raise
        except ccxt.OrderNotFound:
            return None
        except Exception as exc:
            raise venue_error(self.name, exc, self._secrets) from None
        update = self._order_update(kind, order, client_order_id)
        if self._tracker.get(client_order_id) is None:
            self._adopt(kind, order, update)
        else:
            self._deliver_cached_fills(kind, update)   # as for submit/cancel answers
        return update

    def _adopt(self, kind: str, order: dict, update: VenueOrderUpdate) -> None:
        price = to_decimal_or_none(order.get("price"))
        request = VenueOrderRequest(
            update.client_order_id, update.symbol, Side.BUY if order.get("side") == "buy" else Side.SELL,
            OrdType.MARKET if order.get("type") == "market" else OrdType.LIMIT,
            to_decimal_or_none(order.get("amount")) or update.filled + update.remaining,
            price if price else None)
        self._tracker.adopt(request, kind, update, self._now_ms())

    async def fetch_open_orders(self, symbol: str | None = None) -> list[VenueOrderUpdate]:
        kinds = [kind_of(symbol)] if symbol else list(self._markets)
        result = []
        for kind in kinds:
            market = self._market(kind)
            try:
                orders = await self._call(kind, "open_orders_symbol" if symbol else "open_orders_all",
                                          market.exchange.fetch_open_orders, symbol)
            except VenueError:
                raise
            except Exception as exc:
                raise venue_error(self.name, exc, self._secrets) from None
            result.extend(self._order_update(kind, o) for o in orders)
        return result

    async def fetch_fills(self, symbol: str, since_ms: int | None = None) -> list[VenueFill]:
        return await self._fetch_trades(symbol, since_ms, {})

    async def _fetch_order_fills(self, symbol: str, venue_order_id: str) -> list[VenueFill]:
        """The fills of one order. No ``since``: Binance spot's myTrades does not accept
        orderId with startTime, and the order id alone bounds the answer."""
        return await self._fetch_trades(symbol, None, {"orderId": venue_order_id})

    async def _fetch_trades(self, symbol: str, since_ms: int | None, params: dict) -> list[VenueFill]:
        kind = kind_of(symbol)
        market = self._market(kind)
        try:
            trades = await self._call(kind, "my_trades", market.exchange.fetch_my_trades, symbol,
                                      since_ms, None, params)
        except VenueError:
            raise
        except Exception as exc:
            raise venue_error(self.name, exc, self._secrets) from None
        return [self._fill(kind, t) for t in trades]

    async def fetch_balances(self, symbol: str | None = None) -> dict[str, Decimal]:
        """Free balance per asset: the spot account, or the futures account when ``symbol``
        is a linear one (``BTC/USDT:USDT``)."""
        kind = kind_of(symbol) if symbol else SPOT
        if kind not in self._markets and symbol is None:
            kind = next(iter(self._markets), SPOT)
        market = self._market(kind)
        try:
            balance = await self._call(kind, "balance", market.exchange.fetch_balance)
        except VenueError:
            raise
        except Exception as exc:
            raise venue_error(self.name, exc, self._secrets) from None
        free = balance.get("free") or {}
        return {asset: to_decimal(v) for asset, v in free.items() if v is not None}

    # -- ccxt structures -> ours ------------------------------------------------------------
    def _now_ms(self) -> int:
        return int(self._clock.now() * 1000)

    def _order_update(self, kind: str, order: dict, client_order_id: str | None = None) -> VenueOrderUpdate:
        oid = None if order.get("id") is None else str(order["id"])
        cid = client_order_id or self._tracker.client_id_for(kind, oid) or order_client_id(order)
        self._tracker.remember_venue_id(kind, oid, cid)
        return order_update(self.name, order, cid, self._now_ms())

    def _fill(self, kind: str, trade: dict) -> VenueFill:
        oid = None if trade.get("order") is None else str(trade["order"])
        return trade_fill(self.name, trade, self._tracker.client_id_for(kind, oid), self._now_ms())

    def _cached_fills(self, kind: str, venue_order_id: str | None) -> list[VenueFill]:
        """ccxt parses the trade of an executionReport into its myTrades cache while handling
        the same message as the order update: those fills (of that order; of every order
        when the id is unknown) go out before the update."""
        market = self._markets.get(kind)
        cache = getattr(market.exchange, "myTrades", None) if market else None
        if not cache:
            return []
        if venue_order_id is None:
            return [self._fill(kind, t) for t in list(cache)]
        return [self._fill(kind, t) for t in list(cache) if str(t.get("order")) == venue_order_id]

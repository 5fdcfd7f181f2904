"""The ccxt implementation of :class:`~fixgw.venues.base.VenueAdapter`.

One adapter per venue account. A venue that trades both spot and USD-M perpetuals (Binance
style) gets two ccxt.pro exchange instances behind this one adapter -- ``binance`` for spot
symbols (``BTC/USDT``) and ``binanceusdm`` for linear ones (``BTC/USDT:USDT``) -- chosen by
symbol, because for the OMS and the router both are the same venue (one LastMkt, one set of
credentials); the two differ only in fees, limits and user-data transport (spot: ws-api
``userDataStream.subscribe``; futures: listenKey), which ccxt handles.

Order events: the user-data stream (``watch_orders`` for order states, ``watch_my_trades``
for fills) feeds :meth:`on_event` consumers. While a stream is down, a poll loop
(``fetch_open_orders`` / ``fetch_order`` / ``fetch_my_trades``) stands in for it, and one more
poll runs when it comes back to cover the gap. Fills are deduplicated by trade id and order
updates by (state, filled), so a consumer sees each fill once whichever path delivered it;
the fills of an order are always delivered before the update that reports them filled.

The stream's wake-up gap: ccxt wakes a pending watch only if its future is registered when a
message is handled (``Client.resolve`` drops the wake-up otherwise). A message handled between
one watch returning and the next one registering -- at least one loop iteration, more under
CPU load or while ``watch_*`` awaits authentication -- is parsed into ccxt's caches
(``orders``, ``myTrades``) but wakes nobody until the next message of that stream, which for
a filled last child may never come. So each stream loop also *sweeps* its cache: once right
after re-arming its watch, and every ``stream_sweep_s`` while the watch waits. A sweep reads
only what ccxt appended since the last read (the caches' own new-updates count, the one
``watch_*`` uses) and hands it to the same once-only delivery as the watch results.

The silent reconnect: ccxt fails a pending watch when the venue closes its connection, which
marks the stream down here. But a close handled while *no* watch is registered (the same
between-watches window) fails nothing; ccxt just forgets that client, and the next ``watch_*``
quietly dials a fresh connection and re-subscribes. Events the venue emitted in between
reached no connection and are gone from the stream. So the adapter remembers which ccxt
connection its user-data watches were last known live on, and when a watch turns up armed on
another one it runs one REST catch-up pass (see :meth:`CcxtVenueAdapter._check_connection`).

The REST pass's own race: it asks for the fills first and the order states second, so a fill
the venue executes between the two requests is counted by the order answer but missing from
the fills answer. An order answer reporting more filled than the fills delivered therefore
first fetches that order's trades (by order id); if the venue's trade endpoint still lags, the
update is held for later passes -- for at most ``fill_lag_hold_s`` (see :meth:`_fills_back`).

Submits carry our client order id (``newClientOrderId``). A submit retried after a network
error, or repeated by the caller, that the venue refuses as a duplicate resolves by fetching
the order, so submit is idempotent.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
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
from fixgw.venues.convert import order_client_id, order_update, trade_fill
from fixgw.venues.config import Credentials, VenueConfig, load_credentials
from fixgw.venues.errors import is_duplicate_order, scrub, venue_error
from fixgw.venues.ratelimit import RateLimitExhausted, VenueRateLimiter
from fixgw.venues.tracking import POLL, STREAM, AdapterStats, OrderTracker, Tracked
from fixgw.venues.urls import rebased_api_urls

log = logging.getLogger("fixgw.venues")

SPOT, LINEAR = "spot", "linear"
ZERO = Decimal(0)

# how long the REST pass holds back an order update whose fills the venue's trade endpoint
# does not report yet (see CcxtVenueAdapter._fills_back)
FILL_LAG_HOLD_S = 5.0
_GAVE_UP = float("-inf")   # a held update that went out after FILL_LAG_HOLD_S

# request weights of the Binance endpoints used here (spot, futures)
_WEIGHT = {
    "order": (1, 1), "cancel": (1, 1), "fetch_order": (4, 1), "open_orders_symbol": (6, 1),
    "open_orders_all": (80, 40), "my_trades": (20, 5), "balance": (20, 5), "markets": (20, 1),
}

_TIF = {TimeInForce.GTC: "GTC", TimeInForce.IOC: "IOC", TimeInForce.FOK: "FOK",
        TimeInForce.DAY: "GTC", TimeInForce.GTD: "GTC"}  # Day/GTD expiry is the OMS's job


def kind_of(symbol: str) -> str:
    return LINEAR if ":" in symbol else SPOT


@dataclass
class _Market:
    exchange: Any
    limiter: VenueRateLimiter
    stream_up: bool | None = None   # None until the first connect attempt settles
    tasks: list[asyncio.Task] = field(default_factory=list)
    # failed watch_my_trades attempts since the trade stream last worked (0: not in an outage);
    # kept here, not in the loop, so an outage outlives a restart of the stream tasks
    trade_failures: int = 0
    # per ccxt cache: the ``info`` objects of the entries the last sweep read (see _fresh)
    sweep_marks: dict[str, list] = field(default_factory=dict)
    # the ccxt client (one per connection) whose user-data subscription is covered: events
    # from before it were caught up, later ones reach it (see _check_connection)
    live_conn: Any = None
    catch_up: asyncio.Task | None = None
    catch_up_why: str | None = None   # a catch-up pass is due (set while one may be running)


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
        self._markets: dict[str, _Market] = {}
        self._closing = False
        self._connected = False
        self.stats = AdapterStats()
        self._tracker = OrderTracker(self.name, self.stats, self._log)
        # fills and updates only a cache sweep delivered: events whose stream wake-up was lost
        self.stream_gap_recoveries = 0
        # user-data connections replaced by ccxt without a failed watch, each caught up over REST
        self.stream_reconnects = 0
        # REST pass: order updates held back because their fills were not reported yet, by
        # client order id -> when first held (monotonic s); see _fills_back
        self.fill_lag_hold_s = FILL_LAG_HOLD_S
        self._fill_waits: dict[str, float] = {}
        self.fees: VenueFees = config.fees or VenueFees(Decimal("0.001"), Decimal("0.001"))
        self._fees_by_symbol: dict[str, VenueFees] = {}
        self._rules_cache: dict[str, VenueRules] = {}
        self._tick_cache: dict[str, Decimal | None] = {}

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
            market = _Market(self._build_exchange(kind), VenueRateLimiter(limits, LiveClock()))
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
            for kind, market in self._markets.items():
                market.tasks = [
                    asyncio.create_task(self._order_stream(kind), name=f"{self.name}-{kind}-orders"),
                    asyncio.create_task(self._trade_stream(kind), name=f"{self.name}-{kind}-trades"),
                    asyncio.create_task(self._poll_loop(kind), name=f"{self.name}-{kind}-poll"),
                ]

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
    def _market(self, kind: str) -> _Market:
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

    def _deliver_stream_order(self, kind: str, order: dict) -> None:
        update = self._order_update(kind, order)
        self._tracker.deliver_update(update, STREAM,
                                     lambda: self._cached_fills(kind, update.venue_order_id))

    # -- the stream's wake-up gap (module docstring) --------------------------------------------
    def _fresh(self, kind: str, name: str) -> list[dict]:
        """The entries of ccxt's ``name`` cache appended (or, orders, updated and moved to the
        end) since the last read by a sweep or a watch: ccxt's newUpdates count, read with
        the cache's own ``getLimit`` like ``watch_*`` does. ccxt resets that count lazily (on
        the next append), so an unchanged count re-reads the same entries: those are skipped
        by identity of their ``info`` (ccxt stores each message's own dict there)."""
        market = self._markets[kind]
        cache = getattr(market.exchange, name, None)
        if not cache:
            return []
        get_limit = getattr(cache, "getLimit", None)
        if get_limit is None:
            entries = list(cache)
        else:
            count = get_limit(None, None)
            if not count:
                return []
            entries = cache[-count:]
        mark = [e.get("info") for e in entries]
        seen = market.sweep_marks.get(name)
        if seen is not None and len(seen) == len(mark) and all(a is b for a, b in zip(seen, mark)):
            return []
        market.sweep_marks[name] = mark
        return entries

    def _mark_read(self, kind: str, name: str, entries: list[dict]) -> None:
        """What a watch returned (and was just delivered, in the same step) is what the next
        sweep would re-read if nothing was appended since: spare it the second conversion."""
        self._markets[kind].sweep_marks[name] = [e.get("info") for e in entries]

    def _sweep_orders(self, kind: str) -> None:
        for order in self._fresh(kind, "orders"):
            update = self._order_update(kind, order)
            if self._tracker.get(update.client_order_id) is None:
                continue   # not one of ours (another client of the same account)
            before = self._stream_events()
            self._tracker.deliver_update(update, STREAM,
                                         lambda: self._cached_fills(kind, update.venue_order_id))
            self._gap_recovered(kind, before, update.client_order_id)

    def _sweep_trades(self, kind: str) -> None:
        for trade in self._fresh(kind, "myTrades"):
            fill = self._fill(kind, trade)
            before = self._stream_events()
            self._tracker.deliver_fill(fill, STREAM)
            self._gap_recovered(kind, before, fill.client_order_id)

    def _stream_events(self) -> int:
        return self.stats.fills_from_stream + self.stats.updates_from_stream

    def _gap_recovered(self, kind: str, before: int, client_order_id: str) -> None:
        recovered = self._stream_events() - before
        if recovered:
            self.stream_gap_recoveries += recovered
            self._log.debug("%s: %d %s event(s) of %s delivered from ccxt's cache "
                            "(stream wake-up lost)", self.name, recovered, kind, client_order_id)

    async def _await_sweeping(self, kind: str, watch: asyncio.Future,
                              sweep: Callable[[str], None]) -> Any:
        """The result of the pending ``watch``, sweeping ccxt's cache meanwhile: first as soon
        as the watch has had its first step to register its future (what was handled before
        that woke nobody), then every ``stream_sweep_s`` (it may await before it registers,
        e.g. authentication). The sweeps run as loop callbacks, so the loop still awaits the
        watch itself and resumes as soon as it returns (no extra loop iterations before the
        next re-arm, which would widen the very gap this covers)."""
        loop = asyncio.get_running_loop()

        def tick() -> None:
            nonlocal handle
            if watch.done():
                return
            try:
                sweep(kind)
                self._check_connection(kind)
            except Exception:   # a sweep bug must not stop the stream or later sweeps
                self._log.exception("%s: %s cache sweep failed", self.name, kind)
            handle = loop.call_later(self.config.stream_sweep_s, tick)

        handle = loop.call_soon(tick)   # runs after the watch task's first step
        try:
            return await watch
        finally:
            handle.cancel()

    # -- stream and polling loops ---------------------------------------------------------------
    def _set_stream(self, kind: str, up: bool, why: str = "") -> None:
        market = self._markets.get(kind)
        if market is None or market.stream_up == up:
            return
        market.stream_up = up
        if up:
            self._log.info("%s: %s user-data stream up; stream delivers order events", self.name, kind)
        else:
            self.stats.stream_downs += 1
            self._log.warning("%s: %s user-data stream down (%s); polling REST every %.2fs",
                              self.name, kind, why, self.config.poll_interval_s)

    def _ws_alive(self, kind: str) -> bool:
        ex = self._markets[kind].exchange
        for client in list(getattr(ex, "clients", {}).values()):
            conn = getattr(client, "connection", None)
            if conn is not None and not client.closed() and client.connected.done():
                if "ws-api" in client.url or "listenKey" in client.url or "private" in client.url:
                    return True
        return False

    # -- the silent reconnect (module docstring) ------------------------------------------------
    def _armed_connection(self, kind: str) -> Any | None:
        """The ccxt client a user-data watch (``orders`` / ``myTrades``) is registered on, once
        its connection is open; None while a watch is being (re)armed or authenticated.

        Why a registered watch, not a URL: for spot, ``watch_*`` registers its future only
        after the ws-api ``userDataStream.subscribe`` was acknowledged, and for the listenKey
        stream the open socket is the subscription -- so "registered and connected" means the
        venue is sending this account's events to that connection from now on. Why the client
        object as the connection's identity: ccxt dials a client at most once and drops it
        from ``exchange.clients`` when its connection closes, so a reconnect is always a new
        object (kept by reference, not ``id()``, which a collected client could hand on)."""
        ex = self._markets[kind].exchange
        for client in list((getattr(ex, "clients", None) or {}).values()):
            futures = getattr(client, "futures", None) or {}
            if not any(h in futures and not futures[h].done() for h in ("orders", "myTrades")):
                continue
            connected = getattr(client, "connected", None)
            if connected is not None and connected.done() and not client.closed():
                return client
        return None

    def _check_connection(self, kind: str) -> None:
        """While the stream counts as up, a user-data watch armed on a connection other than
        the one last caught up means ccxt reconnected without failing a watch (the venue
        closed the old one between two watches): what the venue sent in between reached no
        connection, so one REST pass over our live orders catches up (the tracker drops
        whatever the stream also delivers). Runs right after every (re)arm and every sweep
        period (the sweep tick) and every poll period: a watch that *returns* cannot be
        attributed to a connection (ccxt has already dropped its future), but the next arm
        follows at once. No connection was caught up yet (the stream came up on a returned
        watch, not through the settle check): catch up too, quietly."""
        market = self._markets.get(kind)
        if market is None or not market.stream_up:
            return   # down: the poll loop covers, and the settle check catches up on recovery
        conn = self._armed_connection(kind)
        if conn is None or conn is market.live_conn:
            return
        previous, market.live_conn = market.live_conn, conn
        why = "stream connected"
        if previous is not None:
            why = "stream reconnected"
            self.stream_reconnects += 1
            self._log.info("%s: %s user-data stream reconnected without a failed watch (venue "
                           "closed the connection between watches); catching up over REST",
                           self.name, kind)
        market.catch_up_why = why
        if market.catch_up is None or market.catch_up.done():
            market.catch_up = asyncio.create_task(self._catch_up(kind),
                                                  name=f"{self.name}-{kind}-catch-up")

    async def _catch_up(self, kind: str) -> None:
        """Run the due catch-up passes (another may fall due while one runs). A failed pass
        hands over to the stream-down path: polling until the restarted watch settles, which
        catches up again."""
        market = self._markets[kind]
        while market.catch_up_why is not None and not self._closing:
            why, market.catch_up_why = market.catch_up_why, None
            try:
                await self._reconcile(kind, why)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._set_stream(kind, False, f"{why}, catch-up failed: " + scrub(
                    f"{type(exc).__name__}: {exc}", self._secrets)[:200])
                self._restart_streams(kind)
                return

    async def _order_stream(self, kind: str) -> None:
        ex = self._markets[kind].exchange
        backoff = 0.1
        while not self._closing:
            fut = asyncio.ensure_future(ex.watch_orders())
            try:
                if not self._markets[kind].stream_up:
                    done, _ = await asyncio.wait({fut}, timeout=self.config.stream_settle_s)
                    if not done and self._ws_alive(kind):
                        self._set_stream(kind, True)
                        # this pass covers the connection the watch is armed on
                        self._markets[kind].live_conn = self._armed_connection(kind)
                        await self._reconcile(kind, "stream recovered")
                orders = await self._await_sweeping(kind, fut, self._sweep_orders)
                if not self._markets[kind].stream_up:
                    self._set_stream(kind, True)
                for order in orders:
                    self._deliver_stream_order(kind, order)
                self._mark_read(kind, "orders", orders)
                backoff = 0.1
            except asyncio.CancelledError:
                fut.cancel()
                raise
            except Exception as exc:
                fut.cancel()
                if self._closing:
                    return
                self._set_stream(kind, False, scrub(f"{type(exc).__name__}: {exc}", self._secrets)[:200])
                self._forget_listen_key(kind)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    def _forget_listen_key(self, kind: str) -> None:
        """Make ccxt fetch a fresh listenKey on the next watch: after a venue restart (or an
        expired key) the cached one would be refused forever."""
        if kind != LINEAR:
            return
        for bucket in self._markets[kind].exchange.options.values():
            if isinstance(bucket, dict) and "lastAuthenticatedTime" in bucket:
                bucket["lastAuthenticatedTime"] = 0

    async def _trade_stream(self, kind: str) -> None:
        """Fills from ``watch_my_trades``. A failure is retried with backoff (0.1 s doubling to
        5 s); the first failure of an outage is logged at WARNING (venue, error class, the
        scrubbed message) and the end of the outage at INFO, so an outage is visible in the
        log without one line per retry."""
        market = self._markets[kind]
        ex = market.exchange
        backoff = 0.1
        while not self._closing:
            if not market.stream_up:
                # the orders loop owns (re)connecting; a second concurrent subscriber makes
                # ccxt leave an unawaited future behind on every failed attempt
                await asyncio.sleep(0.05)
                continue
            fut = asyncio.ensure_future(ex.watch_my_trades())
            try:
                if market.trade_failures:
                    # a watch only returns on the next fill: one that stays pending on a live
                    # connection for the settle time is a working subscription
                    done, _ = await asyncio.wait({fut}, timeout=self.config.stream_settle_s)
                    if not done and self._ws_alive(kind):
                        self._trade_stream_recovered(kind)
                trades = await self._await_sweeping(kind, fut, self._sweep_trades)
                self._trade_stream_recovered(kind)
                for trade in trades:
                    self._tracker.deliver_fill(self._fill(kind, trade), STREAM)
                self._mark_read(kind, "myTrades", trades)
                backoff = 0.1
            except asyncio.CancelledError:
                fut.cancel()
                raise
            except Exception as exc:
                fut.cancel()
                if self._closing:
                    return
                self._trade_stream_failed(kind, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    def _trade_stream_failed(self, kind: str, exc: Exception) -> None:
        market = self._markets[kind]
        if market.trade_failures == 0:
            self._log.warning("%s: %s trade stream failed (%s: %s); retrying with backoff",
                              self.name, kind, type(exc).__name__,
                              scrub(str(exc), self._secrets)[:200])
        market.trade_failures += 1

    def _trade_stream_recovered(self, kind: str) -> None:
        market = self._markets[kind]
        if market.trade_failures:
            self._log.info("%s: %s trade stream recovered after %d failed attempt(s)",
                           self.name, kind, market.trade_failures)
            market.trade_failures = 0

    async def _poll_loop(self, kind: str) -> None:
        """REST stands in for the stream while it is down. While it is up, a check of the
        connection: none open (it vanished without ccxt failing the pending watch, or closed
        between two watches and the next is not connected yet) marks it down; an open one
        other than the last caught up is a silent reconnect (:meth:`_check_connection`, which
        the sweep tick runs far more often; this is the backstop)."""
        while not self._closing:
            await asyncio.sleep(self.config.poll_interval_s)
            market = self._markets[kind]
            if market.stream_up and not self._ws_alive(kind):
                # the connection vanished without ccxt failing the pending watch: restart it
                self._set_stream(kind, False, "user-data connection lost")
                self._restart_streams(kind)
            self._check_connection(kind)
            if not market.stream_up or self._holding(kind):
                try:
                    await self._reconcile(kind, "stream down" if not market.stream_up
                                          else "held order updates")
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self._log.warning("%s: poll failed: %s", self.name,
                                      scrub(f"{type(exc).__name__}: {exc}", self._secrets)[:300])

    def _restart_streams(self, kind: str) -> None:
        market = self._markets[kind]
        for task in market.tasks[:2]:
            task.cancel()
        market.tasks[:2] = [
            asyncio.create_task(self._order_stream(kind), name=f"{self.name}-{kind}-orders"),
            asyncio.create_task(self._trade_stream(kind), name=f"{self.name}-{kind}-trades"),
        ]

    async def _reconcile(self, kind: str, why: str) -> None:
        """One REST pass over our live orders: fills first, then states (REST fallback).
        An update whose fills are still missing is held (:meth:`_fills_back`)."""
        live = self._tracker.live(kind)
        self._forget_fill_waits(kind, live)
        if not live:
            return
        self.stats.polls += 1
        by_symbol: dict[str, list] = {}
        for t in live:
            by_symbol.setdefault(t.request.symbol, []).append(t)
        for symbol, tracked in by_symbol.items():
            since = min(t.submitted_ms for t in tracked) - 60_000
            for fill in await self.fetch_fills(symbol, since):
                self._tracker.deliver_fill(fill, POLL)
            open_ids = {u.client_order_id: u for u in await self.fetch_open_orders(symbol)}
            for t in tracked:
                update = open_ids.get(t.request.client_order_id)
                if update is None:
                    update = await self.fetch_order(t.request.client_order_id, symbol)
                if update is not None:
                    if await self._fills_back(t, update):
                        self._tracker.deliver_update(update, POLL, tuple)
                elif t.last is None and self._now_ms() - t.submitted_ms > 60_000:
                    # a submit that failed in transit and never reached the venue
                    self._tracker.forget_unsent(t.request.client_order_id)

    async def _fills_back(self, tracked: Tracked, update: VenueOrderUpdate) -> bool:
        """May the REST pass deliver ``update`` now? Yes once the delivered fills cover its
        filled quantity. A fill executed between the pass's fills request and its orders
        request is counted here but was not in the fills answer: fetch this order's trades
        (one request, only for such orders) and deliver them first. If the venue's trade
        endpoint still lags, hold the update for the next pass, but only for
        ``fill_lag_hold_s``: then it goes out anyway (logged), so an order's state is never
        hidden for good, and the consumer chases the missing fills itself."""
        cid = update.client_order_id
        if update.filled <= tracked.fill_qty:
            self._fill_waits.pop(cid, None)
            return True
        first_held = self._fill_waits.get(cid)
        if first_held == _GAVE_UP:
            return True   # this order's trades never came: logged once, no more requests
        if update.venue_order_id is not None:
            for fill in await self._fetch_order_fills(update.symbol, update.venue_order_id):
                self._tracker.deliver_fill(fill, POLL)
        if update.filled <= tracked.fill_qty:
            self._fill_waits.pop(cid, None)
            return True
        now = time.monotonic()
        if first_held is None:
            self._fill_waits[cid] = now
            self._log.info("%s: %s reports %s filled but the venue lists trades for only %s; "
                           "holding the update until they appear", self.name, cid,
                           update.filled, tracked.fill_qty)
            return False
        if now - first_held < self.fill_lag_hold_s:
            return False
        self._fill_waits[cid] = _GAVE_UP
        self._log.warning("%s: %s reports %s filled, but after %.1fs the venue lists no trade "
                          "for more than %s; delivering its %s update without those fills",
                          self.name, cid, update.filled, now - first_held, tracked.fill_qty,
                          update.state.name)
        return True

    def _holding(self, kind: str) -> bool:
        """An update is held back (and not given up on): the pass must run again even while
        the stream is up, since the stream may never repeat that order's state."""
        now = time.monotonic()
        for cid, first_held in self._fill_waits.items():
            tracked = self._tracker.get(cid)
            if (tracked is not None and tracked.kind == kind and not tracked.done
                    and now - first_held < self.fill_lag_hold_s):
                return True
        return False

    def _forget_fill_waits(self, kind: str, live: list[Tracked]) -> None:
        live_ids = {t.request.client_order_id for t in live}
        for cid in [c for c in self._fill_waits if c not in live_ids]:
            tracked = self._tracker.get(cid)
            if tracked is None or tracked.kind == kind:
                del self._fill_waits[cid]

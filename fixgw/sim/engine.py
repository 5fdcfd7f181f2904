"""The matching engine of one simulated venue: orders, fills, fees, balances, positions.

It knows nothing about HTTP or websockets: the server calls ``place_order`` / ``cancel_order``
with already-parsed values and formats what comes back; listeners get every execution,
balance change and public trade synchronously, in the order they happen, so a user-data
stream sees NEW before TRADE and fills in time priority. The market model trades here through
the :class:`~fixgw.sim.protocol.MatchingVenue` methods as "house" accounts, which bypass
balance checks (and, in the server, rate limits).

Self-trade prevention is EXPIRE_TAKER: a taker that reaches a resting order of its own account
stops matching and its remainder expires with status EXPIRED_IN_MATCH.
"""
from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal, ROUND_DOWN
from typing import Callable

from ..clock import Clock, LiveClock
from . import errors as E
from .accounts import SpotLedger
from .book import BUY, SELL, OrderBook
from .candles import CandleSeries
from .futures import FuturesLedger
from .protocol import PlaceResult, Trade
from .spec import SymbolSpec, VenueSpec

ZERO = Decimal(0)
LIMIT, MARKET, LIMIT_MAKER = "LIMIT", "MARKET", "LIMIT_MAKER"
GTC, IOC, FOK, GTX = "GTC", "IOC", "FOK", "GTX"
OPEN_STATUSES = frozenset({"NEW", "PARTIALLY_FILLED"})
_ENDINGS = frozenset({"FILLED", "CANCELED", "EXPIRED", "EXPIRED_IN_MATCH"})
# Binance order status machine: which status may follow which. Terminal states have no exit.
ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    "NEW": frozenset({"PARTIALLY_FILLED"}) | _ENDINGS,
    "PARTIALLY_FILLED": frozenset({"PARTIALLY_FILLED"}) | _ENDINGS,
    "FILLED": frozenset(), "CANCELED": frozenset(), "EXPIRED": frozenset(), "EXPIRED_IN_MATCH": frozenset(),
}


def transition(order: "Order", status: str) -> None:
    """Move an order to ``status``; an illegal move is an engine bug, never client input."""
    if status not in ORDER_TRANSITIONS[order.status]:
        raise AssertionError(f"order {order.order_id}: {order.status} -> {status} is not a legal transition")
    order.status = status


@dataclass(slots=True, eq=False)
class Order:
    order_id: int
    market: SymbolSpec
    account: str
    side: str
    type: str
    time_in_force: str
    price: Decimal            # ZERO for market orders
    orig_qty: Decimal
    client_order_id: str
    create_time: int
    update_time: int
    quote_order_qty: Decimal = ZERO
    reduce_only: bool = False
    house: bool = False
    executed_qty: Decimal = ZERO
    cum_quote: Decimal = ZERO
    status: str = "NEW"
    locked: Decimal = ZERO    # spot: amount still locked for this order
    lock_asset: str = ""
    on_book: bool = False

    @property
    def remaining(self) -> Decimal:
        return self.orig_qty - self.executed_qty

    @property
    def market_id(self) -> str:
        return self.market.market_id

    @property
    def avg_price(self) -> Decimal:
        return self.cum_quote / self.executed_qty if self.executed_qty else ZERO

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass(frozen=True, slots=True)
class Fill:
    trade_id: int
    market_id: str
    order_id: int
    account: str
    side: str
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str
    time: int
    is_maker: bool
    realized_pnl: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class Execution:
    """One executionReport / ORDER_TRADE_UPDATE worth of information."""
    order: Order
    exec_type: str            # NEW | TRADE | CANCELED | EXPIRED | REJECTED
    fill: Fill | None
    time: int
    cancel_client_id: str | None = None


@dataclass
class MarketStats:
    open: Decimal | None = None
    high: Decimal | None = None
    low: Decimal | None = None
    last: Decimal | None = None
    last_qty: Decimal = ZERO
    volume: Decimal = ZERO
    quote_volume: Decimal = ZERO
    count: int = 0
    open_time: int = 0
    first_trade_id: int = 0
    last_trade_id: int = 0
    trades: deque = field(default_factory=lambda: deque(maxlen=10_000))
    candles: CandleSeries = field(default_factory=CandleSeries)


# What a venue running for days keeps of each client account (house orders are pruned apart):
# the most recent orders (open ones are never forgotten) and fills, like Binance's bounded
# order / trade history. allOrders and myTrades answer at most 1000 per request anyway.
ORDERS_KEPT_PER_ACCOUNT = 10_000
FILLS_KEPT_PER_ACCOUNT = 10_000
HOUSE_ORDERS_FLOOR = 50_000       # finished house orders are pruned once the order table is this big

ExecutionListener = Callable[[Execution], None]
BalanceListener = Callable[[str, str, set], None]     # account, "spot"|"futures", assets/markets touched


class Exchange:
    """Matching engine + ledgers of one venue. Implements MatchingVenue for the market model."""

    def __init__(self, spec: VenueSpec, clock: Clock | None = None, *,
                 orders_kept_per_account: int = ORDERS_KEPT_PER_ACCOUNT,
                 fills_kept_per_account: int = FILLS_KEPT_PER_ACCOUNT,
                 house_orders_floor: int = HOUSE_ORDERS_FLOOR) -> None:
        self.spec = spec
        self._house_orders_floor = self._prune_at = house_orders_floor
        self.orders_kept_per_account = orders_kept_per_account
        self.fills_kept_per_account = fills_kept_per_account
        self.clock = clock or LiveClock()
        self.markets: dict[str, SymbolSpec] = {s.market_id: s for s in spec.symbols}
        self.spot_by_symbol = {s.symbol: s for s in spec.symbols if not s.is_perp}
        self.perp_by_symbol = {s.symbol: s for s in spec.symbols if s.is_perp}
        self.books: dict[str, OrderBook] = {m: OrderBook(m) for m in self.markets}
        self.stats: dict[str, MarketStats] = {m: MarketStats(open_time=self.now_ms()) for m in self.markets}
        self.orders: dict[int, Order] = {}
        self._by_client_id: dict[tuple[str, str, str], int] = {}
        self._open_by_account: dict[str, dict[int, Order]] = {}
        self._order_ids_by_account: dict[str, deque[int]] = {}   # client orders, oldest first
        self.fills_by_account: dict[str, deque[Fill]] = {}
        self.spot = SpotLedger()
        self.futures = FuturesLedger(default_leverage=spec.default_leverage)
        self.accounts_by_key: dict[str, tuple[str, str]] = {}   # api key -> (account, secret)
        self._order_ids = itertools.count(1_000_001)
        self._trade_ids = itertools.count(1)
        self._client_ids = itertools.count(1)
        self.execution_listeners: list[ExecutionListener] = []
        self.balance_listeners: list[BalanceListener] = []
        self.trade_listeners: list[Callable[[Trade], None]] = []
        self.funding_rates: dict[str, Decimal] = {m: Decimal("0.0001") for m, s in self.markets.items() if s.is_perp}
        self.next_funding_ms = self.now_ms() + int(spec.funding_interval_s * 1000)
        self._touched: dict[tuple[str, str], set] = {}
        self.add_account("demo", spec.api_key, spec.api_secret, spec.spot_balances, spec.futures_balances)

    # --- accounts -------------------------------------------------------------------------
    def add_account(self, account: str, api_key: str, api_secret: str, spot_funds, futures_funds) -> None:
        self.accounts_by_key[api_key] = (account, api_secret)
        self.spot.open(account, spot_funds)
        self.futures.open(account, futures_funds, self.now_ms())

    def is_house(self, account: str) -> bool:
        return not self.spot.has(account)

    def now_ms(self) -> int:
        return int(self.clock.now() * 1000)

    # --- lookup ---------------------------------------------------------------------------
    def market_for(self, symbol: str | None, perp: bool) -> SymbolSpec:
        table = self.perp_by_symbol if perp else self.spot_by_symbol
        m = table.get(symbol or "")
        if m is None:
            raise E.invalid_symbol()
        return m

    def find_order(self, account: str, market: SymbolSpec, order_id: int | None,
                   client_order_id: str | None) -> Order | None:
        if order_id is None and client_order_id is not None:
            order_id = self._by_client_id.get((account, market.market_id, client_order_id))
        order = self.orders.get(order_id) if order_id is not None else None
        if order is None or order.account != account or order.market is not market:
            return None
        return order

    def open_orders(self, account: str, market: SymbolSpec | None = None, perp: bool | None = None) -> list[Order]:
        out = [o for o in self._open_by_account.get(account, {}).values()
               if (market is None or o.market is market) and (perp is None or o.market.is_perp == perp)]
        out.sort(key=lambda o: o.order_id)
        return out

    def mark_price(self, market_id: str) -> Decimal:
        book = self.books[market_id]
        bid, ask = book.best_bid(), book.best_ask()
        if bid is not None and ask is not None:
            return (bid + ask) / 2
        last = self.stats[market_id].last
        if last is not None:
            return last
        return self.spec.reference_price(market_id)

    def index_price(self, market_id: str) -> Decimal:
        """The perp's index: the spot market of the same symbol when this venue lists it."""
        m = self.markets[market_id]
        spot = self.spot_by_symbol.get(m.symbol)
        return self.mark_price(spot.market_id if spot else market_id)

    def open_order_margin(self, account: str) -> Decimal:
        total = ZERO
        for o in self._open_by_account.get(account, {}).values():
            if o.market.is_perp and not o.reduce_only:
                total += o.remaining * o.price / self.futures.config(account, o.market_id).leverage
        return total

    # --- order entry ----------------------------------------------------------------------
    def place_order(self, account: str, market: SymbolSpec, side: str, order_type: str,
                    quantity: Decimal | None, price: Decimal | None = None, time_in_force: str | None = None,
                    client_order_id: str | None = None, quote_order_qty: Decimal | None = None,
                    reduce_only: bool = False) -> tuple[Order, list[Fill]]:
        """Validate, match and (if anything is left and allowed) rest an order.

        Raises BinanceError for anything Binance rejects synchronously; an order that is
        accepted but cannot trade (FOK not fillable, STP) comes back EXPIRED, as on Binance."""
        house = self.is_house(account)
        now = self.now_ms()
        side, order_type = self._check_enums(side, order_type, market)
        tif = self._check_tif(order_type, time_in_force, market)
        if client_order_id:
            prev = self._by_client_id.get((account, market.market_id, client_order_id))
            if prev is not None and self.orders[prev].is_open:
                raise E.duplicate_client_order_id()
        else:
            client_order_id = f"sim{next(self._client_ids):019d}"
        price = self._check_price(market, order_type, price, house)
        qty, quote_order_qty = self._check_quantity(market, order_type, quantity, quote_order_qty, house)
        if reduce_only and not market.is_perp:
            raise E.param_combination_invalid()
        book = self.books[market.market_id]
        if order_type == LIMIT_MAKER or tif == GTX:
            best = book.best_ask() if side == BUY else book.best_bid()
            if best is not None and ((side == BUY and price >= best) or (side == SELL and price <= best)):
                raise E.futures_post_only_rejected() if market.is_perp else E.would_match_and_take()
        if not house and not reduce_only:      # Binance: "(unless you choose reduce only)"
            self._check_notional(market, order_type, price, qty, quote_order_qty, side)
        order = Order(next(self._order_ids), market, account, side, order_type, tif, price or ZERO,
                      qty, client_order_id, now, now, quote_order_qty=quote_order_qty or ZERO,
                      reduce_only=reduce_only, house=house)
        if market.is_perp and not house:
            self._check_futures(order)
        elif not house:
            self._lock_spot(order, book)
        self._register(order)
        self._emit(Execution(order, "NEW", None, now))
        return order, self._submit(order, book, now)

    def _submit(self, order: Order, book: OrderBook, now: int) -> list[Fill]:
        """Match an accepted (registered, NEW already reported) order and rest what may rest."""
        if order.time_in_force == FOK and self._fillable(order, book, order.remaining) < order.remaining:
            transition(order, "EXPIRED")
            self._release(order)
            self._emit(Execution(order, "EXPIRED", None, now))
            self._flush_touched()
            return []
        fills = self._match(order, book, now)
        if order.type == MARKET and order.quote_order_qty:
            if order.is_open:          # the book ran out before the quote amount was spent
                transition(order, "EXPIRED")
                self._emit(Execution(order, "EXPIRED", None, now))
        elif order.status in OPEN_STATUSES and order.remaining > ZERO:
            if order.type in (LIMIT, LIMIT_MAKER) and order.time_in_force in (GTC, GTX):
                book.add(order)
                order.on_book = True
                self._open_by_account.setdefault(order.account, {})[order.order_id] = order
            else:
                transition(order, "EXPIRED")
                self._release(order)
                self._emit(Execution(order, "EXPIRED", None, now))
        if order.type == MARKET:
            self._release(order)      # whatever the estimate locked beyond the fills
        self._flush_touched()
        return fills

    def modify_futures_order(self, account: str, market: SymbolSpec, order_id: int | None,
                             client_order_id: str | None, side: str, quantity: Decimal | None,
                             price: Decimal | None) -> Order:
        """Binance futures ``PUT /fapi/v1/order``: same order id, new price / quantity; it loses
        its time priority and may trade at once if the new price crosses."""
        order = self.find_order(account, market, order_id, client_order_id)
        if order is None or not order.is_open:
            raise E.order_does_not_exist()
        if order.type != LIMIT or (side or "").upper() != order.side:
            raise E.BinanceError(-4028 if order.type != LIMIT else -1117,
                                 "Order type not supported for modification." if order.type != LIMIT else "Invalid side.")
        price = self._check_price(market, LIMIT, price, order.house)
        qty, _ = self._check_quantity(market, LIMIT, quantity, None, order.house)
        if qty <= order.executed_qty:
            raise E.BinanceError(-4036, "Quantity must be greater than the executed quantity.")
        book = self.books[market.market_id]
        if order.time_in_force == GTX:
            best = book.best_ask() if order.side == BUY else book.best_bid()
            if best is not None and ((order.side == BUY and price >= best) or (order.side == SELL and price <= best)):
                raise E.futures_post_only_rejected()
        if not order.house:
            self._open_by_account[account].pop(order.order_id)       # not counted twice in the check
            try:
                probe = Order(0, market, account, order.side, LIMIT, order.time_in_force, price,
                              qty - order.executed_qty, "", 0, 0, reduce_only=order.reduce_only)
                self._check_futures(probe)
            finally:
                self._open_by_account[account][order.order_id] = order
        self._take_off(order)
        order.price, order.orig_qty = price, qty
        order.update_time = self.now_ms()
        self._emit(Execution(order, "AMENDMENT", None, order.update_time))
        self._submit(order, book, order.update_time)
        return order

    def cancel_replace(self, account: str, market: SymbolSpec, cancel_order_id: int | None,
                       cancel_client_id: str | None, new_order: dict, mode: str = "STOP_ON_FAILURE"
                       ) -> tuple[Order | None, E.BinanceError | None, tuple[Order, list[Fill]] | None,
                                  E.BinanceError | None]:
        """Spot ``order/cancelReplace``: (cancelled, cancel error, (new order, fills), new-order error)."""
        cancelled = cancel_err = placed = place_err = None
        try:
            cancelled = self.cancel_order(account, market, cancel_order_id, cancel_client_id)
        except E.BinanceError as exc:
            cancel_err = exc
        if cancel_err is None or mode == "ALLOW_FAILURE":
            try:
                placed = self.place_order(account, market, **new_order)
            except E.BinanceError as exc:
                place_err = exc
        return cancelled, cancel_err, placed, place_err

    def cancel_order(self, account: str, market: SymbolSpec, order_id: int | None,
                     client_order_id: str | None, cancel_client_id: str | None = None) -> Order:
        order = self.find_order(account, market, order_id, client_order_id)
        if order is None or not order.is_open:
            raise E.unknown_order_on_cancel()
        self._take_off(order)
        transition(order, "CANCELED")
        order.update_time = self.now_ms()
        self._release(order)
        self._emit(Execution(order, "CANCELED", None, order.update_time,
                             cancel_client_id or f"sim{next(self._client_ids):019d}"))
        self._flush_touched()
        return order

    def cancel_all(self, account: str, market: SymbolSpec) -> list[Order]:
        return [self.cancel_order(account, market, o.order_id, None) for o in self.open_orders(account, market)]

    # --- validation -----------------------------------------------------------------------
    @staticmethod
    def _check_enums(side: str, order_type: str, market: SymbolSpec) -> tuple[str, str]:
        side = (side or "").upper()
        if side not in (BUY, SELL):
            raise E.invalid_side()
        order_type = (order_type or "").upper()
        allowed = (LIMIT, MARKET) if market.is_perp else (LIMIT, MARKET, LIMIT_MAKER)
        if order_type not in allowed:
            raise E.invalid_order_type()
        return side, order_type

    @staticmethod
    def _check_tif(order_type: str, tif: str | None, market: SymbolSpec) -> str:
        if order_type == MARKET:
            return GTC
        if order_type == LIMIT_MAKER:
            return GTC
        if not tif:
            raise E.mandatory_param("timeInForce")
        tif = tif.upper()
        if tif not in ((GTC, IOC, FOK, GTX) if market.is_perp else (GTC, IOC, FOK)):
            raise E.invalid_time_in_force()
        return tif

    @staticmethod
    def _on_grid(value: Decimal, step: Decimal) -> bool:
        return (value % step) == ZERO

    def _check_price(self, m: SymbolSpec, order_type: str, price: Decimal | None, house: bool) -> Decimal | None:
        if order_type == MARKET:
            return None
        if price is None:
            raise E.mandatory_param("price")
        if price <= ZERO or not self._on_grid(price, m.tick_size) or (
                not house and not (m.min_price <= price <= m.max_price)):
            raise E.filter_failure("PRICE_FILTER")
        return price

    def _check_quantity(self, m: SymbolSpec, order_type: str, qty: Decimal | None,
                        quote_qty: Decimal | None, house: bool) -> tuple[Decimal, Decimal | None]:
        if order_type == MARKET and quote_qty is not None and not m.is_perp:
            if qty is not None:
                raise E.param_combination_invalid()
            if quote_qty <= ZERO:
                raise E.filter_failure("NOTIONAL")
            return ZERO, quote_qty
        if qty is None:
            raise E.mandatory_param("quantity")
        if qty <= ZERO or not self._on_grid(qty, m.step_size) or (
                not house and not (m.min_qty <= qty <= m.max_qty)):
            raise E.filter_failure("LOT_SIZE")
        return qty, None

    def _check_notional(self, m: SymbolSpec, order_type: str, price: Decimal | None, qty: Decimal,
                        quote_qty: Decimal | None, side: str) -> None:
        if quote_qty is not None:
            notional = quote_qty
        else:
            ref = price if price is not None else self.mark_price(m.market_id)
            notional = ref * qty
        if notional < m.min_notional:
            if m.is_perp:
                raise E.BinanceError(-4164, f"Order's notional must be no smaller than {m.min_notional} (unless you choose reduce only).")
            raise E.filter_failure("NOTIONAL")

    def _check_futures(self, order: Order) -> None:
        acct, m = order.account, order.market
        if order.reduce_only:
            pos = self.futures.position(acct, m.market_id)
            if pos.amount == ZERO or (pos.amount > 0) == (order.side == BUY):
                raise E.reduce_only_rejected()
            if order.orig_qty > abs(pos.amount):
                order.orig_qty = abs(pos.amount)
            return
        book = self.books[m.market_id]
        if order.type == MARKET:
            ref = book.best_ask() if order.side == BUY else book.best_bid()
            ref = ref if ref is not None else self.mark_price(m.market_id)
        else:
            ref = order.price
        self.futures.check_new_order(acct, m.market_id, order.side, order.orig_qty, ref, self.mark_price,
                                     self.open_order_margin, self.spec.futures_taker_fee)

    def _fillable(self, order: Order, book: OrderBook, until_qty: Decimal | None = None) -> Decimal:
        """How much of ``order`` the opposite side could fill at its limit (ignores STP)."""
        want = order.orig_qty if until_qty is None else until_qty
        got = ZERO
        for price, level in book.levels_from_best(order.side):
            if order.type != MARKET and not self._crosses(order, price):
                break
            got += level.total
            if got >= want:
                return want
        return got

    def _sweep_cost(self, order: Order, book: OrderBook) -> Decimal:
        left, cost = order.orig_qty, ZERO
        for price, level in book.levels_from_best(order.side):
            take = min(left, level.total)
            cost += take * price
            left -= take
            if left == ZERO:
                break
        return cost

    @staticmethod
    def _base_for_quote(order: Order, book: OrderBook) -> Decimal:
        """Base quantity a market sell for ``quote_order_qty`` would sell (same rounding as matching)."""
        step = order.market.step_size
        quote_left, base = order.quote_order_qty, ZERO
        for price, level in book.levels_from_best(order.side):
            take = min(level.total, (quote_left / price / step).to_integral_value(ROUND_DOWN) * step)
            if take <= ZERO:
                break
            base += take
            quote_left -= take * price
        return base

    @staticmethod
    def _crosses(order: Order, resting_price: Decimal) -> bool:
        return resting_price <= order.price if order.side == BUY else resting_price >= order.price

    # --- spot locking ---------------------------------------------------------------------
    def _lock_spot(self, order: Order, book: OrderBook) -> None:
        m, acct = order.market, order.account
        if order.side == BUY:
            if order.type == MARKET:
                # by quote amount: lock it all; by quantity: lock what sweeping the book costs
                amount = order.quote_order_qty or self._sweep_cost(order, book)
            else:
                amount = order.price * order.orig_qty
            asset = m.quote
        elif order.type == MARKET and order.quote_order_qty:
            amount, asset = self._base_for_quote(order, book), m.base
        else:
            amount, asset = order.orig_qty, m.base
        self.spot.lock(acct, asset, amount)
        order.locked, order.lock_asset = amount, asset
        self._touch(acct, "spot", asset)

    def _release(self, order: Order) -> None:
        if order.locked and not order.house and not order.market.is_perp:
            self.spot.unlock(order.account, order.lock_asset, order.locked)
            self._touch(order.account, "spot", order.lock_asset)
            order.locked = ZERO

    # --- matching -------------------------------------------------------------------------
    def _match(self, taker: Order, book: OrderBook, now: int) -> list[Fill]:
        fills: list[Fill] = []
        quote_left = taker.quote_order_qty
        m = taker.market
        while True:
            if taker.type == MARKET and taker.quote_order_qty:
                if quote_left <= ZERO:
                    break
            elif taker.remaining <= ZERO:
                break
            levels = book.asks if taker.side == BUY else book.bids
            if not levels:
                break
            price, level = levels.peekitem(0 if taker.side == BUY else -1)
            if taker.type != MARKET and not self._crosses(taker, price):
                break
            maker = next(iter(level.orders.values()))
            if maker.account == taker.account:
                transition(taker, "EXPIRED_IN_MATCH")
                self._release(taker)
                self._emit(Execution(taker, "EXPIRED", None, now))
                break
            final = False
            if taker.type == MARKET and taker.quote_order_qty:
                qty = min(maker.remaining, (quote_left / price / m.step_size).to_integral_value(ROUND_DOWN) * m.step_size)
                if qty <= ZERO:
                    break
                taker.orig_qty += qty
                final = self._quote_spent(book, taker.side, maker, qty, price, quote_left - price * qty)
            else:
                qty = min(taker.remaining, maker.remaining)
            fills.append(self._execute(taker, maker, book, price, qty, now, final))
            quote_left -= price * qty
        return fills

    @staticmethod
    def _quote_spent(book: OrderBook, side: str, maker: Order, qty: Decimal, price: Decimal,
                     quote_after: Decimal) -> bool:
        """Will this fill be the last of an order by quote amount (what is left cannot buy or
        sell one more step at the next price)? Decided before the fill so that its TRADE report
        already says FILLED, as Binance's does."""
        step = maker.market.step_size
        level = (book.asks if side == BUY else book.bids)[price]
        if maker.remaining > qty or len(level.orders) > 1:
            next_price = price
        else:
            levels = book.asks if side == BUY else book.bids
            if len(levels) < 2:
                return quote_after < price * step
            next_price = levels.peekitem(1 if side == BUY else -2)[0]
        return quote_after < next_price * step

    def _execute(self, taker: Order, maker: Order, book: OrderBook, price: Decimal, qty: Decimal, now: int,
                 taker_final: bool = False) -> Fill:
        m = taker.market
        trade_id = next(self._trade_ids)
        book.reduce(maker, qty)
        taker_fill = self._fill_order(taker, price, qty, trade_id, now, is_maker=False, final=taker_final)
        maker_fill = self._fill_order(maker, price, qty, trade_id, now, is_maker=True)
        if maker.remaining == ZERO:
            book.discard_filled(maker)
            maker.on_book = False
            self._open_by_account.get(maker.account, {}).pop(maker.order_id, None)
        self._emit(Execution(taker, "TRADE", taker_fill, now))
        self._emit(Execution(maker, "TRADE", maker_fill, now))
        self._record_trade(m, trade_id, price, qty, taker, maker, now)
        return taker_fill

    def _fill_order(self, order: Order, price: Decimal, qty: Decimal, trade_id: int, now: int, is_maker: bool,
                    final: bool = False) -> Fill:
        m = order.market
        quote = price * qty
        order.executed_qty += qty
        order.cum_quote += quote
        order.update_time = now
        by_quote = order.type == MARKET and order.quote_order_qty    # its final status comes after matching
        transition(order, "FILLED" if (order.remaining == ZERO and not by_quote) or final else "PARTIALLY_FILLED")
        commission, asset, realized = ZERO, (m.quote if m.is_perp or order.side == SELL else m.base), ZERO
        if not order.house:
            if m.is_perp:
                rate = self.spec.futures_maker_fee if is_maker else self.spec.futures_taker_fee
                commission = quote * rate
                realized = self.futures.apply_fill(order.account, m.market_id, order.side, qty, price, commission, now)
                self._touch(order.account, "futures", m.market_id)
            else:
                rate = self.spec.maker_fee if is_maker else self.spec.taker_fee
                acct = order.account
                if order.side == BUY:
                    spend = quote if order.type == MARKET else order.price * qty
                    self.spot.spend_locked(acct, m.quote, spend)
                    order.locked -= spend
                    if spend > quote:      # a taker filled better than its limit
                        self.spot.credit(acct, m.quote, spend - quote)
                    commission = qty * rate
                    self.spot.credit(acct, m.base, qty - commission)
                else:
                    self.spot.spend_locked(acct, m.base, qty)
                    order.locked -= qty
                    commission = quote * rate
                    self.spot.credit(acct, m.quote, quote - commission)
                if order.remaining == ZERO and order.locked and order.type != MARKET:
                    self._release(order)
                self._touch(acct, "spot", m.base)
                self._touch(acct, "spot", m.quote)
        fill = Fill(trade_id, m.market_id, order.order_id, order.account, order.side, price, qty, quote,
                    commission, asset, now, is_maker, realized)
        if not order.house:
            fills = self.fills_by_account.get(order.account)
            if fills is None:
                fills = self.fills_by_account[order.account] = deque(maxlen=self.fills_kept_per_account)
            fills.append(fill)
        return fill

    def _record_trade(self, m: SymbolSpec, trade_id: int, price: Decimal, qty: Decimal,
                      taker: Order, maker: Order, now: int) -> None:
        st = self.stats[m.market_id]
        if st.open is None:
            st.open = st.high = st.low = price
            st.first_trade_id = trade_id
        st.high = max(st.high, price)
        st.low = min(st.low, price)
        st.last, st.last_qty = price, qty
        st.volume += qty
        st.quote_volume += price * qty
        st.count += 1
        st.last_trade_id = trade_id
        trade = Trade(m.market_id, trade_id, price, qty, taker.side, taker.account, maker.account, now)
        st.trades.append(trade)
        st.candles.add(now, price, qty, taker.side == BUY)
        for cb in self.trade_listeners:
            cb(trade)

    # --- bookkeeping ----------------------------------------------------------------------
    def _register(self, order: Order) -> None:
        self.orders[order.order_id] = order
        if not order.house:
            self._by_client_id[(order.account, order.market_id, order.client_order_id)] = order.order_id
            ids = self._order_ids_by_account.setdefault(order.account, deque())
            ids.append(order.order_id)
            if len(ids) > self.orders_kept_per_account:
                self._forget_old_client_orders(ids, keep=order)
        elif len(self.orders) > self._prune_at:
            self._prune_house_orders()

    def _forget_old_client_orders(self, ids: deque, keep: Order) -> None:
        """Drop an account's oldest finished orders (and their client-id entries) beyond
        ``orders_kept_per_account``; open orders are kept whatever their age."""
        still_open: list[int] = []
        for _ in range(len(ids)):
            if len(ids) + len(still_open) <= self.orders_kept_per_account:
                break
            oid = ids.popleft()
            o = self.orders.get(oid)
            if o is None:
                continue
            if o.is_open or o is keep:
                still_open.append(oid)
                continue
            del self.orders[oid]
            key = (o.account, o.market_id, o.client_order_id)
            if self._by_client_id.get(key) == oid:
                del self._by_client_id[key]
        ids.extendleft(reversed(still_open))

    def account_orders(self, account: str) -> list[Order]:
        """The client orders this venue still remembers for ``account``, oldest first."""
        return [self.orders[oid] for oid in self._order_ids_by_account.get(account, ()) if oid in self.orders]

    def _prune_house_orders(self) -> None:
        """The market model churns orders for hours: forget its finished ones (clients' orders
        stay queryable). Amortised: the threshold doubles with what must be kept."""
        self.orders = {oid: o for oid, o in self.orders.items() if not o.house or o.is_open}
        self._prune_at = max(self._house_orders_floor, 2 * len(self.orders))

    def _take_off(self, order: Order) -> None:
        if order.on_book:
            self.books[order.market_id].remove(order)
            order.on_book = False
        self._open_by_account.get(order.account, {}).pop(order.order_id, None)

    def _emit(self, ex: Execution) -> None:
        """Executions of client orders only: house orders have no user-data stream, and the
        model's churn would otherwise cost a report per order."""
        if ex.order.house:
            return
        for cb in self.execution_listeners:
            cb(ex)

    def _touch(self, account: str, kind: str, item: str) -> None:
        self._touched.setdefault((account, kind), set()).add(item)

    def _flush_touched(self) -> None:
        touched, self._touched = self._touched, {}
        for (account, kind), items in touched.items():
            for cb in self.balance_listeners:
                cb(account, kind, items)

    # --- futures settings -----------------------------------------------------------------
    def set_leverage(self, account: str, market: SymbolSpec, leverage: int) -> int:
        if not 1 <= leverage <= market.max_leverage:
            raise E.bad_leverage()
        self.futures.config(account, market.market_id).leverage = leverage
        return leverage

    def set_margin_type(self, account: str, market: SymbolSpec, margin_type: str) -> None:
        margin_type = (margin_type or "").upper()
        if margin_type not in ("ISOLATED", "CROSSED"):
            raise E.bad_margin_type()
        cfg = self.futures.config(account, market.market_id)
        if cfg.margin_type == margin_type:
            raise E.no_need_to_change_margin_type()
        if self.futures.position(account, market.market_id).amount != ZERO or self.open_orders(account, market):
            raise E.margin_type_change_with_position()
        cfg.margin_type = margin_type

    def on_time(self, now_ms: int) -> None:
        """Periodic duties: liquidation of under-margined accounts, funding on perpetuals."""
        self._liquidate_if_needed()
        if now_ms < self.next_funding_ms:
            return
        self.next_funding_ms = now_ms + int(self.spec.funding_interval_s * 1000)
        for market_id in self.funding_rates:
            mark, index = self.mark_price(market_id), self.index_price(market_id)
            premium = (mark - index) / index if index else ZERO
            rate = max(Decimal("-0.0075"), min(Decimal("0.0075"), premium + Decimal("0.0001")))
            self.funding_rates[market_id] = rate.quantize(Decimal("0.00000001"))
            for account, _ in self.futures.settle_funding(market_id, mark, self.funding_rates[market_id], now_ms):
                self._touch(account, "futures", market_id)
        self._flush_touched()

    def _liquidate_if_needed(self) -> list[str]:
        """Cross accounts whose margin balance fell below maintenance are closed out at market
        (a simplification of Binance's liquidation engine: no insurance fund, no ADL)."""
        liquidated = []
        for account in list(self.futures.wallets):
            positions = [(m, p) for m, p in self.futures.account_positions(account) if p.amount]
            if not positions:
                continue
            t = self.futures.totals(account, self.mark_price, self.open_order_margin)
            if t["margin_balance"] >= t["maint_margin"]:
                continue
            liquidated.append(account)
            for market_id, pos in positions:
                market = self.markets[market_id]
                for o in self.open_orders(account, market):
                    self.cancel_order(account, market, o.order_id, None)
                side = SELL if pos.amount > 0 else BUY
                self.place_order(account, market, side, MARKET, abs(pos.amount), reduce_only=True,
                                 client_order_id=f"autoclose-{next(self._client_ids)}")
        return liquidated

    # --- MatchingVenue (market model) -----------------------------------------------------
    def symbols(self) -> list[str]:
        return list(self.markets)

    def best_bid_ask(self, symbol: str) -> tuple[Decimal | None, Decimal | None]:
        book = self.books[symbol]
        return book.best_bid(), book.best_ask()

    def depth(self, symbol: str, levels: int):
        return self.books[symbol].depth(levels)

    def place_house_order(self, account: str, symbol: str, side: str, order_type: str,
                          quantity: Decimal, price: Decimal | None = None,
                          time_in_force: str = "GTC") -> PlaceResult:
        if not self.is_house(account):
            raise ValueError(f"account {account!r} is a client account, not a house account")
        market = self.markets.get(symbol)
        if market is None:
            return PlaceResult(0, "REJECTED", ZERO, "Invalid symbol.")
        tif = None if order_type.upper() in (MARKET, LIMIT_MAKER) else time_in_force
        try:
            order, _ = self.place_order(account, market, side, order_type, quantity, price, tif)
        except E.BinanceError as exc:
            return PlaceResult(0, "REJECTED", ZERO, exc.msg)
        return PlaceResult(order.order_id, order.status, order.executed_qty)

    def cancel_house_order(self, account: str, symbol: str, order_id: int) -> bool:
        market = self.markets.get(symbol)
        if market is None:
            return False
        try:
            self.cancel_order(account, market, order_id, None)
        except E.BinanceError:
            return False
        return True

    def house_open_orders(self, account: str, symbol: str) -> list[tuple[int, str, Decimal, Decimal]]:
        return [(o.order_id, o.side, o.price, o.remaining)
                for o in self._open_by_account.get(account, {}).values() if o.market_id == symbol]

    def subscribe_trades(self, callback: Callable[[Trade], None]) -> None:
        self.trade_listeners.append(callback)

    def tick_size(self, symbol: str) -> Decimal:
        return self.markets[symbol].tick_size

    def step_size(self, symbol: str) -> Decimal:
        return self.markets[symbol].step_size

    # --- static liquidity -----------------------------------------------------------------
    def seed_books(self, account: str = "house-seed") -> None:
        """A symmetric house ladder around each market's reference price (no model running)."""
        for m in self.markets.values():
            ref = self.spec.reference_price(m.market_id)
            for k in range(m.seed_levels):
                off = ref * m.seed_spacing_bps * (Decimal(k) + Decimal("0.5")) / Decimal(10_000)
                bid = m.round_price(ref - off)
                ask = m.round_price(ref + off)
                if ask <= bid:
                    ask = bid + m.tick_size
                qty = m.seed_level_qty
                self.place_order(account, m, BUY, LIMIT, qty, bid, GTC)
                self.place_order(account, m, SELL, LIMIT, qty, ask, GTC)

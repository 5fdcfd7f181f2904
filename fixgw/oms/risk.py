"""Pre-trade risk: every client order, replace and algo/SOR child passes here before it leaves.

Pure (no I/O, time from an injected clock): the OMS asks, the engine answers with a typed
:class:`RiskDecision` (never an exception), whose ``text`` goes out as Text(58) on the reject
and names the limit, the limit's value and the order's value, e.g.
``risk: max order quantity 5 exceeded: order quantity 7 (account ACC1)``.

Two scopes are checked for each order: the session it arrived on (``default`` merged with that
session's overrides) and its Account(1) if the config lists it. The kill switch state lives
here as well: while engaged, every new order, replace and child is rejected.

Usage by the OMS::

    risk = RiskEngine(RiskConfig.from_config(config.get("risk")), clock,
                      kill_switch=KillSwitchState(state_dir / "kill-switch.json"))
    decision = risk.check(OrderRiskRequest(session="OMS", account="ACC1", symbol="BTC/USDT",
                                           side=Side.BUY, ord_type=OrdType.LIMIT,
                                           quantity=qty, price=px, mid=book.mid("BTC/USDT"),
                                           open_orders_session=3, open_orders_account=1))
    if not decision.accepted: reject with OrdRejReason=decision.ord_rej_reason, Text=decision.text
    # per child, before sending it to a venue:
    decision = risk.check(child_request) and then
    decision = risk.check_venue_balance(child_request, venue.name, balances, venue.fees.taker)
"""
from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from decimal import Decimal
from enum import Enum
from typing import Mapping

from fixgw.clock import Clock
from fixgw.domain import ZERO, OrdType, Side
from fixgw.oms.risk_config import RiskConfig, RiskLimits
from fixgw.oms.risk_rate import SlidingWindowCounter

log = logging.getLogger(__name__)

BPS = Decimal(10_000)


class OrderAction(str, Enum):
    """What is being checked; decides which limits count it."""

    NEW = "new"          # a client NewOrderSingle: every limit
    REPLACE = "replace"  # a client cancel/replace: not a new open order, otherwise every limit
    CHILD = "child"      # an algo/SOR child: not a client open order; own rate window


class OrdRejReason(str, Enum):
    """FIX 4.4 OrdRejReason(103) values risk uses."""

    BROKER_OPTION = "0"        # not allowed here (symbol, side, kill switch, credit)
    ORDER_EXCEEDS_LIMIT = "3"  # a quantitative limit


@dataclass(frozen=True, slots=True)
class OrderRiskRequest:
    session: str                 # the session's name as keyed in config (its TargetCompID)
    account: str | None
    symbol: str
    side: Side
    ord_type: OrdType
    quantity: Decimal
    price: Decimal | None = None  # limit price; None for market orders
    mid: Decimal | None = None    # consolidated mid of ``symbol`` now (None: no market data)
    action: OrderAction = OrderAction.NEW
    open_orders_session: int = 0  # client orders open now in the session (this one excluded)
    open_orders_account: int = 0  # client orders open now for the account (this one excluded)
    session_aliases: tuple[str, ...] = ()  # other config keys for the session (full session id)


@dataclass(frozen=True, slots=True)
class RiskDecision:
    accepted: bool
    limit: str | None = None        # machine name of the breached limit, e.g. "max_order_qty"
    text: str | None = None         # the reject's Text(58)
    ord_rej_reason: OrdRejReason | None = None

    @property
    def rejected(self) -> bool:
        return not self.accepted


ACCEPT = RiskDecision(accepted=True)


class KillSwitchState:
    """Engaged -> every new order is rejected until released. Owned by the risk engine.

    With a ``path`` the state survives a crash or restart of the gateway: a kill switch a risk
    manager engaged stays engaged until someone releases it, and a state file that cannot be
    read fails closed (engaged, with a reason saying why).
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.engaged = False
        self.reason: str | None = None
        self.since: float | None = None  # wall-clock seconds
        self.path = Path(path) if path is not None else None
        if self.path is not None:
            self._load()

    def engage(self, reason: str, at: float) -> None:
        if not self.engaged:
            self.engaged, self.reason, self.since = True, reason, at
            self._save()

    def release(self) -> None:
        self.engaged, self.reason, self.since = False, None, None
        self._save()

    def describe(self) -> str:
        if not self.engaged:
            return "kill switch released"
        when = _dt.datetime.fromtimestamp(self.since or 0, _dt.timezone.utc)
        return f"kill switch engaged since {when:%Y-%m-%dT%H:%M:%SZ} ({self.reason})"

    def _load(self) -> None:
        assert self.path is not None
        try:
            doc = json.loads(self.path.read_text())
            if doc.get("engaged") is True:
                self.engaged, self.reason = True, str(doc.get("reason") or "engaged before restart")
                self.since = float(doc["since"])
            elif doc.get("engaged") is not False:
                raise ValueError(f"'engaged' is {doc.get('engaged')!r}")
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.error("kill switch state %s unreadable (%s): engaging it to be safe", self.path, exc)
            self.engaged, self.since = True, time.time()
            self.reason = f"kill switch state file {self.path} unreadable: {exc}"

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        with open(tmp, "w") as fh:
            json.dump({"engaged": self.engaged, "reason": self.reason, "since": self.since}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)


@dataclass(frozen=True, slots=True)
class _Scope:
    label: str        # "session OMS" / "account ACC1": the suffix of every Text
    key: tuple[str, str]
    limits: RiskLimits
    open_orders: int


class RiskEngine:
    def __init__(self, config: RiskConfig, clock: Clock, kill_switch: KillSwitchState | None = None):
        self.config = config
        self.kill_switch = kill_switch or KillSwitchState()
        self._clock = clock
        self._rates = SlidingWindowCounter(clock.monotonic, window=1.0)

    # -- kill switch ----------------------------------------------------------------------------
    def engage_kill_switch(self, reason: str) -> None:
        self.kill_switch.engage(reason, self._clock.now())

    def release_kill_switch(self) -> None:
        self.kill_switch.release()

    # -- checks ---------------------------------------------------------------------------------
    def check(self, request: OrderRiskRequest) -> RiskDecision:
        """Check every limit of every scope; on acceptance the order counts in the rate window."""
        if self.kill_switch.engaged:
            return _reject("kill_switch", OrdRejReason.BROKER_OPTION,
                           f"risk: {self.kill_switch.describe()}: new orders are rejected "
                           f"until it is released")
        if request.quantity <= ZERO:
            return _reject("quantity", OrdRejReason.ORDER_EXCEEDS_LIMIT,
                           f"risk: order quantity {_fmt(request.quantity)} is not positive")
        scopes = self._scopes(request)
        for scope in scopes:
            decision = self._check_scope(request, scope)
            if decision.rejected:
                return decision
        for scope in scopes:
            self._rates.record(self._rate_key(scope, request))
        return ACCEPT

    def check_venue_balance(self, request: OrderRiskRequest, venue: str,
                            balances: Mapping[str, Decimal], fee_rate: Decimal = ZERO) -> RiskDecision:
        """Before routing a child to ``venue``: do its free balances cover it (fees included)?

        Spot buys need quote currency, spot sells base currency; derivatives need the settle
        currency for ``margin_fraction`` of the notional. Skipped if any scope disables it.
        """
        scopes = self._scopes(request)
        if not all(scope.limits.check_venue_balance for scope in scopes):
            return ACCEPT
        label = scopes[-1].label
        base, quote, settle = split_symbol(request.symbol)
        price = request.price if request.price is not None else request.mid
        if settle is None and request.side is Side.SELL:
            currency, needed = base, request.quantity
        else:
            if price is None:
                return _reject("venue_balance", OrdRejReason.BROKER_OPTION,
                               f"risk: venue balance at {venue} cannot be checked: no price and no "
                               f"consolidated mid for {request.symbol} ({label})")
            notional = request.quantity * price
            if settle is None:
                currency, needed = quote, notional * (1 + fee_rate)
            else:
                margin = min(scope.limits.margin_fraction for scope in scopes)
                currency, needed = settle, notional * (margin + fee_rate)
        available = balances.get(currency, ZERO)
        if needed > available:
            return _reject("venue_balance", OrdRejReason.BROKER_OPTION,
                           f"risk: venue balance at {venue} insufficient: available "
                           f"{_fmt(available)} {currency}, order needs {_fmt(needed, 8)} {currency} "
                           f"({label})")
        return ACCEPT

    # -- internals ------------------------------------------------------------------------------
    def _scopes(self, request: OrderRiskRequest) -> list[_Scope]:
        scopes = [_Scope(f"session {request.session}", ("session", request.session),
                         self.config.for_session(*request.session_aliases, request.session),
                         request.open_orders_session)]
        account_limits = self.config.for_account(request.account)
        if account_limits is not None and request.account is not None:
            scopes.append(_Scope(f"account {request.account}", ("account", request.account),
                                 account_limits, request.open_orders_account))
        return scopes

    @staticmethod
    def _rate_key(scope: _Scope, request: OrderRiskRequest) -> tuple[str, str, bool]:
        # Children have their own window: an algo's slicing must not eat the client's budget.
        return (*scope.key, request.action is OrderAction.CHILD)

    def _check_scope(self, request: OrderRiskRequest, scope: _Scope) -> RiskDecision:
        limits, label = scope.limits, scope.label
        if limits.symbols is not None and request.symbol not in limits.symbols:
            return _reject("symbols", OrdRejReason.BROKER_OPTION,
                           f"risk: symbol {request.symbol} not allowed: allowed symbols "
                           f"{', '.join(sorted(limits.symbols))} ({label})")
        if limits.sides is not None and request.side not in limits.sides:
            return _reject("sides", OrdRejReason.BROKER_OPTION,
                           f"risk: side {request.side.ccxt} not allowed: allowed sides "
                           f"{', '.join(sorted(s.ccxt for s in limits.sides))} ({label})")
        max_qty = limits.max_qty_for(request.symbol)
        if max_qty is not None and request.quantity > max_qty:
            return _reject("max_order_qty", OrdRejReason.ORDER_EXCEEDS_LIMIT,
                           f"risk: max order quantity {_fmt(max_qty)} exceeded: order quantity "
                           f"{_fmt(request.quantity)} ({label})")
        if limits.max_notional is not None:
            price = request.price if request.price is not None else request.mid
            if price is None:
                return _reject("max_notional", OrdRejReason.ORDER_EXCEEDS_LIMIT,
                               f"risk: max notional {_fmt(limits.max_notional)} cannot be checked: "
                               f"market order and no consolidated mid for {request.symbol} ({label})")
            notional = request.quantity * price
            if notional > limits.max_notional:
                return _reject("max_notional", OrdRejReason.ORDER_EXCEEDS_LIMIT,
                               f"risk: max notional {_fmt(limits.max_notional)} exceeded: order "
                               f"notional {_fmt(notional, 8)} ({label})")
        if limits.price_collar_bps is not None and request.price is not None:
            if request.mid is None or request.mid <= ZERO:
                return _reject("price_collar_bps", OrdRejReason.ORDER_EXCEEDS_LIMIT,
                               f"risk: price collar {_fmt(limits.price_collar_bps)} bps cannot be "
                               f"checked: no consolidated mid for {request.symbol} ({label})")
            distance = abs(request.price - request.mid) / request.mid * BPS
            if distance > limits.price_collar_bps:
                return _reject("price_collar_bps", OrdRejReason.ORDER_EXCEEDS_LIMIT,
                               f"risk: price collar {_fmt(limits.price_collar_bps)} bps exceeded: "
                               f"order price {_fmt(request.price)} is {_fmt(distance, 2)} bps from "
                               f"mid {_fmt(request.mid, 8)} ({label})")
        if limits.max_open_orders is not None and request.action is OrderAction.NEW:
            would_be = scope.open_orders + 1
            if would_be > limits.max_open_orders:
                return _reject("max_open_orders", OrdRejReason.ORDER_EXCEEDS_LIMIT,
                               f"risk: max open orders {limits.max_open_orders} exceeded: open orders "
                               f"with this order {would_be} ({label})")
        if limits.max_orders_per_second is not None:
            would_be = self._rates.count(self._rate_key(scope, request)) + 1
            if would_be > limits.max_orders_per_second:
                kind = "child orders" if request.action is OrderAction.CHILD else "orders"
                return _reject("max_orders_per_second", OrdRejReason.ORDER_EXCEEDS_LIMIT,
                               f"risk: max orders per second {limits.max_orders_per_second} exceeded: "
                               f"{kind} in the last second with this one {would_be} ({label})")
        return ACCEPT


def split_symbol(symbol: str) -> tuple[str, str, str | None]:
    """``BTC/USDT`` -> (BTC, USDT, None); ``BTC/USDT:USDT`` (or ``...:USDT-250328``) -> settle USDT."""
    pair, _, settle = symbol.partition(":")
    base, _, quote = pair.partition("/")
    return base, quote, (settle.split("-")[0] or None) if settle else None


def _reject(limit: str, reason: OrdRejReason, text: str) -> RiskDecision:
    return RiskDecision(accepted=False, limit=limit, text=text, ord_rej_reason=reason)


def _fmt(value: Decimal, places: int | None = None) -> str:
    """Plain decimal notation without exponent or trailing zeros (optionally rounded)."""
    if places is not None:
        value = round(value, places)
    text = format(value.normalize(), "f")
    return text

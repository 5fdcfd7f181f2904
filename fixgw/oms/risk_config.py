"""Risk limits from configuration: frozen, validated once, with errors that name key and value.

The ``risk:`` section of the gateway YAML has three parts, each a mapping of limit keys::

    risk:
      default:            # applies to every order-entry session unless overridden there
        max_order_qty: 50            # base units; or a mapping {BTC/USDT: 10, "*": 100}
        max_notional: 1000000        # quote units (price x quantity; market orders use the mid)
        price_collar_bps: 500        # limit price within +/- 500 bps of the consolidated mid
        max_open_orders: 200         # open client orders in this scope
        max_orders_per_second: 50    # sliding one-second window, in this scope
        symbols: [BTC/USDT, ETH/USDT, BTC/USDT:USDT]   # allowed symbols (absent = any)
        sides: [buy, sell]           # allowed sides (absent = both)
        check_venue_balance: true    # children need the venue balance to cover them
        margin_fraction: 1           # derivatives: settle-currency collateral per unit notional
      sessions:           # keyed by the counterparty's CompID (OMS) or the full session id
        OMS: {max_orders_per_second: 20}     # merged over ``default``
      accounts:           # keyed by Account(1); checked *in addition* to the session's limits
        ACC1: {max_order_qty: 5}

Every key is optional; an absent key means "no limit". A session's limits are ``default``
merged with its own entry; an account's limits are its own entry only (an account that is not
listed has no account-level limits). Both scopes must pass.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping

from fixgw.domain import Side

ANY_SYMBOL = "*"


class RiskConfigError(ValueError):
    """A risk limit in the configuration is malformed; the message names the key and value."""


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """The limits of one scope (a session or an account). ``None`` means unlimited."""

    max_order_qty: Mapping[str, Decimal] | None = None  # symbol (or "*") -> max quantity
    max_notional: Decimal | None = None
    price_collar_bps: Decimal | None = None
    max_open_orders: int | None = None
    max_orders_per_second: int | None = None
    symbols: frozenset[str] | None = None
    sides: frozenset[Side] | None = None
    check_venue_balance: bool = True
    margin_fraction: Decimal = Decimal(1)

    def max_qty_for(self, symbol: str) -> Decimal | None:
        if self.max_order_qty is None:
            return None
        return self.max_order_qty.get(symbol, self.max_order_qty.get(ANY_SYMBOL))

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None, where: str = "risk") -> "RiskLimits":
        """Build from one mapping of limit keys; ``where`` prefixes error messages."""
        section = _mapping(section or {}, where)
        unknown = sorted(set(section) - _PARSERS.keys())
        if unknown:
            raise RiskConfigError(
                f"{where}.{unknown[0]}: unknown risk limit (known: {', '.join(sorted(_PARSERS))})")
        values = {key: _PARSERS[key](value, f"{where}.{key}") for key, value in section.items()}
        return cls(**values)


@dataclass(frozen=True, slots=True)
class RiskConfig:
    """All limits: the default, per-session overrides and per-account limits."""

    default: RiskLimits = field(default_factory=RiskLimits)
    sessions: Mapping[str, RiskLimits] = field(default_factory=dict)
    accounts: Mapping[str, RiskLimits] = field(default_factory=dict)

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None, where: str = "risk") -> "RiskConfig":
        section = _mapping(section or {}, where)
        unknown = sorted(set(section) - {"default", "sessions", "accounts"})
        if unknown:
            raise RiskConfigError(
                f"{where}.{unknown[0]}: unknown key (expected default, sessions, accounts)")
        default_raw = _mapping(section.get("default") or {}, f"{where}.default")
        default = RiskLimits.from_config(default_raw, f"{where}.default")
        sessions = {
            str(name): RiskLimits.from_config(
                {**default_raw, **_mapping(raw or {}, f"{where}.sessions.{name}")},
                f"{where}.sessions.{name}")
            for name, raw in _mapping(section.get("sessions") or {}, f"{where}.sessions").items()
        }
        accounts = {
            str(name): RiskLimits.from_config(raw, f"{where}.accounts.{name}")
            for name, raw in _mapping(section.get("accounts") or {}, f"{where}.accounts").items()
        }
        return cls(default=default, sessions=sessions, accounts=accounts)

    def for_session(self, *names: str) -> RiskLimits:
        """The limits of the first configured name (full session id, then CompID), else default."""
        for name in names:
            if name in self.sessions:
                return self.sessions[name]
        return self.default

    def for_account(self, account: str | None) -> RiskLimits | None:
        return self.accounts.get(account) if account is not None else None


# ---- value parsers: each names the key path and the offending value --------------------------

def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise RiskConfigError(f"{where}: expected a mapping, got {value!r}")
    return value


def _decimal(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise RiskConfigError(f"{where}: {value!r} is not a number")
    try:
        # YAML hands us floats for "0.5"; repr() is the shortest exact spelling of what was typed.
        result = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation:
        raise RiskConfigError(f"{where}: {value!r} is not a number") from None
    if not result.is_finite() or result <= 0:
        raise RiskConfigError(f"{where}: {value!r} must be a positive number")
    return result


def _positive_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise RiskConfigError(f"{where}: {value!r} is not a whole number")
    try:
        result = int(str(value).strip())
    except ValueError:
        raise RiskConfigError(f"{where}: {value!r} is not a whole number") from None
    if result <= 0:
        raise RiskConfigError(f"{where}: {value!r} must be a positive whole number")
    return result


def _quantity_limits(value: Any, where: str) -> Mapping[str, Decimal]:
    if isinstance(value, Mapping):
        if not value:
            raise RiskConfigError(f"{where}: empty mapping (give a number or symbol: number pairs)")
        return {str(sym): _decimal(v, f"{where}.{sym}") for sym, v in value.items()}
    return {ANY_SYMBOL: _decimal(value, where)}


def _symbols(value: Any, where: str) -> frozenset[str]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not value:
        raise RiskConfigError(f"{where}: expected a non-empty list of symbols, got {value!r}")
    for sym in value:
        if not isinstance(sym, str) or "/" not in sym:
            raise RiskConfigError(f"{where}: {sym!r} is not a ccxt symbol like BTC/USDT")
    return frozenset(value)


_SIDE_NAMES = {"buy": Side.BUY, "sell": Side.SELL, "1": Side.BUY, "2": Side.SELL}


def _sides(value: Any, where: str) -> frozenset[Side]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not value:
        raise RiskConfigError(f"{where}: expected a non-empty list of sides (buy, sell), got {value!r}")
    sides = set()
    for side in value:
        parsed = _SIDE_NAMES.get(str(side).strip().lower())
        if parsed is None:
            raise RiskConfigError(f"{where}: {side!r} is not a side (buy or sell)")
        sides.add(parsed)
    return frozenset(sides)


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise RiskConfigError(f"{where}: {value!r} is not true or false")
    return value


def _margin(value: Any, where: str) -> Decimal:
    result = _decimal(value, where)
    if result > 1:
        raise RiskConfigError(f"{where}: {value!r} must be at most 1 (a fraction of notional)")
    return result


_PARSERS = {
    "max_order_qty": _quantity_limits,
    "max_notional": _decimal,
    "price_collar_bps": _decimal,
    "max_open_orders": _positive_int,
    "max_orders_per_second": _positive_int,
    "symbols": _symbols,
    "sides": _sides,
    "check_venue_balance": _bool,
    "margin_fraction": _margin,
}

"""ccxt's unified order and trade structures -> fixgw's venue events (pure functions).

The adapter sets ``exchange.number = str``, so the numbers here arrive as strings and become
Decimal without passing through a float (see fixgw/marketdata/decimals.py).
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from fixgw.domain import Side
from fixgw.marketdata.decimals import to_decimal, to_decimal_or_none
from fixgw.venues.base import VenueFill, VenueOrderState, VenueOrderUpdate

ZERO = Decimal(0)

STATUS = {
    "open": VenueOrderState.OPEN, "canceling": VenueOrderState.OPEN,
    "closed": VenueOrderState.FILLED, "filled": VenueOrderState.FILLED,
    "canceled": VenueOrderState.CANCELED, "cancelled": VenueOrderState.CANCELED,
    "expired": VenueOrderState.CANCELED, "rejected": VenueOrderState.REJECTED,
}
TERMINAL = frozenset({VenueOrderState.FILLED, VenueOrderState.CANCELED, VenueOrderState.REJECTED})


def plain(d: Decimal) -> Decimal:
    """Same value without a positive exponent (6.000E+4 -> 60000), so it prints plainly."""
    return d.quantize(Decimal(1)) if d == d.to_integral_value() else d.normalize()


def order_client_id(order: dict[str, Any]) -> str:
    """Our client order id in a ccxt order. After a cancel Binance reports the cancel's own id
    as ``clientOrderId``; ours is ``origClientOrderId`` (REST) or ``C`` (stream)."""
    info = order.get("info") or {}
    return str(info.get("origClientOrderId") or info.get("C") or order.get("clientOrderId") or "")


def order_update(venue: str, order: dict[str, Any], client_order_id: str, now_ms: int) -> VenueOrderUpdate:
    info = order.get("info") or {}
    oid = order.get("id")
    state = STATUS.get(str(order.get("status") or "open").lower(), VenueOrderState.OPEN)
    filled = to_decimal_or_none(order.get("filled")) or ZERO
    amount = to_decimal_or_none(order.get("amount"))
    remaining = to_decimal_or_none(order.get("remaining"))
    if remaining is None:
        remaining = (amount - filled) if amount is not None else ZERO
    if state in TERMINAL:
        remaining = ZERO
    cost = to_decimal_or_none(order.get("cost"))
    if filled > 0 and cost:
        avg = plain(cost / filled)  # venue notional / filled, not ccxt's rounded average
    else:
        avg = to_decimal_or_none(order.get("average")) if filled > 0 else None
    ts = order.get("lastUpdateTimestamp") or order.get("timestamp") or now_ms
    reason = None
    if state is VenueOrderState.CANCELED and str(order.get("status")).lower() == "expired":
        reason = "expired"
    elif state is VenueOrderState.REJECTED:
        reason = str(info.get("r") or "rejected")
    return VenueOrderUpdate(venue, client_order_id, None if oid is None else str(oid),
                            order.get("symbol") or "", state, filled, remaining, avg, int(ts), reason)


def trade_fill(venue: str, trade: dict[str, Any], client_order_id: str | None, now_ms: int) -> VenueFill:
    """``trade_id`` is ``SYMBOL#id``: Binance numbers trades per symbol, so spot and perp
    trades of one venue could share an id; the symbol makes it unique per venue."""
    info = trade.get("info") or {}
    if client_order_id is None:
        client_order_id = info.get("C") or info.get("c") or ""
    fee = trade.get("fee") or {}
    symbol = trade.get("symbol") or ""
    maker = trade.get("takerOrMaker")
    oid = trade.get("order")
    return VenueFill(
        venue=venue, client_order_id=client_order_id, venue_order_id=None if oid is None else str(oid),
        trade_id=f"{symbol}#{trade.get('id')}", symbol=symbol,
        side=Side.BUY if trade.get("side") == "buy" else Side.SELL,
        price=to_decimal(trade["price"]), quantity=to_decimal(trade["amount"]),
        fee=to_decimal_or_none(fee.get("cost")) or ZERO, fee_currency=fee.get("currency"),
        timestamp_ms=int(trade.get("timestamp") or now_ms),
        is_maker=None if maker is None else maker == "maker")

"""Per-order and per-child runtime state of the order manager, and the reject-reason maps.

Not journaled: what the manager needs while an order works (venue-reported fills not yet
booked, cancels wanted before a submit returned, how the order must end), rebuilt on restart
by reconciliation.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from decimal import Decimal

from fixgw.domain import ZERO
from fixgw.oms.state import OrderEvent
from fixgw.venues.base import VenueErrorKind, VenueFill

class OrdRejReason:
    BROKER_OPTION = 0
    UNKNOWN_SYMBOL = 1
    EXCHANGE_CLOSED = 2
    EXCEEDS_LIMIT = 3
    TOO_LATE = 4
    UNKNOWN_ORDER = 5
    DUPLICATE = 6
    UNSUPPORTED = 11
    INCORRECT_QTY = 13
    OTHER = 99


FIELD_REJECT_REASON = {38: OrdRejReason.INCORRECT_QTY, 55: OrdRejReason.UNKNOWN_SYMBOL,
                        40: OrdRejReason.UNSUPPORTED, 59: OrdRejReason.UNSUPPORTED,
                        847: OrdRejReason.UNSUPPORTED, 848: OrdRejReason.UNSUPPORTED,
                        126: OrdRejReason.TOO_LATE}

_VENUE_REJECT_REASON = {VenueErrorKind.INSUFFICIENT_FUNDS: OrdRejReason.BROKER_OPTION,
                        VenueErrorKind.INVALID_ORDER: OrdRejReason.OTHER,
                        VenueErrorKind.RATE_LIMITED: OrdRejReason.OTHER,
                        VenueErrorKind.UNAVAILABLE: OrdRejReason.EXCHANGE_CLOSED,
                        VenueErrorKind.WOULD_TAKE: OrdRejReason.OTHER,
                        VenueErrorKind.AUTH: OrdRejReason.BROKER_OPTION}


@dataclass
class ChildRuntime:
    """What the manager knows about a child beyond its journaled record."""

    venue_filled: Decimal = ZERO          # cumulative filled as last reported by the venue
    cancel_wanted: bool = False           # cancel as soon as the submit returns
    submit_done: bool = False
    slice_id: str | None = None           # the algo child intent it belongs to
    chase_task: asyncio.Task | None = None


@dataclass
class OrderRuntime:
    """Per client order, not journaled: how it must end once its children are settled."""

    closing: OrderEvent | None = None     # CANCELED / EXPIRE / DONE_FOR_DAY when no client request
    closing_text: str | None = None
    venue_reasons: list[str] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None
    venue_error_kinds: list[VenueErrorKind] = field(default_factory=list)
    routing: bool = False                 # a routing task is placing children right now
    reroute: bool = False                 # restart: children that never left us are re-routed
    algo: object | None = None            # fixgw.oms.algo_host.AlgoRun
    reconciling: bool = False             # restart: no completion decisions until reconciled
    resume_algo: bool = False             # restart: rebuild the scheduler once old children settle
    resweeps: int = 0                     # immediate orders: re-routes of a remainder so far
    last_route_placed: bool = True        # the last routing placed at least one child



def reject_reason_of(rt: OrderRuntime) -> int:
    if rt.venue_error_kinds:
        return _VENUE_REJECT_REASON.get(rt.venue_error_kinds[0], OrdRejReason.OTHER)
    if any(r.startswith("risk") for r in rt.venue_reasons):
        return OrdRejReason.EXCEEDS_LIMIT
    return OrdRejReason.OTHER


def fee_in_quote(symbol: str, fill: VenueFill) -> Decimal:
    base, _, rest = symbol.partition("/")
    quote = rest.split(":")[0]
    if fill.fee_currency in (None, quote):
        return fill.fee
    if fill.fee_currency == base:
        return fill.fee * fill.price
    return ZERO


def safe_decimal(text: str | None) -> Decimal:
    try:
        d = Decimal(text or "0")
        return d if d.is_finite() and d >= 0 else ZERO
    except Exception:
        return ZERO


"""The one small interface through which everything talks to a venue (DESIGN.md).

The ccxt adapter implements it for real exchanges and for the embedded simulated venues alike.
All quantities and prices are Decimal. Symbols are ccxt unified (``BTC/USDT``, ``BTC/USDT:USDT``).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Callable, Protocol

from fixgw.domain import OrdType, Side, TimeInForce


class VenueOrderState(str, Enum):
    OPEN = "open"          # accepted and resting (possibly partially filled)
    FILLED = "filled"
    CANCELED = "canceled"  # canceled or expired at the venue (possibly partially filled)
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class VenueOrderRequest:
    client_order_id: str  # ours: idempotent on retry, unique forever
    symbol: str
    side: Side
    ord_type: OrdType
    quantity: Decimal
    price: Decimal | None = None
    tif: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    reduce_only: bool = False


@dataclass(frozen=True, slots=True)
class VenueOrderUpdate:
    """The venue's view of one child order (from an ack, the stream, or a status query)."""

    venue: str
    client_order_id: str
    venue_order_id: str | None
    symbol: str
    state: VenueOrderState
    filled: Decimal          # cumulative
    remaining: Decimal
    avg_price: Decimal | None
    timestamp_ms: int
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class VenueFill:
    venue: str
    client_order_id: str
    venue_order_id: str | None
    trade_id: str            # unique per venue: the dedup key for fills
    symbol: str
    side: Side
    price: Decimal
    quantity: Decimal
    fee: Decimal
    fee_currency: str | None
    timestamp_ms: int
    is_maker: bool | None = None


VenueEvent = VenueOrderUpdate | VenueFill


class VenueErrorKind(str, Enum):
    INSUFFICIENT_FUNDS = "insufficient funds"
    INVALID_ORDER = "invalid order"
    ORDER_NOT_FOUND = "order not found"
    RATE_LIMITED = "rate limited"
    UNAVAILABLE = "venue unavailable"
    WOULD_TAKE = "post-only order would take"
    AUTH = "authentication failed"


class VenueError(Exception):
    """A venue refused or could not serve a request; ``kind`` maps to a FIX reject reason."""

    def __init__(self, venue: str, kind: VenueErrorKind, message: str):
        super().__init__(f"{venue}: {kind.value}: {message}")
        self.venue = venue
        self.kind = kind
        self.message = message


@dataclass(frozen=True, slots=True)
class VenueFees:
    maker: Decimal  # fraction, e.g. Decimal("0.001")
    taker: Decimal


class VenueAdapter(Protocol):
    name: str
    fees: VenueFees

    async def connect(self) -> None: ...
    async def close(self) -> None: ...

    def on_event(self, callback: Callable[[VenueEvent], None]) -> None:
        """Register the consumer of order updates and fills (stream, or REST polling fallback)."""

    async def submit(self, request: VenueOrderRequest) -> VenueOrderUpdate: ...
    async def cancel(self, client_order_id: str, symbol: str) -> VenueOrderUpdate: ...
    async def fetch_order(self, client_order_id: str, symbol: str) -> VenueOrderUpdate | None: ...
    async def fetch_open_orders(self, symbol: str | None = None) -> list[VenueOrderUpdate]: ...
    async def fetch_fills(self, symbol: str, since_ms: int | None = None) -> list[VenueFill]: ...
    async def fetch_balances(self) -> dict[str, Decimal]: ...

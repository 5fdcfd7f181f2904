"""The contract between the simulated exchange (matching engine) and the market model.

The market model (latent fair price, liquidity providers, background traders) is a set of
participants that trade on the exchange like anyone else, through this narrow interface, so the
engine knows nothing about the model and the model can be tested against the real engine.
Model participants are "house" accounts: not subject to balance checks or rate limits.

Conventions of the engine behind this interface (fixgw/sim/engine.py):
- ``symbol`` here is the engine's market id: the spot pair as on the wire ("BTCUSDT") and the
  USD-M perpetual with a suffix ("BTCUSDT_PERP"), because Binance names both "BTCUSDT".
- Self-trade prevention is EXPIRE_TAKER per account, house accounts included: a house account
  that takes liquidity must not be the one that provides it.
- House orders respect tick and step sizes but not min quantity / notional; any account name
  that is not a client account (one with an API key) is a house account.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Callable, Protocol


@dataclass(frozen=True, slots=True)
class Trade:
    symbol: str            # exchange symbol, e.g. "BTCUSDT"
    trade_id: int
    price: Decimal
    quantity: Decimal
    aggressor_side: str    # "BUY" | "SELL"
    aggressor_account: str
    passive_account: str
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class PlaceResult:
    order_id: int
    status: str            # Binance status: NEW, PARTIALLY_FILLED, FILLED, CANCELED, EXPIRED, REJECTED
    executed_qty: Decimal
    error: str | None = None


class MatchingVenue(Protocol):
    """What the market model may do on the exchange."""

    def symbols(self) -> list[str]: ...

    def best_bid_ask(self, symbol: str) -> tuple[Decimal | None, Decimal | None]: ...

    def depth(self, symbol: str, levels: int) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """(bids best first, asks best first) aggregated by price."""

    def place_house_order(self, account: str, symbol: str, side: str, order_type: str,
                          quantity: Decimal, price: Decimal | None = None,
                          time_in_force: str = "GTC") -> PlaceResult:
        """order_type: LIMIT | MARKET | LIMIT_MAKER. No balance checks for house accounts."""

    def cancel_house_order(self, account: str, symbol: str, order_id: int) -> bool: ...

    def house_open_orders(self, account: str, symbol: str) -> list[tuple[int, str, Decimal, Decimal]]:
        """(order_id, side, price, remaining quantity) of the account's resting orders."""

    def subscribe_trades(self, callback: Callable[[Trade], None]) -> None:
        """Every trade, as it happens (the model uses aggressive volume for permanent impact)."""

    def tick_size(self, symbol: str) -> Decimal: ...

    def step_size(self, symbol: str) -> Decimal: ...

"""What the order manager needs from its neighbours, as narrow protocols.

The OMS is wired (``fixgw.oms.service``) to H4's market-data hub, router and ccxt venue
adapters, H5's schedulers and TCA, H8's risk engine and drop-copy router. Naming only what it
uses keeps the manager testable piece by piece and makes each dependency visible.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from fixgw.algo.types import Instrument, MarketSnapshot
from fixgw.marketdata.consolidated import ConsolidatedBook


class MarketView(Protocol):
    def symbols(self) -> set[str]:
        """Every symbol (ccxt unified) listed by at least one enabled venue."""

    def book(self, symbol: str) -> ConsolidatedBook | None:
        """The consolidated book of fresh venue books, or None without any market data."""

    def snapshot(self, symbol: str, now: float) -> MarketSnapshot:
        """What the algo schedulers see (touch, traded volume, volatility)."""

    def instrument(self, symbol: str) -> Instrument:
        """Tick and lot sizes (the strictest across venues)."""

    def balances(self, venue: str, symbol: str | None = None) -> dict[str, Decimal] | None:
        """The venue account's last known free balances (None: unknown)."""

"""Venue-neutral trading vocabulary shared by the OMS, algos, router and venue adapters.

Values of the enums are the FIX 4.4 wire values, so conversion at the FIX edge is trivial,
but nothing here depends on FIX. Money is always :class:`decimal.Decimal`.
"""
from __future__ import annotations

from decimal import Decimal
from enum import Enum

ZERO = Decimal(0)


class Side(str, Enum):
    BUY = "1"
    SELL = "2"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    @property
    def ccxt(self) -> str:
        return "buy" if self is Side.BUY else "sell"


class OrdType(str, Enum):
    MARKET = "1"
    LIMIT = "2"


class TimeInForce(str, Enum):
    DAY = "0"
    GTC = "1"
    IOC = "3"
    FOK = "4"
    GTD = "6"


class OrdStatus(str, Enum):
    NEW = "0"
    PARTIALLY_FILLED = "1"
    FILLED = "2"
    DONE_FOR_DAY = "3"
    CANCELED = "4"
    REPLACED = "5"
    PENDING_CANCEL = "6"
    REJECTED = "8"
    PENDING_NEW = "A"
    EXPIRED = "C"
    PENDING_REPLACE = "E"


class ExecType(str, Enum):
    NEW = "0"
    DONE_FOR_DAY = "3"
    CANCELED = "4"
    REPLACED = "5"
    PENDING_CANCEL = "6"
    REJECTED = "8"
    PENDING_NEW = "A"
    EXPIRED = "C"
    PENDING_REPLACE = "E"
    TRADE = "F"
    ORDER_STATUS = "I"


class Strategy(str, Enum):
    """TargetStrategy(847) values used by fixgw (see DESIGN.md)."""

    DMA = "0"  # absent on the wire: routed directly by the SOR
    VWAP = "1"
    POV = "2"
    TWAP = "1001"
    ICEBERG = "1002"
    ARRIVAL = "1003"


class Urgency(str, Enum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"

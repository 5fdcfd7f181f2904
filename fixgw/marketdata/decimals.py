"""The one place where numbers coming out of ccxt become Decimal.

ccxt's websocket order books (and, unless told otherwise, its unified structures) hold Python
floats. A float parsed from a short decimal string on the wire ("65000.1", "0.00012") converts
back exactly through ``repr`` (shortest round-trip repr, exact for up to 15 significant
digits, far more than any price or size a venue publishes), so ``Decimal(repr(x))`` recovers
the venue's own decimal value. No arithmetic is ever done on the float.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any


def to_decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, str):
        return Decimal(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    raise TypeError(f"not a number: {value!r}")


def to_decimal_or_none(value: Any) -> Decimal | None:
    return None if value is None or value == "" else to_decimal(value)

"""The one place where numbers coming out of ccxt become Decimal.

ccxt's websocket order books (and, unless told otherwise, its unified structures) hold Python
floats. A float parsed from a short decimal string on the wire ("65000.1", "0.00012") converts
back exactly through ``repr`` (shortest round-trip repr, exact for up to 15 significant
digits, far more than any price or size a venue publishes), so ``Decimal(repr(x))`` recovers
the venue's own decimal value. No arithmetic is ever done on the float.

NaN and infinities (a misbehaving venue, a parse of garbage) are refused with ValueError: a
Decimal NaN raises on every comparison, far from where it entered.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any


def to_decimal(value: Any) -> Decimal:
    """``value`` as an exact finite Decimal; ValueError naming the value otherwise."""
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, str):
        try:
            d = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"not a number: {value!r}") from None
    elif isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    elif isinstance(value, float):
        d = Decimal(repr(value))
    else:
        raise ValueError(f"not a number: {value!r}")
    if not d.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return d


def to_decimal_or_none(value: Any) -> Decimal | None:
    return None if value is None or value == "" else to_decimal(value)

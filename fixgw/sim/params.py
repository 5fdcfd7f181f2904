"""Request parameters as Binance validates them, shared by REST and the websocket API."""
from __future__ import annotations

import re
from decimal import Decimal
from dataclasses import dataclass
from typing import Any, Callable

from . import errors as E

# Binance's grammar for prices and quantities: no sign, no exponent, no NaN; it also keeps
# Decimal arithmetic bounded.
DECIMAL_PARAM = re.compile(r"^[0-9]{1,20}(\.[0-9]{1,20})?$")


def decode_body(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise E.BinanceError(-1100, "Illegal characters found in a parameter.") from None


def text(v: Any) -> str:
    """A JSON value as it appears in a signed query string."""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


class Params:
    """Request parameters with Binance-style validation errors naming the parameter."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, name: str, default: str | None = None) -> str | None:
        v = self.values.get(name)
        return default if v in (None, "") else v

    def req(self, name: str) -> str:
        v = self.get(name)
        if v is None:
            raise E.mandatory_param(name)
        return v

    def dec(self, name: str) -> Decimal | None:
        """Binance accepts ``^[0-9]{1,20}(\\.[0-9]{1,20})?$`` for prices and quantities: no sign,
        no exponent, no NaN, which also keeps Decimal arithmetic bounded."""
        v = self.get(name)
        if v is None:
            return None
        if not DECIMAL_PARAM.match(v):
            raise E.illegal_param(name)
        return Decimal(v)

    def int(self, name: str, default: int | None = None) -> int | None:
        v = self.get(name)
        if v is None:
            return default
        try:
            return int(v)
        except ValueError:
            raise E.illegal_param(name) from None

    def bool(self, name: str) -> bool:
        return (self.get(name) or "false").lower() == "true"


Handler = Callable[[Params, str | None], Any]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    weight: int = 1
    signed: bool = False
    orders: int = 0
    key_only: bool = False      # API key header, no signature (listenKey)
    weight_by: Callable[[Params], int] | None = None   # weight that depends on parameters

    def weight_for(self, params: Params) -> int:
        if self.weight_by is None:
            return self.weight
        try:
            return self.weight_by(params)
        except E.BinanceError:
            return self.weight      # malformed parameters are reported by the handler


def spot_depth_weight(p: Params) -> int:
    limit = p.int("limit", 100) or 100
    return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250


def futures_depth_weight(p: Params) -> int:
    limit = p.int("limit", 500) or 500
    return 2 if limit <= 50 else 5 if limit <= 100 else 10 if limit <= 500 else 20

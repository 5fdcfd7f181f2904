"""What one simulated venue is: a frozen description built once from config.

A venue serves spot symbols and USD-M perpetuals from one base URL. Each market has an
internal ``market_id`` (unique within the venue) and the ``symbol`` it has on the wire: spot
BTCUSDT is ``market_id="BTCUSDT"``; the BTCUSDT perpetual is ``market_id="BTCUSDT_PERP"`` and
``symbol="BTCUSDT"`` on /fapi, exactly as Binance names both ``BTCUSDT``.

Credentials of the demo account are generated at random unless named environment variables
hold them; they are excluded from ``repr`` so that logging a spec never leaks them.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from decimal import Decimal, ROUND_HALF_EVEN
from typing import Any, Mapping

SPOT = "spot"
PERP = "perp"
PERP_SUFFIX = "_PERP"


@dataclass(frozen=True)
class SymbolSpec:
    market_id: str                 # unique in the venue: "BTCUSDT", "BTCUSDT_PERP"
    symbol: str                    # on the wire: "BTCUSDT"
    base: str
    quote: str
    kind: str                      # SPOT | PERP
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_notional: Decimal
    initial_price: Decimal
    min_price: Decimal = Decimal("0.01")
    max_price: Decimal = Decimal("1000000")
    seed_levels: int = 20          # static house ladder when no market model runs
    seed_level_qty: Decimal = Decimal("0.5")
    seed_spacing_bps: Decimal = Decimal("2")
    max_leverage: int = 125

    @property
    def is_perp(self) -> bool:
        return self.kind == PERP

    def round_price(self, price: Decimal) -> Decimal:
        return (price / self.tick_size).to_integral_value(ROUND_HALF_EVEN) * self.tick_size


@dataclass(frozen=True)
class RateLimitSpec:
    """Binance's spot limits by default. ``violations_before_ban`` 429s inside one minute
    window turn into a 418 ban of ``ban_seconds``."""

    weight_per_minute: int = 6000
    orders_per_10s: int = 100
    orders_per_day: int = 200_000
    violations_before_ban: int = 3
    ban_seconds: int = 120


@dataclass(frozen=True)
class VenueSpec:
    name: str
    symbols: tuple[SymbolSpec, ...]
    host: str = "127.0.0.1"
    port: int = 0
    api_key: str = field(default_factory=lambda: secrets.token_hex(32), repr=False)
    api_secret: str = field(default_factory=lambda: secrets.token_hex(32), repr=False)
    maker_fee: Decimal = Decimal("0.001")          # spot, fraction of notional
    taker_fee: Decimal = Decimal("0.001")
    futures_maker_fee: Decimal = Decimal("0.0002")
    futures_taker_fee: Decimal = Decimal("0.0005")
    request_latency_ms: float = 0.0                # added to every REST / ws-api request
    stream_latency_ms: float = 0.0                 # added to every websocket stream message
    price_offset_bps: Decimal = Decimal("0")       # this venue's small premium/discount
    spot_balances: Mapping[str, Decimal] = field(default_factory=lambda: {
        "USDT": Decimal("100000"), "BTC": Decimal("2"), "ETH": Decimal("20")})
    futures_balances: Mapping[str, Decimal] = field(default_factory=lambda: {"USDT": Decimal("50000")})
    rate_limits: RateLimitSpec = field(default_factory=RateLimitSpec)
    depth_interval_ms: float = 100.0               # depth diff cadence (stream name's rate is accepted as is)
    ticker_interval_ms: float = 1000.0
    funding_interval_s: float = 8 * 3600.0
    default_leverage: int = 20
    recv_window_max_ms: int = 60_000
    seed_book: bool = True                         # house ladder when no model_factory is given
    market: Mapping[str, Any] = field(default_factory=dict)   # passed through to the market model
    secret_env: str | None = None   # the variable api_secret came from: then never printed


    def symbol_spec(self, market_id: str) -> SymbolSpec:
        for s in self.symbols:
            if s.market_id == market_id:
                return s
        raise KeyError(market_id)

    def reference_price(self, market_id: str) -> Decimal:
        """Initial price with this venue's offset applied, on the tick grid."""
        s = self.symbol_spec(market_id)
        return s.round_price(s.initial_price * (1 + self.price_offset_bps / Decimal(10_000)))

    def with_port(self, port: int) -> "VenueSpec":
        return replace(self, port=port)


def default_symbols() -> tuple[SymbolSpec, ...]:
    return (
        SymbolSpec("BTCUSDT", "BTCUSDT", "BTC", "USDT", SPOT, tick_size=Decimal("0.01"),
                   step_size=Decimal("0.00001"), min_qty=Decimal("0.00001"), max_qty=Decimal("9000"),
                   min_notional=Decimal("5"), initial_price=Decimal("60000")),
        SymbolSpec("ETHUSDT", "ETHUSDT", "ETH", "USDT", SPOT, tick_size=Decimal("0.01"),
                   step_size=Decimal("0.0001"), min_qty=Decimal("0.0001"), max_qty=Decimal("9000"),
                   min_notional=Decimal("5"), initial_price=Decimal("3000"), seed_level_qty=Decimal("5")),
        SymbolSpec("BTCUSDT" + PERP_SUFFIX, "BTCUSDT", "BTC", "USDT", PERP, tick_size=Decimal("0.10"),
                   step_size=Decimal("0.001"), min_qty=Decimal("0.001"), max_qty=Decimal("1000"),
                   min_notional=Decimal("100"), initial_price=Decimal("60000"), min_price=Decimal("0.10")),
    )


def _dec(value: Any, where: str) -> Decimal:
    try:
        if isinstance(value, float):
            value = repr(value)
        return Decimal(str(value))
    except Exception as exc:  # noqa: BLE001 - re-raised with the field name
        raise ValueError(f"{where}: not a decimal number: {value!r}") from exc


_SYMBOL_DECIMALS = ("tick_size", "step_size", "min_qty", "max_qty", "min_notional", "initial_price",
                    "min_price", "max_price", "seed_level_qty", "seed_spacing_bps")


def symbol_from_dict(d: Mapping[str, Any], where: str) -> SymbolSpec:
    d = dict(d)
    kind = d.setdefault("kind", SPOT)
    if kind not in (SPOT, PERP):
        raise ValueError(f"{where}.kind: must be 'spot' or 'perp', got {kind!r}")
    if "symbol" not in d:
        raise ValueError(f"{where}.symbol: missing")
    d.setdefault("market_id", d["symbol"] + (PERP_SUFFIX if kind == PERP else ""))
    for k in _SYMBOL_DECIMALS:
        if k in d:
            d[k] = _dec(d[k], f"{where}.{k}")
    for k in ("base", "quote", "tick_size", "step_size", "min_qty", "max_qty", "min_notional", "initial_price"):
        if k not in d:
            raise ValueError(f"{where}.{k}: missing")
    known = set(SymbolSpec.__dataclass_fields__)
    unknown = set(d) - known
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    return SymbolSpec(**d)


def venue_from_dict(d: Mapping[str, Any], env: Mapping[str, str] | None = None,
                    where: str = "venue") -> VenueSpec:
    """Build a VenueSpec from a config mapping (YAML). Decimals may be given as strings or
    numbers. Secrets are never read from the mapping itself: ``api_key_env`` /
    ``api_secret_env`` name environment variables; without them credentials are generated."""
    env = os.environ if env is None else env
    d = dict(d)
    if "api_key" in d or "api_secret" in d:
        raise ValueError(f"{where}: put credentials in environment variables (api_key_env / api_secret_env), not in config")
    kwargs: dict[str, Any] = {}
    if "name" not in d:
        raise ValueError(f"{where}.name: missing")
    kwargs["name"] = str(d.pop("name"))
    syms = d.pop("symbols", None)
    kwargs["symbols"] = default_symbols() if syms is None else tuple(
        symbol_from_dict(s, f"{where}.symbols[{i}]") for i, s in enumerate(syms))
    for k in ("api_key_env", "api_secret_env"):
        var = d.pop(k, None)
        if var is not None:
            if var not in env:
                raise ValueError(f"{where}.{k}: environment variable {var} is not set")
            kwargs[k[:-4]] = env[var]
            if k == "api_secret_env":
                kwargs["secret_env"] = str(var)
    for k in ("maker_fee", "taker_fee", "futures_maker_fee", "futures_taker_fee", "price_offset_bps"):
        if k in d:
            kwargs[k] = _dec(d.pop(k), f"{where}.{k}")
    for k in ("spot_balances", "futures_balances"):
        if k in d:
            kwargs[k] = {str(a): _dec(v, f"{where}.{k}.{a}") for a, v in dict(d.pop(k)).items()}
    if "rate_limits" in d:
        rl = dict(d.pop("rate_limits"))
        unknown = set(rl) - set(RateLimitSpec.__dataclass_fields__)
        if unknown:
            raise ValueError(f"{where}.rate_limits: unknown keys {sorted(unknown)}")
        kwargs["rate_limits"] = RateLimitSpec(**{k: int(v) for k, v in rl.items()})
    for k in ("host",):
        if k in d:
            kwargs[k] = str(d.pop(k))
    for k in ("port", "default_leverage", "recv_window_max_ms"):
        if k in d:
            kwargs[k] = int(d.pop(k))
    for k in ("request_latency_ms", "stream_latency_ms", "depth_interval_ms", "ticker_interval_ms", "funding_interval_s"):
        if k in d:
            kwargs[k] = float(d.pop(k))
    if "seed_book" in d:
        kwargs["seed_book"] = bool(d.pop("seed_book"))
    if "market" in d:
        kwargs["market"] = dict(d.pop("market") or {})
    if d:
        raise ValueError(f"{where}: unknown keys {sorted(d)}")
    return VenueSpec(**kwargs)

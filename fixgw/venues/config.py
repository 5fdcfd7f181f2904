"""Venue configuration: YAML mapping -> frozen :class:`VenueConfig`, validated once.

Credentials never live in the YAML: the config names environment variables
(``api_key_env``/``secret_env``) or a secrets file (``secrets_file``, a YAML/JSON mapping
with ``api_key`` and ``secret``), and :func:`load_credentials` reads them when the adapter
connects. ``repr()`` of :class:`Credentials` hides the values so they cannot reach a log.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Mapping

from fixgw.venues.base import VenueFees
from fixgw.venues.ratelimit import BINANCE_SPOT_LIMITS, BINANCE_USDM_LIMITS, RateLimits

# ccxt exchange id that serves the linear perpetuals of a spot exchange id
LINEAR_EXCHANGE_IDS = {"binance": "binanceusdm"}


class VenueConfigError(ValueError):
    """A venue's config is wrong; the message names the venue, the field and the value."""


@dataclass(frozen=True, slots=True)
class Credentials:
    api_key: str = field(repr=False)
    secret: str = field(repr=False)

    def __repr__(self) -> str:  # never print the values
        return "Credentials(api_key=***, secret=***)"


@dataclass(frozen=True, slots=True)
class VenueConfig:
    name: str                                  # our venue name: LastMkt(30), routing key
    exchange_id: str = "binance"               # ccxt id for spot markets
    linear_exchange_id: str | None = None      # ccxt id for linear perps (default from exchange_id)
    base_url: str | None = None                # simulated/self-hosted venue: http://HOST:PORT
    ws_url: str | None = None                  # defaults to base_url with ws:// scheme
    api_key_env: str | None = None
    secret_env: str | None = None
    secrets_file: str | None = None
    fees: VenueFees | None = None              # spot; None: fetched from the venue
    linear_fees: VenueFees | None = None       # perps; None: fetched from the venue
    symbols: tuple[str, ...] = ()              # unified ccxt symbols traded here
    rate_limits: RateLimits = BINANCE_SPOT_LIMITS
    linear_rate_limits: RateLimits = BINANCE_USDM_LIMITS
    order_transport: str = "rest"              # "rest" or "ws" (ws-api order.place, spot)
    timeout_ms: int = 10_000
    poll_interval_s: float = 0.5               # REST polling period while the stream is down
    stream_settle_s: float = 0.3               # a user stream alive this long counts as up
    stream_sweep_s: float = 0.05               # period of the ccxt cache sweep while a watch waits
    submit_retries: int = 2                    # retries of a submit on network errors

    @property
    def spot_symbols(self) -> tuple[str, ...]:
        return tuple(s for s in self.symbols if ":" not in s)

    @property
    def linear_symbols(self) -> tuple[str, ...]:
        return tuple(s for s in self.symbols if ":" in s)

    @property
    def linear_id(self) -> str | None:
        return self.linear_exchange_id or LINEAR_EXCHANGE_IDS.get(self.exchange_id)


_FIELDS = {"exchange", "exchange_id", "linear_exchange_id", "base_url", "ws_url", "api_key_env",
           "secret_env", "secrets_file", "fees", "linear_fees", "symbols", "rate_limits", "linear_rate_limits",
           "order_transport", "timeout_ms", "poll_interval_s", "stream_settle_s", "stream_sweep_s",
           "submit_retries"}
_SECRET_LOOKING = {"api_key", "apikey", "secret", "password", "key"}


def _dec(venue: str, name: str, value: Any) -> Decimal:
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise VenueConfigError(f"venue {venue}: {name} must be a decimal, got {value!r}") from None
    if not d.is_finite():
        raise VenueConfigError(f"venue {venue}: {name} must be finite, got {value!r}")
    return d


def _rate_limits(venue: str, name: str, value: Any, default: RateLimits) -> RateLimits:
    if value is None:
        return default
    if not isinstance(value, Mapping):
        raise VenueConfigError(f"venue {venue}: {name} must be a mapping, got {value!r}")
    known = {"request_weight_per_minute", "orders_per_10s", "orders_per_day", "max_wait_s"}
    unknown = set(value) - known
    if unknown:
        raise VenueConfigError(f"venue {venue}: {name}: unknown keys {sorted(unknown)}")
    kwargs = {}
    for k, v in value.items():
        try:
            kwargs[k] = float(v)
        except (TypeError, ValueError):
            raise VenueConfigError(f"venue {venue}: {name}.{k} must be a number, got {v!r}") from None
        if not math.isfinite(kwargs[k]) or kwargs[k] <= 0:
            raise VenueConfigError(f"venue {venue}: {name}.{k} must be > 0, got {v!r}")
    return RateLimits(**{**{f: getattr(default, f) for f in known}, **kwargs})


def _whole(venue: str, key: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise VenueConfigError(f"venue {venue}: {key} must be an integer >= {minimum}, got {value!r}")
    return value


def _seconds(venue: str, key: str, value: Any, zero_ok: bool) -> float:
    """A duration: finite, > 0 (or >= 0 when ``zero_ok``); a 0 poll period would spin."""
    try:
        v = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        v = math.nan
    if not math.isfinite(v) or v < 0 or (v == 0 and not zero_ok):
        raise VenueConfigError(f"venue {venue}: {key} must be a number of seconds "
                               f"{'>= 0' if zero_ok else '> 0'}, got {value!r}")
    return v


def _fees(venue: str, key: str, f: Any) -> VenueFees | None:
    if f is None:
        return None
    if not isinstance(f, Mapping) or set(f) != {"maker", "taker"}:
        raise VenueConfigError(f"venue {venue}: {key} must be {{maker: x, taker: y}}, got {f!r}")
    fees = VenueFees(maker=_dec(venue, f"{key}.maker", f["maker"]), taker=_dec(venue, f"{key}.taker", f["taker"]))
    if fees.taker < 0 or fees.taker >= 1 or fees.maker <= -1 or fees.maker >= 1:
        raise VenueConfigError(f"venue {venue}: {key} out of range: {f!r}")
    return fees


def venue_config_from_mapping(name: str, raw: Mapping[str, Any]) -> VenueConfig:
    """Validate one ``venues:`` entry. Errors name the venue, the field and the bad value
    (except for secret-looking fields, whose value is never echoed)."""
    if not isinstance(raw, Mapping):
        raise VenueConfigError(f"venue {name}: must be a mapping, got {type(raw).__name__}")
    secretish = _SECRET_LOOKING & {k.lower() for k in raw}
    if secretish:
        raise VenueConfigError(f"venue {name}: credentials must not be in the config "
                               f"(found {sorted(secretish)}); use api_key_env/secret_env or secrets_file")
    unknown = set(raw) - _FIELDS
    if unknown:
        raise VenueConfigError(f"venue {name}: unknown keys {sorted(unknown)}")
    fees = _fees(name, "fees", raw.get("fees"))
    linear_fees = _fees(name, "linear_fees", raw.get("linear_fees"))
    symbols = raw.get("symbols", ())
    if isinstance(symbols, str) or not all(isinstance(s, str) and "/" in s for s in symbols):
        raise VenueConfigError(f"venue {name}: symbols must be a list like [BTC/USDT, BTC/USDT:USDT], got {symbols!r}")
    transport = raw.get("order_transport", "rest")
    if transport not in ("rest", "ws"):
        raise VenueConfigError(f"venue {name}: order_transport must be rest or ws, got {transport!r}")
    base_url = raw.get("base_url")
    if base_url is not None and not str(base_url).startswith(("http://", "https://")):
        raise VenueConfigError(f"venue {name}: base_url must start with http:// or https://, got {base_url!r}")
    ws_url = raw.get("ws_url")
    if ws_url is not None and not str(ws_url).startswith(("ws://", "wss://")):
        raise VenueConfigError(f"venue {name}: ws_url must start with ws:// or wss://, got {ws_url!r}")
    timeout_ms = _whole(name, "timeout_ms", raw.get("timeout_ms", 10_000), minimum=1)
    submit_retries = _whole(name, "submit_retries", raw.get("submit_retries", 2), minimum=0)
    poll_interval_s = _seconds(name, "poll_interval_s", raw.get("poll_interval_s", 0.5), zero_ok=False)
    stream_settle_s = _seconds(name, "stream_settle_s", raw.get("stream_settle_s", 0.3), zero_ok=True)
    stream_sweep_s = _seconds(name, "stream_sweep_s", raw.get("stream_sweep_s", 0.05), zero_ok=False)
    try:
        cfg = VenueConfig(
            name=name,
            exchange_id=str(raw.get("exchange_id", raw.get("exchange", "binance"))),
            linear_exchange_id=raw.get("linear_exchange_id"),
            base_url=base_url.rstrip("/") if base_url else None,
            ws_url=ws_url.rstrip("/") if ws_url else None,
            api_key_env=raw.get("api_key_env"),
            secret_env=raw.get("secret_env"),
            secrets_file=raw.get("secrets_file"),
            fees=fees,
            linear_fees=linear_fees,
            symbols=tuple(symbols),
            rate_limits=_rate_limits(name, "rate_limits", raw.get("rate_limits"), BINANCE_SPOT_LIMITS),
            linear_rate_limits=_rate_limits(name, "linear_rate_limits", raw.get("linear_rate_limits"),
                                            BINANCE_USDM_LIMITS),
            order_transport=transport,
            timeout_ms=timeout_ms,
            poll_interval_s=poll_interval_s,
            stream_settle_s=stream_settle_s,
            stream_sweep_s=stream_sweep_s,
            submit_retries=submit_retries,
        )
    except (TypeError, ValueError) as exc:
        raise VenueConfigError(f"venue {name}: {exc}") from None
    return cfg


def venue_configs_from_mapping(raw: Mapping[str, Any]) -> dict[str, VenueConfig]:
    """The ``venues:`` section: ``{name: {...}}``."""
    if not isinstance(raw, Mapping) or not raw:
        raise VenueConfigError(f"venues: must be a non-empty mapping of name -> venue, got {raw!r}")
    return {str(name): venue_config_from_mapping(str(name), body) for name, body in raw.items()}


def load_credentials(cfg: VenueConfig, environ: Mapping[str, str] | None = None) -> Credentials | None:
    """Read the venue's API key and secret; None when the config names no credentials.

    Raises VenueConfigError naming the variable or file (never the value) when missing.
    """
    environ = os.environ if environ is None else environ
    if cfg.secrets_file:
        path = Path(cfg.secrets_file).expanduser()
        try:
            text = path.read_text()
        except OSError as exc:
            raise VenueConfigError(f"venue {cfg.name}: cannot read secrets_file {str(path)!r}: "
                                   f"{exc.strerror}") from None
        data = _parse_secrets(text)
        if not isinstance(data, Mapping) or not data.get("api_key") or not data.get("secret"):
            raise VenueConfigError(f"venue {cfg.name}: secrets_file {str(path)!r} must hold "
                                   "api_key and secret")
        return Credentials(str(data["api_key"]), str(data["secret"]))
    if cfg.api_key_env or cfg.secret_env:
        missing = [v for v in (cfg.api_key_env, cfg.secret_env) if not v or not environ.get(v)]
        if missing:
            raise VenueConfigError(f"venue {cfg.name}: environment variable(s) {missing} not set "
                                   "(api_key_env and secret_env are both required)")
        return Credentials(environ[cfg.api_key_env], environ[cfg.secret_env])
    return None


def _parse_secrets(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        import yaml
        return yaml.safe_load(text)
    except Exception:
        return None

"""Gateway-level configuration (venues, risk, algos, OMS options, state directory).

The session layer reads its own part of the YAML (``sessions:``, listener; see docs/session.md);
this module turns the rest of the same document into frozen dataclasses, validated once at
start-up. Every error names the file and the key path (``venues.alpha.fees.taker``) and says
what was expected, so a typo never surfaces later as a stack trace on the order path.
Secrets are never values in the YAML: a venue names the environment variables or the file
that hold its API key and secret.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Mapping

import yaml

DEFAULT_CONFIG = Path("sessions/default.yaml")


class ConfigError(ValueError):
    def __init__(self, source: Path | str, key: str, problem: str):
        super().__init__(f"{source}: {key}: {problem}")
        self.source = source
        self.key = key
        self.problem = problem


@dataclass(frozen=True)
class FeeConfig:
    maker: Decimal
    taker: Decimal


@dataclass(frozen=True)
class VenueConfig:
    name: str                       # our name for it; shows as LastMkt(30)
    exchange: str                   # ccxt exchange id (binance, binanceusdm, ...)
    simulated: bool = False         # an embedded venue started by the sim launcher
    enabled: bool = True            # excluded from routing when False
    fees: FeeConfig | None = None   # None: from the venue (ccxt markets)
    api_key_env: str | None = None
    secret_env: str | None = None
    secrets_file: Path | None = None
    symbols: tuple[str, ...] = ()   # () = every symbol the venue lists
    options: Mapping[str, Any] = field(default_factory=dict)  # passed to the adapter


@dataclass(frozen=True)
class OmsConfig:
    child_id_prefix: str = "fx"
    cancel_timeout_s: float = 10.0
    reconcile_on_start: bool = True
    default_account: str | None = None


@dataclass(frozen=True)
class GatewayConfig:
    source: Path
    state_dir: Path
    venues: tuple[VenueConfig, ...]
    oms: OmsConfig
    risk: Mapping[str, Any]          # validated by fixgw.oms.risk (H8)
    algos: Mapping[str, Any]         # validated by fixgw.algo
    simulator: Mapping[str, Any]     # passed to the sim launcher for simulated venues
    raw: Mapping[str, Any]

    def venue(self, name: str) -> VenueConfig:
        for v in self.venues:
            if v.name == name:
                return v
        raise KeyError(name)


def load_yaml(path: Path | str) -> Mapping[str, Any]:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(path, "<file>", f"cannot read: {e.strerror}") from None
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise ConfigError(path, "<yaml>", str(e).replace("\n", " ")) from None
    if not isinstance(doc, dict):
        raise ConfigError(path, "<root>", "expected a mapping at the top level")
    return doc


def parse_gateway_config(doc: Mapping[str, Any], source: Path | str,
                         state_dir: Path | None = None) -> GatewayConfig:
    source = Path(source)
    r = _Reader(source)
    sd = state_dir or Path(r.text(doc, "state_dir", default="var"))
    venues_doc = r.mapping(doc, "venues", default={})
    venues = tuple(_venue(r, name, body) for name, body in venues_doc.items())
    oms_doc = r.mapping(doc, "oms", default={})
    prefix = r.text(oms_doc, "oms.child_id_prefix", default="fx")
    if not prefix.isalnum() or len(prefix) > 8:
        raise ConfigError(source, "oms.child_id_prefix",
                          f"'{prefix}' must be 1-8 letters/digits (venues limit client ids)")
    oms = OmsConfig(
        child_id_prefix=prefix,
        cancel_timeout_s=r.number(oms_doc, "oms.cancel_timeout_s", default=10.0),
        reconcile_on_start=r.flag(oms_doc, "oms.reconcile_on_start", default=True),
        default_account=r.text(oms_doc, "oms.default_account", default=None))
    return GatewayConfig(
        source=source, state_dir=sd, venues=venues, oms=oms,
        risk=r.mapping(doc, "risk", default={}), algos=r.mapping(doc, "algos", default={}),
        simulator=r.mapping(doc, "simulator", default={}), raw=doc)


def load_gateway_config(path: Path | str, state_dir: Path | None = None) -> GatewayConfig:
    return parse_gateway_config(load_yaml(path), path, state_dir)


def _venue(r: "_Reader", name: Any, body: Any) -> VenueConfig:
    key = f"venues.{name}"
    if not isinstance(name, str) or not name or not name.replace("_", "").replace("-", "").isalnum():
        raise ConfigError(r.source, key, "venue names must be letters, digits, '-' or '_'")
    if not isinstance(body, dict):
        raise ConfigError(r.source, key, "expected a mapping")
    known = {"exchange", "simulated", "enabled", "fees", "api_key_env", "secret_env",
             "secrets_file", "symbols", "options"}
    for k in body:
        if k not in known:
            raise ConfigError(r.source, f"{key}.{k}",
                              f"unknown key (known: {', '.join(sorted(known))})")
    for secret_key in ("api_key", "secret", "password"):
        if secret_key in body:
            raise ConfigError(r.source, f"{key}.{secret_key}",
                              "secrets never go in YAML: use api_key_env/secret_env or "
                              "secrets_file")
    fees = None
    if "fees" in body:
        fees_doc = r.mapping(body, f"{key}.fees", inner="fees")
        fees = FeeConfig(maker=r.decimal(fees_doc, f"{key}.fees.maker", inner="maker"),
                         taker=r.decimal(fees_doc, f"{key}.fees.taker", inner="taker"))
    symbols = body.get("symbols", [])
    if not isinstance(symbols, list) or not all(isinstance(s, str) and "/" in s for s in symbols):
        raise ConfigError(r.source, f"{key}.symbols",
                          "expected a list of ccxt symbols like 'BTC/USDT'")
    secrets_file = body.get("secrets_file")
    return VenueConfig(
        name=name, exchange=r.text(body, f"{key}.exchange", inner="exchange",
                                  default="binance"),
        simulated=r.flag(body, f"{key}.simulated", inner="simulated", default=False),
        enabled=r.flag(body, f"{key}.enabled", inner="enabled", default=True),
        fees=fees, api_key_env=r.text(body, f"{key}.api_key_env", inner="api_key_env",
                                     default=None),
        secret_env=r.text(body, f"{key}.secret_env", inner="secret_env", default=None),
        secrets_file=Path(secrets_file) if secrets_file else None,
        symbols=tuple(symbols), options=r.mapping(body, f"{key}.options", inner="options",
                                                  default={}))


class _Reader:
    """Typed getters that raise ConfigError naming the file and the key path."""

    _MISSING = object()

    def __init__(self, source: Path):
        self.source = source

    def _get(self, doc: Mapping, key: str, inner: str | None, default: Any) -> Any:
        k = inner or key.rsplit(".", 1)[-1]
        if k in doc and doc[k] is not None:
            return doc[k]
        if default is self._MISSING:
            raise ConfigError(self.source, key, "required")
        return default

    def text(self, doc, key, *, inner=None, default=_MISSING):
        v = self._get(doc, key, inner, default)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, (str, int)):
            raise ConfigError(self.source, key, f"expected text, got {type(v).__name__}")
        return str(v)

    def flag(self, doc, key, *, inner=None, default=_MISSING):
        v = self._get(doc, key, inner, default)
        if not isinstance(v, bool):
            raise ConfigError(self.source, key, f"expected true or false, got '{v}'")
        return v

    def number(self, doc, key, *, inner=None, default=_MISSING):
        v = self._get(doc, key, inner, default)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ConfigError(self.source, key, f"expected a number, got '{v}'")
        return float(v)

    def decimal(self, doc, key, *, inner=None, default=_MISSING) -> Decimal:
        v = self._get(doc, key, inner, default)
        if isinstance(v, bool):
            raise ConfigError(self.source, key, f"expected a decimal number, got '{v}'")
        try:
            # quoted strings stay exact; bare YAML floats go through their shortest repr
            d = Decimal(v if isinstance(v, (str, int)) else repr(v))
        except (InvalidOperation, TypeError):
            raise ConfigError(self.source, key, f"expected a decimal number, got '{v}'") from None
        if not d.is_finite():
            raise ConfigError(self.source, key, f"expected a finite number, got '{v}'")
        return d

    def mapping(self, doc, key, *, inner=None, default=_MISSING) -> Mapping[str, Any]:
        v = self._get(doc, key, inner, default)
        if not isinstance(v, dict):
            raise ConfigError(self.source, key, f"expected a mapping, got {type(v).__name__}")
        return v

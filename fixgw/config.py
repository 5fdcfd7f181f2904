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
class OmsConfig:
    child_id_prefix: str = "fx"
    cancel_timeout_s: float = 10.0
    reconcile_on_start: bool = True
    default_account: str | None = None
    mass_cancel_all_engages_kill_switch: bool = True   # 530=7 is the kill switch (issue 6)
    # a finished order (and its children) leaves memory this long after its last activity;
    # it is answered from the journal afterwards (docs/oms-retention.md)
    retain_terminal_orders_s: float = 300.0
    retention_sweep_s: float = 5.0                     # how often the sweep looks


@dataclass(frozen=True)
class GatewayConfig:
    source: Path
    state_dir: Path
    venues: Mapping[str, Mapping[str, Any]]   # name -> section, validated by fixgw.venues.config
    oms: OmsConfig
    risk: Mapping[str, Any]          # validated by fixgw.oms.risk_config (H8)
    algos: Mapping[str, Any]         # fixgw.algo settings
    simulator: Mapping[str, Any]     # how to run the venues marked ``simulated``
    market_data: Mapping[str, Any]   # MarketDataConfig keyword arguments
    admin_socket: bool = True        # the kill-switch channel <state_dir>/admin.sock
    routing_include: tuple[str, ...] | None = None   # venues the SOR may use (None: all)
    routing_exclude: tuple[str, ...] = ()             # venues it must not (market data only)
    raw: Mapping[str, Any] = field(default_factory=dict)
    algo: Any = None                 # fixgw.algo.config.AlgoConfig parsed from ``algos``

    @property
    def simulated_venues(self) -> tuple[str, ...]:
        return tuple(n for n, v in self.venues.items()
                     if v.get("simulated") and v.get("enabled", True) is not False)

    @property
    def simulator_config_path(self) -> Path | None:
        """The simulator's venues file (relative paths are relative to the gateway YAML)."""
        p = self.simulator.get("config")
        if not p:
            return None
        p = Path(p)
        return p if p.is_absolute() else self.source.parent / p


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
    venues = {}
    for name, body in venues_doc.items():
        key = f"venues.{name}"
        if not isinstance(body, dict):
            raise ConfigError(source, key, "expected a mapping")
        for secret_key in ("api_key", "apikey", "secret", "password"):
            if secret_key in body:
                raise ConfigError(source, f"{key}.{secret_key}",
                                  "secrets never go in YAML: use api_key_env/secret_env or "
                                  "secrets_file")
        r.flag(body, f"{key}.simulated", inner="simulated", default=False)
        r.flag(body, f"{key}.enabled", inner="enabled", default=True)
        _check_venue(source, str(name), body)
        venues[str(name)] = dict(body)
    oms_doc = r.mapping(doc, "oms", default={})
    known_oms = {"child_id_prefix", "cancel_timeout_s", "reconcile_on_start", "default_account",
                 "mass_cancel_all_engages_kill_switch", "retain_terminal_orders_s",
                 "retention_sweep_s"}
    for k in oms_doc:
        if k not in known_oms:
            raise ConfigError(source, f"oms.{k}", f"unknown key (known: {', '.join(sorted(known_oms))})")
    prefix = r.text(oms_doc, "oms.child_id_prefix", default="fx")
    if not prefix.isalnum() or len(prefix) > 8:
        raise ConfigError(source, "oms.child_id_prefix",
                          f"'{prefix}' must be 1-8 letters/digits (venues limit client ids)")
    retain = r.number(oms_doc, "oms.retain_terminal_orders_s", default=300.0)
    if not 0 <= retain < float("inf"):
        raise ConfigError(source, "oms.retain_terminal_orders_s",
                          f"{retain} must be a finite number of seconds >= 0")
    sweep = r.number(oms_doc, "oms.retention_sweep_s", default=5.0)
    if not 0 < sweep <= 3600:
        raise ConfigError(source, "oms.retention_sweep_s",
                          f"{sweep} must be above 0 and at most 3600 seconds")
    oms = OmsConfig(
        child_id_prefix=prefix,
        retain_terminal_orders_s=retain, retention_sweep_s=sweep,
        cancel_timeout_s=r.number(oms_doc, "oms.cancel_timeout_s", default=10.0),
        reconcile_on_start=r.flag(oms_doc, "oms.reconcile_on_start", default=True),
        default_account=r.text(oms_doc, "oms.default_account", default=None),
        mass_cancel_all_engages_kill_switch=r.flag(
            oms_doc, "oms.mass_cancel_all_engages_kill_switch", default=True))
    routing = r.mapping(doc, "routing", default={})
    for k in routing:
        if k not in ("include", "exclude"):
            raise ConfigError(source, f"routing.{k}", "unknown key (known: exclude, include)")
    include, exclude = routing.get("include"), routing.get("exclude") or []
    for k, names in (("include", include or []), ("exclude", exclude)):
        if not isinstance(names, list) or any(n not in venues for n in names):
            raise ConfigError(source, f"routing.{k}",
                              f"expected a list of configured venues ({', '.join(venues)}), "
                              f"got {names!r}")
    simulator = r.mapping(doc, "simulator", default={})
    mode = simulator.get("mode", "detached")
    if mode not in ("detached", "in-process"):
        raise ConfigError(source, "simulator.mode", f"'{mode}': expected detached or in-process")
    algos = r.mapping(doc, "algos", default={})
    algo = _algo_config(source, algos)
    return GatewayConfig(
        source=source, state_dir=sd, venues=venues, oms=oms, algo=algo,
        risk=r.mapping(doc, "risk", default={}), algos=r.mapping(doc, "algos", default={}),
        simulator=simulator, market_data=r.mapping(doc, "market_data", default={}),
        admin_socket=r.flag(doc, "admin_socket", default=True),
        routing_include=tuple(include) if include is not None else None,
        routing_exclude=tuple(exclude), raw=doc)


def _check_venue(source: Path, name: str, body: Mapping[str, Any]) -> None:
    """Validate a venue entry when the file is loaded, so that a typo is reported with the
    file's name at start-up, not when the adapters are built after the venues started."""
    from fixgw.venues.config import VenueConfigError, venue_config_from_mapping
    try:
        venue_config_from_mapping(name, {k: v for k, v in body.items()
                                         if k not in ("simulated", "enabled")})
    except VenueConfigError as e:
        problem = str(e).removeprefix(f"venue {name}: ")
        raise ConfigError(source, f"venues.{name}", problem) from None


def _algo_config(source: Path, algos: Mapping[str, Any]):
    """``algos:`` -> AlgoConfig (fixgw.algo.config). Settings are keys of ``algos`` itself;
    the older nested form ``algos: {settings: {...}}`` is still read (its keys merged in)."""
    from fixgw.algo.config import parse_algo_config
    flat = {k: v for k, v in algos.items() if k != "settings"}
    nested = algos.get("settings")
    if nested is not None:
        if not isinstance(nested, Mapping):
            raise ConfigError(source, "algos.settings", f"expected a mapping, got {nested!r}")
        for k, v in nested.items():
            if k in flat:
                raise ConfigError(source, f"algos.{k}", "given both here and in algos.settings")
            flat[k] = v
    try:
        return parse_algo_config(flat, "algos")
    except ValueError as e:
        key, _, problem = str(e).partition(": ")
        raise ConfigError(source, key, problem) from None


def load_gateway_config(path: Path | str, state_dir: Path | None = None) -> GatewayConfig:
    return parse_gateway_config(load_yaml(path), path, state_dir)


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

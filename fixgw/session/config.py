"""The session-layer part of the YAML config, validated once into frozen dataclasses.

Schema: docs/session.md. Every error names the file, the section and the key.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from fixgw.fix.validation import ValidationSettings
from fixgw.session.application import SessionID
from fixgw.session.auth import ConfigError, Credentials, load_credentials
from fixgw.session.schedule import Schedule, build_schedule

ROLES = ("order-entry", "drop-copy", "echo")

_VALIDATION_KEYS = {
    "fields_out_of_order", "fields_have_values", "user_defined_fields",
    "allow_unknown_message_fields",
}


@dataclass(frozen=True)
class TlsConfig:
    cert_file: Path
    key_file: Path
    client_ca_file: Path | None = None
    require_client_cert: bool = False


@dataclass(frozen=True)
class ListenConfig:
    host: str = "127.0.0.1"
    port: int = 9880
    tls: TlsConfig | None = None

    @property
    def loopback(self) -> bool:
        if self.host in ("localhost",):
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


@dataclass(frozen=True)
class Limits:
    max_message_bytes: int = 65536
    max_unauthenticated_connections: int = 64
    logon_timeout_s: float = 10.0
    max_inbound_messages_per_s: float = 5000.0
    max_write_buffer_bytes: int = 16 * 1024 * 1024
    max_queued_messages: int = 10000


@dataclass(frozen=True)
class SessionConfig:
    session_id: SessionID
    role: str
    dictionary: tuple[Path, ...]
    reset_on_logon: bool
    reset_on_logout: bool
    reset_on_disconnect: bool
    schedule: Schedule
    heartbeat_check: bool
    max_latency_s: float
    logout_timeout_s: float
    validation: ValidationSettings
    credentials: Credentials | None = field(repr=False)
    settings: Mapping[str, Any]  # the whole merged section, for applications

    @property
    def key(self) -> str:
        return f"{self.session_id.begin_string}:{self.session_id.sender_comp_id}->" \
               f"{self.session_id.target_comp_id}"


@dataclass(frozen=True)
class GatewayConfig:
    path: Path
    document: Mapping[str, Any]
    state_dir: Path
    application: str
    listen: ListenConfig
    limits: Limits
    store_synchronous: str
    sessions: tuple[SessionConfig, ...]

    @property
    def database_path(self) -> Path:
        return self.state_dir / "fixgw.db"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "log"


def _bool(section: Mapping, key: str, default: bool, where: str) -> bool:
    value = section.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: {key} must be true or false, not {value!r}")
    return value


def _number(section: Mapping, key: str, default: float, where: str, minimum: float = 0) -> float:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise ConfigError(f"{where}: {key} must be a number >= {minimum}, not {value!r}")
    return value


def _merge(defaults: Mapping, section: Mapping) -> dict:
    merged = dict(defaults)
    for key, value in section.items():
        if key == "validation" and isinstance(value, Mapping):
            merged[key] = {**dict(defaults.get("validation") or {}), **value}
        else:
            merged[key] = value
    return merged


def _resolve(base: Path, value: str) -> Path:
    p = Path(str(value))
    return p if p.is_absolute() else (base / p)


def parse_config(document: Mapping[str, Any], path: Path, port_override: int | None = None,
                 environ: Mapping[str, str] | None = None) -> GatewayConfig:
    name = str(path)
    if not isinstance(document, Mapping):
        raise ConfigError(f"{name}: the top level must be a mapping")
    base = path.resolve().parent
    listen_doc = document.get("listen") or {}
    tls = None
    if listen_doc.get("tls"):
        t = listen_doc["tls"]
        where = f"{name}: listen.tls"
        if not t.get("cert_file") or not t.get("key_file"):
            raise ConfigError(f"{where}: cert_file and key_file are required")
        tls = TlsConfig(_resolve(base, t["cert_file"]), _resolve(base, t["key_file"]),
                        _resolve(base, t["client_ca_file"]) if t.get("client_ca_file") else None,
                        _bool(t, "require_client_cert", False, where))
        if tls.require_client_cert and tls.client_ca_file is None:
            raise ConfigError(f"{where}: require_client_cert needs client_ca_file")
    port = port_override if port_override is not None else listen_doc.get("port", 9880)
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigError(f"{name}: listen.port must be 0..65535, not {port!r}")
    listen = ListenConfig(str(listen_doc.get("host", "127.0.0.1")), port, tls)

    lim = document.get("limits") or {}
    where = f"{name}: limits"
    limits = Limits(
        int(_number(lim, "max_message_bytes", 65536, where, 256)),
        int(_number(lim, "max_unauthenticated_connections", 64, where, 1)),
        float(_number(lim, "logon_timeout_s", 10, where, 0.1)),
        float(_number(lim, "max_inbound_messages_per_s", 5000, where, 1)),
        int(_number(lim, "max_write_buffer_bytes", 16 * 1024 * 1024, where, 65536)),
        int(_number(lim, "max_queued_messages", 10000, where, 10)),
    )
    store_doc = document.get("store") or {}
    synchronous = str(store_doc.get("synchronous", "normal")).lower()
    if synchronous not in ("normal", "full"):
        raise ConfigError(f"{name}: store.synchronous must be normal or full")

    defaults = document.get("session_defaults") or {}
    sessions_doc = document.get("sessions") or []
    if not isinstance(sessions_doc, list) or not sessions_doc:
        raise ConfigError(f"{name}: sessions must be a non-empty list")
    sessions = []
    seen: set[tuple[str, str, str]] = set()
    for n, entry in enumerate(sessions_doc):
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{name}: sessions[{n}] must be a mapping")
        merged = _merge(defaults, entry)
        where = f"{name}: sessions[{n}] ({merged.get('target_comp_id', '?')})"
        for key in ("begin_string", "sender_comp_id", "target_comp_id"):
            if not merged.get(key):
                raise ConfigError(f"{where}: {key} is required")
        sid = SessionID(str(merged["begin_string"]), str(merged["sender_comp_id"]),
                        str(merged["target_comp_id"]))
        ident = (sid.begin_string, sid.sender_comp_id, sid.target_comp_id)
        if ident in seen:
            raise ConfigError(f"{where}: duplicate session {sid}")
        seen.add(ident)
        role = str(merged.get("role", "echo"))
        if role not in ROLES:
            raise ConfigError(f"{where}: role must be one of {', '.join(ROLES)}, not {role!r}")
        dictionary = merged.get("dictionary")
        if not dictionary:
            raise ConfigError(f"{where}: dictionary is required")
        dict_paths = tuple(_resolve(base, p) for p in
                           ([dictionary] if isinstance(dictionary, str) else dictionary))
        for p in dict_paths:
            if not p.is_file():
                raise ConfigError(f"{where}: dictionary file {p} does not exist")
        validation_doc = merged.get("validation") or {}
        unknown = set(validation_doc) - _VALIDATION_KEYS
        if unknown:
            raise ConfigError(f"{where}: unknown validation keys {sorted(unknown)}")
        validation = ValidationSettings(**{k: _bool(validation_doc, k, getattr(
            ValidationSettings(), k), f"{where}.validation") for k in _VALIDATION_KEYS})
        try:
            schedule = build_schedule(merged.get("schedule"))
        except (ValueError, KeyError) as exc:
            raise ConfigError(f"{where}: schedule: {exc}") from None
        credentials = load_credentials(merged, where, base, environ)
        settings = {k: v for k, v in merged.items()}
        sessions.append(SessionConfig(
            session_id=sid, role=role, dictionary=dict_paths,
            reset_on_logon=_bool(merged, "reset_on_logon", False, where),
            reset_on_logout=_bool(merged, "reset_on_logout", False, where),
            reset_on_disconnect=_bool(merged, "reset_on_disconnect", False, where),
            schedule=schedule,
            heartbeat_check=_bool(merged, "heartbeat_check", True, where),
            max_latency_s=float(_number(merged, "max_latency_s", 120, where)),
            logout_timeout_s=float(_number(merged, "logout_timeout_s", 2, where, 0.1)),
            validation=validation, credentials=credentials, settings=settings))

    if not listen.loopback:
        client_certs = listen.tls is not None and listen.tls.require_client_cert
        for s in sessions:
            if s.credentials is None and not client_certs:
                raise ConfigError(
                    f"{name}: refusing to start: listen.host {listen.host} is not loopback and "
                    f"session {s.session_id} has no password (password_env/password_file) and "
                    "TLS does not require client certificates")
    state_dir = Path(str(document.get("state_dir", "var")))
    application = str(document.get("application", "echo"))
    return GatewayConfig(path, document, state_dir, application, listen, limits, synchronous,
                         tuple(sessions))


def load_config(path: str | Path, port_override: int | None = None,
                environ: Mapping[str, str] | None = None) -> GatewayConfig:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        # Only the position and the problem: the offending text could be a secret.
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: invalid YAML{where}: "
                          f"{getattr(exc, 'problem', None) or 'syntax error'}") from None
    return parse_config(document or {}, path, port_override, environ)

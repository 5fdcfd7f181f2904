"""A small blocking FIX 4.4 initiator: the client behind ``scripts/fix_client.py`` and the helper
tests use to talk to a running gateway over real TCP (optionally TLS).

Why blocking and single-threaded: a person at a terminal and a test both want "send this, show
me what comes back within N seconds"; a background thread would only add races. Session duties
(Heartbeat on TestRequest, Heartbeats when idle, ResendRequest on an inbound gap, GapFill in
answer to the peer's ResendRequest, Logout handshake) are done inside ``receive``. The client
does not store what it sent, so it answers a ResendRequest with a SequenceReset-GapFill: right for
a test/operator client, whose own messages are orders it would rather not see replayed blindly.

Encoding is by hand (exact field order, millisecond SendingTime); framing of inbound bytes uses
simplefix's parser. Values are strings end to end: quantities and prices are never floats.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import pathlib
import socket
import ssl
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import simplefix

from fixgw.fix.message import FixMessage

SOH = b"\x01"
Fields = Sequence[tuple[int, str]]
_HEADER_ORDER_AFTER_SEQ = (43, 49, 52, 56, 97, 122)


class ClientError(Exception):
    """The session could not be established or was torn down."""


class LogonRejected(ClientError):
    def __init__(self, reply: FixMessage | None) -> None:
        text = reply.get(58) if reply is not None else None
        super().__init__(f"logon refused: {text or 'connection closed without an answer'}")
        self.reply = reply


def utc_timestamp(now: _dt.datetime | None = None) -> str:
    """FIX UTCTimestamp with exactly 3 fractional digits (what strict counterparties expect)."""
    now = now or _dt.datetime.now(_dt.timezone.utc)
    return now.strftime("%Y%m%d-%H:%M:%S.") + f"{now.microsecond // 1000:03d}"


def encode(begin_string: str, msg_type: str, header: Fields, body: Fields) -> bytes:
    """8, 9, 35 first, then ``header`` and ``body`` in the given order, then CheckSum."""
    parts = [f"35={msg_type}".encode()]
    parts += [f"{t}={v}".encode("latin-1") for t, v in header]
    parts += [f"{t}={v}".encode("latin-1") for t, v in body]
    payload = SOH.join(parts) + SOH
    head = f"8={begin_string}".encode() + SOH + f"9={len(payload)}".encode() + SOH
    checksum = sum(head + payload) % 256
    return head + payload + f"10={checksum:03d}".encode() + SOH


# ---------------------------------------------------------------------------------------------
# Names for printing
# ---------------------------------------------------------------------------------------------

SECRET_TAGS = frozenset({554, 925})       # Password, NewPassword: never printed

# fixgw's FIX 4.4 extensions that a stock FIX44.xml lacks.
_EXTRA_FIELDS = {957: "NoStrategyParameters", 958: "StrategyParameterName",
                 959: "StrategyParameterType", 960: "StrategyParameterValue",
                 850: "TargetStrategyPerformance", 797: "CopyMsgIndicator"}


@dataclass(frozen=True)
class FieldNames:
    """Tag -> name and (tag, value) -> enum name, from a QuickFIX-format dictionary."""

    fields: dict[int, str]
    enums: dict[tuple[int, str], str]
    msg_types: dict[str, str]

    @classmethod
    def load(cls, path: pathlib.Path | None) -> "FieldNames":
        fields: dict[int, str] = dict(_EXTRA_FIELDS)
        enums: dict[tuple[int, str], str] = {}
        msg_types: dict[str, str] = {}
        if path is not None and path.is_file():
            root = ET.parse(path).getroot()
            for f in root.iter("field"):
                number = f.get("number")
                if number is None:
                    continue
                tag = int(number)
                fields[tag] = f.get("name", str(tag))
                for v in f.iter("value"):
                    enums[(tag, v.get("enum", ""))] = _camel(v.get("description", ""))
            for m in root.iter("message"):
                msg_types[m.get("msgtype", "")] = m.get("name", "")
        return cls(fields, enums, msg_types)

    def describe(self, message: FixMessage, verbose: bool = False) -> str:
        """``35=8(ExecutionReport) 39=2(Filled) 55=BTC/USDT ...``; verbose adds field names."""
        out = []
        for tag, value in message.fields:
            if tag in (8, 9, 10) and not verbose:
                continue
            if tag in SECRET_TAGS:
                value = "***"
            label = self.msg_types.get(value) if tag == 35 else self.enums.get((tag, value))
            text = f"{tag}={value}" + (f"({label})" if label else "")
            if verbose:
                text = f"{self.fields.get(tag, '?')}:{text}"
            out.append(text)
        return " ".join(out)


def _camel(description: str) -> str:
    return "".join(word.capitalize() for word in description.split("_"))


def default_dictionary() -> pathlib.Path | None:
    repo = pathlib.Path(__file__).resolve().parent.parent
    for candidate in (repo / "dictionaries" / "FIX44.xml",
                      repo.parent / "shared" / "reference" / "FIX44.xml"):
        if candidate.is_file():
            return candidate
    return None


# ---------------------------------------------------------------------------------------------
# Configuration and persistent sequence numbers
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ClientConfig:
    host: str
    port: int
    sender: str
    target: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    heartbeat: int = 30
    reset_on_logon: bool = False           # send 141=Y and restart both sequence numbers at 1
    tls: bool = False
    cafile: str | None = None
    certfile: str | None = None            # client certificate for mutual TLS
    keyfile: str | None = None
    server_hostname: str | None = None
    seq_file: pathlib.Path | None = None
    begin_string: str = "FIX.4.4"
    connect_timeout: float = 5.0


def read_password(env_var: str | None = None, file: str | None = None) -> str | None:
    """The password from an environment variable or a file; never from the command line."""
    if env_var:
        value = os.environ.get(env_var)
        if value is None:
            raise ClientError(f"environment variable {env_var} is not set")
        return value
    if file:
        return pathlib.Path(file).read_text(encoding="utf-8").rstrip("\r\n")
    return None


@dataclass
class SeqNumbers:
    next_out: int = 1
    next_in: int = 1

    @classmethod
    def load(cls, path: pathlib.Path | None) -> "SeqNumbers":
        if path is None or not path.is_file():
            return cls()
        data = json.loads(path.read_text())
        return cls(int(data["next_out"]), int(data["next_in"]))

    def save(self, path: pathlib.Path | None) -> None:
        if path is None:
            return
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps({"next_out": self.next_out, "next_in": self.next_in}))
        os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------
# The client
# ---------------------------------------------------------------------------------------------

Listener = Callable[[str, FixMessage], None]     # ("<-" or "->", message)


class FixClient:
    def __init__(self, config: ClientConfig, listener: Listener | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.seq = SeqNumbers.load(config.seq_file)
        self.listener = listener
        self.clock = clock
        self.sock: socket.socket | None = None
        self.parser = simplefix.FixParser(allow_empty_values=True)
        self.logged_on = False
        self.logout_sent = False
        self.closed = False
        self.last_sent = 0.0
        self.last_received = 0.0
        self._received_ahead: set[int] = set()
        self._resend_requested_upto = 0

    # -- connection ----------------------------------------------------------------------------
    def connect(self) -> None:
        cfg = self.config
        raw = socket.create_connection((cfg.host, cfg.port), timeout=cfg.connect_timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if cfg.tls:
            context = ssl.create_default_context(cafile=cfg.cafile)
            if cfg.certfile:
                context.load_cert_chain(cfg.certfile, cfg.keyfile)
            raw = context.wrap_socket(raw, server_hostname=cfg.server_hostname or cfg.host)
        self.sock = raw
        self.closed = False
        self.last_received = self.last_sent = self.clock()

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None
        self.closed = True
        self.logged_on = False
        self.seq.save(self.config.seq_file)

    def __enter__(self) -> "FixClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- sending -------------------------------------------------------------------------------
    def send(self, msg_type: str, body: Fields = (), *, seq: int | None = None,
             poss_dup: bool = False, orig_sending_time: str | None = None) -> int:
        """Send one message; returns its MsgSeqNum. ``seq`` overrides (and does not advance)."""
        if self.sock is None:
            raise ClientError("not connected")
        own_seq = seq is None
        number = self.seq.next_out if own_seq else seq
        header: list[tuple[int, str]] = [(34, str(number))]
        if poss_dup:
            header.append((43, "Y"))
        header += [(49, self.config.sender), (52, utc_timestamp()), (56, self.config.target)]
        if orig_sending_time:
            header.append((122, orig_sending_time))
        data = encode(self.config.begin_string, msg_type, header, body)
        self.sock.sendall(data)
        self.last_sent = self.clock()
        if own_seq:
            self.seq.next_out += 1
        if self.listener:
            self.listener("->", _to_message(data))
        return number

    def logon(self, timeout: float = 10.0) -> FixMessage:
        """Connect if needed, send Logon, wait for the Logon reply (raises LogonRejected)."""
        if self.sock is None:
            self.connect()
        if self.config.reset_on_logon:
            self.seq = SeqNumbers()
        body: list[tuple[int, str]] = [(98, "0"), (108, str(self.config.heartbeat))]
        if self.config.reset_on_logon:
            body.append((141, "Y"))
        if self.config.username is not None:
            body.append((553, self.config.username))
        if self.config.password is not None:
            body.append((554, self.config.password))
        self.send("A", body)
        reply = self.wait_for(lambda m: m.msg_type in ("A", "5"), timeout)
        if reply is None or reply.msg_type != "A":
            self.close()
            raise LogonRejected(reply)
        self.logged_on = True
        return reply

    def logout(self, text: str | None = None, timeout: float = 5.0) -> FixMessage | None:
        """Send Logout and wait for the peer's Logout (or the close)."""
        if self.sock is None:
            return None
        self.send("5", [(58, text)] if text else [])
        self.logout_sent = True
        reply = self.wait_for(lambda m: m.msg_type == "5", timeout)
        self.close()
        return reply

    # -- receiving -----------------------------------------------------------------------------
    def receive(self, timeout: float) -> FixMessage | None:
        """The next message (admin ones included), after doing the session's duties for it.

        Returns None on timeout or when the peer closed (then ``closed`` is True).
        """
        deadline = self.clock() + timeout
        while True:
            message = self._next_parsed()
            if message is not None:
                self._handle(message)
                return message
            if self.sock is None:
                return None
            now = self.clock()
            if now >= deadline:
                return None
            self._heartbeat_if_idle(now)
            self._read_some(min(deadline - now, max(0.05, self.config.heartbeat / 2)))

    def wait_for(self, predicate: Callable[[FixMessage], bool],
                 timeout: float) -> FixMessage | None:
        """Receive until a message satisfies ``predicate``; None on timeout or close."""
        deadline = self.clock() + timeout
        while True:
            remaining = deadline - self.clock()
            if remaining <= 0:
                return None
            message = self.receive(remaining)
            if message is None:
                if self.sock is None:
                    return None
                continue
            if predicate(message):
                return message

    def drain(self, seconds: float) -> list[FixMessage]:
        """Everything received within ``seconds`` (stops early if the peer closes)."""
        out = []
        deadline = self.clock() + seconds
        while self.sock is not None:
            remaining = deadline - self.clock()
            if remaining <= 0:
                break
            message = self.receive(remaining)
            if message is not None:
                out.append(message)
        return out

    def _next_parsed(self) -> FixMessage | None:
        parsed = self.parser.get_message()
        if parsed is None:
            return None
        return FixMessage(tuple((int(t), v.decode("latin-1")) for t, v in parsed.pairs),
                          parsed.encode(raw=True))

    def _read_some(self, wait: float) -> bool:
        assert self.sock is not None
        self.sock.settimeout(wait)
        try:
            data = self.sock.recv(65536)
        except (socket.timeout, ssl.SSLWantReadError):
            return True
        except OSError:
            data = b""
        if not data:
            self.close()
            return False
        self.last_received = self.clock()
        self.parser.append_buffer(data)
        return True

    def _heartbeat_if_idle(self, now: float) -> None:
        if self.logged_on and now - self.last_sent >= self.config.heartbeat:
            self.send("0")

    def _handle(self, message: FixMessage) -> None:
        if self.listener:
            self.listener("<-", message)
        msg_type = message.msg_type
        seq = int(message.get(34) or 0)
        if msg_type == "4" and message.get(123) != "Y":          # SequenceReset-Reset
            self.seq.next_in = int(message.get(36) or self.seq.next_in)
            return
        if msg_type == "A" and message.get(141) == "Y":
            self.seq.next_in = 1
        self._track_inbound(seq, message)
        if msg_type == "1":
            self.send("0", [(112, message.get(112) or "")])
        elif msg_type == "2":
            self._answer_resend_request(message)
        elif msg_type == "4" and seq <= self.seq.next_in:         # GapFill in sequence
            self.seq.next_in = max(self.seq.next_in, int(message.get(36) or seq + 1))
            self._skip_received_ahead()
        elif msg_type == "5":
            if not self.logout_sent and self.sock is not None:
                self.send("5")
                self.logout_sent = True

    def _track_inbound(self, seq: int, message: FixMessage) -> None:
        expected = self.seq.next_in
        if seq == expected:
            self.seq.next_in += 1
            self._skip_received_ahead()
        elif seq > expected:
            self._received_ahead.add(seq)
            if seq > self._resend_requested_upto and message.msg_type not in ("5",):
                self.send("2", [(7, str(expected)), (16, "0")])
                self._resend_requested_upto = seq

    def _skip_received_ahead(self) -> None:
        while self.seq.next_in in self._received_ahead:
            self._received_ahead.discard(self.seq.next_in)
            self.seq.next_in += 1

    def _answer_resend_request(self, message: FixMessage) -> None:
        begin = int(message.get(7) or 1)
        if begin >= self.seq.next_out:
            return
        self.send("4", [(36, str(self.seq.next_out)), (123, "Y")], seq=begin, poss_dup=True,
                  orig_sending_time=utc_timestamp())


def _to_message(data: bytes) -> FixMessage:
    fields = []
    for part in data.split(SOH):
        if part:
            tag, _, value = part.partition(b"=")
            fields.append((int(tag), value.decode("latin-1")))
    return FixMessage(tuple(fields), data)


# ---------------------------------------------------------------------------------------------
# Application message bodies (FIX 4.4)
# ---------------------------------------------------------------------------------------------

SIDES = {"buy": "1", "sell": "2", "sellshort": "5"}
ORD_TYPES = {"market": "1", "limit": "2", "stop": "3", "stop_limit": "4", "stoplimit": "4"}
TIFS = {"day": "0", "gtc": "1", "opg": "2", "ioc": "3", "fok": "4", "gtx": "5", "gtd": "6"}
STRATEGIES = {"vwap": "1", "pov": "2", "participate": "2", "twap": "1001", "iceberg": "1002",
              "arrival": "1003", "is": "1003"}
STRING_PARAMETER = "14"   # StrategyParameterType String


def code(table: dict[str, str], value: str, what: str) -> str:
    """Map a friendly name to its FIX code; raw codes pass through."""
    lowered = value.lower()
    if lowered in table:
        return table[lowered]
    if value in table.values() or value.isdigit():
        return value
    raise ValueError(f"unknown {what} {value!r}; use one of {', '.join(table)} or a FIX code")


@dataclass(frozen=True)
class StrategyParameter:
    name: str
    value: str
    type: str = STRING_PARAMETER

    @classmethod
    def parse(cls, text: str) -> "StrategyParameter":
        """``name=value`` (String) or ``name:type=value`` with a StrategyParameterType code."""
        key, sep, value = text.partition("=")
        if not sep or not key:
            raise ValueError(f"strategy parameter {text!r} is not name=value")
        name, _, type_code = key.partition(":")
        return cls(name, value, type_code or STRING_PARAMETER)


def strategy_parameters_group(params: Iterable[StrategyParameter]) -> list[tuple[int, str]]:
    params = list(params)
    if not params:
        return []
    out = [(957, str(len(params)))]
    for p in params:
        out += [(958, p.name), (959, p.type), (960, p.value)]
    return out


def _optional(*pairs: tuple[int, str | None]) -> list[tuple[int, str]]:
    return [(t, v) for t, v in pairs if v is not None]


def new_order_single(cl_ord_id: str, symbol: str, side: str, qty: str, *, ord_type: str = "2",
                     price: str | None = None, tif: str | None = None, account: str | None = None,
                     strategy: str | None = None, strategy_urgency: str | None = None,
                     participation: str | None = None, effective_time: str | None = None,
                     expire_time: str | None = None, max_floor: str | None = None,
                     params: Iterable[StrategyParameter] = (),
                     transact_time: str | None = None) -> list[tuple[int, str]]:
    """NewOrderSingle (35=D) body in ascending tag order, group last."""
    body = _optional((1, account), (11, cl_ord_id), (38, qty), (40, ord_type), (44, price),
                     (54, side), (55, symbol), (59, tif), (60, transact_time or utc_timestamp()),
                     (111, max_floor), (126, expire_time), (168, effective_time),
                     (847, strategy), (848, strategy_urgency), (849, participation))
    return body + strategy_parameters_group(params)


def order_cancel_request(cl_ord_id: str, orig_cl_ord_id: str, symbol: str, side: str,
                         qty: str | None = None, order_id: str | None = None,
                         account: str | None = None) -> list[tuple[int, str]]:
    """OrderCancelRequest (35=F)."""
    return _optional((1, account), (11, cl_ord_id), (37, order_id), (38, qty),
                     (41, orig_cl_ord_id), (54, side), (55, symbol), (60, utc_timestamp()))


def order_cancel_replace_request(cl_ord_id: str, orig_cl_ord_id: str, symbol: str, side: str,
                                 qty: str, *, ord_type: str = "2", price: str | None = None,
                                 tif: str | None = None, order_id: str | None = None,
                                 account: str | None = None) -> list[tuple[int, str]]:
    """OrderCancelReplaceRequest (35=G)."""
    return _optional((1, account), (11, cl_ord_id), (37, order_id), (38, qty), (40, ord_type),
                     (41, orig_cl_ord_id), (44, price), (54, side), (55, symbol), (59, tif),
                     (60, utc_timestamp()))


def order_status_request(cl_ord_id: str, symbol: str, side: str,
                         order_id: str | None = None) -> list[tuple[int, str]]:
    """OrderStatusRequest (35=H)."""
    return _optional((11, cl_ord_id), (37, order_id), (54, side), (55, symbol))


def order_mass_cancel_request(cl_ord_id: str, symbol: str | None = None,
                              account: str | None = None) -> list[tuple[int, str]]:
    """OrderMassCancelRequest (35=q): by security when a symbol is given, else all orders."""
    request_type = "1" if symbol else "7"
    return _optional((1, account), (11, cl_ord_id), (55, symbol), (60, utc_timestamp()),
                     (530, request_type))

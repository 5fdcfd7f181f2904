"""Connections before and after Logon, sans I/O: many sessions behind one listening port.

A :class:`ConnectionCore` frames the byte stream of one TCP connection. Its first message
must be a Logon that names a configured session (by BeginString and CompIDs), passes that
session's dictionary validation and SendingTime check, authenticates, and arrives while the
session is not connected and inside its schedule. Anything else closes the socket without a
byte (QuickFIX's behaviour the suite checks), except a failed authentication, which gets one
sessionless Logout "Authentication failed" (MsgSeqNum 1, not part of the session's sequence)
before the close. Nothing about the session changes before all of this has passed.

After Logon the connection is *bound* and hands every framed message to its
:class:`SessionCore`. Every failure stays inside its connection: one bad client never
disturbs another session.
"""
from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from typing import Iterable

from fixgw.fix.codec import Framer, FramingError, GarbledMessage, encode, parse, \
    parse_utc_timestamp, utc_timestamp
from fixgw.session.auth import AUTH_FAILED_TEXT, Credentials
from fixgw.session.config import Limits
from fixgw.session.core import SessionCore

log = logging.getLogger("fixgw.session")


class ConnState(enum.Enum):
    AWAITING_LOGON = "awaiting-logon"
    BOUND = "bound"
    CLOSED = "closed"


# The states under plain module names for the per-message checks: on Python 3.11 every
# ``ConnState.X`` goes through the Enum metaclass's ``__getattr__`` hook (~850 instructions,
# several per message).
_AWAITING_LOGON, _BOUND, _CLOSED = ConnState.AWAITING_LOGON, ConnState.BOUND, ConnState.CLOSED


CONN_TRANSITIONS: dict[tuple[ConnState, str], ConnState] = {
    (ConnState.AWAITING_LOGON, "bind"): ConnState.BOUND,
    (ConnState.AWAITING_LOGON, "close"): ConnState.CLOSED,
    (ConnState.BOUND, "close"): ConnState.CLOSED,
    (ConnState.CLOSED, "close"): ConnState.CLOSED,
}


@dataclass
class AcceptorSession:
    core: SessionCore
    credentials: Credentials | None = None


class Acceptor:
    """Registry of the sessions served on one port, and the unauthenticated-connection limit."""

    def __init__(self, sessions: Iterable[AcceptorSession], limits: Limits) -> None:
        self.limits = limits
        self._sessions = {(s.core.session_id.begin_string, s.core.session_id.sender_comp_id,
                           s.core.session_id.target_comp_id): s for s in sessions}
        self.unauthenticated = 0

    @property
    def sessions(self) -> list[AcceptorSession]:
        return list(self._sessions.values())

    def lookup(self, begin_string: str, ours: str | None, theirs: str | None) -> AcceptorSession | None:
        return self._sessions.get((begin_string, ours or "", theirs or ""))

    def new_connection(self, now: float, peer: str = "") -> "ConnectionCore | None":
        """A new TCP connection, or None when too many are still unauthenticated."""
        if self.unauthenticated >= self.limits.max_unauthenticated_connections:
            log.warning("refusing connection from %s: %d unauthenticated connections",
                        peer, self.unauthenticated)
            return None
        self.unauthenticated += 1
        return ConnectionCore(self, now, peer)


class ConnectionCore:
    def __init__(self, acceptor: Acceptor, now: float, peer: str) -> None:
        self.acceptor = acceptor
        self.peer = peer
        limits = acceptor.limits
        self.state = _AWAITING_LOGON
        self.session: SessionCore | None = None
        self._framer = Framer(limits.max_message_bytes)
        self._logon_deadline = now + limits.logon_timeout_s
        self._outbox: list[bytes] = []
        self._close = False
        self._rate = limits.max_inbound_messages_per_s
        self._tokens = self._rate
        self._tokens_at = now
        self._backlog: list[tuple[bytes, int]] = []   # (raw, checksum_at): Framer.feed_framed

    def _transition(self, event: str) -> None:
        nxt = CONN_TRANSITIONS.get((self.state, event))
        if nxt is None:
            raise RuntimeError(f"connection {self.peer}: {event} in state {self.state.value}")
        if self.state is _AWAITING_LOGON and nxt is not _AWAITING_LOGON:
            self.acceptor.unauthenticated -= 1
        self.state = nxt

    # ---------------------------------------------------------------- input
    def data_received(self, data: bytes, now: float) -> float:
        """Process bytes; return how long reading should pause (inbound rate limit), or 0.

        Messages beyond the session's rate budget wait in a backlog (at most one read chunk,
        since reading pauses meanwhile); call again with ``b""`` when the pause is over."""
        if self.state is _CLOSED or self._close:
            return 0.0
        try:
            frames = self._framer.feed_framed(data) if data else []
        except FramingError as exc:
            self._fail(f"framing error: {exc}", now)
            return 0.0
        if self._backlog:
            frames = self._backlog + frames
            self._backlog = []
        rate = self._rate
        tokens = self._tokens + (now - self._tokens_at) * rate
        if tokens > rate:   # min(rate, tokens), without the call
            tokens = rate
        self._tokens_at = now
        done = 0
        for raw, checksum_at in frames:
            if self._close or self.state is _CLOSED:
                break
            if self.state is _AWAITING_LOGON:
                self._first_message(raw, now)
            else:
                if tokens < 1.0:
                    break
                tokens -= 1.0
                session = self.session
                session.receive_raw(raw, now, checksum_at)
                if session.close_requested:
                    self._close = True
            done += 1
        self._tokens = tokens
        if done < len(frames) and not self._close:
            self._backlog = frames[done:]
            return max(0.001, (min(len(self._backlog), rate) - tokens) / rate)
        return 0.0

    def _first_message(self, raw: bytes, now: float) -> None:
        try:
            msg = parse(raw)
        except GarbledMessage as exc:
            return self._refuse(f"garbled first message ({exc})")
        fields = msg.fields
        d = dict(fields)
        if fields[2][1] != "A":
            return self._refuse(f"first message is MsgType {fields[2][1]!r}, not a Logon")
        entry = self.acceptor.lookup(fields[0][1], d.get(56), d.get(49))
        if entry is None:
            return self._refuse(f"Logon for an unknown session {fields[0][1]}:"
                                f"{d.get(56)}->{d.get(49)}")
        core = entry.core
        if core.connected:
            return self._refuse(f"session {core.session_id} is already connected")
        rejection = core.validator.validate(fields)
        if rejection is not None:
            return self._refuse(f"invalid Logon for {core.session_id} (reason "
                                f"{rejection.reason}, tag {rejection.tag})")
        if core.rules.max_latency_s > 0:
            sent = parse_utc_timestamp(d.get(52, ""))
            if sent is None or abs(now - sent) > core.rules.max_latency_s:
                return self._refuse(f"Logon for {core.session_id}: SendingTime out of range")
        hb = d.get(108, "")
        if not hb.isdigit():
            return self._refuse(f"Logon for {core.session_id}: bad HeartBtInt {hb[:10]!r}")
        if entry.credentials is not None and not entry.credentials.check(d.get(553), d.get(554)):
            log.warning("authentication failed for session %s from %s", core.session_id, self.peer)
            core.log.event(f"authentication failed from {self.peer}", now)
            sid = core.session_id
            self._outbox.append(encode(
                sid.begin_string, "5",
                [(34, "1"), (49, sid.sender_comp_id), (52, utc_timestamp(now)),
                 (56, sid.target_comp_id)], [(58, AUTH_FAILED_TEXT)]))
            self._close = True
            return None
        if not core.can_accept_logon(now):
            return self._refuse(f"Logon for {core.session_id} outside its schedule")
        self._transition("bind")
        self.session = core
        log.info("session %s logged on from %s", core.session_id, self.peer)
        core.accept_logon(msg, now)
        if core.close_requested:
            self._close = True
        return None

    def _refuse(self, reason: str) -> None:
        log.info("closing connection from %s: %s", self.peer, reason)
        self._close = True

    def _fail(self, reason: str, now: float) -> None:
        log.warning("closing connection from %s: %s", self.peer, reason)
        if self.session is not None:
            self.session.log.event(f"closing connection: {reason}", now)
        self._close = True

    # ---------------------------------------------------------------- timers and output
    def next_deadline(self) -> float | None:
        if self._close or self.state is _CLOSED:
            return None
        if self.state is _AWAITING_LOGON:
            return self._logon_deadline
        return self.session.next_deadline() if self.session else None

    def on_timer(self, now: float) -> None:
        if self._close or self.state is _CLOSED:
            return
        if self.state is _AWAITING_LOGON:
            if now >= self._logon_deadline:
                self._refuse("no Logon within the logon timeout")
            return
        session = self.session
        session.on_timer(now)
        if session.close_requested:
            self._close = True

    def close_from_gateway(self, now: float) -> None:
        """The gateway drops the connection (e.g. the peer stopped reading)."""
        self._fail("gateway closed the connection", now)

    @property
    def has_output(self) -> bool:
        return bool(self._outbox or (self.session is not None and self.session.outbox))

    @property
    def pending(self) -> bool:
        """Output to write or a close to perform."""
        if self._outbox or self._close:
            return True
        session = self.session
        return session is not None and bool(session.outbox or session.close_requested)

    def take_output(self) -> tuple[bytes, bool]:
        """Bytes to write now, and whether to close the connection after writing them."""
        session = self.session
        if session is not None:
            if session.close_requested:
                self._close = True
            out = session.outbox
            if out:
                session.outbox = []     # session.take_output(), inline
                if self._outbox:
                    out = self._outbox + out
                    self._outbox = []
                return (out[0] if len(out) == 1 else b"".join(out)), self._close
        parts = self._outbox
        self._outbox = []
        return b"".join(parts), self._close

    def connection_lost(self, now: float) -> None:
        if self.state is _CLOSED:
            return
        self._transition("close")
        if self.session is not None:
            self.session.connection_lost(now)

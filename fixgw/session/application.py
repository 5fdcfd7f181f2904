"""The boundary between the FIX session layer and what runs on top of it (echo, OMS, drop copy).

The session layer owns sequence numbers, the header, persistence and resend. An application
only ever sees validated, in-order application messages, and answers through
:meth:`SessionHandle.send`, giving the MsgType and the *body* fields; the session adds the
header (8, 9, 35, 34, 49, 52, 56, routing) and trailer, stores the message for resend, and
writes it to the wire if the session is logged on. A message sent while the session is logged
out is still stored and numbered, so the counterparty gets it on its next ResendRequest
(this is how a drop-copy client catches up).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

from fixgw.fix.message import FixMessage


@dataclass(frozen=True, slots=True)
class SessionID:
    begin_string: str
    sender_comp_id: str  # ours
    target_comp_id: str  # the counterparty's

    def __str__(self) -> str:
        return f"{self.begin_string}:{self.sender_comp_id}->{self.target_comp_id}"


class SessionHandle(Protocol):
    session_id: SessionID
    role: str  # "order-entry" | "drop-copy" | "echo" (from config)
    settings: dict  # the session's raw config section, for application-level options

    @property
    def logged_on(self) -> bool: ...

    def send(self, msg_type: str, body: Sequence[tuple[int, str]]) -> int:
        """Number, store and (if logged on) transmit an application message; return its MsgSeqNum."""


class Application(Protocol):
    def on_create(self, session: SessionHandle) -> None:
        """Called once per configured session at start-up, before any connection."""

    def on_logon(self, session: SessionHandle) -> None: ...

    def on_logout(self, session: SessionHandle) -> None:
        """Logout or disconnect, whatever the cause (cancel-on-disconnect hangs off this)."""

    def on_message(self, session: SessionHandle, message: FixMessage) -> None:
        """A validated inbound application message, in sequence order, exactly once."""

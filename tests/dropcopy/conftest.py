"""A small real SessionHandle: numbers, stores and (when logged on) delivers; resends from store.

It is the contract of fixgw.session.application.SessionHandle implemented in memory, so the
router can be tested without sockets; the socket-level catch-up test uses the real sessions.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from fixgw.session.application import SessionID


@dataclass
class MemorySession:
    session_id: SessionID
    role: str
    settings: dict = field(default_factory=dict)
    logged_on: bool = True
    store: list[tuple[int, str, tuple]] = field(default_factory=list)  # (seq, type, body)
    delivered: list[tuple[int, str, tuple]] = field(default_factory=list)

    def send(self, msg_type, body):
        seq = len(self.store) + 1
        entry = (seq, msg_type, tuple(body))
        self.store.append(entry)
        if self.logged_on:
            self.delivered.append(entry)
        return seq

    def resend(self, begin: int, end: int = 0):
        """What a ResendRequest(7=begin, 16=end, 0 = infinity) would replay."""
        return [e for e in self.store if e[0] >= begin and (end == 0 or e[0] <= end)]


@pytest.fixture
def make_session():
    def make(target: str, role: str = "order-entry", **settings) -> MemorySession:
        return MemorySession(SessionID("FIX.4.4", "FIXGW", target), role, settings)
    return make

"""The echo application's memory of ClOrdIDs costs the cyclic collector nothing to walk."""
from __future__ import annotations

import gc
from dataclasses import dataclass, field

from fixgw.fix.codec import encode, parse
from fixgw.session.application import SessionID
from fixgw.session.echo import EchoApplication


@dataclass
class RecordingHandle:
    session_id: SessionID
    role: str = "echo"
    settings: dict = field(default_factory=dict)
    sent: list = field(default_factory=list)

    @property
    def logged_on(self) -> bool:
        return True

    def send(self, msg_type, body) -> int:
        self.sent.append((msg_type, tuple(body)))
        return len(self.sent)


def order(n: int, poss_resend: bool = False) -> bytes:
    header = [(34, str(n + 2)), (49, "TW"), (52, "20260101-00:00:00.000"), (56, "ISLD")] \
        + ([(97, "Y")] if poss_resend else [])
    return encode("FIX.4.4", "D", header, [(11, f"CL{n}"), (21, "1"), (38, "1"), (40, "1"),
                                           (54, "1"), (55, "X"), (60, "20260101-00:00:00")])


def test_seen_clordids_are_not_walked_by_the_collector_and_still_drop_possresends():
    app = EchoApplication()
    handle = RecordingHandle(SessionID("FIX.4.4", "ISLD", "TW"))
    app.on_create(handle)
    app.on_logon(handle)
    for n in range(2000):
        app.on_message(handle, parse(order(n)))
    gc.collect()
    seen = app._seen[handle.session_id]
    assert len(seen) == 2000
    assert not any(gc.is_tracked(shard) for shard in seen._shards)   # a set would be tracked
    assert max(map(len, seen._shards)) < 40                          # spread: small resizes
    app.on_message(handle, parse(order(5, poss_resend=True)))     # seen: dropped
    app.on_message(handle, parse(order(5000, poss_resend=True)))  # new: echoed
    assert len(handle.sent) == 2001 and dict(handle.sent[-1][1])[11] == "CL5000"
    app.on_logout(handle)
    app.on_logon(handle)
    app.on_message(handle, parse(order(5, poss_resend=True)))     # forgotten at logout
    assert len(handle.sent) == 2002

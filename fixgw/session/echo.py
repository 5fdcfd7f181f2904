"""The ``echo`` test application (QuickFIX's ``at`` application), for conformance test mode.

* NewOrderSingle (D), SecurityDefinition (d) and Email (C) are sent straight back: same body,
  same optional header fields (PossResend 97 included), new header. A D with PossResend=Y whose
  ClOrdID was already seen on the session since its last logon/logout is dropped.
* Any other application message gets BusinessMessageReject 380=3 "Unsupported Message Type".
"""
from __future__ import annotations

from operator import itemgetter

from fixgw.fix.message import FixMessage
from fixgw.service import ServiceContext
from fixgw.session.application import SessionHandle, SessionID

ECHOED = frozenset({"D", "d", "C"})
_NOT_ECHOED_TAGS = frozenset({8, 9, 10, 34, 35, 43, 49, 52, 56, 122})
_tag_of = itemgetter(0)


class SeenClOrdIDs:
    """The ClOrdIDs seen on a session since its last logon/logout (QuickFIX's ``at``
    application keeps them all, and the acceptance scripts rely on it).

    Why not one set: a set of a million strings is walked by every full collection of the
    cyclic GC (~70 ms), and doubling its table when it fills copies every entry at once
    (~90 ms at 700,000, ~180 ms at 1.4 million, inside some reply). So they are keys of 256
    dicts chosen by hash: a dict of strings with None values is not tracked by the GC, and
    each resize copies only 1/256 of the entries."""

    __slots__ = ("_shards",)

    def __init__(self) -> None:
        self._shards: list[dict[str, None]] = [{} for _ in range(256)]

    def __contains__(self, clordid: str) -> bool:
        return clordid in self._shards[hash(clordid) & 255]

    def add(self, clordid: str) -> None:
        self._shards[hash(clordid) & 255][clordid] = None

    def clear(self) -> None:
        for shard in self._shards:
            shard.clear()

    def __len__(self) -> int:
        return sum(map(len, self._shards))


class EchoApplication:
    def __init__(self) -> None:
        self._seen: dict[SessionID, SeenClOrdIDs] = {}
        # the last handle and its ClOrdIDs: one identity test instead of hashing a SessionID
        self._last: tuple[SessionHandle | None, SeenClOrdIDs] = (None, SeenClOrdIDs())

    def on_create(self, session: SessionHandle) -> None:
        self._seen[session.session_id] = SeenClOrdIDs()
        self._last = (None, SeenClOrdIDs())

    def on_logon(self, session: SessionHandle) -> None:
        self._seen.setdefault(session.session_id, SeenClOrdIDs()).clear()

    def on_logout(self, session: SessionHandle) -> None:
        self._seen.setdefault(session.session_id, SeenClOrdIDs()).clear()

    def on_message(self, session: SessionHandle, message: FixMessage) -> None:
        fields = message.fields
        body = _echoed(fields)
        # a tuple is the slice of a standard message, whose MsgType is its third field
        msg_type = fields[2][1] if body.__class__ is tuple else message.msg_type
        if msg_type in ECHOED:
            if msg_type == "D":
                last, seen = self._last
                if last is not session:
                    seen = self._seen.get(session.session_id)
                    if seen is None:
                        seen = self._seen[session.session_id] = SeenClOrdIDs()
                    self._last = (session, seen)
                # the first ClOrdID: right after the standard header when body is that slice
                if body.__class__ is tuple and body and body[0][0] == 11:
                    clordid = body[0][1]
                else:
                    clordid = message.get(11) or ""
                if clordid in seen and message.get(97) == "Y":
                    return
                seen.add(clordid)
            session.send(msg_type, body)
        else:
            session.send("j", [(45, message.get(34) or ""), (58, "Unsupported Message Type"),
                               (372, msg_type), (380, "3")])


def _echoed(fields: tuple[tuple[int, str], ...]) -> "tuple | list":
    """The fields sent back: all but the standard header and trailer.

    For the usual parsed message (8, 9, 35, 34, 49, 52, 56 first, CheckSum last, no other
    dropped tag) that is one slice, a tuple the session recognises as a run of the message
    it is delivering (``SessionCore.send_app`` then reuses its bytes); else the filter, a
    list. (A tuple result is ``fields[7:-1]`` of a standard message: its first field is
    the first after 56, its MsgType ``fields[2][1]``.)"""
    if len(fields) > 8 and fields[6][0] == 56 and fields[5][0] == 52 \
            and fields[4][0] == 49 and fields[3][0] == 34 and fields[2][0] == 35 \
            and fields[1][0] == 9 and fields[0][0] == 8 and fields[-1][0] == 10:
        body = fields[7:-1]
        if _NOT_ECHOED_TAGS.isdisjoint(map(_tag_of, body)):
            return body
    return [f for f in fields if f[0] not in _NOT_ECHOED_TAGS]



class EchoService:
    """The service ``application: echo`` builds (nothing to start or stop)."""

    def __init__(self, ctx: ServiceContext | None = None) -> None:
        self.application = EchoApplication()

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass


def echo_service(ctx: ServiceContext) -> EchoService:
    return EchoService(ctx)

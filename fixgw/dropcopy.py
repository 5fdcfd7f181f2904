"""Drop copy: compliance sessions receive copies of what order-entry sessions are sent.

A session whose role is ``drop-copy`` gets a copy (CopyMsgIndicator 797=Y) of every
ExecutionReport (35=8) and OrderCancelReject (35=9) sent upstream on the sessions or accounts
in its scope, filtered by its level, in exactly the order they were sent upstream. Copies go
through :meth:`SessionHandle.send`, so they are numbered and stored like any message: a
drop-copy client that was down gets everything it missed with one ResendRequest.

Drop-copy sessions are receive-only: :class:`DropCopyGuard` answers anything they send with
a BusinessMessageReject (35=j), so they can never trade.

Session settings (the session's own config section; a nested ``drop_copy:`` block works too)::

    role: drop-copy
    level: ALL            # FILLS | ORDERS | ALL
    scope:                # optional; default: every order-entry session, every account
      sessions: all order-entry     # or a list: [OMS, "FIX.4.4:FIXGW->OMS2"]
      accounts: [ACC1, ACC2]        # optional: only these accounts

Levels: FILLS = ExecType(150) F (trade), G (trade correct), H (trade cancel); ORDERS =
everything else (acks, pending states, cancels, replaces, expiries, rejects, status replies
and OrderCancelRejects); ALL = both.

Wiring (the OMS sends every upstream ER/35=9 through the router instead of ``session.send``)::

    router = DropCopyRouter(ctx.sessions)
    seq = router.send_upstream(session, "8", body)        # sends, then copies
    # or, if the OMS sends itself: session.send("8", body); router.on_upstream(session.session_id,
    #                                                        account, "8", body)
    service.application = DropCopyGuard(oms_application)
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum
from typing import Any, Iterable, Mapping, Sequence

from fixgw.fix.message import FixMessage
from fixgw.session.application import Application, SessionHandle, SessionID

log = logging.getLogger(__name__)

DROP_COPY_ROLE = "drop-copy"
ORDER_ENTRY_ROLE = "order-entry"
ALL_ORDER_ENTRY = "all order-entry"

TAG_ACCOUNT = 1
TAG_EXEC_TYPE = 150
TAG_COPY_MSG_INDICATOR = 797
COPIED_MSG_TYPES = frozenset({"8", "9"})
FILL_EXEC_TYPES = frozenset({"F", "G", "H", "1", "2"})  # 1/2: pre-4.4 partial fill/fill


class DropCopyLevel(str, Enum):
    FILLS = "FILLS"
    ORDERS = "ORDERS"
    ALL = "ALL"

    def includes(self, msg_type: str, body: Sequence[tuple[int, str]]) -> bool:
        if msg_type not in COPIED_MSG_TYPES:
            return False
        if self is DropCopyLevel.ALL:
            return True
        return is_fill(msg_type, body) == (self is DropCopyLevel.FILLS)


def is_fill(msg_type: str, body: Sequence[tuple[int, str]]) -> bool:
    return msg_type == "8" and _first(body, TAG_EXEC_TYPE) in FILL_EXEC_TYPES


class DropCopyConfigError(ValueError):
    """A drop-copy session's settings are malformed; the message names session, key and value."""


@dataclass(frozen=True, slots=True)
class DropCopyScope:
    sessions: frozenset[str] | None = None  # None: every order-entry session
    accounts: frozenset[str] | None = None  # None: every account

    def covers(self, origin: SessionID, origin_role: str, account: str | None) -> bool:
        if self.sessions is None:
            if origin_role != ORDER_ENTRY_ROLE:
                return False
        elif str(origin) not in self.sessions and origin.target_comp_id not in self.sessions:
            return False
        return self.accounts is None or account in self.accounts


@dataclass(frozen=True, slots=True)
class DropCopySettings:
    level: DropCopyLevel
    scope: DropCopyScope

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | None, where: str) -> "DropCopySettings":
        settings = dict(settings or {})
        if isinstance(settings.get("drop_copy"), Mapping):
            settings = dict(settings["drop_copy"])
        raw_level = settings.get("level", DropCopyLevel.ALL.value)
        try:
            level = DropCopyLevel(str(raw_level).strip().upper())
        except ValueError:
            raise DropCopyConfigError(
                f"{where}: level {raw_level!r} is not one of FILLS, ORDERS, ALL") from None
        return cls(level=level, scope=_parse_scope(settings.get("scope"), f"{where}: scope"))


def _parse_scope(raw: Any, where: str) -> DropCopyScope:
    if raw is None or (isinstance(raw, str) and raw.strip().lower() == ALL_ORDER_ENTRY):
        return DropCopyScope()
    if not isinstance(raw, Mapping):
        raise DropCopyConfigError(f"{where}: expected a mapping or {ALL_ORDER_ENTRY!r}, got {raw!r}")
    unknown = sorted(set(raw) - {"sessions", "accounts"})
    if unknown:
        raise DropCopyConfigError(f"{where}: unknown key {unknown[0]!r} (expected sessions, accounts)")
    return DropCopyScope(sessions=_names(raw.get("sessions"), f"{where}.sessions", allow_all=True),
                         accounts=_names(raw.get("accounts"), f"{where}.accounts", allow_all=False))


def _names(raw: Any, where: str, allow_all: bool) -> frozenset[str] | None:
    if raw is None or (allow_all and isinstance(raw, str) and raw.strip().lower() == ALL_ORDER_ENTRY):
        return None
    if isinstance(raw, str) or not isinstance(raw, (list, tuple)) or not raw \
            or not all(isinstance(x, (str, int)) and str(x) for x in raw):
        hint = f" or {ALL_ORDER_ENTRY!r}" if allow_all else ""
        raise DropCopyConfigError(f"{where}: expected a non-empty list of names{hint}, got {raw!r}")
    return frozenset(str(x) for x in raw)


@dataclass(frozen=True, slots=True)
class _Subscriber:
    session: SessionHandle
    settings: DropCopySettings


class DropCopyRouter:
    """Copies upstream ERs / OrderCancelRejects to the drop-copy sessions that want them."""

    def __init__(self, sessions: Mapping[SessionID, SessionHandle] | Iterable[SessionHandle]):
        handles = list(sessions.values() if isinstance(sessions, Mapping) else sessions)
        self._roles = {h.session_id: h.role for h in handles}
        known = {str(h.session_id) for h in handles} | {h.session_id.target_comp_id for h in handles}
        self._subscribers: list[_Subscriber] = []
        for handle in handles:
            if handle.role != DROP_COPY_ROLE:
                continue
            where = f"session {handle.session_id}"
            settings = DropCopySettings.from_settings(handle.settings, where)
            for name in sorted(settings.scope.sessions or ()):
                if name not in known:
                    raise DropCopyConfigError(f"{where}: scope.sessions names unknown session {name!r}")
            self._subscribers.append(_Subscriber(handle, settings))
            if (handle.settings or {}).get("reset_on_logon"):
                log.warning("drop copy: %s has reset_on_logon: every Logon drops the stored "
                            "copies, so a client that was down cannot catch up by ResendRequest",
                            handle.session_id)
            log.info("drop copy: %s receives %s of %s", handle.session_id, settings.level.value,
                     _describe(settings.scope))

    @property
    def drop_copy_sessions(self) -> list[SessionHandle]:
        return [s.session for s in self._subscribers]

    def send_upstream(self, session: SessionHandle, msg_type: str,
                      body: Sequence[tuple[int, str]], account: str | None = None) -> int:
        """Send on the order-entry ``session`` and copy; returns the upstream MsgSeqNum."""
        seq = session.send(msg_type, body)
        self.on_upstream(session.session_id, account, msg_type, body)
        return seq

    def on_upstream(self, session_id: SessionID, account: str | None, msg_type: str,
                    body: Sequence[tuple[int, str]]) -> int:
        """A message was just sent upstream on ``session_id``; copy it. Returns copies sent.

        Call it right after each send, in send order (copies keep that order). ``account``
        defaults to the body's Account(1).
        """
        if msg_type not in COPIED_MSG_TYPES or not self._subscribers:
            return 0
        origin_role = self._roles.get(session_id, "")
        if origin_role == DROP_COPY_ROLE:
            return 0  # never copy copies
        if account is None:
            account = _first(body, TAG_ACCOUNT)
        copy: list[tuple[int, str]] | None = None
        sent = 0
        for sub in self._subscribers:
            if not sub.settings.scope.covers(session_id, origin_role, account):
                continue
            if not sub.settings.level.includes(msg_type, body):
                continue
            if copy is None:
                copy = copy_body(body)
            try:
                sub.session.send(msg_type, copy)
                sent += 1
            except Exception:  # one broken drop-copy session must not disturb trading
                log.exception("drop copy to %s failed for %s from %s", sub.session.session_id,
                              msg_type, session_id)
        return sent


def copy_body(body: Sequence[tuple[int, str]]) -> list[tuple[int, str]]:
    """The body with CopyMsgIndicator 797=Y as its first field (never inside a repeating group)."""
    return [(TAG_COPY_MSG_INDICATOR, "Y")] + [f for f in body if f[0] != TAG_COPY_MSG_INDICATOR]


# ---- drop-copy sessions are receive-only ----------------------------------------------------

TAG_REF_SEQ_NUM = 45
TAG_REF_MSG_TYPE = 372
TAG_BUSINESS_REJECT_REF_ID = 379
TAG_BUSINESS_REJECT_REASON = 380
TAG_TEXT = 58
REASON_UNSUPPORTED_MESSAGE_TYPE = "3"
REASON_NOT_AUTHORIZED = "6"

ORDER_MSG_NAMES = {
    "D": "NewOrderSingle", "F": "OrderCancelRequest", "G": "OrderCancelReplaceRequest",
    "H": "OrderStatusRequest", "q": "OrderMassCancelRequest", "AF": "OrderMassStatusRequest",
    "E": "NewOrderList", "K": "ListCancelRequest", "s": "NewOrderCross",
    "t": "CrossOrderCancelReplaceRequest", "u": "CrossOrderCancelRequest",
    "AB": "NewOrderMultileg", "AC": "MultilegOrderCancelReplace", "R": "QuoteRequest",
    "S": "Quote", "i": "MassQuote", "Z": "QuoteCancel",
}
_REF_ID_TAGS = (11, 790, 584, 66, 131, 117)  # ClOrdID, OrdStatusReqID, MassStatusReqID, ListID, QuoteReqID, QuoteID


def business_reject_for(session: SessionHandle, message: FixMessage) -> list[tuple[int, str]]:
    """The BusinessMessageReject body answering ``message`` received on a drop-copy session."""
    msg_type = message.msg_type
    name = ORDER_MSG_NAMES.get(msg_type)
    body: list[tuple[int, str]] = []
    seq = message.get(34)
    if seq:
        body.append((TAG_REF_SEQ_NUM, seq))
    body.append((TAG_REF_MSG_TYPE, msg_type))
    ref_id = next((message.get(t) for t in _REF_ID_TAGS if message.get(t)), None)
    if ref_id:
        body.append((TAG_BUSINESS_REJECT_REF_ID, ref_id))
    if name:
        body.append((TAG_BUSINESS_REJECT_REASON, REASON_NOT_AUTHORIZED))
        text = (f"drop-copy session {session.session_id} is receive-only: {name} (35={msg_type}) "
                f"refused, drop-copy sessions can never trade")
    else:
        body.append((TAG_BUSINESS_REJECT_REASON, REASON_UNSUPPORTED_MESSAGE_TYPE))
        text = (f"drop-copy session {session.session_id} is receive-only: MsgType 35={msg_type} "
                f"is not accepted on it")
    body.append((TAG_TEXT, text))
    return body


def refuse(session: SessionHandle, message: FixMessage) -> int:
    """Answer an application message from a drop-copy session with a BusinessMessageReject."""
    body = business_reject_for(session, message)
    log.warning("drop copy: refused 35=%s seq %s from %s", message.msg_type, message.get(34),
                session.session_id)
    return session.send("j", body)


class DropCopyGuard:
    """Wraps the service's Application: drop-copy sessions are handled here, never reach it.

    Their application messages get a BusinessMessageReject; their lifecycle events are not
    passed on either (a drop-copy session has no orders to cancel on disconnect). Every other
    session is delegated to ``inner`` unchanged.
    """

    def __init__(self, inner: Application):
        self.inner = inner

    @staticmethod
    def _is_drop_copy(session: SessionHandle) -> bool:
        return session.role == DROP_COPY_ROLE

    def on_create(self, session: SessionHandle) -> None:
        if not self._is_drop_copy(session):
            self.inner.on_create(session)

    def on_logon(self, session: SessionHandle) -> None:
        if not self._is_drop_copy(session):
            self.inner.on_logon(session)

    def on_logout(self, session: SessionHandle) -> None:
        if not self._is_drop_copy(session):
            self.inner.on_logout(session)

    def on_message(self, session: SessionHandle, message: FixMessage) -> None:
        if self._is_drop_copy(session):
            refuse(session, message)
        else:
            self.inner.on_message(session, message)


def _first(body: Sequence[tuple[int, str]], tag: int) -> str | None:
    for t, v in body:
        if t == tag:
            return v
    return None


def _describe(scope: DropCopyScope) -> str:
    sessions = "all order-entry sessions" if scope.sessions is None else ", ".join(sorted(scope.sessions))
    accounts = "" if scope.accounts is None else f" (accounts {', '.join(sorted(scope.accounts))})"
    return sessions + accounts

"""The FIX 4.4 OrdStatus state machine of a client order, as a table.

Rows are (current status, event) -> next status. ``WORKING`` is not a status: it resolves to
PartiallyFilled when something has filled and New otherwise, which is what FIX asks for when a
pending cancel or replace is refused or a replace completes. An event that has no row for the
current status raises :class:`IllegalTransition` naming both, so a bug can never silently send
an inconsistent ExecutionReport.

The real races are rows, not special cases:
- a fill while PendingCancel/PendingReplace keeps the pending status (it has precedence in
  FIX 4.4) unless it completes the order, which is then Filled and the cancel is refused;
- a cancel or replace of an order that is already Filled/Canceled/... has no row: the manager
  checks :func:`is_terminal` first and answers with an OrderCancelReject "too late".
"""
from __future__ import annotations

from enum import Enum

from fixgw.domain import OrdStatus


class OrderEvent(str, Enum):
    ACCEPT = "accept"                 # gateway accepted / first venue ack
    REJECT = "reject"                 # refused before it ever worked
    PARTIAL_FILL = "partial fill"
    FILL = "fill"                     # the fill that completes the order
    CANCEL_REQUESTED = "cancel requested"
    CANCEL_REFUSED = "cancel refused"
    CANCELED = "canceled"
    REPLACE_REQUESTED = "replace requested"
    REPLACE_REFUSED = "replace refused"
    REPLACED = "replaced"
    EXPIRE = "expire"                 # GTD/IOC/FOK/market remainder, algo end time
    DONE_FOR_DAY = "done for day"


WORKING = "working"  # resolved by :func:`next_status` from the cumulative quantity

S = OrdStatus
E = OrderEvent

_LIVE = (S.NEW, S.PARTIALLY_FILLED)
_PENDING = (S.PENDING_CANCEL, S.PENDING_REPLACE)

TRANSITIONS: dict[tuple[OrdStatus, OrderEvent], OrdStatus | str] = {
    (S.PENDING_NEW, E.ACCEPT): S.NEW,
    (S.PENDING_NEW, E.REJECT): S.REJECTED,
    # a fill can overtake the venue's ack on the wire
    (S.PENDING_NEW, E.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.PENDING_NEW, E.FILL): S.FILLED,
    (S.PENDING_NEW, E.CANCEL_REQUESTED): S.PENDING_CANCEL,
    (S.PENDING_NEW, E.CANCELED): S.CANCELED,
    (S.PENDING_NEW, E.EXPIRE): S.EXPIRED,

    **{(s, E.PARTIAL_FILL): S.PARTIALLY_FILLED for s in _LIVE},
    **{(s, E.FILL): S.FILLED for s in _LIVE},
    **{(s, E.CANCEL_REQUESTED): S.PENDING_CANCEL for s in _LIVE},
    **{(s, E.REPLACE_REQUESTED): S.PENDING_REPLACE for s in _LIVE},
    **{(s, E.CANCELED): S.CANCELED for s in _LIVE},   # unsolicited (IOC remainder, venue)
    **{(s, E.EXPIRE): S.EXPIRED for s in _LIVE},
    **{(s, E.DONE_FOR_DAY): S.DONE_FOR_DAY for s in _LIVE},
    (S.NEW, E.ACCEPT): S.NEW,                          # a second child acked: no change

    # races while a cancel is pending
    (S.PENDING_CANCEL, E.ACCEPT): S.PENDING_CANCEL,
    (S.PENDING_CANCEL, E.PARTIAL_FILL): S.PENDING_CANCEL,
    (S.PENDING_CANCEL, E.FILL): S.FILLED,
    (S.PENDING_CANCEL, E.CANCELED): S.CANCELED,
    (S.PENDING_CANCEL, E.CANCEL_REFUSED): WORKING,
    (S.PENDING_CANCEL, E.EXPIRE): S.EXPIRED,

    # races while a replace is pending
    (S.PENDING_REPLACE, E.ACCEPT): S.PENDING_REPLACE,
    (S.PENDING_REPLACE, E.PARTIAL_FILL): S.PENDING_REPLACE,
    (S.PENDING_REPLACE, E.FILL): S.FILLED,
    (S.PENDING_REPLACE, E.REPLACED): WORKING,
    (S.PENDING_REPLACE, E.REPLACE_REFUSED): WORKING,
    (S.PENDING_REPLACE, E.CANCELED): S.CANCELED,
    (S.PENDING_REPLACE, E.EXPIRE): S.EXPIRED,
}

TERMINAL = frozenset({S.FILLED, S.CANCELED, S.REJECTED, S.EXPIRED, S.DONE_FOR_DAY})


class IllegalTransition(RuntimeError):
    def __init__(self, status: OrdStatus, event: OrderEvent, order_ref: str = ""):
        where = f" (order {order_ref})" if order_ref else ""
        super().__init__(f"illegal order transition: event '{event.value}' in state "
                         f"{status.name}{where}")
        self.status = status
        self.event = event


def is_terminal(status: OrdStatus) -> bool:
    return status in TERMINAL


def is_pending(status: OrdStatus) -> bool:
    return status in _PENDING


def next_status(status: OrdStatus, event: OrderEvent, has_fills: bool,
                order_ref: str = "") -> OrdStatus:
    target = TRANSITIONS.get((status, event))
    if target is None:
        raise IllegalTransition(status, event, order_ref)
    if target == WORKING:
        return S.PARTIALLY_FILLED if has_fills else S.NEW
    return target  # type: ignore[return-value]

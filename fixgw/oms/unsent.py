"""Never lose a fill: after a restart, send the fill ExecutionReports a crash kept from going out.

A fill and its ExecutionReport's order state are committed to the journal first; the session
layer stores the ER (and assigns its MsgSeqNum) at the end of the same event-loop turn, in one
SQLite transaction for every session. A SIGKILL between the two leaves a fill booked whose
150=F never reached the session store, so neither the client nor a ResendRequest can ever see
it. On start, before anything else is reported, :func:`find_unsent_fills` finds those fills and
:func:`send_unsent_fills` reports them with their original ExecID.

A journaled fill is "unsent" when all of these hold:

* it is among the most recent ``RECENT_FILLS`` fills (the window is one event-loop turn; the
  bound only keeps the start-up check cheap);
* its ExecID counter is above every ExecID of ours found in any session's stored outgoing
  messages (the store commits all sessions at once, so anything older was committed with a
  later ER, or before it);
* its ExecID is not among its own session's stored outgoing messages;
* it was recorded after its session's last sequence reset (a reset deletes the stored
  messages on purpose: fills reported before it are not re-sent).

Why not the opposite order (store first, then journal)? Then a crash could report a fill the
journal does not know, and the restart would book and report it again: a fill doubled.
"""
from __future__ import annotations

import copy
import logging
import re
from decimal import Decimal

from fixgw.domain import ExecType, OrdStatus
from fixgw.oms.journal import Journal, JournaledFill

log = logging.getLogger(__name__)

RECENT_FILLS = 1000        # journaled fills checked at start-up
SCAN_MESSAGES = 5000       # stored outgoing messages scanned per session
_EXEC_ID = re.compile(rb"\x0117=([^\x01]+)\x01")


def exec_counter(exec_id: str | None, instance: str) -> int | None:
    """The journal counter in one of our ExecIDs (``<instance>-x<n>``), else None."""
    prefix = f"{instance}-x"
    if not exec_id or not exec_id.startswith(prefix):
        return None
    tail = exec_id[len(prefix):]
    return int(tail) if tail.isdigit() else None


def find_unsent_fills(journal: Journal, *, check_reset_time: bool = True
                      ) -> list[tuple[JournaledFill, str]] | None:
    """(fill, session key) of every journaled fill whose ER is not in the session store,
    oldest first; None when the store cannot be read (then nothing is re-sent: unknown)."""
    sessions = journal.stored_sessions()
    if sessions is None:
        return None
    instance = journal.instance
    stored: dict[str, set[str]] = {}
    highest = 0
    for key in sessions:
        raws = journal.stored_outgoing(key, SCAN_MESSAGES)
        if raws is None:
            return None
        ids: set[str] = set()
        for raw in raws:
            for match in _EXEC_ID.finditer(raw):
                exec_id = match.group(1).decode("ascii", "replace")
                ids.add(exec_id)
                n = exec_counter(exec_id, instance)
                if n is not None and n > highest:
                    highest = n
        stored[key] = ids
    unsent = []
    for fill, session, recorded_at in journal.recent_fills(RECENT_FILLS):
        n = exec_counter(fill.exec_id, instance)
        if n is None or n <= highest:
            continue
        if fill.exec_id in stored.get(session, ()):
            continue
        created = sessions.get(session)
        if check_reset_time and created is not None and recorded_at < created:
            continue
        unsent.append((fill, session))
    unsent.sort(key=lambda fs: exec_counter(fs[0].exec_id, instance) or 0)
    return unsent


def send_unsent_fills(manager, unsent: list[tuple[JournaledFill, str]]) -> int:
    """Report each unsent fill as the 150=F it was: original ExecID, LastQty/LastPx/LastMkt,
    fee, and the order's CumQty/AvgPx/LeavesQty just after that fill."""
    by_order: dict[str, list[JournaledFill]] = {}
    for fill, _ in unsent:
        by_order.setdefault(fill.order_id, []).append(fill)
    sent = 0
    for order_id, fills in by_order.items():
        order = manager.order(order_id)
        if order is None:
            log.error("unsent fill %s: order %s not in the journal", fills[0].exec_id, order_id)
            continue
        for i, fill in enumerate(fills):
            later = fills[i + 1:]
            view = copy.copy(order)
            view.cum_qty = order.cum_qty - sum((f.quantity for f in later), Decimal(0))
            view.notional = order.notional - sum((f.price * f.quantity for f in later),
                                                 Decimal(0))
            if later and view.cum_qty < view.quantity and order.status is OrdStatus.FILLED:
                view.status = OrdStatus.PARTIALLY_FILLED
            manager.send_report_copy(view, ExecType.TRADE, exec_id=fill.exec_id,
                                     last_qty=fill.quantity, last_px=fill.price,
                                     last_mkt=fill.venue, commission=fill.fee,
                                     comm_currency=fill.fee_currency,
                                     last_liquidity=None if fill.is_maker is None
                                     else (1 if fill.is_maker else 2))
            log.warning("fill %s of %s (%s %s @ %s on %s) reported after restart: its "
                        "ExecutionReport had not reached the session store", fill.exec_id,
                        order_id, fill.side.name, fill.quantity, fill.price, fill.venue)
            sent += 1
    return sent

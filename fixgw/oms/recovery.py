"""Restart reconciliation: make the journal agree with what the venues actually did.

After a crash the journal knows every client order that was accepted and every child that
*may* have reached a venue (children are journaled before they are sent). For each child not
known to be finished, ask its venue (``fetch_order`` by our client order id): a child the venue
does not know never left us and is marked rejected; one it knows takes the venue's state. Then
the venue's trade history since the child was created is replayed through the normal fill path,
which books each trade exactly once (the journal's (venue, trade id) key) and reports upstream
the fills missed while down. Nothing is ever re-sent: the same client order ids would be refused
as duplicates by a venue anyway.

Algo parents resume: their scheduler's private state is not journaled, so the old children are
canceled and, once they are settled, a new scheduler works the leaves quantity from now to the
same end time, limit and parameters (an end time already past expires the parent); DMA orders
continue (resting children keep working at their venues).
"""
from __future__ import annotations

import logging

from fixgw.domain import ExecType, OrdStatus
from fixgw.fix import messages as m
from fixgw.oms.order import ChildState, ClientOrder
from fixgw.oms.state import OrderEvent

log = logging.getLogger(__name__)


async def reconcile(manager, orders: list[ClientOrder]) -> dict[str, int]:
    stats = {"orders": len(orders), "children_checked": 0, "never_sent": 0, "fills_replayed": 0}
    by_venue_symbol: dict[tuple[str, str], int] = {}
    for order in orders:
        # no order completes on a partial picture (e.g. an algo parent taken for a DMA order
        # whose children all ended, or resumed before its missed fills are booked)
        manager.runtime[order.order_id].reconciling = True
    try:
        await _reconcile_children(manager, orders, stats, by_venue_symbol)
    finally:
        for order in orders:
            manager.runtime[order.order_id].reconciling = False
    _resume(manager, orders)
    log.info("reconciliation: %s", stats)
    return stats


async def _reconcile_children(manager, orders, stats, by_venue_symbol) -> None:
    for order in orders:
        for child in list(order.children.values()):
            if child.state is ChildState.REJECTED or (child.state.done
                                                      and child.filled >= child.quantity):
                continue   # nothing the venue could still tell us about it
            stats["children_checked"] += 1
            venue = manager.venues.get(child.venue)
            if venue is None:
                manager._child_rejected(child, f"{child.venue}: venue no longer configured", None)
                continue
            try:
                update = await venue.fetch_order(child.client_order_id, child.symbol)
            except Exception as e:
                log.warning("reconcile: %s at %s unknown (%s); will retry via stream/poll",
                            child.client_order_id, child.venue, e)
                manager.child_rt[child.client_order_id].submit_done = True
                continue
            crt = manager.child_rt[child.client_order_id]
            crt.submit_done = True
            if update is None:
                stats["never_sent"] += 1
                # never left us: the order's quantity is still ours to route (a new child with
                # a new id, so nothing is ever sent twice)
                rt = manager.runtime[order.order_id]
                rt.reroute = not order.is_algo
                reasons = list(rt.venue_reasons)
                manager._child_rejected(child, f"{child.venue}: never reached the venue "
                                        f"(gateway restarted)", None)
                rt.venue_reasons[:] = reasons
            else:
                manager._apply_update(child, update)
            key = (child.venue, child.symbol)
            since = int(child.created_at * 1000) - 60_000
            by_venue_symbol[key] = min(by_venue_symbol.get(key, since), since)
    # replay trade history once per venue/symbol: booked fills are skipped by their trade id
    for order in orders:
        for child in order.children.values():
            key = (child.venue, child.symbol)
            if key not in by_venue_symbol and child.state is not ChildState.REJECTED:
                by_venue_symbol[key] = int(child.created_at * 1000) - 60_000
    for (venue_name, symbol), since in by_venue_symbol.items():
        venue = manager.venues.get(venue_name)
        if venue is None:
            continue
        try:
            fills = await venue.fetch_fills(symbol, since)
        except Exception as e:
            log.warning("reconcile: trade history of %s %s unavailable: %s", venue_name, symbol, e)
            continue
        by_venue_id = {(c.venue, c.venue_order_id): c for o in orders
                       for c in o.children.values() if c.venue_order_id}
        for fill in fills:
            # a venue's trade history may carry only its own order id, not ours
            child = manager.children.get(fill.client_order_id) or \
                by_venue_id.get((fill.venue, fill.venue_order_id))
            if child is None or manager.journal.has_fill(fill.venue, fill.trade_id):
                continue
            manager._apply_fill(child, fill)
            stats["fills_replayed"] += 1


def _resume(manager, orders: list[ClientOrder]) -> None:
    """Every open order continues as its state says (children and fills now reconciled)."""
    for order in orders:
        if order.terminal:
            continue
        rt = manager.runtime[order.order_id]
        if order.is_algo and order.status is OrdStatus.PENDING_REPLACE:
            _refuse_lost_replace(manager, order)   # the parent resumes as it was
        if order.is_algo:
            # the old scheduler's children are pulled; once they are settled a new scheduler
            # works the remainder to the same end time (lifecycle._resume_algo), or the parent
            # expires if that end has passed; a cancel requested before the crash completes
            if order.status is OrdStatus.PENDING_NEW:
                manager._apply(order, OrderEvent.ACCEPT)
                manager._report(order, ExecType.NEW)
            if order.status is not OrdStatus.PENDING_CANCEL:
                rt.resume_algo = manager.algo_factory is not None
                if not rt.resume_algo:
                    rt.closing = OrderEvent.CANCELED
                    rt.closing_text = "algo parent canceled: no algo engine after the restart"
            for child in order.open_children():
                manager._request_child_cancel(child)
        elif order.status is OrdStatus.PENDING_REPLACE:
            _refuse_lost_replace(manager, order)   # the order keeps working
        elif order.status is OrdStatus.PENDING_CANCEL:
            for child in order.open_children():
                manager._request_child_cancel(child)
        manager._arm_expiry(order)
        if order.status is OrdStatus.PENDING_NEW and not any(
                c.state is not ChildState.REJECTED for c in order.children.values()):
            if not order.children:
                # accepted and journaled, never routed: route it now (no child was sent)
                manager._spawn(manager._route(order, order.quantity))
                continue
        elif order.status is OrdStatus.PENDING_NEW:
            manager._apply(order, OrderEvent.ACCEPT)
            manager._report(order, ExecType.NEW)
        manager._maybe_complete(order)



def _refuse_lost_replace(manager, order: ClientOrder) -> None:
    """A replace pending at the crash: its details were not journaled, so it is refused
    (OrderCancelReject to its new ClOrdID) and the order goes on under its old terms."""
    new_id = order.pending_cl_ord_id
    order.pending_cl_ord_id = None
    manager._apply(order, OrderEvent.REPLACE_REFUSED)
    if new_id:
        manager._cancel_reject(order.session_key, order, new_id, order.cl_ord_id,
                               m.CxlRejResponseTo.REPLACE, m.CxlRejReason.OTHER,
                               "replace lost: the gateway restarted before it completed")

"""The order manager: FIX order-entry application, order lifecycle, child orders at venues.

The class is assembled from three parts, one job each: :mod:`fixgw.oms.entry` (inbound FIX
order messages), :mod:`fixgw.oms.lifecycle` (how an order completes) and
:mod:`fixgw.oms.execution` (child orders at the venues); this module holds the state, the
upstream sending (journal first), ids and the Application interface.

One object owns every client order (:class:`ClientOrder`) and every child order. Inbound FIX
messages arrive through :meth:`on_message` (sync, on the event loop); venue events through the
adapters' ``on_event`` callbacks; venue I/O (submit, cancel) runs in tasks. All state changes
happen on the loop thread, so no locks: a task that awaits a venue re-reads the order after
the await.

Order of effects, always: journal (committed) -> venue / upstream. A child is journaled before
it is submitted; a fill is journaled (deduplicated by venue trade id) before its
ExecutionReport is sent.

DMA orders (no 847): the SOR splits them into child orders at venues; the client sees New once
the first venue acknowledges (or fills), or a Rejected ER if every venue refused. Algo parents
(847): accepted at once (New), worked by an H5 scheduler (:mod:`fixgw.oms.algo_host`).
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import time as _time
from decimal import Decimal
from typing import Callable, Mapping

from fixgw.clock import Clock
from fixgw.config import OmsConfig
from fixgw.domain import ExecType, OrdStatus
from fixgw.fix import messages as m
from fixgw.fix.message import FixMessage
from fixgw.oms.entry import OrderEntry
from fixgw.oms.execution import VenueExecution
from fixgw.oms.journal import Journal
from fixgw.oms.lifecycle import OrderLifecycle
from fixgw.oms.order import ChildOrder, ChildState, ClientOrder, build_report
from fixgw.oms.ports import MarketView
from fixgw.oms.runtime import ChildRuntime, OrderRuntime
from fixgw.oms.state import IllegalTransition, OrderEvent
from fixgw.session.application import SessionHandle
from fixgw.venues.base import VenueAdapter

log = logging.getLogger(__name__)


class ChildRuntimeTable(dict):
    """child client order id -> :class:`ChildRuntime`, with an index slice id -> child ids.

    An algo slice's venue children are looked up on every fill and settle; scanning all of a
    parent's children each time is quadratic for a parent with thousands of them. The index is
    kept here, on insertion, so every place that adds a child runtime (routing, loading the
    journal on restart) maintains it without knowing about it. A child's ``slice_id`` is fixed
    when its runtime is created (set it before inserting, never after)."""

    def __init__(self) -> None:
        super().__init__()
        self._by_slice: dict[str, list[str]] = {}

    def __setitem__(self, client_order_id: str, crt: ChildRuntime) -> None:
        old = self.get(client_order_id)
        if old is not None:
            self._unindex(client_order_id, old.slice_id)
        super().__setitem__(client_order_id, crt)
        if crt.slice_id is not None:
            self._by_slice.setdefault(crt.slice_id, []).append(client_order_id)

    def __delitem__(self, client_order_id: str) -> None:
        self._unindex(client_order_id, self[client_order_id].slice_id)
        super().__delitem__(client_order_id)

    def pop(self, client_order_id: str, *default):
        if client_order_id in self:
            self._unindex(client_order_id, self[client_order_id].slice_id)
        return super().pop(client_order_id, *default)

    def update(self, *args, **kw) -> None:
        for cid, crt in dict(*args, **kw).items():
            self[cid] = crt

    def setdefault(self, client_order_id: str, default: ChildRuntime) -> ChildRuntime:
        if client_order_id not in self:
            self[client_order_id] = default
        return self[client_order_id]

    def popitem(self):
        raise TypeError("ChildRuntimeTable.popitem: remove a child by its id")

    def clear(self) -> None:
        super().clear()
        self._by_slice.clear()

    def in_slice(self, slice_id: str) -> list[str]:
        """Client order ids of the children sent for ``slice_id``, in the order they were added."""
        return list(self._by_slice.get(slice_id, ()))

    def _unindex(self, client_order_id: str, slice_id: str | None) -> None:
        if slice_id is None:
            return
        ids = self._by_slice.get(slice_id)
        if ids is not None and client_order_id in ids:
            ids.remove(client_order_id)
            if not ids:
                del self._by_slice[slice_id]


class OrderManager(OrderEntry, OrderLifecycle, VenueExecution):
    """The order-entry :class:`~fixgw.session.application.Application` of the gateway."""

    def __init__(self, *, journal: Journal, clock: Clock, venues: Mapping[str, VenueAdapter],
                 router, market: MarketView, config: OmsConfig | None = None, risk=None,
                 drop_copy=None, algo_factory: Callable | None = None,
                 tca: Callable | None = None, crash_at: str | None = None):
        self.journal = journal
        self.clock = clock
        self.venues = dict(venues)
        self.router = router
        self.market = market
        self.config = config or OmsConfig()
        self.risk = risk
        self.drop_copy = drop_copy
        self.algo_factory = algo_factory    # (order, manager) -> AlgoRun, raises ValueError
        self.tca = tca                      # (order, fills) -> Decimal shortfall bps
        self.sessions: dict[str, SessionHandle] = {}
        self.orders: dict[str, ClientOrder] = {}
        self.live: dict[str, ClientOrder] = {}      # not terminal (see open_orders)
        self.runtime: dict[str, OrderRuntime] = {}
        self.by_cl_ord_id: dict[tuple[str, str], str] = {}
        self.used_cl_ord_ids: set[tuple[str, str]] = set()
        self.children: dict[str, ChildOrder] = {}
        self.child_rt: ChildRuntimeTable = ChildRuntimeTable()
        # retention (docs/oms-retention.md): terminal orders by the time of their last
        # activity, oldest first (a touch moves an order to the end), and the (session,
        # ClOrdID) keys each order holds in the two ClOrdID indexes, to drop them with it
        self._terminal_since: dict[str, float] = {}
        self._claims: dict[str, list[tuple[str, str]]] = {}
        self._retention_timer: asyncio.TimerHandle | None = None
        self.forgotten_orders = 0      # orders dropped from memory since start (monitoring)
        self.revived_orders = 0        # forgotten orders reloaded for a late venue event
        self.tasks: set[asyncio.Task] = set()
        self.instance = journal.instance
        self.listeners: list[Callable[[str, str, list], None]] = []  # (session_key, msg_type, body)
        self.kill_switch = None   # KillSwitchController (H8), set by the service
        self._crash_at = crash_at  # fault injection for the crash tests (FIXGW_CRASH_AT)
        for v in self.venues.values():
            v.on_event(self.on_venue_event)

    # =========================================================================================
    # start-up

    def load(self) -> list[ClientOrder]:
        """Rebuild in-memory state from the journal; return the orders still open.

        Only open orders and their ClOrdIDs are loaded; a finished order is read back from
        the journal when someone asks about it (:meth:`order`), and a ClOrdID not in memory is
        checked against the journal before it is taken as new (:meth:`_cl_ord_id_used`)."""
        for session, cl_ord_id, order_id in self.journal.open_cl_ord_ids():
            self._remember_claim(session, cl_ord_id, order_id)
        open_orders = []
        for order in self.journal.orders(open_only=True):
            self.orders[order.order_id] = order
            self.runtime[order.order_id] = OrderRuntime()
            if not order.terminal:
                open_orders.append(order)
                self.live[order.order_id] = order
                for child in self.journal.children(order.order_id):
                    order.children[child.client_order_id] = child
                    self.children[child.client_order_id] = child
                    self.child_rt[child.client_order_id] = ChildRuntime(
                        venue_filled=child.filled, submit_done=child.state != ChildState.CREATED)
        return open_orders

    # =========================================================================================
    # Application interface

    def on_create(self, session: SessionHandle) -> None:
        self.sessions[str(session.session_id)] = session

    def on_logon(self, session: SessionHandle) -> None:
        self.sessions[str(session.session_id)] = session

    def on_logout(self, session: SessionHandle) -> None:
        if session.settings.get("cancel_on_disconnect"):
            key = str(session.session_id)
            affected = self.cancel_all(session_key=key,
                                       reason=f"cancel on disconnect of session {key}")
            log.warning("cancel on disconnect %s: %d orders", key, len(affected))

    def on_message(self, session: SessionHandle, message: FixMessage) -> None:
        msg_type = message.msg_type
        try:
            handler = self._handlers.get(msg_type)
            if handler is None:
                self._business_reject(session, message, m.BusinessRejectReason.UNSUPPORTED_MESSAGE_TYPE,
                                      f"MsgType 35={msg_type} is not supported by the order gateway")
                return
            handler(self, session, message)
        except Exception as e:  # our own bug: log it, answer, never take the session down
            log.exception("order gateway failed on 35=%s from %s", msg_type, session.session_id)
            self._business_reject(session, message, m.BusinessRejectReason.OTHER,
                                  f"internal error processing 35={msg_type}: {type(e).__name__}")

    # =========================================================================================
    # sending upstream

    def _apply(self, order: ClientOrder, event: OrderEvent) -> None:
        try:
            order.apply(event)
        except IllegalTransition:
            log.error("illegal transition on %s: %s in %s", order.order_id, event.value,
                      order.status.name)
            raise
        order.updated_at = self.clock.now()

    def _report(self, order: ClientOrder, exec_type: ExecType, *, exec_id: str | None = None,
                **kw) -> m.ExecutionReport:
        now = self.clock.now()
        er = build_report(order, exec_type, exec_id or self._new_exec_id(), now, **kw)
        with self.journal.transaction():
            self.journal.save_order(order)
            self.journal.record_report(er.exec_id, order.order_id, exec_type.value,
                                       er.ord_status.value, er.cum_qty, er.avg_px, er.leaves_qty,
                                       now)
        self._send(order.session_key, m.MsgType.EXECUTION_REPORT, er.body(), order.account)
        if order.terminal:
            self._touch_terminal(order)
        return er

    def send_report_copy(self, view: ClientOrder, exec_type: ExecType, *, exec_id: str,
                         **kw) -> m.ExecutionReport:
        """Send an ER already journaled (ExecID and order state in the journal) without
        journaling it again: the restart path for reports a crash kept from going out."""
        er = build_report(view, exec_type, exec_id, self.clock.now(), **kw)
        self._send(view.session_key, m.MsgType.EXECUTION_REPORT, er.body(), view.account)
        return er

    def _cancel_reject(self, key: str, order: ClientOrder | None, cl_ord_id: str, orig: str,
                       response_to: str, reason: int, text: str) -> None:
        ocr = m.OrderCancelReject(
            order_id=order.order_id if order else "NONE", cl_ord_id=cl_ord_id,
            orig_cl_ord_id=orig, ord_status=order.status if order else OrdStatus.REJECTED,
            response_to=response_to, reason=reason, text=text, transact_time=self.clock.now(),
            account=order.account if order else None)
        log.info("cancel/replace %s refused on %s: %s", cl_ord_id, key, text)
        self._send(key, m.MsgType.ORDER_CANCEL_REJECT, ocr.body(), ocr.account)

    def _send(self, key: str, msg_type: str, body: list, account: str | None) -> None:
        session = self.sessions.get(key)
        if session is None:
            log.error("no session %s for 35=%s", key, msg_type)
            return
        if self.drop_copy is not None:
            self.drop_copy.send_upstream(session, msg_type, body, account)
        else:
            session.send(msg_type, body)
        for listener in self.listeners:
            listener(key, msg_type, body)

    def _business_reject(self, session: SessionHandle, message: FixMessage, reason: int,
                         text: str) -> None:
        ref = message.get(34)
        bmr = m.BusinessMessageReject(ref_msg_type=message.msg_type or "?", reason=reason,
                                      text=text, ref_seq_num=int(ref) if ref and ref.isdigit() else None,
                                      ref_id=message.get(11))
        session.send(m.MsgType.BUSINESS_MESSAGE_REJECT, bmr.body())

    # =========================================================================================
    # ids, tasks, helpers

    def _crash_point(self, name: str) -> None:
        """Die here like a SIGKILL would (crash tests only: FIXGW_CRASH_AT=<name>)."""
        if self._crash_at == name:
            log.critical("crash point %s: killing the gateway", name)
            os.kill(os.getpid(), signal.SIGKILL)

    def _new_order_id(self) -> str:
        return f"{self.instance}-{self.journal.next_id('order')}"

    def _new_exec_id(self) -> str:
        return f"{self.instance}-x{self.journal.next_id('exec')}"

    def _new_child_id(self, order: ClientOrder) -> str:
        """``<prefix><instance>-<order seq>-<child seq>``: deterministic, unique, <= 36 chars."""
        n = order.next_child
        order.next_child += 1
        seq = order.order_id.rsplit("-", 1)[-1]
        return f"{self.config.child_id_prefix}{self.instance}-{seq}-{n}"

    def _claim(self, key: str, cl_ord_id: str, order_id: str) -> None:
        self._remember_claim(key, cl_ord_id, order_id)
        self.journal.claim_cl_ord_id(key, cl_ord_id, order_id)

    def _remember_claim(self, key: str, cl_ord_id: str, order_id: str | None) -> None:
        """The in-memory side of a claim: both ClOrdID indexes, and the order's list of keys
        so that forgetting the order (retention) removes them too."""
        self.used_cl_ord_ids.add((key, cl_ord_id))
        if order_id:
            self.by_cl_ord_id[(key, cl_ord_id)] = order_id
            self._claims.setdefault(order_id, []).append((key, cl_ord_id))

    def _cl_ord_id_used(self, key: str, cl_ord_id: str) -> bool:
        """Duplicate check: in memory, else in the journal (the ClOrdIDs of forgotten
        orders, and of orders finished before a restart, are only there)."""
        return (key, cl_ord_id) in self.used_cl_ord_ids or \
            self.journal.cl_ord_id_used(key, cl_ord_id)

    def _spawn(self, coro) -> asyncio.Task:
        """Run ``coro`` in the background, keeping a reference (the loop only holds weak
        ones) and logging an exception that escapes it, which would otherwise be lost."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self.tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("background task %s failed",
                      getattr(task.get_coro(), "__qualname__", task.get_name()), exc_info=exc)

    def _wall_seconds(self, market_seconds: float) -> float:
        convert = getattr(self.clock, "wall_seconds", None)
        return convert(market_seconds) if convert else market_seconds

    def slice_children(self, order: ClientOrder, slice_id: str) -> list[ChildOrder]:
        """The venue child orders sent for one algo child intent (from the slice index: the
        cost is the slice's size, not the parent's child count)."""
        return [order.children[cid] for cid in self.child_rt.in_slice(slice_id)
                if cid in order.children]

    def slice_venue_filled(self, order: ClientOrder, slice_id: str) -> Decimal:
        """Cumulative filled of one algo slice's venue orders: the larger of what the venues
        reported (order updates, cancel responses) and the fills booked."""
        total = Decimal(0)
        for c in self.slice_children(order, slice_id):
            total += max(c.filled, self.child_rt[c.client_order_id].venue_filled)
        return total

    def order(self, order_id: str) -> ClientOrder | None:
        """The order by OrderID: in memory, or a finished one read back from the journal.

        A finished order read back is a view, not kept: answering a status request or a late
        cancel about it must not make memory grow again (docs/oms-retention.md)."""
        order = self.orders.get(order_id)
        if order is None:
            order = self.journal.order(order_id)
            if order is not None and not order.terminal:   # (load() keeps every open order)
                self.orders[order_id] = order
                self.runtime[order_id] = OrderRuntime()
                self.live[order_id] = order
        return order

    def open_orders(self) -> list[ClientOrder]:
        """Orders not yet terminal (the ``live`` index, pruned as orders finish)."""
        done = [oid for oid, o in self.live.items() if o.terminal]
        for oid in done:
            del self.live[oid]
        return list(self.live.values())

    # =========================================================================================
    # retention: finished orders leave memory (docs/oms-retention.md)

    def _touch_terminal(self, order: ClientOrder) -> None:
        """A terminal order had activity (its terminal report, a child settling, a late
        fill): its retention starts again from now. Moving it to the end keeps the table
        ordered by time, so the sweep reads only the due head."""
        oid = order.order_id
        if oid not in self.orders:
            return
        self._terminal_since.pop(oid, None)
        self._terminal_since[oid] = self.clock.now()

    def _forgettable(self, order: ClientOrder) -> bool:
        """Terminal, and nothing of it can still change: no routing or reconciliation in
        flight, every child done at its venue with every fill the venue reported booked (else
        a fill is on its way: the late-fill window, in which a fill chase may be running)."""
        if not order.terminal:
            return False
        rt = self.runtime.get(order.order_id)
        if rt is not None and (rt.routing or rt.reconciling):
            return False
        for child in order.children.values():
            if not child.state.done:
                return False
            crt = self.child_rt.get(child.client_order_id)
            if crt is not None and child.filled < crt.venue_filled:
                return False
        return True

    def sweep_retention(self) -> int:
        """Forget every terminal order idle for ``oms.retain_terminal_orders_s``; return how
        many. Cost: the orders due (the table is oldest first, the walk stops at the first
        one not due). An order due but still able to change is looked at again one
        retention period later."""
        retain = self.config.retain_terminal_orders_s
        now = self.clock.now()
        forgotten = 0
        again: list[str] = []
        table = self._terminal_since
        while table:
            oid = next(iter(table))
            if table[oid] + retain > now:
                break
            del table[oid]
            order = self.orders.get(oid)
            if order is None:
                continue
            if self._forgettable(order):
                self._forget(order)
                forgotten += 1
            elif order.terminal:
                again.append(oid)
        for oid in again:
            table[oid] = now
        if forgotten:
            self.forgotten_orders += forgotten
            log.debug("retention: %d finished orders left memory (%d in memory)", forgotten,
                      len(self.orders))
        return forgotten

    def _forget(self, order: ClientOrder) -> None:
        """Drop a finished order and everything indexed by it; the journal keeps it all."""
        oid = order.order_id
        for cid in order.children:
            self.children.pop(cid, None)
            self.child_rt.pop(cid, None)
        rt = self.runtime.pop(oid, None)
        if rt is not None:
            if rt.timer is not None:
                rt.timer.cancel()
            if rt.algo is not None:
                rt.algo.stop()
        self.orders.pop(oid, None)
        self.live.pop(oid, None)
        self._terminal_since.pop(oid, None)
        for key in self._claims.pop(oid, ()):
            if self.by_cl_ord_id.get(key) == oid:
                del self.by_cl_ord_id[key]
                self.used_cl_ord_ids.discard(key)

    def _revive_child(self, event) -> ChildOrder | None:
        """A venue event for a child not in memory: if it is one of ours that retention
        forgot and the event can change something (a fill not yet booked, or a cumulative
        filled above the booked one), reload its order with every child from the journal
        and return the child, so the event is booked the normal way, exactly once."""
        from fixgw.venues.base import VenueFill
        child = None
        if event.client_order_id and event.client_order_id.startswith(self._child_id_stem()):
            child = self.journal.child(event.client_order_id)
        if child is None and event.venue_order_id:
            child = self.journal.child_by_venue_order_id(event.venue, event.venue_order_id)
        if child is None:
            return None                       # not one of ours
        if child.order_id in self.orders:     # its order is in memory: use the live child
            return self.children.get(child.client_order_id)
        if isinstance(event, VenueFill):
            if self.journal.has_fill(event.venue, event.trade_id):
                return None
        elif event.filled <= child.filled:
            return None   # a repeat of what the journal has (e.g. a late cancel ack)
        order = self.journal.order(child.order_id)
        if order is None:
            return None
        self.orders[order.order_id] = order
        self.runtime[order.order_id] = OrderRuntime()
        if not order.terminal:
            self.live[order.order_id] = order
        for c in self.journal.children(order.order_id):
            order.children[c.client_order_id] = c
            self.children[c.client_order_id] = c
            self.child_rt[c.client_order_id] = ChildRuntime(venue_filled=c.filled,
                                                            submit_done=True)
        self._touch_terminal(order)
        self.revived_orders += 1
        log.warning("venue event %s for child %s of forgotten order %s (%s): order reloaded "
                    "from the journal", type(event).__name__, child.client_order_id,
                    order.order_id, order.status.name)
        return self.children.get(child.client_order_id)

    def _child_id_stem(self) -> str:
        return f"{self.config.child_id_prefix}{self.instance}-"

    def start_retention(self) -> None:
        """Run :meth:`sweep_retention` every ``oms.retention_sweep_s`` (wall seconds) on the
        running loop until :meth:`stop_retention`."""
        loop = asyncio.get_running_loop()

        def tick() -> None:
            try:
                self.sweep_retention()
            except Exception:
                log.exception("retention sweep failed")
            self._retention_timer = loop.call_later(self.config.retention_sweep_s, tick)

        self.stop_retention()
        self._retention_timer = loop.call_later(self.config.retention_sweep_s, tick)

    def stop_retention(self) -> None:
        if self._retention_timer is not None:
            self._retention_timer.cancel()
            self._retention_timer = None

    async def drain(self, timeout: float = 5.0) -> None:
        """Wait for venue tasks in flight (shutdown, tests)."""
        deadline = _time.monotonic() + timeout
        while self.tasks and _time.monotonic() < deadline:
            await asyncio.wait(list(self.tasks), timeout=max(0.0, deadline - _time.monotonic()))

    _handlers = {
        m.MsgType.NEW_ORDER_SINGLE: OrderEntry._on_new_order,
        m.MsgType.ORDER_CANCEL_REQUEST: OrderEntry._on_cancel,
        m.MsgType.ORDER_CANCEL_REPLACE_REQUEST: OrderEntry._on_replace,
        m.MsgType.ORDER_STATUS_REQUEST: OrderEntry._on_status,
        m.MsgType.ORDER_MASS_CANCEL_REQUEST: OrderEntry._on_mass_cancel,
    }

"""The order manager: FIX order-entry application, order lifecycle, child orders at venues.

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
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable, Iterable, Mapping

from fixgw.clock import Clock
from fixgw.config import OmsConfig
from fixgw.domain import ZERO, ExecType, OrdStatus, OrdType, Side, Strategy, TimeInForce
from fixgw.fix import messages as m
from fixgw.fix.message import FixMessage
from fixgw.oms.journal import Journal, JournaledFill
from fixgw.oms.order import ChildOrder, ChildState, ClientOrder, build_report
from fixgw.oms.ports import MarketView
from fixgw.oms.state import IllegalTransition, OrderEvent, is_pending
from fixgw.session.application import SessionHandle
from fixgw.venues.base import (VenueAdapter, VenueError, VenueErrorKind, VenueEvent, VenueFill,
                               VenueOrderRequest, VenueOrderState, VenueOrderUpdate)

log = logging.getLogger(__name__)

BPS = Decimal(10_000)


class OrdRejReason:
    BROKER_OPTION = 0
    UNKNOWN_SYMBOL = 1
    EXCHANGE_CLOSED = 2
    EXCEEDS_LIMIT = 3
    TOO_LATE = 4
    UNKNOWN_ORDER = 5
    DUPLICATE = 6
    UNSUPPORTED = 11
    INCORRECT_QTY = 13
    OTHER = 99


_FIELD_REJECT_REASON = {38: OrdRejReason.INCORRECT_QTY, 55: OrdRejReason.UNKNOWN_SYMBOL,
                        40: OrdRejReason.UNSUPPORTED, 59: OrdRejReason.UNSUPPORTED,
                        847: OrdRejReason.UNSUPPORTED, 848: OrdRejReason.UNSUPPORTED,
                        126: OrdRejReason.TOO_LATE}

_VENUE_REJECT_REASON = {VenueErrorKind.INSUFFICIENT_FUNDS: OrdRejReason.BROKER_OPTION,
                        VenueErrorKind.INVALID_ORDER: OrdRejReason.OTHER,
                        VenueErrorKind.RATE_LIMITED: OrdRejReason.OTHER,
                        VenueErrorKind.UNAVAILABLE: OrdRejReason.EXCHANGE_CLOSED,
                        VenueErrorKind.WOULD_TAKE: OrdRejReason.OTHER,
                        VenueErrorKind.AUTH: OrdRejReason.BROKER_OPTION}


@dataclass
class ChildRuntime:
    """What the manager knows about a child beyond its journaled record."""

    venue_filled: Decimal = ZERO          # cumulative filled as last reported by the venue
    cancel_wanted: bool = False           # cancel as soon as the submit returns
    submit_done: bool = False
    slice_id: str | None = None           # the algo child intent it belongs to
    chase_task: asyncio.Task | None = None


@dataclass
class OrderRuntime:
    """Per client order, not journaled: how it must end once its children are settled."""

    closing: OrderEvent | None = None     # CANCELED / EXPIRE / DONE_FOR_DAY when no client request
    closing_text: str | None = None
    venue_reasons: list[str] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None
    venue_error_kinds: list[VenueErrorKind] = field(default_factory=list)
    routing: bool = False                 # a routing task is placing children right now
    reroute: bool = False                 # restart: children that never left us are re-routed
    algo: object | None = None            # fixgw.oms.algo_host.AlgoRun


class OrderManager:
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
        self.runtime: dict[str, OrderRuntime] = {}
        self.by_cl_ord_id: dict[tuple[str, str], str] = {}
        self.used_cl_ord_ids: set[tuple[str, str]] = set()
        self.children: dict[str, ChildOrder] = {}
        self.child_rt: dict[str, ChildRuntime] = {}
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
        """Rebuild in-memory state from the journal; return the orders still open."""
        for session, cl_ord_id, order_id in self.journal.session_cl_ord_ids():
            self.used_cl_ord_ids.add((session, cl_ord_id))
            if order_id:
                self.by_cl_ord_id[(session, cl_ord_id)] = order_id
        open_orders = []
        for order in self.journal.orders():
            self.orders[order.order_id] = order
            self.runtime[order.order_id] = OrderRuntime()
            if not order.terminal:
                open_orders.append(order)
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
    # NewOrderSingle

    def _on_new_order(self, session: SessionHandle, message: FixMessage) -> None:
        key = str(session.session_id)
        now = self.clock.now()
        try:
            nos = m.decode_new_order_single(message)
        except m.FieldError as e:
            self._reject_raw_nos(key, message, _FIELD_REJECT_REASON.get(e.tag, OrdRejReason.OTHER),
                                 str(e), claim=True)
            return
        if (key, nos.cl_ord_id) in self.used_cl_ord_ids:
            existing = self._find(key, nos.cl_ord_id, None)
            if message.get(97) == "Y" and existing is not None:
                # a possible resend of an order we have: answer with its status, never as a
                # second order and never with a reject that could be read as the original's
                er = build_report(existing, ExecType.ORDER_STATUS, self._new_exec_id(), now,
                                  cl_ord_id=existing.cl_ord_id,
                                  orig_cl_ord_id=existing.orig_cl_ord_id,
                                  text="PossResend of a known ClOrdID: current status")
                self._send(key, m.MsgType.EXECUTION_REPORT, er.body(), existing.account)
                return
            self._reject_raw_nos(key, message, OrdRejReason.DUPLICATE,
                                 f"duplicate ClOrdID(11) '{nos.cl_ord_id}' on session {key}",
                                 claim=False)
            return
        order = ClientOrder(
            order_id=self._new_order_id(), session_key=key, cl_ord_id=nos.cl_ord_id,
            symbol=nos.symbol, side=nos.side, ord_type=nos.ord_type, quantity=nos.quantity,
            price=nos.price if nos.ord_type is OrdType.LIMIT else None, tif=nos.tif,
            account=nos.account or self.config.default_account, expire_time=nos.expire_time,
            effective_time=nos.effective_time, strategy=nos.strategy, urgency=nos.urgency,
            participation_rate=nos.participation_rate, max_floor=nos.max_floor,
            strategy_params=nos.strategy_params, created_at=now, updated_at=now)
        problem = self._validate_new(order, session)
        self.orders[order.order_id] = order
        self.runtime[order.order_id] = OrderRuntime()
        self.used_cl_ord_ids.add((key, order.cl_ord_id))
        self.by_cl_ord_id[(key, order.cl_ord_id)] = order.order_id
        book = self.market.book(order.symbol) if problem is None else None
        order.arrival_price = book.mid() if book is not None else None
        algo = None
        if problem is None and order.is_algo:
            try:
                algo = self.algo_factory(order, self) if self.algo_factory else None
                if algo is None:
                    problem = (OrdRejReason.UNSUPPORTED,
                               f"TargetStrategy(847)={order.strategy.value}: no algo engine")
            except ValueError as e:
                problem = (OrdRejReason.UNSUPPORTED, str(e))
        with self.journal.transaction():
            self.journal.claim_cl_ord_id(key, order.cl_ord_id, order.order_id)
            if problem is not None:
                order.apply(OrderEvent.REJECT)
                order.text = problem[1]
                self._report(order, ExecType.REJECTED, ord_rej_reason=problem[0], text=problem[1])
                return
            self.journal.save_order(order)
        self._crash_point("after_order_journaled")
        self._arm_expiry(order)
        if order.is_algo:
            self.runtime[order.order_id].algo = algo
            self._apply(order, OrderEvent.ACCEPT)
            self._report(order, ExecType.NEW)
            algo.start()
        else:
            self._spawn(self._route(order, order.quantity))

    def _validate_new(self, order: ClientOrder, session: SessionHandle) -> tuple[int, str] | None:
        if order.symbol not in self.market.symbols():
            known = ", ".join(sorted(self.market.symbols())) or "none"
            return (OrdRejReason.UNKNOWN_SYMBOL,
                    f"unknown symbol Symbol(55)='{order.symbol}' (known: {known})")
        if order.tif is TimeInForce.GTD and order.expire_time is not None \
                and order.expire_time <= self.clock.now():
            return (OrdRejReason.TOO_LATE, f"ExpireTime(126) "
                    f"{m.format_utc_timestamp(order.expire_time)} is already past")
        if order.max_floor is not None and order.max_floor > order.quantity:
            return (OrdRejReason.INCORRECT_QTY, f"MaxFloor(111)={order.max_floor} exceeds "
                    f"OrderQty(38)={order.quantity}")
        if self.risk is not None:
            decision = self.risk.check(self._risk_request(order, order.quantity, "new"))
            if not decision.accepted:
                return (int(decision.ord_rej_reason.value) if decision.ord_rej_reason else
                        OrdRejReason.EXCEEDS_LIMIT, decision.text or "risk limit")
        return None

    def _risk_request(self, order: ClientOrder, quantity: Decimal, action: str,
                      price: Decimal | None = None):
        from fixgw.oms.risk import OrderAction, OrderRiskRequest
        book = self.market.book(order.symbol)
        session_id = self.sessions.get(order.session_key)
        name = session_id.session_id.target_comp_id if session_id else order.session_key
        open_session = sum(1 for o in self.orders.values()
                           if o.session_key == order.session_key and not o.terminal
                           and o.order_id != order.order_id)
        open_account = sum(1 for o in self.orders.values()
                           if order.account and o.account == order.account and not o.terminal
                           and o.order_id != order.order_id)
        return OrderRiskRequest(
            session=name, account=order.account, symbol=order.symbol, side=order.side,
            ord_type=order.ord_type if price is None else OrdType.LIMIT, quantity=quantity,
            price=price if price is not None else order.price,
            mid=book.mid() if book is not None else None, action=OrderAction(action),
            open_orders_session=open_session, open_orders_account=open_account,
            session_aliases=(order.session_key,))

    def _reject_raw_nos(self, key: str, message: FixMessage, reason: int, text: str,
                        claim: bool) -> None:
        """An ER 150=8 for a NewOrderSingle we could not even turn into an order."""
        now = self.clock.now()
        cl_ord_id = message.get(11) or "NONE"
        side = message.get(54)
        try:
            side_enum = Side(side)
        except ValueError:
            side_enum = Side.BUY  # the session layer validated 54; keep the ER well-formed
        order = ClientOrder(
            order_id=self._new_order_id(), session_key=key, cl_ord_id=cl_ord_id,
            symbol=message.get(55) or "NONE", side=side_enum,
            ord_type=OrdType.LIMIT if message.get(40) == "2" else OrdType.MARKET,
            quantity=_safe_decimal(message.get(38)), price=None, tif=TimeInForce.DAY,
            account=message.get(1) or None, status=OrdStatus.PENDING_NEW, created_at=now,
            updated_at=now, text=text)
        order.apply(OrderEvent.REJECT)
        self.orders[order.order_id] = order
        self.runtime[order.order_id] = OrderRuntime()
        with self.journal.transaction():
            if claim and (key, cl_ord_id) not in self.used_cl_ord_ids and message.get(11):
                self.used_cl_ord_ids.add((key, cl_ord_id))
                self.by_cl_ord_id[(key, cl_ord_id)] = order.order_id
                self.journal.claim_cl_ord_id(key, cl_ord_id, order.order_id)
            self._report(order, ExecType.REJECTED, ord_rej_reason=reason, text=text)
        log.info("rejected NewOrderSingle %s on %s: %s", cl_ord_id, key, text)

    # =========================================================================================
    # cancel / replace / status / mass cancel

    def _find(self, key: str, cl_ord_id: str | None, order_id: str | None) -> ClientOrder | None:
        if cl_ord_id is not None:
            oid = self.by_cl_ord_id.get((key, cl_ord_id))
            if oid is not None:
                return self.orders.get(oid)
        if order_id is not None:
            o = self.orders.get(order_id)
            if o is not None and o.session_key == key:
                return o
        return None

    def _on_cancel(self, session: SessionHandle, message: FixMessage) -> None:
        key = str(session.session_id)
        try:
            req = m.decode_order_cancel_request(message)
        except m.FieldError as e:
            self._cancel_reject(key, None, message.get(11) or "NONE", message.get(41) or "NONE",
                                m.CxlRejResponseTo.CANCEL, m.CxlRejReason.OTHER, str(e))
            return
        order = self._find(key, req.orig_cl_ord_id, req.order_id)
        if not self._cancel_preconditions(key, order, req.cl_ord_id, req.orig_cl_ord_id,
                                          m.CxlRejResponseTo.CANCEL):
            return
        self._claim(key, req.cl_ord_id, order.order_id)
        order.pending_cl_ord_id = req.cl_ord_id
        self._apply(order, OrderEvent.CANCEL_REQUESTED)
        self._report(order, ExecType.PENDING_CANCEL, cl_ord_id=req.cl_ord_id,
                     orig_cl_ord_id=order.cl_ord_id)
        self._begin_close(order)

    def _cancel_preconditions(self, key: str, order: ClientOrder | None, cl_ord_id: str,
                              orig: str, response_to: str) -> bool:
        if order is None:
            self._cancel_reject(key, None, cl_ord_id, orig, response_to,
                                m.CxlRejReason.UNKNOWN_ORDER,
                                f"unknown order: OrigClOrdID(41) '{orig}' on session {key}")
            return False
        if (key, cl_ord_id) in self.used_cl_ord_ids:
            self._cancel_reject(key, order, cl_ord_id, orig, response_to,
                                m.CxlRejReason.DUPLICATE_CL_ORD_ID,
                                f"duplicate ClOrdID(11) '{cl_ord_id}' on session {key}")
            return False
        if order.terminal:
            self._cancel_reject(key, order, cl_ord_id, orig, response_to, m.CxlRejReason.TOO_LATE,
                                f"too late: order {order.order_id} is already "
                                f"{order.status.name.lower().replace('_', ' ')}")
            return False
        if is_pending(order.status) or order.pending_cl_ord_id is not None:
            self._cancel_reject(key, order, cl_ord_id, orig, response_to,
                                m.CxlRejReason.ALREADY_PENDING,
                                f"order {order.order_id} already has a pending "
                                f"{'cancel' if order.status is OrdStatus.PENDING_CANCEL else 'replace'}")
            return False
        if order.status is OrdStatus.PENDING_NEW:
            self._cancel_reject(key, order, cl_ord_id, orig, response_to,
                                m.CxlRejReason.ALREADY_PENDING,
                                f"order {order.order_id} is still pending new: retry when it is "
                                f"acknowledged")
            return False
        return True

    def _on_replace(self, session: SessionHandle, message: FixMessage) -> None:
        key = str(session.session_id)
        try:
            req = m.decode_order_cancel_replace_request(message)
        except m.FieldError as e:
            self._cancel_reject(key, None, message.get(11) or "NONE", message.get(41) or "NONE",
                                m.CxlRejResponseTo.REPLACE, m.CxlRejReason.OTHER, str(e))
            return
        order = self._find(key, req.orig_cl_ord_id, req.order_id)
        if not self._cancel_preconditions(key, order, req.cl_ord_id, req.orig_cl_ord_id,
                                          m.CxlRejResponseTo.REPLACE):
            return
        problem = None
        if req.symbol != order.symbol or req.side is not order.side:
            problem = (f"Symbol(55)/Side(54) cannot change on replace "
                       f"(order is {order.symbol} {order.side.name})")
        elif req.ord_type is not order.ord_type:
            problem = f"OrdType(40) cannot change on replace (order is {order.ord_type.name})"
        elif req.quantity <= order.cum_qty:
            problem = (f"new OrderQty(38)={m.format_decimal(req.quantity)} is not above the "
                       f"filled quantity {m.format_decimal(order.cum_qty)}")
        elif self.risk is not None:
            decision = self.risk.check(self._risk_request(order, req.quantity, "replace",
                                                          req.price))
            if not decision.accepted:
                problem = decision.text
        if problem is not None:
            self._cancel_reject(key, order, req.cl_ord_id, req.orig_cl_ord_id,
                                m.CxlRejResponseTo.REPLACE, m.CxlRejReason.OTHER, problem)
            return
        self._claim(key, req.cl_ord_id, order.order_id)
        order.pending_cl_ord_id = req.cl_ord_id
        order.pending_replace = req
        self._apply(order, OrderEvent.REPLACE_REQUESTED)
        self._report(order, ExecType.PENDING_REPLACE, cl_ord_id=req.cl_ord_id,
                     orig_cl_ord_id=order.cl_ord_id)
        rt = self.runtime[order.order_id]
        if rt.algo is not None:
            self._finish_algo_replace(order)
        else:
            for child in order.open_children():
                self._request_child_cancel(child)
            self._maybe_complete(order)

    def _on_status(self, session: SessionHandle, message: FixMessage) -> None:
        key = str(session.session_id)
        try:
            req = m.decode_order_status_request(message)
        except m.FieldError as e:
            self._business_reject(session, message, m.BusinessRejectReason.CONDITIONALLY_REQUIRED_FIELD_MISSING,
                                  str(e))
            return
        order = self._find(key, req.cl_ord_id, req.order_id)
        now = self.clock.now()
        if order is None:
            er = m.ExecutionReport(
                order_id=req.order_id or "NONE", exec_id=self._new_exec_id(),
                exec_type=ExecType.ORDER_STATUS, ord_status=OrdStatus.REJECTED,
                symbol=req.symbol, side=req.side, leaves_qty=ZERO, cum_qty=ZERO, avg_px=ZERO,
                transact_time=now, cl_ord_id=req.cl_ord_id, ord_status_req_id=req.ord_status_req_id,
                ord_rej_reason=OrdRejReason.UNKNOWN_ORDER,
                text=f"unknown order: ClOrdID(11) '{req.cl_ord_id}' on session {key}")
            self._send(key, m.MsgType.EXECUTION_REPORT, er.body(), None)
            return
        er = build_report(order, ExecType.ORDER_STATUS, self._new_exec_id(), now,
                          cl_ord_id=order.cl_ord_id, orig_cl_ord_id=order.orig_cl_ord_id,
                          ord_status_req_id=req.ord_status_req_id, text=order.text)
        self._send(key, m.MsgType.EXECUTION_REPORT, er.body(), order.account)

    def _on_mass_cancel(self, session: SessionHandle, message: FixMessage) -> None:
        key = str(session.session_id)
        now = self.clock.now()
        try:
            req = m.decode_order_mass_cancel_request(message)
        except m.FieldError as e:
            report = m.OrderMassCancelReport(
                order_id="NONE", cl_ord_id=message.get(11) or "NONE",
                request_type=message.get(530) or "7", response="0",
                reject_reason="99" if e.tag != 55 else "1", text=str(e), transact_time=now)
            self._send(key, m.MsgType.ORDER_MASS_CANCEL_REPORT, report.body(), None)
            return
        if req.symbol is not None and req.symbol not in self.market.symbols():
            report = m.OrderMassCancelReport(
                order_id="NONE", cl_ord_id=req.cl_ord_id, request_type=req.request_type,
                response="0", reject_reason="1", symbol=req.symbol,
                text=f"unknown symbol Symbol(55)='{req.symbol}'", transact_time=now)
            self._send(key, m.MsgType.ORDER_MASS_CANCEL_REPORT, report.body(), None)
            return
        if req.request_type == m.MassCancelRequestType.ALL and self.kill_switch is not None \
                and self.config.mass_cancel_all_engages_kill_switch:
            self._spawn(self._kill_switch_mass_cancel(key, req))
            return
        affected = self.cancel_all(session_key=key, symbol=req.symbol, side=req.side,
                                   reason=f"mass cancel {req.cl_ord_id}")
        report = m.OrderMassCancelReport(
            order_id=f"{self.instance}-M{self.journal.next_id('mass')}", cl_ord_id=req.cl_ord_id,
            request_type=req.request_type, response=req.request_type,
            affected=tuple(m.AffectedOrder(o.cl_ord_id, o.order_id) for o in affected),
            symbol=req.symbol, side=req.side, transact_time=now,
            text=f"{len(affected)} order(s) being canceled")
        self._send(key, m.MsgType.ORDER_MASS_CANCEL_REPORT, report.body(), None)

    async def _kill_switch_mass_cancel(self, key: str, req: m.OrderMassCancelRequest) -> None:
        """530=7: the kill switch (issue 6): block new orders, cancel everything everywhere."""
        before = {o.order_id for o in self.open_orders()}
        report = await self.kill_switch.engage(f"OrderMassCancelRequest {req.cl_ord_id} from {key}")
        affected = [self.orders[oid] for oid in sorted(before) if oid in self.orders]
        failed = sum(len(v) for v in report.failed.values())
        text = (f"kill switch engaged: {report.cancelled_count} venue order(s) canceled across "
                f"{len(report.cancelled)} venue(s), {len(affected)} client order(s)"
                + (f", {failed} FAILED" if failed else "")
                + "; new orders are rejected until released (fixgw kill --release)")
        mine = [o for o in affected if o.session_key == key]
        out = m.OrderMassCancelReport(
            order_id=f"{self.instance}-M{self.journal.next_id('mass')}", cl_ord_id=req.cl_ord_id,
            request_type=req.request_type, response=req.request_type,
            affected=tuple(m.AffectedOrder(o.cl_ord_id, o.order_id) for o in mine),
            transact_time=self.clock.now(), text=text)
        self._send(key, m.MsgType.ORDER_MASS_CANCEL_REPORT, out.body(), None)

    async def cancel_everything(self):
        """Kill switch sweep: cancel every open order at every venue; say what was canceled."""
        from fixgw.oms.risk_kill import KillReport
        targets = [c for o in self.open_orders() for c in o.open_children()]
        affected = self.cancel_all(reason="kill switch")
        deadline = _time.monotonic() + self.config.cancel_timeout_s
        while _time.monotonic() < deadline and any(not o.terminal for o in affected):
            await asyncio.sleep(0.05)
        cancelled: dict[str, list[str]] = {}
        failed: dict[str, dict[str, str]] = {}
        for c in targets:
            if c.state.done:
                cancelled.setdefault(c.venue, []).append(c.client_order_id)
            else:
                failed.setdefault(c.venue, {})[c.client_order_id] = "cancel not confirmed"
        # anything of ours still resting at a venue that the journal does not cover
        mine = f"{self.config.child_id_prefix}{self.instance}-"
        for name, venue in self.venues.items():
            try:
                open_at_venue = await venue.fetch_open_orders()
            except Exception as e:
                failed.setdefault(name, {})["*"] = f"open orders unavailable: {e}"
                continue
            for u in open_at_venue:
                if not u.client_order_id.startswith(mine) or u.state is not VenueOrderState.OPEN:
                    continue
                try:
                    await venue.cancel(u.client_order_id, u.symbol)
                    if u.client_order_id not in cancelled.get(name, []):
                        cancelled.setdefault(name, []).append(u.client_order_id)
                    failed.get(name, {}).pop(u.client_order_id, None)
                except Exception as e:
                    failed.setdefault(name, {})[u.client_order_id] = str(e)
        return KillReport(engaged=True,
                          cancelled={v: tuple(ids) for v, ids in cancelled.items()},
                          failed={v: dict(e) for v, e in failed.items() if e},
                          parents=tuple(o.cl_ord_id for o in affected))

    def cancel_all(self, *, session_key: str | None = None, symbol: str | None = None,
                   side: Side | None = None, reason: str) -> list[ClientOrder]:
        """Cancel every open order matching the filters (mass cancel, kill switch, disconnect).

        Orders already pending cancel are left to finish; orders still pending new are marked
        to be canceled as soon as their children are placed. Returns the affected orders.
        """
        affected = []
        for order in list(self.orders.values()):
            if order.terminal or (session_key and order.session_key != session_key) \
                    or (symbol and order.symbol != symbol) or (side and order.side is not side):
                continue
            affected.append(order)
            if order.status is OrdStatus.PENDING_CANCEL:
                continue
            rt = self.runtime[order.order_id]
            rt.closing, rt.closing_text = OrderEvent.CANCELED, reason
            if order.status in (OrdStatus.NEW, OrdStatus.PARTIALLY_FILLED):
                self._apply(order, OrderEvent.CANCEL_REQUESTED)
                self._report(order, ExecType.PENDING_CANCEL, text=reason)
            self._begin_close(order)
        return affected

    # =========================================================================================
    # closing an order (cancel, expire) and completing it once its children are settled

    def _begin_close(self, order: ClientOrder) -> None:
        rt = self.runtime[order.order_id]
        if rt.algo is not None:
            rt.algo.cancel()
        for child in order.open_children():
            self._request_child_cancel(child)
        self._maybe_complete(order)

    def _arm_expiry(self, order: ClientOrder) -> None:
        when = None
        if order.tif is TimeInForce.GTD and order.expire_time is not None and not order.is_algo:
            when, event = order.expire_time, OrderEvent.EXPIRE
        elif order.tif is TimeInForce.DAY and not order.is_algo:
            day_end = (int(self.clock.now()) // 86400 + 1) * 86400
            when, event = day_end, OrderEvent.EXPIRE
        if when is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        delay = max(0.0, self._wall_seconds(when - self.clock.now()))
        self.runtime[order.order_id].timer = loop.call_later(delay, self._expire, order.order_id,
                                                             event)

    def _expire(self, order_id: str, event: OrderEvent) -> None:
        order = self.orders.get(order_id)
        if order is None or order.terminal:
            return
        rt = self.runtime[order_id]
        if rt.closing is None:
            rt.closing = event
            rt.closing_text = ("GTD order expired at ExpireTime(126)" if order.tif is TimeInForce.GTD
                               else "Day order expired at the end of the trading day")
        self._begin_close(order)

    def _maybe_complete(self, order: ClientOrder) -> None:
        """Called after every change: decide whether the order reaches a new state now."""
        if order.terminal:
            return
        rt = self.runtime[order.order_id]
        if rt.routing:
            return
        if any(not self._settled(c) for c in order.children.values()):
            return
        if rt.algo is not None and not rt.algo.done:
            return
        if order.status is OrdStatus.PENDING_REPLACE and order.pending_replace is not None \
                and rt.algo is None:
            self._finish_dma_replace(order)
            return
        if order.status is OrdStatus.PENDING_CANCEL:
            self._finish_cancel(order, rt.closing_text)
            return
        if rt.closing is not None:
            self._close(order, rt.closing, rt.closing_text)
            return
        if rt.algo is not None:
            self._close(order, rt.algo.terminal_event(), rt.algo.terminal_text())
            return
        # a DMA order whose children are all done and that is not filled
        if rt.reroute and order.leaves_qty > 0:
            rt.reroute = False
            self._spawn(self._route(order, order.leaves_qty))
            return
        if order.leaves_qty > 0 and order.status is not OrdStatus.PENDING_NEW:
            if order.tif in (TimeInForce.IOC, TimeInForce.FOK) or order.ord_type is OrdType.MARKET \
                    or not order.children or rt.venue_reasons:
                why = "; ".join(rt.venue_reasons) or "no more liquidity within the order's limit"
                self._close(order, OrderEvent.CANCELED, f"unfilled quantity canceled: {why}")
            else:
                # resting children were canceled by the venues (not by us): re-route the rest
                self._spawn(self._route(order, order.leaves_qty))
        elif order.status is OrdStatus.PENDING_NEW and order.children:
            why = "; ".join(rt.venue_reasons) or "no venue accepted the order"
            self._apply(order, OrderEvent.REJECT)
            order.text = f"venue refusal: {why}"
            self._report(order, ExecType.REJECTED, ord_rej_reason=rt_reject_reason(rt),
                         text=order.text)

    def _close(self, order: ClientOrder, event: OrderEvent, text: str | None) -> None:
        if event is OrderEvent.FILL:
            return  # the last fill already made it Filled
        if order.status is OrdStatus.PENDING_NEW and event is OrderEvent.CANCELED:
            self._apply(order, OrderEvent.ACCEPT)
            self._report(order, ExecType.NEW)
        self._compute_tca(order)
        self._apply(order, event)
        order.text = text
        exec_type = {OrderEvent.CANCELED: ExecType.CANCELED, OrderEvent.EXPIRE: ExecType.EXPIRED,
                     OrderEvent.DONE_FOR_DAY: ExecType.DONE_FOR_DAY}[event]
        self._report(order, exec_type, text=text)
        self._cleanup(order)

    def _finish_cancel(self, order: ClientOrder, text: str | None) -> None:
        self._compute_tca(order)
        new_id = order.pending_cl_ord_id
        self._apply(order, OrderEvent.CANCELED)
        if new_id is not None:
            orig = order.cl_ord_id
            order.orig_cl_ord_id, order.cl_ord_id = orig, new_id
            order.pending_cl_ord_id = None
            self._report(order, ExecType.CANCELED, cl_ord_id=new_id, orig_cl_ord_id=orig)
        else:
            self._report(order, ExecType.CANCELED, text=text)
        self._cleanup(order)

    def _finish_dma_replace(self, order: ClientOrder) -> None:
        req: m.OrderCancelReplaceRequest = order.pending_replace  # type: ignore[assignment]
        orig = order.cl_ord_id
        order.quantity = req.quantity
        if req.price is not None:
            order.price = req.price
        if req.tif is not None:
            order.tif = req.tif
        if req.expire_time is not None:
            order.expire_time = req.expire_time
        order.orig_cl_ord_id, order.cl_ord_id = orig, req.cl_ord_id
        order.pending_cl_ord_id, order.pending_replace = None, None
        self._apply(order, OrderEvent.REPLACED)
        self._report(order, ExecType.REPLACED, cl_ord_id=req.cl_ord_id, orig_cl_ord_id=orig)
        rt = self.runtime[order.order_id]
        if rt.timer is not None:
            rt.timer.cancel()
        self._arm_expiry(order)
        if order.leaves_qty > 0:
            self._spawn(self._route(order, order.leaves_qty))

    def _finish_algo_replace(self, order: ClientOrder) -> None:
        req: m.OrderCancelReplaceRequest = order.pending_replace  # type: ignore[assignment]
        algo = self.runtime[order.order_id].algo
        orig = order.cl_ord_id
        try:
            algo.replace(req)
        except ValueError as e:
            order.pending_cl_ord_id, order.pending_replace = None, None
            self._apply(order, OrderEvent.REPLACE_REFUSED)
            self._cancel_reject(order.session_key, order, req.cl_ord_id, orig,
                                m.CxlRejResponseTo.REPLACE, m.CxlRejReason.OTHER, str(e))
            return
        order.quantity = req.quantity
        if req.price is not None:
            order.price = req.price
        if req.expire_time is not None:
            order.expire_time = req.expire_time
        order.orig_cl_ord_id, order.cl_ord_id = orig, req.cl_ord_id
        order.pending_cl_ord_id, order.pending_replace = None, None
        self._apply(order, OrderEvent.REPLACED)
        self._report(order, ExecType.REPLACED, cl_ord_id=req.cl_ord_id, orig_cl_ord_id=orig)

    def _cleanup(self, order: ClientOrder) -> None:
        rt = self.runtime[order.order_id]
        if rt.timer is not None:
            rt.timer.cancel()
            rt.timer = None
        if rt.algo is not None:
            rt.algo.stop()

    def _compute_tca(self, order: ClientOrder) -> None:
        if not order.is_algo or self.tca is None:
            return
        try:
            order.shortfall_bps = self.tca(order, self)
        except Exception:
            log.exception("TCA failed for %s", order.order_id)

    # =========================================================================================
    # routing DMA orders and algo slices to venues

    async def _route(self, order: ClientOrder, quantity: Decimal, *, slice_intent=None) -> None:
        """Split ``quantity`` with the SOR and send the children (journaled first)."""
        from fixgw.routing.sor import Liquidity, RouteRequest, venue_filters_from_strategy_parameters
        rt = self.runtime[order.order_id]
        rt.routing = True
        liquidity_only = False   # nothing placed only because the books lack liquidity
        children: list[ChildOrder] = []
        try:
            book = self.market.book(order.symbol)
            params = {p.name: p.value for p in order.strategy_params}
            include, exclude, min_clip = venue_filters_from_strategy_parameters(params)
            if slice_intent is not None:
                limit = slice_intent.limit_price
                passive = slice_intent.style.value == "passive"
                rest = False
            else:
                limit = order.price
                passive = False
                rest = order.ord_type is OrdType.LIMIT and order.tif in (
                    TimeInForce.DAY, TimeInForce.GTC, TimeInForce.GTD)
            if book is None or not book.venues:
                rt.venue_reasons.append(f"no market data for {order.symbol} on any venue")
                plan_allocs = []
                remainder = quantity
            else:
                plan = self.router.route(book, RouteRequest(
                    symbol=order.symbol, side=order.side, quantity=quantity, limit_price=limit,
                    passive=passive, include=include, exclude=exclude, min_clip=min_clip,
                    rest_remainder=rest))
                plan_allocs = list(plan.allocations)
                remainder = plan.remainder
                if not plan_allocs:
                    liquidity_only = not plan.excluded
                    why = ", ".join(f"{v}: {r}" for v, r in plan.excluded) or \
                        "no liquidity within the limit"
                    rt.venue_reasons.append(f"no venue can take {order.symbol} ({why})")
            if slice_intent is None and order.tif is TimeInForce.FOK and remainder > 0:
                plan_allocs = []
                liquidity_only = True
                rt.venue_reasons.append("fill-or-kill: not enough liquidity within the limit "
                                        "across venues")
            now = self.clock.now()
            children = []
            for alloc in plan_allocs:
                taker = alloc.liquidity is Liquidity.TAKER
                if order.ord_type is OrdType.MARKET and slice_intent is None:
                    ord_type, price, tif = OrdType.MARKET, None, TimeInForce.IOC
                else:
                    ord_type = OrdType.LIMIT
                    price = limit if (taker and limit is not None) else alloc.price
                    if slice_intent is not None:
                        tif = TimeInForce.IOC if taker else TimeInForce.GTC
                        price = slice_intent.limit_price if taker else alloc.price
                    elif taker and not rest:
                        tif = TimeInForce.FOK if order.tif is TimeInForce.FOK else TimeInForce.IOC
                    else:
                        tif = TimeInForce.GTC if not taker else TimeInForce.IOC
                if taker and rest and slice_intent is None:
                    tif = TimeInForce.IOC
                child = ChildOrder(
                    client_order_id=self._new_child_id(order), order_id=order.order_id,
                    venue=alloc.venue, symbol=order.symbol, side=order.side, ord_type=ord_type,
                    quantity=alloc.quantity, price=price, tif=tif,
                    post_only=bool(slice_intent is not None and slice_intent.post_only and not taker),
                    created_at=now)
                if self.risk is not None and slice_intent is not None:
                    decision = self.risk.check(self._risk_request(order, child.quantity, "child",
                                                                  child.price))
                    if not decision.accepted:
                        rt.venue_reasons.append(decision.text or "risk")
                        log.warning("child of %s refused by risk: %s", order.order_id,
                                    decision.text)
                        continue
                if self.risk is not None:
                    balances = self.market.balances(alloc.venue, order.symbol)
                    if balances is not None:
                        venue = self.venues[alloc.venue]
                        decision = self.risk.check_venue_balance(
                            self._risk_request(order, child.quantity, "child", child.price
                                               or alloc.price), alloc.venue, balances,
                            venue.fees.taker)
                        if not decision.accepted:
                            rt.venue_reasons.append(decision.text or "venue balance")
                            continue
                children.append(child)
            if order.terminal:
                return
            with self.journal.transaction():
                for child in children:
                    order.children[child.client_order_id] = child
                    self.children[child.client_order_id] = child
                    self.child_rt[child.client_order_id] = ChildRuntime(
                        slice_id=slice_intent.child_id if slice_intent is not None else None)
                    self.journal.save_child(child, now)
                self.journal.save_order(order)
            if order.status is OrdStatus.PENDING_CANCEL or self.runtime[order.order_id].closing:
                for child in children:
                    self.child_rt[child.client_order_id].cancel_wanted = True
            results = await asyncio.gather(*(self._submit(c) for c in children))
            del results
        except Exception:
            log.exception("routing failed for %s", order.order_id)
            rt.venue_reasons.append("internal routing error")
        finally:
            rt.routing = False
        if slice_intent is not None and not self.slice_children(order, slice_intent.child_id):
            rt.algo.slice_done(slice_intent.child_id)
        if order.status is OrdStatus.PENDING_NEW and any(
                c.state is not ChildState.REJECTED for c in order.children.values()):
            self._apply(order, OrderEvent.ACCEPT)
            self._report(order, ExecType.NEW)
        if order.status is OrdStatus.PENDING_NEW and not order.children and liquidity_only \
                and (order.tif in (TimeInForce.IOC, TimeInForce.FOK)
                     or order.ord_type is OrdType.MARKET):
            why = "; ".join(rt.venue_reasons) or "no liquidity within the order's limit"
            self._close(order, OrderEvent.CANCELED, f"unfilled quantity canceled: {why}")
            return
        if order.status is OrdStatus.PENDING_NEW and not order.children:
            why = "; ".join(rt.venue_reasons) or "no venue can take the order"
            self._apply(order, OrderEvent.REJECT)
            order.text = f"venue refusal: {why}" if "risk" not in why else why
            self._report(order, ExecType.REJECTED, ord_rej_reason=rt_reject_reason(rt),
                         text=order.text)
            return
        self._maybe_complete(order)

    async def _submit(self, child: ChildOrder) -> None:
        venue = self.venues[child.venue]
        request = VenueOrderRequest(
            client_order_id=child.client_order_id, symbol=child.symbol, side=child.side,
            ord_type=child.ord_type, quantity=child.quantity, price=child.price, tif=child.tif,
            post_only=child.post_only)
        crt = self.child_rt[child.client_order_id]
        try:
            update = await venue.submit(request)
        except VenueError as e:
            crt.submit_done = True
            if e.kind is VenueErrorKind.UNAVAILABLE:
                update = await self._probe(child)
                if update is not None:
                    self._apply_update(child, update)
                    return
            self._child_rejected(child, f"{child.venue}: {e.kind.value}: {e.message}", e.kind)
            return
        except Exception as e:  # unexpected: the order may or may not be at the venue
            crt.submit_done = True
            log.exception("submit of %s to %s failed", child.client_order_id, child.venue)
            update = await self._probe(child)
            if update is not None:
                self._apply_update(child, update)
                return
            self._child_rejected(child, f"{child.venue}: {type(e).__name__}: {e}", None)
            return
        self._crash_point("after_child_sent")
        crt.submit_done = True
        self._apply_update(child, update)
        if crt.cancel_wanted and not child.state.done:
            self._request_child_cancel(child)

    async def _probe(self, child: ChildOrder) -> VenueOrderUpdate | None:
        try:
            return await self.venues[child.venue].fetch_order(child.client_order_id, child.symbol)
        except Exception:
            return None

    def _child_rejected(self, child: ChildOrder, reason: str, kind: VenueErrorKind | None) -> None:
        child.state = ChildState.REJECTED
        child.reason = reason
        self.journal.save_child(child, self.clock.now())
        order = self.orders[child.order_id]
        rt = self.runtime[order.order_id]
        rt.venue_reasons.append(reason)
        if kind is not None:
            rt.venue_error_kinds.append(kind)
        log.warning("child %s refused: %s", child.client_order_id, reason)
        self._child_changed(child)

    def _request_child_cancel(self, child: ChildOrder) -> None:
        crt = self.child_rt[child.client_order_id]
        crt.cancel_wanted = True
        if child.state.done or not crt.submit_done:
            return
        self._spawn(self._cancel_child(child))

    async def _cancel_child(self, child: ChildOrder) -> None:
        venue = self.venues[child.venue]
        for attempt in range(3):
            try:
                update = await venue.cancel(child.client_order_id, child.symbol)
                self._apply_update(child, update)
                return
            except VenueError as e:
                if e.kind is VenueErrorKind.ORDER_NOT_FOUND:
                    update = await self._probe(child)
                    if update is not None:
                        self._apply_update(child, update)
                    elif child.state is ChildState.CREATED:
                        self._child_rejected(child, f"{child.venue}: never reached the venue",
                                             None)
                    return
                log.warning("cancel %s at %s failed (%s), retrying", child.client_order_id,
                            child.venue, e)
            except Exception:
                log.exception("cancel %s at %s failed", child.client_order_id, child.venue)
            await asyncio.sleep(0.2 * (attempt + 1))
        # the venue would not cancel: the client's request is refused, the order keeps working
        order = self.orders[child.order_id]
        if order.status in (OrdStatus.PENDING_CANCEL, OrdStatus.PENDING_REPLACE) \
                and order.pending_cl_ord_id is not None:
            response = m.CxlRejResponseTo.CANCEL if order.status is OrdStatus.PENDING_CANCEL \
                else m.CxlRejResponseTo.REPLACE
            event = OrderEvent.CANCEL_REFUSED if response == m.CxlRejResponseTo.CANCEL \
                else OrderEvent.REPLACE_REFUSED
            new_id = order.pending_cl_ord_id
            order.pending_cl_ord_id, order.pending_replace = None, None
            self._apply(order, event)
            self._cancel_reject(order.session_key, order, new_id, order.cl_ord_id, response,
                                m.CxlRejReason.OTHER,
                                f"venue {child.venue} did not confirm the cancel of child "
                                f"{child.client_order_id}")

    # =========================================================================================
    # venue events

    def on_venue_event(self, event: VenueEvent) -> None:
        try:
            child = self.children.get(event.client_order_id)
            if child is None and event.venue_order_id:
                child = next((c for c in self.children.values()
                              if c.venue == event.venue
                              and c.venue_order_id == event.venue_order_id), None)
            if child is None:
                log.debug("venue event for unknown child %s ignored", event.client_order_id)
                return
            if isinstance(event, VenueFill):
                self._apply_fill(child, event)
            else:
                self._apply_update(child, event)
        except Exception:
            log.exception("venue event failed: %r", event)

    def _apply_update(self, child: ChildOrder, update: VenueOrderUpdate) -> None:
        crt = self.child_rt[child.client_order_id]
        if update.filled > crt.venue_filled:
            crt.venue_filled = update.filled
        if update.venue_order_id and not child.venue_order_id:
            child.venue_order_id = update.venue_order_id
        if child.state.done:
            self._child_changed(child)
            return
        new_state = {VenueOrderState.OPEN: ChildState.OPEN,
                     VenueOrderState.FILLED: ChildState.FILLED,
                     VenueOrderState.CANCELED: ChildState.CANCELED,
                     VenueOrderState.REJECTED: ChildState.REJECTED}[update.state]
        if new_state is not child.state:
            child.state = new_state
            if update.reason:
                child.reason = update.reason
            self.journal.save_child(child, self.clock.now())
            if new_state is ChildState.REJECTED:
                self.runtime[child.order_id].venue_reasons.append(
                    f"{child.venue}: {update.reason or 'rejected'}")
            if new_state is ChildState.CANCELED and not crt.cancel_wanted and update.reason:
                self.runtime[child.order_id].venue_reasons.append(
                    f"{child.venue}: {update.reason}")
        if crt.cancel_wanted and crt.submit_done and not child.state.done:
            self._request_child_cancel(child)
        self._child_changed(child)

    def _apply_fill(self, child: ChildOrder, fill: VenueFill) -> None:
        order = self.orders[child.order_id]
        if fill.quantity <= 0:
            return
        # single writer on the loop thread: checking first, then inserting, is race-free, and
        # keeps TCA (which writes its own table) outside the journal's transaction
        if self.journal.has_fill(fill.venue, fill.trade_id):
            return  # already booked (stream + REST, or reconciliation)
        self._crash_point("before_fill_journaled")
        now = self.clock.now()
        exec_id = self._new_exec_id()
        child.filled += fill.quantity
        crt = self.child_rt[child.client_order_id]
        crt.venue_filled = max(crt.venue_filled, child.filled)
        if child.filled >= child.quantity and not child.state.done:
            child.state = ChildState.FILLED
        acked_now = order.status is OrdStatus.PENDING_NEW
        if acked_now:
            self._apply(order, OrderEvent.ACCEPT)
            self._report(order, ExecType.NEW)
        order.fees += _fee_in_quote(order.symbol, fill)
        event = order.add_fill(fill.price, fill.quantity)
        if order.cum_qty > order.quantity:
            log.error("overfill on %s: cum %s > qty %s", order.order_id, order.cum_qty,
                      order.quantity)
        pending_id = order.pending_cl_ord_id if event is OrderEvent.FILL else None
        self._apply(order, event)
        if event is OrderEvent.FILL:
            self._compute_tca(order)
        with self.journal.transaction():
            self.journal.record_fill(JournaledFill(
                venue=fill.venue, trade_id=fill.trade_id,
                client_order_id=child.client_order_id, order_id=order.order_id,
                symbol=child.symbol, side=child.side, price=fill.price,
                quantity=fill.quantity, fee=fill.fee, fee_currency=fill.fee_currency,
                is_maker=fill.is_maker, exec_id=exec_id, timestamp_ms=fill.timestamp_ms), now)
            self.journal.save_child(child, now)
            self._report(order, ExecType.TRADE, exec_id=exec_id, last_qty=fill.quantity,
                         last_px=fill.price, last_mkt=fill.venue, commission=fill.fee,
                         comm_currency=fill.fee_currency,
                         last_liquidity=None if fill.is_maker is None else (1 if fill.is_maker else 2))
        rt = self.runtime[order.order_id]
        if rt.algo is not None:
            rt.algo.on_fill(self.child_rt[child.client_order_id].slice_id, fill.quantity,
                            fill.price)
        if pending_id is not None:
            # the race: the order filled while a cancel/replace was pending
            response = m.CxlRejResponseTo.REPLACE if order.pending_replace is not None \
                else m.CxlRejResponseTo.CANCEL
            order.pending_cl_ord_id, order.pending_replace = None, None
            self._cancel_reject(order.session_key, order, pending_id, order.cl_ord_id, response,
                                m.CxlRejReason.TOO_LATE,
                                f"too late: order {order.order_id} filled before the "
                                f"{'replace' if response == m.CxlRejResponseTo.REPLACE else 'cancel'}"
                                f" took effect")
        if order.terminal:
            self._cleanup(order)
            for c in order.open_children():   # nothing may keep working once the order is done
                self._request_child_cancel(c)
        self._child_changed(child)

    def _settled(self, child: ChildOrder) -> bool:
        crt = self.child_rt[child.client_order_id]
        return child.state.done and child.filled >= crt.venue_filled

    def _child_changed(self, child: ChildOrder) -> None:
        order = self.orders[child.order_id]
        crt = self.child_rt[child.client_order_id]
        if child.state.done and child.filled < crt.venue_filled and crt.chase_task is None:
            # the venue says more filled than we have fills for: fetch the missing trades
            crt.chase_task = self._spawn(self._chase_fills(child))
        rt = self.runtime[order.order_id]
        if rt.algo is not None and crt.slice_id is not None and self._settled(child):
            if all(self._settled(c) for c in self.slice_children(order, crt.slice_id)):
                rt.algo.slice_done(crt.slice_id)
        self._maybe_complete(order)

    async def _chase_fills(self, child: ChildOrder, delay: float = 0.5) -> None:
        """Recover fills the stream has not delivered (REST), then book them once."""
        crt = self.child_rt[child.client_order_id]
        try:
            for attempt in range(6):
                await asyncio.sleep(delay * (attempt + 1))
                if child.filled >= crt.venue_filled:
                    return
                try:
                    fills = await self.venues[child.venue].fetch_fills(
                        child.symbol, int(child.created_at * 1000) - 60_000)
                except Exception as e:
                    log.warning("fetch fills for %s failed: %s", child.client_order_id, e)
                    continue
                for f in fills:
                    if f.client_order_id == child.client_order_id or (
                            child.venue_order_id and f.venue_order_id == child.venue_order_id):
                        self._apply_fill(child, f)
        finally:
            crt.chase_task = None

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
        self.used_cl_ord_ids.add((key, cl_ord_id))
        self.by_cl_ord_id[(key, cl_ord_id)] = order_id
        self.journal.claim_cl_ord_id(key, cl_ord_id, order_id)

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def _wall_seconds(self, market_seconds: float) -> float:
        convert = getattr(self.clock, "wall_seconds", None)
        return convert(market_seconds) if convert else market_seconds

    def slice_children(self, order: ClientOrder, slice_id: str) -> list[ChildOrder]:
        """The venue child orders sent for one algo child intent."""
        return [c for c in order.children.values()
                if self.child_rt[c.client_order_id].slice_id == slice_id]

    def open_orders(self) -> list[ClientOrder]:
        return [o for o in self.orders.values() if not o.terminal]

    async def drain(self, timeout: float = 5.0) -> None:
        """Wait for venue tasks in flight (shutdown, tests)."""
        deadline = _time.monotonic() + timeout
        while self.tasks and _time.monotonic() < deadline:
            await asyncio.wait(list(self.tasks), timeout=max(0.0, deadline - _time.monotonic()))

    _handlers = {
        m.MsgType.NEW_ORDER_SINGLE: _on_new_order,
        m.MsgType.ORDER_CANCEL_REQUEST: _on_cancel,
        m.MsgType.ORDER_CANCEL_REPLACE_REQUEST: _on_replace,
        m.MsgType.ORDER_STATUS_REQUEST: _on_status,
        m.MsgType.ORDER_MASS_CANCEL_REQUEST: _on_mass_cancel,
    }


def rt_reject_reason(rt: OrderRuntime) -> int:
    if rt.venue_error_kinds:
        return _VENUE_REJECT_REASON.get(rt.venue_error_kinds[0], OrdRejReason.OTHER)
    if any(r.startswith("risk") for r in rt.venue_reasons):
        return OrdRejReason.EXCEEDS_LIMIT
    return OrdRejReason.OTHER


def _fee_in_quote(symbol: str, fill: VenueFill) -> Decimal:
    base, _, rest = symbol.partition("/")
    quote = rest.split(":")[0]
    if fill.fee_currency in (None, quote):
        return fill.fee
    if fill.fee_currency == base:
        return fill.fee * fill.price
    return ZERO


def _safe_decimal(text: str | None) -> Decimal:
    try:
        d = Decimal(text or "0")
        return d if d.is_finite() and d >= 0 else ZERO
    except Exception:
        return ZERO

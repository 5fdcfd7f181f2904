"""Inbound order-entry messages: NewOrderSingle, cancel, replace, status, mass cancel.

Part of :class:`fixgw.oms.manager.OrderManager` (a mixin): each handler validates, claims the
new ClOrdID, moves the order through the state table, reports, and hands venue work to
:mod:`fixgw.oms.execution`. Every refusal is the reply FIX prescribes, with a Text naming
the cause.
"""
from __future__ import annotations

import asyncio
import logging
import time as _time
from decimal import Decimal

from fixgw.domain import ZERO, ExecType, OrdStatus, OrdType, Side, TimeInForce
from fixgw.fix import messages as m
from fixgw.fix.message import FixMessage
from fixgw.oms.order import ClientOrder, build_report
from fixgw.oms.runtime import FIELD_REJECT_REASON, OrderRuntime, OrdRejReason, safe_decimal
from fixgw.oms.state import OrderEvent, is_pending
from fixgw.routing.sor import venue_filters_from_strategy_parameters
from fixgw.session.application import SessionHandle
from fixgw.venues.base import VenueOrderState

log = logging.getLogger("fixgw.oms.manager")


class OrderEntry:
    """FIX order-entry handlers of the order manager."""

    # =========================================================================================
    # NewOrderSingle

    def _on_new_order(self, session: SessionHandle, message: FixMessage) -> None:
        key = str(session.session_id)
        now = self.clock.now()
        try:
            nos = m.decode_new_order_single(message)
        except m.FieldError as e:
            self._reject_raw_nos(key, message, FIELD_REJECT_REASON.get(e.tag, OrdRejReason.OTHER),
                                 str(e), claim=True)
            return
        if self._cl_ord_id_used(key, nos.cl_ord_id):
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
        algo = None
        try:
            problem = self._validate_new(order, session)
            if problem is None and not order.is_algo:
                # IncludeVenues/ExcludeVenues/MinClip: a malformed one is the client's error,
                # named here, not an "internal routing error" once the order is accepted
                venue_filters_from_strategy_parameters(
                    {p.name: p.value for p in order.strategy_params})
            book = self.market.book(order.symbol) if problem is None else None
            order.arrival_price = book.mid() if book is not None else None
            if problem is None and order.is_algo:
                algo = self.algo_factory(order, self) if self.algo_factory else None
                if algo is None:
                    problem = (OrdRejReason.UNSUPPORTED,
                               f"TargetStrategy(847)={order.strategy.value}: no algo engine")
        except ValueError as e:          # the scheduler refuses the parent, naming the field
            problem = (OrdRejReason.UNSUPPORTED, str(e))
        except Exception as e:           # our bug: the order is rejected, the session lives on
            log.exception("accepting %s on %s failed", nos.cl_ord_id, key)
            problem = (OrdRejReason.OTHER, f"internal error accepting the order: "
                                           f"{type(e).__name__}")
        self.orders[order.order_id] = order
        self.live[order.order_id] = order
        self.runtime[order.order_id] = OrderRuntime()
        self._remember_claim(key, order.cl_ord_id, order.order_id)
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
            try:
                algo.start()
            except Exception as e:
                log.exception("algo %s failed to start", order.order_id)
                self._close(order, OrderEvent.CANCELED,
                            f"algo failed to start: {type(e).__name__}: {e}")
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
        live = self.open_orders()
        open_session = sum(1 for o in live
                           if o.session_key == order.session_key and o.order_id != order.order_id)
        open_account = sum(1 for o in live
                           if order.account and o.account == order.account
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
            quantity=safe_decimal(message.get(38)), price=None, tif=TimeInForce.DAY,
            account=message.get(1) or None, status=OrdStatus.PENDING_NEW, created_at=now,
            updated_at=now, text=text)
        order.apply(OrderEvent.REJECT)
        self.orders[order.order_id] = order
        self.runtime[order.order_id] = OrderRuntime()
        with self.journal.transaction():
            if claim and message.get(11) and not self._cl_ord_id_used(key, cl_ord_id):
                self._claim(key, cl_ord_id, order.order_id)
            self._report(order, ExecType.REJECTED, ord_rej_reason=reason, text=text)
        log.info("rejected NewOrderSingle %s on %s: %s", cl_ord_id, key, text)

    # =========================================================================================
    # cancel / replace / status / mass cancel

    def _find(self, key: str, cl_ord_id: str | None, order_id: str | None) -> ClientOrder | None:
        if cl_ord_id is not None:
            oid = self.by_cl_ord_id.get((key, cl_ord_id))
            if oid is None:   # a forgotten (finished) order: the journal knows its ClOrdIDs
                oid = self.journal.cl_ord_id_order(key, cl_ord_id)
            if oid is not None:
                return self.order(oid)
        if order_id is not None:
            o = self.order(order_id)
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
        if self._cl_ord_id_used(key, cl_ord_id):
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
        if order.status is OrdStatus.PENDING_NEW and response_to == m.CxlRejResponseTo.REPLACE:
            # a cancel may overtake the venue's ack (the children are cancelled as soon as
            # they are placed); a replace needs terms the order already works under
            self._cancel_reject(key, order, cl_ord_id, orig, response_to,
                                m.CxlRejReason.ALREADY_PENDING,
                                f"order {order.order_id} is still pending new: retry the replace "
                                f"when it is acknowledged")
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
        affected = [o for o in map(self.order, sorted(before)) if o is not None]
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
        for order in self.open_orders():
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


"""Child orders at the venues: SOR routing, submit, cancel, venue events, fills.

Part of :class:`fixgw.oms.manager.OrderManager` (a mixin). Children are journaled before they
are submitted; fills are booked once per (venue, trade id) in the same transaction as the
ExecutionReport's order state.
"""
from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

from fixgw.domain import ExecType, OrdStatus, OrdType, TimeInForce
from fixgw.fix import messages as m
from fixgw.oms.journal import JournaledFill
from fixgw.oms.order import ChildOrder, ChildState, ClientOrder
from fixgw.oms.runtime import ChildRuntime, fee_in_quote, reject_reason_of
from fixgw.oms.state import OrderEvent
from fixgw.venues.base import (VenueError, VenueErrorKind, VenueEvent, VenueFill,
                               VenueOrderRequest, VenueOrderState, VenueOrderUpdate)

log = logging.getLogger("fixgw.oms.manager")

RESWEEP_COLLAR_BPS = Decimal(50)


def market_collar(mid: Decimal, side) -> Decimal:
    """The worst price a market order's re-sweep may take: ``RESWEEP_COLLAR_BPS`` from mid."""
    from fixgw.domain import Side
    sign = 1 if side is Side.BUY else -1
    return mid * (1 + sign * RESWEEP_COLLAR_BPS / Decimal(10_000))


class VenueExecution:
    """The venue side of the order manager."""

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
                # LIMIT (the iceberg display): take what is marketable at the limit, rest the rest
                rest = slice_intent.style.value == "limit"
            else:
                limit = order.price
                if limit is None and rt.resweeps and book is not None and book.mid() is not None:
                    # a market order's re-sweep stays within a collar of the market it meets
                    limit = market_collar(book.mid(), order.side)
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
            rt.last_route_placed = bool(children)
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
            rt.algo.slice_done(slice_intent.child_id, final_filled=Decimal(0))
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
            self._report(order, ExecType.REJECTED, ord_rej_reason=reject_reason_of(rt),
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
        order = self.orders.get(child.order_id)
        if order is None:
            return
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
                # a child retention forgot: a fill or a news the journal lacks reloads it
                child = self._revive_child(event)
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
        if child.client_order_id not in self.child_rt:
            # a task (cancel, probe) outlived its child in memory (retention forgot the
            # order): handled like a stream event, which reloads the order if it is news
            self.on_venue_event(update)
            return
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
        if child.client_order_id not in self.child_rt:   # stale reference (see _apply_update)
            self.on_venue_event(fill)
            return
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
        # a fill after the order ended (the venue reported it after its cancel ack, or after
        # retention forgot the order): booked and reported like any other, the order keeps
        # its terminal status (the state table has no way out of one) with CumQty/AvgPx
        # counting the fill; no completion logic and no scheduler runs again for it
        late = order.terminal
        if late:
            log.warning("late fill %s %s @ %s on %s for %s, which is already %s: booked",
                        fill.trade_id, fill.quantity, fill.price, fill.venue, order.order_id,
                        order.status.name)
        child.filled += fill.quantity
        crt = self.child_rt[child.client_order_id]
        crt.venue_filled = max(crt.venue_filled, child.filled)
        if child.filled >= child.quantity and not child.state.done:
            child.state = ChildState.FILLED
        acked_now = order.status is OrdStatus.PENDING_NEW
        if acked_now:
            self._apply(order, OrderEvent.ACCEPT)
            self._report(order, ExecType.NEW)
        order.fees += fee_in_quote(order.symbol, fill)
        event = order.add_fill(fill.price, fill.quantity)
        if order.cum_qty > order.quantity:
            log.error("overfill on %s: cum %s > qty %s", order.order_id, order.cum_qty,
                      order.quantity)
        pending_id = order.pending_cl_ord_id if event is OrderEvent.FILL and not late else None
        if late:
            order.updated_at = now
        else:
            self._apply(order, event)
        if late:
            self._recompute_tca_after_late_fill(order)   # the 850 of this fill's report
        elif event is OrderEvent.FILL:
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
        # journal committed, the ER not yet in the session store (it commits at the end of
        # this event-loop turn): recovery must send it (fixgw/oms/unsent.py)
        self._crash_point("after_fill_journaled")
        rt = self.runtime[order.order_id]
        if rt.algo is not None and not late:
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
        if order.terminal:
            self._touch_terminal(order)     # retention counts from the last activity
        if child.filled < crt.venue_filled and crt.chase_task is None:
            # the venue says more filled than we have fills for: if the fills do not arrive
            # shortly (stream gap), fetch the missing trades by REST
            crt.chase_task = self._spawn(self._chase_fills(child))
        rt = self.runtime[order.order_id]
        if rt.algo is not None and crt.slice_id is not None and self._settled(child):
            if all(self._settled(c) for c in self.slice_children(order, crt.slice_id)):
                rt.algo.slice_done(crt.slice_id)
        if child.tif is TimeInForce.IOC and self._settled(child):
            self._rest_unworked(order)
        self._maybe_complete(order)

    def _rest_unworked(self, order: ClientOrder) -> None:
        """A resting DMA limit order (Day/GTC/GTD) whose taking IOC child came back short
        because the book moved: the quantity no child works any more is routed again (what is
        marketable is taken, the rest rests at the limit), a bounded number of times."""
        from fixgw.oms.lifecycle import MAX_RESWEEPS
        rt = self.runtime[order.order_id]
        if order.is_algo or order.ord_type is not OrdType.LIMIT or order.tif not in (
                TimeInForce.DAY, TimeInForce.GTC, TimeInForce.GTD):
            return
        if order.status not in (OrdStatus.NEW, OrdStatus.PARTIALLY_FILLED) or rt.routing \
                or rt.reconciling or rt.closing is not None or rt.resweeps >= MAX_RESWEEPS:
            return
        working = Decimal(0)
        for c in order.children.values():
            booked_or_reported = max(c.filled, self.child_rt[c.client_order_id].venue_filled)
            if not c.state.done:
                working += c.quantity - c.filled
            elif booked_or_reported > c.filled:
                working += booked_or_reported - c.filled      # fills still on their way
        unworked = order.leaves_qty - working
        if unworked <= 0 or not any(not c.state.done for c in order.children.values()):
            return   # nothing left over, or nothing rests: _maybe_complete decides
        rt.resweeps += 1
        rt.routing = True     # until the routing task runs: no second re-route, no completion
        log.info("%s: routing %s again that the book no longer offered (attempt %d/%d)",
                 order.order_id, unworked, rt.resweeps, MAX_RESWEEPS)
        self._spawn(self._route(order, unworked))

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


"""How an order ends: cancel, expiry, replace completion, terminal reports, TCA.

Part of :class:`fixgw.oms.manager.OrderManager` (a mixin). :meth:`_maybe_complete` is called
after every change and decides, once every child is settled at its venue, whether the order
is now Canceled, Replaced, Expired or Rejected.
"""
from __future__ import annotations

import asyncio
import logging

from fixgw.domain import ExecType, OrdStatus, OrdType, TimeInForce
from fixgw.fix import messages as m
from fixgw.oms.order import ChildState, ClientOrder
from fixgw.oms.runtime import reject_reason_of
from fixgw.oms.state import OrderEvent

log = logging.getLogger("fixgw.oms.manager")

MAX_RESWEEPS = 3   # an immediate order re-routes what the moving book left at most this often


class OrderLifecycle:
    """Completion logic of the order manager."""

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
        if rt.routing or rt.reconciling:
            return
        if any(not self._settled(c) for c in order.children.values()):
            return
        if rt.resume_algo and rt.algo is None and rt.closing is None \
                and order.status is not OrdStatus.PENDING_CANCEL:
            rt.resume_algo = False
            self._resume_algo(order)
            return
        if rt.algo is not None and not rt.algo.done:
            return
        if order.status is OrdStatus.PENDING_REPLACE and order.pending_replace is not None \
                and rt.algo is None and not order.is_algo:
            if rt.closing is not None:
                # expired (or mass-cancelled) while the replace was pending: the replace is
                # refused, then the order ends as the closing event says
                new_id = order.pending_cl_ord_id
                order.pending_cl_ord_id, order.pending_replace = None, None
                self._apply(order, OrderEvent.REPLACE_REFUSED)
                self._cancel_reject(order.session_key, order, new_id, order.cl_ord_id,
                                    m.CxlRejResponseTo.REPLACE, m.CxlRejReason.TOO_LATE,
                                    f"too late: {rt.closing_text or 'the order is ending'}")
                self._close(order, rt.closing, rt.closing_text)
                return
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
        if order.leaves_qty > 0 and order.status is not OrdStatus.PENDING_NEW \
                and self._may_resweep(order, rt):
            # the book moved between routing and the venues' matching: the IOC/market children
            # took less than planned; sweep the rest again (within the limit / market collar)
            rt.resweeps += 1
            log.info("%s: re-routing the remainder %s (attempt %d/%d)", order.order_id,
                     order.leaves_qty, rt.resweeps, MAX_RESWEEPS)
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
            self._report(order, ExecType.REJECTED, ord_rej_reason=reject_reason_of(rt),
                         text=order.text)

    def _may_resweep(self, order: ClientOrder, rt) -> bool:
        """A DMA order whose children all ended at their venues without a refusal, after the
        last routing placed something: a market or limit IOC order (the book moved under its
        IOC children), or a resting limit order whose children were all taking IOCs that came
        back short: worth another routing, a bounded number of times. Fill-or-kill never
        (all or nothing was decided)."""
        immediate = order.ord_type is OrdType.MARKET or order.tif is TimeInForce.IOC
        resting = order.ord_type is OrdType.LIMIT and order.tif in (
            TimeInForce.DAY, TimeInForce.GTC, TimeInForce.GTD)
        if not (immediate or resting) or order.tif is TimeInForce.FOK or order.is_algo:
            return False
        if rt.resweeps >= MAX_RESWEEPS or not rt.last_route_placed or rt.venue_error_kinds:
            return False
        if not order.children or any(c.state is ChildState.REJECTED
                                     for c in order.children.values()):
            return False
        return True

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

    def _resume_algo(self, order: ClientOrder) -> None:
        """Restart: the parent's old children are settled; a new scheduler works what is left
        (quantity = leaves, start = now, the same end time, limit and parameters). Past its
        end time the parent expires (DoneForDay for a Day order) instead."""
        rt = self.runtime[order.order_id]
        if order.status is OrdStatus.PENDING_REPLACE and order.pending_replace is not None:
            self._apply_replace_terms(order)       # a replace that arrived while resuming
        now = self.clock.now()
        if order.leaves_qty <= 0:
            return
        if order.expire_time is not None and order.expire_time <= now:
            event = OrderEvent.DONE_FOR_DAY if order.tif is TimeInForce.DAY else OrderEvent.EXPIRE
            self._close(order, event, "algo end time passed while the gateway was down: "
                                      "remainder not executed")
            return
        try:
            run = self.algo_factory(order, self, resume=True)
        except Exception as e:
            log.exception("algo %s could not resume", order.order_id)
            self._close(order, OrderEvent.CANCELED,
                        f"algo parent canceled: could not resume after a restart "
                        f"({type(e).__name__}: {e})")
            return
        rt.algo = run
        log.info("algo %s resumed after restart: %s left until %s", order.order_id,
                 order.leaves_qty, order.expire_time)
        try:
            run.start()
        except Exception as e:
            log.exception("algo %s failed to resume", order.order_id)
            self._close(order, OrderEvent.CANCELED,
                        f"algo failed to resume: {type(e).__name__}: {e}")

    def _apply_replace_terms(self, order: ClientOrder) -> None:
        """Make a pending replace effective (quantity, price, TIF, ExpireTime): Replaced.

        The one place a replace's terms land on the order, for a direct order, an algo parent
        and a replace finishing on resume alike, so a term honoured on one path is honoured on
        all of them (the algo path once forgot TimeInForce)."""
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

    def _finish_dma_replace(self, order: ClientOrder) -> None:
        """Replaced, then the expiry timer follows the (possibly new) ExpireTime."""
        self._apply_replace_terms(order)
        rt = self.runtime[order.order_id]
        if rt.timer is not None:
            rt.timer.cancel()
        self._arm_expiry(order)
        if order.leaves_qty > 0:
            self._spawn(self._route(order, order.leaves_qty))

    def _finish_algo_replace(self, order: ClientOrder) -> None:
        """The scheduler re-plans first; terms it refuses (ValueError) leave the parent as it
        was, with an OrderCancelReject naming the reason."""
        req: m.OrderCancelReplaceRequest = order.pending_replace  # type: ignore[assignment]
        try:
            self.runtime[order.order_id].algo.replace(req)
        except ValueError as e:
            orig = order.cl_ord_id
            order.pending_cl_ord_id, order.pending_replace = None, None
            self._apply(order, OrderEvent.REPLACE_REFUSED)
            self._cancel_reject(order.session_key, order, req.cl_ord_id, orig,
                                m.CxlRejResponseTo.REPLACE, m.CxlRejReason.OTHER, str(e))
            return
        self._apply_replace_terms(order)

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

    def _recompute_tca_after_late_fill(self, order: ClientOrder) -> None:
        """A fill booked after the algo parent ended changes its CumQty/AvgPx, so the 850 of
        that fill's ExecutionReport (and of the journaled order) is computed again, before the
        report is built. The opportunity cost of what is still unfilled is priced at the
        market mid *now*, i.e. at the late fill, not at the end of the order (that mid is not
        kept). The scheduler may be gone (cleanup, retention), and with it its arrival mid:
        a known 850 is never replaced by None for want of inputs. The hook's ``shortfall``
        (see :class:`fixgw.tca_oms.OmsTca`) leaves the saved execution trace alone; a plain
        callable hook is called as at the end of the order."""
        if not order.is_algo or self.tca is None:
            return
        compute = getattr(self.tca, "shortfall", self.tca)
        try:
            value = compute(order, self)
        except Exception:
            log.exception("TCA failed for the late fill of %s", order.order_id)
            return
        if value is not None:
            order.shortfall_bps = value

"""The OMS's record of one client order and its child orders, and the ExecutionReport builder.

:class:`ClientOrder` is the single mutable record the order manager owns (one per accepted
ClOrdID chain); every change goes through :meth:`ClientOrder.apply` (the state table) or
:meth:`ClientOrder.add_fill`, and every report is built by :func:`build_report` from the record,
so CumQty, LeavesQty and AvgPx are consistent on every ExecutionReport by construction:
LeavesQty = OrderQty - CumQty while the order works, 0 once it is terminal, and
AvgPx = sum(LastPx * LastQty) / CumQty (0 before the first fill).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum

from fixgw.domain import ZERO, ExecType, OrdStatus, OrdType, Side, Strategy, TimeInForce, Urgency
from fixgw.fix.messages import ExecutionReport, StrategyParameter
from fixgw.oms.state import OrderEvent, is_terminal, next_status

AVG_PX_QUANTUM = Decimal("1e-10")


class ChildState(str, Enum):
    CREATED = "created"    # journaled, not (yet) acknowledged by the venue
    OPEN = "open"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"

    @property
    def done(self) -> bool:
        return self in (ChildState.FILLED, ChildState.CANCELED, ChildState.REJECTED)


@dataclass
class ChildOrder:
    client_order_id: str
    order_id: str
    venue: str
    symbol: str
    side: Side
    ord_type: OrdType
    quantity: Decimal
    price: Decimal | None
    tif: TimeInForce
    post_only: bool = False
    state: ChildState = ChildState.CREATED
    filled: Decimal = ZERO
    venue_order_id: str | None = None
    reason: str | None = None
    created_at: float = 0.0

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.filled


@dataclass
class ClientOrder:
    order_id: str
    session_key: str
    cl_ord_id: str
    symbol: str
    side: Side
    ord_type: OrdType
    quantity: Decimal
    price: Decimal | None
    tif: TimeInForce
    account: str | None = None
    expire_time: float | None = None
    effective_time: float | None = None
    strategy: Strategy = Strategy.DMA
    urgency: Urgency | None = None
    participation_rate: Decimal | None = None
    max_floor: Decimal | None = None
    strategy_params: tuple[StrategyParameter, ...] = ()
    orig_cl_ord_id: str | None = None
    status: OrdStatus = OrdStatus.PENDING_NEW
    cum_qty: Decimal = ZERO
    notional: Decimal = ZERO          # sum(LastPx * LastQty)
    fees: Decimal = ZERO              # in quote currency where the venue charged quote
    arrival_price: Decimal | None = None
    shortfall_bps: Decimal | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    text: str | None = None
    next_child: int = 1
    # the outstanding cancel/replace request, if any
    pending_cl_ord_id: str | None = None
    pending_replace: object | None = None  # OrderCancelReplaceRequest
    children: dict[str, ChildOrder] = field(default_factory=dict)

    @property
    def leaves_qty(self) -> Decimal:
        return ZERO if is_terminal(self.status) else max(self.quantity - self.cum_qty, ZERO)

    @property
    def avg_px(self) -> Decimal:
        if self.cum_qty == 0:
            return ZERO
        return (self.notional / self.cum_qty).quantize(AVG_PX_QUANTUM).normalize()

    @property
    def is_algo(self) -> bool:
        return self.strategy is not Strategy.DMA

    @property
    def terminal(self) -> bool:
        return is_terminal(self.status)

    def open_children(self) -> list[ChildOrder]:
        return [c for c in self.children.values() if not c.state.done]

    def apply(self, event: OrderEvent) -> OrdStatus:
        self.status = next_status(self.status, event, self.cum_qty > 0, self.order_id)
        return self.status

    def add_fill(self, price: Decimal, quantity: Decimal) -> OrderEvent:
        """Book a fill; return the state-table event it amounts to (partial or complete)."""
        self.cum_qty += quantity
        self.notional += price * quantity
        return OrderEvent.FILL if self.cum_qty >= self.quantity else OrderEvent.PARTIAL_FILL


def build_report(order: ClientOrder, exec_type: ExecType, exec_id: str, now: float, *,
                 cl_ord_id: str | None = None, orig_cl_ord_id: str | None = None,
                 last_qty: Decimal | None = None, last_px: Decimal | None = None,
                 last_mkt: str | None = None, commission: Decimal | None = None,
                 comm_currency: str | None = None, last_liquidity: int | None = None,
                 ord_rej_reason: int | None = None, text: str | None = None,
                 ord_status_req_id: str | None = None) -> ExecutionReport:
    """One ExecutionReport from the order's current state (see the module docstring)."""
    terminal = order.terminal
    performance = order.shortfall_bps if (terminal and order.is_algo) else None
    return ExecutionReport(
        order_id=order.order_id, exec_id=exec_id, exec_type=exec_type,
        ord_status=order.status, symbol=order.symbol, side=order.side,
        leaves_qty=order.leaves_qty, cum_qty=order.cum_qty, avg_px=order.avg_px,
        transact_time=now, cl_ord_id=cl_ord_id or order.cl_ord_id,
        orig_cl_ord_id=orig_cl_ord_id, ord_status_req_id=ord_status_req_id,
        account=order.account, order_qty=order.quantity, ord_type=order.ord_type,
        price=order.price, tif=order.tif,
        expire_time=order.expire_time if order.tif is TimeInForce.GTD else None,
        ord_rej_reason=ord_rej_reason, last_qty=last_qty, last_px=last_px, last_mkt=last_mkt,
        commission=commission, comm_currency=comm_currency, last_liquidity=last_liquidity,
        strategy_performance=performance, text=text)

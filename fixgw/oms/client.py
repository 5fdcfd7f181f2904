"""A blocking order-entry client: typed orders out, ExecutionReports back, over real FIX/TCP.

It sits on H7's :class:`fixgw.client.FixClient` (the session duties) and speaks the order
messages of :mod:`fixgw.fix.messages`. ``fixgw demo``, the end-to-end tests and the order
benchmark all drive the gateway exactly as an OMS would, through this.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable

from fixgw.client import ClientConfig, FixClient
from fixgw.domain import ExecType, OrdStatus, OrdType, Side, Strategy, TimeInForce, Urgency
from fixgw.fix import messages as m
from fixgw.fix.message import FixMessage

TERMINAL = {OrdStatus.FILLED, OrdStatus.CANCELED, OrdStatus.REJECTED, OrdStatus.EXPIRED,
            OrdStatus.DONE_FOR_DAY}


@dataclass
class Inbox:
    """Every application message received, in order, indexed by ClOrdID."""

    messages: list[FixMessage] = field(default_factory=list)

    def add(self, msg: FixMessage) -> None:
        self.messages.append(msg)


class OrderClient:
    def __init__(self, host: str, port: int, *, sender: str = "OMS", target: str = "FIXGW",
                 reset_on_logon: bool = True, heartbeat: int = 30, seq_file=None):
        self.fix = FixClient(ClientConfig(host=host, port=port, sender=sender, target=target,
                                          reset_on_logon=reset_on_logon, heartbeat=heartbeat,
                                          seq_file=seq_file), listener=self._on_message)
        self.inbox = Inbox()
        self._seen = 0

    # -- session -----------------------------------------------------------------------------
    def logon(self, timeout: float = 10.0) -> None:
        self.fix.logon(timeout)

    def logout(self) -> None:
        try:
            self.fix.logout()
        finally:
            self.fix.close()

    def __enter__(self) -> "OrderClient":
        self.logon()
        return self

    def __exit__(self, *exc) -> None:
        self.logout()

    # -- sending -----------------------------------------------------------------------------
    def new_order(self, cl_ord_id: str, symbol: str, side: Side, quantity: Decimal | str, *,
                  price: Decimal | str | None = None, tif: TimeInForce = TimeInForce.DAY,
                  account: str | None = None, strategy: Strategy = Strategy.DMA,
                  urgency: Urgency | None = None, participation_rate: Decimal | None = None,
                  effective_time: float | None = None, expire_time: float | None = None,
                  max_floor: Decimal | None = None,
                  params: dict[str, str] | None = None) -> int:
        nos = m.NewOrderSingle(
            cl_ord_id=cl_ord_id, symbol=symbol, side=side,
            ord_type=OrdType.LIMIT if price is not None else OrdType.MARKET,
            quantity=Decimal(quantity), price=None if price is None else Decimal(price), tif=tif,
            account=account, expire_time=expire_time, effective_time=effective_time,
            strategy=strategy, urgency=urgency, participation_rate=participation_rate,
            max_floor=max_floor,
            strategy_params=tuple(m.StrategyParameter(k, "14", v) for k, v in (params or {}).items()))
        return self.fix.send("D", m.new_order_single_body(nos, time.time()))

    def send_raw(self, msg_type: str, body) -> int:
        return self.fix.send(msg_type, body)

    def cancel(self, cl_ord_id: str, orig_cl_ord_id: str, symbol: str, side: Side) -> int:
        return self.fix.send("F", m.cancel_request_body(cl_ord_id, orig_cl_ord_id, symbol, side,
                                                        time.time()))

    def replace(self, cl_ord_id: str, orig_cl_ord_id: str, symbol: str, side: Side,
                quantity: Decimal | str, price: Decimal | str | None,
                tif: TimeInForce | None = None, params: dict[str, str] | None = None) -> int:
        return self.fix.send("G", m.replace_request_body(
            cl_ord_id, orig_cl_ord_id, symbol, side,
            OrdType.LIMIT if price is not None else OrdType.MARKET, Decimal(quantity),
            None if price is None else Decimal(price), time.time(), tif,
            tuple(m.StrategyParameter(k, "14", v) for k, v in (params or {}).items())))

    def status(self, cl_ord_id: str, symbol: str, side: Side, req_id: str | None = None) -> int:
        return self.fix.send("H", m.status_request_body(cl_ord_id, symbol, side, req_id))

    def mass_cancel(self, cl_ord_id: str, symbol: str | None = None) -> int:
        return self.fix.send("q", m.mass_cancel_request_body(cl_ord_id, time.time(), symbol))

    # -- receiving ---------------------------------------------------------------------------
    def _on_message(self, direction: str, msg: FixMessage) -> None:
        """Every inbound application message lands in the inbox, whoever read it off the
        socket (a Logon's wait also reads what arrived before the reply)."""
        if direction == "<-" and msg.msg_type not in ("0", "1", "2", "3", "4", "5", "A"):
            self.inbox.add(msg)

    def pump(self, timeout: float) -> FixMessage | None:
        """Receive one message (session duties done by FixClient); the listener files it."""
        return self.fix.receive(timeout)

    def wait(self, predicate: Callable[[FixMessage], bool], timeout: float = 10.0,
             start: int = 0) -> FixMessage | None:
        """The first application message (from index ``start``) matching ``predicate``."""
        deadline = time.monotonic() + timeout
        checked = start
        while True:
            while checked < len(self.inbox.messages):
                msg = self.inbox.messages[checked]
                checked += 1
                if predicate(msg):
                    return msg
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.pump(min(remaining, 0.5))

    def reports(self, cl_ord_id: str) -> list[m.ReceivedExecutionReport]:
        return [m.decode_execution_report(x) for x in self.inbox.messages
                if x.msg_type == "8" and x.get(11) == cl_ord_id]

    def wait_report(self, cl_ord_id: str, predicate: Callable[[m.ReceivedExecutionReport], bool],
                    timeout: float = 10.0) -> m.ReceivedExecutionReport | None:
        msg = self.wait(lambda x: x.msg_type == "8" and x.get(11) == cl_ord_id
                        and predicate(m.decode_execution_report(x)), timeout)
        return None if msg is None else m.decode_execution_report(msg)

    def wait_done(self, cl_ord_id: str, timeout: float = 15.0) -> m.ReceivedExecutionReport | None:
        """Wait for the order's terminal ExecutionReport (Filled, Canceled, Rejected, ...)."""
        return self.wait_report(cl_ord_id, lambda r: r.ord_status in TERMINAL
                                and r.exec_type is not ExecType.ORDER_STATUS, timeout)

    def wait_type(self, msg_type: str, cl_ord_id: str | None = None,
                  timeout: float = 10.0) -> FixMessage | None:
        return self.wait(lambda x: x.msg_type == msg_type
                         and (cl_ord_id is None or x.get(11) == cl_ord_id), timeout)


def describe_report(r: m.ReceivedExecutionReport) -> str:
    """One readable line: side, qty, price, venue, status."""
    side = r.side.name
    qty = m.format_decimal(r.order_qty) if r.order_qty is not None else "?"
    kind = {ExecType.NEW: "ACK", ExecType.TRADE: "FILL", ExecType.CANCELED: "CANCELED",
            ExecType.REPLACED: "REPLACED", ExecType.REJECTED: "REJECTED",
            ExecType.PENDING_CANCEL: "PENDING-CANCEL", ExecType.PENDING_REPLACE: "PENDING-REPLACE",
            ExecType.EXPIRED: "EXPIRED", ExecType.ORDER_STATUS: "STATUS",
            ExecType.PENDING_NEW: "PENDING-NEW", ExecType.DONE_FOR_DAY: "DONE-FOR-DAY"}.get(
        r.exec_type, r.exec_type.name)
    limit = f" limit {m.format_decimal(r.price)}" if r.price is not None else " market"
    line = f"{r.cl_ord_id:<10} {kind:<15} {side:<4} {qty:>6} {r.symbol:<14}{limit:<16}"
    if r.exec_type is ExecType.TRADE:
        fee = f" fee {m.format_decimal(r.commission)} {r.comm_currency or ''}" \
            if r.commission is not None else ""
        line += (f" {m.format_decimal(r.last_qty)} @ {m.format_decimal(r.last_px)} on "
                 f"{r.last_mkt}{fee}")
    line += (f" | cum {m.format_decimal(r.cum_qty)} avg {m.format_decimal(r.avg_px)} "
             f"leaves {m.format_decimal(r.leaves_qty)} {r.ord_status.name}")
    if r.strategy_performance is not None:
        line += f" shortfall {m.format_decimal(r.strategy_performance)} bps"
    if r.text and r.exec_type is not ExecType.TRADE:
        line += f" ({r.text})"
    return line

"""Typed FIX 4.4 application messages <-> :class:`FixMessage` / body fields.

Raw tag/value pairs stop here: the OMS sees frozen dataclasses with Decimal money, epoch-second
times and enums from :mod:`fixgw.domain`. Decoders raise :class:`FieldError` naming the tag,
the offending value and why, so that the caller can answer with the reject FIX prescribes
(an ExecutionReport for a NewOrderSingle, an OrderCancelReject for a cancel, a
BusinessMessageReject otherwise). Encoders return the *body* fields in ascending tag order
(the session layer adds header and trailer); every value is already wire text.
"""
from __future__ import annotations

import calendar
import re
import time
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Sequence

from fixgw.domain import ExecType, OrdStatus, OrdType, Side, Strategy, TimeInForce, Urgency
from fixgw.fix.message import FixMessage

Body = list[tuple[int, str]]


class MsgType:
    NEW_ORDER_SINGLE = "D"
    ORDER_CANCEL_REQUEST = "F"
    ORDER_CANCEL_REPLACE_REQUEST = "G"
    ORDER_STATUS_REQUEST = "H"
    ORDER_MASS_CANCEL_REQUEST = "q"
    EXECUTION_REPORT = "8"
    ORDER_CANCEL_REJECT = "9"
    ORDER_MASS_CANCEL_REPORT = "r"
    BUSINESS_MESSAGE_REJECT = "j"


class FieldError(ValueError):
    """An application-level field problem: names tag, value and reason (goes into Text 58)."""

    def __init__(self, tag: int, value: str | None, reason: str):
        shown = "missing" if value is None else f"'{value}'"
        super().__init__(f"tag {tag} ({TAG_NAMES.get(tag, '?')}) {shown}: {reason}")
        self.tag = tag
        self.value = value
        self.reason = reason


TAG_NAMES = {
    1: "Account", 11: "ClOrdID", 37: "OrderID", 38: "OrderQty", 40: "OrdType", 41: "OrigClOrdID",
    44: "Price", 54: "Side", 55: "Symbol", 59: "TimeInForce", 60: "TransactTime",
    111: "MaxFloor", 126: "ExpireTime", 168: "EffectiveTime", 530: "MassCancelRequestType",
    790: "OrdStatusReqID", 847: "TargetStrategy", 848: "TargetStrategyParameters",
    849: "ParticipationRate", 957: "NoStrategyParameters", 958: "StrategyParameterName",
    959: "StrategyParameterType", 960: "StrategyParameterValue",
}


# ---------------------------------------------------------------------------------------------
# value codecs


def format_decimal(value: Decimal) -> str:
    """Plain (never exponent) text with no trailing zeros: Decimal('1.500') -> '1.5'."""
    if value == 0:
        return "0"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


MAX_DECIMAL_CHARS = 40
_FIX_DECIMAL = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)")


def parse_decimal(tag: int, value: str | None, *, positive: bool = False,
                  allow_zero: bool = True) -> Decimal:
    """A FIX float field (digits, an optional leading '-' and one '.') as an exact Decimal.

    Python's Decimal also takes exponents, underscores and surrounding blanks; those are
    refused, so that ``1E+999999`` cannot become a million-digit number on the order path."""
    if value is None or value == "":
        raise FieldError(tag, value, "required")
    if len(value) > MAX_DECIMAL_CHARS:
        raise FieldError(tag, value[:MAX_DECIMAL_CHARS] + "...",
                         f"too long (over {MAX_DECIMAL_CHARS} characters)")
    try:
        d = Decimal(value)
    except InvalidOperation:
        raise FieldError(tag, value, "not a number") from None
    if not d.is_finite():
        raise FieldError(tag, value, "not a finite number")
    if not _FIX_DECIMAL.fullmatch(value):
        raise FieldError(tag, value, "not a FIX decimal (digits, optional '-' and '.')")
    if positive and (d < 0 or (d == 0 and not allow_zero)):
        raise FieldError(tag, value, "must be greater than zero")
    if d < 0:
        raise FieldError(tag, value, "must not be negative")
    return d


def format_utc_timestamp(epoch_seconds: float) -> str:
    """FIX UTCTimestamp with milliseconds: YYYYMMDD-HH:MM:SS.sss."""
    ms_total = int(round(epoch_seconds * 1000))
    secs, ms = divmod(ms_total, 1000)
    return time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(secs)) + f".{ms:03d}"


def parse_utc_timestamp(tag: int, value: str) -> float:
    """YYYYMMDD-HH:MM:SS[.sss[sss]] -> epoch seconds."""
    try:
        main, _, frac = value.partition(".")
        st = time.strptime(main, "%Y%m%d-%H:%M:%S")
        seconds = calendar.timegm(st)
        if frac:
            if not frac.isdigit():
                raise ValueError
            seconds += int(frac) / (10 ** len(frac))
        return float(seconds)
    except ValueError:
        raise FieldError(tag, value, "not a UTCTimestamp (YYYYMMDD-HH:MM:SS[.sss])") from None


def _enum(tag: int, enum_cls, value: str | None, what: str):
    if value is None:
        raise FieldError(tag, value, "required")
    try:
        return enum_cls(value)
    except ValueError:
        allowed = ", ".join(f"{m.value}={m.name}" for m in enum_cls)
        raise FieldError(tag, value, f"unsupported {what} (supported: {allowed})") from None


def _required(msg: FixMessage, tag: int) -> str:
    v = msg.get(tag)
    if v is None or v == "":
        raise FieldError(tag, v, "required")
    return v


# ---------------------------------------------------------------------------------------------
# inbound


@dataclass(frozen=True, slots=True)
class StrategyParameter:
    """One entry of the StrategyParametersGrp (957 NoStrategyParameters, 958/959/960)."""

    name: str
    type: str | None
    value: str


def find_strategy_param(params: tuple["StrategyParameter", ...], name: str) -> str | None:
    """StrategyParameterValue(960) of the entry named ``name``; names match case-insensitively
    (OMS vendors spell them ``MinClip``, ``minclip`` or ``MINCLIP``), as the SOR's filters do."""
    wanted = name.lower()
    for p in params:
        if p.name.lower() == wanted:
            return p.value
    return None


@dataclass(frozen=True, slots=True)
class NewOrderSingle:
    cl_ord_id: str
    symbol: str
    side: Side
    ord_type: OrdType
    quantity: Decimal
    price: Decimal | None = None
    tif: TimeInForce = TimeInForce.DAY
    account: str | None = None
    expire_time: float | None = None       # 126, epoch seconds
    effective_time: float | None = None    # 168
    strategy: Strategy = Strategy.DMA      # 847 (absent = DMA)
    urgency: Urgency | None = None         # 848
    participation_rate: Decimal | None = None  # 849
    max_floor: Decimal | None = None       # 111
    strategy_params: tuple[StrategyParameter, ...] = ()
    transact_time: float | None = None
    text: str | None = None

    def param(self, name: str) -> str | None:
        return find_strategy_param(self.strategy_params, name)


@dataclass(frozen=True, slots=True)
class OrderCancelRequest:
    cl_ord_id: str
    orig_cl_ord_id: str
    symbol: str
    side: Side
    order_id: str | None = None
    quantity: Decimal | None = None
    account: str | None = None


@dataclass(frozen=True, slots=True)
class OrderCancelReplaceRequest:
    cl_ord_id: str
    orig_cl_ord_id: str
    symbol: str
    side: Side
    ord_type: OrdType
    quantity: Decimal
    price: Decimal | None = None
    order_id: str | None = None
    tif: TimeInForce | None = None
    account: str | None = None
    expire_time: float | None = None
    effective_time: float | None = None
    participation_rate: Decimal | None = None
    max_floor: Decimal | None = None
    strategy_params: tuple[StrategyParameter, ...] = ()

    def param(self, name: str) -> str | None:
        return find_strategy_param(self.strategy_params, name)


@dataclass(frozen=True, slots=True)
class OrderStatusRequest:
    cl_ord_id: str
    symbol: str
    side: Side
    order_id: str | None = None
    ord_status_req_id: str | None = None


class MassCancelRequestType:
    SECURITY = "1"
    ALL = "7"


@dataclass(frozen=True, slots=True)
class OrderMassCancelRequest:
    cl_ord_id: str
    request_type: str          # MassCancelRequestType
    symbol: str | None = None
    side: Side | None = None


def _parse_strategy_params(msg: FixMessage) -> tuple[StrategyParameter, ...]:
    """The 957 group in wire order: each entry starts with 958."""
    count_text = msg.get(957)
    if count_text is None:
        return ()
    try:
        count = int(count_text)
    except ValueError:
        raise FieldError(957, count_text, "not an integer") from None
    params: list[StrategyParameter] = []
    current: dict[int, str] | None = None
    for tag, value in msg.fields:
        if tag == 958:
            if current is not None:
                params.append(_strategy_param(current))
            current = {958: value}
        elif tag in (959, 960) and current is not None:
            current[tag] = value
    if current is not None:
        params.append(_strategy_param(current))
    if len(params) != count:
        raise FieldError(957, count_text, f"group count does not match {len(params)} entries")
    return tuple(params)


def _strategy_param(entry: dict[int, str]) -> StrategyParameter:
    if 960 not in entry:
        raise FieldError(960, None, f"required for strategy parameter '{entry[958]}'")
    return StrategyParameter(entry[958], entry.get(959), entry[960])


def _optional_time(msg: FixMessage, tag: int) -> float | None:
    v = msg.get(tag)
    return None if v in (None, "") else parse_utc_timestamp(tag, v)


def _optional_decimal(msg: FixMessage, tag: int, *, positive: bool = True) -> Decimal | None:
    v = msg.get(tag)
    if v in (None, ""):
        return None
    return parse_decimal(tag, v, positive=positive, allow_zero=False)


def decode_new_order_single(msg: FixMessage) -> NewOrderSingle:
    cl_ord_id = _required(msg, 11)
    symbol = _required(msg, 55)
    side = _enum(54, Side, msg.get(54), "side")
    ord_type = _enum(40, OrdType, msg.get(40), "order type")
    quantity = parse_decimal(38, msg.get(38), positive=True, allow_zero=False)
    price = _optional_decimal(msg, 44)
    if ord_type is OrdType.LIMIT and price is None:
        raise FieldError(44, None, "required for a limit order")
    tif_text = msg.get(59)
    tif = TimeInForce.DAY if tif_text is None else _enum(59, TimeInForce, tif_text, "time in force")
    expire_time = _optional_time(msg, 126)
    if tif is TimeInForce.GTD and expire_time is None:
        raise FieldError(126, None, "required when TimeInForce is 6 (GTD)")
    strategy_text = msg.get(847)
    strategy = Strategy.DMA if strategy_text in (None, "", "0") else \
        _enum(847, Strategy, strategy_text, "target strategy")
    urgency_text = msg.get(848)
    urgency = None if urgency_text in (None, "") else \
        _enum(848, Urgency, urgency_text.upper(), "urgency")
    rate = _optional_decimal(msg, 849)
    if rate is not None and rate > 1:
        raise FieldError(849, msg.get(849), "must be in (0, 1]")
    transact = _optional_time(msg, 60)
    return NewOrderSingle(
        cl_ord_id=cl_ord_id, symbol=symbol, side=side, ord_type=ord_type, quantity=quantity,
        price=price, tif=tif, account=msg.get(1) or None, expire_time=expire_time,
        effective_time=_optional_time(msg, 168), strategy=strategy, urgency=urgency,
        participation_rate=rate, max_floor=_optional_decimal(msg, 111),
        strategy_params=_parse_strategy_params(msg), transact_time=transact,
        text=msg.get(58))


def decode_order_cancel_request(msg: FixMessage) -> OrderCancelRequest:
    qty = msg.get(38)
    return OrderCancelRequest(
        cl_ord_id=_required(msg, 11), orig_cl_ord_id=_required(msg, 41),
        symbol=_required(msg, 55), side=_enum(54, Side, msg.get(54), "side"),
        order_id=msg.get(37) or None,
        quantity=None if qty in (None, "") else parse_decimal(38, qty),
        account=msg.get(1) or None)


def decode_order_cancel_replace_request(msg: FixMessage) -> OrderCancelReplaceRequest:
    ord_type = _enum(40, OrdType, msg.get(40), "order type")
    price = _optional_decimal(msg, 44)
    if ord_type is OrdType.LIMIT and price is None:
        raise FieldError(44, None, "required for a limit order")
    tif_text = msg.get(59)
    return OrderCancelReplaceRequest(
        cl_ord_id=_required(msg, 11), orig_cl_ord_id=_required(msg, 41),
        symbol=_required(msg, 55), side=_enum(54, Side, msg.get(54), "side"),
        ord_type=ord_type,
        quantity=parse_decimal(38, msg.get(38), positive=True, allow_zero=False),
        price=price, order_id=msg.get(37) or None,
        tif=None if tif_text is None else _enum(59, TimeInForce, tif_text, "time in force"),
        account=msg.get(1) or None, expire_time=_optional_time(msg, 126),
        effective_time=_optional_time(msg, 168),
        participation_rate=_optional_decimal(msg, 849),
        max_floor=_optional_decimal(msg, 111),
        strategy_params=_parse_strategy_params(msg))


def decode_order_status_request(msg: FixMessage) -> OrderStatusRequest:
    return OrderStatusRequest(
        cl_ord_id=_required(msg, 11), symbol=_required(msg, 55),
        side=_enum(54, Side, msg.get(54), "side"), order_id=msg.get(37) or None,
        ord_status_req_id=msg.get(790) or None)


def decode_order_mass_cancel_request(msg: FixMessage) -> OrderMassCancelRequest:
    request_type = _required(msg, 530)
    if request_type not in (MassCancelRequestType.SECURITY, MassCancelRequestType.ALL):
        raise FieldError(530, request_type,
                         "unsupported mass cancel type (supported: 1=by symbol, 7=all)")
    symbol = msg.get(55) or None
    if request_type == MassCancelRequestType.SECURITY and symbol is None:
        raise FieldError(55, None, "required when MassCancelRequestType is 1")
    side_text = msg.get(54)
    return OrderMassCancelRequest(
        cl_ord_id=_required(msg, 11), request_type=request_type, symbol=symbol,
        side=None if side_text in (None, "") else _enum(54, Side, side_text, "side"))


# ---------------------------------------------------------------------------------------------
# outbound


@dataclass(frozen=True, slots=True)
class ExecutionReport:
    order_id: str
    exec_id: str
    exec_type: ExecType
    ord_status: OrdStatus
    symbol: str
    side: Side
    leaves_qty: Decimal
    cum_qty: Decimal
    avg_px: Decimal
    transact_time: float
    cl_ord_id: str | None = None
    orig_cl_ord_id: str | None = None
    ord_status_req_id: str | None = None
    account: str | None = None
    order_qty: Decimal | None = None
    ord_type: OrdType | None = None
    price: Decimal | None = None
    tif: TimeInForce | None = None
    expire_time: float | None = None
    ord_rej_reason: int | None = None
    last_qty: Decimal | None = None
    last_px: Decimal | None = None
    last_mkt: str | None = None
    commission: Decimal | None = None
    comm_currency: str | None = None
    last_liquidity: int | None = None      # 851: 1 added, 2 removed
    strategy_performance: Decimal | None = None  # 850, bps
    text: str | None = None
    copy: bool = False                     # 797=Y on drop copies

    def body(self) -> Body:
        f: Body = [(1, self.account)] if self.account else []
        f.append((6, format_decimal(self.avg_px)))
        if self.cl_ord_id is not None:
            f.append((11, self.cl_ord_id))
        if self.commission is not None:
            f.append((12, format_decimal(self.commission)))
            f.append((13, "3"))  # absolute
        f.append((14, format_decimal(self.cum_qty)))
        f.append((17, self.exec_id))
        if self.last_mkt:
            f.append((30, self.last_mkt))
        if self.last_px is not None:
            f.append((31, format_decimal(self.last_px)))
        if self.last_qty is not None:
            f.append((32, format_decimal(self.last_qty)))
        f.append((37, self.order_id))
        if self.order_qty is not None:
            f.append((38, format_decimal(self.order_qty)))
        f.append((39, self.ord_status.value))
        if self.ord_type is not None:
            f.append((40, self.ord_type.value))
        if self.orig_cl_ord_id is not None:
            f.append((41, self.orig_cl_ord_id))
        if self.price is not None:
            f.append((44, format_decimal(self.price)))
        f.append((54, self.side.value))
        f.append((55, self.symbol))
        if self.text:
            f.append((58, _clean_text(self.text)))
        if self.tif is not None:
            f.append((59, self.tif.value))
        f.append((60, format_utc_timestamp(self.transact_time)))
        if self.ord_rej_reason is not None:
            f.append((103, str(self.ord_rej_reason)))
        if self.expire_time is not None:
            f.append((126, format_utc_timestamp(self.expire_time)))
        f.append((150, self.exec_type.value))
        f.append((151, format_decimal(self.leaves_qty)))
        if self.commission is not None and self.comm_currency:
            f.append((479, self.comm_currency))
        if self.ord_status_req_id is not None:
            f.append((790, self.ord_status_req_id))
        if self.copy:
            f.append((797, "Y"))
        if self.strategy_performance is not None:
            f.append((850, format_decimal(self.strategy_performance)))
        if self.last_liquidity is not None:
            f.append((851, str(self.last_liquidity)))
        return f

    def as_copy(self) -> "ExecutionReport":
        return replace(self, copy=True)


class CxlRejReason:
    TOO_LATE = 0
    UNKNOWN_ORDER = 1
    ALREADY_PENDING = 3
    DUPLICATE_CL_ORD_ID = 6
    OTHER = 99


class CxlRejResponseTo:
    CANCEL = "1"
    REPLACE = "2"


@dataclass(frozen=True, slots=True)
class OrderCancelReject:
    order_id: str            # "NONE" when the order is unknown (FIX convention)
    cl_ord_id: str
    orig_cl_ord_id: str
    ord_status: OrdStatus
    response_to: str         # CxlRejResponseTo
    reason: int              # CxlRejReason
    text: str
    transact_time: float
    account: str | None = None
    copy: bool = False

    def body(self) -> Body:
        f: Body = [(1, self.account)] if self.account else []
        f += [(11, self.cl_ord_id), (37, self.order_id), (39, self.ord_status.value),
              (41, self.orig_cl_ord_id), (58, _clean_text(self.text)),
              (60, format_utc_timestamp(self.transact_time)), (102, str(self.reason)),
              (434, self.response_to)]
        if self.copy:
            # CopyMsgIndicator on 35=9 is a fixgw extension (dictionaries/FIX44-fixgw.xml)
            f.append((797, "Y"))
        return f


@dataclass(frozen=True, slots=True)
class AffectedOrder:
    orig_cl_ord_id: str
    order_id: str


@dataclass(frozen=True, slots=True)
class OrderMassCancelReport:
    order_id: str
    cl_ord_id: str
    request_type: str
    response: str            # "0" rejected, else echoes request_type
    affected: tuple[AffectedOrder, ...] = ()
    symbol: str | None = None
    side: Side | None = None
    reject_reason: str | None = None
    text: str | None = None
    transact_time: float | None = None

    def body(self) -> Body:
        f: Body = [(11, self.cl_ord_id), (37, self.order_id)]
        if self.side is not None:
            f.append((54, self.side.value))
        if self.symbol is not None:
            f.append((55, self.symbol))
        if self.text:
            f.append((58, _clean_text(self.text)))
        if self.transact_time is not None:
            f.append((60, format_utc_timestamp(self.transact_time)))
        f.append((530, self.request_type))
        f.append((531, self.response))
        if self.reject_reason is not None:
            f.append((532, self.reject_reason))
        f.append((533, str(len(self.affected))))
        if self.affected:
            f.append((534, str(len(self.affected))))
            for a in self.affected:
                f.append((41, a.orig_cl_ord_id))
                f.append((535, a.order_id))
        return f


class BusinessRejectReason:
    OTHER = 0
    UNKNOWN_ID = 1
    UNKNOWN_SECURITY = 2
    UNSUPPORTED_MESSAGE_TYPE = 3
    APPLICATION_NOT_AVAILABLE = 4
    CONDITIONALLY_REQUIRED_FIELD_MISSING = 5
    NOT_AUTHORIZED = 6


@dataclass(frozen=True, slots=True)
class BusinessMessageReject:
    ref_msg_type: str
    reason: int
    text: str
    ref_seq_num: int | None = None
    ref_id: str | None = None   # 379, e.g. the ClOrdID of the refused message

    def body(self) -> Body:
        f: Body = []
        if self.ref_seq_num is not None:
            f.append((45, str(self.ref_seq_num)))
        f.append((58, _clean_text(self.text)))
        f.append((372, self.ref_msg_type))
        if self.ref_id:
            f.append((379, self.ref_id))
        f.append((380, str(self.reason)))
        return f


def _clean_text(text: str) -> str:
    """Text(58) must not contain SOH; keep it to one printable line of bounded length."""
    return text.replace("\x01", " ").replace("\n", " ")[:480]


# ---------------------------------------------------------------------------------------------
# decoding outbound messages (for clients, tests and drop-copy listeners)


@dataclass(frozen=True, slots=True)
class ReceivedExecutionReport:
    """The fields of an ER a client cares about, parsed back from the wire."""

    order_id: str
    exec_id: str
    exec_type: ExecType
    ord_status: OrdStatus
    symbol: str
    side: Side
    leaves_qty: Decimal
    cum_qty: Decimal
    avg_px: Decimal
    cl_ord_id: str | None
    orig_cl_ord_id: str | None
    order_qty: Decimal | None
    price: Decimal | None
    last_qty: Decimal | None
    last_px: Decimal | None
    last_mkt: str | None
    commission: Decimal | None
    comm_currency: str | None
    ord_rej_reason: int | None
    text: str | None
    ord_status_req_id: str | None
    strategy_performance: Decimal | None
    copy: bool
    fields: tuple[tuple[int, str], ...] = field(default=(), repr=False)


def decode_execution_report(msg: FixMessage | Sequence[tuple[int, str]]) -> ReceivedExecutionReport:
    fields = msg.fields if isinstance(msg, FixMessage) else tuple(msg)
    d: dict[int, str] = {}
    for t, v in fields:
        d.setdefault(t, v)

    def dec(tag: int) -> Decimal | None:
        return Decimal(d[tag]) if tag in d else None

    return ReceivedExecutionReport(
        order_id=d[37], exec_id=d[17], exec_type=ExecType(d[150]), ord_status=OrdStatus(d[39]),
        symbol=d.get(55, ""), side=Side(d[54]), leaves_qty=Decimal(d[151]),
        cum_qty=Decimal(d[14]), avg_px=Decimal(d[6]), cl_ord_id=d.get(11),
        orig_cl_ord_id=d.get(41), order_qty=dec(38), price=dec(44), last_qty=dec(32),
        last_px=dec(31), last_mkt=d.get(30), commission=dec(12), comm_currency=d.get(479),
        ord_rej_reason=int(d[103]) if 103 in d else None, text=d.get(58),
        ord_status_req_id=d.get(790), strategy_performance=dec(850),
        copy=d.get(797) == "Y", fields=tuple(fields))


def new_order_single_body(nos: NewOrderSingle, transact_time: float) -> Body:
    """Encode a NewOrderSingle (for clients: fix_client.py, demo, tests, benchmark)."""
    f: Body = []
    if nos.account:
        f.append((1, nos.account))
    f.append((11, nos.cl_ord_id))
    f.append((38, format_decimal(nos.quantity)))
    f.append((40, nos.ord_type.value))
    if nos.price is not None:
        f.append((44, format_decimal(nos.price)))
    f.append((54, nos.side.value))
    f.append((55, nos.symbol))
    f.append((59, nos.tif.value))
    f.append((60, format_utc_timestamp(transact_time)))
    if nos.max_floor is not None:
        f.append((111, format_decimal(nos.max_floor)))
    if nos.expire_time is not None:
        f.append((126, format_utc_timestamp(nos.expire_time)))
    if nos.effective_time is not None:
        f.append((168, format_utc_timestamp(nos.effective_time)))
    if nos.strategy is not Strategy.DMA:
        f.append((847, nos.strategy.value))
    if nos.urgency is not None:
        f.append((848, nos.urgency.value))
    if nos.participation_rate is not None:
        f.append((849, format_decimal(nos.participation_rate)))
    if nos.strategy_params:
        f.append((957, str(len(nos.strategy_params))))
        for p in nos.strategy_params:
            f.append((958, p.name))
            if p.type is not None:
                f.append((959, p.type))
            f.append((960, p.value))
    return f


def cancel_request_body(cl_ord_id: str, orig_cl_ord_id: str, symbol: str, side: Side,
                        transact_time: float, order_id: str | None = None) -> Body:
    f: Body = [(11, cl_ord_id)]
    if order_id:
        f.append((37, order_id))
    f += [(41, orig_cl_ord_id), (54, side.value), (55, symbol),
          (60, format_utc_timestamp(transact_time))]
    return f


def replace_request_body(cl_ord_id: str, orig_cl_ord_id: str, symbol: str, side: Side,
                         ord_type: OrdType, quantity: Decimal, price: Decimal | None,
                         transact_time: float, tif: TimeInForce | None = None,
                         params: Sequence[StrategyParameter] = ()) -> Body:
    f: Body = [(11, cl_ord_id), (38, format_decimal(quantity)), (40, ord_type.value),
               (41, orig_cl_ord_id)]
    if price is not None:
        f.append((44, format_decimal(price)))
    f += [(54, side.value), (55, symbol)]
    if tif is not None:
        f.append((59, tif.value))
    f.append((60, format_utc_timestamp(transact_time)))
    if params:
        f.append((957, str(len(params))))
        for p in params:
            f.append((958, p.name))
            if p.type is not None:
                f.append((959, p.type))
            f.append((960, p.value))
    return f


def status_request_body(cl_ord_id: str, symbol: str, side: Side,
                        ord_status_req_id: str | None = None) -> Body:
    f: Body = [(11, cl_ord_id), (54, side.value), (55, symbol)]
    if ord_status_req_id:
        f.append((790, ord_status_req_id))
    return f


def mass_cancel_request_body(cl_ord_id: str, transact_time: float,
                             symbol: str | None = None) -> Body:
    f: Body = [(11, cl_ord_id)]
    if symbol:
        f.append((55, symbol))
    f.append((60, format_utc_timestamp(transact_time)))
    f.append((530, MassCancelRequestType.SECURITY if symbol else MassCancelRequestType.ALL))
    return f

"""Typed FIX messages: decoding with named field errors, encoding in valid FIX 4.4 shape."""
from decimal import Decimal

import pytest

from fixgw.domain import ExecType, OrdStatus, OrdType, Side, Strategy, TimeInForce, Urgency
from fixgw.fix import messages as m
from fixgw.fix.message import FixMessage


def msg(*fields):
    return FixMessage(tuple((t, v) for t, v in fields))


def test_decode_limit_gtd_algo_order_with_strategy_group():
    nos = m.decode_new_order_single(msg(
        (35, "D"), (11, "C1"), (1, "ACC1"), (55, "BTC/USDT:USDT"), (54, "2"), (38, "2.50"),
        (40, "2"), (44, "30000.1"), (59, "6"), (126, "20261125-18:30:00.250"),
        (847, "1001"), (848, "high"), (849, "0.1"),
        (957, "2"), (958, "ExcludeVenues"), (959, "14"), (960, "sim-c"), (958, "MinClip"), (960, "0.01")))
    assert nos.quantity == Decimal("2.50") and isinstance(nos.quantity, Decimal)
    assert nos.price == Decimal("30000.1")
    assert nos.side is Side.SELL and nos.ord_type is OrdType.LIMIT and nos.tif is TimeInForce.GTD
    assert nos.strategy is Strategy.TWAP and nos.urgency is Urgency.HIGH
    import datetime as dt
    assert nos.expire_time == dt.datetime(2026, 11, 25, 18, 30, 0, 250000, dt.timezone.utc).timestamp()
    assert nos.param("ExcludeVenues") == "sim-c" and nos.param("MinClip") == "0.01"
    assert nos.account == "ACC1" and nos.symbol == "BTC/USDT:USDT"


@pytest.mark.parametrize("fields,tag,reason", [
    (((11, "C"), (55, "BTC/USDT"), (54, "1"), (38, "0"), (40, "1")), 38, "greater than zero"),
    (((11, "C"), (55, "BTC/USDT"), (54, "1"), (38, "-1"), (40, "1")), 38, "greater than zero"),
    (((11, "C"), (55, "BTC/USDT"), (54, "1"), (38, "abc"), (40, "1")), 38, "not a number"),
    (((11, "C"), (55, "BTC/USDT"), (54, "1"), (38, "1e3"), (40, "1")), 38, "not a FIX decimal"),
    (((11, "C"), (55, "BTC/USDT"), (54, "1"), (38, "1_000"), (40, "1")), 38, "not a FIX decimal"),
    (((11, "C"), (55, "BTC/USDT"), (54, "1"), (38, " 1"), (40, "1")), 38, "not a FIX decimal"),
    (((11, "C"), (55, "BTC/USDT"), (54, "1"), (38, "1"), (40, "2"), (44, "1E+999999")), 44,
     "not a FIX decimal"),
    (((11, "C"), (55, "BTC/USDT"), (54, "1"), (38, "1" * 41), (40, "1")), 38, "too long"),
    (((11, "C"), (55, "BTC/USDT"), (54, "1"), (38, "1"), (40, "2")), 44, "required"),
    (((11, "C"), (55, "BTC/USDT"), (54, "1"), (38, "1"), (40, "3")), 40, "unsupported"),
    (((11, "C"), (55, "BTC/USDT"), (54, "1"), (38, "1"), (40, "1"), (59, "6")), 126, "required"),
    (((11, "C"), (55, "BTC/USDT"), (54, "1"), (38, "1"), (40, "1"), (847, "7")), 847, "unsupported"),
])
def test_decode_errors_name_tag_and_value(fields, tag, reason):
    with pytest.raises(m.FieldError) as err:
        m.decode_new_order_single(msg(*fields))
    assert err.value.tag == tag and reason in str(err.value) and f"tag {tag}" in str(err.value)


def test_execution_report_body_is_tag_ordered_and_consistent_text():
    er = m.ExecutionReport(
        order_id="O1", exec_id="X1", exec_type=ExecType.TRADE, ord_status=OrdStatus.PARTIALLY_FILLED,
        symbol="BTC/USDT", side=Side.BUY, leaves_qty=Decimal("1.5"), cum_qty=Decimal("0.50"),
        avg_px=Decimal("30000.100"), transact_time=1_700_000_000.123, cl_ord_id="C1",
        order_qty=Decimal("2"), ord_type=OrdType.LIMIT, price=Decimal("30001"),
        tif=TimeInForce.GTC, last_qty=Decimal("0.5"), last_px=Decimal("30000.1"),
        last_mkt="sim-a", commission=Decimal("0.0005"), comm_currency="BTC", last_liquidity=2,
        strategy_performance=Decimal("1.25"))
    body = er.body()
    tags = [t for t, _ in body]
    assert tags == sorted(tags)
    d = dict(body)
    assert d[6] == "30000.1" and d[14] == "0.5" and d[151] == "1.5" and d[150] == "F"
    assert d[30] == "sim-a" and d[12] == "0.0005" and d[13] == "3" and d[479] == "BTC"
    assert d[60] == "20231114-22:13:20.123" and d[850] == "1.25"
    back = m.decode_execution_report(body)
    assert back.cum_qty == Decimal("0.5") and back.last_mkt == "sim-a"


def test_mass_cancel_report_group_follows_its_count():
    r = m.OrderMassCancelReport(order_id="M1", cl_ord_id="MC", request_type="7", response="7",
                                affected=(m.AffectedOrder("A", "1"), m.AffectedOrder("B", "2")))
    body = r.body()
    i = body.index((534, "2"))
    assert body[i + 1:i + 5] == [(41, "A"), (535, "1"), (41, "B"), (535, "2")]
    assert (533, "2") in body


def test_format_decimal_never_uses_exponent():
    assert m.format_decimal(Decimal("1E-8")) == "0.00000001"
    assert m.format_decimal(Decimal("1.2300")) == "1.23"
    assert m.format_decimal(Decimal("1E+3")) == "1000"
    assert m.format_decimal(Decimal("0.000")) == "0"


def test_text_never_carries_soh():
    bmr = m.BusinessMessageReject(ref_msg_type="D", reason=6, text="a\x01b")
    assert dict(bmr.body())[58] == "a b"


def test_copies_carry_copy_msg_indicator():
    er = m.ExecutionReport(order_id="O", exec_id="X", exec_type=ExecType.NEW,
                           ord_status=OrdStatus.NEW, symbol="BTC/USDT", side=Side.BUY,
                           leaves_qty=Decimal(1), cum_qty=Decimal(0), avg_px=Decimal(0),
                           transact_time=0.0)
    assert 797 not in dict(er.body()) and dict(er.as_copy().body())[797] == "Y"
    ocr = m.OrderCancelReject("O", "C2", "C1", OrdStatus.FILLED, "1", 0, "too late", 0.0,
                              copy=True)
    assert dict(ocr.body())[797] == "Y"


def test_strategy_parameters_are_found_whatever_their_case_on_new_and_replace():
    params = (m.StrategyParameter("MinClip", None, "0.1"), m.StrategyParameter("PAUSE", None, "Y"))
    nos = m.NewOrderSingle("C1", "BTC/USDT", Side.BUY, OrdType.LIMIT, Decimal("1"),
                           price=Decimal("1"), strategy_params=params)
    rep = m.OrderCancelReplaceRequest("C2", "C1", "BTC/USDT", Side.BUY, OrdType.LIMIT,
                                      Decimal("1"), strategy_params=params)
    for msg in (nos, rep):
        assert msg.param("minclip") == "0.1"
        assert msg.param("Pause") == "Y"
        assert msg.param("MaxClip") is None

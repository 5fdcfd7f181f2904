"""Each pre-trade limit rejects with a Text naming the limit, its value and the order's value."""
from __future__ import annotations

from decimal import Decimal as D

import pytest

from fixgw.clock import FakeClock
from fixgw.domain import OrdType, Side
from fixgw.oms.risk import (KillSwitchState, OrderAction, OrderRiskRequest, OrdRejReason,
                            RiskEngine)
from fixgw.oms.risk_config import RiskConfig


def engine(default=None, sessions=None, accounts=None, clock=None):
    cfg = RiskConfig.from_config({"default": default or {}, "sessions": sessions or {},
                                  "accounts": accounts or {}})
    return RiskEngine(cfg, clock or FakeClock())


def order(**kw) -> OrderRiskRequest:
    base = dict(session="OMS", account="ACC1", symbol="BTC/USDT", side=Side.BUY,
                ord_type=OrdType.LIMIT, quantity=D("1"), price=D("30000"), mid=D("30000"))
    base.update(kw)
    return OrderRiskRequest(**base)


def test_within_all_limits_is_accepted():
    risk = engine({"max_order_qty": 5, "max_notional": 1_000_000, "price_collar_bps": 100,
                   "max_open_orders": 3, "max_orders_per_second": 2,
                   "symbols": ["BTC/USDT"], "sides": ["buy", "sell"]})
    decision = risk.check(order(quantity=D("5"), open_orders_session=2))
    assert decision.accepted and decision.text is None


def test_max_order_quantity_per_account():
    risk = engine(accounts={"ACC1": {"max_order_qty": 5}})
    decision = risk.check(order(quantity=D("7")))
    assert decision.rejected and decision.limit == "max_order_qty"
    assert decision.text == "risk: max order quantity 5 exceeded: order quantity 7 (account ACC1)"
    assert decision.ord_rej_reason is OrdRejReason.ORDER_EXCEEDS_LIMIT
    # another account is not limited by ACC1's entry
    assert risk.check(order(quantity=D("7"), account="ACC2")).accepted


def test_max_order_quantity_per_symbol_mapping():
    risk = engine({"max_order_qty": {"BTC/USDT": "2.5", "*": 40}})
    assert risk.check(order(quantity=D("2.5"))).accepted
    assert risk.check(order(quantity=D("2.50000001"))).text == (
        "risk: max order quantity 2.5 exceeded: order quantity 2.50000001 (session OMS)")
    assert risk.check(order(symbol="ETH/USDT", quantity=D("40"), price=D("2000"), mid=D("2000"))).accepted
    assert risk.check(order(symbol="ETH/USDT", quantity=D("41"), price=D("2000"),
                            mid=D("2000"))).limit == "max_order_qty"


def test_max_notional_uses_limit_price_or_mid_for_market_orders():
    risk = engine({"max_notional": 100_000})
    limit = risk.check(order(quantity=D("4"), price=D("30000.5")))
    assert limit.text == "risk: max notional 100000 exceeded: order notional 120002 (session OMS)"
    market = risk.check(order(ord_type=OrdType.MARKET, price=None, quantity=D("3.5"), mid=D("30000")))
    assert market.text == "risk: max notional 100000 exceeded: order notional 105000 (session OMS)"
    blind = risk.check(order(ord_type=OrdType.MARKET, price=None, mid=None))
    assert blind.limit == "max_notional" and "no consolidated mid for BTC/USDT" in blind.text


def test_price_collar_around_the_mid_both_ways():
    risk = engine({"price_collar_bps": 50})
    assert risk.check(order(price=D("30150"))).accepted          # exactly 50 bps
    high = risk.check(order(price=D("30300")))
    assert high.limit == "price_collar_bps"
    assert high.text == ("risk: price collar 50 bps exceeded: order price 30300 is 100 bps "
                         "from mid 30000 (session OMS)")
    low = risk.check(order(side=Side.SELL, price=D("29000")))
    assert "is 333.33 bps from mid 30000" in low.text
    no_mid = risk.check(order(mid=None))
    assert no_mid.rejected and "price collar 50 bps cannot be checked" in no_mid.text
    # a market order has no price to collar
    assert risk.check(order(ord_type=OrdType.MARKET, price=None)).accepted


def test_max_open_orders_counts_this_order_and_ignores_replaces_and_children():
    risk = engine(accounts={"ACC1": {"max_open_orders": 2}})
    assert risk.check(order(open_orders_account=1)).accepted
    rejected = risk.check(order(open_orders_account=2))
    assert rejected.text == ("risk: max open orders 2 exceeded: open orders with this order 3 "
                             "(account ACC1)")
    assert risk.check(order(open_orders_account=2, action=OrderAction.REPLACE)).accepted
    assert risk.check(order(open_orders_account=2, action=OrderAction.CHILD)).accepted


def test_max_orders_per_second_is_a_sliding_window_on_the_clock():
    clock = FakeClock()
    risk = engine(sessions={"OMS": {"max_orders_per_second": 3}}, clock=clock)
    for _ in range(3):
        assert risk.check(order()).accepted
        clock.advance(0.3)                           # t = 0, 0.3, 0.6
    # at t=0.9 three orders are in the last second
    decision = risk.check(order())
    assert decision.text == ("risk: max orders per second 3 exceeded: orders in the last second "
                             "with this one 4 (session OMS)")
    clock.advance(0.15)                              # t=1.05: the t=0 order left the window
    assert risk.check(order()).accepted
    assert risk.check(order()).rejected              # rejected ones did not count, accepted did
    # children have their own window, same limit
    for _ in range(3):
        assert risk.check(order(action=OrderAction.CHILD)).accepted
    child = risk.check(order(action=OrderAction.CHILD))
    assert "child orders in the last second with this one 4" in child.text


def test_rate_limit_is_per_scope():
    clock = FakeClock()
    risk = engine({"max_orders_per_second": 1}, clock=clock)
    assert risk.check(order(session="OMS")).accepted
    assert risk.check(order(session="OMS2")).accepted
    assert risk.check(order(session="OMS")).rejected


def test_allowed_symbols_and_sides():
    risk = engine({"symbols": ["BTC/USDT", "ETH/USDT"]}, accounts={"ACC1": {"sides": ["sell"]}})
    sym = risk.check(order(symbol="DOGE/USDT", side=Side.SELL))
    assert sym.text == ("risk: symbol DOGE/USDT not allowed: allowed symbols BTC/USDT, ETH/USDT "
                        "(session OMS)")
    assert sym.ord_rej_reason is OrdRejReason.BROKER_OPTION
    side = risk.check(order(side=Side.BUY))
    assert side.text == "risk: side buy not allowed: allowed sides sell (account ACC1)"
    assert risk.check(order(side=Side.SELL)).accepted


def test_session_override_merges_over_default_and_full_session_id_alias():
    risk = engine({"max_order_qty": 10, "sides": ["buy"]},
                  sessions={"FIX.4.4:FIXGW->OMS": {"max_order_qty": 2}})
    req = order(quantity=D("3"), session_aliases=("FIX.4.4:FIXGW->OMS",))
    assert risk.check(req).text == "risk: max order quantity 2 exceeded: order quantity 3 (session OMS)"
    assert risk.check(order(quantity=D("3"), side=Side.SELL,
                            session_aliases=("FIX.4.4:FIXGW->OMS",))).limit == "sides"
    assert risk.check(order(quantity=D("3"), session="OTHER")).accepted


def test_algo_children_pass_the_same_limits():
    risk = engine({"max_order_qty": 1, "price_collar_bps": 10})
    child = order(action=OrderAction.CHILD, quantity=D("1.5"))
    assert risk.check(child).limit == "max_order_qty"
    assert risk.check(order(action=OrderAction.CHILD, price=D("31000"))).limit == "price_collar_bps"


def test_non_positive_quantity_is_rejected():
    assert engine().check(order(quantity=D("0"))).text == "risk: order quantity 0 is not positive"


def test_kill_switch_blocks_everything_until_released():
    clock = FakeClock(t=1_764_093_600.0)  # 2025-11-25T18:00:00Z
    risk = engine(clock=clock)
    risk.engage_kill_switch("fixgw kill")
    for action in OrderAction:
        decision = risk.check(order(action=action))
        assert decision.rejected and decision.limit == "kill_switch"
        assert decision.text == ("risk: kill switch engaged since 2025-11-25T18:00:00Z (fixgw kill): "
                                 "new orders are rejected until it is released")
    risk.release_kill_switch()
    assert risk.check(order()).accepted


@pytest.mark.parametrize("side,symbol,balances,needs", [
    (Side.BUY, "BTC/USDT", {"USDT": D("29999")}, "30030 USDT"),     # 1 BTC @30000 + 0.1% fee
    (Side.SELL, "BTC/USDT", {"BTC": D("0.5")}, "1 BTC"),
    (Side.BUY, "BTC/USDT:USDT", {"USDT": D("3000")}, "6030 USDT"),  # margin 0.2 + fee
])
def test_venue_balance_check_names_currency_available_and_needed(side, symbol, balances, needs):
    risk = engine({"margin_fraction": "0.2"}, accounts={"ACC1": {}})
    decision = risk.check_venue_balance(order(side=side, symbol=symbol), "sim-b", balances,
                                        fee_rate=D("0.001"))
    assert decision.rejected and decision.limit == "venue_balance"
    currency = needs.split()[1]
    assert decision.text == (f"risk: venue balance at sim-b insufficient: available "
                             f"{balances[currency]} {currency}, order needs {needs} (account ACC1)")


def test_venue_balance_check_passes_and_can_be_disabled():
    risk = engine()
    assert risk.check_venue_balance(order(), "sim-a", {"USDT": D("30030")}, D("0.001")).accepted
    assert risk.check_venue_balance(order(side=Side.SELL), "sim-a", {"BTC": D("1")}).accepted
    market = order(ord_type=OrdType.MARKET, price=None, mid=None)
    assert "cannot be checked" in risk.check_venue_balance(market, "sim-a", {"USDT": D(10**9)}).text
    off = engine(accounts={"ACC1": {"check_venue_balance": False}})
    assert off.check_venue_balance(order(), "sim-a", {}).accepted


def test_kill_switch_state_survives_a_restart_and_fails_closed(tmp_path):
    path = tmp_path / "kill-switch.json"
    clock = FakeClock(t=1_764_093_600.0)
    cfg = RiskConfig()
    first = RiskEngine(cfg, clock, kill_switch=KillSwitchState(path))
    assert first.check(order()).accepted
    first.engage_kill_switch("desk halt")
    # the gateway is restarted: the switch is still engaged, with its reason and time
    second = RiskEngine(cfg, clock, kill_switch=KillSwitchState(path))
    decision = second.check(order())
    assert decision.limit == "kill_switch"
    assert "since 2025-11-25T18:00:00Z (desk halt)" in decision.text
    second.release_kill_switch()
    assert RiskEngine(cfg, clock, kill_switch=KillSwitchState(path)).check(order()).accepted
    # a state file nobody can read: engaged, and the Text says why
    path.write_text("{not json")
    broken = RiskEngine(cfg, clock, kill_switch=KillSwitchState(path))
    text = broken.check(order()).text
    assert "kill switch engaged" in text and "unreadable" in text and str(path) in text

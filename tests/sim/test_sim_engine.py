"""Matching engine and ledgers, exercised directly (no sockets): priority, order types,
self-trade prevention, balance locking, fees, filters and futures margin checks."""
from __future__ import annotations

from decimal import Decimal as D

import pytest

from fixgw.clock import FakeClock
from fixgw.sim.engine import Exchange
from fixgw.sim.errors import BinanceError
from fixgw.sim.spec import VenueSpec, default_symbols


def make() -> Exchange:
    ex = Exchange(VenueSpec(name="t", symbols=default_symbols()), FakeClock())
    return ex


def btc(ex):
    return ex.markets["BTCUSDT"]


def perp(ex):
    return ex.markets["BTCUSDT_PERP"]


def test_price_time_priority_and_partial_fills():
    ex = make()
    a = ex.place_house_order("mm1", "BTCUSDT", "SELL", "LIMIT", D("0.3"), D("60000"))
    ex.place_house_order("mm2", "BTCUSDT", "SELL", "LIMIT", D("0.3"), D("60000"))
    c = ex.place_house_order("mm1", "BTCUSDT", "SELL", "LIMIT", D("0.3"), D("59999"))
    order, fills = ex.place_order("demo", btc(ex), "BUY", "LIMIT", D("0.5"), D("60000"), "GTC")
    # best price first, then time priority at 60000: c fully, then a for 0.2
    assert [(f.price, f.qty) for f in fills] == [(D("59999"), D("0.3")), (D("60000"), D("0.2"))]
    assert order.status == "FILLED"
    assert ex.house_open_orders("mm1", "BTCUSDT") == [(a.order_id, "SELL", D("60000"), D("0.1"))]
    assert ex.house_open_orders("mm2", "BTCUSDT")[0][3] == D("0.3")
    assert ex.depth("BTCUSDT", 5)[1] == [(D("60000"), D("0.4"))]
    assert c.status == "NEW"   # placement result is a snapshot


def test_resting_buy_locks_quote_and_fee_is_in_received_asset():
    ex = make()
    order, _ = ex.place_order("demo", btc(ex), "BUY", "LIMIT", D("0.1"), D("50000"), "GTC")
    usdt = ex.spot.get("demo", "USDT")
    assert usdt.locked == D("5000") and usdt.free == D("95000")
    ex.place_house_order("mm", "BTCUSDT", "SELL", "MARKET", D("0.04"))
    assert ex.spot.get("demo", "BTC").free == D("2") + D("0.04") * (1 - D("0.001"))   # maker fee in BTC
    assert usdt.locked == D("3000")
    ex.cancel_order("demo", btc(ex), order.order_id, None)
    assert usdt.locked == 0 and usdt.free == D("98000")


def test_taker_buy_better_than_limit_returns_excess_lock():
    ex = make()
    ex.place_house_order("mm", "BTCUSDT", "SELL", "LIMIT", D("1"), D("59000"))
    order, fills = ex.place_order("demo", btc(ex), "BUY", "LIMIT", D("0.5"), D("60000"), "GTC")
    usdt = ex.spot.get("demo", "USDT")
    assert usdt.locked == 0 and usdt.free == D("100000") - D("29500")
    assert fills[0].commission_asset == "BTC" and fills[0].commission == D("0.0005")


def test_insufficient_balance_and_filters():
    ex = make()
    with pytest.raises(BinanceError) as e:
        ex.place_order("demo", btc(ex), "BUY", "LIMIT", D("3"), D("50000"), "GTC")
    assert (e.value.code, e.value.msg) == (-2010, "Account has insufficient balance for requested action.")
    for qty, price, name in [(D("0.000011"), D("50000"), "LOT_SIZE"), (D("0.1"), D("50000.001"), "PRICE_FILTER"),
                             (D("0.00001"), D("50000"), "NOTIONAL")]:
        with pytest.raises(BinanceError) as e:
            ex.place_order("demo", btc(ex), "BUY", "LIMIT", qty, price, "GTC")
        assert e.value.msg == f"Filter failure: {name}"
    with pytest.raises(BinanceError) as e:
        ex.place_order("demo", btc(ex), "SELL", "LIMIT", D("2.5"), D("70000"), "GTC")
    assert e.value.code == -2010


def test_post_only_ioc_fok():
    ex = make()
    ex.place_house_order("mm", "BTCUSDT", "SELL", "LIMIT", D("0.2"), D("60000"))
    with pytest.raises(BinanceError) as e:
        ex.place_order("demo", btc(ex), "BUY", "LIMIT_MAKER", D("0.1"), D("60000"))
    assert e.value.msg == "Order would immediately match and take."
    fok, fills = ex.place_order("demo", btc(ex), "BUY", "LIMIT", D("0.3"), D("60000"), "FOK")
    assert fok.status == "EXPIRED" and fills == [] and ex.spot.get("demo", "USDT").locked == 0
    ioc, fills = ex.place_order("demo", btc(ex), "BUY", "LIMIT", D("0.3"), D("60000"), "IOC")
    assert ioc.status == "EXPIRED" and ioc.executed_qty == D("0.2")
    assert ex.spot.get("demo", "USDT").locked == 0
    assert ex.open_orders("demo") == []


def test_self_trade_prevention_expires_taker():
    ex = make()
    mine, _ = ex.place_order("demo", btc(ex), "SELL", "LIMIT", D("0.1"), D("60000"), "GTC")
    taker, fills = ex.place_order("demo", btc(ex), "BUY", "LIMIT", D("0.1"), D("60000"), "GTC")
    assert fills == [] and taker.status == "EXPIRED_IN_MATCH" and mine.status == "NEW"
    assert ex.spot.get("demo", "USDT").locked == 0


def test_market_buy_by_quote_amount():
    ex = make()
    ex.place_house_order("mm", "BTCUSDT", "SELL", "LIMIT", D("0.1"), D("50000"))
    ex.place_house_order("mm", "BTCUSDT", "SELL", "LIMIT", D("1"), D("50010"))
    order, fills = ex.place_order("demo", btc(ex), "BUY", "MARKET", None, quote_order_qty=D("10000"))
    assert order.status == "FILLED"
    assert sum(f.quote_qty for f in fills) <= D("10000")
    assert order.executed_qty == D("0.1") + D("0.09998")   # 5000 / 50010 rounded down to the step
    usdt = ex.spot.get("demo", "USDT")
    assert usdt.locked == 0 and usdt.free == D("100000") - order.cum_quote


def test_futures_margin_checked_before_position_limit_and_reduce_only():
    ex = make()
    ex.seed_books()
    ex.set_leverage("demo", perp(ex), 125)      # 125x caps the position at 50,000 USDT notional
    with pytest.raises(BinanceError) as e:      # short of margin AND over the cap: margin wins
        ex.place_order("demo", perp(ex), "BUY", "LIMIT", D("200"), D("59000"), "GTC")
    assert e.value.code == -2019
    with pytest.raises(BinanceError) as e:      # enough margin, over the cap
        ex.place_order("demo", perp(ex), "BUY", "LIMIT", D("1"), D("59000"), "GTC")
    assert e.value.code == -2027
    with pytest.raises(BinanceError) as e:
        ex.place_order("demo", perp(ex), "SELL", "MARKET", D("0.01"), reduce_only=True)
    assert e.value.code == -2022
    ex.set_leverage("demo", perp(ex), 10)
    o, fills = ex.place_order("demo", perp(ex), "BUY", "MARKET", D("0.5"))
    assert o.status == "FILLED"
    pos = ex.futures.position("demo", "BTCUSDT_PERP")
    assert pos.amount == D("0.5") and pos.entry_price == fills[0].price
    wallet_before = ex.futures.wallet("demo")
    c, _ = ex.place_order("demo", perp(ex), "SELL", "MARKET", D("0.7"), reduce_only=True)
    assert c.executed_qty == D("0.5") and pos.amount == 0      # reduce-only capped at the position
    assert ex.futures.wallet("demo") < wallet_before            # crossed the spread + fees


def test_depth_diff_sequence_and_gap_hook():
    ex = make()
    book = ex.books["BTCUSDT"]
    ex.place_house_order("mm", "BTCUSDT", "BUY", "LIMIT", D("1"), D("59000"))
    d1 = book.take_diff()
    ex.place_house_order("mm", "BTCUSDT", "BUY", "LIMIT", D("1"), D("59001"))
    d2 = book.take_diff()
    assert d2.first_update_id == d1.last_update_id + 1 and d2.previous_update_id == d1.last_update_id
    book.skip_sequence()
    ex.place_house_order("mm", "BTCUSDT", "BUY", "LIMIT", D("1"), D("59002"))
    d3 = book.take_diff()
    assert d3.first_update_id == d2.last_update_id + 2
    assert book.take_diff() is None


def test_market_sell_by_quote_amount_locks_and_releases_base():
    ex = make()
    ex.place_house_order("mm", "BTCUSDT", "BUY", "LIMIT", D("0.1"), D("50000"))
    ex.place_house_order("mm", "BTCUSDT", "BUY", "LIMIT", D("1"), D("49990"))
    order, fills = ex.place_order("demo", btc(ex), "SELL", "MARKET", None, quote_order_qty=D("10000"))
    assert order.status == "FILLED" and order.executed_qty == D("0.1") + D("0.10002")
    btc_bal = ex.spot.get("demo", "BTC")
    assert btc_bal.locked == 0 and btc_bal.free == D("2") - order.executed_qty
    assert ex.spot.get("demo", "USDT").free == D("100000") + order.cum_quote * (1 - D("0.001"))


def test_funding_is_paid_by_longs_each_interval():
    clock = FakeClock()
    ex = Exchange(VenueSpec(name="t", symbols=default_symbols(), funding_interval_s=3600), clock)
    ex.seed_books()
    ex.place_order("demo", perp(ex), "BUY", "MARKET", D("1"))
    wallet = ex.futures.wallet("demo")
    ex.on_time(ex.now_ms())
    assert ex.futures.wallet("demo") == wallet          # not due yet
    clock.advance(3600)
    ex.on_time(ex.now_ms())
    rate = ex.funding_rates["BTCUSDT_PERP"]
    assert rate > 0                                      # perp mid == spot mid: base rate 0.01%
    assert ex.futures.wallet("demo") == wallet - ex.mark_price("BTCUSDT_PERP") * rate


def test_under_margined_account_is_closed_out():
    ex = make()
    ex.add_account("small", "k2", "s2", {}, {"USDT": D("1000")})
    ex.place_house_order("mm", "BTCUSDT_PERP", "SELL", "LIMIT", D("1"), D("60000"))
    ex.place_house_order("mm", "BTCUSDT_PERP", "BUY", "LIMIT", D("1"), D("59999.9"))
    ex.place_order("small", perp(ex), "BUY", "MARKET", D("0.3"))           # 18k notional, 900 margin at 20x
    ex.on_time(ex.now_ms())
    assert ex.futures.position("small", "BTCUSDT_PERP").amount == D("0.3")
    ex.cancel_all("mm", perp(ex))                                           # price falls ~5.5 %
    ex.place_house_order("mm", "BTCUSDT_PERP", "BUY", "LIMIT", D("5"), D("56700"))
    ex.place_house_order("mm", "BTCUSDT_PERP", "SELL", "LIMIT", D("5"), D("56700.1"))
    ex.on_time(ex.now_ms())
    assert ex.futures.position("small", "BTCUSDT_PERP").amount == 0
    assert ex.futures.wallet("small") < D("1000") - D("0.3") * D("3300")


def test_finished_house_orders_are_forgotten_but_client_orders_stay():
    ex = make()
    ex._prune_at = 100
    mine, _ = ex.place_order("demo", btc(ex), "BUY", "LIMIT", D("0.01"), D("50000"), "GTC")
    ex.cancel_order("demo", btc(ex), mine.order_id, None)
    resting = ex.place_house_order("mm", "BTCUSDT", "BUY", "LIMIT", D("1"), D("40000"))
    for _ in range(300):
        r = ex.place_house_order("mm", "BTCUSDT", "SELL", "LIMIT", D("1"), D("70000"))
        ex.cancel_house_order("mm", "BTCUSDT", r.order_id)
    assert len(ex.orders) < 250
    assert mine.order_id in ex.orders and resting.order_id in ex.orders
    assert ex.find_order("demo", btc(ex), None, mine.client_order_id) is mine


def test_reports_follow_the_status_table_for_orders_by_quote_amount():
    ex = make()
    seen = []
    ex.execution_listeners.append(lambda e: seen.append((e.exec_type, e.order.status)) if not e.order.house else None)
    ex.place_house_order("mm", "BTCUSDT", "SELL", "LIMIT", D("0.1"), D("50000"))
    ex.place_house_order("mm", "BTCUSDT", "SELL", "LIMIT", D("1"), D("50010"))
    ex.place_order("demo", btc(ex), "BUY", "MARKET", None, quote_order_qty=D("10000"))
    assert seen == [("NEW", "NEW"), ("TRADE", "PARTIALLY_FILLED"), ("TRADE", "FILLED")]
    seen.clear()
    ex.place_order("demo", btc(ex), "BUY", "MARKET", None, quote_order_qty=D("90000"))   # more than the book
    assert seen[-2:] == [("TRADE", "PARTIALLY_FILLED"), ("EXPIRED", "EXPIRED")]
    assert ex.spot.get("demo", "USDT").locked == 0


def test_illegal_status_transition_is_caught():
    from fixgw.sim.engine import transition
    ex = make()
    order, _ = ex.place_order("demo", btc(ex), "BUY", "LIMIT", D("0.01"), D("50000"), "GTC")
    ex.cancel_order("demo", btc(ex), order.order_id, None)
    with pytest.raises(AssertionError):
        transition(order, "FILLED")
    with pytest.raises(BinanceError) as e:
        ex.cancel_order("demo", btc(ex), order.order_id, None)
    assert e.value.code == -2011


def test_candles_aggregate_trades_and_fill_quiet_minutes():
    from fixgw.sim.candles import CandleSeries
    cs = CandleSeries()
    t0 = 1_700_000_040_000            # 1_700_000_040_000 is a minute boundary
    cs.add(t0 + 1_000, D("100"), D("1"), True)
    cs.add(t0 + 2_000, D("105"), D("2"), False)
    cs.add(t0 + 3 * 60_000, D("99"), D("1"), True)      # two quiet minutes in between
    one = cs.klines("1m", None, None, 10, t0 + 3 * 60_000 + 5)
    assert [(c.open, c.high, c.low, c.close, c.volume) for c in one] == [
        (D("100"), D("105"), D("100"), D("105"), D("3")), (D("105"),) * 4 + (D("0"),),
        (D("105"),) * 4 + (D("0"),), (D("99"), D("99"), D("99"), D("99"), D("1"))]
    assert one[0].taker_buy_volume == D("1") and one[0].quote_volume == D("310")
    three = cs.klines("3m", None, None, 10, t0 + 3 * 60_000 + 5)
    assert sum(c.volume for c in three) == D("4") and three[-1].close == D("99")
    assert len(cs.klines("1m", None, None, 2, t0 + 3 * 60_000 + 5)) == 2


def test_reduce_only_is_exempt_from_min_notional():
    ex = make()
    ex.seed_books()
    ex.place_order("demo", perp(ex), "BUY", "MARKET", D("0.003"))            # 180 USDT >= 100
    with pytest.raises(BinanceError) as e:
        ex.place_order("demo", perp(ex), "SELL", "MARKET", D("0.001"))       # 60 USDT < 100
    assert e.value.code == -4164
    o, _ = ex.place_order("demo", perp(ex), "SELL", "MARKET", D("0.001"), reduce_only=True)
    assert o.status == "FILLED" and ex.futures.position("demo", "BTCUSDT_PERP").amount == D("0.002")

"""The market model on the real matching engine, driven by a fake clock."""
from __future__ import annotations

import math
from decimal import Decimal

from fixgw.clock import FakeClock
from fixgw.sim.market import LP_ACCOUNT, MarketWorld
from fixgw.sim.spec import default_symbols

from sim_market_helpers import BTC, QUIET_BTC, btc_only_spec, build, quiet, run, total_depth, user_market


def _trace(seed: int, seconds: float = 30.0) -> list:
    """Everything observable: top of book, depth and trades, every half second."""
    clock, exchange, model = build({}, seed=seed, spec=btc_only_spec())
    out = []
    for _ in range(int(seconds * 2)):
        run(clock, model, 0.5)
        out.append((exchange.depth(BTC, 10), model.fair_price(BTC),
                    [(t.price, t.quantity, t.aggressor_side) for t in exchange.stats[BTC].trades]))
    return out


def test_same_seed_same_market_and_a_different_seed_differs():
    a, b, c = _trace(11), _trace(11), _trace(12)
    assert a == b
    assert a != c
    # and it is not a constant market: the fair price moved and background traders traded
    assert len({fair for _, fair, _ in a}) > 10
    assert a[-1][2], "no background trades at all"


def test_exogenous_path_does_not_depend_on_how_often_step_is_called():
    c1, _, m1 = build({}, seed=5)
    c2, _, m2 = build({}, seed=5)
    run(c1, m1, 20.0, dt=0.125)
    for dt in (1.3, 0.05, 7.0, 0.75, 3.2, 7.7):   # irregular, coarse driving: also 20 s
        c2.advance(dt)
        m2.step(c2.now())
    assert m1.grid_time == m2.grid_time
    assert m1.reference_price(BTC) == m2.reference_price(BTC)


def test_same_seed_same_prices_and_flow_whatever_the_model_step():
    """What a time scale changes is the model's step (0.1 s of wall time), not the market:
    prices are drawn on a fixed 0.1 s grid, background volume too."""
    fine = build({}, seed=8, step_seconds=0.1)
    coarse = build({}, seed=8, step_seconds=0.5)
    for clock, _, model in (fine, coarse):
        run(clock, model, 60.0, dt=0.5)
    assert fine[2].reference_price(BTC) == coarse[2].reference_price(BTC)
    v_fine, v_coarse = fine[2].background_volume(BTC), coarse[2].background_volume(BTC)
    assert v_fine > 3 and abs(v_fine - v_coarse) / v_fine < Decimal("0.01"), (v_fine, v_coarse)


def test_ladder_is_the_configured_one():
    _, exchange, model = build(quiet())
    sp = model.params.symbol(BTC)
    bids, asks = exchange.depth(BTC, 1000)
    assert len(bids) == len(asks) == sp.levels
    assert {q for _, q in bids + asks} == {sp.depth_per_level}
    fair = model.fair_price(BTC)
    assert asks[0][0] - fair >= sp.half_spread and fair - bids[0][0] >= sp.half_spread
    assert asks[0][0] - fair < sp.half_spread + sp.level_spacing
    assert all(b1[0] - b2[0] == sp.level_spacing for b1, b2 in zip(bids, bids[1:]))
    assert all(a2[0] - a1[0] == sp.level_spacing for a1, a2 in zip(asks, asks[1:]))


def test_book_refills_after_a_sweep_at_the_resilience_rate():
    clock, exchange, model = build(quiet())
    sp = model.params.symbol(BTC)
    full = sp.depth_per_level * sp.levels
    _, asks_before = exchange.depth(BTC, 1)
    order, _ = user_market(exchange, "BUY", "3")
    assert order.status == "FILLED"
    model.step(clock.now())                     # re-quote at once
    assert total_depth(exchange)[1] == full - 3
    _, asks = exchange.depth(BTC, 1)
    assert asks[0][0] - asks_before[0][0] >= 10 * sp.level_spacing    # the touch was walked away
    for seconds in (0.5, 1.0, 2.0, 4.0):
        run(clock, model, seconds)
    elapsed = 7.5
    expected = 3 * math.exp(-sp.resilience_rate * elapsed)
    missing = full - total_depth(exchange)[1]
    assert abs(float(missing) - expected) < 0.01 * 3, (missing, expected)
    assert missing == model.deficit(BTC, "SELL")
    run(clock, model, 20.0)
    assert total_depth(exchange)[1] > full - Decimal("0.001")
    # the bid side never lost anything
    assert total_depth(exchange)[0] == full


def test_permanent_impact_is_gamma_times_net_aggressive_volume():
    clock, exchange, model = build(quiet())
    gamma = model.params.symbol(BTC).gamma
    start = model.reference_price(BTC)
    user_market(exchange, "BUY", "1.5")
    assert model.reference_price(BTC) - start == gamma * Decimal("1.5")
    user_market(exchange, "SELL", "0.5")
    assert model.reference_price(BTC) - start == gamma * Decimal("1.0")
    assert model.net_aggressive_volume(BTC) == Decimal("1.0")
    assert model.reference_price(BTC) - model.exogenous_price(BTC) == gamma * Decimal("1.0")
    run(clock, model, 30.0)                     # it stays (quiet market: nothing else moves it)
    assert model.reference_price(BTC) - start == gamma * Decimal("1.0")
    bid, ask = exchange.best_bid_ask(BTC)
    assert bid < model.fair_price(BTC) < ask


def test_background_flow_does_not_move_the_price_permanently():
    clock, exchange, model = build({"symbols": {"BTC/USDT": {"volatility": 0, "jump_intensity": 0}}})
    start = model.reference_price(BTC)
    run(clock, model, 60.0)
    assert model.background_volume(BTC) > 2
    assert model.reference_price(BTC) == start


def test_impact_is_shared_by_the_venues_of_one_world():
    world = MarketWorld()
    clock = FakeClock()
    _, ex_a, model_a = build(quiet(), spec=btc_only_spec("simA"), world=world, clock=clock)
    _, _, model_b = build(quiet(), spec=btc_only_spec("simB", price_offset_bps=Decimal("1")),
                          world=world, clock=clock)
    before_b = model_b.reference_price(BTC)
    user_market(ex_a, "BUY", "2")
    assert model_b.reference_price(BTC) - before_b == 2 * model_a.params.symbol(BTC).gamma
    # the venue offset shows in the fair price, not in the shared reference
    assert model_b.fair_price(BTC) > model_a.fair_price(BTC)


def test_spot_and_perp_share_the_fair_price():
    spec = btc_only_spec("simP").__class__(name="simP", symbols=default_symbols(), seed_book=False)
    clock, exchange, model = build({}, spec=spec)
    run(clock, model, 10.0)
    assert model.reference_price("BTC/USDT") == model.reference_price("BTC/USDT:USDT")
    spot, perp = model.fair_price("BTC/USDT"), model.fair_price("BTC/USDT:USDT")
    basis = model.params.symbol("BTC/USDT:USDT").basis_bps
    assert abs(float(perp / spot - 1) * 1e4 - basis) < 0.01


def test_background_volume_follows_the_profile():
    period = 1200.0
    market = {"volume_profile": {"weights": [3, 1, 1, 3], "period_seconds": period, "origin": 0},
              "symbols": {"BTC/USDT": {"volatility": 0, "jump_intensity": 0,
                                       "background_volume": 0.2, "background_clip": 0.02}}}
    clock = FakeClock(t=1_700_001_600.0)          # a multiple of the period: a bucket boundary
    assert clock.now() % period == 0
    clock, exchange, model = build(market, clock=clock, step_seconds=0.5)
    per_bucket = []
    for _ in range(4):
        before = model.background_volume(BTC)
        run(clock, model, period / 4, dt=0.5)
        per_bucket.append(float(model.background_volume(BTC) - before))
    edges, middle = per_bucket[0] + per_bucket[3], per_bucket[1] + per_bucket[2]
    assert 2.4 < edges / middle < 3.6, per_bucket
    # and the total is the configured rate: 0.2/s on average over the period
    assert abs(sum(per_bucket) / period - 0.2) < 0.03, per_bucket
    # the engine printed it (what a VWAP/POV client sees on the trade stream)
    assert exchange.stats[BTC].volume == model.background_volume(BTC)


def test_book_is_alive_several_times_a_second():
    clock, exchange, model = build({})
    snapshots = []
    for _ in range(10):
        run(clock, model, 0.1)
        snapshots.append(exchange.depth(BTC, 20))
    changes = sum(1 for a, b in zip(snapshots, snapshots[1:]) if a != b)
    assert changes >= 5


def test_lp_orders_are_all_known_to_the_model():
    clock, exchange, model = build({})
    run(clock, model, 30.0)
    user_market(exchange, "SELL", "4")
    run(clock, model, 5.0)
    resting = exchange.house_open_orders(LP_ACCOUNT, BTC)
    prices = [(side, price) for _, side, price, _ in resting]
    assert len(prices) == len(set(prices)), "two LP orders at one price"
    bids, asks = exchange.depth(BTC, 1000)
    assert bids[0][0] < asks[0][0]


def test_a_passive_client_order_gets_filled_by_the_flow():
    clock, exchange, model = build({}, seed=3)
    run(clock, model, 5.0)
    bid, _ = exchange.best_bid_ask(BTC)
    order, fills = exchange.place_order("demo", exchange.markets[BTC], "BUY", "LIMIT",
                                        Decimal("0.05"), bid, "GTC")
    assert not fills and order.status == "NEW"
    for _ in range(120):
        run(clock, model, 0.5)
        if order.executed_qty:
            break
    assert order.executed_qty > 0, "a resting bid at the touch never traded in a minute"

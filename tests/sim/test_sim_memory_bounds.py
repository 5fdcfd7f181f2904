"""A venue meant to run for days keeps bounded state: the market model churns house orders and
a client keeps trading for thousands of steps, and every per-order / per-fill structure stays
under its bound while the most recent history stays queryable."""
from __future__ import annotations

import asyncio
from decimal import Decimal

from fixgw.clock import FakeClock
from fixgw.sim.engine import Exchange
from fixgw.sim.market import MarketModelFactory
from fixgw.sim.ratelimit import RateLimiter
from fixgw.sim.spec import RateLimitSpec, VenueSpec, default_symbols
from fixgw.sim.streams import MAX_BACKLOG_BYTES, StreamConn

ORDERS_KEPT, FILLS_KEPT, HOUSE_FLOOR = 60, 40, 3_000


def _venue():
    clock = FakeClock()
    spec = VenueSpec(name="simMem", symbols=default_symbols(), seed_book=False,
                     spot_balances={"USDT": Decimal("10000000"), "BTC": Decimal("1000"), "ETH": Decimal("10000")})
    exchange = Exchange(spec, clock, orders_kept_per_account=ORDERS_KEPT, fills_kept_per_account=FILLS_KEPT,
                        house_orders_floor=HOUSE_FLOOR)
    model = MarketModelFactory({}, seed=11, step_seconds=1.0)(exchange, spec, clock)
    model.step(clock.now())
    return clock, exchange, model


def _client_orders(exchange: Exchange) -> list:
    return [o for o in exchange.orders.values() if not o.house]


def test_model_and_client_churn_keep_every_table_bounded():
    clock, ex, model = _venue()
    btc = ex.markets["BTCUSDT"]
    resting = None
    peak_orders = peak_client = peak_ids = 0
    for step in range(3_000):                    # 50 market minutes at one-second model steps
        clock.advance(1.0)
        model.step(clock.now())
        bid, ask = ex.best_bid_ask("BTCUSDT")
        side = "BUY" if step % 2 else "SELL"
        ex.place_order("demo", btc, side, "MARKET", Decimal("0.001"))           # a fill every step
        if step % 3 == 0:                        # a limit order far away, cancelled next time
            if resting is not None and resting.is_open:
                ex.cancel_order("demo", btc, resting.order_id, None)
            resting, _ = ex.place_order("demo", btc, "BUY", "LIMIT", Decimal("0.001"),
                                        btc.round_price(bid * Decimal("0.9")), "GTC",
                                        client_order_id=f"far-{step}")
        open_now = len(ex.open_orders("demo"))
        peak_client = max(peak_client, len(_client_orders(ex)) - open_now)
        peak_ids = max(peak_ids, len(ex._by_client_id))
        peak_orders = max(peak_orders, len(ex.orders))
        assert len(ex.fills_by_account["demo"]) <= FILLS_KEPT
    placed = 3_000 + 1_000
    assert ex.spot.has("demo") and placed > 10 * ORDERS_KEPT
    assert peak_client <= ORDERS_KEPT, peak_client
    assert peak_ids <= ORDERS_KEPT + 1, peak_ids
    house_open = sum(1 for o in ex.orders.values() if o.house and o.is_open)
    assert peak_orders <= max(HOUSE_FLOOR, 2 * (house_open + ORDERS_KEPT + 10)) + 1, peak_orders
    assert len(ex.fills_by_account["demo"]) == FILLS_KEPT
    # what is kept is the most recent history, still queryable; what was forgotten is gone
    recent = ex.account_orders("demo")
    assert recent[-1] is ex.orders[max(o.order_id for o in recent)]
    assert ex.find_order("demo", btc, None, resting.client_order_id) is resting
    assert ex.find_order("demo", btc, None, "far-0") is None
    fills = list(ex.fills_by_account["demo"])
    assert [f.trade_id for f in fills] == sorted(f.trade_id for f in fills)
    for st in ex.stats.values():
        assert len(st.trades) <= st.trades.maxlen
        assert len(st.candles.minutes) <= st.candles.max_minutes


def test_open_client_orders_are_never_forgotten():
    clock, ex, model = _venue()
    btc = ex.markets["BTCUSDT"]
    bid, _ = ex.best_bid_ask("BTCUSDT")
    keep = [ex.place_order("demo", btc, "BUY", "LIMIT", Decimal("0.001"), btc.round_price(bid * Decimal("0.8")),
                           "GTC", client_order_id=f"keep-{i}")[0] for i in range(5)]
    for i in range(4 * ORDERS_KEPT):
        ex.place_order("demo", btc, "BUY", "MARKET", Decimal("0.001"))
    for o in keep:
        assert ex.find_order("demo", btc, None, o.client_order_id) is o and o.is_open
    assert len(ex.account_orders("demo")) == ORDERS_KEPT
    assert [o.order_id for o in ex.account_orders("demo")] == sorted(o.order_id for o in ex.account_orders("demo"))


def test_rate_limiter_forgets_idle_clients():
    now = [0.0]
    rl = RateLimiter(RateLimitSpec(), now=lambda: now[0], max_clients=100)
    for i in range(1_000):
        now[0] += 1.0
        rl.charge(f"ip-{i}", 1)
    assert len(rl._clients) <= 100 + 1


def test_stalled_websocket_consumer_is_dropped_at_the_byte_bound():
    class StalledWs:                  # a peer that never reads: sends never complete
        closed_called = False

        async def send_str(self, text):
            await asyncio.Event().wait()

        async def close(self):
            StalledWs.closed_called = True

    async def main():
        conn = StreamConn(StalledWs(), latency_ms=0)
        chunk = "x" * 64_000
        for _ in range(2 * MAX_BACKLOG_BYTES // len(chunk)):
            conn.send(chunk)
        assert conn.closed
        assert conn.backlog_bytes <= MAX_BACKLOG_BYTES
        await asyncio.sleep(0)
        assert conn.queue.qsize() <= 1 and StalledWs.closed_called
        conn.task.cancel()

    asyncio.run(main())

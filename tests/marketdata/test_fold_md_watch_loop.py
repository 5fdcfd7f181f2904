"""The one retry loop behind the hub's book and trade watches: exponential backoff from
``retry_backoff_s`` capped at 5 s, reset by a success; a book failure marks the book
resyncing (out of routing) naming the error class; a trade failure is retried the same way.
The sim-backed behaviour (gap -> resync, dead venue -> stale) is in test_md_hub_sim.py; here a
scripted exchange drives the loop so each backoff step can be asserted exactly."""
import asyncio
from decimal import Decimal

import pytest

from fixgw.marketdata.hub import MarketDataConfig, MarketDataHub
from fixgw.venues.base import VenueFees

D = Decimal
BOOK = {"bids": [["99.5", "1"]], "asks": [["100.5", "2"]]}


class ScriptedExchange:
    """Each watch call takes the next step: an exception class (raised) or a value (returned).
    When the script ends the hub is stopped, so the loop exits."""

    def __init__(self, hub, script):
        self.hub, self.script, self.calls = hub, list(script), 0

    async def _next(self):
        self.calls += 1
        await asyncio.sleep(0)
        if not self.script:
            self.hub._running = False
            raise ConnectionError("script over")
        step = self.script.pop(0)
        if isinstance(step, type) and issubclass(step, BaseException):
            raise step("venue went away")
        return step

    async def watch_order_book(self, symbol):
        return await self._next()

    async def watch_trades(self, symbol):
        return await self._next()


class Source:
    name = "v"

    def __init__(self):
        self.exchange = None

    def exchange_for(self, symbol):
        return self.exchange

    def fees_for(self, symbol):
        return VenueFees(D("0.001"), D("0.001"))


@pytest.fixture
def sleeps(monkeypatch):
    """Record the hub's backoff sleeps and make them instant."""
    real_sleep, seen = asyncio.sleep, []

    async def fake(delay, *a, **kw):
        if delay:
            seen.append(delay)
        await real_sleep(0)
    monkeypatch.setattr(asyncio, "sleep", fake)
    return seen


def _hub(script):
    src = Source()
    hub = MarketDataHub({"v": src}, {"v": ("BTC/USDT",)},
                        config=MarketDataConfig(retry_backoff_s=0.25))
    src.exchange = ScriptedExchange(hub, script)
    hub._running = True
    return hub, src.exchange


def test_book_watch_backs_off_exponentially_to_the_cap_and_resets_on_success(sleeps):
    async def main():
        fail = ConnectionError
        hub, ex = _hub([fail] * 7 + [BOOK, fail, BOOK])
        seen_resync = []
        original = hub.mark_resyncing

        def spy(venue, symbol, why):
            seen_resync.append(why)
            original(venue, symbol, why)
        hub.mark_resyncing = spy
        await hub._watch_book("v", "BTC/USDT")
        return hub, ex, seen_resync

    hub, ex, why = asyncio.run(main())
    # 7 failures: 0.25 doubling to the 5 s cap; the success resets; 1 more failure; then
    # the script's end (one more failure, the hub stopped)
    assert sleeps == [0.25, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 0.25, 0.25]
    assert len(why) == 9 and all(w.startswith("ConnectionError: ") for w in why)
    assert ex.calls == 11
    assert hub.is_stale("v", "BTC/USDT")      # the last attempt failed: out of routing


def test_a_book_after_failures_puts_the_venue_back_in_routing(sleeps):
    async def main():
        hub, _ = _hub([ConnectionError, BOOK])
        await hub._watch_book("v", "BTC/USDT")
        return hub

    hub = asyncio.run(main())
    # the book fed after the failure is current (the final failure marks it again)
    assert hub.book("v", "BTC/USDT").best_bid == D("99.5")
    assert sleeps == [0.25, 0.25]


def test_trade_watch_uses_the_same_backoff_and_keeps_a_batch_with_one_bad_print(sleeps):
    trades = [{"id": "1", "price": "100", "amount": "0.5", "side": "buy", "timestamp": 1_000},
              {"id": "2", "price": "not a price", "amount": "1", "side": "buy", "timestamp": 2_000},
              {"id": "3", "price": "101", "amount": "0.25", "side": "sell", "timestamp": 3_000}]

    async def main():
        hub, ex = _hub([ConnectionError, ConnectionError, trades, ConnectionError])
        await hub._watch_trades("v", "BTC/USDT")
        return hub, ex

    hub, ex = asyncio.run(main())
    assert sleeps == [0.25, 0.5, 0.25, 0.5]
    assert hub.cumulative_volume("BTC/USDT") == D("0.75")
    assert hub.last_price("BTC/USDT") == D(101)

"""The adapter's trade stream (watch_my_trades) logs an outage once at WARNING -- venue, error
class, never a credential -- keeps its backoff, and logs the recovery at INFO.

Against an embedded simulated venue through unmodified ccxt (the venue drops the user-data
connection), and with a scripted exchange driving the loop so a long outage's retries and the
backoff steps can be counted exactly."""
from __future__ import annotations

import asyncio
import logging
from decimal import Decimal as D

import pytest

from fixgw.venues.ccxt_adapter import CcxtVenueAdapter
from fixgw.venues.ccxt_market import CcxtMarket
from fixgw.venues.config import Credentials, VenueConfig

from test_venue_ccxt_sim import fills_of, req, run, venue_and_adapter, wait_for, wait_stream_up
from venue_harness import watch_registered

SECRET = "s3cr3t-do-not-log"


def _trade_records(caplog, venue):
    return [r for r in caplog.records if "trade stream" in r.getMessage()
            and r.getMessage().startswith(f"{venue}: spot")]


def test_a_dropped_user_stream_logs_one_warning_then_the_recovery(caplog):
    caplog.set_level(logging.INFO, logger="fixgw.venues")

    async def main():
        venue, adapter, events = await venue_and_adapter()
        try:
            await wait_stream_up(adapter)
            await adapter.submit(req("tl-rest-1", qty="0.3", price="60000"))
            # the trades loop arms its watch only once the stream is up: closing before then
            # fails no trade watch, and the next one just dials a new connection (no WARNING)
            assert await wait_for(lambda: watch_registered(adapter.exchange_for("BTC/USDT"),
                                                           "myTrades"), 5)
            streams = getattr(venue.server, "user_streams", venue.server)
            for c in [c for users in streams.spot_users.values() for c in users]:
                await c.ws.close()
            assert await wait_for(lambda: any(r.levelno == logging.WARNING
                                              for r in _trade_records(caplog, "sim-a")), 5)
            await wait_stream_up(adapter)
            assert await wait_for(lambda: any("recovered" in r.getMessage()
                                              for r in _trade_records(caplog, "sim-a")), 5)
            # the recovered stream delivers fills again
            venue.exchange.place_house_order("house-x", "BTCUSDT", "SELL", "MARKET", D("0.3"))
            assert await wait_for(lambda: sum(f.quantity for f in fills_of(events, "tl-rest-1"))
                                  == D("0.3"), 5)
            secrets = (venue.spec.api_key, venue.spec.api_secret)
        finally:
            await adapter.close()
            await venue.stop()
        return secrets

    holder = []
    run(_collect(main(), holder))
    records = _trade_records(caplog, "sim-a")
    warnings = [r for r in records if r.levelno == logging.WARNING]
    infos = [r for r in records if r.levelno == logging.INFO]
    assert len(warnings) == 1 and "trade stream failed (" in warnings[0].getMessage()
    assert len(infos) == 1 and "recovered after" in infos[0].getMessage()
    assert records.index(warnings[0]) < records.index(infos[0])
    for text in holder[0]:
        assert all(text not in r.getMessage() for r in caplog.records)


async def _collect(coro, holder):
    holder.append(await coro)


class ScriptedExchange:
    """watch_my_trades takes the next scripted step: an exception class to raise, or a list of
    trades to return; when the script ends the adapter is closed."""

    def __init__(self, adapter, script):
        self.adapter, self.script = adapter, list(script)
        self.clients: dict = {}
        self.options: dict = {}

    async def watch_my_trades(self):
        await asyncio.sleep(0)
        if not self.script:
            self.adapter._closing = True
            raise ConnectionError("script over")
        step = self.script.pop(0)
        if isinstance(step, type):
            raise step(f"connection reset (apiKey={SECRET})")
        return step


@pytest.fixture
def sleeps(monkeypatch):
    real_sleep, seen = asyncio.sleep, []

    async def fake(delay, *a, **kw):
        if delay:
            seen.append(delay)
        await real_sleep(0)
    monkeypatch.setattr(asyncio, "sleep", fake)
    return seen


def _adapter(script):
    adapter = CcxtVenueAdapter(VenueConfig(name="scripted", base_url="http://127.0.0.1:9",
                                           symbols=("BTC/USDT",)),
                               credentials=Credentials("key-id", SECRET))
    ex = ScriptedExchange(adapter, script)
    adapter._markets["spot"] = CcxtMarket(exchange=ex, limiter=None, stream_up=True)
    return adapter


def test_an_outage_of_many_failures_is_one_warning_and_the_backoff_is_unchanged(caplog, sleeps):
    caplog.set_level(logging.INFO, logger="fixgw.venues")
    fail = ConnectionResetError
    adapter = _adapter([fail] * 8 + [[], fail, fail, []])
    asyncio.run(adapter._stream.trade_stream("spot"))
    # (the script's end closes the adapter: that last failure is neither logged nor retried)
    assert sleeps == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 0.1, 0.2]
    records = _trade_records(caplog, "scripted")
    assert [(r.levelname, r.getMessage().split(" (")[0].split(" after")[0]) for r in records] == [
        ("WARNING", "scripted: spot trade stream failed"),
        ("INFO", "scripted: spot trade stream recovered"),
        ("WARNING", "scripted: spot trade stream failed"),
        ("INFO", "scripted: spot trade stream recovered"),
    ]
    assert "ConnectionResetError" in records[0].getMessage()
    assert "after 8 failed" in records[1].getMessage()
    assert "after 2 failed" in records[3].getMessage()
    assert all(SECRET not in r.getMessage() for r in caplog.records)

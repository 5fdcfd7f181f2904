"""The user-data stream's wake-up gap, against a real embedded venue through real ccxt.

ccxt wakes a pending ``watch_orders``/``watch_my_trades`` only if the watch's future is
registered when the message is handled (``Client.resolve``); a message handled between one
watch returning and the next one registering is parsed into ccxt's caches but wakes nobody
until the *next* message for that stream. The adapter must deliver such events anyway (it
sweeps the caches). Here the window is made long and deterministic: the adapter's exchange
re-arms each watch only after ``REARM_DELAY_S``, and the venue fills our resting order inside
that window, with no later event for the order.
"""
from __future__ import annotations

import asyncio
from decimal import Decimal as D

import pytest

from fixgw.venues.base import VenueFill, VenueOrderState, VenueOrderUpdate
from fixgw.venues.config import VenueConfigError, venue_config_from_mapping
from venue_harness import (both_watches_registered, limit_buy, of,
                           open_with_partial_fill_and_slow_rearm, run,
                           slow_rearm, venue_and_adapter, wait_for)

REARM_DELAY_S = 1.0      # how long each re-armed watch waits before registering with ccxt
DELIVERY_BOUND_S = 0.5   # the sweep must deliver well inside that window


async def fill_inside_the_gap(symbol: str, venue_symbol: str, kind: str) -> None:
    venue, adapter, events = await venue_and_adapter()
    try:
        assert await wait_for(lambda: adapter.stream_up(kind)), "user-data stream never came up"
        loop = asyncio.get_running_loop()
        cid = f"gap-{kind}"
        # NEW returns the orders watch, a partial fill the trades watch: both re-arm slowly
        calls = await open_with_partial_fill_and_slow_rearm(
            venue, adapter, events, adapter.exchange_for(symbol), symbol, venue_symbol, cid,
            REARM_DELAY_S)
        # the rest fills while neither watch is registered with ccxt; nothing follows for it
        filled_at = loop.time()
        assert filled_at - calls["watch_orders"][0] < REARM_DELAY_S - DELIVERY_BOUND_S, \
            "test too slow to land inside the re-arm window"
        venue.exchange.place_house_order("house-x", venue_symbol, "SELL", "MARKET", D("0.15"))

        def final_state_seen():
            return any(x.state is VenueOrderState.FILLED for x in of(events, cid, VenueOrderUpdate))
        delivered = await wait_for(final_state_seen, DELIVERY_BOUND_S)
        took = loop.time() - filled_at
        assert delivered, f"FILLED not delivered within {DELIVERY_BOUND_S}s of the fill (stream gap)"
        assert took < REARM_DELAY_S, took
        seq = [e for e in events if e.client_order_id == cid]
        fills = [e for e in seq if isinstance(e, VenueFill)]
        assert [f.quantity for f in fills] == [D("0.05"), D("0.15")]
        assert len({f.trade_id for f in fills}) == 2
        final = next(i for i, e in enumerate(seq) if isinstance(e, VenueOrderUpdate)
                     and e.state is VenueOrderState.FILLED)
        assert all(seq.index(f) < final for f in fills), "a fill came after the update counting it"
        assert seq[final].filled == D("0.2") and seq[final].remaining == 0
        # the re-armed watches and later sweeps must not repeat anything
        await asyncio.sleep(REARM_DELAY_S + 0.3)
        assert [e for e in events if e.client_order_id == cid] == seq
        assert adapter.stream_gap_recoveries >= 2   # at least the second fill and FILLED
    finally:
        await adapter.close()
        await venue.stop()


def test_fill_inside_the_rearm_window_is_delivered_spot():
    run(fill_inside_the_gap("BTC/USDT", "BTCUSDT", "spot"))


def test_fill_inside_the_rearm_window_is_delivered_perp():
    run(fill_inside_the_gap("BTC/USDT:USDT", "BTCUSDT_PERP", "linear"))


def test_sweeps_and_watches_together_deliver_each_event_once():
    """Many partial fills while the watches re-arm a little late, so the sweep and the
    watches see overlapping sets of the same cached events: each fill is delivered once,
    each order's updates only ever advance, and fills precede the updates counting them."""
    async def main():
        venue, adapter, events = await venue_and_adapter()
        try:
            assert await wait_for(lambda: adapter.stream_up("spot"))
            slow_rearm(adapter.exchange_for("BTC/USDT"), 0.03)
            cids = [f"ovl-{i}" for i in range(4)]
            for i, cid in enumerate(cids):
                await adapter.submit(limit_buy(cid, "BTC/USDT", "0.3", str(60000 - i)))
            for round_ in range(6):   # 6 x 0.2 = 1.2 = the four orders' 4 x 0.3
                venue.exchange.place_house_order("house-x", "BTCUSDT", "SELL", "MARKET", D("0.2"))
                await asyncio.sleep(0.02 * (round_ % 3))
            assert await wait_for(lambda: all(
                any(u.state is VenueOrderState.FILLED for u in of(events, c, VenueOrderUpdate))
                for c in cids), 5.0), "not every order's FILLED was delivered"
            await asyncio.sleep(0.5)   # let the late watches return and the sweeps run again
            fills = [e for e in events if isinstance(e, VenueFill)]
            assert len(fills) == len({f.trade_id for f in fills}), "a fill was delivered twice"
            venue_trades = {f.trade_id for f in await adapter.fetch_fills("BTC/USDT")}
            assert {f.trade_id for f in fills} == venue_trades
            for cid in cids:
                seq = [e for e in events if e.client_order_id == cid]
                assert sum(f.quantity for f in seq if isinstance(f, VenueFill)) == D("0.3")
                delivered = D(0)
                last = None
                for e in seq:
                    if isinstance(e, VenueFill):
                        delivered += e.quantity
                        continue
                    assert e.filled <= delivered, f"{cid}: update counts fills not yet delivered"
                    if last is not None:
                        assert last.state is not VenueOrderState.FILLED, f"{cid}: update after FILLED"
                        assert e.filled >= last.filled, f"{cid}: filled went back"
                        assert (e.state, e.filled) != (last.state, last.filled), f"{cid}: repeated"
                    last = e
                assert last is not None and last.state is VenueOrderState.FILLED
            assert adapter.stream_gap_recoveries > 0, "the sweep never had anything to deliver"
        finally:
            await adapter.close()
            await venue.stop()
    run(main())


def test_cancel_answer_counting_an_unwoken_fill_delivers_it_first():
    """A cancel whose REST answer reports a fill the stream parsed but woke nobody for: the
    fill is delivered before cancel() returns (sweeps slowed right down so only the answer
    can deliver it)."""
    async def main():
        venue, adapter, events = await venue_and_adapter(stream_sweep_s=30.0)
        try:
            assert await wait_for(lambda: adapter.stream_up("spot"))
            loop = asyncio.get_running_loop()
            ex = adapter.exchange_for("BTC/USDT")
            assert await wait_for(lambda: both_watches_registered(ex))
            calls = slow_rearm(ex, REARM_DELAY_S)
            cid = "gap-cancel"
            await adapter.submit(limit_buy(cid, "BTC/USDT", "0.3", "60000"))
            assert await wait_for(lambda: calls["watch_orders"])          # NEW: orders watch re-arms slowly
            venue.exchange.place_house_order("house-x", "BTCUSDT", "SELL", "MARKET", D("0.05"))
            assert await wait_for(lambda: len(of(events, cid, VenueFill)) == 1)
            assert await wait_for(lambda: calls["watch_my_trades"])       # trades watch re-arms slowly
            venue.exchange.place_house_order("house-x", "BTCUSDT", "SELL", "MARKET", D("0.1"))
            # ccxt has the second trade, and nobody was woken for it
            assert await wait_for(lambda: sum(1 for t in (ex.myTrades or ()) if D(t["amount"]) == D("0.1")) == 1)
            assert len(of(events, cid, VenueFill)) == 1
            assert loop.time() - calls["watch_orders"][0] < REARM_DELAY_S, "test too slow"
            answer = await adapter.cancel(cid, "BTC/USDT")
            assert answer.state is VenueOrderState.CANCELED and answer.filled == D("0.15")
            assert [f.quantity for f in of(events, cid, VenueFill)] == [D("0.05"), D("0.1")]
        finally:
            await adapter.close()
            await venue.stop()
    run(main())


def test_sweep_period_is_configurable_and_validated():
    assert venue_config_from_mapping("v", {}).stream_sweep_s == 0.05
    assert venue_config_from_mapping("v", {"stream_sweep_s": 0.1}).stream_sweep_s == 0.1
    for bad in (0, -1, "soon"):
        with pytest.raises(VenueConfigError, match="stream_sweep_s"):
            venue_config_from_mapping("v", {"stream_sweep_s": bad})

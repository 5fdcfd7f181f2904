"""CcxtVenueAdapter against real embedded venues (start_venue) through unmodified ccxt."""
from __future__ import annotations

import asyncio
import logging
import socket
from decimal import Decimal as D

import pytest

from fixgw.domain import OrdType, Side, TimeInForce
from fixgw.sim.server import start_venue
from fixgw.sim.spec import RateLimitSpec
from fixgw.venues.base import (VenueError, VenueErrorKind, VenueFill, VenueOrderRequest,
                               VenueOrderState, VenueOrderUpdate)
from fixgw.venues.ccxt_adapter import CcxtVenueAdapter
from fixgw.venues.config import Credentials, VenueConfig
from fixgw.venues.ratelimit import RateLimits
from venue_harness import venue_and_adapter as harness_venue_and_adapter, wait_for

SYMBOLS = ("BTC/USDT", "ETH/USDT", "BTC/USDT:USDT")


def dead_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


async def venue_and_adapter(spec_kwargs=None, **cfg_kwargs):
    return await harness_venue_and_adapter(spec_kwargs, name="sim-a", symbols=SYMBOLS,
                                           **cfg_kwargs)


async def wait_stream_up(adapter, kind="spot"):
    assert await wait_for(lambda: adapter.stream_up(kind), 5.0), "user-data stream never came up"


def req(cid, side=Side.BUY, qty="0.1", price=None, ord_type=None, tif=TimeInForce.GTC, symbol="BTC/USDT",
        post_only=False):
    ord_type = ord_type or (OrdType.LIMIT if price is not None else OrdType.MARKET)
    return VenueOrderRequest(cid, symbol, side, ord_type, D(qty), D(price) if price else None, tif,
                             post_only=post_only)


def fills_of(events, cid):
    return [e for e in events if isinstance(e, VenueFill) and e.client_order_id == cid]


def updates_of(events, cid):
    return [e for e in events if isinstance(e, VenueOrderUpdate) and e.client_order_id == cid]


def run(coro):
    asyncio.run(asyncio.wait_for(coro, 60))


def test_submit_marketable_fill_arrives_once_via_stream():
    async def main():
        venue, adapter, events = await venue_and_adapter()
        try:
            await wait_stream_up(adapter)
            u = await adapter.submit(req("t-ioc-1", qty="0.7", price="61000", tif=TimeInForce.IOC))
            assert u.state is VenueOrderState.FILLED and u.filled == D("0.7") and u.client_order_id == "t-ioc-1"
            # 0.5 at 60006 then 0.2 at 60018 (seeded house ladder)
            assert u.avg_price == (D("0.5") * D("60006") + D("0.2") * D("60018")) / D("0.7")
            assert await wait_for(lambda: len(fills_of(events, "t-ioc-1")) == 2)
            await asyncio.sleep(0.3)  # nothing more may arrive
            fills = fills_of(events, "t-ioc-1")
            assert len(fills) == 2 and len({f.trade_id for f in fills}) == 2
            assert sum(f.quantity for f in fills) == D("0.7")
            assert [f.price for f in fills] == [D("60006"), D("60018")]
            assert all(f.venue == "sim-a" and f.is_maker is False and f.fee > 0 for f in fills)
            assert adapter.stats.fills_from_stream == 2 and adapter.stats.fills_from_poll == 0
            assert all(isinstance(f.price, D) and isinstance(f.quantity, D) for f in fills)
        finally:
            await adapter.close()
            await venue.stop()
    run(main())


def test_resting_order_filled_later_delivers_fill_before_filled_update():
    async def main():
        venue, adapter, events = await venue_and_adapter()
        try:
            await wait_stream_up(adapter)
            u = await adapter.submit(req("t-rest-1", qty="0.2", price="60000"))
            assert u.state is VenueOrderState.OPEN and u.remaining == D("0.2")
            open_orders = await adapter.fetch_open_orders("BTC/USDT")
            assert [o.client_order_id for o in open_orders] == ["t-rest-1"]
            venue.exchange.place_house_order("house-x", "BTCUSDT", "SELL", "MARKET", D("0.05"))
            venue.exchange.place_house_order("house-x", "BTCUSDT", "SELL", "MARKET", D("0.15"))
            assert await wait_for(lambda: any(x.state is VenueOrderState.FILLED for x in updates_of(events, "t-rest-1")))
            seq = [e for e in events if e.client_order_id == "t-rest-1"]
            fills = [e for e in seq if isinstance(e, VenueFill)]
            assert [f.quantity for f in fills] == [D("0.05"), D("0.15")]
            assert all(f.is_maker for f in fills) and all(f.price == D("60000") for f in fills)
            filled_at = next(i for i, e in enumerate(seq) if isinstance(e, VenueOrderUpdate)
                             and e.state is VenueOrderState.FILLED)
            assert all(seq.index(f) < filled_at for f in fills)
            # every update is new information: cumulative filled never repeats with the same state
            ups = [(x.state, x.filled) for x in updates_of(events, "t-rest-1")]
            assert len(ups) == len(set(ups))
            got = await adapter.fetch_order("t-rest-1", "BTC/USDT")
            assert got.state is VenueOrderState.FILLED and got.filled == D("0.2")
            assert {f.trade_id for f in await adapter.fetch_fills("BTC/USDT")} >= {f.trade_id for f in fills}
        finally:
            await adapter.close()
            await venue.stop()
    run(main())


def test_cancel_fetch_and_cancel_races():
    async def main():
        venue, adapter, events = await venue_and_adapter()
        try:
            await adapter.submit(req("t-c-1", qty="0.1", price="59000"))
            c = await adapter.cancel("t-c-1", "BTC/USDT")
            assert c.state is VenueOrderState.CANCELED and c.client_order_id == "t-c-1"  # origClientOrderId
            assert c.remaining == 0 and c.filled == 0
            # cancelling again: not an error, the final state comes back
            again = await adapter.cancel("t-c-1", "BTC/USDT")
            assert again.state is VenueOrderState.CANCELED and again.client_order_id == "t-c-1"
            # cancel of a filled order: its final state (FILLED), so the OMS can reject the cancel
            await adapter.submit(req("t-c-2", qty="0.1", price="61000", tif=TimeInForce.IOC))
            done = await adapter.cancel("t-c-2", "BTC/USDT")
            assert done.state is VenueOrderState.FILLED and done.filled == D("0.1")
            with pytest.raises(VenueError) as err:
                await adapter.cancel("never-sent", "BTC/USDT")
            assert err.value.kind is VenueErrorKind.ORDER_NOT_FOUND
            assert await adapter.fetch_order("never-sent", "BTC/USDT") is None
            assert await adapter.fetch_open_orders() == []
        finally:
            await adapter.close()
            await venue.stop()
    run(main())


def test_idempotent_submit_with_same_client_order_id():
    async def main():
        venue, adapter, events = await venue_and_adapter()
        try:
            first = await adapter.submit(req("t-dup-1", qty="0.1", price="59000"))
            second = await adapter.submit(req("t-dup-1", qty="0.1", price="59000"))
            assert second.venue_order_id == first.venue_order_id and second.state is VenueOrderState.OPEN
            # a fresh adapter (e.g. after a restart) retrying the same id: venue says duplicate,
            # the adapter resolves it by fetching the existing order
            other = CcxtVenueAdapter(adapter.config, credentials=Credentials(venue.spec.api_key,
                                                                              venue.spec.api_secret))
            await other.connect()
            try:
                third = await other.submit(req("t-dup-1", qty="0.1", price="59000"))
                assert third.venue_order_id == first.venue_order_id
                assert other.stats.duplicates_resolved == 1
            finally:
                await other.close()
            assert len(await adapter.fetch_open_orders("BTC/USDT")) == 1
            # an IOC that already executed is not sent twice either
            ioc = await adapter.submit(req("t-dup-2", qty="0.1", price="61000", tif=TimeInForce.IOC))
            again = await adapter.submit(req("t-dup-2", qty="0.1", price="61000", tif=TimeInForce.IOC))
            assert again.venue_order_id == ioc.venue_order_id and again.filled == D("0.1")
            assert len(await adapter.fetch_fills("BTC/USDT")) == 1
            with pytest.raises(VenueError) as err:
                await adapter.submit(req("t-dup-1", qty="0.2", price="59000"))
            assert err.value.kind is VenueErrorKind.INVALID_ORDER and "already used" in err.value.message
        finally:
            await adapter.close()
            await venue.stop()
    run(main())


def test_error_mapping():
    async def main():
        venue, adapter, events = await venue_and_adapter()
        try:
            cases = [
                (req("e-funds", qty="5", price="60000"), VenueErrorKind.INSUFFICIENT_FUNDS, "insufficient balance"),
                (req("e-maker", qty="0.1", price="61000", post_only=True), VenueErrorKind.WOULD_TAKE,
                 "immediately match"),
                (req("e-lot", qty="0.0000001", price="60000"), VenueErrorKind.INVALID_ORDER, ""),
                (req("e-tick", qty="0.1", price="60000.001"), VenueErrorKind.INVALID_ORDER, ""),
                (req("e-perp-maker", qty="0.01", price="61000", post_only=True, symbol="BTC/USDT:USDT"),
                 VenueErrorKind.WOULD_TAKE, ""),
            ]
            for request, kind, text in cases:
                with pytest.raises(VenueError) as err:
                    await adapter.submit(request)
                assert err.value.kind is kind, (request.client_order_id, err.value)
                assert text.lower() in err.value.message.lower()
                assert venue.spec.api_secret not in str(err.value) and "signature=" not in str(err.value).replace("signature=***", "")
            with pytest.raises(VenueError) as err:
                await adapter.submit(req("e-sym", symbol="DOGE/USDT"))
            assert err.value.kind is VenueErrorKind.INVALID_ORDER
            # wrong secret: authentication
            bad = CcxtVenueAdapter(adapter.config, credentials=Credentials(venue.spec.api_key, "0" * 64))
            await bad.connect()
            try:
                with pytest.raises(VenueError) as err:
                    await bad.submit(req("e-auth", qty="0.1", price="59000"))
                assert err.value.kind is VenueErrorKind.AUTH
                assert "0" * 64 not in str(err.value)
            finally:
                await bad.close()
        finally:
            await adapter.close()
            await venue.stop()
        # venue gone: unavailable (after the adapter's retries)
        venue2, adapter2, _ = await venue_and_adapter()
        await venue2.stop()
        try:
            with pytest.raises(VenueError) as err:
                await adapter2.submit(req("e-down", qty="0.1", price="59000"))
            assert err.value.kind is VenueErrorKind.UNAVAILABLE
        finally:
            await adapter2.close()
    run(main())


def test_rate_limits_ours_and_the_venues():
    async def main():
        # our limiter refuses before the venue is bothered
        venue, adapter, _ = await venue_and_adapter(
            rate_limits=RateLimits(orders_per_10s=3, max_wait_s=0.05))
        try:
            for i in range(3):
                await adapter.submit(req(f"r-{i}", qty="0.01", price="59000"))
            with pytest.raises(VenueError) as err:
                await adapter.submit(req("r-3", qty="0.01", price="59000"))
            assert err.value.kind is VenueErrorKind.RATE_LIMITED and "fixgw limiter" in err.value.message
            assert len(await adapter.fetch_open_orders("BTC/USDT")) == 3
        finally:
            await adapter.close()
            await venue.stop()
        # the venue's own 429 maps to RATE_LIMITED too
        venue, adapter, _ = await venue_and_adapter(
            spec_kwargs={"rate_limits": RateLimitSpec(orders_per_10s=2)},
            rate_limits=RateLimits(orders_per_10s=1000))
        try:
            kinds = []
            for i in range(4):
                try:
                    await adapter.submit(req(f"v-{i}", qty="0.01", price="59000"))
                except VenueError as exc:
                    kinds.append(exc.kind)
            assert VenueErrorKind.RATE_LIMITED in kinds
        finally:
            await adapter.close()
            await venue.stop()
    run(main())


def test_polling_fallback_while_stream_is_down(caplog):
    caplog.set_level(logging.INFO, logger="fixgw.venues")

    async def main():
        venue, adapter, events = await venue_and_adapter(ws_url=f"ws://127.0.0.1:{dead_port()}")
        try:
            await asyncio.sleep(0.3)
            assert not adapter.stream_up("spot")
            u = await adapter.submit(req("p-rest-1", qty="0.2", price="60000"))
            assert u.state is VenueOrderState.OPEN
            venue.exchange.place_house_order("house-x", "BTCUSDT", "SELL", "MARKET", D("0.2"))
            assert await wait_for(lambda: any(x.state is VenueOrderState.FILLED
                                              for x in updates_of(events, "p-rest-1")), 5)
            await asyncio.sleep(0.4)  # several more polls: still exactly once
            fills = fills_of(events, "p-rest-1")
            assert len(fills) == 1 and fills[0].quantity == D("0.2") and fills[0].is_maker
            assert [x.state for x in updates_of(events, "p-rest-1")] == [VenueOrderState.FILLED]
            seq = [e for e in events if e.client_order_id == "p-rest-1"]
            assert isinstance(seq[0], VenueFill)
            assert adapter.stats.fills_from_poll == 1 and adapter.stats.fills_from_stream == 0
            assert adapter.stats.polls >= 1
        finally:
            await adapter.close()
            await venue.stop()
    run(main())
    downs = [r for r in caplog.records if "user-data stream down" in r.getMessage() and "spot" in r.getMessage()]
    assert len(downs) == 1


def test_stream_drop_is_covered_by_polling_then_stream_resumes():
    async def main():
        venue, adapter, events = await venue_and_adapter()
        try:
            await wait_stream_up(adapter)
            await adapter.submit(req("d-rest-1", qty="0.3", price="60000"))
            # the venue drops the user-data connection
            streams = getattr(venue.server, "user_streams", venue.server)
            conns = [c for users in streams.spot_users.values() for c in users]
            assert conns
            for c in conns:
                await c.ws.close()
            assert await wait_for(lambda: not adapter.stream_up("spot"), 3)
            venue.exchange.place_house_order("house-x", "BTCUSDT", "SELL", "MARKET", D("0.1"))
            assert await wait_for(lambda: sum(f.quantity for f in fills_of(events, "d-rest-1")) == D("0.1"), 5)
            assert adapter.stats.stream_downs >= 1
            await wait_stream_up(adapter)
            venue.exchange.place_house_order("house-x", "BTCUSDT", "SELL", "MARKET", D("0.2"))
            assert await wait_for(lambda: any(x.state is VenueOrderState.FILLED
                                              for x in updates_of(events, "d-rest-1")), 5)
            await asyncio.sleep(0.3)
            fills = fills_of(events, "d-rest-1")
            assert sorted(f.quantity for f in fills) == [D("0.1"), D("0.2")]
            assert len({f.trade_id for f in fills}) == 2
        finally:
            await adapter.close()
            await venue.stop()
    run(main())


def test_perpetual_through_the_same_adapter():
    async def main():
        venue, adapter, events = await venue_and_adapter()
        try:
            await wait_stream_up(adapter, "linear")
            assert adapter.fees_for("BTC/USDT:USDT").taker == D("0.0005")   # fetched from the venue
            assert adapter.fees_for("BTC/USDT").taker == D("0.001")
            assert adapter.market_rules("BTC/USDT:USDT").lot_size == D("0.001")
            u = await adapter.submit(req("f-1", qty="0.01", symbol="BTC/USDT:USDT"))
            assert u.state is VenueOrderState.FILLED and u.symbol == "BTC/USDT:USDT"
            assert await wait_for(lambda: len(fills_of(events, "f-1")) == 1)
            f = fills_of(events, "f-1")[0]
            assert f.fee_currency == "USDT" and f.fee == f.price * f.quantity * D("0.0005")
            bal = await adapter.fetch_balances("BTC/USDT:USDT")
            assert "USDT" in bal and bal["USDT"] < D("50000")
            spot = await adapter.fetch_balances()
            assert spot["BTC"] == D("2")
        finally:
            await adapter.close()
            await venue.stop()
    run(main())


def test_ws_api_order_transport():
    async def main():
        venue, adapter, events = await venue_and_adapter(order_transport="ws")
        try:
            await wait_stream_up(adapter)
            u = await adapter.submit(req("w-1", qty="0.1", price="61000", tif=TimeInForce.IOC))
            assert u.state is VenueOrderState.FILLED and u.client_order_id == "w-1"
            assert await wait_for(lambda: len(fills_of(events, "w-1")) == 1)
            rest = await adapter.submit(req("w-2", qty="0.1", price="59000"))
            assert rest.state is VenueOrderState.OPEN
            assert (await adapter.cancel("w-2", "BTC/USDT")).state is VenueOrderState.CANCELED
            with pytest.raises(VenueError) as err:
                await adapter.submit(req("w-3", qty="5", price="60000"))
            assert err.value.kind is VenueErrorKind.INSUFFICIENT_FUNDS
            await asyncio.sleep(0.2)
            assert len(fills_of(events, "w-1")) == 1
        finally:
            await adapter.close()
            await venue.stop()
    run(main())


def test_streams_recover_after_venue_restart_spot_and_perp():
    async def main():
        venue, adapter, events = await venue_and_adapter()
        try:
            await wait_stream_up(adapter)
            await wait_stream_up(adapter, "linear")
            spec = venue.spec
            await venue.stop()
            assert await wait_for(lambda: not adapter.stream_up("spot") and not adapter.stream_up("linear"), 5)
            venue = await start_venue(spec)   # same port, same credentials, fresh state
            # the perp stream needs a new listenKey: the adapter makes ccxt fetch one
            await wait_stream_up(adapter)
            await wait_stream_up(adapter, "linear")
            await adapter.submit(req("rs-spot", qty="0.1", price="60000"))
            await adapter.submit(req("rs-perp", qty="0.01", price="60000", symbol="BTC/USDT:USDT"))
            venue.exchange.place_house_order("house-x", "BTCUSDT", "SELL", "MARKET", D("0.1"))
            venue.exchange.place_house_order("house-x", "BTCUSDT_PERP", "SELL", "MARKET", D("0.01"))
            assert await wait_for(lambda: fills_of(events, "rs-spot") and fills_of(events, "rs-perp"), 5)
            await asyncio.sleep(0.3)
            assert len(fills_of(events, "rs-spot")) == 1 and len(fills_of(events, "rs-perp")) == 1
            assert adapter.stream_up("spot") and adapter.stream_up("linear")
        finally:
            await adapter.close()
            await venue.stop()
    run(main())


def test_submit_retried_after_timeout_creates_one_order():
    from dataclasses import replace as dc_replace

    async def main():
        venue, adapter, events = await venue_and_adapter(timeout_ms=300)
        try:
            spec = venue.server.spec
            venue.server.spec = dc_replace(spec, request_latency_ms=600)   # this request is slow

            async def heal():
                await asyncio.sleep(0.1)
                venue.server.spec = spec
            healer = asyncio.create_task(heal())
            u = await adapter.submit(req("to-1", qty="0.1", price="59000"))
            await healer
            assert u.state is VenueOrderState.OPEN and u.client_order_id == "to-1"
            assert adapter.stats.submit_retries >= 1
            await asyncio.sleep(0.7)   # the slow original has now reached the venue too
            open_orders = await adapter.fetch_open_orders("BTC/USDT")
            assert [o.client_order_id for o in open_orders] == ["to-1"]
        finally:
            await adapter.close()
            await venue.stop()
    run(main())


def test_partial_fill_then_cancel():
    async def main():
        venue, adapter, events = await venue_and_adapter()
        try:
            await wait_stream_up(adapter)
            await adapter.submit(req("pc-1", qty="0.3", price="60000"))
            venue.exchange.place_house_order("house-x", "BTCUSDT", "SELL", "MARKET", D("0.1"))
            c = await adapter.cancel("pc-1", "BTC/USDT")
            assert c.state is VenueOrderState.CANCELED and c.filled == D("0.1") and c.remaining == 0
            assert c.avg_price == D("60000")
            assert await wait_for(lambda: len(fills_of(events, "pc-1")) == 1)
            await asyncio.sleep(0.3)
            assert [f.quantity for f in fills_of(events, "pc-1")] == [D("0.1")]
            # the CANCELED state is reported at most once more, by the stream, and only if the
            # stream beat the REST answer (dedup by state and cumulative quantity)
            assert len([u for u in updates_of(events, "pc-1") if u.state is VenueOrderState.CANCELED]) <= 1
        finally:
            await adapter.close()
            await venue.stop()
    run(main())


def test_connect_to_a_dead_venue_is_a_clear_error():
    async def main():
        adapter = CcxtVenueAdapter(VenueConfig(name="nowhere", base_url=f"http://127.0.0.1:{dead_port()}",
                                               symbols=("BTC/USDT",)),
                                   credentials=Credentials("k", "s"))
        with pytest.raises(VenueError) as err:
            await adapter.connect()
        assert err.value.kind is VenueErrorKind.UNAVAILABLE and err.value.venue == "nowhere"
        with pytest.raises(VenueError) as err:
            await adapter.submit(req("x"))
        assert err.value.kind is VenueErrorKind.UNAVAILABLE and "not connected" in err.value.message
    run(main())


def test_restarted_gateway_adopts_its_resting_child_and_gets_its_fills():
    async def main():
        venue, first, _ = await venue_and_adapter()
        try:
            await first.submit(req("adopt-1", qty="0.2", price="60000"))
            await first.close()                      # the gateway goes away
            second = CcxtVenueAdapter(first.config, credentials=Credentials(venue.spec.api_key,
                                                                            venue.spec.api_secret))
            events = []
            second.on_event(events.append)
            await second.connect()
            try:
                await wait_stream_up(second)
                got = await second.fetch_order("adopt-1", "BTC/USDT")   # recovery asks about it
                assert got.state is VenueOrderState.OPEN and got.remaining == D("0.2")
                venue.exchange.place_house_order("house-x", "BTCUSDT", "SELL", "MARKET", D("0.2"))
                assert await wait_for(lambda: any(u.state is VenueOrderState.FILLED
                                                  for u in updates_of(events, "adopt-1")))
                assert [f.quantity for f in fills_of(events, "adopt-1")] == [D("0.2")]
            finally:
                await second.close()
        finally:
            await venue.stop()
    run(main())

"""A user-data connection the venue closes *between* two watches, against a real embedded
venue through real ccxt.

ccxt fails a pending watch when its connection closes, and the adapter then marks the stream
down and polls. But if no watch is registered at that moment (one just returned, the next is
not armed yet), the close fails nothing: ccxt just forgets the client, and the adapter's next
``watch_*`` silently opens a fresh connection (new ws-api subscription / listenKey socket).
Whatever the venue emitted in between reached no connection. The adapter must notice that its
watch now sits on a different connection and catch up over REST.

The window is made long and deterministic: the adapter re-arms each watch only after
``REARM_DELAY_S``; the venue drops the connection and fills our resting order inside it. The
REST poll period is set far beyond the test, so only the reconnect detection can deliver.
"""
from __future__ import annotations

import asyncio
import logging
from decimal import Decimal as D

from fixgw.venues.base import VenueFill, VenueOrderState, VenueOrderUpdate
from venue_harness import (drop_user_connections, of, open_with_partial_fill_and_slow_rearm,
                           run, user_clients, user_connections, venue_and_adapter, wait_for)

REARM_DELAY_S = 1.0      # each re-armed watch waits this long before reaching ccxt
DELIVERY_BOUND_S = 3.0   # from the fill nobody streamed to its delivery
POLL_S = 60.0            # the stream-down poll loop must not be what delivers


async def fill_while_no_connection_is_subscribed(symbol: str, venue_symbol: str, kind: str, caplog) -> None:
    venue, adapter, events = await venue_and_adapter(poll_interval_s=POLL_S)
    try:
        assert await wait_for(lambda: adapter.stream_up(kind)), "user-data stream never came up"
        loop = asyncio.get_running_loop()
        ex = adapter.exchange_for(symbol)
        first = user_clients(ex)
        assert len(first) == 1
        cid = f"rc-{kind}"
        # NEW returns the orders watch, a partial fill the trades watch: both re-arm slowly
        calls = await open_with_partial_fill_and_slow_rearm(
            venue, adapter, events, ex, symbol, venue_symbol, cid, REARM_DELAY_S)
        assert not any(first[0].futures.get(h) for h in ("orders", "myTrades")), \
            "a watch is still registered: the close would fail it (not the race under test)"
        # the venue closes the connection while no watch is registered: ccxt fails nothing
        assert await drop_user_connections(venue, kind) == 1
        assert await wait_for(lambda: first[0] not in user_clients(ex), 2.0)
        assert not user_connections(venue, kind)
        # ... and the rest of the order fills while no connection is subscribed
        filled_at = loop.time()
        assert filled_at - calls["watch_orders"][0] < REARM_DELAY_S - 0.2, \
            "test too slow to land inside the re-arm window"
        venue.exchange.place_house_order("house-x", venue_symbol, "SELL", "MARKET", D("0.15"))
        assert adapter.stream_up(kind), "the adapter saw the drop: not the race under test"

        def final_state_seen():
            return any(x.state is VenueOrderState.FILLED for x in of(events, cid, VenueOrderUpdate))
        assert await wait_for(final_state_seen, DELIVERY_BOUND_S), \
            f"FILLED not delivered within {DELIVERY_BOUND_S}s of a fill made while reconnecting"
        # the watches re-armed on a fresh connection; nothing may be repeated later
        assert user_clients(ex) and first[0] not in user_clients(ex)
        await asyncio.sleep(0.5)
        seq = [e for e in events if e.client_order_id == cid]
        fills = [e for e in seq if isinstance(e, VenueFill)]
        assert [f.quantity for f in fills] == [D("0.05"), D("0.15")]
        assert len({f.trade_id for f in fills}) == 2
        finals = [i for i, e in enumerate(seq) if isinstance(e, VenueOrderUpdate)
                  and e.state is VenueOrderState.FILLED]
        assert len(finals) == 1, "FILLED delivered more than once"
        assert all(seq.index(f) < finals[0] for f in fills), "a fill came after the update counting it"
        assert seq[finals[0]].filled == D("0.2") and seq[finals[0]].remaining == 0
        assert adapter.stream_reconnects == 1
        assert adapter.stats.stream_downs == 0
        assert adapter.stats.fills_from_poll == 1   # the catch-up pass, not a stream, delivered it
        lines = [r.getMessage() for r in caplog.records
                 if r.levelno == logging.INFO and "reconnected" in r.getMessage()]
        assert len(lines) == 1 and "sim-g" in lines[0] and kind in lines[0]
        assert venue.spec.api_key not in lines[0] and "listenKey" not in lines[0]
    finally:
        await adapter.close()
        await venue.stop()


def test_fill_during_a_silent_reconnect_is_caught_up_spot(caplog):
    caplog.set_level(logging.INFO, logger="fixgw.venues")
    run(fill_while_no_connection_is_subscribed("BTC/USDT", "BTCUSDT", "spot", caplog))


def test_fill_during_a_silent_reconnect_is_caught_up_perp(caplog):
    caplog.set_level(logging.INFO, logger="fixgw.venues")
    run(fill_while_no_connection_is_subscribed("BTC/USDT:USDT", "BTCUSDT_PERP", "linear", caplog))

"""The market kinds one venue account trades, and the state kept per kind.

A Binance-style venue serves spot and USD-M perpetuals from separate ccxt.pro instances with
separate rate limits and user-data streams, so the adapter, its stream loops and its REST pass
all key their state by kind. Shared here so each of those modules can name it without
importing the others.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from fixgw.venues.ratelimit import VenueRateLimiter

SPOT, LINEAR = "spot", "linear"


def kind_of(symbol: str) -> str:
    return LINEAR if ":" in symbol else SPOT


@dataclass
class CcxtMarket:
    """One kind's ccxt.pro instance, its limiter, and what its user-data loops remember."""

    exchange: Any
    limiter: VenueRateLimiter
    stream_up: bool | None = None   # None until the first connect attempt settles
    tasks: list[asyncio.Task] = field(default_factory=list)
    # failed watch_my_trades attempts since the trade stream last worked (0: not in an outage);
    # kept here, not in the loop, so an outage outlives a restart of the stream tasks
    trade_failures: int = 0
    # per ccxt cache: the ``info`` objects of the entries the last sweep read
    # (see UserDataStream._fresh)
    sweep_marks: dict[str, list] = field(default_factory=dict)
    # the ccxt client (one per connection) whose user-data subscription is covered: events
    # from before it were caught up, later ones reach it (see UserDataStream._check_connection)
    live_conn: Any = None
    catch_up: asyncio.Task | None = None
    catch_up_why: str | None = None   # a catch-up pass is due (set while one may be running)

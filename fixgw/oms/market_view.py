"""The OMS's :class:`~fixgw.oms.ports.MarketView` over H4's market-data hub and venue adapters.

Also keeps a cache of each venue account's free balances (refreshed in the background and
after fills), because the pre-trade venue-balance check must not add a REST round trip to
every child order.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from decimal import Decimal
from typing import Mapping

from fixgw.algo.impact import realized_volatility
from fixgw.algo.types import Instrument, MarketSnapshot
from fixgw.domain import ZERO
from fixgw.marketdata.consolidated import ConsolidatedBook

log = logging.getLogger(__name__)

BOOK_REUSE_S = 0.002
MID_SAMPLE_S = 1.0          # one consolidated mid sample per market second, for volatility
MID_SAMPLES = 600           # ~10 market minutes of them
MIN_VOL_SAMPLES = 10        # fewer samples than this: no volatility estimate
TRADE_PRINTS = 100_000      # recent (time, quantity) prints kept for a learned volume profile


class HubMarketView:
    def __init__(self, hub, adapters: Mapping[str, object], balance_refresh_s: float = 2.0):
        self.hub = hub
        self.adapters = dict(adapters)
        self.balance_refresh_s = balance_refresh_s
        self._balances: dict[tuple[str, str], dict[str, Decimal]] = {}
        self._task: asyncio.Task | None = None
        self._symbols: set[str] | None = None
        self._books: dict[str, tuple[float, ConsolidatedBook]] = {}
        # price x quantity of every market print since this view started (interval VWAP for
        # TCA needs notional beside the hub's cumulative volume; both grow with the same prints)
        self._notional: dict[str, Decimal] = {}
        self._prints: dict[str, deque] = {}
        self._mids: dict[str, deque] = {}
        on_trade = getattr(hub, "on_trade", None)
        if on_trade is not None:
            on_trade(self._on_trade)

    def _on_trade(self, trade) -> None:
        self._notional[trade.symbol] = self._notional.get(trade.symbol, Decimal(0)) + \
            trade.price * trade.quantity
        prints = self._prints.get(trade.symbol)
        if prints is None:
            prints = self._prints[trade.symbol] = deque(maxlen=TRADE_PRINTS)
        prints.append((trade.timestamp, trade.quantity))

    def traded_notional(self, symbol: str) -> Decimal:
        return self._notional.get(symbol, Decimal(0))

    def prints(self, symbol: str) -> list[tuple[float, Decimal]]:
        """Recent market prints (venue time seconds, quantity), oldest first."""
        return list(self._prints.get(symbol, ()))

    def volatility(self, symbol: str) -> float | None:
        """Realised volatility of the consolidated mid (fraction per sqrt(second)), from the
        samples :meth:`snapshot` takes; None until there are enough of them."""
        samples = self._mids.get(symbol)
        if samples is None or len(samples) < MIN_VOL_SAMPLES:
            return None
        return realized_volatility(list(samples))

    def _sample_mid(self, symbol: str, now: float, bid, ask) -> None:
        if bid is None or ask is None:
            return
        samples = self._mids.get(symbol)
        if samples is None:
            samples = self._mids[symbol] = deque(maxlen=MID_SAMPLES)
        if not samples or now - samples[-1][0] >= MID_SAMPLE_S:
            samples.append((now, (bid + ask) / 2))

    # -- MarketView -------------------------------------------------------------------------

    def symbols(self) -> set[str]:
        if self._symbols is None:
            found: set[str] = set()
            for a in self.adapters.values():
                try:
                    found.update(a.symbols)
                except Exception:
                    continue
            self._symbols = found
        return self._symbols

    def book(self, symbol: str) -> ConsolidatedBook | None:
        """The hub's consolidated book, reused for ``BOOK_REUSE_S``: one order asks for it
        several times (risk, arrival price, routing) within the same instant, and venue books
        only change every ~100 ms, so rebuilding it each time would be pure waste."""
        now = time.monotonic()
        hit = self._books.get(symbol)
        if hit is not None and now - hit[0] < BOOK_REUSE_S:
            return hit[1]
        try:
            book = self.hub.consolidated(symbol)
        except Exception:
            return None
        self._books[symbol] = (now, book)
        return book

    def snapshot(self, symbol: str, now: float) -> MarketSnapshot:
        book = self.book(symbol)
        bid = ask = None
        bid_size = ask_size = ZERO
        if book is not None:
            bid, ask = book.best_bid(), book.best_ask()
            for q in book.venues:
                if q.book.bids and q.book.bids[0][0] == bid:
                    bid_size += q.book.bids[0][1]
                if q.book.asks and q.book.asks[0][0] == ask:
                    ask_size += q.book.asks[0][1]
        self._sample_mid(symbol, now, bid, ask)
        return MarketSnapshot(time=now, bid=bid, ask=ask, bid_size=bid_size, ask_size=ask_size,
                              traded_volume=self.hub.cumulative_volume(symbol),
                              traded_notional=self.traded_notional(symbol),
                              last_price=self.hub.last_price(symbol),
                              volatility=self.volatility(symbol))

    def instrument(self, symbol: str) -> Instrument:
        """The strictest increments across the venues listing ``symbol``."""
        tick, lot, min_qty = Decimal("0.00000001"), Decimal("0.00000001"), ZERO
        for a in self.adapters.values():
            if symbol not in a.symbols:
                continue
            try:
                rules = a.market_rules(symbol)
                t = a.tick_size(symbol)
            except Exception:
                continue
            if t is not None and t > tick:
                tick = t
            if rules.lot_size > lot:
                lot = rules.lot_size
            if rules.min_qty > min_qty:
                min_qty = rules.min_qty
        return Instrument(symbol, tick, lot, min_qty)

    def balances(self, venue: str, symbol: str | None = None) -> dict[str, Decimal] | None:
        kind = "linear" if symbol and ":" in symbol else "spot"
        return self._balances.get((venue, kind))

    # -- balance cache ------------------------------------------------------------------------

    async def start(self) -> None:
        await self.refresh_balances()
        self._task = asyncio.get_running_loop().create_task(self._refresh_loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None

    async def refresh_balances(self) -> None:
        async def one(name: str, adapter, kind: str, symbol: str | None) -> None:
            try:
                self._balances[(name, kind)] = await adapter.fetch_balances(symbol)
            except Exception as e:
                log.debug("balances of %s (%s) unavailable: %s", name, kind, e)
        jobs = []
        for name, a in self.adapters.items():
            syms = list(getattr(a, "symbols", ()) or ())
            if any(":" not in s for s in syms) or not syms:
                jobs.append(one(name, a, "spot", None))
            linear = [s for s in syms if ":" in s]
            if linear:
                jobs.append(one(name, a, "linear", linear[0]))
        await asyncio.gather(*jobs)

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self.balance_refresh_s)
            await self.refresh_balances()

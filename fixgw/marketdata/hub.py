"""MarketDataHub: live books and trades per venue, consolidated per symbol.

For every (venue, symbol) it runs a ccxt.pro ``watch_order_book`` loop into an
:class:`~fixgw.marketdata.book.L2Book` and a ``watch_trades`` loop into the
:class:`~fixgw.marketdata.volume.VolumeCounter`. ccxt keeps the book in sync (snapshot plus
sequenced diffs); when it detects a gap (``ChecksumError``) or the connection drops, the hub
marks that book *resyncing* and watches again (ccxt re-subscribes and re-snapshots).

A book is *fresh* while it is not resyncing and was updated within ``stale_after_s``; only
fresh books enter :meth:`consolidated`, so a stale venue is excluded from routing. Each
transition (live, stale, recovered) is logged once, by a monitor task, not on every query.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Awaitable, Callable, Iterable, Mapping, Protocol

from fixgw.clock import Clock, LiveClock
from fixgw.marketdata.book import BookSnapshot, L2Book, Level
from fixgw.marketdata.consolidated import ConsolidatedBook, VenueQuote
from fixgw.marketdata.decimals import to_decimal, to_decimal_or_none
from fixgw.marketdata.volume import MarketTrade, VolumeCounter
from fixgw.venues.base import VenueFees

log = logging.getLogger("fixgw.marketdata")

MAX_RETRY_BACKOFF_S = 5.0   # the longest wait between two watch attempts after failures


class MarketSource(Protocol):
    """What the hub needs from a venue adapter (CcxtVenueAdapter provides it)."""

    name: str

    def exchange_for(self, symbol: str) -> Any: ...

    def fees_for(self, symbol: str) -> VenueFees: ...


@dataclass(frozen=True, slots=True)
class MarketDataConfig:
    stale_after_s: float = 5.0      # a book not updated for this long is excluded from routing
    depth: int = 50                 # levels kept per side in snapshots
    check_interval_s: float = 0.25  # staleness monitor period
    volume_horizon_s: float = 6 * 3600.0
    retry_backoff_s: float = 0.2


@dataclass
class _BookState:
    book: L2Book
    resyncing: bool = False
    fresh: bool | None = None      # last reported freshness (None: never had data)
    why: str = ""
    updated_at: float | None = None  # clock.monotonic() of the last update from the venue
    pending: Any = None              # ccxt's live book, not yet copied into ``book``
    cached: BookSnapshot | None = None

    def materialize(self, depth: int) -> BookSnapshot | None:
        """Copy ccxt's book into ours only when someone looks (a feed can update hundreds
        of times between two routing decisions), and snapshot once per change. None when the
        venue's levels are unusable (NaN, not numbers): the book is then marked resyncing,
        so it leaves routing until the next update, instead of raising into the router."""
        if self.pending is not None:
            ob, self.pending = self.pending, None
            try:
                bids, asks = _levels(ob["bids"], depth), _levels(ob["asks"], depth)
            except (ValueError, TypeError, LookupError) as exc:
                self.resyncing = True
                self.why = f"unusable levels from the venue: {str(exc)[:120]}"
                return None
            self.book.replace(bids, asks, self.updated_at if self.updated_at is not None else 0.0)
            self.cached = None
        if self.resyncing and self.why.startswith("unusable"):
            return None
        if self.cached is None or self.cached.sequence != self.book.sequence:
            self.cached = self.book.snapshot(depth)
        return self.cached


class MarketDataHub:
    def __init__(self, venues: Mapping[str, MarketSource] | Iterable[MarketSource],
                 symbols: Mapping[str, Iterable[str]] | None = None, *,
                 clock: Clock | None = None, config: MarketDataConfig = MarketDataConfig(),
                 fees: Mapping[str, VenueFees] | None = None,
                 logger: logging.Logger | None = None, wall_clock: Clock | None = None):
        """``symbols``: venue -> symbols to watch (default: each venue's configured symbols).
        ``fees``: venue -> fees, overriding ``fees_for`` (for sources without it).
        ``clock`` is market time (possibly scaled); staleness is feed health and is measured
        on ``wall_clock`` (default: the real clock), so compressed market time does not make
        every book look stale between two depth messages."""
        if not isinstance(venues, Mapping):
            venues = {v.name: v for v in venues}
        self._venues: dict[str, MarketSource] = dict(venues)
        self._symbols: dict[str, tuple[str, ...]] = {
            v: tuple(symbols.get(v, ())) if symbols is not None else _configured_symbols(src)
            for v, src in self._venues.items()}
        self._clock = clock or LiveClock()
        self._wall = wall_clock or LiveClock()
        self.config = config
        self._fees = dict(fees or {})
        self._log = logger or log
        self._books: dict[tuple[str, str], _BookState] = {}
        self.volume = VolumeCounter(config.volume_horizon_s)
        self._trade_callbacks: list[Callable[[MarketTrade], None]] = []
        self._tasks: list[asyncio.Task] = []
        self._running = False

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        if self._running:
            return
        self._running = True
        for venue, syms in self._symbols.items():
            for symbol in syms:
                self._state(venue, symbol)
                self._tasks.append(asyncio.create_task(self._watch_book(venue, symbol),
                                                       name=f"md-book-{venue}-{symbol}"))
                self._tasks.append(asyncio.create_task(self._watch_trades(venue, symbol),
                                                       name=f"md-trades-{venue}-{symbol}"))
        self._tasks.append(asyncio.create_task(self._monitor(), name="md-staleness"))

    async def stop(self) -> None:
        self._running = False
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks.clear()

    async def wait_ready(self, symbols: Iterable[str] | None = None, timeout: float = 10.0) -> bool:
        """Wait until every watched (venue, symbol) of ``symbols`` has a fresh book."""
        wanted = set(symbols) if symbols is not None else None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            keys = [k for k in self._books if wanted is None or k[1] in wanted]
            if keys and all(self._is_fresh(k) for k in keys):
                return True
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.02)

    # -- queries -----------------------------------------------------------------------------
    def book(self, venue: str, symbol: str) -> BookSnapshot | None:
        st = self._books.get((venue, symbol))
        if st is None or st.updated_at is None:
            return None
        snap = st.materialize(self.config.depth)
        if snap is None:
            self._check((venue, symbol))
        return snap

    def is_stale(self, venue: str, symbol: str) -> bool:
        return not self._is_fresh((venue, symbol))

    def consolidated(self, symbol: str) -> ConsolidatedBook:
        quotes, stale = [], []
        for (venue, sym), st in self._books.items():
            if sym != symbol:
                continue
            snap = st.materialize(self.config.depth) if self._is_fresh((venue, sym)) else None
            if snap is not None:
                quotes.append(VenueQuote(snap, self.fees(venue, symbol)))
            else:
                if st.updated_at is not None:
                    self._check((venue, sym))   # logs an unusable book once
                stale.append(venue)
        quotes.sort(key=lambda q: q.venue)
        return ConsolidatedBook(symbol, tuple(quotes), tuple(sorted(stale)))

    def mid(self, symbol: str) -> Decimal | None:
        return self.consolidated(symbol).mid()

    def fees(self, venue: str, symbol: str) -> VenueFees:
        if venue in self._fees:
            return self._fees[venue]
        return self._venues[venue].fees_for(symbol)

    def volume_since(self, symbol: str, t: float, venue: str | None = None) -> Decimal:
        """Market volume printed at or after ``t`` (epoch seconds, venue time)."""
        return self.volume.volume_since(symbol, t, venue)

    def cumulative_volume(self, symbol: str) -> Decimal:
        return self.volume.cumulative(symbol)

    def last_price(self, symbol: str) -> Decimal | None:
        return self.volume.last_price(symbol)

    def on_trade(self, callback: Callable[[MarketTrade], None]) -> None:
        self._trade_callbacks.append(callback)

    # -- feeding (the watch loops; also usable directly) --------------------------------------
    def _state(self, venue: str, symbol: str) -> _BookState:
        st = self._books.get((venue, symbol))
        if st is None:
            st = self._books[(venue, symbol)] = _BookState(L2Book(venue, symbol))
        return st

    def feed_book(self, venue: str, symbol: str, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        """Install a full, synchronised picture of one venue's book."""
        st = self._state(venue, symbol)
        st.updated_at = self._wall.monotonic()
        st.pending = None
        st.book.replace(bids, asks, st.updated_at)
        st.resyncing = False
        self._check((venue, symbol))

    def feed_ccxt_book(self, venue: str, symbol: str, orderbook: Any) -> None:
        """ccxt.pro's synchronised book was updated; it is copied lazily (see materialize)."""
        st = self._state(venue, symbol)
        st.updated_at = self._wall.monotonic()
        st.pending = orderbook
        if st.resyncing or st.fresh is not True:
            unusable = st.resyncing and st.why.startswith("unusable")
            st.resyncing = False
            if unusable:   # still garbage? then stay out without logging a recovery
                st.materialize(self.config.depth)
            self._check((venue, symbol))

    def mark_resyncing(self, venue: str, symbol: str, why: str) -> None:
        st = self._state(venue, symbol)
        st.resyncing = True
        st.why = why
        self._check((venue, symbol))

    def feed_trade(self, trade: MarketTrade) -> None:
        if self.volume.add(trade):
            for cb in self._trade_callbacks:
                try:
                    cb(trade)
                except Exception:
                    self._log.exception("trade consumer failed")

    # -- staleness -----------------------------------------------------------------------------
    def _is_fresh(self, key: tuple[str, str]) -> bool:
        st = self._books.get(key)
        if st is None or st.resyncing or st.updated_at is None:
            return False
        return self._wall.monotonic() - st.updated_at <= self.config.stale_after_s

    def _check(self, key: tuple[str, str]) -> None:
        """Log a freshness transition once."""
        st = self._books[key]
        fresh = self._is_fresh(key)
        if fresh == st.fresh or (st.fresh is None and not fresh):
            return
        venue, symbol = key
        if fresh and st.fresh is None:
            self._log.info("market data: %s %s book live", venue, symbol)
        elif fresh:
            self._log.info("market data: %s %s book recovered; back in routing", venue, symbol)
        else:
            why = st.why if st.resyncing else f"no update for more than {self.config.stale_after_s}s"
            self._log.warning("market data: %s %s book stale (%s); excluded from routing",
                              venue, symbol, why)
        st.fresh = fresh

    async def _monitor(self) -> None:
        while self._running:
            for key in list(self._books):
                self._check(key)
            await asyncio.sleep(self.config.check_interval_s)

    # -- ccxt.pro loops -------------------------------------------------------------------------
    def _exchange(self, venue: str, symbol: str) -> Any:
        try:
            return self._venues[venue].exchange_for(symbol)
        except Exception as exc:
            self._log.error("market data: %s %s cannot be watched: %s", venue, symbol, exc)
            return None

    async def _watch_book(self, venue: str, symbol: str) -> None:
        async def step(ex: Any) -> None:
            self.feed_ccxt_book(venue, symbol, await ex.watch_order_book(symbol))

        def failed(exc: Exception) -> None:
            # ChecksumError (sequence gap) or a dropped connection: re-watch = re-snapshot
            self.mark_resyncing(venue, symbol, f"{type(exc).__name__}: {str(exc)[:160]}")

        await self._watch_loop(venue, symbol, step, failed)

    async def _watch_trades(self, venue: str, symbol: str) -> None:
        async def step(ex: Any) -> None:
            self._feed_ccxt_trades(venue, symbol, await ex.watch_trades(symbol))

        def failed(exc: Exception) -> None:
            self._log.debug("market data: %s %s trades: %s", venue, symbol, exc)

        await self._watch_loop(venue, symbol, step, failed)

    async def _watch_loop(self, venue: str, symbol: str,
                          step: Callable[[Any], Awaitable[None]],
                          failed: Callable[[Exception], None]) -> None:
        """Run ``step(exchange)`` (one ccxt.pro watch and its feed) while the hub runs. A
        failure goes to ``failed`` (how it is marked or logged is the caller's), then the loop
        waits an exponential backoff from ``retry_backoff_s`` up to ``MAX_RETRY_BACKOFF_S``
        before watching again (ccxt re-subscribes); a success resets the backoff."""
        ex = self._exchange(venue, symbol)
        if ex is None:
            return
        backoff = self.config.retry_backoff_s
        while self._running:
            try:
                await step(ex)
                backoff = self.config.retry_backoff_s
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failed(exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_RETRY_BACKOFF_S)

    def _feed_ccxt_trades(self, venue: str, symbol: str, trades: Iterable[Mapping]) -> None:
        for t in trades:
            try:
                qty = to_decimal_or_none(t.get("amount"))
                price = to_decimal_or_none(t.get("price"))
            except ValueError as exc:   # one bad print does not drop the batch
                self._log.debug("market data: %s %s trade skipped: %s", venue, symbol, exc)
                continue
            if qty is None or price is None:
                continue
            ts = t.get("timestamp")
            self.feed_trade(MarketTrade(venue, symbol, str(t.get("id")), price, qty,
                                        t.get("side"),
                                        ts / 1000.0 if ts else self._clock.now()))


def _configured_symbols(src: Any) -> tuple[str, ...]:
    """The venue's configured symbols; never every market a real exchange lists."""
    config = getattr(src, "config", None)
    if config is not None:
        return tuple(getattr(config, "symbols", ()) or ())
    return tuple(getattr(src, "symbols", ()) or ())


def _levels(side: Any, depth: int) -> list[Level]:
    out = []
    for entry in side[:depth]:
        out.append((to_decimal(entry[0]), to_decimal(entry[1])))
    return out

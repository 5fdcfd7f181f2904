"""The user-data stream of one venue account: order events in, kept complete.

``watch_orders`` (order states) and ``watch_my_trades`` (fills) feed the adapter's tracker,
which delivers each event once whichever path brought it. While a stream is down, a poll loop
runs the REST pass (:mod:`fixgw.venues.ccxt_reconcile`) in its place, and one more pass runs
when it comes back to cover the gap. Two ways ccxt loses events without failing a watch are
covered here too:

The stream's wake-up gap: ccxt wakes a pending watch only if its future is registered when a
message is handled (``Client.resolve`` drops the wake-up otherwise). A message handled between
one watch returning and the next one registering -- at least one loop iteration, more under
CPU load or while ``watch_*`` awaits authentication -- is parsed into ccxt's caches
(``orders``, ``myTrades``) but wakes nobody until the next message of that stream, which for
a filled last child may never come. So each stream loop also *sweeps* its cache: once right
after re-arming its watch, and every ``stream_sweep_s`` while the watch waits. A sweep reads
only what ccxt appended since the last read (the caches' own new-updates count, the one
``watch_*`` uses) and hands it to the same once-only delivery as the watch results.

The silent reconnect: ccxt fails a pending watch when the venue closes its connection, which
marks the stream down here. But a close handled while *no* watch is registered (the same
between-watches window) fails nothing; ccxt just forgets that client, and the next ``watch_*``
quietly dials a fresh connection and re-subscribes. Events the venue emitted in between
reached no connection and are gone from the stream. So the stream remembers which ccxt
connection its user-data watches were last known live on, and when a watch turns up armed on
another one it runs one REST catch-up pass (see :meth:`UserDataStream._check_connection`).
"""
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Callable

from fixgw.venues.ccxt_market import LINEAR
from fixgw.venues.ccxt_reconcile import RestReconciler
from fixgw.venues.errors import scrub
from fixgw.venues.tracking import STREAM

if TYPE_CHECKING:
    from fixgw.venues.ccxt_adapter import CcxtVenueAdapter


class UserDataStream:
    """The stream, sweep and poll loops of one adapter, per market kind. It shares the
    adapter's state (the same markets dict, tracker, stats, config, logger and secrets, not
    copies), converts ccxt structures with the adapter's converters, and stops when the
    adapter is closing."""

    def __init__(self, adapter: CcxtVenueAdapter, reconciler: RestReconciler):
        self._adapter = adapter
        self._reconciler = reconciler
        self._markets = adapter._markets
        self._tracker = adapter._tracker
        self._stats = adapter.stats
        self._config = adapter.config
        self._log = adapter._log
        self._secrets = adapter._secrets
        self._name = adapter.name
        # fills and updates only a cache sweep delivered: events whose stream wake-up was lost
        self.stream_gap_recoveries = 0
        # user-data connections replaced by ccxt without a failed watch, each caught up over REST
        self.stream_reconnects = 0

    def start(self, kind: str) -> None:
        """Start the order and trade watches and the poll loop of ``kind`` (an open market)."""
        self._markets[kind].tasks = self._watch_tasks(kind) + [
            asyncio.create_task(self._poll_loop(kind), name=f"{self._name}-{kind}-poll")]

    def _watch_tasks(self, kind: str) -> list[asyncio.Task]:
        return [
            asyncio.create_task(self._order_stream(kind), name=f"{self._name}-{kind}-orders"),
            asyncio.create_task(self.trade_stream(kind), name=f"{self._name}-{kind}-trades"),
        ]

    def _deliver_stream_order(self, kind: str, order: dict) -> str:
        """Deliver one order state from the stream (the tracker ignores orders not ours);
        returns its client order id."""
        update = self._adapter._order_update(kind, order)
        self._tracker.deliver_update(update, STREAM,
                                     lambda: self._adapter._cached_fills(kind, update.venue_order_id))
        return update.client_order_id

    # -- the stream's wake-up gap (module docstring) --------------------------------------------
    def _fresh(self, kind: str, name: str) -> list[dict]:
        """The entries of ccxt's ``name`` cache appended (or, orders, updated and moved to the
        end) since the last read by a sweep or a watch: ccxt's newUpdates count, read with
        the cache's own ``getLimit`` like ``watch_*`` does. ccxt resets that count lazily (on
        the next append), so an unchanged count re-reads the same entries: those are skipped
        by identity of their ``info`` (ccxt stores each message's own dict there)."""
        market = self._markets[kind]
        cache = getattr(market.exchange, name, None)
        if not cache:
            return []
        get_limit = getattr(cache, "getLimit", None)
        if get_limit is None:
            entries = list(cache)
        else:
            count = get_limit(None, None)
            if not count:
                return []
            entries = cache[-count:]
        mark = [e.get("info") for e in entries]
        seen = market.sweep_marks.get(name)
        if seen is not None and len(seen) == len(mark) and all(a is b for a, b in zip(seen, mark)):
            return []
        market.sweep_marks[name] = mark
        return entries

    def _mark_read(self, kind: str, name: str, entries: list[dict]) -> None:
        """What a watch returned (and was just delivered, in the same step) is what the next
        sweep would re-read if nothing was appended since: spare it the second conversion."""
        self._markets[kind].sweep_marks[name] = [e.get("info") for e in entries]

    def _sweep_orders(self, kind: str) -> None:
        for order in self._fresh(kind, "orders"):
            before = self._stream_events()
            client_order_id = self._deliver_stream_order(kind, order)
            self._gap_recovered(kind, before, client_order_id)

    def _sweep_trades(self, kind: str) -> None:
        for trade in self._fresh(kind, "myTrades"):
            fill = self._adapter._fill(kind, trade)
            before = self._stream_events()
            self._tracker.deliver_fill(fill, STREAM)
            self._gap_recovered(kind, before, fill.client_order_id)

    def _stream_events(self) -> int:
        return self._stats.fills_from_stream + self._stats.updates_from_stream

    def _gap_recovered(self, kind: str, before: int, client_order_id: str) -> None:
        recovered = self._stream_events() - before
        if recovered:
            self.stream_gap_recoveries += recovered
            self._log.debug("%s: %d %s event(s) of %s delivered from ccxt's cache "
                            "(stream wake-up lost)", self._name, recovered, kind, client_order_id)

    async def _await_sweeping(self, kind: str, watch: asyncio.Future,
                              sweep: Callable[[str], None]) -> Any:
        """The result of the pending ``watch``, sweeping ccxt's cache meanwhile: first as soon
        as the watch has had its first step to register its future (what was handled before
        that woke nobody), then every ``stream_sweep_s`` (it may await before it registers,
        e.g. authentication). The sweeps run as loop callbacks, so the loop still awaits the
        watch itself and resumes as soon as it returns (no extra loop iterations before the
        next re-arm, which would widen the very gap this covers)."""
        loop = asyncio.get_running_loop()

        def tick() -> None:
            nonlocal handle
            if watch.done():
                return
            try:
                sweep(kind)
                self._check_connection(kind)
            except Exception:   # a sweep bug must not stop the stream or later sweeps
                self._log.exception("%s: %s cache sweep failed", self._name, kind)
            handle = loop.call_later(self._config.stream_sweep_s, tick)

        handle = loop.call_soon(tick)   # runs after the watch task's first step
        try:
            return await watch
        finally:
            handle.cancel()

    # -- stream and polling loops ---------------------------------------------------------------
    def _set_stream(self, kind: str, up: bool, why: str = "") -> None:
        market = self._markets.get(kind)
        if market is None or market.stream_up == up:
            return
        market.stream_up = up
        if up:
            self._log.info("%s: %s user-data stream up; stream delivers order events", self._name, kind)
        else:
            self._stats.stream_downs += 1
            self._log.warning("%s: %s user-data stream down (%s); polling REST every %.2fs",
                              self._name, kind, why, self._config.poll_interval_s)

    def _ws_alive(self, kind: str) -> bool:
        ex = self._markets[kind].exchange
        for client in list(getattr(ex, "clients", {}).values()):
            conn = getattr(client, "connection", None)
            if conn is not None and not client.closed() and client.connected.done():
                if "ws-api" in client.url or "listenKey" in client.url or "private" in client.url:
                    return True
        return False

    # -- the silent reconnect (module docstring) ------------------------------------------------
    def _armed_connection(self, kind: str) -> Any | None:
        """The ccxt client a user-data watch (``orders`` / ``myTrades``) is registered on, once
        its connection is open; None while a watch is being (re)armed or authenticated.

        Why a registered watch, not a URL: for spot, ``watch_*`` registers its future only
        after the ws-api ``userDataStream.subscribe`` was acknowledged, and for the listenKey
        stream the open socket is the subscription -- so "registered and connected" means the
        venue is sending this account's events to that connection from now on. Why the client
        object as the connection's identity: ccxt dials a client at most once and drops it
        from ``exchange.clients`` when its connection closes, so a reconnect is always a new
        object (kept by reference, not ``id()``, which a collected client could hand on)."""
        ex = self._markets[kind].exchange
        for client in list((getattr(ex, "clients", None) or {}).values()):
            futures = getattr(client, "futures", None) or {}
            if not any(h in futures and not futures[h].done() for h in ("orders", "myTrades")):
                continue
            connected = getattr(client, "connected", None)
            if connected is not None and connected.done() and not client.closed():
                return client
        return None

    def _check_connection(self, kind: str) -> None:
        """While the stream counts as up, a user-data watch armed on a connection other than
        the one last caught up means ccxt reconnected without failing a watch (the venue
        closed the old one between two watches): what the venue sent in between reached no
        connection, so one REST pass over our live orders catches up (the tracker drops
        whatever the stream also delivers). Runs right after every (re)arm and every sweep
        period (the sweep tick) and every poll period: a watch that *returns* cannot be
        attributed to a connection (ccxt has already dropped its future), but the next arm
        follows at once. No connection was caught up yet (the stream came up on a returned
        watch, not through the settle check): catch up too, quietly."""
        market = self._markets.get(kind)
        if market is None or not market.stream_up:
            return   # down: the poll loop covers, and the settle check catches up on recovery
        conn = self._armed_connection(kind)
        if conn is None or conn is market.live_conn:
            return
        previous, market.live_conn = market.live_conn, conn
        why = "stream connected"
        if previous is not None:
            why = "stream reconnected"
            self.stream_reconnects += 1
            self._log.info("%s: %s user-data stream reconnected without a failed watch (venue "
                           "closed the connection between watches); catching up over REST",
                           self._name, kind)
        market.catch_up_why = why
        if market.catch_up is None or market.catch_up.done():
            market.catch_up = asyncio.create_task(self._catch_up(kind),
                                                  name=f"{self._name}-{kind}-catch-up")

    async def _catch_up(self, kind: str) -> None:
        """Run the due catch-up passes (another may fall due while one runs). A failed pass
        hands over to the stream-down path: polling until the restarted watch settles, which
        catches up again."""
        market = self._markets[kind]
        while market.catch_up_why is not None and not self._adapter._closing:
            why, market.catch_up_why = market.catch_up_why, None
            try:
                await self._reconciler.reconcile(kind, why)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._set_stream(kind, False, f"{why}, catch-up failed: " + scrub(
                    f"{type(exc).__name__}: {exc}", self._secrets)[:200])
                self._restart_streams(kind)
                return

    async def _order_stream(self, kind: str) -> None:
        ex = self._markets[kind].exchange
        backoff = 0.1
        while not self._adapter._closing:
            fut = asyncio.ensure_future(ex.watch_orders())
            try:
                if not self._markets[kind].stream_up:
                    done, _ = await asyncio.wait({fut}, timeout=self._config.stream_settle_s)
                    if not done and self._ws_alive(kind):
                        self._set_stream(kind, True)
                        # this pass covers the connection the watch is armed on
                        self._markets[kind].live_conn = self._armed_connection(kind)
                        await self._reconciler.reconcile(kind, "stream recovered")
                orders = await self._await_sweeping(kind, fut, self._sweep_orders)
                if not self._markets[kind].stream_up:
                    self._set_stream(kind, True)
                for order in orders:
                    self._deliver_stream_order(kind, order)
                self._mark_read(kind, "orders", orders)
                backoff = 0.1
            except asyncio.CancelledError:
                fut.cancel()
                raise
            except Exception as exc:
                fut.cancel()
                if self._adapter._closing:
                    return
                self._set_stream(kind, False, scrub(f"{type(exc).__name__}: {exc}", self._secrets)[:200])
                self._forget_listen_key(kind)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    def _forget_listen_key(self, kind: str) -> None:
        """Make ccxt fetch a fresh listenKey on the next watch: after a venue restart (or an
        expired key) the cached one would be refused forever."""
        if kind != LINEAR:
            return
        for bucket in self._markets[kind].exchange.options.values():
            if isinstance(bucket, dict) and "lastAuthenticatedTime" in bucket:
                bucket["lastAuthenticatedTime"] = 0

    async def trade_stream(self, kind: str) -> None:
        """Fills from ``watch_my_trades``. A failure is retried with backoff (0.1 s doubling to
        5 s); the first failure of an outage is logged at WARNING (venue, error class, the
        scrubbed message) and the end of the outage at INFO, so an outage is visible in the
        log without one line per retry."""
        market = self._markets[kind]
        ex = market.exchange
        backoff = 0.1
        while not self._adapter._closing:
            if not market.stream_up:
                # the orders loop owns (re)connecting; a second concurrent subscriber makes
                # ccxt leave an unawaited future behind on every failed attempt
                await asyncio.sleep(0.05)
                continue
            fut = asyncio.ensure_future(ex.watch_my_trades())
            try:
                if market.trade_failures:
                    # a watch only returns on the next fill: one that stays pending on a live
                    # connection for the settle time is a working subscription
                    done, _ = await asyncio.wait({fut}, timeout=self._config.stream_settle_s)
                    if not done and self._ws_alive(kind):
                        self._trade_stream_recovered(kind)
                trades = await self._await_sweeping(kind, fut, self._sweep_trades)
                self._trade_stream_recovered(kind)
                for trade in trades:
                    self._tracker.deliver_fill(self._adapter._fill(kind, trade), STREAM)
                self._mark_read(kind, "myTrades", trades)
                backoff = 0.1
            except asyncio.CancelledError:
                fut.cancel()
                raise
            except Exception as exc:
                fut.cancel()
                if self._adapter._closing:
                    return
                self._trade_stream_failed(kind, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    def _trade_stream_failed(self, kind: str, exc: Exception) -> None:
        market = self._markets[kind]
        if market.trade_failures == 0:
            self._log.warning("%s: %s trade stream failed (%s: %s); retrying with backoff",
                              self._name, kind, type(exc).__name__,
                              scrub(str(exc), self._secrets)[:200])
        market.trade_failures += 1

    def _trade_stream_recovered(self, kind: str) -> None:
        market = self._markets[kind]
        if market.trade_failures:
            self._log.info("%s: %s trade stream recovered after %d failed attempt(s)",
                           self._name, kind, market.trade_failures)
            market.trade_failures = 0

    async def _poll_loop(self, kind: str) -> None:
        """REST stands in for the stream while it is down. While it is up, a check of the
        connection: none open (it vanished without ccxt failing the pending watch, or closed
        between two watches and the next is not connected yet) marks it down; an open one
        other than the last caught up is a silent reconnect (:meth:`_check_connection`, which
        the sweep tick runs far more often; this is the backstop)."""
        while not self._adapter._closing:
            await asyncio.sleep(self._config.poll_interval_s)
            market = self._markets[kind]
            if market.stream_up and not self._ws_alive(kind):
                # the connection vanished without ccxt failing the pending watch: restart it
                self._set_stream(kind, False, "user-data connection lost")
                self._restart_streams(kind)
            self._check_connection(kind)
            if not market.stream_up or self._reconciler.holding(kind):
                try:
                    await self._reconciler.reconcile(kind, "stream down" if not market.stream_up
                                          else "held order updates")
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self._log.warning("%s: poll failed: %s", self._name,
                                      scrub(f"{type(exc).__name__}: {exc}", self._secrets)[:300])

    def _restart_streams(self, kind: str) -> None:
        market = self._markets[kind]
        for task in market.tasks[:2]:
            task.cancel()
        market.tasks[:2] = self._watch_tasks(kind)

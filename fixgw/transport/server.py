"""The asyncio side: accept TCP (optionally TLS) connections and pump bytes into the cores.

No protocol logic lives here. Per connection it feeds received bytes to a
:class:`ConnectionCore`, arms one timer at the core's ``next_deadline()``, and pauses reading
when the core asks (inbound rate limit).

Replies to a connection's input are committed and written at once, inside its
``data_received``; whatever else the cores produced in a turn (``SessionHandle.send`` calls,
timers) is written by :class:`OutputPump` at the end of the turn after **one** store commit;
the message logs follow at most 50 ms later, from a writer thread. The commit comes *before* the bytes
go to the sockets, so nothing a counterparty has received can be lost or renumbered by a crash.
"""
from __future__ import annotations

import asyncio
import gc as _gc
import logging
import ssl
from time import monotonic as _monotonic
from typing import Callable

from fixgw.clock import Clock
from fixgw.session.acceptor import Acceptor, ConnectionCore
from fixgw.session.config import Limits, TlsConfig

log = logging.getLogger("fixgw.transport")

_CHECKSUM_FIELD = b"\x0110="            # the last field of every message
_CHECKSUM_FIELD_LENGTH = len(b"\x0110=000\x01")


class OutputPump:
    """Commits the store, writes every connection's pending output, then flushes the logs."""

    LOG_INTERVAL_S = 0.05

    def __init__(self, commit: Callable[[], None], flush_logs: Callable[[], None],
                 format_logs: Callable[[], None] = lambda: None,
                 after_writes: Callable[[], None] = lambda: None) -> None:
        self._commit = commit
        self._flush_logs = flush_logs
        self._format_logs = format_logs
        self._after_writes = after_writes
        self._scheduled = False
        self._log_flush_scheduled = False
        self._next_log_flush = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self.connections: set["FixConnection"] = set()

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def request(self) -> None:
        if not self._scheduled and self._loop is not None:
            self._scheduled = True
            self._loop.call_soon(self.flush)

    def _commit_or_abort_all(self) -> None:
        try:
            self._commit()
        except Exception:
            # Never write what could not be made durable: drop every connection instead.
            log.exception("store commit failed; closing all connections")
            for conn in list(self.connections):
                conn.abort()
            raise

    def reply_now(self, conn: "FixConnection") -> None:
        """Commit and write one connection's replies at once, inside its ``data_received``.

        Why not wait for the end of the turn: a commit is one journal append (a few us), so
        batching it buys little, while the hop through ``call_soon`` costs a loop iteration on
        every lone message. The turn's :meth:`flush` still runs for everything else (other
        connections' output, the logs)."""
        self._commit_or_abort_all()
        conn.write_pending()
        self.request()

    def flush(self) -> None:
        self._scheduled = False
        self._commit_or_abort_all()
        for conn in list(self.connections):
            conn.write_pending()
        # Background work goes right after the writes, the moment a counterparty is least
        # likely to be waiting: a message arriving while the log writer thread holds the GIL,
        # or the store's applier process the CPU, waits for it. The logs are formatted now
        # and handed to their writer thread at most every LOG_INTERVAL_S; a timer covers a
        # turn that ends the traffic. Then the store's applier is told how far it may apply.
        self._format_logs()
        now = _monotonic()
        if now >= self._next_log_flush:
            self._next_log_flush = now + self.LOG_INTERVAL_S
            self._flush_logs()
        elif not self._log_flush_scheduled and self._loop is not None:
            self._log_flush_scheduled = True
            self._loop.call_later(2 * self.LOG_INTERVAL_S, self._flush_logs_now)
        self._after_writes()

    def _flush_logs_now(self) -> None:
        self._log_flush_scheduled = False
        self._flush_logs()

    def flush_all(self) -> None:
        """Commit, write, and flush the logs now (shutdown)."""
        self.flush()
        self._flush_logs()


class FixConnection(asyncio.Protocol):
    def __init__(self, acceptor: Acceptor, pump: OutputPump, clock: Clock, limits: Limits) -> None:
        self._acceptor = acceptor
        self._pump = pump
        self._clock = clock
        self._limits = limits
        self._transport: asyncio.Transport | None = None
        self._core: ConnectionCore | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = float("inf")
        self._loop = asyncio.get_running_loop()
        self._closing = False
        self._resume_handle: asyncio.TimerHandle | None = None
        self._paused = False

    # ---- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        peer_text = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        core = self._acceptor.new_connection(self._clock.now(), peer_text)
        if core is None:
            transport.abort()
            return
        self._core = core
        self._pump.connections.add(self)
        self._arm()

    def data_received(self, data: bytes) -> None:
        # No cyclic-GC pause between a message's arrival and its reply: a collection due
        # meanwhile runs at the next allocation after this returns, once the reply is written
        # (a young-generation pass is ~40 us, and fell inside ~1 in 130 replies at 1,000/s).
        if _gc.isenabled():
            _gc.disable()
            try:
                self._feed_in_groups(data)
            finally:
                _gc.enable()
        else:
            self._feed_in_groups(data)

    # A read holding more messages than this is fed in groups of this many, each group's
    # replies committed and written before the next group is processed.
    REPLY_GROUP = 4

    def _feed_in_groups(self, data: bytes) -> None:
        """Feed ``data``, answering every :data:`REPLY_GROUP` messages.

        Why: a burst (a client that fell behind, a basket of orders) arrives as one read. Fed
        whole, every message in it would wait for the last one's processing before any reply
        goes out; answered in groups, the first replies leave after a few messages' work. A
        group costs one more store commit and socket write, so small groups would cut the
        throughput of a saturated link; four messages keeps that cost to ~2 us a message.
        Splitting only chooses where to cut the byte stream (the framer reassembles any
        cut), so a garbled stream is handled exactly as before."""
        first = data.find(_CHECKSUM_FIELD)
        if first < 0 or first + _CHECKSUM_FIELD_LENGTH >= len(data):
            self._feed(data)                    # at most one message: the usual read
            return
        start, end = 0, self._group_end(data, 0)
        while end < len(data) and not (self._closing or self._paused):
            self._feed(data[start:end])
            start, end = end, self._group_end(data, end)
        self._feed(data[start:])

    @classmethod
    def _group_end(cls, data: bytes, position: int) -> int:
        """Where the group of messages starting at ``position`` ends (or the data does)."""
        for _ in range(cls.REPLY_GROUP):
            mark = data.find(_CHECKSUM_FIELD, position)
            if mark < 0:
                return len(data)
            position = mark + _CHECKSUM_FIELD_LENGTH
        return min(position, len(data))

    def _feed(self, data: bytes) -> None:
        core = self._core
        if core is None or self._closing:
            return
        try:
            pause = core.data_received(data, self._clock.now())
        except Exception:
            # A bug of ours: drop this connection only; every other session carries on.
            log.exception("internal error on connection from %s; closing it", core.peer)
            self._pump.request()
            self.abort()
            return
        if core.pending:
            try:
                self._pump.reply_now(self)
            except Exception:
                return   # logged by the pump, every connection dropped
            if self._closing:
                return
        else:
            # Input that produced no output (a Heartbeat, an order the application answers
            # later) still moved a sequence number: the turn's pump commits it.
            self._pump.request()
            self._arm()
        transport = self._transport
        if transport is None:
            return
        if pause > 0:   # inbound rate limit: stop reading, come back for the backlog
            if not self._paused:
                transport.pause_reading()
                self._paused = True
            if self._resume_handle is not None:
                self._resume_handle.cancel()
            self._resume_handle = self._loop.call_later(pause, self._resume)
        elif self._paused:
            self._paused = False
            transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._resume_handle is not None:
            self._resume_handle.cancel()
            self._resume_handle = None
        self._pump.connections.discard(self)
        if self._core is not None:
            self._core.connection_lost(self._clock.now())
            self._pump.request()  # persist what the disconnect changed (resets, logs)

    # ---- driven by the pump and the timer
    def write_pending(self) -> None:
        core = self._core
        transport = self._transport
        if core is None or transport is None or self._closing or not core.pending:
            return
        data, close = core.take_output()
        if data:
            transport.write(data)
            if transport.get_write_buffer_size() > self._limits.max_write_buffer_bytes:
                log.warning("peer %s does not read; closing", core.peer)
                core.close_from_gateway(self._clock.now())
                self.abort()
                return
        if close:
            self._closing = True
            transport.close()
        else:
            self._arm()

    def abort(self) -> None:
        self._closing = True
        if self._transport is not None:
            self._transport.abort()

    def _resume(self) -> None:
        self._resume_handle = None
        if not self._closing:
            self._feed(b"")

    def _arm(self) -> None:
        core = self._core
        if core is None or self._closing:
            return
        deadline = core.next_deadline()
        if deadline is None:
            return
        if self._timer is not None and self._timer_at <= deadline + 1e-3:
            return  # the armed timer fires first; on_timer re-arms
        if self._timer is not None:
            self._timer.cancel()
        delay = max(0.0, deadline - self._clock.now())
        self._timer_at = deadline
        self._timer = self._loop.call_later(delay + 0.001, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = float("inf")
        core = self._core
        if core is None or self._closing:
            return
        try:
            core.on_timer(self._clock.now())
        except Exception:
            log.exception("internal error in a timer of %s; closing it", core.peer)
            self.abort()
        self._pump.request()
        self._arm()


def make_ssl_context(tls: TlsConfig) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(tls.cert_file), str(tls.key_file))
    if tls.client_ca_file is not None:
        ctx.load_verify_locations(str(tls.client_ca_file))
        ctx.verify_mode = ssl.CERT_REQUIRED if tls.require_client_cert else ssl.CERT_OPTIONAL
    return ctx


async def start_server(host: str, port: int, acceptor: Acceptor, pump: OutputPump, clock: Clock,
                       limits: Limits, tls: TlsConfig | None = None) -> asyncio.AbstractServer:
    loop = asyncio.get_running_loop()
    pump.attach(loop)
    ssl_ctx = make_ssl_context(tls) if tls is not None else None
    return await loop.create_server(lambda: FixConnection(acceptor, pump, clock, limits),
                                    host, port, ssl=ssl_ctx, reuse_address=True,
                                    backlog=1024)

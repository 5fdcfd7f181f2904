"""Websocket fan-out: one writer task per connection, a per-message added latency, and a hub
that maps stream names to subscribed connections so each message is serialised once."""
from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from aiohttp import web

log = logging.getLogger("fixgw.sim.streams")

# A consumer this far behind (messages, or bytes queued) is disconnected, as Binance drops slow
# clients: a stalled peer must not make the venue buffer without bound.
MAX_BACKLOG = 50_000
MAX_BACKLOG_BYTES = 8 * 1024 * 1024


def dumps(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"))


class StreamConn:
    def __init__(self, ws: web.WebSocketResponse, latency_ms: float, combined: bool = False) -> None:
        self.ws = ws
        self.latency = latency_ms / 1000.0
        self.combined = combined
        self.streams: set[str] = set()
        self.queue: asyncio.Queue[tuple[float, str] | None] = asyncio.Queue()
        self.task = asyncio.get_running_loop().create_task(self._writer())
        self.closed = False
        self.subscription_id: int | None = None     # ws-api user data stream
        self.account: str | None = None
        self.backlog_bytes = 0

    def send(self, text: str, latency: float | None = None) -> None:
        """Queue ``text``; it leaves after the connection's stream latency (or ``latency`` s)."""
        if self.closed:
            return
        if self.queue.qsize() > MAX_BACKLOG or self.backlog_bytes > MAX_BACKLOG_BYTES:
            log.warning("dropping slow websocket consumer (%d messages, %d bytes behind)",
                        self.queue.qsize(), self.backlog_bytes)
            self.closed = True
            self._drain()
            asyncio.get_running_loop().create_task(self.ws.close())
            return
        self.backlog_bytes += len(text)
        self.queue.put_nowait((time.monotonic() + (self.latency if latency is None else latency), text))

    def send_stream(self, name: str, raw: str) -> None:
        self.send(f'{{"stream":"{name}","data":{raw}}}' if self.combined else raw)

    async def _writer(self) -> None:
        try:
            while True:
                item = await self.queue.get()
                if item is None:
                    return
                due, text = item
                self.backlog_bytes -= len(text)
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                await self.ws.send_str(text)
        except (ConnectionResetError, RuntimeError, asyncio.CancelledError):
            pass
        except Exception:  # noqa: BLE001 - a broken socket must not take the venue down
            log.debug("websocket writer ended", exc_info=True)
        finally:
            self.closed = True

    def _drain(self) -> None:
        """Free what a dropped consumer will never read (the writer is told to stop)."""
        while not self.queue.empty():
            self.queue.get_nowait()
        self.backlog_bytes = 0
        self.queue.put_nowait(None)

    async def close(self) -> None:
        self.closed = True
        self.queue.put_nowait(None)
        try:
            await asyncio.wait_for(self.task, 1.0)
        except (asyncio.TimeoutError, asyncio.CancelledError):
            self.task.cancel()


class Hub:
    """Stream name -> connections. ``wants`` lets producers skip formatting unwatched data."""

    def __init__(self) -> None:
        self.subs: dict[str, set[StreamConn]] = {}

    def subscribe(self, conn: StreamConn, name: str) -> None:
        self.subs.setdefault(name, set()).add(conn)
        conn.streams.add(name)

    def unsubscribe(self, conn: StreamConn, name: str) -> None:
        s = self.subs.get(name)
        if s is not None:
            s.discard(conn)
            if not s:
                del self.subs[name]
        conn.streams.discard(name)

    def drop(self, conn: StreamConn) -> None:
        for name in list(conn.streams):
            self.unsubscribe(conn, name)

    def wants(self, name: str) -> bool:
        return name in self.subs

    def publish(self, name: str, payload: Any) -> int:
        conns = self.subs.get(name)
        if not conns:
            return 0
        raw = dumps(payload)
        for c in list(conns):
            c.send_stream(name, raw)
        return len(conns)


async def open_stream(request: web.Request, latency_ms: float, combined: bool = False
                      ) -> tuple[web.WebSocketResponse, StreamConn]:
    ws = web.WebSocketResponse(heartbeat=None, autoping=True, max_msg_size=1 << 20)
    await ws.prepare(request)
    return ws, StreamConn(ws, latency_ms, combined)

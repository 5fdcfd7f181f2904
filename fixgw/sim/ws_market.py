"""Public websocket streams: SUBSCRIBE handling and the publishers of depth diffs (with
Binance's U/u/pu sequencing), trades, tickers, book tickers and futures mark prices."""
from __future__ import annotations

import json
import logging

from aiohttp import WSMsgType, web

from . import wire
from .engine import Exchange
from .protocol import Trade
from .rest_market import MarketDataApi
from .spec import VenueSpec
from .streams import Hub, StreamConn, dumps, open_stream
from .wire import fmt

log = logging.getLogger("fixgw.sim.ws_market")
DEPTH_SUFFIXES = ("@depth", "@depth@100ms", "@depth@250ms", "@depth@500ms", "@depth@1000ms")
ZERO = wire.ZERO


class MarketStreams:
    def __init__(self, exchange: Exchange, spec: VenueSpec, market_api: MarketDataApi) -> None:
        self.exchange = exchange
        self.spec = spec
        self.market_api = market_api
        self.spot_hub = Hub()
        self.futures_hub = Hub()
        self.conns: set[StreamConn] = set()
        self.depth_messages_sent = 0
        self._last_bbo: dict[str, tuple] = {}
        exchange.trade_listeners.append(self._on_trade)

    def now_ms(self) -> int:
        return self.exchange.now_ms()

    async def _open(self, request: web.Request, combined: bool = False) -> tuple[web.WebSocketResponse, StreamConn]:
        ws, conn = await open_stream(request, self.spec.stream_latency_ms, combined)
        self.conns.add(conn)
        return ws, conn

    def handler(self, hub: Hub):
        """aiohttp handler for a market-data endpoint backed by ``hub``."""
        return self._market_ws(hub)

    def _on_trade(self, trade: Trade) -> None:
        m = self.exchange.markets[trade.symbol]
        hub = self.futures_hub if m.is_perp else self.spot_hub
        low = m.symbol.lower()
        now = self.now_ms()
        if hub.wants(low + "@trade"):
            hub.publish(low + "@trade", wire.trade_event(m, trade, now))
        if hub.wants(low + "@aggTrade"):
            hub.publish(low + "@aggTrade", wire.agg_trade_event(m, trade, now))

    # --- periodic publishers -------------------------------------------------------------

    def flush_depth(self) -> None:
        now = self.now_ms()
        for mid, book in self.exchange.books.items():
            diff = book.take_diff()
            m = self.exchange.markets[mid]
            hub = self.futures_hub if m.is_perp else self.spot_hub
            low = m.symbol.lower()
            if diff is not None:
                msg = None
                for suffix in DEPTH_SUFFIXES:
                    name = low + suffix
                    if hub.wants(name):
                        msg = msg or wire.depth_update(m, diff, now)
                        self.depth_messages_sent += hub.publish(name, msg)
            if hub.wants(low + "@bookTicker"):
                b, a = book.depth(1)
                bbo = (b[0] if b else (ZERO, ZERO), a[0] if a else (ZERO, ZERO))
                if self._last_bbo.get(mid) != bbo:
                    self._last_bbo[mid] = bbo
                    hub.publish(low + "@bookTicker", {"e": "bookTicker", "u": book.update_id, "E": now, "T": now,
                                                      "s": m.symbol, "b": fmt(bbo[0][0]), "B": fmt(bbo[0][1]),
                                                      "a": fmt(bbo[1][0]), "A": fmt(bbo[1][1])})

    def publish_tickers(self) -> None:
        now = self.now_ms()
        for mid, m in self.exchange.markets.items():
            hub = self.futures_hub if m.is_perp else self.spot_hub
            low = m.symbol.lower()
            if hub.wants(low + "@miniTicker"):
                hub.publish(low + "@miniTicker", wire.mini_ticker(m, self.exchange.stats[mid],
                                                                  self.spec.reference_price(mid), now))
            if hub.wants(low + "@ticker"):
                hub.publish(low + "@ticker", wire.ticker_event(self.market_api._ticker(m), now))
            if m.is_perp:
                for name in (low + "@markPrice", low + "@markPrice@1s"):
                    if hub.wants(name):
                        hub.publish(name, {"e": "markPriceUpdate", "E": now, "s": m.symbol,
                                           "p": fmt(self.exchange.mark_price(mid)), "i": fmt(self.exchange.index_price(mid)),
                                           "P": fmt(self.exchange.index_price(mid)),
                                           "r": fmt(self.exchange.funding_rates[mid]), "T": self.exchange.next_funding_ms})

    def _market_ws(self, hub: Hub):
        async def handler(request: web.Request) -> web.WebSocketResponse:
            streams_q = request.query.get("streams")
            ws, conn = await self._open(request, combined=bool(streams_q))
            initial = streams_q.split("/") if streams_q else []
            n = request.match_info.get("n")
            if n and "@" in n:
                initial.append(n)
            for name in initial:
                hub.subscribe(conn, name)
            try:
                async for msg in ws:
                    if msg.type != WSMsgType.TEXT:
                        continue
                    self._market_control(hub, conn, msg.data)
            finally:
                hub.drop(conn)
                self.conns.discard(conn)
                await conn.close()
            return ws
        return handler

    def _market_control(self, hub: Hub, conn: StreamConn, text: str) -> None:
        try:
            req = json.loads(text)
            method, rid = req.get("method"), req.get("id")
            params = req.get("params") or []
        except (ValueError, AttributeError):
            conn.send(dumps({"error": {"code": 3, "msg": "Invalid JSON: expected value at line 1 column 1"}}))
            return
        if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
            conn.send(dumps({"error": {"code": 2, "msg": "Invalid request: 'params' must be a list of stream names"},
                             "id": rid}))
            return
        if method == "SUBSCRIBE":
            for name in params:
                hub.subscribe(conn, str(name))
            conn.send(dumps({"result": None, "id": rid}))
        elif method == "UNSUBSCRIBE":
            for name in params:
                hub.unsubscribe(conn, str(name))
            conn.send(dumps({"result": None, "id": rid}))
        elif method == "LIST_SUBSCRIPTIONS":
            conn.send(dumps({"result": sorted(conn.streams), "id": rid}))
        else:
            conn.send(dumps({"error": {"code": 2, "msg": f"Invalid request: unknown method {method!r}"}, "id": rid}))

    async def close_all(self) -> None:
        for c in list(self.conns):
            await c.close()
            await c.ws.close()

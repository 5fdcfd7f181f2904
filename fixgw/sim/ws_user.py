"""Private streams: the spot ws-api (user-data subscription by signature, order.place /
order.cancel / ... mapped onto the REST handlers), the futures ws-api, and the futures
listenKey user stream; engine executions and balance changes become executionReport /
outboundAccountPosition / ORDER_TRADE_UPDATE / ACCOUNT_UPDATE events."""
from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from typing import Callable

from aiohttp import WSMsgType, web

from . import errors as E
from . import wire
from .auth import check_timestamp, verify_signature, ws_payload
from .engine import Exchange, Execution
from .futures import ISOLATED
from .params import Params, Route, text as _text
from .ratelimit import RateLimiter
from .spec import VenueSpec
from .streams import StreamConn, dumps, open_stream
from .wire import fmt, fmt8

log = logging.getLogger("fixgw.sim.ws_user")


class UserStreams:
    def __init__(self, exchange: Exchange, spec: VenueSpec, routes: list[Route], limiter: RateLimiter,
                 account_for: Callable[[str | None], tuple[str, str]], listen_keys: dict[str, str]) -> None:
        self.exchange = exchange
        self.spec = spec
        self.routes = routes
        self.limiter = limiter
        self._account_for = account_for
        self.listen_keys = listen_keys                 # futures listenKey -> account
        self.spot_listen_keys: dict[str, str] = {}      # legacy spot listenKey -> account
        self.spot_users: dict[str, set[StreamConn]] = {}
        self.futures_users: dict[str, set[StreamConn]] = {}
        self.conns: set[StreamConn] = set()
        self._sub_ids = 0
        exchange.execution_listeners.append(self._on_execution)
        exchange.balance_listeners.append(self._on_balance)

    def now_ms(self) -> int:
        return self.exchange.now_ms()

    async def _open(self, request: web.Request) -> tuple[web.WebSocketResponse, StreamConn]:
        ws, conn = await open_stream(request, self.spec.stream_latency_ms)
        self.conns.add(conn)
        return ws, conn

    def new_spot_listen_key(self, account: str) -> dict:
        for key, acct in self.spot_listen_keys.items():
            if acct == account:
                return {"listenKey": key}
        key = secrets.token_urlsafe(48)[:60]
        self.spot_listen_keys[key] = account
        return {"listenKey": key}

    def spot_ws_api(self):
        return self._ws_api_handler(self.WS_API_METHODS)

    def futures_ws_api(self):
        return self._ws_api_handler(self.WS_FAPI_METHODS)

    def futures_user_stream(self):
        return self._futures_user_ws

    def _on_execution(self, ex: Execution) -> None:
        acct = ex.order.account
        if ex.order.market.is_perp:
            conns = self.futures_users.get(acct)
            if conns:
                raw = dumps(wire.order_trade_update(ex, self.now_ms()))
                for c in list(conns):
                    c.send(raw)
        else:
            conns = self.spot_users.get(acct)
            if conns:
                self._send_spot(conns, wire.execution_report(ex, self.now_ms()))

    def _on_balance(self, account: str, kind: str, items: set) -> None:
        now = self.now_ms()
        if kind == "spot":
            conns = self.spot_users.get(account)
            if not conns:
                return
            bal = self.exchange.spot.balances[account]
            self._send_spot(conns, {"e": "outboundAccountPosition", "E": now, "u": now,
                                    "B": [{"a": a, "f": fmt(bal[a].free), "l": fmt(bal[a].locked)}
                                          for a in sorted(items) if a in bal]})
            return
        conns = self.futures_users.get(account)
        if not conns:
            return
        c_raw = dumps(self._account_update(account, items, now))
        for c in list(conns):
            c.send(c_raw)

    @staticmethod
    def _send_spot(conns: set[StreamConn], event: dict) -> None:
        """ws-api subscribers get the event wrapped with their subscription id; legacy listenKey
        connections (``/ws/<listenKey>``) get it bare."""
        raw = dumps(event)
        for c in list(conns):
            if c.subscription_id is None:
                c.send(raw)
            else:
                c.send(f'{{"subscriptionId":{c.subscription_id},"event":{raw}}}')

    def _account_update(self, account: str, market_ids: set, now: int) -> dict:
        ex, fut = self.exchange, self.exchange.futures
        wallet = fut.wallet(account)
        positions = []
        for mid in sorted(market_ids):
            m = ex.markets[mid]
            pos = fut.position(account, mid)
            cfg = fut.config(account, mid)
            positions.append({"s": m.symbol, "pa": fmt8(pos.amount), "ep": fmt8(pos.entry_price), "bep": fmt8(pos.entry_price),
                              "cr": "0", "up": fmt8(fut.unrealized(pos, ex.mark_price(mid))),
                              "mt": "isolated" if cfg.margin_type == ISOLATED else "cross",
                              "iw": fmt8(pos.isolated_wallet), "ps": "BOTH"})
        return {"e": "ACCOUNT_UPDATE", "E": now, "T": now, "a": {
            "m": "ORDER", "B": [{"a": "USDT", "wb": fmt8(wallet), "cw": fmt8(wallet), "bc": "0"}], "P": positions}}

    async def _futures_user_ws(self, request: web.Request) -> web.WebSocketResponse:
        key = request.query.get("listenKey") or request.match_info.get("n") or ""
        return await self._listen_key_stream(request, key, self.listen_keys, self.futures_users)

    async def spot_listen_key_stream(self, request: web.Request, key: str) -> web.WebSocketResponse:
        """Binance's legacy spot user stream ``/ws/<listenKey>`` (ccxt 4.5.90 uses the ws-api)."""
        return await self._listen_key_stream(request, key, self.spot_listen_keys, self.spot_users)

    async def _listen_key_stream(self, request: web.Request, key: str, keys: dict[str, str],
                                 users: dict[str, set[StreamConn]]) -> web.WebSocketResponse:
        account = keys.get(key)
        ws, conn = await self._open(request)
        if account is None:
            await ws.send_str(dumps({"e": "listenKeyExpired", "E": self.now_ms(), "listenKey": key}))
            await ws.close()
            self.conns.discard(conn)
            await conn.close()
            return ws
        conn.account = account
        users.setdefault(account, set()).add(conn)
        try:
            async for _ in ws:
                pass
        finally:
            users.get(account, set()).discard(conn)
            self.conns.discard(conn)
            await conn.close()
        return ws

    def _ws_api_handler(self, methods: dict[str, tuple[str, str]]):
        async def handler(request: web.Request) -> web.WebSocketResponse:
            ws, conn = await self._open(request)
            client_ip = f"ip:{request.remote}"
            try:
                async for msg in ws:
                    if msg.type != WSMsgType.TEXT:
                        continue
                    if self.spec.request_latency_ms:
                        await asyncio.sleep(self.spec.request_latency_ms / 1000)
                    # a response already paid the request latency; events pay the stream latency
                    conn.send(dumps(self._ws_api_request(conn, msg.data, client_ip, methods)), latency=0.0)
            finally:
                if conn.account is not None:
                    self.spot_users.get(conn.account, set()).discard(conn)
                self.conns.discard(conn)
                await conn.close()
            return ws
        return handler

    WS_API_METHODS = {
        "order.place": ("POST", "/api/v3/order"), "order.cancel": ("DELETE", "/api/v3/order"),
        "order.status": ("GET", "/api/v3/order"), "openOrders.status": ("GET", "/api/v3/openOrders"),
        "openOrders.cancelAll": ("DELETE", "/api/v3/openOrders"), "account.status": ("GET", "/api/v3/account"),
        "myTrades": ("GET", "/api/v3/myTrades"), "depth": ("GET", "/api/v3/depth"),
        "ticker.24hr": ("GET", "/api/v3/ticker/24hr"), "exchangeInfo": ("GET", "/api/v3/exchangeInfo"),
    }
    WS_FAPI_METHODS = {
        "order.place": ("POST", "/fapi/v1/order"), "order.cancel": ("DELETE", "/fapi/v1/order"),
        "order.status": ("GET", "/fapi/v1/order"), "account.status": ("GET", "/fapi/v3/account"),
        "account.balance": ("GET", "/fapi/v3/balance"), "account.position": ("GET", "/fapi/v3/positionRisk"),
        "depth": ("GET", "/fapi/v1/depth"),
    }

    def _ws_api_request(self, conn: StreamConn, text: str, client_ip: str,
                        methods: dict[str, tuple[str, str]]) -> dict:
        rid = None
        try:
            try:
                req = json.loads(text)
                rid = req.get("id")
                method = req["method"]
                params = dict(req.get("params") or {})
            except (ValueError, KeyError, AttributeError, TypeError):
                raise E.BinanceError(-1013, "Malformed request.") from None     # INVALID_MESSAGE
            if method == "ping":
                return {"id": rid, "status": 200, "result": {}}
            if method == "time":
                return {"id": rid, "status": 200, "result": {"serverTime": int(time.time() * 1000)}}
            if method == "userDataStream.subscribe.signature" and methods is self.WS_API_METHODS:
                account = self._ws_verify(params, client_ip, weight=2, orders=0)
                self._sub_ids += 1
                conn.subscription_id = self._sub_ids
                conn.account = account
                self.spot_users.setdefault(account, set()).add(conn)
                return {"id": rid, "status": 200, "result": {"subscriptionId": conn.subscription_id}}
            if method == "userDataStream.unsubscribe":
                if conn.account is not None:
                    self.spot_users.get(conn.account, set()).discard(conn)
                return {"id": rid, "status": 200, "result": {}}
            target = methods.get(method)
            if target is None:
                raise E.BinanceError(-1020, f"Unsupported method: {method}")
            route = next(r for r in self.routes if (r.method, r.path) == target)
            account = None
            values = {k: _text(v) for k, v in params.items() if k not in ("signature", "apiKey")}
            weight = route.weight_for(Params(values))
            if route.signed:
                account = self._ws_verify(params, client_ip, weight, route.orders)
            else:
                self.limiter.charge(client_ip, weight, 0)
            return {"id": rid, "status": 200, "result": route.handler(Params(values), account)}
        except E.BinanceError as exc:
            out = {"id": rid, "status": exc.http_status, "error": exc.body()}
            if exc.retry_after:
                out["error"]["data"] = {"retryAfter": int(time.time() * 1000) + exc.retry_after * 1000}
            return out
        except Exception:  # noqa: BLE001
            log.exception("ws-api request failed")
            return {"id": rid, "status": 500, "error": E.internal_error().body()}

    def _ws_verify(self, params: dict, client_ip: str, weight: int, orders: int) -> str:
        api_key = params.get("apiKey")
        self.limiter.charge(f"key:{api_key}" if api_key else client_ip, weight, orders)
        account, secret = self._account_for(api_key)
        check_timestamp(params, self.spec.recv_window_max_ms)
        verify_signature(ws_payload(params), params.get("signature"), secret)
        return account

    async def close_all(self) -> None:
        for c in list(self.conns):
            await c.close()
            await c.ws.close()

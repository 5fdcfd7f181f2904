"""Order entry and account endpoints for spot and futures: place, cancel, cancel-replace,
modify, query, open / all orders, trades, spot account. Formats engine results with wire."""
from __future__ import annotations

import secrets
from typing import Any

from . import errors as E
from . import wire
from .engine import Order
from .params import Params
from .rest_market import ApiBase
from .spec import SymbolSpec
from .wire import fmt


class TradingApi(ApiBase):
    def new_order(self, p: Params, account: str, perp: bool) -> dict:
        m = self._market(p, perp)
        order, fills = self.exchange.place_order(
            account, m, p.req("side"), p.req("type"), p.dec("quantity"), p.dec("price"),
            p.get("timeInForce"), p.get("newClientOrderId"), p.dec("quoteOrderQty"), p.bool("reduceOnly"))
        if perp:
            return wire.futures_order(order)
        resp_type = (p.get("newOrderRespType") or ("FULL" if order.type in ("MARKET", "LIMIT") else "ACK")).upper()
        if resp_type == "ACK":
            return {"symbol": m.symbol, "orderId": order.order_id, "orderListId": -1,
                    "clientOrderId": order.client_order_id, "transactTime": order.update_time}
        return wire.spot_order(order, fills if resp_type == "FULL" else None)

    def cancel_replace(self, p: Params, account: str) -> dict:
        m = self._market(p, False)
        mode = (p.get("cancelReplaceMode") or "").upper()
        if mode not in ("STOP_ON_FAILURE", "ALLOW_FAILURE"):
            raise E.mandatory_param("cancelReplaceMode")
        cancel_id, cancel_client = p.int("cancelOrderId"), p.get("cancelOrigClientOrderId")
        if cancel_id is None and cancel_client is None:
            raise E.BinanceError(-1102, "Param 'cancelOrigClientOrderId' or 'cancelOrderId' must be sent, but both were empty/null!")
        new_order = dict(side=p.req("side"), order_type=p.req("type"), quantity=p.dec("quantity"),
                         price=p.dec("price"), time_in_force=p.get("timeInForce"),
                         client_order_id=p.get("newClientOrderId"), quote_order_qty=p.dec("quoteOrderQty"))
        cancel_client_id = p.get("cancelNewClientOrderId") or f"cancel{secrets.token_hex(8)}"
        cancelled, cancel_err, placed, place_err = self.exchange.cancel_replace(
            account, m, cancel_id, cancel_client, new_order, mode)
        data = {"cancelResult": "FAILURE" if cancel_err else "SUCCESS",
                "newOrderResult": "FAILURE" if place_err else ("SUCCESS" if placed else "NOT_ATTEMPTED"),
                "cancelResponse": cancel_err.body() if cancel_err else wire.spot_cancel(cancelled, cancel_client_id),
                "newOrderResponse": place_err.body() if place_err else (
                    wire.spot_order(placed[0], placed[1]) if placed else None)}
        if cancel_err and place_err is None and placed is None:
            raise E.BinanceError(-2022, "Order cancel-replace failed.", data=data)
        if cancel_err or place_err:
            if cancel_err and place_err:
                raise E.BinanceError(-2022, "Order cancel-replace failed.", data=data)
            raise E.BinanceError(-2021, "Order cancel-replace partially failed.", 409, data=data)
        return data

    def modify_futures(self, p: Params, account: str) -> dict:
        m = self._market(p, True)
        order_id, client_id = p.int("orderId"), p.get("origClientOrderId")
        if order_id is None and client_id is None:
            raise E.BinanceError(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        order = self.exchange.modify_futures_order(account, m, order_id, client_id, p.req("side"),
                                                   p.dec("quantity"), p.dec("price"))
        return wire.futures_order(order)

    def _find(self, p: Params, account: str, m: SymbolSpec) -> Order:
        order_id = p.int("orderId")
        client_id = p.get("origClientOrderId")
        if order_id is None and client_id is None:
            raise E.BinanceError(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        order = self.exchange.find_order(account, m, order_id, client_id)
        if order is None:
            raise E.order_does_not_exist()
        return order

    def query_order(self, p: Params, account: str, perp: bool) -> dict:
        m = self._market(p, perp)
        order = self._find(p, account, m)
        return wire.futures_order(order) if perp else wire.spot_order_query(order)

    def cancel(self, p: Params, account: str, perp: bool) -> dict:
        m = self._market(p, perp)
        order_id = p.int("orderId")
        client_id = p.get("origClientOrderId")
        if order_id is None and client_id is None:
            raise E.BinanceError(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        cancel_id = p.get("newClientOrderId") or f"cancel{secrets.token_hex(8)}"
        order = self.exchange.cancel_order(account, m, order_id, client_id, cancel_id)
        return wire.futures_order(order) if perp else wire.spot_cancel(order, cancel_id)

    def cancel_all(self, p: Params, account: str, perp: bool) -> Any:
        m = self._market(p, perp)
        done = self.exchange.cancel_all(account, m)
        if perp:
            return {"code": 200, "msg": "The operation of cancel all open order is done."}
        return [wire.spot_cancel(o, o.client_order_id) for o in done]

    def open_orders(self, p: Params, account: str, perp: bool) -> list:
        m = self._market(p, perp) if p.get("symbol") else None
        orders = self.exchange.open_orders(account, m, perp)
        return [wire.futures_order(o) if perp else wire.spot_order_query(o) for o in orders]

    @staticmethod
    def _window(p: Params) -> tuple[int, int, int]:
        """(limit, startTime, endTime) with Binance's defaults; limit 1..1000."""
        limit = p.int("limit", 500)
        if not 1 <= limit <= 1000:
            raise E.BinanceError(-1100, "Illegal characters found in parameter 'limit'; legal range is '1' to '1000'.")
        return limit, p.int("startTime", 0), p.int("endTime", 1 << 62)

    def all_orders(self, p: Params, account: str, perp: bool) -> list:
        m = self._market(p, perp)
        limit, start, end = self._window(p)
        from_id = p.int("orderId", 0)
        orders = [o for o in self.exchange.account_orders(account)
                  if o.market is m and o.order_id >= from_id
                  and start <= o.create_time <= end]
        orders = orders[:limit] if from_id else orders[-limit:]
        return [wire.futures_order(o) if perp else wire.spot_order_query(o) for o in orders]

    def my_trades(self, p: Params, account: str, perp: bool) -> list:
        """Filters as Binance: orderId, fromId (trade id, oldest first), startTime / endTime."""
        m = self._market(p, perp)
        limit, start, end = self._window(p)
        order_id, from_id = p.int("orderId"), p.int("fromId")
        fills = [f for f in self.exchange.fills_by_account.get(account, [])
                 if f.market_id == m.market_id and (order_id is None or f.order_id == order_id)
                 and (from_id is None or f.trade_id >= from_id) and start <= f.time <= end]
        fills = fills[:limit] if from_id is not None or p.get("startTime") else fills[-limit:]
        fmt_one = wire.futures_user_trade if perp else wire.spot_my_trade
        return [fmt_one(f, m) for f in fills]

    def spot_account(self, account: str) -> dict:
        balances = self.exchange.spot.balances[account]
        return {"makerCommission": int(self.spec.maker_fee * 10_000), "takerCommission": int(self.spec.taker_fee * 10_000),
                "buyerCommission": 0, "sellerCommission": 0,
                "commissionRates": {"maker": fmt(self.spec.maker_fee), "taker": fmt(self.spec.taker_fee),
                                    "buyer": "0", "seller": "0"},
                "canTrade": True, "canWithdraw": False, "canDeposit": False, "brokered": False,
                "requireSelfTradePrevention": False, "preventSor": False, "updateTime": self.now_ms(),
                "accountType": "SPOT", "uid": 1,
                "balances": [{"asset": a, "free": fmt(b.free), "locked": fmt(b.locked)} for a, b in sorted(balances.items())],
                "permissions": ["SPOT"]}

    # --- futures account ----------------------------------------------------------------

    def trade_fees(self, p: Params) -> list:
        markets = [self._market(p, False)] if p.get("symbol") else self._markets(False)
        return [{"symbol": m.symbol, "makerCommission": fmt(self.spec.maker_fee),
                 "takerCommission": fmt(self.spec.taker_fee)} for m in markets]

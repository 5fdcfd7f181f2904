"""Engine objects -> Binance JSON shapes (REST responses and stream events).

All prices and quantities leave as strings of their exact Decimal value, never as floats.
"""
from __future__ import annotations

from decimal import Decimal

from .book import DepthDiff
from .engine import Execution, Fill, MarketStats, Order
from .protocol import Trade
from .spec import SymbolSpec

ZERO = Decimal(0)
Q8 = Decimal("0.00000001")


def fmt(d: Decimal | None) -> str:
    if d is None:
        return "0"
    s = format(d, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".") or "0"
    return s


def fmt8(d: Decimal) -> str:
    """Derived amounts (margins, PnL, averages) with Binance's 8 decimals, not Decimal's 28 digits."""
    return fmt(d.quantize(Q8))


def levels(side: list[tuple[Decimal, Decimal]]) -> list[list[str]]:
    return [[fmt(p), fmt(q)] for p, q in side]


# --- spot ---------------------------------------------------------------------------------
def spot_order(o: Order, fills: list[Fill] | None = None, full: bool = True) -> dict:
    d = {
        "symbol": o.market.symbol, "orderId": o.order_id, "orderListId": -1,
        "clientOrderId": o.client_order_id, "transactTime": o.update_time,
        "price": fmt(o.price), "origQty": fmt(o.orig_qty), "executedQty": fmt(o.executed_qty),
        "origQuoteOrderQty": fmt(o.quote_order_qty), "cummulativeQuoteQty": fmt(o.cum_quote),
        "status": o.status, "timeInForce": o.time_in_force, "type": o.type, "side": o.side,
        "workingTime": o.create_time, "selfTradePreventionMode": "EXPIRE_TAKER",
    }
    if fills is not None:
        d["fills"] = [{"price": fmt(f.price), "qty": fmt(f.qty), "commission": fmt(f.commission),
                       "commissionAsset": f.commission_asset, "tradeId": f.trade_id} for f in fills]
    return d


def spot_order_query(o: Order) -> dict:
    d = spot_order(o)
    del d["transactTime"]
    d.update({"stopPrice": "0", "icebergQty": "0", "time": o.create_time, "updateTime": o.update_time,
              "isWorking": o.on_book})
    return d


def spot_cancel(o: Order, cancel_client_id: str) -> dict:
    d = spot_order(o)
    d["origClientOrderId"] = o.client_order_id
    d["clientOrderId"] = cancel_client_id
    return d


def spot_my_trade(f: Fill, m: SymbolSpec) -> dict:
    return {"symbol": m.symbol, "id": f.trade_id, "orderId": f.order_id, "orderListId": -1,
            "price": fmt(f.price), "qty": fmt(f.qty), "quoteQty": fmt(f.quote_qty),
            "commission": fmt(f.commission), "commissionAsset": f.commission_asset, "time": f.time,
            "isBuyer": f.side == "BUY", "isMaker": f.is_maker, "isBestMatch": True}


def execution_report(ex: Execution, now: int) -> dict:
    o, f = ex.order, ex.fill
    cancel = ex.exec_type == "CANCELED"
    return {
        "e": "executionReport", "E": now, "s": o.market.symbol,
        "c": ex.cancel_client_id if cancel and ex.cancel_client_id else o.client_order_id,
        "S": o.side, "o": o.type, "f": o.time_in_force, "q": fmt(o.orig_qty), "p": fmt(o.price),
        "P": "0", "F": "0", "g": -1, "C": o.client_order_id if cancel else "",
        "x": ex.exec_type, "X": o.status, "r": "NONE", "i": o.order_id,
        "l": fmt(f.qty if f else ZERO), "z": fmt(o.executed_qty), "L": fmt(f.price if f else ZERO),
        "n": fmt(f.commission if f else ZERO), "N": f.commission_asset if f else None,
        "T": ex.time, "t": f.trade_id if f else -1, "I": 0, "w": o.on_book,
        "m": f.is_maker if f else False, "M": False, "O": o.create_time, "Z": fmt(o.cum_quote),
        "Y": fmt(f.quote_qty if f else ZERO), "Q": fmt(o.quote_order_qty), "W": o.create_time,
        "V": "EXPIRE_TAKER",
    }


# --- futures ------------------------------------------------------------------------------
def futures_order(o: Order) -> dict:
    return {
        "orderId": o.order_id, "symbol": o.market.symbol, "status": o.status,
        "clientOrderId": o.client_order_id, "price": fmt(o.price), "avgPrice": fmt(o.avg_price.quantize(Q8)),
        "origQty": fmt(o.orig_qty), "executedQty": fmt(o.executed_qty), "cumQty": fmt(o.executed_qty),
        "cumQuote": fmt(o.cum_quote), "timeInForce": o.time_in_force, "type": o.type,
        "reduceOnly": o.reduce_only, "closePosition": False, "side": o.side, "positionSide": "BOTH",
        "stopPrice": "0", "workingType": "CONTRACT_PRICE", "priceProtect": False, "origType": o.type,
        "priceMatch": "NONE", "selfTradePreventionMode": "EXPIRE_TAKER", "goodTillDate": 0,
        "time": o.create_time, "updateTime": o.update_time,
    }


def futures_user_trade(f: Fill, m: SymbolSpec) -> dict:
    return {"symbol": m.symbol, "id": f.trade_id, "orderId": f.order_id, "side": f.side,
            "price": fmt(f.price), "qty": fmt(f.qty), "realizedPnl": fmt(f.realized_pnl),
            "quoteQty": fmt(f.quote_qty), "commission": fmt(f.commission),
            "commissionAsset": f.commission_asset, "time": f.time, "positionSide": "BOTH",
            "buyer": f.side == "BUY", "maker": f.is_maker}


def order_trade_update(ex: Execution, now: int) -> dict:
    o, f = ex.order, ex.fill
    return {"e": "ORDER_TRADE_UPDATE", "E": now, "T": ex.time, "o": {
        "s": o.market.symbol, "c": o.client_order_id, "S": o.side, "o": o.type, "f": o.time_in_force,
        "q": fmt(o.orig_qty), "p": fmt(o.price), "ap": fmt(o.avg_price.quantize(Q8)), "sp": "0", "x": ex.exec_type,
        "X": o.status, "i": o.order_id, "l": fmt(f.qty if f else ZERO), "z": fmt(o.executed_qty),
        "L": fmt(f.price if f else ZERO), "N": f.commission_asset if f else "USDT",
        "n": fmt(f.commission if f else ZERO), "T": ex.time, "t": f.trade_id if f else 0,
        "b": "0", "a": "0", "m": f.is_maker if f else False, "R": o.reduce_only, "wt": "CONTRACT_PRICE",
        "ot": o.type, "ps": "BOTH", "cp": False, "rp": fmt(f.realized_pnl if f else ZERO),
        "pP": False, "si": 0, "ss": 0, "V": "EXPIRE_TAKER", "pm": "NONE", "gtd": 0}}


# --- public market data -------------------------------------------------------------------
def depth_update(m: SymbolSpec, diff: DepthDiff, now: int) -> dict:
    d = {"e": "depthUpdate", "E": now, "s": m.symbol, "U": diff.first_update_id,
         "u": diff.last_update_id, "b": levels(diff.bids), "a": levels(diff.asks)}
    if m.is_perp:
        d["T"] = now
        d["pu"] = diff.previous_update_id
    return d


def trade_event(m: SymbolSpec, t: Trade, now: int) -> dict:
    d = {"e": "trade", "E": now, "s": m.symbol, "t": t.trade_id, "p": fmt(t.price), "q": fmt(t.quantity),
         "T": t.timestamp_ms, "m": t.aggressor_side == "SELL", "M": True}
    if m.is_perp:
        d["X"] = "MARKET"
    return d


def agg_trade_event(m: SymbolSpec, t: Trade, now: int) -> dict:
    return {"e": "aggTrade", "E": now, "s": m.symbol, "a": t.trade_id, "p": fmt(t.price),
            "q": fmt(t.quantity), "f": t.trade_id, "l": t.trade_id, "T": t.timestamp_ms,
            "m": t.aggressor_side == "SELL", "M": True}


def agg_trade_rest(t: Trade) -> dict:
    return {"a": t.trade_id, "p": fmt(t.price), "q": fmt(t.quantity), "f": t.trade_id, "l": t.trade_id,
            "T": t.timestamp_ms, "m": t.aggressor_side == "SELL", "M": True}


def trade_rest(t: Trade) -> dict:
    return {"id": t.trade_id, "price": fmt(t.price), "qty": fmt(t.quantity),
            "quoteQty": fmt(t.price * t.quantity), "time": t.timestamp_ms,
            "isBuyerMaker": t.aggressor_side == "SELL", "isBestMatch": True}


def mini_ticker(m: SymbolSpec, st: MarketStats, ref: Decimal, now: int) -> dict:
    last = st.last if st.last is not None else ref
    return {"e": "24hrMiniTicker", "E": now, "s": m.symbol, "c": fmt(last),
            "o": fmt(st.open if st.open is not None else last), "h": fmt(st.high if st.high is not None else last),
            "l": fmt(st.low if st.low is not None else last), "v": fmt(st.volume), "q": fmt(st.quote_volume)}


def ticker_24h(m: SymbolSpec, st: MarketStats, ref: Decimal, bid, ask, now: int) -> dict:
    last = st.last if st.last is not None else ref
    open_ = st.open if st.open is not None else last
    change = last - open_
    pct = (change / open_ * 100).quantize(Decimal("0.001")) if open_ else ZERO
    vwap = (st.quote_volume / st.volume).quantize(Q8) if st.volume else last
    d = {"symbol": m.symbol, "priceChange": fmt(change), "priceChangePercent": fmt(pct),
         "weightedAvgPrice": fmt(vwap), "lastPrice": fmt(last), "lastQty": fmt(st.last_qty),
         "openPrice": fmt(open_), "highPrice": fmt(st.high if st.high is not None else last),
         "lowPrice": fmt(st.low if st.low is not None else last), "volume": fmt(st.volume),
         "quoteVolume": fmt(st.quote_volume), "openTime": st.open_time, "closeTime": now,
         "firstId": st.first_trade_id, "lastId": st.last_trade_id, "count": st.count}
    if not m.is_perp:
        d.update({"prevClosePrice": fmt(open_), "bidPrice": fmt(bid[0]), "bidQty": fmt(bid[1]),
                  "askPrice": fmt(ask[0]), "askQty": fmt(ask[1])})
    return d


def ticker_event(t: dict, now: int) -> dict:
    return {"e": "24hrTicker", "E": now, "s": t["symbol"], "p": t["priceChange"], "P": t["priceChangePercent"],
            "w": t["weightedAvgPrice"], "x": t["openPrice"], "c": t["lastPrice"], "Q": t["lastQty"],
            "b": t.get("bidPrice", "0"), "B": t.get("bidQty", "0"), "a": t.get("askPrice", "0"),
            "A": t.get("askQty", "0"), "o": t["openPrice"], "h": t["highPrice"], "l": t["lowPrice"],
            "v": t["volume"], "q": t["quoteVolume"], "O": t["openTime"], "C": t["closeTime"],
            "F": t["firstId"], "L": t["lastId"], "n": t["count"]}

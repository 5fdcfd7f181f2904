"""Public REST endpoints (spot /api/v3 and futures /fapi/v1): exchange info, books, trades,
tickers, premium index. Shared helpers for the other REST handler groups live in ApiBase."""
from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from . import errors as E
from . import wire
from .engine import Exchange
from .candles import INTERVALS_MS
from .params import Params
from .spec import SymbolSpec, VenueSpec
from .wire import fmt, fmt8

ZERO = Decimal(0)


class ApiBase:
    def __init__(self, exchange: Exchange, spec: VenueSpec) -> None:
        self.exchange = exchange
        self.spec = spec

    def now_ms(self) -> int:
        return self.exchange.now_ms()

    def _market(self, p: Params, perp: bool) -> SymbolSpec:
        return self.exchange.market_for(p.req("symbol"), perp)

    def _markets(self, perp: bool) -> list[SymbolSpec]:
        return [m for m in self.exchange.markets.values() if m.is_perp == perp]


class MarketDataApi(ApiBase):
    def exchange_info(self, perp: bool) -> dict:
        rl = self.spec.rate_limits
        out = {"timezone": "UTC", "serverTime": int(time.time() * 1000), "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": rl.weight_per_minute},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": rl.orders_per_10s},
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": rl.orders_per_day}],
            "exchangeFilters": [], "symbols": [self._symbol_info(m) for m in self._markets(perp)]}
        if perp:
            out["assets"] = [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "0"}]
        return out

    def _symbol_info(self, m: SymbolSpec) -> dict:
        price_prec = max(0, -m.tick_size.normalize().as_tuple().exponent)
        qty_prec = max(0, -m.step_size.normalize().as_tuple().exponent)
        filters = [
            {"filterType": "PRICE_FILTER", "minPrice": fmt(m.min_price), "maxPrice": fmt(m.max_price), "tickSize": fmt(m.tick_size)},
            {"filterType": "LOT_SIZE", "minQty": fmt(m.min_qty), "maxQty": fmt(m.max_qty), "stepSize": fmt(m.step_size)},
            {"filterType": "MARKET_LOT_SIZE", "minQty": fmt(m.min_qty), "maxQty": fmt(m.max_qty), "stepSize": fmt(m.step_size)},
        ]
        if m.is_perp:
            filters.append({"filterType": "MIN_NOTIONAL", "notional": fmt(m.min_notional)})
            return {"symbol": m.symbol, "pair": m.symbol, "contractType": "PERPETUAL", "deliveryDate": 4133404800000,
                    "onboardDate": 1569398400000, "status": "TRADING", "maintMarginPercent": "2.5000",
                    "requiredMarginPercent": "5.0000", "baseAsset": m.base, "quoteAsset": m.quote,
                    "marginAsset": m.quote, "pricePrecision": price_prec, "quantityPrecision": qty_prec,
                    "baseAssetPrecision": 8, "quotePrecision": 8, "underlyingType": "COIN",
                    "underlyingSubType": [], "settlePlan": 0, "triggerProtect": "0.0500",
                    "liquidationFee": "0.012500", "marketTakeBound": "0.05", "filters": filters,
                    "orderTypes": ["LIMIT", "MARKET"], "timeInForce": ["GTC", "IOC", "FOK", "GTX"]}
        filters.append({"filterType": "NOTIONAL", "minNotional": fmt(m.min_notional), "applyMinToMarket": True,
                        "maxNotional": "9000000", "applyMaxToMarket": False, "avgPriceMins": 5})
        return {"symbol": m.symbol, "status": "TRADING", "baseAsset": m.base, "baseAssetPrecision": 8,
                "quoteAsset": m.quote, "quotePrecision": 8, "quoteAssetPrecision": 8,
                "baseCommissionPrecision": 8, "quoteCommissionPrecision": 8,
                "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"], "icebergAllowed": False, "ocoAllowed": False,
                "otoAllowed": False, "quoteOrderQtyMarketAllowed": True, "allowTrailingStop": False,
                "cancelReplaceAllowed": False, "isSpotTradingAllowed": True, "isMarginTradingAllowed": False,
                "filters": filters, "permissions": [], "permissionSets": [["SPOT"]],
                "defaultSelfTradePreventionMode": "EXPIRE_TAKER",
                "allowedSelfTradePreventionModes": ["EXPIRE_TAKER"]}

    def depth(self, p: Params, perp: bool) -> dict:
        m = self._market(p, perp)
        limit = p.int("limit", 100)
        if not 1 <= limit <= 5000:
            raise E.BinanceError(-1100, "Illegal characters found in parameter 'limit'; legal range is '1' to '5000'.")
        book = self.exchange.books[m.market_id]
        bids, asks = book.depth(limit)
        out = {"lastUpdateId": book.update_id, "bids": wire.levels(bids), "asks": wire.levels(asks)}
        if perp:
            out["E"] = out["T"] = self.now_ms()
        return out

    def trades(self, p: Params, perp: bool, agg: bool) -> list:
        """Recent trades (the last 10,000 are kept); aggTrades also filter by fromId or
        startTime / endTime, oldest first, as Binance does."""
        m = self._market(p, perp)
        limit = p.int("limit", 500)
        if not 1 <= limit <= 1000:
            raise E.BinanceError(-1100, "Illegal characters found in parameter 'limit'; legal range is '1' to '1000'.")
        trades = self.exchange.stats[m.market_id].trades
        from_id, start, end = p.int("fromId"), p.int("startTime"), p.int("endTime")
        if agg and (from_id is not None or start is not None or end is not None):
            lo, hi = start or 0, end if end is not None else 1 << 62
            picked = [t for t in trades if (from_id is None or t.trade_id >= from_id) and lo <= t.timestamp_ms <= hi]
            recent = picked[:limit]
        else:
            recent = list(trades)[-limit:]
        return [wire.agg_trade_rest(t) if agg else wire.trade_rest(t) for t in recent]

    def _ticker(self, m: SymbolSpec) -> dict:
        book = self.exchange.books[m.market_id]
        b, a = book.depth(1)
        bid = b[0] if b else (ZERO, ZERO)
        ask = a[0] if a else (ZERO, ZERO)
        return wire.ticker_24h(m, self.exchange.stats[m.market_id], self.exchange.spec.reference_price(m.market_id),
                               bid, ask, self.now_ms())

    def ticker(self, p: Params, perp: bool) -> Any:
        if p.get("symbol"):
            return self._ticker(self._market(p, perp))
        return [self._ticker(m) for m in self._markets(perp)]

    def ticker_price(self, p: Params, perp: bool) -> Any:
        def one(m: SymbolSpec) -> dict:
            st = self.exchange.stats[m.market_id]
            last = st.last if st.last is not None else self.exchange.mark_price(m.market_id)
            return {"symbol": m.symbol, "price": fmt(last), "time": self.now_ms()}
        return one(self._market(p, perp)) if p.get("symbol") else [one(m) for m in self._markets(perp)]

    def book_ticker(self, p: Params, perp: bool) -> Any:
        def one(m: SymbolSpec) -> dict:
            b, a = self.exchange.books[m.market_id].depth(1)
            bid = b[0] if b else (ZERO, ZERO)
            ask = a[0] if a else (ZERO, ZERO)
            return {"symbol": m.symbol, "bidPrice": fmt(bid[0]), "bidQty": fmt(bid[1]),
                    "askPrice": fmt(ask[0]), "askQty": fmt(ask[1]), "time": self.now_ms()}
        return one(self._market(p, perp)) if p.get("symbol") else [one(m) for m in self._markets(perp)]

    def premium_index(self, p: Params) -> Any:
        def one(m: SymbolSpec) -> dict:
            return {"symbol": m.symbol, "markPrice": fmt8(self.exchange.mark_price(m.market_id)),
                    "indexPrice": fmt8(self.exchange.index_price(m.market_id)),
                    "estimatedSettlePrice": fmt8(self.exchange.index_price(m.market_id)),
                    "lastFundingRate": fmt(self.exchange.funding_rates[m.market_id]),
                    "interestRate": "0.0001", "nextFundingTime": self.exchange.next_funding_ms,
                    "time": self.now_ms()}
        return one(self._market(p, True)) if p.get("symbol") else [one(m) for m in self._markets(True)]

    # --- orders -------------------------------------------------------------------------

    def klines(self, p: Params, perp: bool) -> list:
        m = self._market(p, perp)
        interval = p.req("interval")
        if interval not in INTERVALS_MS:
            raise E.BinanceError(-1120, "Invalid interval.")
        limit = p.int("limit", 500)
        if not 1 <= limit <= 1500:
            raise E.BinanceError(-1100, "Illegal characters found in parameter 'limit'; legal range is '1' to '1500'.")
        series = self.exchange.stats[m.market_id].candles
        width = INTERVALS_MS[interval] * 60_000
        return [[c.open_time, fmt(c.open), fmt(c.high), fmt(c.low), fmt(c.close), fmt(c.volume),
                 c.open_time + width - 1, fmt(c.quote_volume), c.trades, fmt(c.taker_buy_volume),
                 fmt(c.taker_buy_quote), "0"]
                for c in series.klines(interval, p.int("startTime"), p.int("endTime"), limit, self.now_ms())]

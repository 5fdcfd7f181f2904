"""One-minute candles per market, aggregated on request into Binance kline intervals.

Kept in minute buckets (bounded: three days) so that ``GET /api/v3/klines`` / ccxt
``fetch_ohlcv`` show the venue's real traded volume curve; minutes without trades repeat the
previous close with zero volume, as Binance does.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal

MINUTE_MS = 60_000
INTERVALS_MS = {"1m": 1, "3m": 3, "5m": 5, "15m": 15, "30m": 30, "1h": 60, "2h": 120, "4h": 240,
                "6h": 360, "8h": 480, "12h": 720, "1d": 1440}
ZERO = Decimal(0)


@dataclass(slots=True)
class Candle:
    open_time: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal = ZERO
    quote_volume: Decimal = ZERO
    trades: int = 0
    taker_buy_volume: Decimal = ZERO
    taker_buy_quote: Decimal = ZERO

    def add(self, price: Decimal, qty: Decimal, taker_buy: bool) -> None:
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.close = price
        self.volume += qty
        self.quote_volume += price * qty
        self.trades += 1
        if taker_buy:
            self.taker_buy_volume += qty
            self.taker_buy_quote += price * qty

    def merge(self, other: "Candle") -> None:
        self.high = max(self.high, other.high)
        self.low = min(self.low, other.low)
        self.close = other.close
        self.volume += other.volume
        self.quote_volume += other.quote_volume
        self.trades += other.trades
        self.taker_buy_volume += other.taker_buy_volume
        self.taker_buy_quote += other.taker_buy_quote


class CandleSeries:
    def __init__(self, max_minutes: int = 3 * 1440) -> None:
        self.max_minutes = max_minutes
        self.minutes: "OrderedDict[int, Candle]" = OrderedDict()

    def add(self, ts_ms: int, price: Decimal, qty: Decimal, taker_buy: bool) -> None:
        start = ts_ms - ts_ms % MINUTE_MS
        c = self.minutes.get(start)
        if c is None:
            if self.minutes and start < next(reversed(self.minutes)):
                start = next(reversed(self.minutes))      # a late timestamp joins the last minute
                c = self.minutes[start]
            else:
                c = self.minutes[start] = Candle(start, price, price, price, price)
                while len(self.minutes) > self.max_minutes:
                    self.minutes.popitem(last=False)
        c.add(price, qty, taker_buy)

    def klines(self, interval: str, start_ms: int | None, end_ms: int | None, limit: int,
               now_ms: int) -> list[Candle]:
        """Candles of ``interval`` (a key of INTERVALS_MS), oldest first, at most ``limit``: the
        first ``limit`` from ``start_ms`` if given, else the last ``limit`` up to ``end_ms``."""
        if not self.minutes:
            return []
        width = INTERVALS_MS[interval] * MINUTE_MS
        first = next(iter(self.minutes))
        lo = first - first % width
        if start_ms is not None:
            lo = max(lo, start_ms - start_ms % width)
        hi = now_ms if end_ms is None else min(end_ms, now_ms)
        buckets: dict[int, Candle] = {}
        prev_close = None
        for minute, c in self.minutes.items():
            b = minute - minute % width
            if b < lo:
                prev_close = c.close
                continue
            if b > hi:
                break
            agg = buckets.get(b)
            if agg is None:
                agg = buckets[b] = Candle(b, c.open, c.high, c.low, c.close)
            agg.merge(c)
        out: list[Candle] = []
        b = lo
        while b <= hi:
            agg = buckets.get(b)
            if agg is None and prev_close is not None:
                agg = Candle(b, prev_close, prev_close, prev_close, prev_close)
            if agg is not None:
                out.append(agg)
                prev_close = agg.close
            b += width
        return out[:limit] if start_ms is not None else out[-limit:]

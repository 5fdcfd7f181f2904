"""Rolling market volume per symbol, across venues, for POV/VWAP participation.

Each venue keeps its own append-only prints in time order (a venue's trades are sequenced),
as parallel lists of timestamps and cumulative volume, so "volume since t" is a binary search
per venue rather than a scan. Prints older than the horizon are pruned in chunks.
"""
from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from decimal import Decimal

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class MarketTrade:
    venue: str
    symbol: str
    trade_id: str
    price: Decimal
    quantity: Decimal
    aggressor: str | None      # "buy" / "sell" when the venue says
    timestamp: float           # seconds since the epoch (venue time)


@dataclass
class _Series:
    times: list[float] = field(default_factory=list)
    cums: list[Decimal] = field(default_factory=list)
    base: Decimal = ZERO       # cumulative volume before times[0]
    last_id: str | None = None
    last_price: Decimal | None = None

    @property
    def total(self) -> Decimal:
        return self.cums[-1] if self.cums else self.base


class VolumeCounter:
    def __init__(self, horizon_s: float = 6 * 3600.0):
        self.horizon_s = horizon_s
        self._series: dict[tuple[str, str], _Series] = {}

    def add(self, trade: MarketTrade) -> bool:
        """Count a print once (dedup on the venue's trade id); False if already counted."""
        s = self._series.setdefault((trade.venue, trade.symbol), _Series())
        if trade.trade_id == s.last_id:
            return False
        s.last_id = trade.trade_id
        s.last_price = trade.price
        ts = trade.timestamp
        if s.times and ts < s.times[-1]:
            ts = s.times[-1]  # keep the series monotonic if a venue clock steps back
        s.times.append(ts)
        s.cums.append(s.total + trade.quantity)
        if len(s.times) > 1024 and s.times[0] < ts - self.horizon_s:
            cut = bisect_left(s.times, ts - self.horizon_s)
            s.base = s.cums[cut - 1]
            del s.times[:cut], s.cums[:cut]
        return True

    def volume_since(self, symbol: str, t: float, venue: str | None = None) -> Decimal:
        """Volume printed at or after ``t`` (epoch seconds), all venues unless one is named."""
        total = ZERO
        for (v, sym), s in self._series.items():
            if sym != symbol or (venue is not None and v != venue):
                continue
            i = bisect_left(s.times, t)
            before = s.cums[i - 1] if i > 0 else s.base
            total += s.total - before
        return total

    def cumulative(self, symbol: str, venue: str | None = None) -> Decimal:
        """Volume since this counter started (schedulers use differences)."""
        return sum((s.total for (v, sym), s in self._series.items()
                    if sym == symbol and (venue is None or v == venue)), ZERO)

    def last_price(self, symbol: str) -> Decimal | None:
        latest: tuple[float, Decimal] | None = None
        for (_, sym), s in self._series.items():
            if sym == symbol and s.times and s.last_price is not None:
                if latest is None or s.times[-1] > latest[0]:
                    latest = (s.times[-1], s.last_price)
        return latest[1] if latest else None

"""VWAP (847=1): trade along the market's expected volume curve between start and end.

The curve is a :class:`VolumeProfile`: relative volume per time-of-day bucket, either from
configuration or learned from the venues' trade prints (:meth:`VolumeProfile.from_trades`). A
flat profile makes VWAP a TWAP without jitter.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, Protocol, Sequence

from fixgw.algo.schedule import even_times
from fixgw.algo.scheduled import ScheduledAlgo
from fixgw.algo.types import AlgoSettings, Instrument, MarketSnapshot, ParentSpec


@dataclass(frozen=True, slots=True)
class VolumeProfile:
    """Relative trading intensity per bucket of a repeating period (a day by default) that
    starts at ``origin`` (epoch seconds; 0 = UTC midnight). Any object with the same
    ``integral(t0, t1)`` method will do (the simulator's own profile has one)."""

    weights: tuple[float, ...]
    period_seconds: float = 86_400.0
    origin: float = 0.0

    def __post_init__(self) -> None:
        if not self.weights or any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
            raise ValueError(f"volume profile weights must be >= 0 and not all 0: {self.weights}")

    @classmethod
    def flat(cls) -> "VolumeProfile":
        return cls((1.0,))

    @classmethod
    def from_trades(cls, trades: Iterable[tuple[float, Decimal]], buckets: int = 48,
                    period_seconds: float = 86_400.0, floor: float = 0.05,
                    origin: float = 0.0) -> "VolumeProfile":
        """Learn from (timestamp seconds, quantity) prints; empty buckets get ``floor`` of the
        mean so that no part of the horizon is ever scheduled at exactly zero."""
        totals = [0.0] * buckets
        width = period_seconds / buckets
        for ts, qty in trades:
            totals[int(((ts - origin) % period_seconds) // width) % buckets] += float(qty)
        mean = sum(totals) / buckets
        if mean == 0:
            return cls((1.0,) * buckets, period_seconds, origin)
        return cls(tuple(max(t, floor * mean) for t in totals), period_seconds, origin)

    def integral(self, a: float, b: float) -> float:
        """Integral of the intensity over [a, b] (absolute epoch seconds)."""
        if b <= a:
            return 0.0
        n = len(self.weights)
        width = self.period_seconds / n
        total = 0.0
        t = a - self.origin
        b -= self.origin
        while t < b:
            k = math.floor(t / width)
            seg_end = min((k + 1) * width, b)
            total += self.weights[k % n] * (seg_end - t)
            t = seg_end
        return total


class ProfileLike(Protocol):
    def integral(self, t0: float, t1: float) -> float: ...


class VwapScheduler(ScheduledAlgo):
    def __init__(self, parent: ParentSpec, instrument: Instrument, settings: AlgoSettings,
                 rng: random.Random, profile: "ProfileLike | None" = None):
        super().__init__(parent, instrument, settings, rng)
        self.profile = profile or VolumeProfile.flat()

    def curve(self, start: float, end: float, market: MarketSnapshot
              ) -> tuple[Sequence[float], Sequence[float | Decimal]]:
        times = even_times(start, end, self.settings.slice_seconds, self.settings.min_slices)
        whole = self.profile.integral(start, end)
        if whole <= 0:
            return times, [(i + 1) / len(times) for i in range(len(times))]
        fractions = [self.profile.integral(start, t) / whole for t in times]
        fractions[-1] = 1.0
        return times, fractions

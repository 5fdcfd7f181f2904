"""TWAP (847=1001): an even schedule between start and end, randomised so it is not obvious.

Each due time moves by up to ``timing_jitter`` of a slice and each cumulative target by up to
``size_jitter`` of a slice (both < 1/2, so the curve stays monotonic); the curve still starts
at zero and ends at the whole quantity, and the seeded RNG makes a run reproducible.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Sequence

from fixgw.algo.schedule import even_times
from fixgw.algo.scheduled import ScheduledAlgo
from fixgw.algo.types import MarketSnapshot


class TwapScheduler(ScheduledAlgo):
    def curve(self, start: float, end: float, market: MarketSnapshot
              ) -> tuple[Sequence[float], Sequence[float | Decimal]]:
        times = even_times(start, end, self.settings.slice_seconds, self.settings.min_slices)
        n = len(times)
        step = (end - start) / n
        tj = min(self.settings.timing_jitter, 0.45)
        sj = Decimal(repr(min(self.settings.size_jitter, 0.45)))
        jittered_times = [t + self.rng.uniform(-tj, tj) * step for t in times[:-1]] + [times[-1]]
        fractions: list[Decimal] = []
        for i in range(1, n):
            u = Decimal(repr(round(self.rng.uniform(-1.0, 1.0), 6)))
            fractions.append((Decimal(i) + u * sj) / n)
        fractions.append(Decimal(1))
        return jittered_times, fractions

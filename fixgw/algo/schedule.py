"""A planned execution curve: cumulative quantity due by each of a few points in time.

Quantities are exact: each point is the lot-floored cumulative target and the last point is the
total itself, so the slices (differences between points) always add up to the total, and the
rounding remainder of one slice is carried into the next rather than lost.
"""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from decimal import Decimal
from typing import Sequence

from fixgw.algo.types import Instrument
from fixgw.domain import ZERO


@dataclass(frozen=True, slots=True)
class Schedule:
    start: float
    times: tuple[float, ...]             # due times, strictly increasing
    cumulative: tuple[Decimal, ...]      # quantity due by each time; non-decreasing; last == total

    @classmethod
    def from_fractions(cls, start: float, times: Sequence[float], fractions: Sequence[float | Decimal],
                       total: Decimal, instrument: Instrument) -> "Schedule":
        """``fractions[i]`` is the cumulative fraction of ``total`` due by ``times[i]``."""
        if not times or len(times) != len(fractions):
            raise ValueError("a schedule needs as many fractions as times, at least one")
        cum: list[Decimal] = []
        previous = ZERO
        for f in fractions[:-1]:
            # model curves (VWAP profile, AC) are floats; they only pick the cut points
            fd = f if isinstance(f, Decimal) else Decimal(repr(float(f)))
            fd = min(max(fd, ZERO), Decimal(1))
            q = instrument.floor_lot(total * fd)
            q = min(max(q, previous), total)
            cum.append(q)
            previous = q
        cum.append(total)
        return cls(start=start, times=tuple(times), cumulative=tuple(cum))

    @property
    def total(self) -> Decimal:
        return self.cumulative[-1]

    @property
    def end(self) -> float:
        return self.times[-1]

    def due(self, now: float) -> Decimal:
        """Quantity that should be done by ``now`` (points at or before it)."""
        i = bisect_right(self.times, now)
        return self.cumulative[i - 1] if i else ZERO

    def ahead(self, now: float) -> Decimal:
        """Quantity due by the next point after ``now``: what may be working passively now."""
        i = bisect_right(self.times, now)
        return self.cumulative[i] if i < len(self.times) else self.total

    def next_time(self, now: float) -> float | None:
        i = bisect_right(self.times, now)
        return self.times[i] if i < len(self.times) else None

    def slices(self) -> list[Decimal]:
        out, previous = [], ZERO
        for c in self.cumulative:
            out.append(c - previous)
            previous = c
        return out

    def points(self) -> list[tuple[float, Decimal]]:
        return [(self.start, ZERO)] + list(zip(self.times, self.cumulative))


def slice_count(start: float, end: float, slice_seconds: float, min_slices: int = 1) -> int:
    """Number of points :func:`even_times` plans between ``start`` and ``end``."""
    return max(1, min_slices, round((end - start) / slice_seconds))


def even_times(start: float, end: float, slice_seconds: float, min_slices: int = 1) -> list[float]:
    """Due times of ``round((end-start)/slice_seconds)`` equal slices, at least ``min_slices``
    (a short order is still sliced, however long the configured slice)."""
    n = slice_count(start, end, slice_seconds, min_slices)
    step = (end - start) / n
    return [start + step * (i + 1) for i in range(n - 1)] + [end]

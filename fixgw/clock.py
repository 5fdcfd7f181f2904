"""Clocks, injected everywhere time matters.

Protocol cores and schedulers never call ``time`` themselves: they are handed a clock (or a
``now`` value), so tests drive them with :class:`FakeClock` and the simulator can run in
compressed time with :class:`ScaledClock`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Wall-clock time in seconds since the epoch (may be scaled)."""

    def monotonic(self) -> float:
        """Monotonic seconds for timeouts and deadlines."""


class LiveClock:
    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


@dataclass
class FakeClock:
    """A clock that moves only when told to; for pure schedulers and protocol cores."""

    t: float = 1_700_000_000.0
    mono: float = 0.0

    def now(self) -> float:
        return self.t

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.t += seconds
        self.mono += seconds


@dataclass
class ScaledClock:
    """Market time that runs ``scale`` times faster than the wall clock.

    The simulator and fixgw share the same ``epoch`` and ``scale`` so that a one-hour algo
    schedule can be exercised in a minute of wall time (scale=60).
    """

    scale: float = 1.0
    epoch: float = field(default_factory=time.time)
    _mono0: float = field(default_factory=time.monotonic)

    def now(self) -> float:
        return self.epoch + (time.time() - self.epoch) * self.scale

    def monotonic(self) -> float:
        return self._mono0 + (time.monotonic() - self._mono0) * self.scale

    def wall_seconds(self, market_seconds: float) -> float:
        """How long to sleep on the real clock for ``market_seconds`` of market time."""
        return market_seconds / self.scale

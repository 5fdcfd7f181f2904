"""Sliding-window order-rate counter on an injected monotonic clock (no sleeps, no I/O)."""
from __future__ import annotations

from collections import deque
from typing import Callable, Hashable


class SlidingWindowCounter:
    """Counts events per key over the last ``window`` seconds of ``monotonic()`` time.

    A sliding window (not fixed one-second buckets) so that a burst straddling a second
    boundary cannot pass twice the limit.
    """

    def __init__(self, monotonic: Callable[[], float], window: float = 1.0):
        self._monotonic = monotonic
        self._window = window
        self._events: dict[Hashable, deque[float]] = {}

    def count(self, key: Hashable) -> int:
        """Events recorded for ``key`` within the window ending now."""
        events = self._events.get(key)
        if not events:
            return 0
        horizon = self._monotonic() - self._window
        while events and events[0] <= horizon:
            events.popleft()
        if not events:
            del self._events[key]
            return 0
        return len(events)

    def record(self, key: Hashable) -> None:
        self._events.setdefault(key, deque()).append(self._monotonic())

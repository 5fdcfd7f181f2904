"""fixgw's own per-venue rate limiter (token buckets at the venue's real limits).

Why not ccxt's: its limiter charges ``cost x 50 ms`` per call and 250 ms per websocket order
(VENUES.md), i.e. it sleeps on the hot path even when the venue would happily accept the
request. Here every limit is a token bucket that refills continuously; a request that finds
its tokens takes them synchronously and goes on without awaiting anything. A request that
finds the bucket short books its tokens anyway (the bucket goes into debt) and sleeps exactly
until the debt is repaid, which makes concurrent waiters first-come first-served without a
lock. A request that would have to wait longer than ``max_wait`` is refused with
:class:`RateLimitExhausted` instead, so an order is rejected quickly rather than sent late.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Callable

from fixgw.clock import Clock, LiveClock


@dataclass(frozen=True, slots=True)
class BucketLimit:
    """``capacity`` units per ``window_s`` seconds (refilled continuously)."""

    name: str
    capacity: float
    window_s: float

    def __post_init__(self) -> None:
        if self.capacity <= 0 or self.window_s <= 0:
            raise ValueError(f"rate limit {self.name!r}: capacity and window must be > 0, "
                             f"got capacity={self.capacity!r} window_s={self.window_s!r}")


@dataclass(frozen=True, slots=True)
class RateLimits:
    """A venue's published limits. Defaults are Binance spot's (VENUES.md)."""

    request_weight_per_minute: float = 6000
    orders_per_10s: float = 100
    orders_per_day: float = 200_000
    max_wait_s: float = 1.0  # longer than this: refuse (RATE_LIMITED) rather than send late

    def buckets(self) -> tuple[BucketLimit, BucketLimit, BucketLimit]:
        return (BucketLimit("request weight/min", self.request_weight_per_minute, 60.0),
                BucketLimit("orders/10s", self.orders_per_10s, 10.0),
                BucketLimit("orders/day", self.orders_per_day, 86_400.0))


BINANCE_SPOT_LIMITS = RateLimits()
BINANCE_USDM_LIMITS = RateLimits(request_weight_per_minute=2400, orders_per_10s=300,
                                 orders_per_day=10_000_000)


class RateLimitExhausted(Exception):
    def __init__(self, bucket: str, wait_s: float):
        super().__init__(f"{bucket} exhausted: next slot in {wait_s:.3f}s")
        self.bucket = bucket
        self.wait_s = wait_s


class TokenBucket:
    """A continuously refilled bucket that may go into debt (see module docstring)."""

    __slots__ = ("limit", "_rate", "_tokens", "_stamp", "_now")

    def __init__(self, limit: BucketLimit, now: Callable[[], float]):
        self.limit = limit
        self._rate = limit.capacity / limit.window_s
        self._tokens = float(limit.capacity)
        self._now = now
        self._stamp = now()

    def _refill(self) -> float:
        now = self._now()
        elapsed = now - self._stamp
        if elapsed > 0:
            self._tokens = min(self.limit.capacity, self._tokens + elapsed * self._rate)
            self._stamp = now
        return self._tokens

    def wait_for(self, cost: float) -> float:
        """Seconds until ``cost`` tokens would be available (0 when they are now)."""
        deficit = cost - self._refill()
        return 0.0 if deficit <= 0 else deficit / self._rate

    def take(self, cost: float) -> None:
        self._refill()
        self._tokens -= cost

    @property
    def available(self) -> float:
        return self._refill()


class VenueRateLimiter:
    """Request-weight and order-count buckets of one venue account."""

    def __init__(self, limits: RateLimits = BINANCE_SPOT_LIMITS, clock: Clock | None = None,
                 sleep: Callable[[float], object] = asyncio.sleep):
        clock = clock or LiveClock()
        self.limits = limits
        self._weight, self._orders_10s, self._orders_day = (
            TokenBucket(b, clock.monotonic) for b in limits.buckets())
        self._sleep = sleep
        self.waits = 0  # how many acquisitions had to sleep (observability, tests)

    def _plan(self, weight: float, orders: int) -> tuple[float, str]:
        wait, name = self._weight.wait_for(weight), self._weight.limit.name
        if orders:
            for bucket in (self._orders_10s, self._orders_day):
                w = bucket.wait_for(orders)
                if w > wait:
                    wait, name = w, bucket.limit.name
        return wait, name

    def try_acquire(self, weight: float = 1, orders: int = 0) -> bool:
        """Take the tokens if they are there right now; never waits."""
        wait, _ = self._plan(weight, orders)
        if wait > 0:
            return False
        self._take(weight, orders)
        return True

    def _take(self, weight: float, orders: int) -> None:
        self._weight.take(weight)
        if orders:
            self._orders_10s.take(orders)
            self._orders_day.take(orders)

    async def acquire(self, weight: float = 1, orders: int = 0) -> None:
        """Take ``weight`` request weight and ``orders`` order slots, waiting if needed.

        Returns without suspending when the tokens are available. Raises
        :class:`RateLimitExhausted` if the wait would exceed ``limits.max_wait_s``.
        """
        wait, name = self._plan(weight, orders)
        if wait > self.limits.max_wait_s:
            raise RateLimitExhausted(name, wait)
        self._take(weight, orders)
        if wait > 0:
            self.waits += 1
            await self._sleep(wait)

    def snapshot(self) -> dict[str, float]:
        return {b.limit.name: b.available for b in (self._weight, self._orders_10s, self._orders_day)}

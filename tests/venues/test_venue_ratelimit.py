"""fixgw's per-venue token buckets."""
from __future__ import annotations

import asyncio

import pytest

from fixgw.clock import FakeClock
from fixgw.venues.ratelimit import RateLimitExhausted, RateLimits, VenueRateLimiter


def test_takes_tokens_without_suspending_when_available():
    clock = FakeClock()
    sleeps = []

    async def fake_sleep(s):
        sleeps.append(s)

    limiter = VenueRateLimiter(RateLimits(orders_per_10s=5, max_wait_s=5), clock, sleep=fake_sleep)

    async def main():
        for _ in range(5):
            coro = limiter.acquire(1, orders=1)
            # completes on the first send: no await point was reached
            with pytest.raises(StopIteration):
                coro.send(None)
        assert sleeps == []
        # the sixth order must wait 2 s (5 per 10 s refill = 0.5/s)
        await limiter.acquire(1, orders=1)
        assert sleeps == [pytest.approx(2.0)]

    asyncio.run(main())


def test_refuses_when_wait_exceeds_max_and_refills_over_time():
    clock = FakeClock()
    limiter = VenueRateLimiter(RateLimits(orders_per_10s=10, max_wait_s=0.5), clock)
    for _ in range(10):
        assert limiter.try_acquire(1, orders=1)
    assert not limiter.try_acquire(1, orders=1)
    with pytest.raises(RateLimitExhausted, match="orders/10s"):
        asyncio.run(limiter.acquire(1, orders=1))
    clock.advance(1.0)  # one order slot back
    assert limiter.try_acquire(1, orders=1)
    assert not limiter.try_acquire(1, orders=1)


def test_request_weight_bucket_is_separate_from_orders():
    clock = FakeClock()
    limiter = VenueRateLimiter(RateLimits(request_weight_per_minute=60, orders_per_10s=100), clock)
    assert limiter.try_acquire(50)
    assert not limiter.try_acquire(20)
    clock.advance(10)  # 1 weight/s
    assert limiter.try_acquire(20)


def test_waiters_are_served_in_order_with_real_sleep():
    limiter = VenueRateLimiter(RateLimits(orders_per_10s=100, max_wait_s=1.0))

    async def main():
        for _ in range(100):
            assert limiter.try_acquire(1, orders=1)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        done = []

        async def one(i):
            await limiter.acquire(1, orders=1)
            done.append((i, loop.time() - t0))

        await asyncio.gather(*(one(i) for i in range(3)))
        assert [i for i, _ in done] == [0, 1, 2]
        assert 0.25 <= done[-1][1] < 2.0  # 3 slots at 10/s (generous upper bound: shared CPU)
        assert limiter.waits == 3

    asyncio.run(main())

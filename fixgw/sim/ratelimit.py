"""Binance-style rate limits: request weight per minute and orders per 10 s, per client.

Exceeding a limit answers HTTP 429 (-1003 for weight, -1015 for orders) with Retry-After;
a client that keeps going (``violations_before_ban`` 429s within a minute) is banned with HTTP
418 for ``ban_seconds``. Windows are fixed, aligned like Binance's (minute / 10 s boundaries),
and measured on the monotonic wall clock: limits protect the process, not market time.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

from .errors import banned, too_many_orders, too_much_weight
from .spec import RateLimitSpec


@dataclass
class _ClientWindow:
    minute: int = -1
    weight: int = 0
    ten_s: int = -1
    orders: int = 0
    violations_minute: int = -1
    violations: int = 0
    banned_until: float = 0.0


@dataclass
class RateLimiter:
    spec: RateLimitSpec
    now: Callable[[], float] = time.time
    _clients: dict[str, _ClientWindow] = field(default_factory=dict)
    max_clients: int = 10_000     # windows kept before idle ones are forgotten

    def _forget_idle(self, now: float) -> None:
        """Drop windows of clients not seen this minute and not banned: they hold no state
        that could still matter (a new window starts at zero anyway)."""
        minute = int(now // 60)
        self._clients = {k: w for k, w in self._clients.items()
                         if w.minute >= minute - 1 or w.banned_until > now}

    def charge(self, client: str, weight: int, orders: int = 0) -> tuple[int, int]:
        """Count a request; raise BinanceError(429/418) if over. Returns (used weight, orders)."""
        now = self.now()
        w = self._clients.get(client)
        if w is None:
            if len(self._clients) >= self.max_clients:
                self._forget_idle(now)
            w = self._clients[client] = _ClientWindow()
        if now < w.banned_until:
            raise banned(int(w.banned_until * 1000)).with_retry(math.ceil(w.banned_until - now))
        minute = int(now // 60)
        if minute != w.minute:
            w.minute, w.weight = minute, 0
        ten = int(now // 10)
        if ten != w.ten_s:
            w.ten_s, w.orders = ten, 0
        if w.weight + weight > self.spec.weight_per_minute:
            self._violation(w, now, minute)
            raise too_much_weight(self.spec.weight_per_minute).with_retry(math.ceil((minute + 1) * 60 - now))
        if orders and w.orders + orders > self.spec.orders_per_10s:
            w.weight += weight
            self._violation(w, now, minute)
            raise too_many_orders(self.spec.orders_per_10s, 10).with_retry(math.ceil((ten + 1) * 10 - now))
        w.weight += weight
        w.orders += orders
        return w.weight, w.orders

    def _violation(self, w: _ClientWindow, now: float, minute: int) -> None:
        if w.violations_minute != minute:
            w.violations_minute, w.violations = minute, 0
        w.violations += 1
        if w.violations > self.spec.violations_before_ban:
            w.banned_until = now + self.spec.ban_seconds
            raise banned(int(w.banned_until * 1000)).with_retry(self.spec.ban_seconds)

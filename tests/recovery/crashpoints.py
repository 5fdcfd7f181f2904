"""Fault injection for the crash tests (test-only; never imported by fixgw itself).

The gateway YAML of the crash tests names ``application: crashpoints:build_service``: the real
order service (``fixgw.oms.service:build_service``) whose venue adapters / fill intake are
wrapped, once the service has started and reconciled, so that the process SIGKILLs itself at
the moment named by ``FIXGW_TEST_CRASH_AT``:

- ``before-submit``: the NewOrderSingle and its children are journaled, no child has reached
  a venue yet (the first ``submit`` call dies before sending);
- ``after-submit``: the first child was accepted by its venue (its fills may or may not have
  been seen), nothing about it reported upstream yet;
- ``fill-before-er``: a venue fill arrived (stream or REST) and dies before it is booked or
  any ExecutionReport for it goes out;
- ``fill-journaled``: a venue fill was booked and its ExecutionReport handed to the session in
  the same event-loop turn; dies before the loop turn ends.

``FIXGW_TEST_CRASH_SKIP=N`` lets the first N occurrences pass (e.g. die after the second child
of an algo order was sent). Without ``FIXGW_TEST_CRASH_AT`` the service is unchanged (the
restarted gateway runs that way).
"""
from __future__ import annotations

import os
import signal
from pathlib import Path

from fixgw.oms.service import build_service as _build_service

CRASH_ENV = "FIXGW_TEST_CRASH_AT"
MARKER_ENV = "FIXGW_TEST_CRASH_MARKER"
SKIP_ENV = "FIXGW_TEST_CRASH_SKIP"
POINTS = ("before-submit", "after-submit", "fill-before-er", "fill-journaled")


def _die(point: str) -> None:
    marker = os.environ.get(MARKER_ENV)
    if marker:
        Path(marker).write_text(point)
    os.kill(os.getpid(), signal.SIGKILL)


def build_service(ctx):
    service = _build_service(ctx)
    point = os.environ.get(CRASH_ENV)
    if not point:
        return service
    if point not in POINTS:
        raise ValueError(f"{CRASH_ENV}={point!r}: expected one of {', '.join(POINTS)}")
    original_start = service.start

    async def start() -> None:
        await original_start()
        _arm(service.manager, point)

    service.start = start
    return service


class _Countdown:
    """Lets ``FIXGW_TEST_CRASH_SKIP`` occurrences pass, then says it is time."""

    def __init__(self) -> None:
        self.left = int(os.environ.get(SKIP_ENV) or 0)

    def due(self) -> bool:
        self.left -= 1
        return self.left < 0


def _arm(manager, point: str) -> None:
    countdown = _Countdown()
    if point in ("before-submit", "after-submit"):
        for adapter in manager.venues.values():
            original = adapter.submit

            async def submit(request, _original=original):
                if point == "before-submit" and countdown.due():
                    _die(point)
                update = await _original(request)
                if point == "after-submit" and countdown.due():
                    _die(point)
                return update

            adapter.submit = submit
    else:
        original_fill = manager._apply_fill

        def apply_fill(child, fill):
            if point == "fill-before-er" and countdown.due():
                _die(point)
            original_fill(child, fill)
            if point == "fill-journaled" and countdown.due():
                _die(point)

        manager._apply_fill = apply_fill

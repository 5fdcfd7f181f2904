"""Session schedules: when a session may be logged on, and when its sequence numbers reset.

Pure functions of a timestamp (tested with plain numbers). A window has a start and an end; a
session whose store was created before the start of the current window is reset at its next
Logon (or by the timer), like QuickFIX's StartTime/EndTime/StartDay/EndDay.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Mapping, Protocol
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Schedule(Protocol):
    def window(self, now: float) -> tuple[float, float] | None:
        """The open window containing ``now`` as (start, end) epoch seconds, or None if closed."""


@dataclass(frozen=True)
class AlwaysOpen:
    def window(self, now: float) -> tuple[float, float] | None:
        return (float("-inf"), float("inf"))


def _parse_time(text: str, what: str) -> dt.time:
    try:
        return dt.time.fromisoformat(str(text))
    except ValueError:
        raise ValueError(f"schedule {what}: {text!r} is not HH:MM[:SS]") from None


def _parse_day(text: str, what: str) -> int:
    day = str(text).strip().lower()[:3]
    if day not in DAYS:
        raise ValueError(f"schedule {what}: {text!r} is not a weekday (mon..sun)")
    return DAYS.index(day)


@dataclass(frozen=True)
class DailyWindow:
    start: dt.time
    end: dt.time
    tz: ZoneInfo
    days: frozenset[int]  # weekdays (0=mon) on which a window *starts*

    def window(self, now: float) -> tuple[float, float] | None:
        local = dt.datetime.fromtimestamp(now, self.tz)
        for back in (0, 1):
            day = local.date() - dt.timedelta(days=back)
            if day.weekday() not in self.days:
                continue
            start = dt.datetime.combine(day, self.start, self.tz)
            end_day = day if self.end > self.start else day + dt.timedelta(days=1)
            end = dt.datetime.combine(end_day, self.end, self.tz)
            if start <= local < end:
                return start.timestamp(), end.timestamp()
        return None


@dataclass(frozen=True)
class WeeklyWindow:
    start_day: int
    start: dt.time
    end_day: int
    end: dt.time
    tz: ZoneInfo

    def window(self, now: float) -> tuple[float, float] | None:
        local = dt.datetime.fromtimestamp(now, self.tz)
        for back in range(0, 8):
            day = local.date() - dt.timedelta(days=back)
            if day.weekday() != self.start_day:
                continue
            start = dt.datetime.combine(day, self.start, self.tz)
            span = (self.end_day - self.start_day) % 7
            end_date = day + dt.timedelta(days=span)
            end = dt.datetime.combine(end_date, self.end, self.tz)
            if end <= start:
                end += dt.timedelta(days=7)
            if start <= local < end:
                return start.timestamp(), end.timestamp()
        return None


def build_schedule(spec: Mapping | None) -> Schedule:
    """From the YAML ``schedule:`` mapping (see docs/session.md)."""
    if not spec:
        return AlwaysOpen()
    kind = str(spec.get("type", "always")).lower()
    if kind == "always":
        return AlwaysOpen()
    tz = ZoneInfo(str(spec.get("tz", "UTC")))
    if kind == "daily":
        days = spec.get("days")
        day_set = frozenset(_parse_day(d, "days") for d in days) if days else frozenset(range(7))
        return DailyWindow(_parse_time(spec["start"], "start"), _parse_time(spec["end"], "end"),
                           tz, day_set)
    if kind == "weekly":
        return WeeklyWindow(_parse_day(spec["start_day"], "start_day"),
                            _parse_time(spec["start"], "start"),
                            _parse_day(spec["end_day"], "end_day"),
                            _parse_time(spec["end"], "end"), tz)
    raise ValueError(f"schedule type must be always, daily or weekly, not {kind!r}")

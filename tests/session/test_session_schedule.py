"""Schedule windows are pure functions of time."""
from __future__ import annotations

import datetime as dt

import pytest

from fixgw.session.schedule import build_schedule


def ts(text: str, tz: str = "UTC") -> float:
    from zoneinfo import ZoneInfo
    return dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).timestamp()


def test_always_open():
    assert build_schedule(None).window(0) is not None


def test_daily_window_spanning_midnight_in_a_time_zone():
    s = build_schedule({"type": "daily", "start": "22:00", "end": "02:00", "tz": "Asia/Tokyo"})
    start, end = s.window(ts("2024-03-05T01:00:00", "Asia/Tokyo"))
    assert start == ts("2024-03-04T22:00:00", "Asia/Tokyo")
    assert end == ts("2024-03-05T02:00:00", "Asia/Tokyo")
    assert s.window(ts("2024-03-05T12:00:00", "Asia/Tokyo")) is None


def test_daily_window_restricted_to_weekdays():
    s = build_schedule({"type": "daily", "start": "08:00", "end": "17:00", "tz": "UTC",
                        "days": ["mon", "tue", "wed", "thu", "fri"]})
    assert s.window(ts("2024-03-06T09:00:00")) is not None      # Wednesday
    assert s.window(ts("2024-03-09T09:00:00")) is None          # Saturday


def test_weekly_window():
    s = build_schedule({"type": "weekly", "start_day": "sun", "start": "22:00",
                        "end_day": "fri", "end": "21:00", "tz": "UTC"})
    start, end = s.window(ts("2024-03-06T12:00:00"))            # Wednesday
    assert start == ts("2024-03-03T22:00:00") and end == ts("2024-03-08T21:00:00")
    assert s.window(ts("2024-03-09T12:00:00")) is None          # Saturday


def test_bad_schedule_is_reported():
    with pytest.raises(ValueError):
        build_schedule({"type": "hourly"})
    with pytest.raises(ValueError):
        build_schedule({"type": "daily", "start": "25:00", "end": "01:00"})

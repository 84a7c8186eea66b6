"""Escalation deadlines: business hours are Monday to Friday, 9 to 17, in the configured zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from sync.loop.calendar import BusinessHours, deadline

BERLIN = BusinessHours(ZoneInfo("Europe/Berlin"))
UTC_HOURS = BusinessHours()


def at(text: str, zone: str = "UTC") -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        # 2024-03-04 is a Monday.
        ("2024-03-04 10:00", 4, "2024-03-04 14:00"),
        ("2024-03-04 15:00", 4, "2024-03-05 11:00"),  # 2 h today, 2 h tomorrow
        ("2024-03-04 07:30", 1, "2024-03-04 10:00"),  # before opening: counts from 9
        ("2024-03-04 18:00", 1, "2024-03-05 10:00"),  # after closing: next morning
        ("2024-03-08 16:00", 2, "2024-03-11 10:00"),  # Friday afternoon -> Monday
        ("2024-03-09 12:00", 1, "2024-03-11 10:00"),  # Saturday counts from Monday 9
        ("2024-03-04 09:00", 8, "2024-03-04 17:00"),  # a whole working day, to the minute
        ("2024-03-04 09:00", 40, "2024-03-08 17:00"),  # a working week
        ("2024-03-04 09:00", 41, "2024-03-11 10:00"),
    ],
)
def test_business_hours_skip_nights_and_weekends(start: str, hours: int, expected: str) -> None:
    assert UTC_HOURS.add(at(start), timedelta(hours=hours)) == at(expected)


@pytest.mark.parametrize(
    ("end", "hours", "expected"),
    [
        ("2024-03-04 14:00", 4, "2024-03-04 10:00"),
        ("2024-03-11 09:30", 1, "2024-03-08 16:30"),  # Monday morning -> Friday afternoon
        ("2024-03-11 09:00", 1, "2024-03-08 16:00"),  # a deadline at opening
        ("2024-03-09 12:00", 1, "2024-03-08 16:00"),  # from a Saturday
        ("2024-03-05 08:00", 2, "2024-03-04 15:00"),  # from before opening
        ("2024-03-08 17:00", 40, "2024-03-04 09:00"),  # a working week
        ("2024-03-04 11:00", 0, "2024-03-04 11:00"),
    ],
)
def test_business_time_before_a_deadline_skips_nights_and_weekends(
    end: str, hours: int, expected: str
) -> None:
    assert UTC_HOURS.subtract(at(end), timedelta(hours=hours)) == at(expected)


def test_business_time_before_is_the_inverse_of_after_across_a_clock_change() -> None:
    new_york = BusinessHours(ZoneInfo("America/New_York"))
    start = at("2026-03-06 15:30", "America/New_York")  # Friday; clocks go forward on Sunday
    due = new_york.add(start, timedelta(hours=2))
    assert due == at("2026-03-09 09:30", "America/New_York")
    one_before = at("2026-03-06 16:30", "America/New_York")
    assert new_york.subtract(due, timedelta(hours=1)) == one_before
    assert new_york.subtract(due, timedelta(hours=2)) == start


def test_business_hours_are_local_to_the_configured_zone() -> None:
    # 15:00 UTC on a winter Monday is 16:00 in Berlin: one business hour left that day.
    due = BERLIN.add(at("2024-01-15 15:00"), timedelta(hours=2))
    assert due == at("2024-01-16 10:00", "Europe/Berlin")
    assert due.tzinfo == UTC


def test_business_hours_follow_the_clock_change() -> None:
    # Berlin moves to summer time on Sunday 2024-03-31: Monday 9:30 is 7:30 UTC, not 8:30.
    due = BERLIN.add(at("2024-03-29 16:30", "Europe/Berlin"), timedelta(hours=1))
    assert due == datetime(2024, 4, 1, 7, 30, tzinfo=UTC)


def test_custom_hours() -> None:
    early = BusinessHours(ZoneInfo("UTC"), start_hour=7, end_hour=15)
    assert early.add(at("2024-03-04 14:00"), timedelta(hours=2)) == at("2024-03-05 08:00")


def test_plain_delays_ignore_business_hours() -> None:
    saturday = at("2024-03-09 12:00")
    assert deadline(saturday, timedelta(hours=4), False, UTC_HOURS) == at("2024-03-09 16:00")
    assert deadline(saturday, timedelta(hours=4), True, UTC_HOURS) == at("2024-03-11 13:00")

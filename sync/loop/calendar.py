"""The business-hours calendar: deadlines counted in working time.

Monday to Friday, from ``start_hour`` to ``end_hour`` local time in the configured time zone
(``business_hours`` in the config); escalation steps that ask for business hours count only that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """Monday to Friday, ``start_hour`` to ``end_hour`` local time in ``timezone``."""

    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    start_hour: int = 9
    end_hour: int = 17

    def working_date(self, moment: datetime) -> date:
        """The local date of ``moment``, or the next working day's when that is a weekend: the
        due date of a Task due at ``moment``."""
        day = moment.astimezone(self.timezone).date()
        while day.weekday() >= 5:
            day += timedelta(days=1)
        return day

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """``start`` plus ``duration`` of business time, in UTC.

        Time outside business hours does not count: 2 business hours from Friday 16:00 is
        Monday 10:00. Clock changes happen at night, so wall-clock arithmetic within a working
        day is exact.
        """
        tz = self.timezone
        remaining = duration
        cursor = start.astimezone(tz)
        day = cursor.date()
        while True:
            midnight = datetime.combine(day, time(0), tz)
            opens = midnight + timedelta(hours=self.start_hour)
            closes = midnight + timedelta(hours=self.end_hour)
            begin = max(cursor, opens)
            if day.weekday() < 5 and begin < closes:
                available = closes - begin
                if remaining <= available:
                    return (begin + remaining).astimezone(UTC)
                remaining -= available
            day += timedelta(days=1)
            cursor = datetime.combine(day, time(0), tz)


def before(hours: BusinessHours, end: datetime, duration: timedelta) -> datetime:
    """The moment ``duration`` of business time before ``end``, in UTC: the inverse of
    :meth:`BusinessHours.add` (1 business hour before Monday 09:30 is Friday 16:30)."""
    if duration <= timedelta(0):
        return end
    tz = hours.timezone
    remaining = duration
    cursor = end.astimezone(tz)
    day = cursor.date()
    while True:
        midnight = datetime.combine(day, time(0), tz)
        opens = midnight + timedelta(hours=hours.start_hour)
        closes = midnight + timedelta(hours=hours.end_hour)
        finish = min(cursor, closes)
        if day.weekday() < 5 and finish > opens:
            available = finish - opens
            if remaining <= available:
                return (finish - remaining).astimezone(UTC)
            remaining -= available
        cursor = midnight  # the end of the day before
        day -= timedelta(days=1)


def deadline(
    done_at: datetime, after: timedelta, business_hours: bool, hours: BusinessHours
) -> datetime:
    """When a step falls due for an action completed at ``done_at``."""
    return hours.add(done_at, after) if business_hours else done_at + after

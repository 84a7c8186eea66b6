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
        remaining = duration
        cursor = start.astimezone(self.timezone)
        day = cursor.date()
        while True:
            opens, closes = self._open(day)
            begin = max(cursor, opens)
            if day.weekday() < 5 and begin < closes:
                if remaining <= closes - begin:
                    return (begin + remaining).astimezone(UTC)
                remaining -= closes - begin
            day += timedelta(days=1)
            cursor = datetime.combine(day, time(0), self.timezone)

    def subtract(self, end: datetime, duration: timedelta) -> datetime:
        """``end`` less ``duration`` of business time, in UTC: the inverse of :meth:`add` (one
        business hour before Monday 09:30 is Friday 16:30)."""
        if duration <= timedelta(0):
            return end
        remaining = duration
        cursor = end.astimezone(self.timezone)
        day = cursor.date()
        while True:
            opens, closes = self._open(day)
            finish = min(cursor, closes)
            if day.weekday() < 5 and finish > opens:
                if remaining <= finish - opens:
                    return (finish - remaining).astimezone(UTC)
                remaining -= finish - opens
            cursor = datetime.combine(day, time(0), self.timezone)  # the day before's end
            day -= timedelta(days=1)

    def _open(self, day: date) -> tuple[datetime, datetime]:
        """When business opens and closes on ``day``, local time."""
        midnight = datetime.combine(day, time(0), self.timezone)
        return midnight + timedelta(hours=self.start_hour), midnight + timedelta(
            hours=self.end_hour
        )


def deadline(
    done_at: datetime, after: timedelta, business_hours: bool, hours: BusinessHours
) -> datetime:
    """When a step falls due for an action completed at ``done_at``."""
    return hours.add(done_at, after) if business_hours else done_at + after

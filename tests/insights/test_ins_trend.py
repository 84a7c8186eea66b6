"""NPS over time: calendar periods, and moves flagged only when real."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from insights.segments import Respondent
from insights.trend import Every, Period, nps_trend, periods_between


def day(month: int, d: int, year: int = 2026) -> datetime:
    return datetime(year, month, d, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "end", "every", "expected"),
    [
        (
            day(1, 15),
            day(3, 10),
            "month",
            [(day(1, 15), day(2, 1)), (day(2, 1), day(3, 1)), (day(3, 1), day(3, 10))],
        ),
        (
            day(11, 20, 2025),
            day(4, 1),
            "quarter",
            [(day(11, 20, 2025), day(1, 1)), (day(1, 1), day(4, 1))],
        ),
        # 2026-03-04 is a Wednesday: weeks start on Mondays.
        (
            day(3, 4),
            day(3, 17),
            "week",
            [(day(3, 4), day(3, 9)), (day(3, 9), day(3, 16)), (day(3, 16), day(3, 17))],
        ),
        (day(3, 4), day(3, 4), "month", []),
    ],
)
def test_calendar_periods(
    start: datetime, end: datetime, every: Every, expected: list[tuple[datetime, datetime]]
) -> None:
    assert periods_between(start, end, every) == expected


def test_trend_counts_each_period_and_flags_only_a_real_move() -> None:
    def people(scores: list[int]) -> list[Respondent]:
        return [Respondent(s) for s in scores]

    points = nps_trend(
        [
            Period(day(1, 1), day(2, 1), people([10, 9, 9, 8] * 15)),  # NPS 75
            Period(day(2, 1), day(3, 1), people([10, 9, 3, 8] * 15)),  # 25: a real drop
            Period(day(3, 1), day(4, 1), people([10, 3, 8])),  # 0 on three people: noise
            Period(day(4, 1), day(5, 1), []),
        ]
    )
    assert [p.interval.nps for p in points] == pytest.approx([75.0, 25.0, 0.0, None])
    assert points[0].change is None
    assert points[1].change is not None
    assert points[1].change.significant
    assert points[1].change.difference == pytest.approx(-50.0)
    assert points[2].change is not None
    assert not points[2].change.significant
    assert points[2].interval.small_sample
    assert points[3].change is not None
    assert points[3].change.difference is None

"""NPS over time: one score per week, month or quarter, each with its interval, and whether it
moved from the one before by more than chance explains.

Each person counts once per period (their latest answer in it). Periods are calendar weeks
(Monday first), months or quarters in UTC; the first and last may be partial.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from insights.nps import (
    SMALL_SAMPLE_BELOW,
    Counts,
    NpsDifference,
    NpsInterval,
    nps_difference,
    nps_interval,
)
from insights.segments import Respondent

Every = Literal["week", "month", "quarter"]


@dataclass(frozen=True, slots=True)
class Period:
    """``[start, end)`` and its respondents."""

    start: datetime
    end: datetime
    respondents: Sequence[Respondent]


@dataclass(frozen=True, slots=True)
class TrendPoint:
    start: datetime
    end: datetime
    interval: NpsInterval
    #: This period minus the one before (None for the first).
    change: NpsDifference | None


def _floor(moment: datetime, every: Every) -> datetime:
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if every == "week":
        return day - timedelta(days=day.weekday())
    month = day.month if every == "month" else 3 * ((day.month - 1) // 3) + 1
    return day.replace(month=month, day=1)


def _next(start: datetime, every: Every) -> datetime:
    if every == "week":
        return start + timedelta(days=7)
    months = 1 if every == "month" else 3
    year, month = divmod(start.month - 1 + months, 12)
    return start.replace(year=start.year + year, month=month + 1)


def periods_between(
    start: datetime, end: datetime, every: Every
) -> list[tuple[datetime, datetime]]:
    """Calendar periods covering ``[start, end)``, the first and last cut to fit."""
    if start >= end:
        return []
    out = []
    cursor = _floor(start, every)
    while cursor < end:
        following = _next(cursor, every)
        out.append((max(cursor, start), min(following, end)))
        cursor = following
    return out


def nps_trend(
    periods: Sequence[Period],
    *,
    confidence: float = 0.95,
    small_below: int = SMALL_SAMPLE_BELOW,
) -> list[TrendPoint]:
    """Each period's NPS with its interval and its change from the period before."""
    out: list[TrendPoint] = []
    previous: Counts | None = None
    for p in periods:
        counts = Counts.of_scores(r.score for r in p.respondents)
        out.append(
            TrendPoint(
                start=p.start,
                end=p.end,
                interval=nps_interval(counts, confidence=confidence, small_below=small_below),
                change=None
                if previous is None
                else nps_difference(counts, previous, confidence=confidence),
            )
        )
        previous = counts
    return out
